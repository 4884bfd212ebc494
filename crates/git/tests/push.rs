//! The push as compare-and-swap, against file:// remotes (and a refusing or silent local
//! port for the unreachable cases): atomicity, leases, the re-push after a crash, and the
//! classification of failures.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{repo, simple_commit};
use pkgimport_git::{
    Error, GitDir, GitOptions, Oid, RefPushStatus, RefUpdate, RemoteRefs, ensure_local_bare_remote,
    ls_remote,
};

const SID: &str = "refs/heads/importer/debian/sid";
const NOBLE: &str = "refs/heads/importer/ubuntu/noble";
const TAG_A: &str = "refs/tags/import/1.0-1";
const TAG_B: &str = "refs/tags/import/1.0-2";
const TAG_C: &str = "refs/tags/import/1%0.9-1";

fn update(name: &str, new: Oid, expected_old: Option<Oid>) -> RefUpdate {
    RefUpdate {
        name: name.to_owned(),
        new,
        expected_old,
    }
}

fn remote_url(root: &Path) -> String {
    format!("file://{}/remote/hello.git", root.display())
}

/// A working repository with commits a ← b, and an unrelated root c.
struct Fixture {
    _tmp: tempfile::TempDir,
    work: GitDir,
    url: String,
    a: Oid,
    b: Oid,
    c: Oid,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let work = repo(&tmp.path().join("work/hello.git"));
    let a = simple_commit(&work, "a", &[]);
    let b = simple_commit(&work, "b", &[a]);
    let c = simple_commit(&work, "c", &[]);
    let url = remote_url(tmp.path());
    Fixture {
        _tmp: tmp,
        work,
        url,
        a,
        b,
        c,
    }
}

fn remote_refs(url: &str) -> RemoteRefs {
    ls_remote(&GitOptions::default(), url)
        .unwrap()
        .expect("remote exists")
}

fn refs(pairs: &[(&str, Oid)]) -> RemoteRefs {
    pairs.iter().map(|(n, o)| ((*n).to_owned(), *o)).collect()
}

/// First push of a package: the remote is created, then every ref and tag arrives at once.
fn first_push(f: &Fixture) {
    let options = GitOptions::default();
    assert_eq!(
        ls_remote(&options, &f.url).unwrap(),
        None,
        "not created yet"
    );
    assert!(ensure_local_bare_remote(&f.url).unwrap());
    assert!(!ensure_local_bare_remote(&f.url).unwrap());
    assert_eq!(
        ls_remote(&options, &f.url).unwrap(),
        Some(Default::default())
    );

    let report = f
        .work
        .push_atomic(
            &f.url,
            &[
                update(SID, f.a, None),
                update(NOBLE, f.a, None),
                update(TAG_A, f.a, None),
            ],
        )
        .unwrap();
    assert!(report.refs.values().all(|s| *s == RefPushStatus::Created));
    assert_eq!(report.refs.len(), 3);
    assert_eq!(
        remote_refs(&f.url),
        refs(&[(SID, f.a), (NOBLE, f.a), (TAG_A, f.a)])
    );
}

/// The second push: a fast-forward, a move to an unrelated commit, and a new tag.
fn second_push_updates(f: &Fixture) -> Vec<RefUpdate> {
    vec![
        update(SID, f.b, Some(f.a)),
        update(NOBLE, f.c, Some(f.a)),
        update(TAG_B, f.b, None),
    ]
}

#[test]
fn atomic_push_of_branches_and_tags_with_leases() {
    let f = fixture();
    first_push(&f);

    let report = f
        .work
        .push_atomic(&f.url, &second_push_updates(&f))
        .unwrap();
    assert_eq!(report.refs[SID], RefPushStatus::FastForward);
    assert_eq!(
        report.refs[NOBLE],
        RefPushStatus::Forced,
        "non-descendant, lease held"
    );
    assert_eq!(report.refs[TAG_B], RefPushStatus::Created);
    assert!(!report.is_noop());
    assert_eq!(
        remote_refs(&f.url),
        refs(&[(SID, f.b), (NOBLE, f.c), (TAG_A, f.a), (TAG_B, f.b)])
    );
}

