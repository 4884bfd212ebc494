//! The in-memory source tree, its safety invariants, and writing it to disk.
//!
//! The importer writes this tree into a git pack, so it holds exactly what git
//! records: regular files (with the exec bit) and symlinks, keyed by `/`-separated relative
//! paths in byte order. Directories are implied by the paths, as in git; empty ones vanish.
//!
//! Invariants, re-checked by [`SourceTree::validate`] before a tree leaves this crate:
//! every path is relative, without `.`/`..`/empty components; no entry lies below another
//! entry (so nothing is ever "inside" a file or written through a symlink); and every symlink
//! resolves inside the tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, UnsafeReason};

/// One entry of a [`SourceTree`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A regular file. `executable` is git's notion: mode 100755 rather than 100644.
    File { executable: bool, data: Vec<u8> },
    /// A symbolic link, stored verbatim like git does.
    Symlink { target: String },
}

/// An unpacked source package: relative path to file or symlink, in byte order of the path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceTree {
    entries: BTreeMap<String, Node>,
}

/// The one absolute symlink target that dpkg-source accepts (`Dpkg::Path`'s traversal check
/// allows it), used for example to mask systemd units. Nothing can be written through it.
const DEV_NULL: &str = "/dev/null";

/// Linux follows at most 40 symlinks in one lookup; past that the lookup fails with ELOOP.
/// We refuse such chains rather than reason about them.
const MAX_SYMLINK_FOLLOWS: usize = 40;

impl SourceTree {
    /// An empty tree.
    pub fn new() -> SourceTree {
        SourceTree::default()
    }

