//! `migrate::copy_to_postgres` (`importctl migrate-db`): a SQLite state with rows in every
//! table reads back the same through the `Store` API once copied into PostgreSQL; new ids
//! follow the copied ones; and the copy refuses a target with rows, a running driver, a
//! missing source and a bad URL.
//!
//! The PostgreSQL tests run only when `PKGIMPORT_TEST_PG_URL` is set (`scripts/pg-test-cluster
//! start` prints one), each on a fresh database; the refusals that need no server always run.

#[expect(
    dead_code,
    reason = "these tests run on PostgreSQL only, not on each backend"
)]
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::TestDb;
use pkgimport_audit::Phase;
use pkgimport_core::breaker::{BreakerSettings, BreakerState, Outcome as Upstream};
use pkgimport_core::{PackageName, Priority};
use pkgimport_queue::audit::{PublicationRow, StagedAudit, StagedRef, VersionFacts};
use pkgimport_queue::copy_to_postgres::{
    self as migrate, CopyError as MigrateError, CopySummary as MigrateSummary,
};
use pkgimport_queue::lock::{self, LockName};
use pkgimport_queue::monitor::SeenPublication;
use pkgimport_queue::poll::{NewWatermark, PartitionMemory, Remembered};
use pkgimport_queue::{Disposition, NewFailure, Outcome, RunEnd, Store, Timestamp};

fn name(n: &str) -> PackageName {
    PackageName::parse(n).unwrap()
}

fn end(outcome: Outcome, disposition: Disposition) -> RunEnd {
    RunEnd {
        outcome,
        exit_code: Some(if outcome == Outcome::Success { 0 } else { 65 }),
        signal: None,
        disposition,
    }
}

fn staged(version: &str, commit: &str, old: Option<&str>) -> StagedAudit {
    StagedAudit {
        refs: vec![
            StagedRef {
                name: "refs/heads/importer/debian/sid".into(),
                old: old.map(str::to_owned),
                new: commit.into(),
            },
            StagedRef {
                name: format!("refs/tags/import/{version}"),
                old: None,
                new: commit.into(),
            },
        ],
        versions: BTreeMap::from([(version.to_owned(), commit.to_owned())]),
        publications: vec![PublicationRow {
            distro: "debian".into(),
            series: "sid".into(),
            pocket: "Release".into(),
            version: version.into(),
            date_created: "2024-05-01T10:00:00.123456+00:00".into(),
        }],
        ref_versions: BTreeMap::from([(
            "refs/heads/importer/debian/sid".to_owned(),
            version.to_owned(),
        )]),
        version_facts: BTreeMap::from([(
            version.to_owned(),
            VersionFacts {
                parent: None,
                tree: Some(commit.to_owned()),
                applied: Some(pkgimport_queue::audit::AppliedTip {
                    commit: commit.to_owned(),
                    tree: commit.to_owned(),
                }),
                patch_failure: None,
            },
        )]),
    }
}

fn breaker_settings(trip_consecutive: u32) -> BreakerSettings {
    BreakerSettings {
        open_duration: Duration::from_secs(60),
        max_open_duration: Duration::from_secs(900),
        trip_consecutive,
        trip_ratio: 0.5,
        trip_min_outcomes: 20,
        trip_window: Duration::from_secs(3600),
        probe_lease: Duration::from_secs(60),
    }
}

fn seen(package: &str, i: u64) -> SeenPublication {
    SeenPublication {
        package: package.to_owned(),
        distro: "debian".into(),
        series: "sid".into(),
        pocket: "Release".into(),
        version: format!("1.{i}-1"),
        date_created: format!("2024-05-01T10:00:{:02}.000000+00:00", i % 60),
        seen_at: Timestamp(1_714_557_600_000 + i as i64),
    }
}

