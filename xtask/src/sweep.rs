//! The scale sweep (`cargo xtask sweep`): the whole import path over synthetic histories of
//! N packages, measured twice per N, from an empty state directory and when a new series
//! opens, so that a cost per package that grows with N, or memory that grows with N, shows.
//!
//! For each N, lp-sim serves `--synthetic N --series 2 --versions V` on a fresh state
//! directory. *From empty*: `poll-uploads --initial all`, then `driver --exit-when-idle`
//! (concurrency 4, the default) running the real `import-one` until nothing is left.
//! *New series*: lp-sim's `POST /_sim/open-series` copies every package's newest version
//! into a series that did not exist (`forky`, fresh `date_created`), then a plain
//! `poll-uploads` (a partition that appears after the first poll starts from the
//! beginning) and the driver again. Every one of those imports must be ref-only: the new
//! branch moves to an existing commit, with no download and no new commit.
//!
//! Figures per step: wall time of the poll and of the driver; the CPU of the driver and of
//! every process it waited for (the imports and their `git`s: `getrusage(RUSAGE_CHILDREN)`
//! around the driver, which is this process's child); lp-sim's CPU (from `/proc`, to show
//! the simulator's share of the machine); the driver's own peak RSS (`VmHWM` of the driver
//! process alone, read every 20 ms: a high-water mark, so only growth in the last 20 ms
//! before it exits could be missed); the state database's size (`state.db` +
//! `state.db-wal`) after the step; the runs and the failures.
//!
//! Correctness is checked, timing never: every run succeeded and no failure is recorded;
//! every package has V versions in the committed audit, one tag per version, and its
//! branches; the remote of a sample of packages equals the audit; for the new series,
//! every run's summary line says `versions_imported=0 refs_updated=1`, the versions
//! (commit ids) in the audit are the same as before, and the new branch points at the
//! commit of the package's existing branch.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use nix::sys::resource::{UsageWho, getrusage};
use pkgimport_core::PackageName;
use pkgimport_queue::{Outcome, RunRecord, Store};

use crate::sim::{Sim, log_field};
use crate::{Bins, measure};

/// Series of the synthetic history (`sid` and `trixie`); packages alternate between them.
const SERIES: u16 = 2;
/// The driver's concurrency (the configuration's default).
pub(crate) const CONCURRENCY: u32 = 4;
/// The series that opens in the second step.
const NEW_SERIES: &str = "forky";
/// At most this many packages (evenly spread) have their remote compared with the audit:
/// one `git` process each, which would dominate the check at large N.
const REMOTE_SAMPLE: usize = 100;
/// Enough for every run of the largest sweep.
const ALL_RUNS: u64 = 10_000_000;

const USAGE: &str =
    "usage: cargo xtask sweep [--sizes N,N,...] [--versions V] [--concurrency C] [--quick]";

/// What to sweep.
struct Options {
    sizes: Vec<u32>,
    versions: u32,
    concurrency: u32,
}

