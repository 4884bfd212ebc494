//! HTTP routing: Launchpad's resources, the librarian, and the `/_sim/` control endpoints.
//!
//! Each worker thread takes a request from tiny_http, computes the normal answer, lets the
//! fault settings replace or mangle it, records it in the per-route statistics and sends
//! it. Control endpoints bypass faults and statistics, so a test can always heal the
//! simulator and read its counters.
//!
//! One simulator serves every distribution of its archive, as Launchpad does: each path
//! names its distribution (`/devel/ubuntu/...`, `/ubuntu/+archive/primary/+sourcefiles/...`),
//! and an answer holds that distribution's series and publications only.
//!
//! This module receives, routes and answers requests; the answers come from:
//! - [`api`](mod@api): Launchpad's API resources: the service root, each distribution, its series,
//!   its primary archive with `getPublishedSources`, and publications;
//! - [`librarian`](mod@librarian): `+sourcefiles` redirects and the file bytes behind them;
//! - [`control`](mod@control): the `/_sim/` endpoints (publish, open a series, faults, statistics);
//! - [`inject`]: the fault settings' replacing or mangling of an answer.

mod api;
mod control;
mod inject;
mod librarian;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Mutex, RwLock};

use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use tiny_http::{Header, Method, Request, Response};

pub(crate) use control::{open_series, publish, publish_pending};

use crate::catalogue::Catalogue;
use crate::faults::FaultSettings;
use crate::params::{Query, percent_decode};
use crate::render::LinkBase;
use api::{api, is_api_version};
use control::control;
use inject::apply_faults;
use librarian::{librarian, sourcefile_redirect};

/// Request counts by route and status, as served by `GET /_sim/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// Every counted request.
    pub total: u64,
    /// route -> status -> count, over every distribution. Routes: `service_root`,
    /// `distribution`, `series_collection`, `series`, `archive`, `getPublishedSources`,
    /// `getPublishedSources_total_size`, `publication`, `sourceFileUrls`,
    /// `changesFileUrl`, `sourcefiles`, `librarian`, `not_found`.
    pub by_route: BTreeMap<String, BTreeMap<u16, u64>>,
    /// distribution -> count of the requests whose path names it (its API resources and
    /// its `+sourcefiles`; the librarian's URLs name none).
    #[serde(default)]
    pub by_distribution: BTreeMap<String, u64>,
}

impl SimStats {
    /// The count for one route and status.
    pub fn count(&self, route: &str, status: u16) -> u64 {
        self.by_route
            .get(route)
            .and_then(|m| m.get(&status))
            .copied()
            .unwrap_or(0)
    }

    /// All requests to one route, any status.
    pub fn route_total(&self, route: &str) -> u64 {
        self.by_route.get(route).map_or(0, |m| m.values().sum())
    }

    /// All requests whose path names `distribution`.
    pub fn distribution_total(&self, distribution: &str) -> u64 {
        self.by_distribution.get(distribution).copied().unwrap_or(0)
    }
}

pub(crate) struct FaultState {
    pub(crate) settings: FaultSettings,
    pub(crate) rng: StdRng,
}

/// State shared by the worker threads and the handle.
pub(crate) struct Shared {
    pub(crate) catalogue: RwLock<Catalogue>,
    /// The catalogue's distributions, which never change: the first is the default one.
    pub(crate) distributions: Vec<String>,
    pub(crate) faults: Mutex<FaultState>,
    pub(crate) stats: Mutex<SimStats>,
    pub(crate) local_addr: SocketAddr,
}

impl Shared {
    /// The index of a distribution this simulator serves.
    pub(crate) fn distro_index(&self, name: &str) -> Option<u16> {
        self.distributions
            .iter()
            .position(|d| d == name)
            .map(|i| i as u16)
    }

    /// The default distribution.
    pub(crate) fn default_distro(&self) -> &str {
        self.distributions.first().map_or("", String::as_str)
    }

    /// The index and name of the distribution a control request names; none is the
    /// default one. Refused (400) for a distribution this simulator does not serve.
    pub(crate) fn resolve_distro(
        &self,
        name: Option<&str>,
    ) -> Result<(u16, String), (u16, String)> {
        let name = name.unwrap_or(self.default_distro());
        match self.distro_index(name) {
            Some(i) => Ok((i, name.to_owned())),
            None => Err((
                400,
                format!(
                    "this lp-sim serves {}, not {name}",
                    self.distributions.join(", ")
                ),
            )),
        }
    }
}

enum Body {
    Bytes(Vec<u8>),
    File(PathBuf),
}

/// A response before it is sent.
struct Answer {
    status: u16,
    content_type: &'static str,
    body: Body,
    headers: Vec<(&'static str, String)>,
    route: &'static str,
    /// The distribution the request's path names, if any.
    distribution: Option<String>,
    /// A JSON API answer, which the corrupting fault modes may mangle.
    json: bool,
}

impl Answer {
    fn json(route: &'static str, value: &impl Serialize) -> Answer {
        Answer {
            status: 200,
            content_type: "application/json",
            body: Body::Bytes(serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec())),
            headers: Vec::new(),
            route,
            distribution: None,
            json: true,
        }
    }

