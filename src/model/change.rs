//! The vocabulary of merging a run's items into the archive: what the archive knows of an item,
//! what a run decided about it, and the counts a run reports. The rules that decide live in
//! [`normalize::revision`](crate::normalize::revision); the store only reads and writes these.

use chrono::{DateTime, Utc};

use super::Item;

/// What a run did with one incoming item.
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
    pub fn count(&mut self, change: Change) {
        match change {
            Change::New => self.new += 1,
            Change::Updated => self.updated += 1,
            Change::Unchanged => self.unchanged += 1,
        }
    }
}

/// SHA-256 of what counts as an item's content; the recipe is
/// [`normalize::revision::content_hash`](crate::normalize::revision::content_hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentHash(pub [u8; 32]);

/// What the archive holds for one GUID of a feed, as far as deciding a change needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Archived {
    Stored {
        hash: ContentHash,
        published: DateTime<Utc>,
        /// `published` is the time the notice was first seen, the source gave none.
        date_estimated: bool,
    },
    /// A row an older build wrote that this one cannot read back: the fresh copy replaces it.
    Unreadable,
}

/// One incoming item after the decision: the item as it is to be stored and published, and its
/// hash. An `Unchanged` item is what the archive already holds and needs no write.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    pub change: Change,
    pub item: Item,
    pub hash: ContentHash,
}
