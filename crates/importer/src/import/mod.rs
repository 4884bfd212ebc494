//! `import-one`: every publication of one package not yet imported becomes a commit on the
//! branch of its series and pocket, pushed under the three-phase audit commit.
//!
//! The steps of a run, in order:
//! 1. Finish what a crashed run left (see `pkgimport-audit`): drop staged rows, finish a
//!    push, or finish a cleanup.
//! 2. Ask Launchpad for the package's whole history, one partition (series) at a time,
//!    with `exact_match`. Publications already in the committed audit are done; if none is
//!    left, stop here: no download, no git, no push.
//! 3. In date order: a version that already has a commit (published before in another
//!    series) is a ref update only. Any other version is downloaded into the
//!    content-addressed cache, checked (Launchpad's sizes and SHA-256, then the `.dsc`'s),
//!    unpacked in memory exactly as `dpkg-source -x --skip-patches` would, and written as
//!    one commit, written straight into a pack of the package's private repository.
//! 4. Stage the audit rows, set the critical mark, push every changed ref in one atomic
//!    push whose leases come from the committed audit, commit the audit, clean up, unmark.
//!
//! Commits are deterministic: the tree is the unpacked source; author, dates and message
//! come from the version's own changelog entry; the committer is the configured identity
//! with the changelog date; the first parent is the commit of the newest earlier version in
//! the version's own changelog that has been imported (see ARCHITECTURE.md). So the same
//! history gives the same hashes on any machine.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use pkgimport_audit::Recovery;
use pkgimport_core::PackageName;
use pkgimport_git::{
    CommitSpec, Entry, GitDir, GitOptions, Mode, Oid, PackWriter, RefUpdate, Signature, TzOffset,
};
use pkgimport_lp_client::{
    Client, Publication, PublicationOrder, PublicationStatus, PublishedSourcesQuery,
};
use pkgimport_queue::Store;
use pkgimport_queue::audit::{PublicationRow, StagedAudit, StagedRef};
use pkgimport_unpack::{Limits, Node, SourceTree};

use crate::changelog;

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
}

