//! The stage order, per-feed error isolation and the run summary. One feed's failure is
//! reported and counted, never allowed to stop the others; a failed feed's files stay as they
//! were.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::cli::{BuildArgs, Cli, Command};
use crate::collect::local;
use crate::config::{self, FeedDef, Source};
use crate::model::{order_and_limit, Item};
use crate::normalize::{self, Context};
use crate::render::{self, Format};
use crate::write;

/// What a run did, for the exit code: 0 when nothing failed, 1 when something did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub feeds_failed: usize,
    pub notices_failed: usize,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.feeds_failed == 0 && self.notices_failed == 0
    }
}

/// Runs a parsed command line. `Err` means the run could not start (exit 2).
pub fn run(cli: &Cli) -> Result<Outcome> {
    match &cli.command {
        Command::Build(args) => build(&cli.global.feeds, args, cli.global.quiet),
        Command::List => list(&cli.global.feeds),
    }
}

/// The result of building one feed.
#[derive(Debug, Default)]
struct FeedReport {
    items: usize,
    written: usize,
    notice_errors: usize,
}

fn build(feeds_dir: &Path, args: &BuildArgs, quiet: bool) -> Result<Outcome> {
    let defs = config::load_dir(feeds_dir)?;
    let defs = config::select(defs, &args.ids, feeds_dir)?;
    let mut outcome = Outcome::default();
    for def in &defs {
        match build_one(def, &args.out) {
            Ok(r) => {
                outcome.notices_failed += r.notice_errors;
                if !quiet {
                    eprintln!(
                        "{}: {} items, {} files written, {} unchanged{}",
                        def.id(),
                        r.items,
                        r.written,
                        Format::ALL.len() - r.written,
                        if r.notice_errors > 0 {
                            format!(", {} notices failed", r.notice_errors)
                        } else {
                            String::new()
                        }
                    );
                }
            }
            Err(e) => {
                outcome.feeds_failed += 1;
                log::error!("{}: failed, previous files kept: {e:#}", def.id());
            }
        }
    }
    Ok(outcome)
}

fn build_one(def: &FeedDef, out: &Path) -> Result<FeedReport> {
    let mut report = FeedReport::default();
    let items = match &def.source {
        Source::Local { dir } => {
            let collected = local::collect(dir)?;
            for p in &collected.problems {
                log::error!("{}: {p}", def.id());
            }
            report.notice_errors += collected.problems.len();
            let cx = Context {
                timezone: def.meta.timezone,
                first_seen: None,
                categories: &[],
            };
            let mut items: Vec<Item> = Vec::new();
            let mut seen = HashSet::new();
            for raw in collected.notices {
                let origin = raw.origin.clone();
                match normalize::normalize(raw, &cx) {
                    Ok(item) if !seen.insert(item.guid.clone()) => {
                        report.notice_errors += 1;
                        log::error!(
                            "{}: {origin}: same id as an earlier notice ({}), skipped",
                            def.id(),
                            item.guid
                        );
                    }
                    Ok(item) => items.push(item),
                    Err(e) => {
                        report.notice_errors += 1;
                        log::error!("{}: {e}", def.id());
                    }
                }
            }
            if items.is_empty() {
                anyhow::bail!("no notices could be read from {}", dir.display());
            }
            items
        }
        Source::Scrape(_) | Source::Merge { .. } => {
            anyhow::bail!("scraping is being wired in")
        }
    };
    let mut items = items;
    order_and_limit(&mut items, def.max_items);
    report.items = items.len();
    for format in Format::ALL {
        let doc = render::render(&def.meta, &items, format);
        let path = out.join(format.file_name(def.id().as_str()));
        if write::publish(&path, doc.as_bytes()).with_context(|| format!("feed {}", def.id()))? {
            report.written += 1;
        }
    }
    Ok(report)
}

fn list(feeds_dir: &Path) -> Result<Outcome> {
    let defs = config::load_dir(feeds_dir)?;
    for def in &defs {
        println!(
            "{}\t{}\t{}\t{}, {}",
            def.id(),
            def.meta.title,
            def.source.describe(),
            Format::Rss.file_name(def.id().as_str()),
            Format::Atom.file_name(def.id().as_str()),
        );
    }
    Ok(Outcome::default())
}
