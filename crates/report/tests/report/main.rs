//! The HTML status site, generated from a real state database in a temporary directory:
//! what the pages show, that hostile text stays inert (also in a real headless Chromium, in
//! `chromium`), and that a report replaces the previous one in one swap.

mod chromium;
mod fixture;

use std::path::Path;

use fixture::{DIVERGED, IMG, IMG_ESCAPED, SCRIPT, SCRIPT_ESCAPED, name, scene};
use pkgimport_core::Priority;
use pkgimport_report::{Error, ReportSummary, write_report};

/// The `<tr>…</tr>` after `section` (an `id="…"` heading) that contains `needle`.
fn row<'a>(html: &'a str, section: &str, needle: &str) -> &'a str {
    let from = html
        .find(&format!("id=\"{section}\""))
        .unwrap_or_else(|| panic!("no section {section}"));
    let rest = &html[from..];
    let at = rest
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in section {section}"));
    let start = rest[..at].rfind("<tr>").expect("inside a row");
    let end = at + rest[at..].find("</tr>").expect("row ends");
    &rest[start..end]
}

fn all_html(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_html(&path, out);
        } else {
            out.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
}

#[test]
fn pages_show_the_summary_failures_branches_and_freshness() {
    let mut f = scene();
    let summary = f.write();
    assert_eq!(
        summary,
        ReportSummary {
            packages: 6,
            out_of_date: 2,
            failed: 3,
            pages: 7
        }
    );

    let index = f.read("index.html");
    for (id, n) in [
        ("summary-queued", 1),
        ("summary-running", 1),
        ("summary-failed", 3),
        ("summary-needs-attention", 1),
        ("queue-depth", 1),
    ] {
        assert!(
            index.contains(&format!("id=\"{id}\">{n}<")),
            "{id} should be {n}:\n{index}"
        );
    }
    assert!(index.contains(r#"id="summary-paused">no<"#));
    assert!(index.contains("buildd-1"), "driver heartbeat shown");
    assert!(index.contains(">closed<"), "breaker state shown");

    // The failure group: its signature, its count, links to both packages.
    let group = row(&index, "failures", DIVERGED);
    assert!(group.contains("<td>2</td>"), "two packages: {group}");
    assert!(
        group.contains(r#"<a href="packages/stale.html">stale</a>"#),
        "{group}"
    );
    assert!(
        group.contains(r#"<a href="packages/other.html">other</a>"#),
        "{group}"
    );
    assert!(row(&index, "attention", "packages/evil.html").contains("bad tarball"));
    assert!(row(&index, "running", "packages/busy.html").contains("manual"));
    assert!(row(&index, "queue", "packages/waiting.html").contains("upload"));
    assert!(row(&index, "recent", "packages/hello.html").contains("success"));

    // The package table.
    assert!(row(&index, "packages", "packages/hello.html").contains("UP-TO-DATE"));
    assert!(row(&index, "packages", "packages/stale.html").contains("OUT-OF-DATE"));
    assert!(row(&index, "packages", "packages/waiting.html").contains("UNKNOWN"));

    // A package page: branches with their head versions, freshness, run log tail.
    let hello = f.read("packages/hello.html");
    assert!(hello.contains(r#"<a href="../index.html">"#));
    assert!(
        hello.contains("<td><code>importer/debian/sid</code></td><td>2.10-3</td>"),
        "{hello}"
    );
    assert!(
        hello.contains("<td><code>importer/debian/trixie</code></td><td>2.10-2</td>"),
        "{hello}"
    );
    assert!(hello.contains(r#"class="badge freshness ok">UP-TO-DATE<"#));
    assert!(hello.contains("2 tags; 2 publications imported."));
    assert!(
        hello.contains("Import hello 2.10-3\n\n  * New upstream release.\nimported 1 version"),
        "log tail: {hello}"
    );
    assert!(hello.contains("No failure recorded."));

    let stale = f.read("packages/stale.html");
    assert!(stale.contains(r#"class="badge freshness bad">OUT-OF-DATE<"#));
    assert!(stale.contains("1.0-2 in debian/sid"), "newest seen shown");
    assert!(
        stale.contains(&format!("<code>{DIVERGED}</code>")),
        "failure signature shown"
    );
    assert!(stale.contains("permanent"));
    assert!(
        stale.contains("error: remote diverged"),
        "failure tail shown"
    );

    // Every package has a page, and no other file exists.
    let mut files = Vec::new();
    all_html(&f.out_dir(), &mut files);
    let mut names: Vec<String> = files
        .iter()
        .map(|(p, _)| p.rsplit("/site/").next().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "index.html",
            "packages/busy.html",
            "packages/evil.html",
            "packages/hello.html",
            "packages/other.html",
            "packages/stale.html",
            "packages/waiting.html"
        ]
    );
}

#[test]
fn the_index_shows_how_current_each_series_is() {
    let mut f = scene();
    f.write();
    let index = f.read("index.html");
    assert!(
        index.contains("2 packages out of date in 2 of 5 series."),
        "{index}"
    );

    // sid: hello, stale and evil imported; stale behind; the development series.
    let sid = row(&index, "series", "Active Development");
    for expect in [
        "<td>debian</td>",
        r#"sid <span class="badge ok development">development</span>"#,
        "<td>3</td>",
        r#"<span class="badge bad">1</span>"#,
        "2024-02-01T00:00:00Z (",
        "2024-03-01T00:00:00Z",
        r#"<span class="badge warn">28d 23h</span>"#,
    ] {
        assert!(sid.contains(expect), "{expect:?} not in {sid}");
    }
    let trixie = row(&index, "series", "Current Stable Release");
    for expect in [
        "<td>trixie</td>",
        "<td>1</td>",
        "<td>0</td>",
        "2024-01-01T00:00:00Z (",
    ] {
        assert!(trixie.contains(expect), "{expect:?} not in {trixie}");
    }
    assert!(
        trixie.ends_with(r#"<td><span class="muted">none</span></td>"#),
        "no lag: {trixie}"
    );
    // Nothing imported or seen in bookworm; warty greyed out; one development series.
    let bookworm = row(&index, "series", "<td>bookworm</td>");
    assert!(
        bookworm.contains("<td>Supported</td><td>0</td><td>0</td>"),
        "{bookworm}"
    );
    assert!(index.contains(r#"<tr class="muted"><td>ubuntu</td><td>warty</td><td>Obsolete</td>"#));
    assert_eq!(index.matches("badge ok development").count(), 1);
    // The hostile series, known only from a seen publication, is text.
    let hostile = row(&index, "series", &format!("sid{IMG_ESCAPED}"));
    assert!(hostile.contains("not listed"), "{hostile}");
    assert!(
        hostile.contains(r#"<span class="badge bad">1</span>"#),
        "{hostile}"
    );

    // Newest series first within a distribution, series poll-uploads does not list last.
    let order: Vec<usize> = [
        "<td>sid <span",
        "<td>trixie</td>",
        "<td>bookworm</td>",
        &format!("<td>sid{IMG_ESCAPED}"),
        "<td>warty</td>",
    ]
    .iter()
    .map(|needle| index.find(needle).unwrap_or_else(|| panic!("{needle}")))
    .collect();
    assert!(order.is_sorted(), "{order:?}");
}

#[test]
fn metrics_show_each_series_with_escaped_labels() {
    let mut f = scene();
    let text =
        pkgimport_report::metrics::render(&mut f.store, pkgimport_queue::Timestamp::now()).unwrap();
    let sid = r#"{distribution="debian",series="sid"}"#;
    for expect in [
        format!("pkgimport_series_packages{sid} 3\n"),
        format!("pkgimport_series_out_of_date_packages{sid} 1\n"),
        format!("pkgimport_series_newest_imported_timestamp_seconds{sid} 1706745600.5\n"),
        format!("pkgimport_series_newest_seen_timestamp_seconds{sid} 1709251200\n"),
        format!("pkgimport_series_lag_seconds{sid} 2505599.5\n"),
        r#"pkgimport_series_lag_seconds{distribution="debian",series="trixie"} 0"#.to_owned(),
        r#"pkgimport_series_packages{distribution="debian",series="bookworm"} 0"#.to_owned(),
        r#"pkgimport_series_newest_seen_timestamp_seconds{distribution="ubuntu",series="warty"} 0"#
            .to_owned(),
        // The hostile series: its double quote escaped, so the label ends where it should.
        r#"pkgimport_series_out_of_date_packages{distribution="debian",series="sid\"><img src=x onerror=alert(1)>"} 1"#
            .to_owned(),
        "# TYPE pkgimport_series_lag_seconds gauge\n".to_owned(),
    ] {
        assert!(text.contains(&expect), "{expect:?} not in\n{text}");
    }
}

#[test]
fn hostile_text_is_escaped_everywhere() {
    let mut f = scene();
    f.write();
    let mut files = Vec::new();
    all_html(&f.out_dir(), &mut files);
    for (path, html) in &files {
        let lower = html.to_ascii_lowercase();
        assert!(!lower.contains("<script"), "{path} holds a script element");
        assert!(!lower.contains("<img"), "{path} holds an img element");
        assert!(
            !html.contains(SCRIPT) && !html.contains(IMG),
            "{path} holds raw hostile text"
        );
    }
    let evil = f.read("packages/evil.html");
    // The escaped forms are there, in each place the hostile text came from.
    for (what, expect) in [
        (
            "the log tail (changelog)",
            format!("  * Fix {SCRIPT_ESCAPED}\n  * And {IMG_ESCAPED}"),
        ),
        (
            "the signature",
            format!("<code>bad tarball {SCRIPT_ESCAPED} {IMG_ESCAPED}</code>"),
        ),
        (
            "the failure tail",
            format!("<pre>error: bad tarball {SCRIPT_ESCAPED} {IMG_ESCAPED}</pre>"),
        ),
        (
            "the branch",
            format!("<code>importer/debian/{IMG_ESCAPED}</code>"),
        ),
        ("the head version", format!("<td>1.0{SCRIPT_ESCAPED}</td>")),
        (
            "the seen publication",
            format!("2.0{SCRIPT_ESCAPED} in debian/sid{IMG_ESCAPED}"),
        ),
    ] {
        assert!(evil.contains(&expect), "{what}: {expect:?} not in\n{evil}");
    }
    assert!(evil.contains(r#"class="badge freshness bad">OUT-OF-DATE<"#));
    let index = f.read("index.html");
    assert!(index.contains(&format!(
        "<code>bad tarball {SCRIPT_ESCAPED} {IMG_ESCAPED}</code>"
    )));
    // A second line of defence: the pages forbid scripts altogether.
    assert!(index.contains("default-src 'none'"));
}

#[test]
fn a_second_report_replaces_the_first_in_one_swap() {
    let mut f = scene();
    let www = f.out_dir().parent().unwrap().to_owned();
    // Leftovers of a crashed report (no process has pid 999999999) are cleaned up.
    std::fs::create_dir_all(www.join("site.tmp-999999999/packages")).unwrap();
    std::fs::create_dir_all(www.join("site.old-999999999")).unwrap();
    f.write();
    std::fs::write(f.out_dir().join("stray.txt"), "from the first report").unwrap();

    f.store
        .enqueue(&[name("newcomer")], Priority::UPLOAD)
        .unwrap();
    f.write();

    let mut entries: Vec<String> = std::fs::read_dir(&www)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        ["site"],
        "exactly one site, no temporary or old directory"
    );
    assert!(
        f.out_dir().join("packages/newcomer.html").is_file(),
        "the new site"
    );
    assert!(
        !f.out_dir().join("stray.txt").exists(),
        "the old site is gone, not overwritten"
    );
    assert!(f.read("index.html").contains("id=\"summary-queued\">2<"));
}

#[test]
fn a_report_that_cannot_be_placed_leaves_nothing_behind() {
    let mut f = scene();
    let www = f.out_dir().parent().unwrap().to_owned();
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(f.out_dir(), "a file where the site should go").unwrap();
    let options = f.options();
    let out = f.out_dir();
    let err = write_report(&mut f.store, &options, &out).unwrap_err();
    assert!(matches!(err, Error::OutDir { .. }), "{err}");
    assert!(!err.is_transient());
    let entries: Vec<_> = std::fs::read_dir(&www).unwrap().collect();
    assert_eq!(entries.len(), 1, "only the file that was there");
}
