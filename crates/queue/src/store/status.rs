//! Heartbeats, the overall status that `importctl status` and monitoring show, and
//! everything known about one package.

use std::collections::BTreeMap;

use pkgimport_core::PackageName;

use super::Store;
use super::failures::{FAILURE_COLUMNS, failure_row};
use super::settings::PAUSED;
use crate::Result;
use crate::audit::PatchWarning;
use crate::model::*;
use crate::sql::{Row, SqlError, TxKind, params};

impl Store {
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
        let distributions = self.transact(TxKind::Read, "reading the audit", |tx| {
            let mut by_name: BTreeMap<String, DistributionInfo> = BTreeMap::new();
            let mut first_published: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
            for r in tx.query(
                "SELECT distro, version, MIN(date_created) FROM audit_publications
                 WHERE package = $1 GROUP BY distro, version",
                params![package],
            )? {
                let (distro, version, date): (String, String, String) =
                    (r.get(0)?, r.get(1)?, r.get(2)?);
                first_published
                    .entry(distro)
                    .or_default()
                    .push((date, version));
            }
            for (distro, mut versions) in first_published {
                // Launchpad's UTC time strings sort as the times they name.
                versions.sort();
                distribution(&mut by_name, &distro).versions =
                    versions.into_iter().map(|(_, v)| v).collect();
            }
            for r in tx.query(
                "SELECT ref, oid, version FROM audit_refs
                 WHERE package = $1 AND ref LIKE 'refs/heads/importer/%' ORDER BY ref",
                params![package],
            )? {
                let (name, commit, version): (String, String, Option<String>) =
                    (r.get(0)?, r.get(1)?, r.get(2)?);
                let name = name.trim_start_matches("refs/heads/").to_owned();
                // `importer/<distro>/...`, or `importer/applied/<distro>/...`.
                let mut parts = name.split('/').skip(1);
                let (applied, distro) = match parts.next() {
                    Some("applied") => (true, parts.next()),
                    distro => (false, distro),
                };
                let entry = distribution(&mut by_name, distro.unwrap_or_default());
                let list = if applied {
                    &mut entry.applied_branches
                } else {
                    &mut entry.branches
                };
                list.push(BranchInfo {
                    name,
                    commit,
                    version,
                });
            }
            Ok(by_name.into_values().collect::<Vec<_>>())
        })?;
        let patch_warnings = self.transact(TxKind::Read, "reading patch warnings", |tx| {
            tx.query(
                "SELECT version, patch_failed, patch_error FROM audit_versions
                 WHERE package = $1 AND patch_failed IS NOT NULL ORDER BY version",
                params![package],
            )?
            .iter()
            .map(|r| {
                Ok(PatchWarning {
                    package: package.to_string(),
                    version: r.get(0)?,
                    patch: r.get(1)?,
                    message: r.get::<Option<String>>(2)?.unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, SqlError>>()
        })?;
        Ok(PackageInfo {
            package: package.to_string(),
            jobs,
            failure,
            runs,
            distributions,
            patch_warnings,
        })
    }
}

/// The entry of `name` in `by_name`, made empty when missing.
fn distribution<'m>(
    by_name: &'m mut BTreeMap<String, DistributionInfo>,
    name: &str,
) -> &'m mut DistributionInfo {
    by_name
        .entry(name.to_owned())
        .or_insert_with(|| DistributionInfo {
            name: name.to_owned(),
            branches: Vec::new(),
            applied_branches: Vec::new(),
            versions: Vec::new(),
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
