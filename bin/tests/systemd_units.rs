//! The systemd units, `scripts/install` and `scripts/rescan`, checked against the real
//! binaries: every unit passes `systemd-analyze verify`, runs a binary of this package and
//! carries the settings the runbook promises; an install into a `DESTDIR` gives exactly the
//! expected tree; a rescan queues at priority `rescan`.
//!
//! `systemd-analyze` (Debian package `systemd`) is required: without it these tests fail
//! rather than skip, so CI cannot pass without having verified the units. It needs no
//! running systemd. It checks that `ExecStart=` binaries exist, so the units are verified
//! from a copy whose `/usr/local/bin/<name>` points at the binaries cargo built. It does not
//! look up `User=`, so the missing `package-importer` user is no problem; `--man=no` keeps
//! it from running `man` for `Documentation=` lines.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use pkgimport_core::Priority;

use crate::util::side_by_side;

/// The units the runbook documents: the driver, importer-web, and one service and timer per
/// periodic job.
const UNITS: [&str; 12] = [
    "package-importer-driver.service",
    "package-importer-poll.service",
    "package-importer-poll.timer",
    "package-importer-reconcile.service",
    "package-importer-reconcile.timer",
    "package-importer-report.service",
    "package-importer-report.timer",
    "package-importer-retry.service",
    "package-importer-retry.timer",
    "package-importer-snapshot.service",
    "package-importer-snapshot.timer",
    "package-importer-web.service",
];

/// What `scripts/install` installs; `lp-sim` is for tests and the demo only.
const INSTALLED_BINARIES: [&str; 6] = [
    "driver",
    "importer-web",
    "poll-uploads",
    "retry-failures",
    "import-one",
    "importctl",
];

