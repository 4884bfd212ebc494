//! Helpers shared by the integration tests: fixed identities and small trees.

use std::path::Path;

use pkgimport_git::{CommitSpec, Entry, GitDir, GitOptions, Mode, Oid, PackWriter, Signature};

pub(crate) fn author() -> Signature {
    Signature {
        name: "Jane Maintainer".to_owned(),
        email: "jane@example.org".to_owned(),
        time: 1_700_000_000,
        offset: "+0100".parse().unwrap(),
    }
}

pub(crate) fn committer() -> Signature {
    Signature {
        name: "package-importer".to_owned(),
        email: "importer@example.org".to_owned(),
        time: 1_700_000_000,
        offset: "-0530".parse().unwrap(),
    }
}

pub(crate) fn repo(path: &Path) -> GitDir {
    GitDir::open_or_init(path, GitOptions::default()).unwrap()
}

/// Write one commit in its own session with one file `name` containing `content`.
pub(crate) fn simple_commit(dir: &GitDir, content: &str, parents: &[Oid]) -> Oid {
    let author = author();
    let committer = committer();
    let message = format!("commit {content}\n");
    let mut session = PackWriter::start(dir).unwrap();
    let oid = session
        .commit(
            &CommitSpec {
                author: &author,
                committer: &committer,
                message: message.as_bytes(),
                parents,
                update_ref: None,
            },
            [Entry {
                path: "file",
                mode: Mode::File,
                data: content.as_bytes(),
            }],
        )
        .unwrap();
    session.finish().unwrap();
    oid
}
