//! `TestEnv`: a temporary state directory, a config file, a clean environment, and a
//! stand-in for `import-one` whose behaviour each test sets per package.
//!
//! A `TestEnv` runs on SQLite in its state directory ([`TestEnv::new`]) or, when
//! `PKGIMPORT_TEST_PG_URL` names a PostgreSQL server, on a fresh database of its own there
//! ([`TestEnv::new_pg`]), created and dropped by `pkgimport_testkit::pg`. Every binary it runs
//! and the config file it writes name that database, so the binaries and the tests see the
//! same state, whichever the backend.
//!
//! The stand-in is a shell script. For package P it runs the shell fragment in
//! `behave/P` (or `behave/default`; none means exit 0), and appends `start P <ns> <pid>` and,
//! on a normal exit, `end P <ns>` to `trace`, so tests can check order and overlap.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use pkgimport_testkit::pg::PgDatabase;

pub(crate) const STAND_IN: &str = r#"#!/bin/sh
pkg="$1"
here="$(dirname "$0")"
echo "start $pkg $(date +%s%N) $$" >> "$here/trace"
trap 'echo "end $pkg $(date +%s%N)" >> "$here/trace"' EXIT
if [ -f "$here/behave/$pkg" ]; then . "$here/behave/$pkg"
elif [ -f "$here/behave/default" ]; then . "$here/behave/default"
fi
exit 0
"#;

pub(crate) struct TestEnv {
    pub(crate) dir: tempfile::TempDir,
    /// Launchpad's API root for the config file, once a simulator runs.
    lp_root: std::sync::Mutex<Option<String>>,
    /// Run the real `import-one` rather than the stand-in.
    real_importer: std::sync::atomic::AtomicBool,
    /// `launchpad.distributions` as TOML; `None` for Debian alone.
    distributions: std::sync::Mutex<Option<String>>,
    /// The PostgreSQL database of this test, if it runs on PostgreSQL; shared by the
    /// environments that [`TestEnv::another_host`] makes.
    pg: Option<std::sync::Arc<PgDatabase>>,
    /// The test's place beside the others (see [`run_alone`]).
    _gate: Option<SideBySide>,
}

impl TestEnv {
    /// A test environment on SQLite, in its state directory.
    pub(crate) fn new() -> TestEnv {
        TestEnv::on_database(None)
    }

    /// A test environment on a fresh PostgreSQL database, or `None` when
    /// `PKGIMPORT_TEST_PG_URL` is not set (outside CI; under CI that is a failure).
    pub(crate) fn new_pg() -> Option<TestEnv> {
        PgDatabase::create().map(|db| TestEnv::on_database(Some(std::sync::Arc::new(db))))
    }

    /// Another, fresh test environment on the same backend as this one.
    pub(crate) fn new_like(&self) -> TestEnv {
        match self.pg {
            None => TestEnv::new(),
            Some(_) => TestEnv::new_pg().expect("the server of the first environment"),
        }
    }

    /// Another host of this environment's installation: a state directory of its own (its
    /// work repositories, locks, logs and config file) on the same PostgreSQL database,
    /// talking to the same simulator, with the same import command.
    pub(crate) fn another_host(&self) -> TestEnv {
        assert!(self.pg.is_some(), "hosts share a PostgreSQL database");
        let env = TestEnv::on_database(self.pg.clone());
        *env.lp_root.lock().unwrap() = self.lp_root.lock().unwrap().clone();
        let real = self
            .real_importer
            .load(std::sync::atomic::Ordering::Relaxed);
        env.real_importer
            .store(real, std::sync::atomic::Ordering::Relaxed);
        env.config("");
        env
    }

    fn on_database(pg: Option<std::sync::Arc<PgDatabase>>) -> TestEnv {
        let env = TestEnv {
            dir: tempfile::tempdir().unwrap(),
            lp_root: Default::default(),
            real_importer: Default::default(),
            distributions: Default::default(),
            pg,
            _gate: side_by_side(),
        };
        std::fs::create_dir_all(env.root().join("behave")).unwrap();
        let script = env.root().join("import-stand-in");
        std::fs::write(&script, STAND_IN).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        env.config("");
        env
    }

    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn state(&self) -> PathBuf {
        self.root().join("state")
    }

