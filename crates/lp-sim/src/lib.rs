//! `lp-sim` as a library: a local stand-in for Launchpad's REST API.
//!
//! Tests and demos cannot use the real Launchpad, and the importer's hardest code paths
//! (paging, outages, mangled answers) are the ones production exercises least on demand.
//! The simulator serves Launchpad's API wire format from a fixture archive or a generated
//! history, lets tests publish new versions and inject faults over HTTP or through
//! [`SimHandle`], and counts every request.
//!
//! Like Launchpad, one simulator serves several distributions from one archive: each has
//! its resources under `/devel/<distribution>` (the distribution, `series`, each series,
//! `+archive/primary` with `getPublishedSources`) and its files under
//! `/<distribution>/+archive/primary/+sourcefiles/...`. An archive's distributions are those
//! its `manifest.json` and `series.json` name, plus [`SimConfig::distribution`], the
//! default one, which bare suites (`sid`) and control requests naming none belong to; a
//! synthetic history's are [`SyntheticSpec::distributions`].
//!
//! The control endpoints, over HTTP (JSON bodies) and through [`SimHandle`]:
//!
//! | endpoint | body | does |
//! |---|---|---|
//! | `POST /_sim/publish` | `{"package", "version", "suite"[, "distribution", "date_created", "status"]}` | adds a publication of a version whose files are in the archive (or a synthetic `1.<n>`); `status` `Pending` (default) or `Published`, which supersedes older ones; answers 201 with the publication |
//! | `POST /_sim/publish-pending` | `{"id"[, "date_published"]}` | publishes the `Pending` publication with that id (the `<id>` of its `+sourcepub/<id>` link), as Launchpad's publisher does: it becomes `Published` and supersedes older ones; answers 200 with the publication |
//! | `POST /_sim/open-series` | `{"series"[, "distribution", "copy_from", "date_created"]}` | opens a new series in `Active Development`, copying into it every package's newest published version of `copy_from` (default: every series of the distribution); answers 201 with `{"series", "copied"}` |
//! | `POST /_sim/faults` | [`FaultSettings`] | sets the faults injected from now on |
//! | `GET /_sim/faults` | | the fault settings in force |
//! | `GET /_sim/stats` | | [`SimStats`]: request counts by route and status, and by distribution |
//! | `POST /_sim/stats/reset` | | zeroes the counts |
//!
//! ```no_run
//! use pkgimport_lp_sim::{Sim, SimConfig, SimSource};
//! let sim = Sim::start(SimConfig {
//!     // Debian and Ubuntu: bare suites in the manifest are Debian's.
//!     source: SimSource::Archive("fixtures/archive".into()),
//!     distribution: "debian".into(),
//!     listen: "127.0.0.1:0".parse().unwrap(),
//!     seed: 1,
//!     threads: 4,
//! })?;
//! println!("{}", sim.api_root()); // http://127.0.0.1:<port>/devel/
//! // .../devel/ubuntu/+archive/primary?ws.op=getPublishedSources serves Ubuntu's.
//! sim.shutdown();
//! # Ok::<(), pkgimport_lp_sim::SimError>(())
//! ```

mod archive;
mod catalogue;
pub mod faults;
mod params;
mod render;
mod server;
pub mod synthetic;
mod time;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;

pub use faults::{FaultMode, FaultSettings};
pub use server::SimStats;
pub use synthetic::SyntheticSpec;

use catalogue::Catalogue;
use server::{FaultState, Shared};

/// Where the simulated history comes from.
#[derive(Debug, Clone)]
pub enum SimSource {
    /// A directory with the layout of `fixtures/archive/`: `manifest.json`, an optional
    /// `series.json`, and a folder of files per package.
    Archive(PathBuf),
    /// A generated history.
    Synthetic(SyntheticSpec),
}

