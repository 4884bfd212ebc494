//! `importctl report --watch`: keeps a written site current by rewriting only the pages that
//! a batch of events touches, each replaced with one rename, so a web server never serves a
//! half-written page. The index's table of every package is kept in memory, one row per
//! package, so that rewriting the index reads only the global lists, not every package.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use pkgimport_core::PackageName;
use pkgimport_queue::Store;

use super::collect::{self, PackageRow};
use super::{Error, ReportOptions, ReportSummary, pages};
use crate::follow::Touched;

/// A site written by [`write_report`](super::write_report), and what it needs to keep it
/// current.
pub struct SiteWriter {
    out_dir: PathBuf,
    rows: BTreeMap<PackageName, PackageRow>,
}

impl SiteWriter {
    /// Writes the whole site, as `importctl report` does, and keeps what the index needs.
    pub fn start(
        store: &mut Store,
        options: &ReportOptions,
        out_dir: &Path,
    ) -> Result<(SiteWriter, ReportSummary), Error> {
        let (summary, rows) = super::write_swapped(store, options, out_dir)?;
        let writer = SiteWriter {
            out_dir: out_dir.to_owned(),
            rows: rows.into_iter().map(|r| (r.name.clone(), r)).collect(),
        };
        Ok((writer, summary))
    }

    /// Rewrites what `touched` names: each package's page (removed when the database no
    /// longer knows the package), then the index. Everything: the whole site, swapped.
    /// Returns the number of pages written.
    pub fn apply(
        &mut self,
        store: &mut Store,
        options: &ReportOptions,
        touched: &Touched,
    ) -> Result<usize, Error> {
        if touched.everything {
            let (writer, summary) = SiteWriter::start(store, options, &self.out_dir)?;
            *self = writer;
            return Ok(summary.pages);
        }
        let mut written = 0;
        for name in &touched.packages {
            let path = collect::package_path(&self.out_dir, name);
            match collect::read_package(store, options, name)? {
                Some(page) => {
                    replace_file(&path, &pages::package(&page, options.now).into_string())?;
                    self.rows.insert(name.clone(), PackageRow::of(page));
                    written += 1;
                }
                None => {
                    self.rows.remove(name);
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(source) => {
                            return Err(Error::Io {
                                what: "removing",
                                path,
                                source,
                            });
                        }
                    }
                }
            }
        }
        if touched.index || !touched.packages.is_empty() {
            let pages_set: BTreeSet<PackageName> = self.rows.keys().cloned().collect();
            let rows: Vec<PackageRow> = self.rows.values().cloned().collect();
            let index = collect::read_index(store, options, Some(rows), pages_set)?;
            replace_file(
                &self.out_dir.join("index.html"),
                &pages::index(&index, options).into_string(),
            )?;
            written += 1;
        }
        Ok(written)
    }
}

/// Writes `contents` beside `path` and renames it into place.
fn replace_file(path: &Path, contents: &str) -> Result<(), Error> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    collect::write_file(&tmp, contents)?;
    std::fs::rename(&tmp, path).map_err(|source| Error::Io {
        what: "renaming into place",
        path: path.to_owned(),
        source,
    })
}
