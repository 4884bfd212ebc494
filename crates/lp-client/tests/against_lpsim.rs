//! Integration tests of the Launchpad client against an in-process lp-sim on 127.0.0.1.
//!
//! Each test starts its own simulator on port 0 over a temporary copy of the Debian
//! fixture archive (so publishing into it cannot leak between tests) and a client whose
//! sleeper only records the delays it is asked for: retries are exercised for real, but
//! no test waits for a backoff.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pkgimport_lp_client::{
    Client, ClientSettings, Credentials, Error, Pocket, PublicationOrder, PublicationStatus,
    PublishedSourcesQuery, Sleeper,
};
use pkgimport_lp_sim::{
    FaultMode, FaultSettings, Publish, Sim, SimConfig, SimHandle, SimSource, SyntheticSpec,
};

/// The project's Debian fixture archive.
fn fixture_archive() -> PathBuf {
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/archive");
    assert!(
        local.join("manifest.json").exists(),
        "no fixture archive at {}",
        local.display()
    );
    local
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            let mut perms = std::fs::metadata(&target).unwrap().permissions();
            #[expect(
                clippy::permissions_set_readonly_false,
                reason = "test copies of read-only fixtures"
            )]
            perms.set_readonly(false);
            std::fs::set_permissions(&target, perms).unwrap();
        }
    }
}

struct Env {
    _dir: tempfile::TempDir,
    archive: PathBuf,
    sim: SimHandle,
    sleeps: Arc<Recorder>,
}

#[derive(Default)]
struct Recorder {
    delays: Mutex<Vec<Duration>>,
}

impl Sleeper for Recorder {
    fn sleep(&self, delay: Duration) {
        self.delays.lock().unwrap().push(delay);
    }
}

impl Recorder {
    fn delays(&self) -> Vec<Duration> {
        self.delays.lock().unwrap().clone()
    }
}

fn start(source: Option<SimSource>) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    copy_dir(&fixture_archive(), &archive);
    let sim = Sim::start(SimConfig {
        source: source.unwrap_or_else(|| SimSource::Archive(archive.clone())),
        distribution: "debian".into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        seed: 42,
        threads: 4,
    })
    .unwrap();
    Env {
        _dir: dir,
        archive,
        sim,
        sleeps: Arc::new(Recorder::default()),
    }
}

fn settings(api_root: String, page_size: u32, max_attempts: u32) -> ClientSettings {
    ClientSettings {
        api_root,
        page_size,
        max_attempts,
        backoff_base: Duration::from_secs(1),
        backoff_cap: Duration::from_secs(30),
        retry_after_cap: Duration::from_secs(60),
        request_timeout: Duration::from_secs(10),
        consumer_name: "package-importer-tests".into(),
        credentials: None,
        download_hosts: Vec::new(),
    }
}

impl Env {
    fn client(&self, page_size: u32, max_attempts: u32) -> Client {
        Client::new(settings(self.sim.api_root(), page_size, max_attempts))
            .unwrap()
            .with_sleeper(self.sleeps.clone())
            .with_jitter_seed(7)
    }

    fn faults(&self, mode: FaultMode, f: impl FnOnce(&mut FaultSettings)) {
        let mut s = FaultSettings {
            mode,
            ..FaultSettings::default()
        };
        f(&mut s);
        pkgimport_testkit::sim::set_faults(&self.sim.base_url(), &s);
    }
}

