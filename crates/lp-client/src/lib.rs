//! A Launchpad REST client for package-importer.
//!
//! It does what the importer needs and nothing else: list a distribution's series (the
//! partitions), stream `getPublishedSources` one page at a time, fetch a publication's file
//! list with sizes and SHA-256s, and download files. Every request retries transient
//! failures with randomized exponential backoff ([`backoff`]), and every failure is one
//! typed [`Error`] that carries Launchpad's status and OOPS id. The wire details
//! (JSON-encoded query values, opaque paging links, HTML error pages) follow Launchpad's
//! API wire format. The library logs through `log` only.

pub mod backoff;
pub mod client;
pub mod encode;
pub mod error;
pub mod settings;
pub mod summary;
pub mod types;

pub use backoff::{BackoffPolicy, Sleeper, ThreadSleeper};
pub use client::{Client, ClientStats, Collection, Publications};
pub use encode::{PublicationOrder, PublishedSourcesQuery};
pub use error::Error;
pub use settings::{ClientSettings, Credentials, MAX_PAGE_SIZE, PRODUCTION_API_ROOT, Secret};
pub use summary::summarise_body;
pub use types::{
    DistroSeries, Download, LpDateTime, Pocket, Publication, PublicationStatus, SourceFile,
};
