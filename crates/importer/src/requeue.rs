//! `retry-failures`: transient failures go back to the queue by themselves, after a cooldown
//! that doubles with each attempt, unless the same failure keeps repeating.
//!
//! The rule: requeue what looks transient (a timeout talking to Launchpad), only after a
//! cooldown, and not when the package failed the same way several times in a row, which
//! hints that the package itself makes the service misbehave. Such a package "needs
//! attention": status and the report show it, and only a human retries it. Permanent
//! failures are never retried automatically.

use std::time::Duration;

use pkgimport_core::breaker::cooldown;
use pkgimport_core::{PackageName, Priority};
use pkgimport_queue::{FailureRecord, Store, Timestamp};

/// The retry policy, from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct RetrySettings {
    pub cooldown_base: Duration,
    pub cooldown_cap: Duration,
    /// Spread each cooldown by up to this fraction either way.
    pub jitter: f64,
    pub max_consecutive: u32,
}

/// What to do with one failure now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Re-queue it at priority `retry`.
    Retry,
    /// Not yet: the cooldown ends at this time.
    Wait(Timestamp),
    /// Repeated too often: a human must look.
    NeedsAttention,
    /// Never retried automatically.
    Permanent,
    /// Already re-queued, or already given up on.
    Skip,
}

/// The decision for one failure at `now`. Pure: the jitter comes from the package name and
/// the attempt, so every run of retry-failures agrees on a failure's cooldown.
pub fn decide(f: &FailureRecord, now: Timestamp, s: &RetrySettings) -> Decision {
    if f.retrying || f.needs_attention {
        return Decision::Skip;
    }
    if !f.transient {
        return Decision::Permanent;
    }
    if f.consecutive >= i64::from(s.max_consecutive) {
        return Decision::NeedsAttention;
    }
    let n = f.attempts.clamp(1, i64::from(u32::MAX)) as u32;
    let wait = cooldown(
        n,
        s.cooldown_base,
        s.cooldown_cap,
        s.jitter,
        unit(&f.package, n),
    );
    let due = f.last_seen.plus(wait);
    if now >= due {
        Decision::Retry
    } else {
        Decision::Wait(due)
    }
}

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetrySummary {
    pub requeued: u64,
    pub waiting: u64,
    pub needs_attention: u64,
    pub permanent: u64,
}

/// One pass over the failures.
pub fn retry_failures(
    store: &mut Store,
    s: &RetrySettings,
    now: Timestamp,
) -> Result<RetrySummary, pkgimport_queue::Error> {
    let mut summary = RetrySummary::default();
    let mut retry = Vec::new();
    let mut attention = Vec::new();
    for f in store.failures()? {
        let Ok(name) = PackageName::parse(&f.package) else {
            continue;
        };
        match decide(&f, now, s) {
            Decision::Retry => retry.push(name),
            Decision::Wait(_) => summary.waiting += 1,
            Decision::NeedsAttention => {
                log::warn!(
                    "package={} needs attention: failed {} times in a row with signature={:?}",
                    f.package,
                    f.consecutive,
                    f.signature
                );
                attention.push(name);
            }
            Decision::Permanent => summary.permanent += 1,
            Decision::Skip => {}
        }
    }
    if !attention.is_empty() {
        store.set_needs_attention(&attention)?;
    }
    if !retry.is_empty() {
        store.retry(&retry, Priority::RETRY)?;
    }
    summary.requeued = retry.len() as u64;
    summary.needs_attention = attention.len() as u64;
    Ok(summary)
}

/// A number in [0, 1) from the package and attempt (FNV-1a): stable across runs, spread
/// across packages.
fn unit(package: &str, attempt: u32) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in package.bytes().chain(attempt.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> RetrySettings {
        RetrySettings {
            cooldown_base: Duration::from_secs(300),
            cooldown_cap: Duration::from_secs(6 * 3600),
            jitter: 0.2,
            max_consecutive: 5,
        }
    }

    fn failure(attempts: i64, consecutive: i64, transient: bool, last_seen: i64) -> FailureRecord {
        FailureRecord {
            package: "hello".into(),
            signature: "died".into(),
            transient,
            attempts,
            consecutive,
            first_seen: Timestamp(0),
            last_seen: Timestamp(last_seen),
            retrying: false,
            needs_attention: false,
            tail: String::new(),
        }
    }

    #[test]
    fn cooldowns_grow_with_attempts_within_the_jitter() {
        let s = settings();
        for (attempts, nominal) in [
            (1, 300_000i64),
            (2, 600_000),
            (3, 1_200_000),
            (10, 6 * 3_600_000),
        ] {
            let f = failure(attempts, 1, true, 0);
            let Decision::Wait(due) = decide(&f, Timestamp(0), &s) else {
                panic!("attempt {attempts}")
            };
            let lo = (nominal as f64 * 0.8) as i64;
            let hi = (nominal as f64 * 1.2) as i64;
            assert!(
                (lo..=hi).contains(&due.0),
                "attempt {attempts}: due {} not in {lo}..={hi}",
                due.0
            );
            assert_eq!(decide(&f, Timestamp(due.0 - 1), &s), Decision::Wait(due));
            assert_eq!(decide(&f, due, &s), Decision::Retry);
        }
    }

    #[test]
    fn jitter_is_stable_per_package_and_spread_across_packages() {
        assert_eq!(unit("hello", 1), unit("hello", 1));
        let spread: Vec<f64> = (0..100).map(|i| unit(&format!("p{i}"), 1)).collect();
        assert!(spread.iter().all(|u| (0.0..1.0).contains(u)));
        assert!(spread.iter().any(|u| *u < 0.2) && spread.iter().any(|u| *u > 0.8));
    }

    #[test]
    fn permanent_repeated_and_retrying_failures_are_not_requeued() {
        let s = settings();
        let far = Timestamp(i64::MAX / 2);
        assert_eq!(
            decide(&failure(1, 1, false, 0), far, &s),
            Decision::Permanent
        );
        assert_eq!(
            decide(&failure(5, 5, true, 0), far, &s),
            Decision::NeedsAttention
        );
        assert_eq!(
            decide(&failure(9, 4, true, 0), far, &s),
            Decision::Retry,
            "different signatures in between"
        );
        let mut f = failure(1, 1, true, 0);
        f.retrying = true;
        assert_eq!(decide(&f, far, &s), Decision::Skip);
        f.retrying = false;
        f.needs_attention = true;
        assert_eq!(decide(&f, far, &s), Decision::Skip);
    }
}
