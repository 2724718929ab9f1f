//! The shipped chinania definitions, unchanged, run through `--mirror` against a real HTTP
//! server on 127.0.0.1 over the offline mirror, and checked against every documented value in
//! `tests/fixtures/chinania_expected.json`. See: #3.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use crate::server::{serve_mirror_copy, Server};
use crate::support::{self, parse_feed, run_in, xmllint_ok};

use crate::support::CHINANIA as ORIGIN;

fn expected() -> &'static Value {
    static E: OnceLock<Value> = OnceLock::new();
    E.get_or_init(|| {
        serde_json::from_slice(&support::read_fixture("chinania_expected.json"))
            .expect("chinania_expected.json is JSON")
    })
}

/// The feed id of a channel key such as `xiehuidongtai/xiehuitongzhi`.
fn feed_id(channel: &str) -> String {
    format!("chinania-{}", channel.rsplit('/').next().unwrap())
}

/// `{BASE}` + path, spelled as the feeds spell it (non-ASCII percent-encoded).
fn abs(path: &str) -> String {
    url::Url::parse(ORIGIN)
        .unwrap()
        .join(path)
        .unwrap()
        .to_string()
}

/// A full build of every shipped feed from the mirror, walking all pages: run once, shared by
/// the tests that only read its output.
struct Built {
    _server: Server,
    dir: tempfile::TempDir,
    stderr: String,
}

impl Built {
    fn out(&self) -> PathBuf {
        self.dir.path().join("public")
    }
    fn atom(&self, id: &str) -> feed_rs::model::Feed {
        parse_feed(&self.out().join(format!("{id}.atom.xml")))
    }
    fn atom_path(&self, id: &str) -> PathBuf {
        self.out().join(format!("{id}.atom.xml"))
    }
}

fn build_args(dir: &Path, server: &Server, extra: &[&str]) -> Vec<String> {
    support::mirror_build_args(dir, &server.base(), extra)
}

fn full_build() -> &'static Built {
    static B: OnceLock<Built> = OnceLock::new();
    B.get_or_init(|| {
        let server = Server::start(&support::chinania_mirror());
        let dir = tempfile::tempdir().unwrap();
        let args = build_args(dir.path(), &server, &["--backfill", "3"]);
        let run = run_in(dir.path(), &args, &[]);
        run.expect_code(0);
        Built {
            _server: server,
            dir,
            stderr: run.stderr,
        }
    })
}

/// The expected detail page of a path, if the mirror has one.
fn detail(path: &str) -> Option<&'static Value> {
    expected()["detail_pages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"] == path)
}

fn channels() -> Vec<(&'static String, &'static Value)> {
    expected()["channels"].as_object().unwrap().iter().collect()
}

#[test]
fn every_channel_has_every_item_with_full_title_link_and_time() {
    let b = full_build();
    assert!(b.stderr.contains("chinania-all:"), "{}", b.stderr);
    for (key, ch) in channels() {
        let id = feed_id(key);
        let feed = b.atom(&id);
        let items = ch["items"].as_array().unwrap();
        assert_eq!(feed.entries.len(), items.len(), "{id}: item count");
        let by_link: HashMap<String, &feed_rs::model::Entry> = feed
            .entries
            .iter()
            .map(|e| (e.links[0].href.clone(), e))
            .collect();
        for it in items {
            let href = it["href"].as_str().unwrap();
            let (link, title, published) = if it["offsite"].as_bool() == Some(true) {
                (
                    href.to_owned(),
                    it["title"].as_str().unwrap().to_owned(),
                    format!("{} 00:00", it["date"].as_str().unwrap()),
                )
            } else {
                let path = it["path"].as_str().unwrap();
                let d = detail(path).unwrap();
                (
                    abs(path),
                    d["title"].as_str().unwrap().to_owned(),
                    d["published"].as_str().unwrap().to_owned(),
                )
            };
            let e = by_link
                .get(&link)
                .unwrap_or_else(|| panic!("{id}: no entry for {link}"));
            assert_eq!(e.title.as_ref().unwrap().content, title, "{id}: {link}");
            let got = e
                .published
                .unwrap()
                .with_timezone(&chrono_tz::Asia::Shanghai);
            assert_eq!(
                got.format("%Y-%m-%d %H:%M").to_string(),
                published,
                "{id}: {link}"
            );
        }
        // Dates are spelled in Beijing time.
        let text = std::fs::read_to_string(b.atom_path(&id)).unwrap();
        assert!(text.contains("+08:00</published>"), "{id}");
    }
}

