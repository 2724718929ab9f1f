//! The bundled notices, built by the real binary and read back with feed-rs, against the
//! expectations in `tests/fixtures/notices_expected.json`.

// Tests may unwrap (STYLE.md §4): a panic with its message is the report.
#![allow(clippy::unwrap_used)]

use std::fs;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use serde_json::Value;

use crate::support::{entries, snapshot, xmllint_ok, Project, Seen};

/// One expected notice.
#[derive(Debug)]
struct Expected {
    title: String,
    date: DateTime<Utc>,
    link: Option<String>,
    tags: Vec<String>,
}

/// A fixture date: RFC 3339 with offset, or (without one) wall-clock time in Asia/Shanghai,
/// the feed's zone.
fn instant(raw: &str) -> DateTime<Utc> {
    if let Ok(d) = DateTime::parse_from_rfc3339(raw) {
        return d.with_timezone(&Utc);
    }
    let naive = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S").unwrap_or_else(|_| {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
    });
    Shanghai
        .from_local_datetime(&naive)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn expected() -> Vec<Expected> {
    let json: Value =
        serde_json::from_slice(&crate::support::read_fixture("notices_expected.json")).unwrap();
    let mut out = Vec::new();
    for kind in ["txt", "md"] {
        for n in json[kind].as_array().unwrap() {
            out.push(Expected {
                title: n["title"].as_str().unwrap().to_owned(),
                date: instant(n["date"].as_str().unwrap()),
                link: n["link"].as_str().map(str::to_owned),
                tags: n["tags"]
                    .as_array()
                    .map(|a| a.iter().map(|t| t.as_str().unwrap().to_owned()).collect())
                    .unwrap_or_default(),
            });
        }
    }
    out
}

fn utc(d: DateTime<Utc>) -> String {
    d.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[test]
fn bundled_notices_become_rss_and_atom_matching_the_fixture() {
    let p = Project::bundled();
    p.build().expect_code(0);
    let rss = p.rss();
    let atom = p.atom();
    assert_eq!(rss.feed_type, feed_rs::model::FeedType::RSS2);
    assert_eq!(atom.feed_type, feed_rs::model::FeedType::Atom);
    let rss_entries = entries(&rss);
    let atom_entries = entries(&atom);
    let expected = expected();
    assert_eq!(expected.len(), 10, "fixture lists ten notices");
    assert_eq!(rss_entries.len(), 10, "{rss_entries:#?}");
    // Same ids, titles, links, dates and categories, in the same order, in both formats.
    assert_eq!(rss_entries, atom_entries);

    for want in &expected {
        let got: &Seen = rss_entries
            .iter()
            .find(|e| e.title == want.title)
            .unwrap_or_else(|| panic!("no entry titled {:?} in {rss_entries:#?}", want.title));
        assert_eq!(
            got.date.as_deref(),
            Some(utc(want.date).as_str()),
            "{}",
            want.title
        );
        assert_eq!(got.link, want.link, "{}", want.title);
        assert_eq!(got.tags, want.tags, "{}", want.title);
        assert!(got.id.starts_with("urn:uuid:"), "{}", got.id);
    }

    // Newest first; ids unique.
    let dates: Vec<_> = rss_entries
        .iter()
        .map(|e| e.date.clone().unwrap())
        .collect();
    let mut sorted = dates.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(dates, sorted, "items are newest first");
    let mut ids: Vec<_> = rss_entries.iter().map(|e| &e.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10, "every notice has its own id");

    // Feed-level time is the newest item's, not the wall clock.
    let newest = expected.iter().map(|e| e.date).max().unwrap();
    assert_eq!(atom.updated, Some(newest));
    assert_eq!(rss.updated, Some(newest));
}

#[test]
fn bundled_feeds_use_each_formats_date_and_guid_spelling() {
    let p = Project::bundled();
    p.build().expect_code(0);
    let rss = fs::read_to_string(p.rss_path()).unwrap();
    let atom = fs::read_to_string(p.atom_path()).unwrap();
    // RFC 822 in the feed's zone for RSS, RFC 3339 for Atom.
    assert!(
        rss.contains("<pubDate>Wed, 9 Sep 2026 00:00:00 +0800</pubDate>"),
        "{rss}"
    );
    assert!(rss.contains("<lastBuildDate>Wed, 9 Sep 2026 00:00:00 +0800</lastBuildDate>"));
    assert!(
        atom.contains("<published>2026-09-09T00:00:00+08:00</published>"),
        "{atom}"
    );
    assert!(atom.contains("<updated>2026-09-09T00:00:00+08:00</updated>"));
    assert_eq!(
        rss.matches("<guid isPermaLink=\"false\">urn:uuid:").count(),
        10
    );
    // No public URL is set: no self link at all rather than a relative one (tests/it/publish.rs
    // covers the absolute ones).
    assert!(!rss.contains("rel=\"self\""), "{rss}");
    assert!(
        rss.contains("<content:encoded>"),
        "full HTML in content:encoded"
    );
    assert!(!atom.contains("rel=\"self\"") && atom.contains("rel=\"alternate\""));
    assert_eq!(atom.matches("<content type=\"html\">").count(), 10);
    // Markdown bodies arrive as HTML, the TOML-front-matter table included.
    assert!(rss.contains("<table>"), "{rss}");
}

#[test]
fn bundled_atom_is_valid_and_rss_well_formed() {
    let p = Project::bundled();
    p.build().expect_code(0);
    if xmllint_ok(&p.atom_path(), true) {
        xmllint_ok(&p.rss_path(), false);
    }
}

#[test]
fn second_build_leaves_files_byte_identical_and_untouched() {
    let p = Project::bundled();
    p.build().expect_code(0);
    let before = snapshot(&p.out());
    std::thread::sleep(std::time::Duration::from_millis(50));
    p.build().expect_code(0);
    // Every output (feeds, JSON Feed, pages, OPML), same bytes and same mtime, and no
    // temporary file left.
    let names: Vec<&str> = before.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "feeds.opml",
            "index.html",
            "notices.atom.xml",
            "notices.html",
            "notices.json",
            "notices.rss.xml"
        ]
    );
    assert!(
        snapshot(&p.out()) == before,
        "an unchanged rerun wrote a file"
    );
}

