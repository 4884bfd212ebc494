//! What monitoring reads and the short-lived processes leave behind for it: the newest
//! publication the poller saw per package, how current each series is, cumulative
//! counters, daily snapshots, and the size of the write-ahead log.

use serde::Serialize;

use crate::backend::sqlite;
use crate::model::Timestamp;
use crate::series::DEVELOPMENT;
use crate::sql::{Row, SqlError, TxKind, params};
use crate::store::Store;
use crate::{Backend, Result};

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

/// How current one series of one distribution is: what the audit holds there against what
/// the poller has seen there. Times are Launchpad's own `date_created` strings, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SeriesFreshness {
    /// `debian`, `ubuntu`.
    pub distribution: String,
    /// `sid`, `noble`.
    pub series: String,
    /// Launchpad's status title (`Active Development`, `Supported`, `Obsolete`, ...), when
    /// poll-uploads has recorded the distribution's series.
    pub status: Option<String>,
    /// The distribution's development series: the newest one whose status is one of
    /// [`DEVELOPMENT`].
    pub development: bool,
    /// Packages with at least one publication imported in the series.
    pub packages: u64,
    /// Packages whose newest publication seen by the poller is in the series and is not
    /// imported, nor overtaken by a newer imported publication of the package: the rule of
    /// the status site's package table, counted where the missing publication is.
    pub out_of_date: u64,
    /// The newest publication imported in the series.
    pub newest_imported: Option<String>,
    /// The newest publication the poller has seen in the series (its watermark).
    pub newest_seen: Option<String>,
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

    /// How current every series is: one row per (distribution, series) that the audit, the
    /// watermarks or the recorded series name, by distribution, then newest series first
    /// (series that poll-uploads has not recorded last, by name).
    ///
    /// One statement over whole tables, so its cost does not grow with round trips: the
    /// audit's publications are grouped by series (an index scan of
    /// `audit_publications_series`), and each package's newest seen publication is looked
    /// up in the audit by primary key. Launchpad's times are compared as strings, which
    /// orders them as times because Launchpad writes them all in UTC in one format; on
    /// PostgreSQL the comparisons name the `C` collation so that a database whose default
    /// collation skips punctuation still compares them byte by byte.
    pub fn series_freshness(&mut self) -> Result<Vec<SeriesFreshness>> {
        let mut rows =
            self.transact(TxKind::Read, "reading the freshness of each series", |tx| {
                let sql = series_freshness_sql(tx.backend());
                tx.query(&sql, params![])?
                    .iter()
                    .map(|r| {
                        Ok((
                            r.get::<Option<i64>>(3)?,
                            SeriesFreshness {
                                distribution: r.get(0)?,
                                series: r.get(1)?,
                                status: r.get(2)?,
                                development: false,
                                packages: r.get::<i64>(4)? as u64,
                                newest_imported: r.get(5)?,
                                newest_seen: r.get(6)?,
                                out_of_date: r.get::<i64>(7)? as u64,
                            },
                        ))
                    })
                    .collect::<Result<Vec<_>, SqlError>>()
            })?;
        rows.sort_by(|(pa, a), (pb, b)| {
            a.distribution
                .cmp(&b.distribution)
                .then(pa.is_none().cmp(&pb.is_none()))
                .then(pb.cmp(pa))
                .then(a.series.cmp(&b.series))
        });
        // Newest first, so the first development series of a distribution is its newest.
        let mut marked: Vec<String> = Vec::new();
        for (_, row) in &mut rows {
            let development = row
                .status
                .as_deref()
                .is_some_and(|s| DEVELOPMENT.contains(&s));
            if development && !marked.contains(&row.distribution) {
                row.development = true;
                marked.push(row.distribution.clone());
            }
        }
        Ok(rows.into_iter().map(|(_, row)| row).collect())
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

/// The statement behind [`Store::series_freshness`]. Its columns: distribution, series,
/// status, position, packages imported, newest imported, newest seen, out of date.
fn series_freshness_sql(backend: Backend) -> String {
    // Byte order for Launchpad's time strings (see `series_freshness`).
    let bytes = match backend {
        Backend::Sqlite => "",
        Backend::Postgres => r#" COLLATE "C""#,
    };
    format!(
        "WITH imported AS (
             SELECT distro, series, count(DISTINCT package) AS packages,
                    max(date_created{bytes}) AS newest
             FROM audit_publications GROUP BY distro, series
         ),
         behind AS (
             SELECT s.distro, s.series, count(*) AS packages FROM poll_seen s
             WHERE NOT EXISTS (
                     SELECT 1 FROM audit_publications a
                     WHERE a.package = s.package AND a.distro = s.distro AND a.series = s.series
                       AND a.pocket = s.pocket AND a.version = s.version)
               AND NOT EXISTS (
                     SELECT 1 FROM audit_publications a
                     WHERE a.package = s.package
                       AND a.date_created{bytes} > s.date_created{bytes})
             GROUP BY s.distro, s.series
         ),
         partitions AS (
             SELECT distro, series FROM imported
             UNION SELECT distro, series FROM watermarks
             UNION SELECT distro, name FROM series
             UNION SELECT distro, series FROM behind
         )
         SELECT p.distro, p.series, sr.status, sr.position, coalesce(i.packages, 0), i.newest,
                w.date_created, coalesce(b.packages, 0)
         FROM partitions p
         LEFT JOIN series sr ON sr.distro = p.distro AND sr.name = p.series
         LEFT JOIN imported i ON i.distro = p.distro AND i.series = p.series
         LEFT JOIN watermarks w ON w.distro = p.distro AND w.series = p.series
         LEFT JOIN behind b ON b.distro = p.distro AND b.series = p.series"
    )
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
