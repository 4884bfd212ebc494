//! Three hosts: three drivers, each with a state directory of its own (its work
//! repositories, locks, logs and config file), share one PostgreSQL database, one simulated
//! Launchpad serving a synthetic history of 300 packages, and one directory of bare remote
//! repositories. One poll enqueues everything; the three drivers import it; one of them is
//! SIGKILLed in the middle. Its imports still running finish on their own, its open runs
//! are adopted by a survivor once their lease has expired and the package lock is free,
//! and the survivors drain the queue.
//!
//! Asserted from the runs table, the run logs and the remote: every package is imported
//! exactly once (the `versions_imported` of all its runs add up to its number of versions,
//! and every version is on the remote), nothing failed, and no two runs of one package
//! overlap in time. A run's interval holds its import's process: the driver opens the run
//! before it starts the child and closes it after the child has exited, and a run left by
//! a dead driver is closed only once its package lock, which `import-one` holds for its
//! whole life, is free. So no package was ever imported by two hosts at once.
//!
//! Runs when `PKGIMPORT_TEST_PG_URL` names a PostgreSQL server; otherwise it says so in one
//! line and passes (outside CI; under CI it fails). It runs alone: three drivers and their
//! imports need the whole machine.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::{TestEnv, alive, dump, stop};

const PACKAGES: u32 = 300;
const SERIES: u16 = 2;
const VERSIONS: u32 = 2;

/// One row of the runs table.
#[derive(Debug)]
struct Run {
    id: i64,
    package: String,
    driver: String,
    started_at: i64,
    ended_at: Option<i64>,
    outcome: String,
    log_path: String,
    pid: Option<u32>,
}

fn runs(env: &TestEnv) -> Vec<Run> {
    pkgimport_testkit::pg::connect(env.database_url().unwrap())
        .query(
            "SELECT id, package, driver, started_at, ended_at, outcome, log_path, pid
             FROM runs ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| Run {
            id: row.get(0),
            package: row.get(1),
            driver: row.get(2),
            started_at: row.get(3),
            ended_at: row.get(4),
            // Empty while the run is open.
            outcome: row.get::<_, Option<String>>(5).unwrap_or_default(),
            log_path: row.get(6),
            pid: row
                .get::<_, Option<i64>>(7)
                .map(|pid| u32::try_from(pid).unwrap()),
        })
        .collect()
}

/// Waits until `cond` holds, for at most `secs`, asking every 250 ms: each question is a
/// connection to the database, and the imports need the CPU.
fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn count(env: &TestEnv, sql: &str) -> u64 {
    let count: i64 = pkgimport_testkit::pg::connect(env.database_url().unwrap())
        .query_one(sql, &[])
        .unwrap()
        .get(0);
    u64::try_from(count).unwrap()
}