    fn text(route: &'static str, status: u16, text: impl Into<String>) -> Answer {
        Answer {
            status,
            content_type: "text/plain",
            body: Body::Bytes(text.into().into_bytes()),
            headers: Vec::new(),
            route,
            distribution: None,
            json: false,
        }
    }

    fn not_found(what: &str) -> Answer {
        Answer::text(
            "not_found",
            404,
            format!(
                "Object: {what}, name: '{}'\n",
                what.rsplit('/').next().unwrap_or("")
            ),
        )
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read_catalogue(shared: &Shared) -> std::sync::RwLockReadGuard<'_, Catalogue> {
    shared
        .catalogue
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write_catalogue(shared: &Shared) -> std::sync::RwLockWriteGuard<'_, Catalogue> {
    shared
        .catalogue
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Serves one request.
pub(crate) fn handle(shared: &Shared, mut request: Request) {
    let url = request.url().to_owned();
    let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
    let host = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Host"))
        .map(|h| h.value.as_str().to_owned())
        .unwrap_or_else(|| shared.local_addr.to_string());
    let origin = format!("http://{host}");
    let method = request.method().clone();
    let answer = if path.starts_with("/_sim/") {
        let mut body = String::new();
        let _ = request
            .as_reader()
            .take(1024 * 1024)
            .read_to_string(&mut body);
        control(shared, &method, path, &body, &origin)
    } else {
        let answer = if method == Method::Get || method == Method::Head {
            route(shared, path, query, &origin)
        } else {
            Answer::text("not_found", 405, "Method not allowed.\n")
        };
        let answer = apply_faults(shared, answer);
        let mut stats = lock(&shared.stats);
        stats.total += 1;
        *stats
            .by_route
            .entry(answer.route.to_owned())
            .or_default()
            .entry(answer.status)
            .or_default() += 1;
        if let Some(distro) = &answer.distribution {
            *stats.by_distribution.entry(distro.clone()).or_default() += 1;
        }
        answer
    };
    log::debug!("{method} {url} -> {}", answer.status);
    respond(request, answer);
}

fn respond(request: Request, answer: Answer) {
    let mut headers = vec![Header::from_bytes("Content-Type", answer.content_type)];
    headers.extend(
        answer
            .headers
            .iter()
            .map(|(k, v)| Header::from_bytes(*k, v.as_bytes())),
    );
    let headers = headers.into_iter().filter_map(Result::ok);
    let result = match answer.body {
        Body::Bytes(bytes) => {
            let mut response = Response::from_data(bytes).with_status_code(answer.status);
            for h in headers {
                response.add_header(h);
            }
            request.respond(response)
        }
        Body::File(path) => match std::fs::File::open(&path) {
            Ok(file) => {
                let mut response = Response::from_file(file).with_status_code(answer.status);
                for h in headers {
                    response.add_header(h);
                }
                request.respond(response)
            }
            Err(e) => request.respond(
                Response::from_string(format!("cannot read {}: {e}\n", path.display()))
                    .with_status_code(500),
            ),
        },
    };
    if let Err(e) = result {
        log::debug!("client went away: {e}");
    }
}

fn route(shared: &Shared, path: &str, query: &str, origin: &str) -> Answer {
    let mut segs: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    if segs.len() > 1 && segs.last().is_some_and(String::is_empty) {
        segs.pop();
    }
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let served = |d: &str| shared.distro_index(d).is_some();
    let (answer, distro) = match segs.as_slice() {
        [version, rest @ ..] if is_api_version(version) => {
            // The path's distribution, or the default one for paths that name none (and
            // for unknown ones, which then match no resource).
            let distro = match rest.first() {
                Some(d) if served(d) => Some((*d).to_owned()),
                _ => None,
            };
            let base = LinkBase {
                origin: origin.to_owned(),
                api_version: (*version).to_owned(),
                distro: distro
                    .clone()
                    .unwrap_or_else(|| shared.default_distro().to_owned()),
            };
            let url_without_query = format!("{origin}{path}");
            let answer = api(
                shared,
                &base,
                rest,
                &Query::parse(query),
                &url_without_query,
            );
            (answer, distro)
        }
        [
            d,
            "+archive",
            "primary",
            "+sourcefiles",
            name,
            version,
            file,
        ] if served(d) => (
            sourcefile_redirect(shared, origin, name, version, file),
            Some((*d).to_owned()),
        ),
        ["+librarian", id, file] => (librarian(shared, id, file), None),
        _ => (Answer::not_found(path), None),
    };
    Answer {
        distribution: distro,
        ..answer
    }
}
