//! `importer-web`: the live status pages, the JSON API, the operators' actions and the
//! health checks, over the state database.

use std::process::ExitCode;

use clap::Parser;
use package_importer::config::{FlagValue, settings};
use package_importer::{CommonArgs, Exit, Failure, OrExit};

/// Serve package-importer's status as live pages and a JSON API, with the operators'
/// actions behind tokens (`importctl token add`) and health checks for a load balancer.
///
/// Listens on web.listen (default 127.0.0.1:8080). On SIGTERM or SIGINT it stops accepting,
/// finishes the requests in flight, and exits 0. Several may run against one PostgreSQL
/// database; each keeps its own page cache, kept current by the events table.
#[derive(Parser, Debug)]
#[command(version, after_help = package_importer::exit_code_help())]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Address to listen on, IP:PORT [config: web.listen]
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
}

fn main() -> ExitCode {
    package_importer::main_with("importer-web", run)
}

fn run(args: Args) -> Result<Exit, Failure> {
    let flags = args.listen.map(FlagValue::listen).into_iter().collect();
    let config = args.common.load_config(flags)?;
    let settings = settings::web(&config)?;
    let (open_store, adopt_remote) = package_importer::web_hooks(&config);
    // Two workers: the service waits on sockets and on its database threads; it does not
    // compute.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .or_exit(Exit::Software)?;
    runtime.block_on(async {
        let shutdown = package_importer::shutdown_signal().or_exit(Exit::Software)?;
        let server = pkgimport_web::Server::bind(settings, open_store, adopt_remote)
            .await
            .map_err(|e| {
                let exit = if e.is_transient() {
                    Exit::TempFail
                } else {
                    Exit::Failure
                };
                Failure::new(exit, e.into())
            })?;
        server.run(shutdown).await.or_exit(Exit::TempFail)
    })?;
    Ok(Exit::Ok)
}
