//! Notices for unit tests of every layer: one spelling of a scraped-looking notice, so a test
//! of the store and a test of the change rules speak of the same thing.

use chrono::{DateTime, TimeZone, Utc};

use super::{Attachment, CanonicalUrl, FeedId, Guid, GuidKey, Item};

/// January `day` of 2026 at `hour`:00 UTC.
pub fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, day, hour, 0, 0).unwrap()
}

pub fn feed(id: &str) -> FeedId {
    FeedId::parse(id).unwrap()
}

pub fn link(n: u32) -> CanonicalUrl {
    CanonicalUrl::parse(&format!(
        "https://www.chinania.org.cn/html/x/2026/{n}.html?b=2&a=1"
    ))
    .unwrap()
}

/// A scraped-looking notice `n`, published on January `day`.
pub fn notice(n: u32, day: u32) -> Item {
    let link = link(n);
    Item {
        guid: Guid::derive(&GuidKey::Link(link.clone())),
        link: Some(link.clone()),
        title: format!("关于召开第{n}次会议的通知"),
        published: at(day, 8),
        date_estimated: false,
        updated: at(day, 8),
        summary: format!("summary {n}"),
        content_html: format!("<p>body {n}</p>"),
        summary_derived: Default::default(),
        authors: vec!["秘书处".into()],
        categories: vec!["通知公告".into(), "会议".into()],
        attachments: vec![Attachment {
            url: CanonicalUrl::parse(&format!("https://h/uploads/附件{n}.docx")).unwrap(),
            title: "回执".into(),
            mime: "application/vnd.openxmlformats-officedocument.wordprocessingml.document".into(),
            length: 12_345,
        }],
    }
}
