//! [`Store`]: the state database's API. Every method is one transaction.
//!
//! The methods are written once, against the SQL layer of `sql`; [`Store::transact`] hands
//! them a transaction of whichever backend is open. See `sql` for the shared dialect.
//!
//! This module opens the store and runs its transactions; the methods live with the
//! tables they work on:
//! - [`queue`]: jobs: enqueue, claim, finish a run and dispose of its job, the queue's
//!   listing;
//! - [`runs`]: the runs table: the processes that carry them out, the drivers' leases, the
//!   listings;
//! - [`failures`]: failures: listing, grouping, re-queueing, marking for attention;
//! - [`settings`]: settings, such as the pause flag;
//! - [`status`]: heartbeats, the overall status, and everything about one package;
//! - [`events`]: the events that writers record with their changes, for followers;
//! - [`access`]: importer-web's tokens, sessions and audit log of actions.
//!
//! The circuit breaker, the audit tables, monitoring and the locks have modules of their
//! own at the crate's root (`breaker`, `audit`, `monitor`, `lock`).

mod access;
mod events;
mod failures;
mod queue;
mod runs;
mod settings;
mod status;

pub(crate) use queue::{enqueue_in, notify_jobs};

use std::path::{Path, PathBuf};

use pkgimport_core::PackageName;
use pkgimport_core::redact::redact_url;

use crate::backend::postgres::{JOBS_CHANNEL, PgConn, is_postgres_url};
use crate::backend::sqlite;
use crate::sql::{SqlError, Tx, TxKind, params};
use crate::{Backend, Error, Result};

pub use events::EVENTS_KEPT;
pub(crate) use events::record_events;

/// The name of the database file inside the state directory.
pub const DB_FILE: &str = "state.db";

/// An open state database. One per process (or per thread).
///
/// Either the SQLite file `<state-dir>/state.db` ([`Store::open`]), cheap to open, or a
/// shared PostgreSQL database ([`Store::connect`] with a `postgres://` URL): one connection
/// (plus one per held package lock), so keep the store for the life of the process. Callers
/// cannot tell them apart, except through [`Store::backend`], which is for logging.
pub struct Store {
    conn: Conn,
    path: PathBuf,
    /// Set by [`Store::act_as_driver`]: the name and lease recorded on each claimed run.
    driver: Option<(String, std::time::Duration)>,
}

enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(Box<PgConn>),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .field("path", &self.path)
            .finish()
    }
}

impl Store {
    /// Opens `<state_dir>/state.db`, creating the directory and the database as needed, and
    /// applies any pending migrations.
    pub fn open(state_dir: &Path) -> Result<Store> {
        create_state_dir(state_dir)?;
        let path = state_dir.join(DB_FILE);
        let conn = sqlite::open(&path)?;
        Ok(Store {
            conn: Conn::Sqlite(conn),
            path,
            driver: None,
        })
    }

    /// Opens the state database that the configuration names: `None` is SQLite in the state
    /// directory (as [`Store::open`]); a `postgres://` or `postgresql://` URL is that
    /// PostgreSQL database, migrated as needed. Anything else is an error. The state
    /// directory is created either way: locks, logs and work trees live there.
    pub fn connect(state_dir: &Path, database_url: Option<&str>) -> Result<Store> {
        let Some(url) = database_url else {
            return Store::open(state_dir);
        };
        if !is_postgres_url(url) {
            return Err(Error::DatabaseUrl {
                url: redact_url(url),
                message: "not a PostgreSQL URL (postgres://... or postgresql://...); \
                          leave it unset for SQLite in the state directory"
                    .to_owned(),
            });
        }
        create_state_dir(state_dir)?;
        let conn = PgConn::connect(url)?;
        Ok(Store {
            path: PathBuf::from(conn.location()),
            conn: Conn::Postgres(Box::new(conn)),
            driver: None,
        })
    }

    /// Which backend this is, for logging.
    pub fn backend(&self) -> Backend {
        match self.conn {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }

    /// The database file; for PostgreSQL, the URL with its user info redacted.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one transaction of `kind` on whichever backend is open, with that
    /// backend's retry. `f` may run more than once, so it must only touch the database.
    pub(crate) fn transact<T>(
        &mut self,
        kind: TxKind,
        what: &str,
        f: impl FnMut(&mut dyn Tx) -> Result<T, SqlError>,
    ) -> Result<T> {
        match &mut self.conn {
            Conn::Sqlite(c) => sqlite::transact(c, kind, what, f),
            Conn::Postgres(c) => c.transact(kind, what, f),
        }
    }

    /// The SQLite connection, for the few statements that only SQLite has.
    pub(crate) fn sqlite(&mut self) -> Option<&mut rusqlite::Connection> {
        match &mut self.conn {
            Conn::Sqlite(c) => Some(c),
            Conn::Postgres(_) => None,
        }
    }

    pub(crate) fn postgres_mut(&mut self) -> Option<&mut PgConn> {
        match &mut self.conn {
            Conn::Sqlite(_) => None,
            Conn::Postgres(c) => Some(c),
        }
    }

    pub(crate) fn postgres(&self) -> Option<&PgConn> {
        match &self.conn {
            Conn::Sqlite(_) => None,
            Conn::Postgres(c) => Some(c),
        }
    }

    /// Waits up to `timeout` for a hint that jobs were enqueued, and says whether one came.
    /// On PostgreSQL this listens for the `NOTIFY` that `enqueue` and `retry` send; on
    /// SQLite there is no such signal, so it sleeps the whole timeout and returns false.
    /// Either way it is only a hint: keep polling. It blocks the calling thread.
    pub fn wait_for_work(&mut self, timeout: std::time::Duration) -> Result<bool> {
        match &mut self.conn {
            Conn::Sqlite(_) => {
                std::thread::sleep(timeout);
                Ok(false)
            }
            Conn::Postgres(c) => c.wait_for(JOBS_CHANNEL, timeout),
        }
    }

    /// The database's own consistency check; `Ok(())` when it finds nothing wrong. On
    /// SQLite, `PRAGMA integrity_check`; PostgreSQL checks its own pages, so there this only
    /// proves that the database answers.
    pub fn integrity_check(&mut self) -> Result<std::result::Result<(), String>> {
        let Some(conn) = self.sqlite() else {
            self.transact(TxKind::Read, "checking integrity", |tx| {
                tx.query_one("SELECT 1", params![]).map(drop)
            })?;
            return Ok(Ok(()));
        };
        let answer: String = sqlite::retry("checking integrity", || {
            conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        })?;
        Ok(if answer == "ok" { Ok(()) } else { Err(answer) })
    }
}

fn create_state_dir(state_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(state_dir).map_err(|source| Error::Io {
        what: "creating state directory",
        path: state_dir.to_owned(),
        source,
    })
}

/// Names in the database were validated on the way in; one that is not valid means the
/// database was edited by hand, and is reported rather than trusted.
fn parse_name(raw: &str) -> Result<PackageName, SqlError> {
    PackageName::parse(raw)
        .map_err(|e| SqlError::Invalid(format!("package name {raw:?} in the database: {e}")))
}
