//! JSON Feed 1.1 (<https://jsonfeed.org/version/1.1>): the same items in the same order as RSS
//! and Atom, the same GUID string as `id`, RFC 3339 dates in the feed's zone. Serialized with
//! serde from the structs below, in their field order, so the same items give the same bytes.

use serde::Serialize;

use super::{self_href, Format};
use crate::model::{FeedMeta, Item};

const VERSION: &str = "https://jsonfeed.org/version/1.1";

#[derive(Serialize)]
struct Feed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    /// Only with a public URL: a relative one would be useless to a reader.
    #[serde(skip_serializing_if = "Option::is_none")]
    feed_url: Option<String>,
    description: &'a str,
    authors: Vec<Author<'a>>,
    language: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub<'a>>,
    items: Vec<FeedItem<'a>>,
}

/// A WebSub hub (JSON Feed 1.1 `hubs`).
#[derive(Serialize)]
struct Hub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct Author<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
}

#[derive(Serialize)]
struct FeedItem<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    title: &'a str,
    content_html: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    summary: &'a str,
    date_published: String,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<Attachment<'a>>,
}

#[derive(Serialize)]
struct Attachment<'a> {
    url: &'a str,
    mime_type: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    title: &'a str,
    /// Left out when the size is unknown (stored as 0): 0 would claim an empty file.
    #[serde(skip_serializing_if = "Option::is_none")]
    size_in_bytes: Option<u64>,
}

pub(super) fn render(meta: &FeedMeta, items: &[Item]) -> String {
    let date = |d: chrono::DateTime<chrono::Utc>| d.with_timezone(&meta.timezone).to_rfc3339();
    let feed = Feed {
        version: VERSION,
        title: &meta.title,
        home_page_url: meta.site_link.as_str(),
        feed_url: self_href(meta, Format::Json),
        description: &meta.description,
        authors: vec![Author {
            name: &meta.publisher,
            url: Some(meta.site_link.as_str()),
        }],
        language: &meta.language,
        hubs: meta
            .hubs
            .iter()
            .map(|h| Hub {
                kind: "WebSub",
                url: h.as_str(),
            })
            .collect(),
        items: items
            .iter()
            .map(|it| FeedItem {
                id: it.guid.as_str(),
                url: it.link.as_ref().map(|l| l.as_str()),
                title: &it.title,
                content_html: &it.content_html,
                summary: &it.summary,
                date_published: date(it.published),
                // As Atom's `updated`: never before the publication.
                date_modified: date(it.updated.max(it.published)),
                authors: it
                    .authors
                    .iter()
                    .map(|a| Author { name: a, url: None })
                    .collect(),
                tags: &it.categories,
                attachments: it
                    .attachments
                    .iter()
                    .map(|a| Attachment {
                        url: a.url.as_str(),
                        mime_type: &a.mime,
                        title: &a.title,
                        size_in_bytes: (a.length > 0).then_some(a.length),
                    })
                    .collect(),
            })
            .collect(),
    };
    // Serializing these structs (strings, numbers, vectors) cannot fail.
    let mut out = serde_json::to_string_pretty(&feed).unwrap_or_default();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attachment as Att, CanonicalUrl, FeedId, Guid, GuidKey};
    use chrono::TimeZone as _;

    fn meta(public: Option<&str>) -> FeedMeta {
        FeedMeta {
            id: FeedId::parse("n").unwrap(),
            title: "通知 \"quoted\"".into(),
            description: "d".into(),
            publisher: "中国有色金属工业协会".into(),
            site_link: url::Url::parse("https://www.chinania.org.cn/").unwrap(),
            public_base: public.map(|p| url::Url::parse(p).unwrap()),
            hubs: Vec::new(),
            language: "zh-CN".into(),
            timezone: chrono_tz::Asia::Shanghai,
        }
    }

    fn item() -> Item {
        let t = chrono::Utc.with_ymd_and_hms(2026, 9, 8, 16, 0, 0).unwrap();
        Item {
            guid: Guid::derive(&GuidKey::Path("a.txt".into())),
            link: Some(CanonicalUrl::parse("https://www.chinania.org.cn/a.html").unwrap()),
            title: "会议 <b>".into(),
            published: t,
            date_estimated: false,
            updated: t,
            summary: String::new(),
            content_html: "<p>x</p>".into(),
            summary_derived: Default::default(),
            authors: vec!["秘书处".into()],
            categories: vec!["通知".into()],
            attachments: vec![Att {
                url: CanonicalUrl::parse("https://www.chinania.org.cn/a.pdf").unwrap(),
                title: String::new(),
                mime: "application/pdf".into(),
                length: 0,
            }],
        }
    }

    #[test]
    fn fields_dates_and_absent_values() {
        let text = render(&meta(None), &[item()]);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["version"], VERSION);
        assert!(v.get("feed_url").is_none(), "no relative feed_url");
        let it = &v["items"][0];
        assert_eq!(it["id"], item().guid.as_str());
        assert_eq!(it["date_published"], "2026-09-09T00:00:00+08:00");
        assert_eq!(it["tags"][0], "通知");
        assert_eq!(it["authors"][0]["name"], "秘书处");
        assert!(it.get("summary").is_none());
        assert!(it["attachments"][0].get("size_in_bytes").is_none());
        assert_eq!(it["attachments"][0]["mime_type"], "application/pdf");
        assert!(text.ends_with("}\n"));
        let v: serde_json::Value =
            serde_json::from_str(&render(&meta(Some("https://f.example/x/")), &[item()])).unwrap();
        assert_eq!(v["feed_url"], "https://f.example/x/n.json");
        assert!(v.get("hubs").is_none());
        let mut with_hub = meta(Some("https://f.example/x/"));
        with_hub.hubs = vec![url::Url::parse("https://hub.example/").unwrap()];
        let v: serde_json::Value = serde_json::from_str(&render(&with_hub, &[item()])).unwrap();
        assert_eq!(
            v["hubs"],
            serde_json::json!([{"type": "WebSub", "url": "https://hub.example/"}])
        );
    }
}
