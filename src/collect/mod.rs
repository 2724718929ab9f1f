//! Collecting notices from a source. Each collector turns its source into `RawNotice`s and
//! nothing more: no dates in zones, no GUIDs, no HTML cleaning (that is `normalize`).

pub mod http;
pub mod local;
pub mod scrape;
pub mod site;
