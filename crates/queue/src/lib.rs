//! The state database of package-importer, and the lock files beside it.
//!
//! Every binary cooperates through this crate only: the job queue, runs, failures, the
//! circuit breaker, settings, heartbeats, the poller's watermarks and the audit tables live
//! in the state database, and per-package exclusion lives in `<state-dir>/locks/`. All SQL
//! of the project is in this crate, behind [`Store`], whose methods speak in the project's
//! own types, so that the binaries cannot tell which backend runs: SQLite in
//! `<state-dir>/state.db` (the default), or a shared PostgreSQL database
//! ([`Store::connect`]) for many drivers on many hosts.
//!
//! The map:
//! - `store`: [`Store`], opening it and its transactions, and its methods by table;
//!   [`audit`], `breaker` and [`monitor`] add the methods of their own tables;
//! - [`poll`]: the poller's memory of each skew window, and reconciling Launchpad with the
//!   audit;
//! - `sql`: the one SQL layer that lets each query be written once for both backends;
//! - `backend`: the two backends, `sqlite` and `postgres`;
//! - `schema`: the versioned migrations that define the schema, the same on both backends;
//! - [`copy_to_postgres`]: copying a SQLite state database into an empty PostgreSQL one;
//! - [`lock`]: the lock files, and PostgreSQL's advisory package locks.

pub mod audit;
mod backend;
mod breaker;
pub mod copy_to_postgres;
pub mod lock;
mod model;
pub mod monitor;
pub mod poll;
mod schema;
pub mod series;
mod sql;
mod store;

pub use model::*;
pub use store::{DB_FILE, EVENTS_KEPT, Store};

use std::path::PathBuf;

/// Which database a [`Store`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The SQLite file in the state directory.
    Sqlite,
    /// A PostgreSQL database shared by many hosts.
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The errors of the state database. Callers branch on the variants; everything else is
/// `Sqlite` or `Postgres` with the operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "state database {path} is at schema version {found}, newer than this build knows ({known}); upgrade package-importer"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("state database stayed busy for {waited_s}s while {what}")]
    Busy { what: String, waited_s: u64 },
    #[error("{what}: {source}")]
    Sqlite {
        what: String,
        #[source]
        source: rusqlite::Error,
    },
    /// An error from PostgreSQL or from talking to it. The client's error is kept as a
    /// field, not as the source: its own rendering spans lines, so the message carries a
    /// one-line summary of it instead.
    #[error("{what}: {}", backend::postgres::describe(error))]
    Postgres {
        what: String,
        error: postgres::Error,
    },
    /// The database held something that this build cannot read, or a request broke a rule
    /// checked inside the transaction.
    #[error("{what}: {message}")]
    Invalid { what: String, message: String },
    /// `[database] url` is not one this build can open. The URL is shown redacted.
    #[error("database url {url}: {message}")]
    DatabaseUrl { url: String, message: String },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("package {package}: {message}")]
    Audit { package: String, message: String },
    #[error("no {what} {id}")]
    NotFound { what: &'static str, id: String },
}

impl Error {
    /// True when trying the same thing again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Busy { .. } | Error::Io { .. } => true,
            Error::Postgres { error, .. } => backend::postgres::is_transient(error),
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
