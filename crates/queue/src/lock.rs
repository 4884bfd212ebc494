//! Lock files under `<state-dir>/locks/`: exclusive `flock`s that the kernel releases when
//! the holder dies, so a crash never leaves a stale lock behind.
//!
//! - `locks/<package>.lock`: held by `import-one` for its whole run.
//! - `locks/_driver.lock`: held by the one driver of a state directory.
//! - `locks/_poll.lock`: held by `poll-uploads`.
//! - `locks/_report.lock`: held by `importctl report` while it writes the site.
//!
//! Process-wide locks start with `_`, which no Debian package name can, so they never collide
//! with a package. The holder writes its pid into the file, for error messages only: the
//! lock itself is the `flock`, never the file's content or existence.
//!
//! A file lock excludes only the processes of one host. With a shared PostgreSQL database,
//! [`Store::lock_package`] takes the package's exclusion there instead: a session advisory
//! lock on a connection of its own, which the server drops with the session when the
//! holder, or its whole host, dies. On SQLite it is the file lock above.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use pkgimport_core::PackageName;

use crate::backend::postgres::AdvisoryLock;
use crate::store::Store;
use crate::{Error, Result};

/// A held lock. Dropping it releases the lock; the file stays, empty of meaning.
#[derive(Debug)]
pub struct LockFile {
    /// Held only for its lock; closing it releases the lock.
    _file: File,
    path: PathBuf,
}

impl LockFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The lock is held by another process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub path: PathBuf,
    /// The pid the holder wrote into the file, if it could be read.
    pub holder: Option<u32>,
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is held", self.path.display())?;
        if let Some(pid) = self.holder {
            write!(f, " by pid {pid}")?;
        }
        Ok(())
    }
}

/// Which lock to take.
#[derive(Debug, Clone, Copy)]
pub enum LockName<'a> {
    Package(&'a PackageName),
    Driver,
    Poll,
    Report,
}

impl LockName<'_> {
    fn file_name(self) -> String {
        match self {
            LockName::Package(p) => format!("{p}.lock"),
            LockName::Driver => "_driver.lock".to_owned(),
            LockName::Poll => "_poll.lock".to_owned(),
            LockName::Report => "_report.lock".to_owned(),
        }
    }
}

/// The path of a lock file.
pub fn lock_path(state_dir: &Path, name: LockName<'_>) -> PathBuf {
    state_dir.join("locks").join(name.file_name())
}

/// Takes the lock if it is free; `Ok(Err(Held))` if another process holds it.
pub fn try_lock(
    state_dir: &Path,
    name: LockName<'_>,
) -> Result<std::result::Result<LockFile, Held>> {
    let (mut file, path) = open_lock_file(state_dir, name)?;
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that takes file locks"
    )]
    match file.try_lock() {
        Ok(()) => {
            write_holder(&mut file, &path)?;
            Ok(Ok(LockFile { _file: file, path }))
        }
        Err(TryLockError::WouldBlock) => Ok(Err(Held {
            holder: read_holder(&mut file),
            path,
        })),
        Err(TryLockError::Error(source)) => Err(Error::Io {
            what: "locking",
            path,
            source,
        }),
    }
}

/// Waits for the lock, however long it takes.
pub fn lock_wait(state_dir: &Path, name: LockName<'_>) -> Result<LockFile> {
    let (mut file, path) = open_lock_file(state_dir, name)?;
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that takes file locks"
    )]
    file.lock().map_err(|source| Error::Io {
        what: "locking",
        path: path.clone(),
        source,
    })?;
    write_holder(&mut file, &path)?;
    Ok(LockFile { _file: file, path })
}

/// A held per-package lock, from [`Store::lock_package`]: the lock file on SQLite, a
/// session advisory lock on PostgreSQL. Dropping it releases the lock.
#[derive(Debug)]
pub struct PackageLock {
    inner: PackageLockInner,
}

#[derive(Debug)]
enum PackageLockInner {
    File(
        #[expect(dead_code, reason = "held for its lock: dropping it releases the lock")] LockFile,
    ),
    Advisory(Box<AdvisoryLock>),
}

