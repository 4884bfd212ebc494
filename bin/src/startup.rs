//! Start-up steps of the long-running binaries: resolving the driver's settings from the
//! configuration, taking process-wide locks, and turning SIGTERM/SIGINT into a future.

use std::future::Future;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use pkgimport_driver::{DriverSettings, RequeueDelays};
use pkgimport_queue::lock::{self, LockFile, LockName};

use crate::config::Config;
use crate::{Exit, Failure, OrExit};

/// The driver's settings, from the configuration. A command that cannot be found is a
/// configuration error (78) here, at start, rather than one failure per package later.
pub fn driver_settings(config: &Config, exit_when_idle: bool) -> Result<DriverSettings, Failure> {
    let state_dir = config.state_dir();
    let command = config.string("driver.import_command");
    let mut words = command.split_whitespace().map(str::to_owned);
    let program = words
        .next()
        .ok_or_else(|| anyhow!("driver.import_command is empty"))
        .or_exit(Exit::Config)?;
    let import_program = resolve_program(&program).or_exit(Exit::Config)?;
    let mut child_env = vec![(
        "PKGIMPORT_STATE_DIR".to_owned(),
        state_dir.display().to_string(),
    )];
    if let Some(file) = &config.file {
        let file = std::path::absolute(file).unwrap_or_else(|_| file.clone());
        child_env.push(("PKGIMPORT_CONFIG".to_owned(), file.display().to_string()));
    }
    Ok(DriverSettings {
        state_dir,
        import_program,
        import_args: words.collect(),
        child_env,
        concurrency: config.int("driver.concurrency") as usize,
        run_timeout: config.duration("driver.run_timeout"),
        drain_timeout: config.duration("driver.drain_timeout"),
        poll_interval: config.duration("driver.poll_interval"),
        heartbeat_interval: config.duration("driver.heartbeat_interval"),
        requeue_delays: RequeueDelays {
            locked: config.duration("driver.locked_retry_delay"),
            unavailable: config.duration("driver.unavailable_retry_delay"),
        },
        breaker: breaker_settings(config),
        exit_when_idle,
    })
}

/// Opens the state database the configuration names: SQLite in the state directory, or
/// the PostgreSQL database of `database.url`.
pub fn open_store(config: &Config) -> Result<pkgimport_queue::Store, Failure> {
    let state_dir = config.state_dir();
    pkgimport_queue::Store::connect(&state_dir, config.database_url())
        .with_context(|| format!("opening the state database of {}", state_dir.display()))
        .or_exit(Exit::Failure)
}

/// Takes the package's lock for a whole import (exit 73 when another process holds it):
/// the lock file on SQLite, an advisory lock on PostgreSQL, which every host sees.
pub fn lock_package(
    store: &pkgimport_queue::Store,
    state_dir: &Path,
    package: &pkgimport_core::PackageName,
    wait: bool,
) -> Result<pkgimport_queue::lock::PackageLock, Failure> {
    if wait {
        return store
            .lock_package_wait(state_dir, package)
            .or_exit(Exit::Failure);
    }
    match store
        .lock_package(state_dir, package)
        .or_exit(Exit::Failure)?
    {
        Ok(l) => Ok(l),
        Err(held) => Err(Failure::new(
            Exit::Locked,
            anyhow!("package {package} is being imported ({held})"),
        )),
    }
}

/// The circuit breaker's knobs, from the `[breaker]` section.
pub fn breaker_settings(config: &Config) -> pkgimport_core::breaker::BreakerSettings {
    pkgimport_core::breaker::BreakerSettings {
        open_duration: config.duration("breaker.open_duration"),
        max_open_duration: config.duration("breaker.max_open_duration"),
        trip_consecutive: config.int("breaker.trip_consecutive") as u32,
        trip_ratio: config.float("breaker.trip_ratio"),
        trip_min_outcomes: config.int("breaker.trip_min_outcomes") as u32,
        trip_window: config.duration("breaker.trip_window"),
        probe_lease: config.duration("breaker.probe_lease"),
    }
}

