//! The series table: each series' version and status, and Launchpad's order, newest first.
//! Rows hold series by index, so adding a series remaps them.

use super::Catalogue;

/// A series of the distribution.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) version: Option<String>,
    pub(crate) status: &'static str,
}

/// Known codenames, newest first, with version and a plausible status.
const KNOWN_SERIES: &[(&str, Option<&str>, &str)] = &[
    ("experimental", None, "Experimental"),
    ("sid", None, "Active Development"),
    ("forky", Some("14"), "Future"),
    ("trixie", Some("13"), "Current Stable Release"),
    ("bookworm", Some("12"), "Supported"),
    ("bullseye", Some("11"), "Supported"),
    ("buster", Some("10"), "Obsolete"),
    ("stretch", Some("9"), "Obsolete"),
    ("jessie", Some("8"), "Obsolete"),
    ("wheezy", Some("7.0"), "Obsolete"),
    ("squeeze", Some("6.0"), "Obsolete"),
    ("lenny", Some("5.0"), "Obsolete"),
    ("resolute", Some("26.04"), "Active Development"),
    ("questing", Some("25.10"), "Current Stable Release"),
    ("plucky", Some("25.04"), "Obsolete"),
    ("oracular", Some("24.10"), "Obsolete"),
    ("noble", Some("24.04"), "Supported"),
    ("jammy", Some("22.04"), "Supported"),
    ("focal", Some("20.04"), "Supported"),
];

pub(super) fn series_for(name: &str) -> Series {
    let known = KNOWN_SERIES.iter().find(|(n, _, _)| *n == name);
    Series {
        name: name.to_owned(),
        version: known.and_then(|(_, v, _)| v.map(str::to_owned)),
        status: known.map_or("Supported", |(_, _, s)| s),
    }
}

/// Launchpad lists series by version, newest first; unknown names go last, by name.
fn series_rank(name: &str) -> (usize, String) {
    let pos = KNOWN_SERIES
        .iter()
        .position(|(n, _, _)| *n == name)
        .unwrap_or(usize::MAX);
    (pos, name.to_owned())
}

impl Catalogue {
    pub(crate) fn series_index(&self, name: &str) -> Option<u16> {
        self.series
            .iter()
            .position(|s| s.name == name)
            .map(|i| i as u16)
    }

    pub(super) fn series_index_or_add(&mut self, name: &str) -> u16 {
        if let Some(i) = self.series_index(name) {
            return i;
        }
        // Keep Launchpad's order (newest first); rows store indices, so remap them.
        let old_names: Vec<String> = self.series.iter().map(|s| s.name.clone()).collect();
        self.series.push(series_for(name));
        self.series.sort_by_key(|s| series_rank(&s.name));
        let remap: Vec<u16> = old_names
            .iter()
            .map(|n| self.series_index(n).unwrap_or(0))
            .collect();
        for row in &mut self.rows {
            row.series = remap[row.series as usize];
        }
        self.series_index(name).unwrap_or(0)
    }
}
