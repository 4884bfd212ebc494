//! Job priorities: named levels, or any integer in between.
//!
//! A bigger number is claimed first. The names give the four sources of work their fixed
//! order: a human asking (`manual`) beats a fresh upload, which beats an automatic retry,
//! which beats a bulk re-scan.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Priority(pub i64);

impl Priority {
    pub const MANUAL: Priority = Priority(100);
    pub const UPLOAD: Priority = Priority(50);
    pub const RETRY: Priority = Priority(30);
    pub const RESCAN: Priority = Priority(10);

    const NAMES: [(&'static str, Priority); 4] = [
        ("manual", Priority::MANUAL),
        ("upload", Priority::UPLOAD),
        ("retry", Priority::RETRY),
        ("rescan", Priority::RESCAN),
    ];

    /// Parses `manual`, `upload`, `retry`, `rescan`, or an integer.
    pub fn parse(raw: &str) -> Result<Priority, String> {
        let raw = raw.trim();
        if let Some((_, p)) = Self::NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(raw))
        {
            return Ok(*p);
        }
        raw.parse::<i64>().map(Priority).map_err(|_| {
            format!("invalid priority {raw:?}: use manual, upload, retry, rescan or an integer")
        })
    }

    /// The name of this level, if it is one of the named ones.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMES
            .iter()
            .find(|(_, p)| *p == self)
            .map(|(n, _)| *n)
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "{}", self.0),
        }
    }
}

impl std::str::FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Priority::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_order() {
        let p = |s| Priority::parse(s).unwrap();
        assert!(p("manual") > p("upload"));
        assert!(p("upload") > p("retry"));
        assert!(p("retry") > p("rescan"));
        assert_eq!(p("42"), Priority(42));
        assert_eq!(p("-3"), Priority(-3));
        assert_eq!(p("Manual"), Priority::MANUAL);
        assert_eq!(Priority(50).to_string(), "upload");
        assert_eq!(Priority(51).to_string(), "51");
        assert!(Priority::parse("urgent").is_err());
    }
}
