//! Hostile input, one test per attack: each malicious tarball or `.dsc` is built here (raw
//! tar headers where the safe builder would refuse), wrapped in a real source package, and
//! must be refused with the right error variant and a clear one-line message, as a
//! permanent failure, without anything being written anywhere.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pkgimport_unpack::{
    Compression, Error, LimitKind, Limits, Node, SourceTree, UnsafeReason, unpack_dsc_file,
};
use support::{Tar, compress, write_package};

/// Wrap `tarball` (uncompressed tar bytes) in a `3.0 (native)` package `evil 1.0` and
/// unpack it.
fn unpack_native(tarball: &[u8], limits: &Limits) -> Result<SourceTree, Error> {
    let dir = tempfile::tempdir().unwrap();
    let dsc = write_package(
        dir.path(),
        "evil",
        "1.0",
        "3.0 (native)",
        &[("evil_1.0.tar.gz", &compress(tarball, Compression::Gzip))],
    );
    unpack_dsc_file(&dsc, limits).map(|(_, tree)| tree)
}

fn expect_unsafe(result: Result<SourceTree, Error>, expected: UnsafeReason, message: &str) {
    let error = result.expect_err("hostile input was accepted");
    assert!(error.is_permanent(), "{error}");
    assert!(!error.is_transient(), "{error}");
    let text = error.to_string();
    assert!(!text.contains('\n'), "message is not one line: {text}");
    assert!(text.contains(message), "message {text:?} lacks {message:?}");
    match error {
        Error::Unsafe { reason, .. } => assert_eq!(reason, expected, "{text}"),
        other => panic!("expected Unsafe({expected:?}), got {other:?}"),
    }
}

/// A path outside any temp dir that an attack would like to create.
fn victim(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "pkgimport-unpack-victim-{}-{name}",
        std::process::id()
    ))
}

fn normal_start(tar: &mut Tar) -> &mut Tar {
    tar.dir("evil-1.0/")
        .file("evil-1.0/README", 0o644, b"hello\n")
        .dir("evil-1.0/debian/")
        .file("evil-1.0/debian/rules", 0o755, b"#!/usr/bin/make -f\n")
}

#[test]
fn parent_component_is_refused() {
    let target = victim("dotdot");
    let name = format!("evil-1.0/../../../../../../../..{}", target.display());
    let mut tar = Tar::new();
    normal_start(&mut tar).file(&name, 0o644, b"pwned\n");
    expect_unsafe(
        unpack_native(&tar.finish(), &Limits::standard()),
        UnsafeReason::ParentComponent,
        "unsafe entry 'evil-1.0/../../",
    );
    assert!(!target.exists());
}

#[test]
fn absolute_path_is_refused() {
    let target = victim("absolute");
    let mut tar = Tar::new();
    normal_start(&mut tar).file(target.to_str().unwrap(), 0o644, b"pwned\n");
    expect_unsafe(
        unpack_native(&tar.finish(), &Limits::standard()),
        UnsafeReason::AbsolutePath,
        "absolute path",
    );
    assert!(!target.exists());
}

#[test]
fn file_written_through_a_symlink_out_of_the_tree_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    let mut tar = Tar::new();
    normal_start(&mut tar)
        .symlink("evil-1.0/link", outside.path().to_str().unwrap())
        .file("evil-1.0/link/pwned", 0o644, b"pwned\n");
    expect_unsafe(
        unpack_native(&tar.finish(), &Limits::standard()),
        UnsafeReason::ThroughSymlink {
            symlink: "evil-1.0/link".to_owned(),
        },
        "written through the symlink 'evil-1.0/link'",
    );
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}

#[test]
fn file_written_through_an_inside_symlink_is_refused_too() {
    // Even a harmless-looking link: a later file must never be written through it.
    let mut tar = Tar::new();
    normal_start(&mut tar)
        .symlink("evil-1.0/docs", "debian")
        .file("evil-1.0/docs/rules", 0o644, b"overwrite\n");
    expect_unsafe(
        unpack_native(&tar.finish(), &Limits::standard()),
        UnsafeReason::ThroughSymlink {
            symlink: "evil-1.0/docs".to_owned(),
        },
        "written through the symlink",
    );
}

#[test]
fn directory_member_over_a_symlink_is_refused() {
    // The classic two-step: `d -> /etc`, then a directory member `d/` (tar keeps the link),
    // then `d/x`. Refused at the directory member already.
    let mut tar = Tar::new();
    normal_start(&mut tar)
        .symlink("evil-1.0/d", "/etc")
        .dir("evil-1.0/d/")
        .file("evil-1.0/d/x", 0o644, b"pwned\n");
    expect_unsafe(
        unpack_native(&tar.finish(), &Limits::standard()),
        UnsafeReason::ThroughSymlink {
            symlink: "evil-1.0/d".to_owned(),
        },
        "written through the symlink",
    );
}

