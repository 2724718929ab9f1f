//! The operator's experience: `init` for an installed binary, what `-v` and `-vv` print, one
//! message style, `check --definition --json` on a new site's definition, shell completions and
//! the man page.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::server::Server;
use crate::support::{self, run_in};

/// Every file below `dir`, relative, sorted, with its bytes.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn init_writes_the_shipped_definitions_and_a_ready_project() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");

    // Before init: the build says what is missing and how to get it.
    let empty = tempfile::tempdir().unwrap();
    let run = run_in(empty.path(), ["build"], &[]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("no feeds folder") && run.stderr.contains("noticefeed init"),
        "{}",
        run.stderr
    );

    run_in(dir.path(), ["init", "project"], &[]).expect_code(0);
    // One source of truth: what init writes is the repository's feeds/ and notices/, byte for
    // byte, subfolders (site presets) included.
    for folder in ["feeds", "notices"] {
        let written = tree(&project.join(folder));
        let shipped = tree(&support::repo().join(folder));
        let names = |t: &[(String, Vec<u8>)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&written), names(&shipped), "{folder}/: other files");
        for ((name, a), (_, b)) in written.iter().zip(&shipped) {
            assert!(a == b, "{folder}/{name} differs from the repository's");
        }
    }
    let settings = fs::read_to_string(project.join("noticefeed.toml")).unwrap();
    assert!(settings.contains("public_url"), "{settings}");

    // The main job's offline part runs in the new project as it is.
    let run = run_in(&project, ["build", "notices"], &[]);
    run.expect_code(0);
    support::parse_feed(&project.join("public/notices.atom.xml"));
    assert!(run_in(&project, ["list"], &[])
        .stdout
        .contains("chinania-all"));

    // A second init refuses, names a file and writes nothing; --force overwrites.
    fs::write(project.join("feeds/notices.toml"), "edited").unwrap();
    let run = run_in(dir.path(), ["init", "project"], &[]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("already exist") && run.stderr.contains("--force"),
        "{}",
        run.stderr
    );
    assert_eq!(
        fs::read_to_string(project.join("feeds/notices.toml")).unwrap(),
        "edited"
    );
    run_in(dir.path(), ["init", "project", "--force"], &[]).expect_code(0);
    assert_eq!(
        fs::read(project.join("feeds/notices.toml")).unwrap(),
        fs::read(support::repo().join("feeds/notices.toml")).unwrap()
    );
}

/// `build` of the xiehuitongzhi channel from the mirror, with `flag`.
fn verbose_mirror_build(flag: &str) -> String {
    let server = Server::start(&support::chinania_mirror());
    let dir = tempfile::tempdir().unwrap();
    let mut args = support::mirror_build_args(
        dir.path(),
        &server.base(),
        &["chinania-xiehuitongzhi", "notices"],
    );
    args.insert(0, flag.to_owned());
    let run = run_in(dir.path(), &args, &[]);
    run.expect_code(0);
    run.stderr
}

#[test]
fn verbose_shows_feeds_and_list_pages_and_very_verbose_every_request() {
    let v = verbose_mirror_build("-v");
    for needle in [
        "collecting chinania-xiehuitongzhi (1 of 1): https://www.chinania.org.cn/html/xiehuidongtai/xiehuitongzhi/",
        "chinania-xiehuitongzhi: finished in",
        "notices: started (local",
        "list page https://www.chinania.org.cn/html/xiehuidongtai/xiehuitongzhi/: 200, 18 entries",
        "chinania-xiehuitongzhi: 18 new",
    ] {
        assert!(v.contains(needle), "-v lacks `{needle}`:\n{v}");
    }
    assert!(!v.contains("debug: "), "-v prints debugging:\n{v}");
    // Other crates stay quiet: a -vv run of html5ever alone printed 32,000 lines.
    let vv = verbose_mirror_build("-vv");
    assert!(
        vv.lines().count() < 1_000,
        "-vv prints {} lines",
        vv.lines().count()
    );
    for needle in ["html5ever", "tokenizer", "hyper", "rustls", "reqwest::"] {
        assert!(!vv.contains(needle), "-vv shows `{needle}`");
    }
    let requests: Vec<&str> = vv
        .lines()
        .filter(|l| l.starts_with("debug: Get ") && l.contains(" bytes, "))
        .collect();
    assert!(
        requests.len() >= 19,
        "one line per request (list page + 18 detail pages):\n{vv}"
    );
    assert!(requests
        .iter()
        .all(|l| l.contains(": 200, ") && l.ends_with(" ms")));
    // One message style: every line is a progress line, a summary, or `level: ...`.
    for line in vv.lines() {
        assert!(
            !line.starts_with('[') && !line.starts_with("WARN") && !line.starts_with("ERROR"),
            "{line}"
        );
    }
}

