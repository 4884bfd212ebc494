//! [`Store`]: the state database's API. Every method is one transaction.
//!
//! The methods are written once, against the SQL layer of `sql`; [`Store::transact`] hands
//! them a transaction of whichever backend is open. See `sql` for the shared dialect.

use std::path::{Path, PathBuf};

use pkgimport_core::{PackageName, Priority};

use crate::backend::postgres::{self as pg, PgConn};
use crate::backend::sqlite as db;
use crate::model::*;
use crate::sql::{Row, SqlError, Tx, TxKind, Value, params};
use crate::{Backend, Error, Result};

/// The name of the database file inside the state directory.
pub const DB_FILE: &str = "state.db";

const PAUSED: &str = "paused";

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
        let conn = db::open(&path)?;
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
        if !pg::is_postgres_url(url) {
            return Err(Error::DatabaseUrl {
                url: pg::redact_url(url),
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
            Conn::Sqlite(c) => db::transact(c, kind, what, f),
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
            Conn::Postgres(c) => c.wait_for_work(timeout),
        }
    }

    /// Adds a pending job for each package, or raises the priority of the pending job it
    /// already has to the higher of the two. One transaction for the whole list. On
    /// PostgreSQL, wakes idle drivers (see [`Store::wait_for_work`]) when a job was added
    /// or raised.
    pub fn enqueue(
        &mut self,
        packages: &[PackageName],
        priority: Priority,
    ) -> Result<EnqueueSummary> {
        let now = Timestamp::now();
        self.transact(TxKind::QueueWrite, "enqueueing", |tx| {
            let summary = enqueue_in(tx, packages, priority, now)?;
            if summary.added + summary.raised > 0 {
                notify_jobs(tx)?;
            }
            Ok(summary)
        })
    }

    /// Claims the highest-priority job whose package is neither running nor failed, and
    /// opens a run for it. `None` when nothing is claimable now.
    ///
    /// SQLite runs the claim as one `BEGIN IMMEDIATE` transaction, so claims are simply
    /// serialised. PostgreSQL runs it at READ COMMITTED with `FOR UPDATE OF j SKIP LOCKED`:
    /// concurrent claimers lock different candidate rows instead of queueing behind one,
    /// and a row that another claimer turned `running` meanwhile is re-checked and skipped.
    /// "Never two running jobs for one package" holds because each package has at most one
    /// queued row (unique index `jobs_one_queued`), a claimer only takes a row it locked
    /// while it was still queued, and the unique index `jobs_one_running` refuses a second
    /// running row outright; a claimer refused by it retries and then sees the package
    /// running.
    pub fn claim(&mut self, driver_pid: u32) -> Result<Option<Claim>> {
        let now = Timestamp::now();
        let claimer = self.claimer(driver_pid, now);
        self.transact(TxKind::Claim, "claiming a job", |tx| {
            claim_in(tx, &claimer, now)
        })
    }

    /// [`Store::finish_run`] and then [`Store::claim`], in one transaction: what a driver
    /// does when a child ends and its slot is to be refilled. One commit (one fsync on
    /// SQLite) instead of two. On PostgreSQL it runs at REPEATABLE READ, where a candidate
    /// row that another claimer took meanwhile makes the whole transaction retry.
    pub fn finish_run_and_claim(
        &mut self,
        run_id: i64,
        end: &RunEnd,
        driver_pid: u32,
    ) -> Result<Option<Claim>> {
        let now = Timestamp::now();
        let claimer = self.claimer(driver_pid, now);
        self.transact(
            TxKind::QueueWrite,
            "finishing a run and claiming a job",
            |tx| {
                finish_run(tx, run_id, end, now)?;
                claim_in(tx, &claimer, now)
            },
        )
    }

    /// Who claims, as the runs table records it.
    fn claimer(&self, driver_pid: u32, now: Timestamp) -> Claimer {
        let (name, lease_until) = match &self.driver {
            Some((name, lease)) => (name.clone(), Some(now.0 + lease.as_millis() as i64)),
            None => (String::new(), None),
        };
        Claimer {
            pid: driver_pid,
            name,
            lease_until,
        }
    }

    /// Records the process that carries out a run, so that a later driver can find it.
    pub fn set_run_process(&mut self, run_id: i64, pid: u32, pid_start: Option<u64>) -> Result<()> {
        self.transact(TxKind::QueueWrite, "recording a run's process", |tx| {
            tx.execute(
                "UPDATE runs SET pid = $2, pid_start = $3 WHERE id = $1",
                params![run_id, pid, pid_start.map(|s| s as i64)],
            )?;
            Ok(())
        })
    }

    /// Closes a run and disposes of its job, in one transaction.
    pub fn finish_run(&mut self, run_id: i64, end: &RunEnd) -> Result<()> {
        let now = Timestamp::now();
        self.transact(TxKind::QueueWrite, "finishing a run", |tx| {
            finish_run(tx, run_id, end, now)
        })
    }

    /// Names the driver that claims through this store, and the lease it takes on each run
    /// it claims: the run is its own until the lease expires, and [`Store::renew_leases`]
    /// extends the leases of all its open runs. Drivers sharing one database must use
    /// different names.
    pub fn act_as_driver(&mut self, name: &str, lease: std::time::Duration) {
        self.driver = Some((name.to_owned(), lease));
    }

    /// Extends the lease of every open run of this store's driver (see
    /// [`Store::act_as_driver`]) to a full lease from now. Does nothing without a driver.
    pub fn renew_leases(&mut self) -> Result<()> {
        let Some((name, lease)) = self.driver.clone() else {
            return Ok(());
        };
        let until = Timestamp::now().0 + lease.as_millis() as i64;
        self.transact(TxKind::QueueWrite, "renewing run leases", |tx| {
            tx.execute(
                "UPDATE runs SET lease_until = $2 WHERE ended_at IS NULL AND driver = $1",
                params![name.as_str(), until],
            )?;
            Ok(())
        })
    }

    /// Runs that were opened and never closed.
    pub fn open_runs(&mut self) -> Result<Vec<OpenRun>> {
        self.transact(TxKind::Read, "listing open runs", |tx| {
            tx.query(
                "SELECT id, job_id, package, driver_pid, pid, pid_start, driver, lease_until
                 FROM runs WHERE ended_at IS NULL ORDER BY id",
                params![],
            )?
            .iter()
            .map(|r| {
                Ok(OpenRun {
                    run_id: r.get(0)?,
                    job_id: r.get(1)?,
                    package: r.get(2)?,
                    driver_pid: r.get(3)?,
                    pid: r.get(4)?,
                    pid_start: r.get::<Option<i64>>(5)?.map(|s| s as u64),
                    driver: r.get(6)?,
                    lease_until: r.get::<Option<i64>>(7)?.map(Timestamp),
                })
            })
            .collect()
        })
    }

    /// Whether any job could still be claimed, now or once its re-queue delay has passed.
    /// Jobs of failed packages do not count: they wait for a human or for retry-failures.
    pub fn has_pending_work(&mut self) -> Result<bool> {
        self.transact(TxKind::Read, "looking for pending work", |tx| {
            tx.query_one(
                "SELECT EXISTS (SELECT 1 FROM jobs j WHERE j.state = 'queued'
                   AND NOT EXISTS (SELECT 1 FROM failures f
                                   WHERE f.package = j.package AND f.retrying = 0))",
                params![],
            )?
            .get(0)
        })
    }

    /// Whether a job could be claimed right now.
    pub fn has_claimable_now(&mut self) -> Result<bool> {
        let now = Timestamp::now();
        self.transact(TxKind::Read, "looking for claimable work", |tx| {
            tx.query_one(
                "SELECT EXISTS (SELECT 1 FROM jobs j WHERE j.state = 'queued' AND j.not_before <= $1
                   AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.package = j.package AND r.state = 'running')
                   AND NOT EXISTS (SELECT 1 FROM failures f
                                   WHERE f.package = j.package AND f.retrying = 0))",
                params![now.0],
            )?
            .get(0)
        })
    }

    pub fn set_paused(&mut self, paused: bool) -> Result<()> {
        self.set_setting(PAUSED, if paused { "1" } else { "0" })
    }

    pub fn is_paused(&mut self) -> Result<bool> {
        Ok(self.setting(PAUSED)?.as_deref() == Some("1"))
    }

    pub fn set_setting(&mut self, key: &str, value: &str) -> Result<()> {
        self.transact(TxKind::Write, "writing a setting", |tx| {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
            Ok(())
        })
    }

    pub fn setting(&mut self, key: &str) -> Result<Option<String>> {
        self.transact(TxKind::Read, "reading a setting", |tx| {
            tx.query_opt("SELECT value FROM settings WHERE key = $1", params![key])?
                .map(|r| r.get(0))
                .transpose()
        })
    }

    /// Records that a process of `kind` is alive.
    pub fn heartbeat(
        &mut self,
        kind: &str,
        host: &str,
        pid: u32,
        started_at: Timestamp,
    ) -> Result<()> {
        let now = Timestamp::now();
        self.transact(TxKind::Write, "writing a heartbeat", |tx| {
            tx.execute(
                "INSERT INTO heartbeats (kind, host, pid, started_at, last_seen)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (kind, host, pid) DO UPDATE SET last_seen = excluded.last_seen",
                params![kind, host, pid, started_at.0, now.0],
            )?;
            // Keep one row per host and kind: an old pid's row says nothing more.
            tx.execute(
                "DELETE FROM heartbeats WHERE kind = $1 AND host = $2 AND pid != $3",
                params![kind, host, pid],
            )?;
            Ok(())
        })
    }

    pub fn status(&mut self) -> Result<Status> {
        let now = Timestamp::now();
        self.transact(TxKind::Read, "reading status", |tx| {
            let mut count = |sql: &str| -> Result<u64, SqlError> {
                Ok(tx.query_one(sql, params![])?.get::<i64>(0)? as u64)
            };
            let queued = count("SELECT count(*) FROM jobs WHERE state = 'queued'")?;
            let running = count("SELECT count(*) FROM jobs WHERE state = 'running'")?;
            let failed = count("SELECT count(*) FROM failures WHERE retrying = 0")?;
            let blocked = count(
                "SELECT count(*) FROM jobs j JOIN failures f ON f.package = j.package
                 WHERE j.state = 'queued' AND f.retrying = 0",
            )?;
            let needs_attention =
                count("SELECT count(*) FROM failures WHERE needs_attention = 1 AND retrying = 0")?;
            let delayed = tx
                .query_one(
                    "SELECT count(*) FROM jobs WHERE state = 'queued' AND not_before > $1",
                    params![now.0],
                )?
                .get::<i64>(0)? as u64;
            let oldest: Option<i64> = tx
                .query_one(
                    "SELECT min(enqueued_at) FROM jobs WHERE state = 'queued'",
                    params![],
                )?
                .get(0)?;
            let paused = tx
                .query_opt("SELECT value FROM settings WHERE key = $1", params![PAUSED])?
                .map(|r| r.get::<String>(0))
                .transpose()?
                .as_deref()
                == Some("1");
            let b = tx.query_one(
                "SELECT state, opened_at FROM breaker WHERE id = 1",
                params![],
            )?;
            let (breaker, opened): (String, Option<i64>) = (b.get(0)?, b.get(1)?);
            let driver = tx
                .query_opt(
                    "SELECT kind, host, pid, started_at, last_seen FROM heartbeats
                     WHERE kind = 'driver' ORDER BY last_seen DESC LIMIT 1",
                    params![],
                )?
                .map(|r| heartbeat_row(&r))
                .transpose()?;
            Ok(Status {
                queued,
                running,
                failed,
                paused,
                oldest_queued_age_s: oldest.map(|t| Timestamp(t).age(now).as_secs()),
                delayed,
                blocked,
                needs_attention,
                breaker_opened_at: if breaker == "closed" {
                    None
                } else {
                    opened.map(Timestamp)
                },
                breaker,
                driver,
            })
        })
    }

    /// Every job, in the order the driver would claim them (running ones first).
    pub fn queue(&mut self, limit: Option<u64>) -> Result<Vec<QueuedJob>> {
        self.jobs_where("1 = 1", params![], limit)
    }

    /// The newest runs, of one package or of all, newest first.
    pub fn runs(&mut self, package: Option<&PackageName>, limit: u64) -> Result<Vec<RunRecord>> {
        self.transact(TxKind::Read, "listing runs", |tx| {
            tx.query(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE CAST($1 AS TEXT) IS NULL OR package = $1
                     ORDER BY id DESC LIMIT $2"
                ),
                params![package, limit as i64],
            )?
            .iter()
            .map(run_row)
            .collect()
        })
    }

    /// Every recorded failure, newest first.
    pub fn failures(&mut self) -> Result<Vec<FailureRecord>> {
        self.transact(TxKind::Read, "listing failures", |tx| {
            tx.query(
                &format!("SELECT {FAILURE_COLUMNS} FROM failures ORDER BY last_seen DESC, package"),
                params![],
            )?
            .iter()
            .map(failure_row)
            .collect()
        })
    }

    /// Re-queues failed packages at `priority`: the failure stays on record (its counts feed
    /// the retry policy) but no longer blocks claims. Returns the packages that had a
    /// failure; the others are queued all the same.
    pub fn retry(&mut self, packages: &[PackageName], priority: Priority) -> Result<Vec<String>> {
        let now = Timestamp::now();
        self.transact(TxKind::QueueWrite, "re-queueing failures", |tx| {
            let mut had = Vec::new();
            for package in packages {
                let n = tx.execute(
                    "UPDATE failures SET retrying = 1, needs_attention = 0
                     WHERE package = $1 AND retrying = 0",
                    params![package],
                )?;
                if n > 0 {
                    had.push(package.to_string());
                }
                upsert_job(tx, package, priority, now)?;
            }
            if !packages.is_empty() {
                notify_jobs(tx)?;
            }
            Ok(had)
        })
    }

    /// Failures grouped by signature, biggest group first, with up to `examples` packages.
    pub fn failure_groups(&mut self, examples: usize) -> Result<Vec<FailureGroup>> {
        let failures = self.failures()?;
        let mut groups: Vec<FailureGroup> = Vec::new();
        for f in failures.into_iter().filter(|f| !f.retrying) {
            let g = match groups.iter_mut().find(|g| g.signature == f.signature) {
                Some(g) => g,
                None => {
                    groups.push(FailureGroup {
                        signature: f.signature.clone(),
                        transient: f.transient,
                        count: 0,
                        first_seen: f.first_seen,
                        last_seen: f.last_seen,
                        examples: Vec::new(),
                        needs_attention: 0,
                    });
                    groups.last_mut().expect("just pushed")
                }
            };
            g.count += 1;
            g.first_seen = g.first_seen.min(f.first_seen);
            g.last_seen = g.last_seen.max(f.last_seen);
            g.needs_attention += u64::from(f.needs_attention);
            if g.examples.len() < examples {
                g.examples.push(f.package);
            }
        }
        groups.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.signature.cmp(&b.signature))
        });
        Ok(groups)
    }

    /// Packages whose (un-retried) failure matches: a signature, or every transient one.
    pub fn failed_packages(
        &mut self,
        signature: Option<&str>,
        transient_only: bool,
    ) -> Result<Vec<PackageName>> {
        let failures = self.failures()?;
        Ok(failures
            .into_iter()
            .filter(|f| !f.retrying)
            .filter(|f| signature.is_none_or(|s| f.signature == s))
            .filter(|f| !transient_only || f.transient)
            .filter_map(|f| PackageName::parse(&f.package).ok())
            .collect())
    }

    /// Marks failed packages as needing a human: retry-failures will not re-queue them.
    pub fn set_needs_attention(&mut self, packages: &[PackageName]) -> Result<()> {
        self.transact(TxKind::Write, "marking failures for attention", |tx| {
            for p in packages {
                tx.execute(
                    "UPDATE failures SET needs_attention = 1 WHERE package = $1",
                    params![p],
                )?;
            }
            Ok(())
        })
    }

    /// Everything known about one package.
    pub fn show(&mut self, package: &PackageName) -> Result<PackageInfo> {
        let jobs = self.jobs_where("j.package = $1", params![package], None)?;
        let runs = self.runs(Some(package), 10)?;
        let failure = self.transact(TxKind::Read, "reading a failure", |tx| {
            tx.query_opt(
                &format!("SELECT {FAILURE_COLUMNS} FROM failures WHERE package = $1"),
                params![package],
            )?
            .map(|r| failure_row(&r))
            .transpose()
        })?;
        Ok(PackageInfo {
            package: package.to_string(),
            jobs,
            failure,
            runs,
        })
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
        let answer: String = db::retry("checking integrity", || {
            conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        })?;
        Ok(if answer == "ok" { Ok(()) } else { Err(answer) })
    }

    fn jobs_where(
        &mut self,
        cond: &str,
        params: &[Value],
        limit: Option<u64>,
    ) -> Result<Vec<QueuedJob>> {
        let limit = limit.map_or(String::new(), |l| format!("LIMIT {l}"));
        let sql = format!(
            "SELECT j.id, j.package, j.priority, j.state, j.enqueued_at, j.not_before,
                    j.attempts,
                    EXISTS (SELECT 1 FROM failures f
                            WHERE f.package = j.package AND f.retrying = 0)
             FROM jobs j WHERE {cond}
             ORDER BY j.state = 'queued', j.priority DESC, j.enqueued_at, j.id
             {limit}"
        );
        self.transact(TxKind::Read, "listing jobs", |tx| {
            tx.query(&sql, params)?
                .iter()
                .map(|r| {
                    let not_before: i64 = r.get(5)?;
                    Ok(QueuedJob {
                        id: r.get(0)?,
                        package: parse_name(&r.get::<String>(1)?)?,
                        priority: Priority(r.get(2)?),
                        state: r.get(3)?,
                        enqueued_at: Timestamp(r.get(4)?),
                        not_before: (not_before > 0).then_some(Timestamp(not_before)),
                        attempts: r.get(6)?,
                        blocked: r.get(7)?,
                    })
                })
                .collect()
        })
    }
}

