//! `importctl reconcile`: lists what Launchpad publishes in each partition the poller polls,
//! compares it with the committed audit, and enqueues at priority `rescan` every package
//! with a publication that the audit lacks (`pkgimport_importer::reconcile`). Exit 69 when
//! Launchpad stays unavailable. Run daily by `package-importer-reconcile.timer`.

use std::io::Write;

use pkgimport_importer::reconcile::{self, ReconcileError};

use super::util::print_json;
use crate::config::{Config, settings};
use crate::{Exit, Failure};

pub(super) fn run(
    config: &Config,
    distribution: Option<&str>,
    series: Option<&str>,
    json: bool,
    out: &mut dyn Write,
) -> Result<Exit, Failure> {
    let settings = settings::reconcile(config, distribution, series)?;
    let client = settings::launchpad_client(config)?;
    let mut store = crate::open_store(config)?;
    let configured = settings::polled_distributions(config);
    let started = std::time::Instant::now();
    let summary = reconcile::reconcile_and_record(&client, &mut store, &settings, &configured)
        .map_err(|e| {
            let exit = match &e {
                e if e.is_unavailable() => Exit::Unavailable,
                ReconcileError::NoSuchSeries { .. } => Exit::Usage,
                _ => Exit::Failure,
            };
            Failure::new(exit, e.into())
        })?;
    log::info!(
        "reconcile: partitions={} obsolete_skipped={} unpolled={} pages={} publications={} missing={} missed={} enqueued={} seconds={:.1}",
        summary.partitions,
        summary.obsolete,
        summary.unpolled,
        client.stats().pages,
        summary.publications,
        summary.missing,
        summary.missed,
        summary.enqueued,
        started.elapsed().as_secs_f64()
    );
    if json {
        print_json(out, &summary)?;
    } else {
        writeln!(
            out,
            "reconciled {} partitions: {} publications on Launchpad, {} not in the audit, {} of them missed by polling; {} packages queued at priority rescan",
            summary.partitions,
            summary.publications,
            summary.missing,
            summary.missed,
            summary.enqueued
        )?;
    }
    Ok(Exit::Ok)
}
