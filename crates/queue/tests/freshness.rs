//! How current each series is (`Store::series_freshness`): the audit, the watermarks, the
//! recorded series and the publications the poller saw, summed per distribution and series
//! by one statement, on SQLite and, when `PKGIMPORT_TEST_PG_URL` is set, on PostgreSQL.
//!
//! `PKGIMPORT_TEST_FRESHNESS_PACKAGES` (for example 40000) also times the statement on a
//! database of that many packages, each with a Debian and an Ubuntu history; run it with
//! `--release --nocapture`.

mod common;

use std::collections::BTreeMap;
use std::time::Instant;

use common::{TestDb, each_backend};
use pkgimport_core::PackageName;
use pkgimport_queue::audit::{PublicationRow, StagedAudit};
use pkgimport_queue::monitor::{SeenPublication, SeriesFreshness};
use pkgimport_queue::series::SeriesRow;
use pkgimport_queue::{Store, Timestamp};

fn publication(distro: &str, series: &str, version: &str, date: &str) -> PublicationRow {
    PublicationRow {
        distro: distro.into(),
        series: series.into(),
        pocket: "Release".into(),
        version: version.into(),
        date_created: date.into(),
    }
}

/// The three-phase audit commit of `publications`, as import-one does it after a push.
fn import(store: &mut Store, package: &str, publications: Vec<PublicationRow>) {
    let p = PackageName::parse(package).unwrap();
    let staged = StagedAudit {
        versions: publications
            .iter()
            .map(|x| (x.version.clone(), format!("c-{}", x.version)))
            .collect::<BTreeMap<_, _>>(),
        publications,
        ..StagedAudit::default()
    };
    store.audit_stage(&p, &staged).unwrap();
    store.audit_mark(&p, None).unwrap();
    store.audit_commit(&p).unwrap();
    store.audit_unmark(&p).unwrap();
}

fn seen(
    package: &str,
    distro: &str,
    series: &str,
    pocket: &str,
    version: &str,
    date: &str,
) -> SeenPublication {
    SeenPublication {
        package: package.into(),
        distro: distro.into(),
        series: series.into(),
        pocket: pocket.into(),
        version: version.into(),
        date_created: date.into(),
        seen_at: Timestamp(0),
    }
}

fn series(names: &[(&str, &str)]) -> Vec<SeriesRow> {
    names
        .iter()
        .map(|(name, status)| SeriesRow {
            name: (*name).into(),
            status: (*status).into(),
        })
        .collect()
}

/// One expected row: (distribution, series, status, development, packages, out of date,
/// newest imported, newest seen).
type Expected<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    bool,
    u64,
    u64,
    Option<&'a str>,
    Option<&'a str>,
);

fn row(e: Expected<'_>) -> SeriesFreshness {
    SeriesFreshness {
        distribution: e.0.into(),
        series: e.1.into(),
        status: e.2.map(Into::into),
        development: e.3,
        packages: e.4,
        out_of_date: e.5,
        newest_imported: e.6.map(Into::into),
        newest_seen: e.7.map(Into::into),
    }
}

#[test]
fn each_series_counts_its_packages_and_its_out_of_date_ones() {
    each_backend(counts_on);
}