    /// "sqlite" or "postgresql", for messages.
    pub(crate) fn backend(&self) -> &'static str {
        match self.pg {
            None => "sqlite",
            Some(_) => "postgresql",
        }
    }

    /// The `database.url` of this environment: `None` for SQLite in the state directory.
    pub(crate) fn database_url(&self) -> Option<&str> {
        self.pg.as_deref().map(PgDatabase::url)
    }

    /// Opens the state database that the binaries use, on either backend.
    pub(crate) fn store(&self) -> pkgimport_queue::Store {
        pkgimport_queue::Store::connect(&self.state(), self.database_url())
            .unwrap_or_else(|e| panic!("{}: opening the store: {e}", self.backend()))
    }

    /// Writes the config file: the stand-in as import command, fast polling, and `extra`
    /// (TOML lines for the `[driver]` section); then `[launchpad]` pointing at the
    /// simulator, if one runs, with fast retries.
    pub(crate) fn config(&self, extra: &str) {
        self.config_sections(extra, "");
    }

    /// Like [`TestEnv::config`], with more TOML appended after the `[launchpad]` section.
    pub(crate) fn config_sections(&self, driver_extra: &str, more: &str) {
        let mut text = format!("state_dir = {:?}\n", self.state().display().to_string());
        if let Some(url) = self.database_url() {
            text.push_str(&format!("[database]\nurl = {url:?}\n"));
        }
        text.push_str(&format!(
            "[driver]\nimport_command = {:?}\npoll_interval = \"50ms\"\n{driver_extra}\n",
            if self
                .real_importer
                .load(std::sync::atomic::Ordering::Relaxed)
            {
                env!("CARGO_BIN_EXE_import-one").to_owned()
            } else {
                self.root().join("import-stand-in").display().to_string()
            },
        ));
        if let Some(root) = self.lp_root.lock().unwrap().as_ref() {
            let distributions = self
                .distributions
                .lock()
                .unwrap()
                .clone()
                .unwrap_or_else(|| "[\"debian\"]".to_owned());
            text.push_str(&format!(
                "[launchpad]\napi_root = {root:?}\ndistributions = {distributions}\npage_size = 2\n\
                 max_attempts = 3\nbackoff_base = \"10ms\"\nbackoff_cap = \"50ms\"\n\
                 retry_after_cap = \"100ms\"\nrequest_timeout = \"5s\"\n"
            ));
        }
        text.push_str(more);
        std::fs::write(self.root().join("config.toml"), text).unwrap();
    }

    /// Starts an in-process Launchpad simulator over a copy of the fixture archive, and
    /// points the config at it.
    pub(crate) fn start_sim(&self) -> pkgimport_lp_sim::SimHandle {
        self.start_sim_with(|_| {})
    }

    /// Starts an in-process simulator serving a synthetic history of tiny packages, one
    /// version each.
    pub(crate) fn start_synthetic_sim(
        &self,
        packages: u32,
        series: u16,
    ) -> pkgimport_lp_sim::SimHandle {
        self.start_synthetic_sim_versions(packages, series, 1)
    }

    /// Like [`TestEnv::start_synthetic_sim`], with `versions` versions per package.
    pub(crate) fn start_synthetic_sim_versions(
        &self,
        packages: u32,
        series: u16,
        versions: u32,
    ) -> pkgimport_lp_sim::SimHandle {
        let sim = pkgimport_lp_sim::Sim::start(pkgimport_lp_sim::SimConfig {
            source: pkgimport_lp_sim::SimSource::Synthetic(pkgimport_lp_sim::SyntheticSpec {
                packages,
                series,
                versions,
                distributions: Vec::new(),
            }),
            distribution: "debian".into(),
            listen: "127.0.0.1:0".parse().unwrap(),
            seed: 7,
            threads: 8,
        })
        .unwrap();
        *self.lp_root.lock().unwrap() = Some(sim.api_root());
        self.config("");
        sim
    }

    /// Like [`TestEnv::start_sim`], letting `prepare` change the archive first.
    pub(crate) fn start_sim_with(
        &self,
        prepare: impl FnOnce(&Path),
    ) -> pkgimport_lp_sim::SimHandle {
        let archive = self.root().join("archive");
        copy_dir(&fixtures().join("archive"), &archive);
        prepare(&archive);
        let sim = pkgimport_lp_sim::Sim::start(pkgimport_lp_sim::SimConfig {
            source: pkgimport_lp_sim::SimSource::Archive(archive),
            distribution: "debian".into(),
            listen: "127.0.0.1:0".parse().unwrap(),
            seed: 7,
            threads: 4,
        })
        .unwrap();
        *self.lp_root.lock().unwrap() = Some(sim.api_root());
        self.config("");
        sim
    }

    /// Follows these distributions (in this order) from now on, instead of Debian alone.
    pub(crate) fn follow(&self, distributions: &[&str]) {
        let list: Vec<String> = distributions.iter().map(|d| format!("{d:?}")).collect();
        *self.distributions.lock().unwrap() = Some(format!("[{}]", list.join(", ")));
        self.config("");
    }

    /// Sets what the stand-in does for `package`: a shell fragment.
    pub(crate) fn behave(&self, package: &str, script: &str) {
        std::fs::write(self.root().join("behave").join(package), script).unwrap();
    }

    pub(crate) fn cmd(&self, bin: &str) -> Command {
        let path = match bin {
            "driver" => env!("CARGO_BIN_EXE_driver"),
            "importer-web" => env!("CARGO_BIN_EXE_importer-web"),
            "importctl" => env!("CARGO_BIN_EXE_importctl"),
            "poll-uploads" => env!("CARGO_BIN_EXE_poll-uploads"),
            "import-one" => env!("CARGO_BIN_EXE_import-one"),
            "retry-failures" => env!("CARGO_BIN_EXE_retry-failures"),
            other => panic!("no binary {other}"),
        };
        let mut cmd = Command::new(path);
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("RUST_LOG", "info")
            .env("PKGIMPORT_CONFIG", self.root().join("config.toml"))
            .current_dir(self.root())
            .stdin(Stdio::null());
        if let Some(url) = self.database_url() {
            cmd.env("PKGIMPORT_DATABASE_URL", url);
        }
        cmd
    }

    pub(crate) fn ctl(&self, args: &[&str]) -> Output {
        self.cmd("importctl").args(args).output().unwrap()
    }

    /// Runs importctl and expects success; returns stdout.
    pub(crate) fn ctl_ok(&self, args: &[&str]) -> String {
        let out = self.ctl(args);
        assert!(
            out.status.success(),
            "importctl {args:?} failed: {}",
            dump(&out)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub(crate) fn ctl_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.ctl_ok(&all)).unwrap()
    }

    pub(crate) fn enqueue(&self, priority: &str, packages: &[&str]) {
        let mut args = vec!["enqueue", "--priority", priority];
        args.extend_from_slice(packages);
        self.ctl_ok(&args);
    }

    /// Runs the driver until idle and expects exit 0.
    pub(crate) fn drive(&self, args: &[&str]) -> Output {
        let out = self
            .cmd("driver")
            .arg("--exit-when-idle")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "driver failed: {}", dump(&out));
        out
    }

    /// From now on the driver runs the real `import-one`.
    pub(crate) fn use_real_importer(&self) {
        self.real_importer
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.config("");
    }

    pub(crate) fn import_one(&self, package: &str) -> Output {
        self.cmd("import-one").arg(package).output().unwrap()
    }

    /// `import-one package`, which must succeed; its log (stderr).
    pub(crate) fn import_ok(&self, package: &str) -> String {
        let out = self.import_one(package);
        assert!(out.status.success(), "import-one {package}: {}", dump(&out));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `git args` in the package's remote repository, which must succeed; stdout, trimmed.
    pub(crate) fn remote_git(&self, package: &str, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("--git-dir")
            .arg(self.state().join("remote").join(format!("{package}.git")))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", dump(&out));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// The refs of a package's remote repository: name → commit.
    pub(crate) fn remote_refs(&self, package: &str) -> BTreeMap<String, String> {
        let git = self.state().join("remote").join(format!("{package}.git"));
        let out = Command::new("git")
            .arg("--git-dir")
            .arg(&git)
            .args(["for-each-ref", "--format=%(refname) %(objectname)"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let (name, oid) = l.split_once(' ').unwrap();
                (name.to_owned(), oid.to_owned())
            })
            .collect()
    }

    pub(crate) fn spawn_driver(&self, args: &[&str]) -> Child {
        self.cmd("driver")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    pub(crate) fn trace(&self) -> Vec<TraceEvent> {
        let text = std::fs::read_to_string(self.root().join("trace")).unwrap_or_default();
        text.lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                TraceEvent {
                    start: f[0] == "start",
                    package: f[1].to_owned(),
                    ns: f[2].parse().unwrap(),
                    pid: f.get(3).map(|p| p.parse().unwrap()),
                }
            })
            .collect()
    }

    pub(crate) fn starts(&self) -> Vec<String> {
        self.trace()
            .into_iter()
            .filter(|e| e.start)
            .map(|e| e.package)
            .collect()
    }

    /// Outcomes of all runs per package, oldest first.
    pub(crate) fn outcomes(&self) -> BTreeMap<String, Vec<String>> {
        let runs = self.ctl_json(&["runs", "--limit", "100000"]);
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in runs.as_array().unwrap().iter().rev() {
            map.entry(r["package"].as_str().unwrap().to_owned())
                .or_default()
                .push(r["outcome"].as_str().unwrap_or("running").to_owned());
        }
        map
    }
}

