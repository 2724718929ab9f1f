//! Helpers shared by the integration tests: a throw-away project (feed definitions plus notice
//! folder in a temporary directory), the real binary run against it, and readers for what it
//! wrote. Every test runs the binary as cron would, so what is tested is what ships.

// Tests may unwrap (STYLE.md §4): a panic with its message is the report.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use tempfile::TempDir;

/// The repository root (where `feeds/` and `notices/` live).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/fixtures/`: every file a test reads lives in the repository.
pub fn fixtures() -> PathBuf {
    repo().join("tests/fixtures")
}

/// A fixture file or folder under `tests/fixtures/`, checked to exist: a missing one fails
/// with what is missing and where it comes from, never a bare `NotFound`.
#[track_caller]
pub fn fixture(rel: &str) -> PathBuf {
    let p = fixtures().join(rel);
    assert!(
        p.exists(),
        "test fixture {} is missing: it is part of the repository (tests/fixtures/{rel}); \
         restore it with `git checkout -- tests/fixtures`",
        p.display()
    );
    p
}

/// Reads a fixture file (see [`fixture`]).
#[track_caller]
pub fn read_fixture(rel: &str) -> Vec<u8> {
    let p = fixture(rel);
    fs::read(&p).unwrap_or_else(|e| panic!("reading test fixture {}: {e}", p.display()))
}

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_noticefeed"))
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from_output(out: Output) -> Self {
        Self {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Panics with the whole output unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "expected exit code {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs the binary in `cwd` with `args` and extra environment variables. `RUST_LOG` is
/// removed so a developer's setting cannot change what the tests see.
pub fn run_in<I, S>(cwd: &Path, args: I, env: &[(&str, &str)]) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(bin());
    cmd.current_dir(cwd).args(args).env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Run::from_output(cmd.output().expect("the noticefeed binary runs"))
}

/// A project in a temporary folder: `feeds/`, `notices/`, and `public/` once built.
pub struct Project {
    dir: TempDir,
}

impl Project {
    /// An empty project: an empty `feeds/` and `notices/`.
    pub fn empty() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::create_dir_all(dir.path().join("feeds")).unwrap();
        fs::create_dir_all(dir.path().join("notices")).unwrap();
        Self { dir }
    }

    /// A copy of the repository's bundled feed definition and notices.
    pub fn bundled() -> Self {
        let p = Self::empty();
        p.write_feed(
            "notices",
            &fs::read_to_string(repo().join("feeds/notices.toml")).unwrap(),
        );
        copy_dir(&repo().join("notices"), &p.notices());
        p
    }

    /// Only the bundled definition, with an empty notice folder.
    pub fn bundled_definition() -> Self {
        let p = Self::empty();
        p.write_feed(
            "notices",
            &fs::read_to_string(repo().join("feeds/notices.toml")).unwrap(),
        );
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn notices(&self) -> PathBuf {
        self.path().join("notices")
    }

    pub fn out(&self) -> PathBuf {
        self.path().join("public")
    }

    pub fn rss_path(&self) -> PathBuf {
        self.out().join("notices.rss.xml")
    }

    pub fn atom_path(&self) -> PathBuf {
        self.out().join("notices.atom.xml")
    }

    /// Writes `feeds/<name>.toml`.
    pub fn write_feed(&self, name: &str, toml: &str) {
        fs::write(self.path().join("feeds").join(format!("{name}.toml")), toml).unwrap();
    }

    /// Writes a file in the notice folder.
    pub fn write_notice(&self, name: &str, bytes: impl AsRef<[u8]>) {
        let p = self.notices().join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes).unwrap();
    }

    /// `noticefeed ARGS --feeds feeds --out public`, run inside the project.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--feeds", "feeds"]);
        if args.first() == Some(&"build") {
            all.extend(["--out", "public"]);
        }
        run_in(self.path(), all, env)
    }

    /// `build` with the project's folders.
    pub fn build(&self) -> Run {
        self.run(&["build"])
    }

    /// The bytes of both output files, RSS then Atom.
    pub fn outputs(&self) -> (Vec<u8>, Vec<u8>) {
        (
            fs::read(self.rss_path()).expect("RSS file written"),
            fs::read(self.atom_path()).expect("Atom file written"),
        )
    }

    pub fn rss(&self) -> feed_rs::model::Feed {
        parse_feed(&self.rss_path())
    }

    pub fn atom(&self) -> feed_rs::model::Feed {
        parse_feed(&self.atom_path())
    }

    /// Title → id of every entry, checked to be the same in RSS and Atom.
    pub fn ids_by_title(&self) -> BTreeMap<String, String> {
        let rss = entries(&self.rss());
        let atom = entries(&self.atom());
        assert_eq!(rss, atom, "RSS and Atom disagree");
        rss.into_iter().map(|e| (e.title, e.id)).collect()
    }
}

