//! The driver against a stand-in import command: concurrency, priority, the exit-code
//! contract, timeouts, crashes, shutdown, recovery after SIGKILL, pause and resume.

use std::time::{Duration, Instant};

use crate::util::*;

both_backends!(concurrency_bound_is_never_exceeded);
fn concurrency_bound_is_never_exceeded(env: &TestEnv) {
    env.behave("default", "sleep 0.3");
    let packages: Vec<String> = (0..12).map(|i| format!("pkg{i:02}")).collect();
    let names: Vec<&str> = packages.iter().map(String::as_str).collect();
    env.enqueue("upload", &names);
    env.drive(&["--concurrency", "3"]);

    let mut running = 0i32;
    let mut most = 0;
    let mut events = env.trace();
    events.sort_by_key(|e| (e.ns, e.start)); // an end before a start at the same instant
    for e in &events {
        running += if e.start { 1 } else { -1 };
        most = most.max(running);
    }
    assert!(most <= 3, "{most} imports ran at once with --concurrency 3");
    assert_eq!(most, 3, "the driver never ran 3 at once: no parallelism");
    assert_eq!(events.iter().filter(|e| e.start).count(), 12);
    assert!(env.outcomes().values().all(|o| o == &["success"]));
    assert_eq!(env.ctl_json(&["status"])["queued"], 0);
}

both_backends!(priority_order_is_followed);
fn priority_order_is_followed(env: &TestEnv) {
    env.enqueue("rescan", &["r1"]);
    env.enqueue("retry", &["t1"]);
    env.enqueue("upload", &["u1", "u2"]);
    env.enqueue("manual", &["m1"]);
    env.enqueue("75", &["n75"]);
    env.drive(&["--concurrency", "1"]);
    assert_eq!(env.starts(), ["m1", "n75", "u1", "u2", "t1", "r1"]);
}

both_backends!(duplicate_enqueue_gives_one_job);
fn duplicate_enqueue_gives_one_job(env: &TestEnv) {
    env.enqueue("rescan", &["hello", "hello"]);
    env.enqueue("manual", &["hello"]);
    let queue = env.ctl_json(&["queue"]);
    assert_eq!(queue.as_array().unwrap().len(), 1);
    assert_eq!(queue[0]["priority"], 100);
    env.drive(&[]);
    assert_eq!(env.starts(), ["hello"]);
}

