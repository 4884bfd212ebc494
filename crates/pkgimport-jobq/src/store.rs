//! [`Store`]: the state database's API. Every method is one transaction.

use std::path::{Path, PathBuf};

use pkgimport_core::{PackageName, Priority};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use crate::db;
use crate::model::*;
use crate::{Error, Result};

/// The name of the database file inside the state directory.
pub const DB_FILE: &str = "state.db";

const PAUSED: &str = "paused";

/// An open state database. One per process (or per thread); it is cheap to open.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens `<state_dir>/state.db`, creating the directory and the database as needed, and
    /// applies any pending migrations.
    pub fn open(state_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(state_dir).map_err(|source| Error::Io {
            what: "creating state directory",
            path: state_dir.to_owned(),
            source,
        })?;
        let path = state_dir.join(DB_FILE);
        let conn = db::open(&path)?;
        Ok(Store { conn, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adds a pending job for each package, or raises the priority of the pending job it
    /// already has to the higher of the two. One transaction for the whole list.
    pub fn enqueue(
        &mut self,
        packages: &[PackageName],
        priority: Priority,
    ) -> Result<EnqueueSummary> {
        let now = Timestamp::now();
        db::write(&mut self.conn, "enqueueing", |tx| {
            enqueue_in(tx, packages, priority, now)
        })
    }

    pub(crate) fn conn(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Claims the highest-priority job whose package is neither running nor failed, and
    /// opens a run for it. `None` when nothing is claimable now.
    pub fn claim(&mut self, driver_pid: u32) -> Result<Option<Claim>> {
        let now = Timestamp::now();
        db::write(&mut self.conn, "claiming a job", |tx| {
            let job: Option<(i64, String, i64, i64)> = tx
                .prepare_cached(
                    "SELECT j.id, j.package, j.priority, j.attempts FROM jobs j
                     WHERE j.state = 'queued' AND j.not_before <= ?1
                       AND NOT EXISTS (SELECT 1 FROM jobs r
                                       WHERE r.package = j.package AND r.state = 'running')
                       AND NOT EXISTS (SELECT 1 FROM failures f
                                       WHERE f.package = j.package AND f.retrying = 0)
                     ORDER BY j.priority DESC, j.enqueued_at, j.id
                     LIMIT 1",
                )?
                .query_row([now.0], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?;
            let Some((job_id, package, priority, attempts)) = job else {
                return Ok(None);
            };
            tx.prepare_cached(
                "INSERT INTO runs (job_id, package, priority, started_at, driver_pid, log_path)
                 VALUES (?1, ?2, ?3, ?4, ?5, '')",
            )?
            .execute(params![job_id, package, priority, now.0, driver_pid])?;
            let run_id = tx.last_insert_rowid();
            let log_path = format!("logs/{package}/{run_id}.log");
            tx.prepare_cached("UPDATE runs SET log_path = ?2 WHERE id = ?1")?
                .execute(params![run_id, log_path])?;
            tx.prepare_cached(
                "UPDATE jobs SET state = 'running', run_id = ?2, attempts = attempts + 1
                 WHERE id = ?1",
            )?
            .execute(params![job_id, run_id])?;
            Ok(Some(Claim {
                job_id,
                run_id,
                package: parse_name(&package)?,
                priority: Priority(priority),
                attempts: attempts + 1,
                log_path,
            }))
        })
    }

    /// Records the process that carries out a run, so that a later driver can find it.
    pub fn set_run_process(&mut self, run_id: i64, pid: u32, pid_start: Option<u64>) -> Result<()> {
        db::write(&mut self.conn, "recording a run's process", |tx| {
            tx.prepare_cached("UPDATE runs SET pid = ?2, pid_start = ?3 WHERE id = ?1")?
                .execute(params![run_id, pid, pid_start.map(|s| s as i64)])?;
            Ok(())
        })
    }

    /// Closes a run and disposes of its job, in one transaction.
    pub fn finish_run(&mut self, run_id: i64, end: &RunEnd) -> Result<()> {
        let now = Timestamp::now();
        db::write(&mut self.conn, "finishing a run", |tx| {
            finish_run(tx, run_id, end, now)
        })
    }

    /// Runs that were opened and never closed.
    pub fn open_runs(&mut self) -> Result<Vec<OpenRun>> {
        db::retry("listing open runs", || {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, job_id, package, driver_pid, pid, pid_start FROM runs
                 WHERE ended_at IS NULL ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(OpenRun {
                    run_id: r.get(0)?,
                    job_id: r.get(1)?,
                    package: r.get(2)?,
                    driver_pid: r.get(3)?,
                    pid: r.get(4)?,
                    pid_start: r.get::<_, Option<i64>>(5)?.map(|s| s as u64),
                })
            })?;
            rows.collect()
        })
    }

    /// Whether any job could still be claimed, now or once its re-queue delay has passed.
    /// Jobs of failed packages do not count: they wait for a human or for retry-failures.
    pub fn has_pending_work(&mut self) -> Result<bool> {
        db::retry("looking for pending work", || {
            self.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM jobs j WHERE j.state = 'queued'
                   AND NOT EXISTS (SELECT 1 FROM failures f
                                   WHERE f.package = j.package AND f.retrying = 0))",
                [],
                |r| r.get(0),
            )
        })
    }

    /// Whether a job could be claimed right now.
    pub fn has_claimable_now(&mut self) -> Result<bool> {
        let now = Timestamp::now();
        db::retry("looking for claimable work", || {
            self.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM jobs j WHERE j.state = 'queued' AND j.not_before <= ?1
                   AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.package = j.package AND r.state = 'running')
                   AND NOT EXISTS (SELECT 1 FROM failures f
                                   WHERE f.package = j.package AND f.retrying = 0))",
                [now.0],
                |r| r.get(0),
            )
        })
    }

    pub fn set_paused(&mut self, paused: bool) -> Result<()> {
        self.set_setting(PAUSED, if paused { "1" } else { "0" })
    }

    pub fn is_paused(&mut self) -> Result<bool> {
        Ok(self.setting(PAUSED)?.as_deref() == Some("1"))
    }

    pub fn set_setting(&mut self, key: &str, value: &str) -> Result<()> {
        db::write(&mut self.conn, "writing a setting", |tx| {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
            Ok(())
        })
    }

    pub fn setting(&mut self, key: &str) -> Result<Option<String>> {
        db::retry("reading a setting", || {
            self.conn
                .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()
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
        db::write(&mut self.conn, "writing a heartbeat", |tx| {
            tx.prepare_cached(
                "INSERT INTO heartbeats (kind, host, pid, started_at, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (kind, host, pid) DO UPDATE SET last_seen = excluded.last_seen",
            )?
            .execute(params![kind, host, pid, started_at.0, now.0])?;
            // Keep one row per host and kind: an old pid's row says nothing more.
            tx.prepare_cached(
                "DELETE FROM heartbeats WHERE kind = ?1 AND host = ?2 AND pid != ?3",
            )?
            .execute(params![kind, host, pid])?;
            Ok(())
        })
    }

    pub fn status(&mut self) -> Result<Status> {
        let now = Timestamp::now();
        db::retry("reading status", || {
            let tx = self.conn.transaction()?;
            let count = |sql: &str| {
                tx.query_row(sql, [], |r| r.get::<_, i64>(0))
                    .map(|n| n as u64)
            };
            let queued = count("SELECT count(*) FROM jobs WHERE state = 'queued'")?;
            let running = count("SELECT count(*) FROM jobs WHERE state = 'running'")?;
            let failed = count("SELECT count(*) FROM failures WHERE retrying = 0")?;
            let delayed = tx.query_row(
                "SELECT count(*) FROM jobs WHERE state = 'queued' AND not_before > ?1",
                [now.0],
                |r| r.get::<_, i64>(0),
            )? as u64;
            let blocked = count(
                "SELECT count(*) FROM jobs j JOIN failures f ON f.package = j.package
                 WHERE j.state = 'queued' AND f.retrying = 0",
            )?;
            let oldest: Option<i64> = tx.query_row(
                "SELECT min(enqueued_at) FROM jobs WHERE state = 'queued'",
                [],
                |r| r.get(0),
            )?;
            let paused = tx
                .query_row("SELECT value FROM settings WHERE key = ?1", [PAUSED], |r| {
                    r.get::<_, String>(0)
                })
                .optional()?
                .as_deref()
                == Some("1");
            let needs_attention =
                count("SELECT count(*) FROM failures WHERE needs_attention = 1 AND retrying = 0")?;
            let (breaker, opened): (String, Option<i64>) = tx.query_row(
                "SELECT state, opened_at FROM breaker WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let driver = tx
                .query_row(
                    "SELECT kind, host, pid, started_at, last_seen FROM heartbeats
                     WHERE kind = 'driver' ORDER BY last_seen DESC LIMIT 1",
                    [],
                    heartbeat_row,
                )
                .optional()?;
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
        self.jobs_where("1", [], limit)
    }

    /// The newest runs, of one package or of all, newest first.
    pub fn runs(&mut self, package: Option<&PackageName>, limit: u64) -> Result<Vec<RunRecord>> {
        db::retry("listing runs", || {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE ?1 IS NULL OR package = ?1
                 ORDER BY id DESC LIMIT ?2"
            ))?;
            let rows =
                stmt.query_map(params![package.map(|p| p.as_str()), limit as i64], run_row)?;
            rows.collect()
        })
    }

    /// Every recorded failure, newest first.
    pub fn failures(&mut self) -> Result<Vec<FailureRecord>> {
        db::retry("listing failures", || {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT {FAILURE_COLUMNS} FROM failures ORDER BY last_seen DESC, package"
            ))?;
            let rows = stmt.query_map([], failure_row)?;
            rows.collect()
        })
    }

    /// Re-queues failed packages at `priority`: the failure stays on record (its counts feed
    /// the retry policy) but no longer blocks claims. Returns the packages that had a
    /// failure; the others are queued all the same.
    pub fn retry(&mut self, packages: &[PackageName], priority: Priority) -> Result<Vec<String>> {
        let now = Timestamp::now();
        db::write(&mut self.conn, "re-queueing failures", |tx| {
            let mut had = Vec::new();
            for package in packages {
                let n = tx
                    .prepare_cached(
                        "UPDATE failures SET retrying = 1, needs_attention = 0
                         WHERE package = ?1 AND retrying = 0",
                    )?
                    .execute([package.as_str()])?;
                if n > 0 {
                    had.push(package.to_string());
                }
                upsert_job(tx, package.as_str(), priority, now)?;
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
        db::write(&mut self.conn, "marking failures for attention", |tx| {
            for p in packages {
                tx.prepare_cached("UPDATE failures SET needs_attention = 1 WHERE package = ?1")?
                    .execute([p.as_str()])?;
            }
            Ok(())
        })
    }

    /// Everything known about one package.
    pub fn show(&mut self, package: &PackageName) -> Result<PackageInfo> {
        let jobs = self.jobs_where("j.package = ?1", [package.as_str()], None)?;
        let runs = self.runs(Some(package), 10)?;
        let failure = db::retry("reading a failure", || {
            self.conn
                .query_row(
                    &format!("SELECT {FAILURE_COLUMNS} FROM failures WHERE package = ?1"),
                    [package.as_str()],
                    failure_row,
                )
                .optional()
        })?;
        Ok(PackageInfo {
            package: package.to_string(),
            jobs,
            failure,
            runs,
        })
    }

    /// SQLite's own consistency check; `Ok(())` when it answers "ok".
    pub fn integrity_check(&mut self) -> Result<std::result::Result<(), String>> {
        let answer: String = db::retry("checking integrity", || {
            self.conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        })?;
        Ok(if answer == "ok" { Ok(()) } else { Err(answer) })
    }

    fn jobs_where<P: rusqlite::Params + Copy>(
        &mut self,
        cond: &str,
        params: P,
        limit: Option<u64>,
    ) -> Result<Vec<QueuedJob>> {
        let limit = limit.map_or(-1, |l| l as i64);
        db::retry("listing jobs", || {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT j.id, j.package, j.priority, j.state, j.enqueued_at, j.not_before,
                        j.attempts,
                        EXISTS (SELECT 1 FROM failures f
                                WHERE f.package = j.package AND f.retrying = 0)
                 FROM jobs j WHERE {cond}
                 ORDER BY j.state = 'queued', j.priority DESC, j.enqueued_at, j.id
                 LIMIT {limit}"
            ))?;
            let rows = stmt.query_map(params, |r| {
                let not_before: i64 = r.get(5)?;
                Ok(QueuedJob {
                    id: r.get(0)?,
                    package: parse_name(&r.get::<_, String>(1)?)?,
                    priority: Priority(r.get(2)?),
                    state: r.get(3)?,
                    enqueued_at: Timestamp(r.get(4)?),
                    not_before: (not_before > 0).then_some(Timestamp(not_before)),
                    attempts: r.get(6)?,
                    blocked: r.get(7)?,
                })
            })?;
            rows.collect()
        })
    }
}

/// Adds a pending job for each package, or raises the priority of the pending job it already
/// has to the higher of the two.
fn enqueue_in(
    tx: &Transaction<'_>,
    packages: &[PackageName],
    priority: Priority,
    now: Timestamp,
) -> rusqlite::Result<EnqueueSummary> {
    let mut summary = EnqueueSummary::default();
    let mut find =
        tx.prepare_cached("SELECT id, priority FROM jobs WHERE package = ?1 AND state = 'queued'")?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO jobs (package, priority, state, enqueued_at) VALUES (?1, ?2, 'queued', ?3)",
    )?;
    let mut raise = tx.prepare_cached("UPDATE jobs SET priority = ?2 WHERE id = ?1")?;
    let mut failed =
        tx.prepare_cached("SELECT 1 FROM failures WHERE package = ?1 AND retrying = 0")?;
    for package in packages {
        let existing: Option<(i64, i64)> = find
            .query_row([package.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match existing {
            None => {
                insert.execute(params![package.as_str(), priority.0, now.0])?;
                summary.added += 1;
            }
            Some((id, old)) if old < priority.0 => {
                raise.execute(params![id, priority.0])?;
                summary.raised += 1;
            }
            Some(_) => summary.unchanged += 1,
        }
        if failed.exists([package.as_str()])? {
            summary.blocked.push(package.to_string());
        }
    }
    Ok(summary)
}

fn finish_run(
    tx: &Transaction<'_>,
    run_id: i64,
    end: &RunEnd,
    now: Timestamp,
) -> rusqlite::Result<()> {
    let (job_id, package): (i64, String) = tx
        .prepare_cached("SELECT job_id, package FROM runs WHERE id = ?1")?
        .query_row([run_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let signature = match &end.disposition {
        Disposition::Fail(f) => Some(f.signature.as_str()),
        _ => None,
    };
    tx.prepare_cached(
        "UPDATE runs SET ended_at = ?2, exit_code = ?3, signal = ?4, outcome = ?5, signature = ?6
         WHERE id = ?1",
    )?
    .execute(params![
        run_id,
        now.0,
        end.exit_code,
        end.signal,
        end.outcome.as_str(),
        signature
    ])?;
    match &end.disposition {
        Disposition::Done => {
            tx.prepare_cached("DELETE FROM jobs WHERE id = ?1")?
                .execute([job_id])?;
            tx.prepare_cached("DELETE FROM failures WHERE package = ?1")?
                .execute([&package])?;
        }
        Disposition::Requeue { delay } => {
            let (priority, enqueued_at): (i64, i64) = tx
                .prepare_cached("SELECT priority, enqueued_at FROM jobs WHERE id = ?1")?
                .query_row([job_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            // A new job may have been queued for the package while this one ran: keep one,
            // with the higher priority and the earlier place in line.
            let merged = tx
                .prepare_cached(
                    "UPDATE jobs SET priority = max(priority, ?2),
                                     enqueued_at = min(enqueued_at, ?3)
                     WHERE package = ?1 AND state = 'queued'",
                )?
                .execute(params![package, priority, enqueued_at])?;
            if merged > 0 {
                tx.prepare_cached("DELETE FROM jobs WHERE id = ?1")?
                    .execute([job_id])?;
            } else {
                tx.prepare_cached(
                    "UPDATE jobs SET state = 'queued', run_id = NULL, not_before = ?2 WHERE id = ?1",
                )?
                .execute(params![job_id, now.plus(*delay).0])?;
            }
        }
        Disposition::Fail(f) => {
            tx.prepare_cached("DELETE FROM jobs WHERE id = ?1")?
                .execute([job_id])?;
            tx.prepare_cached(
                "INSERT INTO failures (package, signature, tail, transient, attempts, consecutive,
                                       first_seen, last_seen, last_run_id, retrying)
                 VALUES (?1, ?2, ?3, ?4, 1, 1, ?5, ?5, ?6, 0)
                 ON CONFLICT (package) DO UPDATE SET
                     consecutive = CASE WHEN signature = excluded.signature
                                        THEN consecutive + 1 ELSE 1 END,
                     signature = excluded.signature,
                     tail = excluded.tail,
                     transient = excluded.transient,
                     attempts = attempts + 1,
                     last_seen = excluded.last_seen,
                     last_run_id = excluded.last_run_id,
                     retrying = 0,
                     needs_attention = 0",
            )?
            .execute(params![
                package,
                f.signature,
                f.tail,
                f.transient,
                now.0,
                run_id
            ])?;
        }
    }
    Ok(())
}

fn upsert_job(
    tx: &Transaction<'_>,
    package: &str,
    priority: Priority,
    now: Timestamp,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO jobs (package, priority, state, enqueued_at) VALUES (?1, ?2, 'queued', ?3)
         ON CONFLICT (package) WHERE state = 'queued'
         DO UPDATE SET priority = max(priority, excluded.priority), not_before = 0",
    )?
    .execute(params![package, priority.0, now.0])?;
    Ok(())
}

/// Names in the database were validated on the way in; one that is not valid means the file
/// was edited by hand, and is reported rather than trusted.
fn parse_name(raw: &str) -> rusqlite::Result<PackageName> {
    PackageName::parse(raw).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

const RUN_COLUMNS: &str = "id, job_id, package, priority, started_at, ended_at, pid, exit_code, \
                           signal, outcome, signature, log_path";

fn run_row(r: &Row<'_>) -> rusqlite::Result<RunRecord> {
    let started_at = Timestamp(r.get(4)?);
    let ended_at: Option<Timestamp> = r.get::<_, Option<i64>>(5)?.map(Timestamp);
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

fn failure_row(r: &Row<'_>) -> rusqlite::Result<FailureRecord> {
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

fn heartbeat_row(r: &Row<'_>) -> rusqlite::Result<Heartbeat> {
    Ok(Heartbeat {
        kind: r.get(0)?,
        host: r.get(1)?,
        pid: r.get(2)?,
        started_at: Timestamp(r.get(3)?),
        last_seen: Timestamp(r.get(4)?),
    })
}
