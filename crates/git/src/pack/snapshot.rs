//! Commits that change a few files of a large tree: a [`Snapshot`] keeps the mode and blob
//! id of every path of a commit written before, so that the next commit hashes and
//! compresses only the files that changed. A chain of commits that each apply one small
//! patch to a source tree of thousands of files costs what the patches touch, not the whole
//! tree each time.
//!
//! The trees are built again from the snapshot for every commit (a tree object is a few
//! dozen bytes per entry, a small fraction of the blobs), and every object that the
//! repository or the session has already is skipped, as for any commit of the session.

use std::collections::BTreeMap;

use super::{Dir, PackWriter, Written};
use crate::commit::{CommitSpec, Entry, Mode, check_path};
use crate::{Error, Oid};

/// The entries of a commit's tree, by path, with their modes and blob ids; see the module
/// documentation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    entries: BTreeMap<String, (Mode, Oid)>,
}

impl Snapshot {
    /// How many files and symlinks the snapshot holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the snapshot holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The mode and blob id at `path`.
    pub fn get(&self, path: &str) -> Option<(Mode, Oid)> {
        self.entries.get(path).copied()
    }
}

/// One change to a [`Snapshot`]: a file or symlink written (added or replaced), or a path
/// removed (nothing happens when it is absent).
#[derive(Debug, Clone, Copy)]
pub enum Edit<'a> {
    Put(Entry<'a>),
    Remove(&'a str),
}

impl PackWriter {
    /// [`PackWriter::commit_with_tree`], returning also the [`Snapshot`] of the tree, for
    /// the commits that edit it.
    pub fn commit_snapshot<'e>(
        &mut self,
        spec: &CommitSpec<'_>,
        entries: impl IntoIterator<Item = Entry<'e>>,
    ) -> Result<(Written, Snapshot), Error> {
        let entries: Vec<Entry<'e>> = entries.into_iter().collect();
        let (written, ids) = self.commit_entries(spec, &entries)?;
        let entries = entries
            .iter()
            .zip(ids)
            .map(|(entry, oid)| (entry.path.to_owned(), (entry.mode, oid)))
            .collect();
        Ok((written, Snapshot { entries }))
    }

    /// Writes one commit whose tree is `snapshot` with `edits` applied in order, and leaves
    /// `snapshot` describing that tree. Only the blobs of `edits` are hashed. Paths,
    /// identities and parents are checked before anything is written; after any error,
    /// `snapshot` may hold some of the edits, and the caller should drop it.
    pub fn commit_edited<'e>(
        &mut self,
        spec: &CommitSpec<'_>,
        snapshot: &mut Snapshot,
        edits: impl IntoIterator<Item = Edit<'e>>,
    ) -> Result<Written, Error> {
        self.check_spec(spec)?;
        let edits: Vec<Edit<'e>> = edits.into_iter().collect();
        for edit in &edits {
            match edit {
                Edit::Put(entry) => check_path(entry.path)?,
                Edit::Remove(path) => check_path(path)?,
            }
        }
        let puts: Vec<Entry<'e>> = edits
            .iter()
            .filter_map(|e| match e {
                Edit::Put(entry) => Some(*entry),
                Edit::Remove(_) => None,
            })
            .collect();
        let blobs = self.blobs(&puts)?;
        let mut ids = blobs.iter().map(|(oid, _)| *oid);
        for edit in &edits {
            match edit {
                Edit::Put(entry) => {
                    let oid = ids.next().expect("one blob per put");
                    snapshot
                        .entries
                        .insert(entry.path.to_owned(), (entry.mode, oid));
                }
                Edit::Remove(path) => {
                    snapshot.entries.remove(*path);
                }
            }
        }
        let mut root = Dir::default();
        for (path, (mode, oid)) in &snapshot.entries {
            root.insert(path, *mode, *oid)?;
        }
        for (oid, packed) in blobs {
            if let Some(bytes) = packed {
                self.append(oid, &bytes)?;
            }
        }
        let tree = self.write_tree(&root)?;
        let commit = self.write_commit(spec, tree)?;
        log::debug!("wrote commit {commit} editing {} entries", edits.len());
        Ok(Written { commit, tree })
    }
}
