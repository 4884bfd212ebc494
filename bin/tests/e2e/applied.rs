//! Patches-applied chains: every version's `applied/<version>` tag holds the tree that
//! `dpkg-source -x` leaves (without `.pc`), each quilt patch is one commit on
//! `importer/applied/...`, a series that does not apply moves none of those refs while the
//! version itself imports, and `import.applied = false` writes none of them.

use std::collections::BTreeMap;

use crate::util::*;

/// Ubuntu first, as the shipped default lists them.
const BOTH: [&str; 2] = ["ubuntu", "debian"];

/// The Ubuntu version of the fixture archive whose series has a patch that does not apply,
/// and that patch.
const BROKEN: (&str, &str) = (
    "0.12.2-1ubuntu1",
    "0003-CVE-2025-4877-base64-Prevent-integer-overflow-and-po.patch",
);

fn applied_tag(version: &str) -> String {
    format!(
        "refs/tags/applied/{}",
        pkgimport_unpack::mangle_version(version)
    )
}

fn import_tag(version: &str) -> String {
    format!(
        "refs/tags/import/{}",
        pkgimport_unpack::mangle_version(version)
    )
}

fn is_applied(name: &str) -> bool {
    name.starts_with("refs/heads/importer/applied/") || name.starts_with("refs/tags/applied/")
}

/// Every version of the fixture archive: package → versions.
fn fixture_versions() -> BTreeMap<String, Vec<String>> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("archive/manifest.json")).unwrap())
            .unwrap();
    manifest
        .as_object()
        .unwrap()
        .iter()
        .map(|(p, vs)| (p.clone(), vs.as_object().unwrap().keys().cloned().collect()))
        .collect()
}

/// The tree of every version's `applied/` tag equals `dpkg-source -x`'s, without `.pc`,
/// plus `git add -A -f`; the one version whose series does not apply has no tag, and
/// `dpkg-source -x` refuses it too.
#[test]
fn every_applied_tag_equals_dpkg_source_x_without_its_pc() {
    let env = TestEnv::new();
    let _sim = env.start_sim();
    env.follow(&BOTH);
    let versions = fixture_versions();
    for package in versions.keys() {
        env.import_ok(package);
    }
    let mut checked = 0;
    for (package, list) in &versions {
        let refs = env.remote_refs(package);
        for version in list {
            let work = tempfile::tempdir().unwrap();
            let dest = work.path().join("src");
            let mut dpkg = std::process::Command::new("dpkg-source");
            dpkg.args(["--no-check", "-x"])
                .arg(fixture_dsc(package, version))
                .arg(&dest)
                .env("LC_ALL", "C");
            if (package.as_str(), version.as_str()) == ("libssh", BROKEN.0) {
                let out = dpkg.output().unwrap();
                assert!(!out.status.success(), "dpkg-source -x applied {version}");
                assert!(refs.contains_key(&import_tag(version)));
                assert!(!refs.contains_key(&applied_tag(version)), "{refs:#?}");
                continue;
            }
            run_ok(&mut dpkg);
            let pc = dest.join(".pc");
            if pc.exists() {
                std::fs::remove_dir_all(&pc).unwrap();
            }
            let expected = tree_of_dir(&dest);
            let actual = env.remote_git(
                package,
                &["rev-parse", &format!("{}^{{tree}}", applied_tag(version))],
            );
            assert_eq!(actual, expected, "{package} {version}");
            checked += 1;
        }
    }
    let all: usize = versions.values().map(Vec::len).sum();
    assert_eq!(checked, all - 1, "every fixture version but the broken one");
    let out = env.ctl(&["verify", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", dump(&out));
}

both_backends!(a_patch_that_does_not_apply_moves_no_applied_ref);
/// A series whose patch does not apply: the version imports, its applied refs do not move,
/// and the warning names the patch in the log, `importctl show`, the status pages and the
/// metrics.
fn a_patch_that_does_not_apply_moves_no_applied_ref(env: &TestEnv) {
    let _sim = env.start_sim();
    env.follow(&BOTH);
    let (version, patch) = BROKEN;
    let log = env.import_ok("libssh");
    assert!(
        log.contains(patch) && log.contains("does not apply"),
        "{log}"
    );

    let refs = env.remote_refs("libssh");
    // The unapplied refs hold the version.
    let commit = env.remote_git(
        "libssh",
        &["rev-parse", &format!("{}^{{commit}}", import_tag(version))],
    );
    assert_eq!(refs["refs/heads/importer/ubuntu/resolute"], commit);
    // Its applied ones were never written: Ubuntu's only version of libssh is this one.
    assert!(!refs.contains_key(&applied_tag(version)), "{refs:#?}");
    let ubuntu_applied: Vec<&String> = refs
        .keys()
        .filter(|r| r.starts_with("refs/heads/importer/applied/ubuntu/"))
        .collect();
    assert!(ubuntu_applied.is_empty(), "{ubuntu_applied:?}");
    // Debian's versions have theirs. Nothing on the remote builds on the version's commit:
    // no half chain was pushed.
    assert!(refs.contains_key("refs/heads/importer/applied/debian/sid"));
    let graph = env.remote_git("libssh", &["rev-list", "--all", "--parents"]);
    for line in graph.lines() {
        assert!(
            !line.split(' ').skip(1).any(|parent| parent == commit),
            "a child of {version}'s commit: {line}"
        );
    }

    let text = env.ctl_ok(&["show", "libssh"]);
    assert!(
        text.contains(&format!("warning:  {version} patch {patch} does not apply")),
        "{text}"
    );
    assert!(
        text.contains("applied:  importer/applied/debian/sid"),
        "{text}"
    );
    let json = env.ctl_json(&["show", "libssh"]);
    let warnings = json["patch_warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{json:#}");
    assert_eq!(warnings[0]["version"], version);
    assert_eq!(warnings[0]["patch"], patch);

    let metrics = env.ctl_ok(&["metrics"]);
    assert!(
        metrics.contains("\npkgimport_patch_warnings 1\n"),
        "{metrics}"
    );
    let site = env.root().join("site");
    env.ctl_ok(&["report", "--out", site.to_str().unwrap()]);
    let index = std::fs::read_to_string(site.join("index.html")).unwrap();
    assert!(index.contains("id=\"patch-warnings\"") && index.contains(patch));
    let page = std::fs::read_to_string(site.join("packages/libssh.html")).unwrap();
    assert!(page.contains(patch), "{page}");

    // A second run changes nothing: the warning is recorded, not retried into a chain.
    env.import_ok("libssh");
    assert_eq!(env.remote_refs("libssh"), refs);
    let out = env.ctl(&["verify", "libssh"]);
    assert_eq!(out.status.code(), Some(0), "{}", dump(&out));
}

/// Tried as a new user would: the applied sid branch's log is the package's patch list,
/// newest first, on top of the version's import; each commit names its patch.
#[test]
fn the_log_of_the_applied_sid_branch_is_the_patch_list() {
    let env = TestEnv::new();
    let _sim = env.start_sim();
    env.import_ok("libssh");
    let log = env.remote_git(
        "libssh",
        &[
            "log",
            "--format=%s",
            "-n",
            "4",
            "refs/heads/importer/applied/debian/sid",
        ],
    );
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            "Install the static library again",
            "Disable torture_path_expand_tilde_unix, its not working well on buildd",
            "Allow the buildsystem to overwrite libssh's OUTPUT_NAME.",
            "Import libssh 0.12.2-1",
        ]
    );
    let names = env.remote_git(
        "libssh",
        &[
            "log",
            "--format=%(trailers:key=Patch-Name,valueonly,separator=)",
            "-n",
            "3",
            "refs/heads/importer/applied/debian/sid",
        ],
    );
    assert_eq!(
        names.lines().filter(|l| !l.is_empty()).collect::<Vec<_>>(),
        [
            "2004-install-static-lib.patch",
            "2003-disable-expand_tilde_unix-test.patch",
            "1003-custom-lib-names.patch",
        ]
    );
    // Authors from the DEP-3 headers; dates from the changelog entry.
    let authors = env.remote_git(
        "libssh",
        &[
            "log",
            "--format=%an <%ae> %ad",
            "--date=unix",
            "-n",
            "4",
            "refs/heads/importer/applied/debian/sid",
        ],
    );
    let authors: Vec<&str> = authors.lines().collect();
    let import_date = authors[3].rsplit(' ').next().unwrap();
    assert_eq!(
        authors[..3],
        [
            format!("Laurent Bigonville <bigon@debian.org> {import_date}"),
            format!("Laurent Bigonville <bigon@debian.org> {import_date}"),
            format!("Sebastian Ramacher <s.ramacher@gmx.at> {import_date}"),
        ]
    );
    // The tag is the branch's head; the sid branch itself is the unapplied import.
    assert_eq!(
        env.remote_git("libssh", &["rev-parse", &applied_tag("0.12.2-1")]),
        env.remote_git(
            "libssh",
            &["rev-parse", "refs/heads/importer/applied/debian/sid"]
        )
    );
    assert_eq!(
        env.remote_git(
            "libssh",
            &["rev-parse", "refs/heads/importer/applied/debian/sid~3"]
        ),
        env.remote_git("libssh", &["rev-parse", "refs/heads/importer/debian/sid"])
    );
}

