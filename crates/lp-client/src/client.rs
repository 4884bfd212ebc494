//! The Launchpad client: blocking HTTP (ureq) with retries, paging and downloads.
//!
//! Every request goes through one loop, [`Client::execute`], that classifies the outcome
//! (success, retryable, fatal), asks the pure [`BackoffPolicy`] for a delay and sleeps through
//! the injected [`Sleeper`]. Collections are streamed: [`Collection`] holds one page at a
//! time and follows `next_collection_link` verbatim (Launchpad's `memo` decides the slice,
//! so links must not be rebuilt), which keeps memory flat however long the history is.
//! Links and API URLs must stay under the configured `api_root`: anything else is refused
//! before our credentials are sent to it.

use std::io::{Read, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use ureq::Body;
use ureq::http::Response;

use crate::backoff::{
    BackoffPolicy, Sleeper, ThreadSleeper, is_retryable_status, parse_retry_after,
};
use crate::encode::PublishedSourcesQuery;
use crate::error::Error;
use crate::settings::{ClientSettings, oauth_header};
use crate::summary::summarise_body;
use crate::types::{DistroSeries, Download, Page, Publication, RawSourceFile, SourceFile};

/// The largest JSON body accepted (a 300-entry page is about 400 KB).
const MAX_JSON_BYTES: u64 = 64 * 1024 * 1024;
/// Redirects one download may follow (Launchpad uses one: `+sourcefiles` to the librarian).
const MAX_DOWNLOAD_REDIRECTS: u32 = 5;
/// How much of an error body is read for its summary.
const MAX_ERROR_BODY_BYTES: u64 = 64 * 1024;

/// Counters of what the client did, for summary lines and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP requests sent, every attempt counted.
    pub requests: u64,
    /// Collection pages received.
    pub pages: u64,
    /// Retries (attempts after the first) made.
    pub retries: u64,
    /// Total time the backoff policy asked to sleep, in milliseconds.
    pub backoff_ms: u64,
    /// Files downloaded.
    pub downloads: u64,
    /// Bytes downloaded.
    pub download_bytes: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    pages: AtomicU64,
    retries: AtomicU64,
    backoff_ms: AtomicU64,
    downloads: AtomicU64,
    download_bytes: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

/// A Launchpad client. Cheap to share by reference across threads.
pub struct Client {
    settings: ClientSettings,
    policy: BackoffPolicy,
    api_agent: ureq::Agent,
    download_agent: ureq::Agent,
    sleeper: Arc<dyn Sleeper>,
    rng: Mutex<StdRng>,
    counters: Counters,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("settings", &self.settings)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// What one failed attempt means.
enum Failure {
    /// Worth another attempt after a delay.
    Retryable {
        status: Option<u16>,
        oops_id: Option<String>,
        retry_after: Option<Duration>,
        message: String,
    },
    /// Give up now with this error.
    Fatal(Error),
}

/// Which agent and headers a request uses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A JSON API call: authorised, no redirects, global timeout.
    Api,
    /// A file download: anonymous, redirects handed back to [`Client::download`], per-read
    /// timeout.
    Download,
}

impl Client {
    /// A client with the real sleeper and an OS-seeded jitter source.
    pub fn new(settings: ClientSettings) -> Result<Client, Error> {
        settings.validate()?;
        let user_agent = format!(
            "package-importer/{} (pkgimport-lp-client; +{}); oauth_consumer=\"{}\"",
            env!("CARGO_PKG_VERSION"),
            "https://launchpad.net",
            settings.consumer_name
        );
        let api_agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_global(Some(settings.request_timeout))
            .user_agent(user_agent.as_str())
            .build()
            .into();
        let download_agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_connect(Some(settings.request_timeout))
            .timeout_recv_response(Some(settings.request_timeout))
            .timeout_per_read(Some(settings.request_timeout))
            .user_agent(user_agent.as_str())
            .build()
            .into();
        Ok(Client {
            policy: settings.backoff_policy(),
            settings,
            api_agent,
            download_agent,
            sleeper: Arc::new(ThreadSleeper),
            rng: Mutex::new(StdRng::from_rng(&mut rand::rng())),
            counters: Counters::default(),
        })
    }

    /// Replaces the sleeper (tests record delays instead of waiting).
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Client {
        self.sleeper = sleeper;
        self
    }

    /// Seeds the jitter source, for reproducible delays.
    pub fn with_jitter_seed(mut self, seed: u64) -> Client {
        self.rng = Mutex::new(StdRng::seed_from_u64(seed));
        self
    }

    /// The settings in use.
    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// What the client has done so far.
    pub fn stats(&self) -> ClientStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ClientStats {
            requests: get(&c.requests),
            pages: get(&c.pages),
            retries: get(&c.retries),
            backoff_ms: get(&c.backoff_ms),
            downloads: get(&c.downloads),
            download_bytes: get(&c.download_bytes),
        }
    }

    /// The API URL of a distribution (`<api_root><distro>`).
    pub fn distribution_url(&self, distro: &str) -> String {
        format!("{}{distro}", self.settings.api_root)
    }

    /// The API URL of a distribution's primary archive.
    pub fn primary_archive_url(&self, distro: &str) -> String {
        format!("{}{distro}/+archive/primary", self.settings.api_root)
    }

    /// All series of a distribution (`/<distro>/series`), following every page.
    pub fn distro_series(&self, distro: &str) -> Result<Vec<DistroSeries>, Error> {
        let url = format!(
            "{}{distro}/series?ws.size={}",
            self.settings.api_root, self.settings.page_size
        );
        Collection::new(self, url).collect()
    }

    /// Streams `getPublishedSources` on a distribution's primary archive, page by page.
    pub fn published_sources(
        &self,
        distro: &str,
        query: &PublishedSourcesQuery,
    ) -> Collection<'_, Publication> {
        let url = format!(
            "{}?{}",
            self.primary_archive_url(distro),
            query.to_query_string(self.settings.page_size)
        );
        Collection::new(self, url)
    }

    /// `sourceFileUrls` with `include_meta=true` for a publication's `self_link`.
    ///
    /// `None` marks a file the librarian no longer has (expired or deleted); such a
    /// publication cannot be imported, and the caller decides what that means.
    pub fn source_files(&self, publication_link: &str) -> Result<Vec<Option<SourceFile>>, Error> {
        let url = format!("{publication_link}?include_meta=true&ws.op=sourceFileUrls");
        let raw: Vec<Option<RawSourceFile>> = self.get_json(&url)?;
        Ok(raw
            .into_iter()
            .map(|f| {
                let f = f?;
                Some(SourceFile {
                    url: f.url?,
                    size: f.size?,
                    sha256: f.sha256?.to_ascii_lowercase(),
                })
            })
            .collect())
    }

    /// GETs any JSON resource under `api_root`, with retries.
    pub fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, Error> {
        self.check_api_url(url)?;
        self.execute(url, Kind::Api, |url, resp| read_json(url, resp))
    }

    /// Downloads `url` (following redirects) into `dest`, streaming, and returns the size
    /// and SHA-256 of what was written.
    ///
    /// Every hop, the first URL and each redirect target, must be http(s) to an allowed
    /// host ([`ClientSettings::check_download_url`]); redirects are followed here, one at a
    /// time, rather than by the HTTP library, so that no hop escapes the check.
    /// The bytes go to `<dest>.part` first and are renamed into place only when complete,
    /// so `dest` never holds half a file. A transfer cut short is retried from the start.
    pub fn download(&self, url: &str, dest: &Path) -> Result<Download, Error> {
        let part = part_path(dest);
        let mut current = url.to_owned();
        let mut redirects = 0;
        let result = loop {
            if let Err(why) = self.settings.check_download_url(&current) {
                break Err(Error::Other {
                    status: None,
                    oops_id: None,
                    url: current,
                    message: format!("refusing to download: {why}"),
                });
            }
            match self.execute(&current, Kind::Download, |url, resp| {
                fetch_or_redirect(url, resp, &part)
            }) {
                Ok(Fetched::File(d)) => break Ok(d),
                Ok(Fetched::Redirect(next)) if redirects < MAX_DOWNLOAD_REDIRECTS => {
                    log::debug!("redirect url={current} location={next}");
                    redirects += 1;
                    current = next;
                }
                Ok(Fetched::Redirect(_)) => {
                    break Err(Error::BadResponse {
                        status: 300,
                        oops_id: None,
                        url: current,
                        message: format!("more than {MAX_DOWNLOAD_REDIRECTS} redirects"),
                    });
                }
                Err(e) => break Err(e),
            }
        };
        let download = match result {
            Ok(d) => d,
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                return Err(e);
            }
        };
        std::fs::rename(&part, dest).map_err(|e| io_error(dest, "renaming into place", &e))?;
        bump(&self.counters.downloads, 1);
        bump(&self.counters.download_bytes, download.bytes);
        log::debug!(
            "downloaded url={url} bytes={} sha256={}",
            download.bytes,
            download.sha256
        );
        Ok(download)
    }

    /// Downloads a source file and checks its size and SHA-256 against Launchpad's
    /// metadata; on a mismatch the file is removed and a `DownloadMismatch` returned.
    pub fn download_verified(&self, file: &SourceFile, dest: &Path) -> Result<Download, Error> {
        let got = self.download(&file.url, dest)?;
        if got.bytes != file.size || !got.sha256.eq_ignore_ascii_case(&file.sha256) {
            let _ = std::fs::remove_file(dest);
            return Err(Error::DownloadMismatch {
                url: file.url.clone(),
                expected_bytes: file.size,
                expected_sha256: file.sha256.clone(),
                got_bytes: got.bytes,
                got_sha256: got.sha256,
            });
        }
        Ok(got)
    }

    /// Refuses URLs outside `api_root`: we would send our credentials there.
    fn check_api_url(&self, url: &str) -> Result<(), Error> {
        if url.starts_with(&self.settings.api_root) {
            return Ok(());
        }
        Err(Error::Other {
            status: None,
            oops_id: None,
            url: url.to_owned(),
            message: format!(
                "refusing an API request outside the configured api_root {}",
                self.settings.api_root
            ),
        })
    }

    fn is_under_api_root(&self, url: &str) -> bool {
        url.starts_with(&self.settings.api_root)
    }

    /// Sends one request.
    fn send(&self, url: &str, kind: Kind) -> Result<Response<Body>, ureq::Error> {
        bump(&self.counters.requests, 1);
        match kind {
            Kind::Api => {
                let nonce: u64 = self.rng.lock().map(|mut r| r.random()).unwrap_or(0);
                let timestamp = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let auth = oauth_header(
                    self.settings.credentials.as_ref(),
                    &self.settings.consumer_name,
                    timestamp,
                    nonce,
                );
                self.api_agent
                    .get(url)
                    .header("Accept", "application/json")
                    .header("Authorization", &auth)
                    .call()
            }
            Kind::Download => self.download_agent.get(url).call(),
        }
    }

    /// The retry loop shared by every request. `on_success` turns a 2xx answer into a
    /// value or a [`Failure`].
    fn execute<T>(
        &self,
        url: &str,
        kind: Kind,
        mut on_success: impl FnMut(&str, Response<Body>) -> Result<T, Failure>,
    ) -> Result<T, Error> {
        let mut attempts: u32 = 0;
        loop {
            attempts += 1;
            log::debug!("request url={url} attempt={attempts}");
            let failure = match self.send(url, kind) {
                Ok(resp)
                    if (200..300).contains(&resp.status().as_u16())
                        || (kind == Kind::Download && is_redirect(resp.status().as_u16())) =>
                {
                    match on_success(url, resp) {
                        Ok(value) => return Ok(value),
                        Err(failure) => failure,
                    }
                }
                Ok(resp) => classify_status(url, resp),
                Err(e) => classify_transport(url, e),
            };
            let (status, oops_id, retry_after, message) = match failure {
                Failure::Fatal(e) => return Err(e),
                Failure::Retryable {
                    status,
                    oops_id,
                    retry_after,
                    message,
                } => (status, oops_id, retry_after, message),
            };
            let delay = match self.rng.lock() {
                Ok(mut rng) => self.policy.next_delay(attempts, retry_after, &mut *rng),
                Err(_) => None,
            };
            let shown_status = status.map_or_else(|| "none".to_owned(), |s| s.to_string());
            let shown_oops = oops_id.as_deref().unwrap_or("none");
            let Some(delay) = delay else {
                log::warn!(
                    "giving up url={url} attempts={attempts} status={shown_status} oops_id={shown_oops} error={message:?}"
                );
                return Err(Error::Unavailable {
                    status,
                    oops_id,
                    attempts,
                    url: url.to_owned(),
                    message,
                });
            };
            log::warn!(
                "retrying url={url} attempt={attempts} status={shown_status} oops_id={shown_oops} delay_ms={} error={message:?}",
                delay.as_millis()
            );
            bump(&self.counters.retries, 1);
            bump(
                &self.counters.backoff_ms,
                u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            );
            self.sleeper.sleep(delay);
        }
    }
}

