//! The one error type of the Launchpad client.
//!
//! Callers branch on the variant: `Unavailable` means Launchpad (or the network to it) is
//! down and retrying *later* will help, which `import-one` maps to exit 69 and the circuit
//! breaker counts; `NotFound` and `Unauthorized` are answers; `BadResponse` means Launchpad
//! (or a proxy) sent something we refuse to interpret, and `DownloadMismatch` is the case of
//! it where a file's size or SHA-256 is not what Launchpad's metadata says; `Config` is our
//! own mistake and maps to exit 78. Every variant that came from an HTTP answer carries the status and any
//! `X-Lazr-OopsId`, and its message is the one-line summary of the body, because Launchpad's
//! error bodies are HTML or plain text, never JSON.

use std::fmt::Write as _;

/// Everything that can go wrong talking to Launchpad.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Launchpad stayed unreachable or kept answering 429/502/503/504 through every attempt.
    #[error("launchpad unavailable after {attempts} attempts{}: {message} (url {url})", context(*.status, .oops_id))]
    Unavailable {
        /// The status of the last answer, `None` for connection errors and timeouts.
        status: Option<u16>,
        /// The `X-Lazr-OopsId` of the last answer, if any.
        oops_id: Option<String>,
        /// How many attempts were made.
        attempts: u32,
        /// The requested URL.
        url: String,
        /// One line: the body summary or the transport error.
        message: String,
    },
    /// 404: the object does not exist.
    #[error("not found: {message} (url {url})")]
    NotFound {
        /// The requested URL.
        url: String,
        /// One line summarising the body.
        message: String,
    },
    /// A 2xx answer we refuse: malformed or truncated JSON, HTML where JSON was expected, a
    /// wrong content type, or a link that leaves the configured API root.
    #[error("bad response from launchpad{}: {message} (url {url})", context(Some(*.status), .oops_id))]
    BadResponse {
        /// HTTP status of the refused answer.
        status: u16,
        /// The `X-Lazr-OopsId`, if any.
        oops_id: Option<String>,
        /// The requested URL.
        url: String,
        /// What was wrong with it.
        message: String,
    },
    /// 401 or 403: bad, expired or revoked credentials, or a blocked client.
    #[error("unauthorized{}: {message} (url {url})", context(Some(*.status), &None))]
    Unauthorized {
        /// 401 or 403.
        status: u16,
        /// The requested URL.
        url: String,
        /// One line summarising the body (`Unknown access token (…).`).
        message: String,
    },
    /// A download whose size or SHA-256 differs from Launchpad's metadata for the file. The
    /// message reads as the `BadResponse` it is a case of.
    #[error(
        "bad response from launchpad (status 200): downloaded file does not match launchpad's metadata: \
         expected {expected_bytes} bytes sha256 {expected_sha256}, got {got_bytes} bytes sha256 {got_sha256} (url {url})"
    )]
    DownloadMismatch {
        /// The requested URL.
        url: String,
        /// The size Launchpad gave.
        expected_bytes: u64,
        /// The SHA-256 Launchpad gave.
        expected_sha256: String,
        /// The size of what arrived.
        got_bytes: u64,
        /// The SHA-256 of what arrived.
        got_sha256: String,
    },
    /// Invalid client settings or credentials file. Our mistake, not Launchpad's.
    #[error("launchpad client configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
    /// Anything else: other 4xx (a request we built wrongly), 500 OOPSes, local IO errors.
    #[error("launchpad request failed{}: {message} (url {url})", context(*.status, .oops_id))]
    Other {
        /// The HTTP status, if there was an answer.
        status: Option<u16>,
        /// The `X-Lazr-OopsId`, if any.
        oops_id: Option<String>,
        /// The requested URL (or the local path for IO errors).
        url: String,
        /// One line describing the failure.
        message: String,
    },
}

