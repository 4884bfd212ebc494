//! The HTML of the index and of a package page, as `maud` templates, and the helpers that
//! the other pages (`views`) share with them.
//!
//! Every `(value)` splice is escaped by `maud`, in text and in attributes alike; the only
//! `PreEscaped` is our own constant style sheet. Pages carry no script. The static site's
//! links are relative (`packages/<name>.html` from the index, `../index.html` back) and each
//! page carries a Content-Security-Policy that forbids scripts and every load, so that even a
//! mistake here could not run code from a package; importer-web's links are absolute paths
//! ([`Links`]) and its policy comes in a header. `<details>` gives collapsible log tails
//! without JavaScript.

use std::collections::BTreeSet;
use std::time::Duration;

use maud::{DOCTYPE, Markup, PreEscaped, html};
use pkgimport_audit::Phase;
use pkgimport_core::breaker::BreakerState;
use pkgimport_core::{PackageName, Priority};
use pkgimport_queue::{Outcome, QueuedJob, RunRecord, Timestamp};

use super::collect::{Index, PackagePage};
use super::freshness::Freshness;
use super::logtail::LogTail;
use super::views::{admin_form, operator_form, pause_forms};
use super::{Links, ReportOptions};
use crate::series::SeriesReport;

/// The style sheet of every page: inline in the static site, `/style.css` in importer-web.
pub const CSS: &str = "\
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:90em}\
table{border-collapse:collapse;margin:.5em 0 1.5em}\
th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}\
th{background:#f0f0f0}\
pre{background:#f7f7f7;border:1px solid #ddd;padding:.5em;white-space:pre-wrap;overflow-wrap:anywhere}\
code{overflow-wrap:anywhere}\
.badge{font-weight:bold;padding:0 .3em;border-radius:3px;white-space:nowrap}\
.ok{background:#d4f4d4;color:#064}\
.bad{background:#fbd5d5;color:#900}\
.warn{background:#fff3c4;color:#750}\
.unknown{background:#eee;color:#555}\
.muted{color:#666}\
.nowrap{white-space:nowrap}\
nav a{margin-right:1em}\
form.inline{display:inline;margin:0 .5em 0 0}\
.actions{background:#f7f7f7;border:1px solid #ddd;padding:.5em;margin:.5em 0 1.5em}";

/// No scripts, no loads of any kind: only our inline style sheet.
const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(CSP);
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body { (body) }
        }
    }
}

/// The index page of the static site.
pub(crate) fn index(ix: &Index, options: &ReportOptions) -> Markup {
    layout(
        "package-importer status",
        index_body(ix, options, Links::Static),
    )
}

/// The page of one package, in the static site.
pub(crate) fn package(p: &PackagePage, now: Timestamp) -> Markup {
    layout(
        &format!("{} — package-importer", p.name.as_str()),
        package_body(p, now, Links::Static),
    )
}

