//! The audit tables follow the three-phase state machine, on a real SQLite file and, when
//! `PKGIMPORT_TEST_PG_URL` is set, on a fresh PostgreSQL database.

mod common;

use std::collections::BTreeMap;

use common::{TestDb, each_backend};
use pkgimport_audit::Phase;
use pkgimport_core::PackageName;
use pkgimport_queue::audit::{
    AppliedTip, PatchFailure, PatchWarning, PublicationRow, StagedAudit, StagedRef, VersionFacts,
};

fn staged(new: &str, old: Option<&str>) -> StagedAudit {
    StagedAudit {
        refs: vec![StagedRef {
            name: "refs/heads/importer/debian/sid".into(),
            old: old.map(Into::into),
            new: new.into(),
        }],
        versions: BTreeMap::from([("2.10-3".to_owned(), new.to_owned())]),
        publications: vec![PublicationRow {
            distro: "debian".into(),
            series: "sid".into(),
            pocket: "Release".into(),
            version: "2.10-3".into(),
            date_created: "2024-01-01T00:00:00+00:00".into(),
        }],
        ref_versions: BTreeMap::from([(
            "refs/heads/importer/debian/sid".to_owned(),
            "2.10-3".to_owned(),
        )]),
        version_facts: BTreeMap::from([(
            "2.10-3".to_owned(),
            VersionFacts {
                parent: Some("ppp".into()),
                tree: Some("ttt".into()),
                ..VersionFacts::default()
            },
        )]),
    }
}

#[test]
fn three_phases_move_staged_rows_into_the_committed_audit() {
    each_backend(three_phases_on);
}

fn three_phases_on(db: &TestDb) {
    let mut s = db.store();
    let p = PackageName::parse("hello").unwrap();
    assert_eq!(s.audit(&p).unwrap().phase, Phase::Idle);

    s.audit_stage(&p, &staged("aaa", None)).unwrap();
    let a = s.audit(&p).unwrap();
    assert_eq!(a.phase, Phase::Staged);
    assert!(a.refs.is_empty(), "staged rows must not show as committed");
    assert_eq!(a.staged, staged("aaa", None));
    // Staging twice is a bug: the first must be pushed or dropped.
    assert!(s.audit_stage(&p, &staged("bbb", None)).is_err());
    assert!(s.audit_commit(&p).is_err(), "committing before the mark");

    s.audit_drop_staged(&p).unwrap();
    assert_eq!(s.audit(&p).unwrap().phase, Phase::Idle);

    s.audit_stage(&p, &staged("aaa", None)).unwrap();
    s.audit_mark(&p, Some(7)).unwrap();
    assert_eq!(s.audit(&p).unwrap().phase, Phase::Critical);
    assert_eq!(
        s.packages_in_flight().unwrap(),
        [("hello".to_owned(), Phase::Critical)]
    );
    assert!(
        s.audit_drop_staged(&p).is_err(),
        "a marked push must be finished, not dropped"
    );

    s.audit_commit(&p).unwrap();
    let a = s.audit(&p).unwrap();
    assert_eq!(a.phase, Phase::Cleanup);
    assert_eq!(a.refs["refs/heads/importer/debian/sid"], "aaa");
    assert_eq!(a.versions["2.10-3"], "aaa");
    assert_eq!(a.publications.len(), 1);
    assert!(a.staged.refs.is_empty());
    // What each ref holds, and each version's parent and tree, commit with the rest.
    assert_eq!(a.ref_versions["refs/heads/importer/debian/sid"], "2.10-3");
    assert_eq!(a.version_facts["2.10-3"].parent.as_deref(), Some("ppp"));
    assert_eq!(a.version_facts["2.10-3"].tree.as_deref(), Some("ttt"));

    s.audit_unmark(&p).unwrap();
    assert_eq!(s.audit(&p).unwrap().phase, Phase::Idle);
    assert!(s.packages_in_flight().unwrap().is_empty());

    // A second round updates the ref in place.
    s.audit_stage(&p, &staged("ccc", Some("aaa"))).unwrap();
    s.audit_mark(&p, None).unwrap();
    s.audit_commit(&p).unwrap();
    s.audit_unmark(&p).unwrap();
    assert_eq!(
        s.audit(&p).unwrap().refs["refs/heads/importer/debian/sid"],
        "ccc"
    );
    assert_eq!(s.audited_packages().unwrap(), ["hello"]);

    // Versions audited before parents and trees were kept get them filled in, once; facts
    // already recorded are never overwritten.
    let q = PackageName::parse("world").unwrap();
    let mut old = staged("ddd", None);
    old.version_facts.clear();
    old.ref_versions.clear();
    s.audit_stage(&q, &old).unwrap();
    s.audit_mark(&q, None).unwrap();
    s.audit_commit(&q).unwrap();
    s.audit_unmark(&q).unwrap();
    let a = s.audit(&q).unwrap();
    assert!(a.version_facts.is_empty() && a.ref_versions.is_empty());
    let facts = |parent: Option<&str>, tree: &str| {
        BTreeMap::from([(
            "2.10-3".to_owned(),
            VersionFacts {
                parent: parent.map(str::to_owned),
                tree: Some(tree.to_owned()),
                ..VersionFacts::default()
            },
        )])
    };
    s.audit_fill_version_facts(&q, &facts(None, "t1")).unwrap();
    s.audit_fill_version_facts(&q, &facts(Some("p2"), "t2"))
        .unwrap();
    assert_eq!(s.audit(&q).unwrap().version_facts, facts(None, "t1"));
}