fn create_state_dir(state_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(state_dir).map_err(|source| Error::Io {
        what: "creating state directory",
        path: state_dir.to_owned(),
        source,
    })
}

/// The claim's choice of job: the highest priority, then the oldest, among queued jobs
/// whose delay has passed and whose package is neither running nor failed.
macro_rules! claim_select {
    () => {
        "SELECT j.id, j.package, j.priority, j.attempts FROM jobs j
         WHERE j.state = 'queued' AND j.not_before <= $1
           AND NOT EXISTS (SELECT 1 FROM jobs r
                           WHERE r.package = j.package AND r.state = 'running')
           AND NOT EXISTS (SELECT 1 FROM failures f
                           WHERE f.package = j.package AND f.retrying = 0)
         ORDER BY j.priority DESC, j.enqueued_at, j.id
         LIMIT 1"
    };
}
const CLAIM_SELECT: &str = claim_select!();
/// PostgreSQL locks the chosen row, passing over rows that other claimers hold.
const CLAIM_SELECT_FOR_UPDATE: &str = concat!(claim_select!(), " FOR UPDATE OF j SKIP LOCKED");

/// The driver that claims: its pid, its name and the lease it takes ([`Store::act_as_driver`]).
struct Claimer {
    pid: u32,
    name: String,
    lease_until: Option<i64>,
}

