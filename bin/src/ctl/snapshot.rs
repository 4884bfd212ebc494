//! `importctl snapshot`: records today's failure count, the baseline of `importctl check`
//! (a timer runs it daily).

use std::io::Write;

use pkgimport_queue::Timestamp;

use crate::config::Config;
use crate::{Exit, Failure};

pub(super) fn run(config: &Config, out: &mut dyn Write) -> Result<Exit, Failure> {
    let mut store = crate::open_store(config)?;
    let day: String = Timestamp::now().to_string().chars().take(10).collect();
    let snap = store.take_snapshot(&day)?;
    writeln!(
        out,
        "snapshot {}: {} failed, {} need attention, {} queued",
        snap.day, snap.failed, snap.needs_attention, snap.queued
    )?;
    Ok(Exit::Ok)
}
