//! `importctl report`: writes the static HTML status site into a directory, atomically.
//! One report at a time per state directory: another one running makes this one exit 0.
//!
//! With `--watch` it then keeps the lock and the site: it follows the events table and
//! rewrites only the pages each batch of events touches (each page replaced by a rename),
//! until it is killed. The timer's reports exit 0 meanwhile, since the lock is held.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use pkgimport_queue::Timestamp;
use pkgimport_queue::lock::{self, LockName};

use crate::config::{Config, settings};
use crate::{Exit, Failure, OrExit};
use pkgimport_report::SiteWriter;
use pkgimport_report::follow::Follower;

pub(super) fn run(
    config: &Config,
    dir: &Path,
    watch: bool,
    out: &mut dyn Write,
) -> Result<Exit, Failure> {
    let state_dir = config.state_dir();
    let mut store = crate::open_store(config)?;
    let Ok(_lock) = lock::try_lock(&state_dir, LockName::Report).or_exit(Exit::Failure)? else {
        log::info!("another importctl report is writing; exiting");
        return Ok(Exit::Ok);
    };
    let options =
        pkgimport_report::ReportOptions::with_default_limits(state_dir.clone(), Timestamp::now());
    if watch {
        return watch_site(config, &mut store, options, dir, out);
    }
    let s = pkgimport_report::write_report(&mut store, &options, dir)
        .with_context(|| format!("writing the report into {}", dir.display()))?;
    writeln!(
        out,
        "report in {}: {} packages ({} out of date), {} failed, {} pages",
        dir.display(),
        s.packages,
        s.out_of_date,
        s.failed,
        s.pages
    )?;
    Ok(Exit::Ok)
}

/// Writes the site, then rewrites what each batch of events touches, forever.
fn watch_site(
    config: &Config,
    store: &mut pkgimport_queue::Store,
    mut options: pkgimport_report::ReportOptions,
    dir: &Path,
    out: &mut dyn Write,
) -> Result<Exit, Failure> {
    let mut follower = Follower::from_now(store)?;
    let (mut site, s) = SiteWriter::start(store, &options, dir)
        .with_context(|| format!("writing the report into {}", dir.display()))?;
    writeln!(
        out,
        "report in {}: {} packages; watching for changes",
        dir.display(),
        s.packages
    )?;
    out.flush()?;
    let poll = settings::event_poll(config);
    loop {
        let (events, touched) = follower.poll(store)?;
        if !touched.is_empty() {
            options.now = Timestamp::now();
            let pages = site
                .apply(store, &options, &touched)
                .with_context(|| format!("updating the report in {}", dir.display()))?;
            log::info!(
                "report updated events={} pages={pages} last_event={}",
                events.len(),
                events.last().map_or(0, |e| e.id)
            );
        }
        // PostgreSQL wakes this at once; SQLite sleeps the interval.
        store.wait_for_events(poll)?;
    }
}
