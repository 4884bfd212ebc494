//! What monitoring reads and the short-lived processes leave behind for it: the newest
//! publication the poller saw per package, cumulative counters, daily snapshots, and the
//! size of the write-ahead log.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::model::Timestamp;
use crate::store::Store;
use crate::{Result, db};

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
        db::write(self.conn(), "recording publications seen", |tx| {
            for s in seen {
                let stored: Option<String> = tx
                    .prepare_cached("SELECT date_created FROM poll_seen WHERE package = ?1")?
                    .query_row([&s.package], |r| r.get(0))
                    .optional()?;
                if stored
                    .as_deref()
                    .is_some_and(|d| !later(&s.date_created, d))
                {
                    continue;
                }
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO poll_seen (package, distro, series, pocket, version, date_created, seen_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![s.package, s.distro, s.series, s.pocket, s.version, s.date_created, s.seen_at.0])?;
            }
            Ok(())
        })
    }

    /// The newest publication the poller saw of one package.
    pub fn seen(&mut self, package: &str) -> Result<Option<SeenPublication>> {
        db::retry("reading a seen publication", || {
            self.conn()
                .query_row(
                    "SELECT package, distro, series, pocket, version, date_created, seen_at FROM poll_seen
                     WHERE package = ?1",
                    [package],
                    |r| {
                        Ok(SeenPublication {
                            package: r.get(0)?,
                            distro: r.get(1)?,
                            series: r.get(2)?,
                            pocket: r.get(3)?,
                            version: r.get(4)?,
                            date_created: r.get(5)?,
                            seen_at: Timestamp(r.get(6)?),
                        })
                    },
                )
                .optional()
        })
    }

    /// Adds to cumulative counters (for example Launchpad requests and retries).
    pub fn add_counters(&mut self, deltas: &[(&str, u64)]) -> Result<()> {
        db::write(self.conn(), "adding to counters", |tx| {
            for (name, delta) in deltas {
                tx.prepare_cached(
                    "INSERT INTO counters (name, value) VALUES (?1, ?2)
                     ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                )?
                .execute(params![name, *delta as i64])?;
            }
            Ok(())
        })
    }

    /// Sets counters or gauges to a value (for example the time of the last good poll).
    pub fn set_counters(&mut self, values: &[(&str, i64)]) -> Result<()> {
        db::write(self.conn(), "setting counters", |tx| {
            for (name, value) in values {
                tx.prepare_cached(
                    "INSERT INTO counters (name, value) VALUES (?1, ?2)
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                )?
                .execute(params![name, value])?;
            }
            Ok(())
        })
    }

    /// Every counter.
    pub fn counters(&mut self) -> Result<Vec<(String, i64)>> {
        db::retry("reading counters", || {
            self.conn()
                .prepare_cached("SELECT name, value FROM counters ORDER BY name")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
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
        db::write(self.conn(), "taking a snapshot", |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO snapshots (day, taken_at, failed, needs_attention, queued)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    snap.day,
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
        db::retry("reading snapshots", || {
            self.conn()
                .prepare_cached(
                    "SELECT day, taken_at, failed, needs_attention, queued FROM snapshots
                     ORDER BY day DESC LIMIT ?1",
                )?
                .query_map([n], |r| {
                    Ok(Snapshot {
                        day: r.get(0)?,
                        taken_at: Timestamp(r.get(1)?),
                        failed: r.get::<_, i64>(2)? as u64,
                        needs_attention: r.get::<_, i64>(3)? as u64,
                        queued: r.get::<_, i64>(4)? as u64,
                    })
                })?
                .collect()
        })
    }

    /// Copies the write-ahead log into the database and truncates it, so the WAL cannot
    /// grow without bound while readers keep it busy. Returns whether it completed (a
    /// reader in the way makes it partial; the next one catches up).
    pub fn checkpoint(&mut self) -> Result<bool> {
        let busy: i64 = db::retry("checkpointing the WAL", || {
            self.conn()
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
        })?;
        Ok(busy == 0)
    }

    /// The size of the write-ahead log file, in bytes (0 when there is none).
    pub fn wal_bytes(&self) -> u64 {
        let mut wal = self.path().as_os_str().to_owned();
        wal.push("-wal");
        std::fs::metadata(wal).map_or(0, |m| m.len())
    }

    /// Age of the oldest job that could be claimed now, if any: the latency that matters.
    pub fn oldest_claimable_age(&mut self) -> Result<Option<std::time::Duration>> {
        let now = Timestamp::now();
        let oldest: Option<i64> = db::retry("finding the oldest claimable job", || {
            self.conn().query_row(
                "SELECT min(j.enqueued_at) FROM jobs j WHERE j.state = 'queued'
                   AND NOT EXISTS (SELECT 1 FROM failures f WHERE f.package = j.package AND f.retrying = 0)",
                [],
                |r| r.get(0),
            )
        })?;
        Ok(oldest.map(|t| Timestamp(t).age(now)))
    }

    /// Runs by outcome and the durations of finished runs, for metrics.
    pub fn run_stats(&mut self) -> Result<RunStats> {
        db::retry("summarising runs", || {
            let tx = self.conn().transaction()?;
            let by_outcome = tx
                .prepare_cached(
                    "SELECT coalesce(outcome, 'running'), count(*) FROM runs GROUP BY 1 ORDER BY 1",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                .collect::<rusqlite::Result<_>>()?;
            let durations = tx
                .prepare_cached(
                    "SELECT (ended_at - started_at) / 1000.0 FROM runs WHERE ended_at IS NOT NULL",
                )?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(RunStats {
                by_outcome,
                durations,
            })
        })
    }
}