/// Fills every table of a SQLite state through the API: finished, failed, re-queued and
/// still running runs; a committed audit, one in the critical section and one only staged;
/// an opened-then-reset breaker with an outcome in its window; watermarks, heartbeats,
/// settings, counters, a snapshot, and `seen_rows` publications seen.
fn populate(state_dir: &std::path::Path, seen_rows: u64) {
    let mut s = Store::open(state_dir).unwrap();
    let pid = std::process::id();
    s.enqueue(&[name("hello")], Priority::MANUAL).unwrap();
    s.enqueue(&[name("broken")], Priority::UPLOAD).unwrap();
    s.enqueue(&[name("flaky")], Priority::RETRY).unwrap();
    s.enqueue(&[name("busy")], Priority::RESCAN).unwrap();
    s.enqueue(&[name("waiting")], Priority(5)).unwrap();

    let hello = s.claim(pid).unwrap().unwrap();
    assert_eq!(hello.package.as_str(), "hello");
    s.set_run_process(hello.run_id, 4242, Some(99)).unwrap();
    s.audit_stage(&name("hello"), &staged("2.10-1", &"a".repeat(40), None))
        .unwrap();
    s.audit_mark(&name("hello"), Some(hello.run_id)).unwrap();
    s.audit_commit(&name("hello")).unwrap();
    s.audit_unmark(&name("hello")).unwrap();
    s.finish_run(hello.run_id, &end(Outcome::Success, Disposition::Done))
        .unwrap();

    let broken = s.claim(pid).unwrap().unwrap();
    let failure = NewFailure {
        signature: "bad input: checksum mismatch".into(),
        tail: "line one\nline 'two' \u{2014} with \"quotes\"\n".into(),
        transient: false,
    };
    s.finish_run(
        broken.run_id,
        &end(Outcome::Failed, Disposition::Fail(failure)),
    )
    .unwrap();
    s.set_needs_attention(&[name("broken")]).unwrap();

    let flaky = s.claim(pid).unwrap().unwrap();
    s.finish_run(
        flaky.run_id,
        &RunEnd {
            outcome: Outcome::Unavailable,
            exit_code: Some(69),
            signal: None,
            disposition: Disposition::Requeue {
                delay: Duration::from_secs(3600),
            },
        },
    )
    .unwrap();

    // Left running, with its audit in the critical section; and one only staged.
    let busy = s.claim(pid).unwrap().unwrap();
    assert_eq!(busy.package.as_str(), "busy");
    s.audit_stage(&name("busy"), &staged("1.0-1", &"b".repeat(40), None))
        .unwrap();
    s.audit_mark(&name("busy"), Some(busy.run_id)).unwrap();
    s.audit_stage(&name("staged"), &staged("3.0-1", &"c".repeat(40), None))
        .unwrap();

    let who = "host1/driver";
    s.breaker_record(Upstream::Unavailable, who, &breaker_settings(1), 0.0)
        .unwrap()
        .expect("trips");
    s.breaker_reset().unwrap().expect("closes");
    s.breaker_record(Upstream::Unavailable, who, &breaker_settings(5), 0.0)
        .unwrap();

    s.set_watermarks(&[
        (
            "debian".into(),
            "sid".into(),
            "2024-05-01T10:00:00.5+00:00".into(),
        ),
        (
            "debian".into(),
            "trixie".into(),
            "2024-04-30T09:00:00+00:00".into(),
        ),
    ])
    .unwrap();
    s.finish_poll(
        &[NewWatermark {
            distro: "ubuntu".into(),
            series: "noble".into(),
            date_created: "2024-05-01T11:00:00+00:00".into(),
            polled_from: Some("2024-04-01T00:00:00+00:00".into()),
        }],
        &[PartitionMemory {
            distro: "ubuntu".into(),
            series: "noble".into(),
            publications: vec![Remembered {
                id: 4_000_000_001,
                status: "Pending".into(),
                date_created: "2024-05-01T11:00:00+00:00".into(),
            }],
        }],
    )
    .unwrap();
    s.heartbeat("driver", "host1", pid, Timestamp(1_714_557_000_000))
        .unwrap();
    s.set_setting("paused", "1").unwrap();
    s.set_setting("note", "it's \"quoted\"").unwrap();
    s.add_counters(&[("lp_requests", 1234), ("lp_retries", 5)])
        .unwrap();
    s.set_counters(&[("last_poll_ok", 1_714_557_600_123)])
        .unwrap();
    s.take_snapshot("2024-05-01").unwrap();
    s.add_token("ops", pkgimport_queue::Role::Operator, &"d".repeat(64))
        .unwrap();
    s.open_session(&"e".repeat(64), "ops", Timestamp(4_000_000_000_000))
        .unwrap();
    s.record_action(&pkgimport_queue::NewAction {
        who: "ops",
        action: "retry",
        target: "broken",
        ok: true,
        result: "re-queued 1 package",
    })
    .unwrap();
    let rows: Vec<SeenPublication> = (0..seen_rows)
        .map(|i| seen(&format!("pkg{i}"), i))
        .collect();
    s.record_seen(&rows, |_, _| true).unwrap();
    s.set_series(
        "ubuntu",
        &[
            pkgimport_queue::series::SeriesRow {
                name: "noble".into(),
                status: "Supported".into(),
            },
            pkgimport_queue::series::SeriesRow {
                name: "resolute".into(),
                status: "Active Development".into(),
            },
        ],
    )
    .unwrap();
}

