//! Flag names and help text. The doc comments are what `--help` prints.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};
use url::Url;

use crate::config::MirrorSpec;

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
    /// The project file (public URL, WebSub hubs). Default: noticefeed.toml in the folder that
    /// holds --feeds, if it exists.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The SQLite store that archives every notice ever seen and the HTTP cache.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        default_value = ".noticefeed/state.sqlite"
    )]
    pub state: PathBuf,
    /// Fetch ORIGIN's URLs from BASE (http://127.0.0.1:PORT or file:///folder); links and GUIDs
    /// keep ORIGIN. Repeatable.
    #[arg(long, global = true, value_name = "ORIGIN=BASE")]
    pub mirror: Vec<MirrorSpec>,
    /// Minimum gap between two requests to one host, in milliseconds, for this run (overrides
    /// the site's `delay_ms`; local mirrors and tests use 0).
    #[arg(long, global = true, value_name = "MS")]
    pub delay_ms: Option<u64>,
    /// How long one request may take, headers and body (e.g. `20s`, `500ms`). A host that
    /// leaves three requests in a row unanswered is given up for the run.
    #[arg(long, global = true, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "20s")]
    pub timeout: Duration,
    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail on stderr (-v progress, -vv debugging). RUST_LOG overrides.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Collect, normalize, archive and write the feeds (all of them, or the ids named).
    Build(BuildArgs),
    /// Fetch one feed's source and print what its definition extracts; writes nothing.
    Check(CheckArgs),
    /// Validate every definition and print each feed's id, title, source, outputs and archive.
    List,
    /// Serve the output folder over HTTP (with `--every`, rebuild it on a schedule too).
    Serve(ServeArgs),
    /// Write a ready project: noticefeed.toml, feeds/ with the shipped definitions, sample notices.
    Init(InitArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(CompletionsArgs),
    /// Print the man page (roff) to stdout: `noticefeed man > noticefeed.1`.
    Man,
    /// Collect only: save every page a build needs (robots.txt, list and detail pages,
    /// attachment sizes) under DIR/<host>/, laid out like the site, for a host that cannot reach
    /// the site to `build --mirror ORIGIN=file:///DIR/<host>/` from. Needs no store.
    Fetch(FetchArgs),
}

#[derive(Debug, Args, Clone)]
pub struct InitArgs {
    /// Folder to write the project into (created if missing).
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Overwrite files that already exist.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args, Clone)]
pub struct CompletionsArgs {
    /// The shell to write completions for.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args, Clone)]
pub struct BuildArgs {
    /// Folder the feed files are written to.
    #[arg(long, value_name = "DIR", default_value = "public")]
    pub out: PathBuf,
    /// Where the output folder is served (https://host/path/): self links, the OPML and the
    /// index use it. Overrides the project file's `public_url`; a feed's own still wins.
    #[arg(long, value_name = "URL", value_parser = crate::config::project::public_base)]
    pub public_url: Option<Url>,
    /// Walk N list pages of every scraped channel this once, to fill the archive.
    #[arg(long, value_name = "N")]
    pub backfill: Option<u32>,
    /// Request detail pages of notices already in the store again, and read every local notice
    /// file again even when none changed.
    #[arg(long)]
    pub refresh: bool,
    /// Write the run's per-feed summary as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Wait for another run on the same store to finish instead of exiting.
    #[arg(long)]
    pub wait: bool,
    /// End the collection after this long (e.g. `10m`, `90s`): what was collected is
    /// published, the feeds not reached keep their previous files, and the run exits 1.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "10m")]
    pub deadline: Duration,
    /// Feed ids to build (default: every definition in --feeds).
    #[arg(value_name = "FEED_ID")]
    pub ids: Vec<String>,
}

#[derive(Debug, Args, Clone)]
pub struct CheckArgs {
    /// The feed to check (a definition in --feeds).
    #[arg(value_name = "FEED_ID", required_unless_present = "definition")]
    pub id: Option<String>,
    /// Check this definition file instead of one in --feeds (a named site preset is looked up
    /// in `sites/` beside the file).
    #[arg(long, value_name = "PATH", conflicts_with = "id")]
    pub definition: Option<PathBuf>,
    /// Walk N list pages instead of the definition's `max_pages`.
    #[arg(long, value_name = "N")]
    pub pages: Option<u32>,
    /// Print the items as JSON (one object with `items` and `warnings`) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0: any free port, printed at start-up).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Folder to serve (the one `build` writes to).
    #[arg(long, value_name = "DIR", default_value = "public")]
    pub out: PathBuf,
    /// Where the folder is reached from outside (behind a proxy, say), for the builds of
    /// `--every`. Default: the project file's `public_url`, else `http://<bound address>/`.
    #[arg(long, value_name = "URL", value_parser = crate::config::project::public_base)]
    pub public_url: Option<Url>,
    /// Also build every feed at start-up and then on this schedule (e.g. 30m, 1h, 90s), under
    /// the same store and run lock as `build`.
    #[arg(long, value_name = "DURATION")]
    pub every: Option<humantime::Duration>,
    /// How long clients and caches may reuse a file without asking again
    /// (`Cache-Control: max-age`). Default: the project file's `cache_max_age`, else 5m.
    #[arg(long, value_name = "DURATION")]
    pub max_age: Option<humantime::Duration>,
}

#[derive(Debug, Args, Clone)]
pub struct FetchArgs {
    /// Folder the pages are saved in, one subfolder per host (`www.chinania.org.cn/`).
    #[arg(long, value_name = "DIR", default_value = "site-copy")]
    pub out_dir: PathBuf,
    /// Walk N list pages of every scraped channel instead of the definition's `max_pages`.
    #[arg(long, value_name = "N")]
    pub backfill: Option<u32>,
    /// End the collection after this long (e.g. `10m`); what was fetched by then is saved.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "10m")]
    pub deadline: Duration,
    /// Feed ids to fetch (default: every scraped definition in --feeds; a merged feed's members).
    #[arg(value_name = "FEED_ID")]
    pub ids: Vec<String>,
}