#[test]
fn check_tries_a_new_definition_file_and_speaks_json() {
    let fixture = support::repo().join("tests/fixtures/othersite");
    let server = Server::start(&fixture);
    let dir = tempfile::tempdir().unwrap();
    // The definition lives outside any feeds folder, as one being written does.
    let def = dir.path().join("draft.toml");
    fs::copy(fixture.join("feed.toml"), &def).unwrap();
    let mirror = format!("https://assoc.example.org={}", server.base());
    let args = [
        "--mirror",
        mirror.as_str(),
        "--delay-ms",
        "0",
        "check",
        "--definition",
        def.to_str().unwrap(),
        "--json",
    ];
    let run = run_in(dir.path(), args, &[]);
    run.expect_code(0);
    let report: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("check --json prints JSON ({e}):\n{}", run.stdout));
    assert_eq!(report["feed"], "draft");
    let items = report["items"].as_array().unwrap();
    assert_eq!(items.len(), 4, "{:#}", report);
    let first = &items[0];
    for field in [
        "title",
        "date",
        "date_estimated",
        "link",
        "authors",
        "categories",
        "content",
        "attachments",
    ] {
        assert!(first.get(field).is_some(), "no `{field}` in {first:#}");
    }
    assert!(items
        .iter()
        .all(|i| i["date"].as_str().is_some_and(|d| d.starts_with("2026-"))));
    assert!(items
        .iter()
        .any(|i| !i["attachments"].as_array().unwrap().is_empty()));
    assert!(report["warnings"].is_array());
    // Nothing written: no store, no output folder.
    assert!(!dir.path().join(".noticefeed").exists());
    assert!(!dir.path().join("public").exists());

    // The text form shows every field of every item.
    let text_args: Vec<&str> = args[..args.len() - 1].to_vec();
    let run = run_in(dir.path(), text_args, &[]);
    run.expect_code(0);
    for needle in [
        "date:",
        "link:",
        "author:",
        "categories:",
        "content:",
        "attachment:",
    ] {
        assert!(
            run.stdout.contains(needle),
            "no `{needle}`:\n{}",
            run.stdout
        );
    }
}

#[test]
fn completions_and_man_page_come_from_the_command_line_definition() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "_noticefeed()"),
        ("zsh", "#compdef noticefeed"),
        ("fish", "complete -c noticefeed"),
    ] {
        let run = run_in(dir.path(), ["completions", shell], &[]);
        run.expect_code(0);
        assert!(run.stdout.contains(marker), "{shell}:\n{}", run.stdout);
        for sub in ["build", "check", "init", "list"] {
            assert!(run.stdout.contains(sub), "{shell} completions lack `{sub}`");
        }
    }
    let run = run_in(dir.path(), ["man"], &[]);
    run.expect_code(0);
    assert!(run.stdout.starts_with(".ie") || run.stdout.contains(".TH noticefeed 1"));
    for needle in [
        ".TH noticefeed 1",
        "BUILD OPTIONS",
        "CHECK OPTIONS",
        "\\-\\-definition",
    ] {
        assert!(run.stdout.contains(needle), "man lacks `{needle}`");
    }
    // It is valid roff: man(1) renders it when available.
    let page = dir.path().join("noticefeed.1");
    fs::write(&page, &run.stdout).unwrap();
    if let Ok(out) = std::process::Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
    {
        if out.status.success() {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains("noticefeed"), "{text}");
        }
    }
}

#[test]
fn the_feed_author_is_the_publisher_not_the_feed_title() {
    let server = Server::start(&support::chinania_mirror());
    let dir = tempfile::tempdir().unwrap();
    let args = support::mirror_build_args(
        dir.path(),
        &server.base(),
        &["chinania-jqzs", "chinania-all", "notices"],
    );
    run_in(dir.path(), &args, &[]).expect_code(0);
    let public = dir.path().join("public");
    for (id, publisher) in [
        ("chinania-jqzs", "中国有色金属工业协会"),
        // A merge of one site's channels is published by that site's publisher.
        ("chinania-all", "中国有色金属工业协会"),
        ("notices", "China Nonferrous Metals Industry Association"),
    ] {
        let atom = support::parse_feed(&public.join(format!("{id}.atom.xml")));
        let names: Vec<&str> = atom
            .authors
            .iter()
            .filter_map(|p| p.name.as_deref())
            .collect();
        assert_eq!(names, [publisher], "{id} Atom author");
        let rss = fs::read_to_string(public.join(format!("{id}.rss.xml"))).unwrap();
        assert!(
            rss.contains(&format!("<dc:publisher>{publisher}</dc:publisher>")),
            "{id} RSS dc:publisher"
        );
        support::xmllint_ok(&public.join(format!("{id}.atom.xml")), true);
        support::xmllint_ok(&public.join(format!("{id}.rss.xml")), false);
    }
}
