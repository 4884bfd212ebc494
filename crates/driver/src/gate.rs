//! How many jobs the driver may start now: the circuit breaker, shared through the state
//! database, and the driver's own back-pressure.
//!
//! The breaker decides between "dispatch freely", "nothing" and "one probe". Back-pressure
//! acts before it trips: a slot freed by an upstream-unavailable outcome is not refilled
//! until a run started after that outcome has succeeded, so the driver does not feed fresh
//! jobs into an outage at full concurrency while the breaker is still counting. During an
//! outage, the only new runs are then those that replace runs that had already finished
//! their upstream work, plus the probes.

use std::time::Instant;

use pkgimport_core::breaker::{BreakerSettings, BreakerState, Dispatch, Outcome, Transition};
use pkgimport_queue::{Claim, Store};

use crate::judge::ChildEnd;

pub(crate) struct Gate {
    settings: BreakerSettings,
    /// This driver's name in the breaker row.
    who: String,
    /// Slots not refilled since upstream looked unavailable.
    held_back: usize,
    /// When the first of those unavailable outcomes came in.
    suspect_since: Option<Instant>,
    /// The probe has been taken; the next claim is it.
    probe_taken: bool,
    /// The run that is the probe.
    probe_run: Option<i64>,
}

impl Gate {
    pub(crate) fn new(settings: BreakerSettings, who: String) -> Gate {
        Gate {
            settings,
            who,
            held_back: 0,
            suspect_since: None,
            probe_taken: false,
            probe_run: None,
        }
    }

    /// How many more jobs may be claimed now, with `running` children.
    pub(crate) fn capacity(
        &mut self,
        store: &mut Store,
        concurrency: usize,
        running: usize,
    ) -> Result<usize, pkgimport_queue::Error> {
        if self.probe_taken || self.probe_run.is_some() {
            return Ok(usize::from(self.probe_taken));
        }
        match store.breaker_dispatch(&self.who)? {
            Dispatch::All => {
                // Always keep one in flight, so that outcomes keep coming and the breaker can
                // make up its mind.
                let limit = concurrency.saturating_sub(self.held_back).max(1);
                Ok(limit.saturating_sub(running))
            }
            Dispatch::Nothing => Ok(0),
            Dispatch::Probe => {
                if !store.has_claimable_now()? {
                    return Ok(0);
                }
                match store.breaker_take_probe(&self.who, &self.settings)? {
                    Some(t) => {
                        log_transition(&t);
                        self.probe_taken = true;
                        Ok(1)
                    }
                    None => Ok(0),
                }
            }
        }
    }

    pub(crate) fn claimed(&mut self, claim: &Claim) {
        if self.probe_taken {
            self.probe_taken = false;
            self.probe_run = Some(claim.run_id);
            log::info!(
                "probing Launchpad with package={} run={}",
                claim.package,
                claim.run_id
            );
        }
    }

    /// The probe was taken but nothing could be claimed after all.
    pub(crate) fn nothing_claimed(
        &mut self,
        store: &mut Store,
    ) -> Result<(), pkgimport_queue::Error> {
        if self.probe_taken {
            self.probe_taken = false;
            store.breaker_release_probe(&self.who)?;
        }
        Ok(())
    }

    /// Feeds a finished run to the breaker and the back-pressure.
    pub(crate) fn finished(
        &mut self,
        store: &mut Store,
        claim: &Claim,
        started: Instant,
        end: &ChildEnd,
    ) -> Result<(), pkgimport_queue::Error> {
        let outcome = match end {
            ChildEnd::Exited(69) => Some(Outcome::Unavailable),
            // Launchpad answered: the import succeeded, or the input was bad.
            ChildEnd::Exited(0 | 65) => Some(Outcome::Available),
            // Crashes, timeouts, lock conflicts and the like say nothing about upstream.
            _ => None,
        };
        let was_probe = self.probe_run == Some(claim.run_id);
        if was_probe {
            self.probe_run = None;
        }
        // Good news from a run that started before upstream looked unavailable is stale: it
        // says Launchpad was up then, not now. It must not reset the breaker's count of
        // failures in a row, or an outage would take longer to trip while old runs finish.
        let stale = outcome == Some(Outcome::Available)
            && self.suspect_since.is_some_and(|since| started <= since);
        match outcome {
            Some(Outcome::Unavailable) => {
                self.held_back += 1;
                self.suspect_since.get_or_insert_with(Instant::now);
            }
            // A run started after upstream looked unavailable has succeeded: all is well.
            Some(Outcome::Available) if !stale && self.suspect_since.is_some() => {
                self.held_back = 0;
                self.suspect_since = None;
            }
            Some(Outcome::Available) | None => {}
        }
        let outcome = match outcome {
            Some(_) if stale => None,
            other => other,
        };
        let Some(outcome) = outcome else {
            if was_probe {
                store.breaker_release_probe(&self.who)?;
            }
            return Ok(());
        };
        let transition = store.breaker_record(outcome, &self.who, &self.settings, jitter())?;
        if let Some(t) = transition {
            if t.to == BreakerState::Closed {
                self.held_back = 0;
                self.suspect_since = None;
            }
            log_transition(&t);
        }
        Ok(())
    }
}

fn log_transition(t: &Transition) {
    match t.to {
        BreakerState::Open if t.from == BreakerState::HalfOpen => {
            log::warn!("Launchpad is still down (breaker open again), pausing imports")
        }
        BreakerState::Open => log::warn!("Launchpad is down (breaker open), pausing imports"),
        BreakerState::HalfOpen => log::info!("breaker half-open: one probe import may run"),
        BreakerState::Closed => {
            let after = t.was_open_ms.map_or("a while".to_owned(), |ms| {
                humanize(std::time::Duration::from_millis(ms.max(0) as u64))
            });
            log::warn!("Launchpad is back after {after} (breaker closed), resuming imports");
        }
    }
}

/// `100s` → `1m40s`, as the seed's log said it.
fn humanize(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        _ => format!("{}h{}m", s / 3600, (s % 3600) / 60),
    }
}

/// A number in [0, 1) to spread open durations; the clock's sub-second part is random
/// enough for that.
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(nanos) / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_matches_the_seed() {
        assert_eq!(humanize(std::time::Duration::from_secs(100)), "1m40s");
        assert_eq!(humanize(std::time::Duration::from_secs(5)), "5s");
        assert_eq!(humanize(std::time::Duration::from_secs(7300)), "2h1m");
    }
}
