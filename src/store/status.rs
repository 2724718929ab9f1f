//! Per-feed run outcomes, for `noticefeed list` and the run report.

use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;

use super::{opt_time_at, query_err, ts, Error, Store};
use crate::model::change::UpsertReport;
use crate::model::FeedId;

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

impl Store {
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

    /// The counts of `feed`'s last success; `None` if it never had one.
    pub fn last_report(&self, feed: &FeedId) -> Result<Option<UpsertReport>, Error> {
        let count = |n: Option<i64>| usize::try_from(n.unwrap_or(0)).unwrap_or(0);
        self.conn
            .query_row(
                "SELECT last_new, last_updated, last_unchanged FROM feed
                 WHERE id = ?1 AND last_success IS NOT NULL",
                [feed.as_str()],
                |r| {
                    Ok(UpsertReport {
                        new: count(r.get(0)?),
                        updated: count(r.get(1)?),
                        unchanged: count(r.get(2)?),
                    })
                },
            )
            .optional()
            .map_err(query_err(&self.path, || {
                format!("reading the last counts of feed {feed}")
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

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

        assert_eq!(s.last_report(&f).unwrap(), None);
        let (_, r) = upsert(&mut s, &f, &[notice(1, 1), notice(2, 2)], at(20, 0)).unwrap();
        s.record_success(&f, at(20, 0), &r).unwrap();
        assert_eq!(s.last_report(&f).unwrap(), Some(r.clone()));
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
}
