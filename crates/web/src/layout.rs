//! The HTML around each page, per request: the head, the navigation with the reader's login
//! state, and the cached body with its forms filled in for the reader (their CSRF field) or
//! cut out (a reader who may not use them). The markers are `pkgimport_report::site`'s.
//!
//! The style sheet is served from `/style.css`, so the Content-Security-Policy can forbid
//! every inline thing: `default-src 'none'; style-src 'self'; form-action 'self';
//! frame-ancestors 'none'; base-uri 'none'`. No page has a script.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use pkgimport_queue::Role;
use pkgimport_report::site::{ADMIN_END, ADMIN_ONLY, CSRF_FIELD, OPERATOR_END, OPERATOR_ONLY};

use crate::auth::Caller;

/// The policy of every HTML page.
pub(crate) const CSP: &str = "default-src 'none'; style-src 'self'; form-action 'self'; \
                              frame-ancestors 'none'; base-uri 'none'";

/// A whole page: `body` is rendered HTML (cached, escaped already), fitted to `caller`.
pub(crate) fn page(title: &str, body: &str, caller: Option<&Caller>) -> String {
    let role = caller.map(|c| c.role);
    let csrf = caller.and_then(Caller::csrf);
    let body = fit(body, role, csrf.as_deref());
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href="/style.css";
            }
            body {
                (navigation(caller, csrf.as_deref()))
                (PreEscaped(body))
            }
        }
    }
    .into_string()
}

fn navigation(caller: Option<&Caller>, csrf: Option<&str>) -> Markup {
    html! {
        nav.site {
            a href="/" { "Status" }
            a href="/queue" { "Queue" }
            a href="/failures" { "Failures" }
            a href="/runs" { "Runs" }
            a href="/actions" { "Actions" }
            @match (caller, csrf) {
                (Some(c), Some(csrf)) => {
                    span.muted { "Signed in as " (c.name) " (" (c.role) ") " }
                    form.inline method="post" action="/logout" {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { "Log out" }
                    }
                }
                _ => a href="/login" { "Log in" },
            }
        }
    }
}

/// Fills in or cuts out the forms of `body` for a reader with `role`.
pub(crate) fn fit(body: &str, role: Option<Role>, csrf: Option<&str>) -> String {
    let operator = role.is_some_and(|r| r >= Role::Operator) && csrf.is_some();
    let admin = role == Some(Role::Admin) && csrf.is_some();
    let mut out = body.to_owned();
    if !admin {
        out = cut(&out, ADMIN_ONLY, ADMIN_END);
    }
    if !operator {
        out = cut(&out, OPERATOR_ONLY, OPERATOR_END);
    }
    if let Some(csrf) = csrf.filter(|_| operator) {
        // The CSRF token is hex: nothing in it needs escaping.
        out = out.replace(
            CSRF_FIELD,
            &format!("<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">"),
        );
    }
    out
}

/// `text` without every span from `start` to `end`, both included.
fn cut(text: &str, start: &str, end: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(start) {
        out.push_str(&rest[..at]);
        match rest[at..].find(end) {
            Some(len) => rest = &rest[at + len + end.len()..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// An HTML response with the service's security headers.
pub(crate) fn html_response(status: StatusCode, html: String) -> Response {
    let mut r = (status, html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    security_headers(h);
    // Pages differ by reader (their forms), so no shared cache may keep them.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The headers every response of ours carries.
pub(crate) fn security_headers(h: &mut axum::http::HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// A short page that says what went wrong.
pub(crate) fn message(
    status: StatusCode,
    title: &str,
    text: &str,
    caller: Option<&Caller>,
) -> Response {
    let body = html! {
        h1 { (title) }
        p { (text) }
    }
    .into_string();
    html_response(status, page(title, &body, caller))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_cut_or_filled_per_reader() {
        let body = format!(
            "a{OPERATOR_ONLY}<form>{CSRF_FIELD}op</form>{OPERATOR_END}b{ADMIN_ONLY}<form>{CSRF_FIELD}ad</form>{ADMIN_END}c"
        );
        assert_eq!(fit(&body, None, None), "abc");
        assert_eq!(fit(&body, Some(Role::Viewer), Some("f00")), "abc");
        let op = fit(&body, Some(Role::Operator), Some("f00"));
        assert!(
            op.contains("value=\"f00\">op") && !op.contains("ad<"),
            "{op}"
        );
        let admin = fit(&body, Some(Role::Admin), Some("f00"));
        assert!(admin.contains(">op") && admin.contains(">ad"), "{admin}");
        // A bearer caller (no session, no CSRF token) gets no forms.
        assert_eq!(fit(&body, Some(Role::Admin), None), "abc");
    }
}