/// What the index shows, inside `<body>`.
pub(crate) fn index_body(ix: &Index, options: &ReportOptions, links: Links) -> Markup {
    let now = options.now;
    let st = &ix.status;
    let running: Vec<&QueuedJob> = ix.queue.iter().filter(|j| j.state == "running").collect();
    let queued: Vec<&QueuedJob> = ix
        .queue
        .iter()
        .filter(|j| j.state != "running")
        .take(options.queue_shown)
        .collect();
    html! {
        h1 { "package-importer status" }
        p.muted { "Generated " (now) "." }
        @if links == Links::Web {
            form method="get" action="/packages" {
                label for="package-name" { "Package " }
                input id="package-name" type="text" name="name" required;
                " " button type="submit" { "Show" }
            }
            (pause_forms(st.paused))
        }
        nav {
            a href="#summary" { "Summary" }
            a href="#series" { "Freshness" }
            a href="#breaker" { "Breaker" }
            a href="#queue" { "Queue" }
            a href="#running" { "Running" }
            a href="#failures" { "Failures" }
            a href="#attention" { "Needs attention" }
            a href="#patches" { "Patch warnings" }
            a href="#recent" { "Recent imports" }
            @if ix.packages.is_some() { a href="#packages" { "Packages" } }
        }

        h2 id="summary" { "Summary" }
        table {
            tr { th { "Queued" } td id="summary-queued" { (st.queued) } }
            tr { th { "Running" } td id="summary-running" { (st.running) } }
            tr { th { "Failed" } td id="summary-failed" { (st.failed) } }
            tr { th { "Needs attention" } td id="summary-needs-attention" { (st.needs_attention) } }
            tr { th { "Paused" } td id="summary-paused" {
                @if st.paused { span.badge.warn { "PAUSED" } } @else { "no" }
            } }
            tr { th { "Delayed" } td id="summary-delayed" { (st.delayed) } }
            tr { th { "Blocked by a failure" } td id="summary-blocked" { (st.blocked) } }
            tr { th { "Oldest queued" } td id="summary-oldest" {
                @match st.oldest_queued_age_s {
                    Some(s) => (short_duration(Duration::from_secs(s))),
                    None => span.muted { "nothing queued" },
                }
            } }
            tr { th { "Driver heartbeat" } td id="summary-driver" {
                @match &st.driver {
                    Some(d) => {
                        (ago(d.last_seen, now)) " "
                        span.muted { "(" (d.host) " pid " (d.pid) ", started " (d.started_at) ")" }
                    }
                    None => span.badge.bad { "no driver has ever run" },
                }
            } }
        }

        h2 id="series" { "Freshness by series" }
        (series_table(&ix.series, now))

        h2 id="breaker" { "Circuit breaker" }
        @let b = &ix.breaker;
        table {
            tr { th { "State" } td id="breaker-state" {
                span class={ "badge " (breaker_class(b.state)) } { (b.state.as_str()) }
            } }
            @if let Some(opened) = b.opened_at.filter(|_| b.state != BreakerState::Closed) {
                tr { th { "Since" } td { (Timestamp(opened)) " (" (ago(Timestamp(opened), now)) ")" } }
                tr { th { "Open for" } td { (short_duration(Duration::from_millis(b.open_ms.max(0) as u64))) } }
            }
            tr { th { "Consecutive opens" } td { (b.consecutive_opens) } }
            @if let Some((holder, _)) = &b.probe {
                tr { th { "Probe held by" } td { (holder) } }
            }
        }

        h2 id="queue" { "Queue" }
        p {
            "Depth " strong id="queue-depth" { (st.queued) }
            @if let Some(s) = st.oldest_queued_age_s {
                ", oldest queued " (short_duration(Duration::from_secs(s))) " ago"
            }
            "."
            @if queued.len() < (st.queued as usize) {
                " " span.muted { "The first " (queued.len()) " in claim order:" }
            }
        }
        @if !queued.is_empty() {
            table {
                tr { th { "Package" } th { "Priority" } th { "Enqueued" } th { "Not before" } th { "Attempts" } th { "Blocked" } }
                @for j in &queued {
                    tr {
                        td { (package_link(j.package.as_str(), links, &ix.pages)) }
                        td { (priority(j.priority)) }
                        td { (ago(j.enqueued_at, now)) }
                        td { @if let Some(t) = j.not_before { (t) } }
                        td { (j.attempts) }
                        td { @if j.blocked { span.badge.bad { "blocked" } } }
                    }
                }
            }
        }

        h2 id="running" { "Running" }
        @if running.is_empty() {
            p.muted { "Nothing is running." }
        } @else {
            table {
                tr { th { "Package" } th { "Priority" } th { "Started" } th { "Attempt" } }
                @for j in &running {
                    @let open = ix.recent.iter().find(|r| r.package == j.package.as_str() && r.ended_at.is_none());
                    tr {
                        td { (package_link(j.package.as_str(), links, &ix.pages)) }
                        td { (priority(j.priority)) }
                        td { @if let Some(r) = open { (ago(r.started_at, now)) } }
                        td { (j.attempts) }
                    }
                }
            }
        }

        h2 id="failures" { "Failures by signature" }
        @if ix.groups.is_empty() {
            p.muted { "No failures." }
        } @else {
            table {
                tr { th { "Signature" } th { "Kind" } th { "Packages" } th { "Needs attention" } th { "Last seen" } th { "Examples" } }
                @for g in &ix.groups {
                    tr {
                        td { code { (g.signature) } }
                        td { (if g.transient { "transient" } else { "permanent" }) }
                        td { (g.count) }
                        td { (g.needs_attention) }
                        td { (ago(g.last_seen, now)) }
                        td {
                            @for (i, p) in g.examples.iter().enumerate() {
                                @if i > 0 { ", " }
                                (package_link(p, links, &ix.pages))
                            }
                            @if (g.examples.len() as u64) < g.count { " …" }
                        }
                    }
                }
            }
        }

        h2 id="attention" { "Needs attention" }
        @if ix.attention.is_empty() {
            p.muted { "Nothing needs a human." }
        } @else {
            p { "retry-failures gave up on these: the same failure repeated too often." }
            table {
                tr { th { "Package" } th { "Signature" } th { "Attempts" } th { "In a row" } th { "Last seen" } }
                @for f in &ix.attention {
                    tr {
                        td { (package_link(&f.package, links, &ix.pages)) }
                        td { code { (f.signature) } }
                        td { (f.attempts) }
                        td { (f.consecutive) }
                        td { (ago(f.last_seen, now)) }
                    }
                }
            }
        }

        h2 id="patches" { "Patch warnings" }
        @let (warnings, total) = &ix.patch_warnings;
        @if warnings.is_empty() {
            p.muted { "Every imported quilt series applies." }
        } @else {
            p { (total) " imported versions have quilt patches that do not apply; they have no patches-applied branches or tags." }
            table id="patch-warnings" {
                tr { th { "Package" } th { "Version" } th { "Patch" } th { "Error" } }
                @for w in warnings {
                    tr {
                        td { (package_link(&w.package, links, &ix.pages)) }
                        td { (w.version) }
                        td { code { (w.patch) } }
                        td { (w.message) }
                    }
                }
            }
            @if (warnings.len() as u64) < *total { p.muted { "…and " (*total - warnings.len() as u64) " more." } }
        }

        h2 id="recent" { "Recent imports" }
        @if ix.recent.is_empty() {
            p.muted { "No runs yet." }
        } @else {
            (runs_table(&ix.recent, now, Some(&ix.pages), links))
        }

        @if let Some(packages) = &ix.packages {
        h2 id="packages" { "Packages" }
        p { (packages.len()) " packages, "
            (packages.iter().filter(|p| p.freshness == Freshness::OutOfDate).count()) " out of date." }
        table {
            tr { th { "Package" } th { "Status" } th { "Imported" } th { "Seen" } th { "Branches" } th { "Job" } th { "Failure" } }
            @for p in packages {
                tr {
                    td { (package_link(p.name.as_str(), links, &ix.pages)) }
                    td { (freshness_badge(p.freshness)) }
                    td { @if let Some(v) = &p.imported_version { (v) } }
                    td { @if let Some(v) = &p.seen_version { (v) } }
                    td { (p.branches) }
                    td { @if let Some(j) = &p.job { (j) } }
                    td { @if let Some(s) = &p.failure { code { (s) } } }
                }
            }
        }
        }

        @if !ix.counters.is_empty() {
            h2 id="counters" { "Counters" }
            table {
                @for (name, value) in &ix.counters {
                    tr { th { (name) } td { (value) } }
                }
            }
        }
    }
}

