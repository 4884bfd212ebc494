//! `importctl report`: writes the static HTML status site into a directory, atomically.
//! One report at a time per state directory: another one running makes this one exit 0.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use pkgimport_queue::Timestamp;
use pkgimport_queue::lock::{self, LockName};

use crate::config::Config;
use crate::{Exit, Failure, OrExit};

pub(super) fn run(config: &Config, dir: &Path, out: &mut dyn Write) -> Result<Exit, Failure> {
    let state_dir = config.state_dir();
    let mut store = crate::open_store(config)?;
    let Ok(_lock) = lock::try_lock(&state_dir, LockName::Report).or_exit(Exit::Failure)? else {
        log::info!("another importctl report is writing; exiting");
        return Ok(Exit::Ok);
    };
    let options =
        pkgimport_report::ReportOptions::with_default_limits(state_dir.clone(), Timestamp::now());
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
