//! What the PostgreSQL backend adds, and the behaviour both backends must share beyond the
//! queue's rules: concurrent claimers, per-package locks, wake-ups, migrations, the retry
//! of conflicting writes, calls from inside a tokio runtime, and database URLs.
//!
//! Tests that need a server run their PostgreSQL half only when `PKGIMPORT_TEST_PG_URL` is
//! set (`scripts/pg-test-cluster start` prints one), each on a fresh database; under CI
//! (`CI=true`) a missing server is a failure.

mod common;

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{TestDb, each_backend};
use pkgimport_core::{PackageName, Priority};
use pkgimport_queue::lock::PackageHeld;
use pkgimport_queue::{Backend, Disposition, Error, Outcome, RunEnd, Store};

fn name(n: &str) -> PackageName {
    PackageName::parse(n).unwrap()
}

/// A plain client on the test's own database, for poking at it from outside the store.
fn raw(db: &TestDb) -> postgres::Client {
    pkgimport_testkit::pg::connect(db.url().unwrap())
}

fn end(disposition: Disposition) -> RunEnd {
    RunEnd {
        outcome: Outcome::Success,
        exit_code: Some(0),
        signal: None,
        disposition,
    }
}

#[test]
fn eight_claimers_never_run_one_package_twice() {
    // Half of them claim with `finish_run_and_claim`.
    each_backend(eight_claimers_on);
}

fn eight_claimers_on(db: &TestDb) {
    let backend = db.name();
    // Few packages, many claimers: most claims race for a package that is running.
    let pool: Vec<PackageName> = (0..12).map(|i| name(&format!("pkg{i}"))).collect();
    db.store().enqueue(&pool, Priority::UPLOAD).unwrap();
    let running = Mutex::new(HashSet::new());
    let claims = AtomicU64::new(0);
    let deadline = Instant::now() + Duration::from_secs(3);
    std::thread::scope(|scope| {
        for t in 0..8u64 {
            let (pool, running, claims) = (&pool, &running, &claims);
            scope.spawn(move || {
                let mut s = db.store();
                let mut x = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                let pid = std::process::id();
                // Odd threads refill as the driver does: the next claim shares the
                // transaction that finishes the run before it.
                let combined = t % 2 == 1;
                let mut next = None;
                while Instant::now() < deadline {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // New uploads arrive while packages run: a queued and a running job
                    // of one package at once is the case to get right.
                    let pick = &pool[(x % pool.len() as u64) as usize];
                    s.enqueue(std::slice::from_ref(pick), Priority((x % 50) as i64))
                        .unwrap();
                    let c = match next.take() {
                        Some(c) => c,
                        None => match s.claim(pid).unwrap() {
                            Some(c) => c,
                            None => continue,
                        },
                    };
                    assert!(
                        running.lock().unwrap().insert(c.package.to_string()),
                        "{backend}: {} claimed while it was running",
                        c.package
                    );
                    claims.fetch_add(1, Ordering::Relaxed);
                    // Forget it before the run ends in the database, never after, so that
                    // the check cannot accuse a claim that legitimately follows.
                    running.lock().unwrap().remove(c.package.as_str());
                    let disposition = if x % 3 == 0 {
                        Disposition::Done
                    } else {
                        Disposition::Requeue {
                            delay: Duration::ZERO,
                        }
                    };
                    if combined {
                        next = s
                            .finish_run_and_claim(c.run_id, &end(disposition), pid)
                            .unwrap();
                    } else {
                        s.finish_run(c.run_id, &end(disposition)).unwrap();
                    }
                }
                if let Some(c) = next {
                    s.finish_run(c.run_id, &end(Disposition::Done)).unwrap();
                }
            });
        }
    });
    assert!(claims.load(Ordering::Relaxed) > 0, "{backend}: no claims");
    let mut s = db.store();
    assert_eq!(s.status().unwrap().running, 0);
    assert!(s.open_runs().unwrap().is_empty());
}

#[test]
fn package_locks_exclude_until_dropped() {
    each_backend(package_locks_on);
}

