//! What monitoring reads and the short-lived processes leave behind for it: the newest
//! publication the poller saw per package, cumulative counters, daily snapshots, and the
//! size of the write-ahead log.

use serde::Serialize;

use crate::Result;
use crate::backend::sqlite;
use crate::model::Timestamp;
use crate::sql::{Row, SqlError, TxKind, params};
use crate::store::Store;

/// The newest publication of a package that the poller saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SeenPublication {
    pub package: String,
    pub distro: String,
    pub series: String,
    pub pocket: String,
    pub version: String,
    /// Launchpad's own time string.
    pub date_created: String,
    pub seen_at: Timestamp,
}

/// Runs by outcome (open runs under `running`), and the durations of finished runs in
/// seconds.
#[derive(Clone, Debug, Default)]
pub struct RunStats {
    pub by_outcome: Vec<(String, u64)>,
    pub durations: Vec<f64>,
}

/// One day's snapshot, for the failure baseline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub day: String,
    pub taken_at: Timestamp,
    pub failed: u64,
    pub needs_attention: u64,
    pub queued: u64,
}

impl Store {
    /// Records the newest publication seen per package; `later` says whether a candidate's
    /// `date_created` is later than the stored one (the caller parses Launchpad's times).
    pub fn record_seen(
        &mut self,
        seen: &[SeenPublication],
        later: impl Fn(&str, &str) -> bool,
    ) -> Result<()> {
        self.transact(TxKind::Write, "recording publications seen", |tx| {
            for s in seen {
                let stored: Option<String> = tx
                    .query_opt(
                        "SELECT date_created FROM poll_seen WHERE package = $1",
                        params![&s.package],
                    )?
                    .map(|r| r.get(0))
                    .transpose()?;
                if stored
                    .as_deref()
                    .is_some_and(|d| !later(&s.date_created, d))
                {
                    continue;
                }
                tx.execute(
                    "INSERT INTO poll_seen (package, distro, series, pocket, version, date_created, seen_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (package) DO UPDATE SET distro = excluded.distro,
                         series = excluded.series, pocket = excluded.pocket,
                         version = excluded.version, date_created = excluded.date_created,
                         seen_at = excluded.seen_at",
                    params![
                        &s.package,
                        &s.distro,
                        &s.series,
                        &s.pocket,
                        &s.version,
                        &s.date_created,
                        s.seen_at.0
                    ],
                )?;
            }
            Ok(())
        })
    }

    /// The newest publication the poller saw of one package.
    pub fn seen(&mut self, package: &str) -> Result<Option<SeenPublication>> {
        self.transact(TxKind::Read, "reading a seen publication", |tx| {
            tx.query_opt(
                "SELECT package, distro, series, pocket, version, date_created, seen_at FROM poll_seen
                 WHERE package = $1",
                params![package],
            )?
            .map(|r| {
                Ok(SeenPublication {
                    package: r.get(0)?,
                    distro: r.get(1)?,
                    series: r.get(2)?,
                    pocket: r.get(3)?,
                    version: r.get(4)?,
                    date_created: r.get(5)?,
                    seen_at: Timestamp(r.get(6)?),
                })
            })
            .transpose()
        })
    }

    /// Adds to cumulative counters (for example Launchpad requests and retries).
    pub fn add_counters(&mut self, deltas: &[(&str, u64)]) -> Result<()> {
        self.transact(TxKind::Write, "adding to counters", |tx| {
            for (name, delta) in deltas {
                tx.execute(
                    "INSERT INTO counters (name, value) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value",
                    params![*name, *delta as i64],
                )?;
            }
            Ok(())
        })
    }

    /// Sets counters or gauges to a value (for example the time of the last good poll).
    pub fn set_counters(&mut self, values: &[(&str, i64)]) -> Result<()> {
        self.transact(TxKind::Write, "setting counters", |tx| {
            for (name, value) in values {
                tx.execute(
                    "INSERT INTO counters (name, value) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    params![*name, *value],
                )?;
            }
            Ok(())
        })
    }

    /// Every counter.
    pub fn counters(&mut self) -> Result<Vec<(String, i64)>> {
        self.transact(TxKind::Read, "reading counters", |tx| {
            tx.query("SELECT name, value FROM counters ORDER BY name", params![])?
                .iter()
                .map(|r| Ok((r.get(0)?, r.get(1)?)))
                .collect()
        })
    }

