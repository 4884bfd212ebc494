//! What a run imports, decided from data alone: which of the package's publications are new
//! to the audit, which versions need a commit and in what order they are built, and where
//! every ref moves.
//!
//! Pure: Launchpad's publications, the committed audit, the versions' changelogs and the
//! series' statuses in; the plan out. It is made in three steps, because each needs facts
//! the step before makes available:
//! 1. [`Plan::new`]: a publication is new unless the committed audit holds its key
//!    (distribution, series, pocket, version). A version the audit has no commit for is
//!    built once; any other new publication is a ref update only.
//! 2. [`Plan::order_builds`], once the versions to build are downloaded and their
//!    changelogs read: every version is built after the versions its changelog names that
//!    are built in the same run, so that an Ubuntu version descends from the Debian version
//!    it was based on even when Launchpad created the Debian publication later. Ties fall
//!    back to the date Launchpad created the version's first new publication, then to the
//!    order of `launchpad.distributions`, then to the key.
//! 3. [`Plan::moves`] (in `refs`), once the commits exist: each branch and `devel` alias
//!    moves to its version, by fast-forward when the version descends from the branch's
//!    commit and by a publish commit otherwise; each version built gets its tag.

mod refs;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use pkgimport_lp_client::Publication;
use pkgimport_queue::audit::{AuditView, PublicationRow};

pub(super) use refs::{Commits, Move, SeriesStatus, Target, VersionCommit};

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
pub(super) struct Key {
    pub(super) distro: String,
    pub(super) series: String,
    pub(super) pocket: String,
    pub(super) version: String,
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

/// What one run does.
#[derive(Debug)]
pub(super) struct Plan<'a> {
    /// The publications new to the audit, in the order Launchpad created them (ties by
    /// key).
    pub(super) publications: Vec<&'a Found>,
    /// For each version that needs a commit, the publication whose files it is built from
    /// (its first new one), in the order the commits are written.
    pub(super) builds: Vec<&'a Found>,
    /// The index in `launchpad.distributions` of each distribution, for ties.
    distro_rank: BTreeMap<String, usize>,
}

impl<'a> Plan<'a> {
    /// The plan for `history`, the package's publications from Launchpad, given the
    /// committed audit; `distributions` in the configured order.
    pub(super) fn new(
        history: &'a [Found],
        audit: &AuditView,
        distributions: &[String],
    ) -> Plan<'a> {
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
        let distro_rank = distributions
            .iter()
            .enumerate()
            .map(|(i, d)| (d.clone(), i))
            .collect();
        Plan {
            publications,
            builds,
            distro_rank,
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

    /// Orders the builds so that every version comes after the versions built in this run
    /// that its changelog names (`changelogs`: version → the versions of its changelog,
    /// newest first, its own included). Among the versions free to go next, the one whose
    /// first new publication Launchpad created first goes first; then the one of the
    /// distribution listed first in `launchpad.distributions`; then by key. A version whose
    /// changelog is not given only waits for nothing. Changelogs that name each other (never
    /// in a real archive) are broken in the same order.
    pub(super) fn order_builds(&mut self, changelogs: &BTreeMap<String, Vec<String>>) {
        let versions: BTreeSet<&str> = self
            .builds
            .iter()
            .map(|p| p.source_package_version.as_str())
            .collect();
        // version → the versions built in this run that must come first.
        let mut waits: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for p in &self.builds {
            let v = p.source_package_version.as_str();
            let before = changelogs
                .get(v)
                .into_iter()
                .flatten()
                .map(String::as_str)
                .filter(|w| *w != v && versions.contains(w))
                .collect();
            waits.insert(v, before);
        }
        let rank = |p: &Found| {
            (
                p.date_created.utc(),
                self.distro_rank
                    .get(&p.distro)
                    .copied()
                    .unwrap_or(usize::MAX),
                Key::of(p),
            )
        };
        let mut left: Vec<&'a Found> = std::mem::take(&mut self.builds);
        left.sort_by_key(|p| rank(p));
        let mut done: BTreeSet<&str> = BTreeSet::new();
        while !left.is_empty() {
            // The first version in rank order whose changelog predecessors are all built;
            // if a cycle leaves none, the first in rank order.
            let next = left
                .iter()
                .position(|p| {
                    waits[p.source_package_version.as_str()]
                        .iter()
                        .all(|w| done.contains(w))
                })
                .unwrap_or(0);
            let p = left.remove(next);
            done.insert(
                versions
                    .get(p.source_package_version.as_str())
                    .expect("a build"),
            );
            self.builds.push(p);
        }
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
