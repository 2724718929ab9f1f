//! Pages for people: `index.html` (every feed, grouped by site, with its newest notices and
//! subscribe links) and `<id>.html` (one feed's items). They replace an XSL stylesheet on the
//! feeds, which browsers are dropping.
//!
//! Rendered with minijinja from the templates in `templates/`, which escape every value (the
//! `.html` auto-escape); nothing is marked safe. The pages carry inline CSS only: no script, no
//! font, image or stylesheet from another host, and no notice body (its images would be
//! requests to the source site); the plain-text summary stands for it. Like the feeds they
//! hold no clock, so the same items give the same bytes.

use chrono::{DateTime, Utc};
use minijinja::{AutoEscape, Environment};
use serde::Serialize;
use url::Url;

use super::{folder_href, grouped, self_href, Format, Listed};
use crate::model::{FeedMeta, Item};

/// The index page's file name in the output folder.
pub const INDEX: &str = "index.html";

/// A template failed to render: a bug in a template, never bad input.
#[derive(Debug, thiserror::Error)]
#[error("rendering the page {page}")]
pub struct Error {
    page: String,
    #[source]
    source: minijinja::Error,
}

/// The output file name of a feed's page.
pub fn page_name(id: &str) -> String {
    format!("{id}.html")
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // The templates are part of the binary; a syntax error in one fails every test, so the
    // `expect`s below hold by construction.
    for (name, text) in [
        ("layout.html", include_str!("templates/layout.html")),
        ("index.html", include_str!("templates/index.html")),
        ("feed.html", include_str!("templates/feed.html")),
        ("subscribe.html", include_str!("templates/subscribe.html")),
    ] {
        env.add_template(name, text)
            .expect("the built-in templates parse");
    }
    // minijinja's HTML escaping also escapes `/`, which spells every URL of the page as
    // `https:&#x2f;&#x2f;…`: valid, but unreadable in the source. Strings are escaped here with
    // the project's one HTML escaper instead (`& < > " '`, all a value needs in text and in a
    // quoted attribute); anything else, and values already marked safe, take the default path.
    env.set_formatter(|out, state, value| match value.as_str() {
        Some(s) if state.auto_escape() == AutoEscape::Html && !value.is_safe() => {
            out.write_str(&crate::text::escape_html(s))?;
            Ok(())
        }
        _ => minijinja::escape_formatter(out, state, value),
    });
    env
}

#[derive(Serialize)]
struct Alternate {
    mime: &'static str,
    title: String,
    href: String,
}

#[derive(Serialize)]
struct AttachmentView {
    url: String,
    title: String,
    mime: String,
    /// Human-readable size; empty when unknown.
    size: String,
}

#[derive(Serialize)]
struct ItemView {
    anchor: String,
    title: String,
    /// The notice's own page, if it has one.
    link: Option<String>,
    /// Where the index links it: its own page, else its entry on the feed page.
    href: String,
    datetime: String,
    /// The date in the feed's zone (Beijing time for the association).
    date: String,
    /// The time of day in the feed's zone, left out at midnight (a date-only notice).
    time: String,
    summary: String,
    authors: Vec<String>,
    tags: Vec<String>,
    attachments: Vec<AttachmentView>,
}

#[derive(Serialize)]
struct FeedView {
    id: String,
    title: String,
    description: String,
    language: String,
    site_link: String,
    page: String,
    rss: String,
    atom: String,
    json: String,
    updated_iso: String,
    updated: String,
    count: usize,
    items: Vec<ItemView>,
    latest: Vec<ItemView>,
}

#[derive(Serialize)]
struct GroupView {
    name: String,
    link: Option<String>,
    feeds: Vec<FeedView>,
}

/// A file of the feed's folder as a link: absolute under its public URL, else the file name.
fn feed_href(meta: &FeedMeta, format: Format) -> String {
    self_href(meta, format).unwrap_or_else(|| format.file_name(meta.id.as_str()))
}

fn anchor(item: &Item) -> String {
    let g = item.guid.as_str();
    format!("n-{}", g.rsplit(':').next().unwrap_or(g))
}

