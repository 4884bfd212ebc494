//! Applying the `.diff.gz` of a `1.0` non-native package, as `dpkg-source -x` does.
//!
//! dpkg checks the diff itself (`Dpkg::Source::Patch::analyze`) and then runs
//! `patch -t -F 0 -N -p1 -u -V never -b -z .dpkg-orig`. This module does both in memory:
//! the same parsing rules and safety checks as `analyze` (unified diffs only, no `..`, no
//! patching through a symlink or of anything but a plain file), then GNU patch's hunk
//! placement with zero fuzz: a hunk must match exactly, but may move by an offset, searched
//! outward from where the header says (+1, -1, +2, ...), and hunks with less leading
//! (trailing) context than trailing (leading) context are pinned to the start (end) of the
//! file. Any hunk that does not apply is an error, as it is for dpkg.
//!
//! New files get mode 0644 (patch creates them that way under umask 022); modified files
//! keep their mode. `dpkg-source` later makes `debian/rules` executable, which is how a
//! `1.0` package gets an executable `debian/rules` although a diff cannot carry modes.
//!
//! Not handled, because diffs in the archive do not use them: C-quoted file names (dpkg
//! refuses them too), context diffs (dpkg refuses them too) and CRLF-specific heuristics.

use crate::error::{Error, UnsafeReason};
use crate::tree::{Node, SourceTree, sanitize_member_name};

/// One line of a hunk side: its bytes without the newline, and whether a newline follows.
type Line<'d> = (&'d [u8], bool);

#[derive(Debug)]
struct Hunk<'d> {
    /// 1-based line of the header's old range (as written, even for empty ranges).
    old_start: usize,
    old: Vec<Line<'d>>,
    new: Vec<Line<'d>>,
    prefix_context: usize,
    suffix_context: usize,
    header_line: usize,
}

#[derive(Debug)]
struct FilePatch<'d> {
    old: Option<String>,
    new: Option<String>,
    new_is_dev_null: bool,
    hunks: Vec<Hunk<'d>>,
    header_line: usize,
}

/// Apply `diff` (already decompressed) to `tree`. Returns the paths patched, in order.
pub(crate) fn apply_diff(
    tree: &mut SourceTree,
    diff: &[u8],
    diff_name: &str,
) -> Result<Vec<String>, Error> {
    let patches = parse(diff, diff_name)?;
    let mut patched = Vec::new();
    for file_patch in patches {
        let path = apply_file_patch(tree, &file_patch, diff_name)?;
        if !patched.contains(&path) {
            patched.push(path);
        }
    }
    Ok(patched)
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
    for file_patch in parse(diff, diff_name)? {
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
        apply_file_patch(&mut tree, &file_patch, diff_name)?;
        return Ok(match tree.get(path) {
            Some(Node::File { data, .. }) => Some(data.clone()),
            _ => None,
        });
    }
    Ok(None)
}

fn patch_error(diff: &str, line: usize, message: impl Into<String>) -> Error {
    Error::Patch {
        diff: diff.to_owned(),
        line,
        message: message.into(),
    }
}

/// Split into lines without their `\n`; a final line without newline is kept.
fn split_lines(data: &[u8]) -> Vec<Line<'_>> {
    let mut lines: Vec<Line<'_>> = data.split(|&b| b == b'\n').map(|l| (l, true)).collect();
    if let Some(last) = lines.pop()
        && !last.0.is_empty()
    {
        lines.push((last.0, false));
    }
    lines
}

/// `Dpkg::Source::Patch::_fetch_filename`: drop the timestamp after a tab, or else after
/// the first space.
fn fetch_filename<'d>(header: &'d [u8], diff: &str, line: usize) -> Result<&'d str, Error> {
    let header = std::str::from_utf8(header)
        .map_err(|_| patch_error(diff, line, "file name is not valid UTF-8"))?;
    let header = header.trim_end_matches('\r').trim_start();
    if header.starts_with('"') {
        return Err(patch_error(diff, line, "C-style encoded file name"));
    }
    Ok(match header.split_once('\t') {
        Some((name, _)) => name,
        None => header.split(char::is_whitespace).next().unwrap_or(""),
    })
}

