//! Eight processes enqueue, claim and finish jobs at once on one state database, and none
//! of them may ever see "database is locked" (SQLite) or a serialization failure
//! (PostgreSQL, when `PKGIMPORT_TEST_PG_URL` is set).
//!
//! The test runs this same test binary eight more times as workers (selected by an
//! environment variable), because what matters is separate processes with separate
//! connections, as in production. `PKGIMPORT_TEST_STRESS_SECS` shortens or lengthens it
//! (default 20 s per backend).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::TestDb;
use pkgimport_core::{PackageName, Priority};
use pkgimport_queue::{Disposition, NewFailure, Outcome, RunEnd, Store};

const WORKERS: usize = 8;
const WORKER_ENV: &str = "PKGIMPORT_TEST_STRESS_WORKER";

#[test]
fn eight_processes_write_at_once_without_busy_errors() {
    #[expect(clippy::disallowed_methods, reason = "test configuration")]
    if let Ok(spec) = std::env::var(WORKER_ENV) {
        return worker(&spec);
    }
    #[expect(clippy::disallowed_methods, reason = "test configuration")]
    let secs: u64 = std::env::var("PKGIMPORT_TEST_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    common::each_backend(|db| stress(db, secs));
}

fn stress(db: &TestDb, secs: u64) {
    drop(db.store());
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..WORKERS)
        .map(|i| {
            let spec = format!(
                "{}|{}|{}|{}",
                db.state_dir().display(),
                i,
                secs,
                db.url().unwrap_or("")
            );
            Command::new(&exe)
                .args([
                    "--exact",
                    "eight_processes_write_at_once_without_busy_errors",
                    "--nocapture",
                ])
                .env(WORKER_ENV, spec)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let backend = db.name();
    let mut total = 0u64;
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{backend}: worker {i} failed: {stderr}\n{stdout}"
        );
        assert!(
            !stdout.contains("locked") && !stderr.contains("locked"),
            "{backend}: worker {i}: {stdout}"
        );
        total += read_count(db.state_dir(), i);
    }
    assert!(total > 0, "{backend}: the workers did nothing");
    let mut s = db.store();
    assert_eq!(s.integrity_check().unwrap(), Ok(()));
    let st = s.status().unwrap();
    assert_eq!(
        st.running, 0,
        "{backend}: a worker left a claimed job behind"
    );
    assert!(s.open_runs().unwrap().is_empty());
}

fn read_count(dir: &Path, worker: usize) -> u64 {
    std::fs::read_to_string(dir.join(format!("worker-{worker}.count")))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// One worker: until the deadline, enqueue a few packages, claim one, finish it with a
/// mixed outcome, and now and then retry failures. Any error fails the process.
fn worker(spec: &str) {
    let mut parts = spec.splitn(4, '|');
    let dir = Path::new(parts.next().unwrap()).to_owned();
    let me: u64 = parts.next().unwrap().parse().unwrap();
    let secs: u64 = parts.next().unwrap().parse().unwrap();
    let url = parts.next().filter(|u| !u.is_empty());
    let mut s = Store::connect(&dir, url).unwrap();
    let pool: Vec<PackageName> = (0..200)
        .map(|i| PackageName::parse(&format!("pkg{i}")).unwrap())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut n = 0u64;
    let mut x = me.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        // xorshift: a deterministic spread of choices, no dependency needed.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    while Instant::now() < deadline {
        let picks: Vec<PackageName> = (0..3)
            .map(|_| pool[(next() % 200) as usize].clone())
            .collect();
        s.enqueue(&picks, Priority((next() % 100) as i64)).unwrap();
        if let Some(c) = s.claim(std::process::id()).unwrap() {
            let disposition = match next() % 10 {
                0 => Disposition::Requeue {
                    delay: Duration::ZERO,
                },
                1 => Disposition::Fail(NewFailure {
                    signature: "died".into(),
                    tail: String::new(),
                    transient: true,
                }),
                _ => Disposition::Done,
            };
            let end = RunEnd {
                outcome: Outcome::Success,
                exit_code: Some(0),
                signal: None,
                disposition,
            };
            s.finish_run(c.run_id, &end).unwrap();
            n += 1;
        }
        if next() % 20 == 0 {
            s.retry(&picks, Priority::RETRY).unwrap();
        }
    }
    std::fs::write(dir.join(format!("worker-{me}.count")), n.to_string()).unwrap();
}
