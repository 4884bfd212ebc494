//! End-to-end tests: the real binaries, each test in its own temporary state directory.
//!
//! The driver, import and failure tests run on both backends: `both_backends!(name);` above
//! `fn name(env: &TestEnv)` makes a module `name` beside it with two tests, `name::sqlite`
//! and `name::postgres`. The PostgreSQL one runs on a fresh database of the server that
//! `PKGIMPORT_TEST_PG_URL` names, and passes with a one-line message when it is unset.
//! Tests of what only SQLite has (the `state.db` file, its WAL, the driver's lock file) and
//! tests that no database takes part in stay plain `#[test]`s on SQLite.

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

mod driver;
mod failures;
mod import;
mod importctl;
mod monitor;
mod poll;
mod soak;
mod util;
