//! GUID stability: every change the README promises does not re-announce a notice, tested on
//! the real binary. A GUID that moved would show every reader the notice again as new.

// Tests may unwrap (STYLE.md §4): a panic with its message is the report.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::{copy_dir, mtime, run_in, Project};

/// Pinned values. If one of these changes, the derivation changed and every reader of every
/// feed would see the notices again: that must never ship.
const HARBIN_BY_PATH: &str = "urn:uuid:82530e5a-75ef-5835-9f6a-0d80f1d28a2d";
const SMART_MINING_BY_LINK: &str = "urn:uuid:1708a651-6e4b-528c-9ddf-2d162a642b67";
const STANDARDS_BY_ID: &str = "urn:uuid:1447779b-4797-5575-b735-1c9b5e4c3c6f";

const HARBIN: &str = "2026 China International Copper Forum Opens in Harbin";
const SMART_MINING: &str = "Smart Mining Conference & \"Intrinsic Safety\" Forum held";
const STANDARDS: &str = "2026年有色金属行业标准化工作会议在北京召开";
const LITHIUM: &str = "2026 China Lithium Industry Conference held in Yichun";

/// A Markdown notice with YAML front matter.
fn md(title: &str, date: &str, link: Option<&str>, id: Option<&str>, body: &str) -> String {
    let mut s = format!("---\ntitle: \"{title}\"\ndate: {date}\n");
    if let Some(l) = link {
        s.push_str(&format!("link: \"{l}\"\n"));
    }
    if let Some(i) = id {
        s.push_str(&format!("id: \"{i}\"\n"));
    }
    s.push_str(&format!("---\n{body}\n"));
    s
}

/// Builds with a store of its own (the archive would otherwise keep the notices of earlier
/// builds in the feed) and returns the single entry's id.
fn only_id(p: &Project) -> String {
    static BUILDS: AtomicUsize = AtomicUsize::new(0);
    let n = BUILDS.fetch_add(1, Ordering::Relaxed);
    let state = p.path().join(format!("state-{n}.sqlite"));
    p.run(&["build", "--state", state.to_str().unwrap()])
        .expect_code(0);
    let ids = p.ids_by_title();
    assert_eq!(ids.len(), 1, "{ids:?}");
    ids.into_values().next().unwrap()
}

fn id_set(p: &Project) -> BTreeSet<String> {
    p.ids_by_title().into_values().collect()
}

#[test]
fn guid_values_are_pinned_for_path_link_and_explicit_id() {
    let p = Project::bundled();
    p.build().expect_code(0);
    let ids = p.ids_by_title();
    assert_eq!(ids[HARBIN], HARBIN_BY_PATH, "path-keyed GUID changed");
    assert_eq!(
        ids[SMART_MINING], SMART_MINING_BY_LINK,
        "link-keyed GUID changed"
    );
    assert_eq!(ids[STANDARDS], STANDARDS_BY_ID, "id-keyed GUID changed");
}

#[test]
fn editing_title_body_or_date_keeps_every_guid() {
    let p = Project::bundled();
    p.build().expect_code(0);
    let before = p.ids_by_title();

    // Plain text (keyed by path): new title, date and body.
    p.write_notice(
        "2026-09-09-copper-forum-harbin.txt",
        "Copper Forum Opens in Harbin (corrected)\n\ndate\n10/09/2026\n\nA rewritten body.\n",
    );
    // YAML Markdown keyed by link: new title, date and body, same link.
    p.write_notice(
        "2026-05-29-lithium-conference.md",
        md(
            "Lithium conference, corrected title",
            "2026-05-30T08:00:00+08:00",
            Some(
                "https://www.chinania.org.cn/html/xiehuidongtai/xiehuidongtai/2026/0529/61178.html",
            ),
            None,
            "Entirely new body.",
        ),
    );
    // TOML Markdown keyed by explicit id: new title, date, link and body.
    p.write_notice(
        "2026-06-26-standardization-meeting.md",
        "+++\ntitle = \"标准化工作会议（更正）\"\ndate = 2026-06-27\nid = \"cnia-std-2026-06\"\n\
         link = \"https://www.chinania.org.cn/moved.html\"\n+++\n新的正文。\n",
    );
    p.build().expect_code(0);
    let after = p.ids_by_title();

    assert_eq!(
        after["Copper Forum Opens in Harbin (corrected)"],
        before[HARBIN]
    );
    assert_eq!(
        after["Lithium conference, corrected title"],
        before[LITHIUM]
    );
    assert_eq!(after["标准化工作会议（更正）"], before[STANDARDS]);
    let set = |m: &std::collections::BTreeMap<String, String>| -> BTreeSet<String> {
        m.values().cloned().collect()
    };
    assert_eq!(set(&after), set(&before), "no GUID appeared or disappeared");
}

