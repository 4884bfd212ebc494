//! The `importctl migrate-db` round trip. Import on SQLite (the driver with the real
//! `import-one`, and `import-one` by hand, against the in-process lp-sim), migrate into a
//! fresh PostgreSQL database, then carry on there (`PKGIMPORT_DATABASE_URL`): a version
//! published after the migration is found by a poll that starts from the copied
//! watermarks, imported once on top of the history, and `importctl verify --all` is clean.
//! No version is ever imported twice: the `versions_imported=` of every run add up to the
//! remote's tags. On the way, the refusals: a usage error, a bad URL, a running driver, and a
//! target that has rows.
//!
//! Runs only when `PKGIMPORT_TEST_PG_URL` names a server whose user may create databases
//! (`scripts/pg-test-cluster start` prints one); without it, it says so in one line and
//! passes (outside CI; under CI it fails).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Output};

use pkgimport_lp_sim::Publish;
use pkgimport_testkit::pg::{PG_URL_ENV, PgDatabase};

use crate::util::{TestEnv, dump, wait_for};

/// A password that the test cluster (trust authentication) never asks for: it rides in
/// every URL so that the test can check it is never shown.
const PASSWORD: &str = "n0t-shown-3xyz";

/// A database created for one test and dropped after it.
struct FreshDb {
    /// Dropped last: the database itself.
    _db: PgDatabase,
    /// The database's URL, with the password.
    url: String,
}

impl FreshDb {
    fn create() -> Option<FreshDb> {
        let db = PgDatabase::create()?;
        let (scheme, rest) = db.url().split_once("://").expect("a URL");
        let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
        let (user, host) = authority.rsplit_once('@').expect("a user in the URL");
        let user = user.split(':').next().unwrap();
        let url = format!("{scheme}://{user}:{PASSWORD}@{host}/{}", db.name());
        Some(FreshDb { _db: db, url })
    }
}

/// `bin` with the shared database selected through the environment.
fn on_pg(env: &TestEnv, db: &FreshDb, bin: &str) -> Command {
    let mut cmd = env.cmd(bin);
    cmd.env("PKGIMPORT_DATABASE_URL", &db.url);
    cmd
}

fn ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", dump(&out));
    assert_not_shown(&out);
    out
}

