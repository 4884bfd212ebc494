//! The plan's rules, data in, plan out: no git, no database, no network.

use std::collections::BTreeMap;

use pkgimport_audit::Phase;
use pkgimport_lp_client::{LpDateTime, Publication, PublicationStatus};
use pkgimport_queue::audit::{AppliedTip, AuditView, PublicationRow, StagedAudit};
use pkgimport_queue::series::SeriesRow;

use super::refs::PublishCommit;
use super::{Commits, Found, Move, Plan, SeriesStatus, Target, VersionCommit};

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
    audit_at(
        &publications
            .iter()
            .map(|p| (*p, "2020-01-01T00:00:00+00:00"))
            .collect::<Vec<_>>(),
        versions,
        refs,
    )
}

/// [`audit`] with each publication's date.
fn audit_at(
    publications: &[(&str, &str)],
    versions: &[(&str, &str)],
    refs: &[(&str, &str)],
) -> AuditView {
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
            .map(|(spec, date)| {
                let [distro, series, pocket, version] = spec.split('/').collect::<Vec<_>>()[..]
                else {
                    panic!("bad spec {spec}")
                };
                PublicationRow {
                    distro: distro.to_owned(),
                    series: series.to_owned(),
                    pocket: pocket.to_owned(),
                    version: version.to_owned(),
                    date_created: (*date).to_owned(),
                }
            })
            .collect(),
        staged: StagedAudit::default(),
        ref_versions: BTreeMap::new(),
        version_facts: BTreeMap::new(),
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

const DISTROS: [&str; 2] = ["ubuntu", "debian"];

fn plan<'a>(history: &'a [Found], audit: &AuditView) -> Plan<'a> {
    let distributions: Vec<String> = DISTROS.iter().map(|d| (*d).to_owned()).collect();
    Plan::new(history, audit, &distributions)
}

/// Version commits: `(version, commit, parent)`; each tree is named after its commit.
fn commits(list: &[(&str, &str, Option<&str>)]) -> Commits {
    let mut c = Commits::default();
    for (version, commit, parent) in list {
        c.insert(
            version,
            VersionCommit {
                commit: (*commit).to_owned(),
                parent: parent.map(str::to_owned),
                tree: tree_of(commit),
                applied: None,
            },
        );
    }
    c
}

fn tree_of(commit: &str) -> String {
    commit.replace(|c: char| c.is_ascii_digit(), "t")
}

/// Ubuntu develops in resolute; Debian in sid.
fn series() -> SeriesStatus {
    let row = |name: &str, status: &str| SeriesRow {
        name: name.to_owned(),
        status: status.to_owned(),
    };
    SeriesStatus::from([
        (
            "ubuntu".to_owned(),
            vec![
                row("jammy", "Supported"),
                row("noble", "Supported"),
                row("questing", "Current Stable Release"),
                row("resolute", "Active Development"),
            ],
        ),
        (
            "debian".to_owned(),
            vec![
                row("bookworm", "Supported"),
                row("trixie", "Current Stable Release"),
                row("sid", "Active Development"),
            ],
        ),
    ])
}

/// A move straight to a commit.
fn to(name: &str, old: Option<&str>, version: &str, commit: &str) -> Move {
    Move {
        name: name.to_owned(),
        old: old.map(str::to_owned),
        version: version.to_owned(),
        target: Target::Commit(commit.to_owned()),
    }
}

fn moves(plan: &Plan<'_>, audit: &AuditView, commits: &Commits) -> Vec<Move> {
    plan.moves("hello", audit, commits, &series(), true)
}

/// The publish commit of a move, which must have one.
fn publish(m: &Move) -> &PublishCommit {
    match &m.target {
        Target::Publish(p) => p,
        Target::Commit(c) => panic!("{} moves straight to {c}", m.name),
    }
}

const T0: &str = "2024-01-01T00:00:00+00:00";
const T1: &str = "2024-02-01T00:00:00.5+00:00";
const T2: &str = "2024-03-01T00:00:00+00:00";

