//! Moving to PostgreSQL: copies a SQLite state database into an empty PostgreSQL one
//! (`importctl migrate-db --to postgres://...`).
//!
//! Both schemas are the same migration for migration (see `schema`), so the copy is
//! table by table and column by column, ids included: runs keep their ids, so the log paths
//! `logs/<package>/<run>.log` and the `run_id`s that failures and audit marks point at stay
//! true. The identity sequences then move past the copied ids.
//!
//! Consistency: every table is read in one SQLite read transaction, so the copy is the state
//! as of one moment (WAL readers never wait for a writer, nor block one), and every row is
//! written in one PostgreSQL transaction that first locks all the tables, checks that they
//! are empty, and last checks that each holds as many rows as the source: the target gets
//! all of it or nothing. Writes that other processes make to the SQLite file after that
//! moment are not copied, which is why the operator stops the driver and the timers first.
//! The driver's and the poller's lock files are held throughout, so that neither can run
//! meanwhile; a by-hand `import-one` or `importctl` is the operator's to avoid.
//!
//! Rows go in as multi-row `INSERT`s of up to `BATCH_PARAMS` parameters, through the one
//! SQL layer, so nothing here depends on which client the backend uses.
//!
//! The SQLite file is only read, once [`Store::open`] has brought its schema up to date (as
//! every program does when it opens it): it stays usable, as it was.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;

use crate::Error;
use crate::backend::sqlite;
use crate::lock::{self, Held, LockName};
use crate::sql::{SqlError, Tx, TxKind, Value, params};
use crate::store::{DB_FILE, Store};

/// Every table of the schema, in the order they are copied, and whether its `id` is an
/// identity column (`INTEGER PRIMARY KEY` on SQLite) whose sequence must move past the
/// copied ids. `schema_version` is not here: [`Store::connect`] makes and fills it. A test
/// checks this list against the tables that the migrations create.
pub const TABLES: [(&str, bool); 25] = [
    ("jobs", true),
    ("runs", true),
    ("failures", false),
    ("settings", false),
    ("heartbeats", false),
    ("watermarks", false),
    ("audit_refs", false),
    ("audit_versions", false),
    ("audit_publications", false),
    ("staged_refs", false),
    ("staged_versions", false),
    ("staged_publications", false),
    ("audit_marks", false),
    ("breaker", false),
    ("breaker_outcomes", true),
    ("breaker_transitions", true),
    ("poll_seen", false),
    ("counters", false),
    ("snapshots", false),
    ("series", false),
    ("poll_memory", false),
    ("events", true),
    ("tokens", false),
    ("sessions", false),
    ("actions", true),
];

/// The table that migration 3 fills with its one row: the target's copy is replaced, not
/// counted against "empty".
const SEEDED: &str = "breaker";

/// Parameters per `INSERT`: well under PostgreSQL's limit of 65535, and large enough that
/// a round trip carries about a thousand rows of the widest table.
const BATCH_PARAMS: usize = 16_000;

/// How many rows one table had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableRows {
    pub table: &'static str,
    pub rows: u64,
}

/// What [`copy_to_postgres`] copied.
#[derive(Clone, Debug)]
pub struct CopySummary {
    /// The SQLite file that was read.
    pub source: PathBuf,
    /// The target's URL, user info and password redacted.
    pub target: String,
    /// Rows per table, in [`TABLES`] order.
    pub tables: Vec<TableRows>,
    /// From the start of the read to the commit.
    pub elapsed: Duration,
}

impl CopySummary {
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// Why the copy did not happen. Nothing was written to the target in any case.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The state directory holds no state database.
    #[error("no state database at {}: check state_dir", path.display())]
    NoSource { path: PathBuf },
    /// A driver or a poller runs on the state directory.
    #[error("{process} is running ({held}): stop the driver and the timers first")]
    Running { process: &'static str, held: Held },
    /// The target holds rows already.
    #[error(
        "{target} is not empty ({}): migrate-db copies into an empty database only",
        describe_tables(tables)
    )]
    TargetNotEmpty {
        target: String,
        tables: Vec<TableRows>,
    },
    /// The target URL is unusable: not PostgreSQL, malformed, an unknown database, or
    /// credentials the server refused. Retrying will not help.
    #[error(transparent)]
    BadTarget(Error),
    /// The target could not be reached, or the connection was lost.
    #[error(transparent)]
    Unavailable(Error),
    #[error(transparent)]
    Store(Error),
}

impl From<Error> for CopyError {
    fn from(e: Error) -> CopyError {
        classify(e)
    }
}

fn describe_tables(tables: &[TableRows]) -> String {
    let rows: Vec<String> = tables
        .iter()
        .map(|t| format!("{} has {} rows", t.table, t.rows))
        .collect();
    rows.join(", ")
}