impl Options {
    fn parse(args: &[String]) -> anyhow::Result<Options> {
        let mut options = Options {
            sizes: vec![1_000, 10_000, 30_000],
            versions: 1,
            concurrency: CONCURRENCY,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => options.sizes = vec![50, 200],
                "--sizes" => {
                    let list = args.next().context(USAGE)?;
                    options.sizes = list
                        .split(',')
                        .map(|n| n.trim().parse().with_context(|| format!("size {n:?}")))
                        .collect::<anyhow::Result<_>>()?;
                }
                "--versions" => {
                    options.versions = args.next().context(USAGE)?.parse().context(USAGE)?;
                }
                "--concurrency" => {
                    options.concurrency = args.next().context(USAGE)?.parse().context(USAGE)?;
                }
                other => bail!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        ensure!(
            options.sizes.iter().all(|n| *n > 0) && options.versions > 0 && options.concurrency > 0,
            "sizes, versions and concurrency must be positive"
        );
        Ok(options)
    }
}

/// `cargo xtask sweep`: measures every size and prints one table.
pub(crate) fn sweep(args: &[String]) -> anyhow::Result<()> {
    let options = Options::parse(args)?;
    let bins = crate::build_release()?;
    let mut results = Vec::new();
    for &n in &options.sizes {
        let started = Instant::now();
        let result = measure_size(&bins, n, options.versions, options.concurrency)
            .with_context(|| format!("sweep at N={n}"))?;
        eprintln!(
            "sweep: N={n} done in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        results.push(result);
    }
    print_table(&results, options.versions, options.concurrency);
    Ok(())
}

/// The figures of one size.
struct SizeResult {
    packages: u32,
    from_empty: Step,
    new_series: Step,
}

/// The figures of one step (poll, then drive).
struct Step {
    poll_wall: f64,
    driver_wall: f64,
    /// CPU seconds of the driver and every process it waited for.
    cpu: f64,
    /// CPU seconds lp-sim spent during the step.
    lp_sim_cpu: f64,
    driver_hwm_kib: u64,
    db_bytes: u64,
    runs: usize,
}

impl Step {
    fn wall(&self) -> f64 {
        self.poll_wall + self.driver_wall
    }
}

fn measure_size(
    bins: &Bins,
    packages: u32,
    versions: u32,
    concurrency: u32,
) -> anyhow::Result<SizeResult> {
    let mut setup = Setup::new(bins, packages, versions)?;
    setup.concurrency = concurrency;

    eprintln!("sweep: N={packages}: importing everything from empty...");
    let from_empty = setup.step(bins, true, packages * versions)?;
    let before = check_from_empty(&setup.state, packages, versions)?;

    eprintln!("sweep: N={packages}: opening series {NEW_SERIES}...");
    let answer = setup.sim.control(
        "/_sim/open-series",
        &format!(r#"{{"series":"{NEW_SERIES}"}}"#),
    )?;
    let copied = serde_json::from_str::<serde_json::Value>(&answer)?["copied"].as_u64();
    ensure!(
        copied == Some(u64::from(packages)),
        "open-series copied {copied:?} publications, expected {packages}"
    );
    let new_series = setup.step(bins, false, packages)?;
    check_new_series(&setup.state, &before)?;
    Ok(SizeResult {
        packages,
        from_empty,
        new_series,
    })
}

/// One lp-sim serving a synthetic history, and a state directory with its config file.
pub(crate) struct Setup {
    pub(crate) sim: Sim,
    /// Holds the state directory, the config file and the driver's logs.
    pub(crate) dir: tempfile::TempDir,
    pub(crate) config: PathBuf,
    pub(crate) state: PathBuf,
    /// The driver's `--concurrency`.
    pub(crate) concurrency: u32,
}

impl Setup {
    /// Starts lp-sim with `packages` synthetic packages of `versions` versions over two
    /// series, and writes a config for a fresh state directory.
    pub(crate) fn new(bins: &Bins, packages: u32, versions: u32) -> anyhow::Result<Setup> {
        let sim = Sim::start(
            &bins.lp_sim,
            &[
                "--synthetic",
                &packages.to_string(),
                "--series",
                &SERIES.to_string(),
                "--versions",
                &versions.to_string(),
            ],
        )?;
        let dir = tempfile::tempdir()?;
        let config = sim.write_config(dir.path())?;
        let state = dir.path().join("state");
        Ok(Setup {
            sim,
            dir,
            config,
            state,
            concurrency: CONCURRENCY,
        })
    }

    /// A command for one of the binaries, on this setup's config, logging at info.
    pub(crate) fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("PKGIMPORT_CONFIG", &self.config)
            .env_remove("PKGIMPORT_STATE_DIR")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        cmd
    }

    /// `driver --concurrency C` on this setup, its stderr appended to `driver.log`.
    pub(crate) fn driver_command(&self, bins: &Bins) -> anyhow::Result<Command> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.driver_log())?;
        let mut cmd = self.command(&bins.driver);
        cmd.args(["--concurrency", &self.concurrency.to_string()])
            .stderr(log);
        Ok(cmd)
    }

    pub(crate) fn driver_log(&self) -> PathBuf {
        self.dir.path().join("driver.log")
    }

    /// Runs `poll-uploads` (with `--initial all` when `initial`) and expects it to see at
    /// least `publications` (more when the skew makes it see the newest ones of a partition
    /// again). Returns its wall time.
    pub(crate) fn poll(
        &self,
        bins: &Bins,
        initial: bool,
        publications: u32,
    ) -> anyhow::Result<f64> {
        let mut cmd = self.command(&bins.poll_uploads);
        if initial {
            cmd.args(["--initial", "all"]);
        }
        let run = measure::run(&cmd).context("poll-uploads")?;
        let seen: Option<u32> = log_field(&run.stderr, "publications").and_then(|n| n.parse().ok());
        ensure!(
            seen.is_some_and(|n| n >= publications),
            "poll-uploads saw publications={seen:?}, expected at least {publications}; \
             stderr:\n{}",
            run.stderr
        );
        Ok(run.usage.wall)
    }

