//! `retry-failures`: re-queue transient failures whose cooldown has passed.

use std::process::ExitCode;

use clap::Parser;
use package_importer::config::settings;
use package_importer::{CommonArgs, Exit, Failure};
use pkgimport_importer::requeue;

/// Re-queue, at priority `retry`, the transient failures whose cooldown has passed.
///
/// The cooldown for attempt n is min(retry.cooldown_cap, retry.cooldown_base × 2^(n-1)),
/// spread by ±retry.jitter. A package that failed the same way retry.max_consecutive times
/// in a row is not re-queued: it needs attention. Permanent failures are never re-queued.
/// Safe to run beside a driver and a poll.
#[derive(Parser, Debug)]
#[command(version, after_help = package_importer::exit_code_help())]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> ExitCode {
    package_importer::main_with("retry-failures", run)
}

fn run(args: Args) -> Result<Exit, Failure> {
    let config = args.common.load_config(Vec::new())?;
    let settings = settings::retry(&config);
    let mut store = package_importer::open_store(&config)?;
    let s = requeue::retry_failures(&mut store, &settings, pkgimport_queue::Timestamp::now())?;
    log::info!(
        "retry-failures: requeued={} waiting={} needs_attention={} permanent={}",
        s.requeued,
        s.waiting,
        s.needs_attention,
        s.permanent
    );
    Ok(Exit::Ok)
}
