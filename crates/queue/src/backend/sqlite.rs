//! Opening the SQLite file, and running transactions that never surface "database is locked".
//!
//! Many processes write at once: the driver, every `import-one`, the poller, `importctl`.
//! SQLite serialises writers. Two layers keep that invisible:
//! - a busy timeout, so SQLite itself waits for the write lock;
//! - an application retry around the whole transaction, because in WAL mode a `BEGIN
//!   IMMEDIATE` can still fail with `SQLITE_BUSY` straight away (for example while another
//!   connection runs recovery or a checkpoint), and the busy handler is not called then.
//!
//! Every write transaction is `BEGIN IMMEDIATE`: it takes the write lock up front, so a
//! transaction never has to upgrade a read lock half-way through, which is the one case that
//! SQLite cannot resolve by waiting.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use super::{RETRY_FOR, jitter};
use crate::schema::SQLITE_MIGRATIONS;
use crate::sql::{Row, SqlError, Tx, TxKind, Value, sqlite_sql};
use crate::{Backend, Error, Result};

/// How long SQLite's own busy handler waits for a lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Prepared statements kept per connection; the crate has fewer distinct statements.
const STATEMENT_CACHE: usize = 128;

pub(crate) fn open(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let sqlite = |what: &str| {
        let what = format!("{what} {}", path.display());
        move |source| Error::Sqlite { what, source }
    };
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that opens the state database"
    )]
    let conn = Connection::open_with_flags(path, flags).map_err(sqlite("opening"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(sqlite("setting busy timeout on"))?;
    // Every statement of the crate fits, so none is ever parsed twice.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // journal_mode is persistent in the file, but switching it needs a moment of exclusive
    // access, so it goes through the retry loop like a write.
    retry("enabling WAL", || {
        conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
    })?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(sqlite("configuring"))?;
    migrate(&conn, path)?;
    Ok(conn)
}

fn migrate(conn: &Connection, path: &Path) -> Result<()> {
    let known = SQLITE_MIGRATIONS.len() as i64;
    loop {
        let version: i64 = retry("reading schema version", || {
            conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        })?;
        if version > known {
            return Err(Error::SchemaTooNew {
                path: path.to_owned(),
                found: version,
                known,
            });
        }
        if version == known {
            return Ok(());
        }
        retry("migrating", || {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let step = (|| {
                // Another process may have migrated while we waited for the lock.
                let now: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                if now == version {
                    conn.execute_batch(SQLITE_MIGRATIONS[version as usize])?;
                    conn.execute_batch(&format!("PRAGMA user_version = {}", version + 1))?;
                }
                Ok(())
            })();
            match step {
                Ok(()) => conn.execute_batch("COMMIT"),
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    Err(e)
                }
            }
        })?;
        log::debug!(
            "state database {} migrated to version {}",
            path.display(),
            version + 1
        );
    }
}

/// Runs `f` in one transaction, retrying the whole of it while the database is busy. Writes
/// and claims are `BEGIN IMMEDIATE`; reads are deferred, which in WAL mode never waits for
/// a writer. `f` may run more than once, so it must only touch the database.
pub(crate) fn transact<T>(
    conn: &mut Connection,
    kind: TxKind,
    what: &str,
    mut f: impl FnMut(&mut dyn Tx) -> Result<T, SqlError>,
) -> Result<T> {
    let behavior = match kind {
        TxKind::Read => TransactionBehavior::Deferred,
        TxKind::Write | TxKind::QueueWrite | TxKind::Claim => TransactionBehavior::Immediate,
    };
    retry_sql(what, || {
        let tx = conn.transaction_with_behavior(behavior)?;
        let value = f(&mut SqliteTx { conn: &tx })?;
        tx.commit()?;
        Ok(value)
    })
}

/// Retries `f` while it fails with `SQLITE_BUSY` or `SQLITE_LOCKED`, with a short, growing,
/// jittered pause, for at most [`RETRY_FOR`].
pub(crate) fn retry<T>(what: &str, mut f: impl FnMut() -> rusqlite::Result<T>) -> Result<T> {
    retry_sql(what, || f().map_err(SqlError::from))
}

fn retry_sql<T>(what: &str, mut f: impl FnMut() -> Result<T, SqlError>) -> Result<T> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(2);
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(SqlError::Sqlite(e)) if is_busy(&e) => {
                if start.elapsed() > RETRY_FOR {
                    return Err(Error::Busy {
                        what: what.to_owned(),
                        waited_s: start.elapsed().as_secs(),
                    });
                }
                log::debug!("state database busy while {what}; retrying");
                std::thread::sleep(pause + jitter(pause));
                pause = (pause * 2).min(Duration::from_millis(250));
            }
            Err(e) => return Err(e.into_error(what)),
        }
    }
}

/// A transaction on the SQLite file. Statements are prepared once per connection and kept
/// in rusqlite's cache, keyed by their (rewritten) text.
struct SqliteTx<'c> {
    conn: &'c Connection,
}

impl Tx for SqliteTx<'_> {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        let mut stmt = self.conn.prepare_cached(&sqlite_sql(sql))?;
        Ok(stmt.execute(rusqlite::params_from_iter(params))? as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        let mut stmt = self.conn.prepare_cached(&sqlite_sql(sql))?;
        let columns = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut row = Vec::with_capacity(columns);
            for i in 0..columns {
                row.push(match r.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Real(v) => Value::Real(v),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            out.push(Row(row));
        }
        Ok(out)
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Real(v) => ValueRef::Real(*v),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}
