//! Why an import, or a comparison of the remote with the audit, failed, and what that means
//! for the exit code.
//!
//! Each variant holds what went wrong as a value: the Launchpad client's, git's, the
//! unpacker's or the store's own error, or the facts of a refusal. [`ImportError::class`]
//! decides from those values alone whether the failure is permanent, transient, an
//! unavailable service or a configuration mistake.
//!
//! A variant that wraps another error prints that error's message in its own, and keeps it
//! as a field rather than as its `source`: the binaries print an error once, as `{:#}`,
//! which appends every source's message, so a source would be printed twice. The one-line
//! message is also what the failure signature is made from.

use std::path::{Path, PathBuf};

use pkgimport_core::{Exit, PackageName};
use pkgimport_git::Oid;
use pkgimport_unpack::changelog::ChangelogError;

/// What a failure means for the next attempt: the exit-code contract of `import-one`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Launchpad, the archive or the git remote stayed unreachable: exit 69, tried again
    /// later with no failure recorded.
    Unavailable,
    /// Bad input that stays bad (the package, Launchpad's data about it, or a remote that
    /// someone else changed): exit 65.
    Permanent,
    /// May go away by itself: exit 75.
    Transient,
    /// The configuration is wrong; retrying will not help: exit 78.
    Config,
    /// The state database failed in a way no retry mends: exit 1.
    Failure,
}

impl ErrorClass {
    /// The exit code of a failure of this class.
    pub fn exit(self) -> Exit {
        match self {
            ErrorClass::Unavailable => Exit::Unavailable,
            ErrorClass::Permanent => Exit::DataErr,
            ErrorClass::Transient => Exit::TempFail,
            ErrorClass::Config => Exit::Config,
            ErrorClass::Failure => Exit::Failure,
        }
    }
}