    /// Runs `driver --exit-when-idle` to the end, sampling its peak RSS.
    pub(crate) fn drive(&self, bins: &Bins) -> anyhow::Result<Drive> {
        let cpu_before = children_cpu()?;
        let started = Instant::now();
        let mut child = self
            .driver_command(bins)?
            .arg("--exit-when-idle")
            .spawn()
            .context("starting the driver")?;
        let mut hwm_kib = 0;
        let status: ExitStatus = loop {
            if let Some(kib) = vm_hwm_kib(child.id()) {
                hwm_kib = hwm_kib.max(kib);
            }
            if let Some(status) = child.try_wait()? {
                break status;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let wall = started.elapsed().as_secs_f64();
        if !status.success() {
            bail!(
                "driver --exit-when-idle ended with {status}; its log ends:\n{}",
                tail(&self.driver_log(), 20)
            );
        }
        Ok(Drive {
            wall,
            cpu: children_cpu()? - cpu_before,
            hwm_kib,
        })
    }

    /// Poll, then drive, measuring both; then checks the step's runs (see [`check_runs`]).
    /// The first step (`initial`) polls with `--initial all`; the others must be ref-only
    /// imports. `publications` is what the poll must see at least.
    fn step(&self, bins: &Bins, initial: bool, publications: u32) -> anyhow::Result<Step> {
        let last_run = last_run_id(&self.state)?;
        let sim_cpu_before = proc_cpu_seconds(self.sim.pid())?;
        let poll_wall = self.poll(bins, initial, publications)?;
        let drive = self.drive(bins)?;
        let lp_sim_cpu = proc_cpu_seconds(self.sim.pid())? - sim_cpu_before;
        let db_bytes = db_bytes(&self.state);
        let runs = check_runs(&self.state, last_run, !initial)?;
        Ok(Step {
            poll_wall,
            driver_wall: drive.wall,
            cpu: drive.cpu,
            lp_sim_cpu,
            driver_hwm_kib: drive.hwm_kib,
            db_bytes,
            runs,
        })
    }
}

/// What one `driver --exit-when-idle` cost.
pub(crate) struct Drive {
    pub(crate) wall: f64,
    /// CPU seconds of the driver and everything it waited for.
    pub(crate) cpu: f64,
    /// The driver's own peak RSS, KiB.
    pub(crate) hwm_kib: u64,
}

/// The id of the newest run, 0 when there is none.
fn last_run_id(state: &Path) -> anyhow::Result<i64> {
    Ok(Store::open(state)?
        .runs(None, 1)?
        .first()
        .map_or(0, |r| r.id))
}

/// Checks the runs after run `since`: all successful, no failure recorded, nothing queued
/// or running, and (when `ref_only`) every one a ref-only import by its summary line.
/// Returns how many runs there were.
fn check_runs(state: &Path, since: i64, ref_only: bool) -> anyhow::Result<usize> {
    let mut store = Store::open(state)?;
    let failures = store.failures()?;
    if let Some(first) = failures.first() {
        bail!(
            "{} failures recorded; the first: package {} signature {:?}, tail:\n{}",
            failures.len(),
            first.package,
            first.signature,
            first.tail
        );
    }
    let runs: Vec<RunRecord> = store
        .runs(None, ALL_RUNS)?
        .into_iter()
        .filter(|r| r.id > since)
        .collect();
    let bad: Vec<&RunRecord> = runs
        .iter()
        .filter(|r| r.outcome != Some(Outcome::Success))
        .collect();
    if let Some(first) = bad.first() {
        bail!(
            "{} of {} runs did not succeed; the first: package {} outcome {:?} signature {:?}, \
             log ends:\n{}",
            bad.len(),
            runs.len(),
            first.package,
            first.outcome,
            first.signature,
            tail(&state.join(&first.log_path), 15)
        );
    }
    let status = store.status()?;
    ensure!(
        status.queued == 0 && status.running == 0 && status.failed == 0,
        "the driver left work behind: {status:?}"
    );
    if ref_only {
        for r in &runs {
            let path = state.join(&r.log_path);
            let log = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let fields = (
                log_field(&log, "versions_imported"),
                log_field(&log, "refs_updated"),
            );
            ensure!(
                fields == (Some("0"), Some("1")),
                "package {} was not a ref-only import (versions_imported, refs_updated = \
                 {fields:?}); its log:\n{log}",
                r.package
            );
        }
    }
    Ok(runs.len())
}

/// Package → (versions, refs) of the committed audit.
type Audits = BTreeMap<String, (BTreeMap<String, String>, BTreeMap<String, String>)>;

/// Every package's committed audit, checked to be idle.
fn audits(state: &Path) -> anyhow::Result<Audits> {
    let mut store = Store::open(state)?;
    let mut all = BTreeMap::new();
    for package in store.audited_packages()? {
        let name = PackageName::parse(&package).map_err(|e| anyhow::anyhow!("{package}: {e}"))?;
        let audit = store.audit(&name)?;
        ensure!(
            audit.staged.refs.is_empty() && audit.staged.publications.is_empty(),
            "package {package} has staged audit rows left ({})",
            audit.phase
        );
        all.insert(package, (audit.versions, audit.refs));
    }
    Ok(all)
}

/// Refs of `refs` under `prefix`.
fn refs_under<'a>(refs: &'a BTreeMap<String, String>, prefix: &str) -> Vec<(&'a str, &'a str)> {
    refs.iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .map(|(name, oid)| (name.as_str(), oid.as_str()))
        .collect()
}

/// After the first step: every package imported with all its versions, one tag per version
/// and one branch; a sample of remotes equal to the audit. Returns the audits.
fn check_from_empty(state: &Path, packages: u32, versions: u32) -> anyhow::Result<Audits> {
    let all = audits(state)?;
    ensure!(
        all.len() == packages as usize,
        "{} packages imported, expected {packages}",
        all.len()
    );
    for (package, (imported, refs)) in &all {
        let tags = refs_under(refs, "refs/tags/import/");
        let branches = refs_under(refs, "refs/heads/importer/");
        ensure!(
            imported.len() == versions as usize
                && tags.len() == imported.len()
                && branches.len() == 1,
            "package {package}: {} versions, {} tags, {} branches (expected {versions}, \
             {versions}, 1)",
            imported.len(),
            tags.len(),
            branches.len()
        );
    }
    check_remotes(state, &all)?;
    Ok(all)
}

/// After the new series: the same version commits as `before`, one more branch
/// (`importer/debian/forky`) on the commit of the existing one, the same tags; a sample of
/// remotes equal to the audit.
fn check_new_series(state: &Path, before: &Audits) -> anyhow::Result<()> {
    let after = audits(state)?;
    ensure!(
        after.len() == before.len(),
        "{} packages in the audit, {} before",
        after.len(),
        before.len()
    );
    let new_branch = format!("refs/heads/importer/debian/{NEW_SERIES}");
    for (package, (versions, refs)) in &after {
        let Some((old_versions, old_refs)) = before.get(package) else {
            bail!("package {package} appeared in the audit");
        };
        ensure!(
            versions == old_versions,
            "package {package} got new version commits: {old_versions:?} -> {versions:?}"
        );
        ensure!(
            refs_under(refs, "refs/tags/") == refs_under(old_refs, "refs/tags/"),
            "package {package}: tags changed"
        );
        let old_branches = refs_under(old_refs, "refs/heads/");
        let Some(new) = refs.get(&new_branch) else {
            bail!("package {package} has no {new_branch}");
        };
        ensure!(
            old_branches.len() == 1 && old_branches[0].1 == new && refs.len() == old_refs.len() + 1,
            "package {package}: {new_branch} is {new}, the old branches {old_branches:?}"
        );
    }
    check_remotes(state, &after)
}

/// Compares the remote's refs of up to [`REMOTE_SAMPLE`] packages, evenly spread, with
/// their committed audit.
fn check_remotes(state: &Path, audits: &Audits) -> anyhow::Result<()> {
    let step = audits.len().div_ceil(REMOTE_SAMPLE).max(1);
    for (package, (_, refs)) in audits.iter().step_by(step) {
        let remote = remote_refs(&state.join("remote").join(format!("{package}.git")))?;
        ensure!(
            &remote == refs,
            "package {package}: the remote differs from the audit:\nremote {remote:?}\naudit  {refs:?}"
        );
    }
    Ok(())
}

/// Every ref of a bare repository: name → commit.
pub(crate) fn remote_refs(git_dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["for-each-ref", "--format=%(refname) %(objectname)"])
        .output()
        .context("running git for-each-ref")?;
    ensure!(
        out.status.success(),
        "git for-each-ref in {}: {}",
        git_dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)?
        .lines()
        .map(|line| {
            let (name, oid) = line.split_once(' ').context("bad for-each-ref line")?;
            Ok((name.to_owned(), oid.to_owned()))
        })
        .collect()
}

