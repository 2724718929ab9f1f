//! Project-wide settings: one `noticefeed.toml` beside the feeds folder, for what concerns the
//! whole output folder rather than one feed (where it is served, WebSub hubs).
//!
//! Looked up at `--config PATH` when given (then it must exist), else at `noticefeed.toml` in the
//! folder that holds `--feeds` (`feeds/../noticefeed.toml`, the project root). A missing default
//! file is not an error: every setting in it is optional. Like the feed definitions, it is read
//! raw, then validated, naming the file and the field; unknown keys are errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::{field_err, parse_http_url, Error, Result};

/// The project file's name, looked up beside the feeds folder.
pub const FILE_NAME: &str = "noticefeed.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProject {
    /// Where the output folder is served, e.g. `https://feeds.example.org/cnia/`.
    #[serde(default)]
    public_url: Option<String>,
    /// WebSub hubs: `hub = "https://hub.example/"` or a list; `hubs` is the same key.
    #[serde(default, alias = "hubs")]
    hub: Option<OneOrMany>,
    /// `noticefeed serve`'s `Cache-Control: max-age`, e.g. `"5m"`.
    #[serde(default)]
    cache_max_age: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// The validated project settings. Every field is optional; flags override the file and a feed
/// definition's own setting overrides both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Project {
    /// Where the project file is (or, when there is none, would be read from), for messages.
    pub path: PathBuf,
    /// Where the output folder is served, always ending in `/`: self links, the OPML's
    /// `xmlUrl`s and the index's links are built from it.
    pub public_url: Option<Url>,
    /// WebSub hubs every feed announces and pings. They need a public URL (a hub fetches the
    /// feed from it); `app` checks that for the feeds of a run, since a flag or a feed's own
    /// `public_url` may give one.
    pub hubs: Vec<Url>,
    /// How long `serve` lets clients reuse a file (`--max-age` wins).
    pub cache_max_age: Option<Duration>,
}

impl Project {
    /// Where the project file is looked up: `explicit` (`--config`) or beside `feeds_dir`.
    pub fn locate(explicit: Option<&Path>, feeds_dir: &Path) -> PathBuf {
        match explicit {
            Some(p) => p.to_owned(),
            None => match feeds_dir.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.join(FILE_NAME),
                _ => PathBuf::from(FILE_NAME),
            },
        }
    }

    /// Reads the project file. A missing file is an empty project unless `explicit` is set
    /// (a `--config` naming a file that is not there is a typo worth stopping for).
    pub fn load(path: &Path, explicit: bool) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(Self {
                path: path.to_owned(),
                ..Self::default()
            }),
            Err(source) => Err(Error::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Parses and validates a project file's text; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let raw: RawProject = toml::from_str(text).map_err(|e| Error::Toml {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let public_url = match raw.public_url.as_deref() {
            Some(u) => {
                Some(public_base(u).map_err(|message| field_err(path, "public_url", message))?)
            }
            None => None,
        };
        let hubs = match raw.hub {
            None => Vec::new(),
            Some(OneOrMany::One(h)) => vec![h],
            Some(OneOrMany::Many(hs)) => hs,
        };
        let hubs = hubs
            .iter()
            .map(|h| parse_http_url(path, "hub", h))
            .collect::<Result<Vec<_>>>()?;
        let cache_max_age = match raw.cache_max_age.as_deref() {
            Some(d) => Some(humantime::parse_duration(d.trim()).map_err(|e| {
                field_err(
                    path,
                    "cache_max_age",
                    format!("`{d}` is not a duration such as \"5m\" or \"1h\" ({e})"),
                )
            })?),
            None => None,
        };
        Ok(Self {
            path: path.to_owned(),
            public_url,
            hubs,
            cache_max_age,
        })
    }

    /// The public URL for this run: the flag's when given, else the file's.
    pub fn with_public_url(mut self, flag: Option<&Url>) -> Self {
        if let Some(u) = flag {
            self.public_url = Some(u.clone());
        }
        self
    }
}

/// Validates a public URL (of the project, a feed or `--public-url`): absolute http(s), no query
/// or fragment, and always ending in `/` so file names join under it rather than replacing its
/// last segment.
pub fn public_base(raw: &str) -> std::result::Result<Url, String> {
    let mut url =
        Url::parse(raw.trim()).map_err(|e| format!("`{raw}` is not an absolute URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{raw}` is not an http(s) URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{raw}` has a query or fragment; give the folder the files are served from"
        ));
    }
    if !url.path().ends_with('/') {
        url.set_path(&format!("{}/", url.path()));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_default_file_is_an_empty_project() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE_NAME);
        let empty = Project::load(&p, false).unwrap();
        assert_eq!(
            (empty.path.as_path(), empty.public_url),
            (p.as_path(), None)
        );
        let e = Project::load(&p, true).unwrap_err().to_string();
        assert!(e.contains(FILE_NAME), "{e}");
    }

    #[test]
    fn public_url_gets_a_trailing_slash() {
        let p = Project::parse(
            Path::new("noticefeed.toml"),
            "public_url = \"https://feeds.example.org/cnia\"",
        )
        .unwrap();
        assert_eq!(
            p.public_url.unwrap().as_str(),
            "https://feeds.example.org/cnia/"
        );
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let path = Path::new("site/noticefeed.toml");
        let e = Project::parse(path, "public_url = \"feeds/\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("site/noticefeed.toml") && e.contains("`public_url`"),
            "{e}"
        );
        let e = Project::parse(path, "public_url = \"ftp://h/\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("http(s)"), "{e}");
        let e = Project::parse(path, "public_url = \"https://h/?a=1\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("query"), "{e}");
        let e = Project::parse(path, "publicurl = \"https://h/\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("site/noticefeed.toml") && e.contains("publicurl"),
            "{e}"
        );
    }

    #[test]
    fn hubs_one_or_many_under_either_name_and_a_max_age() {
        let path = Path::new("noticefeed.toml");
        let one = Project::parse(path, "hub = \"https://hub.example/\"").unwrap();
        assert_eq!(one.hubs.len(), 1);
        let many = Project::parse(
            path,
            "hubs = [\"https://a.example/\", \"http://127.0.0.1:9/hub\"]\ncache_max_age = \"2m\"",
        )
        .unwrap();
        assert_eq!(many.hubs.len(), 2);
        assert_eq!(many.cache_max_age, Some(Duration::from_secs(120)));
        let e = Project::parse(path, "hub = [\"mailto:x@y\"]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("noticefeed.toml") && e.contains("`hub`"), "{e}");
        let e = Project::parse(path, "cache_max_age = \"soon\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`cache_max_age`"), "{e}");
    }

    #[test]
    fn the_file_is_looked_up_beside_the_feeds_folder() {
        assert_eq!(
            Project::locate(None, Path::new("feeds")),
            PathBuf::from(FILE_NAME)
        );
        assert_eq!(
            Project::locate(None, Path::new("/srv/cnia/feeds")),
            PathBuf::from("/srv/cnia/noticefeed.toml")
        );
        assert_eq!(
            Project::locate(Some(Path::new("x.toml")), Path::new("/srv/feeds")),
            PathBuf::from("x.toml")
        );
        let flag = Url::parse("https://b/").unwrap();
        let p = Project::default().with_public_url(Some(&flag));
        assert_eq!(p.public_url, Some(flag));
    }
}
