//! Building the catalogue: from a fixture archive (the layout of `fixtures/archive/`: a
//! manifest of packages, versions and suites, an optional `series.json`, and each version's
//! files), with dates derived from the changelogs unless the manifest gives them; or from a
//! synthetic history, whose every row is arithmetic.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use chrono::{DateTime, Duration, Utc};

use super::{
    Catalogue, Files, Package, Pocket, Row, SERIES_STATUSES, Series, Status, VersionInfo, known,
    split_distribution, split_suite, valid_distribution_name, valid_series_name,
};
use crate::archive::{self, SeriesFile, fallback_date, fnv1a};
use crate::synthetic::{self, SyntheticSpec};
use crate::time::parse_any_date;

impl Catalogue {
    /// Loads a fixture archive; bare suites belong to `distribution`.
    pub(crate) fn from_archive(dir: &Path, distribution: &str) -> Result<Catalogue, String> {
        let manifest = archive::load_manifest(dir)?;
        let listed = archive::load_series_file(dir)?;
        let mut cat = Catalogue::empty(distribution);
        cat.archive_dir = Some(dir.to_owned());
        let suite_of = |suite: &str| -> Result<(String, String, Pocket), String> {
            let (distro, rest) = split_distribution(suite, distribution);
            let (series, pocket) = split_suite(rest);
            if !valid_distribution_name(distro) || !valid_series_name(series) {
                return Err(format!("manifest.json: bad suite {suite:?}"));
            }
            Ok((distro.to_owned(), series.to_owned(), pocket))
        };
        // The default distribution first, then the others by name.
        let mut distributions = BTreeSet::new();
        distributions.extend(listed.iter().flat_map(|l| l.keys().cloned()));
        for entry in manifest.values().flat_map(|versions| versions.values()) {
            for suite in &entry.suites {
                distributions.insert(suite_of(suite)?.0);
            }
        }
        for name in &distributions {
            if !valid_distribution_name(name) {
                return Err(format!("bad distribution name {name:?}"));
            }
            cat.distro_index_or_add(name);
        }
        if let Some(listed) = &listed {
            cat.add_listed_series(listed)?;
        }
        // Add every series first (adding one re-sorts the series table), the known ones
        // before the unknown ones, whose status depends on the others'.
        let mut named = BTreeSet::new();
        for entry in manifest.values().flat_map(|versions| versions.values()) {
            for suite in &entry.suites {
                let (distro_name, series, _) = suite_of(suite)?;
                let distro = cat.distro_index_or_add(&distro_name);
                if listed
                    .as_ref()
                    .is_some_and(|l| l.contains_key(&distro_name))
                    && cat.series_index(distro, &series).is_none()
                {
                    return Err(format!(
                        "manifest.json names {distro_name}/{series}, which series.json does not list"
                    ));
                }
                let unknown = known::lookup(&distro_name, &series).is_none();
                named.insert((unknown, distro, series));
            }
        }
        for (_, distro, series) in named {
            cat.series_index_or_add(distro, &series);
        }
        // (date, package, version, series, pocket) for each publication, before ids exist.
        let mut pending: Vec<(DateTime<Utc>, u32, u32, u16, Pocket)> = Vec::new();
        for (package, versions) in &manifest {
            for (version, entry) in versions {
                let (pkg, ver) = cat.load_disk_version(package, version)?;
                let base = cat.changelog_based_date(pkg, ver, package, version);
                let mut suites = Vec::new();
                for suite in &entry.suites {
                    let parsed = suite_of(suite)?;
                    if suites.iter().any(|(_, p)| *p == parsed) {
                        return Err(format!("{package} {version}: suite {suite} twice"));
                    }
                    suites.push((suite, parsed));
                }
                let mut published = HashMap::new();
                for (key, date) in &entry.published {
                    let parsed = suite_of(key)?;
                    if !suites.iter().any(|(_, p)| *p == parsed) {
                        return Err(format!(
                            "{package} {version}: published names {key}, not one of its suites"
                        ));
                    }
                    let date = parse_any_date(date)
                        .map_err(|e| format!("{package} {version}: published {key}: {e}"))?;
                    published.insert(parsed, date);
                }
                for (k, (suite, parsed)) in suites.iter().enumerate() {
                    let (distro_name, series_name, pocket) = parsed;
                    let distro = cat.distro_index_or_add(distro_name);
                    let series = cat.series_index_or_add(distro, series_name);
                    let micros = (fnv1a(format!("{package} {version} {suite}").as_bytes())
                        % 1_000_000) as i64;
                    // Gina imports a few hours after the upload; copies to more suites
                    // follow a few hours apart.
                    let date = published.get(parsed).copied().unwrap_or_else(|| {
                        base + Duration::hours(2 + 6 * k as i64) + Duration::microseconds(micros)
                    });
                    pending.push((date, pkg, ver, series, *pocket));
                }
            }
        }
        pending.sort_by(|a, b| {
            (a.0, &cat.packages[a.1 as usize].name, a.2, a.3).cmp(&(
                b.0,
                &cat.packages[b.1 as usize].name,
                b.2,
                b.3,
            ))
        });
        for (date, pkg, ver, series, pocket) in pending {
            let id = cat.next_id;
            cat.next_id += 1;
            cat.rows.push(Row {
                id,
                pkg,
                ver,
                series,
                pocket,
                status: Status::Published,
                date_created: date,
                date_published: Some(date),
                date_superseded: None,
            });
        }
        cat.dominate_all();
        cat.reindex();
        Ok(cat)
    }

