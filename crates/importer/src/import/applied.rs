//! Patches-applied chains: for a `3.0 (quilt)` version with a non-empty series, one commit
//! per patch on top of the version's own commit, each with the tree the previous one left
//! and that patch applied, as `dpkg-source -x` applies it (`pkgimport_unpack::quilt`); the
//! last one's tree is `dpkg-source -x`'s tree without `.pc`. People read, cherry-pick or
//! drop the patches as commits, and bisect the source as it builds.
//!
//! Each commit is a function of the version, as the version's own commit is: its author is
//! the patch's DEP-3 `Author` or `From` when it names one, else the version's changelog
//! sign-off; both dates are the changelog entry's; the committer is the importer's
//! identity; the message is the patch's description (`pkgimport_unpack::dep3`; its file
//! name when it has none) and a `Patch-Name:` trailer.
//!
//! The patches are applied to the tree the version's commit was written from, in memory,
//! and each commit names only the files its patch touched: its blobs are the only ones
//! hashed (see `pkgimport_git::Snapshot`).
//!
//! A patch that does not apply ends the chain there, and the version has none: the commits
//! written so far stay unreferenced in the pack, and no ref ever names them, so the remote
//! never sees half a chain. The version is imported all the same; the patch and the error
//! are recorded in its audit row, as a warning.

use pkgimport_git::{CommitSpec, Edit, Entry, Mode, Oid, PackWriter, Signature, Snapshot};
use pkgimport_queue::audit::{AppliedTip, PatchFailure};
use pkgimport_unpack::{Node, SourceTree, dep3, quilt};

use super::build::clean_identity;

/// The end of a version's chain and how many commits it has, or the patch that does not
/// apply.
pub(super) type Chain = Result<(AppliedTip, u64), PatchFailure>;

/// The version's identity, which every commit of its chain carries.
pub(super) struct ChainIdentity<'a> {
    /// The changelog's sign-off and date: the author of a patch without one of its own.
    pub(super) author: &'a Signature,
    pub(super) committer: &'a Signature,
}

/// Writes the chain of `patches` (the series, in order) on top of `base`, the version's
/// commit, whose tree `tree` and `snapshot` describe; `format` is the version's source
/// format, for the finishing touches of `dpkg-source -x`. Errors of writing the pack are
/// the run's errors; a patch that does not apply, or that makes a tree git cannot store
/// (a `.git` path), is the version's [`PatchFailure`].
pub(super) fn write_chain(
    pack: &mut PackWriter,
    tree: &mut SourceTree,
    mut snapshot: Snapshot,
    patches: &[String],
    format: &str,
    identity: &ChainIdentity<'_>,
    base: Oid,
) -> Result<Chain, pkgimport_git::Error> {
    let failure = |patch: &str, message: String| PatchFailure {
        patch: patch.to_owned(),
        message,
    };
    let mut parent = base;
    let mut last_tree = None;
    for name in patches {
        let header = match quilt::patch_text(tree, name) {
            Ok(text) => dep3::patch_header(text),
            Err(e) => return Ok(Err(failure(name, e.to_string()))),
        };
        let touched = match quilt::apply_patch(tree, name, format) {
            Ok(touched) => touched,
            Err(e) => return Ok(Err(failure(name, e.to_string()))),
        };
        let author = match &header.author {
            Some(a) => Signature {
                name: clean_identity(&a.name),
                email: clean_identity(&a.email),
                ..identity.author.clone()
            },
            None => identity.author.clone(),
        };
        let message = patch_message(&header, name);
        let edits: Vec<Edit<'_>> = touched
            .iter()
            .map(|path| match tree.get(path) {
                Some(node) => Edit::Put(entry(path, node)),
                None => Edit::Remove(path),
            })
            .collect();
        let parents = [parent];
        let spec = CommitSpec {
            author: &author,
            committer: identity.committer,
            message: message.as_bytes(),
            parents: &parents,
            update_ref: None,
        };
        match pack.commit_edited(&spec, &mut snapshot, edits) {
            Ok(written) => {
                log::debug!("patch={name} commit={}", written.commit);
                parent = written.commit;
                last_tree = Some(written.tree);
            }
            Err(e @ pkgimport_git::Error::InvalidInput { .. }) => {
                return Ok(Err(failure(name, e.to_string())));
            }
            Err(e) => return Err(e),
        }
    }
    let tree = last_tree.expect("a chain has at least one patch");
    Ok(Ok((
        AppliedTip {
            commit: parent.to_hex(),
            tree: tree.to_hex(),
        },
        patches.len() as u64,
    )))
}

/// The commit message of a patch: its subject (or its name), its body, a blank line and
/// the `Patch-Name:` trailer.
pub(super) fn patch_message(header: &dep3::PatchHeader, name: &str) -> String {
    let mut message = header.subject.clone().unwrap_or_else(|| name.to_owned());
    message.push_str("\n\n");
    if !header.body.is_empty() {
        message.push_str(&header.body);
        message.push_str("\n\n");
    }
    message.push_str("Patch-Name: ");
    message.push_str(name);
    message.push('\n');
    message
}

/// A tree entry as the pack writer takes it.
pub(super) fn entry<'t>(path: &'t str, node: &'t Node) -> Entry<'t> {
    match node {
        Node::File { executable, data } => Entry {
            path,
            mode: if *executable {
                Mode::Executable
            } else {
                Mode::File
            },
            data,
        },
        Node::Symlink { target } => Entry {
            path,
            mode: Mode::Symlink,
            data: target.as_bytes(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_description_and_the_patch_name() {
        let header = dep3::patch_header(
            b"Description: Bound the greeting\n Long text.\nAuthor: A <a@x>\n---\n",
        );
        assert_eq!(
            patch_message(&header, "bound-greeting.patch"),
            "Bound the greeting\n\nLong text.\n\nPatch-Name: bound-greeting.patch\n"
        );
        let bare = dep3::patch_header(b"--- a/x\n+++ b/x\n");
        assert_eq!(
            patch_message(&bare, "debian/fix-build.diff"),
            "debian/fix-build.diff\n\nPatch-Name: debian/fix-build.diff\n"
        );
    }
}