/// A git killed with SIGKILL in the middle of a ref update (as the crash sweep does) leaves
/// its `.lock` files, in the working repository and in a local remote. Left there, they
/// would make every later update fail, for good; `remove_stale_locks` clears them.
#[test]
fn stale_lock_files_of_a_killed_git_are_removed() {
    let f = fixture();
    first_push(&f);
    let remote = Path::new(f.url.strip_prefix("file://").unwrap()).to_owned();
    let stale = [
        f.work.path().join("refs/heads/importer/debian/sid.lock"),
        f.work.path().join("packed-refs.lock"),
        remote.join("refs/heads/importer/debian/sid.lock"),
        remote.join("refs/tags/import/1.0-2.lock"),
        remote.join("packed-refs.lock"),
    ];
    for path in &stale {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "").unwrap();
    }
    assert!(f.work.update_refs(&[(SID, f.b)]).is_err());
    assert!(
        f.work
            .push_atomic(&f.url, &second_push_updates(&f))
            .is_err()
    );

    let mut removed = pkgimport_git::remove_stale_locks(f.work.path()).unwrap();
    removed.extend(pkgimport_git::remove_stale_local_remote_locks(&f.url).unwrap());
    removed.sort();
    let mut want = stale.to_vec();
    want.sort();
    assert_eq!(removed, want);
    f.work.update_refs(&[(SID, f.b)]).unwrap();
    f.work
        .push_atomic(&f.url, &second_push_updates(&f))
        .unwrap();
    assert_eq!(remote_refs(&f.url)[SID], f.b);
    // Nothing left to remove, and a remote that is not local is left alone.
    assert!(
        pkgimport_git::remove_stale_locks(f.work.path())
            .unwrap()
            .is_empty()
    );
    assert!(
        pkgimport_git::remove_stale_local_remote_locks("ssh://host/x.git")
            .unwrap()
            .is_empty()
    );
}

/// Crash between the push and the audit commit: the next run pushes again with the same,
/// now old, expected values. git reports the refs up to date and succeeds.
#[test]
fn repeating_a_completed_push_with_the_old_leases_is_a_noop() {
    let f = fixture();
    first_push(&f);
    let updates = second_push_updates(&f);
    f.work.push_atomic(&f.url, &updates).unwrap();
    let before = remote_refs(&f.url);

    let report = f.work.push_atomic(&f.url, &updates).unwrap();
    assert!(report.is_noop(), "{report:?}");
    assert_eq!(report.refs.len(), 3);
    assert_eq!(remote_refs(&f.url), before);

    // The same holds for the very first push, whose leases say "must not exist".
    let first = [update(SID, f.b, None), update(TAG_B, f.b, None)];
    assert!(f.work.push_atomic(&f.url, &first).unwrap().is_noop());
}

#[test]
fn tampered_remote_refuses_the_whole_push_and_changes_nothing() {
    let f = fixture();
    first_push(&f);

    // Someone else pushes their own commit to one branch, playing by the rules.
    let tmp = tempfile::tempdir().unwrap();
    let other = repo(&tmp.path().join("other.git"));
    let theirs = simple_commit(&other, "someone else's work", &[]);
    other
        .push_atomic(&f.url, &[update(SID, theirs, Some(f.a))])
        .unwrap();
    let tampered = remote_refs(&f.url);

    // Our push still expects the old value of SID; NOBLE and the new tag would be fine.
    match f.work.push_atomic(&f.url, &second_push_updates(&f)) {
        Err(Error::LeaseRefused { refs }) => assert_eq!(refs, vec![SID.to_owned()]),
        other => panic!("expected LeaseRefused, got {other:?}"),
    }
    assert_eq!(
        remote_refs(&f.url),
        tampered,
        "nothing moved, no tag created"
    );
    let err = f
        .work
        .push_atomic(&f.url, &second_push_updates(&f))
        .unwrap_err();
    assert_eq!(err.to_string(), format!("remote diverged: {SID}"));
    assert!(!err.is_transient());

    // A ref that appeared although we expected it absent is refused the same way.
    match f.work.push_atomic(&f.url, &[update(TAG_A, f.b, None)]) {
        Err(Error::LeaseRefused { refs }) => assert_eq!(refs, vec![TAG_A.to_owned()]),
        other => panic!("expected LeaseRefused, got {other:?}"),
    }
    // A lease naming the actual value lets the push through (what `reset --adopt-remote`
    // would do after an operator's decision).
    f.work
        .push_atomic(
            &f.url,
            &[update(SID, f.b, Some(theirs)), update(TAG_C, f.c, None)],
        )
        .unwrap();
    assert_eq!(
        remote_refs(&f.url),
        refs(&[(SID, f.b), (NOBLE, f.a), (TAG_A, f.a), (TAG_C, f.c)])
    );
}

