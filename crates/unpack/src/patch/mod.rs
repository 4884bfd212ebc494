//! Applying a diff to a source tree in memory, as `dpkg-source -x` does: the `.diff.gz` of a
//! `1.0` non-native package, and the quilt patches of a `3.0 (quilt)` package.
//!
//! dpkg checks a diff itself (`Dpkg::Source::Patch::analyze`) and then runs GNU patch:
//! `patch -t -F 0 -N -p1 -u -V never -b -z .dpkg-orig` for a `1.0` diff, and for each quilt
//! patch (`Dpkg::Source::Quilt::push`) `patch -t -F 0 -N -p1 -u -V never -E -b -B
//! .pc/<patch>/ --reject-file=-`. This module does both in memory: the same parsing rules
//! and safety checks as `analyze` (unified diffs only, no `..`, no patching through a
//! symlink or of anything but a plain file; see `parse`), then GNU patch's hunk placement
//! with zero fuzz: a hunk must match exactly, but may move by an offset, searched outward
//! from where the header says (+1, -1, +2, ...), and hunks with less leading (trailing)
//! context than trailing (leading) context are pinned to the start (end) of the file. Any
//! hunk that does not apply is an error, as it is for dpkg, which then stops.
//!
//! The two sets of [`Rules`] differ where the commands do. A quilt patch runs with `-E`: a
//! file left empty is removed. And GNU patch reads git's extended headers there, as it does
//! everywhere, so a quilt patch may rename, copy, delete and create files and change their
//! executable bit; for a `1.0` diff, which `dpkg-source -b` writes without them, they stay
//! commentary, as they always have here.
//!
//! New files get mode 0644 (patch creates them that way under umask 022) unless a git
//! header gives another; modified files keep their mode. `dpkg-source` later makes
//! `debian/rules` executable, which is how a `1.0` package gets an executable
//! `debian/rules` although a diff cannot carry modes.
//!
//! Refused, because GNU patch or dpkg refuse them or cannot do what they mean: C-quoted
//! file names, context diffs, binary patches, symlinks and submodules in git headers, a
//! rename or copy onto an existing path. Not handled: CRLF-specific heuristics.

mod parse;
#[cfg(test)]
mod tests;

use crate::error::{Error, UnsafeReason};
use crate::tree::{Node, SourceTree, sanitize_member_name};

use parse::{FilePatch, Hunk, Line, parse, patch_error, split_lines};

/// How GNU patch is run, where the two uses differ (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rules {
    /// `-E`: remove a file that is empty after patching.
    pub(crate) remove_empty: bool,
    /// Read git's extended headers, and refuse binary patches.
    pub(crate) git: bool,
    /// Refuse a diff that is not empty but has no file patch, as GNU patch does ("only
    /// garbage was found in the patch input"); dpkg's own check only warns.
    pub(crate) needs_a_diff: bool,
}

impl Rules {
    /// A `1.0` package's `.diff.gz`.
    pub(crate) const DIFF_GZ: Rules = Rules {
        remove_empty: false,
        git: false,
        needs_a_diff: false,
    };
    /// A patch of a quilt series.
    pub(crate) const QUILT: Rules = Rules {
        remove_empty: true,
        git: true,
        needs_a_diff: true,
    };
}

/// Apply `diff` (already decompressed) to `tree`. Returns the paths patched, in order.
pub(crate) fn apply_diff(
    tree: &mut SourceTree,
    diff: &[u8],
    diff_name: &str,
) -> Result<Vec<String>, Error> {
    apply_with(tree, diff, diff_name, Rules::DIFF_GZ)
}

/// Apply `diff` to `tree` by `rules`. Returns every path written or removed (both names of
/// a rename), in order, each once. On error the tree may hold part of the diff.
pub(crate) fn apply_with(
    tree: &mut SourceTree,
    diff: &[u8],
    diff_name: &str,
    rules: Rules,
) -> Result<Vec<String>, Error> {
    let patches = parse(diff, diff_name, rules.git)?;
    if patches.is_empty() && !diff.is_empty() && rules.needs_a_diff {
        return Err(patch_error(diff_name, 1, "no diff in the patch"));
    }
    let mut touched = Vec::new();
    for file_patch in patches {
        for path in apply_file_patch(tree, &file_patch, diff_name, rules)? {
            if !touched.contains(&path) {
                touched.push(path);
            }
        }
    }
    Ok(touched)
}

/// The content of `path` when `diff` creates it from nothing (`--- /dev/null`, or hunks
/// that all start from an empty old side), as applying the diff to a tree without `path`
/// would leave it. `None` when the diff does not create `path` that way: then only the
/// whole unpack tells what the file holds.
pub(crate) fn created_file(
    diff: &[u8],
    diff_name: &str,
    path: &str,
) -> Result<Option<Vec<u8>>, Error> {
    for file_patch in parse(diff, diff_name, false)? {
        let target = file_patch.new.as_deref().or(file_patch.old.as_deref());
        let creates = file_patch
            .hunks
            .iter()
            .all(|h| h.old.is_empty() && h.old_start == 0);
        if target != Some(path) || file_patch.new_is_dev_null {
            continue;
        }
        if !creates {
            return Ok(None);
        }
        let mut tree = SourceTree::new();
        apply_file_patch(&mut tree, &file_patch, diff_name, Rules::DIFF_GZ)?;
        return Ok(match tree.get(path) {
            Some(Node::File { data, .. }) => Some(data.clone()),
            _ => None,
        });
    }
    Ok(None)
}