/// Everything the `Store` API shows of a state, as text, for comparing two backends.
fn view(s: &mut Store) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut put = |what: &str, v: String| out.push((what.to_owned(), v));
    let st = s.status().unwrap();
    put(
        "status",
        format!(
            "queued={} running={} failed={} paused={} delayed={} blocked={} attention={} breaker={} {:?}",
            st.queued,
            st.running,
            st.failed,
            st.paused,
            st.delayed,
            st.blocked,
            st.needs_attention,
            st.breaker,
            st.breaker_opened_at
        ),
    );
    put("driver", format!("{:?}", st.driver));
    put("queue", format!("{:?}", s.queue(None).unwrap()));
    put("runs", format!("{:?}", s.runs(None, 1000).unwrap()));
    put("open runs", format!("{:?}", s.open_runs().unwrap()));
    put("failures", format!("{:?}", s.failures().unwrap()));
    for p in ["hello", "busy", "staged", "broken"] {
        put(
            &format!("audit {p}"),
            format!("{:?}", s.audit(&name(p)).unwrap()),
        );
    }
    put("audited", format!("{:?}", s.audited_packages().unwrap()));
    put(
        "in flight",
        format!("{:?}", s.packages_in_flight().unwrap()),
    );
    put("watermarks", format!("{:?}", s.watermarks().unwrap()));
    put(
        "events",
        format!("{:?}", s.events_after(0, 10_000).unwrap()),
    );
    put("tokens", format!("{:?}", s.tokens().unwrap()));
    put("actions", format!("{:?}", s.actions(100).unwrap()));
    put("breaker", format!("{:?}", s.breaker().unwrap()));
    put(
        "transitions",
        format!("{:?}", s.breaker_transitions().unwrap()),
    );
    put("settings", format!("{:?}", s.setting("note").unwrap()));
    put("counters", format!("{:?}", s.counters().unwrap()));
    put("snapshots", format!("{:?}", s.snapshots(10).unwrap()));
    put("seen", format!("{:?}", s.seen("pkg0").unwrap()));
    put("series", format!("{:?}", s.series("ubuntu").unwrap()));
    put(
        "poll memory",
        format!("{:?}", s.poll_memory("ubuntu", "noble").unwrap()),
    );
    put(
        "polled from",
        format!("{:?}", s.polled_partition("ubuntu", "noble").unwrap()),
    );
    out
}

fn migrate_into(db: &TestDb, source: &std::path::Path) -> Result<MigrateSummary, MigrateError> {
    migrate::copy_to_postgres(source, db.url().unwrap())
}

