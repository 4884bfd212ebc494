//! What operators and admins may do, and the HTML forms that do it.
//!
//! Each action ([`Act`]) is one call of the `Store` (or of the binary's `reset
//! --adopt-remote`), then one row in the audit log of actions: who (the token's name), what,
//! on what, when, and the result, failures included. The JSON API (`api`) and the forms
//! here share [`perform`]; the forms add the session and CSRF checks and answer with a
//! redirect back to the page they came from (303, so a reload does not post again).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use pkgimport_core::{PackageName, Priority};
use pkgimport_queue::{NewAction, Role};
use serde::Deserialize;

use crate::auth::{self, Caller, Denied};
use crate::layout;
use crate::{Error, State as AppState};

/// One action, with what it acts on.
#[derive(Clone, Debug)]
pub(crate) enum Act {
    Enqueue(PackageName, Priority),
    Retry(PackageName),
    RetrySignature(String),
    Pause,
    Resume,
    AdoptRemote(PackageName),
}

impl Act {
    /// The role it needs.
    pub(crate) fn needs(&self) -> Role {
        match self {
            Act::AdoptRemote(_) => Role::Admin,
            _ => Role::Operator,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Act::Enqueue(..) => "enqueue",
            Act::Retry(_) => "retry",
            Act::RetrySignature(_) => "retry-signature",
            Act::Pause => "pause",
            Act::Resume => "resume",
            Act::AdoptRemote(_) => "reset-adopt-remote",
        }
    }

    fn target(&self) -> String {
        match self {
            Act::Enqueue(p, _) | Act::Retry(p) | Act::AdoptRemote(p) => p.to_string(),
            Act::RetrySignature(s) => s.clone(),
            Act::Pause | Act::Resume => String::new(),
        }
    }
}

/// What an action did.
pub(crate) struct Done {
    pub(crate) ok: bool,
    /// One line for people and the audit log.
    pub(crate) message: String,
    /// The JSON answer of the API.
    pub(crate) json: serde_json::Value,
}

/// Carries out `act` for `who` and records it in the audit log, whatever its result.
pub(crate) async fn perform(state: &AppState, who: &str, act: Act) -> Result<Done, Error> {
    let adopt = state.adopt_remote.clone();
    let act2 = act.clone();
    let done = state
        .db
        .run(move |s| -> Result<Done, pkgimport_queue::Error> {
            Ok(match act2 {
                Act::Enqueue(p, priority) => {
                    let summary = s.enqueue(std::slice::from_ref(&p), priority)?;
                    let what = if summary.added > 0 {
                        "queued"
                    } else if summary.raised > 0 {
                        "priority raised"
                    } else {
                        "already queued"
                    };
                    let blocked = if summary.blocked.is_empty() {
                        ""
                    } else {
                        "; it has a failure and waits for a retry"
                    };
                    Done {
                        ok: true,
                        message: format!("{p}: {what} at priority {priority}{blocked}"),
                        json: serde_json::to_value(&summary).unwrap_or_default(),
                    }
                }
                Act::Retry(p) => {
                    let had = s.retry(std::slice::from_ref(&p), Priority::MANUAL)?;
                    Done {
                        ok: true,
                        message: if had.is_empty() {
                            format!("{p}: queued at priority manual (no failure recorded)")
                        } else {
                            format!("{p}: re-queued at priority manual")
                        },
                        json: serde_json::json!({ "requeued": 1, "had_failure": had.len() }),
                    }
                }
                Act::RetrySignature(sig) => {
                    let names = s.failed_packages(Some(&sig), false)?;
                    let had = s.retry(&names, Priority::MANUAL)?;
                    Done {
                        ok: true,
                        message: format!("re-queued {} packages at priority manual", names.len()),
                        json: serde_json::json!({ "requeued": names.len(), "had_failure": had.len() }),
                    }
                }
                Act::Pause => {
                    s.set_paused(true)?;
                    Done {
                        ok: true,
                        message: "paused: running imports finish, nothing new is claimed".into(),
                        json: serde_json::json!({ "paused": true }),
                    }
                }
                Act::Resume => {
                    s.set_paused(false)?;
                    Done {
                        ok: true,
                        message: "resumed".into(),
                        json: serde_json::json!({ "paused": false }),
                    }
                }
                Act::AdoptRemote(p) => match adopt(s, &p) {
                    Ok(message) => Done {
                        ok: true,
                        json: serde_json::json!({ "message": message }),
                        message,
                    },
                    Err(message) => Done {
                        ok: false,
                        json: serde_json::json!({ "error": message }),
                        message,
                    },
                },
            })
        })
        .await?;
    let done = match done {
        Ok(d) => d,
        Err(e) => Done {
            ok: false,
            message: e.to_string(),
            json: serde_json::json!({ "error": e.to_string() }),
        },
    };
    record(
        state,
        who,
        act.name(),
        &act.target(),
        done.ok,
        &done.message,
    )
    .await?;
    Ok(done)
}