/// Claims the highest-priority claimable job and opens a run for it; see [`Store::claim`].
fn claim_in(tx: &mut dyn Tx, claimer: &Claimer, now: Timestamp) -> Result<Option<Claim>, SqlError> {
    let select = match tx.backend() {
        Backend::Sqlite => CLAIM_SELECT,
        Backend::Postgres => CLAIM_SELECT_FOR_UPDATE,
    };
    let Some(job) = tx.query_opt(select, params![now.0])? else {
        return Ok(None);
    };
    let (job_id, package, priority, attempts): (i64, String, i64, i64) =
        (job.get(0)?, job.get(1)?, job.get(2)?, job.get(3)?);
    let run_id: i64 = tx
        .query_one(
            "INSERT INTO runs (job_id, package, priority, started_at, driver_pid, log_path,
                               driver, lease_until)
             VALUES ($1, $2, $3, $4, $5, '', $6, $7) RETURNING id",
            params![
                job_id,
                package.as_str(),
                priority,
                now.0,
                claimer.pid,
                claimer.name.as_str(),
                claimer.lease_until
            ],
        )?
        .get(0)?;
    let log_path = format!("logs/{package}/{run_id}.log");
    tx.execute(
        "UPDATE runs SET log_path = $2 WHERE id = $1",
        params![run_id, log_path.as_str()],
    )?;
    tx.execute(
        "UPDATE jobs SET state = 'running', run_id = $2, attempts = attempts + 1
         WHERE id = $1",
        params![job_id, run_id],
    )?;
    Ok(Some(Claim {
        job_id,
        run_id,
        package: parse_name(&package)?,
        priority: Priority(priority),
        attempts: attempts + 1,
        log_path,
    }))
}

