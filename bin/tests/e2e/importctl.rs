//! importctl: hostile names, enqueue from stdin, JSON keys, and config errors.

use std::io::Write;
use std::process::Stdio;

use crate::util::*;

#[test]
fn hostile_package_names_are_rejected_and_never_become_paths() {
    let env = TestEnv::new();
    let long = "a".repeat(10_000);
    let hostile = [
        "../../etc/passwd",
        "a b",
        "a/b",
        "..",
        "pkg\nx",
        "x;rm -rf /",
        "$(id)",
        "Hello",
        long.as_str(),
    ];
    for name in hostile {
        let out = env.ctl(&["enqueue", name]);
        assert_eq!(out.status.code(), Some(65), "{name:?}: {}", dump(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("invalid package name"), "{err}");
        assert!(err.lines().count() <= 3, "not a short error: {err}");
        for sub in [["show", name], ["runs", name]] {
            let out = env.ctl(&sub);
            assert_eq!(out.status.code(), Some(65), "{sub:?}: {}", dump(&out));
        }
    }
    // Valid names among invalid ones are still queued; the exit code reports the bad ones.
    let out = env.ctl(&["enqueue", "good", "../bad"]);
    assert_eq!(out.status.code(), Some(65));
    let queue = env.ctl_json(&["queue"]);
    assert_eq!(queue.as_array().unwrap().len(), 1);
    assert_eq!(queue[0]["package"], "good");
    // Nothing but the database and its WAL files was written.
    let written = files_under(&env.state());
    assert!(
        written.iter().all(|f| f.starts_with("state.db")),
        "{written:?}"
    );
}

#[test]
fn enqueue_reads_names_from_stdin() {
    let env = TestEnv::new();
    let mut child = env
        .cmd("importctl")
        .args(["enqueue", "--priority", "rescan", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let names: String = (0..500).map(|i| format!("pkg{i}\n")).collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{names}\n  pkg1  \n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", dump(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("500 added, 0 raised, 1 already queued"));
    let status = env.ctl_json(&["status"]);
    assert_eq!(status["queued"], 500);
}

#[test]
fn status_json_has_the_documented_keys() {
    let env = TestEnv::new();
    let status = env.ctl_json(&["status"]);
    for key in [
        "queued",
        "running",
        "failed",
        "paused",
        "oldest_queued_age_s",
        "delayed",
        "blocked",
        "driver",
    ] {
        assert!(status.get(key).is_some(), "missing {key}: {status}");
    }
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/json.md")).unwrap();
    for key in status.as_object().unwrap().keys() {
        assert!(
            docs.contains(&format!("`{key}`")),
            "docs/json.md does not document status key {key}"
        );
    }
}

#[test]
fn unknown_config_key_is_an_error_that_names_it() {
    let env = TestEnv::new();
    env.config("concurency = 3");
    let out = env.ctl(&["status"]);
    assert_eq!(out.status.code(), Some(78), "{}", dump(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown config key driver.concurency"));
}

#[test]
fn every_binary_has_help() {
    let env = TestEnv::new();
    for bin in ["driver", "importctl"] {
        let out = env.cmd(bin).arg("--help").output().unwrap();
        assert!(out.status.success(), "{bin}: {}", dump(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("--state-dir") && text.contains("Exit codes"),
            "{bin}: {text}"
        );
    }
    let out = env.cmd("importctl").arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn broken_pipe_is_not_an_error() {
    let env = TestEnv::new();
    let names: Vec<String> = (0..3000).map(|i| format!("p{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    env.enqueue("upload", &refs);
    let mut child = env
        .cmd("importctl")
        .arg("queue")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    assert!(child.wait().unwrap().success());
}
