//! Tidy checks that keep the documentation and the code in step, run as ordinary tests:
//! module docs, the exit-code table, the config keys, the systemd units, the scripts, and
//! the dependency graph (every `Cargo.toml` against the code map of ARCHITECTURE.md, and
//! every dependency declared once, in the root `[workspace.dependencies]`).

use std::path::{Path, PathBuf};

use package_importer::Exit;
use package_importer::config::KEYS;

fn root_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root_dir().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_module_starts_with_a_doc_comment() {
    let mut files = Vec::new();
    for dir in ["crates", "bin", "xtask"] {
        rust_files(&root_dir().join(dir), &mut files);
    }
    assert!(files.len() > 10);
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            !std::fs::read_to_string(f)
                .unwrap()
                .trim_start()
                .starts_with("//!")
        })
        .map(|f| f.strip_prefix(root_dir()).unwrap().display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a //! doc comment: {missing:?}"
    );
}

#[test]
fn exit_code_table_in_architecture_matches_the_code() {
    let doc = read("ARCHITECTURE.md");
    let rows: Vec<(u8, String)> = doc
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let code = cells.get(1)?.parse::<u8>().ok()?;
            Some((code, cells.get(2)?.trim_matches('`').to_owned()))
        })
        .collect();
    let code: Vec<(u8, String)> = Exit::ALL
        .iter()
        .map(|e| (e.code(), e.name().to_owned()))
        .collect();
    assert_eq!(
        rows, code,
        "ARCHITECTURE.md's exit-code table differs from pkgimport_core::Exit"
    );
}

#[test]
fn every_config_key_is_documented_with_its_default() {
    let doc = read("docs/config.md");
    for k in KEYS {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", k.name)))
            .unwrap_or_else(|| panic!("docs/config.md has no row for {}", k.name));
        assert!(
            row.contains(&format!("`{}`", k.default)),
            "docs/config.md: default of {} is not {}",
            k.name,
            k.default
        );
    }
}

#[test]
fn every_service_binary_has_a_systemd_unit() {
    // Binaries run by people, by the driver, or by tests need no unit of their own.
    const NO_UNIT: [&str; 4] = ["importctl", "import-one", "lp-sim", "stand-in"];
    let mut units = String::new();
    for e in std::fs::read_dir(root_dir().join("systemd"))
        .unwrap()
        .flatten()
    {
        units.push_str(&std::fs::read_to_string(e.path()).unwrap());
    }
    for e in std::fs::read_dir(root_dir().join("bin/src/bin"))
        .unwrap()
        .flatten()
    {
        let name = e.path().file_stem().unwrap().to_string_lossy().into_owned();
        if NO_UNIT.contains(&name.as_str()) {
            continue;
        }
        assert!(
            units.lines().any(|l| l.starts_with("ExecStart=")
                && l.split_whitespace()
                    .next()
                    .unwrap()
                    .ends_with(&format!("/{name}"))),
            "no systemd unit runs {name}"
        );
    }
}

#[test]
fn scripts_are_strict_posix_sh_with_a_header() {
    for e in std::fs::read_dir(root_dir().join("scripts"))
        .unwrap()
        .flatten()
    {
        let text = std::fs::read_to_string(e.path()).unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(
            text.starts_with("#!/bin/sh\n# "),
            "{name}: needs #!/bin/sh and a header comment"
        );
        assert!(text.contains("set -eu"), "{name}: needs set -eu");
    }
}

/// A crate of the workspace: its folder name (the code map's name for it), where its
/// manifest is, and the manifest.
struct Member {
    name: String,
    manifest_path: String,
    manifest: toml::Table,
}

/// The root manifest and every member's, as cargo finds them from `workspace.members`.
struct Workspace {
    root: toml::Table,
    members: Vec<Member>,
}

/// The code map of ARCHITECTURE.md: each crate with the crates it may depend on, in the
/// order of the map's lines (a crate may depend only on crates on later lines).
type CodeMap = Vec<(String, Vec<String>)>;

