//! The series of each distribution as Launchpad last listed them, with their status.
//!
//! `poll-uploads` lists every distribution's series on each poll and records them here;
//! `import-one` reads them to know which series is in development (for the `devel`
//! branches) without asking Launchpad again. A distribution's rows are replaced whole, so
//! they always describe one listing.

use serde::Serialize;

use crate::Result;
use crate::model::Timestamp;
use crate::sql::{TxKind, params};
use crate::store::Store;

/// The statuses that make a series a development series. A distribution's development
/// series is the newest series that has one of them.
pub const DEVELOPMENT: [&str; 2] = ["Active Development", "Pre-release Freeze"];

/// One series of a distribution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SeriesRow {
    /// `noble`, `sid`.
    pub name: String,
    /// Launchpad's status title: `Active Development`, `Pre-release Freeze`,
    /// `Current Stable Release`, `Supported`, `Obsolete`, `Future`, `Experimental`.
    pub status: String,
}

impl Store {
    /// Replaces the series of `distro` with `series`, oldest first.
    pub fn set_series(&mut self, distro: &str, series: &[SeriesRow]) -> Result<()> {
        let now = Timestamp::now();
        self.transact(TxKind::Write, "recording the series", |tx| {
            tx.execute("DELETE FROM series WHERE distro = $1", params![distro])?;
            for (position, s) in series.iter().enumerate() {
                tx.execute(
                    "INSERT INTO series (distro, name, status, position, updated_at)
                     VALUES ($1, $2, $3, $4, $5)",
                    params![distro, &s.name, &s.status, position as i64, now.0],
                )?;
            }
            Ok(())
        })
    }

    /// The series of `distro`, oldest first; empty when none were recorded.
    pub fn series(&mut self, distro: &str) -> Result<Vec<SeriesRow>> {
        self.transact(TxKind::Read, "reading the series", |tx| {
            tx.query(
                "SELECT name, status FROM series WHERE distro = $1 ORDER BY position",
                params![distro],
            )?
            .iter()
            .map(|r| {
                Ok(SeriesRow {
                    name: r.get(0)?,
                    status: r.get(1)?,
                })
            })
            .collect()
        })
    }
}
