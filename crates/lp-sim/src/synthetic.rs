//! A generated history for scale tests: N packages over K series, V versions each, in each
//! of D distributions.
//!
//! Package `j` is `synth-<j>` (zero-padded), lives in series `j % K` of every distribution,
//! and has versions `1.0`, `1.1`, …, `1.<V-1>`. Publication `(j, v)` of distribution `d`
//! is created at `2024-01-01T00:00:00Z + ((v*N + j)*D + d) minutes` (plus deterministic
//! microseconds), so ids and dates increase together and a whole history is pure arithmetic
//! on `(j, v, d)`. Series names are realistic (`series_names`): Debian's codenames newest
//! first, starting with `sid`; Ubuntu's supported releases, starting with the development
//! series.
//!
//! Every version is a real, tiny, valid `3.0 (native)` source package: a `.dsc` with correct
//! `Checksums-Sha1`, `Checksums-Sha256` and `Files`, and a `.tar.gz` holding
//! `<pkg>-<ver>/debian/{changelog,control,rules,source/format}` and a README. The bytes
//! are generated on request from `(j, v)` alone (fixed mtimes, owners and gzip header), so
//! they are identical on every request and every machine, and nothing is kept in memory.

use std::io::Write;

use chrono::{DateTime, Duration, TimeZone, Utc};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::archive::{fnv1a, hex};
use crate::time::changelog_date;

/// The shape of a synthetic history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticSpec {
    /// N: number of packages.
    pub packages: u32,
    /// K: number of series of each distribution.
    pub series: u16,
    /// V: versions per package (each one publication per distribution).
    pub versions: u32,
    /// The distributions, each publishing every package in its own K series; empty means
    /// only the simulator's default distribution ([`SimConfig::distribution`]).
    ///
    /// [`SimConfig::distribution`]: crate::SimConfig::distribution
    pub distributions: Vec<String>,
}

pub(crate) const MAINTAINER: &str = "Synthetic Maintainer <synthetic@example.invalid>";

impl SyntheticSpec {
    fn name_width(&self) -> usize {
        self.packages.saturating_sub(1).to_string().len().max(6)
    }

    pub(crate) fn package_name(&self, j: u32) -> String {
        format!("synth-{j:0width$}", width = self.name_width())
    }

    /// The package index of a synthetic name, if it is one of ours.
    pub(crate) fn package_index(&self, name: &str) -> Option<u32> {
        let digits = name.strip_prefix("synth-")?;
        if digits.len() != self.name_width() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().filter(|j| *j < self.packages)
    }

    /// The position of package `j`'s series among its distribution's, newest first.
    pub(crate) fn series_of(&self, j: u32) -> u16 {
        (j % u32::from(self.series.max(1))) as u16
    }

    /// D: the number of distributions (at least one).
    pub(crate) fn distribution_count(&self) -> u32 {
        self.distributions.len().max(1) as u32
    }

    /// `date_created` of version `v` of package `j` in the `d`-th distribution.
    pub(crate) fn date_created(&self, j: u32, v: u32, d: u32) -> DateTime<Utc> {
        let ordinal = (i64::from(v) * i64::from(self.packages) + i64::from(j))
            * i64::from(self.distribution_count())
            + i64::from(d);
        let seed = match d {
            0 => format!("{j}/{v}"),
            d => format!("{j}/{v}/{d}"),
        };
        let micros = (fnv1a(seed.as_bytes()) % 1_000_000) as i64;
        base_date() + Duration::minutes(ordinal) + Duration::microseconds(micros)
    }

    /// The changelog date of version `v` of package `j`: an hour before its first
    /// publication, whole seconds.
    fn changelog_time(&self, j: u32, v: u32) -> DateTime<Utc> {
        let t = self.date_created(j, v, 0) - Duration::hours(1);
        Utc.timestamp_opt(t.timestamp(), 0).single().unwrap_or(t)
    }
}

fn base_date() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// `1.<v>`.
pub(crate) fn version_string(v: u32) -> String {
    format!("1.{v}")
}

/// The `v` of `1.<v>`.
pub(crate) fn version_index(version: &str) -> Option<u32> {
    let v = version.strip_prefix("1.")?;
    if v.is_empty() || (v.len() > 1 && v.starts_with('0')) {
        return None;
    }
    v.parse().ok()
}

