//! The circuit breaker's row, shared by every process through the state database.
//!
//! The transitions themselves are pure (`pkgimport_core::breaker`); this module reads the
//! row, applies one of them and writes it back in the same `BEGIN IMMEDIATE` transaction, so
//! two processes can never both take the probe or both open the breaker.

use pkgimport_core::breaker::{
    self as logic, Breaker, BreakerSettings, BreakerState, Dispatch, Outcome, Transition,
};
use rusqlite::{Transaction, params};

use crate::model::Timestamp;
use crate::store::Store;
use crate::{Result, db};

impl Store {
    /// The breaker as stored.
    pub fn breaker(&mut self) -> Result<Breaker> {
        db::retry("reading the breaker", || {
            let tx = self.conn().transaction()?;
            read(&tx)
        })
    }

    /// What `who` may dispatch now.
    pub fn breaker_dispatch(&mut self, who: &str) -> Result<Dispatch> {
        let now = Timestamp::now().0;
        Ok(logic::may_dispatch(&self.breaker()?, who, now))
    }

    /// Records one upstream outcome and applies the trip rules. Returns the transition, if
    /// the state changed.
    pub fn breaker_record(
        &mut self,
        outcome: Outcome,
        who: &str,
        settings: &BreakerSettings,
        jitter: f64,
    ) -> Result<Option<Transition>> {
        let now = Timestamp::now().0;
        let window_start = now - settings.trip_window.as_millis() as i64;
        db::write(self.conn(), "recording an upstream outcome", |tx| {
            let b = read(tx)?;
            if b.state == BreakerState::Closed {
                tx.prepare_cached(
                    "INSERT INTO breaker_outcomes (at, unavailable) VALUES (?1, ?2)",
                )?
                .execute(params![now, outcome == Outcome::Unavailable])?;
            }
            tx.prepare_cached("DELETE FROM breaker_outcomes WHERE at < ?1")?
                .execute([window_start])?;
            let (bad, total): (i64, i64) = tx.query_row(
                "SELECT coalesce(sum(unavailable), 0), count(*) FROM breaker_outcomes",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let (next, transition) = logic::on_outcome(
                &b,
                outcome,
                who,
                now,
                (bad as u32, total as u32),
                settings,
                jitter,
            );
            write(tx, &next)?;
            if let Some(t) = &transition {
                record_transition(tx, t, now)?;
                if t.to != BreakerState::Closed {
                    // A fresh window after every change: old outcomes belong to the old state.
                    tx.execute("DELETE FROM breaker_outcomes", [])?;
                }
            }
            Ok(transition)
        })
    }

    /// Takes the half-open probe for `who`, if the open duration has passed and nobody holds
    /// it.
    pub fn breaker_take_probe(
        &mut self,
        who: &str,
        settings: &BreakerSettings,
    ) -> Result<Option<Transition>> {
        let now = Timestamp::now().0;
        db::write(self.conn(), "taking the breaker's probe", |tx| {
            let b = read(tx)?;
            let Some((next, t)) = logic::take_probe(&b, who, now, settings) else {
                return Ok(None);
            };
            write(tx, &next)?;
            record_transition(tx, &t, now)?;
            Ok(Some(t))
        })
    }

    /// Gives the probe back without an outcome (see `pkgimport_core::breaker::release_probe`).
    pub fn breaker_release_probe(&mut self, who: &str) -> Result<()> {
        let now = Timestamp::now().0;
        db::write(self.conn(), "releasing the breaker's probe", |tx| {
            if let Some(next) = logic::release_probe(&read(tx)?, who, now) {
                write(tx, &next)?;
            }
            Ok(())
        })
    }

    /// Closes the breaker by hand (`importctl breaker reset`).
    pub fn breaker_reset(&mut self) -> Result<Option<Transition>> {
        let now = Timestamp::now().0;
        db::write(self.conn(), "resetting the breaker", |tx| {
            let b = read(tx)?;
            write(tx, &Breaker::closed())?;
            tx.execute("DELETE FROM breaker_outcomes", [])?;
            if b.state == BreakerState::Closed {
                return Ok(None);
            }
            let t = Transition {
                from: b.state,
                to: BreakerState::Closed,
                was_open_ms: b.opened_at.map(|o| now - o),
            };
            record_transition(tx, &t, now)?;
            Ok(Some(t))
        })
    }

    /// Transitions so far, by target state, for metrics.
    pub fn breaker_transitions(&mut self) -> Result<Vec<(String, u64)>> {
        db::retry("counting breaker transitions", || {
            self.conn()
                .prepare_cached("SELECT to_state, count(*) FROM breaker_transitions GROUP BY to_state ORDER BY to_state")?
                .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                .collect()
        })
    }
}

fn read(tx: &Transaction<'_>) -> rusqlite::Result<Breaker> {
    tx.prepare_cached(
        "SELECT state, opened_at, open_ms, consecutive_opens, consecutive_unavailable, probe_holder,
                probe_lease_until FROM breaker WHERE id = 1",
    )?
    .query_row([], |r| {
        let state: String = r.get(0)?;
        let holder: Option<String> = r.get(5)?;
        let until: Option<i64> = r.get(6)?;
        Ok(Breaker {
            state: BreakerState::parse(&state).unwrap_or(BreakerState::Closed),
            opened_at: r.get(1)?,
            open_ms: r.get(2)?,
            consecutive_opens: r.get(3)?,
            consecutive_unavailable: r.get(4)?,
            probe: holder.zip(until),
        })
    })
}

fn write(tx: &Transaction<'_>, b: &Breaker) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE breaker SET state = ?1, opened_at = ?2, open_ms = ?3, consecutive_opens = ?4,
                consecutive_unavailable = ?5, probe_holder = ?6, probe_lease_until = ?7 WHERE id = 1",
    )?
    .execute(params![
        b.state.as_str(),
        b.opened_at,
        b.open_ms,
        b.consecutive_opens,
        b.consecutive_unavailable,
        b.probe.as_ref().map(|p| p.0.as_str()),
        b.probe.as_ref().map(|p| p.1),
    ])?;
    Ok(())
}

fn record_transition(tx: &Transaction<'_>, t: &Transition, now: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO breaker_transitions (at, from_state, to_state) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![now, t.from.as_str(), t.to.as_str()])?;
    Ok(())
}
