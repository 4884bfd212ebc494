//! Session advisory locks: the per-package exclusion of many hosts sharing one database.
//!
//! Each lock is held on a connection of its own, so that the server drops it with the
//! session when the holder, or its whole host, dies. Keys are derived from the package's
//! name by a hash that every host and every build computes alike ([`lock_key`]).

use pkgimport_core::PackageName;

use super::errors::is_transient;
use super::link::Link;
use crate::sql::{SqlError, Value};
use crate::{Error, Result};

/// A 64-bit advisory lock key: FNV-1a over a fixed namespace and the name. Stable across
/// builds and hosts (unlike `std`'s hasher), which is the point: every host must derive the
/// same key for one package. A collision would only make two packages exclude each other.
pub(crate) fn lock_key(namespace: &str, name: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in namespace.bytes().chain([0]).chain(name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// A session advisory lock on its own connection, held until dropped or until the
/// connection dies: the server releases it with the session, so a dead process or host
/// never leaves it behind.
pub(crate) struct AdvisoryLock {
    conn: Link,
    key: i64,
    package: String,
}

impl std::fmt::Debug for AdvisoryLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdvisoryLock")
            .field("package", &self.package)
            .field("key", &self.key)
            .finish()
    }
}

/// The namespace of per-package lock keys.
const PACKAGE_LOCK_NAMESPACE: &str = "pkgimport package lock";

/// `key` as the (classid, objid) pair under which `pg_locks` shows a bigint advisory lock.
fn key_halves(key: i64) -> [Value; 2] {
    let key = key as u64;
    [
        Value::Int((key >> 32) as i64),
        Value::Int((key & 0xffff_ffff) as i64),
    ]
}

impl AdvisoryLock {
    /// Takes the package's lock if it is free; `Ok(Err(holder))` if another session holds
    /// it, with the holder's application name (`package-importer lock host=... pid=...`)
    /// when the server shows it.
    pub(crate) fn try_take(
        config: &postgres::Config,
        location: &str,
        package: &PackageName,
    ) -> Result<std::result::Result<AdvisoryLock, Option<String>>> {
        let mut lock = AdvisoryLock::connect(config, location, package)?;
        let got = lock
            .query_bool("SELECT pg_try_advisory_lock($1)", &[Value::Int(lock.key)])
            .map_err(|e| lock.error(e))?;
        if got {
            return Ok(Ok(lock));
        }
        let holder = lock
            .conn
            .query_once(
                "SELECT a.application_name FROM pg_locks l
                 JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                   AND l.database = (SELECT oid FROM pg_database
                                     WHERE datname = current_database())
                   AND CAST(l.classid AS BIGINT) = $1 AND CAST(l.objid AS BIGINT) = $2",
                &key_halves(lock.key),
            )
            .and_then(|rows| rows.first().map(|r| r.get::<String>(0)).transpose())
            .map_err(|e| lock.error(e))?;
        Ok(Err(holder))
    }

    /// Waits for the package's lock, however long it takes.
    pub(crate) fn take_wait(
        config: &postgres::Config,
        location: &str,
        package: &PackageName,
    ) -> Result<AdvisoryLock> {
        let mut lock = AdvisoryLock::connect(config, location, package)?;
        lock.conn
            .query_once("SELECT pg_advisory_lock($1)", &[Value::Int(lock.key)])
            .map_err(|e| lock.error(e))?;
        Ok(lock)
    }

    fn connect(
        config: &postgres::Config,
        location: &str,
        package: &PackageName,
    ) -> Result<AdvisoryLock> {
        let mut config = config.clone();
        config.application_name(&lock_holder_name());
        let conn = Link::connect(&config)
            .map_err(|e| e.into_error(&format!("connecting to {location}")))?;
        let mut lock = AdvisoryLock {
            conn,
            key: lock_key(PACKAGE_LOCK_NAMESPACE, package.as_str()),
            package: package.to_string(),
        };
        // The server notices a dead host by TCP keepalives: ask for them early, so that a
        // host that vanished gives up its locks in about a minute (no effect on sockets).
        lock.conn
            .batch(
                "SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10;
                 SET tcp_keepalives_count = 3;",
            )
            .map_err(|e| lock.error(e))?;
        Ok(lock)
    }

    fn query_bool(&mut self, sql: &str, params: &[Value]) -> Result<bool, SqlError> {
        let rows = self.conn.query_once(sql, params)?;
        rows.first()
            .ok_or_else(|| SqlError::Invalid("expected a row, found none".to_owned()))?
            .get(0)
    }

    fn error(&self, e: SqlError) -> Error {
        e.into_error(&format!("locking package {}", self.package))
    }

    /// Whether this session still holds the lock: false once its connection was lost.
    pub(crate) fn still_held(&mut self) -> Result<bool> {
        if self.conn.closed() {
            return Ok(false);
        }
        let held = self.query_bool(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
               AND granted AND pid = pg_backend_pid() AND objsubid = 1
               AND CAST(classid AS BIGINT) = $1 AND CAST(objid AS BIGINT) = $2)",
            &key_halves(self.key),
        );
        match held {
            Ok(h) => Ok(h),
            Err(_) if self.conn.closed() => Ok(false),
            Err(SqlError::Postgres(e)) if is_transient(&e) => Ok(false),
            Err(e) => Err(self.error(e)),
        }
    }
}

impl Drop for AdvisoryLock {
    fn drop(&mut self) {
        // Unlock before closing, so that the lock is free when drop returns (the server
        // would drop it too, but only once the backend has exited).
        if !self.conn.closed() {
            let _ = self
                .conn
                .query_once("SELECT pg_advisory_unlock($1)", &[Value::Int(self.key)]);
        }
    }
}

/// What the holder of an advisory lock calls itself, for the message of whoever finds the
/// lock held.
fn lock_holder_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let name = format!(
        "package-importer lock host={host} pid={}",
        std::process::id()
    );
    // The server truncates application names at 63 bytes.
    name.chars().take(63).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_are_stable_and_namespaced() {
        // Fixed values: every host and every build must agree on them.
        assert_eq!(lock_key("", ""), 0xaf63_bd4c_8601_b7df_u64 as i64);
        assert_ne!(
            lock_key(PACKAGE_LOCK_NAMESPACE, "hello"),
            lock_key("other", "hello")
        );
        assert_ne!(
            lock_key(PACKAGE_LOCK_NAMESPACE, "hello"),
            lock_key(PACKAGE_LOCK_NAMESPACE, "hellp")
        );
        assert_eq!(
            lock_key(PACKAGE_LOCK_NAMESPACE, "hello"),
            lock_key(PACKAGE_LOCK_NAMESPACE, "hello")
        );
    }
}
