//! `--mirror ORIGIN=BASE`: fetch a site's URLs from somewhere else while every URL the rest of
//! the tool sees stays the site's own, so links and GUIDs built from a mirror equal those built
//! from the live site.

use std::path::PathBuf;

use percent_encoding::percent_decode_str;
use url::Url;

/// `ORIGIN=BASE`: requests for URLs under ORIGIN (scheme+host+port) are sent to BASE
/// (`http://127.0.0.1:PORT` or a `file://` folder laid out like the site); the URLs the caller
/// sees (`Page::url`) stay in ORIGIN's space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// Scheme, host and port only; path `/`.
    pub origin: Url,
    /// Always ends in `/`, so the site's paths are appended below it.
    pub base: Url,
}

impl Mirror {
    /// Requests for `origin` (scheme, host and port) go to `base` (an http(s) URL with a host or
    /// a `file://` folder; the `--mirror` flag's parser checks both). `base` gets its final `/`
    /// so the site's paths land below it.
    pub fn new(origin: Url, mut base: Url) -> Self {
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Self { origin, base }
    }

    /// Whether `url` is on this mirror's origin. `http` and `https` on their default ports count
    /// as one site, as the tool's canonical links do, so an `http://` link on an `https://` site
    /// is not fetched from the live network by accident.
    pub fn covers(&self, url: &Url) -> bool {
        let o = &self.origin;
        is_http(url)
            && url.host_str() == o.host_str()
            && ((url.scheme() == o.scheme() && url.port() == o.port())
                || (url.port().is_none() && o.port().is_none()))
    }

    pub(super) fn is_file(&self) -> bool {
        self.base.scheme() == "file"
    }

    /// The URL to request for `url` (an http(s) base).
    pub(super) fn to_base(&self, url: &Url) -> Url {
        let mut out = self.base.clone();
        let path = format!("{}{}", self.base.path().trim_end_matches('/'), url.path());
        out.set_path(&path);
        out.set_query(url.query());
        out
    }

    /// `actual` mapped back into the origin's space, when it lies under the base.
    pub(super) fn site_url(&self, actual: &Url) -> Option<Url> {
        let b = &self.base;
        if actual.scheme() != b.scheme()
            || actual.host_str() != b.host_str()
            || actual.port_or_known_default() != b.port_or_known_default()
        {
            return None;
        }
        // The base path ends in '/'; keep that slash as the start of the site path.
        let prefix = b.path().trim_end_matches('/');
        let rest = actual.path().strip_prefix(prefix)?;
        if !rest.starts_with('/') {
            return None;
        }
        let mut out = self.origin.clone();
        out.set_path(rest);
        out.set_query(actual.query());
        Some(out)
    }

    /// The file under a `file://` base that stands for `url`: percent-decoded path, `index.html`
    /// for a folder, query ignored (as on the static site). Refuses anything that could step out
    /// of the folder.
    pub(super) fn file_path(&self, url: &Url) -> Result<PathBuf, String> {
        let path = self
            .base
            .to_file_path()
            .map_err(|()| format!("{} is not a local folder", self.base))?;
        Ok(path.join(relative_path(url)?))
    }
}

/// Where `url`'s page lies in a folder laid out like its site: percent-decoded path,
/// `index.html` for a folder, query ignored. Refuses anything that could step out of the
/// folder. `fetch` writes by it and a `file://` mirror reads by it.
pub fn relative_path(url: &Url) -> Result<PathBuf, String> {
    let mut path = PathBuf::new();
    for segment in url.path().split('/') {
        let decoded = percent_decode_str(segment)
            .decode_utf8()
            .map_err(|_| format!("path segment `{segment}` is not UTF-8"))?;
        if decoded == ".." || decoded == "." || decoded.contains(['/', '\\', '\0']) {
            return Err(format!(
                "path segment `{segment}` would leave the mirror folder"
            ));
        }
        if !decoded.is_empty() {
            path.push(decoded.as_ref());
        }
    }
    if url.path().ends_with('/') {
        path.push("index.html");
    }
    Ok(path)
}

