//! `importctl`: status, queue, failures, retries, pause and resume, configuration.

use std::io::Write;
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
    let is_check = matches!(args.command, ctl::Command::Check { .. });
    let result = match args.common.load_config(Vec::new()) {
        // A monitoring plugin answers UNKNOWN for its own trouble, on stdout, in one line.
        Err(f) if is_check => {
            let line = pkgimport_importer::check::unknown(&format!("{:#}", f.error));
            let _ = writeln!(std::io::stdout(), "{line}");
            Ok(package_importer::Exit::CheckUnknown)
        }
        Err(f) => Err(f),
        Ok(config) => ctl::run(args.command, &config),
    };
    finish("importctl", result)
}
