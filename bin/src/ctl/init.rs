//! `importctl init`: creates the state directory and database (every binary also does this
//! on start).

use std::io::Write;

use anyhow::Context;

use crate::config::Config;
use crate::{Exit, Failure};

pub(super) fn run(config: &Config, out: &mut dyn Write) -> Result<Exit, Failure> {
    let state_dir = config.state_dir();
    let store = crate::open_store(config)?;
    for sub in ["locks", "logs"] {
        let p = state_dir.join(sub);
        std::fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
    }
    writeln!(out, "initialised {}", store.path().display())?;
    Ok(Exit::Ok)
}