both_backends!(timeout_kills_the_whole_process_group);
fn timeout_kills_the_whole_process_group(env: &TestEnv) {
    env.config("run_timeout = \"1s\"");
    // The import starts a grandchild and waits on it: both must die.
    env.behave("slow", "sleep 1000 & echo $! > \"$here/grandchild\"; wait");
    env.enqueue("upload", &["slow"]);
    let start = Instant::now();
    env.drive(&[]);
    assert!(start.elapsed() < Duration::from_secs(30));
    let grandchild: u32 = std::fs::read_to_string(env.root().join("grandchild"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_for(5, "the grandchild to die", || !alive(grandchild));
    let failures = env.ctl_json(&["failures", "--all"]);
    assert_eq!(failures[0]["package"], "slow");
    assert_eq!(failures[0]["signature"], "timeout");
    assert_eq!(failures[0]["transient"], true);
    assert_eq!(env.outcomes()["slow"], ["timeout"]);
}

both_backends!(a_crash_is_recorded_as_died);
fn a_crash_is_recorded_as_died(env: &TestEnv) {
    env.behave("crashy", "echo 'error: about to crash' >&2; kill -SEGV $$");
    env.enqueue("upload", &["crashy", "fine"]);
    env.drive(&[]);
    let show = env.ctl_json(&["show", "crashy"]);
    assert_eq!(show["failure"]["signature"], "died");
    assert_eq!(show["runs"][0]["signal"], 11);
    assert!(
        show["failure"]["tail"]
            .as_str()
            .unwrap()
            .contains("about to crash")
    );
    assert_eq!(env.outcomes()["fine"], ["success"]);
}

both_backends!(exit_codes_65_and_75_record_failures_with_signatures);
fn exit_codes_65_and_75_record_failures_with_signatures(env: &TestEnv) {
    env.behave(
        "bad",
        "echo 'error: checksum mismatch for /var/cache/x_1.2.tar.gz' >&2; exit 65",
    );
    env.behave(
        "flaky",
        "echo 'error: connection reset by peer' >&2; exit 75",
    );
    env.enqueue("upload", &["bad", "flaky"]);
    env.drive(&[]);
    let failures = env.ctl_json(&["failures", "--all"]);
    let by_pkg = |p: &str| {
        failures
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["package"] == p)
            .unwrap()
            .clone()
    };
    assert_eq!(
        by_pkg("bad")["signature"],
        "error: checksum mismatch for <path>"
    );
    assert_eq!(by_pkg("bad")["transient"], false);
    assert_eq!(by_pkg("flaky")["transient"], true);
    // A failed package is not claimed again until retried.
    env.enqueue("manual", &["bad"]);
    env.drive(&[]);
    assert_eq!(env.starts().iter().filter(|p| *p == "bad").count(), 1);
    env.ctl_ok(&["retry", "bad"]);
    env.behave("bad", "exit 0");
    env.drive(&[]);
    assert_eq!(env.outcomes()["bad"], ["failed", "success"]);
    assert_eq!(env.ctl_json(&["status"])["failed"], 1, "only flaky is left");
}

both_backends!(codes_69_and_73_requeue_without_a_failure);
fn codes_69_and_73_requeue_without_a_failure(env: &TestEnv) {
    env.config("locked_retry_delay = \"100ms\"\nunavailable_retry_delay = \"100ms\"");
    // Each fails once with its code, then succeeds.
    for (pkg, code) in [("upstream", 69), ("locked", 73)] {
        env.behave(
            pkg,
            &format!(
                "if [ ! -f \"$here/once-$pkg\" ]; then touch \"$here/once-$pkg\"; exit {code}; fi"
            ),
        );
    }
    env.enqueue("upload", &["upstream", "locked"]);
    env.drive(&[]);
    let outcomes = env.outcomes();
    assert_eq!(outcomes["upstream"], ["unavailable", "success"]);
    assert_eq!(outcomes["locked"], ["locked", "success"]);
    assert_eq!(
        env.ctl_json(&["failures", "--all"])
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

both_backends!(sigkill_of_the_driver_then_restart_loses_and_duplicates_nothing);
fn sigkill_of_the_driver_then_restart_loses_and_duplicates_nothing(env: &TestEnv) {
    // Runs of the first driver take long, so that its orphans are certainly still running
    // when the second driver recovers (a finished orphan would rightly run again); the
    // second driver's runs are quick.
    std::fs::write(env.root().join("phase1"), "").unwrap();
    env.behave(
        "default",
        "if [ -f \"$here/phase1\" ]; then sleep 60; else sleep 0.2; fi",
    );
    let packages: Vec<String> = (0..6).map(|i| format!("pkg{i}")).collect();
    let names: Vec<&str> = packages.iter().map(String::as_str).collect();
    env.enqueue("upload", &names);

    let mut driver = env.spawn_driver(&["--concurrency", "2"]);
    wait_for(20, "two imports to start", || env.starts().len() >= 2);
    // The driver records a child's pid just after starting it; an orphan whose pid never
    // reached the database cannot be killed by the next driver (its package lock still keeps
    // a second import out: that one exits 73 and is re-queued). This test is about the
    // recorded ones.
    wait_for(20, "the runs' pids to be recorded", || {
        let runs = env.store().open_runs().unwrap();
        runs.len() >= 2 && runs.iter().all(|r| r.pid.is_some())
    });
    driver.kill().unwrap(); // SIGKILL
    driver.wait().unwrap();
    std::fs::remove_file(env.root().join("phase1")).unwrap();
    let orphans: Vec<u32> = env.trace().iter().filter_map(|e| e.pid).collect();
    assert!(
        orphans.iter().any(|&p| alive(p)),
        "the test needs orphans still running"
    );

    let out = env.drive(&["--concurrency", "2"]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("recovered"), "{log}");
    for pid in orphans {
        assert!(!alive(pid), "orphan {pid} survived the recovery");
    }
    // Every package finished exactly once; the orphans' runs are closed as abandoned.
    let outcomes = env.outcomes();
    assert_eq!(outcomes.len(), 6);
    for (pkg, o) in &outcomes {
        assert_eq!(
            o.iter().filter(|o| *o == "success").count(),
            1,
            "{pkg}: {o:?}"
        );
        assert!(
            o.iter().all(|o| o == "success" || o == "abandoned"),
            "{pkg}: {o:?}"
        );
    }
    let ends: Vec<String> = env
        .trace()
        .into_iter()
        .filter(|e| !e.start)
        .map(|e| e.package)
        .collect();
    let mut unique = ends.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        ends.len(),
        unique.len(),
        "a package finished twice: {ends:?}"
    );
    let status = env.ctl_json(&["status"]);
    assert_eq!(
        (status["queued"].as_u64(), status["running"].as_u64()),
        (Some(0), Some(0))
    );
}

#[test]
fn a_second_driver_is_refused() {
    let env = TestEnv::new();
    let first = env.spawn_driver(&[]);
    wait_for(20, "the first driver's heartbeat", || {
        !env.ctl_json(&["status"])["driver"].is_null()
    });
    let second = env.cmd("driver").output().unwrap();
    assert_eq!(second.status.code(), Some(73), "{}", dump(&second));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("another driver is running"), "{err}");
    let out = stop(first, "TERM", 20);
    assert!(out.status.success(), "{}", dump(&out));
}

both_backends!(an_idle_driver_stops_at_once_on_sigterm);
/// With nothing to do, the driver still notices SIGTERM within a poll interval or so: on
/// PostgreSQL it blocks waiting for a NOTIFY while idle, which must not hide the signal.
fn an_idle_driver_stops_at_once_on_sigterm(env: &TestEnv) {
    let driver = env.spawn_driver(&[]);
    wait_for(20, "the driver's heartbeat", || {
        !env.ctl_json(&["status"])["driver"].is_null()
    });
    std::thread::sleep(Duration::from_millis(200));
    let signalled = Instant::now();
    let out = stop(driver, "TERM", 10);
    assert!(out.status.success(), "{}", dump(&out));
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "stopped {:?} after SIGTERM",
        signalled.elapsed()
    );
}

