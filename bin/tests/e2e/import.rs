//! import-one against the Launchpad simulator: real imports into git, determinism, the
//! no-op run, ref-only imports, a tampered remote, corrupt and hostile input, and recovery
//! from a crash at every fault point.

use std::collections::BTreeMap;
use std::path::Path;

use pkgimport_lp_sim::Publish;
use pkgimport_testkit::sim::set_fault_mode;

use crate::util::*;

const PACKAGES: [&str; 8] = FIXTURE_PACKAGES;

fn all_refs(env: &TestEnv) -> BTreeMap<String, BTreeMap<String, String>> {
    PACKAGES
        .iter()
        .map(|p| (p.to_string(), env.remote_refs(p)))
        .collect()
}

/// The committed audit of a package equals its remote, and nothing is left in flight.
fn assert_consistent(env: &TestEnv, package: &str) {
    let mut s = env.store();
    let name = pkgimport_core::PackageName::parse(package).unwrap();
    let audit = s.audit(&name).unwrap();
    assert_eq!(
        audit.phase,
        pkgimport_audit::Phase::Idle,
        "{package} left in flight"
    );
    assert_eq!(
        audit.refs,
        env.remote_refs(package),
        "{package}: remote and audit differ"
    );
    assert!(s.packages_in_flight().unwrap().is_empty());
}

