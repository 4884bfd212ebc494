//! Putting a source package together, format by format, as `dpkg-source -x --skip-patches`.
//!
//! Each step mirrors a named piece of dpkg (1.21/1.22, `Dpkg::Source::Package::*`):
//! - `1.0`: `V1::do_extract`. A `.tar.gz` plus optional `.diff.gz`; without a diff and with
//!   a non-orig tarball it is native and goes through `V3::Native`.
//! - `3.0 (native)`: `V3::Native::do_extract`. One tarball, top directory stripped.
//! - `3.0 (quilt)`: `V2::do_extract`. The orig tarball (without `.pc`), then each
//!   `orig-COMPONENT` tarball into `COMPONENT/` (replacing whatever the orig put there),
//!   then `debian/` is removed and the debian tarball is merged in place (not stripped).
//!   Patches are not applied.
//! - then `Package::extract`: write `debian/source/format` when absent (all but `1.0`) and
//!   make a plain-file `debian/rules` executable.
//!
//! The file names must fit the format exactly as dpkg requires, so a `.dsc` cannot smuggle
//! in extra tarballs.

use std::collections::BTreeMap;
use std::path::Path;

use crate::dsc::{Dsc, SourceFormat};
use crate::error::Error;
use crate::limits::{Budget, Limits};
use crate::tarball::{Compression, RawTarball, TarOptions, read_tarball};
use crate::tree::{Node, SourceTree};

/// Verify the files of `dsc` in `dir`, then unpack them into a [`SourceTree`] equal to what
/// `dpkg-source -x --skip-patches` leaves on disk (as git sees it).
pub fn unpack(dsc: &Dsc, dir: &Path, limits: &Limits) -> Result<SourceTree, Error> {
    dsc.verify_files(dir)?;
    let budget = Budget::new(*limits);
    let reader = ArchiveReader {
        dir,
        budget: &budget,
    };
    let mut tree = match dsc.format {
        SourceFormat::V1 => unpack_v1(dsc, &reader)?,
        SourceFormat::V3Native => unpack_native(&reader, &native_tarball(dsc)?)?,
        SourceFormat::V3Quilt => unpack_quilt(dsc, &reader)?,
    };
    finish(dsc, &mut tree)?;
    tree.validate("source tree")?;
    log::info!(
        "unpacked source={} version={} format=\"{}\" files={} bytes={}",
        dsc.source,
        dsc.version,
        dsc.format,
        tree.len(),
        tree.file_bytes()
    );
    Ok(tree)
}

/// Read the `.dsc` at `dsc_path`, then [`unpack`] it from the same directory.
pub fn unpack_dsc_file(dsc_path: &Path, limits: &Limits) -> Result<(Dsc, SourceTree), Error> {
    let dsc = Dsc::from_file(dsc_path)?;
    let dir = match dsc_path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let tree = unpack(&dsc, dir, limits)?;
    Ok((dsc, tree))
}

/// The `debian/changelog` of the source package whose `.dsc` is `dsc_path`, read without
/// unpacking the whole package where the format allows: from the debian tarball of a
/// `3.0 (quilt)` package, from the `.diff.gz` of a `1.0` package when the diff creates the
/// file (its orig tarball has no `debian/`), and otherwise from the unpacked tree. The
/// files read are verified against the `.dsc` first. `None` when the package has no
/// changelog.
///
/// The importer reads the changelogs of the versions it is about to build first, to build
/// every version after the versions its changelog names.
pub fn read_changelog(dsc_path: &Path, limits: &Limits) -> Result<Option<Vec<u8>>, Error> {
    let dsc = Dsc::from_file(dsc_path)?;
    let dir = match dsc_path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let budget = Budget::new(*limits);
    let reader = ArchiveReader {
        dir,
        budget: &budget,
    };
    let file = |tree: &SourceTree| match tree.get("debian/changelog") {
        Some(Node::File { data, .. }) => Some(data.clone()),
        _ => None,
    };
    // Only the files read are verified here: the whole unpack verifies every file again
    // before anything is built from it.
    match dsc.format {
        SourceFormat::V3Quilt => {
            let files = quilt_files(&dsc)?;
            dsc.verify_listed(dir, files.debian)?;
            let raw = reader.tarball(files.debian, false)?;
            Ok(file(&raw.tree))
        }
        SourceFormat::V1 => {
            let diff_name = format!("{}.diff.gz", dsc.basename_with_revision());
            if dsc.files.iter().any(|f| f.name == diff_name) {
                dsc.verify_listed(dir, &diff_name)?;
                let data = reader.decompressed(&diff_name)?;
                if let Some(created) =
                    crate::patch::created_file(&data, &diff_name, "debian/changelog")?
                {
                    return Ok(Some(created));
                }
            }
            Ok(file(&unpack(&dsc, dir, limits)?))
        }
        SourceFormat::V3Native => {
            let tarball = native_tarball(&dsc)?;
            dsc.verify_listed(dir, &tarball)?;
            Ok(file(&unpack_native(&reader, &tarball)?))
        }
    }
}

