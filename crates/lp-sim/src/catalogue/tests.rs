//! The catalogue's tests: loading the fixture archive, filters, orders and paging, and
//! what publishing and opening a series change.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::synthetic::SyntheticSpec;

pub(crate) fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/archive")
}

/// The fixture archive, Debian its default distribution.
fn archive() -> Catalogue {
    Catalogue::from_archive(&fixture_dir(), "debian").unwrap()
}

/// Debian's series `name`.
fn debian(cat: &Catalogue, name: &str) -> u16 {
    cat.series_index(0, name).unwrap()
}

/// The series names of distribution `distro`, in Launchpad's order.
fn series_names(cat: &Catalogue, distro: u16) -> Vec<&str> {
    cat.series_of(distro)
        .map(|i| cat.series[i].name.as_str())
        .collect()
}

/// A filter of Debian's archive that matches everything, newest first.
fn filter() -> Filter {
    Filter {
        distro: 0,
        source_name: None,
        exact_match: false,
        version: None,
        series: SeriesFilter::Any,
        pocket: None,
        status: None,
        created_since: None,
        component: None,
        order: Order::NewestFirst,
    }
}

fn names(cat: &Catalogue, rows: &[&Row]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            format!(
                "{} {} {}{}",
                cat.package(r).name,
                cat.version(r).version,
                cat.series[r.series as usize].name,
                match r.pocket {
                    Pocket::Release => String::new(),
                    p => format!("-{}", p.title().to_lowercase()),
                }
            )
        })
        .collect()
}

#[test]
fn suites_split() {
    assert_eq!(
        split_suite("bookworm-security"),
        ("bookworm", Pocket::Security)
    );
    assert_eq!(split_suite("sid"), ("sid", Pocket::Release));
    assert_eq!(split_suite("noble-proposed"), ("noble", Pocket::Proposed));
    assert_eq!(split_suite("jammy-backports"), ("jammy", Pocket::Backports));
    assert_eq!(split_suite("focal-updates"), ("focal", Pocket::Updates));
}

#[test]
fn fixture_archive_loads_every_suite() {
    let cat = archive();
    // 21 versions; four of them in two suites.
    assert_eq!(cat.count(&filter()), 25);
    assert_eq!(
        series_names(&cat, 0),
        ["sid", "trixie", "bookworm", "bullseye"]
    );
    // Ids increase with dates.
    let mut by_id = cat.rows.clone();
    by_id.sort_by_key(|r| r.id);
    assert!(
        by_id
            .windows(2)
            .all(|w| w[0].date_created <= w[1].date_created)
    );
    // Changelog dates were found (no fallback): hello 2.10-3's trailer is 2022-12-26.
    let hello = cat.package_index("hello").unwrap();
    let row = cat
        .rows
        .iter()
        .find(|r| r.pkg == hello && cat.version(r).version == "2.10-3")
        .unwrap();
    assert_eq!(row.date_created.format("%Y-%m").to_string(), "2022-12");
}

#[test]
fn changelog_dates_come_from_every_kind_of_file() {
    let cat = archive();
    for package in &cat.packages {
        for version in &package.versions {
            assert!(
                version.changelog_date.is_some(),
                "{} {}",
                package.name,
                version.version
            );
        }
    }
}

#[test]
fn exact_match_and_substring() {
    let cat = archive();
    let mut f = filter();
    f.source_name = Some("term".into());
    let (rows, _) = cat.select(&f, 0, 300);
    assert_eq!(rows.len(), 8, "{:?}", names(&cat, &rows));
    f.exact_match = true;
    assert_eq!(cat.select(&f, 0, 300).0.len(), 0);
    f.source_name = Some("golang-golang-x-term".into());
    assert_eq!(cat.select(&f, 0, 300).0.len(), 8);
    f.source_name = Some("libssh".into());
    f.exact_match = false;
    assert_eq!(cat.count(&f), 4);
}

