//! `importctl reconcile`: the safety net under polling.
//!
//! Polling sees a publication only if Launchpad dates it no earlier than the partition's
//! watermark minus the skew window by the time it becomes visible: one dated earlier is
//! never asked for again. Reconciling lists what Launchpad publishes now (status
//! `Published`) in each partition that poll-uploads polls, partitioned and paged like the
//! poller and with the client's backoff, from where the partition's polling started (a
//! partition started "from now" never meant to import what came before), and compares it
//! with the committed audit in the database, a batch at a time
//! (`Store::reconcile_batch`): memory stays flat however large the series. Every package
//! with a publication that the audit lacks is enqueued at priority `rescan`.
//!
//! A missing publication is not necessarily a missed one: most are queued, being imported,
//! failed, or so new that the next poll will see them. Those that polling missed were
//! created before the partition's watermark minus the skew (polling no longer asks for
//! them), and their package had no job and no failure. A complete reconcile records their
//! count, and its time, for `importctl check` and the metrics: missed publications mean
//! that the skew window is too small.

use std::time::Duration;

use pkgimport_core::{PackageName, Priority};
use pkgimport_lp_client::{
    Client, LpDateTime, PublicationOrder, PublicationStatus, PublishedSourcesQuery,
};
use pkgimport_queue::poll::{ListedPublication, RECONCILE_BATCH};
use pkgimport_queue::{Store, Timestamp};
use serde::Serialize;

use crate::poll::{OBSOLETE, record_client_stats};

/// What reconciling needs, resolved from the configuration and the command line.
#[derive(Clone, Debug)]
pub struct ReconcileSettings {
    /// The distributions to reconcile (`launchpad.distributions`, or the one asked for).
    pub distributions: Vec<String>,
    /// Only this series of each distribution.
    pub series: Option<String>,
    /// Obsolete series too, as the poller (`launchpad.series = "all"`).
    pub all_series: bool,
    /// The poller's skew window (`poll.skew`).
    pub skew: Duration,
}

impl ReconcileSettings {
    /// Whether every partition the poller polls is reconciled: only then is the result
    /// recorded for monitoring.
    fn complete(&self, configured: &[String]) -> bool {
        self.series.is_none() && self.distributions == configured
    }
}

/// What one reconcile did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileSummary {
    /// Partitions compared.
    pub partitions: u64,
    /// Obsolete series not asked about.
    pub obsolete: u64,
    /// Partitions that poll-uploads has not polled yet: nothing to compare them with.
    pub unpolled: u64,
    /// Publications Launchpad listed.
    pub publications: u64,
    /// Of those, publications that the committed audit lacks.
    pub missing: u64,
    /// Of those, publications that polling missed.
    pub missed: u64,
    /// Packages newly queued, or whose job was raised to `rescan`, for a missing
    /// publication.
    pub enqueued: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("launchpad: {0}")]
    Launchpad(#[from] pkgimport_lp_client::Error),
    #[error(transparent)]
    Store(#[from] pkgimport_queue::Error),
    /// `--series` named a series that no distribution reconciled lists.
    #[error("no series {series} in {distributions}")]
    NoSuchSeries {
        series: String,
        distributions: String,
    },
}

impl ReconcileError {
    /// Launchpad stayed unavailable after retries: nothing is wrong with our data.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ReconcileError::Launchpad(e) if e.is_transient())
    }
}

/// Reconciles (see [`reconcile`]) and records what it showed: the Launchpad client's
/// request counters always, and, when it succeeded over every partition the poller polls
/// (`configured` being `launchpad.distributions`), its time and the count of publications
/// that polling missed, as the counters `last_reconcile_ms` and `last_reconcile_missed`.
pub fn reconcile_and_record(
    client: &Client,
    store: &mut Store,
    settings: &ReconcileSettings,
    configured: &[String],
) -> Result<ReconcileSummary, ReconcileError> {
    let result = reconcile(client, store, settings);
    record_client_stats(store, client)?;
    if let Ok(summary) = &result
        && settings.complete(configured)
    {
        store.set_counters(&[
            ("last_reconcile_ms", Timestamp::now().0),
            ("last_reconcile_missed", summary.missed as i64),
        ])?;
    }
    result
}

