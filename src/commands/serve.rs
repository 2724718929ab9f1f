//! `noticefeed serve`: the output folder over HTTP, and with `--every` the scheduled builds.

use std::time::Duration;

use anyhow::{Context as _, Result};

use crate::cli::{BuildArgs, Global, ServeArgs};
use crate::config;
use crate::run::{load_project, Outcome};
use crate::store;

/// `serve`, and with `--every` the scheduled builds: a build that fails or cannot start (the
/// lock is held by a cron run, a definition was broken meanwhile) is logged and the next one
/// tried on schedule; the files already served stay as they were.
pub fn run(global: &Global, args: &ServeArgs) -> Result<Outcome> {
    let every = args.every.map(Duration::from);
    if every.is_some_and(|e| e.is_zero()) {
        anyhow::bail!("--every must be longer than zero");
    }
    // Broken settings or definitions stop the start, not a later run.
    let project = load_project(global, args.public_url.as_ref())?;
    if every.is_some() {
        config::load_dir(&global.feeds)?;
    }
    let bound = crate::serve::Bound::bind(&crate::serve::Options {
        bind: args.bind,
        out: args.out.clone(),
        max_age: args
            .max_age
            .map(Duration::from)
            .or(project.cache_max_age)
            .unwrap_or(Duration::from_secs(300)),
    })?;
    let here = format!("http://{}/", bound.addr());
    if !global.quiet {
        eprintln!("serving {} at {here}", bound.root().display());
    }
    // The builds' public URL: the flag's or the file's, else where this server answers (an
    // unspecified address such as 0.0.0.0 answers nowhere in particular: no self links then).
    let public_url = match &project.public_url {
        Some(u) => Some(u.clone()),
        None if bound.addr().ip().is_unspecified() => {
            if every.is_some() {
                log::warn!(
                    "bound to {}: set `public_url` in {} or pass --public-url so the feeds \
                     carry absolute self links",
                    bound.addr(),
                    project.path.display()
                );
            }
            None
        }
        None => Some(url::Url::parse(&here).context("the bound address as a URL")?),
    };
    let schedule = every.map(|every| {
        let global = global.clone();
        let build_args = BuildArgs {
            out: args.out.clone(),
            public_url,
            // `build`'s default.
            deadline: Duration::from_secs(600),
            backfill: None,
            refresh: false,
            report: None,
            wait: false,
            ids: Vec::new(),
        };
        crate::serve::Schedule {
            every,
            run: Box::new(move || match super::build::run(&global, &build_args) {
                Ok(o) if o.ok() => log::info!("build finished"),
                Ok(o) => log::warn!(
                    "build finished: {} feeds and {} notices failed",
                    o.feeds_failed,
                    o.notices_failed
                ),
                Err(e) => match e.downcast_ref::<store::LockError>() {
                    Some(store::LockError::Busy { path }) => log::warn!(
                        "scheduled build skipped: another noticefeed run holds {}; the next \
                         one is due in {}",
                        path.display(),
                        humantime::format_duration(every)
                    ),
                    _ => log::error!("build: {e:#}"),
                },
            }),
        }
    });
    bound.run(schedule)?;
    Ok(Outcome::default())
}
