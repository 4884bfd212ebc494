//! Pages follow the state database as it changes, on both backends: a run that ends shows on
//! its package's page, the index, the queue and the runs; the delay from the run's end to
//! the page showing it is measured (p50, p99) and printed, without a timing assertion.

use std::time::{Duration, Instant};

use pkgimport_core::Priority;

use crate::common::{Options, Service, get, name, success};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[expect(clippy::print_stdout, reason = "the figures are the point")]
fn runs_reach_the_pages(svc: &Service, backend: &str) {
    let runs = 30;
    let mut delays = Vec::new();
    let mut s = svc.store();
    for i in 0..runs {
        let package = format!("pkg{}", i % 3);
        // The page is cached before the run ends, so only the writer can refresh it.
        let page = svc.url(&format!("/packages/{package}"));
        get(&page);
        s.enqueue(&[name(&package)], Priority::UPLOAD).unwrap();
        let claim = s.claim(1).unwrap().unwrap();
        get(&page);
        s.finish_run(claim.run_id, &success()).unwrap();
        let ended = Instant::now();
        let marker = format!("id=\"run-{}\"", claim.run_id);
        loop {
            let body = get(&page).body;
            if body.contains(&marker) && body.contains("success") {
                break;
            }
            assert!(
                ended.elapsed() < Duration::from_secs(30),
                "{backend}: run {} never showed",
                claim.run_id
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        delays.push(ended.elapsed());
    }
    crate::common::eventually("the runs page shows the last run", || {
        get(&svc.url("/runs"))
            .body
            .contains(&format!("pkg{}", (runs - 1) % 3))
    });
    delays.sort();
    println!(
        "{backend}: from a run's end to its page: p50 {:?}, p99 {:?}, max {:?} over {runs} runs",
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        delays.last().unwrap()
    );
}

#[test]
fn a_run_that_ends_reaches_the_pages_on_sqlite() {
    let svc = Service::start(Options::default()).unwrap();
    runs_reach_the_pages(&svc, "sqlite");
}

#[test]
fn a_run_that_ends_reaches_the_pages_on_postgresql() {
    let Some(svc) = Service::start(Options {
        postgres: true,
        ..Options::default()
    }) else {
        return pkgimport_testkit::pg::skipped();
    };
    runs_reach_the_pages(&svc, "postgresql");
}

#[test]
fn the_pause_flag_and_the_breaker_reach_the_index() {
    let svc = Service::start(Options::default()).unwrap();
    assert!(!get(&svc.url("/")).body.contains("PAUSED"));
    svc.store().set_paused(true).unwrap();
    crate::common::eventually("the index says paused", || {
        get(&svc.url("/")).body.contains("PAUSED")
    });
    crate::common::eventually("the status API says paused", || {
        get(&svc.url("/api/v1/status")).json()["paused"] == true
    });
}