fn header(resp: &Response<Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn read_error_body(resp: &mut Response<Body>) -> String {
    let mut buf = Vec::new();
    let _ = resp
        .body_mut()
        .as_reader()
        .take(MAX_ERROR_BODY_BYTES)
        .read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Classifies a non-2xx answer.
fn classify_status(url: &str, mut resp: Response<Body>) -> Failure {
    let status = resp.status().as_u16();
    let oops_id = header(&resp, "x-lazr-oopsid");
    let retry_after =
        header(&resp, "retry-after").and_then(|v| parse_retry_after(&v, SystemTime::now()));
    let content_type = header(&resp, "content-type");
    let body = read_error_body(&mut resp);
    let message = summarise_body(content_type.as_deref(), &body);
    let url = url.to_owned();
    if is_retryable_status(status) {
        return Failure::Retryable {
            status: Some(status),
            oops_id,
            retry_after,
            message,
        };
    }
    Failure::Fatal(match status {
        404 => Error::NotFound { url, message },
        401 | 403 => Error::Unauthorized {
            status,
            url,
            message,
        },
        _ => {
            log::warn!(
                "request failed url={url} status={status} oops_id={} error={message:?}",
                oops_id.as_deref().unwrap_or("none")
            );
            Error::Other {
                status: Some(status),
                oops_id,
                url,
                message,
            }
        }
    })
}

/// Classifies an error before any answer (or while reading one).
fn classify_transport(url: &str, error: ureq::Error) -> Failure {
    match error {
        ureq::Error::Timeout(_)
        | ureq::Error::Io(_)
        | ureq::Error::ConnectionFailed
        | ureq::Error::HostNotFound
        | ureq::Error::Protocol(_) => Failure::Retryable {
            status: None,
            oops_id: None,
            retry_after: None,
            message: error.to_string(),
        },
        other => Failure::Fatal(Error::Other {
            status: None,
            oops_id: None,
            url: url.to_owned(),
            message: other.to_string(),
        }),
    }
}

/// Reads and parses a 2xx JSON answer, refusing anything that is not JSON.
fn read_json<T: DeserializeOwned>(url: &str, mut resp: Response<Body>) -> Result<T, Failure> {
    let status = resp.status().as_u16();
    let oops_id = header(&resp, "x-lazr-oopsid");
    let content_type = header(&resp, "content-type");
    let bad = |message: String| {
        Failure::Fatal(Error::BadResponse {
            status,
            oops_id: oops_id.clone(),
            url: url.to_owned(),
            message,
        })
    };
    let is_json = content_type.as_deref().is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
    });
    if !is_json {
        let body = read_error_body(&mut resp);
        let shown = content_type.as_deref().unwrap_or("no content type");
        return Err(bad(format!(
            "expected application/json, got {shown}: {}",
            summarise_body(content_type.as_deref(), &body)
        )));
    }
    let bytes = match resp
        .body_mut()
        .with_config()
        .limit(MAX_JSON_BYTES)
        .read_to_vec()
    {
        Ok(bytes) => bytes,
        Err(ureq::Error::BodyExceedsLimit(limit)) => {
            return Err(bad(format!("body larger than {limit} bytes")));
        }
        Err(e) => {
            return Err(Failure::Retryable {
                status: Some(status),
                oops_id,
                retry_after: None,
                message: format!("reading body: {e}"),
            });
        }
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        let snippet = summarise_body(None, &String::from_utf8_lossy(&bytes));
        bad(format!("malformed JSON ({e}): {snippet}"))
    })
}

fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

fn io_error(path: &Path, doing: &str, e: &std::io::Error) -> Error {
    Error::Other {
        status: None,
        oops_id: None,
        url: path.display().to_string(),
        message: format!("{doing}: {e}"),
    }
}

/// What one download hop gave.
enum Fetched {
    /// The file, streamed into the part file.
    File(Download),
    /// A redirect to this absolute URL, not yet checked nor followed.
    Redirect(String),
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// A redirect's target, or the 2xx body streamed into `part`.
fn fetch_or_redirect(url: &str, resp: Response<Body>, part: &Path) -> Result<Fetched, Failure> {
    let status = resp.status().as_u16();
    if !is_redirect(status) {
        return stream_to_file(url, resp, part).map(Fetched::File);
    }
    match header(&resp, "location") {
        Some(location) => Ok(Fetched::Redirect(resolve_location(url, &location))),
        None => Err(Failure::Fatal(Error::BadResponse {
            status,
            oops_id: None,
            url: url.to_owned(),
            message: "redirect without a Location".into(),
        })),
    }
}

/// `location` made absolute against `base` (RFC 3986 in the forms servers send: an absolute
/// URL of any scheme, `//host/path`, `/path`, or a relative path).
fn resolve_location(base: &str, location: &str) -> String {
    let location = location.trim();
    let has_scheme = location.split_once(':').is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    if has_scheme {
        return location.to_owned();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    if let Some(authority_and_path) = location.strip_prefix("//") {
        return format!("{scheme}://{authority_and_path}");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = rest[authority.len()..]
        .split(['?', '#'])
        .next()
        .unwrap_or("");
    let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
    format!("{scheme}://{authority}{dir}/{location}")
}

/// Streams a 2xx download body into `part`, hashing as it goes.
fn stream_to_file(url: &str, mut resp: Response<Body>, part: &Path) -> Result<Download, Failure> {
    let mut file = std::fs::File::create(part)
        .map_err(|e| Failure::Fatal(io_error(part, "creating download file", &e)))?;
    let mut reader = resp.body_mut().as_reader();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Failure::Retryable {
                    status: None,
                    oops_id: None,
                    retry_after: None,
                    message: format!("download of {url} cut short after {total} bytes: {e}"),
                });
            }
        };
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])
            .map_err(|e| Failure::Fatal(io_error(part, "writing download file", &e)))?;
        total += n as u64;
    }
    file.sync_all()
        .map_err(|e| Failure::Fatal(io_error(part, "syncing download file", &e)))?;
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Download {
        bytes: total,
        sha256,
    })
}

