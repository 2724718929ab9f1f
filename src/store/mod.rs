//! The embedded SQLite store: the archive of every notice ever seen, pinned GUIDs, the HTTP
//! page cache and per-feed run status. All SQL lives here and no `rusqlite` type leaves this
//! module, so the rest of the crate sees only [`Item`]s and plain structs.
//!
//! Why a store at all: the source's list pages only show the newest notices, so a stateless run
//! would drop older notices from the feed, re-derive GUIDs under changed rules and refetch every
//! page. The store remembers, so a cron job can rerun for years without losing or re-announcing
//! anything. It refuses everything else: no fetching, no rendering, no clock (callers pass `now`).
//!
//! # Schema (version 3, `PRAGMA user_version`)
//!
//! All times are RFC 3339 UTC text with nine fractional digits (`2026-01-23T08:00:00.000000000Z`):
//! fixed width, so text order is time order and `ORDER BY published` matches
//! [`order_and_limit`](crate::model::order_and_limit). Lists are JSON text. Tables are `STRICT`.
//!
//! ```text
//! feed      id TEXT PK                      feed id (slug)
//!           last_success, last_failure TEXT  times of the last run of each kind
//!           last_error TEXT                  message of the last failure (kept after a success)
//!           last_new, last_updated, last_unchanged INTEGER   counts of the last success
//! guid_pin  key_text TEXT PK                GuidKey::key_text() of a notice, or an alias of it
//!           guid TEXT                        the first GUID ever derived for it, for ever
//! source_pin (feed, source) PK              where a notice sits in its source: `path:<rel>`
//!           guid TEXT                        the GUID of the notice there last run
//! item      (feed → feed.id, guid) PK       one notice in one feed
//!           link TEXT, link_key TEXT         canonical link and CanonicalUrl::guid_key() of it
//!           title, summary, content_html TEXT
//!           published, updated TEXT          as published in the feed
//!           date_estimated INTEGER (0/1)     published is the first-seen time
//!           authors, categories TEXT         JSON arrays of strings
//!           attachments TEXT                 JSON [{url, title, mime, length}]
//!           content_hash TEXT                see `content_hash`
//!           first_seen, last_seen, last_changed TEXT
//!           index item_newest (feed, published DESC, guid), index item_link (feed, link_key)
//! page      url TEXT PK                     a fetched URL (list pages, detail pages)
//!           etag, last_modified TEXT         validators for the next conditional request
//!           content_hash, body TEXT          what a 304 reuses
//!           fetched_at TEXT
//! robots    url TEXT PK                     an origin's robots.txt URL, in the site's space
//!           status INTEGER                   200, or the 4xx that means "allow all" (body empty)
//!           etag, last_modified TEXT         validators for the revalidation
//!           body TEXT                        the rules, reused while fresh and after a 304
//!           fetched_at TEXT                  fetched or last confirmed; its age decides
//! ```
//!
//! `source_pin` (version 3) is what lets a notice keep its GUID when its key changes: a local
//! notice that gains a `link` or an `id` has a new key but the same file (and position in it),
//! so the GUID found there is kept and the new key is pinned to it as an alias. It is filled
//! from the first run of a build that knows it; on that first run, a path-keyed notice of an
//! older store is found through its `path:` pin instead, which is the same text.
//!
//! robots.txt has a table of its own (version 2) rather than a `page` row because its status
//! matters (a cached 404 allows everything) and because it is read for every origin at the start
//! of a run, never by URL from a feed.
//!
//! A migration is appended to `MIGRATIONS`, never edited: stores in the field were built by the
//! old text.

mod lock;

pub use lock::{LockError, RunLock};

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::types::Type;
use rusqlite::{named_params, Connection, OptionalExtension, Row, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::model::{Attachment, CanonicalUrl, FeedId, Guid, GuidKey, Item};

/// Why the store could not do what was asked. Each message names the store's path; the SQLite
/// cause is the `source`, printed by the error chain rather than repeated here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("creating the folder for the store {}", .path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("opening the store {}", .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("upgrading the store {} to schema version {version}", .path.display())]
    Migrate {
        path: PathBuf,
        version: u32,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the store {} has schema version {found}, newer than this noticefeed knows ({known}); \
         upgrade noticefeed or use another --state",
        .path.display()
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        known: u32,
    },
    #[error("store {}: {action}", .path.display())]
    Query {
        path: PathBuf,
        action: String,
        #[source]
        source: rusqlite::Error,
    },
}

/// What [`Store::upsert`] did with one incoming item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    New,
    Updated,
    Unchanged,
}

/// Counts of [`Change`]s, for the run summary and `--report`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpsertReport {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
}

impl UpsertReport {
    fn count(&mut self, change: Change) {
        match change {
            Change::New => self.new += 1,
            Change::Updated => self.updated += 1,
            Change::Unchanged => self.unchanged += 1,
        }
    }
}

/// A fetched page kept for conditional requests: a 304 answer reuses `body`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedPage {
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub content_hash: String,
    pub body: String,
    pub fetched_at: DateTime<Utc>,
}

/// One origin's robots.txt as last fetched, for the HTTP layer's cache across runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRobots {
    /// The robots.txt URL in the site's own space, e.g. `https://www.chinania.org.cn/robots.txt`.
    pub url: String,
    pub status: u16,
    pub body: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub fetched_at: DateTime<Utc>,
}

/// What `noticefeed list` shows per feed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedStatus {
    /// Notices kept for the feed, including those no longer on the source.
    pub archived: usize,
    pub last_success: Option<DateTime<Utc>>,
    pub last_failure: Option<DateTime<Utc>>,
    /// The message of the last failure; kept after a later success so the history stays visible.
    pub last_error: Option<String>,
}

/// One notice's claims to a GUID, for [`Store::pin_identities`].
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    /// [`GuidKey::key_text`](crate::model::GuidKey::key_text) of its key today (id, link or path).
    pub key: &'a str,
    /// Where it sits in its source (`path:<rel>`, with `#n` for an entry of a JSON file), if
    /// the source has positions; scraped notices have none, their link is their key.
    pub source: Option<&'a str>,
    /// The GUID its key derives, used when neither the key nor the source is known yet.
    pub derived: &'a Guid,
}

/// Schema migrations; entry `i` brings `user_version` from `i` to `i + 1`. Append only.
const MIGRATIONS: &[&str] = &[
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
];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// How long a statement waits for another connection's write (e.g. `noticefeed list` reading
/// while a build commits) before failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The columns an [`Item`] is read from, in the order [`item_from_row`] expects.
const ITEM_COLUMNS: &str = "guid, link, title, published, date_estimated, updated, summary, \
                            content_html, authors, categories, attachments";

