//! The schema, version by version. Entry `i` of [`MIGRATIONS`] brings `PRAGMA user_version`
//! from `i` to `i + 1`; stores in the field were built by the old text, so an entry is never
//! edited, only appended.

use rusqlite::TransactionBehavior;

use std::time::Duration;

use super::{Error, Store, BUSY_TIMEOUT};
use crate::text::derived_summary;

/// Schema migrations; entry `i` brings `user_version` from `i` to `i + 1`. Append only.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE feed (
    id             TEXT PRIMARY KEY NOT NULL,
    last_success   TEXT,
    last_failure   TEXT,
    last_error     TEXT,
    last_new       INTEGER,
    last_updated   INTEGER,
    last_unchanged INTEGER
) STRICT;

CREATE TABLE guid_pin (
    key_text TEXT PRIMARY KEY NOT NULL,
    guid     TEXT NOT NULL
) STRICT;

CREATE TABLE item (
    feed           TEXT NOT NULL REFERENCES feed(id),
    guid           TEXT NOT NULL,
    link           TEXT,
    link_key       TEXT,
    title          TEXT NOT NULL,
    published      TEXT NOT NULL,
    date_estimated INTEGER NOT NULL,
    updated        TEXT NOT NULL,
    summary        TEXT NOT NULL,
    content_html   TEXT NOT NULL,
    authors        TEXT NOT NULL,
    categories     TEXT NOT NULL,
    attachments    TEXT NOT NULL,
    content_hash   TEXT NOT NULL,
    first_seen     TEXT NOT NULL,
    last_seen      TEXT NOT NULL,
    last_changed   TEXT NOT NULL,
    PRIMARY KEY (feed, guid)
) STRICT;

CREATE INDEX item_newest ON item (feed, published DESC, guid);
CREATE INDEX item_link ON item (feed, link_key);

CREATE TABLE page (
    url           TEXT PRIMARY KEY NOT NULL,
    etag          TEXT,
    last_modified TEXT,
    content_hash  TEXT NOT NULL,
    body          TEXT NOT NULL,
    fetched_at    TEXT NOT NULL
) STRICT;
"#,
    r#"
CREATE TABLE robots (
    url           TEXT PRIMARY KEY NOT NULL,
    status        INTEGER NOT NULL,
    etag          TEXT,
    last_modified TEXT,
    body          TEXT NOT NULL,
    fetched_at    TEXT NOT NULL
) STRICT;
"#,
    r#"
CREATE TABLE source_pin (
    feed   TEXT NOT NULL,
    source TEXT NOT NULL,
    guid   TEXT NOT NULL,
    PRIMARY KEY (feed, source)
) STRICT;
"#,
    r#"
CREATE TABLE rendered (
    out         TEXT NOT NULL,
    feed        TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (out, feed)
) STRICT, WITHOUT ROWID;
"#,
    // Version 5 (issue 11): a compact item row written only when the notice changed: each
    // notice's text once (`summary` NULL when it is the one derived from the content), the
    // content hash as 32 bytes, run times as Unix seconds, no per-run `last_seen`; pins
    // without a rowid (the key is the row); the unread page hash dropped; each local file's
    // identity. A row whose times do not read back keeps its
    // text (it is skipped, then replaced by its next fresh copy, as before).
    r#"
CREATE TABLE item_v5 (
    feed           TEXT NOT NULL REFERENCES feed(id),
    guid           TEXT NOT NULL,
    link           TEXT,
    link_key       TEXT,
    title          TEXT NOT NULL,
    published      TEXT NOT NULL,
    date_estimated INTEGER NOT NULL,
    updated        TEXT NOT NULL,
    summary        TEXT,
    content_html   TEXT NOT NULL,
    authors        TEXT NOT NULL,
    categories     TEXT NOT NULL,
    attachments    TEXT NOT NULL,
    content_hash   BLOB NOT NULL,
    first_seen     INTEGER NOT NULL,
    last_changed   INTEGER NOT NULL,
    PRIMARY KEY (feed, guid)
) STRICT;
INSERT INTO item_v5
SELECT feed, guid, link, link_key, title, published, date_estimated, updated, summary,
       content_html, authors, categories, attachments,
       coalesce(unhex(content_hash), x''),
       coalesce(unixepoch(first_seen), 0), coalesce(unixepoch(last_changed), 0)
