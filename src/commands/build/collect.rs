//! Collecting one feed for `build`: read its source (local files or the site), normalize each
//! notice and pin its GUID in the store. Nothing here writes a feed file.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Result;

use crate::collect::local;
use crate::collect::site::RunOptions;
use crate::config::{FeedDef, ScrapeSource, Source};
use crate::model::{FeedId, GuidKey, Item, RawNotice};
use crate::normalize::{self, Context};
use crate::run::StoreMemory;
use crate::store::{Identity, Store};

use super::Run;

/// Items a feed produced this run, before the store.
#[derive(Debug, Default)]
pub(super) struct Fresh {
    pub items: Vec<Item>,
    pub notices_failed: usize,
    pub warnings: usize,
}

/// Collects and normalizes one non-merge feed. `Err` is a source failure: nothing of the feed
/// is stored or written.
pub(super) fn collect_feed(run: &mut Run<'_>, def: &FeedDef) -> Result<Fresh> {
    match &def.source {
        Source::Local { dir } => collect_local(run, def, dir),
        Source::Scrape(src) => collect_scrape(run, def, src),
        Source::Merge { .. } => Ok(Fresh::default()),
    }
}

/// Normalizes one notice and pins its GUID in the store.
fn normalize_pinned(
    store: &mut Store,
    feed: &FeedId,
    raw: RawNotice,
    cx: &Context<'_>,
    warnings: &mut Vec<String>,
) -> Result<Item> {
    let key = normalize::guid_key(&raw);
    let mut item = normalize::normalize(raw, cx, warnings)?;
    if let Some(key) = key {
        let key = key.key_text();
        let ids = [Identity {
            key: &key,
            source: None,
            derived: &item.guid,
        }];
        if let Some(g) = store.pin_identities(feed, &ids)?.pop() {
            item.guid = g;
        }
    }
    Ok(item)
}

fn collect_local(run: &mut Run<'_>, def: &FeedDef, dir: &Path) -> Result<Fresh> {
    let collected = local::collect(dir)?;
    let mut fresh = Fresh::default();
    for p in &collected.problems {
        log::error!("{}: {p}", def.id());
    }
    fresh.notices_failed += collected.problems.len();
    let cx = Context {
        timezone: def.meta.timezone,
        first_seen: None,
        categories: &[],
    };
    // Keys and source positions of every notice first, so the store can tell a notice whose
    // key changed (same position) from one inserted before it (its own key elsewhere).
    let mut items = Vec::new();
    for raw in collected.notices {
        let key = normalize::guid_key(&raw).map(|k| k.key_text());
        let source = raw
            .rel_path
            .as_ref()
            .map(|p| GuidKey::Path(p.clone()).key_text());
        let origin = raw.origin.clone();
        // A local notice's date is never replaced, so there is nothing to warn about.
        match normalize::normalize(raw, &cx, &mut Vec::new()) {
            Ok(item) => items.push((item, key.unwrap_or_default(), source, origin)),
            Err(e) => {
                fresh.notices_failed += 1;
                log::error!("{}: {e:#}", def.id());
            }
        }
    }
    let guids = {
        let ids: Vec<Identity<'_>> = items
            .iter()
            .map(|(item, key, source, _)| Identity {
                key,
                source: source.as_deref(),
                derived: &item.guid,
            })
            .collect();
        run.store.pin_identities(def.id(), &ids)?
    };
    let mut seen = HashSet::new();
    for ((mut item, _, _, origin), guid) in items.into_iter().zip(guids) {
        item.guid = guid;
        if !seen.insert(item.guid.clone()) {
            fresh.notices_failed += 1;
            log::error!(
                "{}: {origin}: same id as an earlier notice ({}), skipped",
                def.id(),
                item.guid
            );
            continue;
        }
        fresh.items.push(item);
    }
    if fresh.items.is_empty() {
        anyhow::bail!("no notices could be read from {}", dir.display());
    }
    Ok(fresh)
}

fn collect_scrape(run: &mut Run<'_>, def: &FeedDef, src: &ScrapeSource) -> Result<Fresh> {
    let (Some(walker), Some(rt)) = (&run.walker, &run.runtime) else {
        anyhow::bail!("internal: no HTTP client for a scraped feed");
    };
    // Stored links in today's spelling (a host alias declared since, a canonicalization fix):
    // their new keys become aliases of the GUIDs they already have.
    let moved = run
        .store
        .rekey_links(def.id(), |link| src.site.fold_alias(link.clone()))?;
    if moved > 0 {
        log::info!(
            "{}: {moved} stored links re-keyed to today's spelling",
            def.id()
        );
    }
    let memory = StoreMemory {
        store: &run.store,
        feed: def.id(),
        refresh: run.args.refresh,
    };
    let opts = RunOptions {
        max_pages: run.args.backfill,
        refresh: run.args.refresh,
        now: run.now,
    };
    let scraped = rt.block_on(walker.collect(src, &memory, opts))?;
    let mut fresh = Fresh::default();
    for w in &scraped.warnings {
        log::warn!("{}: {w}", def.id());
    }
    fresh.warnings = scraped.warnings.len();
    let categories: Vec<String> = src.category.iter().cloned().collect();
    let cx = Context {
        timezone: def.meta.timezone,
        first_seen: Some(run.now),
        categories: &categories,
    };
    for sn in scraped.notices {
        if sn.known {
            if let Some(link) = &sn.raw.link {
                if let Some(item) = run.store.find_by_link(def.id(), &link.guid_key())? {
                    fresh.items.push(item);
                    continue;
                }
            }
        }
        let origin = sn.raw.origin.clone();
        let mut warnings = Vec::new();
        let normalized = normalize_pinned(&mut run.store, def.id(), sn.raw, &cx, &mut warnings);
        for w in &warnings {
            log::warn!("{}: {w}", def.id());
        }
        fresh.warnings += warnings.len();
        match normalized {
            Ok(item) => fresh.items.push(item),
            Err(e) => {
                fresh.notices_failed += 1;
                log::error!("{}: {origin}: {e:#}", def.id());
            }
        }
    }
    for page in scraped.fresh_pages {
        run.store.put_cached_page(&page)?;
    }
    Ok(fresh)
}
