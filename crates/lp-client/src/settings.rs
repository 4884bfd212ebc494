//! Client settings and OAuth credentials.
//!
//! The binary builds a [`ClientSettings`] from its config and passes it in; the library
//! reads no environment and has no `Default` for settings, so every value in use is one
//! somebody chose (house style). Credentials come from a launchpadlib credentials file,
//! which must be private to its owner, and their `Debug` output never shows a token or a
//! secret, so a settings dump in a log or `config show` cannot leak them.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use crate::backoff::BackoffPolicy;
use crate::encode::percent_encode;
use crate::error::Error;

/// Launchpad's production API root for the `devel` version.
pub const PRODUCTION_API_ROOT: &str = "https://api.launchpad.net/devel/";
/// The largest `ws.size` Launchpad accepts.
pub const MAX_PAGE_SIZE: u32 = 300;

/// Everything the client needs to know, chosen by the caller.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// The service root including the version and a trailing slash,
    /// e.g. [`PRODUCTION_API_ROOT`] or `http://127.0.0.1:8080/devel/`.
    pub api_root: String,
    /// `ws.size` for collection requests, 1 to [`MAX_PAGE_SIZE`].
    pub page_size: u32,
    /// Attempts per request, the first included (at least 1).
    pub max_attempts: u32,
    /// Backoff ceiling before the first retry (1 s in production).
    pub backoff_base: Duration,
    /// Largest backoff ceiling (30 s in production).
    pub backoff_cap: Duration,
    /// Longest `Retry-After` honoured.
    pub retry_after_cap: Duration,
    /// Timeout of one API request, connect to last byte. Downloads use it per read instead.
    pub request_timeout: Duration,
    /// Sent as the OAuth consumer key of anonymous requests and in the `User-Agent`.
    pub consumer_name: String,
    /// OAuth PLAINTEXT credentials; `None` means anonymous access.
    pub credentials: Option<Credentials>,
    /// Hosts (`host` or `host:port`) that files may be downloaded from, every redirect hop
    /// included, besides the host of `api_root`. A `host` without a port allows only the
    /// scheme's default port. Launchpad's `sourceFileUrls` point at `launchpad.net`, which
    /// redirects to `launchpadlibrarian.net`. Anything else, and any scheme but http(s),
    /// is refused before a connection is made: a hostile answer cannot make us fetch from
    /// the internal network (SSRF) or read local files.
    pub download_hosts: Vec<String>,
}

impl ClientSettings {
    /// The backoff policy these settings describe.
    pub fn backoff_policy(&self) -> BackoffPolicy {
        BackoffPolicy {
            max_attempts: self.max_attempts,
            base: self.backoff_base,
            cap: self.backoff_cap,
            retry_after_cap: self.retry_after_cap,
        }
    }

    /// Checks the values; the client refuses to start with bad ones.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |message: String| Err(Error::Config { message });
        let root = &self.api_root;
        if !(root.starts_with("https://") || root.starts_with("http://")) {
            return bad(format!(
                "api_root {root:?} must start with http:// or https://"
            ));
        }
        if !root.ends_with('/') {
            return bad(format!(
                "api_root {root:?} must end with '/' (e.g. .../devel/)"
            ));
        }
        if root.contains(['?', '#']) {
            return bad(format!(
                "api_root {root:?} must not have a query or fragment"
            ));
        }
        let authority = root.split('/').nth(2).unwrap_or("");
        if authority.is_empty() {
            return bad(format!("api_root {root:?} has no host"));
        }
        if self.page_size == 0 || self.page_size > MAX_PAGE_SIZE {
            return bad(format!(
                "page_size {} must be between 1 and {MAX_PAGE_SIZE}",
                self.page_size
            ));
        }
        if self.max_attempts == 0 {
            return bad("max_attempts must be at least 1".into());
        }
        if self.backoff_base > self.backoff_cap {
            return bad("backoff_base must not exceed backoff_cap".into());
        }
        if self.request_timeout.is_zero() {
            return bad("request_timeout must be positive".into());
        }
        if self.consumer_name.trim().is_empty() {
            return bad("consumer_name must not be empty".into());
        }
        for host in &self.download_hosts {
            if HostPort::parse(host).is_none() {
                return bad(format!(
                    "download host {host:?} must be a host name or address, optionally with :port"
                ));
            }
        }
        Ok(())
    }

    /// Whether `url` may be downloaded: http or https, no user info, and a host that is the
    /// `api_root`'s or in `download_hosts`. `Err` says why not.
    pub fn check_download_url(&self, url: &str) -> Result<(), String> {
        let target = HostPort::of_url(url)?;
        let api_host = HostPort::of_url(&self.api_root).ok().map(|t| HostPort {
            host: t.host,
            port: Some(t.port),
        });
        let allowed = api_host
            .into_iter()
            .chain(
                self.download_hosts
                    .iter()
                    .filter_map(|h| HostPort::parse(h)),
            )
            .any(|h| h.host == target.host && h.port.unwrap_or(target.default_port) == target.port);
        if allowed {
            Ok(())
        } else {
            Err(format!(
                "host {}:{} is not an allowed download host (launchpad.download_hosts)",
                target.host, target.port
            ))
        }
    }
}

