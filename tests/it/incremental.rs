//! A run's cost follows what changed (issue 11): a local feed whose notice files all keep the
//! identity the store remembers (size, mtime with nanoseconds, inode) is not read again; a file
//! touched but identical is no change; a feed whose shown items and settings did not change is
//! not rendered again, and the folder files are not either when no feed changed. Everything
//! that held before still holds: byte-identical reruns, edits that keep GUIDs.

// Tests may unwrap (STYLE.md §4): a panic with its message is the report.
#![allow(clippy::unwrap_used)]

use std::fs::{self, File, FileTimes};
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::support::{mtime, snapshot, Project};

const GOLD: &str = "2025-07-29-gold-silver-branch-council.txt";

/// Sets a file's modification time (nanoseconds kept).
fn set_mtime(path: &Path, t: SystemTime) {
    let f = File::options().write(true).open(path).unwrap();
    f.set_times(FileTimes::new().set_modified(t)).unwrap();
}

/// `build -v` with the project's folders; its stderr.
fn build_verbose(p: &Project, extra: &[&str]) -> String {
    let mut args = vec!["build", "-v"];
    args.extend(extra);
    let run = p.run(&args);
    run.expect_code(0);
    run.stderr
}

#[test]
fn a_rerun_of_unchanged_local_files_reads_none_of_them() {
    // See: issue 11, point 1 (every run re-read and re-parsed every notice file).
    let p = Project::bundled();
    p.build().expect_code(0);
    let before = snapshot(&p.out());

    let stderr = build_verbose(&p, &[]);
    assert!(
        stderr.contains("notices: no notice file changed since the last run; none read"),
        "{stderr}"
    );
    assert!(
        stderr.contains("notices: 0 new, 0 updated, 10 unchanged; 10 items, 0 files written"),
        "{stderr}"
    );
    assert!(
        snapshot(&p.out()) == before,
        "an unchanged rerun wrote a file"
    );

    // The proof that nothing was read: an edit that keeps the file's size, inode and mtime
    // (the identity remembered) is not seen. (A real edit changes the mtime; see below.)
    let gold = p.notices().join(GOLD);
    let was = mtime(&gold);
    let text = fs::read_to_string(&gold).unwrap();
    let same_size = text.replacen("in Chifeng", "in Chifenx", 1);
    assert_eq!(same_size.len(), text.len());
    fs::write(&gold, same_size).unwrap();
    set_mtime(&gold, was);
    let stderr = build_verbose(&p, &[]);
    assert!(stderr.contains("none read"), "{stderr}");
    assert!(
        snapshot(&p.out()) == before,
        "a file not read changed the feed"
    );
    // `--refresh` reads every file: the edit is seen.
    let stderr = build_verbose(&p, &["--refresh"]);
    assert!(
        stderr.contains("notices: 0 new, 1 updated, 9 unchanged"),
        "{stderr}"
    );
}

#[test]
fn a_touched_but_identical_file_is_no_change() {
    let p = Project::bundled();
    p.build().expect_code(0);
    let before = snapshot(&p.out());
    let gold = p.notices().join(GOLD);
    set_mtime(&gold, mtime(&gold) + Duration::from_secs(3600));

    let stderr = build_verbose(&p, &[]);
    assert!(
        stderr.contains("notices: 1 notice file touched, its content unchanged"),
        "{stderr}"
    );
    assert!(
        stderr.contains("notices: 0 new, 0 updated, 10 unchanged; 10 items, 0 files written"),
        "{stderr}"
    );
    assert!(
        snapshot(&p.out()) == before,
        "a touched file changed the feed"
    );
    // Its new identity is remembered: the next run reads nothing.
    let stderr = build_verbose(&p, &[]);
    assert!(stderr.contains("none read"), "{stderr}");
}

