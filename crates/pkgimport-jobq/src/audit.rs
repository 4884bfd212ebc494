//! The audit trail's tables, driven by the pure state machine of `pkgimport-audit`.
//!
//! Each method is one transaction that reads the package's phase, checks that the step is
//! allowed from it, and changes the rows and the mark together. So the stored facts always
//! describe a phase, and the step that a crash interrupted is either wholly done or not at
//! all.

use std::collections::BTreeMap;

use pkgimport_audit::{Event, Mark, Phase};
use pkgimport_core::PackageName;
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use crate::model::Timestamp;
use crate::store::Store;
use crate::{Error, Result, db};

/// One ref about to be published: its expected remote value and its new one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StagedRef {
    pub name: String,
    /// What the remote should hold now; `None` for a ref that must not exist yet.
    pub old: Option<String>,
    pub new: String,
}

/// One publication, imported or about to be.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PublicationRow {
    pub distro: String,
    pub series: String,
    pub pocket: String,
    pub version: String,
    pub date_created: String,
}

/// Everything one import run wants to publish.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StagedAudit {
    pub refs: Vec<StagedRef>,
    /// version → commit id
    pub versions: BTreeMap<String, String>,
    pub publications: Vec<PublicationRow>,
}

/// The audit of one package as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditView {
    pub phase: Phase,
    /// ref → commit id, as committed.
    pub refs: BTreeMap<String, String>,
    /// version → commit id, as committed.
    pub versions: BTreeMap<String, String>,
    pub publications: Vec<PublicationRow>,
    pub staged: StagedAudit,
}

impl Store {
    /// The whole audit of a package, committed and staged.
    pub fn audit(&mut self, package: &PackageName) -> Result<AuditView> {
        let p = package.as_str();
        db::retry("reading the audit", || {
            let tx = self.conn().transaction()?;
            let phase = phase(&tx, p)?;
            let refs = pairs(&tx, "SELECT ref, oid FROM audit_refs WHERE package = ?1", p)?;
            let versions = pairs(
                &tx,
                "SELECT version, commit_oid FROM audit_versions WHERE package = ?1",
                p,
            )?;
            let published = publications(&tx, "audit_publications", p)?;
            let staged = StagedAudit {
                refs: tx
                    .prepare_cached("SELECT ref, old_oid, new_oid FROM staged_refs WHERE package = ?1 ORDER BY ref")?
                    .query_map([p], |r| Ok(StagedRef { name: r.get(0)?, old: r.get(1)?, new: r.get(2)? }))?
                    .collect::<rusqlite::Result<_>>()?,
                versions: pairs(&tx, "SELECT version, commit_oid FROM staged_versions WHERE package = ?1", p)?,
                publications: publications(&tx, "staged_publications", p)?,
            };
            Ok(AuditView {
                phase: phase.map_err(to_sql)?,
                refs,
                versions,
                publications: published,
                staged,
            })
        })
    }

