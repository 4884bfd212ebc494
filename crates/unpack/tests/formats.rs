//! Synthetic source packages that exercise the corners of each format, checked against
//! `dpkg-source -x --skip-patches` itself: `1.0` diffs creating files and the exec bit of
//! `debian/rules`, `3.0 (quilt)` component tarballs and `.pc` exclusion, top-directory
//! stripping, odd permissions, hard links, a `.gitignore` that ignores everything, and
//! every compression.

mod support;

use std::path::Path;

use pkgimport_unpack::{Compression, Limits, Node, SourceTree, unpack_dsc_file};
use support::{
    Tar, compress, diff_trees, dpkg_source_extract, git_tree_of_dir, require_dpkg_source,
    write_package,
};

/// Unpack `dsc` with this crate and with dpkg-source and require equal git trees.
fn assert_same_as_dpkg(dsc: &Path) -> SourceTree {
    require_dpkg_source();
    let (_, tree) = unpack_dsc_file(dsc, &Limits::standard()).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let git_dir = scratch.path().join("repo.git");
    tree.materialize(&scratch.path().join("ours")).unwrap();
    dpkg_source_extract(dsc, &scratch.path().join("dpkg"));
    let ours = git_tree_of_dir(&git_dir, &scratch.path().join("ours"));
    let theirs = git_tree_of_dir(&git_dir, &scratch.path().join("dpkg"));
    assert_eq!(
        ours,
        theirs,
        "trees differ from dpkg-source:\n{}",
        diff_trees(&git_dir, &theirs, &ours)
    );
    tree
}

fn file<'t>(tree: &'t SourceTree, path: &str) -> (&'t [u8], bool) {
    match tree.get(path) {
        Some(Node::File { data, executable }) => (data, *executable),
        other => panic!("{path}: expected a file, found {other:?}"),
    }
}

const V1_DIFF: &str = "\
diff -Nru foo-1.0.orig/README foo-1.0/README
--- foo-1.0.orig/README\t2024-01-01 00:00:00.000000000 +0000
+++ foo-1.0/README\t2024-01-02 00:00:00.000000000 +0000
@@ -2,4 +2,5 @@
 l4
 l5
+inserted by the diff
 l6
 l7
--- foo-1.0.orig/noeol
+++ foo-1.0/noeol
@@ -1 +1 @@
-last line without newline
\\ No newline at end of file
+changed
--- foo-1.0.orig/debian/rules
+++ foo-1.0/debian/rules
@@ -0,0 +1,3 @@
+#!/usr/bin/make -f
+%:
+\tdh $@
--- foo-1.0.orig/debian/changelog
+++ foo-1.0/debian/changelog
@@ -0,0 +1,5 @@
+foo (1.0-1) unstable; urgency=low
+
+  * Initial release.
+
+ -- Test <test@example.org>  Mon, 01 Jan 2024 00:00:00 +0000
--- foo-1.0.orig/debian/source/nested/deep.txt
+++ foo-1.0/debian/source/nested/deep.txt
@@ -0,0 +1 @@
+deep
";

#[test]
fn v1_orig_plus_diff_matches_dpkg() {
    let readme: String = (1..=10).map(|i| format!("l{i}\n")).collect();
    let mut orig = Tar::new();
    orig.dir("foo-1.0/")
        .file("foo-1.0/README", 0o644, readme.as_bytes())
        .file("foo-1.0/configure", 0o755, b"#!/bin/sh\n")
        .file("foo-1.0/.gitignore", 0o644, b"*.o\nbuild/\n")
        .file("foo-1.0/obj.o", 0o644, b"object\n")
        .file("foo-1.0/build/out", 0o644, b"built\n")
        .symlink("foo-1.0/LINK", "README")
        .file("foo-1.0/noeol", 0o644, b"last line without newline");
    let dir = tempfile::tempdir().unwrap();
    let dsc = write_package(
        dir.path(),
        "foo",
        "1.0-1",
        "1.0",
        &[
            (
                "foo_1.0.orig.tar.gz",
                &compress(&orig.finish(), Compression::Gzip),
            ),
            (
                "foo_1.0-1.diff.gz",
                &compress(V1_DIFF.as_bytes(), Compression::Gzip),
            ),
        ],
    );
    let tree = assert_same_as_dpkg(&dsc);
    // The hunk said line 2 but applies at line 4 (offset 2), as GNU patch does.
    assert!(
        std::str::from_utf8(file(&tree, "README").0)
            .unwrap()
            .contains("l5\ninserted by the diff\nl6\n")
    );
    assert_eq!(file(&tree, "noeol").0, b"changed\n");
    // New from the diff, made executable by dpkg-source; other new files are not.
    assert!(file(&tree, "debian/rules").1);
    assert!(!file(&tree, "debian/changelog").1);
    assert_eq!(file(&tree, "debian/source/nested/deep.txt").0, b"deep\n");
    // 1.0 gets no debian/source/format; .gitignore drops nothing.
    assert!(tree.get("debian/source/format").is_none());
    assert!(tree.get("obj.o").is_some() && tree.get("build/out").is_some());
    assert!(file(&tree, "configure").1);
}

