//! The reconcile rows: `importctl reconcile` over lp-sim's synthetic archive (N packages in
//! two series, one Published publication each), against a committed audit that holds every
//! publication but one in [`MISSING_EVERY`]. Each run gets a fresh copy of one populated
//! state directory, so every run finds the same publications missing and enqueues them.
//! Launchpad requests are counted by lp-sim (`GET /_sim/stats`, reset before each run);
//! time and peak RSS are those of the importctl process.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use pkgimport_core::PackageName;
use pkgimport_queue::Store;
use pkgimport_queue::audit::{PublicationRow, StagedAudit, StagedRef};
use pkgimport_queue::poll::{NewWatermark, PartitionMemory};

use crate::sim::{Sim, log_field};
use crate::{Bins, Row, measure};

/// Series of the synthetic archive: package `j` lives in the `j % 2`-th, newest first.
const SERIES: [&str; 2] = ["sid", "trixie"];

/// One package in this many has no publication in the audit: a few hundred of 40,000.
const MISSING_EVERY: u32 = 100;

/// Later than every synthetic publication (they start on 2024-01-01, one a minute): each
/// one is settled, so every missing publication counts as missed by polling.
const WATERMARK: &str = "2030-01-01T00:00:00+00:00";

/// Two rows: the time of one reconcile (with lp-sim's request count and what it found in
/// the note), and its peak RSS.
pub(crate) fn reconcile_rows(bins: &Bins, runs: usize, packages: u32) -> anyhow::Result<Vec<Row>> {
    let n = packages.to_string();
    let sim = Sim::start(
        &bins.lp_sim,
        &["--synthetic", &n, "--series", &SERIES.len().to_string()],
    )?;
    let template = populate_dir()?;
    let expected = populate(&template.path().join("state"), packages)?;
    let mut times = Vec::new();
    let mut rss = Vec::new();
    let mut requests = Vec::new();
    let mut pages = 0;
    for _ in 0..runs {
        let dir = tempfile::tempdir()?;
        copy_dir(&template.path().join("state"), &dir.path().join("state"))?;
        let config = sim.write_config(dir.path())?;
        sim.control("/_sim/stats/reset", "")?;
        let mut cmd = Command::new(&bins.importctl);
        cmd.arg("reconcile")
            .env("PKGIMPORT_CONFIG", &config)
            .env_remove("PKGIMPORT_STATE_DIR")
            .env("RUST_LOG", "info");
        let run = measure::run(&cmd).context("importctl reconcile")?;
        let field = |key: &str| -> anyhow::Result<u64> {
            Ok(log_field(&run.stderr, key)
                .with_context(|| format!("no {key}= in the reconcile summary"))?
                .parse()?)
        };
        let (listed, missing, missed) =
            (field("publications")?, field("missing")?, field("missed")?);
        if listed != u64::from(packages) || missing != expected || missed != expected {
            bail!(
                "reconcile listed {listed} publications, {missing} missing and {missed} missed; \
                 expected {packages}, {expected} and {expected}"
            );
        }
        pages = field("pages")?;
        requests.push(sim.requests()? as f64);
        times.push(run.usage.wall);
        rss.push(run.usage.rss_mib());
    }
    let name = format!(
        "importctl reconcile, {packages} packages in {} series",
        SERIES.len()
    );
    let note = format!(
        "{expected} missing; pages={pages}, Launchpad requests={}",
        requests.iter().copied().fold(0.0, f64::max)
    );
    Ok(vec![
        Row::new(&name, "s", times, false).with_note(note),
        Row::new("importctl reconcile peak RSS", "MiB", rss, false),
    ])
}

/// Where the populated state directory is written: on tmpfs where there is one. Its
/// population is setup, not what is measured, and is one small transaction after another:
/// there, none of them waits for a disk flush. Each run copies it to an ordinary
/// temporary directory.
fn populate_dir() -> anyhow::Result<tempfile::TempDir> {
    let shm = Path::new("/dev/shm");
    Ok(if shm.is_dir() {
        tempfile::tempdir_in(shm)?
    } else {
        tempfile::tempdir()?
    })
}

/// Fills `state`: both partitions polled from the beginning up to [`WATERMARK`], and the
/// committed audit of every synthetic package but one in [`MISSING_EVERY`], through the
/// three-phase commit as import-one does it. Returns how many publications it left out.
fn populate(state: &Path, packages: u32) -> anyhow::Result<u64> {
    let mut store = Store::open(state)?;
    let marks: Vec<NewWatermark> = SERIES
        .iter()
        .map(|s| NewWatermark {
            distro: "debian".into(),
            series: (*s).into(),
            date_created: WATERMARK.into(),
            polled_from: None,
        })
        .collect();
    store.finish_poll(&marks, &[] as &[PartitionMemory])?;
    let width = packages.saturating_sub(1).to_string().len().max(6);
    let mut missing = 0;
    for j in 0..packages {
        if j % MISSING_EVERY == MISSING_EVERY / 2 {
            missing += 1;
            continue;
        }
        let name = PackageName::parse(&format!("synth-{j:0width$}"))?;
        let series = SERIES[(j % SERIES.len() as u32) as usize];
        let oid = format!("{:040x}", u64::from(j) + 1);
        let staged = StagedAudit {
            refs: vec![StagedRef {
                name: format!("refs/heads/debian/{series}"),
                old: None,
                new: oid.clone(),
            }],
            versions: BTreeMap::from([("1.0".to_owned(), oid)]),
            publications: vec![PublicationRow {
                distro: "debian".into(),
                series: series.into(),
                pocket: "Release".into(),
                version: "1.0".into(),
                date_created: "2024-01-01T00:00:00+00:00".into(),
            }],
            ..StagedAudit::default()
        };
        store.audit_stage(&name, &staged)?;
        store.audit_mark(&name, None)?;
        store.audit_commit(&name)?;
        store.audit_unmark(&name)?;
    }
    Ok(missing)
}

/// Copies a state directory (the database with its write-ahead log, and the lock
/// directory), which nothing has open.
fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}
