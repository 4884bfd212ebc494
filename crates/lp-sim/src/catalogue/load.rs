//! Building the catalogue: from a fixture archive (the layout of `fixtures/archive/`: a
//! manifest of packages, versions and suites, and each version's files), with dates derived
//! from the changelogs; or from a synthetic history, whose every row is arithmetic.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};

use super::series::series_for;
use super::{Catalogue, Files, Package, Pocket, Row, Status, VersionInfo, split_suite};
use crate::archive::{self, fallback_date, fnv1a};
use crate::synthetic::{self, SyntheticSpec};

impl Catalogue {
    /// Loads a fixture archive.
    pub(crate) fn from_archive(dir: &Path) -> Result<Catalogue, String> {
        let manifest = archive::load_manifest(dir)?;
        let mut cat = Catalogue::empty();
        cat.archive_dir = Some(dir.to_owned());
        // Add every series first: adding one re-sorts the series table.
        for entry in manifest.values().flat_map(|versions| versions.values()) {
            for suite in &entry.suites {
                cat.series_index_or_add(split_suite(suite).0);
            }
        }
        // (date, package, version, series, pocket) for each publication, before ids exist.
        let mut pending: Vec<(DateTime<Utc>, u32, u32, u16, Pocket)> = Vec::new();
        for (package, versions) in &manifest {
            for (version, entry) in versions {
                let (pkg, ver) = cat.load_disk_version(package, version)?;
                let base = cat.changelog_based_date(pkg, ver, package, version);
                for (k, suite) in entry.suites.iter().enumerate() {
                    let (series_name, pocket) = split_suite(suite);
                    let series = cat.series_index_or_add(series_name);
                    let micros = (fnv1a(format!("{package} {version} {suite}").as_bytes())
                        % 1_000_000) as i64;
                    // Gina imports a few hours after the upload; copies to more suites
                    // follow a few hours apart.
                    let date =
                        base + Duration::hours(2 + 6 * k as i64) + Duration::microseconds(micros);
                    pending.push((date, pkg, ver, series, pocket));
                }
            }
        }
        pending.sort_by(|a, b| {
            (a.0, &cat.packages[a.1 as usize].name, a.2, a.3).cmp(&(
                b.0,
                &cat.packages[b.1 as usize].name,
                b.2,
                b.3,
            ))
        });
        for (date, pkg, ver, series, pocket) in pending {
            let id = cat.next_id;
            cat.next_id += 1;
            cat.rows.push(Row {
                id,
                pkg,
                ver,
                series,
                pocket,
                status: Status::Published,
                date_created: date,
                date_published: Some(date),
                date_superseded: None,
            });
        }
        cat.dominate_all();
        cat.reindex();
        Ok(cat)
    }

    /// Builds a synthetic history.
    pub(crate) fn synthetic(spec: SyntheticSpec) -> Result<Catalogue, String> {
        if spec.series == 0 || spec.packages == 0 || spec.versions == 0 {
            return Err("synthetic history needs at least one package, series and version".into());
        }
        let mut cat = Catalogue::empty();
        cat.synthetic = Some(spec);
        cat.series = synthetic::series_names(spec.series)
            .into_iter()
            .map(|name| series_for(&name))
            .collect();
        cat.packages.reserve(spec.packages as usize);
        for j in 0..spec.packages {
            let name = spec.package_name(j);
            let versions = (0..spec.versions)
                .map(|v| VersionInfo {
                    version: synthetic::version_string(v),
                    rank: spec.versions - 1 - v,
                    files: Files::Synthetic { j, v },
                    section: "misc".into(),
                    maintainer_slug: "synthetic-maintainer".into(),
                    changelog_date: None,
                })
                .collect();
            cat.package_index.insert(name.clone(), j);
            cat.packages.push(Package { name, versions });
        }
        let total = u64::from(spec.packages) * u64::from(spec.versions);
        cat.rows.reserve(total as usize);
        for v in 0..spec.versions {
            for j in 0..spec.packages {
                let date = spec.date_created(j, v);
                let latest = v + 1 == spec.versions;
                cat.rows.push(Row {
                    id: cat.next_id,
                    pkg: j,
                    ver: v,
                    series: spec.series_of(j),
                    pocket: Pocket::Release,
                    status: if latest {
                        Status::Published
                    } else {
                        Status::Superseded
                    },
                    date_created: date,
                    date_published: Some(date),
                    date_superseded: (!latest).then(|| spec.date_created(j, v + 1)),
                });
                cat.next_id += 1;
            }
        }
        cat.reindex();
        Ok(cat)
    }

