//! The backoff policy: which failures are worth another attempt, and how long to wait first.
//!
//! This module is pure. It never sleeps and never touches the network: it *returns* delays,
//! and the client sleeps through an injectable [`Sleeper`]. That keeps the backoff maths
//! unit-testable and lets integration tests assert the delays requested without waiting for
//! them (cargo's `util/network/retry.rs` works the same way).
//!
//! The policy is randomized exponential backoff with *full jitter*: before attempt `n + 1`
//! the client waits a uniformly random time in `[0, min(cap, base * 2^(n-1))]`. Full jitter
//! spreads the retries of many clients after an outage instead of having them hammer
//! Launchpad in lock-step. A `Retry-After` header raises the delay to at least its value,
//! but never beyond `retry_after_cap`: Launchpad's timeout page always says
//! `Retry-After: 900`, a static hint that would stall a poller for a quarter of an hour.

use std::time::{Duration, SystemTime};

use rand::Rng;

/// How many attempts to make and how long to wait between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// Total attempts, the first one included. `1` disables retrying.
    pub max_attempts: u32,
    /// The backoff ceiling before the first retry (1 s in production).
    pub base: Duration,
    /// The largest ceiling the exponential growth may reach (30 s in production).
    pub cap: Duration,
    /// The longest `Retry-After` the client will honour.
    pub retry_after_cap: Duration,
}

impl BackoffPolicy {
    /// The delay before the next attempt, or `None` when the attempts are used up.
    ///
    /// `attempts_made` counts the attempts that already failed (so it is 1 after the first
    /// failure). `retry_after` is the server's `Retry-After`, already parsed.
    pub fn next_delay<R: Rng + ?Sized>(
        &self,
        attempts_made: u32,
        retry_after: Option<Duration>,
        rng: &mut R,
    ) -> Option<Duration> {
        if attempts_made == 0 || attempts_made >= self.max_attempts {
            return None;
        }
        let ceiling = self.backoff_ceiling(attempts_made);
        let jitter = if ceiling.is_zero() {
            Duration::ZERO
        } else {
            ceiling.mul_f64(rng.random::<f64>())
        };
        let floor = retry_after
            .map(|wanted| wanted.min(self.retry_after_cap))
            .unwrap_or(Duration::ZERO);
        Some(jitter.max(floor))
    }

    /// `min(cap, base * 2^(attempts_made - 1))`, the upper bound of the jittered delay.
    pub fn backoff_ceiling(&self, attempts_made: u32) -> Duration {
        let exponent = attempts_made.saturating_sub(1).min(31);
        let factor = 1u32 << exponent;
        self.base
            .checked_mul(factor)
            .map_or(self.cap, |d| d.min(self.cap))
    }

    /// The longest total time the policy may sleep over all attempts (for "bounded time"
    /// checks and for operators' sanity): the sum of every ceiling, with each delay also
    /// allowed to be the capped `Retry-After`.
    pub fn worst_case_total_delay(&self) -> Duration {
        (1..self.max_attempts)
            .map(|n| self.backoff_ceiling(n).max(self.retry_after_cap))
            .sum()
    }
}

/// Whether an HTTP status is worth retrying: 429 (rate limited) and the proxy and
/// maintenance answers 502, 503 and 504. Never any other 4xx, and not 500, which Launchpad
/// uses for bugs (OOPSes) that a retry will not fix.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// Parses a `Retry-After` value: delta-seconds (`"120"`) or an HTTP date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`), the latter relative to `now`. A date in the past
/// means "retry now" (zero). Garbage gives `None`, so the plain backoff applies.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let when = SystemTime::from(when);
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Something that waits. The client calls it between attempts; tests substitute a
/// recorder that returns at once.
pub trait Sleeper: Send + Sync {
    /// Waits for `delay` (or pretends to).
    fn sleep(&self, delay: Duration);
}

/// The production sleeper: `std::thread::sleep`.
#[derive(Debug, Clone, Copy)]
pub struct ThreadSleeper;

impl Sleeper for ThreadSleeper {
    fn sleep(&self, delay: Duration) {
        std::thread::sleep(delay);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn policy() -> BackoffPolicy {
        BackoffPolicy {
            max_attempts: 7,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(30),
            retry_after_cap: Duration::from_secs(60),
        }
    }

    #[test]
    fn ceilings_double_then_cap() {
        let p = policy();
        let ceilings: Vec<u64> = (1..=8).map(|n| p.backoff_ceiling(n).as_secs()).collect();
        assert_eq!(ceilings, [1, 2, 4, 8, 16, 30, 30, 30]);
        // Huge attempt numbers must not overflow.
        assert_eq!(p.backoff_ceiling(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn delays_stay_within_full_jitter_bounds() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 1..p.max_attempts {
            for _ in 0..200 {
                let d = p.next_delay(attempt, None, &mut rng).unwrap();
                assert!(d <= p.backoff_ceiling(attempt), "attempt {attempt}: {d:?}");
            }
        }
    }

    #[test]
    fn jitter_is_spread_not_constant() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(1);
        let delays: Vec<Duration> = (0..50)
            .map(|_| p.next_delay(5, None, &mut rng).unwrap())
            .collect();
        let min = delays.iter().min().unwrap();
        let max = delays.iter().max().unwrap();
        assert!(*max - *min > Duration::from_secs(5), "{min:?}..{max:?}");
    }

    #[test]
    fn attempts_run_out() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(1);
        assert!(p.next_delay(6, None, &mut rng).is_some());
        assert_eq!(p.next_delay(7, None, &mut rng), None);
        assert_eq!(p.next_delay(0, None, &mut rng), None);
        let once = BackoffPolicy {
            max_attempts: 1,
            ..p
        };
        assert_eq!(once.next_delay(1, None, &mut rng), None);
    }

    #[test]
    fn retry_after_is_a_floor_up_to_its_cap() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..100 {
            let d = p
                .next_delay(1, Some(Duration::from_secs(5)), &mut rng)
                .unwrap();
            assert_eq!(d, Duration::from_secs(5));
        }
        let d = p
            .next_delay(1, Some(Duration::from_secs(900)), &mut rng)
            .unwrap();
        assert_eq!(d, Duration::from_secs(60));
    }

    #[test]
    fn zero_base_never_sleeps() {
        let p = BackoffPolicy {
            base: Duration::ZERO,
            retry_after_cap: Duration::ZERO,
            ..policy()
        };
        let mut rng = StdRng::seed_from_u64(3);
        assert_eq!(
            p.next_delay(3, Some(Duration::from_secs(9)), &mut rng),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn worst_case_is_bounded() {
        let p = BackoffPolicy {
            retry_after_cap: Duration::from_secs(1),
            ..policy()
        };
        // 1 + 2 + 4 + 8 + 16 + 30
        assert_eq!(p.worst_case_total_delay(), Duration::from_secs(61));
    }

    #[test]
    fn retryable_statuses() {
        let retryable: Vec<u16> = (400..600).filter(|s| is_retryable_status(*s)).collect();
        assert_eq!(retryable, [429, 502, 503, 504]);
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_000);
        assert_eq!(
            parse_retry_after("900", now),
            Some(Duration::from_secs(900))
        );
        assert_eq!(parse_retry_after(" 1 ", now), Some(Duration::from_secs(1)));
        // 1445412480 is Wed, 21 Oct 2015 07:28:00 GMT.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(480))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
