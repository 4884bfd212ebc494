//! Helpers for tests across the workspace: building tarballs, including the malformed ones
//! that `tar::Builder`'s safe API refuses to write, compressing them in every format the
//! importer reads, and writing source packages whose `.dsc` carries real sizes and checksums;
//! throwaway PostgreSQL databases ([`pg`]); and lp-sim's control endpoints, its injected
//! faults among them ([`sim`]).

pub mod pg;
pub mod sim;

use std::path::{Path, PathBuf};

use md5::Digest as _;

/// Compresses `data` for a tarball ending in `.<extension>`: `gz`, `bz2`, `xz`, `lzma` or
/// `zst`.
pub fn compress(data: &[u8], extension: &str) -> Vec<u8> {
    use std::io::Write;
    match extension {
        "gz" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "bz2" => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "xz" => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "lzma" => {
            let options = liblzma::stream::LzmaOptions::new_preset(1).unwrap();
            let stream = liblzma::stream::Stream::new_lzma_encoder(&options).unwrap();
            let mut e = liblzma::write::XzEncoder::new_stream(Vec::new(), stream);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "zst" => zstd::stream::encode_all(data, 1).unwrap(),
        other => panic!("no compression {other:?}"),
    }
}

/// A tarball under construction, with helpers for every member type, including the
/// malformed names that `tar::Builder`'s safe API refuses to write.
pub struct Tar {
    builder: tar::Builder<Vec<u8>>,
}

impl Default for Tar {
    fn default() -> Self {
        Tar::new()
    }
}

impl Tar {
    pub fn new() -> Tar {
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

    pub fn dir(&mut self, name: &str) -> &mut Tar {
        let header = Tar::header(tar::EntryType::Directory, name, 0o755, 0);
        self.append(header, b"")
    }

    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> &mut Tar {
        let header = Tar::header(tar::EntryType::Regular, name, mode, data.len() as u64);
        self.append(header, data)
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Tar {
        let mut header = Tar::header(tar::EntryType::Symlink, name, 0o777, 0);
        header.set_link_name(target).unwrap();
        self.append(header, b"")
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Tar {
        let mut header = Tar::header(tar::EntryType::Link, name, 0o644, 0);
        header.set_link_name(target).unwrap();
        self.append(header, b"")
    }

    pub fn special(&mut self, name: &str, kind: tar::EntryType) -> &mut Tar {
        let mut header = Tar::header(kind, name, 0o644, 0);
        header.set_device_major(1).unwrap();
        header.set_device_minor(3).unwrap();
        self.append(header, b"")
    }

    pub fn finish(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Write `files` into `dir` and a matching `.dsc` (real sizes and checksums) named
/// `{source}_{version without epoch}.dsc`; returns the path of the `.dsc`.
pub fn write_package(
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

/// SplitMix64: a tiny seeded generator, enough for the sweeps and benchmarks to pick
/// packages, moments and victims reproducibly from a printed seed. Hand-written (eight
/// lines) so that a seed means the same sequence whatever version of `rand` is locked.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[0, n)` (the modulo bias is negligible for small `n`); 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}
