//! UP-TO-DATE or OUT-OF-DATE: the newest publication the poller saw of a package against
//! the publications the committed audit says were imported.
//!
//! Pure functions of what the store returns, so that the report makes no Launchpad calls and
//! the rule is unit-tested on its own. Launchpad's `date_created` strings carry an offset
//! (`2024-01-01T12:00:00.123456+00:00`), so they are compared as times, never as strings.

use chrono::{DateTime, FixedOffset};
use pkgimport_queue::audit::PublicationRow;
use pkgimport_queue::monitor::SeenPublication;

/// Whether a package's imports are current.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Freshness {
    /// The poller saw a publication that is not imported, and nothing newer is imported.
    OutOfDate,
    /// The newest publication seen is imported, or something at least as new is.
    UpToDate,
    /// The poller has recorded no publication of this package (it was queued by hand, or
    /// imported before the poller kept this record), or a time could not be read.
    Unknown,
}

impl Freshness {
    /// The label the pages show.
    pub fn label(self) -> &'static str {
        match self {
            Freshness::OutOfDate => "OUT-OF-DATE",
            Freshness::UpToDate => "UP-TO-DATE",
            Freshness::Unknown => "UNKNOWN",
        }
    }
}

/// The newest imported publication by `date_created`; rows whose time cannot be read are
/// passed over.
pub fn newest_imported(imported: &[PublicationRow]) -> Option<&PublicationRow> {
    imported
        .iter()
        .filter_map(|p| parse(&p.date_created).map(|t| (t, p)))
        .max_by_key(|(t, _)| *t)
        .map(|(_, p)| p)
}

/// Compares the newest publication seen with the imported ones.
///
/// The seen publication counts as imported when the same (distro, series, pocket, version)
/// is in the audit. Otherwise the package is out of date unless something strictly newer was
/// imported: a publication of the same instant that is not in the audit is still missing.
pub fn freshness(seen: Option<&SeenPublication>, imported: &[PublicationRow]) -> Freshness {
    let Some(seen) = seen else {
        return Freshness::Unknown;
    };
    let same = |p: &&PublicationRow| {
        p.distro == seen.distro
            && p.series == seen.series
            && p.pocket == seen.pocket
            && p.version == seen.version
    };
    if imported.iter().any(|p| same(&p)) {
        return Freshness::UpToDate;
    }
    let Some(newest) = newest_imported(imported) else {
        return Freshness::OutOfDate;
    };
    match (parse(&seen.date_created), parse(&newest.date_created)) {
        (Some(seen_at), Some(newest_at)) if newest_at > seen_at => Freshness::UpToDate,
        (Some(_), Some(_)) => Freshness::OutOfDate,
        _ => Freshness::Unknown,
    }
}

fn parse(raw: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(raw).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkgimport_queue::Timestamp;

    fn row(version: &str, date: &str) -> PublicationRow {
        PublicationRow {
            distro: "debian".into(),
            series: "sid".into(),
            pocket: "Release".into(),
            version: version.into(),
            date_created: date.into(),
        }
    }

    fn seen(version: &str, date: &str) -> SeenPublication {
        SeenPublication {
            package: "hello".into(),
            distro: "debian".into(),
            series: "sid".into(),
            pocket: "Release".into(),
            version: version.into(),
            date_created: date.into(),
            seen_at: Timestamp(0),
        }
    }

    fn check(seen_pub: Option<(&str, &str)>, imported: &[(&str, &str)], expect: Freshness) {
        let imported: Vec<_> = imported.iter().map(|(v, d)| row(v, d)).collect();
        let seen_pub = seen_pub.map(|(v, d)| seen(v, d));
        assert_eq!(
            freshness(seen_pub.as_ref(), &imported),
            expect,
            "seen {seen_pub:?}, imported {imported:?}"
        );
    }

    #[test]
    fn the_rule() {
        use Freshness::*;
        let t1 = "2024-01-01T10:00:00+00:00";
        let t2 = "2024-01-02T10:00:00.5+00:00";
        check(None, &[("1", t1)], Unknown);
        check(None, &[], Unknown);
        check(Some(("1", t1)), &[], OutOfDate);
        check(Some(("1", t1)), &[("1", t1)], UpToDate);
        check(Some(("2", t2)), &[("1", t1)], OutOfDate);
        check(Some(("1", t1)), &[("2", t2)], UpToDate);
        // Same instant, different version: the seen one is still missing.
        check(Some(("2", t1)), &[("1", t1)], OutOfDate);
        // Times, not strings: 11:00+02:00 is 09:00Z, before 10:00Z.
        check(
            Some(("2", "2024-01-01T11:00:00+02:00")),
            &[("1", t1)],
            UpToDate,
        );
        check(
            Some(("2", "2024-01-01T11:00:00-02:00")),
            &[("1", t1)],
            OutOfDate,
        );
        check(Some(("2", "yesterday")), &[("1", t1)], Unknown);
    }

    #[test]
    fn newest_imported_compares_times_and_skips_unreadable_ones() {
        let rows = [
            row("a", "2024-01-01T12:00:00+00:00"),
            row("b", "2024-01-01T13:00:00+03:00"),
            row("c", "garbage"),
        ];
        assert_eq!(
            newest_imported(&rows).map(|p| p.version.as_str()),
            Some("a")
        );
        assert_eq!(newest_imported(&rows[2..]), None);
    }
}
