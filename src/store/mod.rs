//! The embedded SQLite store: the archive of every notice ever seen, pinned GUIDs, the HTTP
//! page cache and per-feed run status. All SQL lives here and no `rusqlite` type leaves this
//! module, so the rest of the crate sees only [`Item`]s and plain structs.
//!
//! It stores and holds no rules: what counts as a change of a notice and what a missing date
//! does are decided by [`normalize::revision`](crate::normalize::revision); the store answers
//! what it holds ([`Store::archived`]) and writes what was decided ([`Store::save_items`]).
//!
//! One file per concern: `migrations` (the schema), `archive` (items), `pins` (GUID pins
//! and source positions), `source_files` (local files' stamps), `pages` (the HTTP page cache),
//! `robots`, `status` (per-feed run outcomes), `rendered` (what was last written where) and
//! `lock` (one run at a time).
//!
//! Why a store at all: the source's list pages only show the newest notices, so a stateless run
//! would drop older notices from the feed, re-derive GUIDs under changed rules and refetch every
//! page. The store remembers, so a cron job can rerun for years without losing or re-announcing
//! anything. It refuses everything else: no fetching, no rendering, no clock (callers pass `now`).
//!
//! # Schema (version 5, `PRAGMA user_version`)
//!
//! Published times are RFC 3339 UTC text with nine fractional digits
//! (`2026-01-23T08:00:00.000000000Z`): exact, and fixed width, so text order is time order and
//! `ORDER BY published` matches [`order_and_limit`](crate::model::order_and_limit). Run times
//! of items are Unix seconds. Lists are JSON text. Tables are `STRICT`; the pin and file
//! tables are `WITHOUT ROWID` (the key is the row). New stores use 8 KiB pages.
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
//! source_file (feed, path) PK               a local feed's notice file, path relative to its
//!           size, mtime_ns, inode INTEGER    folder: its stamp (u64 as the same 64 bits)
//!           content_hash BLOB                SHA-256 of its bytes when last read
//! item      (feed → feed.id, guid) PK       one notice in one feed, written only when it changed
//!           link TEXT, link_key TEXT         canonical link and CanonicalUrl::guid_key() of it
//!           title, content_html TEXT
//!           summary TEXT                     NULL when it is text::derived_summary(content_html)
//!           published, updated TEXT          as published in the feed
//!           date_estimated INTEGER (0/1)     published is the first-seen time
//!           authors, categories TEXT         JSON arrays of strings
//!           attachments TEXT                 JSON [{url, title, mime, length}]
//!           content_hash BLOB                normalize::revision::content_hash, 32 bytes
//!           first_seen, last_changed INTEGER Unix seconds of the runs that stored and changed it
//!           index item_newest (feed, published DESC, guid), index item_link (feed, link_key)
//! page      url TEXT PK                     a fetched list page
//!           etag, last_modified TEXT         validators for the next conditional request
//!           body TEXT                        what a 304 reuses
//!           fetched_at TEXT
//! robots    url TEXT PK                     an origin's robots.txt URL, in the site's space
//!           status INTEGER                   200, or the 4xx that means "allow all" (body empty)
//!           etag, last_modified TEXT         validators for the revalidation
//!           body TEXT                        the rules, reused while fresh and after a 304
//!           fetched_at TEXT                  fetched or last confirmed; its age decides
//! rendered  (out, feed) PK                  an output folder (absolute) and a feed id ('' for
//!                                            the folder files feeds.opml and index.html)
//!           fingerprint TEXT                 of what the files written there last show
//! ```
//!
//! Version 5 made a run's writes follow what changed: an unchanged notice is not written (no
//! `last_seen` any more; a feed's last run is its `last_success`), and a build stores each feed
//! in one transaction ([`Store::begin_feed`]), one fsync however many notices it holds.
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
//! `rendered` (version 4) lets a build leave a feed's files alone when it would render them to
//! the same bytes: the fingerprint (the build's recipe: version, settings, shown items) is
//! recorded after the files are written, per output folder.
//!
//! A migration is appended to `migrations::MIGRATIONS`, never edited: stores in the field were
//! built by the old text.

mod archive;
mod lock;
mod migrations;
mod pages;
mod pins;
mod rendered;
mod robots;
mod source_files;
mod status;

pub use lock::{LockError, RunLock};
pub use migrations::SCHEMA_VERSION;
pub use pins::Identity;
pub use status::FeedStatus;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::types::Type;
use rusqlite::{Connection, Row};
use serde::Serialize;

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

/// How long a statement waits for another connection's write (e.g. `noticefeed list` reading
/// while a build commits) before failing with "database is locked".
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

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
        // A new store only (an existing one keeps its size): 8 KiB pages hold five item rows
        // of ~1.5 KiB where 4 KiB pages held two, a quarter of the file less.
        conn.pragma_update(None, "page_size", 8192)
            .map_err(open_err)?;
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
        // The savepoints inside a feed's transaction journal in memory, not in a temporary
        // file written page by page.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(open_err)?;
        let mut store = Self { conn, path };
        store.migrate()?;
        Ok(store)
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

    /// Opens the feed's transaction: everything the feed stores until [`Store::commit_feed`]
    /// (GUID pins, cached pages, remembered files, items) is one commit, so one fsync, however
    /// many notices it holds. Each write method stays all-or-none inside it (a savepoint), so
    /// a failed or panicking step leaves the others. Takes the write lock at once.
    pub fn begin_feed(&mut self) -> Result<(), Error> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(query_err(&self.path, || {
                "starting a feed's transaction".into()
            }))
    }

    /// Commits the feed's transaction, if one is open: a build commits before it writes the
    /// feed's files, so a file never shows a notice the store lacks. A commit that fails (a
    /// full disk) rolls the feed's writes back, so the next feed starts clean.
    pub fn commit_feed(&mut self) -> Result<(), Error> {
        if self.conn.is_autocommit() {
            return Ok(());
        }
        let committed = self.conn.execute_batch("COMMIT");
        if committed.is_err() && !self.conn.is_autocommit() {
            // Already failing: the commit's error is the one to report.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        committed.map_err(query_err(&self.path, || {
            "committing a feed's transaction".into()
        }))
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