/// A host and an optional port, lowercased, as an allow-list entry or a URL's authority.
struct HostPort {
    host: String,
    port: Option<u16>,
}

/// The host and effective port of an http(s) URL.
struct UrlTarget {
    host: String,
    port: u16,
    default_port: u16,
}

impl HostPort {
    /// `host`, `host:port`, `[v6]` or `[v6]:port`; nothing else (no scheme, path or user).
    fn parse(entry: &str) -> Option<HostPort> {
        let entry = entry.trim().to_ascii_lowercase();
        if entry.is_empty() || entry.contains(['/', '@', '?', '#', ' ']) {
            return None;
        }
        let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
            let (host, after) = rest.split_once(']')?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':')?.parse().ok()?),
            };
            (host.to_owned(), port)
        } else {
            match entry.split_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p.parse().ok()?)),
                None => (entry.clone(), None),
            }
        };
        (!host.is_empty()).then_some(HostPort { host, port })
    }

    /// The target of `url`, refusing any scheme but http(s) and URLs with user info.
    fn of_url(url: &str) -> Result<UrlTarget, String> {
        let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
        let default_port = match scheme.as_deref() {
            Some("http") => 80,
            Some("https") => 443,
            Some(other) if !other.is_empty() && other.len() <= 16 && !other.contains('/') => {
                return Err(format!("scheme {other} is not http or https"));
            }
            _ => return Err("not an absolute http or https URL".into()),
        };
        let uri: ureq::http::Uri = url.parse().map_err(|e| format!("not a valid URL ({e})"))?;
        let authority = uri.authority().ok_or("no host")?;
        if authority.as_str().contains('@') {
            return Err("URLs with user info are not downloaded".into());
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err("no host".into());
        }
        Ok(UrlTarget {
            host,
            port: authority.port_u16().unwrap_or(default_port),
            default_port,
        })
    }
}

/// A string that never shows itself in `Debug` output. There is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("<redacted>")
        }
    }
}

/// OAuth 1.0 PLAINTEXT credentials, as launchpadlib stores them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Credentials {
    /// The application name; not secret.
    pub consumer_key: String,
    /// Usually empty for Launchpad.
    pub consumer_secret: Secret,
    /// The access token.
    pub access_token: Secret,
    /// The access token's secret.
    pub access_secret: Secret,
}

impl Credentials {
    /// Loads a launchpadlib credentials file (`Credentials.save_to_path`), refusing it
    /// unless only its owner can read it (mode 0600 or 0400).
    ///
    /// The format is an INI file with one section `[1]` and the keys `consumer_key`,
    /// `consumer_secret`, `access_token` and `access_secret`.
    pub fn load(path: &Path) -> Result<Credentials, Error> {
        use std::os::unix::fs::PermissionsExt as _;

        let config = |message: String| Error::Config { message };
        let shown = path.display();
        let meta = std::fs::metadata(path)
            .map_err(|e| config(format!("credentials file {shown}: {e}")))?;
        if !meta.is_file() {
            return Err(config(format!(
                "credentials file {shown} is not a regular file"
            )));
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode != 0o600 && mode != 0o400 {
            return Err(config(format!(
                "credentials file {shown} has mode {mode:04o}; it must be 0600 (chmod 600 {shown})"
            )));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| config(format!("credentials file {shown}: {e}")))?;
        Credentials::parse(&text).map_err(|e| config(format!("credentials file {shown}: {e}")))
    }

    /// Parses the text of a launchpadlib credentials file.
    pub fn parse(text: &str) -> Result<Credentials, String> {
        let mut section: Option<&str> = None;
        let (mut consumer_key, mut consumer_secret, mut token, mut secret) =
            (None, None, None, None);
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = Some(name.trim());
                continue;
            }
            if section != Some("1") {
                continue;
            }
            let Some((key, value)) = line.split_once(['=', ':']) else {
                return Err("a line is neither `key = value` nor a [section]".into());
            };
            let value = value.trim().to_owned();
            match key.trim() {
                "consumer_key" => consumer_key = Some(value),
                "consumer_secret" => consumer_secret = Some(value),
                "access_token" => token = Some(value),
                "access_secret" => secret = Some(value),
                _ => {}
            }
        }
        let missing = |what: &str| format!("no {what} in section [1]");
        let consumer_key = consumer_key.ok_or_else(|| missing("consumer_key"))?;
        let token = token.ok_or_else(|| missing("access_token"))?;
        let secret = secret.ok_or_else(|| missing("access_secret"))?;
        if consumer_key.is_empty() || token.is_empty() {
            return Err("consumer_key and access_token must not be empty".into());
        }
        Ok(Credentials {
            consumer_key,
            consumer_secret: Secret::new(consumer_secret.unwrap_or_default()),
            access_token: Secret::new(token),
            access_secret: Secret::new(secret),
        })
    }
}

