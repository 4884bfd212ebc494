//! The one error type of this crate.
//!
//! Callers (the importer) branch on two things only: is the package itself bad (permanent,
//! exit 65 and a recorded failure) or did the machine hiccup (transient, retry later). Each
//! variant still names the object it is about, so that the one-line message is enough to
//! understand a failure from the journal, and so that the failure signature groups well.

use std::path::PathBuf;

/// Why an archive entry (or a symlink in the final tree) was refused as unsafe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnsafeReason {
    /// The member name starts with `/`.
    AbsolutePath,
    /// The member name has a `..` component.
    ParentComponent,
    /// A symlink whose target is absolute or climbs above the root of the tree.
    SymlinkEscapes { target: String },
    /// A hard link whose target is absolute or has a `..` component.
    HardLinkOutside { target: String },
    /// A hard link to an entry that does not exist (yet) in the archive.
    HardLinkMissing { target: String },
    /// A hard link to a directory.
    HardLinkToDirectory { target: String },
    /// A character or block device node.
    DeviceNode,
    /// A named pipe.
    Fifo,
    /// A path whose parent is a symlink: writing it would write through the link.
    ThroughSymlink { symlink: String },
    /// An entry type that `dpkg-source` has no business seeing (for example GNU multi-volume).
    UnsupportedType { type_byte: u8 },
    /// A member name or link target that is not valid UTF-8.
    NonUtf8Name,
    /// A member name that contains a NUL byte or is empty.
    InvalidName,
}

impl std::fmt::Display for UnsafeReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnsafeReason::AbsolutePath => write!(f, "absolute path"),
            UnsafeReason::ParentComponent => write!(f, "path has a '..' component"),
            UnsafeReason::SymlinkEscapes { target } => {
                write!(f, "symlink target '{target}' escapes the tree")
            }
            UnsafeReason::HardLinkOutside { target } => {
                write!(f, "hard link target '{target}' is outside the tree")
            }
            UnsafeReason::HardLinkMissing { target } => {
                write!(
                    f,
                    "hard link target '{target}' does not exist in the archive"
                )
            }
            UnsafeReason::HardLinkToDirectory { target } => {
                write!(f, "hard link target '{target}' is a directory")
            }
            UnsafeReason::DeviceNode => write!(f, "device node"),
            UnsafeReason::Fifo => write!(f, "named pipe (fifo)"),
            UnsafeReason::ThroughSymlink { symlink } => {
                write!(f, "written through the symlink '{symlink}'")
            }
            UnsafeReason::UnsupportedType { type_byte } => {
                write!(f, "unsupported tar entry type {:?}", char::from(*type_byte))
            }
            UnsafeReason::NonUtf8Name => write!(f, "name is not valid UTF-8"),
            UnsafeReason::InvalidName => write!(f, "empty name or name with a NUL byte"),
        }
    }
}

/// Which of the [`crate::Limits`] was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// `max_total_bytes`: decompressed bytes across all archives of the package.
    TotalBytes,
    /// `max_file_bytes`: the size of one file.
    FileBytes,
    /// `max_entries`: archive members across all archives of the package.
    Entries,
}

impl std::fmt::Display for LimitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitKind::TotalBytes => write!(f, "total unpacked bytes"),
            LimitKind::FileBytes => write!(f, "bytes in one file"),
            LimitKind::Entries => write!(f, "archive entries"),
        }
    }
}

/// Everything that can go wrong while reading a `.dsc` and unpacking its files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a local file failed (disk, permissions): not the package's fault.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The `.dsc` is larger than any sane `.dsc`.
    #[error("dsc {} is larger than {limit} bytes", path.display())]
    DscTooLarge { path: PathBuf, limit: u64 },
    /// The `.dsc` holds bytes that are not UTF-8.
    #[error("dsc is not valid UTF-8 (first bad byte at offset {offset})")]
    DscNotUtf8 { offset: usize },
    /// The PGP armour of a clearsigned `.dsc` is broken.
    #[error("dsc has a malformed PGP signature block: {message}")]
    DscSignature { message: String },
    /// The deb822 syntax of the `.dsc` is broken.
    #[error("dsc is not valid deb822: {message}")]
    DscSyntax { message: String },
    /// A field appears twice (field names compare case-insensitively, as in dpkg).
    #[error("dsc has a duplicated field '{field}'")]
    DscDuplicateField { field: String },
    /// A required field is absent.
    #[error("dsc has no '{field}' field")]
    DscMissingField { field: String },
    /// A field is present but its value is unusable.
    #[error("dsc field '{field}' is invalid: {message}")]
    DscInvalidField { field: String, message: String },
    /// A file name in `Files`/`Checksums-*` is not a plain file name (`../x`, `/x`, `a/b`).
    #[error("dsc lists an unsafe file name '{name}'")]
    UnsafeFileName { name: String },
    /// A file listed in the `.dsc` is not in the directory.
    #[error("file {name} listed in the dsc is missing from {}", dir.display())]
    MissingFile { name: String, dir: PathBuf },
    /// A listed file has the wrong size.
    #[error("file {name} has size {actual}, the dsc says {expected}")]
    SizeMismatch {
        name: String,
        expected: u64,
        actual: u64,
    },
    /// A listed file has the wrong checksum.
    #[error("file {name} has {algorithm} {actual}, the dsc says {expected}")]
    ChecksumMismatch {
        name: String,
        algorithm: &'static str,
        expected: String,
        actual: String,
    },
    /// A source format this crate does not unpack (`3.0 (git)`, `2.0`, ...).
    #[error("unsupported source format '{format}'")]
    UnsupportedFormat { format: String },
    /// The files of the `.dsc` do not fit its format (as dpkg-source would complain).
    #[error("bad file set for format {format}: {message}")]
    BadFileSet { format: String, message: String },
    /// A compressed stream or a tar structure is corrupt.
    #[error("corrupt archive {archive}: {source}")]
    CorruptArchive {
        archive: String,
        #[source]
        source: std::io::Error,
    },
    /// An archive member (or a symlink in the result) is unsafe: hostile input.
    #[error("unsafe entry '{path}' in {archive}: {reason}")]
    Unsafe {
        archive: String,
        path: String,
        reason: UnsafeReason,
    },
    /// A size or count limit was exceeded: a decompression bomb or an absurd package.
    #[error("{archive} exceeds the limit of {limit} {kind}")]
    LimitExceeded {
        archive: String,
        kind: LimitKind,
        limit: u64,
    },
    /// Two entries cannot both exist (a file where a directory is needed, and so on).
    #[error("conflicting entry '{path}' in {archive}: {message}")]
    Conflict {
        archive: String,
        path: String,
        message: String,
    },
    /// A diff (the `.diff.gz` of a 1.0 package, a quilt patch) is malformed or does not
    /// apply.
    #[error("diff {diff} line {line}: {message}")]
    Patch {
        diff: String,
        line: usize,
        message: String,
    },
    /// The quilt series of a `3.0 (quilt)` package cannot be followed: an insecure or
    /// missing patch.
    #[error("quilt series: {message}")]
    Series { message: String },
    /// Writing the tree to disk failed or the target directory is unusable.
    #[error("cannot materialize into {}: {message}", path.display())]
    Materialize { path: PathBuf, message: String },
}

impl Error {
    /// True when the input package is bad: retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        !self.is_transient()
    }

    /// True when the failure came from the local machine (IO), so a retry may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Io { .. } | Error::Materialize { .. })
    }
}
