//! What `poll-uploads` keeps between polls besides the watermarks, and what `importctl
//! reconcile` asks of the audit.
//!
//! **The poll memory.** The poller asks each partition for the publications created since
//! its watermark minus a skew window, so every poll sees the publications inside that
//! window again. It remembers them in `poll_memory`, by Launchpad's publication id with the
//! status it saw, and enqueues a package only for a publication it does not remember, or
//! one that went from `Pending` to `Published`. A partition's memory is replaced whole by
//! the publications inside its new window, in the transaction that moves the watermarks
//! ([`Store::finish_poll`]): so the memory is bounded by the window, not by history, and a
//! poll that crashes part-way moves neither.
//!
//! **Reconciling.** `importctl reconcile` streams what Launchpad publishes in each
//! partition and hands it over a batch at a time ([`Store::reconcile_batch`]). Each batch is
//! compared with the committed audit by one anti-join in the database, and the packages of
//! the publications the audit lacks are enqueued in the same transaction: nothing but the
//! batch is ever held in memory, whatever the size of the series.

use pkgimport_core::{PackageName, Priority};

use crate::Result;
use crate::model::{EnqueueSummary, EventKind, Timestamp};
use crate::sql::{TxKind, Value, params};
use crate::store::{Store, enqueue_in, notify_jobs, record_events};

/// A publication the poller saw inside a partition's skew window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remembered {
    /// Launchpad's publication id: the `<id>` of its `+sourcepub/<id>` link.
    pub id: i64,
    /// Launchpad's status title when the poller saw it (`Pending`, `Published`, ...).
    pub status: String,
    /// Launchpad's `date_created` string.
    pub date_created: String,
}

/// A partition's new watermark, for [`Store::finish_poll`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewWatermark {
    pub distro: String,
    pub series: String,
    /// Launchpad's `date_created` of the newest publication seen.
    pub date_created: String,
    /// For a partition's first watermark: the Launchpad time from which the partition is
    /// polled, `None` for from the beginning. A partition keeps the one it started with.
    pub polled_from: Option<String>,
}

/// The publications inside a partition's new skew window, to replace its memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionMemory {
    pub distro: String,
    pub series: String,
    pub publications: Vec<Remembered>,
}

/// A partition that poll-uploads has polled: its watermark, and where polling started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolledPartition {
    /// Launchpad's `date_created` of the newest publication seen.
    pub watermark: String,
    /// The Launchpad time from which the partition is polled; `None`: from the beginning.
    pub polled_from: Option<String>,
}

/// A publication that Launchpad lists, for [`Store::reconcile_batch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedPublication {
    pub package: PackageName,
    pub distro: String,
    pub series: String,
    pub pocket: String,
    pub version: String,
    /// Created before its partition's watermark minus the skew window: polling no longer
    /// asks for it, so if the audit lacks it, polling missed it.
    pub settled: bool,
}

/// What [`Store::reconcile_batch`] found in one batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReconcileBatch {
    /// The positions in the batch of the publications that the committed audit lacks.
    pub missing: Vec<usize>,
    /// Of those, the ones that polling missed: settled, and of a package that had no
    /// queued or running job and no recorded failure (a package that has one is being
    /// imported, or will be, with every publication it has).
    pub missed: Vec<usize>,
    /// The enqueueing of the packages of the missing publications.
    pub enqueued: EnqueueSummary,
}

/// Publications per statement of [`Store::reconcile_batch`]: six parameters each, well
/// under SQLite's and PostgreSQL's limits.
pub const RECONCILE_BATCH: usize = 1000;

impl Store {
    /// The poll memory of one partition.
    pub fn poll_memory(&mut self, distro: &str, series: &str) -> Result<Vec<Remembered>> {
        self.transact(TxKind::Read, "reading the poll memory", |tx| {
            tx.query(
                "SELECT publication_id, status, date_created FROM poll_memory
                 WHERE distro = $1 AND series = $2 ORDER BY publication_id",
                params![distro, series],
            )?
            .iter()
            .map(|r| {
                Ok(Remembered {
                    id: r.get(0)?,
                    status: r.get(1)?,
                    date_created: r.get(2)?,
                })
            })
            .collect()
        })
    }

