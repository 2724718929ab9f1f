//! Collecting one feed for `build`: read its source (local files or the site), normalize each
//! notice and pin its GUID in the store. Nothing here writes a feed file.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::Result;

use crate::collect::local;
use crate::collect::walk::RunOptions;
use crate::config::{FeedDef, ScrapeSource, Source};
use crate::model::{FeedId, FileRecord, FileStamp, GuidKey, Item, RawNotice};
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
    /// A local feed's notice files as read, remembered once its items are stored (empty: a
    /// file had a problem, so none is remembered and the next run reads them all again).
    pub files: Option<Vec<FileRecord>>,
    /// The notice files are the ones the last run read: nothing was read, nothing needs
    /// storing; the number of notices they hold.
    pub unchanged: Option<usize>,
}

/// Collects and normalizes one non-merge feed. `Err` is a source failure: nothing of the feed
/// is stored or written. `reuse`: a local feed whose files did not change may be left unread
/// (not for a feed a merge reads this run's items of).
pub(super) fn collect_feed(run: &mut Run<'_>, def: &FeedDef, reuse: bool) -> Result<Fresh> {
    match &def.source {
        Source::Local { dir } => collect_local(run, def, dir, reuse),
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

/// The remembered row that stands for the definition rather than a file (no file's relative
/// path is empty): its hash is [`reading_key`].
const DEFINITION_ROW: &str = "";

/// What reading a local feed depends on besides its files: the noticefeed version (its
/// parsers and normalization), the folder and the time zone naive dates are read in.
fn reading_key(def: &FeedDef, dir: &Path) -> [u8; 32] {
    let text = format!(
        "noticefeed {}\n{}\n{}",
        env!("CARGO_PKG_VERSION"),
        dir.display(),
        def.meta.timezone
    );
    crate::model::sha256(text.as_bytes())
}

/// What a local feed's scan says must be read.
#[derive(Debug, PartialEq, Eq)]
enum ReadPlan {
    /// Every file has the stamp remembered: read none.
    Nothing,
    /// These files (indexes into the scan) have new stamps: read them, and if each hashes as
    /// remembered, the feed is unchanged.
    Check(Vec<usize>),
    /// A file was added or removed, one's stamp is unknown, or the definition changed: read
    /// the folder as a first run does.
    All,
}

/// The [`DEFINITION_ROW`] record for a reading key.
fn definition_record(key: &[u8; 32]) -> FileRecord {
    FileRecord {
        rel_path: DEFINITION_ROW.to_owned(),
        stamp: FileStamp {
            size: 0,
            mtime_ns: 0,
            inode: 0,
        },
        content_hash: *key,
    }
}

/// Compares a scan with what the store remembers (the [`DEFINITION_ROW`] included).
fn plan_reading(
    scanned: &[local::SourceFile],
    remembered: &[FileRecord],
    key: &[u8; 32],
) -> ReadPlan {
    let by_path: HashMap<&str, &FileRecord> = remembered
        .iter()
        .map(|r| (r.rel_path.as_str(), r))
        .collect();
    let definition_same = by_path
        .get(DEFINITION_ROW)
        .is_some_and(|r| &r.content_hash == key);
    if !definition_same || by_path.len() != scanned.len() + 1 {
        return ReadPlan::All;
    }
    let mut changed = Vec::new();
    for (i, f) in scanned.iter().enumerate() {
        match (by_path.get(f.rel.as_str()), f.stamp) {
            (Some(r), Some(stamp)) if r.stamp == stamp => {}
            (Some(_), Some(_)) => changed.push(i),
            _ => return ReadPlan::All,
        }
    }
    if changed.is_empty() {
        ReadPlan::Nothing
    } else {
        ReadPlan::Check(changed)
    }
}

/// The records to remember of files read (with the definition row), or none when a file
/// could not be read whole or had a problem: those are read (and reported) again next run.
fn records(
    key: &[u8; 32],
    files: &[local::SourceFile],
    reads: &[local::FileRead],
) -> Vec<FileRecord> {
    let mut out = vec![definition_record(key)];
    for (f, r) in files.iter().zip(reads) {
        match (f.stamp, r.hash) {
            (Some(stamp), Some(hash)) if r.problems.is_empty() => out.push(FileRecord {
                rel_path: f.rel.clone(),
                stamp,
                content_hash: hash,
            }),
            _ => return Vec::new(),
        }
    }
    out
}

/// A local feed: its folder scanned (no file read); if every file is the one the last run read
/// (same stamp, or a new stamp over the same bytes) and the definition is the same, nothing is
/// read or stored. Otherwise every file is read as on a first run, so duplicates and source
/// positions are decided over the whole folder.
fn collect_local(run: &mut Run<'_>, def: &FeedDef, dir: &Path, reuse: bool) -> Result<Fresh> {
    let scanned = local::scan(dir)?;
    let key = reading_key(def, dir);
    let remembered = if reuse {
        run.store.source_files(def.id())?
    } else {
        Vec::new()
    };
    let mut reads: Vec<Option<local::FileRead>> = scanned.iter().map(|_| None).collect();
    match plan_reading(&scanned, &remembered, &key) {
        ReadPlan::Nothing => {
            log::info!(
                "{}: no notice file changed since the last run; none read",
                def.id()
            );
            return unchanged(run, def);
        }
        ReadPlan::Check(changed) => {
            let hashes: HashMap<&str, &[u8; 32]> = remembered
                .iter()
                .map(|r| (r.rel_path.as_str(), &r.content_hash))
                .collect();
            let mut same = true;
            for &i in &changed {
                let r = local::read(&scanned[i]);
                same &= r.problems.is_empty()
                    && r.hash.as_ref() == hashes.get(scanned[i].rel.as_str()).copied();
                reads[i] = Some(r);
            }
            if same {
                log::info!(
                    "{}: {} notice file{} touched, {} content unchanged",
                    def.id(),
                    changed.len(),
                    if changed.len() == 1 { "" } else { "s" },
                    if changed.len() == 1 { "its" } else { "their" }
                );
                // Only the new stamps are remembered: the next run reads nothing.
                let mut now_known = remembered;
                for &i in &changed {
                    if let (Some(r), Some(stamp)) = (
                        now_known.iter_mut().find(|r| r.rel_path == scanned[i].rel),
                        scanned[i].stamp,
                    ) {
                        r.stamp = stamp;
                    }
                }
                run.store.replace_source_files(def.id(), &now_known)?;
                return unchanged(run, def);
            }
        }
        ReadPlan::All => {}
    }
    let prepared = read_local(def, &key, &scanned, reads);
    finish_local(run, def, dir, prepared)
}

/// A local feed read ahead (see [`prepare_local`]): the files read and their notices
/// normalized, nothing reported or stored yet.
pub(super) struct Prepared {
    files: Vec<FileRecord>,
    problems: Vec<local::Problem>,
    normalized: Vec<Normalized>,
}

/// One notice normalized, with its key text, source position and origin.
type Normalized = (
    Result<Item, normalize::Error>,
    Option<String>,
    Option<String>,
    String,
);

/// The part of a first run's reading of a local feed that touches neither the store nor the
/// log, so it can run on another thread while the previous feed is stored and written: when
/// the store says every file must be read (a first run, or the folder changed), its files are
/// read and their notices normalized. `None` when the feed is not read that way (unchanged, or
/// only touched files to check): it is collected in its turn. The store is only read here.
pub(super) fn plan_prefetch(
    run: &Run<'_>,
    def: &FeedDef,
    reuse: bool,
) -> Option<impl FnOnce() -> Prepared + Send + 'static> {
    let Source::Local { dir } = &def.source else {
        return None;
    };
    let scanned = local::scan(dir).ok()?;
    let key = reading_key(def, dir);
    let remembered = if reuse {
        run.store.source_files(def.id()).ok()?
    } else {
        Vec::new()
    };
    if plan_reading(&scanned, &remembered, &key) != ReadPlan::All {
        return None;
    }
    let def = def.clone();
    Some(move || {
        let reads = scanned.iter().map(|_| None).collect();
        read_local(&def, &key, &scanned, reads)
    })
}

/// Collects a local feed from what [`plan_prefetch`] read ahead: reported and pinned now, in
/// the feed's turn, as [`collect_local`] does.
pub(super) fn collect_prepared(
    run: &mut Run<'_>,
    def: &FeedDef,
    prepared: Prepared,
) -> Result<Fresh> {
    let Source::Local { dir } = &def.source else {
        anyhow::bail!("internal: a feed read ahead that is not local");
    };
    finish_local(run, def, dir, prepared)
}

/// Reads the files not read yet and normalizes every notice, in input order. Pure but for
/// reading the files: no store, no log, so it can run on a read-ahead thread (one per feed
/// read ahead: normalizing one feed on every core as well measured no faster on 2 cores, for
/// more CPU time).
fn read_local(
    def: &FeedDef,
    key: &[u8; 32],
    scanned: &[local::SourceFile],
    reads: Vec<Option<local::FileRead>>,
) -> Prepared {
    let reads: Vec<local::FileRead> = scanned
        .iter()
        .zip(reads)
        .map(|(f, r)| r.unwrap_or_else(|| local::read(f)))
        .collect();
    let files = records(key, scanned, &reads);
    let mut collected = local::Collected::default();
    for mut r in reads {
        collected.notices.append(&mut r.notices);
        collected.problems.append(&mut r.problems);
    }
    let cx = Context {
        timezone: def.meta.timezone,
        first_seen: None,
        categories: &[],
    };
    let normalized = collected
        .notices
        .into_iter()
        .map(|raw| {
            let key = normalize::guid_key(&raw).map(|k| k.key_text());
            let source = raw
                .rel_path
                .as_ref()
                .map(|p| GuidKey::Path(p.clone()).key_text());
            let origin = raw.origin.clone();
            // A local notice's date is never replaced, so there is nothing to warn about.
            let item = normalize::normalize(raw, &cx, &mut Vec::new());
            (item, key, source, origin)
        })
        .collect();
    Prepared {
        files,
        problems: collected.problems,
        normalized,
    }
}

/// Reports what reading found, then pins the notices' GUIDs in the store (keys and source
/// positions of every notice at once, so the store can tell a notice whose key changed, same
/// position, from one inserted before it, its own key elsewhere) and drops duplicates.
fn finish_local(run: &mut Run<'_>, def: &FeedDef, dir: &Path, prepared: Prepared) -> Result<Fresh> {
    let mut fresh = Fresh {
        files: Some(prepared.files),
        ..Fresh::default()
    };
    for p in &prepared.problems {
        log::error!("{}: {p}", def.id());
    }
    fresh.notices_failed += prepared.problems.len();
    let mut items = Vec::with_capacity(prepared.normalized.len());
    for (item, key, source, origin) in prepared.normalized {
        match item {
            Ok(item) => items.push((item, key.unwrap_or_default(), source, origin)),
            Err(e) => {
                fresh.notices_failed += 1;
                fresh.files = Some(Vec::new());
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
            // Reported again next run: the files are read again.
            fresh.files = Some(Vec::new());
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

/// A local feed whose files are those of its last successful run: as many notices as it
/// stored then, all unchanged.
fn unchanged(run: &Run<'_>, def: &FeedDef) -> Result<Fresh> {
    let last = run.store.last_report(def.id())?.unwrap_or_default();
    Ok(Fresh {
        unchanged: Some(last.new + last.updated + last.unchanged),
        ..Fresh::default()
    })
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn stamp(n: u64) -> FileStamp {
        FileStamp {
            size: n,
            mtime_ns: 1_767_225_600_000_000_000 + i64::try_from(n).unwrap(),
            inode: n,
        }
    }

    fn scanned(files: &[(&str, Option<u64>)]) -> Vec<local::SourceFile> {
        files
            .iter()
            .map(|(rel, n)| local::SourceFile {
                path: PathBuf::from("/notices").join(rel),
                rel: (*rel).to_owned(),
                stamp: n.map(stamp),
            })
            .collect()
    }

    fn remembered(key: &[u8; 32], files: &[(&str, u64)]) -> Vec<FileRecord> {
        let mut out = vec![definition_record(key)];
        out.extend(files.iter().map(|(rel, n)| FileRecord {
            rel_path: (*rel).to_owned(),
            stamp: stamp(*n),
            content_hash: [u8::try_from(*n).unwrap(); 32],
        }));
        out
    }

    #[test]
    fn only_files_with_a_new_stamp_are_read_and_any_other_change_reads_all() {
        let key = [7; 32];
        let known = remembered(&key, &[("a.txt", 1), ("b/c.md", 2)]);
        let same = scanned(&[("a.txt", Some(1)), ("b/c.md", Some(2))]);
        assert_eq!(plan_reading(&same, &known, &key), ReadPlan::Nothing);
        let touched = scanned(&[("a.txt", Some(1)), ("b/c.md", Some(3))]);
        assert_eq!(
            plan_reading(&touched, &known, &key),
            ReadPlan::Check(vec![1])
        );
        for changed in [
            scanned(&[("a.txt", Some(1))]),
            scanned(&[("a.txt", Some(1)), ("b/c.md", Some(2)), ("d.txt", Some(4))]),
            scanned(&[("a.txt", Some(1)), ("b/d.md", Some(2))]),
            scanned(&[("a.txt", Some(1)), ("b/c.md", None)]),
        ] {
            assert_eq!(plan_reading(&changed, &known, &key), ReadPlan::All);
        }
        // Another definition, or nothing remembered (a first run, a store of an older build).
        assert_eq!(plan_reading(&same, &known, &[8; 32]), ReadPlan::All);
        assert_eq!(plan_reading(&same, &known[1..], &key), ReadPlan::All);
        assert_eq!(plan_reading(&same, &[], &key), ReadPlan::All);
        // An empty folder is not "unchanged" unless it was empty before too.
        assert_eq!(plan_reading(&[], &known[..1], &key), ReadPlan::Nothing);
    }

    #[test]
    fn files_with_a_problem_are_not_remembered() {
        let key = [7; 32];
        let files = scanned(&[("a.txt", Some(1)), ("b.txt", Some(2))]);
        let read = |hash: Option<[u8; 32]>, problem: bool| local::FileRead {
            notices: Vec::new(),
            problems: if problem {
                vec![local::Problem {
                    file: PathBuf::from("b.txt"),
                    line: None,
                    message: "bad".into(),
                }]
            } else {
                Vec::new()
            },
            hash,
        };
        let ok = records(
            &key,
            &files,
            &[read(Some([1; 32]), false), read(Some([2; 32]), false)],
        );
        assert_eq!(ok.len(), 3);
        assert_eq!(ok[0].content_hash, key);
        assert_eq!((ok[2].rel_path.as_str(), ok[2].stamp), ("b.txt", stamp(2)));
        assert!(records(
            &key,
            &files,
            &[read(Some([1; 32]), false), read(Some([2; 32]), true)]
        )
        .is_empty());
        assert!(records(
            &key,
            &files,
            &[read(Some([1; 32]), false), read(None, false)]
        )
        .is_empty());
    }
}