both_backends!(the_whole_fixture_history_imports_with_the_same_hashes_in_two_state_directories);
fn the_whole_fixture_history_imports_with_the_same_hashes_in_two_state_directories(
    first: &TestEnv,
) {
    let second = first.new_like();
    let mut results = Vec::new();
    for env in [first, &second] {
        let _sim = env.start_sim();
        env.use_real_importer();
        let out = env
            .cmd("poll-uploads")
            .args(["--initial", "all"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", dump(&out));
        env.drive(&["--concurrency", "2"]);
        assert_eq!(
            env.ctl_json(&["status"])["failed"],
            0,
            "{}",
            env.ctl_ok(&["failures"])
        );
        for p in PACKAGES {
            assert_consistent(env, p);
        }
        results.push(all_refs(env));
    }
    assert_eq!(results[0], results[1], "imports are not deterministic");
    let hello = &results[0]["hello"];
    for r in [
        "refs/heads/importer/debian/bullseye",
        "refs/heads/importer/debian/bookworm",
        "refs/heads/importer/debian/sid",
        "refs/tags/import/2.10-2",
        "refs/tags/import/2.10-3",
        "refs/tags/import/2.12.3-1",
    ] {
        assert!(hello.contains_key(r), "hello lacks {r}: {hello:?}");
    }
    assert_eq!(
        hello["refs/heads/importer/debian/sid"],
        hello["refs/tags/import/2.12.3-1"]
    );
    // DEP-14: the epoch's ':' becomes '%', '~' becomes '_'.
    assert!(
        results[0]["libcap2"].contains_key("refs/tags/import/1%2.78-1"),
        "{:?}",
        results[0]["libcap2"]
    );
    assert!(
        results[0]["golang-golang-x-term"]
            .contains_key("refs/tags/import/0.0_git20201210.2321bbc-1")
    );
    // Pockets other than Release get their own branch.
    assert!(
        results[0]["golang-golang-x-term"]
            .contains_key("refs/heads/importer/debian/bookworm-security")
    );
}

both_backends!(commits_carry_the_changelog_and_the_changelog_parent);
fn commits_carry_the_changelog_and_the_changelog_parent(env: &TestEnv) {
    let _sim = env.start_sim();
    env.import_ok("hello");
    let git = env.state().join("remote/hello.git");
    let show = |rev: &str, format: &str| {
        let out = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(&git)
            .args(["log", "-1", &format!("--format={format}"), rev])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    assert_eq!(
        show("import/2.12.3-1", "%an <%ae>"),
        "Santiago Vila <sanvila@debian.org>"
    );
    assert_eq!(
        show("import/2.12.3-1", "%cn <%ce>"),
        "package-importer <package-importer@localhost>"
    );
    assert_eq!(
        show("import/2.12.3-1", "%ad"),
        show("import/2.12.3-1", "%cd")
    );
    assert!(show("import/2.12.3-1", "%B").starts_with("Import hello 2.12.3-1\n\nhello (2.12.3-1)"));
    assert_eq!(
        show("import/2.12.3-1", "%P"),
        show("import/2.10-3", "%H"),
        "changelog parent"
    );
    assert_eq!(show("import/2.10-3", "%P"), show("import/2.10-2", "%H"));
    assert_eq!(
        show("import/2.10-2", "%P"),
        "",
        "the oldest import is a root"
    );
}

both_backends!(a_noop_rerun_asks_one_history_query_per_distribution_and_nothing_else);
fn a_noop_rerun_asks_one_history_query_per_distribution_and_nothing_else(env: &TestEnv) {
    let sim = env.start_sim();
    env.follow(&["ubuntu", "debian"]);
    env.import_ok("hello");
    let before = env.remote_refs("hello");
    sim.reset_stats();
    let log = env.import_ok("hello");
    assert!(log.contains("nothing to import"), "{log}");
    let stats = sim.stats();
    // hello has 3 publications in Debian and 8 in Ubuntu, and the test pages hold 2: one
    // query per distribution, followed to its last page, whatever the number of series.
    assert_eq!(
        stats.route_total("getPublishedSources"),
        2 + 4,
        "one query per distribution, and its pages: {stats:?}"
    );
    assert_eq!(
        stats.total, 6,
        "nothing else, not even the series: {stats:?}"
    );
    assert_eq!(env.remote_refs("hello"), before);
}

both_backends!(a_version_copied_to_a_new_series_is_a_ref_update_only);
fn a_version_copied_to_a_new_series_is_a_ref_update_only(env: &TestEnv) {
    let sim = env.start_sim();
    env.import_ok("hello");
    let before = env.remote_refs("hello");
    sim.publish(&Publish {
        distribution: None,
        package: "hello".into(),
        version: "2.12.3-1".into(),
        suite: "forky".into(),
        date_created: None,
        published: true,
    })
    .unwrap();
    sim.reset_stats();
    let log = env.import_ok("hello");
    assert!(log.contains("versions_imported=0 refs_updated=1"), "{log}");
    let stats = sim.stats();
    assert_eq!(
        stats.route_total("sourceFileUrls") + stats.route_total("librarian"),
        0,
        "downloaded: {stats:?}"
    );
    let after = env.remote_refs("hello");
    assert_eq!(
        after["refs/heads/importer/debian/forky"],
        before["refs/tags/import/2.12.3-1"]
    );
    // And its patches-applied twin (hello's Debian versions have no patches: the chain is
    // the version's own commit).
    assert_eq!(
        after["refs/heads/importer/applied/debian/forky"],
        before["refs/tags/applied/2.12.3-1"]
    );
    assert_eq!(after.len(), before.len() + 2);
    assert_consistent(env, "hello");
}

both_backends!(a_lost_work_repository_is_refilled_from_the_remote);
/// The work repository is a cache: deleted (or, with a shared database, never on this host),
/// it is fetched from the remote before a ref update or a new commit needs its history.
fn a_lost_work_repository_is_refilled_from_the_remote(env: &TestEnv) {
    let sim = env.start_sim();
    env.import_ok("hello");
    std::fs::remove_dir_all(env.state().join("work/hello.git")).unwrap();
    sim.publish(&Publish {
        distribution: None,
        package: "hello".into(),
        version: "2.12.3-1".into(),
        suite: "forky".into(),
        date_created: None,
        published: true,
    })
    .unwrap();
    let log = env.import_ok("hello");
    assert!(log.contains("lacks imported commits"), "{log}");
    assert!(log.contains("versions_imported=0 refs_updated=1"), "{log}");
    assert_consistent(env, "hello");
}

both_backends!(a_push_interrupted_on_a_lost_host_is_imported_afresh);
/// A run dies between its critical mark and its push, and its work repository goes with it
/// (a host that vanished): the next run, anywhere, finds the staged commits neither in its
/// work repository nor on the remote, so the push never happened; it drops it and imports
/// the same commits again.
fn a_push_interrupted_on_a_lost_host_is_imported_afresh(env: &TestEnv) {
    let reference = env.new_like();
    let _reference_sim = reference.start_sim();
    reference.import_ok("hello");

    let _sim = env.start_sim();
    let out = env
        .cmd("import-one")
        .arg("hello")
        .env("PKGIMPORT_FAULT", "after-mark")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the fault did not fire: {}",
        dump(&out)
    );
    std::fs::remove_dir_all(env.state().join("work/hello.git")).unwrap();
    let log = env.import_ok("hello");
    assert!(log.contains("dropped an interrupted push"), "{log}");
    assert_eq!(env.remote_refs("hello"), reference.remote_refs("hello"));
    assert_consistent(env, "hello");
}

both_backends!(a_tampered_remote_is_detected_and_never_overwritten);
fn a_tampered_remote_is_detected_and_never_overwritten(env: &TestEnv) {
    let sim = env.start_sim();
    env.import_ok("hello");
    let out = env.ctl(&["verify", "hello"]);
    assert_eq!(out.status.code(), Some(0), "{}", dump(&out));

    // Someone points the sid branch elsewhere.
    let git = env.state().join("remote/hello.git");
    let ok = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(&git)
        .args([
            "update-ref",
            "refs/heads/importer/debian/sid",
            "refs/tags/import/2.10-2",
        ])
        .status()
        .unwrap();
    assert!(ok.success());
    let tampered = env.remote_refs("hello");
    let out = env.ctl(&["verify", "hello", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", dump(&out));
    let mismatches: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(mismatches[0]["ref"], "refs/heads/importer/debian/sid");
    assert_eq!(
        mismatches[0]["actual"],
        tampered["refs/heads/importer/debian/sid"].as_str()
    );

    // A new upload to sid must not be pushed over the tampering.
    sim.publish(&Publish {
        distribution: None,
        package: "hello".into(),
        version: "2.10-3".into(),
        suite: "sid".into(),
        date_created: None,
        published: true,
    })
    .unwrap();
    let out = env.import_one("hello");
    assert_eq!(out.status.code(), Some(65), "{}", dump(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("remote diverged: refs/heads/importer/debian/sid"),
        "{}",
        dump(&out)
    );
    assert_eq!(env.remote_refs("hello"), tampered, "the remote was changed");
    assert!(env.store().packages_in_flight().unwrap().is_empty());

    // A human resolves it; then imports flow again.
    env.ctl_ok(&["reset", "hello", "--restore"]);
    assert_eq!(env.ctl(&["verify", "hello"]).status.code(), Some(0));
    env.import_ok("hello");
    assert_consistent(env, "hello");
}

both_backends!(adopting_the_remote_makes_the_audit_follow_it);
fn adopting_the_remote_makes_the_audit_follow_it(env: &TestEnv) {
    let _sim = env.start_sim();
    env.import_ok("hello");
    let git = env.state().join("remote/hello.git");
    assert!(
        std::process::Command::new("git")
            .arg("--git-dir")
            .arg(&git)
            .args([
                "update-ref",
                "refs/heads/importer/debian/sid",
                "refs/tags/import/2.10-3"
            ])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(env.ctl(&["verify", "hello"]).status.code(), Some(2));
    env.ctl_ok(&["reset", "hello", "--adopt-remote"]);
    assert_eq!(env.ctl(&["verify", "--all"]).status.code(), Some(0));
}

both_backends!(a_corrupt_download_exits_65_and_pushes_nothing);
fn a_corrupt_download_exits_65_and_pushes_nothing(env: &TestEnv) {
    let _sim = env.start_sim_with(|archive| {
        // Same size, other bytes: Launchpad's metadata and the .dsc both disagree now.
        let f = archive.join("hello/hello_2.10.orig.tar.gz");
        let len = std::fs::metadata(&f).unwrap().len() as usize;
        std::fs::write(&f, vec![b'x'; len]).unwrap();
    });
    let out = env.import_one("hello");
    assert_eq!(out.status.code(), Some(65), "{}", dump(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("checksum") || err.contains("sha256"), "{err}");
    assert!(
        !env.state().join("remote/hello.git").exists(),
        "something was pushed"
    );
    assert!(env.store().packages_in_flight().unwrap().is_empty());
}

/// A `3.0 (native)` package whose tarball is given, with a real `.dsc`, added to the
/// simulator's archive and manifest.
fn add_native_package(archive: &Path, name: &str, version: &str, tar: Vec<u8>) {
    let tarball = pkgimport_testkit::compress(&tar, "gz");
    let file = format!("{name}_{version}.tar.gz");
    pkgimport_testkit::write_package(
        &archive.join(name),
        name,
        version,
        "3.0 (native)",
        &[(&file, &tarball)],
    );
    let manifest_path = archive.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    manifest[name] =
        serde_json::json!({ version: { "format": "3.0 (native)", "suites": ["sid"] } });
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
}

fn changelog(name: &str, version: &str) -> Vec<u8> {
    format!("{name} ({version}) unstable; urgency=low\n\n  * Test.\n\n -- T <t@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n").into_bytes()
}

both_backends!(hostile_tarballs_are_refused_and_nothing_is_written_outside);
fn hostile_tarballs_are_refused_and_nothing_is_written_outside(env: &TestEnv) {
    let outside = env.root().join("outside");
    let _sim = env.start_sim_with(|archive| {
        let mut t = pkgimport_testkit::Tar::new();
        t.dir("escape-1/")
            .file(
                "escape-1/debian/changelog",
                0o644,
                &changelog("escape", "1"),
            )
            .file("escape-1/../../outside/escaped", 0o644, b"gotcha");
        add_native_package(archive, "escape", "1", t.finish());
        let mut t = pkgimport_testkit::Tar::new();
        t.dir("abslink-1/")
            .file(
                "abslink-1/debian/changelog",
                0o644,
                &changelog("abslink", "1"),
            )
            .symlink("abslink-1/link", "/etc")
            .file("abslink-1/link/passwd", 0o644, b"gotcha");
        add_native_package(archive, "abslink", "1", t.finish());
    });
    env.use_real_importer();
    env.enqueue("upload", &["escape", "abslink", "hello"]);
    env.drive(&[]);
    let failures = env.ctl_json(&["failures", "--all"]);
    let sig = |p: &str| {
        failures
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["package"] == p)
            .map(|f| f["signature"].as_str().unwrap().to_owned())
    };
    let escape = sig("escape").expect("escape must fail");
    let abslink = sig("abslink").expect("abslink must fail");
    assert!(
        escape.contains("..") || escape.contains("unsafe") || escape.contains("escape"),
        "{escape}"
    );
    assert!(
        abslink.contains("symlink") || abslink.contains("unsafe") || abslink.contains("through"),
        "{abslink}"
    );
    assert!(
        failures
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["transient"] == false)
    );
    assert_eq!(sig("hello"), None, "another package was affected");
    assert!(!outside.exists(), "a file was written outside");
    assert!(!Path::new("/etc/passwd-gotcha").exists());
    assert!(!env.state().join("remote/escape.git").exists());
    assert!(!env.state().join("remote/abslink.git").exists());
}

both_backends!(a_crash_at_every_fault_point_recovers_to_the_uninterrupted_result);
fn a_crash_at_every_fault_point_recovers_to_the_uninterrupted_result(reference: &TestEnv) {
    let _sim = reference.start_sim();
    reference.import_ok("hello");
    let expected = reference.remote_refs("hello");

    for point in pkgimport_importer::import::FAULT_POINTS {
        let env = reference.new_like();
        let _sim = env.start_sim();
        let out = env
            .cmd("import-one")
            .arg("hello")
            .env("PKGIMPORT_FAULT", point)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{point}: the fault did not fire: {}",
            dump(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(point),
            "{point}: {}",
            dump(&out)
        );
        env.import_ok("hello");
        assert_eq!(
            env.remote_refs("hello"),
            expected,
            "{point}: remote differs from an uninterrupted import"
        );
        assert_consistent(&env, "hello");
        // No duplicated commits: exactly one commit per version in the remote.
        let count = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(env.state().join("remote/hello.git"))
            .args(["rev-list", "--all", "--count"])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&count.stdout).trim(),
            "3",
            "{point}"
        );
        // And a third run has nothing to do.
        assert!(
            env.import_ok("hello").contains("nothing to import"),
            "{point}"
        );
    }
}

both_backends!(a_held_package_lock_gives_73);
fn a_held_package_lock_gives_73(env: &TestEnv) {
    let _sim = env.start_sim();
    // The package's exclusion as import-one takes it: the lock file on SQLite; on
    // PostgreSQL the database's advisory lock, which must exclude every host, so it is
    // taken from another host's state directory.
    let other_host = env.database_url().map(|_| env.another_host());
    let holder = other_host.as_ref().unwrap_or(env);
    let name = pkgimport_core::PackageName::parse("hello").unwrap();
    let _held = holder
        .store()
        .lock_package(&holder.state(), &name)
        .unwrap()
        .unwrap();
    let out = env.import_one("hello");
    assert_eq!(out.status.code(), Some(73), "{}", dump(&out));
    let out = env.import_one("../../etc/passwd");
    assert_eq!(out.status.code(), Some(65), "{}", dump(&out));
}

/// The tree of every imported version equals `dpkg-source -x --skip-patches` plus
/// `git add -A -f`: the commit path (the pack writer), not only the unpacker, matches dpkg.
#[test]
fn every_imported_tree_equals_dpkg_source_output() {
    let env = TestEnv::new();
    let _sim = env.start_sim();
    for p in PACKAGES {
        env.import_ok(p);
    }
    let mut checked = 0;
    // Debian's versions: the distribution the tests configure.
    for (package, versions) in debian_fixture_versions() {
        for version in &versions {
            let expected = dpkg_source_tree(&fixture_dsc(&package, version));
            let tag = format!(
                "refs/tags/import/{}",
                pkgimport_unpack::mangle_version(version)
            );
            let actual = env.remote_git(&package, &["rev-parse", &format!("{tag}^{{tree}}")]);
            assert_eq!(actual, expected, "{package} {version}");
            checked += 1;
        }
    }
    assert!(checked >= 21, "only {checked} versions checked");
}

/// Each run that imports versions adds a pack to the work repository; at 16 the run
/// repacks it into one, keeping everything the refs reach.
#[test]
fn a_work_repository_with_many_packs_is_repacked_into_one() {
    use pkgimport_git::{CommitSpec, Entry, GitDir, Mode, PackWriter, Signature};
    let env = TestEnv::new();
    let _sim = env.start_sim();
    // Fifteen packs from earlier runs, each holding a commit that no ref reaches any more.
    let repo =
        GitDir::open_or_init(env.state().join("work/hello.git"), Default::default()).unwrap();
    let who = Signature {
        name: "Old Run".into(),
        email: "old@example.org".into(),
        time: 1_600_000_000,
        offset: pkgimport_git::TzOffset::UTC,
    };
    for i in 0..15 {
        let mut pack = PackWriter::start(&repo).unwrap();
        let content = format!("leftover {i}\n");
        let spec = CommitSpec {
            author: &who,
            committer: &who,
            message: b"leftover\n",
            parents: &[],
            update_ref: None,
        };
        let entry = Entry {
            path: "file",
            mode: Mode::File,
            data: content.as_bytes(),
        };
        pack.commit(&spec, [entry]).unwrap();
        pack.finish().unwrap();
    }
    assert_eq!(repo.pack_count().unwrap(), 15);
    let log = env.import_ok("hello");
    assert!(
        log.contains("repacked the work repository (16 packs into one)"),
        "{log}"
    );
    assert_eq!(repo.pack_count().unwrap(), 1);
    assert_consistent(&env, "hello");
    // Every imported version is still there, and the work repository is whole.
    for (name, oid) in env.remote_refs("hello") {
        assert_eq!(
            repo.read_ref(&name).unwrap().map(|o| o.to_hex()),
            Some(oid),
            "{name}"
        );
    }
    let fsck = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(repo.path())
        .args(["fsck", "--strict", "--no-dangling", "--no-progress"])
        .output()
        .unwrap();
    assert!(fsck.status.success(), "{}", dump(&fsck));
}

#[test]
fn a_file_shared_by_versions_is_downloaded_once() {
    let env = TestEnv::new();
    let sim = env.start_sim();
    env.import_ok("hello");
    // hello 2.10-2 and 2.10-3 share hello_2.10.orig.tar.gz (and its .asc): every file of
    // the package's Debian versions is fetched exactly once.
    let files = debian_fixture_files("hello").len() as u64;
    assert_eq!(
        sim.stats().count("librarian", 200),
        files,
        "{:?}",
        sim.stats()
    );
}

both_backends!(launchpad_down_or_an_unreachable_remote_exit_69_and_record_nothing);
fn launchpad_down_or_an_unreachable_remote_exit_69_and_record_nothing(env: &TestEnv) {
    let sim = env.start_sim();
    set_fault_mode(&sim.base_url(), &pkgimport_lp_sim::FaultMode::Down);
    let out = env.import_one("hello");
    assert_eq!(out.status.code(), Some(69), "{}", dump(&out));
    set_fault_mode(&sim.base_url(), &pkgimport_lp_sim::FaultMode::Ok);

    // A remote nobody answers: ssh to a closed port on this machine.
    env.config_sections(
        "",
        "[git]\nremote = \"ssh://127.0.0.1:1/{package}.git\"\nnetwork_timeout = \"5s\"\n",
    );
    let out = env.import_one("hello");
    assert_eq!(out.status.code(), Some(69), "{}", dump(&out));
    // The push is marked and waits: once the remote is back, the next run finishes it.
    env.config("");
    env.import_ok("hello");
    assert_consistent(env, "hello");
}
