//! `TestEnv`: a temporary state directory, a config file, a clean environment, and a
//! stand-in for `import-one` whose behaviour each test sets per package.
//!
//! The stand-in is a shell script. For package P it runs the shell fragment in
//! `behave/P` (or `behave/default`; none means exit 0), and appends `start P <ns> <pid>` and,
//! on a normal exit, `end P <ns>` to `trace`, so tests can check order and overlap.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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
}

impl TestEnv {
    pub(crate) fn new() -> TestEnv {
        let env = TestEnv {
            dir: tempfile::tempdir().unwrap(),
            lp_root: Default::default(),
            real_importer: Default::default(),
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

    /// Writes the config file: the stand-in as import command, fast polling, and `extra`
    /// (TOML lines for the `[driver]` section); then `[launchpad]` pointing at the
    /// simulator, if one runs, with fast retries.
    pub(crate) fn config(&self, extra: &str) {
        self.config_sections(extra, "");
    }

    /// Like [`TestEnv::config`], with more TOML appended after the `[launchpad]` section.
    pub(crate) fn config_sections(&self, driver_extra: &str, more: &str) {
        let mut text = format!(
            "state_dir = {:?}\n[driver]\nimport_command = {:?}\npoll_interval = \"50ms\"\n{driver_extra}\n",
            self.state().display().to_string(),
            if self
                .real_importer
                .load(std::sync::atomic::Ordering::Relaxed)
            {
                env!("CARGO_BIN_EXE_import-one").to_owned()
            } else {
                self.root().join("import-stand-in").display().to_string()
            },
        );
        if let Some(root) = self.lp_root.lock().unwrap().as_ref() {
            text.push_str(&format!(
                "[launchpad]\napi_root = {root:?}\ndistributions = [\"debian\"]\npage_size = 2\n\
                 max_attempts = 3\nbackoff_base = \"10ms\"\nbackoff_cap = \"50ms\"\n\
                 retry_after_cap = \"100ms\"\nrequest_timeout = \"5s\"\n"
            ));
        }
        text.push_str(more);
        std::fs::write(self.root().join("config.toml"), text).unwrap();
    }

    /// Starts an in-process Launchpad simulator over a copy of the fixture archive, and
    /// points the config at it.
    pub(crate) fn start_sim(&self) -> pkgimport_lpsim::SimHandle {
        self.start_sim_with(|_| {})
    }

    /// Starts an in-process simulator serving a synthetic history of tiny packages.
    pub(crate) fn start_synthetic_sim(
        &self,
        packages: u32,
        series: u16,
    ) -> pkgimport_lpsim::SimHandle {
        let sim = pkgimport_lpsim::Sim::start(pkgimport_lpsim::SimConfig {
            source: pkgimport_lpsim::SimSource::Synthetic(pkgimport_lpsim::SyntheticSpec {
                packages,
                series,
                versions: 1,
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
    pub(crate) fn start_sim_with(&self, prepare: impl FnOnce(&Path)) -> pkgimport_lpsim::SimHandle {
        let archive = self.root().join("archive");
        copy_dir(&fixtures().join("debian"), &archive);
        prepare(&archive);
        let sim = pkgimport_lpsim::Sim::start(pkgimport_lpsim::SimConfig {
            source: pkgimport_lpsim::SimSource::Archive(archive),
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

    /// Sets what the stand-in does for `package`: a shell fragment.
    pub(crate) fn behave(&self, package: &str, script: &str) {
        std::fs::write(self.root().join("behave").join(package), script).unwrap();
    }

    pub(crate) fn cmd(&self, bin: &str) -> Command {
        let path = match bin {
            "driver" => env!("CARGO_BIN_EXE_driver"),
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

/// Every package of `fixtures/debian/`, sorted.
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
