//! The few facts the importer reads from `debian/changelog`: the top entry (its version,
//! text, sign-off and date) and the versions of the entries below it.
//!
//! Hand-written rather than taken from the `debian-changelog` crate: that crate is a
//! lossless, editable syntax tree with its own dependency tree, while the importer only reads
//! the header lines and the first trailer line. Changelogs in the wild are often malformed
//! below the first entries, so the parser is lenient there: a line it does not recognise is
//! simply not a header.

use chrono::{DateTime, FixedOffset};

/// The top entry of a changelog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub package: String,
    pub version: String,
    /// The whole entry, header to trailer, as it stands in the file.
    pub text: String,
    pub author_name: String,
    pub author_email: String,
    pub date: DateTime<FixedOffset>,
}

/// What the importer needs from a changelog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changelog {
    pub top: Entry,
    /// The versions of every entry, newest first, the top one included.
    pub versions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangelogError {
    #[error("debian/changelog: no entry header (\"package (version) distribution; urgency=...\")")]
    NoHeader,
    #[error("debian/changelog: the first entry has no trailer line (\" -- Name <email>  date\")")]
    NoTrailer,
    #[error("debian/changelog: bad trailer line {0:?}")]
    BadTrailer(String),
    #[error("debian/changelog: bad date {0:?}")]
    BadDate(String),
}

/// Parses the top entry and collects the versions of all entries.
pub fn parse(text: &str) -> Result<Changelog, ChangelogError> {
    let lines: Vec<&str> = text.lines().collect();
    let first = lines
        .iter()
        .position(|l| header(l).is_some())
        .ok_or(ChangelogError::NoHeader)?;
    let (package, version) = header(lines[first]).expect("found above");
    let trailer_at = lines[first..]
        .iter()
        .position(|l| l.starts_with(" -- "))
        .map(|i| i + first)
        .ok_or(ChangelogError::NoTrailer)?;
    let (author_name, author_email, date) = trailer(lines[trailer_at])?;
    let entry_text = lines[first..=trailer_at].join("\n") + "\n";
    let versions = lines[first..]
        .iter()
        .filter_map(|l| header(l).map(|(_, v)| v.to_owned()))
        .collect();
    Ok(Changelog {
        top: Entry {
            package: package.to_owned(),
            version: version.to_owned(),
            text: entry_text,
            author_name,
            author_email,
            date,
        },
        versions,
    })
}

/// `hello (2.10-3) unstable; urgency=medium` → `("hello", "2.10-3")`. Header lines start at
/// column 0 with a package name; continuation and bullet lines start with a space.
fn header(line: &str) -> Option<(&str, &str)> {
    let first = line.chars().next()?;
    if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
        return None;
    }
    let (package, rest) = line.split_once(" (")?;
    let (version, rest) = rest.split_once(')')?;
    if package.contains(char::is_whitespace) || version.is_empty() || !rest.contains(';') {
        return None;
    }
    Some((package, version))
}

/// ` -- Jane Doe <jane@example.org>  Mon, 01 Jan 2024 12:00:00 +0100`
fn trailer(line: &str) -> Result<(String, String, DateTime<FixedOffset>), ChangelogError> {
    let bad = || ChangelogError::BadTrailer(line.to_owned());
    let rest = line.strip_prefix(" -- ").ok_or_else(bad)?;
    let (name, rest) = rest.split_once('<').ok_or_else(bad)?;
    let (email, rest) = rest.split_once('>').ok_or_else(bad)?;
    let date = rest.trim();
    let parsed = DateTime::parse_from_rfc2822(date)
        // Some old entries name the weekday wrongly or leave it out; the date still counts.
        .or_else(|_| DateTime::parse_from_rfc2822(date.split_once(", ").map_or(date, |(_, d)| d)))
        .map_err(|_| ChangelogError::BadDate(date.to_owned()))?;
    Ok((name.trim().to_owned(), email.trim().to_owned(), parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &str = "hello (2.10-3) unstable; urgency=medium

  * Fix the frobnicator.
    Continued line (with parentheses).

 -- Santiago Vila <sanvila@debian.org>  Sun, 22 Jan 2023 18:52:12 +0100

hello (2.10-2) unstable; urgency=low

  * Older.

 -- Santiago Vila <sanvila@debian.org>  Sat, 05 Jan 2019 13:00:00 +0100

hello (2.9-1) experimental; urgency=low
 -- Someone <x@y>  broken date
";

    #[test]
    fn top_entry_and_versions() {
        let c = parse(HELLO).unwrap();
        assert_eq!(c.top.package, "hello");
        assert_eq!(c.top.version, "2.10-3");
        assert_eq!(c.top.author_name, "Santiago Vila");
        assert_eq!(c.top.author_email, "sanvila@debian.org");
        assert_eq!(c.top.date.to_rfc3339(), "2023-01-22T18:52:12+01:00");
        assert!(c.top.text.starts_with("hello (2.10-3)"));
        assert!(c.top.text.ends_with("+0100\n"));
        assert!(!c.top.text.contains("2.10-2"));
        assert_eq!(c.versions, ["2.10-3", "2.10-2", "2.9-1"]);
    }

    #[test]
    fn malformed_changelogs_are_clear_errors() {
        assert_eq!(parse("nothing here\n"), Err(ChangelogError::NoHeader));
        assert_eq!(
            parse("x (1) unstable; urgency=low\n  * a\n"),
            Err(ChangelogError::NoTrailer)
        );
        assert!(matches!(
            parse("x (1) u; urgency=low\n -- A <a@b>  yesterday\n"),
            Err(ChangelogError::BadDate(_))
        ));
        assert!(matches!(
            parse("x (1) u; urgency=low\n -- no email  Mon, 01 Jan 2024 00:00:00 +0000\n"),
            Err(ChangelogError::BadTrailer(_))
        ));
    }

    #[test]
    fn a_wrong_weekday_still_parses() {
        let c = parse("x (1) u; urgency=low\n\n -- A <a@b>  Mon, 02 Jan 2024 00:00:00 +0000\n")
            .unwrap();
        assert_eq!(c.top.date.to_rfc3339(), "2024-01-02T00:00:00+00:00");
    }
}
