//! Items → documents, one module per format. Each renderer owns its format's rules (date
//! syntax, GUID attributes, enclosure shape) and returns the document as a string: per feed RSS,
//! Atom and JSON Feed; for the whole folder the OPML subscription list.
//!
//! Pure, with no clock: the feed-level `updated`/`lastBuildDate` is the newest item change, so
//! the same items always give the same bytes and an unchanged run touches no file.

mod atom;
pub mod html;
mod json;
pub mod opml;
mod rss;

use chrono::{DateTime, Utc};

use crate::model::{FeedMeta, Group, Item};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    /// The output file name for a feed id.
    pub fn file_name(self, id: &str) -> String {
        match self {
            Format::Rss => format!("{id}.rss.xml"),
            Format::Atom => format!("{id}.atom.xml"),
            Format::Json => format!("{id}.json"),
        }
    }

    /// MIME type, for self links.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml",
            Format::Atom => "application/atom+xml",
            Format::Json => "application/feed+json",
        }
    }
}

/// One published feed as the folder-wide documents (OPML, index) list it: its metadata, its
/// group heading, and of the items its files hold their number, their newest change and the
/// newest few ([`Listed::LATEST`]), so a folder of many feeds is listed without holding every
/// feed's items.
#[derive(Debug, Clone, Copy)]
pub struct Listed<'a> {
    pub meta: &'a FeedMeta,
    pub group: &'a Group,
    /// How many items the feed's files hold.
    pub count: usize,
    /// [`feed_updated`] of all of them.
    pub updated: DateTime<Utc>,
    /// The newest of them, at most [`Listed::LATEST`] (more are ignored).
    pub latest: &'a [Item],
}

impl<'a> Listed<'a> {
    /// How many items of each feed the index shows.
    pub const LATEST: usize = 5;

    /// A feed listed from all the items its files hold (newest first): `items` may be cut to
    /// [`Listed::LATEST`] afterwards, once `count` and `updated` are taken.
    pub fn new(meta: &'a FeedMeta, group: &'a Group, items: &'a [Item]) -> Self {
        Self {
            meta,
            group,
            count: items.len(),
            updated: feed_updated(items),
            latest: &items[..items.len().min(Self::LATEST)],
        }
    }
}

/// Feeds grouped under their headings, groups in `Group` order, feeds by id within a group.
pub fn grouped<'a>(feeds: &[Listed<'a>]) -> Vec<(&'a Group, Vec<Listed<'a>>)> {
    let mut groups: std::collections::BTreeMap<&'a Group, Vec<Listed<'a>>> = Default::default();
    for f in feeds {
        groups.entry(f.group).or_default().push(*f);
    }
    groups
        .into_iter()
        .map(|(g, mut fs)| {
            fs.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
            (g, fs)
        })
        .collect()
}

