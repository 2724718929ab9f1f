//! A real feed reader: newsboat, run headless (`-x reload print-unread`) on `file://` URLs of
//! the built files, its SQLite cache read back. It must see every item with the right title,
//! link and date, and the subscription must never re-announce a notice: not after a rebuild,
//! not under another machine timezone, not after a notice's title or body is corrected. Only
//! a new notice comes up unread.
//!
//! newsboat keys its cache on the GUID alone, across feeds: subscribed to both the RSS and
//! the Atom file it keeps one row per notice, which is only right because both formats carry
//! the same GUID.

// Tests may unwrap (STYLE.md §4): a panic with its message is the report.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, TimeZone as _};
use chrono_tz::Asia::Shanghai;
use serde_json::Value;
use tempfile::TempDir;

use crate::server::Server;
use crate::support::{self, entries, parse_feed, run_in, Project};

/// Whether newsboat can be run; a missing newsboat fails the test unless
/// `NOTICEFEED_SKIP_EXTERNAL=1`.
pub(crate) fn newsboat_available() -> bool {
    let ok = Command::new("newsboat")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok && std::env::var("NOTICEFEED_SKIP_EXTERNAL").as_deref() != Ok("1") {
        panic!(
            "newsboat is missing: run `bash .ci/run` (it installs it) or install it yourself \
             (Debian: apt-get install newsboat), or set NOTICEFEED_SKIP_EXTERNAL=1 to skip \
             this check"
        );
    }
    support::external_available("newsboat", ok)
}

/// One row of newsboat's `rss_item` table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CachedItem {
    guid: String,
    title: String,
    url: String,
    /// Unix seconds.
    pub_date: i64,
    unread: bool,
    feedurl: String,
}

/// A newsboat profile subscribed to some files: its own `HOME`, urls file and cache.
pub(crate) struct Reader {
    dir: TempDir,
    feeds: Vec<String>,
}

impl Reader {
    fn subscribe(files: &[PathBuf]) -> Self {
        let feeds: Vec<String> = files
            .iter()
            .map(|f| url::Url::from_file_path(f).unwrap().to_string())
            .collect();
        assert!(feeds.iter().all(|u| u.starts_with("file:///")));
        Self::subscribe_urls(feeds)
    }

