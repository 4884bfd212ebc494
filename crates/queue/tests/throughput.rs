//! Claim+complete throughput: eight processes drain one queue, as `cargo xtask bench` does,
//! on SQLite and, when `PKGIMPORT_TEST_PG_URL` is set, on PostgreSQL, side by side.
//!
//! Slow and only a measurement, so it is gated: set `PKGIMPORT_TEST_THROUGHPUT_JOBS` (for
//! example 4000) to run it; it prints jobs per second for each backend. Run it with
//! `--release --nocapture` for figures worth quoting.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use common::TestDb;
use pkgimport_core::{PackageName, Priority};
use pkgimport_queue::{Disposition, Outcome, RunEnd, Store};

const WORKERS: usize = 8;
const WORKER_ENV: &str = "PKGIMPORT_TEST_THROUGHPUT_WORKER";

#[test]
fn eight_processes_claim_and_complete() {
    #[expect(clippy::disallowed_methods, reason = "test configuration")]
    if let Ok(spec) = std::env::var(WORKER_ENV) {
        return worker(&spec);
    }
    #[expect(clippy::disallowed_methods, reason = "test configuration")]
    let Some(jobs) = std::env::var("PKGIMPORT_TEST_THROUGHPUT_JOBS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    else {
        return;
    };
    common::each_backend(|db| drain(db, jobs));
}

fn drain(db: &TestDb, jobs: usize) {
    let names: Vec<PackageName> = (0..jobs)
        .map(|i| PackageName::parse(&format!("pkg{i}")).unwrap())
        .collect();
    db.store().enqueue(&names, Priority::UPLOAD).unwrap();
    let exe = std::env::current_exe().unwrap();
    let spec = format!("{}|{}", db.state_dir().display(), db.url().unwrap_or(""));
    let start = Instant::now();
    let children: Vec<_> = (0..WORKERS)
        .map(|_| {
            Command::new(&exe)
                .args(["--exact", "eight_processes_claim_and_complete"])
                .env(WORKER_ENV, &spec)
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let secs = start.elapsed().as_secs_f64();
    let st = db.store().status().unwrap();
    assert_eq!((st.queued, st.running), (0, 0));
    #[expect(clippy::print_stdout, reason = "the figure is the point")]
    {
        println!(
            "{}: {jobs} jobs claimed and completed by {WORKERS} processes in {secs:.2}s: {:.0} jobs/s",
            db.name(),
            jobs as f64 / secs
        );
    }
}

/// What a one-statement read costs, outside a tokio runtime and inside one (where the
/// driver calls the store). On PostgreSQL both go through the connection's own thread.
#[test]
fn reads_inside_and_outside_a_runtime() {
    #[expect(clippy::disallowed_methods, reason = "test configuration")]
    let Some(calls) = std::env::var("PKGIMPORT_TEST_THROUGHPUT_JOBS")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
    else {
        return;
    };
    common::each_backend(|db| {
        let per_call = |s: &mut Store| {
            let start = Instant::now();
            for _ in 0..calls {
                s.setting("paused").unwrap();
            }
            start.elapsed().as_secs_f64() * 1e6 / f64::from(calls)
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        // Two stores, one only ever used outside the runtime and one inside, measured in
        // turns so that both see the same load; the best round of each counts.
        let (mut out_store, mut in_store) = (db.store(), db.store());
        let (mut outside, mut inside) = (f64::MAX, f64::MAX);
        for _ in 0..3 {
            outside = outside.min(per_call(&mut out_store));
            inside = inside.min(rt.block_on(async { per_call(&mut in_store) }));
        }
        #[expect(clippy::print_stdout, reason = "the figure is the point")]
        {
            println!(
                "{}: a one-statement read takes {outside:.0} µs outside a runtime, {inside:.0} µs inside",
                db.name()
            );
        }
    });
}

fn worker(spec: &str) {
    let (dir, url) = spec.split_once('|').unwrap();
    let mut store = Store::connect(Path::new(dir), Some(url).filter(|u| !u.is_empty())).unwrap();
    let done = RunEnd {
        outcome: Outcome::Success,
        exit_code: Some(0),
        signal: None,
        disposition: Disposition::Done,
    };
    while let Some(c) = store.claim(std::process::id()).unwrap() {
        store.finish_run(c.run_id, &done).unwrap();
    }
}
