//! Publishing for `build`: one feed's items into the store, its archive rendered and written;
//! the folder-wide files (`feeds.opml`, `index.html`); the WebSub pings for what changed.

use std::path::Path;

use anyhow::Result;

use crate::config::FeedDef;
use crate::model::change::UpsertReport;
use crate::model::{digest_of, hex, FeedId, Item};
use crate::render::{self, Format};
use crate::run::{isolated, FeedSummary};
use crate::write;

use super::collect::Fresh;
use super::Run;

/// Stores one feed's items (whose source succeeded), then renders its archive and writes the
/// files whose bytes changed; records the outcome in the store's feed status. Runs isolated: a
/// panic while storing, rendering or writing fails the feed, and its previous files stay.
pub(super) fn store_and_publish(run: &mut Run<'_>, def: &FeedDef, fresh: &Fresh) -> FeedSummary {
    let now = run.now;
    let had_files = has_files(&run.args.out, def.id());
    let done = isolated(def.id(), "publishing", || {
        let mut summary = FeedSummary {
            feed: def.id().to_string(),
            notices_failed: fresh.notices_failed,
            warnings: fresh.warnings,
            had_files,
            ..Default::default()
        };
        let stored = store_render_write(run, def, fresh, &mut summary);
        Ok((summary, stored))
    });
    match done {
        Ok((mut summary, Ok(report))) => {
            summary.ok = true;
            if let Err(e) = run.store.record_success(def.id(), now, &report) {
                log::error!("{}: {e:#}", def.id());
            }
            summary
        }
        Ok((mut summary, Err(e))) => {
            let msg = format!("{e:#}");
            record_failure(run, def.id(), &msg);
            summary.error = Some(msg);
            summary
        }
        Err(e) => {
            let msg = format!("{e:#}");
            record_failure(run, def.id(), &msg);
            FeedSummary {
                had_files,
                ..FeedSummary::failed(def.id(), msg)
            }
        }
    }
}

/// Notes a feed's failure in the store; a store that cannot take the note is reported, and
/// the feed's own failure still is.
pub(super) fn record_failure(run: &Run<'_>, id: &FeedId, msg: &str) {
    if let Err(re) = run.store.record_failure(id, run.now, msg) {
        log::error!("{id}: {re:#}");
    }
}

/// Decide and store the run's items → archive → render → write.
fn store_render_write(
    run: &mut Run<'_>,
    def: &FeedDef,
    fresh: &Fresh,
    summary: &mut FeedSummary,
) -> Result<UpsertReport> {
    let report = match fresh.unchanged {
        // Nothing was read: nothing to decide or store.
        Some(n) => UpsertReport {
            unchanged: n,
            ..UpsertReport::default()
        },
        None => {
            let archived = run.store.archived(def.id())?;
            let decided = crate::normalize::revision::decide_all(&fresh.items, archived, run.now);
            let (_, report) = run.store.save_items(def.id(), &decided, run.now)?;
            // After the items they stand for (in the feed's transaction): files remembered
            // are files whose notices are stored.
            if let Some(files) = &fresh.files {
                run.store.replace_source_files(def.id(), files)?;
            }
            report
        }
    };
    run.store.commit_feed()?;
    summary.new = report.new;
    summary.updated = report.updated;
    summary.unchanged = report.unchanged;
    let mut archive = run.store.archive(def.id(), def.max_items)?;
    // A store an older build wrote may hold a date this feed's zone cannot write (year 10000
    // in Shanghai): reported and left out, never rendered.
    archive.retain(|it| {
        let ok = [it.published, it.updated]
            .iter()
            .all(|t| crate::model::is_publishable(*t, def.meta.timezone));
        if !ok {
            log::error!(
                "{}: stored notice {} is dated {}, outside the years 1970–9999 in {}; left out",
                def.id(),
                it.guid,
                it.published.to_rfc3339(),
                def.meta.timezone
            );
        }
        ok
    });
    if archive.is_empty() {
        anyhow::bail!("no items to publish");
    }
    summary.items = archive.len();
    let fingerprint = feed_fingerprint(def, &archive);
    let out = out_key(&run.args.out);
    if run.store.rendered(&out, Some(def.id()))?.as_deref() == Some(fingerprint.as_str())
        && all_files_exist(&run.args.out, def.id())
    {
        log::info!("{}: nothing shown changed; files kept", def.id());
        return Ok(report);
    }
    for format in Format::ALL {
        let doc = render::render(&def.meta, &archive, format);
        let path = run.args.out.join(format.file_name(def.id().as_str()));
        if write::publish(&path, doc.as_bytes())? {
            summary.files_written += 1;
            summary.changed.push(format.file_name(def.id().as_str()));
        }
    }
    let page = render::html::feed_page(&def.meta, &archive)?;
    let path = run
        .args
        .out
        .join(render::html::page_name(def.id().as_str()));
    if write::publish(&path, page.as_bytes())? {
        summary.files_written += 1;
    }
    // Only once every file is written: a run killed before leaves a fingerprint that no longer
    // matches, and the next run renders again.
    run.store.set_rendered(&out, Some(def.id()), &fingerprint)?;
    Ok(report)
}

