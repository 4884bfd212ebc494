//! Reading one compressed tarball into memory, the way `dpkg-source` extracts it.
//!
//! `dpkg-source` runs `tar -xf - --no-same-permissions --no-same-owner` into a temporary
//! directory, fixes permissions with `chmod -R u+rwX,go+rX,go-w` (for umask 022), and then,
//! unless it extracts "in place", strips the top-level directory when the archive holds
//! exactly one top-level entry and that entry is a real directory (whatever its name).
//! This module reproduces that without touching the disk: every member goes straight from
//! the decompressor into a map, is checked as it arrives, and nothing is written anywhere.
//!
//! Permissions reduce to git's single bit: after `u+X`, a file is executable for its owner
//! iff any execute bit was set in the archive.

use std::collections::BTreeSet;
use std::io::Read;

use crate::error::{Error, UnsafeReason};
use crate::limits::{Budget, CountingReader, Limits};
use crate::tree::{Node, SourceTree, sanitize_member_name};

/// The compression of a tarball, chosen from its file name as dpkg does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `.gz`
    Gzip,
    /// `.bz2`
    Bzip2,
    /// `.lzma` (the legacy LZMA-alone format)
    Lzma,
    /// `.xz`
    Xz,
    /// `.zst`
    Zstd,
}

impl Compression {
    /// The compression named by the extension of `file_name` (`foo.tar.xz` → `Xz`).
    pub fn from_file_name(file_name: &str) -> Option<Compression> {
        let (_, extension) = file_name.rsplit_once('.')?;
        Some(match extension {
            "gz" => Compression::Gzip,
            "bz2" => Compression::Bzip2,
            "lzma" => Compression::Lzma,
            "xz" => Compression::Xz,
            "zst" => Compression::Zstd,
            _ => return None,
        })
    }

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::Gzip => "gz",
            Compression::Bzip2 => "bz2",
            Compression::Lzma => "lzma",
            Compression::Xz => "xz",
            Compression::Zstd => "zst",
        }
    }

    /// Wrap `reader` in the matching decoder. Every decoder accepts concatenated streams,
    /// like the command-line tools that dpkg pipes through.
    pub(crate) fn decoder<'r, R: Read + 'r>(
        self,
        reader: R,
    ) -> std::io::Result<Box<dyn Read + 'r>> {
        Ok(match self {
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
            Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(reader)),
            Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(reader)),
            Compression::Lzma => {
                let stream = liblzma::stream::Stream::new_lzma_decoder(u64::MAX)?;
                Box::new(liblzma::read::XzDecoder::new_stream(reader, stream))
            }
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(reader)?),
        })
    }
}

/// How a tarball is to be read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TarOptions {
    /// Skip `.pc` and `*/.pc` as `dpkg-source` does for the main orig tarball of a 2.0/3.0
    /// package (`--anchored --no-wildcards-match-slash --exclude '*/.pc' --exclude .pc`).
    pub(crate) exclude_quilt_pc: bool,
}

/// The members of one tarball under their archive names (normalized, nothing stripped).
#[derive(Debug, Default)]
pub(crate) struct RawTarball {
    pub(crate) tree: SourceTree,
    /// Directories that appear as explicit members; they decide top-level stripping and
    /// in-place merging, and are otherwise invisible (git has no empty directories).
    pub(crate) dirs: BTreeSet<String>,
}

impl RawTarball {
    /// Strip the top-level directory the way `Dpkg::Source::Archive::extract` does: only
    /// when the archive has exactly one top-level entry and it is a directory.
    pub(crate) fn into_stripped(self) -> SourceTree {
        let mut tops = BTreeSet::new();
        for path in self.tree.iter().map(|(k, _)| k).chain(self.dirs.iter()) {
            tops.insert(path.split('/').next().unwrap_or(path).to_owned());
            if tops.len() > 1 {
                return self.tree;
            }
        }
        let Some(top) = tops.pop_first() else {
            return self.tree;
        };
        if self.tree.get(&top).is_some() {
            // The single top-level entry is a file or a symlink: nothing to strip.
            return self.tree;
        }
        let cut = top.len() + 1;
        let mut stripped = SourceTree::new();
        for (path, node) in self.tree {
            stripped.insert_unchecked(path[cut..].to_owned(), node);
        }
        stripped
    }
}