fn package_locks_on(db: &TestDb) {
    let dir = db.state_dir();
    let (hello, world) = (name("hello"), name("world"));
    let s = db.store();
    let other = db.store();
    let first = s.lock_package(dir, &hello).unwrap().unwrap();
    let held = other.lock_package(dir, &hello).unwrap().unwrap_err();
    let me = std::process::id();
    match (s.backend(), &held) {
        (Backend::Sqlite, PackageHeld::File(h)) => assert_eq!(h.holder, Some(me)),
        (Backend::Postgres, PackageHeld::Advisory { package, holder }) => {
            assert_eq!(package, "hello");
            let holder = holder.as_deref().unwrap_or_default();
            assert!(holder.contains(&format!("pid={me}")), "{holder}");
            assert!(held.to_string().contains("hello"), "{held}");
        }
        other => panic!("unexpected {other:?}"),
    }
    // Other packages are independent.
    drop(other.lock_package(dir, &world).unwrap().unwrap());
    drop(first);
    let mut again = other
        .lock_package(dir, &hello)
        .unwrap()
        .expect("free as soon as the holder dropped it");
    assert!(again.still_held().unwrap());

    // A waiter gets the lock when the holder lets go.
    let waited = std::thread::scope(|scope| {
        let waiter = scope.spawn(|| {
            let start = Instant::now();
            let lock = db.store().lock_package_wait(dir, &hello).unwrap();
            (start.elapsed(), lock)
        });
        std::thread::sleep(Duration::from_millis(300));
        drop(again);
        waiter.join().unwrap()
    });
    assert!(waited.0 >= Duration::from_millis(250), "{:?}", waited.0);
    drop(waited.1);

    if s.backend() == Backend::Postgres {
        // A holder whose connection dies (its process or host did) loses the lock.
        let mut held = s.lock_package(dir, &hello).unwrap().unwrap();
        let mut admin = raw(db);
        let killed: i64 = admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks
                 WHERE locktype = 'advisory' AND granted
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(killed, 1);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if other.lock_package(dir, &hello).unwrap().is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the lock outlived its connection"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!held.still_held().unwrap());
    }
}

#[test]
fn enqueue_wakes_a_waiting_store() {
    each_backend(wake_up_on);
}

fn wake_up_on(db: &TestDb) {
    let mut waiting = db.store();
    let start = Instant::now();
    assert!(!waiting.wait_for_work(Duration::from_millis(100)).unwrap());
    assert!(start.elapsed() >= Duration::from_millis(100));
    if waiting.backend() == Backend::Sqlite {
        // No signal on SQLite: the wait is only a sleep.
        return;
    }
    std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            db.store()
                .enqueue(&[name("hello")], Priority::UPLOAD)
                .unwrap();
        });
        let start = Instant::now();
        assert!(waiting.wait_for_work(Duration::from_secs(30)).unwrap());
        assert!(start.elapsed() < Duration::from_secs(10));
    });
    assert!(
        !waiting.wait_for_work(Duration::from_millis(50)).unwrap(),
        "one enqueue, one wake-up"
    );
    // An enqueue while nobody waits is remembered for the next wait.
    db.store()
        .enqueue(&[name("world")], Priority::UPLOAD)
        .unwrap();
    let start = Instant::now();
    assert!(waiting.wait_for_work(Duration::from_secs(30)).unwrap());
    assert!(start.elapsed() < Duration::from_secs(10));
    // An enqueue that changes nothing wakes nobody.
    db.store()
        .enqueue(&[name("world")], Priority::UPLOAD)
        .unwrap();
    assert!(!waiting.wait_for_work(Duration::from_millis(200)).unwrap());
}