/// `_intuit_file_patched`: which of the two names patch would use.
fn pick_target(tree: &SourceTree, old: Option<String>, new: Option<String>) -> Option<String> {
    let exists = |p: &str| tree.get(p).is_some() || tree.has_children(p);
    match (old, new) {
        (None, new) => new,
        (old, None) => old,
        (Some(old), Some(new)) => {
            if exists(&new) && !exists(&old) {
                return Some(new);
            }
            if exists(&old) && !exists(&new) {
                return Some(old);
            }
            let metrics = |p: &str| {
                let squeezed: String = {
                    let mut s = String::with_capacity(p.len());
                    for c in p.chars() {
                        if !(c == '/' && s.ends_with('/')) {
                            s.push(c);
                        }
                    }
                    s
                };
                let components = squeezed.matches('/').count();
                let base = squeezed.rsplit('/').next().unwrap_or("").len();
                (components, base, p.len())
            };
            Some(if metrics(&new) < metrics(&old) {
                new
            } else {
                old
            })
        }
    }
}

/// Checks a name a patch gives (`analyze`'s safety checks: a safe relative path that no
/// symlink of the tree leads through) and returns it normalized. The name of the file to
/// patch must also not lie below a file (`in_place`).
fn checked_name(
    tree: &SourceTree,
    name: &str,
    patch: &FilePatch<'_>,
    diff: &str,
    in_place: bool,
) -> Result<String, Error> {
    let path = match sanitize_member_name(name.as_bytes()) {
        Ok(Some(path)) => path,
        Ok(None) => return Err(patch_error(diff, patch.header_line, "empty file name")),
        Err(reason) => {
            return Err(Error::Unsafe {
                archive: diff.to_owned(),
                path: name.to_owned(),
                reason,
            });
        }
    };
    match tree.node_ancestor(&path).map(|a| (a, tree.get(a))) {
        Some((ancestor, Some(Node::Symlink { .. }))) => Err(Error::Unsafe {
            archive: diff.to_owned(),
            path: path.clone(),
            reason: UnsafeReason::ThroughSymlink {
                symlink: ancestor.to_owned(),
            },
        }),
        Some((ancestor, _)) if in_place => Err(patch_error(
            diff,
            patch.header_line,
            format!("'{ancestor}' is not a directory"),
        )),
        _ => Ok(path),
    }
}

/// Applies one file's patch; returns the paths it wrote or removed.
fn apply_file_patch(
    tree: &mut SourceTree,
    patch: &FilePatch<'_>,
    diff: &str,
    rules: Rules,
) -> Result<Vec<String>, Error> {
    // Safety checks on both names, as `analyze` does, before choosing one.
    for candidate in [&patch.old, &patch.new].into_iter().flatten() {
        checked_name(tree, candidate, patch, diff, false)?;
    }
    let git = patch.git.as_ref();
    if let Some(mode) = git.and_then(|g| g.new_mode)
        && mode & 0o170000 != 0o100000
    {
        return Err(patch_error(
            diff,
            patch.header_line,
            format!("mode {mode:o} (a symlink or a submodule), which is not applied"),
        ));
    }
    let mut touched = Vec::new();
    let moved = git.and_then(|g| {
        let rename = g.rename.as_ref().map(|r| (r, true));
        rename.or_else(|| g.copy.as_ref().map(|c| (c, false)))
    });
    let path = match moved {
        Some(((from, to), rename)) => {
            let from = checked_name(tree, from, patch, diff, true)?;
            let to = checked_name(tree, to, patch, diff, true)?;
            let node = match tree.get(&from) {
                Some(node @ Node::File { .. }) => node.clone(),
                _ => {
                    return Err(patch_error(
                        diff,
                        patch.header_line,
                        format!("renames or copies '{from}', which is not a plain file"),
                    ));
                }
            };
            if tree.get(&to).is_some() || tree.has_children(&to) {
                return Err(patch_error(
                    diff,
                    patch.header_line,
                    format!("renames or copies onto '{to}', which exists"),
                ));
            }
            if rename {
                tree.remove(&from);
                touched.push(from);
            }
            tree.insert_unchecked(to.clone(), node);
            to
        }
        None => {
            let chosen = pick_target(tree, patch.old.clone(), patch.new.clone())
                .expect("parse guarantees at least one name");
            checked_name(tree, &chosen, patch, diff, true)?
        }
    };
    let (original, executable): (&[u8], bool) = match tree.get(&path) {
        Some(Node::File { data, executable }) => (data, *executable),
        Some(Node::Symlink { .. }) => {
            return Err(patch_error(
                diff,
                patch.header_line,
                format!("patches '{path}', which is a symlink, not a plain file"),
            ));
        }
        None if tree.has_children(&path) => {
            return Err(patch_error(
                diff,
                patch.header_line,
                format!("patches '{path}', which is a directory"),
            ));
        }
        None => (&[], false),
    };
    let exists = tree.get(&path).is_some();
    let creates = git.is_some_and(|g| g.new_file);
    if creates && exists {
        return Err(patch_error(
            diff,
            patch.header_line,
            format!("creates '{path}', which already exists"),
        ));
    }
    if !exists && !creates && patch.hunks.is_empty() {
        return Err(patch_error(
            diff,
            patch.header_line,
            format!("cannot patch '{path}': no such file"),
        ));
    }
    let result = apply_hunks(original, exists, &patch.hunks, diff, &path)?;
    let executable = match git.and_then(|g| g.new_mode) {
        Some(mode) => mode & 0o111 != 0,
        None => executable,
    };
    touched.push(path.clone());
    let deletes = patch.new_is_dev_null || git.is_some_and(|g| g.deleted);
    if deletes && !result.is_empty() && git.is_some() {
        return Err(patch_error(
            diff,
            patch.header_line,
            format!("deletes '{path}', whose content differs from the patch's"),
        ));
    }
    if (deletes || rules.remove_empty) && result.is_empty() {
        tree.remove(&path);
        return Ok(touched);
    }
    match tree.get_mut(&path) {
        Some(Node::File {
            data,
            executable: mode,
        }) => {
            *data = result;
            *mode = executable;
        }
        _ => tree.insert_unchecked(
            path,
            Node::File {
                executable,
                data: result,
            },
        ),
    }
    Ok(touched)
}

