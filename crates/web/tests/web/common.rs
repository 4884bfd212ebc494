//! An importer-web service in the test process, on a port of its own, over a fresh state
//! database (SQLite in a temporary directory, or a throwaway PostgreSQL database), and an
//! HTTP client that shows every status as it is (no redirects followed, no error for 4xx).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pkgimport_core::{PackageName, Priority};
use pkgimport_queue::{Disposition, NewFailure, Outcome, Role, RunEnd, Store};
use pkgimport_testkit::pg::PgDatabase;
use pkgimport_web::{AgentThresholds, Server, WebSettings};

pub(crate) struct Service {
    pub(crate) addr: SocketAddr,
    dir: tempfile::TempDir,
    pg: Option<PgDatabase>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How a test wants the service.
#[derive(Clone, Copy)]
pub(crate) struct Options {
    pub(crate) public_read: bool,
    pub(crate) max_in_flight: usize,
    pub(crate) postgres: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            public_read: true,
            max_in_flight: 64,
            postgres: false,
        }
    }
}

pub(crate) fn name(n: &str) -> PackageName {
    PackageName::parse(n).unwrap()
}

impl Service {
    /// A service over a fresh database; `None` when PostgreSQL was asked for and no server
    /// was given.
    pub(crate) fn start(options: Options) -> Option<Service> {
        let pg = if options.postgres {
            Some(PgDatabase::create()?)
        } else {
            None
        };
        let dir = tempfile::tempdir().unwrap();
        let state_dir = dir.path().to_owned();
        let url = pg.as_ref().map(|p| p.url().to_owned());
        let settings = WebSettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            state_dir: state_dir.clone(),
            public_read: options.public_read,
            max_in_flight: options.max_in_flight,
            max_body_bytes: 4096,
            secure_cookie: false,
            session_ttl: Duration::from_secs(3600),
            db_threads: 2,
            event_poll: Duration::from_millis(100),
            agent: AgentThresholds {
                driver_age_down: Duration::from_secs(300),
                poll_age_drain: Duration::from_secs(7200),
            },
        };
        let open: pkgimport_web::OpenStore = {
            let state_dir = state_dir.clone();
            Arc::new(move || Store::connect(&state_dir, url.as_deref()))
        };
        let adopt: pkgimport_web::AdoptRemote =
            Arc::new(|_, p| Ok(format!("{p}: the audit now holds the remote's 0 refs")));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let server = Server::bind(settings, open, adopt).await.unwrap();
                addr_tx.send(server.local_addr()).unwrap();
                server
                    .run(async move {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = addr_rx.recv_timeout(Duration::from_secs(60)).unwrap();
        Some(Service {
            addr,
            dir,
            pg,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    pub(crate) fn state_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub(crate) fn store(&self) -> Store {
        Store::connect(self.dir.path(), self.pg.as_ref().map(PgDatabase::url)).unwrap()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A token with `role`, named `name`.
    pub(crate) fn token(&self, name: &str, role: Role) -> String {
        let token = pkgimport_web::auth::generate_token();
        self.store()
            .add_token(name, role, &pkgimport_web::auth::hash_secret(&token))
            .unwrap();
        token
    }

    /// Queues `package`, runs it and records a failure with `signature` and `tail`.
    pub(crate) fn fail(&self, package: &str, signature: &str, tail: &str) -> i64 {
        let mut s = self.store();
        s.enqueue(&[name(package)], Priority::UPLOAD).unwrap();
        let claim = loop {
            let c = s.claim(1).unwrap().unwrap();
            if c.package.as_str() == package {
                break c;
            }
            s.finish_run(c.run_id, &success()).unwrap();
        };
        s.finish_run(
            claim.run_id,
            &RunEnd {
                outcome: Outcome::Failed,
                exit_code: Some(65),
                signal: None,
                disposition: Disposition::Fail(NewFailure {
                    signature: signature.into(),
                    tail: tail.into(),
                    transient: false,
                }),
            },
        )
        .unwrap();
        claim.run_id
    }
}

pub(crate) fn success() -> RunEnd {
    RunEnd {
        outcome: Outcome::Success,
        exit_code: Some(0),
        signal: None,
        disposition: Disposition::Done,
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A client that follows no redirect and treats no status as an error.
pub(crate) fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent()
}

/// A response's status, headers and body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: ureq::http::HeaderMap,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn from(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
        let mut r = r.unwrap();
        Answer {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            body: r.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The value of a cookie that the response sets.
    pub(crate) fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| {
                c.split(';')
                    .next()?
                    .split_once('=')
                    .filter(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_owned())
            })
    }
}

pub(crate) fn get(url: &str) -> Answer {
    Answer::from(client().get(url).call())
}

pub(crate) fn get_as(url: &str, token: &str) -> Answer {
    Answer::from(
        client()
            .get(url)
            .header("Authorization", &format!("Bearer {token}"))
            .call(),
    )
}

pub(crate) fn post_as(url: &str, token: Option<&str>, body: &str) -> Answer {
    let mut req = client()
        .post(url)
        .header("Content-Type", "application/json");
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    Answer::from(req.send(body))
}

/// A browser's session: its cookie, and the CSRF token its pages carry.
pub(crate) struct Session {
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

/// Logs in with `token` as a browser does: the form, then the post.
pub(crate) fn login(svc: &Service, token: &str) -> Session {
    let form = get(&svc.url("/login"));
    assert_eq!(form.status, 200);
    let nonce = form.cookie("pkgimport_login").expect("login cookie");
    let r = Answer::from(
        client()
            .post(&svc.url("/login"))
            .header("Cookie", &format!("pkgimport_login={nonce}"))
            .send_form([("token", token), ("nonce", nonce.as_str())]),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let cookie = r.cookie("pkgimport_session").expect("session cookie");
    let page = Answer::from(
        client()
            .get(&svc.url("/"))
            .header("Cookie", &format!("pkgimport_session={cookie}"))
            .call(),
    );
    let csrf = page
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF field on the page")
        .to_owned();
    Session { cookie, csrf }
}

/// Posts a form with the session's cookie and `fields`.
pub(crate) fn post_form(
    svc: &Service,
    session: Option<&Session>,
    path: &str,
    fields: &[(&str, &str)],
) -> Answer {
    let mut req = client().post(&svc.url(path));
    if let Some(s) = session {
        req = req.header("Cookie", &format!("pkgimport_session={}", s.cookie));
    }
    Answer::from(req.send_form(fields.iter().copied()))
}

/// Waits up to 30 s for `check` to hold, polling; panics with `what` otherwise.
pub(crate) fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out waiting until {what}");
}
