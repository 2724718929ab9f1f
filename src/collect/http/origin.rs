//! Fetch only the site: which origins a run may request, and a DNS resolver that keeps a public
//! site's names off loopback, private, link-local and unspecified addresses.
//!
//! A compromised site chooses every link, redirect and "next page" we see. Without a fence, a
//! `302 → http://127.0.0.1:8080/admin` or a pagination link to `http://localhost/…` makes the
//! publishing host fetch its own internal pages and publish them (server-side request forgery).
//! The fence has two parts:
//!
//! - [`OriginPolicy`] (a value of `model`, built by `config`): the site's host and the aliases its preset declares, over http or https
//!   on the default ports (or exactly the base's own scheme and port when it names one), plus
//!   the origins a definition lists explicitly. The client checks every request and every
//!   redirect hop against it, in the site's own URL space (so `--mirror` targets, the operator's
//!   choice, are never in question).
//! - [`GuardedResolver`]: when a host is a public name, an answer that is only non-public
//!   addresses is refused, as lychee's `--exclude-private` does, so even the site's own name
//!   cannot be pointed at the publishing host's network. Names that are not public
//!   (`localhost`, single labels, `.local`, `.internal`, …) and the hosts of `--mirror` bases are
//!   resolved as they are: they can only come from the operator's own configuration.

use std::collections::HashSet;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether a host name is one the public DNS could answer for. IP literals never reach the
/// resolver; `localhost`, single labels and the reserved private suffixes can only name the
/// operator's own machines.
pub fn is_public_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    if h.parse::<IpAddr>().is_ok() || !h.contains('.') {
        return false;
    }
    const PRIVATE_SUFFIXES: &[&str] = &[
        ".localhost",
        ".local",
        ".internal",
        ".lan",
        ".home.arpa",
        ".intranet",
        ".corp",
        ".private",
    ];
    !PRIVATE_SUFFIXES.iter().any(|s| h.ends_with(s))
}

/// Whether an address is reachable on the public internet: not loopback, private, link-local,
/// unspecified, shared (CGNAT), multicast or broadcast, in IPv4 or IPv6 (IPv4-mapped included).
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80) // link-local fe80::/10
}

/// Why a name was not resolved.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves only to non-public addresses ({addrs}); refused, a public site's name must not lead into the local network")]
pub struct PrivateAddress {
    pub host: String,
    pub addrs: String,
}

type LookupFuture = Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>>;

/// The name lookup under the guard; the system's resolver outside tests.
pub type Lookup = Arc<dyn Fn(String) -> LookupFuture + Send + Sync>;

/// reqwest's DNS resolver for a run: the system's answers, with non-public addresses removed
/// for public names (and the name refused when nothing is left).
pub struct GuardedResolver {
    /// Names resolved as they are: the hosts of `--mirror` bases.
    trusted: HashSet<String>,
    lookup: Lookup,
}

impl GuardedResolver {
    pub fn new(trusted: impl IntoIterator<Item = String>) -> Self {
        Self::with_lookup(
            trusted,
            Arc::new(|host: String| {
                Box::pin(async move {
                    tokio::net::lookup_host((host.as_str(), 0))
                        .await
                        .map(|a| a.collect())
                }) as LookupFuture
            }),
        )
    }

