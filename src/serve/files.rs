//! The output folder as the server sees it: which request paths name which file, what kind of
//! file it is, and its bytes with their validators.
//!
//! Refuses rather than normalizes: a path with `..`, `.`, an empty segment, a hidden name
//! (temporaries are `.noticefeed-*.tmp`), an encoded `/`, a backslash or a control character is
//! not found, whatever its spelling; a name that resolves (through symlinks) outside the folder
//! is not found; a folder is never listed. Only the kinds of file `build` writes (and a few
//! static-page companions) are served, so a store or a stray file in the folder stays private.
//!
//! `build` replaces files by rename, so an open handle always holds one whole version: each file
//! is read once per version and kept, keyed by (device, inode, mtime, size), with its hash.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::Bytes;
use percent_encoding::percent_decode_str;

/// What a served file is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub content_type: &'static str,
    /// Text worth compressing (and so varying on `Accept-Encoding`).
    pub text: bool,
}

/// File-name endings served, with their type and whether they are text, first match wins
/// (`.rss.xml` before `.xml`).
const KINDS: &[(&str, &str, bool)] = &[
    (".rss.xml", "application/rss+xml; charset=utf-8", true),
    (".atom.xml", "application/atom+xml; charset=utf-8", true),
    (".json", "application/feed+json; charset=utf-8", true),
    (".opml", "text/x-opml; charset=utf-8", true),
    (".html", "text/html; charset=utf-8", true),
    (".xml", "application/xml; charset=utf-8", true),
    (".css", "text/css; charset=utf-8", true),
    (".txt", "text/plain; charset=utf-8", true),
    (".svg", "image/svg+xml", true),
    (".png", "image/png", false),
    (".jpg", "image/jpeg", false),
    (".jpeg", "image/jpeg", false),
    (".webp", "image/webp", false),
    (".ico", "image/vnd.microsoft.icon", false),
];

/// The kind of a file name; `None` is never served.
pub fn kind(name: &str) -> Option<Kind> {
    let lower = name.to_ascii_lowercase();
    KINDS
        .iter()
        .find(|(ending, _, _)| lower.ends_with(ending))
        .map(|&(_, content_type, text)| Kind { content_type, text })
}

/// The folder-relative segments a request path names, or `None` when the path is refused.
/// `/` names `index.html`. Takes the path exactly as it came on the wire (percent-encoded).
pub fn segments(raw_path: &str) -> Option<Vec<String>> {
    let rest = raw_path.strip_prefix('/')?;
    if rest.is_empty() {
        return Some(vec!["index.html".to_owned()]);
    }
    rest.split('/').map(segment).collect()
}

/// One decoded path segment, or `None` when it could step out of the folder, name a hidden file
/// or mean something else on another OS.
fn segment(raw: &str) -> Option<String> {
    let decoded = percent_decode_str(raw).decode_utf8().ok()?;
    let refused = decoded.is_empty()
        || decoded.starts_with('.')
        || decoded
            .chars()
            .any(|c| matches!(c, '/' | '\\' | ':') || c.is_control());
    (!refused).then(|| decoded.into_owned())
}

/// One version of a file, read whole.
#[derive(Debug)]
pub struct Served {
    pub bytes: Bytes,
    /// Hex of the first 128 bits of the SHA-256 of the bytes: a strong validator.
    pub tag: String,
    pub modified: SystemTime,
    pub kind: Kind,
    key: FileKey,
}

/// Identifies one version of a file: a rename gives a new inode, an edit in place a new mtime
/// or size.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileKey {
    dev: u64,
    ino: u64,
    modified: SystemTime,
    len: u64,
}

impl FileKey {
    fn of(meta: &std::fs::Metadata) -> io::Result<Self> {
        #[cfg(unix)]
        let (dev, ino) = {
            use std::os::unix::fs::MetadataExt as _;
            (meta.dev(), meta.ino())
        };
        #[cfg(not(unix))]
        let (dev, ino) = (0, 0);
        Ok(Self {
            dev,
            ino,
            modified: meta.modified()?,
            len: meta.len(),
        })
    }
}

/// Files kept in memory beyond this many are dropped all at once; an output folder holds a few
/// files per feed, so this only bounds a folder that is not one.
const MAX_CACHED: usize = 4096;

/// The served folder and the file versions read so far.
#[derive(Debug)]
pub struct Folder {
    root: PathBuf,
    cache: Mutex<HashMap<PathBuf, Arc<Served>>>,
}

