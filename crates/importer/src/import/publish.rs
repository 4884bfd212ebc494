//! Publishing a run's work under the three-phase audit commit (see `pkgimport-audit`), and
//! finishing what an interrupted run left.
//!
//! Publishing: stage the audit rows, set the critical mark, push every changed ref in one
//! atomic push whose leases come from the committed audit, commit the audit, remove the
//! scratch directory, unmark. A crash anywhere leaves a phase that the next run's
//! [`recover`](Importer::recover) finishes: it drops staged rows that were never published,
//! pushes again (the push is idempotent), or finishes the cleanup.
//!
//! The work repository is a cache of the remote: it may have been deleted, or (with a
//! shared database) earlier versions were imported on another host. So a run that needs
//! commits the audit records fetches them from the remote first.

use std::time::{Duration, Instant};

use pkgimport_audit::Recovery;
use pkgimport_core::PackageName;
use pkgimport_git::{GitDir, Oid, RefUpdate};
use pkgimport_queue::audit::{StagedAudit, StagedRef};

use super::{ImportError, Importer, Result, oid};

/// Every run that imports versions adds one pack to the work repository. Past this many,
/// the run repacks it into one, so that what each run reads (every pack's index) stays
/// small, and the versions' shared content is stored once, as deltas.
const REPACK_AT: usize = 16;