#[test]
fn default_order_is_name_then_dpkg_version_descending() {
    let cat = archive();
    let mut f = filter();
    f.order = Order::NameThenVersion;
    f.source_name = Some("libssh".into());
    let (rows, more) = cat.select(&f, 0, 300);
    assert!(!more);
    assert_eq!(
        names(&cat, &rows),
        [
            "libssh 0.12.2-1 sid",
            "libssh 0.11.5-0+deb13u1 trixie",
            "libssh 0.10.6-0+deb12u2 bookworm",
            "libssh 0.9.8-0+deb11u1 bullseye",
        ]
    );
}

#[test]
fn filters_and_paging() {
    let cat = archive();
    let mut f = filter();
    f.series = SeriesFilter::One(debian(&cat, "bookworm"));
    let all = cat.count(&f);
    assert_eq!(all, 9);
    // Pages of 4 cover everything exactly once, newest first.
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let (rows, more) = cat.select(&f, offset, 4);
        offset += rows.len();
        seen.extend(rows.iter().map(|r| r.id));
        if !more {
            break;
        }
    }
    assert_eq!(seen.len(), 9);
    let mut dedup = seen.clone();
    dedup.sort_unstable();
    dedup.dedup();
    assert_eq!(dedup.len(), 9);
    f.pocket = Some(Pocket::Security);
    let (rows, _) = cat.select(&f, 0, 10);
    assert_eq!(
        names(&cat, &rows),
        ["golang-golang-x-term 0.3.0-1 bookworm-security"]
    );
    f.pocket = None;
    f.order = Order::OldestFirst;
    let (asc, _) = cat.select(&f, 0, 10);
    assert!(
        asc.windows(2)
            .all(|w| w[0].date_created <= w[1].date_created)
    );
    let cut = asc[5].date_created;
    f.created_since = Some(cut);
    assert_eq!(cat.count(&f), 4);
}

#[test]
fn domination_marks_older_versions_superseded() {
    let cat = archive();
    let mut f = filter();
    f.source_name = Some("golang-golang-x-term".into());
    f.series = SeriesFilter::One(debian(&cat, "sid"));
    let (rows, _) = cat.select(&f, 0, 10);
    let statuses: Vec<&str> = rows.iter().map(|r| r.status.title()).collect();
    assert_eq!(statuses, ["Published", "Superseded", "Superseded"]);
    assert_eq!(cat.version(rows[0]).version, "0.45.0-1");
}

#[test]
fn publish_needs_files_on_disk() {
    let mut cat = archive();
    let req = |version: &str, suite: &str| PublishRequest {
        distro: 0,
        package: "hello".into(),
        version: version.into(),
        suite: suite.into(),
        date_created: DateTime::<Utc>::from(std::time::SystemTime::now()),
        status: Status::Pending,
    };
    assert!(matches!(
        cat.publish(&req("9.9-1", "sid")),
        Err(PublishError::Missing(_))
    ));
    // An existing version published to a new suite (and a new series).
    let id = cat.publish(&req("2.12.3-1", "forky-proposed")).unwrap();
    let row = cat.row_by_id(id).unwrap();
    assert_eq!(cat.series[row.series as usize].name, "forky");
    assert_eq!(row.pocket, Pocket::Proposed);
    assert_eq!(row.status, Status::Pending);
    // The newest by date comes first.
    let (rows, _) = cat.select(&filter(), 0, 1);
    assert_eq!(rows[0].id, id);
    // Series were remapped, not scrambled.
    assert_eq!(
        series_names(&cat, 0),
        ["sid", "forky", "trixie", "bookworm", "bullseye"]
    );
}

