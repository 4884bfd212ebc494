//! Tests of the pack writer: ids against git, fsck, deduplication, the index.

use super::*;

#[test]
fn object_ids_are_gits() {
    // `printf 'hello\n' | git hash-object --stdin`, and git's empty tree.
    assert_eq!(
        object_id(Kind::Blob, b"hello\n").unwrap().to_hex(),
        "ce013625030ba8dba906f756967f9e9ca394464a"
    );
    assert_eq!(
        object_id(Kind::Tree, b"").unwrap().to_hex(),
        "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
    );
}

#[test]
fn pack_headers_carry_type_and_size() {
    // Size 15 fits the first byte; 16 needs a second; 1000 = 0b1111101000.
    assert_eq!(pack_object(Kind::Blob, &[0; 15])[0], 0x3f);
    assert_eq!(&pack_object(Kind::Blob, &[0; 16])[..2], &[0xb0, 0x01]);
    assert_eq!(&pack_object(Kind::Commit, &[0; 1000])[..2], &[0x98, 0x3e]);
}

#[test]
fn par_map_keeps_order_and_covers_everything() {
    let items: Vec<usize> = (0..1000).collect();
    for threads in [1, 2, 3, 8] {
        let out = par_map(&items, threads, |_| 1024, |i| i * 2);
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }
    // One huge item and many small ones.
    let weights: Vec<usize> = std::iter::once(1 << 30)
        .chain(std::iter::repeat_n(1, 9))
        .collect();
    assert_eq!(par_map(&weights, 2, |w| *w, |w| *w), weights);
}

#[test]
fn offsets_past_2_gib_go_to_the_large_offset_table() {
    let small = Oid::from_bytes([1; 20]);
    let large = Oid::from_bytes([2; 20]);
    let objects = HashMap::from([
        (small, Packed { offset: 12, crc: 7 }),
        (
            large,
            Packed {
                offset: 5 << 30,
                crc: 9,
            },
        ),
    ]);
    let idx = index_bytes(&objects, &[0xaa; 20]);
    let parsed = PackIndex::parse(idx.clone()).unwrap();
    assert!(parsed.contains(&small) && parsed.contains(&large));
    assert!(!parsed.contains(&Oid::from_bytes([3; 20])));
    // Names, then CRCs, then 4-byte offsets, then the 8-byte table.
    let crcs = IDX_NAMES + 2 * 20;
    let offsets = crcs + 2 * 4;
    assert_eq!(&idx[crcs..offsets], &[0, 0, 0, 7, 0, 0, 0, 9]);
    assert_eq!(&idx[offsets..offsets + 8], &[0, 0, 0, 12, 0x80, 0, 0, 0]);
    assert_eq!(&idx[offsets + 8..offsets + 16], &(5u64 << 30).to_be_bytes());
    assert_eq!(&idx[offsets + 16..offsets + 36], &[0xaa; 20]);
    assert_eq!(idx.len(), offsets + 16 + 40);
}

#[test]
fn clashing_paths_are_refused() {
    let oid = object_id(Kind::Blob, b"").unwrap();
    let mut dir = Dir::default();
    dir.insert("a/b", Mode::File, oid).unwrap();
    assert!(dir.insert("a", Mode::File, oid).is_err());
    assert!(dir.insert("a/b", Mode::File, oid).is_err());
    assert!(dir.insert("a/b/c", Mode::File, oid).is_err());
    dir.insert("a/c", Mode::Executable, oid).unwrap();
}
