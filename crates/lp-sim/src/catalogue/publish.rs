//! What the control endpoints change in a running simulator: one publication added
//! (`/_sim/publish`), superseding older ones when it is published; a pending one published
//! (`/_sim/publish-pending`); and a new series (`/_sim/open-series`) with every package's
//! newest version copied into it.

use chrono::{DateTime, Duration, Utc};

use super::{
    Catalogue, Files, Pocket, PublishError, PublishRequest, Row, Status, VersionInfo, split_suite,
    valid_series_name,
};
use crate::synthetic;

impl Catalogue {
    /// Adds a publication (the `/_sim/publish` control endpoint).
    pub(crate) fn publish(&mut self, req: &PublishRequest) -> Result<u64, PublishError> {
        let (series_name, pocket) = split_suite(&req.suite);
        if !valid_series_name(series_name) {
            return Err(PublishError::Invalid(format!("bad suite {:?}", req.suite)));
        }
        let synthetic = self
            .synthetic
            .as_ref()
            .map(|spec| spec.package_index(&req.package));
        let (pkg, ver) = match synthetic {
            Some(j) => self.synthetic_version(j, &req.package, &req.version)?,
            None => {
                if !valid_package_name(&req.package) || !valid_version(&req.version) {
                    return Err(PublishError::Invalid(format!(
                        "bad package or version {:?} {:?}",
                        req.package, req.version
                    )));
                }
                self.load_disk_version(&req.package, &req.version)
                    .map_err(PublishError::Missing)?
            }
        };
        let series = self.series_index_or_add(req.distro, series_name);
        let id = self.next_id;
        self.next_id += 1;
        let published = matches!(req.status, Status::Published);
        if published {
            let date = req.date_created;
            for row in &mut self.rows {
                if row.pkg == pkg
                    && row.series == series
                    && row.pocket == pocket
                    && matches!(row.status, Status::Published | Status::Pending)
                    && row.date_created <= date
                {
                    row.status = Status::Superseded;
                    row.date_superseded = Some(date);
                }
            }
        }
        self.rows.push(Row {
            id,
            pkg,
            ver,
            series,
            pocket,
            status: req.status,
            date_created: req.date_created,
            date_published: published.then_some(req.date_created),
            date_superseded: None,
        });
        self.reindex();
        Ok(id)
    }

    /// Publishes the `Pending` publication `id` at `date` (the `/_sim/publish-pending`
    /// control endpoint), as Launchpad's publisher does: it becomes `Published` and
    /// supersedes the older publications of its package in its series and pocket.
    pub(crate) fn publish_pending(
        &mut self,
        id: u64,
        date: DateTime<Utc>,
    ) -> Result<(), PublishError> {
        let idx = self
            .rows
            .binary_search_by_key(&id, |r| r.id)
            .map_err(|_| PublishError::Missing(format!("no publication {id}")))?;
        let row = &self.rows[idx];
        if row.status != Status::Pending {
            return Err(PublishError::Invalid(format!(
                "publication {id} is {}, not Pending",
                row.status.title()
            )));
        }
        let (pkg, series, pocket, created) = (row.pkg, row.series, row.pocket, row.date_created);
        for (i, row) in self.rows.iter_mut().enumerate() {
            if i != idx
                && row.pkg == pkg
                && row.series == series
                && row.pocket == pocket
                && matches!(row.status, Status::Published | Status::Pending)
                && row.date_created <= created
            {
                row.status = Status::Superseded;
                row.date_superseded = Some(date);
            }
        }
        let row = &mut self.rows[idx];
        row.status = Status::Published;
        row.date_published = Some(date);
        Ok(())
    }