impl Error {
    /// Whether trying again later may succeed.
    ///
    /// True for `Unavailable`, for `BadResponse` and `DownloadMismatch` (proxies truncate and
    /// mangle bodies during incidents) and for a 500 OOPS (Launchpad's own errors, such as
    /// `GPGKeyTemporarilyNotFoundError`, are often temporary). False for answers that will
    /// not change by themselves: not found, unauthorized, bad configuration, rejected
    /// requests.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unavailable { .. }
            | Error::BadResponse { .. }
            | Error::DownloadMismatch { .. } => true,
            Error::Other { status, .. } => *status == Some(500),
            Error::NotFound { .. } | Error::Unauthorized { .. } | Error::Config { .. } => false,
        }
    }

    /// The HTTP status behind the error, if there was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Unavailable { status, .. } | Error::Other { status, .. } => *status,
            Error::NotFound { .. } => Some(404),
            Error::BadResponse { status, .. } | Error::Unauthorized { status, .. } => Some(*status),
            Error::DownloadMismatch { .. } => Some(200),
            Error::Config { .. } => None,
        }
    }

    /// Launchpad's `X-Lazr-OopsId` for the failing answer, if it sent one.
    pub fn oops_id(&self) -> Option<&str> {
        match self {
            Error::Unavailable { oops_id, .. }
            | Error::BadResponse { oops_id, .. }
            | Error::Other { oops_id, .. } => oops_id.as_deref(),
            Error::NotFound { .. }
            | Error::Unauthorized { .. }
            | Error::DownloadMismatch { .. }
            | Error::Config { .. } => None,
        }
    }
}

/// ` (status 503, OOPS-…)`-style context for messages; empty when there is none.
fn context(status: Option<u16>, oops_id: &Option<String>) -> String {
    let mut parts = String::new();
    if let Some(status) = status {
        let _ = write!(parts, "status {status}");
    }
    if let Some(oops) = oops_id {
        if !parts.is_empty() {
            parts.push_str(", ");
        }
        parts.push_str(oops);
    }
    if parts.is_empty() {
        parts
    } else {
        format!(" ({parts})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_with_context() {
        let e = Error::Unavailable {
            status: Some(503),
            oops_id: Some("OOPS-1".into()),
            attempts: 7,
            url: "http://x/devel/debian".into(),
            message: "Launchpad is offline for maintenance".into(),
        };
        assert_eq!(
            e.to_string(),
            "launchpad unavailable after 7 attempts (status 503, OOPS-1): Launchpad is offline for maintenance (url http://x/devel/debian)"
        );
        assert!(e.is_transient());
        let e = Error::Unavailable {
            status: None,
            oops_id: None,
            attempts: 2,
            url: "u".into(),
            message: "connection refused".into(),
        };
        assert_eq!(
            e.to_string(),
            "launchpad unavailable after 2 attempts: connection refused (url u)"
        );
    }

    #[test]
    fn a_download_mismatch_reads_as_the_bad_response_it_is() {
        let e = Error::DownloadMismatch {
            url: "http://x/f.tar.xz".into(),
            expected_bytes: 3,
            expected_sha256: "aa".into(),
            got_bytes: 8,
            got_sha256: "bb".into(),
        };
        assert_eq!(
            e.to_string(),
            "bad response from launchpad (status 200): downloaded file does not match launchpad's metadata: expected 3 bytes sha256 aa, got 8 bytes sha256 bb (url http://x/f.tar.xz)"
        );
        assert!(e.is_transient());
        assert_eq!(e.status(), Some(200));
        assert_eq!(e.oops_id(), None);
    }

    #[test]
    fn transience() {
        let other = |status| Error::Other {
            status,
            oops_id: None,
            url: String::new(),
            message: String::new(),
        };
        assert!(other(Some(500)).is_transient());
        assert!(!other(Some(400)).is_transient());
        assert!(!other(None).is_transient());
        let nf = Error::NotFound {
            url: String::new(),
            message: String::new(),
        };
        assert!(!nf.is_transient());
        assert_eq!(nf.status(), Some(404));
        let cfg = Error::Config {
            message: String::new(),
        };
        assert!(!cfg.is_transient());
    }
}