    /// Adds the series of `series.json`, with their versions and statuses.
    fn add_listed_series(&mut self, listed: &SeriesFile) -> Result<(), String> {
        for (distro_name, entries) in listed {
            let distro = self.distro_index_or_add(distro_name);
            for (i, entry) in entries.iter().enumerate() {
                let what = format!("series.json: {distro_name}/{}", entry.name);
                let status = SERIES_STATUSES
                    .into_iter()
                    .find(|s| *s == entry.status)
                    .ok_or_else(|| format!("{what}: no series status {:?}", entry.status))?;
                if !valid_series_name(&entry.name) {
                    return Err(format!("{what}: bad series name"));
                }
                if self.series_index(distro, &entry.name).is_some() {
                    return Err(format!("{what}: listed twice"));
                }
                self.add_series(Series {
                    distro,
                    name: entry.name.clone(),
                    version: entry.version.clone(),
                    status,
                    first: entry.version.is_none(),
                    // The file is oldest first; ties go newest first.
                    tie: entries.len() - 1 - i,
                });
            }
        }
        Ok(())
    }

    /// Builds a synthetic history; `distribution` is the default distribution, and the
    /// history's when the spec names none.
    pub(crate) fn synthetic(
        mut spec: SyntheticSpec,
        distribution: &str,
    ) -> Result<Catalogue, String> {
        if spec.series == 0 || spec.packages == 0 || spec.versions == 0 {
            return Err("synthetic history needs at least one package, series and version".into());
        }
        if spec.distributions.is_empty() {
            spec.distributions.push(distribution.to_owned());
        }
        let mut cat = Catalogue::empty(distribution);
        // Per distribution of the spec, its index and its series' indices, by position.
        let mut homes: Vec<(u16, Vec<String>)> = Vec::new();
        for (i, name) in spec.distributions.iter().enumerate() {
            if !valid_distribution_name(name) || spec.distributions[..i].contains(name) {
                return Err(format!("bad or repeated synthetic distribution {name:?}"));
            }
            let distro = cat.distro_index_or_add(name);
            let names = synthetic::series_names(name, spec.series);
            for (k, series_name) in names.iter().enumerate() {
                let mut series = cat.new_series(distro, series_name);
                if series.tie == usize::MAX {
                    // Past the known names: older series, still supported, in order.
                    series.status = "Supported";
                    series.tie = k;
                }
                cat.add_series(series);
            }
            homes.push((distro, names));
        }
        let home_series: Vec<Vec<u16>> = homes
            .iter()
            .map(|(distro, names)| {
                names
                    .iter()
                    .map(|n| cat.series_index(*distro, n).unwrap_or(0))
                    .collect()
            })
            .collect();
        cat.packages.reserve(spec.packages as usize);
        for j in 0..spec.packages {
            let name = spec.package_name(j);
            let versions = (0..spec.versions)
                .map(|v| VersionInfo {
                    version: synthetic::version_string(v),
                    rank: spec.versions - 1 - v,
                    files: Files::Synthetic { j, v },
                    section: "misc".into(),
                    maintainer_slug: "synthetic-maintainer".into(),
                    changelog_date: None,
                })
                .collect();
            cat.package_index.insert(name.clone(), j);
            cat.packages.push(Package { name, versions });
        }
        let total = u64::from(spec.packages)
            * u64::from(spec.versions)
            * u64::from(spec.distribution_count());
        cat.rows.reserve(total as usize);
        for v in 0..spec.versions {
            for j in 0..spec.packages {
                for (d, series) in home_series.iter().enumerate() {
                    let d = d as u32;
                    let date = spec.date_created(j, v, d);
                    let latest = v + 1 == spec.versions;
                    cat.rows.push(Row {
                        id: cat.next_id,
                        pkg: j,
                        ver: v,
                        series: series[usize::from(spec.series_of(j))],
                        pocket: Pocket::Release,
                        status: if latest {
                            Status::Published
                        } else {
                            Status::Superseded
                        },
                        date_created: date,
                        date_published: Some(date),
                        date_superseded: (!latest).then(|| spec.date_created(j, v + 1, d)),
                    });
                    cat.next_id += 1;
                }
            }
        }
        cat.synthetic = Some(spec);
        cat.reindex();
        Ok(cat)
    }

