//! Size and count limits, enforced while streaming.
//!
//! Source packages come from the outside world, so a tiny `.orig.tar.gz` may expand to
//! terabytes. The limits are checked as bytes come out of the decompressor (never after
//! reading), so a bomb costs at most `max_total_bytes` of work and memory.

use std::cell::Cell;
use std::io::Read;

use crate::error::{Error, LimitKind};

/// How much one source package may unpack to. There is deliberately no `Default`: the caller
/// picks [`Limits::standard`] or its own values, so a limit is never an accident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Decompressed bytes read across all archives of one package (tar headers and the
    /// `.diff.gz` included), plus the bytes of every hard-linked copy.
    pub max_total_bytes: u64,
    /// Members across all archives of one package (directories included).
    pub max_entries: u64,
    /// Size of one file.
    pub max_file_bytes: u64,
}

impl Limits {
    /// Sane defaults for a Debian archive: 4 GiB unpacked, 100,000 entries, 2 GiB per file.
    ///
    /// The largest source packages in Debian (for example `linux`, `libreoffice`, game
    /// data) unpack to a few GiB with well under 100,000 files.
    pub fn standard() -> Limits {
        Limits {
            max_total_bytes: 4 << 30,
            max_entries: 100_000,
            max_file_bytes: 2 << 30,
        }
    }
}

/// What is left of the limits while one package is being unpacked.
#[derive(Debug)]
pub(crate) struct Budget {
    pub(crate) limits: Limits,
    /// Decompressed bytes consumed so far; shared with the [`CountingReader`] of the archive
    /// currently being read.
    bytes_used: Cell<u64>,
    entries_used: Cell<u64>,
}

impl Budget {
    pub(crate) fn new(limits: Limits) -> Budget {
        Budget {
            limits,
            bytes_used: Cell::new(0),
            entries_used: Cell::new(0),
        }
    }

    /// Count one more archive member.
    pub(crate) fn take_entry(&self, archive: &str) -> Result<(), Error> {
        self.entries_used.set(self.entries_used.get() + 1);
        if self.entries_used.get() > self.limits.max_entries {
            return Err(Error::LimitExceeded {
                archive: archive.to_owned(),
                kind: LimitKind::Entries,
                limit: self.limits.max_entries,
            });
        }
        Ok(())
    }

    /// Refuse a file whose declared size is already over the per-file limit, before reading.
    pub(crate) fn check_file_size(&self, archive: &str, size: u64) -> Result<(), Error> {
        if size > self.limits.max_file_bytes {
            return Err(Error::LimitExceeded {
                archive: archive.to_owned(),
                kind: LimitKind::FileBytes,
                limit: self.limits.max_file_bytes,
            });
        }
        Ok(())
    }

    /// Charge bytes that did not come out of a decompressor, such as the copy of a hard-linked
    /// file: without this, a thousand hard links to one big file would be a bomb.
    pub(crate) fn charge(&self, archive: &str, bytes: u64) -> Result<(), Error> {
        self.bytes_used
            .set(self.bytes_used.get().saturating_add(bytes));
        if self.bytes_exceeded() {
            return Err(self.total_bytes_error(archive));
        }
        Ok(())
    }

    pub(crate) fn bytes_exceeded(&self) -> bool {
        self.bytes_used.get() > self.limits.max_total_bytes
    }

    pub(crate) fn total_bytes_error(&self, archive: &str) -> Error {
        Error::LimitExceeded {
            archive: archive.to_owned(),
            kind: LimitKind::TotalBytes,
            limit: self.limits.max_total_bytes,
        }
    }
}

/// A reader that counts every byte it hands out against the package budget and fails as
/// soon as the budget is exhausted. It sits directly on the decompressor output.
pub(crate) struct CountingReader<'b, R> {
    inner: R,
    budget: &'b Budget,
}

impl<'b, R: Read> CountingReader<'b, R> {
    pub(crate) fn new(inner: R, budget: &'b Budget) -> Self {
        CountingReader { inner, budget }
    }
}

impl<R: Read> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let used = self.budget.bytes_used.get();
        let max = self.budget.limits.max_total_bytes;
        if used > max {
            return Err(std::io::Error::other("unpacked size limit exceeded"));
        }
        // Ask for at most one byte more than what is left, so that crossing the limit is
        // detected without decompressing far past it.
        let room = usize::try_from(max - used + 1).unwrap_or(usize::MAX);
        let want = buf.len().min(room);
        let n = self.inner.read(&mut buf[..want])?;
        self.budget.bytes_used.set(used + n as u64);
        if used + n as u64 > max {
            return Err(std::io::Error::other("unpacked size limit exceeded"));
        }
        Ok(n)
    }
}
