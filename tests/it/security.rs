//! A compromised site and hostile notice files (issue 9): every case of the report at once, with
//! its exact input, against a real server on 127.0.0.1 and a second "internal" server that must
//! never see a request. Nothing may crash the run, poison the store, reach the internal host,
//! publish a link a reader would run, burn unbounded CPU, or write a control character to the
//! operator's terminal.

// Tests may unwrap (STYLE.md §4): a panic with its message is the report.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::{xmllint_ok, Project};

/// One canned answer: status, extra headers, body.
#[derive(Clone)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn page(html: impl Into<String>) -> Answer {
    Answer {
        status: 200,
        headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
        body: html.into().into_bytes(),
    }
}

fn redirect(to: &str) -> Answer {
    Answer {
        status: 302,
        headers: vec![("Location".into(), to.into())],
        body: Vec::new(),
    }
}

/// A server with fixed answers by path (anything else: 404), logging every request path.
struct Canned {
    port: u16,
    routes: Arc<Mutex<HashMap<String, Answer>>>,
    log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Canned {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let routes: Arc<Mutex<HashMap<String, Answer>>> = Arc::default();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (r, l, s) = (routes.clone(), log.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (r, l) = (r.clone(), l.clone());
                        std::thread::spawn(move || {
                            let _ = answer(stream, &r, &l);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            port,
            routes,
            log,
            stop,
            handle: Some(handle),
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn route(&self, path: &str, a: Answer) {
        self.routes.lock().unwrap().insert(path.to_owned(), a);
    }

    fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Canned {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn answer(
    stream: TcpStream,
    routes: &Mutex<HashMap<String, Answer>>,
    log: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
    }
    log.lock().unwrap().push(format!("{method} {target}"));
    let a = routes
        .lock()
        .unwrap()
        .get(&target)
        .cloned()
        .unwrap_or(Answer {
            status: 404,
            headers: vec![],
            body: b"not found".to_vec(),
        });
    let mut out = stream;
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        a.status,
        a.body.len()
    );
    for (k, v) in &a.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    if method != "HEAD" {
        out.write_all(&a.body)?;
    }
    out.flush()?;
    let _ = reader.read(&mut [0u8; 1]);
    Ok(())
}

/// The hostile site's definition, inline as a second site would be.
fn definition(base: &str) -> String {
    format!(
        r#"title = "Hostile site"
link = "{base}/"

[source]
kind = "scrape"
url = "{base}/list/index.html"
max_pages = 3

[source.site]
base = "{base}/"
timezone = "Asia/Shanghai"
delay_ms = 0
date_formats = ["%Y-%m-%d %H:%M", "%Y-%m-%d"]

[source.site.list]
item = "ul.list li"
title = "a"
link = {{ selector = "a", attr = "href" }}
date = "span"

[source.site.pagination]
next = {{ selector = "a.next", attr = "href" }}

[source.site.detail]
title = "h1"
date = "p.date"
content = {{ selector = "div.body", html = true }}
attachments = {{ selector = "div.body a", attr = "href" }}
"#
    )
}

/// Every case of the report that a site can serve, at once.
fn hostile_site(site: &Canned, internal: &Canned) -> Vec<&'static str> {
    let inner = internal.base();
    let inner_localhost = format!("http://localhost:{}", internal.port);
    let entries = [
        (
            "/d/redirect.html",
            "Redirected to the internal host",
            "2026-01-05",
        ),
        (
            &*format!("{inner}/secret"),
            "Another port of the same address",
            "2026-01-05",
        ),
        (
            "javascript:void(0);",
            "【专题】javascript entry",
            "2026-01-05",
        ),
        ("/d/deep.html", "Deeply nested page", "2026-01-06"),
        (
            "/d/attach.html",
            "Attachments of every scheme",
            "2026-01-07",
        ),
        ("/d/zero.html", "Year zero", "0000-01-01"),
        ("/d/escape.html", "Terminal escapes", "2026-01-08"),
        ("/d/ok.html", "An ordinary notice", "2026-01-09"),
    ];
    let items: String = entries
        .iter()
        .map(|(href, title, date)| {
            format!("<li><a href=\"{href}\">{title}</a><span>{date}</span></li>\n")
        })
        .collect();
    site.route(
        "/list/index.html",
        page(format!(
            "<html><body><ul class=\"list\">{items}</ul>\
             <a class=\"next\" href=\"{inner_localhost}/list/2.html\">下一页</a></body></html>"
        )),
    );
    let detail = |title: &str, date: &str, body: &str| {
        page(format!(
            "<html><body><h1>{title}</h1><p class=\"date\">{date}</p>\
             <div class=\"body\">{body}</div></body></html>"
        ))
    };
    site.route("/d/redirect.html", redirect(&format!("{inner}/admin")));
    site.route(
        "/d/deep.html",
        detail(
            "Deeply nested page",
            "2026-01-06 10:00",
            &format!("{}x", "<div>".repeat(100_000)),
        ),
    );
    site.route(
        "/d/attach.html",
        detail(
            "Attachments of every scheme",
            "2026-01-07 10:00",
            "<p>See <a href=\"javascript://x/%0Aalert(document.domain)//a.pdf\">附件1.pdf</a>, \
             <a href=\"data:application/pdf;base64,AAAA\">附件2.pdf</a>, \
             <a href=\"file:///etc/passwd.pdf\">附件3.pdf</a> and \
             <a href=\"/f/ok.pdf\">附件4.pdf</a>.</p>\
             <script>alert(1)</script><p onclick=\"x()\">text</p>",
        ),
    );
    site.route(
        "/f/ok.pdf",
        Answer {
            status: 200,
            headers: vec![("Content-Type".into(), "application/pdf".into())],
            body: b"%PDF-1.4".to_vec(),
        },
    );
    site.route(
        "/d/zero.html",
        detail("Year zero", "0000-01-01 00:00", "<p>year zero</p>"),
    );
    site.route(
        "/d/escape.html",
        detail(
            "Terminal \u{1b}]0;pwned\u{7} escapes",
            "\u{1b}[2J\u{1b}]0;owned\u{7}2026",
            "<p>bell \u{7} and escape \u{1b}[31m</p>",
        ),
    );
    site.route(
        "/d/ok.html",
        detail("An ordinary notice", "2026-01-09 09:30", "<p>Hello.</p>"),
    );
    for path in ["/admin", "/secret", "/list/2.html"] {
        internal.route(
            path,
            page(
                "<html><body><ul class=\"list\"><li><a href=\"/x.html\">INTERNAL SECRET</a>\
                 <span>2026-01-01</span></li></ul><div class=\"body\">INTERNAL SECRET</div>\
                 </body></html>",
            ),
        );
    }
    vec![
        "Redirected to the internal host",
        "Another port of the same address",
        "Deeply nested page",
        "Attachments of every scheme",
        "Year zero",
        "An ordinary notice",
    ]
}

fn assert_clean_terminal(label: &str, text: &str) {
    for c in text.chars() {
        assert!(
            !c.is_control() || matches!(c, '\n' | '\t'),
            "{label}: control character {c:?} reached the terminal:\n{text}"
        );
    }
}

fn assert_safe_output(label: &str, text: &str) {
    for bad in [
        "javascript",
        "data:application",
        "file:",
        "INTERNAL SECRET",
        "<script",
        "onclick",
    ] {
        assert!(!text.contains(bad), "{label}: `{bad}` published:\n{text}");
    }
    for c in text.chars() {
        assert!(
            !c.is_control() || matches!(c, '\n' | '\t' | '\r'),
            "{label}: control character {c:?}"
        );
    }
}

#[test]
fn a_hostile_site_cannot_crash_poison_reach_inside_or_inject() {
    // See: issue 9, cases 1–4 and 7, served by one site.
    let site = Canned::start();
    let internal = Canned::start();
    let titles = hostile_site(&site, &internal);
    let p = Project::empty();
    p.write_feed("hostile", &definition(&site.base()));
    let build = || {
        let t = Instant::now();
        let r = p.run(&["build", "--delay-ms", "0", "--report", "report.json"]);
        (r, t.elapsed())
    };
    let (first, took) = build();
    first.expect_code(0);
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert_clean_terminal("build stderr", &first.stderr);
    // Nothing ever reached the internal host: not the redirect, not the other port (published
    // from its list entry without a request), not the `localhost` next page.
    assert_eq!(internal.requests(), Vec::<String>::new());
    for needle in [
        "/admin: not on the site's origins",
        "/list/2.html is not on the site's origins; not followed",
        "link `javascript:void(0);` is not an http(s) link; entry skipped",
        "nested deeper than 256 levels; not parsed",
        "attachment link `javascript://x/%0Aalert(document.domain)//a.pdf` is not an http(s) link",
        "is outside the years 1970–9999; dated when first seen",
    ] {
        assert!(
            first.stderr.contains(needle),
            "`{needle}` missing:\n{}",
            first.stderr
        );
    }
    let site_paths = site.requests();
    assert!(
        !site_paths.iter().any(|r| r.contains("passwd")),
        "{site_paths:?}"
    );

    for name in ["hostile.rss.xml", "hostile.atom.xml", "hostile.json"] {
        let path = p.out().join(name);
        let text = fs::read_to_string(&path).unwrap();
        assert_safe_output(name, &text);
        if name.ends_with(".xml") {
            xmllint_ok(&path, name.contains("atom"));
        }
        let feed = feed_rs::parser::parse(text.as_bytes()).unwrap();
        let got: Vec<String> = feed
            .entries
            .iter()
            .map(|e| e.title.as_ref().unwrap().content.clone())
            .collect();
        for t in &titles {
            assert!(
                got.iter().any(|g| g == t),
                "{name}: `{t}` missing from {got:?}"
            );
        }
        assert!(
            got.iter().any(|g| g == "Terminal ]0;pwned escapes"),
            "{name}: {got:?}"
        );
        assert_eq!(got.len(), titles.len() + 1, "{name}: {got:?}");
        for e in &feed.entries {
            for l in &e.links {
                assert!(
                    l.href.starts_with("http://127.0.0.1:"),
                    "{name}: {}",
                    l.href
                );
            }
        }
    }
    let rss = fs::read_to_string(p.out().join("hostile.rss.xml")).unwrap();
    // The good attachment is the one enclosure, and the content links only it.
    assert_eq!(rss.matches("<enclosure").count(), 1, "{rss}");
    assert!(rss.contains(&format!("{}/f/ok.pdf", site.base())), "{rss}");
    assert!(fs::read_to_string(p.path().join("report.json"))
        .unwrap()
        .contains("\"feed\": \"hostile\""));

    // The store is not poisoned: the next run reads everything back.
    let (second, _) = build();
    second.expect_code(0);
    assert!(
        second.stderr.contains("0 new"),
        "second run:\n{}",
        second.stderr
    );
    assert_eq!(internal.requests(), Vec::<String>::new());

    // `check` prints what the site wrote, but never a raw escape.
    let check = p.run(&["check", "hostile", "--delay-ms", "0"]);
    assert_clean_terminal("check stdout", &check.stdout);
    assert_clean_terminal("check stderr", &check.stderr);
    assert_eq!(internal.requests(), Vec::<String>::new());
}

#[test]
fn hostile_notice_files_fail_alone_and_never_poison_the_store() {
    // See: issue 9, cases 1, 2, 5, 6 and 7, with the exact inputs of the report.
    let p = Project::empty();
    let outside = p.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(
        outside.join("secret.json"),
        r#"[{"title":"TOP SECRET","date":"2026-01-01"}]"#,
    )
    .unwrap();
    p.write_feed(
        "notices",
        "title = \"Feed\\u0001title\"\ndescription = \"Desc\\u0007\"\n\
         link = \"https://www.example.org/\"\n[source]\nkind = \"local\"\npath = \"../notices\"\n",
    );
    p.write_feed(
        "other",
        "title = \"Other\"\nlink = \"https://www.example.org/\"\n\
         [source]\nkind = \"local\"\npath = \"../other\"\n",
    );
    fs::create_dir_all(p.path().join("other")).unwrap();
    fs::write(
        p.path().join("other/a.md"),
        "---\ntitle: Fine\ndate: 2026-02-01\n---\nok\n",
    )
    .unwrap();
    p.write_notice(
        "far.md",
        "---\ntitle: Far future\ndate: 9999-12-31T20:00:00Z\n---\nbody\n",
    );
    p.write_notice("zero.txt", "Year zero\n\ndate\n01/01/0000\n\nbody\n");
    for (name, link) in [
        ("js.md", "javascript:alert(document.cookie)"),
        ("data.md", "data:text/html,<script>alert(1)</script>"),
        ("file.md", "file:///etc/passwd"),
    ] {
        p.write_notice(
            name,
            format!("---\ntitle: {name}\ndate: 2026-01-02\nlink: \"{link}\"\n---\nx\n"),
        );
    }
    p.write_notice(
        "quotes.md",
        format!(
            "---\ntitle: Quotes\ndate: 2026-01-03\n---\n{}\n",
            ">".repeat(200_000)
        ),
    );
    p.write_notice("good.md", "---\ntitle: Good\ndate: 2026-01-04\n---\nfine\n");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("../outside/secret.json", p.notices().join("secret.json"))
            .unwrap();
        std::os::unix::fs::symlink("../outside", p.notices().join("outdir")).unwrap();
    }
    let big = fs::File::create(p.notices().join("huge.txt")).unwrap();
    big.set_len(200 * 1024 * 1024).unwrap();

    for run in 1..=2 {
        let t = Instant::now();
        let r = p.run(&["build", "--report", "report.json"]);
        r.expect_code(1);
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "run {run}: {:?}",
            t.elapsed()
        );
        assert_clean_terminal("stderr", &r.stderr);
        for needle in [
            "far.md: date 9999-12-31T20:00:00+00:00 is outside the years 1970–9999",
            "zero.txt: date -0001-12-31T15:54:17+00:00 is outside the years 1970–9999",
            "js.md: `link`: link `javascript:alert(document.cookie)` is not an http(s) link",
            "data.md: `link`: link `data:text/html,<script>alert(1)</script>` is not an http(s) link",
            "file.md: `link`: link `file:///etc/passwd` is not an http(s) link",
            "quotes.md: body nested deeper than 256 levels",
            "huge.txt: file is 209715200 bytes",
            if run == 1 { "other: 1 new" } else { "other: 0 new" },
        ] {
            assert!(r.stderr.contains(needle), "run {run}: `{needle}` missing:\n{}", r.stderr);
        }
        #[cfg(unix)]
        for needle in ["secret.json: symbolic link to", "outdir: symbolic link to"] {
            assert!(
                r.stderr.contains(needle),
                "run {run}: `{needle}` missing:\n{}",
                r.stderr
            );
        }
        assert!(p.path().join("report.json").exists());
        for name in ["notices.rss.xml", "notices.atom.xml", "other.rss.xml"] {
            let path = p.out().join(name);
            let text = fs::read_to_string(&path).unwrap();
            assert!(!text.contains("TOP SECRET"), "{name}");
            assert_safe_output(name, &text);
            xmllint_ok(&path, name.contains("atom"));
        }
        let rss = fs::read_to_string(p.rss_path()).unwrap();
        assert!(rss.contains("<title>Feedtitle</title>"), "{rss}");
        assert_eq!(rss.matches("<item>").count(), 1, "{rss}");
    }
}

#[test]
fn a_store_poisoned_by_an_older_build_is_read_around_not_fatal() {
    // See: issue 9, case 1: rows an older build stored (`9999-12-31T20:00:00Z`, year 10000 in
    // Shanghai, and `-0001-12-31T15:54:17Z` from `01/01/0000`) crashed or failed every later run.
    let p = Project::empty();
    p.write_feed(
        "notices",
        "title = \"N\"\nlink = \"https://www.example.org/\"\n\
         [source]\nkind = \"local\"\npath = \"../notices\"\n",
    );
    p.write_notice("good.md", "---\ntitle: Good\ndate: 2026-01-04\n---\nfine\n");
    p.build().expect_code(0);
    let db = rusqlite::Connection::open(p.path().join(".noticefeed/state.sqlite")).unwrap();
    for (guid, published) in [
        (
            "urn:uuid:00000000-0000-5000-8000-000000000001",
            "9999-12-31T20:00:00.000000000Z",
        ),
        (
            "urn:uuid:00000000-0000-5000-8000-000000000002",
            "-0001-12-31T15:54:17.000000000Z",
        ),
    ] {
        db.execute(
            "INSERT INTO item (feed, guid, link, link_key, title, published, date_estimated,
               updated, summary, content_html, authors, categories, attachments, content_hash,
               first_seen, last_changed)
             SELECT feed, ?1, NULL, NULL, 'Poison', ?2, 0, ?2, summary, content_html, authors,
               categories, attachments, content_hash, first_seen, last_changed
             FROM item LIMIT 1",
            (guid, published),
        )
        .unwrap();
    }
    drop(db);
    p.write_notice("more.md", "---\ntitle: More\ndate: 2026-01-05\n---\nmore\n");
    for _ in 0..2 {
        let r = p.build();
        assert!(r.code == 0 || r.code == 1, "exit {}:\n{}", r.code, r.stderr);
        assert_clean_terminal("stderr", &r.stderr);
        for needle in [
            "stored notice urn:uuid:00000000-0000-5000-8000-000000000001 is dated 9999-12-31T20:00:00+00:00",
            "stored notice urn:uuid:00000000-0000-5000-8000-000000000002 cannot be read back",
        ] {
            assert!(r.stderr.contains(needle), "`{needle}` missing:\n{}", r.stderr);
        }
        for name in ["notices.rss.xml", "notices.atom.xml", "notices.json"] {
            let path = p.out().join(name);
            let text = fs::read_to_string(&path).unwrap();
            assert!(!text.contains("Poison"), "{name}");
            assert!(text.contains("More") && text.contains("Good"), "{name}");
            if name.ends_with(".xml") {
                xmllint_ok(&path, name.contains("atom"));
            }
        }
    }
}