#[derive(Debug, Clone)]
pub(crate) struct TraceEvent {
    pub(crate) start: bool,
    pub(crate) package: String,
    pub(crate) ns: u128,
    pub(crate) pid: Option<u32>,
}

/// Waits until `cond` holds, for at most `secs`.
pub(crate) fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a process runs (a zombie does not count).
pub(crate) fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat[stat.rfind(')').unwrap() + 2..].chars().next().unwrap();
            state != 'Z' && state != 'X'
        }
        Err(_) => false,
    }
}

pub(crate) fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Sends `sig` to a child spawned with piped output and waits up to `secs` for it to exit;
/// returns its status and output. A child still running then is SIGKILLed and the test
/// fails, rather than hanging. Its output is read meanwhile, so that a full pipe cannot
/// hold it up.
pub(crate) fn stop(child: Child, sig: &str, secs: u64) -> Output {
    signal(&child, sig);
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output().unwrap());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(out) => out,
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            let out = rx.recv().unwrap();
            panic!(
                "pid {pid} did not exit within {secs}s of SIG{sig}, killed: {}",
                dump(&out)
            );
        }
    }
}

/// Runs `cmd`, which must succeed; stdout, trimmed.
pub(crate) fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", dump(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The git tree id of everything under `dir`, as `git add -A -f` sees it.
pub(crate) fn tree_of_dir(dir: &Path) -> String {
    run_ok(Command::new("git").args(["init", "-q"]).current_dir(dir));
    run_ok(
        Command::new("git")
            .args(["add", "-A", "-f"])
            .current_dir(dir),
    );
    run_ok(Command::new("git").arg("write-tree").current_dir(dir))
}

