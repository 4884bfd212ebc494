//! Commits written by [`PackWriter`]: deterministic ids, exact trees, modes, awkward paths,
//! refs and tags of the working repository.

mod common;

use std::collections::BTreeMap;

use common::{author, committer, repo, simple_commit};
use pkgimport_git::{CommitSpec, Edit, Entry, Error, GitDir, Mode, Oid, PackWriter};

/// A small source tree with everything git distinguishes: plain and executable files, a
/// symlink, a `.gitignore` that would ignore other entries, and paths with spaces, quotes,
/// a backslash, a newline and non-ASCII characters.
fn tree() -> BTreeMap<String, (Mode, Vec<u8>)> {
    let mut t = BTreeMap::new();
    let mut add = |path: &str, mode: Mode, data: &[u8]| {
        t.insert(path.to_owned(), (mode, data.to_vec()));
    };
    add(".gitignore", Mode::File, b"*.o\nbuild/\nsrc dir/\n");
    add(
        "debian/rules",
        Mode::Executable,
        b"#!/usr/bin/make -f\n%:\n\tdh $@\n",
    );
    add(
        "debian/changelog",
        Mode::File,
        b"hello (2.10-3) unstable; urgency=medium\n",
    );
    add("hello.o", Mode::File, b"\x7fELF\0\0binary");
    add(
        "build/out.txt",
        Mode::File,
        b"ignored by .gitignore, kept by us\n",
    );
    add(
        "src dir/file with space.c",
        Mode::File,
        b"int main(void) { return 0; }\n",
    );
    add("\"quoted\" name", Mode::File, b"q\n");
    add("back\\slash", Mode::File, b"b\n");
    add("new\nline", Mode::File, b"n\n");
    add("ünïcødé/ß.txt", Mode::File, b"u\n");
    add("link-to-rules", Mode::Symlink, b"debian/rules");
    add("dangling", Mode::Symlink, b"../../nowhere");
    add("empty", Mode::File, b"");
    t
}

fn entries(t: &BTreeMap<String, (Mode, Vec<u8>)>) -> impl Iterator<Item = Entry<'_>> {
    t.iter().map(|(path, (mode, data))| Entry {
        path,
        mode: *mode,
        data,
    })
}

/// Import the tree as a root commit and a child commit with a smaller tree, in one session.
fn import_twice(dir: &GitDir) -> (Oid, Oid) {
    let t = tree();
    let author = author();
    let committer = committer();
    let mut session = PackWriter::start(dir).unwrap();
    let first = session
        .commit(
            &CommitSpec {
                author: &author,
                committer: &committer,
                message: b"Import version 2.10-3\n\nWith a body.\n",
                parents: &[],
                update_ref: Some("refs/heads/importer/debian/sid"),
            },
            entries(&t),
        )
        .unwrap();
    let mut smaller = t.clone();
    smaller.remove("hello.o");
    smaller.insert("added".to_owned(), (Mode::File, b"new\n".to_vec()));
    let second = session
        .commit(
            &CommitSpec {
                author: &author,
                committer: &committer,
                message: b"Import version 2.10-4\n",
                parents: &[first],
                update_ref: Some("refs/heads/importer/debian/sid"),
            },
            entries(&smaller),
        )
        .unwrap();
    session.finish().unwrap();
    (first, second)
}

#[test]
fn same_input_same_commit_ids_in_two_fresh_repositories() {
    let tmp = tempfile::tempdir().unwrap();
    let a = repo(&tmp.path().join("a.git"));
    let b = repo(&tmp.path().join("nested/b.git"));
    let ids_a = import_twice(&a);
    let ids_b = import_twice(&b);
    assert_eq!(ids_a, ids_b);
    // Pinned: the ids must not depend on the machine, the git version or its config. If
    // this changes, every published branch would be rewritten. Both values were checked
    // once by hand against a real work tree of the same files: `git add -A -f`,
    // `git write-tree`, then `git commit-tree` with the same identities and dates.
    assert_eq!(
        a.tree_of(ids_a.0).unwrap().to_string(),
        "35b65699185d13401ff387969800f146d00a30e5",
        "root tree id changed"
    );
    assert_eq!(
        ids_a.0.to_string(),
        "b885706aabead0695c64fcb3c293e87dc964b6c4",
        "root commit id changed"
    );
    assert_eq!(
        a.cat_commit(ids_a.1).unwrap(),
        format!(
            "tree {}\nparent {}\nauthor Jane Maintainer <jane@example.org> 1700000000 +0100\n\
             committer package-importer <importer@example.org> 1700000000 -0530\n\n\
             Import version 2.10-4\n",
            a.tree_of(ids_a.1).unwrap(),
            ids_a.0
        )
        .into_bytes()
    );
}