const SID: &str = "refs/heads/importer/debian/sid";
const RESOLUTE: &str = "refs/heads/importer/ubuntu/resolute";
const UBUNTU_DEVEL: &str = "refs/heads/importer/ubuntu/devel";
const DEBIAN_DEVEL: &str = "refs/heads/importer/debian/devel";

#[test]
fn nothing_new_is_an_empty_plan() {
    let history = [found("debian/sid/Release/1.0-1", T0)];
    let audit = audit(
        &["debian/sid/Release/1.0-1"],
        &[("1.0-1", C1)],
        &[(SID, C1), ("refs/tags/import/1.0-1", C1)],
    );
    let plan = plan(&history, &audit);
    assert!(plan.is_empty());
    assert!(plan.builds.is_empty());
    assert!(plan.rows().is_empty());
}

#[test]
fn a_new_version_is_built_and_fast_forwards_its_branch_and_gets_its_tag() {
    let history = [
        found("debian/sid/Release/1.0-1", T0),
        found("debian/sid/Release/1.0-2", T1),
    ];
    let audit = audit(
        &["debian/sid/Release/1.0-1"],
        &[("1.0-1", C1)],
        &[
            (SID, C1),
            (DEBIAN_DEVEL, C1),
            ("refs/tags/import/1.0-1", C1),
        ],
    );
    let plan = plan(&history, &audit);
    assert_eq!(specs(&plan.publications), ["debian/sid/Release/1.0-2"]);
    assert_eq!(specs(&plan.builds), ["debian/sid/Release/1.0-2"]);
    assert!(!plan.is_ref_only());
    let commits = commits(&[("1.0-1", C1, None), ("1.0-2", C2, Some(C1))]);
    assert_eq!(
        moves(&plan, &audit, &commits),
        [
            to(DEBIAN_DEVEL, Some(C1), "1.0-2", C2),
            to(SID, Some(C1), "1.0-2", C2),
            to("refs/tags/import/1.0-2", None, "1.0-2", C2),
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
        &[(SID, C1), ("refs/tags/import/1.0-1", C1)],
    );
    let plan = plan(&history, &audit);
    assert_eq!(
        specs(&plan.publications),
        ["debian/trixie/Release/1.0-1", "ubuntu/noble/Proposed/1.0-1"]
    );
    assert!(plan.is_ref_only(), "no new commit, and no tag");
    assert_eq!(
        moves(&plan, &audit, &commits(&[("1.0-1", C1, None)])),
        [
            to(DEBIAN_DEVEL, None, "1.0-1", C1),
            to("refs/heads/importer/debian/trixie", None, "1.0-1", C1),
            to(
                "refs/heads/importer/ubuntu/noble-proposed",
                None,
                "1.0-1",
                C1
            ),
        ]
    );
}

#[test]
fn publications_are_imported_in_date_order_with_the_key_breaking_ties() {
    // Launchpad lists them distribution by distribution; equal dates sort by distribution,
    // series, pocket, version.
    let history = [
        found("ubuntu/noble/Release/2.0-1", T1),
        found("debian/sid/Release/2.0-1", T1),
        found("debian/sid/Release/3.0-1", T2),
        found("debian/bookworm/Updates/1.0-1", T1),
        found("debian/bookworm/Security/1.0-1", T1),
        found("debian/sid/Release/1.0-1", T0),
    ];
    let plan = plan(&history, &audit(&[], &[], &[]));
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
    let audit = audit(&[], &[], &[]);
    let plan = plan(&history, &audit);
    assert_eq!(specs(&plan.builds), ["debian/trixie/Release/1.0-1"]);
    assert_eq!(
        plan.builds[0].self_link,
        "https://api.launchpad.net/devel/debian/+archive/primary/+sourcepub/debian/trixie/Release/1.0-1"
    );
    assert_eq!(
        moves(&plan, &audit, &commits(&[("1.0-1", C1, None)])),
        [
            to(DEBIAN_DEVEL, None, "1.0-1", C1),
            to(SID, None, "1.0-1", C1),
            to("refs/heads/importer/debian/trixie", None, "1.0-1", C1),
            to("refs/tags/import/1.0-1", None, "1.0-1", C1),
        ]
    );
}

#[test]
fn ancestry_decides_the_build_order_before_dates() {
    // Launchpad created Ubuntu's merge before the Debian version it merges.
    let history = [
        found("debian/sid/Release/2.0-1", T2),
        found("ubuntu/resolute/Proposed/2.0-1ubuntu1", T0),
        found("debian/sid/Release/1.0-1", T1),
    ];
    let mut plan = plan(&history, &audit(&[], &[], &[]));
    assert_eq!(
        specs(&plan.builds),
        [
            "ubuntu/resolute/Proposed/2.0-1ubuntu1",
            "debian/sid/Release/1.0-1",
            "debian/sid/Release/2.0-1",
        ],
        "first, by date"
    );
    let changelogs = BTreeMap::from([
        (
            "2.0-1ubuntu1".to_owned(),
            vec!["2.0-1ubuntu1".into(), "2.0-1".into(), "1.0-1".into()],
        ),
        ("2.0-1".to_owned(), vec!["2.0-1".into(), "1.0-1".into()]),
        ("1.0-1".to_owned(), vec!["1.0-1".into()]),
    ]);
    plan.order_builds(&changelogs);
    assert_eq!(
        specs(&plan.builds),
        [
            "debian/sid/Release/1.0-1",
            "debian/sid/Release/2.0-1",
            "ubuntu/resolute/Proposed/2.0-1ubuntu1",
        ],
        "every changelog parent before its child"
    );
}

#[test]
fn unrelated_versions_keep_their_dates_then_the_distributions_order() {
    let history = [
        found("debian/sid/Release/3.0-1", T1),
        found("debian/sid/Release/2.0-1", T0),
        found("ubuntu/resolute/Release/2.5-0ubuntu1", T0),
    ];
    let mut plan = plan(&history, &audit(&[], &[], &[]));
    // No changelog names another version of the run.
    plan.order_builds(&BTreeMap::new());
    assert_eq!(
        specs(&plan.builds),
        [
            "ubuntu/resolute/Release/2.5-0ubuntu1",
            "debian/sid/Release/2.0-1",
            "debian/sid/Release/3.0-1",
        ],
        "same date: ubuntu is listed first in launchpad.distributions"
    );
    // Two changelogs that name each other (never in a real archive) do not stop the run:
    // the cycle is broken in the same order, after what is free to go.
    let changelogs = BTreeMap::from([
        (
            "3.0-1".to_owned(),
            vec!["3.0-1".into(), "2.5-0ubuntu1".into()],
        ),
        (
            "2.5-0ubuntu1".to_owned(),
            vec!["2.5-0ubuntu1".into(), "3.0-1".into()],
        ),
    ]);
    plan.order_builds(&changelogs);
    assert_eq!(
        specs(&plan.builds),
        [
            "debian/sid/Release/2.0-1",
            "ubuntu/resolute/Release/2.5-0ubuntu1",
            "debian/sid/Release/3.0-1",
        ]
    );
}

#[test]
fn a_sync_that_drops_ubuntus_delta_moves_the_branch_by_a_publish_commit() {
    // resolute held Ubuntu's 1.0-1ubuntu1; Debian's 2.0-1 is synced unchanged. 2.0-1 does
    // not descend from 1.0-1ubuntu1 (both descend from 1.0-1).
    let history = [
        found("debian/sid/Release/1.0-1", T0),
        found("ubuntu/resolute/Release/1.0-1ubuntu1", T0),
        found("debian/sid/Release/2.0-1", T1),
        found("ubuntu/resolute/Release/2.0-1", T2),
    ];
    let audit = audit_at(
        &[
            ("debian/sid/Release/1.0-1", T0),
            ("ubuntu/resolute/Release/1.0-1ubuntu1", T0),
            ("debian/sid/Release/2.0-1", T1),
        ],
        &[("1.0-1", C1), ("1.0-1ubuntu1", C2), ("2.0-1", C3)],
        &[
            (SID, C3),
            (DEBIAN_DEVEL, C3),
            (RESOLUTE, C2),
            (UBUNTU_DEVEL, C2),
        ],
    );
    let plan = plan(&history, &audit);
    assert!(plan.is_ref_only());
    let commits = commits(&[
        ("1.0-1", C1, None),
        ("1.0-1ubuntu1", C2, Some(C1)),
        ("2.0-1", C3, Some(C1)),
    ]);
    let moved = moves(&plan, &audit, &commits);
    assert_eq!(
        moved.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        [UBUNTU_DEVEL, RESOLUTE]
    );
    for m in &moved {
        assert_eq!(m.version, "2.0-1");
        assert_eq!(m.old.as_deref(), Some(C2));
        let p = publish(m);
        assert_eq!(p.parents, [C2.to_owned(), C3.to_owned()], "old tip first");
        assert_eq!(p.tree, tree_of(C3), "the version's tree");
        assert_eq!(
            p.time, 1_709_251_200,
            "when Launchpad created the publication"
        );
        assert!(
            p.message
                .starts_with("Publish hello 2.0-1 on importer/ubuntu/"),
            "{}",
            p.message
        );
        assert!(
            p.message.contains("held the import of 1.0-1ubuntu1"),
            "{}",
            p.message
        );
    }
}

#[test]
fn a_version_superseded_by_an_older_one_moves_the_branch_forward_too() {
    // 1.0-2 is removed and 1.0-1 published again: a new publication of an older version.
    let history = [
        found("debian/sid/Release/1.0-2", T1),
        found("debian/sid/Release/1.0-1", T2),
    ];
    let audit = audit_at(
        &[("debian/sid/Release/1.0-2", T1)],
        &[("1.0-1", C1), ("1.0-2", C2)],
        &[(SID, C2)],
    );
    let plan = plan(&history, &audit);
    let commits = commits(&[("1.0-1", C1, None), ("1.0-2", C2, Some(C1))]);
    let moved = moves(&plan, &audit, &commits);
    let sid = moved.iter().find(|m| m.name == SID).unwrap();
    assert_eq!(publish(sid).parents, [C2.to_owned(), C1.to_owned()]);
    assert_eq!(sid.version, "1.0-1");
}

#[test]
fn a_branch_at_a_publish_commit_keeps_moving_by_publish_commits() {
    let history = [found("ubuntu/resolute/Release/2.0-1ubuntu1", T2)];
    let publish_commit = "4444444444444444444444444444444444444444";
    let mut audit = audit(
        &[],
        &[("2.0-1", C1), ("2.0-1ubuntu1", C2)],
        &[(RESOLUTE, publish_commit)],
    );
    audit
        .ref_versions
        .insert(RESOLUTE.to_owned(), "2.0-1".to_owned());
    let plan = plan(&history, &audit);
    let commits = commits(&[("2.0-1", C1, None), ("2.0-1ubuntu1", C2, Some(C1))]);
    let moved = moves(&plan, &audit, &commits);
    let resolute = moved.iter().find(|m| m.name == RESOLUTE).unwrap();
    assert_eq!(
        publish(resolute).parents,
        [publish_commit.to_owned(), C2.to_owned()],
        "2.0-1ubuntu1 descends from 2.0-1, not from the publish commit"
    );
    // A branch that holds the version already (by a publish commit) stays.
    let history = [found("ubuntu/resolute/Release/2.0-1", T2)];
    let plan = self::plan(&history, &audit);
    assert!(
        moves(&plan, &audit, &commits)
            .iter()
            .all(|m| m.name != RESOLUTE)
    );
}

#[test]
fn the_devel_alias_follows_the_newest_version_of_the_development_series() {
    // resolute has 2.0-1 in Release and 2.1-1 in Proposed; noble's newer-looking backport
    // is not in the development series.
    let history = [
        found("ubuntu/resolute/Release/2.0-1", T0),
        found("ubuntu/resolute/Proposed/2.1-1", T1),
        found("ubuntu/noble/Backports/3.0-1~24.04.1", T2),
        found("ubuntu/resolute/Updates/9.0-1", T2),
    ];
    let audit = audit(&[], &[], &[]);
    let plan = plan(&history, &audit);
    let commits = commits(&[
        ("2.0-1", C1, None),
        ("2.1-1", C2, Some(C1)),
        ("3.0-1~24.04.1", C3, Some(C2)),
        (
            "9.0-1",
            "5555555555555555555555555555555555555555",
            Some(C2),
        ),
    ]);
    let moved = moves(&plan, &audit, &commits);
    let devel = moved.iter().find(|m| m.name == UBUNTU_DEVEL).unwrap();
    assert_eq!(*devel, to(UBUNTU_DEVEL, None, "2.1-1", C2));
    assert!(
        moved.iter().all(|m| m.name != DEBIAN_DEVEL),
        "no Debian publication"
    );
}

#[test]
fn a_new_development_series_moves_the_alias_by_a_ref_update_only() {
    // The next series opens with copies of what resolute had: nothing new to build, and
    // the alias already holds the newest version.
    let history = [
        found("ubuntu/resolute/Release/2.0-1", T0),
        found("ubuntu/stonking/Release/2.0-1", T2),
    ];
    let audit = audit_at(
        &[("ubuntu/resolute/Release/2.0-1", T0)],
        &[("2.0-1", C1)],
        &[
            (RESOLUTE, C1),
            (UBUNTU_DEVEL, C1),
            ("refs/tags/import/2.0-1", C1),
        ],
    );
    let plan = plan(&history, &audit);
    assert!(plan.is_ref_only());
    let mut series = series();
    let ubuntu = series.get_mut("ubuntu").unwrap();
    ubuntu.last_mut().unwrap().status = "Current Stable Release".into();
    ubuntu.push(SeriesRow {
        name: "stonking".into(),
        status: "Active Development".into(),
    });
    let moved = plan.moves(
        "hello",
        &audit,
        &commits(&[("2.0-1", C1, None)]),
        &series,
        true,
    );
    assert_eq!(
        moved,
        [to("refs/heads/importer/ubuntu/stonking", None, "2.0-1", C1)],
        "the alias holds 2.0-1 already"
    );
}

#[test]
fn a_ref_the_importer_did_not_write_gets_a_publish_commit() {
    // Adopted from the remote: the audit does not know which version it holds.
    let foreign = "6666666666666666666666666666666666666666";
    let history = [found("debian/trixie/Release/1.0-2", T1)];
    let audit = audit(
        &[],
        &[("1.0-1", C1), ("1.0-2", C2)],
        &[("refs/heads/importer/debian/trixie", foreign)],
    );
    let plan = plan(&history, &audit);
    let commits = commits(&[("1.0-1", C1, None), ("1.0-2", C2, Some(C1))]);
    let moved = moves(&plan, &audit, &commits);
    let trixie = moved
        .iter()
        .find(|m| m.name == "refs/heads/importer/debian/trixie")
        .unwrap();
    assert_eq!(publish(trixie).parents, [foreign.to_owned(), C2.to_owned()]);
    assert!(
        publish(trixie)
            .message
            .contains("a commit the importer does not know as an import")
    );
}

const A1: &str = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
const A2: &str = "a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2";
const APPLIED_SID: &str = "refs/heads/importer/applied/debian/sid";
const APPLIED_DEBIAN_DEVEL: &str = "refs/heads/importer/applied/debian/devel";

/// Version commits with the ends of their chains: `(version, commit, parent, chain end)`;
/// a chain end's tree is named after it.
fn chains(list: &[(&str, &str, Option<&str>, Option<&str>)]) -> Commits {
    let mut c = Commits::default();
    for (version, commit, parent, end) in list {
        c.insert(
            version,
            VersionCommit {
                commit: (*commit).to_owned(),
                parent: parent.map(str::to_owned),
                tree: tree_of(commit),
                applied: end.map(|end| AppliedTip {
                    commit: end.to_owned(),
                    tree: format!("{end}-tree"),
                }),
            },
        );
    }
    c
}

/// sid holds 1.0-1; 1.0-2 (a child of 1.0-1) is new.
fn one_new_version(applied_refs: &[(&'static str, &'static str)]) -> (Vec<Found>, AuditView) {
    let history = vec![
        found("debian/sid/Release/1.0-1", T0),
        found("debian/sid/Release/1.0-2", T1),
    ];
    let mut refs = vec![
        (SID, C1),
        (DEBIAN_DEVEL, C1),
        ("refs/tags/import/1.0-1", C1),
    ];
    refs.extend_from_slice(applied_refs);
    let audit = audit(&["debian/sid/Release/1.0-1"], &[("1.0-1", C1)], &refs);
    (history, audit)
}

#[test]
fn applied_branches_follow_their_twins_to_the_end_of_each_chain() {
    // 1.0-1 had patches: its chain ends at A1, which 1.0-2's chain (from C2, a child of C1)
    // does not descend from, so the applied branches move by publish commits.
    let (history, audit) = one_new_version(&[
        (APPLIED_SID, A1),
        (APPLIED_DEBIAN_DEVEL, A1),
        ("refs/tags/applied/1.0-1", A1),
    ]);
    let plan = plan(&history, &audit);
    let commits = chains(&[
        ("1.0-1", C1, None, Some(A1)),
        ("1.0-2", C2, Some(C1), Some(A2)),
    ]);
    let moved = moves(&plan, &audit, &commits);
    let names: Vec<&str> = moved.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            APPLIED_DEBIAN_DEVEL,
            APPLIED_SID,
            DEBIAN_DEVEL,
            SID,
            "refs/tags/applied/1.0-2",
            "refs/tags/import/1.0-2",
        ]
    );
    for m in &moved[..2] {
        let p = publish(m);
        assert_eq!(p.parents, [A1.to_owned(), A2.to_owned()], "old tip first");
        assert_eq!(p.tree, format!("{A2}-tree"), "the version's applied tree");
        assert!(
            p.message.contains("held 1.0-1 with its patches applied"),
            "{}",
            p.message
        );
    }
    assert_eq!(moved[2], to(DEBIAN_DEVEL, Some(C1), "1.0-2", C2));
    assert_eq!(moved[4], to("refs/tags/applied/1.0-2", None, "1.0-2", A2));
}

