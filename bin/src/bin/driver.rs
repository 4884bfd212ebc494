//! `driver`: the supervisor service that runs imports from the queue.

use std::process::ExitCode;

use clap::Parser;
use package_importer::config::{FlagValue, settings};
use package_importer::{CommonArgs, Exit, Failure, OrExit};

/// Claim queued jobs and run one import process per job, with bounded parallelism.
///
/// Stops claiming on SIGTERM or SIGINT, waits for running imports up to the drain timeout,
/// then kills the rest and re-queues their jobs. Only one driver runs per state directory.
#[derive(Parser, Debug)]
#[command(version, after_help = package_importer::exit_code_help())]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Imports to run at once [config: driver.concurrency]
    #[arg(long, short = 'j', value_name = "N")]
    concurrency: Option<u32>,
    /// The import command [config: driver.import_command]
    #[arg(long, value_name = "CMD")]
    import_command: Option<String>,
    /// Exit 0 once nothing is claimable and nothing runs
    #[arg(long)]
    exit_when_idle: bool,
}

fn main() -> ExitCode {
    package_importer::main_with("driver", run)
}

fn run(args: Args) -> Result<Exit, Failure> {
    let flags = [
        args.concurrency.map(FlagValue::concurrency),
        args.import_command.map(FlagValue::import_command),
    ];
    let config = args
        .common
        .load_config(flags.into_iter().flatten().collect())?;
    let settings = settings::driver(&config, args.exit_when_idle)?;
    let _lock = package_importer::lock_driver(&settings.state_dir)?;
    let store = package_importer::open_store(&config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .or_exit(Exit::Software)?;
    runtime.block_on(async {
        let shutdown = package_importer::shutdown_signal().or_exit(Exit::Software)?;
        pkgimport_driver::run(settings, store, shutdown)
            .await
            .or_exit(Exit::TempFail)
    })?;
    Ok(Exit::Ok)
}