#[test]
fn symlinks_escaping_the_tree_are_refused() {
    for target in ["/etc/shadow", "../../../etc/passwd", "debian/../../x"] {
        let mut tar = Tar::new();
        normal_start(&mut tar).symlink("evil-1.0/up", target);
        expect_unsafe(
            unpack_native(&tar.finish(), &Limits::standard()),
            UnsafeReason::SymlinkEscapes {
                target: target.to_owned(),
            },
            "escapes the tree",
        );
    }
}

#[test]
fn symlink_chains_escaping_only_when_followed_are_refused() {
    // `a/b/s -> ../..` is the root; `t -> a/b/s/..` climbs above it once `s` is followed.
    let mut tar = Tar::new();
    normal_start(&mut tar)
        .symlink("evil-1.0/a/b/s", "../..")
        .symlink("evil-1.0/t", "a/b/s/..");
    expect_unsafe(
        unpack_native(&tar.finish(), &Limits::standard()),
        UnsafeReason::SymlinkEscapes {
            target: "a/b/s/..".to_owned(),
        },
        "escapes the tree",
    );
}

#[test]
fn symlinks_inside_the_tree_and_to_dev_null_are_kept() {
    // dpkg-source accepts links to /dev/null (Dpkg::Path::check_directory_traversal).
    let mut tar = Tar::new();
    normal_start(&mut tar)
        .symlink("evil-1.0/debian/masked.service", "/dev/null")
        .symlink("evil-1.0/debian/README", "../README");
    let tree = unpack_native(&tar.finish(), &Limits::standard()).unwrap();
    assert_eq!(
        tree.get("debian/README"),
        Some(&Node::Symlink {
            target: "../README".to_owned()
        })
    );
    assert!(tree.get("debian/masked.service").is_some());
}

#[test]
fn hard_links_out_of_the_tree_are_refused() {
    for target in ["/etc/passwd", "evil-1.0/../../../etc/passwd"] {
        let mut tar = Tar::new();
        normal_start(&mut tar).hardlink("evil-1.0/h", target);
        expect_unsafe(
            unpack_native(&tar.finish(), &Limits::standard()),
            UnsafeReason::HardLinkOutside {
                target: target.to_owned(),
            },
            "is outside the tree",
        );
    }
}

#[test]
fn hard_link_to_a_missing_entry_is_refused() {
    let mut tar = Tar::new();
    normal_start(&mut tar).hardlink("evil-1.0/h", "evil-1.0/not-there");
    expect_unsafe(
        unpack_native(&tar.finish(), &Limits::standard()),
        UnsafeReason::HardLinkMissing {
            target: "evil-1.0/not-there".to_owned(),
        },
        "does not exist in the archive",
    );
}

#[test]
fn hard_link_to_an_earlier_entry_copies_it() {
    let mut tar = Tar::new();
    normal_start(&mut tar).hardlink("evil-1.0/COPY", "evil-1.0/README");
    let tree = unpack_native(&tar.finish(), &Limits::standard()).unwrap();
    assert_eq!(tree.get("COPY"), tree.get("README"));
}

#[test]
fn file_replacing_a_directory_with_content_is_refused() {
    let mut tar = Tar::new();
    normal_start(&mut tar).dir("evil-1.0/a/b/").file(
        "evil-1.0/a",
        0o644,
        b"file over a directory\n",
    );
    let error = unpack_native(&tar.finish(), &Limits::standard()).unwrap_err();
    assert!(error.is_permanent());
    assert_eq!(
        error.to_string(),
        "conflicting entry 'evil-1.0/a' in evil_1.0.tar.gz: a non-empty directory of that name exists"
    );
}

#[test]
fn device_nodes_are_refused() {
    for kind in [tar::EntryType::Char, tar::EntryType::Block] {
        let mut tar = Tar::new();
        normal_start(&mut tar).special("evil-1.0/null", kind);
        expect_unsafe(
            unpack_native(&tar.finish(), &Limits::standard()),
            UnsafeReason::DeviceNode,
            "device node",
        );
    }
}

#[test]
fn fifo_is_refused() {
    let mut tar = Tar::new();
    normal_start(&mut tar).special("evil-1.0/pipe", tar::EntryType::Fifo);
    expect_unsafe(
        unpack_native(&tar.finish(), &Limits::standard()),
        UnsafeReason::Fifo,
        "named pipe",
    );
}

