//! The archive proper: every notice of every feed, as published. Reads answer what a feed shows
//! ([`Store::archive`]) or holds ([`Store::archived`]); the one write stores what
//! [`normalize::revision`](crate::normalize::revision) decided.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{named_params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use super::{bad_value, json, json_at, query_err, time_at, ts, Error, Store};
use crate::model::change::{Archived, Change, ContentHash, Decided, UpsertReport};
use crate::model::{Attachment, CanonicalUrl, FeedId, Guid, Item, SummaryDerived};
use crate::text::derived_summary;

/// The columns an [`Item`] is read from, in the order [`item_from_row`] expects.
const ITEM_COLUMNS: &str = "guid, link, title, published, date_estimated, updated, summary, \
                            content_html, authors, categories, attachments";

impl Store {
    /// What the archive holds of each of `feed`'s notices, by GUID, in one query: what
    /// [`decide_all`](crate::normalize::revision::decide_all) needs to tell a run's items apart.
    /// A row whose hash or date does not read back is [`Archived::Unreadable`], so the fresh
    /// copy replaces it.
    pub fn archived(&self, feed: &FeedId) -> Result<HashMap<String, Archived>, Error> {
        let err = || query_err(&self.path, || format!("reading the archive of feed {feed}"));
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT guid, content_hash, published, date_estimated FROM item WHERE feed = ?1",
            )
            .map_err(err())?;
        let rows = stmt
            .query_map([feed.as_str()], |r| {
                let guid: String = r.get(0)?;
                let hash = r
                    .get::<_, Vec<u8>>(1)
                    .ok()
                    .and_then(|h| <[u8; 32]>::try_from(h).ok())
                    .map(ContentHash);
                let published = time_at(r, 2).ok();
                let state = match (hash, published, r.get::<_, bool>(3)) {
                    (Some(hash), Some(published), Ok(date_estimated)) => Archived::Stored {
                        hash,
                        published,
                        date_estimated,
                    },
                    _ => Archived::Unreadable,
                };
                Ok((guid, state))
            })
            .map_err(err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(err())
    }

