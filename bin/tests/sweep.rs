//! The crash sweep: the whole system (`lp-sim`, `poll-uploads`, `driver` running the real
//! `import-one`, `retry-failures`) over synthetic packages, with SIGKILLs of the driver or of
//! a random `import-one` at moments drawn from a seeded generator, round after round; new
//! versions are published between rounds so the imports keep having work. After a final
//! kill and recovery it checks these invariants:
//!
//! - every publication is imported exactly once: per package the remote's tags are exactly
//!   one `import/<version>` and one `applied/<version>` per published version (the
//!   synthetic packages have no patches: both at the version's commit), every version has
//!   exactly one commit (`git rev-list --all` counts the versions, each `Import <pkg>
//!   <version>` subject once), each branch and its patches-applied twin point at the newest
//!   version of its series and pocket, and the committed audit lists exactly the
//!   publications of the simulator;
//! - the remote refs equal the committed audit (`importctl verify --all` exits 0);
//! - no critical mark and no staged rows remain;
//! - no job was lost: every package has a successful run that started after its last
//!   publication, the queue is empty, no run is open, no failure remains, and no
//!   `import-one` of this state directory still runs;
//! - every failure recorded during the sweep is `died` (a SIGKILLed `import-one`): a kill is
//!   not a fault of the package, so `retry-failures` (cooldown 1 ms, no attention limit)
//!   re-queues it before the next round, and anything else is a violation;
//! - the driver never exits by itself, and `PRAGMA integrity_check` is ok.
//!
//! `PKGIMPORT_SWEEP_ROUNDS` (default 6) and `PKGIMPORT_SWEEP_SEED` (default 1) choose the
//! length and the moments; `scripts/crash-sweep` runs the long one. A failing seed replays
//! the same choices, though the moments a kill lands on depend on the machine's speed. The
//! sweep runs alone, so that the other tests do not change those moments.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pkgimport_core::PackageName;
use pkgimport_lp_sim::Publish;
use pkgimport_queue::{Outcome, Store, Timestamp};

use crate::util::{TestEnv, dump};

/// Synthetic packages; each starts with version 1.0 in its home series (sid or trixie).
const PACKAGES: u32 = 8;
/// Imports the driver runs at once.
const CONCURRENCY: &str = "3";
/// Suites new versions are published into.
const SUITES: [&str; 3] = ["sid", "trixie", "trixie-security"];

#[expect(
    clippy::disallowed_methods,
    reason = "the sweep's knobs come from the test's environment"
)]
fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn package_name(j: u32) -> String {
    format!("synth-{j:06}")
}

/// `(series, pocket)` of a suite, as the importer names them.
fn split_suite(suite: &str) -> (String, String) {
    match suite.strip_suffix("-security") {
        Some(series) => (series.to_owned(), "Security".to_owned()),
        None => (suite.to_owned(), "Release".to_owned()),
    }
}

/// What the simulator published, package by package, in publication order.
#[derive(Default)]
struct Model {
    /// package → (version index, series, pocket), oldest first.
    publications: BTreeMap<String, Vec<(u32, String, String)>>,
    /// package → when it was last published (just before the call).
    last_published: BTreeMap<String, Timestamp>,
    published: u64,
}

impl Model {
    fn new() -> Model {
        let mut m = Model::default();
        for j in 0..PACKAGES {
            let series = if j % 2 == 0 { "sid" } else { "trixie" };
            m.publications.insert(
                package_name(j),
                vec![(0, series.to_owned(), "Release".to_owned())],
            );
        }
        m
    }

