//! The concurrency soak: everything that writes the state database at once, for a bounded
//! time, against the Launchpad simulator. `PKGIMPORT_SOAK_SECS` sets the length (default 15). It
//! runs alone: its bounds assume the machine to itself.

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::util::*;

#[test]
fn everything_at_once_surfaces_no_busy_error_and_loses_no_job() {
    let _alone = run_alone();
    #[expect(clippy::disallowed_methods, reason = "test configuration")]
    let secs: u64 = std::env::var("PKGIMPORT_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    const PACKAGES: u32 = 120;
    let env = TestEnv::new();
    let sim = env.start_synthetic_sim(PACKAGES, 3);
    env.use_real_importer();
    env.config_sections(
        "",
        "[retry]\ncooldown_base = \"1ms\"\ncooldown_cap = \"1ms\"\n",
    );
    let site = env.root().join("site");

    let mut driver = env.spawn_driver(&["--concurrency", "8"]);
    // `importctl check` rightly says UNKNOWN before any state database exists.
    wait_for(20, "the driver to create the state database", || {
        env.state().join("state.db").exists()
    });
    let stop = Arc::new(AtomicBool::new(false));
    // (succeeded, what it printed) of every command run beside the driver.
    let outputs: Arc<Mutex<Vec<(bool, String)>>> = Arc::default();
    let runs = Arc::new(AtomicU64::new(0));
    let loops: Vec<Vec<String>> = vec![
        vec!["poll-uploads".into(), "--initial".into(), "all".into()],
        vec!["retry-failures".into()],
        vec!["importctl".into(), "status".into()],
        vec!["importctl".into(), "check".into()],
        vec![
            "importctl".into(),
            "report".into(),
            "--out".into(),
            site.display().to_string(),
        ],
        vec!["importctl".into(), "metrics".into()],
    ];
    std::thread::scope(|scope| {
        for argv in &loops {
            let (stop, outputs, runs, env) = (stop.clone(), outputs.clone(), runs.clone(), &env);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let out = env
                        .cmd(&argv[0])
                        .args(&argv[1..])
                        .stdin(Stdio::null())
                        .output()
                        .unwrap();
                    runs.fetch_add(1, Ordering::Relaxed);
                    let text = format!("{argv:?}: {}", dump(&out));
                    // check may say WARNING or CRITICAL (a busy queue is an anomaly by its
                    // thresholds); every other command must succeed.
                    let ok = out.status.success()
                        || (argv[1] == "check" && out.status.code() != Some(3));
                    outputs.lock().unwrap().push((ok, text));
                    std::thread::sleep(Duration::from_millis(if argv[0] == "poll-uploads" {
                        1000
                    } else {
                        200
                    }));
                }
            });
        }
        std::thread::sleep(Duration::from_secs(secs));
        stop.store(true, Ordering::Relaxed);
    });
    drop(sim);
    // Let the driver finish the queue, then stop it.
    wait_for(180, "the queue to drain", || {
        let st = env.ctl_json(&["status"]);
        st["queued"] == 0 && st["running"] == 0
    });
    signal(&driver, "TERM");
    assert!(driver.wait().unwrap().success());
    let mut driver_log = String::new();
    if let Some(mut e) = driver.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut driver_log);
    }

    let outputs = outputs.lock().unwrap();
    let all: String = outputs
        .iter()
        .map(|(_, text)| text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
        + &driver_log;
    for bad in ["database is locked", "SQLITE_BUSY", "stayed busy"] {
        assert!(!all.contains(bad), "{bad} surfaced:\n{all}");
    }
    let failed: Vec<&String> = outputs
        .iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, text)| text)
        .collect();
    assert!(
        failed.is_empty(),
        "commands failed during the soak: {failed:#?}"
    );

    // No job lost or doubled: every package imported exactly once, nothing queued or open.
    let runs_json = env.ctl_json(&["runs", "--limit", "1000000"]);
    let mut succeeded: Vec<&str> = runs_json
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"] == "success")
        .map(|r| r["package"].as_str().unwrap())
        .collect();
    succeeded.sort();
    let total = succeeded.len();
    succeeded.dedup();
    assert_eq!(
        succeeded.len() as u32,
        PACKAGES,
        "a package was never imported"
    );
    assert_eq!(
        env.ctl_json(&["failures", "--all"])
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let mut store = pkgimport_queue::Store::open(&env.state()).unwrap();
    assert!(store.open_runs().unwrap().is_empty());
    assert!(store.packages_in_flight().unwrap().is_empty());
    assert_eq!(store.integrity_check().unwrap(), Ok(()));
    // The driver truncated the WAL when it stopped.
    assert!(
        store.wal_bytes() < 1024 * 1024,
        "WAL left at {} bytes",
        store.wal_bytes()
    );
    let verify = env.ctl(&["verify", "--all"]);
    assert_eq!(verify.status.code(), Some(0), "{}", dump(&verify));
    #[expect(clippy::print_stderr, reason = "the figures for the closing note")]
    {
        eprintln!(
            "soak {secs}s: {} commands run beside the driver, {total} successful imports ({} packages; \
             re-imports are no-ops), 0 BUSY errors",
            runs.load(Ordering::Relaxed),
            succeeded.len()
        );
    }
}
