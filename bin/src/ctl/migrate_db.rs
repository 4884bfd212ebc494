//! `importctl migrate-db`: copies the SQLite state database into an empty PostgreSQL one.

use std::io::{self, BufRead, Write};

use anyhow::Context;

use crate::config::Config;
use crate::{Exit, Failure};

/// `migrate-db`: copies `<state_dir>/state.db` into the empty PostgreSQL database `to` (see
/// `copy_to_postgres`) and prints the rows copied per table. The target's URL is only
/// ever shown redacted. Exit 65 when the target has rows: the input is wrong for this
/// command and trying again will not change that, while 1 would say nothing more than
/// "failed".
pub(super) fn run(config: &Config, to: &str, out: &mut dyn Write) -> Result<Exit, Failure> {
    use pkgimport_queue::copy_to_postgres::{CopyError as E, copy_to_postgres};
    let state_dir = config.state_dir();
    let mut line = String::new();
    let to = match to {
        "-" => {
            io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the target URL from stdin")?;
            line.trim()
        }
        url => url,
    };
    let summary = copy_to_postgres(&state_dir, to).map_err(|e| {
        let exit = match &e {
            E::NoSource { .. } | E::BadTarget(_) => Exit::Config,
            E::Running { .. } => Exit::Locked,
            E::TargetNotEmpty { .. } => Exit::DataErr,
            E::Unavailable(_) => Exit::Unavailable,
            E::Store(s) if s.is_transient() => Exit::TempFail,
            E::Store(_) => Exit::Failure,
        };
        let context = format!("migrating the state database of {}", state_dir.display());
        Failure::new(exit, anyhow::Error::new(e).context(context))
    })?;
    writeln!(
        out,
        "copied {} into {} in {:.1}s",
        summary.source.display(),
        summary.target,
        summary.elapsed.as_secs_f64()
    )?;
    for t in &summary.tables {
        writeln!(out, "  {:<22} {:>10}", t.table, t.rows)?;
    }
    writeln!(out, "  {:<22} {:>10}", "total", summary.total_rows())?;
    writeln!(
        out,
        "next: set database.url (env PKGIMPORT_DATABASE_URL) to the --to URL, then start the \
         driver and the timers"
    )?;
    Ok(Exit::Ok)
}
