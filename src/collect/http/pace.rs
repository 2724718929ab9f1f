//! Pacing: how many requests may be in flight, per host and overall, and how far apart requests
//! to one host start. Small association servers are the reason: two connections and a second
//! between requests is the most we ask of them, and a 429 or a `Crawl-delay` slows us further.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Held for the whole exchange (headers and body); dropping it frees the slots.
pub(super) struct Permit {
    _host: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

pub(super) struct Pacer {
    global: Arc<Semaphore>,
    per_host: usize,
    min_gap: Duration,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
}

struct Host {
    slots: Arc<Semaphore>,
    /// A tokio mutex, held across the wait: requests to one host queue here in order, and the
    /// start time is taken after the wait, so the gap holds on the real clock.
    state: tokio::sync::Mutex<HostState>,
}

struct HostState {
    last_start: Option<Instant>,
    gap: Duration,
    /// Set by a `Retry-After`: nobody talks to the host before then.
    not_before: Option<Instant>,
}

impl Pacer {
    pub(super) fn new(global: usize, per_host: usize, min_gap: Duration) -> Self {
        Self {
            // Zero would wait for ever; one is the least that makes progress.
            global: Arc::new(Semaphore::new(global.max(1))),
            per_host: per_host.max(1),
            min_gap,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    fn host(&self, key: &str) -> Arc<Host> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts
            .entry(key.to_owned())
            .or_insert_with(|| {
                Arc::new(Host {
                    slots: Arc::new(Semaphore::new(self.per_host)),
                    state: tokio::sync::Mutex::new(HostState {
                        last_start: None,
                        gap: self.min_gap,
                        not_before: None,
                    }),
                })
            })
            .clone()
    }

    /// Waits until a request to `key` (scheme://host:port) may start, and returns the slots it
    /// holds. The host slot is taken before the global one so a slow host only queues its own
    /// requests behind it, not everyone's.
    pub(super) async fn start(&self, key: &str) -> Permit {
        let host = self.host(key);
        let host_permit = host
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("host semaphore is never closed");
        let global_permit = self
            .global
            .clone()
            .acquire_owned()
            .await
            .expect("global semaphore is never closed");
        let mut st = host.state.lock().await;
        let mut at = Instant::now();
        if let Some(last) = st.last_start {
            at = at.max(last + st.gap);
        }
        if let Some(nb) = st.not_before {
            at = at.max(nb);
        }
        tokio::time::sleep_until(at).await;
        st.last_start = Some(Instant::now());
        Permit {
            _host: host_permit,
            _global: global_permit,
        }
    }

    /// A robots.txt `Crawl-delay` longer than our own gap replaces it for that host.
    pub(super) async fn widen_gap(&self, key: &str, gap: Duration) {
        let host = self.host(key);
        let mut st = host.state.lock().await;
        st.gap = st.gap.max(gap);
    }

    /// The host asked us (Retry-After) to stay away for `wait`.
    pub(super) async fn defer(&self, key: &str, wait: Duration) {
        let host = self.host(key);
        let mut st = host.state.lock().await;
        let until = Instant::now() + wait;
        st.not_before = Some(st.not_before.map_or(until, |nb| nb.max(until)));
    }
}
