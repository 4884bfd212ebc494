//! Helpers shared by the integration tests: building tarballs (including malformed ones) and
//! `.dsc` files in a temp dir, running `dpkg-source -x` (with and without `--skip-patches`) as the
//! reference, and
//! computing git tree hashes of directories the same way for both sides.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset; `expect` would fail in the others"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

#[allow(unused_imports, reason = "each test binary uses a different subset")]
pub(crate) use pkgimport_testkit::{Tar, write_package};
use pkgimport_unpack::Compression;

/// The project's copy of the Debian fixtures.
pub(crate) fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/archive")
}

/// Run `command`, panic with its stderr if it fails, return its stdout.
pub(crate) fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed with {}:\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// The reference implementation must be there: a missing dpkg-source fails loudly instead
/// of silently skipping the comparison.
pub(crate) fn require_dpkg_source() {
    let found = Command::new("dpkg-source")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "dpkg-source is not installed: these tests compare against it. \
         Install it with `apt-get update && apt-get install -y dpkg-dev`."
    );
}

/// `dpkg-source -x --skip-patches` of `dsc` into `dest` (which must not exist), under umask
/// 022 like a normal login, without signature or checksum checks (ours run separately).
pub(crate) fn dpkg_source_extract(dsc: &Path, dest: &Path) {
    run(Command::new("sh")
        .arg("-c")
        .arg("umask 022 && exec dpkg-source --no-check --no-copy --skip-patches -x \"$0\" \"$1\"")
        .arg(dsc)
        .arg(dest)
        .env("LC_ALL", "C"));
}

/// `dpkg-source -x` of `dsc` into `dest`, its patches applied, without the `.pc` directory
/// of quilt's bookkeeping; `Err` with dpkg-source's output when it fails (a patch that
/// does not apply).
pub(crate) fn dpkg_source_extract_applied(dsc: &Path, dest: &Path) -> Result<(), String> {
    let output = Command::new("sh")
        .arg("-c")
        .arg("umask 022 && exec dpkg-source --no-check --no-copy -x \"$0\" \"$1\"")
        .arg(dsc)
        .arg(dest)
        .env("LC_ALL", "C")
        .output()
        .unwrap_or_else(|e| panic!("cannot run dpkg-source: {e}"));
    if !output.status.success() {
        return Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let pc = dest.join(".pc");
    if pc.exists() {
        std::fs::remove_dir_all(&pc).unwrap();
    }
    Ok(())
}

/// The git tree hash of `dir` by `git add -A -f` + `git write-tree`, in a private
/// repository (`git_dir`) so that `dir` itself stays untouched.
pub(crate) fn git_tree_of_dir(git_dir: &Path, dir: &Path) -> String {
    if !git_dir.exists() {
        run(Command::new("git")
            .args(["init", "-q", "--bare"])
            .arg(git_dir));
    }
    let index = git_dir.join(format!(
        "index-{}",
        dir.file_name().unwrap().to_string_lossy()
    ));
    let git = |args: &[&str]| {
        run(Command::new("git")
            .arg("--git-dir")
            .arg(git_dir)
            .arg("--work-tree")
            .arg(dir)
            .args([
                "-c",
                "core.autocrlf=false",
                "-c",
                "core.filemode=true",
                "-c",
                "core.symlinks=true",
                "-c",
                "core.excludesFile=/dev/null",
            ])
            .args(args)
            .env("GIT_INDEX_FILE", &index)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null"))
    };
    git(&["add", "-A", "-f", "."]);
    git(&["write-tree"]).trim().to_owned()
}

/// `git diff-tree -r` between two trees of the same repository, for failure messages.
pub(crate) fn diff_trees(git_dir: &Path, a: &str, b: &str) -> String {
    run(Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["diff-tree", "-r", a, b]))
}

/// Compresses `data` in `compression`'s format.
pub(crate) fn compress(data: &[u8], compression: Compression) -> Vec<u8> {
    pkgimport_testkit::compress(data, compression.extension())
}