/// What a package's page shows, inside `<body>`.
pub(crate) fn package_body(p: &PackagePage, now: Timestamp, links: Links) -> Markup {
    let name = p.name.as_str();
    html! {
        nav { a href=(links.index_from_package()) { "← status" } }
        h1 { (name) }
        @if links == Links::Web {
            div.actions {
                (operator_form(&format!("/packages/{name}/enqueue"), "Import next (priority manual)", &[]))
                @if p.failure.as_ref().is_some_and(|f| !f.retrying) {
                    (operator_form(&format!("/packages/{name}/retry"), "Retry", &[]))
                }
                (admin_form(&format!("/packages/{name}/reset"), "Reset: the audit adopts the remote's refs", &[]))
            }
        }
        p { (freshness_badge(p.freshness)) " " span.muted { (freshness_text(p.freshness)) } }
        table {
            tr { th { "Newest seen by the poller" } td id="seen" {
                @match &p.seen {
                    Some(s) => {
                        (s.version) " in " (s.distro) "/" (s.series) " (" (s.pocket) "), created " (s.date_created)
                        span.muted { "; seen " (ago(s.seen_at, now)) }
                    }
                    None => span.muted { "none recorded" },
                }
            } }
            tr { th { "Newest imported" } td id="imported" {
                @match &p.newest_imported {
                    Some(i) => { (i.version) " in " (i.distro) "/" (i.series) " (" (i.pocket) "), created " (i.date_created) }
                    None => span.muted { "nothing imported" },
                }
            } }
            tr { th { "Audit" } td id="phase" {
                (p.audit.phase)
                @if p.audit.phase != Phase::Idle {
                    " " span.badge.warn { "an import is in flight or was interrupted; the next import-one finishes it" }
                }
            } }
        }

        h2 { "Branches" }
        @if p.branches.is_empty() {
            p.muted { "No branch imported yet." }
        } @else {
            table id="branches" {
                tr { th { "Branch" } th { "Head version" } th { "Commit" } }
                @for b in &p.branches {
                    tr {
                        td { code { (b.name) } }
                        td { @if b.versions.is_empty() { span.muted { "unknown" } } @else { (b.versions.join(", ")) } }
                        td { code { (b.commit.get(..12).unwrap_or(&b.commit)) } }
                    }
                }
            }
        }
        p { (p.tags) " tags; " (p.audit.publications.len()) " publications imported." }
        @let failed: Vec<_> = p.audit.version_facts.iter()
            .filter_map(|(v, f)| f.patch_failure.as_ref().map(|pf| (v, pf)))
            .collect();
        @if !failed.is_empty() {
            h2 { "Patch warnings" }
            p { "These versions are imported, but their quilt patches do not apply: they have no patches-applied branches or tags." }
            table id="patch-warnings" {
                tr { th { "Version" } th { "Patch" } th { "Error" } }
                @for (version, f) in &failed {
                    tr { td { (version) } td { code { (f.patch) } } td { (f.message) } }
                }
            }
        }
        @if !p.distributions.is_empty() {
            h2 { "Versions by distribution" }
            table id="versions" {
                tr { th { "Distribution" } th { "Versions, in the order first published" } }
                @for (distro, versions) in &p.distributions {
                    tr { td { (distro) } td { (versions.join(" ")) } }
                }
            }
        }

        @if !p.jobs.is_empty() {
            h2 { "Jobs" }
            table {
                tr { th { "State" } th { "Priority" } th { "Enqueued" } th { "Attempts" } th { "Blocked" } }
                @for j in &p.jobs {
                    tr {
                        td { (j.state) }
                        td { (priority(j.priority)) }
                        td { (ago(j.enqueued_at, now)) }
                        td { (j.attempts) }
                        td { @if j.blocked { span.badge.bad { "blocked" } } }
                    }
                }
            }
        }

        h2 { "Failure" }
        @match &p.failure {
            None => p.muted { "No failure recorded." },
            Some(f) => {
                table id="failure" {
                    tr { th { "Signature" } td { code { (f.signature) } } }
                    tr { th { "Kind" } td { (if f.transient { "transient" } else { "permanent" }) } }
                    tr { th { "Attempts" } td { (f.attempts) " since the last success, " (f.consecutive) " in a row with this signature" } }
                    tr { th { "First seen" } td { (f.first_seen) } }
                    tr { th { "Last seen" } td { (f.last_seen) " (" (ago(f.last_seen, now)) ")" } }
                    tr { th { "State" } td {
                        @if f.needs_attention { span.badge.bad { "needs attention" } " " }
                        @if f.retrying { "re-queued by a retry" } @else { "blocks the queue until retried" }
                    } }
                }
                @if !f.tail.is_empty() {
                    pre { (f.tail) }
                }
            }
        }

        h2 { "Runs" }
        @if p.runs.is_empty() {
            p.muted { "No runs recorded." }
        } @else {
            @let records: Vec<RunRecord> = p.runs.iter().map(|(r, _)| r.clone()).collect();
            (runs_table(&records, now, None, links))
            @for (i, (run, tail)) in p.runs.iter().enumerate() {
                details id={ "run-" (run.id) } open[i == 0] {
                    summary { "Run " (run.id) ", " (outcome_text(run.outcome)) ": " code { (run.log_path) } }
                    @match tail {
                        LogTail::Text(t) if t.is_empty() => p.muted { "The log is empty." },
                        LogTail::Text(t) => pre { (t) },
                        LogTail::Missing => p.muted { "No log file." },
                        LogTail::Unreadable(why) => p.muted { (why) },
                    }
                }
            }
        }
    }
}

