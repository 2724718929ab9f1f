//! `noticefeed completions SHELL` and `noticefeed man`: generated from the clap definitions in
//! `cli`, so they can never disagree with `--help`.

use anyhow::{Context as _, Result};
use clap::CommandFactory as _;

use crate::cli::{Cli, CompletionsArgs};
use crate::run::{print_stdout, Outcome};

pub fn completions(args: &CompletionsArgs) -> Result<Outcome> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "noticefeed", &mut buf);
    write_stdout(&buf)
}

pub fn man() -> Result<Outcome> {
    let cmd = Cli::command();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .context("rendering the man page")?;
    // Each command's own options follow the main page, under a heading that names it
    // (clap_mangen titles every options section plain "OPTIONS").
    for sub in Cli::command().get_subcommands() {
        let mut section = Vec::new();
        clap_mangen::Man::new(sub.clone())
            .render_options_section(&mut section)
            .context("rendering the man page")?;
        let section = String::from_utf8_lossy(&section);
        let heading = format!(".SH \"{} OPTIONS\"", sub.get_name().to_uppercase());
        buf.extend_from_slice(section.replacen(".SH OPTIONS", &heading, 1).as_bytes());
    }
    write_stdout(&buf)
}

/// Generated text goes out through the same pipe-safe writer as every table.
fn write_stdout(bytes: &[u8]) -> Result<Outcome> {
    print_stdout(&String::from_utf8_lossy(bytes))?;
    Ok(Outcome::default())
}