/// (name, version, series, pocket) for every Debian suite (a bare one; the others are
/// `<distribution>/<suite>`) of every version in the manifest.
fn manifest_history(archive: &Path) -> BTreeSet<(String, String, String, String)> {
    let text = std::fs::read_to_string(archive.join("manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out = BTreeSet::new();
    for (package, versions) in manifest.as_object().unwrap() {
        for (version, entry) in versions.as_object().unwrap() {
            for suite in entry["suites"].as_array().unwrap() {
                let suite = suite.as_str().unwrap();
                if suite.contains('/') {
                    continue;
                }
                let (series, pocket) = match suite.split_once('-') {
                    Some((s, p)) => (s, format!("{}{}", p[..1].to_uppercase(), &p[1..])),
                    None => (suite, "Release".to_owned()),
                };
                out.insert((package.clone(), version.clone(), series.to_owned(), pocket));
            }
        }
    }
    out
}

fn key(p: &pkgimport_lp_client::Publication) -> (String, String, String, String) {
    (
        p.source_package_name.clone(),
        p.source_package_version.clone(),
        p.series_name().to_owned(),
        p.pocket.to_string(),
    )
}

#[test]
fn paging_across_pages_gives_exactly_the_fixture_history() {
    let env = start(None);
    let client = env.client(4, 3);
    let query = PublishedSourcesQuery {
        order: PublicationOrder::NewestFirst,
        ..PublishedSourcesQuery::default()
    };
    let all: Vec<_> = client
        .published_sources("debian", &query)
        .collect::<Result<_, _>>()
        .unwrap();
    let expected = manifest_history(&env.archive);
    assert_eq!(expected.len(), 25);
    assert_eq!(all.len(), expected.len(), "no duplicates, nothing missing");
    let got: BTreeSet<_> = all.iter().map(key).collect();
    assert_eq!(got, expected);
    // Newest first, and every self_link distinct.
    assert!(
        all.windows(2)
            .all(|w| w[0].date_created >= w[1].date_created)
    );
    let links: BTreeSet<_> = all.iter().map(|p| p.self_link.clone()).collect();
    assert_eq!(links.len(), all.len());
    // 25 entries at 4 per page: 7 pages, one request each.
    let stats = client.stats();
    assert_eq!((stats.pages, stats.requests, stats.retries), (7, 7, 0));
    assert_eq!(env.sim.stats().count("getPublishedSources", 200), 7);
    // Oldest first is the same history reversed.
    let asc: Vec<_> = client
        .published_sources(
            "debian",
            &PublishedSourcesQuery {
                order: PublicationOrder::OldestFirst,
                ..PublishedSourcesQuery::default()
            },
        )
        .collect::<Result<_, _>>()
        .unwrap();
    let mut reversed = all.clone();
    reversed.reverse();
    assert_eq!(asc, reversed);
}

#[test]
fn partitions_by_series_cover_the_history_once() {
    let env = start(None);
    let client = env.client(300, 3);
    let series = client.distro_series("debian").unwrap();
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["sid", "trixie", "bookworm", "bullseye"]);
    let mut total = 0;
    for s in &series {
        let query = PublishedSourcesQuery {
            distro_series: Some(s.self_link.clone()),
            order: PublicationOrder::OldestFirst,
            ..PublishedSourcesQuery::default()
        };
        for p in client.published_sources("debian", &query) {
            let p = p.unwrap();
            assert_eq!(p.distro_series_link, s.self_link);
            total += 1;
        }
    }
    assert_eq!(total, 25);
    // Pocket and status filters.
    let security: Vec<_> = client
        .published_sources(
            "debian",
            &PublishedSourcesQuery {
                pocket: Some(Pocket::Security),
                ..PublishedSourcesQuery::default()
            },
        )
        .map(|p| key(&p.unwrap()))
        .collect();
    assert_eq!(security.len(), 2);
    assert!(security.iter().all(|k| k.3 == "Security"));
    let published = client
        .published_sources(
            "debian",
            &PublishedSourcesQuery {
                status: Some(PublicationStatus::Published),
                source_name: Some("golang-golang-x-term".into()),
                exact_match: true,
                ..PublishedSourcesQuery::default()
            },
        )
        .count();
    // One live version per (series, pocket): sid, trixie, bookworm, bookworm-security,
    // bullseye, bullseye-security.
    assert_eq!(published, 6);
}

#[test]
fn exact_match_semantics() {
    let env = start(None);
    let client = env.client(300, 1);
    let count = |name: &str, exact: bool| {
        client
            .published_sources(
                "debian",
                &PublishedSourcesQuery {
                    source_name: Some(name.into()),
                    exact_match: exact,
                    ..PublishedSourcesQuery::default()
                },
            )
            .try_fold(0, |n, p| p.map(|_| n + 1))
            .unwrap()
    };
    assert_eq!(count("golang-golang-x-term", true), 8);
    assert_eq!(count("term", true), 0);
    assert_eq!(count("term", false), 8);
    // Substring: "ss" is only in libssh; "l" is in many.
    assert_eq!(count("ss", false), 4);
    assert!(count("l", false) > 15);
    assert_eq!(count("libssh", true), 4);
    // Default order: name, then dpkg version descending.
    let versions: Vec<String> = client
        .published_sources(
            "debian",
            &PublishedSourcesQuery {
                source_name: Some("libcap2".into()),
                exact_match: true,
                ..PublishedSourcesQuery::default()
            },
        )
        .map(|p| p.unwrap().source_package_version)
        .collect();
    assert_eq!(versions, ["1:2.78-1", "1:2.66-4+deb12u3"]);
}

#[test]
fn created_since_date_is_inclusive() {
    let env = start(None);
    let client = env.client(5, 1);
    let asc: Vec<_> = client
        .published_sources(
            "debian",
            &PublishedSourcesQuery {
                order: PublicationOrder::OldestFirst,
                ..PublishedSourcesQuery::default()
            },
        )
        .map(|p| p.unwrap())
        .collect();
    let since = asc[10].date_created.clone();
    let newer: Vec<_> = client
        .published_sources(
            "debian",
            &PublishedSourcesQuery {
                created_since_date: Some(since.utc()),
                order: PublicationOrder::OldestFirst,
                ..PublishedSourcesQuery::default()
            },
        )
        .map(|p| p.unwrap())
        .collect();
    assert_eq!(newer, asc[10..]);
}

#[test]
fn wire_format_of_pages_matches_launchpad() {
    let env = start(None);
    let client = env.client(10, 1);
    let root = env.sim.api_root();
    let url = format!(
        "{root}debian/+archive/primary?exact_match=true&order_by_date=true&source_name=%22golang-golang-x-term%22&ws.op=getPublishedSources&ws.size=3"
    );
    let page1: serde_json::Value = client.get_json(&url).unwrap();
    let stem = format!(
        "{root}debian/+archive/primary?exact_match=true&order_by_date=true&source_name=%22golang-golang-x-term%22&ws.op=getPublishedSources"
    );
    assert_eq!(page1["start"], 0);
    assert_eq!(
        page1["total_size_link"],
        format!("{stem}&ws.show=total_size")
    );
    assert!(page1.get("total_size").is_none());
    assert_eq!(
        page1["next_collection_link"],
        format!("{stem}&ws.size=3&memo=3&ws.start=3")
    );
    assert!(page1.get("prev_collection_link").is_none());
    let total: u64 = client
        .get_json(page1["total_size_link"].as_str().unwrap())
        .unwrap();
    assert_eq!(total, 8);
    let page3: serde_json::Value = client
        .get_json(&format!("{stem}&ws.size=3&memo=6&ws.start=6"))
        .unwrap();
    assert_eq!(page3["start"], 6);
    assert_eq!(page3["total_size"], 8);
    assert!(page3.get("next_collection_link").is_none());
    assert_eq!(
        page3["prev_collection_link"],
        format!("{stem}&ws.size=3&direction=backwards&memo=6&ws.start=3")
    );
    // The memo decides the slice; ws.start is cosmetic.
    let memo: serde_json::Value = client
        .get_json(&format!("{stem}&ws.size=3&memo=6&ws.start=0"))
        .unwrap();
    assert_eq!(memo["entries"], page3["entries"]);
    // Series collection: inline total_size and a trailing resource_type_link.
    let series: serde_json::Value = client.get_json(&format!("{root}debian/series")).unwrap();
    assert_eq!(series["total_size"], 4);
    assert_eq!(
        series["resource_type_link"],
        format!("{root}#distro_series-page-resource")
    );
    // An entry has the real field names.
    let entry = &page1["entries"][0];
    for field in [
        "self_link",
        "resource_type_link",
        "display_name",
        "component_name",
        "section_name",
        "status",
        "distro_series_link",
        "date_published",
        "pocket",
        "archive_link",
        "date_created",
        "source_package_name",
        "source_package_version",
        "http_etag",
    ] {
        assert!(entry.get(field).is_some(), "missing {field}");
    }
}

#[test]
fn flaky_mode_succeeds_within_the_attempt_bound() {
    let env = start(None);
    env.faults(FaultMode::Flaky, |f| {
        f.error_rate = Some(0.3);
        f.status = Some(502);
    });
    let max_attempts = 8;
    let client = env.client(2, max_attempts);
    let all: Vec<_> = client
        .published_sources("debian", &PublishedSourcesQuery::default())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(all.len(), 25);
    let stats = client.stats();
    assert_eq!(stats.pages, 13);
    assert!(
        stats.retries > 0,
        "a 30% error rate over 13 pages should cause retries"
    );
    assert!(stats.requests <= stats.pages * u64::from(max_attempts));
    assert_eq!(stats.requests, stats.pages + stats.retries);
    let sim = env.sim.stats();
    assert_eq!(sim.count("getPublishedSources", 502), stats.retries);
    assert_eq!(sim.count("getPublishedSources", 200), stats.pages);
    // Every delay respected full jitter: at most the capped exponential ceiling.
    assert_eq!(env.sleeps.delays().len() as u64, stats.retries);
    assert!(
        env.sleeps
            .delays()
            .iter()
            .all(|d| *d <= Duration::from_secs(30))
    );
}

#[test]
fn retry_after_is_honoured_up_to_its_cap() {
    let env = start(None);
    env.faults(FaultMode::Flaky, |f| {
        f.error_rate = Some(1.0);
        f.status = Some(503);
        f.retry_after = Some(7);
    });
    let client = env.client(75, 3);
    let err = client.distro_series("debian").unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unavailable {
                status: Some(503),
                attempts: 3,
                ..
            }
        ),
        "{err}"
    );
    // Full jitter would give at most 1 s then 2 s; Retry-After: 7 raises both.
    assert_eq!(env.sleeps.delays(), [Duration::from_secs(7); 2]);

    // A Retry-After beyond the cap (Launchpad's static 900) is clamped.
    env.faults(FaultMode::Flaky, |f| {
        f.error_rate = Some(1.0);
        f.status = Some(429);
        f.retry_after = Some(900);
    });
    let recorder = Arc::new(Recorder::default());
    let client = Client::new(ClientSettings {
        retry_after_cap: Duration::from_secs(60),
        ..settings(env.sim.api_root(), 75, 2)
    })
    .unwrap()
    .with_sleeper(recorder.clone());
    let err = client.distro_series("debian").unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert_eq!(recorder.delays(), [Duration::from_secs(60)]);
}

