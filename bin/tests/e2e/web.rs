//! importer-web and its importctl commands as binaries: `importctl token` prints the token
//! once and keeps only its hash; `importer-web` serves, takes a bearer token, drains and
//! exits 0 on SIGTERM, and logs no token or cookie even at debug level; `importctl report
//! --watch` rewrites a package's page when its run ends.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use pkgimport_core::{PackageName, Priority};
use pkgimport_queue::{Disposition, Outcome, RunEnd};

use crate::util::*;

/// One HTTP/1.1 request on a connection of its own: the status, the raw headers, the body.
fn http(addr: SocketAddr, request: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_owned(), body.to_owned())
}

fn get(addr: SocketAddr, path: &str, extra: &str) -> (u16, String, String) {
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n"),
    )
}

fn post(addr: SocketAddr, path: &str, extra: &str, body: &str) -> (u16, String, String) {
    http(
        addr,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n{extra}\r\n{body}",
            body.len()
        ),
    )
}

fn cookie<'a>(head: &'a str, name: &str) -> &'a str {
    head.lines()
        .filter_map(|l| l.strip_prefix("set-cookie: "))
        .find_map(|c| c.split(';').next()?.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no cookie {name} in {head}"))
}

#[test]
fn importctl_token_prints_the_token_once_and_keeps_a_hash() {
    let env = TestEnv::new();
    env.config("");
    let out = env.ctl_ok(&["token", "add", "alice", "--role", "operator"]);
    let token = out.trim_end();
    assert_eq!(out.lines().count(), 1, "only the token on stdout: {out}");
    assert!(token.starts_with("pit_") && token.len() > 40, "{token}");
    let listed = env.ctl_json(&["token", "list"]);
    assert_eq!(listed[0]["name"], "alice");
    assert_eq!(listed[0]["role"], "operator");
    assert!(!listed.to_string().contains(token));
    let again = env.ctl(&["token", "add", "alice", "--role", "admin"]);
    assert!(
        !again.status.success(),
        "a name is added once: {}",
        dump(&again)
    );
    let second = env.ctl_ok(&["token", "add", "bob", "--role", "viewer"]);
    assert_ne!(second.trim_end(), token, "tokens are random");
    env.ctl_ok(&["token", "revoke", "alice"]);
    let listed = env.ctl_json(&["token", "list"]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert!(!env.ctl(&["token", "revoke", "alice"]).status.success());
    let log = env.store().actions(10).unwrap();
    assert!(
        log.iter()
            .any(|a| a.action == "token-revoke" && a.target == "alice")
    );
}

both_backends!(importer_web_serves_and_drains_on_sigterm);
fn importer_web_serves_and_drains_on_sigterm(env: &TestEnv) {
    env.config("");
    env.ctl_ok(&["init"]);
    let token = env.ctl_ok(&["token", "add", "olga", "--role", "operator"]);
    let token = token.trim_end();
    let addr: SocketAddr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let log_path = env.root().join("importer-web.log");
    let mut web = env
        .cmd("importer-web")
        .args(["--listen", &addr.to_string()])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    wait_for(60, "importer-web answers /healthz", || {
        TcpStream::connect(addr).is_ok() && get(addr, "/healthz", "").0 == 200
    });

    let bearer = format!("Authorization: Bearer {token}\r\n");
    assert_eq!(post(addr, "/api/v1/pause", "", "").0, 401);
    let (status, _, body) = post(addr, "/api/v1/packages/hello/enqueue", &bearer, "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        env.store().queue(None).unwrap()[0].priority,
        Priority::MANUAL
    );
    // A browser's login: the form's cookie, then the session cookie.
    let (_, head, _) = get(addr, "/login", "");
    let nonce = cookie(&head, "pkgimport_login").to_owned();
    let form = format!("token={token}&nonce={nonce}");
    let (status, head, _) = post(
        addr,
        "/login",
        &format!(
            "Cookie: pkgimport_login={nonce}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        ),
        &form,
    );
    assert_eq!(status, 303);
    let session = cookie(&head, "pkgimport_session").to_owned();
    wait_for(30, "the queue page shows the job", || {
        get(
            addr,
            "/queue",
            &format!("Cookie: pkgimport_session={session}\r\n"),
        )
        .2
        .contains("/packages/hello")
    });

    signal(&web, "TERM");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = web.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(status.success(), "{status}: {log}");
    assert!(log.contains("draining"), "{log}");
    assert!(log.contains("action who=olga action=enqueue"), "{log}");
    for (what, secret) in [
        ("token", token),
        ("session cookie", &session),
        ("login nonce", &nonce),
    ] {
        assert!(!log.contains(secret), "the {what} is in the log:\n{log}");
    }
}

#[test]
fn importer_web_help_names_its_listen_flag() {
    let env = TestEnv::new();
    let out = env.cmd("importer-web").arg("--help").output().unwrap();
    assert!(out.status.success(), "{}", dump(&out));
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.contains("--listen") && help.contains("web.listen"),
        "{help}"
    );
}

both_backends!(report_watch_rewrites_the_page_of_a_run_that_ends);
fn report_watch_rewrites_the_page_of_a_run_that_ends(env: &TestEnv) {
    env.config("");
    env.ctl_ok(&["init"]);
    let site = env.root().join("site");
    let mut watch = env
        .cmd("importctl")
        .args(["report", "--watch", "--out"])
        .arg(&site)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(60, "the first report is written", || {
        site.join("index.html").exists()
    });
    let mut store = env.store();
    let hello = PackageName::parse("hello").unwrap();
    store.enqueue(&[hello], Priority::UPLOAD).unwrap();
    let claim = store.claim(1).unwrap().unwrap();
    store
        .finish_run(
            claim.run_id,
            &RunEnd {
                outcome: Outcome::Success,
                exit_code: Some(0),
                signal: None,
                disposition: Disposition::Done,
            },
        )
        .unwrap();
    let page = site.join("packages/hello.html");
    let marker = format!("id=\"run-{}\"", claim.run_id);
    wait_for(60, "the package page shows the run", || {
        std::fs::read_to_string(&page).is_ok_and(|p| p.contains(&marker))
    });
    wait_for(60, "the index links the package", || {
        std::fs::read_to_string(site.join("index.html"))
            .is_ok_and(|p| p.contains("packages/hello.html"))
    });
    signal(&watch, "TERM");
    let _ = watch.wait();
}
