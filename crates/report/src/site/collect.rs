//! Reads what the site shows from the [`Store`], renders each page and writes it.
//!
//! The store is asked once for the global lists (status, queue, failures, recent runs, the
//! freshness of each series), and once per package for its audit, its newest seen
//! publication and its run history. Package pages are written as they are rendered, so
//! memory holds one package at a time plus one short row per package for the index, even
//! for tens of thousands of packages.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use pkgimport_core::PackageName;
use pkgimport_queue::audit::{AuditView, PatchWarning, PublicationRow};
use pkgimport_queue::monitor::SeenPublication;
use pkgimport_queue::{FailureRecord, QueuedJob, RunRecord, Store};

use super::freshness::{Freshness, freshness, newest_imported};
use super::logtail::{LogTail, read_tail};
use super::{Error, ReportOptions, ReportSummary, pages};
use crate::series::{SeriesReport, series_reports};

/// The directory of the package pages, relative to the site's root.
pub(crate) const PACKAGES_DIR: &str = "packages";

/// How many patch warnings the index lists; each package page lists all of its own.
pub(crate) const PATCH_WARNINGS_SHOWN: u64 = 100;

/// Everything the index shows.
pub(crate) struct Index {
    pub(crate) status: pkgimport_queue::Status,
    pub(crate) breaker: pkgimport_core::breaker::Breaker,
    /// The whole queue, running jobs first.
    pub(crate) queue: Vec<QueuedJob>,
    pub(crate) groups: Vec<pkgimport_queue::FailureGroup>,
    /// Failures that retry-failures gave up on.
    pub(crate) attention: Vec<FailureRecord>,
    pub(crate) recent: Vec<RunRecord>,
    pub(crate) counters: Vec<(String, i64)>,
    /// Versions whose quilt patches do not apply (the first [`PATCH_WARNINGS_SHOWN`]), and
    /// how many there are in all.
    pub(crate) patch_warnings: (Vec<PatchWarning>, u64),
    /// How current each distribution and series is, by distribution, newest series first.
    pub(crate) series: Vec<SeriesReport>,
    /// The table of every package, on the static site's index; importer-web leaves it out
    /// (it would read every package's audit on each change).
    pub(crate) packages: Option<Vec<PackageRow>>,
    /// Packages that have a page, so only real pages are linked (the static site; in
    /// importer-web every valid name has one).
    pub(crate) pages: BTreeSet<PackageName>,
}

/// One package's line in the index's package table.
#[derive(Clone, Debug)]
pub(crate) struct PackageRow {
    pub(crate) name: PackageName,
    pub(crate) freshness: Freshness,
    pub(crate) imported_version: Option<String>,
    pub(crate) seen_version: Option<String>,
    pub(crate) branches: usize,
    pub(crate) failure: Option<String>,
    /// `queued` or `running`, when the package has a job.
    pub(crate) job: Option<String>,
}

/// Everything one package page shows.
pub(crate) struct PackagePage {
    pub(crate) name: PackageName,
    pub(crate) audit: AuditView,
    pub(crate) branches: Vec<Branch>,
    pub(crate) tags: usize,
    pub(crate) seen: Option<SeenPublication>,
    pub(crate) newest_imported: Option<PublicationRow>,
    pub(crate) freshness: Freshness,
    pub(crate) jobs: Vec<QueuedJob>,
    pub(crate) failure: Option<FailureRecord>,
    pub(crate) runs: Vec<(RunRecord, LogTail)>,
    /// The versions each distribution published, in the order each was first published;
    /// distributions by name.
    pub(crate) distributions: Vec<(String, Vec<String>)>,
}

/// A branch of the committed audit and the version at its head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Branch {
    /// Without `refs/heads/`.
    pub(crate) name: String,
    pub(crate) commit: String,
    /// The version(s) whose commit the branch points at; empty if the audit has none.
    pub(crate) versions: Vec<String>,
}

/// Everything the index shows except the package table, which the caller supplies (or not).
pub(crate) fn read_index(
    store: &mut Store,
    options: &ReportOptions,
    packages: Option<Vec<PackageRow>>,
    pages: BTreeSet<PackageName>,
) -> Result<Index, Error> {
    let failures = store.failures()?;
    Ok(Index {
        status: store.status()?,
        breaker: store.breaker()?,
        queue: store.queue(None)?,
        groups: store.failure_groups(options.group_examples)?,
        attention: failures
            .into_iter()
            .filter(|f| f.needs_attention && !f.retrying)
            .collect(),
        recent: store.runs(None, options.recent_runs)?,
        counters: store.counters()?,
        patch_warnings: store.patch_warnings(PATCH_WARNINGS_SHOWN)?,
        series: series_reports(store)?,
        packages,
        pages,
    })
}

