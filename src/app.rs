//! The stage order, per-feed error isolation and the run summary.
//!
//! `build`: lock the store → per feed: collect (local | scrape) → normalize → pin GUIDs → store
//! (upsert) → archive → render → write; merged feeds after their members. One feed's failure
//! is reported, recorded in the store and counted, never allowed to stop the others, and its
//! previous files stay exactly as they were.

use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result};
use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;

use crate::cli::{BuildArgs, Cli, Command, Global, ServeArgs};
use crate::collect::http::{
    self, CachedRobots, Client, Down, HttpOptions, OriginPolicy, RobotsCache,
};
use crate::collect::local;
use crate::collect::site::{CachedList, Memory, RunOptions, Walker};
use crate::config::{self, FeedDef, Project, ScrapeSource, Source};
use crate::model::{FeedId, GuidKey, Item, RawNotice};
use crate::normalize::{self, Context};
use crate::render::{self, Format};
use crate::store::{self, CachedPage, Identity, RunLock, Store, StoredRobots, UpsertReport};
use crate::write;

/// What a run did, for the exit code: 0 when nothing failed, 1 when something did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub feeds_failed: usize,
    pub notices_failed: usize,
    /// `--report` could not be written; the feeds were (exit 1, not 2).
    pub report_failed: bool,
    /// Hosts given up on during the run: even when every feed was written (from list entries),
    /// something it should have read was not.
    pub hosts_down: usize,
    pub deadline_reached: bool,
    /// `feeds.opml` or `index.html` could not be written; the feeds were (exit 1).
    pub folder_failed: bool,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.feeds_failed == 0
            && self.notices_failed == 0
            && !self.report_failed
            && self.hosts_down == 0
            && !self.deadline_reached
            && !self.folder_failed
    }
}

/// Runs one feed's work so that a panic in it (a bug, reached by some input) fails that feed
/// with a message naming it, and the run goes on with the others: exit 1, never 101.
fn isolated<T>(feed: &FeedId, stage: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            Err(anyhow::anyhow!(
                "internal error while {stage} feed {feed} (panic: {}); please report it",
                normalize::clean_text(&what)
            ))
        }
    }
}

/// Runs a parsed command line. `Err` means the run could not start (exit 2).
pub fn run(cli: &Cli) -> Result<Outcome> {
    match &cli.command {
        Command::Build(args) => build(&cli.global, args),
        Command::Check(args) => crate::commands::check::run(&cli.global, args),
        Command::List => list(&cli.global),
        Command::Init(args) => crate::commands::init::run(args),
        Command::Completions(args) => crate::commands::shell::completions(args),
        Command::Man => crate::commands::shell::man(),
        Command::Serve(args) => serve(&cli.global, args),
        Command::Fetch(args) => crate::commands::fetch::run(&cli.global, args),
    }
}

/// One feed's line in the summary and in `--report`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct FeedSummary {
    pub feed: String,
    pub ok: bool,
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Items in the published files.
    pub items: usize,
    pub files_written: usize,
    pub notices_failed: usize,
    pub warnings: usize,
    pub error: Option<String>,
    /// The feed's files existed before the run (a failed feed keeps them; a first run has
    /// none to keep).
    #[serde(skip)]
    pub(crate) had_files: bool,
    /// A cause shared with other feeds, reported once for all of them.
    #[serde(skip)]
    pub(crate) cause: Option<Cause>,
    /// The feed documents (RSS, Atom, JSON Feed) this run rewrote: the WebSub topics to ping.
    #[serde(skip)]
    pub(crate) changed: Vec<String>,
}

/// Why many feeds failed at once: one summary line instead of one per feed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Cause {
    /// The host (site name) is down for the run.
    Host(String),
    Deadline,
}

impl Cause {
    /// The shared cause behind a failure, if there may be one. A timeout is the host's only
    /// if the host ends up down: see [`Cause::confirm`].
    pub(crate) fn of(e: &anyhow::Error) -> Option<Self> {
        let h = e.chain().find_map(|c| c.downcast_ref::<http::Error>())?;
        match h {
            http::Error::Deadline { .. } => Some(Cause::Deadline),
            http::Error::Unreachable { down, .. } => Some(Cause::Host(down.host.clone())),
            http::Error::Timeout { url, .. } => url.host_str().map(|h| Cause::Host(h.to_owned())),
            _ => None,
        }
    }

