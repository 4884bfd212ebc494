//! `importctl runs`: recent import runs, newest first, of every package or of one.

use std::io::Write;

use super::util::{parse_name, print_json};
use crate::config::Config;
use crate::{Exit, Failure};

pub(super) fn run(
    config: &Config,
    package: Option<&str>,
    json: bool,
    limit: u64,
    out: &mut dyn Write,
) -> Result<Exit, Failure> {
    let mut store = crate::open_store(config)?;
    let package = package.map(parse_name).transpose()?;
    let runs = store.runs(package.as_ref(), limit)?;
    if json {
        print_json(out, &runs)?;
        return Ok(Exit::Ok);
    }
    writeln!(
        out,
        "{:>8}  {:<30} {:<20}  {:>8}  {:<11} {:>4}  SIGNATURE",
        "RUN", "PACKAGE", "STARTED", "SECONDS", "OUTCOME", "EXIT"
    )?;
    for r in runs {
        writeln!(
            out,
            "{:>8}  {:<30} {:<20}  {:>8}  {:<11} {:>4}  {}",
            r.id,
            r.package,
            r.started_at.to_string(),
            r.duration_s.map_or("-".into(), |d| format!("{d:.1}")),
            r.outcome.map_or("running", |o| o.as_str()),
            r.exit_code.map_or("-".into(), |c| c.to_string()),
            r.signature.unwrap_or_default()
        )?;
    }
    Ok(Exit::Ok)
}