/// Reads the store and writes the whole site into `dir` (an empty directory). Returns the
/// summary, and each package's row of the index, for a caller that keeps the site current.
pub(crate) fn write_site(
    store: &mut Store,
    options: &ReportOptions,
    dir: &Path,
) -> Result<(ReportSummary, Vec<PackageRow>), Error> {
    let status = store.status()?;
    let breaker = store.breaker()?;
    let queue = store.queue(None)?;
    let failures = store.failures()?;
    let groups = store.failure_groups(options.group_examples)?;
    let recent = store.runs(None, options.recent_runs)?;
    let counters = store.counters()?;
    let patch_warnings = store.patch_warnings(PATCH_WARNINGS_SHOWN)?;
    let series = series_reports(store)?;
    let audited = store.audited_packages()?;

    let mut names: BTreeSet<PackageName> = queue.iter().map(|j| j.package.clone()).collect();
    let raw_names = audited
        .iter()
        .map(String::as_str)
        .chain(failures.iter().map(|f| f.package.as_str()))
        .chain(recent.iter().map(|r| r.package.as_str()));
    for raw in raw_names {
        match PackageName::parse(raw) {
            Ok(name) => {
                names.insert(name);
            }
            Err(e) => {
                log::warn!("skipping invalid package name in the database name={raw:?} error={e}")
            }
        }
    }

    let mut jobs_of: BTreeMap<&str, Vec<QueuedJob>> = BTreeMap::new();
    for job in &queue {
        jobs_of
            .entry(job.package.as_str())
            .or_default()
            .push(job.clone());
    }
    let failure_of: BTreeMap<&str, &FailureRecord> =
        failures.iter().map(|f| (f.package.as_str(), f)).collect();

    let packages_dir = dir.join(PACKAGES_DIR);
    create_dir(&packages_dir)?;
    let mut rows = Vec::with_capacity(names.len());
    for name in &names {
        let page = package_page(
            store,
            options,
            name,
            jobs_of.remove(name.as_str()).unwrap_or_default(),
            failure_of.get(name.as_str()).map(|f| (*f).clone()),
        )?;
        write_file(
            &package_path(dir, name),
            &pages::package(&page, options.now).into_string(),
        )?;
        rows.push(PackageRow::of(page));
    }

    let summary = ReportSummary {
        packages: rows.len(),
        out_of_date: rows
            .iter()
            .filter(|r| r.freshness == Freshness::OutOfDate)
            .count(),
        failed: status.failed,
        pages: rows.len() + 1,
    };
    let index = Index {
        status,
        breaker,
        queue,
        groups,
        attention: failures
            .iter()
            .filter(|f| f.needs_attention && !f.retrying)
            .cloned()
            .collect(),
        recent,
        counters,
        patch_warnings,
        series,
        packages: Some(rows),
        pages: names,
    };
    write_file(
        &dir.join("index.html"),
        &pages::index(&index, options).into_string(),
    )?;
    Ok((summary, index.packages.unwrap_or_default()))
}

impl PackageRow {
    /// The index's line for a package, from its page.
    pub(crate) fn of(page: PackagePage) -> PackageRow {
        PackageRow {
            name: page.name,
            freshness: page.freshness,
            imported_version: page.newest_imported.map(|p| p.version),
            seen_version: page.seen.map(|s| s.version),
            branches: page
                .branches
                .iter()
                .filter(|b| !b.name.starts_with("importer/applied/"))
                .count(),
            failure: page.failure.filter(|f| !f.retrying).map(|f| f.signature),
            job: page
                .jobs
                .iter()
                .map(|j| j.state.clone())
                .min_by_key(|s| s != "running"),
        }
    }
}

/// Where a package's page goes in the static site under `dir`.
pub(crate) fn package_path(dir: &Path, name: &PackageName) -> std::path::PathBuf {
    dir.join(PACKAGES_DIR)
        .join(format!("{}.html", name.as_str()))
}

/// One package's page, reading its jobs and failure too. `None` when the state database
/// knows nothing of the package (no job, failure, run or audit).
pub(crate) fn read_package(
    store: &mut Store,
    options: &ReportOptions,
    name: &PackageName,
) -> Result<Option<PackagePage>, Error> {
    let info = store.show(name)?;
    let page = package_page(store, options, name, info.jobs, info.failure)?;
    let known = !page.jobs.is_empty()
        || page.failure.is_some()
        || !page.runs.is_empty()
        || !page.audit.refs.is_empty()
        || !page.audit.publications.is_empty()
        || page.seen.is_some();
    Ok(known.then_some(page))
}