/// Opens listed files from the package directory and reads them against one budget.
struct ArchiveReader<'a> {
    dir: &'a Path,
    budget: &'a Budget,
}

impl ArchiveReader<'_> {
    fn open(&self, name: &str) -> Result<std::io::BufReader<std::fs::File>, Error> {
        let path = self.dir.join(name);
        let file = std::fs::File::open(&path).map_err(|source| Error::Io { path, source })?;
        Ok(std::io::BufReader::with_capacity(256 << 10, file))
    }

    fn tarball(&self, name: &str, exclude_quilt_pc: bool) -> Result<RawTarball, Error> {
        let compression = Compression::from_file_name(name).ok_or_else(|| Error::BadFileSet {
            format: "any".to_owned(),
            message: format!("unknown compression of {name}"),
        })?;
        log::debug!("unpacking archive={name}");
        read_tarball(
            self.open(name)?,
            compression,
            name,
            self.budget,
            TarOptions { exclude_quilt_pc },
        )
    }

    fn decompressed(&self, name: &str) -> Result<Vec<u8>, Error> {
        use std::io::Read;
        let compression = Compression::from_file_name(name).unwrap_or(Compression::Gzip);
        let corrupt = |source: std::io::Error| {
            if self.budget.bytes_exceeded() {
                self.budget.total_bytes_error(name)
            } else {
                Error::CorruptArchive {
                    archive: name.to_owned(),
                    source,
                }
            }
        };
        let decoder = compression.decoder(self.open(name)?).map_err(corrupt)?;
        let mut data = Vec::new();
        crate::limits::CountingReader::new(decoder, self.budget)
            .read_to_end(&mut data)
            .map_err(corrupt)?;
        Ok(data)
    }
}

fn bad_files(dsc: &Dsc, message: String) -> Error {
    Error::BadFileSet {
        format: dsc.format.to_string(),
        message,
    }
}

/// The compression of `name` if it is `stem` + `.tar.` + a known extension.
fn tarball_with_stem(name: &str, stem: &str) -> Option<Compression> {
    let extension = name.strip_prefix(stem)?.strip_prefix(".tar.")?;
    Compression::from_file_name(&format!("x.{extension}"))
        .filter(|compression| compression.extension() == extension)
}

fn native_tarball(dsc: &Dsc) -> Result<String, Error> {
    let stem = dsc.basename_with_revision();
    let mut tarball = None;
    for file in &dsc.files {
        if tarball_with_stem(&file.name, &stem).is_none() {
            return Err(bad_files(dsc, format!("unrecognized file {}", file.name)));
        }
        if tarball.replace(file.name.clone()).is_some() {
            return Err(bad_files(dsc, "more than one tarball".to_owned()));
        }
    }
    tarball.ok_or_else(|| bad_files(dsc, "no tarball".to_owned()))
}

fn unpack_native(reader: &ArchiveReader<'_>, tarball: &str) -> Result<SourceTree, Error> {
    Ok(reader.tarball(tarball, false)?.into_stripped())
}

fn unpack_v1(dsc: &Dsc, reader: &ArchiveReader<'_>) -> Result<SourceTree, Error> {
    let orig = format!("{}.orig.tar.gz", dsc.basename());
    let native = format!("{}.tar.gz", dsc.basename_with_revision());
    let orig_signature = format!("{orig}.asc");
    let diff_name = format!("{}.diff.gz", dsc.basename_with_revision());
    let (mut tarball, mut diff) = (None, None);
    for file in &dsc.files {
        let name = file.name.as_str();
        if name == orig || name == native {
            if tarball.replace(name).is_some() {
                return Err(bad_files(dsc, "more than one tarball".to_owned()));
            }
        } else if name == diff_name {
            diff = Some(name);
        } else if name != orig_signature {
            return Err(bad_files(dsc, format!("unrecognized file {name}")));
        }
    }
    let tarball = tarball.ok_or_else(|| bad_files(dsc, "no tarball".to_owned()))?;
    let mut tree = unpack_native(reader, tarball)?;
    if let Some(diff) = diff {
        let data = reader.decompressed(diff)?;
        let patched = crate::patch::apply_diff(&mut tree, &data, diff)?;
        log::debug!("applied diff={diff} files={}", patched.len());
    }
    Ok(tree)
}

/// The files of a `3.0 (quilt)` package, by role, checked as dpkg checks them.
struct QuiltFiles<'d> {
    orig: &'d str,
    debian: &'d str,
    /// `orig-COMPONENT` tarballs by component.
    components: BTreeMap<String, String>,
}

