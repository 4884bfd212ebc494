//! `import-one`: every publication of one package not yet imported becomes a commit, and
//! every branch of its distributions, series and pockets moves to it, pushed under the
//! three-phase audit commit. Debian and Ubuntu share one history per package.
//!
//! The steps of a run, in order:
//! 1. Finish what a crashed run left (see `pkgimport-audit`): drop staged rows, finish a
//!    push, or finish a cleanup (`publish`).
//! 2. Ask Launchpad for the package's whole history, one query per distribution with
//!    `exact_match` (`fetch`).
//! 3. Plan (`plan`): publications already in the committed audit are done; if none is
//!    left, stop here: no download, no git, no push. A version that already has a commit
//!    (published before in another series or distribution) is a ref update only.
//! 4. Any other version is downloaded into the content-addressed cache, checked
//!    (Launchpad's sizes and SHA-256, then the `.dsc`'s) (`fetch`). When there are several,
//!    their changelogs are read first, so that every version is built after the versions
//!    its changelog names. Each is unpacked in memory exactly as `dpkg-source -x
//!    --skip-patches` would, and written as one commit, straight into a pack of the
//!    package's private repository (`build`).
//!    With `import.applied`, each `3.0 (quilt)` version's patches follow its commit, one
//!    commit each (`applied`); a version whose patches do not apply is imported all the
//!    same, with a warning in its audit row.
//! 5. Every branch, `devel` alias and tag moves to its version: by fast-forward, or by a
//!    publish commit where the version does not descend from the branch (`plan`, `build`);
//!    their patches-applied twins (`importer/applied/...`, `applied/<version>`) likewise, to
//!    the end of the version's chain.
//! 6. Stage the audit rows, set the critical mark, push every changed ref in one atomic
//!    push whose leases come from the committed audit, commit the audit, clean up, unmark
//!    (`publish`).
//!
//! Commits are deterministic (see `build` and ARCHITECTURE.md): the same history gives
//! the same hashes on any machine. Branches and tags are named in `naming`; every failure
//! is an [`ImportError`], whose class decides the exit code.

mod applied;
mod build;
mod error;
mod fetch;
mod naming;
mod plan;
mod publish;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pkgimport_core::PackageName;
use pkgimport_git::{GitDir, GitOptions, Oid};
use pkgimport_lp_client::Client;
use pkgimport_queue::Store;
use pkgimport_queue::audit::{AuditView, StagedAudit, VersionFacts};
use pkgimport_unpack::Limits;

pub use error::{ErrorClass, ImportError};
pub(crate) use naming::work_repo;
pub use naming::{
    MAX_VERSION_LEN, applied_branch_name, applied_tag_name, branch_name, check_version,
    devel_branch_name, remote_url,
};

use plan::Plan;

/// Named points where a recovery drill stops the process (`PKGIMPORT_FAULT=<point>`).
pub const FAULT_POINTS: [&str; 7] = [
    "after-download",
    "after-commit",
    "after-stage",
    "after-mark",
    "after-push",
    "after-audit-commit",
    "after-cleanup",
];

/// The importer's identity and where things go, resolved from the configuration.
///
/// `distributions` is the order in which ties between versions are broken (see `plan`).
pub struct ImportSettings {
    pub state_dir: PathBuf,
    pub distributions: Vec<String>,
    /// The remote URL template; `{package}` and `{state_dir}` are replaced.
    pub remote_template: String,
    pub committer_name: String,
    pub committer_email: String,
    pub git: GitOptions,
    pub limits: Limits,
    pub run_id: Option<i64>,
    /// Whether to write patches-applied chains and move their refs (`import.applied`).
    pub applied: bool,
}

/// What one run did, for its summary line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub recovered: Option<String>,
    pub publications_seen: u64,
    pub versions_imported: u64,
    /// Refs of the imports (`importer/...`, `import/...`) pushed.
    pub refs_updated: u64,
    /// Commits written so that a branch moves forward to a version that does not descend
    /// from its previous commit.
    pub publish_commits: u64,
    /// Refs of the patches-applied chains (`importer/applied/...`, `applied/...`) pushed.
    pub applied_refs_updated: u64,
    /// Publish commits of the patches-applied branches.
    pub applied_publish_commits: u64,
    /// Commits of patches-applied chains, one per patch.
    pub patch_commits: u64,
    /// Versions imported whose patches do not apply.
    pub patch_warnings: u64,
    pub bytes_downloaded: u64,
    /// The new versions' push to the remote, the receiving git's work included: often
    /// most of a large import, so the summary line shows it apart.
    pub push_time: Duration,
}

type Result<T, E = ImportError> = std::result::Result<T, E>;

/// Everything one run works with.
pub struct Importer<'a> {
    pub client: &'a Client,
    pub store: &'a mut Store,
    pub settings: &'a ImportSettings,
    /// Called at each fault point; a drill aborts the process there.
    pub fault: &'a dyn Fn(&str),
}

