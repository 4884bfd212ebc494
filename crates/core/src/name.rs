//! Debian source package names, validated once where they enter the system.
//!
//! A name becomes a lock-file name, a log directory and a remote repository name, so a name
//! that is not a plain Debian name must never get that far. Debian policy (5.6.1) allows
//! lowercase letters, digits, `+`, `-` and `.`, at least two characters, starting with an
//! alphanumeric. That grammar has no `/`, so a valid name is always one path component and
//! never `.` or `..`.

use std::fmt;

/// Policy sets no upper bound; real names stay well below 100 characters. A bound keeps
/// hostile input (a 10,000-character "name") out of paths and the database.
pub const MAX_NAME_LEN: usize = 128;

/// A Debian source package name that has passed [`PackageName::parse`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageName(String);

/// Why a string is not a valid package name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("invalid package name {shown}: empty")]
    Empty { shown: String },
    #[error("invalid package name {shown}: {len} characters, at most {MAX_NAME_LEN} allowed")]
    TooLong { shown: String, len: usize },
    #[error("invalid package name {shown}: needs at least two characters")]
    TooShort { shown: String },
    #[error(
        "invalid package name {shown}: must start with a lowercase letter or digit \
         and contain only a-z, 0-9, '+', '-' and '.'"
    )]
    BadCharacter { shown: String },
}

impl PackageName {
    /// Checks `raw` against Debian policy and a length bound.
    pub fn parse(raw: &str) -> Result<PackageName, NameError> {
        let shown = shown(raw);
        if raw.is_empty() {
            return Err(NameError::Empty { shown });
        }
        let len = raw.chars().count();
        if len > MAX_NAME_LEN {
            return Err(NameError::TooLong { shown, len });
        }
        let bytes = raw.as_bytes();
        let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if !alnum(bytes[0]) || !bytes.iter().all(|&b| alnum(b) || b"+-.".contains(&b)) {
            return Err(NameError::BadCharacter { shown });
        }
        if len < 2 {
            return Err(NameError::TooShort { shown });
        }
        Ok(PackageName(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl std::str::FromStr for PackageName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PackageName::parse(s)
    }
}

/// Quotes a rejected name for an error message: escaped so that a newline or a control
/// character cannot forge a log line, and cut short so a huge name stays one readable line.
fn shown(raw: &str) -> String {
    const SHOW: usize = 40;
    let cut: String = raw.chars().take(SHOW).collect();
    let more = if raw.chars().count() > SHOW {
        "..."
    } else {
        ""
    };
    format!("{:?}{more}", cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_policy_names() {
        for ok in [
            "hello",
            "libcap2",
            "golang-golang-x-term",
            "g++-12",
            "0ad",
            "llvm-defaults",
            "x1",
        ] {
            assert_eq!(PackageName::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_hostile_names() {
        let long = "a".repeat(10_000);
        for bad in [
            "",
            "a",
            "../../etc/passwd",
            "..",
            ".hidden",
            "a b",
            "a/b",
            "Hello",
            "-x",
            "+x",
            "pkg\nfake log line",
            "pkg;rm -rf /",
            "pkg$(id)",
            "pkg`id`",
            "pkg|x",
            "p\u{e9}kg",
            long.as_str(),
        ] {
            assert!(PackageName::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn error_messages_are_one_short_line() {
        let err = PackageName::parse(&format!("x\n{}", "y".repeat(500))).unwrap_err();
        let msg = err.to_string();
        assert!(!msg.contains('\n'), "{msg}");
        assert!(msg.len() < 200, "{msg}");
        assert_eq!(
            PackageName::parse("../../etc/passwd")
                .unwrap_err()
                .to_string(),
            "invalid package name \"../../etc/passwd\": must start with a lowercase letter or \
             digit and contain only a-z, 0-9, '+', '-' and '.'"
        );
    }
}
