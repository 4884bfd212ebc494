//! What a patch says about itself: its DEP-3 header (<https://dep-team.pages.debian.net/deps/dep3/>)
//! or its `git format-patch` mail header, read into a subject, a body and an author, for
//! the commit that applies it.
//!
//! The header is everything before the diff: before the first `---`/`+++` pair, `diff `,
//! `Index: ` or `@@` line, and before a line that is only `---` (which ends a mail's message
//! and starts its diffstat, and may end DEP-3 metadata too). It is read as DEP-3 reads:
//! paragraphs separated by blank lines; a paragraph whose first line is a `Field: value`
//! holds fields, with continuation lines that start with a blank; any other paragraph is
//! free text.
//!
//! - The subject is the first line of `Description`, or else of `Subject` (without a
//!   leading `[PATCH n/m]`); with neither, the first line of the free text; with none of
//!   those, there is no subject and the caller names the patch by its file name.
//! - The body is `Description`'s other lines (DEP-3's long description, where a line of
//!   only `.` is an empty line), then the free-text paragraphs, in order. A mail's folded
//!   `Subject` is one line.
//! - The author is `Author`, or else `From`: `Name <email>`, or just one of the two.
//!
//! Field names compare case-insensitively. Nothing here fails: a header that is not DEP-3
//! gives what could be read, at worst nothing.

/// The header of one patch; see the module documentation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatchHeader {
    /// One line, trimmed; `None` when the header has none.
    pub subject: Option<String>,
    /// Lines without trailing blanks, no leading or trailing empty line; may be empty.
    pub body: String,
    pub author: Option<Author>,
}

/// A patch's author as its header names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Author {
    /// May be empty, when the header gives only an address.
    pub name: String,
    /// May be empty, when the header gives only a name.
    pub email: String,
}

/// Reads the header of `patch` (the whole patch file).
pub fn patch_header(patch: &[u8]) -> PatchHeader {
    let text = String::from_utf8_lossy(patch);
    let mut lines: Vec<&str> = Vec::new();
    let all: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    for (i, line) in all.iter().enumerate() {
        let next = all.get(i + 1).copied().unwrap_or("");
        let diff_starts = (line.starts_with("--- ") && next.starts_with("+++ "))
            || line.starts_with("diff ")
            || line.starts_with("Index: ")
            || line.starts_with("@@ -")
            || line.trim_end() == "---";
        if diff_starts {
            break;
        }
        lines.push(line);
    }
    // A mail as `git format-patch` writes it starts with an mbox `From <commit> <date>`.
    if lines.first().is_some_and(|l| is_mbox_from(l)) {
        lines.remove(0);
    }
    read(&lines)
}

