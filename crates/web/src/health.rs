//! Health that does not go through the work path.
//!
//! - **Load shedding.** Every request but `/healthz` passes [`shed`], which counts the
//!   requests in flight; beyond `web.max_in_flight` a request is answered at once with 503
//!   and `Retry-After`, rather than queued without bound.
//! - **`GET /healthz`**: `ready`, or `busy` (503) while requests are being shed, from two
//!   atomics: it touches neither the database nor the page cache, and is routed before the
//!   shedding layer, so a load balancer hears "busy" and moves traffic instead of piling up.
//! - **`GET /health/agent`**: the importer's own health (the driver's heartbeat, the breaker,
//!   the last good poll) in HAProxy's agent-check format, from a snapshot that the writer
//!   refreshes; the request reads only the snapshot.

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pkgimport_queue::Timestamp;

/// After a request was shed, `/healthz` says `busy` for this long.
const BUSY_FOR: Duration = Duration::from_secs(1);

/// The requests in flight, and when one was last shed.
pub(crate) struct Load {
    limit: usize,
    in_flight: AtomicUsize,
    started: Instant,
    /// Milliseconds after `started` of the last shed request, plus one (0: never).
    last_shed: AtomicU64,
}

impl Load {
    pub(crate) fn new(limit: usize) -> Load {
        Load {
            limit: limit.max(1),
            in_flight: AtomicUsize::new(0),
            started: Instant::now(),
            last_shed: AtomicU64::new(0),
        }
    }

    /// Whether requests are being shed: the limit is reached, or one was shed just now.
    pub(crate) fn busy(&self) -> bool {
        if self.in_flight.load(Ordering::Relaxed) >= self.limit {
            return true;
        }
        match self.last_shed.load(Ordering::Relaxed) {
            0 => false,
            at => self.started.elapsed().as_millis() as u64 + 1 - at < BUSY_FOR.as_millis() as u64,
        }
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }
}

/// Counts the request in; sheds it if the service is full.
pub(crate) async fn shed(
    State(state): State<crate::State>,
    request: Request,
    next: Next,
) -> Response {
    let load = &state.load;
    let was = load.in_flight.fetch_add(1, Ordering::AcqRel);
    if was >= load.limit {
        load.in_flight.fetch_sub(1, Ordering::AcqRel);
        load.last_shed.store(
            load.started.elapsed().as_millis() as u64 + 1,
            Ordering::Relaxed,
        );
        state.metrics.shed();
        let mut response =
            (StatusCode::SERVICE_UNAVAILABLE, "busy: try again shortly\n").into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    }
    // Counted out even if the request is dropped half-way (a client hung up).
    let _out = InFlight(load);
    next.run(request).await
}