    fn changelog_based_date(
        &self,
        pkg: u32,
        ver: u32,
        package: &str,
        version: &str,
    ) -> DateTime<Utc> {
        let info = &self.packages[pkg as usize].versions[ver as usize];
        info.changelog_date
            .unwrap_or_else(|| fallback_date(package, version))
    }

    /// Finds or loads (from the package folder) a version; returns its indices.
    pub(super) fn load_disk_version(
        &mut self,
        package: &str,
        version: &str,
    ) -> Result<(u32, u32), String> {
        let pkg = match self.package_index(package) {
            Some(pkg) => pkg,
            None => {
                let pkg = self.packages.len() as u32;
                self.packages.push(Package {
                    name: package.to_owned(),
                    versions: Vec::new(),
                });
                self.package_index.insert(package.to_owned(), pkg);
                pkg
            }
        };
        if let Some(ver) = self.version_index(pkg, version) {
            return Ok((pkg, ver));
        }
        let dir = self
            .archive_dir
            .clone()
            .ok_or_else(|| "no archive directory".to_owned())?;
        let disk = archive::load_version(&dir, package, version)?;
        let ver = self.packages[pkg as usize].versions.len() as u32;
        let maintainer_slug = disk
            .maintainer
            .as_deref()
            .map(person_slug)
            .unwrap_or_else(|| "unknown-maintainer".into());
        self.packages[pkg as usize].versions.push(VersionInfo {
            version: version.to_owned(),
            rank: 0,
            files: Files::Disk(disk.files),
            section: disk.section.unwrap_or_else(|| "misc".into()),
            maintainer_slug,
            changelog_date: disk.changelog_date,
        });
        self.rerank(pkg);
        Ok((pkg, ver))
    }

    /// Recomputes the dpkg-order ranks of a package's versions.
    pub(super) fn rerank(&mut self, pkg: u32) {
        let versions = &mut self.packages[pkg as usize].versions;
        let mut order: Vec<usize> = (0..versions.len()).collect();
        let parsed: Vec<Option<debversion::Version>> =
            versions.iter().map(|v| v.version.parse().ok()).collect();
        order.sort_by(|&a, &b| match (&parsed[a], &parsed[b]) {
            (Some(x), Some(y)) => y.cmp(x),
            _ => versions[b].version.cmp(&versions[a].version),
        });
        for (rank, idx) in order.into_iter().enumerate() {
            versions[idx].rank = rank as u32;
        }
    }

    /// Marks everything but the newest publication (by date) of each package, series and
    /// pocket as superseded, as Launchpad's dominator does.
    fn dominate_all(&mut self) {
        let mut latest: HashMap<(u32, u16, Pocket), usize> = HashMap::new();
        let mut order: Vec<usize> = (0..self.rows.len()).collect();
        order.sort_by_key(|&i| (self.rows[i].date_created, self.rows[i].id));
        for i in order {
            let key = (self.rows[i].pkg, self.rows[i].series, self.rows[i].pocket);
            if let Some(prev) = latest.insert(key, i) {
                let successor_date = self.rows[i].date_created;
                let prev = &mut self.rows[prev];
                if matches!(prev.status, Status::Published | Status::Pending) {
                    prev.status = Status::Superseded;
                    prev.date_superseded = Some(successor_date);
                }
            }
        }
    }
}

/// A Launchpad-person-like name from a `Maintainer` field.
fn person_slug(maintainer: &str) -> String {
    let email = maintainer
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('@'))
        .map_or(maintainer, |(local, _)| local);
    let slug: String = email
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug.trim_matches('-').to_owned();
    if slug.is_empty() {
        "unknown-maintainer".into()
    } else {
        slug
    }
}
