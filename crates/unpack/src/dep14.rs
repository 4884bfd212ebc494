//! DEP-14 mangling of a Debian version into a git ref component (`import/<mangled>`).
//!
//! Hand-written because no crate on crates.io provides it (checked: `debversion`,
//! `debian-control`, `debian-changelog` do not), and it is a dozen lines. The rules, from
//! DEP-14 "Version mangling": `~` becomes `_`, `:` becomes `%`, and a `#` is inserted after
//! every `.` that is followed by another `.`, ends the string, or starts a final `lock`
//! (git refuses `..`, a trailing `.` and a `.lock` suffix in ref names). In sed terms:
//! `s/~/_/g; s/:/%/g; s/\.(?=\.|$|lock$)/.#/g`. Versions never contain `_`, `%` or `#`,
//! so the mangling is reversible.

/// Mangle a Debian version for use in a git tag name, per DEP-14.
pub fn mangle_version(version: &str) -> String {
    let mut out = String::with_capacity(version.len() + 4);
    for (index, c) in version.char_indices() {
        match c {
            '~' => out.push('_'),
            ':' => out.push('%'),
            '.' => {
                out.push('.');
                let rest = &version[index + 1..];
                if rest.is_empty() || rest.starts_with('.') || rest == "lock" {
                    out.push('#');
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Undo [`mangle_version`].
pub fn unmangle_version(tag: &str) -> String {
    tag.replace(".#", ".").replace('_', "~").replace('%', ":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangling() {
        for (version, mangled) in [
            ("2.10-3", "2.10-3"),
            ("1:2.78-1", "1%2.78-1"),
            ("0.0~git20201210.2321bbc-1", "0.0_git20201210.2321bbc-1"),
            ("0.55.7~deb12u1", "0.55.7_deb12u1"),
            ("1..2", "1.#.2"),
            ("1...2", "1.#.#.2"),
            ("1.", "1.#"),
            ("1.lock", "1.#lock"),
            ("1.lockx", "1.lockx"),
            ("1.2lock", "1.2lock"),
            ("2:1.0~rc1+dfsg.", "2%1.0_rc1+dfsg.#"),
        ] {
            assert_eq!(mangle_version(version), mangled, "{version}");
            assert_eq!(unmangle_version(mangled), version, "{mangled}");
        }
    }
}
