//! `read_changelog` against the full unpack: for every fixture version, the changelog read
//! the cheap way is the one in the unpacked tree.

mod support;

use pkgimport_unpack::{Limits, Node, read_changelog, unpack_dsc_file};

#[test]
fn the_changelog_read_alone_is_the_unpacked_one() {
    let mut checked = 0;
    for package in std::fs::read_dir(support::fixtures_dir())
        .unwrap()
        .flatten()
    {
        if !package.path().is_dir() {
            continue;
        }
        for file in std::fs::read_dir(package.path()).unwrap().flatten() {
            let path = file.path();
            if path.extension().is_none_or(|e| e != "dsc") {
                continue;
            }
            let limits = Limits::standard();
            let (_, tree) = unpack_dsc_file(&path, &limits).unwrap();
            let Some(Node::File { data, .. }) = tree.get("debian/changelog") else {
                panic!("{}: no debian/changelog", path.display());
            };
            let read = read_changelog(&path, &limits).unwrap();
            assert_eq!(read.as_deref(), Some(data.as_slice()), "{}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 21, "only {checked} fixture versions found");
}
