//! A real state database in a temporary directory, filled through the public `Store` API
//! only (the same calls the driver, the poller and import-one make), plus the log files the
//! driver would have written under the state directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pkgimport_core::{PackageName, Priority};
use pkgimport_queue::audit::{PublicationRow, StagedAudit, StagedRef};
use pkgimport_queue::monitor::SeenPublication;
use pkgimport_queue::series::SeriesRow;
use pkgimport_queue::{Disposition, NewFailure, Outcome, RunEnd, Store, Timestamp};
use pkgimport_report::{ReportOptions, ReportSummary, write_report};

pub(crate) const SCRIPT: &str = "<script>alert(1)</script>";
pub(crate) const IMG: &str = "\"><img src=x onerror=alert(1)>";
pub(crate) const SCRIPT_ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";
pub(crate) const IMG_ESCAPED: &str = "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;";
pub(crate) const DIVERGED: &str = "remote diverged: refs/heads/importer/debian/sid";

pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) store: Store,
}

pub(crate) fn name(raw: &str) -> PackageName {
    PackageName::parse(raw).unwrap()
}

fn publication(series: &str, version: &str, date: &str) -> PublicationRow {
    PublicationRow {
        distro: "debian".into(),
        series: series.into(),
        pocket: "Release".into(),
        version: version.into(),
        date_created: date.into(),
    }
}

fn seen(package: &str, series: &str, version: &str, date: &str) -> SeenPublication {
    SeenPublication {
        package: package.into(),
        distro: "debian".into(),
        series: series.into(),
        pocket: "Release".into(),
        version: version.into(),
        date_created: date.into(),
        seen_at: Timestamp::now(),
    }
}

/// Launchpad's times, compared as times (what `pkgimport_importer::poll::later` does).
fn later(a: &str, b: &str) -> bool {
    match (
        chrono::DateTime::parse_from_rfc3339(a),
        chrono::DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(a), Ok(b)) => a > b,
        _ => false,
    }
}

impl Fixture {
    pub(crate) fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Where reports go: `www/site`, alone in `www` so that leftovers are easy to see.
    pub(crate) fn out_dir(&self) -> PathBuf {
        self.dir.path().join("www/site")
    }

    pub(crate) fn options(&self) -> ReportOptions {
        ReportOptions::with_default_limits(self.state_dir(), Timestamp::now())
    }

    pub(crate) fn write(&mut self) -> ReportSummary {
        let options = self.options();
        let out = self.out_dir();
        write_report(&mut self.store, &options, &out).unwrap()
    }

