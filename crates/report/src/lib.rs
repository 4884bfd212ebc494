//! Monitoring of package-importer, read from the state database only: the Nagios check
//! ([`check`], behind `importctl check`), the Prometheus metrics ([`metrics`], behind
//! `importctl metrics`) and the static HTML status site ([`site`], behind `importctl report`);
//! [`series`] is how current each distribution and series is, which all of them show, and
//! `importctl status` too. [`follow`] reads the events table for the views that are kept
//! current as changes happen (importer-web, `importctl report --watch`).
//!
//! None of it writes to the queue or talks to Launchpad: each part turns what the
//! `pkgimport-queue` `Store` holds into one view for one audience (the pager, the graphs,
//! the people reading the site).

pub mod check;
pub mod follow;
pub mod metrics;
pub mod series;
pub mod site;

pub use site::{
    Error, Freshness, ReportOptions, ReportSummary, SiteWriter, freshness, newest_imported,
    write_report,
};