#[test]
fn an_edited_notice_is_read_and_keeps_its_guid() {
    let p = Project::bundled();
    p.build().expect_code(0);
    let ids = p.ids_by_title();
    let gold = p.notices().join(GOLD);
    let text = fs::read_to_string(&gold).unwrap();
    fs::write(
        &gold,
        text.replacen("in Chifeng", "in Chifeng, Inner Mongolia", 1),
    )
    .unwrap();

    let stderr = build_verbose(&p, &[]);
    assert!(!stderr.contains("none read"), "{stderr}");
    assert!(
        stderr.contains("notices: 0 new, 1 updated, 9 unchanged; 10 items"),
        "{stderr}"
    );
    let after = p.ids_by_title();
    let old_title = "Gold and Silver Branch Holds Council Meeting in Chifeng";
    let new_title = "Gold and Silver Branch Holds Council Meeting in Chifeng, Inner Mongolia";
    assert_eq!(after[new_title], ids[old_title], "the edit kept the GUID");
    let mut old: Vec<&String> = ids.values().collect();
    let mut new: Vec<&String> = after.values().collect();
    old.sort();
    new.sort();
    assert_eq!(old, new, "same GUIDs after the edit");

    // A new notice file is read too.
    p.write_notice(
        "2026-12-01-new.txt",
        "A new notice\n\ndate\n01/12/2026\n\nBody.\n",
    );
    let stderr = build_verbose(&p, &[]);
    assert!(
        stderr.contains("notices: 1 new, 0 updated, 10 unchanged; 11 items"),
        "{stderr}"
    );

    // A file removed is read as a change (the folder again), and its notice stays archived.
    fs::remove_file(&gold).unwrap();
    let stderr = build_verbose(&p, &[]);
    assert!(
        stderr.contains("notices: 0 new, 0 updated, 10 unchanged; 11 items"),
        "{stderr}"
    );
}

#[test]
fn a_changed_time_zone_reads_the_notices_again() {
    let p = Project::bundled();
    p.build().expect_code(0);
    let def = p.path().join("feeds/notices.toml");
    let toml = fs::read_to_string(&def).unwrap();
    p.write_feed("notices", &toml.replace("Asia/Shanghai", "Europe/Berlin"));
    let stderr = build_verbose(&p, &[]);
    assert!(!stderr.contains("none read"), "{stderr}");
    assert!(
        stderr.contains("notices: 0 new, 8 updated, 2 unchanged"),
        "{stderr}"
    );
}

#[test]
fn a_notice_file_that_fails_fails_every_run() {
    let p = Project::bundled();
    p.write_notice("broken.json", "{ not json");
    let first = p.build();
    first.expect_code(1);
    let again = p.build();
    again.expect_code(1);
    assert!(again.stderr.contains("broken.json"), "{}", again.stderr);
}

#[test]
fn an_unchanged_feed_is_not_rendered_again_unless_a_file_is_missing_or_a_setting_changed() {
    let p = Project::bundled();
    p.build().expect_code(0);
    let before = snapshot(&p.out());
    let stderr = build_verbose(&p, &[]);
    assert!(
        stderr.contains("notices: nothing shown changed; files kept"),
        "{stderr}"
    );
    assert!(
        stderr.contains("feeds.opml, index.html: no feed changed; files kept"),
        "{stderr}"
    );
    assert!(snapshot(&p.out()) == before);

    // A file removed from the folder is written again, and only it.
    fs::remove_file(p.out().join("notices.json")).unwrap();
    fs::remove_file(p.out().join("index.html")).unwrap();
    let stderr = build_verbose(&p, &[]);
    assert!(
        stderr.contains("notices: 0 new, 0 updated, 10 unchanged; 10 items, 1 file written"),
        "{stderr}"
    );
    let bytes = |snap: &std::collections::BTreeMap<String, (Vec<u8>, SystemTime)>| {
        snap.iter()
            .map(|(name, (b, _))| (name.clone(), b.clone()))
            .collect::<Vec<_>>()
    };
    assert!(
        bytes(&snapshot(&p.out())) == bytes(&before),
        "the same bytes again"
    );

    // Another public URL changes what every file says.
    let stderr = build_verbose(&p, &["--public-url", "https://feeds.example.org/n/"]);
    assert!(
        stderr.contains("notices: 0 new, 0 updated, 10 unchanged; 10 items, 4 files written"),
        "{stderr}"
    );
    let rss = fs::read_to_string(p.rss_path()).unwrap();
    assert!(
        rss.contains("https://feeds.example.org/n/notices.rss.xml"),
        "{rss}"
    );
}

