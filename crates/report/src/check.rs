//! `importctl check`: a Nagios/Icinga plugin that alerts on anomalies, not on every failure.
//!
//! It follows the Monitoring Plugins guidelines: one line of output, `PACKAGE-IMPORTER
//! STATE - summary | perfdata`, exit 0/1/2/3 for OK/WARNING/CRITICAL/UNKNOWN, thresholds in
//! the standard range syntax, and UNKNOWN only when the check itself cannot work. The
//! failure count is judged against a baseline ("we normally have 500 failed imports, and
//! now we have 1000"), not against zero.

use std::fmt;

/// A threshold in the Monitoring Plugins range syntax: `10` (alert outside 0..10), `10:`
/// (below 10), `~:10` (above 10), `10:20` (outside 10..20), `@10:20` (inside 10..20).
#[derive(Clone, Debug, PartialEq)]
pub struct Range {
    start: f64,
    end: f64,
    inside: bool,
    text: String,
}

impl Range {
    pub fn parse(text: &str) -> Result<Range, String> {
        let bad = || format!("invalid range {text:?} (examples: 10, 10:, ~:10, 10:20, @10:20)");
        let (inside, body) = match text.strip_prefix('@') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let num = |s: &str| s.trim().parse::<f64>().map_err(|_| bad());
        let (start, end) = match body.split_once(':') {
            None => (0.0, num(body)?),
            Some(("~", "")) => (f64::NEG_INFINITY, f64::INFINITY),
            Some(("~", e)) => (f64::NEG_INFINITY, num(e)?),
            Some((s, "")) => (num(s)?, f64::INFINITY),
            Some((s, e)) => (num(s)?, num(e)?),
        };
        if start > end || body.is_empty() {
            return Err(bad());
        }
        Ok(Range {
            start,
            end,
            inside,
            text: text.to_owned(),
        })
    }

    /// "Alert above `limit`": the range `0:limit`... written the short way.
    pub fn above(limit: f64) -> Range {
        Range::parse(&format_number(limit)).expect("a number is a range")
    }

    /// Whether `value` raises the alert.
    pub fn alerts(&self, value: f64) -> bool {
        let within = value >= self.start && value <= self.end;
        if self.inside { within } else { !within }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The four states, in order of severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl State {
    pub fn code(self) -> u8 {
        match self {
            State::Ok => 0,
            State::Warning => 1,
            State::Critical => 2,
            State::Unknown => 3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }
}

/// One measured value with its thresholds.
#[derive(Clone, Debug)]
pub struct Metric {
    /// The perfdata label and the name for `-w`/`-c` overrides.
    pub label: &'static str,
    pub value: f64,
    /// Unit of measure for perfdata: `s`, `B`, or empty.
    pub uom: &'static str,
    pub warn: Option<Range>,
    pub crit: Option<Range>,
    /// A short phrase for the summary, such as `oldest job 1h2m`.
    pub phrase: String,
}

impl Metric {
    pub fn state(&self) -> State {
        if self.crit.as_ref().is_some_and(|r| r.alerts(self.value)) {
            State::Critical
        } else if self.warn.as_ref().is_some_and(|r| r.alerts(self.value)) {
            State::Warning
        } else {
            State::Ok
        }
    }

    fn perfdata(&self) -> String {
        let r = |x: &Option<Range>| x.as_ref().map_or(String::new(), |r| r.to_string());
        format!(
            "{}={}{};{};{};0",
            self.label,
            format_number(self.value),
            self.uom,
            r(&self.warn),
            r(&self.crit)
        )
    }
}

/// The plugin's one line and its state.
pub fn render(metrics: &[Metric]) -> (State, String) {
    let state = metrics.iter().map(Metric::state).max().unwrap_or(State::Ok);
    // Problems first, worst first, so the line that pages someone says why.
    let mut ordered: Vec<&Metric> = metrics.iter().collect();
    ordered.sort_by_key(|m| std::cmp::Reverse(m.state()));
    let summary: Vec<&str> = ordered.iter().map(|m| m.phrase.as_str()).collect();
    let perf: Vec<String> = metrics.iter().map(Metric::perfdata).collect();
    (
        state,
        format!(
            "PACKAGE-IMPORTER {} - {} | {}",
            state.name(),
            summary.join(", "),
            perf.join(" ")
        ),
    )
}

/// The plugin's line when it cannot check at all.
pub fn unknown(why: &str) -> String {
    let one_line = why.replace(['\n', '|'], " ");
    format!("PACKAGE-IMPORTER UNKNOWN - {one_line}")
}

/// The median of the daily failure snapshots, the usual number of failures.
pub fn median(values: &[u64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let mid = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) as f64 / 2.0
    } else {
        v[mid] as f64
    })
}

fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x:.3}")
    }
}

