//! Cron-grade regeneration, run as cron runs it: the real binary, a store that lives across
//! runs, and the chinania mirror served on 127.0.0.1 (a copy of it when a test changes the
//! site). Conditional reruns that move nothing, one new item for one new notice, an edit seen
//! with `--refresh`, an archive that outlives the list page, a failing source that blanks
//! nothing, SIGKILL at random moments, two builds on one store, and `list`. See: #4.

// Tests may unwrap (STYLE.md §4): a panic with its message is the report.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, FixedOffset};
use serde_json::Value;
use tempfile::TempDir;

use crate::server::Server;
use crate::support::{self, entries, parse_feed, run_in, Run};

const ORIGIN: &str = "https://www.chinania.org.cn";
const JQZS: &str = "chinania-jqzs";
const ZCFG: &str = "chinania-zhengcefagui";
const XHTZ: &str = "chinania-xiehuitongzhi";
const ZCFG_LIST: &str = "html/zcfg/zhengcefagui/index.html";

fn mirror_root() -> PathBuf {
    support::fixture("chinania")
}

/// A writable copy of the mirror, for tests that change the site.
fn mirror_copy() -> TempDir {
    let copy = tempfile::tempdir().unwrap();
    support::copy_dir(&mirror_root(), copy.path());
    copy
}

/// A cron job's working folder: `feeds/` (the chinania site preset, the named channels and,
/// when asked, a local feed over the repository's `notices/`), `state/state.sqlite`, `public/`.
struct Job {
    dir: TempDir,
}

