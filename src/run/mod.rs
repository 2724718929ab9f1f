//! The run machinery every command shares: loading the project and its definitions, the run
//! lock and the store, the HTTP client and the async runtime, per-feed panic isolation, the
//! store-backed memories the collectors read, and the summary lines and outcome a run ends
//! with. Commands (`crate::commands`) decide what to run; this module is how a run is done.

mod http;
mod isolate;
mod memory;
mod summary;

use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result};

use crate::cli::Global;
use crate::config::{self, FeedDef, Project};
use crate::store::{RunLock, Store};
use crate::text;
use crate::write;

pub use http::{http_client, runtime};
pub use isolate::isolated;
pub use memory::{StoreMemory, StoreRobots};
pub use summary::{
    cause_lines, confirm_causes, print_summary, Cause, FeedSummary, Loss, RunReport,
};

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

/// Every definition in `--feeds`. A missing folder is the usual first step of a new user with
/// an installed binary, so the message says how to get one.
pub fn load_definitions(global: &Global) -> Result<Vec<FeedDef>> {
    if !global.feeds.is_dir() {
        anyhow::bail!(
            "no feeds folder at {}: run `noticefeed init` to create a project here, or pass --feeds DIR",
            global.feeds.display()
        );
    }
    Ok(config::load_dir(&global.feeds)?)
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

/// The store of a run that writes, held for the run alone: the run lock taken (`wait`: until
/// another run on the same store ends), temporaries an interrupted run left in `out` removed,
/// the store opened. The lock is released when the returned guard is dropped.
pub fn lock_and_open(state: &Path, out: &Path, wait: bool) -> Result<(RunLock, Store)> {
    let lock = RunLock::acquire(state, wait)?;
    let swept = write::sweep_temporaries(out);
    if swept > 0 {
        log::info!("removed {swept} temporary files left by an interrupted run");
    }
    let store = Store::open(state)?;
    Ok((lock, store))
}

/// A spinner naming the feed being collected, on a terminal only: cron sees none of it, and
/// at `-v` the log lines say the same.
pub fn spinner(global: &Global) -> indicatif::ProgressBar {
    if global.quiet || global.verbose > 0 || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// Writes a command's table to stdout at once. `noticefeed list | head` closes the pipe early:
/// that is the reader's choice, not an error, and `println!` would panic on it.
pub fn print_stdout(table: &str) -> Result<()> {
    // What a site or a notice file wrote reaches the operator's terminal only escaped.
    let table = text::printable(table);
    let mut out = std::io::stdout().lock();
    match out.write_all(table.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_that_cannot_be_written_fails_the_run_not_its_start() {
        let o = Outcome {
            report_failed: true,
            ..Outcome::default()
        };
        assert!(!o.ok());
    }
}
