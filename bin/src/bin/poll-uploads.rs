//! `poll-uploads`: enqueue a job for every package with a publication since the watermarks.

use std::process::ExitCode;

use clap::Parser;
use package_importer::config::settings;
use package_importer::{CommonArgs, Exit, Failure};
use pkgimport_importer::poll::{self, PollRunError, Start};

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
    let settings = settings::poll(&config, start);
    let client = settings::launchpad_client(&config)?;
    let Some(_lock) = package_importer::lock_poll(&config.state_dir())? else {
        return Ok(Exit::Ok);
    };
    let mut store = package_importer::open_store(&config)?;
    let started = std::time::Instant::now();
    match poll::poll_and_record(&client, &mut store, &settings, config.fault.as_deref()) {
        Ok(s) => {
            log::info!(
                "poll-uploads: partitions={} obsolete_skipped={} pages={} publications={} enqueued={} remembered={} skipped={} watermarks_moved={} seconds={:.1}",
                s.partitions,
                s.obsolete,
                client.stats().pages,
                s.publications,
                s.enqueued,
                s.remembered,
                s.skipped,
                s.watermarks_moved,
                started.elapsed().as_secs_f64()
            );
            Ok(Exit::Ok)
        }
        Err(PollRunError::Poll(e)) if e.is_unavailable() => {
            Err(Failure::new(Exit::Unavailable, e.into()))
        }
        Err(PollRunError::Poll(e)) => Err(Failure::new(Exit::Failure, e.into())),
        Err(PollRunError::Record(e)) => Err(Failure::new(Exit::Failure, e.into())),
    }
}