impl Importer<'_> {
    /// Imports everything not yet imported. The caller holds the package lock.
    pub fn run(&mut self, package: &PackageName) -> Result<ImportSummary> {
        let mut summary = ImportSummary::default();
        let started = Instant::now();
        self.remove_stale_git_locks(package)?;
        summary.recovered = self.recover(package)?;

        let history = self.history(package)?;
        summary.publications_seen = history.len() as u64;
        let audit = self.store.audit(package)?;
        let mut plan = Plan::new(&history, &audit, &self.settings.distributions);
        if plan.is_empty() {
            log::info!(
                "package={package} nothing to import ({} publications known)",
                history.len()
            );
            return Ok(summary);
        }
        log::info!(
            "package={package} {} publications to import",
            plan.publications.len()
        );

        let repo = GitDir::open_or_init(self.work_repo(package), self.settings.git.clone())?;
        let known = audited_commits(&audit);
        if !plan.is_ref_only() {
            // New commits name earlier ones as parents. (A ref-only run finds out more
            // cheaply, when its ref update fails: see `update_local_refs`.)
            self.ensure_history(package, &repo, &known)?;
        }
        // Everything is fetched first, so that a download failure happens before any git
        // work.
        let mut sources = BTreeMap::new();
        for p in &plan.builds {
            let (dir, bytes) = self.fetch(package, p)?;
            summary.bytes_downloaded += bytes;
            sources.insert(p.source_package_version.clone(), dir);
        }
        (self.fault)("after-download");
        if plan.builds.len() > 1 {
            let changelogs = self.changelogs(package, &plan.builds, &sources)?;
            plan.order_builds(&changelogs);
        }
        let mut built = self.build(package, &repo, &plan.builds, &sources, &audit.versions)?;
        summary.versions_imported = built.commits.len() as u64;
        summary.patch_commits = built.patch_commits;
        summary.patch_warnings = built.patch_failures.len() as u64;
        (self.fault)("after-commit");

        let commits = self.commits(package, &repo, &audit, &built.commits, plan.is_ref_only())?;
        let series = self.series_status()?;
        let moves = plan.moves(
            package.as_str(),
            &audit,
            &commits,
            &series,
            self.settings.applied,
        );
        let (refs, ref_versions, publish_commits) =
            self.write_moves(package, &repo, &moves, plan.is_ref_only(), &known)?;
        summary.publish_commits = publish_commits.import;
        summary.applied_publish_commits = publish_commits.applied;
        let staged = StagedAudit {
            refs,
            versions: built
                .commits
                .iter()
                .map(|(v, c)| (v.clone(), c.commit.clone()))
                .collect(),
            publications: plan.rows(),
            ref_versions,
            version_facts: std::mem::take(&mut built.commits)
                .into_iter()
                .map(|(v, c)| {
                    let facts = VersionFacts {
                        parent: c.parent,
                        tree: Some(c.tree),
                        applied: c.applied,
                        patch_failure: built.patch_failures.remove(&v),
                    };
                    (v, facts)
                })
                .collect(),
        };
        self.update_local_refs(package, &repo, &staged.refs, plan.is_ref_only(), &known)?;
        let applied_refs = staged
            .refs
            .iter()
            .filter(|r| naming::is_applied_ref(&r.name))
            .count() as u64;
        summary.applied_refs_updated = applied_refs;
        summary.refs_updated = staged.refs.len() as u64 - applied_refs;
        summary.push_time = self.publish(package, &repo, &staged)?;
        publish::tidy(package, &repo);
        log::info!(
            "package={package} imported versions={} refs={} publish_commits={} applied_refs={} \
             applied_publish_commits={} patch_commits={} patch_warnings={} bytes={} \
             seconds={:.2} push_seconds={:.3}",
            summary.versions_imported,
            summary.refs_updated,
            summary.publish_commits,
            summary.applied_refs_updated,
            summary.applied_publish_commits,
            summary.patch_commits,
            summary.patch_warnings,
            summary.bytes_downloaded,
            started.elapsed().as_secs_f64(),
            summary.push_time.as_secs_f64()
        );
        Ok(summary)
    }
}

/// Every commit the committed audit records as a version's: its own, and the end of its
/// patches-applied chain. The work repository must hold them before anything names them.
fn audited_commits(audit: &AuditView) -> Vec<String> {
    let applied = audit
        .version_facts
        .values()
        .filter_map(|f| f.applied.as_ref().map(|tip| tip.commit.clone()));
    let mut commits: Vec<String> = audit.versions.values().cloned().chain(applied).collect();
    commits.sort();
    commits.dedup();
    commits
}

/// An object id that the audit (or a run, for the audit) holds as hex.
fn oid(hex: &str) -> Result<Oid> {
    Oid::from_hex(hex).map_err(ImportError::AuditObjectId)
}