/// The series names of a synthetic `distro`, newest first: for Ubuntu the series Launchpad
/// supports (development, stable, then the LTS releases), for any other distribution
/// Debian's codenames from `sid`; `series<k>` beyond the list.
pub(crate) fn series_names(distro: &str, count: u16) -> Vec<String> {
    const DEBIAN: [&str; 10] = [
        "sid", "trixie", "bookworm", "bullseye", "buster", "stretch", "jessie", "wheezy",
        "squeeze", "lenny",
    ];
    const UBUNTU: [&str; 8] = [
        "resolute", "questing", "noble", "jammy", "focal", "bionic", "xenial", "trusty",
    ];
    let names: &[&str] = if distro == "ubuntu" { &UBUNTU } else { &DEBIAN };
    (0..usize::from(count))
        .map(|k| {
            names
                .get(k)
                .map_or_else(|| format!("series{k}"), |n| (*n).to_owned())
        })
        .collect()
}

/// The series package `j` lives in in the first distribution, named in its changelog;
/// stable even when `/_sim/publish` adds series.
pub(crate) fn home_series_name(spec: &SyntheticSpec, j: u32) -> String {
    let k = spec.series_of(j);
    let distro = spec.distributions.first().map_or("debian", String::as_str);
    series_names(distro, spec.series)
        .into_iter()
        .nth(usize::from(k))
        .unwrap_or_else(|| format!("series{k}"))
}

/// The two files of one synthetic version.
pub(crate) struct SyntheticFiles {
    pub(crate) dsc_name: String,
    pub(crate) dsc: Vec<u8>,
    pub(crate) tar_name: String,
    pub(crate) tar: Vec<u8>,
}

/// Generates version `v` of package `j`, whose changelog names `series`.
pub(crate) fn generate(spec: &SyntheticSpec, j: u32, v: u32, series: &str) -> SyntheticFiles {
    let name = spec.package_name(j);
    let version = version_string(v);
    let tar_name = format!("{name}_{version}.tar.gz");
    let tar = tarball(spec, &name, j, v, series);
    let dsc = format!(
        "Format: 3.0 (native)\nSource: {name}\nBinary: {name}\nArchitecture: all\n\
         Version: {version}\nMaintainer: {MAINTAINER}\nStandards-Version: 4.6.2\n\
         Build-Depends: debhelper-compat (= 13)\nPackage-List:\n {name} deb misc optional arch=all\n\
         Checksums-Sha1:\n {sha1} {size} {tar_name}\n\
         Checksums-Sha256:\n {sha256} {size} {tar_name}\n\
         Files:\n {md5} {size} {tar_name}\n",
        sha1 = hex(&Sha1::digest(&tar)),
        sha256 = hex(&Sha256::digest(&tar)),
        md5 = hex(&Md5::digest(&tar)),
        size = tar.len(),
    );
    SyntheticFiles {
        dsc_name: format!("{name}_{version}.dsc"),
        dsc: dsc.into_bytes(),
        tar_name,
        tar,
    }
}

fn changelog(spec: &SyntheticSpec, name: &str, j: u32, v: u32, series: &str) -> String {
    let mut text = String::new();
    for older in (0..=v).rev() {
        let version = version_string(older);
        let what = if older == 0 {
            "Initial synthetic release.".to_owned()
        } else {
            format!("Synthetic upload number {}.", older + 1)
        };
        text.push_str(&format!(
            "{name} ({version}) {series}; urgency=medium\n\n  * {what}\n\n -- {MAINTAINER}  {}\n",
            changelog_date(spec.changelog_time(j, older))
        ));
        if older > 0 {
            text.push('\n');
        }
    }
    text
}

