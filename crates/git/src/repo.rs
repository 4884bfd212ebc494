//! [`GitDir`]: the bare, private working repository of one package, and its refs.
//!
//! Every repository is created bare, SHA-1, without templates (no sample hooks, no
//! `info/exclude` from the system template directory), with automatic gc and maintenance
//! off: the importer, not a background `gc --auto` racing the next run, decides when to
//! repack. It is created in a temporary sibling directory and renamed into place, so a crash
//! never leaves a half-initialised repository that a later run would take for a good one.
//!
//! Tags are lightweight (`refs/tags/<tag>` pointing at the commit). An annotated tag would
//! need its own tagger name and date, which would have to be made deterministic; the commit
//! already carries the changelog's author, date and message, so a tag object adds nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::run::{GitOptions, Invocation, run, run_ok};
use crate::{Error, Oid, check_ref_name};

/// A bare git repository, opened or created by [`GitDir::open_or_init`].
#[derive(Debug, Clone)]
pub struct GitDir {
    path: PathBuf,
    options: GitOptions,
}

/// One entry of a recursive tree listing ([`GitDir::ls_tree`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Git's mode: `0o100644`, `0o100755`, `0o120000` (symlink), `0o160000` (gitlink).
    pub mode: u32,
    /// The blob (or gitlink commit).
    pub oid: Oid,
    /// The path from the tree's root, `/`-separated. Non-UTF-8 bytes (only possible in a
    /// tree this crate did not write) are replaced by U+FFFD.
    pub path: String,
}

/// Config written into every repository this crate creates.
const REPO_CONFIG: &[(&str, &str)] = &[
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("receive.autogc", "false"),
    ("core.logAllRefUpdates", "true"),
    // Fast zlib: object ids do not depend on it, and most of an import's CPU went into
    // compressing blobs at the default level (about 10% of import-one's time on libssh).
    ("core.compression", "1"),
    ("pack.compression", "1"),
    // Keep what a push brings as one pack, however small. Below this limit (100 objects
    // by default) git explodes it into loose objects, one file and one fsync each: half
    // the time of importing a one-version package. Our own writer always writes a pack.
    ("receive.unpackLimit", "1"),
];

impl GitDir {
    /// Open the bare repository at `path`, creating it (and missing parents) if `path` does
    /// not exist.
    pub fn open_or_init(path: impl Into<PathBuf>, options: GitOptions) -> Result<GitDir, Error> {
        // Absolute, because git runs with `/` or the repository itself as its cwd.
        let path = std::path::absolute(path.into())
            .map_err(|e| Error::io("resolving the repository path", e))?;
        let dir = GitDir { path, options };
        if !dir.path.exists() {
            init_bare(&dir.path)?;
            return Ok(dir);
        }
        // Catch a path that exists but is not a bare repository before anything is written
        // into it. The layout git itself looks for (`HEAD`, `objects/`, `refs/`) plus no
        // `.git` inside, without a process: this runs on every import, and a ref-only import
        // of a new series runs a few dozen milliseconds in all.
        let is_bare = dir.path.join("HEAD").is_file()
            && dir.path.join("objects").is_dir()
            && dir.path.join("refs").is_dir()
            && !dir.path.join(".git").exists();
        if !is_bare {
            return Err(Error::invalid(
                "bare repository",
                dir.path.display().to_string(),
            ));
        }
        Ok(dir)
    }

    /// The repository's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The options git runs with.
    pub fn options(&self) -> &GitOptions {
        &self.options
    }

    /// The value of the full ref `name`, or `None` if it does not exist. Tags are not
    /// peeled.
    pub fn read_ref(&self, name: &str) -> Result<Option<Oid>, Error> {
        check_ref_name(name)?;
        self.rev_parse(name)
    }

    /// Resolve any revision expression (`<oid>^{tree}`, `refs/tags/x^{commit}`), or
    /// `None` if it names nothing.
    pub fn rev_parse(&self, rev: &str) -> Result<Option<Oid>, Error> {
        let out = self.run(
            Invocation::new(Some(&self.path), &["rev-parse", "--verify", "--quiet"])
                .arg("--end-of-options")
                .arg(rev),
        )?;
        match out.status.code() {
            Some(0) => Ok(Some(parse_oid_line(&out.stdout)?)),
            Some(1) => Ok(None),
            _ => Err(Error::failed("rev-parse", out.status, &out.stderr)),
        }
    }

