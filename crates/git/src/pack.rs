//! Writing commits straight into a pack file, in this process, on every core.
//!
//! Each commit is a full snapshot: its tree is exactly the given entries, whatever its
//! parent holds. For every entry the writer hashes the blob (git's object id), and when the
//! repository does not have it yet, compresses it into the session's pack; then it builds
//! the trees bottom-up and the commit. Objects the repository already has, in a pack or
//! loose, or that this session wrote before, are not written again.
//!
//! Why not `git fast-import`: fast-import hashes and compresses every byte on one core,
//! while the unpacking thread has the other to itself; hashing and compressing were most of
//! a large import. Here blobs are hashed and compressed on all cores, in the
//! process that already holds them in memory, and no pipe carries them. What the writer
//! produces is plain git: version 2 packs and version 2 indexes, the formats of git's
//! `Documentation/gitformat-pack.txt`, which every git since 1.5 reads. No crate writes
//! them for us (gitoxide's writer would bring its whole object database with it); the
//! formats are small and fixed, and the tests check the result with `git fsck --strict`
//! and against ids computed by git itself.
//!
//! Hashes: object ids use SHA-1 with collision detection (`sha1-checked`, the algorithm of
//! git's own sha1dc), so content crafted to collide with another object is refused, as git
//! refuses it, instead of silently standing in for it. The pack's trailing checksum is
//! plain SHA-1: it guards against corruption, not against an attacker.
//!
//! Determinism: a commit object is its tree, parents, author, committer and message, and
//! every one of those is the caller's input, written verbatim (raw dates, no `encoding`
//! header, no config involved). Same input, same id, on any machine and git version.
//!
//! Durability: the pack and its index are written under temporary names, flushed to disk,
//! and renamed into `objects/pack/` (the index last: git only sees a pack through its
//! index) by [`PackWriter::finish`], which then moves the refs asked for. A session that is
//! dropped or fails before that leaves no pack and moves no ref.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha1::Digest as _;

use crate::commit::{CommitSpec, Entry, Mode, check_path};
use crate::repo::GitDir;
use crate::{Error, Oid, check_ref_name};

mod snapshot;

pub use snapshot::{Edit, Snapshot};

/// The zlib level of everything we write; the same as `core.compression` in our
/// repositories. Object ids do not depend on it.
const LEVEL: u32 = 1;
/// Below this many bytes of blobs a commit is hashed and compressed on the calling thread:
/// starting threads would cost more than it saves.
const PARALLEL_FROM: usize = 256 * 1024;
/// At most this many threads hash and compress.
const MAX_THREADS: usize = 8;

/// Git's object types, as a pack header numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Commit = 1,
    Tree = 2,
    Blob = 3,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Commit => "commit",
            Kind::Tree => "tree",
            Kind::Blob => "blob",
        }
    }
}

/// Where an object of this session's pack starts, and the CRC-32 of its packed bytes (the
/// index records both).
#[derive(Debug, Clone, Copy)]
struct Packed {
    offset: u64,
    crc: u32,
}

/// A blob's id, and its packed bytes when the session must write it.
type HashedBlob = (Oid, Option<Vec<u8>>);

/// The ids of a commit written by [`PackWriter::commit_with_tree`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    pub commit: Oid,
    pub tree: Oid,
}

/// One session of commits written into one new pack; see the module documentation.
pub struct PackWriter {
    repo: GitDir,
    existing: Existing,
    written: HashMap<Oid, Packed>,
    /// The pack being written, created with the first new object.
    pack: Option<TempPack>,
    /// Refs to point at commits once the pack is in place.
    refs: BTreeMap<String, Oid>,
    threads: usize,
}

impl std::fmt::Debug for PackWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackWriter")
            .field("repo", &self.repo.path())
            .field("objects", &self.written.len())
            .finish()
    }
}

impl PackWriter {
    /// Start a session writing into `repo`. Reads the indexes of the repository's packs,
    /// to know which objects it has.
    pub fn start(repo: &GitDir) -> Result<PackWriter, Error> {
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(MAX_THREADS);
        Ok(PackWriter {
            existing: Existing::read(&repo.path().join("objects"))?,
            repo: repo.clone(),
            written: HashMap::new(),
            pack: None,
            refs: BTreeMap::new(),
            threads,
        })
    }

