//! Developer automation. `cargo xtask bench` runs the benchmarks and prints one table of
//! measured figures against the goals and baselines the issues name.
//!
//! Every row is the median of several runs with the min–max spread. Benchmarks are programs,
//! not tests: nothing here asserts a timing.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a developer tool that reports on the terminal"
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use pkgimport_core::{PackageName, Priority};
use pkgimport_jobq::{Disposition, Outcome, RunEnd, Store};

const USAGE: &str = "usage: cargo xtask bench [--quick]\n\
    Runs the foundation benchmarks (queue throughput, driver dispatch, bulk enqueue) and\n\
    prints measured figures as ratios against their goals. --quick uses small sizes.";

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("bench") => bench(args.iter().any(|a| a == "--quick")),
        Some("queue-worker") => queue_worker(Path::new(&args[1])),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => {
            eprintln!("{USAGE}");
            return std::process::ExitCode::from(64);
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

struct Sizes {
    runs: usize,
    queue_jobs: usize,
    dispatch_jobs: usize,
    enqueue_names: usize,
}

fn bench(quick: bool) -> anyhow::Result<()> {
    let sizes = if quick {
        Sizes {
            runs: 1,
            queue_jobs: 800,
            dispatch_jobs: 100,
            enqueue_names: 3_000,
        }
    } else {
        Sizes {
            runs: 5,
            queue_jobs: 24_000,
            dispatch_jobs: 2_000,
            enqueue_names: 30_000,
        }
    };
    let bins = build_release()?;
    let mut rows = Vec::new();

    let q = measure(sizes.runs, || queue_throughput(sizes.queue_jobs))?;
    rows.push(Row::rate(
        "queue claim+complete, 8 processes, synchronous=FULL",
        "jobs/s",
        q,
        3000.0,
        "anchor",
    ));

    let d = measure(sizes.runs, || dispatch_rate(&bins, sizes.dispatch_jobs))?;
    rows.push(Row::rate(
        "driver dispatch, child exits at once, concurrency 8",
        "jobs/s",
        d,
        200.0,
        "goal",
    ));

    let e = measure(sizes.runs, || enqueue_time(&bins, sizes.enqueue_names))?;
    rows.push(Row::time(
        &format!("importctl enqueue - with {} names", sizes.enqueue_names),
        e,
        2.0,
        "goal",
    ));

    println!();
    println!(
        "{:<56} {:>12} {:>22} {:>12} {:>8}",
        "benchmark", "median", "min–max", "baseline", "ratio"
    );
    for r in rows {
        println!("{r}");
    }
    println!(
        "\nratio > 1 means better than the baseline; {} runs each{}.",
        sizes.runs,
        if quick { " (quick sizes)" } else { "" }
    );
    Ok(())
}

struct Row {
    name: String,
    unit: &'static str,
    samples: Vec<f64>,
    baseline: f64,
    baseline_name: &'static str,
    higher_is_better: bool,
}

impl Row {
    fn rate(
        name: &str,
        unit: &'static str,
        samples: Vec<f64>,
        baseline: f64,
        baseline_name: &'static str,
    ) -> Row {
        Row {
            name: name.into(),
            unit,
            samples,
            baseline,
            baseline_name,
            higher_is_better: true,
        }
    }
    fn time(name: &str, samples: Vec<f64>, baseline: f64, baseline_name: &'static str) -> Row {
        Row {
            name: name.into(),
            unit: "s",
            samples,
            baseline,
            baseline_name,
            higher_is_better: false,
        }
    }
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = self.samples.clone();
        s.sort_by(f64::total_cmp);
        let median = s[s.len() / 2];
        let ratio = if self.higher_is_better {
            median / self.baseline
        } else {
            self.baseline / median
        };
        write!(
            f,
            "{:<56} {:>8.2} {:<3} {:>10.2}–{:<10.2} {:>6} {:<5} {:>7.2}x",
            self.name,
            median,
            self.unit,
            s[0],
            s[s.len() - 1],
            self.baseline,
            self.baseline_name,
            ratio
        )
    }
}

fn measure(runs: usize, mut f: impl FnMut() -> anyhow::Result<f64>) -> anyhow::Result<Vec<f64>> {
    (0..runs).map(|_| f()).collect()
}

struct Bins {
    driver: PathBuf,
    importctl: PathBuf,
}

fn build_release() -> anyhow::Result<Bins> {
    eprintln!("building release binaries...");
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "package-importer",
            "--bin",
            "driver",
            "--bin",
            "importctl",
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build failed");
    }
    let dir = std::env::current_exe()?
        .parent()
        .context("exe dir")?
        .to_owned();
    Ok(Bins {
        driver: dir.join("driver"),
        importctl: dir.join("importctl"),
    })
}

/// Jobs per second that 8 processes claim and complete from one queue.
fn queue_throughput(jobs: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let names: Vec<PackageName> = (0..jobs)
        .map(|i| PackageName::parse(&format!("pkg{i}")).unwrap())
        .collect();
    Store::open(dir.path())?.enqueue(&names, Priority::UPLOAD)?;
    let exe = std::env::current_exe()?;
    let start = Instant::now();
    let workers: Vec<_> = (0..8)
        .map(|_| {
            Command::new(&exe)
                .arg("queue-worker")
                .arg(dir.path())
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    for mut w in workers {
        if !w.wait()?.success() {
            bail!("a queue worker failed");
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let st = Store::open(dir.path())?.status()?;
    if st.queued != 0 || st.running != 0 {
        bail!("queue not drained: {st:?}");
    }
    Ok(jobs as f64 / secs)
}

fn queue_worker(dir: &Path) -> anyhow::Result<()> {
    let mut store = Store::open(dir)?;
    let done = RunEnd {
        outcome: Outcome::Success,
        exit_code: Some(0),
        signal: None,
        disposition: Disposition::Done,
    };
    while let Some(c) = store.claim(std::process::id())? {
        store.finish_run(c.run_id, &done)?;
    }
    Ok(())
}

/// Jobs per second that the driver dispatches when every child exits at once.
fn dispatch_rate(bins: &Bins, jobs: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let names: Vec<PackageName> = (0..jobs)
        .map(|i| PackageName::parse(&format!("pkg{i}")).unwrap())
        .collect();
    Store::open(dir.path())?.enqueue(&names, Priority::UPLOAD)?;
    let start = Instant::now();
    let out = Command::new(&bins.driver)
        .args([
            "--exit-when-idle",
            "--concurrency",
            "8",
            "--import-command",
            "/bin/true",
            "--state-dir",
        ])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .env_remove("PKGIMPORT_CONFIG")
        .output()?;
    let secs = start.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("driver failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(jobs as f64 / secs)
}

/// Seconds for `importctl enqueue -` to queue `n` names from stdin.
fn enqueue_time(bins: &Bins, n: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let names: String = (0..n).map(|i| format!("pkg{i}\n")).collect();
    let start = Instant::now();
    let mut child = Command::new(&bins.importctl)
        .args(["enqueue", "--priority", "rescan", "-", "--state-dir"])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(names.as_bytes())?;
    if !child.wait()?.success() {
        bail!("importctl enqueue failed");
    }
    let secs = start.elapsed().as_secs_f64();
    let _ = Duration::from_secs_f64(secs);
    Ok(secs)
}
