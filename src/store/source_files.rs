//! What the store remembers of each notice file of a local feed: its stamp (size, modification
//! time, inode) and the hash of its bytes when last read, so a build reads again only the files
//! whose stamp changed (`collect::local` scans the stamps, the build compares).

use std::collections::HashMap;

use super::{query_err, Error, Store};
use crate::model::{FeedId, FileRecord, FileStamp};

impl Store {
    /// The remembered files of `feed`, by relative path.
    pub fn source_files(&self, feed: &FeedId) -> Result<Vec<FileRecord>, Error> {
        let err = || query_err(&self.path, || format!("reading the files of feed {feed}"));
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT path, size, mtime_ns, inode, content_hash FROM source_file
                 WHERE feed = ?1 ORDER BY path",
            )
            .map_err(err())?;
        let rows = stmt
            .query_map([feed.as_str()], |r| {
                let hash: Vec<u8> = r.get(4)?;
                Ok(FileRecord {
                    rel_path: r.get(0)?,
                    stamp: FileStamp {
                        size: from_stored(r.get(1)?),
                        mtime_ns: r.get(2)?,
                        inode: from_stored(r.get(3)?),
                    },
                    // A hash of another length never matches a real one: the file is read.
                    content_hash: <[u8; 32]>::try_from(hash).unwrap_or_default(),
                })
            })
            .map_err(err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(err())
    }

    /// Makes `files` the remembered files of `feed`: rows of files no longer there are
    /// deleted, and only rows that differ are written, so an unchanged folder writes nothing.
    /// All or none (inside the feed's transaction when one is open).
    pub fn replace_source_files(
        &mut self,
        feed: &FeedId,
        files: &[FileRecord],
    ) -> Result<(), Error> {
        let known: HashMap<String, FileRecord> = self
            .source_files(feed)?
            .into_iter()
            .map(|f| (f.rel_path.clone(), f))
            .collect();
        let err = || {
            query_err(&self.path, || {
                format!("remembering the files of feed {feed}")
            })
        };
        let tx = self.conn.savepoint().map_err(err())?;
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO source_file (feed, path, size, mtime_ns, inode, content_hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (feed, path) DO UPDATE SET size = excluded.size,
                       mtime_ns = excluded.mtime_ns, inode = excluded.inode,
                       content_hash = excluded.content_hash",
                )
                .map_err(err())?;
            for f in files {
                if known.get(&f.rel_path) == Some(f) {
                    continue;
                }
                upsert
                    .execute((
                        feed.as_str(),
                        &f.rel_path,
                        to_stored(f.stamp.size),
                        f.stamp.mtime_ns,
                        to_stored(f.stamp.inode),
                        f.content_hash.as_slice(),
                    ))
                    .map_err(err())?;
            }
            let mut delete = tx
                .prepare_cached("DELETE FROM source_file WHERE feed = ?1 AND path = ?2")
                .map_err(err())?;
            for path in known.keys() {
                if !files.iter().any(|f| &f.rel_path == path) {
                    delete.execute((feed.as_str(), path)).map_err(err())?;
                }
            }
        }
        tx.commit().map_err(err())
    }
}

/// SQLite integers are signed 64-bit: a `u64` (a size, an inode) is stored as the `i64` with
/// the same bits and read back exactly.
fn to_stored(n: u64) -> i64 {
    i64::from_ne_bytes(n.to_ne_bytes())
}

fn from_stored(n: i64) -> u64 {
    u64::from_ne_bytes(n.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn file(path: &str, size: u64, inode: u64, byte: u8) -> FileRecord {
        FileRecord {
            rel_path: path.into(),
            stamp: FileStamp {
                size,
                mtime_ns: 1_767_225_600_123_456_789,
                inode,
            },
            content_hash: [byte; 32],
        }
    }

    #[test]
    fn files_round_trip_per_feed_and_are_replaced() {
        let mut s = Store::open_in_memory().unwrap();
        let (f, other) = (feed("notices"), feed("other"));
        assert_eq!(s.source_files(&f).unwrap(), []);
        let a = file("a.jsonl", 13_778_686, u64::MAX, 1);
        let b = file("sub/b.md", 0, 42, 2);
        s.replace_source_files(&f, &[b.clone(), a.clone()]).unwrap();
        s.replace_source_files(&other, &[file("x.txt", 1, 1, 9)])
            .unwrap();
        assert_eq!(s.source_files(&f).unwrap(), [a.clone(), b.clone()]);

        // b edited, a gone, c new.
        let b2 = FileRecord {
            content_hash: [3; 32],
            ..file("sub/b.md", 10, 42, 0)
        };
        let c = file("c.txt", 5, 7, 4);
        s.replace_source_files(&f, &[b2.clone(), c.clone()])
            .unwrap();
        assert_eq!(s.source_files(&f).unwrap(), [c, b2]);
        assert_eq!(s.source_files(&other).unwrap().len(), 1);
    }

    #[test]
    fn an_unchanged_folder_writes_nothing() {
        let mut s = Store::open_in_memory().unwrap();
        let f = feed("notices");
        let files = [file("a.jsonl", 100, 5, 1), file("b.jsonl", 200, 6, 2)];
        s.replace_source_files(&f, &files).unwrap();
        let before = s.conn.total_changes();
        s.replace_source_files(&f, &files).unwrap();
        assert_eq!(s.conn.total_changes(), before);
    }
}