FROM item;
DROP TABLE item;
ALTER TABLE item_v5 RENAME TO item;
CREATE INDEX item_newest ON item (feed, published DESC, guid);
CREATE INDEX item_link ON item (feed, link_key);

CREATE TABLE guid_pin_v5 (
    key_text TEXT PRIMARY KEY NOT NULL,
    guid     TEXT NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO guid_pin_v5 SELECT key_text, guid FROM guid_pin;
DROP TABLE guid_pin;
ALTER TABLE guid_pin_v5 RENAME TO guid_pin;

CREATE TABLE source_pin_v5 (
    feed   TEXT NOT NULL,
    source TEXT NOT NULL,
    guid   TEXT NOT NULL,
    PRIMARY KEY (feed, source)
) STRICT, WITHOUT ROWID;
INSERT INTO source_pin_v5 SELECT feed, source, guid FROM source_pin;
DROP TABLE source_pin;
ALTER TABLE source_pin_v5 RENAME TO source_pin;

ALTER TABLE page DROP COLUMN content_hash;

CREATE TABLE source_file (
    feed         TEXT NOT NULL,
    path         TEXT NOT NULL,
    size         INTEGER NOT NULL,
    mtime_ns     INTEGER NOT NULL,
    inode        INTEGER NOT NULL,
    content_hash BLOB NOT NULL,
    PRIMARY KEY (feed, path)
) STRICT, WITHOUT ROWID;
"#,
];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

impl Store {
    /// Applies the missing migrations, each in its own transaction together with its
    /// `user_version` bump, so a crash leaves the store at one version or the next, never
    /// between. `IMMEDIATE` takes the write lock before reading the version, so two processes
    /// opening a fresh store at once cannot both migrate. A store already up to date is only
    /// read, so opening it (`noticefeed list`) never waits for a build's open transaction.
    pub(super) fn migrate(&mut self) -> Result<(), Error> {
        let found = self.schema_version()?;
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let version = i as u32 + 1;
            let migrate_err = |source| Error::Migrate {
                path: self.path.clone(),
                version,
                source,
            };
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(migrate_err)?;
            let current: u32 = tx
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .map_err(migrate_err)?;
            if current > SCHEMA_VERSION {
                return Err(Error::TooNew {
                    path: self.path.clone(),
                    found: current,
                    known: SCHEMA_VERSION,
                });
            }
            if current >= version {
                continue; // dropping `tx` rolls back the empty transaction
            }
            tx.execute_batch(sql).map_err(migrate_err)?;
            tx.pragma_update(None, "user_version", version)
                .map_err(migrate_err)?;
            tx.commit().map_err(migrate_err)?;
        }
        if (1..COMPACT_SINCE).contains(&found) {
            self.compact_after_upgrade();
        }
        Ok(())
    }

    /// Once, when a store older than version 5 was upgraded: the rows the migration copied
    /// still hold every summary (also those the content derives) and the file keeps its old
    /// pages and size, so a years-old archive would stay three times its notices. This drops
    /// the derived summaries, then rewrites the file with 8 KiB pages (`VACUUM`, which needs
    /// the rollback journal for a new page size). Best effort: a store that cannot be
    /// compacted now (another process has it open) works as it is, only larger.
    fn compact_after_upgrade(&mut self) {
        let started = std::time::Instant::now();
        let before = self.file_size();
        let dropped = self.drop_derived_summaries();
        // Another process holding the store (a `list` reading) is not waited for long: the
        // compaction is an optimization, the run is what was asked for.
        let _ = self.conn.busy_timeout(Duration::from_secs(1));
        let vacuumed = self
            .conn
            .execute_batch("PRAGMA journal_mode = DELETE; PRAGMA page_size = 8192; VACUUM;");
        let _ = self.conn.busy_timeout(BUSY_TIMEOUT);
        // Whatever happened above, the store goes on in WAL mode.
        let wal = self
            .conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0));
        match (dropped, vacuumed, wal) {
            (Ok(n), Ok(()), Ok(_)) => log::info!(
                "store {}: compacted after the upgrade in {:.1} s ({n} derived summaries \
                 dropped, {} → {} bytes)",
                self.path.display(),
                started.elapsed().as_secs_f64(),
                before,
                self.file_size()
            ),
            (d, v, w) => {
                let why = [d.err(), v.err(), w.err()]
                    .into_iter()
                    .flatten()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; ");
                log::warn!(
                    "store {}: not compacted after the upgrade ({why}); it works as it is, \
                     larger; the next upgrade-free run does not try again",
                    self.path.display()
                );
            }
        }
    }

    /// Sets `summary` to NULL where it is the one derived from the content, as version 5
    /// writes it. One transaction.
    fn drop_derived_summaries(&mut self) -> rusqlite::Result<usize> {
        let tx = self.conn.transaction()?;
        let mut derived = Vec::new();
        {
            let mut select = tx.prepare(
                "SELECT rowid, summary, content_html FROM item WHERE summary IS NOT NULL",
            )?;
            let mut rows = select.query([])?;
            while let Some(r) = rows.next()? {
                let (Ok(summary), Ok(content)) = (r.get::<_, String>(1), r.get::<_, String>(2))
                else {
                    continue;
                };
                if summary == derived_summary(&content) {
                    derived.push(r.get::<_, i64>(0)?);
                }
            }
            let mut clear = tx.prepare("UPDATE item SET summary = NULL WHERE rowid = ?1")?;
            for rowid in &derived {
                clear.execute([rowid])?;
            }
        }
        tx.commit()?;
        Ok(derived.len())
    }

    /// The store file's size in bytes, for the compaction's log line (0 when unknown).
    fn file_size(&self) -> u64 {
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }
}