    /// Takes today's snapshot (replacing an earlier one of the same day).
    pub fn take_snapshot(&mut self, day: &str) -> Result<Snapshot> {
        let st = self.status()?;
        let now = Timestamp::now();
        let snap = Snapshot {
            day: day.to_owned(),
            taken_at: now,
            failed: st.failed,
            needs_attention: st.needs_attention,
            queued: st.queued,
        };
        self.transact(TxKind::Write, "taking a snapshot", |tx| {
            tx.execute(
                "INSERT INTO snapshots (day, taken_at, failed, needs_attention, queued)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (day) DO UPDATE SET taken_at = excluded.taken_at,
                     failed = excluded.failed, needs_attention = excluded.needs_attention,
                     queued = excluded.queued",
                params![
                    &snap.day,
                    snap.taken_at.0,
                    snap.failed as i64,
                    snap.needs_attention as i64,
                    snap.queued as i64
                ],
            )?;
            Ok(())
        })?;
        Ok(snap)
    }

    /// The newest `n` snapshots, newest first.
    pub fn snapshots(&mut self, n: u32) -> Result<Vec<Snapshot>> {
        self.transact(TxKind::Read, "reading snapshots", |tx| {
            tx.query(
                "SELECT day, taken_at, failed, needs_attention, queued FROM snapshots
                 ORDER BY day DESC LIMIT $1",
                params![n],
            )?
            .iter()
            .map(snapshot_row)
            .collect()
        })
    }

    /// Copies the write-ahead log into the database and truncates it, so the WAL cannot
    /// grow without bound while readers keep it busy. Returns whether it completed (a
    /// reader in the way makes it partial; the next one catches up). PostgreSQL manages its
    /// own WAL: there this does nothing and returns true.
    pub fn checkpoint(&mut self) -> Result<bool> {
        let Some(conn) = self.sqlite() else {
            return Ok(true);
        };
        let busy: i64 = sqlite::retry("checkpointing the WAL", || {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
        })?;
        Ok(busy == 0)
    }

    /// The size of the write-ahead log file, in bytes (0 when there is none, and on
    /// PostgreSQL, whose WAL is the server's business).
    pub fn wal_bytes(&self) -> u64 {
        if self.postgres().is_some() {
            return 0;
        }
        let mut wal = self.path().as_os_str().to_owned();
        wal.push("-wal");
        std::fs::metadata(wal).map_or(0, |m| m.len())
    }

    /// Age of the oldest job that could be claimed now, if any: the latency that matters.
    pub fn oldest_claimable_age(&mut self) -> Result<Option<std::time::Duration>> {
        let now = Timestamp::now();
        let oldest: Option<i64> = self.transact(TxKind::Read, "finding the oldest claimable job", |tx| {
            tx.query_one(
                "SELECT min(j.enqueued_at) FROM jobs j WHERE j.state = 'queued'
                   AND NOT EXISTS (SELECT 1 FROM failures f WHERE f.package = j.package AND f.retrying = 0)",
                params![],
            )?
            .get(0)
        })?;
        Ok(oldest.map(|t| Timestamp(t).age(now)))
    }

    /// Runs by outcome and the durations of finished runs, for metrics.
    pub fn run_stats(&mut self) -> Result<RunStats> {
        self.transact(TxKind::Read, "summarising runs", |tx| {
            let by_outcome = tx
                .query(
                    "SELECT coalesce(outcome, 'running'), count(*) FROM runs GROUP BY 1 ORDER BY 1",
                    params![],
                )?
                .iter()
                .map(|r| Ok((r.get(0)?, r.get::<i64>(1)? as u64)))
                .collect::<Result<_, SqlError>>()?;
            let durations = tx
                .query(
                    "SELECT ended_at - started_at FROM runs WHERE ended_at IS NOT NULL",
                    params![],
                )?
                .iter()
                .map(|r| Ok(r.get::<i64>(0)? as f64 / 1000.0))
                .collect::<Result<_, SqlError>>()?;
            Ok(RunStats {
                by_outcome,
                durations,
            })
        })
    }
}

fn snapshot_row(r: &Row) -> Result<Snapshot, SqlError> {
    Ok(Snapshot {
        day: r.get(0)?,
        taken_at: Timestamp(r.get(1)?),
        failed: r.get::<i64>(2)? as u64,
        needs_attention: r.get::<i64>(3)? as u64,
        queued: r.get::<i64>(4)? as u64,
    })
}