    /// Keeps a host cause only for a host the run gave up on.
    pub(crate) fn confirm(self, down: &[Down]) -> Option<Self> {
        match &self {
            Cause::Host(h) if !down.iter().any(|d| d.host == *h) => None,
            _ => Some(self),
        }
    }
}

impl FeedSummary {
    fn line(&self) -> String {
        match &self.error {
            Some(e) => format!(
                "{}: FAILED, {}: {e}",
                self.feed,
                if self.had_files {
                    "previous files kept"
                } else {
                    "not written yet"
                }
            ),
            None => format!(
                "{}: {} new, {} updated, {} unchanged; {} items, {} file{} written{}{}",
                self.feed,
                self.new,
                self.updated,
                self.unchanged,
                self.items,
                self.files_written,
                if self.files_written == 1 { "" } else { "s" },
                if self.notices_failed > 0 {
                    format!(", {} notices failed", self.notices_failed)
                } else {
                    String::new()
                },
                if self.warnings > 0 {
                    format!(", {} warnings", self.warnings)
                } else {
                    String::new()
                }
            ),
        }
    }
}

/// The `--report` document.
#[derive(Debug, Serialize)]
struct RunReport<'a> {
    started: String,
    ok: bool,
    feeds: &'a [FeedSummary],
    /// Hosts given up on: `{"host": …, "reason": …}`.
    hosts_down: Vec<serde_json::Value>,
    deadline_reached: bool,
}

/// `12 feeds kept their previous files, 6 not written yet`.
fn kept_phrase(feeds: &[&FeedSummary]) -> String {
    let kept = feeds.iter().filter(|f| f.had_files).count();
    let new = feeds.len() - kept;
    let mut parts = Vec::new();
    if kept > 0 {
        parts.push(if kept == 1 {
            "1 feed kept its previous files".to_owned()
        } else {
            format!("{kept} feeds kept their previous files")
        });
    }
    if new > 0 {
        parts.push(match (new, kept) {
            (1, 0) => "1 feed not written yet".to_owned(),
            (n, 0) => format!("{n} feeds not written yet"),
            (n, _) => format!("{n} not written yet"),
        });
    }
    parts.join(", ")
}

/// `1 feed`, `2 feeds`.
fn feeds(n: usize) -> String {
    if n == 1 {
        "1 feed".to_owned()
    } else {
        format!("{n} feeds")
    }
}

/// What the shared-cause lines say the feeds lost: their files stay (`build`), or they were
/// not saved (`fetch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loss {
    FilesKept,
    NotFetched,
}

impl Loss {
    fn phrase(self, feeds_hit: &[&FeedSummary]) -> String {
        match self {
            Loss::FilesKept => kept_phrase(feeds_hit),
            Loss::NotFetched => format!("{} not fetched", feeds(feeds_hit.len())),
        }
    }
}

/// The lines for causes many feeds share: each host given up on, the deadline.
pub(crate) fn cause_lines(
    summaries: &[FeedSummary],
    down: &[Down],
    deadline: Option<Duration>,
    loss: Loss,
) -> Vec<String> {
    let mut lines = Vec::new();
    for d in down {
        let cause = Cause::Host(d.host.clone());
        let feeds: Vec<&FeedSummary> = summaries
            .iter()
            .filter(|s| s.cause.as_ref() == Some(&cause))
            .collect();
        lines.push(if feeds.is_empty() {
            format!(
                "{} unreachable ({}); nothing more was requested from it",
                d.host, d.reason
            )
        } else {
            format!(
                "{} unreachable ({}): {}",
                d.host,
                d.reason,
                loss.phrase(&feeds)
            )
        });
    }
    if let Some(limit) = deadline {
        let feeds_hit: Vec<&FeedSummary> = summaries
            .iter()
            .filter(|s| s.cause == Some(Cause::Deadline))
            .collect();
        let limit = humantime::format_duration(limit);
        lines.push(match (feeds_hit.is_empty(), loss) {
            (true, _) => format!(
                "deadline of {limit} reached: collection ended early; what was collected is kept"
            ),
            (false, Loss::FilesKept) => format!(
                "deadline of {limit} reached: {} not collected; {}",
                feeds(feeds_hit.len()),
                kept_phrase(&feeds_hit)
            ),
            (false, Loss::NotFetched) => {
                format!("deadline of {limit} reached: {}", loss.phrase(&feeds_hit))
            }
        });
    }
    lines
}

