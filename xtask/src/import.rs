//! The import rows: `import-one` on real source packages, side by side in the same run with
//! the decompression floor and `gbp import-dsc`, plus the no-op and ref-only imports.
//!
//! A full-history import starts from an empty state directory and fetches everything from
//! lp-sim over loopback. The floor is the least any importer must do: decompress every
//! tarball (and `.diff.gz`) of every version, one version after another, as `xz -dc` /
//! `gzip -dc` / `bzip2 -dc` do it. A tarball shared by two versions is decompressed once per
//! version, as each version's tree has to be built. `gbp import-dsc --no-pristine-tar` imports
//! the same `.dsc` files from local disk in dpkg version order into a fresh git repository.
//!
//! hello and coreutils are also imported without patches-applied chains (`import.applied =
//! false`), each run beside one with them, for what the chains cost.
//!
//! Besides the fixtures, coreutils (three versions, fetched with `apt-get source
//! --download-only` into `target/bench-inputs/coreutils/` once, never committed) is the
//! large package: its archive directory gets a `manifest.json` in the fixtures' layout.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::measure::{self, Measured, Usage};
use crate::sim::{Sim, log_field};
use crate::{Bins, Row, median};

/// The real Debian source packages the tests use.
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/archive");

/// The coreutils versions of the large-package row, and the suite each is published in.
/// Their sources come from the Debian archive (deb-src lines for these suites are needed).
const COREUTILS: &[(&str, &str)] = &[
    ("9.1-1", "bookworm"),
    ("9.7-3", "trixie"),
    ("9.10-1", "sid"),
];

/// Goals of `gbp / import-one`: on hello, and on the large package.
const GBP_GOAL_HELLO: f64 = 10.0;
const GBP_GOAL_COREUTILS: f64 = 4.0;
/// Goal of `import-one / floor`.
const FLOOR_GOAL: f64 = 2.0;
/// Goal of `with / without patches-applied chains`: the chains cost under 30% more.
const APPLIED_GOAL: f64 = 1.3;

/// Three rows per fixture package: import-one's wall time, gbp / import-one, and
/// import-one / floor.
pub(crate) fn fixture_rows(bins: &Bins, runs: usize) -> anyhow::Result<Vec<Row>> {
    let archive = Archive::read(Path::new(FIXTURES))?;
    let sim = Sim::start(
        &bins.lp_sim,
        &[OsStr::new("--archive"), archive.dir.as_os_str()],
    )?;
    let gbp = gbp_version();
    let mut rows = Vec::new();
    for package in archive.packages.keys() {
        let goal = (package == "hello").then_some(GBP_GOAL_HELLO);
        rows.extend(package_rows(
            bins,
            &sim,
            &archive,
            package,
            runs,
            gbp.as_deref(),
            goal,
            package == "hello",
        )?);
    }
    Ok(rows)
}

/// The same three rows for coreutils, or one "skipped" row when its sources are not
/// reachable.
pub(crate) fn coreutils_rows(bins: &Bins, runs: usize) -> anyhow::Result<Vec<Row>> {
    let name = format!(
        "import-one coreutils: {} versions from empty",
        COREUTILS.len()
    );
    let dir = match coreutils_archive(&bins.target_dir)? {
        Ok(dir) => dir,
        Err(why) => return Ok(vec![Row::skipped(&name, why)]),
    };
    let archive = Archive::read(&dir)?;
    let sim = Sim::start(&bins.lp_sim, &[OsStr::new("--archive"), dir.as_os_str()])?;
    let gbp = gbp_version();
    package_rows(
        bins,
        &sim,
        &archive,
        "coreutils",
        runs,
        gbp.as_deref(),
        Some(GBP_GOAL_COREUTILS),
        true,
    )
}

/// `import-one hello` when everything is already imported, in milliseconds (goal < 50 ms).
pub(crate) fn noop_rows(bins: &Bins, runs: usize) -> anyhow::Result<Vec<Row>> {
    let (_sim, _dir, config) = imported_hello(bins)?;
    let mut samples = Vec::new();
    for _ in 0..runs {
        let run = import_one(bins, &config, "hello")?;
        expect_fields(&run, &[("versions_imported", "0"), ("refs_updated", "0")])?;
        samples.push(run.usage.wall * 1000.0);
    }
    Ok(vec![
        Row::new(
            "import-one hello, no-op (already current)",
            "ms",
            samples,
            false,
        )
        .against(50.0, "goal")
        .with_note(format!("{runs} runs")),
    ])
}

