//! The pages and the JSON API show the state database: the JSON is `importctl`'s, key for
//! key, and a logged-in operator's retry goes through and lands in the audit log.

use pkgimport_core::Priority;
use pkgimport_queue::Role;

use crate::common::{Options, Service, get, login, name, post_form};

#[test]
fn the_json_api_is_importctls_json() {
    let svc = Service::start(Options::default()).unwrap();
    svc.fail(
        "broken",
        "bad input: checksum mismatch",
        "line one\nline two",
    );
    svc.store()
        .enqueue(&[name("hello"), name("world")], Priority::UPLOAD)
        .unwrap();
    let mut s = svc.store();
    let want = |v: serde_json::Value| v;
    crate::common::eventually("the queue shows both jobs", || {
        get(&svc.url("/api/v1/queue")).json()
            == want(serde_json::to_value(s.queue(None).unwrap()).unwrap())
    });
    assert_eq!(
        get(&svc.url("/api/v1/failures")).json(),
        serde_json::to_value(s.failure_groups(5).unwrap()).unwrap()
    );
    assert_eq!(
        get(&svc.url("/api/v1/packages/broken")).json(),
        serde_json::to_value(s.show(&name("broken")).unwrap()).unwrap()
    );
    let status = get(&svc.url("/api/v1/status")).json();
    for key in [
        "queued", "running", "failed", "paused", "breaker", "driver", "series",
    ] {
        assert!(status.get(key).is_some(), "status has {key}: {status}");
    }
    assert_eq!(status["failed"], 1);
    assert_eq!(get(&svc.url("/api/v1/packages/nothing-here")).status, 404);
}

#[test]
fn the_pages_show_queue_failures_runs_and_packages() {
    let svc = Service::start(Options::default()).unwrap();
    let run = svc.fail("broken", "bad input: checksum mismatch", "the tail");
    // Pages follow events: wait for the writer to have seen the failure.
    crate::common::eventually("the failures page shows the failure", || {
        get(&svc.url("/failures"))
            .body
            .contains("bad input: checksum mismatch")
    });
    let index = get(&svc.url("/"));
    assert_eq!(index.status, 200);
    assert!(index.body.contains("Freshness by series"), "{}", index.body);
    assert!(
        index.body.contains("href=\"/packages/broken\""),
        "{}",
        index.body
    );
    let csp = index.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("form-action 'self'"),
        "{csp}"
    );

    let page = get(&svc.url("/packages/broken"));
    assert_eq!(page.status, 200);
    for expect in [
        "bad input: checksum mismatch",
        "the tail",
        &format!("run-{run}"),
    ] {
        assert!(page.body.contains(expect), "{expect} in {}", page.body);
    }
    assert!(
        !page.body.contains("<form method=\"post\""),
        "no forms for a reader without a session"
    );

    let failures = get(&svc.url("/failures"));
    assert!(failures.body.contains("bad input: checksum mismatch"));
    crate::common::eventually("the runs page links the run", || {
        get(&svc.url("/runs")).body.contains(&format!("#run-{run}"))
    });
    assert_eq!(get(&svc.url("/packages/nothing-here")).status, 404);
    assert_eq!(get(&svc.url("/no/such/page")).status, 404);
    let css = get(&svc.url("/style.css"));
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
}

#[test]
fn an_operator_retries_from_the_page_and_the_audit_log_shows_it() {
    let svc = Service::start(Options::default()).unwrap();
    svc.fail("broken", "bad input: checksum mismatch", "");
    let token = svc.token("alice", Role::Operator);
    let session = login(&svc, &token);
    let page = crate::common::Answer::from(
        crate::common::client()
            .get(&svc.url("/packages/broken"))
            .header("Cookie", &format!("pkgimport_session={}", session.cookie))
            .call(),
    );
    assert!(
        page.body.contains("action=\"/packages/broken/retry\""),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("/reset"),
        "an operator gets no admin form"
    );

    let r = post_form(
        &svc,
        Some(&session),
        "/packages/broken/retry",
        &[("csrf", &session.csrf)],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/packages/broken"));
    let queue = svc.store().queue(None).unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].priority, Priority::MANUAL);
    crate::common::eventually("the audit log shows the retry", || {
        let log = get(&svc.url("/actions")).body;
        log.contains("alice") && log.contains("retry") && log.contains("broken")
    });
    crate::common::eventually("the queue page shows the job", || {
        get(&svc.url("/queue"))
            .body
            .contains("href=\"/packages/broken\"")
    });
}