/// Sorts a store error into the variants that callers branch on.
fn classify(e: Error) -> CopyError {
    match &e {
        Error::DatabaseUrl { .. } => CopyError::BadTarget(e),
        Error::Postgres { .. } if e.is_transient() => CopyError::Unavailable(e),
        Error::Postgres { error, .. }
            if error.code().is_some_and(|c| {
                // 28: invalid authorization (wrong user or password); 3D000: no such
                // database.
                c.code().starts_with("28") || c.code() == "3D000"
            }) =>
        {
            CopyError::BadTarget(e)
        }
        _ => CopyError::Store(e),
    }
}

/// Copies every table of the SQLite state database in `state_dir` (migrated to the newest
/// schema first) into the empty PostgreSQL database at `url` (whose schema is created),
/// ids included, and moves its identity sequences past them. Refuses while the driver or
/// the poller holds its lock, and when any table of the target already has rows. The
/// SQLite file is only read (after its own migrations).
pub fn copy_to_postgres(state_dir: &Path, url: &str) -> Result<CopySummary, CopyError> {
    let path = state_dir.join(DB_FILE);
    if !path.is_file() {
        return Err(CopyError::NoSource { path });
    }
    // Held until the copy is committed: a driver or poller that starts meanwhile exits.
    let _driver = hold(state_dir, LockName::Driver, "the driver")?;
    let _poll = hold(state_dir, LockName::Poll, "poll-uploads")?;
    let mut source = Store::open(state_dir)?;
    let mut target = Store::connect(state_dir, Some(url))?;
    let target_name = target.path().display().to_string();
    let conn = source
        .sqlite()
        .ok_or_else(|| CopyError::Store(invalid("the source is not SQLite")))?;

    let started = Instant::now();
    sqlite::retry("starting to read the state database", || {
        conn.execute_batch("BEGIN DEFERRED")
    })?;
    let copied = (|| {
        // The first read fixes the snapshot that every later read of this transaction sees.
        check_tables(conn).map_err(|e| e.into_error("listing the tables of the state database"))?;
        let counts = TABLES
            .iter()
            .map(|(table, _)| {
                let n: i64 =
                    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
                Ok(TableRows {
                    table,
                    rows: n as u64,
                })
            })
            .collect::<Result<Vec<_>, rusqlite::Error>>()
            .map_err(|e| SqlError::from(e).into_error("counting the rows of the state database"))?;
        target.transact(TxKind::Write, "copying the state database", |tx| {
            copy_all(tx, conn, &counts)
        })
    })();
    // Only read: ending the read transaction either way loses nothing.
    let _ = conn.execute_batch("ROLLBACK");
    let tables = match copied? {
        Ok(tables) => tables,
        Err(busy) => {
            return Err(CopyError::TargetNotEmpty {
                target: target_name,
                tables: busy,
            });
        }
    };
    let summary = CopySummary {
        source: path,
        target: target_name,
        tables,
        elapsed: started.elapsed(),
    };
    log::info!(
        "migrate-db: copied source={} target={} rows={} seconds={:.2}",
        summary.source.display(),
        summary.target,
        summary.total_rows(),
        summary.elapsed.as_secs_f64()
    );
    Ok(summary)
}

fn hold(
    state_dir: &Path,
    name: LockName<'_>,
    process: &'static str,
) -> Result<lock::LockFile, CopyError> {
    lock::try_lock(state_dir, name)?.map_err(|held| CopyError::Running { process, held })
}

fn invalid(message: &str) -> Error {
    Error::Invalid {
        what: "migrating the state database".to_owned(),
        message: message.to_owned(),
    }
}

/// The SQLite database must hold exactly the tables of [`TABLES`]: a table that this list
/// forgot would otherwise be left behind without a word.
fn check_tables(conn: &rusqlite::Connection) -> Result<(), SqlError> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
         ORDER BY name",
    )?;
    let found = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut known: Vec<&str> = TABLES.iter().map(|(t, _)| *t).collect();
    known.sort_unstable();
    if found != known {
        return Err(SqlError::Invalid(format!(
            "the state database has the tables {found:?}, this build copies {known:?}"
        )));
    }
    Ok(())
}

/// The whole copy, inside the target's one transaction. `Ok(Err(tables))` when the target
/// was not empty (nothing is written then).
fn copy_all(
    tx: &mut dyn Tx,
    conn: &rusqlite::Connection,
    counts: &[TableRows],
) -> Result<Result<Vec<TableRows>, Vec<TableRows>>, SqlError> {
    let all: Vec<&str> = TABLES.iter().map(|(t, _)| *t).collect();
    // No other session may write while we look and copy; readers may go on.
    tx.execute(
        &format!("LOCK TABLE {} IN EXCLUSIVE MODE", all.join(", ")),
        params![],
    )?;
    let mut busy = Vec::new();
    for (table, _) in TABLES {
        if table == SEEDED {
            continue;
        }
        let n = count(tx, table)?;
        if n > 0 {
            busy.push(TableRows { table, rows: n });
        }
    }
    if !busy.is_empty() {
        return Ok(Err(busy));
    }
    tx.execute(&format!("DELETE FROM {SEEDED}"), params![])?;
    for want in counts {
        let copied = copy_table(tx, conn, want.table)?;
        let stored = count(tx, want.table)?;
        if copied != want.rows || stored != want.rows {
            return Err(SqlError::Invalid(format!(
                "table {}: {} rows in the source, {copied} read, {stored} stored",
                want.table, want.rows
            )));
        }
    }
    move_sequences(tx)?;
    Ok(Ok(counts.to_vec()))
}

