//! Tests of diff application: hunk placement as GNU patch places hunks, the refusals of
//! dpkg, and the git extensions of quilt patches, each checked against GNU patch run with
//! dpkg-source's options where it is installed.

use super::*;

fn file(data: &str) -> Node {
    Node::File {
        executable: false,
        data: data.as_bytes().to_vec(),
    }
}

fn apply(initial: &[(&str, &str)], diff: &str) -> Result<SourceTree, Error> {
    let mut tree = SourceTree::new();
    for (path, data) in initial {
        tree.insert_unchecked((*path).to_owned(), file(data));
    }
    apply_diff(&mut tree, diff.as_bytes(), "t.diff")?;
    Ok(tree)
}

fn content(tree: &SourceTree, path: &str) -> String {
    match tree.get(path) {
        Some(Node::File { data, .. }) => String::from_utf8(data.clone()).unwrap(),
        other => panic!("{path}: {other:?}"),
    }
}

#[test]
fn modifies_with_offset_and_creates_files() {
    let diff = "\
diff -urN p-1.orig/a p-1/a
--- p-1.orig/a\t2020-01-01
+++ p-1/a\t2020-01-02
@@ -1,3 +1,3 @@
 one
-two
+TWO
 three
--- p-1.orig/debian/rules
+++ p-1/debian/rules
@@ -0,0 +1,2 @@
+#!/usr/bin/make -f
+%:
";
    // Two extra lines at the top: the hunk applies at offset +2.
    let tree = apply(&[("a", "x\ny\none\ntwo\nthree\nfour\n")], diff).unwrap();
    assert_eq!(content(&tree, "a"), "x\ny\none\nTWO\nthree\nfour\n");
    assert_eq!(content(&tree, "debian/rules"), "#!/usr/bin/make -f\n%:\n");
}

#[test]
fn no_newline_markers() {
    let diff = "\
--- a/f
+++ b/f
@@ -1 +1 @@
-old
\\ No newline at end of file
+new
\\ No newline at end of file
";
    let tree = apply(&[("f", "old")], diff).unwrap();
    assert_eq!(content(&tree, "f"), "new");
}

#[test]
fn short_trailing_context_pins_the_hunk_to_the_end_like_gnu_patch() {
    // Two lines of leading but one of trailing context means "end of file" to GNU
    // patch: checked with `patch -F 0`, which fails on the first file and applies to
    // the second.
    let diff = "--- a/f\n+++ b/f\n@@ -2,3 +2,4 @@\n l4\n l5\n+new\n l6\n";
    let lines: String = (1..=10).map(|i| format!("l{i}\n")).collect();
    assert!(matches!(
        apply(&[("f", &lines)], diff),
        Err(Error::Patch { .. })
    ));
    let tree = apply(&[("f", "l1\nl2\nl3\nl4\nl5\nl6\n")], diff).unwrap();
    assert_eq!(content(&tree, "f"), "l1\nl2\nl3\nl4\nl5\nnew\nl6\n");
}

#[test]
fn refuses_what_dpkg_refuses() {
    let mismatch = "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-zzz\n+new\n";
    assert!(matches!(
        apply(&[("f", "old\n")], mismatch),
        Err(Error::Patch { .. })
    ));
    let traversal = "--- a/../x\n+++ b/../x\n@@ -0,0 +1 @@\n+pwned\n";
    assert!(matches!(
        apply(&[], traversal),
        Err(Error::Unsafe {
            reason: UnsafeReason::ParentComponent,
            ..
        })
    ));
    let mut tree = SourceTree::new();
    tree.insert_unchecked(
        "link".to_owned(),
        Node::Symlink {
            target: "d".to_owned(),
        },
    );
    let through = "--- a/link/f\n+++ b/link/f\n@@ -0,0 +1 @@\n+x\n";
    assert!(matches!(
        apply_diff(&mut tree, through.as_bytes(), "t.diff"),
        Err(Error::Unsafe {
            reason: UnsafeReason::ThroughSymlink { .. },
            ..
        })
    ));
    let context_diff = "*** a/f\n--- b/f\n***************\n";
    assert!(apply(&[("f", "x\n")], context_diff).is_err());
}

/// A tree of plain files: (path, content, executable).
fn tree_of(files: &[(&str, &str, bool)]) -> SourceTree {
    let mut tree = SourceTree::new();
    for (path, data, executable) in files {
        tree.insert_unchecked(
            (*path).to_owned(),
            Node::File {
                executable: *executable,
                data: data.as_bytes().to_vec(),
            },
        );
    }
    tree
}