/// Unpack one compressed tarball read from `reader`, strip its top-level directory as
/// `dpkg-source` does, and check the result (see [`SourceTree::validate`]).
///
/// This is the building block of [`crate::unpack`]; it is public for tools and fuzzing.
pub fn unpack_tarball<R: Read>(
    reader: R,
    compression: Compression,
    limits: &Limits,
) -> Result<SourceTree, Error> {
    let budget = Budget::new(*limits);
    let raw = read_tarball(
        reader,
        compression,
        "tarball",
        &budget,
        TarOptions {
            exclude_quilt_pc: false,
        },
    )?;
    let tree = raw.into_stripped();
    tree.validate("tarball")?;
    Ok(tree)
}

/// Read every member of a tarball into a [`RawTarball`], refusing unsafe members.
pub(crate) fn read_tarball<R: Read>(
    reader: R,
    compression: Compression,
    archive_name: &str,
    budget: &Budget,
    options: TarOptions,
) -> Result<RawTarball, Error> {
    let corrupt = |source: std::io::Error| {
        if budget.bytes_exceeded() {
            budget.total_bytes_error(archive_name)
        } else {
            Error::CorruptArchive {
                archive: archive_name.to_owned(),
                source,
            }
        }
    };
    let decoder = compression.decoder(reader).map_err(corrupt)?;
    let mut archive = tar::Archive::new(CountingReader::new(decoder, budget));
    let mut raw = RawTarball::default();
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        budget.take_entry(archive_name)?;
        let entry_type = entry.header().entry_type();
        if entry_type.is_pax_global_extensions() {
            continue;
        }
        let raw_name = entry.path_bytes().into_owned();
        if options.exclude_quilt_pc && is_quilt_pc(&raw_name) {
            continue;
        }
        let shown = String::from_utf8_lossy(&raw_name).into_owned();
        let refuse = |reason: UnsafeReason| Error::Unsafe {
            archive: archive_name.to_owned(),
            path: shown.clone(),
            reason,
        };
        let path = sanitize_member_name(&raw_name).map_err(refuse)?;
        use tar::EntryType as T;
        let is_dir = entry_type.is_dir()
            || (matches!(entry_type, T::Regular) && raw_name.last() == Some(&b'/'));
        if is_dir {
            if let Some(path) = path {
                add_directory(&mut raw, archive_name, path)?;
            }
            continue;
        }
        let Some(path) = path else {
            return Err(refuse(UnsafeReason::InvalidName));
        };
        let node = match entry_type {
            T::Regular | T::Continuous | T::GNUSparse => {
                let size = entry.size();
                budget.check_file_size(archive_name, size)?;
                let mode = entry.header().mode().map_err(corrupt)?;
                // Reserve what the header claims only up to a point: a lying header must
                // not make us allocate gigabytes before a single byte arrives.
                let mut data = Vec::with_capacity(size.min(1 << 20) as usize);
                entry.read_to_end(&mut data).map_err(corrupt)?;
                if data.len() as u64 != size {
                    return Err(corrupt(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("member {shown} is truncated"),
                    )));
                }
                Node::File {
                    executable: mode & 0o111 != 0,
                    data,
                }
            }
            T::Symlink => {
                let target = entry.link_name_bytes().unwrap_or_default();
                if target.is_empty() || target.contains(&0) {
                    return Err(refuse(UnsafeReason::InvalidName));
                }
                let target =
                    std::str::from_utf8(&target).map_err(|_| refuse(UnsafeReason::NonUtf8Name))?;
                Node::Symlink {
                    target: target.to_owned(),
                }
            }
            T::Link => {
                let target = entry.link_name_bytes().unwrap_or_default().into_owned();
                let shown_target = String::from_utf8_lossy(&target).into_owned();
                let target = match sanitize_member_name(&target) {
                    Ok(Some(target)) => target,
                    Ok(None) => {
                        return Err(refuse(UnsafeReason::HardLinkToDirectory {
                            target: shown_target,
                        }));
                    }
                    Err(_) => {
                        return Err(refuse(UnsafeReason::HardLinkOutside {
                            target: shown_target,
                        }));
                    }
                };
                match raw.tree.get(&target) {
                    Some(node) => {
                        if let Node::File { data, .. } = node {
                            budget.charge(archive_name, data.len() as u64)?;
                        }
                        node.clone()
                    }
                    None if raw.dirs.contains(&target) || raw.tree.has_children(&target) => {
                        return Err(refuse(UnsafeReason::HardLinkToDirectory {
                            target: shown_target,
                        }));
                    }
                    None => {
                        return Err(refuse(UnsafeReason::HardLinkMissing {
                            target: shown_target,
                        }));
                    }
                }
            }
            T::Char | T::Block => return Err(refuse(UnsafeReason::DeviceNode)),
            T::Fifo => return Err(refuse(UnsafeReason::Fifo)),
            other => {
                return Err(refuse(UnsafeReason::UnsupportedType {
                    type_byte: other.as_byte(),
                }));
            }
        };
        add_node(&mut raw, archive_name, path, node)?;
    }
    drop(archive);
    if budget.bytes_exceeded() {
        return Err(budget.total_bytes_error(archive_name));
    }
    log::debug!(
        "archive={archive_name} entries={} dirs={}",
        raw.tree.len(),
        raw.dirs.len()
    );
    Ok(raw)
}

