//! `importctl status`: the one-screen summary (queue, running, failed, breaker, paused,
//! oldest job, driver).

use std::io::Write;

use pkgimport_queue::Timestamp;

use super::util::{ago, print_json};
use crate::config::Config;
use crate::{Exit, Failure};

pub(super) fn run(config: &Config, json: bool, out: &mut dyn Write) -> Result<Exit, Failure> {
    let mut store = crate::open_store(config)?;
    let st = store.status()?;
    if json {
        print_json(out, &st)?;
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
    Ok(Exit::Ok)
}