/// The check's thresholds, from the configuration and the command line.
#[derive(Clone, Debug)]
pub struct CheckSettings {
    /// A fixed failure baseline; `None` takes the median of the last 7 daily snapshots.
    pub failure_baseline: Option<u64>,
    /// The baseline is never taken below this, so that a quiet week does not make two
    /// failures an alarm.
    pub failure_floor: u64,
    pub oldest_age: (f64, f64),
    pub breaker_open: (f64, f64),
    pub driver_age: (f64, f64),
    pub poll_age: (f64, f64),
    pub wal_bytes: (f64, f64),
    /// Warn when the last complete reconcile found more publications than this that
    /// polling missed.
    pub reconcile_missed: f64,
    /// `-w label=RANGE` and `-c label=RANGE` from the command line.
    pub overrides: Vec<Override>,
}

/// One threshold given on the command line: (label, warning, critical).
pub type Override = (String, Option<Range>, Option<Range>);

/// A value that stands for "never": larger than any threshold.
const NEVER: f64 = 999_999_999.0;

/// Measures everything the check looks at.
pub fn measure(
    store: &mut pkgimport_queue::Store,
    s: &CheckSettings,
    now: pkgimport_queue::Timestamp,
) -> Result<Vec<Metric>, pkgimport_queue::Error> {
    let st = store.status()?;
    let counters = store.counters()?;
    let counter = |name: &str| counters.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    let both = |label, value, uom, (w, c): (f64, f64), phrase: String| Metric {
        label,
        value,
        uom,
        warn: Some(Range::above(w)),
        crit: Some(Range::above(c)),
        phrase,
    };
    let mut metrics = Vec::new();

    let snapshots: Vec<u64> = store.snapshots(7)?.iter().map(|s| s.failed).collect();
    let baseline = s
        .failure_baseline
        .map(|b| b as f64)
        .or_else(|| median(&snapshots))
        .unwrap_or(0.0);
    let b = baseline.max(s.failure_floor as f64);
    metrics.push(both(
        "failed",
        st.failed as f64,
        "",
        (1.5 * b, 2.0 * b),
        format!(
            "{} failed (baseline {})",
            st.failed,
            format_number(baseline)
        ),
    ));

    let oldest = store
        .oldest_claimable_age()?
        .map_or(0.0, |d| d.as_secs_f64().floor());
    let phrase = if oldest > 0.0 {
        format!("oldest job {}", ago(oldest))
    } else {
        "queue idle".to_owned()
    };
    metrics.push(both("oldest_age", oldest, "s", s.oldest_age, phrase));

    let open_for = match st.breaker_opened_at {
        Some(t) if st.breaker != "closed" => t.age(now).as_secs_f64().floor(),
        _ => 0.0,
    };
    let phrase = if st.breaker == "closed" {
        "breaker closed".to_owned()
    } else {
        format!("breaker {} for {}", st.breaker, ago(open_for))
    };
    metrics.push(both("breaker_open", open_for, "s", s.breaker_open, phrase));

    let (driver, phrase) = match &st.driver {
        Some(h) => {
            let age = h.last_seen.age(now).as_secs_f64().floor();
            (age, format!("driver seen {} ago", ago(age)))
        }
        None => (NEVER, "driver never ran".to_owned()),
    };
    metrics.push(both("driver_age", driver, "s", s.driver_age, phrase));

    let (poll, phrase) = match counter("last_poll_ok_ms") {
        Some(ms) => {
            let age = pkgimport_queue::Timestamp(ms)
                .age(now)
                .as_secs_f64()
                .floor();
            (age, format!("last poll {} ago", ago(age)))
        }
        None => (NEVER, "no successful poll yet".to_owned()),
    };
    metrics.push(both("poll_age", poll, "s", s.poll_age, phrase));

    let mismatches = counter("last_verify_mismatches").unwrap_or(0) as f64;
    metrics.push(Metric {
        label: "verify_mismatches",
        value: mismatches,
        uom: "",
        warn: None,
        crit: Some(Range::above(0.0)),
        phrase: format!(
            "{} mismatched refs at the last verify",
            format_number(mismatches)
        ),
    });

    // Publications that the poller's skew window let slip: the window is too small. A
    // warning, not critical: the reconcile that found them has enqueued them.
    let missed = counter("last_reconcile_missed").unwrap_or(0) as f64;
    let phrase = match counter("last_reconcile_ms") {
        Some(_) => format!(
            "{} publications missed by polling at the last reconcile",
            format_number(missed)
        ),
        None => "no reconcile yet".to_owned(),
    };
    metrics.push(Metric {
        label: "reconcile_missed",
        value: missed,
        uom: "",
        warn: Some(Range::above(s.reconcile_missed)),
        crit: None,
        phrase,
    });

    let wal = store.wal_bytes() as f64;
    metrics.push(both(
        "wal_bytes",
        wal,
        "B",
        s.wal_bytes,
        format!("WAL {} KiB", (wal / 1024.0).round()),
    ));

    for m in &mut metrics {
        for (label, w, c) in &s.overrides {
            if label == m.label {
                if let Some(w) = w {
                    m.warn = Some(w.clone());
                }
                if let Some(c) = c {
                    m.crit = Some(c.clone());
                }
            }
        }
    }
    Ok(metrics)
}