fn parse_manifest(path: &str, text: &str) -> toml::Table {
    text.parse()
        .unwrap_or_else(|e| panic!("{path} is not valid TOML: {e}"))
}

fn workspace() -> Workspace {
    let root = parse_manifest("Cargo.toml", &read("Cargo.toml"));
    let patterns = root["workspace"]["members"]
        .as_array()
        .expect("workspace.members in Cargo.toml");
    let mut folders = Vec::new();
    for pattern in patterns {
        let pattern = pattern.as_str().unwrap();
        match pattern.strip_suffix("/*") {
            Some(parent) => {
                let mut found: Vec<String> = std::fs::read_dir(root_dir().join(parent))
                    .unwrap()
                    .flatten()
                    .filter(|e| e.path().join("Cargo.toml").is_file())
                    .map(|e| format!("{parent}/{}", e.file_name().to_string_lossy()))
                    .collect();
                found.sort();
                folders.extend(found);
            }
            None => folders.push(pattern.to_owned()),
        }
    }
    let members = folders
        .into_iter()
        .map(|folder| {
            let manifest_path = format!("{folder}/Cargo.toml");
            let manifest = parse_manifest(&manifest_path, &read(&manifest_path));
            Member {
                name: folder.rsplit('/').next().unwrap().to_owned(),
                manifest_path,
                manifest,
            }
        })
        .collect();
    Workspace { root, members }
}

/// The fenced block of ARCHITECTURE.md's "## Code map" section that follows the paragraph
/// starting "Arrows point down only": one line per crate, `name → dep, dep`.
fn parse_code_map(doc: &str) -> CodeMap {
    let doc = format!("\n{doc}");
    let section = doc
        .split("\n## ")
        .find(|s| s.starts_with("Code map\n"))
        .expect("ARCHITECTURE.md has a \"## Code map\" section");
    let after = section
        .find("\nArrows point down only")
        .map(|at| &section[at..])
        .expect("the code map section has the paragraph \"Arrows point down only ...\"");
    let mut lines = after.lines().skip_while(|l| !l.starts_with("```")).skip(1);
    let mut map = Vec::new();
    for line in lines.by_ref().take_while(|l| !l.starts_with("```")) {
        let (name, deps) = line
            .split_once('→')
            .unwrap_or_else(|| panic!("code map line without an arrow: {line:?}"));
        map.push((
            name.trim().to_owned(),
            deps.split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_owned)
                .collect(),
        ));
    }
    assert!(
        !map.is_empty(),
        "no fenced code map after \"Arrows point down only\""
    );
    map
}

/// The package name a crate in folder `name` must have.
fn package_name(name: &str) -> String {
    match name {
        "bin" => "package-importer".to_owned(),
        "xtask" => "xtask".to_owned(),
        other => format!("pkgimport-{other}"),
    }
}

/// Which sections declare dependencies: `[dependencies]` and the others.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DepKind {
    Normal,
    Dev,
    Build,
}

/// Every dependency a manifest declares: (section, kind, name, declaration), target-specific
/// sections included.
fn dependencies(manifest: &toml::Table) -> Vec<(String, DepKind, String, toml::Value)> {
    const SECTIONS: [(&str, DepKind); 3] = [
        ("dependencies", DepKind::Normal),
        ("dev-dependencies", DepKind::Dev),
        ("build-dependencies", DepKind::Build),
    ];
    let mut tables: Vec<(String, &toml::Table)> = vec![(String::new(), manifest)];
    if let Some(targets) = manifest.get("target").and_then(toml::Value::as_table) {
        for (cfg, table) in targets {
            if let Some(table) = table.as_table() {
                tables.push((format!("target.{cfg}."), table));
            }
        }
    }
    let mut out = Vec::new();
    for (prefix, table) in tables {
        for (section, kind) in SECTIONS {
            let Some(deps) = table.get(section).and_then(toml::Value::as_table) else {
                continue;
            };
            for (name, declaration) in deps {
                out.push((
                    format!("[{prefix}{section}]"),
                    kind,
                    name.clone(),
                    declaration.clone(),
                ));
            }
        }
    }
    out
}

