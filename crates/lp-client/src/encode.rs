//! Builds query strings exactly as launchpadlib does.
//!
//! Launchpad first tries to read every query value as JSON. So text must be JSON-quoted
//! (otherwise `version=1.10` arrives as the number `1.1`), booleans are JSON `true`/`false`,
//! datetimes are JSON-quoted `isoformat()`, and resources are their JSON-quoted `self_link`.
//! Vocabulary values (`pocket`, `status`) go bare, as launchpadlib sends them. Parameters
//! are sorted by name and encoded like Python's `urlencode` (`quote_plus`), so our URLs are
//! byte-identical to launchpadlib's and comparable in logs.

use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::types::{Pocket, PublicationStatus, format_lp_datetime};

/// The order of `getPublishedSources` results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PublicationOrder {
    /// Launchpad's default: by name, then version descending. Expensive unfiltered.
    #[default]
    NameThenVersion,
    /// `order_by_date=true`: newest first.
    NewestFirst,
    /// `order_by_date_ascending=true`: oldest first; the most stable for catching up,
    /// since new publications append at the end instead of shifting pages.
    OldestFirst,
}

/// The parameters of `IArchive.getPublishedSources` the importer uses.
///
/// Unset fields are not sent. Build one with struct-update syntax from
/// `PublishedSourcesQuery::default()`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublishedSourcesQuery {
    /// Substring of the source name, or the exact name with `exact_match`.
    pub source_name: Option<String>,
    /// Compare `source_name` for equality instead of substring (`LIKE '%x%'`).
    pub exact_match: bool,
    /// Exact version string (needs `source_name`).
    pub version: Option<String>,
    /// A series' `self_link` (its API URL), as Launchpad expects.
    pub distro_series: Option<String>,
    /// One pocket.
    pub pocket: Option<Pocket>,
    /// One status.
    pub status: Option<PublicationStatus>,
    /// Only publications with `date_created >=` this (inclusive).
    pub created_since_date: Option<DateTime<Utc>>,
    /// `main`, `contrib`, ….
    pub component_name: Option<String>,
    /// Result order.
    pub order: PublicationOrder,
}

impl PublishedSourcesQuery {
    /// The query string (without `?`) for one page request of `page_size` entries.
    pub fn to_query_string(&self, page_size: u32) -> String {
        let mut params: Vec<(&str, String)> = vec![("ws.op", "getPublishedSources".into())];
        if let Some(name) = &self.source_name {
            params.push(("source_name", json_string(name)));
        }
        if self.exact_match {
            params.push(("exact_match", "true".into()));
        }
        if let Some(version) = &self.version {
            params.push(("version", json_string(version)));
        }
        if let Some(series) = &self.distro_series {
            params.push(("distro_series", json_string(series)));
        }
        if let Some(pocket) = self.pocket {
            params.push(("pocket", pocket.as_str().into()));
        }
        if let Some(status) = self.status {
            params.push(("status", status.as_str().into()));
        }
        if let Some(since) = self.created_since_date {
            params.push((
                "created_since_date",
                json_string(&format_lp_datetime(since)),
            ));
        }
        if let Some(component) = &self.component_name {
            params.push(("component_name", json_string(component)));
        }
        match self.order {
            PublicationOrder::NameThenVersion => {}
            PublicationOrder::NewestFirst => params.push(("order_by_date", "true".into())),
            PublicationOrder::OldestFirst => {
                params.push(("order_by_date_ascending", "true".into()));
            }
        }
        params.push(("ws.size", page_size.to_string()));
        urlencode_sorted(params)
    }
}

