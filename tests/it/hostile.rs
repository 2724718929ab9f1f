//! Hostile and broken input: what a folder of copied-out office documents really holds. One bad
//! file gets one clear error line and the exit code says so; everything else is still published,
//! and nothing unsafe or invalid reaches a reader.

// Tests may unwrap (STYLE.md §4): a panic with its message is the report.
#![allow(clippy::unwrap_used)]

use std::fs;

use crate::support::{entries, mtime, run_in, xmllint_ok, Project};

/// Characters XML 1.0 forbids, even as character references.
fn assert_xml_chars_only(label: &str, text: &str) {
    for c in text.chars() {
        let ok = matches!(c, '\t' | '\n' | '\r')
            || ('\u{20}'..='\u{D7FF}').contains(&c)
            || ('\u{E000}'..='\u{FFFD}').contains(&c)
            || c >= '\u{10000}';
        assert!(ok, "{label}: forbidden character {c:?}");
    }
    for r in ["&#1;", "&#x1;", "&#11;", "&#xb;", "&#xB;"] {
        assert!(
            !text.contains(r),
            "{label}: forbidden character reference {r}"
        );
    }
}

/// Parses sanitized HTML and fails on anything that could run in a reader.
fn assert_inert_html(label: &str, html: &str) {
    let doc = scraper::Html::parse_fragment(html);
    for el in doc
        .root_element()
        .descendants()
        .filter_map(scraper::ElementRef::wrap)
    {
        let name = el.value().name();
        assert!(
            !matches!(name, "script" | "iframe" | "object" | "embed" | "style"),
            "{label}: <{name}> in {html}"
        );
        for (attr, value) in el.value().attrs() {
            assert!(!attr.starts_with("on"), "{label}: {attr}= in {html}");
            assert!(
                !value.trim().to_ascii_lowercase().starts_with("javascript:"),
                "{label}: {attr}={value} in {html}"
            );
        }
    }
}

#[test]
fn control_characters_and_scripts_are_removed_and_feeds_stay_valid() {
    let p = Project::bundled_definition();
    p.write_notice(
        "evil.md",
        "---\ntitle: \"Evil \u{1}title\u{b} <script>alert(1)</script>\"\ndate: 2026-01-01\n\
         author: \"Jane \u{1}Doe\"\ntags: [\"a\u{1}b\", \"<x>\"]\n\
         link: \"https://www.example.org/n/1.html\"\n---\n\
         Body\u{1} with\u{b} text <script>alert(2)</script>\n\n\
         <p onclick=\"steal()\" onmouseover=\"x()\">para</p>\n\n\
         [click](javascript:alert(3)) <a href=\"javascript:alert(4)\">raw</a> \
         <img src=\"x.png\" onerror=\"alert(5)\"> <iframe src=\"https://evil.example/\"></iframe>\n",
    );
    p.write_notice(
        "evil-toml.md",
        "+++\ntitle = \"TOML \u{1}title\"\ndate = 2026-01-02\n+++\n<script>alert(6)</script>ok\u{b}\n",
    );
    p.write_notice(
        "evil.txt",
        "Text \u{1}title <script>alert(7)</script>\n\ndate\n03/01/2026\n\n\
         Body \u{b}<b onclick=\"alert(8)\">bold</b> ]]> end <![CDATA[ x ]]>\n",
    );
    p.write_notice(
        "evil.jsonl",
        "{\"title\": \"JSON \\u0001title\", \"date\": \"2026-01-04\", \
         \"body\": \"<a href=\\\"javascript:alert(9)\\\" onclick=\\\"x()\\\">j</a>\\u000b\"}\n",
    );
    p.build().expect_code(0);

    for path in [p.rss_path(), p.atom_path()] {
        let label = path.display().to_string();
        let text = fs::read_to_string(&path).unwrap();
        assert_xml_chars_only(&label, &text);
        assert!(
            !text.contains("<script"),
            "{label}: unescaped <script>:\n{text}"
        );
        assert!(
            !text.contains("javascript:"),
            "{label}: javascript: URL:\n{text}"
        );
        assert!(!text.contains("<iframe"), "{label}: iframe:\n{text}");
        let feed = crate::support::parse_feed(&path);
        assert_eq!(feed.entries.len(), 4, "{label}: every notice is published");
        for e in &feed.entries {
            if let Some(body) = e.content.as_ref().and_then(|c| c.body.as_deref()) {
                assert_inert_html(&label, body);
            }
            // RSS readers decode `description` as HTML; an Atom summary is type="text".
            if let (Some(summary), true) = (&e.summary, label.ends_with(".rss.xml")) {
                assert_inert_html(&label, &summary.content);
            }
        }
    }

    // Atom titles are text: the control characters are gone, the rest is kept as text.
    let titles: Vec<String> = entries(&p.atom()).into_iter().map(|e| e.title).collect();
    assert_eq!(
        titles,
        [
            "JSON title",
            "Text title <script>alert(7)</script>",
            "TOML title",
            "Evil title <script>alert(1)</script>",
        ]
    );
    let atom = p.atom();
    let evil = atom.entries.last().unwrap();
    assert_eq!(evil.authors[0].name.as_deref(), Some("Jane Doe"));
    let tags: Vec<_> = evil.categories.iter().map(|c| c.term.as_str()).collect();
    assert_eq!(tags, ["ab", "<x>"]);
    let rss = fs::read_to_string(p.rss_path()).unwrap();
    assert!(rss.contains("<dc:creator>Jane Doe</dc:creator>"), "{rss}");
    // The `]]>` in a body must not end a CDATA section early.
    let content = p.rss().entries[1].content.clone().unwrap().body.unwrap();
    assert!(content.contains("]]&gt; end"), "{content}");

    if xmllint_ok(&p.atom_path(), true) {
        xmllint_ok(&p.rss_path(), false);
    }
}

