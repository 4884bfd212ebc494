//! `importctl show`: everything known about one package: its jobs, its failure with the
//! tail of its log, its runs with their log files, for each distribution its branches (the
//! patches-applied ones after the others) and the versions it published, and the versions
//! whose quilt patches do not apply.

use std::io::Write;

use super::util::{parse_name, print_json};
use crate::config::Config;
use crate::{Exit, Failure};

pub(super) fn run(
    config: &Config,
    package: &str,
    json: bool,
    out: &mut dyn Write,
) -> Result<Exit, Failure> {
    let state_dir = config.state_dir();
    let mut store = crate::open_store(config)?;
    let info = store.show(&parse_name(package)?)?;
    if json {
        print_json(out, &info)?;
        return Ok(Exit::Ok);
    }
    writeln!(out, "package:  {}", info.package)?;
    if info.jobs.is_empty() {
        writeln!(out, "jobs:     none")?;
    }
    for j in &info.jobs {
        writeln!(
            out,
            "job:      {} {} priority {} attempts {}",
            j.id, j.state, j.priority, j.attempts
        )?;
    }
    match &info.failure {
        Some(f) => {
            writeln!(
                out,
                "failure:  {} ({} attempts, {} in a row, {})",
                f.signature,
                f.attempts,
                f.consecutive,
                if f.retrying {
                    "retrying"
                } else if f.transient {
                    "transient"
                } else {
                    "permanent"
                }
            )?;
            for line in f.tail.lines() {
                writeln!(out, "          | {line}")?;
            }
        }
        None => writeln!(out, "failure:  none")?,
    }
    for d in &info.distributions {
        writeln!(out, "{}:", d.name)?;
        let branches = d.branches.iter().map(|b| ("branch:  ", b));
        let applied = d.applied_branches.iter().map(|b| ("applied: ", b));
        for (label, b) in branches.chain(applied) {
            let short = &b.commit[..b.commit.len().min(12)];
            writeln!(
                out,
                "  {label} {:<40} {:<24} {short}",
                b.name,
                b.version.as_deref().unwrap_or("?"),
            )?;
        }
        writeln!(out, "  versions: {}", d.versions.join(" "))?;
    }
    for w in &info.patch_warnings {
        writeln!(
            out,
            "warning:  {} patch {} does not apply, no patches-applied refs: {}",
            w.version, w.patch, w.message
        )?;
    }
    for r in &info.runs {
        writeln!(
            out,
            "run:      {} {} {} exit {} log {}",
            r.id,
            r.started_at,
            r.outcome.map_or("running", |o| o.as_str()),
            r.exit_code.map_or("-".into(), |c| c.to_string()),
            state_dir.join(&r.log_path).display()
        )?;
    }
    Ok(Exit::Ok)
}