#[test]
fn the_seed_story_and_sample_items() {
    let b = full_build();
    let feed = b.atom("chinania-xiehuidongtai");
    let seed = feed
        .entries
        .iter()
        .find(|e| e.links[0].href == abs("/html/xiehuidongtai/xiehuidongtai/2026/0123/60295.html"))
        .unwrap();
    assert_eq!(
        seed.title.as_ref().unwrap().content,
        "2026年有色金属行业重点企业运行情况分析座谈会召开"
    );
    let rss = std::fs::read_to_string(b.out().join("chinania-xiehuidongtai.rss.xml")).unwrap();
    assert!(
        rss.contains("<pubDate>Fri, 23 Jan 2026 10:16:00 +0800</pubDate>"),
        "RFC 822 in Beijing time"
    );
    assert_eq!(
        seed.authors[0].name.as_deref(),
        Some("中国有色金属工业协会")
    );
    // Cut list titles come out whole; the absolute link is kept as is.
    let feed = b.atom("chinania-guoneixinwen");
    assert!(feed
        .entries
        .iter()
        .any(|e| e.title.as_ref().unwrap().content
            == "【谱写“十五五”有色新篇章】利润总额同比大增98% 中国铝业中期增速再创历史新高"));
    let feed = b.atom("chinania-xiehuitongzhi");
    assert!(feed.entries.iter().any(|e| e.links[0].href
        == "https://www.chinania.org.cn/html/xiehuidongtai/xiehuitongzhi/2026/0915/61998.html"));
    let esg = feed
        .entries
        .iter()
        .find(|e| e.links[0].href.ends_with("/62089.html"))
        .unwrap();
    assert_eq!(
        esg.title.as_ref().unwrap().content,
        "关于征集\"有色金属ESG & 可持续发展\"优秀实践案例的通知"
    );
}

#[test]
fn pinned_item_once_tracking_dropped_whitespace_trimmed() {
    let b = full_build();
    let feed = b.atom("chinania-xiehuitongzhi");
    let pinned: Vec<_> = feed
        .entries
        .iter()
        .filter(|e| e.links[0].href.ends_with("/61296.html"))
        .collect();
    assert_eq!(pinned.len(), 1);
    let news = b.atom("chinania-guoneixinwen");
    let tracked: Vec<_> = news
        .entries
        .iter()
        .filter(|e| e.links[0].href.contains("61913"))
        .collect();
    assert_eq!(tracked.len(), 1);
    assert_eq!(
        tracked[0].links[0].href,
        abs("/html/hangyexinwen/guoneixinwen/2026/0903/61913.html")
    );
    for id in ["chinania-xiehuidongtai", "chinania-guoneixinwen"] {
        for e in b.atom(id).entries {
            let t = &e.title.as_ref().unwrap().content;
            assert_eq!(t, t.trim(), "{id}: untrimmed title {t:?}");
            assert!(
                !t.contains('\u{3000}') && !t.contains('\u{a0}'),
                "{id}: {t:?}"
            );
        }
    }
    // The protocol-relative link resolves against the original origin.
    let dongtai = b.atom("chinania-xiehuidongtai");
    assert!(dongtai
        .entries
        .iter()
        .any(|e| e.links[0].href == abs("/html/xiehuidongtai/xiehuidongtai/2026/0828/61846.html")));
}

#[test]
fn combined_feed_has_each_notice_once_with_every_channel() {
    let b = full_build();
    let all = b.atom("chinania-all");
    assert_eq!(all.entries.len(), 274);
    let mut ids: Vec<&str> = all.entries.iter().map(|e| e.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 274, "GUIDs are unique");
    let names: HashMap<&str, &str> = channels()
        .into_iter()
        .map(|(k, v)| (k.as_str(), v["name"].as_str().unwrap()))
        .collect();
    for cross in expected()["cross_listed"].as_array().unwrap() {
        let link = abs(cross["path"].as_str().unwrap());
        let found: Vec<_> = all
            .entries
            .iter()
            .filter(|e| e.links[0].href == link)
            .collect();
        assert_eq!(found.len(), 1, "{link}");
        let cats: Vec<&str> = found[0]
            .categories
            .iter()
            .map(|c| c.term.as_str())
            .collect();
        for ch in cross["channels"].as_array().unwrap() {
            let name = names[ch.as_str().unwrap()];
            assert!(cats.contains(&name), "{link}: {cats:?} lacks {name}");
        }
        // One GUID everywhere: the channel feeds carry the same id.
        for ch in cross["channels"].as_array().unwrap() {
            let f = b.atom(&feed_id(ch.as_str().unwrap()));
            let e = f.entries.iter().find(|e| e.links[0].href == link).unwrap();
            assert_eq!(e.id, found[0].id);
        }
    }
}

