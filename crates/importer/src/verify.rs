//! Comparing the remote with the committed audit, and the two explicit human resolutions
//! when they differ.
//!
//! Only the importer's own namespaces are compared: branches under `refs/heads/importer/`
//! (the patches-applied ones, `importer/applied/`, among them) and tags under
//! `refs/tags/import/` and `refs/tags/applied/`. Anything else on the remote belongs to
//! humans.

use std::collections::BTreeMap;

use pkgimport_core::PackageName;
use pkgimport_git::{GitDir, Oid, RefUpdate};
use pkgimport_queue::Store;
use serde::Serialize;

use crate::import::{ImportError, ImportSettings, remote_url, work_repo};

/// The importer's namespaces on a remote.
const NAMESPACES: [&str; 3] = [
    "refs/heads/importer/",
    "refs/tags/import/",
    "refs/tags/applied/",
];

/// One ref whose remote value differs from the audit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub package: String,
    #[serde(rename = "ref")]
    pub name: String,
    /// The committed audit's value; null if the audit does not know the ref.
    pub expected: Option<String>,
    /// The remote's value; null if the ref is missing there.
    pub actual: Option<String>,
}

/// The refs of one package on its remote, in the importer's namespaces.
fn remote_refs(
    settings: &ImportSettings,
    package: &PackageName,
) -> Result<BTreeMap<String, String>, ImportError> {
    let url = remote_url(&settings.remote_template, &settings.state_dir, package);
    let refs = pkgimport_git::ls_remote(&settings.git, &url).map_err(ImportError::verifying)?;
    Ok(refs
        .unwrap_or_default()
        .into_iter()
        .filter(|(name, _)| NAMESPACES.iter().any(|ns| name.starts_with(ns)))
        .map(|(name, oid)| (name, oid.to_hex()))
        .collect())
}

/// Every ref of `package` whose remote value differs from the committed audit.
pub fn verify(
    store: &mut Store,
    settings: &ImportSettings,
    package: &PackageName,
) -> Result<Vec<Mismatch>, ImportError> {
    let expected = store.audit(package)?.refs;
    let actual = remote_refs(settings, package)?;
    let mut names: Vec<&String> = expected.keys().chain(actual.keys()).collect();
    names.sort();
    names.dedup();
    Ok(names
        .into_iter()
        .filter(|n| expected.get(*n) != actual.get(*n))
        .map(|n| Mismatch {
            package: package.to_string(),
            name: n.clone(),
            expected: expected.get(n).cloned(),
            actual: actual.get(n).cloned(),
        })
        .collect())
}

/// Resolution 1: accept what the remote holds. The committed audit's refs become the
/// remote's, so the next import builds on them.
pub fn adopt_remote(
    store: &mut Store,
    settings: &ImportSettings,
    package: &PackageName,
) -> Result<usize, ImportError> {
    let actual = remote_refs(settings, package)?;
    store.audit_replace_refs(package, &actual)?;
    Ok(actual.len())
}

/// Resolution 2: put the remote back to what the audit says, overwriting whatever someone
/// pushed there (with leases on the values seen now, so a third change is not lost either).
/// Refs that the audit does not know are left alone.
pub fn restore(
    store: &mut Store,
    settings: &ImportSettings,
    package: &PackageName,
) -> Result<usize, ImportError> {
    let mismatches = verify(store, settings, package)?;
    let to_hex = |s: &str| Oid::from_hex(s).map_err(ImportError::verifying);
    let mut updates = Vec::new();
    for m in mismatches {
        let Some(expected) = m.expected else { continue };
        updates.push(RefUpdate {
            name: m.name,
            new: to_hex(&expected)?,
            expected_old: m.actual.as_deref().map(to_hex).transpose()?,
        });
    }
    if updates.is_empty() {
        return Ok(0);
    }
    let url = remote_url(&settings.remote_template, &settings.state_dir, package);
    let repo = GitDir::open_or_init(
        work_repo(&settings.state_dir, package),
        settings.git.clone(),
    )
    .map_err(ImportError::verifying)?;
    repo.push_atomic(&url, &updates)
        .map_err(ImportError::verifying)?;
    Ok(updates.len())
}