/// Items a feed produced this run, before the store.
#[derive(Debug, Default)]
struct Fresh {
    items: Vec<Item>,
    notices_failed: usize,
    warnings: usize,
}

/// Everything a build shares across feeds.
struct Run<'a> {
    args: &'a BuildArgs,
    store: Store,
    walker: Option<Walker>,
    runtime: Option<tokio::runtime::Runtime>,
    now: DateTime<Utc>,
    /// A spinner on a terminal, hidden otherwise.
    progress: indicatif::ProgressBar,
}

/// The store's robots.txt copies as the HTTP layer's cache. The `!Sync` connection cannot go
/// into the async fetches, so the copies are loaded before the run and the ones the run fetched
/// or revalidated are written back after it.
#[derive(Debug, Default)]
struct StoreRobots {
    /// By robots.txt URL: the copy, and whether this run changed it.
    entries: Mutex<HashMap<String, (CachedRobots, bool)>>,
}

impl StoreRobots {
    fn load(store: &Store) -> Result<Self> {
        let entries = store
            .robots()?
            .into_iter()
            .map(|r| {
                let entry = CachedRobots {
                    status: r.status,
                    body: r.body,
                    etag: r.etag,
                    last_modified: r.last_modified,
                    fetched_at: r.fetched_at.into(),
                };
                (r.url, (entry, false))
            })
            .collect();
        Ok(Self {
            entries: Mutex::new(entries),
        })
    }