#[test]
fn notice_without_title_is_reported_and_the_rest_published() {
    let p = Project::bundled();
    p.write_notice("no-title.txt", "\n\ndate\n01/01/2026\n\nbody\n");
    p.write_notice("no-title.md", "---\ndate: 2026-01-01\n---\nbody\n");
    p.write_notice(
        "blank-title.json",
        r#"[{"title": "  ", "date": "2026-01-01"}]"#,
    );
    let r = p.build();
    r.expect_code(1);
    for name in ["no-title.txt", "no-title.md", "blank-title.json"] {
        let line = r
            .stderr
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no error line names {name}:\n{}", r.stderr));
        assert!(line.contains("title"), "{line}");
    }
    assert_eq!(p.rss().entries.len(), 10);
    assert_eq!(p.atom().entries.len(), 10);
}

#[test]
fn unparseable_date_names_file_line_and_value_and_is_never_now() {
    let p = Project::bundled();
    p.write_notice(
        "bad-date.md",
        "---\ntitle: \"Bad date\"\ndate: 32/13/2026\n---\nbody\n",
    );
    p.write_notice("bad-date.txt", "Bad date too\n\ndate\n31/02/2026\n\nbody\n");
    let r = p.build();
    r.expect_code(1);
    let md = r
        .stderr
        .lines()
        .find(|l| l.contains("bad-date.md"))
        .unwrap_or_default();
    assert!(
        md.contains("bad-date.md:3:") && md.contains("32/13/2026"),
        "{}",
        r.stderr
    );
    let txt = r
        .stderr
        .lines()
        .find(|l| l.contains("bad-date.txt"))
        .unwrap_or_default();
    assert!(
        txt.contains("bad-date.txt:4:") && txt.contains("31/02/2026"),
        "{}",
        r.stderr
    );
    let titles: Vec<_> = entries(&p.rss()).into_iter().map(|e| e.title).collect();
    assert_eq!(titles.len(), 10, "{titles:?}");
    assert!(
        !titles.iter().any(|t| t.starts_with("Bad date")),
        "{titles:?}"
    );
}

#[test]
fn gbk_and_gb18030_notices_keep_their_text() {
    let p = Project::bundled_definition();
    let title = "关于召开2026年有色金属行业标准化工作会议的通知";
    let text = format!(
        "{title}\r\n\r\ndate\r\n26/06/2026\r\n\r\n各有关单位：会议定于6月26日在北京召开。\r\n"
    );
    let (gbk, _, bad) = encoding_rs::GBK.encode(&text);
    assert!(!bad);
    p.write_notice("gbk.txt", &gbk);
    // A character outside GBK, which only GB18030's four-byte form can carry.
    let (gb18030, _, bad) = encoding_rs::GB18030.encode(
        "---\ntitle: \"吉𠮷祥 GB18030 通知\"\ndate: 2026-06-25\ntags: [\"标准化\"]\n---\n正文：铜、铝、铅、锌。\n",
    );
    assert!(!bad);
    p.write_notice("gb18030.md", &gb18030);
    p.build().expect_code(0);
    for feed in [p.rss(), p.atom()] {
        let seen = entries(&feed);
        let titles: Vec<_> = seen.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(titles, [title, "吉𠮷祥 GB18030 通知"]);
        assert_eq!(seen[1].tags, ["标准化"]);
        let body = feed.entries[0].content.clone().unwrap().body.unwrap();
        assert!(
            body.contains("各有关单位：会议定于6月26日在北京召开。"),
            "{body}"
        );
        let body = feed.entries[1].content.clone().unwrap().body.unwrap();
        assert!(body.contains("正文：铜、铝、铅、锌。"), "{body}");
    }
}

#[test]
fn binary_and_undecodable_files_are_reported_and_skipped() {
    let p = Project::bundled();
    // A PNG saved with a notice extension.
    p.write_notice(
        "scan.txt",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00",
    );
    p.write_notice("garbage.md", [0xff, 0xff, 0xfe, 0x30, 0x81, 0x20]);
    let r = p.build();
    r.expect_code(1);
    let scan = r
        .stderr
        .lines()
        .find(|l| l.contains("scan.txt"))
        .unwrap_or_default();
    assert!(scan.contains("binary"), "{}", r.stderr);
    assert!(
        r.stderr.lines().any(|l| l.contains("garbage.md")),
        "{}",
        r.stderr
    );
    assert_eq!(p.rss().entries.len(), 10);
}