    /// Write one commit whose tree is exactly `entries`, and return its id. The id is
    /// final, but the objects are only durable (and the ref updated) once
    /// [`PackWriter::finish`] succeeds. Invalid input (an identity, a path, two entries at
    /// one path, a missing parent) is refused before anything of the commit is written;
    /// after any other error (writing the pack), drop the session.
    pub fn commit<'e>(
        &mut self,
        spec: &CommitSpec<'_>,
        entries: impl IntoIterator<Item = Entry<'e>>,
    ) -> Result<Oid, Error> {
        Ok(self.commit_with_tree(spec, entries)?.commit)
    }

    /// [`PackWriter::commit`], returning the tree's id as well as the commit's.
    pub fn commit_with_tree<'e>(
        &mut self,
        spec: &CommitSpec<'_>,
        entries: impl IntoIterator<Item = Entry<'e>>,
    ) -> Result<Written, Error> {
        let entries: Vec<Entry<'e>> = entries.into_iter().collect();
        Ok(self.commit_entries(spec, &entries)?.0)
    }

    /// [`PackWriter::commit_with_tree`] of `entries`, returning also the id of each entry's
    /// blob, in order.
    fn commit_entries(
        &mut self,
        spec: &CommitSpec<'_>,
        entries: &[Entry<'_>],
    ) -> Result<(Written, Vec<Oid>), Error> {
        self.check_spec(spec)?;
        for entry in entries {
            check_path(entry.path)?;
        }
        let mut root = Dir::default();
        let blobs = self.blobs(entries)?;
        for (entry, (oid, _)) in entries.iter().zip(&blobs) {
            root.insert(entry.path, entry.mode, *oid)?;
        }
        let mut ids = Vec::with_capacity(blobs.len());
        for (oid, packed) in blobs {
            if let Some(bytes) = packed {
                self.append(oid, &bytes)?;
            }
            ids.push(oid);
        }
        let tree = self.write_tree(&root)?;
        let commit = self.write_commit(spec, tree)?;
        log::debug!("wrote commit {commit} with {} entries", entries.len());
        Ok((Written { commit, tree }, ids))
    }

    /// Write one commit of a tree the repository (or this session) has already, such as the
    /// tree of an earlier commit, and return its id.
    pub fn commit_on_tree(&mut self, spec: &CommitSpec<'_>, tree: Oid) -> Result<Oid, Error> {
        self.check_spec(spec)?;
        if !self.has(&tree) {
            return Err(Error::invalid(
                "tree (not in the repository)",
                tree.to_hex(),
            ));
        }
        let commit = self.write_commit(spec, tree)?;
        log::debug!("wrote commit {commit} on tree {tree}");
        Ok(commit)
    }

    /// Refuses a commit whose identities or ref name git would refuse, or whose parents are
    /// missing, before anything of it is written.
    fn check_spec(&self, spec: &CommitSpec<'_>) -> Result<(), Error> {
        spec.author.check()?;
        spec.committer.check()?;
        if let Some(name) = spec.update_ref {
            check_ref_name(name)?;
        }
        for parent in spec.parents {
            if !self.has(parent) {
                return Err(Error::invalid(
                    "parent commit (not in the repository)",
                    parent.to_hex(),
                ));
            }
        }
        Ok(())
    }

    /// Write the commit object of `spec` on `tree`.
    fn write_commit(&mut self, spec: &CommitSpec<'_>, tree: Oid) -> Result<Oid, Error> {
        let mut body = Vec::with_capacity(256 + spec.message.len());
        let io = |e| Error::io("building a commit", e);
        writeln!(body, "tree {tree}").map_err(io)?;
        for parent in spec.parents {
            writeln!(body, "parent {parent}").map_err(io)?;
        }
        spec.author.write_line(&mut body, "author").map_err(io)?;
        spec.committer
            .write_line(&mut body, "committer")
            .map_err(io)?;
        body.push(b'\n');
        body.extend_from_slice(spec.message);
        let oid = self.write_object(Kind::Commit, &body)?;
        if let Some(name) = spec.update_ref {
            self.refs.insert(name.to_owned(), oid);
        }
        Ok(oid)
    }

    /// Finish the pack, write its index, put both in place, and move the refs the commits
    /// asked for (all in one ref transaction).
    pub fn finish(mut self) -> Result<(), Error> {
        if let Some(pack) = self.pack.take() {
            let objects = self.written.len();
            let name = pack.finish(&self.written)?;
            log::debug!(
                "wrote pack-{name} with {objects} objects into {}",
                self.repo.path().display()
            );
        }
        let refs: Vec<(&str, Oid)> = self.refs.iter().map(|(n, o)| (n.as_str(), *o)).collect();
        self.repo.update_refs(&refs)
    }

    /// Whether the repository or this session has the object.
    fn has(&self, oid: &Oid) -> bool {
        self.written.contains_key(oid) || self.existing.contains(oid)
    }

    /// The id of every entry's blob, and, for each blob this session must write, its packed
    /// bytes; hashed and compressed on up to `threads` threads.
    fn blobs(&self, entries: &[Entry<'_>]) -> Result<Vec<HashedBlob>, Error> {
        let work = |entry: &Entry<'_>| -> Result<HashedBlob, Error> {
            let oid = object_id(Kind::Blob, entry.data)?;
            let packed = (!self.has(&oid)).then(|| pack_object(Kind::Blob, entry.data));
            Ok((oid, packed))
        };
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(entries.len());
        for result in par_map(entries, self.threads, |e| e.data.len(), work) {
            let (oid, packed) = result?;
            // The same content at two paths is written once.
            let packed = packed.filter(|_| seen.insert(oid));
            out.push((oid, packed));
        }
        Ok(out)
    }

    /// Write the trees of `dir`, deepest first, and return the id of `dir`'s own.
    fn write_tree(&mut self, dir: &Dir<'_>) -> Result<Oid, Error> {
        // Git sorts entries by name, a directory as if its name ended in `/`.
        let mut children: Vec<(Vec<u8>, &str, &Node<'_>)> = dir
            .entries
            .iter()
            .map(|(name, node)| {
                let mut key = name.as_bytes().to_vec();
                if let Node::Dir(_) = node {
                    key.push(b'/');
                }
                (key, *name, node)
            })
            .collect();
        children.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut body = Vec::with_capacity(children.len() * 48);
        for (_, name, node) in children {
            let (mode, oid) = match node {
                Node::Blob(mode, oid) => (mode.octal(), *oid),
                Node::Dir(sub) => ("40000", self.write_tree(sub)?),
            };
            body.extend_from_slice(mode.as_bytes());
            body.push(b' ');
            body.extend_from_slice(name.as_bytes());
            body.push(0);
            body.extend_from_slice(oid.as_bytes());
        }
        self.write_object(Kind::Tree, &body)
    }

    /// Hash one object and add it to the pack unless it is there already.
    fn write_object(&mut self, kind: Kind, body: &[u8]) -> Result<Oid, Error> {
        let oid = object_id(kind, body)?;
        if !self.has(&oid) {
            self.append(oid, &pack_object(kind, body))?;
        }
        Ok(oid)
    }

    /// Append packed bytes of the object `oid` to the pack, unless the session wrote it.
    fn append(&mut self, oid: Oid, packed: &[u8]) -> Result<(), Error> {
        if self.written.contains_key(&oid) {
            return Ok(());
        }
        let pack = match &mut self.pack {
            Some(p) => p,
            None => self
                .pack
                .insert(TempPack::create(&self.repo.path().join("objects/pack"))?),
        };
        let offset = pack.append(packed)?;
        let crc = crc32fast::hash(packed);
        self.written.insert(oid, Packed { offset, crc });
        Ok(())
    }
}

/// A directory of the snapshot being built: names to blobs and subdirectories.
#[derive(Default)]
struct Dir<'p> {
    entries: HashMap<&'p str, Node<'p>>,
}