/// `import.applied = false` writes no applied ref and leaves every other ref as it is with
/// chains: the imports' commits do not depend on them.
#[test]
fn without_applied_chains_the_imports_are_the_same() {
    let with = TestEnv::new();
    let _sim = with.start_sim();
    with.import_ok("hello");
    let without = TestEnv::new();
    let _sim2 = without.start_sim();
    without.config_sections("", "[import]\napplied = false\n");
    without.import_ok("hello");

    let all = with.remote_refs("hello");
    assert!(all.keys().any(|r| is_applied(r)), "{all:#?}");
    let unapplied: BTreeMap<String, String> = all
        .into_iter()
        .filter(|(name, _)| !is_applied(name))
        .collect();
    assert_eq!(without.remote_refs("hello"), unapplied);
}

both_backends!(verify_and_reset_cover_the_applied_refs);
/// `verify` compares the applied refs, and `reset --restore` puts them back.
fn verify_and_reset_cover_the_applied_refs(env: &TestEnv) {
    let _sim = env.start_sim();
    env.import_ok("libssh");
    let before = env.remote_refs("libssh");
    let tag = applied_tag("0.12.2-1");
    let ok = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(env.state().join("remote/libssh.git"))
        .args(["update-ref", &tag, "refs/tags/import/0.12.2-1"])
        .status()
        .unwrap();
    assert!(ok.success());
    let out = env.ctl(&["verify", "libssh", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", dump(&out));
    let mismatches: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(mismatches.as_array().unwrap().len(), 1, "{mismatches:#}");
    assert_eq!(mismatches[0]["ref"], tag.as_str());
    assert_eq!(mismatches[0]["expected"], before[&tag].as_str());

    env.ctl_ok(&["reset", "libssh", "--restore"]);
    assert_eq!(env.remote_refs("libssh"), before);
    let out = env.ctl(&["verify", "libssh"]);
    assert_eq!(out.status.code(), Some(0), "{}", dump(&out));
}
