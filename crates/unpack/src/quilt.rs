//! The quilt series of a `3.0 (quilt)` package, applied one patch at a time as
//! `dpkg-source -x` applies it (`Dpkg::Source::Quilt`), in memory.
//!
//! The series is `debian/patches/series`, read once from the unpacked tree before any patch
//! is applied, with dpkg's rules (`read_patch_list`): surrounding blanks and `#` comments
//! are dropped, a name is the first word of its line, and a name with a `..` component is
//! refused. The words after the name (`-p0`, `-R`) are ignored, as dpkg ignores them: it
//! applies every patch with `-p1`, so a tree that quilt would patch differently is not the
//! one `dpkg-source -x` leaves, and not the one the package builds from. Each patch is read
//! from the tree as the previous patches left it, as dpkg reads each one when it gets to
//! it. The vendor series (`debian/patches/debian.series`, `ubuntu.series`) are not read:
//! which one `dpkg-source` uses depends on the machine that runs it, and an import must not.
//!
//! Each patch is applied by the rules of GNU patch as dpkg-source runs it for quilt (see
//! `patch`), and the tree is then finished as `dpkg-source -x` finishes it, so that after
//! the last patch it is `dpkg-source -x`'s tree (without `.pc`, quilt's bookkeeping, which
//! git does not need): a plain-file `debian/rules` is executable and `debian/source/format`
//! exists.

use crate::error::Error;
use crate::patch::{Rules, apply_with};
use crate::tree::{Node, SourceTree};

/// Where the series and the patches are.
pub const PATCHES_DIR: &str = "debian/patches";
/// The series file.
pub const SERIES: &str = "debian/patches/series";

/// The patches of the series in `tree`, in order; empty without a series file. A series
/// that is a symlink is followed once, within `debian/patches/`, as quilt's tools write
/// it.
pub fn series(tree: &SourceTree) -> Result<Vec<String>, Error> {
    let text = match tree.get(SERIES) {
        None => return Ok(Vec::new()),
        Some(Node::File { data, .. }) => data,
        Some(Node::Symlink { target }) => {
            let followed = format!("{PATCHES_DIR}/{target}");
            match tree.get(&followed) {
                Some(Node::File { data, .. }) if !target.contains('/') => data,
                _ => {
                    return Err(series_error(format!(
                        "{SERIES} is a symlink to '{target}', not to a file beside it"
                    )));
                }
            }
        }
    };
    parse_series(&String::from_utf8_lossy(text))
}

/// `Dpkg::Source::Quilt::read_patch_list`.
fn parse_series(text: &str) -> Result<Vec<String>, Error> {
    let mut names = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        // A comment starts at a `#` that begins the line or follows a blank.
        let line = match line
            .char_indices()
            .find(|&(i, c)| c == '#' && (i == 0 || line[..i].ends_with(char::is_whitespace)))
        {
            Some((i, _)) => line[..i].trim_end(),
            None => line,
        };
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        if name == ".." || name.starts_with("../") || name.contains("/../") {
            return Err(series_error(format!("insecure patch name '{name}'")));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

fn series_error(message: String) -> Error {
    Error::Series { message }
}

/// The path of patch `name` in the tree.
pub fn patch_path(name: &str) -> String {
    format!("{PATCHES_DIR}/{name}")
}

/// The text of patch `name`, as the tree holds it now.
pub fn patch_text<'t>(tree: &'t SourceTree, name: &str) -> Result<&'t [u8], Error> {
    // `./x.patch` names what `x.patch` names.
    let path = crate::tree::sanitize_member_name(patch_path(name).as_bytes())
        .ok()
        .flatten()
        .unwrap_or_else(|| patch_path(name));
    match tree.get(&path) {
        Some(Node::File { data, .. }) => Ok(data),
        Some(Node::Symlink { .. }) => Err(series_error(format!(
            "patch {name} is a symlink, not a file"
        ))),
        None => Err(series_error(format!(
            "patch {name} is listed in the series but missing"
        ))),
    }
}

