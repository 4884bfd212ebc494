//! Fuzz target: the changelog parser (`pkgimport_unpack::changelog::parse`), which reads
//! `debian/changelog` from every unpacked upload. It must never panic; what it accepts must
//! be consistent: the top version is the first of `versions`, and the entry text starts
//! with the header line.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(changelog) = pkgimport_unpack::changelog::parse(text) else {
        return;
    };
    let top = &changelog.top;
    assert_eq!(
        changelog.versions.first(),
        Some(&top.version),
        "the top entry's version is not the first version"
    );
    assert!(!top.version.is_empty());
    assert!(
        top.text
            .starts_with(&format!("{} ({})", top.package, top.version)),
        "entry text does not start with its header: {:?}",
        top.text
    );
    assert!(top.text.ends_with('\n'));
    // The date is used as the commit date: it must print.
    let _ = top.date.to_rfc3339();
});