/// A `.tar.gz` holding one file of `gib` GiB of zeros, written as a stream of gzip members
/// (one per MiB; gzip allows concatenation), so that it stays about 1 KiB per MiB and takes
/// milliseconds to build.
fn write_gzip_bomb(path: &Path, gib: u64) {
    let gzip = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut header = tar::Header::new_gnu();
    header.set_path("bomb-1.0/zeros").unwrap();
    header.set_size(gib << 30);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    out.write_all(&gzip(header.as_bytes())).unwrap();
    let mib_of_zeros = gzip(&vec![0u8; 1 << 20]);
    for _ in 0..(gib << 10) {
        out.write_all(&mib_of_zeros).unwrap();
    }
    out.write_all(&gzip(&[0u8; 1024])).unwrap();
    out.flush().unwrap();
}

fn bomb_package(dir: &Path) -> PathBuf {
    let bomb = dir.join("bomb.tar.gz");
    write_gzip_bomb(&bomb, 3);
    let data = std::fs::read(&bomb).unwrap();
    std::fs::remove_file(&bomb).unwrap();
    assert!(data.len() < 8 << 20, "bomb is {} bytes", data.len());
    write_package(
        dir,
        "bomb",
        "1.0",
        "3.0 (native)",
        &[("bomb_1.0.tar.gz", &data)],
    )
}

#[test]
fn decompression_bomb_is_stopped_while_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let dsc = bomb_package(dir.path());
    // A per-file cap above the bomb's declared size: only the streaming count can stop it.
    let limits = Limits {
        max_total_bytes: 32 << 20,
        max_entries: 1000,
        max_file_bytes: 8 << 30,
    };
    let started = Instant::now();
    let error = unpack_dsc_file(&dsc, &limits).expect_err("bomb accepted");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}: the bomb was not stopped early",
        started.elapsed()
    );
    assert_eq!(
        error.to_string(),
        "bomb_1.0.tar.gz exceeds the limit of 33554432 total unpacked bytes"
    );
    assert!(error.is_permanent());
    assert!(matches!(
        error,
        Error::LimitExceeded {
            kind: LimitKind::TotalBytes,
            ..
        }
    ));
}