/// Strip the first path component as `-p1` does (`s{^[^/]*/+}{}`); `None` for `/dev/null`
/// or a name without any slash, which patch would not use either.
fn strip_first_component(name: &str) -> Option<&str> {
    if name == "/dev/null" {
        return None;
    }
    let slash = name.find('/')?;
    Some(name[slash..].trim_start_matches('/'))
}

fn parse_range(text: &str) -> Option<(usize, usize)> {
    match text.split_once(',') {
        Some((start, len)) => Some((start.parse().ok()?, len.parse().ok()?)),
        None => Some((text.parse().ok()?, 1)),
    }
}

/// `@@ -a[,b] +c[,d] @@[ ...]` → ((a, b), (c, d)).
fn parse_hunk_header(line: &[u8]) -> Option<((usize, usize), (usize, usize))> {
    let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
    let rest = line.strip_prefix("@@ -")?;
    let (old, rest) = rest.split_once(" +")?;
    let (new, tail) = rest.split_once(" @@")?;
    if !(tail.is_empty() || tail.starts_with(' ')) {
        return None;
    }
    Some((parse_range(old)?, parse_range(new)?))
}

fn parse<'d>(diff: &'d [u8], name: &str) -> Result<Vec<FilePatch<'d>>, Error> {
    let lines = split_lines(diff);
    let mut patches = Vec::new();
    let mut i = 0;
    loop {
        // Skip the comments before a patch, up to a ---, +++ or @@ line.
        while i < lines.len() {
            let l = lines[i].0;
            if l.starts_with(b"--- ") || l.starts_with(b"+++ ") || l.starts_with(b"@@ -") {
                break;
            }
            i += 1;
        }
        if i >= lines.len() {
            break;
        }
        let header_line = i + 1;
        let Some(old_header) = lines[i].0.strip_prefix(b"--- ") else {
            return Err(patch_error(name, i + 1, "expected a '--- ' line"));
        };
        let old_name = fetch_filename(old_header, name, i + 1)?;
        i += 1;
        let Some(new_header) = lines.get(i).and_then(|l| l.0.strip_prefix(b"+++ ")) else {
            return Err(patch_error(
                name,
                i + 1,
                "expected a '+++ ' line after '--- '",
            ));
        };
        let new_name = fetch_filename(new_header, name, i + 1)?;
        i += 1;
        let mut file_patch = FilePatch {
            old: strip_first_component(old_name).map(str::to_owned),
            new: strip_first_component(new_name).map(str::to_owned),
            new_is_dev_null: new_name == "/dev/null",
            hunks: Vec::new(),
            header_line,
        };
        if old_name == "/dev/null" && file_patch.new_is_dev_null {
            return Err(patch_error(name, header_line, "both files are /dev/null"));
        }
        if file_patch.old.is_none() && file_patch.new.is_none() {
            return Err(patch_error(
                name,
                header_line,
                "no usable file name in ---/+++",
            ));
        }
        // Which side a "\ No newline at end of file" marker refers to.
        #[derive(Clone, Copy)]
        enum Last {
            Context,
            Old,
            New,
        }
        let mut last: Option<Last> = None;
        while i < lines.len() {
            let l = lines[i].0;
            if l.starts_with(b"\\ ") {
                if let Some(hunk) = file_patch.hunks.last_mut() {
                    mark_no_newline(hunk, last);
                }
                i += 1;
                continue;
            }
            let Some(((old_start, old_len), (_, new_len))) = parse_hunk_header(l) else {
                break;
            };
            let mut hunk = Hunk {
                old_start,
                old: Vec::with_capacity(old_len),
                new: Vec::with_capacity(new_len),
                prefix_context: 0,
                suffix_context: 0,
                header_line: i + 1,
            };
            i += 1;
            let (mut old_left, mut new_left) = (old_len, new_len);
            let mut seen_change = false;
            while old_left > 0 || new_left > 0 {
                let Some(&(l, _)) = lines.get(i) else {
                    // dpkg tolerates a diff cut inside the trailing context of its last
                    // hunk; so does patch.
                    if old_left == new_left && old_left < 3 {
                        break;
                    }
                    return Err(patch_error(name, i, "unexpected end of diff inside a hunk"));
                };
                i += 1;
                if l.starts_with(b"\\ ") {
                    mark_no_newline(&mut hunk, last);
                    continue;
                }
                let (kind, text) = match l.first() {
                    None => (b' ', &l[..0]),
                    Some(&c) => (c, &l[1..]),
                };
                let underflow = || patch_error(name, i, "hunk has more lines than its header says");
                match kind {
                    b' ' => {
                        old_left = old_left.checked_sub(1).ok_or_else(underflow)?;
                        new_left = new_left.checked_sub(1).ok_or_else(underflow)?;
                        hunk.old.push((text, true));
                        hunk.new.push((text, true));
                        if seen_change {
                            hunk.suffix_context += 1;
                        } else {
                            hunk.prefix_context += 1;
                        }
                        last = Some(Last::Context);
                    }
                    b'-' => {
                        old_left = old_left.checked_sub(1).ok_or_else(underflow)?;
                        hunk.old.push((text, true));
                        seen_change = true;
                        hunk.suffix_context = 0;
                        last = Some(Last::Old);
                    }
                    b'+' => {
                        new_left = new_left.checked_sub(1).ok_or_else(underflow)?;
                        hunk.new.push((text, true));
                        seen_change = true;
                        hunk.suffix_context = 0;
                        last = Some(Last::New);
                    }
                    _ => {
                        return Err(patch_error(name, i, "expected ' ', '+' or '-' in a hunk"));
                    }
                }
            }
            if !seen_change {
                // All context: the split above counted everything as prefix.
                hunk.suffix_context = 0;
            }
            file_patch.hunks.push(hunk);
        }
        if file_patch.hunks.is_empty() {
            return Err(patch_error(name, i + 1, "expected a '@@' hunk header"));
        }
        patches.push(file_patch);

        fn mark_no_newline(hunk: &mut Hunk<'_>, last: Option<Last>) {
            let clear = |side: &mut Vec<Line<'_>>| {
                if let Some(line) = side.last_mut() {
                    line.1 = false;
                }
            };
            match last {
                Some(Last::Context) => {
                    clear(&mut hunk.old);
                    clear(&mut hunk.new);
                }
                Some(Last::Old) => clear(&mut hunk.old),
                Some(Last::New) => clear(&mut hunk.new),
                None => {}
            }
        }
    }
    Ok(patches)
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

