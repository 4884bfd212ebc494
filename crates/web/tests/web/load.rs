//! A short load test (the long one is `cargo xtask web-load`): clients read the pages while
//! a stand-in driver claims and finishes jobs as fast as it can, with a limit on requests
//! in flight low enough that some are shed. Every answer is a page or a 503 with
//! `Retry-After`; `/healthz` answers every probe with `ready` or `busy`; the jobs get done.
//! Figures are printed, not asserted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pkgimport_core::Priority;

use crate::common::{Options, Service, client, name, success};

const CLIENTS: usize = 16;
const FOR: Duration = Duration::from_secs(2);

fn p99(v: &mut [Duration]) -> Duration {
    v.sort();
    v.get(((v.len().max(1) - 1) as f64 * 0.99) as usize)
        .copied()
        .unwrap_or_default()
}

#[test]
#[expect(clippy::print_stdout, reason = "the figures are the point")]
fn pages_under_load_while_jobs_run() {
    let svc = Service::start(Options {
        max_in_flight: 2,
        ..Options::default()
    })
    .unwrap();
    let jobs: Vec<_> = (0..5000).map(|i| name(&format!("pkg{i}"))).collect();
    svc.store().enqueue(&jobs, Priority::UPLOAD).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let paths = [
        "/",
        "/queue",
        "/runs",
        "/failures",
        "/api/v1/status",
        "/packages/pkg1",
    ];

    let readers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let stop = stop.clone();
            let base = svc.url("");
            std::thread::spawn(move || {
                let agent = client();
                let (mut ok, mut shed, mut lat) = (0, 0, Vec::new());
                let mut i = c;
                while !stop.load(Ordering::Relaxed) {
                    let path = paths[i % paths.len()];
                    i += 1;
                    let started = Instant::now();
                    let mut r = agent.get(&format!("{base}{path}")).call().unwrap();
                    let _ = r.body_mut().read_to_string();
                    lat.push(started.elapsed());
                    match r.status().as_u16() {
                        200 => ok += 1,
                        503 => {
                            assert_eq!(
                                r.headers().get("retry-after").map(|v| v.to_str().unwrap()),
                                Some("1")
                            );
                            shed += 1;
                        }
                        other => panic!("{path}: {other}"),
                    }
                }
                (ok, shed, lat)
            })
        })
        .collect();
    let probe = {
        let stop = stop.clone();
        let url = svc.url("/healthz");
        std::thread::spawn(move || {
            let agent = client();
            let (mut lat, mut busy) = (Vec::new(), 0);
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let mut r = agent.get(&url).call().unwrap();
                let body = r.body_mut().read_to_string().unwrap();
                lat.push(started.elapsed());
                match (r.status().as_u16(), body.as_str()) {
                    (200, "ready\n") => {}
                    (503, "busy\n") => busy += 1,
                    other => panic!("/healthz: {other:?}"),
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            (lat, busy)
        })
    };
    // The stand-in driver: claims and finishes, as the driver does, in this thread.
    let mut store = svc.store();
    let started = Instant::now();
    let mut done = 0;
    while started.elapsed() < FOR {
        let Some(c) = store.claim(1).unwrap() else {
            break;
        };
        store.finish_run(c.run_id, &success()).unwrap();
        done += 1;
    }
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (mut ok, mut shed, mut lat) = (0, 0, Vec::new());
    for r in readers {
        let (o, s, l) = r.join().unwrap();
        ok += o;
        shed += s;
        lat.extend(l);
    }
    let (mut health, busy) = probe.join().unwrap();
    assert!(done > 0, "no job got done");
    assert!(!health.is_empty(), "/healthz was never answered");
    println!(
        "{CLIENTS} clients for {took:?}: {ok} pages, {shed} shed, {:.0} requests/s, p99 {:?}; \
         /healthz p99 {:?} over {} probes ({busy} busy); {done} jobs ({:.0}/s)",
        (ok + shed) as f64 / took.as_secs_f64(),
        p99(&mut lat),
        p99(&mut health),
        health.len(),
        done as f64 / took.as_secs_f64()
    );
}