/// The git tree id of what `dpkg-source -x --skip-patches` unpacks from `dsc`: the tree
/// every version's import tag must hold.
pub(crate) fn dpkg_source_tree(dsc: &Path) -> String {
    let work = tempfile::tempdir().unwrap();
    let dest = work.path().join("src");
    run_ok(
        Command::new("dpkg-source")
            .args(["--no-check", "--skip-patches", "-x"])
            .arg(dsc)
            .arg(&dest)
            .env("LC_ALL", "C"),
    );
    tree_of_dir(&dest)
}

pub(crate) fn dump(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Names of all files under `dir`, relative, sorted.
pub(crate) fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            if p.is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Every package of `fixtures/archive/`, sorted.
pub(crate) const FIXTURE_PACKAGES: [&str; 8] = [
    "authbind",
    "golang-golang-x-term",
    "hello",
    "intel2gas",
    "libcap2",
    "libssh",
    "llvm-defaults",
    "tgt",
];

/// The project's fixtures directory.
pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The versions of each package of `fixtures/archive/` that Debian, the distribution the
/// tests configure, publishes: those with a bare suite (another distribution's suites are
/// `<distribution>/<suite>`).
pub(crate) fn debian_fixture_versions() -> BTreeMap<String, Vec<String>> {
    let path = fixtures().join("archive/manifest.json");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (package, versions) in manifest.as_object().unwrap() {
        for (version, entry) in versions.as_object().unwrap() {
            let suites = entry["suites"].as_array().unwrap();
            if suites.iter().any(|s| !s.as_str().unwrap().contains('/')) {
                out.entry(package.clone())
                    .or_default()
                    .push(version.clone());
            }
        }
    }
    out
}

/// The `.dsc` of `package` `version` in `fixtures/archive/`.
pub(crate) fn fixture_dsc(package: &str, version: &str) -> PathBuf {
    let bare = version.split_once(':').map_or(version, |(_, v)| v);
    fixtures()
        .join("archive")
        .join(package)
        .join(format!("{package}_{bare}.dsc"))
}

/// The files of Debian's versions of `package`: each `.dsc` and the files it lists.
pub(crate) fn debian_fixture_files(package: &str) -> std::collections::BTreeSet<String> {
    let mut files = std::collections::BTreeSet::new();
    for version in &debian_fixture_versions()[package] {
        let dsc = fixture_dsc(package, version);
        let text = std::fs::read_to_string(&dsc).unwrap();
        let listed = text.split("\nFiles:\n").nth(1).unwrap();
        for line in listed.lines().take_while(|l| l.starts_with(' ')) {
            files.insert(line.split_whitespace().nth(2).unwrap().to_owned());
        }
        files.insert(dsc.file_name().unwrap().to_str().unwrap().to_owned());
    }
    files
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

pub(crate) use pkgimport_testkit::pg::skipped;

/// The gate between the heavy tests, which run alone, and every other test, which runs side
/// by side with the others: tests share this process, and a heavy test's timing must not
/// depend on what else the machine's few cores are doing.
///
/// A test takes the gate side by side by making a [`TestEnv`] (or with [`side_by_side`]);
/// a heavy test takes it alone with [`run_alone`], before it makes any. Nothing waits while
/// holding the gate side by side, so a heavy test waits at most until the tests running
/// then have finished.
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    /// Tests holding it side by side.
    side_by_side: usize,
    /// A heavy test holds it alone.
    alone: bool,
}

static GATE: Gate = Gate {
    state: Mutex::new(GateState {
        side_by_side: 0,
        alone: false,
    }),
    changed: Condvar::new(),
};

thread_local! {
    /// Whether this thread's test holds the gate alone: its environments take nothing more.
    static ALONE_HERE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Gate {
    fn lock(&self) -> MutexGuard<'_, GateState> {
        // A test that panicked while holding the lock left the counts right: they change
        // only in the guards' constructors and destructors, which do not panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The gate held side by side, until this is dropped.
pub(crate) struct SideBySide(());

/// Takes the gate side by side: waits while a heavy test runs. Needless (and harmless) in a
/// test that makes a [`TestEnv`].
pub(crate) fn side_by_side() -> Option<SideBySide> {
    if ALONE_HERE.get() {
        return None;
    }
    let mut state = GATE.lock();
    while state.alone {
        state = GATE
            .changed
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner);
    }
    state.side_by_side += 1;
    Some(SideBySide(()))
}

impl Drop for SideBySide {
    fn drop(&mut self) {
        GATE.lock().side_by_side -= 1;
        GATE.changed.notify_all();
    }
}

/// The gate held alone, until this is dropped; it must be dropped on the thread that took
/// it.
pub(crate) struct Alone(std::marker::PhantomData<*const ()>);

/// Takes the gate alone: waits until no other test runs, and keeps the others waiting
/// until the returned guard is dropped. For the heavy tests, first thing.
pub(crate) fn run_alone() -> Alone {
    let mut state = GATE.lock();
    while state.alone || state.side_by_side > 0 {
        state = GATE
            .changed
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner);
    }
    state.alone = true;
    ALONE_HERE.set(true);
    Alone(std::marker::PhantomData)
}

impl Drop for Alone {
    fn drop(&mut self) {
        ALONE_HERE.set(false);
        GATE.lock().alone = false;
        GATE.changed.notify_all();
    }
}
