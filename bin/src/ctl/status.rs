//! `importctl status`: the one-screen summary (queue, running, failed, breaker, paused,
//! oldest job, driver), and how current each distribution and series is.

use std::io::Write;

use pkgimport_queue::Timestamp;
use pkgimport_report::series::{SeriesReport, StatusJson, series_reports};

use super::util::{ago, print_json};
use crate::config::Config;
use crate::{Exit, Failure};

pub(super) fn run(config: &Config, json: bool, out: &mut dyn Write) -> Result<Exit, Failure> {
    let mut store = crate::open_store(config)?;
    let st = store.status()?;
    let series = series_reports(&mut store)?;
    if json {
        print_json(out, &StatusJson::new(st, &series))?;
        return Ok(Exit::Ok);
    }
    let now = Timestamp::now();
    writeln!(
        out,
        "queued:   {} ({} delayed, {} blocked by failures)",
        st.queued, st.delayed, st.blocked
    )?;
    writeln!(out, "running:  {}", st.running)?;
    writeln!(
        out,
        "failed:   {} ({} need attention)",
        st.failed, st.needs_attention
    )?;
    let since = st.breaker_opened_at.map_or(String::new(), |t| {
        format!(" since {}", ago(t.age(now).as_millis() as u64))
    });
    writeln!(out, "breaker:  {}{since}", st.breaker)?;
    writeln!(out, "paused:   {}", if st.paused { "yes" } else { "no" })?;
    let oldest = st
        .oldest_queued_age_s
        .map_or("-".to_owned(), |s| ago(s * 1000));
    writeln!(out, "oldest:   {oldest}")?;
    let driver = match &st.driver {
        Some(hb) => format!(
            "pid {} on {}, last seen {} ago",
            hb.pid,
            hb.host,
            ago(hb.last_seen.age(now).as_millis() as u64)
        ),
        None => "never seen".to_owned(),
    };
    writeln!(out, "driver:   {driver}")?;
    write_series(out, &series, now)?;
    Ok(Exit::Ok)
}

/// One line per series that has anything to tell (something imported, seen or out of
/// date), aligned; the quiet ones (obsolete series, mostly) are only counted.
fn write_series(
    out: &mut dyn Write,
    series: &[SeriesReport],
    now: Timestamp,
) -> std::io::Result<()> {
    let (shown, quiet): (Vec<&SeriesReport>, Vec<&SeriesReport>) = series.iter().partition(|r| {
        let f = &r.figures;
        f.packages > 0 || f.out_of_date > 0 || f.newest_seen.is_some()
    });
    let name = |r: &SeriesReport| format!("{}/{}", r.figures.distribution, r.figures.series);
    let width = shown.iter().map(|r| name(r).len()).max().unwrap_or(0);
    let age = |t: Option<Timestamp>| {
        t.map_or("-".to_owned(), |t| {
            format!("{} ago", ago(t.age(now).as_millis() as u64))
        })
    };
    for r in &shown {
        let f = &r.figures;
        let status = match (f.status.as_deref(), f.development) {
            (Some(s), true) => format!("{s}, development"),
            (Some(s), false) => s.to_owned(),
            (None, _) => "not listed".to_owned(),
        };
        let lag = r.lag();
        let lag = if lag.is_zero() {
            "none".to_owned()
        } else {
            ago(lag.as_millis() as u64)
        };
        writeln!(
            out,
            "series:   {:width$}  packages {}, out of date {}, imported {}, seen {}, lag {lag} ({status})",
            name(r),
            f.packages,
            f.out_of_date,
            age(r.newest_imported_at),
            age(r.newest_seen_at),
        )?;
    }
    if !quiet.is_empty() {
        writeln!(
            out,
            "series:   {} more listed with nothing imported or seen",
            quiet.len()
        )?;
    }
    Ok(())
}
