//! Test databases on both backends: a SQLite file in a temporary state directory, always;
//! and, when `PKGIMPORT_TEST_PG_URL` names a PostgreSQL server (`scripts/pg-test-cluster
//! start` prints one), a fresh database on it per test, dropped afterwards, so tests never
//! see each other's rows.
#![expect(
    clippy::disallowed_methods,
    reason = "the tests create and drop their own databases"
)]

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use pkgimport_queue::Store;

/// The variable that names the PostgreSQL server for tests: a URL whose user may create
/// and drop databases.
pub(crate) const PG_URL_ENV: &str = "PKGIMPORT_TEST_PG_URL";

/// One test's database and state directory.
pub(crate) struct TestDb {
    dir: tempfile::TempDir,
    pg: Option<PgDb>,
}

struct PgDb {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDb {
    pub(crate) fn sqlite() -> TestDb {
        TestDb {
            dir: tempfile::tempdir().unwrap(),
            pg: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` when no server was given.
    pub(crate) fn postgres() -> Option<TestDb> {
        let admin_url = admin_url()?;
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "t_{}_{}_{}",
            std::process::id(),
            nanos,
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connecting to {PG_URL_ENV}: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let url = with_database(&admin_url, &name);
        Some(TestDb {
            dir: tempfile::tempdir().unwrap(),
            pg: Some(PgDb {
                admin_url,
                name,
                url,
            }),
        })
    }

    /// "sqlite" or "postgresql", for assertion messages.
    pub(crate) fn name(&self) -> &'static str {
        if self.pg.is_some() {
            "postgresql"
        } else {
            "sqlite"
        }
    }

    pub(crate) fn state_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The database URL to give `Store::connect`: `None` for SQLite.
    pub(crate) fn url(&self) -> Option<&str> {
        self.pg.as_ref().map(|p| p.url.as_str())
    }

    pub(crate) fn store(&self) -> Store {
        Store::connect(self.state_dir(), self.url())
            .unwrap_or_else(|e| panic!("{}: opening the store: {e}", self.name()))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(pg) = &self.pg else {
            return;
        };
        // WITH (FORCE) ends sessions that a failed test left open.
        if let Ok(mut admin) = postgres::Client::connect(&pg.admin_url, postgres::NoTls) {
            let _ =
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", pg.name));
        }
    }
}

/// Runs `test` on SQLite, then on PostgreSQL if a server was given; otherwise says, in one
/// line, that the PostgreSQL half was skipped.
pub(crate) fn each_backend(test: impl Fn(&TestDb)) {
    test(&TestDb::sqlite());
    match TestDb::postgres() {
        Some(db) => test(&db),
        None => skipped(),
    }
}

/// Says that the PostgreSQL half of a test was skipped.
pub(crate) fn skipped() {
    #[expect(
        clippy::print_stderr,
        reason = "the one line that says what did not run"
    )]
    {
        eprintln!("postgresql half skipped: {PG_URL_ENV} is not set");
    }
}

/// The admin URL from the environment, if set and not empty.
pub(crate) fn admin_url() -> Option<String> {
    #[expect(clippy::disallowed_methods, reason = "test configuration")]
    std::env::var(PG_URL_ENV).ok().filter(|u| !u.is_empty())
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let query = tail
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{scheme}://{authority}/{name}{query}")
}
