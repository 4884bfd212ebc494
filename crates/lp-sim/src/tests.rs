//! The simulator over HTTP: control endpoints, and several distributions in one archive.

use std::io::{Read, Write};

use super::*;

fn start(packages: u32, series: u16) -> SimHandle {
    Sim::start(SimConfig {
        source: SimSource::Synthetic(SyntheticSpec {
            packages,
            series,
            versions: 1,
            distributions: Vec::new(),
        }),
        distribution: "debian".into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        seed: 1,
        threads: 2,
    })
    .unwrap()
}

/// POSTs `body` to `path` and returns the status line and body of the answer.
fn post(sim: &SimHandle, path: &str, body: &str) -> String {
    let mut stream = std::net::TcpStream::connect(sim.addr()).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        sim.addr(),
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn open_series_over_http_and_through_the_handle() {
    let sim = start(6, 2);
    let answer = post(
        &sim,
        "/_sim/open-series",
        r#"{"distribution":"debian","series":"forky","copy_from":["sid"]}"#,
    );
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let body: serde_json::Value =
        serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body, serde_json::json!({"series": "forky", "copied": 3}));
    // The series exists now, so opening it again is refused; so is another distribution.
    let again = post(&sim, "/_sim/open-series", r#"{"series":"forky"}"#);
    assert!(again.starts_with("HTTP/1.1 400"), "{again}");
    let ubuntu = post(
        &sim,
        "/_sim/open-series",
        r#"{"distribution":"ubuntu","series":"noble"}"#,
    );
    assert!(ubuntu.starts_with("HTTP/1.1 400"), "{ubuntu}");

    let open = OpenSeries {
        distribution: None,
        series: "series7".into(),
        copy_from: Vec::new(),
        date_created: None,
    };
    assert_eq!(sim.open_series(&open).unwrap(), 6);
    assert!(matches!(
        sim.open_series(&open),
        Err(SimError::Refused { status: 400, .. })
    ));
    let cat = sim.shared.catalogue.read().unwrap();
    let names: Vec<&str> = cat.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["sid", "forky", "trixie", "series7"]);
    assert_eq!(cat.rows.len(), 6 + 3 + 6);
}

fn fixture_sim() -> SimHandle {
    Sim::start(SimConfig {
        source: SimSource::Archive(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/archive"),
        ),
        distribution: "debian".into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        seed: 1,
        threads: 2,
    })
    .unwrap()
}

/// GETs `path` and returns the status code, the `Location` header and the body.
fn get(sim: &SimHandle, path: &str) -> (u16, Option<String>, String) {
    let mut stream = std::net::TcpStream::connect(sim.addr()).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        sim.addr()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    let location = head
        .lines()
        .find_map(|l| l.strip_prefix("Location: "))
        .map(str::to_owned);
    (status, location, body.to_owned())
}