    fn changelog_based_date(
        &self,
        pkg: u32,
        ver: u32,
        package: &str,
        version: &str,
    ) -> DateTime<Utc> {
        let info = &self.packages[pkg as usize].versions[ver as usize];
        info.changelog_date
            .unwrap_or_else(|| fallback_date(package, version))
    }

    /// Finds or loads (from the package folder) a version; returns its indices.
    pub(super) fn load_disk_version(
        &mut self,
        package: &str,
        version: &str,
    ) -> Result<(u32, u32), String> {
        let pkg = match self.package_index(package) {
            Some(pkg) => pkg,
            None => {
                let pkg = self.packages.len() as u32;
                self.packages.push(Package {
                    name: package.to_owned(),
                    versions: Vec::new(),
                });
                self.package_index.insert(package.to_owned(), pkg);
                pkg
            }
        };
        if let Some(ver) = self.version_index(pkg, version) {
            return Ok((pkg, ver));
        }
        let dir = self
            .archive_dir
            .clone()
            .ok_or_else(|| "no archive directory".to_owned())?;
        let disk = archive::load_version(&dir, package, version)?;
        let ver = self.packages[pkg as usize].versions.len() as u32;
        let maintainer_slug = disk
            .maintainer
            .as_deref()
            .map(person_slug)
            .unwrap_or_else(|| "unknown-maintainer".into());
        self.packages[pkg as usize].versions.push(VersionInfo {
            version: version.to_owned(),
            rank: 0,
            files: Files::Disk(disk.files),
            section: disk.section.unwrap_or_else(|| "misc".into()),
            maintainer_slug,
            changelog_date: disk.changelog_date,
        });
        self.rerank(pkg);
        Ok((pkg, ver))
    }

    /// Recomputes the dpkg-order ranks of a package's versions.
    pub(super) fn rerank(&mut self, pkg: u32) {
        let versions = &mut self.packages[pkg as usize].versions;
        let mut order: Vec<usize> = (0..versions.len()).collect();
        let parsed: Vec<Option<debversion::Version>> =
            versions.iter().map(|v| v.version.parse().ok()).collect();
        order.sort_by(|&a, &b| match (&parsed[a], &parsed[b]) {
            (Some(x), Some(y)) => y.cmp(x),
            _ => versions[b].version.cmp(&versions[a].version),
        });
        for (rank, idx) in order.into_iter().enumerate() {
            versions[idx].rank = rank as u32;
        }
    }

    /// Marks everything but the newest publication (by date) of each package, series and
    /// pocket as superseded, as Launchpad's dominator does.
    fn dominate_all(&mut self) {
        let mut latest: HashMap<(u32, u16, Pocket), usize> = HashMap::new();
        let mut order: Vec<usize> = (0..self.rows.len()).collect();
        order.sort_by_key(|&i| (self.rows[i].date_created, self.rows[i].id));
        for i in order {
            let key = (self.rows[i].pkg, self.rows[i].series, self.rows[i].pocket);
            if let Some(prev) = latest.insert(key, i) {
                let successor_date = self.rows[i].date_created;
                let prev = &mut self.rows[prev];
                if matches!(prev.status, Status::Published | Status::Pending) {
                    prev.status = Status::Superseded;
                    prev.date_superseded = Some(successor_date);
                }
            }
        }
    }
}

/// A Launchpad-person-like name from a `Maintainer` field.
fn person_slug(maintainer: &str) -> String {
    let email = maintainer
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('@'))
        .map_or(maintainer, |(local, _)| local);
    let slug: String = email
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug.trim_matches('-').to_owned();
    if slug.is_empty() {
        "unknown-maintainer".into()
    } else {
        slug
    }
}