    /// The commits of `oids` that this repository does not have (one `cat-file
    /// --batch-check`).
    pub fn missing_commits(&self, oids: &[Oid]) -> Result<Vec<Oid>, Error> {
        if oids.is_empty() {
            return Ok(Vec::new());
        }
        let input: String = oids.iter().map(|o| format!("{o}\n")).collect();
        let out = self.run(
            Invocation::new(
                Some(&self.path),
                &["cat-file", "--batch-check=%(objectname) %(objecttype)"],
            )
            .stdin(input.into_bytes()),
        )?;
        if !out.status.success() {
            return Err(Error::failed("cat-file", out.status, &out.stderr));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut missing = Vec::new();
        for (oid, line) in oids.iter().zip(text.lines()) {
            if !line.ends_with(" commit") {
                missing.push(*oid);
            }
        }
        Ok(missing)
    }

    /// Every ref whose full name starts with `prefix` (a plain string prefix, e.g.
    /// `refs/heads/importer/` or `refs/`), with its unpeeled value.
    pub fn list_refs(&self, prefix: &str) -> Result<BTreeMap<String, Oid>, Error> {
        let out = self.git_ok(&["for-each-ref", "--format=%(objectname) %(refname)"])?;
        let mut refs = BTreeMap::new();
        for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let line = String::from_utf8_lossy(line);
            let Some((oid, name)) = line.split_once(' ') else {
                return Err(unexpected("for-each-ref", &line));
            };
            if name.starts_with(prefix) {
                refs.insert(name.to_owned(), Oid::from_hex(oid)?);
            }
        }
        Ok(refs)
    }

    /// Point the full ref `name` at `new`, whatever it pointed at before.
    pub fn update_ref(&self, name: &str, new: Oid) -> Result<(), Error> {
        self.update_refs(&[(name, new)])
    }

    /// Point several refs at new values in one transaction: all move or none does.
    pub fn update_refs(&self, updates: &[(&str, Oid)]) -> Result<(), Error> {
        if updates.is_empty() {
            return Ok(());
        }
        let mut script = String::from("start\n");
        for (name, new) in updates {
            check_ref_name(name)?;
            script.push_str(&format!("update {name} {new}\n"));
        }
        script.push_str("prepare\ncommit\n");
        let inv =
            Invocation::new(Some(&self.path), &["update-ref", "--stdin"]).stdin(script.into());
        run_ok(&self.options, inv)?;
        Ok(())
    }

    /// Delete the full ref `name`; deleting a missing ref is not an error.
    pub fn delete_ref(&self, name: &str) -> Result<(), Error> {
        check_ref_name(name)?;
        self.git_ok(&["update-ref", "-d", name])?;
        Ok(())
    }

    /// Create the lightweight tag `refs/tags/<tag>` at `target`. Tags never move: if it
    /// exists at `target` this is a no-op, if it exists elsewhere it is a
    /// [`Error::TagConflict`].
    pub fn create_tag(&self, tag: &str, target: Oid) -> Result<String, Error> {
        let name = crate::tag_ref(tag)?;
        // `update-ref <ref> <new> <zero>` creates only if absent, so a race cannot move it.
        let zero = "0".repeat(40);
        let out = self.run(Invocation::new(
            Some(&self.path),
            &["update-ref", &name, &target.to_hex(), &zero],
        ))?;
        if out.status.success() {
            return Ok(name);
        }
        match self.read_ref(&name)? {
            Some(existing) if existing == target => Ok(name),
            Some(existing) => Err(Error::TagConflict {
                name,
                existing,
                wanted: target,
            }),
            None => Err(Error::failed("update-ref", out.status, &out.stderr)),
        }
    }

