//! robots.txt copies, one row per origin. A table of its own rather than page rows: its status
//! matters (a cached 404 allows everything), and it is read for every origin at the start of a
//! run, never by URL from a feed.

use chrono::{DateTime, Utc};

use super::{query_err, time_at, ts, Error, Store};
use crate::model::cache::CachedRobots;

impl Store {
    /// Every cached robots.txt with its URL (in the site's own space), in URL order: a handful
    /// of rows, one per origin, loaded at the start of a run.
    pub fn robots(&self) -> Result<Vec<(String, CachedRobots)>, Error> {
        let read = || -> rusqlite::Result<Vec<(String, CachedRobots)>> {
            let mut stmt = self.conn.prepare(
                "SELECT url, status, etag, last_modified, body, fetched_at FROM robots ORDER BY url",
            )?;
            let rows = stmt.query_map([], |r| {
                let robots = CachedRobots {
                    status: r.get(1)?,
                    etag: r.get(2)?,
                    last_modified: r.get(3)?,
                    body: r.get(4)?,
                    fetched_at: time_at(r, 5)?.into(),
                };
                Ok((r.get(0)?, robots))
            })?;
            rows.collect()
        };
        read().map_err(query_err(&self.path, || {
            "reading the cached robots.txt files".to_owned()
        }))
    }

    /// Stores (or replaces) the robots.txt at `url`.
    pub fn put_robots(&self, url: &str, robots: &CachedRobots) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT INTO robots (url, status, etag, last_modified, body, fetched_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (url) DO UPDATE SET status = excluded.status, etag = excluded.etag,
                   last_modified = excluded.last_modified, body = excluded.body,
                   fetched_at = excluded.fetched_at",
                (
                    url,
                    robots.status,
                    &robots.etag,
                    &robots.last_modified,
                    &robots.body,
                    ts(DateTime::<Utc>::from(robots.fetched_at)),
                ),
            )
            .map(drop)
            .map_err(query_err(&self.path, || format!("caching {url}")))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn cached_robots_round_trip_and_replace() {
        let s = Store::open_in_memory().unwrap();
        assert_eq!(s.robots().unwrap(), []);
        let site_url = "https://www.chinania.org.cn/robots.txt".to_owned();
        let site = CachedRobots {
            status: 200,
            body: "User-agent: *\nDisallow: /api\n".into(),
            etag: Some("\"r1\"".into()),
            last_modified: None,
            fetched_at: at(20, 0).into(),
        };
        let missing_url = "https://assoc.example.org/robots.txt".to_owned();
        let missing = CachedRobots {
            status: 404,
            body: String::new(),
            etag: None,
            last_modified: None,
            fetched_at: at(20, 1).into(),
        };
        s.put_robots(&site_url, &site).unwrap();
        s.put_robots(&missing_url, &missing).unwrap();
        assert_eq!(
            s.robots().unwrap(),
            [
                (missing_url.clone(), missing.clone()),
                (site_url.clone(), site.clone())
            ]
        );
        let confirmed = CachedRobots {
            fetched_at: at(21, 0).into(),
            last_modified: Some("Fri, 23 Jan 2026 08:00:00 GMT".into()),
            ..site
        };
        s.put_robots(&site_url, &confirmed).unwrap();
        assert_eq!(
            s.robots().unwrap(),
            [(missing_url, missing), (site_url, confirmed)]
        );
    }
}