#[test]
fn an_applied_branch_at_a_version_without_patches_fast_forwards() {
    // 1.0-1 had no patches: its chain is its own commit, an ancestor of 1.0-2's chain.
    let (history, audit) = one_new_version(&[
        (APPLIED_SID, C1),
        (APPLIED_DEBIAN_DEVEL, C1),
        ("refs/tags/applied/1.0-1", C1),
    ]);
    let plan = plan(&history, &audit);
    let commits = chains(&[
        ("1.0-1", C1, None, Some(C1)),
        ("1.0-2", C2, Some(C1), Some(A2)),
    ]);
    let moved = moves(&plan, &audit, &commits);
    assert_eq!(moved[0], to(APPLIED_DEBIAN_DEVEL, Some(C1), "1.0-2", A2));
    assert_eq!(moved[1], to(APPLIED_SID, Some(C1), "1.0-2", A2));
}

#[test]
fn a_version_without_a_chain_moves_no_applied_ref() {
    // 1.0-2's patches do not apply: its twins stay at 1.0-1's chain, and it gets no
    // applied tag; with chains turned off, no applied ref moves either.
    let (history, audit) = one_new_version(&[
        (APPLIED_SID, A1),
        (APPLIED_DEBIAN_DEVEL, A1),
        ("refs/tags/applied/1.0-1", A1),
    ]);
    let plan = plan(&history, &audit);
    let commits = chains(&[("1.0-1", C1, None, Some(A1)), ("1.0-2", C2, Some(C1), None)]);
    let unapplied = [
        to(DEBIAN_DEVEL, Some(C1), "1.0-2", C2),
        to(SID, Some(C1), "1.0-2", C2),
        to("refs/tags/import/1.0-2", None, "1.0-2", C2),
    ];
    assert_eq!(moves(&plan, &audit, &commits), unapplied);
    let with_chain = chains(&[
        ("1.0-1", C1, None, Some(A1)),
        ("1.0-2", C2, Some(C1), Some(A2)),
    ]);
    assert_eq!(
        plan.moves("hello", &audit, &with_chain, &series(), false),
        unapplied
    );
}
