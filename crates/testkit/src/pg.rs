//! Throwaway PostgreSQL databases for the PostgreSQL half of the tests: a fresh database per
//! test on the server that `PKGIMPORT_TEST_PG_URL` names (`scripts/pg-test-cluster start`
//! prints one), dropped at the end, so that tests never see each other's rows.
//!
//! Without that variable the PostgreSQL half is skipped with a one-line message ([`skipped`]),
//! except under CI (`CI` set and not `false` or `0`, as `.ci/run` and CI services set it),
//! where it fails: a CI run must not pass without having run both backends.
#![expect(
    clippy::disallowed_methods,
    reason = "the tests' own databases: created, dropped and looked into from outside the store"
)]

use std::sync::atomic::{AtomicU64, Ordering};

/// The variable that names the PostgreSQL server of the tests: a URL whose user may create
/// and drop databases.
pub const PG_URL_ENV: &str = "PKGIMPORT_TEST_PG_URL";

/// The URL of the PostgreSQL server of the tests, or `None` when [`PG_URL_ENV`] is unset or
/// empty outside CI.
///
/// # Panics
///
/// Under CI, when [`PG_URL_ENV`] is unset or empty.
pub fn server_url() -> Option<String> {
    let url = std::env::var(PG_URL_ENV).ok().filter(|u| !u.is_empty());
    if url.is_none() && under_ci() {
        panic!(
            "{PG_URL_ENV} is not set, and under CI (CI={:?}) the PostgreSQL half of the tests \
             must run: start a server with `scripts/pg-test-cluster start` and set \
             {PG_URL_ENV} to the URL it prints",
            std::env::var("CI").unwrap_or_default()
        );
    }
    url
}

/// Whether the tests run under CI: `CI` is set, and neither empty, `false` nor `0`.
fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false" | "FALSE" | "False"))
}

/// Says, in one line, that the PostgreSQL half of a test was skipped.
pub fn skipped() {
    #[expect(
        clippy::print_stderr,
        reason = "the one line that says what did not run"
    )]
    {
        eprintln!("postgresql half skipped: {PG_URL_ENV} is not set");
    }
}

/// A fresh database on the test server, dropped (with any session still on it) when this
/// is dropped.
#[derive(Debug)]
pub struct PgDatabase {
    server_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    /// Creates a database, or returns `None` when there is no test server (see
    /// [`server_url`]; the caller says what it skipped).
    ///
    /// # Panics
    ///
    /// Under CI without a server, or when the server refuses.
    pub fn create() -> Option<PgDatabase> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let server_url = server_url()?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "t_{}_{nanos}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        connect(&server_url)
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("creating database {name} on {PG_URL_ENV}: {e}"));
        let url = with_database(&server_url, &name);
        Some(PgDatabase {
            server_url,
            name,
            url,
        })
    }

    /// The database's URL: the server's, with the database name replaced.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A plain client on this database, for looking at it from outside the code under test.
    pub fn connect(&self) -> postgres::Client {
        connect(&self.url)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // WITH (FORCE) ends the sessions that a failed test's processes left open. Never
        // panic here: the test's own failure is the message worth reading.
        if let Ok(mut server) = postgres::Client::connect(&self.server_url, postgres::NoTls) {
            let _ = server.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A plain client on the database `url` names.
///
/// # Panics
///
/// When the connection fails.
pub fn connect(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("connecting to the test server ({PG_URL_ENV}): {e}"))
}

/// `url` with its database name replaced by `name`; the query string stays.
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let query = tail
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{scheme}://{authority}/{name}{query}")
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn with_database_replaces_only_the_name() {
        for (url, expected) in [
            ("postgres://u@h:5432/postgres", "postgres://u@h:5432/db"),
            ("postgres://u@h:5432", "postgres://u@h:5432/db"),
            (
                "postgres://u@h/x?sslmode=disable",
                "postgres://u@h/db?sslmode=disable",
            ),
            ("postgresql://u:p@h?a=b", "postgresql://u:p@h/db?a=b"),
        ] {
            assert_eq!(with_database(url, "db"), expected, "{url}");
        }
    }
}
