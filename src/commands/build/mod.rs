//! `noticefeed build [FEED_ID...]`: lock the store → per feed: collect (local | scrape) →
//! normalize → pin GUIDs → decide what changed (`normalize::revision`) → store → archive →
//! render → write; merged feeds after their members; then the folder-wide files, WebSub pings and the run summary. One feed's failure is
//! reported, recorded in the store and counted, never allowed to stop the others, and its
//! previous files stay exactly as they were.

mod collect;
mod publish;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use chrono::{DateTime, SubsecRound, Utc};

use crate::cli::{BuildArgs, Global};
use crate::collect::http::Down;
use crate::collect::walk::Walker;
use crate::config::{self, FeedDef, Project, Source};
use crate::model::{self, FeedId, Item};
use crate::run::{
    self, confirm_causes, http_client, isolated, print_summary, Cause, FeedSummary, Outcome,
    RunReport, StoreRobots,
};
use crate::store::Store;
use crate::text;
use crate::write;

use collect::collect_feed;
use publish::{announce, has_files, record_failure, store_and_publish, write_folder_files};

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

/// Which feeds a build reads and which it writes.
struct Plan {
    project: Project,
    /// Every definition of the folder: the folder-wide files list them all.
    all: Vec<FeedDef>,
    /// The feeds to write: the ids named, else all.
    selected: Vec<FeedDef>,
    /// The feeds to collect: the selected ones and the members of selected merges (collected,
    /// not written, when not named themselves).
    sources: Vec<FeedDef>,
}

impl Plan {
    fn make(global: &Global, args: &BuildArgs) -> Result<Self> {
        let project = run::load_project(global, args.public_url.as_ref())?;
        let mut all = run::load_definitions(global)?;
        run::apply_project(&mut all, &project);
        let selected = config::select(all.clone(), &args.ids, &global.feeds)?;
        note_missing_public_url(&selected, &project);
        check_hubs(&selected, &project)?;
        let mut needed: HashSet<&FeedId> = selected.iter().map(|d| d.id()).collect();
        for d in &selected {
            if let Source::Merge { feeds } = &d.source {
                needed.extend(feeds.iter());
            }
        }
        let sources = all
            .iter()
            .filter(|d| needed.contains(d.id()) && !matches!(d.source, Source::Merge { .. }))
            .cloned()
            .collect();
        Ok(Self {
            project,
            all,
            selected,
            sources,
        })
    }

    /// Whether a selected merge reads this feed's items of the run.
    fn feeds_a_merge(&self, id: &FeedId) -> bool {
        self.merges().any(|(_, members)| members.contains(id))
    }

    fn is_selected(&self, id: &FeedId) -> bool {
        self.selected.iter().any(|d| d.id() == id)
    }

    fn merges(&self) -> impl Iterator<Item = (&FeedDef, &[FeedId])> {
        self.selected.iter().filter_map(|d| match &d.source {
            Source::Merge { feeds } => Some((d, feeds.as_slice())),
            _ => None,
        })
    }
}

/// What the collection left for the merges: the items of each member of a selected merge
/// (`None`: its source failed). Other feeds' items are dropped once published, so a run holds
/// one feed's items at a time whatever the number of feeds.
type Collected = HashMap<FeedId, Option<Vec<Item>>>;

pub fn run(global: &Global, args: &BuildArgs) -> Result<Outcome> {
    let plan = Plan::make(global, args)?;
    let (_lock, store) = run::lock_and_open(&global.state, &args.out, args.wait)?;
    let mut run = Run {
        args,
        store,
        walker: None,
        runtime: None,
        // Whole seconds: times the store hands back must render the same on every run.
        now: Utc::now().trunc_subsecs(0),
        progress: run::spinner(global),
    };
    let robots = start_http(&mut run, global, &plan)?;

    let mut summaries = Vec::new();
    let collected = collect_and_publish_sources(&mut run, &plan, &mut summaries);
    let (down, deadline_passed) = end_collection(&mut run, robots.as_deref());
    confirm_causes(&mut summaries, &down);
    publish_merges(&mut run, &plan, &collected, &mut summaries);

    let mut outcome = Outcome {
        hosts_down: down.len(),
        deadline_reached: deadline_passed,
        ..Outcome::default()
    };
    let deadline = deadline_passed.then_some(args.deadline);
    print_summary(&summaries, &down, deadline, global.quiet, &mut outcome);
    // Every feed of the folder, not only this run's: `build ID` must not drop the others.
    match write_folder_files(&run, &plan.all, plan.project.public_url.as_ref()) {
        Ok(Some(written)) => log::info!(
            "feeds.opml, index.html: {written} file{} written",
            if written == 1 { "" } else { "s" }
        ),
        Ok(None) => {}
        Err(e) => {
            eprintln!("error: {}", text::printable(&format!("{e:#}")));
            outcome.folder_failed = true;
        }
    }
    announce(&plan.selected, &summaries, run.runtime.as_ref());
    if let Some(path) = &args.report {
        outcome.report_failed = !write_report(path, &run, &outcome, &summaries, &down);
    }
    Ok(outcome)
}

