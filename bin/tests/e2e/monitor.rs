//! importctl check (the Nagios plugin), metrics (Prometheus) and snapshot.

use pkgimport_core::{PackageName, Priority};
use pkgimport_queue::{Disposition, NewFailure, Outcome, RunEnd, Store, Timestamp};

use crate::util::*;

fn check(env: &TestEnv, args: &[&str]) -> (i32, String) {
    let out = env
        .cmd("importctl")
        .arg("check")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "not one line: {stdout:?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap(), stdout.trim_end().to_owned())
}

/// Checks the perfdata part against the plugin guidelines: `label=value[uom];warn;crit;min`.
fn assert_perfdata(line: &str) {
    let (_, perf) = line.split_once(" | ").expect("perfdata");
    for item in perf.split(' ') {
        let (label, rest) = item.split_once('=').unwrap();
        assert!(
            label.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{item}"
        );
        let fields: Vec<&str> = rest.split(';').collect();
        assert_eq!(fields.len(), 4, "{item}");
        let value = fields[0].trim_end_matches(['s', 'B']);
        assert!(value.parse::<f64>().is_ok(), "{item}");
        for range in &fields[1..3] {
            assert!(
                range.is_empty() || pkgimport_report::check::Range::parse(range).is_ok(),
                "{item}"
            );
        }
        assert_eq!(fields[3], "0", "{item}");
    }
}

fn healthy(env: &TestEnv) -> Store {
    let mut s = Store::open(&env.state()).unwrap();
    s.heartbeat("driver", "host", 1, Timestamp::now()).unwrap();
    s.set_counters(&[("last_poll_ok_ms", Timestamp::now().0)])
        .unwrap();
    s
}

fn fail(s: &mut Store, names: &[&str]) {
    let names: Vec<PackageName> = names
        .iter()
        .map(|n| PackageName::parse(n).unwrap())
        .collect();
    s.enqueue(&names, Priority::UPLOAD).unwrap();
    while let Some(c) = s.claim(1).unwrap() {
        let f = NewFailure {
            signature: "died".into(),
            tail: String::new(),
            transient: true,
        };
        s.finish_run(
            c.run_id,
            &RunEnd {
                outcome: Outcome::Died,
                exit_code: None,
                signal: Some(9),
                disposition: Disposition::Fail(f),
            },
        )
        .unwrap();
    }
}

#[test]
fn check_reports_each_of_its_four_states() {
    let env = TestEnv::new();
    // UNKNOWN: the check cannot read a state database.
    let (code, line) = check(&env, &[]);
    assert_eq!(code, 3, "{line}");
    assert!(
        line.starts_with("PACKAGE-IMPORTER UNKNOWN - no state database"),
        "{line}"
    );

    // CRITICAL: no driver has ever run.
    drop(Store::open(&env.state()).unwrap());
    let (code, line) = check(&env, &[]);
    assert_eq!(code, 2, "{line}");
    assert!(
        line.starts_with("PACKAGE-IMPORTER CRITICAL - driver never ran"),
        "{line}"
    );
    assert_perfdata(&line);

    // OK: a driver and a poll just now, nothing failing.
    let mut s = healthy(&env);
    let (code, line) = check(&env, &[]);
    assert_eq!(code, 0, "{line}");
    assert!(line.starts_with("PACKAGE-IMPORTER OK - "), "{line}");
    assert_perfdata(&line);

    // WARNING: 4 failures against a usual 2 (1.5x), but not 2x.
    env.config_sections("", "[check]\nfailure_baseline = 2\nfailure_floor = 0\n");
    fail(&mut s, &["a1", "a2", "a3", "a4"]);
    let (code, line) = check(&env, &[]);
    assert_eq!(code, 1, "{line}");
    assert!(
        line.starts_with("PACKAGE-IMPORTER WARNING - 4 failed (baseline 2)"),
        "{line}"
    );
    assert!(line.contains("failed=4;3;4;0"), "{line}");
    assert_perfdata(&line);
    // CRITICAL at 2x.
    fail(&mut s, &["a5"]);
    assert_eq!(check(&env, &[]).0, 2);
    // Thresholds from the command line, in range syntax.
    assert_eq!(check(&env, &["-w", "failed=10", "-c", "failed=20"]).0, 0);
    assert_eq!(check(&env, &["-c", "failed=@0:100"]).0, 2);
    let (code, line) = check(&env, &["-w", "bogus=1"]);
    assert_eq!(code, 3, "{line}");
    // A broken config is the check's own failure: UNKNOWN, not 78.
    env.config_sections("", "[check]\nbogus = 1\n");
    let (code, line) = check(&env, &[]);
    assert_eq!(code, 3, "{line}");
}

#[test]
fn the_failure_baseline_is_the_median_of_daily_snapshots() {
    let env = TestEnv::new();
    env.config_sections("", "[check]\nfailure_floor = 0\n");
    let mut s = healthy(&env);
    fail(&mut s, &["a1", "a2"]);
    let out = env.ctl_ok(&["snapshot"]);
    assert!(out.contains("2 failed"), "{out}");
    // Baseline 2 from the snapshot; 3 failures is not 1.5x; 4 would be.
    fail(&mut s, &["a3"]);
    let (code, line) = check(&env, &[]);
    assert_eq!(code, 0, "{line}");
    assert!(line.contains("(baseline 2)"), "{line}");
    fail(&mut s, &["a4"]);
    assert_eq!(check(&env, &[]).0, 1);
}

