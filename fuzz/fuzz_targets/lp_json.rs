//! Fuzz target: decoding Launchpad's JSON answers with serde_json, as `pkgimport_lp_client` does:
//! a collection page of publications, a page of distro series, and a `sourceFileUrls`
//! answer. The input decides nothing but the bytes; decoding must never panic, and the
//! accessors on what decodes must not either.
//!
//! `Page<T>` and `RawSourceFile` are private to `pkgimport_lp_client`, so this target mirrors
//! their wire shape (`next_collection_link` + `entries`; nullable `url`, `size`, `sha256`).
//! The entry types are the crate's own.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pkgimport_lp_client::{DistroSeries, Publication, SourceFile};
use serde::Deserialize;

#[derive(Deserialize)]
struct Page<T> {
    #[serde(default)]
    next_collection_link: Option<String>,
    entries: Vec<T>,
}

#[derive(Deserialize)]
struct RawSourceFile {
    url: Option<String>,
    size: Option<u64>,
    sha256: Option<String>,
}

fuzz_target!(|data: &[u8]| {
    if let Ok(page) = serde_json::from_slice::<Page<Publication>>(data) {
        let _ = page.next_collection_link;
        for p in &page.entries {
            let _ = p.sourcepub_id();
            let _ = p.series_name();
            // What we echo back (watermarks) must re-parse to the same instant.
            let again = pkgimport_lp_client::LpDateTime::parse(p.date_created.as_str())
                .expect("a parsed datetime re-parses");
            assert_eq!(again, p.date_created);
            let round = serde_json::to_vec(p).expect("serialises");
            let back: Publication = serde_json::from_slice(&round).expect("round trip");
            assert_eq!(&back, p);
        }
    }
    if let Ok(one) = serde_json::from_slice::<Publication>(data) {
        let _ = one.sourcepub_id();
    }
    if let Ok(page) = serde_json::from_slice::<Page<DistroSeries>>(data) {
        let _ = page.entries.len();
    }
    let _ = serde_json::from_slice::<Vec<DistroSeries>>(data);
    if let Ok(files) = serde_json::from_slice::<Vec<Option<RawSourceFile>>>(data) {
        for f in files.into_iter().flatten() {
            if let (Some(url), Some(size), Some(sha256)) = (f.url, f.size, f.sha256) {
                let file = SourceFile { url, size, sha256 };
                let _ = file.filename();
            }
        }
    }
});
