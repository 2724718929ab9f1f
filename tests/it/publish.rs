//! Publishing: the project file and its public URL, self links (absolute or absent, never
//! relative), and every output of the shipped feeds read by real parsers.

// Tests may unwrap (STYLE.md §4): a panic with its message is the report.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

use crate::server::Server;
use crate::support::{
    self, copy_dir, entries, parse_feed, repo, run_in, snapshot, xmllint_ok, Project, Run, CHINANIA,
};

const PUBLIC: &str = "https://feeds.example.org/cnia/";

/// The shipped project (feeds/ and notices/) copied into a temporary folder, so a project file
/// can be put beside its feeds/.
struct Shipped {
    dir: tempfile::TempDir,
}

impl Shipped {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&repo().join("feeds"), &dir.path().join("feeds"));
        copy_dir(&repo().join("notices"), &dir.path().join("notices"));
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn out(&self) -> PathBuf {
        self.path().join("public")
    }

    fn write_project(&self, toml: &str) {
        fs::write(self.path().join("noticefeed.toml"), toml).unwrap();
    }

    /// `build` of every shipped feed, the site read from `server`, then `extra`.
    fn build(&self, server: &Server, extra: &[&str]) -> Run {
        let mut args: Vec<String> = [
            "--feeds",
            "feeds",
            "--state",
            "state.sqlite",
            "--delay-ms",
            "0",
            "--mirror",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(format!("{CHINANIA}={}", server.base()));
        args.extend(["build", "--out", "public"].map(String::from));
        args.extend(extra.iter().map(|s| s.to_string()));
        run_in(self.path(), &args, &[])
    }

    /// Every RSS and Atom file written.
    fn feed_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(self.out())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy();
                n.ends_with(".rss.xml") || n.ends_with(".atom.xml")
            })
            .collect();
        files.sort();
        files
    }
}

fn mirror_server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| Server::start(&support::chinania_mirror()))
}

/// A build of every shipped feed from the mirror, run once and shared by the tests that only
/// read its output: `public` puts a project file with [`PUBLIC`] beside feeds/.
struct Built {
    shipped: Shipped,
    stderr: String,
}

impl Built {
    fn out(&self) -> PathBuf {
        self.shipped.out()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.out().join(name)
    }
}

fn built(public: bool) -> &'static Built {
    static PLAIN: OnceLock<Built> = OnceLock::new();
    static WITH_URL: OnceLock<Built> = OnceLock::new();
    let cell = if public { &WITH_URL } else { &PLAIN };
    cell.get_or_init(|| {
        let shipped = Shipped::new();
        if public {
            // Without the trailing slash: one is added.
            shipped.write_project(&format!(
                "public_url = \"{}\"\n",
                PUBLIC.trim_end_matches('/')
            ));
        }
        let run = shipped.build(mirror_server(), &["-v"]);
        run.expect_code(0);
        Built {
            shipped,
            stderr: run.stderr,
        }
    })
}

