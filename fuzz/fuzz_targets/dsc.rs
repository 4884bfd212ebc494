//! Fuzz target: the `.dsc` parser (`pkgimport_unpack::Dsc::parse`), the first thing to read
//! an upload's bytes. It must never panic, and whatever it accepts must hold the promises
//! the unpacker relies on: a valid source name, and file names that cannot leave the
//! directory of the `.dsc`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dsc) = pkgimport_unpack::Dsc::parse(data) else {
        return;
    };
    assert!(dsc.source.len() >= 2, "short source name {:?}", dsc.source);
    assert!(!dsc.files.is_empty(), "a .dsc without files was accepted");
    for file in &dsc.files {
        let name = &file.name;
        assert!(
            !name.is_empty() && name != "." && name != ".." && !name.contains('/'),
            "unsafe file name accepted: {name:?}"
        );
        assert!(
            !name.chars().any(char::is_control),
            "control character in {name:?}"
        );
        assert_eq!(file.sha256.len(), 64, "{name}: sha256 {:?}", file.sha256);
        assert_eq!(file.md5.len(), 32, "{name}: md5 {:?}", file.md5);
    }
    // The version must survive a print and re-parse: it names tags and tarballs.
    let printed = dsc.version.to_string();
    let reparsed: pkgimport_unpack::Version = printed.parse().expect("printed version parses");
    assert_eq!(reparsed, dsc.version, "{printed}");
});
