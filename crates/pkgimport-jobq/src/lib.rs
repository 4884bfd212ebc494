//! The state database of package-importer, and the lock files beside it.
//!
//! Every binary cooperates through this crate only: the job queue, runs, failures, flags
//! and heartbeats live in `<state-dir>/state.db`, and per-package exclusion lives in
//! `<state-dir>/locks/`. All SQL of the project is in this crate, behind [`Store`], whose
//! methods speak in the project's own types so that a PostgreSQL backend can implement the
//! same API later without touching the binaries.

pub mod audit;
mod breaker;
mod db;
pub mod lock;
mod migrations;
mod model;
pub mod monitor;
mod store;

pub use model::*;
pub use store::{DB_FILE, Store};

use std::path::PathBuf;

/// The errors of the state database. Callers branch on the variants; everything else is
/// `Sqlite` with the operation that failed.
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
        matches!(self, Error::Busy { .. } | Error::Io { .. })
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