/// The ids of the shipped definitions.
fn shipped_ids() -> Vec<String> {
    let mut ids: Vec<String> = fs::read_dir(repo().join("feeds"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    assert_eq!(ids.len(), 19);
    ids
}

/// The self links of a feed file as feed-rs reads them.
fn self_links(file: &Path) -> Vec<String> {
    parse_feed(file)
        .links
        .into_iter()
        .filter(|l| l.rel.as_deref() == Some("self"))
        .map(|l| l.href)
        .collect()
}

/// The 19 shipped definitions: without a public URL no file carries a self link (and `-v`
/// says once how to set one); with one from the project file every file carries its own
/// absolute one. feed-rs 3 (which refuses a relative self link) parses every file both times.
#[test]
fn shipped_feeds_have_absolute_self_links_or_none() {
    let plain = built(false);
    let hints = plain
        .stderr
        .lines()
        .filter(|l| l.contains("no public URL"))
        .collect::<Vec<_>>();
    assert_eq!(hints.len(), 1, "said once: {}", plain.stderr);
    assert!(
        hints[0].contains("noticefeed.toml") && hints[0].contains("--public-url"),
        "says how to set it: {}",
        hints[0]
    );
    let files = plain.shipped.feed_files();
    assert_eq!(files.len(), 2 * 19, "{files:?}");
    for f in &files {
        let text = fs::read_to_string(f).unwrap();
        assert!(!text.contains("rel=\"self\""), "{}: {text}", f.display());
        assert!(self_links(f).is_empty());
    }
    for id in shipped_ids() {
        let json: Value =
            serde_json::from_slice(&fs::read(plain.file(&format!("{id}.json"))).unwrap()).unwrap();
        assert!(json.get("feed_url").is_none(), "{id}: no relative feed_url");
    }

    let public = built(true);
    assert!(
        !public.stderr.contains("no public URL"),
        "{}",
        public.stderr
    );
    for f in public.shipped.feed_files() {
        let name = f.file_name().unwrap().to_string_lossy();
        assert_eq!(
            self_links(&f),
            [format!("{PUBLIC}{name}")],
            "{}",
            f.display()
        );
    }
}

/// Every shipped feed's JSON Feed 1.1: read by feed-rs 3 as JSON Feed, the same items in the
/// same order with the same GUID strings as RSS and Atom; dates in RFC 3339 with Beijing's
/// offset; `feed_url` absolute; attachments with their type and size.
#[test]
fn json_feeds_carry_the_same_items_and_guids_as_rss_and_atom() {
    let b = built(true);
    let mut attachments = 0;
    for id in shipped_ids() {
        let path = b.file(&format!("{id}.json"));
        let feed = parse_feed(&path);
        assert_eq!(feed.feed_type, feed_rs::model::FeedType::JSON, "{id}");
        let json_side = entries(&feed);
        let atom_side = entries(&parse_feed(&b.file(&format!("{id}.atom.xml"))));
        let rss_side = entries(&parse_feed(&b.file(&format!("{id}.rss.xml"))));
        assert!(!json_side.is_empty(), "{id}");
        let ids = |v: &[support::Seen]| v.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&json_side), ids(&atom_side), "{id}: JSON vs Atom GUIDs");
        assert_eq!(ids(&json_side), ids(&rss_side), "{id}: JSON vs RSS GUIDs");
        assert_eq!(json_side, atom_side, "{id}: titles, links, dates, tags");

        let v: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["version"], "https://jsonfeed.org/version/1.1");
        assert_eq!(v["feed_url"], format!("{PUBLIC}{id}.json"));
        assert!(v["home_page_url"].as_str().unwrap().starts_with("https://"));
        assert!(v["language"].is_string() && v["authors"][0]["name"].is_string());
        for item in v["items"].as_array().unwrap() {
            for key in ["date_published", "date_modified"] {
                let d = item[key].as_str().unwrap();
                assert!(
                    chrono::DateTime::parse_from_rfc3339(d).is_ok() && d.ends_with("+08:00"),
                    "{id}: {key} {d}"
                );
            }
            assert!(item["content_html"].is_string(), "{id}");
            for a in item["attachments"].as_array().into_iter().flatten() {
                attachments += 1;
                assert!(a["url"].as_str().unwrap().starts_with("https://"), "{a}");
                assert!(a["mime_type"].as_str().unwrap().contains('/'), "{a}");
                assert!(
                    a.get("size_in_bytes")
                        .is_none_or(|n| n.as_u64().unwrap() > 0),
                    "{a}"
                );
            }
        }
    }
    assert!(attachments > 0, "the mirror has notices with attachments");
}

