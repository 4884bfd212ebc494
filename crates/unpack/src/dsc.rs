//! Parsing and checking a `.dsc` (Debian source control file).
//!
//! The `.dsc` decides which files are read, so it is the first line of defence: it must be
//! UTF-8, one deb822 paragraph (optionally PGP-clearsigned), without duplicated fields, and
//! every file it lists must be a plain file name whose size and SHA-256 match what is on
//! disk before a single byte of it is decompressed. The deb822 syntax and the version
//! grammar come from the Debian format crates (`deb822-lossless`, `debversion`); this module
//! adds the checks dpkg-source makes on top.
//!
//! The PGP armour is removed by a small hand-written function: `debian-control` has one,
//! but depending on it pulls `url` and some thirty ICU crates into the build for forty
//! lines of code. The signature itself is not verified here: trust comes from the archive's
//! signed indices and the checksums, as for `dpkg-source --no-check`.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use sha2::Digest;

use crate::error::Error;

/// No real `.dsc` comes near this (the largest are a few hundred KiB).
const MAX_DSC_BYTES: u64 = 16 << 20;

/// The source package formats this crate unpacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// `1.0`: a native `.tar.gz`, or an `.orig.tar.gz` plus a `.diff.gz`.
    V1,
    /// `3.0 (quilt)`: orig tarball(s) plus a `debian` tarball.
    V3Quilt,
    /// `3.0 (native)`: a single tarball.
    V3Native,
}

impl SourceFormat {
    /// The format as written in the `Format` field and in `debian/source/format`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::V1 => "1.0",
            SourceFormat::V3Quilt => "3.0 (quilt)",
            SourceFormat::V3Native => "3.0 (native)",
        }
    }
}