/// The archive. Owns one SQLite connection; `!Sync`, so it stays on the sync side of the
/// pipeline.
pub struct Store {
    conn: Connection,
    /// For messages only; `:memory:` for an in-memory store.
    path: PathBuf,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed, with its parent folders) the store at `path` and brings its
    /// schema up to date.
    ///
    /// Durability: the journal is WAL with `synchronous=FULL`. WAL alone makes every commit
    /// atomic and the file uncorrupted whatever instant the process dies at: a SIGKILL loses at
    /// most the uncommitted transaction, and the next open replays or discards the WAL tail.
    /// `NORMAL` would already keep committed data across a SIGKILL (the WAL frames are in the
    /// OS cache once `COMMIT` returns), but not across a power cut or kernel crash; `FULL`
    /// fsyncs the WAL at each commit so a notice reported as stored stays stored even then. A
    /// run makes a few dozen commits, so the fsyncs cost nothing a cron job would notice.
    pub fn open(path: &Path) -> Result<Self, Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
                path: path.to_owned(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?;
        Self::init(conn, path.to_owned(), true)
    }

    /// A throwaway store, for tests and dry runs.
    pub fn open_in_memory() -> Result<Self, Error> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| Error::Open {
            path: path.clone(),
            source,
        })?;
        Self::init(conn, path, false)
    }

    fn init(conn: Connection, path: PathBuf, on_disk: bool) -> Result<Self, Error> {
        let open_err = |source| Error::Open {
            path: path.clone(),
            source,
        };
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(open_err)?;
        if on_disk && !mode.eq_ignore_ascii_case("wal") {
            // Some network file systems refuse WAL; SQLite then keeps a rollback journal, which
            // is still crash-safe, only slower and blocking readers during writes.
            log::warn!(
                "store {}: journal mode is {mode}, not WAL (file system without shared memory?)",
                path.display()
            );
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(open_err)?;
        let mut store = Self { conn, path };
        store.migrate()?;
        Ok(store)
    }

    /// Applies the missing migrations, each in its own transaction together with its
    /// `user_version` bump, so a crash leaves the store at one version or the next, never
    /// between. `IMMEDIATE` takes the write lock before reading the version, so two processes
    /// opening a fresh store at once cannot both migrate.
    fn migrate(&mut self) -> Result<(), Error> {
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

    /// Where the store lives (`:memory:` for an in-memory one).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open store.
    pub fn schema_version(&self) -> Result<u32, Error> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(query_err(&self.path, || {
                "reading the schema version".into()
            }))
    }

    /// GUIDs are pinned: the first GUID ever stored for a key text
    /// ([`GuidKey::key_text`](crate::model::GuidKey::key_text)) is returned for ever, even if a
    /// later version derives another. That is what lets canonicalization rules change without
    /// re-announcing every old notice in every reader.
    pub fn pin_guid(&self, key_text: &str, derived: &Guid) -> Result<Guid, Error> {
        pin(&self.conn, key_text, derived).map_err(query_err(&self.path, || {
            format!("pinning the GUID of {key_text}")
        }))
    }

    /// [`Store::pin_guid`] for many keys in one transaction, in input order: one commit (and
    /// fsync) for a whole list page or backfill instead of one per new notice.
    pub fn pin_guids<'a>(
        &mut self,
        keys: impl IntoIterator<Item = (&'a str, &'a Guid)>,
    ) -> Result<Vec<Guid>, Error> {
        let err = || query_err(&self.path, || "pinning GUIDs".to_owned());
        let tx = self.conn.transaction().map_err(err())?;
        let pinned = keys
            .into_iter()
            .map(|(key_text, derived)| pin(&tx, key_text, derived))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(err())?;
        tx.commit().map_err(err())?;
        Ok(pinned)
    }

    /// The pinned GUID of a key text, if any notice with that key was ever stored.
    pub fn pinned_guid(&self, key_text: &str) -> Result<Option<Guid>, Error> {
        self.conn
            .query_row(
                "SELECT guid FROM guid_pin WHERE key_text = ?1",
                [key_text],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map(|g| g.map(Guid::from_stored))
            .map_err(query_err(&self.path, || {
                format!("reading the GUID of {key_text}")
            }))
    }

    /// The GUIDs of one feed's notices, in input order, in one transaction: a notice keeps
    /// the GUID pinned to its key; else the GUID of the notice last seen at its source
    /// position (so adding a `link` or an `id` to a notice keeps its GUID), unless another
    /// notice of the batch holds that GUID by its own key (an entry inserted before it in a
    /// JSON file); else its derived GUID. The key is then pinned (a new key becomes an alias
    /// of the GUID kept) and each source position records the GUID now found there.
    pub fn pin_identities(
        &mut self,
        feed: &FeedId,
        notices: &[Identity<'_>],
    ) -> Result<Vec<Guid>, Error> {
        let err = || query_err(&self.path, || format!("pinning the GUIDs of feed {feed}"));
        let tx = self.conn.transaction().map_err(err())?;
        let by_key = notices
            .iter()
            .map(|n| pinned(&tx, n.key))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(err())?;
        let mut claimed: HashSet<String> = by_key.iter().flatten().cloned().collect();
        // A feed without any source position yet is on its first run since version 3: its
        // path-keyed notices are found by their `path:` pin, the same text. Only then: path
        // pins are shared by every feed, source positions are the feed's own.
        let upgraded: bool = tx
            .query_row(
                "SELECT NOT EXISTS (SELECT 1 FROM source_pin WHERE feed = ?1)",
                [feed.as_str()],
                |r| r.get(0),
            )
            .map_err(err())?;
        let mut chosen = Vec::with_capacity(notices.len());
        for (n, known) in notices.iter().zip(by_key) {
            let guid = match (known, n.source) {
                (Some(g), _) => g,
                (None, Some(source)) => {
                    let at_source = match source_guid(&tx, feed, source).map_err(err())? {
                        Some(g) => Some(g),
                        None if upgraded => pinned(&tx, source).map_err(err())?,
                        None => None,
                    };
                    match at_source {
                        Some(g) if claimed.insert(g.clone()) => g,
                        _ => n.derived.as_str().to_owned(),
                    }
                }
                (None, None) => n.derived.as_str().to_owned(),
            };
            let guid = pin(&tx, n.key, &Guid::from_stored(guid)).map_err(err())?;
            if let Some(source) = n.source {
                tx.prepare_cached(
                    "INSERT INTO source_pin (feed, source, guid) VALUES (?1, ?2, ?3)
                     ON CONFLICT (feed, source) DO UPDATE SET guid = excluded.guid",
                )
                .and_then(|mut st| st.execute((feed.as_str(), source, guid.as_str())))
                .map_err(err())?;
            }
            chosen.push(guid);
        }
        tx.commit().map_err(err())?;
        Ok(chosen)
    }

    /// Brings the stored link keys of `feed` up to today's canonical spelling: `recanonicalize`
    /// gets each stored link and answers it as this version spells it (a declared host alias
    /// folded, a canonicalization fix applied). Where the key differs, the new key is pinned
    /// to the notice's GUID as an alias and the row's `link_key` follows, so the notice is
    /// neither announced again nor its detail page fetched again. Returns how many moved.
    pub fn rekey_links(
        &mut self,
        feed: &FeedId,
        recanonicalize: impl Fn(&CanonicalUrl) -> CanonicalUrl,
    ) -> Result<usize, Error> {
        let err = || query_err(&self.path, || format!("re-keying the links of feed {feed}"));
        let tx = self.conn.transaction().map_err(err())?;
        let rows: Vec<(String, String, Option<String>)> = {
            let mut st = tx
                .prepare(
                    "SELECT guid, link, link_key FROM item WHERE feed = ?1 AND link IS NOT NULL",
                )
                .map_err(err())?;
            let rows = st
                .query_map([feed.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(err())?;
            rows.collect::<rusqlite::Result<_>>().map_err(err())?
        };
        let mut moved = 0;
        for (guid, link, old_key) in rows {
            // A link that no longer parses is left alone; reading the item reports it.
            let Ok(stored) = CanonicalUrl::parse(&link) else {
                continue;
            };
            let now = recanonicalize(&stored);
            let new_key = now.guid_key();
            if old_key.as_deref() == Some(new_key.as_str()) {
                continue;
            }
            let key_text = GuidKey::Link(now).key_text();
            let holder = pin(&tx, &key_text, &Guid::from_stored(guid.clone())).map_err(err())?;
            if holder.as_str() != guid {
                log::warn!(
                    "feed {feed}: {link} now reads as {new_key}, which already belongs to {holder}; \
                     both notices are kept"
                );
            }
            tx.execute(
                "UPDATE item SET link_key = ?3 WHERE feed = ?1 AND guid = ?2",
                (feed.as_str(), &guid, &new_key),
            )
            .map_err(err())?;
            moved += 1;
        }
        tx.commit().map_err(err())?;
        Ok(moved)
    }

    /// Merges one run's items into the feed's archive, in one transaction, and says per item
    /// (in input order) what changed.
    ///
    /// Per (feed, guid): a new item is inserted with first_seen = last_seen = last_changed =
    /// `now`. An existing item with the same content hash only moves last_seen (Unchanged), so
    /// the archived item stays byte-for-byte what was stored and the output does not move. A
    /// changed hash replaces the content, sets `updated` and last_changed to `now` (Updated).
    ///
    /// An item with `date_estimated` means "the source gave no date": it never changes the
    /// stored `published`, which stays the first-seen time (or a real date seen earlier). A
    /// new estimated item is published at `now`, the moment noticefeed first saw it.
    pub fn upsert(
        &mut self,
        feed: &FeedId,
        items: &[Item],
        now: DateTime<Utc>,
    ) -> Result<(Vec<Change>, UpsertReport), Error> {
        let path = &self.path;
        let err = || query_err(path, || format!("storing the notices of feed {feed}"));
        let tx = self.conn.transaction().map_err(err())?;
        tx.execute(
            "INSERT INTO feed (id) VALUES (?1) ON CONFLICT (id) DO NOTHING",
            [feed.as_str()],
        )
        .map_err(err())?;
        let mut changes = Vec::with_capacity(items.len());
        let mut report = UpsertReport::default();
        {
            let mut select = tx
                .prepare_cached(&format!(
                    "SELECT {ITEM_COLUMNS}, content_hash FROM item WHERE feed = ?1 AND guid = ?2"
                ))
                .map_err(err())?;
            let mut touch = tx
                .prepare_cached("UPDATE item SET last_seen = ?3 WHERE feed = ?1 AND guid = ?2")
                .map_err(err())?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO item (feed, guid, link, link_key, title, published,
                       date_estimated, updated, summary, content_html, authors, categories,
                       attachments, content_hash, first_seen, last_seen, last_changed)
                     VALUES (:feed, :guid, :link, :link_key, :title, :published,
                       :date_estimated, :updated, :summary, :content_html, :authors, :categories,
                       :attachments, :content_hash, :now, :now, :now)",
                )
                .map_err(err())?;
            let mut replace = tx
                .prepare_cached(
                    "UPDATE item SET link = :link, link_key = :link_key, title = :title,
                       published = :published, date_estimated = :date_estimated,
                       updated = :updated, summary = :summary, content_html = :content_html,
                       authors = :authors, categories = :categories, attachments = :attachments,
                       content_hash = :content_hash, last_seen = :now, last_changed = :now
                     WHERE feed = :feed AND guid = :guid",
                )
                .map_err(err())?;

            for incoming in items {
                if let Err(why) = storable(incoming) {
                    // `normalize` keeps these out; should one get here, it is refused rather
                    // than written as a row no later run could read.
                    log::error!("{feed}: notice {}: {why}; not stored", incoming.guid);
                    continue;
                }
                let stored = select
                    .query_row((feed.as_str(), incoming.guid.as_str()), |r| {
                        Ok(item_from_row(r).and_then(|i| Ok((i, r.get::<_, String>(11)?))))
                    })
                    .optional()
                    .map_err(err())?;
                let stored = match stored {
                    Some(Err(e)) => {
                        // A row an older build wrote and this one cannot read: the fresh copy
                        // replaces it, which heals the store instead of failing the feed.
                        log::warn!(
                            "{feed}: stored notice {} cannot be read back ({e}); replaced by the fresh copy",
                            incoming.guid
                        );
                        let mut item = incoming.clone();
                        if item.date_estimated {
                            item.published = now;
                        }
                        item.updated = now;
                        let hash = content_hash(&item);
                        write_item(&mut replace, feed, &item, &hash, now).map_err(err())?;
                        report.count(Change::Updated);
                        changes.push(Change::Updated);
                        continue;
                    }
                    Some(Ok(found)) => Some(found),
                    None => None,
                };
                let mut item = incoming.clone();
                let change = match stored {
                    None => {
                        if item.date_estimated {
                            item.published = now;
                            item.updated = now;
                        }
                        let hash = content_hash(&item);
                        write_item(&mut insert, feed, &item, &hash, now).map_err(err())?;
                        Change::New
                    }
                    Some((old, old_hash)) => {
                        if item.date_estimated {
                            // Adopt what the store knows, so a missing date neither moves the
                            // notice nor counts as a change.
                            item.published = old.published;
                            item.date_estimated = old.date_estimated;
                        }
                        let hash = content_hash(&item);
                        if hash == old_hash {
                            touch
                                .execute((feed.as_str(), item.guid.as_str(), ts(now)))
                                .map_err(err())?;
                            Change::Unchanged
                        } else {
                            item.updated = now;
                            write_item(&mut replace, feed, &item, &hash, now).map_err(err())?;
                            Change::Updated
                        }
                    }
                };
                report.count(change);
                changes.push(change);
            }
        }
        tx.commit().map_err(err())?;
        Ok((changes, report))
    }

    /// The newest `max` items of a feed, ordered as
    /// [`order_and_limit`](crate::model::order_and_limit) does (published desc, guid asc),
    /// including items no longer on the source: nothing ever published is lost.
    pub fn archive(&self, feed: &FeedId, max: usize) -> Result<Vec<Item>, Error> {
        let err = || query_err(&self.path, || format!("reading the archive of feed {feed}"));
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ITEM_COLUMNS} FROM item WHERE feed = ?1
                 ORDER BY published DESC, guid ASC"
            ))
            .map_err(err())?;
        // Rows are read lazily, so stopping at `max` good ones reads no more than that plus
        // the ones skipped.
        let rows = stmt.query_map([feed.as_str()], decode_row).map_err(err())?;
        let mut out = Vec::new();
        for row in rows {
            if out.len() >= max {
                break;
            }
            if let Some(item) = reported(feed, row.map_err(err())?) {
                out.push(item);
            }
        }
        Ok(out)
    }

    /// One stored item, exactly as the feed publishes it.
    pub fn get(&self, feed: &FeedId, guid: &Guid) -> Result<Option<Item>, Error> {
        self.conn
            .query_row(
                &format!("SELECT {ITEM_COLUMNS} FROM item WHERE feed = ?1 AND guid = ?2"),
                (feed.as_str(), guid.as_str()),
                decode_row,
            )
            .optional()
            .map_err(query_err(&self.path, || {
                format!("reading notice {guid} of feed {feed}")
            }))
            .map(|row| row.and_then(|r| reported(feed, r)))
    }

    /// The stored item of `feed` whose canonical link
    /// ([`CanonicalUrl::guid_key`]) is `link_key`, so the scraper can skip detail pages it
    /// already fetched. Should several notices share a link, the newest wins.
    pub fn find_by_link(&self, feed: &FeedId, link_key: &str) -> Result<Option<Item>, Error> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {ITEM_COLUMNS} FROM item WHERE feed = ?1 AND link_key = ?2
                     ORDER BY published DESC, guid ASC LIMIT 1"
                ),
                (feed.as_str(), link_key),
                decode_row,
            )
            .optional()
            .map_err(query_err(&self.path, || {
                format!("looking up {link_key} in feed {feed}")
            }))
            .map(|row| row.and_then(|r| reported(feed, r)))
    }

    /// The cached copy of a fetched URL, for If-None-Match / If-Modified-Since and for 304s.
    pub fn cached_page(&self, url: &str) -> Result<Option<CachedPage>, Error> {
        self.conn
            .query_row(
                "SELECT url, etag, last_modified, content_hash, body, fetched_at
                 FROM page WHERE url = ?1",
                [url],
                |r| {
                    Ok(CachedPage {
                        url: r.get(0)?,
                        etag: r.get(1)?,
                        last_modified: r.get(2)?,
                        content_hash: r.get(3)?,
                        body: r.get(4)?,
                        fetched_at: time_at(r, 5)?,
                    })
                },
            )
            .optional()
            .map_err(query_err(&self.path, || {
                format!("reading the cached page {url}")
            }))
    }

    /// Stores (or replaces) the cached copy of a fetched URL.
    pub fn put_cached_page(&self, page: &CachedPage) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT INTO page (url, etag, last_modified, content_hash, body, fetched_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (url) DO UPDATE SET etag = excluded.etag,
                   last_modified = excluded.last_modified, content_hash = excluded.content_hash,
                   body = excluded.body, fetched_at = excluded.fetched_at",
                (
                    &page.url,
                    &page.etag,
                    &page.last_modified,
                    &page.content_hash,
                    &page.body,
                    ts(page.fetched_at),
                ),
            )
            .map(drop)
            .map_err(query_err(&self.path, || {
                format!("caching the page {}", page.url)
            }))
    }

    /// Every cached robots.txt: a handful of rows, one per origin, loaded at the start of a run.
    pub fn robots(&self) -> Result<Vec<StoredRobots>, Error> {
        let read = || -> rusqlite::Result<Vec<StoredRobots>> {
            let mut stmt = self.conn.prepare(
                "SELECT url, status, etag, last_modified, body, fetched_at FROM robots ORDER BY url",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(StoredRobots {
                    url: r.get(0)?,
                    status: r.get(1)?,
                    etag: r.get(2)?,
                    last_modified: r.get(3)?,
                    body: r.get(4)?,
                    fetched_at: time_at(r, 5)?,
                })
            })?;
            rows.collect()
        };
        read().map_err(query_err(&self.path, || {
            "reading the cached robots.txt files".to_owned()
        }))
    }

    /// Stores (or replaces) an origin's robots.txt.
    pub fn put_robots(&self, robots: &StoredRobots) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT INTO robots (url, status, etag, last_modified, body, fetched_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (url) DO UPDATE SET status = excluded.status, etag = excluded.etag,
                   last_modified = excluded.last_modified, body = excluded.body,
                   fetched_at = excluded.fetched_at",
                (
                    &robots.url,
                    robots.status,
                    &robots.etag,
                    &robots.last_modified,
                    &robots.body,
                    ts(robots.fetched_at),
                ),
            )
            .map(drop)
            .map_err(query_err(&self.path, || format!("caching {}", robots.url)))
    }

    /// Notes a successful run of `feed` and its counts. The last failure stays recorded, so
    /// `noticefeed list` can show both.
    pub fn record_success(
        &self,
        feed: &FeedId,
        at: DateTime<Utc>,
        report: &UpsertReport,
    ) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT INTO feed (id, last_success, last_new, last_updated, last_unchanged)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET last_success = excluded.last_success,
                   last_new = excluded.last_new, last_updated = excluded.last_updated,
                   last_unchanged = excluded.last_unchanged",
                (
                    feed.as_str(),
                    ts(at),
                    report.new,
                    report.updated,
                    report.unchanged,
                ),
            )
            .map(drop)
            .map_err(query_err(&self.path, || {
                format!("recording the success of feed {feed}")
            }))
    }

    /// Notes a failed run of `feed` and why.
    pub fn record_failure(
        &self,
        feed: &FeedId,
        at: DateTime<Utc>,
        message: &str,
    ) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT INTO feed (id, last_failure, last_error) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET last_failure = excluded.last_failure,
                   last_error = excluded.last_error",
                (feed.as_str(), ts(at), message),
            )
            .map(drop)
            .map_err(query_err(&self.path, || {
                format!("recording the failure of feed {feed}")
            }))
    }

    /// Archive size and last outcomes of `feed`; all empty for a feed never run.
    pub fn status(&self, feed: &FeedId) -> Result<FeedStatus, Error> {
        let err = || query_err(&self.path, || format!("reading the status of feed {feed}"));
        let archived: usize = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM item WHERE feed = ?1",
                [feed.as_str()],
                |r| r.get(0),
            )
            .map_err(err())?;
        let runs = self
            .conn
            .query_row(
                "SELECT last_success, last_failure, last_error FROM feed WHERE id = ?1",
                [feed.as_str()],
                |r| {
                    Ok((
                        opt_time_at(r, 0)?,
                        opt_time_at(r, 1)?,
                        r.get::<_, Option<String>>(2)?,
                    ))
                },
            )
            .optional()
            .map_err(err())?;
        let (last_success, last_failure, last_error) = runs.unwrap_or_default();
        Ok(FeedStatus {
            archived,
            last_success,
            last_failure,
            last_error,
        })
    }

    /// Whether SQLite finds the file sound (`PRAGMA integrity_check` answers `ok`); the crash
    /// tests and a cautious operator call it.
    pub fn integrity_check(&self) -> Result<bool, Error> {
        let mut stmt = self
            .conn
            .prepare("PRAGMA integrity_check")
            .map_err(query_err(&self.path, || "checking integrity".into()))?;
        let answers = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(query_err(&self.path, || "checking integrity".into()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(query_err(&self.path, || "checking integrity".into()))?;
        Ok(answers == ["ok"])
    }
}

/// The pinned GUID of `key_text`, pinning `derived` if there is none yet. Reading first keeps
/// the common case (a notice seen before) free of a write; the insert's `RETURNING` still
/// answers the winner should another connection pin the key in between.
fn pin(conn: &Connection, key_text: &str, derived: &Guid) -> rusqlite::Result<Guid> {
    let guid = match pinned(conn, key_text)? {
        Some(g) => g,
        None => conn
            .prepare_cached(
                "INSERT INTO guid_pin (key_text, guid) VALUES (?1, ?2)
                 ON CONFLICT (key_text) DO UPDATE SET guid = guid
                 RETURNING guid",
            )?
            .query_row((key_text, derived.as_str()), |r| r.get::<_, String>(0))?,
    };
    Ok(Guid::from_stored(guid))
}

/// The GUID pinned to `key_text`, if any.
fn pinned(conn: &Connection, key_text: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT guid FROM guid_pin WHERE key_text = ?1")?
        .query_row([key_text], |r| r.get(0))
        .optional()
}

/// The GUID last seen at a source position of `feed`, if any.
fn source_guid(conn: &Connection, feed: &FeedId, source: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT guid FROM source_pin WHERE feed = ?1 AND source = ?2")?
        .query_row((feed.as_str(), source), |r| r.get(0))
        .optional()
}

/// Builds the error for a failed statement lazily, so the happy path formats nothing.
fn query_err<'a>(
    path: &'a Path,
    action: impl FnOnce() -> String + 'a,
) -> impl FnOnce(rusqlite::Error) -> Error + 'a {
    move |source| Error::Query {
        path: path.to_owned(),
        action: action(),
        source,
    }
}

