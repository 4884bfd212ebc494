//! Ref name validation, the rules of `git check-ref-format` for full names under `refs/`.
//!
//! Checked in Rust rather than by running `git check-ref-format` per ref because it is a
//! dozen rules, and because a name must be valid before it is spliced into a refspec
//! (`<oid>:<ref>`), a lease (`--force-with-lease=<ref>:<oid>`) or an `update-ref --stdin`
//! line, where a `:`, a space or a newline would change the meaning of the command.

use crate::Error;

/// Check that `name` is a full ref name git accepts: it starts with `refs/`, and no
/// component is empty, starts with `.` or ends with `.lock`; it contains no `..`, `@{`,
/// control character, space, `~ ^ : ? * [ \`, and does not end with `/` or `.`.
pub fn check_ref_name(name: &str) -> Result<(), Error> {
    let bad = || Error::invalid("ref name", name);
    let Some(rest) = name.strip_prefix("refs/") else {
        return Err(bad());
    };
    if rest.is_empty() || name.ends_with('.') || name.contains("..") || name.contains("@{") {
        return Err(bad());
    }
    let forbidden = |c: char| {
        c.is_ascii_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\')
    };
    if name.chars().any(forbidden) {
        return Err(bad());
    }
    for component in name.split('/') {
        if component.is_empty() || component.starts_with('.') || component.ends_with(".lock") {
            return Err(bad());
        }
    }
    Ok(())
}

/// The full name of the lightweight tag `tag` (`refs/tags/<tag>`), checked.
///
/// `tag` is already mangled (for example DEP-14's `import/1%2.3_rc1-1`); mangling is the
/// caller's business because it is Debian policy, not git.
pub fn tag_ref(tag: &str) -> Result<String, Error> {
    let name = format!("refs/tags/{tag}");
    check_ref_name(&name)?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_importer_names() {
        for ok in [
            "refs/heads/importer/debian/sid",
            "refs/heads/importer/ubuntu/noble-proposed",
            "refs/tags/import/1%2.78-1",
            "refs/tags/import/0.0_git2020-1",
            "refs/tags/import/1.#",
        ] {
            check_ref_name(ok).unwrap();
        }
    }

    #[test]
    fn rejects_what_git_rejects() {
        for bad in [
            "HEAD",
            "refs/",
            "refs/heads/a..b",
            "refs/heads/a b",
            "refs/heads/a:b",
            "refs/heads/a\nb",
            "refs/heads/.hidden",
            "refs/heads/x.lock",
            "refs/heads/x/",
            "refs/heads//x",
            "refs/heads/x.",
            "refs/heads/a@{1}",
            "refs/tags/1~2",
        ] {
            assert!(check_ref_name(bad).is_err(), "{bad:?} accepted");
        }
    }
}
