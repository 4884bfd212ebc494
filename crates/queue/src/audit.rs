//! The audit trail's tables, driven by the pure state machine of `pkgimport-audit`.
//!
//! Each method is one transaction that reads the package's phase, checks that the step is
//! allowed from it, and changes the rows and the mark together. So the stored facts always
//! describe a phase, and the step that a crash interrupted is either wholly done or not at
//! all.

use std::collections::BTreeMap;

use pkgimport_audit::{Event, Mark, Phase};
use pkgimport_core::PackageName;
use serde::Serialize;

use crate::model::Timestamp;
use crate::sql::{SqlError, Tx, TxKind, params};
use crate::store::Store;
use crate::{Error, Result};

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

/// What the importer knows of a version's commit besides its id: its first parent (the
/// changelog parent) and its tree. Both are facts of the commit object, kept in the audit so
/// that a run can tell whether one version descends from another, and write a publish
/// commit with a version's tree, without asking git. `None` where the audit predates them.
///
/// And the version's patches-applied chain: its last commit and tree, or the patch of its
/// quilt series that does not apply. Neither when no chain was built (the version was
/// imported before chains were, or with them turned off).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VersionFacts {
    /// The commit's first parent; `None` for a root commit, or when unknown (see
    /// [`VersionFacts::known`]).
    pub parent: Option<String>,
    /// The commit's tree, when known.
    pub tree: Option<String>,
    /// The last commit of the version's patches-applied chain and its tree: the version's
    /// own commit and tree when it has no patches.
    pub applied: Option<AppliedTip>,
    /// The first patch of the version's series that does not apply: the version has no
    /// applied chain.
    pub patch_failure: Option<PatchFailure>,
}

/// The end of a version's patches-applied chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppliedTip {
    pub commit: String,
    pub tree: String,
}

/// A patch of a version's quilt series that does not apply: a warning, since the version
/// is imported all the same.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PatchFailure {
    /// Its name in the series.
    pub patch: String,
    /// Why it does not apply.
    pub message: String,
}

/// A version of a package whose patches do not apply, for monitoring.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PatchWarning {
    pub package: String,
    pub version: String,
    pub patch: String,
    pub message: String,
}

impl VersionFacts {
    /// Whether the facts were recorded (the tree is always recorded with the parent).
    pub fn known(&self) -> bool {
        self.tree.is_some()
    }
}

/// Everything one import run wants to publish.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StagedAudit {
    pub refs: Vec<StagedRef>,
    /// version → commit id
    pub versions: BTreeMap<String, String>,
    pub publications: Vec<PublicationRow>,
    /// ref → the version whose tree the ref's new commit holds, where there is one.
    pub ref_versions: BTreeMap<String, String>,
    /// version → its commit's parent and tree, for the versions in `versions`.
    pub version_facts: BTreeMap<String, VersionFacts>,
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
    /// ref → the version whose tree the ref's commit holds, where the audit records one.
    pub ref_versions: BTreeMap<String, String>,
    /// version → its commit's parent and tree, where the audit records them.
    pub version_facts: BTreeMap<String, VersionFacts>,
}

impl Store {
    /// The whole audit of a package, committed and staged.
    pub fn audit(&mut self, package: &PackageName) -> Result<AuditView> {
        let p = package.as_str();
        self.transact(TxKind::Read, "reading the audit", |tx| {
            let phase = phase(tx, p)?;
            let refs = pairs(tx, "SELECT ref, oid FROM audit_refs WHERE package = $1", p)?;
            let versions = pairs(
                tx,
                "SELECT version, commit_oid FROM audit_versions WHERE package = $1",
                p,
            )?;
            let published = publications(tx, "audit_publications", p)?;
            let ref_versions = pairs(
                tx,
                "SELECT ref, version FROM audit_refs WHERE package = $1 AND version IS NOT NULL",
                p,
            )?;
            let version_facts = facts(tx, "audit_versions", p)?;
            let staged_refs = tx
                .query(
                    "SELECT ref, old_oid, new_oid FROM staged_refs WHERE package = $1 ORDER BY ref",
                    params![p],
                )?
                .iter()
                .map(|r| {
                    Ok(StagedRef {
                        name: r.get(0)?,
                        old: r.get(1)?,
                        new: r.get(2)?,
                    })
                })
                .collect::<Result<_, SqlError>>()?;
            let staged = StagedAudit {
                refs: staged_refs,
                versions: pairs(
                    tx,
                    "SELECT version, commit_oid FROM staged_versions WHERE package = $1",
                    p,
                )?,
                publications: publications(tx, "staged_publications", p)?,
                ref_versions: pairs(
                    tx,
                    "SELECT ref, version FROM staged_refs WHERE package = $1 AND version IS NOT NULL",
                    p,
                )?,
                version_facts: facts(tx, "staged_versions", p)?,
            };
            Ok(AuditView {
                phase: phase.map_err(SqlError::Invalid)?,
                refs,
                versions,
                publications: published,
                staged,
                ref_versions,
                version_facts,
            })
        })
    }

