//! The plan's rules, data in, plan out: no git, no database, no network.

use std::collections::BTreeMap;

use pkgimport_audit::Phase;
use pkgimport_lp_client::{LpDateTime, Publication, PublicationStatus};
use pkgimport_queue::audit::{AuditView, PublicationRow, StagedAudit, StagedRef};

use super::{Found, Plan, PlannedRef, RefTarget};

const C1: &str = "1111111111111111111111111111111111111111";
const C2: &str = "2222222222222222222222222222222222222222";
const C3: &str = "3333333333333333333333333333333333333333";

/// A publication of hello: `distro/series/Pocket/version`, created at `date`.
fn found(spec: &str, date: &str) -> Found {
    let [distro, series, pocket, version] = spec.split('/').collect::<Vec<_>>()[..] else {
        panic!("bad spec {spec}")
    };
    Found {
        distro: distro.to_owned(),
        publication: Publication {
            self_link: format!(
                "https://api.launchpad.net/devel/{distro}/+archive/primary/+sourcepub/{spec}"
            ),
            source_package_name: "hello".to_owned(),
            source_package_version: version.to_owned(),
            distro_series_link: format!("https://api.launchpad.net/devel/{distro}/{series}"),
            pocket: pocket.parse().unwrap(),
            status: PublicationStatus::Published,
            date_created: LpDateTime::parse(date).unwrap(),
            date_published: None,
            date_superseded: None,
            component_name: None,
            section_name: None,
            archive_link: None,
            display_name: None,
        },
    }
}

/// A committed audit: publications as `distro/series/Pocket/version`, version → commit,
/// ref → commit.
fn audit(publications: &[&str], versions: &[(&str, &str)], refs: &[(&str, &str)]) -> AuditView {
    let pairs = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    AuditView {
        phase: Phase::Idle,
        refs: pairs(refs),
        versions: pairs(versions),
        publications: publications
            .iter()
            .map(|spec| {
                let [distro, series, pocket, version] = spec.split('/').collect::<Vec<_>>()[..]
                else {
                    panic!("bad spec {spec}")
                };
                PublicationRow {
                    distro: distro.to_owned(),
                    series: series.to_owned(),
                    pocket: pocket.to_owned(),
                    version: version.to_owned(),
                    date_created: "2020-01-01T00:00:00+00:00".to_owned(),
                }
            })
            .collect(),
        staged: StagedAudit::default(),
    }
}

/// The plan's publications as `distro/series/Pocket/version`.
fn specs(found: &[&Found]) -> Vec<String> {
    found
        .iter()
        .map(|p| {
            format!(
                "{}/{}/{}/{}",
                p.distro,
                p.series_name(),
                p.pocket,
                p.source_package_version
            )
        })
        .collect()
}

fn planned(name: &str, target: RefTarget, old: Option<&str>) -> PlannedRef {
    PlannedRef {
        name: name.to_owned(),
        target,
        old: old.map(str::to_owned),
    }
}

fn version(v: &str) -> RefTarget {
    RefTarget::Version(v.to_owned())
}

fn commit(c: &str) -> RefTarget {
    RefTarget::Commit(c.to_owned())
}

fn staged(name: &str, old: Option<&str>, new: &str) -> StagedRef {
    StagedRef {
        name: name.to_owned(),
        old: old.map(str::to_owned),
        new: new.to_owned(),
    }
}

fn built(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(v, c)| ((*v).to_owned(), (*c).to_owned()))
        .collect()
}

const T0: &str = "2024-01-01T00:00:00+00:00";
const T1: &str = "2024-02-01T00:00:00.5+00:00";
const T2: &str = "2024-03-01T00:00:00+00:00";

