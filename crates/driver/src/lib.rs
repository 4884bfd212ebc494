//! The driver: a supervisor that turns queued jobs into import processes.
//!
//! It claims the highest-priority job whose package is neither running nor failed, runs the
//! import command for it as a child process, and records how the child ended. It never runs
//! more than `concurrency` children, kills a child that outlives the run timeout, and acts on
//! the exit-code contract (see [`judge`]). On shutdown it stops claiming and waits for its
//! children up to a drain timeout; then it kills the rest and re-queues their jobs. On start
//! it recovers the runs that a dead driver left open, so nothing is lost.
//!
//! All database work happens on the one task that runs [`run`]; children are supervised by
//! tasks that only wait on processes and report back. A single-threaded runtime is enough:
//! the driver waits, it does not compute.

mod gate;
pub mod judge;
pub mod process;
mod supervise;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pkgimport_queue::{Backend, Claim, Disposition, OpenRun, Outcome, RunEnd, Store, Timestamp};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

pub use judge::{ChildEnd, RequeueDelays, judge};

/// Everything the driver needs to know, resolved by the binary from the configuration.
#[derive(Clone, Debug)]
pub struct DriverSettings {
    pub state_dir: PathBuf,
    /// The import program; the package name is appended to `import_args`.
    pub import_program: PathBuf,
    pub import_args: Vec<String>,
    /// Extra environment for every child (the state directory and config path, so the
    /// child sees the same configuration as the driver).
    pub child_env: Vec<(String, String)>,
    pub concurrency: usize,
    pub run_timeout: Duration,
    pub drain_timeout: Duration,
    pub poll_interval: Duration,
    pub heartbeat_interval: Duration,
    pub requeue_delays: RequeueDelays,
    /// The shared circuit breaker's knobs.
    pub breaker: pkgimport_core::breaker::BreakerSettings,
    /// Exit once nothing is claimable and nothing runs.
    pub exit_when_idle: bool,
}

/// What one driver run did, for its closing log line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub recovered: u64,
    pub claimed: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub requeued: u64,
    pub interrupted: u64,
}

/// How often the driver truncates the WAL.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(60);

/// A child's report to the main loop.
enum Report {
    Started {
        run_id: i64,
        pid: u32,
        pid_start: Option<u64>,
    },
}

