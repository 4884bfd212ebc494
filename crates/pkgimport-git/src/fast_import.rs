//! Writing commits without a work tree, through one `git fast-import` process per session.
//!
//! Each commit is a full snapshot: the stream says `deleteall` and then one `M` line per
//! entry, so the commit's tree is exactly the given entries, whatever its parent holds.
//! Blob data is streamed inline (`M <mode> inline <path>` + `data <n>`), one entry at a time
//! from the caller's iterator, so nothing builds the whole stream in memory; fast-import
//! deduplicates blobs against its own pack and the repository's packs.
//!
//! Determinism: a commit object is its tree, parents, author, committer and message, and
//! every one of those is the caller's input, written verbatim (raw dates, no `encoding`
//! header, no config involved). Same input, same id, on any machine and git version.
//!
//! Getting the ids back: after each commit we send `get-mark :<n>` and read the answer from
//! fast-import's stdout (its cat-blob channel). Chosen over `--export-marks=FILE` because the
//! id is known the moment the commit is written, without a temporary file, and a later
//! commit of the same session can name it as a parent. We send `from :<mark>` rather than
//! the hex id for parents written in this session, since those objects are still in
//! fast-import's unfinished pack.
//!
//! Refs: fast-import must name a branch for every commit. A commit with
//! [`CommitSpec::update_ref`] goes to that ref; the others go to a scratch ref that
//! [`FastImport::finish`] deletes. Every commit is preceded by `reset <ref>` so that
//! fast-import never adds the branch's previous tip as an implicit parent, and fast-import
//! runs with `--force` because the caller's ref may legitimately move to a commit that does
//! not descend from its old value. Refs change only when the stream finishes cleanly
//! (`done`); a dropped or failed session is killed and changes no ref.

use std::fmt;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::str::FromStr;
use std::sync::mpsc;
use std::thread;

use crate::repo::GitDir;
use crate::run::git_command;
use crate::{Error, Oid, check_ref_name};

/// The ref that commits without [`CommitSpec::update_ref`] are written to, deleted again by
/// [`FastImport::finish`].
const SCRATCH_REF: &str = "refs/pkgimport/fast-import-scratch";

/// What kind of tree entry, as git records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// A regular file, mode 100644.
    File,
    /// An executable file, mode 100755.
    Executable,
    /// A symbolic link, mode 120000; the entry's data is the link target.
    Symlink,
}

impl Mode {
    fn octal(self) -> &'static str {
        match self {
            Mode::File => "100644",
            Mode::Executable => "100755",
            Mode::Symlink => "120000",
        }
    }
}

/// One file or symlink of a snapshot.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// Relative, `/`-separated path: no leading or trailing `/`, no empty, `.` or `..`
    /// components, no NUL.
    pub path: &'a str,
    /// File, executable file or symlink.
    pub mode: Mode,
    /// The file content, or the symlink target.
    pub data: &'a [u8],
}

/// A time-zone offset from UTC as git writes it (`+0100`, `-0500`), in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TzOffset(i16);

impl TzOffset {
    /// UTC, `+0000`.
    pub const UTC: TzOffset = TzOffset(0);

    /// An offset of `minutes` east of UTC; at most 23:59 either way.
    pub fn from_minutes(minutes: i16) -> Result<TzOffset, Error> {
        if minutes.abs() >= 24 * 60 {
            return Err(Error::invalid("time zone offset", minutes.to_string()));
        }
        Ok(TzOffset(minutes))
    }

    /// Minutes east of UTC.
    pub fn minutes(self) -> i16 {
        self.0
    }
}

impl FromStr for TzOffset {
    type Err = Error;

    /// Parse `+HHMM` or `-HHMM`, the form of a `debian/changelog` date's offset.
    fn from_str(s: &str) -> Result<TzOffset, Error> {
        let bad = || Error::invalid("time zone offset", s);
        let bytes = s.as_bytes();
        if bytes.len() != 5 || !bytes[1..].iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        let sign = match bytes[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return Err(bad()),
        };
        let hours: i16 = s[1..3].parse().map_err(|_| bad())?;
        let minutes: i16 = s[3..5].parse().map_err(|_| bad())?;
        if minutes >= 60 {
            return Err(bad());
        }
        TzOffset::from_minutes(sign * (hours * 60 + minutes))
    }
}