fn apply_file_patch(
    tree: &mut SourceTree,
    patch: &FilePatch<'_>,
    diff: &str,
) -> Result<String, Error> {
    // Safety checks on both names, as `analyze` does, before choosing one.
    for candidate in [&patch.old, &patch.new].into_iter().flatten() {
        match sanitize_member_name(candidate.as_bytes()) {
            Ok(Some(_)) => {}
            Ok(None) => return Err(patch_error(diff, patch.header_line, "empty file name")),
            Err(reason) => {
                return Err(Error::Unsafe {
                    archive: diff.to_owned(),
                    path: candidate.clone(),
                    reason,
                });
            }
        }
    }
    let chosen = pick_target(tree, patch.old.clone(), patch.new.clone())
        .expect("parse guarantees at least one name");
    let path = sanitize_member_name(chosen.as_bytes())
        .ok()
        .flatten()
        .expect("checked above");
    if let Some(ancestor) = tree.node_ancestor(&path) {
        return Err(match tree.get(ancestor) {
            Some(Node::Symlink { .. }) => Error::Unsafe {
                archive: diff.to_owned(),
                path: path.clone(),
                reason: UnsafeReason::ThroughSymlink {
                    symlink: ancestor.to_owned(),
                },
            },
            _ => patch_error(
                diff,
                patch.header_line,
                format!("'{ancestor}' is not a directory"),
            ),
        });
    }
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
    let result = apply_hunks(original, exists, &patch.hunks, diff, &path)?;
    if patch.new_is_dev_null && result.is_empty() {
        tree.remove(&path);
        return Ok(path);
    }
    match tree.get_mut(&path) {
        Some(Node::File { data, .. }) => *data = result,
        _ => tree.insert_unchecked(
            path.clone(),
            Node::File {
                executable,
                data: result,
            },
        ),
    }
    Ok(path)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn file(data: &str) -> Node {
        Node::File {
            executable: false,
            data: data.as_bytes().to_vec(),
        }
    }

    fn apply(initial: &[(&str, &str)], diff: &str) -> Result<SourceTree, Error> {
        let mut tree = SourceTree::new();
        for (path, data) in initial {
            tree.insert_unchecked((*path).to_owned(), file(data));
        }
        apply_diff(&mut tree, diff.as_bytes(), "t.diff")?;
        Ok(tree)
    }

    fn content(tree: &SourceTree, path: &str) -> String {
        match tree.get(path) {
            Some(Node::File { data, .. }) => String::from_utf8(data.clone()).unwrap(),
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn modifies_with_offset_and_creates_files() {
        let diff = "\
diff -urN p-1.orig/a p-1/a
--- p-1.orig/a\t2020-01-01
+++ p-1/a\t2020-01-02
@@ -1,3 +1,3 @@
 one
-two
+TWO
 three
--- p-1.orig/debian/rules
+++ p-1/debian/rules
@@ -0,0 +1,2 @@
+#!/usr/bin/make -f
+%:
";
        // Two extra lines at the top: the hunk applies at offset +2.
        let tree = apply(&[("a", "x\ny\none\ntwo\nthree\nfour\n")], diff).unwrap();
        assert_eq!(content(&tree, "a"), "x\ny\none\nTWO\nthree\nfour\n");
        assert_eq!(content(&tree, "debian/rules"), "#!/usr/bin/make -f\n%:\n");
    }

    #[test]
    fn no_newline_markers() {
        let diff = "\
--- a/f
+++ b/f
@@ -1 +1 @@
-old
\\ No newline at end of file
+new
\\ No newline at end of file
";
        let tree = apply(&[("f", "old")], diff).unwrap();
        assert_eq!(content(&tree, "f"), "new");
    }

    #[test]
    fn short_trailing_context_pins_the_hunk_to_the_end_like_gnu_patch() {
        // Two lines of leading but one of trailing context means "end of file" to GNU
        // patch: checked with `patch -F 0`, which fails on the first file and applies to
        // the second.
        let diff = "--- a/f\n+++ b/f\n@@ -2,3 +2,4 @@\n l4\n l5\n+new\n l6\n";
        let lines: String = (1..=10).map(|i| format!("l{i}\n")).collect();
        assert!(matches!(
            apply(&[("f", &lines)], diff),
            Err(Error::Patch { .. })
        ));
        let tree = apply(&[("f", "l1\nl2\nl3\nl4\nl5\nl6\n")], diff).unwrap();
        assert_eq!(content(&tree, "f"), "l1\nl2\nl3\nl4\nl5\nnew\nl6\n");
    }

    #[test]
    fn refuses_what_dpkg_refuses() {
        let mismatch = "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-zzz\n+new\n";
        assert!(matches!(
            apply(&[("f", "old\n")], mismatch),
            Err(Error::Patch { .. })
        ));
        let traversal = "--- a/../x\n+++ b/../x\n@@ -0,0 +1 @@\n+pwned\n";
        assert!(matches!(
            apply(&[], traversal),
            Err(Error::Unsafe {
                reason: UnsafeReason::ParentComponent,
                ..
            })
        ));
        let mut tree = SourceTree::new();
        tree.insert_unchecked(
            "link".to_owned(),
            Node::Symlink {
                target: "d".to_owned(),
            },
        );
        let through = "--- a/link/f\n+++ b/link/f\n@@ -0,0 +1 @@\n+x\n";
        assert!(matches!(
            apply_diff(&mut tree, through.as_bytes(), "t.diff"),
            Err(Error::Unsafe {
                reason: UnsafeReason::ThroughSymlink { .. },
                ..
            })
        ));
        let context_diff = "*** a/f\n--- b/f\n***************\n";
        assert!(apply(&[("f", "x\n")], context_diff).is_err());
    }
}
