//! The poller's memory of each skew window and the end of a poll (`Store::finish_poll`),
//! and reconciling Launchpad's publications with the audit (`Store::reconcile_batch`), on
//! SQLite and, when `PKGIMPORT_TEST_PG_URL` is set, on PostgreSQL.

mod common;

use std::collections::BTreeMap;

use common::{TestDb, each_backend};
use pkgimport_core::{PackageName, Priority};
use pkgimport_queue::audit::{PublicationRow, StagedAudit};
use pkgimport_queue::poll::{
    ListedPublication, NewWatermark, PartitionMemory, PolledPartition, RECONCILE_BATCH, Remembered,
};
use pkgimport_queue::{Disposition, NewFailure, Outcome, RunEnd, Store};

fn name(n: &str) -> PackageName {
    PackageName::parse(n).unwrap()
}

fn mark(series: &str, date: &str, from: Option<&str>) -> NewWatermark {
    NewWatermark {
        distro: "debian".into(),
        series: series.into(),
        date_created: date.into(),
        polled_from: from.map(str::to_owned),
    }
}

fn remembered(id: i64, status: &str) -> Remembered {
    Remembered {
        id,
        status: status.into(),
        date_created: format!("2024-05-01T10:00:{:02}+00:00", id % 60),
    }
}

fn memory(series: &str, publications: Vec<Remembered>) -> PartitionMemory {
    PartitionMemory {
        distro: "debian".into(),
        series: series.into(),
        publications,
    }
}

#[test]
fn a_poll_moves_its_watermarks_and_replaces_the_memory_of_its_windows() {
    each_backend(|db| {
        let mut s = db.store();
        assert_eq!(s.polled_partition("debian", "sid").unwrap(), None);
        s.finish_poll(
            &[
                mark(
                    "sid",
                    "2024-05-01T10:00:00+00:00",
                    Some("2024-04-01T00:00:00+00:00"),
                ),
                mark("trixie", "2024-05-01T09:00:00+00:00", None),
            ],
            &[memory(
                "sid",
                vec![remembered(7, "Pending"), remembered(3, "Published")],
            )],
        )
        .unwrap();
        assert_eq!(
            s.poll_memory("debian", "sid").unwrap(),
            vec![remembered(3, "Published"), remembered(7, "Pending")],
            "{}",
            db.name()
        );
        assert!(s.poll_memory("debian", "trixie").unwrap().is_empty());
        // The next poll: the watermark moves, where polling started does not, and the
        // memory is replaced whole (what left the window is gone).
        s.finish_poll(
            &[mark(
                "sid",
                "2024-05-02T10:00:00+00:00",
                Some("2030-01-01T00:00:00+00:00"),
            )],
            &[memory(
                "sid",
                vec![remembered(7, "Published"), remembered(9, "Pending")],
            )],
        )
        .unwrap();
        assert_eq!(
            s.polled_partition("debian", "sid").unwrap(),
            Some(PolledPartition {
                watermark: "2024-05-02T10:00:00+00:00".into(),
                polled_from: Some("2024-04-01T00:00:00+00:00".into()),
            })
        );
        assert_eq!(
            s.polled_partition("debian", "trixie").unwrap(),
            Some(PolledPartition {
                watermark: "2024-05-01T09:00:00+00:00".into(),
                polled_from: None,
            })
        );
        assert_eq!(
            s.poll_memory("debian", "sid").unwrap(),
            vec![remembered(7, "Published"), remembered(9, "Pending")]
        );
        // Ids beyond 32 bits, as Launchpad's are heading.
        s.finish_poll(
            &[],
            &[memory("sid", vec![remembered(5_000_000_000, "Pending")])],
        )
        .unwrap();
        assert_eq!(
            s.poll_memory("debian", "sid").unwrap(),
            vec![remembered(5_000_000_000, "Pending")]
        );
    });
}

/// Commits the audit of `package`'s publications in sid's Release pocket.
fn import(s: &mut Store, package: &str, versions: &[&str]) {
    let p = name(package);
    let staged = StagedAudit {
        versions: versions
            .iter()
            .map(|v| ((*v).to_owned(), format!("c-{v}")))
            .collect::<BTreeMap<_, _>>(),
        publications: versions
            .iter()
            .map(|v| PublicationRow {
                distro: "debian".into(),
                series: "sid".into(),
                pocket: "Release".into(),
                version: (*v).to_owned(),
                date_created: "2024-01-01T00:00:00+00:00".into(),
            })
            .collect(),
        ..StagedAudit::default()
    };
    s.audit_stage(&p, &staged).unwrap();
    s.audit_mark(&p, None).unwrap();
    s.audit_commit(&p).unwrap();
    s.audit_unmark(&p).unwrap();
}