impl fmt::Display for TzOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{:02}{:02}", abs / 60, abs % 60)
    }
}

/// An author or committer: who and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The name; no `<`, `>` or newline.
    pub name: String,
    /// The email address; no `<`, `>` or newline.
    pub email: String,
    /// Seconds since the Unix epoch.
    pub time: u64,
    /// The offset the time was written in.
    pub offset: TzOffset,
}

impl Signature {
    fn check(&self) -> Result<(), Error> {
        let bad_char = |c: char| matches!(c, '<' | '>' | '\n' | '\0');
        if self.name.contains(bad_char) || self.email.contains(bad_char) {
            return Err(Error::invalid(
                "identity",
                format!("{} <{}>", self.name, self.email),
            ));
        }
        Ok(())
    }

    fn write_line(&self, out: &mut impl Write, header: &str) -> std::io::Result<()> {
        // Empty name: fast-import's grammar is `author (SP <name>)? SP LT <email> GT`.
        if self.name.is_empty() {
            writeln!(
                out,
                "{header} <{}> {} {}",
                self.email, self.time, self.offset
            )
        } else {
            writeln!(
                out,
                "{header} {} <{}> {} {}",
                self.name, self.email, self.time, self.offset
            )
        }
    }
}

/// Everything about one commit except its tree.
#[derive(Debug, Clone, Copy)]
pub struct CommitSpec<'a> {
    /// The author (for an import: the changelog sign-off and date).
    pub author: &'a Signature,
    /// The committer (for an import: the importer identity, with the changelog date).
    pub committer: &'a Signature,
    /// The message, byte for byte (git conventionally ends it with a newline).
    pub message: &'a [u8],
    /// First parent, then any others. Empty for a root commit.
    pub parents: &'a [Oid],
    /// The full ref to point at the commit when the session finishes, if any.
    pub update_ref: Option<&'a str>,
}

/// One running `git fast-import`; see the module documentation.
pub struct FastImport {
    child: Child,
    /// `None` once [`FastImport::finish`] has closed it.
    stdin: Option<BufWriter<ChildStdin>>,
    stdout: BufReader<ChildStdout>,
    stderr: mpsc::Receiver<Vec<u8>>,
    /// Commits written in this session: id to mark, so parents can be named by mark.
    marks: Vec<(Oid, u64)>,
    next_mark: u64,
    used_scratch: bool,
    repo: GitDir,
}

impl fmt::Debug for FastImport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FastImport")
            .field("repo", &self.repo.path())
            .field("commits", &self.marks.len())
            .finish()
    }
}

impl FastImport {
    /// Start a session writing into `repo`.
    pub fn start(repo: &GitDir) -> Result<FastImport, Error> {
        let mut cmd = git_command(repo.options(), Some(repo.path()), false);
        // `--depth=0`: no deltas. fast-import only tries a delta against the blob it wrote
        // just before, whatever its path, which almost never pays: on coreutils it spent a
        // third of an import's CPU in diff_delta to save 20% of the pack. The remote's own
        // repacking finds the real deltas.
        cmd.args(["fast-import", "--quiet", "--done", "--force", "--depth=0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::io("spawning git fast-import", e))?;
        let stdin = Some(BufWriter::with_capacity(
            256 * 1024,
            child.stdin.take().expect("stdin was piped"),
        ));
        let stdout = BufReader::new(child.stdout.take().expect("stdout was piped"));
        let mut stderr_pipe = child.stderr.take().expect("stderr was piped");
        let (tx, stderr) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = std::io::Read::read_to_end(&mut stderr_pipe, &mut buf);
            let _ = tx.send(buf);
        });
        let mut session = FastImport {
            child,
            stdin,
            stdout,
            stderr,
            marks: Vec::new(),
            next_mark: 1,
            used_scratch: false,
            repo: repo.clone(),
        };
        // `feature done` makes a truncated stream an error rather than a short import.
        session.send(|out| out.write_all(b"feature done\n"))?;
        Ok(session)
    }