    /// Subscribed to these URLs (`http://127.0.0.1:…` for `noticefeed serve`).
    pub(crate) fn subscribe_urls(feeds: Vec<String>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("home")).unwrap();
        fs::write(dir.path().join("urls"), feeds.join("\n") + "\n").unwrap();
        Self { dir, feeds }
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache.db")
    }

    /// `newsboat -x reload print-unread`; returns the unread count it printed. Fails when it
    /// logs any error (newsboat exits 0 even when a feed cannot be parsed) or when a
    /// subscribed feed is not in its cache afterwards.
    pub(crate) fn reload(&self) -> usize {
        let log = self.dir.path().join("newsboat.log");
        let _ = fs::remove_file(&log);
        let home = self.dir.path().join("home");
        let mut child = Command::new("newsboat")
            .arg("-u")
            .arg(self.dir.path().join("urls"))
            .arg("-c")
            .arg(self.cache())
            .args(["-C", "/dev/null", "-l", "4", "-d"])
            .arg(&log)
            .args(["-x", "reload", "print-unread"])
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("newsboat starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("newsboat did not finish within 30 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let out = child.wait_with_output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        let logged = fs::read_to_string(&log).unwrap_or_default();
        assert!(
            out.status.success() && logged.trim().is_empty(),
            "newsboat: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- log\n{logged}",
            out.status
        );
        let db = self.db();
        for feed in &self.feeds {
            let title: Option<String> = db
                .query_row(
                    "SELECT title FROM rss_feed WHERE rssurl = ?1",
                    [feed],
                    |r| r.get(0),
                )
                .ok();
            assert!(
                title.is_some_and(|t| !t.is_empty()),
                "newsboat did not read {feed}\n{stdout}"
            );
        }
        stdout
            .trim()
            .strip_suffix(" unread articles")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected print-unread output: {stdout:?}"))
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.cache()).unwrap()
    }

    /// Every live row, in cache order.
    fn items(&self) -> Vec<CachedItem> {
        let db = self.db();
        let mut st = db
            .prepare(
                "SELECT guid, title, url, pubDate, unread, feedurl FROM rss_item \
                 WHERE deleted = 0 ORDER BY id",
            )
            .unwrap();
        st.query_map([], |r| {
            Ok(CachedItem {
                guid: r.get(0)?,
                title: r.get(1)?,
                url: r.get(2)?,
                pub_date: r.get(3)?,
                unread: r.get::<_, i64>(4)? != 0,
                feedurl: r.get(5)?,
            })
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    /// What the reader's own "mark all read" does to the cache.
    fn mark_all_read(&self) {
        self.db()
            .execute("UPDATE rss_item SET unread = 0", [])
            .unwrap();
    }

    fn unread(&self) -> Vec<CachedItem> {
        self.items().into_iter().filter(|i| i.unread).collect()
    }

    fn by_guid(&self) -> BTreeMap<String, CachedItem> {
        let items = self.items();
        let map: BTreeMap<_, _> = items.iter().map(|i| (i.guid.clone(), i.clone())).collect();
        assert_eq!(
            map.len(),
            items.len(),
            "an item twice in the cache: {items:#?}"
        );
        map
    }
}

/// The instant each bundled notice's date means in Asia/Shanghai, by title, from
/// `notices_expected.json`.
fn expected_instants() -> BTreeMap<String, i64> {
    let e: Value = serde_json::from_slice(&support::read_fixture("notices_expected.json")).unwrap();
    let mut out = BTreeMap::new();
    for n in e["txt"].as_array().unwrap() {
        let day = NaiveDate::parse_from_str(n["date"].as_str().unwrap(), "%Y-%m-%d").unwrap();
        let at = Shanghai
            .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
            .unwrap();
        out.insert(n["title"].as_str().unwrap().to_owned(), at.timestamp());
    }
    for n in e["md"].as_array().unwrap() {
        let at =
            DateTime::parse_from_rfc3339(n["instant_if_utc+8_assumed"].as_str().unwrap()).unwrap();
        out.insert(n["title"].as_str().unwrap().to_owned(), at.timestamp());
    }
    assert_eq!(out.len(), 10);
    out
}

/// Asserts that `reader`'s rows from `file` are exactly the entries feed-rs reads there: same
/// GUIDs, titles, links and instants, none twice.
#[track_caller]
fn assert_same_as_feed_rs(reader: &Reader, file: &Path) {
    let feed_url = url::Url::from_file_path(file).unwrap().to_string();
    let rows: Vec<CachedItem> = reader
        .items()
        .into_iter()
        .filter(|i| i.feedurl == feed_url)
        .collect();
    let seen: BTreeMap<String, (String, String, i64)> = rows
        .iter()
        .map(|i| (i.guid.clone(), (i.title.clone(), i.url.clone(), i.pub_date)))
        .collect();
    assert_eq!(
        seen.len(),
        rows.len(),
        "{feed_url}: an item twice: {rows:#?}"
    );
    let want: BTreeMap<String, (String, String, i64)> = entries(&parse_feed(file))
        .into_iter()
        .map(|e| {
            let at = DateTime::parse_from_rfc3339(e.date.as_deref().unwrap()).unwrap();
            (e.id, (e.title, e.link.unwrap_or_default(), at.timestamp()))
        })
        .collect();
    assert_eq!(seen, want, "{feed_url}: newsboat vs feed-rs");
}

/// A reader per format, and one subscribed to both.
fn readers(p: &Project) -> [(&'static str, Reader); 3] {
    [
        ("rss", Reader::subscribe(&[p.rss_path()])),
        ("atom", Reader::subscribe(&[p.atom_path()])),
        ("both", Reader::subscribe(&[p.rss_path(), p.atom_path()])),
    ]
}

#[test]
fn newsboat_sees_every_notice_with_its_title_link_and_beijing_date() {
    if !newsboat_available() {
        return;
    }
    let p = Project::bundled();
    p.build().expect_code(0);
    let want = expected_instants();
    let [(_, rss), (_, atom), (_, both)] = readers(&p);
    for (reader, file) in [(&rss, p.rss_path()), (&atom, p.atom_path())] {
        assert_eq!(reader.reload(), 10, "{}", file.display());
        assert_same_as_feed_rs(reader, &file);
        let got: BTreeMap<String, i64> = reader
            .items()
            .into_iter()
            .map(|i| (i.title, i.pub_date))
            .collect();
        assert_eq!(got, want, "{}: titles and instants", file.display());
        let feed_title: String = reader
            .db()
            .query_row("SELECT title FROM rss_feed", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            feed_title,
            "China Nonferrous Metals Industry Association — notices"
        );
    }
    // Both files in one subscription list: the cache is keyed on the GUID, so each notice
    // is one row (filed under whichever file was reloaded last), never two.
    assert_eq!(both.reload(), 10);
    let merged = both.by_guid();
    assert_eq!(
        merged.keys().collect::<BTreeSet<_>>(),
        rss.by_guid().keys().collect::<BTreeSet<_>>()
    );
    assert_eq!(
        merged.keys().collect::<BTreeSet<_>>(),
        atom.by_guid().keys().collect::<BTreeSet<_>>()
    );
    for item in merged.values() {
        assert!(both.feeds.contains(&item.feedurl), "{item:?}");
        assert_eq!(Some(&item.pub_date), want.get(&item.title), "{item:?}");
    }
}

#[test]
fn a_subscription_never_sees_a_notice_twice_or_unread_again() {
    if !newsboat_available() {
        return;
    }
    let p = Project::bundled();
    p.build().expect_code(0);
    let readers = readers(&p);
    for (name, r) in &readers {
        assert_eq!(r.reload(), 10, "{name}");
        r.mark_all_read();
    }
    let before: Vec<BTreeMap<String, CachedItem>> =
        readers.iter().map(|(_, r)| r.by_guid()).collect();
    let check_nothing_new = |step: &str| {
        for ((name, r), before) in readers.iter().zip(&before) {
            assert_eq!(r.reload(), 0, "{step}: {name}: {:#?}", r.unread());
            let now = r.by_guid();
            assert_eq!(
                now.keys().collect::<Vec<_>>(),
                before.keys().collect::<Vec<_>>(),
                "{step}: {name}: the same items"
            );
            for (guid, item) in &now {
                assert_eq!(
                    item.pub_date, before[guid].pub_date,
                    "{step}: {name}: {item:?}"
                );
            }
        }
    };

    // (a) Rebuilt unchanged.
    p.build().expect_code(0);
    check_nothing_new("unchanged rebuild");

    // (b) Rebuilt on machines in other timezones.
    for tz in ["UTC", "America/Los_Angeles"] {
        p.run_env(&["build"], &[("TZ", tz)]).expect_code(0);
        check_nothing_new(&format!("rebuild under TZ={tz}"));
    }

    // (c) A notice's title and body corrected, in a Markdown file (GUID from its link) and
    // in a text file (GUID from its path): updated in place, still read.
    let md = p.notices().join("2026-05-29-lithium-conference.md");
    let text = fs::read_to_string(&md).unwrap();
    let old_md = "2026 China Lithium Industry Conference held in Yichun";
    let new_md = "2026 China Lithium Industry Conference held in Yichun, Jiangxi";
    assert!(text.contains(old_md));
    fs::write(
        &md,
        text.replacen(old_md, new_md, 1) + "\nA corrected paragraph.\n",
    )
    .unwrap();
    let txt = p.notices().join("2026-09-09-copper-forum-harbin.txt");
    let text = fs::read_to_string(&txt).unwrap();
    let old_txt = "2026 China International Copper Forum Opens in Harbin";
    let new_txt = "24th China International Copper Forum Opens in Harbin";
    assert!(text.starts_with(old_txt));
    fs::write(
        &txt,
        text.replacen(old_txt, new_txt, 1) + "\nA corrected paragraph.\n",
    )
    .unwrap();
    p.build().expect_code(0);
    check_nothing_new("title and body corrected");
    for ((name, r), before) in readers.iter().zip(&before) {
        let now = r.by_guid();
        for (old, new) in [(old_md, new_md), (old_txt, new_txt)] {
            let (guid, _) = before.iter().find(|(_, i)| i.title == old).unwrap();
            assert_eq!(now[guid].title, new, "{name}: updated in place");
        }
    }
    for (r, file) in [
        (&readers[0].1, p.rss_path()),
        (&readers[1].1, p.atom_path()),
    ] {
        assert_same_as_feed_rs(r, &file);
    }

    // (d) One new notice: exactly one unread item per subscription, that one.
    p.write_notice(
        "2026-10-01-new-notice.md",
        "---\ntitle: 关于召开2026年有色金属行业新闻发布会的通知\ndate: 2026-10-01\n---\n\n会议通知。\n",
    );
    p.build().expect_code(0);
    let new_at = Shanghai
        .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
        .unwrap()
        .timestamp();
    for ((name, r), before) in readers.iter().zip(&before) {
        assert_eq!(r.reload(), 1, "{name}");
        let unread = r.unread();
        assert_eq!(unread.len(), 1, "{name}: {unread:#?}");
        assert_eq!(
            unread[0].title, "关于召开2026年有色金属行业新闻发布会的通知",
            "{name}"
        );
        assert_eq!(unread[0].pub_date, new_at, "{name}");
        assert!(!before.contains_key(&unread[0].guid), "{name}: a new GUID");
        assert_eq!(r.items().len(), 11, "{name}");
    }
}

#[test]
fn newsboat_reads_a_scraped_chinese_feed_with_exact_titles() {
    if !newsboat_available() {
        return;
    }
    use crate::support::CHINANIA as ORIGIN;
    let expected: Value =
        serde_json::from_slice(&support::read_fixture("chinania_expected.json")).unwrap();
    let server = Server::start(&support::chinania_mirror());
    let dir = tempfile::tempdir().unwrap();
    let build = || {
        let args = support::mirror_build_args(dir.path(), &server.base(), &["chinania-jqzs"]);
        run_in(dir.path(), &args, &[]).expect_code(0);
    };
    build();

    // Link → (title of the detail page, its publication minute in Beijing time).
    let details = expected["detail_pages"].as_array().unwrap();
    let want: BTreeMap<String, (String, i64)> = expected["channels"]["hangyetongji/jqzs"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| {
            let path = it["path"].as_str().unwrap();
            let d = details.iter().find(|d| d["path"] == path).unwrap();
            let at = chrono::NaiveDateTime::parse_from_str(
                d["published"].as_str().unwrap(),
                "%Y-%m-%d %H:%M",
            )
            .unwrap();
            (
                url::Url::parse(ORIGIN)
                    .unwrap()
                    .join(path)
                    .unwrap()
                    .to_string(),
                (
                    d["title"].as_str().unwrap().to_owned(),
                    Shanghai.from_local_datetime(&at).unwrap().timestamp(),
                ),
            )
        })
        .collect();
    assert_eq!(want.len(), 6);

    let out = dir.path().join("public");
    for format in ["rss", "atom"] {
        let file = out.join(format!("chinania-jqzs.{format}.xml"));
        let reader = Reader::subscribe(std::slice::from_ref(&file));
        assert_eq!(reader.reload(), 6, "{format}");
        assert_same_as_feed_rs(&reader, &file);
        let got: BTreeMap<String, (String, i64)> = reader
            .by_guid()
            .into_values()
            .map(|i| (i.url, (i.title, i.pub_date)))
            .collect();
        assert_eq!(got, want, "{format}: links, titles and instants");
        let feed_title: String = reader
            .db()
            .query_row("SELECT title FROM rss_feed", [], |r| r.get(0))
            .unwrap();
        assert_eq!(feed_title, "中国有色金属工业协会 · 景气指数", "{format}");

        reader.mark_all_read();
        build();
        assert_eq!(reader.reload(), 0, "{format}: after a rebuild");
        assert_eq!(reader.items().len(), 6, "{format}");
    }
}

/// Issue: the association's list pages switching their links from `www.chinania.org.cn` to
/// the bare `chinania.org.cn` must not re-announce anything. The preset declares the bare name
/// an alias, so both spell one canonical link. Without the alias (a copy of the preset with
/// the line removed), the same switch does announce every notice again: that is what the
/// alias prevents, and it proves the check can fail.
#[test]
fn a_host_alias_switch_on_the_list_page_is_not_news() {
    if !newsboat_available() {
        return;
    }
    let switch_links = |site: &Path| {
        let list = site.join("html/hangyetongji/jqzs/index.html");
        let html = fs::read_to_string(&list).unwrap();
        let switched = html.replace(
            "href=\"/html/hangyetongji/jqzs/2026/",
            "href=\"http://chinania.org.cn/html/hangyetongji/jqzs/2026/",
        );
        assert_eq!(
            switched.matches("http://chinania.org.cn/").count(),
            6,
            "the six list links switched"
        );
        fs::write(&list, switched).unwrap();
    };
    let run = |with_alias: bool| -> (usize, usize, BTreeSet<String>, BTreeSet<String>) {
        let (site, server) = crate::server::serve_mirror_copy();
        let dir = tempfile::tempdir().unwrap();
        let feeds = dir.path().join("feeds");
        support::copy_dir(&support::repo().join("feeds"), &feeds);
        if !with_alias {
            let preset = feeds.join("sites/chinania.toml");
            let text = fs::read_to_string(&preset).unwrap();
            let without = text.replace("aliases = [\"chinania.org.cn\"]\n", "");
            assert_ne!(without, text, "the preset declares the alias");
            fs::write(&preset, without).unwrap();
        }
        let build = || {
            let mut args =
                support::mirror_build_args(dir.path(), &server.base(), &["chinania-jqzs"]);
            args[1] = feeds.display().to_string();
            run_in(dir.path(), &args, &[]).expect_code(0);
        };
        build();
        let file = dir.path().join("public/chinania-jqzs.rss.xml");
        let reader = Reader::subscribe(std::slice::from_ref(&file));
        assert_eq!(reader.reload(), 6);
        reader.mark_all_read();
        let guids = reader.by_guid().keys().cloned().collect();
        switch_links(site.path());
        build();
        let unread = reader.reload();
        let links = entries(&parse_feed(&file))
            .into_iter()
            .filter_map(|e| e.link)
            .collect();
        let after = reader.by_guid().keys().cloned().collect::<BTreeSet<_>>();
        assert!(after.is_superset(&guids));
        (unread, reader.items().len(), links, guids)
    };

    let (unread, items, links, _) = run(true);
    assert_eq!(unread, 0, "with the alias: nothing is new");
    assert_eq!(items, 6, "with the alias: six items, each once");
    assert!(
        links
            .iter()
            .all(|l| l.starts_with("https://www.chinania.org.cn/html/hangyetongji/jqzs/")),
        "links keep the site's own host: {links:?}"
    );

    let (unread, items, _, _) = run(false);
    assert_eq!(
        unread, 6,
        "without the alias the switch re-announces every notice"
    );
    assert_eq!(items, 12);
}

/// The other order: the list links were on the bare host before the preset declared it an
/// alias, so the notices were first stored under `chinania.org.cn` links. Declaring the alias
/// then moves every link to `www.chinania.org.cn`: the build re-keys the stored links to the
/// new spelling, and the subscription sees nothing new, each notice still once.
#[test]
fn a_host_alias_declared_later_keeps_the_guids_first_seen_under_it() {
    if !newsboat_available() {
        return;
    }
    let (site, server) = crate::server::serve_mirror_copy();
    let list = site.path().join("html/hangyetongji/jqzs/index.html");
    let html = fs::read_to_string(&list).unwrap();
    fs::write(
        &list,
        html.replace(
            "href=\"/html/hangyetongji/jqzs/2026/",
            "href=\"http://chinania.org.cn/html/hangyetongji/jqzs/2026/",
        ),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let feeds = dir.path().join("feeds");
    support::copy_dir(&support::repo().join("feeds"), &feeds);
    let preset = feeds.join("sites/chinania.toml");
    let with_alias = fs::read_to_string(&preset).unwrap();
    fs::write(
        &preset,
        with_alias.replace("aliases = [\"chinania.org.cn\"]\n", ""),
    )
    .unwrap();
    let build = || {
        let mut args = support::mirror_build_args(dir.path(), &server.base(), &["chinania-jqzs"]);
        args[1] = feeds.display().to_string();
        run_in(dir.path(), &args, &[]).expect_code(0);
    };
    build();
    let file = dir.path().join("public/chinania-jqzs.rss.xml");
    let reader = Reader::subscribe(std::slice::from_ref(&file));
    assert_eq!(reader.reload(), 6);
    reader.mark_all_read();
    let before = reader.by_guid();
    assert!(before
        .values()
        .all(|i| i.url.starts_with("http://chinania.org.cn/")));

    fs::write(&preset, &with_alias).unwrap();
    build();
    assert_eq!(reader.reload(), 0, "{:#?}", reader.unread());
    let after = reader.by_guid();
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "the same GUIDs"
    );
    // The notices now carry the site's own host, and their detail pages were read.
    let links: BTreeSet<String> = entries(&parse_feed(&file))
        .into_iter()
        .filter_map(|e| e.link)
        .collect();
    assert_eq!(links.len(), 6);
    assert!(
        links
            .iter()
            .all(|l| l.starts_with("http://www.chinania.org.cn/")),
        "{links:?}"
    );
}
