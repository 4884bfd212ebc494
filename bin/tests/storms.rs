//! Launchpad fault storms: real polls and imports against `lp-sim` while it answers 502 and
//! 503 with `Retry-After`, answers too slowly, truncates JSON, sends HTML or a wrong
//! content type where JSON belongs, or points a page's `next_collection_link` at another
//! host.
//!
//! What must hold: imports complete (during a storm the client can ride out, or after the
//! storm ends for one it cannot), a run that meets the storm exits 69 with a one-line error
//! naming the fault, and no permanent failure is ever recorded for a transient fault
//! (`importctl failures --all` is empty, or every entry is transient). Each test prints one
//! `storm figures:` line with the requests the simulator served, for the reliability table.

use pkgimport_lp_sim::{FaultMode, FaultSettings, SimHandle};
use pkgimport_testkit::sim::set_faults;

use crate::util::*;

/// Replaces text in the config file that `TestEnv` wrote (its `[launchpad]` section is
/// fixed, and TOML allows a key once).
fn tune(env: &TestEnv, changes: &[(&str, &str)]) {
    let path = env.root().join("config.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (from, to) in changes {
        assert!(text.contains(from), "{from} not in {text}");
        text = text.replace(from, to);
    }
    std::fs::write(&path, text).unwrap();
}

/// A synthetic archive, the real importer, and a driver that re-queues quickly after a 69
/// and whose breaker opens briefly.
fn storm_env(packages: u32) -> (TestEnv, SimHandle, Vec<String>) {
    let env = TestEnv::new();
    // Three series at page size 2: the series listing has two pages.
    let sim = env.start_synthetic_sim(packages, 3);
    env.use_real_importer();
    env.config_sections(
        "unavailable_retry_delay = \"50ms\"\nheartbeat_interval = \"1s\"\n",
        "[breaker]\nopen_duration = \"200ms\"\nmax_open_duration = \"400ms\"\nprobe_lease = \"1m\"\n",
    );
    let names = (0..packages).map(|j| format!("synth-{j:06}")).collect();
    (env, sim, names)
}

fn poll(env: &TestEnv) -> std::process::Output {
    env.cmd("poll-uploads")
        .args(["--initial", "all"])
        .output()
        .unwrap()
}

/// No failure at all, or only transient ones.
fn assert_no_permanent_failure(env: &TestEnv) -> usize {
    let failures = env.ctl_json(&["failures", "--all"]);
    let failures = failures.as_array().unwrap();
    assert!(
        failures.iter().all(|f| f["transient"] == true),
        "a permanent failure for a transient fault: {failures:#?}"
    );
    failures.len()
}

/// Every package has its tag on the remote.
fn assert_all_imported(env: &TestEnv, names: &[String]) {
    for name in names {
        let refs = env.remote_refs(name);
        assert!(
            refs.keys().any(|r| r.starts_with("refs/tags/import/")),
            "{name} not imported: {refs:?}\n{}",
            env.ctl_ok(&["runs", "--limit", "50"])
        );
    }
}

fn served(sim: &SimHandle) -> (u64, u64) {
    let stats = sim.stats();
    let errors = stats
        .by_route
        .values()
        .flat_map(|by_status| by_status.iter())
        .filter(|(status, _)| **status >= 400)
        .map(|(_, n)| n)
        .sum();
    (stats.total, errors)
}

#[expect(clippy::print_stderr, reason = "the figures for docs/reliability.md")]
fn figures(storm: &str, sim: &SimHandle, extra: &str) {
    let (total, errors) = served(sim);
    eprintln!("storm figures: storm={storm} requests={total} error_answers={errors} {extra}");
}

/// 30% of answers are 502 (during the poll) or 503 (during the imports), each with
/// `Retry-After: 1`: the client's retries ride it out; whatever still fails is re-queued
/// after a 69, never recorded.
#[test]
fn thirty_percent_502_and_503_with_retry_after_lose_nothing() {
    let _alone = run_alone();
    let (env, sim, names) = storm_env(10);
    tune(
        &env,
        &[
            ("max_attempts = 3", "max_attempts = 5"),
            ("retry_after_cap = \"100ms\"", "retry_after_cap = \"20ms\""),
        ],
    );
    let flaky = |status| FaultSettings {
        error_rate: Some(0.3),
        status: Some(status),
        retry_after: Some(1),
        mode: FaultMode::Flaky,
        ..FaultSettings::default()
    };
    set_faults(&sim.base_url(), &flaky(502));
    let mut polls = 0;
    loop {
        polls += 1;
        let out = poll(&env);
        match out.status.code() {
            Some(0) => break,
            Some(69) if polls < 5 => continue,
            _ => panic!("poll under a 30% storm: {}", dump(&out)),
        }
    }
    assert_eq!(env.ctl_json(&["status"])["queued"], names.len());
    set_faults(&sim.base_url(), &flaky(503));
    env.drive(&["--concurrency", "2"]);
    let stats = sim.stats();
    assert!(
        stats.by_route.values().any(|s| s.contains_key(&502))
            && stats.by_route.values().any(|s| s.contains_key(&503)),
        "the storm did not happen: {stats:?}"
    );
    assert_all_imported(&env, &names);
    let failures = assert_no_permanent_failure(&env);
    assert_eq!(failures, 0, "{}", env.ctl_ok(&["failures", "--all"]));
    let unavailable = env
        .outcomes()
        .values()
        .flatten()
        .filter(|o| *o == "unavailable")
        .count();
    figures(
        "flaky-30%-502/503",
        &sim,
        &format!("polls={polls} unavailable_runs={unavailable} spurious_failures=0"),
    );
}

