//! Startup code shared by every binary of package-importer: the common flags, the
//! configuration, logging, and the one place that turns a result into an exit code.
//!
//! Each `src/bin/*.rs` parses its arguments, loads the configuration, initialises logging,
//! takes its lock and calls one library entry point. What they share lives here.

pub mod config;
pub mod ctl;
mod startup;

pub use startup::{lock_driver, lock_package, lock_poll, open_store, shutdown_signal, web_hooks};

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

pub use pkgimport_core::Exit;

use config::{Config, FlagValue};

/// Flags that every binary takes.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// State directory (database, locks, logs, work trees) [env: PKGIMPORT_STATE_DIR]
    /// [default: /var/lib/package-importer]
    #[arg(long, value_name = "DIR", global = true)]
    pub state_dir: Option<PathBuf>,
    /// Configuration file (TOML) [env: PKGIMPORT_CONFIG] [default:
    /// /etc/package-importer/config.toml if it exists]
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
}

impl CommonArgs {
    /// Loads the configuration with these flags and `extra` flags on top.
    pub fn load_config(&self, mut extra: Vec<FlagValue>) -> Result<Config, Failure> {
        if let Some(dir) = &self.state_dir {
            extra.push(FlagValue::state_dir(dir));
        }
        Config::load(self.config.as_deref(), &config::process_env(), &extra)
            .map_err(|e| Failure::new(Exit::Config, e.context("invalid configuration")))
    }
}

/// An error with the exit code it should end the process with.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn new(exit: Exit, error: anyhow::Error) -> Failure {
        Failure { exit, error }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        Failure {
            exit: Exit::Failure,
            error,
        }
    }
}

impl From<pkgimport_queue::Error> for Failure {
    fn from(e: pkgimport_queue::Error) -> Failure {
        let exit = if e.is_transient() {
            Exit::TempFail
        } else {
            Exit::Failure
        };
        Failure {
            exit,
            error: e.into(),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::new(Exit::Failure, e.into())
    }
}

/// Adds an exit code to errors.
pub trait OrExit<T> {
    fn or_exit(self, exit: Exit) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> OrExit<T> for Result<T, E> {
    fn or_exit(self, exit: Exit) -> Result<T, Failure> {
        self.map_err(|e| Failure::new(exit, e.into()))
    }
}

/// Parses the command line; `--help` and `--version` print and exit 0, a usage error exits
/// 64 with clap's message.
pub fn parse_args<P: clap::Parser>() -> Result<P, ExitCode> {
    match P::try_parse() {
        Ok(p) => Ok(p),
        Err(e) => {
            let _ = e.print();
            Err(if e.use_stderr() {
                ExitCode::from(Exit::Usage.code())
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// The whole `main` of a binary: parse the arguments (usage errors exit 64), install the
/// logger, run, and turn the result into the exit code.
pub fn main_with<P: clap::Parser>(
    name: &str,
    run: impl FnOnce(P) -> Result<Exit, Failure>,
) -> ExitCode {
    let args: P = match parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    init_logging();
    finish(name, run(args))
}

/// The one exit path: prints the error once, as one line, and returns the exit code.
pub fn finish(name: &str, result: Result<Exit, Failure>) -> ExitCode {
    match result {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(f) => {
            log::logger().flush();
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{name}: error: {:#}", f.error);
            ExitCode::from(f.exit.code())
        }
    }
}

/// Installs the logger: stderr, one line per event, filtered by `RUST_LOG` (default info).
/// Under systemd (`JOURNAL_STREAM` set) lines carry sd-daemon priority prefixes instead of
/// timestamps, so that `journalctl -p` works.
pub fn init_logging() {
    #[expect(
        clippy::disallowed_methods,
        reason = "logging reads its environment once, at start"
    )]
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    // The HTTP layer's debug and trace output dumps request headers, OAuth token included.
    // These directives come after RUST_LOG's and so win over it: secrets are never logged.
    for noisy in ["ureq", "ureq_proto", "rustls"] {
        builder.filter_module(noisy, log::LevelFilter::Info);
    }
    if journald {
        builder.format(|buf, record| {
            let prio = match record.level() {
                log::Level::Error => 3,
                log::Level::Warn => 4,
                log::Level::Info => 6,
                log::Level::Debug | log::Level::Trace => 7,
            };
            writeln!(buf, "<{prio}>{}", record.args())
        });
    } else {
        builder.format_timestamp_secs().format_target(false);
    }
    let _ = builder.try_init();
}

/// The exit-code table for `--help` texts.
pub fn exit_code_help() -> String {
    let mut s = String::from("Exit codes:\n");
    for e in Exit::ALL {
        s.push_str(&format!("  {:>3}  {}\n", e.code(), e.name()));
    }
    s
}
