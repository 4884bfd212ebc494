//! The circuit breaker and the retry cooldown, as pure functions of time.
//!
//! When Launchpad is down, every import fails the same way, and recording those as failures
//! is how the old service came to need a human to re-queue a thousand packages. The breaker
//! stops that: upstream-unavailable outcomes (an import exiting 69, a poll finding
//! Launchpad unavailable) feed it; once they dominate, it opens and nothing is dispatched.
//! After the open duration, exactly one probe runs (half-open). Its success closes the
//! breaker and dispatch resumes at full concurrency at once; its failure re-opens it for
//! twice as long, up to a cap. Crashes and bad input are not outages and never feed it.
//!
//! The state lives in the state database so that every process shares it; this module only
//! computes transitions, with the time, the recent outcomes and the jitter passed in.

use std::time::Duration;

/// The breaker's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        }
    }

    pub fn parse(s: &str) -> Option<BreakerState> {
        match s {
            "closed" => Some(BreakerState::Closed),
            "open" => Some(BreakerState::Open),
            "half-open" => Some(BreakerState::HalfOpen),
            _ => None,
        }
    }
}

/// Everything stored about the breaker. Times are milliseconds since the epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breaker {
    pub state: BreakerState,
    /// When it last opened.
    pub opened_at: Option<i64>,
    /// How long this opening lasts before a probe may run.
    pub open_ms: i64,
    /// Openings in a row without a clean close.
    pub consecutive_opens: u32,
    /// Unavailable outcomes in a row (while closed).
    pub consecutive_unavailable: u32,
    /// Who runs the probe, and until when their claim holds.
    pub probe: Option<(String, i64)>,
}

impl Breaker {
    pub fn closed() -> Breaker {
        Breaker {
            state: BreakerState::Closed,
            opened_at: None,
            open_ms: 0,
            consecutive_opens: 0,
            consecutive_unavailable: 0,
            probe: None,
        }
    }
}

/// The breaker's knobs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BreakerSettings {
    /// The first open duration.
    pub open_duration: Duration,
    /// The longest open duration.
    pub max_open_duration: Duration,
    /// Trip after this many unavailable outcomes in a row...
    pub trip_consecutive: u32,
    /// ...or when at least this share of the outcomes in the window were unavailable...
    pub trip_ratio: f64,
    /// ...provided the window holds at least this many outcomes.
    pub trip_min_outcomes: u32,
    pub trip_window: Duration,
    /// How long a probe holder's claim lasts before another process may probe.
    pub probe_lease: Duration,
}

/// One outcome of a call that needed Launchpad.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Launchpad answered.
    Available,
    /// Launchpad (or the archive, or the remote) stayed unavailable after retries, or
    /// answered too slowly.
    Unavailable,
}

/// A change of state, for the log and the transition counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: BreakerState,
    pub to: BreakerState,
    /// How long the breaker had been open, on closing.
    pub was_open_ms: Option<i64>,
}

