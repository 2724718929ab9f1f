//! The HTTP page cache: list pages kept for conditional requests, so a `304 Not Modified`
//! re-reads the copy.

use rusqlite::OptionalExtension;

use super::{query_err, time_at, ts, Error, Store};
use crate::model::cache::CachedPage;

impl Store {
    /// The cached copy of a fetched URL, for If-None-Match / If-Modified-Since and for 304s.
    pub fn cached_page(&self, url: &str) -> Result<Option<CachedPage>, Error> {
        self.conn
            .query_row(
                "SELECT url, etag, last_modified, body, fetched_at FROM page WHERE url = ?1",
                [url],
                |r| {
                    Ok(CachedPage {
                        url: r.get(0)?,
                        etag: r.get(1)?,
                        last_modified: r.get(2)?,
                        body: r.get(3)?,
                        fetched_at: time_at(r, 4)?,
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
                "INSERT INTO page (url, etag, last_modified, body, fetched_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (url) DO UPDATE SET etag = excluded.etag,
                   last_modified = excluded.last_modified, body = excluded.body,
                   fetched_at = excluded.fetched_at",
                (
                    &page.url,
                    &page.etag,
                    &page.last_modified,
                    &page.body,
                    ts(page.fetched_at),
                ),
            )
            .map(drop)
            .map_err(query_err(&self.path, || {
                format!("caching the page {}", page.url)
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn cached_pages_round_trip_and_replace() {
        let s = Store::open_in_memory().unwrap();
        let url = "https://www.chinania.org.cn/html/list_1.html";
        assert_eq!(s.cached_page(url).unwrap(), None);
        let page = CachedPage {
            url: url.into(),
            etag: Some("\"abc\"".into()),
            last_modified: Some("Fri, 23 Jan 2026 08:00:00 GMT".into()),
            body: "<html>列表</html>".into(),
            fetched_at: at(20, 0),
        };
        s.put_cached_page(&page).unwrap();
        assert_eq!(s.cached_page(url).unwrap(), Some(page.clone()));
        let newer = CachedPage {
            etag: None,
            body: "<html>新</html>".into(),
            fetched_at: at(21, 0),
            ..page
        };
        s.put_cached_page(&newer).unwrap();
        assert_eq!(s.cached_page(url).unwrap(), Some(newer));
    }
}
