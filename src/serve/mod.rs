//! `noticefeed serve`: the output folder over HTTP/1.1, read-only, with the headers feed readers
//! rely on, and (with `--every`) the builds on a schedule in the same process.
//!
//! hyper (through axum) speaks HTTP; tower-http negotiates gzip and brotli. What is ours: which
//! path names which file (`files`), the validators (a strong `ETag` from the bytes,
//! `Last-Modified` from the mtime) and the conditional answers, and the schedule. A compressed
//! body is another representation of the same file, so it gets its own strong tag
//! (`"<hash>-gzip"`, `"<hash>-br"`, as Apache does); a client revalidating any of them gets a
//! `304`.
//!
//! Builds run on their own thread: a build is synchronous (the SQLite connection is `!Sync`)
//! and starts its own async runtime for fetching. Stopping (SIGTERM, Ctrl-C) stops accepting
//! requests at once and lets a running build finish; the next one never starts.

mod files;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse as _, Response};
use axum::Router;
use headers::{ETag, HeaderMapExt as _, IfModifiedSince, IfNoneMatch, LastModified};
use tower_http::compression::CompressionLayer;

pub use files::{kind, segments, Folder, Kind};

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("serving {}: the output folder cannot be opened", path.display())]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("listening on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("starting the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("serving HTTP")]
    Serve(#[source] std::io::Error),
}

/// How to serve.
#[derive(Debug, Clone)]
pub struct Options {
    pub bind: SocketAddr,
    pub out: PathBuf,
    /// `Cache-Control: max-age` of every file.
    pub max_age: Duration,
}

/// How long open connections get to finish after a stop is asked for.
const DRAIN: Duration = Duration::from_secs(5);

/// A server bound to its address, not serving yet: the caller learns the address (the public
/// URL defaults to it) before the first build.
pub struct Bound {
    runtime: tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    state: Arc<Shared>,
}

struct Shared {
    folder: Folder,
    cache_control: HeaderValue,
}

/// Builds on a schedule: the first at start-up, then every `every`, start to start (a run that
/// overruns is followed at once, never by a pile-up).
pub struct Schedule {
    pub every: Duration,
    pub run: Box<dyn FnMut() + Send>,
}

