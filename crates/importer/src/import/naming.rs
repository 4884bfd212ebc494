//! The names an import gives things: its branches and tags (and their patches-applied
//! twins), the versions it accepts as part of a name, the remote's URL, and its paths in
//! the state directory.

use std::path::{Path, PathBuf};

use pkgimport_core::PackageName;

use super::Importer;

/// The longest version accepted: it becomes part of file names (`<package>_<version>.dsc`)
/// and a directory name, which the file system limits to 255 bytes.
pub const MAX_VERSION_LEN: usize = 128;

/// Checks a version from Launchpad before it names a scratch directory, a file or a tag:
/// Debian policy's syntax (`debversion`, plus dpkg's "starts with a digit" and "a colon
/// needs an epoch"), a bounded length, and a valid git tag once DEP-14 mangled. So no
/// version can contain `/`, a control character or whitespace, nor reach outside the
/// scratch directory, whatever Launchpad (or something pretending to be it) sends.
pub fn check_version(version: &str) -> Result<(), String> {
    if version.len() > MAX_VERSION_LEN {
        return Err(format!("longer than {MAX_VERSION_LEN} bytes"));
    }
    let parsed: pkgimport_unpack::Version =
        version
            .parse()
            .map_err(|_: pkgimport_unpack::debversion::ParseError| {
                "not a Debian version (characters or syntax)".to_owned()
            })?;
    if !parsed
        .upstream_version
        .starts_with(|c: char| c.is_ascii_digit())
    {
        return Err("the upstream version does not start with a digit".into());
    }
    if parsed.epoch.is_none() && parsed.upstream_version.contains(':') {
        return Err("a colon but no numeric epoch".into());
    }
    pkgimport_git::tag_ref(&format!(
        "import/{}",
        pkgimport_unpack::mangle_version(version)
    ))
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// The remote of a package: the template with `{package}` and `{state_dir}` filled in.
pub fn remote_url(template: &str, state_dir: &Path, package: &PackageName) -> String {
    template
        .replace("{state_dir}", &state_dir.display().to_string())
        .replace("{package}", package.as_str())
}

/// `importer/<distro>/<series>` for the Release pocket, `importer/<distro>/<series>-<pocket>`
/// for the others, as git-ubuntu names them.
pub fn branch_name(distro: &str, series: &str, pocket: &str) -> String {
    if pocket.eq_ignore_ascii_case("release") {
        format!("refs/heads/importer/{distro}/{series}")
    } else {
        format!(
            "refs/heads/importer/{distro}/{series}-{}",
            pocket.to_ascii_lowercase()
        )
    }
}

/// `importer/<distro>/devel`: the branch that follows the development series.
pub fn devel_branch_name(distro: &str) -> String {
    format!("refs/heads/importer/{distro}/devel")
}

/// The patches-applied twin of branch `name` (`refs/heads/importer/<distro>/...`):
/// `refs/heads/importer/applied/<distro>/...`.
pub fn applied_branch_name(name: &str) -> String {
    match name.strip_prefix("refs/heads/importer/") {
        Some(rest) => format!("refs/heads/importer/applied/{rest}"),
        None => format!("refs/heads/importer/applied/{name}"),
    }
}

/// `refs/tags/applied/<version>`, mangled as [`tag_name`] mangles it: the end of the
/// version's patches-applied chain.
pub fn applied_tag_name(version: &str) -> String {
    format!(
        "refs/tags/applied/{}",
        pkgimport_unpack::mangle_version(version)
    )
}

/// Whether `name` is a ref of the patches-applied chains.
pub(crate) fn is_applied_ref(name: &str) -> bool {
    name.starts_with("refs/heads/importer/applied/") || name.starts_with("refs/tags/applied/")
}

/// `refs/tags/import/<version>`, the version mangled by DEP-14 (`1:2.0~rc1-1` →
/// `1%2.0_rc1-1`): the tag of an imported version.
pub(crate) fn tag_name(version: &str) -> String {
    format!(
        "refs/tags/import/{}",
        pkgimport_unpack::mangle_version(version)
    )
}

/// The package's private bare repository, where its commits are written: `work/<package>.git`.
pub(crate) fn work_repo(state_dir: &Path, package: &PackageName) -> PathBuf {
    state_dir.join("work").join(format!("{package}.git"))
}

/// Where a run links the files of the versions it imports, one directory per version:
/// `work/<package>.scratch`.
fn scratch_dir(state_dir: &Path, package: &PackageName) -> PathBuf {
    state_dir.join("work").join(format!("{package}.scratch"))
}

/// Where a downloaded file is kept, by its SHA-256: `cache/<first two digits>/<sha256>`.
pub(super) fn cache_path(state_dir: &Path, sha256: &str) -> PathBuf {
    state_dir.join("cache").join(&sha256[..2]).join(sha256)
}

impl Importer<'_> {
    pub(super) fn work_repo(&self, package: &PackageName) -> PathBuf {
        work_repo(&self.settings.state_dir, package)
    }

    pub(super) fn scratch_dir(&self, package: &PackageName) -> PathBuf {
        scratch_dir(&self.settings.state_dir, package)
    }

    pub(super) fn remote_url(&self, package: &PackageName) -> String {
        remote_url(
            &self.settings.remote_template,
            &self.settings.state_dir,
            package,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_versions_are_refused() {
        for ok in [
            "1.0-1",
            "1:2.78-1",
            "0.0~git20201210.2321bbc-1",
            "1..2",
            "1.0+dfsg-1",
        ] {
            assert_eq!(check_version(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "1/../../x",
            "/tmp/x",
            "1/x",
            "..",
            "../1",
            "1\nx",
            "1 2",
            "1.0-1\n",
            "a1.0",
            "1:",
            "x:1.0",
            "1.0-1/",
            "1.0@{1}",
            "1.0\0",
            &"1".repeat(MAX_VERSION_LEN + 1),
        ] {
            assert!(check_version(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn branches_and_tags_are_named_as_git_ubuntu_names_them() {
        assert_eq!(
            branch_name("debian", "sid", "Release"),
            "refs/heads/importer/debian/sid"
        );
        assert_eq!(
            branch_name("ubuntu", "noble", "Security"),
            "refs/heads/importer/ubuntu/noble-security"
        );
        assert_eq!(tag_name("1:2.0~rc1-1"), "refs/tags/import/1%2.0_rc1-1");
        assert_eq!(
            applied_branch_name(&branch_name("ubuntu", "noble", "Security")),
            "refs/heads/importer/applied/ubuntu/noble-security"
        );
        assert_eq!(
            applied_branch_name(&devel_branch_name("debian")),
            "refs/heads/importer/applied/debian/devel"
        );
        assert_eq!(
            applied_tag_name("1:2.0~rc1-1"),
            "refs/tags/applied/1%2.0_rc1-1"
        );
        assert!(is_applied_ref(&applied_tag_name("1.0-1")));
        assert!(!is_applied_ref(&tag_name("1.0-1")));
        assert!(!is_applied_ref(&branch_name("debian", "sid", "Release")));
    }

    #[test]
    fn paths_in_the_state_directory() {
        let package = PackageName::parse("hello").unwrap();
        let state = Path::new("/var/lib/package-importer");
        assert_eq!(
            work_repo(state, &package),
            Path::new("/var/lib/package-importer/work/hello.git")
        );
        assert_eq!(
            scratch_dir(state, &package),
            Path::new("/var/lib/package-importer/work/hello.scratch")
        );
        assert_eq!(
            cache_path(state, &"ab".repeat(32)),
            Path::new("/var/lib/package-importer/cache/ab").join("ab".repeat(32))
        );
        assert_eq!(
            remote_url("file://{state_dir}/remotes/{package}.git", state, &package),
            "file:///var/lib/package-importer/remotes/hello.git"
        );
    }
}