enum Node<'p> {
    Blob(Mode, Oid),
    Dir(Dir<'p>),
}

impl<'p> Dir<'p> {
    /// Add the blob at `path` (checked by `check_path`). A path that is both a file and a
    /// directory, or given twice, is refused.
    fn insert(&mut self, path: &'p str, mode: Mode, oid: Oid) -> Result<(), Error> {
        let clash = || Error::invalid("path (two entries at one path)", path);
        let mut dir = self;
        let mut parts = path.split('/').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                return match dir.entries.entry(part) {
                    std::collections::hash_map::Entry::Occupied(_) => Err(clash()),
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(Node::Blob(mode, oid));
                        Ok(())
                    }
                };
            }
            let node = dir
                .entries
                .entry(part)
                .or_insert_with(|| Node::Dir(Dir::default()));
            dir = match node {
                Node::Dir(sub) => sub,
                Node::Blob(..) => return Err(clash()),
            };
        }
        Ok(())
    }
}

/// The git object id of `body` as an object of `kind`. Content that shows the marks of a
/// SHA-1 collision attack is refused, as git refuses it.
fn object_id(kind: Kind, body: &[u8]) -> Result<Oid, Error> {
    let mut hasher = sha1_checked::Sha1::new();
    sha1_checked::Digest::update(&mut hasher, format!("{} {}\0", kind.name(), body.len()));
    sha1_checked::Digest::update(&mut hasher, body);
    let result = hasher.try_finalize();
    if result.has_collision() {
        return Err(Error::invalid(
            "content (a SHA-1 collision attack)",
            format!("{} of {} bytes", kind.name(), body.len()),
        ));
    }
    let mut raw = [0u8; 20];
    raw.copy_from_slice(result.hash());
    Ok(Oid::from_bytes(raw))
}

