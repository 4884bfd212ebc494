//! Reads a fixture archive: `manifest.json`, `series.json`, the `.dsc` files, and changelog
//! dates.
//!
//! The layout is that of `fixtures/archive/`: `manifest.json` maps package -> version ->
//! `{format, suites, published}`, and each package has a folder with its `.dsc` and the
//! files it lists. A suite is `<distribution>/<suite>` (`ubuntu/noble-updates`) or a bare
//! suite of the default distribution (`sid`). A publication's `date_created` must be
//! deterministic and plausible, so unless `published` gives it (keyed by
//! `<distribution>/<suite>`), it comes from the version's own `debian/changelog` trailer,
//! read from the debian tarball, the native tarball or the `.diff.gz` (gzip or xz). When no
//! changelog can be read, [`fallback_date`] derives a fixed date from a hash of name and
//! version.
//!
//! The optional `series.json` lists each distribution's series, oldest first, with
//! Launchpad's status and the version: `{"ubuntu": [{"name": "jammy", "version": "22.04",
//! "status": "Supported"}, ...]}`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::time::parse_changelog_date;

/// One version's entry in `manifest.json`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ManifestVersion {
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "the format is read from the .dsc; kept for completeness"
    )]
    pub(crate) format: Option<String>,
    pub(crate) suites: Vec<String>,
    /// `<distribution>/<suite>` -> the `date_created` of that publication (ISO 8601).
    #[serde(default)]
    pub(crate) published: BTreeMap<String, String>,
}

/// `manifest.json`: package -> version -> entry.
pub(crate) type Manifest = BTreeMap<String, BTreeMap<String, ManifestVersion>>;

pub(crate) fn load_manifest(dir: &Path) -> Result<Manifest, String> {
    let path = dir.join("manifest.json");
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))
}

/// One series of `series.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListedSeries {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) version: Option<String>,
    pub(crate) status: String,
}

/// `series.json`: distribution -> its series, oldest first.
pub(crate) type SeriesFile = BTreeMap<String, Vec<ListedSeries>>;

/// Reads `series.json` beside the manifest, if there is one.
pub(crate) fn load_series_file(dir: &Path) -> Result<Option<SeriesFile>, String> {
    let path = dir.join("series.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("reading {}: {e}", path.display())),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("parsing {}: {e}", path.display()))
}

/// A file of a source package on disk.
#[derive(Debug, Clone)]
pub(crate) struct DiskFile {
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
    pub(crate) sha256: String,
}

/// What the simulator needs from one version's `.dsc`.
#[derive(Debug, Clone)]
pub(crate) struct DiskVersion {
    /// The `.dsc` first, then the files it lists, in its order.
    pub(crate) files: Vec<DiskFile>,
    /// From `Package-List` (`devel`, `utils`), if present.
    pub(crate) section: Option<String>,
    /// The `Maintainer` field.
    pub(crate) maintainer: Option<String>,
    /// The date of the top `debian/changelog` entry, if it could be read.
    pub(crate) changelog_date: Option<DateTime<Utc>>,
}

/// `hello_2.10-3.dsc` for `hello` `2.10-3`; the epoch is not part of file names.
pub(crate) fn dsc_name(package: &str, version: &str) -> String {
    let without_epoch = version.split_once(':').map_or(version, |(_, v)| v);
    format!("{package}_{without_epoch}.dsc")
}

/// Loads one version from `dir/<package>/`, checking that the `.dsc` and every file it
/// lists exist and that the `.dsc` is for this version.
pub(crate) fn load_version(
    dir: &Path,
    package: &str,
    version: &str,
) -> Result<DiskVersion, String> {
    let folder = dir.join(package);
    let dsc_path = folder.join(dsc_name(package, version));
    let dsc_bytes =
        std::fs::read(&dsc_path).map_err(|e| format!("reading {}: {e}", dsc_path.display()))?;
    let dsc = String::from_utf8_lossy(&dsc_bytes);
    let fields = parse_deb822(&dsc);
    let field = |name: &str| fields.get(name).map(|s| s.trim().to_owned());
    if field("Source").as_deref() != Some(package) {
        return Err(format!("{}: Source is not {package}", dsc_path.display()));
    }
    if field("Version").as_deref() != Some(version) {
        return Err(format!("{}: Version is not {version}", dsc_path.display()));
    }
    let mut files = vec![DiskFile {
        name: dsc_name(package, version),
        path: dsc_path.clone(),
        size: dsc_bytes.len() as u64,
        sha256: hex(&Sha256::digest(&dsc_bytes)),
    }];
    let listed = fields
        .get("Checksums-Sha256")
        .or_else(|| fields.get("Files"))
        .ok_or_else(|| format!("{}: no Checksums-Sha256 or Files", dsc_path.display()))?;
    let have_sha256 = fields.contains_key("Checksums-Sha256");
    for line in listed.lines().filter(|l| !l.trim().is_empty()) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [sum, size, name] = parts[..] else {
            return Err(format!("{}: bad file line {line:?}", dsc_path.display()));
        };
        if name.contains('/') {
            return Err(format!("{}: file name with a slash", dsc_path.display()));
        }
        let path = folder.join(name);
        let meta = std::fs::metadata(&path)
            .map_err(|e| format!("{}: listed file {name}: {e}", dsc_path.display()))?;
        let sha256 = if have_sha256 {
            sum.to_ascii_lowercase()
        } else {
            hex(&Sha256::digest(
                std::fs::read(&path).map_err(|e| e.to_string())?,
            ))
        };
        let size_listed: u64 = size.parse().map_err(|_| format!("bad size in {line:?}"))?;
        if size_listed != meta.len() {
            log::warn!(
                "file size differs from its .dsc file={} listed={size_listed} actual={}",
                path.display(),
                meta.len()
            );
        }
        files.push(DiskFile {
            name: name.to_owned(),
            path,
            size: meta.len(),
            sha256,
        });
    }
    let section = fields.get("Package-List").and_then(|list| {
        list.lines()
            .find_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
    });
    let changelog_date = changelog_date_of(&files);
    Ok(DiskVersion {
        files,
        section,
        maintainer: field("Maintainer"),
        changelog_date,
    })
}

