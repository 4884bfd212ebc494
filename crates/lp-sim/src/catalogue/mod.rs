//! The simulator's data: series, packages, versions and publications, plus the query engine.
//!
//! Publications are compact rows (indices into the package and series tables, dates as
//! values), so 100,000 synthetic publications cost a few megabytes and no file bytes. Two
//! orders are kept sorted: by date (`order_by_date`, newest first; ascending is the same
//! list read backwards) and Launchpad's default (name, then version descending by dpkg
//! rules, then id descending). A query walks one order, filters, skips the offset and takes
//! one more row than the page to know whether a next page exists, as Launchpad does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};

use crate::archive::{self, DiskFile, fallback_date, fnv1a};
use crate::synthetic::{self, SyntheticSpec};

/// The first publication id; Launchpad's SPPH ids are large, so ours look alike.
const FIRST_ID: u64 = 18_500_001;

/// A publishing pocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Pocket {
    Release,
    Security,
    Updates,
    Proposed,
    Backports,
}

impl Pocket {
    pub(crate) const ALL: [Pocket; 5] = [
        Pocket::Release,
        Pocket::Security,
        Pocket::Updates,
        Pocket::Proposed,
        Pocket::Backports,
    ];

    pub(crate) fn title(self) -> &'static str {
        match self {
            Pocket::Release => "Release",
            Pocket::Security => "Security",
            Pocket::Updates => "Updates",
            Pocket::Proposed => "Proposed",
            Pocket::Backports => "Backports",
        }
    }

    pub(crate) fn from_title(s: &str) -> Option<Pocket> {
        Pocket::ALL.into_iter().find(|p| p.title() == s)
    }
}

/// A publication status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Pending,
    Published,
    Superseded,
    Deleted,
    Obsolete,
}

impl Status {
    pub(crate) const ALL: [Status; 5] = [
        Status::Pending,
        Status::Published,
        Status::Superseded,
        Status::Deleted,
        Status::Obsolete,
    ];

    pub(crate) fn title(self) -> &'static str {
        match self {
            Status::Pending => "Pending",
            Status::Published => "Published",
            Status::Superseded => "Superseded",
            Status::Deleted => "Deleted",
            Status::Obsolete => "Obsolete",
        }
    }

    pub(crate) fn from_title(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|p| p.title() == s)
    }
}

/// Splits a suite into series and pocket: `bookworm-security` -> (`bookworm`, Security).
pub(crate) fn split_suite(suite: &str) -> (&str, Pocket) {
    for (suffix, pocket) in [
        ("-security", Pocket::Security),
        ("-updates", Pocket::Updates),
        ("-proposed", Pocket::Proposed),
        ("-backports", Pocket::Backports),
    ] {
        if let Some(series) = suite.strip_suffix(suffix) {
            return (series, pocket);
        }
    }
    (suite, Pocket::Release)
}

/// A series of the distribution.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) version: Option<String>,
    pub(crate) status: &'static str,
}

/// Known codenames, newest first, with version and a plausible status.
const KNOWN_SERIES: &[(&str, Option<&str>, &str)] = &[
    ("experimental", None, "Experimental"),
    ("sid", None, "Active Development"),
    ("forky", Some("14"), "Future"),
    ("trixie", Some("13"), "Current Stable Release"),
    ("bookworm", Some("12"), "Supported"),
    ("bullseye", Some("11"), "Supported"),
    ("buster", Some("10"), "Obsolete"),
    ("stretch", Some("9"), "Obsolete"),
    ("jessie", Some("8"), "Obsolete"),
    ("wheezy", Some("7.0"), "Obsolete"),
    ("squeeze", Some("6.0"), "Obsolete"),
    ("lenny", Some("5.0"), "Obsolete"),
    ("resolute", Some("26.04"), "Active Development"),
    ("questing", Some("25.10"), "Current Stable Release"),
    ("plucky", Some("25.04"), "Obsolete"),
    ("oracular", Some("24.10"), "Obsolete"),
    ("noble", Some("24.04"), "Supported"),
    ("jammy", Some("22.04"), "Supported"),
    ("focal", Some("20.04"), "Supported"),
];

