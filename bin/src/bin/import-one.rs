//! `import-one`: import every publication of one package that is not yet imported, and push.

use std::process::ExitCode;

use clap::Parser;
use package_importer::config::settings;
use package_importer::{CommonArgs, Exit, Failure, OrExit};
use pkgimport_core::PackageName;
use pkgimport_importer::import::Importer;

/// Import every publication of PACKAGE not yet imported into its git repository, then push.
///
/// Safe to run at any time and any number of times: it works out for itself what is
/// missing, and first finishes whatever a crashed run left. PKGIMPORT_FAULT=<point> aborts at
/// a named point, to rehearse recovery: after-download, after-commit, after-stage,
/// after-mark, after-push, after-audit-commit, after-cleanup.
#[derive(Parser, Debug)]
#[command(version, after_help = package_importer::exit_code_help())]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Wait for the package lock instead of exiting 73
    #[arg(long)]
    wait: bool,
    /// The source package
    package: String,
}

fn main() -> ExitCode {
    package_importer::main_with("import-one", run)
}

fn run(args: Args) -> Result<Exit, Failure> {
    let package = PackageName::parse(&args.package).or_exit(Exit::DataErr)?;
    let config = args.common.load_config(Vec::new())?;
    let state_dir = config.state_dir();
    let mut store = package_importer::open_store(&config)?;
    let _lock = package_importer::lock_package(&store, &state_dir, &package, args.wait)?;
    let client = settings::launchpad_client(&config)?;
    let settings = settings::import(&config, config.run_id);
    let fault_point = config.fault.clone();
    let fault = move |point: &str| {
        if fault_point.as_deref() == Some(point) {
            log::error!("PKGIMPORT_FAULT: aborting at {point}");
            std::process::abort();
        }
    };
    let started = std::time::Instant::now();
    let mut importer = Importer {
        client: &client,
        store: &mut store,
        settings: &settings,
        fault: &fault,
    };
    let result = importer.run(&package);
    pkgimport_importer::poll::record_client_stats(&mut store, &client).or_exit(Exit::Failure)?;
    match result {
        Ok(s) => {
            log::info!(
                "import-one: package={package} versions_imported={} refs_updated={} bytes_downloaded={} seconds={:.2} push_seconds={:.3}",
                s.versions_imported,
                s.refs_updated,
                s.bytes_downloaded,
                started.elapsed().as_secs_f64(),
                s.push_time.as_secs_f64()
            );
            Ok(Exit::Ok)
        }
        Err(e) => Err(package_importer::ctl::import_failure(e)),
    }
}