    /// True if `ancestor` is `descendant` or one of its ancestors.
    pub fn is_ancestor(&self, ancestor: Oid, descendant: Oid) -> Result<bool, Error> {
        let out = self.run(Invocation::new(
            Some(&self.path),
            &[
                "merge-base",
                "--is-ancestor",
                &ancestor.to_hex(),
                &descendant.to_hex(),
            ],
        ))?;
        match out.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(Error::failed("merge-base", out.status, &out.stderr)),
        }
    }

    /// The tree of `commit`.
    pub fn tree_of(&self, commit: Oid) -> Result<Oid, Error> {
        let out = self.git_ok(&["rev-parse", "--verify", &format!("{commit}^{{tree}}")])?;
        parse_oid_line(&out)
    }

    /// Every file, symlink and gitlink below `tree_ish` (a commit or tree), recursively, in
    /// git's order.
    pub fn ls_tree(&self, tree_ish: Oid) -> Result<Vec<TreeEntry>, Error> {
        let out = self.git_ok(&["ls-tree", "-r", "-z", "--full-tree", &tree_ish.to_hex()])?;
        let mut entries = Vec::new();
        for record in out.split(|&b| b == 0).filter(|r| !r.is_empty()) {
            // "<mode> SP <type> SP <oid> TAB <path>"
            let Some(tab) = record.iter().position(|&b| b == b'\t') else {
                return Err(unexpected("ls-tree", &String::from_utf8_lossy(record)));
            };
            let meta = String::from_utf8_lossy(&record[..tab]);
            let mut fields = meta.split(' ');
            let (Some(mode), Some(_kind), Some(oid)) =
                (fields.next(), fields.next(), fields.next())
            else {
                return Err(unexpected("ls-tree", &meta));
            };
            entries.push(TreeEntry {
                mode: u32::from_str_radix(mode, 8).map_err(|_| unexpected("ls-tree", &meta))?,
                oid: Oid::from_hex(oid)?,
                path: String::from_utf8_lossy(&record[tab + 1..]).into_owned(),
            });
        }
        Ok(entries)
    }

    /// The content of a blob (for a symlink: its target).
    pub fn cat_blob(&self, blob: Oid) -> Result<Vec<u8>, Error> {
        self.git_ok(&["cat-file", "blob", &blob.to_hex()])
    }

    /// The raw commit object (headers, blank line, message), as hashed by git.
    pub fn cat_commit(&self, commit: Oid) -> Result<Vec<u8>, Error> {
        self.git_ok(&["cat-file", "commit", &commit.to_hex()])
    }

    /// How many packs the repository has (`objects/pack/pack-*.pack`).
    pub fn pack_count(&self) -> Result<usize, Error> {
        let dir = self.path.join("objects/pack");
        let listing = match std::fs::read_dir(&dir) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::io(format!("listing {}", dir.display()), e)),
        };
        let mut count = 0;
        for entry in listing {
            let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("pack-") && name.ends_with(".pack") {
                count += 1;
            }
        }
        Ok(count)
    }

    /// Put every object that a ref reaches into one pack (`git repack -a -d`, with git's
    /// usual delta search), for repositories whose automatic gc is off. Objects no ref
    /// reaches are dropped: call it when no commit is waiting for a ref. No bitmap: nobody
    /// fetches from a work repository.
    pub fn repack(&self) -> Result<(), Error> {
        self.git_ok(&["repack", "-a", "-d", "-q", "--no-write-bitmap-index"])?;
        Ok(())
    }

    pub(crate) fn git_ok(&self, args: &[&str]) -> Result<Vec<u8>, Error> {
        run_ok(&self.options, Invocation::new(Some(&self.path), args))
    }

    pub(crate) fn run(&self, inv: Invocation<'_>) -> Result<crate::run::Output, Error> {
        match run(&self.options, inv) {
            Ok(out) => Ok(out),
            Err(crate::run::RunError::Io(e)) => Err(e),
            Err(crate::run::RunError::TimedOut { after, stderr }) => Err(Error::Failed {
                command: "git".to_owned(),
                status: format!("killed after {after:?}"),
                stderr_tail: crate::error::stderr_tail(&stderr),
            }),
        }
    }
}

/// Removes the lock files that a git process killed by SIGKILL (or a crash of the machine)
/// leaves in the bare repository at `git_dir`: `HEAD.lock`, `packed-refs.lock`,
/// `config.lock`, `refs/**/*.lock`, the `.keep` of a pack whose push never finished, and
/// the temporary files of a [`crate::PackWriter`] that never finished. Returns the files
/// removed; a missing repository has none.
///
/// git creates these with `O_EXCL` and deletes them when it exits, even on an error or a
/// catchable signal, but a SIGKILL skips that; every later ref update or push then fails
/// with "Unable to create '….lock': File exists" until someone deletes the file, so the
/// package could never be imported again.
///
/// The caller must know that no git process is working on the repository: `import-one`
/// calls it under the package lock, and the driver kills the whole process group of an
/// import once it ends, so no git of an earlier run outlives it.
pub fn remove_stale_locks(git_dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut removed = Vec::new();
    for name in ["HEAD.lock", "packed-refs.lock", "config.lock"] {
        remove_if_present(&git_dir.join(name), &mut removed)?;
    }
    let mut dirs = vec![git_dir.join("refs")];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(format!("listing {}", dir.display()), e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
            let path = entry.path();
            let is_dir = entry
                .file_type()
                .map_err(|e| Error::io(format!("inspecting {}", path.display()), e))?
                .is_dir();
            if is_dir {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "lock") {
                remove_if_present(&path, &mut removed)?;
            }
        }
    }
    // A receive-pack killed between storing a pushed pack and updating the refs leaves the
    // pack's `.keep` (content "receive-pack <pid> on <host>") behind; the same push again
    // brings the same pack and fails with "unable to migrate objects to permanent storage"
    // because the two `.keep` files differ. Found by the crash sweep.
    let packs = git_dir.join("objects/pack");
    if let Ok(entries) = std::fs::read_dir(&packs) {
        for entry in entries {
            let path = entry
                .map_err(|e| Error::io(format!("listing {}", packs.display()), e))?
                .path();
            if path.extension().is_some_and(|x| x == "keep")
                && std::fs::read(&path).is_ok_and(|c| c.starts_with(b"receive-pack "))
            {
                remove_if_present(&path, &mut removed)?;
            }
            // A pack writer killed before it put its pack in place leaves its temporary
            // files; nothing refers to them.
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with(crate::pack::TEMP_PACK_PREFIX)
                || name.starts_with(crate::pack::TEMP_INDEX_PREFIX)
            {
                remove_if_present(&path, &mut removed)?;
            }
        }
    }
    Ok(removed)
}