#[test]
fn migrating_from_empty_is_idempotent_and_concurrent() {
    let Some(db) = TestDb::postgres() else {
        return common::skipped();
    };
    // Four processes' worth of openers on an empty database at once, then two more.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| drop(db.store()));
        }
    });
    drop(db.store());
    let mut s = db.store();
    s.enqueue(&[name("hello")], Priority::UPLOAD).unwrap();
    let mut admin = raw(&db);
    let rows = admin
        .query("SELECT version FROM schema_version", &[])
        .unwrap();
    assert_eq!(rows.len(), 1);
    let version: i64 = rows[0].get(0);
    // A database from a newer build is refused, naming both versions.
    admin
        .batch_execute("UPDATE schema_version SET version = version + 1")
        .unwrap();
    match Store::connect(db.state_dir(), db.url()) {
        Err(Error::SchemaTooNew { found, known, path }) => {
            assert_eq!((found, known), (version + 1, version));
            assert!(path.to_string_lossy().starts_with("postgres"), "{path:?}");
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[test]
fn a_serialization_failure_is_retried() {
    let Some(db) = TestDb::postgres() else {
        return common::skipped();
    };
    let mut s = db.store();
    s.add_counters(&[("x", 1)]).unwrap();
    // Another transaction changes the row and commits while the store's write waits for
    // it: at SERIALIZABLE that write fails with 40001, and must be retried, not reported.
    let mut other = raw(&db);
    other
        .batch_execute(
            "BEGIN ISOLATION LEVEL SERIALIZABLE;
             UPDATE counters SET value = value + 10 WHERE name = 'x';",
        )
        .unwrap();
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| s.add_counters(&[("x", 100)]));
        std::thread::sleep(Duration::from_millis(300));
        other.batch_execute("COMMIT").unwrap();
        writer.join().unwrap().unwrap();
    });
    assert_eq!(s.counters().unwrap(), [("x".to_owned(), 111)]);
}

#[test]
fn a_lost_connection_is_replaced() {
    let Some(db) = TestDb::postgres() else {
        return common::skipped();
    };
    let mut s = db.store();
    s.enqueue(&[name("hello")], Priority::UPLOAD).unwrap();
    // The server ends the store's idle session, as a restart or an idle timeout would.
    let mut admin = raw(&db);
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND pid != pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(killed, 1);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(s.status().unwrap().queued, 1, "the next call reconnects");
    s.enqueue(&[name("world")], Priority::UPLOAD).unwrap();
    assert_eq!(s.status().unwrap().queued, 2);
}

#[test]
fn the_store_works_inside_a_tokio_runtime() {
    each_backend(inside_runtime_on);
}

/// The driver calls the store from a current-thread runtime, where the PostgreSQL client
/// would panic if it blocked in place.
fn inside_runtime_on(db: &TestDb) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut s = Store::connect(db.state_dir(), db.url()).unwrap();
        s.enqueue(&[name("hello")], Priority::UPLOAD).unwrap();
        let c = s.claim(1).unwrap().unwrap();
        s.finish_run(c.run_id, &end(Disposition::Done)).unwrap();
        assert_eq!(s.status().unwrap().queued, 0);
        let lock = s
            .lock_package(db.state_dir(), &name("hello"))
            .unwrap()
            .unwrap();
        drop(lock);
        s.wait_for_work(Duration::from_millis(10)).unwrap();
        drop(s);
    });
    // Opened outside, used and dropped inside, as a driver that connects before it starts
    // its runtime would.
    let mut s = db.store();
    let lock = s
        .lock_package(db.state_dir(), &name("world"))
        .unwrap()
        .unwrap();
    rt.block_on(async {
        s.enqueue(&[name("world")], Priority::UPLOAD).unwrap();
        assert_eq!(s.status().unwrap().queued, 1);
        drop(lock);
        drop(s);
    });
}

#[test]
fn database_urls_are_checked_and_never_shown_with_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::connect(dir.path(), Some("mysql://u:secret@db.example/q")).unwrap_err();
    assert!(matches!(err, Error::DatabaseUrl { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("mysql://***@db.example/q"), "{msg}");
    assert!(!msg.contains("secret"), "{msg}");

    for bad in [
        "postgres://u:secret@127.0.0.1:9/q?sslmode=bogus",
        "postgres://u:secret@127.0.0.1:port/q",
    ] {
        let err = Store::connect(dir.path(), Some(bad)).unwrap_err();
        assert!(matches!(err, Error::DatabaseUrl { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(!msg.contains("secret"), "{msg}");
    }

    // Nothing listens on the discard port: a connection error, transient, redacted.
    let err = Store::connect(
        dir.path(),
        Some("postgresql://u:secret@127.0.0.1:9/q?connect_timeout=5&password=secret"),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Postgres { .. }), "{err:?}");
    assert!(err.is_transient(), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("postgresql://***@127.0.0.1:9/q"), "{msg}");
    assert!(msg.contains("password=***"), "{msg}");
    assert!(!msg.contains("secret"), "{msg}");
}
