//! robots.txt across runs and robots.txt rules on a real site copy: the shipped chinania
//! definitions through `--mirror` against the 127.0.0.1 server over a copy of
//! `tests/fixtures/chinania`. See: #5 (robots.txt fetched once per origin, cached in the
//! store with its own conditional request; a disallowed URL skipped with a warning naming the
//! rule) and #4 (a rerun against an unchanged site makes one conditional request per list page
//! and no other request).

use std::path::Path;

use crate::server::{serve_mirror_copy, Logged, Server};
use crate::support::{self, parse_feed, run_in};

const LIST: &str = "/html/hangyetongji/jqzs/";
const FEED: &str = "chinania-jqzs";

fn build(dir: &Path, server: &Server) -> support::Run {
    run_in(
        dir,
        support::mirror_build_args(dir, &server.base(), &[FEED]),
        &[],
    )
}

fn summary(reqs: &[Logged]) -> Vec<String> {
    reqs.iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r.method,
                r.target,
                r.if_none_match.as_deref().unwrap_or("-"),
                r.status
            )
        })
        .collect()
}

/// Moves the stored robots.txt copy `hours` into the past, as if that much time had gone by.
fn age_robots(state: &Path, hours: i64) {
    let conn = rusqlite::Connection::open(state).unwrap();
    let then = (chrono::Utc::now() - chrono::Duration::hours(hours))
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let n = conn
        .execute("UPDATE robots SET fetched_at = ?1", [then])
        .unwrap();
    assert_eq!(n, 1, "one origin, one stored robots.txt");
}