fn series_for(name: &str) -> Series {
    let known = KNOWN_SERIES.iter().find(|(n, _, _)| *n == name);
    Series {
        name: name.to_owned(),
        version: known.and_then(|(_, v, _)| v.map(str::to_owned)),
        status: known.map_or("Supported", |(_, _, s)| s),
    }
}

/// Launchpad lists series by version, newest first; unknown names go last, by name.
fn series_rank(name: &str) -> (usize, String) {
    let pos = KNOWN_SERIES
        .iter()
        .position(|(n, _, _)| *n == name)
        .unwrap_or(usize::MAX);
    (pos, name.to_owned())
}

/// Where a version's files come from.
#[derive(Debug, Clone)]
pub(crate) enum Files {
    Disk(Vec<DiskFile>),
    Synthetic { j: u32, v: u32 },
}

/// One version of a package.
#[derive(Debug, Clone)]
pub(crate) struct VersionInfo {
    pub(crate) version: String,
    /// Position in dpkg order, highest version first (0 = newest).
    pub(crate) rank: u32,
    pub(crate) files: Files,
    pub(crate) section: String,
    pub(crate) maintainer_slug: String,
    /// The top `debian/changelog` date read from disk, if any.
    pub(crate) changelog_date: Option<DateTime<Utc>>,
}

/// One package and its known versions.
#[derive(Debug, Clone)]
pub(crate) struct Package {
    pub(crate) name: String,
    pub(crate) versions: Vec<VersionInfo>,
}

/// One publication.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) id: u64,
    pub(crate) pkg: u32,
    pub(crate) ver: u32,
    pub(crate) series: u16,
    pub(crate) pocket: Pocket,
    pub(crate) status: Status,
    pub(crate) date_created: DateTime<Utc>,
    pub(crate) date_published: Option<DateTime<Utc>>,
    pub(crate) date_superseded: Option<DateTime<Utc>>,
}

/// The order of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    NameThenVersion,
    NewestFirst,
    OldestFirst,
}

/// How the series filter resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeriesFilter {
    Any,
    One(u16),
}

/// A parsed, validated `getPublishedSources` filter.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub(crate) source_name: Option<String>,
    pub(crate) exact_match: bool,
    pub(crate) version: Option<String>,
    pub(crate) series: SeriesFilter,
    pub(crate) pocket: Option<Pocket>,
    pub(crate) status: Option<Status>,
    pub(crate) created_since: Option<DateTime<Utc>>,
    pub(crate) component: Option<String>,
    pub(crate) order: Order,
}

/// The whole simulated archive.
#[derive(Debug)]
pub(crate) struct Catalogue {
    pub(crate) series: Vec<Series>,
    pub(crate) packages: Vec<Package>,
    package_index: HashMap<String, u32>,
    pub(crate) rows: Vec<Row>,
    by_date: Vec<u32>,
    by_name: Vec<u32>,
    next_id: u64,
    archive_dir: Option<PathBuf>,
    synthetic: Option<SyntheticSpec>,
}

/// A request to publish one more version.
#[derive(Debug, Clone)]
pub(crate) struct PublishRequest {
    pub(crate) package: String,
    pub(crate) version: String,
    pub(crate) suite: String,
    pub(crate) date_created: DateTime<Utc>,
    pub(crate) status: Status,
}

/// Why a publish was refused.
#[derive(Debug)]
pub(crate) enum PublishError {
    /// The package or version is not on disk (404).
    Missing(String),
    /// The request makes no sense (400).
    Invalid(String),
}

impl Catalogue {
    fn empty() -> Catalogue {
        Catalogue {
            series: Vec::new(),
            packages: Vec::new(),
            package_index: HashMap::new(),
            rows: Vec::new(),
            by_date: Vec::new(),
            by_name: Vec::new(),
            next_id: FIRST_ID,
            archive_dir: None,
            synthetic: None,
        }
    }

