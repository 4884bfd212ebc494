//! The events that writers record with their changes, and importer-web's tokens, sessions
//! and audit log of actions, on both backends.

mod common;

use std::time::Duration;

use common::{TestDb, each_backend};
use pkgimport_core::breaker::{BreakerSettings, Outcome as Upstream};
use pkgimport_core::{PackageName, Priority};
use pkgimport_queue::{
    Disposition, EventKind, NewAction, NewFailure, Outcome, Role, RunEnd, Timestamp,
};

fn name(n: &str) -> PackageName {
    PackageName::parse(n).unwrap()
}

fn kinds(db: &TestDb, after: i64) -> Vec<(EventKind, Option<String>)> {
    db.store()
        .events_after(after, 1000)
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.package))
        .collect()
}

#[test]
fn every_change_a_page_shows_records_an_event() {
    each_backend(|db| {
        let mut s = db.store();
        assert_eq!(s.last_event_id().unwrap(), 0);
        s.enqueue(&[name("hello"), name("world")], Priority::UPLOAD)
            .unwrap();
        // Already queued at that priority: nothing changed, no event.
        s.enqueue(&[name("hello")], Priority::UPLOAD).unwrap();
        let claim = s.claim(1).unwrap().unwrap();
        s.finish_run(
            claim.run_id,
            &RunEnd {
                outcome: Outcome::Failed,
                exit_code: Some(65),
                signal: None,
                disposition: Disposition::Fail(NewFailure {
                    signature: "bad".into(),
                    tail: String::new(),
                    transient: false,
                }),
            },
        )
        .unwrap();
        s.retry(std::slice::from_ref(&claim.package), Priority::MANUAL)
            .unwrap();
        s.set_paused(true).unwrap();
        let settings = BreakerSettings {
            open_duration: Duration::from_secs(60),
            max_open_duration: Duration::from_secs(600),
            trip_consecutive: 1,
            trip_ratio: 0.5,
            trip_min_outcomes: 20,
            trip_window: Duration::from_secs(60),
            probe_lease: Duration::from_secs(600),
        };
        s.breaker_record(Upstream::Unavailable, "me", &settings, 0.0)
            .unwrap();
        s.record_action(&NewAction {
            who: "ops",
            action: "pause",
            target: "",
            ok: true,
            result: "paused",
        })
        .unwrap();
        let p = |n: &str| Some(n.to_owned());
        assert_eq!(
            kinds(db, 0),
            [
                (EventKind::Queued, p("hello")),
                (EventKind::Queued, p("world")),
                (EventKind::RunEnded, p("hello")),
                (EventKind::Retried, p("hello")),
                (EventKind::Paused, None),
                (EventKind::Breaker, None),
                (EventKind::Action, None),
            ],
            "{}",
            db.name()
        );
        let all = s.events_after(0, 1000).unwrap();
        assert!(all.windows(2).all(|w| w[0].id < w[1].id));
        assert_eq!(s.last_event_id().unwrap(), all.last().unwrap().id);
        assert_eq!(s.events_after(all[4].id, 1).unwrap(), [all[5].clone()]);
    });
}

#[test]
fn old_events_are_pruned() {
    let db = TestDb::sqlite();
    let mut s = db.store();
    let names: Vec<PackageName> = (0..pkgimport_queue::EVENTS_KEPT + 600)
        .map(|i| name(&format!("p{i}")))
        .collect();
    s.enqueue(&names, Priority::UPLOAD).unwrap();
    let first = s.events_after(0, 1).unwrap()[0].id;
    let last = s.last_event_id().unwrap();
    assert!(first > 1, "pruned");
    assert!(last - first < pkgimport_queue::EVENTS_KEPT + 256);
}

#[test]
fn a_listener_wakes_on_an_event() {
    let Some(db) = TestDb::postgres() else {
        return common::skipped();
    };
    let mut listener = db.store();
    // The first call starts listening.
    listener.wait_for_events(Duration::from_millis(10)).unwrap();
    db.store().set_paused(true).unwrap();
    assert!(listener.wait_for_events(Duration::from_secs(10)).unwrap());
}

#[test]
fn tokens_sessions_and_actions() {
    each_backend(|db| {
        let mut s = db.store();
        s.add_token("ops", Role::Operator, "h1").unwrap();
        s.add_token("boss", Role::Admin, "h2").unwrap();
        let err = s.add_token("ops", Role::Viewer, "h3").unwrap_err();
        assert!(err.to_string().contains("revoke it first"), "{err}");
        let names: Vec<(String, Role)> = s
            .tokens()
            .unwrap()
            .into_iter()
            .map(|t| (t.name, t.role))
            .collect();
        assert_eq!(
            names,
            [("boss".into(), Role::Admin), ("ops".into(), Role::Operator)]
        );
        assert_eq!(s.token_by_hash("h1").unwrap().unwrap().name, "ops");
        assert_eq!(s.token_by_hash("nope").unwrap(), None);

        let now = Timestamp::now();
        s.open_session("s1", "ops", now.plus(Duration::from_secs(60)))
            .unwrap();
        s.open_session("s0", "ops", Timestamp(now.0 - 1)).unwrap();
        assert_eq!(s.session("s1", now).unwrap().unwrap().role, Role::Operator);
        assert_eq!(s.session("s0", now).unwrap(), None, "expired");
        s.close_session("s1").unwrap();
        assert_eq!(s.session("s1", now).unwrap(), None, "closed");

        s.open_session("s2", "ops", now.plus(Duration::from_secs(60)))
            .unwrap();
        assert!(s.revoke_token("ops").unwrap());
        assert!(!s.revoke_token("ops").unwrap());
        assert_eq!(
            s.session("s2", now).unwrap(),
            None,
            "revoked with its token"
        );
        assert_eq!(s.token_by_hash("h1").unwrap(), None);

        for (i, ok) in [true, false].into_iter().enumerate() {
            s.record_action(&NewAction {
                who: "boss",
                action: "retry",
                target: &format!("pkg{i}"),
                ok,
                result: if ok { "done" } else { "no such failure" },
            })
            .unwrap();
        }
        let log = s.actions(10).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!((log[0].target.as_str(), log[0].ok), ("pkg1", false));
        assert_eq!(log[1].who, "boss");
    });
}
