//! End-to-end latency (`cargo xtask latency`): from lp-sim publishing a version to that
//! version's tag (`refs/tags/import/<version>`, DEP-14 mangled) appearing on the package's
//! remote, with the system running as in production: a long-running `driver` and a
//! `poll-uploads` every 60 s (`--poll-interval`), as a timer would start it.
//!
//! lp-sim serves a small synthetic history (100 packages over two series), imported first
//! from empty (`poll-uploads --initial all`, `driver --exit-when-idle`), which is not
//! timed. Then the driver starts for good, a thread runs `poll-uploads` at fixed ticks from
//! the start, and the main thread publishes new versions (`1.<V>`, whose files lp-sim
//! generates like every synthetic version) of distinct random packages, each into the
//! series that package lives in, at random offsets over 8 minutes. Packages that every poll
//! enqueues anyway (within the poller's skew of their partition's newest publication) are
//! left out: their latency would be luck. The packages and the offsets come from a seeded
//! generator (`--seed`), so a run can be replayed; the phase of the poll ticks relative to
//! the publications is what the latency mostly measures.
//!
//! A publication's latency runs from the moment lp-sim's `POST /_sim/publish` answered (the
//! version is visible from then on) to the first `git ls-remote` of the remote that lists
//! its tag; the remote is asked every 250 ms, so figures are late by up to that much. The
//! breakdown comes from the state database: the package's first successful run that
//! started after the publication.
//!
//! `--quick` polls every 3 s and publishes 3 versions over 20 s.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use pkgimport_core::PackageName;
use pkgimport_queue::{Outcome, Store};

use crate::median;
use crate::sweep::{CONCURRENCY, Setup, tail};

/// Packages of the synthetic history.
const PACKAGES: u32 = 100;
/// The goal: a publication is on the remote within this many seconds.
const GOAL_SECONDS: f64 = 90.0;
/// How often the remote is asked for the tags still awaited.
const REMOTE_CHECK: Duration = Duration::from_millis(250);

const USAGE: &str = "usage: cargo xtask latency [--quick] [--poll-interval SECS] \
                     [--publications N] [--span SECS] [--seed N]";

/// The shape of one run.
struct Options {
    poll_interval: Duration,
    publications: usize,
    /// Publications happen at random offsets in `[0, span)`.
    span: Duration,
    seed: u64,
}

