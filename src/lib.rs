//! noticefeed: an industry association's notices → RSS 2.0 and Atom 1.0 feeds with stable GUIDs.
//!
//! ```text
//! config (feeds/*.toml) → collect (local | scrape) → normalize → store → render (rss | atom) → write
//! ```
//!
//! Each module owns one step; `app` orders them and isolates one feed's failure from the others.

pub mod app;
pub mod cli;
pub mod collect;
pub mod commands;
pub mod config;
pub mod model;
pub mod normalize;
pub mod render;
pub mod serve;
pub mod store;
pub mod websub;
pub mod write;
