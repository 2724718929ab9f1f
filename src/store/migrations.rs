//! The schema, version by version. Entry `i` of [`MIGRATIONS`] brings `PRAGMA user_version`
//! from `i` to `i + 1`; stores in the field were built by the old text, so an entry is never
//! edited, only appended.

use rusqlite::TransactionBehavior;

use super::{Error, Store};

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
];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

impl Store {
    /// Applies the missing migrations, each in its own transaction together with its
    /// `user_version` bump, so a crash leaves the store at one version or the next, never
    /// between. `IMMEDIATE` takes the write lock before reading the version, so two processes
    /// opening a fresh store at once cannot both migrate.
    pub(super) fn migrate(&mut self) -> Result<(), Error> {
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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::super::testing::*;
    use super::super::{ts, Store};
    use super::*;
    use crate::model::GuidKey;

    #[test]
    fn a_version_1_store_gains_the_robots_table_and_keeps_its_pages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        {
            // A store as the first release left it.
            let mut conn = Connection::open(&path).unwrap();
            let tx = conn.transaction().unwrap();
            tx.execute_batch(MIGRATIONS[0]).unwrap();
            tx.pragma_update(None, "user_version", 1).unwrap();
            tx.execute(
                "INSERT INTO page (url, content_hash, body, fetched_at) VALUES ('u', 'h', 'b', ?1)",
                [ts(at(20, 0))],
            )
            .unwrap();
            tx.commit().unwrap();
        }
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
        {
            let mut conn = Connection::open(&path).unwrap();
            let tx = conn.transaction().unwrap();
            tx.execute_batch(MIGRATIONS[0]).unwrap();
            tx.execute_batch(MIGRATIONS[1]).unwrap();
            tx.pragma_update(None, "user_version", 2).unwrap();
            tx.execute(
                "INSERT INTO guid_pin (key_text, guid) VALUES (?1, ?2)",
                (
                    key.key_text(),
                    "urn:uuid:82530e5a-75ef-5835-9f6a-0d80f1d28a2d",
                ),
            )
            .unwrap();
            tx.commit().unwrap();
        }
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
        {
            let mut conn = Connection::open(&path).unwrap();
            let tx = conn.transaction().unwrap();
            for sql in &MIGRATIONS[..3] {
                tx.execute_batch(sql).unwrap();
            }
            tx.pragma_update(None, "user_version", 3).unwrap();
            tx.execute(
                "INSERT INTO guid_pin (key_text, guid) VALUES ('id:a', 'urn:uuid:a')",
                [],
            )
            .unwrap();
            tx.commit().unwrap();
        }
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
        let mode: String = c
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
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