#[test]
fn a_migrated_state_reads_back_the_same() {
    let Some(pg) = TestDb::postgres() else {
        return common::skipped();
    };
    let source = tempfile::tempdir().unwrap();
    populate(source.path(), 50);
    let before = view(&mut Store::open(source.path()).unwrap());

    let summary = migrate_into(&pg, source.path()).unwrap();
    let empty: Vec<&str> = summary
        .tables
        .iter()
        .filter(|t| t.rows == 0)
        .map(|t| t.table)
        .collect();
    assert!(empty.is_empty(), "the test left tables empty: {empty:?}");
    assert_eq!(summary.tables.len(), migrate::TABLES.len());
    assert!(
        summary
            .tables
            .iter()
            .any(|t| t.table == "poll_seen" && t.rows == 50)
    );
    assert!(!summary.target.contains("postgres@"), "{}", summary.target);

    let mut target = pg.store();
    let after = view(&mut target);
    for ((what, a), (_, b)) in before.iter().zip(&after) {
        assert_eq!(a, b, "{what} differs after the migration");
    }
    assert_eq!(before.len(), after.len());

    // A few facts spelled out, beyond "the same".
    let st = target.status().unwrap();
    assert!(st.paused);
    assert_eq!((st.running, st.failed, st.needs_attention), (1, 1, 1));
    let b = target.breaker().unwrap();
    assert_eq!(
        (b.state, b.consecutive_unavailable),
        (BreakerState::Closed, 1)
    );
    assert_eq!(
        target.audit(&name("busy")).unwrap().phase,
        Phase::Critical,
        "the critical mark moved with it"
    );
    assert_eq!(
        target.watermark("debian", "sid").unwrap().as_deref(),
        Some("2024-05-01T10:00:00.5+00:00")
    );

    // New rows take ids after the copied ones.
    let old_runs = target.runs(None, 1000).unwrap();
    let max_run = old_runs.iter().map(|r| r.id).max().unwrap();
    let max_job = old_runs.iter().map(|r| r.job_id).max().unwrap();
    target.set_paused(false).unwrap();
    target.enqueue(&[name("fresh")], Priority(1000)).unwrap();
    let c = target.claim(1).unwrap().unwrap();
    assert_eq!(c.package.as_str(), "fresh");
    assert!(
        c.job_id > max_job,
        "job id {} reused (max {max_job})",
        c.job_id
    );
    assert!(
        c.run_id > max_run,
        "run id {} reused (max {max_run})",
        c.run_id
    );
    assert_eq!(c.log_path, format!("logs/fresh/{}.log", c.run_id));
    target
        .breaker_record(Upstream::Unavailable, "x", &breaker_settings(1), 0.0)
        .unwrap();
    assert_eq!(
        target.breaker_transitions().unwrap(),
        vec![("closed".to_owned(), 1), ("open".to_owned(), 2)]
    );
}

#[test]
fn a_target_with_rows_is_refused_and_left_alone() {
    let Some(pg) = TestDb::postgres() else {
        return common::skipped();
    };
    let source = tempfile::tempdir().unwrap();
    populate(source.path(), 3);
    migrate_into(&pg, source.path()).unwrap();
    let before = view(&mut pg.store());

    let err = migrate_into(&pg, source.path()).unwrap_err();
    let MigrateError::TargetNotEmpty { tables, target } = &err else {
        panic!("expected TargetNotEmpty, got {err:?}");
    };
    assert!(
        tables.iter().any(|t| t.table == "jobs" && t.rows == 3),
        "{tables:?}"
    );
    assert!(!tables.iter().any(|t| t.table == "breaker"), "{tables:?}");
    assert!(!target.contains("postgres@"), "{target}");
    assert!(err.to_string().contains("not empty"), "{err}");
    assert_eq!(view(&mut pg.store()), before);

    // One heartbeat is enough to make a database not empty.
    let Some(other) = TestDb::postgres() else {
        unreachable!("the server answered just now")
    };
    other
        .store()
        .heartbeat("driver", "elsewhere", 1, Timestamp::now())
        .unwrap();
    let err = migrate_into(&other, source.path()).unwrap_err();
    assert!(
        matches!(&err, MigrateError::TargetNotEmpty { tables, .. }
            if tables.len() == 1 && tables[0].table == "heartbeats"),
        "{err:?}"
    );
}

