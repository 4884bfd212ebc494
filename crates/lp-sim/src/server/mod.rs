//! HTTP routing: Launchpad's resources, the librarian, and the `/_sim/` control endpoints.
//!
//! Each worker thread takes a request from tiny_http, computes the normal answer, lets the
//! fault settings replace or mangle it, records it in the per-route statistics and sends
//! it. Control endpoints bypass faults and statistics, so a test can always heal the
//! simulator and read its counters.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use tiny_http::{Header, Method, Request, Response};

use crate::catalogue::{
    Catalogue, Files, Filter, Order, Pocket, PublishError, PublishRequest, SeriesFilter, Status,
};
use crate::faults::{self, FaultMode, FaultSettings};
use crate::params::{self, Query, path_segment, percent_decode};
use crate::render::{self, LinkBase, PageJson};
use crate::time::{DateParamError, parse_datetime_param};

/// Request counts by route and status, as served by `GET /_sim/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// Every counted request.
    pub total: u64,
    /// route -> status -> count. Routes: `service_root`, `distribution`,
    /// `series_collection`, `series`, `archive`, `getPublishedSources`,
    /// `getPublishedSources_total_size`, `publication`, `sourceFileUrls`,
    /// `changesFileUrl`, `sourcefiles`, `librarian`, `not_found`.
    pub by_route: BTreeMap<String, BTreeMap<u16, u64>>,
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
}

pub(crate) struct FaultState {
    pub(crate) settings: FaultSettings,
    pub(crate) rng: StdRng,
}

/// State shared by the worker threads and the handle.
pub(crate) struct Shared {
    pub(crate) catalogue: RwLock<Catalogue>,
    pub(crate) distro: String,
    pub(crate) faults: Mutex<FaultState>,
    pub(crate) stats: Mutex<SimStats>,
    pub(crate) local_addr: SocketAddr,
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

/// Replaces or mangles an answer per the fault settings.
fn apply_faults(shared: &Shared, answer: Answer) -> Answer {
    let (settings, roll, seed) = {
        let mut state = lock(&shared.faults);
        let roll: f64 = state.rng.random();
        let seed: u64 = state.rng.random();
        (state.settings, roll, seed)
    };
    if let Some(ms) = settings.delay_ms {
        std::thread::sleep(Duration::from_millis(ms));
    }
    if roll >= settings.rate() {
        return answer;
    }
    let retry_after = settings.retry_after.map(|s| ("Retry-After", s.to_string()));
    let injected = |e: faults::ErrorAnswer| {
        let mut headers: Vec<(&'static str, String)> = retry_after.clone().into_iter().collect();
        if let Some(oops) = e.oops_id {
            headers.push(("X-Lazr-OopsId", oops));
        }
        Answer {
            status: e.status,
            content_type: e.content_type,
            body: Body::Bytes(e.body.into_bytes()),
            headers,
            route: answer.route,
            json: false,
        }
    };
    let elsewhere = format!("http://localhost:{}", shared.local_addr.port());
    match settings.mode {
        FaultMode::Ok => answer,
        FaultMode::Down => injected(faults::down_answer()),
        FaultMode::Flaky => injected(faults::error_answer(settings.status.unwrap_or(503), seed)),
        FaultMode::ForeignRedirect if answer.route == "sourcefiles" => {
            let headers = answer
                .headers
                .iter()
                .map(|(k, v)| match *k {
                    "Location" => (*k, format!("{elsewhere}/{}", path_of(v))),
                    _ => (*k, v.clone()),
                })
                .collect();
            Answer { headers, ..answer }
        }
        _ if !answer.json => answer,
        FaultMode::ForeignFileUrls | FaultMode::FileSchemeUrls
            if answer.route == "sourceFileUrls" =>
        {
            let origin = match settings.mode {
                FaultMode::FileSchemeUrls => "file://".to_owned(),
                _ => elsewhere,
            };
            rewrite_json(answer, |value| {
                for entry in value.as_array_mut().into_iter().flatten() {
                    let url = if entry.is_object() {
                        &mut entry["url"]
                    } else {
                        entry
                    };
                    if let Some(old) = url.as_str() {
                        *url = serde_json::Value::String(format!("{origin}/{}", path_of(old)));
                    }
                }
            })
        }
        FaultMode::WrongPackageName if answer.route == "getPublishedSources" => {
            rewrite_json(answer, |value| {
                let entries = value.get_mut("entries").and_then(|e| e.as_array_mut());
                for entry in entries.into_iter().flatten() {
                    if let Some(name) = entry["source_package_name"].as_str() {
                        entry["source_package_name"] =
                            serde_json::Value::String(format!("impostor-{name}"));
                    }
                }
            })
        }
        FaultMode::ForeignRedirect
        | FaultMode::ForeignFileUrls
        | FaultMode::FileSchemeUrls
        | FaultMode::WrongPackageName => answer,
        FaultMode::TruncatedJson => {
            let Body::Bytes(bytes) = &answer.body else {
                return answer;
            };
            let cut = bytes[..bytes.len() / 2].to_vec();
            Answer {
                body: Body::Bytes(cut),
                ..answer
            }
        }
        FaultMode::HtmlBody => Answer {
            content_type: "text/html",
            body: Body::Bytes(faults::MAINTENANCE_HTML.as_bytes().to_vec()),
            json: false,
            ..answer
        },
        FaultMode::WrongContentType => Answer {
            content_type: "text/plain",
            ..answer
        },
        FaultMode::ForeignNextLink => {
            let Body::Bytes(bytes) = &answer.body else {
                return answer;
            };
            let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
                return answer;
            };
            let Some(link) = value
                .get_mut("next_collection_link")
                .and_then(|l| l.as_str().map(str::to_owned))
            else {
                return answer;
            };
            let path = link.splitn(4, '/').nth(3).unwrap_or("");
            value["next_collection_link"] =
                serde_json::Value::String(format!("http://lp-sim-elsewhere.invalid/{path}"));
            Answer {
                body: Body::Bytes(serde_json::to_vec(&value).unwrap_or_default()),
                ..answer
            }
        }
    }
}

/// The path of an absolute URL, without its leading `/`.
fn path_of(url: &str) -> &str {
    url.splitn(4, '/').nth(3).unwrap_or("")
}

/// A JSON answer with `change` applied to its body.
fn rewrite_json(answer: Answer, change: impl FnOnce(&mut serde_json::Value)) -> Answer {
    let Body::Bytes(bytes) = &answer.body else {
        return answer;
    };
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return answer;
    };
    change(&mut value);
    Answer {
        body: Body::Bytes(serde_json::to_vec(&value).unwrap_or_default()),
        ..answer
    }
}