#[test]
fn applied_chains_and_patch_warnings_commit_with_their_versions() {
    each_backend(applied_on);
}

fn applied_on(db: &TestDb) {
    let mut s = db.store();
    let p = PackageName::parse("libssh").unwrap();
    let mut audit = staged("aaa", None);
    audit.versions.insert("0.12.2-1".into(), "bbb".into());
    audit.version_facts.get_mut("2.10-3").unwrap().patch_failure = Some(PatchFailure {
        patch: "0003-CVE.patch".into(),
        message: "diff debian/patches/0003-CVE.patch line 24: hunk does not apply".into(),
    });
    audit.version_facts.insert(
        "0.12.2-1".into(),
        VersionFacts {
            parent: None,
            tree: Some("tb".into()),
            applied: Some(AppliedTip {
                commit: "ab".into(),
                tree: "atb".into(),
            }),
            patch_failure: None,
        },
    );
    // In name order, as the audit reads them back.
    audit.refs.insert(
        0,
        StagedRef {
            name: "refs/heads/importer/applied/debian/sid".into(),
            old: None,
            new: "ab".into(),
        },
    );
    audit.ref_versions.insert(
        "refs/heads/importer/applied/debian/sid".into(),
        "0.12.2-1".into(),
    );
    s.audit_stage(&p, &audit).unwrap();
    assert_eq!(s.audit(&p).unwrap().staged, audit, "staged as given");
    assert_eq!(
        s.patch_warnings(10).unwrap(),
        (Vec::new(), 0),
        "not yet committed"
    );
    s.audit_mark(&p, None).unwrap();
    s.audit_commit(&p).unwrap();
    s.audit_unmark(&p).unwrap();
    let a = s.audit(&p).unwrap();
    assert_eq!(a.version_facts, audit.version_facts);
    assert_eq!(
        a.ref_versions["refs/heads/importer/applied/debian/sid"],
        "0.12.2-1"
    );
    let warning = PatchWarning {
        package: "libssh".into(),
        version: "2.10-3".into(),
        patch: "0003-CVE.patch".into(),
        message: "diff debian/patches/0003-CVE.patch line 24: hunk does not apply".into(),
    };
    assert_eq!(s.patch_warnings(10).unwrap(), (vec![warning.clone()], 1));
    assert_eq!(s.patch_warnings(0).unwrap(), (Vec::new(), 1));
    let info = s.show(&p).unwrap();
    assert_eq!(info.patch_warnings, [warning]);
    let debian = &info.distributions[0];
    assert_eq!(debian.name, "debian");
    assert_eq!(
        debian
            .branches
            .iter()
            .map(|b| b.name.as_str())
            .collect::<Vec<_>>(),
        ["importer/debian/sid"]
    );
    assert_eq!(
        debian
            .applied_branches
            .iter()
            .map(|b| (b.name.as_str(), b.version.as_deref()))
            .collect::<Vec<_>>(),
        [("importer/applied/debian/sid", Some("0.12.2-1"))]
    );
}

#[test]
fn series_are_replaced_whole_and_read_oldest_first() {
    each_backend(series_on);
}

fn series_on(db: &TestDb) {
    use pkgimport_queue::series::SeriesRow;
    let mut s = db.store();
    let row = |name: &str, status: &str| SeriesRow {
        name: name.into(),
        status: status.into(),
    };
    assert!(s.series("ubuntu").unwrap().is_empty());
    s.set_series(
        "ubuntu",
        &[
            row("noble", "Supported"),
            row("resolute", "Active Development"),
        ],
    )
    .unwrap();
    s.set_series("debian", &[row("sid", "Active Development")])
        .unwrap();
    s.set_series(
        "ubuntu",
        &[
            row("noble", "Supported"),
            row("resolute", "Current Stable Release"),
            row("stonking", "Active Development"),
        ],
    )
    .unwrap();
    assert_eq!(
        s.series("ubuntu").unwrap(),
        [
            row("noble", "Supported"),
            row("resolute", "Current Stable Release"),
            row("stonking", "Active Development"),
        ]
    );
    assert_eq!(
        s.series("debian").unwrap(),
        [row("sid", "Active Development")]
    );
}

#[test]
fn watermarks_are_stored_together() {
    each_backend(watermarks_on);
}

fn watermarks_on(db: &TestDb) {
    let mut s = db.store();
    assert_eq!(s.watermark("debian", "sid").unwrap(), None);
    let mark = |series: &str, date: &str| ("debian".to_owned(), series.to_owned(), date.to_owned());
    s.set_watermarks(&[
        mark("sid", "2024-01-02T00:00:00+00:00"),
        mark("trixie", "2024-01-01T00:00:00+00:00"),
    ])
    .unwrap();
    assert_eq!(
        s.watermark("debian", "sid").unwrap().as_deref(),
        Some("2024-01-02T00:00:00+00:00")
    );
    s.set_watermarks(&[mark("sid", "2024-02-02T00:00:00+00:00")])
        .unwrap();
    assert_eq!(
        s.watermark("debian", "sid").unwrap().as_deref(),
        Some("2024-02-02T00:00:00+00:00")
    );
    assert_eq!(s.watermarks().unwrap().len(), 2);
}