fn listed(package: &str, version: &str, settled: bool) -> ListedPublication {
    ListedPublication {
        package: name(package),
        distro: "debian".into(),
        series: "sid".into(),
        pocket: "Release".into(),
        version: version.into(),
        settled,
    }
}

fn queued(s: &mut Store) -> Vec<(String, i64)> {
    s.queue(None)
        .unwrap()
        .into_iter()
        .map(|j| (j.package.to_string(), j.priority.0))
        .collect()
}

/// Records a permanent failure of `package`.
fn fail(s: &mut Store, package: &str) {
    s.enqueue(&[name(package)], Priority::UPLOAD).unwrap();
    let c = s.claim(1).unwrap().unwrap();
    assert_eq!(c.package.as_str(), package);
    let failure = NewFailure {
        signature: "bad input".into(),
        tail: String::new(),
        transient: false,
    };
    s.finish_run(
        c.run_id,
        &RunEnd {
            outcome: Outcome::Failed,
            exit_code: Some(65),
            signal: None,
            disposition: Disposition::Fail(failure),
        },
    )
    .unwrap();
}

#[test]
fn reconciling_enqueues_what_the_audit_lacks_and_counts_what_polling_missed() {
    each_backend(|db| {
        let mut s = db.store();
        import(&mut s, "hello", &["2.10-1", "2.10-2"]);
        fail(&mut s, "broken");
        s.enqueue(&[name("waiting")], Priority::UPLOAD).unwrap();
        let batch = vec![
            // In the audit.
            listed("hello", "2.10-2", true),
            // Not in the audit, and polling will not ask again: missed.
            listed("hello", "2.10-3", true),
            // Not in the audit, but polling still asks for it: missing, not missed.
            listed("fresh", "1.0-1", false),
            // Not in the audit, but the package failed, or is queued: it will be imported
            // with every publication it has.
            listed("broken", "1.0-1", true),
            listed("waiting", "1.0-1", true),
            // Never heard of: missed.
            listed("lost", "0.1-1", true),
            listed("lost", "0.1-1~bpo", true),
        ];
        let found = s.reconcile_batch(&batch, Priority::RESCAN).unwrap();
        assert_eq!(found.missing, vec![1, 2, 3, 4, 5, 6], "{}", db.name());
        assert_eq!(found.missed, vec![1, 5, 6], "{}", db.name());
        // One job per package (the failed one waits for a retry); a queued one keeps its
        // higher priority.
        assert_eq!(found.enqueued.added, 4, "hello, fresh, lost, broken");
        assert_eq!(found.enqueued.unchanged, 1, "waiting");
        assert_eq!(found.enqueued.blocked, vec!["broken".to_owned()]);
        let jobs = queued(&mut s);
        for (package, priority) in [
            ("hello", Priority::RESCAN.0),
            ("fresh", Priority::RESCAN.0),
            ("lost", Priority::RESCAN.0),
            ("waiting", Priority::UPLOAD.0),
        ] {
            assert!(
                jobs.contains(&(package.to_owned(), priority)),
                "{}: {package} at {priority} in {jobs:?}",
                db.name()
            );
        }
        // Nothing missing: nothing enqueued.
        let again = s
            .reconcile_batch(&[listed("hello", "2.10-1", true)], Priority::RESCAN)
            .unwrap();
        assert!(again.missing.is_empty() && again.missed.is_empty());
        assert_eq!(again.enqueued.added + again.enqueued.raised, 0);
    });
}

#[test]
fn a_full_batch_fits_in_one_statement() {
    each_backend(|db: &TestDb| {
        let mut s = db.store();
        import(&mut s, "hello", &["2.10-1"]);
        let batch: Vec<ListedPublication> = (0..RECONCILE_BATCH)
            .map(|i| listed(&format!("pkg{i}"), "1.0-1", i % 2 == 0))
            .chain([listed("hello", "2.10-1", true)])
            .collect();
        let found = s.reconcile_batch(&batch, Priority::RESCAN).unwrap();
        assert_eq!(found.missing.len(), RECONCILE_BATCH, "{}", db.name());
        assert_eq!(found.missed.len(), RECONCILE_BATCH / 2);
        assert_eq!(found.enqueued.added, RECONCILE_BATCH as u64);
    });
}