fn assert_not_shown(out: &Output) {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(PASSWORD), "the password was shown: {all}");
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `versions_imported=N` of the summary line in `text`.
fn versions_imported(text: &str) -> u64 {
    let at = text
        .rfind("versions_imported=")
        .unwrap_or_else(|| panic!("no summary line in {text}"));
    text[at + "versions_imported=".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Per package, the `versions_imported=` of each successful run the driver made, from the
/// runs' logs.
fn imported_by_driver(env: &TestEnv, runs: &serde_json::Value) -> BTreeMap<String, u64> {
    let mut total = BTreeMap::new();
    for r in runs.as_array().unwrap() {
        if r["outcome"] != "success" {
            continue;
        }
        let log = env.state().join(r["log_path"].as_str().unwrap());
        let text = std::fs::read_to_string(&log).unwrap();
        *total
            .entry(r["package"].as_str().unwrap().to_owned())
            .or_default() += versions_imported(&text);
    }
    total
}

fn tags(env: &TestEnv, package: &str) -> usize {
    env.remote_refs(package)
        .keys()
        .filter(|r| r.starts_with("refs/tags/import/"))
        .count()
}

#[test]
fn migrate_db_round_trip_carries_on_in_postgresql_and_imports_nothing_twice() {
    let Some(db) = FreshDb::create() else {
        #[expect(
            clippy::print_stderr,
            reason = "the one line that says what did not run"
        )]
        {
            eprintln!("migrate-db round trip skipped: {PG_URL_ENV} is not set");
        }
        return;
    };
    let env = TestEnv::new();
    // hello 2.12.3-1 is held back, to be published once the state lives in PostgreSQL.
    let sim = env.start_sim_with(|archive| {
        let path = archive.join("manifest.json");
        let mut manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        manifest["hello"]
            .as_object_mut()
            .unwrap()
            .remove("2.12.3-1")
            .unwrap();
        std::fs::write(&path, manifest.to_string()).unwrap();
    });
    env.use_real_importer();

    // On SQLite: watermarks from a first poll, two packages through the driver, one by hand.
    ok(&mut env.cmd("poll-uploads"));
    env.enqueue("manual", &["hello", "libcap2"]);
    env.drive(&[]);
    let by_hand = ok(env.cmd("import-one").arg("authbind"));
    let mut imported = imported_by_driver(&env, &env.ctl_json(&["runs"]));
    imported.insert(
        "authbind".into(),
        versions_imported(&String::from_utf8_lossy(&by_hand.stderr)),
    );
    assert_eq!(
        imported,
        BTreeMap::from([
            ("authbind".into(), 1),
            ("hello".into(), 2),
            ("libcap2".into(), 2)
        ])
    );
    env.ctl_ok(&["snapshot"]);
    env.ctl_ok(&["verify", "--all"]);
    let runs_before = env.ctl_json(&["runs"]);
    let watermarks_before = pkgimport_queue::Store::open(&env.state())
        .unwrap()
        .watermarks()
        .unwrap();
    assert!(!watermarks_before.is_empty());

    // The refusals, none of which touches the target.
    let out = env.ctl(&["migrate-db"]);
    assert_eq!(out.status.code(), Some(64), "{}", dump(&out));
    let out = env.ctl(&["migrate-db", "--to", &format!("mysql://u:{PASSWORD}@db/x")]);
    assert_eq!(out.status.code(), Some(78), "{}", dump(&out));
    assert_not_shown(&out);
    let mut driver = env.spawn_driver(&[]);
    let lock = env.state().join("locks/_driver.lock");
    wait_for(30, "the driver's lock", || {
        std::fs::read_to_string(&lock).is_ok_and(|pid| pid.trim() == driver.id().to_string())
    });
    let out = env.ctl(&["migrate-db", "--to", &db.url]);
    assert_eq!(out.status.code(), Some(73), "{}", dump(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stop the driver"),
        "{}",
        dump(&out)
    );
    crate::util::signal(&driver, "TERM");
    assert!(driver.wait().unwrap().success());

    // The migration.
    let out = ok(env.cmd("importctl").args(["migrate-db", "--to", &db.url]));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains("postgres://***@"), "{stdout}");
    let last = stdout.lines().last().unwrap();
    assert!(
        last.contains("database.url") && last.contains("PKGIMPORT_DATABASE_URL"),
        "{stdout}"
    );
    let runs_line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some("runs"))
        .unwrap();
    assert_eq!(
        runs_line.split_whitespace().nth(1),
        Some(runs_before.as_array().unwrap().len().to_string().as_str()),
        "{stdout}"
    );
    // Twice is refused: the target has rows now. (The URL from stdin, this time.)
    let mut again = env
        .cmd("importctl")
        .args(["migrate-db", "--to", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(again.stdin.take().unwrap(), "{}", db.url).unwrap();
    let out = again.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(65), "{}", dump(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not empty"),
        "{}",
        dump(&out)
    );
    assert_not_shown(&out);

    // On PostgreSQL: the same history.
    let runs_pg = json(&ok(on_pg(&env, &db, "importctl").args(["runs", "--json"])));
    assert_eq!(runs_pg, runs_before, "the runs differ after the migration");
    let verify = ok(on_pg(&env, &db, "importctl").args(["verify", "--all", "--json"]));
    assert_eq!(json(&verify), serde_json::json!([]));

    // A new upload: the poll starts from the copied watermarks, so it sees it and queues
    // hello; the driver imports it on top of the history.
    sim.publish(&Publish {
        distribution: None,
        package: "hello".into(),
        version: "2.12.3-1".into(),
        suite: "sid".into(),
        date_created: None,
        published: true,
    })
    .unwrap();
    ok(&mut on_pg(&env, &db, "poll-uploads"));
    let queue = json(&ok(on_pg(&env, &db, "importctl").args(["queue", "--json"])));
    let queued: Vec<&str> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["package"].as_str().unwrap())
        .collect();
    // Had the watermarks been lost, this first poll would have started from Launchpad's
    // newest publication and queued nothing. (The skew window may queue the newest
    // publication of other series again: at least once.)
    assert!(queued.contains(&"hello"), "{queued:?}");
    ok(on_pg(&env, &db, "driver").arg("--exit-when-idle"));
    // And the others once more, by hand: nothing left to import.
    for package in ["libcap2", "authbind"] {
        let out = ok(on_pg(&env, &db, "import-one").arg(package));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(versions_imported(&stderr), 0, "{stderr}");
    }

    let runs_after = json(&ok(on_pg(&env, &db, "importctl").args(["runs", "--json"])));
    let old_ids: Vec<i64> = runs_before
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    let new: Vec<&serde_json::Value> = runs_after
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !old_ids.contains(&r["id"].as_i64().unwrap()))
        .collect();
    assert!(
        new.iter().all(|r| r["outcome"] == "success"),
        "{runs_after:#}"
    );
    let hello_runs: Vec<_> = new.iter().filter(|r| r["package"] == "hello").collect();
    assert_eq!(hello_runs.len(), 1, "{runs_after:#}");
    assert!(hello_runs[0]["id"].as_i64().unwrap() > *old_ids.iter().max().unwrap());

    // Every version imported exactly once, on either side of the migration: the
    // `versions_imported=` of all runs add up to the remote's tags, one per version.
    let mut all = imported_by_driver(&env, &runs_after);
    *all.entry("authbind".into()).or_default() += 1;
    assert_eq!(all["hello"], 3, "2 on SQLite, 1 on PostgreSQL: {all:?}");
    assert_eq!(all["libcap2"], 2, "nothing again on PostgreSQL: {all:?}");
    for (package, n) in &all {
        assert_eq!(tags(&env, package), *n as usize, "{package}: {all:?}");
    }
    let hello = env.remote_refs("hello");
    assert_eq!(
        hello["refs/heads/importer/debian/sid"],
        hello["refs/tags/import/2.12.3-1"]
    );
    let verify = ok(on_pg(&env, &db, "importctl").args(["verify", "--all", "--json"]));
    assert_eq!(json(&verify), serde_json::json!([]));
    let failures = json(&ok(
        on_pg(&env, &db, "importctl").args(["failures", "--all", "--json"])
    ));
    assert_eq!(failures, serde_json::json!([]));

    // The SQLite file was only read: it still says what it said.
    assert_eq!(env.ctl_json(&["runs"]), runs_before);
}