impl Workspace {
    /// The workspace crate (its folder name) that the dependency `name` declared as
    /// `declaration` is, if it is one: through the root `[workspace.dependencies]`, or a
    /// `path` of its own.
    fn internal(&self, name: &str, declaration: &toml::Value) -> Option<String> {
        let from_workspace = declaration
            .get("workspace")
            .and_then(toml::Value::as_bool)
            .unwrap_or(false);
        let path = if from_workspace {
            self.root["workspace"]
                .get("dependencies")
                .and_then(|d| d.get(name))
                .and_then(|d| d.get("path"))
        } else {
            declaration.get("path")
        }?;
        Some(
            path.as_str()?
                .trim_end_matches('/')
                .rsplit('/')
                .next()?
                .to_owned(),
        )
    }

    /// The workspace crates that `member` has in its `[dependencies]`.
    fn edges(&self, member: &Member) -> Vec<(String, String)> {
        dependencies(&member.manifest)
            .into_iter()
            .filter(|(_, kind, _, _)| *kind == DepKind::Normal)
            .filter_map(|(_, _, name, declaration)| {
                Some((self.internal(&name, &declaration)?, name))
            })
            .collect()
    }
}

/// Every `[dependencies]` edge between workspace crates must be on the code map, pointing
/// down; and the map must name every crate once, with its package named after its folder.
fn edges_off_the_code_map(map: &CodeMap, ws: &Workspace) -> Vec<String> {
    let mut out = Vec::new();
    let line = |name: &str| map.iter().position(|(n, _)| n == name);
    for (i, (name, deps)) in map.iter().enumerate() {
        if map[..i].iter().any(|(n, _)| n == name) {
            out.push(format!(
                "the code map in ARCHITECTURE.md has two lines for {name}: keep one"
            ));
        }
        if !ws.members.iter().any(|m| &m.name == name) {
            out.push(format!(
                "the code map in ARCHITECTURE.md names {name}, which is not a crate of the \
                 workspace: remove its line, or fix the name (crates are named by folder)"
            ));
        }
        for dep in deps {
            if line(dep).is_some_and(|d| d <= i) {
                out.push(format!(
                    "the code map in ARCHITECTURE.md has {name} → {dep} pointing up: {dep} is \
                     not on a line below {name}; reorder the lines, or break the dependency"
                ));
            }
        }
    }
    for member in &ws.members {
        let package = member.manifest["package"]["name"].as_str().unwrap_or("");
        if package != package_name(&member.name) {
            out.push(format!(
                "{}: the crate in folder {} is named {package:?}: name it {:?}, or rename the \
                 folder",
                member.manifest_path,
                member.name,
                package_name(&member.name)
            ));
        }
        let Some(at) = line(&member.name) else {
            out.push(format!(
                "{} is a crate of the workspace but has no line in the code map of \
                 ARCHITECTURE.md: add `{} → <its workspace dependencies>` above the crates it \
                 depends on",
                member.name, member.name
            ));
            continue;
        };
        for (dep, declared_as) in ws.edges(member) {
            let edge = format!("{} → {dep}", member.name);
            if !map[at].1.contains(&dep) {
                out.push(format!(
                    "{edge}: {} has {declared_as} in [dependencies], but the code map of \
                     ARCHITECTURE.md does not list it; a new edge between crates is an \
                     architecture change: add it to the map (pointing down) or drop the \
                     dependency (a dev-dependency is not an edge)",
                    member.manifest_path
                ));
            } else if line(&dep).is_some_and(|d| d <= at) {
                out.push(format!(
                    "{edge}: {} depends upward on {declared_as}: {dep} is not below {} in \
                     the code map; move the code down, or invert the dependency",
                    member.manifest_path, member.name
                ));
            }
        }
    }
    out
}

