//! GUID pins and source positions: what keeps a notice's GUID for ever (docs/guids.md). A key
//! text (`id:…`, `link:…`, `path:…`) keeps the first GUID stored for it; a local notice's
//! position in its source keeps the GUID seen there, so a key that changes finds it again.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension};

use super::{query_err, Error, Store};
use crate::model::{CanonicalUrl, FeedId, Guid, GuidKey};

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

impl Store {
    /// The GUID of a key text ([`GuidKey::key_text`](crate::model::GuidKey::key_text)): the
    /// one pinned to it, whatever `derived` says; only a key never seen gets `derived`, pinned
    /// now. A pin is never replaced, which is what lets canonicalization rules change without
    /// re-announcing every old notice in every reader.
    pub fn guid_for_key(&self, key_text: &str, derived: &Guid) -> Result<Guid, Error> {
        guid_for_key(&self.conn, key_text, derived).map_err(query_err(&self.path, || {
            format!("pinning the GUID of {key_text}")
        }))
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

    /// The GUIDs of one feed's notices, in input order, all or none: a notice keeps
    /// the GUID pinned to its key; else the GUID of the notice last seen at its source
    /// position (so adding a `link` or an `id` to a notice keeps its GUID), unless another
    /// notice of the batch holds that GUID by its own key (an entry inserted before it in a
    /// JSON file); else its derived GUID. The key is then pinned (a new key becomes an alias
    /// of the GUID kept) and each source position records the GUID now found there. A notice seen before writes
    /// nothing.
    pub fn pin_identities(
        &mut self,
        feed: &FeedId,
        notices: &[Identity<'_>],
    ) -> Result<Vec<Guid>, Error> {
        let err = || query_err(&self.path, || format!("pinning the GUIDs of feed {feed}"));
        let tx = self.conn.savepoint().map_err(err())?;
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
            let pinned_before = known.is_some();
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
            // A key pinned before this batch keeps its GUID (pins are never replaced): no
            // second lookup. Otherwise the pin is made now, or found if an earlier notice of
            // the batch made it.
            let guid = if pinned_before {
                Guid::from_stored(guid)
            } else {
                pin(&tx, n.key, &Guid::from_stored(guid)).map_err(err())?
            };
            if let Some(source) = n.source {
                tx.prepare_cached(
                    "INSERT INTO source_pin (feed, source, guid) VALUES (?1, ?2, ?3)
                     ON CONFLICT (feed, source) DO UPDATE SET guid = excluded.guid
                     WHERE guid <> excluded.guid",
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
        let tx = self.conn.savepoint().map_err(err())?;
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
            let holder =
                guid_for_key(&tx, &key_text, &Guid::from_stored(guid.clone())).map_err(err())?;
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
}

/// The GUID pinned to `key_text`, pinning `derived` first if there is none yet. Reading first keeps
/// the common case (a notice seen before) free of a write; the insert's `RETURNING` still
/// answers the winner should another connection pin the key in between.
fn guid_for_key(conn: &Connection, key_text: &str, derived: &Guid) -> rusqlite::Result<Guid> {
    match pinned(conn, key_text)? {
        Some(g) => Ok(Guid::from_stored(g)),
        None => pin(conn, key_text, derived),
    }
}

/// Pins `derived` to `key_text` unless a GUID is pinned to it already; the GUID pinned now.
fn pin(conn: &Connection, key_text: &str, derived: &Guid) -> rusqlite::Result<Guid> {
    conn.prepare_cached(
        "INSERT INTO guid_pin (key_text, guid) VALUES (?1, ?2)
         ON CONFLICT (key_text) DO UPDATE SET guid = guid
         RETURNING guid",
    )?
    .query_row((key_text, derived.as_str()), |r| r.get::<_, String>(0))
    .map(Guid::from_stored)
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

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::model::Item;

    /// `pin_identities` for one notice.
    #[test]
    fn a_key_keeps_its_first_guid_whatever_is_derived_later() {
        let s = Store::open_in_memory().unwrap();
        let key = GuidKey::Link(link(1)).key_text();
        let old = Guid::derive(&GuidKey::Link(link(1)));
        assert_eq!(s.pinned_guid(&key).unwrap(), None);
        assert_eq!(s.guid_for_key(&key, &old).unwrap(), old);
        // A later version derives another GUID for the same key: the first one wins.
        let new = Guid::derive(&GuidKey::Explicit("something else".into()));
        assert_ne!(new, old);
        assert_eq!(s.guid_for_key(&key, &new).unwrap(), old);
        assert_eq!(s.pinned_guid(&key).unwrap(), Some(old.clone()));
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
            .guid_for_key(&by_path.key_text(), &Guid::derive(&by_path))
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
        upsert(&mut s, &f, &[item], at(20, 0)).unwrap();
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
}
