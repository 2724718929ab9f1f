//! noticefeed: an industry association's notices → RSS 2.0 and Atom 1.0 feeds with stable GUIDs.
//!
//! ```text
//! config (feeds/*.toml) → collect (local | walk) → normalize → store → render → write
//! ```
//!
//! Each module owns one step; `commands` has one module per command, and `run` the machinery
//! they share (lock, store, HTTP client, per-feed isolation, summary). A module imports only the
//! modules below it: ARCHITECTURE.md has the table, `tests/it/architecture.rs` enforces it.

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