/// The stored spelling of a time: fixed width, so SQL text order is time order.
fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// A stored value that does not decode, reported as SQLite's own conversion error so it
/// carries the column index.
fn bad_value(idx: usize, cause: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(cause))
}

fn parse_time(idx: usize, s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| bad_value(idx, e))
}

fn time_at(r: &Row<'_>, idx: usize) -> rusqlite::Result<DateTime<Utc>> {
    parse_time(idx, &r.get::<_, String>(idx)?)
}

fn opt_time_at(r: &Row<'_>, idx: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    r.get::<_, Option<String>>(idx)?
        .map(|s| parse_time(idx, &s))
        .transpose()
}

fn json_at<T: serde::de::DeserializeOwned>(r: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    serde_json::from_str(&r.get::<_, String>(idx)?).map_err(|e| bad_value(idx, e))
}

/// An [`Attachment`] as stored: the model stays free of serde, and the link is kept in its
/// canonical spelling.
#[derive(Serialize, Deserialize)]
struct StoredAttachment {
    url: String,
    title: String,
    mime: String,
    length: u64,
}

impl From<&Attachment> for StoredAttachment {
    fn from(a: &Attachment) -> Self {
        Self {
            url: a.url.as_str().to_owned(),
            title: a.title.clone(),
            mime: a.mime.clone(),
            length: a.length,
        }
    }
}

