//! The documentation cannot drift from the code: every example file in `docs/*.md` (a fenced
//! block preceded by `<!-- file: PATH -->`) is written into a throw-away project of its page,
//! and every `<!-- run: ARGS -->` line of the page is run there with the real binary and must
//! succeed; a page with definitions and no `run` line is checked by `noticefeed list`. The
//! README stays a five-minute read that links to pages that exist.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::{self, run_in};

/// What one page asks to be tested.
#[derive(Debug, Default)]
struct Page {
    files: Vec<(PathBuf, String)>,
    runs: Vec<Vec<String>>,
}

fn marker<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let rest = line
        .trim()
        .strip_prefix("<!--")?
        .strip_suffix("-->")?
        .trim();
    rest.strip_prefix(name)?.strip_prefix(':').map(str::trim)
}

fn parse(text: &str) -> Page {
    let mut page = Page::default();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(path) = marker(line, "file") {
            let fence = lines
                .next()
                .unwrap_or_else(|| panic!("`file: {path}` is the last line"));
            assert!(
                fence.starts_with("```"),
                "`file: {path}` must precede a fenced block"
            );
            let mut body = String::new();
            for l in lines.by_ref() {
                if l.starts_with("```") {
                    break;
                }
                body.push_str(l);
                body.push('\n');
            }
            page.files.push((PathBuf::from(path), body));
        } else if let Some(args) = marker(line, "run") {
            page.runs
                .push(args.split_whitespace().map(str::to_owned).collect());
        }
    }
    page
}

fn doc_pages() -> Vec<PathBuf> {
    let dir = support::repo().join("docs");
    let mut pages: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    pages
}

fn check_page(path: &Path) -> usize {
    let page = parse(&fs::read_to_string(path).unwrap());
    if page.files.is_empty() && page.runs.is_empty() {
        return 0;
    }
    let dir = tempfile::tempdir().unwrap();
    for (rel, body) in &page.files {
        let p = dir.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, body).unwrap();
    }
    fs::create_dir_all(dir.path().join("feeds")).unwrap();
    let runs = if page.runs.is_empty() {
        vec![vec!["list".to_owned()]]
    } else {
        page.runs.clone()
    };
    for args in &runs {
        let run = run_in(dir.path(), args, &[]);
        assert_eq!(
            run.code,
            0,
            "{}: `noticefeed {}` failed\n--- stdout\n{}\n--- stderr\n{}",
            path.display(),
            args.join(" "),
            run.stdout,
            run.stderr
        );
    }
    page.files.len() + runs.len()
}

#[test]
fn every_example_in_the_docs_works() {
    let mut checked = 0;
    for page in doc_pages() {
        checked += check_page(&page);
    }
    assert!(checked >= 10, "only {checked} examples checked");
}

#[test]
fn the_readme_is_short_and_its_links_resolve() {
    let readme = fs::read_to_string(support::repo().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= 250,
        "README.md has {lines} lines; the rest belongs in docs/"
    );
    assert!(
        !readme.contains("(issue ") && !readme.contains("issue #"),
        "issue numbers in user-facing text"
    );
    let mut linked = 0;
    for text in std::iter::once(readme.clone())
        .chain(doc_pages().iter().map(|p| fs::read_to_string(p).unwrap()))
    {
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let target = &rest[..rest.find(')').unwrap_or(0)];
            if target.starts_with("http") || target.starts_with('#') || target.is_empty() {
                continue;
            }
            let file = target.split('#').next().unwrap_or_default();
            let base = if text == readme {
                support::repo()
            } else {
                support::repo().join("docs")
            };
            assert!(base.join(file).exists(), "broken link `{target}`");
            linked += 1;
        }
    }
    assert!(linked >= 8, "the README links to the docs ({linked} links)");
}
