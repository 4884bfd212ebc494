//! Ubuntu and Debian imported together into one history per package, from the fixture
//! archive's real Debian uploads and the Ubuntu versions built from them.

use std::collections::BTreeMap;

use pkgimport_lp_sim::Publish;

use crate::util::*;

/// The packages with Ubuntu versions in the fixture archive.
const PACKAGES: [&str; 4] = ["hello", "libcap2", "intel2gas", "tgt"];

/// Ubuntu first, as the shipped default lists them.
const BOTH: [&str; 2] = ["ubuntu", "debian"];

fn tag(version: &str) -> String {
    format!(
        "refs/tags/import/{}",
        pkgimport_unpack::mangle_version(version)
    )
}

fn branch(name: &str) -> String {
    format!("refs/heads/importer/{name}")
}

/// The commit of version `version` of `package` on the remote.
fn commit(env: &TestEnv, package: &str, version: &str) -> String {
    env.remote_git(
        package,
        &["rev-parse", &format!("{}^{{commit}}", tag(version))],
    )
}

/// The parents of `rev`, space-separated.
fn parents(env: &TestEnv, package: &str, rev: &str) -> Vec<String> {
    env.remote_git(package, &["show", "-s", "--format=%P", rev])
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

both_backends!(ubuntu_and_debian_share_one_history);
fn ubuntu_and_debian_share_one_history(env: &TestEnv) {
    let _sim = env.start_sim();
    env.follow(&BOTH);
    for p in PACKAGES {
        env.import_ok(p);
    }

    // Each Ubuntu version's first parent is the Debian (or Ubuntu) version it came from.
    for (package, child, parent) in [
        ("hello", "2.10-2ubuntu1", "2.10-2"),
        ("hello", "2.10-2ubuntu1.1", "2.10-2ubuntu1"),
        ("hello", "2.10-3build1", "2.10-3"),
        ("hello", "2.10-3ubuntu1", "2.10-3"),
        ("hello", "2.12.3-1~24.04.1", "2.12.3-1"),
        // Launchpad created Debian's 1:2.78-1 a day after Ubuntu's merge of it.
        ("libcap2", "1:2.78-1ubuntu1", "1:2.78-1"),
        ("intel2gas", "1.3.3-17build1", "1.3.3-17"),
    ] {
        assert_eq!(
            parents(env, package, &tag(child)),
            [commit(env, package, parent)],
            "{package} {child}"
        );
    }

    // A version synced unchanged is one commit: the tag, Debian's branch and Ubuntu's
    // branches all name it.
    let hello = env.remote_refs("hello");
    let synced = commit(env, "hello", "2.12.3-1");
    assert_eq!(hello[&branch("debian/sid")], synced);
    assert_eq!(hello[&branch("ubuntu/resolute")], synced);
    let tgt = env.remote_refs("tgt");
    let tgt_sync = commit(env, "tgt", "1:1.0.85-1.3");
    for b in [
        "debian/sid",
        "debian/trixie",
        "ubuntu/questing",
        "ubuntu/resolute",
    ] {
        assert_eq!(tgt[&branch(b)], tgt_sync, "tgt {b}");
    }
    // Eight versions, and the patches-applied chain of the one with a quilt patch
    // (2.10-2ubuntu1.1's bound-greeting.patch).
    let versions = env.remote_git("hello", &["rev-list", "--all", "--count"]);
    assert_eq!(
        versions, "9",
        "one commit per version and per patch of hello, no more"
    );

    // Every pocket has its branch, at the version of its last publication.
    let at = |refs: &BTreeMap<String, String>, package: &str, name: &str, version: &str| {
        assert_eq!(
            refs.get(&branch(name)),
            Some(&commit(env, package, version)),
            "{package} {name}"
        );
    };
    at(&hello, "hello", "debian/bullseye", "2.10-2");
    at(&hello, "hello", "debian/bookworm", "2.10-3");
    at(&hello, "hello", "ubuntu/jammy", "2.10-2ubuntu1");
    at(&hello, "hello", "ubuntu/jammy-security", "2.10-2ubuntu1.1");
    at(&hello, "hello", "ubuntu/jammy-updates", "2.10-2ubuntu1.1");
    at(&hello, "hello", "ubuntu/noble", "2.10-3build1");
    at(
        &hello,
        "hello",
        "ubuntu/noble-backports",
        "2.12.3-1~24.04.1",
    );
    at(&hello, "hello", "ubuntu/questing", "2.10-3ubuntu1");
    let libcap2 = env.remote_refs("libcap2");
    at(
        &libcap2,
        "libcap2",
        "ubuntu/resolute-proposed",
        "1:2.78-1ubuntu1",
    );
    at(&libcap2, "libcap2", "ubuntu/resolute", "1:2.78-1ubuntu1");
    at(&libcap2, "libcap2", "debian/sid", "1:2.78-1");

    // The devel aliases: the newest version of the development series (sid; resolute).
    at(&hello, "hello", "debian/devel", "2.12.3-1");
    at(&hello, "hello", "ubuntu/devel", "2.12.3-1");
    at(&libcap2, "libcap2", "debian/devel", "1:2.78-1");
    at(&libcap2, "libcap2", "ubuntu/devel", "1:2.78-1ubuntu1");
    at(&tgt, "tgt", "ubuntu/devel", "1:1.0.85-1.3");
    let intel2gas = env.remote_refs("intel2gas");
    assert!(
        !intel2gas.contains_key(&branch("ubuntu/devel")),
        "intel2gas is not in resolute"
    );

    // verify covers both distributions, and the audit is the remote.
    let out = env.ctl(&["verify", "--all"]);
    assert!(out.status.success(), "{}", dump(&out));
    let show = env.ctl_json(&["show", "hello"]);
    let names: Vec<&str> = show["distributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["debian", "ubuntu"]);

    // The same archive imported into a second state directory gives the same refs.
    let other = env.new_like();
    let _other_sim = other.start_sim();
    other.follow(&BOTH);
    for p in PACKAGES {
        other.import_ok(p);
        assert_eq!(other.remote_refs(p), env.remote_refs(p), "{p}");
    }
}

both_backends!(a_sync_that_drops_ubuntus_delta_fast_forwards_the_ubuntu_branch);
fn a_sync_that_drops_ubuntus_delta_fast_forwards_the_ubuntu_branch(env: &TestEnv) {
    // The archive as it was before hello 2.12.3-1: resolute holds Ubuntu's 2.10-3ubuntu1.
    let sim = env.start_sim_with(|archive| {
        std::fs::copy(
            fixtures().join("demo-manifest.json"),
            archive.join("manifest.json"),
        )
        .unwrap();
    });
    env.follow(&BOTH);
    env.import_ok("hello");
    let before = env.remote_refs("hello");
    let delta = commit(env, "hello", "2.10-3ubuntu1");
    assert_eq!(before[&branch("ubuntu/resolute")], delta);
    assert_eq!(before[&branch("ubuntu/devel")], delta);

    // Debian uploads 2.12.3-1, and Ubuntu syncs it unchanged.
    for (distribution, suite) in [("debian", "sid"), ("ubuntu", "resolute")] {
        sim.publish(&Publish {
            package: "hello".into(),
            version: "2.12.3-1".into(),
            suite: suite.into(),
            distribution: Some(distribution.into()),
            date_created: None,
            published: true,
        })
        .unwrap();
    }
    let log = env.import_ok("hello");
    assert!(log.contains("publish_commits=2"), "{log}");
    let after = env.remote_refs("hello");
    let synced = commit(env, "hello", "2.12.3-1");
    assert_eq!(after[&branch("debian/sid")], synced, "a new Debian branch");
    for name in ["ubuntu/resolute", "ubuntu/devel"] {
        let tip = &after[&branch(name)];
        assert_ne!(tip, &synced, "{name}: not a jump back to Debian's commit");
        // A fast-forward: the old tip is the first parent, the sync the second, and the
        // tree is the synced version's.
        assert_eq!(
            parents(env, "hello", tip),
            [delta.clone(), synced.clone()],
            "{name}"
        );
        assert_eq!(
            env.remote_git("hello", &["rev-parse", &format!("{tip}^{{tree}}")]),
            env.remote_git("hello", &["rev-parse", &format!("{synced}^{{tree}}")]),
            "{name}"
        );
        assert!(
            env.remote_git("hello", &["show", "-s", "--format=%s", tip])
                .starts_with("Publish hello 2.12.3-1 on importer/"),
            "{name}"
        );
    }
    assert_eq!(
        env.remote_git(
            "hello",
            &["rev-parse", &format!("{}^{{commit}}", tag("2.12.3-1"))]
        ),
        synced,
        "the tag names the version's own commit"
    );
    // Re-running changes nothing; the remote and the audit agree.
    let again = env.import_ok("hello");
    assert!(again.contains("nothing to import"), "{again}");
    let out = env.ctl(&["verify", "hello"]);
    assert!(out.status.success(), "{}", dump(&out));
}

/// The tree of every version, Ubuntu's included, equals `dpkg-source -x --skip-patches`
/// plus `git add -A -f`.
#[test]
fn every_ubuntu_and_debian_tree_equals_dpkg_source_output() {
    let env = TestEnv::new();
    let _sim = env.start_sim();
    env.follow(&BOTH);
    for p in PACKAGES {
        env.import_ok(p);
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("archive/manifest.json")).unwrap())
            .unwrap();
    let mut checked = 0;
    for package in PACKAGES {
        for version in manifest[package].as_object().unwrap().keys() {
            let expected = dpkg_source_tree(&fixture_dsc(package, version));
            let actual = env.remote_git(
                package,
                &["rev-parse", &format!("{}^{{tree}}", tag(version))],
            );
            assert_eq!(actual, expected, "{package} {version}");
            checked += 1;
        }
    }
    assert_eq!(checked, 15, "every version of the four packages");
}
