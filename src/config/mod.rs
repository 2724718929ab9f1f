//! Feed definitions: one TOML file per feed in the feeds folder, the file stem being the feed id.
//!
//! Parsing is split from loading (`parse` takes a string, `load_dir` reads files) and raw from
//! validated: every URL, time zone and path is checked here, naming the file and the field,
//! before any notice is read or any request is made. Unknown keys are errors, because a typo in
//! a cron job's definition should fail loudly rather than be ignored for months.

pub mod mirror;
pub mod preset;
pub mod project;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono_tz::Tz;
use regex::Regex;
use serde::Deserialize;
use url::Url;

use crate::model::{BadFeedId, FeedId, FeedMeta, Group};

pub use mirror::MirrorSpec;
pub use project::Project;

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
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    max_items: Option<usize>,
    /// Where this feed's files are served from, when not under the project's `public_url`.
    #[serde(default)]
    public_url: Option<String>,
    /// Who publishes the notices (the feeds' author); a scraped feed defaults to its site's
    /// publisher, a merge to its members' common one, anything else to the feed's title.
    #[serde(default)]
    publisher: Option<String>,
    source: RawSource,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
enum RawSource {
    Local {
        path: String,
    },
    Scrape {
        site: RawSiteRef,
        url: String,
        #[serde(default)]
        category: Option<String>,
        #[serde(default)]
        max_pages: Option<u32>,
        #[serde(default)]
        detail: Option<bool>,
        #[serde(default)]
        filter: Vec<RawFilter>,
    },
    Merge {
        feeds: Vec<String>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawSiteRef {
    Named(String),
    Inline(Box<preset::RawSite>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFilter {
    action: FilterAction,
    #[serde(default)]
    field: Option<FilterField>,
    #[serde(default)]
    keyword: Option<String>,
    #[serde(default)]
    regex: Option<String>,
}

/// Whether a filter keeps or drops what it matches. With any `include` filter, a notice must
/// match one of them; any matching `exclude` drops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilterAction {
    Include,
    Exclude,
}

/// What a filter looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilterField {
    Title,
    Category,
}

/// A compiled include/exclude rule.
#[derive(Debug, Clone)]
pub struct Filter {
    pub action: FilterAction,
    pub field: FilterField,
    pub pattern: Regex,
}

/// An optional text setting as one line; `None` when absent or blank.
fn cleaned(value: Option<String>) -> Option<String> {
    value
        .map(|v| crate::text::clean_text(&v))
        .filter(|v| !v.is_empty())
}

/// Keeps a notice when no exclude filter matches and, if there are include filters, one does.
fn passes(filters: &[Filter], title: &str, categories: &[String]) -> bool {
    let hit = |f: &Filter| match f.field {
        FilterField::Title => f.pattern.is_match(title),
        FilterField::Category => categories.iter().any(|c| f.pattern.is_match(c)),
    };
    let mut includes = filters
        .iter()
        .filter(|f| f.action == FilterAction::Include)
        .peekable();
    let included = includes.peek().is_none() || includes.any(hit);
    included
        && !filters
            .iter()
            .any(|f| f.action == FilterAction::Exclude && hit(f))
}

/// A channel of a site: its list URL read with the site's rules.
#[derive(Debug, Clone)]
pub struct ScrapeSource {
    pub site: Arc<preset::SiteDef>,
    pub url: Url,
    /// The channel's name, added to every notice as a category.
    pub category: Option<String>,
    /// List pages walked on a normal run; `build --backfill N` walks N once.
    pub max_pages: u32,
    /// Fetch each notice's detail page for the full title, time, body and attachments.
    pub detail: bool,
    pub filters: Vec<Filter>,
}

impl ScrapeSource {
    /// Whether the channel's filters keep a notice with this title (as the page wrote it; it
    /// is folded to one line first). Its category is the channel's own.
    pub fn admits(&self, title: &str) -> bool {
        let categories: Vec<String> = self.category.iter().cloned().collect();
        passes(&self.filters, &crate::text::clean_text(title), &categories)
    }

    /// The site's origins and the channel's own list URL: the only places this feed requests.
    pub fn origin_policy(&self) -> crate::model::origin::OriginPolicy {
        let mut p = self.site.origin_policy();
        p.allow(&self.url);
        p
    }
}

/// Where a feed's notices come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A folder of notice files, resolved relative to the definition file.
    Local { dir: PathBuf },
    /// Pages of a site.
    Scrape(ScrapeSource),
    /// Other feeds of this folder, merged: each notice once, with every member's category.
    Merge { feeds: Vec<FeedId> },
}

impl Source {
    /// One line for `list`.
    pub fn describe(&self) -> String {
        match self {
            Source::Local { dir } => format!("local {}", dir.display()),
            Source::Scrape(s) => format!("scrape {} (max_pages {})", s.url, s.max_pages),
            Source::Merge { feeds } => format!("merge of {} feeds", feeds.len()),
        }
    }
}

/// A validated feed definition.
#[derive(Debug, Clone)]
pub struct FeedDef {
    /// The definition file, for messages.
    pub path: PathBuf,
    /// The definition names its publisher; otherwise a merge takes its members' (in `load_dir`).
    pub publisher_explicit: bool,
    pub meta: FeedMeta,
    pub max_items: usize,
    pub source: Source,
}

impl FeedDef {
    pub fn id(&self) -> &FeedId {
        &self.meta.id
    }

