//! The queue's rules, against a real SQLite file in a temporary directory, and against a
//! fresh PostgreSQL database when `PKGIMPORT_TEST_PG_URL` is set.

mod common;

use std::time::Duration;

use common::{TestDb, each_backend};
use pkgimport_core::{PackageName, Priority};
use pkgimport_queue::{Disposition, NewFailure, Outcome, RunEnd, Store};

fn names(list: &[&str]) -> Vec<PackageName> {
    list.iter()
        .map(|n| PackageName::parse(n).unwrap())
        .collect()
}

fn end(outcome: Outcome, disposition: Disposition) -> RunEnd {
    RunEnd {
        outcome,
        exit_code: Some(0),
        signal: None,
        disposition,
    }
}

fn failure(sig: &str) -> Disposition {
    Disposition::Fail(NewFailure {
        signature: sig.into(),
        tail: "tail".into(),
        transient: true,
    })
}

#[test]
fn duplicate_enqueue_keeps_one_job_and_the_higher_priority() {
    each_backend(duplicate_enqueue_keeps_one_job_and_the_higher_priority_on);
}

fn duplicate_enqueue_keeps_one_job_and_the_higher_priority_on(db: &TestDb) {
    let mut s = db.store();
    let first = s.enqueue(&names(&["hello"]), Priority::RESCAN).unwrap();
    assert_eq!(first.added, 1);
    let again = s
        .enqueue(&names(&["hello", "hello"]), Priority::MANUAL)
        .unwrap();
    assert_eq!((again.added, again.raised, again.unchanged), (0, 1, 1));
    let lower = s.enqueue(&names(&["hello"]), Priority::RETRY).unwrap();
    assert_eq!(lower.unchanged, 1);
    let queue = s.queue(None).unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].priority, Priority::MANUAL);
    assert_eq!(s.status().unwrap().queued, 1);
}

#[test]
fn claims_follow_priority_then_age() {
    each_backend(claims_follow_priority_then_age_on);
}

fn claims_follow_priority_then_age_on(db: &TestDb) {
    let mut s = db.store();
    s.enqueue(&names(&["low1"]), Priority::RESCAN).unwrap();
    s.enqueue(&names(&["up1", "up2"]), Priority::UPLOAD)
        .unwrap();
    s.enqueue(&names(&["man1"]), Priority::MANUAL).unwrap();
    s.enqueue(&names(&["mid"]), Priority(40)).unwrap();
    let order: Vec<String> =
        std::iter::from_fn(|| s.claim(1).unwrap().map(|c| c.package.to_string())).collect();
    assert_eq!(order, ["man1", "up1", "up2", "mid", "low1"]);
}

#[test]
fn a_running_package_is_not_claimed_twice_and_a_new_job_waits_for_it() {
    each_backend(a_running_package_is_not_claimed_twice_and_a_new_job_waits_for_it_on);
}

fn a_running_package_is_not_claimed_twice_and_a_new_job_waits_for_it_on(db: &TestDb) {
    let mut s = db.store();
    s.enqueue(&names(&["hello"]), Priority::UPLOAD).unwrap();
    let c = s.claim(1).unwrap().unwrap();
    // A new upload while it runs: one more pending job, not claimable yet.
    s.enqueue(&names(&["hello"]), Priority::MANUAL).unwrap();
    assert!(s.claim(1).unwrap().is_none());
    let st = s.status().unwrap();
    assert_eq!((st.queued, st.running), (1, 1));
    // The run is re-queued (exit 73): the two jobs merge into one at the higher priority.
    s.finish_run(
        c.run_id,
        &end(
            Outcome::Locked,
            Disposition::Requeue {
                delay: Duration::ZERO,
            },
        ),
    )
    .unwrap();
    let q = s.queue(None).unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].priority, Priority::MANUAL);
    assert!(s.claim(1).unwrap().is_some());
}

#[test]
fn requeue_delay_is_respected() {
    each_backend(requeue_delay_is_respected_on);
}

fn requeue_delay_is_respected_on(db: &TestDb) {
    let mut s = db.store();
    s.enqueue(&names(&["hello"]), Priority::UPLOAD).unwrap();
    let c = s.claim(1).unwrap().unwrap();
    let delay = Duration::from_secs(3600);
    s.finish_run(
        c.run_id,
        &end(Outcome::Unavailable, Disposition::Requeue { delay }),
    )
    .unwrap();
    assert!(
        s.claim(1).unwrap().is_none(),
        "claimed before the delay passed"
    );
    assert!(s.has_pending_work().unwrap());
    let st = s.status().unwrap();
    assert_eq!((st.queued, st.delayed, st.failed), (1, 1, 0));
    assert!(s.failures().unwrap().is_empty());
}

#[test]
fn finishing_and_claiming_in_one_step_is_both_in_turn() {
    each_backend(finishing_and_claiming_in_one_step_is_both_in_turn_on);
}