fn get_json(sim: &SimHandle, path: &str) -> serde_json::Value {
    let (status, _, body) = get(sim, path);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// `getPublishedSources` of `distro`'s archive with `params`, one page of up to 75.
fn published(sim: &SimHandle, distro: &str, params: &str) -> serde_json::Value {
    get_json(
        sim,
        &format!("/devel/{distro}/+archive/primary?ws.op=getPublishedSources{params}"),
    )
}

#[test]
fn one_archive_serves_debian_and_ubuntu() {
    let sim = fixture_sim();
    let root = sim.api_root();
    assert_eq!(sim.distributions(), ["debian", "ubuntu"]);
    let ubuntu = get_json(&sim, "/devel/ubuntu");
    assert_eq!(ubuntu["self_link"], format!("{root}ubuntu"));
    assert_eq!(
        ubuntu["main_archive_link"],
        format!("{root}ubuntu/+archive/primary")
    );
    assert_eq!(
        ubuntu["series_collection_link"],
        format!("{root}ubuntu/series")
    );
    assert_eq!(
        ubuntu["current_series_link"],
        format!("{root}ubuntu/resolute")
    );
    let debian = get_json(&sim, "/devel/debian");
    assert_eq!(debian["current_series_link"], format!("{root}debian/sid"));

    let series = get_json(&sim, "/devel/ubuntu/series");
    assert_eq!(series["total_size"], 5);
    let rows: Vec<String> = series["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {} {} active={} supported={}",
                s["name"].as_str().unwrap(),
                s["version"].as_str().unwrap(),
                s["status"].as_str().unwrap(),
                s["active"],
                s["supported"]
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            "resolute 26.04 Active Development active=true supported=false",
            "questing 25.10 Current Stable Release active=true supported=true",
            "plucky 25.04 Obsolete active=false supported=false",
            "noble 24.04 Supported active=true supported=true",
            "jammy 22.04 Supported active=true supported=true",
        ]
    );
    let jammy = get_json(&sim, "/devel/ubuntu/jammy");
    assert_eq!(jammy["distribution_link"], format!("{root}ubuntu"));
    assert_eq!(jammy["previous_series_link"], serde_json::Value::Null);
    assert_eq!(jammy["component_names"][2], "universe");
    assert_eq!(get(&sim, "/devel/debian/noble").0, 404);
    assert_eq!(get(&sim, "/devel/kali").0, 404);
    assert_eq!(get(&sim, "/devel/kali/+archive/primary").0, 404);

    let all = published(&sim, "ubuntu", "");
    assert_eq!(all["total_size"], 14);
    for entry in all["entries"].as_array().unwrap() {
        assert_eq!(
            entry["archive_link"],
            format!("{root}ubuntu/+archive/primary")
        );
        let series = entry["distro_series_link"].as_str().unwrap();
        assert!(series.starts_with(&format!("{root}ubuntu/")), "{series}");
    }
    assert_eq!(published(&sim, "debian", "")["total_size"], 25);
    // A series of another distribution is no error, and matches nothing.
    let sid = published(&sim, "ubuntu", &format!("&distro_series={root}debian/sid"));
    assert_eq!(sid["total_size"], 0);
    let (status, _, body) = get(
        &sim,
        "/devel/ubuntu/+archive/primary?ws.op=getPublishedSources&distro_series=/devel/kali/sid",
    );
    assert_eq!(status, 400, "{body}");
}

#[test]
fn a_version_in_two_distributions_has_two_publications_and_one_set_of_files() {
    let sim = fixture_sim();
    let hello = "&source_name=%22hello%22&exact_match=true&version=%222.12.3-1%22";
    let debian = published(&sim, "debian", hello);
    let ubuntu = published(&sim, "ubuntu", hello);
    let (d, u) = (&debian["entries"][0], &ubuntu["entries"][0]);
    assert_eq!(debian["total_size"], 1);
    assert_eq!(ubuntu["total_size"], 1);
    assert_ne!(d["self_link"], u["self_link"]);
    assert_ne!(d["date_created"], u["date_created"]);
    assert_eq!(u["date_created"], "2026-05-16T08:00:00+00:00");
    let path = |link: &serde_json::Value| {
        let link = link.as_str().unwrap();
        link[sim.base_url().len()..].to_owned()
    };
    // A publication is found under its own distribution only.
    assert_eq!(get(&sim, &path(&u["self_link"])).0, 200);
    let elsewhere = path(&u["self_link"]).replace("/ubuntu/", "/debian/");
    assert_eq!(get(&sim, &elsewhere).0, 404);
    let files = |entry: &serde_json::Value| -> Vec<String> {
        let urls = get_json(
            &sim,
            &format!("{}?ws.op=sourceFileUrls", path(&entry["self_link"])),
        );
        urls.as_array()
            .unwrap()
            .iter()
            .map(|u| u.as_str().unwrap().to_owned())
            .collect()
    };
    let (debian_files, ubuntu_files) = (files(d), files(u));
    assert_eq!(
        ubuntu_files[0],
        format!(
            "{}/ubuntu/+archive/primary/+sourcefiles/hello/2.12.3-1/hello_2.12.3-1.dsc",
            sim.base_url()
        )
    );
    assert_eq!(
        ubuntu_files,
        debian_files
            .iter()
            .map(|f| f.replace("/debian/", "/ubuntu/"))
            .collect::<Vec<_>>()
    );
    // Both redirect to the same file in the librarian, which serves it.
    let redirect = |url: &str| get(&sim, &url[sim.base_url().len()..]);
    let (status, from_ubuntu, _) = redirect(&ubuntu_files[0]);
    assert_eq!(status, 303);
    assert_eq!(redirect(&debian_files[0]).1, from_ubuntu);
    let (status, _, dsc) = redirect(&from_ubuntu.unwrap());
    assert_eq!(status, 200);
    assert!(dsc.contains("Version: 2.12.3-1\n"), "{dsc}");
    let stats = sim.stats();
    assert_eq!(stats.count("sourcefiles", 303), 2);
    assert!(stats.distribution_total("ubuntu") >= 4, "{stats:?}");
    assert!(stats.distribution_total("debian") >= 3, "{stats:?}");
}

