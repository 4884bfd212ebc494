//! The PostgreSQL backend: connecting, applying the schema's migrations, and transactions
//! with an application retry. Its parts:
//! - [`link`]: one connection, usable from inside a tokio runtime too;
//! - [`values`]: the SQL layer's values as PostgreSQL parameters and columns;
//! - [`errors`]: what an error means (one line to show, transient, worth a retry);
//! - [`notify`]: `LISTEN/NOTIFY`, which wakes idle drivers when jobs are enqueued, and
//!   followers of the events table;
//! - [`locks`]: session advisory locks, the per-package exclusion across hosts.
//!
//! The client is `postgres` (rust-postgres): the synchronous face of `tokio-postgres`, kept
//! by the same maintainer for a decade, with no C library to link, and synchronous like
//! rusqlite, so that [`Store`](crate::Store) keeps one shape for both backends.
//!
//! Isolation: writes run at SERIALIZABLE and are retried whole on a serialization failure
//! or a deadlock, as SQLite's are retried while busy. Many of them read and then write on
//! what they read (the audit's phase, the breaker's row), and SERIALIZABLE lets them keep
//! the reasoning of SQLite's one-writer-at-a-time without a lock per statement. The queue's
//! hot writes run at REPEATABLE READ instead (`TxKind::QueueWrite` says why that is enough),
//! because SERIALIZABLE's page-level predicate locks make a third of them retry when eight
//! processes finish runs at once. Reads run at REPEATABLE READ, READ ONLY, so a
//! multi-statement read sees one snapshot. Claims run at READ COMMITTED, where `FOR UPDATE
//! SKIP LOCKED` lets claimers pass each other (see `Store::claim`).
//!
//! Connections are plain TCP or Unix sockets (`NoTls`): a URL that demands TLS
//! (`sslmode=require`) is refused when connecting. Put the database on a trusted network,
//! or add a TLS connector here when one is needed.

mod errors;
mod link;
mod locks;
mod notify;
mod values;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pkgimport_core::redact::redact_url;
use postgres::{Client, Statement};

pub(crate) use errors::{describe, is_transient};
pub(crate) use locks::AdvisoryLock;
pub(crate) use notify::{EVENTS_CHANNEL, JOBS_CHANNEL};

use crate::backend::{RETRY_FOR, jitter};
use crate::schema::POSTGRES_MIGRATIONS;
use crate::sql::{Row, SqlError, Tx, TxKind, Value};
use crate::{Backend, Error, Result};
use errors::{is_retryable, is_stale_plan};
use link::{Link, Reply, Request, wrong_reply};

/// Prepared statements kept per connection; the crate has fewer distinct statements.
const STATEMENT_CACHE: usize = 256;

/// How long connecting may take unless the URL says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `url` names a PostgreSQL database.
pub(crate) fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A connection to the shared database, with its own cache of prepared statements. It
/// reconnects at the start of the next transaction after the connection was lost.
pub(crate) struct PgConn {
    conn: Option<Link>,
    config: postgres::Config,
    location: String,
    statements: HashMap<String, Statement>,
    /// The channels this connection listens on.
    listening: Vec<&'static str>,
}

