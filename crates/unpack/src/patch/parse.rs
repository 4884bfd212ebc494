//! Reading a diff into file patches, with the rules of `Dpkg::Source::Patch::analyze` and,
//! for quilt patches, the git extensions GNU patch understands.
//!
//! Unified diffs: the text before each `---`/`+++` pair is commentary (a DEP-3 header, an
//! `Index:` line, a `diff -u` command line); the pair names the file; `@@` hunks follow,
//! counted exactly as their headers say. Git's extended headers (`diff --git`, then `old
//! mode`, `new mode`, `new file mode`, `deleted file mode`, `rename from/to`, `copy from/to`,
//! `similarity index`, `index`) are read when the dialect asks for them, as GNU patch reads
//! them: a git file patch may have no hunks at all (a rename, a mode change, an empty new
//! file). Binary patches (`GIT binary patch`, `Binary files ... differ`) are refused: GNU
//! patch cannot apply the first and silently skips the second, and either way the tree
//! would not be what the patch author meant.

use crate::error::Error;

/// One line of a hunk side: its bytes without the newline, and whether a newline follows.
pub(super) type Line<'d> = (&'d [u8], bool);

#[derive(Debug)]
pub(super) struct Hunk<'d> {
    /// 1-based line of the header's old range (as written, even for empty ranges).
    pub(super) old_start: usize,
    pub(super) old: Vec<Line<'d>>,
    pub(super) new: Vec<Line<'d>>,
    pub(super) prefix_context: usize,
    pub(super) suffix_context: usize,
    pub(super) header_line: usize,
}

/// What git's extended headers say about one file.
#[derive(Debug, Default)]
pub(super) struct GitMeta {
    /// `new mode`, or `new file mode`: the file's mode afterwards.
    pub(super) new_mode: Option<u32>,
    pub(super) new_file: bool,
    pub(super) deleted: bool,
    /// `rename from` and `rename to` (names as written, no prefix to strip).
    pub(super) rename: Option<(String, String)>,
    /// `copy from` and `copy to`.
    pub(super) copy: Option<(String, String)>,
}

#[derive(Debug)]
pub(super) struct FilePatch<'d> {
    pub(super) old: Option<String>,
    pub(super) new: Option<String>,
    pub(super) new_is_dev_null: bool,
    pub(super) hunks: Vec<Hunk<'d>>,
    pub(super) header_line: usize,
    /// Present for a file patch that starts with `diff --git` (git dialect only).
    pub(super) git: Option<GitMeta>,
}

pub(super) fn patch_error(diff: &str, line: usize, message: impl Into<String>) -> Error {
    Error::Patch {
        diff: diff.to_owned(),
        line,
        message: message.into(),
    }
}

/// Split into lines without their `\n`; a final line without newline is kept.
pub(super) fn split_lines(data: &[u8]) -> Vec<Line<'_>> {
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

/// Whether `line` marks a binary patch, which is refused (see the module documentation).
fn is_binary_marker(line: &[u8]) -> bool {
    line.starts_with(b"GIT binary patch")
        || (line.starts_with(b"Binary files ") && line.trim_ascii_end().ends_with(b" differ"))
}

/// The two names of a `diff --git a/X b/Y` line, each with its first component stripped,
/// when they can be told apart: the same name twice (`a/X b/X`), the usual case; other
/// pairs take their names from `rename`/`copy` lines or `---`/`+++` instead.
fn git_names(rest: &str) -> Option<String> {
    rest.match_indices(' ').find_map(|(i, _)| {
        let (left, right) = (&rest[..i], &rest[i + 1..]);
        let (l, r) = (strip_first_component(left)?, strip_first_component(right)?);
        (l == r && !l.is_empty()).then(|| l.to_owned())
    })
}

