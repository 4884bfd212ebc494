//! The service's own metrics: requests by route and status, their latency as a histogram per
//! route, and the requests shed. Routes are the matched patterns (`/packages/{name}`), never
//! the paths, so a crawler cannot make a label per package. `GET /metrics` serves them after
//! the importer's own (`importctl metrics`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    shed: AtomicU64,
    /// From an event's commit to its pages re-rendered.
    delay: Mutex<Histogram>,
}

#[derive(Clone, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    pub(crate) fn shed(&self) {
        self.shed.fetch_add(1, Ordering::Relaxed);
    }

    /// Records how long an event took to reach its pages.
    pub(crate) fn event_delay(&self, seconds: f64) {
        lock(&self.delay).add(seconds);
    }

    fn record(&self, route: &str, status: u16, seconds: f64) {
        *lock(&self.requests)
            .entry((route.to_owned(), status))
            .or_default() += 1;
        lock(&self.latency)
            .entry(route.to_owned())
            .or_default()
            .add(seconds);
    }

    /// The exposition of the service's own metrics.
    pub(crate) fn render(&self, in_flight: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP pkgimport_web_requests_total Requests answered by importer-web, by route and status."
        );
        let _ = writeln!(out, "# TYPE pkgimport_web_requests_total counter");
        for ((route, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "pkgimport_web_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                label(route)
            );
        }
        let _ = writeln!(
            out,
            "# HELP pkgimport_web_request_duration_seconds Time to answer a request, by route."
        );
        let _ = writeln!(
            out,
            "# TYPE pkgimport_web_request_duration_seconds histogram"
        );
        for (route, h) in lock(&self.latency).iter() {
            let route = label(route);
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "pkgimport_web_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "pkgimport_web_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "pkgimport_web_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "pkgimport_web_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP pkgimport_web_event_delay_seconds From an event's commit to the pages it touches re-rendered."
        );
        let _ = writeln!(out, "# TYPE pkgimport_web_event_delay_seconds histogram");
        let d = lock(&self.delay).clone();
        for (bound, n) in BUCKETS.iter().zip(d.counts) {
            let _ = writeln!(
                out,
                "pkgimport_web_event_delay_seconds_bucket{{le=\"{bound}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "pkgimport_web_event_delay_seconds_bucket{{le=\"+Inf\"}} {}",
            d.count
        );
        let _ = writeln!(out, "pkgimport_web_event_delay_seconds_sum {}", d.sum);
        let _ = writeln!(out, "pkgimport_web_event_delay_seconds_count {}", d.count);
        let _ = writeln!(
            out,
            "# HELP pkgimport_web_requests_shed_total Requests refused with 503 because too many were in flight."
        );
        let _ = writeln!(out, "# TYPE pkgimport_web_requests_shed_total counter");
        let _ = writeln!(
            out,
            "pkgimport_web_requests_shed_total {}",
            self.shed.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP pkgimport_web_requests_in_flight Requests being handled now."
        );
        let _ = writeln!(out, "# TYPE pkgimport_web_requests_in_flight gauge");
        let _ = writeln!(out, "pkgimport_web_requests_in_flight {in_flight}");
        out
    }
}

impl Histogram {
    fn add(&mut self, seconds: f64) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A label value, escaped as the exposition format wants.
fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Times every request and counts it by route and status. Requests that matched no route
/// count as `unmatched`.
pub(crate) async fn measure(
    State(state): State<crate::State>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    state.metrics.record(&route, status, took.as_secs_f64());
    log::debug!(
        "request method={method} route={route} status={status} ms={}",
        took.as_millis()
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets() {
        let m = Metrics::default();
        m.record("/", 200, 0.003);
        m.record("/", 200, 0.3);
        m.record("/packages/{name}", 404, 0.0001);
        m.shed();
        let out = m.render(2);
        for line in [
            "pkgimport_web_requests_total{route=\"/\",status=\"200\"} 2",
            "pkgimport_web_requests_total{route=\"/packages/{name}\",status=\"404\"} 1",
            "pkgimport_web_request_duration_seconds_bucket{route=\"/\",le=\"0.005\"} 1",
            "pkgimport_web_request_duration_seconds_bucket{route=\"/\",le=\"0.5\"} 2",
            "pkgimport_web_request_duration_seconds_count{route=\"/\"} 2",
            "pkgimport_web_requests_shed_total 1",
            "pkgimport_web_requests_in_flight 2",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} not in:\n{out}");
        }
    }
}
