//! Launchpad's API resources, as lazr.restful serves them: the service root, each
//! distribution and its series collection, its primary archive and `getPublishedSources`
//! (every parameter checked as Launchpad does, errors included), and one publication with
//! its `sourceFileUrls`.

use serde::Serialize;

use super::{Answer, Shared, read_catalogue};
use crate::catalogue::{Catalogue, Filter, Order, Pocket, SeriesFilter, Status};
use crate::params::{self, Query};
use crate::render::{self, LinkBase, PageJson};
use crate::time::{DateParamError, parse_datetime_param};

/// The API versions that Launchpad, and so lp-sim, answers under.
pub(super) fn is_api_version(s: &str) -> bool {
    matches!(s, "devel" | "1.0" | "beta")
}

/// Routes a request under an API version; `rest` is the path after it, and `base` names
/// the distribution of the path (the default one when it names none this simulator serves).
pub(super) fn api(shared: &Shared, base: &LinkBase, rest: &[&str], q: &Query, url: &str) -> Answer {
    let distro = base.distro.as_str();
    let Some(index) = shared.distro_index(distro) else {
        return Answer::not_found(url);
    };
    match rest {
        [] | [""] => Answer::json(
            "service_root",
            &serde_json::json!({
                "distributions_collection_link": format!("{}/distros", base.api()),
                "resource_type_link": format!("{}/#service-root", base.api()),
            }),
        ),
        [d] if *d == distro => distribution(shared, base, index),
        [d, "series"] if *d == distro => series_collection(shared, base, index, q, url),
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
            Some("getPublishedSources") => published_sources(shared, base, index, q, url),
            Some(op) => Answer::text("archive", 400, format!("No such operation: {op}")),
        },
        [d, "+archive", "primary", "+sourcepub", id] if *d == distro => {
            publication_op(shared, base, index, id, q)
        }
        [d, name] if *d == distro => {
            let cat = read_catalogue(shared);
            match cat.series_index(index, name) {
                Some(i) => Answer::json("series", &render::series(base, &cat, usize::from(i))),
                None => Answer::not_found(url),
            }
        }
        _ => Answer::not_found(url),
    }
}

fn distribution(shared: &Shared, base: &LinkBase, index: u16) -> Answer {
    let cat = read_catalogue(shared);
    let current = cat
        .current_series(index)
        .map(|i| base.series_link(&cat.series[i].name));
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

fn series_collection(shared: &Shared, base: &LinkBase, index: u16, q: &Query, url: &str) -> Answer {
    let paging = match params::paging(q) {
        Ok(p) => p,
        Err(e) => return Answer::text("series_collection", 400, e),
    };
    let cat = read_catalogue(shared);
    let all: Vec<usize> = cat.series_of(index).collect();
    let total = all.len();
    let end = (paging.start + paging.size).min(total);
    let start = paging.start.min(total);
    let entries: Vec<_> = all[start..end]
        .iter()
        .map(|&i| render::series(base, &cat, i))
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

/// Parses every `getPublishedSources` parameter of the archive of distribution `index`;
/// all errors, one per line, as Launchpad.
fn parse_filter(cat: &Catalogue, base: &LinkBase, index: u16, q: &Query) -> Result<Filter, String> {
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
        distro: index,
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

/// Dereferences a `distro_series` URL: absolute on this host, or relative to the root. A
/// series of another distribution is a valid object that matches no publication here.
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
        [d, name] => cat
            .distro_index(d)
            .and_then(|d| cat.series_index(d, name))
            .map(SeriesFilter::One)
            .ok_or_else(error),
        _ => Err(error()),
    }
}

fn published_sources(shared: &Shared, base: &LinkBase, index: u16, q: &Query, url: &str) -> Answer {
    let route = "getPublishedSources";
    let cat = read_catalogue(shared);
    let filter = match parse_filter(&cat, base, index, q) {
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

fn publication_op(shared: &Shared, base: &LinkBase, index: u16, id: &str, q: &Query) -> Answer {
    let cat = read_catalogue(shared);
    let row = id.parse().ok().and_then(|id| cat.row_by_id(id));
    let Some(row) = row.filter(|row| cat.distro_of(row) == index) else {
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
