//! Publishing: the project file and its public URL, self links (absolute or absent, never
//! relative), and every output of the shipped feeds read by real parsers.

// Tests may unwrap (STYLE.md §4): a panic with its message is the report.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::server::Server;
use crate::support::{self, copy_dir, parse_feed, repo, run_in, Project, Run, CHINANIA};

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

/// The self links of a feed file as feed-rs reads them.
fn self_links(file: &Path) -> Vec<String> {
    parse_feed(file)
        .links
        .into_iter()
        .filter(|l| l.rel.as_deref() == Some("self"))
        .map(|l| l.href)
        .collect()
}

/// The 19 shipped definitions, built twice: without a public URL no file carries a self link;
/// with one from the project file every file carries its own absolute one. feed-rs 3 (which
/// refuses a relative self link) parses every file both times.
#[test]
fn shipped_feeds_have_absolute_self_links_or_none() {
    let s = Shipped::new();
    let run = s.build(mirror_server(), &["-v"]);
    run.expect_code(0);
    let hints = run
        .stderr
        .lines()
        .filter(|l| l.contains("no public URL"))
        .collect::<Vec<_>>();
    assert_eq!(hints.len(), 1, "said once: {}", run.stderr);
    assert!(
        hints[0].contains("noticefeed.toml") && hints[0].contains("--public-url"),
        "says how to set it: {}",
        hints[0]
    );
    let files = s.feed_files();
    assert_eq!(files.len(), 2 * 19, "{files:?}");
    for f in &files {
        let text = fs::read_to_string(f).unwrap();
        assert!(!text.contains("rel=\"self\""), "{}: {text}", f.display());
        assert!(self_links(f).is_empty());
    }

    s.write_project(&format!(
        "public_url = \"{}\"\n",
        PUBLIC.trim_end_matches('/')
    ));
    let run = s.build(mirror_server(), &["-v"]);
    run.expect_code(0);
    assert!(!run.stderr.contains("no public URL"), "{}", run.stderr);
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy();
        assert_eq!(
            self_links(f),
            [format!("{PUBLIC}{name}")],
            "{}",
            f.display()
        );
    }
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