    /// Phase 1: stores the rows about to be published. Allowed only when idle.
    pub fn audit_stage(&mut self, package: &PackageName, staged: &StagedAudit) -> Result<()> {
        let p = package.as_str();
        self.audit_step(package, Event::Stage, "staging the audit", |tx| {
            for r in &staged.refs {
                tx.prepare_cached("INSERT INTO staged_refs (package, ref, old_oid, new_oid) VALUES (?1, ?2, ?3, ?4)")?
                    .execute(params![p, r.name, r.old, r.new])?;
            }
            for (v, c) in &staged.versions {
                tx.prepare_cached("INSERT INTO staged_versions (package, version, commit_oid) VALUES (?1, ?2, ?3)")?
                    .execute(params![p, v, c])?;
            }
            for pubn in &staged.publications {
                tx.prepare_cached(
                    "INSERT INTO staged_publications (package, distro, series, pocket, version, date_created)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![p, pubn.distro, pubn.series, pubn.pocket, pubn.version, pubn.date_created])?;
            }
            Ok(())
        })
    }

    /// Drops the staged rows of a run that never reached the push.
    pub fn audit_drop_staged(&mut self, package: &PackageName) -> Result<()> {
        self.audit_step(
            package,
            Event::DropStaged,
            "dropping the staged audit",
            |tx| delete_staged(tx, package.as_str()),
        )
    }

    /// Phase 2: sets the critical mark, before the push.
    pub fn audit_mark(&mut self, package: &PackageName, run_id: Option<i64>) -> Result<()> {
        let now = Timestamp::now();
        self.audit_step(package, Event::Mark, "marking the critical section", |tx| {
            tx.prepare_cached("INSERT INTO audit_marks (package, mark, run_id, marked_at) VALUES (?1, 'pushing', ?2, ?3)")?
                .execute(params![package.as_str(), run_id, now.0])?;
            Ok(())
        })
    }

    /// The push was refused: nothing was published. Removes the mark; the staged rows stay,
    /// for the caller to drop.
    pub fn audit_abort_push(&mut self, package: &PackageName) -> Result<()> {
        self.audit_step(package, Event::AbortPush, "aborting the push", |tx| {
            tx.prepare_cached("DELETE FROM audit_marks WHERE package = ?1")?
                .execute([package.as_str()])?;
            Ok(())
        })
    }

    /// Phase 3: the push succeeded. Moves the staged rows into the committed audit and the
    /// mark to cleanup, in one transaction.
    pub fn audit_commit(&mut self, package: &PackageName) -> Result<()> {
        let p = package.as_str();
        let now = Timestamp::now();
        self.audit_step(package, Event::CommitAudit, "committing the audit", |tx| {
            tx.prepare_cached(
                "INSERT INTO audit_refs (package, ref, oid, updated_at)
                 SELECT package, ref, new_oid, ?2 FROM staged_refs WHERE package = ?1
                 ON CONFLICT (package, ref) DO UPDATE SET oid = excluded.oid, updated_at = excluded.updated_at",
            )?
            .execute(params![p, now.0])?;
            tx.prepare_cached(
                "INSERT OR REPLACE INTO audit_versions (package, version, commit_oid)
                 SELECT package, version, commit_oid FROM staged_versions WHERE package = ?1",
            )?
            .execute([p])?;
            tx.prepare_cached(
                "INSERT OR IGNORE INTO audit_publications (package, distro, series, pocket, version, date_created)
                 SELECT package, distro, series, pocket, version, date_created
                 FROM staged_publications WHERE package = ?1",
            )?
            .execute([p])?;
            delete_staged(tx, p)?;
            tx.prepare_cached("UPDATE audit_marks SET mark = 'cleanup' WHERE package = ?1")?.execute([p])?;
            Ok(())
        })
    }

    /// Cleanup is done: removes the mark.
    pub fn audit_unmark(&mut self, package: &PackageName) -> Result<()> {
        self.audit_step(package, Event::Unmark, "removing the critical mark", |tx| {
            tx.prepare_cached("DELETE FROM audit_marks WHERE package = ?1")?
                .execute([package.as_str()])?;
            Ok(())
        })
    }

    /// Replaces the committed refs of a package (an operator's explicit resolution, such as
    /// adopting what the remote holds). Allowed only when idle.
    pub fn audit_replace_refs(
        &mut self,
        package: &PackageName,
        refs: &BTreeMap<String, String>,
    ) -> Result<()> {
        let p = package.as_str();
        let now = Timestamp::now();
        db::write(self.conn(), "replacing the audit refs", |tx| {
            let ph = phase(tx, p)?.map_err(to_sql)?;
            if ph != Phase::Idle {
                return Err(to_sql(format!(
                    "package {p} is in phase {ph}; run import-one first to finish it"
                )));
            }
            tx.prepare_cached("DELETE FROM audit_refs WHERE package = ?1")?
                .execute([p])?;
            for (name, oid) in refs {
                tx.prepare_cached("INSERT INTO audit_refs (package, ref, oid, updated_at) VALUES (?1, ?2, ?3, ?4)")?
                    .execute(params![p, name, oid, now.0])?;
            }
            Ok(())
        })
    }

    /// Packages that have anything in the audit, for `verify --all`.
    pub fn audited_packages(&mut self) -> Result<Vec<String>> {
        db::retry("listing audited packages", || {
            self.conn()
                .prepare_cached("SELECT DISTINCT package FROM audit_refs ORDER BY package")?
                .query_map([], |r| r.get(0))?
                .collect()
        })
    }

    /// Packages left in the middle of the three-phase commit.
    pub fn packages_in_flight(&mut self) -> Result<Vec<(String, Phase)>> {
        db::retry("listing packages in flight", || {
            let tx = self.conn().transaction()?;
            let names: Vec<String> = tx
                .prepare_cached(
                    "SELECT package FROM audit_marks UNION SELECT package FROM staged_refs
                     UNION SELECT package FROM staged_versions UNION SELECT package FROM staged_publications",
                )?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            names
                .into_iter()
                .map(|n: String| {
                    let ph = phase(&tx, &n)?.map_err(to_sql)?;
                    Ok((n, ph))
                })
                .collect()
        })
    }

    /// The watermark of one partition (distribution and series): Launchpad's time string.
    pub fn watermark(&mut self, distro: &str, series: &str) -> Result<Option<String>> {
        db::retry("reading a watermark", || {
            self.conn()
                .query_row(
                    "SELECT date_created FROM watermarks WHERE distro = ?1 AND series = ?2",
                    [distro, series],
                    |r| r.get(0),
                )
                .optional()
        })
    }

    /// Every watermark: (distro, series, date_created).
    pub fn watermarks(&mut self) -> Result<Vec<(String, String, String)>> {
        db::retry("listing watermarks", || {
            self.conn()
                .prepare_cached(
                    "SELECT distro, series, date_created FROM watermarks ORDER BY distro, series",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
    }

    /// Stores several partitions' watermarks in one transaction: (distro, series, date).
    pub fn set_watermarks(&mut self, marks: &[(String, String, String)]) -> Result<()> {
        let now = Timestamp::now();
        db::write(self.conn(), "storing watermarks", |tx| {
            for (distro, series, date) in marks {
                tx.prepare_cached(
                    "INSERT INTO watermarks (distro, series, date_created, updated_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (distro, series) DO UPDATE SET date_created = excluded.date_created,
                                                                updated_at = excluded.updated_at",
                )?
                .execute(params![distro, series, date, now.0])?;
            }
            Ok(())
        })
    }

    fn audit_step(
        &mut self,
        package: &PackageName,
        event: Event,
        what: &str,
        mut f: impl FnMut(&Transaction<'_>) -> rusqlite::Result<()>,
    ) -> Result<()> {
        let p = package.as_str();
        let outcome = db::write(self.conn(), what, |tx| {
            let from = match phase(tx, p)? {
                Ok(ph) => ph,
                Err(e) => return Ok(Err(e.to_string())),
            };
            if let Err(e) = from.on(event) {
                return Ok(Err(e.to_string()));
            }
            f(tx)?;
            Ok(Ok(()))
        })?;
        outcome.map_err(|message| Error::Audit {
            package: p.to_owned(),
            message,
        })
    }
}

fn phase(tx: &Transaction<'_>, package: &str) -> rusqlite::Result<Result<Phase, String>> {
    let has_staged: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM staged_refs WHERE package = ?1)
             OR EXISTS (SELECT 1 FROM staged_versions WHERE package = ?1)
             OR EXISTS (SELECT 1 FROM staged_publications WHERE package = ?1)",
        [package],
        |r| r.get(0),
    )?;
    let mark: Option<String> = tx
        .query_row(
            "SELECT mark FROM audit_marks WHERE package = ?1",
            [package],
            |r| r.get(0),
        )
        .optional()?;
    let Some(mark) = Mark::parse(mark.as_deref()) else {
        return Ok(Err(format!("unknown critical mark {mark:?}")));
    };
    Ok(Phase::from_facts(has_staged, mark).map_err(|e| e.to_string()))
}

fn delete_staged(tx: &Transaction<'_>, p: &str) -> rusqlite::Result<()> {
    for table in ["staged_refs", "staged_versions", "staged_publications"] {
        tx.prepare_cached(&format!("DELETE FROM {table} WHERE package = ?1"))?
            .execute([p])?;
    }
    Ok(())
}

fn pairs(tx: &Transaction<'_>, sql: &str, p: &str) -> rusqlite::Result<BTreeMap<String, String>> {
    tx.prepare_cached(sql)?
        .query_map([p], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

fn publications(
    tx: &Transaction<'_>,
    table: &str,
    p: &str,
) -> rusqlite::Result<Vec<PublicationRow>> {
    tx.prepare_cached(&format!(
        "SELECT distro, series, pocket, version, date_created FROM {table} WHERE package = ?1
         ORDER BY date_created, distro, series, pocket, version"
    ))?
    .query_map([p], |r| {
        Ok(PublicationRow {
            distro: r.get(0)?,
            series: r.get(1)?,
            pocket: r.get(2)?,
            version: r.get(3)?,
            date_created: r.get(4)?,
        })
    })?
    .collect()
}

fn to_sql(message: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(message.into().into())
}
