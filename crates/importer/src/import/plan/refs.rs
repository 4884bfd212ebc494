//! Where the refs move, once every version's commit exists.
//!
//! - Each branch `importer/<distribution>/<series>[-<pocket>]` moves to the version of its
//!   last new publication (in the order Launchpad created them).
//! - Each `importer/<distribution>/devel` alias moves to the newest version, in Debian
//!   version order, published in the distribution's development series (the newest series
//!   whose status is `Active Development` or `Pre-release Freeze`), in its Release or
//!   Proposed pocket. When a new development series opens, its publications are copies of
//!   versions imported already, so the alias moves by a ref update alone.
//! - Each version built gets its tag `import/<version>`, which always names the version's
//!   own commit.
//!
//! Branches only fast-forward, as people pulling them expect. A branch moves straight to
//! the version's commit when that commit descends from the branch's; otherwise (Ubuntu
//! syncs a new Debian version and drops its delta; a version is superseded by an older one)
//! it moves to a publish commit: the version's tree, with the branch's commit as first
//! parent and the version's commit as second, dated when Launchpad created the publication,
//! by the importer's identity. A publish commit is a function of the audit and the
//! publications, so the same history gives the same commit anywhere.
//!
//! With patches-applied chains, every branch and alias has its applied twin,
//! `importer/applied/<distribution>/...`, that follows it version for version to the last
//! commit of the version's chain, by the same rule: straight there when that commit
//! descends from the branch's (the chain starts at the version's commit, so this is when
//! the branch holds an ancestor's import, or the version's own chain), or by a publish
//! commit with the version's applied tree. A version without a chain (its patches do not
//! apply, or it was imported without chains) does not move them. Each version built with a
//! chain gets the tag `applied/<version>` at its end.

use std::collections::BTreeMap;

use pkgimport_queue::audit::{AppliedTip, AuditView};
use pkgimport_queue::series::{DEVELOPMENT, SeriesRow};
use pkgimport_unpack::Version;

use super::super::naming::{
    applied_branch_name, applied_tag_name, branch_name, devel_branch_name, tag_name,
};
use super::{Key, Plan};

/// The pockets the `devel` alias follows.
const DEVEL_POCKETS: [&str; 2] = ["Release", "Proposed"];

/// A version's commit, as far as moving refs needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::import) struct VersionCommit {
    pub(in crate::import) commit: String,
    /// The first parent (the changelog parent); `None` for a root commit.
    pub(in crate::import) parent: Option<String>,
    pub(in crate::import) tree: String,
    /// The end of the version's patches-applied chain, when it has one.
    pub(in crate::import) applied: Option<AppliedTip>,
}

/// Every version commit the run knows, the audit's and the ones it built.
#[derive(Debug, Default)]
pub(in crate::import) struct Commits {
    by_version: BTreeMap<String, VersionCommit>,
    /// commit → version
    version_of: BTreeMap<String, String>,
    /// the end of an applied chain → its version
    applied_of: BTreeMap<String, String>,
}

/// Which refs: the imports' (`importer/...`, `import/...`) or the patches-applied chains'
/// (`importer/applied/...`, `applied/...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Namespace {
    Import,
    Applied,
}

impl Commits {
    pub(in crate::import) fn insert(&mut self, version: &str, commit: VersionCommit) {
        self.version_of
            .insert(commit.commit.clone(), version.to_owned());
        if let Some(tip) = &commit.applied {
            self.applied_of
                .insert(tip.commit.clone(), version.to_owned());
        }
        self.by_version.insert(version.to_owned(), commit);
    }

    /// What a ref of `namespace` that holds `version` points at: the version's commit and
    /// tree, or the end of its applied chain and its tree; `None` without a chain.
    fn tip(&self, namespace: Namespace, version: &str) -> Option<AppliedTip> {
        let c = self
            .by_version
            .get(version)
            .expect("every version has its commit");
        match namespace {
            Namespace::Import => Some(AppliedTip {
                commit: c.commit.clone(),
                tree: c.tree.clone(),
            }),
            Namespace::Applied => c.applied.clone(),
        }
    }

    /// The version whose commit (or the end of whose chain, for `Applied`) `commit` is.
    fn version_at(&self, namespace: Namespace, commit: &str) -> Option<&String> {
        match namespace {
            Namespace::Import => self.version_of.get(commit),
            Namespace::Applied => self
                .applied_of
                .get(commit)
                .or_else(|| self.version_of.get(commit)),
        }
    }

    pub(in crate::import) fn get(&self, version: &str) -> Option<&VersionCommit> {
        self.by_version.get(version)
    }

