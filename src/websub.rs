//! WebSub publishing (W3C Recommendation, §5): after a run changed a feed's file, tell each hub
//! `hub.mode=publish`, `hub.url=<the file's public URL>` (form-encoded POST), so subscribers get
//! the change pushed instead of polling for it.
//!
//! A ping is a courtesy, never part of publishing: the files are written before any ping goes
//! out, every ping runs at once with a short timeout and no retry, and a hub that fails, refuses
//! or is down costs a warning naming the hub and the feed, never the run's exit code.
//!
//! Not through `collect::http`: that client is for reading a site politely (robots.txt, pacing,
//! its origin policy); a hub is a service the operator named in the project file and asked us to
//! notify.

use std::time::Duration;

use futures_util::stream::{self, StreamExt as _};
use url::Url;

use crate::model::FeedId;

/// Per request, connect included: a slow hub delays the end of the run by at most this much.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Pings in flight at once.
const CONCURRENCY: usize = 16;

/// One notification: `topic` (a feed file's public URL) changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    pub hub: Url,
    pub topic: Url,
    pub feed: FeedId,
}

/// A ping the hub did not accept, with why.
#[derive(Debug, Clone)]
pub struct Failed {
    pub ping: Ping,
    pub reason: String,
}

/// The client pings go out with: the project's User-Agent, [`TIMEOUT`], no redirects (a hub
/// answers the POST itself).
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!(
            "noticefeed/",
            env!("CARGO_PKG_VERSION"),
            " (WebSub publisher)"
        ))
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// Sends every ping concurrently; returns the ones that failed. A hub accepts with any 2xx.
pub async fn publish(client: &reqwest::Client, pings: &[Ping]) -> Vec<Failed> {
    stream::iter(pings)
        .map(|ping| async move {
            let form = [("hub.mode", "publish"), ("hub.url", ping.topic.as_str())];
            let reason = match client.post(ping.hub.clone()).form(&form).send().await {
                Ok(res) if res.status().is_success() => return None,
                Ok(res) => format!("answered {}", res.status()),
                Err(e) if e.is_timeout() => format!("no answer within {} s", TIMEOUT.as_secs()),
                Err(e) => error_chain(&e),
            };
            Some(Failed {
                ping: ping.clone(),
                reason,
            })
        })
        .buffer_unordered(CONCURRENCY)
        .filter_map(|f| async move { f })
        .collect()
        .await
}

/// reqwest's own message is only "error sending request"; the cause (refused, DNS) is below.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}
