//! The store as the collectors' memory of earlier runs: the adapters between `store` and
//! `collect`, which know nothing of each other.

use std::collections::HashMap;
use std::sync::Mutex;

use anyhow::Result;

use crate::collect::http::RobotsCache;
use crate::collect::walk::Memory;
use crate::model::cache::{CachedPage, CachedRobots};
use crate::model::FeedId;
use crate::store::Store;

/// The store's robots.txt copies as the HTTP layer's cache. The `!Sync` connection cannot go
/// into the async fetches, so the copies are loaded before the run and the ones the run fetched
/// or revalidated are written back after it.
#[derive(Debug, Default)]
pub struct StoreRobots {
    /// By robots.txt URL: the copy, and whether this run changed it.
    entries: Mutex<HashMap<String, (CachedRobots, bool)>>,
}

impl StoreRobots {
    pub fn load(store: &Store) -> Result<Self> {
        let entries = store
            .robots()?
            .into_iter()
            .map(|(url, entry)| (url, (entry, false)))
            .collect();
        Ok(Self {
            entries: Mutex::new(entries),
        })
    }

    /// Writes back the copies this run fetched or confirmed.
    pub fn save(&self, store: &Store) -> Result<()> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        for (url, (entry, _)) in entries.iter().filter(|(_, (_, changed))| *changed) {
            store.put_robots(url, entry)?;
        }
        Ok(())
    }
}

impl RobotsCache for StoreRobots {
    fn get(&self, robots_url: &str) -> Option<CachedRobots> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(robots_url).map(|(e, _)| e.clone())
    }

    fn put(&self, robots_url: &str, entry: CachedRobots) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.insert(robots_url.to_owned(), (entry, true));
    }
}

/// The store as the walker's memory of earlier runs: cached list pages and the notices whose
/// detail pages were already read.
pub struct StoreMemory<'a> {
    pub store: &'a Store,
    pub feed: &'a FeedId,
    /// `--refresh`: every detail page is read again.
    pub refresh: bool,
}

impl Memory for StoreMemory<'_> {
    fn cached_list(&self, url: &str) -> Option<CachedPage> {
        self.store.cached_page(url).ok().flatten()
    }

    fn is_known(&self, link_key: &str) -> bool {
        // A notice stored from its list entry alone (its detail page failed) is not "known":
        // its detail page is tried again on the next run.
        !self.refresh
            && self
                .store
                .find_by_link(self.feed, link_key)
                .ok()
                .flatten()
                .is_some_and(|i| !i.content_html.is_empty())
    }
}