#[test]
fn the_copy_is_of_one_moment_and_leaves_the_source_alone() {
    let Some(pg) = TestDb::postgres() else {
        return common::skipped();
    };
    let source = tempfile::tempdir().unwrap();
    populate(source.path(), 10);
    let before = view(&mut Store::open(source.path()).unwrap());
    migrate_into(&pg, source.path()).unwrap();
    // Read only: the source still works and still says the same.
    let mut s = Store::open(source.path()).unwrap();
    assert_eq!(view(&mut s), before);
    assert!(s.integrity_check().unwrap().is_ok());
}

#[test]
fn a_running_driver_or_poller_stops_the_migration() {
    let source = tempfile::tempdir().unwrap();
    populate(source.path(), 1);
    // The lock is looked at before any connection, so no server is needed.
    let url = "postgres://u:secret@127.0.0.1:1/none";
    for (name, process) in [
        (LockName::Driver, "the driver"),
        (LockName::Poll, "poll-uploads"),
    ] {
        let _held = lock::try_lock(source.path(), name).unwrap().unwrap();
        let err = migrate::copy_to_postgres(source.path(), url).unwrap_err();
        assert!(
            matches!(&err, MigrateError::Running { process: p, .. } if *p == process),
            "{err:?}"
        );
        assert!(err.to_string().contains("stop the driver"), "{err}");
    }
}

#[test]
fn a_missing_source_or_an_unusable_target_is_named() {
    let empty = tempfile::tempdir().unwrap();
    let err = migrate::copy_to_postgres(empty.path(), "postgres://db/x").unwrap_err();
    assert!(matches!(err, MigrateError::NoSource { .. }), "{err:?}");
    assert!(
        !empty.path().join("state.db").exists(),
        "a missing source must not be created"
    );

    let source = tempfile::tempdir().unwrap();
    populate(source.path(), 1);
    let err = migrate::copy_to_postgres(source.path(), "mysql://u:secret@db/x").unwrap_err();
    assert!(matches!(err, MigrateError::BadTarget(_)), "{err:?}");
    assert!(!err.to_string().contains("secret"), "{err}");

    // Nothing listens on port 1: unreachable, which is worth trying again later.
    let err =
        migrate::copy_to_postgres(source.path(), "postgres://u:secret@127.0.0.1:1/x").unwrap_err();
    assert!(matches!(err, MigrateError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[test]
fn an_unknown_database_is_a_bad_target() {
    let Some(admin) = pkgimport_testkit::pg::server_url() else {
        return common::skipped();
    };
    let source = tempfile::tempdir().unwrap();
    populate(source.path(), 1);
    let (base, _) = admin.rsplit_once('/').unwrap();
    let url = format!("{base}/no_such_database_for_migrate");
    let err = migrate::copy_to_postgres(source.path(), &url).unwrap_err();
    assert!(matches!(err, MigrateError::BadTarget(_)), "{err:?}");
}

/// The figure for the operations guide: a state with `PKGIMPORT_TEST_MIGRATE_ROWS`
/// publications seen (default 20000; set 100000 to measure the size of a real archive).
#[test]
fn a_large_state_migrates() {
    let Some(pg) = TestDb::postgres() else {
        return common::skipped();
    };
    #[expect(clippy::disallowed_methods, reason = "test configuration")]
    let rows: u64 = std::env::var("PKGIMPORT_TEST_MIGRATE_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let source = tempfile::tempdir().unwrap();
    populate(source.path(), rows);
    let summary = migrate_into(&pg, source.path()).unwrap();
    assert!(
        summary
            .tables
            .iter()
            .any(|t| t.table == "poll_seen" && t.rows == rows)
    );
    #[expect(clippy::print_stderr, reason = "the figure this test exists for")]
    {
        eprintln!(
            "migrated {} rows ({rows} poll_seen) in {:.2}s",
            summary.total_rows(),
            summary.elapsed.as_secs_f64()
        );
    }
    let mut s = pg.store();
    assert_eq!(
        s.seen(&format!("pkg{}", rows - 1)).unwrap(),
        Some(seen(&format!("pkg{}", rows - 1), rows - 1))
    );
}