    /// Number of files and symlinks.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there is no file and no symlink.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry at `path` (relative, `/`-separated).
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.entries.get(path)
    }

    /// All entries in byte order of their paths.
    pub fn iter(&self) -> std::collections::btree_map::Iter<'_, String, Node> {
        self.entries.iter()
    }

    /// Sum of the sizes of all files.
    pub fn file_bytes(&self) -> u64 {
        self.entries
            .values()
            .map(|node| match node {
                Node::File { data, .. } => data.len() as u64,
                Node::Symlink { .. } => 0,
            })
            .sum()
    }

    /// Give up the tree, for example to move the file contents into a git writer without
    /// copying them.
    pub fn into_entries(self) -> BTreeMap<String, Node> {
        self.entries
    }

    /// Check the invariants listed in the module documentation. `context` names the tree in
    /// error messages (an archive, or "source tree").
    pub fn validate(&self, context: &str) -> Result<(), Error> {
        for (path, node) in &self.entries {
            match sanitize_member_name(path.as_bytes()) {
                Ok(Some(normal)) if &normal == path => {}
                Ok(_) => return Err(unsafe_entry(context, path, UnsafeReason::InvalidName)),
                Err(reason) => return Err(unsafe_entry(context, path, reason)),
            }
            if let Some(ancestor) = self.node_ancestor(path) {
                return Err(match self.entries.get(ancestor) {
                    Some(Node::Symlink { .. }) => unsafe_entry(
                        context,
                        path,
                        UnsafeReason::ThroughSymlink {
                            symlink: ancestor.to_owned(),
                        },
                    ),
                    _ => Error::Conflict {
                        archive: context.to_owned(),
                        path: path.clone(),
                        message: format!("'{ancestor}' is a file, not a directory"),
                    },
                });
            }
            if let Node::Symlink { target } = node
                && self.symlink_escapes(path, target)
            {
                return Err(unsafe_entry(
                    context,
                    path,
                    UnsafeReason::SymlinkEscapes {
                        target: target.clone(),
                    },
                ));
            }
        }
        Ok(())
    }

    /// Write the tree below `dir`, which must be absent or an empty directory.
    ///
    /// Safe even for a tree that did not come from this crate: the tree is validated first,
    /// files are created with `O_EXCL` (never following an existing link), and symlinks are
    /// created only after every file, so no write can pass through one.
    pub fn materialize(&self, dir: &Path) -> Result<(), Error> {
        use std::os::unix::fs::PermissionsExt;

        self.validate("source tree")?;
        let fail = |message: String| Error::Materialize {
            path: dir.to_owned(),
            message,
        };
        match std::fs::symlink_metadata(dir) {
            Ok(meta) if meta.is_dir() => {
                let mut listing = std::fs::read_dir(dir).map_err(|e| fail(e.to_string()))?;
                if listing.next().is_some() {
                    return Err(fail("directory is not empty".to_owned()));
                }
            }
            Ok(_) => return Err(fail("exists and is not a directory".to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
            }
            Err(e) => return Err(fail(e.to_string())),
        }
        let target_of = |path: &str| -> PathBuf { dir.join(path) };
        let make_parent = |path: &Path| -> Result<(), Error> {
            match path.parent() {
                Some(parent) => std::fs::create_dir_all(parent)
                    .map_err(|e| fail(format!("{}: {e}", parent.display()))),
                None => Ok(()),
            }
        };
        for (path, node) in &self.entries {
            let Node::File { executable, data } = node else {
                continue;
            };
            let full = target_of(path);
            make_parent(&full)?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&full)
                .map_err(|e| fail(format!("{path}: {e}")))?;
            std::io::Write::write_all(&mut file, data).map_err(|e| fail(format!("{path}: {e}")))?;
            let mode = if *executable { 0o755 } else { 0o644 };
            file.set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(|e| fail(format!("{path}: {e}")))?;
        }
        for (path, node) in &self.entries {
            let Node::Symlink { target } = node else {
                continue;
            };
            let full = target_of(path);
            make_parent(&full)?;
            std::os::unix::fs::symlink(target, &full).map_err(|e| fail(format!("{path}: {e}")))?;
        }
        Ok(())
    }

    /// Insert `node` at `path` as tar extraction would: an existing file or symlink at the
    /// same path is replaced, but nothing may lie below a file or symlink and a file may not
    /// replace a directory that has content.
    pub(crate) fn insert_checked(
        &mut self,
        archive: &str,
        path: String,
        node: Node,
    ) -> Result<(), Error> {
        if let Some(ancestor) = self.node_ancestor(&path).map(str::to_owned) {
            return Err(match self.entries.get(&ancestor) {
                Some(Node::Symlink { .. }) => unsafe_entry(
                    archive,
                    &path,
                    UnsafeReason::ThroughSymlink { symlink: ancestor },
                ),
                _ => Error::Conflict {
                    archive: archive.to_owned(),
                    path,
                    message: format!("'{ancestor}' is a file, not a directory"),
                },
            });
        }
        if self.has_children(&path) {
            return Err(Error::Conflict {
                archive: archive.to_owned(),
                path,
                message: "a non-empty directory of that name exists".to_owned(),
            });
        }
        self.entries.insert(path, node);
        Ok(())
    }

    /// Insert without checks; for callers that validate the whole tree afterwards.
    pub(crate) fn insert_unchecked(&mut self, path: String, node: Node) {
        self.entries.insert(path, node);
    }

    pub(crate) fn get_mut(&mut self, path: &str) -> Option<&mut Node> {
        self.entries.get_mut(path)
    }

    pub(crate) fn remove(&mut self, path: &str) -> Option<Node> {
        self.entries.remove(path)
    }

    /// Remove `path` and everything below it, like `rm -rf`.
    pub(crate) fn remove_subtree(&mut self, path: &str) {
        self.entries.remove(path);
        let prefix = format!("{path}/");
        let doomed: Vec<String> = self
            .entries
            .range(prefix.clone()..)
            .take_while(|(key, _)| key.starts_with(&prefix))
            .map(|(key, _)| key.clone())
            .collect();
        for key in doomed {
            self.entries.remove(&key);
        }
    }

    /// True when some entry lies below `path`, i.e. `path` is a non-empty directory.
    pub(crate) fn has_children(&self, path: &str) -> bool {
        let prefix = format!("{path}/");
        self.entries
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(key, _)| key.starts_with(&prefix))
    }

    /// The first proper ancestor of `path` that is an entry (file or symlink), if any.
    pub(crate) fn node_ancestor<'p>(&self, path: &'p str) -> Option<&'p str> {
        path.match_indices('/')
            .map(|(i, _)| &path[..i])
            .find(|ancestor| self.entries.contains_key(*ancestor))
    }

    /// Resolve `target` from the directory of `link` the way the kernel would, following
    /// symlinks inside the tree, and report whether the walk ever leaves the root.
    ///
    /// A lexical check is not enough: `a/b/s -> ../..` is harmless on its own, but
    /// `t -> a/b/s/../../..` climbs out once `s` is followed.
    fn symlink_escapes(&self, link: &str, target: &str) -> bool {
        if target == DEV_NULL {
            return false;
        }
        let mut resolved: Vec<&str> = link.split('/').collect();
        resolved.pop();
        let mut pending: Vec<&str> = Vec::new();
        push_components(&mut pending, target);
        if target.starts_with('/') {
            return true;
        }
        let mut follows = 0;
        while let Some(component) = pending.pop() {
            match component {
                "" | "." => {}
                ".." => {
                    if resolved.pop().is_none() {
                        return true;
                    }
                }
                name => {
                    resolved.push(name);
                    let here = resolved.join("/");
                    if let Some(Node::Symlink { target: next }) = self.entries.get(&here) {
                        follows += 1;
                        if follows > MAX_SYMLINK_FOLLOWS || next.starts_with('/') {
                            return true;
                        }
                        resolved.pop();
                        push_components(&mut pending, next);
                    }
                }
            }
        }
        false
    }
}

/// Push the components of `path` so that popping yields them in order.
fn push_components<'a>(stack: &mut Vec<&'a str>, path: &'a str) {
    stack.extend(path.split('/').rev());
}