    /// Write one commit whose tree is exactly `entries`, and return its id. The id is
    /// final, but the objects are only durable (and the ref updated) once
    /// [`FastImport::finish`] succeeds. An invalid identity is refused before anything is
    /// written; any other error leaves the session unusable (abandon it and start again).
    pub fn commit<'e>(
        &mut self,
        spec: &CommitSpec<'_>,
        entries: impl IntoIterator<Item = Entry<'e>>,
    ) -> Result<Oid, Error> {
        spec.author.check()?;
        spec.committer.check()?;
        let branch = match spec.update_ref {
            Some(name) => {
                check_ref_name(name)?;
                name
            }
            None => {
                self.used_scratch = true;
                SCRATCH_REF
            }
        };
        let parents: Vec<String> = spec
            .parents
            .iter()
            .map(|p| match self.marks.iter().find(|(oid, _)| oid == p) {
                Some((_, mark)) => format!(":{mark}"),
                None => p.to_hex(),
            })
            .collect();
        let mark = self.next_mark;
        self.next_mark += 1;

        self.send(|out| {
            writeln!(out, "reset {branch}")?;
            writeln!(out, "commit {branch}")?;
            writeln!(out, "mark :{mark}")?;
            spec.author.write_line(out, "author")?;
            spec.committer.write_line(out, "committer")?;
            write_data(out, spec.message)?;
            for (i, parent) in parents.iter().enumerate() {
                let verb = if i == 0 { "from" } else { "merge" };
                writeln!(out, "{verb} {parent}")?;
            }
            out.write_all(b"deleteall\n")
        })?;
        for entry in entries {
            if let Err(e) = check_path(entry.path) {
                // Half a commit is in the stream: this session can only be abandoned.
                self.abort();
                return Err(e);
            }
            self.send(|out| {
                write!(out, "M {} inline ", entry.mode.octal())?;
                write_path(out, entry.path)?;
                out.write_all(b"\n")?;
                write_data(out, entry.data)
            })?;
        }
        self.send(|out| {
            write!(out, "\nget-mark :{mark}\n")?;
            out.flush()
        })?;

        let mut line = String::new();
        let read = self.stdout.read_line(&mut line);
        if !matches!(read, Ok(n) if n > 0) {
            return Err(self.died());
        }
        let oid = Oid::from_hex(line.trim_end())?;
        self.marks.push((oid, mark));
        log::debug!("fast-import wrote commit {oid} for {branch}");
        Ok(oid)
    }

    /// End the stream, wait for fast-import to write its pack and update the refs, and
    /// delete the scratch ref.
    pub fn finish(mut self) -> Result<(), Error> {
        self.send(|out| {
            out.write_all(b"done\n")?;
            out.flush()
        })?;
        // Close stdin, then collect the exit status.
        drop(self.stdin.take());
        let status = self
            .child
            .wait()
            .map_err(|e| Error::io("waiting for git fast-import", e))?;
        let stderr = self.stderr.recv().unwrap_or_default();
        if !status.success() {
            return Err(Error::failed("fast-import", status, &stderr));
        }
        log::debug!(
            "fast-import wrote {} commits into {}",
            self.marks.len(),
            self.repo.path().display()
        );
        if self.used_scratch {
            self.repo.delete_ref(SCRATCH_REF)?;
        }
        Ok(())
    }

    /// Write to fast-import; a broken pipe means it died, and its stderr says why.
    fn send(
        &mut self,
        write: impl FnOnce(&mut BufWriter<ChildStdin>) -> std::io::Result<()>,
    ) -> Result<(), Error> {
        let result = match self.stdin.as_mut() {
            Some(stdin) => write(stdin),
            None => Err(std::io::ErrorKind::BrokenPipe.into()),
        };
        match result {
            Ok(()) => Ok(()),
            Err(_) => Err(self.died()),
        }
    }

    /// Kill fast-import so that nothing of this session reaches a ref; later calls fail.
    fn abort(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// fast-import stopped talking: kill it (it may be alive but stuck) and report stderr.
    fn died(&mut self) -> Error {
        drop(self.stdin.take());
        let _ = self.child.kill();
        match self.child.wait() {
            Ok(status) => {
                let stderr = self.stderr.recv().unwrap_or_default();
                Error::failed("fast-import", status, &stderr)
            }
            Err(e) => Error::io("waiting for git fast-import", e),
        }
    }
}

