//! `importctl verify`: compares each package's remote refs with the committed audit; exit 2
//! on any mismatch, 69 when a package could not be checked. A verify that checked every
//! package leaves its result in the counters that `importctl check` reads.

use std::io::Write;

use pkgimport_queue::Timestamp;

use super::util::{parse_names, print_json};
use crate::config::{Config, settings};
use crate::{Exit, Failure};

pub(super) fn run(
    config: &Config,
    packages: &[String],
    all: bool,
    json: bool,
    out: &mut dyn Write,
) -> Result<Exit, Failure> {
    let mut store = crate::open_store(config)?;
    let packages = if all {
        parse_names(&store.audited_packages()?)?
    } else {
        parse_names(packages)?
    };
    let settings = settings::import(config, None);
    let mut mismatches = Vec::new();
    let mut errors = 0;
    for package in &packages {
        match pkgimport_importer::verify::verify(&mut store, &settings, package) {
            Ok(m) => mismatches.extend(m),
            Err(e) => {
                errors += 1;
                log::error!("verify {package}: {e}");
            }
        }
    }
    if json {
        print_json(out, &mismatches)?;
    } else {
        for m in &mismatches {
            writeln!(
                out,
                "{}: {} expected {} actual {}",
                m.package,
                m.name,
                m.expected.as_deref().unwrap_or("(none)"),
                m.actual.as_deref().unwrap_or("(none)")
            )?;
        }
        writeln!(
            out,
            "verified {} packages: {} mismatched refs",
            packages.len() - errors,
            mismatches.len()
        )?;
    }
    if errors == 0 {
        // For `importctl check`: what the last verify found.
        let now = Timestamp::now().0;
        store.set_counters(&[
            ("last_verify_mismatches", mismatches.len() as i64),
            ("last_verify_ms", now),
        ])?;
    }
    if errors > 0 {
        return Err(Failure::new(
            Exit::Unavailable,
            anyhow::anyhow!("{errors} packages could not be verified"),
        ));
    }
    Ok(if mismatches.is_empty() {
        Exit::Ok
    } else {
        Exit::Mismatch
    })
}