/// What a feed's files show, as one digest: the noticefeed version (its renderers), the feed's
/// settings and public URL and hubs, and every item it shows. Equal
/// fingerprints mean equal files, so a feed whose fingerprint is the one recorded when its
/// files were last written (and whose files are there) is not rendered again.
fn feed_fingerprint(def: &FeedDef, archive: &[Item]) -> String {
    hex(&digest_of(&(env!("CARGO_PKG_VERSION"), &def.meta, archive)))
}

/// The output folder as the store records it: absolute, so two spellings of one folder agree.
fn out_key(out: &Path) -> String {
    std::path::absolute(out)
        .unwrap_or_else(|_| out.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

/// Whether every file of a feed (each format and its page) is in the output folder.
fn all_files_exist(out: &Path, id: &FeedId) -> bool {
    Format::ALL
        .iter()
        .map(|f| f.file_name(id.as_str()))
        .chain([render::html::page_name(id.as_str())])
        .all(|name| out.join(name).is_file())
}

/// Writes the folder-wide files from the store: every defined feed that has items (its files
/// were published by this run or an earlier one), grouped by site. Returns how many changed,
/// `None` when nothing they show changed and they were kept.
pub(super) fn write_folder_files(
    run: &Run<'_>,
    all: &[FeedDef],
    public_url: Option<&url::Url>,
) -> Result<Option<usize>> {
    // Each feed's recorded fingerprint stands for what it shows: the folder files change only
    // when one of those, a definition or the public URL does.
    let out = out_key(&run.args.out);
    let mut listed = Vec::new();
    for def in all {
        let shown = run.store.rendered(&out, Some(def.id()))?;
        listed.push((def.group(all), def.max_items, &def.meta, shown));
    }
    let fingerprint = hex(&digest_of(&(
        env!("CARGO_PKG_VERSION"),
        public_url.map(url::Url::as_str),
        listed,
    )));
    let folder_files = [render::opml::FILE_NAME, render::html::INDEX];
    if run.store.rendered(&out, None)?.as_deref() == Some(fingerprint.as_str())
        && folder_files.iter().all(|f| run.args.out.join(f).is_file())
    {
        log::info!("feeds.opml, index.html: no feed changed; files kept");
        return Ok(None);
    }
    // Per feed its count, last change and newest few items: one feed's archive at a time.
    let mut feeds = Vec::new();
    for def in all {
        let mut items = run.store.archive(def.id(), def.max_items)?;
        if !items.is_empty() {
            let (count, updated) = (items.len(), render::feed_updated(&items));
            items.truncate(render::Listed::LATEST);
            feeds.push((def, def.group(all), count, updated, items));
        }
    }
    let listed: Vec<render::Listed<'_>> = feeds
        .iter()
        .map(|(def, group, count, updated, items)| render::Listed {
            meta: &def.meta,
            group,
            count: *count,
            updated: *updated,
            latest: items,
        })
        .collect();
    if listed.is_empty() {
        // Nothing published yet (a first run whose feeds all failed): no empty list either.
        return Ok(Some(0));
    }
    let mut written = 0;
    let opml = render::opml::render(&listed);
    let path = run.args.out.join(render::opml::FILE_NAME);
    written += usize::from(write::publish(&path, opml.as_bytes())?);
    let index = render::html::index(&listed, public_url)?;
    let path = run.args.out.join(render::html::INDEX);
    written += usize::from(write::publish(&path, index.as_bytes())?);
    run.store.set_rendered(&out, None, &fingerprint)?;
    Ok(Some(written))
}

/// WebSub: pings each hub once per feed document this run rewrote, after everything is
/// written. Failures are warnings; a run that changed nothing sends nothing.
pub(super) fn announce(
    defs: &[FeedDef],
    summaries: &[FeedSummary],
    rt: Option<&tokio::runtime::Runtime>,
) {
    let mut pings = Vec::new();
    for s in summaries.iter().filter(|s| s.ok) {
        let Some(def) = defs.iter().find(|d| d.id().as_str() == s.feed) else {
            continue;
        };
        let Some(base) = &def.meta.public_base else {
            continue;
        };
        for name in &s.changed {
            let Ok(topic) = base.join(name) else { continue };
            pings.extend(def.meta.hubs.iter().map(|hub| crate::websub::Ping {
                hub: hub.clone(),
                topic: topic.clone(),
                feed: def.id().clone(),
            }));
        }
    }
    if pings.is_empty() {
        return;
    }
    let client = match crate::websub::client() {
        Ok(c) => c,
        Err(e) => {
            log::warn!("websub: no pings sent: {e}");
            return;
        }
    };
    let own;
    let rt = match rt {
        Some(rt) => rt,
        None => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(r) => {
                own = r;
                &own
            }
            Err(e) => {
                log::warn!("websub: no pings sent: {e}");
                return;
            }
        },
    };
    let failed = rt.block_on(crate::websub::publish(&client, &pings));
    for f in &failed {
        log::warn!(
            "{}: websub hub {} was not told {} changed: {}",
            f.ping.feed,
            f.ping.hub,
            f.ping.topic,
            f.reason
        );
    }
    log::info!(
        "websub: {} of {} pings accepted",
        pings.len() - failed.len(),
        pings.len()
    );
}

/// Whether a feed's files are already in the output folder.
pub(super) fn has_files(out: &Path, id: &FeedId) -> bool {
    Format::ALL
        .iter()
        .any(|f| out.join(f.file_name(id.as_str())).exists())
}
