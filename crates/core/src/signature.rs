//! Failure signatures: a short, stable class for an error, so that 500 failures show as a
//! dozen groups.
//!
//! The signature is the decisive error line with everything that varies between packages and
//! runs masked: numbers, versions, hashes, paths, URLs and temporary names. Two packages that
//! failed for the same reason then share one signature, and an operator retries the whole
//! group with one command.

/// The decisive line of an error text: the last line that says `error`, else the last
/// non-empty line. Programs of this project print their final error last, as `error: ...`.
pub fn decisive_line(text: &str) -> Option<&str> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .rev()
        .find(|l| {
            let lower = l.to_ascii_lowercase();
            lower.starts_with("error") || lower.contains(" error") || lower.starts_with("fatal:")
        })
        .or_else(|| lines.last())
        .copied()
}

/// Normalises one error line into a signature.
pub fn normalize(line: &str) -> String {
    const MAX: usize = 200;
    // Whitespace is collapsed before the log prefixes are stripped, and masking keeps both
    // the first character and every word-final `]`, so a signature normalises to itself.
    let collapsed = line.split_whitespace().collect::<Vec<_>>().join(" ");
    let line = strip_log_prefix(&collapsed);
    let mut out = String::with_capacity(line.len());
    for word in line.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&mask_word(word));
    }
    if out.chars().count() > MAX {
        // Cut at a word boundary, so that the kept part is itself stable.
        let cut: String = out.chars().take(MAX).collect();
        out = match cut.rfind(' ') {
            Some(i) => cut[..i].to_owned(),
            None => cut,
        };
    }
    if out.is_empty() {
        "unknown error".to_owned()
    } else {
        out
    }
}

/// The signature of an error text: its decisive line, normalised.
pub fn from_text(text: &str) -> Option<String> {
    decisive_line(text).map(normalize)
}

/// A first guess at whether a failure with this signature may go away by itself: timeouts,
/// dropped connections and server errors do; bad input does not.
pub fn looks_transient(signature: &str) -> bool {
    // Numbers are masked by then, so HTTP statuses cannot be matched here; the programs of
    // this project say "unavailable" for them.
    const TRANSIENT: [&str; 11] = [
        "died",
        "timeout",
        "timed out",
        "connection reset",
        "connection refused",
        "broken pipe",
        "temporarily unavailable",
        "unavailable",
        "unreachable",
        "could not resolve host",
        "os error 111",
    ];
    let lower = signature.to_ascii_lowercase();
    TRANSIENT.iter().any(|t| lower.contains(t))
}

/// Log lines from env_logger look like `[2026-11-25T12:00:00Z ERROR import_one] msg`; the
/// prefix says nothing about the failure. Every leading `[...] ` goes, not just the first,
/// so that stripping twice strips nothing more.
fn strip_log_prefix(mut line: &str) -> &str {
    while line.starts_with('[')
        && let Some(end) = line.find("] ")
    {
        line = &line[end + 2..];
    }
    line
}

fn mask_word(word: &str) -> String {
    // Keep surrounding punctuation (quotes, brackets, a trailing colon) so that the shape of
    // the message survives.
    let start = word
        .find(|c: char| !"\"'`([{<".contains(c))
        .unwrap_or(word.len());
    // Trimming, not `rfind(..) + 1`: the last kept character may be wider than one byte.
    let end = word
        .trim_end_matches(|c: char| "\"'`)]}>:,;.".contains(c))
        .len();
    if start >= end {
        return word.to_owned();
    }
    let (pre, core, post) = (&word[..start], &word[start..end], &word[end..]);
    let masked = if core.contains("://") {
        "<url>".to_owned()
    } else if core.starts_with('/') || core.starts_with("./") || core.starts_with("~/") {
        "<path>".to_owned()
    } else if is_hash(core) {
        "<hash>".to_owned()
    } else if core.chars().any(|c| c.is_ascii_digit()) && !is_word_with_code(core) {
        mask_digits(core)
    } else {
        core.to_owned()
    };
    format!("{pre}{masked}{post}")
}

fn is_hash(s: &str) -> bool {
    s.len() >= 7
        && s.chars().all(|c| c.is_ascii_hexdigit())
        && s.chars().any(|c| c.is_ascii_digit())
}

/// Words such as `sha256`, `utf-8` or `HTTP/1.1` name things rather than vary; keep them.
fn is_word_with_code(s: &str) -> bool {
    const KEEP: [&str; 6] = ["sha256", "sha1", "md5", "utf-8", "utf8", "ipv6"];
    KEEP.iter().any(|k| s.eq_ignore_ascii_case(k))
}