#[test]
fn attachments_are_enclosures_with_lengths() {
    let b = full_build();
    let all = b.atom("chinania-all");
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    for d in expected()["detail_pages"].as_array().unwrap() {
        for a in d["attachments"].as_array().unwrap() {
            want.insert(
                abs(a["href"].as_str().unwrap()),
                a["bytes"].as_u64().unwrap(),
            );
        }
    }
    assert_eq!(want.len(), 13);
    let mut got: BTreeMap<String, u64> = BTreeMap::new();
    for e in &all.entries {
        for l in e
            .links
            .iter()
            .filter(|l| l.rel.as_deref() == Some("enclosure"))
        {
            got.insert(l.href.clone(), l.length.unwrap());
        }
    }
    assert_eq!(got, want);
    // RSS carries the first attachment as <enclosure>, and the content lists them all.
    let rss = std::fs::read_to_string(b.out().join("chinania-xiehuitongzhi.rss.xml")).unwrap();
    let two = abs("/uploads/2026/0827/附件2：交流报告回执表.docx");
    assert!(
        rss.contains(&two),
        "second attachment listed in the content"
    );
    assert!(rss.contains(
        "<enclosure url=\"https://www.chinania.org.cn/uploads/2026/0827/20260827125601_61832.pdf\""
    ));
    let rel = std::fs::read_to_string(b.atom_path("chinania-xiehuidongtai")).unwrap();
    assert!(
        rel.contains("https://www.chinania.org.cn/uploads/2026/0909/202609090919_2.jpg"),
        "relative image made absolute"
    );
    assert!(!rel.contains("api.php"), "no hit counter script");
}

#[test]
fn outputs_are_valid_for_schema_and_feedparser() {
    let b = full_build();
    for entry in std::fs::read_dir(b.out()).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".xml") || name.ends_with(".opml") {
            xmllint_ok(&p, name.ends_with(".atom.xml"));
        }
    }
    let files: Vec<PathBuf> = ["chinania-all", "chinania-xiehuitongzhi"]
        .iter()
        .flat_map(|id| {
            [
                b.out().join(format!("{id}.atom.xml")),
                b.out().join(format!("{id}.rss.xml")),
            ]
        })
        .collect();
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    if let Some(seen) = crate::interop::feedparser(&refs) {
        for f in &files {
            crate::interop::assert_no_bozo(&seen[f.display().to_string().as_str()], f);
        }
    }
}

#[test]
fn first_pages_only_by_default_and_one_page_channels_never_ask_for_page_two() {
    let server = Server::start(&support::chinania_mirror());
    let dir = tempfile::tempdir().unwrap();
    let args = build_args(
        dir.path(),
        &server,
        &["chinania-xiehuitongzhi", "chinania-jqzs"],
    );
    run_in(dir.path(), &args, &[]).expect_code(0);
    let f = parse_feed(&dir.path().join("public/chinania-xiehuitongzhi.atom.xml"));
    assert_eq!(f.entries.len(), 18);
    let reqs = server.requests();
    assert!(
        reqs.iter().all(|r| !r.target.ends_with("/2.html")),
        "{reqs:?}"
    );
    assert!(
        reqs.iter()
            .all(|r| r.status != 404 || r.target.starts_with("/robots.txt")),
        "{reqs:?}"
    );
    let ua = reqs[0].user_agent.clone().unwrap_or_default();
    assert!(ua.starts_with("noticefeed/"), "{ua}");
}