#[test]
fn nothing_new_is_an_empty_plan() {
    let history = [found("debian/sid/Release/1.0-1", T0)];
    let audit = audit(
        &["debian/sid/Release/1.0-1"],
        &[("1.0-1", C1)],
        &[
            ("refs/heads/importer/debian/sid", C1),
            ("refs/tags/import/1.0-1", C1),
        ],
    );
    let plan = Plan::new(&history, &audit);
    assert!(plan.is_empty());
    assert!(plan.builds.is_empty());
    assert!(plan.refs.is_empty());
    assert!(plan.refs(&BTreeMap::new()).is_empty());
    assert!(plan.rows().is_empty());
}

#[test]
fn a_new_version_is_built_and_moves_its_branch_and_gets_its_tag() {
    let history = [
        found("debian/sid/Release/1.0-1", T0),
        found("debian/sid/Release/1.0-2", T1),
    ];
    let audit = audit(
        &["debian/sid/Release/1.0-1"],
        &[("1.0-1", C1)],
        &[
            ("refs/heads/importer/debian/sid", C1),
            ("refs/tags/import/1.0-1", C1),
        ],
    );
    let plan = Plan::new(&history, &audit);
    assert_eq!(specs(&plan.publications), ["debian/sid/Release/1.0-2"]);
    assert_eq!(specs(&plan.builds), ["debian/sid/Release/1.0-2"]);
    assert!(!plan.is_ref_only());
    assert_eq!(
        plan.refs,
        [
            planned("refs/heads/importer/debian/sid", version("1.0-2"), Some(C1)),
            planned("refs/tags/import/1.0-2", version("1.0-2"), None),
        ]
    );
    assert_eq!(
        plan.refs(&built(&[("1.0-2", C2)])),
        [
            staged("refs/heads/importer/debian/sid", Some(C1), C2),
            staged("refs/tags/import/1.0-2", None, C2),
        ]
    );
    let rows = plan.rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].distro.as_str(), rows[0].series.as_str()),
        ("debian", "sid")
    );
    assert_eq!(
        (rows[0].pocket.as_str(), rows[0].version.as_str()),
        ("Release", "1.0-2")
    );
    assert_eq!(rows[0].date_created, T1, "Launchpad's own string");
}

#[test]
fn a_version_imported_before_is_a_ref_update_only() {
    let history = [
        found("debian/sid/Release/1.0-1", T0),
        found("debian/trixie/Release/1.0-1", T1),
        found("ubuntu/noble/Proposed/1.0-1", T2),
    ];
    let audit = audit(
        &["debian/sid/Release/1.0-1"],
        &[("1.0-1", C1)],
        &[
            ("refs/heads/importer/debian/sid", C1),
            ("refs/tags/import/1.0-1", C1),
        ],
    );
    let plan = Plan::new(&history, &audit);
    assert_eq!(
        specs(&plan.publications),
        ["debian/trixie/Release/1.0-1", "ubuntu/noble/Proposed/1.0-1"]
    );
    assert!(plan.is_ref_only(), "no new commit, and no tag");
    assert!(plan.builds.is_empty());
    assert_eq!(
        plan.refs,
        [
            planned("refs/heads/importer/debian/trixie", commit(C1), None),
            planned(
                "refs/heads/importer/ubuntu/noble-proposed",
                commit(C1),
                None
            ),
        ]
    );
    assert_eq!(
        plan.refs(&BTreeMap::new()),
        [
            staged("refs/heads/importer/debian/trixie", None, C1),
            staged("refs/heads/importer/ubuntu/noble-proposed", None, C1),
        ]
    );
}

