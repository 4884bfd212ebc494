//! JSON representations with Launchpad's field names and key order.
//!
//! Structs (rather than `json!` maps) keep the key order of the real responses, which
//! makes recorded and simulated answers easy to diff. Links are absolute and built from the
//! request's `Host`, like Launchpad's, so a client may follow them verbatim.

use serde::Serialize;

use crate::catalogue::{Catalogue, Files, Row};
use crate::params::path_segment;
use crate::time::isoformat;

/// What every link is built from.
#[derive(Debug, Clone)]
pub(crate) struct LinkBase {
    /// `http://127.0.0.1:8080`: scheme and authority, the web root.
    pub(crate) origin: String,
    /// `devel`, `1.0` or `beta`.
    pub(crate) api_version: String,
    /// The distribution the links are under: `debian`, `ubuntu`.
    pub(crate) distro: String,
}

impl LinkBase {
    /// `http://127.0.0.1:8080/devel`.
    pub(crate) fn api(&self) -> String {
        format!("{}/{}", self.origin, self.api_version)
    }

    pub(crate) fn distro_link(&self) -> String {
        format!("{}/{}", self.api(), self.distro)
    }

    pub(crate) fn archive_link(&self) -> String {
        format!("{}/+archive/primary", self.distro_link())
    }

    pub(crate) fn series_link(&self, name: &str) -> String {
        format!("{}/{name}", self.distro_link())
    }

    pub(crate) fn person_link(&self, slug: &str) -> String {
        format!("{}/~{slug}", self.api())
    }

    pub(crate) fn publication_link(&self, id: u64) -> String {
        format!("{}/+sourcepub/{id}", self.archive_link())
    }

    /// Like `https://launchpad.net/<distro>/+archive/primary/+sourcefiles/<n>/<v>/<file>`.
    pub(crate) fn sourcefile_url(&self, name: &str, version: &str, file: &str) -> String {
        format!(
            "{}/{}/+archive/primary/+sourcefiles/{}/{}/{}",
            self.origin,
            self.distro,
            path_segment(name),
            path_segment(version),
            path_segment(file)
        )
    }
}

/// A `source_package_publishing_history` entry.
#[derive(Debug, Serialize)]
pub(crate) struct PublicationJson {
    self_link: String,
    resource_type_link: String,
    display_name: String,
    component_name: &'static str,
    section_name: String,
    status: &'static str,
    distro_series_link: String,
    date_published: Option<String>,
    scheduled_deletion_date: Option<String>,
    pocket: &'static str,
    archive_link: String,
    copied_from_archive_link: Option<String>,
    date_superseded: Option<String>,
    date_created: String,
    date_made_pending: Option<String>,
    date_removed: Option<String>,
    removed_by_link: Option<String>,
    removal_comment: Option<String>,
    source_package_name: String,
    source_package_version: String,
    package_creator_link: String,
    package_maintainer_link: String,
    package_signer_link: Option<String>,
    creator_link: Option<String>,
    sponsor_link: Option<String>,
    packageupload_link: Option<String>,
    http_etag: String,
}

pub(crate) fn publication(base: &LinkBase, cat: &Catalogue, row: &Row) -> PublicationJson {
    let package = cat.package(row);
    let version = cat.version(row);
    let series = &cat.series[row.series as usize].name;
    let maintainer = base.person_link(&version.maintainer_slug);
    PublicationJson {
        self_link: base.publication_link(row.id),
        resource_type_link: format!("{}/#source_package_publishing_history", base.api()),
        display_name: format!("{} {} in {series}", package.name, version.version),
        component_name: "main",
        section_name: version.section.clone(),
        status: row.status.title(),
        distro_series_link: base.series_link(series),
        date_published: row.date_published.map(isoformat),
        scheduled_deletion_date: None,
        pocket: row.pocket.title(),
        archive_link: base.archive_link(),
        copied_from_archive_link: None,
        date_superseded: row.date_superseded.map(isoformat),
        date_created: isoformat(row.date_created),
        date_made_pending: None,
        date_removed: None,
        removed_by_link: None,
        removal_comment: None,
        source_package_name: package.name.clone(),
        source_package_version: version.version.clone(),
        package_creator_link: maintainer.clone(),
        package_maintainer_link: maintainer,
        package_signer_link: None,
        creator_link: None,
        sponsor_link: None,
        packageupload_link: None,
        http_etag: etag(&format!("{}/{}", row.id, row.status.title())),
    }
}