#[test]
fn tree_is_exactly_the_entries_with_modes_symlinks_and_awkward_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = repo(&tmp.path().join("r.git"));
    let (first, second) = import_twice(&dir);
    let t = tree();

    let listed = dir.ls_tree(first).unwrap();
    let got: BTreeMap<&str, u32> = listed.iter().map(|e| (e.path.as_str(), e.mode)).collect();
    let want: BTreeMap<&str, u32> = t
        .iter()
        .map(|(p, (mode, _))| {
            let octal = match mode {
                Mode::File => 0o100644,
                Mode::Executable => 0o100755,
                Mode::Symlink => 0o120000,
            };
            (p.as_str(), octal)
        })
        .collect();
    assert_eq!(got, want, "no entry dropped, added or changed mode");
    for entry in &listed {
        assert_eq!(
            dir.cat_blob(entry.oid).unwrap(),
            t[&entry.path].1,
            "{}",
            entry.path
        );
    }

    // The second commit's tree is its own entries, not the parent's plus changes.
    let second_paths: Vec<String> = dir
        .ls_tree(second)
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert!(!second_paths.contains(&"hello.o".to_owned()));
    assert!(second_paths.contains(&"added".to_owned()));
    assert_eq!(second_paths.len(), t.len());
    assert!(dir.is_ancestor(first, second).unwrap());
    assert!(!dir.is_ancestor(second, first).unwrap());
}

#[test]
fn refs_change_only_when_the_session_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = repo(&tmp.path().join("r.git"));
    let branch = "refs/heads/importer/debian/sid";

    // Dropped without finish: no ref appears.
    {
        let author = author();
        let mut session = PackWriter::start(&dir).unwrap();
        session
            .commit(
                &CommitSpec {
                    author: &author,
                    committer: &author,
                    message: b"abandoned\n",
                    parents: &[],
                    update_ref: Some(branch),
                },
                [],
            )
            .unwrap();
    }
    assert_eq!(dir.read_ref(branch).unwrap(), None);

    let (_, second) = import_twice(&dir);
    assert_eq!(dir.read_ref(branch).unwrap(), Some(second));
    // Commits without update_ref leave no scratch ref behind.
    let root = simple_commit(&dir, "one", &[]);
    let child = simple_commit(&dir, "two", &[root]);
    assert_eq!(
        dir.list_refs("refs/").unwrap().keys().collect::<Vec<_>>(),
        vec![branch]
    );
    // A later session can name earlier commits as parents (by id, not mark), merges work,
    // and re-writing blobs already in the repository is fine.
    let again = simple_commit(&dir, "one", &[]);
    assert_eq!(again, root);
    let merge = {
        let author = author();
        let mut session = PackWriter::start(&dir).unwrap();
        let oid = session
            .commit(
                &CommitSpec {
                    author: &author,
                    committer: &committer(),
                    message: b"merge\n",
                    parents: &[child, second],
                    update_ref: None,
                },
                [],
            )
            .unwrap();
        session.finish().unwrap();
        oid
    };
    let raw = String::from_utf8(dir.cat_commit(merge).unwrap()).unwrap();
    assert!(
        raw.contains(&format!("parent {child}\nparent {second}\n")),
        "{raw}"
    );
    assert_eq!(dir.tree_of(merge).unwrap().to_string(), EMPTY_TREE);
}

const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

