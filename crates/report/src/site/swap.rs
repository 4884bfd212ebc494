//! Building the site beside its final place and swapping it in, so that a web server serving
//! `out_dir` sees either the whole old site or the whole new one, never a mixture.
//!
//! The new site is written to `<out_dir>.tmp-<pid>`. Then two renames in the same parent
//! directory: `out_dir` → `<out_dir>.old-<pid>`, the new one → `out_dir`; then the old one is
//! deleted. Between the two renames `out_dir` is briefly absent (a request then gets a 404,
//! not a half-written page); Linux's `renameat2(RENAME_EXCHANGE)` would close even that gap,
//! but needs a platform-specific call for a window of microseconds. Leftovers of a report
//! that crashed (a `.tmp-`/`.old-` sibling whose process is gone) are removed, so a crash
//! every few minutes cannot fill the disk.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::Error;

/// A fresh temporary directory for the new site, and where it will go.
pub(crate) struct Staging {
    out: PathBuf,
    tmp: PathBuf,
    old: PathBuf,
    committed: bool,
}

impl Staging {
    /// Checks `out_dir`, removes stale leftovers beside it and creates an empty temporary
    /// directory for the new site.
    pub(crate) fn prepare(out_dir: &Path) -> Result<Staging, Error> {
        let (parent, name) = match (out_dir.parent(), out_dir.file_name()) {
            (Some(p), Some(n)) => (p, n),
            _ => {
                return Err(Error::OutDir {
                    path: out_dir.to_owned(),
                    reason: "needs a parent directory and a name",
                });
            }
        };
        // `Path::new("site").parent()` is `Some("")`: the current directory.
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        if out_dir.exists() && !out_dir.is_dir() {
            return Err(Error::OutDir {
                path: out_dir.to_owned(),
                reason: "exists and is not a directory",
            });
        }
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            what: "creating",
            path: parent.to_owned(),
            source,
        })?;
        let pid = std::process::id();
        let sibling = |kind: &str| {
            let mut n = OsString::from(name);
            n.push(format!(".{kind}-{pid}"));
            parent.join(n)
        };
        let staging = Staging {
            out: out_dir.to_owned(),
            tmp: sibling("tmp"),
            old: sibling("old"),
            committed: false,
        };
        remove_stale_siblings(parent, &name.to_string_lossy(), pid);
        // Our own pid's leftovers can only be from an earlier process with the same pid.
        remove_dir_if_exists(&staging.tmp)?;
        remove_dir_if_exists(&staging.old)?;
        std::fs::create_dir(&staging.tmp).map_err(|source| Error::Io {
            what: "creating",
            path: staging.tmp.clone(),
            source,
        })?;
        Ok(staging)
    }

    /// Where the new site is being built.
    pub(crate) fn dir(&self) -> &Path {
        &self.tmp
    }

    /// Swaps the new site into place and deletes the old one.
    pub(crate) fn commit(mut self) -> Result<(), Error> {
        let had_old = match std::fs::rename(&self.out, &self.old) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(source) => {
                return Err(Error::Io {
                    what: "moving the old report aside",
                    path: self.out.clone(),
                    source,
                });
            }
        };
        if let Err(source) = std::fs::rename(&self.tmp, &self.out) {
            if had_old {
                // Put the old site back rather than leave nothing to serve.
                let _ = std::fs::rename(&self.old, &self.out);
            }
            return Err(Error::Io {
                what: "moving the new report into place",
                path: self.out.clone(),
                source,
            });
        }
        self.committed = true;
        if had_old {
            remove_dir_if_exists(&self.old)?;
        }
        Ok(())
    }
}

impl Drop for Staging {
    /// A report that failed half-way leaves nothing behind.
    fn drop(&mut self) {
        if !self.committed
            && let Err(e) = std::fs::remove_dir_all(&self.tmp)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            log::warn!(
                "cannot remove unfinished report path={} error={e}",
                self.tmp.display()
            );
        }
    }
}

fn remove_dir_if_exists(path: &Path) -> Result<(), Error> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            what: "removing",
            path: path.to_owned(),
            source,
        }),
    }
}

/// Removes `<name>.tmp-<pid>` and `<name>.old-<pid>` siblings whose process no longer runs.
/// Best effort: a failure here is logged, the report goes on.
fn remove_stale_siblings(parent: &Path, name: &str, own_pid: u32) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|f| f.strip_prefix(name))
            .and_then(|rest| {
                rest.strip_prefix(".tmp-")
                    .or_else(|| rest.strip_prefix(".old-"))
            })
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == own_pid || process_alive(pid) {
            continue;
        }
        let path = entry.path();
        log::info!("removing leftover report path={}", path.display());
        if let Err(e) = std::fs::remove_dir_all(&path) {
            log::warn!(
                "cannot remove leftover report path={} error={e}",
                path.display()
            );
        }
    }
}

/// Whether a process with this pid exists. Without `/proc` nothing counts as dead, so
/// nothing is removed that might still be in use.
fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}
