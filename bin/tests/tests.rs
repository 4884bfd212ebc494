//! End-to-end tests: the real binaries, each test in its own temporary state directory; and
//! the tidy checks that keep the documentation and the code in step. One test binary, so
//! that the helpers of `util` are compiled once.
//!
//! The driver, import and failure tests run on both backends: `both_backends!(name);` above
//! `fn name(env: &TestEnv)` makes a module `name` beside it with two tests, `name::sqlite`
//! and `name::postgres`. The PostgreSQL one runs on a fresh database of the server that
//! `PKGIMPORT_TEST_PG_URL` names, and passes with a one-line message when it is unset.
//! Tests of what only SQLite has (the `state.db` file, its WAL, the driver's lock file) and
//! tests that no database takes part in stay plain `#[test]`s on SQLite. Under CI
//! (`CI=true`), an unset `PKGIMPORT_TEST_PG_URL` fails every test that needs PostgreSQL.
//!
//! The tests share one process and run in parallel: none changes the process's environment
//! or current directory, and every server listens on port 0. The heavy tests (the crash
//! sweep, the soak, the three hosts, the storms) each take [`util::run_alone`] first, so
//! that their timing never competes with another test.

/// Runs the `fn name(env: &TestEnv)` that it names as two tests, one per backend (see the
/// module documentation). A module and a function may share a name: they live in different
/// namespaces. Defined before the modules that use it.
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            use crate::util::TestEnv;

            #[test]
            fn sqlite() {
                super::$name(&TestEnv::new());
            }

            #[test]
            fn postgres() {
                match TestEnv::new_pg() {
                    Some(env) => super::$name(&env),
                    None => crate::util::skipped(),
                }
            }
        }
    };
}

mod util;

mod e2e {
    //! The driver, the poller, the importer (its patches-applied chains apart), importctl and
    //! the monitoring commands, one module each, and the soak test of everything at once.

    mod applied;
    mod driver;
    mod failures;
    mod import;
    mod importctl;
    mod monitor;
    mod poll;
    mod soak;
    mod ubuntu;
    mod web;
}
mod hostile;
mod migrate_db;
mod multihost;
mod scale;
mod secrets;
mod storms;
mod sweep;
mod systemd_units;
mod tidy;