    pub(crate) fn read(&self, rel: &str) -> String {
        let path = self.out_dir().join(rel);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Queues, claims and runs one job of `package` to its end, with `log` as its output.
    fn run(&mut self, package: &str, log: &str, end: RunEnd) {
        let p = name(package);
        self.store.enqueue(&[p], Priority::UPLOAD).unwrap();
        let claim = self.store.claim(1).unwrap().expect("claimable");
        assert_eq!(claim.package.as_str(), package);
        self.store
            .set_run_process(claim.run_id, 4242, None)
            .unwrap();
        write_log(&self.state_dir(), &claim.log_path, log);
        self.store.finish_run(claim.run_id, &end).unwrap();
    }

    fn fail(&mut self, package: &str, log: &str, signature: &str, tail: &str) {
        self.run(
            package,
            log,
            RunEnd {
                outcome: Outcome::Failed,
                exit_code: Some(65),
                signal: None,
                disposition: Disposition::Fail(NewFailure {
                    signature: signature.into(),
                    tail: tail.into(),
                    transient: false,
                }),
            },
        );
    }

    /// The three-phase audit commit, as import-one does it after a push.
    fn import(
        &mut self,
        package: &str,
        refs: &[(&str, &str)],
        versions: &[(&str, &str)],
        pubs: Vec<PublicationRow>,
    ) {
        let p = name(package);
        let staged = StagedAudit {
            refs: refs
                .iter()
                .map(|(r, c)| StagedRef {
                    name: (*r).into(),
                    old: None,
                    new: (*c).into(),
                })
                .collect(),
            versions: versions
                .iter()
                .map(|(v, c)| ((*v).to_owned(), (*c).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            publications: pubs,
            ..StagedAudit::default()
        };
        self.store.audit_stage(&p, &staged).unwrap();
        self.store.audit_mark(&p, None).unwrap();
        self.store.audit_commit(&p).unwrap();
        self.store.audit_unmark(&p).unwrap();
    }
}

fn write_log(state_dir: &Path, rel: &str, text: &str) {
    let path = state_dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The scene every test starts from:
/// - `hello`: imported into sid (2.10-3) and trixie (2.10-2), the newest seen publication
///   is imported: UP-TO-DATE; one successful run with a log;
/// - `stale`: imported 1.0-1, the poller saw 1.0-2 later: OUT-OF-DATE; failed `DIVERGED`;
/// - `other`: failed `DIVERGED` too, so that group has two packages;
/// - `evil`: hostile text in its changelog (the log), its failure signature and tail, a
///   branch name and a version; OUT-OF-DATE; needs attention;
/// - `busy`: running; `waiting`: queued;
/// - the series: Debian's bookworm, trixie and sid (in development) and Ubuntu's warty
///   (obsolete) as poll-uploads lists them, and the watermarks of sid (where `stale` is
///   behind, 29 days less half a second) and trixie (current). `evil`'s hostile series is
///   known only from its seen publication.
pub(crate) fn scene() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("state")).unwrap();
    let mut f = Fixture { dir, store };

    f.run(
        "hello",
        "import-one: package=hello\nImport hello 2.10-3\n\n  * New upstream release.\nimported 1 version\n",
        RunEnd {
            outcome: Outcome::Success,
            exit_code: Some(0),
            signal: None,
            disposition: Disposition::Done,
        },
    );
    f.import(
        "hello",
        &[
            (
                "refs/heads/importer/debian/sid",
                "c0ffee0000000000000000000000000000000002",
            ),
            (
                "refs/heads/importer/debian/trixie",
                "c0ffee0000000000000000000000000000000001",
            ),
            (
                "refs/tags/import/2.10-2",
                "c0ffee0000000000000000000000000000000001",
            ),
            (
                "refs/tags/import/2.10-3",
                "c0ffee0000000000000000000000000000000002",
            ),
        ],
        &[
            ("2.10-2", "c0ffee0000000000000000000000000000000001"),
            ("2.10-3", "c0ffee0000000000000000000000000000000002"),
        ],
        vec![
            publication("trixie", "2.10-2", "2024-01-01T00:00:00+00:00"),
            publication("sid", "2.10-3", "2024-02-01T00:00:00.500000+00:00"),
        ],
    );

    f.fail(
        "stale",
        "pushing\nerror: remote diverged\n",
        DIVERGED,
        "error: remote diverged",
    );
    f.import(
        "stale",
        &[(
            "refs/heads/importer/debian/sid",
            "aaaa000000000000000000000000000000000001",
        )],
        &[("1.0-1", "aaaa000000000000000000000000000000000001")],
        vec![publication("sid", "1.0-1", "2024-01-01T00:00:00+00:00")],
    );

    f.fail(
        "other",
        "error: remote diverged\n",
        DIVERGED,
        "error: remote diverged",
    );

    let hostile = format!("{SCRIPT} {IMG}");
    f.fail(
        "evil",
        &format!(
            "Import evil 1.0\n\n  * Fix {SCRIPT}\n  * And {IMG}\nerror: bad tarball {hostile}\n"
        ),
        &format!("bad tarball {hostile}"),
        &format!("error: bad tarball {hostile}"),
    );
    f.import(
        "evil",
        &[(
            &format!("refs/heads/importer/debian/{IMG}"),
            "bbbb000000000000000000000000000000000001",
        )],
        &[(
            &format!("1.0{SCRIPT}"),
            "bbbb000000000000000000000000000000000001",
        )],
        vec![publication(
            "sid",
            &format!("1.0{SCRIPT}"),
            "2024-01-01T00:00:00+00:00",
        )],
    );
    f.store.set_needs_attention(&[name("evil")]).unwrap();

    f.store
        .record_seen(
            &[
                // The same publication as imported, in Launchpad's other spelling of the time.
                seen("hello", "sid", "2.10-3", "2024-02-01T00:00:00.5+00:00"),
                seen("stale", "sid", "1.0-2", "2024-03-01T00:00:00+00:00"),
                seen(
                    "evil",
                    &format!("sid{IMG}"),
                    &format!("2.0{SCRIPT}"),
                    "2024-03-01T00:00:00+00:00",
                ),
            ],
            later,
        )
        .unwrap();

    let series = |rows: &[(&str, &str)]| -> Vec<SeriesRow> {
        rows.iter()
            .map(|(name, status)| SeriesRow {
                name: (*name).into(),
                status: (*status).into(),
            })
            .collect()
    };
    f.store
        .set_series(
            "debian",
            &series(&[
                ("bookworm", "Supported"),
                ("trixie", "Current Stable Release"),
                ("sid", "Active Development"),
            ]),
        )
        .unwrap();
    f.store
        .set_series("ubuntu", &series(&[("warty", "Obsolete")]))
        .unwrap();
    f.store
        .set_watermarks(&[
            (
                "debian".into(),
                "sid".into(),
                "2024-03-01T00:00:00+00:00".into(),
            ),
            (
                "debian".into(),
                "trixie".into(),
                "2024-01-01T00:00:00+00:00".into(),
            ),
        ])
        .unwrap();

    f.store.enqueue(&[name("busy")], Priority::MANUAL).unwrap();
    let busy = f.store.claim(1).unwrap().expect("busy is claimable");
    assert_eq!(busy.package.as_str(), "busy");
    f.store.set_run_process(busy.run_id, 4343, None).unwrap();
    f.store
        .enqueue(&[name("waiting")], Priority::UPLOAD)
        .unwrap();

    f.store
        .heartbeat("driver", "buildd-1", 777, Timestamp::now())
        .unwrap();
    f.store.add_counters(&[("lp_requests_total", 7)]).unwrap();
    f
}
