//! An operator in a real browser: Debian's `chromium`, headless, driven through
//! `chromedriver` (WebDriver, plain HTTP). It logs in with a token by typing it into the
//! login form, clicks "Retry" on a failed package's page, and then sees the job on the
//! queue page and the action in the audit log. The pages run no script: the browser does
//! what a person does, with the cookies and the CSRF field the pages give it.
//!
//! `chromedriver` or `chromium` missing is a failure, not a skip: install Debian's
//! `chromium` and `chromium-driver`.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pkgimport_core::Priority;
use pkgimport_queue::Role;
use serde_json::{Value, json};

use crate::common::{Options, Service, client};

/// WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session in it; both end on drop.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn call(method: &str, url: &str, body: Option<&Value>) -> Value {
    let agent = client();
    let response = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, body) => agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body.unwrap_or(&json!({})).to_string()),
    };
    let mut response = response.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let value: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {url}: {e}: {text}"));
    assert_eq!(status, 200, "{method} {url}: {text}");
    value["value"].clone()
}

impl Browser {
    fn start() -> Browser {
        let port = free_port();
        let driver = match Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "chromedriver is not installed: this test drives a real headless browser; \
                 install Debian's packages with `apt-get install chromium chromium-driver`"
            ),
            Err(e) => panic!("cannot start chromedriver: {e}"),
        };
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while client().get(&format!("{base}/status")).call().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver did not answer on {base}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": "/usr/bin/chromium",
                    "args": [
                        "--headless",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-dev-shm-usage",
                        "--disable-background-networking",
                        "--disable-component-update",
                        "--disable-sync",
                        "--no-first-run",
                        format!("--user-data-dir={}", profile.path().display()),
                    ],
                },
            }}
        });
        let mut browser = Browser {
            driver,
            base,
            session: String::new(),
            _profile: profile,
        };
        let created = call(
            "POST",
            &format!("{}/session", browser.base),
            Some(&capabilities),
        );
        browser.session = created["sessionId"].as_str().unwrap().to_owned();
        browser
    }

    fn url(&self, rest: &str) -> String {
        format!("{}/session/{}{rest}", self.base, self.session)
    }

    fn go(&self, url: &str) {
        call("POST", &self.url("/url"), Some(&json!({ "url": url })));
    }

    fn current_url(&self) -> String {
        call("GET", &self.url("/url"), None)
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Waits until the browser shows `url` (a click's navigation may still be going on).
    fn wait_for_url(&self, url: &str, what: &str) {
        let started = Instant::now();
        while self.current_url() != url {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{what}: the browser is at {} with:\n{}",
                self.current_url(),
                self.source()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn source(&self) -> String {
        call("GET", &self.url("/source"), None)
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn find(&self, css: &str) -> String {
        let found = call(
            "POST",
            &self.url("/element"),
            Some(&json!({ "using": "css selector", "value": css })),
        );
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("{css}: {found}"))
            .to_owned()
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        call(
            "POST",
            &self.url(&format!("/element/{e}/value")),
            Some(&json!({ "text": text })),
        );
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        call("POST", &self.url(&format!("/element/{e}/click")), None);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = client().delete(&self.url("")).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn assert_no_script(page: &str, source: &str) {
    assert!(
        !source.to_ascii_lowercase().contains("<script"),
        "{page}: a script element:\n{source}"
    );
}

#[test]
fn an_operator_logs_in_and_retries_a_failed_package_in_a_real_browser() {
    let svc = Service::start(Options::default()).unwrap();
    svc.fail("broken", "bad input: checksum mismatch", "the tail");
    let token = svc.token("olga", Role::Operator);
    let browser = Browser::start();

    browser.go(&svc.url("/login"));
    assert_no_script("/login", &browser.source());
    browser.type_into("#token", &token);
    browser.click("form[action=\"/login\"] button[type=\"submit\"]");
    browser.wait_for_url(&svc.url("/"), "logging in leads to the index");
    let index = browser.source();
    assert!(
        index.contains("olga"),
        "the index names who is logged in:\n{index}"
    );

    browser.go(&svc.url("/packages/broken"));
    let page = browser.source();
    assert_no_script("/packages/broken", &page);
    assert!(page.contains("bad input: checksum mismatch"), "{page}");
    browser.click("form[action=\"/packages/broken/retry\"] button[type=\"submit\"]");
    // The page posts to itself and is redirected back: the URL does not tell when the post
    // is done, the queue does.
    crate::common::eventually("the retry queues the job", || {
        !svc.store().queue(None).unwrap().is_empty()
    });
    browser.wait_for_url(
        &svc.url("/packages/broken"),
        "the retry leads back to the page",
    );
    let queue = svc.store().queue(None).unwrap();
    assert_eq!(queue.len(), 1, "{queue:?}");
    assert_eq!(queue[0].package.as_str(), "broken");
    assert_eq!(queue[0].priority, Priority::MANUAL);

    let started = Instant::now();
    loop {
        browser.go(&svc.url("/queue"));
        let queue_page = browser.source();
        browser.go(&svc.url("/actions"));
        let audit = browser.source();
        if queue_page.contains("href=\"/packages/broken\"")
            && audit.contains("olga")
            && audit.contains("retry")
            && audit.contains("broken")
        {
            assert_no_script("/queue", &queue_page);
            assert_no_script("/actions", &audit);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the queue page or the audit log never showed the retry:\n{queue_page}\n{audit}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