    /// Writes one run's decided items of `feed`, all or none (inside the feed's transaction
    /// when one is open, see [`Store::begin_feed`]): a `New` item is inserted with first_seen =
    /// last_changed = `now`, an `Updated` one replaces the stored content and moves
    /// last_changed, and an `Unchanged` one is not written at all, so the archived item stays
    /// byte for byte what was stored and an unchanged run costs no write. Returns the changes,
    /// in input order, and their counts.
    ///
    /// An item whose times would not read back (outside 1970–9999) is refused with an error
    /// naming it, and not counted: `normalize` keeps these out, so one reaching the store is a
    /// bug, never a row that breaks every later run.
    pub fn save_items(
        &mut self,
        feed: &FeedId,
        decided: &[Decided],
        now: DateTime<Utc>,
    ) -> Result<(Vec<Change>, UpsertReport), Error> {
        let path = &self.path;
        let err = || query_err(path, || format!("storing the notices of feed {feed}"));
        let tx = self.conn.savepoint().map_err(err())?;
        tx.execute(
            "INSERT INTO feed (id) VALUES (?1) ON CONFLICT (id) DO NOTHING",
            [feed.as_str()],
        )
        .map_err(err())?;
        let mut changes = Vec::with_capacity(decided.len());
        let mut report = UpsertReport::default();
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO item (feed, guid, link, link_key, title, published,
                       date_estimated, updated, summary, content_html, authors, categories,
                       attachments, content_hash, first_seen, last_changed)
                     VALUES (:feed, :guid, :link, :link_key, :title, :published,
                       :date_estimated, :updated, :summary, :content_html, :authors, :categories,
                       :attachments, :content_hash, :now, :now)",
                )
                .map_err(err())?;
            let mut replace = tx
                .prepare_cached(
                    "UPDATE item SET link = :link, link_key = :link_key, title = :title,
                       published = :published, date_estimated = :date_estimated,
                       updated = :updated, summary = :summary, content_html = :content_html,
                       authors = :authors, categories = :categories, attachments = :attachments,
                       content_hash = :content_hash, last_changed = :now
                     WHERE feed = :feed AND guid = :guid",
                )
                .map_err(err())?;
            for d in decided {
                let item = &d.item;
                if let Err(why) = storable(item) {
                    log::error!("{feed}: notice {}: {why}; not stored", item.guid);
                    continue;
                }
                match d.change {
                    Change::New => write_item(&mut insert, feed, item, &d.hash, now),
                    Change::Updated => write_item(&mut replace, feed, item, &d.hash, now),
                    Change::Unchanged => Ok(()),
                }
                .map_err(err())?;
                report.count(d.change);
                changes.push(d.change);
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
    let content_html: String = r.get(7)?;
    let own_summary: Option<String> = r.get(6)?;
    let summary_derived = SummaryDerived(own_summary.is_none());
    Ok(Item {
        guid: Guid::from_stored(r.get(0)?),
        link,
        title: r.get(2)?,
        published: time_at(r, 3)?,
        date_estimated: r.get(4)?,
        updated: time_at(r, 5)?,
        summary: own_summary.unwrap_or_else(|| derived_summary(&content_html)),
        content_html,
        summary_derived,
        authors: json_at(r, 8)?,
        categories: json_at(r, 9)?,
        attachments,
    })
}

/// The summary a row must keep: none when it is the one derived from the content (most
/// notices give none of their own), which [`item_from_row`] derives again; so each notice's
/// text is stored once.
fn own_summary(item: &Item) -> Option<&str> {
    // Known derived (normalize says so, or it was read back so): no second derivation.
    let derived = item.summary_derived.0 || item.summary == derived_summary(&item.content_html);
    (!derived).then_some(item.summary.as_str())
}

/// Runs the insert or replace statement; both take the same named parameters.
fn write_item(
    stmt: &mut rusqlite::CachedStatement<'_>,
    feed: &FeedId,
    item: &Item,
    hash: &ContentHash,
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
        ":summary": own_summary(item),
        ":content_html": item.content_html,
        ":authors": json(&item.authors),
        ":categories": json(&item.categories),
        ":attachments": attachments_json(&item.attachments),
        ":content_hash": hash.0.as_slice(),
        ":now": now.timestamp(),
    })
    .map(drop)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::super::testing::*;
    use super::*;

    #[test]
    fn an_unchanged_run_writes_nothing() {
        let mut s = Store::open_in_memory().unwrap();
        let f = feed("notices");
        let items: Vec<Item> = (1..=5).map(|n| notice(n, n)).collect();
        upsert(&mut s, &f, &items, at(20, 0)).unwrap();
        let before = s.conn.total_changes();
        let (_, r) = upsert(&mut s, &f, &items, at(21, 0)).unwrap();
        assert_eq!(r.unchanged, 5);
        assert_eq!(s.conn.total_changes(), before, "no row written");
    }

    #[test]
    fn a_summary_is_stored_only_when_it_is_not_the_derived_one() {
        let mut s = Store::open_in_memory().unwrap();
        let f = feed("notices");
        let mut derived = notice(1, 1);
        derived.summary = derived_summary(&derived.content_html);
        let own = notice(2, 2);
        upsert(&mut s, &f, &[derived.clone(), own.clone()], at(20, 0)).unwrap();
        let stored = |g: &Guid| -> Option<String> {
            s.conn
                .query_row(
                    "SELECT summary FROM item WHERE guid = ?1",
                    [g.as_str()],
                    |r| r.get(0),
                )
                .unwrap()
        };
        assert_eq!(stored(&derived.guid), None);
        assert_eq!(stored(&own.guid), Some(own.summary.clone()));
        assert_eq!(s.get(&f, &derived.guid).unwrap(), Some(derived));
        assert_eq!(s.get(&f, &own.guid).unwrap(), Some(own));
    }

    #[test]
    fn upsert_tells_new_updated_and_unchanged_apart() {
        let mut s = Store::open_in_memory().unwrap();
        let f = feed("notices");
        let (changes, r) = upsert(&mut s, &f, &[notice(1, 10), notice(2, 11)], at(20, 0)).unwrap();
        assert_eq!(changes, [Change::New, Change::New]);
        assert_eq!(r, report(2, 0, 0));

        let mut edited = notice(2, 11);
        edited.content_html = "<p>body 2, corrected</p>".into();
        let (changes, r) = upsert(
            &mut s,
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
    fn the_archive_keeps_what_scrolled_off_and_respects_order_and_max() {
        let mut s = Store::open_in_memory().unwrap();
        let f = feed("notices");
        upsert(
            &mut s,
            &f,
            &[notice(1, 1), notice(2, 2), notice(3, 3)],
            at(20, 0),
        )
        .unwrap();
        // The list page now shows only newer notices.
        upsert(&mut s, &f, &[notice(4, 4), notice(5, 5)], at(21, 0)).unwrap();
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
        upsert(&mut s, &f, &tied, at(22, 0)).unwrap();
        let mut expected: Vec<Item> = tied
            .into_iter()
            .chain((1..=5).map(|n| notice(n, n)))
            .collect();
        crate::model::order_and_limit(&mut expected, 8);
        assert_eq!(s.archive(&f, 8).unwrap(), expected);

        // Feeds are separate archives, even for a notice listed in both.
        let other = feed("all");
        upsert(&mut s, &other, &[notice(1, 1)], at(22, 0)).unwrap();
        assert_eq!(s.archive(&other, 100).unwrap(), [notice(1, 1)]);
        assert_eq!(s.status(&f).unwrap().archived, 11);
    }

    #[test]
    fn find_by_link_uses_the_guid_key_of_the_canonical_link() {
        let mut s = Store::open_in_memory().unwrap();
        let f = feed("notices");
        upsert(&mut s, &f, &[notice(1, 1)], at(20, 0)).unwrap();
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
    fn a_row_that_does_not_decode_is_skipped_and_healed_never_fatal() {
        // See: issue 9, case 1: a year-0000 date was stored as `-0001-12-31T15:54:17…Z` and every
        // later run of the feed failed with "Conversion error from type Text at index: 3".
        let mut s = Store::open_in_memory().unwrap();
        let f = feed("f");
        upsert(&mut s, &f, &[notice(1, 5), notice(2, 6)], at(7, 0)).unwrap();
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
        let (changes, _) = upsert(&mut s, &f, &[notice(1, 5)], at(8, 0)).unwrap();
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
        let (changes, report) = upsert(&mut s, &f, &[far, notice(2, 6)], at(7, 0)).unwrap();
        assert_eq!(changes, [Change::New]);
        assert_eq!(report.new, 1);
        assert_eq!(s.archive(&f, 10).unwrap().len(), 1);
    }

    #[test]
    fn an_unchanged_run_returns_identical_items() {
        let mut s = Store::open_in_memory().unwrap();
        let f = feed("notices");
        let items: Vec<Item> = (1..=5).map(|n| notice(n, n)).collect();
        upsert(&mut s, &f, &items, at(20, 0)).unwrap();
        let first = s.archive(&f, 10).unwrap();

        let (changes, r) = upsert(&mut s, &f, &items, at(21, 0)).unwrap();
        assert!(changes.iter().all(|c| *c == Change::Unchanged));
        assert_eq!(r, report(0, 0, 5));
        assert_eq!(s.archive(&f, 10).unwrap(), first);

        // Stored items come back exactly as given, links and attachments included.
        let mut expected = items.clone();
        crate::model::order_and_limit(&mut expected, 10);
        assert_eq!(first, expected);
    }
}
