//! Flag names and help text. The doc comments are what `--help` prints.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// Publish RSS 2.0 and Atom 1.0 feeds, with stable GUIDs, from an association's notices.
#[derive(Debug, Parser)]
#[command(name = "noticefeed", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: Global,
}

/// Flags every command takes.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Folder of feed definitions, one TOML file per feed (the file stem is the feed id).
    #[arg(long, global = true, value_name = "DIR", default_value = "feeds")]
    pub feeds: PathBuf,
    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail on stderr (-v progress, -vv debugging). RUST_LOG overrides.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Collect, normalize and write the feeds (all of them, or the ids named).
    Build(BuildArgs),
    /// Validate every definition and print each feed's id, title, source and outputs.
    List,
}

#[derive(Debug, Args, Clone)]
pub struct BuildArgs {
    /// Folder the feed files are written to.
    #[arg(long, value_name = "DIR", default_value = "public")]
    pub out: PathBuf,
    /// Feed ids to build (default: every definition in --feeds).
    #[arg(value_name = "FEED_ID")]
    pub ids: Vec<String>,
}
