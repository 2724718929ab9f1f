//! noticefeed: an industry association's notices → RSS 2.0 and Atom 1.0 feeds with stable GUIDs.
//!
//! ```text
//! config (feeds/*.toml) → collect (local | scrape) → normalize → store → render (rss | atom) → write
//! ```
//!
//! Each module owns one step; `commands` has one module per command, and `run` the machinery
//! they share (lock, store, HTTP client, per-feed isolation, summary).

pub mod cli;
pub mod collect;
pub mod commands;
pub mod config;
pub mod model;
pub mod nesting;
pub mod normalize;
pub mod render;
pub mod run;
pub mod serve;
pub mod store;
pub mod text;
pub mod websub;
pub mod write;