fn attachments_json(items: &[Attachment]) -> String {
    let stored: Vec<StoredAttachment> = items.iter().map(StoredAttachment::from).collect();
    json(&stored)
}

/// Serializing plain strings and numbers cannot fail; an empty list is the harmless fallback
/// should serde_json ever say otherwise.
fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

/// A row read as far as it decodes: the item, or its GUID and why it does not decode. Only an
/// SQLite failure (not a bad value) is an `Err`.
type Decoded = Result<Item, (String, rusqlite::Error)>;

fn decode_row(r: &Row<'_>) -> rusqlite::Result<Decoded> {
    let guid: String = r.get(0)?;
    Ok(item_from_row(r).map_err(|e| (guid, e)))
}

/// A stored notice that does not decode is reported (feed, GUID, why) and skipped: one bad row
/// must never fail its feed, let alone every later run.
fn reported(feed: &FeedId, row: Decoded) -> Option<Item> {
    match row {
        Ok(item) => Some(item),
        Err((guid, e)) => {
            log::error!("{feed}: stored notice {guid} cannot be read back ({e}); skipped");
            None
        }
    }
}

/// Whether an item can be written so that it reads back: its times within the years the
/// fixed-width text spelling holds.
fn storable(item: &Item) -> Result<(), String> {
    use chrono::Datelike as _;
    for (name, t) in [("published", item.published), ("updated", item.updated)] {
        if !crate::model::PUBLISHABLE_YEARS.contains(&t.year()) {
            return Err(format!(
                "{name} time {} is outside the years 1970–9999",
                ts(t)
            ));
        }
    }
    Ok(())
}

