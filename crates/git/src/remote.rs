//! The remote: listing its refs, creating a local one, and the atomic compare-and-swap push.
//!
//! A push sends every changed ref of a package in one `git push --atomic --porcelain`, each
//! with `--force-with-lease=<ref>:<expected>` (an empty `<expected>` means "must not exist")
//! and a *plain* refspec `<new>:<ref>`. What git does, checked against git 2.47 and visible
//! in `set_ref_status_for_push` (remote.c):
//!
//! - A lease that holds also lifts the fast-forward rule, so a branch may move to a commit
//!   that does not descend from its old value, and an existing tag may move, without `+`.
//! - A `+` refspec (or `--force`) **overrides a failed lease**: git pushes anyway and reports
//!   a forced update. So no `+` here: the lease is the only guard, as the audit requires.
//! - A ref whose remote value already equals the new value is reported up to date (`=`)
//!   *before* the lease is looked at. Re-running a push that already succeeded (a crash
//!   between the push and the audit commit), with the same old expected values, therefore
//!   succeeds as a no-op. Tested in `tests/push.rs`.
//! - With `--atomic`, one failed lease rejects every ref: the culprit says `(stale info)`,
//!   the others `(atomic push failed)`, and nothing on the remote changes.
//!
//! Classifying failures: ref lines in the porcelain output mean the remote answered, so
//! rejections are refusals (`LeaseRefused`, or `Failed` for hooks and the like). Without
//! ref lines, a failure whose stderr says the connection or the repository could not be
//! reached is `Unreachable`; anything else (a missing local object, say) is `Failed`, so
//! that a bug is not retried forever as an outage.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pkgimport_core::redact::redact_userinfo;

use crate::run::{GitOptions, Invocation, Output, RunError, run};
use crate::{Error, GitDir, Oid, check_ref_name};

/// One ref to push: point `name` at `new`, provided the remote still has `expected_old`
/// (`None`: provided the ref does not exist on the remote).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    /// Full ref name, `refs/heads/…` or `refs/tags/…`.
    pub name: String,
    /// The value to push; must exist in the local repository.
    pub new: Oid,
    /// The value the remote must have now, from the committed audit.
    pub expected_old: Option<Oid>,
}

/// How one ref of a successful push ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefPushStatus {
    /// The ref did not exist and was created.
    Created,
    /// The ref moved forward.
    FastForward,
    /// The ref moved to a commit that does not descend from its old value (lease held).
    Forced,
    /// The remote already had the new value; nothing was sent for it.
    UpToDate,
}

/// The result of a successful [`GitDir::push_atomic`]: every requested ref and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushReport {
    /// One entry per requested ref.
    pub refs: BTreeMap<String, RefPushStatus>,
}

impl PushReport {
    /// True when the remote already had every value: the push changed nothing.
    pub fn is_noop(&self) -> bool {
        self.refs.values().all(|s| *s == RefPushStatus::UpToDate)
    }
}

/// The refs of a remote, by full name, unpeeled. Empty for an existing empty repository.
pub type RemoteRefs = BTreeMap<String, Oid>;

/// List the refs of the remote at `url` (`git ls-remote --refs`: no `HEAD`, no peeled
/// `^{}` lines).
///
/// `Ok(None)` means the remote is known not to exist: a `file://` URL whose path is
/// missing (or an empty directory), which the first push creates with [`ensure_local_bare_remote`]. `Ok(Some(empty))`
/// is an existing repository without refs. For ssh and https URLs "does not exist" cannot
/// be told apart from "no access" (servers answer both the same way), so both are
/// [`Error::Unreachable`].
pub fn ls_remote(options: &GitOptions, url: &str) -> Result<Option<RemoteRefs>, Error> {
    check_url(url)?;
    if let Some(path) = local_path(url)
        && local_remote_missing(&path)
    {
        return Ok(None);
    }
    let inv = Invocation::new(None, &["ls-remote", "--refs"])
        .arg(url)
        .network();
    let out = network_run(options, url, inv)?;
    if !out.status.success() {
        return Err(classify_failure(url, "ls-remote", &out));
    }
    let mut refs = RemoteRefs::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((oid, name)) = line.split_once('\t') else {
            return Err(Error::Failed {
                command: "ls-remote".to_owned(),
                status: "unexpected output".to_owned(),
                stderr_tail: line.to_owned(),
            });
        };
        refs.insert(name.to_owned(), Oid::from_hex(oid)?);
    }
    Ok(Some(refs))
}

