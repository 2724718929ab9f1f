//! The output folder: files are replaced atomically (a temporary file in the same folder, then
//! a rename), so a reader or a web server never sees half a feed, and left alone when their bytes
//! are unchanged, so mtimes, rsync, git and HTTP caches see no change.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a file could not be published.
#[derive(Debug, thiserror::Error)]
#[error("writing {}", path.display())]
pub struct Error {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Writes `bytes` to `path` unless it already holds exactly them. Returns whether it wrote.
pub fn publish(path: &Path, bytes: &[u8]) -> Result<bool, Error> {
    let err = |source| Error {
        path: path.to_owned(),
        source,
    };
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".noticefeed-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    // Durable before visible: after a crash the name points at the old or the new file, whole.
    tmp.as_file().sync_all().map_err(err)?;
    set_readable(tmp.as_file()).map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(true)
}

/// Removes temporary files a killed run left in `dir` (`.noticefeed-*.tmp`, never a feed's
/// name). Only called while holding the run lock, so no live run is writing them. Returns how
/// many were removed; a folder that does not exist yet has none.
pub fn sweep_temporaries(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(".noticefeed-") && name.ends_with(".tmp")
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

/// tempfile creates files 0600; published feeds are meant to be served, so 0644.
#[cfg(unix)]
fn set_readable(f: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_readable(_: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_once_then_leaves_unchanged_files_alone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out/x.xml");
        assert!(publish(&p, b"a").unwrap());
        let before = std::fs::metadata(&p).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!publish(&p, b"a").unwrap());
        assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), before);
        assert!(publish(&p, b"b").unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), b"b");
        let leftovers = std::fs::read_dir(dir.path().join("out")).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[test]
    fn a_killed_runs_temporaries_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".noticefeed-abc.tmp"), b"half").unwrap();
        std::fs::write(dir.path().join("x.atom.xml"), b"feed").unwrap();
        assert_eq!(sweep_temporaries(dir.path()), 1);
        assert_eq!(sweep_temporaries(&dir.path().join("missing")), 0);
        assert!(dir.path().join("x.atom.xml").exists());
    }
}