impl Bound {
    /// Opens the folder (created when missing, so a first build can fill it) and binds.
    pub fn bind(opts: &Options) -> Result<Self, Error> {
        let folder_err = |source| Error::Folder {
            path: opts.out.clone(),
            source,
        };
        std::fs::create_dir_all(&opts.out).map_err(folder_err)?;
        let folder = Folder::open(&opts.out).map_err(folder_err)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        let bind_err = |source| Error::Bind {
            addr: opts.bind,
            source,
        };
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(opts.bind))
            .map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        let cache_control =
            HeaderValue::from_str(&format!("public, max-age={}", opts.max_age.as_secs()))
                .unwrap_or_else(|_| HeaderValue::from_static("no-cache"));
        Ok(Self {
            runtime,
            listener,
            addr,
            state: Arc::new(Shared {
                folder,
                cache_control,
            }),
        })
    }

    /// The address actually bound (port 0 becomes a real port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn root(&self) -> &Path {
        self.state.folder.root()
    }

    /// Serves until SIGTERM or Ctrl-C, running `schedule` meanwhile; returns once a running
    /// build has finished and open connections are drained.
    pub fn run(self, schedule: Option<Schedule>) -> Result<(), Error> {
        let (stop_builds, stopped) = mpsc::channel::<()>();
        let builder = schedule.map(|s| {
            std::thread::Builder::new()
                .name("noticefeed-build".into())
                .spawn(move || scheduled(s, &stopped))
        });
        let builder = match builder.transpose() {
            Ok(b) => b,
            Err(e) => return Err(Error::Runtime(e)),
        };
        let app = router(self.state);
        let served = self.runtime.block_on(async move {
            let (tx, mut rx) = tokio::sync::watch::channel(false);
            let server = axum::serve(
                self.listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = rx.changed().await;
            });
            let mut server = tokio::spawn(async move { server.await });
            tokio::select! {
                done = &mut server => return done.unwrap_or_else(|e| Err(std::io::Error::other(e))),
                () = stop_signal() => {}
            }
            log::info!("stopping: no new requests; a running build finishes first");
            let _ = tx.send(true);
            match tokio::time::timeout(DRAIN, &mut server).await {
                Ok(done) => done.unwrap_or_else(|e| Err(std::io::Error::other(e))),
                Err(_) => {
                    server.abort();
                    Ok(())
                }
            }
        });
        drop(stop_builds);
        if let Some(b) = builder {
            if b.join().is_err() {
                log::error!("the build thread panicked");
            }
        }
        served.map_err(Error::Serve)
    }
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                log::warn!("cannot listen for SIGTERM ({e}); only Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The build thread: run, wait until the next start or a stop, repeat.
fn scheduled(mut s: Schedule, stopped: &mpsc::Receiver<()>) {
    loop {
        let started = Instant::now();
        (s.run)();
        let wait = s.every.saturating_sub(started.elapsed());
        match stopped.recv_timeout(wait) {
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            // A stop: the sender is dropped (or, never, sends).
            _ => break,
        }
    }
}

fn router(state: Arc<Shared>) -> Router {
    Router::new()
        .fallback(serve_file)
        .with_state(state)
        .layer(CompressionLayer::new())
        .layer(middleware::map_response(tag_encoding))
        .layer(middleware::from_fn(log_request))
}

/// GET and HEAD of one file.
async fn serve_file(State(state): State<Arc<Shared>>, req: Request) -> Response {
    let method = req.method().clone();
    if method != Method::GET && method != Method::HEAD {
        let mut res = (StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n").into_response();
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return res;
    }
    let path = req.uri().path().to_owned();
    let state2 = state.clone();
    let found = tokio::task::spawn_blocking(move || state2.folder.get(&path)).await;
    let file = match found {
        Ok(Ok(Some(f))) => f,
        Ok(Ok(None)) => return not_found(),
        Ok(Err(e)) => {
            log::error!("reading {}: {e}", req.uri().path());
            return (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the file\n").into_response();
        }
        Err(e) => {
            log::error!("reading {}: {e}", req.uri().path());
            return (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the file\n").into_response();
        }
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.kind.content_type),
    );
    headers.insert(header::CACHE_CONTROL, state.cache_control.clone());
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if file.kind.text {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    headers.typed_insert(LastModified::from(file.modified));
    let identity = entity_tag(&file.tag, "");
    if let Some(tag) = not_modified(req.headers(), &file.tag, file.modified) {
        headers.typed_insert(tag);
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    if let Some(tag) = identity {
        headers.typed_insert(tag);
    }
    (StatusCode::OK, headers, Body::from(file.bytes.clone())).into_response()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found\n",
    )
        .into_response()
}

/// The content codings a representation's tag is suffixed with; `""` is the identity.
const CODINGS: [&str; 3] = ["", "gzip", "br"];

fn entity_tag(hash: &str, coding: &str) -> Option<ETag> {
    let quoted = if coding.is_empty() {
        format!("\"{hash}\"")
    } else {
        format!("\"{hash}-{coding}\"")
    };
    quoted.parse().ok()
}

/// The tag to answer `304` with, when the request's conditionals say the client's copy is
/// current. `If-None-Match` wins over `If-Modified-Since` (RFC 9110 §13.2.2).
fn not_modified(req: &HeaderMap, hash: &str, modified: std::time::SystemTime) -> Option<ETag> {
    if let Some(inm) = req.typed_get::<IfNoneMatch>() {
        return CODINGS
            .iter()
            .filter_map(|c| entity_tag(hash, c))
            .find(|t| !inm.precondition_passes(t));
    }
    let ims = req.typed_get::<IfModifiedSince>()?;
    if ims.is_modified(modified) {
        None
    } else {
        entity_tag(hash, "")
    }
}

/// A body compressed on the way out is another representation: its strong tag names the
/// coding.
async fn tag_encoding(mut res: Response) -> Response {
    let coding = res
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let hash = res
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix('"')?.strip_suffix('"').map(str::to_owned));
    if let (Some(coding), Some(hash)) = (coding, hash) {
        if let Some(tag) = entity_tag(&hash, &coding) {
            res.headers_mut().typed_insert(tag);
        }
    }
    res
}

/// One line per request at `-v`.
async fn log_request(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    if !log::log_enabled!(log::Level::Info) {
        return next.run(req).await;
    }
    let started = Instant::now();
    let method = req.method().clone();
    let target = req.uri().to_string();
    let res = next.run(req).await;
    let coding = res
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|c| format!(" {c}"))
        .unwrap_or_default();
    log::info!(
        "{peer} \"{method} {target}\" {}{coding} {:.1} ms",
        res.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn req(name: &'static str, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn if_none_match_matches_any_representation_and_echoes_it() {
        let now = SystemTime::now();
        let hit = |v| not_modified(&req("if-none-match", v), "abc", now);
        assert_eq!(hit("\"abc\""), entity_tag("abc", ""));
        assert_eq!(hit("\"x\", \"abc-br\""), entity_tag("abc", "br"));
        assert_eq!(hit("W/\"abc-gzip\""), entity_tag("abc", "gzip"));
        assert_eq!(hit("*"), entity_tag("abc", ""));
        assert_eq!(hit("\"abd\""), None);
    }

    #[test]
    fn if_none_match_wins_over_if_modified_since() {
        let modified = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = req("if-modified-since", "Wed, 01 Jan 2025 00:00:00 GMT");
        assert_eq!(
            not_modified(&h, "abc", modified),
            entity_tag("abc", ""),
            "a later date is a hit"
        );
        h.insert("if-none-match", HeaderValue::from_static("\"other\""));
        assert_eq!(not_modified(&h, "abc", modified), None);
        let older = req("if-modified-since", "Wed, 01 Jan 2020 00:00:00 GMT");
        assert_eq!(not_modified(&older, "abc", modified), None);
    }
}