/// The `Authorization` header value: OAuth PLAINTEXT with `credentials`, or the anonymous
/// form launchpadlib sends (no token, empty secrets) under `consumer_name`.
///
/// Sending an anonymous header instead of none routes requests past Launchpad's Squid
/// cache, which only serves requests with neither cookie nor `Authorization`.
pub(crate) fn oauth_header(
    credentials: Option<&Credentials>,
    consumer_name: &str,
    timestamp: u64,
    nonce: u64,
) -> String {
    let (consumer, token, signature) = match credentials {
        Some(c) => (
            c.consumer_key.as_str(),
            Some(c.access_token.expose()),
            format!(
                "{}&{}",
                percent_encode(c.consumer_secret.expose()),
                percent_encode(c.access_secret.expose())
            ),
        ),
        None => (consumer_name, None, "&".to_owned()),
    };
    let mut header = format!(
        "OAuth realm=\"OAuth\", oauth_nonce=\"{nonce}\", oauth_timestamp=\"{timestamp}\", \
         oauth_version=\"1.0\", oauth_signature_method=\"PLAINTEXT\", \
         oauth_consumer_key=\"{}\"",
        percent_encode(consumer)
    );
    if let Some(token) = token {
        header.push_str(&format!(", oauth_token=\"{}\"", percent_encode(token)));
    }
    header.push_str(&format!(
        ", oauth_signature=\"{}\"",
        percent_encode(&signature)
    ));
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "[1]\nconsumer_key = package-importer\nconsumer_secret = \naccess_token = TOKEN123\naccess_secret = s3cr3t/+\n\n";

    #[test]
    fn parses_launchpadlib_format() {
        let c = Credentials::parse(FILE).unwrap();
        assert_eq!(c.consumer_key, "package-importer");
        assert_eq!(c.access_token.expose(), "TOKEN123");
        assert_eq!(c.access_secret.expose(), "s3cr3t/+");
        assert_eq!(c.consumer_secret.expose(), "");
        assert!(Credentials::parse("[2]\naccess_token = x\n").is_err());
        assert!(Credentials::parse("[1]\nconsumer_key = a\naccess_secret = b\n").is_err());
    }

    #[test]
    fn download_hosts() {
        let settings = |hosts: &[&str]| ClientSettings {
            api_root: "http://127.0.0.1:8080/devel/".into(),
            page_size: 75,
            max_attempts: 1,
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(1),
            retry_after_cap: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            consumer_name: "t".into(),
            credentials: None,
            download_hosts: hosts.iter().map(|h| h.to_string()).collect(),
        };
        let s = settings(&[
            "launchpad.net",
            "LaunchpadLibrarian.net",
            "[::1]:9",
            "files:8000",
        ]);
        for ok in [
            "http://127.0.0.1:8080/debian/+archive/primary/+sourcefiles/x/1/x.dsc",
            "https://launchpad.net/ubuntu/+archive/primary/+sourcefiles/x/1/x.dsc",
            "http://launchpad.net/x",
            "https://launchpadlibrarian.net/123/x.dsc",
            "HTTPS://LAUNCHPADLIBRARIAN.NET/123/x.dsc",
            "http://[::1]:9/x",
            "http://files:8000/x",
        ] {
            assert_eq!(s.check_download_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "file:///etc/passwd",
            "ftp://launchpad.net/x",
            "gopher://127.0.0.1:8080/x",
            "http://127.0.0.1:8081/x",
            "http://127.0.0.1/x",
            "http://localhost:8080/x",
            "https://launchpad.net:8443/x",
            "https://launchpad.net.evil.example/x",
            "https://launchpad.net@evil.example/x",
            "https://user:pw@launchpad.net/x",
            "http://169.254.169.254/latest/meta-data/",
            "http://files/x",
            "//launchpad.net/x",
            "launchpad.net/x",
            "",
        ] {
            assert!(s.check_download_url(bad).is_err(), "{bad} allowed");
        }
        assert!(
            settings(&[])
                .check_download_url("https://launchpad.net/x")
                .is_err()
        );
        for bad in ["", "http://x", "x/y", "u@x", "x:port", "[::1"] {
            assert!(
                matches!(settings(&[bad]).validate(), Err(Error::Config { .. })),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn debug_redacts() {
        let c = Credentials::parse(FILE).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("TOKEN123"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("package-importer"));
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn oauth_headers() {
        let c = Credentials::parse(FILE).unwrap();
        assert_eq!(
            oauth_header(Some(&c), "ignored", 1700000000, 42),
            "OAuth realm=\"OAuth\", oauth_nonce=\"42\", oauth_timestamp=\"1700000000\", \
             oauth_version=\"1.0\", oauth_signature_method=\"PLAINTEXT\", \
             oauth_consumer_key=\"package-importer\", oauth_token=\"TOKEN123\", \
             oauth_signature=\"%26s3cr3t%252F%252B\""
        );
        assert_eq!(
            oauth_header(None, "my importer", 1, 2),
            "OAuth realm=\"OAuth\", oauth_nonce=\"2\", oauth_timestamp=\"1\", \
             oauth_version=\"1.0\", oauth_signature_method=\"PLAINTEXT\", \
             oauth_consumer_key=\"my%20importer\", oauth_signature=\"%26\""
        );
    }
}
