//! What a commit is made of: the entries of its tree, the identities, the message.
//!
//! [`crate::PackWriter`] turns these into git objects. Everything here is checked before
//! any object is written: identities git would refuse, and paths git cannot store.

use std::fmt;
use std::io::Write;
use std::str::FromStr;

use crate::{Error, Oid};

/// What kind of tree entry, as git records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// A regular file, mode 100644.
    File,
    /// An executable file, mode 100755.
    Executable,
    /// A symbolic link, mode 120000; the entry's data is the link target.
    Symlink,
}

impl Mode {
    pub(crate) fn octal(self) -> &'static str {
        match self {
            Mode::File => "100644",
            Mode::Executable => "100755",
            Mode::Symlink => "120000",
        }
    }
}

/// One file or symlink of a snapshot.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// Relative, `/`-separated path: no leading or trailing `/`, no empty, `.` or `..`
    /// components, no NUL.
    pub path: &'a str,
    /// File, executable file or symlink.
    pub mode: Mode,
    /// The file content, or the symlink target.
    pub data: &'a [u8],
}

/// A time-zone offset from UTC as git writes it (`+0100`, `-0500`), in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TzOffset(i16);

impl TzOffset {
    /// UTC, `+0000`.
    pub const UTC: TzOffset = TzOffset(0);

    /// An offset of `minutes` east of UTC; at most 23:59 either way.
    pub fn from_minutes(minutes: i16) -> Result<TzOffset, Error> {
        if minutes.abs() >= 24 * 60 {
            return Err(Error::invalid("time zone offset", minutes.to_string()));
        }
        Ok(TzOffset(minutes))
    }

    /// Minutes east of UTC.
    pub fn minutes(self) -> i16 {
        self.0
    }
}

impl FromStr for TzOffset {
    type Err = Error;

    /// Parse `+HHMM` or `-HHMM`, the form of a `debian/changelog` date's offset.
    fn from_str(s: &str) -> Result<TzOffset, Error> {
        let bad = || Error::invalid("time zone offset", s);
        let bytes = s.as_bytes();
        if bytes.len() != 5 || !bytes[1..].iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        let sign = match bytes[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return Err(bad()),
        };
        let hours: i16 = s[1..3].parse().map_err(|_| bad())?;
        let minutes: i16 = s[3..5].parse().map_err(|_| bad())?;
        if minutes >= 60 {
            return Err(bad());
        }
        TzOffset::from_minutes(sign * (hours * 60 + minutes))
    }
}

impl fmt::Display for TzOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{:02}{:02}", abs / 60, abs % 60)
    }
}

/// An author or committer: who and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The name; no `<`, `>` or newline.
    pub name: String,
    /// The email address; no `<`, `>` or newline.
    pub email: String,
    /// Seconds since the Unix epoch.
    pub time: u64,
    /// The offset the time was written in.
    pub offset: TzOffset,
}

impl Signature {
    pub(crate) fn check(&self) -> Result<(), Error> {
        let bad_char = |c: char| matches!(c, '<' | '>' | '\n' | '\0');
        if self.name.contains(bad_char) || self.email.contains(bad_char) {
            return Err(Error::invalid(
                "identity",
                format!("{} <{}>", self.name, self.email),
            ));
        }
        Ok(())
    }

    /// The `author` or `committer` line of a commit object. An empty name leaves two
    /// spaces (`author  <e> …`), as git and `git fast-import`, which wrote our earlier
    /// commits, both do.
    pub(crate) fn write_line(&self, out: &mut impl Write, header: &str) -> std::io::Result<()> {
        writeln!(
            out,
            "{header} {} <{}> {} {}",
            self.name, self.email, self.time, self.offset
        )
    }
}

/// Everything about one commit except its tree.
#[derive(Debug, Clone, Copy)]
pub struct CommitSpec<'a> {
    /// The author (for an import: the changelog sign-off and date).
    pub author: &'a Signature,
    /// The committer (for an import: the importer identity, with the changelog date).
    pub committer: &'a Signature,
    /// The message, byte for byte (git conventionally ends it with a newline).
    pub message: &'a [u8],
    /// First parent, then any others. Empty for a root commit.
    pub parents: &'a [Oid],
    /// The full ref to point at the commit when the session finishes, if any.
    pub update_ref: Option<&'a str>,
}

/// Reject paths git cannot store, or that git itself would refuse to check out (`.git`).
pub(crate) fn check_path(path: &str) -> Result<(), Error> {
    let bad = path.is_empty()
        || path.contains('\0')
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == ".." || c == ".git");
    if bad {
        return Err(Error::invalid("path", path));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        for s in ["+0100", "-0500", "+0000", "+0530", "-1200"] {
            assert_eq!(s.parse::<TzOffset>().unwrap().to_string(), s);
        }
        assert_eq!("+0100".parse::<TzOffset>().unwrap().minutes(), 60);
        for s in ["0100", "+100", "+01:00", "+0160", "+2400", "x0100"] {
            assert!(s.parse::<TzOffset>().is_err(), "{s} accepted");
        }
    }

    #[test]
    fn paths() {
        for ok in [
            "a",
            "a b/c",
            ".gitignore",
            "dir/.hidden",
            "x/.gitattributes",
        ] {
            check_path(ok).unwrap();
        }
        for bad in [
            "",
            "/a",
            "a/",
            "a//b",
            "./a",
            "a/../b",
            ".git/config",
            "a\0b",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?} accepted");
        }
    }
}