/// An object as a pack stores it undeltified: the type-and-size header, then the body
/// zlib-compressed.
fn pack_object(kind: Kind, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() / 2 + 32);
    // Type in bits 4-6 of the first byte and the size in 4 bits there, then 7 bits a byte,
    // least significant first; the top bit says another byte follows.
    let mut size = body.len() as u64;
    let mut byte = ((kind as u8) << 4) | (size & 0x0f) as u8;
    size >>= 4;
    while size != 0 {
        out.push(byte | 0x80);
        byte = (size & 0x7f) as u8;
        size >>= 7;
    }
    out.push(byte);
    let mut z = flate2::write::ZlibEncoder::new(out, flate2::Compression::new(LEVEL));
    z.write_all(body).expect("writing to a Vec cannot fail");
    z.finish().expect("writing to a Vec cannot fail")
}

/// Runs `f` over `items` on up to `threads` threads, each taking a contiguous run of about
/// the same total `weight`, and returns the results in order. Small batches run here.
fn par_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    weight: impl Fn(&T) -> usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let total: usize = items.iter().map(&weight).sum();
    if threads <= 1 || total < PARALLEL_FROM || items.len() < 2 {
        return items.iter().map(f).collect();
    }
    let share = total.div_ceil(threads);
    let mut runs = Vec::with_capacity(threads);
    let (mut start, mut sum) = (0, 0);
    for (i, item) in items.iter().enumerate() {
        sum += weight(item);
        if sum >= share && runs.len() + 1 < threads {
            runs.push(&items[start..=i]);
            (start, sum) = (i + 1, 0);
        }
    }
    runs.push(&items[start..]);
    let f = &f;
    std::thread::scope(|scope| {
        let others: Vec<_> = runs[1..]
            .iter()
            .map(|run| scope.spawn(move || run.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out: Vec<R> = runs[0].iter().map(f).collect();
        for other in others {
            out.extend(other.join().expect("a hashing thread panicked"));
        }
        out
    })
}

/// The objects a repository had when the session started: the names in its pack indexes,
/// and its loose objects (looked up one file at a time, in the fan-out directories that
/// existed: usually none, since everything we write or receive is packed).
struct Existing {
    objects: PathBuf,
    indexes: Vec<PackIndex>,
    loose_dirs: [bool; 256],
}

impl Existing {
    fn read(objects: &Path) -> Result<Existing, Error> {
        let mut loose_dirs = [false; 256];
        let listing = std::fs::read_dir(objects)
            .map_err(|e| Error::io(format!("listing {}", objects.display()), e))?;
        for entry in listing {
            let entry =
                entry.map_err(|e| Error::io(format!("listing {}", objects.display()), e))?;
            let name = entry.file_name();
            if let Some(byte) = name
                .to_str()
                .filter(|n| n.len() == 2)
                .and_then(|n| u8::from_str_radix(n, 16).ok())
            {
                loose_dirs[usize::from(byte)] = true;
            }
        }
        let dir = objects.join("pack");
        let mut indexes = Vec::new();
        let listing = match std::fs::read_dir(&dir) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Existing {
                    objects: objects.to_owned(),
                    indexes,
                    loose_dirs,
                });
            }
            Err(e) => return Err(Error::io(format!("listing {}", dir.display()), e)),
        };
        for entry in listing {
            let path = entry
                .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?
                .path();
            // What git itself reads: `pack-*.idx` with its `.pack` beside it. Not the
            // temporary files of a writer that was killed, whose objects are not there.
            let is_index = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("pack-") && n.ends_with(".idx"));
            if !is_index || !path.with_extension("pack").is_file() {
                continue;
            }
            let data = match std::fs::read(&path) {
                Ok(d) => d,
                // Repacked away meanwhile: its objects are in another pack now.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
            };
            match PackIndex::parse(data) {
                Some(index) => indexes.push(index),
                // An index we cannot read only means objects in it may be written again,
                // which is harmless.
                None => log::warn!("ignoring unreadable pack index {}", path.display()),
            }
        }
        Ok(Existing {
            objects: objects.to_owned(),
            indexes,
            loose_dirs,
        })
    }

    fn contains(&self, oid: &Oid) -> bool {
        if self.indexes.iter().any(|i| i.contains(oid)) {
            return true;
        }
        if !self.loose_dirs[usize::from(oid.as_bytes()[0])] {
            return false;
        }
        let hex = oid.to_hex();
        self.objects.join(&hex[..2]).join(&hex[2..]).exists()
    }
}

