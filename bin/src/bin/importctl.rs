//! `importctl`: status, queue, failures, retries, pause and resume, configuration.

use std::process::ExitCode;

use clap::Parser;
use package_importer::{CommonArgs, ctl};

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
    package_importer::main_with("importctl", |args: Args| {
        ctl::run(args.command, args.common.load_config(Vec::new()))
    })
}