/// What one run did, for its summary line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub recovered: Option<String>,
    pub publications_seen: u64,
    pub versions_imported: u64,
    pub refs_updated: u64,
    pub bytes_downloaded: u64,
    /// The new versions' push to the remote, the receiving git's work included: often
    /// most of a large import, so the summary line shows it apart.
    pub push_time: std::time::Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Launchpad, the archive or the git remote stayed unreachable: exit 69.
    #[error("{0}")]
    Unavailable(String),
    /// Permanent bad input (checksum mismatch, malformed .dsc, unsafe tarball): exit 65.
    #[error("{0}")]
    BadInput(String),
    /// Someone else changed the remote: exit 65, never overwritten.
    #[error("remote diverged: {0}")]
    RemoteDiverged(String),
    /// Anything else; may go away by itself: exit 75.
    #[error("{0}")]
    Transient(String),
    #[error(transparent)]
    Store(#[from] pkgimport_queue::Error),
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

/// A publication found in one distribution's history.
struct Found {
    distro: String,
    publication: Publication,
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
        let done: BTreeSet<Key> = audit.publications.iter().map(key_of_row).collect();
        let mut todo: Vec<&Found> = history
            .iter()
            .filter(|p| !done.contains(&key_of(p)))
            .collect();
        if todo.is_empty() {
            log::info!(
                "package={package} nothing to import ({} publications known)",
                history.len()
            );
            return Ok(summary);
        }
        todo.sort_by(|a, b| {
            a.date_created
                .utc()
                .cmp(&b.date_created.utc())
                .then_with(|| key_of(a).cmp(&key_of(b)))
        });
        log::info!("package={package} {} publications to import", todo.len());

        let repo = GitDir::open_or_init(self.work_repo(package), self.settings.git.clone())
            .map_err(git_error)?;
        let mut versions = audit.versions.clone();
        let mut new_versions: BTreeMap<String, String> = BTreeMap::new();
        // Pass 1: fetch what is missing, so a download failure happens before any git work.
        let mut to_build: Vec<&Found> = Vec::new();
        let mut planned: BTreeSet<&str> = BTreeSet::new();
        for p in &todo {
            let v = p.source_package_version.as_str();
            if !versions.contains_key(v) && planned.insert(v) {
                to_build.push(p);
            }
        }
        if !to_build.is_empty() {
            // New commits name earlier ones as parents. (A ref-only run finds out more
            // cheaply, when its ref update fails; see below.)
            self.ensure_history(package, &repo, &audit.versions)?;
        }
        let mut sources = Vec::new();
        for p in &to_build {
            let (dir, bytes) = self.fetch(package, p)?;
            summary.bytes_downloaded += bytes;
            sources.push(dir);
        }
        (self.fault)("after-download");

        // Pass 2: unpack and commit, oldest first, so that parents exist. A second thread
        // unpacks the next version while this one hashes and compresses the current one
        // into the pack (on every core), so decompression overlaps the writing. The
        // rendezvous channel keeps at most two unpacked trees in memory.
        let mut pack = match to_build.is_empty() {
            // Ref-only: every version is in the repository already.
            true => None,
            false => Some(PackWriter::start(&repo).map_err(git_error)?),
        };
        let limits = &self.settings.limits;
        std::thread::scope(|scope| -> Result<()> {
            let Some(pack) = pack.as_mut() else {
                return Ok(());
            };
            let (tx, rx) = std::sync::mpsc::sync_channel(0);
            let jobs: Vec<(&str, &Path)> = to_build
                .iter()
                .zip(&sources)
                .map(|(p, dir)| (p.source_package_version.as_str(), dir.as_path()))
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
            for (i, p) in to_build.iter().enumerate() {
                let version = &p.source_package_version;
                let unpacked = rx.recv().map_err(|_| {
                    ImportError::Transient("the unpacking thread stopped early".to_owned())
                })??;
                let oid = self.commit_version(package, pack, unpacked, version, &versions)?;
                // One line per version: the progress of a long import, on a terminal or in a
                // log.
                log::info!(
                    "package={package} version={version} commit={} ({}/{})",
                    oid.to_hex(),
                    i + 1,
                    to_build.len()
                );
                versions.insert(version.clone(), oid.to_hex());
                new_versions.insert(version.clone(), oid.to_hex());
                summary.versions_imported += 1;
            }
            Ok(())
        })?;
        if let Some(pack) = pack {
            pack.finish().map_err(git_error)?;
        }
        (self.fault)("after-commit");

        // The refs: each branch points at the newest version published there, and each new
        // version gets its tag.
        let mut targets: BTreeMap<String, String> = BTreeMap::new();
        for p in &todo {
            let k = key_of(p);
            targets.insert(
                branch_name(&k.distro, &k.series, &k.pocket),
                versions[&k.version].clone(),
            );
        }
        for (version, oid) in &new_versions {
            targets.insert(
                format!(
                    "refs/tags/import/{}",
                    pkgimport_unpack::mangle_version(version)
                ),
                oid.clone(),
            );
        }
        let refs: Vec<StagedRef> = targets
            .into_iter()
            .filter(|(name, new)| audit.refs.get(name) != Some(new))
            .map(|(name, new)| StagedRef {
                old: audit.refs.get(&name).cloned(),
                name,
                new,
            })
            .collect();
        let local: Vec<(String, Oid)> = refs
            .iter()
            .map(|r| Ok((r.name.clone(), oid(&r.new)?)))
            .collect::<Result<_>>()?;
        let local_refs: Vec<(&str, Oid)> = local.iter().map(|(n, o)| (n.as_str(), *o)).collect();
        if let Err(e) = repo.update_refs(&local_refs) {
            // A ref-only run in a work repository that lacks the commit: fetch, then again.
            if to_build.is_empty() && self.ensure_history(package, &repo, &audit.versions)? {
                repo.update_refs(&local_refs).map_err(git_error)?;
            } else {
                return Err(git_error(e));
            }
        }

        let staged = StagedAudit {
            refs,
            versions: new_versions,
            publications: todo.iter().map(|p| row_of(p)).collect(),
        };
        summary.refs_updated = staged.refs.len() as u64;
        self.store.audit_stage(package, &staged)?;
        (self.fault)("after-stage");
        self.store.audit_mark(package, self.settings.run_id)?;
        (self.fault)("after-mark");
        summary.push_time = self.push_and_commit(package, Some(&repo), &staged.refs)?;
        tidy(package, &repo);
        log::info!(
            "package={package} imported versions={} refs={} bytes={} seconds={:.2} push_seconds={:.3}",
            summary.versions_imported,
            summary.refs_updated,
            summary.bytes_downloaded,
            started.elapsed().as_secs_f64(),
            summary.push_time.as_secs_f64()
        );
        Ok(summary)
    }

    /// Makes sure the work repository holds every commit the audit records, fetching the
    /// remote when it does not: new commits name them as parents and ref updates point at
    /// them. The work repository is a cache: it may have been deleted, or (with a shared
    /// database) the earlier versions were imported on another host. Returns whether it
    /// fetched.
    fn ensure_history(
        &self,
        package: &PackageName,
        repo: &GitDir,
        versions: &BTreeMap<String, String>,
    ) -> Result<bool> {
        let commits: Vec<Oid> = versions.values().map(|h| oid(h)).collect::<Result<_>>()?;
        let Some(missing) = self.fetch_if_missing(package, repo, &commits)? else {
            return Ok(false);
        };
        if let Some(first) = missing.first() {
            return Err(ImportError::RemoteDiverged(format!(
                "the remote lacks {} commit(s) that the audit records, e.g. {first}; \
                 see importctl verify {package}",
                missing.len()
            )));
        }
        Ok(true)
    }

    /// Deletes the git lock files a killed run left in the package's repositories, which
    /// would otherwise fail every later run (see `pkgimport_git::remove_stale_locks`). Safe
    /// here: the caller holds the package lock, and no git of an earlier run outlives it
    /// (the driver kills an import's whole process group when the import ends).
    fn remove_stale_git_locks(&self, package: &PackageName) -> Result<()> {
        let mut removed =
            pkgimport_git::remove_stale_locks(&self.work_repo(package)).map_err(git_error)?;
        removed.extend(
            pkgimport_git::remove_stale_local_remote_locks(&self.remote_url(package))
                .map_err(git_error)?,
        );
        for path in removed {
            log::warn!(
                "package={package} removed a stale git lock {}",
                path.display()
            );
        }
        Ok(())
    }

    /// Finishes what a crashed run left behind. Returns what it did, if anything.
    fn recover(&mut self, package: &PackageName) -> Result<Option<String>> {
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
        let repo = GitDir::open_or_init(self.work_repo(package), self.settings.git.clone())
            .map_err(git_error)?;
        Ok(self
            .fetch_if_missing(package, &repo, &commits)?
            .is_some_and(|still| !still.is_empty()))
    }

    /// When the work repository lacks any of `commits`, fetches the remote and returns the
    /// ones still missing; `None` when nothing was missing (and nothing fetched).
    fn fetch_if_missing(
        &self,
        package: &PackageName,
        repo: &GitDir,
        commits: &[Oid],
    ) -> Result<Option<Vec<Oid>>> {
        if repo.missing_commits(commits).map_err(git_error)?.is_empty() {
            return Ok(None);
        }
        let url = self.remote_url(package);
        log::info!(
            "package={package} the work repository lacks imported commits; fetching {}",
            pkgimport_git::redact_userinfo(&url)
        );
        pkgimport_git::ensure_local_bare_remote(&url).map_err(git_error)?;
        repo.fetch_all(&url).map_err(git_error)?;
        Ok(Some(repo.missing_commits(commits).map_err(git_error)?))
    }

    /// The critical section and what follows: push, commit the audit, clean up, unmark.
    /// `repo` is the work repository when the caller has it open already.
    fn push_and_commit(
        &mut self,
        package: &PackageName,
        repo: Option<&GitDir>,
        refs: &[StagedRef],
    ) -> Result<std::time::Duration> {
        let url = self.remote_url(package);
        let started = std::time::Instant::now();
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
            pkgimport_git::ensure_local_bare_remote(&url).map_err(git_error)?;
            let opened;
            let repo = match repo {
                Some(repo) => repo,
                None => {
                    opened =
                        GitDir::open_or_init(self.work_repo(package), self.settings.git.clone())
                            .map_err(git_error)?;
                    &opened
                }
            };
            match repo.push_atomic(&url, &updates) {
                Ok(report) => log::debug!("package={package} pushed {} refs", report.refs.len()),
                Err(pkgimport_git::Error::LeaseRefused { refs }) => {
                    // Nothing was published: leave no mark behind, and never overwrite.
                    self.store.audit_abort_push(package)?;
                    self.store.audit_drop_staged(package)?;
                    return Err(ImportError::RemoteDiverged(refs.join(" ")));
                }
                Err(e) => return Err(git_error(e)),
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
            std::fs::remove_dir_all(&scratch).map_err(|e| {
                ImportError::Transient(format!("removing {}: {e}", scratch.display()))
            })?;
        }
        (self.fault)("after-cleanup");
        self.store.audit_unmark(package)?;
        Ok(())
    }

    /// The package's publications in every configured distribution, one query per series.
    fn history(&self, package: &PackageName) -> Result<Vec<Found>> {
        let mut all = Vec::new();
        for distro in &self.settings.distributions {
            let series = self.client.distro_series(distro).map_err(lp_error)?;
            for s in series {
                let query = PublishedSourcesQuery {
                    source_name: Some(package.to_string()),
                    exact_match: true,
                    distro_series: Some(s.self_link.clone()),
                    order: PublicationOrder::OldestFirst,
                    ..PublishedSourcesQuery::default()
                };
                for p in self.client.published_sources(distro, &query) {
                    let p = p.map_err(lp_error)?;
                    if p.source_package_name != package.as_str() {
                        return Err(ImportError::BadInput(format!(
                            "launchpad returned a publication of {:?} when asked for {package}",
                            p.source_package_name
                        )));
                    }
                    if let Err(why) = check_version(&p.source_package_version) {
                        return Err(ImportError::BadInput(format!(
                            "launchpad returned {package} with an unusable version {:?}: {why}",
                            p.source_package_version
                        )));
                    }
                    if p.status == PublicationStatus::Deleted {
                        continue;
                    }
                    all.push(Found {
                        distro: distro.clone(),
                        publication: p,
                    });
                }
            }
        }
        Ok(all)
    }

    /// Downloads a publication's files into the cache and links them, under their own
    /// names, into a scratch directory. Returns the directory and the bytes downloaded.
    fn fetch(&self, package: &PackageName, p: &Publication) -> Result<(PathBuf, u64)> {
        let files = self.client.source_files(&p.self_link).map_err(lp_error)?;
        let dir = self
            .scratch_dir(package)
            .join(pkgimport_unpack::mangle_version(&p.source_package_version));
        std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        let mut bytes = 0;
        for f in files {
            let Some(f) = f else {
                return Err(ImportError::BadInput(format!(
                    "launchpad no longer has a file of {package} {}",
                    p.source_package_version
                )));
            };
            let name = file_name_of(&f.url)?;
            let sha = f.sha256.to_ascii_lowercase();
            if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ImportError::BadInput(format!(
                    "launchpad gave a bad sha256 for {name}"
                )));
            }
            let cached = self
                .settings
                .state_dir
                .join("cache")
                .join(&sha[..2])
                .join(&sha);
            if !cached.exists() {
                std::fs::create_dir_all(cached.parent().expect("has a parent"))
                    .map_err(|e| io_error(&cached, e))?;
                bytes += self.download(&f, &cached)?;
            }
            let target = dir.join(&name);
            let _ = std::fs::remove_file(&target);
            if std::fs::hard_link(&cached, &target).is_err() {
                std::fs::copy(&cached, &target).map_err(|e| io_error(&target, e))?;
            }
        }
        Ok((dir, bytes))
    }

    /// Downloads one file, checked against Launchpad's size and SHA-256. A mismatch is
    /// tried once more from scratch; a second one is bad input, not bad luck.
    fn download(&self, f: &pkgimport_lp_client::SourceFile, dest: &Path) -> Result<u64> {
        let mut last = String::new();
        for attempt in 1..=2 {
            match self.client.download_verified(f, dest) {
                Ok(d) => return Ok(d.bytes),
                Err(e) if e.to_string().contains("does not match") => {
                    log::warn!("checksum mismatch for {} (attempt {attempt}): {e}", f.url);
                    last = e.to_string();
                }
                Err(e) => return Err(lp_error(e)),
            }
        }
        Err(ImportError::BadInput(format!(
            "checksum mismatch after a clean re-download: {last}"
        )))
    }

    /// Writes the commit of one unpacked version. `versions` maps the versions imported so
    /// far to their commits, for the parent.
    fn commit_version(
        &self,
        package: &PackageName,
        pack: &mut PackWriter,
        tree: SourceTree,
        version: &str,
        versions: &BTreeMap<String, String>,
    ) -> Result<Oid> {
        let changelog_text = match tree.get("debian/changelog") {
            Some(Node::File { data, .. }) => String::from_utf8_lossy(data).into_owned(),
            _ => {
                return Err(ImportError::BadInput(format!(
                    "{package} {version}: no debian/changelog"
                )));
            }
        };
        let log = changelog::parse(&changelog_text)
            .map_err(|e| ImportError::BadInput(format!("{package} {version}: {e}")))?;
        let parent = log.versions.iter().skip(1).find_map(|v| versions.get(v));
        let parents: Vec<Oid> = parent.map(|p| oid(p)).transpose()?.into_iter().collect();
        let time = log.top.date.timestamp().max(0) as u64;
        let offset = TzOffset::from_minutes((log.top.date.offset().local_minus_utc() / 60) as i16)
            .map_err(|e| ImportError::BadInput(e.to_string()))?;
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
        pack.commit(&spec, entries(&tree)).map_err(git_error)
    }

    fn work_repo(&self, package: &PackageName) -> PathBuf {
        self.settings
            .state_dir
            .join("work")
            .join(format!("{package}.git"))
    }

    fn scratch_dir(&self, package: &PackageName) -> PathBuf {
        self.settings
            .state_dir
            .join("work")
            .join(format!("{package}.scratch"))
    }

    fn remote_url(&self, package: &PackageName) -> String {
        remote_url(
            &self.settings.remote_template,
            &self.settings.state_dir,
            package,
        )
    }
}

