//! The report in a real browser: Debian's `chromium`, headless, loads the index and a
//! package page from `file://` and dumps the DOM it built. What a person would see is there,
//! and the hostile package produced no element and no event handler.
//!
//! Chromium missing is a failure, not a skip: the claim "hostile text is inert in a browser"
//! is only tested when a browser runs. Install it with `apt-get install chromium`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::fixture::{DIVERGED, IMG, SCRIPT, scene};

/// Each page load gets this long; a dump normally takes under a second.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The DOM that headless Chromium built from `page`, serialised.
fn dump_dom(page: &Path, scratch: &Path) -> String {
    let out_path = scratch.join("dom.html");
    let err_path = scratch.join("chromium.log");
    let out = std::fs::File::create(&out_path).unwrap();
    let err = std::fs::File::create(&err_path).unwrap();
    let spawned = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!(
            "--user-data-dir={}",
            scratch.join("profile").display()
        ))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "chromium is not installed: this test loads the report in a real headless browser; \
             install Debian's package with `apt-get install chromium`"
        ),
        Err(e) => panic!("cannot start chromium: {e}"),
    };
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium took over {TIMEOUT:?} on {}; its log:\n{}",
                page.display(),
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let dom = std::fs::read_to_string(&out_path).unwrap();
    assert!(
        status.success() && dom.contains("</html>"),
        "chromium failed ({status}) on {}; its log:\n{}",
        page.display(),
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
    dom
}

/// The text a person sees: the body without tags, entities decoded.
fn visible_text(dom: &str) -> String {
    let body = dom.split_once("<body").map_or(dom, |(_, b)| b);
    let mut text = String::new();
    let mut in_tag = true; // still inside `<body ...>`
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

fn assert_inert(dom: &str, page: &str) {
    let lower = dom.to_ascii_lowercase();
    assert!(
        !lower.contains("<script"),
        "{page}: a script element in the DOM:\n{dom}"
    );
    assert!(
        !lower.contains("<img"),
        "{page}: an img element in the DOM:\n{dom}"
    );
    // The serialiser quotes every attribute value; text shows `onerror=alert(1)` unquoted.
    assert!(
        !lower.contains("onerror=\""),
        "{page}: an onerror attribute in the DOM:\n{dom}"
    );
}

#[test]
fn chromium_shows_the_report_and_runs_nothing_from_the_hostile_package() {
    let mut f = scene();
    f.write();
    let scratch = tempfile::tempdir().unwrap();

    let index = dump_dom(&f.out_dir().join("index.html"), scratch.path());
    assert_inert(&index, "index.html");
    let text = visible_text(&index);
    for expect in [
        "package-importer status",
        "Freshness by series",
        "Active Development",
        "OUT-OF-DATE",
        "UP-TO-DATE",
        DIVERGED,
        "evil",
    ] {
        assert!(
            text.contains(expect),
            "index.html: {expect:?} not visible in:\n{text}"
        );
    }
    // The hostile signature is shown, as text.
    assert!(
        text.contains(&format!("bad tarball {SCRIPT} {IMG}")),
        "{text}"
    );

    let evil = dump_dom(&f.out_dir().join("packages/evil.html"), scratch.path());
    assert_inert(&evil, "packages/evil.html");
    let text = visible_text(&evil);
    for expect in [
        "evil",
        "OUT-OF-DATE",
        "Branches",
        "permanent",
        "needs attention",
    ] {
        assert!(
            text.contains(expect),
            "evil.html: {expect:?} not visible in:\n{text}"
        );
    }
    assert!(
        text.contains(&format!("  * Fix {SCRIPT}\n  * And {IMG}")),
        "log tail as text: {text}"
    );
    assert!(
        text.contains(&format!("importer/debian/{IMG}")),
        "branch as text: {text}"
    );
}