/// Every file of `tree`: path → (executable, content).
fn listing(tree: &SourceTree) -> Vec<(String, bool, String)> {
    tree.iter()
        .map(|(path, node)| match node {
            Node::File { executable, data } => (
                path.clone(),
                *executable,
                String::from_utf8_lossy(data).into_owned(),
            ),
            Node::Symlink { target } => (path.clone(), false, format!("-> {target}")),
        })
        .collect()
}

/// What GNU patch, run as `dpkg-source -x` runs it for a quilt patch, makes of `diff` on
/// `files`: the files afterwards, without `.pc`, or `Err` when it fails.
fn gnu_patch(
    files: &[(&str, &str, bool)],
    diff: &str,
) -> Result<Vec<(String, bool, String)>, String> {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("t");
    tree_of(files).materialize(&root).unwrap();
    let mut child = std::process::Command::new("patch")
        .args([
            "-t", "-F", "0", "-N", "-p1", "-u", "-V", "never", "-E", "-b", "-B",
        ])
        .args([".pc/test.patch/", "--reject-file=-"])
        .current_dir(&root)
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("GNU patch runs (apt-get install patch; dpkg-dev depends on it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(diff.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let mut found = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(&root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            if rel == ".pc" {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else {
                let data = std::fs::read(&path).unwrap();
                let executable = meta.permissions().mode() & 0o111 != 0;
                found.push((rel, executable, String::from_utf8_lossy(&data).into_owned()));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Applies `diff` as a quilt patch here and with GNU patch, and checks that both agree
/// (the same files, or both refusing). Returns our result.
fn same_as_gnu_patch(
    files: &[(&str, &str, bool)],
    diff: &str,
) -> Result<Vec<(String, bool, String)>, Error> {
    let mut tree = tree_of(files);
    let ours =
        apply_with(&mut tree, diff.as_bytes(), "test.patch", Rules::QUILT).map(|_| listing(&tree));
    match (&ours, gnu_patch(files, diff)) {
        (Ok(ours), Ok(theirs)) => assert_eq!(ours, &theirs, "{diff}"),
        (Err(_), Err(_)) => {}
        (Ok(ours), Err(theirs)) => {
            panic!("GNU patch refuses what applies here ({ours:?}):\n{theirs}\n{diff}")
        }
        (Err(ours), Ok(theirs)) => {
            panic!("GNU patch applies what is refused here ({ours}): {theirs:?}\n{diff}")
        }
    }
    ours
}

#[test]
fn quilt_hunks_move_by_offsets_but_never_fuzz() {
    let lines: String = (1..=12).map(|i| format!("l{i}\n")).collect();
    let files = [("f", lines.as_str(), false)];
    // Written against a file with two lines fewer at the top: applies two lines down.
    let offset = "--- a/f\n+++ b/f\n@@ -3,3 +3,3 @@\n l5\n-l6\n+six\n l7\n";
    let applied = same_as_gnu_patch(&files, offset).unwrap();
    assert!(applied[0].2.contains("l5\nsix\nl7\n"));
    // One context line differs: no fuzz, so no match.
    let fuzzy = "--- a/f\n+++ b/f\n@@ -5,3 +5,3 @@\n l5\n-l6\n+six\n lX\n";
    assert!(matches!(
        same_as_gnu_patch(&files, fuzzy),
        Err(Error::Patch { .. })
    ));
    // Already applied (GNU patch sees a reversed patch and, with -N, skips it).
    let done = "--- a/f\n+++ b/f\n@@ -5,3 +5,3 @@\n l5\n-l0\n+l6\n l7\n";
    assert!(same_as_gnu_patch(&files, done).is_err());
}

#[test]
fn quilt_patches_create_delete_rename_copy_and_change_modes_like_gnu_patch() {
    let files = [
        ("keep", "k\n", false),
        ("old-name", "1\n2\n3\n4\n5\n", false),
        ("gone", "x\n", true),
        ("script", "#!/bin/sh\n", false),
        ("empty", "", false),
        ("src/a.c", "int a;\n", false),
    ];
    let diff = "\
Description: every kind of change a git diff makes
Author: Jane <jane@example.org>

---
diff --git a/new-tool b/new-tool
new file mode 100755
index 0000000..1111111
--- /dev/null
+++ b/new-tool
@@ -0,0 +1,2 @@
+#!/bin/sh
+echo new
diff --git a/gone b/gone
deleted file mode 100755
index 2222222..0000000
--- a/gone
+++ /dev/null
@@ -1 +0,0 @@
-x
diff --git a/old-name b/new-name
similarity index 80%
rename from old-name
rename to new-name
index 3333333..4444444 100644
--- a/old-name
+++ b/new-name
@@ -2,3 +2,3 @@
 2
-3
+three
 4
diff --git a/src/a.c b/src/b.c
similarity index 100%
copy from src/a.c
copy to src/b.c
diff --git a/script b/script
old mode 100644
new mode 100755
diff --git a/empty b/empty
old mode 100644
new mode 100755
diff --git a/also-empty b/also-empty
new file mode 100644
index 0000000..e69de29
";
    let after = same_as_gnu_patch(&files, diff).unwrap();
    let paths: Vec<(&str, bool)> = after.iter().map(|(p, x, _)| (p.as_str(), *x)).collect();
    assert_eq!(
        paths,
        [
            ("keep", false),
            ("new-name", false),
            ("new-tool", true),
            ("script", true),
            ("src/a.c", false),
            ("src/b.c", false),
        ],
        "-E removes the files left empty"
    );
}

#[test]
fn quilt_patches_that_empty_a_file_remove_it_and_plain_diffs_create_files() {
    let files = [("f", "a\nb\n", false)];
    let empties = "--- a/f\n+++ b/f\n@@ -1,2 +0,0 @@\n-a\n-b\n";
    assert_eq!(same_as_gnu_patch(&files, empties).unwrap(), []);
    let creates = "--- /dev/null\n+++ b/dir/new.c\n@@ -0,0 +1 @@\n+int x;\n";
    let after = same_as_gnu_patch(&files, creates).unwrap();
    assert_eq!(
        after[0],
        ("dir/new.c".to_owned(), false, "int x;\n".to_owned())
    );
    // A deletion that leaves content behind fails (GNU patch: "not deleting").
    let partial =
        "diff --git a/f b/f\ndeleted file mode 100644\n--- a/f\n+++ /dev/null\n@@ -1 +0,0 @@\n-a\n";
    assert!(same_as_gnu_patch(&files, partial).is_err());
    // A git mode change of a file that does not exist fails.
    let missing = "diff --git a/nothing b/nothing\nold mode 100644\nnew mode 100755\n";
    assert!(same_as_gnu_patch(&files, missing).is_err());
}

#[test]
fn quilt_patches_without_a_diff_fail_unless_empty() {
    let files = [("f", "a\n", false)];
    assert!(matches!(
        same_as_gnu_patch(&files, "Description: nothing here\n\n"),
        Err(Error::Patch { .. })
    ));
    assert_eq!(same_as_gnu_patch(&files, "").unwrap().len(), 1);
}

#[test]
fn binary_patches_symlinks_and_clobbering_renames_are_refused() {
    let files = [("b", "bin\n", false), ("c", "c\n", false)];
    let git_binary = "diff --git a/b b/b\nindex 1111111..2222222 100644\nGIT binary patch\nliteral 4\nLcmYdEFf{-I0HOe>\n\nliteral 4\nLcmYdEFf{-I0HOe>\n\n";
    // GNU patch refuses this one too.
    assert!(same_as_gnu_patch(&files, git_binary).is_err());
    // GNU patch skips this one silently, leaving the tree without the change; refused here
    // so that no tree claims to have a patch applied that it lacks.
    for binary in [
        "diff --git a/b b/b\nindex 1111111..2222222 100644\nBinary files a/b and b/b differ\n",
        "Binary files a/b and b/b differ\n--- a/c\n+++ b/c\n@@ -1 +1 @@\n-c\n+C\n",
    ] {
        let mut tree = tree_of(&files);
        let err = apply_with(&mut tree, binary.as_bytes(), "x.patch", Rules::QUILT).unwrap_err();
        assert!(err.to_string().contains("binary"), "{err}");
    }
    for refused in [
        // A symlink.
        "diff --git a/link b/link\nnew file mode 120000\n--- /dev/null\n+++ b/link\n@@ -0,0 +1 @@\n+b\n\\ No newline at end of file\n",
        // A rename onto a file that exists.
        "diff --git a/b b/c\nsimilarity index 100%\nrename from b\nrename to c\n",
        // A rename out of the tree.
        "diff --git a/b b/c\nrename from b\nrename to ../c\n",
    ] {
        let mut tree = tree_of(&files);
        assert!(
            apply_with(&mut tree, refused.as_bytes(), "x.patch", Rules::QUILT).is_err(),
            "{refused}"
        );
    }
    // The same git headers in a 1.0 package's diff are commentary, as they always were.
    let mut tree = tree_of(&files);
    let diff = "diff --git a/c b/c\nold mode 100644\nnew mode 100755\n--- a/c\n+++ b/c\n@@ -1 +1 @@\n-c\n+C\n";
    apply_diff(&mut tree, diff.as_bytes(), "x.diff").unwrap();
    assert_eq!(listing(&tree)[1], ("c".to_owned(), false, "C\n".to_owned()));
}