fn is_mbox_from(line: &str) -> bool {
    let mut words = line.split_whitespace();
    words.next() == Some("From")
        && words
            .next()
            .is_some_and(|w| w.len() >= 7 && w.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The `Field: value` of a line, when it starts a field.
fn field(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once(':')?;
    let ok = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then(|| (name, value.trim()))
}

/// One field and its continuation lines (without their first blank).
struct Field<'h> {
    name: &'h str,
    first: &'h str,
    more: Vec<&'h str>,
}

fn read(lines: &[&str]) -> PatchHeader {
    let mut fields: Vec<Field<'_>> = Vec::new();
    let mut free: Vec<Vec<&str>> = Vec::new();
    for paragraph in lines
        .split(|l| l.trim().is_empty())
        .filter(|p| !p.is_empty())
    {
        if field(paragraph[0]).is_none() {
            free.push(paragraph.to_vec());
            continue;
        }
        let mut loose = Vec::new();
        for line in paragraph {
            if line.starts_with([' ', '\t']) {
                match fields.last_mut() {
                    Some(f) => f.more.push(&line[1..]),
                    None => loose.push(*line),
                }
            } else if let Some((name, first)) = field(line) {
                fields.push(Field {
                    name,
                    first,
                    more: Vec::new(),
                });
            } else {
                loose.push(*line);
            }
        }
        if !loose.is_empty() {
            free.push(loose);
        }
    }
    let get = |name: &str| fields.iter().find(|f| f.name.eq_ignore_ascii_case(name));

    let mut subject = None;
    let mut body: Vec<String> = Vec::new();
    if let Some(d) = get("Description") {
        subject = Some(d.first.to_owned());
        for line in &d.more {
            let line = line.trim_end();
            body.push(if line.trim() == "." {
                String::new()
            } else {
                line.to_owned()
            });
        }
    } else if let Some(s) = get("Subject") {
        let folded: Vec<&str> = std::iter::once(s.first)
            .chain(s.more.iter().map(|l| l.trim()))
            .collect();
        subject = Some(strip_patch_prefix(&folded.join(" ")).to_owned());
    }
    let mut free = free.into_iter();
    if subject.as_deref().is_none_or(str::is_empty) {
        subject = None;
        if let Some(first) = free.next() {
            subject = Some(first[0].trim().to_owned());
            push_paragraph(&mut body, &first[1..]);
        }
    }
    for paragraph in free {
        push_paragraph(&mut body, &paragraph);
    }
    while body.first().is_some_and(|l| l.trim().is_empty()) {
        body.remove(0);
    }
    while body.last().is_some_and(|l| l.trim().is_empty()) {
        body.pop();
    }
    let author = get("Author")
        .or_else(|| get("From"))
        .and_then(|f| author(f.first));
    PatchHeader {
        subject: subject.filter(|s| !s.is_empty()),
        body: body.join("\n"),
        author,
    }
}

/// Appends a paragraph to the body, after an empty line when the body has text.
fn push_paragraph(body: &mut Vec<String>, paragraph: &[&str]) {
    if paragraph.is_empty() {
        return;
    }
    if !body.is_empty() {
        body.push(String::new());
    }
    body.extend(paragraph.iter().map(|l| l.trim_end().to_owned()));
}

/// `[PATCH]`, `[PATCH 2/7]`, `[PATCH v2]` and the like, at the start of a mail's subject.
fn strip_patch_prefix(subject: &str) -> &str {
    let s = subject.trim();
    if s.starts_with("[PATCH")
        && let Some(end) = s.find(']')
    {
        return s[end + 1..].trim_start();
    }
    s
}

/// `Name <email>`, `email`, or `Name`; the first of several (`A <a>, B <b>`).
fn author(value: &str) -> Option<Author> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if let Some((name, rest)) = value.split_once('<') {
        let email = rest.split_once('>').map_or(rest, |(e, _)| e);
        return Some(Author {
            name: name.trim().trim_matches('"').trim().to_owned(),
            email: email.trim().to_owned(),
        });
    }
    if !value.contains(' ') && value.contains('@') {
        return Some(Author {
            name: String::new(),
            email: value.to_owned(),
        });
    }
    Some(Author {
        name: value.to_owned(),
        email: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text: &str) -> PatchHeader {
        patch_header(text.as_bytes())
    }

    fn who(name: &str, email: &str) -> Option<Author> {
        Some(Author {
            name: name.to_owned(),
            email: email.to_owned(),
        })
    }

    #[test]
    fn dep3_description_and_author() {
        let h = header(
            "Description: Bound the greeting's length\n \
             The greeting came from the command line unbounded.\n \
             .\n \
             Cut it at 80 characters.\n\
             Author: Kimiko Tanaka <kimiko@example.org>\n\
             Bug-Ubuntu: https://launchpad.net/bugs/1\n\
             Last-Update: 2023-03-14\n\
             ---\n\
             This patch header follows DEP-3: http://dep.debian.net/deps/dep3/\n\
             --- a/src/hello.c\n\
             +++ b/src/hello.c\n\
             @@ -1 +1 @@\n",
        );
        assert_eq!(h.subject.as_deref(), Some("Bound the greeting's length"));
        assert_eq!(
            h.body,
            "The greeting came from the command line unbounded.\n\nCut it at 80 characters."
        );
        assert_eq!(h.author, who("Kimiko Tanaka", "kimiko@example.org"));
    }

    #[test]
    fn subject_and_from_with_free_text_as_the_body() {
        let h = header(
            "From: Ulrich Drepper <drepper@redhat.com>\n\
             Subject: Fix regex problems with some multi-bytes characters\n\
             \n\
             * posix/bug-regex17.c: Add testcases.\n\
             * posix/regcomp.c (re_compile_fastmap_iter): Rewrite COMPLEX_BRACKET\n  \
             handling.\n\
             \n\
             Origin: upstream, http://sourceware.org/git/?p=glibc.git;a=commitdiff;h=bdb56bac\n\
             Bug-Debian: http://bugs.debian.org/510219\n\
             \n\
             diff --git a/posix/regcomp.c b/posix/regcomp.c\n",
        );
        assert_eq!(
            h.subject.as_deref(),
            Some("Fix regex problems with some multi-bytes characters")
        );
        assert_eq!(
            h.body,
            "* posix/bug-regex17.c: Add testcases.\n\
             * posix/regcomp.c (re_compile_fastmap_iter): Rewrite COMPLEX_BRACKET\n  \
             handling."
        );
        assert_eq!(h.author, who("Ulrich Drepper", "drepper@redhat.com"));
    }

    #[test]
    fn git_format_patch_mails() {
        let h = header(
            "From 2bd8e8ff3bc0e3fe8a4a8ea5e1b9d0a1b2c3d4e5 Mon Sep 17 00:00:00 2001\n\
             From: \"Jane Q. Hacker\" <jane@example.org>\n\
             Date: Tue, 14 Mar 2023 09:30:00 +0000\n\
             Subject: [PATCH 2/3] Use the right buffer size when reading a long\n \
             line\n\
             \n\
             The buffer was one byte short.\n\
             ---\n \
             src/read.c | 2 +-\n \
             1 file changed, 1 insertion(+), 1 deletion(-)\n\
             \n\
             diff --git a/src/read.c b/src/read.c\n",
        );
        assert_eq!(
            h.subject.as_deref(),
            Some("Use the right buffer size when reading a long line")
        );
        assert_eq!(h.body, "The buffer was one byte short.");
        assert_eq!(h.author, who("Jane Q. Hacker", "jane@example.org"));
    }

    #[test]
    fn patches_without_a_header_or_without_fields() {
        let none = header("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n");
        assert_eq!(none, PatchHeader::default());
        let index = header("Index: x\n===================\n--- x\n+++ x\n");
        assert_eq!(index, PatchHeader::default());
        let free = header(
            "Fix the build with GCC 14.\n\
             \n\
             Include <string.h> where strlen is used.\n\
             \n\
             --- a/x.c\n+++ b/x.c\n",
        );
        assert_eq!(free.subject.as_deref(), Some("Fix the build with GCC 14."));
        assert_eq!(free.body, "Include <string.h> where strlen is used.");
        assert_eq!(free.author, None);
        let empty = header("");
        assert_eq!(empty, PatchHeader::default());
    }

    #[test]
    fn authors_in_every_shape() {
        let of = |value: &str| header(&format!("Description: x\nAuthor: {value}\n")).author;
        assert_eq!(
            of("Jane <jane@example.org>"),
            who("Jane", "jane@example.org")
        );
        assert_eq!(of("jane@example.org"), who("", "jane@example.org"));
        assert_eq!(of("Jane Doe"), who("Jane Doe", ""));
        assert_eq!(
            of("A <a@example.org>, B <b@example.org>"),
            who("A", "a@example.org")
        );
        // Author wins over From, field names are case-insensitive.
        let h = header("description: x\nfrom: F <f@x>\nauthor: A <a@x>\n");
        assert_eq!(h.subject.as_deref(), Some("x"));
        assert_eq!(h.author, who("A", "a@x"));
    }
}