#[test]
fn decompression_bomb_is_refused_by_the_standard_per_file_limit() {
    let dir = tempfile::tempdir().unwrap();
    let dsc = bomb_package(dir.path());
    let error = unpack_dsc_file(&dsc, &Limits::standard()).expect_err("bomb accepted");
    assert!(
        matches!(
            error,
            Error::LimitExceeded {
                kind: LimitKind::FileBytes,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn too_many_entries_are_refused() {
    let mut tar = Tar::new();
    normal_start(&mut tar);
    for i in 0..50 {
        tar.file(&format!("evil-1.0/f{i}"), 0o644, b"x");
    }
    let limits = Limits {
        max_entries: 20,
        ..Limits::standard()
    };
    let error = unpack_native(&tar.finish(), &limits).unwrap_err();
    assert!(
        matches!(
            error,
            Error::LimitExceeded {
                kind: LimitKind::Entries,
                limit: 20,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn many_hard_links_to_one_big_file_count_against_the_limit() {
    let mut tar = Tar::new();
    normal_start(&mut tar).file("evil-1.0/big", 0o644, &vec![7u8; 1 << 20]);
    for i in 0..100 {
        tar.hardlink(&format!("evil-1.0/copy{i}"), "evil-1.0/big");
    }
    let limits = Limits {
        max_total_bytes: 16 << 20,
        ..Limits::standard()
    };
    let error = unpack_native(&tar.finish(), &limits).unwrap_err();
    assert!(
        matches!(
            error,
            Error::LimitExceeded {
                kind: LimitKind::TotalBytes,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn materialize_refuses_a_non_empty_or_symlinked_target() {
    let mut tar = Tar::new();
    normal_start(&mut tar);
    let tree = unpack_native(&tar.finish(), &Limits::standard()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("existing"), b"x").unwrap();
    let error = tree.materialize(dir.path()).unwrap_err();
    assert!(error.to_string().contains("not empty"), "{error}");
    let outside = tempfile::tempdir().unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(outside.path(), &link).unwrap();
    let error = tree.materialize(&link).unwrap_err();
    assert!(error.to_string().contains("not a directory"), "{error}");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    let fresh = dir.path().join("fresh");
    tree.materialize(&fresh).unwrap();
    assert_eq!(std::fs::read(fresh.join("README")).unwrap(), b"hello\n");
}

// ---- hostile .dsc files ----

/// A valid native package; returns (temp dir, dsc path, tarball path).
fn valid_package() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut tar = Tar::new();
    normal_start(&mut tar);
    let tarball = compress(&tar.finish(), Compression::Gzip);
    let dsc = write_package(
        dir.path(),
        "evil",
        "1.0",
        "3.0 (native)",
        &[("evil_1.0.tar.gz", &tarball)],
    );
    let tar_path = dir.path().join("evil_1.0.tar.gz");
    assert!(unpack_dsc_file(&dsc, &Limits::standard()).is_ok());
    (dir, dsc, tar_path)
}

fn edit_dsc(dsc: &Path, edit: impl FnOnce(String) -> Vec<u8>) {
    let text = std::fs::read_to_string(dsc).unwrap();
    std::fs::write(dsc, edit(text)).unwrap();
}

fn dsc_error(dsc: &Path) -> Error {
    let error = unpack_dsc_file(dsc, &Limits::standard()).expect_err("bad dsc accepted");
    assert!(error.is_permanent(), "{error}");
    assert!(!error.to_string().contains('\n'), "{error}");
    error
}

#[test]
fn dsc_wrong_checksum() {
    let (_dir, dsc, tarball) = valid_package();
    let mut data = std::fs::read(&tarball).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0xff;
    std::fs::write(&tarball, data).unwrap();
    let error = dsc_error(&dsc);
    assert!(
        error
            .to_string()
            .starts_with("file evil_1.0.tar.gz has sha256 "),
        "{error}"
    );
    assert!(matches!(
        error,
        Error::ChecksumMismatch {
            algorithm: "sha256",
            ..
        }
    ));
}

#[test]
fn dsc_wrong_size() {
    let (_dir, dsc, tarball) = valid_package();
    let mut data = std::fs::read(&tarball).unwrap();
    data.push(0);
    std::fs::write(&tarball, data).unwrap();
    assert!(matches!(dsc_error(&dsc), Error::SizeMismatch { .. }));
}

#[test]
fn dsc_missing_file() {
    let (dir, dsc, tarball) = valid_package();
    std::fs::remove_file(&tarball).unwrap();
    let error = dsc_error(&dsc);
    assert_eq!(
        error.to_string(),
        format!(
            "file evil_1.0.tar.gz listed in the dsc is missing from {}",
            dir.path().display()
        )
    );
    assert!(matches!(error, Error::MissingFile { .. }));
}

#[test]
fn dsc_duplicated_field() {
    let (_dir, dsc, _) = valid_package();
    edit_dsc(&dsc, |text| {
        text.replace("Version: 1.0\n", "Version: 1.0\nVersion: 2.0\n")
            .into_bytes()
    });
    let error = dsc_error(&dsc);
    assert_eq!(error.to_string(), "dsc has a duplicated field 'Version'");
    assert!(matches!(error, Error::DscDuplicateField { .. }));
}

#[test]
fn dsc_not_utf8() {
    let (_dir, dsc, _) = valid_package();
    edit_dsc(&dsc, |text| {
        let mut bytes = text.into_bytes();
        let at = bytes.iter().position(|&b| b == b'T').unwrap();
        bytes[at] = 0xff;
        bytes
    });
    let error = dsc_error(&dsc);
    assert!(
        error.to_string().starts_with("dsc is not valid UTF-8"),
        "{error}"
    );
    assert!(matches!(error, Error::DscNotUtf8 { .. }));
}

#[test]
fn dsc_files_entry_with_parent_directory() {
    let (dir, dsc, _) = valid_package();
    // Put a file where `../x` would point, so only the name check can refuse it.
    let parent_victim = dir.path().parent().unwrap().join("x");
    edit_dsc(&dsc, |text| {
        text.replace(" evil_1.0.tar.gz\n", " ../x\n").into_bytes()
    });
    let error = dsc_error(&dsc);
    assert_eq!(error.to_string(), "dsc lists an unsafe file name '../x'");
    assert!(matches!(error, Error::UnsafeFileName { .. }));
    assert!(!parent_victim.exists() || parent_victim.is_file());
}

#[test]
fn dsc_without_sha256() {
    let (_dir, dsc, _) = valid_package();
    edit_dsc(&dsc, |text| {
        let start = text.find("Checksums-Sha256:").unwrap();
        let end = text.find("Files:").unwrap();
        format!("{}{}", &text[..start], &text[end..]).into_bytes()
    });
    let error = dsc_error(&dsc);
    assert_eq!(error.to_string(), "dsc has no 'Checksums-Sha256' field");
}

#[test]
fn dsc_listing_an_extra_tarball_is_refused() {
    // A .dsc cannot make us unpack a file that its format has no place for.
    let dir = tempfile::tempdir().unwrap();
    let mut tar = Tar::new();
    normal_start(&mut tar);
    let tarball = compress(&tar.finish(), Compression::Gzip);
    let dsc = write_package(
        dir.path(),
        "evil",
        "1.0",
        "3.0 (native)",
        &[("evil_1.0.tar.gz", &tarball), ("other.tar.gz", &tarball)],
    );
    let error = dsc_error(&dsc);
    assert_eq!(
        error.to_string(),
        "bad file set for format 3.0 (native): unrecognized file other.tar.gz"
    );
}