#[test]
fn refs_and_lightweight_tags() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = repo(&tmp.path().join("r.git"));
    let a = simple_commit(&dir, "a", &[]);
    let b = simple_commit(&dir, "b", &[a]);

    dir.update_refs(&[
        ("refs/heads/importer/debian/sid", b),
        ("refs/heads/importer/ubuntu/noble", a),
    ])
    .unwrap();
    let tag = dir.create_tag("import/1%2.3_rc1-1", a).unwrap();
    assert_eq!(tag, "refs/tags/import/1%2.3_rc1-1");
    // Same target again: fine. Another target: refused, tag unchanged.
    dir.create_tag("import/1%2.3_rc1-1", a).unwrap();
    match dir.create_tag("import/1%2.3_rc1-1", b) {
        Err(Error::TagConflict { existing, .. }) => assert_eq!(existing, a),
        other => panic!("expected TagConflict, got {other:?}"),
    }
    assert_eq!(dir.read_ref(&tag).unwrap(), Some(a));

    let heads = dir.list_refs("refs/heads/importer/").unwrap();
    assert_eq!(heads.len(), 2);
    assert_eq!(heads["refs/heads/importer/debian/sid"], b);
    assert_eq!(dir.list_refs("refs/tags/").unwrap().len(), 1);

    dir.update_ref("refs/heads/importer/debian/sid", a).unwrap();
    assert_eq!(
        dir.read_ref("refs/heads/importer/debian/sid").unwrap(),
        Some(a)
    );
    dir.delete_ref("refs/heads/importer/debian/sid").unwrap();
    assert_eq!(
        dir.read_ref("refs/heads/importer/debian/sid").unwrap(),
        None
    );

    assert_eq!(dir.rev_parse(&format!("{b}^")).unwrap(), Some(a));
    assert_eq!(dir.rev_parse("refs/heads/nope").unwrap(), None);
    assert!(matches!(
        dir.read_ref("refs/heads/bad name"),
        Err(Error::InvalidInput { .. })
    ));
    // Reopening an existing repository keeps everything.
    let reopened = repo(dir.path());
    assert_eq!(reopened.read_ref(&tag).unwrap(), Some(a));
}

#[test]
fn invalid_input_is_refused_before_git_sees_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = repo(&tmp.path().join("r.git"));
    let good = author();
    let mut bad = author();
    bad.email = "a>b@example.org".to_owned();
    let mut session = PackWriter::start(&dir).unwrap();
    let spec = |who| CommitSpec {
        author: who,
        committer: &good,
        message: b"m\n",
        parents: &[],
        update_ref: None,
    };
    assert!(matches!(
        session.commit(&spec(&bad), []),
        Err(Error::InvalidInput {
            what: "identity",
            ..
        })
    ));
    let dotdot = Entry {
        path: "a/../b",
        mode: Mode::File,
        data: b"",
    };
    assert!(matches!(
        session.commit(&spec(&good), [dotdot]),
        Err(Error::InvalidInput { what: "path", .. })
    ));
    // A plain directory is not a bare repository.
    let plain = tmp.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    assert!(GitDir::open_or_init(&plain, Default::default()).is_err());
}

#[test]
fn new_repositories_carry_our_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::repo(&tmp.path().join("r.git"));
    let get = |key: &str| {
        let out = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(dir.path())
            .args(["config", "--get", key])
            .output()
            .unwrap();
        assert!(out.status.success(), "git config --get {key} failed");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    assert_eq!(get("gc.auto"), "0");
    assert_eq!(get("maintenance.auto"), "false");
    assert_eq!(get("receive.autogc"), "false");
    assert_eq!(get("core.logallrefupdates"), "true");
    assert_eq!(get("core.compression"), "1");
    assert_eq!(get("pack.compression"), "1");
    assert_eq!(get("receive.unpacklimit"), "1");
    // What `git init` wrote is still there.
    assert_eq!(get("core.bare"), "true");
}