/// A small exposition-format checker: HELP and TYPE before samples, valid names and
/// labels, numeric values, histograms with cumulative buckets ending in +Inf = _count.
fn assert_exposition(text: &str) {
    let mut typed: std::collections::BTreeMap<String, String> = Default::default();
    let mut buckets: Vec<f64> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(
                typed.insert(name.to_owned(), kind.to_owned()).is_none(),
                "TYPE twice: {line}"
            );
            buckets.clear();
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && name.starts_with("pkgimport_"),
            "{line}"
        );
        assert!(
            !series.contains("package="),
            "no per-package labels: {line}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|f| typed.get(*f).is_some_and(|k| k == "histogram"));
        let family = family.unwrap_or(name);
        let kind = typed
            .get(family)
            .unwrap_or_else(|| panic!("sample before its TYPE: {line}"));
        if kind == "counter" {
            assert!(family.ends_with("_total"), "counters end in _total: {line}");
        }
        if name.ends_with("_bucket") {
            assert!(
                buckets.last().is_none_or(|b| *b <= value),
                "buckets must be cumulative: {line}"
            );
            buckets.push(value);
        }
        if name.ends_with("_count") && kind == "histogram" {
            assert_eq!(
                buckets.last().copied(),
                Some(value),
                "+Inf bucket equals _count"
            );
        }
        let labels = series.strip_prefix(name).unwrap_or("");
        if !labels.is_empty() {
            assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
            for pair in labels[1..labels.len() - 1].split(',') {
                let (k, v) = pair.split_once('=').unwrap();
                assert!(
                    k.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{line}"
                );
                assert!(v.starts_with('"') && v.ends_with('"'), "{line}");
            }
        }
    }
    for required in [
        "pkgimport_jobs",
        "pkgimport_runs_total",
        "pkgimport_run_duration_seconds",
        "pkgimport_oldest_queued_job_age_seconds",
        "pkgimport_breaker_state",
        "pkgimport_breaker_transitions_total",
        "pkgimport_launchpad_requests_total",
        "pkgimport_launchpad_retries_total",
        "pkgimport_sqlite_wal_bytes",
        "pkgimport_patch_warnings",
    ] {
        assert!(typed.contains_key(required), "missing {required}");
    }
}

#[test]
fn metrics_are_valid_exposition_format_and_the_textfile_is_written_atomically() {
    let env = TestEnv::new();
    let mut s = healthy(&env);
    fail(&mut s, &["a1"]);
    env.enqueue("upload", &["b1", "b2"]);
    env.drive(&[]);
    let text = env.ctl_ok(&["metrics"]);
    assert_exposition(&text);
    assert!(
        text.contains("pkgimport_runs_total{outcome=\"success\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("pkgimport_runs_total{outcome=\"died\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("pkgimport_run_duration_seconds_count 3"),
        "{text}"
    );
    assert!(
        text.contains("pkgimport_jobs{state=\"failed\"} 1"),
        "{text}"
    );
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/operations.md"
    ))
    .unwrap();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap();
            assert!(
                docs.contains(&format!("`{name}`")),
                "docs/operations.md does not document the metric {name}"
            );
        }
    }

    let dir = env.root().join("textfile");
    std::fs::create_dir_all(&dir).unwrap();
    env.ctl_ok(&["metrics", "--textfile", dir.to_str().unwrap()]);
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files, ["package-importer.prom"]);
    assert_exposition(&std::fs::read_to_string(dir.join("package-importer.prom")).unwrap());
}

#[test]
fn report_writes_a_static_site_for_real_imports() {
    let env = TestEnv::new();
    let _sim = env.start_sim();
    let out = env.import_one("hello");
    assert!(out.status.success(), "{}", dump(&out));
    let site = env.root().join("site");
    let text = env.ctl_ok(&["report", "--out", site.to_str().unwrap()]);
    assert!(text.contains("report in"), "{text}");
    let index = std::fs::read_to_string(site.join("index.html")).unwrap();
    assert!(
        index.contains("hello") && !index.contains("<script"),
        "{index}"
    );
    let page = std::fs::read_to_string(site.join("packages/hello.html")).unwrap();
    for needle in [
        "importer/debian/sid",
        "2.12.3-1",
        "importer/debian/bookworm",
        "2.10-3",
    ] {
        assert!(
            page.contains(needle),
            "{needle} missing from the package page"
        );
    }
    assert!(index.contains("Freshness by series"), "{index}");

    // The same per-series figures in importctl status, text and JSON.
    let status = env.ctl_json(&["status"]);
    let sid = status["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["distribution"] == "debian" && s["series"] == "sid")
        .unwrap_or_else(|| panic!("no debian/sid in {status}"));
    assert_eq!(sid["packages"], 1, "{sid}");
    assert_eq!(sid["out_of_date"], 0, "{sid}");
    assert!(sid["newest_imported"].is_string(), "{sid}");
    assert_eq!(sid["lag_s"], 0, "{sid}");
    let text = env.ctl_ok(&["status"]);
    assert!(
        text.lines()
            .any(|l| l.starts_with("series:   debian/sid ")
                && l.contains(" packages 1, out of date 0,")),
        "{text}"
    );

    // A second run replaces the site whole.
    env.ctl_ok(&["report", "--out", site.to_str().unwrap()]);
    let siblings: Vec<String> = std::fs::read_dir(env.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        !siblings.iter().any(|n| n.starts_with("site.")),
        "{siblings:?}"
    );
}
