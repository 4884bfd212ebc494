//! Fault injection on the way out: the fault settings in force replace an answer (an
//! outage, an error page) or mangle it (a foreign redirect or file URL, truncated JSON, an
//! HTML body, a wrong content type, a `next_collection_link` to another host), at the
//! configured rate and after the configured delay.

use std::time::Duration;

use rand::Rng;

use super::{Answer, Body, Shared, lock};
use crate::faults::{self, FaultMode};

/// Replaces or mangles an answer per the fault settings.
pub(super) fn apply_faults(shared: &Shared, answer: Answer) -> Answer {
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
            distribution: answer.distribution.clone(),
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