both_backends!(sigterm_drains_then_kills_and_requeues);
fn sigterm_drains_then_kills_and_requeues(env: &TestEnv) {
    env.config("drain_timeout = \"500ms\"");
    env.behave("quick", "sleep 0.3");
    env.behave("stuck", "sleep 1000 & echo $! > \"$here/grandchild\"; wait");
    env.enqueue("upload", &["stuck", "quick"]);
    let driver = env.spawn_driver(&["--concurrency", "2"]);
    wait_for(20, "both imports to start", || env.starts().len() == 2);
    let out = stop(driver, "TERM", 20);
    assert!(out.status.success(), "{}", dump(&out));
    let outcomes = env.outcomes();
    assert_eq!(
        outcomes["quick"],
        ["success"],
        "a quick import finishes during the drain"
    );
    assert_eq!(outcomes["stuck"], ["interrupted"]);
    let grandchild: u32 = std::fs::read_to_string(env.root().join("grandchild"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_for(5, "the grandchild to die", || !alive(grandchild));
    let queue = env.ctl_json(&["queue"]);
    assert_eq!(queue.as_array().unwrap().len(), 1);
    assert_eq!(queue[0]["package"], "stuck");
    assert_eq!(queue[0]["state"], "queued");
    assert_eq!(
        env.ctl_json(&["failures", "--all"])
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

both_backends!(pause_lets_running_imports_finish_and_claims_nothing_new);
fn pause_lets_running_imports_finish_and_claims_nothing_new(env: &TestEnv) {
    env.behave("first", "sleep 1");
    env.enqueue("manual", &["first"]);
    env.enqueue("upload", &["second"]);
    let driver = env.spawn_driver(&["--concurrency", "1"]);
    wait_for(20, "the first import to start", || {
        env.starts() == ["first"]
    });
    env.ctl_ok(&["pause"]);
    assert_eq!(env.ctl_json(&["status"])["paused"], true);
    wait_for(20, "the first import to finish", || {
        env.outcomes()
            .get("first")
            .is_some_and(|o| o == &["success"])
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(env.starts(), ["first"], "claimed while paused");
    env.ctl_ok(&["resume"]);
    wait_for(20, "the second import after resume", || {
        env.outcomes()
            .get("second")
            .is_some_and(|o| o == &["success"])
    });
    let out = stop(driver, "INT", 20);
    assert!(out.status.success(), "{}", dump(&out));
}

both_backends!(exit_when_idle_exits_at_once_when_paused);
fn exit_when_idle_exits_at_once_when_paused(env: &TestEnv) {
    env.enqueue("upload", &["hello"]);
    env.ctl_ok(&["pause"]);
    env.drive(&[]);
    assert!(env.starts().is_empty());
    env.ctl_ok(&["resume"]);
    env.drive(&[]);
    assert_eq!(env.starts(), ["hello"]);
}

#[test]
fn a_missing_import_command_is_a_config_error() {
    let env = TestEnv::new();
    let out = env
        .cmd("driver")
        .args([
            "--import-command",
            "/nonexistent/import-one",
            "--exit-when-idle",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", dump(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an executable file"));
}