fn size(bytes: u64) -> String {
    match bytes {
        0 => String::new(),
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.0} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

fn item_view(meta: &FeedMeta, page: &str, it: &Item) -> ItemView {
    let local = it.published.with_timezone(&meta.timezone);
    let time = local.format("%H:%M").to_string();
    let anchor = anchor(it);
    let link = it.link.as_ref().map(|l| l.to_string());
    ItemView {
        href: link.clone().unwrap_or_else(|| format!("{page}#{anchor}")),
        anchor,
        title: it.title.clone(),
        link,
        datetime: local.to_rfc3339(),
        date: local.format("%Y-%m-%d").to_string(),
        time: if time == "00:00" { String::new() } else { time },
        summary: it.summary.clone(),
        authors: it.authors.clone(),
        tags: it.categories.clone(),
        attachments: it
            .attachments
            .iter()
            .map(|a| AttachmentView {
                url: a.url.to_string(),
                title: if a.title.is_empty() {
                    file_name(a.url.as_url())
                } else {
                    a.title.clone()
                },
                mime: a.mime.clone(),
                size: size(a.length),
            })
            .collect(),
    }
}

/// The last path segment, percent-decoded, for an attachment without a title.
fn file_name(url: &Url) -> String {
    let seg = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .filter(|s| !s.is_empty())
        .unwrap_or(url.as_str());
    percent_encoding::percent_decode_str(seg)
        .decode_utf8_lossy()
        .into_owned()
}

fn when(meta: &FeedMeta, d: DateTime<Utc>) -> (String, String) {
    let local = d.with_timezone(&meta.timezone);
    (
        local.to_rfc3339(),
        local.format("%Y-%m-%d %H:%M").to_string(),
    )
}

/// A feed's page: its card and every item.
fn feed_view(meta: &FeedMeta, items: &[Item]) -> FeedView {
    let mut f = card_view(&Listed::new(meta, &crate::model::Group::Local, items));
    f.items = items
        .iter()
        .map(|it| item_view(meta, &f.page, it))
        .collect();
    f
}

/// A feed as the index shows it: its links, count, last change and newest items.
fn card_view(l: &Listed<'_>) -> FeedView {
    let meta = l.meta;
    let page = folder_href(meta.public_base.as_ref(), &page_name(meta.id.as_str()));
    let (updated_iso, updated) = when(meta, l.updated);
    let views = |its: &[Item]| -> Vec<ItemView> {
        its.iter().map(|it| item_view(meta, &page, it)).collect()
    };
    FeedView {
        id: meta.id.to_string(),
        title: meta.title.clone(),
        description: meta.description.clone(),
        language: meta.language.clone(),
        site_link: meta.site_link.to_string(),
        rss: feed_href(meta, Format::Rss),
        atom: feed_href(meta, Format::Atom),
        json: feed_href(meta, Format::Json),
        updated_iso,
        updated,
        count: l.count,
        items: Vec::new(),
        latest: views(&l.latest[..l.latest.len().min(Listed::LATEST)]),
        page,
    }
}

fn alternates(meta: &FeedMeta) -> Vec<Alternate> {
    [
        (Format::Rss, "RSS"),
        (Format::Atom, "Atom"),
        (Format::Json, "JSON Feed"),
    ]
    .into_iter()
    .map(|(f, label)| Alternate {
        mime: f.mime(),
        title: format!("{} ({label})", meta.title),
        href: feed_href(meta, f),
    })
    .collect()
}

/// Names the zones the pages' times are in, in order of first use ("Beijing time
/// (Asia/Shanghai)"); the exact offset of each time is in its `<time datetime>`.
fn zone_label<'a>(metas: impl Iterator<Item = &'a FeedMeta>) -> String {
    let mut zones: Vec<String> = Vec::new();
    for m in metas {
        let label = match m.timezone {
            chrono_tz::Asia::Shanghai => format!("Beijing time ({})", m.timezone),
            tz => format!("{tz} time"),
        };
        if !zones.contains(&label) {
            zones.push(label);
        }
    }
    zones.join(", ")
}

fn render(env: &Environment<'_>, page: &str, ctx: minijinja::Value) -> Result<String, Error> {
    let err = |source| Error {
        page: page.to_owned(),
        source,
    };
    let mut out = env
        .get_template(page)
        .map_err(err)?
        .render(ctx)
        .map_err(err)?;
    out.push('\n');
    Ok(out)
}

/// `<id>.html`: one feed's items, newest first, as in its feeds.
pub fn feed_page(meta: &FeedMeta, items: &[Item]) -> Result<String, Error> {
    let env = environment();
    let f = feed_view(meta, items);
    let index = folder_href(meta.public_base.as_ref(), INDEX);
    render(
        &env,
        "feed.html",
        minijinja::context! {
            lang => meta.language,
            version => env!("CARGO_PKG_VERSION"),
            title => meta.title,
            description => meta.description,
            alternates => alternates(meta),
            zone_label => zone_label(std::iter::once(meta)),
            index,
            f,
        },
    )
}

