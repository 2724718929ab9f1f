//! A site that cannot be reached, or stalls, costs seconds and one summary line, not minutes and
//! a line per feed: the name does not resolve, the port refuses, the server accepts and never
//! answers, one channel's detail pages stall, the run's deadline passes. Every case exits 1 and
//! leaves the files of earlier runs exactly as they were. Timeouts are cut to fractions of a
//! second with `--timeout` so the suite stays fast; `benches/unreachable.sh` measures the
//! defaults. See: #8.

// Tests may unwrap (STYLE.md §4): a panic with its message is the report.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::server::Server;
use crate::support::{self, mirror_build_args, parse_feed, run_in, Run};

const HOST: &str = "www.chinania.org.cn";
/// The 17 channels and `chinania-all`.
const CHINANIA_FEEDS: usize = 18;

fn build(dir: &Path, base: &str, extra: &[&str]) -> Run {
    run_in(dir, mirror_build_args(dir, base, extra), &[])
}

/// Every file in the output folder: bytes and mtime.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, SystemTime)> {
    let mut out: Vec<_> = fs::read_dir(dir.join("public"))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.clone(), fs::read(&p).unwrap(), support::mtime(&p))
        })
        .collect();
    out.sort();
    out
}

#[track_caller]
fn assert_untouched(dir: &Path, before: &[(PathBuf, Vec<u8>, SystemTime)]) {
    let now = snapshot(dir);
    assert_eq!(now.len(), before.len(), "files added or removed");
    for ((p, bytes, mtime), (_, b2, m2)) in before.iter().zip(&now) {
        assert!(bytes == b2, "{} changed", p.display());
        assert_eq!(mtime, m2, "{} was rewritten", p.display());
    }
}

/// The lines of stderr that mention `needle`.
fn lines_with<'a>(run: &'a Run, needle: &str) -> Vec<&'a str> {
    run.stderr.lines().filter(|l| l.contains(needle)).collect()
}

/// Exactly one line about the host, and no line per failed feed.
#[track_caller]
fn one_host_line(run: &Run) -> &str {
    let head = format!("error: {HOST} unreachable");
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with(&head))
        .collect();
    assert_eq!(lines.len(), 1, "one line about the host:\n{}", run.stderr);
    assert!(
        lines_with(run, "FAILED").is_empty(),
        "no line per feed:\n{}",
        run.stderr
    );
    lines[0]
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
fn closed_port_base() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// A first build from the served mirror, so there are previous files to keep.
fn built_once(dir: &Path) -> Vec<(PathBuf, Vec<u8>, SystemTime)> {
    let server = Server::start(&support::chinania_mirror());
    build(dir, &server.base(), &[]).expect_code(0);
    snapshot(dir)
}