/// A program named with a `/` is taken as it is. A bare name is looked for beside the
/// running binary first (the installed set of binaries belongs together), then on PATH.
fn resolve_program(program: &str) -> anyhow::Result<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return if is_executable(&p) {
            Ok(std::path::absolute(&p).unwrap_or(p))
        } else {
            Err(anyhow!(
                "import command {program} is not an executable file"
            ))
        };
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(program)))
        .filter(|p| is_executable(p));
    #[expect(
        clippy::disallowed_methods,
        reason = "PATH lookup for the import command"
    )]
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    beside
        .or_else(|| {
            std::env::split_paths(&path_var)
                .map(|d| d.join(program))
                .find(|p| is_executable(p))
        })
        .ok_or_else(|| anyhow!("import command {program} not found beside the driver nor on PATH"))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Takes the driver lock of a state directory, or explains who holds it (exit 73).
pub fn lock_driver(state_dir: &Path) -> Result<LockFile, Failure> {
    match lock::try_lock(state_dir, LockName::Driver).or_exit(Exit::Failure)? {
        Ok(lock) => Ok(lock),
        Err(held) => Err(Failure::new(
            Exit::Locked,
            anyhow!(
                "another driver is running on state directory {} ({held})",
                state_dir.display()
            ),
        )),
    }
}

/// Resolves on the first SIGTERM or SIGINT.
pub fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => log::info!("SIGTERM received"),
            _ = int.recv() => log::info!("SIGINT received"),
        }
    })
}

/// A Launchpad client configured from the `[launchpad]` section.
pub fn launchpad_client(config: &Config) -> Result<pkgimport_lp_client::Client, Failure> {
    let credentials = match config.string("launchpad.credentials_file") {
        "" => None,
        path => {
            Some(pkgimport_lp_client::Credentials::load(Path::new(path)).or_exit(Exit::Config)?)
        }
    };
    let settings = pkgimport_lp_client::ClientSettings {
        api_root: config.string("launchpad.api_root").to_owned(),
        page_size: config.int("launchpad.page_size") as u32,
        max_attempts: config.int("launchpad.max_attempts") as u32,
        backoff_base: config.duration("launchpad.backoff_base"),
        backoff_cap: config.duration("launchpad.backoff_cap"),
        retry_after_cap: config.duration("launchpad.retry_after_cap"),
        request_timeout: config.duration("launchpad.request_timeout"),
        consumer_name: "package-importer".to_owned(),
        credentials,
        download_hosts: config.list("launchpad.download_hosts"),
    };
    pkgimport_lp_client::Client::new(settings).or_exit(Exit::Config)
}

/// Takes the poll lock; `None` if another poll holds it.
pub fn lock_poll(state_dir: &Path) -> Result<Option<LockFile>, Failure> {
    match lock::try_lock(state_dir, LockName::Poll).or_exit(Exit::Failure)? {
        Ok(lock) => Ok(Some(lock)),
        Err(held) => {
            log::info!("another poll-uploads holds the poll lock ({held}); exiting");
            Ok(None)
        }
    }
}

/// The importer's settings, from the `[git]`, `[import]` and `[launchpad]` sections.
pub fn import_settings(
    config: &Config,
    run_id: Option<i64>,
) -> pkgimport_importer::import::ImportSettings {
    let max = config.int("import.max_unpacked_mib") as u64 * 1024 * 1024;
    let standard = pkgimport_unpack::Limits::standard();
    pkgimport_importer::import::ImportSettings {
        state_dir: config.state_dir(),
        distributions: config.list("launchpad.distributions"),
        remote_template: config.string("git.remote").to_owned(),
        committer_name: config.string("git.committer_name").to_owned(),
        committer_email: config.string("git.committer_email").to_owned(),
        git: pkgimport_git::GitOptions {
            network_timeout: config.duration("git.network_timeout"),
            ..pkgimport_git::GitOptions::default()
        },
        limits: pkgimport_unpack::Limits {
            max_total_bytes: max,
            max_file_bytes: standard.max_file_bytes.min(max),
            ..standard
        },
        run_id,
    }
}

/// Adds what a short-lived process's Launchpad client did to the persistent counters that
/// `importctl metrics` exports.
pub fn record_launchpad_stats(
    store: &mut pkgimport_queue::Store,
    client: &pkgimport_lp_client::Client,
) -> Result<(), Failure> {
    let stats = client.stats();
    store
        .add_counters(&[
            ("launchpad_requests_total", stats.requests),
            ("launchpad_retries_total", stats.retries),
        ])
        .or_exit(Exit::Failure)
}
