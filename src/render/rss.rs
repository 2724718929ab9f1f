//! RSS 2.0 with the `atom`, `content` and `dc` extensions: RFC 822 dates in the feed's zone,
//! `<guid isPermaLink="false">` carrying the URN, full HTML in `content:encoded` and a
//! plain-text `description`.

use std::collections::BTreeMap;

use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Category, ChannelBuilder, Enclosure, Guid, ItemBuilder};

use super::{feed_links, feed_updated, Format};
use crate::model::{FeedMeta, Item};

pub(super) fn render(meta: &FeedMeta, items: &[Item]) -> String {
    // `to_rfc2822` panics on a year it cannot write; `normalize` keeps those out, and this
    // formatter would write one rather than end the run should one ever get here.
    let date = |d: chrono::DateTime<chrono::Utc>| super::rfc822(&d.with_timezone(&meta.timezone));
    let rss_items = items
        .iter()
        .map(|it| {
            let creators = it.authors.clone();
            ItemBuilder::default()
                .title(Some(it.title.clone()))
                .link(it.link.as_ref().map(|l| l.to_string()))
                // Readers decode `description` as HTML, so the plain-text summary is escaped:
                // a `<script>` typed in a notice must reach them as text, not as markup.
                .description(Some(crate::text::escape_html(&it.summary)))
                .content(Some(it.content_html.clone()))
                .pub_date(Some(date(it.published)))
                .guid(Some(Guid {
                    value: it.guid.to_string(),
                    permalink: false,
                }))
                .categories(
                    it.categories
                        .iter()
                        .map(|c| Category {
                            name: c.clone(),
                            domain: None,
                        })
                        .collect::<Vec<_>>(),
                )
                // RSS allows one enclosure; every attachment is listed in the content.
                .enclosure(it.attachments.first().map(|a| Enclosure {
                    url: a.url.to_string(),
                    length: a.length.to_string(),
                    mime_type: a.mime.clone(),
                }))
                .dublin_core_ext((!creators.is_empty()).then(|| DublinCoreExtension {
                    creators,
                    ..Default::default()
                }))
                .build()
        })
        .collect::<Vec<_>>();
    // The self link, and WebSub discovery: `<atom:link rel="hub">` beside it.
    let atom_links: Vec<Link> = feed_links(meta, Format::Rss, None);
    let namespaces = if atom_links.is_empty() {
        BTreeMap::new()
    } else {
        BTreeMap::from([("atom".to_owned(), "http://www.w3.org/2005/Atom".to_owned())])
    };
    let channel = ChannelBuilder::default()
        .title(meta.title.clone())
        .link(meta.site_link.to_string())
        .description(meta.description.clone())
        .language(Some(meta.language.clone()))
        .generator(Some(format!("noticefeed {}", env!("CARGO_PKG_VERSION"))))
        .docs(Some(
            "https://www.rssboard.org/rss-specification".to_owned(),
        ))
        .last_build_date(Some(date(feed_updated(items))))
        .pub_date(items.iter().map(|i| i.published).max().map(date))
        .atom_ext((!atom_links.is_empty()).then_some(AtomExtension { links: atom_links }))
        .namespaces(namespaces)
        .dublin_core_ext(Some(DublinCoreExtension {
            publishers: vec![meta.publisher.clone()],
            ..Default::default()
        }))
        .items(rss_items)
        .build();
    let mut buf = Vec::new();
    // Writing to a Vec cannot fail; an error here would be a bug in the rss crate.
    let written = channel.pretty_write_to(&mut buf, b' ', 2);
    debug_assert!(written.is_ok());
    let mut out = String::from_utf8(buf).unwrap_or_default();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn plain_text_is_escaped_for_html_readers() {
        assert_eq!(
            crate::text::escape_html("a < b & <script>\"x\"</script>"),
            "a &lt; b &amp; &lt;script&gt;&quot;x&quot;&lt;/script&gt;"
        );
    }
}

#[cfg(test)]
mod date_tests {
    use chrono::{TimeZone as _, Utc};

    #[test]
    fn the_date_format_equals_chronos_rfc2822_and_never_panics() {
        let tz = chrono_tz::Asia::Shanghai;
        for (y, m, d, h) in [
            (2026, 1, 3, 0),
            (1970, 1, 1, 0),
            (2026, 12, 31, 23),
            (9999, 12, 31, 15),
        ] {
            let t = Utc
                .with_ymd_and_hms(y, m, d, h, 5, 9)
                .unwrap()
                .with_timezone(&tz);
            assert_eq!(crate::render::rfc822(&t), t.to_rfc2822());
        }
        // Year 10000 in the zone: chrono's to_rfc2822 would panic here.
        let t = Utc
            .with_ymd_and_hms(9999, 12, 31, 20, 0, 0)
            .unwrap()
            .with_timezone(&tz);
        assert!(!crate::render::rfc822(&t).is_empty());
    }
}
