//! The `/_sim/` control endpoints: publish a version, publish a pending one, open a
//! series, set and read the fault settings, read and reset the statistics.
//! [`SimHandle`](crate::SimHandle) calls [`publish`], [`publish_pending`] and
//! [`open_series`] directly. Publishing and opening a series act on one distribution: the
//! one the request names, else the default one.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tiny_http::Method;

use super::{Answer, Shared, SimStats, lock, write_catalogue};
use crate::catalogue::{PublishError, PublishRequest, Status};
use crate::faults::FaultSettings;
use crate::render::{self, LinkBase};
use crate::time::parse_any_date;
use crate::{OpenSeries, Publish};

/// The body of `POST /_sim/publish`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishBody {
    /// One the simulator serves; absent means the default one.
    #[serde(default)]
    distribution: Option<String>,
    package: String,
    version: String,
    suite: String,
    #[serde(default)]
    date_created: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// Adds a publication; returns the status code and the publication's JSON, its links
/// under `origin`.
pub(crate) fn publish(
    shared: &Shared,
    origin: &str,
    what: &Publish,
) -> Result<(u16, serde_json::Value), (u16, String)> {
    let Publish {
        distribution,
        package,
        version,
        suite,
        date_created,
        published,
    } = what;
    let status = if *published {
        Status::Published
    } else {
        Status::Pending
    };
    let (distro, distro_name) = shared.resolve_distro(distribution.as_deref())?;
    let base = LinkBase {
        origin: origin.to_owned(),
        api_version: "devel".into(),
        distro: distro_name.clone(),
    };
    let request = PublishRequest {
        distro,
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
            let json = serde_json::to_value(render::publication(&base, &cat, row))
                .map_err(|e| (500, e.to_string()))?;
            log::info!(
                "published distribution={distro_name} package={package} version={version} \
                 suite={suite} id={id}"
            );
            Ok((201, json))
        }
        Err(PublishError::Missing(m)) => Err((404, m)),
        Err(PublishError::Invalid(m)) => Err((400, m)),
    }
}

/// The body of `POST /_sim/publish-pending`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishPendingBody {
    /// The publication's id: the `<id>` of its `+sourcepub/<id>` link.
    id: u64,
    #[serde(default)]
    date_published: Option<String>,
}

/// Publishes the pending publication `id` at `date` (none: now); returns the publication's
/// JSON, its links under `origin`.
pub(crate) fn publish_pending(
    shared: &Shared,
    origin: &str,
    id: u64,
    date: Option<DateTime<Utc>>,
) -> Result<serde_json::Value, (u16, String)> {
    let date = date.unwrap_or_else(|| DateTime::<Utc>::from(std::time::SystemTime::now()));
    let mut cat = write_catalogue(shared);
    match cat.publish_pending(id, date) {
        Ok(()) => {
            let row = cat.row_by_id(id).ok_or((500, "lost the row".to_owned()))?;
            let distro = cat.distro_of(row);
            let base = LinkBase {
                origin: origin.to_owned(),
                api_version: "devel".into(),
                distro: cat.distributions[usize::from(distro)].clone(),
            };
            log::info!("published pending id={id}");
            serde_json::to_value(render::publication(&base, &cat, row))
                .map_err(|e| (500, e.to_string()))
        }
        Err(PublishError::Missing(m)) => Err((404, m)),
        Err(PublishError::Invalid(m)) => Err((400, m)),
    }
}

/// The body of `POST /_sim/open-series`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenSeriesBody {
    /// One the simulator serves; absent means the default one.
    #[serde(default)]
    distribution: Option<String>,
    series: String,
    /// The series to copy from; empty or absent means every existing series.
    #[serde(default)]
    copy_from: Vec<String>,
    #[serde(default)]
    date_created: Option<String>,
}

/// Opens a series of its distribution (none: the default one) and copies every package's
/// newest published version into it; returns how many publications were created.
pub(crate) fn open_series(shared: &Shared, open: &OpenSeries) -> Result<usize, (u16, String)> {
    let OpenSeries {
        distribution,
        series,
        copy_from,
        date_created,
    } = open;
    let (distro, distro_name) = shared.resolve_distro(distribution.as_deref())?;
    let date = date_created.unwrap_or_else(|| DateTime::<Utc>::from(std::time::SystemTime::now()));
    let mut cat = write_catalogue(shared);
    match cat.open_series(distro, series, copy_from, date) {
        Ok(copied) => {
            log::info!("opened distribution={distro_name} series={series} copied={copied}");
            Ok(copied)
        }
        Err(PublishError::Missing(m) | PublishError::Invalid(m)) => Err((400, m)),
    }
}

/// Serves one `/_sim/` request.
pub(super) fn control(
    shared: &Shared,
    method: &Method,
    path: &str,
    body: &str,
    origin: &str,
) -> Answer {
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
                .map(parse_date_created)
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
            let what = Publish {
                distribution: parsed.distribution,
                package: parsed.package,
                version: parsed.version,
                suite: parsed.suite,
                date_created: date,
                published: status == Status::Published,
            };
            match publish(shared, origin, &what) {
                Ok((code, json)) => Answer {
                    status: code,
                    ..Answer::json("control", &json)
                },
                Err((code, message)) => Answer::text("control", code, format!("{message}\n")),
            }
        }
        (Method::Post, "/_sim/publish-pending") => {
            let parsed: PublishPendingBody = match serde_json::from_str(body) {
                Ok(p) => p,
                Err(e) => {
                    return Answer::text(
                        "control",
                        400,
                        format!("bad publish-pending request: {e}\n"),
                    );
                }
            };
            let date = match parsed
                .date_published
                .as_deref()
                .map(parse_date_created)
                .transpose()
            {
                Ok(d) => d,
                Err(e) => return Answer::text("control", 400, e),
            };
            match publish_pending(shared, origin, parsed.id, date) {
                Ok(json) => Answer::json("control", &json),
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
            let date = match parsed
                .date_created
                .as_deref()
                .map(parse_date_created)
                .transpose()
            {
                Ok(d) => d,
                Err(e) => return Answer::text("control", 400, e),
            };
            let open = OpenSeries {
                distribution: parsed.distribution,
                series: parsed.series,
                copy_from: parsed.copy_from,
                date_created: date,
            };
            match open_series(shared, &open) {
                Ok(copied) => Answer {
                    status: 201,
                    ..Answer::json(
                        "control",
                        &serde_json::json!({ "series": open.series, "copied": copied }),
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

/// A request's `date_created` or `date_published`: RFC 3339 with any offset, or
/// Launchpad's spellings.
fn parse_date_created(value: &str) -> Result<DateTime<Utc>, String> {
    parse_any_date(value).map_err(|_| format!("bad date_created {value:?}\n"))
}