fn apply_hunks(
    original: &[u8],
    exists: bool,
    hunks: &[Hunk<'_>],
    diff: &str,
    path: &str,
) -> Result<Vec<u8>, Error> {
    let lines = split_lines(original);
    let mut out = Vec::with_capacity(original.len() + 1024);
    let push = |out: &mut Vec<u8>, line: &Line<'_>| {
        out.extend_from_slice(line.0);
        if line.1 {
            out.push(b'\n');
        }
    };
    let mut cursor = 0usize;
    let mut offset: isize = 0;
    for hunk in hunks {
        if !exists && !hunk.old.is_empty() {
            return Err(patch_error(
                diff,
                hunk.header_line,
                format!("cannot patch '{path}': no such file"),
            ));
        }
        if exists && hunk.old_start == 0 && hunk.old.is_empty() && !lines.is_empty() {
            return Err(patch_error(
                diff,
                hunk.header_line,
                format!("creates '{path}', which already exists"),
            ));
        }
        let position = locate(&lines, hunk, offset, cursor).ok_or_else(|| {
            patch_error(
                diff,
                hunk.header_line,
                format!("hunk does not apply to '{path}'"),
            )
        })?;
        // In unified diffs an empty old range names the line *before* the insertion.
        let guess = if hunk.old.is_empty() {
            hunk.old_start
        } else {
            hunk.old_start.saturating_sub(1)
        };
        offset = position as isize - guess as isize;
        for line in &lines[cursor..position] {
            push(&mut out, line);
        }
        for line in &hunk.new {
            push(&mut out, line);
        }
        cursor = position + hunk.old.len();
    }
    for line in &lines[cursor..] {
        push(&mut out, line);
    }
    Ok(out)
}

/// GNU patch's `locate_hunk` with fuzz 0, on 0-based positions. `min` is the first line
/// not yet consumed by earlier hunks.
fn locate(lines: &[Line<'_>], hunk: &Hunk<'_>, offset: isize, min: usize) -> Option<usize> {
    let pattern = &hunk.old;
    let guess = if pattern.is_empty() {
        hunk.old_start as isize + offset
    } else {
        hunk.old_start as isize - 1 + offset
    };
    if pattern.is_empty() {
        // A null range matches anywhere: trust the header.
        let guess = usize::try_from(guess).ok()?;
        return (min..=lines.len()).contains(&guess).then_some(guess);
    }
    let max = lines.len().checked_sub(pattern.len())?;
    if max < min {
        return None;
    }
    let matches_at = |pos: usize| lines[pos..pos + pattern.len()] == pattern[..];
    let context = hunk.prefix_context.max(hunk.suffix_context);
    if hunk.prefix_context < context && hunk.old_start <= 1 {
        // Less leading than trailing context at the top: only the start of the file.
        return (min == 0 && matches_at(0)).then_some(0);
    }
    if hunk.suffix_context < context {
        // Less trailing than leading context: only the end of the file.
        return matches_at(max).then_some(max);
    }
    let guess = guess.clamp(min as isize, max as isize) as usize;
    let reach = (max - guess).max(guess - min);
    for distance in 0..=reach {
        if guess + distance <= max && matches_at(guess + distance) {
            return Some(guess + distance);
        }
        if distance > 0 && guess >= min + distance && matches_at(guess - distance) {
            return Some(guess - distance);
        }
    }
    None
}
