//! importer-web: the status of package-importer as live pages and a JSON API, the
//! operators' actions, and health checks for a load balancer. Like every other binary it
//! cooperates with the rest only through the state database.
//!
//! The map:
//! - `db`: the state database on a few threads of its own, so that no request and no
//!   page ever waits for it on the async workers;
//! - `cache`: the rendered pages, which never expire by time;
//! - `writer`: the one task that follows the events table and re-renders the pages an event
//!   touches, and refreshes the health snapshot;
//! - `health`: load shedding, `/healthz`, the agent check;
//! - `auth`: tokens, sessions, CSRF, roles;
//! - `pages`, `api`, `actions`: the HTML routes, the JSON routes, and what both do to the
//!   state database;
//! - `metrics`: the service's own request counters and latency histograms;
//! - `layout`: the HTML around each cached page, personalised per request.
//!
//! Decisions:
//! - **A cache refreshed by events, never by time.** A page is rendered when first asked
//!   for, then again only when an event (a run ended, a job queued or retried, the breaker
//!   moved, the pause flag, an action) touches it. A request never renders a cached page, so
//!   a burst of readers costs memory copies, not database reads. The JSON of the fixed
//!   pages is dropped by a change and rendered by the next request for it (the whole queue
//!   can be long, and most changes are never read as JSON).
//! - **Health off the work path.** `/healthz` is routed before the load-shedding layer and
//!   reads only atomics; `/health/agent` reads a snapshot that the writer refreshes.
//! - **No JavaScript, no login.** Actions are plain forms carrying a CSRF token, behind a
//!   session cookie opened with a bearer token; scripts use the bearer token directly.

mod actions;
mod api;
pub mod auth;
mod cache;
mod db;
mod health;
mod layout;
mod metrics;
mod pages;
mod writer;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use pkgimport_core::PackageName;
use pkgimport_queue::Store;

pub use health::AgentThresholds;

/// Everything the service needs to know, resolved by the binary from the configuration.
#[derive(Clone, Debug)]
pub struct WebSettings {
    pub listen: SocketAddr,
    /// The state directory: run logs are read from it.
    pub state_dir: PathBuf,
    /// Whether reading the pages and the API needs no token.
    pub public_read: bool,
    /// Requests handled at once; more are refused with 503 and `Retry-After`.
    pub max_in_flight: usize,
    /// Largest request body accepted; larger ones get 413.
    pub max_body_bytes: usize,
    /// Mark the session cookie `Secure` (behind TLS).
    pub secure_cookie: bool,
    /// How long a browser session lasts.
    pub session_ttl: Duration,
    /// Threads (each with its own connection) that do the database work.
    pub db_threads: usize,
    /// How often the writer looks for new events when nothing woke it.
    pub event_poll: Duration,
    /// When the agent check says `drain` or `down`.
    pub agent: AgentThresholds,
}

/// Opens a connection to the state database; called once per database thread.
pub type OpenStore = Arc<dyn Fn() -> Result<Store, pkgimport_queue::Error> + Send + Sync>;

/// `reset --adopt-remote` of one package, under its lock: what the binary supplies, since it
/// needs the importer and its settings. Returns what it did, for the audit log.
pub type AdoptRemote =
    Arc<dyn Fn(&mut Store, &PackageName) -> Result<String, String> + Send + Sync>;

/// The errors of starting or running the service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] pkgimport_queue::Error),
    #[error(transparent)]
    Report(#[from] pkgimport_report::Error),
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Serve(#[source] std::io::Error),
    /// The database threads are gone (the service is shutting down).
    #[error("the database threads stopped")]
    DbStopped,
}

impl Error {
    /// True when trying the same thing again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Store(e) => e.is_transient(),
            Error::Report(e) => e.is_transient(),
            Error::Listen { .. } | Error::Serve(_) => true,
            Error::DbStopped => false,
        }
    }
}

/// What every handler shares.
pub(crate) struct Shared {
    pub(crate) settings: WebSettings,
    pub(crate) db: db::Db,
    pub(crate) cache: cache::Cache,
    pub(crate) load: health::Load,
    pub(crate) health: health::Snapshot,
    pub(crate) metrics: metrics::Metrics,
    pub(crate) adopt_remote: AdoptRemote,
    pub(crate) open_store: OpenStore,
}

pub(crate) type State = Arc<Shared>;

/// A service that is listening, not yet serving.
pub struct Server {
    listener: tokio::net::TcpListener,
    shared: State,
}

impl Server {
    /// Opens the database threads, renders the fixed pages and binds the listening socket.
    /// Must be called inside a tokio runtime.
    pub async fn bind(
        settings: WebSettings,
        open_store: OpenStore,
        adopt_remote: AdoptRemote,
    ) -> Result<Server, Error> {
        let db = db::Db::start(settings.db_threads.max(1), &open_store)?;
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .map_err(|source| Error::Listen {
                addr: settings.listen,
                source,
            })?;
        let shared = Arc::new(Shared {
            load: health::Load::new(settings.max_in_flight),
            settings,
            db,
            cache: cache::Cache::new(),
            health: health::Snapshot::default(),
            metrics: metrics::Metrics::default(),
            adopt_remote,
            open_store,
        });
        writer::prime(&shared).await?;
        Ok(Server { listener, shared })
    }

    /// Where it listens (useful when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.shared.settings.listen)
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets the requests in flight
    /// finish, and stops the writer.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let writer = tokio::spawn(writer::run(self.shared.clone(), stop_rx));
        let app = router(self.shared.clone());
        log::info!(
            "importer-web listening addr={} public_read={} max_in_flight={}",
            self.local_addr(),
            self.shared.settings.public_read,
            self.shared.settings.max_in_flight
        );
        let served = axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            log::info!("draining: no new connections; finishing the requests in flight");
        })
        .await;
        let _ = stop_tx.send(true);
        let _ = writer.await;
        served.map_err(Error::Serve)?;
        log::info!("importer-web stopped");
        Ok(())
    }
}

/// Every route. `/healthz` and `/health/agent` come before the load-shedding layer, so that
/// they are answered while everything else is being shed.
fn router(state: State) -> Router {
    let shed = axum::middleware::from_fn_with_state(state.clone(), health::shed);
    let measured = axum::middleware::from_fn_with_state(state.clone(), metrics::measure);
    let body_limit = axum::extract::DefaultBodyLimit::max(state.settings.max_body_bytes);
    let work = Router::new()
        .merge(pages::routes())
        .merge(api::routes())
        .merge(actions::routes())
        .layer(body_limit)
        .layer(shed);
    Router::new()
        .route("/healthz", axum::routing::get(health::healthz))
        .route("/health/agent", axum::routing::get(health::agent))
        .merge(work)
        .fallback(pages::not_found)
        .layer(measured)
        .with_state(state)
}