/// The longest version accepted: it becomes part of file names (`<package>_<version>.dsc`)
/// and a directory name, which the file system limits to 255 bytes.
pub const MAX_VERSION_LEN: usize = 128;

/// Checks a version from Launchpad before it names a scratch directory, a file or a tag:
/// Debian policy's syntax (`debversion`, plus dpkg's "starts with a digit" and "a colon
/// needs an epoch"), a bounded length, and a valid git tag once DEP-14 mangled. So no
/// version can contain `/`, a control character or whitespace, nor reach outside the
/// scratch directory, whatever Launchpad (or something pretending to be it) sends.
pub fn check_version(version: &str) -> Result<(), String> {
    if version.len() > MAX_VERSION_LEN {
        return Err(format!("longer than {MAX_VERSION_LEN} bytes"));
    }
    let parsed: pkgimport_unpack::Version =
        version
            .parse()
            .map_err(|_: pkgimport_unpack::debversion::ParseError| {
                "not a Debian version (characters or syntax)".to_owned()
            })?;
    if !parsed
        .upstream_version
        .starts_with(|c: char| c.is_ascii_digit())
    {
        return Err("the upstream version does not start with a digit".into());
    }
    if parsed.epoch.is_none() && parsed.upstream_version.contains(':') {
        return Err("a colon but no numeric epoch".into());
    }
    pkgimport_git::tag_ref(&format!(
        "import/{}",
        pkgimport_unpack::mangle_version(version)
    ))
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// The remote of a package: the template with `{package}` and `{state_dir}` filled in.
pub fn remote_url(template: &str, state_dir: &Path, package: &PackageName) -> String {
    template
        .replace("{state_dir}", &state_dir.display().to_string())
        .replace("{package}", package.as_str())
}

/// `importer/<distro>/<series>` for the Release pocket, `importer/<distro>/<series>-<pocket>`
/// for the others, as git-ubuntu names them.
pub fn branch_name(distro: &str, series: &str, pocket: &str) -> String {
    if pocket.eq_ignore_ascii_case("release") {
        format!("refs/heads/importer/{distro}/{series}")
    } else {
        format!(
            "refs/heads/importer/{distro}/{series}-{}",
            pocket.to_ascii_lowercase()
        )
    }
}

fn entries(tree: &SourceTree) -> impl Iterator<Item = Entry<'_>> {
    tree.iter().map(|(path, node)| match node {
        Node::File { executable, data } => Entry {
            path,
            mode: if *executable {
                Mode::Executable
            } else {
                Mode::File
            },
            data,
        },
        Node::Symlink { target } => Entry {
            path,
            mode: Mode::Symlink,
            data: target.as_bytes(),
        },
    })
}

