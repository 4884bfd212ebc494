//! `importctl breaker`: the circuit breaker by hand.

use std::io::Write;

use crate::config::Config;
use crate::{Exit, Failure};

#[derive(Debug, clap::Subcommand)]
pub enum BreakerCommand {
    /// Close the breaker by hand: dispatch resumes at full concurrency
    Reset,
}

pub(super) fn run(
    config: &Config,
    command: BreakerCommand,
    out: &mut dyn Write,
) -> Result<Exit, Failure> {
    let mut store = crate::open_store(config)?;
    match command {
        BreakerCommand::Reset => match store.breaker_reset()? {
            Some(t) => writeln!(out, "breaker {} -> closed", t.from.as_str())?,
            None => writeln!(out, "breaker was already closed")?,
        },
    }
    Ok(Exit::Ok)
}
