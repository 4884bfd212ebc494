//! The distribution and series tables. Series are kept grouped by distribution and, within
//! one, in Launchpad's order: version descending, with the version-less development series
//! (`sid`, `experimental`) first and unknown version-less names last. A new series takes its
//! version and status from the built-in table ([`known`]) or, for an unknown
//! name, becomes the distribution's development series if it has none, else `Future`.
//! Rows hold series by index, so adding a series remaps them.

use std::cmp::Reverse;

use super::Catalogue;
use super::known;

/// A series of one distribution.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    /// Index into [`Catalogue::distributions`].
    pub(crate) distro: u16,
    pub(crate) name: String,
    pub(crate) version: Option<String>,
    /// One of [`known::STATUSES`].
    pub(crate) status: &'static str,
    /// A version-less series that sorts before the versioned ones: a known or listed one.
    pub(crate) first: bool,
    /// Breaks ties: the position in `series.json` or the built-in table, newest first;
    /// `usize::MAX` for neither.
    pub(crate) tie: usize,
}

impl Series {
    /// Launchpad's `active`.
    pub(crate) fn active(&self) -> bool {
        known::is_active(self.status)
    }

    /// Launchpad's `supported`.
    pub(crate) fn supported(&self) -> bool {
        known::is_supported(self.status)
    }

    fn order_key(&self) -> (u16, u8, Reverse<Vec<u64>>, usize, &str) {
        let (group, version) = match &self.version {
            Some(v) => (1, version_key(v)),
            None if self.first => (0, Vec::new()),
            None => (2, Vec::new()),
        };
        (self.distro, group, Reverse(version), self.tie, &self.name)
    }
}

/// A series version as numbers (`7.0` → `[7, 0]`), for comparing `10` above `9`.
pub(crate) fn version_key(version: &str) -> Vec<u64> {
    version
        .split('.')
        .map(|part| part.parse().unwrap_or(0))
        .collect()
}

impl Catalogue {
    pub(crate) fn distro_index(&self, name: &str) -> Option<u16> {
        self.distributions
            .iter()
            .position(|d| d == name)
            .map(|i| i as u16)
    }

    /// Adds a distribution with no series yet, unless it exists; returns its index.
    pub(super) fn distro_index_or_add(&mut self, name: &str) -> u16 {
        if let Some(i) = self.distro_index(name) {
            return i;
        }
        self.distributions.push(name.to_owned());
        (self.distributions.len() - 1) as u16
    }

    pub(crate) fn series_index(&self, distro: u16, name: &str) -> Option<u16> {
        self.series
            .iter()
            .position(|s| s.distro == distro && s.name == name)
            .map(|i| i as u16)
    }

    /// The indices of a distribution's series, newest first.
    pub(crate) fn series_of(&self, distro: u16) -> impl Iterator<Item = usize> + '_ {
        (0..self.series.len()).filter(move |&i| self.series[i].distro == distro)
    }

    /// Launchpad's `currentseries`: the first series in pre-release freeze, else in
    /// development, else the current stable release, else the newest.
    pub(crate) fn current_series(&self, distro: u16) -> Option<usize> {
        let first_with = |status: &str| {
            self.series_of(distro)
                .find(|&i| self.series[i].status == status)
        };
        first_with("Pre-release Freeze")
            .or_else(|| first_with("Active Development"))
            .or_else(|| first_with("Current Stable Release"))
            .or_else(|| self.series_of(distro).next())
    }

    /// A series as the built-in table knows it; an unknown name becomes the development
    /// series of a distribution that has none, else a `Future` one.
    pub(super) fn new_series(&self, distro: u16, name: &str) -> Series {
        let distro_name = &self.distributions[usize::from(distro)];
        match known::lookup(distro_name, name) {
            Some((position, (_, version, status))) => Series {
                distro,
                name: name.to_owned(),
                version: version.map(str::to_owned),
                status,
                first: version.is_none(),
                tie: position,
            },
            None => {
                let developing = self
                    .series_of(distro)
                    .any(|i| self.series[i].status == "Active Development");
                Series {
                    distro,
                    name: name.to_owned(),
                    version: None,
                    status: if developing {
                        "Future"
                    } else {
                        "Active Development"
                    },
                    first: false,
                    tie: usize::MAX,
                }
            }
        }
    }

    /// The index of a series, added from the built-in table first if it does not exist.
    pub(super) fn series_index_or_add(&mut self, distro: u16, name: &str) -> u16 {
        match self.series_index(distro, name) {
            Some(i) => i,
            None => self.add_series(self.new_series(distro, name)),
        }
    }

    /// Adds a series in its place; returns its index.
    pub(super) fn add_series(&mut self, series: Series) -> u16 {
        let (distro, name) = (series.distro, series.name.clone());
        // Keep the order; rows store indices, so remap them.
        let old: Vec<(u16, String)> = self
            .series
            .iter()
            .map(|s| (s.distro, s.name.clone()))
            .collect();
        self.series.push(series);
        self.series
            .sort_by(|a, b| a.order_key().cmp(&b.order_key()));
        let remap: Vec<u16> = old
            .iter()
            .map(|(d, n)| self.series_index(*d, n).unwrap_or(0))
            .collect();
        for row in &mut self.rows {
            row.series = remap[row.series as usize];
        }
        self.series_index(distro, &name).unwrap_or(0)
    }
}
