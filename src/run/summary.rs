//! What a run tells the operator: one line per feed, one line per cause many feeds share (a
//! host given up on, the deadline), and the `--report` document.

use std::time::Duration;

use serde::Serialize;

use crate::collect::http::{self, Down};
use crate::model::FeedId;
use crate::text;

use super::Outcome;

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
pub enum Cause {
    /// The host (site name) is down for the run.
    Host(String),
    Deadline,
}

impl Cause {
    /// The shared cause behind a failure, if there may be one. A timeout is the host's only
    /// if the host ends up down: see [`Cause::confirm`].
    pub fn of(e: &anyhow::Error) -> Option<Self> {
        let h = e.chain().find_map(|c| c.downcast_ref::<http::Error>())?;
        match h {
            http::Error::Deadline { .. } => Some(Cause::Deadline),
            http::Error::Unreachable { down, .. } => Some(Cause::Host(down.host.clone())),
            http::Error::Timeout { url, .. } => url.host_str().map(|h| Cause::Host(h.to_owned())),
            _ => None,
        }
    }

    /// Keeps a host cause only for a host the run gave up on.
    pub fn confirm(self, down: &[Down]) -> Option<Self> {
        match &self {
            Cause::Host(h) if !down.iter().any(|d| d.host == *h) => None,
            _ => Some(self),
        }
    }
}

impl FeedSummary {
    /// A failed feed's summary.
    pub fn failed(id: &FeedId, error: String) -> Self {
        Self {
            feed: id.to_string(),
            ok: false,
            error: Some(error),
            ..Default::default()
        }
    }

    /// The feed's line in the run summary.
    pub fn line(&self) -> String {
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
pub struct RunReport<'a> {
    pub started: String,
    pub ok: bool,
    pub feeds: &'a [FeedSummary],
    /// Hosts given up on: `{"host": …, "reason": …}`.
    pub hosts_down: Vec<serde_json::Value>,
    pub deadline_reached: bool,
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
pub enum Loss {
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
pub fn cause_lines(
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

/// Keeps each failure's shared cause only when it held for the run (a host the run gave up
/// on); a feed whose failure is reported by a shared line says its own error at `-v`.
pub fn confirm_causes(summaries: &mut [FeedSummary], down: &[Down]) {
    for s in summaries {
        s.cause = s.cause.take().and_then(|c| c.confirm(down));
        if let (Some(_), Some(e)) = (&s.cause, &s.error) {
            // Reported once for every feed it hit; each feed's own error at -v.
            log::info!("{}: {e}", s.feed);
        }
    }
}

/// Prints the run summary on stderr (a feed's line unless `quiet`, a failure without a shared
/// cause as an error, then the shared-cause lines) and counts the failures into `outcome`.
pub fn print_summary(
    summaries: &[FeedSummary],
    down: &[Down],
    deadline: Option<Duration>,
    quiet: bool,
    outcome: &mut Outcome,
) {
    for s in summaries {
        outcome.notices_failed += s.notices_failed;
        let line = s.line();
        let line = text::printable(&line);
        if s.ok {
            if !quiet {
                eprintln!("{line}");
            }
        } else {
            outcome.feeds_failed += 1;
            if s.cause.is_none() {
                eprintln!("error: {line}");
            }
        }
    }
    for line in cause_lines(summaries, down, deadline, Loss::FilesKept) {
        eprintln!("error: {line}");
    }
}
