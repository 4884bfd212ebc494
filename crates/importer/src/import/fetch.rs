//! What comes from Launchpad: the package's publications, and the files of the versions to
//! build, kept in a content-addressed download cache (`cache/<ab>/<sha256>`) and linked
//! under their own names into a scratch directory per version.

use std::path::{Path, PathBuf};

use pkgimport_core::PackageName;
use pkgimport_lp_client::{
    Publication, PublicationOrder, PublicationStatus, PublishedSourcesQuery, SourceFile,
};

use super::naming::{cache_path, check_version};
use pkgimport_queue::series::SeriesRow;

use super::plan::{Found, SeriesStatus};
use super::{ImportError, Importer, Result};

/// How many times a file is downloaded before a size or SHA-256 mismatch counts as the
/// archive's copy being bad rather than the transfer.
const MISMATCH_ATTEMPTS: u32 = 2;

impl Importer<'_> {
    /// The package's publications in every configured distribution: one query per
    /// distribution (plus its pages), whatever the number of series, so that a run with
    /// nothing to do costs one request per distribution. Deleted publications are left
    /// out; one of another package, or with a version that cannot name a file or a tag,
    /// fails the run.
    pub(super) fn history(&self, package: &PackageName) -> Result<Vec<Found>> {
        let mut all = Vec::new();
        for distro in &self.settings.distributions {
            let query = PublishedSourcesQuery {
                source_name: Some(package.to_string()),
                exact_match: true,
                order: PublicationOrder::OldestFirst,
                ..PublishedSourcesQuery::default()
            };
            for p in self.client.published_sources(distro, &query) {
                let p = p?;
                if p.source_package_name != package.as_str() {
                    return Err(ImportError::ForeignPublication {
                        package: package.clone(),
                        found: p.source_package_name,
                    });
                }
                if let Err(why) = check_version(&p.source_package_version) {
                    return Err(ImportError::UnusableVersion {
                        package: package.clone(),
                        version: p.source_package_version,
                        why,
                    });
                }
                if p.status == PublicationStatus::Deleted {
                    continue;
                }
                all.push(Found {
                    distro: distro.clone(),
                    publication: p,
                });
            }
        }
        Ok(all)
    }

    /// The series of every configured distribution with their statuses, oldest first, as
    /// `poll-uploads` last recorded them; a distribution without any is listed from
    /// Launchpad once and recorded.
    pub(super) fn series_status(&mut self) -> Result<SeriesStatus> {
        let mut all = SeriesStatus::new();
        for distro in &self.settings.distributions {
            let mut series = self.store.series(distro)?;
            if series.is_empty() {
                series = self
                    .client
                    .distro_series(distro)?
                    .into_iter()
                    .rev()
                    .map(|s| SeriesRow {
                        status: s.status.unwrap_or_default(),
                        name: s.name,
                    })
                    .collect();
                self.store.set_series(distro, &series)?;
            }
            all.insert(distro.clone(), series);
        }
        Ok(all)
    }

    /// Downloads a publication's files into the cache and links them, under their own
    /// names, into a scratch directory. Returns the directory and the bytes downloaded.
    pub(super) fn fetch(&self, package: &PackageName, p: &Publication) -> Result<(PathBuf, u64)> {
        let files = self.client.source_files(&p.self_link)?;
        let dir = self
            .scratch_dir(package)
            .join(pkgimport_unpack::mangle_version(&p.source_package_version));
        std::fs::create_dir_all(&dir).map_err(|e| ImportError::io(&dir, e))?;
        let mut bytes = 0;
        for f in files {
            let Some(f) = f else {
                return Err(ImportError::FileGone {
                    package: package.clone(),
                    version: p.source_package_version.clone(),
                });
            };
            let name = file_name_of(&f.url)?;
            let sha = f.sha256.to_ascii_lowercase();
            if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ImportError::BadSha256 { name });
            }
            let cached = cache_path(&self.settings.state_dir, &sha);
            if !cached.exists() {
                std::fs::create_dir_all(cached.parent().expect("has a parent"))
                    .map_err(|e| ImportError::io(&cached, e))?;
                bytes += self.download(&f, &cached)?;
            }
            let target = dir.join(&name);
            let _ = std::fs::remove_file(&target);
            if std::fs::hard_link(&cached, &target).is_err() {
                std::fs::copy(&cached, &target).map_err(|e| ImportError::io(&target, e))?;
            }
        }
        Ok((dir, bytes))
    }

    /// Downloads one file, checked against Launchpad's size and SHA-256. A mismatch is
    /// tried once more from scratch; a second one is bad input, not bad luck.
    fn download(&self, f: &SourceFile, dest: &Path) -> Result<u64> {
        let mut attempt = 1;
        loop {
            let mismatch = match self.client.download_verified(f, dest) {
                Ok(d) => return Ok(d.bytes),
                Err(e @ pkgimport_lp_client::Error::DownloadMismatch { .. }) => e,
                Err(e) => return Err(e.into()),
            };
            log::warn!(
                "checksum mismatch for {} (attempt {attempt}): {mismatch}",
                f.url
            );
            if attempt == MISMATCH_ATTEMPTS {
                return Err(ImportError::ChecksumMismatch(mismatch));
            }
            attempt += 1;
        }
    }
}

/// The file name at the end of a librarian URL, which must be a plain file name.
fn file_name_of(url: &str) -> Result<String> {
    let last = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .rsplit('/')
        .next()
        .unwrap_or("");
    let name = pkgimport_lp_client::encode::percent_decode(last);
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains(['/', '\0', '\\'])
        || name.starts_with('.')
    {
        return Err(ImportError::UnsafeFileName {
            url: url.to_owned(),
        });
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_come_from_the_last_segment_and_must_be_plain() {
        for (url, name) in [
            (
                "https://launchpad.net/debian/+archive/primary/+files/hello_2.10-3.dsc",
                "hello_2.10-3.dsc",
            ),
            (
                "https://launchpad.net/+files/hello_1%3A2.10.orig.tar.gz?x=1#y",
                "hello_1:2.10.orig.tar.gz",
            ),
        ] {
            assert_eq!(file_name_of(url).unwrap(), name, "{url}");
        }
        for url in [
            "https://launchpad.net/+files/",
            "https://launchpad.net/+files/..",
            "https://launchpad.net/+files/.hidden",
            "https://launchpad.net/+files/a%2Fb",
            "https://launchpad.net/+files/a%5Cb",
            "https://launchpad.net/+files/a%00b",
        ] {
            assert!(
                matches!(file_name_of(url), Err(ImportError::UnsafeFileName { .. })),
                "{url} accepted"
            );
        }
    }
}