    /// Where the feed is listed for people: its site's group, local notices in their own, a
    /// merge under its members' group when they share one. `all` holds the merge's members.
    pub fn group(&self, all: &[FeedDef]) -> Group {
        match &self.source {
            Source::Scrape(s) => Group::Site {
                name: s.site.name.clone(),
                link: s.site.base.clone(),
            },
            Source::Local { .. } => Group::Local,
            Source::Merge { feeds } => {
                let mut groups = feeds
                    .iter()
                    .filter_map(|m| all.iter().find(|d| d.id() == m))
                    .filter(|d| !matches!(d.source, Source::Merge { .. }))
                    .map(|d| d.group(all));
                match groups.next() {
                    Some(first) if groups.all(|g| g == first) => first,
                    _ => Group::Mixed,
                }
            }
        }
    }
}

pub(crate) fn field_err(path: &Path, field: &'static str, message: impl Into<String>) -> Error {
    Error::Field {
        path: path.to_owned(),
        field,
        message: message.into(),
    }
}

pub(crate) fn parse_http_url(path: &Path, field: &'static str, raw: &str) -> Result<Url> {
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

    // The same XML-safe cleaning as a notice's title: a control character in a definition
    // must not make every output unreadable.
    let title = crate::text::clean_text(&raw.title);
    if title.is_empty() {
        return Err(field_err(path, "title", "must not be empty"));
    }
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let mut site_timezone: Option<Tz> = None;
    let mut site_language = None;
    let source = match raw.source {
        RawSource::Local { path: p } => {
            if p.trim().is_empty() {
                return Err(field_err(path, "source.path", "must not be empty"));
            }
            Source::Local {
                dir: base_dir.join(p.trim()),
            }
        }
        RawSource::Scrape {
            site: site_ref,
            url,
            category,
            max_pages,
            detail,
            filter,
        } => {
            let site = match site_ref {
                RawSiteRef::Named(name) => preset::load_named(base_dir, path, &name)?,
                RawSiteRef::Inline(raw_site) => preset::compile(path, *raw_site)?,
            };
            site_timezone = site.timezone;
            site_language = site.language.clone();
            let url = parse_http_url(path, "source.url", &url)?;
            let max_pages = max_pages.unwrap_or(1);
            if max_pages == 0 {
                return Err(field_err(path, "source.max_pages", "must be at least 1"));
            }
            let filters = filter
                .into_iter()
                .map(|f| {
                    let pattern = match (f.keyword, f.regex) {
                        (Some(k), None) => Regex::new(&regex::escape(&k)),
                        (None, Some(r)) => Regex::new(&r),
                        _ => {
                            return Err(field_err(
                                path,
                                "source.filter",
                                "each filter needs `keyword` or `regex` (one of them)",
                            ))
                        }
                    }
                    .map_err(|e| field_err(path, "source.filter.regex", e.to_string()))?;
                    Ok(Filter {
                        action: f.action,
                        field: f.field.unwrap_or(FilterField::Title),
                        pattern,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Source::Scrape(ScrapeSource {
                site: Arc::new(site),
                url,
                category: category
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty()),
                max_pages,
                detail: detail.unwrap_or(true),
                filters,
            })
        }
        RawSource::Merge { feeds } => {
            if feeds.is_empty() {
                return Err(field_err(
                    path,
                    "source.feeds",
                    "must name at least one feed",
                ));
            }
            let feeds = feeds
                .iter()
                .map(|f| {
                    FeedId::parse(f).map_err(|e| field_err(path, "source.feeds", e.to_string()))
                })
                .collect::<Result<Vec<_>>>()?;
            Source::Merge { feeds }
        }
    };
    let site_link = match (&raw.link, &source) {
        (Some(l), _) => parse_http_url(path, "link", l)?,
        (None, Source::Scrape(s)) => s.url.clone(),
        (None, _) => {
            return Err(field_err(
                path,
                "link",
                "is required (the site the feed is about)",
            ))
        }
    };
    let public_base = match raw.public_url.as_deref() {
        Some(u) => Some(project::public_base(u).map_err(|m| field_err(path, "public_url", m))?),
        None => None,
    };
    let language = raw
        .language
        .or(site_language)
        .unwrap_or_else(|| "zh-CN".to_owned());
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
    let timezone: Tz = match raw.timezone {
        Some(name) => name.parse().map_err(|_| {
            field_err(
                path,
                "timezone",
                format!("`{name}` is not an IANA time zone name"),
            )
        })?,
        None => site_timezone.unwrap_or(chrono_tz::Asia::Shanghai),
    };
    let max_items = raw.max_items.unwrap_or(DEFAULT_MAX_ITEMS);
    if max_items == 0 {
        return Err(field_err(path, "max_items", "must be at least 1"));
    }
    let description = cleaned(raw.description).unwrap_or_else(|| title.clone());
    let publisher_given = cleaned(raw.publisher);
    let publisher_explicit = publisher_given.is_some();
    let publisher = publisher_given.unwrap_or_else(|| match &source {
        Source::Scrape(s) => s.site.publisher.clone(),
        _ => title.clone(),
    });
    Ok(FeedDef {
        path: path.to_owned(),
        publisher_explicit,
        meta: FeedMeta {
            id,
            title,
            publisher,
            description,
            site_link,
            public_base,
            // The project's, set with its public URL (`run::apply_project`).
            hubs: Vec::new(),
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
    let defs = paths
        .iter()
        .map(|p| load_file(p))
        .collect::<Result<Vec<_>>>()?;
    for d in &defs {
        if let Source::Merge { feeds } = &d.source {
            for member in feeds {
                match defs.iter().find(|m| m.id() == member) {
                    None => {
                        return Err(field_err(
                            &d.path,
                            "source.feeds",
                            format!("no feed `{member}` in {}", dir.display()),
                        ))
                    }
                    Some(m) if matches!(m.source, Source::Merge { .. }) => {
                        return Err(field_err(
                            &d.path,
                            "source.feeds",
                            format!(
                                "`{member}` is itself a merge; merges of merges are not supported"
                            ),
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
    }
    let mut defs = defs;
    let publishers: Vec<Option<String>> = defs.iter().map(|d| merge_publisher(d, &defs)).collect();
    for (d, p) in defs.iter_mut().zip(publishers) {
        if let Some(p) = p {
            d.meta.publisher = p;
        }
    }
    Ok(defs)
}

/// A merge without a publisher of its own is published by whoever publishes all its members
/// (the association, for its channels merged); mixed members keep the merge's title.
fn merge_publisher(def: &FeedDef, all: &[FeedDef]) -> Option<String> {
    let Source::Merge { feeds } = &def.source else {
        return None;
    };
    if def.publisher_explicit {
        return None;
    }
    let mut publishers = feeds
        .iter()
        .filter_map(|m| all.iter().find(|d| d.id() == m))
        .map(|d| d.meta.publisher.as_str());
    let first = publishers.next()?;
    publishers.all(|p| p == first).then(|| first.to_owned())
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
        assert!(matches!(&d.source, Source::Local { dir } if dir == Path::new("feeds/../notices")));
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
