//! Who is asking, and what they may do.
//!
//! - **Tokens.** `importctl token add NAME --role ROLE` makes a token from 32 bytes of the
//!   operating system's CSPRNG (`pit_` and 64 hex digits), prints it once, and stores only
//!   its SHA-256. A token has that much entropy, so a plain hash is as good as a slow one
//!   against guessing, and lets a lookup be one index probe. Scripts send it as
//!   `Authorization: Bearer pit_...`.
//! - **Sessions.** A browser logs in by posting a token to `/login`; it gets a cookie holding
//!   a random session id (`HttpOnly`, `SameSite=Strict`, `Path=/`, `Secure` when
//!   configured), stored as its SHA-256 with an expiry. Revoking the token ends its sessions.
//! - **CSRF.** Every form carries a token derived from the session id (a keyed hash of it),
//!   so it needs no storage and changes with the session; every POST from a form is checked
//!   against it. The JSON API takes bearer tokens only, which a browser never sends by
//!   itself, so it needs no CSRF token.
//!
//! No token, session id or CSRF token is ever logged: the types that hold them print as
//! `<redacted>`.

use axum::http::HeaderMap;
use axum::http::header;
use pkgimport_queue::{Role, TokenInfo};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{Error, State};

/// What every token starts with, so that a leaked one is easy to recognise (and to scan for).
pub const TOKEN_PREFIX: &str = "pit_";

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "pkgimport_session";

/// The login form's own cookie: a random value that the form repeats (double submit), so
/// that another site cannot log a browser in with a token of its choosing.
pub(crate) const LOGIN_COOKIE: &str = "pkgimport_login";

/// A new token: `pit_` and 64 hex digits of the CSPRNG.
pub fn generate_token() -> String {
    format!("{TOKEN_PREFIX}{}", random_hex())
}

/// 32 random bytes as 64 hex digits, from the thread-local CSPRNG (seeded from the OS).
pub(crate) fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The stored form of a token or a session id: its SHA-256, in hex.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A token's name: 1 to 64 of ASCII letters, digits, `.`, `_`, `-`, `@`. It is shown on
/// pages and in logs, so it is kept plain.
pub fn check_token_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "token name {name:?}: use 1 to 64 letters, digits, '.', '_', '-' or '@'"
        ))
    }
}

/// The CSRF token of a session: a hash of its id under a fixed label.
pub(crate) fn csrf_for(session_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"pkgimport-web csrf\0");
    h.update(session_id.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// Compares two secrets in time that does not depend on where they differ.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// How the caller proved who it is.
pub(crate) enum Via {
    Bearer,
    Session { id: String },
}

/// An authenticated caller.
pub(crate) struct Caller {
    pub(crate) name: String,
    pub(crate) role: Role,
    pub(crate) via: Via,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("via", &"<redacted>")
            .finish()
    }
}

impl Caller {
    /// The CSRF token its forms carry, for a browser session.
    pub(crate) fn csrf(&self) -> Option<String> {
        match &self.via {
            Via::Session { id } => Some(csrf_for(id)),
            Via::Bearer => None,
        }
    }
}

/// Why a request may not go on.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Denied {
    /// No credentials, or ones that are not valid: 401.
    Unauthenticated,
    /// Valid credentials without the role: 403.
    Forbidden { need: Role },
    /// A form without the session's CSRF token: 403.
    Csrf,
}

/// The value of cookie `name`, if the request carries it.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The bearer token of the `Authorization` header: `Some(Err)` when the header is there but
/// is not a bearer token.
fn bearer(headers: &HeaderMap) -> Option<Result<&str, ()>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let value = value.to_str().map_err(|_| ());
    Some(value.and_then(|v| {
        v.strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(())
    }))
}

/// Who the request comes from: a bearer token if it sends one (a wrong one is refused, not
/// ignored), else a session cookie, else nobody. `api` requests take bearer tokens only.
pub(crate) async fn caller(
    state: &State,
    headers: &HeaderMap,
    api: bool,
) -> Result<Result<Option<Caller>, Denied>, Error> {
    if let Some(token) = bearer(headers) {
        let Ok(token) = token else {
            return Ok(Err(Denied::Unauthenticated));
        };
        let hash = hash_secret(token);
        let found = state.db.run(move |s| s.token_by_hash(&hash)).await??;
        return Ok(match found {
            Some(TokenInfo { name, role, .. }) => Ok(Some(Caller {
                name,
                role,
                via: Via::Bearer,
            })),
            None => Err(Denied::Unauthenticated),
        });
    }
    if api {
        return Ok(Ok(None));
    }
    let Some(id) = cookie(headers, SESSION_COOKIE).map(str::to_owned) else {
        return Ok(Ok(None));
    };
    let hash = hash_secret(&id);
    let now = pkgimport_queue::Timestamp::now();
    let found = state.db.run(move |s| s.session(&hash, now)).await??;
    // An unknown or expired session is simply no session: the pages are still readable.
    Ok(Ok(found.map(|t| Caller {
        name: t.name,
        role: t.role,
        via: Via::Session { id },
    })))
}

/// Requires a caller with `need` or a higher role.
pub(crate) fn require(caller: Option<&Caller>, need: Role) -> Result<&Caller, Denied> {
    match caller {
        None => Err(Denied::Unauthenticated),
        Some(c) if c.role < need => Err(Denied::Forbidden { need }),
        Some(c) => Ok(c),
    }
}

/// Checks a form's CSRF field against the caller's session.
pub(crate) fn check_csrf(caller: &Caller, sent: Option<&str>) -> Result<(), Denied> {
    match (caller.csrf(), sent) {
        (Some(expected), Some(sent)) if same_secret(&expected, sent) => Ok(()),
        _ => Err(Denied::Csrf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_hashed() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 64);
        assert_eq!(hash_secret(&a).len(), 64);
        assert_ne!(hash_secret(&a), hash_secret(&b));
        assert_ne!(csrf_for("x"), csrf_for("y"));
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("a", "ab"));
    }

    #[test]
    fn token_names_are_plain() {
        assert!(check_token_name("alice@ops-1.b_c").is_ok());
        for bad in ["", "a b", "<script>", &"x".repeat(65), "é"] {
            assert!(check_token_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cookies_and_bearer_tokens_are_read_from_the_headers() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            "a=1; pkgimport_session=abc".parse().unwrap(),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "b"), None);
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer pit_x".parse().unwrap());
        assert_eq!(bearer(&h), Some(Ok("pit_x")));
        h.insert(header::AUTHORIZATION, "Basic eA==".parse().unwrap());
        assert_eq!(bearer(&h), Some(Err(())));
    }

    #[test]
    fn roles_are_ordered() {
        let c = |role| Caller {
            name: "n".into(),
            role,
            via: Via::Bearer,
        };
        assert!(require(None, Role::Viewer).is_err());
        assert_eq!(
            require(Some(&c(Role::Viewer)), Role::Operator).unwrap_err(),
            Denied::Forbidden {
                need: Role::Operator
            }
        );
        assert!(require(Some(&c(Role::Admin)), Role::Operator).is_ok());
        assert_eq!(check_csrf(&c(Role::Admin), Some("x")), Err(Denied::Csrf));
        let s = Caller {
            via: Via::Session { id: "sid".into() },
            ..c(Role::Operator)
        };
        assert!(check_csrf(&s, Some(&csrf_for("sid"))).is_ok());
        assert_eq!(check_csrf(&s, None), Err(Denied::Csrf));
        assert!(!format!("{s:?}").contains("sid"));
    }
}
