//! The HTML routes: the cached pages (`/`, `/packages/<name>`, `/failures`, `/queue`,
//! `/runs`, `/actions`), the style sheet, and logging in and out.
//!
//! A cached page is served as it is, wrapped for the reader by `layout`; a package page that
//! is not cached yet is rendered by the request, on a database thread (see `cache` for why
//! that cannot put a stale page in the cache).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use maud::html;
use serde::Deserialize;

use crate::actions::{denied, internal, package, see_other};
use crate::auth::{self, Caller, Denied, LOGIN_COOKIE, SESSION_COOKIE};
use crate::cache::{Form, Page, Rendered};
use crate::{State as AppState, layout, writer};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", fixed(Page::Index))
        .route("/packages", get(lookup))
        .route("/packages/{name}", get(package_page))
        .route("/failures", fixed(Page::Failures))
        .route("/queue", fixed(Page::Queue))
        .route("/runs", fixed(Page::Runs))
        .route("/actions", fixed(Page::Actions))
        .route("/style.css", get(style))
        .route("/login", get(login_form).post(login))
        .route("/logout", axum::routing::post(logout))
}

/// Who reads, if reading needs a token; `Err` is the answer to give instead.
async fn reader(state: &AppState, headers: &HeaderMap) -> Result<Option<Caller>, Response> {
    let caller = match auth::caller(state, headers, false).await {
        Ok(Ok(c)) => c,
        Ok(Err(d)) => return Err(denied(d, None)),
        Err(e) => return Err(internal(&e)),
    };
    if !state.settings.public_read && caller.is_none() {
        return Err(denied(Denied::Unauthenticated, None));
    }
    Ok(caller)
}

/// Serves `page` from the cache, rendering it first if it is a package page not cached yet.
pub(crate) async fn cached(
    state: &AppState,
    page: Page,
    form: Form,
) -> Result<std::sync::Arc<Rendered>, crate::Error> {
    if let Some(r) = state.cache.get(&page, form) {
        return Ok(r);
    }
    let generation = state.cache.generation();
    let rendered = writer::render_async(state, page.clone(), form).await?;
    state
        .cache
        .put_if_fresh(page, form, rendered.clone(), generation);
    Ok(std::sync::Arc::new(rendered))
}

async fn serve(state: AppState, headers: HeaderMap, page: Page) -> Response {
    let caller = match reader(&state, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match cached(&state, page, Form::Html).await {
        Ok(r) => match &*r {
            Rendered::Html { title, body } => {
                layout::html_response(StatusCode::OK, layout::page(title, body, caller.as_ref()))
            }
            _ => layout::message(
                StatusCode::NOT_FOUND,
                "Not found",
                "The state database knows nothing of this package.",
                caller.as_ref(),
            ),
        },
        Err(e) => internal(&e),
    }
}

/// The route of a page that is always cached.
fn fixed(page: Page) -> MethodRouter<AppState> {
    get(|State(state): State<AppState>, headers: HeaderMap| serve(state, headers, page))
}

async fn package_page(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    match package(&name) {
        Ok(name) => serve(state, headers, Page::Package(name)).await,
        Err(why) => layout::message(StatusCode::NOT_FOUND, "Not found", &why, None),
    }
}

#[derive(Deserialize)]
struct Lookup {
    name: Option<String>,
}

/// The index's "Package" box: a redirect to the page of a valid name.
async fn lookup(Query(q): Query<Lookup>) -> Response {
    match q.name.as_deref().map(str::trim).map(package) {
        Some(Ok(name)) => see_other(&format!("/packages/{name}")),
        Some(Err(why)) => layout::message(StatusCode::NOT_FOUND, "Not found", &why, None),
        None => see_other("/"),
    }
}

async fn style() -> Response {
    let mut r = pkgimport_report::site::CSS.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=3600"),
    );
    layout::security_headers(h);
    r
}