fn package_page(
    store: &mut Store,
    options: &ReportOptions,
    name: &PackageName,
    jobs: Vec<QueuedJob>,
    failure: Option<FailureRecord>,
) -> Result<PackagePage, Error> {
    let audit = store.audit(name)?;
    let seen = store.seen(name.as_str())?;
    let runs = store
        .runs(Some(name), options.runs_per_package)?
        .into_iter()
        .map(|run| {
            let tail = read_tail(&options.state_dir, &run.log_path, options.log_tail_lines);
            (run, tail)
        })
        .collect();
    Ok(PackagePage {
        name: name.clone(),
        branches: branches(&audit),
        tags: audit
            .refs
            .keys()
            .filter(|r| r.starts_with("refs/tags/"))
            .count(),
        freshness: freshness(seen.as_ref(), &audit.publications),
        newest_imported: newest_imported(&audit.publications).cloned(),
        distributions: versions_by_distribution(&audit.publications),
        seen,
        audit,
        jobs,
        failure,
        runs,
    })
}

/// Each distribution's versions in the order it first published each, as `importctl show`
/// lists them: Launchpad's UTC time strings sort as the times they name.
fn versions_by_distribution(publications: &[PublicationRow]) -> Vec<(String, Vec<String>)> {
    let mut first: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
    for p in publications {
        let at = first
            .entry(p.distro.as_str())
            .or_default()
            .entry(p.version.as_str())
            .or_insert(p.date_created.as_str());
        if p.date_created.as_str() < *at {
            *at = p.date_created.as_str();
        }
    }
    first
        .into_iter()
        .map(|(distro, versions)| {
            let mut by_date: Vec<(&str, &str)> =
                versions.into_iter().map(|(v, d)| (d, v)).collect();
            by_date.sort();
            (
                distro.to_owned(),
                by_date.into_iter().map(|(_, v)| v.to_owned()).collect(),
            )
        })
        .collect()
}

/// The committed branches with their head versions: the audit maps version → commit (and
/// → the end of its patches-applied chain), so the map is inverted to find which version a
/// branch's commit is.
pub(crate) fn branches(audit: &AuditView) -> Vec<Branch> {
    let mut version_of: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (version, commit) in &audit.versions {
        version_of
            .entry(commit.as_str())
            .or_default()
            .push(version.clone());
    }
    // A patches-applied branch holds the end of its version's chain.
    for (version, facts) in &audit.version_facts {
        if let Some(tip) = &facts.applied {
            let versions = version_of.entry(tip.commit.as_str()).or_default();
            if !versions.contains(version) {
                versions.push(version.clone());
            }
        }
    }
    audit
        .refs
        .iter()
        .filter_map(|(name, commit)| {
            let short = name.strip_prefix("refs/heads/")?;
            Some(Branch {
                name: short.to_owned(),
                commit: commit.clone(),
                versions: version_of.get(commit.as_str()).cloned().unwrap_or_default(),
            })
        })
        .collect()
}

fn create_dir(path: &Path) -> Result<(), Error> {
    std::fs::create_dir(path).map_err(|source| Error::Io {
        what: "creating",
        path: path.to_owned(),
        source,
    })
}

pub(crate) fn write_file(path: &Path, contents: &str) -> Result<(), Error> {
    std::fs::write(path, contents).map_err(|source| Error::Io {
        what: "writing",
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkgimport_audit::Phase;

    #[test]
    fn branches_invert_the_version_map() {
        let audit = AuditView {
            phase: Phase::Idle,
            refs: BTreeMap::from([
                ("refs/heads/importer/debian/sid".into(), "c2".into()),
                ("refs/heads/importer/debian/trixie".into(), "c1".into()),
                ("refs/heads/importer/debian/bookworm".into(), "c0".into()),
                ("refs/tags/import/1.0-1".into(), "c1".into()),
            ]),
            versions: BTreeMap::from([
                ("1.0-1".into(), "c1".into()),
                ("1.0-2".into(), "c2".into()),
            ]),
            publications: Vec::new(),
            staged: Default::default(),
            ref_versions: BTreeMap::new(),
            version_facts: BTreeMap::new(),
        };
        let got: Vec<(String, Vec<String>)> = branches(&audit)
            .into_iter()
            .map(|b| (b.name, b.versions))
            .collect();
        assert_eq!(
            got,
            [
                ("importer/debian/bookworm".to_owned(), vec![]),
                ("importer/debian/sid".to_owned(), vec!["1.0-2".to_owned()]),
                (
                    "importer/debian/trixie".to_owned(),
                    vec!["1.0-1".to_owned()]
                ),
            ]
        );
    }
}