#[test]
fn open_series_copies_the_newest_published_version_of_every_package() {
    let spec = SyntheticSpec {
        packages: 10,
        series: 2,
        versions: 2,
        distributions: Vec::new(),
    };
    let mut cat = Catalogue::synthetic(spec.clone(), "debian").unwrap();
    let now = DateTime::<Utc>::from(std::time::SystemTime::now());
    let req = |j: u32, version: &str, suite: &str, status: Status| PublishRequest {
        distro: 0,
        package: spec.package_name(j),
        version: version.into(),
        suite: suite.into(),
        date_created: now,
        status,
    };
    // Package 0 gets a newer version; package 1's newer one is only pending: not copied.
    cat.publish(&req(0, "1.5", "sid", Status::Published))
        .unwrap();
    cat.publish(&req(1, "1.6", "trixie", Status::Pending))
        .unwrap();
    let before = cat.rows.len();
    let later = now + Duration::seconds(1);
    assert_eq!(cat.open_series(0, "forky", &[], later).unwrap(), 10);
    assert_eq!(cat.rows.len(), before + 10);
    assert_eq!(series_names(&cat, 0), ["sid", "forky", "trixie"]);

    let mut f = filter();
    f.series = SeriesFilter::One(debian(&cat, "forky"));
    f.order = Order::OldestFirst;
    let (rows, more) = cat.select(&f, 0, 100);
    assert!(!more);
    let got = names(&cat, &rows);
    assert_eq!(got.len(), 10);
    assert_eq!(got[0], "synth-000000 1.5 forky");
    assert_eq!(got[1], "synth-000001 1.1 forky");
    assert_eq!(got[9], "synth-000009 1.1 forky");
    assert!(rows.iter().all(|r| r.status == Status::Published
        && r.pocket == Pocket::Release
        && r.date_created >= later));
    // Ids and dates increase together, and a poller since `later` sees every copy.
    assert!(
        rows.windows(2)
            .all(|w| w[0].id < w[1].id && w[0].date_created < w[1].date_created)
    );
    f.series = SeriesFilter::Any;
    f.created_since = Some(later);
    assert_eq!(cat.count(&f), 10);
    // The series the packages came from are unchanged.
    f.created_since = None;
    f.series = SeriesFilter::One(debian(&cat, "sid"));
    f.status = Some(Status::Published);
    assert_eq!(cat.count(&f), 5);

    // From one series only: the five packages of trixie.
    assert_eq!(
        cat.open_series(0, "series9", &["trixie".into()], later)
            .unwrap(),
        5
    );
    for bad in [
        cat.open_series(0, "forky", &[], later),
        cat.open_series(0, "newer", &["nosuch".into()], later),
        cat.open_series(0, "Bad/Name", &[], later),
    ] {
        assert!(matches!(bad, Err(PublishError::Invalid(_))), "{bad:?}");
    }
}

#[test]
fn synthetic_history_is_arithmetic() {
    let spec = SyntheticSpec {
        packages: 1000,
        series: 10,
        versions: 2,
        distributions: Vec::new(),
    };
    let cat = Catalogue::synthetic(spec, "debian").unwrap();
    assert_eq!(cat.rows.len(), 2000);
    let mut f = filter();
    f.series = SeriesFilter::One(3);
    assert_eq!(cat.count(&f), 200);
    let (rows, more) = cat.select(&f, 0, 300);
    assert!(!more);
    assert!(rows.iter().all(|r| r.pkg % 10 == 3));
    assert_eq!(rows[0].status, Status::Published);
    assert_eq!(cat.version(rows[0]).version, "1.1");
    f.order = Order::NameThenVersion;
    let (rows, _) = cat.select(&f, 0, 2);
    assert_eq!(cat.version(rows[0]).version, "1.1");
    assert_eq!(cat.version(rows[1]).version, "1.0");
}

/// Ubuntu's index in the fixture archive.
const UBUNTU: u16 = 1;

/// A filter of Ubuntu's archive that matches everything, newest first.
fn ubuntu_filter() -> Filter {
    Filter {
        distro: UBUNTU,
        ..filter()
    }
}

/// `(status, date)` of the one publication of `package` `version` in `suite` of `distro`.
fn publication(
    cat: &Catalogue,
    distro: u16,
    package: &str,
    version: &str,
    suite: &str,
) -> (Status, DateTime<Utc>) {
    let (series, pocket) = split_suite(suite);
    let series = cat.series_index(distro, series).unwrap();
    let rows: Vec<&Row> = cat
        .rows
        .iter()
        .filter(|r| {
            cat.package(r).name == package
                && cat.version(r).version == version
                && r.series == series
                && r.pocket == pocket
        })
        .collect();
    assert_eq!(rows.len(), 1, "{package} {version} {suite}");
    (rows[0].status, rows[0].date_created)
}