fn add_directory(raw: &mut RawTarball, archive: &str, path: String) -> Result<(), Error> {
    // A directory member at the path of a symlink would let later members be written
    // through the link (tar keeps a symlink to a directory), so both cases are refused.
    let blocker = match raw.tree.get(&path) {
        Some(_) => Some(path.clone()),
        None => raw.tree.node_ancestor(&path).map(str::to_owned),
    };
    if let Some(blocker) = blocker {
        return Err(match raw.tree.get(&blocker) {
            Some(Node::Symlink { .. }) => Error::Unsafe {
                archive: archive.to_owned(),
                path,
                reason: UnsafeReason::ThroughSymlink { symlink: blocker },
            },
            _ => Error::Conflict {
                archive: archive.to_owned(),
                path,
                message: format!("'{blocker}' is a file, not a directory"),
            },
        });
    }
    raw.dirs.insert(path);
    Ok(())
}

fn add_node(raw: &mut RawTarball, archive: &str, path: String, node: Node) -> Result<(), Error> {
    // tar replaces an empty directory by a file of the same name; a directory with content
    // (even only subdirectories) cannot be replaced.
    let prefix = format!("{path}/");
    let has_subdirs = raw
        .dirs
        .range(prefix.clone()..)
        .next()
        .is_some_and(|d| d.starts_with(&prefix));
    if has_subdirs || raw.tree.has_children(&path) {
        return Err(Error::Conflict {
            archive: archive.to_owned(),
            path,
            message: "a non-empty directory of that name exists".to_owned(),
        });
    }
    raw.dirs.remove(&path);
    raw.tree.insert_checked(archive, path, node)
}

/// `--anchored --no-wildcards-match-slash --exclude .pc --exclude '*/.pc'`, applied by GNU
/// tar to the member name as stored (so `./.pc` is excluded but `./top/.pc` is not), and to
/// everything below a matching directory.
fn is_quilt_pc(name: &[u8]) -> bool {
    fn is_pc(rest: &[u8]) -> bool {
        rest == b".pc" || rest.starts_with(b".pc/")
    }
    if is_pc(name) {
        return true;
    }
    match name.iter().position(|&b| b == b'/') {
        Some(slash) => is_pc(&name[slash + 1..]),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quilt_pc_exclusion_matches_gnu_tar() {
        // Checked against GNU tar 1.34 with the options dpkg-source passes.
        for (name, excluded) in [
            (".pc", true),
            (".pc/x", true),
            ("top/.pc", true),
            ("top/.pc/", true),
            ("top/.pc/p/x", true),
            (".top/.pc/f", true),
            ("./.pc", true),
            ("./top/.pc/x", false),
            ("top/sub/.pc/y", false),
            ("top/.pcx", false),
            ("top//.pc", false),
        ] {
            assert_eq!(is_quilt_pc(name.as_bytes()), excluded, "{name}");
        }
    }

    #[test]
    fn compression_from_file_name() {
        assert_eq!(
            Compression::from_file_name("a_1.orig.tar.xz"),
            Some(Compression::Xz)
        );
        assert_eq!(
            Compression::from_file_name("a_1.orig.tar.zst"),
            Some(Compression::Zstd)
        );
        assert_eq!(Compression::from_file_name("a_1.orig.tar"), None);
    }
}
