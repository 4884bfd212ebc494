//! Health off the work path: beyond `max_in_flight` requests are shed with 503 and
//! `Retry-After`, and `/healthz` still answers, `busy` while shedding and `ready` after;
//! the agent check reads the importer's health; `/metrics` adds the service's own counters.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use crate::common::{Options, Service, get};

#[test]
fn requests_beyond_the_limit_are_shed_and_healthz_says_busy() {
    let svc = Service::start(Options {
        max_in_flight: 1,
        ..Options::default()
    })
    .unwrap();
    assert_eq!(get(&svc.url("/healthz")).body, "ready\n");
    // One request in flight that never ends: a form post whose body never comes.
    let mut stuck = TcpStream::connect(svc.addr).unwrap();
    write!(
        stuck,
        "POST /pause HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ncsrf="
    )
    .unwrap();
    stuck.flush().unwrap();
    crate::common::eventually(
        "the stuck request is in flight and the next is shed",
        || get(&svc.url("/")).status == 503,
    );
    let shed = get(&svc.url("/api/v1/status"));
    assert_eq!(shed.status, 503);
    assert_eq!(shed.header("retry-after"), Some("1"));
    let health = get(&svc.url("/healthz"));
    assert_eq!((health.status, health.body.as_str()), (503, "busy\n"));
    drop(stuck);
    crate::common::eventually("healthz is ready again", || {
        get(&svc.url("/healthz")).status == 200
    });
    assert_eq!(get(&svc.url("/")).status, 200);
    let metrics = get(&svc.url("/metrics")).body;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("pkgimport_web_requests_shed_total ") && !l.ends_with(" 0")),
        "{metrics}"
    );
    assert!(
        metrics.contains("pkgimport_jobs{state=\"queued\"}"),
        "importctl metrics' part"
    );
    assert!(
        metrics.contains("pkgimport_web_request_duration_seconds_bucket{route=\"/\""),
        "{metrics}"
    );
}

#[test]
fn the_agent_check_follows_the_driver_heartbeat() {
    let svc = Service::start(Options::default()).unwrap();
    assert_eq!(
        get(&svc.url("/health/agent")).body,
        "down #no driver has ever run\n"
    );
    svc.store()
        .heartbeat("driver", "host1", 42, pkgimport_queue::Timestamp::now())
        .unwrap();
    crate::common::eventually("the agent says up", || {
        get(&svc.url("/health/agent"))
            .body
            .starts_with("up ready #driver ")
    });
    svc.store().set_paused(true).unwrap();
    crate::common::eventually("the agent says paused", || {
        get(&svc.url("/health/agent")).body.contains("paused")
    });
    std::thread::sleep(Duration::from_millis(10));
}
