//! The poll-uploads row: a backfill (`--initial all`) of a synthetic history served by
//! lp-sim, on a fresh state directory each run. Publications per second are counted on the
//! client side (publications / wall time of the poll process); lp-sim's start-up is not
//! timed.

use std::process::Command;

use anyhow::{Context, bail};

use crate::sim::{Sim, log_field};
use crate::{Bins, Row, measure};

/// Series of the synthetic history; packages are spread over them.
const SERIES: u32 = 10;

/// Two rows: publications per second (goal 20,000) and peak RSS (goal < 64 MiB).
pub(crate) fn poll_rows(bins: &Bins, runs: usize, publications: u32) -> anyhow::Result<Vec<Row>> {
    // One version per package (lp-sim's default), so N packages are N publications.
    let n = publications.to_string();
    let sim = Sim::start(
        &bins.lp_sim,
        &[
            "--synthetic",
            &n,
            "--series",
            &SERIES.to_string(),
            "--versions",
            "1",
        ],
    )?;
    let mut rates = Vec::new();
    let mut rss = Vec::new();
    let mut pages = Vec::new();
    for _ in 0..runs {
        let dir = tempfile::tempdir()?;
        let config = sim.write_config(dir.path())?;
        let mut cmd = Command::new(&bins.poll_uploads);
        cmd.args(["--initial", "all"])
            .env("PKGIMPORT_CONFIG", &config)
            .env_remove("PKGIMPORT_STATE_DIR")
            .env("RUST_LOG", "info");
        let run = measure::run(&cmd).context("poll-uploads")?;
        let seen: u32 = log_field(&run.stderr, "publications")
            .context("no publications= in the poll-uploads summary")?
            .parse()?;
        if seen != publications {
            bail!("poll-uploads saw {seen} publications, lp-sim serves {publications}");
        }
        let p: u64 = log_field(&run.stderr, "pages")
            .context("no pages= in the poll-uploads summary")?
            .parse()?;
        rates.push(f64::from(publications) / run.usage.wall);
        rss.push(run.usage.rss_mib());
        pages.push(p);
    }
    let name = format!("poll-uploads --initial all, {publications} publications");
    let note = format!(
        "{SERIES} series, pages={}",
        pages.iter().max().copied().unwrap_or(0)
    );
    Ok(vec![
        Row::rate(&name, "pub/s", rates, 20_000.0, "goal").with_note(note),
        Row::new("poll-uploads peak RSS", "MiB", rss, false).against(64.0, "goal"),
    ])
}
