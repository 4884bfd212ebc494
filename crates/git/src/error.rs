//! The one error type of the git layer.
//!
//! Callers branch on the variant. `LeaseRefused` means somebody else changed the remote: the
//! push was refused as a whole and the package fails permanently with `remote diverged`.
//! `Unreachable` means the remote (network, ssh, https, or a missing repository) could not
//! be talked to, or did not answer in time; `import-one` exits 69 and tries again later.
//! `Failed` is git failing for any other reason, with the tail of its stderr, and
//! `InvalidInput` is a caller's mistake caught before git runs (a bad ref name, path or
//! identity).

use std::process::ExitStatus;

/// Everything that can go wrong running git.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The remote refused the atomic push because at least one ref no longer has the value
    /// the caller expected. Nothing on the remote changed.
    #[error("remote diverged: {}", .refs.join(", "))]
    LeaseRefused {
        /// The refs whose lease failed (`refs/heads/…`), sorted.
        refs: Vec<String>,
    },
    /// The remote could not be reached: connection refused or timed out, host unknown,
    /// authentication refused, repository missing, or the operation hit its timeout.
    #[error("git remote unreachable: {message} (url {url})")]
    Unreachable {
        /// The remote URL.
        url: String,
        /// The most telling stderr line, or the timeout.
        message: String,
    },
    /// git ran and failed for another reason.
    #[error("git {command} failed ({status}): {stderr_tail}")]
    Failed {
        /// The git subcommand, e.g. `push` or `update-ref`.
        command: String,
        /// The exit status as text (`exit status: 128`, `signal: 9`).
        status: String,
        /// The last lines of stderr, joined with ` | `.
        stderr_tail: String,
    },
    /// A tag already exists locally and points somewhere else; tags never move.
    #[error("tag {name} already points at {existing}, not {wanted}")]
    TagConflict {
        /// Full ref name, `refs/tags/…`.
        name: String,
        /// Its current value.
        existing: crate::Oid,
        /// The value that was asked for.
        wanted: crate::Oid,
    },
    /// Input rejected before running git.
    #[error("invalid {what}: {value:?}")]
    InvalidInput {
        /// What kind of value: `ref name`, `path`, `object id`, `identity`, `url`, ….
        what: &'static str,
        /// The offending value.
        value: String,
    },
    /// Local IO: spawning git, a pipe, a directory.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl Error {
    /// True when trying the same thing again later may succeed without anyone acting:
    /// an unreachable remote, or git losing a race for a lock file.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unreachable { .. } => true,
            Error::Failed { stderr_tail, .. } => {
                let lower = stderr_tail.to_ascii_lowercase();
                lower.contains("cannot lock ref") || lower.contains(".lock': file exists")
            }
            Error::LeaseRefused { .. }
            | Error::TagConflict { .. }
            | Error::InvalidInput { .. }
            | Error::Io { .. } => false,
        }
    }

    pub(crate) fn invalid(what: &'static str, value: impl Into<String>) -> Error {
        Error::InvalidInput {
            what,
            value: value.into(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn failed(command: &str, status: ExitStatus, stderr: &[u8]) -> Error {
        Error::Failed {
            command: command.to_owned(),
            status: status.to_string(),
            stderr_tail: stderr_tail(stderr),
        }
    }
}

/// The last few non-empty lines of stderr, on one line, so one failure is one log line.
pub(crate) fn stderr_tail(stderr: &[u8]) -> String {
    const LINES: usize = 4;
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let start = lines.len().saturating_sub(LINES);
    // git and curl echo remote URLs, user info included, in their errors.
    let tail = pkgimport_core::redact::redact_userinfo(&lines[start..].join(" | "));
    if tail.is_empty() {
        "(no stderr)".to_owned()
    } else {
        tail
    }
}