fn is_api_version(s: &str) -> bool {
    matches!(s, "devel" | "1.0" | "beta")
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
    let distro = shared.distro.as_str();
    match segs.as_slice() {
        [version, rest @ ..] if is_api_version(version) => {
            let base = LinkBase {
                origin: origin.to_owned(),
                api_version: (*version).to_owned(),
                distro: distro.to_owned(),
            };
            let url_without_query = format!("{origin}{path}");
            api(
                shared,
                &base,
                rest,
                &Query::parse(query),
                &url_without_query,
            )
        }
        [
            d,
            "+archive",
            "primary",
            "+sourcefiles",
            name,
            version,
            file,
        ] if *d == distro => sourcefile_redirect(shared, origin, name, version, file),
        ["+librarian", id, file] => librarian(shared, id, file),
        _ => Answer::not_found(path),
    }
}

fn api(shared: &Shared, base: &LinkBase, rest: &[&str], q: &Query, url: &str) -> Answer {
    let distro = base.distro.as_str();
    match rest {
        [] | [""] => Answer::json(
            "service_root",
            &serde_json::json!({
                "distributions_collection_link": format!("{}/distros", base.api()),
                "resource_type_link": format!("{}/#service-root", base.api()),
            }),
        ),
        [d] if *d == distro => distribution(shared, base),
        [d, "series"] if *d == distro => series_collection(shared, base, q, url),
        [d, "+archive", "primary"] if *d == distro => match q.get("ws.op") {
            None => Answer::json(
                "archive",
                &serde_json::json!({
                    "self_link": base.archive_link(),
                    "web_link": format!("{}/{distro}/+archive/primary", base.origin),
                    "resource_type_link": format!("{}/#archive", base.api()),
                    "displayname": format!("Primary Archive for {distro}"),
                    "distribution_link": base.distro_link(),
                    "name": "primary",
                    "private": false,
                    "reference": distro,
                    "status": "Active",
                }),
            ),
            Some("getPublishedSources") => published_sources(shared, base, q, url),
            Some(op) => Answer::text("archive", 400, format!("No such operation: {op}")),
        },
        [d, "+archive", "primary", "+sourcepub", id] if *d == distro => {
            publication_op(shared, base, id, q)
        }
        [d, name] if *d == distro => {
            let cat = read_catalogue(shared);
            match cat.series_index(name) {
                Some(i) => Answer::json("series", &render::series(base, &cat, usize::from(i))),
                None => Answer::not_found(url),
            }
        }
        _ => Answer::not_found(url),
    }
}