fn tarball(spec: &SyntheticSpec, name: &str, j: u32, v: u32, series: &str) -> Vec<u8> {
    let version = version_string(v);
    let top = format!("{name}-{version}");
    let mtime = u64::try_from(spec.changelog_time(j, v).timestamp()).unwrap_or(0);
    let control = format!(
        "Source: {name}\nSection: misc\nPriority: optional\nMaintainer: {MAINTAINER}\n\
         Build-Depends: debhelper-compat (= 13)\nStandards-Version: 4.6.2\n\n\
         Package: {name}\nArchitecture: all\nDescription: synthetic package {name}\n \
         Generated by lp-sim for scale tests of package-importer.\n"
    );
    let entries: Vec<(String, Option<Vec<u8>>, u32)> = vec![
        (format!("{top}/"), None, 0o755),
        (
            format!("{top}/README"),
            Some(format!("{name} {version}: a synthetic package.\n").into_bytes()),
            0o644,
        ),
        (format!("{top}/debian/"), None, 0o755),
        (
            format!("{top}/debian/changelog"),
            Some(changelog(spec, name, j, v, series).into_bytes()),
            0o644,
        ),
        (
            format!("{top}/debian/control"),
            Some(control.into_bytes()),
            0o644,
        ),
        (
            format!("{top}/debian/rules"),
            Some(b"#!/usr/bin/make -f\n%:\n\tdh $@\n".to_vec()),
            0o755,
        ),
        (format!("{top}/debian/source/"), None, 0o755),
        (
            format!("{top}/debian/source/format"),
            Some(b"3.0 (native)\n".to_vec()),
            0o644,
        ),
    ];
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::new(6));
    let mut builder = tar::Builder::new(gz);
    builder.mode(tar::HeaderMode::Deterministic);
    for (path, data, mode) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mode(mode);
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        let _ = header.set_username("root");
        let _ = header.set_groupname("root");
        let body = data.unwrap_or_default();
        header.set_entry_type(if path.ends_with('/') {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        });
        header.set_size(body.len() as u64);
        // Writing into a Vec cannot fail.
        let _ = builder.append_data(&mut header, &path, body.as_slice());
    }
    let gz = builder.into_inner().unwrap_or_else(|_| {
        flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::new(6))
    });
    let mut gz = gz;
    let _ = gz.flush();
    gz.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn spec() -> SyntheticSpec {
        SyntheticSpec {
            packages: 100_000,
            series: 10,
            versions: 3,
            distributions: Vec::new(),
        }
    }

    #[test]
    fn names_and_versions_round_trip() {
        let spec = spec();
        assert_eq!(spec.package_name(42), "synth-000042");
        assert_eq!(spec.package_index("synth-000042"), Some(42));
        assert_eq!(spec.package_index("synth-42"), None);
        assert_eq!(spec.package_index("synth-100000"), None);
        assert_eq!(version_index(&version_string(7)), Some(7));
        assert_eq!(version_index("1.07"), None);
        assert_eq!(version_index("2.0"), None);
        assert_eq!(series_names("debian", 12)[11], "series11");
        assert_eq!(series_names("debian", 2), ["sid", "trixie"]);
        assert_eq!(series_names("ubuntu", 3), ["resolute", "questing", "noble"]);
    }

    #[test]
    fn dates_follow_ids() {
        let spec = spec();
        assert!(spec.date_created(99_999, 0, 0) < spec.date_created(0, 1, 0));
        assert!(spec.date_created(1, 0, 0) < spec.date_created(2, 0, 0));
        // With two distributions, each publication of (j, v) follows the other's.
        let two = SyntheticSpec {
            distributions: vec!["debian".into(), "ubuntu".into()],
            ..spec
        };
        assert!(two.date_created(1, 0, 0) < two.date_created(1, 0, 1));
        assert!(two.date_created(1, 0, 1) < two.date_created(2, 0, 0));
        assert!(two.date_created(99_999, 0, 1) < two.date_created(0, 1, 0));
    }

    #[test]
    fn generated_package_is_deterministic_and_consistent() {
        let spec = spec();
        let a = generate(&spec, 5, 2, "bookworm");
        let b = generate(&spec, 5, 2, "bookworm");
        assert_eq!(a.tar, b.tar);
        assert_eq!(a.dsc, b.dsc);
        let dsc = String::from_utf8(a.dsc.clone()).unwrap();
        let sha = hex(&Sha256::digest(&a.tar));
        assert!(dsc.contains(&format!(" {sha} {} synth-000005_1.2.tar.gz\n", a.tar.len())));
        assert!(dsc.contains("Format: 3.0 (native)\n"));

        let mut names = Vec::new();
        let mut changelog = String::new();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(a.tar.as_slice()));
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            if path.ends_with("debian/changelog") {
                entry.read_to_string(&mut changelog).unwrap();
            }
            names.push(path);
        }
        assert!(names.contains(&"synth-000005-1.2/debian/source/format".to_owned()));
        assert!(names.contains(&"synth-000005-1.2/debian/control".to_owned()));
        assert!(changelog.starts_with("synth-000005 (1.2) bookworm; urgency=medium"));
        assert_eq!(changelog.matches("\n -- ").count(), 3);
        let top = crate::archive::first_trailer_date(&changelog).unwrap();
        assert_eq!(top.timestamp(), spec.changelog_time(5, 2).timestamp());
    }
}
