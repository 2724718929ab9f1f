//! One run at a time per store. Two overlapping cron runs would fetch everything twice and race
//! to replace the same output files; SQLite alone would serialize their writes but not their
//! runs.
//!
//! The lock is an exclusive advisory lock (`flock` on Unix, `LockFileEx` on Windows) on
//! `<state path>.lock`, held as long as the [`RunLock`] lives. The OS drops it when the process
//! dies however it dies, so a SIGKILL never leaves a stale lock behind, which a PID file would.
//! The lock file itself stays on disk, empty: deleting it while another process waits on it
//! would let a third process lock a new file of the same name.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use fs4::fs_std::FileExt;

/// Why the run lock could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    #[error("another noticefeed run holds {}; try again later or pass --wait", .path.display())]
    Busy { path: PathBuf },
    #[error("opening the lock file {}", .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("locking {}", .path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Proof that this process is the only run on a store; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    /// Closing the file releases the lock; it is never read or written.
    _file: File,
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock for the store at `state_path`. With `wait`, blocks until the other run
    /// ends; without, fails at once with [`LockError::Busy`] so cron gets a clear message and
    /// exit code instead of a pile of waiting processes.
    pub fn acquire(state_path: &Path, wait: bool) -> Result<RunLock, LockError> {
        let path = lock_path(state_path);
        let open_err = |source| LockError::Open {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(open_err)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(open_err)?;
        let lock_err = |source| LockError::Lock {
            path: path.clone(),
            source,
        };
        // Fully qualified: newer std has inherent `File` lock methods with overlapping names,
        // and our minimum Rust version predates them.
        if !FileExt::try_lock_exclusive(&file).map_err(lock_err)? {
            if !wait {
                return Err(LockError::Busy { path });
            }
            log::info!(
                "waiting for another noticefeed run to release {}",
                path.display()
            );
            loop {
                match FileExt::lock_exclusive(&file) {
                    Ok(()) => break,
                    // A signal handler ran while we slept; keep waiting.
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(lock_err(e)),
                }
            }
        }
        Ok(RunLock { _file: file, path })
    }

    /// The lock file's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `<state path>.lock`, appended to the whole name so `state.sqlite` locks `state.sqlite.lock`
/// and never collides with SQLite's own `-wal`/`-shm` files.
fn lock_path(state_path: &Path) -> PathBuf {
    let mut name: OsString = state_path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn run_lock_is_exclusive_and_can_be_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state/state.sqlite");
        let first = RunLock::acquire(&state, false).unwrap();
        assert_eq!(first.path(), dir.path().join("state/state.sqlite.lock"));

        // Another open file description, as a second process would have.
        let err = RunLock::acquire(&state, false).unwrap_err();
        assert!(matches!(err, LockError::Busy { .. }), "{err:?}");
        assert!(err.to_string().contains("--wait"), "{err}");

        // The waiter must not get the lock before `first` is dropped.
        let released = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waiter = {
            let (state, released) = (state.clone(), released.clone());
            std::thread::spawn(move || {
                let lock = RunLock::acquire(&state, true);
                assert!(released.load(std::sync::atomic::Ordering::SeqCst));
                lock.map(drop)
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        released.store(true, std::sync::atomic::Ordering::SeqCst);
        drop(first);
        waiter.join().unwrap().unwrap();
        // Released again when the waiter's lock was dropped.
        RunLock::acquire(&state, false).unwrap();
    }
}