/// Serializing plain strings and numbers cannot fail; an empty list is the harmless fallback
/// should serde_json ever say otherwise.
fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

/// What the store's tests share: the model's test notices, and a run's merge as the build does
/// it (the rules are `normalize::revision`'s; these tests pin what the store does with them).
#[cfg(test)]
mod testing {
    use chrono::{DateTime, Utc};

    pub use crate::model::fixtures::*;

    use super::{Error, Identity, Store};
    use crate::model::change::{Change, UpsertReport};
    use crate::model::{FeedId, Guid, GuidKey, Item};

    /// `pin_identities` for one notice.
    pub fn identify(s: &mut Store, f: &FeedId, key: &GuidKey, source: Option<&str>) -> Guid {
        let derived = Guid::derive(key);
        let key = key.key_text();
        let ids = [Identity {
            key: &key,
            source,
            derived: &derived,
        }];
        s.pin_identities(f, &ids).unwrap().remove(0)
    }

    pub fn upsert(
        s: &mut Store,
        feed: &FeedId,
        items: &[Item],
        now: DateTime<Utc>,
    ) -> Result<(Vec<Change>, UpsertReport), Error> {
        let archived = s.archived(feed)?;
        let decided = crate::normalize::revision::decide_all(items, archived, now);
        s.save_items(feed, &decided, now)
    }

    pub fn report(new: usize, updated: usize, unchanged: usize) -> UpsertReport {
        UpsertReport {
            new,
            updated,
            unchanged,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::model::cache::CachedPage;
    use crate::model::change::Change;
    use crate::model::{Guid, GuidKey, Item};

    #[test]
    fn a_feed_transaction_commits_everything_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let f = feed("notices");
        let mut s = Store::open(&path).unwrap();
        s.begin_feed().unwrap();
        identify(&mut s, &f, &GuidKey::Link(link(1)), None);
        upsert(&mut s, &f, &[notice(1, 1)], at(20, 0)).unwrap();
        // Another connection sees none of it before the commit.
        let other = Store::open(&path).unwrap();
        assert_eq!(other.status(&f).unwrap().archived, 0);
        s.commit_feed().unwrap();
        assert_eq!(other.status(&f).unwrap().archived, 1);
        // A commit that fails (here a deferred foreign key) leaves no transaction behind it.
        s.begin_feed().unwrap();
        s.conn
            .execute_batch(
                "PRAGMA defer_foreign_keys = ON;
                 INSERT INTO item (feed, guid, title, published, date_estimated, updated,
                   content_html, authors, categories, attachments, content_hash, first_seen,
                   last_changed)
                 VALUES ('ghost', 'g', 't', 'x', 0, 'x', 'c', '[]', '[]', '[]', x'', 0, 0)",
            )
            .unwrap();
        assert!(s.commit_feed().is_err());
        assert!(s.conn.is_autocommit());
        s.begin_feed().unwrap();
        s.commit_feed().unwrap();
        // Without an open transaction, committing does nothing and each write commits alone.
        s.commit_feed().unwrap();
        upsert(&mut s, &f, &[notice(2, 2)], at(21, 0)).unwrap();
        assert_eq!(other.status(&f).unwrap().archived, 2);
    }

    #[test]
    fn integrity_check_passes() {
        let mut s = Store::open_in_memory().unwrap();
        upsert(&mut s, &feed("notices"), &[notice(1, 1)], at(20, 0)).unwrap();
        assert!(s.integrity_check().unwrap());
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
            body: "b".into(),
            fetched_at: at(20, 0),
        };
        let items: Vec<Item> = (1..=3).map(|n| notice(n, n)).collect();
        let archived = {
            let mut s = Store::open(&path).unwrap();
            s.guid_for_key(&key, &guid).unwrap();
            let (_, r) = upsert(&mut s, &f, &items, at(20, 0)).unwrap();
            s.record_success(&f, at(20, 0), &r).unwrap();
            s.put_cached_page(&page).unwrap();
            s.archive(&f, 10).unwrap()
        };
        let mut s = Store::open(&path).unwrap();
        assert_eq!(s.archive(&f, 10).unwrap(), archived);
        assert_eq!(
            s.guid_for_key(&key, &Guid::derive(&GuidKey::Path("x".into())))
                .unwrap(),
            guid
        );
        assert_eq!(s.cached_page(&page.url).unwrap(), Some(page));
        assert_eq!(s.status(&f).unwrap().last_success, Some(at(20, 0)));
        let (changes, _) = upsert(&mut s, &f, &items, at(21, 0)).unwrap();
        assert!(changes.iter().all(|c| *c == Change::Unchanged));
        assert!(s.integrity_check().unwrap());
    }
}
