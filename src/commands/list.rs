//! `noticefeed list`: every definition validated (and the project file), one table row per
//! feed with its source, outputs, archive size and last success and failure. Never creates a
//! store; reads the one a build made.

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::cli::Global;
use crate::render::{self, Format};
use crate::run::{load_definitions, load_project, print_stdout, Outcome};
use crate::store::{self, Store};

pub fn run(global: &Global) -> Result<Outcome> {
    let defs = load_definitions(global)?;
    // `list` is how a definition change is checked before cron runs it: the project file too.
    load_project(global, None)?;
    // `list` never creates a store; it reports one if a build made it.
    let store = if global.state.exists() {
        Some(Store::open(&global.state)?)
    } else {
        None
    };
    let mut table =
        String::from("id\ttitle\tsource\toutputs\tarchived\tlast success\tlast failure\n");
    for def in &defs {
        let status = match &store {
            Some(s) => s.status(def.id())?,
            None => store::FeedStatus::default(),
        };
        let when =
            |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into());
        let failure = match (&status.last_failure, &status.last_error) {
            (Some(t), Some(e)) => format!("{} ({e})", t.to_rfc3339()),
            (t, _) => when(*t),
        };
        let outputs: Vec<String> = Format::ALL
            .iter()
            .map(|f| f.file_name(def.id().as_str()))
            .chain([render::html::page_name(def.id().as_str())])
            .collect();
        table.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            def.id(),
            def.meta.title,
            def.source.describe(),
            outputs.join(", "),
            status.archived,
            when(status.last_success),
            failure
        ));
    }
    print_stdout(&table)?;
    Ok(Outcome::default())
}
