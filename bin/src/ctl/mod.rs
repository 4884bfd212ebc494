//! `importctl`: the operator's and the scripts' view of the state database.
//!
//! One module per subcommand, each a `run` function from the configuration and the parsed
//! arguments to output on stdout, opening the state database itself when it needs one.
//! This module holds the command line ([`Command`]) and the dispatch. Tables are for people;
//! `--json` is for scripts, with the keys documented in docs/json.md. A closed pipe
//! (`importctl queue | head`) is not an error.

mod breaker;
mod check;
mod config;
mod enqueue;
mod failures;
mod init;
mod metrics;
mod migrate_db;
mod pause;
mod queue;
mod reconcile;
mod report;
mod reset;
mod retry;
mod runs;
mod show;
mod snapshot;
mod status;
mod token;
mod util;
mod verify;

use std::io::{self, Write};

use pkgimport_core::Priority;

pub use self::breaker::BreakerCommand;
pub use self::config::ConfigCommand;
pub use self::token::TokenCommand;
use crate::config::Config;
use crate::{Exit, Failure};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create the state directory and database (every binary also does this on start)
    Init,
    /// Queue packages for import; `-` reads names from stdin, one a line
    Enqueue {
        /// manual (100), upload (50), retry (30), rescan (10), or an integer
        #[arg(long, short, default_value = "manual", value_parser = Priority::parse)]
        priority: Priority,
        /// Package names, or `-` for stdin
        #[arg(required = true, value_name = "PKG")]
        packages: Vec<String>,
    },
    /// One-screen summary: queue, running, failed, paused, driver
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Jobs in claim order, running first
    Queue {
        #[arg(long)]
        json: bool,
        /// Show at most this many
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Recent import runs, newest first
    Runs {
        /// Only this package
        package: Option<String>,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Recorded failures, grouped by signature (--all: one line per package)
    Failures {
        #[arg(long)]
        json: bool,
        /// One line per package instead of groups
        #[arg(long)]
        all: bool,
    },
    /// Re-queue failed packages at manual priority: by name, by signature, or all transient
    Retry {
        #[arg(value_name = "PKG", required_unless_present_any = ["signature", "transient"])]
        packages: Vec<String>,
        /// Every package failed with this signature (as `importctl failures` shows it)
        #[arg(long, conflicts_with = "packages")]
        signature: Option<String>,
        /// Every package with a transient failure
        #[arg(long, conflicts_with_all = ["packages", "signature"])]
        transient: bool,
    },
    /// The circuit breaker
    Breaker {
        #[command(subcommand)]
        command: BreakerCommand,
    },
    /// Everything known about one package
    Show {
        package: String,
        #[arg(long)]
        json: bool,
    },
    /// Compare each package's remote refs with the committed audit; exit 2 on any mismatch
    Verify {
        /// Packages to check
        #[arg(value_name = "PKG", required_unless_present = "all")]
        packages: Vec<String>,
        /// Check every package in the audit
        #[arg(long, conflicts_with = "packages")]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Compare what Launchpad publishes with the committed audit, and queue at priority
    /// rescan every package with a publication that polling missed or that is not imported
    #[command(
        after_help = "Exit codes: 0 done; 64 an unknown distribution or series; 69 Launchpad \
                      unavailable after retries; 78 a configuration error."
    )]
    Reconcile {
        /// Only this distribution (one of launchpad.distributions)
        #[arg(long, value_name = "D")]
        distribution: Option<String>,
        /// Only this series of each distribution
        #[arg(long, value_name = "S")]
        series: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Resolve a remote that diverged from the audit (see docs/operations.md)
    Reset {
        package: String,
        /// Accept what the remote holds: the audit takes the remote's refs
        #[arg(long, required_unless_present = "restore", conflicts_with = "restore")]
        adopt_remote: bool,
        /// Put the remote back to what the audit says
        #[arg(long)]
        restore: bool,
    },
    /// Nagios/Icinga plugin: one line, exit 0/1/2/3 for OK/WARNING/CRITICAL/UNKNOWN
    Check {
        /// Override a warning threshold: LABEL=RANGE (labels: failed, oldest_age,
        /// breaker_open, driver_age, poll_age, verify_mismatches, reconcile_missed,
        /// wal_bytes)
        #[arg(short = 'w', long = "warning", value_name = "LABEL=RANGE")]
        warning: Vec<String>,
        /// Override a critical threshold: LABEL=RANGE
        #[arg(short = 'c', long = "critical", value_name = "LABEL=RANGE")]
        critical: Vec<String>,
    },
    /// Prometheus text exposition format on stdout, or atomically into DIR/package-importer.prom
    Metrics {
        /// node_exporter's textfile collector directory
        #[arg(long, value_name = "DIR")]
        textfile: Option<std::path::PathBuf>,
    },
    /// Record today's failure count, the baseline of `check` (run daily)
    Snapshot,
    /// Write the static HTML status site into DIR, atomically
    Report {
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
        /// Then keep it current until killed: rewrite only the pages each change touches
        #[arg(long)]
        watch: bool,
    },
    /// Let running imports finish, claim nothing new
    Pause,
    /// Claim again after a pause
    Resume,
    /// importer-web's bearer tokens: add (prints the token once), revoke, list
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Configuration
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Copy the SQLite state database into an empty PostgreSQL database; stop the driver
    /// and the timers first (docs/operations.md, "Moving to PostgreSQL")
    #[command(
        after_help = "Exit codes: 0 copied; 65 the target has rows; 69 the target is \
                      unreachable; 73 the driver or poll-uploads runs; 78 no state database, \
                      or an unusable URL (wrong scheme, unknown database, refused login)."
    )]
    MigrateDb {
        /// The target, postgres://USER[:PASSWORD]@HOST[:PORT]/DB: an empty database (its
        /// schema is created); `-` reads it from stdin, out of sight of `ps`. The state
        /// database read is <state_dir>/state.db, whatever database.url says
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

/// Runs one subcommand with the configuration, or with the error of loading it: `check`
/// answers UNKNOWN for that, as a monitoring plugin does for its own trouble; every other
/// command fails with it.
pub fn run(command: Command, config: Result<Config, Failure>) -> Result<Exit, Failure> {
    let out = &mut io::stdout().lock();
    let config = match (config, &command) {
        (Ok(config), _) => config,
        (Err(f), Command::Check { .. }) => return Ok(check::config_unknown(&f.error, out)),
        (Err(f), _) => return Err(f),
    };
    match dispatch(command, &config, out) {
        Err(f) if util::is_broken_pipe(&f.error) => Ok(Exit::Ok),
        other => other,
    }
}

fn dispatch(command: Command, config: &Config, out: &mut dyn Write) -> Result<Exit, Failure> {
    match command {
        Command::Init => init::run(config, out),
        Command::Enqueue { priority, packages } => enqueue::run(config, priority, &packages, out),
        Command::Status { json } => status::run(config, json, out),
        Command::Queue { json, limit } => queue::run(config, json, limit, out),
        Command::Runs {
            package,
            json,
            limit,
        } => runs::run(config, package.as_deref(), json, limit, out),
        Command::Failures { json, all } => failures::run(config, json, all, out),
        Command::Retry {
            packages,
            signature,
            transient,
        } => retry::run(config, &packages, signature.as_deref(), transient, out),
        Command::Breaker { command } => breaker::run(config, command, out),
        Command::Show { package, json } => show::run(config, &package, json, out),
        Command::Verify {
            packages,
            all,
            json,
        } => verify::run(config, &packages, all, json, out),
        Command::Reconcile {
            distribution,
            series,
            json,
        } => reconcile::run(
            config,
            distribution.as_deref(),
            series.as_deref(),
            json,
            out,
        ),
        Command::Reset {
            package,
            adopt_remote,
            restore: _,
        } => reset::run(config, &package, adopt_remote, out),
        Command::Check { warning, critical } => check::run(config, &warning, &critical, out),
        Command::Metrics { textfile } => metrics::run(config, textfile.as_deref(), out),
        Command::Snapshot => snapshot::run(config, out),
        Command::Report { out: dir, watch } => report::run(config, &dir, watch, out),
        Command::Pause => pause::pause(config, out),
        Command::Resume => pause::resume(config, out),
        Command::Token { command } => token::run(config, command, out),
        Command::Config { command } => config::run(config, command, out),
        Command::MigrateDb { to } => migrate_db::run(config, &to, out),
    }
}

/// The exit code of an import error, by the exit-code contract.
pub fn import_failure(e: pkgimport_importer::import::ImportError) -> Failure {
    Failure::new(e.exit(), e.into())
}