/// Tells listening drivers that jobs were queued (PostgreSQL only; sent at commit).
fn notify_jobs(tx: &mut dyn Tx) -> Result<(), SqlError> {
    if tx.backend() == Backend::Postgres {
        tx.execute("SELECT pg_notify($1, '')", params![pg::JOBS_CHANNEL])?;
    }
    Ok(())
}

/// Adds a pending job for each package, or raises the priority of the pending job it already
/// has to the higher of the two.
fn enqueue_in(
    tx: &mut dyn Tx,
    packages: &[PackageName],
    priority: Priority,
    now: Timestamp,
) -> Result<EnqueueSummary, SqlError> {
    let mut summary = EnqueueSummary::default();
    for package in packages {
        let existing = tx.query_opt(
            "SELECT id, priority FROM jobs WHERE package = $1 AND state = 'queued'",
            params![package],
        )?;
        match existing {
            None => {
                tx.execute(
                    "INSERT INTO jobs (package, priority, state, enqueued_at)
                     VALUES ($1, $2, 'queued', $3)",
                    params![package, priority.0, now.0],
                )?;
                summary.added += 1;
            }
            Some(row) if row.get::<i64>(1)? < priority.0 => {
                tx.execute(
                    "UPDATE jobs SET priority = $2 WHERE id = $1",
                    params![row.get::<i64>(0)?, priority.0],
                )?;
                summary.raised += 1;
            }
            Some(_) => summary.unchanged += 1,
        }
        let failed = tx.query_opt(
            "SELECT 1 FROM failures WHERE package = $1 AND retrying = 0",
            params![package],
        )?;
        if failed.is_some() {
            summary.blocked.push(package.to_string());
        }
    }
    Ok(summary)
}