fn stored_robots(state: &Path) -> (String, u16, Option<String>, String) {
    let conn = rusqlite::Connection::open(state).unwrap();
    conn.query_row(
        "SELECT url, status, etag, fetched_at FROM robots",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .unwrap()
}

#[test]
fn a_rerun_asks_only_the_list_page_and_robots_txt_waits_for_its_ttl() {
    let (_copy, server) = serve_mirror_copy();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite");

    build(dir.path(), &server).expect_code(0);
    let first = server.requests();
    let robots: Vec<&Logged> = first.iter().filter(|r| r.target == "/robots.txt").collect();
    assert_eq!(robots.len(), 1, "{:#?}", summary(&first));
    assert_eq!(robots[0].status, 200);
    // Stored under the site's origin, never the mirror's.
    let (url, status, etag, fetched_at) = stored_robots(&state);
    assert_eq!(
        (url.as_str(), status),
        ("https://www.chinania.org.cn/robots.txt", 200)
    );
    assert!(etag.is_some());

    // Second run: exactly one conditional GET of the list page, answered 304, nothing else.
    server.clear_log();
    build(dir.path(), &server).expect_code(0);
    let second = server.requests();
    assert_eq!(
        summary(&second),
        [format!(
            "GET {LIST} {} 304",
            second[0].if_none_match.as_deref().unwrap_or("(none)")
        )],
        "the rerun made other requests"
    );
    assert!(second[0].if_none_match.is_some());
    // The fresh copy was used as it was, not rewritten.
    assert_eq!(stored_robots(&state).3, fetched_at);

    // A day later robots.txt is revalidated, once, conditionally; the 304 restarts its age.
    age_robots(&state, 25);
    let aged = stored_robots(&state).3;
    server.clear_log();
    build(dir.path(), &server).expect_code(0);
    let third = server.requests();
    let mut targets = summary(&third);
    targets.sort();
    assert_eq!(targets.len(), 2, "{targets:#?}");
    assert!(targets[0].starts_with(&format!("GET {LIST} \"")) && targets[0].ends_with(" 304"));
    assert_eq!(
        targets[1],
        format!("GET /robots.txt {} 304", etag.as_deref().unwrap())
    );
    assert!(stored_robots(&state).3 > aged, "age restarted");

    // And the run after that asks the list page alone again.
    server.clear_log();
    build(dir.path(), &server).expect_code(0);
    let fourth = server.requests();
    assert_eq!(fourth.len(), 1, "{:#?}", summary(&fourth));
    assert_eq!(fourth[0].target, LIST);
}

#[test]
fn disallowed_detail_pages_and_attachments_are_skipped_with_the_rule_named() {
    let (copy, server) = serve_mirror_copy();
    let root = copy.path();
    std::fs::write(
        root.join("robots.txt"),
        "User-agent: *\nDisallow: /api\nDisallow: /html/hangyetongji/jqzs/2026/0926/\n\
         Disallow: /uploads/closed/\n",
    )
    .unwrap();
    // One allowed and one disallowed attachment on another notice's detail page.
    let detail = root.join("html/hangyetongji/jqzs/2026/0827/61834.html");
    let html = std::fs::read_to_string(&detail).unwrap();
    let marker = "<div class=\"article_content\">";
    assert!(html.contains(marker));
    let html = html.replacen(
        marker,
        &format!(
            "{marker}<p><a href=\"/uploads/open/data.pdf\">数据.pdf</a> \
             <a href=\"/uploads/closed/report.pdf\">报告.pdf</a></p>"
        ),
        1,
    );
    std::fs::write(&detail, html).unwrap();
    std::fs::create_dir_all(root.join("uploads/open")).unwrap();
    std::fs::write(root.join("uploads/open/data.pdf"), vec![b'%'; 1234]).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let run = build(dir.path(), &server);
    run.expect_code(0);

    let reqs = server.requests();
    assert!(
        !reqs.iter().any(|r| r.target.contains("/2026/0926/")),
        "the disallowed detail page was requested: {:#?}",
        summary(&reqs)
    );
    assert!(
        !reqs.iter().any(|r| r.target.contains("/uploads/closed/")),
        "the disallowed attachment was requested: {:#?}",
        summary(&reqs)
    );
    let heads: Vec<&Logged> = reqs.iter().filter(|r| r.method == "HEAD").collect();
    assert_eq!(heads.len(), 1);
    assert_eq!(heads[0].target, "/uploads/open/data.pdf");

    let warned = |what: &str, rule: &str| {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains(what) && l.contains(rule) && l.contains("robots.txt")),
            "no warning naming {what} and `{rule}`:\n{}",
            run.stderr
        );
    };
    warned("62090.html", "Disallow: /html/hangyetongji/jqzs/2026/0926/");
    warned("report.pdf", "Disallow: /uploads/closed/");

    // The skipped notice is kept from its list entry: title, link and list date.
    let f = parse_feed(&dir.path().join(format!("public/{FEED}.atom.xml")));
    assert_eq!(f.entries.len(), 6, "every notice is kept");
    let skipped = f
        .entries
        .iter()
        .find(|e| e.links[0].href.ends_with("/2026/0926/62090.html"))
        .unwrap();
    assert!(!skipped.title.as_ref().unwrap().content.trim().is_empty());
    let day = skipped
        .published
        .unwrap()
        .with_timezone(&chrono_tz::Asia::Shanghai);
    assert_eq!(day.format("%Y-%m-%d").to_string(), "2026-09-26");

    // Both attachments are enclosures; the disallowed one has length 0 ("unknown").
    let with_attachments = f
        .entries
        .iter()
        .find(|e| e.links[0].href.ends_with("/2026/0827/61834.html"))
        .unwrap();
    let length = |name: &str| {
        with_attachments
            .links
            .iter()
            .find(|l| l.rel.as_deref() == Some("enclosure") && l.href.ends_with(name))
            .unwrap_or_else(|| panic!("no enclosure {name}: {:#?}", with_attachments.links))
            .length
    };
    assert_eq!(length("/uploads/open/data.pdf"), Some(1234));
    assert_eq!(length("/uploads/closed/report.pdf"), Some(0));
}
