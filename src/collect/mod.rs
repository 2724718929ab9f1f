//! Collecting notices from a source. Each collector turns its source into `RawNotice`s and
//! nothing more: dates as the source wrote them (wall-clock time is put in the feed's zone, and
//! judged, by `normalize`), no GUIDs, no HTML cleaning (that is `normalize` too).
//!
//! - `walk`: one site channel: list pages, detail pages and attachment sizes, through `http`;
//! - `scrape`: a page's HTML and a preset's selectors → list entries or detail fields (pure);
//! - `local`: the notice files of a folder;
//! - `date`: dates as sources write them;
//! - `http`: every network byte (robots.txt, pacing, retries, charsets, `--mirror`).

pub mod date;
pub mod http;
pub mod local;
pub mod scrape;
pub mod walk;

/// The most body text one notice keeps (1 MiB): a notice is a page of text, and a 200 MB one
/// would otherwise be a 200 MB row and 200 MB feeds.
pub const MAX_CONTENT_BYTES: usize = 1024 * 1024;

/// Cuts `s` to [`MAX_CONTENT_BYTES`] on a character boundary; `Some(original length)` when it
/// did, for the caller's warning naming the file or page.
pub fn cap_content(s: &mut String) -> Option<usize> {
    if s.len() <= MAX_CONTENT_BYTES {
        return None;
    }
    let len = s.len();
    let mut cut = MAX_CONTENT_BYTES;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    Some(len)
}
