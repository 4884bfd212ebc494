//! Start-up steps of the binaries that are not settings: opening the state database, taking
//! the process-wide and package locks, resolving the import program, and turning
//! SIGTERM/SIGINT into a future. The settings themselves are built in `config::settings`.

use std::future::Future;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use pkgimport_queue::lock::{self, LockFile, LockName};

use crate::config::Config;
use crate::{Exit, Failure, OrExit};

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

/// A program named with a `/` is taken as it is. A bare name is looked for beside the
/// running binary first (the installed set of binaries belongs together), then on PATH.
pub(crate) fn resolve_program(program: &str) -> anyhow::Result<PathBuf> {
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

/// What importer-web needs of the rest: opening the state database (once per database
/// thread), and `reset --adopt-remote` of a package under its lock, as `importctl reset`
/// does it.
pub fn web_hooks(config: &Config) -> (pkgimport_web::OpenStore, pkgimport_web::AdoptRemote) {
    let state_dir = config.state_dir();
    let url = config.database_url().map(str::to_owned);
    let open: pkgimport_web::OpenStore = {
        let state_dir = state_dir.clone();
        std::sync::Arc::new(move || pkgimport_queue::Store::connect(&state_dir, url.as_deref()))
    };
    let import = crate::config::settings::import(config, None);
    let adopt: pkgimport_web::AdoptRemote = std::sync::Arc::new(move |store, package| {
        let _lock = lock_package(store, &state_dir, package, false)
            .map_err(|f| format!("{:#}", f.error))?;
        pkgimport_importer::verify::adopt_remote(store, &import, package)
            .map(|n| format!("{package}: the audit now holds the remote's {n} refs"))
            .map_err(|e| format!("{:#}", anyhow::Error::from(e)))
    });
    (open, adopt)
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