impl Options {
    fn parse(args: &[String]) -> anyhow::Result<Options> {
        let quick = args.iter().any(|a| a == "--quick");
        let mut options = if quick {
            Options {
                poll_interval: Duration::from_secs(3),
                publications: 3,
                span: Duration::from_secs(20),
                seed: 1,
            }
        } else {
            Options {
                poll_interval: Duration::from_secs(60),
                publications: 8,
                span: Duration::from_secs(480),
                seed: 1,
            }
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || -> anyhow::Result<u64> {
                args.next()
                    .context(USAGE)?
                    .parse()
                    .with_context(|| format!("{arg}: not a number\n{USAGE}"))
            };
            match arg.as_str() {
                "--quick" => {}
                "--poll-interval" => options.poll_interval = Duration::from_secs(value()?),
                "--publications" => options.publications = value()? as usize,
                "--span" => options.span = Duration::from_secs(value()?),
                "--seed" => options.seed = value()?,
                other => bail!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        ensure!(
            options.publications >= 1 && options.publications <= PACKAGES as usize,
            "between 1 and {PACKAGES} publications"
        );
        ensure!(
            !options.poll_interval.is_zero(),
            "the poll interval must be positive"
        );
        Ok(options)
    }
}

/// One publication of the schedule, and what became of it.
struct Publication {
    /// When to publish, from the start.
    offset: Duration,
    package: String,
    version: String,
    suite: String,
    /// When lp-sim answered the publish: the monotonic instant and the wall-clock time.
    published: Option<(Instant, SystemTime)>,
    /// Seconds from `published` to the tag on the remote.
    latency: Option<f64>,
}

/// `cargo xtask latency`: measures and prints one table.
pub(crate) fn latency(args: &[String]) -> anyhow::Result<()> {
    let options = Options::parse(args)?;
    let bins = crate::build_release()?;
    let setup = Setup::new(&bins, PACKAGES, 1)?;
    eprintln!("latency: importing {PACKAGES} packages from empty (not timed)...");
    setup.poll(&bins, true, PACKAGES)?;
    setup.drive(&bins)?;
    // Every poll enqueues again what was published within `poll.skew` (10 minutes) of each
    // partition's newest publication: those packages are imported at every poll anyway, so
    // a version published to one of them could be picked up by the luck of an import that
    // a poll before it started. They are left out of the schedule.
    setup.poll(&bins, false, 0)?;
    let recent: BTreeSet<String> = Store::open(&setup.state)?
        .queue(None)?
        .into_iter()
        .map(|job| job.package.as_str().to_owned())
        .collect();
    setup.drive(&bins)?;

    let mut schedule = schedule(&setup.state, &options, &recent)?;
    let driver = setup
        .driver_command(&bins)?
        .spawn()
        .context("starting the driver")?;
    let mut driver = KillOnDrop(driver);
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let stop = stop.clone();
        let cmd = setup.command(&bins.poll_uploads);
        let interval = options.poll_interval;
        std::thread::spawn(move || poll_loop(cmd, interval, &stop))
    };
    eprintln!(
        "latency: publishing {} versions over {} s, poll-uploads every {} s...",
        schedule.len(),
        options.span.as_secs(),
        options.poll_interval.as_secs()
    );
    let measured = publish_and_watch(&setup, &mut schedule, &options);
    stop.store(true, Ordering::Relaxed);
    let polls = poller
        .join()
        .map_err(|_| anyhow::anyhow!("the poll thread panicked"))?;
    let driver_ok = stop_driver(&mut driver.0);
    measured?;
    let polls = polls?;
    driver_ok.with_context(|| format!("driver log ends:\n{}", tail(&setup.driver_log(), 20)))?;

    let failures = Store::open(&setup.state)?.failures()?;
    ensure!(failures.is_empty(), "failures recorded: {failures:?}");
    print_table(&setup.state, &schedule, &options, &polls)
}

/// The publications to make: distinct random packages (none of `excluded`), random sorted
/// offsets, each package's next version (`1.<versions imported>`) in the series its branch
/// names.
fn schedule(
    state: &Path,
    options: &Options,
    excluded: &BTreeSet<String>,
) -> anyhow::Result<Vec<Publication>> {
    let mut store = Store::open(state)?;
    let imported = store.audited_packages()?;
    ensure!(
        imported.len() == PACKAGES as usize,
        "{} packages imported, expected {PACKAGES}",
        imported.len()
    );
    let packages: Vec<String> = imported
        .into_iter()
        .filter(|p| !excluded.contains(p))
        .collect();
    ensure!(
        packages.len() >= options.publications,
        "only {} packages to publish to, {} publications asked for",
        packages.len(),
        options.publications
    );
    let mut rng = pkgimport_testkit::SplitMix64(options.seed);
    let mut chosen: Vec<usize> = Vec::new();
    while chosen.len() < options.publications {
        let i = rng.below(packages.len() as u64) as usize;
        if !chosen.contains(&i) {
            chosen.push(i);
        }
    }
    let mut offsets: Vec<Duration> = (0..options.publications)
        .map(|_| options.span.mul_f64(rng.unit()))
        .collect();
    offsets.sort();
    chosen
        .into_iter()
        .zip(offsets)
        .map(|(i, offset)| {
            let package = &packages[i];
            let name = PackageName::parse(package).map_err(|e| anyhow::anyhow!("{e}"))?;
            let audit = store.audit(&name)?;
            let series = audit
                .refs
                .keys()
                .find_map(|r| r.strip_prefix("refs/heads/importer/debian/"))
                .with_context(|| format!("package {package} has no branch"))?;
            Ok(Publication {
                offset,
                package: package.clone(),
                version: format!("1.{}", audit.versions.len()),
                suite: series.to_owned(),
                published: None,
                latency: None,
            })
        })
        .collect()
}

/// Publishes on schedule, and watches the remotes until every tag has appeared.
fn publish_and_watch(
    setup: &Setup,
    schedule: &mut [Publication],
    options: &Options,
) -> anyhow::Result<()> {
    let start = Instant::now();
    // However unlucky the phase, a publication is picked up by the second poll after it;
    // anything later than this is a fault, not a figure.
    let patience = options.poll_interval * 2 + Duration::from_secs(300);
    let mut next = 0;
    loop {
        if let Some(p) = schedule.get_mut(next)
            && start.elapsed() >= p.offset
        {
            setup.sim.publish(&p.package, &p.version, &p.suite)?;
            p.published = Some((Instant::now(), SystemTime::now()));
            eprintln!(
                "latency: {:>6.1} s published {} {} to {}",
                start.elapsed().as_secs_f64(),
                p.package,
                p.version,
                p.suite
            );
            next += 1;
            continue;
        }
        for p in schedule.iter_mut() {
            let Some((at, _)) = p.published else {
                continue;
            };
            if p.latency.is_some() {
                continue;
            }
            if tag_on_remote(&setup.state, &p.package, &p.version)? {
                let latency = at.elapsed().as_secs_f64();
                p.latency = Some(latency);
                eprintln!(
                    "latency: {:>6.1} s {} {} on the remote after {latency:.1} s",
                    start.elapsed().as_secs_f64(),
                    p.package,
                    p.version
                );
            } else if at.elapsed() > patience {
                bail!(
                    "{} {} is not on the remote {} s after it was published",
                    p.package,
                    p.version,
                    patience.as_secs()
                );
            }
        }
        if next == schedule.len() && schedule.iter().all(|p| p.latency.is_some()) {
            return Ok(());
        }
        std::thread::sleep(REMOTE_CHECK);
    }
}

/// Whether the package's remote has the tag of `version` (`git ls-remote`).
fn tag_on_remote(state: &Path, package: &str, version: &str) -> anyhow::Result<bool> {
    let remote = state.join("remote").join(format!("{package}.git"));
    let tag = format!(
        "refs/tags/import/{}",
        version.replace(':', "%").replace('~', "_")
    );
    let out = std::process::Command::new("git")
        .arg("ls-remote")
        .arg(&remote)
        .arg(&tag)
        .output()
        .context("running git ls-remote")?;
    ensure!(
        out.status.success(),
        "git ls-remote {}: {}",
        remote.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(!out.stdout.is_empty())
}

/// Runs `poll-uploads` at every tick of `interval` from now until `stop`; returns the wall
/// time of each poll. A failing poll stops the loop with its error.
fn poll_loop(
    mut cmd: std::process::Command,
    interval: Duration,
    stop: &AtomicBool,
) -> anyhow::Result<Vec<f64>> {
    let start = Instant::now();
    let mut walls = Vec::new();
    let mut tick = 0u32;
    while !stop.load(Ordering::Relaxed) {
        let due = start + interval * tick;
        if Instant::now() < due {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        let began = Instant::now();
        let out = cmd.output().context("running poll-uploads")?;
        if !out.status.success() {
            bail!(
                "poll-uploads ended with {}:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        walls.push(began.elapsed().as_secs_f64());
        // A poll longer than the interval delays the next one, as systemd does.
        tick = (start.elapsed().as_secs_f64() / interval.as_secs_f64()).floor() as u32 + 1;
    }
    Ok(walls)
}

/// A child that is killed if it is still running when dropped (on an early error).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// SIGTERM to the driver, and its clean exit.
fn stop_driver(driver: &mut Child) -> anyhow::Result<()> {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(driver.id())?);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
    let status = driver.wait()?;
    ensure!(status.success(), "the driver ended with {status}");
    Ok(())
}

/// Milliseconds since the Unix epoch, as the state database keeps time.
fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn print_table(
    state: &Path,
    schedule: &[Publication],
    options: &Options,
    polls: &[f64],
) -> anyhow::Result<()> {
    let mut store = Store::open(state)?;
    println!();
    println!(
        "end-to-end latency: lp-sim publish -> tag on the remote; poll-uploads every {} s, \
         driver --concurrency {CONCURRENCY} running, {PACKAGES} packages, seed {}",
        options.poll_interval.as_secs(),
        options.seed
    );
    println!(
        "{:>3} {:>8}  {:<14} {:<8} {:>10} {:>15} {:>7}",
        "#", "at s", "package", "version", "latency s", "to run start s", "run s"
    );
    let mut latencies = Vec::new();
    for (i, p) in schedule.iter().enumerate() {
        let (Some((_, wall)), Some(latency)) = (p.published, p.latency) else {
            bail!("{} {} was not measured", p.package, p.version);
        };
        latencies.push(latency);
        let name = PackageName::parse(&p.package).map_err(|e| anyhow::anyhow!("{e}"))?;
        let published_ms = epoch_ms(wall);
        // The import that took it: the first successful run that started after it.
        let run = store
            .runs(Some(&name), 1000)?
            .into_iter()
            .filter(|r| r.started_at.0 >= published_ms && r.outcome == Some(Outcome::Success))
            .min_by_key(|r| r.started_at);
        let (to_start, run_s) = match run {
            Some(r) => (
                format!("{:.1}", (r.started_at.0 - published_ms) as f64 / 1000.0),
                r.duration_s.map_or("-".into(), |d| format!("{d:.2}")),
            ),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:>3} {:>8.1}  {:<14} {:<8} {:>10.1} {:>15} {:>7}",
            i + 1,
            p.offset.as_secs_f64(),
            p.package,
            p.version,
            latency,
            to_start,
            run_s
        );
    }
    let med = median(&latencies);
    let min = latencies.iter().copied().fold(f64::INFINITY, f64::min);
    let max = latencies.iter().copied().fold(0.0, f64::max);
    println!(
        "\nlatency median {med:.1} s, min–max {min:.1}–{max:.1} s over {} publications; \
         goal {GOAL_SECONDS:.0} s: ratio {:.2}x for the median, {:.2}x for the worst \
         (> 1 is better than the goal)",
        latencies.len(),
        GOAL_SECONDS / med,
        GOAL_SECONDS / max
    );
    if !polls.is_empty() {
        println!(
            "{} polls, median {:.2} s each; latency is mostly the wait for the next poll \
             (up to the interval) plus the driver's idle poll (1 s) and one import",
            polls.len(),
            median(polls)
        );
    }
    Ok(())
}