fn counts_on(db: &TestDb) {
    let mut s = db.store();
    assert_eq!(s.series_freshness().unwrap(), [], "{}", db.name());

    s.set_series(
        "debian",
        &series(&[
            ("bookworm", "Supported"),
            ("trixie", "Current Stable Release"),
            ("sid", "Active Development"),
        ]),
    )
    .unwrap();
    // Two development statuses: only the newest such series is the development series.
    s.set_series(
        "ubuntu",
        &series(&[
            ("noble", "Supported"),
            ("plucky", "Pre-release Freeze"),
            ("questing", "Active Development"),
        ]),
    )
    .unwrap();

    let t = |day: u32, rest: &str| format!("2024-03-{day:02}T10:00:00{rest}+00:00");
    // hello: imported everywhere it was seen.
    import(
        &mut s,
        "hello",
        vec![
            publication("debian", "trixie", "2.10-2", &t(1, ".000000")),
            publication("debian", "sid", "2.10-3", &t(2, ".000000")),
            publication("ubuntu", "questing", "2.10-3ubuntu1", &t(3, ".000000")),
        ],
    );
    // stale: the poller saw 1.0-2 in sid, newer than anything imported.
    import(
        &mut s,
        "stale",
        vec![publication("debian", "sid", "1.0-1", &t(1, ".000000"))],
    );
    // overtaken: the poller's newest is an older noble upload; a newer questing one is in.
    import(
        &mut s,
        "overtaken",
        vec![publication("ubuntu", "questing", "1.1", &t(4, ".000000"))],
    );
    // old: only in a series that poll-uploads no longer lists. Its fraction-less time
    // sorts before the same second with a fraction, as a time does.
    import(
        &mut s,
        "old",
        vec![
            publication("debian", "buzz", "0.1", &t(1, "")),
            publication("debian", "buzz", "0.2", &t(1, ".5")),
        ],
    );
    s.record_seen(
        &[
            seen(
                "hello",
                "ubuntu",
                "questing",
                "Release",
                "2.10-3ubuntu1",
                &t(3, ".000000"),
            ),
            seen(
                "stale",
                "debian",
                "sid",
                "Release",
                "1.0-2",
                &t(5, ".000000"),
            ),
            seen(
                "overtaken",
                "ubuntu",
                "noble",
                "Security",
                "1.0",
                &t(2, ".000000"),
            ),
            // Never imported at all.
            seen(
                "fresh",
                "ubuntu",
                "questing",
                "Proposed",
                "3.0",
                &t(6, ".000000"),
            ),
            // Seen in a series that nothing else names.
            seen(
                "odd",
                "debian",
                "experimental",
                "Release",
                "9",
                &t(6, ".000000"),
            ),
        ],
        |a, b| a > b,
    )
    .unwrap();
    s.set_watermarks(&[
        ("debian".into(), "sid".into(), t(5, ".000000")),
        ("debian".into(), "bookworm".into(), t(1, ".000000")),
        ("ubuntu".into(), "questing".into(), t(6, ".000000")),
        ("ubuntu".into(), "noble".into(), t(2, ".000000")),
    ])
    .unwrap();

    let (d1, d2, d4, d5, d6) = (
        t(1, ".000000"),
        t(2, ".000000"),
        t(4, ".000000"),
        t(5, ".000000"),
        t(6, ".000000"),
    );
    let buzz = t(1, ".5");
    let expected: Vec<SeriesFreshness> = [
        (
            "debian",
            "sid",
            Some("Active Development"),
            true,
            2,
            1,
            Some(d2.as_str()),
            Some(d5.as_str()),
        ),
        (
            "debian",
            "trixie",
            Some("Current Stable Release"),
            false,
            1,
            0,
            Some(d1.as_str()),
            None,
        ),
        (
            "debian",
            "bookworm",
            Some("Supported"),
            false,
            0,
            0,
            None,
            Some(d1.as_str()),
        ),
        (
            "debian",
            "buzz",
            None,
            false,
            1,
            0,
            Some(buzz.as_str()),
            None,
        ),
        ("debian", "experimental", None, false, 0, 1, None, None),
        (
            "ubuntu",
            "questing",
            Some("Active Development"),
            true,
            2,
            1,
            Some(d4.as_str()),
            Some(d6.as_str()),
        ),
        (
            "ubuntu",
            "plucky",
            Some("Pre-release Freeze"),
            false,
            0,
            0,
            None,
            None,
        ),
        (
            "ubuntu",
            "noble",
            Some("Supported"),
            false,
            0,
            0,
            None,
            Some(d2.as_str()),
        ),
    ]
    .into_iter()
    .map(row)
    .collect();
    assert_eq!(s.series_freshness().unwrap(), expected, "{}", db.name());

    // Importing the missing publication brings sid up to date.
    import(
        &mut s,
        "stale",
        vec![publication("debian", "sid", "1.0-2", &d5)],
    );
    let sid = s
        .series_freshness()
        .unwrap()
        .into_iter()
        .find(|r| r.series == "sid")
        .unwrap();
    assert_eq!(
        (
            sid.packages,
            sid.out_of_date,
            sid.newest_imported.as_deref()
        ),
        (2, 0, Some(d5.as_str())),
        "{}",
        db.name()
    );
}

/// Times the statement on `PKGIMPORT_TEST_FRESHNESS_PACKAGES` packages with a Debian and
/// Ubuntu history each, and prints the plan.
#[test]
fn series_freshness_at_scale() {
    #[expect(clippy::disallowed_methods, reason = "test configuration")]
    let Some(packages) = std::env::var("PKGIMPORT_TEST_FRESHNESS_PACKAGES")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    else {
        return;
    };
    each_backend(|db| at_scale(db, packages));
}

#[expect(clippy::print_stdout, reason = "the figures are the point")]
fn at_scale(db: &TestDb, packages: usize) {
    let mut s = db.store();
    let debian = ["buster", "bullseye", "bookworm", "trixie", "sid"];
    let ubuntu = ["focal", "jammy", "noble", "oracular", "plucky", "questing"];
    s.set_series("debian", &series(&debian.map(|n| (n, "Supported"))))
        .unwrap();
    s.set_series("ubuntu", &series(&ubuntu.map(|n| (n, "Supported"))))
        .unwrap();
    let started = Instant::now();
    let mut rows = 0;
    let mut seen_rows = Vec::new();
    for i in 0..packages {
        let name = format!("pkg{i}");
        let mut pubs = Vec::new();
        for (distro, names) in [("debian", &debian[..]), ("ubuntu", &ubuntu[..])] {
            for (k, series) in names.iter().enumerate() {
                for v in 0..3 {
                    let date = format!(
                        "20{:02}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
                        10 + k,
                        1 + v * 4,
                        1 + i % 28,
                        i % 24,
                        i % 60,
                        (i / 60) % 60,
                        i
                    );
                    pubs.push(PublicationRow {
                        distro: distro.into(),
                        series: (*series).into(),
                        pocket: if v == 2 { "Updates" } else { "Release" }.into(),
                        version: format!("{k}.{v}-{distro}"),
                        date_created: date,
                    });
                }
            }
        }
        rows += pubs.len();
        let newest = pubs.last().unwrap().clone();
        // One package in ten is behind: the poller saw a version that is not imported.
        let (version, date) = if i % 10 == 0 {
            (
                "9.9".to_owned(),
                "2030-01-01T00:00:00.000000+00:00".to_owned(),
            )
        } else {
            (newest.version.clone(), newest.date_created.clone())
        };
        seen_rows.push(seen(
            &name,
            "ubuntu",
            "questing",
            &newest.pocket,
            &version,
            &date,
        ));
        import(&mut s, &name, pubs);
    }
    s.record_seen(&seen_rows, |a, b| a > b).unwrap();
    println!(
        "{}: {packages} packages, {rows} publications written in {:.1?}",
        db.name(),
        started.elapsed()
    );
    for _ in 0..3 {
        let started = Instant::now();
        let got = s.series_freshness().unwrap();
        println!(
            "{}: series_freshness in {:.1?}",
            db.name(),
            started.elapsed()
        );
        let questing = got.iter().find(|r| r.series == "questing").unwrap();
        assert_eq!(questing.packages, packages as u64);
        assert_eq!(questing.out_of_date, packages.div_ceil(10) as u64);
    }
}