    /// Whether `commit` is `ancestor` or descends from it through first parents. Version
    /// commits have only version commits as parents, so walking first parents finds every
    /// version commit an import descends from.
    fn descends(&self, commit: &str, ancestor: &str) -> bool {
        let mut at = Some(commit);
        while let Some(c) = at {
            if c == ancestor {
                return true;
            }
            at = self
                .version_of
                .get(c)
                .and_then(|v| self.by_version[v].parent.as_deref());
        }
        false
    }
}

/// The series of each distribution, oldest first, with their statuses.
pub(in crate::import) type SeriesStatus = BTreeMap<String, Vec<SeriesRow>>;

/// A commit to write so that a branch can move forward to a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::import) struct PublishCommit {
    /// The branch's commit, then the version's.
    pub(in crate::import) parents: [String; 2],
    /// The version's tree.
    pub(in crate::import) tree: String,
    /// Seconds since the epoch, UTC: when Launchpad created the publication.
    pub(in crate::import) time: i64,
    pub(in crate::import) message: String,
}

/// What a ref moves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::import) enum Target {
    Commit(String),
    Publish(PublishCommit),
}

/// One ref that moves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::import) struct Move {
    pub(in crate::import) name: String,
    /// The committed audit's value, which the push leases; `None` for a new ref.
    pub(in crate::import) old: Option<String>,
    /// The version whose tree the ref holds afterwards.
    pub(in crate::import) version: String,
    pub(in crate::import) target: Target,
}

/// Why a branch moves to a version, for the publish commit's message.
struct Reason<'r> {
    /// `ubuntu resolute (Release)`, or for an alias `ubuntu's development series resolute
    /// (Release and Proposed)`.
    place: String,
    /// Launchpad's `date_created` of the publication.
    date: &'r str,
    time: i64,
}

impl Plan<'_> {
    /// Every ref the run moves, by name, given the commits of all versions (`commits` must
    /// hold every version of the audit and of [`Plan::builds`]) and the series' statuses;
    /// with `applied`, the refs of the patches-applied chains too.
    pub(in crate::import) fn moves(
        &self,
        package: &str,
        audit: &AuditView,
        commits: &Commits,
        series: &SeriesStatus,
        applied: bool,
    ) -> Vec<Move> {
        let mut moves = BTreeMap::new();
        let mut last: BTreeMap<String, (&str, Reason<'_>)> = BTreeMap::new();
        for p in &self.publications {
            let k = Key::of(p);
            let reason = Reason {
                place: format!("{} {} ({})", k.distro, k.series, k.pocket),
                date: p.date_created.as_str(),
                time: p.date_created.utc().timestamp(),
            };
            last.insert(
                branch_name(&k.distro, &k.series, &k.pocket),
                (p.source_package_version.as_str(), reason),
            );
        }
        let mut branches: Vec<(String, &str, Reason<'_>)> = last
            .into_iter()
            .map(|(name, (version, reason))| (name, version, reason))
            .collect();
        for distro in self.distro_rank.keys() {
            if let Some((version, reason)) = self.devel(audit, series, distro) {
                branches.push((devel_branch_name(distro), version, reason));
            }
        }
        let namespaces: &[Namespace] = if applied {
            &[Namespace::Import, Namespace::Applied]
        } else {
            &[Namespace::Import]
        };
        for (name, version, reason) in &branches {
            for &namespace in namespaces {
                let name = match namespace {
                    Namespace::Import => name.clone(),
                    Namespace::Applied => applied_branch_name(name),
                };
                let found = move_to(package, audit, commits, namespace, &name, version, reason);
                if let Some(m) = found {
                    moves.insert(name, m);
                }
            }
        }
        for p in &self.builds {
            let version = p.source_package_version.as_str();
            for &namespace in namespaces {
                let Some(tip) = commits.tip(namespace, version) else {
                    continue;
                };
                let name = match namespace {
                    Namespace::Import => tag_name(version),
                    Namespace::Applied => applied_tag_name(version),
                };
                if audit.refs.get(&name) != Some(&tip.commit) {
                    moves.insert(
                        name.clone(),
                        Move {
                            old: audit.refs.get(&name).cloned(),
                            name,
                            version: version.to_owned(),
                            target: Target::Commit(tip.commit),
                        },
                    );
                }
            }
        }
        moves.into_values().collect()
    }

    /// The version `importer/<distro>/devel` follows, and why: the newest version in the
    /// development series' Release and Proposed pockets, among the audit's publications
    /// and the new ones. `None` without a development series or a publication there.
    fn devel<'s>(
        &'s self,
        audit: &'s AuditView,
        series: &SeriesStatus,
        distro: &str,
    ) -> Option<(&'s str, Reason<'s>)> {
        let devel = series
            .get(distro)?
            .iter()
            .rev()
            .find(|s| DEVELOPMENT.contains(&s.status.as_str()))?;
        let new = self.publications.iter().map(|p| {
            (
                Key::of(p),
                p.source_package_version.as_str(),
                p.date_created.as_str(),
            )
        });
        let committed = audit
            .publications
            .iter()
            .map(|r| (Key::of_row(r), r.version.as_str(), r.date_created.as_str()));
        let mut newest: Option<(Version, &str, &str)> = None;
        for (k, version, date) in new.chain(committed) {
            if k.distro != distro
                || k.series != devel.name
                || !DEVEL_POCKETS.contains(&k.pocket.as_str())
            {
                continue;
            }
            let Ok(parsed) = version.parse::<Version>() else {
                continue;
            };
            let replace = match &newest {
                None => true,
                Some((best, best_version, best_date)) => {
                    parsed > *best
                        || (parsed == *best && version == *best_version && later(date, best_date))
                }
            };
            if replace {
                newest = Some((parsed, version, date));
            }
        }
        let (_, version, date) = newest?;
        let time = chrono::DateTime::parse_from_rfc3339(date)
            .map(|d| d.timestamp())
            .unwrap_or(0);
        Some((
            version,
            Reason {
                place: format!(
                    "{distro}'s development series {} (Release and Proposed)",
                    devel.name
                ),
                date,
                time,
            },
        ))
    }
}