impl std::fmt::Debug for PgConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConn")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl PgConn {
    /// Connects to `url` and applies any pending migrations.
    pub(crate) fn connect(url: &str) -> Result<PgConn> {
        let location = redact_url(url);
        let config = parse_config(url, &location, "package-importer")?;
        let mut conn = Link::connect(&config)
            .map_err(|e| e.into_error(&format!("connecting to {location}")))?;
        let found = match conn.call(Request::Migrate) {
            Ok(Reply::Version(v)) => v,
            Ok(_) => return Err(wrong_reply().into_error("migrating")),
            Err(e) => return Err(e.into_error(&format!("migrating {location}"))),
        };
        let known = POSTGRES_MIGRATIONS.len() as i64;
        if found > known {
            return Err(Error::SchemaTooNew {
                path: PathBuf::from(&location),
                found,
                known,
            });
        }
        Ok(PgConn {
            conn: Some(conn),
            config,
            location,
            statements: HashMap::new(),
            listening: Vec::new(),
        })
    }

    /// The URL, redacted.
    pub(crate) fn location(&self) -> &str {
        &self.location
    }

    pub(crate) fn config(&self) -> &postgres::Config {
        &self.config
    }

    /// The open connection, reconnecting first if it was lost.
    fn conn(&mut self) -> Result<&mut Link, SqlError> {
        if self.conn.as_ref().is_none_or(Link::closed) {
            self.conn = None;
            self.statements.clear();
            self.listening.clear();
            self.conn = Some(Link::connect(&self.config)?);
            log::info!("reconnected to the state database {}", self.location);
        }
        Ok(self.conn.as_mut().expect("just connected"))
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, SqlError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let stmt = match self.conn()?.call(Request::Prepare(sql.to_owned()))? {
            Reply::Statement(s) => s,
            _ => return Err(wrong_reply()),
        };
        if self.statements.len() >= STATEMENT_CACHE {
            // A few statements embed a value (a listing's LIMIT); never let them pile up.
            // Dropping a `Statement` closes it on the server.
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }

    fn batch(&mut self, sql: &str) -> Result<(), SqlError> {
        self.conn()?.batch(sql)
    }

    /// Runs `f` in one transaction of `kind`, retrying the whole of it on a serialization
    /// failure, a deadlock, or a lost race for a package's one queued or one running job
    /// (see [`is_retryable`]), for at most [`RETRY_FOR`]. `f` may run more than once,
    /// so it must only touch the database.
    pub(crate) fn transact<T>(
        &mut self,
        kind: TxKind,
        what: &str,
        mut f: impl FnMut(&mut dyn Tx) -> Result<T, SqlError>,
    ) -> Result<T> {
        let begin = match kind {
            TxKind::Read => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            TxKind::Write => "BEGIN ISOLATION LEVEL SERIALIZABLE",
            TxKind::QueueWrite => "BEGIN ISOLATION LEVEL REPEATABLE READ",
            TxKind::Claim => "BEGIN ISOLATION LEVEL READ COMMITTED",
        };
        let start = Instant::now();
        let mut pause = Duration::from_millis(2);
        let mut reconnected = false;
        loop {
            let mut began = false;
            let attempt = (|| {
                self.batch(begin)?;
                began = true;
                let value = f(&mut PgTx { conn: self })?;
                self.batch("COMMIT")?;
                Ok(value)
            })();
            let e = match attempt {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let lost = self.conn.as_ref().is_none_or(Link::closed);
            if !began && lost && !reconnected {
                // The connection died while idle (a server restart, a dropped socket) and
                // nothing was sent but BEGIN: connect again, once, and start over.
                reconnected = true;
                continue;
            }
            // Leave no transaction open behind an error; a lost connection has none left.
            if let Some(conn) = self.conn.as_mut().filter(|c| !c.closed()) {
                let _ = conn.batch("ROLLBACK");
            }
            let SqlError::Postgres(pg) = &e else {
                return Err(e.into_error(what));
            };
            if is_stale_plan(pg) {
                // Another process changed the schema under a cached statement.
                self.statements.clear();
            } else if !is_retryable(pg) {
                return Err(e.into_error(what));
            }
            if start.elapsed() > RETRY_FOR {
                return Err(Error::Busy {
                    what: what.to_owned(),
                    waited_s: start.elapsed().as_secs(),
                });
            }
            log::debug!(
                "state database conflict while {what} ({}); retrying",
                describe(pg)
            );
            std::thread::sleep(pause + jitter(pause));
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }
}

fn parse_config(url: &str, location: &str, app: &str) -> Result<postgres::Config> {
    let mut config: postgres::Config =
        url.parse()
            .map_err(|e: postgres::Error| Error::DatabaseUrl {
                url: location.to_owned(),
                message: describe(&e),
            })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name(app);
    }
    // Notices ("relation already exists, skipping") are not worth an info line.
    config.notice_callback(|notice| log::debug!("postgres notice: {}", notice.message()));
    Ok(config)
}

/// A transaction on the shared database. BEGIN and COMMIT are the caller's; each statement
/// is prepared once per connection.
struct PgTx<'c> {
    conn: &'c mut PgConn,
}

impl Tx for PgTx<'_> {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        let stmt = self.conn.statement(sql)?;
        match self
            .conn
            .conn()?
            .call(Request::Execute(stmt, params.to_vec()))?
        {
            Reply::Count(n) => Ok(n),
            _ => Err(wrong_reply()),
        }
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        let stmt = self.conn.statement(sql)?;
        match self
            .conn
            .conn()?
            .call(Request::Query(stmt, params.to_vec()))?
        {
            Reply::Rows(rows) => Ok(rows),
            _ => Err(wrong_reply()),
        }
    }
}

/// The key of the advisory lock that serialises migrations.
fn migration_lock_key() -> i64 {
    locks::lock_key("pkgimport-queue migrations", "")
}

/// Applies pending migrations in one transaction, under a transaction-scoped advisory lock
/// so that processes starting together on an empty database take turns. Returns the version
/// found; one newer than this build knows is left alone, for the caller to refuse.
fn migrate(client: &mut Client) -> Result<i64, postgres::Error> {
    let known = POSTGRES_MIGRATIONS.len() as i64;
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&migration_lock_key()])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             id      BIGINT PRIMARY KEY CHECK (id = 1),
             version BIGINT NOT NULL  -- the number of migrations applied
         );
         INSERT INTO schema_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;",
    )?;
    let version: i64 = tx
        .query_one("SELECT version FROM schema_version WHERE id = 1", &[])?
        .try_get(0)?;
    if version >= known {
        return Ok(version);
    }
    for (i, m) in POSTGRES_MIGRATIONS
        .iter()
        .enumerate()
        .skip(version as usize)
    {
        tx.batch_execute(m)?;
        tx.execute(
            "UPDATE schema_version SET version = $1 WHERE id = 1",
            &[&(i as i64 + 1)],
        )?;
        log::debug!("state database migrated to version {}", i + 1);
    }
    tx.commit()?;
    Ok(version)
}