/// The HTTP client, the walker and the runtime, when the run scrapes a site; the store's
/// robots.txt copies as the client's cache (returned, to be saved after the collection).
fn start_http(run: &mut Run<'_>, global: &Global, plan: &Plan) -> Result<Option<Arc<StoreRobots>>> {
    let sources: Vec<&FeedDef> = plan.sources.iter().collect();
    if !sources
        .iter()
        .any(|d| matches!(d.source, Source::Scrape(_)))
    {
        return Ok(None);
    }
    let robots = Arc::new(StoreRobots::load(&run.store)?);
    run.walker = Some(Walker::new(http_client(
        global,
        &sources,
        Some(robots.clone()),
        Some(run.args.deadline),
        None,
    )?));
    run.runtime = Some(run::runtime()?);
    Ok(Some(robots))
}

/// Collects every source feed in definition order and publishes the selected ones at once, so
/// a feed's files are written before the next feed is read.
fn collect_and_publish_sources(
    run: &mut Run<'_>,
    plan: &Plan,
    summaries: &mut Vec<FeedSummary>,
) -> Collected {
    let mut collected = Collected::new();
    let scraped_total = plan
        .sources
        .iter()
        .filter(|d| matches!(d.source, Source::Scrape(_)))
        .count();
    let mut scraped_n = 0;
    // The next local feeds, each read and normalized on a thread of its own while this one is
    // stored and written (at most READ_AHEAD + 1 feeds in memory); each reported and stored
    // in its own turn, on this thread.
    let mut ahead: VecDeque<(usize, std::thread::JoinHandle<Result<collect::Prepared>>)> =
        VecDeque::new();
    let mut considered = 0;
    for (i, def) in plan.sources.iter().enumerate() {
        let publish = plan.is_selected(def.id());
        if let Source::Scrape(src) = &def.source {
            scraped_n += 1;
            let msg = format!("{} ({scraped_n} of {scraped_total})", def.id());
            log::info!("collecting {msg}: {}", src.url);
            run.progress.set_message(format!("collecting {msg}"));
        } else {
            log::info!("{}: started ({})", def.id(), def.source.describe());
        }
        let started = std::time::Instant::now();
        let had_files = has_files(&run.args.out, def.id());
        // A merge reads a member's items of this run: a member is always read.
        let reuse = !plan.feeds_a_merge(def.id()) && !run.args.refresh;
        // Everything the feed stores is one transaction (one fsync), committed before its files
        // are written; a failed feed commits what it did store (its pins, its failure).
        let mine = matches!(ahead.front(), Some((j, _)) if *j == i);
        let read_ahead = mine.then(|| ahead.pop_front()).flatten().map(|(_, h)| {
            h.join().unwrap_or_else(|_| {
                Err(anyhow::anyhow!(
                    "internal error while collecting feed {}; please report it",
                    def.id()
                ))
            })
        });
        // The next feeds start reading now, so their reading overlaps all of this one's store
        // work (pins, items) and not only its rendering.
        considered = considered.max(i + 1);
        while considered <= i + READ_AHEAD {
            let Some(next) = plan.sources.get(considered) else {
                break;
            };
            if let Some(h) = read_ahead_of(run, plan, next) {
                ahead.push_back((considered, h));
            }
            considered += 1;
        }
        let result = match run.store.begin_feed() {
            Ok(()) => isolated(def.id(), "collecting", || match read_ahead {
                Some(prepared) => collect::collect_prepared(run, def, prepared?),
                None => collect_feed(run, def, reuse),
            }),
            Err(e) => Err(e.into()),
        };
        log::info!(
            "{}: finished in {:.2} s",
            def.id(),
            started.elapsed().as_secs_f64()
        );
        match result {
            Ok(f) => {
                if publish {
                    summaries.push(store_and_publish(run, def, &f));
                }
                if plan.feeds_a_merge(def.id()) {
                    collected.insert(def.id().clone(), Some(f.items));
                }
            }
            Err(e) => {
                let msg = format!("{e:#}");
                record_failure(run, def.id(), &msg);
                if plan.feeds_a_merge(def.id()) {
                    collected.insert(def.id().clone(), None);
                }
                if publish {
                    summaries.push(FeedSummary {
                        had_files,
                        cause: Cause::of(&e),
                        ..FeedSummary::failed(def.id(), msg)
                    });
                }
            }
        }
        if let Err(e) = run.store.commit_feed() {
            log::error!("{}: {e:#}", def.id());
        }
    }
    run.progress.finish_and_clear();
    collected
}