/// A minimal deb822 reader for one paragraph (the `.dsc`), skipping an OpenPGP armour.
/// Multi-line values keep their continuation lines, without the leading space.
pub(crate) fn parse_deb822(text: &str) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_body = !text.starts_with("-----BEGIN PGP SIGNED MESSAGE-----");
    for line in text.lines() {
        if !in_body {
            // The armour header block ends at the first blank line.
            if line.trim().is_empty() {
                in_body = true;
            }
            continue;
        }
        if line.starts_with("-----BEGIN PGP SIGNATURE-----") {
            break;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(name) = &current {
                let value: &mut String = fields.entry(name.clone()).or_default();
                value.push_str(line.trim());
                value.push('\n');
            }
            continue;
        }
        if line.trim().is_empty() {
            if !fields.is_empty() {
                break;
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            let mut v = value.to_owned();
            if !v.is_empty() {
                v.push('\n');
            }
            fields.insert(name.to_owned(), v);
            current = Some(name.to_owned());
        }
    }
    fields
}

/// The top changelog entry's date, from whichever file carries `debian/changelog`.
pub(crate) fn changelog_date_of(files: &[DiskFile]) -> Option<DateTime<Utc>> {
    let is_tar = |n: &str| n.contains(".tar.");
    let candidate = files
        .iter()
        .find(|f| f.name.ends_with(".diff.gz") || f.name.contains(".debian.tar."))
        .or_else(|| {
            files
                .iter()
                .find(|f| is_tar(&f.name) && !f.name.contains(".orig") && !f.name.ends_with(".asc"))
        })?;
    let file = std::fs::File::open(&candidate.path).ok()?;
    let reader: Box<dyn Read> = if candidate.name.ends_with(".gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else if candidate.name.ends_with(".xz") {
        Box::new(liblzma::read::XzDecoder::new(file))
    } else {
        log::debug!("no decompressor for {}", candidate.name);
        return None;
    };
    let date = if candidate.name.ends_with(".diff.gz") {
        changelog_date_from_diff(reader)
    } else {
        changelog_date_from_tar(reader)
    };
    if date.is_none() {
        log::warn!("no changelog date in {}", candidate.path.display());
    }
    date
}