/// How current each distribution and series is: what is imported against what the poller
/// saw. Obsolete series are greyed, the development series carries a badge.
pub(crate) fn series_table(series: &[SeriesReport], now: Timestamp) -> Markup {
    html! {
        @if series.is_empty() {
            p.muted { "No series known yet: nothing imported, polled or listed." }
        } @else {
            p { (series.iter().map(|r| r.figures.out_of_date).sum::<u64>()) " packages out of date in "
                (series.iter().filter(|r| r.figures.out_of_date > 0).count()) " of " (series.len()) " series." }
            table {
                tr {
                    th { "Distribution" } th { "Series" } th { "Status" } th { "Packages" }
                    th { "Out of date" } th { "Newest imported" } th { "Newest seen" } th { "Lag" }
                }
                @for r in series {
                    @let f = &r.figures;
                    tr.muted[f.status.as_deref() == Some("Obsolete")] {
                        td { (f.distribution) }
                        td {
                            (f.series)
                            @if f.development { " " span.badge.ok.development { "development" } }
                        }
                        td { @if let Some(s) = &f.status { (s) } @else { span.muted { "not listed" } } }
                        td { (f.packages) }
                        td { @if f.out_of_date > 0 { span.badge.bad { (f.out_of_date) } } @else { "0" } }
                        td.nowrap { (launchpad_time(f.newest_imported.as_deref(), r.newest_imported_at))
                            @if let Some(age) = r.imported_age(now) { " (" (short_duration(age)) " ago)" } }
                        td.nowrap { (launchpad_time(f.newest_seen.as_deref(), r.newest_seen_at)) }
                        td {
                            @if r.lag().is_zero() { span.muted { "none" } }
                            @else { span.badge.warn { (short_duration(r.lag())) } }
                        }
                    }
                }
            }
        }
    }
}

