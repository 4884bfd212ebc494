//! Helpers shared by the integration tests: building tarballs (including malformed ones) and
//! `.dsc` files in a temp dir, running `dpkg-source -x --skip-patches` as the reference, and
//! computing git tree hashes of directories the same way for both sides.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset; `expect` would fail in the others"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use md5::Digest as _;
use pkgimport_unpack::Compression;

/// The project's copy of the Debian fixtures.
pub(crate) fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/debian")
}

/// Run `command`, panic with its stderr if it fails, return its stdout.
pub(crate) fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed with {}:\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// The reference implementation must be there: a missing dpkg-source fails loudly instead
/// of silently skipping the comparison.
pub(crate) fn require_dpkg_source() {
    let found = Command::new("dpkg-source")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "dpkg-source is not installed: these tests compare against it. \
         Install it with `apt-get update && apt-get install -y dpkg-dev`."
    );
}

/// `dpkg-source -x --skip-patches` of `dsc` into `dest` (which must not exist), under umask
/// 022 like a normal login, without signature or checksum checks (ours run separately).
pub(crate) fn dpkg_source_extract(dsc: &Path, dest: &Path) {
    run(Command::new("sh")
        .arg("-c")
        .arg("umask 022 && exec dpkg-source --no-check --no-copy --skip-patches -x \"$0\" \"$1\"")
        .arg(dsc)
        .arg(dest)
        .env("LC_ALL", "C"));
}

/// The git tree hash of `dir` by `git add -A -f` + `git write-tree`, in a private
/// repository (`git_dir`) so that `dir` itself stays untouched.
pub(crate) fn git_tree_of_dir(git_dir: &Path, dir: &Path) -> String {
    if !git_dir.exists() {
        run(Command::new("git")
            .args(["init", "-q", "--bare"])
            .arg(git_dir));
    }
    let index = git_dir.join(format!(
        "index-{}",
        dir.file_name().unwrap().to_string_lossy()
    ));
    let git = |args: &[&str]| {
        run(Command::new("git")
            .arg("--git-dir")
            .arg(git_dir)
            .arg("--work-tree")
            .arg(dir)
            .args([
                "-c",
                "core.autocrlf=false",
                "-c",
                "core.filemode=true",
                "-c",
                "core.symlinks=true",
                "-c",
                "core.excludesFile=/dev/null",
            ])
            .args(args)
            .env("GIT_INDEX_FILE", &index)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null"))
    };
    git(&["add", "-A", "-f", "."]);
    git(&["write-tree"]).trim().to_owned()
}

/// `git diff-tree -r` between two trees of the same repository, for failure messages.
pub(crate) fn diff_trees(git_dir: &Path, a: &str, b: &str) -> String {
    run(Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["diff-tree", "-r", a, b]))
}

pub(crate) fn compress(data: &[u8], compression: Compression) -> Vec<u8> {
    use std::io::Write;
    match compression {
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Xz => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Lzma => {
            let options = liblzma::stream::LzmaOptions::new_preset(1).unwrap();
            let stream = liblzma::stream::Stream::new_lzma_encoder(&options).unwrap();
            let mut e = liblzma::write::XzEncoder::new_stream(Vec::new(), stream);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Zstd => zstd::stream::encode_all(data, 1).unwrap(),
    }
}

/// A tarball under construction, with helpers for every member type, including the
/// malformed names that `tar::Builder`'s safe API refuses to write.
pub(crate) struct Tar {
    builder: tar::Builder<Vec<u8>>,
}

impl Default for Tar {
    fn default() -> Self {
        Tar::new()
    }
}

impl Tar {
    pub(crate) fn new() -> Tar {
        Tar {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    fn header(kind: tar::EntryType, name: &str, mode: u32, size: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(size);
        header.set_mtime(1_600_000_000);
        header.set_uid(1000);
        header.set_gid(1000);
        // Raw bytes: `set_path` would refuse `..` and absolute names, which tests need.
        let slot = &mut header.as_old_mut().name;
        assert!(
            name.len() < slot.len(),
            "name too long for a raw header: {name}"
        );
        slot.fill(0);
        slot[..name.len()].copy_from_slice(name.as_bytes());
        header
    }

    fn append(&mut self, mut header: tar::Header, data: &[u8]) -> &mut Tar {
        header.set_cksum();
        self.builder.append(&header, data).unwrap();
        self
    }

    pub(crate) fn dir(&mut self, name: &str) -> &mut Tar {
        let header = Tar::header(tar::EntryType::Directory, name, 0o755, 0);
        self.append(header, b"")
    }

    pub(crate) fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> &mut Tar {
        let header = Tar::header(tar::EntryType::Regular, name, mode, data.len() as u64);
        self.append(header, data)
    }

    pub(crate) fn symlink(&mut self, name: &str, target: &str) -> &mut Tar {
        let mut header = Tar::header(tar::EntryType::Symlink, name, 0o777, 0);
        header.set_link_name(target).unwrap();
        self.append(header, b"")
    }

    pub(crate) fn hardlink(&mut self, name: &str, target: &str) -> &mut Tar {
        let mut header = Tar::header(tar::EntryType::Link, name, 0o644, 0);
        header.set_link_name(target).unwrap();
        self.append(header, b"")
    }

    pub(crate) fn special(&mut self, name: &str, kind: tar::EntryType) -> &mut Tar {
        let mut header = Tar::header(kind, name, 0o644, 0);
        header.set_device_major(1).unwrap();
        header.set_device_minor(3).unwrap();
        self.append(header, b"")
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Write `files` into `dir` and a matching `.dsc` (real sizes and checksums) named
/// `{source}_{version without epoch}.dsc`; returns the path of the `.dsc`.
pub(crate) fn write_package(
    dir: &Path,
    source: &str,
    version: &str,
    format: &str,
    files: &[(&str, &[u8])],
) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let (mut md5s, mut sha1s, mut sha256s) = (String::new(), String::new(), String::new());
    for (name, data) in files {
        std::fs::write(dir.join(name), data).unwrap();
        let size = data.len();
        md5s += &format!(" {} {size} {name}\n", hex(&md5::Md5::digest(data)));
        sha1s += &format!(" {} {size} {name}\n", hex(&sha1::Sha1::digest(data)));
        sha256s += &format!(" {} {size} {name}\n", hex(&sha2::Sha256::digest(data)));
    }
    let text = format!(
        "Format: {format}\nSource: {source}\nBinary: {source}\nArchitecture: all\n\
         Version: {version}\nMaintainer: Test <test@example.org>\n\
         Checksums-Sha1:\n{sha1s}Checksums-Sha256:\n{sha256s}Files:\n{md5s}"
    );
    let bare_version = version.split_once(':').map_or(version, |(_, v)| v);
    let path = dir.join(format!("{source}_{bare_version}.dsc"));
    std::fs::write(&path, text).unwrap();
    path
}