/// A Launchpad collection, streamed: one page in memory at a time.
///
/// Yields entries in Launchpad's order; after an error it yields nothing more. Follows
/// `next_collection_link` exactly as given, and refuses a link outside `api_root`: the
/// page carrying such a link is refused whole (its entries are not yielded), because an
/// answer that tries to send us elsewhere cannot be trusted. Launchpad's pages are offset
/// based, so a caller must still dedupe by `self_link`.
pub struct Collection<'c, T> {
    client: &'c Client,
    next_url: Option<String>,
    current: std::vec::IntoIter<T>,
    finished: bool,
    _entries: PhantomData<T>,
}

/// `getPublishedSources`, streamed.
pub type Publications<'c> = Collection<'c, Publication>;

impl<'c, T: DeserializeOwned> Collection<'c, T> {
    fn new(client: &'c Client, first_url: String) -> Collection<'c, T> {
        Collection {
            client,
            next_url: Some(first_url),
            current: Vec::new().into_iter(),
            finished: false,
            _entries: PhantomData,
        }
    }

    fn fail(&mut self, error: Error) -> Option<Result<T, Error>> {
        self.finished = true;
        self.next_url = None;
        Some(Err(error))
    }
}

impl<T: DeserializeOwned> Iterator for Collection<'_, T> {
    type Item = Result<T, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.current.next() {
                return Some(Ok(entry));
            }
            if self.finished {
                return None;
            }
            let Some(url) = self.next_url.take() else {
                self.finished = true;
                return None;
            };
            let page: Page<T> = match self.client.get_json(&url) {
                Ok(page) => page,
                Err(e) => return self.fail(e),
            };
            bump(&self.client.counters.pages, 1);
            if let Some(link) = page.next_collection_link {
                if !self.client.is_under_api_root(&link) {
                    return self.fail(Error::BadResponse {
                        status: 200,
                        oops_id: None,
                        url,
                        message: format!(
                            "next_collection_link {link} leaves the configured api_root {}; refusing it",
                            self.client.settings.api_root
                        ),
                    });
                }
                if link == url {
                    return self.fail(Error::BadResponse {
                        status: 200,
                        oops_id: None,
                        url,
                        message: "next_collection_link points at the same page".into(),
                    });
                }
                self.next_url = Some(link);
            }
            self.current = page.entries.into_iter();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_locations_resolve_against_the_request() {
        let base = "https://launchpad.net/ubuntu/+archive/primary/+sourcefiles/x/1/x.dsc?a=b";
        for (location, expected) in [
            (
                "https://launchpadlibrarian.net/1/x.dsc",
                "https://launchpadlibrarian.net/1/x.dsc",
            ),
            ("file:///etc/passwd", "file:///etc/passwd"),
            ("//evil.example/x", "https://evil.example/x"),
            (
                "/+librarian/1/x.dsc",
                "https://launchpad.net/+librarian/1/x.dsc",
            ),
            (
                "y.dsc",
                "https://launchpad.net/ubuntu/+archive/primary/+sourcefiles/x/1/y.dsc",
            ),
        ] {
            assert_eq!(resolve_location(base, location), expected, "{location}");
        }
    }
}