/// `"<40 hex>-<40 hex>"` as Launchpad's etags look, derived from `seed`.
pub(crate) fn etag(seed: &str) -> String {
    use sha1::{Digest, Sha1};
    let a = crate::archive::hex(&Sha1::digest(seed.as_bytes()));
    let b = crate::archive::hex(&Sha1::digest(format!("{seed}#").as_bytes()));
    format!("\"{a}-{b}\"")
}

/// One `distro_series` entry, with the devel field names.
#[derive(Debug, Serialize)]
pub(crate) struct SeriesJson {
    self_link: String,
    web_link: String,
    resource_type_link: String,
    active: bool,
    active_milestones_collection_link: String,
    advertise_by_hash: bool,
    all_milestones_collection_link: String,
    all_specifications_collection_link: String,
    architectures_collection_link: String,
    backports_not_automatic: bool,
    bug_reported_acknowledgement: Option<String>,
    bug_reporting_guidelines: Option<String>,
    changeslist: Option<String>,
    component_names: Vec<&'static str>,
    content_templates: Option<String>,
    date_created: String,
    datereleased: Option<String>,
    description: String,
    displayname: String,
    distribution_link: String,
    driver_link: Option<String>,
    drivers_collection_link: String,
    fullseriesname: String,
    include_long_descriptions: bool,
    index_compressors: Vec<&'static str>,
    language_pack_full_export_requested: bool,
    main_archive_link: String,
    name: String,
    nominatedarchindep_link: Option<String>,
    official_bug_tags: Vec<String>,
    owner_link: String,
    previous_series_link: Option<String>,
    proposed_not_automatic: bool,
    publish_by_hash: bool,
    publish_i18n_index: bool,
    registrant_link: String,
    status: &'static str,
    strict_supported_component_dependencies: bool,
    suite_names: Vec<&'static str>,
    summary: String,
    supported: bool,
    title: String,
    translations_usage: &'static str,
    valid_specifications_collection_link: String,
    version: Option<String>,
    http_etag: String,
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().collect::<String>() + chars.as_str()
    })
}

pub(crate) fn series(base: &LinkBase, cat: &Catalogue, index: usize) -> SeriesJson {
    let s = &cat.series[index];
    let link = base.series_link(&s.name);
    let display = capitalise(&s.name);
    let distro_display = capitalise(&base.distro);
    // The next older series of the same distribution.
    let previous = cat
        .series
        .get(index + 1)
        .filter(|p| p.distro == s.distro)
        .map(|p| base.series_link(&p.name));
    let component_names = if base.distro == "ubuntu" {
        vec!["main", "restricted", "universe", "multiverse"]
    } else {
        vec!["main", "contrib", "non-free", "non-free-firmware"]
    };
    SeriesJson {
        web_link: format!("{}/{}/{}", base.origin, base.distro, s.name),
        resource_type_link: format!("{}/#distro_series", base.api()),
        active: s.active(),
        active_milestones_collection_link: format!("{link}/active_milestones"),
        advertise_by_hash: true,
        all_milestones_collection_link: format!("{link}/all_milestones"),
        all_specifications_collection_link: format!("{link}/all_specifications"),
        architectures_collection_link: format!("{link}/architectures"),
        backports_not_automatic: true,
        bug_reported_acknowledgement: None,
        bug_reporting_guidelines: None,
        changeslist: None,
        component_names,
        content_templates: None,
        date_created: "2006-01-01T00:00:00+00:00".into(),
        datereleased: None,
        description: format!("{distro_display} {display}."),
        displayname: display.clone(),
        distribution_link: base.distro_link(),
        driver_link: None,
        drivers_collection_link: format!("{link}/drivers"),
        fullseriesname: format!("{distro_display} {display}"),
        include_long_descriptions: true,
        index_compressors: vec!["gzip", "xz"],
        language_pack_full_export_requested: false,
        main_archive_link: base.archive_link(),
        name: s.name.clone(),
        nominatedarchindep_link: None,
        official_bug_tags: Vec::new(),
        owner_link: base.person_link("example-release-team"),
        previous_series_link: previous,
        proposed_not_automatic: false,
        publish_by_hash: true,
        publish_i18n_index: true,
        registrant_link: base.person_link("example-release-team"),
        status: s.status,
        strict_supported_component_dependencies: true,
        suite_names: vec!["Release", "Security", "Updates", "Proposed", "Backports"],
        summary: format!("{distro_display} {display}."),
        supported: s.supported(),
        title: format!("The {display} series"),
        translations_usage: "Unknown",
        valid_specifications_collection_link: format!("{link}/valid_specifications"),
        version: s.version.clone(),
        http_etag: etag(&link),
        self_link: link,
    }
}