fn date(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

/// An archive in a temporary directory: the fixture archive's package folders, with
/// `manifest` and, if given, `series`.
fn scratch_archive(manifest: &str, series: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture_dir()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            std::os::unix::fs::symlink(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
    }
    std::fs::write(dir.path().join("manifest.json"), manifest).unwrap();
    if let Some(series) = series {
        std::fs::write(dir.path().join("series.json"), series).unwrap();
    }
    dir
}

#[test]
fn the_fixture_archive_holds_debian_and_ubuntu() {
    let cat = archive();
    assert_eq!(cat.distributions, ["debian", "ubuntu"]);
    assert_eq!(
        series_names(&cat, UBUNTU),
        ["resolute", "questing", "plucky", "noble", "jammy"]
    );
    let statuses: Vec<(&str, bool, bool)> = cat
        .series_of(UBUNTU)
        .map(|i| {
            let s = &cat.series[i];
            (s.status, s.active(), s.supported())
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("Active Development", true, false),
            ("Current Stable Release", true, true),
            ("Obsolete", false, false),
            ("Supported", true, true),
            ("Supported", true, true),
        ]
    );
    assert_eq!(
        cat.current_series(UBUNTU),
        cat.series_index(UBUNTU, "resolute").map(usize::from)
    );
    assert_eq!(
        cat.current_series(0),
        Some(usize::from(debian(&cat, "sid")))
    );
    // Debian's history is what it was before Ubuntu joined; Ubuntu's is its own.
    assert_eq!(cat.count(&filter()), 25);
    assert_eq!(cat.count(&ubuntu_filter()), 14);
    assert_eq!(cat.rows.len(), 39);
    // Plucky exists, with no publications.
    let mut f = ubuntu_filter();
    f.series = SeriesFilter::One(cat.series_index(UBUNTU, "plucky").unwrap());
    assert_eq!(cat.count(&f), 0);
}

#[test]
fn one_version_in_two_distributions_is_two_publications() {
    let cat = archive();
    let mut f = filter();
    f.source_name = Some("hello".into());
    f.exact_match = true;
    f.version = Some("2.12.3-1".into());
    let (debian_rows, _) = cat.select(&f, 0, 10);
    f.distro = UBUNTU;
    let (ubuntu_rows, _) = cat.select(&f, 0, 10);
    assert_eq!(names(&cat, &debian_rows), ["hello 2.12.3-1 sid"]);
    assert_eq!(names(&cat, &ubuntu_rows), ["hello 2.12.3-1 resolute"]);
    let (d, u) = (debian_rows[0], ubuntu_rows[0]);
    assert_ne!(d.id, u.id);
    assert_ne!(d.date_created, u.date_created);
    // The same version, so the same files.
    assert_eq!((d.pkg, d.ver), (u.pkg, u.ver));
    // The sync superseded Ubuntu's delta in resolute, not in questing.
    let state = |suite, version| publication(&cat, UBUNTU, "hello", version, suite).0;
    assert_eq!(state("resolute", "2.12.3-1"), Status::Published);
    assert_eq!(state("resolute", "2.10-3ubuntu1"), Status::Superseded);
    assert_eq!(state("questing", "2.10-3ubuntu1"), Status::Published);
    assert_eq!(state("jammy-updates", "2.10-2ubuntu1.1"), Status::Published);
}

#[test]
fn published_dates_override_the_changelog() {
    let cat = archive();
    let at = |distro, package, version, suite| publication(&cat, distro, package, version, suite).1;
    assert_eq!(
        at(UBUNTU, "hello", "2.10-2ubuntu1.1", "jammy-updates"),
        date("2023-03-15T10:00:00Z")
    );
    // The security pocket's date comes from the changelog (2023-03-14 09:30), two hours on.
    let security = at(UBUNTU, "hello", "2.10-2ubuntu1.1", "jammy-security");
    assert_eq!(
        security.format("%Y-%m-%d %H:%M").to_string(),
        "2023-03-14 11:30"
    );
    // Launchpad created the Debian parent after its Ubuntu child reached -proposed.
    let debian_sid = at(0, "libcap2", "1:2.78-1", "sid");
    let proposed = at(UBUNTU, "libcap2", "1:2.78-1ubuntu1", "resolute-proposed");
    let released = at(UBUNTU, "libcap2", "1:2.78-1ubuntu1", "resolute");
    assert_eq!(debian_sid, date("2026-04-08T04:00:00Z"));
    assert!(
        proposed < debian_sid && debian_sid < released,
        "{proposed} {released}"
    );
    assert_eq!(released, date("2026-04-09T10:00:00Z"));
    assert_eq!(
        at(UBUNTU, "tgt", "1:1.0.85-1.3", "questing"),
        date("2025-06-02T09:00:00Z")
    );
}

#[test]
fn a_series_of_another_distribution_matches_nothing() {
    let cat = archive();
    let mut f = filter();
    f.series = SeriesFilter::One(cat.series_index(UBUNTU, "noble").unwrap());
    assert_eq!(cat.count(&f), 0);
    assert_eq!(cat.select(&f, 0, 10).0.len(), 0);
    f.distro = UBUNTU;
    let (rows, _) = cat.select(&f, 0, 10);
    let mut got = names(&cat, &rows);
    got.sort();
    assert_eq!(
        got,
        [
            "hello 2.10-3build1 noble",
            "hello 2.12.3-1~24.04.1 noble-backports",
            "intel2gas 1.3.3-17build1 noble"
        ]
    );
}

#[test]
fn bare_suites_belong_to_the_default_distribution() {
    let manifest = r#"{"hello": {
        "2.10-3": {"suites": ["noble", "debian/sid"],
                   "published": {"ubuntu/noble": "2024-01-01T00:00:00+01:00"}}}}"#;
    let dir = scratch_archive(manifest, None);
    let cat = Catalogue::from_archive(dir.path(), "ubuntu").unwrap();
    assert_eq!(cat.distributions, ["ubuntu", "debian"]);
    let noble = publication(&cat, 0, "hello", "2.10-3", "noble");
    assert_eq!(noble.1, date("2023-12-31T23:00:00Z"));
    publication(&cat, 1, "hello", "2.10-3", "sid");
}

