//! Writing commits: each fetched version is unpacked in memory, exactly as `dpkg-source -x
//! --skip-patches` would unpack it, and written as one commit straight into a pack of the
//! work repository, followed by its patches-applied chain (see `applied`); then the publish
//! commits that let branches move forward.
//!
//! A version's commit is a function of the version alone, so the same history gives the
//! same ids on any machine: the tree is the unpacked source; author, dates and message come
//! from the version's own changelog entry; the committer is the configured identity with
//! the changelog's date; the parent is the commit of the newest earlier version in the
//! version's own changelog that has been imported. A publish commit is a function of the
//! plan (see `plan::refs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pkgimport_core::PackageName;
use pkgimport_git::{CommitSpec, Entry, GitDir, Oid, PackWriter, Signature, TzOffset};
use pkgimport_queue::audit::{AppliedTip, AuditView, PatchFailure, StagedRef, VersionFacts};
use pkgimport_unpack::{Limits, Node, SourceFormat, SourceTree, changelog, quilt};

use super::applied::{ChainIdentity, entry, write_chain};
use super::plan::{Commits, Found, Move, Target, VersionCommit};
use super::{ImportError, Importer, Result, oid};

/// What [`Importer::build`] wrote.
#[derive(Debug, Default)]
pub(super) struct Built {
    /// The new commits, by version.
    pub(super) commits: BTreeMap<String, VersionCommit>,
    /// The versions whose patches do not apply, with the first that does not.
    pub(super) patch_failures: BTreeMap<String, PatchFailure>,
    /// Commits of the patches-applied chains.
    pub(super) patch_commits: u64,
}

/// How many publish commits [`Importer::write_moves`] wrote, for the imports' branches and
/// for the patches-applied ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct PublishCounts {
    pub(super) import: u64,
    pub(super) applied: u64,
}

/// One version's commit and what became of its chain.
struct BuiltVersion {
    commit: VersionCommit,
    patch_failure: Option<PatchFailure>,
    patch_commits: u64,
}