/// `import-one hello` after an imported version is published to one more series: one ref
/// to push, nothing to unpack, in milliseconds (goal < 100 ms). Each run publishes to a new
/// series (`forky`, then `refonly1`, `refonly2`...); the publishing is not timed.
pub(crate) fn ref_only_rows(bins: &Bins, runs: usize) -> anyhow::Result<Vec<Row>> {
    let (sim, _dir, config) = imported_hello(bins)?;
    let mut samples = Vec::new();
    for i in 0..runs {
        let suite = if i == 0 {
            "forky".to_owned()
        } else {
            format!("refonly{i}")
        };
        sim.publish("hello", "2.12.3-1", &suite)?;
        let run = import_one(bins, &config, "hello")?;
        expect_fields(&run, &[("versions_imported", "0"), ("refs_updated", "1")])?;
        samples.push(run.usage.wall * 1000.0);
    }
    Ok(vec![
        Row::new(
            "import-one hello, ref-only (version in a new series)",
            "ms",
            samples,
            false,
        )
        .against(100.0, "goal")
        .with_note(format!("{runs} runs")),
    ])
}

/// An lp-sim over the fixtures and a state directory where hello is fully imported.
fn imported_hello(bins: &Bins) -> anyhow::Result<(Sim, tempfile::TempDir, PathBuf)> {
    let sim = Sim::start(
        &bins.lp_sim,
        &[OsStr::new("--archive"), OsStr::new(FIXTURES)],
    )?;
    let dir = tempfile::tempdir()?;
    let config = sim.write_config(dir.path())?;
    import_one(bins, &config, "hello")?;
    Ok((sim, dir, config))
}