    /// Publishes a new version, or copies a package's newest version into a suite that
    /// lacks it (a ref-only import).
    fn publish_some(
        &mut self,
        sim: &pkgimport_lp_sim::SimHandle,
        rng: &mut pkgimport_testkit::SplitMix64,
    ) {
        let package = package_name(rng.below(u64::from(PACKAGES)) as u32);
        let pubs = &self.publications[&package];
        let top = pubs.iter().map(|(v, _, _)| *v).max().unwrap_or(0);
        let (version, suite) = if rng.chance(30) {
            let lacking: Vec<&str> = SUITES
                .into_iter()
                .filter(|s| {
                    let (series, pocket) = split_suite(s);
                    !pubs
                        .iter()
                        .any(|(v, se, po)| *v == top && *se == series && *po == pocket)
                })
                .collect();
            if lacking.is_empty() {
                return;
            }
            (top, lacking[rng.below(lacking.len() as u64) as usize])
        } else {
            (top + 1, SUITES[rng.below(SUITES.len() as u64) as usize])
        };
        let before = Timestamp::now();
        sim.publish(&Publish {
            distribution: None,
            package: package.clone(),
            version: format!("1.{version}"),
            suite: suite.to_owned(),
            date_created: None,
            published: true,
        })
        .unwrap();
        let (series, pocket) = split_suite(suite);
        self.publications
            .get_mut(&package)
            .unwrap()
            .push((version, series, pocket));
        self.last_published.insert(package, before);
        self.published += 1;
    }
}

/// One process, from `/proc/<pid>/stat`.
struct Proc {
    pid: u32,
    ppid: u32,
    start: u64,
    comm: String,
}

fn read_proc(pid: u32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_owned();
    let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    if matches!(rest.first(), Some(&"Z" | &"X")) {
        return None;
    }
    Some(Proc {
        pid,
        ppid: rest.get(1)?.parse().ok()?,
        start: rest.get(19)?.parse().ok()?,
        comm,
    })
}

fn processes() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter_map(read_proc)
        .collect()
}

/// The running `import-one` children of the driver `driver`.
fn import_children(driver: u32) -> Vec<Proc> {
    processes()
        .into_iter()
        .filter(|p| p.ppid == driver && p.comm == "import-one")
        .collect()
}

/// Every live `import-one` whose environment names this sweep's config file.
fn imports_of(env: &TestEnv) -> Vec<u32> {
    let needle = env.root().join("config.toml").display().to_string();
    processes()
        .into_iter()
        .filter(|p| p.comm == "import-one")
        .filter(|p| {
            std::fs::read(format!("/proc/{}/environ", p.pid))
                .map(|e| String::from_utf8_lossy(&e).contains(&needle))
                .unwrap_or(false)
        })
        .map(|p| p.pid)
        .collect()
}

/// The processes that have `path` open, as `pid comm (parent ppid)`.
fn holders(path: &Path) -> String {
    let mut found = Vec::new();
    for p in processes() {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{}/fd", p.pid)) else {
            continue;
        };
        if fds
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l == path))
        {
            found.push(format!("{} {} (parent {})", p.pid, p.comm, p.ppid));
        }
    }
    found.join(", ")
}

/// SIGKILL to `target` (a pid, or `-pgid` for a process group).
fn sigkill(target: &str) -> bool {
    Command::new("kill")
        .args(["-KILL", "--", target])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The sweep's running state.
struct Sweep<'a> {
    env: &'a TestEnv,
    driver: Child,
    drivers_started: u64,
    violations: Vec<String>,
    /// Failures seen (and re-queued) during the sweep, by signature.
    failures_seen: BTreeMap<String, u64>,
}

