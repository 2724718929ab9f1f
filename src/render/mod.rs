//! Items → feed documents, one module per format. Each renderer owns its format's rules (date
//! syntax, GUID attributes, enclosure shape) and returns the document as a string.
//!
//! Pure, with no clock: the feed-level `updated`/`lastBuildDate` is the newest item change, so
//! the same items always give the same bytes and an unchanged run touches no file.

mod atom;
mod rss;

use chrono::{DateTime, Utc};

use crate::model::{FeedMeta, Item};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rss,
    Atom,
}

impl Format {
    pub const ALL: [Format; 2] = [Format::Rss, Format::Atom];

    /// The output file name for a feed id.
    pub fn file_name(self, id: &str) -> String {
        match self {
            Format::Rss => format!("{id}.rss.xml"),
            Format::Atom => format!("{id}.atom.xml"),
        }
    }

    /// MIME type, for self links.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml",
            Format::Atom => "application/atom+xml",
        }
    }
}

/// Renders `items` (already ordered and limited) as one document.
pub fn render(meta: &FeedMeta, items: &[Item], format: Format) -> String {
    match format {
        Format::Rss => rss::render(meta, items),
        Format::Atom => atom::render(meta, items),
    }
}

/// The newest change among the items; for an empty feed, the Unix epoch (a fixed value, never
/// the wall clock).
fn feed_updated(items: &[Item]) -> DateTime<Utc> {
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