/// A Launchpad time as the site shows times, or as Launchpad wrote it if it could not be
/// read, or "none".
pub(crate) fn launchpad_time(raw: Option<&str>, read: Option<Timestamp>) -> Markup {
    html! {
        @match (read, raw) {
            (Some(t), _) => (t),
            (None, Some(raw)) => (raw),
            (None, None) => span.muted { "none" },
        }
    }
}

pub(crate) fn runs_table(
    runs: &[RunRecord],
    now: Timestamp,
    pages: Option<&BTreeSet<PackageName>>,
    links: Links,
) -> Markup {
    html! {
        table {
            tr {
                th { "Run" }
                @if pages.is_some() { th { "Package" } }
                th { "Started" } th { "Took" } th { "Outcome" } th { "Exit" } th { "Signature" }
            }
            @for r in runs {
                tr {
                    td {
                        @match pages {
                            Some(pages) if is_page(&r.package, pages) || (links == Links::Web && PackageName::parse(&r.package).is_ok()) => a href={ (links.package_from_index(&r.package)) "#run-" (r.id) } { (r.id) },
                            Some(_) => (r.id),
                            None => a href={ "#run-" (r.id) } { (r.id) },
                        }
                    }
                    @if let Some(pages) = pages { td { (package_link(&r.package, links, pages)) } }
                    td { (r.started_at) " (" (ago(r.started_at, now)) ")" }
                    td { @if let Some(s) = r.duration_s { (short_duration(Duration::from_secs_f64(s.max(0.0)))) } }
                    td { span class={ "badge " (outcome_class(r.outcome)) } { (outcome_text(r.outcome)) } }
                    td {
                        @if let Some(c) = r.exit_code { (c) }
                        @if let Some(s) = r.signal { "signal " (s) }
                    }
                    td { @if let Some(s) = &r.signature { code { (s) } } }
                }
            }
        }
    }
}