/// Every run that imports versions adds one pack to the work repository. Past this many,
/// the run repacks it into one, so that what each run reads (every pack's index) stays
/// small, and the versions' shared content is stored once, as deltas.
const REPACK_AT: usize = 16;

/// Repacks the work repository once it has [`REPACK_AT`] packs. Runs after the push and
/// the audit's commit, under the package lock, when every imported version has its tag in
/// the work repository (so no commit is dropped); a failure only costs disk and is
/// logged, and the next run tries again.
fn tidy(package: &PackageName, repo: &GitDir) {
    let packs = match repo.pack_count() {
        Ok(n) if n >= REPACK_AT => n,
        Ok(_) => return,
        Err(e) => {
            log::warn!("package={package} cannot count the work repository's packs: {e}");
            return;
        }
    };
    let started = std::time::Instant::now();
    match repo.repack() {
        Ok(()) => log::info!(
            "package={package} repacked the work repository ({packs} packs into one) in {:.2}s",
            started.elapsed().as_secs_f64()
        ),
        Err(e) => log::warn!("package={package} repacking the work repository failed: {e}"),
    }
}

/// Unpacks the source package of `version` fetched into `dir`, checking that it is
/// `package`'s. Runs on the unpacking thread, so it touches nothing but its arguments.
fn unpack_version(
    package: &PackageName,
    dir: &Path,
    version: &str,
    limits: &Limits,
) -> Result<SourceTree> {
    let dsc = find_dsc(dir, package, version)?;
    let (parsed, tree) = pkgimport_unpack::unpack_dsc_file(&dsc, limits).map_err(|e| {
        if e.is_transient() {
            ImportError::Transient(e.to_string())
        } else {
            ImportError::BadInput(e.to_string())
        }
    })?;
    if parsed.source != package.as_str() {
        return Err(ImportError::BadInput(format!(
            "{} is for source {:?}, not {package}",
            dsc.display(),
            parsed.source
        )));
    }
    Ok(tree)
}

