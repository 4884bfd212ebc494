//! The key tests: for every version in `fixtures/archive/manifest.json`, of every
//! distribution, the tree unpacked by this crate has the same git tree hash as the output
//! of `dpkg-source -x --skip-patches`; and with its quilt series applied, patch by patch,
//! the same as `dpkg-source -x` without its `.pc` directory (or both refuse a patch).
//!
//! Both sides go through the same procedure (`git add -A -f` and `git write-tree` in a
//! private repository), so file contents, exec bits, symlinks and the set of paths are all
//! compared, and nothing hides behind a `.gitignore` shipped in a tarball.

mod support;

use std::path::Path;

use pkgimport_unpack::{Limits, Node, SourceFormat, quilt, unpack_dsc_file};
use support::{
    diff_trees, dpkg_source_extract, dpkg_source_extract_applied, fixtures_dir, git_tree_of_dir,
    require_dpkg_source,
};

/// Every (package, version) of the manifest, with the path of its `.dsc`.
fn manifest_versions() -> Vec<(String, String, std::path::PathBuf)> {
    let dir = fixtures_dir();
    let text = std::fs::read_to_string(dir.join("manifest.json"))
        .unwrap_or_else(|e| panic!("cannot read {}/manifest.json: {e}", dir.display()));
    let manifest: serde_json::Value = serde_json::from_str(&text).expect("manifest is JSON");
    let mut out = Vec::new();
    for (package, versions) in manifest.as_object().expect("manifest is an object") {
        for version in versions.as_object().expect("versions are an object").keys() {
            let bare = version.split_once(':').map_or(version.as_str(), |(_, v)| v);
            let dsc = dir.join(package).join(format!("{package}_{bare}.dsc"));
            out.push((package.clone(), version.clone(), dsc));
        }
    }
    out
}

#[test]
fn every_fixture_version_matches_dpkg_source() {
    require_dpkg_source();
    let versions = manifest_versions();
    assert!(
        versions.len() >= 28,
        "expected the whole fixture set, found {} versions",
        versions.len()
    );
    let scratch = tempfile::tempdir().unwrap();
    let git_dir = scratch.path().join("repo.git");
    let mut failures = Vec::new();
    for (index, (package, version, dsc)) in versions.iter().enumerate() {
        let ours = scratch.path().join(format!("ours-{index}"));
        let theirs = scratch.path().join(format!("dpkg-{index}"));
        let (parsed, tree) = unpack_dsc_file(dsc, &Limits::standard())
            .unwrap_or_else(|e| panic!("{package} {version}: {e}"));
        assert_eq!(parsed.version.to_string(), *version);
        tree.materialize(&ours).unwrap();
        dpkg_source_extract(dsc, &theirs);
        let ours_hash = git_tree_of_dir(&git_dir, &ours);
        let theirs_hash = git_tree_of_dir(&git_dir, &theirs);
        if ours_hash != theirs_hash {
            failures.push(format!(
                "{package} {version}: ours {ours_hash} dpkg-source {theirs_hash}\n{}",
                diff_trees(&git_dir, &theirs_hash, &ours_hash)
            ));
        }
        // Sanity: the comparison is not vacuous.
        assert!(
            tree.len() > 5,
            "{package} {version}: only {} entries",
            tree.len()
        );
        assert!(
            matches!(
                tree.get("debian/rules"),
                Some(Node::File {
                    executable: true,
                    ..
                })
            ),
            "{package} {version}: debian/rules is not an executable file"
        );
    }
    assert!(
        failures.is_empty(),
        "trees differ:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_fixture_version_with_its_patches_applied_matches_dpkg_source() {
    require_dpkg_source();
    let scratch = tempfile::tempdir().unwrap();
    let git_dir = scratch.path().join("repo.git");
    let mut failures = Vec::new();
    let (mut patched, mut refused) = (0, 0);
    for (index, (package, version, dsc)) in manifest_versions().iter().enumerate() {
        let ours = scratch.path().join(format!("ours-{index}"));
        let theirs = scratch.path().join(format!("dpkg-{index}"));
        let (parsed, mut tree) = unpack_dsc_file(dsc, &Limits::standard()).unwrap();
        let mut ours_result = Ok(());
        if parsed.format == SourceFormat::V3Quilt {
            for name in quilt::series(&tree).unwrap() {
                if let Err(e) = quilt::apply_patch(&mut tree, &name, &parsed.format.to_string()) {
                    ours_result = Err(format!("{name}: {e}"));
                    break;
                }
                patched += 1;
            }
        }
        match (ours_result, dpkg_source_extract_applied(dsc, &theirs)) {
            (Ok(()), Ok(())) => {
                tree.materialize(&ours).unwrap();
                let ours_hash = git_tree_of_dir(&git_dir, &ours);
                let theirs_hash = git_tree_of_dir(&git_dir, &theirs);
                if ours_hash != theirs_hash {
                    failures.push(format!(
                        "{package} {version}: ours {ours_hash} dpkg-source {theirs_hash}\n{}",
                        diff_trees(&git_dir, &theirs_hash, &ours_hash)
                    ));
                }
            }
            (Err(_), Err(_)) => refused += 1,
            (Ok(()), Err(dpkg)) => failures.push(format!(
                "{package} {version}: dpkg-source refuses a patch that applies here:\n{dpkg}"
            )),
            (Err(ours), Ok(())) => failures.push(format!(
                "{package} {version}: refused here, dpkg-source applies it: {ours}"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "trees differ:\n{}",
        failures.join("\n")
    );
    assert!(
        patched >= 40,
        "only {patched} patches applied: a vacuous comparison"
    );
    assert_eq!(
        refused, 1,
        "the one fixture version whose patch does not apply"
    );
}

#[test]
fn fixture_formats_are_all_covered() {
    // The fixture set must keep exercising every format this crate claims to handle.
    let mut formats: Vec<String> = manifest_versions()
        .iter()
        .map(|(_, _, dsc)| {
            pkgimport_unpack::Dsc::from_file(dsc)
                .unwrap()
                .format
                .to_string()
        })
        .collect();
    formats.sort();
    formats.dedup();
    assert_eq!(formats, ["1.0", "3.0 (native)", "3.0 (quilt)"]);
    assert!(Path::new(&fixtures_dir().join("README.md")).exists());
}
