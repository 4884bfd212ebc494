//! `LISTEN/NOTIFY`: how an idle process hears at once that something changed, instead of
//! waiting for its next poll. Idle drivers listen for enqueued jobs (sent by `enqueue` and
//! `retry`), importer-web and `importctl report --watch` for events (sent by every
//! transaction that records one). The `NOTIFY` is sent inside the writing transaction, so it
//! reaches listeners at commit; it is only ever a hint.

use std::time::Duration;

use super::PgConn;
use super::link::{Reply, Request, wrong_reply};
use crate::Result;

/// The channel that `enqueue` notifies and `wait_for_work` listens on.
pub(crate) const JOBS_CHANNEL: &str = "pkgimport_jobs";

/// The channel that every event-writing transaction notifies.
pub(crate) const EVENTS_CHANNEL: &str = "pkgimport_events";

impl PgConn {
    /// Waits up to `timeout` for a notification on `channel`. `LISTEN` starts on the first
    /// call (and again after a reconnection); notifications that arrived since the last call
    /// count, so a wake-up is never lost between two calls on one connection. A connection
    /// listens on the channels of every call made on it, so use one store per channel.
    pub(crate) fn wait_for(&mut self, channel: &'static str, timeout: Duration) -> Result<bool> {
        let what = "waiting for a notification";
        if !self.listening.contains(&channel) {
            self.batch(&format!("LISTEN {channel}"))
                .map_err(|e| e.into_error(what))?;
            self.listening.push(channel);
        }
        let conn = self.conn().map_err(|e| e.into_error(what))?;
        match conn.call(Request::Wait(timeout)) {
            Ok(Reply::Woken(w)) => Ok(w),
            Ok(_) => Err(wrong_reply().into_error(what)),
            Err(e) => Err(e.into_error(what)),
        }
    }
}
