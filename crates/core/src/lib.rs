//! The shared vocabulary of package-importer.
//!
//! Everything here is pure: validated package names, job priorities, the exit-code contract
//! between `import-one` and the driver, the normalising of error text into failure
//! signatures, the circuit breaker's arithmetic, and the redaction of credentials in URLs.
//! No module in this crate touches the file system, the network or the clock, so every
//! other crate may depend on it without pulling in IO.

pub mod breaker;
pub mod exit;
pub mod name;
pub mod priority;
pub mod redact;
pub mod signature;

pub use exit::Exit;
pub use name::{NameError, PackageName};
pub use priority::Priority;