/// A version 2 pack index, read whole: only its fan-out table and sorted names are used.
struct PackIndex {
    data: Vec<u8>,
}

const IDX_MAGIC: [u8; 4] = [0xff, b't', b'O', b'c'];
const IDX_NAMES: usize = 8 + 256 * 4;

impl PackIndex {
    fn parse(data: Vec<u8>) -> Option<PackIndex> {
        if data.len() < IDX_NAMES || data[..4] != IDX_MAGIC || data[4..8] != [0, 0, 0, 2] {
            return None;
        }
        let index = PackIndex { data };
        let count = index.fanout(255);
        (index.data.len() >= IDX_NAMES + count * 20).then_some(index)
    }

    /// How many names start with a byte up to `byte`.
    fn fanout(&self, byte: usize) -> usize {
        let at = 8 + byte * 4;
        u32::from_be_bytes(self.data[at..at + 4].try_into().expect("4 bytes")) as usize
    }

    fn contains(&self, oid: &Oid) -> bool {
        let first = usize::from(oid.as_bytes()[0]);
        let (mut lo, mut hi) = (
            if first == 0 {
                0
            } else {
                self.fanout(first - 1)
            },
            self.fanout(first),
        );
        let want: &[u8] = oid.as_bytes();
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let at = IDX_NAMES + mid * 20;
            match self.data[at..at + 20].cmp(want) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }
}

/// The names of a pack and its index while they are written, in `objects/pack/`. git's own
/// temporary files start with `tmp_` too, and git ignores them; a writer killed before it
/// renamed them leaves them behind, for [`crate::remove_stale_locks`].
pub(crate) const TEMP_PACK_PREFIX: &str = "tmp_pack_pkgimport_";
pub(crate) const TEMP_INDEX_PREFIX: &str = "tmp_idx_pkgimport_";

/// The pack file while it is written, removed again unless [`TempPack::finish`] puts it in
/// place.
struct TempPack {
    dir: PathBuf,
    path: PathBuf,
    file: Option<BufWriter<File>>,
    /// Bytes written so far: where the next object starts.
    len: u64,
}

impl TempPack {
    fn create(dir: &Path) -> Result<TempPack, Error> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let path = dir.join(format!(
            "{TEMP_PACK_PREFIX}{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let io = |e| Error::io(format!("creating {}", path.display()), e);
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io)?;
        let mut pack = TempPack {
            dir: dir.to_owned(),
            path,
            file: Some(BufWriter::with_capacity(1 << 20, file)),
            len: 0,
        };
        // Signature, version 2, and the object count, filled in by `finish`.
        pack.append(b"PACK\0\0\0\x02\0\0\0\0")?;
        Ok(pack)
    }

    fn append(&mut self, bytes: &[u8]) -> Result<u64, Error> {
        let offset = self.len;
        self.file
            .as_mut()
            .expect("open until finish")
            .write_all(bytes)
            .map_err(|e| Error::io(format!("writing {}", self.path.display()), e))?;
        self.len += bytes.len() as u64;
        Ok(offset)
    }