#[test]
fn down_mode_gives_unavailable_in_bounded_time() {
    let env = start(None);
    env.faults(FaultMode::Down, |_| {});
    let client = env.client(75, 5);
    let started = Instant::now();
    let err = client
        .published_sources("debian", &PublishedSourcesQuery::default())
        .next()
        .unwrap()
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    match &err {
        Error::Unavailable {
            status,
            attempts,
            message,
            oops_id,
            ..
        } => {
            assert_eq!(*status, Some(503));
            assert_eq!(*attempts, 5);
            assert_eq!(message, "Launchpad is offline for maintenance");
            assert_eq!(*oops_id, None);
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(err.is_transient());
    let delays = env.sleeps.delays();
    assert_eq!(delays.len(), 4);
    let total: Duration = delays.iter().sum();
    assert!(total <= client.settings().backoff_policy().worst_case_total_delay());
    // Every attempt reached the simulator and got its maintenance page.
    assert_eq!(env.sim.stats().count("getPublishedSources", 503), 5);
    // And healing the simulator heals the client.
    env.faults(FaultMode::Ok, |_| {});
    assert_eq!(client.distro_series("debian").unwrap().len(), 4);
}

#[test]
fn client_errors_are_not_retried() {
    let env = start(None);
    let client = env.client(75, 5);
    let root = env.sim.api_root();
    let err = client
        .get_json::<serde_json::Value>(&format!("{root}debian/nosuchseries"))
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert!(!err.is_transient());
    // A web URL for the series is a 400 from Launchpad: our bug, not retried.
    let err = client
        .published_sources(
            "debian",
            &PublishedSourcesQuery {
                distro_series: Some("https://launchpad.net/debian/sid".into()),
                ..PublishedSourcesQuery::default()
            },
        )
        .next()
        .unwrap()
        .unwrap_err();
    match &err {
        Error::Other {
            status: Some(400),
            message,
            ..
        } => assert_eq!(
            message,
            "distro_series: No such object \"https://launchpad.net/debian/sid\"."
        ),
        other => panic!("expected a 400, got {other:?}"),
    }
    let err = client
        .get_json::<serde_json::Value>(&format!(
            "{root}debian/+archive/primary?ws.op=getPublishedSources&ws.size=301"
        ))
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(
        err.to_string()
            .contains("Maximum for \"ws.size\" parameter is 300.")
    );
    assert_eq!(client.stats().requests, 3);
    assert_eq!(client.stats().retries, 0);
    assert!(env.sleeps.delays().is_empty());
    // A 500 OOPS is not retried either, but carries its OOPS id.
    env.faults(FaultMode::Flaky, |f| {
        f.error_rate = Some(1.0);
        f.status = Some(500);
    });
    let err = client.distro_series("debian").unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert!(
        err.oops_id().is_some_and(|o| o.starts_with("OOPS-")),
        "{err:?}"
    );
    assert_eq!(client.stats().requests, 4);
}

#[test]
fn a_next_collection_link_to_another_host_is_refused() {
    let env = start(None);
    env.faults(FaultMode::ForeignNextLink, |_| {});
    let client = env.client(4, 3);
    let results: Vec<_> = client
        .published_sources("debian", &PublishedSourcesQuery::default())
        .collect();
    assert_eq!(results.len(), 1, "refused at the first page, then stopped");
    let err = results.into_iter().next().unwrap().unwrap_err();
    assert!(
        matches!(err, Error::BadResponse { status: 200, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("lp-sim-elsewhere.invalid"),
        "{err}"
    );
    assert_eq!(env.sim.stats().total, 1);
}

#[test]
fn mangled_answers_are_bad_responses_not_retried() {
    let env = start(None);
    let client = env.client(4, 3);
    let first_page = |client: &Client| {
        client
            .published_sources("debian", &PublishedSourcesQuery::default())
            .next()
            .unwrap()
            .unwrap_err()
    };
    env.faults(FaultMode::TruncatedJson, |_| {});
    let err = first_page(&client);
    assert!(matches!(err, Error::BadResponse { .. }), "{err}");
    assert!(err.to_string().contains("malformed JSON"), "{err}");

    env.faults(FaultMode::HtmlBody, |_| {});
    let err = first_page(&client);
    assert!(
        err.to_string().contains(
            "expected application/json, got text/html: Launchpad is offline for maintenance"
        ),
        "{err}"
    );

    env.faults(FaultMode::WrongContentType, |_| {});
    let err = first_page(&client);
    assert!(err.to_string().contains("got text/plain"), "{err}");
    assert_eq!(client.stats().requests, 3);
    assert_eq!(client.stats().retries, 0);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn source_files_download_through_the_librarian_redirect() {
    let env = start(None);
    let client = env.client(75, 3);
    let publication = client
        .published_sources(
            "debian",
            &PublishedSourcesQuery {
                source_name: Some("hello".into()),
                exact_match: true,
                version: Some("2.10-3".into()),
                ..PublishedSourcesQuery::default()
            },
        )
        .next()
        .unwrap()
        .unwrap();
    let files: Vec<_> = client
        .source_files(&publication.self_link)
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect();
    let names: Vec<String> = files.iter().map(|f| f.filename()).collect();
    assert_eq!(
        names,
        [
            "hello_2.10-3.dsc",
            "hello_2.10.orig.tar.gz",
            "hello_2.10.orig.tar.gz.asc",
            "hello_2.10-3.debian.tar.xz"
        ]
    );
    let out = tempfile::tempdir().unwrap();
    for file in &files {
        let dest = out.path().join(file.filename());
        let got = client.download_verified(file, &dest).unwrap();
        let original = std::fs::read(env.archive.join("hello").join(file.filename())).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), original);
        assert_eq!(got.sha256, sha256_hex(&original));
        assert!(
            !out.path()
                .join(format!("{}.part", file.filename()))
                .exists()
        );
    }
    let stats = env.sim.stats();
    assert_eq!(stats.count("sourcefiles", 303), 4);
    assert_eq!(stats.count("librarian", 200), 4);
    assert_eq!(client.stats().downloads, 4);

    // A corrupted file on disk no longer matches Launchpad's metadata.
    let debian_tar = env.archive.join("hello/hello_2.10-3.debian.tar.xz");
    std::fs::write(&debian_tar, b"tampered").unwrap();
    let dest = out.path().join("again.tar.xz");
    let err = client.download_verified(&files[3], &dest).unwrap_err();
    assert!(matches!(err, Error::DownloadMismatch { .. }), "{err}");
    assert!(!dest.exists());
}

#[test]
fn published_versions_appear_and_unpublished_ones_do_not() {
    let env = start(None);
    // A version on disk that the manifest does not list: hello 2.10-4, reusing 2.10-3's
    // files under a new .dsc.
    let hello = env.archive.join("hello");
    let dsc = std::fs::read_to_string(hello.join("hello_2.10-3.dsc")).unwrap();
    std::fs::write(
        hello.join("hello_2.10-4.dsc"),
        dsc.replace("Version: 2.10-3", "Version: 2.10-4"),
    )
    .unwrap();
    let client = env.client(75, 1);
    let hello_versions = |client: &Client| -> Vec<(String, PublicationStatus, String)> {
        client
            .published_sources(
                "debian",
                &PublishedSourcesQuery {
                    source_name: Some("hello".into()),
                    exact_match: true,
                    order: PublicationOrder::NewestFirst,
                    ..PublishedSourcesQuery::default()
                },
            )
            .map(|p| {
                let p = p.unwrap();
                let series = p.series_name().to_owned();
                (p.source_package_version, p.status, series)
            })
            .collect()
    };
    assert!(!hello_versions(&client).iter().any(|v| v.0 == "2.10-4"));
    let link = env
        .sim
        .publish(&Publish {
            distribution: None,
            package: "hello".into(),
            version: "2.10-4".into(),
            suite: "sid".into(),
            date_created: None,
            published: false,
        })
        .unwrap();
    assert!(link.starts_with(&env.sim.api_root()));
    let now = hello_versions(&client);
    assert_eq!(
        now[0],
        ("2.10-4".into(), PublicationStatus::Pending, "sid".into())
    );
    // Over HTTP, as the binaries will do it; a version with no files is a 404.
    let publish_url = format!("{}/_sim/publish", env.sim.base_url());
    let resp = ureq::post(&publish_url)
        .config()
        .http_status_as_error(false)
        .build()
        .send(r#"{"package":"hello","version":"9.9-1","suite":"sid"}"#)
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let resp = ureq::post(&publish_url)
        .send(r#"{"package":"hello","version":"2.10-3","suite":"sid-proposed","date_created":"2000-01-01T00:00:00Z"}"#)
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let backdated = hello_versions(&client);
    let last = backdated.last().unwrap();
    assert_eq!(last.0, "2.10-3");
    assert_eq!(last.2, "sid");
}

#[test]
fn credentials_file_mode_is_checked_and_secrets_never_shown() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lp-credentials");
    std::fs::write(
        &path,
        "[1]\nconsumer_key = package-importer\nconsumer_secret = \naccess_token = TOKEN-abc123\naccess_secret = SECRET-xyz789\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = Credentials::load(&path).unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err}");
    assert!(err.to_string().contains("0644"), "{err}");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let creds = Credentials::load(&path).unwrap();
    let env = start(None);
    let client = Client::new(ClientSettings {
        credentials: Some(creds),
        ..settings(env.sim.api_root(), 75, 1)
    })
    .unwrap();
    // Authenticated requests work against the simulator.
    assert_eq!(client.distro_series("debian").unwrap().len(), 4);
    for shown in [
        format!("{:?}", client.settings()),
        format!("{client:?}"),
        format!("{:#?}", client.settings().credentials),
    ] {
        assert!(!shown.contains("TOKEN-abc123"), "{shown}");
        assert!(!shown.contains("SECRET-xyz789"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}

#[test]
fn settings_are_validated() {
    let bad = |s: ClientSettings| matches!(Client::new(s), Err(Error::Config { .. }));
    let good = settings("http://127.0.0.1:1/devel/".into(), 300, 1);
    assert!(Client::new(good.clone()).is_ok());
    assert!(bad(ClientSettings {
        page_size: 301,
        ..good.clone()
    }));
    assert!(bad(ClientSettings {
        page_size: 0,
        ..good.clone()
    }));
    assert!(bad(ClientSettings {
        max_attempts: 0,
        ..good.clone()
    }));
    assert!(bad(ClientSettings {
        api_root: "http://127.0.0.1:1/devel".into(),
        ..good.clone()
    }));
    assert!(bad(ClientSettings {
        api_root: "ftp://x/devel/".into(),
        ..good
    }));
}

#[test]
fn connection_refused_is_unavailable() {
    // Bind then drop a listener to find a port nobody is listening on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let recorder = Arc::new(Recorder::default());
    let client = Client::new(settings(format!("http://127.0.0.1:{port}/devel/"), 75, 3))
        .unwrap()
        .with_sleeper(recorder.clone());
    let err = client.distro_series("debian").unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unavailable {
                status: None,
                attempts: 3,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(recorder.delays().len(), 2);
}

#[test]
#[expect(
    clippy::disallowed_methods,
    reason = "tests gate the slow 100,000-publication run on PKGIMPORT_SLOW_TESTS"
)]
#[expect(
    clippy::print_stderr,
    reason = "the throughput line is the benchmark's output"
)]
fn synthetic_history_pages_fast_and_its_packages_are_real() {
    let packages: u32 = if std::env::var_os("PKGIMPORT_SLOW_TESTS").is_some() {
        100_000
    } else {
        20_000
    };
    let env = start(Some(SimSource::Synthetic(SyntheticSpec {
        packages,
        series: 10,
        versions: 1,
        distributions: Vec::new(),
    })));
    let client = env.client(300, 3);
    let series = client.distro_series("debian").unwrap();
    assert_eq!(series.len(), 10);
    let started = Instant::now();
    let mut count = 0u64;
    for s in &series {
        let mut last_date = None;
        let query = PublishedSourcesQuery {
            distro_series: Some(s.self_link.clone()),
            order: PublicationOrder::OldestFirst,
            ..PublishedSourcesQuery::default()
        };
        for p in client.published_sources("debian", &query) {
            let p = p.unwrap();
            assert_eq!(p.series_name(), s.name);
            if let Some(prev) = &last_date {
                assert!(p.date_created >= *prev, "oldest first");
            }
            last_date = Some(p.date_created);
            count += 1;
        }
    }
    assert_eq!(count, u64::from(packages));
    let elapsed = started.elapsed();
    let per_second = count as f64 / elapsed.as_secs_f64();
    eprintln!(
        "synthetic: {count} publications in {elapsed:?} ({per_second:.0}/s), {} pages",
        client.stats().pages
    );

    // A synthetic package downloads and verifies like a real one.
    let p = client
        .published_sources(
            "debian",
            &PublishedSourcesQuery {
                source_name: Some("synth-000123".into()),
                exact_match: true,
                ..PublishedSourcesQuery::default()
            },
        )
        .next()
        .unwrap()
        .unwrap();
    let files: Vec<_> = client
        .source_files(&p.self_link)
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(files.len(), 2);
    let out = tempfile::tempdir().unwrap();
    for f in &files {
        client
            .download_verified(f, &out.path().join(f.filename()))
            .unwrap();
    }
    let dsc = std::fs::read_to_string(out.path().join("synth-000123_1.0.dsc")).unwrap();
    let tar = std::fs::read(out.path().join("synth-000123_1.0.tar.gz")).unwrap();
    assert!(dsc.contains(&format!(
        " {} {} synth-000123_1.0.tar.gz\n",
        sha256_hex(&tar),
        tar.len()
    )));
}
