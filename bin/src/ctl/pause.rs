//! `importctl pause` and `importctl resume`: running imports finish, nothing new is claimed
//! until the resume.

use std::io::Write;

use crate::config::Config;
use crate::{Exit, Failure};

pub(super) fn pause(config: &Config, out: &mut dyn Write) -> Result<Exit, Failure> {
    let mut store = crate::open_store(config)?;
    store.set_paused(true)?;
    writeln!(
        out,
        "paused: running imports finish, nothing new is claimed"
    )?;
    Ok(Exit::Ok)
}

pub(super) fn resume(config: &Config, out: &mut dyn Write) -> Result<Exit, Failure> {
    let mut store = crate::open_store(config)?;
    store.set_paused(false)?;
    writeln!(out, "resumed")?;
    Ok(Exit::Ok)
}
