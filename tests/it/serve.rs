//! `noticefeed serve` as a client sees it: the real binary on 127.0.0.1 (port 0, the bound
//! address read from its start-up line), real HTTP requests (reqwest; raw request lines over a
//! socket for the traversal spellings an HTTP library would normalize away), newsboat
//! subscribed over HTTP, and `--every` rebuilding until SIGTERM.

// Tests may unwrap (STYLE.md §4): a panic with its message is the report.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::HeaderMap;

use crate::reader::{newsboat_available, Reader};
use crate::support::{bin, Project};

/// A running `noticefeed -v serve …`, stopped (SIGTERM, then kill) when dropped.
pub struct Serving {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    log: Arc<Mutex<String>>,
}

impl Serving {
    /// Runs `noticefeed -v ARGS` in `cwd` and waits for the address it bound.
    pub fn start(cwd: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(bin())
            .current_dir(cwd)
            .arg("-v")
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("noticefeed serve starts");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut s = Self {
            child: Some(child),
            base: String::new(),
            log,
        };
        let line = s.wait_for("the start-up line", |l| l.contains(" at http://"));
        let at = line.find(" at http://").unwrap() + 4;
        s.base = line[at..]
            .lines()
            .next()
            .unwrap()
            .trim_end_matches('/')
            .to_owned();
        s
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits (30 s at most) until the log satisfies `done`; returns the log.
    #[track_caller]
    pub fn wait_for(&mut self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log();
            if done(&log) {
                return log;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("serve exited ({status}) before {what}:\n{log}");
            }
            assert!(Instant::now() < deadline, "no {what} within 30 s:\n{log}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM; returns the exit code (waits 30 s at most).
    pub fn stop(&mut self) -> i32 {
        self.signal("-TERM")
    }

    /// Sends `signal` (`-TERM`, `-INT`) to the server alone; returns its exit code.
    pub fn signal(&mut self, signal: &str) -> i32 {
        let mut child = self.child.take().unwrap();
        let ok = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {signal} failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "serve did not stop within 30 s of {signal}:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One HTTP response.
#[derive(Debug)]
pub struct Got {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Got {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// A request with reqwest. `decode`: let reqwest negotiate and decompress (proves the body is
/// valid gzip/brotli); otherwise the body and `Content-Encoding` are as sent.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], decode: bool) -> Got {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut b = reqwest::Client::builder().timeout(Duration::from_secs(20));
        if !decode {
            b = b.no_gzip().no_brotli().no_deflate();
        }
        let client = b.build().unwrap();
        let mut req = client.request(method.parse().unwrap(), url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.unwrap();
        Got {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body: res.bytes().await.unwrap().to_vec(),
        }
    })
}

pub fn get(url: &str, headers: &[(&str, &str)]) -> Got {
    request("GET", url, headers, false)
}

/// The status of a request line sent as is (`target` is not normalized by any library).
fn raw_status(base: &str, target: &str) -> u16 {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line for {target:?}: {text:?}"));
    assert!(
        !text.contains("secret"),
        "{target:?} leaked a file outside the folder: {text}"
    );
    status
}

/// RFC 7231 IMF-fixdate, by chrono (the test must not reuse the server's formatter).
fn httpdate(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// A built project with one file of every other kind the server knows beside the feeds.
fn built() -> Project {
    let p = Project::bundled();
    p.build().expect_code(0);
    fs::write(
        p.out().join("index.html"),
        "<!doctype html><title>通知</title>\n",
    )
    .unwrap();
    fs::write(p.out().join("notices.json"), "{\"version\": \"x\"}\n").unwrap();
    fs::write(
        p.out().join("feeds.opml"),
        "<opml version=\"2.0\"></opml>\n",
    )
    .unwrap();
    p
}

#[test]
fn each_kind_has_its_type_validators_and_max_age() {
    let p = built();
    let mut s = Serving::start(
        p.path(),
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--out",
            "public",
            "--max-age",
            "2m",
        ],
    );
    for (name, ty) in [
        ("notices.rss.xml", "application/rss+xml; charset=utf-8"),
        ("notices.atom.xml", "application/atom+xml; charset=utf-8"),
        ("notices.json", "application/feed+json; charset=utf-8"),
        ("feeds.opml", "text/x-opml; charset=utf-8"),
        ("index.html", "text/html; charset=utf-8"),
    ] {
        let file = p.out().join(name);
        let got = get(&s.url(&format!("/{name}")), &[]);
        assert_eq!(got.status, 200, "{name}");
        assert_eq!(got.header("content-type"), Some(ty), "{name}");
        assert_eq!(
            got.body,
            fs::read(&file).unwrap(),
            "{name}: the bytes as written"
        );
        assert_eq!(got.header("cache-control"), Some("public, max-age=120"));
        assert_eq!(
            got.header("content-length"),
            Some(fs::metadata(&file).unwrap().len().to_string().as_str())
        );
        let etag = got.header("etag").unwrap();
        assert!(
            etag.starts_with('"') && etag.ends_with('"') && etag.len() > 20,
            "a strong ETag: {etag}"
        );
        assert_eq!(
            got.header("last-modified"),
            Some(httpdate(fs::metadata(&file).unwrap().modified().unwrap()).as_str())
        );
        assert_eq!(got.header("vary"), Some("accept-encoding"));
    }
    // `/` is index.html; without one it is not found (never a listing).
    let root = get(&s.url("/"), &[]);
    assert_eq!(root.status, 200);
    assert!(String::from_utf8(root.body).unwrap().contains("通知"));
    fs::remove_file(p.out().join("index.html")).unwrap();
    assert_eq!(get(&s.url("/"), &[]).status, 404);
    s.wait_for("request lines", |l| {
        l.contains("\"GET /notices.rss.xml\" 200")
    });
    assert_eq!(s.stop(), 0);
}

#[test]
fn conditional_requests_get_304_and_a_changed_file_200() {
    let p = built();
    let mut s = Serving::start(
        p.path(),
        &["serve", "--bind", "127.0.0.1:0", "--out", "public"],
    );
    let url = s.url("/notices.rss.xml");
    let first = get(&url, &[]);
    let etag = first.header("etag").unwrap().to_owned();
    let modified = first.header("last-modified").unwrap().to_owned();

    let by_tag = get(&url, &[("if-none-match", &etag)]);
    assert_eq!(by_tag.status, 304);
    assert!(by_tag.body.is_empty());
    assert_eq!(by_tag.header("etag"), Some(etag.as_str()));
    assert_eq!(by_tag.header("cache-control"), Some("public, max-age=300"));
    let in_list = get(&url, &[("if-none-match", &format!("\"nope\", {etag}"))]);
    assert_eq!(in_list.status, 304);
    assert_eq!(get(&url, &[("if-none-match", "\"nope\"")]).status, 200);

    let by_date = get(&url, &[("if-modified-since", &modified)]);
    assert_eq!(by_date.status, 304);
    assert_eq!(by_date.header("etag"), Some(etag.as_str()));
    let earlier = httpdate(SystemTime::now() - Duration::from_secs(86_400 * 365));
    assert_eq!(get(&url, &[("if-modified-since", &earlier)]).status, 200);
    // If-None-Match wins: a stale tag with a current date is a full answer (RFC 9110 13.2.2).
    assert_eq!(
        get(
            &url,
            &[
                ("if-none-match", "\"old\""),
                ("if-modified-since", &modified)
            ]
        )
        .status,
        200
    );

    // A new version (written as `build` writes: rename) is served at once, with a new tag.
    p.write_notice(
        "2026-12-01-new.txt",
        "新通知\n\ndate\n01/12/2026\n\n正文。\n",
    );
    p.build().expect_code(0);
    let changed = get(&url, &[("if-none-match", &etag)]);
    assert_eq!(changed.status, 200);
    assert_ne!(changed.header("etag"), Some(etag.as_str()));
    assert_eq!(changed.body, fs::read(p.rss_path()).unwrap());
    assert!(String::from_utf8_lossy(&changed.body).contains("新通知"));
    let log = s.log();
    assert!(log.contains("\"GET /notices.rss.xml\" 304"), "{log}");
    assert_eq!(s.stop(), 0);
}

#[test]
fn gzip_and_brotli_by_accept_encoding_and_head() {
    let p = built();
    let mut s = Serving::start(
        p.path(),
        &["serve", "--bind", "127.0.0.1:0", "--out", "public"],
    );
    let url = s.url("/notices.atom.xml");
    let file = fs::read(p.atom_path()).unwrap();
    let plain = get(&url, &[]);
    let tag = plain.header("etag").unwrap().trim_matches('"').to_owned();
    for (accept, coding) in [
        ("gzip", "gzip"),
        ("br", "br"),
        ("gzip;q=0.5, br;q=1", "br"),
        ("br;q=0, gzip", "gzip"),
    ] {
        let got = get(&url, &[("accept-encoding", accept)]);
        assert_eq!(got.status, 200, "{accept}");
        assert_eq!(got.header("content-encoding"), Some(coding), "{accept}");
        assert_eq!(got.header("vary"), Some("accept-encoding"));
        assert!(got.body.len() < file.len() / 2, "{accept}: compressed");
        // Another representation, another strong tag; revalidating it gives 304.
        let etag = format!("\"{tag}-{coding}\"");
        assert_eq!(got.header("etag"), Some(etag.as_str()));
        let again = get(
            &url,
            &[("accept-encoding", accept), ("if-none-match", &etag)],
        );
        assert_eq!(again.status, 304);
        assert_eq!(again.header("etag"), Some(etag.as_str()));
        // reqwest decodes it back to exactly the file.
        let decoded = request("GET", &url, &[("accept-encoding", coding)], true);
        assert_eq!(decoded.body, file, "{coding} decodes to the file");
    }
    let identity = get(&url, &[("accept-encoding", "identity")]);
    assert_eq!(identity.header("content-encoding"), None);
    assert_eq!(identity.body, file);

    let head = request("HEAD", &url, &[], false);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(file.len().to_string().as_str())
    );
    for h in ["content-type", "etag", "last-modified", "cache-control"] {
        assert_eq!(head.header(h), plain.header(h), "HEAD {h}");
    }
    let head_gz = request("HEAD", &url, &[("accept-encoding", "gzip")], false);
    assert_eq!(head_gz.header("content-encoding"), Some("gzip"));
    assert!(head_gz.body.is_empty());
    let head_304 = request(
        "HEAD",
        &url,
        &[("if-none-match", plain.header("etag").unwrap())],
        false,
    );
    assert_eq!(head_304.status, 304);

    assert_eq!(request("POST", &url, &[], false).status, 405);
    assert_eq!(s.stop(), 0);
}

#[test]
fn everything_else_is_404_and_no_traversal_spelling_gets_out() {
    let p = built();
    fs::write(p.path().join("secret.html"), "secret").unwrap();
    fs::write(p.out().join("state.sqlite"), "secret").unwrap();
    fs::write(p.out().join(".noticefeed-x.tmp"), "secret").unwrap();
    fs::create_dir(p.out().join("sub")).unwrap();
    fs::write(p.out().join("sub/page.html"), "inside").unwrap();
    std::os::unix::fs::symlink(p.path().join("secret.html"), p.out().join("leak.html")).unwrap();
    std::os::unix::fs::symlink(p.path(), p.out().join("up")).unwrap();
    std::os::unix::fs::symlink(p.rss_path(), p.out().join("alias.rss.xml")).unwrap();
    let mut s = Serving::start(
        p.path(),
        &["serve", "--bind", "127.0.0.1:0", "--out", "public"],
    );

    assert_eq!(
        raw_status(&s.base, "/sub/page.html"),
        200,
        "a subfolder is served"
    );
    assert_eq!(
        raw_status(&s.base, "/alias.rss.xml"),
        200,
        "a symlink inside is fine"
    );
    for target in [
        "/missing.rss.xml",
        "/state.sqlite",
        "/.noticefeed-x.tmp",
        "/sub",
        "/sub/",
        "/leak.html",
        "/up/secret.html",
        "/../secret.html",
        "/sub/../../secret.html",
        "/%2e%2e/secret.html",
        "/%2E%2E/secret.html",
        "/.%2e/secret.html",
        "/sub/%2e%2e/%2e%2e/secret.html",
        "/..%2fsecret.html",
        "/..%2Fsecret.html",
        "/sub%2fpage.html",
        "/..%5csecret.html",
        "/..%5Csecret.html",
        "/%5c..%5csecret.html",
        "/%252e%252e/secret.html",
        "/./notices.rss.xml",
        "//notices.rss.xml",
        "/notices.rss.xml%00",
        "/notices.rss.xml/",
        "/%c0%ae%c0%ae/secret.html",
    ] {
        let status = raw_status(&s.base, target);
        assert_eq!(status, 404, "{target}");
    }
    // Spellings hyper refuses before any file is looked at.
    for target in ["/..\\secret.html", "/sub\\..\\..\\secret.html"] {
        let status = raw_status(&s.base, target);
        assert!(matches!(status, 400 | 404), "{target}: {status}");
    }
    assert_eq!(s.stop(), 0);
}

#[test]
fn every_rebuilds_on_schedule_and_sigterm_stops_with_0() {
    let p = Project::bundled();
    let mut s = Serving::start(
        p.path(),
        &[
            "--feeds",
            "feeds",
            "--state",
            "state.sqlite",
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--out",
            "public",
            "--every",
            "1s",
        ],
    );
    // The first build at start-up.
    s.wait_for("the first build", |l| l.contains("notices: 10 new"));
    assert_eq!(get(&s.url("/notices.rss.xml"), &[]).status, 200);
    p.write_notice(
        "2026-12-01-new.txt",
        "新通知\n\ndate\n01/12/2026\n\n正文。\n",
    );
    s.wait_for("a scheduled rebuild", |l| l.contains("notices: 1 new"));
    let rss = get(&s.url("/notices.rss.xml"), &[]);
    let rss = String::from_utf8(rss.body).unwrap();
    assert!(rss.contains("新通知"));
    // Without a public URL set, the feeds' self links are where this server answers.
    let me = format!("href=\"{}/notices.rss.xml\"", s.base);
    assert!(rss.contains(&me), "{me} in\n{rss}");
    s.wait_for("an unchanged rebuild", |l| {
        l.contains("notices: 0 new, 0 updated, 11 unchanged; 11 items, 0 files written")
    });
    assert_eq!(s.stop(), 0, "{}", s.log());
    assert!(!p.out().read_dir().unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".tmp")));
}

/// newsboat 2.x keeps a feed's validators only once the feed is in its cache: the first fetch
/// of a new subscription stores them into a row that does not exist yet (its debug log shows
/// the `UPDATE rss_feed SET … etag` before the `INSERT INTO rss_feed`). So the first reload
/// that can be conditional is the one after the subscription's first; from then on every
/// unchanged feed is a `304`.
#[test]
fn ctrl_c_stops_it_with_0_and_a_held_lock_skips_a_run() {
    let p = Project::bundled();
    // A cron build holding the store's lock: serve's scheduled run says so and goes on serving.
    let lock = fs::File::create(p.path().join("state.sqlite.lock")).unwrap();
    fs4::fs_std::FileExt::try_lock_exclusive(&lock).unwrap();
    let mut s = Serving::start(
        p.path(),
        &[
            "--feeds",
            "feeds",
            "--state",
            "state.sqlite",
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--out",
            "public",
            "--every",
            "1s",
        ],
    );
    s.wait_for("the skipped run", |l| {
        l.contains("another noticefeed run holds")
    });
    assert_eq!(get(&s.url("/notices.rss.xml"), &[]).status, 404);
    fs4::fs_std::FileExt::unlock(&lock).unwrap();
    s.wait_for("the next run", |l| l.contains("notices: 10 new"));
    assert_eq!(get(&s.url("/notices.rss.xml"), &[]).status, 200);
    assert_eq!(s.signal("-INT"), 0, "{}", s.log());
}

#[test]
fn newsboat_over_http_revalidates_and_gets_304() {
    if !newsboat_available() {
        return;
    }
    let p = Project::bundled();
    p.build().expect_code(0);
    let mut s = Serving::start(
        p.path(),
        &["serve", "--bind", "127.0.0.1:0", "--out", "public"],
    );
    let reader =
        Reader::subscribe_urls(vec![s.url("/notices.rss.xml"), s.url("/notices.atom.xml")]);
    let count = |log: &str, status: &str| {
        log.lines()
            .filter(|l| l.contains("\"GET /notices.") && l.contains(&format!("\" {status}")))
            .count()
    };
    // Subscribing: the first fetch, then the first reload of a cached feed.
    assert_eq!(reader.reload(), 10);
    assert_eq!(reader.reload(), 10);
    let log = s.wait_for("the first reloads' requests", |l| count(l, "200") == 4);
    assert_eq!(count(&log, "304"), 0, "{log}");
    // newsboat now holds our validators and asks conditionally: nothing is downloaded again.
    assert_eq!(reader.reload(), 10, "nothing new, nothing unread again");
    let log = s.wait_for("the conditional reload's requests", |l| {
        count(l, "304") == 2
    });
    assert_eq!(
        count(&log, "200"),
        4,
        "no full download on the conditional reload:\n{log}"
    );
    assert_eq!(reader.reload(), 10);
    s.wait_for("the next conditional reload", |l| count(l, "304") == 4);

    // A changed feed is downloaded again, and its new notice comes up. Last-Modified has whole
    // seconds, and libcurl (newsboat's HTTP client) drops a 200 whose Last-Modified is not
    // after its If-Modified-Since: a change within the second of the previous one would be
    // missed by such a client until the next change. Builds are minutes apart; here, wait.
    std::thread::sleep(Duration::from_millis(1100));
    p.write_notice(
        "2026-12-01-new.txt",
        "新通知\n\ndate\n01/12/2026\n\n正文。\n",
    );
    p.build().expect_code(0);
    let unread = reader.reload();
    assert_eq!(unread, 11, "{}", s.log());
    s.wait_for("the changed feeds' downloads", |l| count(l, "200") == 6);
    assert_eq!(s.stop(), 0);
}