#[test]
fn v1_native_strips_any_single_top_directory() {
    let mut tar = Tar::new();
    tar.dir("whatever-name/")
        .file("whatever-name/debian/rules", 0o644, b"#!/usr/bin/make -f\n")
        .file("whatever-name/main.c", 0o644, b"int main;\n");
    let dir = tempfile::tempdir().unwrap();
    let dsc = write_package(
        dir.path(),
        "nat",
        "2.0",
        "1.0",
        &[(
            "nat_2.0.tar.gz",
            &compress(&tar.finish(), Compression::Gzip),
        )],
    );
    let tree = assert_same_as_dpkg(&dsc);
    assert!(file(&tree, "debian/rules").1);
    assert!(tree.get("main.c").is_some());
}

fn quilt_package(dir: &Path, orig_compression: Compression) -> std::path::PathBuf {
    let mut orig = Tar::new();
    orig.dir("bar-2.0/")
        .file("bar-2.0/a", 0o644, b"a\n")
        .file("bar-2.0/run.sh", 0o750, b"#!/bin/sh\n")
        .file("bar-2.0/odd-mode", 0o001, b"only other-exec\n")
        .file("bar-2.0/.gitignore", 0o644, b"*\n")
        .file("bar-2.0/.pc/applied-patches", 0o644, b"p.patch\n")
        .file("bar-2.0/sub/.pc/kept", 0o644, b"deeper .pc stays\n")
        .file("bar-2.0/debian/old", 0o644, b"upstream debian dir\n")
        .file("bar-2.0/comp/stale", 0o644, b"replaced by the component\n")
        .hardlink("bar-2.0/hl", "bar-2.0/a")
        .symlink("bar-2.0/sl", "a")
        .dir("bar-2.0/empty/");
    let mut comp = Tar::new();
    comp.dir("comp-src/")
        .file("comp-src/c.txt", 0o644, b"component\n");
    let mut flat = Tar::new();
    flat.file("x.txt", 0o644, b"x\n")
        .file("y/z.txt", 0o755, b"z\n");
    let mut debian = Tar::new();
    debian
        .dir("debian/")
        .file("debian/rules", 0o644, b"#!/usr/bin/make -f\n%:\n\tdh $@\n")
        .file("debian/control", 0o644, b"Source: bar\n")
        .file("debian/patches/series", 0o644, b"p.patch\n")
        .file(
            "debian/patches/p.patch",
            0o644,
            b"--- a/a\n+++ b/a\n@@ -1 +1 @@\n-a\n+patched\n",
        );
    let orig_name = format!("bar_2.0.orig.tar.{}", orig_compression.extension());
    write_package(
        dir,
        "bar",
        "1:2.0-1",
        "3.0 (quilt)",
        &[
            (&orig_name, &compress(&orig.finish(), orig_compression)),
            (
                "bar_2.0.orig-comp.tar.gz",
                &compress(&comp.finish(), Compression::Gzip),
            ),
            (
                "bar_2.0.orig-flat.tar.xz",
                &compress(&flat.finish(), Compression::Xz),
            ),
            (
                "bar_2.0-1.debian.tar.xz",
                &compress(&debian.finish(), Compression::Xz),
            ),
        ],
    )
}

