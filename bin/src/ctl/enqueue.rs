//! `importctl enqueue`: queues packages for import; `-` reads names from stdin, one a line.
//! Invalid names are logged and skipped, and make the command exit 65 once the valid ones
//! are queued.

use std::io::{self, BufRead, Write};

use anyhow::Context;
use pkgimport_core::{PackageName, Priority};

use crate::config::Config;
use crate::{Exit, Failure};

pub(super) fn run(
    config: &Config,
    priority: Priority,
    args: &[String],
    out: &mut dyn Write,
) -> Result<Exit, Failure> {
    let mut store = crate::open_store(config)?;
    let mut names = Vec::new();
    let mut bad = 0u64;
    let mut take = |raw: &str| match PackageName::parse(raw) {
        Ok(n) => names.push(n),
        Err(e) => {
            bad += 1;
            log::error!("{e}");
        }
    };
    for arg in args {
        if arg == "-" {
            for line in io::stdin().lock().lines() {
                let line = line.context("reading package names from stdin")?;
                let line = line.trim();
                if !line.is_empty() {
                    take(line);
                }
            }
        } else {
            take(arg);
        }
    }
    let s = store.enqueue(&names, priority)?;
    writeln!(
        out,
        "enqueued at priority {priority}: {} added, {} raised, {} already queued",
        s.added, s.raised, s.unchanged
    )?;
    if !s.blocked.is_empty() {
        writeln!(
            out,
            "note: {} of them have a recorded failure and wait for `importctl retry`: {}",
            s.blocked.len(),
            s.blocked
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        )?;
    }
    if bad > 0 {
        return Err(Failure::new(
            Exit::DataErr,
            anyhow::anyhow!("{bad} invalid package names were not queued"),
        ));
    }
    Ok(Exit::Ok)
}
