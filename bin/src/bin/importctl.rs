//! `importctl`: status, queue, failures, retries, pause and resume, configuration.

use std::process::ExitCode;

use clap::Parser;
use package_importer::{CommonArgs, ctl, finish, init_logging, parse_args};

/// Inspect and steer package-importer through its state database.
#[derive(Parser, Debug)]
#[command(version, after_help = package_importer::exit_code_help())]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    command: ctl::Command,
}

fn main() -> ExitCode {
    let args: Args = match parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    init_logging();
    let result = args
        .common
        .load_config(Vec::new())
        .and_then(|config| ctl::run(args.command, &config));
    finish("importctl", result)
}