/// `feeds.opml` lists every shipped feed once, under one outline per site (the association's
/// 18 channel feeds together, the local notices in their own group), with absolute `xmlUrl`s;
/// newsboat imports it and subscribes to every feed.
#[test]
fn opml_groups_every_feed_by_site_and_imports_into_newsboat() {
    let b = built(true);
    let opml = fs::read_to_string(b.file("feeds.opml")).unwrap();
    assert!(opml.contains("<opml version=\"2.0\">"), "{opml}");
    let xml_urls: Vec<String> = shipped_ids()
        .iter()
        .map(|id| format!("{PUBLIC}{id}.rss.xml"))
        .collect();
    for u in &xml_urls {
        assert_eq!(
            opml.matches(&format!("xmlUrl=\"{u}\"")).count(),
            1,
            "{u} once: {opml}"
        );
    }
    assert_eq!(opml.matches("type=\"rss\"").count(), 19);
    let site = opml
        .find("<outline text=\"中国有色金属工业协会\"")
        .expect("one outline for the site");
    let local = opml
        .find("<outline text=\"Local notices\"")
        .expect("a group for local notices");
    assert_eq!(
        opml.matches("<outline text=\"中国有色金属工业协会\"")
            .count(),
        1
    );
    let in_site = &opml[site..local];
    assert_eq!(in_site.matches("type=\"rss\"").count(), 18, "{opml}");
    assert!(opml[local..].contains("notices.rss.xml"));
    assert!(in_site.contains("htmlUrl=\"https://www.chinania.org.cn/\""));
    assert!(in_site.contains("language=\"zh-CN\""));
    xmllint_ok(&b.file("feeds.opml"), false);

    let Some(imported) = newsboat_import(&b.file("feeds.opml")) else {
        return;
    };
    for u in &xml_urls {
        assert!(
            imported
                .iter()
                .any(|line| line.split_whitespace().next() == Some(u.as_str())),
            "newsboat did not import {u}: {imported:?}"
        );
    }
    assert_eq!(imported.len(), 19, "{imported:?}");
}

