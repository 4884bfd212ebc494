//! `importctl reset`: resolves a remote that diverged from the audit, under the package's
//! lock: `--adopt-remote` makes the audit take the remote's refs, `--restore` puts the
//! remote back to what the audit says.

use std::io::Write;

use super::import_failure;
use super::util::parse_name;
use crate::config::{Config, settings};
use crate::{Exit, Failure};

pub(super) fn run(
    config: &Config,
    package: &str,
    adopt_remote: bool,
    out: &mut dyn Write,
) -> Result<Exit, Failure> {
    let state_dir = config.state_dir();
    let mut store = crate::open_store(config)?;
    let package = parse_name(package)?;
    let settings = settings::import(config, None);
    let _lock = crate::lock_package(&store, &state_dir, &package, false)?;
    if adopt_remote {
        let n = pkgimport_importer::verify::adopt_remote(&mut store, &settings, &package)
            .map_err(import_failure)?;
        writeln!(out, "{package}: the audit now holds the remote's {n} refs")?;
    } else {
        let n = pkgimport_importer::verify::restore(&mut store, &settings, &package)
            .map_err(import_failure)?;
        writeln!(
            out,
            "{package}: restored {n} refs on the remote from the audit"
        )?;
    }
    Ok(Exit::Ok)
}