/// One storm that the client cannot ride out: every API answer is broken the same way.
struct Storm {
    name: &'static str,
    settings: FaultSettings,
    /// Part of the one-line error of an import that met it.
    signature: &'static str,
}

fn storms() -> Vec<Storm> {
    vec![
        Storm {
            name: "slow",
            // Past the 250 ms request timeout set below.
            settings: FaultSettings {
                delay_ms: Some(700),
                ..FaultSettings::default()
            },
            signature: "launchpad unavailable after 3 attempts",
        },
        Storm {
            name: "truncated_json",
            settings: FaultSettings {
                mode: FaultMode::TruncatedJson,
                ..FaultSettings::default()
            },
            signature: "malformed JSON",
        },
        Storm {
            name: "html_body",
            settings: FaultSettings {
                mode: FaultMode::HtmlBody,
                ..FaultSettings::default()
            },
            signature: "expected application/json, got text/html: Launchpad is offline for maintenance",
        },
        Storm {
            name: "wrong_content_type",
            settings: FaultSettings {
                mode: FaultMode::WrongContentType,
                ..FaultSettings::default()
            },
            signature: "expected application/json, got text/plain",
        },
        Storm {
            name: "foreign_next_link",
            settings: FaultSettings {
                mode: FaultMode::ForeignNextLink,
                ..FaultSettings::default()
            },
            signature: "leaves the configured api_root",
        },
    ]
}

/// Under each storm: `import-one` exits 69 with the storm's signature and `poll-uploads`
/// exits 69 without queueing; the driver re-queues the 69s (recording nothing) until the
/// storm ends, then imports everything.
#[test]
fn broken_answers_exit_69_record_nothing_and_import_after_the_storm() {
    let _alone = run_alone();
    for storm in storms() {
        let (env, sim, names) = storm_env(3);
        tune(
            &env,
            &[("request_timeout = \"5s\"", "request_timeout = \"250ms\"")],
        );
        set_faults(&sim.base_url(), &storm.settings);

        let out = env.import_one(&names[0]);
        assert_eq!(
            out.status.code(),
            Some(69),
            "{}: {}",
            storm.name,
            dump(&out)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        let error_lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("import-one: error:"))
            .collect();
        assert_eq!(error_lines.len(), 1, "{}: {stderr}", storm.name);
        assert!(
            error_lines[0].contains(storm.signature),
            "{}: {}",
            storm.name,
            error_lines[0]
        );

        let out = poll(&env);
        assert_eq!(
            out.status.code(),
            Some(69),
            "{}: {}",
            storm.name,
            dump(&out)
        );
        assert_eq!(env.ctl_json(&["status"])["queued"], 0, "{}", storm.name);

        let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        env.enqueue("upload", &name_refs);
        let driver = env.spawn_driver(&["--exit-when-idle", "--concurrency", "2"]);
        wait_for(30, "imports meeting the storm", || {
            env.outcomes()
                .values()
                .flatten()
                .filter(|o| *o == "unavailable")
                .count()
                >= 2
        });
        assert_no_permanent_failure(&env);
        let during = served(&sim).0;
        set_faults(&sim.base_url(), &FaultSettings::default());
        let out = driver.wait_with_output().unwrap();
        assert!(out.status.success(), "{}: {}", storm.name, dump(&out));
        assert_all_imported(&env, &names);
        assert_eq!(
            assert_no_permanent_failure(&env),
            0,
            "{}: {}",
            storm.name,
            env.ctl_ok(&["failures", "--all"])
        );
        let out = poll(&env);
        assert!(out.status.success(), "{}: {}", storm.name, dump(&out));
        let unavailable = env
            .outcomes()
            .values()
            .flatten()
            .filter(|o| *o == "unavailable")
            .count();
        figures(
            storm.name,
            &sim,
            &format!("during_storm={during} unavailable_runs={unavailable} spurious_failures=0"),
        );
    }
}
