//! Test databases on both backends: a SQLite file in a temporary state directory, always;
//! and, when `PKGIMPORT_TEST_PG_URL` names a PostgreSQL server (`scripts/pg-test-cluster
//! start` prints one), a fresh database on it per test (`pkgimport_testkit::pg`), dropped
//! afterwards, so tests never see each other's rows. Without that server the PostgreSQL
//! half is skipped with a one-line message, or fails under CI (`CI=true`).

use std::path::Path;

use pkgimport_queue::Store;
use pkgimport_testkit::pg::PgDatabase;
pub(crate) use pkgimport_testkit::pg::skipped;

/// One test's database and state directory.
pub(crate) struct TestDb {
    dir: tempfile::TempDir,
    pg: Option<PgDatabase>,
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
        Some(TestDb {
            dir: tempfile::tempdir().unwrap(),
            pg: Some(PgDatabase::create()?),
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
        self.pg.as_ref().map(PgDatabase::url)
    }

    pub(crate) fn store(&self) -> Store {
        Store::connect(self.state_dir(), self.url())
            .unwrap_or_else(|e| panic!("{}: opening the store: {e}", self.name()))
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