/// Every edge the code map lists must be a `[dependencies]` edge of its crate.
fn code_map_edges_missing(map: &CodeMap, ws: &Workspace) -> Vec<String> {
    let mut out = Vec::new();
    for (name, deps) in map {
        let Some(member) = ws.members.iter().find(|m| &m.name == name) else {
            continue;
        };
        let edges = ws.edges(member);
        for dep in deps {
            if !edges.iter().any(|(d, _)| d == dep) {
                out.push(format!(
                    "{name} → {dep}: the code map of ARCHITECTURE.md lists it, but {} has no \
                     {} in [dependencies]; remove the edge from the map, or add the dependency",
                    member.manifest_path,
                    package_name(dep)
                ));
            }
        }
    }
    out
}

/// Every dependency of every member (and of the root, should it become a package) is
/// declared once, in the root `[workspace.dependencies]`: a member writes only
/// `name.workspace = true` or `{ workspace = true, features = [...], ... }`.
fn dependencies_declared_outside_the_workspace(ws: &Workspace) -> Vec<String> {
    let root = ("root", "Cargo.toml", &ws.root);
    let members = ws
        .members
        .iter()
        .map(|m| (m.name.as_str(), m.manifest_path.as_str(), &m.manifest));
    let mut out = Vec::new();
    for (crate_name, path, manifest) in std::iter::once(root).chain(members) {
        for (section, _, name, declaration) in dependencies(manifest) {
            let from_workspace = declaration
                .get("workspace")
                .and_then(toml::Value::as_bool)
                .unwrap_or(false);
            let own: Vec<&str> = ["version", "path", "git", "registry"]
                .into_iter()
                .filter(|k| declaration.get(k).is_some())
                .collect();
            let what = match (&declaration, from_workspace) {
                (toml::Value::String(version), _) => format!("version {version:?}"),
                (_, true) if own.is_empty() => continue,
                (_, _) if !own.is_empty() => format!("its own {}", own.join(", ")),
                _ => "no `workspace = true`".to_owned(),
            };
            out.push(format!(
                "{crate_name}: {path} declares {name} in {section} with {what}: declare it once \
                 in the root Cargo.toml's [workspace.dependencies] and write \
                 `{name}.workspace = true` (or `{name} = {{ workspace = true, features = [...] }}`) \
                 here"
            ));
        }
    }
    out
}

