//! The job queue: enqueueing, claiming (with the run it opens), finishing a run and
//! disposing of its job, and the queue's listing.

use pkgimport_core::{PackageName, Priority};

use super::events::record_events;
use super::{Store, parse_name};
use crate::Backend;
use crate::Result;
use crate::backend::postgres::JOBS_CHANNEL;
use crate::model::*;
use crate::sql::{SqlError, Tx, TxKind, Value, params};

impl Store {
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
            let (summary, changed) = enqueue_in(tx, packages, priority, now)?;
            if !changed.is_empty() {
                notify_jobs(tx)?;
                record_events(tx, EventKind::Queued, &changed, now)?;
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

    /// Closes a run and disposes of its job, in one transaction.
    pub fn finish_run(&mut self, run_id: i64, end: &RunEnd) -> Result<()> {
        let now = Timestamp::now();
        self.transact(TxKind::QueueWrite, "finishing a run", |tx| {
            finish_run(tx, run_id, end, now)
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

    /// Every job, in the order the driver would claim them (running ones first).
    pub fn queue(&mut self, limit: Option<u64>) -> Result<Vec<QueuedJob>> {
        self.jobs_where("1 = 1", params![], limit)
    }

    pub(super) fn jobs_where(
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
pub(crate) fn notify_jobs(tx: &mut dyn Tx) -> Result<(), SqlError> {
    if tx.backend() == Backend::Postgres {
        tx.execute("SELECT pg_notify($1, '')", params![JOBS_CHANNEL])?;
    }
    Ok(())
}

/// Adds a pending job for each package, or raises the priority of the pending job it already
/// has to the higher of the two. Returns the summary, and the packages whose job was added or
/// raised.
pub(crate) fn enqueue_in<'p>(
    tx: &mut dyn Tx,
    packages: &'p [PackageName],
    priority: Priority,
    now: Timestamp,
) -> Result<(EnqueueSummary, Vec<&'p str>), SqlError> {
    let mut summary = EnqueueSummary::default();
    let mut changed = Vec::new();
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
                changed.push(package.as_str());
            }
            Some(row) if row.get::<i64>(1)? < priority.0 => {
                tx.execute(
                    "UPDATE jobs SET priority = $2 WHERE id = $1",
                    params![row.get::<i64>(0)?, priority.0],
                )?;
                summary.raised += 1;
                changed.push(package.as_str());
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
    Ok((summary, changed))
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
    record_events(tx, EventKind::RunEnded, &[package.as_str()], now)?;
    Ok(())
}

pub(super) fn upsert_job(
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