/// Runs the driver until `shutdown` resolves (then drains), or until idle when
/// `exit_when_idle` is set. The caller must hold the driver lock.
pub async fn run(
    settings: DriverSettings,
    mut store: Store,
    shutdown: impl Future<Output = ()>,
) -> Result<Summary, pkgimport_queue::Error> {
    let host = process::hostname();
    // Unique among the drivers sharing one database: one driver per state directory.
    let name = format!("{host}:{}", settings.state_dir.display());
    store.act_as_driver(&name, lease(settings.heartbeat_interval));
    let mut summary = Summary {
        recovered: recover(&mut store, &name)?,
        ..Summary::default()
    };
    let my_pid = std::process::id();
    let started_at = Timestamp::now();
    store.heartbeat("driver", &host, my_pid, started_at)?;
    let mut last_heartbeat = Instant::now();
    let mut last_checkpoint = Instant::now();

    let (kill_tx, kill_rx) = watch::channel(false);
    let (report_tx, mut report_rx) = mpsc::unbounded_channel::<Report>();
    let mut children: JoinSet<(Claim, Instant, ChildEnd)> = JoinSet::new();
    let mut gate = gate::Gate::new(settings.breaker, format!("driver:{host}:{my_pid}"));
    let mut draining: Option<Instant> = None;
    let mut was_paused = false;
    tokio::pin!(shutdown);

    log::info!(
        "driver started pid={my_pid} concurrency={} command={}",
        settings.concurrency,
        settings.import_program.display()
    );
    loop {
        if last_heartbeat.elapsed() >= settings.heartbeat_interval {
            store.heartbeat("driver", &host, my_pid, started_at)?;
            store.renew_leases()?;
            if store.backend() == Backend::Postgres {
                summary.recovered += adopt_expired(&mut store, &settings.state_dir, &name)?;
            }
            last_heartbeat = Instant::now();
        }
        if last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
            // SQLite's automatic checkpoints never shrink the file; this one truncates it.
            if let Err(e) = store.checkpoint() {
                log::warn!("WAL checkpoint failed: {e}");
            }
            last_checkpoint = Instant::now();
        }
        let paused = store.is_paused()?;
        if paused != was_paused {
            if paused {
                log::info!(
                    "paused: claiming nothing new, {} imports still running",
                    children.len()
                );
            } else {
                log::info!("resumed");
            }
            was_paused = paused;
        }
        if draining.is_none() && !paused {
            let room = gate.capacity(&mut store, settings.concurrency, children.len())?;
            for _ in 0..room {
                let Some(claim) = store.claim(my_pid)? else {
                    gate.nothing_claimed(&mut store)?;
                    break;
                };
                summary.claimed += 1;
                gate.claimed(&claim);
                spawn_child(
                    &mut children,
                    &settings,
                    claim,
                    report_tx.clone(),
                    kill_rx.clone(),
                );
            }
        }
        if children.is_empty() {
            if draining.is_some() {
                break;
            }
            if settings.exit_when_idle && (paused || !store.has_pending_work()?) {
                log::info!("idle: nothing claimable and nothing running");
                break;
            }
        }
        if children.is_empty() && draining.is_none() && store.backend() == Backend::Postgres {
            // Idle on a shared database: sleep until an enqueue's NOTIFY or the poll
            // interval, whichever comes first. Blocking is fine with no child to watch, but
            // the signal must be looked at on every round: yield first, so that the runtime
            // reads a signal that arrived during the last wait, then check without waiting.
            tokio::task::yield_now().await;
            let signalled = tokio::select! {
                biased;
                () = &mut shutdown => true,
                () = std::future::ready(()) => false,
            };
            if signalled {
                log::info!("stopping: nothing running");
                draining = Some(Instant::now());
                continue;
            }
            store.wait_for_work(settings.poll_interval)?;
            continue;
        }
        let drain_deadline =
            draining.map(|d| tokio::time::Instant::from_std(d + settings.drain_timeout));
        tokio::select! {
            Some(joined) = children.join_next(), if !children.is_empty() => {
                let (claim, started, end) = match joined {
                    Ok(v) => v,
                    Err(e) => panic!("a supervising task failed: {e}"),
                };
                gate.finished(&mut store, &claim, started, &end)?;
                // Refill the slot in the transaction that closes the run, when the top of the
                // loop would claim anyway: one commit instead of two.
                let refill = draining.is_none()
                    && !was_paused
                    && gate.capacity(&mut store, settings.concurrency, children.len())? > 0;
                let run = record(&settings.state_dir, &claim, &end, settings.requeue_delays, &mut summary);
                if !refill {
                    store.finish_run(claim.run_id, &run)?;
                } else if let Some(next) = store.finish_run_and_claim(claim.run_id, &run, my_pid)? {
                    summary.claimed += 1;
                    gate.claimed(&next);
                    spawn_child(&mut children, &settings, next, report_tx.clone(), kill_rx.clone());
                } else {
                    gate.nothing_claimed(&mut store)?;
                }
            }
            Some(report) = report_rx.recv() => {
                let Report::Started { run_id, pid, pid_start } = report;
                store.set_run_process(run_id, pid, pid_start)?;
            }
            () = tokio::time::sleep(settings.poll_interval) => {}
            () = &mut shutdown, if draining.is_none() => {
                log::info!(
                    "stopping: claiming nothing new, waiting up to {}s for {} running imports",
                    settings.drain_timeout.as_secs(),
                    children.len()
                );
                draining = Some(Instant::now());
            }
            () = sleep_until_opt(drain_deadline), if drain_deadline.is_some() && !*kill_tx.borrow() => {
                log::warn!("drain timeout: killing {} imports and re-queueing their jobs", children.len());
                let _ = kill_tx.send(true);
            }
        }
    }
    // Leave a short WAL behind, and keep it short while running (see the heartbeat).
    if let Err(e) = store.checkpoint() {
        log::warn!("WAL checkpoint at exit failed: {e}");
    }
    log::info!(
        "driver done: recovered={} claimed={} succeeded={} failed={} requeued={} interrupted={}",
        summary.recovered,
        summary.claimed,
        summary.succeeded,
        summary.failed,
        summary.requeued,
        summary.interrupted
    );
    Ok(summary)
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn spawn_child(
    children: &mut JoinSet<(Claim, Instant, ChildEnd)>,
    settings: &DriverSettings,
    claim: Claim,
    reports: mpsc::UnboundedSender<Report>,
    kill: watch::Receiver<bool>,
) {
    let mut args = settings.import_args.clone();
    args.push(claim.package.to_string());
    let mut env = settings.child_env.clone();
    env.push(("PKGIMPORT_RUN_ID".into(), claim.run_id.to_string()));
    let spec = supervise::ChildSpec {
        program: settings.import_program.clone(),
        args,
        env,
        log_path: settings.state_dir.join(&claim.log_path),
        timeout: settings.run_timeout,
    };
    log::debug!(
        "claimed job={} run={} package={} priority={} attempt={}",
        claim.job_id,
        claim.run_id,
        claim.package,
        claim.priority,
        claim.attempts
    );
    let run_id = claim.run_id;
    let claimed_at = Instant::now();
    children.spawn(async move {
        let started = move |pid, pid_start| {
            let _ = reports.send(Report::Started {
                run_id,
                pid,
                pid_start,
            });
        };
        let end = supervise::run_child(spec, started, kill).await;
        (claim, claimed_at, end)
    });
}

