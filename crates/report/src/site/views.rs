//! The pages of importer-web: the index and a package's page as the static site shows them
//! (without the table of every package), and the pages the static site does not have:
//! failures grouped by signature, the whole queue, recent runs, and the audit log of
//! actions. Each is read from the [`Store`] and rendered to a [`WebPage`]: a title and the
//! inside of `<body>`, escaped already; importer-web adds its own layout around it.
//!
//! The pages are rendered once for every reader and cached, but the forms of the actions are
//! for operators only and carry the reader's own CSRF token. So each form is rendered
//! between the markers [`OPERATOR_ONLY`] and [`OPERATOR_END`] (or the admin ones), with
//! [`CSRF_FIELD`] where its hidden CSRF field goes; importer-web fills in the field or cuts
//! the form out, per request. The markers are HTML comments, which no escaped text can
//! contain (escaping turns `<` into `&lt;`), so only our own markup can carry them.

use std::collections::BTreeSet;

use maud::{Markup, PreEscaped, html};
use pkgimport_core::PackageName;
use pkgimport_queue::{ActionRecord, FailureRecord, QueuedJob, Store, Timestamp};

use super::collect::{read_index, read_package};
use super::pages::{ago, package_link, priority, runs_table};
use super::{Error, Links, ReportOptions};

/// One page of importer-web: its title and the inside of its `<body>`.
#[derive(Clone, Debug)]
pub struct WebPage {
    pub title: String,
    pub body: Markup,
}

/// The index: summary, freshness by series, breaker, queue, running, failures, recent runs.
pub fn index_page(store: &mut Store, options: &ReportOptions) -> Result<WebPage, Error> {
    let ix = read_index(store, options, None, BTreeSet::new())?;
    Ok(WebPage {
        title: "package-importer status".to_owned(),
        body: super::pages::index_body(&ix, options, Links::Web),
    })
}

/// A package's page; `None` when the state database knows nothing of the package.
pub fn package_page(
    store: &mut Store,
    options: &ReportOptions,
    name: &PackageName,
) -> Result<Option<WebPage>, Error> {
    Ok(read_package(store, options, name)?.map(|page| WebPage {
        title: format!("{} — package-importer", name.as_str()),
        body: super::pages::package_body(&page, options.now, Links::Web),
    }))
}

/// Every un-retried failure, grouped by signature, biggest group first.
pub fn failures_page(store: &mut Store, options: &ReportOptions) -> Result<WebPage, Error> {
    let failures: Vec<FailureRecord> = store
        .failures()?
        .into_iter()
        .filter(|f| !f.retrying)
        .collect();
    let groups = store.failure_groups(0)?;
    let now = options.now;
    let none = BTreeSet::new();
    let body = html! {
        (header("Failures by signature", now))
        @if groups.is_empty() {
            p.muted { "No failures." }
        }
        @for (i, g) in groups.iter().enumerate() {
            h2 id={ "signature-" (i) } { code { (g.signature) } }
            p {
                (g.count) " packages, " (if g.transient { "transient" } else { "permanent" })
                "; last seen " (ago(g.last_seen, now))
                @if g.needs_attention > 0 { "; " span.badge.bad { (g.needs_attention) " need attention" } }
                "."
            }
            (operator_form("/failures/retry", "Retry these packages", &[("signature", &g.signature)]))
            table {
                tr { th { "Package" } th { "Attempts" } th { "In a row" } th { "Last seen" } }
                @for f in failures.iter().filter(|f| f.signature == g.signature) {
                    tr {
                        td { (package_link(&f.package, Links::Web, &none)) }
                        td { (f.attempts) }
                        td { (f.consecutive) }
                        td { (ago(f.last_seen, now)) }
                    }
                }
            }
        }
    };
    Ok(WebPage {
        title: "Failures — package-importer".to_owned(),
        body,
    })
}

/// Starts markup that only an operator (or an admin) sees.
pub const OPERATOR_ONLY: &str = "<!--operator-->";
/// Ends what [`OPERATOR_ONLY`] started.
pub const OPERATOR_END: &str = "<!--/operator-->";
/// Starts markup that only an admin sees.
pub const ADMIN_ONLY: &str = "<!--admin-->";
/// Ends what [`ADMIN_ONLY`] started.
pub const ADMIN_END: &str = "<!--/admin-->";
/// Where the reader's hidden CSRF field goes in each form.
pub const CSRF_FIELD: &str = "<!--csrf-->";

/// A form that POSTs `fields` to `action`, with one button, for operators.
pub(crate) fn operator_form(action: &str, button: &str, fields: &[(&str, &str)]) -> Markup {
    guarded(OPERATOR_ONLY, OPERATOR_END, form(action, button, fields))
}