impl Folder {
    /// `root` must exist; it is resolved once, so a later symlink swap of the root itself does
    /// not move what is served.
    pub fn open(root: &Path) -> io::Result<Self> {
        let root = root.canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "not a directory",
            ));
        }
        Ok(Self {
            root,
            cache: Mutex::new(HashMap::new()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file `raw_path` names, or `None` (not found, refused, not a servable kind).
    /// Blocking: call it off the async workers.
    pub fn get(&self, raw_path: &str) -> io::Result<Option<Arc<Served>>> {
        let Some(segs) = segments(raw_path) else {
            return Ok(None);
        };
        let Some(kind) = segs.last().and_then(|n| kind(n)) else {
            return Ok(None);
        };
        let mut path = self.root.clone();
        path.extend(&segs);
        let real = match path.canonicalize() {
            Ok(p) => p,
            Err(e) if is_missing(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        // A symlink may point anywhere inside the folder, never outside it.
        if !real.starts_with(&self.root) {
            return Ok(None);
        }
        let mut file = match File::open(&real) {
            Ok(f) => f,
            Err(e) if is_missing(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Ok(None);
        }
        let key = FileKey::of(&meta)?;
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(hit) = cache.get(&real).filter(|s| s.key == key) {
            return Ok(Some(hit.clone()));
        }
        drop(cache);
        // The handle holds one whole version even if the name is replaced meanwhile.
        let mut bytes = Vec::with_capacity(usize::try_from(key.len).unwrap_or(0));
        file.read_to_end(&mut bytes)?;
        // Half the digest: 128 bits tell versions of one file apart.
        let mut tag = crate::model::sha256_hex(&bytes);
        tag.truncate(32);
        let served = Arc::new(Served {
            bytes: Bytes::from(bytes),
            tag,
            modified: key.modified,
            kind,
            key,
        });
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(real, served.clone());
        Ok(Some(served))
    }
}

fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::PermissionDenied
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_and_the_root() {
        assert_eq!(segments("/"), Some(vec!["index.html".into()]));
        assert_eq!(
            segments("/notices.rss.xml"),
            Some(vec!["notices.rss.xml".into()])
        );
        assert_eq!(
            segments("/a%20b/%E9%80%9A.html"),
            Some(vec!["a b".into(), "通.html".into()])
        );
    }

    #[test]
    fn every_traversal_spelling_is_refused() {
        for p in [
            "/..",
            "/../etc/passwd",
            "/a/../b.html",
            "/%2e%2e/x.html",
            "/%2E%2E/x.html",
            "/.%2e/x.html",
            "/a%2f..%2fb.html",
            "/a%2Fb.html",
            "/..%5cx.html",
            "/a\\b.html",
            "/%5c..%5cx.html",
            "/./x.html",
            "//x.html",
            "/a//b.html",
            "/dir/",
            "/.noticefeed-1.tmp",
            "/.hidden.html",
            "/x%00.html",
            "/c:x.html",
            "/%ff.html",
            "x.html",
        ] {
            assert_eq!(segments(p), None, "{p}");
        }
    }

    #[test]
    fn kinds_carry_their_charset() {
        assert_eq!(
            kind("a.rss.xml").unwrap().content_type,
            "application/rss+xml; charset=utf-8"
        );
        assert_eq!(
            kind("a.atom.xml").unwrap().content_type,
            "application/atom+xml; charset=utf-8"
        );
        assert_eq!(
            kind("a.json").unwrap().content_type,
            "application/feed+json; charset=utf-8"
        );
        assert_eq!(
            kind("feeds.opml").unwrap().content_type,
            "text/x-opml; charset=utf-8"
        );
        assert_eq!(
            kind("index.html").unwrap().content_type,
            "text/html; charset=utf-8"
        );
        assert_eq!(kind("state.sqlite"), None);
        assert_eq!(kind("notices.rss.xml.gz"), None);
    }

    #[test]
    fn a_new_version_is_read_again_and_an_old_one_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let folder = Folder::open(dir.path()).unwrap();
        crate::write::publish(&dir.path().join("a.html"), b"one").unwrap();
        let first = folder.get("/a.html").unwrap().unwrap();
        assert_eq!(&first.bytes[..], b"one");
        let again = folder.get("/a.html").unwrap().unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "an unchanged file is not read again"
        );
        crate::write::publish(&dir.path().join("a.html"), b"two").unwrap();
        let second = folder.get("/a.html").unwrap().unwrap();
        assert_eq!(&second.bytes[..], b"two");
        assert_ne!(first.tag, second.tag);
        assert!(folder.get("/missing.html").unwrap().is_none());
        assert!(folder.get("/a.unknown").unwrap().is_none());
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_may_not_leave_the_folder() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.html"), b"secret").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("real.html"), b"real").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.html"),
            dir.path().join("s.html"),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("d")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("real.html"), dir.path().join("in.html"))
            .unwrap();
        let folder = Folder::open(dir.path()).unwrap();
        assert!(folder.get("/s.html").unwrap().is_none());
        assert!(folder.get("/d/secret.html").unwrap().is_none());
        assert_eq!(&folder.get("/in.html").unwrap().unwrap().bytes[..], b"real");
    }
}