/// Applies patch `name` of the series to `tree`, then finishes the tree as
/// `dpkg-source -x` does (see the module documentation). Returns every path written or
/// removed. On error the tree may hold part of the patch: callers drop it.
pub fn apply_patch(tree: &mut SourceTree, name: &str, format: &str) -> Result<Vec<String>, Error> {
    let diff = patch_text(tree, name)?.to_vec();
    let mut touched = apply_with(tree, &diff, &patch_path(name), Rules::QUILT)?;
    let mut touch = |path: &str| {
        if !touched.iter().any(|t| t == path) {
            touched.push(path.to_owned());
        }
    };
    if let Some(Node::File { executable, .. }) = tree.get_mut("debian/rules")
        && !*executable
    {
        *executable = true;
        touch("debian/rules");
    }
    if tree.get("debian/source/format").is_none()
        && tree.node_ancestor("debian/source/format").is_none()
        && !tree.has_children("debian/source/format")
    {
        tree.insert_unchecked(
            "debian/source/format".to_owned(),
            Node::File {
                executable: false,
                data: format!("{format}\n").into_bytes(),
            },
        );
        touch("debian/source/format");
    }
    Ok(touched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_lines_follow_dpkg() {
        let text = "\
# a comment
fix-build.patch
  spaced.patch  \n\
with-option.patch -p0
upstream/from-git.patch # trailing comment
not#comment.patch

";
        assert_eq!(
            parse_series(text).unwrap(),
            [
                "fix-build.patch",
                "spaced.patch",
                "with-option.patch",
                "upstream/from-git.patch",
                "not#comment.patch",
            ]
        );
        for bad in ["../x.patch", "a/../../x.patch", ".."] {
            assert!(
                matches!(parse_series(bad), Err(Error::Series { .. })),
                "{bad}"
            );
        }
        assert_eq!(parse_series("").unwrap(), Vec::<String>::new());
    }

    fn file(data: &str) -> Node {
        Node::File {
            executable: false,
            data: data.as_bytes().to_vec(),
        }
    }

    #[test]
    fn patches_apply_in_order_and_the_tree_is_finished_like_dpkg_source() {
        let mut tree = SourceTree::new();
        tree.insert_unchecked("a".into(), file("one\ntwo\n"));
        tree.insert_unchecked("debian/rules".into(), file("%:\n"));
        tree.insert_unchecked(SERIES.into(), file("first.patch\nsecond.patch\n"));
        tree.insert_unchecked(
            patch_path("first.patch"),
            file("--- a/a\n+++ b/a\n@@ -1,2 +1,2 @@\n one\n-two\n+TWO\n"),
        );
        tree.insert_unchecked(
            patch_path("second.patch"),
            file("--- a/a\n+++ b/a\n@@ -1,2 +1,2 @@\n-one\n+ONE\n TWO\n"),
        );
        assert_eq!(series(&tree).unwrap(), ["first.patch", "second.patch"]);
        let touched = apply_patch(&mut tree, "first.patch", "3.0 (quilt)").unwrap();
        assert_eq!(
            touched,
            ["a", "debian/rules", "debian/source/format"],
            "the tree is finished as dpkg-source finishes it"
        );
        assert_eq!(
            apply_patch(&mut tree, "second.patch", "3.0 (quilt)").unwrap(),
            ["a"]
        );
        assert_eq!(tree.get("a"), Some(&file("ONE\nTWO\n")));
        assert!(matches!(
            apply_patch(&mut tree, "missing.patch", "3.0 (quilt)"),
            Err(Error::Series { .. })
        ));
        // The same patch again does not apply: the tree has it already.
        assert!(matches!(
            apply_patch(&mut tree, "second.patch", "3.0 (quilt)"),
            Err(Error::Patch { .. })
        ));
    }

    #[test]
    fn a_symlinked_series_is_followed_within_debian_patches() {
        let mut tree = SourceTree::new();
        tree.insert_unchecked(
            SERIES.into(),
            Node::Symlink {
                target: "debian.series".into(),
            },
        );
        tree.insert_unchecked(patch_path("debian.series"), file("x.patch\n"));
        assert_eq!(series(&tree).unwrap(), ["x.patch"]);
        tree.insert_unchecked(
            SERIES.into(),
            Node::Symlink {
                target: "../../etc/passwd".into(),
            },
        );
        assert!(series(&tree).is_err());
    }
}