impl Job {
    fn new(channels: &[&str], local: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let feeds = dir.path().join("feeds");
        support::copy_dir(&support::repo().join("feeds/sites"), &feeds.join("sites"));
        for id in channels {
            let name = format!("{id}.toml");
            fs::copy(support::repo().join("feeds").join(&name), feeds.join(&name)).unwrap();
        }
        if local {
            let toml = fs::read_to_string(support::repo().join("feeds/notices.toml")).unwrap();
            let notices = support::repo().join("notices");
            let toml = toml.replace(
                "path = \"../notices\"",
                &format!("path = {:?}", notices.display().to_string()),
            );
            assert!(toml.contains(&notices.display().to_string()), "{toml}");
            fs::write(feeds.join("notices.toml"), toml).unwrap();
        }
        Job { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn state(&self) -> PathBuf {
        self.path().join("state/state.sqlite")
    }

    fn out(&self) -> PathBuf {
        self.path().join("public")
    }

    fn atom(&self, id: &str) -> PathBuf {
        self.out().join(format!("{id}.atom.xml"))
    }

    fn rss(&self, id: &str) -> PathBuf {
        self.out().join(format!("{id}.rss.xml"))
    }

    /// Global flags against the mirror at `base`, then `cmd` and its arguments.
    fn args(&self, base: &str, delay_ms: u32, cmd: &str, extra: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "--feeds".into(),
            self.path().join("feeds").display().to_string(),
            "--state".into(),
            self.state().display().to_string(),
            "--mirror".into(),
            format!("{ORIGIN}={base}"),
            "--delay-ms".into(),
            delay_ms.to_string(),
            cmd.into(),
        ];
        if cmd == "build" {
            a.extend(["--out".into(), self.out().display().to_string()]);
        }
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    }

    fn build(&self, base: &str, extra: &[&str]) -> Run {
        run_in(self.path(), self.args(base, 0, "build", extra), &[])
    }

    /// `build` in the background, `--delay-ms delay_ms`, output captured.
    fn spawn(&self, base: &str, delay_ms: u32, extra: &[&str], output: bool) -> Child {
        let pipe = || {
            if output {
                Stdio::piped()
            } else {
                Stdio::null()
            }
        };
        Command::new(support::bin())
            .current_dir(self.path())
            .args(self.args(base, delay_ms, "build", extra))
            .env_remove("RUST_LOG")
            .stdout(pipe())
            .stderr(pipe())
            .spawn()
            .unwrap()
    }

    fn list(&self) -> Run {
        run_in(
            self.path(),
            self.args("http://127.0.0.1:9", 0, "list", &[]),
            &[],
        )
    }

    /// Bytes and mtime of both files of `id`.
    fn snapshot(&self, id: &str) -> Vec<(PathBuf, Vec<u8>, SystemTime)> {
        [self.rss(id), self.atom(id)]
            .into_iter()
            .map(|p| {
                let bytes = fs::read(&p).unwrap();
                let mtime = support::mtime(&p);
                (p, bytes, mtime)
            })
            .collect()
    }
}

#[track_caller]
fn assert_untouched(before: &[(PathBuf, Vec<u8>, SystemTime)]) {
    for (p, bytes, mtime) in before {
        assert!(fs::read(p).unwrap() == *bytes, "{} changed", p.display());
        assert_eq!(support::mtime(p), *mtime, "{} was rewritten", p.display());
    }
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
fn closed_port_base() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// The `<entry>` elements of an Atom document, by `<id>`, byte for byte.
fn atom_entries(path: &Path) -> BTreeMap<String, String> {
    let text = fs::read_to_string(path).unwrap();
    let mut out = BTreeMap::new();
    for chunk in text.split("<entry>").skip(1) {
        let entry = &chunk[..chunk.find("</entry>").unwrap()];
        out.insert(between(entry, "<id>", "</id>").to_owned(), entry.to_owned());
    }
    out
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> &'a str {
    let start = s.find(open).unwrap_or_else(|| panic!("no {open} in {s}")) + open.len();
    let len = s[start..].find(close).unwrap();
    &s[start..start + len]
}

fn rfc3339(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Link → id of every entry of a feed file.
fn ids_by_link(path: &Path) -> BTreeMap<String, String> {
    entries(&parse_feed(path))
        .into_iter()
        .map(|e| (e.link.unwrap(), e.id))
        .collect()
}

/// Replaces `from` (which must be there) in a file of the mirror copy.
fn edit(file: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{} lacks {from}", file.display());
    fs::write(file, text.replacen(from, to, 1)).unwrap();
}

/// Deletes the `<li>` of a list page that links to `href`.
fn remove_entry(list: &Path, href: &str) {
    let text = fs::read_to_string(list).unwrap();
    let at = text.find(&format!("href=\"{href}\"")).unwrap();
    let start = text[..at].rfind("<li").unwrap();
    let end = at + text[at..].find("</li>").unwrap() + "</li>".len();
    fs::write(list, format!("{}{}", &text[..start], &text[end..])).unwrap();
}

/// The stderr lines that mention `needle`.
fn lines_with<'a>(stderr: &'a str, needle: &str) -> Vec<&'a str> {
    stderr.lines().filter(|l| l.contains(needle)).collect()
}

fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn rerun_of_an_unchanged_site_makes_only_conditional_list_requests_and_moves_nothing() {
    let server = Server::start(&mirror_root());
    let job = Job::new(&[JQZS, ZCFG], false);
    let first = job.build(&server.base(), &[]);
    first.expect_code(0);
    assert!(
        first.stderr.contains(&format!("{ZCFG}: 6 new,")),
        "{}",
        first.stderr
    );
    let before: Vec<_> = [JQZS, ZCFG]
        .iter()
        .flat_map(|id| job.snapshot(id))
        .collect();
    server.clear_log();
    std::thread::sleep(Duration::from_millis(20));

    let started = Instant::now();
    let second = job.build(&server.base(), &[]);
    let took = started.elapsed();
    second.expect_code(0);

    let reqs = server.requests();
    let lists: Vec<_> = reqs.iter().filter(|r| r.target != "/robots.txt").collect();
    let mut targets: Vec<&str> = lists.iter().map(|r| r.target.as_str()).collect();
    targets.sort();
    assert_eq!(
        targets,
        ["/html/hangyetongji/jqzs/", "/html/zcfg/zhengcefagui/"],
        "one request per list page and no other: {reqs:#?}"
    );
    for r in &lists {
        assert_eq!(r.method, "GET", "{r:?}");
        assert!(r.if_none_match.is_some(), "not conditional: {r:?}");
        assert_eq!(r.status, 304, "{r:?}");
    }
    assert!(reqs.iter().all(|r| r.method == "GET"), "no HEAD: {reqs:#?}");
    assert_untouched(&before);
    for id in [JQZS, ZCFG] {
        let line = lines_with(&second.stderr, &format!("{id}:"));
        assert_eq!(line.len(), 1, "{}", second.stderr);
        assert!(line[0].contains(": 0 new, 0 updated,"), "{}", line[0]);
        assert!(line[0].contains(", 0 files written"), "{}", line[0]);
    }
    eprintln!(
        "rerun: {took:?}, {} requests ({} conditional list requests)",
        reqs.len(),
        lists.len()
    );
}

/// A new notice, later than every other, at the top of the zhengcefagui list.
const NEW_PATH: &str = "/html/zcfg/zhengcefagui/2026/0930/69999.html";
const NEW_TITLE: &str = "关于发布《再生铜原料回收利用规范》的公告";

fn add_notice(copy: &Path) {
    let detail = fs::read_to_string(copy.join("html/zcfg/zhengcefagui/2026/0918/62026.html"))
        .unwrap()
        .replace(
            "工业和信息化部关于印发《铜冶炼行业规范条件（2026年本）》的公告",
            NEW_TITLE,
        )
        .replace("发布时间：2026-09-18 10:58", "发布时间：2026-09-30 16:20");
    assert!(detail.contains(NEW_TITLE) && detail.contains("2026-09-30 16:20"));
    let file = copy.join(NEW_PATH.trim_start_matches('/'));
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(file, detail).unwrap();
    let li = format!(
        "<ul class=\"notice_list_ul\">\n\t\t\t<li>\n\t\t\t\t<a href=\"{NEW_PATH}\" target=\"_blank\">\
         \n\t\t\t\t\t<div class=\"notice_list_txt\">\
         \n\t\t\t\t\t\t<p class=\"notice_list_title\">{NEW_TITLE}</p>\
         \n\t\t\t\t\t\t<p class=\"notice_list_time\">2026-09-30</p>\
         \n\t\t\t\t\t</div>\n\t\t\t\t</a>\n\t\t\t</li>"
    );
    edit(&copy.join(ZCFG_LIST), "<ul class=\"notice_list_ul\">", &li);
}

#[test]
fn a_new_notice_on_the_site_is_exactly_one_new_item_first_in_the_feed() {
    let copy = mirror_copy();
    let server = Server::start(copy.path());
    let job = Job::new(&[ZCFG], false);
    job.build(&server.base(), &[]).expect_code(0);
    let old = ids_by_link(&job.atom(ZCFG));
    assert_eq!(old.len(), 6);

    add_notice(copy.path());
    server.clear_log();
    let run = job.build(&server.base(), &[]);
    run.expect_code(0);
    assert!(
        run.stderr.contains(&format!(
            "{ZCFG}: 1 new, 0 updated, 6 unchanged; 7 items, 4 files written"
        )),
        "{}",
        run.stderr
    );
    // Only the new notice's detail page was asked for.
    let details: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.target.contains("/2026/"))
        .map(|r| r.target)
        .collect();
    assert_eq!(details, [NEW_PATH]);