/// Anything else: 404.
pub(crate) async fn not_found() -> Response {
    layout::message(StatusCode::NOT_FOUND, "Not found", "No such page.", None)
}

async fn login_form(State(state): State<AppState>) -> Response {
    let nonce = auth::random_hex();
    let body = html! {
        h1 { "Log in" }
        p { "Paste a token that " code { "importctl token add" } " printed. The browser keeps a session cookie; the token itself is not stored." }
        form method="post" action="/login" {
            input type="hidden" name="nonce" value=(nonce);
            label for="token" { "Token " }
            input id="token" type="password" name="token" autocomplete="off" required;
            " " button type="submit" { "Log in" }
        }
    }
    .into_string();
    let mut r = layout::html_response(StatusCode::OK, layout::page("Log in", &body, None));
    set_cookie(
        &mut r,
        &cookie(
            LOGIN_COOKIE,
            &nonce,
            "/login",
            600,
            state.settings.secure_cookie,
        ),
    );
    r
}

#[derive(Deserialize)]
struct LoginFields {
    token: Option<String>,
    nonce: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(fields): axum::Form<LoginFields>,
) -> Response {
    let expected = auth::cookie(&headers, LOGIN_COOKIE);
    let nonce_ok = matches!((expected, fields.nonce.as_deref()), (Some(a), Some(b)) if auth::same_secret(a, b));
    if !nonce_ok {
        return denied(Denied::Csrf, None);
    }
    let Some(token) = fields.token.filter(|t| !t.trim().is_empty()) else {
        return denied(Denied::Unauthenticated, None);
    };
    let hash = auth::hash_secret(token.trim());
    let found = match state.db.run(move |s| s.token_by_hash(&hash)).await {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => return internal(&crate::Error::from(e)),
        Err(e) => return internal(&e),
    };
    let Some(token) = found else {
        log::info!("login refused: unknown token");
        return layout::message(
            StatusCode::UNAUTHORIZED,
            "Log in failed",
            "That token is not known (revoked, or mistyped).",
            None,
        );
    };
    let session = auth::random_hex();
    let hash = auth::hash_secret(&session);
    let ttl = state.settings.session_ttl;
    let expires = pkgimport_queue::Timestamp::now().plus(ttl);
    let name = token.name.clone();
    match state
        .db
        .run(move |s| s.open_session(&hash, &name, expires))
        .await
    {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return internal(&crate::Error::from(e)),
        Err(e) => return internal(&e),
    }
    log::info!("login who={} role={}", token.name, token.role);
    let mut r = see_other("/");
    let secure = state.settings.secure_cookie;
    set_cookie(
        &mut r,
        &cookie(SESSION_COOKIE, &session, "/", ttl.as_secs(), secure),
    );
    set_cookie(&mut r, &cookie(LOGIN_COOKIE, "", "/login", 0, secure));
    r
}

#[derive(Deserialize)]
struct LogoutFields {
    csrf: Option<String>,
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(fields): axum::Form<LogoutFields>,
) -> Response {
    let caller = match auth::caller(&state, &headers, false).await {
        Ok(Ok(Some(c))) => c,
        Ok(Ok(None)) => return see_other("/"),
        Ok(Err(d)) => return denied(d, None),
        Err(e) => return internal(&e),
    };
    if let Err(d) = auth::check_csrf(&caller, fields.csrf.as_deref()) {
        return denied(d, Some(&caller));
    }
    if let auth::Via::Session { id } = &caller.via {
        let hash = auth::hash_secret(id);
        if let Err(e) = state.db.run(move |s| s.close_session(&hash)).await {
            return internal(&e);
        }
    }
    let mut r = see_other("/");
    set_cookie(
        &mut r,
        &cookie(SESSION_COOKIE, "", "/", 0, state.settings.secure_cookie),
    );
    r
}

fn cookie(name: &str, value: &str, path: &str, max_age: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

fn set_cookie(r: &mut Response, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}