    /// Opens a new series of distribution `distro` (the `/_sim/open-series` control
    /// endpoint), as a distribution does when it starts a release: the series is in `Active
    /// Development`, and for every package published in one of `copy_from` (every existing
    /// series of the distribution when empty), the highest version among its `Published`
    /// rows there is copied into the Release pocket of `series`, status `Published`. The
    /// copies are
    /// created at `date` plus one microsecond per copy, in package order, so ids and dates
    /// increase together and pollers that follow `date_created` see all of them. The
    /// catalogue is re-sorted once, not once per copy. Returns how many were copied.
    pub(crate) fn open_series(
        &mut self,
        distro: u16,
        series: &str,
        copy_from: &[String],
        date: DateTime<Utc>,
    ) -> Result<usize, PublishError> {
        if !valid_series_name(series) {
            return Err(PublishError::Invalid(format!("bad series name {series:?}")));
        }
        if self.series_index(distro, series).is_some() {
            return Err(PublishError::Invalid(format!(
                "series {series} already exists"
            )));
        }
        let sources: Vec<u16> = if copy_from.is_empty() {
            self.series_of(distro).map(|i| i as u16).collect()
        } else {
            copy_from
                .iter()
                .map(|name| {
                    self.series_index(distro, name).ok_or_else(|| {
                        PublishError::Invalid(format!("no series {name} to copy from"))
                    })
                })
                .collect::<Result<_, _>>()?
        };
        // Per package, the row whose version ranks highest (rank 0 is the newest version),
        // the newest such row on a tie.
        let mut best: Vec<Option<usize>> = vec![None; self.packages.len()];
        for (i, row) in self.rows.iter().enumerate() {
            if row.status != Status::Published || !sources.contains(&row.series) {
                continue;
            }
            let slot = &mut best[row.pkg as usize];
            let better = match *slot {
                None => true,
                Some(b) => {
                    let (old, new) = (&self.rows[b], row);
                    let rank =
                        |r: &Row| self.packages[r.pkg as usize].versions[r.ver as usize].rank;
                    (rank(new), std::cmp::Reverse(new.date_created))
                        < (rank(old), std::cmp::Reverse(old.date_created))
                }
            };
            if better {
                *slot = Some(i);
            }
        }
        let copies: Vec<(u32, u32)> = best
            .into_iter()
            .flatten()
            .map(|i| (self.rows[i].pkg, self.rows[i].ver))
            .collect();
        let mut opened = self.new_series(distro, series);
        opened.status = "Active Development";
        let target = self.add_series(opened);
        for (n, (pkg, ver)) in copies.iter().enumerate() {
            let created = date + Duration::microseconds(n as i64);
            self.rows.push(Row {
                id: self.next_id,
                pkg: *pkg,
                ver: *ver,
                series: target,
                pocket: Pocket::Release,
                status: Status::Published,
                date_created: created,
                date_published: Some(created),
                date_superseded: None,
            });
            self.next_id += 1;
        }
        self.reindex();
        Ok(copies.len())
    }

    /// The indices of version `version` of synthetic package `j` (`None`: not one of the
    /// history's), added if new.
    fn synthetic_version(
        &mut self,
        j: Option<u32>,
        package: &str,
        version: &str,
    ) -> Result<(u32, u32), PublishError> {
        let j =
            j.ok_or_else(|| PublishError::Missing(format!("no synthetic package {package}")))?;
        let v = synthetic::version_index(version).ok_or_else(|| {
            PublishError::Invalid(format!("synthetic versions look like 1.<n>, not {version}"))
        })?;
        if let Some(ver) = self.version_index(j, version) {
            return Ok((j, ver));
        }
        let versions = &mut self.packages[j as usize].versions;
        let ver = versions.len() as u32;
        versions.push(VersionInfo {
            version: version.to_owned(),
            rank: 0,
            files: Files::Synthetic { j, v },
            section: "misc".into(),
            maintainer_slug: "synthetic-maintainer".into(),
            changelog_date: None,
        });
        self.rerank(j);
        Ok((j, ver))
    }
}

/// Debian source package names: `[a-z0-9][a-z0-9+.-]+`. Also keeps paths inside the archive.
fn valid_package_name(name: &str) -> bool {
    name.len() >= 2
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+.-".contains(&b))
}

/// Debian versions: `[A-Za-z0-9.+~:-]`, no slashes, not empty.
fn valid_version(version: &str) -> bool {
    !version.is_empty()
        && version.as_bytes()[0].is_ascii_digit()
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+~:-".contains(&b))
}