fn distribution(shared: &Shared, base: &LinkBase) -> Answer {
    let cat = read_catalogue(shared);
    let current = cat.series.first().map(|s| base.series_link(&s.name));
    let distro = &base.distro;
    Answer::json(
        "distribution",
        &serde_json::json!({
            "self_link": base.distro_link(),
            "web_link": format!("{}/{distro}", base.origin),
            "resource_type_link": format!("{}/#distribution", base.api()),
            "active": true,
            "current_series_link": current,
            "description": format!("{distro}, simulated by lp-sim."),
            "display_name": distro,
            "displayname": distro,
            "main_archive_link": base.archive_link(),
            "name": distro,
            "series_collection_link": format!("{}/series", base.distro_link()),
            "title": distro,
        }),
    )
}

fn series_collection(shared: &Shared, base: &LinkBase, q: &Query, url: &str) -> Answer {
    let paging = match params::paging(q) {
        Ok(p) => p,
        Err(e) => return Answer::text("series_collection", 400, e),
    };
    let cat = read_catalogue(shared);
    let total = cat.series.len();
    let end = (paging.start + paging.size).min(total);
    let start = paging.start.min(total);
    let entries: Vec<_> = (start..end)
        .map(|i| render::series(base, &cat, i))
        .collect();
    let (next, prev) = render::page_links(
        url,
        &q.link_stem(),
        paging.start,
        paging.size,
        entries.len(),
        end < total,
    );
    Answer::json(
        "series_collection",
        &PageJson {
            start: paging.start,
            total_size: Some(total),
            total_size_link: None,
            next_collection_link: next,
            prev_collection_link: prev,
            entries,
            resource_type_link: Some(format!("{}/#distro_series-page-resource", base.api())),
        },
    )
}

const STATUS_TITLES: [&str; 5] = ["Pending", "Published", "Superseded", "Deleted", "Obsolete"];
const POCKET_TITLES: [&str; 5] = ["Release", "Security", "Updates", "Proposed", "Backports"];

/// Parses every `getPublishedSources` parameter; all errors, one per line, as Launchpad.
fn parse_filter(cat: &Catalogue, base: &LinkBase, q: &Query) -> Result<Filter, String> {
    let mut errors = Vec::new();
    let mut take = |r: Result<Option<String>, String>| r.map_err(|e| errors.push(e)).ok().flatten();
    let source_name = take(params::text(q, "source_name"));
    let version = take(params::text(q, "version"));
    let component = take(params::text(q, "component_name"));
    let status = take(params::vocabulary(q, "status", &STATUS_TITLES));
    let pocket = take(params::vocabulary(q, "pocket", &POCKET_TITLES));
    let series_text = take(params::text(q, "distro_series"));
    let since_text = take(params::text(q, "created_since_date"));
    let mut take_bool = |name: &str| {
        params::boolean(q, name)
            .map_err(|e| errors.push(e))
            .ok()
            .flatten()
            .unwrap_or(false)
    };
    let exact_match = take_bool("exact_match");
    let by_date = take_bool("order_by_date");
    let by_date_ascending = take_bool("order_by_date_ascending");
    let series = match series_text {
        None => SeriesFilter::Any,
        Some(value) => resolve_series(cat, base, &value).unwrap_or_else(|e| {
            errors.push(e);
            SeriesFilter::Any
        }),
    };
    let created_since = since_text.and_then(|value| match parse_datetime_param(&value) {
        Ok(t) => Some(t),
        Err(DateParamError::NotUtc) => {
            errors.push("created_since_date: Time not in UTC.".into());
            None
        }
        Err(DateParamError::Unparseable) => {
            errors.push(format!(
                "created_since_date: Invalid datetime value {value:?}."
            ));
            None
        }
    });
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    if version.is_some() && source_name.is_none() {
        return Err(
            "The 'version' parameter can be used only together with the 'name' parameter.".into(),
        );
    }
    let order = if by_date {
        Order::NewestFirst
    } else if by_date_ascending {
        Order::OldestFirst
    } else {
        Order::NameThenVersion
    };
    Ok(Filter {
        source_name,
        exact_match,
        version,
        series,
        pocket: pocket.as_deref().and_then(Pocket::from_title),
        status: status.as_deref().and_then(Status::from_title),
        created_since,
        component,
        order,
    })
}