/// The `versions_imported` that a run's log reports, if the import finished.
fn versions_imported(log: &str) -> Option<u64> {
    let line = log.lines().rfind(|l| l.contains("import-one: package="))?;
    let rest = line.split(" versions_imported=").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn three_hosts_share_one_queue_and_never_import_a_package_twice() {
    let _alone = crate::util::run_alone();
    let Some(first) = TestEnv::new_pg() else {
        crate::util::skipped();
        return;
    };
    let _sim = first.start_synthetic_sim_versions(PACKAGES, SERIES, VERSIONS);
    first.use_real_importer();
    let hosts = [first.another_host(), first.another_host(), first];
    let remote = hosts[0].root().join("shared-remote");
    for host in &hosts {
        // A short heartbeat, so that leases are renewed often; the lease itself is the
        // driver's minimum of 30 s.
        host.config_sections(
            "heartbeat_interval = \"1s\"\n",
            &format!(
                "[git]\nremote = \"file://{}/{{package}}.git\"\n",
                remote.display()
            ),
        );
    }
    let state_of = |driver: &str| -> usize {
        hosts
            .iter()
            .position(|h| driver.ends_with(&format!(":{}", h.state().display())))
            .unwrap_or_else(|| panic!("no host runs as driver {driver:?}"))
    };

    let out = hosts[0]
        .cmd("poll-uploads")
        .args(["--initial", "all"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", dump(&out));
    assert_eq!(hosts[0].ctl_json(&["status"])["queued"], PACKAGES);

    let started = Instant::now();
    // Each driver logs to a file in its host's directory: a pipe nobody reads could fill.
    let mut drivers: Vec<_> = hosts
        .iter()
        .map(|h| {
            let log = std::fs::File::create(h.root().join("driver.log")).unwrap();
            Some(
                h.cmd("driver")
                    .args(["--concurrency", "2"])
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();

    // SIGKILL the third host's driver once 100 imports are done, at a moment when it has an
    // import running.
    let victim = 2;
    let victim_runs = |env: &TestEnv| {
        runs(env)
            .into_iter()
            .filter(|r| r.ended_at.is_none() && r.pid.is_some() && state_of(&r.driver) == victim)
            .count()
    };
    let successes = "SELECT count(*) FROM runs WHERE outcome = 'success'";
    wait_for(
        120,
        "100 imports and a running one on the third host",
        || count(&hosts[0], successes) >= 100 && victim_runs(&hosts[0]) > 0,
    );
    let mut killed = drivers[victim].take().unwrap();
    killed.kill().unwrap();
    killed.wait().unwrap();
    let killed_at = started.elapsed();
    let orphans: Vec<Run> = runs(&hosts[0])
        .into_iter()
        .filter(|r| r.ended_at.is_none() && state_of(&r.driver) == victim)
        .collect();
    assert!(!orphans.is_empty(), "the killed driver left no run open");

    // The survivors never exit on their own: the orphans' runs become theirs only once the
    // lease has expired. Wait until no job is left and no run is open.
    wait_for(240, "the survivors to drain the queue", || {
        count(&hosts[0], "SELECT count(*) FROM jobs") == 0
            && count(
                &hosts[0],
                "SELECT count(*) FROM runs WHERE ended_at IS NULL",
            ) == 0
    });
    let drained_at = started.elapsed();

    // Nothing failed.
    let failures = hosts[0].ctl_json(&["failures", "--all"]);
    assert_eq!(failures.as_array().unwrap().len(), 0, "{failures:#}");

    let runs = runs(&hosts[0]);
    let mut by_package: BTreeMap<&str, Vec<&Run>> = BTreeMap::new();
    for r in &runs {
        by_package.entry(&r.package).or_default().push(r);
    }
    assert_eq!(by_package.len(), PACKAGES as usize);

    // Every run succeeded, but the dead driver's, which were abandoned and adopted.
    for r in &runs {
        match r.outcome.as_str() {
            "success" => {}
            "abandoned" => assert!(
                orphans.iter().any(|o| o.id == r.id),
                "run {} of {} abandoned, but it was not the killed driver's: {r:?}",
                r.id,
                r.driver
            ),
            other => panic!("run {} ended {other}: {r:?}", r.id),
        }
    }
    assert_eq!(
        runs.iter().filter(|r| r.outcome == "abandoned").count(),
        orphans.len()
    );

    // Every package ended with a success, adopted ones included.
    for (package, rs) in &by_package {
        assert_eq!(rs.last().unwrap().outcome, "success", "{package}: {rs:#?}");
    }

    // No two runs of one package overlap: each starts after the one before it ended.
    for (package, rs) in &by_package {
        for pair in rs.windows(2) {
            let ended = pair[0].ended_at.unwrap();
            assert!(
                pair[1].started_at >= ended,
                "{package}: run {} ({}) started at {} before run {} ({}) ended at {ended}",
                pair[1].id,
                pair[1].driver,
                pair[1].started_at,
                pair[0].id,
                pair[0].driver,
            );
        }
    }

    // Exactly once: per package, the versions that its runs imported (read from the run
    // logs, in the state directory of the host that ran each) add up to its versions.
    let mut reimports = 0;
    for (package, rs) in &by_package {
        let mut total = 0;
        for r in rs {
            let log_file: PathBuf = hosts[state_of(&r.driver)].state().join(&r.log_path);
            let log = std::fs::read_to_string(&log_file).unwrap_or_default();
            let n = versions_imported(&log);
            if r.outcome == "success" {
                assert!(
                    n.is_some(),
                    "{package} run {}: no summary in {log_file:?}",
                    r.id
                );
            }
            if r.outcome == "success" && rs.len() > 1 && n == Some(0) {
                reimports += 1;
            }
            total += n.unwrap_or(0);
        }
        assert_eq!(total, u64::from(VERSIONS), "{package}: {rs:#?}");
    }

    // Every version is on the one remote, and the remote equals the committed audit.
    for package in by_package.keys() {
        let out = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(remote.join(format!("{package}.git")))
            .args(["for-each-ref", "--format=%(refname)", "refs/tags/import/"])
            .output()
            .unwrap();
        let tags = String::from_utf8_lossy(&out.stdout).lines().count();
        assert_eq!(tags, VERSIONS as usize, "{package}: {}", dump(&out));
    }
    let out = hosts[1].ctl(&["verify", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", dump(&out));

    // Each host did part of the work, in its own state directory.
    let mut per_host = [0; 3];
    for r in runs.iter().filter(|r| r.outcome == "success") {
        per_host[state_of(&r.driver)] += 1;
    }
    assert!(
        per_host.iter().all(|&n| n > 0),
        "successes per host {per_host:?}"
    );
    for o in &orphans {
        if let Some(pid) = o.pid {
            assert!(!alive(pid), "orphaned import pid {pid} still runs");
        }
    }

    #[expect(clippy::print_stderr, reason = "the figures for the closing note")]
    {
        eprintln!(
            "three hosts: {PACKAGES} packages x {VERSIONS} versions; driver killed after \
             {killed_at:.1?} with {} runs open; queue drained after {drained_at:.1?}; \
             successes per host {per_host:?}; adopted runs re-run as no-ops: {reimports}",
            orphans.len()
        );
    }

    // The survivors stop cleanly.
    for (host, driver) in hosts.iter().zip(&mut drivers) {
        let Some(driver) = driver.take() else {
            continue;
        };
        let out = stop(driver, "TERM", 20);
        let log = std::fs::read_to_string(host.root().join("driver.log")).unwrap();
        assert!(out.status.success(), "{:?}: {log}", out.status);
    }
}