fn count(tx: &mut dyn Tx, table: &str) -> Result<u64, SqlError> {
    Ok(tx
        .query_one(&format!("SELECT count(*) FROM {table}"), params![])?
        .get::<i64>(0)? as u64)
}

/// Streams one table from SQLite into the target in batches. Returns the rows read.
fn copy_table(tx: &mut dyn Tx, conn: &rusqlite::Connection, table: &str) -> Result<u64, SqlError> {
    let mut stmt = conn.prepare(&format!("SELECT * FROM {table}"))?;
    let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let width = columns.len();
    let per_batch = (BATCH_PARAMS / width).max(1);
    let full_batch = insert_sql(table, &columns, per_batch);
    let mut batch: Vec<Value> = Vec::with_capacity(per_batch * width);
    let mut n = 0u64;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        for i in 0..width {
            batch.push(match r.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(v) => Value::Int(v),
                ValueRef::Real(v) => Value::Real(v),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            });
        }
        n += 1;
        if batch.len() == per_batch * width {
            tx.execute(&full_batch, &batch)?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        tx.execute(&insert_sql(table, &columns, batch.len() / width), &batch)?;
    }
    Ok(n)
}

/// `INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4), ...` for `rows` rows.
fn insert_sql(table: &str, columns: &[String], rows: usize) -> String {
    let width = columns.len();
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for col in 0..width {
            if col > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", row * width + col + 1));
        }
        sql.push(')');
    }
    sql
}

/// Moves each identity sequence past the ids copied, so that new rows never take one. A
/// new job's id also stays above every `runs.job_id`, and a new run's above every run id
/// that jobs, failures and audit marks mention, so that history never seems to repeat.
/// A sequence with nothing to move past is left alone.
fn move_sequences(tx: &mut dyn Tx) -> Result<(), SqlError> {
    let highest = [
        (
            "jobs",
            "greatest((SELECT max(id) FROM jobs), (SELECT max(job_id) FROM runs))",
        ),
        (
            "runs",
            "greatest((SELECT max(id) FROM runs), (SELECT max(run_id) FROM jobs),
                      (SELECT max(last_run_id) FROM failures),
                      (SELECT max(run_id) FROM audit_marks))",
        ),
        ("breaker_outcomes", "(SELECT max(id) FROM breaker_outcomes)"),
        (
            "breaker_transitions",
            "(SELECT max(id) FROM breaker_transitions)",
        ),
        ("events", "(SELECT max(id) FROM events)"),
        ("actions", "(SELECT max(id) FROM actions)"),
    ];
    debug_assert_eq!(
        highest.map(|(t, _)| t).to_vec(),
        TABLES
            .iter()
            .filter(|(_, identity)| *identity)
            .map(|(t, _)| *t)
            .collect::<Vec<_>>()
    );
    for (table, max) in highest {
        tx.query(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), m)
                 FROM (SELECT {max} AS m) AS highest WHERE m IS NOT NULL"
            ),
            params![],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};

    /// Every `CREATE TABLE` of a list of migrations.
    fn created(migrations: &[&str]) -> Vec<String> {
        let mut tables: Vec<String> = migrations
            .iter()
            .flat_map(|m| m.split("CREATE TABLE ").skip(1))
            .map(|rest| {
                rest.split(|c: char| c.is_whitespace() || c == '(')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        tables.sort();
        tables
    }

    #[test]
    fn every_table_of_the_schema_is_copied() {
        let mut known: Vec<String> = TABLES.iter().map(|(t, _)| t.to_string()).collect();
        known.sort();
        assert_eq!(created(SQLITE_MIGRATIONS), known);
        assert_eq!(created(POSTGRES_MIGRATIONS), known);
    }

    #[test]
    fn identity_tables_are_those_with_a_generated_id() {
        for (table, identity) in TABLES {
            let def = POSTGRES_MIGRATIONS
                .iter()
                .flat_map(|m| m.split("CREATE TABLE ").skip(1))
                .find(|d| d.starts_with(&format!("{table} ")))
                .unwrap();
            let body = def.split(");").next().unwrap();
            assert_eq!(
                body.contains("GENERATED BY DEFAULT AS IDENTITY"),
                identity,
                "{table}"
            );
        }
    }

    #[test]
    fn inserts_number_their_parameters_row_by_row() {
        let cols = ["a".to_owned(), "b".to_owned()];
        assert_eq!(
            insert_sql("t", &cols, 2),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
    }

    #[test]
    fn the_source_must_hold_exactly_the_known_tables() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let conn = store.sqlite().unwrap();
        check_tables(conn).unwrap();
        conn.execute_batch("CREATE TABLE extra (x INTEGER)")
            .unwrap();
        let err = check_tables(conn).unwrap_err();
        assert!(matches!(err, SqlError::Invalid(m) if m.contains("extra")));
    }
}