/// Runs git in `dir` and returns its stdout; fails the test when git fails.
fn git(dir: &GitDir, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(dir.path())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Files of a few MB over nested directories, enough to take the parallel path, with
/// content repeated at several paths.
fn big_tree(seed: u8) -> BTreeMap<String, (Mode, Vec<u8>)> {
    let mut t = BTreeMap::new();
    for i in 0..300u32 {
        let len = (i as usize * 7919) % 40_000;
        let data: Vec<u8> = (0..len)
            .map(|j| (j as u32 ^ i).wrapping_mul(2_654_435_761).to_le_bytes()[3] % 64 + 32)
            .collect();
        let path = format!("d{}/sub{}/f{i}.txt", i % 7, i % 3);
        t.insert(path, (Mode::File, data));
    }
    // Same content at two paths, a file next to a directory of the same stem, and a file
    // that changes with `seed`.
    t.insert("copy-a".to_owned(), (Mode::File, b"same\n".to_vec()));
    t.insert("copy-b".to_owned(), (Mode::Executable, b"same\n".to_vec()));
    t.insert("d0.txt".to_owned(), (Mode::File, b"beside d0/\n".to_vec()));
    t.insert("seed".to_owned(), (Mode::File, vec![seed; 3]));
    t
}

#[test]
fn packs_pass_git_fsck_and_unchanged_objects_are_not_written_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = repo(&tmp.path().join("r.git"));
    let author = author();
    let committer = committer();
    let spec = |message: &'static [u8], parents| CommitSpec {
        author: &author,
        committer: &committer,
        message,
        parents,
        update_ref: Some("refs/heads/main"),
    };
    let first_tree = big_tree(1);
    let mut session = PackWriter::start(&dir).unwrap();
    let first = session
        .commit(&spec(b"one\n", &[]), entries(&first_tree))
        .unwrap();
    session.finish().unwrap();

    // A later session, as the next version's import: only what changed is new.
    let second_tree = big_tree(2);
    let mut session = PackWriter::start(&dir).unwrap();
    let second = session
        .commit(&spec(b"two\n", &[first]), entries(&second_tree))
        .unwrap();
    session.finish().unwrap();

    git(
        &dir,
        &["fsck", "--strict", "--no-dangling", "--no-progress"],
    );
    // git computes the same trees from the same files.
    let listed = dir.ls_tree(second).unwrap();
    assert_eq!(listed.len(), second_tree.len());
    for entry in &listed {
        assert_eq!(dir.cat_blob(entry.oid).unwrap(), second_tree[&entry.path].1);
    }
    // Two packs; the second holds the changed blob, the root tree and the commit.
    let mut packs: Vec<String> = std::fs::read_dir(dir.path().join("objects/pack"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    packs.sort();
    assert_eq!(packs.len(), 4, "{packs:?}");
    assert!(packs.iter().all(|p| p.starts_with("pack-")), "{packs:?}");
    let objects_in = |pack: &str| {
        let path = dir.path().join("objects/pack").join(pack);
        git(&dir, &["verify-pack", "-v", path.to_str().unwrap()])
            .lines()
            .filter(|l| {
                l.split_whitespace()
                    .nth(1)
                    .is_some_and(|t| ["blob", "tree", "commit"].contains(&t))
            })
            .count()
    };
    let mut counts: Vec<usize> = packs
        .iter()
        .filter(|p| p.ends_with(".idx"))
        .map(|p| objects_in(p))
        .collect();
    counts.sort();
    // 300 + 3 distinct blobs (the copies share one), 1 + 7 + 7 * 3 trees, 1 commit; then
    // one blob, one tree and one commit.
    assert_eq!(counts, vec![3, 303 + 29 + 1]);
    assert_eq!(
        git(&dir, &["rev-parse", "refs/heads/main"]).trim(),
        second.to_hex()
    );
}

#[test]
fn an_author_without_a_name_is_written_as_git_writes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = repo(&tmp.path().join("r.git"));
    let mut nameless = author();
    nameless.name.clear();
    let mut session = PackWriter::start(&dir).unwrap();
    let oid = session
        .commit(
            &CommitSpec {
                author: &nameless,
                committer: &committer(),
                message: b"m\n",
                parents: &[],
                update_ref: None,
            },
            [],
        )
        .unwrap();
    session.finish().unwrap();
    let raw = String::from_utf8(dir.cat_commit(oid).unwrap()).unwrap();
    // Two spaces, as `git fast-import` (which wrote our earlier commits) and git write it.
    assert!(
        raw.contains("\nauthor  <jane@example.org> 1700000000 +0100\n"),
        "{raw}"
    );
    git(
        &dir,
        &["fsck", "--strict", "--no-dangling", "--no-progress"],
    );
}