/// How to run the simulator. No defaults: callers say what they want.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The history to serve.
    pub source: SimSource,
    /// The default distribution (`debian`): the one of an archive's bare suites, of
    /// control requests that name none, and of a synthetic history that names none.
    pub distribution: String,
    /// Address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Seed of every random choice (fault injection).
    pub seed: u64,
    /// Worker threads serving requests concurrently (at least 1).
    pub threads: usize,
}

/// Why the simulator could not start or act.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The archive or synthetic spec could not be loaded.
    #[error("loading the simulated archive: {0}")]
    Load(String),
    /// The listen address could not be bound.
    #[error("binding {addr}: {message}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why it failed.
        message: String,
    },
    /// A control action was refused; `status` is the HTTP status the endpoint would give.
    #[error("{message} (status {status})")]
    Refused {
        /// 400 for a bad request, 404 for files missing on disk.
        status: u16,
        /// Why.
        message: String,
    },
}

/// A publication to add through [`SimHandle::publish`] (or `POST /_sim/publish`).
#[derive(Debug, Clone)]
pub struct Publish {
    /// The distribution; `None` means the default one.
    pub distribution: Option<String>,
    /// Source package name.
    pub package: String,
    /// Version, epoch included; its files must be in the package's folder.
    pub version: String,
    /// Suite of the distribution, such as `sid` or `bookworm-security`.
    pub suite: String,
    /// Backdate the publication; `None` means now.
    pub date_created: Option<DateTime<Utc>>,
    /// `true` for status `Published` (superseding older ones), `false` for `Pending`.
    pub published: bool,
}

/// A series to open through [`SimHandle::open_series`] (or `POST /_sim/open-series`).
#[derive(Debug, Clone)]
pub struct OpenSeries {
    /// The distribution; `None` means the default one.
    pub distribution: Option<String>,
    /// The new series, such as `forky`; it must not exist yet in the distribution.
    pub series: String,
    /// The series whose packages are copied; empty means every existing series of the
    /// distribution.
    pub copy_from: Vec<String>,
    /// When the copies are created (one microsecond apart); `None` means now.
    pub date_created: Option<DateTime<Utc>>,
}

/// The entry point.
#[derive(Debug)]
pub struct Sim;

impl Sim {
    /// Loads the history, binds, and starts serving on `config.threads` threads.
    /// Returns once the socket is listening, so the port is ready to use.
    pub fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        let catalogue = match &config.source {
            SimSource::Archive(dir) => Catalogue::from_archive(dir, &config.distribution),
            SimSource::Synthetic(spec) => Catalogue::synthetic(spec.clone(), &config.distribution),
        }
        .map_err(SimError::Load)?;
        let publications = catalogue.rows.len();
        let distributions = catalogue.distributions.clone();
        let bind_error = |message: String| SimError::Bind {
            addr: config.listen,
            message,
        };
        let listener =
            std::net::TcpListener::bind(config.listen).map_err(|e| bind_error(e.to_string()))?;
        // Accepted sockets inherit TCP_NODELAY on Linux. Without it, Nagle's algorithm
        // holds the tail of every answer on a kept-alive connection until the client's
        // delayed ACK (about 40 ms a page).
        if let Err(e) =
            nix::sys::socket::setsockopt(&listener, nix::sys::socket::sockopt::TcpNoDelay, &true)
        {
            log::warn!("cannot set TCP_NODELAY: {e}");
        }
        let server = tiny_http::Server::from_listener(listener, None)
            .map_err(|e| bind_error(e.to_string()))?;
        let addr = server.server_addr().to_ip().ok_or_else(|| SimError::Bind {
            addr: config.listen,
            message: "not an IP listener".into(),
        })?;
        let shared = Arc::new(Shared {
            catalogue: RwLock::new(catalogue),
            distributions: distributions.clone(),
            faults: Mutex::new(FaultState {
                settings: FaultSettings::default(),
                rng: StdRng::seed_from_u64(config.seed),
            }),
            stats: Mutex::new(SimStats::default()),
            local_addr: addr,
        });
        let server = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        for n in 0..config.threads.max(1) {
            let (server, shared, flag) = (server.clone(), shared.clone(), stop.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("lp-sim-{n}"))
                .spawn(move || worker(&server, &shared, &flag));
            match spawned {
                Ok(handle) => workers.push(handle),
                Err(e) => {
                    // Stop the workers already running before giving up.
                    stop.store(true, Ordering::Relaxed);
                    workers.into_iter().for_each(|w: JoinHandle<()>| {
                        let _ = w.join();
                    });
                    return Err(SimError::Bind {
                        addr,
                        message: format!("spawning a worker: {e}"),
                    });
                }
            }
        }
        log::info!(
            "lp-sim listening addr={addr} distributions={} publications={publications}",
            distributions.join(",")
        );
        Ok(SimHandle {
            addr,
            shared,
            stop,
            workers,
            _server: server,
        })
    }
}