/// Collapses every run of digits (with the separators of versions and numbers between them)
/// into `N`, so `2.10-3`, `1:2.78-1` and `4096` all become `N`.
fn mask_digits(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            while let Some(&n) = chars.peek() {
                if n.is_ascii_alphanumeric() || ".:-+~_".contains(n) {
                    chars.next();
                } else {
                    break;
                }
            }
            out.push('N');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expect: &str) {
        assert_eq!(from_text(input).unwrap(), expect, "input: {input:?}");
    }

    #[test]
    fn masks_what_varies() {
        check("error: timed out after 30s", "error: timed out after N");
        check(
            "error: checksum mismatch for /var/lib/x/cache/ab/cd: expected 3fa9c2d1e0",
            "error: checksum mismatch for <path>: expected <hash>",
        );
        check(
            "error: GET https://api.launchpad.net/devel/debian?ws.op=x: status 503",
            "error: GET <url>: status N",
        );
        check(
            "error: version 1:2.78-1 already imported",
            "error: version N already imported",
        );
        check(
            "fatal: unable to access 'https://x/y.git/': Connection reset",
            "fatal: unable to access '<url>': Connection reset",
        );
        check("line one\n\n  \n", "line one");
        check(
            "[2026-11-25T12:00:00Z ERROR import_one] error: malformed .dsc: missing Files",
            "error: malformed .dsc: missing Files",
        );
    }

    /// Real messages, as this project's binaries, git and the HTTP layer print them, with the
    /// signature each must get and whether it may go away by itself.
    #[test]
    fn real_messages() {
        let table: &[(&str, &str, bool)] = &[
            (
                "import-one: error: launchpad: launchpad unavailable after 2 attempts (status 503): Launchpad is \
                 offline for maintenance (url http://127.0.0.1:44307/devel/debian/series?ws.size=300)",
                "import-one: error: launchpad: launchpad unavailable after N attempts (status N): Launchpad is \
                 offline for maintenance (url <url>)",
                true,
            ),
            (
                "import-one: error: git remote unreachable: ssh: connect to host 127.0.0.1 port 1: Connection \
                 refused (url ssh://127.0.0.1:1/authbind.git)",
                "import-one: error: git remote unreachable: ssh: connect to host N port N: Connection refused (url \
                 <url>)",
                true,
            ),
            (
                "import-one: error: remote diverged: refs/heads/importer/debian/sid",
                "import-one: error: remote diverged: refs/heads/importer/debian/sid",
                false,
            ),
            (
                "import-one: error: checksum mismatch after a clean re-download: bad response from launchpad \
                 (status 200): downloaded file does not match launchpad's metadata: expected 725946 bytes sha256 \
                 31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b, got 725946 bytes sha256 \
                 0505e224c0c3fb205092026cefcad6901da0f95ce068911469b1570e452dcaea",
                "import-one: error: checksum mismatch after a clean re-download: bad response from launchpad \
                 (status N): downloaded file does not match launchpad's metadata: expected N bytes sha256 <hash>, \
                 got N",
                false,
            ),
            (
                "fatal: unable to access 'https://git.launchpad.net/ubuntu/+source/hello/': Could not resolve host: \
                 git.launchpad.net",
                "fatal: unable to access '<url>': Could not resolve host: git.launchpad.net",
                true,
            ),
            (
                "error: failed to push some refs to 'file:///srv/pkgimport/remote/hello.git'",
                "error: failed to push some refs to '<url>'",
                false,
            ),
            (
                "poll-uploads: error: launchpad: io: Connection refused (os error 111)",
                "poll-uploads: error: launchpad: io: Connection refused (os error N)",
                true,
            ),
            (
                "thread 'main' panicked at crates/importer/src/import.rs:212:9:",
                "thread 'main' panicked at crates/importer/src/import.rs:N:",
                false,
            ),
        ];
        for (message, signature, transient) in table {
            let got = from_text(message).unwrap();
            assert_eq!(&got, signature, "message: {message}");
            assert_eq!(looks_transient(&got), *transient, "{got}");
        }
    }

    #[test]
    fn decisive_line_prefers_errors() {
        assert_eq!(
            decisive_line("error: boom\nsummary: 0 imported"),
            Some("error: boom")
        );
        assert_eq!(decisive_line("one\ntwo"), Some("two"));
        assert_eq!(decisive_line("\n \n"), None);
    }

    #[test]
    fn same_failure_same_signature() {
        let a = from_text("error: download of hello_2.10.orig.tar.gz failed: 502").unwrap();
        let b = from_text("error: download of hello_2.12.3.orig.tar.gz failed: 503").unwrap();
        // The file names differ only in their versions.
        assert_eq!(a, b);
    }

    /// Found by fuzzing: a word whose last kept character is wider than one byte.
    /// `mask_word` must not slice inside it, or the driver panics while it records a
    /// failure. GNU tools in a UTF-8 locale quote names so (`‘x’`).
    #[test]
    fn fuzz_multibyte_word_end() {
        check(
            "error: überprüfung fehlgeschlagen für Datei »x«",
            "error: überprüfung fehlgeschlagen für Datei »x«",
        );
        check(
            "tar: ‘hello_2.10.orig.tar.gz’: Cannot open: café",
            "tar: ‘hello_N’: Cannot open: café",
        );
    }

    /// Found by fuzzing: a signature must normalise to itself, so every log prefix is
    /// stripped, whatever whitespace follows it; otherwise a second pass would change
    /// `[x] error` and `[a]\tb` again.
    #[test]
    fn fuzz_signatures_are_fixed_points() {
        for text in [
            "[2026-11-25T12:00:00Z ERROR import_one] [x] error: nested prefix",
            "[a]\tb c",
            "error: überprüfung fehlgeschlagen für Datei »x«",
        ] {
            let signature = from_text(text).unwrap();
            assert_eq!(normalize(&signature), signature, "text: {text:?}");
        }
        check("[t ERROR x] [worker 3] error: boom 42", "error: boom N");
    }
}