    for file in [job.atom(ZCFG), job.rss(ZCFG)] {
        let seen = entries(&parse_feed(&file));
        assert_eq!(seen.len(), 7, "{}", file.display());
        assert_eq!(
            seen[0].link.as_deref(),
            Some(format!("{ORIGIN}{NEW_PATH}").as_str())
        );
        assert_eq!(seen[0].title, NEW_TITLE);
        assert_eq!(seen[0].date.as_deref(), Some("2026-09-30T08:20:00Z"));
        assert!(!old.values().any(|id| *id == seen[0].id), "a fresh GUID");
        let now = ids_by_link(&file);
        for (link, id) in &old {
            assert_eq!(now.get(link), Some(id), "{link}: GUID moved");
        }
    }
}

#[test]
fn an_edited_notice_moves_its_updated_with_refresh_and_nothing_else() {
    let copy = mirror_copy();
    let server = Server::start(copy.path());
    let job = Job::new(&[ZCFG], false);
    job.build(&server.base(), &[]).expect_code(0);
    let before = atom_entries(&job.atom(ZCFG));
    let before_rss = fs::read_to_string(job.rss(ZCFG)).unwrap();
    let edited_link = format!("{ORIGIN}/html/zcfg/zhengcefagui/2026/0821/61793.html");
    let edited_id = ids_by_link(&job.atom(ZCFG))[&edited_link].clone();

    edit(
        &copy
            .path()
            .join("html/zcfg/zhengcefagui/2026/0821/61793.html"),
        "从总体架构、建设内容和实施路径等方面",
        "从总体架构、建设内容、标准体系和实施路径等方面",
    );
    // Without --refresh the known detail page is not asked for again.
    let snapshot = job.snapshot(ZCFG);
    let plain = job.build(&server.base(), &[]);
    plain.expect_code(0);
    assert!(
        plain
            .stderr
            .contains(&format!("{ZCFG}: 0 new, 0 updated, 6 unchanged")),
        "{}",
        plain.stderr
    );
    assert_untouched(&snapshot);

    let run = job.build(&server.base(), &["--refresh"]);
    run.expect_code(0);
    assert!(
        run.stderr.contains(&format!(
            "{ZCFG}: 0 new, 1 updated, 5 unchanged; 6 items, 4 files written"
        )),
        "{}",
        run.stderr
    );
    let after = atom_entries(&job.atom(ZCFG));
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "same GUIDs, none new"
    );
    for (id, entry) in &after {
        if *id == edited_id {
            continue;
        }
        assert_eq!(entry, &before[id], "{id} moved");
    }
    let (old, new) = (&before[&edited_id], &after[&edited_id]);
    assert!(new.contains("标准体系"), "{new}");
    let (was, now) = (
        rfc3339(between(old, "<updated>", "</updated>")),
        rfc3339(between(new, "<updated>", "</updated>")),
    );
    assert!(now > was, "updated {was} -> {now}");
    assert_eq!(
        between(old, "<published>", "</published>"),
        between(new, "<published>", "</published>")
    );
    // The feed's own <updated> is that newest change.
    let feed = fs::read_to_string(job.atom(ZCFG)).unwrap();
    assert_eq!(rfc3339(between(&feed, "<updated>", "</updated>")), now);
    // RSS: same GUIDs; only the edited item's text differs.
    let rss_after = fs::read_to_string(job.rss(ZCFG)).unwrap();
    let items = |t: &str| -> Vec<String> {
        t.split("<item>")
            .skip(1)
            .map(|c| c[..c.find("</item>").unwrap()].to_owned())
            .collect()
    };
    let (bi, ai) = (items(&before_rss), items(&rss_after));
    assert_eq!(bi.len(), ai.len());
    let differing: Vec<_> = bi.iter().zip(&ai).filter(|(b, a)| b != a).collect();
    assert_eq!(differing.len(), 1);
    assert!(differing[0].1.contains(&edited_id));
}