#[test]
fn the_folder_files_follow_a_feed_not_built_in_this_run() {
    let p = Project::bundled();
    let def = fs::read_to_string(p.path().join("feeds/notices.toml")).unwrap();
    p.write_feed("other", &def);
    p.build().expect_code(0);
    p.write_feed(
        "other",
        &def.replace(
            "China Nonferrous Metals Industry Association — notices",
            "Other notices",
        ),
    );
    p.run(&["build", "notices"]).expect_code(0);
    let index = fs::read_to_string(p.out().join("index.html")).unwrap();
    assert!(index.contains("Other notices"), "{index}");
}

#[test]
fn feeds_read_ahead_report_their_problems_in_definition_order_and_publish_the_same() {
    // A first build reads the next local feed on another thread while the current one is
    // stored (issue 11, first build): its problems are still reported in its own turn, and a
    // build that reads every file again (`--refresh`) into an emptied output folder says and
    // writes exactly the same.
    let p = Project::empty();
    for id in ["a1", "b2", "c3"] {
        p.write_feed(
            id,
            &format!(
                "title = \"{id}\"\ndescription = \"d\"\nlink = \"https://example.org/\"\n\
                 timezone = \"Asia/Shanghai\"\n\n[source]\nkind = \"local\"\n\
                 path = \"../notices/{id}\"\n"
            ),
        );
        p.write_notice(
            &format!("{id}/n.jsonl"),
            format!(
                "{{\"title\":\"{id} 通知\",\"date\":\"2026-01-02 10:00\",\"body\":\"正文\"}}\n\
                 {{ broken {id}\n\
                 {{\"title\":\"\",\"date\":\"2026-01-03 10:00\",\"body\":\"x\"}}\n\
                 {{\"title\":\"{id} 旧\",\"date\":\"1960-01-03 10:00\",\"body\":\"x\"}}\n"
            ),
        );
    }
    let first = p.build();
    first.expect_code(1);
    let lines = |stderr: &str| -> Vec<String> {
        stderr
            .lines()
            .filter(|l| l.contains("n.jsonl"))
            .map(str::to_owned)
            .collect()
    };
    let said = lines(&first.stderr);
    // Per feed: the bad line and the untitled entry (found reading), then the date no output
    // can write (found normalizing).
    let feeds: Vec<&str> = said
        .iter()
        .map(|l| l.trim_start_matches("error: ").split(':').next().unwrap())
        .collect();
    let expected: Vec<&str> = ["a1", "b2", "c3"].iter().flat_map(|id| [*id; 3]).collect();
    assert_eq!(feeds, expected, "{}", first.stderr);
    assert!(said[2].contains("1960"), "{}", first.stderr);
    let files = snapshot(&p.out());
    for id in ["a1", "b2", "c3"] {
        assert!(files.contains_key(&format!("{id}.rss.xml")), "{files:?}");
    }
    fs::remove_dir_all(p.out()).unwrap();
    let again = p.run(&["build", "--refresh"]);
    again.expect_code(1);
    assert_eq!(lines(&again.stderr), said);
    let bytes = |s: &std::collections::BTreeMap<String, (Vec<u8>, SystemTime)>| {
        s.iter()
            .map(|(k, (b, _))| (k.clone(), b.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(bytes(&snapshot(&p.out())), bytes(&files));
}