/// How many local feeds past the current one are read and normalized ahead, each on its own
/// thread: two keep both cores of a small machine busy, since one feed's reading and
/// normalizing costs more than storing and writing it.
const READ_AHEAD: usize = 2;

/// Starts reading `def` (a local feed that must be read whole) on another thread, when it is
/// one; `None` otherwise, and then it is collected in its turn.
fn read_ahead_of(
    run: &Run<'_>,
    plan: &Plan,
    def: &FeedDef,
) -> Option<std::thread::JoinHandle<Result<collect::Prepared>>> {
    let reuse = !plan.feeds_a_merge(def.id()) && !run.args.refresh;
    let work = collect::plan_prefetch(run, def, reuse)?;
    let id = def.id().clone();
    std::thread::Builder::new()
        .name(format!("read {id}"))
        .spawn(move || isolated(&id, "collecting", || Ok(work())))
        .ok()
}

/// Ends the collection: the hosts the client gave up on and whether the deadline passed; the
/// runtime stopped; the robots.txt copies the run fetched saved for the next run.
fn end_collection(run: &mut Run<'_>, robots: Option<&StoreRobots>) -> (Vec<Down>, bool) {
    let ended = match &run.walker {
        Some(w) => (w.client().down_hosts(), w.client().deadline_passed()),
        None => (Vec::new(), false),
    };
    // A page parse abandoned at its deadline must not hold the process at exit.
    if let Some(rt) = run.runtime.take() {
        rt.shutdown_timeout(Duration::from_secs(1));
    }
    if let Some(robots) = robots {
        // Losing a copy costs one request next run, not a feed: warn and go on.
        if let Err(e) = robots.save(&run.store) {
            log::warn!("keeping robots.txt for the next run: {e:#}");
        }
    }
    ended
}

/// Publishes each selected merge from its members' items of this run; a merge with a failed
/// member fails (for the members' shared cause, if they have one) and keeps its files.
fn publish_merges(
    run: &mut Run<'_>,
    plan: &Plan,
    collected: &Collected,
    summaries: &mut Vec<FeedSummary>,
) {
    for (def, feeds) in plan.merges() {
        let broken: Vec<String> = feeds
            .iter()
            .filter(|m| !matches!(collected.get(*m), Some(Some(_))))
            .map(|m| m.to_string())
            .collect();
        if !broken.is_empty() {
            let msg = format!("member feeds failed: {}", broken.join(", "));
            record_failure(run, def.id(), &msg);
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
                ..FeedSummary::failed(def.id(), msg)
            });
            continue;
        }
        let members: Vec<&[Item]> = feeds
            .iter()
            .filter_map(|m| collected.get(m).and_then(|f| f.as_deref()))
            .collect();
        let merged = collect::Fresh {
            items: model::merge(&members),
            ..collect::Fresh::default()
        };
        summaries.push(store_and_publish(run, def, &merged));
    }
}

/// Writes `--report`. The feeds are written by now: a report that cannot be is a failure of
/// this run (exit 1), not a run that could not start (exit 2). Returns whether it was written.
fn write_report(
    path: &std::path::Path,
    run: &Run<'_>,
    outcome: &Outcome,
    summaries: &[FeedSummary],
    down: &[Down],
) -> bool {
    let report = RunReport {
        started: run.now.to_rfc3339(),
        ok: outcome.ok(),
        feeds: summaries,
        hosts_down: down
            .iter()
            .map(|d| serde_json::json!({"host": d.host, "reason": d.reason}))
            .collect(),
        deadline_reached: outcome.deadline_reached,
    };
    let written = serde_json::to_string_pretty(&report)
        .context("encoding the run report")
        .and_then(|json| {
            write::publish(path, format!("{json}\n").as_bytes()).context("run report")
        });
    match written {
        Ok(_) => true,
        Err(e) => {
            eprintln!("error: {}", text::printable(&format!("{e:#}")));
            false
        }
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