fn unsafe_entry(archive: &str, path: &str, reason: UnsafeReason) -> Error {
    Error::Unsafe {
        archive: archive.to_owned(),
        path: path.to_owned(),
        reason,
    }
}

impl<'a> IntoIterator for &'a SourceTree {
    type Item = (&'a String, &'a Node);
    type IntoIter = std::collections::btree_map::Iter<'a, String, Node>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

impl IntoIterator for SourceTree {
    type Item = (String, Node);
    type IntoIter = std::collections::btree_map::IntoIter<String, Node>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

/// Turn a raw tar member name into a normalized relative path, refusing anything that could
/// point outside the extraction root.
///
/// `./` prefixes, `.` components and repeated or trailing slashes are dropped, as GNU tar
/// does. `Ok(None)` means the name denotes the root itself (`.` or `./`).
pub fn sanitize_member_name(raw: &[u8]) -> Result<Option<String>, UnsafeReason> {
    if raw.is_empty() || raw.contains(&0) {
        return Err(UnsafeReason::InvalidName);
    }
    let name = std::str::from_utf8(raw).map_err(|_| UnsafeReason::NonUtf8Name)?;
    if name.starts_with('/') {
        return Err(UnsafeReason::AbsolutePath);
    }
    let mut out = String::with_capacity(name.len());
    for component in name.split('/') {
        match component {
            "" | "." => {}
            ".." => return Err(UnsafeReason::ParentComponent),
            part => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(part);
            }
        }
    }
    Ok(if out.is_empty() { None } else { Some(out) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(entries: &[(&str, Node)]) -> SourceTree {
        let mut t = SourceTree::new();
        for (path, node) in entries {
            t.insert_unchecked((*path).to_owned(), node.clone());
        }
        t
    }

    fn link(target: &str) -> Node {
        Node::Symlink {
            target: target.to_owned(),
        }
    }

    fn file() -> Node {
        Node::File {
            executable: false,
            data: b"x".to_vec(),
        }
    }

    #[test]
    fn sanitize_member_names() {
        let check = |raw: &str| format!("{:?}", sanitize_member_name(raw.as_bytes()));
        assert_eq!(check("./a//b/./c/"), r#"Ok(Some("a/b/c"))"#);
        assert_eq!(check("./"), "Ok(None)");
        assert_eq!(check("/etc/passwd"), "Err(AbsolutePath)");
        assert_eq!(check("a/../../b"), "Err(ParentComponent)");
        assert_eq!(check(".."), "Err(ParentComponent)");
        assert_eq!(check(""), "Err(InvalidName)");
        assert_eq!(
            format!("{:?}", sanitize_member_name(b"a\xff")),
            "Err(NonUtf8Name)"
        );
    }

    #[test]
    fn symlinks_inside_are_fine() {
        let t = tree(&[
            ("a/b/s", link("../c")),
            ("a/c", file()),
            ("top", link("a/b/s")),
            ("null", link("/dev/null")),
            ("loop1", link("loop2")),
            ("loop2", link("x/../loop1x")),
        ]);
        t.validate("t").unwrap();
    }

    #[test]
    fn symlink_escapes_are_caught() {
        for (path, target) in [
            ("a", "/etc/passwd"),
            ("a", ".."),
            ("d/a", "../../x"),
            ("d/a", "./../.././x"),
        ] {
            let t = tree(&[(path, link(target))]);
            let err = t.validate("t").unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Unsafe {
                        reason: UnsafeReason::SymlinkEscapes { .. },
                        ..
                    }
                ),
                "{path} -> {target}: {err}"
            );
        }
        // Lexically inside, but `s` resolves to the root, so `..` after it escapes.
        let t = tree(&[("a/b/s", link("../..")), ("t", link("a/b/s/.."))]);
        assert!(t.validate("t").is_err());
        // A loop longer than the kernel follows is refused.
        let t = tree(&[("l", link("l"))]);
        assert!(t.validate("t").is_err());
    }

    #[test]
    fn nothing_below_a_symlink_or_file() {
        let t = tree(&[("s", link("d")), ("s/x", file())]);
        let err = t.validate("t").unwrap_err();
        assert!(matches!(
            err,
            Error::Unsafe {
                reason: UnsafeReason::ThroughSymlink { .. },
                ..
            }
        ));
        let t = tree(&[("f", file()), ("f/x", file())]);
        assert!(matches!(
            t.validate("t").unwrap_err(),
            Error::Conflict { .. }
        ));
    }

    #[test]
    fn remove_subtree_removes_only_that_subtree() {
        let mut t = tree(&[
            ("debian", file()),
            ("debian/x", file()),
            ("debian.txt", file()),
            ("debiana/y", file()),
        ]);
        t.remove_subtree("debian");
        let keys: Vec<&String> = t.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["debian.txt", "debiana/y"]);
    }
}