/// git refuses `<`, `>` and newlines in identities; a changelog may have them.
fn clean_identity(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '<' | '>' | '\n' | '\0'))
        .collect::<String>()
        .trim()
        .to_owned()
}

fn find_dsc(dir: &Path, package: &PackageName, version: &str) -> Result<PathBuf> {
    let upstream_and_revision = version.split_once(':').map_or(version, |(_, v)| v);
    let expected = dir.join(format!("{package}_{upstream_and_revision}.dsc"));
    if expected.exists() {
        return Ok(expected);
    }
    Err(ImportError::BadInput(format!(
        "{package} {version}: launchpad listed no {}",
        expected.display()
    )))
}

/// The file name at the end of a librarian URL, which must be a plain file name.
fn file_name_of(url: &str) -> Result<String> {
    let last = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .rsplit('/')
        .next()
        .unwrap_or("");
    let name = pkgimport_lp_client::encode::percent_decode(last);
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains(['/', '\0', '\\'])
        || name.starts_with('.')
    {
        return Err(ImportError::BadInput(format!(
            "unsafe file name in {url:?}"
        )));
    }
    Ok(name)
}

fn key_of(p: &Found) -> Key {
    Key {
        distro: p.distro.clone(),
        series: p.series_name().to_owned(),
        pocket: p.pocket.as_str().to_owned(),
        version: p.source_package_version.clone(),
    }
}

