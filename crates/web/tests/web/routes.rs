//! The routes scripts rely on, exactly as documented: each one answers with what it is for
//! (HTML, JSON, plain text), and each action takes the body the API documents.

use pkgimport_queue::Role;

use crate::common::{Options, Service, get, get_as, post_as};

#[test]
fn every_documented_route_answers() {
    let svc = Service::start(Options::default()).unwrap();
    svc.fail("broken", "bad input: checksum mismatch", "tail");
    let operator = svc.token("olga", Role::Operator);
    crate::common::eventually("the failure reaches the pages", || {
        get(&svc.url("/api/v1/failures"))
            .body
            .contains("checksum mismatch")
    });

    for (path, content_type) in [
        ("/", "text/html"),
        ("/packages/broken", "text/html"),
        ("/api/v1/status", "application/json"),
        ("/api/v1/packages/broken", "application/json"),
        ("/api/v1/failures", "application/json"),
        ("/api/v1/queue", "application/json"),
        ("/healthz", "text/plain"),
        ("/health/agent", "text/plain"),
        ("/metrics", "text/plain"),
    ] {
        let r = get(&svc.url(path));
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        let got = r.header("content-type").unwrap_or_default();
        assert!(got.starts_with(content_type), "GET {path}: {got}");
    }

    let action = |path: &str, body: &str| {
        let r = post_as(&svc.url(path), Some(&operator), body);
        assert_eq!(r.status, 200, "POST {path} {body}: {}", r.body);
        assert_eq!(r.json()["ok"], true, "POST {path}: {}", r.body);
        r
    };
    // The body is optional and the priority defaults to manual.
    action("/api/v1/packages/hello/enqueue", "");
    action(
        "/api/v1/packages/world/enqueue",
        r#"{"priority": "manual"}"#,
    );
    let queue = svc.store().queue(None).unwrap();
    assert!(
        queue
            .iter()
            .all(|j| j.priority == pkgimport_core::Priority::MANUAL),
        "{queue:?}"
    );
    action("/api/v1/packages/broken/retry", "");
    action(
        "/api/v1/retry",
        r#"{"signature": "bad input: checksum mismatch"}"#,
    );
    action("/api/v1/pause", "");
    assert!(svc.store().is_paused().unwrap());
    action("/api/v1/resume", "");
    assert!(!svc.store().is_paused().unwrap());

    // Reading with a token works as well as without when reading is public.
    assert_eq!(get_as(&svc.url("/api/v1/queue"), &operator).status, 200);
    // A GET on an action is not an action.
    let wrong = get(&svc.url("/api/v1/pause"));
    assert_eq!(wrong.status, 405);
    assert!(wrong.body.contains("\"error\""), "{}", wrong.body);
}
