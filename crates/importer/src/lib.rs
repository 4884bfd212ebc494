//! The operations of package-importer, composed from the Launchpad client and the state
//! database: what `poll-uploads`, `import-one` and `importctl reconcile` do, with the binaries
//! reduced to start-up.

pub mod import;
pub mod poll;
pub mod reconcile;
pub mod requeue;
pub mod verify;