#[test]
fn quilt_with_components_matches_dpkg() {
    let dir = tempfile::tempdir().unwrap();
    let dsc = quilt_package(dir.path(), Compression::Bzip2);
    let tree = assert_same_as_dpkg(&dsc);
    // Patches are not applied; debian/ comes only from the debian tarball.
    assert_eq!(file(&tree, "a").0, b"a\n");
    assert!(tree.get("debian/old").is_none());
    assert_eq!(file(&tree, "debian/source/format").0, b"3.0 (quilt)\n");
    assert!(file(&tree, "debian/rules").1);
    // Components replace what the orig put in their directory; a flat one is not stripped.
    assert!(tree.get("comp/stale").is_none());
    assert_eq!(file(&tree, "comp/c.txt").0, b"component\n");
    assert!(file(&tree, "flat/y/z.txt").1);
    // .pc is dropped only at the top; the exec bit follows any x bit; hard link copied.
    assert!(tree.get(".pc/applied-patches").is_none());
    assert!(tree.get("sub/.pc/kept").is_some());
    assert!(file(&tree, "odd-mode").1 && file(&tree, "run.sh").1);
    assert_eq!(file(&tree, "hl").0, b"a\n");
    assert!(tree.get(".gitignore").is_some());
}

#[test]
fn lzma_and_gzip_orig_tarballs_match_dpkg() {
    for compression in [Compression::Lzma, Compression::Gzip] {
        let dir = tempfile::tempdir().unwrap();
        assert_same_as_dpkg(&quilt_package(dir.path(), compression));
    }
}

#[test]
fn zstd_gives_the_same_tree_as_xz() {
    // The dpkg here (1.21) predates .zst source packages, so compare with the xz twin.
    let xz_dir = tempfile::tempdir().unwrap();
    let xz_tree = assert_same_as_dpkg(&quilt_package(xz_dir.path(), Compression::Xz));
    let zst_dir = tempfile::tempdir().unwrap();
    let (_, zst_tree) = unpack_dsc_file(
        &quilt_package(zst_dir.path(), Compression::Zstd),
        &Limits::standard(),
    )
    .unwrap();
    assert_eq!(zst_tree, xz_tree);
}

#[test]
fn native_without_a_single_top_directory_is_not_stripped() {
    let mut tar = Tar::new();
    tar.dir("./").dir("./x/").file("./x/1", 0o644, b"1\n").file(
        "./debian/rules",
        0o755,
        b"#!/usr/bin/make -f\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let dsc = write_package(
        dir.path(),
        "flat",
        "3",
        "3.0 (native)",
        &[("flat_3.tar.xz", &compress(&tar.finish(), Compression::Xz))],
    );
    let tree = assert_same_as_dpkg(&dsc);
    assert!(tree.get("x/1").is_some());
    assert_eq!(file(&tree, "debian/source/format").0, b"3.0 (native)\n");
}

#[test]
fn later_duplicate_members_win_as_in_tar() {
    let mut tar = Tar::new();
    tar.dir("dup-1/")
        .file("dup-1/f", 0o755, b"first\n")
        .file("dup-1/f", 0o644, b"second\n")
        .symlink("dup-1/l", "f")
        .file("dup-1/l", 0o644, b"file replaces link\n")
        .file("dup-1/debian/rules", 0o644, b"#!/usr/bin/make -f\n");
    let dir = tempfile::tempdir().unwrap();
    let dsc = write_package(
        dir.path(),
        "dup",
        "1",
        "3.0 (native)",
        &[("dup_1.tar.gz", &compress(&tar.finish(), Compression::Gzip))],
    );
    let tree = assert_same_as_dpkg(&dsc);
    assert_eq!(file(&tree, "f"), (&b"second\n"[..], false));
    assert_eq!(file(&tree, "l").0, b"file replaces link\n");
}

#[test]
fn native_with_dot_slash_names_and_a_single_top_directory_is_stripped() {
    let mut tar = Tar::new();
    tar.dir("./")
        .dir("./top/")
        .file("./top/.pc/x", 0o644, b"not excluded for native\n")
        .file("./top/debian/rules", 0o644, b"#!/usr/bin/make -f\n");
    let dir = tempfile::tempdir().unwrap();
    let dsc = write_package(
        dir.path(),
        "dots",
        "1",
        "3.0 (native)",
        &[("dots_1.tar.gz", &compress(&tar.finish(), Compression::Gzip))],
    );
    let tree = assert_same_as_dpkg(&dsc);
    assert!(tree.get(".pc/x").is_some());
}
