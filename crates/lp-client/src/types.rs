//! The Launchpad objects the importer reads, typed.
//!
//! Only the fields we use are declared; serde ignores the rest, so new fields in the `devel`
//! API do not break us. Vocabulary values (`pocket`, `status`) are enums whose wire strings
//! are Launchpad's titles. Datetimes keep Launchpad's exact string next to the parsed value:
//! the string is what we echo back (watermarks, logs), the parsed value is what we compare.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A publishing pocket (`suite_names` in a series entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Pocket {
    /// The series itself (`sid`, `noble`).
    Release,
    /// `-security`.
    Security,
    /// `-updates`.
    Updates,
    /// `-proposed`.
    Proposed,
    /// `-backports`.
    Backports,
}

impl Pocket {
    /// Every pocket, in Launchpad's order.
    pub const ALL: [Pocket; 5] = [
        Pocket::Release,
        Pocket::Security,
        Pocket::Updates,
        Pocket::Proposed,
        Pocket::Backports,
    ];

    /// Launchpad's title, the wire value (`Release`).
    pub fn as_str(self) -> &'static str {
        match self {
            Pocket::Release => "Release",
            Pocket::Security => "Security",
            Pocket::Updates => "Updates",
            Pocket::Proposed => "Proposed",
            Pocket::Backports => "Backports",
        }
    }

    /// The suite suffix: `""` for Release, `"security"` for Security, and so on.
    pub fn suite_suffix(self) -> &'static str {
        match self {
            Pocket::Release => "",
            Pocket::Security => "security",
            Pocket::Updates => "updates",
            Pocket::Proposed => "proposed",
            Pocket::Backports => "backports",
        }
    }
}

impl fmt::Display for Pocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Pocket {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pocket::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown pocket {s:?}"))
    }
}

/// The status of a source publication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PublicationStatus {
    /// Created, not yet written to disk by the publisher.
    Pending,
    /// Live in the archive.
    Published,
    /// Replaced by a newer version in the same series and pocket.
    Superseded,
    /// Removed by hand or by britney.
    Deleted,
    /// In an obsolete series.
    Obsolete,
}

impl PublicationStatus {
    /// Every status, in Launchpad's order.
    pub const ALL: [PublicationStatus; 5] = [
        PublicationStatus::Pending,
        PublicationStatus::Published,
        PublicationStatus::Superseded,
        PublicationStatus::Deleted,
        PublicationStatus::Obsolete,
    ];

    /// Launchpad's title, the wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            PublicationStatus::Pending => "Pending",
            PublicationStatus::Published => "Published",
            PublicationStatus::Superseded => "Superseded",
            PublicationStatus::Deleted => "Deleted",
            PublicationStatus::Obsolete => "Obsolete",
        }
    }
}

impl fmt::Display for PublicationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PublicationStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PublicationStatus::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown publication status {s:?}"))
    }
}

/// A Launchpad datetime: the exact wire string plus its parsed UTC value.
///
/// Launchpad sends Python `isoformat()` (`2025-10-21T09:14:22.418205+00:00`, with the
/// fraction omitted when it is zero). Equality and ordering use the parsed value only.
#[derive(Clone)]
pub struct LpDateTime {
    raw: String,
    utc: DateTime<Utc>,
}

impl LpDateTime {
    /// Parses a Launchpad datetime.
    pub fn parse(raw: &str) -> Result<LpDateTime, String> {
        let parsed = DateTime::parse_from_rfc3339(raw)
            .map_err(|e| format!("bad launchpad datetime {raw:?}: {e}"))?;
        Ok(LpDateTime {
            raw: raw.to_owned(),
            utc: parsed.with_timezone(&Utc),
        })
    }

    /// Wraps a UTC time, formatting it exactly as Launchpad would.
    pub fn from_utc(utc: DateTime<Utc>) -> LpDateTime {
        LpDateTime {
            raw: format_lp_datetime(utc),
            utc,
        }
    }

    /// Launchpad's string, unchanged.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The parsed value.
    pub fn utc(&self) -> DateTime<Utc> {
        self.utc
    }
}

/// Formats a UTC time like Python's `isoformat()`: microseconds only when non-zero.
pub fn format_lp_datetime(utc: DateTime<Utc>) -> String {
    let micros = utc.timestamp_subsec_micros();
    if micros == 0 {
        utc.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    } else {
        format!("{}.{micros:06}+00:00", utc.format("%Y-%m-%dT%H:%M:%S"))
    }
}

impl fmt::Debug for LpDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.raw, f)
    }
}

impl fmt::Display for LpDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl PartialEq for LpDateTime {
    fn eq(&self, other: &Self) -> bool {
        self.utc == other.utc
    }
}
impl Eq for LpDateTime {}
impl PartialOrd for LpDateTime {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for LpDateTime {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.utc.cmp(&other.utc)
    }
}

