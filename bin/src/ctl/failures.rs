//! `importctl failures`: the recorded failures, grouped by signature with a few example
//! packages each, or with `--all` one line per package.

use std::io::Write;

use super::util::print_json;
use crate::config::Config;
use crate::{Exit, Failure};

pub(super) fn run(
    config: &Config,
    json: bool,
    all: bool,
    out: &mut dyn Write,
) -> Result<Exit, Failure> {
    let mut store = crate::open_store(config)?;
    if all {
        let failures = store.failures()?;
        if json {
            print_json(out, &failures)?;
            return Ok(Exit::Ok);
        }
        writeln!(
            out,
            "{:<30} {:<15} {:>8} {:>6}  {:<20}  SIGNATURE",
            "PACKAGE", "KIND", "ATTEMPTS", "IN-ROW", "LAST SEEN"
        )?;
        for f in failures {
            let kind = match (f.retrying, f.needs_attention, f.transient) {
                (true, _, _) => "retrying",
                (false, true, _) => "needs attention",
                (false, false, true) => "transient",
                (false, false, false) => "permanent",
            };
            writeln!(
                out,
                "{:<30} {kind:<15} {:>8} {:>6}  {:<20}  {}",
                f.package,
                f.attempts,
                f.consecutive,
                f.last_seen.to_string(),
                f.signature
            )?;
        }
        return Ok(Exit::Ok);
    }
    let groups = store.failure_groups(5)?;
    if json {
        print_json(out, &groups)?;
        return Ok(Exit::Ok);
    }
    writeln!(
        out,
        "{:>6}  {:<9}  {:<20}  {:<20}  SIGNATURE",
        "COUNT", "KIND", "FIRST SEEN", "LAST SEEN"
    )?;
    for g in groups {
        let kind = if g.transient {
            "transient"
        } else {
            "permanent"
        };
        writeln!(
            out,
            "{:>6}  {kind:<9}  {:<20}  {:<20}  {}",
            g.count,
            g.first_seen.to_string(),
            g.last_seen.to_string(),
            g.signature
        )?;
        let attention = match g.needs_attention {
            0 => String::new(),
            n => format!(" ({n} need attention)"),
        };
        writeln!(out, "{:>62}e.g. {}{attention}", "", g.examples.join(" "))?;
    }
    Ok(Exit::Ok)
}
