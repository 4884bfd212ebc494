//! `LISTEN/NOTIFY`: how an idle driver hears at once that jobs were enqueued, instead of
//! waiting for its next poll. The `NOTIFY` is sent by `enqueue` and `retry` inside their
//! transaction, so it reaches listeners at commit; it is only ever a hint.

use std::time::Duration;

use super::PgConn;
use super::link::{Reply, Request, wrong_reply};
use crate::Result;

/// The channel that `enqueue` notifies and `wait_for_work` listens on.
pub(crate) const JOBS_CHANNEL: &str = "pkgimport_jobs";

impl PgConn {
    /// Waits up to `timeout` for a notification that jobs were enqueued. `LISTEN` starts on
    /// the first call (and again after a reconnection); notifications that arrived since the
    /// last call count, so a wake-up is never lost between two calls on one connection.
    pub(crate) fn wait_for_work(&mut self, timeout: Duration) -> Result<bool> {
        let what = "waiting for work";
        if !self.listening {
            self.batch(&format!("LISTEN {JOBS_CHANNEL}"))
                .map_err(|e| e.into_error(what))?;
            self.listening = true;
        }
        let conn = self.conn().map_err(|e| e.into_error(what))?;
        match conn.call(Request::Wait(timeout)) {
            Ok(Reply::Woken(w)) => Ok(w),
            Ok(_) => Err(wrong_reply().into_error(what)),
            Err(e) => Err(e.into_error(what)),
        }
    }
}