    /// Fill in the object count, append the checksum, write the index, flush both to disk
    /// and rename them into place. Returns the pack's name (its checksum in hex).
    fn finish(mut self, objects: &HashMap<Oid, Packed>) -> Result<String, Error> {
        let io = |what: &str, e| Error::io(format!("{what} {}", self.path.display()), e);
        let mut file = self
            .file
            .take()
            .expect("open until finish")
            .into_inner()
            .map_err(|e| io("writing", e.into_error()))?;
        let count = u32::try_from(objects.len())
            .map_err(|_| Error::invalid("pack size", objects.len().to_string()))?;
        file.seek(SeekFrom::Start(8))
            .map_err(|e| io("writing", e))?;
        file.write_all(&count.to_be_bytes())
            .map_err(|e| io("writing", e))?;
        // The checksum covers the whole file, header included, so it is read back once.
        file.seek(SeekFrom::Start(0))
            .map_err(|e| io("reading", e))?;
        let mut hasher = sha1::Sha1::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).map_err(|e| io("reading", e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let checksum: [u8; 20] = hasher.finalize().into();
        file.write_all(&checksum).map_err(|e| io("writing", e))?;
        file.sync_all().map_err(|e| io("flushing", e))?;

        let name = Oid::from_bytes(checksum).to_hex();
        let idx_temp = self.dir.join(format!(
            "{TEMP_INDEX_PREFIX}{}",
            &file_name(&self.path)[TEMP_PACK_PREFIX.len()..]
        ));
        let idx = index_bytes(objects, &checksum);
        let write_idx = || -> std::io::Result<()> {
            let mut f = File::create(&idx_temp)?;
            f.write_all(&idx)?;
            f.sync_all()
        };
        if let Err(e) = write_idx() {
            let _ = std::fs::remove_file(&idx_temp);
            return Err(Error::io(format!("writing {}", idx_temp.display()), e));
        }
        let final_pack = self.dir.join(format!("pack-{name}.pack"));
        let final_idx = self.dir.join(format!("pack-{name}.idx"));
        let renamed = std::fs::rename(&self.path, &final_pack)
            .and_then(|()| std::fs::rename(&idx_temp, &final_idx));
        if let Err(e) = renamed {
            let _ = std::fs::remove_file(&idx_temp);
            return Err(Error::io(
                format!("putting {} in place", final_pack.display()),
                e,
            ));
        }
        // The renames are durable once the directory is.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(format!("flushing {}", self.dir.display()), e))?;
        Ok(name)
    }
}

impl Drop for TempPack {
    /// A pack that was not put in place is removed (after `finish` the path is gone).
    fn drop(&mut self) {
        drop(self.file.take());
        let _ = std::fs::remove_file(&self.path);
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A version 2 pack index of `objects`: fan-out table, sorted names, CRC-32s, offsets
/// (31 bits, or an index into a table of 64-bit ones), the pack's checksum, and the
/// index's own.
fn index_bytes(objects: &HashMap<Oid, Packed>, pack_checksum: &[u8; 20]) -> Vec<u8> {
    let mut sorted: Vec<(&Oid, &Packed)> = objects.iter().collect();
    sorted.sort_by_key(|(oid, _)| **oid);
    let mut out = Vec::with_capacity(IDX_NAMES + sorted.len() * 28 + 40);
    out.extend_from_slice(&IDX_MAGIC);
    out.extend_from_slice(&2u32.to_be_bytes());
    let mut counts = [0u32; 256];
    for (oid, _) in &sorted {
        counts[usize::from(oid.as_bytes()[0])] += 1;
    }
    let mut running = 0u32;
    for c in counts {
        running += c;
        out.extend_from_slice(&running.to_be_bytes());
    }
    for (oid, _) in &sorted {
        out.extend_from_slice(oid.as_bytes());
    }
    for (_, packed) in &sorted {
        out.extend_from_slice(&packed.crc.to_be_bytes());
    }
    let mut large = Vec::new();
    for (_, packed) in &sorted {
        let small = match u32::try_from(packed.offset) {
            Ok(o) if o < 0x8000_0000 => o,
            _ => {
                large.push(packed.offset);
                0x8000_0000 | (large.len() as u32 - 1)
            }
        };
        out.extend_from_slice(&small.to_be_bytes());
    }
    for offset in large {
        out.extend_from_slice(&offset.to_be_bytes());
    }
    out.extend_from_slice(pack_checksum);
    let own: [u8; 20] = sha1::Sha1::digest(&out).into();
    out.extend_from_slice(&own);
    out
}

#[cfg(test)]
mod tests;