/// Applies one outcome. `window` is (unavailable, total) over the trip window, this outcome
/// included. `who` is the process reporting it; `jitter` is a number in [0, 1) used to
/// spread the open duration.
pub fn on_outcome(
    b: &Breaker,
    outcome: Outcome,
    who: &str,
    now: i64,
    window: (u32, u32),
    s: &BreakerSettings,
    jitter: f64,
) -> (Breaker, Option<Transition>) {
    let mut next = b.clone();
    let transition = |to| {
        Some(Transition {
            from: b.state,
            to,
            was_open_ms: None,
        })
    };
    match (b.state, outcome) {
        (BreakerState::Closed, Outcome::Available) => {
            next.consecutive_unavailable = 0;
            (next, None)
        }
        (BreakerState::Closed, Outcome::Unavailable) => {
            next.consecutive_unavailable += 1;
            let (bad, total) = window;
            let by_count = next.consecutive_unavailable >= s.trip_consecutive;
            let by_ratio =
                total >= s.trip_min_outcomes && f64::from(bad) >= s.trip_ratio * f64::from(total);
            if by_count || by_ratio {
                open(&mut next, now, s, jitter);
                (next, transition(BreakerState::Open))
            } else {
                (next, None)
            }
        }
        // Only the probe's own outcome decides a half-open breaker; late reports from runs
        // dispatched before it opened do not.
        (BreakerState::HalfOpen, _) if !holds_probe(b, who) => (next, None),
        (BreakerState::HalfOpen, Outcome::Available) => {
            let was_open_ms = b.opened_at.map(|t| now - t);
            next = Breaker::closed();
            (
                next,
                Some(Transition {
                    from: b.state,
                    to: BreakerState::Closed,
                    was_open_ms,
                }),
            )
        }
        (BreakerState::HalfOpen, Outcome::Unavailable) => {
            open(&mut next, now, s, jitter);
            (next, transition(BreakerState::Open))
        }
        // While open, stragglers change nothing.
        (BreakerState::Open, _) => (next, None),
    }
}

/// What the breaker allows a dispatcher to do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dispatch {
    /// Dispatch freely.
    All,
    /// Take the probe: dispatch exactly one job, then nothing until it reports.
    Probe,
    /// Dispatch nothing.
    Nothing,
}

/// What `who` may dispatch at `now`. `Probe` means the caller should take the probe (see
/// [`take_probe`]).
pub fn may_dispatch(b: &Breaker, who: &str, now: i64) -> Dispatch {
    match b.state {
        BreakerState::Closed => Dispatch::All,
        BreakerState::Open if now >= b.opened_at.unwrap_or(0) + b.open_ms => Dispatch::Probe,
        BreakerState::Open => Dispatch::Nothing,
        // A probe whose holder vanished (its lease ran out) may be taken over.
        BreakerState::HalfOpen => match &b.probe {
            Some((_, until)) if *until < now => Dispatch::Probe,
            Some((holder, _)) if holder == who => Dispatch::Nothing,
            _ => Dispatch::Nothing,
        },
    }
}

/// Takes the probe for `who`, if [`may_dispatch`] allows it.
pub fn take_probe(
    b: &Breaker,
    who: &str,
    now: i64,
    s: &BreakerSettings,
) -> Option<(Breaker, Transition)> {
    if may_dispatch(b, who, now) != Dispatch::Probe {
        return None;
    }
    let mut next = b.clone();
    next.state = BreakerState::HalfOpen;
    next.probe = Some((who.to_owned(), now + s.probe_lease.as_millis() as i64));
    Some((
        next,
        Transition {
            from: b.state,
            to: BreakerState::HalfOpen,
            was_open_ms: None,
        },
    ))
}

/// The probe ended without telling anything about upstream (it crashed, or its package was
/// locked): give the probe back, so that the next dispatch probes again at once.
pub fn release_probe(b: &Breaker, who: &str, now: i64) -> Option<Breaker> {
    if b.state != BreakerState::HalfOpen || !holds_probe(b, who) {
        return None;
    }
    let mut next = b.clone();
    next.state = BreakerState::Open;
    next.opened_at = Some(now - b.open_ms);
    next.probe = None;
    Some(next)
}

fn holds_probe(b: &Breaker, who: &str) -> bool {
    b.probe.as_ref().is_some_and(|(holder, _)| holder == who)
}

fn open(b: &mut Breaker, now: i64, s: &BreakerSettings, jitter: f64) {
    let base = s.open_duration.as_millis() as f64;
    let cap = s.max_open_duration.as_millis() as f64;
    let doubled = base * 2f64.powi(b.consecutive_opens.min(30) as i32);
    // ±10% jitter, so that many importers do not probe in step.
    let ms = doubled.min(cap) * (0.9 + 0.2 * jitter.clamp(0.0, 1.0));
    b.state = BreakerState::Open;
    b.opened_at = Some(now);
    b.open_ms = ms.round() as i64;
    b.consecutive_opens += 1;
    b.consecutive_unavailable = 0;
    b.probe = None;
}

