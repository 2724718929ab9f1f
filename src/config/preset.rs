//! The site-definition language: how to read a site's list and detail pages, as data.
//!
//! A site preset lives in `feeds/sites/<name>.toml` (or inline in a feed as `[source.site]`);
//! each channel feed names it and adds its list URL. Every selector and regex is compiled here,
//! at load, so a typo fails before any request with the file and the field named.

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use regex::Regex;
use scraper::Selector;
use serde::Deserialize;
use url::Url;

use super::{field_err, parse_http_url, Error, Result};
use crate::model::CanonicalUrl;

/// What to take from a matched element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Take {
    /// Its text, descendants included, whitespace-trimmed.
    Text,
    /// Its inner HTML (for bodies).
    Html,
    /// An attribute's value.
    Attr(String),
}

/// One extraction rule: a CSS selector, what to take, an optional filter on the element's text
/// and an optional regex on the value (group 1 if it has one, else the whole match).
#[derive(Debug, Clone)]
pub struct Field {
    pub css: String,
    pub selector: Selector,
    pub take: Take,
    /// Keep only elements whose text matches (e.g. the "下一页" link among page links).
    pub matches: Option<Regex>,
    pub regex: Option<Regex>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawField {
    Css(String),
    Full(RawFieldTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFieldTable {
    selector: String,
    #[serde(default)]
    attr: Option<String>,
    #[serde(default)]
    html: bool,
    #[serde(default)]
    matches: Option<String>,
    #[serde(default)]
    regex: Option<String>,
}

/// List pages: one element per notice, with fields inside it.
#[derive(Debug, Clone)]
pub struct ListSpec {
    pub item_css: String,
    pub item: Selector,
    pub title: Field,
    pub link: Field,
    pub date: Option<Field>,
}

/// How further list pages are found.
#[derive(Debug, Clone)]
pub enum Pagination {
    /// Follow the link this field extracts; stop when it repeats a page already read (PHPCMS
    /// points "next" at the last page itself), is missing, or `max_pages` is reached.
    Next(Field),
    /// Page N (N ≥ `first`) is `template` with `{url}` = the feed's list URL and `{page}` = N;
    /// page 1 is the list URL. A page that is missing or has no items ends the walk.
    Template { template: String, first: u32 },
}

/// Detail pages: the full title, the time to the minute, source, body and attachments.
#[derive(Debug, Clone)]
pub struct DetailSpec {
    pub title: Option<Field>,
    pub date: Option<Field>,
    pub author: Option<Field>,
    pub content: Option<Field>,
    /// Links inside the page to keep as attachments, if their extension is listed.
    pub attachments: Option<Field>,
    pub attachment_extensions: Vec<String>,
}

/// A validated site preset.
#[derive(Debug, Clone)]
pub struct SiteDef {
    /// The file it came from, for messages.
    pub path: PathBuf,
    /// The site's name for people (the OPML's and the index's group heading); the base URL's
    /// host when not given.
    pub name: String,
    /// Who publishes the notices (the feeds' author): the preset's `publisher`, else `name`.
    pub publisher: String,
    /// The site's home; a list link to another host is off-site and is not fetched.
    pub base: Url,
    /// Other origins of the site a definition lists explicitly (e.g. a host serving its
    /// attachments): requested like the base's own.
    pub origins: Vec<Url>,
    /// Other host names of the same site (e.g. `chinania.org.cn` for `www.chinania.org.cn`),
    /// lowercase: links to them are read as links to `base`'s host, so a page switching
    /// between them changes no link, no GUID and no request.
    pub aliases: Vec<String>,
    pub timezone: Option<Tz>,
    pub language: Option<String>,
    /// The charset to read pages in when the site declares a wrong one (GBK is read as
    /// GB18030 by the decoder, like every declared GBK).
    pub encoding: Option<&'static encoding_rs::Encoding>,
    pub user_agent: Option<String>,
    /// Minimum gap between requests to the site, in milliseconds.
    pub delay_ms: Option<u64>,
    pub date_formats: Vec<String>,
    pub list: ListSpec,
    pub pagination: Option<Pagination>,
    pub detail: Option<DetailSpec>,
}

impl SiteDef {
    /// A raw URL with a host alias folded into `base`'s host.
    pub fn fold_alias_url(&self, mut url: Url) -> Url {
        let alias = url
            .host_str()
            .is_some_and(|h| self.aliases.iter().any(|a| a == h));
        if alias {
            if let Some(host) = self.base.host_str() {
                // Setting a host that already is one cannot fail; keep the URL if it did.
                let _ = url.set_host(Some(host));
            }
        }
        url
    }

    /// `link` with a host alias folded into `base`'s host.
    pub fn fold_alias(&self, link: CanonicalUrl) -> CanonicalUrl {
        match self.base.host_str() {
            Some(host) if !self.aliases.is_empty() => link.fold_host(host, &self.aliases),
            _ => link,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSite {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    publisher: Option<String>,
    base: String,
    #[serde(default)]
    origins: Vec<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
    #[serde(default)]
    user_agent: Option<String>,
    #[serde(default)]
    delay_ms: Option<u64>,
    #[serde(default)]
    date_formats: Option<Vec<String>>,
    list: RawList,
    #[serde(default)]
    pagination: Option<RawPagination>,
    #[serde(default)]
    detail: Option<RawDetail>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    item: String,
    title: RawField,
    link: RawField,
    #[serde(default)]
    date: Option<RawField>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPagination {
    #[serde(default)]
    next: Option<RawField>,
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    first: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDetail {
    #[serde(default)]
    title: Option<RawField>,
    #[serde(default)]
    date: Option<RawField>,
    #[serde(default)]
    author: Option<RawField>,
    #[serde(default)]
    content: Option<RawField>,
    #[serde(default)]
    attachments: Option<RawField>,
    #[serde(default)]
    attachment_extensions: Option<Vec<String>>,
}

/// Date forms tried when a site names none: the association's and common Chinese ones.
pub const DEFAULT_DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
    "%Y.%m.%d",
];

/// Extensions published as enclosures when a site names none.
pub const DEFAULT_ATTACHMENT_EXTENSIONS: &[&str] = &[
    "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "zip", "rar", "wps", "7z", "txt", "csv",
];

fn compile_selector(path: &Path, field: &'static str, css: &str) -> Result<Selector> {
    Selector::parse(css)
        .map_err(|e| field_err(path, field, format!("selector `{css}` is invalid: {e}")))
}

fn compile_regex(path: &Path, field: &'static str, re: &str) -> Result<Regex> {
    Regex::new(re).map_err(|e| field_err(path, field, format!("regex `{re}` is invalid: {e}")))
}

fn compile_field(path: &Path, field: &'static str, raw: RawField) -> Result<Field> {
    let t = match raw {
        RawField::Css(css) => RawFieldTable {
            selector: css,
            attr: None,
            html: false,
            matches: None,
            regex: None,
        },
        RawField::Full(t) => t,
    };
    let take = match (t.attr, t.html) {
        (Some(_), true) => {
            return Err(field_err(
                path,
                field,
                "`attr` and `html` exclude each other",
            ))
        }
        (Some(a), false) => Take::Attr(a),
        (None, true) => Take::Html,
        (None, false) => Take::Text,
    };
    Ok(Field {
        selector: compile_selector(path, field, &t.selector)?,
        css: t.selector,
        take,
        matches: t
            .matches
            .map(|m| compile_regex(path, field, &m))
            .transpose()?,
        regex: t
            .regex
            .map(|r| compile_regex(path, field, &r))
            .transpose()?,
    })
}

fn opt_field(path: &Path, field: &'static str, raw: Option<RawField>) -> Result<Option<Field>> {
    raw.map(|r| compile_field(path, field, r)).transpose()
}

/// Validates a site preset read from `path`.
pub(super) fn compile(path: &Path, raw: RawSite) -> Result<SiteDef> {
    let base = parse_http_url(path, "base", &raw.base)?;
    let origins = raw
        .origins
        .iter()
        .map(|o| {
            let url = parse_http_url(path, "origins", o)?;
            if url.host_str().is_none() || !matches!(url.path(), "" | "/") {
                return Err(field_err(
                    path,
                    "origins",
                    format!("`{o}` must be scheme, host and port only, such as `https://files.example.org`"),
                ));
            }
            Ok(url)
        })
        .collect::<Result<Vec<_>>>()?;
    let name =
        super::cleaned(raw.name).unwrap_or_else(|| base.host_str().unwrap_or_default().to_owned());
    let aliases = raw
        .aliases
        .iter()
        .map(|a| parse_alias(path, &base, a))
        .collect::<Result<Vec<_>>>()?;
    let publisher = super::cleaned(raw.publisher).unwrap_or_else(|| name.clone());
    let timezone = raw
        .timezone
        .map(|t| {
            t.parse::<Tz>().map_err(|_| {
                field_err(
                    path,
                    "timezone",
                    format!("`{t}` is not an IANA time zone name"),
                )
            })
        })
        .transpose()?;
    let encoding = raw
        .encoding
        .map(|e| {
            // GBK is widened to GB18030 where every page is decoded (`collect::http::decode`).
            encoding_rs::Encoding::for_label(e.trim().as_bytes()).ok_or_else(|| {
                field_err(
                    path,
                    "encoding",
                    format!("`{e}` is not a known encoding label"),
                )
            })
        })
        .transpose()?;
    let date_formats = raw
        .date_formats
        .unwrap_or_else(|| DEFAULT_DATE_FORMATS.iter().map(|s| s.to_string()).collect());
    for f in &date_formats {
        if chrono::format::StrftimeItems::new(f).any(|i| matches!(i, chrono::format::Item::Error)) {
            return Err(field_err(
                path,
                "date_formats",
                format!("`{f}` is not a valid strftime format"),
            ));
        }
    }
    let list = ListSpec {
        item: compile_selector(path, "list.item", &raw.list.item)?,
        item_css: raw.list.item,
        title: compile_field(path, "list.title", raw.list.title)?,
        link: compile_field(path, "list.link", raw.list.link)?,
        date: opt_field(path, "list.date", raw.list.date)?,
    };
    let pagination = match raw.pagination {
        None => None,
        Some(RawPagination {
            next: Some(_),
            template: Some(_),
            ..
        }) => {
            return Err(field_err(
                path,
                "pagination",
                "give `next` or `template`, not both",
            ))
        }
        Some(RawPagination { next: Some(n), .. }) => {
            Some(Pagination::Next(compile_field(path, "pagination.next", n)?))
        }
        Some(RawPagination {
            template: Some(t),
            first,
            ..
        }) => {
            if !t.contains("{page}") {
                return Err(field_err(
                    path,
                    "pagination.template",
                    format!("`{t}` has no `{{page}}`"),
                ));
            }
            Some(Pagination::Template {
                template: t,
                first: first.unwrap_or(2),
            })
        }
        Some(_) => return Err(field_err(path, "pagination", "needs `next` or `template`")),
    };
    let detail = raw
        .detail
        .map(|d| -> Result<DetailSpec> {
            Ok(DetailSpec {
                title: opt_field(path, "detail.title", d.title)?,
                date: opt_field(path, "detail.date", d.date)?,
                author: opt_field(path, "detail.author", d.author)?,
                content: opt_field(path, "detail.content", d.content)?,
                attachments: opt_field(path, "detail.attachments", d.attachments)?,
                attachment_extensions: d
                    .attachment_extensions
                    .unwrap_or_else(|| {
                        DEFAULT_ATTACHMENT_EXTENSIONS
                            .iter()
                            .map(|s| s.to_string())
                            .collect()
                    })
                    .into_iter()
                    .map(|e| e.trim_start_matches('.').to_ascii_lowercase())
                    .collect(),
            })
        })
        .transpose()?;
    Ok(SiteDef {
        name,
        publisher,
        path: path.to_owned(),
        base,
        origins,
        aliases,
        timezone,
        language: raw.language,
        encoding,
        user_agent: raw.user_agent,
        delay_ms: raw.delay_ms,
        date_formats,
        list,
        pagination,
        detail,
    })
}

impl SiteDef {
    /// The origins this site may be requested at: its base's host and its `aliases`, over http
    /// or https on the default ports (or exactly the base's own port when it names one), and
    /// the `origins` it lists.
    pub fn origin_policy(&self) -> crate::model::origin::OriginPolicy {
        let mut p = crate::model::origin::OriginPolicy::new();
        p.allow(&self.base);
        for a in &self.aliases {
            p.allow_host(a, &self.base);
        }
        for o in &self.origins {
            p.allow(o);
        }
        p
    }
}

/// A host alias: a bare host name (no scheme, port or path), other than `base`'s own host.
fn parse_alias(path: &Path, base: &Url, raw: &str) -> Result<String> {
    let bad = |why: &str| field_err(path, "aliases", format!("`{raw}` {why}"));
    let host = raw.trim().to_ascii_lowercase();
    if host.is_empty()
        || host.contains(['/', ':', '@', '?', '#'])
        || host.contains(char::is_whitespace)
    {
        return Err(bad(
            "is not a bare host name (write `chinania.org.cn`, no scheme, port or path)",
        ));
    }
    let parsed = Url::parse(&format!("https://{host}/"))
        .map_err(|e| bad(&format!("is not a host name ({e})")))?;
    if parsed.host_str() != Some(host.as_str()) {
        return Err(bad("is not a host name in its plain spelling"));
    }
    if base.host_str() == Some(host.as_str()) {
        return Err(bad("is the host of `base` itself"));
    }
    Ok(host)
}

/// Reads and validates `feeds/sites/<name>.toml`.
pub(super) fn load_named(feeds_dir: &Path, referrer: &Path, name: &str) -> Result<SiteDef> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(field_err(
            referrer,
            "source.site",
            format!("`{name}` is not a site preset name"),
        ));
    }
    load_file(&feeds_dir.join("sites").join(format!("{name}.toml")))
}

/// Reads and validates a site preset file.
pub fn load_file(path: &Path) -> Result<SiteDef> {
    let path = path.to_owned();
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
        path: path.clone(),
        source,
    })?;
    let raw: RawSite = toml::from_str(&text).map_err(|e| Error::Toml {
        path: path.clone(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    compile(&path, raw)
}