/// Stores older than this version are compacted once after their upgrade (see
/// [`Store::compact_after_upgrade`]).
const COMPACT_SINCE: u32 = 5;

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::super::testing::*;
    use super::super::{ts, Store};
    use super::*;
    use crate::model::change::Change;
    use crate::model::GuidKey;

    /// Writes a store as `version` left it (in WAL mode, as every version opened it), with
    /// the rows `fill` inserts.
    fn old_store(
        path: &std::path::Path,
        version: usize,
        fill: impl FnOnce(&rusqlite::Transaction<'_>),
    ) {
        let mut conn = Connection::open(path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        let tx = conn.transaction().unwrap();
        for sql in &MIGRATIONS[..version] {
            tx.execute_batch(sql).unwrap();
        }
        tx.pragma_update(None, "user_version", version).unwrap();
        fill(&tx);
        tx.commit().unwrap();
    }

    /// A pragma's value, as text or number.
    fn pragma<T: rusqlite::types::FromSql>(s: &Store, name: &str) -> T {
        s.conn.pragma_query_value(None, name, |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_version_1_store_gains_the_robots_table_and_keeps_its_pages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        // A store as the first release left it.
        old_store(&path, 1, |tx| {
            tx.execute(
                "INSERT INTO page (url, content_hash, body, fetched_at) VALUES ('u', 'h', 'b', ?1)",
                [ts(at(20, 0))],
            )
            .unwrap();
        });
        let s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(s.cached_page("u").unwrap().unwrap().body, "b");
        assert_eq!(s.robots().unwrap(), []);
    }

    #[test]
    fn a_version_2_store_keeps_its_pins_and_gains_source_positions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let key = GuidKey::Path("2026-09-09-copper-forum-harbin.txt".into());
        old_store(&path, 2, |tx| {
            tx.execute(
                "INSERT INTO guid_pin (key_text, guid) VALUES (?1, ?2)",
                (
                    key.key_text(),
                    "urn:uuid:82530e5a-75ef-5835-9f6a-0d80f1d28a2d",
                ),
            )
            .unwrap();
        });
        let mut s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(
            s.pinned_guid(&key.key_text()).unwrap().unwrap().as_str(),
            "urn:uuid:82530e5a-75ef-5835-9f6a-0d80f1d28a2d"
        );
        let g = identify(
            &mut s,
            &feed("notices"),
            &GuidKey::Link(link(3)),
            Some("path:2026-09-09-copper-forum-harbin.txt"),
        );
        assert_eq!(g.as_str(), "urn:uuid:82530e5a-75ef-5835-9f6a-0d80f1d28a2d");
        assert!(s.integrity_check().unwrap());
    }

    #[test]
    fn a_version_3_store_keeps_its_pins_and_gains_render_fingerprints() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        old_store(&path, 3, |tx| {
            tx.execute(
                "INSERT INTO guid_pin (key_text, guid) VALUES ('id:a', 'urn:uuid:a')",
                [],
            )
            .unwrap();
        });
        let s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(
            s.pinned_guid("id:a").unwrap().unwrap().as_str(),
            "urn:uuid:a"
        );
        assert_eq!(s.rendered("/out", Some(&feed("notices"))).unwrap(), None);
        s.set_rendered("/out", Some(&feed("notices")), "f").unwrap();
        assert!(s.integrity_check().unwrap());
    }

    #[test]
    fn a_version_3_store_keeps_its_notices_pins_and_pages_in_the_compact_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let f = feed("notices");
        let mut own = notice(2, 2);
        own.summary = "the notice's own summary".into();
        // The first notice's summary is the one its content derives, as most are.
        let mut derived = notice(1, 1);
        derived.summary = derived_summary(&derived.content_html);
        let items = [derived, own, notice(3, 3)];
        let src_key = GuidKey::Path("a.jsonl#1".into());
        // A store as version 3 left it: hex hashes, text times, `last_seen`, every summary.
        old_store(&path, 3, |tx| {
            tx.execute(
                "INSERT INTO feed (id, last_success) VALUES ('notices', ?1)",
                [ts(at(20, 0))],
            )
            .unwrap();
            for (n, it) in items.iter().enumerate() {
                let hash: String = crate::normalize::revision::content_hash(it)
                    .0
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                tx.execute(
                    "INSERT INTO item VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8, ?9, ?10, ?11, ?12,
                       ?13, ?14, ?14, ?14)",
                    rusqlite::params![
                        "notices",
                        it.guid.as_str(),
                        it.link.as_ref().map(|l| l.as_str()),
                        it.link.as_ref().map(|l| l.guid_key()),
                        it.title,
                        ts(it.published),
                        ts(it.updated),
                        it.summary,
                        it.content_html,
                        super::super::json(&it.authors),
                        super::super::json(&it.categories),
                        format!(
                            r#"[{{"url":"{}","title":"回执","mime":"{}","length":12345}}]"#,
                            it.attachments[0].url.as_str(),
                            it.attachments[0].mime
                        ),
                        hash,
                        ts(at(20, n as u32)),
                    ],
                )
                .unwrap();
            }
            // A row an older build wrote with a date that does not read back.
            tx.execute(
                "UPDATE item SET published = '-0001-12-31T15:54:17.000000000Z' WHERE guid = ?1",
                [items[2].guid.as_str()],
            )
            .unwrap();
            tx.execute(
                "INSERT INTO guid_pin VALUES (?1, ?2)",
                (src_key.key_text(), items[0].guid.as_str()),
            )
            .unwrap();
            tx.execute(
                "INSERT INTO source_pin VALUES ('notices', 'path:a.jsonl#1', ?1)",
                [items[0].guid.as_str()],
            )
            .unwrap();
            tx.execute(
                "INSERT INTO page VALUES ('u', '\"e\"', NULL, 'h', 'b', ?1)",
                [ts(at(20, 0))],
            )
            .unwrap();
        });
        let mut s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        assert!(s.integrity_check().unwrap());
        // Every readable notice reads back exactly, its own summary included.
        let mut expected = items[..2].to_vec();
        crate::model::order_and_limit(&mut expected, 10);
        assert_eq!(s.archive(&f, 10).unwrap(), expected);
        // The hashes survived the move to bytes: the same items are unchanged, and the
        // unreadable row is healed by its fresh copy.
        let (changes, _) = upsert(&mut s, &f, &items, at(21, 0)).unwrap();
        assert_eq!(
            changes,
            [Change::Unchanged, Change::Unchanged, Change::Updated]
        );
        assert_eq!(s.archive(&f, 10).unwrap().len(), 3);
        // Pins, source positions, pages and the feed's status are kept.
        assert_eq!(
            s.pinned_guid(&src_key.key_text()).unwrap(),
            Some(items[0].guid.clone())
        );
        let g = identify(
            &mut s,
            &f,
            &GuidKey::Explicit("given-later".into()),
            Some("path:a.jsonl#1"),
        );
        assert_eq!(g, items[0].guid);
        assert_eq!(s.cached_page("u").unwrap().unwrap().body, "b");
        assert_eq!(s.status(&f).unwrap().last_success, Some(at(20, 0)));
        let first_seen: i64 = s
            .conn
            .query_row(
                "SELECT first_seen FROM item WHERE guid = ?1",
                [items[1].guid.as_str()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(first_seen, at(20, 1).timestamp());
        // Compacted once: derived summaries are dropped, the notice's own one kept, and the
        // file rewritten with 8 KiB pages, still in WAL mode.
        let stored_summary = |it: &crate::model::Item| -> Option<String> {
            s.conn
                .query_row(
                    "SELECT summary FROM item WHERE guid = ?1",
                    [it.guid.as_str()],
                    |r| r.get(0),
                )
                .unwrap()
        };
        assert_eq!(stored_summary(&items[0]), None);
        assert_eq!(
            stored_summary(&items[1]).as_deref(),
            Some("the notice's own summary")
        );
        assert_eq!(pragma::<u32>(&s, "page_size"), 8192);
        assert_eq!(pragma::<String>(&s, "journal_mode"), "wal");
    }

    #[test]
    fn an_upgraded_store_that_cannot_be_compacted_still_opens_and_works() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        old_store(&path, 3, |_| {});
        // Another process reading the store keeps VACUUM from running.
        let reader = Connection::open(&path).unwrap();
        reader.busy_timeout(std::time::Duration::ZERO).unwrap();
        let tx = reader.unchecked_transaction().unwrap();
        let _: i64 = tx
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .unwrap();
        let mut s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        drop(tx);
        drop(reader);
        // Not rewritten (the old page size), and still in WAL mode.
        assert_eq!(pragma::<u32>(&s, "page_size"), 4096);
        assert_eq!(pragma::<String>(&s, "journal_mode"), "wal");
        let f = feed("notices");
        let (changes, _) = upsert(&mut s, &f, &[notice(1, 1)], at(21, 0)).unwrap();
        assert_eq!(changes, [Change::New]);
        assert!(s.integrity_check().unwrap());
    }

    #[test]
    fn migrations_run_once_and_set_user_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/state.sqlite");
        let a = Store::open(&path).unwrap();
        assert_eq!(a.schema_version().unwrap(), SCHEMA_VERSION);
        // A second connection while the first is open, then again after: no re-migration.
        let b = Store::open(&path).unwrap();
        assert_eq!(b.schema_version().unwrap(), SCHEMA_VERSION);
        drop((a, b));
        let c = Store::open(&path).unwrap();
        assert_eq!(c.schema_version().unwrap(), SCHEMA_VERSION);
        assert!(c.integrity_check().unwrap());
        assert_eq!(pragma::<String>(&c, "journal_mode"), "wal");
    }

    #[test]
    fn a_store_from_a_newer_noticefeed_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let s = Store::open(&path).unwrap();
        s.conn
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(s);
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, Error::TooNew { .. }), "{err:?}");
        assert!(err.to_string().contains("state.sqlite"), "{err}");
    }
}