/// Compares what Launchpad publishes in each partition with the committed audit, and
/// enqueues at priority `rescan` every package with a publication that the audit lacks.
pub fn reconcile(
    client: &Client,
    store: &mut Store,
    settings: &ReconcileSettings,
) -> Result<ReconcileSummary, ReconcileError> {
    let mut summary = ReconcileSummary::default();
    let mut series_found = false;
    for distro in &settings.distributions {
        for s in client.distro_series(distro)? {
            if settings.series.as_ref().is_some_and(|want| *want != s.name) {
                continue;
            }
            series_found = true;
            if !settings.all_series && s.status.as_deref() == Some(OBSOLETE) {
                summary.obsolete += 1;
                continue;
            }
            let Some(polled) = store.polled_partition(distro, &s.name)? else {
                log::info!(
                    "partition {distro}/{} is not polled yet: nothing to reconcile",
                    s.name
                );
                summary.unpolled += 1;
                continue;
            };
            summary.partitions += 1;
            let time = |what: &str, raw: &str| match LpDateTime::parse(raw) {
                Ok(t) => Some(t.utc()),
                Err(e) => {
                    log::warn!(
                        "ignoring unreadable {what} {raw:?} of {distro}/{}: {e}",
                        s.name
                    );
                    None
                }
            };
            let from = polled
                .polled_from
                .as_deref()
                .and_then(|raw| time("start", raw));
            // Polling asks for nothing created before this again.
            let settled_before = time("watermark", &polled.watermark)
                .map(|w| w - chrono::Duration::from_std(settings.skew).unwrap_or_default());
            let query = PublishedSourcesQuery {
                distro_series: Some(s.self_link.clone()),
                status: Some(PublicationStatus::Published),
                created_since_date: from,
                order: PublicationOrder::OldestFirst,
                ..PublishedSourcesQuery::default()
            };
            let mut batch: Vec<ListedPublication> = Vec::with_capacity(RECONCILE_BATCH);
            for publication in client.published_sources(distro, &query) {
                let p = publication?;
                summary.publications += 1;
                let package = match PackageName::parse(&p.source_package_name) {
                    Ok(name) => name,
                    Err(e) => {
                        log::warn!("skipping publication {}: {e}", p.self_link);
                        continue;
                    }
                };
                batch.push(ListedPublication {
                    package,
                    distro: distro.clone(),
                    series: p.series_name().to_owned(),
                    pocket: p.pocket.as_str().to_owned(),
                    version: p.source_package_version.clone(),
                    settled: settled_before.is_some_and(|t| p.date_created.utc() < t),
                });
                if batch.len() >= RECONCILE_BATCH {
                    compare(store, &mut batch, &mut summary)?;
                }
            }
            compare(store, &mut batch, &mut summary)?;
        }
    }
    if let Some(series) = &settings.series
        && !series_found
    {
        return Err(ReconcileError::NoSuchSeries {
            series: series.clone(),
            distributions: settings.distributions.join(", "),
        });
    }
    Ok(summary)
}

/// Compares one batch with the audit, enqueues the packages of what it lacks, and empties
/// the batch.
fn compare(
    store: &mut Store,
    batch: &mut Vec<ListedPublication>,
    summary: &mut ReconcileSummary,
) -> Result<(), ReconcileError> {
    let found = store.reconcile_batch(batch, Priority::RESCAN)?;
    summary.missing += found.missing.len() as u64;
    summary.missed += found.missed.len() as u64;
    summary.enqueued += found.enqueued.added + found.enqueued.raised;
    for n in &found.missed {
        let p = &batch[*n];
        log::warn!(
            "missed by polling: package={} distribution={} series={} pocket={} version={}",
            p.package,
            p.distro,
            p.series,
            p.pocket,
            p.version
        );
    }
    batch.clear();
    Ok(())
}