/// Dereferences a `distro_series` URL: absolute on this host, or relative to the root.
fn resolve_series(cat: &Catalogue, base: &LinkBase, value: &str) -> Result<SeriesFilter, String> {
    let error = || format!("distro_series: No such object \"{value}\".");
    let path = if let Some(rest) = value.strip_prefix(&base.origin) {
        rest
    } else if value.starts_with('/') {
        value
    } else {
        return Err(error());
    };
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let segs = match segs.split_first() {
        Some((first, rest)) if is_api_version(first) => rest,
        _ => &segs[..],
    };
    match segs {
        [d, name] if *d == base.distro => cat
            .series_index(name)
            .map(SeriesFilter::One)
            .ok_or_else(error),
        _ => Err(error()),
    }
}

fn published_sources(shared: &Shared, base: &LinkBase, q: &Query, url: &str) -> Answer {
    let route = "getPublishedSources";
    let cat = read_catalogue(shared);
    let filter = match parse_filter(&cat, base, q) {
        Ok(f) => f,
        Err(e) => return Answer::text(route, 400, e),
    };
    if q.get("ws.show") == Some("total_size") {
        return Answer::json("getPublishedSources_total_size", &cat.count(&filter));
    }
    let paging = match params::paging(q) {
        Ok(p) => p,
        Err(e) => return Answer::text(route, 400, e),
    };
    let (rows, more) = cat.select(&filter, paging.start, paging.size);
    let entries: Vec<_> = rows
        .iter()
        .map(|r| render::publication(base, &cat, r))
        .collect();
    let stem = q.link_stem();
    let (next, prev) =
        render::page_links(url, &stem, paging.start, paging.size, entries.len(), more);
    let (total_size, total_size_link) = if base.api_version != "devel" {
        (Some(cat.count(&filter)), None)
    } else if more {
        let sep = if stem.is_empty() { "" } else { "&" };
        (None, Some(format!("{url}?{stem}{sep}ws.show=total_size")))
    } else {
        (Some(paging.start + entries.len()), None)
    };
    Answer::json(
        route,
        &PageJson {
            start: paging.start,
            total_size,
            total_size_link,
            next_collection_link: next,
            prev_collection_link: prev,
            entries,
            resource_type_link: None,
        },
    )
}

#[derive(Serialize)]
struct FileMeta {
    url: String,
    size: u64,
    sha256: String,
}

fn publication_op(shared: &Shared, base: &LinkBase, id: &str, q: &Query) -> Answer {
    let cat = read_catalogue(shared);
    let Some(row) = id.parse().ok().and_then(|id| cat.row_by_id(id)) else {
        return Answer::not_found(&base.publication_link(0).replace("/0", &format!("/{id}")));
    };
    match q.get("ws.op") {
        None => Answer::json("publication", &render::publication(base, &cat, row)),
        Some("sourceFileUrls") => {
            let include_meta = match params::boolean(q, "include_meta") {
                Ok(v) => v.unwrap_or(false),
                Err(e) => return Answer::text("sourceFileUrls", 400, e),
            };
            let files = render::source_files(base, &cat, row);
            if include_meta {
                let metas: Vec<FileMeta> = files
                    .into_iter()
                    .map(|(url, size, sha256)| FileMeta { url, size, sha256 })
                    .collect();
                Answer::json("sourceFileUrls", &metas)
            } else {
                let urls: Vec<String> = files.into_iter().map(|(url, _, _)| url).collect();
                Answer::json("sourceFileUrls", &urls)
            }
        }
        Some("changesFileUrl" | "changelogUrl") => {
            Answer::json("changesFileUrl", &serde_json::Value::Null)
        }
        Some(op) => Answer::text("publication", 400, format!("No such operation: {op}")),
    }
}

/// Packs (package, version, file) into a librarian-like numeric id.
fn librarian_id(pkg: u32, ver: u32, file: usize) -> u64 {
    (u64::from(pkg) << 24) | (u64::from(ver) << 8) | (file as u64 & 0xff)
}

fn split_librarian_id(id: u64) -> (u32, u32, usize) {
    (
        (id >> 24) as u32,
        ((id >> 8) & 0xffff) as u32,
        (id & 0xff) as usize,
    )
}

