//! What a PostgreSQL error means: one line to show for it, whether it is worth trying again
//! later, and whether a transaction that met it is to be run again at once.
//!
//! The client's own rendering of a server error spans several lines, and a failure
//! signature is built from the last line a binary prints, so every error is shown through
//! [`describe`].

use std::error::Error as StdError;

use postgres::error::SqlState;

/// One line describing a client error: the server's message and SQLSTATE, or the client's
/// own error and its cause. (The server's own rendering spans several lines.)
pub(crate) fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    match e.source() {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// Whether trying again later may succeed: the connection failed or was lost, or the
/// server was shutting down or full.
pub(crate) fn is_transient(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            code.code().starts_with("08")
                || [
                    SqlState::T_R_SERIALIZATION_FAILURE,
                    SqlState::T_R_DEADLOCK_DETECTED,
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                    SqlState::TOO_MANY_CONNECTIONS,
                ]
                .contains(code)
        }
        // No answer from the server at all: connecting, IO, a timeout.
        None => {
            let mut cause = e.source();
            while let Some(c) = cause {
                if c.is::<std::io::Error>() {
                    return true;
                }
                cause = c.source();
            }
            // The client's own connect timeout has no cause to look at, only its words.
            e.to_string().starts_with("timeout")
        }
    }
}

/// Whether a transaction that failed this way is to be run again whole, at once.
pub(super) fn is_retryable(e: &postgres::Error) -> bool {
    let Some(db) = e.as_db_error() else {
        return false;
    };
    match *db.code() {
        SqlState::T_R_SERIALIZATION_FAILURE | SqlState::T_R_DEADLOCK_DETECTED => true,
        // A concurrent transaction queued or started a job of the same package after this
        // one's snapshot: PostgreSQL does not always report that as a serialization failure
        // (claims run at READ COMMITTED, and an UPDATE that moves a row into a partial
        // index is not covered). Run again, and the new row is seen: merged into, or the
        // package seen running. Only these two indexes: any other duplicate is a bug that
        // retrying would hide.
        SqlState::UNIQUE_VIOLATION => {
            matches!(
                db.constraint(),
                Some("jobs_one_queued" | "jobs_one_running")
            )
        }
        _ => false,
    }
}

/// Whether a cached statement was planned against a schema that has changed since.
pub(super) fn is_stale_plan(e: &postgres::Error) -> bool {
    e.as_db_error().is_some_and(|db| {
        *db.code() == SqlState::FEATURE_NOT_SUPPORTED && db.message().contains("cached plan")
    })
}
