//! The JSON API under `/api/v1`, the agent check and the metrics.
//!
//! The views answer with the same JSON as `importctl`'s `--json` (the same serde types:
//! `status`, `show`, `failures`, `queue`, `runs`), from the same cache as the pages. The
//! actions take a bearer token (`Authorization: Bearer pit_...`), never the session cookie,
//! and answer `{"ok": ..., "message": ..., ...}`; docs/json.md lists every key.
#![expect(
    clippy::result_large_err,
    reason = "the error of a request's parsing is the Response to send, made once per request"
)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use pkgimport_core::Priority;
use pkgimport_queue::{Role, Timestamp};
use serde::Deserialize;

use crate::actions::{Act, package, perform, record};
use crate::auth::{self, Caller, Denied};
use crate::cache::{Form, Page, Rendered};
use crate::pages::cached;
use crate::{Error, State as AppState, layout};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/status", fixed(Page::Index))
        .route("/api/v1/packages/{name}", get(package_view))
        .route("/api/v1/failures", fixed(Page::Failures))
        .route("/api/v1/queue", fixed(Page::Queue))
        .route("/api/v1/runs", fixed(Page::Runs))
        .route("/api/v1/actions", fixed(Page::Actions))
        .route("/api/v1/packages/{name}/enqueue", post(enqueue))
        .route("/api/v1/packages/{name}/retry", post(retry))
        .route("/api/v1/packages/{name}/reset", post(reset))
        .route("/api/v1/retry", post(retry_signature))
        .route("/api/v1/pause", post(pause))
        .route("/api/v1/resume", post(resume))
        .route("/api/v1/tokens", get(tokens).post(add_token))
        .route("/api/v1/tokens/{name}", delete(revoke_token))
        .route("/metrics", get(metrics))
        .method_not_allowed_fallback(wrong_method)
}

/// 405, with the same JSON error body as every other refusal of the API.
async fn wrong_method() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "this route does not take that method",
    )
}

/// A JSON answer.
fn json(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    layout::security_headers(h);
    r
}

fn error(status: StatusCode, message: &str) -> Response {
    json(status, serde_json::json!({ "error": message }).to_string())
}

fn refused(d: Denied) -> Response {
    match d {
        Denied::Unauthenticated => {
            let mut r = error(StatusCode::UNAUTHORIZED, "a valid bearer token is needed");
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            r
        }
        Denied::Forbidden { need } => error(
            StatusCode::FORBIDDEN,
            &format!("this needs the {need} role"),
        ),
        Denied::Csrf => error(StatusCode::FORBIDDEN, "refused"),
    }
}

fn failed(e: &Error) -> Response {
    log::error!("request failed error={e}");
    let status = if e.is_transient() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    error(status, "internal error; see the service's log")
}

/// The caller of an API request, holding at least `need` (or anyone, for reading, when
/// reading is public).
async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    need: Option<Role>,
) -> Result<Option<Caller>, Response> {
    let caller = match auth::caller(state, headers, true).await {
        Ok(Ok(c)) => c,
        Ok(Err(d)) => return Err(refused(d)),
        Err(e) => return Err(failed(&e)),
    };
    match need {
        None if state.settings.public_read => Ok(caller),
        None => auth::require(caller.as_ref(), Role::Viewer)
            .map(|_| ())
            .map_err(refused)
            .map(|()| caller),
        Some(role) => auth::require(caller.as_ref(), role)
            .map(|_| ())
            .map_err(refused)
            .map(|()| caller),
    }
}

async fn view(state: AppState, headers: HeaderMap, page: Page) -> Response {
    if let Err(r) = caller(&state, &headers, None).await {
        return r;
    }
    match cached(&state, page, Form::Json).await {
        Ok(r) => match &*r {
            Rendered::Json(body) => json(StatusCode::OK, body.clone()),
            _ => error(
                StatusCode::NOT_FOUND,
                "the state database knows nothing of this package",
            ),
        },
        Err(e) => failed(&e),
    }
}

/// The route of a view that is always cached.
fn fixed(page: Page) -> MethodRouter<AppState> {
    get(|State(state): State<AppState>, headers: HeaderMap| view(state, headers, page))
}

async fn package_view(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    match package(&name) {
        Ok(name) => view(state, headers, Page::Package(name)).await,
        Err(why) => error(StatusCode::NOT_FOUND, &why),
    }
}

/// Runs an action for an API caller.
async fn act(state: AppState, headers: HeaderMap, act: Result<Act, Response>) -> Response {
    let need = act.as_ref().map_or(Role::Operator, Act::needs);
    let caller = match caller(&state, &headers, Some(need)).await {
        Ok(Some(c)) => c,
        Ok(None) => return refused(Denied::Unauthenticated),
        Err(r) => return r,
    };
    let act = match act {
        Ok(a) => a,
        Err(r) => return r,
    };
    match perform(&state, &caller.name, act).await {
        Ok(done) => {
            let mut body = match done.json {
                serde_json::Value::Object(m) => m,
                other => {
                    let mut m = serde_json::Map::new();
                    m.insert("result".into(), other);
                    m
                }
            };
            body.insert("ok".into(), done.ok.into());
            body.insert("message".into(), done.message.into());
            let status = if done.ok {
                StatusCode::OK
            } else {
                StatusCode::CONFLICT
            };
            json(status, serde_json::Value::Object(body).to_string())
        }
        Err(e) => failed(&e),
    }
}