/// Reads a diff into its file patches. With `git`, `diff --git` headers are read (see the
/// module documentation) and binary patches refused; without, they are commentary, as
/// `dpkg-source` treats a `1.0` package's `.diff.gz`.
pub(super) fn parse<'d>(
    diff: &'d [u8],
    name: &str,
    git: bool,
) -> Result<Vec<FilePatch<'d>>, Error> {
    let lines = split_lines(diff);
    let mut patches = Vec::new();
    let mut i = 0;
    loop {
        // Skip the comments before a patch, up to a ---, +++ or @@ line (or a `diff --git`).
        while i < lines.len() {
            let l = lines[i].0;
            if l.starts_with(b"--- ") || l.starts_with(b"+++ ") || l.starts_with(b"@@ -") {
                break;
            }
            if git && l.starts_with(b"diff --git ") {
                break;
            }
            if git && is_binary_marker(l) {
                return Err(patch_error(
                    name,
                    i + 1,
                    "a binary patch, which is not applied",
                ));
            }
            i += 1;
        }
        if i >= lines.len() {
            break;
        }
        let mut meta = None;
        if git && lines[i].0.starts_with(b"diff --git ") {
            let header_line = i + 1;
            let text = std::str::from_utf8(&lines[i].0[b"diff --git ".len()..])
                .map_err(|_| patch_error(name, i + 1, "file name is not valid UTF-8"))?;
            let text = text.trim_end_matches('\r');
            if text.contains('"') {
                return Err(patch_error(name, i + 1, "C-style encoded file name"));
            }
            let git_name = git_names(text);
            let (m, next) = git_headers(&lines, i + 1, name)?;
            i = next;
            let starts_hunks = lines.get(i).is_some_and(|l| l.0.starts_with(b"--- "));
            if !starts_hunks {
                // A git file patch without content: a rename, a copy, a mode change or an
                // empty file.
                let (old, new) = match (&m.rename, &m.copy) {
                    (Some((from, to)), _) | (_, Some((from, to))) => {
                        (Some(from.clone()), Some(to.clone()))
                    }
                    _ => (git_name.clone(), git_name.clone()),
                };
                if old.is_none() {
                    return Err(patch_error(
                        name,
                        header_line,
                        "cannot tell the file name of a 'diff --git' line",
                    ));
                }
                patches.push(FilePatch {
                    new_is_dev_null: m.deleted,
                    old,
                    new,
                    hunks: Vec::new(),
                    header_line,
                    git: Some(m),
                });
                continue;
            }
            meta = Some(m);
        }
        let mut file_patch = file_header(&lines, &mut i, name)?;
        file_patch.git = meta;
        read_hunks(&lines, &mut i, name, &mut file_patch)?;
        if file_patch.hunks.is_empty() {
            return Err(patch_error(name, i + 1, "expected a '@@' hunk header"));
        }
        patches.push(file_patch);
    }
    Ok(patches)
}