    /// Writes back the copies this run fetched or confirmed.
    fn save(&self, store: &Store) -> Result<()> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        for (url, (entry, _)) in entries.iter().filter(|(_, (_, changed))| *changed) {
            store.put_robots(&StoredRobots {
                url: url.clone(),
                status: entry.status,
                body: entry.body.clone(),
                etag: entry.etag.clone(),
                last_modified: entry.last_modified.clone(),
                fetched_at: entry.fetched_at.into(),
            })?;
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

pub(crate) fn http_client(
    global: &Global,
    defs: &[&FeedDef],
    robots: Option<Arc<dyn RobotsCache>>,
    deadline: Option<Duration>,
    sink: Option<Arc<dyn http::PageSink>>,
) -> Result<Client> {
    let sources: Vec<&ScrapeSource> = defs
        .iter()
        .filter_map(|d| match &d.source {
            Source::Scrape(s) => Some(s),
            _ => None,
        })
        .collect();
    let sites: Vec<_> = sources.iter().map(|s| &s.site).collect();
    // Requests go only to the sites of this run: their origins and their channels' list URLs.
    let mut allowed = OriginPolicy::new();
    for s in &sources {
        allowed.extend(&s.origin_policy());
    }
    let defaults = HttpOptions::default();
    let mut opts = HttpOptions {
        mirrors: global.mirror.clone(),
        robots_cache: robots,
        allowed_origins: Some(allowed),
        timeout: global.timeout,
        // A connect is quicker than a whole answer: never let it take longer.
        connect_timeout: defaults.connect_timeout.min(global.timeout),
        deadline,
        sink,
        ..defaults
    };
    // One client serves every site of the run: the politest site's gap applies to all.
    if let Some(ms) = global
        .delay_ms
        .or_else(|| sites.iter().filter_map(|s| s.delay_ms).max())
    {
        opts.min_gap = Duration::from_millis(ms);
    }
    if let Some(ua) = sites.iter().find_map(|s| s.user_agent.clone()) {
        opts.user_agent = ua;
    }
    Client::new(opts).context("setting up the HTTP client")
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// The project settings for this run: the project file (`--config`, else beside `--feeds`) with
/// the `--public-url` flag applied over it.
pub fn load_project(global: &Global, public_url: Option<&url::Url>) -> Result<Project> {
    let path = Project::locate(global.config.as_deref(), &global.feeds);
    Ok(Project::load(&path, global.config.is_some())?.with_public_url(public_url))
}

/// Gives every definition without its own `public_url` the project's, and the project's WebSub
/// hubs.
pub fn apply_project(defs: &mut [FeedDef], project: &Project) {
    for def in defs.iter_mut() {
        if def.meta.public_base.is_none() {
            def.meta.public_base = project.public_url.clone();
        }
        def.meta.hubs = project.hubs.clone();
    }
}

/// Says once (at `-v`) how to set a public URL when a feed of this run has none: such feeds
/// carry no self link at all, since a relative one breaks strict parsers (feed-rs 3 refuses the
/// whole document for it).
fn note_missing_public_url(defs: &[FeedDef], project: &Project) {
    let without = defs.iter().filter(|d| d.meta.public_base.is_none()).count();
    if without > 0 {
        log::info!(
            "no public URL for {without} feed{}: their files carry no self link; set \
             `public_url = \"https://host/path/\"` in {} or pass --public-url",
            if without == 1 { "" } else { "s" },
            project.path.display()
        );
    }
}

/// A hub fetches what it is told changed, so every feed announcing one needs a public URL.
fn check_hubs(defs: &[FeedDef], project: &Project) -> Result<()> {
    if project.hubs.is_empty() {
        return Ok(());
    }
    let without: Vec<&str> = defs
        .iter()
        .filter(|d| d.meta.public_base.is_none())
        .map(|d| d.id().as_str())
        .collect();
    if !without.is_empty() {
        anyhow::bail!(
            "{}: `hub` is set but there is no public URL for {}: a hub must be able to fetch \
             the feeds; set `public_url` there or pass --public-url",
            project.path.display(),
            without.join(", ")
        );
    }
    Ok(())
}

/// WebSub: pings each hub once per feed document this run rewrote, after everything is
/// written. Failures are warnings; a run that changed nothing sends nothing.
fn announce(defs: &[FeedDef], summaries: &[FeedSummary], rt: Option<&tokio::runtime::Runtime>) {
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

fn build(global: &Global, args: &BuildArgs) -> Result<Outcome> {
    let project = load_project(global, args.public_url.as_ref())?;
    let mut all = load_definitions(global)?;
    apply_project(&mut all, &project);
    let selected = config::select(all.clone(), &args.ids, &global.feeds)?;
    note_missing_public_url(&selected, &project);
    check_hubs(&selected, &project)?;
    let selected_ids: HashSet<&FeedId> = selected.iter().map(|d| d.id()).collect();
    // Members of a selected merge are collected (not written) even when not named.
    let mut needed: HashSet<FeedId> = selected_ids.iter().map(|i| (*i).clone()).collect();
    for d in &selected {
        if let Source::Merge { feeds } = &d.source {
            needed.extend(feeds.iter().cloned());
        }
    }
    let sources: Vec<&FeedDef> = all
        .iter()
        .filter(|d| needed.contains(d.id()) && !matches!(d.source, Source::Merge { .. }))
        .collect();

    let _lock = RunLock::acquire(&global.state, args.wait)?;
    let swept = write::sweep_temporaries(&args.out);
    if swept > 0 {
        log::info!("removed {swept} temporary files left by an interrupted run");
    }
    let store = Store::open(&global.state)?;
    let scraping = sources
        .iter()
        .any(|d| matches!(d.source, Source::Scrape(_)));
    let mut run = Run {
        args,
        store,
        walker: None,
        runtime: None,
        // Whole seconds: times the store hands back must render the same on every run.
        now: Utc::now().trunc_subsecs(0),
        progress: spinner(global),
    };
    let mut robots_cache = None;
    if scraping {
        let robots = Arc::new(StoreRobots::load(&run.store)?);
        run.walker = Some(Walker::new(http_client(
            global,
            &sources,
            Some(robots.clone()),
            Some(args.deadline),
            None,
        )?));
        robots_cache = Some(robots);
        run.runtime = Some(runtime()?);
    }

    let mut summaries = Vec::new();
    let mut fresh: HashMap<FeedId, Option<Vec<Item>>> = HashMap::new();
    let scraped_total = sources
        .iter()
        .filter(|d| matches!(d.source, Source::Scrape(_)))
        .count();
    let mut scraped_n = 0;
    for def in &sources {
        let publish = selected_ids.contains(def.id());
        if let Source::Scrape(src) = &def.source {
            scraped_n += 1;
            let msg = format!("{} ({scraped_n} of {scraped_total})", def.id());
            log::info!("collecting {msg}: {}", src.url);
            run.progress.set_message(format!("collecting {msg}"));
        }
        let started = std::time::Instant::now();
        if !matches!(def.source, Source::Scrape(_)) {
            log::info!("{}: started ({})", def.id(), def.source.describe());
        }
        let had_files = has_files(&run.args.out, def.id());
        let result = isolated(def.id(), "collecting", || collect_feed(&mut run, def));
        log::info!(
            "{}: finished in {:.2} s",
            def.id(),
            started.elapsed().as_secs_f64()
        );
        match result {
            Ok(f) => {
                let summary = if publish {
                    publish_isolated(&mut run, def, f.items.clone(), f.notices_failed, f.warnings)
                } else {
                    FeedSummary {
                        feed: def.id().to_string(),
                        ok: true,
                        ..Default::default()
                    }
                };
                fresh.insert(def.id().clone(), Some(f.items));
                if publish {
                    summaries.push(summary);
                }
            }
            Err(e) => {
                let msg = format!("{e:#}");
                if let Err(re) = run.store.record_failure(def.id(), run.now, &msg) {
                    log::error!("{}: {re:#}", def.id());
                }
                fresh.insert(def.id().clone(), None);
                let cause = Cause::of(&e);
                if publish {
                    summaries.push(FeedSummary {
                        had_files,
                        cause,
                        ..failed(def.id(), msg)
                    });
                }
            }
        }
    }
    run.progress.finish_and_clear();
    let (down, deadline_passed) = match &run.walker {
        Some(w) => (w.client().down_hosts(), w.client().deadline_passed()),
        None => (Vec::new(), false),
    };
    for s in &mut summaries {
        s.cause = s.cause.take().and_then(|c| c.confirm(&down));
        if let (Some(_), Some(e)) = (&s.cause, &s.error) {
            // Reported once for every feed it hit; each feed's own error at -v.
            log::info!("{}: {e}", s.feed);
        }
    }
    // A page parse abandoned at its deadline must not hold the process at exit.
    if let Some(rt) = run.runtime.take() {
        rt.shutdown_timeout(Duration::from_secs(1));
    }
    if let Some(robots) = &robots_cache {
        // Losing a copy costs one request next run, not a feed: warn and go on.
        if let Err(e) = robots.save(&run.store) {
            log::warn!("keeping robots.txt for the next run: {e:#}");
        }
    }
    for def in selected
        .iter()
        .filter(|d| matches!(d.source, Source::Merge { .. }))
    {
        let Source::Merge { feeds } = &def.source else {
            continue;
        };
        let broken: Vec<String> = feeds
            .iter()
            .filter(|m| !matches!(fresh.get(*m), Some(Some(_))))
            .map(|m| m.to_string())
            .collect();
        if !broken.is_empty() {
            let msg = format!("member feeds failed: {}", broken.join(", "));
            if let Err(re) = run.store.record_failure(def.id(), run.now, &msg) {
                log::error!("{}: {re:#}", def.id());
            }
            // Members that failed for one shared cause make the merge fail for it too.
            let causes: HashSet<Option<Cause>> = summaries
                .iter()
                .filter(|s| broken.contains(&s.feed))
                .map(|s| s.cause.clone())
                .collect();
            let cause = match causes.into_iter().collect::<Vec<_>>().as_slice() {
                [Some(c)] => Some(c.clone()),
                _ => None,
            };
            if cause.is_some() {
                log::info!("{}: {msg}", def.id());
            }
            summaries.push(FeedSummary {
                had_files: has_files(&run.args.out, def.id()),
                cause,
                ..failed(def.id(), msg)
            });
            continue;
        }
        let members: Vec<&[Item]> = feeds
            .iter()
            .filter_map(|m| fresh.get(m).and_then(|f| f.as_deref()))
            .collect();
        let merged = merge(&members);
        let summary = publish_isolated(&mut run, def, merged, 0, 0);
        summaries.push(summary);
    }

    let mut outcome = Outcome {
        hosts_down: down.len(),
        deadline_reached: deadline_passed,
        ..Outcome::default()
    };
    for s in &summaries {
        outcome.notices_failed += s.notices_failed;
        let line = s.line();
        let line = normalize::printable(&line);
        if s.ok {
            if !global.quiet {
                eprintln!("{line}");
            }
        } else {
            outcome.feeds_failed += 1;
            if s.cause.is_none() {
                eprintln!("error: {line}");
            }
        }
    }
    for line in cause_lines(
        &summaries,
        &down,
        deadline_passed.then_some(args.deadline),
        Loss::FilesKept,
    ) {
        eprintln!("error: {line}");
    }
    // Every feed of the folder, not only this run's: `build ID` must not drop the others.
    match publish_folder(&run, &all, project.public_url.as_ref()) {
        Ok(written) => log::info!(
            "feeds.opml, index.html: {written} file{} written",
            if written == 1 { "" } else { "s" }
        ),
        Err(e) => {
            eprintln!("error: {}", normalize::printable(&format!("{e:#}")));
            outcome.folder_failed = true;
        }
    }
    announce(&selected, &summaries, run.runtime.as_ref());
    if let Some(path) = &args.report {
        let report = RunReport {
            started: run.now.to_rfc3339(),
            ok: outcome.ok(),
            feeds: &summaries,
            hosts_down: down
                .iter()
                .map(|d| serde_json::json!({"host": d.host, "reason": d.reason}))
                .collect(),
            deadline_reached: deadline_passed,
        };
        // The feeds are written by now: a report that cannot be is a failure of this run
        // (exit 1), not a run that could not start (exit 2).
        let written = serde_json::to_string_pretty(&report)
            .context("encoding the run report")
            .and_then(|json| {
                write::publish(path, format!("{json}\n").as_bytes()).context("run report")
            });
        if let Err(e) = written {
            eprintln!("error: {}", normalize::printable(&format!("{e:#}")));
            outcome.report_failed = true;
        }
    }
    Ok(outcome)
}

/// [`publish_feed`] under [`isolated`]: a panic while storing, rendering or writing fails the
/// feed, and its previous files stay.
fn publish_isolated(
    run: &mut Run<'_>,
    def: &FeedDef,
    items: Vec<Item>,
    notices_failed: usize,
    warnings: usize,
) -> FeedSummary {
    let now = run.now;
    let had_files = has_files(&run.args.out, def.id());
    let done = isolated(def.id(), "publishing", || {
        Ok(publish_feed(run, def, items, notices_failed, warnings))
    });
    done.unwrap_or_else(|e| {
        let msg = format!("{e:#}");
        if let Err(re) = run.store.record_failure(def.id(), now, &msg) {
            log::error!("{}: {re:#}", def.id());
        }
        FeedSummary {
            had_files,
            ..failed(def.id(), msg)
        }
    })
}

/// Whether a feed's files are already in the output folder.
fn has_files(out: &Path, id: &FeedId) -> bool {
    Format::ALL
        .iter()
        .any(|f| out.join(f.file_name(id.as_str())).exists())
}

/// `serve`, and with `--every` the scheduled builds: a build that fails or cannot start (the
/// lock is held by a cron run, a definition was broken meanwhile) is logged and the next one
/// tried on schedule; the files already served stay as they were.
fn serve(global: &Global, args: &ServeArgs) -> Result<Outcome> {
    let every = args.every.map(Duration::from);
    if every.is_some_and(|e| e.is_zero()) {
        anyhow::bail!("--every must be longer than zero");
    }
    // Broken settings or definitions stop the start, not a later run.
    let project = load_project(global, args.public_url.as_ref())?;
    if every.is_some() {
        config::load_dir(&global.feeds)?;
    }
    let bound = crate::serve::Bound::bind(&crate::serve::Options {
        bind: args.bind,
        out: args.out.clone(),
        max_age: args
            .max_age
            .map(Duration::from)
            .or(project.cache_max_age)
            .unwrap_or(Duration::from_secs(300)),
    })?;
    let here = format!("http://{}/", bound.addr());
    if !global.quiet {
        eprintln!("serving {} at {here}", bound.root().display());
    }
    // The builds' public URL: the flag's or the file's, else where this server answers (an
    // unspecified address such as 0.0.0.0 answers nowhere in particular: no self links then).
    let public_url = match &project.public_url {
        Some(u) => Some(u.clone()),
        None if bound.addr().ip().is_unspecified() => {
            if every.is_some() {
                log::warn!(
                    "bound to {}: set `public_url` in {} or pass --public-url so the feeds \
                     carry absolute self links",
                    bound.addr(),
                    project.path.display()
                );
            }
            None
        }
        None => Some(url::Url::parse(&here).context("the bound address as a URL")?),
    };
    let schedule = every.map(|every| {
        let global = global.clone();
        let build_args = BuildArgs {
            out: args.out.clone(),
            public_url,
            // `build`'s default.
            deadline: Duration::from_secs(600),
            backfill: None,
            refresh: false,
            report: None,
            wait: false,
            ids: Vec::new(),
        };
        crate::serve::Schedule {
            every,
            run: Box::new(move || match build(&global, &build_args) {
                Ok(o) if o.ok() => log::info!("build finished"),
                Ok(o) => log::warn!(
                    "build finished: {} feeds and {} notices failed",
                    o.feeds_failed,
                    o.notices_failed
                ),
                Err(e) => match e.downcast_ref::<store::LockError>() {
                    Some(store::LockError::Busy { path }) => log::warn!(
                        "scheduled build skipped: another noticefeed run holds {}; the next \
                         one is due in {}",
                        path.display(),
                        humantime::format_duration(every)
                    ),
                    _ => log::error!("build: {e:#}"),
                },
            }),
        }
    });
    bound.run(schedule)?;
    Ok(Outcome::default())
}

fn failed(id: &FeedId, error: String) -> FeedSummary {
    FeedSummary {
        feed: id.to_string(),
        ok: false,
        error: Some(error),
        ..Default::default()
    }
}

/// Collects and normalizes one non-merge feed. `Err` is a source failure: nothing of the feed
/// is stored or written.
fn collect_feed(run: &mut Run<'_>, def: &FeedDef) -> Result<Fresh> {
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
) -> Result<Item> {
    let key = normalize::guid_key(&raw);
    let mut item = normalize::normalize(raw, cx)?;
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
        match normalize::normalize(raw, &cx) {
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

/// The store as the walker's memory of earlier runs.
struct StoreMemory<'a> {
    store: &'a Store,
    feed: &'a FeedId,
    refresh: bool,
}

impl Memory for StoreMemory<'_> {
    fn cached_list(&self, url: &str) -> Option<CachedList> {
        let page = self.store.cached_page(url).ok().flatten()?;
        Some(CachedList {
            url: page.url,
            etag: page.etag,
            last_modified: page.last_modified,
            body: page.body,
        })
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
    let scraped = rt.block_on(walker.collect(src, def.meta.timezone, &memory, opts))?;
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
        match normalize_pinned(&mut run.store, def.id(), sn.raw, &cx) {
            Ok(item) => fresh.items.push(item),
            Err(e) => {
                fresh.notices_failed += 1;
                log::error!("{}: {origin}: {e:#}", def.id());
            }
        }
    }
    for page in scraped.fresh_pages {
        run.store.put_cached_page(&CachedPage {
            content_hash: sha256_hex(&page.body),
            url: page.url,
            etag: page.etag,
            last_modified: page.last_modified,
            body: page.body,
            fetched_at: run.now,
        })?;
    }
    Ok(fresh)
}

/// A spinner naming the feed being collected, on a terminal only: cron sees none of it, and
/// at `-v` the log lines say the same.
pub(crate) fn spinner(global: &Global) -> indicatif::ProgressBar {
    if global.quiet || global.verbose > 0 || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// Each notice once, in member order, with the categories of every member that lists it.
fn merge(members: &[&[Item]]) -> Vec<Item> {
    let mut out: Vec<Item> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for items in members {
        for item in items.iter() {
            match index.get(item.guid.as_str()) {
                Some(&i) => {
                    for c in &item.categories {
                        if !out[i].categories.contains(c) {
                            out[i].categories.push(c.clone());
                        }
                    }
                }
                None => {
                    index.insert(item.guid.to_string(), out.len());
                    out.push(item.clone());
                }
            }
        }
    }
    out
}

/// Store → archive → render → write for one feed whose source succeeded.
fn publish_feed(
    run: &mut Run<'_>,
    def: &FeedDef,
    items: Vec<Item>,
    notices_failed: usize,
    warnings: usize,
) -> FeedSummary {
    let mut summary = FeedSummary {
        feed: def.id().to_string(),
        notices_failed,
        warnings,
        had_files: has_files(&run.args.out, def.id()),
        ..Default::default()
    };
    match publish_inner(run, def, &items, &mut summary) {
        Ok(report) => {
            summary.ok = true;
            if let Err(e) = run.store.record_success(def.id(), run.now, &report) {
                log::error!("{}: {e:#}", def.id());
            }
        }
        Err(e) => {
            let msg = format!("{e:#}");
            if let Err(re) = run.store.record_failure(def.id(), run.now, &msg) {
                log::error!("{}: {re:#}", def.id());
            }
            summary.error = Some(msg);
        }
    }
    summary
}

fn publish_inner(
    run: &mut Run<'_>,
    def: &FeedDef,
    items: &[Item],
    summary: &mut FeedSummary,
) -> Result<UpsertReport> {
    let (_, report) = run.store.upsert(def.id(), items, run.now)?;
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
    Ok(report)
}

/// Writes the folder-wide files from the store: every defined feed that has items (its files
/// were published by this run or an earlier one), grouped by site. Returns how many changed.
fn publish_folder(run: &Run<'_>, all: &[FeedDef], public_url: Option<&url::Url>) -> Result<usize> {
    let mut feeds = Vec::new();
    for def in all {
        let items = run.store.archive(def.id(), def.max_items)?;
        if !items.is_empty() {
            feeds.push((def, def.group(all), items));
        }
    }
    let listed: Vec<render::Listed<'_>> = feeds
        .iter()
        .map(|(def, group, items)| render::Listed {
            meta: &def.meta,
            group,
            items,
        })
        .collect();
    if listed.is_empty() {
        // Nothing published yet (a first run whose feeds all failed): no empty list either.
        return Ok(0);
    }
    let mut written = 0;
    let opml = render::opml::render(&listed);
    let path = run.args.out.join(render::opml::FILE_NAME);
    written += usize::from(write::publish(&path, opml.as_bytes())?);
    let index = render::html::index(&listed, public_url)?;
    let path = run.args.out.join(render::html::INDEX);
    written += usize::from(write::publish(&path, index.as_bytes())?);
    Ok(written)
}

fn list(global: &Global) -> Result<Outcome> {
    let defs = load_definitions(global)?;
    // `list` is how a definition change is checked before cron runs it: the project file too.
    load_project(global, None)?;
    // `list` never creates a store; it reports one if a build made it.
    let store = if global.state.exists() {
        Some(Store::open(&global.state)?)
    } else {
        None
    };
    let mut table =
        String::from("id\ttitle\tsource\toutputs\tarchived\tlast success\tlast failure\n");
    for def in &defs {
        let status = match &store {
            Some(s) => s.status(def.id())?,
            None => store::FeedStatus::default(),
        };
        let when =
            |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into());
        let failure = match (&status.last_failure, &status.last_error) {
            (Some(t), Some(e)) => format!("{} ({e})", t.to_rfc3339()),
            (t, _) => when(*t),
        };
        let outputs: Vec<String> = Format::ALL
            .iter()
            .map(|f| f.file_name(def.id().as_str()))
            .chain([render::html::page_name(def.id().as_str())])
            .collect();
        table.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            def.id(),
            def.meta.title,
            def.source.describe(),
            outputs.join(", "),
            status.archived,
            when(status.last_success),
            failure
        ));
    }
    print_table(&table)?;
    Ok(Outcome::default())
}

/// Writes a command's table to stdout at once. `noticefeed list | head` closes the pipe early:
/// that is the reader's choice, not an error, and `println!` would panic on it.
/// Every definition in `--feeds`. A missing folder is the usual first step of a new user with
/// an installed binary, so the message says how to get one.
fn load_definitions(global: &Global) -> Result<Vec<FeedDef>> {
    if !global.feeds.is_dir() {
        anyhow::bail!(
            "no feeds folder at {}: run `noticefeed init` to create a project here, or pass --feeds DIR",
            global.feeds.display()
        );
    }
    Ok(config::load_dir(&global.feeds)?)
}

pub(crate) fn print_table(table: &str) -> Result<()> {
    // What a site or a notice file wrote reaches the operator's terminal only escaped.
    let table = normalize::printable(table);
    let mut out = std::io::stdout().lock();
    match out.write_all(table.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(()),
    }
}

/// Hex SHA-256, for the HTTP cache's content hash.
fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_fails_the_feed_by_name_and_does_not_unwind_the_run() {
        // See: issue 9, case 1 (exit 101 from a panic in the RSS renderer).
        let id = FeedId::parse("notices").unwrap();
        let r: Result<()> = isolated(&id, "publishing", || {
            panic!("date \u{1b}[31m cannot be represented")
        });
        let msg = format!("{:#}", r.unwrap_err());
        assert!(msg.contains("publishing feed notices"), "{msg}");
        assert!(
            msg.contains("cannot be represented") && !msg.contains('\u{1b}'),
            "{msg}"
        );
        let ok: Result<u8> = isolated(&id, "collecting", || Ok(7));
        assert_eq!(ok.unwrap(), 7);
    }

    #[test]
    fn a_report_that_cannot_be_written_fails_the_run_not_its_start() {
        let o = Outcome {
            report_failed: true,
            ..Outcome::default()
        };
        assert!(!o.ok());
    }
}