    /// The end of a poll, in one transaction: stores the watermarks that moved, and
    /// replaces the memory of each partition in `memories` with its publications.
    pub fn finish_poll(
        &mut self,
        marks: &[NewWatermark],
        memories: &[PartitionMemory],
    ) -> Result<()> {
        let now = Timestamp::now();
        self.transact(TxKind::Write, "storing watermarks and the poll memory", |tx| {
            for m in marks {
                tx.execute(
                    "INSERT INTO watermarks (distro, series, date_created, updated_at, polled_from)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (distro, series) DO UPDATE SET date_created = excluded.date_created,
                                                                updated_at = excluded.updated_at",
                    params![&m.distro, &m.series, &m.date_created, now.0, m.polled_from.as_deref()],
                )?;
            }
            for m in memories {
                tx.execute(
                    "DELETE FROM poll_memory WHERE distro = $1 AND series = $2",
                    params![&m.distro, &m.series],
                )?;
                for p in &m.publications {
                    tx.execute(
                        "INSERT INTO poll_memory (distro, series, publication_id, status, date_created)
                         VALUES ($1, $2, $3, $4, $5)",
                        params![&m.distro, &m.series, p.id, &p.status, &p.date_created],
                    )?;
                }
            }
            Ok(())
        })
    }

    /// The watermark of one partition and where its polling started; `None` when
    /// poll-uploads has not polled it.
    pub fn polled_partition(
        &mut self,
        distro: &str,
        series: &str,
    ) -> Result<Option<PolledPartition>> {
        self.transact(TxKind::Read, "reading a watermark", |tx| {
            tx.query_opt(
                "SELECT date_created, polled_from FROM watermarks WHERE distro = $1 AND series = $2",
                params![distro, series],
            )?
            .map(|r| {
                Ok(PolledPartition {
                    watermark: r.get(0)?,
                    polled_from: r.get(1)?,
                })
            })
            .transpose()
        })
    }

    /// Compares a batch of the publications that Launchpad lists with the committed audit,
    /// and enqueues at `priority` every package with a publication that the audit lacks,
    /// in one transaction. A batch should hold at most [`RECONCILE_BATCH`] publications.
    pub fn reconcile_batch(
        &mut self,
        listed: &[ListedPublication],
        priority: Priority,
    ) -> Result<ReconcileBatch> {
        if listed.is_empty() {
            return Ok(ReconcileBatch::default());
        }
        let sql = reconcile_sql(listed.len());
        let values: Vec<Value> = listed
            .iter()
            .enumerate()
            .flat_map(|(n, p)| {
                [
                    Value::Int(n as i64),
                    Value::from(&p.package),
                    Value::from(&p.distro),
                    Value::from(&p.series),
                    Value::from(&p.pocket),
                    Value::from(&p.version),
                ]
            })
            .collect();
        let now = Timestamp::now();
        self.transact(
            TxKind::QueueWrite,
            "comparing Launchpad's publications with the audit",
            |tx| {
                let mut found = ReconcileBatch::default();
                for row in tx.query(&sql, &values)? {
                    let n = usize::try_from(row.get::<i64>(0)?).unwrap_or(usize::MAX);
                    let Some(p) = listed.get(n) else {
                        continue;
                    };
                    found.missing.push(n);
                    if p.settled && !row.get::<bool>(1)? {
                        found.missed.push(n);
                    }
                }
                let mut packages: Vec<PackageName> = found
                    .missing
                    .iter()
                    .map(|n| listed[*n].package.clone())
                    .collect();
                packages.sort();
                packages.dedup();
                let (enqueued, changed) = enqueue_in(tx, &packages, priority, now)?;
                if !changed.is_empty() {
                    notify_jobs(tx)?;
                    record_events(tx, EventKind::Queued, &changed, now)?;
                }
                found.enqueued = enqueued;
                Ok(found)
            },
        )
    }
}

/// The anti-join of [`Store::reconcile_batch`] for `rows` publications: the position of
/// each one that the audit lacks, and whether its package has a job or a failure. Each
/// row is six parameters: position, package, distribution, series, pocket, version.
fn reconcile_sql(rows: usize) -> String {
    let mut values = String::with_capacity(rows * 64);
    for i in 0..rows {
        let b = i * 6;
        if i > 0 {
            values.push_str(",\n");
        }
        values.push_str(&format!(
            "(CAST(${} AS BIGINT), ${}, ${}, ${}, ${}, ${})",
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 6
        ));
    }
    format!(
        "WITH listed (n, package, distro, series, pocket, version) AS (VALUES {values})
         SELECT l.n,
                CASE WHEN EXISTS (SELECT 1 FROM jobs j
                                  WHERE j.package = l.package AND j.state = 'queued')
                       OR EXISTS (SELECT 1 FROM jobs j
                                  WHERE j.package = l.package AND j.state = 'running')
                       OR EXISTS (SELECT 1 FROM failures f WHERE f.package = l.package)
                     THEN 1 ELSE 0 END
         FROM listed l
         WHERE NOT EXISTS (
             SELECT 1 FROM audit_publications a
             WHERE a.package = l.package AND a.distro = l.distro AND a.series = l.series
               AND a.pocket = l.pocket AND a.version = l.version)
         ORDER BY l.n"
    )
}