/// The file names of a version, `.dsc` first.
fn file_names(cat: &Catalogue, pkg: u32, ver: u32) -> Vec<String> {
    let package = &cat.packages[pkg as usize];
    let version = &package.versions[ver as usize];
    match &version.files {
        Files::Disk(files) => files.iter().map(|f| f.name.clone()).collect(),
        Files::Synthetic { .. } => vec![
            format!("{}_{}.dsc", package.name, version.version),
            format!("{}_{}.tar.gz", package.name, version.version),
        ],
    }
}

/// `+sourcefiles/<name>/<version>/<file>` redirects to the librarian, as on Launchpad.
fn sourcefile_redirect(
    shared: &Shared,
    origin: &str,
    name: &str,
    version: &str,
    file: &str,
) -> Answer {
    let cat = read_catalogue(shared);
    let found = cat.package_index(name).and_then(|pkg| {
        let ver = cat.version_index(pkg, version)?;
        let index = file_names(&cat, pkg, ver).iter().position(|f| f == file)?;
        Some(librarian_id(pkg, ver, index))
    });
    match found {
        Some(id) => Answer {
            status: 303,
            content_type: "text/plain",
            body: Body::Bytes(Vec::new()),
            headers: vec![(
                "Location",
                format!("{origin}/+librarian/{id}/{}", path_segment(file)),
            )],
            route: "sourcefiles",
            json: false,
        },
        None => Answer::text(
            "sourcefiles",
            404,
            format!("No such file: {name} {version} {file}\n"),
        ),
    }
}

fn librarian(shared: &Shared, id: &str, file: &str) -> Answer {
    let missing = || {
        Answer::text(
            "librarian",
            404,
            "The requested file is not in the librarian.\n",
        )
    };
    let Ok(id) = id.parse::<u64>() else {
        return missing();
    };
    let (pkg, ver, index) = split_librarian_id(id);
    let cat = read_catalogue(shared);
    let Some(version) = cat
        .packages
        .get(pkg as usize)
        .and_then(|p| p.versions.get(ver as usize))
    else {
        return missing();
    };
    if file_names(&cat, pkg, ver).get(index).map(String::as_str) != Some(file) {
        return missing();
    }
    let body = match &version.files {
        Files::Disk(files) => Body::File(files[index].path.clone()),
        Files::Synthetic { j, v } => {
            let Some(spec) = cat.synthetic_spec() else {
                return missing();
            };
            let series = crate::synthetic::home_series_name(spec, *j);
            let generated = crate::synthetic::generate(spec, *j, *v, &series);
            Body::Bytes(if index == 0 {
                generated.dsc
            } else {
                generated.tar
            })
        }
    };
    Answer {
        status: 200,
        content_type: "application/octet-stream",
        body,
        headers: Vec::new(),
        route: "librarian",
        json: false,
    }
}

/// The body of `POST /_sim/publish`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishBody {
    package: String,
    version: String,
    suite: String,
    #[serde(default)]
    date_created: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// Adds a publication; returns its `self_link` under `base`.
pub(crate) fn publish(
    shared: &Shared,
    base: &LinkBase,
    package: &str,
    version: &str,
    suite: &str,
    date_created: Option<DateTime<Utc>>,
    status: Status,
) -> Result<(u16, serde_json::Value), (u16, String)> {
    let request = PublishRequest {
        package: package.to_owned(),
        version: version.to_owned(),
        suite: suite.to_owned(),
        date_created: date_created
            .unwrap_or_else(|| DateTime::<Utc>::from(std::time::SystemTime::now())),
        status,
    };
    let mut cat = write_catalogue(shared);
    match cat.publish(&request) {
        Ok(id) => {
            let row = cat
                .row_by_id(id)
                .ok_or((500, "lost the new row".to_owned()))?;
            let json = serde_json::to_value(render::publication(base, &cat, row))
                .map_err(|e| (500, e.to_string()))?;
            log::info!("published package={package} version={version} suite={suite} id={id}");
            Ok((201, json))
        }
        Err(PublishError::Missing(m)) => Err((404, m)),
        Err(PublishError::Invalid(m)) => Err((400, m)),
    }
}

/// The body of `POST /_sim/open-series`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenSeriesBody {
    /// Must be the simulated distribution, when given.
    #[serde(default)]
    distribution: Option<String>,
    series: String,
    /// The series to copy from; empty or absent means every existing series.
    #[serde(default)]
    copy_from: Vec<String>,
    #[serde(default)]
    date_created: Option<String>,
}