/// Everything that can end an import, or `verify` and the resets.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Talking to Launchpad failed.
    #[error("{}", launchpad_message(.0))]
    Launchpad(pkgimport_lp_client::Error),
    /// A file still differs from Launchpad's size or SHA-256 after a clean re-download: the
    /// archive's copy is bad, not the transfer.
    #[error("checksum mismatch after a clean re-download: {0}")]
    ChecksumMismatch(pkgimport_lp_client::Error),
    /// Launchpad answered a query for one package with a publication of another.
    #[error("launchpad returned a publication of {found:?} when asked for {package}")]
    ForeignPublication { package: PackageName, found: String },
    /// A published version that cannot name a file, a directory or a tag
    /// ([`check_version`](super::check_version) says why).
    #[error("launchpad returned {package} with an unusable version {version:?}: {why}")]
    UnusableVersion {
        package: PackageName,
        version: String,
        why: String,
    },
    /// The librarian no longer has one of the version's files.
    #[error("launchpad no longer has a file of {package} {version}")]
    FileGone {
        package: PackageName,
        version: String,
    },
    /// A librarian URL whose last segment is not a plain file name.
    #[error("unsafe file name in {url:?}")]
    UnsafeFileName { url: String },
    /// Launchpad's SHA-256 of a file is not 64 hex digits.
    #[error("launchpad gave a bad sha256 for {name}")]
    BadSha256 { name: String },
    /// The version's files have no `.dsc` of the expected name.
    #[error("{package} {version}: launchpad listed no {}", .expected.display())]
    NoDsc {
        package: PackageName,
        version: String,
        expected: PathBuf,
    },
    /// Reading the `.dsc` or unpacking its files failed.
    #[error("{0}")]
    Unpack(pkgimport_unpack::Error),
    /// The `.dsc` is another source package's.
    #[error("{} is for source {found:?}, not {package}", .dsc.display())]
    ForeignDsc {
        dsc: PathBuf,
        found: String,
        package: PackageName,
    },
    /// The unpacked source has no `debian/changelog`.
    #[error("{package} {version}: no debian/changelog")]
    NoChangelog {
        package: PackageName,
        version: String,
    },
    /// The version's `debian/changelog` lacks what a commit is made from.
    #[error("{package} {version}: {error}")]
    Changelog {
        package: PackageName,
        version: String,
        error: ChangelogError,
    },
    /// git failed on the import's work. A refused lease is [`ImportError::RemoteDiverged`].
    #[error("{0}")]
    Git(pkgimport_git::Error),
    /// The remote's refs are no longer what the audit says: someone else changed them.
    /// Never overwritten.
    #[error("remote diverged: {}", .refs.join(" "))]
    RemoteDiverged { refs: Vec<String> },
    /// The remote lacks commits that the audit records as published there.
    #[error(
        "remote diverged: the remote lacks {count} commit(s) that the audit records, e.g. {first}; \
         see importctl verify {package}"
    )]
    RemoteLacksCommits {
        package: PackageName,
        count: usize,
        first: Oid,
    },
    /// git failed while `verify` and the resets compare the remote with the audit or put it
    /// back. Their input is the audit, never a package: only an unreachable remote is told
    /// apart.
    #[error("{0}")]
    Verify(pkgimport_git::Error),
    /// The audit holds something that is not an object id.
    #[error("bad object id in the audit: {0}")]
    AuditObjectId(pkgimport_git::Error),
    /// Local file-system work (the download cache, the scratch directory) failed.
    #[error("{}: {error}", .path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Removing the scratch directory failed.
    #[error("removing {}: {error}", .path.display())]
    RemoveScratch {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The thread that unpacks versions ended before handing over every version.
    #[error("the unpacking thread stopped early")]
    UnpackerStopped,
    /// The state database failed.
    #[error(transparent)]
    Store(#[from] pkgimport_queue::Error),
}

impl ImportError {
    /// What the failure means for the next attempt.
    pub fn class(&self) -> ErrorClass {
        use pkgimport_git::Error as Git;
        use pkgimport_lp_client::Error as Launchpad;
        match self {
            ImportError::Launchpad(Launchpad::Config { .. }) => ErrorClass::Config,
            ImportError::Launchpad(e) if e.is_transient() => ErrorClass::Unavailable,
            ImportError::Git(Git::Unreachable { .. })
            | ImportError::Verify(Git::Unreachable { .. }) => ErrorClass::Unavailable,
            ImportError::Unpack(e) if e.is_transient() => ErrorClass::Transient,
            ImportError::Launchpad(_)
            | ImportError::ChecksumMismatch(_)
            | ImportError::ForeignPublication { .. }
            | ImportError::UnusableVersion { .. }
            | ImportError::FileGone { .. }
            | ImportError::UnsafeFileName { .. }
            | ImportError::BadSha256 { .. }
            | ImportError::NoDsc { .. }
            | ImportError::Unpack(_)
            | ImportError::ForeignDsc { .. }
            | ImportError::NoChangelog { .. }
            | ImportError::Changelog { .. }
            | ImportError::Git(
                Git::InvalidInput { .. } | Git::TagConflict { .. } | Git::LeaseRefused { .. },
            )
            | ImportError::Verify(Git::LeaseRefused { .. })
            | ImportError::RemoteDiverged { .. }
            | ImportError::RemoteLacksCommits { .. } => ErrorClass::Permanent,
            ImportError::Git(_)
            | ImportError::Verify(_)
            | ImportError::AuditObjectId(_)
            | ImportError::Io { .. }
            | ImportError::RemoveScratch { .. }
            | ImportError::UnpackerStopped => ErrorClass::Transient,
            ImportError::Store(e) if e.is_transient() => ErrorClass::Transient,
            ImportError::Store(_) => ErrorClass::Failure,
        }
    }

    /// The exit code of `import-one` (and of importctl's resets) for this failure.
    pub fn exit(&self) -> Exit {
        self.class().exit()
    }

    /// A git failure of `verify` or a reset: a refused lease is a diverged remote.
    pub(crate) fn verifying(e: pkgimport_git::Error) -> ImportError {
        match e {
            pkgimport_git::Error::LeaseRefused { refs } => ImportError::RemoteDiverged { refs },
            e => ImportError::Verify(e),
        }
    }

    /// A local IO failure on `path`.
    pub(crate) fn io(path: &Path, error: std::io::Error) -> ImportError {
        ImportError::Io {
            path: path.to_owned(),
            error,
        }
    }
}

impl From<pkgimport_lp_client::Error> for ImportError {
    fn from(e: pkgimport_lp_client::Error) -> ImportError {
        ImportError::Launchpad(e)
    }
}

/// A git failure of the import: a refused lease is a diverged remote.
impl From<pkgimport_git::Error> for ImportError {
    fn from(e: pkgimport_git::Error) -> ImportError {
        match e {
            pkgimport_git::Error::LeaseRefused { refs } => ImportError::RemoteDiverged { refs },
            e => ImportError::Git(e),
        }
    }
}

impl From<pkgimport_unpack::Error> for ImportError {
    fn from(e: pkgimport_unpack::Error) -> ImportError {
        ImportError::Unpack(e)
    }
}

/// A Launchpad error, said to be one; the client's configuration error says so itself.
fn launchpad_message(e: &pkgimport_lp_client::Error) -> String {
    match e {
        pkgimport_lp_client::Error::Config { .. } => e.to_string(),
        e => format!("launchpad: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello() -> PackageName {
        PackageName::parse("hello").unwrap()
    }

    fn denied() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied")
    }

    fn oid() -> Oid {
        Oid::from_hex(&"ab".repeat(20)).unwrap()
    }

    /// Representative failures, the line `import-one` ends with for each, and their class.
    fn cases() -> Vec<(ImportError, &'static str, ErrorClass)> {
        use pkgimport_git::Error as Git;
        use pkgimport_lp_client::Error as Launchpad;
        vec![
            (
                Launchpad::Unavailable {
                    status: Some(503),
                    oops_id: Some("OOPS-1".into()),
                    attempts: 7,
                    url: "https://api.launchpad.net/devel/debian/series".into(),
                    message: "Service Unavailable".into(),
                }
                .into(),
                "launchpad: launchpad unavailable after 7 attempts (status 503, OOPS-1): \
                 Service Unavailable (url https://api.launchpad.net/devel/debian/series)",
                ErrorClass::Unavailable,
            ),
            (
                Launchpad::NotFound {
                    url: "https://api.launchpad.net/devel/ubuntu/series".into(),
                    message: "Object: <Distribution>, name: 'series'".into(),
                }
                .into(),
                "launchpad: not found: Object: <Distribution>, name: 'series' \
                 (url https://api.launchpad.net/devel/ubuntu/series)",
                ErrorClass::Permanent,
            ),
            (
                Launchpad::Config {
                    message: "no credentials file /etc/lp.creds".into(),
                }
                .into(),
                "launchpad client configuration: no credentials file /etc/lp.creds",
                ErrorClass::Config,
            ),
            (
                ImportError::ChecksumMismatch(Launchpad::DownloadMismatch {
                    url: "https://launchpad.net/d/+files/hello_2.10.orig.tar.gz".into(),
                    expected_bytes: 3,
                    expected_sha256: "aa".into(),
                    got_bytes: 8,
                    got_sha256: "bb".into(),
                }),
                "checksum mismatch after a clean re-download: bad response from launchpad \
                 (status 200): downloaded file does not match launchpad's metadata: expected 3 \
                 bytes sha256 aa, got 8 bytes sha256 bb \
                 (url https://launchpad.net/d/+files/hello_2.10.orig.tar.gz)",
                ErrorClass::Permanent,
            ),
            (
                ImportError::ForeignPublication {
                    package: hello(),
                    found: "hello-traditional".into(),
                },
                "launchpad returned a publication of \"hello-traditional\" when asked for hello",
                ErrorClass::Permanent,
            ),
            (
                ImportError::UnusableVersion {
                    package: hello(),
                    version: "1/x".into(),
                    why: "not a Debian version (characters or syntax)".into(),
                },
                "launchpad returned hello with an unusable version \"1/x\": \
                 not a Debian version (characters or syntax)",
                ErrorClass::Permanent,
            ),
            (
                ImportError::FileGone {
                    package: hello(),
                    version: "2.10-3".into(),
                },
                "launchpad no longer has a file of hello 2.10-3",
                ErrorClass::Permanent,
            ),
            (
                ImportError::UnsafeFileName {
                    url: "https://launchpad.net/d/+files/..".into(),
                },
                "unsafe file name in \"https://launchpad.net/d/+files/..\"",
                ErrorClass::Permanent,
            ),
            (
                ImportError::BadSha256 {
                    name: "hello_2.10-3.dsc".into(),
                },
                "launchpad gave a bad sha256 for hello_2.10-3.dsc",
                ErrorClass::Permanent,
            ),
            (
                ImportError::NoDsc {
                    package: hello(),
                    version: "1:2.10-3".into(),
                    expected: "/s/work/hello.scratch/1%2.10-3/hello_2.10-3.dsc".into(),
                },
                "hello 1:2.10-3: launchpad listed no /s/work/hello.scratch/1%2.10-3/hello_2.10-3.dsc",
                ErrorClass::Permanent,
            ),
            (
                pkgimport_unpack::Error::CorruptArchive {
                    archive: "hello_2.10.orig.tar.gz".into(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "invalid gzip header",
                    ),
                }
                .into(),
                "corrupt archive hello_2.10.orig.tar.gz: invalid gzip header",
                ErrorClass::Permanent,
            ),
            (
                pkgimport_unpack::Error::Io {
                    path: "/s/work/hello.scratch/2.10-3/hello_2.10-3.dsc".into(),
                    source: denied(),
                }
                .into(),
                "cannot read /s/work/hello.scratch/2.10-3/hello_2.10-3.dsc: permission denied",
                ErrorClass::Transient,
            ),
            (
                ImportError::ForeignDsc {
                    dsc: "/s/work/hello.scratch/2.10-3/hello_2.10-3.dsc".into(),
                    found: "bye".into(),
                    package: hello(),
                },
                "/s/work/hello.scratch/2.10-3/hello_2.10-3.dsc is for source \"bye\", not hello",
                ErrorClass::Permanent,
            ),
            (
                ImportError::NoChangelog {
                    package: hello(),
                    version: "2.10-3".into(),
                },
                "hello 2.10-3: no debian/changelog",
                ErrorClass::Permanent,
            ),
            (
                ImportError::Changelog {
                    package: hello(),
                    version: "2.10-3".into(),
                    error: ChangelogError::NoTrailer,
                },
                "hello 2.10-3: debian/changelog: the first entry has no trailer line \
                 (\" -- Name <email>  date\")",
                ErrorClass::Permanent,
            ),
            (
                Git::Unreachable {
                    url: "ssh://***@git.example.org/hello.git".into(),
                    message: "Connection refused".into(),
                }
                .into(),
                "git remote unreachable: Connection refused (url ssh://***@git.example.org/hello.git)",
                ErrorClass::Unavailable,
            ),
            (
                Git::Io {
                    context: "spawning git".into(),
                    source: denied(),
                }
                .into(),
                "spawning git: permission denied",
                ErrorClass::Transient,
            ),
            (
                Git::Failed {
                    command: "update-ref".into(),
                    status: "exit status: 128".into(),
                    stderr_tail: "fatal: cannot lock ref".into(),
                }
                .into(),
                "git update-ref failed (exit status: 128): fatal: cannot lock ref",
                ErrorClass::Transient,
            ),
            (
                Git::InvalidInput {
                    what: "time zone offset",
                    value: "1500".into(),
                }
                .into(),
                "invalid time zone offset: \"1500\"",
                ErrorClass::Permanent,
            ),
            (
                Git::TagConflict {
                    name: "refs/tags/import/2.10-3".into(),
                    existing: oid(),
                    wanted: Oid::from_hex(&"cd".repeat(20)).unwrap(),
                }
                .into(),
                "tag refs/tags/import/2.10-3 already points at abababababababababababababababababababab, \
                 not cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
                ErrorClass::Permanent,
            ),
            (
                Git::LeaseRefused {
                    refs: vec![
                        "refs/heads/importer/debian/sid".into(),
                        "refs/tags/import/2.10-3".into(),
                    ],
                }
                .into(),
                "remote diverged: refs/heads/importer/debian/sid refs/tags/import/2.10-3",
                ErrorClass::Permanent,
            ),
            (
                ImportError::RemoteLacksCommits {
                    package: hello(),
                    count: 2,
                    first: oid(),
                },
                "remote diverged: the remote lacks 2 commit(s) that the audit records, \
                 e.g. abababababababababababababababababababab; see importctl verify hello",
                ErrorClass::Permanent,
            ),
            (
                ImportError::verifying(Git::InvalidInput {
                    what: "object id",
                    value: "xyz".into(),
                }),
                "invalid object id: \"xyz\"",
                ErrorClass::Transient,
            ),
            (
                ImportError::verifying(Git::Unreachable {
                    url: "file:///s/remotes/hello.git".into(),
                    message: "does not appear to be a git repository".into(),
                }),
                "git remote unreachable: does not appear to be a git repository \
                 (url file:///s/remotes/hello.git)",
                ErrorClass::Unavailable,
            ),
            (
                ImportError::verifying(Git::LeaseRefused {
                    refs: vec!["refs/tags/import/2.10-3".into()],
                }),
                "remote diverged: refs/tags/import/2.10-3",
                ErrorClass::Permanent,
            ),
            (
                ImportError::AuditObjectId(Git::InvalidInput {
                    what: "object id",
                    value: "xyz".into(),
                }),
                "bad object id in the audit: invalid object id: \"xyz\"",
                ErrorClass::Transient,
            ),
            (
                ImportError::io("/s/cache/ab/abcd".as_ref(), denied()),
                "/s/cache/ab/abcd: permission denied",
                ErrorClass::Transient,
            ),
            (
                ImportError::RemoveScratch {
                    path: "/s/work/hello.scratch".into(),
                    error: denied(),
                },
                "removing /s/work/hello.scratch: permission denied",
                ErrorClass::Transient,
            ),
            (
                ImportError::UnpackerStopped,
                "the unpacking thread stopped early",
                ErrorClass::Transient,
            ),
            (
                pkgimport_queue::Error::Busy {
                    what: "staging the audit".into(),
                    waited_s: 30,
                }
                .into(),
                "state database stayed busy for 30s while staging the audit",
                ErrorClass::Transient,
            ),
            (
                pkgimport_queue::Error::Invalid {
                    what: "reading the audit".into(),
                    message: "unknown phase \"x\"".into(),
                }
                .into(),
                "reading the audit: unknown phase \"x\"",
                ErrorClass::Failure,
            ),
        ]
    }

    #[test]
    fn every_message_is_printed_once_in_one_line() {
        for (e, line, _) in cases() {
            assert_eq!(e.to_string(), line);
            // What `import-one` prints last, and the failure signature is made from.
            assert_eq!(format!("{:#}", anyhow::Error::new(e)), line);
        }
    }

    #[test]
    fn failures_are_classified_by_what_failed() {
        for (e, line, class) in cases() {
            assert_eq!(e.class(), class, "{line}");
            assert_eq!(e.exit(), class.exit(), "{line}");
        }
    }

    #[test]
    fn each_class_has_its_exit_code() {
        for (class, code) in [
            (ErrorClass::Unavailable, 69),
            (ErrorClass::Permanent, 65),
            (ErrorClass::Transient, 75),
            (ErrorClass::Config, 78),
            (ErrorClass::Failure, 1),
        ] {
            assert_eq!(class.exit().code(), code, "{class:?}");
        }
    }

    #[test]
    fn a_launchpad_client_configuration_error_exits_78() {
        let e = ImportError::from(pkgimport_lp_client::Error::Config {
            message: "bad api_root".into(),
        });
        assert_eq!(e.class(), ErrorClass::Config);
        assert_eq!(e.exit(), Exit::Config);
        assert_eq!(e.exit().code(), 78);
    }
}
