//! The circuit breaker's row, shared by every process through the state database.
//!
//! The transitions themselves are pure (`pkgimport_core::breaker`); this module reads the
//! row, applies one of them and writes it back in the same write transaction (`BEGIN
//! IMMEDIATE` on SQLite, SERIALIZABLE on PostgreSQL), so two processes can never both take
//! the probe or both open the breaker.

use crate::Result;
use crate::model::Timestamp;
use crate::sql::{SqlError, Tx, TxKind, params};
use crate::store::Store;
use pkgimport_core::breaker::{
    self as logic, Breaker, BreakerSettings, BreakerState, Dispatch, Outcome, Transition,
};

impl Store {
    /// The breaker as stored.
    pub fn breaker(&mut self) -> Result<Breaker> {
        self.transact(TxKind::Read, "reading the breaker", read)
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
        self.transact(TxKind::Write, "recording an upstream outcome", |tx| {
            let b = read(tx)?;
            if b.state == BreakerState::Closed {
                tx.execute(
                    "INSERT INTO breaker_outcomes (at, unavailable) VALUES ($1, $2)",
                    params![now, outcome == Outcome::Unavailable],
                )?;
            }
            tx.execute(
                "DELETE FROM breaker_outcomes WHERE at < $1",
                params![window_start],
            )?;
            let counts = tx.query_one(
                "SELECT CAST(coalesce(sum(unavailable), 0) AS BIGINT), count(*) FROM breaker_outcomes",
                params![],
            )?;
            let (bad, total): (i64, i64) = (counts.get(0)?, counts.get(1)?);
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
                    tx.execute("DELETE FROM breaker_outcomes", params![])?;
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
        self.transact(TxKind::Write, "taking the breaker's probe", |tx| {
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
        self.transact(TxKind::Write, "releasing the breaker's probe", |tx| {
            if let Some(next) = logic::release_probe(&read(tx)?, who, now) {
                write(tx, &next)?;
            }
            Ok(())
        })
    }

    /// Closes the breaker by hand (`importctl breaker reset`).
    pub fn breaker_reset(&mut self) -> Result<Option<Transition>> {
        let now = Timestamp::now().0;
        self.transact(TxKind::Write, "resetting the breaker", |tx| {
            let b = read(tx)?;
            write(tx, &Breaker::closed())?;
            tx.execute("DELETE FROM breaker_outcomes", params![])?;
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
        self.transact(TxKind::Read, "counting breaker transitions", |tx| {
            tx.query(
                "SELECT to_state, count(*) FROM breaker_transitions GROUP BY to_state ORDER BY to_state",
                params![],
            )?
            .iter()
            .map(|r| Ok((r.get(0)?, r.get::<i64>(1)? as u64)))
            .collect()
        })
    }
}

fn read(tx: &mut dyn Tx) -> Result<Breaker, SqlError> {
    let r = tx.query_one(
        "SELECT state, opened_at, open_ms, consecutive_opens, consecutive_unavailable, probe_holder,
                probe_lease_until FROM breaker WHERE id = 1",
        params![],
    )?;
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
}

fn write(tx: &mut dyn Tx, b: &Breaker) -> Result<(), SqlError> {
    tx.execute(
        "UPDATE breaker SET state = $1, opened_at = $2, open_ms = $3, consecutive_opens = $4,
                consecutive_unavailable = $5, probe_holder = $6, probe_lease_until = $7 WHERE id = 1",
        params![
            b.state.as_str(),
            b.opened_at,
            b.open_ms,
            b.consecutive_opens,
            b.consecutive_unavailable,
            b.probe.as_ref().map(|p| p.0.as_str()),
            b.probe.as_ref().map(|p| p.1),
        ],
    )?;
    Ok(())
}

fn record_transition(tx: &mut dyn Tx, t: &Transition, now: i64) -> Result<(), SqlError> {
    tx.execute(
        "INSERT INTO breaker_transitions (at, from_state, to_state) VALUES ($1, $2, $3)",
        params![now, t.from.as_str(), t.to.as_str()],
    )?;
    crate::store::record_events(tx, crate::model::EventKind::Breaker, &[], Timestamp(now))
}