fn assert_none(what: &str, found: Vec<String>) {
    assert!(
        found.is_empty(),
        "{what}:\n{}",
        found
            .iter()
            .map(|f| format!("- {f}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_crate_dependency_is_a_downward_edge_of_the_code_map() {
    let map = parse_code_map(&read("ARCHITECTURE.md"));
    assert_none(
        "dependencies between crates that the code map does not allow",
        edges_off_the_code_map(&map, &workspace()),
    );
}

#[test]
fn every_edge_of_the_code_map_exists() {
    let map = parse_code_map(&read("ARCHITECTURE.md"));
    assert_none(
        "edges of the code map that no Cargo.toml has",
        code_map_edges_missing(&map, &workspace()),
    );
}

#[test]
fn every_dependency_is_declared_once_in_the_workspace() {
    assert_none(
        "dependencies declared outside [workspace.dependencies]",
        dependencies_declared_outside_the_workspace(&workspace()),
    );
}

/// A small workspace in memory, for the tests of the checks themselves.
fn toy_workspace(members: &[(&str, &str)]) -> Workspace {
    let root = parse_manifest(
        "Cargo.toml",
        r#"
        [workspace]
        members = ["crates/*", "bin"]
        [workspace.dependencies]
        pkgimport-core = { path = "crates/core" }
        pkgimport-queue = { path = "crates/queue" }
        pkgimport-testkit = { path = "crates/testkit" }
        anyhow = "1"
        "#,
    );
    let members = members
        .iter()
        .map(|(name, deps)| Member {
            name: (*name).to_owned(),
            manifest_path: format!("crates/{name}/Cargo.toml"),
            manifest: parse_manifest(
                name,
                &format!("[package]\nname = {:?}\n{deps}", package_name(name)),
            ),
        })
        .collect();
    Workspace { root, members }
}

#[test]
fn the_dependency_checks_catch_each_violation() {
    let map = parse_code_map(
        "## Code map\n\nArrows point down only: ...\n\n```\nbin   → queue, core\n\
         queue → core\ncore  →\ntestkit →\n```\n\n## Next\n",
    );
    let good = toy_workspace(&[
        (
            "bin",
            "[dependencies]\npkgimport-queue.workspace = true\npkgimport-core.workspace = true\n\
             [dev-dependencies]\npkgimport-testkit.workspace = true\n",
        ),
        (
            "queue",
            "[dependencies]\npkgimport-core = { workspace = true }\nanyhow.workspace = true\n",
        ),
        ("core", ""),
        ("testkit", ""),
    ]);
    assert_none("a good workspace", edges_off_the_code_map(&map, &good));
    assert_none("a good workspace", code_map_edges_missing(&map, &good));
    assert_none(
        "a good workspace",
        dependencies_declared_outside_the_workspace(&good),
    );

    let bad = toy_workspace(&[
        (
            "bin",
            "[dependencies]\npkgimport-queue.workspace = true\n\
             pkgimport-testkit.workspace = true\n",
        ),
        (
            "queue",
            "[dependencies]\npkgimport-core.workspace = true\nanyhow = \"1\"\n\
             [dev-dependencies]\ntempfile = { version = \"3\" }\n\
             [target.'cfg(unix)'.build-dependencies]\ncc = { git = \"https://example.org/cc\" }\n",
        ),
        ("core", "[dependencies]\npkgimport-queue.workspace = true\n"),
        ("testkit", ""),
        ("extra", ""),
    ]);
    let off = edges_off_the_code_map(&map, &bad).join("\n");
    for expected in [
        "bin → testkit: crates/bin/Cargo.toml has pkgimport-testkit in [dependencies], but the \
         code map of ARCHITECTURE.md does not list it",
        "core → queue: crates/core/Cargo.toml has pkgimport-queue in [dependencies], but the \
         code map",
        "extra is a crate of the workspace but has no line in the code map",
    ] {
        assert!(off.contains(expected), "{expected:?} not in:\n{off}");
    }
    let upward = parse_code_map(
        "## Code map\n\nArrows point down only.\n\n```\nqueue →\ncore → queue\n```\n",
    );
    let up = toy_workspace(&[
        ("core", "[dependencies]\npkgimport-queue.workspace = true\n"),
        ("queue", ""),
    ]);
    let off = edges_off_the_code_map(&upward, &up).join("\n");
    for expected in [
        "the code map in ARCHITECTURE.md has core → queue pointing up",
        "core → queue: crates/core/Cargo.toml depends upward on pkgimport-queue",
    ] {
        assert!(off.contains(expected), "{expected:?} not in:\n{off}");
    }
    let missing = code_map_edges_missing(&map, &bad).join("\n");
    assert!(
        missing.contains(
            "bin → core: the code map of ARCHITECTURE.md lists it, but crates/bin/Cargo.toml \
             has no pkgimport-core in [dependencies]"
        ),
        "{missing}"
    );
    let versions = dependencies_declared_outside_the_workspace(&bad).join("\n");
    for expected in [
        "queue: crates/queue/Cargo.toml declares anyhow in [dependencies] with version \"1\"",
        "declares tempfile in [dev-dependencies] with its own version",
        "declares cc in [target.cfg(unix).build-dependencies] with its own git",
    ] {
        assert!(
            versions.contains(expected),
            "{expected:?} not in:\n{versions}"
        );
    }
}
