//! Feed definitions: one TOML file per feed in the feeds folder, the file stem being the feed id.
//!
//! Parsing is split from loading (`parse` takes a string, `load_dir` reads files) and raw from
//! validated: every URL, time zone and path is checked here, naming the file and the field,
//! before any notice is read or any request is made. Unknown keys are errors, because a typo in
//! a cron job's definition should fail loudly rather than be ignored for months.

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;
use url::Url;

use crate::model::{BadFeedId, FeedId, FeedMeta};

/// Everything that can be wrong with a definition. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading feed definitions in {}", dir.display())]
    ReadDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("reading {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Toml { path: PathBuf, message: String },
    #[error("{}: field `{field}`: {message}", path.display())]
    Field {
        path: PathBuf,
        field: &'static str,
        message: String,
    },
    #[error("{}: file name is not a usable feed id", path.display())]
    Id {
        path: PathBuf,
        #[source]
        source: BadFeedId,
    },
    #[error("no feed definition `{id}` in {}", dir.display())]
    UnknownFeed { id: String, dir: PathBuf },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The default number of items a feed shows.
pub const DEFAULT_MAX_ITEMS: usize = 50;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeedDef {
    title: String,
    #[serde(default)]
    description: Option<String>,
    link: String,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    max_items: Option<usize>,
    /// Where the published files will be served from; makes the self links absolute.
    #[serde(default)]
    public_url: Option<String>,
    source: RawSource,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
enum RawSource {
    Local { path: String },
}

/// Where a feed's notices come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A folder of notice files, resolved relative to the definition file.
    Local { dir: PathBuf },
}

impl Source {
    /// One line for `list`.
    pub fn describe(&self) -> String {
        match self {
            Source::Local { dir } => format!("local {}", dir.display()),
        }
    }
}

/// A validated feed definition.
#[derive(Debug, Clone)]
pub struct FeedDef {
    /// The definition file, for messages.
    pub path: PathBuf,
    pub meta: FeedMeta,
    pub max_items: usize,
    pub source: Source,
}

impl FeedDef {
    pub fn id(&self) -> &FeedId {
        &self.meta.id
    }
}

fn field_err(path: &Path, field: &'static str, message: impl Into<String>) -> Error {
    Error::Field {
        path: path.to_owned(),
        field,
        message: message.into(),
    }
}

fn parse_http_url(path: &Path, field: &'static str, raw: &str) -> Result<Url> {
    let url = Url::parse(raw.trim())
        .map_err(|e| field_err(path, field, format!("`{raw}` is not an absolute URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(field_err(
            path,
            field,
            format!("`{raw}` is not an http(s) URL"),
        ));
    }
    Ok(url)
}

/// Parses one definition. `path` is the file it came from: the feed id is its stem and relative
/// source paths resolve against its folder.
pub fn parse(path: &Path, text: &str) -> Result<FeedDef> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let id = FeedId::parse(stem).map_err(|source| Error::Id {
        path: path.to_owned(),
        source,
    })?;
    let raw: RawFeedDef = toml::from_str(text).map_err(|e| Error::Toml {
        path: path.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })?;

    let title = raw.title.trim().to_owned();
    if title.is_empty() {
        return Err(field_err(path, "title", "must not be empty"));
    }
    let site_link = parse_http_url(path, "link", &raw.link)?;
    let public_base = match raw.public_url.as_deref() {
        Some(u) => {
            let mut url = parse_http_url(path, "public_url", u)?;
            if !url.path().ends_with('/') {
                url.set_path(&format!("{}/", url.path()));
            }
            Some(url)
        }
        None => None,
    };
    let language = raw.language.unwrap_or_else(|| "zh-CN".to_owned());
    let lang_ok = !language.is_empty()
        && language
            .split('-')
            .all(|p| !p.is_empty() && p.len() <= 8 && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if !lang_ok {
        return Err(field_err(
            path,
            "language",
            format!("`{language}` is not a language tag such as `zh-CN` or `en`"),
        ));
    }
    let tz_name = raw.timezone.unwrap_or_else(|| "Asia/Shanghai".to_owned());
    let timezone: Tz = tz_name.parse().map_err(|_| {
        field_err(
            path,
            "timezone",
            format!("`{tz_name}` is not an IANA time zone name"),
        )
    })?;
    let max_items = raw.max_items.unwrap_or(DEFAULT_MAX_ITEMS);
    if max_items == 0 {
        return Err(field_err(path, "max_items", "must be at least 1"));
    }
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let source = match raw.source {
        RawSource::Local { path: p } => {
            if p.trim().is_empty() {
                return Err(field_err(path, "source.path", "must not be empty"));
            }
            Source::Local {
                dir: base_dir.join(p.trim()),
            }
        }
    };
    let description = raw
        .description
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| title.clone());
    Ok(FeedDef {
        path: path.to_owned(),
        meta: FeedMeta {
            id,
            title,
            description,
            site_link,
            public_base,
            language,
            timezone,
        },
        max_items,
        source,
    })
}

