//! A real HTTP/1.1 server on 127.0.0.1 for the integration tests: serves a folder like a static
//! site (directory → index.html, strong ETag, 304 on If-None-Match), maps `?page=N` to
//! `name.page-N.html` for sites that paginate by query, and logs every request so tests can
//! count them. Stopped when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    /// Path and query as sent.
    pub target: String,
    pub status: u16,
    pub if_none_match: Option<String>,
    pub user_agent: Option<String>,
}

pub struct Server {
    pub port: u16,
    root: Arc<Mutex<PathBuf>>,
    log: Arc<Mutex<Vec<Logged>>>,
    stall: Arc<Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

/// What a handler thread shares with the server.
#[derive(Clone)]
struct Shared {
    root: Arc<Mutex<PathBuf>>,
    log: Arc<Mutex<Vec<Logged>>>,
    stall: Arc<Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Serves `root` on a free port of 127.0.0.1.
    pub fn start(root: &Path) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let root = Arc::new(Mutex::new(root.to_owned()));
        let log = Arc::new(Mutex::new(Vec::new()));
        let stall = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Shared {
            root: root.clone(),
            log: log.clone(),
            stall: stall.clone(),
            stop: stop.clone(),
        };
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let shared = shared.clone();
                        std::thread::spawn(move || {
                            let _ = handle(stream, &shared);
                        });
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        });
        Server {
            port,
            root,
            log,
            stall,
            stop,
            handle: Some(handle),
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Serve another folder from now on (a site that changed between runs).
    pub fn set_root(&self, root: &Path) {
        *self.root.lock().unwrap() = root.to_owned();
    }

    /// From now on, requests whose path starts with `prefix` are read and never answered (the
    /// connection stays open until the server stops), as a stalled server or a firewall that
    /// drops answers behaves. `""` stalls everything.
    pub fn stall(&self, prefix: &str) {
        *self.stall.lock().unwrap() = Some(prefix.to_owned());
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.log.lock().unwrap().clone()
    }

    pub fn clear_log(&self) {
        self.log.lock().unwrap().clear();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("html") => "text/html",
        Some("txt") => "text/plain",
        Some("pdf") => "application/pdf",
        Some("jpg") => "image/jpeg",
        _ => "application/octet-stream",
    }
}

fn handle(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let (root, log) = (&shared.root, &shared.log);
    stream.set_nonblocking(false)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default().to_owned();
        let mut inm = None;
        let mut ua = None;
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let v = v.trim().to_owned();
                match k.trim().to_ascii_lowercase().as_str() {
                    "if-none-match" => inm = Some(v),
                    "user-agent" => ua = Some(v),
                    "content-length" => length = v.parse().unwrap_or(0),
                    _ => {}
                }
            }
        }
        if length > 0 {
            let mut body = vec![0; length];
            reader.read_exact(&mut body)?;
        }
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let stalled = shared
            .stall
            .lock()
            .unwrap()
            .as_deref()
            .is_some_and(|p| path.starts_with(p));
        if stalled {
            log.lock().unwrap().push(Logged {
                method,
                target,
                status: 0,
                if_none_match: inm,
                user_agent: ua,
            });
            while !shared.stop.load(Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            return Ok(());
        }
        let root = root.lock().unwrap().clone();
        let rel = percent_decode(path);
        let mut fs = root.join(rel.trim_start_matches('/'));
        if rel.split('/').any(|p| p == "..") {
            fs = root.join("__nope__");
        }
        if fs.is_dir() {
            fs = fs.join("index.html");
        }
        if let Some(page) = query.split('&').find_map(|kv| kv.strip_prefix("page=")) {
            let stem = fs
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("index")
                .to_owned();
            fs = fs.with_file_name(format!("{stem}.page-{page}.html"));
        }
        let (status, body, etag, ctype) = match std::fs::read(&fs) {
            Ok(data) => {
                let etag = format!(
                    "\"{:x}-{}\"",
                    data.iter()
                        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(*b as u64)),
                    data.len()
                );
                if inm.as_deref() == Some(etag.as_str()) {
                    (304, Vec::new(), Some(etag), "text/html")
                } else {
                    (200, data, Some(etag), content_type(&fs))
                }
            }
            Err(_) => (404, b"not found\n".to_vec(), None, "text/plain"),
        };
        log.lock().unwrap().push(Logged {
            method: method.clone(),
            target: target.clone(),
            status,
            if_none_match: inm,
            user_agent: ua,
        });
        let reason = match status {
            200 => "OK",
            304 => "Not Modified",
            _ => "Not Found",
        };
        let mut head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\n",
            if status == 304 { 0 } else { body.len() }
        );
        if status != 304 {
            head.push_str(&format!("Content-Type: {ctype}\r\n"));
        }
        if let Some(e) = etag {
            head.push_str(&format!("ETag: {e}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        if method != "HEAD" && status != 304 {
            stream.write_all(&body)?;
        }
        stream.flush()?;
    }
}

/// A copy of the chinania mirror that a test may change, served on 127.0.0.1.
pub fn serve_mirror_copy() -> (tempfile::TempDir, Server) {
    let copy = tempfile::tempdir().unwrap();
    crate::support::copy_dir(&crate::support::chinania_mirror(), copy.path());
    let server = Server::start(copy.path());
    (copy, server)
}