#[test]
fn publish_and_open_series_name_their_distribution() {
    let sim = fixture_sim();
    let answer = post(
        &sim,
        "/_sim/publish",
        r#"{"distribution":"ubuntu","package":"hello","version":"2.12.3-1","suite":"noble-proposed","status":"Published","date_created":"2020-01-01T00:00:00Z"}"#,
    );
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let body: serde_json::Value =
        serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(
        body["distro_series_link"],
        format!("{}ubuntu/noble", sim.api_root())
    );
    assert_eq!(body["date_created"], "2020-01-01T00:00:00+00:00");
    let kali = post(
        &sim,
        "/_sim/publish",
        r#"{"distribution":"kali","package":"hello","version":"2.12.3-1","suite":"sid"}"#,
    );
    assert!(kali.starts_with("HTTP/1.1 400"), "{kali}");
    assert!(
        kali.contains("this lp-sim serves debian, ubuntu, not kali"),
        "{kali}"
    );
    // Through the handle, and without a distribution: the default one.
    let link = sim
        .publish(&Publish {
            distribution: Some("ubuntu".into()),
            package: "libcap2".into(),
            version: "1:2.78-1".into(),
            suite: "resolute".into(),
            date_created: None,
            published: true,
        })
        .unwrap();
    assert!(link.starts_with(&format!(
        "{}ubuntu/+archive/primary/+sourcepub/",
        sim.api_root()
    )));
    let link = sim
        .publish(&Publish {
            distribution: None,
            package: "hello".into(),
            version: "2.10-3ubuntu1".into(),
            suite: "experimental".into(),
            date_created: None,
            published: false,
        })
        .unwrap();
    assert!(link.starts_with(&format!("{}debian/", sim.api_root())));

    let answer = post(
        &sim,
        "/_sim/open-series",
        r#"{"distribution":"ubuntu","series":"mystic","copy_from":["questing"]}"#,
    );
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let body: serde_json::Value =
        serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body, serde_json::json!({"series": "mystic", "copied": 2}));
    let mystic = get_json(&sim, "/devel/ubuntu/mystic");
    assert_eq!(mystic["status"], "Active Development");
    let copied = sim
        .open_series(&OpenSeries {
            distribution: Some("ubuntu".into()),
            series: "sid".into(),
            copy_from: vec!["noble".into()],
            date_created: None,
        })
        .unwrap();
    // noble: hello 2.12.3-1 (published above, the highest), intel2gas.
    assert_eq!(copied, 2);
    assert!(matches!(
        sim.open_series(&OpenSeries {
            distribution: Some("kali".into()),
            series: "sid".into(),
            copy_from: Vec::new(),
            date_created: None,
        }),
        Err(SimError::Refused { status: 400, .. })
    ));
    // Debian's sid is untouched.
    assert_eq!(
        get_json(&sim, "/devel/debian/series")["total_size"],
        5,
        "sid, experimental (published above), trixie, bookworm, bullseye"
    );
}