fn finish_run(tx: &mut dyn Tx, run_id: i64, end: &RunEnd, now: Timestamp) -> Result<(), SqlError> {
    let Some(run) = tx.query_opt(
        "SELECT job_id, package, ended_at FROM runs WHERE id = $1",
        params![run_id],
    )?
    else {
        return Err(SqlError::Invalid(format!("no run {run_id}")));
    };
    let (job_id, package): (i64, String) = (run.get(0)?, run.get(1)?);
    if run.get::<Option<i64>>(2)?.is_some() {
        // Closed already: another driver adopted it after its lease expired, and its job
        // may be queued or running again. The first word stands; this one changes nothing.
        log::warn!("run {run_id} of package {package} was closed already; keeping that outcome");
        return Ok(());
    }
    let signature = match &end.disposition {
        Disposition::Fail(f) => Some(f.signature.as_str()),
        _ => None,
    };
    tx.execute(
        "UPDATE runs SET ended_at = $2, exit_code = $3, signal = $4, outcome = $5, signature = $6
         WHERE id = $1",
        params![
            run_id,
            now.0,
            end.exit_code,
            end.signal,
            end.outcome.as_str(),
            signature
        ],
    )?;
    match &end.disposition {
        Disposition::Done => {
            tx.execute("DELETE FROM jobs WHERE id = $1", params![job_id])?;
            tx.execute(
                "DELETE FROM failures WHERE package = $1",
                params![package.as_str()],
            )?;
        }
        Disposition::Requeue { delay } => {
            let job = tx.query_one(
                "SELECT priority, enqueued_at FROM jobs WHERE id = $1",
                params![job_id],
            )?;
            let (priority, enqueued_at): (i64, i64) = (job.get(0)?, job.get(1)?);
            // A new job may have been queued for the package while this one ran: keep one,
            // with the higher priority and the earlier place in line.
            let merged = tx.execute(
                "UPDATE jobs SET priority = CASE WHEN priority > $2 THEN priority ELSE $2 END,
                                 enqueued_at = CASE WHEN enqueued_at < $3 THEN enqueued_at ELSE $3 END
                 WHERE package = $1 AND state = 'queued'",
                params![package.as_str(), priority, enqueued_at],
            )?;
            if merged > 0 {
                tx.execute("DELETE FROM jobs WHERE id = $1", params![job_id])?;
            } else {
                tx.execute(
                    "UPDATE jobs SET state = 'queued', run_id = NULL, not_before = $2 WHERE id = $1",
                    params![job_id, now.plus(*delay).0],
                )?;
            }
        }
        Disposition::Fail(f) => {
            tx.execute("DELETE FROM jobs WHERE id = $1", params![job_id])?;
            tx.execute(
                "INSERT INTO failures (package, signature, tail, transient, attempts, consecutive,
                                       first_seen, last_seen, last_run_id, retrying)
                 VALUES ($1, $2, $3, $4, 1, 1, $5, $5, $6, 0)
                 ON CONFLICT (package) DO UPDATE SET
                     consecutive = CASE WHEN failures.signature = excluded.signature
                                        THEN failures.consecutive + 1 ELSE 1 END,
                     signature = excluded.signature,
                     tail = excluded.tail,
                     transient = excluded.transient,
                     attempts = failures.attempts + 1,
                     last_seen = excluded.last_seen,
                     last_run_id = excluded.last_run_id,
                     retrying = 0,
                     needs_attention = 0",
                params![
                    package.as_str(),
                    f.signature.as_str(),
                    f.tail.as_str(),
                    f.transient,
                    now.0,
                    run_id
                ],
            )?;
        }
    }
    Ok(())
}