impl Sweep<'_> {
    fn spawn_driver(env: &TestEnv, n: u64, extra: &[&str]) -> Child {
        let log = File::create(env.root().join(format!("driver-{n}.log"))).unwrap();
        env.cmd("driver")
            .args(["--concurrency", CONCURRENCY])
            .args(extra)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    fn driver_log(&self, n: u64) -> String {
        std::fs::read_to_string(self.env.root().join(format!("driver-{n}.log"))).unwrap_or_default()
    }

    fn restart_driver(&mut self) {
        self.drivers_started += 1;
        self.driver = Self::spawn_driver(self.env, self.drivers_started, &[]);
    }

    /// A driver that exited by itself is a violation (it is a service); restart it.
    fn check_driver_alive(&mut self) {
        if let Some(status) = self.driver.try_wait().unwrap() {
            let tail = tail(&self.driver_log(self.drivers_started), 15);
            let lock = self.env.state().join("locks/_driver.lock");
            self.violations.push(format!(
                "driver {} exited by itself with {status}:\n{tail}\n(_driver.lock open in: {})",
                self.drivers_started,
                holders(&lock)
            ));
            self.restart_driver();
        }
    }

    fn kill_driver(&mut self) {
        self.driver.kill().unwrap();
        self.driver.wait().unwrap();
    }

    /// Runs a short-lived program and expects exit 0.
    fn run_ok(&mut self, what: &str, args: &[&str]) {
        let out = self.env.cmd(what).args(args).output().unwrap();
        if !out.status.success() {
            self.violations
                .push(format!("{what} {args:?} failed: {}", dump(&out)));
        }
    }

    /// Checks the failures recorded since the last call (all must be `died`), then lets
    /// retry-failures re-queue them.
    fn retry_failures(&mut self, store: &mut Store) {
        for f in store.failures().unwrap() {
            if f.retrying {
                continue;
            }
            *self.failures_seen.entry(f.signature.clone()).or_default() += 1;
            if f.signature != "died" {
                self.violations.push(format!(
                    "package {} failed with {:?} (transient={}):\n{}",
                    f.package, f.signature, f.transient, f.tail
                ));
            }
        }
        self.run_ok("retry-failures", &[]);
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[derive(Default)]
struct Kills {
    driver: u64,
    import_pid: u64,
    import_group: u64,
    /// Chosen import-one gone (finished) before the kill reached it.
    missed: u64,
    /// import-one processes running when their driver was killed.
    orphans: u64,
}

#[test]
fn crash_sweep_keeps_every_invariant() {
    let _alone = crate::util::run_alone();
    let rounds = env_number("PKGIMPORT_SWEEP_ROUNDS", 6);
    let seed = env_number("PKGIMPORT_SWEEP_SEED", 1);
    let mut rng = pkgimport_testkit::SplitMix64(seed);
    let started = Instant::now();

    let env = TestEnv::new();
    let sim = env.start_synthetic_sim(PACKAGES, 2);
    env.use_real_importer();
    env.config_sections(
        "locked_retry_delay = \"100ms\"\nunavailable_retry_delay = \"0s\"\n\
         heartbeat_interval = \"1s\"\n",
        "[retry]\ncooldown_base = \"1ms\"\ncooldown_cap = \"1ms\"\nmax_consecutive = 1000\n",
    );
    let mut model = Model::new();
    let mut sweep = Sweep {
        env: &env,
        driver: Sweep::spawn_driver(&env, 1, &[]),
        drivers_started: 1,
        violations: Vec::new(),
        failures_seen: BTreeMap::new(),
    };
    sweep.run_ok("poll-uploads", &["--initial", "all"]);
    let mut store = Store::open(&env.state()).unwrap();
    let mut kills = Kills::default();

    for _round in 0..rounds {
        sweep.check_driver_alive();
        if rng.chance(80) {
            for _ in 0..=rng.below(3) {
                model.publish_some(&sim, &mut rng);
            }
            sweep.run_ok("poll-uploads", &[]);
        }
        // The moment: mostly while imports run (a random offset after one started), now
        // and then anywhere.
        let busy = rng.chance(80);
        if busy {
            let deadline = Instant::now() + Duration::from_secs(2);
            while import_children(sweep.driver.id()).is_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let offset = if busy { 200 } else { 1200 };
        std::thread::sleep(Duration::from_millis(rng.below(offset)));
        let children = import_children(sweep.driver.id());
        if rng.chance(35) || children.is_empty() {
            sweep.check_driver_alive();
            // Its children live on as orphans until the next driver kills them.
            kills.orphans += children.len() as u64;
            sweep.kill_driver();
            kills.driver += 1;
            sweep.restart_driver();
        } else {
            let child = &children[rng.below(children.len() as u64) as usize];
            if read_proc(child.pid).is_none_or(|p| p.start != child.start) {
                kills.missed += 1;
            } else if rng.chance(50) {
                // Like the driver's timeout: the import and the git it started.
                if sigkill(&format!("-{}", child.pid)) {
                    kills.import_group += 1;
                }
            } else if sigkill(&child.pid.to_string()) {
                // Like the OOM killer: the import alone; its git may run on.
                kills.import_pid += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
        sweep.retry_failures(&mut store);
    }

    // The final recovery: one last driver kill, then drivers that exit when idle.
    sweep.check_driver_alive();
    sweep.kill_driver();
    kills.driver += 1;
    sweep.run_ok("poll-uploads", &[]);
    let mut recoveries = 0;
    loop {
        recoveries += 1;
        sweep.drivers_started += 1;
        let n = sweep.drivers_started;
        let status = Sweep::spawn_driver(&env, n, &["--exit-when-idle"])
            .wait()
            .unwrap();
        if !status.success() {
            let log = tail(&sweep.driver_log(n), 15);
            sweep
                .violations
                .push(format!("recovery driver {n} exited with {status}:\n{log}"));
        }
        let failed = !store.failures().unwrap().is_empty();
        let queued = !store.queue(None).unwrap().is_empty();
        if !(failed || queued) || recoveries >= 5 {
            break;
        }
        // A failure after the last kill is a violation (retry_failures records it).
        sweep.retry_failures(&mut store);
    }

    let violations_before_checks = sweep.violations.len();
    let mut v = std::mem::take(&mut sweep.violations);
    check_invariants(&env, &mut store, &model, &mut v);

    let runs = store.runs(None, 1_000_000).unwrap();
    let outcome_count = |o: Outcome| runs.iter().filter(|r| r.outcome == Some(o)).count();
    #[expect(
        clippy::print_stderr,
        reason = "the sweep's figures for the closing note"
    )]
    {
        eprintln!(
            "crash sweep: seed={seed} rounds={rounds} packages={PACKAGES} publications_added={} \
             kills: driver={} (orphaning {} imports) import-one={} (pid {} + group {}) missed={} | runs={} success={} \
             died={} abandoned={} locked={} | failures seen {:?} | recovery drivers={recoveries} | \
             invariant violations={} (during the rounds {violations_before_checks}) | {:.1}s",
            model.published,
            kills.driver,
            kills.orphans,
            kills.import_pid + kills.import_group,
            kills.import_pid,
            kills.import_group,
            kills.missed,
            runs.len(),
            outcome_count(Outcome::Success),
            outcome_count(Outcome::Died),
            outcome_count(Outcome::Abandoned),
            outcome_count(Outcome::Locked),
            sweep.failures_seen,
            v.len(),
            started.elapsed().as_secs_f64(),
        );
    }
    assert!(
        v.is_empty(),
        "seed {seed}: {} invariant violations:\n{}",
        v.len(),
        v.join("\n---\n")
    );
}

/// The invariants of the module documentation, each failure one line (or paragraph) in `v`.
fn check_invariants(env: &TestEnv, store: &mut Store, model: &Model, v: &mut Vec<String>) {
    if let Err(e) = store.integrity_check().unwrap() {
        v.push(format!("integrity_check: {e}"));
    }
    let in_flight = store.packages_in_flight().unwrap();
    if !in_flight.is_empty() {
        v.push(format!("packages left in flight: {in_flight:?}"));
    }
    let queue = store.queue(None).unwrap();
    if !queue.is_empty() {
        v.push(format!("queue not empty: {queue:?}"));
    }
    let open = store.open_runs().unwrap();
    if !open.is_empty() {
        v.push(format!("open runs: {open:?}"));
    }
    let failures = store.failures().unwrap();
    if !failures.is_empty() {
        v.push(format!("failures remain: {failures:?}"));
    }
    let leftovers = imports_of(env);
    if !leftovers.is_empty() {
        v.push(format!("import-one processes still running: {leftovers:?}"));
    }
    let verify = env.ctl(&["verify", "--all"]);
    if !verify.status.success() {
        v.push(format!("importctl verify --all: {}", dump(&verify)));
    }

    for (package, pubs) in &model.publications {
        let name = PackageName::parse(package).unwrap();
        let remote = env.state().join("remote").join(format!("{package}.git"));
        let refs = env.remote_refs(package);
        let versions: BTreeSet<u32> = pubs.iter().map(|(v, _, _)| *v).collect();

        // Tags: exactly one per published version.
        let tags: BTreeSet<String> = refs
            .keys()
            .filter_map(|r| r.strip_prefix("refs/tags/"))
            .map(str::to_owned)
            .collect();
        let want_tags: BTreeSet<String> = versions
            .iter()
            .flat_map(|v| [format!("import/1.{v}"), format!("applied/1.{v}")])
            .collect();
        if tags != want_tags {
            v.push(format!("{package}: tags {tags:?}, expected {want_tags:?}"));
        }
        // Commits: one per version, each version's subject once.
        let subjects = git(&remote, &["log", "--all", "--format=%s"]);
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for s in subjects.lines() {
            *seen.entry(s).or_default() += 1;
        }
        let want: BTreeMap<String, usize> = versions
            .iter()
            .map(|ver| (format!("Import {package} 1.{ver}"), 1))
            .collect();
        let got: BTreeMap<String, usize> =
            seen.into_iter().map(|(k, n)| (k.to_owned(), n)).collect();
        if got != want {
            v.push(format!("{package}: commits {got:?}, expected {want:?}"));
        }
        let count = git(&remote, &["rev-list", "--all"]).lines().count();
        if count != versions.len() {
            v.push(format!(
                "{package}: {count} commits, {} versions",
                versions.len()
            ));
        }
        // Branches: the newest version of each series and pocket.
        let mut newest: BTreeMap<String, u32> = BTreeMap::new();
        for (ver, series, pocket) in pubs {
            newest.insert(
                pkgimport_importer::import::branch_name("debian", series, pocket),
                *ver,
            );
        }
        // The devel alias: the newest version in sid, the development series.
        if let Some(ver) = pubs
            .iter()
            .filter(|(_, series, pocket)| series == "sid" && pocket == "Release")
            .map(|(ver, _, _)| *ver)
            .max()
        {
            newest.insert(pkgimport_importer::import::devel_branch_name("debian"), ver);
        }
        let branches: BTreeMap<String, String> = refs
            .iter()
            .filter(|(r, _)| r.starts_with("refs/heads/"))
            .map(|(r, o)| (r.clone(), o.clone()))
            .collect();
        // Each with its patches-applied twin at the same commit: the synthetic packages
        // have no patches.
        let want_branches: BTreeMap<String, String> = newest
            .iter()
            .flat_map(|(b, ver)| {
                let tag = refs
                    .get(&format!("refs/tags/import/1.{ver}"))
                    .cloned()
                    .unwrap_or_else(|| format!("<no tag 1.{ver}>"));
                let applied = pkgimport_importer::import::applied_branch_name(b);
                [(b.clone(), tag.clone()), (applied, tag)]
            })
            .collect();
        if branches != want_branches {
            v.push(format!(
                "{package}: branches {branches:?}, expected {want_branches:?}"
            ));
        }
        // The committed audit lists exactly what the simulator published.
        let audit = store.audit(&name).unwrap();
        let audited: BTreeSet<(String, String, String)> = audit
            .publications
            .iter()
            .map(|r| (r.version.clone(), r.series.clone(), r.pocket.clone()))
            .collect();
        let published: BTreeSet<(String, String, String)> = pubs
            .iter()
            .map(|(ver, s, p)| (format!("1.{ver}"), s.clone(), p.clone()))
            .collect();
        if audited != published || audit.publications.len() != pubs.len() {
            v.push(format!(
                "{package}: audit publications {audited:?}, published {published:?}"
            ));
        }
        if audit.refs != refs {
            v.push(format!("{package}: audit refs differ from the remote"));
        }
        // No job lost: a success that started after the last publication.
        let since = model
            .last_published
            .get(package)
            .copied()
            .unwrap_or(Timestamp(0));
        let ok = store
            .runs(Some(&name), 1_000_000)
            .unwrap()
            .iter()
            .any(|r| r.outcome == Some(Outcome::Success) && r.started_at > since);
        if !ok {
            v.push(format!(
                "{package}: no successful run after its last publication at {since}"
            ));
        }
    }
}