/// The folder's title for people (OPML head, index page): its groups' names.
pub fn folder_title(feeds: &[Listed<'_>]) -> String {
    let names: Vec<&str> = grouped(feeds).iter().map(|(g, _)| g.name()).collect();
    format!("Notice feeds: {}", names.join(" · "))
}

/// A file of the output folder as a link: absolute under `base` when one is known, else the
/// bare file name (relative to the folder).
pub fn folder_href(base: Option<&url::Url>, name: &str) -> String {
    base.and_then(|b| b.join(name).ok())
        .map_or_else(|| name.to_owned(), |u| u.to_string())
}

/// Renders `items` (already ordered and limited) as one document.
pub fn render(meta: &FeedMeta, items: &[Item], format: Format) -> String {
    match format {
        Format::Rss => rss::render(meta, items),
        Format::Atom => atom::render(meta, items),
        Format::Json => json::render(meta, items),
    }
}

/// The newest change among the items; for an empty feed, the Unix epoch (a fixed value, never
/// the wall clock).
pub fn feed_updated(items: &[Item]) -> DateTime<Utc> {
    items
        .iter()
        .map(|i| i.updated.max(i.published))
        .max()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// Where a format's file is served from: absolute under the feed's public URL, or `None` when
/// none is known. Never relative: a relative self link has no base to resolve against in a
/// reader, and strict parsers (feed-rs 3) refuse the whole document for it.
pub fn self_href(meta: &FeedMeta, format: Format) -> Option<String> {
    let name = format.file_name(meta.id.as_str());
    let base = meta.public_base.as_ref()?;
    base.join(&name).ok().map(|u| u.to_string())
}

/// The feed's links in the XML formats (RSS writes them as `atom:link`; both crates use
/// atom_syndication's type), in the order written: its self link (when the public URL is
/// known), then `alternate` (Atom's link to the site), then one `hub` link per WebSub hub for
/// discovery.
pub(crate) fn feed_links(
    meta: &FeedMeta,
    format: Format,
    alternate: Option<atom_syndication::Link>,
) -> Vec<atom_syndication::Link> {
    let link = |rel: &str, href: String, mime: Option<&str>| atom_syndication::Link {
        href,
        rel: rel.to_owned(),
        mime_type: mime.map(str::to_owned),
        ..Default::default()
    };
    let own = self_href(meta, format).map(|href| link("self", href, Some(format.mime())));
    let hubs = meta.hubs.iter().map(|h| link("hub", h.to_string(), None));
    own.into_iter().chain(alternate).chain(hubs).collect()
}

/// An RFC 822 date as chrono's `to_rfc2822` writes it, without its panic on a year outside
/// 0–9999: `normalize` and the store keep those out, and should one get here it is written
/// rather than ending the run.
pub(crate) fn rfc822<Tz: chrono::TimeZone>(d: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    d.format("%a, %-d %b %Y %H:%M:%S %z").to_string()
}

/// What every document leaving the program must be, checked by the property tests of the
/// collectors: well-formed, free of control characters, links only http(s), content inert.
#[cfg(test)]
pub(crate) mod checks {
    use super::*;

    fn no_controls(label: &str, s: &str) {
        if let Some(c) = s
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            panic!("{label}: control character {c:?} in {s:?}");
        }
    }

    fn http_only(label: &str, url: &str) {
        assert!(
            url.starts_with("http://") || url.starts_with("https://"),
            "{label}: non-http(s) link {url:?}"
        );
    }

    /// Parses sanitized HTML and fails on anything a reader could run or open locally.
    pub fn assert_inert_html(html: &str) {
        no_controls("content", html);
        let doc = scraper::Html::parse_fragment(html);
        for el in doc
            .root_element()
            .descendants()
            .filter_map(scraper::ElementRef::wrap)
        {
            let name = el.value().name();
            assert!(
                !matches!(
                    name,
                    "script" | "iframe" | "object" | "embed" | "style" | "form" | "base"
                ),
                "<{name}> in {html}"
            );
            for (attr, value) in el.value().attrs() {
                assert!(
                    !attr.to_ascii_lowercase().starts_with("on"),
                    "{attr}= in {html}"
                );
                if matches!(
                    attr,
                    "href" | "src" | "cite" | "action" | "srcset" | "longdesc"
                ) {
                    http_only(attr, value);
                }
            }
        }
    }

    fn well_formed_xml(label: &str, doc: &str) {
        let mut r = quick_xml::Reader::from_str(doc);
        r.config_mut().check_end_names = true;
        loop {
            match r.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("{label}: not well-formed XML ({e}):\n{doc}"),
            }
        }
    }

    /// Panics unless `items` and every document rendered from them are safe to publish.
    pub fn assert_publishable(meta: &FeedMeta, items: &[Item]) {
        for it in items {
            if let Some(l) = &it.link {
                http_only("item link", l.as_str());
            }
            for a in &it.attachments {
                http_only("enclosure", a.url.as_str());
            }
            no_controls("title", &it.title);
            no_controls("summary", &it.summary);
            assert_inert_html(&it.content_html);
        }
        for f in Format::ALL {
            let doc = render(meta, items, f);
            no_controls("document", &doc);
            match f {
                Format::Json => {
                    serde_json::from_str::<serde_json::Value>(&doc)
                        .unwrap_or_else(|e| panic!("JSON Feed does not parse ({e}):\n{doc}"));
                }
                _ => well_formed_xml(&format!("{f:?}"), &doc),
            }
        }
    }

    /// A plain feed's metadata for the property tests.
    pub fn meta() -> FeedMeta {
        FeedMeta {
            id: crate::model::FeedId::parse("prop").expect("literal id"),
            title: "Property".into(),
            description: "Property".into(),
            publisher: "Property".into(),
            site_link: url::Url::parse("https://www.chinania.org.cn/").expect("literal URL"),
            public_base: None,
            hubs: Vec::new(),
            language: "zh-CN".into(),
            timezone: chrono_tz::Asia::Shanghai,
        }
    }
}
