//! Everything package-importer does with git, through the system `git` binary.
//!
//! This crate is the only place that runs `git`, and it runs it through one helper
//! (`run::git_command`) that pins the environment: no system or global config, `LC_ALL=C`,
//! no terminal prompts, ssh in batch mode, and a timeout for network operations. The system
//! binary rather than libgit2 because pushes must work over whatever ssh and https setup the
//! host has. Objects are the exception: [`PackWriter`] writes them into a pack itself,
//! because hashing and compressing on every core is the bulk of a large import.
//!
//! The pieces:
//! - [`GitDir`]: a bare, private working repository of one package; refs, tags, trees.
//! - [`PackWriter`]: one session that writes full-snapshot commits into a new pack, without
//!   a work tree, and hands back their ids. Same inputs give the same ids on any machine.
//!   A [`Snapshot`] of a commit's tree lets the next commit name only what changed.
//! - [`ls_remote`], [`GitDir::push_atomic`] and [`ensure_local_bare_remote`]: the remote
//!   side, where a push is a compare-and-swap of every ref of a package at once.
//!
//! Errors are one [`Error`] enum whose variants are the outcomes callers branch on. No
//! message, log line or error of this crate holds a URL's user info (passwords, tokens):
//! see `pkgimport_core::redact`.

mod commit;
mod error;
mod oid;
mod pack;
mod refname;
mod remote;
mod repo;
mod run;

pub use commit::{CommitSpec, Entry, Mode, Signature, TzOffset};
pub use error::Error;
pub use oid::Oid;
pub use pack::{Edit, PackWriter, Snapshot, Written};
pub use refname::{check_ref_name, tag_ref};
pub use remote::{
    PushReport, RefPushStatus, RefUpdate, RemoteRefs, ensure_local_bare_remote, ls_remote,
    remove_stale_local_remote_locks,
};
pub use repo::{GitDir, TreeEntry, remove_stale_locks};
pub use run::GitOptions;

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
