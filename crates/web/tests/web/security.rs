//! Who may do what: an action without a token is 401, with a viewer's 403, a form without
//! its CSRF token 403; text with markup is escaped; names that are not package names are
//! refused before anything is read; bodies over the limit are refused; private reading.

use pkgimport_queue::Role;

use crate::common::{Answer, Options, Service, client, get, get_as, login, post_as, post_form};

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "<img src=x onerror=alert(2)>";

#[test]
fn actions_need_a_token_with_the_role() {
    let svc = Service::start(Options::default()).unwrap();
    svc.fail("broken", "bad", "");
    let viewer = svc.token("vic", Role::Viewer);
    let operator = svc.token("olga", Role::Operator);
    let admin = svc.token("ada", Role::Admin);
    let retry = svc.url("/api/v1/packages/broken/retry");

    let none = post_as(&retry, None, "");
    assert_eq!(none.status, 401, "{}", none.body);
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    assert_eq!(post_as(&retry, Some("pit_not-a-token"), "").status, 401);
    assert_eq!(post_as(&retry, Some(&viewer), "").status, 403);
    let ok = post_as(&retry, Some(&operator), "");
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["ok"], true);

    let enqueue = svc.url("/api/v1/packages/hello/enqueue");
    let r = post_as(&enqueue, Some(&operator), r#"{"priority": "rescan"}"#);
    assert_eq!(r.json()["added"], 1, "{}", r.body);
    assert_eq!(
        post_as(&enqueue, Some(&operator), r#"{"priority": "soon"}"#).status,
        400
    );

    let reset = svc.url("/api/v1/packages/broken/reset");
    assert_eq!(post_as(&reset, Some(&operator), "").status, 403);
    assert_eq!(post_as(&reset, Some(&admin), "").status, 200);

    for path in ["/api/v1/pause", "/api/v1/resume"] {
        assert_eq!(post_as(&svc.url(path), None, "").status, 401);
        assert_eq!(post_as(&svc.url(path), Some(&operator), "").status, 200);
    }
    let sig = post_as(
        &svc.url("/api/v1/retry"),
        Some(&operator),
        r#"{"signature": "bad"}"#,
    );
    assert_eq!(sig.status, 200, "{}", sig.body);

    // Tokens are an admin's.
    let tokens = svc.url("/api/v1/tokens");
    assert_eq!(get_as(&tokens, &operator).status, 403);
    let made = post_as(
        &tokens,
        Some(&admin),
        r#"{"name": "bob", "role": "viewer"}"#,
    );
    assert_eq!(made.status, 201, "{}", made.body);
    let bob = made.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        post_as(&retry, Some(&bob), "").status,
        403,
        "bob is a viewer"
    );
    let revoked = Answer::from(
        client()
            .delete(&svc.url("/api/v1/tokens/bob"))
            .header("Authorization", &format!("Bearer {admin}"))
            .call(),
    );
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(post_as(&retry, Some(&bob), "").status, 401, "revoked");

    // The API takes no cookies: a browser's session cannot be ridden into it.
    let session = login(&svc, &operator);
    let r = Answer::from(
        client()
            .post(&svc.url("/api/v1/pause"))
            .header("Cookie", &format!("pkgimport_session={}", session.cookie))
            .send_empty(),
    );
    assert_eq!(r.status, 401);

    let log = svc.store().actions(100).unwrap();
    assert!(
        log.iter()
            .any(|a| a.who == "olga" && a.action == "retry" && a.target == "broken")
    );
    assert!(
        log.iter()
            .any(|a| a.who == "ada" && a.action == "token-add" && a.target == "bob")
    );
}

#[test]
fn forms_need_a_session_and_its_csrf_token() {
    let svc = Service::start(Options::default()).unwrap();
    svc.fail("broken", "bad", "");
    let viewer = login(&svc, &svc.token("vic", Role::Viewer));
    let operator = login(&svc, &svc.token("olga", Role::Operator));
    let path = "/packages/broken/retry";

    assert_eq!(post_form(&svc, None, path, &[]).status, 401);
    assert_eq!(
        post_form(&svc, Some(&operator), path, &[]).status,
        403,
        "no CSRF token"
    );
    assert_eq!(
        post_form(&svc, Some(&operator), path, &[("csrf", &viewer.csrf)]).status,
        403,
        "another session's CSRF token"
    );
    assert_eq!(
        post_form(&svc, Some(&viewer), path, &[("csrf", &viewer.csrf)]).status,
        403,
        "a viewer"
    );
    assert_eq!(
        post_form(&svc, Some(&operator), path, &[("csrf", &operator.csrf)]).status,
        303
    );
    assert_eq!(
        post_form(
            &svc,
            Some(&operator),
            "/packages/broken/reset",
            &[("csrf", &operator.csrf)]
        )
        .status,
        403,
        "admin only"
    );

    // Logging out ends the session.
    assert_eq!(
        post_form(
            &svc,
            Some(&operator),
            "/logout",
            &[("csrf", &operator.csrf)]
        )
        .status,
        303
    );
    assert_eq!(
        post_form(&svc, Some(&operator), path, &[("csrf", &operator.csrf)]).status,
        401
    );

    // A login without the form's own cookie is refused.
    let r = Answer::from(
        client()
            .post(&svc.url("/login"))
            .send_form([("token", "pit_x"), ("nonce", "n")]),
    );
    assert_eq!(r.status, 403);
}

