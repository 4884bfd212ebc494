//! The failures table: the listing, its grouping by signature, re-queueing failed packages,
//! and marking them for a human's attention.

use pkgimport_core::{PackageName, Priority};

use super::Store;
use super::events::record_events;
use super::queue::{notify_jobs, upsert_job};
use crate::Result;
use crate::model::*;
use crate::sql::{Row, SqlError, TxKind, params};

impl Store {
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
                let names: Vec<&str> = packages.iter().map(PackageName::as_str).collect();
                record_events(tx, EventKind::Retried, &names, now)?;
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
}

pub(super) const FAILURE_COLUMNS: &str = "package, signature, transient, attempts, consecutive, first_seen, \
                               last_seen, retrying, tail, needs_attention";

pub(super) fn failure_row(r: &Row) -> Result<FailureRecord, SqlError> {
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