/// Reads the [`ITEM_COLUMNS`] of a row.
fn item_from_row(r: &Row<'_>) -> rusqlite::Result<Item> {
    let link = r
        .get::<_, Option<String>>(1)?
        .map(|s| CanonicalUrl::parse(&s).map_err(|e| bad_value(1, e)))
        .transpose()?;
    let attachments = json_at::<Vec<StoredAttachment>>(r, 10)?
        .into_iter()
        .map(|a| {
            Ok(Attachment {
                url: CanonicalUrl::parse(&a.url).map_err(|e| bad_value(10, e))?,
                title: a.title,
                mime: a.mime,
                length: a.length,
            })
        })
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Item {
        guid: Guid::from_stored(r.get(0)?),
        link,
        title: r.get(2)?,
        published: time_at(r, 3)?,
        date_estimated: r.get(4)?,
        updated: time_at(r, 5)?,
        summary: r.get(6)?,
        content_html: r.get(7)?,
        authors: json_at(r, 8)?,
        categories: json_at(r, 9)?,
        attachments,
    })
}

/// Runs the insert or replace statement; both take the same named parameters.
fn write_item(
    stmt: &mut rusqlite::CachedStatement<'_>,
    feed: &FeedId,
    item: &Item,
    hash: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    stmt.execute(named_params! {
        ":feed": feed.as_str(),
        ":guid": item.guid.as_str(),
        ":link": item.link.as_ref().map(CanonicalUrl::as_str),
        ":link_key": item.link.as_ref().map(CanonicalUrl::guid_key),
        ":title": item.title,
        ":published": ts(item.published),
        ":date_estimated": item.date_estimated,
        ":updated": ts(item.updated),
        ":summary": item.summary,
        ":content_html": item.content_html,
        ":authors": json(&item.authors),
        ":categories": json(&item.categories),
        ":attachments": attachments_json(&item.attachments),
        ":content_hash": hash,
        ":now": ts(now),
    })
    .map(drop)
}