    pub fn with_lookup(trusted: impl IntoIterator<Item = String>, lookup: Lookup) -> Self {
        Self {
            trusted: trusted
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            lookup,
        }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let guarded = is_public_name(&host) && !self.trusted.contains(&host);
        let lookup = (self.lookup)(host.clone());
        Box::pin(async move {
            let addrs = lookup.await?;
            if !guarded {
                return Ok(Box::new(addrs.into_iter()) as Addrs);
            }
            let public: Vec<SocketAddr> = addrs
                .iter()
                .copied()
                .filter(|a| is_public_ip(a.ip()))
                .collect();
            if public.is_empty() && !addrs.is_empty() {
                let addrs = addrs
                    .iter()
                    .map(|a| a.ip().to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Box::new(PrivateAddress { host, addrs }) as _);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_names_and_addresses() {
        for name in ["www.chinania.org.cn", "example.org", "a.b.c"] {
            assert!(is_public_name(name), "{name}");
        }
        for name in [
            "localhost",
            "intranet",
            "x.localhost",
            "printer.local",
            "db.internal",
            "nas.home.arpa",
            "127.0.0.1",
            "::1",
        ] {
            assert!(!is_public_name(name), "{name}");
        }
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public_ip(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "203.119.0.1", "2606:4700::1111"] {
            assert!(is_public_ip(ip.parse().unwrap()), "{ip}");
        }
    }

    fn fake_lookup(addrs: &'static [&'static str]) -> Lookup {
        Arc::new(move |_host: String| {
            let out: Vec<SocketAddr> = addrs
                .iter()
                .map(|a| SocketAddr::new(a.parse().unwrap(), 0))
                .collect();
            Box::pin(async move { Ok(out) }) as LookupFuture
        })
    }

    async fn resolve(r: &GuardedResolver, host: &str) -> Result<Vec<SocketAddr>, String> {
        r.resolve(host.parse().unwrap())
            .await
            .map(|a| a.collect())
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn a_public_name_never_resolves_into_the_local_network() {
        let r = GuardedResolver::with_lookup(
            ["mirror.example.org".to_owned()],
            fake_lookup(&["127.0.0.1", "10.0.0.8"]),
        );
        let e = resolve(&r, "www.chinania.org.cn").await.unwrap_err();
        assert!(
            e.contains("www.chinania.org.cn") && e.contains("127.0.0.1"),
            "{e}"
        );
        // The operator's own names: a mirror base and names that cannot be public.
        assert_eq!(resolve(&r, "mirror.example.org").await.unwrap().len(), 2);
        assert_eq!(resolve(&r, "localhost").await.unwrap().len(), 2);
        // Mixed answers keep only the public addresses.
        let r = GuardedResolver::with_lookup([], fake_lookup(&["192.168.0.2", "1.2.3.4"]));
        let got = resolve(&r, "example.org").await.unwrap();
        assert_eq!(got, vec![SocketAddr::new("1.2.3.4".parse().unwrap(), 0)]);
    }

    #[tokio::test]
    async fn reqwest_asks_the_guard_and_a_public_name_is_refused_end_to_end() {
        use crate::collect::http::test_server::{Reply, Server};
        let server = Server::start(|_, _| Reply::ok("INTERNAL")).await;
        let port = server.url("/").port().unwrap();
        // A public name whose DNS answer (as a compromised zone could give) is 127.0.0.1.
        let client = |trusted: Vec<String>| {
            reqwest::Client::builder()
                .dns_resolver(Arc::new(GuardedResolver::with_lookup(
                    trusted,
                    fake_lookup(&["127.0.0.1"]),
                )))
                .build()
                .unwrap()
        };
        let url = format!("http://www.public-site.example:{port}/admin");
        let e = client(vec![]).get(&url).send().await.unwrap_err();
        let mut chain = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            chain.push_str(&format!(": {s}"));
            source = s.source();
        }
        assert!(
            chain.contains(
                "www.public-site.example resolves only to non-public addresses (127.0.0.1)"
            ),
            "{chain}"
        );
        assert!(server.requests().is_empty());
        // A --mirror base host is the operator's choice: resolved as it is.
        let ok = client(vec!["www.public-site.example".into()])
            .get(&url)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.text().await.unwrap(), "INTERNAL");
        assert_eq!(server.requests().len(), 1);
    }

    /// Redirect targets and links a hostile site might give, around a site on `site` and an
    /// internal host on `inner` (ports of 127.0.0.1).
    fn hostile_location(
        site: u16,
        inner: u16,
    ) -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let fixed = prop::sample::select(vec![
            format!("http://127.0.0.1:{inner}/admin"),
            format!("http://localhost:{inner}/admin"),
            format!("//127.0.0.1:{inner}/x"),
            format!("http://[::1]:{inner}/x"),
            format!("http://127.0.0.1:{inner}@127.0.0.1:{site}/userinfo"),
            format!("http://127.0.0.1:{site}@127.0.0.1:{inner}/userinfo"),
            format!("https://127.0.0.1:{site}/tls"),
            format!("http://0.0.0.0:{inner}/"),
            format!("http://2130706433:{inner}/decimal"),
            format!("http://127.1:{inner}/short"),
            format!("http://127.0.0.1:{site}/ok"),
            "/ok".to_owned(),
            "ok2".to_owned(),
            "javascript:alert(1)".to_owned(),
            "file:///etc/passwd".to_owned(),
            "".to_owned(),
        ]);
        let junk = "[ -~]{0,40}";
        prop_oneof![4 => fixed, 1 => junk.prop_map(|s| s)]
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 64, ..Default::default() })]

        /// See: issue 9, case 3. Whatever a site redirects to (one hop or two), and whatever
        /// URL is asked for, nothing reaches a host off the site's origins.
        #[test]
        fn no_request_ever_leaves_the_sites_origin(
            seed in proptest::prelude::any::<u16>(),
            first in proptest::prelude::any::<proptest::sample::Index>(),
            second in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            use crate::collect::http::test_server::{Reply, Server};
            use crate::collect::http::{Client, HttpOptions, Request};
            use proptest::strategy::{Strategy, ValueTree};
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let inner = Server::start(|_, _| Reply::ok("INTERNAL")).await;
                let inner_port = inner.url("/").port().unwrap();
                let targets: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
                let t = targets.clone();
                let site = Server::start(move |req, _| {
                    let list = t.lock().unwrap();
                    match req.path.as_str() {
                        "/start" => Reply::status(302).header("Location", &list[0]),
                        "/ok" | "/ok2" => Reply::status(302).header("Location", &list[1]),
                        _ => Reply::ok("fine"),
                    }
                })
                .await;
                let site_port = site.url("/").port().unwrap();
                // Two targets drawn from the hostile set, deterministically from the inputs.
                let mut runner = proptest::test_runner::TestRunner::deterministic();
                let all: Vec<String> = (0..(seed % 7 + 2))
                    .map(|_| hostile_location(site_port, inner_port).new_tree(&mut runner).unwrap().current())
                    .collect();
                *targets.lock().unwrap() = vec![first.get(&all).clone(), second.get(&all).clone()];
                let mut policy = crate::model::origin::OriginPolicy::new();
                policy.allow(&site.url("/"));
                let client = Client::new(HttpOptions {
                    min_gap: std::time::Duration::ZERO,
                    timeout: std::time::Duration::from_millis(500),
                    max_attempts: 1,
                    obey_robots: false,
                    allowed_origins: Some(policy),
                    ..HttpOptions::default()
                })
                .unwrap();
                let _ = client.fetch(&Request::new(site.url("/start"))).await;
                for raw in &all {
                    if let Ok(u) = site.url("/").join(raw) {
                        let _ = client.fetch(&Request::new(u.clone())).await;
                        let _ = client.content_length(&u).await;
                    }
                }
                let hits = inner.requests();
                assert!(hits.is_empty(), "internal host reached: {:?} via {:?}", hits.iter().map(|h| &h.path).collect::<Vec<_>>(), targets.lock().unwrap());
            });
        }
    }
}
