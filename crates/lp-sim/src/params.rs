//! Query-string handling with Launchpad's (lazr.restful's) rules.
//!
//! Every value is first tried as JSON and used as the raw string if that fails; text
//! parameters given as JSON numbers are turned back into Python's `str()` of the number
//! (the `1.10` → `1.1` pitfall); booleans must be JSON `true`/`false`; vocabulary values
//! must be exact titles; unknown parameters are ignored. Error texts are Launchpad's, one
//! line per bad parameter, so clients see exactly what they would see in production.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::Value;

/// A decoded query string, in request order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

/// The paging parameters; links rebuild everything else.
const PAGING: [&str; 5] = ["ws.size", "ws.start", "memo", "direction", "ws.show"];

impl Query {
    pub(crate) fn parse(query: &str) -> Query {
        let pairs = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (form_decode(k), form_decode(v))
            })
            .collect();
        Query { pairs }
    }

    /// The last value given for `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The non-paging parameters, sorted by name (then value), url-encoded and joined:
    /// the stem of every link Launchpad generates for this request.
    pub(crate) fn link_stem(&self) -> String {
        let mut pairs: Vec<&(String, String)> = self
            .pairs
            .iter()
            .filter(|(k, _)| !PAGING.contains(&k.as_str()))
            .collect();
        pairs.sort();
        pairs
            .iter()
            .map(|(k, v)| format!("{}={}", quote_plus(k), quote_plus(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte.
pub(crate) fn form_decode(s: &str) -> String {
    percent_decode(&s.replace('+', " "))
}

/// Decodes `%XX` escapes, leaving malformed ones alone.
pub(crate) fn percent_decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// What Python's `quote_plus` escapes: everything but `A-Za-z0-9_.-~`.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What a path segment of lp-sim's URLs escapes: everything but `A-Za-z0-9._~+:-`.
const PATH_SEGMENT: &AsciiSet = &QUERY_VALUE.remove(b'+').remove(b':');

/// Python's `quote_plus`.
pub(crate) fn quote_plus(s: &str) -> String {
    // Each escaped byte comes out as a chunk of its own, so `%20` is exactly a space.
    utf8_percent_encode(s, QUERY_VALUE)
        .map(|chunk| if chunk == "%20" { "+" } else { chunk })
        .collect()
}

/// Percent-encodes one URL path segment (keeps `A-Za-z0-9._~+:-`).
pub(crate) fn path_segment(s: &str) -> String {
    utf8_percent_encode(s, PATH_SEGMENT).to_string()
}

fn json_or_raw(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()))
}

fn python_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// A text parameter: JSON strings unquoted, JSON numbers as Python would print them.
pub(crate) fn text(q: &Query, name: &str) -> Result<Option<String>, String> {
    let Some(raw) = q.get(name) else {
        return Ok(None);
    };
    match json_or_raw(raw) {
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(python_number(&n))),
        Value::Bool(b) => Ok(Some(if b { "True" } else { "False" }.to_owned())),
        other => Err(format!(
            "{name}: got '{}', expected str: {raw:?}",
            python_type(&other)
        )),
    }
}

fn python_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

/// A boolean parameter: only JSON `true` and `false`.
pub(crate) fn boolean(q: &Query, name: &str) -> Result<Option<bool>, String> {
    let Some(raw) = q.get(name) else {
        return Ok(None);
    };
    match json_or_raw(raw) {
        Value::Bool(b) => Ok(Some(b)),
        other => Err(format!(
            "{name}: got '{}', expected bool: '{raw}'",
            python_type(&other)
        )),
    }
}

/// A vocabulary parameter: one exact title out of `allowed`.
pub(crate) fn vocabulary(
    q: &Query,
    name: &str,
    allowed: &[&str],
) -> Result<Option<String>, String> {
    let Some(value) = text(q, name)? else {
        return Ok(None);
    };
    if allowed.contains(&value.as_str()) {
        return Ok(Some(value));
    }
    Err(format!(
        "{name}: Invalid value \"{value}\". Acceptable values are: {}",
        allowed.join(", ")
    ))
}

/// Where a page starts and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Paging {
    pub(crate) start: usize,
    pub(crate) size: usize,
}

/// The largest `ws.size`.
pub(crate) const MAX_PAGE_SIZE: usize = 300;
/// Launchpad production's default `ws.size`.
pub(crate) const DEFAULT_PAGE_SIZE: usize = 75;