fn remove_if_present(path: &Path, removed: &mut Vec<PathBuf>) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Ok(()) => {
            removed.push(path.to_owned());
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("removing {}", path.display()), e)),
    }
}

/// Create a bare repository at `path`: initialise a temporary sibling, configure it, then
/// rename it into place (replacing `path` if it is an empty directory). If another process
/// won the race, its repository is kept.
pub(crate) fn init_bare(path: &Path) -> Result<(), Error> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(Error::invalid(
            "repository path",
            path.display().to_string(),
        ));
    };
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    let temp = parent.join(format!(
        ".{}.init-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        write_layout(&temp)?;
        append_config(&temp.join("config"))?;
        match std::fs::rename(&temp, path) {
            Ok(()) => Ok(()),
            // Someone else created it meanwhile (rename onto a non-empty directory fails).
            Err(_) if path.exists() => Ok(()),
            Err(e) => Err(Error::io(format!("renaming into {}", path.display()), e)),
        }
    })();
    if temp.exists() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    if result.is_ok() {
        log::info!("created bare repository {}", path.display());
    }
    result
}

/// Writes what `git init --bare --template= --object-format=sha1 --initial-branch=main`
/// writes: `HEAD` on `main`, a `config` with the core settings of a bare SHA-1 repository
/// (format version 0: no extensions), and the empty `objects/` and `refs/` directories.
/// Done here rather than by git to save a process per new repository, two in the first
/// import of a package with a local remote; the layout has been the same since git 1.x,
/// and the tests run git (`fsck`, `config`, every command of an import) on the result.
fn write_layout(dir: &Path) -> Result<(), Error> {
    let io = |what: &Path, e| Error::io(format!("creating {}", what.display()), e);
    for sub in ["objects/info", "objects/pack", "refs/heads", "refs/tags"] {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path).map_err(|e| io(&path, e))?;
    }
    for (name, text) in [
        ("HEAD", "ref: refs/heads/main\n"),
        (
            "config",
            "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n",
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| io(&path, e))?;
    }
    Ok(())
}

/// Appends [`REPO_CONFIG`] to the `config` file that [`write_layout`] just wrote. Written by hand
/// rather than by one `git config` process per key: the keys are our constants, the syntax
/// is git's plain INI (`[section]` then `\tkey = value`), and the six processes were a tenth
/// of a small package's import. A test reads every key back through `git config`.
fn append_config(config: &Path) -> Result<(), Error> {
    use std::io::Write as _;
    let mut text = String::new();
    let mut section = "";
    for (key, value) in REPO_CONFIG {
        let (sect, name) = key
            .split_once('.')
            .expect("REPO_CONFIG keys are section.key");
        if sect != section {
            text.push_str(&format!("[{sect}]\n"));
            section = sect;
        }
        text.push_str(&format!("\t{name} = {value}\n"));
    }
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(config)
        .map_err(|e| Error::io(format!("opening {}", config.display()), e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| Error::io(format!("writing {}", config.display()), e))
}

pub(crate) fn parse_oid_line(out: &[u8]) -> Result<Oid, Error> {
    let text = String::from_utf8_lossy(out);
    Oid::from_hex(text.trim())
}

fn unexpected(command: &str, line: &str) -> Error {
    Error::Failed {
        command: command.to_owned(),
        status: "unexpected output".to_owned(),
        stderr_tail: line.to_owned(),
    }
}
