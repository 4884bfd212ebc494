//! Redaction of credentials in URLs before they reach a message, a log line or an error.
//!
//! A remote such as `https://user:token@host/x.git` carries its secret in the URL's user
//! info. git and curl echo URLs in their errors, and our own messages name the remote, so
//! every text that leaves this crate with a URL in it goes through [`redact_userinfo`]:
//! failure signatures, logs and reports are built from those texts and must never hold a
//! password or a token. (A user name alone can be a token too, e.g. GitHub's
//! `https://<token>@github.com`, so the whole user info goes.)

/// What replaces the user info of a URL.
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
        let authority = &after[..end];
        match authority.rfind('@') {
            Some(userinfo_end) => {
                out.push_str(REDACTED);
                out.push_str(&authority[userinfo_end..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
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
}