/// A form that POSTs `fields` to `action`, with one button, for admins.
pub(crate) fn admin_form(action: &str, button: &str, fields: &[(&str, &str)]) -> Markup {
    guarded(ADMIN_ONLY, ADMIN_END, form(action, button, fields))
}

fn form(action: &str, button: &str, fields: &[(&str, &str)]) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (PreEscaped(CSRF_FIELD))
            @for (name, value) in fields {
                input type="hidden" name=(name) value=(value);
            }
            button type="submit" { (button) }
        }
    }
}

fn guarded(start: &'static str, end: &'static str, inner: Markup) -> Markup {
    html! { (PreEscaped(start)) (inner) (PreEscaped(end)) }
}

/// Jobs the queue page lists at most: it is re-rendered on every change to the queue, and
/// an initial import queues every package.
const QUEUE_PAGE_ROWS: u64 = 500;

/// The queue, in claim order, running jobs first: the first [`QUEUE_PAGE_ROWS`] of it.
pub fn queue_page(store: &mut Store, options: &ReportOptions) -> Result<WebPage, Error> {
    let jobs = store.queue(Some(QUEUE_PAGE_ROWS))?;
    let total = {
        let st = store.status()?;
        st.queued + st.running
    };
    let paused = store.is_paused()?;
    let now = options.now;
    let body = html! {
        (header("Queue", now))
        @if paused { p { span.badge.warn { "PAUSED" } " Running imports finish; nothing new is claimed." } }
        (pause_forms(paused))
        p {
            (total) " jobs."
            @if (jobs.len() as u64) < total {
                " The first " (jobs.len()) " are shown; " a href="/api/v1/queue" { "/api/v1/queue" } " has them all."
            }
        }
        (jobs_table(&jobs, now))
    };
    Ok(WebPage {
        title: "Queue — package-importer".to_owned(),
        body,
    })
}

/// Pause or resume, for operators.
pub(crate) fn pause_forms(paused: bool) -> Markup {
    if paused {
        operator_form("/resume", "Resume claiming", &[])
    } else {
        operator_form("/pause", "Pause claiming", &[])
    }
}

fn jobs_table(jobs: &[QueuedJob], now: Timestamp) -> Markup {
    let none = BTreeSet::new();
    html! {
        @if !jobs.is_empty() {
            table id="jobs" {
                tr { th { "Package" } th { "State" } th { "Priority" } th { "Enqueued" } th { "Not before" } th { "Attempts" } th { "Blocked" } }
                @for j in jobs {
                    tr {
                        td { (package_link(j.package.as_str(), Links::Web, &none)) }
                        td { (j.state) }
                        td { (priority(j.priority)) }
                        td { (ago(j.enqueued_at, now)) }
                        td { @if let Some(t) = j.not_before { (t) } }
                        td { (j.attempts) }
                        td { @if j.blocked { span.badge.bad { "blocked" } } }
                    }
                }
            }
        }
    }
}

/// The newest runs.
pub fn runs_page(store: &mut Store, options: &ReportOptions) -> Result<WebPage, Error> {
    let runs = store.runs(None, options.recent_runs)?;
    let now = options.now;
    let none = BTreeSet::new();
    let body = html! {
        (header("Recent runs", now))
        @if runs.is_empty() { p.muted { "No runs yet." } }
        @else { (runs_table(&runs, now, Some(&none), Links::Web)) }
    };
    Ok(WebPage {
        title: "Runs — package-importer".to_owned(),
        body,
    })
}

/// The audit log of actions taken through importer-web, newest first.
pub fn actions_page(store: &mut Store, options: &ReportOptions) -> Result<WebPage, Error> {
    let actions = store.actions(options.recent_runs.max(100))?;
    let body = html! {
        (header("Audit log of actions", options.now))
        (actions_table(&actions, options.now))
    };
    Ok(WebPage {
        title: "Actions — package-importer".to_owned(),
        body,
    })
}

fn actions_table(actions: &[ActionRecord], now: Timestamp) -> Markup {
    let none = BTreeSet::new();
    html! {
        @if actions.is_empty() {
            p.muted { "No actions yet." }
        } @else {
            table id="actions" {
                tr { th { "When" } th { "Who" } th { "Action" } th { "Target" } th { "Result" } }
                @for a in actions {
                    tr {
                        td.nowrap { (a.at) " (" (ago(a.at, now)) ")" }
                        td { (a.who) }
                        td { (a.action) }
                        td { (package_link(&a.target, Links::Web, &none)) }
                        td {
                            span class={ "badge " (if a.ok { "ok" } else { "bad" }) } { (if a.ok { "ok" } else { "failed" }) }
                            " " (a.result)
                        }
                    }
                }
            }
        }
    }
}

fn header(title: &str, now: Timestamp) -> Markup {
    html! {
        h1 { (title) }
        p.muted { "Rendered " (now) "." }
    }
}
