//! Developer automation. `cargo xtask bench` runs the benchmarks and prints one table of
//! measured figures against the goals and baselines the issues name.
//!
//! Every row is the median of several runs with the min–max spread. Benchmarks are programs,
//! not tests: nothing here asserts a timing. The foundation rows (queue, dispatch, enqueue)
//! live here; `poll` and `import` hold the rows that run the real binaries against lp-sim,
//! `measure` times a child process and `sim` drives lp-sim.

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
use pkgimport_queue::{Disposition, Outcome, RunEnd, Store};

mod import;
mod latency;
mod measure;
mod poll;
mod reconcile;
mod sim;
mod sweep;
mod web_load;

const USAGE: &str = "usage: cargo xtask bench [--quick] [--only GROUP,...]\n\
    \x20      cargo xtask sweep [--sizes 1000,10000,30000] [--versions V] [--quick]\n\
    \x20      cargo xtask latency [--quick] [--poll-interval SECS] [--publications N] [--span SECS] [--seed N]\n\
    \x20      cargo xtask web-load [--quick] [--clients N] [--seconds S] [--max-in-flight N] [--jobs N] [--think-ms MS] [--bindir DIR]\n\
    bench runs the benchmarks (queue throughput, driver dispatch, bulk enqueue, poll-uploads\n\
    over a synthetic history, importctl reconcile over 40,000 synthetic packages in two\n\
    series against an audit that lacks a few hundred, import-one on real source packages\n\
    against the decompression floor and gbp import-dsc, no-op and ref-only imports) and\n\
    prints measured figures as ratios against their goals. --quick uses small sizes and one\n\
    run; --only runs some of the groups queue, dispatch, enqueue, poll, reconcile, fixtures,\n\
    coreutils, noop, refonly.\n\
    sweep imports N synthetic packages from empty with poll-uploads and the driver, then\n\
    again when a new series opens (ref-only imports), and prints wall time, cost per\n\
    package, the driver's peak RSS and the database size per N. --quick: N = 50 and 200.\n\
    latency publishes versions at seeded random moments while a driver runs and\n\
    poll-uploads runs every 60 s, and prints the time until each tag is on the remote\n\
    against the 90 s goal. --quick: polls every 3 s, 3 publications.\n\
    web-load measures the driver's jobs/s alone, then while N clients (default 200) read\n\
    importer-web's pages for S seconds (default 30), with /healthz probed every 10 ms, and\n\
    prints requests/s, p99, requests shed, /healthz p99, and the delay from a run's end to\n\
    its page. --quick: 20 clients for 3 s.";

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("bench") => bench_args(&args[1..]),
        Some("sweep") => sweep::sweep(&args[1..]),
        Some("latency") => latency::latency(&args[1..]),
        Some("web-load") => web_load::web_load(&args[1..]),
        Some("queue-worker") => queue_worker(Path::new(&args[1])),
        Some("rusage-of") => measure::rusage_of(args.get(2..).unwrap_or_default()),
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
    poll_publications: u32,
    reconcile_packages: u32,
    noop_runs: usize,
    ref_only_runs: usize,
}

/// The row groups of `bench`, for `--only`.
const GROUPS: &[&str] = &[
    "queue",
    "dispatch",
    "enqueue",
    "poll",
    "reconcile",
    "fixtures",
    "coreutils",
    "noop",
    "refonly",
];

fn bench_args(args: &[String]) -> anyhow::Result<()> {
    let mut quick = false;
    let mut only: Option<Vec<String>> = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--only" => {
                let list = args.next().context(USAGE)?;
                let groups: Vec<String> = list.split(',').map(str::to_owned).collect();
                if let Some(g) = groups.iter().find(|g| !GROUPS.contains(&g.as_str())) {
                    bail!("unknown group {g:?}; the groups are {}", GROUPS.join(", "));
                }
                only = Some(groups);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    bench(quick, |group| {
        only.as_ref()
            .is_none_or(|only| only.iter().any(|g| g == group))
    })
}

fn bench(quick: bool, want: impl Fn(&str) -> bool) -> anyhow::Result<()> {
    let sizes = if quick {
        Sizes {
            runs: 1,
            queue_jobs: 800,
            dispatch_jobs: 100,
            enqueue_names: 3_000,
            poll_publications: 5_000,
            reconcile_packages: 2_000,
            noop_runs: 5,
            ref_only_runs: 3,
        }
    } else {
        Sizes {
            runs: 5,
            queue_jobs: 24_000,
            dispatch_jobs: 2_000,
            enqueue_names: 30_000,
            poll_publications: 100_000,
            reconcile_packages: 40_000,
            noop_runs: 20,
            ref_only_runs: 10,
        }
    };
    let bins = build_release()?;
    let mut rows = Vec::new();

    if want("queue") {
        let q = measure(sizes.runs, || queue_throughput(sizes.queue_jobs))?;
        rows.push(Row::rate(
            "queue claim+complete, 8 processes, synchronous=FULL",
            "jobs/s",
            q,
            3000.0,
            "anchor",
        ));
    }
    if want("dispatch") {
        let d = measure(sizes.runs, || dispatch_rate(&bins, sizes.dispatch_jobs))?;
        rows.push(Row::rate(
            "driver dispatch, child exits at once, concurrency 8",
            "jobs/s",
            d,
            200.0,
            "goal",
        ));
    }
    if want("enqueue") {
        let e = measure(sizes.runs, || enqueue_time(&bins, sizes.enqueue_names))?;
        rows.push(Row::time(
            &format!("importctl enqueue - with {} names", sizes.enqueue_names),
            e,
            2.0,
            "goal",
        ));
    }
    if want("poll") {
        rows.extend(poll::poll_rows(&bins, sizes.runs, sizes.poll_publications)?);
    }
    if want("reconcile") {
        rows.extend(reconcile::reconcile_rows(
            &bins,
            sizes.runs,
            sizes.reconcile_packages,
        )?);
    }
    if want("fixtures") {
        rows.extend(import::fixture_rows(&bins, sizes.runs)?);
    }
    if want("coreutils") {
        rows.extend(import::coreutils_rows(&bins, sizes.runs)?);
    }
    if want("noop") {
        rows.extend(import::noop_rows(&bins, sizes.noop_runs)?);
    }
    if want("refonly") {
        rows.extend(import::ref_only_rows(&bins, sizes.ref_only_runs)?);
    }

    println!();
    println!(
        "{:<56} {:>17} {:>21} {:>12} {:>8}  notes",
        "benchmark", "median", "min–max", "baseline", "ratio"
    );
    for r in rows {
        println!("{r}");
    }
    println!(
        "\nratio > 1 means better than the baseline; {} runs each unless a note says otherwise{}.",
        sizes.runs,
        if quick { " (quick sizes)" } else { "" }
    );
    Ok(())
}