fn key_of_row(r: &PublicationRow) -> Key {
    Key {
        distro: r.distro.clone(),
        series: r.series.clone(),
        pocket: r.pocket.clone(),
        version: r.version.clone(),
    }
}

fn row_of(p: &Found) -> PublicationRow {
    let k = key_of(p);
    PublicationRow {
        distro: k.distro,
        series: k.series,
        pocket: k.pocket,
        version: k.version,
        date_created: p.date_created.as_str().to_owned(),
    }
}

fn oid(hex: &str) -> Result<Oid> {
    Oid::from_hex(hex)
        .map_err(|e| ImportError::Transient(format!("bad object id in the audit: {e}")))
}

fn lp_error(e: pkgimport_lp_client::Error) -> ImportError {
    match e {
        e if e.is_transient() => ImportError::Unavailable(format!("launchpad: {e}")),
        pkgimport_lp_client::Error::Config { .. } => ImportError::Transient(e.to_string()),
        e => ImportError::BadInput(format!("launchpad: {e}")),
    }
}

fn git_error(e: pkgimport_git::Error) -> ImportError {
    match e {
        pkgimport_git::Error::Unreachable { .. } => ImportError::Unavailable(e.to_string()),
        pkgimport_git::Error::LeaseRefused { refs } => ImportError::RemoteDiverged(refs.join(" ")),
        pkgimport_git::Error::InvalidInput { .. } | pkgimport_git::Error::TagConflict { .. } => {
            ImportError::BadInput(e.to_string())
        }
        e => ImportError::Transient(e.to_string()),
    }
}

fn io_error(path: &Path, e: std::io::Error) -> ImportError {
    ImportError::Transient(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_versions_are_refused() {
        for ok in [
            "1.0-1",
            "1:2.78-1",
            "0.0~git20201210.2321bbc-1",
            "1..2",
            "1.0+dfsg-1",
        ] {
            assert_eq!(check_version(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "1/../../x",
            "/tmp/x",
            "1/x",
            "..",
            "../1",
            "1\nx",
            "1 2",
            "1.0-1\n",
            "a1.0",
            "1:",
            "x:1.0",
            "1.0-1/",
            "1.0@{1}",
            "1.0\0",
            &"1".repeat(MAX_VERSION_LEN + 1),
        ] {
            assert!(check_version(bad).is_err(), "{bad:?} accepted");
        }
    }
}
