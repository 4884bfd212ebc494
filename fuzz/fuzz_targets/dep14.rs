//! Fuzz target: DEP-14 version mangling. For every valid Debian version `v`,
//! `unmangle_version(mangle_version(v)) == v`, and `refs/tags/import/<mangled>` passes git's
//! ref-name rules (`pkgimport_git::check_ref_name`). Strings that are not versions are only
//! required not to panic.
//!
//! Valid means what `Dsc::parse` accepts: `debversion` parses it and the upstream version
//! starts with a digit (dpkg's `version_check`). `debversion` alone is laxer: it takes
//! `.1.2`, whose mangled form starts a ref component with `.`, which git refuses (found by
//! this target; DEP-14 does not cover such versions because Debian does not allow them).

#![no_main]

use libfuzzer_sys::fuzz_target;
use pkgimport_unpack::{Version, mangle_version, unmangle_version};

fuzz_target!(|text: &str| {
    let mangled = mangle_version(text);
    let _ = unmangle_version(&mangled);
    let Ok(version) = text.parse::<Version>() else {
        return;
    };
    if !version
        .upstream_version
        .starts_with(|c: char| c.is_ascii_digit())
    {
        return;
    }
    for v in [text.to_owned(), version.to_string()] {
        let mangled = mangle_version(&v);
        assert_eq!(unmangle_version(&mangled), v, "mangled {mangled:?}");
        let tag = format!("refs/tags/import/{mangled}");
        if let Err(e) = pkgimport_git::check_ref_name(&tag) {
            panic!("version {v:?} gives the bad ref {tag:?}: {e}");
        }
    }
});