/// Copies a folder tree.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every file of a folder (not recursive): name → (bytes, mtime). Two equal snapshots mean a
/// run wrote nothing there, not even the same bytes again.
pub fn snapshot(dir: &Path) -> BTreeMap<String, (Vec<u8>, SystemTime)> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, (fs::read(&p).unwrap(), mtime(&p)))
        })
        .collect()
}

pub fn mtime(p: &Path) -> SystemTime {
    fs::metadata(p).unwrap().modified().unwrap()
}

/// Parses a feed file with feed-rs, a reader independent of the crates that wrote it.
pub fn parse_feed(p: &Path) -> feed_rs::model::Feed {
    let bytes = fs::read(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
    feed_rs::parser::parse(bytes.as_slice())
        .unwrap_or_else(|e| panic!("feed-rs cannot parse {}: {e}", p.display()))
}

/// An entry as compared across formats and readers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub id: String,
    pub title: String,
    pub link: Option<String>,
    /// RFC 3339 UTC, `Z` spelled.
    pub date: Option<String>,
    pub tags: Vec<String>,
}

/// The entries of a feed-rs feed in document order.
pub fn entries(feed: &feed_rs::model::Feed) -> Vec<Seen> {
    feed.entries
        .iter()
        .map(|e| Seen {
            id: e.id.clone(),
            title: e
                .title
                .as_ref()
                .map(|t| t.content.clone())
                .unwrap_or_default(),
            link: e
                .links
                .iter()
                .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
                .map(|l| l.href.clone()),
            date: e
                .published
                .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            tags: e.categories.iter().map(|c| c.term.clone()).collect(),
        })
        .collect()
}

/// Whether an external tool may be used. A missing tool fails the test, pointing at
/// `.ci/run`, unless `NOTICEFEED_SKIP_EXTERNAL=1` says to skip (then it says so on stderr):
/// a check that silently passes without its validator would prove nothing.
pub fn external_available(what: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if std::env::var("NOTICEFEED_SKIP_EXTERNAL").is_ok_and(|v| v == "1") {
        // Straight to stderr, past the test harness's capture: a skip must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {what} is missing and NOTICEFEED_SKIP_EXTERNAL=1"
        );
        return false;
    }
    panic!(
        "{what} is missing: run `bash .ci/run` (it installs it) or install it yourself \
         (Debian: apt-get install libxml2-utils; python3 -m pip install feedparser), \
         or set NOTICEFEED_SKIP_EXTERNAL=1 to skip this check"
    );
}

/// `xmllint` from libxml2-utils.
pub fn xmllint() -> Option<Command> {
    let ok = Command::new("xmllint")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    external_available("xmllint (libxml2-utils)", ok).then(|| Command::new("xmllint"))
}

/// Asserts that `file` is well-formed XML, and valid under the Atom RELAX NG schema when
/// `atom` is set. Returns false when the check was skipped.
#[track_caller]
pub fn xmllint_ok(file: &Path, atom: bool) -> bool {
    let Some(mut cmd) = xmllint() else {
        return false;
    };
    cmd.arg("--noout");
    if atom {
        cmd.arg("--relaxng").arg(fixture("schemas/atom.rng"));
    }
    let out = cmd.arg(file).output().unwrap();
    assert!(
        out.status.success(),
        "xmllint rejects {}:\n{}\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr),
        fs::read_to_string(file).unwrap_or_default()
    );
    true
}

/// The site the offline mirror in `tests/fixtures/chinania` stands in for.
pub const CHINANIA: &str = "https://www.chinania.org.cn";

/// The offline mirror of www.chinania.org.cn.
pub fn chinania_mirror() -> PathBuf {
    fixture("chinania")
}

/// Arguments of a `build` of the shipped definitions with the chinania site fetched from
/// `base`, the store and the output in `dir`, then `extra` (feed ids, flags).
pub fn mirror_build_args(dir: &Path, base: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--feeds".into(),
        repo().join("feeds").display().to_string(),
        "--state".into(),
        dir.join("state.sqlite").display().to_string(),
        "--mirror".into(),
        format!("{CHINANIA}={base}"),
        "--delay-ms".into(),
        "0".into(),
        "build".into(),
        "--out".into(),
        dir.join("public").display().to_string(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}
