//! End-to-end tests: the real binaries, each test in its own temporary state directory.

mod driver;
mod failures;
mod import;
mod importctl;
mod monitor;
mod poll;
mod soak;
mod util;
