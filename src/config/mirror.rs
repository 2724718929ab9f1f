//! `--mirror ORIGIN=BASE` as the operator wrote it, checked when the command line is parsed:
//! ORIGIN a site (scheme, host and port), BASE where its pages are fetched from instead (an
//! http(s) URL with a host, or a local folder). The HTTP layer's `Mirror` is built from it
//! where the client is set up.

use std::str::FromStr;

use url::Url;

/// A checked `ORIGIN=BASE` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorSpec {
    /// Scheme, host and port only; path `/`.
    pub origin: Url,
    /// An http(s) URL with a host or a `file://` folder; always ends in `/`.
    pub base: Url,
}

impl FromStr for MirrorSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (o, b) = s
            .split_once('=')
            .ok_or_else(|| format!("mirror `{s}` is not of the form ORIGIN=BASE"))?;
        let (o, b) = (o.trim(), b.trim());
        let origin = Url::parse(o).map_err(|e| format!("mirror origin `{o}`: {e}"))?;
        if !is_http(&origin) || origin.host().is_none() {
            return Err(format!(
                "mirror origin `{o}` is not an http(s) URL with a host"
            ));
        }
        if origin.path() != "/" || origin.query().is_some() || origin.fragment().is_some() {
            return Err(format!(
                "mirror origin `{o}` must be scheme, host and port only, without a path"
            ));
        }
        // A bare absolute path is the natural way to name a local folder.
        let mut base = if b.starts_with('/') {
            Url::from_directory_path(b)
                .map_err(|()| format!("mirror base `{b}` is not a folder"))?
        } else {
            Url::parse(b).map_err(|e| format!("mirror base `{b}`: {e}"))?
        };
        match base.scheme() {
            "http" | "https" if base.host().is_some() => {}
            "file" if base.to_file_path().is_ok() => {}
            _ => {
                return Err(format!(
                    "mirror base `{b}` is neither an http(s) URL with a host nor a file:// folder"
                ))
            }
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(format!(
                "mirror base `{b}` must not have a query or fragment"
            ));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(Self { origin, base })
    }
}

fn is_http(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalizes() {
        let m: MirrorSpec = "https://www.chinania.org.cn=http://127.0.0.1:8080"
            .parse()
            .unwrap();
        assert_eq!(m.origin.as_str(), "https://www.chinania.org.cn/");
        assert_eq!(m.base.as_str(), "http://127.0.0.1:8080/");
        let m: MirrorSpec = "https://x.org=http://127.0.0.1:8080/sub".parse().unwrap();
        assert_eq!(m.base.as_str(), "http://127.0.0.1:8080/sub/");
        let m: MirrorSpec = "https://x.org=/tmp/site".parse().unwrap();
        assert_eq!(m.base.as_str(), "file:///tmp/site/");
        let m: MirrorSpec = "https://x.org=file:///tmp/site/".parse().unwrap();
        assert_eq!(m.base.scheme(), "file");
    }

    #[test]
    fn errors_name_the_bad_value() {
        for (bad, needle) in [
            ("https://x.org", "https://x.org"),
            ("nonsense=http://127.0.0.1:1", "nonsense"),
            (
                "https://x.org/path=http://127.0.0.1:1",
                "https://x.org/path",
            ),
            ("ftp://x.org=http://127.0.0.1:1", "ftp://x.org"),
            ("https://x.org=mailto:a@b", "mailto:a@b"),
            (
                "https://x.org=http://127.0.0.1:1/?q=1",
                "http://127.0.0.1:1/?q",
            ),
        ] {
            let err = bad.parse::<MirrorSpec>().unwrap_err();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }
}