#[test]
fn publications_are_imported_in_date_order_with_the_key_breaking_ties() {
    // Launchpad lists them series by series; equal dates sort by distribution, series,
    // pocket, version.
    let history = [
        found("ubuntu/noble/Release/2.0-1", T1),
        found("debian/sid/Release/2.0-1", T1),
        found("debian/sid/Release/3.0-1", T2),
        found("debian/bookworm/Updates/1.0-1", T1),
        found("debian/bookworm/Security/1.0-1", T1),
        found("debian/sid/Release/1.0-1", T0),
    ];
    let plan = Plan::new(&history, &audit(&[], &[], &[]));
    assert_eq!(
        specs(&plan.publications),
        [
            "debian/sid/Release/1.0-1",
            "debian/bookworm/Security/1.0-1",
            "debian/bookworm/Updates/1.0-1",
            "debian/sid/Release/2.0-1",
            "ubuntu/noble/Release/2.0-1",
            "debian/sid/Release/3.0-1",
        ]
    );
    assert_eq!(
        specs(&plan.builds),
        [
            "debian/sid/Release/1.0-1",
            "debian/sid/Release/2.0-1",
            "debian/sid/Release/3.0-1",
        ]
    );
    let rows: Vec<String> = plan.rows().into_iter().map(|r| r.version).collect();
    assert_eq!(rows, ["1.0-1", "1.0-1", "1.0-1", "2.0-1", "2.0-1", "3.0-1"]);
}

#[test]
fn a_version_in_several_series_is_built_once_from_its_first_publication() {
    let history = [
        found("debian/sid/Release/1.0-1", T1),
        found("debian/trixie/Release/1.0-1", T0),
    ];
    let plan = Plan::new(&history, &audit(&[], &[], &[]));
    assert_eq!(specs(&plan.builds), ["debian/trixie/Release/1.0-1"]);
    assert_eq!(
        plan.builds[0].self_link,
        "https://api.launchpad.net/devel/debian/+archive/primary/+sourcepub/debian/trixie/Release/1.0-1"
    );
    assert_eq!(
        plan.refs(&built(&[("1.0-1", C1)])),
        [
            staged("refs/heads/importer/debian/sid", None, C1),
            staged("refs/heads/importer/debian/trixie", None, C1),
            staged("refs/tags/import/1.0-1", None, C1),
        ]
    );
}

#[test]
fn a_branch_moves_to_its_newest_publication_not_its_highest_version() {
    let history = [
        found("debian/sid/Release/2.0-1", T0),
        found("debian/sid/Release/1:1.0-1", T1),
        found("debian/sid/Release/1.5-1", T2),
    ];
    let audit = audit(&["debian/sid/Release/2.0-1"], &[("2.0-1", C1)], &[]);
    let plan = Plan::new(&history, &audit);
    assert_eq!(
        specs(&plan.builds),
        ["debian/sid/Release/1:1.0-1", "debian/sid/Release/1.5-1"],
        "built in date order, so that parents come first"
    );
    assert_eq!(
        plan.refs,
        [
            planned("refs/heads/importer/debian/sid", version("1.5-1"), None),
            planned("refs/tags/import/1%1.0-1", version("1:1.0-1"), None),
            planned("refs/tags/import/1.5-1", version("1.5-1"), None),
        ]
    );
}

#[test]
fn refs_that_hold_their_target_already_are_left_alone() {
    // The audit knows the refs (adopted from the remote, say) but not these publications.
    let history = [
        found("debian/trixie/Release/1.0-1", T0),
        found("debian/trixie/Release/2.0-1", T1),
        found("debian/sid/Release/1.0-1", T1),
    ];
    let audit = audit(
        &[],
        &[("1.0-1", C1)],
        &[
            ("refs/heads/importer/debian/sid", C1),
            ("refs/heads/importer/debian/trixie", C2),
            ("refs/tags/import/2.0-1", C2),
        ],
    );
    let plan = Plan::new(&history, &audit);
    assert_eq!(specs(&plan.builds), ["debian/trixie/Release/2.0-1"]);
    assert_eq!(plan.refs.len(), 3);
    assert!(
        plan.refs(&built(&[("2.0-1", C2)])).is_empty(),
        "every ref is where the plan moves it"
    );
    assert_eq!(
        plan.refs(&built(&[("2.0-1", C3)])),
        [
            staged("refs/heads/importer/debian/trixie", Some(C2), C3),
            staged("refs/tags/import/2.0-1", Some(C2), C3),
        ]
    );
}
