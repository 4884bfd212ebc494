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