/// Create the bare repository behind a `file://` URL if its path does not exist yet, and
/// say whether it did. Other URLs are left alone (`Ok(false)`): remote hosts are set up by
/// their operators. The path is taken literally (no %-decoding). An empty directory counts
/// as missing, so that an operator's `mkdir` does not turn into a permanent "unreachable".
pub fn ensure_local_bare_remote(url: &str) -> Result<bool, Error> {
    check_url(url)?;
    let Some(path) = local_path(url) else {
        return Ok(false);
    };
    if !local_remote_missing(&path) {
        return Ok(false);
    }
    crate::repo::init_bare(&path)?;
    Ok(true)
}

impl GitDir {
    /// Fetch every branch and tag of the remote into this repository under the same names
    /// (forced: the remote is the truth and this repository only mirrors it). Used when this
    /// repository lacks commits that the audit says the remote has: a work repository that
    /// was deleted, or one on a host that did not import the package's earlier versions.
    pub fn fetch_all(&self, url: &str) -> Result<(), Error> {
        check_url(url)?;
        let inv = Invocation::new(
            Some(self.path()),
            &["fetch", "--quiet", "--no-write-fetch-head", "--no-tags"],
        )
        .network()
        .arg(url)
        .arg("+refs/heads/*:refs/heads/*")
        .arg("+refs/tags/*:refs/tags/*");
        let out = network_run(self.options(), url, inv)?;
        if !out.status.success() {
            return Err(classify_failure(url, "fetch", &out));
        }
        Ok(())
    }

    /// Push every update in one atomic compare-and-swap (see the module documentation).
    ///
    /// Succeeds only if every ref now has its new value on the remote; refs that already
    /// had it are [`RefPushStatus::UpToDate`], whatever their lease said. Fails with
    /// [`Error::LeaseRefused`] naming the refs whose remote value was not the expected one,
    /// in which case the remote was not changed at all.
    pub fn push_atomic(&self, url: &str, updates: &[RefUpdate]) -> Result<PushReport, Error> {
        check_url(url)?;
        if updates.is_empty() {
            return Ok(PushReport::default());
        }
        let mut seen = std::collections::BTreeSet::new();
        for update in updates {
            check_ref_name(&update.name)?;
            if !seen.insert(update.name.as_str()) {
                return Err(Error::invalid("push (ref listed twice)", &update.name));
            }
        }
        let mut inv = Invocation::new(
            Some(self.path()),
            &["push", "--atomic", "--porcelain", "--no-verify"],
        )
        .network();
        for update in updates {
            let expected = update.expected_old.map(|o| o.to_hex()).unwrap_or_default();
            inv = inv.arg(format!("--force-with-lease={}:{expected}", update.name));
        }
        inv = inv.arg(url);
        for update in updates {
            inv = inv.arg(format!("{}:{}", update.new, update.name));
        }
        let out = network_run(self.options(), url, inv)?;
        let lines = parse_porcelain(&out.stdout);

        let stale: Vec<String> = lines
            .iter()
            .filter(|l| l.flag == '!' && l.summary.contains("(stale info)"))
            .map(|l| l.name.clone())
            .collect();
        if !stale.is_empty() {
            log::warn!(
                "push to {} refused, remote diverged: {}",
                redact_userinfo(url),
                stale.join(", ")
            );
            return Err(Error::LeaseRefused { refs: stale });
        }
        if lines.is_empty() && !out.status.success() {
            return Err(classify_failure(url, "push", &out));
        }
        let mut report = PushReport::default();
        let mut rejected = Vec::new();
        for line in &lines {
            let status = match line.flag {
                '*' => RefPushStatus::Created,
                ' ' => RefPushStatus::FastForward,
                '+' => RefPushStatus::Forced,
                '=' => RefPushStatus::UpToDate,
                _ => {
                    rejected.push(format!("{} {}", line.name, line.summary));
                    continue;
                }
            };
            report.refs.insert(line.name.clone(), status);
        }
        let missing: Vec<&str> = updates
            .iter()
            .filter(|u| !report.refs.contains_key(&u.name))
            .map(|u| u.name.as_str())
            .collect();
        if !out.status.success() || !rejected.is_empty() || !missing.is_empty() {
            let mut tail = crate::error::stderr_tail(&out.stderr);
            if !rejected.is_empty() {
                tail = format!("rejected: {}; {tail}", rejected.join(", "));
            }
            if !missing.is_empty() && rejected.is_empty() {
                tail = format!("no status for: {}; {tail}", missing.join(", "));
            }
            return Err(Error::Failed {
                command: "push".to_owned(),
                status: out.status.to_string(),
                stderr_tail: tail,
            });
        }
        log::info!(
            "pushed {} refs to {} ({} already up to date)",
            report.refs.len(),
            redact_userinfo(url),
            report
                .refs
                .values()
                .filter(|s| **s == RefPushStatus::UpToDate)
                .count()
        );
        Ok(report)
    }
}

/// One ref line of `git push --porcelain`: `<flag> TAB <from>:<to> TAB <summary>`.
#[derive(Debug)]
struct PorcelainLine {
    flag: char,
    name: String,
    summary: String,
}