impl Drop for FastImport {
    /// A session dropped without [`FastImport::finish`] (an error, a panic) is killed, so
    /// it updates no ref. Its partial pack is left as a `tmp_pack_*` for gc.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `data <n>` LF, the bytes, LF.
fn write_data(out: &mut impl Write, data: &[u8]) -> std::io::Result<()> {
    writeln!(out, "data {}", data.len())?;
    out.write_all(data)?;
    out.write_all(b"\n")
}

/// Reject paths git cannot store or that fast-import would read differently.
fn check_path(path: &str) -> Result<(), Error> {
    let bad = path.is_empty()
        || path.contains('\0')
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == ".." || c == ".git");
    if bad {
        return Err(Error::invalid("path", path));
    }
    Ok(())
}

/// Write a path as fast-import reads it. An unquoted path runs to the end of the line, so
/// spaces need nothing; a path that starts with `"` or contains a control character (a
/// newline would end the command) is written C-style quoted, the rules of git's
/// `unquote_c_style`: `\"`, `\\`, `\n`, `\t` and three-digit octal for other control bytes.
/// Bytes of multi-byte UTF-8 characters are written as they are.
fn write_path(out: &mut impl Write, path: &str) -> std::io::Result<()> {
    let needs_quoting = path.starts_with('"') || path.bytes().any(|b| b < 0x20 || b == 0x7f);
    if !needs_quoting {
        return out.write_all(path.as_bytes());
    }
    out.write_all(b"\"")?;
    for b in path.bytes() {
        match b {
            b'"' => out.write_all(b"\\\"")?,
            b'\\' => out.write_all(b"\\\\")?,
            b'\n' => out.write_all(b"\\n")?,
            b'\t' => out.write_all(b"\\t")?,
            b if b < 0x20 || b == 0x7f => write!(out, "\\{b:03o}")?,
            b => out.write_all(&[b])?,
        }
    }
    out.write_all(b"\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(path: &str) -> String {
        let mut out = Vec::new();
        write_path(&mut out, path).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn quoting() {
        assert_eq!(quoted("a b/c d"), "a b/c d");
        assert_eq!(quoted("back\\slash"), "back\\slash");
        assert_eq!(quoted("\"q\"\\x"), r#""\"q\"\\x""#);
        assert_eq!(quoted("new\nline"), r#""new\nline""#);
        assert_eq!(quoted("bell\x07"), r#""bell\007""#);
        assert_eq!(quoted("ünï"), "ünï");
    }

    #[test]
    fn offsets() {
        for s in ["+0100", "-0500", "+0000", "+0530", "-1200"] {
            assert_eq!(s.parse::<TzOffset>().unwrap().to_string(), s);
        }
        assert_eq!("+0100".parse::<TzOffset>().unwrap().minutes(), 60);
        for s in ["0100", "+100", "+01:00", "+0160", "+2400", "x0100"] {
            assert!(s.parse::<TzOffset>().is_err(), "{s} accepted");
        }
    }

    #[test]
    fn paths() {
        for ok in [
            "a",
            "a b/c",
            ".gitignore",
            "dir/.hidden",
            "x/.gitattributes",
        ] {
            check_path(ok).unwrap();
        }
        for bad in [
            "",
            "/a",
            "a/",
            "a//b",
            "./a",
            "a/../b",
            ".git/config",
            "a\0b",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?} accepted");
        }
    }
}
