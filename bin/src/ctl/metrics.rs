//! `importctl metrics`: the Prometheus text exposition format on stdout, or into
//! node_exporter's textfile collector directory as `package-importer.prom`, replaced
//! atomically: a `tempfile` temporary file in the same directory, written, synced
//! (`fsync`) and persisted (renamed) over the old one, so the collector never reads half a
//! file, even after a crash.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use anyhow::Context;
use pkgimport_queue::Timestamp;

use crate::config::Config;
use crate::{Exit, Failure};

/// The file written into the textfile collector's directory.
const TEXTFILE: &str = "package-importer.prom";

pub(super) fn run(
    config: &Config,
    textfile: Option<&std::path::Path>,
    out: &mut dyn Write,
) -> Result<Exit, Failure> {
    let mut store = crate::open_store(config)?;
    let text = pkgimport_report::metrics::render(&mut store, Timestamp::now())?;
    match textfile {
        None => write!(out, "{text}")?,
        Some(dir) => {
            let target = dir.join(TEXTFILE);
            // Mode 0666 less the umask, as for any file this process writes (a temporary
            // file's own default, 0600, would hide it from a collector run as another user).
            let mut tmp = tempfile::Builder::new()
                .prefix(".package-importer.prom.")
                .permissions(std::fs::Permissions::from_mode(0o666))
                .tempfile_in(dir)
                .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
            tmp.write_all(text.as_bytes())
                .and_then(|()| tmp.as_file().sync_all())
                .with_context(|| format!("writing {}", tmp.path().display()))?;
            tmp.persist(&target)
                .with_context(|| format!("renaming to {}", target.display()))?;
        }
    }
    Ok(Exit::Ok)
}
