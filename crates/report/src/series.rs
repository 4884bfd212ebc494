//! How current each distribution and series is, as every view shows it (the metrics, the
//! status site, `importctl status`): the figures of `Store::series_freshness`, with
//! Launchpad's `date_created` strings read as times, the lag between what was seen and what
//! was imported, and the age of the newest import.
//!
//! The figures come from one statement over whole tables, so a view costs the same few
//! hundred milliseconds for 40,000 packages whatever it shows.

use std::time::Duration;

use chrono::DateTime;
use pkgimport_queue::monitor::SeriesFreshness;
use pkgimport_queue::{Status, Store, Timestamp};
use serde::Serialize;

/// One series of one distribution, with its times read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesReport {
    /// The figures as the state database gives them.
    pub figures: SeriesFreshness,
    /// When the newest publication imported in the series was created on Launchpad.
    pub newest_imported_at: Option<Timestamp>,
    /// When the newest publication the poller saw in the series was created.
    pub newest_seen_at: Option<Timestamp>,
}

impl SeriesReport {
    pub fn new(figures: SeriesFreshness) -> SeriesReport {
        SeriesReport {
            newest_imported_at: figures.newest_imported.as_deref().and_then(launchpad_time),
            newest_seen_at: figures.newest_seen.as_deref().and_then(launchpad_time),
            figures,
        }
    }

    /// How far the imports trail the poller: the newest publication seen less the newest
    /// imported. Zero when the newest seen is imported, and when either is unknown (a
    /// series with nothing imported yet shows in `out_of_date`, not here).
    pub fn lag(&self) -> Duration {
        match (self.newest_seen_at, self.newest_imported_at) {
            (Some(seen), Some(imported)) => imported.age(seen),
            _ => Duration::ZERO,
        }
    }

    /// How long ago the newest publication imported in the series was created.
    pub fn imported_age(&self, now: Timestamp) -> Option<Duration> {
        self.newest_imported_at.map(|t| t.age(now))
    }
}

/// Every series the state database knows, by distribution, newest series first.
pub fn series_reports(store: &mut Store) -> Result<Vec<SeriesReport>, pkgimport_queue::Error> {
    Ok(store
        .series_freshness()?
        .into_iter()
        .map(SeriesReport::new)
        .collect())
}

/// `importctl status --json` and importer-web's `GET /api/v1/status`: the status's keys, and
/// `series`. docs/json.md describes the keys.
#[derive(Clone, Debug, Serialize)]
pub struct StatusJson {
    #[serde(flatten)]
    pub status: Status,
    pub series: Vec<SeriesJson>,
}

impl StatusJson {
    pub fn new(status: Status, series: &[SeriesReport]) -> StatusJson {
        StatusJson {
            status,
            series: series.iter().map(SeriesJson::new).collect(),
        }
    }
}

/// One series in [`StatusJson::series`].
#[derive(Clone, Debug, Serialize)]
pub struct SeriesJson {
    pub distribution: String,
    pub series: String,
    pub status: Option<String>,
    pub development: bool,
    pub packages: u64,
    pub out_of_date: u64,
    pub newest_imported: Option<Timestamp>,
    pub newest_seen: Option<Timestamp>,
    pub lag_s: u64,
}

impl SeriesJson {
    pub fn new(r: &SeriesReport) -> SeriesJson {
        let f = &r.figures;
        SeriesJson {
            distribution: f.distribution.clone(),
            series: f.series.clone(),
            status: f.status.clone(),
            development: f.development,
            packages: f.packages,
            out_of_date: f.out_of_date,
            newest_imported: r.newest_imported_at,
            newest_seen: r.newest_seen_at,
            lag_s: r.lag().as_secs(),
        }
    }
}

/// A Launchpad time string (`2024-05-01T10:00:00.123456+00:00`, RFC 3339 with an offset) as
/// a [`Timestamp`]; `None` when it cannot be read.
pub fn launchpad_time(raw: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| Timestamp(t.timestamp_millis()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(imported: Option<&str>, seen: Option<&str>) -> SeriesReport {
        SeriesReport::new(SeriesFreshness {
            distribution: "ubuntu".into(),
            series: "noble".into(),
            status: None,
            development: false,
            packages: 1,
            out_of_date: 0,
            newest_imported: imported.map(Into::into),
            newest_seen: seen.map(Into::into),
        })
    }

    #[test]
    fn times_are_read_with_their_offset() {
        assert_eq!(
            launchpad_time("1970-01-01T00:00:01.5+00:00"),
            Some(Timestamp(1500))
        );
        assert_eq!(
            launchpad_time("1970-01-01T01:00:01+01:00"),
            Some(Timestamp(1000))
        );
        assert_eq!(launchpad_time("yesterday"), None);
    }

    #[test]
    fn the_lag_is_seen_less_imported_and_never_negative() {
        let a = "2024-05-01T10:00:00.000000+00:00";
        let b = "2024-05-01T10:02:30.500000+00:00";
        assert_eq!(
            report(Some(a), Some(b)).lag(),
            Duration::from_millis(150_500)
        );
        assert_eq!(report(Some(b), Some(b)).lag(), Duration::ZERO);
        // An import newer than the watermark (the poller has not caught up): current.
        assert_eq!(report(Some(b), Some(a)).lag(), Duration::ZERO);
        assert_eq!(report(None, Some(b)).lag(), Duration::ZERO);
        assert_eq!(report(Some(a), None).lag(), Duration::ZERO);
        assert_eq!(report(Some("garbage"), Some(b)).lag(), Duration::ZERO);
        let r = report(Some(a), None);
        let now = r.newest_imported_at.unwrap().plus(Duration::from_secs(60));
        assert_eq!(r.imported_age(now), Some(Duration::from_secs(60)));
        assert_eq!(report(None, None).imported_age(now), None);
    }
}