#[test]
fn notices_gone_from_the_list_page_stay_in_the_feed() {
    let copy = mirror_copy();
    let server = Server::start(copy.path());
    let job = Job::new(&[ZCFG], false);
    job.build(&server.base(), &[]).expect_code(0);
    let ids = ids_by_link(&job.atom(ZCFG));
    let snapshot = job.snapshot(ZCFG);

    let list = copy.path().join(ZCFG_LIST);
    remove_entry(&list, "/html/zcfg/zhengcefagui/2026/0918/62026.html");
    remove_entry(&list, "/html/zcfg/zhengcefagui/2026/0714/61500.html");
    let run = job.build(&server.base(), &[]);
    run.expect_code(0);
    assert!(
        run.stderr.contains(&format!(
            "{ZCFG}: 0 new, 0 updated, 4 unchanged; 6 items, 0 files written"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(ids_by_link(&job.atom(ZCFG)), ids);
    assert_untouched(&snapshot);
    let listed = job.list();
    listed.expect_code(0);
    let row = lines_with(&listed.stdout, &format!("{ZCFG}\t"));
    assert!(
        row[0].split('\t').any(|c| c == "6"),
        "archive of 6: {}",
        row[0]
    );
}

#[test]
fn a_failing_source_keeps_its_files_and_the_other_feeds_are_written() {
    let copy = mirror_copy();
    let server = Server::start(copy.path());
    let job = Job::new(&[JQZS, ZCFG], true);
    job.build(&server.base(), &[]).expect_code(0);
    let kept = job.snapshot(ZCFG);
    let list_url = format!("{ORIGIN}/html/zcfg/zhengcefagui/");

    // The channel's list page is gone (404); the local feed's files are gone too, so
    // "written" shows.
    fs::remove_file(copy.path().join(ZCFG_LIST)).unwrap();
    fs::remove_file(job.atom("notices")).unwrap();
    fs::remove_file(job.rss("notices")).unwrap();
    let report = job.path().join("report.json");
    let run = job.build(&server.base(), &["--report", report.to_str().unwrap()]);
    run.expect_code(1);
    assert_untouched(&kept);
    assert!(job.atom("notices").exists() && job.rss("notices").exists());
    let failure = lines_with(&run.stderr, ZCFG);
    assert_eq!(
        failure.len(),
        1,
        "one line for the failed feed:\n{}",
        run.stderr
    );
    let failure = failure[0];
    assert!(
        failure.starts_with(&format!("error: {ZCFG}: FAILED")),
        "{failure}"
    );
    assert!(
        failure.contains(&list_url) && failure.contains("404"),
        "{failure}"
    );
    assert!(
        run.stderr
            .contains(&format!("{JQZS}: 0 new, 0 updated, 6 unchanged")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("notices: 0 new, 0 updated, 10 unchanged; 10 items, 2 files written"),
        "{}",
        run.stderr
    );
    eprintln!("a failed run's stderr:\n{}", run.stderr);

    let report: Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    assert_eq!(report["ok"], false);
    let feeds: BTreeMap<&str, &Value> = report["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["feed"].as_str().unwrap(), f))
        .collect();
    assert_eq!(
        feeds.keys().copied().collect::<Vec<_>>(),
        [JQZS, ZCFG, "notices"]
    );
    let f = feeds[ZCFG];
    assert_eq!(f["ok"], false);
    assert!(f["error"].as_str().unwrap().contains(&list_url), "{f}");
    for (id, unchanged) in [(JQZS, 6), ("notices", 10)] {
        let f = feeds[id];
        assert_eq!(f["ok"], true, "{f}");
        assert_eq!(f["error"], Value::Null, "{f}");
        assert_eq!(
            (f["new"].as_u64(), f["updated"].as_u64()),
            (Some(0), Some(0)),
            "{f}"
        );
        assert_eq!(f["unchanged"], unchanged, "{f}");
    }

    // --quiet: the failure and nothing else.
    let quiet = job.build(&server.base(), &["--quiet"]);
    quiet.expect_code(1);
    let lines: Vec<&str> = quiet.stderr.lines().collect();
    assert_eq!(lines, [failure], "--quiet:\n{}", quiet.stderr);
    assert_untouched(&kept);

    // `list`: archive sizes, last success, and the failure with its error.
    let listed = job.list();
    listed.expect_code(0);
    let row = |id: &str| -> Vec<String> {
        let rows = lines_with(&listed.stdout, &format!("{id}\t"));
        assert_eq!(rows.len(), 1, "{}", listed.stdout);
        rows[0].split('\t').map(str::to_owned).collect()
    };
    let header: Vec<&str> = listed.stdout.lines().next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (archived, success, failed) = (col("archived"), col("last success"), col("last failure"));
    let zcfg = row(ZCFG);
    assert_eq!(zcfg[archived], "6");
    rfc3339(&zcfg[success]);
    let (when, why) = zcfg[failed].split_once(' ').unwrap();
    assert!(rfc3339(when) >= rfc3339(&zcfg[success]), "{zcfg:?}");
    assert!(why.contains(&list_url) && why.contains("404"), "{why}");
    for (id, n) in [(JQZS, "6"), ("notices", "10")] {
        let r = row(id);
        assert_eq!(r[archived], n, "{r:?}");
        rfc3339(&r[success]);
        assert_eq!(r[failed], "-", "{r:?}");
    }
}

#[test]
fn an_unreachable_server_fails_the_channel_loudly_and_the_local_feed_is_written() {
    let job = Job::new(&[JQZS], true);
    {
        let server = Server::start(&mirror_root());
        job.build(&server.base(), &[]).expect_code(0);
    } // server stopped
    let kept = job.snapshot(JQZS);
    fs::remove_file(job.atom("notices")).unwrap();
    let run = job.build(&closed_port_base(), &[]);
    run.expect_code(1);
    assert_untouched(&kept);
    assert!(job.atom("notices").exists());
    // One line about the host (see unreachable.rs), none per feed.
    assert!(lines_with(&run.stderr, JQZS).is_empty(), "{}", run.stderr);
    let failure = lines_with(&run.stderr, "www.chinania.org.cn unreachable");
    assert_eq!(failure.len(), 1, "{}", run.stderr);
    assert!(
        failure[0].starts_with("error: www.chinania.org.cn unreachable (tcp connect error")
            && failure[0].ends_with(": 1 feed kept its previous files"),
        "{}",
        failure[0]
    );
    eprintln!("server down:\n{}", run.stderr);
}

/// A server on 127.0.0.1 that answers every request with 500 and counts them; stopped when
/// dropped.
struct Failing {
    port: u16,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Failing {
    fn start() -> Self {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (h, s) = (hits.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                h.fetch_add(1, Ordering::SeqCst);
                let mut stream = stream;
                let _ = stream.write_all(
                    b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Failing {
            port,
            hits,
            stop,
            handle: Some(handle),
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Failing {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[test]
fn a_server_answering_500_fails_the_channel_after_bounded_retries() {
    let job = Job::new(&[JQZS], true);
    {
        let server = Server::start(&mirror_root());
        job.build(&server.base(), &[]).expect_code(0);
    }
    let kept = job.snapshot(JQZS);
    fs::remove_file(job.rss("notices")).unwrap();
    let failing = Failing::start();
    let run = job.build(&failing.base(), &["--quiet"]);
    run.expect_code(1);
    assert_untouched(&kept);
    assert!(job.rss("notices").exists());
    // robots.txt is kept in the store from the first run: only the list page is asked for,
    // four times (the first attempt and three retries).
    assert_eq!(failing.hits.load(std::sync::atomic::Ordering::SeqCst), 4);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].starts_with(&format!("error: {JQZS}: FAILED")),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains(&format!("{ORIGIN}/html/hangyetongji/jqzs/")),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("500"), "{}", lines[0]);
}

/// xorshift64: a fixed, repeatable sequence of kill delays.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Requests the server answered, robots.txt aside.
fn fetches(server: &Server) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.target != "/robots.txt")
        .count()
}

/// What the store holds for `feed`, checked sound first: its GUIDs, and the content of the
/// notice at `link`, if stored.
fn store_view(state: &Path, feed: &str, link: &str) -> (BTreeSet<String>, Option<String>) {
    let conn = rusqlite::Connection::open(state).unwrap();
    let check: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(check, ["ok"], "integrity_check of {}", state.display());
    // Killed before its first migration committed: an empty store, which the next run builds.
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    if version == 0 {
        return (BTreeSet::new(), None);
    }
    let mut stmt = conn
        .prepare("SELECT guid FROM item WHERE feed = ?1")
        .unwrap();
    let guids = stmt
        .query_map([feed], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let content = conn
        .query_row(
            "SELECT content_html FROM item WHERE feed = ?1 AND link = ?2",
            [feed, link],
            |r| r.get(0),
        )
        .ok();
    (guids, content)
}

#[test]
fn sigkill_at_random_moments_never_breaks_a_feed_or_the_store() {
    // The site offers two versions of one notice, always the one the store lacks, so every run
    // that gets that far changes the store and rewrites the files, and a kill can land in those
    // as well as in the fetching.
    let edited = mirror_copy();
    let toggled = "html/xiehuidongtai/xiehuitongzhi/2026/0915/61998.html";
    let marker = "（第二版）";
    edit(
        &edited.path().join(toggled),
        "现将有关事项通知如下：",
        &format!("现将有关事项{marker}通知如下："),
    );
    let toggled_link = format!("{ORIGIN}/{toggled}");
    let server = Server::start(&mirror_root());
    let job = Job::new(&[XHTZ], false);
    let names = [
        format!("{XHTZ}.rss.xml"),
        format!("{XHTZ}.atom.xml"),
        format!("{XHTZ}.json"),
    ];
    // Pages and folder-wide files: checked to be whole (the temporary-file rename), not read
    // as feeds.
    let page = format!("{XHTZ}.html");
    let folder_files = ["feeds.opml", "index.html", page.as_str()];
    let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15);
    let mut stored = BTreeSet::new();
    let mut stored_edit = true;
    let (mut killed, mut completed, mut leftovers, mut store_ahead) = (0, 0, 0, 0);
    // Runs 0-1 die early on a fresh store (opening, migrating, first requests). Run 2 is left
    // alone: its requests are counted (n, robots.txt aside: the store keeps it) and its tail
    // (from the server's last answer to the exit: the store's commits and the file writes) is
    // timed. Runs 3-12 die after the server has answered k of their requests: odd runs at a
    // random k < n plus up to 20 ms, even runs at k = n plus 40-100 % of the tail.
    let (mut n, mut tail) = (0, Duration::ZERO);
    let tail_micros = |d: Duration| u64::try_from(d.as_micros()).unwrap();
    let started = Instant::now();
    for i in 0..13 {
        // Serve the version the store does not hold, so a run that gets to commit changes it.
        let root = if stored_edit {
            mirror_root()
        } else {
            edited.path().to_owned()
        };
        server.set_root(&root);
        server.clear_log();
        let mut child = job.spawn(&server.base(), 20, &["--backfill", "3", "--refresh"], false);
        let kill_at = match i {
            0 | 1 => Some((0, rng.next() % 150_000)),
            2 => None,
            _ if i % 2 == 0 => Some((n, tail_micros(tail) * (400 + rng.next() % 600) / 1000)),
            _ => Some(((rng.next() % n as u64) as usize, rng.next() % 20_000)),
        };
        match kill_at {
            None => {
                // Timed: how long the run goes on after the server's last answer.
                let (mut seen, mut last) = (0, Instant::now());
                let status = loop {
                    if let Some(status) = child.try_wait().unwrap() {
                        break status;
                    }
                    if fetches(&server) != seen {
                        (seen, last) = (fetches(&server), Instant::now());
                    }
                    std::thread::sleep(Duration::from_micros(200));
                };
                assert_eq!(status.code(), Some(0));
                tail = last.elapsed();
                n = fetches(&server);
                completed += 1;
            }
            Some((after_requests, micros)) => {
                let deadline = Instant::now() + Duration::from_secs(10);
                while fetches(&server) < after_requests
                    && child.try_wait().unwrap().is_none()
                    && Instant::now() < deadline
                {
                    std::thread::yield_now();
                }
                std::thread::sleep(Duration::from_micros(micros));
                if child.try_wait().unwrap().is_none() {
                    child.kill().unwrap(); // SIGKILL
                    killed += 1;
                } else {
                    completed += 1;
                }
                child.wait().unwrap();
            }
        }

        let (guids, content) = if job.state().exists() {
            store_view(&job.state(), XHTZ, &toggled_link)
        } else {
            (BTreeSet::new(), None)
        };
        assert!(
            guids.is_superset(&stored),
            "a notice was lost after run {i}"
        );
        stored = guids;
        if let Ok(dir) = fs::read_dir(job.out()) {
            for entry in dir {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                if name.starts_with(".noticefeed-") && name.ends_with(".tmp") {
                    leftovers += 1; // hidden, never a feed name
                    continue;
                }
                if folder_files.contains(&name.as_str()) {
                    let text = fs::read_to_string(job.out().join(&name)).unwrap();
                    assert!(text.trim_end().ends_with('>'), "{name} whole after run {i}");
                    continue;
                }
                assert!(
                    names.contains(&name),
                    "unexpected file {name} after run {i}"
                );
                let feed = parse_feed(&job.out().join(&name));
                assert_eq!(feed.entries.len(), 51, "{name} after run {i}");
                assert!(
                    feed.entries.iter().all(|e| stored.contains(&e.id)),
                    "{name} has a notice the store lacks after run {i}"
                );
            }
        }
        // Killed after the store's commit but before the files were replaced: the next run
        // must still write them (it compares bytes, not counts).
        stored_edit = content.is_some_and(|c| c.contains(marker));
        let in_file = fs::read_to_string(job.atom(XHTZ)).is_ok_and(|t| t.contains(marker));
        if stored_edit != in_file {
            store_ahead += 1;
        }
    }
    let loop_took = started.elapsed();

    server.set_root(&mirror_root());
    let last = job.build(&server.base(), &["--backfill", "3", "--refresh"]);
    last.expect_code(0);
    let (guids, content) = store_view(&job.state(), XHTZ, &toggled_link);
    assert_eq!(guids.len(), 51);
    assert!(!content.unwrap().contains(marker));

    let fresh = Job::new(&[XHTZ], false);
    fresh
        .build(&server.base(), &["--backfill", "3"])
        .expect_code(0);
    for (got, want) in [
        (job.atom(XHTZ), fresh.atom(XHTZ)),
        (job.rss(XHTZ), fresh.rss(XHTZ)),
    ] {
        let text = fs::read_to_string(&got).unwrap();
        assert!(!text.contains(marker), "{}", got.display());
        let (got, want) = (entries(&parse_feed(&got)), entries(&parse_feed(&want)));
        assert_eq!(got.len(), 51);
        assert_eq!(
            got, want,
            "the killed job's feed equals an undisturbed build"
        );
    }
    eprintln!(
        "crash loop: {killed} runs killed, {completed} completed, {store_ahead} killed between \
         the store's commit and the files; {leftovers} hidden temp files seen; {n} requests a \
         run; loop {loop_took:?}"
    );
    assert!(killed >= 6, "the kills must land while the runs work");
}

#[test]
fn a_second_build_on_a_busy_store_exits_2_naming_the_lock_or_waits() {
    let server = Server::start(&mirror_root());
    let job = Job::new(&[ZCFG], false);
    let lock = format!("{}.lock", job.state().display());

    let first = job.spawn(&server.base(), 200, &[], true);
    wait_until(
        "the first build's first request",
        Duration::from_secs(10),
        || !server.requests().is_empty(),
    );
    let started = Instant::now();
    let second = job.build(&server.base(), &[]);
    let took = started.elapsed();
    second.expect_code(2);
    assert!(
        took < Duration::from_secs(2),
        "exits at once, took {took:?}"
    );
    assert!(second.stderr.contains(&lock), "{}", second.stderr);
    assert!(second.stderr.contains("--wait"), "{}", second.stderr);
    assert!(!job.out().exists(), "the refused run wrote nothing");
    let first = first.wait_with_output().unwrap();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );

    // --wait: the second run starts when the first ends, and succeeds.
    server.clear_log();
    let mut first = job.spawn(&server.base(), 200, &["--refresh"], true);
    wait_until(
        "the first build's first request",
        Duration::from_secs(10),
        || !server.requests().is_empty(),
    );
    let second = job.build(&server.base(), &["--wait"]);
    assert!(
        first.try_wait().unwrap().is_some(),
        "the first run had ended when the waiting one finished"
    );
    second.expect_code(0);
    assert!(
        second
            .stderr
            .contains(&format!("{ZCFG}: 0 new, 0 updated, 6 unchanged")),
        "{}",
        second.stderr
    );
    assert_eq!(first.wait().unwrap().code(), Some(0));
}

#[test]
fn list_into_a_closed_pipe_is_not_a_panic() {
    // `noticefeed list | head -1`: the reader goes away before `list` prints.
    let job = Job::new(&[JQZS, ZCFG], true);
    let mut child = Command::new(support::bin())
        .current_dir(job.path())
        .args(job.args("http://127.0.0.1:9", 0, "list", &[]))
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