fn named(name: &str) -> Result<pkgimport_core::PackageName, Response> {
    package(name).map_err(|why| error(StatusCode::NOT_FOUND, &why))
}

/// A JSON body, or `T`'s default for an empty one.
fn body<T: for<'de> Deserialize<'de> + Default>(bytes: &[u8]) -> Result<T, Response> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("bad JSON body: {e}")))
}

#[derive(Default, Deserialize)]
struct EnqueueBody {
    priority: Option<serde_json::Value>,
}

async fn enqueue(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let a = named(&name).and_then(|p| {
        let b: EnqueueBody = body(&bytes)?;
        let priority = match b.priority {
            None => Priority::MANUAL,
            Some(serde_json::Value::String(s)) => {
                Priority::parse(&s).map_err(|e| error(StatusCode::BAD_REQUEST, &e))?
            }
            Some(serde_json::Value::Number(n)) => {
                Priority::parse(&n.to_string()).map_err(|e| error(StatusCode::BAD_REQUEST, &e))?
            }
            Some(_) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "priority: a name or a number",
                ));
            }
        };
        Ok(Act::Enqueue(p, priority))
    });
    act(state, headers, a).await
}

async fn retry(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    _bytes: Bytes,
) -> Response {
    act(state, headers, named(&name).map(Act::Retry)).await
}

async fn reset(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    _bytes: Bytes,
) -> Response {
    act(state, headers, named(&name).map(Act::AdoptRemote)).await
}

#[derive(Default, Deserialize)]
struct RetryBody {
    signature: Option<String>,
}

async fn retry_signature(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let a = body::<RetryBody>(&bytes).and_then(|b| match b.signature {
        Some(s) if !s.is_empty() => Ok(Act::RetrySignature(s)),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            "body: {\"signature\": \"...\"}",
        )),
    });
    act(state, headers, a).await
}

async fn pause(State(state): State<AppState>, headers: HeaderMap, _bytes: Bytes) -> Response {
    act(state, headers, Ok(Act::Pause)).await
}

async fn resume(State(state): State<AppState>, headers: HeaderMap, _bytes: Bytes) -> Response {
    act(state, headers, Ok(Act::Resume)).await
}

async fn tokens(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = caller(&state, &headers, Some(Role::Admin)).await {
        return r;
    }
    match state.db.run(|s| s.tokens()).await {
        Ok(Ok(t)) => json(
            StatusCode::OK,
            serde_json::to_string_pretty(&t).unwrap_or_default(),
        ),
        Ok(Err(e)) => failed(&Error::from(e)),
        Err(e) => failed(&e),
    }
}

#[derive(Default, Deserialize)]
struct TokenBody {
    name: Option<String>,
    role: Option<String>,
}

async fn add_token(State(state): State<AppState>, headers: HeaderMap, bytes: Bytes) -> Response {
    let admin = match caller(&state, &headers, Some(Role::Admin)).await {
        Ok(Some(c)) => c,
        Ok(None) => return refused(Denied::Unauthenticated),
        Err(r) => return r,
    };
    let b: TokenBody = match body(&bytes) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let name = b.name.unwrap_or_default();
    if let Err(why) = auth::check_token_name(&name) {
        return error(StatusCode::BAD_REQUEST, &why);
    }
    let Some(role) = b.role.as_deref().and_then(Role::parse) else {
        return error(StatusCode::BAD_REQUEST, "role: viewer, operator or admin");
    };
    let token = auth::generate_token();
    let hash = auth::hash_secret(&token);
    let n = name.clone();
    let added = match state.db.run(move |s| s.add_token(&n, role, &hash)).await {
        Ok(r) => r,
        Err(e) => return failed(&e),
    };
    let (ok, message) = match &added {
        Ok(()) => (true, format!("token {name} added with role {role}")),
        Err(e) => (false, e.to_string()),
    };
    if let Err(e) = record(&state, &admin.name, "token-add", &name, ok, &message).await {
        return failed(&e);
    }
    if !ok {
        return error(StatusCode::CONFLICT, &message);
    }
    json(
        StatusCode::CREATED,
        serde_json::json!({ "ok": true, "name": name, "role": role, "token": token, "message": message })
            .to_string(),
    )
}

async fn revoke_token(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let admin = match caller(&state, &headers, Some(Role::Admin)).await {
        Ok(Some(c)) => c,
        Ok(None) => return refused(Denied::Unauthenticated),
        Err(r) => return r,
    };
    let n = name.clone();
    let revoked = match state.db.run(move |s| s.revoke_token(&n)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return failed(&Error::from(e)),
        Err(e) => return failed(&e),
    };
    let message = if revoked {
        format!("token {name} revoked")
    } else {
        format!("no token {name}")
    };
    if let Err(e) = record(
        &state,
        &admin.name,
        "token-revoke",
        &name,
        revoked,
        &message,
    )
    .await
    {
        return failed(&e);
    }
    let status = if revoked {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    json(
        status,
        serde_json::json!({ "ok": revoked, "revoked": revoked, "message": message }).to_string(),
    )
}

/// `importctl metrics`' exposition, then the service's own.
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = caller(&state, &headers, None).await {
        return r;
    }
    let importer = state
        .db
        .run(|s| pkgimport_report::metrics::render(s, Timestamp::now()))
        .await;
    let mut text = match importer {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => return failed(&Error::from(e)),
        Err(e) => return failed(&e),
    };
    text.push_str(&state.metrics.render(state.load.in_flight()));
    let mut r = text.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}