#[test]
fn resaving_notices_changes_nothing() {
    let p = Project::bundled();
    p.build().expect_code(0);
    let before = p.outputs();
    let times = (mtime(&p.rss_path()), mtime(&p.atom_path()));
    std::thread::sleep(std::time::Duration::from_millis(50));
    // Re-save every notice with the same bytes, and touch it (a newer modification time).
    for entry in fs::read_dir(p.notices()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes).unwrap();
        let f = fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(3600))
            .unwrap();
    }
    p.build().expect_code(0);
    assert_eq!(p.outputs(), before, "output bytes changed");
    assert_eq!(
        (mtime(&p.rss_path()), mtime(&p.atom_path())),
        times,
        "files were rewritten"
    );
}

#[test]
fn host_time_zone_changes_no_byte() {
    let p = Project::bundled();
    let mut outputs = Vec::new();
    for tz in [
        "UTC",
        "Asia/Shanghai",
        "America/Los_Angeles",
        "Pacific/Kiritimati",
    ] {
        let _ = fs::remove_dir_all(p.out());
        p.run_env(&["build"], &[("TZ", tz)]).expect_code(0);
        outputs.push((tz, p.outputs()));
    }
    let (first_tz, first) = &outputs[0];
    for (tz, out) in &outputs[1..] {
        assert!(out == first, "TZ={tz} output differs from TZ={first_tz}");
    }
    let ids = p.ids_by_title();
    assert_eq!(ids[HARBIN], HARBIN_BY_PATH);
}