#[test]
fn a_session_dropped_or_refused_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = repo(&tmp.path().join("r.git"));
    let pack_dir = dir.path().join("objects/pack");
    let listing = || std::fs::read_dir(&pack_dir).unwrap().count();
    {
        let mut session = PackWriter::start(&dir).unwrap();
        let t = big_tree(3);
        session
            .commit(
                &CommitSpec {
                    author: &author(),
                    committer: &committer(),
                    message: b"dropped\n",
                    parents: &[],
                    update_ref: Some("refs/heads/main"),
                },
                entries(&t),
            )
            .unwrap();
    }
    assert_eq!(listing(), 0, "the temporary pack is removed");
    assert_eq!(dir.read_ref("refs/heads/main").unwrap(), None);

    // A parent the repository does not have, and two entries at one path.
    let mut session = PackWriter::start(&dir).unwrap();
    let absent = Oid::from_hex("1234567890123456789012345678901234567890").unwrap();
    let (author, committer) = (author(), committer());
    let spec = |parents| CommitSpec {
        author: &author,
        committer: &committer,
        message: b"m\n",
        parents,
        update_ref: None,
    };
    let parents = [absent];
    assert!(matches!(
        session.commit(&spec(&parents), []),
        Err(Error::InvalidInput { .. })
    ));
    let file = |path| Entry {
        path,
        mode: Mode::File,
        data: b"x",
    };
    assert!(matches!(
        session.commit(&spec(&[]), [file("a/b"), file("a")]),
        Err(Error::InvalidInput { .. })
    ));
    session.finish().unwrap();
    assert_eq!(listing(), 0, "nothing was written");
}

#[test]
fn leftovers_of_a_killed_writer_are_not_taken_for_objects_and_are_cleaned_up() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = repo(&tmp.path().join("r.git"));
    let first = simple_commit(&dir, "one", &[]);
    // As a writer killed before its renames leaves them: the pack and its index under
    // temporary names, and an index whose pack is missing.
    let pack_dir = dir.path().join("objects/pack");
    for entry in std::fs::read_dir(&pack_dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let temp = if name.ends_with(".pack") {
            "tmp_pack_pkgimport_999_0"
        } else {
            std::fs::copy(&path, pack_dir.join("pack-0000.idx")).unwrap();
            "tmp_idx_pkgimport_999_0"
        };
        std::fs::rename(&path, pack_dir.join(temp)).unwrap();
    }
    assert_eq!(dir.missing_commits(&[first]).unwrap(), vec![first]);

    // The same commit again is written again, and can be pointed at.
    let again = simple_commit(&dir, "one", &[]);
    assert_eq!(again, first);
    dir.update_ref("refs/heads/main", again).unwrap();

    let removed = pkgimport_git::remove_stale_locks(dir.path()).unwrap();
    let mut names: Vec<String> = removed
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["tmp_idx_pkgimport_999_0", "tmp_pack_pkgimport_999_0"]
    );
    git(
        &dir,
        &["fsck", "--strict", "--no-dangling", "--no-progress"],
    );
}

#[test]
fn repacking_puts_every_object_into_one_pack() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = repo(&tmp.path().join("r.git"));
    assert_eq!(dir.pack_count().unwrap(), 0);
    let mut parent = Vec::new();
    let mut last = None;
    for content in ["one", "two", "three"] {
        let oid = simple_commit(&dir, content, &parent);
        parent = vec![oid];
        last = Some(oid);
    }
    assert_eq!(dir.pack_count().unwrap(), 3);
    let last = last.unwrap();
    dir.update_ref("refs/heads/main", last).unwrap();
    dir.repack().unwrap();
    assert_eq!(dir.pack_count().unwrap(), 1);
    git(
        &dir,
        &["fsck", "--strict", "--no-dangling", "--no-progress"],
    );
    assert_eq!(
        dir.cat_blob(dir.ls_tree(last).unwrap()[0].oid).unwrap(),
        b"three"
    );
    // The writer reads the new pack's index: nothing is written twice.
    let again = simple_commit(
        &dir,
        "three",
        &[dir.rev_parse(&format!("{last}^")).unwrap().unwrap()],
    );
    assert_eq!(again, last);
    assert_eq!(dir.pack_count().unwrap(), 1);
}