impl Importer<'_> {
    /// Writes the commits of `builds`, in order, from the files fetched into `sources`
    /// (version → directory), and their patches-applied chains when the settings ask for
    /// them. `imported` maps the versions imported before to their commits.
    ///
    /// A second thread unpacks the next version while this one hashes and compresses the
    /// current one into the pack (on every core), so decompression overlaps the writing. The
    /// rendezvous channel keeps at most two unpacked trees in memory.
    pub(super) fn build(
        &self,
        package: &PackageName,
        repo: &GitDir,
        builds: &[&Found],
        sources: &BTreeMap<String, PathBuf>,
        imported: &BTreeMap<String, String>,
    ) -> Result<Built> {
        let mut built = Built::default();
        if builds.is_empty() {
            // Ref-only: every version is in the repository already.
            return Ok(built);
        }
        let mut versions = imported.clone();
        let mut pack = PackWriter::start(repo)?;
        let limits = &self.settings.limits;
        std::thread::scope(|scope| -> Result<()> {
            let (tx, rx) = std::sync::mpsc::sync_channel(0);
            let jobs: Vec<(&str, &Path)> = builds
                .iter()
                .map(|p| {
                    let version = p.source_package_version.as_str();
                    (version, sources[version].as_path())
                })
                .collect();
            scope.spawn(move || {
                for (version, dir) in jobs {
                    let unpacked = unpack_version(package, dir, version, limits);
                    let failed = unpacked.is_err();
                    // The receiver is gone when the committing side failed: stop unpacking.
                    if tx.send(unpacked).is_err() || failed {
                        return;
                    }
                }
            });
            for (i, p) in builds.iter().enumerate() {
                let version = &p.source_package_version;
                let (format, tree) = rx.recv().map_err(|_| ImportError::UnpackerStopped)??;
                let one =
                    self.commit_version(package, &mut pack, tree, format, version, &versions)?;
                let commit = one.commit;
                // One line per version: the progress of a long import, on a terminal or in a
                // log.
                log::info!(
                    "package={package} version={version} commit={}{} ({}/{})",
                    commit.commit,
                    match &commit.applied {
                        Some(tip) if tip.commit != commit.commit => format!(
                            " patches={} applied_commit={}",
                            one.patch_commits, tip.commit
                        ),
                        _ => String::new(),
                    },
                    i + 1,
                    builds.len()
                );
                if let Some(failure) = one.patch_failure {
                    log::warn!(
                        "package={package} version={version} patch={} does not apply: {}; the \
                         version is imported without its patches-applied chain",
                        failure.patch,
                        failure.message
                    );
                    built.patch_failures.insert(version.clone(), failure);
                }
                built.patch_commits += one.patch_commits;
                versions.insert(version.clone(), commit.commit.clone());
                built.commits.insert(version.clone(), commit);
            }
            Ok(())
        })?;
        pack.finish()?;
        Ok(built)
    }

    /// The changelog of each version in `builds` (version → its changelog's versions,
    /// newest first), read from the files fetched into `sources` without unpacking the
    /// whole package where its format allows.
    pub(super) fn changelogs(
        &self,
        package: &PackageName,
        builds: &[&Found],
        sources: &BTreeMap<String, PathBuf>,
    ) -> Result<BTreeMap<String, Vec<String>>> {
        let mut out = BTreeMap::new();
        for p in builds {
            let version = &p.source_package_version;
            let dsc = find_dsc(&sources[version], package, version)?;
            let Some(text) = pkgimport_unpack::read_changelog(&dsc, &self.settings.limits)? else {
                return Err(ImportError::NoChangelog {
                    package: package.clone(),
                    version: version.clone(),
                });
            };
            let log = changelog::parse(&String::from_utf8_lossy(&text)).map_err(|error| {
                ImportError::Changelog {
                    package: package.clone(),
                    version: version.clone(),
                    error,
                }
            })?;
            out.insert(version.clone(), log.versions);
        }
        Ok(out)
    }

    /// Every version commit the run knows, with its parent and tree: the audit's, and
    /// `built`. The audit rows from before it recorded parents and trees get them from the
    /// work repository, once (they are facts of immutable commits).
    pub(super) fn commits(
        &mut self,
        package: &PackageName,
        repo: &GitDir,
        audit: &AuditView,
        built: &BTreeMap<String, VersionCommit>,
        ref_only: bool,
    ) -> Result<Commits> {
        let mut commits = Commits::default();
        let mut found = BTreeMap::new();
        for (version, commit) in &audit.versions {
            let facts = match audit.version_facts.get(version) {
                Some(f) if f.known() => f.clone(),
                _ => {
                    if ref_only && found.is_empty() {
                        // A ref-only run has not made sure the commits are here yet.
                        self.ensure_history(package, repo, &super::audited_commits(audit))?;
                    }
                    let facts = read_facts(repo, commit)?;
                    found.insert(version.clone(), facts.clone());
                    facts
                }
            };
            commits.insert(
                version,
                VersionCommit {
                    commit: commit.clone(),
                    parent: facts.parent,
                    tree: facts.tree.unwrap_or_default(),
                    applied: facts.applied,
                },
            );
        }
        if !found.is_empty() {
            log::info!(
                "package={package} recorded the parents and trees of {} audited versions",
                found.len()
            );
            self.store.audit_fill_version_facts(package, &found)?;
        }
        for (version, commit) in built {
            commits.insert(version, commit.clone());
        }
        Ok(commits)
    }

    /// Writes the publish commits that `moves` need, into one pack, and returns the refs to
    /// stage (with their new commits), the version each holds, and how many publish commits
    /// were written. `known` is every commit the audit records (see `ensure_history`).
    pub(super) fn write_moves(
        &self,
        package: &PackageName,
        repo: &GitDir,
        moves: &[Move],
        ref_only: bool,
        known: &[String],
    ) -> Result<(Vec<StagedRef>, BTreeMap<String, String>, PublishCounts)> {
        let mut refs = Vec::with_capacity(moves.len());
        let mut versions = BTreeMap::new();
        let mut pack = None;
        let mut written = PublishCounts::default();
        for m in moves {
            let new = match &m.target {
                Target::Commit(commit) => commit.clone(),
                Target::Publish(publish) => {
                    let pack = match &mut pack {
                        Some(pack) => pack,
                        None => {
                            if ref_only {
                                // The parents must be in the work repository.
                                self.ensure_history(package, repo, known)?;
                            }
                            pack.insert(PackWriter::start(repo)?)
                        }
                    };
                    let identity = Signature {
                        name: self.settings.committer_name.clone(),
                        email: self.settings.committer_email.clone(),
                        time: publish.time.max(0) as u64,
                        offset: TzOffset::from_minutes(0)?,
                    };
                    let parents = [oid(&publish.parents[0])?, oid(&publish.parents[1])?];
                    let spec = CommitSpec {
                        author: &identity,
                        committer: &identity,
                        message: publish.message.as_bytes(),
                        parents: &parents,
                        update_ref: None,
                    };
                    let commit = pack.commit_on_tree(&spec, oid(&publish.tree)?)?;
                    log::info!(
                        "package={package} ref={} version={} publish_commit={commit}",
                        m.name,
                        m.version
                    );
                    if super::naming::is_applied_ref(&m.name) {
                        written.applied += 1;
                    } else {
                        written.import += 1;
                    }
                    commit.to_hex()
                }
            };
            versions.insert(m.name.clone(), m.version.clone());
            refs.push(StagedRef {
                name: m.name.clone(),
                old: m.old.clone(),
                new,
            });
        }
        if let Some(pack) = pack {
            pack.finish()?;
        }
        Ok((refs, versions, written))
    }

    /// Writes the commit of one unpacked version, then its patches-applied chain when the
    /// settings ask for one. `versions` maps the versions imported so far to their commits,
    /// for the parent.
    fn commit_version(
        &self,
        package: &PackageName,
        pack: &mut PackWriter,
        mut tree: SourceTree,
        format: SourceFormat,
        version: &str,
        versions: &BTreeMap<String, String>,
    ) -> Result<BuiltVersion> {
        let changelog_text = match tree.get("debian/changelog") {
            Some(Node::File { data, .. }) => String::from_utf8_lossy(data).into_owned(),
            _ => {
                return Err(ImportError::NoChangelog {
                    package: package.clone(),
                    version: version.to_owned(),
                });
            }
        };
        let log = changelog::parse(&changelog_text).map_err(|error| ImportError::Changelog {
            package: package.clone(),
            version: version.to_owned(),
            error,
        })?;
        let parent = log.versions.iter().skip(1).find_map(|v| versions.get(v));
        let parents: Vec<Oid> = parent.map(|p| oid(p)).transpose()?.into_iter().collect();
        let parent = parent.cloned();
        let time = log.top.date.timestamp().max(0) as u64;
        let offset = TzOffset::from_minutes((log.top.date.offset().local_minus_utc() / 60) as i16)?;
        let author = Signature {
            name: clean_identity(&log.top.author_name),
            email: clean_identity(&log.top.author_email),
            time,
            offset,
        };
        let committer = Signature {
            name: self.settings.committer_name.clone(),
            email: self.settings.committer_email.clone(),
            time,
            offset,
        };
        let message = format!("Import {package} {version}\n\n{}", log.top.text);
        let spec = CommitSpec {
            author: &author,
            committer: &committer,
            message: message.as_bytes(),
            parents: &parents,
            update_ref: None,
        };
        // The series is read from the tree as unpacked, before any patch, as dpkg reads it.
        let series = (self.settings.applied && format == SourceFormat::V3Quilt)
            .then(|| quilt::series(&tree));
        let (written, snapshot) = match &series {
            Some(Ok(patches)) if !patches.is_empty() => {
                let (written, snapshot) = pack.commit_snapshot(&spec, entries(&tree))?;
                (written, Some(snapshot))
            }
            _ => (pack.commit_with_tree(&spec, entries(&tree))?, None),
        };
        let mut built = BuiltVersion {
            commit: VersionCommit {
                commit: written.commit.to_hex(),
                parent,
                tree: written.tree.to_hex(),
                applied: None,
            },
            patch_failure: None,
            patch_commits: 0,
        };
        let unpatched = AppliedTip {
            commit: written.commit.to_hex(),
            tree: written.tree.to_hex(),
        };
        match (series, snapshot) {
            // A format without patches, or an empty series: the chain is the commit itself.
            (None, _) if self.settings.applied => built.commit.applied = Some(unpatched),
            (None, _) => {}
            (Some(Ok(_)), None) => built.commit.applied = Some(unpatched),
            (Some(Err(e)), _) => {
                built.patch_failure = Some(PatchFailure {
                    patch: quilt::SERIES.to_owned(),
                    message: e.to_string(),
                });
            }
            (Some(Ok(patches)), Some(snapshot)) => {
                let identity = ChainIdentity {
                    author: &author,
                    committer: &committer,
                };
                let format = format.to_string();
                let chain = write_chain(
                    pack,
                    &mut tree,
                    snapshot,
                    &patches,
                    &format,
                    &identity,
                    written.commit,
                )?;
                match chain {
                    Ok((tip, n)) => {
                        built.commit.applied = Some(tip);
                        built.patch_commits = n;
                    }
                    Err(failure) => built.patch_failure = Some(failure),
                }
            }
        }
        Ok(built)
    }
}