#[test]
fn bad_manifests_and_series_files_are_refused() {
    let hello = |entry: &str| format!(r#"{{"hello": {{"2.10-3": {entry}}}}}"#);
    let refused = |manifest: &str, series: Option<&str>, why: &str| {
        let dir = scratch_archive(manifest, series);
        let err = Catalogue::from_archive(dir.path(), "debian").unwrap_err();
        assert!(err.contains(why), "{manifest} {series:?}: {err}");
    };
    refused(
        &hello(r#"{"suites": ["sid"], "published": {"debian/trixie": "2024-01-01T00:00:00Z"}}"#),
        None,
        "not one of its suites",
    );
    refused(
        &hello(r#"{"suites": ["sid"], "published": {"debian/sid": "yesterday"}}"#),
        None,
        "bad date",
    );
    refused(
        &hello(r#"{"suites": ["sid", "debian/sid"]}"#),
        None,
        "twice",
    );
    refused(&hello(r#"{"suites": ["Ubuntu/noble"]}"#), None, "bad suite");
    refused(
        &hello(r#"{"suites": ["ubuntu/noble"]}"#),
        Some(r#"{"ubuntu": [{"name": "jammy", "version": "22.04", "status": "Supported"}]}"#),
        "series.json does not list",
    );
    refused(
        &hello(r#"{"suites": ["sid"]}"#),
        Some(r#"{"debian": [{"name": "sid", "status": "Frozen"}]}"#),
        "no series status",
    );
    refused(
        &hello(r#"{"suites": ["sid"]}"#),
        Some(
            r#"{"debian": [{"name": "sid", "status": "Supported"}, {"name": "sid", "status": "Supported"}]}"#,
        ),
        "listed twice",
    );
}

#[test]
fn without_series_json_statuses_are_built_in() {
    let manifest = r#"{"hello": {"2.10-3": {"suites": [
        "ubuntu/plucky", "ubuntu/noble", "ubuntu/mystic", "ubuntu/resolute",
        "sid", "trixie", "bullseye", "buster", "frobnitz"]}}}"#;
    let dir = scratch_archive(manifest, None);
    let cat = Catalogue::from_archive(dir.path(), "debian").unwrap();
    let table = |distro| -> Vec<(&str, Option<&str>, &str)> {
        cat.series_of(distro)
            .map(|i| {
                let s = &cat.series[i];
                (s.name.as_str(), s.version.as_deref(), s.status)
            })
            .collect()
    };
    assert_eq!(
        table(0),
        [
            ("sid", None, "Active Development"),
            ("trixie", Some("13"), "Current Stable Release"),
            ("bullseye", Some("11"), "Supported"),
            ("buster", Some("10"), "Obsolete"),
            ("frobnitz", None, "Future"),
        ]
    );
    assert_eq!(
        table(UBUNTU),
        [
            ("resolute", Some("26.04"), "Active Development"),
            ("plucky", Some("25.04"), "Obsolete"),
            ("noble", Some("24.04"), "Supported"),
            ("mystic", None, "Future"),
        ]
    );
    // An unknown series of a distribution with no development series becomes it.
    let dir = scratch_archive(
        r#"{"hello": {"2.10-3": {"suites": ["ubuntu/noble", "ubuntu/mystic"]}}}"#,
        None,
    );
    let cat = Catalogue::from_archive(dir.path(), "debian").unwrap();
    let mystic = cat.series_index(UBUNTU, "mystic").unwrap();
    assert_eq!(cat.series[usize::from(mystic)].status, "Active Development");
    assert_eq!(cat.current_series(UBUNTU), Some(usize::from(mystic)));
    // The default distribution is served even with nothing in it.
    assert_eq!(cat.distributions, ["debian", "ubuntu"]);
    assert_eq!(cat.series_of(0).count(), 0);
}

#[test]
fn publishing_and_opening_a_series_act_on_one_distribution() {
    let mut cat = archive();
    let now = DateTime::<Utc>::from(std::time::SystemTime::now());
    let id = cat
        .publish(&PublishRequest {
            distro: UBUNTU,
            package: "hello".into(),
            version: "2.12.3-1".into(),
            suite: "questing-proposed".into(),
            date_created: now,
            status: Status::Published,
        })
        .unwrap();
    let row = cat.row_by_id(id).unwrap();
    assert_eq!(cat.distro_of(row), UBUNTU);
    assert_eq!(cat.series[row.series as usize].name, "questing");
    // Opening a series copies from that distribution's series only.
    let later = now + Duration::seconds(1);
    let copied = cat.open_series(UBUNTU, "sid", &[], later).unwrap();
    let mut f = ubuntu_filter();
    f.series = SeriesFilter::One(cat.series_index(UBUNTU, "sid").unwrap());
    f.order = Order::NameThenVersion;
    let (rows, _) = cat.select(&f, 0, 10);
    assert_eq!(
        names(&cat, &rows),
        [
            "hello 2.12.3-1 sid",
            "intel2gas 1.3.3-17build1 sid",
            "libcap2 1:2.78-1ubuntu1 sid",
            "libssh 0.12.2-1ubuntu1 sid",
            "tgt 1:1.0.85-1.3 sid"
        ]
    );
    assert_eq!(copied, 5);
    let opened = &cat.series[usize::from(cat.series_index(UBUNTU, "sid").unwrap())];
    assert_eq!(opened.status, "Active Development");
    // Debian's sid is another series, unchanged; Debian has no noble to copy from.
    assert_eq!(cat.count(&filter()), 25);
    assert!(matches!(
        cat.open_series(0, "forky", &["noble".into()], later),
        Err(PublishError::Invalid(_))
    ));
}
