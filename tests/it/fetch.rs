//! `fetch` on one host, `build` from its folder on another: the pages a build needs (robots.txt,
//! list pages, detail pages, attachment sizes) saved as a plain folder, and a build from that
//! folder through a `file://` mirror gives the same bytes as a build straight from the site.
//! See: #8.

// Tests may unwrap (STYLE.md §4): a panic with its message is the report.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::server::Server;
use crate::support::{self, mirror_build_args, run_in, CHINANIA};

/// Every file under `dir`, by relative path.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_owned(),
                    fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn fetch_args(base: &str, out_dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--feeds".into(),
        support::repo().join("feeds").display().to_string(),
        "--mirror".into(),
        format!("{CHINANIA}={base}"),
        "--delay-ms".into(),
        "0".into(),
        "fetch".into(),
        "--out-dir".into(),
        out_dir.display().to_string(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

#[test]
fn a_build_from_a_fetched_folder_equals_a_direct_build_byte_for_byte() {
    let server = Server::start(&support::chinania_mirror());
    let work = tempfile::tempdir().unwrap();

    // Host A (inside China): fetch only. No store, no feed files.
    let saved = work.path().join("saved");
    let run = run_in(work.path(), fetch_args(&server.base(), &saved, &[]), &[]);
    run.expect_code(0);
    let folder = saved.join("www.chinania.org.cn");
    let hint = format!("--mirror {CHINANIA}=file://{}/", folder.display());
    assert!(run.stderr.contains(&hint), "{hint}\n{}", run.stderr);
    assert!(!work.path().join(".noticefeed").exists());
    let got = files(&folder);
    for must in [
        "robots.txt",
        "html/zcfg/zhengcefagui/index.html",
        "html/zcfg/zhengcefagui/2026/0918/62026.html",
    ] {
        assert!(got.contains_key(Path::new(must)), "{must} not saved");
    }
    // Saved pages are the site's bytes.
    for (rel, bytes) in &got {
        let original = support::chinania_mirror().join(rel);
        if original.is_file() {
            assert!(
                fs::read(&original).unwrap() == *bytes,
                "{} differs",
                rel.display()
            );
        }
    }
    // Attachment sizes as sidecars, never the attachments themselves.
    let lengths: Vec<_> = got
        .keys()
        .filter(|p| p.to_string_lossy().ends_with(".noticefeed-length"))
        .collect();
    assert!(!lengths.is_empty(), "no attachment sizes saved");
    for l in &lengths {
        let attachment = l.with_extension("");
        assert!(!got.contains_key(&attachment), "{}", attachment.display());
        let size: u64 = String::from_utf8(got[*l].clone())
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let original = support::chinania_mirror().join(&attachment);
        assert_eq!(size, fs::metadata(&original).unwrap().len());
    }

    // Host B (publishing): build from the folder, with the server gone for good measure.
    let from_folder = work.path().join("b");
    let base = format!("file://{}/", folder.display());
    let (direct, direct_run);
    {
        let d = work.path().join("direct");
        fs::create_dir_all(&d).unwrap();
        direct_run = run_in(&d, mirror_build_args(&d, &server.base(), &[]), &[]);
        direct = d;
    }
    drop(server);
    direct_run.expect_code(0);
    fs::create_dir_all(&from_folder).unwrap();
    run_in(
        &from_folder,
        mirror_build_args(&from_folder, &base, &[]),
        &[],
    )
    .expect_code(0);

    let a = files(&direct.join("public"));
    let b = files(&from_folder.join("public"));
    assert!(a.len() >= 19 * 2, "{:?}", a.keys());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (rel, bytes) in &a {
        assert!(
            b[rel] == *bytes,
            "{} differs between the direct build and the build from the fetched folder",
            rel.display()
        );
    }
}

#[test]
fn fetch_of_an_unreachable_site_says_so_once_and_exits_1() {
    let work = tempfile::tempdir().unwrap();
    let saved = work.path().join("saved");
    let run = run_in(
        work.path(),
        fetch_args(
            "http://noticefeed-test.invalid",
            &saved,
            &["chinania-jqzs", "chinania-zixun"],
        ),
        &[],
    );
    run.expect_code(1);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: www.chinania.org.cn unreachable"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(lines[0].ends_with(": 2 feeds not fetched"), "{}", lines[0]);
}