#[test]
fn markup_from_packages_logs_and_signatures_is_escaped() {
    let svc = Service::start(Options::default()).unwrap();
    let run = svc.fail(
        "evil",
        &format!("bad tarball {SCRIPT} {IMG}"),
        &format!("* Fix {SCRIPT}\n* And {IMG}"),
    );
    let log = svc.state_dir().join(format!("logs/evil/{run}.log"));
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    std::fs::write(&log, format!("building\n{SCRIPT}\n{IMG}\n")).unwrap();
    let operator = login(&svc, &svc.token("olga", Role::Operator));
    // Pages follow events: wait until every page shows the failure before judging them.
    for path in ["/", "/failures", "/packages/evil", "/runs"] {
        crate::common::eventually(&format!("{path} shows the failure"), || {
            get(&svc.url(path)).body.contains("evil")
        });
    }
    for path in ["/", "/failures", "/packages/evil", "/runs"] {
        for session in [None, Some(&operator)] {
            let mut req = client().get(&svc.url(path));
            if let Some(s) = session {
                req = req.header("Cookie", &format!("pkgimport_session={}", s.cookie));
            }
            let page = Answer::from(req.call());
            assert_eq!(page.status, 200, "{path}");
            let lower = page.body.to_ascii_lowercase();
            assert!(!lower.contains("<script"), "{path}: {}", page.body);
            assert!(!lower.contains("<img"), "{path}: {}", page.body);
            assert!(
                page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                "{path}: {}",
                page.body
            );
        }
    }
    let r = post_form(
        &svc,
        Some(&operator),
        "/failures/retry",
        &[
            ("csrf", &operator.csrf),
            ("signature", &format!("bad tarball {SCRIPT} {IMG}")),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    crate::common::eventually("the audit log shows the retry", || {
        get(&svc.url("/actions")).body.contains("retry-signature")
    });
    let actions = get(&svc.url("/actions")).body;
    assert!(
        !actions.to_ascii_lowercase().contains("<script"),
        "{actions}"
    );
    assert!(actions.contains("&lt;script&gt;"), "{actions}");
}

#[test]
fn names_that_are_not_package_names_are_refused() {
    let svc = Service::start(Options::default()).unwrap();
    let token = svc.token("olga", Role::Operator);
    for raw in [
        "..%2F..%2Fetc%2Fpasswd",
        "%2E%2E",
        "..",
        "%3Cscript%3E",
        "a%00b",
        "UPPER",
        "-x",
    ] {
        let page = get(&svc.url(&format!("/packages/{raw}")));
        assert_eq!(page.status, 404, "{raw}: {}", page.body);
        assert!(!page.body.contains("root:"), "{raw}");
        assert_eq!(
            get(&svc.url(&format!("/api/v1/packages/{raw}"))).status,
            404,
            "{raw}"
        );
        let r = post_as(
            &svc.url(&format!("/api/v1/packages/{raw}/enqueue")),
            Some(&token),
            "",
        );
        assert_eq!(r.status, 404, "{raw}: {}", r.body);
    }
    assert!(svc.store().queue(None).unwrap().is_empty());
    let lookup = get(&svc.url("/packages?name=..%2Fetc"));
    assert_eq!(lookup.status, 404);
    let lookup = get(&svc.url("/packages?name=hello"));
    assert_eq!(lookup.header("location"), Some("/packages/hello"));
}

#[test]
fn bodies_over_the_limit_are_refused() {
    let svc = Service::start(Options::default()).unwrap();
    let token = svc.token("olga", Role::Operator);
    let big = format!(
        "{{\"priority\": \"manual\", \"pad\": \"{}\"}}",
        "x".repeat(10_000)
    );
    let r = post_as(
        &svc.url("/api/v1/packages/hello/enqueue"),
        Some(&token),
        &big,
    );
    assert_eq!(r.status, 413, "{}", r.body);
    let session = login(&svc, &token);
    let r = post_form(
        &svc,
        Some(&session),
        "/pause",
        &[("csrf", &session.csrf), ("pad", &"y".repeat(10_000))],
    );
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(svc.store().queue(None).unwrap().is_empty());
    assert!(!svc.store().is_paused().unwrap());
}

#[test]
fn reading_can_need_a_token() {
    let svc = Service::start(Options {
        public_read: false,
        ..Options::default()
    })
    .unwrap();
    let viewer = svc.token("vic", Role::Viewer);
    for path in [
        "/",
        "/api/v1/status",
        "/api/v1/queue",
        "/metrics",
        "/packages/hello",
    ] {
        assert_eq!(get(&svc.url(path)).status, 401, "{path}");
        assert_ne!(get_as(&svc.url(path), &viewer).status, 401, "{path}");
    }
    // Health checks are for load balancers, which have no token.
    assert_eq!(get(&svc.url("/healthz")).status, 200);
    assert_eq!(get(&svc.url("/health/agent")).status, 200);
    let session = login(&svc, &viewer);
    let page = Answer::from(
        client()
            .get(&svc.url("/"))
            .header("Cookie", &format!("pkgimport_session={}", session.cookie))
            .call(),
    );
    assert_eq!(page.status, 200);
}
