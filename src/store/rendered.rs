//! What was last rendered into which output folder: one fingerprint per feed (and one for the
//! folder-wide files), recorded after the files were written, so a build can tell that a feed
//! would be rendered to the same bytes and leave it alone. The fingerprint's recipe is the
//! caller's; the store only keeps it.

use rusqlite::OptionalExtension;

use super::{query_err, Error, Store};
use crate::model::FeedId;

/// The row of the folder-wide files (`feeds.opml`, `index.html`): no feed id is empty.
const FOLDER: &str = "";

impl Store {
    /// The fingerprint recorded when `feed`'s files (`None`: the folder files) were last written
    /// into the output folder `out`.
    pub fn rendered(&self, out: &str, feed: Option<&FeedId>) -> Result<Option<String>, Error> {
        let id = feed.map_or(FOLDER, FeedId::as_str);
        self.conn
            .query_row(
                "SELECT fingerprint FROM rendered WHERE out = ?1 AND feed = ?2",
                (out, id),
                |r| r.get(0),
            )
            .optional()
            .map_err(query_err(&self.path, || {
                format!("reading what was rendered of {} into {out}", what(feed))
            }))
    }

    /// Records the fingerprint of what was just written into `out` for `feed` (`None`: the
    /// folder files); the same fingerprint again writes nothing.
    pub fn set_rendered(
        &self,
        out: &str,
        feed: Option<&FeedId>,
        fingerprint: &str,
    ) -> Result<(), Error> {
        let id = feed.map_or(FOLDER, FeedId::as_str);
        self.conn
            .execute(
                "INSERT INTO rendered (out, feed, fingerprint) VALUES (?1, ?2, ?3)
                 ON CONFLICT (out, feed) DO UPDATE SET fingerprint = excluded.fingerprint
                 WHERE fingerprint <> excluded.fingerprint",
                (out, id, fingerprint),
            )
            .map(drop)
            .map_err(query_err(&self.path, || {
                format!("recording what was rendered of {} into {out}", what(feed))
            }))
    }
}

fn what(feed: Option<&FeedId>) -> String {
    feed.map_or_else(|| "the folder files".to_owned(), |f| format!("feed {f}"))
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn a_fingerprint_per_feed_and_output_folder() {
        let s = Store::open_in_memory().unwrap();
        let f = feed("notices");
        assert_eq!(s.rendered("/srv/public", Some(&f)).unwrap(), None);
        s.set_rendered("/srv/public", Some(&f), "a").unwrap();
        s.set_rendered("/srv/public", None, "folder").unwrap();
        s.set_rendered("/srv/other", Some(&f), "b").unwrap();
        s.set_rendered("/srv/public", Some(&f), "c").unwrap();
        assert_eq!(
            s.rendered("/srv/public", Some(&f)).unwrap().as_deref(),
            Some("c")
        );
        assert_eq!(
            s.rendered("/srv/other", Some(&f)).unwrap().as_deref(),
            Some("b")
        );
        assert_eq!(
            s.rendered("/srv/public", None).unwrap().as_deref(),
            Some("folder")
        );
        assert_eq!(s.rendered("/srv/other", None).unwrap(), None);
    }
}