#[test]
fn list_layout_change_fails_loudly_and_keeps_previous_files() {
    let copy = tempfile::tempdir().unwrap();
    support::copy_dir(&support::chinania_mirror(), copy.path());
    let server = Server::start(copy.path());
    let dir = tempfile::tempdir().unwrap();
    let ids = ["chinania-xiehuitongzhi", "chinania-jqzs"];
    run_in(dir.path(), build_args(dir.path(), &server, &ids), &[]).expect_code(0);
    let atom = dir.path().join("public/chinania-xiehuitongzhi.atom.xml");
    let before = std::fs::read(&atom).unwrap();
    let mtime = support::mtime(&atom);
    // The site is redesigned: the list class is renamed.
    let list = copy
        .path()
        .join("html/xiehuidongtai/xiehuitongzhi/index.html");
    let html = std::fs::read_to_string(&list)
        .unwrap()
        .replace("notice_list_ul", "news_list");
    std::fs::write(&list, html).unwrap();
    let run = run_in(dir.path(), build_args(dir.path(), &server, &ids), &[]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("ul.notice_list_ul > li"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("/html/xiehuidongtai/xiehuitongzhi/"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("chinania-xiehuitongzhi"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(&atom).unwrap(), before);
    assert_eq!(support::mtime(&atom), mtime);
    assert!(dir.path().join("public/chinania-jqzs.atom.xml").exists());
}

#[test]
fn check_prints_a_table_and_writes_nothing() {
    let server = Server::start(&support::chinania_mirror());
    let dir = tempfile::tempdir().unwrap();
    let run = run_in(
        dir.path(),
        [
            "--feeds",
            &support::repo().join("feeds").display().to_string(),
            "--mirror",
            &format!("{ORIGIN}={}", server.base()),
            "--delay-ms",
            "0",
            "check",
            "chinania-zhengcefagui",
        ],
        &[],
    );
    run.expect_code(0);
    // Every extracted field of every item, one labelled line each.
    for label in ["date:", "link:", "author:", "categories:", "content:"] {
        assert!(run.stdout.contains(label), "no `{label}`:\n{}", run.stdout);
    }
    assert!(run.stdout.contains("2026-09-18"), "{}", run.stdout);
    assert!(
        run.stdout.contains("20260918105801_62026.pdf"),
        "{}",
        run.stdout
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "check writes nothing"
    );
}

#[test]
fn a_second_site_works_from_toml_alone() {
    let fixture = support::repo().join("tests/fixtures/othersite");
    let server = Server::start(&fixture);
    let dir = tempfile::tempdir().unwrap();
    let feeds = dir.path().join("feeds");
    std::fs::create_dir_all(&feeds).unwrap();
    std::fs::copy(fixture.join("feed.toml"), feeds.join("example.toml")).unwrap();
    let run = run_in(
        dir.path(),
        [
            "--mirror",
            &format!("https://assoc.example.org={}", server.base()),
            "--delay-ms",
            "0",
            "build",
        ],
        &[],
    );
    run.expect_code(0);
    let f = parse_feed(&dir.path().join("public/example.atom.xml"));
    let titles: Vec<&str> = f
        .entries
        .iter()
        .map(|e| e.title.as_ref().unwrap().content.as_str())
        .collect();
    // Five rows over two pages (the second GBK-encoded), one excluded by the filter.
    assert_eq!(
        titles,
        [
            "2026年行业协会年会通知",
            "关于开展会员单位信息更新的通知",
            "标准化技术委员会换届公告",
            "关于举办安全生产培训班的通知"
        ]
    );
    let first = &f.entries[0];
    assert_eq!(
        first.links[0].href,
        "https://assoc.example.org/notices/detail/101.html"
    );
    let t = first
        .published
        .unwrap()
        .with_timezone(&chrono_tz::Asia::Shanghai);
    assert_eq!(
        t.format("%Y-%m-%d %H:%M %z").to_string(),
        "2026-01-23 09:30 +0800"
    );
    assert_eq!(first.authors[0].name.as_deref(), Some("示例行业协会秘书处"));
    let enc: Vec<_> = first
        .links
        .iter()
        .filter(|l| l.rel.as_deref() == Some("enclosure"))
        .collect();
    assert_eq!(enc.len(), 1);
    assert_eq!(enc[0].length, Some(305));
    let text = std::fs::read_to_string(dir.path().join("public/example.atom.xml")).unwrap();
    assert!(!text.contains("alert("), "script removed");
    assert!(
        text.contains("https://assoc.example.org/img/101.jpg"),
        "image made absolute"
    );
}

#[test]
fn bad_dates_are_kept_and_dated_when_first_seen_never_guessed() {
    let (copy, server) = serve_mirror_copy();
    let chan = copy.path().join("html/hangyetongji/jqzs");
    let list = chan.join("index.html");
    let mut html = std::fs::read_to_string(&list).unwrap();
    // 62090 gets an impossible date, 61834 one in the future, 61599 none at all.
    html = html.replacen("2026-09-26", "2026-02-30", 1);
    html = html.replacen("2026-08-27", "2099-08-27", 1);
    html = html.replacen("2026-07-28", "", 1);
    std::fs::write(&list, html).unwrap();
    for (file, from, to) in [
        (
            "2026/0926/62090.html",
            "发布时间：2026-09-26",
            "发布时间：2026-02-30",
        ),
        (
            "2026/0827/61834.html",
            "发布时间：2026-08-27",
            "发布时间：2099-08-27",
        ),
        (
            "2026/0728/61599.html",
            "发布时间：2026-07-28",
            "发布时间：不详",
        ),
    ] {
        let p = chan.join(file);
        let t = std::fs::read_to_string(&p).unwrap();
        assert!(t.contains(from), "{file}");
        std::fs::write(&p, t.replace(from, to)).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let before = chrono::Utc::now();
    let run = run_in(
        dir.path(),
        build_args(dir.path(), &server, &["chinania-jqzs"]),
        &[],
    );
    run.expect_code(0);
    for (id, raw) in [("62090", "2026-02-30"), ("61834", "2099-08-27")] {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains(id) && l.contains(raw)),
            "warning names the URL and the raw value {raw}:\n{}",
            run.stderr
        );
    }
    let f = parse_feed(&dir.path().join("public/chinania-jqzs.atom.xml"));
    assert_eq!(f.entries.len(), 6, "every notice is kept");
    for id in ["62090", "61834", "61599"] {
        let e = f
            .entries
            .iter()
            .find(|e| e.links[0].href.contains(id))
            .unwrap();
        let p = e.published.unwrap();
        assert!(
            p >= before - chrono::Duration::seconds(1) && p <= chrono::Utc::now(),
            "{id}: dated when first seen, got {p}"
        );
    }
    // `check` shows what the page said for each date it did not use.
    let checked = run_in(
        dir.path(),
        [
            "--feeds",
            &support::repo().join("feeds").display().to_string(),
            "--mirror",
            &format!("{ORIGIN}={}", server.base()),
            "--delay-ms",
            "0",
            "check",
            "chinania-jqzs",
        ],
        &[],
    );
    checked.expect_code(0);
    for shown in [
        "(estimated: page says `2026-02-30`)",
        "(estimated: page says `2099-08-27 16:22`)",
        "(estimated: no date on the page)",
    ] {
        assert!(
            checked.stdout.contains(shown),
            "no {shown}:\n{}",
            checked.stdout
        );
    }
    // A later run keeps the first-seen date rather than moving it.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let atom = dir.path().join("public/chinania-jqzs.atom.xml");
    let first = std::fs::read(&atom).unwrap();
    run_in(
        dir.path(),
        build_args(dir.path(), &server, &["chinania-jqzs", "--refresh"]),
        &[],
    )
    .expect_code(0);
    assert_eq!(std::fs::read(&atom).unwrap(), first);
}

#[test]
fn a_failing_detail_page_keeps_the_list_entry_and_says_so() {
    let (copy, server) = serve_mirror_copy();
    let gone = copy
        .path()
        .join("html/zcfg/zhengcefagui/2026/0918/62026.html");
    std::fs::remove_file(&gone).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = run_in(
        dir.path(),
        build_args(dir.path(), &server, &["chinania-zhengcefagui"]),
        &[],
    );
    run.expect_code(0);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("62026.html") && l.contains("404")),
        "{}",
        run.stderr
    );
    let f = parse_feed(&dir.path().join("public/chinania-zhengcefagui.atom.xml"));
    assert_eq!(f.entries.len(), 6);
    let e = f
        .entries
        .iter()
        .find(|e| e.links[0].href.ends_with("/62026.html"))
        .unwrap();
    let list_title = expected()["channels"]["zcfg/zhengcefagui"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == 62026)
        .unwrap()["list_title"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(e.title.as_ref().unwrap().content, list_title);
    let day = e
        .published
        .unwrap()
        .with_timezone(&chrono_tz::Asia::Shanghai);
    assert_eq!(day.format("%Y-%m-%d %H:%M").to_string(), "2026-09-18 00:00");
}
