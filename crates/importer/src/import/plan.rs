//! What a run imports, decided from data alone: which of the package's publications are new
//! to the audit, which versions need a commit and in what order they are built, and where
//! every ref moves, with the value the audit expects it to hold now.
//!
//! Pure: the publications from Launchpad and the committed audit in, the plan out. A commit
//! id is known only once the commit is written, so a ref names the version it points at
//! ([`RefTarget::Version`]) until [`Plan::refs`] resolves it with the commits built.
//!
//! The rules:
//! - a publication is new unless the committed audit holds its key (distribution, series,
//!   pocket, version);
//! - new publications are imported in the order Launchpad created them, ties broken by key;
//! - a version the audit has no commit for is built once, at its first new publication in
//!   that order, so that the earlier versions its commit names as parents come first; any
//!   other new publication is a ref update only;
//! - each branch (distribution, series, pocket) moves to the version of its last new
//!   publication in that order, each version built gets its tag, and a ref that already
//!   holds its target is left alone.

use std::collections::{BTreeMap, BTreeSet};

use pkgimport_lp_client::Publication;
use pkgimport_queue::audit::{AuditView, PublicationRow, StagedRef};

use super::naming::{branch_name, tag_name};

/// A publication found in one distribution's history.
#[derive(Debug)]
pub(super) struct Found {
    pub(super) distro: String,
    pub(super) publication: Publication,
}

impl std::ops::Deref for Found {
    type Target = Publication;
    fn deref(&self) -> &Publication {
        &self.publication
    }
}

/// One publication, as the importer keys it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    distro: String,
    series: String,
    pocket: String,
    version: String,
}

impl Key {
    fn of(p: &Found) -> Key {
        Key {
            distro: p.distro.clone(),
            series: p.series_name().to_owned(),
            pocket: p.pocket.as_str().to_owned(),
            version: p.source_package_version.clone(),
        }
    }

    fn of_row(r: &PublicationRow) -> Key {
        Key {
            distro: r.distro.clone(),
            series: r.series.clone(),
            pocket: r.pocket.clone(),
            version: r.version.clone(),
        }
    }
}

/// The commit a ref moves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum RefTarget {
    /// A commit the audit records already.
    Commit(String),
    /// The commit this run builds for the version.
    Version(String),
}

/// A ref the run moves, unless it holds its target already.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PlannedRef {
    pub(super) name: String,
    pub(super) target: RefTarget,
    /// The committed audit's value, which the push leases; `None` for a new ref.
    pub(super) old: Option<String>,
}

/// What one run does.
#[derive(Debug)]
pub(super) struct Plan<'a> {
    /// The publications new to the audit, in the order they are imported.
    pub(super) publications: Vec<&'a Found>,
    /// For each version that needs a commit, the publication whose files it is built from,
    /// in the order the commits are written.
    pub(super) builds: Vec<&'a Found>,
    /// The refs to move, by name.
    pub(super) refs: Vec<PlannedRef>,
}

impl<'a> Plan<'a> {
    /// The plan for `history`, the package's publications from Launchpad, given the
    /// committed audit.
    pub(super) fn new(history: &'a [Found], audit: &AuditView) -> Plan<'a> {
        let done: BTreeSet<Key> = audit.publications.iter().map(Key::of_row).collect();
        let mut publications: Vec<&Found> = history
            .iter()
            .filter(|p| !done.contains(&Key::of(p)))
            .collect();
        publications.sort_by(|a, b| {
            a.date_created
                .utc()
                .cmp(&b.date_created.utc())
                .then_with(|| Key::of(a).cmp(&Key::of(b)))
        });

        let mut builds: Vec<&Found> = Vec::new();
        let mut planned: BTreeSet<&str> = BTreeSet::new();
        for p in &publications {
            let v = p.source_package_version.as_str();
            if !audit.versions.contains_key(v) && planned.insert(v) {
                builds.push(p);
            }
        }

        let mut targets: BTreeMap<String, RefTarget> = BTreeMap::new();
        for p in &publications {
            let k = Key::of(p);
            let target = match audit.versions.get(&k.version) {
                Some(commit) => RefTarget::Commit(commit.clone()),
                None => RefTarget::Version(k.version.clone()),
            };
            targets.insert(branch_name(&k.distro, &k.series, &k.pocket), target);
        }
        for version in planned {
            targets.insert(tag_name(version), RefTarget::Version(version.to_owned()));
        }
        let refs = targets
            .into_iter()
            .map(|(name, target)| PlannedRef {
                old: audit.refs.get(&name).cloned(),
                name,
                target,
            })
            .collect();
        Plan {
            publications,
            builds,
            refs,
        }
    }

    /// Whether there is nothing to import.
    pub(super) fn is_empty(&self) -> bool {
        self.publications.is_empty()
    }

    /// Whether every new publication is of a version committed before: no commit to build,
    /// only refs to move.
    pub(super) fn is_ref_only(&self) -> bool {
        self.builds.is_empty()
    }

    /// The refs that move, their targets resolved with `built`, the commits of the versions
    /// built (version → commit id). Every version in [`Plan::builds`] must be in `built`.
    pub(super) fn refs(&self, built: &BTreeMap<String, String>) -> Vec<StagedRef> {
        self.refs
            .iter()
            .filter_map(|r| {
                let new = match &r.target {
                    RefTarget::Commit(commit) => commit,
                    RefTarget::Version(version) => &built[version],
                };
                (r.old.as_ref() != Some(new)).then(|| StagedRef {
                    name: r.name.clone(),
                    old: r.old.clone(),
                    new: new.clone(),
                })
            })
            .collect()
    }

    /// The audit rows of the new publications, in import order.
    pub(super) fn rows(&self) -> Vec<PublicationRow> {
        self.publications
            .iter()
            .map(|p| {
                let k = Key::of(p);
                PublicationRow {
                    distro: k.distro,
                    series: k.series,
                    pocket: k.pocket,
                    version: k.version,
                    date_created: p.date_created.as_str().to_owned(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