/// `newsboat -i FILE` in a profile of its own (urls file, cache, HOME in a temporary folder);
/// returns the lines of the urls file it wrote. `None` when newsboat is missing and skipping
/// was asked for.
fn newsboat_import(opml: &Path) -> Option<Vec<String>> {
    let ok = Command::new("newsboat")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    if !support::external_available("newsboat (apt-get install newsboat)", ok) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    fs::create_dir_all(&home).unwrap();
    let urls = dir.path().join("urls");
    let out = Command::new("newsboat")
        .arg("-u")
        .arg(&urls)
        .arg("-c")
        .arg(dir.path().join("cache.db"))
        .args(["-C", "/dev/null", "-i"])
        .arg(opml)
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "newsboat -i: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        fs::read_to_string(&urls)
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

/// `build ID` writes only that feed's files, yet the folder files still list every feed that
/// has been published; a rerun rewrites none of them.
#[test]
fn building_some_feeds_keeps_every_feed_in_the_folder_files() {
    let p = Project::bundled();
    let def = fs::read_to_string(repo().join("feeds/notices.toml")).unwrap();
    p.write_feed("other", &def.replace("— notices", "— other"));
    p.run(&["build", "notices"]).expect_code(0);
    let opml = fs::read_to_string(p.out().join("feeds.opml")).unwrap();
    assert!(
        !opml.contains("other.rss.xml"),
        "never published, not listed: {opml}"
    );
    p.build().expect_code(0);
    let before = snapshot(&p.out());
    let opml = fs::read_to_string(p.out().join("feeds.opml")).unwrap();
    assert!(
        opml.contains("xmlUrl=\"other.rss.xml\"") && opml.contains("xmlUrl=\"notices.rss.xml\""),
        "{opml}"
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    p.run(&["build", "notices"]).expect_code(0);
    assert!(
        snapshot(&p.out()) == before,
        "a partial rerun changed the folder"
    );
}

/// An unchanged rerun of every shipped feed writes no file at all: feeds, JSON Feeds, pages,
/// OPML and index keep their bytes and their mtimes.
#[test]
fn an_unchanged_rerun_of_the_shipped_feeds_writes_nothing() {
    let s = Shipped::new();
    s.write_project(&format!("public_url = \"{PUBLIC}\"\n"));
    s.build(mirror_server(), &[]).expect_code(0);
    let before = snapshot(&s.out());
    assert_eq!(
        before.len(),
        19 * 4 + 2,
        "{:?}",
        before.keys().collect::<Vec<_>>()
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    s.build(mirror_server(), &[]).expect_code(0);
    let after = snapshot(&s.out());
    for (name, (bytes, time)) in &before {
        let (b2, t2) = &after[name];
        assert!(bytes == b2 && time == t2, "{name} was rewritten");
    }
    assert_eq!(after.len(), before.len());
}

fn bundled_self_links(p: &Project) -> (Vec<String>, Vec<String>) {
    (self_links(&p.rss_path()), self_links(&p.atom_path()))
}

/// `--public-url` wins over the project file; a feed's own `public_url` wins over both.
#[test]
fn flag_overrides_the_project_file_and_a_feeds_own_url_wins() {
    let p = Project::bundled();
    fs::write(
        p.path().join("noticefeed.toml"),
        "public_url = \"https://file.example/\"\n",
    )
    .unwrap();
    p.build().expect_code(0);
    assert_eq!(
        bundled_self_links(&p),
        (
            vec!["https://file.example/notices.rss.xml".to_owned()],
            vec!["https://file.example/notices.atom.xml".to_owned()]
        )
    );
    p.run(&["build", "--public-url", "https://flag.example/a"])
        .expect_code(0);
    assert_eq!(
        bundled_self_links(&p).1,
        ["https://flag.example/a/notices.atom.xml"]
    );
    let def = fs::read_to_string(repo().join("feeds/notices.toml")).unwrap();
    p.write_feed(
        "notices",
        &def.replacen(
            "max_items",
            "public_url = \"https://own.example/x/\"\nmax_items",
            1,
        ),
    );
    p.run(&["build", "--public-url", "https://flag.example/a"])
        .expect_code(0);
    assert_eq!(
        bundled_self_links(&p).0,
        ["https://own.example/x/notices.rss.xml"]
    );
}

/// A bad project file stops the run before anything is written, naming the file and the field;
/// `--config` names another file, which must then exist.
#[test]
fn a_bad_project_file_names_file_and_field_and_writes_nothing() {
    let p = Project::bundled();
    fs::write(
        p.path().join("noticefeed.toml"),
        "public_url = \"/feeds/\"\n",
    )
    .unwrap();
    let run = p.build();
    run.expect_code(2);
    assert!(
        run.stderr.contains("noticefeed.toml") && run.stderr.contains("`public_url`"),
        "{}",
        run.stderr
    );
    fs::write(
        p.path().join("noticefeed.toml"),
        "public_uri = \"https://x/\"\n",
    )
    .unwrap();
    let run = p.build();
    run.expect_code(2);
    assert!(
        run.stderr.contains("noticefeed.toml") && run.stderr.contains("public_uri"),
        "{}",
        run.stderr
    );
    assert!(!p.out().exists(), "nothing written");
    let run = p.run(&["list"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("noticefeed.toml"),
        "list checks it too: {}",
        run.stderr
    );

    let run = p.run(&["build", "--config", "elsewhere.toml"]);
    run.expect_code(2);
    assert!(run.stderr.contains("elsewhere.toml"), "{}", run.stderr);
    fs::write(
        p.path().join("elsewhere.toml"),
        "public_url = \"https://else.example/\"\n",
    )
    .unwrap();
    p.run(&["build", "--config", "elsewhere.toml"])
        .expect_code(0);
    assert_eq!(
        bundled_self_links(&p).0,
        ["https://else.example/notices.rss.xml"]
    );
    let run = p.run(&["build", "--public-url", "ftp://x/"]);
    run.expect_code(2);
    assert!(run.stderr.contains("--public-url"), "{}", run.stderr);
}

/// `chromium --headless --dump-dom` of a file: the DOM after parsing and layout, as a browser
/// builds it. `None` when chromium is missing and skipping was asked for.
fn chromium_dom(file: &Path) -> Option<String> {
    let ok = Command::new("chromium")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    if !support::external_available("chromium (apt-get install chromium fonts-noto-cjk)", ok) {
        return None;
    }
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url::Url::from_file_path(file).unwrap().as_str())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s on {}", file.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "chromium failed on {}",
        file.display()
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

/// Text as a serialized DOM spells it.
fn dom_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\u{a0}', "&nbsp;")
}

/// A page asks nothing of another host: no script, no external stylesheet, font or image, no
/// frame; the only `<link>`s are feed autodiscovery.
#[track_caller]
fn assert_self_contained(html: &str, name: &str) {
    for bad in [
        "<script",
        "<img",
        "<iframe",
        "src=",
        "@import",
        "url(",
        "<link rel=\"stylesheet",
    ] {
        assert!(!html.contains(bad), "{name} contains {bad}");
    }
    for line in html.lines().filter(|l| l.trim_start().starts_with("<link")) {
        assert!(line.contains("rel=\"alternate\""), "{name}: {line}");
    }
    assert!(html.contains("<meta name=\"viewport\""), "{name}");
}

/// The index lists every feed grouped by site with its newest five notices (Beijing dates),
/// subscribe links and autodiscovery; a feed page lists every item. Both render in headless
/// Chromium with their Chinese titles, ask no other host for anything, and are byte-stable.
#[test]
fn index_and_feed_pages_render_in_chromium_with_their_chinese_titles() {
    let b = built(true);
    let index = fs::read_to_string(b.file("index.html")).unwrap();
    assert_self_contained(&index, "index.html");
    assert!(
        index.starts_with("<!doctype html>\n<html lang=\"zh-CN\">"),
        "{index}"
    );
    assert_eq!(index.matches("<link rel=\"alternate\"").count(), 19 * 3);
    assert!(index.contains(&format!("href=\"{PUBLIC}feeds.opml\"")));
    for id in shipped_ids() {
        for f in [
            format!("{id}.rss.xml"),
            format!("{id}.atom.xml"),
            format!("{id}.json"),
            format!("{id}.html"),
        ] {
            assert!(
                index.contains(&format!("href=\"{PUBLIC}{f}\""))
                    || index.contains(&format!("href=\"{}\"", PUBLIC.replace('/', "&#x2f;") + &f)),
                "index links {f}"
            );
        }
    }
    let Some(dom) = chromium_dom(&b.file("index.html")) else {
        return;
    };
    let site = dom
        .find(">中国有色金属工业协会</a></h2>")
        .expect("the site's heading");
    let local = dom
        .find(">Local notices</h2>")
        .expect("the local group's heading");
    assert!(site < local);
    for id in shipped_ids() {
        let feed = parse_feed(&b.file(&format!("{id}.atom.xml")));
        let title = feed.title.unwrap().content;
        let at = dom
            .find(&format!(">{}</a></h3>", dom_text(&title)))
            .unwrap_or_else(|| panic!("{id}: {title} not in the DOM"));
        assert_eq!(at > local, id == "notices", "{id} in its group");
        let card = &dom[at..];
        let card = &card[..card.find("</article>").unwrap()];
        for e in feed.entries.iter().take(5) {
            let t = e.title.as_ref().unwrap().content.clone();
            let day = e
                .published
                .unwrap()
                .with_timezone(&chrono_tz::Asia::Shanghai)
                .format("%Y-%m-%d")
                .to_string();
            assert!(card.contains(&dom_text(&t)), "{id}: {t} not in its card");
            assert!(
                card.contains(&format!(">{day}</time>")),
                "{id}: Beijing date {day}"
            );
        }
        assert_eq!(
            card.matches("<li><time").count(),
            feed.entries.len().min(5),
            "{id}"
        );
        assert!(
            card.contains(&format!("{} items", feed.entries.len())),
            "{id}"
        );
    }

    let page = b.file("chinania-xiehuitongzhi.html");
    let html = fs::read_to_string(&page).unwrap();
    assert_self_contained(&html, "chinania-xiehuitongzhi.html");
    assert_eq!(html.matches("<link rel=\"alternate\"").count(), 3);
    let dom = chromium_dom(&page).unwrap();
    let feed = parse_feed(&b.file("chinania-xiehuitongzhi.atom.xml"));
    assert!(dom.contains(&dom_text(&feed.title.unwrap().content)));
    for e in &feed.entries {
        let t = e.title.as_ref().unwrap().content.clone();
        assert!(
            dom.contains(&format!(">{}</a></h3>", dom_text(&t))),
            "{t} not in the DOM"
        );
        let when = e
            .published
            .unwrap()
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .format("%Y-%m-%d %H:%M")
            .to_string();
        assert!(dom.contains(&when), "{t}: {when}");
        for l in e
            .links
            .iter()
            .filter(|l| l.rel.as_deref() == Some("enclosure"))
        {
            assert!(
                dom.contains(&format!("href=\"{}\"", dom_text(&l.href))),
                "attachment {} listed",
                l.href
            );
        }
    }
}

/// newsboat, headless in a profile of its own, reloads `files` (as `file://` URLs) once.
/// Returns the GUIDs it cached; fails when it logs an error or leaves a feed unread.
/// `None` when newsboat is missing and skipping was asked for.
fn newsboat_reload(files: &[PathBuf]) -> Option<std::collections::BTreeSet<String>> {
    let ok = Command::new("newsboat")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    if !support::external_available("newsboat (apt-get install newsboat)", ok) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    fs::create_dir_all(&home).unwrap();
    let urls: Vec<String> = files
        .iter()
        .map(|f| url::Url::from_file_path(f).unwrap().to_string())
        .collect();
    fs::write(dir.path().join("urls"), urls.join("\n") + "\n").unwrap();
    let (cache, log) = (dir.path().join("cache.db"), dir.path().join("log"));
    let out = Command::new("newsboat")
        .arg("-u")
        .arg(dir.path().join("urls"))
        .arg("-c")
        .arg(&cache)
        .args(["-C", "/dev/null", "-l", "4", "-d"])
        .arg(&log)
        .args(["-x", "reload"])
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let logged = fs::read_to_string(&log).unwrap_or_default();
    assert!(
        out.status.success() && logged.trim().is_empty(),
        "newsboat: {}\n{}\n{logged}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let db = rusqlite::Connection::open(&cache).unwrap();
    for u in &urls {
        let title: Option<String> = db
            .query_row("SELECT title FROM rss_feed WHERE rssurl = ?1", [u], |r| {
                r.get(0)
            })
            .ok();
        assert!(
            title.is_some_and(|t| !t.is_empty()),
            "newsboat did not read {u}"
        );
    }
    let mut st = db.prepare("SELECT guid FROM rss_item").unwrap();
    let guids = st
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    Some(guids)
}

/// The "done when", for every output of the 19 shipped feeds built from the offline
/// mirror, once without and once with a public URL: feed-rs 3 reads every RSS, Atom and JSON
/// file; feedparser reads every RSS and Atom file without error and sees the same GUIDs;
/// newsboat reloads all of them and caches exactly those GUIDs; xmllint validates the Atom
/// files against the RELAX NG schema and finds the RSS files and the OPML well-formed; self
/// links are absolute under the public URL, or absent.
#[test]
fn every_output_of_the_shipped_feeds_reads_in_every_client() {
    for public in [false, true] {
        let b = built(public);
        let mut xml = Vec::new();
        let mut all_guids = std::collections::BTreeSet::new();
        for id in shipped_ids() {
            let (rss, atom, json) = (
                b.file(&format!("{id}.rss.xml")),
                b.file(&format!("{id}.atom.xml")),
                b.file(&format!("{id}.json")),
            );
            let ids: Vec<Vec<String>> = [&rss, &atom, &json]
                .iter()
                .map(|f| entries(&parse_feed(f)).into_iter().map(|e| e.id).collect())
                .collect();
            assert!(
                ids[0] == ids[1] && ids[1] == ids[2],
                "{id}: one GUID per notice in every format"
            );
            all_guids.extend(ids[0].iter().cloned());
            for (f, name) in [
                (&rss, format!("{id}.rss.xml")),
                (&atom, format!("{id}.atom.xml")),
            ] {
                let want: Vec<String> = if public {
                    vec![format!("{PUBLIC}{name}")]
                } else {
                    vec![]
                };
                assert_eq!(self_links(f), want, "{name}");
            }
            let json_url = serde_json::from_slice::<Value>(&fs::read(&json).unwrap()).unwrap()
                ["feed_url"]
                .clone();
            assert_eq!(
                json_url,
                if public {
                    Value::from(format!("{PUBLIC}{id}.json"))
                } else {
                    Value::Null
                }
            );
            if xmllint_ok(&atom, true) {
                xmllint_ok(&rss, false);
            }
            xml.push(rss);
            xml.push(atom);
        }
        xmllint_ok(&b.file("feeds.opml"), false);

        let refs: Vec<&Path> = xml.iter().map(PathBuf::as_path).collect();
        if let Some(report) = crate::interop::feedparser(&refs) {
            for f in &xml {
                let r = &report[f.to_str().unwrap()];
                crate::interop::assert_no_bozo(r, f);
                let rust_side: Vec<String> =
                    entries(&parse_feed(f)).into_iter().map(|e| e.id).collect();
                assert_eq!(r["ids"], serde_json::json!(rust_side), "{}", f.display());
            }
        }
        if let Some(cached) = newsboat_reload(&xml) {
            assert_eq!(cached, all_guids, "newsboat caches every notice once");
        }
    }
}
