//! A real client: Python's feedparser, the parser behind many feed readers, reads both files
//! and must see no error (`bozo == 0`) and the same ids, titles, links, dates and categories
//! as feed-rs on the Rust side.

// Tests may unwrap (STYLE.md §4): a panic with its message is the report.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{entries, external_available, repo, Project, Seen};

/// Runs `tests/interop/feedparser_check.py` on `files`. `None` when skipped.
pub fn feedparser(files: &[&Path]) -> Option<Value> {
    let script = repo().join("tests/interop/feedparser_check.py");
    let out = Command::new("python3").arg(&script).args(files).output();
    let out = match out {
        Ok(o) => o,
        Err(_) => {
            external_available("python3", false);
            return None;
        }
    };
    if out.status.code() == Some(3) {
        external_available("the python3 feedparser module", false);
        return None;
    }
    assert!(
        out.status.success(),
        "{} failed:\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("the script prints JSON"))
}

/// feedparser read `path` without complaint (`bozo == 0`).
#[track_caller]
pub fn assert_no_bozo(report: &Value, path: &Path) {
    assert_eq!(
        report["bozo"],
        0,
        "{}: feedparser error {}",
        path.display(),
        report["bozo_exception"]
    );
}

/// What feedparser saw in one file, in the shape feed-rs readings are compared in.
fn seen_by_feedparser(report: &Value) -> Vec<Seen> {
    let list = |key: &str| report[key].as_array().unwrap().clone();
    let (ids, titles, links, dates, tags) = (
        list("ids"),
        list("titles"),
        list("links"),
        list("dates"),
        list("tags"),
    );
    (0..ids.len())
        .map(|i| Seen {
            id: ids[i].as_str().unwrap_or_default().to_owned(),
            title: titles[i].as_str().unwrap_or_default().to_owned(),
            link: links[i].as_str().map(str::to_owned),
            date: dates[i].as_str().map(str::to_owned),
            tags: tags[i]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_owned())
                .collect(),
        })
        .collect()
}

#[test]
fn feedparser_reads_both_bundled_feeds_like_feed_rs() {
    let p = Project::bundled();
    p.build().expect_code(0);
    let (rss, atom) = (p.rss_path(), p.atom_path());
    let Some(report) = feedparser(&[&rss, &atom]) else {
        return;
    };
    for (path, version, rust_side) in [
        (&rss, "rss20", entries(&p.rss())),
        (&atom, "atom10", entries(&p.atom())),
    ] {
        let r = &report[path.to_str().unwrap()];
        assert_no_bozo(r, path);
        assert_eq!(r["version"], version, "{}", path.display());
        assert_eq!(rust_side.len(), 10);
        assert_eq!(seen_by_feedparser(r), rust_side, "{}", path.display());
    }
    assert_eq!(
        report[rss.to_str().unwrap()]["ids"],
        report[atom.to_str().unwrap()]["ids"],
        "one GUID per notice in every format"
    );
}

#[test]
fn feedparser_reads_feeds_of_hostile_notices_without_error() {
    let p = Project::bundled();
    p.write_notice(
        "hostile.md",
        "---\ntitle: \"A \u{1}B & <i>C</i>\"\ndate: 2026-12-01T08:00:00\nauthor: X \u{b}Y\n---\n\
         <script>alert(1)</script><p onclick=\"x()\">p</p> ]]> \u{1}\n",
    );
    p.write_notice(
        "hostile.txt",
        "T\u{1}\n\ndate\n02/12/2026\n\n<script>x</script> ]]>\n",
    );
    p.build().expect_code(0);
    let (rss, atom) = (p.rss_path(), p.atom_path());
    let Some(report) = feedparser(&[&rss, &atom]) else {
        return;
    };
    for (path, rust_side) in [(&rss, entries(&p.rss())), (&atom, entries(&p.atom()))] {
        let r = &report[path.to_str().unwrap()];
        assert_no_bozo(r, path);
        let ids: Vec<_> = rust_side.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(r["ids"], serde_json::json!(ids), "{}", path.display());
        let dates: Vec<_> = rust_side.iter().map(|e| e.date.as_deref()).collect();
        assert_eq!(r["dates"], serde_json::json!(dates), "{}", path.display());
    }
}