#[test]
fn missing_file_remote_is_unreachable_but_a_missing_local_object_is_not() {
    let f = fixture();
    let missing = "file:///nonexistent/package-importer-test/remote/hello.git";
    let err = f
        .work
        .push_atomic(missing, &[update(SID, f.a, None)])
        .unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(ls_remote(&GitOptions::default(), missing).unwrap(), None);

    // The remote answered, the mistake is ours: not an outage to retry forever.
    assert!(ensure_local_bare_remote(&f.url).unwrap());
    let absent = Oid::from_hex("1234567890123456789012345678901234567890").unwrap();
    let err = f
        .work
        .push_atomic(&f.url, &[update(SID, absent, None)])
        .unwrap_err();
    assert!(matches!(err, Error::Failed { .. }), "{err:?}");
    assert!(matches!(
        f.work.push_atomic(&f.url, &[update("HEAD", f.a, None)]),
        Err(Error::InvalidInput { .. })
    ));
    assert!(remote_refs(&f.url).is_empty());
}

#[test]
fn ssh_to_a_refusing_port_is_unreachable() {
    let f = fixture();
    // Bind and drop: the port is free, so connecting to it is refused.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ssh://git@127.0.0.1:{port}/srv/hello.git");
    let options = GitOptions {
        network_timeout: Duration::from_secs(10),
        ..GitOptions::default()
    };
    let err = ls_remote(&options, &url).unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    let work = GitDir::open_or_init(f.work.path(), options).unwrap();
    let err = work
        .push_atomic(&url, &[update(SID, f.a, None)])
        .unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
}

#[test]
fn silent_remote_hits_the_timeout_and_is_unreachable() {
    let f = fixture();
    // The kernel accepts the connection into the backlog; nobody ever speaks.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("ssh://git@127.0.0.1:{port}/srv/hello.git");
    let options = GitOptions {
        network_timeout: Duration::from_millis(500),
        ..GitOptions::default()
    };
    let work = GitDir::open_or_init(f.work.path(), options).unwrap();
    let started = Instant::now();
    let err = work
        .push_atomic(&url, &[update(SID, f.a, None)])
        .unwrap_err();
    match &err {
        Error::Unreachable { message, .. } => assert!(message.contains("no answer"), "{err}"),
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(listener);
}

#[test]
fn an_empty_directory_counts_as_a_missing_local_remote() {
    let f = fixture();
    let path = f.url.strip_prefix("file://").unwrap();
    std::fs::create_dir_all(path).unwrap();
    let options = GitOptions::default();
    assert_eq!(ls_remote(&options, &f.url).unwrap(), None);
    assert!(ensure_local_bare_remote(&f.url).unwrap());
    f.work
        .push_atomic(&f.url, &[update(SID, f.a, None)])
        .unwrap();
    assert_eq!(remote_refs(&f.url), refs(&[(SID, f.a)]));
    // A relative path works although git runs with another cwd.
    let cwd = std::env::current_dir().unwrap();
    let mut relative = std::path::PathBuf::new();
    for _ in cwd.components().skip(1) {
        relative.push("..");
    }
    relative.push(Path::new(path).strip_prefix("/").unwrap());
    let reopened = GitDir::open_or_init(&relative, options).unwrap();
    assert_eq!(reopened.read_ref(SID).unwrap(), Some(f.a));
}

#[test]
fn an_empty_work_repository_fetches_what_the_remote_has() {
    let f = fixture();
    ensure_local_bare_remote(&f.url).unwrap();
    f.work
        .push_atomic(&f.url, &[update(SID, f.b, None), update(TAG_A, f.a, None)])
        .unwrap();
    let other = repo(&f._tmp.path().join("other-host/hello.git"));
    assert_eq!(other.missing_commits(&[f.a, f.b]).unwrap(), vec![f.a, f.b]);
    other.fetch_all(&f.url).unwrap();
    assert!(other.missing_commits(&[f.a, f.b]).unwrap().is_empty());
    // c was never pushed: still missing, and reported as such.
    assert_eq!(other.missing_commits(&[f.c]).unwrap(), vec![f.c]);
    assert_eq!(other.read_ref(SID).unwrap(), Some(f.b));
    assert_eq!(other.read_ref(TAG_A).unwrap(), Some(f.a));
}

#[test]
fn a_killed_receive_packs_keep_file_is_stale_and_an_operators_is_not() {
    let f = fixture();
    let pack = f.work.path().join("objects/pack");
    std::fs::create_dir_all(&pack).unwrap();
    let stale = pack.join("pack-1111.keep");
    let operator = pack.join("pack-2222.keep");
    std::fs::write(&stale, "receive-pack 4242 on host\n").unwrap();
    std::fs::write(&operator, "keep this one\n").unwrap();
    let removed = pkgimport_git::remove_stale_locks(f.work.path()).unwrap();
    assert_eq!(removed, vec![stale.clone()]);
    assert!(!stale.exists());
    assert!(operator.exists());
}