fn quilt_files(dsc: &Dsc) -> Result<QuiltFiles<'_>, Error> {
    let basename = dsc.basename();
    let orig_stem = format!("{basename}.orig");
    let debian_stem = format!("{}.debian", dsc.basename_with_revision());
    let (mut orig, mut debian) = (None, None);
    let mut components: BTreeMap<String, String> = BTreeMap::new();
    let mut signatures = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for file in &dsc.files {
        let name = file.name.as_str();
        // dpkg refuses two files that differ only by compression.
        let (unsigned, is_signature) = match name.strip_suffix(".asc") {
            Some(unsigned) => (unsigned, true),
            None => (name, false),
        };
        let uncompressed = match unsigned.rsplit_once('.') {
            Some((stem, _)) if Compression::from_file_name(unsigned).is_some() => stem,
            _ => unsigned,
        };
        if !seen.insert((uncompressed.to_owned(), is_signature)) {
            return Err(bad_files(dsc, format!("duplicate file {name}")));
        }
        if is_signature {
            signatures.push(unsigned.to_owned());
            continue;
        }
        if tarball_with_stem(name, &orig_stem).is_some() {
            orig = Some(name);
        } else if tarball_with_stem(name, &debian_stem).is_some() {
            debian = Some(name);
        } else if let Some(component) = name
            .strip_prefix(&orig_stem)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|rest| rest.split_once(".tar."))
            .map(|(component, _)| component)
            .filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            .filter(|c| tarball_with_stem(name, &format!("{orig_stem}-{c}")).is_some())
        {
            components.insert(component.to_owned(), name.to_owned());
        } else {
            return Err(bad_files(dsc, format!("unrecognized file {name}")));
        }
    }
    let (Some(orig), Some(debian)) = (orig, debian) else {
        return Err(bad_files(
            dsc,
            "missing orig.tar or debian.tar file".to_owned(),
        ));
    };
    for signed in &signatures {
        if signed != orig && !components.values().any(|c| c == signed) {
            return Err(bad_files(
                dsc,
                format!("signature {signed}.asc without its tarball"),
            ));
        }
    }

    Ok(QuiltFiles {
        orig,
        debian,
        components,
    })
}

fn unpack_quilt(dsc: &Dsc, reader: &ArchiveReader<'_>) -> Result<SourceTree, Error> {
    let QuiltFiles {
        orig,
        debian,
        components,
    } = quilt_files(dsc)?;
    let mut tree = reader.tarball(orig, true)?.into_stripped();
    for (component, file) in &components {
        let sub = reader.tarball(file, false)?.into_stripped();
        if tree.get(component).is_some() || tree.has_children(component) {
            log::warn!("component={component} replaces what the orig tarball put there");
        }
        tree.remove_subtree(component);
        for (path, node) in sub {
            tree.insert_unchecked(format!("{component}/{path}"), node);
        }
    }
    tree.remove_subtree("debian");
    let debian_tar = reader.tarball(debian, false)?;
    merge_in_place(&mut tree, debian_tar, debian)?;
    Ok(tree)
}

/// `Dpkg::Source::Archive::extract(in_place => 1)`: move each extracted entry over the
/// tree. A file or symlink in the way of a directory is removed; a non-empty directory in
/// the way of a file is an error (dpkg's `rmdir` fails).
fn merge_in_place(tree: &mut SourceTree, raw: RawTarball, archive: &str) -> Result<(), Error> {
    let remove_blockers = |tree: &mut SourceTree, path: &str| {
        while let Some(blocker) = tree.node_ancestor(path) {
            tree.remove(blocker);
        }
    };
    for dir in &raw.dirs {
        remove_blockers(tree, dir);
        tree.remove(dir);
    }
    for (path, node) in raw.tree {
        remove_blockers(tree, &path);
        if tree.has_children(&path) {
            return Err(Error::Conflict {
                archive: archive.to_owned(),
                path,
                message: "would replace a non-empty directory".to_owned(),
            });
        }
        tree.insert_unchecked(path, node);
    }
    Ok(())
}

/// What `Dpkg::Source::Package::extract` does after the format-specific part.
fn finish(dsc: &Dsc, tree: &mut SourceTree) -> Result<(), Error> {
    let conflict = |path: &str, message: &str| Error::Conflict {
        archive: "source tree".to_owned(),
        path: path.to_owned(),
        message: message.to_owned(),
    };
    if dsc.format != SourceFormat::V1 && tree.get("debian/source/format").is_none() {
        if tree.node_ancestor("debian/source/format").is_some()
            || tree.has_children("debian/source/format")
        {
            return Err(conflict(
                "debian/source/format",
                "cannot create it: a parent is not a directory",
            ));
        }
        tree.insert_unchecked(
            "debian/source/format".to_owned(),
            Node::File {
                executable: false,
                data: format!("{}\n", dsc.format).into_bytes(),
            },
        );
    }
    if let Some(Node::File { executable, .. }) = tree.get_mut("debian/rules") {
        *executable = true;
    }
    Ok(())
}