fn changelog_date_from_tar(reader: impl Read) -> Option<DateTime<Utc>> {
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().ok()? {
        let mut entry = entry.ok()?;
        let path = entry.path().ok()?.into_owned();
        let parts: Vec<_> = path.components().collect();
        let is_changelog = path.ends_with("debian/changelog") && parts.len() <= 3;
        if !is_changelog {
            continue;
        }
        let mut text = String::new();
        entry
            .by_ref()
            .take(8 * 1024 * 1024)
            .read_to_string(&mut text)
            .ok()?;
        return first_trailer_date(&text);
    }
    None
}

fn changelog_date_from_diff(mut reader: impl Read) -> Option<DateTime<Utc>> {
    let mut bytes = Vec::new();
    reader
        .by_ref()
        .take(64 * 1024 * 1024)
        .read_to_end(&mut bytes)
        .ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let mut in_changelog = false;
    for line in text.lines() {
        if let Some(header) = line.strip_prefix("+++ ") {
            let target = header.split('\t').next().unwrap_or("");
            in_changelog = target.ends_with("/debian/changelog");
            continue;
        }
        if in_changelog
            && let Some(added) = line.strip_prefix('+')
            && added.starts_with(" -- ")
        {
            return trailer_date(added);
        }
    }
    None
}

/// The date of the first ` -- Name <email>  Date` line.
pub(crate) fn first_trailer_date(changelog: &str) -> Option<DateTime<Utc>> {
    changelog
        .lines()
        .find(|l| l.starts_with(" -- "))
        .and_then(trailer_date)
}

fn trailer_date(line: &str) -> Option<DateTime<Utc>> {
    let after = line.rsplit_once('>').map_or(line, |(_, rest)| rest);
    parse_changelog_date(after)
}

/// The documented fallback when no changelog date is readable: 2015-01-01T00:00:00Z plus
/// a number of seconds (under ten years) taken from an FNV-1a hash of `package version`.
/// Deterministic on every machine, plausible, and distinct per version.
pub(crate) fn fallback_date(package: &str, version: &str) -> DateTime<Utc> {
    let hash = fnv1a(format!("{package} {version}").as_bytes());
    let base = Utc.with_ymd_and_hms(2015, 1, 1, 0, 0, 0).single();
    let base = base.unwrap_or(DateTime::UNIX_EPOCH);
    base + chrono::Duration::seconds((hash % (10 * 365 * 86_400)) as i64)
}

/// 64-bit FNV-1a: a tiny stable hash for deterministic pseudo-random values.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsc_names_drop_the_epoch() {
        assert_eq!(dsc_name("libcap2", "1:2.78-1"), "libcap2_2.78-1.dsc");
        assert_eq!(dsc_name("hello", "2.10-3"), "hello_2.10-3.dsc");
    }

    #[test]
    fn deb822_skips_armour() {
        let text = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nFormat: 1.0\nSource: a\nFiles:\n 0123 5 a_1.tar.gz\n\n-----BEGIN PGP SIGNATURE-----\nxx\n";
        let f = parse_deb822(text);
        assert_eq!(f["Source"].trim(), "a");
        assert_eq!(f["Files"], "0123 5 a_1.tar.gz\n");
        assert!(!f.contains_key("Hash"));
    }

    #[test]
    fn trailers() {
        let cl = "hello (2.10-3) unstable; urgency=medium\n\n  * x\n\n -- Santiago Vila <sanvila@debian.org>  Mon, 26 Dec 2022 18:36:00 +0100\n\nhello (2.10-2) ...\n -- A <b>  Tue, 27 Dec 2011 00:00:00 +0000\n";
        assert_eq!(
            first_trailer_date(cl),
            Some(Utc.with_ymd_and_hms(2022, 12, 26, 17, 36, 0).unwrap())
        );
    }

    #[test]
    fn fallback_is_stable_and_plausible() {
        let a = fallback_date("hello", "1.0-1");
        assert_eq!(a, fallback_date("hello", "1.0-1"));
        assert_ne!(a, fallback_date("hello", "1.0-2"));
        assert!(a.format("%Y").to_string().as_str() >= "2015");
        assert!(a.format("%Y").to_string().as_str() < "2025");
    }
}