/// The parent and tree of `commit`, read from the work repository.
fn read_facts(repo: &GitDir, commit: &str) -> Result<VersionFacts> {
    let raw = repo.cat_commit(oid(commit)?)?;
    let text = String::from_utf8_lossy(&raw);
    let mut facts = VersionFacts::default();
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if let Some(tree) = line.strip_prefix("tree ") {
            facts.tree = Some(tree.to_owned());
        } else if let Some(parent) = line.strip_prefix("parent ") {
            facts.parent.get_or_insert_with(|| parent.to_owned());
        }
    }
    Ok(facts)
}

/// Unpacks the source package of `version` fetched into `dir`, checking that it is
/// `package`'s; returns its format and tree. Runs on the unpacking thread, so it touches
/// nothing but its arguments.
fn unpack_version(
    package: &PackageName,
    dir: &Path,
    version: &str,
    limits: &Limits,
) -> Result<(SourceFormat, SourceTree)> {
    let dsc = find_dsc(dir, package, version)?;
    let (parsed, tree) = pkgimport_unpack::unpack_dsc_file(&dsc, limits)?;
    if parsed.source != package.as_str() {
        return Err(ImportError::ForeignDsc {
            dsc,
            found: parsed.source,
            package: package.clone(),
        });
    }
    Ok((parsed.format, tree))
}