#[test]
fn a_commit_on_an_existing_tree_has_that_tree_and_both_parents() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = repo(&tmp.path().join("r.git"));
    let (first, second) = import_twice(&dir);
    let (author, committer) = (author(), committer());
    let spec = CommitSpec {
        author: &author,
        committer: &committer,
        message: b"Publish\n",
        parents: &[second, first],
        update_ref: None,
    };
    // The tree comes from an earlier session: the writer finds it in the repository.
    let first_tree = dir.tree_of(first).unwrap();
    let mut session = PackWriter::start(&dir).unwrap();
    let publish = session.commit_on_tree(&spec, first_tree).unwrap();
    // A tree nobody wrote is refused before anything is written.
    let unknown = Oid::from_hex("1111111111111111111111111111111111111111").unwrap();
    assert!(matches!(
        session.commit_on_tree(&spec, unknown),
        Err(Error::InvalidInput { .. })
    ));
    session.finish().unwrap();
    assert_eq!(
        dir.cat_commit(publish).unwrap(),
        format!(
            "tree {first_tree}\nparent {second}\nparent {first}\n\
             author Jane Maintainer <jane@example.org> 1700000000 +0100\n\
             committer package-importer <importer@example.org> 1700000000 -0530\n\nPublish\n"
        )
        .into_bytes()
    );
    // commit_with_tree reports the tree git computes.
    let t = tree();
    let mut session = PackWriter::start(&dir).unwrap();
    let written = session
        .commit_with_tree(
            &CommitSpec {
                parents: &[],
                ..spec
            },
            entries(&t),
        )
        .unwrap();
    session.finish().unwrap();
    assert_eq!(dir.tree_of(written.commit).unwrap(), written.tree);
    assert_eq!(written.tree, first_tree);
}

#[test]
fn edited_snapshots_give_the_trees_of_full_commits() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = repo(&tmp.path().join("r.git"));
    let author = author();
    let committer = committer();
    let base = big_tree(1);
    let mut session = PackWriter::start(&dir).unwrap();
    let spec = CommitSpec {
        author: &author,
        committer: &committer,
        message: b"base\n",
        parents: &[],
        update_ref: None,
    };
    let (first, mut snapshot) = session.commit_snapshot(&spec, entries(&base)).unwrap();
    assert_eq!(snapshot.len(), base.len());
    assert_eq!(
        snapshot.get("copy-b").map(|(mode, _)| mode),
        Some(Mode::Executable)
    );

    // Change one file, add one in a new directory, remove a whole directory's last file,
    // and turn a file into an executable.
    let mut edited = base.clone();
    edited.insert("seed".to_owned(), (Mode::File, b"changed\n".to_vec()));
    edited.insert("new/dir/file".to_owned(), (Mode::File, b"new\n".to_vec()));
    edited.remove("d0.txt");
    edited.insert("copy-a".to_owned(), (Mode::Executable, b"same\n".to_vec()));
    let parents = [first.commit];
    let spec = CommitSpec {
        message: b"edited\n",
        parents: &parents,
        ..spec
    };
    let second = session
        .commit_edited(
            &spec,
            &mut snapshot,
            [
                Edit::Put(Entry {
                    path: "seed",
                    mode: Mode::File,
                    data: b"changed\n",
                }),
                Edit::Put(Entry {
                    path: "new/dir/file",
                    mode: Mode::File,
                    data: b"new\n",
                }),
                Edit::Remove("d0.txt"),
                Edit::Remove("not/there"),
                Edit::Put(Entry {
                    path: "copy-a",
                    mode: Mode::Executable,
                    data: b"same\n",
                }),
            ],
        )
        .unwrap();
    // The same tree written in full, from every file, has the same id (in the same session,
    // which holds the parent).
    let expected = session.commit_with_tree(&spec, entries(&edited)).unwrap();
    assert_eq!(second.tree, expected.tree);
    assert_eq!(second.commit, expected.commit);
    // Bad paths are refused before anything changes.
    assert!(matches!(
        session.commit_edited(&spec, &mut snapshot, [Edit::Remove("../x")]),
        Err(Error::InvalidInput { .. })
    ));
    session.finish().unwrap();
    git(
        &dir,
        &["fsck", "--strict", "--no-dangling", "--no-progress"],
    );
    assert_eq!(dir.tree_of(second.commit).unwrap(), second.tree);
}