/// Opens a series and copies every package's newest published version into it; returns
/// how many publications were created.
pub(crate) fn open_series(
    shared: &Shared,
    series: &str,
    copy_from: &[String],
    date_created: Option<DateTime<Utc>>,
) -> Result<usize, (u16, String)> {
    let date = date_created.unwrap_or_else(|| DateTime::<Utc>::from(std::time::SystemTime::now()));
    let mut cat = write_catalogue(shared);
    match cat.open_series(series, copy_from, date) {
        Ok(copied) => {
            log::info!("opened series={series} copied={copied}");
            Ok(copied)
        }
        Err(PublishError::Missing(m) | PublishError::Invalid(m)) => Err((400, m)),
    }
}

fn control(shared: &Shared, method: &Method, path: &str, body: &str, origin: &str) -> Answer {
    let base = LinkBase {
        origin: origin.to_owned(),
        api_version: "devel".into(),
        distro: shared.distro.clone(),
    };
    match (method, path.trim_end_matches('/')) {
        (Method::Post, "/_sim/publish") => {
            let parsed: PublishBody = match serde_json::from_str(body) {
                Ok(p) => p,
                Err(e) => {
                    return Answer::text("control", 400, format!("bad publish request: {e}\n"));
                }
            };
            let date = match parsed
                .date_created
                .as_deref()
                .map(parse_any_date)
                .transpose()
            {
                Ok(d) => d,
                Err(e) => return Answer::text("control", 400, e),
            };
            let status = match parsed.status.as_deref() {
                None | Some("Pending") => Status::Pending,
                Some("Published") => Status::Published,
                Some(other) => {
                    return Answer::text(
                        "control",
                        400,
                        format!("status must be Pending or Published, not {other}\n"),
                    );
                }
            };
            match publish(
                shared,
                &base,
                &parsed.package,
                &parsed.version,
                &parsed.suite,
                date,
                status,
            ) {
                Ok((code, json)) => Answer {
                    status: code,
                    ..Answer::json("control", &json)
                },
                Err((code, message)) => Answer::text("control", code, format!("{message}\n")),
            }
        }
        (Method::Post, "/_sim/open-series") => {
            let parsed: OpenSeriesBody = match serde_json::from_str(body) {
                Ok(p) => p,
                Err(e) => {
                    return Answer::text("control", 400, format!("bad open-series request: {e}\n"));
                }
            };
            if let Some(d) = parsed.distribution.as_deref()
                && d != shared.distro
            {
                return Answer::text(
                    "control",
                    400,
                    format!("this lp-sim serves {}, not {d}\n", shared.distro),
                );
            }
            let date = match parsed
                .date_created
                .as_deref()
                .map(parse_any_date)
                .transpose()
            {
                Ok(d) => d,
                Err(e) => return Answer::text("control", 400, e),
            };
            match open_series(shared, &parsed.series, &parsed.copy_from, date) {
                Ok(copied) => Answer {
                    status: 201,
                    ..Answer::json(
                        "control",
                        &serde_json::json!({ "series": parsed.series, "copied": copied }),
                    )
                },
                Err((code, message)) => Answer::text("control", code, format!("{message}\n")),
            }
        }
        (Method::Post, "/_sim/faults") => {
            let settings: FaultSettings = match serde_json::from_str(body) {
                Ok(s) => s,
                Err(e) => {
                    return Answer::text("control", 400, format!("bad fault settings: {e}\n"));
                }
            };
            if let Err(e) = settings.validate() {
                return Answer::text("control", 400, format!("{e}\n"));
            }
            lock(&shared.faults).settings = settings;
            log::info!("faults set to {settings:?}");
            Answer::json("control", &settings)
        }
        (Method::Get, "/_sim/faults") => Answer::json("control", &lock(&shared.faults).settings),
        (Method::Get, "/_sim/stats") => Answer::json("control", &*lock(&shared.stats)),
        (Method::Post, "/_sim/stats/reset") => {
            *lock(&shared.stats) = SimStats::default();
            Answer::json("control", &serde_json::json!({}))
        }
        _ => Answer::text(
            "control",
            404,
            format!("no control endpoint {method} {path}\n"),
        ),
    }
}

/// Accepts RFC 3339 with any offset, or Launchpad's parameter spellings.
fn parse_any_date(value: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    parse_datetime_param(value).map_err(|_| format!("bad date_created {value:?}\n"))
}
