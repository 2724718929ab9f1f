//! `noticefeed init [DIR]`: a ready project for an installed binary, which has no repository
//! beside it. The shipped definitions and sample notices are embedded at compile time from the
//! repository's own `feeds/` and `notices/`, so there is one source of truth (a test compares
//! what `init` writes with those folders byte for byte).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use include_dir::{include_dir, Dir};

use crate::cli::InitArgs;
use crate::run::Outcome;

static FEEDS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/feeds");
static NOTICES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/notices");

/// The project settings file `init` writes: every setting shown, the optional ones commented.
pub const PROJECT_FILE: &str = crate::config::project::FILE_NAME;
const PROJECT_TEMPLATE: &str = include_str!("init/noticefeed.toml");

/// Every file `init` writes, relative to the project folder, with its bytes.
pub fn files() -> Vec<(PathBuf, &'static [u8])> {
    let mut out = vec![(PathBuf::from(PROJECT_FILE), PROJECT_TEMPLATE.as_bytes())];
    collect(&FEEDS, Path::new("feeds"), &mut out);
    collect(&NOTICES, Path::new("notices"), &mut out);
    out
}

fn collect(dir: &'static Dir<'static>, prefix: &Path, out: &mut Vec<(PathBuf, &'static [u8])>) {
    for f in dir.files() {
        out.push((prefix.join(f.path()), f.contents()));
    }
    for d in dir.dirs() {
        collect(d, prefix, out);
    }
}

pub fn run(args: &InitArgs) -> Result<Outcome> {
    let files = files();
    let existing: Vec<String> = files
        .iter()
        .map(|(rel, _)| args.dir.join(rel))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() && !args.force {
        anyhow::bail!(
            "{} already exist{} (first: {}); nothing written. Use --force to overwrite them",
            if existing.len() == 1 {
                "1 file".to_owned()
            } else {
                format!("{} files", existing.len())
            },
            if existing.len() == 1 { "s" } else { "" },
            existing[0]
        );
    }
    for (rel, bytes) in &files {
        let path = args.dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("creating folder {}", parent.display()))?;
        }
        fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    let feeds = files
        .iter()
        .filter(|(rel, _)| {
            rel.parent() == Some(Path::new("feeds")) && rel.extension().is_some_and(|e| e == "toml")
        })
        .count();
    eprintln!(
        "wrote {} files into {}: {PROJECT_FILE}, {feeds} feed definitions in feeds/, sample notices in notices/",
        files.len(),
        args.dir.display()
    );
    eprintln!("next: `noticefeed build notices` (offline), or `noticefeed build` for every feed");
    Ok(Outcome::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_file_written_is_one_the_build_reads() {
        let path = Path::new(PROJECT_FILE);
        let project = crate::config::Project::parse(path, PROJECT_TEMPLATE)
            .expect("the init template parses");
        assert!(project.public_url.is_none(), "public_url stays commented");
    }

    #[test]
    fn every_shipped_definition_and_preset_is_embedded() {
        let names: Vec<String> = files()
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect();
        for want in [
            "feeds/chinania-all.toml",
            "feeds/notices.toml",
            "feeds/sites/chinania.toml",
            "noticefeed.toml",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
        }
    }
}
