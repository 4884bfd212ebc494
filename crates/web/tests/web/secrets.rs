//! No token, session cookie or CSRF token ever reaches the log, at any level: every log
//! record the service emits in this test process is kept and searched for them.

use std::sync::{Mutex, OnceLock};

use pkgimport_queue::Role;

use crate::common::{Answer, Options, Service, client, get, login, post_as, post_form};

static LOG: OnceLock<Mutex<String>> = OnceLock::new();

struct Keep;

impl log::Log for Keep {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {} {}\n", record.level(), record.target(), record.args());
        LOG.get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_str(&line);
    }

    fn flush(&self) {}
}

fn keep_every_log_record() {
    if log::set_logger(&Keep).is_ok() {
        log::set_max_level(log::LevelFilter::Trace);
    }
}

#[test]
fn no_secret_reaches_the_log() {
    keep_every_log_record();
    let svc = Service::start(Options::default()).unwrap();
    svc.fail("broken", "bad", "");
    let operator = svc.token("olga", Role::Operator);
    let viewer = svc.token("vic", Role::Viewer);
    let wrong = "pit_0123456789abcdef-this-is-not-a-token";

    let session = login(&svc, &operator);
    assert_eq!(
        post_form(
            &svc,
            Some(&session),
            "/packages/broken/retry",
            &[("csrf", &session.csrf)]
        )
        .status,
        303
    );
    assert_eq!(
        post_form(
            &svc,
            Some(&session),
            "/pause",
            &[("csrf", "forged-csrf-value")]
        )
        .status,
        403
    );
    assert_eq!(
        post_as(&svc.url("/api/v1/pause"), Some(&operator), "").status,
        200
    );
    assert_eq!(
        post_as(&svc.url("/api/v1/resume"), Some(&viewer), "").status,
        403
    );
    assert_eq!(
        post_as(&svc.url("/api/v1/resume"), Some(wrong), "").status,
        401
    );
    let failed = Answer::from(client().get(&svc.url("/login")).call());
    let nonce = failed.cookie("pkgimport_login").unwrap();
    let refused = Answer::from(
        client()
            .post(&svc.url("/login"))
            .header("Cookie", &format!("pkgimport_login={nonce}"))
            .send_form([("token", wrong), ("nonce", nonce.as_str())]),
    );
    assert_eq!(refused.status, 401);
    crate::common::eventually("the audit log shows the retry", || {
        get(&svc.url("/actions")).body.contains("olga")
    });
    drop(svc);

    let log = LOG.get_or_init(Mutex::default).lock().unwrap().clone();
    assert!(log.contains("action who=olga"), "the log is kept: {log}");
    for (what, secret) in [
        ("operator token", operator.as_str()),
        ("viewer token", viewer.as_str()),
        ("unknown token", wrong),
        ("session cookie", session.cookie.as_str()),
        ("CSRF token", session.csrf.as_str()),
        ("forged CSRF token", "forged-csrf-value"),
        ("login nonce", nonce.as_str()),
    ] {
        assert!(!log.contains(secret), "the {what} is in the log:\n{log}");
    }
}
