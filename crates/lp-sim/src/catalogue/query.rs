//! The query engine of `getPublishedSources`: a validated filter, the two orders kept
//! sorted ([`Catalogue::reindex`]), and paging that reads one row past the page to know
//! whether another follows.

use chrono::{DateTime, Utc};

use super::{Catalogue, Pocket, Row, Status};

/// The order of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    NameThenVersion,
    NewestFirst,
    OldestFirst,
}

/// How the series filter resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeriesFilter {
    Any,
    One(u16),
}

/// A parsed, validated `getPublishedSources` filter.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    /// The distribution whose archive is asked: its publications only.
    pub(crate) distro: u16,
    pub(crate) source_name: Option<String>,
    pub(crate) exact_match: bool,
    pub(crate) version: Option<String>,
    pub(crate) series: SeriesFilter,
    pub(crate) pocket: Option<Pocket>,
    pub(crate) status: Option<Status>,
    pub(crate) created_since: Option<DateTime<Utc>>,
    pub(crate) component: Option<String>,
    pub(crate) order: Order,
}

impl Catalogue {
    /// Re-sorts both orders after the rows changed.
    pub(super) fn reindex(&mut self) {
        let rows = &self.rows;
        let mut by_date: Vec<u32> = (0..rows.len() as u32).collect();
        by_date.sort_by(|&a, &b| {
            let (a, b) = (&rows[a as usize], &rows[b as usize]);
            (b.date_created, b.id).cmp(&(a.date_created, a.id))
        });
        let packages = &self.packages;
        let mut by_name: Vec<u32> = (0..rows.len() as u32).collect();
        by_name.sort_by(|&a, &b| {
            let (a, b) = (&rows[a as usize], &rows[b as usize]);
            let (pa, pb) = (&packages[a.pkg as usize], &packages[b.pkg as usize]);
            pa.name
                .cmp(&pb.name)
                .then(
                    pa.versions[a.ver as usize]
                        .rank
                        .cmp(&pb.versions[b.ver as usize].rank),
                )
                .then(b.id.cmp(&a.id))
        });
        self.by_date = by_date;
        self.by_name = by_name;
    }

    fn matches(&self, f: &Filter, row: &Row) -> bool {
        // A series of another distribution matches nothing, as on Launchpad.
        if self.series[row.series as usize].distro != f.distro {
            return false;
        }
        if let SeriesFilter::One(s) = f.series
            && row.series != s
        {
            return false;
        }
        if f.pocket.is_some_and(|p| p != row.pocket) {
            return false;
        }
        if f.status.is_some_and(|s| s != row.status) {
            return false;
        }
        if f.created_since.is_some_and(|t| row.date_created < t) {
            return false;
        }
        if let Some(component) = &f.component
            && component != "main"
        {
            return false;
        }
        let package = &self.packages[row.pkg as usize];
        if let Some(name) = &f.source_name {
            let ok = if f.exact_match {
                package.name == *name
            } else {
                package.name.contains(name.as_str())
            };
            if !ok {
                return false;
            }
        }
        if let Some(version) = &f.version
            && package.versions[row.ver as usize].version != *version
        {
            return false;
        }
        true
    }

    fn ordered(&self, order: Order) -> Box<dyn Iterator<Item = &Row> + '_> {
        match order {
            Order::NewestFirst => Box::new(self.by_date.iter().map(|&i| &self.rows[i as usize])),
            Order::OldestFirst => {
                Box::new(self.by_date.iter().rev().map(|&i| &self.rows[i as usize]))
            }
            Order::NameThenVersion => {
                Box::new(self.by_name.iter().map(|&i| &self.rows[i as usize]))
            }
        }
    }

    /// Up to `size` matching rows from `offset`, and whether more follow.
    pub(crate) fn select(&self, f: &Filter, offset: usize, size: usize) -> (Vec<&Row>, bool) {
        let mut rows: Vec<&Row> = self
            .ordered(f.order)
            .filter(|r| self.matches(f, r))
            .skip(offset)
            .take(size + 1)
            .collect();
        let more = rows.len() > size;
        rows.truncate(size);
        (rows, more)
    }

    /// How many rows match (`total_size`).
    pub(crate) fn count(&self, f: &Filter) -> usize {
        self.rows.iter().filter(|r| self.matches(f, r)).count()
    }
}
