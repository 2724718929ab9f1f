//! Which origins a feed may request: the site's host and its declared aliases, the channel's
//! own list URL, and the origins a definition names. A value, defined below `config` (which
//! builds it from a definition) and `collect::http` (which checks every request and redirect
//! hop against it).

use url::Url;

/// The origins a site (or a whole run) may be requested at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginPolicy {
    /// Scheme, host and port of each allowed origin.
    origins: Vec<Url>,
}

impl OriginPolicy {
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows `url`'s origin (its path is ignored). Not an http(s) URL with a host: ignored.
    pub fn allow(&mut self, url: &Url) {
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return;
        }
        let mut o = url.clone();
        o.set_path("/");
        o.set_query(None);
        o.set_fragment(None);
        if !self.origins.contains(&o) {
            self.origins.push(o);
        }
    }

    /// Allows `host` (a bare name, such as a preset's alias) on the scheme and port of `like`.
    pub fn allow_host(&mut self, host: &str, like: &Url) {
        let mut o = like.clone();
        if o.set_host(Some(host)).is_ok() {
            self.allow(&o);
        }
    }

    /// Everything `other` allows, too.
    pub fn extend(&mut self, other: &OriginPolicy) {
        for o in &other.origins {
            self.allow(o);
        }
    }

    /// Whether `url` may be requested: http or https, an allowed host, and either the allowed
    /// origin's own scheme and port, or both on their scheme's default port (http and https of
    /// one host are one site, as canonical links treat them).
    pub fn allows(&self, url: &Url) -> bool {
        matches!(url.scheme(), "http" | "https")
            && self.origins.iter().any(|o| {
                url.host_str() == o.host_str()
                    && ((url.scheme() == o.scheme() && url.port() == o.port())
                        || (url.port().is_none() && o.port().is_none()))
            })
    }

    /// For messages: the allowed origins, comma-separated.
    pub fn describe(&self) -> String {
        self.origins
            .iter()
            .map(|o| o.origin().ascii_serialization())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn the_site_host_and_aliases_on_default_ports_only() {
        let mut p = OriginPolicy::new();
        let base = u("https://www.chinania.org.cn/");
        p.allow(&base);
        p.allow_host("chinania.org.cn", &base);
        for ok in [
            "https://www.chinania.org.cn/html/x.html",
            "http://www.chinania.org.cn/html/x.html",
            "https://chinania.org.cn/x",
            "http://chinania.org.cn:80/x",
        ] {
            assert!(p.allows(&u(ok)), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:18091/admin",
            "http://localhost:18091/list/2.html",
            "https://www.chinania.org.cn:8443/x",
            "http://www.chinania.org.cn:8080/x",
            "https://evil.example/x",
            "ftp://www.chinania.org.cn/x",
            "file:///etc/passwd",
        ] {
            assert!(!p.allows(&u(bad)), "{bad}");
        }
    }

    #[test]
    fn a_base_with_a_port_allows_exactly_that_port() {
        // See: issue 9, case 3: the on-site check compared host names only, so
        // `http://127.0.0.1:18091/secret` was fetched for a site on 127.0.0.1:18090.
        let mut p = OriginPolicy::new();
        p.allow(&u("http://127.0.0.1:18090/"));
        assert!(p.allows(&u("http://127.0.0.1:18090/detail/1.html")));
        assert!(!p.allows(&u("http://127.0.0.1:18091/secret")));
        assert!(!p.allows(&u("http://127.0.0.1/x")));
        assert!(!p.allows(&u("https://127.0.0.1:18090/x")));
        assert!(!p.allows(&u("http://localhost:18090/x")));
        let mut extra = OriginPolicy::new();
        extra.allow(&u("https://files.example.org/any/path"));
        p.extend(&extra);
        assert!(p.allows(&u("https://files.example.org/a.pdf")));
        assert_eq!(
            p.describe(),
            "http://127.0.0.1:18090, https://files.example.org"
        );
    }
}