impl Importer<'_> {
    /// Deletes the git lock files a killed run left in the package's repositories, which
    /// would otherwise fail every later run (see `pkgimport_git::remove_stale_locks`). Safe
    /// here: the caller holds the package lock, and no git of an earlier run outlives it
    /// (the driver kills an import's whole process group when the import ends).
    pub(super) fn remove_stale_git_locks(&self, package: &PackageName) -> Result<()> {
        let mut removed = pkgimport_git::remove_stale_locks(&self.work_repo(package))?;
        removed.extend(pkgimport_git::remove_stale_local_remote_locks(
            &self.remote_url(package),
        )?);
        for path in removed {
            log::warn!(
                "package={package} removed a stale git lock {}",
                path.display()
            );
        }
        Ok(())
    }

    /// Finishes what a crashed run left behind. Returns what it did, if anything.
    pub(super) fn recover(&mut self, package: &PackageName) -> Result<Option<String>> {
        let audit = self.store.audit(package)?;
        let what = match audit.phase.recovery() {
            Recovery::None => return Ok(None),
            Recovery::DropStaged => {
                self.store.audit_drop_staged(package)?;
                "dropped the staged audit of an interrupted run"
            }
            Recovery::FinishPush if self.staged_commits_lost(package, &audit.staged.refs)? => {
                // The push is atomic, so a remote without these commits never got it: nothing
                // was published, and this run imports the versions afresh.
                self.store.audit_abort_push(package)?;
                self.store.audit_drop_staged(package)?;
                "dropped an interrupted push whose commits are neither in this work repository \
                 nor on the remote (the run was on another host)"
            }
            Recovery::FinishPush => {
                self.push_and_commit(package, None, &audit.staged.refs)?;
                "finished an interrupted push"
            }
            Recovery::FinishCleanup => {
                self.cleanup(package)?;
                "finished an interrupted cleanup"
            }
        };
        log::warn!("package={package} {what} (was {})", audit.phase);
        Ok(Some(what.to_owned()))
    }

    /// Whether the commits of an interrupted push are gone: missing from the work
    /// repository (which then fetches the remote) and from the remote. That happens when the
    /// run was on another host that shares the database, and its work repository went with
    /// it.
    fn staged_commits_lost(&self, package: &PackageName, refs: &[StagedRef]) -> Result<bool> {
        let commits: Vec<Oid> = refs.iter().map(|r| oid(&r.new)).collect::<Result<_>>()?;
        let repo = GitDir::open_or_init(self.work_repo(package), self.settings.git.clone())?;
        Ok(self
            .fetch_if_missing(package, &repo, &commits)?
            .is_some_and(|still| !still.is_empty()))
    }

    /// Makes sure the work repository holds every commit the audit records (`known`, see
    /// `audited_commits`), fetching the remote when it does not: new commits name them as
    /// parents and ref updates point at them. Returns whether it fetched.
    pub(super) fn ensure_history(
        &self,
        package: &PackageName,
        repo: &GitDir,
        known: &[String],
    ) -> Result<bool> {
        let commits: Vec<Oid> = known.iter().map(|h| oid(h)).collect::<Result<_>>()?;
        let Some(missing) = self.fetch_if_missing(package, repo, &commits)? else {
            return Ok(false);
        };
        if let Some(first) = missing.first() {
            return Err(ImportError::RemoteLacksCommits {
                package: package.clone(),
                count: missing.len(),
                first: *first,
            });
        }
        Ok(true)
    }

    /// When the work repository lacks any of `commits`, fetches the remote and returns the
    /// ones still missing; `None` when nothing was missing (and nothing fetched).
    fn fetch_if_missing(
        &self,
        package: &PackageName,
        repo: &GitDir,
        commits: &[Oid],
    ) -> Result<Option<Vec<Oid>>> {
        if repo.missing_commits(commits)?.is_empty() {
            return Ok(None);
        }
        let url = self.remote_url(package);
        log::info!(
            "package={package} the work repository lacks imported commits; fetching {}",
            pkgimport_core::redact::redact_userinfo(&url)
        );
        pkgimport_git::ensure_local_bare_remote(&url)?;
        repo.fetch_all(&url)?;
        Ok(Some(repo.missing_commits(commits)?))
    }

    /// Points the work repository's refs at their new commits. A ref-only run (`ref_only`:
    /// no commit built) whose work repository lacks a commit the audit records fetches the
    /// remote and tries once more; finding that out here costs less than checking first.
    pub(super) fn update_local_refs(
        &self,
        package: &PackageName,
        repo: &GitDir,
        refs: &[StagedRef],
        ref_only: bool,
        known: &[String],
    ) -> Result<()> {
        let local: Vec<(String, Oid)> = refs
            .iter()
            .map(|r| Ok((r.name.clone(), oid(&r.new)?)))
            .collect::<Result<_>>()?;
        let local_refs: Vec<(&str, Oid)> = local.iter().map(|(n, o)| (n.as_str(), *o)).collect();
        if let Err(e) = repo.update_refs(&local_refs) {
            if ref_only && self.ensure_history(package, repo, known)? {
                repo.update_refs(&local_refs)?;
            } else {
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Publishes a run's work: stages its audit rows, sets the critical mark, then pushes
    /// and commits. Returns how long the push took.
    pub(super) fn publish(
        &mut self,
        package: &PackageName,
        repo: &GitDir,
        staged: &StagedAudit,
    ) -> Result<Duration> {
        self.store.audit_stage(package, staged)?;
        (self.fault)("after-stage");
        self.store.audit_mark(package, self.settings.run_id)?;
        (self.fault)("after-mark");
        self.push_and_commit(package, Some(repo), &staged.refs)
    }

    /// The critical section and what follows: push, commit the audit, clean up, unmark.
    /// `repo` is the work repository when the caller has it open already.
    fn push_and_commit(
        &mut self,
        package: &PackageName,
        repo: Option<&GitDir>,
        refs: &[StagedRef],
    ) -> Result<Duration> {
        let url = self.remote_url(package);
        let started = Instant::now();
        let updates: Vec<RefUpdate> = refs
            .iter()
            .map(|r| {
                Ok(RefUpdate {
                    name: r.name.clone(),
                    new: oid(&r.new)?,
                    expected_old: r.old.as_deref().map(oid).transpose()?,
                })
            })
            .collect::<Result<_>>()?;
        if !updates.is_empty() {
            pkgimport_git::ensure_local_bare_remote(&url)?;
            let opened;
            let repo = match repo {
                Some(repo) => repo,
                None => {
                    opened =
                        GitDir::open_or_init(self.work_repo(package), self.settings.git.clone())?;
                    &opened
                }
            };
            match repo.push_atomic(&url, &updates) {
                Ok(report) => log::debug!("package={package} pushed {} refs", report.refs.len()),
                Err(pkgimport_git::Error::LeaseRefused { refs }) => {
                    // Nothing was published: leave no mark behind, and never overwrite.
                    self.store.audit_abort_push(package)?;
                    self.store.audit_drop_staged(package)?;
                    return Err(ImportError::RemoteDiverged { refs });
                }
                Err(e) => return Err(e.into()),
            }
        }
        let pushed = started.elapsed();
        (self.fault)("after-push");
        self.store.audit_commit(package)?;
        (self.fault)("after-audit-commit");
        self.cleanup(package)?;
        Ok(pushed)
    }

    fn cleanup(&mut self, package: &PackageName) -> Result<()> {
        let scratch = self.scratch_dir(package);
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch).map_err(|error| ImportError::RemoveScratch {
                path: scratch.clone(),
                error,
            })?;
        }
        (self.fault)("after-cleanup");
        self.store.audit_unmark(package)?;
        Ok(())
    }
}

/// Repacks the work repository once it has [`REPACK_AT`] packs. Runs after the push and
/// the audit's commit, under the package lock, when every imported version has its tag in
/// the work repository (so no commit is dropped); a failure only costs disk and is
/// logged, and the next run tries again.
pub(super) fn tidy(package: &PackageName, repo: &GitDir) {
    let packs = match repo.pack_count() {
        Ok(n) if n >= REPACK_AT => n,
        Ok(_) => return,
        Err(e) => {
            log::warn!("package={package} cannot count the work repository's packs: {e}");
            return;
        }
    };
    let started = Instant::now();
    match repo.repack() {
        Ok(()) => log::info!(
            "package={package} repacked the work repository ({packs} packs into one) in {:.2}s",
            started.elapsed().as_secs_f64()
        ),
        Err(e) => log::warn!("package={package} repacking the work repository failed: {e}"),
    }
}