/// Labels that `-w`/`-c` may name.
pub const LABELS: [&str; 8] = [
    "failed",
    "oldest_age",
    "breaker_open",
    "driver_age",
    "poll_age",
    "verify_mismatches",
    "reconcile_missed",
    "wal_bytes",
];

fn ago(secs: f64) -> String {
    let s = secs.max(0.0) as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        3600..86400 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_the_plugin_guidelines() {
        let cases = [
            (
                "10",
                vec![(-1.0, true), (0.0, false), (10.0, false), (11.0, true)],
            ),
            ("10:", vec![(9.0, true), (10.0, false), (1e9, false)]),
            ("~:10", vec![(-1e9, false), (10.0, false), (10.5, true)]),
            ("10:20", vec![(9.0, true), (15.0, false), (21.0, true)]),
            (
                "@10:20",
                vec![(9.0, false), (15.0, true), (20.0, true), (21.0, false)],
            ),
        ];
        for (text, checks) in cases {
            let r = Range::parse(text).unwrap();
            assert_eq!(r.to_string(), text);
            for (v, alert) in checks {
                assert_eq!(r.alerts(v), alert, "{text} at {v}");
            }
        }
        for bad in ["", "x", "20:10", "1:2:3", "@"] {
            assert!(Range::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn one_line_worst_state_and_perfdata() {
        let m = |label, value, warn: f64, crit: f64, phrase: &str| Metric {
            label,
            value,
            uom: "s",
            warn: Some(Range::above(warn)),
            crit: Some(Range::above(crit)),
            phrase: phrase.to_owned(),
        };
        let (state, line) = render(&[
            m("oldest_age", 10.0, 3600.0, 21600.0, "oldest 10s"),
            m("driver_age", 120.0, 60.0, 300.0, "driver seen 2m ago"),
        ]);
        assert_eq!(state, State::Warning);
        assert_eq!(
            line,
            "PACKAGE-IMPORTER WARNING - driver seen 2m ago, oldest 10s | oldest_age=10s;3600;21600;0 driver_age=120s;60;300;0"
        );
        assert!(!line.contains('\n'));
        assert_eq!(
            unknown("cannot open\nstate.db | x"),
            "PACKAGE-IMPORTER UNKNOWN - cannot open state.db   x"
        );
        assert_eq!(median(&[5, 1, 3]), Some(3.0));
        assert_eq!(median(&[4, 1, 3, 2]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