/// Where the units expect the binaries (PREFIX=/usr/local).
const UNIT_BINDIR: &str = "/usr/local/bin/";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The directory holding every binary cargo built for this package's tests.
fn built_bindir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_importctl"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The binaries of this package: one per `bin/src/bin/*.rs`.
fn package_binaries() -> BTreeSet<String> {
    std::fs::read_dir(root().join("bin/src/bin"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
        .map(|e| e.path().file_stem().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn unit_text(name: &str) -> String {
    let path = root().join("systemd").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `(section, key, value)` for every setting of a unit file, in order.
fn settings(name: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in unit_text(name).lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.to_owned();
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{name}: not a setting: {line}"));
        out.push((section.clone(), k.trim().to_owned(), v.trim().to_owned()));
    }
    out
}

/// Every value of `key` in `section`.
fn values(name: &str, section: &str, key: &str) -> Vec<String> {
    settings(name)
        .into_iter()
        .filter(|(s, k, _)| s == section && k == key)
        .map(|(_, _, v)| v)
        .collect()
}

/// The one value of `key` in `section`, or a failure naming the unit.
fn value(name: &str, section: &str, key: &str) -> String {
    match values(name, section, key).as_slice() {
        [v] => v.clone(),
        [] => panic!("{name}: no {key}= in [{section}]"),
        more => panic!("{name}: {key}= set {} times in [{section}]", more.len()),
    }
}

fn services() -> impl Iterator<Item = &'static str> {
    UNITS.into_iter().filter(|u| u.ends_with(".service"))
}

fn timers() -> impl Iterator<Item = &'static str> {
    UNITS.into_iter().filter(|u| u.ends_with(".timer"))
}

/// The binary an `ExecStart=` value runs, without systemd's `-@:+!` prefixes.
fn exec_binary(exec_start: &str) -> &str {
    exec_start
        .trim_start_matches(['-', '@', ':', '+', '!'])
        .split_whitespace()
        .next()
        .unwrap_or("")
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A command with no package-importer settings inherited from whoever runs the tests.
fn clean(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for var in [
        "PKGIMPORT_STATE_DIR",
        "PKGIMPORT_CONFIG",
        "DESTDIR",
        "PREFIX",
        "UNITDIR",
        "IMPORTCTL",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

#[test]
fn the_unit_set_is_complete() {
    let present: BTreeSet<String> = std::fs::read_dir(root().join("systemd"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let expected: BTreeSet<String> = UNITS.iter().map(|u| (*u).to_owned()).collect();
    assert_eq!(
        present, expected,
        "systemd/ differs from the units docs/operations.md documents"
    );
    for timer in timers() {
        let service = timer.replace(".timer", ".service");
        assert!(
            UNITS.contains(&service.as_str()),
            "{timer} has no {service}"
        );
    }
}

#[test]
fn every_unit_passes_systemd_analyze_verify() {
    let _side_by_side = side_by_side();
    let bindir = built_bindir();
    let dir = tempfile::tempdir().unwrap();
    for unit in UNITS {
        let text = unit_text(unit).replace(UNIT_BINDIR, &format!("{}/", bindir.display()));
        std::fs::write(dir.path().join(unit), text).unwrap();
    }
    let out = match Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(UNITS)
        .current_dir(dir.path())
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "systemd-analyze is not installed: the units cannot be verified. \
             Install the Debian package `systemd` (apt-get install systemd)"
        ),
        Err(e) => panic!("running systemd-analyze: {e}"),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    // An unknown key or an unparsable value is only a warning with exit status 0, so any
    // line about our units counts as a failure too. Lines about the system's own units are
    // the host's business.
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("package-importer"))
        .collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify failed ({}):\n{stderr}",
        out.status
    );
}

#[test]
fn every_exec_start_runs_a_binary_of_this_package() {
    let binaries = package_binaries();
    for unit in services() {
        let execs = values(unit, "Service", "ExecStart");
        assert!(!execs.is_empty(), "{unit}: no ExecStart=");
        for exec in execs {
            let path = exec_binary(&exec);
            let name = path.strip_prefix(UNIT_BINDIR).unwrap_or_else(|| {
                panic!("{unit}: ExecStart={exec} does not run a binary in {UNIT_BINDIR}")
            });
            assert!(
                binaries.contains(name),
                "{unit}: ExecStart={exec} runs {name}, not one of {binaries:?}"
            );
            assert!(
                built_bindir().join(name).is_file(),
                "{unit}: {name} was not built"
            );
        }
    }
}

#[test]
fn services_are_hardened_and_run_as_the_service_user() {
    for unit in services() {
        for (key, expected) in [
            ("User", "package-importer"),
            ("Group", "package-importer"),
            ("StateDirectory", "package-importer"),
            ("ProtectSystem", "strict"),
            ("ProtectHome", "yes"),
            ("NoNewPrivileges", "yes"),
            ("PrivateTmp", "yes"),
        ] {
            assert_eq!(value(unit, "Service", key), expected, "{unit}: {key}=");
        }
    }
    // Launchpad being down is routine for a poll: the next run catches up.
    assert_eq!(
        value(
            "package-importer-poll.service",
            "Service",
            "SuccessExitStatus"
        ),
        "69"
    );
    assert_eq!(
        exec_binary(&value(
            "package-importer-report.service",
            "Service",
            "ExecStart"
        )),
        "/usr/local/bin/importctl"
    );
    assert!(
        value("package-importer-report.service", "Service", "ExecStart")
            .ends_with(" report --out /var/lib/package-importer/report")
    );
}

#[test]
fn timers_are_persistent_with_a_randomized_delay_and_the_documented_schedule() {
    for (timer, schedule) in [
        ("package-importer-poll.timer", "*:*:00"),
        ("package-importer-retry.timer", "*:0/15"),
        ("package-importer-report.timer", "*:0/5"),
        ("package-importer-snapshot.timer", "*-*-* 00:10:00"),
        ("package-importer-reconcile.timer", "*-*-* 03:30:00"),
    ] {
        assert_eq!(value(timer, "Timer", "OnCalendar"), schedule, "{timer}");
        assert_eq!(value(timer, "Timer", "Persistent"), "true", "{timer}");
        let delay = value(timer, "Timer", "RandomizedDelaySec");
        assert!(
            humantime::parse_duration(&delay).is_ok_and(|d| !d.is_zero()),
            "{timer}: RandomizedDelaySec={delay}"
        );
        assert_eq!(value(timer, "Install", "WantedBy"), "timers.target");
    }
    assert_eq!(timers().count(), 5, "a timer without a schedule test");
}

#[test]
fn the_driver_restarts_on_failure_and_outlasts_its_drain() {
    let unit = "package-importer-driver.service";
    assert_eq!(value(unit, "Service", "Restart"), "on-failure");
    assert_eq!(value(unit, "Service", "RestartPreventExitStatus"), "78");
    assert_eq!(value(unit, "Service", "KillMode"), "mixed");
    let drain = package_importer::config::KEYS
        .iter()
        .find(|k| k.name == "driver.drain_timeout")
        .expect("driver.drain_timeout is a config key")
        .default
        .trim_matches('"');
    let drain = humantime::parse_duration(drain).unwrap();
    let stop = value(unit, "Service", "TimeoutStopSec");
    let stop = humantime::parse_duration(&stop).unwrap();
    assert!(
        stop > drain,
        "{unit}: TimeoutStopSec ({stop:?}) must exceed driver.drain_timeout ({drain:?})"
    );
}

/// Every file under `dir`, relative to it, with its mode.
fn tree(dir: &Path) -> Vec<(String, u32)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, u32)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().display().to_string();
                out.push((rel, meta.permissions().mode() & 0o7777));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn install(destdir: &Path, prefix: Option<&str>) -> Output {
    let mut cmd = clean(root().join("scripts/install"));
    cmd.arg("--bindir-from")
        .arg(built_bindir())
        .env("DESTDIR", destdir);
    if let Some(p) = prefix {
        cmd.env("PREFIX", p);
    }
    run(&mut cmd)
}

#[test]
fn install_into_a_destdir_gives_the_expected_tree_and_creates_no_user() {
    let _side_by_side = side_by_side();
    let passwd_before = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let dest = tempfile::tempdir().unwrap();
    install(dest.path(), None);

    let mut expected: Vec<(String, u32)> = INSTALLED_BINARIES
        .iter()
        .map(|b| (format!("usr/local/bin/{b}"), 0o755))
        .chain(
            UNITS
                .iter()
                .map(|u| (format!("etc/systemd/system/{u}"), 0o644)),
        )
        .chain([("etc/package-importer/config.toml.example".to_owned(), 0o644)])
        .collect();
    expected.sort();
    assert_eq!(tree(dest.path()), expected);

    for b in INSTALLED_BINARIES {
        assert_eq!(
            std::fs::read(dest.path().join("usr/local/bin").join(b)).unwrap(),
            std::fs::read(built_bindir().join(b)).unwrap(),
            "{b} is not the built binary"
        );
    }
    for u in UNITS {
        assert_eq!(
            std::fs::read_to_string(dest.path().join("etc/systemd/system").join(u)).unwrap(),
            unit_text(u),
            "{u} changed on its way with the default PREFIX"
        );
    }
    let example = run(clean(env!("CARGO_BIN_EXE_importctl"))
        .args(["config", "example"])
        .env("PKGIMPORT_CONFIG", "/dev/null"));
    assert_eq!(
        std::fs::read(dest.path().join("etc/package-importer/config.toml.example")).unwrap(),
        example.stdout
    );
    assert!(!example.stdout.is_empty());

    // A DESTDIR install is a staging tree: the host's users are not touched.
    assert_eq!(
        std::fs::read_to_string("/etc/passwd").unwrap_or_default(),
        passwd_before
    );
}

#[test]
fn install_with_a_prefix_points_the_units_at_it() {
    let _side_by_side = side_by_side();
    let dest = tempfile::tempdir().unwrap();
    install(dest.path(), Some("/opt/package-importer"));
    for b in INSTALLED_BINARIES {
        assert!(
            dest.path()
                .join("opt/package-importer/bin")
                .join(b)
                .is_file()
        );
    }
    for unit in services() {
        let text =
            std::fs::read_to_string(dest.path().join("etc/systemd/system").join(unit)).unwrap();
        let exec = text
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .unwrap();
        assert!(
            exec_binary(exec).starts_with("/opt/package-importer/bin/"),
            "{unit}: ExecStart={exec}"
        );
        assert!(
            !text.contains(UNIT_BINDIR),
            "{unit} still names {UNIT_BINDIR}"
        );
    }
}

#[test]
fn install_refuses_a_directory_without_the_binaries() {
    let _side_by_side = side_by_side();
    let dest = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let out = clean(root().join("scripts/install"))
        .arg("--bindir-from")
        .arg(empty.path())
        .env("DESTDIR", dest.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cargo build --release"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(tree(dest.path()), Vec::new(), "it installed something");
}

/// The queue as `(package, priority)`, via `importctl queue --json`.
fn queue(state: &Path) -> BTreeSet<(String, i64)> {
    let out = run(clean(env!("CARGO_BIN_EXE_importctl"))
        .args(["queue", "--json"])
        .env("PKGIMPORT_STATE_DIR", state)
        .env("PKGIMPORT_CONFIG", "/dev/null"));
    let jobs: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    jobs.iter()
        .map(|j| {
            (
                j["package"].as_str().unwrap().to_owned(),
                j["priority"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// `names`, each at priority `rescan`.
fn at_rescan(names: &[&str]) -> BTreeSet<(String, i64)> {
    names
        .iter()
        .map(|n| ((*n).to_owned(), Priority::RESCAN.0))
        .collect()
}

fn rescan(state: &Path) -> Command {
    let mut cmd = clean(root().join("scripts/rescan"));
    cmd.env("PKGIMPORT_STATE_DIR", state)
        .env("PKGIMPORT_CONFIG", "/dev/null")
        .env("IMPORTCTL", env!("CARGO_BIN_EXE_importctl"));
    cmd
}

#[test]
fn rescan_queues_names_from_a_file_stdin_or_every_imported_package_at_rescan_priority() {
    let _side_by_side = side_by_side();
    let state = tempfile::tempdir().unwrap();
    let list = state.path().join("list");
    std::fs::write(
        &list,
        "# after the fix\nhello\n\n  zlib coreutils # trailing\n",
    )
    .unwrap();
    run(rescan(state.path()).arg(&list));
    assert_eq!(
        queue(state.path()),
        at_rescan(&["coreutils", "hello", "zlib"])
    );

    let stdin = tempfile::tempdir().unwrap();
    let mut child = rescan(stdin.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"dpkg\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(queue(stdin.path()), at_rescan(&["dpkg"]));

    // Every package with a work repository; scratch directories are not packages.
    let imported = tempfile::tempdir().unwrap();
    for d in ["work/hello.git", "work/dpkg.git", "work/hello.scratch"] {
        std::fs::create_dir_all(imported.path().join(d)).unwrap();
    }
    run(rescan(imported.path()).arg("--all-imported"));
    assert_eq!(queue(imported.path()), at_rescan(&["dpkg", "hello"]));
}
