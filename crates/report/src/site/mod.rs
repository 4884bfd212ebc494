//! The static HTML status site, behind `importctl report --out DIR`.
//!
//! [`write_report`] reads the state database through the `pkgimport-queue` [`Store`] API only
//! (no SQL here, no Launchpad calls) and writes `index.html` plus one `packages/<name>.html`
//! per package. The site has no JavaScript and only relative links, so it works from
//! `file://` as well as from any static web server.
//!
//! Two decisions shape this crate:
//! - Everything shown comes from packages, changelogs, logs and error text, so all of it is
//!   untrusted. The pages are `maud` templates, which escape every spliced value unless the
//!   code explicitly says `PreEscaped` (used once, for our own constant style sheet). A
//!   hand-rolled escaper would be a few lines, but every call site would have to remember it;
//!   with `maud` forgetting is impossible. A Content-Security-Policy that forbids scripts is a
//!   second line of defence.
//! - A web server must never serve a half-written site, so the whole site is built in a
//!   sibling directory and swapped into place with renames (see `swap`). Kept current by
//!   `importctl report --watch` ([`SiteWriter`], in `watch`), single pages are replaced
//!   each by one rename.
//!
//! importer-web renders the same pages with absolute links, and a few more (`views`).

mod collect;
mod freshness;
mod logtail;
mod pages;
mod swap;
mod views;
mod watch;

use std::path::{Path, PathBuf};

use pkgimport_queue::{Store, Timestamp};

pub use freshness::{Freshness, freshness, newest_imported};
pub use pages::CSS;
pub use views::{
    ADMIN_END, ADMIN_ONLY, CSRF_FIELD, OPERATOR_END, OPERATOR_ONLY, WebPage, actions_page,
    failures_page, index_page, package_page, queue_page, runs_page,
};
pub use watch::SiteWriter;

/// Where the pages' links point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Links {
    /// The static site: relative links (`packages/<name>.html`, `../index.html`), so that it
    /// works from `file://` and from any directory a web server serves it under.
    Static,
    /// importer-web: absolute paths (`/packages/<name>`, `/`).
    Web,
}

impl Links {
    /// A package's page, from the index (or any page of importer-web).
    pub(crate) fn package_from_index(self, name: &str) -> String {
        match self {
            Links::Static => format!("{}/{name}.html", collect::PACKAGES_DIR),
            Links::Web => format!("/packages/{name}"),
        }
    }

    /// The index, from a package's page.
    pub(crate) fn index_from_package(self) -> &'static str {
        match self {
            Links::Static => "../index.html",
            Links::Web => "/",
        }
    }
}

/// What the report shows and from where. Built by the caller from its configuration; there
/// is deliberately no `Default`, but [`ReportOptions::with_default_limits`] gives the limits
/// the operators' documentation describes.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// The state directory: run logs are read from `<state_dir>/<run.log_path>`.
    pub state_dir: PathBuf,
    /// "Now", for ages and the generation time; injected so that output is testable.
    pub now: Timestamp,
    /// Runs shown under "recent imports" on the index.
    pub recent_runs: u64,
    /// Queued jobs listed on the index (the counts always cover the whole queue).
    pub queue_shown: usize,
    /// Runs shown, each with its log tail, on a package page.
    pub runs_per_package: u64,
    /// Lines of each run's log shown on a package page.
    pub log_tail_lines: usize,
    /// Package names shown per failure group on the index.
    pub group_examples: usize,
}

impl ReportOptions {
    /// Options with the standard limits: 50 recent runs, 100 queued jobs, 10 runs per
    /// package with 40 log lines each, 20 example packages per failure group.
    pub fn with_default_limits(state_dir: PathBuf, now: Timestamp) -> ReportOptions {
        ReportOptions {
            state_dir,
            now,
            recent_runs: 50,
            queue_shown: 100,
            runs_per_package: 10,
            log_tail_lines: 40,
            group_examples: 20,
        }
    }
}

/// What one report contained, for the caller's summary log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportSummary {
    /// Package pages written.
    pub packages: usize,
    /// Of them, packages whose newest seen publication is not imported.
    pub out_of_date: usize,
    /// Packages with a failure that has not been retried.
    pub failed: u64,
    /// Every HTML file written, the index included.
    pub pages: usize,
}

/// The errors of writing a report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] pkgimport_queue::Error),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("output directory {path}: {reason}")]
    OutDir { path: PathBuf, reason: &'static str },
}

impl Error {
    /// True when trying the same thing again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Store(e) => e.is_transient(),
            Error::Io { .. } => true,
            Error::OutDir { .. } => false,
        }
    }
}

/// Writes the whole site to `out_dir`, replacing what was there in one swap.
///
/// The site is built in `<out_dir>.tmp-<pid>`; then the old site is renamed to
/// `<out_dir>.old-<pid>`, the new one to `out_dir`, and the old one deleted. On error the
/// temporary directory is removed and `out_dir` is left as it was. Two reports must not
/// write the same `out_dir` at once: the caller serialises them (a timer does).
pub fn write_report(
    store: &mut Store,
    options: &ReportOptions,
    out_dir: &Path,
) -> Result<ReportSummary, Error> {
    let (summary, _) = write_swapped(store, options, out_dir)?;
    log::info!(
        "report written out={} packages={} out_of_date={} failed={} pages={}",
        out_dir.display(),
        summary.packages,
        summary.out_of_date,
        summary.failed,
        summary.pages
    );
    Ok(summary)
}

/// Writes the whole site into a staging directory and swaps it into place; returns the
/// summary and the index's row of each package.
fn write_swapped(
    store: &mut Store,
    options: &ReportOptions,
    out_dir: &Path,
) -> Result<(ReportSummary, Vec<collect::PackageRow>), Error> {
    let staging = swap::Staging::prepare(out_dir)?;
    let written = collect::write_site(store, options, staging.dir())?;
    staging.commit()?;
    Ok(written)
}