/// Whether Launchpad time `a` is later than `b` (compared as times; unparsable ones as
/// text).
fn later(a: &str, b: &str) -> bool {
    match (
        chrono::DateTime::parse_from_rfc3339(a),
        chrono::DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(a), Ok(b)) => a > b,
        _ => a > b,
    }
}

/// How `name` (a ref of `namespace`) moves to `version`, or `None` when it holds it
/// already, or when `version` has no applied chain to move an applied ref to.
fn move_to(
    package: &str,
    audit: &AuditView,
    commits: &Commits,
    namespace: Namespace,
    name: &str,
    version: &str,
    reason: &Reason<'_>,
) -> Option<Move> {
    let target = commits.tip(namespace, version)?;
    let old = audit.refs.get(name);
    let old_version = audit
        .ref_versions
        .get(name)
        .or_else(|| old.and_then(|o| commits.version_at(namespace, o)));
    if old == Some(&target.commit) || old_version.map(String::as_str) == Some(version) {
        return None;
    }
    // An applied chain starts at its version's commit, so it descends from what that
    // commit descends from, and from nothing else but its own commits.
    let version_commit = &commits.get(version).expect("a version").commit;
    let fast_forward = match old {
        None => true,
        Some(o) => commits.version_of.contains_key(o) && commits.descends(version_commit, o),
    };
    let to = match (fast_forward, old) {
        (true, _) | (false, None) => Target::Commit(target.commit.clone()),
        (false, Some(o)) => Target::Publish(PublishCommit {
            parents: [o.clone(), target.commit.clone()],
            tree: target.tree.clone(),
            time: reason.time,
            message: publish_message(package, namespace, name, version, old_version, reason),
        }),
    };
    Some(Move {
        name: name.to_owned(),
        old: old.cloned(),
        version: version.to_owned(),
        target: to,
    })
}

fn publish_message(
    package: &str,
    namespace: Namespace,
    name: &str,
    version: &str,
    old_version: Option<&String>,
    reason: &Reason<'_>,
) -> String {
    let branch = name.strip_prefix("refs/heads/").unwrap_or(name);
    if namespace == Namespace::Applied {
        let held = match old_version {
            Some(v) => format!("{v} with its patches applied"),
            None => "a commit the importer does not know as a patches-applied import".to_owned(),
        };
        return format!(
            "Publish {package} {version} on {branch}\n\n\
             Launchpad published {package} {version} in {} at {}.\n\
             The branch held {held}, which {version}'s patches do not descend from.\n\
             This commit has the tree of {version} with its patches applied; its parents are\n\
             the branch's previous commit and the last of {version}'s patches, so that the\n\
             branch only moves forward.\n",
            reason.place, reason.date
        );
    }
    let held = match old_version {
        Some(v) => format!("the import of {v}"),
        None => "a commit the importer does not know as an import".to_owned(),
    };
    format!(
        "Publish {package} {version} on {branch}\n\n\
         Launchpad published {package} {version} in {} at {}.\n\
         The branch held {held}, which {version} does not descend from.\n\
         This commit has the tree of {version}; its parents are the branch's previous\n\
         commit and the import of {version}, so that the branch only moves forward.\n",
        reason.place, reason.date
    )
}
