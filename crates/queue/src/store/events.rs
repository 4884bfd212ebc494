//! The events table: one row per change that a status page shows, written by the
//! transaction that makes the change, so that a reader following the ids misses none and
//! never sees one that was rolled back. importer-web and `importctl report --watch` follow
//! it to re-render only the pages a change touches. On PostgreSQL each writing transaction
//! also sends a `NOTIFY` (at commit), which wakes a follower at once; on SQLite followers
//! poll by id, which is one index lookup.

use std::time::Duration;

use super::Store;
use crate::backend::postgres::EVENTS_CHANNEL;
use crate::model::*;
use crate::sql::{SqlError, Tx, TxKind, params};
use crate::{Backend, Result};

/// The table keeps about this many of the newest events. A follower further behind than
/// that has missed some and must refresh everything (it can tell: the first id it gets is
/// far above the last one it saw).
pub const EVENTS_KEPT: i64 = 10_000;

/// Pruning runs when an id is a multiple of this, so that most writes pay nothing for it.
const PRUNE_EVERY: i64 = 256;

impl Store {
    /// Events with an id above `after`, oldest first, at most `limit`.
    pub fn events_after(&mut self, after: i64, limit: u32) -> Result<Vec<Event>> {
        self.transact(TxKind::Read, "reading events", |tx| {
            tx.query(
                "SELECT id, kind, package, created_at FROM events WHERE id > $1
                 ORDER BY id LIMIT $2",
                params![after, i64::from(limit)],
            )?
            .iter()
            .map(|r| {
                let kind: String = r.get(1)?;
                Ok(Event {
                    id: r.get(0)?,
                    kind: EventKind::parse(&kind)
                        .ok_or_else(|| SqlError::Invalid(format!("unknown event kind {kind:?}")))?,
                    package: r.get(2)?,
                    created_at: Timestamp(r.get(3)?),
                })
            })
            .collect()
        })
    }

    /// The newest event's id, or 0 when there is none: where a new follower starts.
    pub fn last_event_id(&mut self) -> Result<i64> {
        self.transact(TxKind::Read, "reading the last event", |tx| {
            tx.query_one(
                "SELECT CAST(coalesce(max(id), 0) AS BIGINT) FROM events",
                params![],
            )?
            .get(0)
        })
    }

    /// Waits up to `timeout` for a hint that events were written, and says whether one came.
    /// On PostgreSQL this listens for the `NOTIFY` that every event-writing transaction
    /// sends; on SQLite it sleeps the whole timeout and returns false. It blocks the calling
    /// thread; it is only a hint, so keep reading by id.
    pub fn wait_for_events(&mut self, timeout: Duration) -> Result<bool> {
        match self.postgres_mut() {
            None => {
                std::thread::sleep(timeout);
                Ok(false)
            }
            Some(c) => c.wait_for(EVENTS_CHANNEL, timeout),
        }
    }
}

/// Records one event per package (or one without a package when `packages` is empty), in
/// the caller's transaction; on PostgreSQL also notifies followers (sent at commit).
pub(crate) fn record_events(
    tx: &mut dyn Tx,
    kind: EventKind,
    packages: &[&str],
    now: Timestamp,
) -> Result<(), SqlError> {
    let none: [Option<&str>; 1] = [None];
    let targets: Vec<Option<&str>> = if packages.is_empty() {
        none.to_vec()
    } else {
        packages.iter().map(|p| Some(*p)).collect()
    };
    for package in targets {
        let id: i64 = tx
            .query_one(
                "INSERT INTO events (kind, package, created_at) VALUES ($1, $2, $3) RETURNING id",
                params![kind.as_str(), package, now.0],
            )?
            .get(0)?;
        if id % PRUNE_EVERY == 0 {
            tx.execute(
                "DELETE FROM events WHERE id <= $1",
                params![id - EVENTS_KEPT],
            )?;
        }
    }
    if tx.backend() == Backend::Postgres {
        tx.execute("SELECT pg_notify($1, '')", params![EVENTS_CHANNEL])?;
    }
    Ok(())
}