/// One line of the table: the samples of one figure, and the baseline it is judged against.
struct Row {
    name: String,
    unit: &'static str,
    samples: Vec<f64>,
    /// The value to beat and what it is (`goal`, `anchor`); `None` for a plain measurement.
    baseline: Option<(f64, &'static str)>,
    higher_is_better: bool,
    note: String,
}

impl Row {
    fn rate(
        name: &str,
        unit: &'static str,
        samples: Vec<f64>,
        baseline: f64,
        baseline_name: &'static str,
    ) -> Row {
        Row::new(name, unit, samples, true).against(baseline, baseline_name)
    }

    fn time(name: &str, samples: Vec<f64>, baseline: f64, baseline_name: &'static str) -> Row {
        Row::new(name, "s", samples, false).against(baseline, baseline_name)
    }

    /// A row without a baseline yet.
    fn new(name: &str, unit: &'static str, samples: Vec<f64>, higher_is_better: bool) -> Row {
        Row {
            name: name.into(),
            unit,
            samples,
            baseline: None,
            higher_is_better,
            note: String::new(),
        }
    }

    /// A row that could not be measured here, and why.
    fn skipped(name: &str, why: String) -> Row {
        Row::new(name, "", Vec::new(), true).with_note(why)
    }

    fn against(mut self, baseline: f64, baseline_name: &'static str) -> Row {
        self.baseline = Some((baseline, baseline_name));
        self
    }

    fn with_note(mut self, note: String) -> Row {
        self.note = note;
        self
    }
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.samples.is_empty() {
            return write!(f, "{:<56} skipped: {}", self.name, self.note);
        }
        let mut s = self.samples.clone();
        s.sort_by(f64::total_cmp);
        let median = median(&s);
        write!(
            f,
            "{:<56} {:>10.2} {:<6} {:>10.2}–{:<10.2}",
            self.name,
            median,
            self.unit,
            s[0],
            s[s.len() - 1],
        )?;
        match self.baseline {
            Some((baseline, name)) => {
                let ratio = if self.higher_is_better {
                    median / baseline
                } else {
                    baseline / median
                };
                write!(f, " {baseline:>6} {name:<5} {ratio:>7.2}x")?;
            }
            None => write!(f, " {:>6} {:<5} {:>8}", "-", "", "-")?,
        }
        if !self.note.is_empty() {
            write!(f, "  {}", self.note)?;
        }
        Ok(())
    }
}

/// The median of `samples` (the upper one of an even count), which must not be empty.
fn median(samples: &[f64]) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

fn measure(runs: usize, mut f: impl FnMut() -> anyhow::Result<f64>) -> anyhow::Result<Vec<f64>> {
    (0..runs).map(|_| f()).collect()
}

/// The release binaries the benchmarks run.
struct Bins {
    driver: PathBuf,
    importctl: PathBuf,
    lp_sim: PathBuf,
    poll_uploads: PathBuf,
    import_one: PathBuf,
    /// The target directory they were built in; `bench-inputs/` below it caches downloads.
    target_dir: PathBuf,
}

/// Builds `bins` of the package-importer package in release mode; the directory they are in
/// (the one this xtask runs from).
pub(crate) fn cargo_build_release(bins: &[&str]) -> anyhow::Result<PathBuf> {
    eprintln!("building release binaries...");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--quiet", "--release", "-p", "package-importer"]);
    for bin in bins {
        cmd.args(["--bin", bin]);
    }
    let status = cmd.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build failed");
    }
    Ok(std::env::current_exe()?
        .parent()
        .context("exe dir")?
        .to_owned())
}

fn build_release() -> anyhow::Result<Bins> {
    let dir = cargo_build_release(&[
        "driver",
        "importctl",
        "lp-sim",
        "poll-uploads",
        "import-one",
    ])?;
    Ok(Bins {
        driver: dir.join("driver"),
        importctl: dir.join("importctl"),
        lp_sim: dir.join("lp-sim"),
        poll_uploads: dir.join("poll-uploads"),
        import_one: dir.join("import-one"),
        target_dir: dir.parent().context("target dir")?.to_owned(),
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
    // As the driver does it: the claim that refills a slot shares the transaction that
    // closes the run before it.
    let pid = std::process::id();
    let mut next = store.claim(pid)?;
    while let Some(c) = next {
        next = store.finish_run_and_claim(c.run_id, &done, pid)?;
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