/// The rows of one package, every run measuring import-one, the floor and gbp in turn; with
/// `unapplied`, import-one without patches-applied chains too.
#[expect(
    clippy::too_many_arguments,
    reason = "one benchmark's knobs, each named"
)]
fn package_rows(
    bins: &Bins,
    sim: &Sim,
    archive: &Archive,
    package: &str,
    runs: usize,
    gbp: Option<&str>,
    gbp_goal: Option<f64>,
    unapplied: bool,
) -> anyhow::Result<Vec<Row>> {
    let versions = &archive.packages[package];
    let n = versions.len();
    let (mut ours, mut floor, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
    let (mut without, mut patch_commits) = (Vec::new(), 0);
    let mut pushes = Vec::new();
    let mut gbp = gbp.ok_or_else(|| "gbp not found (apt-get install git-buildpackage)".to_owned());
    for _ in 0..runs {
        let full = import_full(bins, sim, package, n, true)?;
        ours.push(full.usage);
        pushes.push(full.push);
        patch_commits = full.patch_commits;
        if unapplied {
            without.push(import_full(bins, sim, package, n, false)?.usage);
        }
        floor.push(decompress_floor(archive, package)?);
        if gbp.is_ok() {
            match gbp_import(archive, package) {
                Ok(usage) => theirs.push(usage),
                // A failing gbp is a finding about gbp, not a reason to stop the benchmark.
                Err(e) => {
                    let message = format!("{e:#}");
                    let last = message.lines().last().unwrap_or_default();
                    gbp = Err(format!("gbp import-dsc failed: {last}"));
                }
            }
        }
    }
    let walls = |u: &[Usage]| u.iter().map(|u| u.wall).collect::<Vec<_>>();
    let med = |u: &[Usage], f: fn(&Usage) -> f64| median(&u.iter().map(f).collect::<Vec<_>>());
    let ratios = |a: &[Usage], b: &[Usage]| {
        a.iter()
            .zip(b)
            .map(|(a, b)| a.wall / b.wall)
            .collect::<Vec<_>>()
    };
    let mut rows = vec![
        Row::new(
            &format!(
                "import-one {package}: {n} version{} from empty",
                if n == 1 { "" } else { "s" }
            ),
            "s",
            walls(&ours),
            false,
        )
        .with_note(format!(
            "cpu {:.2} s, rss {:.0} MiB, {:.0} ms/version",
            med(&ours, Usage::cpu),
            med(&ours, Usage::rss_mib),
            med(&ours, |u| u.wall) * 1000.0 / n as f64
        )),
    ];
    let name = format!("  gbp import-dsc / import-one, {package}");
    match gbp {
        Ok(version) => {
            let row = Row::new(&name, "x", ratios(&theirs, &ours), true);
            let row = match gbp_goal {
                Some(goal) => row.against(goal, "goal"),
                None => row,
            };
            rows.push(row.with_note(format!(
                "gbp {:.2} s, cpu {:.2} s, rss {:.0} MiB ({version})",
                med(&theirs, |u| u.wall),
                med(&theirs, Usage::cpu),
                med(&theirs, Usage::rss_mib),
            )));
        }
        Err(why) => rows.push(Row::skipped(&name, why)),
    }
    rows.push(
        Row::new(
            &format!("  import-one / decompression floor, {package}"),
            "x",
            ratios(&ours, &floor),
            false,
        )
        .against(FLOOR_GOAL, "goal")
        .with_note(format!(
            "floor {:.3} s, cpu {:.3} s",
            med(&floor, |u| u.wall),
            med(&floor, Usage::cpu)
        )),
    );
    if unapplied {
        rows.push(
            Row::new(
                &format!("  import-one without applied chains, {package}"),
                "s",
                walls(&without),
                false,
            )
            .with_note(format!(
                "cpu {:.2} s, rss {:.0} MiB",
                med(&without, Usage::cpu),
                med(&without, Usage::rss_mib),
            )),
        );
        rows.push(
            Row::new(
                &format!("  with / without applied chains, {package}"),
                "x",
                ratios(&ours, &without),
                false,
            )
            .against(APPLIED_GOAL, "goal")
            .with_note(format!("{patch_commits} patch commits")),
        );
    }
    // The same without the push, whose cost is mostly the receiving git inflating and
    // hashing every object again: what import-one itself adds to the floor.
    let own: Vec<f64> = ours
        .iter()
        .zip(&pushes)
        .zip(&floor)
        .map(|((u, push), f)| (u.wall - push) / f.wall)
        .collect();
    rows.push(
        Row::new(
            &format!("  import-one without its push / floor, {package}"),
            "x",
            own,
            false,
        )
        .with_note(format!("push {:.3} s", median(&pushes))),
    );
    Ok(rows)
}

/// What one full-history import measured.
struct FullImport {
    usage: Usage,
    /// The seconds its push took (from its summary line).
    push: f64,
    /// Commits of patches-applied chains it wrote.
    patch_commits: u64,
}

/// One full-history import of `package` (`versions` of them) into a fresh state directory,
/// with or without patches-applied chains (`import.applied`).
fn import_full(
    bins: &Bins,
    sim: &Sim,
    package: &str,
    versions: usize,
    applied: bool,
) -> anyhow::Result<FullImport> {
    let dir = tempfile::tempdir()?;
    let config = sim.write_config(dir.path())?;
    let run = run_import_one(bins, &config, package, applied)?;
    expect_fields(&run, &[("versions_imported", &versions.to_string())])?;
    let field = |key: &str| {
        log_field(&run.stderr, key)
            .with_context(|| format!("no {key} in import-one's summary:\n{}", run.stderr))
    };
    let push = field("push_seconds")?.parse()?;
    let patch_commits = field("patch_commits")?.parse()?;
    if !applied && patch_commits != 0 {
        bail!("import.applied = false wrote {patch_commits} patch commits");
    }
    Ok(FullImport {
        usage: run.usage,
        push,
        patch_commits,
    })
}

fn import_one(bins: &Bins, config: &Path, package: &str) -> anyhow::Result<Measured> {
    run_import_one(bins, config, package, true)
}

fn run_import_one(
    bins: &Bins,
    config: &Path,
    package: &str,
    applied: bool,
) -> anyhow::Result<Measured> {
    let mut cmd = Command::new(&bins.import_one);
    cmd.arg(package)
        .env("PKGIMPORT_CONFIG", config)
        .env_remove("PKGIMPORT_STATE_DIR")
        .env("PKGIMPORT_IMPORT_APPLIED", applied.to_string())
        .env("RUST_LOG", "info");
    measure::run(&cmd).with_context(|| format!("import-one {package}"))
}

/// Fails unless the last summary line of `run` carries every `key=value` of `expected`.
fn expect_fields(run: &Measured, expected: &[(&str, &str)]) -> anyhow::Result<()> {
    for (key, value) in expected {
        let got = log_field(&run.stderr, key);
        if got != Some(value) {
            bail!(
                "expected {key}={value}, got {got:?}; stderr:\n{}",
                run.stderr
            );
        }
    }
    Ok(())
}

/// Decompresses every compressed file of every version of `package` to /dev/null.
fn decompress_floor(archive: &Archive, package: &str) -> anyhow::Result<Usage> {
    let mut total = Usage::default();
    for version in &archive.packages[package] {
        let dsc = archive.dsc(package, version);
        for file in dsc_files(&dsc)? {
            let tool = match Path::new(&file).extension().and_then(OsStr::to_str) {
                Some("gz") => "gzip",
                Some("xz" | "lzma") => "xz",
                Some("bz2") => "bzip2",
                Some("zst") => "zstd",
                _ => continue,
            };
            let mut cmd = Command::new(tool);
            cmd.arg("-dc").arg(archive.dir.join(package).join(&file));
            total = total.then(measure::run(&cmd)?.usage);
        }
    }
    Ok(total)
}

/// `gbp --version`, or `None` (with a message) when gbp cannot run here. A missing gbp is
/// installed from Debian's packages first when we can (root, apt-get): the peer is part of
/// the benchmark, not a prerequisite the reader has to know about.
fn gbp_version() -> Option<String> {
    let version = || match Command::new("gbp").arg("--version").output() {
        Ok(out) if out.status.success() => {
            Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        }
        _ => None,
    };
    if let Some(v) = version() {
        return Some(v);
    }
    if is_root() {
        eprintln!("gbp not found: installing git-buildpackage");
        let _ = Command::new("apt-get")
            .args([
                "install",
                "-y",
                "-qq",
                "--no-install-recommends",
                "git-buildpackage",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(std::process::Stdio::null())
            .status();
    }
    let found = version();
    if found.is_none() {
        eprintln!(
            "gbp not found: the gbp comparison is skipped (apt-get install git-buildpackage)"
        );
    }
    found
}

/// Whether we run as root, from `id -u` (xtask has no libc binding of its own).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// `gbp import-dsc --no-pristine-tar` of every version of `package`, oldest first, into a
/// fresh repository, with a throwaway HOME that holds only a git identity. An empty
/// `GBP_CONF_FILES` keeps gbp on its defaults for every package: some ship a
/// `debian/gbp.conf` naming branches (`debian/sid`) that a fresh repository lacks.
fn gbp_import(archive: &Archive, package: &str) -> anyhow::Result<Usage> {
    let dir = tempfile::tempdir()?;
    let home = dir.path().join("home");
    std::fs::create_dir(&home)?;
    std::fs::write(
        home.join(".gitconfig"),
        "[user]\n\tname = Benchmark\n\temail = bench@example.invalid\n",
    )?;
    let gbp_conf = home.join("gbp.conf");
    std::fs::write(&gbp_conf, "")?;
    let repo = dir.path().join("repo");
    let mut total = Usage::default();
    for (i, version) in archive.packages[package].iter().enumerate() {
        let mut cmd = Command::new("gbp");
        cmd.args([
            "import-dsc",
            "--no-pristine-tar",
            "--create-missing-branches",
        ])
        .arg(archive.dsc(package, version))
        .env("HOME", &home)
        .env("GBP_CONF_FILES", &gbp_conf)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE");
        if i == 0 {
            // The first import creates the repository.
            cmd.arg(&repo).current_dir(dir.path());
        } else {
            cmd.current_dir(&repo);
        }
        let run = measure::run(&cmd).with_context(|| format!("gbp import-dsc {version}"))?;
        total = total.then(run.usage);
    }
    Ok(total)
}

/// An lp-sim archive directory: `manifest.json` plus one folder of files per package.
struct Archive {
    dir: PathBuf,
    /// Package → its Debian versions (those with a bare suite; another distribution's
    /// suites are `<distribution>/<suite>`), oldest first (dpkg order): what `import-one`
    /// imports with `distributions = ["debian"]`.
    packages: BTreeMap<String, Vec<String>>,
}

impl Archive {
    fn read(dir: &Path) -> anyhow::Result<Archive> {
        let dir = dir
            .canonicalize()
            .with_context(|| format!("{}", dir.display()))?;
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
        let manifest: serde_json::Value = serde_json::from_str(&text)?;
        let mut packages = BTreeMap::new();
        for (package, versions) in manifest.as_object().context("manifest: not an object")? {
            let mut versions: Vec<String> = versions
                .as_object()
                .with_context(|| format!("manifest: {package}: not an object"))?
                .iter()
                .filter(|(_, entry)| {
                    let suites = entry["suites"].as_array().into_iter().flatten();
                    suites.filter_map(|s| s.as_str()).any(|s| !s.contains('/'))
                })
                .map(|(version, _)| version.clone())
                .collect();
            dpkg_sort(&mut versions)?;
            packages.insert(package.clone(), versions);
        }
        Ok(Archive { dir, packages })
    }

    /// The `.dsc` of `version`: file names carry the version without its epoch.
    fn dsc(&self, package: &str, version: &str) -> PathBuf {
        let version = version.split_once(':').map_or(version, |(_, v)| v);
        self.dir
            .join(package)
            .join(format!("{package}_{version}.dsc"))
    }
}

/// Sorts versions oldest first with `dpkg --compare-versions`, the reference ordering
/// (an insertion sort: a handful of versions, one comparison per process).
fn dpkg_sort(versions: &mut [String]) -> anyhow::Result<()> {
    for i in 1..versions.len() {
        let mut j = i;
        while j > 0 && dpkg_lt(&versions[j], &versions[j - 1])? {
            versions.swap(j, j - 1);
            j -= 1;
        }
    }
    Ok(())
}

fn dpkg_lt(a: &str, b: &str) -> anyhow::Result<bool> {
    let status = Command::new("dpkg")
        .args(["--compare-versions", a, "lt", b])
        .status()
        .context("running dpkg --compare-versions")?;
    match status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => bail!("dpkg --compare-versions {a} lt {b}: {status}"),
    }
}

/// The file names of a `.dsc`'s `Files:` field.
fn dsc_files(dsc: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(dsc).with_context(|| format!("{}", dsc.display()))?;
    let mut lines = text
        .lines()
        .skip_while(|l| !l.starts_with("Files:"))
        .skip(1);
    let mut files = Vec::new();
    while let Some(line) = lines.next().filter(|l| l.starts_with(' ')) {
        let name = line.split_whitespace().nth(2);
        files.push(name.with_context(|| format!("{}: bad line {line:?}", dsc.display()))?);
    }
    if files.is_empty() {
        bail!("{}: no Files field", dsc.display());
    }
    Ok(files.into_iter().map(str::to_owned).collect())
}

/// A single-line field of a `.dsc` (`Format`).
fn dsc_field(dsc: &Path, key: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(dsc).with_context(|| format!("{}", dsc.display()))?;
    let prefix = format!("{key}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().to_owned())
        .with_context(|| format!("{}: no {key} field", dsc.display()))
}

/// The coreutils archive directory under `target/bench-inputs/`, downloading what is
/// missing; `Err(reason)` inside when the sources cannot be fetched here.
fn coreutils_archive(target_dir: &Path) -> anyhow::Result<Result<PathBuf, String>> {
    let dir = target_dir.join("bench-inputs").join("coreutils");
    let files = dir.join("coreutils");
    std::fs::create_dir_all(&files)?;
    let mut manifest = serde_json::Map::new();
    for (version, suite) in COREUTILS {
        let dsc = files.join(format!("coreutils_{version}.dsc"));
        let complete = dsc.exists() && dsc_files(&dsc)?.iter().all(|f| files.join(f).exists());
        if !complete {
            eprintln!("downloading coreutils {version} into {}", files.display());
            let spec = format!("coreutils={version}");
            let out = Command::new("apt-get")
                .args(["source", "--download-only", &spec])
                .current_dir(&files)
                .output();
            let why = match out {
                Ok(out) if out.status.success() && dsc.exists() => None,
                Ok(out) => Some(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
                Err(e) => Some(e.to_string()),
            };
            if let Some(why) = why {
                return Ok(Err(format!(
                    "`apt-get source --download-only {spec}` failed ({why}); it needs deb-src \
                     lines for {suite} and apt-get update"
                )));
            }
        }
        manifest.insert(
            (*version).to_owned(),
            serde_json::json!({ "format": dsc_field(&dsc, "Format")?, "suites": [suite] }),
        );
    }
    let manifest = serde_json::json!({ "coreutils": manifest });
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?,
    )?;
    Ok(Ok(dir))
}