fn worker(server: &tiny_http::Server, shared: &Shared, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match server.recv_timeout(Duration::from_millis(50)) {
            Ok(Some(request)) => server::handle(shared, request),
            Ok(None) => {}
            Err(e) => {
                log::warn!("lp-sim accept error: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// A running simulator. Dropping it stops it too.
pub struct SimHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    _server: Arc<tiny_http::Server>,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl SimHandle {
    /// The bound address (with the real port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`: the web root (file URLs live here).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:<port>/devel/`: what the client's `api_root` should be.
    pub fn api_root(&self) -> String {
        format!("{}/devel/", self.base_url())
    }

    /// Sets the fault mode (as `POST /_sim/faults`).
    pub fn set_faults(&self, settings: FaultSettings) -> Result<(), SimError> {
        settings.validate().map_err(|message| SimError::Refused {
            status: 400,
            message,
        })?;
        self.shared
            .faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .settings = settings;
        Ok(())
    }

    /// The fault settings in force.
    pub fn faults(&self) -> FaultSettings {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .settings
    }

    /// The distributions served, the default one first.
    pub fn distributions(&self) -> &[String] {
        &self.shared.distributions
    }

    /// Adds a publication (as `POST /_sim/publish`) and returns its `self_link`.
    pub fn publish(&self, publish: &Publish) -> Result<String, SimError> {
        server::publish(&self.shared, &self.base_url(), publish)
            .map(|(_, json)| json["self_link"].as_str().unwrap_or_default().to_owned())
            .map_err(|(status, message)| SimError::Refused { status, message })
    }

    /// Publishes the `Pending` publication `id` now (as `POST /_sim/publish-pending`): it
    /// becomes `Published`, superseding the older ones of its package in its series and
    /// pocket.
    pub fn publish_pending(&self, id: u64) -> Result<(), SimError> {
        server::publish_pending(&self.shared, &self.base_url(), id, None)
            .map(drop)
            .map_err(|(status, message)| SimError::Refused { status, message })
    }

    /// Opens a new series (as `POST /_sim/open-series`), in `Active Development`: every
    /// package's highest published version in `copy_from` is copied into its Release
    /// pocket, status `Published`, with a fresh `date_created`. Returns how many
    /// publications were created.
    pub fn open_series(&self, open: &OpenSeries) -> Result<usize, SimError> {
        server::open_series(&self.shared, open)
            .map_err(|(status, message)| SimError::Refused { status, message })
    }

    /// Request counts so far (as `GET /_sim/stats`).
    pub fn stats(&self) -> SimStats {
        self.shared
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Zeroes the request counts.
    pub fn reset_stats(&self) {
        *self
            .shared
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = SimStats::default();
    }

    /// Stops serving and waits for the workers to finish their current requests.
    pub fn shutdown(mut self) {
        self.stop_workers();
    }

    fn stop_workers(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop_workers();
    }
}

#[cfg(test)]
mod tests;