/// `VmHWM` (peak resident set size) of process `pid` in KiB, or `None` once it is gone.
pub(crate) fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User plus system CPU seconds of process `pid` so far, from `/proc/<pid>/stat` (in clock
/// ticks of `USER_HZ`, which is 100 on Linux).
fn proc_cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // Fields after the command name in parentheses, starting with field 3 (state).
    let rest = stat.rsplit_once(')').context("bad /proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields.get(i).context("short /proc stat")?.parse::<u64>()? as f64)
    };
    // utime and stime are fields 14 and 15.
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// User plus system CPU seconds of every child this process has waited for.
fn children_cpu() -> anyhow::Result<f64> {
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN)?;
    let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    Ok(seconds(usage.user_time()) + seconds(usage.system_time()))
}

/// Bytes of `state.db` and its write-ahead log.
fn db_bytes(state: &Path) -> u64 {
    ["state.db", "state.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(state.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

/// The last `lines` lines of a file, for error messages.
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn print_table(results: &[SizeResult], versions: u32, concurrency: u32) {
    println!();
    println!(
        "scale sweep: lp-sim --synthetic N --series {SERIES} --versions {versions}; \
         poll-uploads, then driver --exit-when-idle --concurrency {concurrency}"
    );
    println!(
        "{:>7}  {:<10} {:>7} {:>9} {:>9} {:>8} {:>10} {:>11} {:>10} {:>8} {:>10} {:>7} {:>8}",
        "N",
        "step",
        "poll s",
        "driver s",
        "total s",
        "ms/pkg",
        "cpu ms/pkg",
        "lp-sim cpu",
        "driver RSS",
        "db MiB",
        "db KiB/pkg",
        "runs",
        "failures"
    );
    for r in results {
        for (name, s) in [("from empty", &r.from_empty), ("new series", &r.new_series)] {
            let n = f64::from(r.packages);
            println!(
                "{:>7}  {:<10} {:>7.2} {:>9.2} {:>9.2} {:>8.2} {:>10.2} {:>9.2} s {:>6.1} MiB {:>8.2} {:>10.2} {:>7} {:>8}",
                r.packages,
                name,
                s.poll_wall,
                s.driver_wall,
                s.wall(),
                s.wall() * 1000.0 / n,
                s.cpu * 1000.0 / n,
                s.lp_sim_cpu,
                s.driver_hwm_kib as f64 / 1024.0,
                s.db_bytes as f64 / (1024.0 * 1024.0),
                s.db_bytes as f64 / 1024.0 / n,
                s.runs,
                0, // any failure stops the sweep
            );
        }
    }
    let Some((base, rest)) = results.split_first() else {
        return;
    };
    if rest.is_empty() {
        println!(
            "\nnew-series imports are ref-only (versions_imported=0 refs_updated=1, checked); \
             one size only, so no growth ratios."
        );
        return;
    }
    println!(
        "\ngrowth against N={} (1.00x: the cost per package is flat, so total time grows \
         linearly; driver RSS is flat; wall time is the noisiest, CPU per package the \
         steadiest on a shared machine):",
        base.packages
    );
    println!(
        "{:>7}  {:>15} {:>16} {:>16} {:>17} {:>12} {:>13} {:>12}",
        "N",
        "ms/pkg (empty)",
        "ms/pkg (series)",
        "cpu/pkg (empty)",
        "cpu/pkg (series)",
        "RSS (empty)",
        "RSS (series)",
        "db/pkg (end)"
    );
    let per = |s: &Step, n: u32| s.wall() / f64::from(n);
    let cpu = |s: &Step, n: u32| s.cpu / f64::from(n);
    for r in rest {
        let ratio = |a: f64, b: f64| format!("{:.2}x", a / b);
        println!(
            "{:>7}  {:>15} {:>16} {:>16} {:>17} {:>12} {:>13} {:>12}",
            r.packages,
            ratio(
                per(&r.from_empty, r.packages),
                per(&base.from_empty, base.packages)
            ),
            ratio(
                per(&r.new_series, r.packages),
                per(&base.new_series, base.packages)
            ),
            ratio(
                cpu(&r.from_empty, r.packages),
                cpu(&base.from_empty, base.packages)
            ),
            ratio(
                cpu(&r.new_series, r.packages),
                cpu(&base.new_series, base.packages)
            ),
            ratio(
                r.from_empty.driver_hwm_kib as f64,
                base.from_empty.driver_hwm_kib as f64
            ),
            ratio(
                r.new_series.driver_hwm_kib as f64,
                base.new_series.driver_hwm_kib as f64
            ),
            ratio(
                r.new_series.db_bytes as f64 / f64::from(r.packages),
                base.new_series.db_bytes as f64 / f64::from(base.packages)
            ),
        );
    }
    println!("\nnew-series imports are ref-only (versions_imported=0 refs_updated=1, checked).");
}