impl Serialize for LpDateTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for LpDateTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        LpDateTime::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// One `source_package_publishing_history` entry: one version in one series and pocket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    /// `…/+archive/primary/+sourcepub/<id>`: the unique key of this event.
    pub self_link: String,
    /// `hello`.
    pub source_package_name: String,
    /// Full Debian version including any epoch (`1:2.78-1`).
    pub source_package_version: String,
    /// The series' API URL (`…/debian/sid`).
    pub distro_series_link: String,
    /// The pocket.
    pub pocket: Pocket,
    /// The status now (it changes over time; `date_created` does not).
    pub status: PublicationStatus,
    /// When the publication record was created, Launchpad's own clock.
    pub date_created: LpDateTime,
    /// When the publisher first wrote it to disk; `None` while pending.
    #[serde(default)]
    pub date_published: Option<LpDateTime>,
    /// When it was superseded or deleted.
    #[serde(default)]
    pub date_superseded: Option<LpDateTime>,
    /// `main`, `contrib`, `universe`, … (`None` only for odd CI builds).
    #[serde(default)]
    pub component_name: Option<String>,
    /// `devel`, `utils`, ….
    #[serde(default)]
    pub section_name: Option<String>,
    /// The archive (`…/debian/+archive/primary`).
    #[serde(default)]
    pub archive_link: Option<String>,
    /// `hello 2.10-5 in sid`.
    #[serde(default)]
    pub display_name: Option<String>,
}

impl Publication {
    /// The numeric SPPH id at the end of `self_link`, if it has one.
    pub fn sourcepub_id(&self) -> Option<u64> {
        self.self_link
            .rsplit_once("/+sourcepub/")
            .and_then(|(_, id)| id.trim_end_matches('/').parse().ok())
    }

    /// The series name: the last path segment of `distro_series_link`.
    pub fn series_name(&self) -> &str {
        self.distro_series_link
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("")
    }
}

/// One entry of `/<distro>/series`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistroSeries {
    /// The series' API URL: pass it as `distro_series` to `getPublishedSources`.
    pub self_link: String,
    /// `sid`, `noble`.
    pub name: String,
    /// `"24.04"`, `"12"`; may be missing or null for Debian's rolling series.
    #[serde(default)]
    pub version: Option<String>,
    /// `Current Stable Release`, `Obsolete`, …; admins set these, do not rely on them.
    #[serde(default)]
    pub status: Option<String>,
    /// Whether Launchpad counts the series as active.
    #[serde(default)]
    pub active: bool,
    /// `Sid`, `Noble`.
    #[serde(default)]
    pub displayname: Option<String>,
}

/// One file of a source publication, from `sourceFileUrls?include_meta=true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFile {
    /// Where to GET it (it redirects to the librarian).
    pub url: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

impl SourceFile {
    /// The file name: the last path segment of the URL, percent-decoded.
    pub fn filename(&self) -> String {
        let last = self.url.rsplit('/').next().unwrap_or("");
        crate::encode::percent_decode(last)
    }
}

/// A downloaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    /// Bytes written.
    pub bytes: u64,
    /// Lower-case hex SHA-256 of what was written.
    pub sha256: String,
}

/// One page of a Launchpad collection, as on the wire.
#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "kept for debugging output; paging follows links only"
    )]
    pub(crate) start: Option<u64>,
    #[serde(default)]
    pub(crate) next_collection_link: Option<String>,
    pub(crate) entries: Vec<T>,
}

/// An element of `sourceFileUrls?include_meta=true`; Launchpad uses `null` for files the
/// librarian has expired.
#[derive(Debug, Deserialize)]
pub(crate) struct RawSourceFile {
    pub(crate) url: Option<String>,
    pub(crate) size: Option<u64>,
    pub(crate) sha256: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_round_trip_and_compare() {
        let a = LpDateTime::parse("2025-10-21T09:14:22.418205+00:00").unwrap();
        let b = LpDateTime::parse("2025-10-21T09:14:22+00:00").unwrap();
        assert!(b < a);
        assert_eq!(a.as_str(), "2025-10-21T09:14:22.418205+00:00");
        assert_eq!(LpDateTime::from_utc(a.utc()).as_str(), a.as_str());
        assert_eq!(LpDateTime::from_utc(b.utc()).as_str(), b.as_str());
        assert!(LpDateTime::parse("yesterday").is_err());
        // Non-UTC offsets parse and normalise.
        let c = LpDateTime::parse("2025-10-21T11:14:22+02:00").unwrap();
        assert_eq!(c, b);
    }

    #[test]
    fn vocabularies() {
        for p in Pocket::ALL {
            assert_eq!(p.as_str().parse::<Pocket>().unwrap(), p);
        }
        for s in PublicationStatus::ALL {
            assert_eq!(s.as_str().parse::<PublicationStatus>().unwrap(), s);
        }
        assert!("release".parse::<Pocket>().is_err());
    }

    #[test]
    fn a_recorded_page_parses() {
        let raw = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/lp-pages/getPublishedSources-page1.json"),
        )
        .unwrap();
        let page: Page<Publication> = serde_json::from_str(&raw).unwrap();
        assert_eq!(page.entries.len(), 2);
        let p = &page.entries[1];
        assert_eq!(p.sourcepub_id(), Some(18530987));
        assert_eq!(p.series_name(), "resolute");
        assert_eq!(p.pocket, Pocket::Proposed);
        assert_eq!(p.status, PublicationStatus::Deleted);
        assert_eq!(p.date_created.as_str(), "2025-10-20T15:02:09.771340+00:00");
        assert!(
            page.next_collection_link
                .unwrap()
                .ends_with("memo=2&ws.start=2")
        );
    }
}