fn upsert_job(
    tx: &mut dyn Tx,
    package: &PackageName,
    priority: Priority,
    now: Timestamp,
) -> Result<(), SqlError> {
    tx.execute(
        "INSERT INTO jobs (package, priority, state, enqueued_at) VALUES ($1, $2, 'queued', $3)
         ON CONFLICT (package) WHERE state = 'queued'
         DO UPDATE SET priority = CASE WHEN jobs.priority > excluded.priority
                                       THEN jobs.priority ELSE excluded.priority END,
                       not_before = 0",
        params![package, priority.0, now.0],
    )?;
    Ok(())
}

/// Names in the database were validated on the way in; one that is not valid means the
/// database was edited by hand, and is reported rather than trusted.
fn parse_name(raw: &str) -> Result<PackageName, SqlError> {
    PackageName::parse(raw)
        .map_err(|e| SqlError::Invalid(format!("package name {raw:?} in the database: {e}")))
}

const RUN_COLUMNS: &str = "id, job_id, package, priority, started_at, ended_at, pid, exit_code, \
                           signal, outcome, signature, log_path";

fn run_row(r: &Row) -> Result<RunRecord, SqlError> {
    let started_at = Timestamp(r.get(4)?);
    let ended_at: Option<Timestamp> = r.get::<Option<i64>>(5)?.map(Timestamp);
    let outcome: Option<String> = r.get(9)?;
    Ok(RunRecord {
        id: r.get(0)?,
        job_id: r.get(1)?,
        package: r.get(2)?,
        priority: Priority(r.get(3)?),
        started_at,
        ended_at,
        duration_s: ended_at.map(|e| (e.0 - started_at.0) as f64 / 1000.0),
        pid: r.get(6)?,
        exit_code: r.get(7)?,
        signal: r.get(8)?,
        outcome: outcome.as_deref().and_then(Outcome::parse),
        signature: r.get(10)?,
        log_path: r.get(11)?,
    })
}

const FAILURE_COLUMNS: &str = "package, signature, transient, attempts, consecutive, first_seen, \
                               last_seen, retrying, tail, needs_attention";

fn failure_row(r: &Row) -> Result<FailureRecord, SqlError> {
    Ok(FailureRecord {
        package: r.get(0)?,
        signature: r.get(1)?,
        transient: r.get(2)?,
        attempts: r.get(3)?,
        consecutive: r.get(4)?,
        first_seen: Timestamp(r.get(5)?),
        last_seen: Timestamp(r.get(6)?),
        retrying: r.get(7)?,
        tail: r.get(8)?,
        needs_attention: r.get(9)?,
    })
}

fn heartbeat_row(r: &Row) -> Result<Heartbeat, SqlError> {
    Ok(Heartbeat {
        kind: r.get(0)?,
        host: r.get(1)?,
        pid: r.get(2)?,
        started_at: Timestamp(r.get(3)?),
        last_seen: Timestamp(r.get(4)?),
    })
}
