//! `importctl config`: the effective configuration with where each value came from, or a
//! commented template with every key at its default.

use std::io::Write;

use crate::config::{self, Config};
use crate::{Exit, Failure};

#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// The effective configuration, with where each value came from
    Show,
    /// A commented template with every key at its default
    Example,
}

pub(super) fn run(
    config: &Config,
    command: ConfigCommand,
    out: &mut dyn Write,
) -> Result<Exit, Failure> {
    match command {
        ConfigCommand::Show => {
            match &config.file {
                Some(f) => writeln!(out, "# config file: {}", f.display())?,
                None => writeln!(
                    out,
                    "# config file: none ({} does not exist)",
                    config::SYSTEM_CONFIG
                )?,
            }
            for (key, value, source) in config.show() {
                writeln!(out, "{key} = {value}  # {source}")?;
            }
        }
        ConfigCommand::Example => write!(out, "{}", config::example())?,
    }
    Ok(Exit::Ok)
}
