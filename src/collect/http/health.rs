//! Which hosts still answer in this run. A name that does not resolve, a port that refuses, a
//! connect that times out, or three responses in a row that never came: the host is down for
//! the rest of the run, and every later request to it fails at once instead of costing its own
//! timeouts. A geo-blocking firewall that accepts connections and never answers would otherwise
//! cost every channel a minute or more.
//!
//! Keyed like the pacer, by the origin really connected to (a mirror's, when one is used); the
//! name reported is the site's own host, as the operator knows it.

use std::collections::HashMap;
use std::sync::Mutex;

/// Responses in a row that never came before a host counts as down.
pub(super) const TIMEOUTS_BEFORE_DOWN: u32 = 3;

/// A host given up on for the rest of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Down {
    /// The site's host name, e.g. `www.chinania.org.cn`.
    pub host: String,
    /// Why, e.g. `dns error: failed to lookup address information: Name or service not known`.
    pub reason: String,
}

#[derive(Debug, Default)]
struct HostHealth {
    contacted: bool,
    timeouts_in_a_row: u32,
    down: Option<Down>,
}

#[derive(Debug, Default)]
pub(super) struct Health {
    hosts: Mutex<HashMap<String, HostHealth>>,
}

impl Health {
    fn with<T>(&self, key: &str, f: impl FnOnce(&mut HostHealth) -> T) -> T {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        f(hosts.entry(key.to_owned()).or_default())
    }

    /// `Some` when `key` is down: the request must not be made.
    pub(super) fn check(&self, key: &str) -> Option<Down> {
        let hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts.get(key).and_then(|h| h.down.clone())
    }

    /// True the first time it is asked for `key`: the run's first request to that host.
    pub(super) fn first_contact(&self, key: &str) -> bool {
        self.with(key, |h| !std::mem::replace(&mut h.contacted, true))
    }

    /// The host answered (any status): its run of timeouts is over.
    pub(super) fn answered(&self, key: &str) {
        self.with(key, |h| h.timeouts_in_a_row = 0);
    }

    /// One response never came. `Some` when this one made the host down (or it already was).
    pub(super) fn timed_out(&self, key: &str, host: &str, reason: &str) -> Option<Down> {
        self.with(key, |h| {
            h.timeouts_in_a_row += 1;
            if h.down.is_none() && h.timeouts_in_a_row >= TIMEOUTS_BEFORE_DOWN {
                h.down = Some(Down {
                    host: host.to_owned(),
                    reason: format!("{} requests in a row got no answer: {reason}", h.timeouts_in_a_row),
                });
                log::info!("{host}: {TIMEOUTS_BEFORE_DOWN} requests in a row got no answer; no more requests to it in this run");
            }
            h.down.clone()
        })
    }

    /// No connection could be made: the host is down from now on. The first reason given
    /// stays.
    pub(super) fn unreachable(&self, key: &str, host: &str, reason: &str) -> Down {
        self.with(key, |h| {
            if h.down.is_none() {
                log::info!("{host}: unreachable ({reason}); no more requests to it in this run");
            }
            h.down
                .get_or_insert_with(|| Down {
                    host: host.to_owned(),
                    reason: reason.to_owned(),
                })
                .clone()
        })
    }

    /// Every host given up on, by site host name, once each.
    pub(super) fn down(&self) -> Vec<Down> {
        let hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<Down> = hosts.values().filter_map(|h| h.down.clone()).collect();
        out.sort_by(|a, b| a.host.cmp(&b.host));
        out.dedup_by(|a, b| a.host == b.host);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "http://127.0.0.1:9";
    const HOST: &str = "www.chinania.org.cn";

    #[test]
    fn three_timeouts_in_a_row_make_a_host_down() {
        let h = Health::default();
        assert_eq!(h.timed_out(KEY, HOST, "limit 20s"), None);
        assert_eq!(h.timed_out(KEY, HOST, "limit 20s"), None);
        let down = h.timed_out(KEY, HOST, "limit 20s").unwrap();
        assert_eq!(down.host, HOST);
        assert_eq!(down.reason, "3 requests in a row got no answer: limit 20s");
        assert_eq!(h.check(KEY), Some(down.clone()));
        assert_eq!(h.down(), [down]);
        assert_eq!(h.check("http://other:1"), None);
    }

    #[test]
    fn an_answer_breaks_the_run_of_timeouts() {
        let h = Health::default();
        h.timed_out(KEY, HOST, "t");
        h.timed_out(KEY, HOST, "t");
        h.answered(KEY);
        assert_eq!(h.timed_out(KEY, HOST, "t"), None);
        assert_eq!(h.timed_out(KEY, HOST, "t"), None);
        assert!(h.timed_out(KEY, HOST, "t").is_some());
    }

    #[test]
    fn unreachable_is_down_at_once_and_keeps_the_first_reason() {
        let h = Health::default();
        let d = h.unreachable(KEY, HOST, "dns error");
        assert_eq!(d.reason, "dns error");
        assert_eq!(
            h.unreachable(KEY, HOST, "tcp connect error").reason,
            "dns error"
        );
        // An answer later does not bring it back: the run has given up on it.
        h.answered(KEY);
        assert!(h.check(KEY).is_some());
        assert_eq!(h.down().len(), 1);
    }
}