impl std::fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One file listed by the `.dsc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DscFile {
    /// A plain file name (no `/`), relative to the directory of the `.dsc`.
    pub name: String,
    pub size: u64,
    /// Lowercase hex, from `Checksums-Sha256`.
    pub sha256: String,
    /// Lowercase hex, from `Checksums-Sha1` when present.
    pub sha1: Option<String>,
    /// Lowercase hex, from `Files` (kept for completeness; not verified, SHA-256 is).
    pub md5: String,
}

/// The fields of a `.dsc` that unpacking needs, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsc {
    pub source: String,
    pub version: debversion::Version,
    pub format: SourceFormat,
    /// In the order of the `Files` field.
    pub files: Vec<DscFile>,
}

impl Dsc {
    /// Read and parse the `.dsc` at `path` (no other file is looked at).
    pub fn from_file(path: &Path) -> Result<Dsc, Error> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut bytes = Vec::new();
        file.take(MAX_DSC_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_DSC_BYTES {
            return Err(Error::DscTooLarge {
                path: path.to_owned(),
                limit: MAX_DSC_BYTES,
            });
        }
        Dsc::parse(&bytes)
    }

    /// Parse the bytes of a `.dsc`. Pure: no IO.
    pub fn parse(bytes: &[u8]) -> Result<Dsc, Error> {
        let text = std::str::from_utf8(bytes).map_err(|e| Error::DscNotUtf8 {
            offset: e.valid_up_to(),
        })?;
        let payload = strip_signature(text)?;
        let deb822 = deb822_lossless::Deb822::from_str(&payload).map_err(|e| Error::DscSyntax {
            message: e.0.join("; "),
        })?;
        let mut paragraphs = deb822.paragraphs();
        let paragraph = paragraphs.next().ok_or_else(|| Error::DscSyntax {
            message: "no paragraph".to_owned(),
        })?;
        if paragraphs.next().is_some() {
            return Err(Error::DscSyntax {
                message: "more than one paragraph".to_owned(),
            });
        }
        let mut seen = BTreeSet::new();
        for key in paragraph.keys() {
            if !seen.insert(key.to_ascii_lowercase()) {
                return Err(Error::DscDuplicateField { field: key });
            }
        }
        let field = |name: &str| -> Result<String, Error> {
            paragraph
                .get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Error::DscMissingField {
                    field: name.to_owned(),
                })
        };
        let invalid = |field: &str, message: String| Error::DscInvalidField {
            field: field.to_owned(),
            message,
        };

        let source = field("Source")?;
        if !is_valid_source_name(&source) {
            return Err(invalid(
                "Source",
                format!("'{source}' is not a package name"),
            ));
        }
        let version_text = field("Version")?;
        let version = parse_version(&version_text).map_err(|m| invalid("Version", m))?;
        let format_text = field("Format")?;
        let format = match format_text.as_str() {
            "1.0" => SourceFormat::V1,
            "3.0 (quilt)" => SourceFormat::V3Quilt,
            "3.0 (native)" => SourceFormat::V3Native,
            _ => {
                return Err(Error::UnsupportedFormat {
                    format: format_text,
                });
            }
        };

        let md5s = parse_file_lines(&field("Files")?, "Files", 32)?;
        let sha256s = parse_file_lines(&field("Checksums-Sha256")?, "Checksums-Sha256", 64)?;
        let sha1s = match paragraph.get("Checksums-Sha1") {
            Some(value) => Some(parse_file_lines(&value, "Checksums-Sha1", 40)?),
            None => None,
        };

        // The same file, with the same size, must be in every list (dpkg's
        // `Dpkg::Checksums::add_from_control` refuses conflicting sizes too).
        let digest_of = |lines: &[FileLine], field: &str, md5: &FileLine| {
            let line = lines
                .iter()
                .find(|l| l.name == md5.name)
                .ok_or_else(|| invalid(field, format!("no checksum for {}", md5.name)))?;
            if line.size != md5.size {
                return Err(invalid(
                    field,
                    format!("size of {} disagrees with Files", md5.name),
                ));
            }
            Ok(line.digest.clone())
        };
        let mut files = Vec::with_capacity(md5s.len());
        for md5 in &md5s {
            files.push(DscFile {
                name: md5.name.clone(),
                size: md5.size,
                sha256: digest_of(&sha256s, "Checksums-Sha256", md5)?,
                sha1: match &sha1s {
                    Some(sha1s) => Some(digest_of(sha1s, "Checksums-Sha1", md5)?),
                    None => None,
                },
                md5: md5.digest.clone(),
            });
        }
        for (field_name, count) in [
            ("Checksums-Sha256", Some(sha256s.len())),
            ("Checksums-Sha1", sha1s.as_ref().map(Vec::len)),
        ] {
            if count.is_some_and(|n| n != files.len()) {
                return Err(invalid(
                    field_name,
                    "lists other files than Files".to_owned(),
                ));
            }
        }
        Ok(Dsc {
            source,
            version,
            format,
            files,
        })
    }

    /// Check that every listed file is in `dir` with the right size and checksums.
    pub fn verify_files(&self, dir: &Path) -> Result<(), Error> {
        for file in &self.files {
            verify_file(dir, file)?;
        }
        Ok(())
    }

    /// [`Dsc::verify_files`] for the one listed file `name` alone.
    pub(crate) fn verify_listed(&self, dir: &Path, name: &str) -> Result<(), Error> {
        match self.files.iter().find(|f| f.name == name) {
            Some(file) => verify_file(dir, file),
            None => Err(Error::BadFileSet {
                format: self.format.to_string(),
                message: format!("{name} is not listed"),
            }),
        }
    }

    /// `source_upstreamversion`: the stem of orig tarballs (`Dpkg::Source::Package`'s
    /// `get_basename`).
    pub(crate) fn basename(&self) -> String {
        format!("{}_{}", self.source, self.version.upstream_version)
    }

    /// `source_upstreamversion-revision` (no epoch): the stem of debian tarballs and diffs.
    pub(crate) fn basename_with_revision(&self) -> String {
        match &self.version.debian_revision {
            Some(revision) => format!("{}-{revision}", self.basename()),
            None => self.basename(),
        }
    }
}

/// Remove the PGP clearsign armour, if any, as dpkg's control parser does: armour headers
/// up to a blank line, then the payload (dash-escaping undone, RFC 4880 section 7.1), then
/// the signature block, after which only blank lines may follow.
fn strip_signature(text: &str) -> Result<String, Error> {
    const BEGIN_MESSAGE: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
    const BEGIN_SIGNATURE: &str = "-----BEGIN PGP SIGNATURE-----";
    const END_SIGNATURE: &str = "-----END PGP SIGNATURE-----";
    let malformed = |message: &str| Error::DscSignature {
        message: message.to_owned(),
    };
    let mut lines = text.lines().skip_while(|l| l.trim().is_empty());
    match lines.next() {
        Some(first) if first.trim_end() == BEGIN_MESSAGE => {}
        _ => return Ok(text.to_owned()),
    }
    loop {
        match lines.next() {
            Some(header) if header.trim().is_empty() => break,
            Some(_) => {}
            None => return Err(malformed("no payload after the armour headers")),
        }
    }
    let mut payload = String::with_capacity(text.len());
    loop {
        match lines.next() {
            Some(line) if line.trim_end() == BEGIN_SIGNATURE => break,
            Some(line) => {
                payload.push_str(line.strip_prefix("- ").unwrap_or(line));
                payload.push('\n');
            }
            None => return Err(malformed("no signature after the payload")),
        }
    }
    loop {
        match lines.next() {
            Some(line) if line.trim_end() == END_SIGNATURE => break,
            Some(_) => {}
            None => return Err(malformed("truncated signature")),
        }
    }
    if lines.any(|l| !l.trim().is_empty()) {
        return Err(malformed("text after the signature"));
    }
    Ok(payload)
}

/// Debian Policy 5.6.1: lowercase letters, digits, `+`, `-`, `.`; at least two characters,
/// starting with an alphanumeric.
fn is_valid_source_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() >= 2
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
}

/// Parse with `debversion`, plus the checks of dpkg's `version_check` that it does not do.
fn parse_version(text: &str) -> Result<debversion::Version, String> {
    let version = debversion::Version::from_str(text).map_err(|e| e.to_string())?;
    if version.epoch.is_none() && version.upstream_version.contains(':') {
        return Err(format!("'{text}' has a colon but no numeric epoch"));
    }
    if !version
        .upstream_version
        .starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(format!("'{text}' does not start with a digit"));
    }
    Ok(version)
}

/// A name that cannot leave the directory of the `.dsc`.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.chars().any(char::is_control)
}

/// One line of `Files` or `Checksums-*`.
#[derive(Debug)]
struct FileLine {
    /// Lowercase hex.
    digest: String,
    size: u64,
    name: String,
}

/// Parse the lines of `Files` / `Checksums-*`: exactly `digest size name` on each line.
fn parse_file_lines(value: &str, field: &str, digest_len: usize) -> Result<Vec<FileLine>, Error> {
    let invalid = |message: String| Error::DscInvalidField {
        field: field.to_owned(),
        message,
    };
    let mut out: Vec<FileLine> = Vec::new();
    for line in value.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let &[digest, size, name] = line.split_whitespace().collect::<Vec<_>>().as_slice() else {
            return Err(invalid(format!("'{line}' is not 'digest size name'")));
        };
        if !is_plain_file_name(name) {
            return Err(Error::UnsafeFileName {
                name: name.to_owned(),
            });
        }
        if digest.len() != digest_len || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(format!("'{digest}' is not a valid digest")));
        }
        let size = size
            .parse()
            .map_err(|_| invalid(format!("'{size}' is not a file size")))?;
        if out.iter().any(|l| l.name == name) {
            return Err(invalid(format!("{name} is listed twice")));
        }
        out.push(FileLine {
            digest: digest.to_ascii_lowercase(),
            size,
            name: name.to_owned(),
        });
    }
    if out.is_empty() {
        return Err(Error::DscMissingField {
            field: field.to_owned(),
        });
    }
    Ok(out)
}

fn verify_file(dir: &Path, file: &DscFile) -> Result<(), Error> {
    let path = dir.join(&file.name);
    let io = |source| Error::Io {
        path: path.clone(),
        source,
    };
    let handle = match std::fs::File::open(&path) {
        Ok(handle) => handle,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::MissingFile {
                name: file.name.clone(),
                dir: dir.to_owned(),
            });
        }
        Err(e) => return Err(io(e)),
    };
    let meta = handle.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(Error::MissingFile {
            name: file.name.clone(),
            dir: dir.to_owned(),
        });
    }
    if meta.len() != file.size {
        return Err(Error::SizeMismatch {
            name: file.name.clone(),
            expected: file.size,
            actual: meta.len(),
        });
    }
    let mut sha256 = sha2::Sha256::new();
    let mut sha1 = file.sha1.as_ref().map(|_| sha1::Sha1::new());
    let mut reader = handle.take(file.size);
    let mut buffer = vec![0u8; 256 << 10];
    loop {
        let n = reader.read(&mut buffer).map_err(io)?;
        if n == 0 {
            break;
        }
        sha256.update(&buffer[..n]);
        if let Some(sha1) = sha1.as_mut() {
            sha1.update(&buffer[..n]);
        }
    }
    let actual = hex::encode(sha256.finalize());
    if actual != file.sha256 {
        return Err(Error::ChecksumMismatch {
            name: file.name.clone(),
            algorithm: "sha256",
            expected: file.sha256.clone(),
            actual,
        });
    }
    if let (Some(expected), Some(sha1)) = (&file.sha1, sha1) {
        let actual = hex::encode(sha1.finalize());
        if &actual != expected {
            return Err(Error::ChecksumMismatch {
                name: file.name.clone(),
                algorithm: "sha1",
                expected: expected.clone(),
                actual,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &str = "\
-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA256

Format: 3.0 (quilt)
Source: hello
Version: 1:2.10-3
Checksums-Sha1:
 f7bebf6f9c62a2295e889f66e05ce9bfaed9ace3 725946 hello_2.10.orig.tar.gz
Checksums-Sha256:
 31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b 725946 hello_2.10.orig.tar.gz
Files:
 6cd0ffea3884a4e79330338dcc2987d6 725946 hello_2.10.orig.tar.gz

-----BEGIN PGP SIGNATURE-----

iQEzBAEBCAAdFiEE1Uw7
=kNoz
-----END PGP SIGNATURE-----
";

    #[test]
    fn parses_a_clearsigned_dsc() {
        let dsc = Dsc::parse(HELLO.as_bytes()).unwrap();
        assert_eq!(dsc.source, "hello");
        assert_eq!(dsc.version.to_string(), "1:2.10-3");
        assert_eq!(dsc.format, SourceFormat::V3Quilt);
        assert_eq!(dsc.basename(), "hello_2.10");
        assert_eq!(dsc.basename_with_revision(), "hello_2.10-3");
        assert_eq!(dsc.files.len(), 1);
        assert_eq!(dsc.files[0].size, 725946);
        assert!(dsc.files[0].sha1.is_some());
    }

    #[test]
    fn dash_escaping_is_undone_and_trailing_text_refused() {
        let escaped = HELLO.replace("Source: hello", "- Source: hello");
        assert_eq!(Dsc::parse(escaped.as_bytes()).unwrap().source, "hello");
        let trailing = format!("{HELLO}Source: injected\n");
        assert_eq!(
            Dsc::parse(trailing.as_bytes()).unwrap_err().to_string(),
            "dsc has a malformed PGP signature block: text after the signature"
        );
    }

    #[test]
    fn unsigned_dsc_is_fine() {
        let unsigned = HELLO
            .lines()
            .skip(3)
            .take_while(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(Dsc::parse(unsigned.as_bytes()).is_ok());
    }

    #[test]
    fn refusals() {
        let check = |text: &str| match Dsc::parse(text.as_bytes()) {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.to_string(),
        };
        assert_eq!(
            check(&HELLO.replace("Source: hello", "Source: hello\nsource: evil")),
            "dsc has a duplicated field 'source'"
        );
        assert_eq!(
            check(&HELLO.replace("Format: 3.0 (quilt)", "Format: 3.0 (git)")),
            "unsupported source format '3.0 (git)'"
        );
        assert_eq!(
            check(&HELLO.replace("Version: 1:2.10-3", "Version: x1.0")),
            "dsc field 'Version' is invalid: 'x1.0' does not start with a digit"
        );
        assert_eq!(
            check(&HELLO.replace("Source: hello", "Source: ../hello")),
            "dsc field 'Source' is invalid: '../hello' is not a package name"
        );
        let no_sha256 = HELLO.replace(
            "Checksums-Sha256:\n 31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b 725946 hello_2.10.orig.tar.gz\n",
            "",
        );
        assert_eq!(check(&no_sha256), "dsc has no 'Checksums-Sha256' field");
        assert_eq!(
            check(&HELLO.replace("-----END PGP SIGNATURE-----\n", "")),
            "dsc has a malformed PGP signature block: truncated signature"
        );
        assert_eq!(
            check(&HELLO.replace(" 725946 hello_2.10.orig.tar.gz\n", " 725946 /etc/passwd\n")),
            "dsc lists an unsafe file name '/etc/passwd'"
        );
        assert_eq!(
            check(&HELLO.replace("Files:\n 6cd0", "Files:\n 6cd0 1 a extra\n 6cd0")),
            "dsc field 'Files' is invalid: '6cd0 1 a extra' is not 'digest size name'"
        );
    }
}