#[test]
fn build_of_named_ids_writes_only_those() {
    let p = Project::bundled();
    let def = fs::read_to_string(p.path().join("feeds/notices.toml")).unwrap();
    p.write_feed("other", &def);
    p.run(&["build", "notices"]).expect_code(0);
    assert!(p.rss_path().exists() && p.atom_path().exists());
    assert!(!p.out().join("other.rss.xml").exists());
    p.build().expect_code(0);
    assert!(p.out().join("other.rss.xml").exists() && p.out().join("other.atom.xml").exists());
}

#[test]
fn list_prints_id_title_source_and_outputs() {
    let p = Project::bundled();
    let r = p.run(&["list"]);
    r.expect_code(0);
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("notices"))
        .unwrap_or_else(|| {
            panic!("no line for `notices` in:\n{}", r.stdout);
        });
    for part in [
        "China Nonferrous Metals Industry Association — notices",
        "local",
        "notices.rss.xml",
        "notices.atom.xml",
    ] {
        assert!(line.contains(part), "{part:?} missing from {line:?}");
    }
    assert!(!p.out().exists(), "list writes nothing");
}

#[test]
fn the_repository_definition_builds_from_its_own_folder() {
    // `cargo run -- build` as the README says, but into a temporary output folder.
    let out = tempfile::tempdir().unwrap();
    let state = out.path().join("state.sqlite");
    let r = crate::support::run_in(
        &crate::support::repo(),
        [
            "build",
            "--out",
            out.path().to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
            "notices",
        ],
        &[],
    );
    r.expect_code(0);
    assert!(out.path().join("notices.rss.xml").exists());
    assert!(out.path().join("notices.atom.xml").exists());
}

/// A wall-clock time in a daylight-saving gap (02:30 on 2026-03-08 in New York, when clocks
/// jump from 02:00 EST to 03:00 EDT) is moved forward by the gap, 03:30 EDT, and published:
/// never refused, never dated "now". The hour repeated in November takes its first instant.
#[test]
fn a_time_in_a_dst_gap_is_shifted_forward() {
    let p = Project::bundled_definition();
    let def = std::fs::read_to_string(p.path().join("feeds/notices.toml"))
        .unwrap()
        .replace(
            "timezone = \"Asia/Shanghai\"",
            "timezone = \"America/New_York\"",
        );
    assert!(def.contains("America/New_York"));
    p.write_feed("notices", &def);
    p.write_notice(
        "gap.md",
        "---\ntitle: In the gap\ndate: 2026-03-08 02:30\n---\nb\n",
    );
    p.write_notice(
        "fold.md",
        "---\ntitle: In the fold\ndate: 2026-11-01 01:30\n---\nb\n",
    );
    p.build().expect_code(0);
    let dates: std::collections::BTreeMap<String, String> = entries(&p.atom())
        .into_iter()
        .map(|e| (e.title, e.date.unwrap()))
        .collect();
    assert_eq!(dates["In the gap"], "2026-03-08T07:30:00Z");
    assert_eq!(dates["In the fold"], "2026-11-01T05:30:00Z");
    let atom = std::fs::read_to_string(p.atom_path()).unwrap();
    assert!(atom.contains("2026-03-08T03:30:00-04:00"), "{atom}");
}