struct InFlight<'a>(&'a Load);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `GET /healthz`.
pub(crate) async fn healthz(State(state): State<crate::State>) -> Response {
    let mut response = if state.load.busy() {
        (StatusCode::SERVICE_UNAVAILABLE, "busy\n").into_response()
    } else {
        (StatusCode::OK, "ready\n").into_response()
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// When the agent check drains or downs the service.
#[derive(Clone, Debug)]
pub struct AgentThresholds {
    /// The driver's heartbeat older than this (or none at all): `down`.
    pub driver_age_down: Duration,
    /// The last good poll older than this: `drain`.
    pub poll_age_drain: Duration,
}

/// What the agent check reports, refreshed by the writer.
#[derive(Clone, Debug, Default)]
pub(crate) struct Importer {
    /// When the snapshot was read; `None` until the first good read.
    pub(crate) read_at: Option<Timestamp>,
    /// The last read failed: why.
    pub(crate) error: Option<String>,
    pub(crate) driver_seen: Option<Timestamp>,
    pub(crate) breaker: String,
    pub(crate) last_poll: Option<Timestamp>,
    pub(crate) paused: bool,
}

#[derive(Default)]
pub(crate) struct Snapshot(RwLock<Importer>);

impl Snapshot {
    pub(crate) fn get(&self) -> Importer {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn set(&self, importer: Importer) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = importer;
    }
}

/// The agent-check line for `importer` as of `now`: `up ready`, `drain` or `down`, with the
/// reason after `#`.
pub(crate) fn agent_line(importer: &Importer, t: &AgentThresholds, now: Timestamp) -> String {
    let age = |ts: Option<Timestamp>| ts.map(|ts| ts.age(now));
    if let Some(e) = &importer.error {
        return format!("down #state database: {}\n", one_line(e));
    }
    if importer.read_at.is_none() {
        return "down #no health read yet\n".to_owned();
    }
    let driver = match age(importer.driver_seen) {
        None => return "down #no driver has ever run\n".to_owned(),
        Some(a) if a > t.driver_age_down => {
            return format!("down #driver heartbeat {}s old\n", a.as_secs());
        }
        Some(a) => a,
    };
    if importer.breaker != "closed" {
        return format!("drain #breaker {}\n", importer.breaker);
    }
    match age(importer.last_poll) {
        Some(a) if a > t.poll_age_drain => {
            return format!("drain #last good poll {}s ago\n", a.as_secs());
        }
        _ => {}
    }
    let poll =
        age(importer.last_poll).map_or("never".to_owned(), |a| format!("{}s ago", a.as_secs()));
    format!(
        "up ready #driver {}s, breaker closed, poll {poll}{}\n",
        driver.as_secs(),
        if importer.paused { ", paused" } else { "" }
    )
}

fn one_line(s: &str) -> String {
    s.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect()
}

/// `GET /health/agent`.
pub(crate) async fn agent(State(state): State<crate::State>) -> Response {
    let line = agent_line(&state.health.get(), &state.settings.agent, Timestamp::now());
    let mut response = line.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agent_line() {
        let t = AgentThresholds {
            driver_age_down: Duration::from_secs(300),
            poll_age_drain: Duration::from_secs(7200),
        };
        let now = Timestamp(10_000_000);
        let ago = |s: i64| Some(Timestamp(now.0 - s * 1000));
        let good = Importer {
            read_at: Some(now),
            error: None,
            driver_seen: ago(3),
            breaker: "closed".into(),
            last_poll: ago(60),
            paused: false,
        };
        let check = |i: Importer, expect: &str| assert_eq!(agent_line(&i, &t, now), expect);
        check(
            good.clone(),
            "up ready #driver 3s, breaker closed, poll 60s ago\n",
        );
        check(
            Importer {
                paused: true,
                last_poll: None,
                ..good.clone()
            },
            "up ready #driver 3s, breaker closed, poll never, paused\n",
        );
        check(
            Importer {
                breaker: "open".into(),
                ..good.clone()
            },
            "drain #breaker open\n",
        );
        check(
            Importer {
                last_poll: ago(7201),
                ..good.clone()
            },
            "drain #last good poll 7201s ago\n",
        );
        check(
            Importer {
                driver_seen: ago(301),
                ..good.clone()
            },
            "down #driver heartbeat 301s old\n",
        );
        check(
            Importer {
                driver_seen: None,
                ..good.clone()
            },
            "down #no driver has ever run\n",
        );
        check(
            Importer {
                error: Some("connection refused\nmore".into()),
                ..good.clone()
            },
            "down #state database: connection refused\n",
        );
        check(Importer::default(), "down #no health read yet\n");
    }

    #[test]
    fn busy_while_full_and_just_after_shedding() {
        let load = Load::new(2);
        assert!(!load.busy());
        load.in_flight.store(2, Ordering::Relaxed);
        assert!(load.busy());
        load.in_flight.store(0, Ordering::Relaxed);
        load.last_shed.store(
            load.started.elapsed().as_millis() as u64 + 1,
            Ordering::Relaxed,
        );
        assert!(load.busy());
    }
}