fn is_page(raw: &str, pages: &BTreeSet<PackageName>) -> bool {
    PackageName::parse(raw).is_ok_and(|n| pages.contains(&n))
}

/// A link to a package's page, built only from a validated name that has a page; anything
/// else is shown as (escaped) text.
pub(crate) fn package_link(raw: &str, links: Links, pages: &BTreeSet<PackageName>) -> Markup {
    match PackageName::parse(raw) {
        Ok(name) if links == Links::Web || pages.contains(&name) => html! {
            a href=(links.package_from_index(name.as_str())) { (name.as_str()) }
        },
        _ => html! { (raw) },
    }
}

pub(crate) fn freshness_badge(f: Freshness) -> Markup {
    let class = match f {
        Freshness::UpToDate => "ok",
        Freshness::OutOfDate => "bad",
        Freshness::Unknown => "unknown",
    };
    html! { span class={ "badge freshness " (class) } { (f.label()) } }
}

fn freshness_text(f: Freshness) -> &'static str {
    match f {
        Freshness::UpToDate => "The newest publication the poller saw is imported.",
        Freshness::OutOfDate => "The poller saw a publication newer than any imported.",
        Freshness::Unknown => "The poller has recorded no publication of this package.",
    }
}

pub(crate) fn breaker_class(s: BreakerState) -> &'static str {
    match s {
        BreakerState::Closed => "ok",
        BreakerState::Open => "bad",
        BreakerState::HalfOpen => "warn",
    }
}

pub(crate) fn outcome_text(o: Option<Outcome>) -> &'static str {
    o.map_or("running", Outcome::as_str)
}

pub(crate) fn outcome_class(o: Option<Outcome>) -> &'static str {
    match o {
        Some(Outcome::Success) => "ok",
        Some(Outcome::Failed | Outcome::Timeout | Outcome::Died) => "bad",
        Some(_) => "warn",
        None => "unknown",
    }
}

pub(crate) fn priority(p: Priority) -> String {
    match p.name() {
        Some(n) => format!("{n} ({})", p.0),
        None => p.0.to_string(),
    }
}

pub(crate) fn ago(t: Timestamp, now: Timestamp) -> String {
    format!("{} ago", short_duration(t.age(now)))
}

/// `3d 4h`, `4h 5m`, `5m 6s`, `6s`, `0.4s`: the two largest units are enough on a page.
pub(crate) fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, mins, secs) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {mins}m")
    } else if mins > 0 {
        format!("{mins}m {secs}s")
    } else if s > 0 {
        format!("{secs}s")
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_durations() {
        let check = |secs: f64, expect: &str| {
            assert_eq!(short_duration(Duration::from_secs_f64(secs)), expect);
        };
        check(0.42, "0.4s");
        check(6.0, "6s");
        check(306.0, "5m 6s");
        check(4.0 * 3600.0 + 300.0, "4h 5m");
        check(3.0 * 86400.0 + 4.0 * 3600.0 + 59.0, "3d 4h");
    }
}