    /// Loads a fixture archive.
    pub(crate) fn from_archive(dir: &Path) -> Result<Catalogue, String> {
        let manifest = archive::load_manifest(dir)?;
        let mut cat = Catalogue::empty();
        cat.archive_dir = Some(dir.to_owned());
        // Add every series first: adding one re-sorts the series table.
        for entry in manifest.values().flat_map(|versions| versions.values()) {
            for suite in &entry.suites {
                cat.series_index_or_add(split_suite(suite).0);
            }
        }
        // (date, package, version, series, pocket) for each publication, before ids exist.
        let mut pending: Vec<(DateTime<Utc>, u32, u32, u16, Pocket)> = Vec::new();
        for (package, versions) in &manifest {
            for (version, entry) in versions {
                let (pkg, ver) = cat.load_disk_version(package, version)?;
                let base = cat.changelog_based_date(pkg, ver, package, version);
                for (k, suite) in entry.suites.iter().enumerate() {
                    let (series_name, pocket) = split_suite(suite);
                    let series = cat.series_index_or_add(series_name);
                    let micros = (fnv1a(format!("{package} {version} {suite}").as_bytes())
                        % 1_000_000) as i64;
                    // Gina imports a few hours after the upload; copies to more suites
                    // follow a few hours apart.
                    let date =
                        base + Duration::hours(2 + 6 * k as i64) + Duration::microseconds(micros);
                    pending.push((date, pkg, ver, series, pocket));
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

    /// Builds a synthetic history.
    pub(crate) fn synthetic(spec: SyntheticSpec) -> Result<Catalogue, String> {
        if spec.series == 0 || spec.packages == 0 || spec.versions == 0 {
            return Err("synthetic history needs at least one package, series and version".into());
        }
        let mut cat = Catalogue::empty();
        cat.synthetic = Some(spec);
        cat.series = synthetic::series_names(spec.series)
            .into_iter()
            .map(|name| series_for(&name))
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
        let total = u64::from(spec.packages) * u64::from(spec.versions);
        cat.rows.reserve(total as usize);
        for v in 0..spec.versions {
            for j in 0..spec.packages {
                let date = spec.date_created(j, v);
                let latest = v + 1 == spec.versions;
                cat.rows.push(Row {
                    id: cat.next_id,
                    pkg: j,
                    ver: v,
                    series: spec.series_of(j),
                    pocket: Pocket::Release,
                    status: if latest {
                        Status::Published
                    } else {
                        Status::Superseded
                    },
                    date_created: date,
                    date_published: Some(date),
                    date_superseded: (!latest).then(|| spec.date_created(j, v + 1)),
                });
                cat.next_id += 1;
            }
        }
        cat.reindex();
        Ok(cat)
    }

    pub(crate) fn synthetic_spec(&self) -> Option<&SyntheticSpec> {
        self.synthetic.as_ref()
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

    pub(crate) fn series_index(&self, name: &str) -> Option<u16> {
        self.series
            .iter()
            .position(|s| s.name == name)
            .map(|i| i as u16)
    }

    fn series_index_or_add(&mut self, name: &str) -> u16 {
        if let Some(i) = self.series_index(name) {
            return i;
        }
        // Keep Launchpad's order (newest first); rows store indices, so remap them.
        let old_names: Vec<String> = self.series.iter().map(|s| s.name.clone()).collect();
        self.series.push(series_for(name));
        self.series.sort_by_key(|s| series_rank(&s.name));
        let remap: Vec<u16> = old_names
            .iter()
            .map(|n| self.series_index(n).unwrap_or(0))
            .collect();
        for row in &mut self.rows {
            row.series = remap[row.series as usize];
        }
        self.series_index(name).unwrap_or(0)
    }

    pub(crate) fn package_index(&self, name: &str) -> Option<u32> {
        self.package_index.get(name).copied()
    }

    pub(crate) fn version_index(&self, pkg: u32, version: &str) -> Option<u32> {
        self.packages[pkg as usize]
            .versions
            .iter()
            .position(|v| v.version == version)
            .map(|i| i as u32)
    }

    /// Finds or loads (from the package folder) a version; returns its indices.
    fn load_disk_version(&mut self, package: &str, version: &str) -> Result<(u32, u32), String> {
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
    fn rerank(&mut self, pkg: u32) {
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

    /// Re-sorts both orders after the rows changed.
    fn reindex(&mut self) {
        let rows = &self.rows;
        let mut by_date: Vec<u32> = (0..rows.len() as u32).collect();
        by_date.sort_by(|&a, &b| {
            let (a, b) = (&rows[a as usize], &rows[b as usize]);
            (b.date_created, b.id).cmp(&(a.date_created, a.id))
        });
        let packages = &self.packages;
        let mut by_name: Vec<u32> = (0..rows.len() as u32).collect();
        by_name.sort_by(|&a, &b| {
            let (a, b) = (&rows[a as usize], &rows[b as usize]);
            let (pa, pb) = (&packages[a.pkg as usize], &packages[b.pkg as usize]);
            pa.name
                .cmp(&pb.name)
                .then(
                    pa.versions[a.ver as usize]
                        .rank
                        .cmp(&pb.versions[b.ver as usize].rank),
                )
                .then(b.id.cmp(&a.id))
        });
        self.by_date = by_date;
        self.by_name = by_name;
    }

    pub(crate) fn row_by_id(&self, id: u64) -> Option<&Row> {
        let idx = self.rows.binary_search_by_key(&id, |r| r.id).ok()?;
        self.rows.get(idx)
    }

    pub(crate) fn package(&self, row: &Row) -> &Package {
        &self.packages[row.pkg as usize]
    }

    pub(crate) fn version(&self, row: &Row) -> &VersionInfo {
        &self.packages[row.pkg as usize].versions[row.ver as usize]
    }

    fn matches(&self, f: &Filter, row: &Row) -> bool {
        if let SeriesFilter::One(s) = f.series
            && row.series != s
        {
            return false;
        }
        if f.pocket.is_some_and(|p| p != row.pocket) {
            return false;
        }
        if f.status.is_some_and(|s| s != row.status) {
            return false;
        }
        if f.created_since.is_some_and(|t| row.date_created < t) {
            return false;
        }
        if let Some(component) = &f.component
            && component != "main"
        {
            return false;
        }
        let package = &self.packages[row.pkg as usize];
        if let Some(name) = &f.source_name {
            let ok = if f.exact_match {
                package.name == *name
            } else {
                package.name.contains(name.as_str())
            };
            if !ok {
                return false;
            }
        }
        if let Some(version) = &f.version
            && package.versions[row.ver as usize].version != *version
        {
            return false;
        }
        true
    }

    fn ordered(&self, order: Order) -> Box<dyn Iterator<Item = &Row> + '_> {
        match order {
            Order::NewestFirst => Box::new(self.by_date.iter().map(|&i| &self.rows[i as usize])),
            Order::OldestFirst => {
                Box::new(self.by_date.iter().rev().map(|&i| &self.rows[i as usize]))
            }
            Order::NameThenVersion => {
                Box::new(self.by_name.iter().map(|&i| &self.rows[i as usize]))
            }
        }
    }

    /// Up to `size` matching rows from `offset`, and whether more follow.
    pub(crate) fn select(&self, f: &Filter, offset: usize, size: usize) -> (Vec<&Row>, bool) {
        let mut rows: Vec<&Row> = self
            .ordered(f.order)
            .filter(|r| self.matches(f, r))
            .skip(offset)
            .take(size + 1)
            .collect();
        let more = rows.len() > size;
        rows.truncate(size);
        (rows, more)
    }

    /// How many rows match (`total_size`).
    pub(crate) fn count(&self, f: &Filter) -> usize {
        self.rows.iter().filter(|r| self.matches(f, r)).count()
    }

    /// Adds a publication (the `/_sim/publish` control endpoint).
    pub(crate) fn publish(&mut self, req: &PublishRequest) -> Result<u64, PublishError> {
        let (series_name, pocket) = split_suite(&req.suite);
        if series_name.is_empty()
            || !series_name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(PublishError::Invalid(format!("bad suite {:?}", req.suite)));
        }
        let (pkg, ver) = match self.synthetic {
            Some(spec) => self.synthetic_version(&spec, &req.package, &req.version)?,
            None => {
                if !valid_package_name(&req.package) || !valid_version(&req.version) {
                    return Err(PublishError::Invalid(format!(
                        "bad package or version {:?} {:?}",
                        req.package, req.version
                    )));
                }
                self.load_disk_version(&req.package, &req.version)
                    .map_err(PublishError::Missing)?
            }
        };
        let series = self.series_index_or_add(series_name);
        let id = self.next_id;
        self.next_id += 1;
        let published = matches!(req.status, Status::Published);
        if published {
            let date = req.date_created;
            for row in &mut self.rows {
                if row.pkg == pkg
                    && row.series == series
                    && row.pocket == pocket
                    && matches!(row.status, Status::Published | Status::Pending)
                    && row.date_created <= date
                {
                    row.status = Status::Superseded;
                    row.date_superseded = Some(date);
                }
            }
        }
        self.rows.push(Row {
            id,
            pkg,
            ver,
            series,
            pocket,
            status: req.status,
            date_created: req.date_created,
            date_published: published.then_some(req.date_created),
            date_superseded: None,
        });
        self.reindex();
        Ok(id)
    }

    /// Opens a new series (the `/_sim/open-series` control endpoint), as a distribution does
    /// when it starts a release: for every package published in one of `copy_from` (every
    /// existing series when empty), the highest version among its `Published` rows there is
    /// copied into the Release pocket of `series`, status `Published`. The copies are
    /// created at `date` plus one microsecond per copy, in package order, so ids and dates
    /// increase together and pollers that follow `date_created` see all of them. The
    /// catalogue is re-sorted once, not once per copy. Returns how many were copied.
    pub(crate) fn open_series(
        &mut self,
        series: &str,
        copy_from: &[String],
        date: DateTime<Utc>,
    ) -> Result<usize, PublishError> {
        if !valid_series_name(series) {
            return Err(PublishError::Invalid(format!("bad series name {series:?}")));
        }
        if self.series_index(series).is_some() {
            return Err(PublishError::Invalid(format!(
                "series {series} already exists"
            )));
        }
        let sources: Vec<u16> = if copy_from.is_empty() {
            (0..self.series.len() as u16).collect()
        } else {
            copy_from
                .iter()
                .map(|name| {
                    self.series_index(name).ok_or_else(|| {
                        PublishError::Invalid(format!("no series {name} to copy from"))
                    })
                })
                .collect::<Result<_, _>>()?
        };
        // Per package, the row whose version ranks highest (rank 0 is the newest version),
        // the newest such row on a tie.
        let mut best: Vec<Option<usize>> = vec![None; self.packages.len()];
        for (i, row) in self.rows.iter().enumerate() {
            if row.status != Status::Published || !sources.contains(&row.series) {
                continue;
            }
            let slot = &mut best[row.pkg as usize];
            let better = match *slot {
                None => true,
                Some(b) => {
                    let (old, new) = (&self.rows[b], row);
                    let rank =
                        |r: &Row| self.packages[r.pkg as usize].versions[r.ver as usize].rank;
                    (rank(new), std::cmp::Reverse(new.date_created))
                        < (rank(old), std::cmp::Reverse(old.date_created))
                }
            };
            if better {
                *slot = Some(i);
            }
        }
        let copies: Vec<(u32, u32)> = best
            .into_iter()
            .flatten()
            .map(|i| (self.rows[i].pkg, self.rows[i].ver))
            .collect();
        let target = self.series_index_or_add(series);
        for (n, (pkg, ver)) in copies.iter().enumerate() {
            let created = date + Duration::microseconds(n as i64);
            self.rows.push(Row {
                id: self.next_id,
                pkg: *pkg,
                ver: *ver,
                series: target,
                pocket: Pocket::Release,
                status: Status::Published,
                date_created: created,
                date_published: Some(created),
                date_superseded: None,
            });
            self.next_id += 1;
        }
        self.reindex();
        Ok(copies.len())
    }

    fn synthetic_version(
        &mut self,
        spec: &SyntheticSpec,
        package: &str,
        version: &str,
    ) -> Result<(u32, u32), PublishError> {
        let j = spec
            .package_index(package)
            .ok_or_else(|| PublishError::Missing(format!("no synthetic package {package}")))?;
        let v = synthetic::version_index(version).ok_or_else(|| {
            PublishError::Invalid(format!("synthetic versions look like 1.<n>, not {version}"))
        })?;
        if let Some(ver) = self.version_index(j, version) {
            return Ok((j, ver));
        }
        let versions = &mut self.packages[j as usize].versions;
        let ver = versions.len() as u32;
        versions.push(VersionInfo {
            version: version.to_owned(),
            rank: 0,
            files: Files::Synthetic { j, v },
            section: "misc".into(),
            maintainer_slug: "synthetic-maintainer".into(),
            changelog_date: None,
        });
        self.rerank(j);
        Ok((j, ver))
    }
}

/// Series names as lp-sim accepts them: lowercase letters and digits, not empty.
fn valid_series_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Debian source package names: `[a-z0-9][a-z0-9+.-]+`. Also keeps paths inside the archive.
fn valid_package_name(name: &str) -> bool {
    name.len() >= 2
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+.-".contains(&b))
}

/// Debian versions: `[A-Za-z0-9.+~:-]`, no slashes, not empty.
fn valid_version(version: &str) -> bool {
    !version.is_empty()
        && version.as_bytes()[0].is_ascii_digit()
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+~:-".contains(&b))
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

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn fixture_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/debian")
    }

    fn filter() -> Filter {
        Filter {
            source_name: None,
            exact_match: false,
            version: None,
            series: SeriesFilter::Any,
            pocket: None,
            status: None,
            created_since: None,
            component: None,
            order: Order::NewestFirst,
        }
    }

    fn names(cat: &Catalogue, rows: &[&Row]) -> Vec<String> {
        rows.iter()
            .map(|r| {
                format!(
                    "{} {} {}{}",
                    cat.package(r).name,
                    cat.version(r).version,
                    cat.series[r.series as usize].name,
                    match r.pocket {
                        Pocket::Release => String::new(),
                        p => format!("-{}", p.title().to_lowercase()),
                    }
                )
            })
            .collect()
    }

    #[test]
    fn suites_split() {
        assert_eq!(
            split_suite("bookworm-security"),
            ("bookworm", Pocket::Security)
        );
        assert_eq!(split_suite("sid"), ("sid", Pocket::Release));
        assert_eq!(split_suite("noble-proposed"), ("noble", Pocket::Proposed));
        assert_eq!(split_suite("jammy-backports"), ("jammy", Pocket::Backports));
        assert_eq!(split_suite("focal-updates"), ("focal", Pocket::Updates));
    }

    #[test]
    fn fixture_archive_loads_every_suite() {
        let cat = Catalogue::from_archive(&fixture_dir()).unwrap();
        // 21 versions; four of them in two suites.
        assert_eq!(cat.rows.len(), 25);
        let series: Vec<&str> = cat.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(series, ["sid", "trixie", "bookworm", "bullseye"]);
        // Ids increase with dates.
        let mut by_id = cat.rows.clone();
        by_id.sort_by_key(|r| r.id);
        assert!(
            by_id
                .windows(2)
                .all(|w| w[0].date_created <= w[1].date_created)
        );
        // Changelog dates were found (no fallback): hello 2.10-3's trailer is 2022-12-26.
        let hello = cat.package_index("hello").unwrap();
        let row = cat
            .rows
            .iter()
            .find(|r| r.pkg == hello && cat.version(r).version == "2.10-3")
            .unwrap();
        assert_eq!(row.date_created.format("%Y-%m").to_string(), "2022-12");
    }

    #[test]
    fn changelog_dates_come_from_every_kind_of_file() {
        let cat = Catalogue::from_archive(&fixture_dir()).unwrap();
        for package in &cat.packages {
            for version in &package.versions {
                assert!(
                    version.changelog_date.is_some(),
                    "{} {}",
                    package.name,
                    version.version
                );
            }
        }
    }

    #[test]
    fn exact_match_and_substring() {
        let cat = Catalogue::from_archive(&fixture_dir()).unwrap();
        let mut f = filter();
        f.source_name = Some("term".into());
        let (rows, _) = cat.select(&f, 0, 300);
        assert_eq!(rows.len(), 8, "{:?}", names(&cat, &rows));
        f.exact_match = true;
        assert_eq!(cat.select(&f, 0, 300).0.len(), 0);
        f.source_name = Some("golang-golang-x-term".into());
        assert_eq!(cat.select(&f, 0, 300).0.len(), 8);
        f.source_name = Some("libssh".into());
        f.exact_match = false;
        assert_eq!(cat.count(&f), 4);
    }

    #[test]
    fn default_order_is_name_then_dpkg_version_descending() {
        let cat = Catalogue::from_archive(&fixture_dir()).unwrap();
        let mut f = filter();
        f.order = Order::NameThenVersion;
        f.source_name = Some("libssh".into());
        let (rows, more) = cat.select(&f, 0, 300);
        assert!(!more);
        assert_eq!(
            names(&cat, &rows),
            [
                "libssh 0.12.2-1 sid",
                "libssh 0.11.5-0+deb13u1 trixie",
                "libssh 0.10.6-0+deb12u2 bookworm",
                "libssh 0.9.8-0+deb11u1 bullseye",
            ]
        );
    }

    #[test]
    fn filters_and_paging() {
        let cat = Catalogue::from_archive(&fixture_dir()).unwrap();
        let mut f = filter();
        f.series = SeriesFilter::One(cat.series_index("bookworm").unwrap());
        let all = cat.count(&f);
        assert_eq!(all, 9);
        // Pages of 4 cover everything exactly once, newest first.
        let mut seen = Vec::new();
        let mut offset = 0;
        loop {
            let (rows, more) = cat.select(&f, offset, 4);
            offset += rows.len();
            seen.extend(rows.iter().map(|r| r.id));
            if !more {
                break;
            }
        }
        assert_eq!(seen.len(), 9);
        let mut dedup = seen.clone();
        dedup.sort_unstable();
        dedup.dedup();
        assert_eq!(dedup.len(), 9);
        f.pocket = Some(Pocket::Security);
        let (rows, _) = cat.select(&f, 0, 10);
        assert_eq!(
            names(&cat, &rows),
            ["golang-golang-x-term 0.3.0-1 bookworm-security"]
        );
        f.pocket = None;
        f.order = Order::OldestFirst;
        let (asc, _) = cat.select(&f, 0, 10);
        assert!(
            asc.windows(2)
                .all(|w| w[0].date_created <= w[1].date_created)
        );
        let cut = asc[5].date_created;
        f.created_since = Some(cut);
        assert_eq!(cat.count(&f), 4);
    }

    #[test]
    fn domination_marks_older_versions_superseded() {
        let cat = Catalogue::from_archive(&fixture_dir()).unwrap();
        let mut f = filter();
        f.source_name = Some("golang-golang-x-term".into());
        f.series = SeriesFilter::One(cat.series_index("sid").unwrap());
        let (rows, _) = cat.select(&f, 0, 10);
        let statuses: Vec<&str> = rows.iter().map(|r| r.status.title()).collect();
        assert_eq!(statuses, ["Published", "Superseded", "Superseded"]);
        assert_eq!(cat.version(rows[0]).version, "0.45.0-1");
    }

    #[test]
    fn publish_needs_files_on_disk() {
        let mut cat = Catalogue::from_archive(&fixture_dir()).unwrap();
        let req = |version: &str, suite: &str| PublishRequest {
            package: "hello".into(),
            version: version.into(),
            suite: suite.into(),
            date_created: DateTime::<Utc>::from(std::time::SystemTime::now()),
            status: Status::Pending,
        };
        assert!(matches!(
            cat.publish(&req("9.9-1", "sid")),
            Err(PublishError::Missing(_))
        ));
        // An existing version published to a new suite (and a new series).
        let id = cat.publish(&req("2.12.3-1", "forky-proposed")).unwrap();
        let row = cat.row_by_id(id).unwrap();
        assert_eq!(cat.series[row.series as usize].name, "forky");
        assert_eq!(row.pocket, Pocket::Proposed);
        assert_eq!(row.status, Status::Pending);
        // The newest by date comes first.
        let (rows, _) = cat.select(&filter(), 0, 1);
        assert_eq!(rows[0].id, id);
        // Series were remapped, not scrambled.
        let names: Vec<&str> = cat.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["sid", "forky", "trixie", "bookworm", "bullseye"]);
    }

    #[test]
    fn open_series_copies_the_newest_published_version_of_every_package() {
        let spec = SyntheticSpec {
            packages: 10,
            series: 2,
            versions: 2,
        };
        let mut cat = Catalogue::synthetic(spec).unwrap();
        let now = DateTime::<Utc>::from(std::time::SystemTime::now());
        let req = |j: u32, version: &str, suite: &str, status: Status| PublishRequest {
            package: spec.package_name(j),
            version: version.into(),
            suite: suite.into(),
            date_created: now,
            status,
        };
        // Package 0 gets a newer version; package 1's newer one is only pending: not copied.
        cat.publish(&req(0, "1.5", "sid", Status::Published))
            .unwrap();
        cat.publish(&req(1, "1.6", "trixie", Status::Pending))
            .unwrap();
        let before = cat.rows.len();
        let later = now + Duration::seconds(1);
        assert_eq!(cat.open_series("forky", &[], later).unwrap(), 10);
        assert_eq!(cat.rows.len(), before + 10);
        let names_now: Vec<&str> = cat.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names_now, ["sid", "forky", "trixie"]);

        let mut f = filter();
        f.series = SeriesFilter::One(cat.series_index("forky").unwrap());
        f.order = Order::OldestFirst;
        let (rows, more) = cat.select(&f, 0, 100);
        assert!(!more);
        let got = names(&cat, &rows);
        assert_eq!(got.len(), 10);
        assert_eq!(got[0], "synth-000000 1.5 forky");
        assert_eq!(got[1], "synth-000001 1.1 forky");
        assert_eq!(got[9], "synth-000009 1.1 forky");
        assert!(rows.iter().all(|r| r.status == Status::Published
            && r.pocket == Pocket::Release
            && r.date_created >= later));
        // Ids and dates increase together, and a poller since `later` sees every copy.
        assert!(
            rows.windows(2)
                .all(|w| w[0].id < w[1].id && w[0].date_created < w[1].date_created)
        );
        f.series = SeriesFilter::Any;
        f.created_since = Some(later);
        assert_eq!(cat.count(&f), 10);
        // The series the packages came from are unchanged.
        f.created_since = None;
        f.series = SeriesFilter::One(cat.series_index("sid").unwrap());
        f.status = Some(Status::Published);
        assert_eq!(cat.count(&f), 5);

        // From one series only: the five packages of trixie.
        assert_eq!(
            cat.open_series("series9", &["trixie".into()], later)
                .unwrap(),
            5
        );
        for bad in [
            cat.open_series("forky", &[], later),
            cat.open_series("newer", &["nosuch".into()], later),
            cat.open_series("Bad/Name", &[], later),
        ] {
            assert!(matches!(bad, Err(PublishError::Invalid(_))), "{bad:?}");
        }
    }

    #[test]
    fn synthetic_history_is_arithmetic() {
        let spec = SyntheticSpec {
            packages: 1000,
            series: 10,
            versions: 2,
        };
        let cat = Catalogue::synthetic(spec).unwrap();
        assert_eq!(cat.rows.len(), 2000);
        let mut f = filter();
        f.series = SeriesFilter::One(3);
        assert_eq!(cat.count(&f), 200);
        let (rows, more) = cat.select(&f, 0, 300);
        assert!(!more);
        assert!(rows.iter().all(|r| r.pkg % 10 == 3));
        assert_eq!(rows[0].status, Status::Published);
        assert_eq!(cat.version(rows[0]).version, "1.1");
        f.order = Order::NameThenVersion;
        let (rows, _) = cat.select(&f, 0, 2);
        assert_eq!(cat.version(rows[0]).version, "1.1");
        assert_eq!(cat.version(rows[1]).version, "1.0");
    }
}