impl PackageLock {
    /// Whether the lock is still held. A file lock always is; an advisory lock is lost with
    /// its connection (a network failure, a restarted server), and then another host may
    /// take the package. Worth asking before an irreversible step such as a push.
    pub fn still_held(&mut self) -> Result<bool> {
        match &mut self.inner {
            PackageLockInner::File(_) => Ok(true),
            PackageLockInner::Advisory(a) => a.still_held(),
        }
    }
}

/// The package lock is held by another process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageHeld {
    /// The lock file, on this host.
    File(Held),
    /// The advisory lock on the shared database. `holder` is what the holder's connection
    /// calls itself (`package-importer lock host=... pid=...`), when the server shows it.
    Advisory {
        package: String,
        holder: Option<String>,
    },
}

impl std::fmt::Display for PackageHeld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PackageHeld::File(held) => held.fmt(f),
            PackageHeld::Advisory { package, holder } => {
                write!(f, "the database lock of package {package} is held")?;
                if let Some(h) = holder {
                    write!(f, " by {h}")?;
                }
                Ok(())
            }
        }
    }
}

impl Store {
    /// Takes the exclusion of one package if it is free; `Ok(Err(PackageHeld))` if another
    /// process holds it. SQLite: the file `locks/<package>.lock` under `state_dir`, as
    /// [`try_lock`]. PostgreSQL: a session advisory lock on a new connection of its own,
    /// keyed by a stable 64-bit hash of the package name, which excludes every host that
    /// shares the database. Hold the returned lock for the whole run.
    pub fn lock_package(
        &self,
        state_dir: &Path,
        package: &PackageName,
    ) -> Result<std::result::Result<PackageLock, PackageHeld>> {
        let Some(pg) = self.postgres() else {
            return Ok(try_lock(state_dir, LockName::Package(package))?
                .map(|l| PackageLock {
                    inner: PackageLockInner::File(l),
                })
                .map_err(PackageHeld::File));
        };
        Ok(AdvisoryLock::try_take(pg.config(), pg.location(), package)?
            .map(|a| PackageLock {
                inner: PackageLockInner::Advisory(Box::new(a)),
            })
            .map_err(|holder| PackageHeld::Advisory {
                package: package.to_string(),
                holder,
            }))
    }

    /// Waits for the exclusion of one package, however long it takes (see
    /// [`Store::lock_package`]).
    pub fn lock_package_wait(
        &self,
        state_dir: &Path,
        package: &PackageName,
    ) -> Result<PackageLock> {
        let inner = match self.postgres() {
            None => PackageLockInner::File(lock_wait(state_dir, LockName::Package(package))?),
            Some(pg) => PackageLockInner::Advisory(Box::new(AdvisoryLock::take_wait(
                pg.config(),
                pg.location(),
                package,
            )?)),
        };
        Ok(PackageLock { inner })
    }
}

fn open_lock_file(state_dir: &Path, name: LockName<'_>) -> Result<(File, PathBuf)> {
    let dir = state_dir.join("locks");
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
        what: "creating lock directory",
        path: dir.clone(),
        source,
    })?;
    let path = dir.join(name.file_name());
    // Never truncate on open: the file may be locked by someone else right now.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| Error::Io {
            what: "opening lock file",
            path: path.clone(),
            source,
        })?;
    Ok((file, path))
}

fn write_holder(file: &mut File, path: &Path) -> Result<()> {
    let io = |source| Error::Io {
        what: "writing lock file",
        path: path.to_owned(),
        source,
    };
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    Ok(())
}

fn read_holder(file: &mut File) -> Option<u32> {
    let mut s = String::new();
    file.read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_taker_is_refused_until_release() {
        let dir = tempfile::tempdir().unwrap();
        let name = PackageName::parse("hello").unwrap();
        let first = try_lock(dir.path(), LockName::Package(&name))
            .unwrap()
            .unwrap();
        let held = try_lock(dir.path(), LockName::Package(&name))
            .unwrap()
            .unwrap_err();
        assert_eq!(held.holder, Some(std::process::id()));
        assert!(held.path.ends_with("locks/hello.lock"));
        // Other locks are independent.
        let _driver = try_lock(dir.path(), LockName::Driver).unwrap().unwrap();
        drop(first);
        assert!(
            try_lock(dir.path(), LockName::Package(&name))
                .unwrap()
                .is_ok()
        );
    }
}