/// `urlencode(sorted(params))` with `quote_plus`, as wadllib does.
pub fn urlencode_sorted(mut params: Vec<(&str, String)>) -> String {
    params.sort_by(|a, b| a.0.cmp(b.0));
    params
        .iter()
        .map(|(k, v)| format!("{}={}", quote_plus(k), quote_plus(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A JSON string literal.
pub fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// The bytes that are escaped: everything but RFC 3986's unreserved characters
/// (`A-Za-z0-9-._~`), which is also what Python's `quote` keeps with `safe=''`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Python's `urllib.parse.quote_plus`: keeps `A-Za-z0-9_.-~`, spaces become `+`, everything
/// else is `%XX` per UTF-8 byte.
pub fn quote_plus(s: &str) -> String {
    // Each escaped byte comes out as a chunk of its own, so `%20` is exactly a space.
    utf8_percent_encode(s, UNRESERVED)
        .map(|chunk| if chunk == "%20" { "+" } else { chunk })
        .collect()
}

/// RFC 3986 percent-encoding (unreserved characters kept, a space is `%20`), as OAuth
/// requires.
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// Decodes `%XX` escapes (and leaves malformed ones alone). `+` is kept as is. Bytes that
/// do not decode to UTF-8 become U+FFFD.
pub fn percent_decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn matches_launchpadlib_byte_for_byte() {
        // The request that launchpadlib sends for this query, plus our explicit page size.
        let q = PublishedSourcesQuery {
            source_name: Some("hello".into()),
            exact_match: true,
            distro_series: Some("https://api.launchpad.net/devel/ubuntu/noble".into()),
            pocket: Some(Pocket::Release),
            status: Some(PublicationStatus::Published),
            order: PublicationOrder::NewestFirst,
            created_since_date: Some(Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()),
            ..PublishedSourcesQuery::default()
        };
        assert_eq!(
            q.to_query_string(75),
            "created_since_date=%222024-01-01T00%3A00%3A00%2B00%3A00%22\
             &distro_series=%22https%3A%2F%2Fapi.launchpad.net%2Fdevel%2Fubuntu%2Fnoble%22\
             &exact_match=true&order_by_date=true&pocket=Release&source_name=%22hello%22\
             &status=Published&ws.op=getPublishedSources&ws.size=75"
        );
    }

    #[test]
    fn text_is_always_json_quoted() {
        let q = PublishedSourcesQuery {
            source_name: Some("hello".into()),
            version: Some("1.10".into()),
            order: PublicationOrder::OldestFirst,
            ..PublishedSourcesQuery::default()
        };
        assert_eq!(
            q.to_query_string(300),
            "order_by_date_ascending=true&source_name=%22hello%22&version=%221.10%22\
             &ws.op=getPublishedSources&ws.size=300"
        );
        assert_eq!(
            PublishedSourcesQuery::default().to_query_string(5),
            "ws.op=getPublishedSources&ws.size=5"
        );
    }

    #[test]
    fn datetimes_keep_microseconds() {
        let q = PublishedSourcesQuery {
            created_since_date: Some(
                Utc.with_ymd_and_hms(2025, 10, 21, 9, 14, 22).unwrap()
                    + chrono::Duration::microseconds(418205),
            ),
            ..PublishedSourcesQuery::default()
        };
        assert!(
            q.to_query_string(1)
                .starts_with("created_since_date=%222025-10-21T09%3A14%3A22.418205%2B00%3A00%22&")
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_plus("a b+c/d:\"é~"), "a+b%2Bc%2Fd%3A%22%C3%A9~");
        assert_eq!(percent_encode("a b&c"), "a%20b%26c");
        assert_eq!(percent_decode("hello_2.10%2B1.dsc"), "hello_2.10+1.dsc");
        assert_eq!(percent_decode("bad%zz%4"), "bad%zz%4");
        assert_eq!(percent_decode("x%25"), "x%");
    }

    #[test]
    fn encodings_of_known_strings() {
        // (input, quote_plus, percent_encode), as Python's quote_plus and quote(safe='').
        let cases = [
            ("", "", ""),
            ("hello", "hello", "hello"),
            ("a b", "a+b", "a%20b"),
            ("a+b", "a%2Bb", "a%2Bb"),
            ("1.0~rc1-2_x", "1.0~rc1-2_x", "1.0~rc1-2_x"),
            ("1:2.3", "1%3A2.3", "1%3A2.3"),
            (
                "https://api.launchpad.net/devel/ubuntu/noble",
                "https%3A%2F%2Fapi.launchpad.net%2Fdevel%2Fubuntu%2Fnoble",
                "https%3A%2F%2Fapi.launchpad.net%2Fdevel%2Fubuntu%2Fnoble",
            ),
            (
                "\"2024-01-01T00:00:00+00:00\"",
                "%222024-01-01T00%3A00%3A00%2B00%3A00%22",
                "%222024-01-01T00%3A00%3A00%2B00%3A00%22",
            ),
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
            (
                "\t\n*'()!",
                "%09%0A%2A%27%28%29%21",
                "%09%0A%2A%27%28%29%21",
            ),
        ];
        for (input, plus, percent) in cases {
            assert_eq!(quote_plus(input), plus, "{input:?}");
            assert_eq!(percent_encode(input), percent, "{input:?}");
            assert_eq!(percent_decode(percent), input, "{input:?}");
        }
    }

    #[test]
    fn every_ascii_byte_is_kept_or_escaped_as_python_does() {
        for b in 0u8..=0x7f {
            let c = char::from(b);
            let kept = c.is_ascii_alphanumeric() || "-._~".contains(c);
            let escaped = format!("%{b:02X}");
            let want_percent = if kept { c.to_string() } else { escaped.clone() };
            let want_plus = if c == ' ' {
                "+".to_owned()
            } else {
                want_percent.clone()
            };
            assert_eq!(percent_encode(&c.to_string()), want_percent, "{b:#04x}");
            assert_eq!(quote_plus(&c.to_string()), want_plus, "{b:#04x}");
        }
    }

    #[test]
    fn decoding_leaves_what_is_not_an_escape() {
        assert_eq!(percent_decode("a+b%20c"), "a+b c");
        assert_eq!(percent_decode("%C3%A9%e2%82%ac"), "é€");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%%41"), "%A");
        assert_eq!(percent_decode("%G1%1"), "%G1%1");
        assert_eq!(percent_decode("%+1%-1"), "%+1%-1");
        assert_eq!(percent_decode("%FF"), "\u{FFFD}");
    }
}