/// `index.html`: every feed of the folder, grouped by site. `public_url` is the folder's, for
/// the OPML link.
pub fn index(feeds: &[Listed<'_>], public_url: Option<&Url>) -> Result<String, Error> {
    let env = environment();
    let groups: Vec<GroupView> = grouped(feeds)
        .into_iter()
        .map(|(g, members)| GroupView {
            name: g.name().to_owned(),
            link: match g {
                crate::model::Group::Site { link, .. } => Some(link.to_string()),
                _ => None,
            },
            feeds: members.iter().map(card_view).collect(),
        })
        .collect();
    let title = super::folder_title(feeds);
    // The page's language: the one most feeds are in (each card also says its own).
    let mut langs: Vec<&str> = feeds.iter().map(|f| f.meta.language.as_str()).collect();
    langs.sort_unstable();
    let lang = langs
        .chunk_by(|a, b| a == b)
        .max_by_key(|run| run.len())
        .and_then(|run| run.first().copied())
        .unwrap_or("en");
    let alternates: Vec<Alternate> = grouped(feeds)
        .iter()
        .flat_map(|(_, members)| members.iter().map(|l| l.meta))
        .flat_map(alternates)
        .collect();
    render(
        &env,
        "index.html",
        minijinja::context! {
            lang,
            version => env!("CARGO_PKG_VERSION"),
            title,
            description => "",
            alternates,
            zone_label => zone_label(feeds.iter().map(|f| f.meta)),
            feed_count => feeds.len(),
            opml => folder_href(public_url, super::opml::FILE_NAME),
            groups,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CanonicalUrl, FeedId, Group, Guid, GuidKey};
    use chrono::TimeZone as _;

    fn meta() -> FeedMeta {
        FeedMeta {
            id: FeedId::parse("n").unwrap(),
            title: "通知 <script>alert(1)</script>".into(),
            description: "\"quoted\" & 'single'".into(),
            site_link: Url::parse("https://www.chinania.org.cn/").unwrap(),
            public_base: None,
            language: "zh-CN".into(),
            timezone: chrono_tz::Asia::Shanghai,
            publisher: "中国有色金属工业协会".into(),
            hubs: Vec::new(),
        }
    }

    fn item(title: &str, link: Option<&str>) -> Item {
        let t = chrono::Utc.with_ymd_and_hms(2026, 9, 8, 16, 0, 0).unwrap();
        Item {
            guid: Guid::derive(&GuidKey::Explicit(title.into())),
            link: link.map(|l| CanonicalUrl::parse(l).unwrap()),
            title: title.into(),
            published: t,
            date_estimated: false,
            updated: t,
            summary: "<b>not bold</b>".into(),
            content_html: "<img src=\"https://elsewhere.example/x.png\">".into(),
            summary_derived: Default::default(),
            authors: vec![],
            categories: vec![],
            attachments: vec![],
        }
    }

    #[test]
    fn values_are_escaped_urls_readable_and_no_body_is_embedded() {
        let items = [
            item("会议 <i>", Some("https://www.chinania.org.cn/a.html")),
            item("本地", None),
        ];
        let page = feed_page(&meta(), &items).unwrap();
        assert!(
            page.contains("通知 &lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
        assert!(!page.contains("<script"), "{page}");
        assert!(
            page.contains("&quot;quoted&quot; &amp; &#39;single&#39;"),
            "{page}"
        );
        assert!(page.contains("&lt;b&gt;not bold&lt;/b&gt;"), "{page}");
        assert!(
            page.contains("href=\"https://www.chinania.org.cn/a.html\""),
            "{page}"
        );
        assert!(
            !page.contains("elsewhere.example"),
            "no notice body, so no image request"
        );
        assert!(
            page.contains(">2026-09-09</time>"),
            "Beijing date, no time at midnight: {page}"
        );
        assert!(
            page.contains("href=\"n.rss.xml\""),
            "relative without a public URL"
        );
        assert_eq!(page, feed_page(&meta(), &items).unwrap(), "byte-stable");

        let m = meta();
        let listed = [Listed::new(&m, &Group::Local, &items)];
        let index = index(&listed, None).unwrap();
        assert!(
            index.contains("href=\"n.html#n-"),
            "an item without a link points at its entry"
        );
        assert!(index.contains("href=\"feeds.opml\""));
    }
}
