//! `noticefeed fetch`: the collection of `build` with nothing stored or written but the pages
//! themselves, saved under `<out-dir>/<host>/` as the site laid them out, so that a host that
//! cannot reach the site can `build --mirror ORIGIN=file:///<out-dir>/<host>/` from a copy and
//! publish the same bytes as a direct build.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result};
use chrono::Utc;
use url::Url;

use crate::cli::{FetchArgs, Global};
use crate::collect::http::{self, PageSink, Sidecar};
use crate::collect::walk::{NoMemory, RunOptions, Walker};
use crate::config::{self, FeedDef, Source};
use crate::model::FeedId;
use crate::run::{cause_lines, http_client, runtime, spinner, Cause, FeedSummary, Loss, Outcome};
use crate::text;
use crate::write;

/// Where `fetch` saves what it fetched: `<root>/<host>/<path as on the site>`, each file
/// replaced atomically, so the folder can be copied (rsync) while a fetch runs.
#[derive(Debug)]
struct FolderSink {
    root: PathBuf,
    saved: Mutex<Saved>,
}

#[derive(Debug, Default)]
struct Saved {
    /// Folder name → the origin it holds: the `--mirror` a build elsewhere needs.
    hosts: BTreeMap<String, String>,
    files: usize,
    bytes: u64,
    errors: Vec<String>,
}

impl FolderSink {
    /// `www.chinania.org.cn`, or `host_8080` for a port that is not the scheme's default.
    fn folder(url: &Url) -> Option<String> {
        let host = url.host_str()?;
        Some(match url.port() {
            Some(p) => format!("{host}_{p}"),
            None => host.to_owned(),
        })
    }

    fn save(&self, url: &Url, kind: Option<Sidecar>, bytes: &[u8]) {
        let written = Self::folder(url)
            .context("the URL has no host")
            .and_then(|folder| {
                let rel = http::relative_path(url).map_err(|e| anyhow::anyhow!(e))?;
                let mut path = self.root.join(&folder).join(rel);
                if let Some(kind) = kind {
                    path = http::sidecar(&path, kind);
                }
                write::publish(&path, bytes)?;
                Ok(folder)
            });
        let mut saved = self.saved.lock().unwrap_or_else(|p| p.into_inner());
        match written {
            Ok(folder) => {
                saved.files += 1;
                saved.bytes += bytes.len() as u64;
                saved
                    .hosts
                    .entry(folder)
                    .or_insert_with(|| url.origin().ascii_serialization());
            }
            Err(e) => saved.errors.push(format!("saving {url}: {e:#}")),
        }
    }
}

impl PageSink for FolderSink {
    fn page(&self, url: &Url, body: &[u8], content_type: Option<&str>) {
        self.save(url, None, body);
        // Only a charset in the header changes how the page is read; the file's extension
        // gives the rest, as a static server would.
        if let Some(ct) = content_type.filter(|c| c.to_ascii_lowercase().contains("charset")) {
            self.save(url, Some(Sidecar::ContentType), ct.as_bytes());
        }
    }

    fn length(&self, url: &Url, length: u64) {
        self.save(url, Some(Sidecar::Length), length.to_string().as_bytes());
    }
}

/// `fetch`: the collection of `build` with nothing stored or written but the pages themselves.
/// Every detail page is requested (no store says which are known), so the folder serves a first
/// build as well as a rerun.
pub fn run(global: &Global, args: &FetchArgs) -> Result<Outcome> {
    let all = config::load_dir(&global.feeds)?;
    let selected = config::select(all.clone(), &args.ids, &global.feeds)?;
    let mut needed: HashSet<FeedId> = selected.iter().map(|d| d.id().clone()).collect();
    for d in &selected {
        if let Source::Merge { feeds } = &d.source {
            needed.extend(feeds.iter().cloned());
        }
    }
    let sources: Vec<&FeedDef> = all
        .iter()
        .filter(|d| needed.contains(d.id()) && matches!(d.source, Source::Scrape(_)))
        .collect();
    if sources.is_empty() {
        anyhow::bail!(
            "nothing to fetch: no scraped feed among the definitions in {}",
            global.feeds.display()
        );
    }
    let root = std::path::absolute(&args.out_dir)
        .with_context(|| format!("output folder {}", args.out_dir.display()))?;
    let sink = Arc::new(FolderSink {
        root: root.clone(),
        saved: Mutex::new(Saved::default()),
    });
    let client = http_client(
        global,
        &sources,
        None,
        Some(args.deadline),
        Some(sink.clone()),
    )?;
    let walker = Walker::new(client);
    let rt = runtime()?;
    let progress = spinner(global);
    let opts = RunOptions {
        max_pages: args.backfill,
        refresh: true,
        now: Utc::now(),
    };
    let mut summaries = Vec::new();
    for (n, def) in sources.iter().enumerate() {
        let Source::Scrape(src) = &def.source else {
            continue;
        };
        let msg = format!("{} ({} of {})", def.id(), n + 1, sources.len());
        log::info!("fetching {msg}: {}", src.url);
        progress.set_message(format!("fetching {msg}"));
        let mut summary = FeedSummary {
            feed: def.id().to_string(),
            ..Default::default()
        };
        match rt.block_on(walker.collect(src, &NoMemory, opts)) {
            Ok(scraped) => {
                for w in &scraped.warnings {
                    log::warn!("{}: {w}", def.id());
                }
                summary.ok = true;
                summary.items = scraped.notices.len();
                summary.warnings = scraped.warnings.len();
            }
            Err(e) => {
                let e = anyhow::Error::from(e);
                summary.cause = Cause::of(&e);
                summary.error = Some(format!("{e:#}"));
            }
        }
        summaries.push(summary);
    }
    progress.finish_and_clear();
    let down = walker.client().down_hosts();
    let deadline_passed = walker.client().deadline_passed();
    let mut outcome = Outcome {
        hosts_down: down.len(),
        deadline_reached: deadline_passed,
        ..Outcome::default()
    };
    for s in &mut summaries {
        s.cause = s.cause.take().and_then(|c| c.confirm(&down));
        if s.ok {
            if !global.quiet {
                eprintln!(
                    "{}: {} notices read{}",
                    s.feed,
                    s.items,
                    if s.warnings > 0 {
                        format!(", {} warnings", s.warnings)
                    } else {
                        String::new()
                    }
                );
            }
            continue;
        }
        outcome.feeds_failed += 1;
        let error = s.error.as_deref().unwrap_or_default();
        if s.cause.is_some() {
            log::info!("{}: {error}", s.feed);
        } else {
            eprintln!(
                "error: {}",
                text::printable(&format!("{}: FAILED: {error}", s.feed))
            );
        }
    }
    for line in cause_lines(
        &summaries,
        &down,
        deadline_passed.then_some(args.deadline),
        Loss::NotFetched,
    ) {
        eprintln!("error: {line}");
    }
    let saved = sink.saved.lock().unwrap_or_else(|p| p.into_inner());
    for e in &saved.errors {
        eprintln!("error: {e}");
    }
    outcome.notices_failed += saved.errors.len();
    if !global.quiet {
        let mirrors: Vec<String> = saved
            .hosts
            .iter()
            .filter_map(|(folder, origin)| {
                let base = Url::from_directory_path(root.join(folder)).ok()?;
                Some(format!("--mirror {origin}={base}"))
            })
            .collect();
        eprintln!(
            "saved {} files ({} KiB) under {}; build from them with: noticefeed {} build",
            saved.files,
            saved.bytes.div_ceil(1024),
            root.display(),
            mirrors.join(" ")
        );
    }
    Ok(outcome)
}