/// Reads `ws.size`, `ws.start`, `memo` and `direction` like lazr.batchnavigator: the memo
/// (a plain offset) wins over `ws.start`; `direction=backwards` returns the page that ends
/// at the memo.
pub(crate) fn paging(q: &Query) -> Result<Paging, String> {
    let size = match q.get("ws.size").and_then(|s| s.trim().parse::<i64>().ok()) {
        Some(n) if n > MAX_PAGE_SIZE as i64 => {
            return Err(format!(
                "Maximum for \"ws.size\" parameter is {MAX_PAGE_SIZE}."
            ));
        }
        Some(n) if n > 0 => n as usize,
        _ => DEFAULT_PAGE_SIZE,
    };
    let ws_start = q
        .get("ws.start")
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let memo = q.get("memo").and_then(|s| s.trim().parse::<usize>().ok());
    let backwards = q.get("direction") == Some("backwards");
    let start = match (memo, backwards) {
        (Some(memo), true) => memo.saturating_sub(size),
        (Some(memo), false) => memo,
        (None, _) => ws_start,
    };
    Ok(Paging { start, size })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_first_then_raw() {
        let q = Query::parse(
            "source_name=%22hello%22&version=1.10&v2=1e5&bare=hello&exact_match=true&b2=True&b3=1",
        );
        assert_eq!(text(&q, "source_name").unwrap().as_deref(), Some("hello"));
        assert_eq!(text(&q, "version").unwrap().as_deref(), Some("1.1"));
        assert_eq!(text(&q, "v2").unwrap().as_deref(), Some("100000.0"));
        assert_eq!(text(&q, "bare").unwrap().as_deref(), Some("hello"));
        assert_eq!(boolean(&q, "exact_match").unwrap(), Some(true));
        assert_eq!(
            boolean(&q, "b2").unwrap_err(),
            "b2: got 'str', expected bool: 'True'"
        );
        assert_eq!(
            boolean(&q, "b3").unwrap_err(),
            "b3: got 'int', expected bool: '1'"
        );
        assert_eq!(text(&q, "missing").unwrap(), None);
    }

    #[test]
    fn vocabulary_errors_are_launchpads() {
        let q = Query::parse("status=Publishd");
        assert_eq!(
            vocabulary(
                &q,
                "status",
                &["Pending", "Published", "Superseded", "Deleted", "Obsolete"]
            )
            .unwrap_err(),
            "status: Invalid value \"Publishd\". Acceptable values are: Pending, Published, Superseded, Deleted, Obsolete"
        );
        let q = Query::parse("pocket=%22Release%22");
        assert_eq!(
            vocabulary(&q, "pocket", &["Release"]).unwrap().as_deref(),
            Some("Release")
        );
    }

    #[test]
    fn paging_rules() {
        let p = |s: &str| paging(&Query::parse(s));
        assert_eq!(p("").unwrap(), Paging { start: 0, size: 75 });
        assert_eq!(
            p("ws.size=0&ws.start=x").unwrap(),
            Paging { start: 0, size: 75 }
        );
        assert_eq!(
            p("ws.size=2&ws.start=4").unwrap(),
            Paging { start: 4, size: 2 }
        );
        // The memo decides; ws.start is cosmetic.
        assert_eq!(
            p("ws.size=2&memo=6&ws.start=4").unwrap(),
            Paging { start: 6, size: 2 }
        );
        assert_eq!(
            p("ws.size=75&direction=backwards&memo=75").unwrap(),
            Paging { start: 0, size: 75 }
        );
        assert_eq!(
            p("ws.size=301").unwrap_err(),
            "Maximum for \"ws.size\" parameter is 300."
        );
    }

    #[test]
    fn encodings_of_known_strings() {
        // (input, quote_plus, path_segment)
        let cases = [
            ("", "", ""),
            ("hello_2.10-1.dsc", "hello_2.10-1.dsc", "hello_2.10-1.dsc"),
            ("a b", "a+b", "a%20b"),
            ("1:2.3+dfsg~1", "1%3A2.3%2Bdfsg~1", "1:2.3+dfsg~1"),
            ("a/b", "a%2Fb", "a%2Fb"),
            (
                "100% ü&=?#",
                "100%25+%C3%BC%26%3D%3F%23",
                "100%25%20%C3%BC%26%3D%3F%23",
            ),
            (
                "Jörg 日本",
                "J%C3%B6rg+%E6%97%A5%E6%9C%AC",
                "J%C3%B6rg%20%E6%97%A5%E6%9C%AC",
            ),
        ];
        for (input, plus, segment) in cases {
            assert_eq!(quote_plus(input), plus, "{input:?}");
            assert_eq!(path_segment(input), segment, "{input:?}");
            assert_eq!(form_decode(plus), input, "{input:?}");
            assert_eq!(percent_decode(segment), input, "{input:?}");
        }
        for b in 0u8..=0x7f {
            let c = char::from(b);
            let escaped = format!("%{b:02X}");
            let kept = c.is_ascii_alphanumeric() || "-._~".contains(c);
            let want = match c {
                ' ' => "+".to_owned(),
                _ if kept => c.to_string(),
                _ => escaped.clone(),
            };
            assert_eq!(quote_plus(&c.to_string()), want, "{b:#04x}");
            let kept = kept || "+:".contains(c);
            let want = if kept { c.to_string() } else { escaped };
            assert_eq!(path_segment(&c.to_string()), want, "{b:#04x}");
        }
    }

    #[test]
    fn decoding_leaves_what_is_not_an_escape() {
        assert_eq!(percent_decode("a+b%20c"), "a+b c");
        assert_eq!(form_decode("a+b%2Bc"), "a b+c");
        assert_eq!(percent_decode("bad%zz%4"), "bad%zz%4");
        assert_eq!(percent_decode("%%41%"), "%A%");
        assert_eq!(percent_decode("%+1%-1"), "%+1%-1");
        assert_eq!(percent_decode("%FF"), "\u{FFFD}");
    }

    #[test]
    fn link_stems_sort_and_requote() {
        let q = Query::parse(
            "ws.op=getPublishedSources&source_name=%22hello%22&exact_match=true&created_since_date=%222025-10-01T00%3A00%3A00%2B00%3A00%22&order_by_date=true&ws.size=2&memo=2&ws.start=2",
        );
        assert_eq!(
            q.link_stem(),
            "created_since_date=%222025-10-01T00%3A00%3A00%2B00%3A00%22&exact_match=true&order_by_date=true&source_name=%22hello%22&ws.op=getPublishedSources"
        );
    }
}