#[test]
fn another_folder_or_machine_gives_the_same_bytes() {
    let a = Project::bundled();
    a.build().expect_code(0);

    // Another checkout elsewhere, the notice folder under another name and depth.
    let b = Project::empty();
    let def = fs::read_to_string(a.path().join("feeds/notices.toml"))
        .unwrap()
        .replace(
            "path = \"../notices\"",
            "path = \"../archive/2026/notices\"",
        );
    b.write_feed("notices", &def);
    copy_dir(&a.notices(), &b.path().join("archive/2026/notices"));
    b.build().expect_code(0);
    assert!(
        a.outputs() == b.outputs(),
        "a copied project builds other bytes"
    );

    // Run from another working directory with absolute paths.
    let c = Project::bundled();
    let feeds = c.path().join("feeds");
    let out = c.out();
    // The store too, or it would land in `/.noticefeed/`, shared with every other test run.
    let state = c.path().join("state.sqlite");
    run_in(
        std::path::Path::new("/"),
        [
            "build".as_ref(),
            "--feeds".as_ref(),
            feeds.as_os_str(),
            "--state".as_ref(),
            state.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
        &[],
    )
    .expect_code(0);
    assert!(
        a.outputs() == c.outputs(),
        "the working directory changed the output"
    );
}

#[test]
fn http_https_and_tracking_parameters_give_one_guid() {
    let p = Project::bundled_definition();
    let spellings = [
        "https://www.example.org/n/1.html?a=1&b=2",
        "http://www.example.org/n/1.html?a=1&b=2",
        "http://WWW.Example.ORG:80/n/1.html?b=2&utm_source=wechat&a=1&spm=a2c4g#top",
        "https://www.example.org:443/n/%31.html?utm_medium=feed&utm_campaign=x&a=1&b=2&from=timeline",
    ];
    let mut ids = Vec::new();
    for (i, link) in spellings.iter().enumerate() {
        // The file name and title change too: neither is the key when there is a link.
        let _ = fs::remove_dir_all(p.notices());
        let date = format!("2026-01-0{}", i + 1);
        p.write_notice(
            &format!("n{i}.md"),
            md(&format!("Title {i}"), &date, Some(link), None, "b"),
        );
        ids.push(only_id(&p));
    }
    assert!(
        ids.iter().all(|id| id == &ids[0]),
        "{spellings:?} gave {ids:?}"
    );

    // Another page is another notice.
    let _ = fs::remove_dir_all(p.notices());
    p.write_notice(
        "n.md",
        md(
            "T",
            "2026-01-01",
            Some("https://www.example.org/n/2.html?a=1&b=2"),
            None,
            "b",
        ),
    );
    assert_ne!(only_id(&p), ids[0]);
}

#[test]
fn explicit_id_wins_over_link_and_path() {
    let p = Project::bundled_definition();
    let l1 = "https://www.example.org/n/1.html";
    let l2 = "https://www.example.org/n/2.html";

    p.write_notice(
        "a.md",
        md("T", "2026-01-01", Some(l1), Some("notice-42"), "b"),
    );
    let by_id = only_id(&p);

    // Another link, another file name, another format: the id decides.
    let _ = fs::remove_dir_all(p.notices());
    p.write_notice(
        "b.md",
        md("T2", "2026-02-01", Some(l2), Some("notice-42"), "c"),
    );
    assert_eq!(only_id(&p), by_id);
    let _ = fs::remove_dir_all(p.notices());
    p.write_notice("c.md", md("T3", "2026-02-01", None, Some("notice-42"), "c"));
    assert_eq!(only_id(&p), by_id);
    let _ = fs::remove_dir_all(p.notices());
    p.write_notice(
        "d.json",
        r#"[{"title": "T4", "date": "2026-03-01", "id": "notice-42", "link": "https://x.org/"}]"#,
    );
    assert_eq!(only_id(&p), by_id);

    // Without the id the link is the key, and it differs from the id's GUID.
    let _ = fs::remove_dir_all(p.notices());
    p.write_notice("e.md", md("T", "2026-01-01", Some(l2), None, "b"));
    let by_link = only_id(&p);
    assert_ne!(by_link, by_id);
    let _ = fs::remove_dir_all(p.notices());
    p.write_notice("renamed.md", md("Other", "2027-01-01", Some(l2), None, "x"));
    assert_eq!(
        only_id(&p),
        by_link,
        "renaming a linked notice keeps its GUID"
    );

    // Without id and link, the path relative to the notice folder is the key.
    let _ = fs::remove_dir_all(p.notices());
    p.write_notice("sub/f.md", md("T", "2026-01-01", None, None, "b"));
    let by_path = only_id(&p);
    assert_ne!(by_path, by_link);
    let _ = fs::remove_dir_all(p.notices());
    p.write_notice(
        "sub/f.md",
        md("Changed", "2026-05-05", None, None, "changed"),
    );
    assert_eq!(only_id(&p), by_path);
}

#[test]
fn bundled_guids_are_the_same_in_rss_and_atom_and_unique() {
    let p = Project::bundled();
    p.build().expect_code(0);
    // ids_by_title asserts RSS and Atom agree entry by entry.
    assert_eq!(id_set(&p).len(), 10);
}

/// Issue: a notice's key changing (a `link` or `id` added later, a link respelled) must not
/// give it a new GUID: its file is its source identity, and the store keeps the GUID found
/// there, with the new key pinned to it as an alias. One item, never two.
#[test]
fn a_notice_keeps_its_guid_when_a_link_or_id_is_added_or_a_scheme_changes() {
    let p = Project::bundled();
    p.build().expect_code(0);
    let before = p.ids_by_title();
    assert_eq!(before[HARBIN], HARBIN_BY_PATH);
    assert_eq!(before[SMART_MINING], SMART_MINING_BY_LINK);
    let check = |step: &str| {
        p.build().expect_code(0);
        let after = p.ids_by_title();
        assert_eq!(after, before, "{step}: titles and GUIDs");
        assert_eq!(after.len(), 10, "{step}: one item per notice");
    };

    // (a) A .txt notice (keyed by its path) gains a link: the link is its key now.
    let harbin = p.notices().join("2026-09-09-copper-forum-harbin.txt");
    let text = fs::read_to_string(&harbin).unwrap();
    let linked = text.replacen(
        "09/09/2026\n",
        "09/09/2026\n\nlink\nhttps://www.chinania.org.cn/html/hangyexinwen/2026/0909/62001.html\n\n",
        1,
    );
    assert_ne!(linked, text);
    p.write_notice("2026-09-09-copper-forum-harbin.txt", &linked);
    check("link added to a .txt notice");

    // (b) A Markdown notice (keyed by its link) gains an id.
    let mining = p.notices().join("2026-08-22-smart-mining-forum.md");
    let text = fs::read_to_string(&mining).unwrap();
    let with_id = text.replacen(
        "+++\ntitle",
        "+++\nid = \"cnia-smart-mining-2026\"\ntitle",
        1,
    );
    assert_ne!(with_id, text);
    p.write_notice("2026-08-22-smart-mining-forum.md", &with_id);
    check("id added to a Markdown notice");

    // (c) Links respelled: https → http on the lithium notice (keyed by its link) and on the
    // Harbin notice's new link.
    let lithium = p.notices().join("2026-05-29-lithium-conference.md");
    let text = fs::read_to_string(&lithium).unwrap();
    assert!(text.contains("https://www.chinania.org.cn/"));
    p.write_notice(
        "2026-05-29-lithium-conference.md",
        text.replace(
            "https://www.chinania.org.cn/",
            "http://www.chinania.org.cn/",
        ),
    );
    p.write_notice(
        "2026-09-09-copper-forum-harbin.txt",
        linked.replace("https://www.", "http://www."),
    );
    check("scheme changed");

    // (d) And the link of a path-keyed notice that gained one changes again (a site move):
    // its file still says who it is.
    p.write_notice(
        "2026-09-09-copper-forum-harbin.txt",
        linked.replace("/html/hangyexinwen/", "/html/moved/"),
    );
    check("link of a once path-keyed notice changed");

    // The store holds the ten notices, each once.
    let db = rusqlite::Connection::open(p.path().join(".noticefeed/state.sqlite")).unwrap();
    let rows: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM item WHERE feed = 'notices'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 10, "rows in the store");
}

/// A notice inserted at the top of a JSON file takes the first position, which another
/// notice held: that notice keeps its GUID by its id, the newcomer gets one of its own.
#[test]
fn an_entry_inserted_in_a_json_file_takes_no_other_notice_guid() {
    let p = Project::bundled_definition();
    p.write_notice(
        "list.json",
        r#"[{"title": "A", "date": "2026-01-01", "id": "a"},
            {"title": "B", "date": "2026-01-02", "link": "https://www.example.org/b.html"}]"#,
    );
    p.build().expect_code(0);
    let before = p.ids_by_title();
    p.write_notice(
        "list.json",
        r#"[{"title": "New", "date": "2026-01-03"},
            {"title": "A", "date": "2026-01-01", "id": "a"},
            {"title": "B", "date": "2026-01-02", "link": "https://www.example.org/b.html"}]"#,
    );
    p.build().expect_code(0);
    let after = p.ids_by_title();
    assert_eq!(after["A"], before["A"]);
    assert_eq!(after["B"], before["B"]);
    assert_eq!(after.len(), 3);
    assert!(after["New"] != before["A"] && after["New"] != before["B"]);
}