#[test]
fn a_synthetic_history_in_two_distributions() {
    let sim = Sim::start(SimConfig {
        source: SimSource::Synthetic(SyntheticSpec {
            packages: 6,
            series: 2,
            versions: 2,
            distributions: vec!["debian".into(), "ubuntu".into()],
        }),
        distribution: "debian".into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        seed: 1,
        threads: 2,
    })
    .unwrap();
    let names = |distro: &str| -> Vec<String> {
        get_json(&sim, &format!("/devel/{distro}/series"))["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                format!(
                    "{} {}",
                    s["name"].as_str().unwrap(),
                    s["status"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        names("debian"),
        ["sid Active Development", "trixie Current Stable Release"]
    );
    assert_eq!(
        names("ubuntu"),
        [
            "resolute Active Development",
            "questing Current Stable Release"
        ]
    );
    for distro in ["debian", "ubuntu"] {
        let page = published(&sim, distro, "&status=%22Published%22");
        assert_eq!(page["total_size"], 6, "{distro}");
        let page = published(
            &sim,
            distro,
            "&source_name=%22synth-000003%22&exact_match=true",
        );
        let entries = page["entries"].as_array().unwrap();
        let got: Vec<String> = entries
            .iter()
            .map(|e| {
                let series = e["distro_series_link"].as_str().unwrap();
                format!(
                    "{} {}",
                    e["source_package_version"].as_str().unwrap(),
                    series.rsplit('/').next().unwrap()
                )
            })
            .collect();
        let home = if distro == "debian" {
            "trixie"
        } else {
            "questing"
        };
        assert_eq!(
            got,
            [format!("1.1 {home}"), format!("1.0 {home}")],
            "{distro}"
        );
    }
    // Ids and dates increase together over both distributions.
    let cat = sim.shared.catalogue.read().unwrap();
    assert_eq!(cat.rows.len(), 24);
    assert!(
        cat.rows
            .windows(2)
            .all(|w| w[0].id < w[1].id && w[0].date_created < w[1].date_created)
    );
}

#[test]
fn a_backdated_publication_of_a_distribution_is_listed_by_its_own_date() {
    let sim = fixture_sim();
    let root = sim.api_root();
    let since = |date: &str| {
        published(
            &sim,
            "ubuntu",
            &format!(
                "&distro_series=%22{root}ubuntu/noble%22&created_since_date=%22{date}%22&order_by_date_ascending=true"
            ),
        )
    };
    let before = since("2019-01-01T00:00:00Z")["total_size"]
        .as_u64()
        .unwrap();
    let link = sim
        .publish(&Publish {
            distribution: Some("ubuntu".into()),
            package: "hello".into(),
            version: "2.12.3-1".into(),
            suite: "noble-updates".into(),
            date_created: Some("2019-06-01T00:00:00Z".parse().unwrap()),
            published: false,
        })
        .unwrap();
    // Created now, dated in the past: listed by that date, not by when it appeared.
    let page = since("2019-01-01T00:00:00Z");
    assert_eq!(page["total_size"].as_u64().unwrap(), before + 1);
    assert_eq!(page["entries"][0]["self_link"], link);
    assert_eq!(
        page["entries"][0]["date_created"],
        "2019-06-01T00:00:00+00:00"
    );
    let after = since("2019-06-01T00:00:00.000001Z");
    assert_eq!(after["total_size"].as_u64().unwrap(), before);
}

#[test]
fn a_pending_publication_is_published_by_id() {
    let sim = fixture_sim();
    let publish = |version: &str| {
        sim.publish(&Publish {
            distribution: None,
            package: "hello".into(),
            version: version.into(),
            suite: "sid".into(),
            date_created: None,
            published: false,
        })
        .unwrap()
    };
    let old = publish("2.10-3");
    let new = publish("2.12.3-1");
    let id = |link: &str| -> u64 { link.rsplit('/').next().unwrap().parse().unwrap() };
    let status = |link: &str| {
        let path = link.strip_prefix(&sim.base_url()).unwrap();
        get_json(&sim, path)["status"].as_str().unwrap().to_owned()
    };
    assert_eq!(status(&new), "Pending");
    let answer = post(
        &sim,
        "/_sim/publish-pending",
        &format!(
            r#"{{"id":{},"date_published":"2030-01-01T00:00:00Z"}}"#,
            id(&new)
        ),
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains(r#""date_published":"2030-01-01T00:00:00+00:00""#),
        "{answer}"
    );
    assert_eq!(status(&new), "Published");
    assert_eq!(status(&old), "Superseded", "the older one is superseded");
    // Only a pending one can be published, and only one that exists.
    assert!(matches!(
        sim.publish_pending(id(&new)),
        Err(SimError::Refused { status: 400, .. })
    ));
    assert!(matches!(
        sim.publish_pending(999_999_999),
        Err(SimError::Refused { status: 404, .. })
    ));
}
