//! Fuzz target: the tar member name sanitiser (`pkgimport_unpack::sanitize_member_name`).
//! Every name it accepts must stay inside the tree: relative, no `..` component, no empty or
//! `.` component, no NUL, and already in normal form (sanitising it again changes nothing).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &[u8]| {
    let Ok(Some(name)) = pkgimport_unpack::sanitize_member_name(raw) else {
        return;
    };
    assert!(!name.is_empty());
    assert!(!name.starts_with('/'), "absolute: {name:?}");
    assert!(!name.ends_with('/'), "trailing slash: {name:?}");
    assert!(!name.contains('\0'), "NUL in {name:?}");
    for component in name.split('/') {
        assert!(
            !component.is_empty() && component != "." && component != "..",
            "bad component {component:?} in {name:?}"
        );
    }
    // Windows-style absolute prefixes are ordinary characters on Linux, but make sure the
    // path never resolves outside a base directory on this platform either.
    let base = std::path::Path::new("/base");
    let joined = base.join(&name);
    assert!(
        joined.starts_with(base),
        "{name:?} escapes: {}",
        joined.display()
    );
    assert!(
        joined
            .components()
            .all(|c| !matches!(c, std::path::Component::ParentDir)),
        "{name:?}"
    );
    assert_eq!(
        pkgimport_unpack::sanitize_member_name(name.as_bytes()),
        Ok(Some(name.clone())),
        "not idempotent"
    );
});
