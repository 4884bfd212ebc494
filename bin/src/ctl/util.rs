//! What several importctl commands share: reading a package name, JSON output, short ages
//! for tables, and recognising a closed pipe.

use std::io::{self, Write};

use pkgimport_core::PackageName;

use crate::{Exit, Failure, OrExit};

/// A package name from the command line; an invalid one is bad input (65).
pub(super) fn parse_name(raw: &str) -> Result<PackageName, Failure> {
    PackageName::parse(raw).or_exit(Exit::DataErr)
}

/// Several package names from the command line, or the first invalid one's error.
pub(super) fn parse_names(raw: &[String]) -> Result<Vec<PackageName>, Failure> {
    raw.iter().map(|p| parse_name(p)).collect()
}

pub(super) fn print_json<T: serde::Serialize>(out: &mut dyn Write, value: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// `90061000` ms → `1d1h`; short and coarse, for tables.
pub(super) fn ago(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        3600..86400 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
    }
}

/// Whether an error is a closed stdout (`importctl queue | head`), which is not a failure.
pub(super) fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
