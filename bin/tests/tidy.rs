//! Tidy checks that keep the documentation and the code in step, run as ordinary tests.

use std::path::{Path, PathBuf};

use package_importer::Exit;
use package_importer::config::KEYS;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
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
        rust_files(&root().join(dir), &mut files);
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
        .map(|f| f.strip_prefix(root()).unwrap().display().to_string())
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
    for e in std::fs::read_dir(root().join("systemd")).unwrap().flatten() {
        units.push_str(&std::fs::read_to_string(e.path()).unwrap());
    }
    for e in std::fs::read_dir(root().join("bin/src/bin"))
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
    for e in std::fs::read_dir(root().join("scripts")).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(
            text.starts_with("#!/bin/sh\n# "),
            "{name}: needs #!/bin/sh and a header comment"
        );
        assert!(text.contains("set -eu"), "{name}: needs set -eu");
    }
}