/// Git's extended header lines from `start`: what they say, and the index of the first
/// line after them.
fn git_headers(lines: &[Line<'_>], start: usize, diff: &str) -> Result<(GitMeta, usize), Error> {
    let mut meta = GitMeta::default();
    let mut i = start;
    let (mut rename_from, mut rename_to, mut copy_from, mut copy_to) = (None, None, None, None);
    while let Some(&(l, _)) = lines.get(i) {
        if is_binary_marker(l) {
            return Err(patch_error(
                diff,
                i + 1,
                "a binary patch, which is not applied",
            ));
        }
        let Ok(text) = std::str::from_utf8(l) else {
            break;
        };
        let text = text.trim_end_matches('\r');
        let mode = |value: &str| {
            u32::from_str_radix(value.trim(), 8)
                .map_err(|_| patch_error(diff, i + 1, format!("bad file mode '{value}'")))
        };
        let name = |value: &str| -> Result<String, Error> {
            if value.starts_with('"') {
                return Err(patch_error(diff, i + 1, "C-style encoded file name"));
            }
            Ok(value.to_owned())
        };
        if let Some(v) = text.strip_prefix("new file mode ") {
            meta.new_file = true;
            meta.new_mode = Some(mode(v)?);
        } else if let Some(v) = text.strip_prefix("new mode ") {
            meta.new_mode = Some(mode(v)?);
        } else if let Some(v) = text.strip_prefix("deleted file mode ") {
            mode(v)?;
            meta.deleted = true;
        } else if let Some(v) = text.strip_prefix("old mode ") {
            mode(v)?;
        } else if let Some(v) = text.strip_prefix("rename from ") {
            rename_from = Some(name(v)?);
        } else if let Some(v) = text.strip_prefix("rename to ") {
            rename_to = Some(name(v)?);
        } else if let Some(v) = text.strip_prefix("copy from ") {
            copy_from = Some(name(v)?);
        } else if let Some(v) = text.strip_prefix("copy to ") {
            copy_to = Some(name(v)?);
        } else if !(text.starts_with("similarity index ")
            || text.starts_with("dissimilarity index ")
            || text.starts_with("index "))
        {
            break;
        }
        i += 1;
    }
    let pair = |from: Option<String>, to: Option<String>, what: &str| match (from, to) {
        (Some(from), Some(to)) => Ok(Some((from, to))),
        (None, None) => Ok(None),
        _ => Err(patch_error(
            diff,
            start,
            format!("'{what} from' without '{what} to'"),
        )),
    };
    meta.rename = pair(rename_from, rename_to, "rename")?;
    meta.copy = pair(copy_from, copy_to, "copy")?;
    Ok((meta, i))
}

/// The `---`/`+++` pair at `*i`.
fn file_header<'d>(lines: &[Line<'d>], i: &mut usize, name: &str) -> Result<FilePatch<'d>, Error> {
    let header_line = *i + 1;
    let Some(old_header) = lines[*i].0.strip_prefix(b"--- ") else {
        return Err(patch_error(name, *i + 1, "expected a '--- ' line"));
    };
    let old_name = fetch_filename(old_header, name, *i + 1)?;
    *i += 1;
    let Some(new_header) = lines.get(*i).and_then(|l| l.0.strip_prefix(b"+++ ")) else {
        return Err(patch_error(
            name,
            *i + 1,
            "expected a '+++ ' line after '--- '",
        ));
    };
    let new_name = fetch_filename(new_header, name, *i + 1)?;
    *i += 1;
    let file_patch = FilePatch {
        old: strip_first_component(old_name).map(str::to_owned),
        new: strip_first_component(new_name).map(str::to_owned),
        new_is_dev_null: new_name == "/dev/null",
        hunks: Vec::new(),
        header_line,
        git: None,
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
    for n in [&file_patch.old, &file_patch.new].into_iter().flatten() {
        if n.ends_with(".dpkg-orig") {
            return Err(patch_error(
                name,
                header_line,
                "patches a file whose name ends in .dpkg-orig",
            ));
        }
    }
    Ok(file_patch)
}

/// Which side a "\ No newline at end of file" marker refers to.
#[derive(Clone, Copy)]
enum Last {
    Context,
    Old,
    New,
}

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

/// The hunks from `*i` on, into `file_patch`.
fn read_hunks<'d>(
    lines: &[Line<'d>],
    i: &mut usize,
    name: &str,
    file_patch: &mut FilePatch<'d>,
) -> Result<(), Error> {
    let mut last: Option<Last> = None;
    while *i < lines.len() {
        let l = lines[*i].0;
        if l.starts_with(b"\\ ") {
            if let Some(hunk) = file_patch.hunks.last_mut() {
                mark_no_newline(hunk, last);
            }
            *i += 1;
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
            header_line: *i + 1,
        };
        *i += 1;
        let (mut old_left, mut new_left) = (old_len, new_len);
        let mut seen_change = false;
        while old_left > 0 || new_left > 0 {
            let Some(&(l, _)) = lines.get(*i) else {
                // dpkg tolerates a diff cut inside the trailing context of its last hunk;
                // so does patch.
                if old_left == new_left && old_left < 3 {
                    break;
                }
                return Err(patch_error(
                    name,
                    *i,
                    "unexpected end of diff inside a hunk",
                ));
            };
            *i += 1;
            if l.starts_with(b"\\ ") {
                mark_no_newline(&mut hunk, last);
                continue;
            }
            let (kind, text) = match l.first() {
                None => (b' ', &l[..0]),
                Some(&c) => (c, &l[1..]),
            };
            let at = *i;
            let underflow = || patch_error(name, at, "hunk has more lines than its header says");
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
                    return Err(patch_error(name, at, "expected ' ', '+' or '-' in a hunk"));
                }
            }
        }
        if !seen_change {
            // All context: the split above counted everything as prefix.
            hunk.suffix_context = 0;
        }
        file_patch.hunks.push(hunk);
    }
    Ok(())
}