/// A file's companion holding one fact a folder cannot: `x.pdf.noticefeed-length` (the size of
/// an attachment that was not downloaded) or `x.html.noticefeed-type` (a Content-Type whose
/// charset the page itself does not declare).
pub fn sidecar(path: &std::path::Path, kind: Sidecar) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(match kind {
        Sidecar::Length => ".noticefeed-length",
        Sidecar::ContentType => ".noticefeed-type",
    });
    path.with_file_name(name)
}

/// See [`sidecar`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sidecar {
    Length,
    ContentType,
}

fn is_http(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    /// `ORIGIN=BASE` of two absolute URLs, as the flag's parser hands them over.
    fn m(s: &str) -> Mirror {
        let (o, b) = s.split_once('=').unwrap();
        Mirror::new(u(o), u(b))
    }

    #[test]
    fn maps_out_and_back_with_a_base_path() {
        let m = m("https://x.org=http://127.0.0.1:9/site/");
        let url = u("https://x.org/html/a/1.html?page=2");
        assert!(m.covers(&url));
        assert!(m.covers(&u("http://x.org/html/")));
        assert!(!m.covers(&u("https://x.org:8443/html/")));
        assert!(!m.covers(&u("https://y.org/html/")));
        let out = m.to_base(&url);
        assert_eq!(out.as_str(), "http://127.0.0.1:9/site/html/a/1.html?page=2");
        assert_eq!(m.site_url(&out), Some(url));
        assert_eq!(m.site_url(&u("http://127.0.0.1:9/other/x")), None);
        assert_eq!(m.site_url(&u("http://127.0.0.1:10/site/x")), None);
    }

    #[test]
    fn non_ascii_paths_stay_percent_encoded() {
        let m = m("https://x.org=http://127.0.0.1:9");
        let url = u("https://x.org/uploads/2026/0827/附件2：交流报告回执表.docx");
        let out = m.to_base(&url);
        assert!(out
            .as_str()
            .starts_with("http://127.0.0.1:9/uploads/2026/0827/%E9%99%84%E4%BB%B62"));
        assert_eq!(m.site_url(&out), Some(url));
    }

    #[test]
    fn relative_paths_and_sidecars() {
        let rel = relative_path(&u("https://x.org/uploads/%E9%99%84%E4%BB%B6.pdf?v=2")).unwrap();
        assert_eq!(rel, PathBuf::from("uploads/附件.pdf"));
        assert_eq!(
            relative_path(&u("https://x.org/")).unwrap(),
            PathBuf::from("index.html")
        );
        assert_eq!(
            sidecar(&rel, Sidecar::Length),
            PathBuf::from("uploads/附件.pdf.noticefeed-length")
        );
        assert_eq!(
            sidecar(Path::new("a/index.html"), Sidecar::ContentType),
            PathBuf::from("a/index.html.noticefeed-type")
        );
        assert!(relative_path(&u("https://x.org/a%2F..%2F..%2Fetc")).is_err());
    }

    #[test]
    fn file_paths_are_decoded_and_confined() {
        let m = m("https://x.org=file:///srv/site/");
        let p = m.file_path(&u("https://x.org/html/a/")).unwrap();
        assert_eq!(p, PathBuf::from("/srv/site/html/a/index.html"));
        let p = m
            .file_path(&u("https://x.org/uploads/附件.docx?x=1"))
            .unwrap();
        assert_eq!(p, PathBuf::from("/srv/site/uploads/附件.docx"));
        assert!(m
            .file_path(&u("https://x.org/a/%2E%2E%2Fetc/passwd"))
            .is_err());
        assert!(m.file_path(&u("https://x.org/a%2F..%2F..%2Fetc")).is_err());
    }
}