#[test]
fn empty_folder_fails_and_writes_nothing() {
    let p = Project::bundled_definition();
    let r = p.build();
    r.expect_code(1);
    assert!(r.stderr.contains("notices"), "{}", r.stderr);
    let written = fs::read_dir(p.out()).map(|d| d.count()).unwrap_or(0);
    assert_eq!(written, 0, "an empty folder must not blank a feed");
}

#[test]
fn empty_folder_leaves_previous_files_untouched() {
    let p = Project::bundled();
    p.build().expect_code(0);
    let before = p.outputs();
    let times = (mtime(&p.rss_path()), mtime(&p.atom_path()));
    fs::remove_dir_all(p.notices()).unwrap();
    fs::create_dir(p.notices()).unwrap();
    p.build().expect_code(1);
    assert_eq!(p.outputs(), before);
    assert_eq!((mtime(&p.rss_path()), mtime(&p.atom_path())), times);

    // A folder of nothing but broken files is as empty.
    p.write_notice("broken.txt", "\n\n");
    p.build().expect_code(1);
    assert_eq!(p.outputs(), before);
}

#[test]
fn unknown_key_in_a_definition_exits_2_naming_file_and_key() {
    let p = Project::bundled();
    let def = fs::read_to_string(p.path().join("feeds/notices.toml")).unwrap();
    p.write_feed("notices", &def.replace("max_items = 50", "max_item = 50"));
    for cmd in ["build", "list"] {
        let r = p.run(&[cmd]);
        r.expect_code(2);
        assert!(r.stderr.contains("notices.toml"), "{}", r.stderr);
        assert!(r.stderr.contains("max_item"), "{}", r.stderr);
    }
    p.write_feed(
        "notices",
        &def.replace("kind = \"local\"", "kind = \"local\"\npth = \"x\""),
    );
    let r = p.build();
    r.expect_code(2);
    assert!(
        r.stderr.contains("notices.toml") && r.stderr.contains("pth"),
        "{}",
        r.stderr
    );
    assert!(
        !p.out().exists(),
        "nothing is written when the run cannot start"
    );
}

#[test]
fn feed_file_whose_stem_is_not_a_slug_exits_2() {
    for name in ["Notices", "my notices", "notices.v2", "-notices"] {
        let p = Project::bundled();
        let def = fs::read_to_string(p.path().join("feeds/notices.toml")).unwrap();
        fs::remove_file(p.path().join("feeds/notices.toml")).unwrap();
        p.write_feed(name, &def);
        let r = p.build();
        r.expect_code(2);
        assert!(r.stderr.contains(&format!("{name}.toml")), "{}", r.stderr);
        assert!(!p.out().exists());
    }
}

#[test]
fn building_an_unknown_feed_id_exits_2() {
    let p = Project::bundled();
    for id in ["nope", "../notices"] {
        let r = p.run(&["build", id]);
        r.expect_code(2);
        assert!(r.stderr.contains(id), "{}", r.stderr);
    }
    assert!(!p.out().exists());
    // A usage error is a could-not-start too.
    p.run(&["build", "--no-such-flag"]).expect_code(2);
}

#[test]
fn every_command_has_help() {
    let tmp = tempfile::tempdir().unwrap();
    let top = run_in(tmp.path(), ["--help"], &[]);
    top.expect_code(0);
    assert!(top.stdout.contains("Usage: noticefeed"), "{}", top.stdout);
    // Commands are read from the help itself, so commands added later are covered too.
    let commands: Vec<String> = top
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect();
    for must in ["build", "list"] {
        assert!(
            commands.iter().any(|c| c == must),
            "{must} missing from {commands:?}"
        );
    }
    for c in &commands {
        let r = run_in(tmp.path(), [c.as_str(), "--help"], &[]);
        r.expect_code(0);
        assert!(
            r.stdout.contains(&format!("Usage: noticefeed {c}")),
            "{}",
            r.stdout
        );
        assert!(r.stdout.contains("--feeds"), "{c}: {}", r.stdout);
    }
    let build = run_in(tmp.path(), ["build", "--help"], &[]);
    for flag in ["--out", "--quiet", "--verbose", "FEED_ID"] {
        assert!(build.stdout.contains(flag), "{flag}: {}", build.stdout);
    }
    let version = run_in(tmp.path(), ["--version"], &[]);
    version.expect_code(0);
    assert!(
        version.stdout.starts_with("noticefeed "),
        "{}",
        version.stdout
    );
}

#[test]
fn quiet_build_prints_nothing_when_all_is_well() {
    let p = Project::bundled();
    let r = p.run(&["-q", "build"]);
    r.expect_code(0);
    assert_eq!(r.stderr, "");
    assert_eq!(r.stdout, "");
}