/// The cooldown before failure attempt `n` (1-based) is retried automatically:
/// `min(cap, base × 2^(n-1))`, spread by ±`jitter` (a fraction, e.g. 0.2) using `unit`, a
/// number in [0, 1).
pub fn cooldown(n: u32, base: Duration, cap: Duration, jitter: f64, unit: f64) -> Duration {
    let exp = n.saturating_sub(1).min(40) as i32;
    let raw = (base.as_secs_f64() * 2f64.powi(exp)).min(cap.as_secs_f64());
    let factor = 1.0 - jitter + 2.0 * jitter * unit.clamp(0.0, 1.0);
    Duration::from_secs_f64(raw * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> BreakerSettings {
        BreakerSettings {
            open_duration: Duration::from_secs(60),
            max_open_duration: Duration::from_secs(900),
            trip_consecutive: 5,
            trip_ratio: 0.5,
            trip_min_outcomes: 20,
            trip_window: Duration::from_secs(60),
            probe_lease: Duration::from_secs(120),
        }
    }

    #[test]
    fn trips_on_five_in_a_row() {
        let s = settings();
        let mut b = Breaker::closed();
        for i in 1..=4 {
            let (n, t) = on_outcome(&b, Outcome::Unavailable, "d", 1000, (i, i), &s, 0.5);
            assert_eq!(t, None);
            b = n;
        }
        let (b2, t) = on_outcome(&b, Outcome::Available, "d", 1000, (4, 5), &s, 0.5);
        assert_eq!(
            (b2.state, b2.consecutive_unavailable, t),
            (BreakerState::Closed, 0, None),
            "a success resets the run"
        );
        let (b, t) = on_outcome(&b, Outcome::Unavailable, "d", 1000, (5, 5), &s, 0.5);
        assert_eq!(b.state, BreakerState::Open);
        assert_eq!(t.unwrap().to, BreakerState::Open);
        assert_eq!(b.open_ms, 60_000, "no jitter at 0.5");
    }

    #[test]
    fn trips_on_half_of_twenty_in_the_window() {
        let s = settings();
        let b = Breaker::closed();
        let (b1, _) = on_outcome(&b, Outcome::Unavailable, "d", 0, (10, 19), &s, 0.5);
        assert_eq!(b1.state, BreakerState::Closed, "fewer than 20 outcomes");
        let (b2, _) = on_outcome(&b, Outcome::Unavailable, "d", 0, (9, 20), &s, 0.5);
        assert_eq!(b2.state, BreakerState::Closed, "under 50%");
        let (b3, _) = on_outcome(&b, Outcome::Unavailable, "d", 0, (10, 20), &s, 0.5);
        assert_eq!(b3.state, BreakerState::Open);
    }

    #[test]
    fn one_probe_after_the_open_duration_then_close_or_reopen_longer() {
        let s = settings();
        let (open, _) = on_outcome(
            &Breaker {
                consecutive_unavailable: 4,
                ..Breaker::closed()
            },
            Outcome::Unavailable,
            "d",
            0,
            (5, 5),
            &s,
            0.5,
        );
        assert_eq!(may_dispatch(&open, "d", 59_999), Dispatch::Nothing);
        assert_eq!(may_dispatch(&open, "d", 60_000), Dispatch::Probe);
        let (half, t) = take_probe(&open, "d", 60_000, &s).unwrap();
        assert_eq!(
            (half.state, t.to),
            (BreakerState::HalfOpen, BreakerState::HalfOpen)
        );
        assert_eq!(
            may_dispatch(&half, "d", 60_001),
            Dispatch::Nothing,
            "only one probe"
        );
        assert_eq!(may_dispatch(&half, "other", 60_001), Dispatch::Nothing);
        assert!(take_probe(&half, "other", 60_001, &s).is_none());
        // A straggler's report does not decide.
        let (still, t) = on_outcome(&half, Outcome::Available, "other", 60_500, (0, 1), &s, 0.5);
        assert_eq!((still.state, t), (BreakerState::HalfOpen, None));
        // The probe fails: open again, twice as long.
        let (again, _) = on_outcome(&half, Outcome::Unavailable, "d", 61_000, (1, 1), &s, 0.5);
        assert_eq!(
            (again.state, again.open_ms, again.consecutive_opens),
            (BreakerState::Open, 120_000, 2)
        );
        // The next probe succeeds: closed, and the history of openings is forgotten.
        let (half, _) = take_probe(&again, "d", 181_000, &s).unwrap();
        let (closed, t) = on_outcome(&half, Outcome::Available, "d", 190_000, (0, 1), &s, 0.5);
        assert_eq!(closed, Breaker::closed());
        assert_eq!(t.unwrap().was_open_ms, Some(190_000 - 61_000));
    }

    #[test]
    fn open_duration_is_capped_and_jittered() {
        let s = settings();
        let b = Breaker {
            consecutive_opens: 10,
            ..Breaker::closed()
        };
        let (low, _) = on_outcome(
            &Breaker {
                consecutive_unavailable: 4,
                ..b.clone()
            },
            Outcome::Unavailable,
            "d",
            0,
            (5, 5),
            &s,
            0.0,
        );
        let (high, _) = on_outcome(
            &Breaker {
                consecutive_unavailable: 4,
                ..b
            },
            Outcome::Unavailable,
            "d",
            0,
            (5, 5),
            &s,
            0.999_999,
        );
        assert_eq!(low.open_ms, 810_000);
        assert!(
            (989_000..=990_000).contains(&high.open_ms),
            "{}",
            high.open_ms
        );
    }

    #[test]
    fn an_abandoned_probe_can_be_taken_over() {
        let s = settings();
        let open = Breaker {
            state: BreakerState::Open,
            opened_at: Some(0),
            open_ms: 10,
            ..Breaker::closed()
        };
        let (half, _) = take_probe(&open, "dead", 10, &s).unwrap();
        assert_eq!(may_dispatch(&half, "live", 10 + 120_000), Dispatch::Nothing);
        assert_eq!(may_dispatch(&half, "live", 10 + 120_001), Dispatch::Probe);
        let (taken, _) = take_probe(&half, "live", 10 + 120_001, &s).unwrap();
        assert_eq!(taken.probe.unwrap().0, "live");
    }

    #[test]
    fn a_probe_that_tells_nothing_is_given_back() {
        let s = settings();
        let open = Breaker {
            state: BreakerState::Open,
            opened_at: Some(0),
            open_ms: 1000,
            ..Breaker::closed()
        };
        let (half, _) = take_probe(&open, "d", 1000, &s).unwrap();
        assert!(release_probe(&half, "other", 1500).is_none());
        let back = release_probe(&half, "d", 1500).unwrap();
        assert_eq!(back.state, BreakerState::Open);
        assert_eq!(may_dispatch(&back, "d", 1500), Dispatch::Probe);
    }

    #[test]
    fn cooldown_doubles_caps_and_jitters() {
        let base = Duration::from_secs(300);
        let cap = Duration::from_secs(6 * 3600);
        let mid = |n| cooldown(n, base, cap, 0.2, 0.5);
        assert_eq!(mid(1), Duration::from_secs(300));
        assert_eq!(mid(2), Duration::from_secs(600));
        assert_eq!(mid(4), Duration::from_secs(2400));
        assert_eq!(mid(8), cap, "5 min × 2^7 = 10h40m, capped at 6 h");
        assert_eq!(mid(200), cap);
        assert_eq!(cooldown(1, base, cap, 0.2, 0.0), Duration::from_secs(240));
        let top = cooldown(1, base, cap, 0.2, 0.999_999);
        assert!(
            top > Duration::from_secs(359) && top <= Duration::from_secs(360),
            "{top:?}"
        );
    }
}