/// A page of a collection, keys in Launchpad's order.
#[derive(Debug, Serialize)]
pub(crate) struct PageJson<T> {
    pub(crate) start: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) total_size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) total_size_link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_collection_link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) prev_collection_link: Option<String>,
    pub(crate) entries: Vec<T>,
    /// Only scoped collections (`/<distro>/series`) carry it, after the entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) resource_type_link: Option<String>,
}

/// `next_collection_link` and `prev_collection_link` per lazr.batchnavigator:
/// `<url>?<sorted non-paging params>&ws.size=N[&direction=backwards]&memo=M[&ws.start=S]`.
pub(crate) fn page_links(
    url_without_query: &str,
    stem: &str,
    start: usize,
    size: usize,
    returned: usize,
    more: bool,
) -> (Option<String>, Option<String>) {
    let prefix = if stem.is_empty() {
        format!("{url_without_query}?")
    } else {
        format!("{url_without_query}?{stem}&")
    };
    let next = more.then(|| {
        let at = start + returned;
        format!("{prefix}ws.size={size}&memo={at}&ws.start={at}")
    });
    let prev = (start > 0).then(|| {
        let back = start.saturating_sub(size);
        let mut link = format!("{prefix}ws.size={size}&direction=backwards&memo={start}");
        if back > 0 {
            link.push_str(&format!("&ws.start={back}"));
        }
        link
    });
    (next, prev)
}

/// The `sourceFileUrls` of one publication: `(url, size, sha256)` per file, `.dsc` first.
pub(crate) fn source_files(
    base: &LinkBase,
    cat: &Catalogue,
    row: &Row,
) -> Vec<(String, u64, String)> {
    let package = cat.package(row);
    let version = cat.version(row);
    let url = |file: &str| base.sourcefile_url(&package.name, &version.version, file);
    match &version.files {
        Files::Disk(files) => files
            .iter()
            .map(|f| (url(&f.name), f.size, f.sha256.clone()))
            .collect(),
        Files::Synthetic { j, v } => {
            let Some(spec) = cat.synthetic_spec() else {
                return Vec::new();
            };
            let series = crate::synthetic::home_series_name(spec, *j);
            let generated = crate::synthetic::generate(spec, *j, *v, &series);
            let sha = |b: &[u8]| {
                use sha2::{Digest, Sha256};
                crate::archive::hex(&Sha256::digest(b))
            };
            vec![
                (
                    url(&generated.dsc_name),
                    generated.dsc.len() as u64,
                    sha(&generated.dsc),
                ),
                (
                    url(&generated.tar_name),
                    generated.tar.len() as u64,
                    sha(&generated.tar),
                ),
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_match_launchpads() {
        let stem = "created_since_date=%222025-10-01T00%3A00%3A00%2B00%3A00%22&exact_match=true&order_by_date=true&source_name=%22hello%22&ws.op=getPublishedSources";
        let url = "https://api.launchpad.net/devel/ubuntu/+archive/primary";
        let (next, prev) = page_links(url, stem, 0, 2, 2, true);
        assert_eq!(
            next.unwrap(),
            format!("{url}?{stem}&ws.size=2&memo=2&ws.start=2")
        );
        assert_eq!(prev, None);
        let (next, prev) = page_links(url, stem, 2, 2, 1, false);
        assert_eq!(next, None);
        assert_eq!(
            prev.unwrap(),
            format!("{url}?{stem}&ws.size=2&direction=backwards&memo=2")
        );
        // Page 2 of 3 with 75 per page.
        let (next, prev) = page_links("u", "a=b", 75, 75, 75, true);
        assert_eq!(next.unwrap(), "u?a=b&ws.size=75&memo=150&ws.start=150");
        assert_eq!(
            prev.unwrap(),
            "u?a=b&ws.size=75&direction=backwards&memo=75"
        );
        let (_, prev) = page_links("u", "", 150, 75, 1, false);
        assert_eq!(
            prev.unwrap(),
            "u?ws.size=75&direction=backwards&memo=150&ws.start=75"
        );
    }

    #[test]
    fn page_keys_are_in_launchpads_order() {
        let page = PageJson::<u8> {
            start: 0,
            total_size: None,
            total_size_link: Some("t".into()),
            next_collection_link: Some("n".into()),
            prev_collection_link: None,
            entries: vec![],
            resource_type_link: None,
        };
        assert_eq!(
            serde_json::to_string(&page).unwrap(),
            r#"{"start":0,"total_size_link":"t","next_collection_link":"n","entries":[]}"#
        );
    }

    #[test]
    fn etags_look_real() {
        let e = etag("x");
        assert_eq!(e.len(), 83);
        assert!(e.starts_with('"') && e.ends_with('"'));
    }
}
