//! The librarian: `+sourcefiles/<name>/<version>/<file>` redirects to a numeric librarian
//! URL, as on Launchpad, and that URL serves the file's bytes, from the fixture archive or
//! generated for a synthetic history.

use super::{Answer, Body, Shared, read_catalogue};
use crate::catalogue::{Catalogue, Files};
use crate::params::path_segment;

/// Packs (package, version, file) into a librarian-like numeric id.
fn librarian_id(pkg: u32, ver: u32, file: usize) -> u64 {
    (u64::from(pkg) << 24) | (u64::from(ver) << 8) | (file as u64 & 0xff)
}

fn split_librarian_id(id: u64) -> (u32, u32, usize) {
    (
        (id >> 24) as u32,
        ((id >> 8) & 0xffff) as u32,
        (id & 0xff) as usize,
    )
}

/// The file names of a version, `.dsc` first.
fn file_names(cat: &Catalogue, pkg: u32, ver: u32) -> Vec<String> {
    let package = &cat.packages[pkg as usize];
    let version = &package.versions[ver as usize];
    match &version.files {
        Files::Disk(files) => files.iter().map(|f| f.name.clone()).collect(),
        Files::Synthetic { .. } => vec![
            format!("{}_{}.dsc", package.name, version.version),
            format!("{}_{}.tar.gz", package.name, version.version),
        ],
    }
}

/// `+sourcefiles/<name>/<version>/<file>` redirects to the librarian, as on Launchpad.
pub(super) fn sourcefile_redirect(
    shared: &Shared,
    origin: &str,
    name: &str,
    version: &str,
    file: &str,
) -> Answer {
    let cat = read_catalogue(shared);
    let found = cat.package_index(name).and_then(|pkg| {
        let ver = cat.version_index(pkg, version)?;
        let index = file_names(&cat, pkg, ver).iter().position(|f| f == file)?;
        Some(librarian_id(pkg, ver, index))
    });
    match found {
        Some(id) => Answer {
            status: 303,
            content_type: "text/plain",
            body: Body::Bytes(Vec::new()),
            headers: vec![(
                "Location",
                format!("{origin}/+librarian/{id}/{}", path_segment(file)),
            )],
            route: "sourcefiles",
            distribution: None,
            json: false,
        },
        None => Answer::text(
            "sourcefiles",
            404,
            format!("No such file: {name} {version} {file}\n"),
        ),
    }
}

/// `+librarian/<id>/<file>`: the bytes of one file.
pub(super) fn librarian(shared: &Shared, id: &str, file: &str) -> Answer {
    let missing = || {
        Answer::text(
            "librarian",
            404,
            "The requested file is not in the librarian.\n",
        )
    };
    let Ok(id) = id.parse::<u64>() else {
        return missing();
    };
    let (pkg, ver, index) = split_librarian_id(id);
    let cat = read_catalogue(shared);
    let Some(version) = cat
        .packages
        .get(pkg as usize)
        .and_then(|p| p.versions.get(ver as usize))
    else {
        return missing();
    };
    if file_names(&cat, pkg, ver).get(index).map(String::as_str) != Some(file) {
        return missing();
    }
    let body = match &version.files {
        Files::Disk(files) => Body::File(files[index].path.clone()),
        Files::Synthetic { j, v } => {
            let Some(spec) = cat.synthetic_spec() else {
                return missing();
            };
            let series = crate::synthetic::home_series_name(spec, *j);
            let generated = crate::synthetic::generate(spec, *j, *v, &series);
            Body::Bytes(if index == 0 {
                generated.dsc
            } else {
                generated.tar
            })
        }
    };
    Answer {
        status: 200,
        content_type: "application/octet-stream",
        body,
        headers: Vec::new(),
        route: "librarian",
        distribution: None,
        json: false,
    }
}