/// Reads one definition file.
pub fn load_file(path: &Path) -> Result<FeedDef> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text)
}

/// Every `*.toml` directly in `dir`, sorted by id. Sub-folders (such as site presets) are not
/// feeds and are skipped.
pub fn load_dir(dir: &Path) -> Result<Vec<FeedDef>> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::ReadDir {
        dir: dir.to_owned(),
        source,
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::ReadDir {
            dir: dir.to_owned(),
            source,
        })?;
        let p = entry.path();
        if p.is_file() && p.extension().is_some_and(|e| e == "toml") {
            paths.push(p);
        }
    }
    paths.sort();
    paths.iter().map(|p| load_file(p)).collect()
}

/// The definitions named by `ids`, or all of them when `ids` is empty. Unknown ids are errors.
pub fn select(all: Vec<FeedDef>, ids: &[String], dir: &Path) -> Result<Vec<FeedDef>> {
    if ids.is_empty() {
        return Ok(all);
    }
    for id in ids {
        if !all.iter().any(|d| d.id().as_str() == id) {
            return Err(Error::UnknownFeed {
                id: id.clone(),
                dir: dir.to_owned(),
            });
        }
    }
    Ok(all
        .into_iter()
        .filter(|d| ids.iter().any(|i| i == d.id().as_str()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
title = "Notices"
description = "Sample notices"
link = "https://www.chinania.org.cn/"
language = "en"
timezone = "Asia/Shanghai"
max_items = 20
[source]
kind = "local"
path = "../notices"
"#;

    #[test]
    fn parses_a_local_definition() {
        let d = parse(Path::new("feeds/notices.toml"), GOOD).unwrap();
        assert_eq!(d.id().as_str(), "notices");
        assert_eq!(d.meta.timezone, chrono_tz::Asia::Shanghai);
        assert_eq!(d.max_items, 20);
        assert_eq!(
            d.source,
            Source::Local {
                dir: PathBuf::from("feeds/../notices")
            }
        );
    }

    #[test]
    fn unknown_keys_name_file_and_key() {
        let text = GOOD.replace("max_items = 20", "max_item = 20");
        let e = parse(Path::new("feeds/notices.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(e.contains("feeds/notices.toml"), "{e}");
        assert!(e.contains("max_item"), "{e}");
    }

    #[test]
    fn bad_values_name_the_field() {
        let text = GOOD.replace("Asia/Shanghai", "Mars/Olympus");
        let e = parse(Path::new("f/n.toml"), &text).unwrap_err().to_string();
        assert!(e.contains("timezone") && e.contains("Mars/Olympus"), "{e}");
        let text = GOOD.replace("https://www.chinania.org.cn/", "not a url");
        let e = parse(Path::new("f/n.toml"), &text).unwrap_err().to_string();
        assert!(e.contains("`link`"), "{e}");
    }

    #[test]
    fn file_stem_must_be_a_slug() {
        assert!(matches!(
            parse(Path::new("feeds/Bad Name.toml"), GOOD),
            Err(Error::Id { .. })
        ));
    }
}