    /// Phase 1: stores the rows about to be published. Allowed only when idle.
    pub fn audit_stage(&mut self, package: &PackageName, staged: &StagedAudit) -> Result<()> {
        let p = package.as_str();
        self.audit_step(package, Event::Stage, "staging the audit", |tx| {
            for r in &staged.refs {
                let version = staged.ref_versions.get(&r.name).map(String::as_str);
                tx.execute(
                    "INSERT INTO staged_refs (package, ref, old_oid, new_oid, version) VALUES ($1, $2, $3, $4, $5)",
                    params![p, r.name.as_str(), r.old.as_deref(), r.new.as_str(), version],
                )?;
            }
            for (v, c) in &staged.versions {
                let facts = staged.version_facts.get(v).cloned().unwrap_or_default();
                let applied = facts.applied.as_ref();
                let failure = facts.patch_failure.as_ref();
                tx.execute(
                    "INSERT INTO staged_versions (package, version, commit_oid, parent_oid, tree_oid,
                         applied_oid, applied_tree_oid, patch_failed, patch_error)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    params![
                        p,
                        v,
                        c,
                        facts.parent.as_deref(),
                        facts.tree.as_deref(),
                        applied.map(|a| a.commit.as_str()),
                        applied.map(|a| a.tree.as_str()),
                        failure.map(|f| f.patch.as_str()),
                        failure.map(|f| f.message.as_str())
                    ],
                )?;
            }
            for pubn in &staged.publications {
                tx.execute(
                    "INSERT INTO staged_publications (package, distro, series, pocket, version, date_created)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    params![
                        p,
                        &pubn.distro,
                        &pubn.series,
                        &pubn.pocket,
                        &pubn.version,
                        &pubn.date_created
                    ],
                )?;
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
            tx.execute(
                "INSERT INTO audit_marks (package, mark, run_id, marked_at) VALUES ($1, 'pushing', $2, $3)",
                params![package, run_id, now.0],
            )?;
            Ok(())
        })
    }

    /// The push was refused: nothing was published. Removes the mark; the staged rows stay,
    /// for the caller to drop.
    pub fn audit_abort_push(&mut self, package: &PackageName) -> Result<()> {
        self.audit_step(package, Event::AbortPush, "aborting the push", |tx| {
            tx.execute(
                "DELETE FROM audit_marks WHERE package = $1",
                params![package],
            )?;
            Ok(())
        })
    }

    /// Phase 3: the push succeeded. Moves the staged rows into the committed audit and the
    /// mark to cleanup, in one transaction.
    pub fn audit_commit(&mut self, package: &PackageName) -> Result<()> {
        let p = package.as_str();
        let now = Timestamp::now();
        self.audit_step(package, Event::CommitAudit, "committing the audit", |tx| {
            tx.execute(
                "INSERT INTO audit_refs (package, ref, oid, updated_at, version)
                 SELECT package, ref, new_oid, $2, version FROM staged_refs WHERE package = $1
                 ON CONFLICT (package, ref) DO UPDATE SET oid = excluded.oid,
                     updated_at = excluded.updated_at, version = excluded.version",
                params![p, now.0],
            )?;
            tx.execute(
                "INSERT INTO audit_versions (package, version, commit_oid, parent_oid, tree_oid,
                     applied_oid, applied_tree_oid, patch_failed, patch_error)
                 SELECT package, version, commit_oid, parent_oid, tree_oid,
                     applied_oid, applied_tree_oid, patch_failed, patch_error
                 FROM staged_versions WHERE package = $1
                 ON CONFLICT (package, version) DO UPDATE SET commit_oid = excluded.commit_oid,
                     parent_oid = excluded.parent_oid, tree_oid = excluded.tree_oid,
                     applied_oid = excluded.applied_oid,
                     applied_tree_oid = excluded.applied_tree_oid,
                     patch_failed = excluded.patch_failed, patch_error = excluded.patch_error",
                params![p],
            )?;
            tx.execute(
                "INSERT INTO audit_publications (package, distro, series, pocket, version, date_created)
                 SELECT package, distro, series, pocket, version, date_created
                 FROM staged_publications WHERE package = $1
                 ON CONFLICT (package, distro, series, pocket, version) DO NOTHING",
                params![p],
            )?;
            delete_staged(tx, p)?;
            tx.execute(
                "UPDATE audit_marks SET mark = 'cleanup' WHERE package = $1",
                params![p],
            )?;
            Ok(())
        })
    }

    /// Cleanup is done: removes the mark.
    pub fn audit_unmark(&mut self, package: &PackageName) -> Result<()> {
        self.audit_step(package, Event::Unmark, "removing the critical mark", |tx| {
            tx.execute(
                "DELETE FROM audit_marks WHERE package = $1",
                params![package],
            )?;
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
        self.transact(TxKind::Write, "replacing the audit refs", |tx| {
            let ph = phase(tx, p)?.map_err(SqlError::Invalid)?;
            if ph != Phase::Idle {
                return Err(SqlError::Invalid(format!(
                    "package {p} is in phase {ph}; run import-one first to finish it"
                )));
            }
            tx.execute("DELETE FROM audit_refs WHERE package = $1", params![p])?;
            // Which version each adopted commit holds is not known: the ref's version stays
            // NULL, and the next import treats the ref as holding an unknown tree.
            for (name, oid) in refs {
                tx.execute(
                    "INSERT INTO audit_refs (package, ref, oid, updated_at) VALUES ($1, $2, $3, $4)",
                    params![p, name, oid, now.0],
                )?;
            }
            Ok(())
        })
    }

    /// Records the parent and tree of committed versions whose audit rows lack them (rows
    /// from before the audit kept them). They are facts of immutable commit objects, read
    /// from the work repository, so this is allowed in any phase.
    pub fn audit_fill_version_facts(
        &mut self,
        package: &PackageName,
        facts: &BTreeMap<String, VersionFacts>,
    ) -> Result<()> {
        let p = package.as_str();
        self.transact(
            TxKind::Write,
            "recording the versions' parents and trees",
            |tx| {
                for (version, f) in facts {
                    tx.execute(
                        "UPDATE audit_versions SET parent_oid = $3, tree_oid = $4
                     WHERE package = $1 AND version = $2 AND tree_oid IS NULL",
                        params![p, version, f.parent.as_deref(), f.tree.as_deref()],
                    )?;
                }
                Ok(())
            },
        )
    }

    /// The versions of every package whose patches do not apply, by package and version;
    /// at most `limit` of them, and how many there are in all.
    pub fn patch_warnings(&mut self, limit: u64) -> Result<(Vec<PatchWarning>, u64)> {
        self.transact(TxKind::Read, "listing patch warnings", |tx| {
            let total: i64 = tx
                .query_one(
                    "SELECT count(*) FROM audit_versions WHERE patch_failed IS NOT NULL",
                    params![],
                )?
                .get(0)?;
            let rows = tx
                .query(
                    "SELECT package, version, patch_failed, patch_error FROM audit_versions
                     WHERE patch_failed IS NOT NULL ORDER BY package, version LIMIT $1",
                    params![limit as i64],
                )?
                .iter()
                .map(|r| {
                    Ok(PatchWarning {
                        package: r.get(0)?,
                        version: r.get(1)?,
                        patch: r.get(2)?,
                        message: r.get::<Option<String>>(3)?.unwrap_or_default(),
                    })
                })
                .collect::<Result<_, SqlError>>()?;
            Ok((rows, total as u64))
        })
    }

    /// Packages that have anything in the audit, for `verify --all`.
    pub fn audited_packages(&mut self) -> Result<Vec<String>> {
        self.transact(TxKind::Read, "listing audited packages", |tx| {
            tx.query(
                "SELECT DISTINCT package FROM audit_refs ORDER BY package",
                params![],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect()
        })
    }

    /// Packages left in the middle of the three-phase commit.
    pub fn packages_in_flight(&mut self) -> Result<Vec<(String, Phase)>> {
        self.transact(TxKind::Read, "listing packages in flight", |tx| {
            let names: Vec<String> = tx
                .query(
                    "SELECT package FROM audit_marks UNION SELECT package FROM staged_refs
                     UNION SELECT package FROM staged_versions UNION SELECT package FROM staged_publications
                     ORDER BY package",
                    params![],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect::<Result<_, _>>()?;
            names
                .into_iter()
                .map(|n| {
                    let ph = phase(tx, &n)?.map_err(SqlError::Invalid)?;
                    Ok((n, ph))
                })
                .collect()
        })
    }

    /// The watermark of one partition (distribution and series): Launchpad's time string.
    pub fn watermark(&mut self, distro: &str, series: &str) -> Result<Option<String>> {
        self.transact(TxKind::Read, "reading a watermark", |tx| {
            tx.query_opt(
                "SELECT date_created FROM watermarks WHERE distro = $1 AND series = $2",
                params![distro, series],
            )?
            .map(|r| r.get(0))
            .transpose()
        })
    }

    /// Every watermark: (distro, series, date_created).
    pub fn watermarks(&mut self) -> Result<Vec<(String, String, String)>> {
        self.transact(TxKind::Read, "listing watermarks", |tx| {
            tx.query(
                "SELECT distro, series, date_created FROM watermarks ORDER BY distro, series",
                params![],
            )?
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .collect()
        })
    }

    /// Stores several partitions' watermarks in one transaction: (distro, series, date).
    pub fn set_watermarks(&mut self, marks: &[(String, String, String)]) -> Result<()> {
        let now = Timestamp::now();
        self.transact(TxKind::Write, "storing watermarks", |tx| {
            for (distro, series, date) in marks {
                tx.execute(
                    "INSERT INTO watermarks (distro, series, date_created, updated_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (distro, series) DO UPDATE SET date_created = excluded.date_created,
                                                                updated_at = excluded.updated_at",
                    params![distro, series, date, now.0],
                )?;
            }
            Ok(())
        })
    }

    fn audit_step(
        &mut self,
        package: &PackageName,
        event: Event,
        what: &str,
        mut f: impl FnMut(&mut dyn Tx) -> Result<(), SqlError>,
    ) -> Result<()> {
        let p = package.as_str();
        let outcome = self.transact(TxKind::Write, what, |tx| {
            let from = match phase(tx, p)? {
                Ok(ph) => ph,
                Err(e) => return Ok(Err(e)),
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

fn phase(tx: &mut dyn Tx, package: &str) -> Result<Result<Phase, String>, SqlError> {
    let has_staged: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM staged_refs WHERE package = $1)
                 OR EXISTS (SELECT 1 FROM staged_versions WHERE package = $1)
                 OR EXISTS (SELECT 1 FROM staged_publications WHERE package = $1)",
            params![package],
        )?
        .get(0)?;
    let mark: Option<String> = tx
        .query_opt(
            "SELECT mark FROM audit_marks WHERE package = $1",
            params![package],
        )?
        .map(|r| r.get(0))
        .transpose()?;
    let Some(mark) = Mark::parse(mark.as_deref()) else {
        return Ok(Err(format!("unknown critical mark {mark:?}")));
    };
    Ok(Phase::from_facts(has_staged, mark).map_err(|e| e.to_string()))
}

fn delete_staged(tx: &mut dyn Tx, p: &str) -> Result<(), SqlError> {
    for sql in [
        "DELETE FROM staged_refs WHERE package = $1",
        "DELETE FROM staged_versions WHERE package = $1",
        "DELETE FROM staged_publications WHERE package = $1",
    ] {
        tx.execute(sql, params![p])?;
    }
    Ok(())
}

fn pairs(tx: &mut dyn Tx, sql: &str, p: &str) -> Result<BTreeMap<String, String>, SqlError> {
    tx.query(sql, params![p])?
        .iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .collect()
}

fn facts(
    tx: &mut dyn Tx,
    table: &str,
    p: &str,
) -> Result<BTreeMap<String, VersionFacts>, SqlError> {
    tx.query(
        &format!(
            "SELECT version, parent_oid, tree_oid, applied_oid, applied_tree_oid, patch_failed,
                 patch_error
             FROM {table} WHERE package = $1 AND tree_oid IS NOT NULL"
        ),
        params![p],
    )?
    .iter()
    .map(|r| {
        let applied = match (r.get::<Option<String>>(3)?, r.get::<Option<String>>(4)?) {
            (Some(commit), Some(tree)) => Some(AppliedTip { commit, tree }),
            _ => None,
        };
        let patch_failure = match (r.get::<Option<String>>(5)?, r.get::<Option<String>>(6)?) {
            (Some(patch), message) => Some(PatchFailure {
                patch,
                message: message.unwrap_or_default(),
            }),
            _ => None,
        };
        Ok((
            r.get(0)?,
            VersionFacts {
                parent: r.get(1)?,
                tree: r.get(2)?,
                applied,
                patch_failure,
            },
        ))
    })
    .collect()
}

fn publications(tx: &mut dyn Tx, table: &str, p: &str) -> Result<Vec<PublicationRow>, SqlError> {
    tx.query(
        &format!(
            "SELECT distro, series, pocket, version, date_created FROM {table} WHERE package = $1
             ORDER BY date_created, distro, series, pocket, version"
        ),
        params![p],
    )?
    .iter()
    .map(|r| {
        Ok(PublicationRow {
            distro: r.get(0)?,
            series: r.get(1)?,
            pocket: r.get(2)?,
            version: r.get(3)?,
            date_created: r.get(4)?,
        })
    })
    .collect()
}
