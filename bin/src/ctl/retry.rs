//! `importctl retry`: re-queues failed packages at manual priority, by name, by signature,
//! or every transient one.

use std::io::Write;

use pkgimport_core::Priority;

use super::util::parse_names;
use crate::config::Config;
use crate::{Exit, Failure};

pub(super) fn run(
    config: &Config,
    packages: &[String],
    signature: Option<&str>,
    transient: bool,
    out: &mut dyn Write,
) -> Result<Exit, Failure> {
    let mut store = crate::open_store(config)?;
    let names = if signature.is_some() || transient {
        store.failed_packages(signature, transient)?
    } else {
        parse_names(packages)?
    };
    let had = store.retry(&names, Priority::MANUAL)?;
    writeln!(
        out,
        "re-queued {} packages ({} had a recorded failure)",
        names.len(),
        had.len()
    )?;
    Ok(Exit::Ok)
}
