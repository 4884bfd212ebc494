//! The simulator's data: series, packages, versions and publications, plus the query engine.
//!
//! Publications are compact rows (indices into the package and series tables, dates as
//! values), so 100,000 synthetic publications cost a few megabytes and no file bytes. Two
//! orders are kept sorted: by date (`order_by_date`, newest first; ascending is the same
//! list read backwards) and Launchpad's default (name, then version descending by dpkg
//! rules, then id descending). A query walks one order, filters, skips the offset and takes
//! one more row than the page to know whether a next page exists, as Launchpad does.
//!
//! One catalogue holds every distribution of the archive, as Launchpad does: each series
//! belongs to one distribution, so a publication's distribution is its series'. A version
//! published in two distributions is two publications, with their own ids and dates, of
//! the same files.
//!
//! This module holds the tables; the rest is by job:
//! - [`load`]: building the catalogue from a fixture archive or a synthetic history;
//! - [`series`]: the distribution and series tables, in Launchpad's order;
//! - [`known`]: the built-in series of Debian and Ubuntu, with their statuses;
//! - [`publish`]: what the control endpoints add: a publication, a new series;
//! - [`query`]: `getPublishedSources` filters, the two sorted orders, and paging.

mod known;
mod load;
mod publish;
mod query;
mod series;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

pub(crate) use known::STATUSES as SERIES_STATUSES;
pub(crate) use query::{Filter, Order, SeriesFilter};
pub(crate) use series::Series;

use crate::archive::DiskFile;
use crate::synthetic::SyntheticSpec;

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

/// Splits a manifest suite into distribution and suite: `ubuntu/noble-updates` ->
/// (`ubuntu`, `noble-updates`); a bare suite belongs to `default`.
pub(crate) fn split_distribution<'a>(suite: &'a str, default: &'a str) -> (&'a str, &'a str) {
    suite.split_once('/').unwrap_or((default, suite))
}

/// Series names as lp-sim accepts them: lowercase letters and digits, not empty.
pub(crate) fn valid_series_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Distribution names as lp-sim accepts them: lowercase letters, digits and inner `-`.
pub(crate) fn valid_distribution_name(name: &str) -> bool {
    valid_series_name(&name.replace('-', "")) && !name.starts_with('-') && !name.ends_with('-')
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

/// The whole simulated archive.
#[derive(Debug)]
pub(crate) struct Catalogue {
    /// Distribution names; the first is the default one (bare suites, control requests
    /// that name none).
    pub(crate) distributions: Vec<String>,
    /// Every distribution's series, grouped by distribution, each group newest first.
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
    /// Index into [`Catalogue::distributions`].
    pub(crate) distro: u16,
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
    /// A catalogue of one distribution with no series, packages or publications.
    fn empty(distribution: &str) -> Catalogue {
        Catalogue {
            distributions: vec![distribution.to_owned()],
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

    pub(crate) fn synthetic_spec(&self) -> Option<&SyntheticSpec> {
        self.synthetic.as_ref()
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

    /// The distribution index of a publication.
    pub(crate) fn distro_of(&self, row: &Row) -> u16 {
        self.series[row.series as usize].distro
    }
}
