//! `importctl metrics`: the Prometheus text exposition format, read from the state database.
//!
//! Conventional names (`_total` for counters, `_seconds` and `_bytes` for units), no
//! per-package labels (tens of thousands of series would swamp Prometheus), and counters
//! that only grow: they come from the runs table and the persistent counters that the
//! short-lived processes add to on exit. How current each distribution and series is comes
//! labelled `{distribution="...",series="..."}`: a few dozen label sets, one per series
//! Launchpad lists.

use std::fmt::Write;

use pkgimport_queue::{Store, Timestamp};

use crate::series::{SeriesReport, series_reports};

/// Upper bounds of the run-duration histogram, in seconds.
const BUCKETS: [f64; 9] = [1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0];

/// Renders every metric.
pub fn render(store: &mut Store, now: Timestamp) -> Result<String, pkgimport_queue::Error> {
    let st = store.status()?;
    let pkgimport_queue::monitor::RunStats {
        by_outcome,
        durations,
    } = store.run_stats()?;
    let transitions = store.breaker_transitions()?;
    let counters = store.counters()?;
    let series = series_reports(store)?;
    let (_, patch_warnings) = store.patch_warnings(0)?;
    let counter = |name: &str| {
        counters
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, v)| *v)
    };
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {}", number(*value));
        }
    };
    family(
        "pkgimport_jobs",
        "gauge",
        "Jobs by state; failed counts packages with an un-retried failure.",
        &[
            ("{state=\"queued\"}".into(), st.queued as f64),
            ("{state=\"running\"}".into(), st.running as f64),
            ("{state=\"delayed\"}".into(), st.delayed as f64),
            ("{state=\"blocked\"}".into(), st.blocked as f64),
            ("{state=\"failed\"}".into(), st.failed as f64),
            (
                "{state=\"needs_attention\"}".into(),
                st.needs_attention as f64,
            ),
        ],
    );
    let outcomes: Vec<(String, f64)> = pkgimport_queue::Outcome::ALL
        .iter()
        .map(|o| {
            let n = by_outcome
                .iter()
                .find(|(name, _)| name == o.as_str())
                .map_or(0, |(_, n)| *n);
            (format!("{{outcome=\"{}\"}}", o.as_str()), n as f64)
        })
        .collect();
    family(
        "pkgimport_runs_total",
        "counter",
        "Finished import runs by outcome.",
        &outcomes,
    );
    let mut hist: Vec<(String, f64)> = BUCKETS
        .iter()
        .map(|b| {
            (
                format!("_bucket{{le=\"{}\"}}", number(*b)),
                durations.iter().filter(|d| **d <= *b).count() as f64,
            )
        })
        .collect();
    hist.push(("_bucket{le=\"+Inf\"}".into(), durations.len() as f64));
    hist.push(("_sum".into(), durations.iter().sum()));
    hist.push(("_count".into(), durations.len() as f64));
    family(
        "pkgimport_run_duration_seconds",
        "histogram",
        "Duration of finished import runs.",
        &hist,
    );
    family(
        "pkgimport_oldest_queued_job_age_seconds",
        "gauge",
        "Age of the oldest queued job; 0 when none is queued.",
        &[(String::new(), st.oldest_queued_age_s.unwrap_or(0) as f64)],
    );
    let state = match st.breaker.as_str() {
        "open" => 2.0,
        "half-open" => 1.0,
        _ => 0.0,
    };
    family(
        "pkgimport_breaker_state",
        "gauge",
        "The circuit breaker: 0 closed, 1 half-open, 2 open.",
        &[(String::new(), state)],
    );
    let to: Vec<(String, f64)> = ["open", "half-open", "closed"]
        .iter()
        .map(|t| {
            let n = transitions
                .iter()
                .find(|(s, _)| s == t)
                .map_or(0, |(_, n)| *n);
            (format!("{{to=\"{t}\"}}"), n as f64)
        })
        .collect();
    family(
        "pkgimport_breaker_transitions_total",
        "counter",
        "Changes of the circuit breaker's state.",
        &to,
    );
    family(
        "pkgimport_launchpad_requests_total",
        "counter",
        "HTTP requests to Launchpad, every attempt counted.",
        &[(String::new(), counter("launchpad_requests_total") as f64)],
    );
    family(
        "pkgimport_launchpad_retries_total",
        "counter",
        "Launchpad requests retried after a transient error.",
        &[(String::new(), counter("launchpad_retries_total") as f64)],
    );
    family(
        "pkgimport_last_poll_success_timestamp_seconds",
        "gauge",
        "When poll-uploads last succeeded, in seconds since the epoch; 0 if never.",
        &[(String::new(), counter("last_poll_ok_ms") as f64 / 1000.0)],
    );
    family(
        "pkgimport_last_reconcile_timestamp_seconds",
        "gauge",
        "When the last complete importctl reconcile finished, in seconds since the epoch; 0 if never.",
        &[(String::new(), counter("last_reconcile_ms") as f64 / 1000.0)],
    );
    family(
        "pkgimport_last_reconcile_missed_publications",
        "gauge",
        "Publications that polling missed, as the last complete importctl reconcile found.",
        &[(String::new(), counter("last_reconcile_missed") as f64)],
    );
    family(
        "pkgimport_sqlite_wal_bytes",
        "gauge",
        "Size of the state database's write-ahead log.",
        &[(String::new(), store.wal_bytes() as f64)],
    );
    let heartbeat = st
        .driver
        .map_or(-1.0, |h| h.last_seen.age(now).as_secs_f64());
    family(
        "pkgimport_driver_heartbeat_age_seconds",
        "gauge",
        "Seconds since the driver's last heartbeat; -1 if no driver ever ran.",
        &[(String::new(), heartbeat)],
    );
    let per_series = |value: &dyn Fn(&SeriesReport) -> f64| -> Vec<(String, f64)> {
        series
            .iter()
            .map(|r| (series_labels(r), value(r)))
            .collect()
    };
    family(
        "pkgimport_patch_warnings",
        "gauge",
        "Imported versions whose quilt patches do not apply: no patches-applied refs for them.",
        &[(String::new(), patch_warnings as f64)],
    );
    let seconds = |t: Option<Timestamp>| t.map_or(0.0, |t| t.0 as f64 / 1000.0);
    family(
        "pkgimport_series_packages",
        "gauge",
        "Packages with a publication imported in the series.",
        &per_series(&|r| r.figures.packages as f64),
    );
    family(
        "pkgimport_series_out_of_date_packages",
        "gauge",
        "Packages whose newest publication seen is in the series and not imported.",
        &per_series(&|r| r.figures.out_of_date as f64),
    );
    family(
        "pkgimport_series_newest_imported_timestamp_seconds",
        "gauge",
        "Creation time of the newest publication imported in the series; 0 if none.",
        &per_series(&|r| seconds(r.newest_imported_at)),
    );
    family(
        "pkgimport_series_newest_seen_timestamp_seconds",
        "gauge",
        "Creation time of the newest publication the poller saw in the series; 0 if none.",
        &per_series(&|r| seconds(r.newest_seen_at)),
    );
    family(
        "pkgimport_series_lag_seconds",
        "gauge",
        "Newest publication seen less newest imported in the series; 0 when current or unknown.",
        &per_series(&|r| r.lag().as_secs_f64()),
    );
    Ok(out)
}

/// `{distribution="ubuntu",series="noble"}`.
fn series_labels(r: &SeriesReport) -> String {
    format!(
        "{{distribution=\"{}\",series=\"{}\"}}",
        label_value(&r.figures.distribution),
        label_value(&r.figures.series)
    )
}

/// A label value as the exposition format requires: backslash, double quote and line feed
/// escaped.
fn label_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Prometheus numbers: integers without a fraction, others as they are.
fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label_value("noble"), "noble");
        assert_eq!(label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    }

    #[test]
    fn numbers_are_integers_when_they_can_be() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(1.5), "1.5");
    }
}
