//! `lp-sim`: a local stand-in for Launchpad, for tests and the demo (a thin wrapper around
//! `pkgimport_lp_sim`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use package_importer::{Exit, Failure, OrExit};
use pkgimport_lp_sim::{Sim, SimConfig, SimSource, SyntheticSpec};

/// Serve Launchpad's REST wire format from a fixture archive or a synthetic history.
///
/// The API root is http://<listen>/devel/. Like Launchpad, one lp-sim serves several
/// distributions: /devel/<distribution>, its /series, each series, and its
/// /+archive/primary?ws.op=getPublishedSources; files under
/// /<distribution>/+archive/primary/+sourcefiles/. An archive's manifest.json names suites
/// as <distribution>/<suite> (ubuntu/noble-updates) or bare (sid: the --distribution),
/// optional "published" dates per <distribution>/<suite>, and series.json beside it may list
/// each distribution's series, oldest first, with status and version.
///
/// Control endpoints: POST /_sim/publish
/// {"package","version","suite"[,"distribution","date_created","status"]} (status Pending
/// or Published), POST /_sim/open-series
/// {"series"[,"distribution","copy_from":[series...],"date_created"]} (opens a new series in
/// Active Development and publishes into it every package's newest published version of
/// copy_from, default all series of the distribution), POST /_sim/faults
/// {"mode":"ok|down|flaky|truncated_json|html_body|wrong_content_type|foreign_next_link|
/// foreign_file_urls|file_scheme_urls|foreign_redirect|wrong_package_name",
/// "error_rate","status","retry_after","delay_ms"}, GET /_sim/faults, GET /_sim/stats
/// (counts by route and status, and by distribution), POST /_sim/stats/reset. A request
/// that names no distribution acts on --distribution. The last four fault modes fake
/// hostile answers for the importer's tests. Stops cleanly on SIGTERM or SIGINT.
#[derive(Parser, Debug)]
#[command(version, after_help = package_importer::exit_code_help())]
struct Args {
    /// Archive directory: manifest.json, optionally series.json, and one folder of source
    /// files per package
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "synthetic",
        conflicts_with = "synthetic"
    )]
    archive: Option<PathBuf>,
    /// Serve a generated history of N packages instead of an archive
    #[arg(long, value_name = "N", requires = "series")]
    synthetic: Option<u32>,
    /// Number of series of each distribution of the synthetic history
    #[arg(long, value_name = "K", requires = "synthetic")]
    series: Option<u16>,
    /// Versions (publications) per synthetic package
    #[arg(long, value_name = "V", default_value_t = 1, requires = "synthetic")]
    versions: u32,
    /// Distributions of the synthetic history, each publishing every package in K series
    /// of its own [default: the --distribution]
    #[arg(
        long,
        value_name = "NAME,...",
        value_delimiter = ',',
        requires = "synthetic"
    )]
    distributions: Vec<String>,
    /// Address to listen on; port 0 picks a free port
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Write the bound port to FILE once listening
    #[arg(long, value_name = "FILE")]
    port_file: Option<PathBuf>,
    /// The default distribution: an archive's bare suites, and control requests that name
    /// none
    #[arg(long, value_name = "NAME", default_value = "debian")]
    distribution: String,
    /// Seed of all randomness (fault injection)
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
    /// Worker threads
    #[arg(long, value_name = "N", default_value_t = 8)]
    threads: usize,
}

fn main() -> ExitCode {
    package_importer::main_with("lp-sim", run)
}

fn run(args: Args) -> Result<Exit, Failure> {
    let source = match (args.archive, args.synthetic, args.series) {
        (Some(dir), _, _) => SimSource::Archive(dir),
        (None, Some(packages), Some(series)) => SimSource::Synthetic(SyntheticSpec {
            packages,
            series,
            versions: args.versions,
            distributions: args.distributions,
        }),
        _ => {
            let e = anyhow::anyhow!("give --archive DIR or --synthetic N --series K");
            return Err(Failure::new(Exit::Usage, e));
        }
    };
    let config = SimConfig {
        source,
        distribution: args.distribution,
        listen: args.listen,
        seed: args.seed,
        threads: args.threads,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .or_exit(Exit::Software)?;
    runtime.block_on(async {
        // Install the handlers before anyone can learn the port and signal us.
        let shutdown = package_importer::shutdown_signal().or_exit(Exit::Software)?;
        let sim = Sim::start(config).or_exit(Exit::Config)?;
        if let Some(path) = &args.port_file {
            write_port_file(path, sim.addr().port()).or_exit(Exit::Failure)?;
        }
        log::info!("lp-sim serving api_root={}", sim.api_root());
        shutdown.await;
        sim.shutdown();
        Ok::<_, Failure>(())
    })?;
    Ok(Exit::Ok)
}

/// Writes the port atomically, so a reader never sees an empty file.
fn write_port_file(path: &Path, port: u16) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{port}\n"))
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}