/// The `.dsc` of `version` in `dir`: `<package>_<version without epoch>.dsc`.
fn find_dsc(dir: &Path, package: &PackageName, version: &str) -> Result<PathBuf> {
    let upstream_and_revision = version.split_once(':').map_or(version, |(_, v)| v);
    let expected = dir.join(format!("{package}_{upstream_and_revision}.dsc"));
    if expected.exists() {
        return Ok(expected);
    }
    Err(ImportError::NoDsc {
        package: package.clone(),
        version: version.to_owned(),
        expected,
    })
}

/// git refuses `<`, `>` and newlines in identities; a changelog or a patch header may have
/// them.
pub(super) fn clean_identity(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '<' | '>' | '\n' | '\0'))
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The tree's files and symlinks as the pack writer takes them.
fn entries(tree: &SourceTree) -> impl Iterator<Item = Entry<'_>> {
    tree.iter().map(|(path, node)| entry(path, node))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_lose_what_git_refuses() {
        assert_eq!(clean_identity(" Jane <Doe>\n"), "Jane Doe");
        assert_eq!(clean_identity("jane@example.org"), "jane@example.org");
    }

    #[test]
    fn the_dsc_is_named_without_the_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let package = PackageName::parse("hello").unwrap();
        std::fs::write(dir.path().join("hello_2.10-3.dsc"), "").unwrap();
        assert_eq!(
            find_dsc(dir.path(), &package, "1:2.10-3").unwrap(),
            dir.path().join("hello_2.10-3.dsc")
        );
        assert!(matches!(
            find_dsc(dir.path(), &package, "2.10-4"),
            Err(ImportError::NoDsc { .. })
        ));
    }
}