fn finishing_and_claiming_in_one_step_is_both_in_turn_on(db: &TestDb) {
    let mut s = db.store();
    s.enqueue(&names(&["hello"]), Priority::UPLOAD).unwrap();
    s.enqueue(&names(&["bash"]), Priority::RESCAN).unwrap();
    let hello = s.claim(1).unwrap().unwrap();
    assert_eq!(hello.package.as_str(), "hello");
    // A failure is recorded, and the next job is claimed.
    let bash = s
        .finish_run_and_claim(hello.run_id, &end(Outcome::Failed, failure("boom")), 1)
        .unwrap()
        .unwrap();
    assert_eq!(bash.package.as_str(), "bash");
    assert_eq!(s.failures().unwrap()[0].package, "hello");
    let runs = s.runs(None, 10).unwrap();
    let hello_run = runs.iter().find(|r| r.id == hello.run_id).unwrap();
    assert_eq!(hello_run.outcome, Some(Outcome::Failed));
    assert!(hello_run.ended_at.is_some());
    // A requeue with no delay makes the same package claimable in the same step.
    let delay = Duration::ZERO;
    let again = s
        .finish_run_and_claim(
            bash.run_id,
            &end(Outcome::Unavailable, Disposition::Requeue { delay }),
            1,
        )
        .unwrap()
        .unwrap();
    assert_eq!((again.package.as_str(), again.attempts), ("bash", 2));
    // Nothing left: the run is closed all the same.
    assert!(
        s.finish_run_and_claim(again.run_id, &end(Outcome::Success, Disposition::Done), 1)
            .unwrap()
            .is_none()
    );
    let st = s.status().unwrap();
    assert_eq!((st.queued, st.running, st.failed), (0, 0, 1));
    assert!(s.open_runs().unwrap().is_empty());
}

#[test]
fn failures_block_claims_until_retried_and_count_repeats() {
    each_backend(failures_block_claims_until_retried_and_count_repeats_on);
}

fn failures_block_claims_until_retried_and_count_repeats_on(db: &TestDb) {
    let mut s = db.store();
    let pkg = names(&["poison"]);
    let fail_once = |s: &mut Store, sig: &str| {
        let c = s.claim(1).unwrap().expect("claimable");
        s.finish_run(c.run_id, &end(Outcome::Died, failure(sig)))
            .unwrap();
        let f = s.failures().unwrap().remove(0);
        (f.attempts, f.consecutive)
    };
    s.enqueue(&pkg, Priority::UPLOAD).unwrap();
    assert_eq!(fail_once(&mut s, "died"), (1, 1));

    // A new upload queues a job, but the failure blocks it.
    let summary = s.enqueue(&pkg, Priority::UPLOAD).unwrap();
    assert_eq!(summary.blocked, ["poison"]);
    assert!(s.claim(1).unwrap().is_none());
    assert!(!s.has_pending_work().unwrap());
    let st = s.status().unwrap();
    assert_eq!((st.failed, st.blocked), (1, 1));

    // A retry merges into the pending job rather than adding one.
    assert_eq!(s.retry(&pkg, Priority::RETRY).unwrap(), ["poison"]);
    assert_eq!(s.queue(None).unwrap().len(), 1);
    assert_eq!(fail_once(&mut s, "died"), (2, 2));

    s.retry(&pkg, Priority::RETRY).unwrap();
    assert_eq!(
        fail_once(&mut s, "other"),
        (3, 1),
        "a new signature restarts the count"
    );

    s.retry(&pkg, Priority::RETRY).unwrap();
    let c = s.claim(1).unwrap().unwrap();
    s.finish_run(c.run_id, &end(Outcome::Success, Disposition::Done))
        .unwrap();
    assert!(
        s.failures().unwrap().is_empty(),
        "success clears the failure"
    );
    assert_eq!(s.status().unwrap().queued, 0);
}

#[test]
fn open_runs_are_listed_with_their_process() {
    each_backend(open_runs_are_listed_with_their_process_on);
}

fn open_runs_are_listed_with_their_process_on(db: &TestDb) {
    let mut s = db.store();
    s.enqueue(&names(&["hello", "world"]), Priority::UPLOAD)
        .unwrap();
    let a = s.claim(77).unwrap().unwrap();
    let b = s.claim(77).unwrap().unwrap();
    s.set_run_process(a.run_id, 4242, Some(99)).unwrap();
    s.finish_run(b.run_id, &end(Outcome::Success, Disposition::Done))
        .unwrap();
    let open = s.open_runs().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        (open[0].run_id, open[0].pid, open[0].pid_start),
        (a.run_id, Some(4242), Some(99))
    );
    assert_eq!(open[0].driver_pid, 77);
    assert_eq!(a.log_path, format!("logs/hello/{}.log", a.run_id));
}

#[test]
fn pause_flag_and_heartbeats() {
    each_backend(pause_flag_and_heartbeats_on);
}

fn pause_flag_and_heartbeats_on(db: &TestDb) {
    let mut s = db.store();
    assert!(!s.is_paused().unwrap());
    s.set_paused(true).unwrap();
    assert!(s.status().unwrap().paused);
    s.set_paused(false).unwrap();
    assert!(!s.is_paused().unwrap());
    let t0 = pkgimport_queue::Timestamp::now();
    s.heartbeat("driver", "host1", 10, t0).unwrap();
    s.heartbeat("driver", "host1", 11, t0).unwrap();
    let hb = s.status().unwrap().driver.unwrap();
    assert_eq!(hb.pid, 11);
}

#[test]
fn reopening_applies_no_migration_twice() {
    each_backend(reopening_applies_no_migration_twice_on);
}

fn reopening_applies_no_migration_twice_on(db: &TestDb) {
    drop(db.store());
    let mut s = db.store();
    s.enqueue(&names(&["hello"]), Priority::UPLOAD).unwrap();
    assert_eq!(s.integrity_check().unwrap(), Ok(()));
}