/// What counts as "the notice changed": title, link, summary, content, authors, categories,
/// attachments and, unless estimated, the published date. Never `updated` (the store sets it
/// from this hash, so including it would make every change look like two) and never the
/// first-seen time of an estimated date (it would change with every run).
///
/// The version tag keeps a future change of this recipe from silently colliding with old hashes;
/// changing the recipe marks every notice Updated once, so do it deliberately.
fn content_hash(item: &Item) -> String {
    let attachments: Vec<StoredAttachment> = item
        .attachments
        .iter()
        .map(StoredAttachment::from)
        .collect();
    let published = (!item.date_estimated).then(|| ts(item.published));
    let fields = serde_json::json!([
        "noticefeed-item-v1",
        item.title,
        item.link.as_ref().map(CanonicalUrl::as_str),
        item.summary,
        item.content_html,
        item.authors,
        item.categories,
        attachments,
        published,
    ]);
    crate::model::sha256_hex(fields.to_string().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, day, hour, 0, 0).unwrap()
    }

    fn feed(id: &str) -> FeedId {
        FeedId::parse(id).unwrap()
    }

    fn link(n: u32) -> CanonicalUrl {
        CanonicalUrl::parse(&format!(
            "https://www.chinania.org.cn/html/x/2026/{n}.html?b=2&a=1"
        ))
        .unwrap()
    }

    /// A scraped-looking notice `n`, published on January `day`.
    fn notice(n: u32, day: u32) -> Item {
        let link = link(n);
        Item {
            guid: Guid::derive(&GuidKey::Link(link.clone())),
            link: Some(link.clone()),
            title: format!("关于召开第{n}次会议的通知"),
            published: at(day, 8),
            date_estimated: false,
            updated: at(day, 8),
            summary: format!("summary {n}"),
            content_html: format!("<p>body {n}</p>"),
            authors: vec!["秘书处".into()],
            categories: vec!["通知公告".into(), "会议".into()],
            attachments: vec![Attachment {
                url: CanonicalUrl::parse(&format!("https://h/uploads/附件{n}.docx")).unwrap(),
                title: "回执".into(),
                mime: "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
                    .into(),
                length: 12_345,
            }],
        }
    }

    fn report(new: usize, updated: usize, unchanged: usize) -> UpsertReport {
        UpsertReport {
            new,
            updated,
            unchanged,
        }
    }

    #[test]
    fn upsert_tells_new_updated_and_unchanged_apart() {
        let mut s = Store::open_in_memory().unwrap();
        let f = feed("notices");
        let (changes, r) = s
            .upsert(&f, &[notice(1, 10), notice(2, 11)], at(20, 0))
            .unwrap();
        assert_eq!(changes, [Change::New, Change::New]);
        assert_eq!(r, report(2, 0, 0));

        let mut edited = notice(2, 11);
        edited.content_html = "<p>body 2, corrected</p>".into();
        let (changes, r) = s
            .upsert(
                &f,
                &[notice(1, 10), edited.clone(), notice(3, 12)],
                at(21, 0),
            )
            .unwrap();
        assert_eq!(changes, [Change::Unchanged, Change::Updated, Change::New]);
        assert_eq!(r, report(1, 1, 1));

        let got = s.get(&f, &edited.guid).unwrap().unwrap();
        assert_eq!(got.content_html, edited.content_html);
        assert_eq!(got.guid, edited.guid, "an edit never changes the GUID");
        assert_eq!(got.published, at(11, 8));
        assert_eq!(
            got.updated,
            at(21, 0),
            "an edit moves `updated` to the run time"
        );
        assert_eq!(
            s.get(&f, &notice(1, 10).guid).unwrap().unwrap().updated,
            at(10, 8)
        );
    }

    #[test]
    fn hash_ignores_updated_but_sees_every_content_field() {
        let mut s = Store::open_in_memory().unwrap();
        let f = feed("notices");
        s.upsert(&f, &[notice(1, 10)], at(20, 0)).unwrap();

        let mut later = notice(1, 10);
        later.updated = at(25, 0);
        let (changes, _) = s.upsert(&f, &[later], at(21, 0)).unwrap();
        assert_eq!(changes, [Change::Unchanged]);

        let edits: Vec<fn(&mut Item)> = vec![
            |i| i.title.push('!'),
            |i| i.link = Some(link(99)),
            |i| i.summary.push('!'),
            |i| i.content_html.push('!'),
            |i| i.authors.push("x".into()),
            |i| i.categories.reverse(),
            |i| i.attachments[0].length += 1,
            |i| i.published = at(9, 8),
        ];
        for (n, edit) in edits.into_iter().enumerate() {
            let mut item = s.get(&f, &notice(1, 10).guid).unwrap().unwrap();
            edit(&mut item);
            let (changes, _) = s.upsert(&f, &[item], at(22, n as u32)).unwrap();
            assert_eq!(changes, [Change::Updated], "edit {n}");
        }
    }

    #[test]
    fn an_unchanged_run_returns_identical_items() {
        let mut s = Store::open_in_memory().unwrap();
        let f = feed("notices");
        let items: Vec<Item> = (1..=5).map(|n| notice(n, n)).collect();
        s.upsert(&f, &items, at(20, 0)).unwrap();
        let first = s.archive(&f, 10).unwrap();

        let (changes, r) = s.upsert(&f, &items, at(21, 0)).unwrap();
        assert!(changes.iter().all(|c| *c == Change::Unchanged));
        assert_eq!(r, report(0, 0, 5));
        assert_eq!(s.archive(&f, 10).unwrap(), first);

        // Stored items come back exactly as given, links and attachments included.
        let mut expected = items.clone();
        crate::model::order_and_limit(&mut expected, 10);
        assert_eq!(first, expected);
    }

    #[test]
    fn estimated_dates_keep_the_first_seen_time() {
        let mut s = Store::open_in_memory().unwrap();
        let f = feed("notices");
        let undated = |run: DateTime<Utc>| Item {
            date_estimated: true,
            published: run,
            updated: run,
            ..notice(1, 1)
        };
        let (changes, _) = s.upsert(&f, &[undated(at(20, 0))], at(20, 0)).unwrap();
        assert_eq!(changes, [Change::New]);
        let first = s.archive(&f, 10).unwrap();
        assert_eq!(first[0].published, at(20, 0));
        assert!(first[0].date_estimated);

        // Later runs see it at their own time; it stays where it was first seen.
        let (changes, _) = s.upsert(&f, &[undated(at(21, 0))], at(21, 0)).unwrap();
        assert_eq!(changes, [Change::Unchanged]);
        assert_eq!(s.archive(&f, 10).unwrap(), first);

        // Even an edit keeps the first-seen date.
        let mut edited = undated(at(22, 0));
        edited.title = "更正".into();
        let (changes, _) = s.upsert(&f, &[edited], at(22, 0)).unwrap();
        assert_eq!(changes, [Change::Updated]);
        let item = s.get(&f, &first[0].guid).unwrap().unwrap();
        assert_eq!(item.published, at(20, 0));
        assert_eq!(item.updated, at(22, 0));

        // A new notice without a date is published when first seen, whatever it carried.
        let (_, _) = s
            .upsert(
                &f,
                &[Item {
                    date_estimated: true,
                    published: at(1, 0),
                    ..notice(2, 2)
                }],
                at(23, 0),
            )
            .unwrap();
        assert_eq!(
            s.get(&f, &notice(2, 2).guid).unwrap().unwrap().published,
            at(23, 0)
        );
    }

    #[test]
    fn a_dated_notice_that_loses_its_date_is_unchanged() {
        let mut s = Store::open_in_memory().unwrap();
        let f = feed("notices");
        s.upsert(&f, &[notice(1, 10)], at(20, 0)).unwrap();
        let before = s.archive(&f, 10).unwrap();
        let undated = Item {
            date_estimated: true,
            published: at(21, 0),
            updated: at(21, 0),
            ..notice(1, 10)
        };
        let (changes, _) = s.upsert(&f, &[undated], at(21, 0)).unwrap();
        assert_eq!(changes, [Change::Unchanged]);
        assert_eq!(s.archive(&f, 10).unwrap(), before);
    }

    #[test]
    fn pinned_guids_survive_a_different_derivation() {
        let s = Store::open_in_memory().unwrap();
        let key = GuidKey::Link(link(1)).key_text();
        let old = Guid::derive(&GuidKey::Link(link(1)));
        assert_eq!(s.pinned_guid(&key).unwrap(), None);
        assert_eq!(s.pin_guid(&key, &old).unwrap(), old);
        // A later version derives another GUID for the same key: the first one wins.
        let new = Guid::derive(&GuidKey::Explicit("something else".into()));
        assert_ne!(new, old);
        assert_eq!(s.pin_guid(&key, &new).unwrap(), old);
        assert_eq!(s.pinned_guid(&key).unwrap(), Some(old.clone()));
    }

    #[test]
    fn pin_guids_pins_a_batch_in_input_order() {
        let mut s = Store::open_in_memory().unwrap();
        let k1 = GuidKey::Link(link(1)).key_text();
        let k2 = GuidKey::Link(link(2)).key_text();
        let g1 = Guid::derive(&GuidKey::Link(link(1)));
        let g2 = Guid::derive(&GuidKey::Link(link(2)));
        let other = Guid::derive(&GuidKey::Path("x".into()));
        s.pin_guid(&k1, &g1).unwrap();
        let pinned = s
            .pin_guids([(k2.as_str(), &g2), (k1.as_str(), &other)])
            .unwrap();
        assert_eq!(pinned, [g2.clone(), g1]);
        assert_eq!(s.pin_guid(&k2, &other).unwrap(), g2);
    }

    /// `pin_identities` for one notice.
    fn identify(s: &mut Store, f: &FeedId, key: &GuidKey, source: Option<&str>) -> Guid {
        let derived = Guid::derive(key);
        let key = key.key_text();
        let ids = [Identity {
            key: &key,
            source,
            derived: &derived,
        }];
        s.pin_identities(f, &ids).unwrap().remove(0)
    }

    #[test]
    fn a_notice_keeps_its_guid_when_a_link_then_an_id_is_added() {
        let mut s = Store::open_in_memory().unwrap();
        let f = feed("notices");
        let by_path = GuidKey::Path("a.txt".into());
        let src = Some("path:a.txt");
        let g = identify(&mut s, &f, &by_path, src);
        assert_eq!(g, Guid::derive(&by_path));
        // A link added: a new key, the same file.
        assert_eq!(identify(&mut s, &f, &GuidKey::Link(link(1)), src), g);
        // Then an id.
        let by_id = GuidKey::Explicit("n-1".into());
        assert_eq!(identify(&mut s, &f, &by_id, src), g);
        // Each key is now an alias: the notice moved to another file keeps it by its id.
        assert_eq!(identify(&mut s, &f, &by_id, Some("path:b.md")), g);
        assert_eq!(s.pinned_guid(&by_id.key_text()).unwrap(), Some(g.clone()));
        assert_eq!(
            s.pinned_guid(&GuidKey::Link(link(1)).key_text()).unwrap(),
            Some(g.clone())
        );
        // Source positions are per feed (once the feed has any: see the next test).
        let other = feed("other");
        identify(
            &mut s,
            &other,
            &GuidKey::Path("b.txt".into()),
            Some("path:b.txt"),
        );
        let elsewhere = identify(&mut s, &other, &GuidKey::Explicit("n-9".into()), src);
        assert_ne!(elsewhere, g);
    }

    #[test]
    fn a_path_keyed_notice_of_an_older_store_is_found_by_its_path_pin() {
        let mut s = Store::open_in_memory().unwrap();
        let by_path = GuidKey::Path("old.txt".into());
        // What a version-2 store holds: the path pin only, no source position.
        let g = s
            .pin_guid(&by_path.key_text(), &Guid::derive(&by_path))
            .unwrap();
        let now = identify(
            &mut s,
            &feed("notices"),
            &GuidKey::Explicit("given-later".into()),
            Some("path:old.txt"),
        );
        assert_eq!(now, g);
    }

    #[test]
    fn an_entry_inserted_before_others_does_not_take_their_guid() {
        let mut s = Store::open_in_memory().unwrap();
        let f = feed("notices");
        let keys = |ks: &[GuidKey]| ks.iter().map(GuidKey::key_text).collect::<Vec<_>>();
        let run = |s: &mut Store, ks: &[GuidKey]| {
            let texts = keys(ks);
            let derived: Vec<Guid> = ks.iter().map(Guid::derive).collect();
            let sources: Vec<String> = (1..=ks.len()).map(|i| format!("path:a.json#{i}")).collect();
            let ids: Vec<Identity<'_>> = (0..ks.len())
                .map(|i| Identity {
                    key: &texts[i],
                    source: Some(&sources[i]),
                    derived: &derived[i],
                })
                .collect();
            s.pin_identities(&f, &ids).unwrap()
        };
        let x = GuidKey::Explicit("x".into());
        let y = GuidKey::Explicit("y".into());
        let first = run(&mut s, &[x.clone(), y.clone()]);
        // An entry without id or link inserted at the top: #1 was x's place, but x still
        // holds its GUID by its id, so the newcomer gets a GUID of its own.
        let z = GuidKey::Path("a.json#1".into());
        let second = run(&mut s, &[z.clone(), x, y]);
        assert_eq!(second[1..], first[..]);
        assert_eq!(second[0], Guid::derive(&z));
        assert!(!first.contains(&second[0]));
    }

    #[test]
    fn rekeyed_links_keep_their_guid_and_their_row() {
        let mut s = Store::open_in_memory().unwrap();
        let f = feed("chinania-jqzs");
        let old = CanonicalUrl::parse("http://chinania.org.cn/html/x/1.html").unwrap();
        let g = Guid::derive(&GuidKey::Link(old.clone()));
        let item = Item {
            guid: g.clone(),
            link: Some(old.clone()),
            ..notice(1, 1)
        };
        s.upsert(&f, &[item], at(20, 0)).unwrap();
        let to_www = |u: &CanonicalUrl| {
            CanonicalUrl::parse(
                &u.as_str()
                    .replace("//chinania.org.cn", "//www.chinania.org.cn"),
            )
            .unwrap()
        };
        assert_eq!(s.rekey_links(&f, to_www).unwrap(), 1);
        assert_eq!(s.rekey_links(&f, to_www).unwrap(), 0, "idempotent");
        let new = to_www(&old);
        assert_eq!(
            s.pinned_guid(&GuidKey::Link(new.clone()).key_text())
                .unwrap(),
            Some(g.clone())
        );
        assert_eq!(
            s.find_by_link(&f, &new.guid_key()).unwrap().unwrap().guid,
            g
        );
        assert_eq!(s.status(&f).unwrap().archived, 1);
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
        assert_eq!(s.schema_version().unwrap(), 3);
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
    fn the_archive_keeps_what_scrolled_off_and_respects_order_and_max() {
        let mut s = Store::open_in_memory().unwrap();
        let f = feed("notices");
        s.upsert(&f, &[notice(1, 1), notice(2, 2), notice(3, 3)], at(20, 0))
            .unwrap();
        // The list page now shows only newer notices.
        s.upsert(&f, &[notice(4, 4), notice(5, 5)], at(21, 0))
            .unwrap();
        let titles = |items: Vec<Item>| items.into_iter().map(|i| i.title).collect::<Vec<_>>();
        let all = s.archive(&f, 100).unwrap();
        assert_eq!(all.len(), 5);
        assert_eq!(
            titles(all),
            (1..=5)
                .rev()
                .map(|n| notice(n, n).title)
                .collect::<Vec<_>>()
        );
        assert_eq!(
            titles(s.archive(&f, 2).unwrap()),
            [notice(5, 5).title, notice(4, 4).title]
        );
        assert!(s.archive(&f, 0).unwrap().is_empty());
        assert_eq!(s.archive(&f, usize::MAX).unwrap().len(), 5);

        // Same date: GUID ascending, exactly as model::order_and_limit.
        let tied: Vec<Item> = (10..16).map(|n| notice(n, 9)).collect();
        s.upsert(&f, &tied, at(22, 0)).unwrap();
        let mut expected: Vec<Item> = tied
            .into_iter()
            .chain((1..=5).map(|n| notice(n, n)))
            .collect();
        crate::model::order_and_limit(&mut expected, 8);
        assert_eq!(s.archive(&f, 8).unwrap(), expected);

        // Feeds are separate archives, even for a notice listed in both.
        let other = feed("all");
        s.upsert(&other, &[notice(1, 1)], at(22, 0)).unwrap();
        assert_eq!(s.archive(&other, 100).unwrap(), [notice(1, 1)]);
        assert_eq!(s.status(&f).unwrap().archived, 11);
    }

    #[test]
    fn find_by_link_uses_the_guid_key_of_the_canonical_link() {
        let mut s = Store::open_in_memory().unwrap();
        let f = feed("notices");
        s.upsert(&f, &[notice(1, 1)], at(20, 0)).unwrap();
        let http =
            CanonicalUrl::parse("http://www.chinania.org.cn/html/x/2026/1.html?a=1&b=2").unwrap();
        assert_eq!(
            s.find_by_link(&f, &http.guid_key()).unwrap(),
            Some(notice(1, 1))
        );
        assert_eq!(s.find_by_link(&f, &link(2).guid_key()).unwrap(), None);
        assert_eq!(
            s.find_by_link(&feed("other"), &http.guid_key()).unwrap(),
            None
        );
    }

    #[test]
    fn cached_pages_round_trip_and_replace() {
        let s = Store::open_in_memory().unwrap();
        let url = "https://www.chinania.org.cn/html/list_1.html";
        assert_eq!(s.cached_page(url).unwrap(), None);
        let page = CachedPage {
            url: url.into(),
            etag: Some("\"abc\"".into()),
            last_modified: Some("Fri, 23 Jan 2026 08:00:00 GMT".into()),
            content_hash: "h1".into(),
            body: "<html>列表</html>".into(),
            fetched_at: at(20, 0),
        };
        s.put_cached_page(&page).unwrap();
        assert_eq!(s.cached_page(url).unwrap(), Some(page.clone()));
        let newer = CachedPage {
            etag: None,
            content_hash: "h2".into(),
            body: "<html>新</html>".into(),
            fetched_at: at(21, 0),
            ..page
        };
        s.put_cached_page(&newer).unwrap();
        assert_eq!(s.cached_page(url).unwrap(), Some(newer));
    }

    #[test]
    fn cached_robots_round_trip_and_replace() {
        let s = Store::open_in_memory().unwrap();
        assert_eq!(s.robots().unwrap(), []);
        let site = StoredRobots {
            url: "https://www.chinania.org.cn/robots.txt".into(),
            status: 200,
            body: "User-agent: *\nDisallow: /api\n".into(),
            etag: Some("\"r1\"".into()),
            last_modified: None,
            fetched_at: at(20, 0),
        };
        let missing = StoredRobots {
            url: "https://assoc.example.org/robots.txt".into(),
            status: 404,
            body: String::new(),
            etag: None,
            last_modified: None,
            fetched_at: at(20, 1),
        };
        s.put_robots(&site).unwrap();
        s.put_robots(&missing).unwrap();
        assert_eq!(s.robots().unwrap(), [missing.clone(), site.clone()]);
        let confirmed = StoredRobots {
            fetched_at: at(21, 0),
            last_modified: Some("Fri, 23 Jan 2026 08:00:00 GMT".into()),
            ..site
        };
        s.put_robots(&confirmed).unwrap();
        assert_eq!(s.robots().unwrap(), [missing, confirmed]);
    }

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
    fn status_follows_successes_and_failures() {
        let mut s = Store::open_in_memory().unwrap();
        let f = feed("notices");
        assert_eq!(s.status(&f).unwrap(), FeedStatus::default());

        s.record_failure(&f, at(19, 0), "list selector `ul.news li` matched nothing")
            .unwrap();
        let st = s.status(&f).unwrap();
        assert_eq!(st.last_failure, Some(at(19, 0)));
        assert_eq!(st.last_success, None);
        assert_eq!(st.archived, 0);

        let (_, r) = s
            .upsert(&f, &[notice(1, 1), notice(2, 2)], at(20, 0))
            .unwrap();
        s.record_success(&f, at(20, 0), &r).unwrap();
        assert_eq!(
            s.status(&f).unwrap(),
            FeedStatus {
                archived: 2,
                last_success: Some(at(20, 0)),
                last_failure: Some(at(19, 0)),
                last_error: Some("list selector `ul.news li` matched nothing".into()),
            }
        );
        s.record_failure(&f, at(21, 0), "HTTP 503").unwrap();
        let st = s.status(&f).unwrap();
        assert_eq!(st.last_failure, Some(at(21, 0)));
        assert_eq!(st.last_error.as_deref(), Some("HTTP 503"));
        assert_eq!(st.last_success, Some(at(20, 0)));
    }

    #[test]
    fn a_row_that_does_not_decode_is_skipped_and_healed_never_fatal() {
        // See: issue 9, case 1: a year-0000 date was stored as `-0001-12-31T15:54:17…Z` and every
        // later run of the feed failed with "Conversion error from type Text at index: 3".
        let mut s = Store::open_in_memory().unwrap();
        let f = feed("f");
        s.upsert(&f, &[notice(1, 5), notice(2, 6)], at(7, 0))
            .unwrap();
        let bad = notice(1, 5).guid;
        s.conn
            .execute(
                "UPDATE item SET published = '-0001-12-31T15:54:17.000000000Z' WHERE guid = ?1",
                [bad.as_str()],
            )
            .unwrap();
        let archive = s.archive(&f, 10).unwrap();
        assert_eq!(archive.len(), 1);
        assert_eq!(archive[0].guid, notice(2, 6).guid);
        assert_eq!(s.get(&f, &bad).unwrap(), None);
        assert_eq!(s.find_by_link(&f, &link(1).guid_key()).unwrap(), None);
        // The next run's fresh copy replaces the bad row.
        let (changes, _) = s.upsert(&f, &[notice(1, 5)], at(8, 0)).unwrap();
        assert_eq!(changes, [Change::Updated]);
        assert_eq!(s.archive(&f, 10).unwrap().len(), 2);
    }

    #[test]
    fn an_item_that_would_not_read_back_is_not_written() {
        let mut s = Store::open_in_memory().unwrap();
        let f = feed("f");
        let mut far = notice(1, 5);
        far.published =
            Utc.with_ymd_and_hms(9999, 12, 31, 20, 0, 0).unwrap() + chrono::Duration::days(1);
        let (changes, report) = s.upsert(&f, &[far, notice(2, 6)], at(7, 0)).unwrap();
        assert_eq!(changes, [Change::New]);
        assert_eq!(report.new, 1);
        assert_eq!(s.archive(&f, 10).unwrap().len(), 1);
    }

    #[test]
    fn integrity_check_passes() {
        let mut s = Store::open_in_memory().unwrap();
        s.upsert(&feed("notices"), &[notice(1, 1)], at(20, 0))
            .unwrap();
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

    #[test]
    fn a_reopened_file_store_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let f = feed("notices");
        let key = GuidKey::Link(link(1)).key_text();
        let guid = Guid::derive(&GuidKey::Link(link(1)));
        let page = CachedPage {
            url: "https://h/list.html".into(),
            etag: None,
            last_modified: Some("Fri, 23 Jan 2026 08:00:00 GMT".into()),
            content_hash: "h".into(),
            body: "b".into(),
            fetched_at: at(20, 0),
        };
        let items: Vec<Item> = (1..=3).map(|n| notice(n, n)).collect();
        let archived = {
            let mut s = Store::open(&path).unwrap();
            s.pin_guid(&key, &guid).unwrap();
            let (_, r) = s.upsert(&f, &items, at(20, 0)).unwrap();
            s.record_success(&f, at(20, 0), &r).unwrap();
            s.put_cached_page(&page).unwrap();
            s.archive(&f, 10).unwrap()
        };
        let mut s = Store::open(&path).unwrap();
        assert_eq!(s.archive(&f, 10).unwrap(), archived);
        assert_eq!(
            s.pin_guid(&key, &Guid::derive(&GuidKey::Path("x".into())))
                .unwrap(),
            guid
        );
        assert_eq!(s.cached_page(&page.url).unwrap(), Some(page));
        assert_eq!(s.status(&f).unwrap().last_success, Some(at(20, 0)));
        let (changes, _) = s.upsert(&f, &items, at(21, 0)).unwrap();
        assert!(changes.iter().all(|c| *c == Change::Unchanged));
        assert!(s.integrity_check().unwrap());
    }

    #[test]
    fn run_lock_is_exclusive_and_can_be_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state/state.sqlite");
        let first = RunLock::acquire(&state, false).unwrap();
        assert_eq!(first.path(), dir.path().join("state/state.sqlite.lock"));

        // Another open file description, as a second process would have.
        let err = RunLock::acquire(&state, false).unwrap_err();
        assert!(matches!(err, LockError::Busy { .. }), "{err:?}");
        assert!(err.to_string().contains("--wait"), "{err}");

        // The waiter must not get the lock before `first` is dropped.
        let released = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waiter = {
            let (state, released) = (state.clone(), released.clone());
            std::thread::spawn(move || {
                let lock = RunLock::acquire(&state, true);
                assert!(released.load(std::sync::atomic::Ordering::SeqCst));
                lock.map(drop)
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        released.store(true, std::sync::atomic::Ordering::SeqCst);
        drop(first);
        waiter.join().unwrap().unwrap();
        // Released again when the waiter's lock was dropped.
        RunLock::acquire(&state, false).unwrap();
    }
}