/// Writes one row of the audit log of actions, and its log line.
pub(crate) async fn record(
    state: &AppState,
    who: &str,
    action: &'static str,
    target: &str,
    ok: bool,
    result: &str,
) -> Result<(), Error> {
    log::info!("action who={who} action={action} target={target:?} ok={ok} result={result:?}");
    let (who, target, result) = (who.to_owned(), target.to_owned(), result.to_owned());
    state
        .db
        .run(move |s| {
            s.record_action(&NewAction {
                who: &who,
                action,
                target: &target,
                ok,
                result: &result,
            })
        })
        .await??;
    Ok(())
}

/// The fields a form may post.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Fields {
    pub(crate) csrf: Option<String>,
    pub(crate) signature: Option<String>,
}

/// The form routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/packages/{name}/enqueue",
            package_form(|p| Act::Enqueue(p, Priority::MANUAL)),
        )
        .route("/packages/{name}/retry", package_form(Act::Retry))
        .route("/packages/{name}/reset", package_form(Act::AdoptRemote))
        .route("/failures/retry", post(form_retry_signature))
        .route("/pause", post(form_pause))
        .route("/resume", post(form_resume))
}

/// The route of a form acting on the package its URL names; back to its page after.
fn package_form(act: fn(PackageName) -> Act) -> MethodRouter<AppState> {
    post(
        move |State(state): State<AppState>,
              Path(name): Path<String>,
              headers: HeaderMap,
              axum::Form(fields): axum::Form<Fields>| async move {
            let back = format!("/packages/{name}");
            form_action(&state, &headers, &fields, package(&name).map(act), &back).await
        },
    )
}

async fn form_retry_signature(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    let act = match fields.signature.clone() {
        Some(s) if !s.is_empty() => Ok(Act::RetrySignature(s)),
        _ => Err("no signature given".to_owned()),
    };
    form_action(&state, &headers, &fields, act, "/failures").await
}

async fn form_pause(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    form_action(&state, &headers, &fields, Ok(Act::Pause), "/queue").await
}

async fn form_resume(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    form_action(&state, &headers, &fields, Ok(Act::Resume), "/queue").await
}

/// A package name from a URL: the name's own validation refuses anything else (`..`, `/`,
/// markup), so nothing outside a package's page can be named.
pub(crate) fn package(raw: &str) -> Result<PackageName, String> {
    PackageName::parse(raw).map_err(|e| e.to_string())
}

/// A form's action: a session (401), its CSRF token (403), the role (403), then the action,
/// then back to `back`.
async fn form_action(
    state: &AppState,
    headers: &HeaderMap,
    fields: &Fields,
    act: Result<Act, String>,
    back: &str,
) -> Response {
    let caller = match auth::caller(state, headers, false).await {
        Ok(Ok(c)) => c,
        Ok(Err(d)) => return denied(d, None),
        Err(e) => return internal(&e),
    };
    let Some(caller) = caller else {
        return denied(Denied::Unauthenticated, None);
    };
    if matches!(caller.via, auth::Via::Bearer) {
        // Forms are for browsers; scripts use the API.
        return denied(Denied::Csrf, Some(&caller));
    }
    if let Err(d) = auth::check_csrf(&caller, fields.csrf.as_deref()) {
        return denied(d, Some(&caller));
    }
    let act = match act {
        Ok(a) => a,
        Err(why) => {
            return layout::message(StatusCode::NOT_FOUND, "Not found", &why, Some(&caller));
        }
    };
    if let Err(d) = auth::require(Some(&caller), act.needs()) {
        return denied(d, Some(&caller));
    }
    match perform(state, &caller.name, act).await {
        Ok(done) if done.ok => see_other(back),
        Ok(done) => layout::message(
            StatusCode::CONFLICT,
            "The action failed",
            &done.message,
            Some(&caller),
        ),
        Err(e) => internal(&e),
    }
}

/// 303 to `to`.
pub(crate) fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// The HTML answer to a refused request.
pub(crate) fn denied(d: Denied, caller: Option<&Caller>) -> Response {
    match d {
        Denied::Unauthenticated => layout::message(
            StatusCode::UNAUTHORIZED,
            "Log in first",
            "This needs a token: log in with one at /login.",
            caller,
        ),
        Denied::Forbidden { need } => layout::message(
            StatusCode::FORBIDDEN,
            "Not allowed",
            &format!("This needs the {need} role."),
            caller,
        ),
        Denied::Csrf => layout::message(
            StatusCode::FORBIDDEN,
            "Refused",
            "The form's CSRF token is missing or wrong: reload the page and try again.",
            caller,
        ),
    }
}

/// A 500 for an error of ours; the details go to the log only.
pub(crate) fn internal(e: &Error) -> Response {
    log::error!("request failed error={e}");
    let status = if e.is_transient() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    layout::message(
        status,
        "Something went wrong",
        "The error is in the service's log.",
        None,
    )
}
