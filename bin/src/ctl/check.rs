//! `importctl check`: the Nagios/Icinga plugin (`pkgimport_report::check`). Every failure
//! of the check itself is UNKNOWN on stdout, in one line, never an error line with another
//! exit code.

use std::io::Write;

use anyhow::Context;
use pkgimport_queue::{Store, Timestamp};
use pkgimport_report::check::{self, Override, Range, State};

use crate::config::{Config, settings};
use crate::{Exit, Failure};

pub(super) fn run(
    config: &Config,
    warning: &[String],
    critical: &[String],
    out: &mut dyn Write,
) -> Result<Exit, Failure> {
    let result = (|| -> anyhow::Result<(State, String)> {
        let overrides = parse_overrides(warning, critical)?;
        let settings = settings::check(config, overrides);
        let db = config.state_dir().join(pkgimport_queue::DB_FILE);
        if config.database_url().is_none() && !db.exists() {
            anyhow::bail!("no state database at {}", db.display());
        }
        let mut store = Store::connect(&config.state_dir(), config.database_url())?;
        let metrics = check::measure(&mut store, &settings, Timestamp::now())?;
        Ok(check::render(&metrics))
    })();
    let (state, line) = match result {
        Ok(r) => r,
        Err(e) => (State::Unknown, check::unknown(&format!("{e:#}"))),
    };
    writeln!(out, "{line}")?;
    Ok(exit_code(state))
}

/// What a configuration that cannot be loaded makes of the check: UNKNOWN, on stdout.
pub(super) fn config_unknown(error: &anyhow::Error, out: &mut dyn Write) -> Exit {
    let line = check::unknown(&format!("{error:#}"));
    let _ = writeln!(out, "{line}");
    Exit::CheckUnknown
}

/// `-w LABEL=RANGE` and `-c LABEL=RANGE`, as (label, warning, critical).
fn parse_overrides(warning: &[String], critical: &[String]) -> anyhow::Result<Vec<Override>> {
    let mut overrides = Vec::new();
    for (arg, is_warning) in warning
        .iter()
        .map(|w| (w, true))
        .chain(critical.iter().map(|c| (c, false)))
    {
        let (label, range) = arg
            .split_once('=')
            .with_context(|| format!("{arg:?}: expected LABEL=RANGE"))?;
        if !check::LABELS.contains(&label) {
            anyhow::bail!(
                "unknown label {label:?}; labels: {}",
                check::LABELS.join(", ")
            );
        }
        let range = Range::parse(range).map_err(anyhow::Error::msg)?;
        let (w, c) = if is_warning {
            (Some(range), None)
        } else {
            (None, Some(range))
        };
        overrides.push((label.to_owned(), w, c));
    }
    Ok(overrides)
}

/// The plugin's states onto the exit-code contract: 0, 1, 2, 3.
fn exit_code(state: State) -> Exit {
    match state {
        State::Ok => Exit::Ok,
        State::Warning => Exit::Failure,
        State::Critical => Exit::Mismatch,
        State::Unknown => Exit::CheckUnknown,
    }
}
