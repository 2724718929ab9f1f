//! The one HTTP client of a run and the runtime its fetches run on.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};

use crate::cli::Global;
use crate::collect::http::{self, Client, HttpOptions, Mirror, RobotsCache};
use crate::config::{FeedDef, ScrapeSource, Source};
use crate::model::origin::OriginPolicy;

/// The client every scraped feed of the run shares: requests only to the run's sites, the
/// politest site's gap, the flags' mirrors and timeout.
pub fn http_client(
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
        mirrors: global
            .mirror
            .iter()
            .map(|m| Mirror::new(m.origin.clone(), m.base.clone()))
            .collect(),
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

/// The async runtime the collectors' fetches run on (two workers: the machines this runs on
/// are small, and the client paces requests anyway).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}
