//! `poll-uploads`: enqueue a job for every package with a publication since the watermarks.

use std::process::ExitCode;

use clap::Parser;
use package_importer::{CommonArgs, Exit, Failure, OrExit};
use pkgimport_importer::poll::{self, PollSettings, Start};

/// Ask Launchpad for new publications, one partition (distribution and series) at a time,
/// and queue one import job per package at priority `upload`.
///
/// Watermarks move only after every partition has been enqueued. A partition without a
/// watermark starts from --since, from the beginning with --initial all, or otherwise from
/// Launchpad's newest publication (nothing is enqueued: no surprise flood).
#[derive(Parser, Debug)]
#[command(version, after_help = package_importer::exit_code_help())]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Where partitions without a watermark start (RFC 3339, or YYYY-MM-DD)
    #[arg(long, value_name = "DATE", conflicts_with = "initial")]
    since: Option<String>,
    /// `all`: partitions without a watermark start from the beginning (backfill)
    #[arg(long, value_name = "all", value_parser = ["all"])]
    initial: Option<String>,
}

fn main() -> ExitCode {
    package_importer::main_with("poll-uploads", run)
}

fn run(args: Args) -> Result<Exit, Failure> {
    let config = args.common.load_config(Vec::new())?;
    let start = match (&args.since, &args.initial) {
        (Some(date), _) => Start::Since(
            poll::parse_since(date).map_err(|e| Failure::new(Exit::Usage, anyhow::anyhow!(e)))?,
        ),
        (None, Some(_)) => Start::All,
        (None, None) => Start::Now,
    };
    let settings = PollSettings {
        distributions: config.list("launchpad.distributions"),
        skew: config.duration("poll.skew"),
        start,
        batch: 500,
    };
    let client = package_importer::launchpad_client(&config)?;
    let state_dir = config.state_dir();
    let Some(_lock) = package_importer::lock_poll(&state_dir)? else {
        return Ok(Exit::Ok);
    };
    let mut store = package_importer::open_store(&config)?;
    let started = std::time::Instant::now();
    let result = poll::poll(&client, &mut store, &settings, config.fault.as_deref());
    // Launchpad's answer (or silence) is evidence for the shared circuit breaker.
    let outcome = match &result {
        Err(e) if e.is_unavailable() => Some(pkgimport_core::breaker::Outcome::Unavailable),
        Ok(_) => Some(pkgimport_core::breaker::Outcome::Available),
        Err(_) => None,
    };
    package_importer::record_launchpad_stats(&mut store, &client)?;
    if result.is_ok() {
        store
            .set_counters(&[("last_poll_ok_ms", pkgimport_queue::Timestamp::now().0)])
            .or_exit(Exit::Failure)?;
    }
    if let Some(outcome) = outcome {
        let breaker = package_importer::breaker_settings(&config);
        let who = format!("poll:{}", std::process::id());
        if let Some(t) = store
            .breaker_record(outcome, &who, &breaker, 0.5)
            .or_exit(Exit::Failure)?
        {
            log::warn!(
                "breaker {} -> {} after a poll",
                t.from.as_str(),
                t.to.as_str()
            );
        }
    }
    match result {
        Ok(s) => {
            log::info!(
                "poll-uploads: partitions={} pages={} publications={} enqueued={} skipped={} watermarks_moved={} seconds={:.1}",
                s.partitions,
                client.stats().pages,
                s.publications,
                s.enqueued,
                s.skipped,
                s.watermarks_moved,
                started.elapsed().as_secs_f64()
            );
            Ok(Exit::Ok)
        }
        Err(e) if e.is_unavailable() => Err(Failure::new(Exit::Unavailable, e.into())),
        Err(e) => Err(Failure::new(Exit::Failure, e.into())),
    }
}
