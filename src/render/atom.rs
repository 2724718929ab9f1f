//! Atom 1.0 (RFC 4287): RFC 3339 dates in the feed's zone, the URN as `<id>`, every attachment
//! as a `link rel="enclosure"`, HTML content with `type="html"`. Atom requires an author on the
//! feed or on every entry: the feed's author is its publisher (e.g. the association).

use atom_syndication::{
    Category, Content, Entry, Feed, FixedDateTime, Generator, Link, Person, Text, WriteConfig,
};

use super::{feed_links, feed_updated, Format};
use crate::model::{FeedMeta, Guid, GuidKey, Item};

pub(super) fn render(meta: &FeedMeta, items: &[Item]) -> String {
    let date = |d: chrono::DateTime<chrono::Utc>| -> FixedDateTime {
        d.with_timezone(&meta.timezone).fixed_offset()
    };
    let entries = items
        .iter()
        .map(|it| {
            let mut links = Vec::new();
            if let Some(l) = &it.link {
                links.push(Link {
                    href: l.to_string(),
                    rel: "alternate".to_owned(),
                    mime_type: Some("text/html".to_owned()),
                    ..Default::default()
                });
            }
            for a in &it.attachments {
                links.push(Link {
                    href: a.url.to_string(),
                    rel: "enclosure".to_owned(),
                    mime_type: Some(a.mime.clone()),
                    title: Some(a.title.clone()).filter(|t| !t.is_empty()),
                    length: Some(a.length.to_string()),
                    ..Default::default()
                });
            }
            Entry {
                title: Text::plain(it.title.clone()),
                id: it.guid.to_string(),
                updated: date(it.updated.max(it.published)),
                published: Some(date(it.published)),
                authors: it.authors.iter().map(|a| person(a, None)).collect(),
                categories: it.categories.iter().map(|c| category(c)).collect(),
                links,
                summary: Some(Text::plain(it.summary.clone())).filter(|s| !s.value.is_empty()),
                content: Some(Content {
                    value: Some(it.content_html.clone()),
                    content_type: Some("html".to_owned()),
                    ..Default::default()
                }),
                ..Default::default()
            }
        })
        .collect::<Vec<_>>();
    let alternate = Link {
        href: meta.site_link.to_string(),
        rel: "alternate".to_owned(),
        mime_type: Some("text/html".to_owned()),
        ..Default::default()
    };
    let feed = Feed {
        title: Text::plain(meta.title.clone()),
        // A URN fixed by the feed id, so moving the published files does not re-create the feed.
        id: Guid::derive(&GuidKey::Explicit(format!("feed:{}", meta.id))).to_string(),
        updated: date(feed_updated(items)),
        authors: vec![person(&meta.publisher, Some(meta.site_link.to_string()))],
        // Self, the site, and the WebSub hubs for discovery.
        links: feed_links(meta, Format::Atom, Some(alternate)),
        subtitle: Some(Text::plain(meta.description.clone())),
        generator: Some(Generator {
            value: "noticefeed".to_owned(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        }),
        lang: Some(meta.language.clone()),
        entries,
        ..Default::default()
    };
    let mut buf = Vec::new();
    let config = WriteConfig {
        write_document_declaration: true,
        indent_size: Some(2),
    };
    // Writing to a Vec cannot fail; an error here would be a bug in atom_syndication.
    let written = feed.write_with_config(&mut buf, config);
    debug_assert!(written.is_ok());
    let mut out = String::from_utf8(buf).unwrap_or_default();
    out.push('\n');
    out
}

fn person(name: &str, uri: Option<String>) -> Person {
    Person {
        name: name.to_owned(),
        uri,
        ..Default::default()
    }
}

fn category(term: &str) -> Category {
    Category {
        term: term.to_owned(),
        ..Default::default()
    }
}
