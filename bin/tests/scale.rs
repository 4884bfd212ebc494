//! The scale sweep's steps at a tiny size, checking correctness only (the timings
//! are `cargo xtask sweep`'s business and are never asserted). 20 synthetic packages are
//! imported from empty by `poll-uploads --initial all` and `driver --exit-when-idle`
//! running the real `import-one`; then a new series opens in lp-sim
//! (`SimHandle::open_series`: every package copied, same version), and a plain poll and
//! the driver run again. Everything must be imported with no failure, and every import of
//! the new series must be ref-only: one branch more on an existing commit, no new version
//! commit, no new tag.

use std::collections::BTreeMap;

use crate::util::{TestEnv, dump};

const PACKAGES: u32 = 20;

/// The `key=value` field of the last line of `text` that has one.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let needle = format!(" {key}=");
    let line = text.lines().rev().find(|l| l.contains(&needle))?;
    let start = line.find(&needle)? + needle.len();
    line[start..].split_whitespace().next()
}

fn poll(env: &TestEnv, args: &[&str]) -> String {
    let out = env.cmd("poll-uploads").args(args).output().unwrap();
    assert!(out.status.success(), "poll-uploads failed: {}", dump(&out));
    String::from_utf8(out.stderr).unwrap()
}

/// Every package's remote refs.
fn remotes(env: &TestEnv, packages: &[String]) -> BTreeMap<String, BTreeMap<String, String>> {
    packages
        .iter()
        .map(|p| (p.clone(), env.remote_refs(p)))
        .collect()
}

fn assert_no_failures(env: &TestEnv) {
    let failures = env.ctl_json(&["failures", "--all"]);
    assert_eq!(failures.as_array().unwrap().len(), 0, "{failures:#}");
}

#[test]
fn new_series_imports_are_ref_only() {
    let env = TestEnv::new();
    let sim = env.start_synthetic_sim(PACKAGES, 2);
    env.use_real_importer();

    // From empty.
    let stderr = poll(&env, &["--initial", "all"]);
    assert_eq!(field(&stderr, "publications"), Some("20"), "{stderr}");
    env.drive(&[]);
    assert_no_failures(&env);
    let outcomes = env.outcomes();
    assert_eq!(outcomes.len(), PACKAGES as usize, "{outcomes:?}");
    assert!(outcomes.values().all(|o| o == &["success"]), "{outcomes:?}");
    let packages: Vec<String> = outcomes.keys().cloned().collect();
    let before = remotes(&env, &packages);
    for (package, refs) in &before {
        let names: Vec<&str> = refs.keys().map(String::as_str).collect();
        // A package of sid, the development series, has the devel alias too; every ref has
        // its patches-applied twin (the synthetic packages have no patches).
        let want: &[&str] = if names.contains(&"refs/heads/importer/debian/sid") {
            &[
                "refs/heads/importer/applied/debian/devel",
                "refs/heads/importer/applied/debian/sid",
                "refs/heads/importer/debian/devel",
                "refs/heads/importer/debian/sid",
                "refs/tags/applied/1.0",
                "refs/tags/import/1.0",
            ]
        } else {
            &[
                "refs/heads/importer/applied/debian/trixie",
                "refs/heads/importer/debian/trixie",
                "refs/tags/applied/1.0",
                "refs/tags/import/1.0",
            ]
        };
        assert_eq!(names, want, "{package}");
    }

    // A new series opens with every package in it.
    let copied = sim
        .open_series(&pkgimport_lp_sim::OpenSeries {
            distribution: None,
            series: "forky".into(),
            copy_from: Vec::new(),
            date_created: None,
        })
        .unwrap();
    assert_eq!(copied, PACKAGES as usize);
    // The distribution has watermarks, so the new partition starts from the beginning
    // (the skew makes the poll see the newest publications of the old ones again, too).
    let stderr = poll(&env, &[]);
    let seen: u32 = field(&stderr, "publications").unwrap().parse().unwrap();
    assert!(seen >= PACKAGES, "{stderr}");
    env.drive(&[]);
    assert_no_failures(&env);
    let outcomes = env.outcomes();
    assert!(
        outcomes.values().all(|o| o == &["success", "success"]),
        "{outcomes:?}"
    );

    // Each import of the new series said it was ref-only...
    let runs = env.ctl_json(&["runs", "--limit", "20"]);
    for run in runs.as_array().unwrap() {
        let log = env.state().join(run["log_path"].as_str().unwrap());
        let log = std::fs::read_to_string(&log).unwrap();
        assert_eq!(field(&log, "versions_imported"), Some("0"), "{log}");
        assert_eq!(field(&log, "refs_updated"), Some("1"), "{log}");
    }
    // ...and the remotes agree: the same tags and branches, plus forky and its applied twin
    // on the same commit.
    let after = remotes(&env, &packages);
    for (package, refs) in &after {
        let mut expected = before[package].clone();
        let home = expected
            .iter()
            .find(|(name, _)| name.starts_with("refs/heads/"))
            .map(|(_, oid)| oid.clone())
            .unwrap();
        expected.insert("refs/heads/importer/debian/forky".into(), home.clone());
        expected.insert("refs/heads/importer/applied/debian/forky".into(), home);
        assert_eq!(refs, &expected, "{package}");
    }
    let verify = env.ctl(&["verify", "--all"]);
    assert_eq!(verify.status.code(), Some(0), "{}", dump(&verify));
}
