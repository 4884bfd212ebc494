//! poll-uploads against the in-process Launchpad simulator: backfill, at-least-once,
//! watermarks that never pass unprocessed work, the skew window, outages, the poll lock.

use std::process::Output;

use chrono::{Duration as ChronoDuration, Utc};
use pkgimport_core::PackageName;
use pkgimport_lp_sim::{FaultMode, FaultSettings, Publish};
use pkgimport_queue::audit::{PublicationRow, StagedAudit, StagedRef};
use pkgimport_queue::poll::NewWatermark;
use pkgimport_testkit::sim::{set_fault_mode, set_faults};

use crate::util::*;

fn poll(env: &TestEnv, args: &[&str]) -> Output {
    env.cmd("poll-uploads").args(args).output().unwrap()
}

fn poll_ok(env: &TestEnv, args: &[&str]) -> String {
    let out = poll(env, args);
    assert!(out.status.success(), "{}", dump(&out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn queued(env: &TestEnv) -> Vec<String> {
    let q = env.ctl_json(&["queue"]);
    let mut names: Vec<String> = q
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["package"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

fn watermarks(env: &TestEnv) -> Vec<(String, String)> {
    let mut s = pkgimport_queue::Store::open(&env.state()).unwrap();
    s.watermarks()
        .unwrap()
        .into_iter()
        .map(|(_, series, date)| (series, date))
        .collect()
}

/// Empties the queue as a driver would, with an import command that does nothing.
fn drain(env: &TestEnv) {
    env.drive(&["--import-command", "/bin/true"]);
    assert!(queued(env).is_empty());
}

const ALL: [&str; 8] = FIXTURE_PACKAGES;

#[test]
fn initial_all_backfills_across_pages_and_a_rerun_adds_no_duplicate_jobs() {
    let env = TestEnv::new();
    let _sim = env.start_sim();
    let log = poll_ok(&env, &["--initial", "all"]);
    assert_eq!(queued(&env), ALL);
    // page_size 2 in the test config: the history spans many pages.
    let pages: u64 = log
        .split("pages=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(pages >= 3, "{log}");
    assert_eq!(watermarks(&env).len(), 4, "one per series");
    // At least once: the re-run asks again from the watermark minus the skew, and the
    // queue keeps one job per package.
    poll_ok(&env, &[]);
    assert_eq!(queued(&env), ALL);
}

#[test]
fn first_run_without_initial_starts_from_launchpads_now() {
    let env = TestEnv::new();
    let sim = env.start_sim();
    let log = poll_ok(&env, &[]);
    assert!(
        queued(&env).is_empty(),
        "a first run must not flood the queue"
    );
    assert_eq!(watermarks(&env).len(), 4);
    assert_eq!(summary_field(&log, "enqueued"), 0, "{log}");
    sim.publish(&Publish {
        distribution: None,
        package: "hello".into(),
        version: "2.10-3".into(),
        suite: "sid".into(),
        date_created: None,
        published: false,
    })
    .unwrap();
    // Exactly the new publication: those inside the skew window behind each partition's
    // newest one were remembered by the first run, not queued.
    let log = poll_ok(&env, &[]);
    assert_eq!(queued(&env), ["hello"]);
    assert_eq!(summary_field(&log, "enqueued"), 1, "{log}");
    drain(&env);
    // Nothing new: nothing queued, though the window still holds the upload.
    let log = poll_ok(&env, &[]);
    assert!(queued(&env).is_empty(), "{:?}", queued(&env));
    assert_eq!(summary_field(&log, "enqueued"), 0, "{log}");
    assert!(summary_field(&log, "remembered") >= 1, "{log}");
}

/// A number from poll-uploads' (or reconcile's) summary line: `key=N`.
fn summary_field(log: &str, key: &str) -> u64 {
    let needle = format!(" {key}=");
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains(&needle))
        .unwrap_or_else(|| panic!("no {key}= in {log}"));
    let start = line.find(&needle).unwrap() + needle.len();
    line[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_pending_publication_that_becomes_published_is_enqueued_again() {
    let env = TestEnv::new();
    let sim = env.start_sim();
    poll_ok(&env, &[]);
    let link = sim
        .publish(&Publish {
            distribution: None,
            package: "hello".into(),
            version: "2.10-3".into(),
            suite: "sid".into(),
            date_created: None,
            published: false,
        })
        .unwrap();
    poll_ok(&env, &[]);
    assert_eq!(queued(&env), ["hello"]);
    drain(&env);
    poll_ok(&env, &[]);
    assert!(queued(&env).is_empty(), "still Pending: nothing new");
    // Launchpad's publisher publishes it: the version may not be imported yet (import-one
    // tells cheaply), so the package is queued again, once.
    let id: u64 = link.rsplit('/').next().unwrap().parse().unwrap();
    sim.publish_pending(id).unwrap();
    poll_ok(&env, &[]);
    assert_eq!(queued(&env), ["hello"]);
    drain(&env);
    poll_ok(&env, &[]);
    assert!(queued(&env).is_empty(), "{:?}", queued(&env));
}

#[test]
fn a_new_publication_is_enqueued_once() {
    let env = TestEnv::new();
    let sim = env.start_sim();
    poll_ok(&env, &["--initial", "all"]);
    drain(&env);
    let before = watermarks(&env);
    sim.publish(&Publish {
        distribution: None,
        package: "tgt".into(),
        version: "1:1.0.85-1+deb12u1".into(),
        suite: "sid".into(),
        date_created: None,
        published: true,
    })
    .ok();
    sim.publish(&Publish {
        distribution: None,
        package: "libcap2".into(),
        version: "1:2.78-1".into(),
        suite: "trixie".into(),
        date_created: None,
        published: true,
    })
    .unwrap();
    poll_ok(&env, &[]);
    let q = queued(&env);
    assert!(q.contains(&"libcap2".to_owned()), "{q:?}");
    let after = watermarks(&env);
    let trixie = |w: &[(String, String)]| w.iter().find(|(s, _)| s == "trixie").unwrap().1.clone();
    assert!(
        trixie(&after) > trixie(&before),
        "the trixie watermark did not move: {before:?} {after:?}"
    );
}

#[test]
fn a_crash_between_partitions_moves_no_watermark_and_the_rerun_catches_up() {
    let env = TestEnv::new();
    let _sim = env.start_sim();
    let out = env
        .cmd("poll-uploads")
        .args(["--initial", "all"])
        .env("PKGIMPORT_FAULT", "poll-between-partitions")
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", dump(&out));
    assert!(
        watermarks(&env).is_empty(),
        "a watermark moved before every partition was enqueued"
    );
    let partial = queued(&env);
    assert!(
        !partial.is_empty() && partial.len() < ALL.len(),
        "{partial:?}"
    );
    poll_ok(&env, &["--initial", "all"]);
    assert_eq!(queued(&env), ALL);
    assert_eq!(watermarks(&env).len(), 4);
}

#[test]
fn a_late_backdated_publication_inside_the_skew_window_is_caught() {
    let env = TestEnv::new();
    let sim = env.start_sim();
    poll_ok(&env, &["--initial", "all"]);
    drain(&env);
    let sid = watermarks(&env)
        .into_iter()
        .find(|(s, _)| s == "sid")
        .unwrap()
        .1;
    let sid = chrono::DateTime::parse_from_rfc3339(&sid)
        .unwrap()
        .with_timezone(&Utc);
    // Appears now, but claims to be 5 minutes older than the newest one already seen.
    sim.publish(&Publish {
        distribution: None,
        package: "authbind".into(),
        version: "2.1.3".into(),
        suite: "sid".into(),
        date_created: Some(sid - ChronoDuration::minutes(5)),
        published: false,
    })
    .unwrap();
    // And one outside the 10-minute window, which the skew cannot cover.
    sim.publish(&Publish {
        distribution: None,
        package: "intel2gas".into(),
        version: "1.3.3-17".into(),
        suite: "sid".into(),
        date_created: Some(sid - ChronoDuration::hours(2)),
        published: false,
    })
    .unwrap();
    poll_ok(&env, &[]);
    let q = queued(&env);
    assert!(q.contains(&"authbind".to_owned()), "{q:?}");
    assert!(
        !q.contains(&"intel2gas".to_owned()),
        "the skew window is 10 minutes, not 2 hours: {q:?}"
    );
}

#[test]
fn launchpad_down_exits_69_and_moves_nothing() {
    let env = TestEnv::new();
    let sim = env.start_sim();
    set_fault_mode(&sim.base_url(), &FaultMode::Down);
    let start = std::time::Instant::now();
    let out = poll(&env, &["--initial", "all"]);
    assert_eq!(out.status.code(), Some(69), "{}", dump(&out));
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("503"),
        "{}",
        dump(&out)
    );
    assert!(watermarks(&env).is_empty());
    assert!(queued(&env).is_empty());
}

#[test]
fn a_flaky_launchpad_still_gets_polled() {
    let env = TestEnv::new();
    let sim = env.start_sim();
    env.config_sections("", "");
    set_faults(
        &sim.base_url(),
        &FaultSettings {
            mode: FaultMode::Flaky,
            error_rate: Some(0.3),
            status: Some(502),
            retry_after: None,
            delay_ms: None,
        },
    );
    // Three attempts per request at 30% failure: raise the bound so the test is not flaky.
    let text = std::fs::read_to_string(env.root().join("config.toml"))
        .unwrap()
        .replace("max_attempts = 3", "max_attempts = 12");
    std::fs::write(env.root().join("config.toml"), text).unwrap();
    poll_ok(&env, &["--initial", "all"]);
    assert_eq!(queued(&env), ALL);
}

#[test]
fn a_second_poll_exits_at_once_while_one_holds_the_lock() {
    let env = TestEnv::new();
    let _sim = env.start_sim();
    let _held =
        pkgimport_queue::lock::try_lock(&env.state(), pkgimport_queue::lock::LockName::Poll)
            .unwrap()
            .unwrap();
    let log = poll_ok(&env, &["--initial", "all"]);
    assert!(log.contains("holds the poll lock"), "{log}");
    assert!(queued(&env).is_empty());
}

#[test]
fn credentials_must_be_private_and_never_shown() {
    let env = TestEnv::new();
    let _sim = env.start_sim();
    let creds = env.root().join("creds");
    std::fs::write(
        &creds,
        "[1]\nconsumer_key = package-importer\nconsumer_secret = \naccess_token = TOKEN-SEKRIT-1\naccess_secret = SECRET-SEKRIT-2\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o644)).unwrap();
    env.config_sections("", "");
    let text = std::fs::read_to_string(env.root().join("config.toml"))
        .unwrap()
        .replace(
            "[launchpad]\n",
            &format!(
                "[launchpad]\ncredentials_file = {:?}\n",
                creds.display().to_string()
            ),
        );
    std::fs::write(env.root().join("config.toml"), text).unwrap();
    let out = poll(&env, &["--initial", "all"]);
    assert_eq!(out.status.code(), Some(78), "{}", dump(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("0600")
            || String::from_utf8_lossy(&out.stderr).contains("mode"),
        "{}",
        dump(&out)
    );

    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = env
        .cmd("poll-uploads")
        .args(["--initial", "all"])
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", dump(&out));
    let show = env.ctl_ok(&["config", "show"]);
    for text in [dump(&out), show] {
        assert!(!text.contains("SEKRIT"), "a secret leaked: {text}");
    }
}

both_backends!(a_publication_dated_before_the_window_is_missed_by_polling_and_found_by_reconcile);
fn a_publication_dated_before_the_window_is_missed_by_polling_and_found_by_reconcile(
    env: &TestEnv,
) {
    let sim = env.start_sim();
    env.use_real_importer();
    poll_ok(env, &[]);
    // An upload, polled and imported: the sid watermark moves to Launchpad's now.
    sim.publish(&Publish {
        distribution: None,
        package: "authbind".into(),
        version: "2.1.3".into(),
        suite: "sid".into(),
        date_created: None,
        published: true,
    })
    .unwrap();
    poll_ok(env, &[]);
    assert_eq!(queued(env), ["authbind"]);
    env.drive(&[]);
    // Appears now, but dated two hours back: behind the 10-minute skew window.
    sim.publish(&Publish {
        distribution: None,
        package: "intel2gas".into(),
        version: "1.3.3-17".into(),
        suite: "sid".into(),
        date_created: Some(Utc::now() - ChronoDuration::hours(2)),
        published: true,
    })
    .unwrap();
    let log = poll_ok(env, &[]);
    assert!(queued(env).is_empty(), "{:?}", queued(env));
    assert_eq!(summary_field(&log, "enqueued"), 0, "{log}");

    let out = env.ctl(&["reconcile"]);
    assert!(out.status.success(), "{}", dump(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("missed by polling: package=intel2gas distribution=debian series=sid pocket=Release version=1.3.3-17"),
        "{}",
        dump(&out)
    );
    assert_eq!(summary_field(&stderr, "missed"), 1, "{stderr}");
    assert_eq!(summary_field(&stderr, "missing"), 1, "{stderr}");
    let q = env.ctl_json(&["queue"]);
    assert_eq!(q.as_array().unwrap().len(), 1, "{q}");
    assert_eq!(q[0]["package"], "intel2gas");
    assert_eq!(q[0]["priority"], 10, "rescan");

    // check warns: the skew window let a publication slip.
    env.store()
        .heartbeat("driver", "host", 1, pkgimport_queue::Timestamp::now())
        .unwrap();
    let out = env.ctl(&["check"]);
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{line}");
    assert!(
        line.starts_with(
            "PACKAGE-IMPORTER WARNING - 1 publications missed by polling at the last reconcile"
        ),
        "{line}"
    );
    assert!(line.contains(" reconcile_missed=1;0;;0"), "{line}");
    let metrics = env.ctl_ok(&["metrics"]);
    assert!(
        metrics.contains("\npkgimport_last_reconcile_missed_publications 1\n"),
        "{metrics}"
    );

    // Imported, the next reconcile finds nothing missing, and the warning clears.
    env.drive(&[]);
    let summary = env.ctl_json(&["reconcile"]);
    assert_eq!(summary["missing"], 0, "{summary}");
    assert_eq!(summary["missed"], 0, "{summary}");
    assert!(summary["publications"].as_u64().unwrap() >= 2, "{summary}");
    let out = env.ctl(&["check", "-w", "driver_age=~:1000000"]);
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        line.contains("0 publications missed by polling at the last reconcile"),
        "{line}"
    );
    assert_eq!(out.status.code(), Some(0), "{line}");
    // Asking for a series that no distribution has is a usage error.
    let out = env.ctl(&["reconcile", "--series", "nosuch"]);
    assert_eq!(out.status.code(), Some(64), "{}", dump(&out));
}

/// Reconciling more publications than one comparison batch holds, in two series, against
/// an audit that lacks one in a hundred: exactly those are found, and only their packages
/// are queued. A second reconcile finds them again, but no longer as missed by polling:
/// they are queued now.
#[test]
fn reconcile_finds_exactly_what_the_audit_lacks_across_batches_and_series() {
    const PACKAGES: u32 = 2100;
    let _alone = run_alone();
    let env = TestEnv::new();
    let _sim = env.start_synthetic_sim(PACKAGES, 2);
    let mut store = env.store();
    // Both partitions polled from the beginning, up to after every synthetic publication.
    let marks: Vec<NewWatermark> = ["sid", "trixie"]
        .into_iter()
        .map(|series| NewWatermark {
            distro: "debian".into(),
            series: series.into(),
            date_created: "2030-01-01T00:00:00+00:00".into(),
            polled_from: None,
        })
        .collect();
    store.finish_poll(&marks, &[]).unwrap();
    let mut lacking = Vec::new();
    for j in 0..PACKAGES {
        let name = format!("synth-{j:06}");
        if j % 100 == 50 {
            lacking.push(name);
            continue;
        }
        // lp-sim's synthetic package j lives in series j % 2, newest first.
        let series = ["sid", "trixie"][(j % 2) as usize];
        let oid = format!("{:040x}", j + 1);
        let staged = StagedAudit {
            refs: vec![StagedRef {
                name: format!("refs/heads/debian/{series}"),
                old: None,
                new: oid.clone(),
            }],
            versions: [("1.0".to_owned(), oid)].into(),
            publications: vec![PublicationRow {
                distro: "debian".into(),
                series: series.into(),
                pocket: "Release".into(),
                version: "1.0".into(),
                date_created: "2024-01-01T00:00:00+00:00".into(),
            }],
            ..StagedAudit::default()
        };
        let package = PackageName::parse(&name).unwrap();
        store.audit_stage(&package, &staged).unwrap();
        store.audit_mark(&package, None).unwrap();
        store.audit_commit(&package).unwrap();
        store.audit_unmark(&package).unwrap();
    }
    drop(store);

    let summary = env.ctl_json(&["reconcile"]);
    assert_eq!(summary["partitions"], 2, "{summary}");
    assert_eq!(summary["publications"], PACKAGES, "{summary}");
    assert_eq!(summary["missing"], lacking.len(), "{summary}");
    assert_eq!(summary["missed"], lacking.len(), "{summary}");
    assert_eq!(summary["enqueued"], lacking.len(), "{summary}");
    assert_eq!(queued(&env), lacking);
    let q = env.ctl_json(&["queue"]);
    assert!(
        q.as_array().unwrap().iter().all(|j| j["priority"] == 10),
        "every job at rescan: {q}"
    );

    let summary = env.ctl_json(&["reconcile"]);
    assert_eq!(summary["missing"], lacking.len(), "{summary}");
    assert_eq!(summary["missed"], 0, "queued, so not missed: {summary}");
    assert_eq!(summary["enqueued"], 0, "{summary}");
    assert_eq!(queued(&env), lacking);
}
