//! Redaction of credentials in URLs before they reach a message, a log line or an error.
//!
//! A remote such as `https://user:token@host/x.git`, or a database URL such as
//! `postgres://user:secret@db/state`, carries its secret in the URL's user info. git and
//! curl echo URLs in their errors, and our own messages name the remote and the database,
//! so every text with a URL in it goes through this module before it is shown: failure
//! signatures, logs, reports and `importctl config show` are built from those texts and
//! must never hold a password or a token. (A user name alone can be a token too, e.g.
//! GitHub's `https://<token>@github.com`, so the whole user info goes.)
//!
//! Two entry points, for two kinds of input:
//! - [`redact_userinfo`]: free text (a git message, a configuration value) that may hold
//!   any number of URLs among other words;
//! - [`redact_url`]: exactly one URL (a database URL), whose `password=` query parameter
//!   is blanked too.

/// What replaces the user info of a URL, and the value of a `password=` parameter.
pub const REDACTED: &str = "***";

/// `text` with the user info of every `scheme://user:secret@host` in it replaced by
/// [`REDACTED`]. Text without such URLs comes back unchanged.
pub fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '\'' | '"' | '<' | '>' | '`' | '\\')
                    || c.is_whitespace()
            })
            .unwrap_or(after.len());
        push_authority(&mut out, &after[..end]);
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The URL with its user info (`user:password@`) replaced by `***@` and any `password=`
/// query parameter blanked, fit for logs and error messages. The scheme is optional: the
/// authority runs to the first `/` or `?`.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let mut out = String::with_capacity(url.len());
    if let Some(scheme) = scheme {
        out.push_str(scheme);
        out.push_str("://");
    }
    push_authority(&mut out, authority);
    let Some((path, query)) = tail.split_once('?') else {
        out.push_str(tail);
        return out;
    };
    out.push_str(path);
    out.push('?');
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                out.push_str(key);
                out.push('=');
                out.push_str(REDACTED);
            }
            _ => out.push_str(pair),
        }
    }
    out
}

/// Appends a URL's authority with everything up to its last `@` replaced by [`REDACTED`].
fn push_authority(out: &mut String, authority: &str) {
    match authority.rfind('@') {
        Some(userinfo_end) => {
            out.push_str(REDACTED);
            out.push_str(&authority[userinfo_end..]);
        }
        None => out.push_str(authority),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_goes_and_the_rest_stays() {
        for (text, expected) in [
            (
                "https://user:CANARY@127.0.0.1:1/hello.git",
                "https://***@127.0.0.1:1/hello.git",
            ),
            ("https://TOKEN@github.com/x", "https://***@github.com/x"),
            (
                "fatal: unable to access 'https://u:p@h/x/': refused",
                "fatal: unable to access 'https://***@h/x/': refused",
            ),
            (
                "ssh://git@host:22/x a://b@c",
                "ssh://***@host:22/x a://***@c",
            ),
            (
                "file:///srv/remote/hello.git",
                "file:///srv/remote/hello.git",
            ),
            ("https://host/path@x", "https://host/path@x"),
            ("no url here", "no url here"),
            ("", ""),
            ("://@", "://***@"),
        ] {
            assert_eq!(redact_userinfo(text), expected, "{text}");
        }
    }

    #[test]
    fn urls_are_redacted() {
        let cases = [
            ("postgres://u:secret@db:5432/q", "postgres://***@db:5432/q"),
            ("postgresql://u@db/q", "postgresql://***@db/q"),
            ("postgres://db/q", "postgres://db/q"),
            (
                "postgres://db/q?user=u&password=secret&sslmode=disable",
                "postgres://db/q?user=u&password=***&sslmode=disable",
            ),
            ("postgres://u:p@ss@db/q", "postgres://***@db/q"),
            ("postgres://u:secret@db", "postgres://***@db"),
        ];
        for (url, want) in cases {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }

    #[test]
    fn url_edge_cases() {
        let cases = [
            ("u:secret@db/q", "***@db/q"),
            ("db?PASSWORD=x&&password", "db?PASSWORD=***&&password"),
            ("postgres://db/q?", "postgres://db/q?"),
            (
                "postgres://u@db?password=a=b",
                "postgres://***@db?password=***",
            ),
            ("", ""),
        ];
        for (url, want) in cases {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }
}