#[test]
fn an_unresolvable_host_is_one_line_and_a_first_run_says_not_written_yet() {
    let dir = tempfile::tempdir().unwrap();
    // `.invalid` never resolves (RFC 2606).
    let started = Instant::now();
    let run = build(
        dir.path(),
        "http://noticefeed-test.invalid",
        &["--timeout", "2s"],
    );
    run.expect_code(1);
    let line = one_host_line(&run);
    assert!(
        line.starts_with(&format!("error: {HOST} unreachable (dns error")),
        "{line}"
    );
    assert!(
        line.ends_with(&format!(": {CHINANIA_FEEDS} feeds not written yet")),
        "{line}"
    );
    assert!(
        !run.stderr.contains("previous files kept"),
        "{}",
        run.stderr
    );
    // The local feed is written all the same.
    assert!(run.stderr.contains("notices: 10 new"), "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_refusing_port_keeps_every_previous_file_and_says_so_once() {
    let dir = tempfile::tempdir().unwrap();
    let before = built_once(dir.path());
    let started = Instant::now();
    let report = dir.path().join("report.json");
    let run = build(
        dir.path(),
        &closed_port_base(),
        &["--report", report.to_str().unwrap()],
    );
    run.expect_code(1);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_untouched(dir.path(), &before);
    let line = one_host_line(&run);
    assert!(
        line.starts_with(&format!("error: {HOST} unreachable (tcp connect error")),
        "{line}"
    );
    assert!(
        line.ends_with(&format!(
            ": {CHINANIA_FEEDS} feeds kept their previous files"
        )),
        "{line}"
    );
    // One summary line per written feed, one about the host: nothing else.
    assert_eq!(run.stderr.lines().count(), 2, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["hosts_down"][0]["host"], HOST);
    let failed = report["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["ok"] == false)
        .count();
    assert_eq!(failed, CHINANIA_FEEDS);

    // A feed that failed for its own reason still gets its own line, and a first run says
    // "not written yet" there too.
    let fresh = tempfile::tempdir().unwrap();
    let run = build(fresh.path(), &closed_port_base(), &["chinania-jqzs"]);
    run.expect_code(1);
    assert!(
        one_host_line(&run).ends_with(": 1 feed not written yet"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_server_that_never_answers_is_given_up_after_three_silent_requests() {
    let dir = tempfile::tempdir().unwrap();
    let before = built_once(dir.path());
    let server = Server::start(&support::chinania_mirror());
    server.stall("");
    let started = Instant::now();
    let run = build(dir.path(), &server.base(), &["--timeout", "300ms"]);
    run.expect_code(1);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_untouched(dir.path(), &before);
    let line = one_host_line(&run);
    assert!(line.contains("3 requests in a row got no answer"), "{line}");
    assert!(
        line.ends_with(&format!(
            ": {CHINANIA_FEEDS} feeds kept their previous files"
        )),
        "{line}"
    );
    // robots.txt came from the store; the first list page twice, the second once: then no more.
    let asked = server.requests().len();
    assert_eq!(asked, 3, "{:?}", server.requests());
}

#[test]
fn stalled_detail_pages_still_publish_the_channel_from_its_list() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&support::chinania_mirror());
    server.stall("/html/zcfg/zhengcefagui/2026/");
    let started = Instant::now();
    let run = build(
        dir.path(),
        &server.base(),
        &["--timeout", "300ms", "chinania-zhengcefagui"],
    );
    run.expect_code(1);
    assert!(started.elapsed() < Duration::from_secs(10));
    let line = one_host_line(&run);
    assert!(line.contains("got no answer"), "{line}");
    assert!(
        run.stderr.contains("chinania-zhengcefagui: 6 new"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("detail pages not read (www.chinania.org.cn unreachable)"),
        "{}",
        run.stderr
    );
    let feed = parse_feed(&dir.path().join("public/chinania-zhengcefagui.atom.xml"));
    assert_eq!(feed.entries.len(), 6);
}

#[test]
fn the_deadline_ends_collection_and_publishes_what_was_collected() {
    let dir = tempfile::tempdir().unwrap();
    let before = built_once(dir.path());
    let server = Server::start(&support::chinania_mirror());
    server.stall("");
    let started = Instant::now();
    let run = build(
        dir.path(),
        &server.base(),
        &["--timeout", "30s", "--deadline", "1s"],
    );
    run.expect_code(1);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_untouched(dir.path(), &before);
    let lines = lines_with(&run, "deadline");
    assert_eq!(
        lines,
        [format!(
            "error: deadline of 1s reached: {CHINANIA_FEEDS} feeds not collected; \
             {CHINANIA_FEEDS} feeds kept their previous files"
        )],
        "{}",
        run.stderr
    );
    assert!(lines_with(&run, "FAILED").is_empty(), "{}", run.stderr);
    assert!(run.stderr.contains("notices: 0 new"), "{}", run.stderr);
}

#[test]
fn a_bad_duration_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = build(dir.path(), "http://127.0.0.1:9", &["--deadline", "soon"]);
    run.expect_code(2);
    assert!(run.stderr.contains("--deadline"), "{}", run.stderr);
}
