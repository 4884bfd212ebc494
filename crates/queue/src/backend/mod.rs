//! The two backends of the state database, behind one [`Store`](crate::Store): the SQLite
//! file in the state directory ([`sqlite`]), and a shared PostgreSQL database
//! ([`postgres`]). Each opens its connection, applies the schema's migrations, and runs
//! transactions of the SQL layer (`crate::sql`) with the retry that its own conflicts need.

pub(crate) mod postgres;
pub(crate) mod sqlite;

use std::time::Duration;

/// How long either backend keeps retrying a transaction that still reports busy (SQLite) or
/// a conflict (PostgreSQL) before it gives up with [`Error::Busy`](crate::Error::Busy).
pub(crate) const RETRY_FOR: Duration = Duration::from_secs(120);

/// Up to `max` of jitter, so that processes that collided do not collide again in step.
/// The sub-second clock is random enough for this and saves a dependency.
pub(crate) fn jitter(max: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let max_ns = max.as_nanos().max(1) as u64;
    Duration::from_nanos(u64::from(nanos) % max_ns)
}