fn parse_porcelain(stdout: &[u8]) -> Vec<PorcelainLine> {
    let text = String::from_utf8_lossy(stdout);
    let mut lines = Vec::new();
    for line in text.lines() {
        let mut fields = line.splitn(3, '\t');
        let (Some(flag), Some(refs), Some(summary)) = (fields.next(), fields.next(), fields.next())
        else {
            continue; // "To <url>", "Done"
        };
        let mut flag_chars = flag.chars();
        let (Some(flag), None) = (flag_chars.next(), flag_chars.next()) else {
            continue;
        };
        let Some((_, name)) = refs.rsplit_once(':') else {
            continue;
        };
        lines.push(PorcelainLine {
            flag,
            name: name.to_owned(),
            summary: summary.to_owned(),
        });
    }
    lines
}

/// Run a network command; a timeout is `Unreachable`.
fn network_run(options: &GitOptions, url: &str, inv: Invocation<'_>) -> Result<Output, Error> {
    match run(options, inv) {
        Ok(out) => Ok(out),
        Err(RunError::Io(e)) => Err(e),
        Err(RunError::TimedOut { after, .. }) => Err(Error::Unreachable {
            url: redact_userinfo(url),
            message: format!("no answer within {after:?}"),
        }),
    }
}

/// Stderr phrases (lowercased) of git, ssh and curl that mean "could not talk to the
/// remote" rather than "the remote said no" or "we got something wrong".
const UNREACHABLE_PHRASES: &[&str] = &[
    "could not read from remote repository",
    "does not appear to be a git repository",
    "repository not found",
    "unable to access",
    "could not resolve host",
    "could not resolve hostname",
    "connection refused",
    "connection timed out",
    "connection reset",
    "connection closed",
    "operation timed out",
    "network is unreachable",
    "no route to host",
    "permission denied",
    "host key verification failed",
    "the requested url returned error: 5",
    "rpc failed",
    "early eof",
    "the remote end hung up",
];

fn classify_failure(url: &str, command: &str, out: &Output) -> Error {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lower = stderr.to_ascii_lowercase();
    if UNREACHABLE_PHRASES.iter().any(|p| lower.contains(p)) {
        // The first line is usually the cause ("ssh: connect to host … refused"), the
        // following ones git's generic "could not read from remote repository".
        let message = redact_userinfo(
            stderr
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("unreachable"),
        );
        let url = redact_userinfo(url);
        log::warn!("git {command}: {url} unreachable: {message}");
        return Error::Unreachable { url, message };
    }
    Error::failed(command, out.status, &out.stderr)
}

/// [`remove_stale_locks`](crate::remove_stale_locks) for the remote at `url` when it is a
/// local `file://` repository, which import-one's own pushes are the only writers of; other
/// remotes clean up after themselves (their git runs on the server). Same precondition.
pub fn remove_stale_local_remote_locks(url: &str) -> Result<Vec<PathBuf>, Error> {
    match local_path(url) {
        Some(path) => crate::repo::remove_stale_locks(&path),
        None => Ok(Vec::new()),
    }
}

/// The local path of a `file:///abs/path` URL.
fn local_path(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("file://")?;
    path.starts_with('/').then(|| PathBuf::from(path))
}

/// A local remote that [`ensure_local_bare_remote`] would create: no such path, or an
/// empty directory.
fn local_remote_missing(path: &std::path::Path) -> bool {
    match std::fs::read_dir(path) {
        Ok(mut entries) => entries.next().is_none(),
        Err(_) => !path.exists(),
    }
}

/// A URL must not be mistaken for an option, nor be empty.
fn check_url(url: &str) -> Result<(), Error> {
    if url.is_empty() || url.starts_with('-') || url.contains('\n') {
        return Err(Error::invalid("url", redact_userinfo(url)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_lines() {
        let out = b"To file:///tmp/r.git\n\
            !\teb24:refs/heads/x\t[rejected] (stale info)\n\
            !\teb24:refs/heads/z\t[rejected] (atomic push failed)\n\
            =\td49c:refs/tags/t\t[up to date]\n\
            Done\n";
        let lines = parse_porcelain(out);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].flag, '!');
        assert_eq!(lines[0].name, "refs/heads/x");
        assert!(lines[0].summary.contains("stale info"));
        assert_eq!(lines[2].flag, '=');
        assert_eq!(lines[2].name, "refs/tags/t");
    }

    #[test]
    fn local_paths() {
        assert_eq!(
            local_path("file:///srv/remote/hello.git"),
            Some(PathBuf::from("/srv/remote/hello.git"))
        );
        assert_eq!(local_path("file://host/x.git"), None);
        assert_eq!(local_path("ssh://host/x.git"), None);
    }
}