/// Judges how a child ended, logs it and counts it; the caller records the returned end.
fn record(
    state_dir: &Path,
    claim: &Claim,
    end: &ChildEnd,
    delays: RequeueDelays,
    summary: &mut Summary,
) -> RunEnd {
    let tail = supervise::log_tail(&state_dir.join(&claim.log_path), 20);
    let run = judge(end, &tail, delays);
    if let ChildEnd::SpawnFailed(why) = end {
        log::error!(
            "cannot start the import command for package={}: {why}",
            claim.package
        );
    }
    let code = run.exit_code.map_or("-".to_owned(), |c| c.to_string());
    let signal = run.signal.map_or("-".to_owned(), |c| c.to_string());
    match &run.disposition {
        Disposition::Done => summary.succeeded += 1,
        Disposition::Fail(_) => summary.failed += 1,
        Disposition::Requeue { .. } if run.outcome == Outcome::Interrupted => {
            summary.interrupted += 1
        }
        Disposition::Requeue { .. } => summary.requeued += 1,
    }
    let line = format!(
        "run finished package={} run={} outcome={} exit={code} signal={signal}",
        claim.package, claim.run_id, run.outcome
    );
    match &run.disposition {
        Disposition::Fail(f) => log::warn!("{line} signature={:?}", f.signature),
        _ => log::info!("{line}"),
    }
    run
}

/// How long a claimed run stays this driver's without a renewal: several heartbeats, so
/// that a busy moment does not hand a live run to another host.
fn lease(heartbeat: Duration) -> Duration {
    (heartbeat * 6).max(Duration::from_secs(30))
}

/// Closes the runs that this driver's dead predecessor (same state directory) left open
/// and puts their jobs back in the queue. A child that outlived its driver is killed first,
/// so that the package never runs twice at once. The caller holds the driver lock, so each
/// of these runs is an orphan. On SQLite every run is this state directory's; on a shared
/// database, other drivers' runs are left to [`adopt_expired`].
fn recover(store: &mut Store, name: &str) -> Result<u64, pkgimport_queue::Error> {
    let shared = store.backend() == Backend::Postgres;
    let open: Vec<OpenRun> = store
        .open_runs()?
        .into_iter()
        .filter(|r| !shared || r.driver == name)
        .collect();
    for run in &open {
        if let (Some(pid), Some(started)) = (run.pid, run.pid_start) {
            let pid = pid as u32;
            if process::is_same_process(pid, started) {
                log::warn!("killing orphaned import pid={pid} package={}", run.package);
                process::kill_group(pid);
                wait_gone(pid, started);
            }
        }
        store.finish_run(run.run_id, &abandoned())?;
        log::info!(
            "recovered run={} package={} left open by driver pid={}: re-queued",
            run.run_id,
            run.package,
            run.driver_pid
        );
    }
    Ok(open.len() as u64)
}

/// Re-queues the runs of other drivers on a shared database whose lease has expired and
/// whose package lock is free: their driver is gone (its host died, or it was killed), and
/// no import of the package is running anywhere, since `import-one` holds the package's
/// advisory lock for its whole run and a dead host's connection takes the lock with it. A
/// run whose package is still locked is left alone until its import ends.
fn adopt_expired(
    store: &mut Store,
    state_dir: &Path,
    name: &str,
) -> Result<u64, pkgimport_queue::Error> {
    let now = Timestamp::now();
    let mut adopted = 0;
    for run in store.open_runs()? {
        let expired = run.lease_until.is_none_or(|until| until < now);
        if run.driver == name || !expired {
            continue;
        }
        let Ok(package) = pkgimport_core::PackageName::parse(&run.package) else {
            continue;
        };
        // Held while the run is closed, so that no import starts in between.
        let Ok(_lock) = store.lock_package(state_dir, &package)? else {
            continue;
        };
        store.finish_run(run.run_id, &abandoned())?;
        adopted += 1;
        log::warn!(
            "adopted run={} package={} of driver {} (lease expired, package not locked): re-queued",
            run.run_id,
            run.package,
            if run.driver.is_empty() {
                "?"
            } else {
                &run.driver
            }
        );
    }
    Ok(adopted)
}

fn abandoned() -> RunEnd {
    RunEnd {
        outcome: Outcome::Abandoned,
        exit_code: None,
        signal: None,
        disposition: Disposition::Requeue {
            delay: Duration::ZERO,
        },
    }
}

/// Waits up to 5 s for a killed process to disappear. It is not our child, so it cannot be
/// reaped here; its new parent reaps it.
fn wait_gone(pid: u32, started: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while process::is_same_process(pid, started) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}
