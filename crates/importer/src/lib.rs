//! The operations of package-importer, composed from the Launchpad client and the state
//! database: what `poll-uploads` and `import-one` do, with the binaries reduced to start-up.

pub mod import;
pub mod poll;
pub mod requeue;
pub mod verify;
