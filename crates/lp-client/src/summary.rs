//! Turns a Launchpad error body into one short line for logs and failure signatures.
//!
//! Launchpad never answers errors in JSON. Validation errors are `text/plain` lines
//! (`status: Invalid value "X". …`), OOPSes are a bare exception name, and outages are HTML
//! pages from haproxy or Apache (`<title>Launchpad is offline for maintenance</title>`).
//! One line per failure keeps a journal readable and lets failure signatures group the
//! same outage together, so we keep the `<title>` of HTML pages (or their first text) and
//! the first non-empty line of text bodies.

/// The longest summary returned, in characters.
pub const MAX_SUMMARY_CHARS: usize = 160;

/// Summarises an error body into one line of at most [`MAX_SUMMARY_CHARS`] characters.
///
/// `content_type` is the response's `Content-Type`, if any; a body that merely *looks* like
/// HTML is treated as HTML too, since proxies are not careful about headers.
pub fn summarise_body(content_type: Option<&str>, body: &str) -> String {
    let declared_html = content_type.is_some_and(|ct| ct.to_ascii_lowercase().contains("html"));
    let looks_html = body.trim_start().starts_with('<');
    let line = if declared_html || looks_html {
        summarise_html(body)
    } else {
        first_text_line(body)
    };
    match line {
        Some(line) => truncate(&line),
        None => "(empty body)".to_owned(),
    }
}

fn summarise_html(body: &str) -> Option<String> {
    if let Some(title) = element_text(body, "title") {
        return Some(title);
    }
    for tag in ["h1", "h2", "p"] {
        if let Some(text) = element_text(body, tag) {
            return Some(text);
        }
    }
    first_text_line(&strip_tags(body))
}

/// The collapsed text inside the first `<tag …>…</tag>`, if non-empty.
fn element_text(body: &str, tag: &str) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let mut search_from = 0;
    while let Some(found) = lower[search_from..].find(&format!("<{tag}")) {
        let open = search_from + found;
        let after_name = open + 1 + tag.len();
        search_from = after_name;
        // Reject `<titlex>` and the like: the name must end here.
        match lower.as_bytes().get(after_name) {
            Some(b'>' | b' ' | b'\t' | b'\n' | b'\r' | b'/') => {}
            _ => continue,
        }
        let content_start = open + lower[open..].find('>')? + 1;
        let close = content_start + lower[content_start..].find(&format!("</{tag}"))?;
        let text = collapse_whitespace(&decode_entities(&strip_tags(&body[content_start..close])));
        if !text.is_empty() {
            return Some(text);
        }
    }
    None
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';').filter(|&i| i <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            _ => entity
                .strip_prefix("#x")
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn first_text_line(text: &str) -> Option<String> {
    text.lines()
        .map(collapse_whitespace)
        .find(|line| !line.is_empty())
}

fn truncate(line: &str) -> String {
    if line.chars().count() <= MAX_SUMMARY_CHARS {
        return line.to_owned();
    }
    let mut cut: String = line.chars().take(MAX_SUMMARY_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Splits a raw `.http` fixture into (content type, body).
    fn load_fixture(name: &str) -> (Option<String>, String) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/lp-errors")
            .join(name);
        let raw = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let (head, body) = raw
            .split_once("\r\n\r\n")
            .or_else(|| raw.split_once("\n\n"))
            .expect("blank line after headers");
        let content_type = head.lines().find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .map(|(_, v)| v.trim().to_owned())
        });
        (content_type, body.to_owned())
    }

    #[track_caller]
    fn check(fixture: &str, expect: &str) {
        let (content_type, body) = load_fixture(fixture);
        assert_eq!(summarise_body(content_type.as_deref(), &body), expect);
    }

    #[test]
    fn real_error_bodies() {
        check(
            "400-bad-bool.http",
            "exact_match: got 'str', expected bool: 'True'",
        );
        check(
            "400-invalid-status.http",
            "status: Invalid value \"Publishd\". Acceptable values are: Pending, Published, Superseded, Deleted, Obsolete",
        );
        check(
            "400-no-such-operation.http",
            "No such operation: getPublishedSource",
        );
        check(
            "400-ws-size-too-large.http",
            "Maximum for \"ws.size\" parameter is 300.",
        );
        check(
            "401-unknown-token.http",
            "Unknown access token (AbCdEfGhIjKlMnOpQrSt).",
        );
        check("500-oops.http", "AttributeError");
        check(
            "502-apache-offline.http",
            "Launchpad is temporarily unavailable",
        );
        check(
            "503-haproxy-planned-maintenance.http",
            "Launchpad is offline for maintenance",
        );
        check(
            "503-haproxy-unplanned.http",
            "Launchpad is temporarily unavailable",
        );
        check("503-appserver-timeout.http", "Error: Timeout");
        check("504-gateway-timeout.http", "504 Gateway Time-out");
    }

    #[test]
    fn every_fixture_summarises_to_one_short_line() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/lp-errors");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if !name.ends_with(".http") {
                continue;
            }
            let (ct, body) = load_fixture(&name);
            let line = summarise_body(ct.as_deref(), &body);
            assert!(!line.contains('\n') && !line.is_empty(), "{name}: {line:?}");
            assert!(line.chars().count() <= MAX_SUMMARY_CHARS, "{name}");
            assert!(!line.contains('<'), "{name}: {line:?}");
            seen += 1;
        }
        assert!(seen >= 10, "only {seen} fixtures");
    }

    #[test]
    fn odd_bodies() {
        assert_eq!(summarise_body(None, ""), "(empty body)");
        assert_eq!(summarise_body(Some("text/plain"), "\n\n  x  y \n z"), "x y");
        assert_eq!(
            summarise_body(
                Some("text/html"),
                "<html><title> </title><h1>We&#8217;re &amp; down</h1>"
            ),
            "We\u{2019}re & down"
        );
        // No title, no headings: first text.
        assert_eq!(
            summarise_body(None, "<div>\n<b>broken</b> proxy\n</div>"),
            "broken proxy"
        );
        // `<titlebar>` is not `<title>`.
        assert_eq!(
            summarise_body(None, "<titlebar>x</titlebar><title>real</title>"),
            "real"
        );
        let long = "a".repeat(500);
        assert_eq!(
            summarise_body(None, &long).chars().count(),
            MAX_SUMMARY_CHARS
        );
        assert_eq!(
            summarise_body(None, "AT&T & co; &bogus;"),
            "AT&T & co; &bogus;"
        );
    }
}
