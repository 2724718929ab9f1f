//! Every network byte of noticefeed goes through here (issue 5): an honest User-Agent, robots.txt,
//! per-host pacing with a global cap, bounded retries that honour `Retry-After`, connect and total
//! timeouts, a body cap enforced while streaming, manual redirects, conditional GETs, charset
//! detection (GBK read as GB18030), and `--mirror` (issue 3).
//!
//! robots.txt is read once per origin per run, and across runs through a [`RobotsCache`] (the
//! store, wired in by `app`): a copy younger than [`HttpOptions::robots_ttl`] is used without any
//! request, an older one is revalidated with a conditional GET. That is what lets a rerun against
//! an unchanged site make one conditional request per list page and nothing else (issue 4).
//!
//! It refuses HTML parsing: a [`Page`] is text plus the facts about how it was fetched.
//!
//! Redirects are followed by hand rather than by reqwest so that every hop is checked against
//! robots.txt, paced, retried, and mapped back through the mirror before the next one.

mod decode;
mod health;
mod mirror;
mod origin;
mod pace;
mod retry;
mod robots;
#[cfg(test)]
mod test_server;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;
use tokio::sync::OnceCell;
use url::{Position, Url};

use crate::model::cache::CachedRobots;

use crate::model::origin::OriginPolicy;
pub use decode::{decode, Decoded};
pub use health::Down;
pub use mirror::{relative_path, sidecar, Mirror, Sidecar};
pub use origin::{is_public_ip, is_public_name, GuardedResolver};
pub use retry::should_retry;
pub use robots::Robots;

use health::Health;
use pace::Pacer;
use retry::{Plan, Policy, Trouble};

/// Says who we are and where to complain: site owners who see us in their logs can find us.
pub const DEFAULT_USER_AGENT: &str = concat!(
    "noticefeed/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/noticefeed/noticefeed)"
);

/// How polite and how patient the client is. The defaults suit a small association server.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Default [`DEFAULT_USER_AGENT`]; a definition may override it. Its first word (before `/`)
    /// is also the name looked for in robots.txt.
    pub user_agent: String,
    /// Minimum gap between request starts to one host (default 1 s). `--delay-ms` sets it; a
    /// longer robots.txt `Crawl-delay` wins.
    pub min_gap: Duration,
    /// Requests in flight to one host (default 2).
    pub per_host_concurrency: usize,
    /// Requests in flight overall (default 8).
    pub global_concurrency: usize,
    /// Default 10 s. DNS lookup included.
    pub connect_timeout: Duration,
    /// Total time of one attempt, headers and body (default 20 s). A host whose responses
    /// never come costs at most two of these per request and three in a row in all: then it
    /// is down for the run.
    pub timeout: Duration,
    /// Largest body accepted (default 10 MiB), counted while reading, after decompression, so an
    /// endless or zip-bomb body is an error and not an out-of-memory.
    pub max_body: u64,
    /// Default 5.
    pub max_redirects: usize,
    /// Attempts per request, the first included (default 4).
    pub max_attempts: u32,
    /// Attempts when the host does not answer (no connection, or no response in time), the
    /// first included (default 2). A host still unreachable after them is down for the rest
    /// of the run.
    pub host_attempts: u32,
    /// First retry waits about this long, doubling each time, with jitter (default 500 ms).
    pub backoff_base: Duration,
    /// Longest `Retry-After` we sleep for (default 120 s); a server asking for more gets no retry.
    pub retry_after_cap: Duration,
    /// Default true. Off only for sites whose owners gave permission.
    pub obey_robots: bool,
    /// robots.txt kept between runs. `None` (the default): fetched once per origin per run.
    pub robots_cache: Option<Arc<dyn RobotsCache>>,
    /// How long a cached robots.txt is used without asking again (default 24 h, the longest
    /// RFC 9309 §2.4 lets a crawler cache it); after that it is revalidated with a conditional
    /// GET.
    pub robots_ttl: Duration,
    pub mirrors: Vec<Mirror>,
    /// The only origins requests and redirect hops may go to (in the site's space, before any
    /// mirror mapping). `None`: any (tests that build a bare client).
    pub allowed_origins: Option<OriginPolicy>,
    /// Where `fetch` keeps what it fetched. `None` (the default): nothing is kept.
    pub sink: Option<Arc<dyn PageSink>>,
    /// Run-wide limit, counted from [`Client::new`]: a request still waiting or in flight then
    /// ends with [`Error::Deadline`], and none starts after it. `None`: no limit.
    pub deadline: Option<Duration>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            min_gap: Duration::from_secs(1),
            per_host_concurrency: 2,
            global_concurrency: 8,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(20),
            max_body: 10 * 1024 * 1024,
            max_redirects: 5,
            max_attempts: 4,
            host_attempts: 2,
            backoff_base: Duration::from_millis(500),
            retry_after_cap: Duration::from_secs(120),
            obey_robots: true,
            robots_cache: None,
            robots_ttl: Duration::from_secs(24 * 60 * 60),
            mirrors: Vec::new(),
            allowed_origins: None,
            deadline: None,
            sink: None,
        }
    }
}

// The copy's freshness is the HTTP layer's business; the record is the model's.
impl CachedRobots {
    fn is_fresh(&self, now: SystemTime, ttl: Duration) -> bool {
        // A copy from the future (the clock went back) counts as stale: one conditional request
        // settles it.
        now.duration_since(self.fetched_at)
            .is_ok_and(|age| age < ttl)
    }

    fn has_validators(&self) -> bool {
        self.status == 200 && (self.etag.is_some() || self.last_modified.is_some())
    }
}

/// Where robots.txt copies live between runs, keyed by the robots.txt URL in the site's own
/// space (`https://www.chinania.org.cn/robots.txt`, never a mirror's). Implemented over the store
/// by the build; the client only reads and writes entries, so it never touches SQLite from async
/// code.
pub trait RobotsCache: Send + Sync + std::fmt::Debug {
    fn get(&self, robots_url: &str) -> Option<CachedRobots>;
    fn put(&self, robots_url: &str, entry: CachedRobots);
}

/// Receives every successful answer, as the site gave it, for `noticefeed fetch` to save. Keyed
/// by the URL asked for, in the site's own space, so a `file://` mirror of the saved folder
/// answers the same request with the same bytes.
pub trait PageSink: Send + Sync + std::fmt::Debug {
    /// A GET's body before decoding (robots.txt, list and detail pages), with its Content-Type.
    fn page(&self, url: &Url, body: &[u8], content_type: Option<&str>);
    /// A HEAD's Content-Length (an attachment's size).
    fn length(&self, url: &Url, length: u64);
}

/// One GET. `etag`/`last_modified` (from the store) make it conditional.
#[derive(Debug, Clone)]
pub struct Request {
    pub url: Url,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The site's override for when its header or `<meta>` lies: header, BOM and meta are ignored.
    pub encoding: Option<&'static encoding_rs::Encoding>,
}

impl Request {
    pub fn new(url: Url) -> Self {
        Self {
            url,
            etag: None,
            last_modified: None,
            encoding: None,
        }
    }
}

/// Written by hand because `Url` has no `Default`: the placeholder is `about:blank`, which
/// [`Client::fetch`] refuses, so a forgotten `url` fails loudly instead of fetching something.
impl Default for Request {
    fn default() -> Self {
        Self::new(Url::parse("about:blank").expect("literal URL parses"))
    }
}

#[derive(Debug, Clone)]
pub enum Response {
    /// 304: what the store has is current. The validators are the server's new ones when it sent
    /// them, else the ones we asked with.
    NotModified {
        url: Url,
        etag: Option<String>,
        last_modified: Option<String>,
    },
    Fetched(Page),
}

#[derive(Debug, Clone)]
pub struct Page {
    /// Final URL after redirects, mapped back to the original origin (never the mirror's).
    pub url: Url,
    pub status: u16,
    pub text: String,
    /// The encoding's WHATWG name as encoding_rs spells it, e.g. `UTF-8`, `gb18030`.
    pub encoding: &'static str,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub content_type: Option<String>,
    /// Decoding replaced malformed bytes with U+FFFD (already logged as a warning).
    pub had_replacements: bool,
}

/// Every message names the URL in the site's own space (not the mirror's) and, where retries
/// happened, how many attempts were made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{url}: http status {status}{} after {}", reason(*.status), tries(*.attempts))]
    Status {
        url: Url,
        status: u16,
        attempts: u32,
    },
    /// `rule` as written in the origin's /robots.txt, e.g. `Disallow: /private/`.
    #[error("{url}: disallowed by robots.txt rule `{rule}`")]
    RobotsDisallowed { url: Url, rule: String },
    #[error("{url}: body larger than the limit of {limit} bytes")]
    BodyTooLarge { url: Url, limit: u64 },
    #[error("{url}: body cut off after {received}{} bytes, after {}", of(*.expected), tries(*.attempts))]
    BodyCutOff {
        url: Url,
        received: u64,
        expected: Option<u64>,
        attempts: u32,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: too many redirects (more than {limit}; the last pointed to {last})")]
    TooManyRedirects {
        url: Url,
        limit: usize,
        last: String,
    },
    #[error("{url}: redirect to an unusable location `{location}`")]
    BadRedirect { url: Url, location: String },
    #[error("{url}: timed out (limit {timeout:?} per attempt) after {}", tries(*.attempts))]
    Timeout {
        url: Url,
        timeout: Duration,
        attempts: u32,
    },
    /// The host is down for the run (see [`Down`]); `attempts` is 0 when this request was not
    /// made because an earlier one found it down.
    #[error("{url}: {} unreachable ({}){}", down.host, down.reason, if *.attempts == 0 { "; not requested".to_owned() } else { format!(" after {}", tries(*.attempts)) })]
    Unreachable {
        url: Url,
        down: Box<Down>,
        attempts: u32,
    },
    /// The run's `--deadline` passed before this request could finish.
    #[error("{url}: not fetched, the run's deadline ({}) was reached", humantime::format_duration(*.limit))]
    Deadline { url: Url, limit: Duration },
    #[error("{url}: network error after {}", tries(*.attempts))]
    Network {
        url: Url,
        attempts: u32,
        #[source]
        source: reqwest::Error,
    },
    #[error(
        "{url}: http status {status}, and the server asked to wait {wait:?}, longer than the \
         {cap:?} we wait for; gave up after {}", tries(*.attempts)
    )]
    RetryAfterTooLong {
        url: Url,
        status: u16,
        wait: Duration,
        cap: Duration,
        attempts: u32,
    },
    #[error("{url}: cannot be mapped into the mirror: {reason}")]
    MirrorPath { url: Url, reason: String },
    #[error("{url}: reading mirror file {}", path.display())]
    File {
        url: Url,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{url}: only http and https URLs can be fetched")]
    Scheme { url: Url },
    /// A request or redirect hop off the site: never sent.
    #[error("{url}: not on the site's origins ({allowed}); not requested")]
    OffSite { url: Url, allowed: String },
    #[error("building the http client")]
    Build(#[source] reqwest::Error),
}

fn tries(n: u32) -> String {
    if n == 1 {
        "1 attempt".into()
    } else {
        format!("{n} attempts")
    }
}

fn reason(status: u16) -> String {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" ({r})"))
        .unwrap_or_default()
}

fn of(expected: Option<u64>) -> String {
    expected.map(|n| format!(" of {n}")).unwrap_or_default()
}

impl Error {
    /// A robots.txt refusal is a skip with a warning, not a failure of the feed.
    pub fn is_robots(&self) -> bool {
        matches!(self, Error::RobotsDisallowed { .. })
    }

    /// The host behind the error is down for the run: its name and why.
    pub fn unreachable(&self) -> Option<Down> {
        match self {
            Error::Unreachable { down, .. } => Some((**down).clone()),
            _ => None,
        }
    }

    /// The run's deadline stopped this request.
    pub fn is_deadline(&self) -> bool {
        matches!(self, Error::Deadline { .. })
    }

    /// The HTTP status behind the error, when there was one (404 for a missing mirror file).
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } | Error::RetryAfterTooLong { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The one HTTP client of a run. Cheap to clone (an `Arc`); pass it to whoever fetches. Never a
/// static: tests build one per case with their own options.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("opts", &self.inner.opts)
            .finish_non_exhaustive()
    }
}

struct Inner {
    opts: HttpOptions,
    http: reqwest::Client,
    pacer: Pacer,
    health: Health,
    deadline: Option<tokio::time::Instant>,
    /// One cell per origin: concurrent first requests wait for a single robots.txt fetch.
    robots: Mutex<HashMap<String, Arc<OnceCell<Arc<Robots>>>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Get,
    Head,
}

/// Whether a request waits on the host's robots.txt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RobotsCheck {
    /// Every page, attachment and redirect hop (unless the run ignores robots.txt).
    Obey,
    /// The request is robots.txt itself.
    IsRobotsTxt,
}

#[derive(Debug, Clone, Copy, Default)]
struct Validators<'a> {
    etag: Option<&'a str>,
    last_modified: Option<&'a str>,
}

/// A final answer of one hop: success, 304 or a redirect.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// Why one attempt produced no answer.
enum Failed {
    /// Connected, but no full answer within the timeout.
    Timeout,
    /// No connection: DNS, refused, connect timeout. The text says which.
    Unreachable(String),
    /// The host was found down by another request meanwhile.
    Down(Down),
    /// The request could not even be built (a bad header value): no retry helps.
    Invalid(reqwest::Error),
    Transport(reqwest::Error),
    CutOff {
        received: u64,
        expected: Option<u64>,
        source: reqwest::Error,
    },
    TooLarge,
}

impl Failed {
    /// A short reason for the `-vv` request line.
    fn reason(&self) -> String {
        match self {
            Self::Timeout => "timed out".into(),
            Self::Unreachable(why) => format!("unreachable: {why}"),
            Self::Down(d) => format!("host down: {}", d.reason),
            Self::Invalid(e) | Self::Transport(e) => e.to_string(),
            Self::CutOff { received, .. } => format!("body cut off after {received} bytes"),
            Self::TooLarge => "body over the size cap".into(),
        }
    }
}

enum Route {
    Http(Url),
    File(PathBuf),
}

impl Client {
    pub fn new(opts: HttpOptions) -> Result<Self, Error> {
        // Mirror bases are the operator's choice: their names resolve as they are.
        let trusted = opts
            .mirrors
            .iter()
            .filter_map(|m| m.base.host_str().map(str::to_owned));
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver::new(trusted)))
            .user_agent(opts.user_agent.as_str())
            .connect_timeout(opts.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(Error::Build)?;
        let pacer = Pacer::new(
            opts.global_concurrency,
            opts.per_host_concurrency,
            opts.min_gap,
        );
        let deadline = opts.deadline.map(|d| tokio::time::Instant::now() + d);
        Ok(Self {
            inner: Arc::new(Inner {
                opts,
                http,
                pacer,
                health: Health::default(),
                deadline,
                robots: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn options(&self) -> &HttpOptions {
        &self.inner.opts
    }

    /// Hosts given up on so far in this run, once each.
    pub fn down_hosts(&self) -> Vec<Down> {
        self.inner.health.down()
    }

    /// Whether the run's deadline has passed.
    pub fn deadline_passed(&self) -> bool {
        self.inner
            .deadline
            .is_some_and(|d| tokio::time::Instant::now() >= d)
    }

    /// Runs `work` under the run's deadline.
    async fn within_deadline<T>(
        &self,
        url: &Url,
        work: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let (Some(at), Some(limit)) = (self.inner.deadline, self.inner.opts.deadline) else {
            return work.await;
        };
        let late = || Error::Deadline {
            url: url.clone(),
            limit,
        };
        if tokio::time::Instant::now() >= at {
            return Err(late());
        }
        tokio::time::timeout_at(at, work)
            .await
            .unwrap_or_else(|_| Err(late()))
    }

    /// GET, conditional when the request carries validators.
    pub async fn fetch(&self, req: &Request) -> Result<Response, Error> {
        let validators = Validators {
            etag: req.etag.as_deref(),
            last_modified: req.last_modified.as_deref(),
        };
        let (url, answer) = self
            .within_deadline(
                &req.url,
                self.follow(&req.url, Verb::Get, validators, RobotsCheck::Obey),
            )
            .await?;
        let etag = header_text(&answer.headers, header::ETAG);
        let last_modified = header_text(&answer.headers, header::LAST_MODIFIED);
        if answer.status == StatusCode::NOT_MODIFIED {
            return Ok(Response::NotModified {
                url,
                etag: etag.or_else(|| req.etag.clone()),
                last_modified: last_modified.or_else(|| req.last_modified.clone()),
            });
        }
        let content_type = header_text(&answer.headers, header::CONTENT_TYPE);
        if let Some(sink) = &self.inner.opts.sink {
            sink.page(&req.url, &answer.body, content_type.as_deref());
        }
        let decoded = decode(&answer.body, content_type.as_deref(), req.encoding);
        if decoded.had_replacements {
            log::warn!(
                "{url}: not valid {}; malformed bytes were replaced with U+FFFD",
                decoded.encoding.name()
            );
        }
        Ok(Response::Fetched(Page {
            url,
            status: answer.status.as_u16(),
            text: decoded.text,
            encoding: decoded.encoding.name(),
            etag,
            last_modified,
            content_type,
            had_replacements: decoded.had_replacements,
        }))
    }

    /// HEAD, for an enclosure's length. `None` when the server does not say; an error (e.g.
    /// `Status` 405 from a server that refuses HEAD) is for the caller to turn into "length 0".
    /// Robots, pacing, retries, redirects and mirrors apply as for [`Client::fetch`].
    pub async fn content_length(&self, url: &Url) -> Result<Option<u64>, Error> {
        let (_, answer) = self
            .within_deadline(
                url,
                self.follow(url, Verb::Head, Validators::default(), RobotsCheck::Obey),
            )
            .await?;
        let length =
            header_text(&answer.headers, header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
        if let (Some(sink), Some(n)) = (&self.inner.opts.sink, length) {
            sink.length(url, n);
        }
        Ok(length)
    }

    pub fn is_robots_error(e: &Error) -> bool {
        e.is_robots()
    }

    /// Where `url` is really fetched from. Every request and every redirect hop passes here,
    /// so this is where a URL off the site's origins is refused.
    fn route(&self, url: &Url) -> Result<Route, Error> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Scheme { url: url.clone() });
        }
        if let Some(policy) = &self.inner.opts.allowed_origins {
            if !policy.allows(url) {
                return Err(Error::OffSite {
                    url: url.clone(),
                    allowed: policy.describe(),
                });
            }
        }
        match self.inner.opts.mirrors.iter().find(|m| m.covers(url)) {
            Some(m) if m.is_file() => {
                m.file_path(url)
                    .map(Route::File)
                    .map_err(|reason| Error::MirrorPath {
                        url: url.clone(),
                        reason,
                    })
            }
            Some(m) => Ok(Route::Http(m.to_base(url))),
            None => Ok(Route::Http(url.clone())),
        }
    }

    /// A URL the server gave us (a redirect target), back in the site's own space.
    fn to_site(&self, actual: Url) -> Url {
        self.inner
            .opts
            .mirrors
            .iter()
            .filter(|m| !m.is_file())
            .find_map(|m| m.site_url(&actual))
            .unwrap_or(actual)
    }

    /// Requests `start`, following redirects; each hop is paced and retried, and checked
    /// against robots.txt unless `robots` says the request is robots.txt itself (which must not
    /// wait on robots.txt).
    async fn follow(
        &self,
        start: &Url,
        verb: Verb,
        validators: Validators<'_>,
        robots: RobotsCheck,
    ) -> Result<(Url, Answer), Error> {
        let mut url = start.clone();
        let mut redirects = 0;
        loop {
            let actual = match self.route(&url)? {
                Route::File(path) => {
                    return Ok((url.clone(), self.read_file(&url, path, verb).await?))
                }
                Route::Http(actual) => actual,
            };
            if robots == RobotsCheck::Obey && self.inner.opts.obey_robots {
                // Boxed: reading robots.txt follows its own redirects through this function.
                Box::pin(self.check_robots(&url, &actual)).await?;
            }
            let answer = self.exchange(&url, &actual, verb, validators).await?;
            match self.next_hop(start, &url, &actual, &answer, &mut redirects)? {
                Some(next) => url = next,
                None => return Ok((url, answer)),
            }
        }
    }

    /// `Some(url)` to follow a redirect, `None` when `answer` is the final one.
    fn next_hop(
        &self,
        start: &Url,
        url: &Url,
        actual: &Url,
        answer: &Answer,
        redirects: &mut usize,
    ) -> Result<Option<Url>, Error> {
        if !is_redirect(answer) {
            return Ok(None);
        }
        let location = header_text(&answer.headers, header::LOCATION).unwrap_or_default();
        let next = actual.join(&location).map_err(|_| Error::BadRedirect {
            url: url.clone(),
            location: location.clone(),
        })?;
        let next = self.to_site(next);
        *redirects += 1;
        if *redirects > self.inner.opts.max_redirects {
            return Err(Error::TooManyRedirects {
                url: start.clone(),
                limit: self.inner.opts.max_redirects,
                last: next.into(),
            });
        }
        log::debug!("{url}: redirected to {next}");
        Ok(Some(next))
    }

    /// One hop with retries. Ok only for a success, a 304 or a redirect.
    async fn exchange(
        &self,
        url: &Url,
        actual: &Url,
        verb: Verb,
        validators: Validators<'_>,
    ) -> Result<Answer, Error> {
        let opts = &self.inner.opts;
        let policy = Policy {
            max_attempts: opts.max_attempts.max(1),
            max_host_attempts: opts.host_attempts.max(1),
            backoff_base: opts.backoff_base,
            retry_after_cap: opts.retry_after_cap,
        };
        let host = actual.origin().ascii_serialization();
        let name = url.host_str().unwrap_or_default();
        let health = &self.inner.health;
        let down = |d: Down, attempts: u32| Error::Unreachable {
            url: url.clone(),
            down: Box::new(d),
            attempts,
        };
        let mut attempt = 0;
        loop {
            if let Some(d) = health.check(&host) {
                return Err(down(d, attempt));
            }
            attempt += 1;
            if health.first_contact(&host) {
                // What -v shows while a slow or silent host is waited for.
                if *actual == *url {
                    log::info!("{name}: connecting");
                } else {
                    log::info!("{name}: connecting (via {host})");
                }
            }
            let result = match self.attempt(actual, &host, verb, validators).await {
                Ok(a) => {
                    health.answered(&host);
                    if is_final_ok(&a) {
                        return Ok(a);
                    }
                    Ok(a)
                }
                Err(f) => Err(f),
            };
            let (trouble, retry_after) = match &result {
                Ok(a) => (
                    Trouble::Status(a.status),
                    header_text(&a.headers, header::RETRY_AFTER)
                        .and_then(|v| retry::parse_retry_after(&v, SystemTime::now())),
                ),
                Err(Failed::Down(d)) => return Err(down(d.clone(), attempt - 1)),
                Err(Failed::Timeout) => {
                    let limit = format!("limit {:?} each", opts.timeout);
                    if let Some(d) = health.timed_out(&host, name, &limit) {
                        return Err(down(d, attempt));
                    }
                    (Trouble::Timeout, None)
                }
                Err(Failed::Unreachable(_)) => (Trouble::Unreachable, None),
                Err(Failed::Transport(_) | Failed::CutOff { .. }) => (Trouble::Transport, None),
                Err(Failed::Invalid(_) | Failed::TooLarge) => (Trouble::Permanent, None),
            };
            match retry::plan(trouble, attempt, retry_after, &policy, fastrand::f64()) {
                Plan::Wait(wait) => {
                    log::info!(
                        "{url}: attempt {attempt} failed ({trouble:?}); retrying in {wait:?}"
                    );
                    if retry_after.is_some() {
                        // The whole host asked for the pause, not just this request.
                        self.inner.pacer.defer(&host, wait).await;
                    }
                    tokio::time::sleep(wait).await;
                }
                Plan::TooLong(wait) => {
                    return Err(Error::RetryAfterTooLong {
                        url: url.clone(),
                        status: result.as_ref().map_or(0, |a| a.status.as_u16()),
                        wait,
                        cap: policy.retry_after_cap,
                        attempts: attempt,
                    })
                }
                Plan::GiveUp => {
                    if let Err(Failed::Unreachable(reason)) = &result {
                        return Err(down(health.unreachable(&host, name, reason), attempt));
                    }
                    return Err(self.failure(url, result, attempt));
                }
            }
        }
    }

    fn failure(&self, url: &Url, result: Result<Answer, Failed>, attempts: u32) -> Error {
        let url = url.clone();
        match result {
            Ok(a) => Error::Status {
                url,
                status: a.status.as_u16(),
                attempts,
            },
            Err(Failed::Timeout) => Error::Timeout {
                url,
                timeout: self.inner.opts.timeout,
                attempts,
            },
            Err(Failed::Unreachable(reason)) => Error::Unreachable {
                down: Box::new(Down {
                    host: url.host_str().unwrap_or_default().to_owned(),
                    reason,
                }),
                url,
                attempts,
            },
            Err(Failed::Down(d)) => Error::Unreachable {
                url,
                down: Box::new(d),
                attempts: 0,
            },
            Err(Failed::Invalid(source) | Failed::Transport(source)) => Error::Network {
                url,
                attempts,
                source,
            },
            Err(Failed::CutOff {
                received,
                expected,
                source,
            }) => Error::BodyCutOff {
                url,
                received,
                expected,
                attempts,
                source,
            },
            Err(Failed::TooLarge) => Error::BodyTooLarge {
                url,
                limit: self.inner.opts.max_body,
            },
        }
    }

    /// One request/response, paced, under the total timeout.
    async fn attempt(
        &self,
        actual: &Url,
        host: &str,
        verb: Verb,
        validators: Validators<'_>,
    ) -> Result<Answer, Failed> {
        let _permit = self.inner.pacer.start(host).await;
        // Found down while this one waited for its turn.
        if let Some(d) = self.inner.health.check(host) {
            return Err(Failed::Down(d));
        }
        let opts = &self.inner.opts;
        let started = std::time::Instant::now();
        let work = async {
            let mut rb = match verb {
                Verb::Get => self.inner.http.get(actual.clone()),
                Verb::Head => self.inner.http.head(actual.clone()),
            };
            if let Some(etag) = validators.etag {
                rb = rb.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = validators.last_modified {
                rb = rb.header(header::IF_MODIFIED_SINCE, lm);
            }
            let resp = rb.send().await.map_err(classify)?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = if verb == Verb::Get && status.is_success() {
                read_capped(resp, opts.max_body).await?
            } else {
                Vec::new()
            };
            Ok(Answer {
                status,
                headers,
                body,
            })
        };
        let result = tokio::time::timeout(opts.timeout, work)
            .await
            .unwrap_or(Err(Failed::Timeout));
        let ms = started.elapsed().as_millis();
        match &result {
            Ok(a) => log::debug!(
                "{verb:?} {actual}: {}, {} bytes, {ms} ms",
                a.status.as_u16(),
                a.body.len()
            ),
            Err(f) => log::debug!("{verb:?} {actual}: failed ({}) after {ms} ms", f.reason()),
        }
        result
    }

    async fn check_robots(&self, url: &Url, actual: &Url) -> Result<(), Error> {
        let robots = self.robots_for(url, actual).await;
        match robots.blocking_rule(&url[Position::BeforePath..Position::AfterQuery]) {
            None => Ok(()),
            Some(rule) => Err(Error::RobotsDisallowed {
                url: url.clone(),
                rule: rule.to_owned(),
            }),
        }
    }

    async fn robots_for(&self, url: &Url, actual: &Url) -> Arc<Robots> {
        let cell = {
            let mut cache = self.inner.robots.lock().unwrap_or_else(|p| p.into_inner());
            cache
                .entry(url.origin().ascii_serialization())
                .or_default()
                .clone()
        };
        cell.get_or_init(|| self.load_robots(url, actual))
            .await
            .clone()
    }

    /// RFC 9309 says a 4xx robots.txt allows everything. It says an unreachable one (5xx, network)
    /// forbids everything; we use the last cached copy when there is one, else allow but warn,
    /// so one bad night of the server does not empty every feed, and the warning tells the
    /// operator.
    async fn load_robots(&self, url: &Url, actual: &Url) -> Arc<Robots> {
        let site = robots_url(url);
        let cache = self.inner.opts.robots_cache.as_deref();
        let cached = cache.and_then(|c| c.get(site.as_str()));
        let now = SystemTime::now();
        if let Some(c) = cached
            .as_ref()
            .filter(|c| c.is_fresh(now, self.inner.opts.robots_ttl))
        {
            log::debug!("{site}: cached copy is fresh; not requested");
            return self.apply_robots(&site, actual, &c.body).await;
        }
        let revalidate = cached.as_ref().filter(|c| c.has_validators());
        let validators = Validators {
            etag: revalidate.and_then(|c| c.etag.as_deref()),
            last_modified: revalidate.and_then(|c| c.last_modified.as_deref()),
        };
        let fetched = self
            .follow(&site, Verb::Get, validators, RobotsCheck::IsRobotsTxt)
            .await
            .map(|(_, answer)| answer);
        let remember = |entry: CachedRobots| {
            if let Some(c) = cache {
                c.put(site.as_str(), entry);
            }
        };
        match fetched {
            Ok(answer) if answer.status == StatusCode::NOT_MODIFIED => match revalidate {
                Some(c) => {
                    log::debug!("{site}: not modified; cached copy kept");
                    let body = c.body.clone();
                    remember(CachedRobots {
                        etag: header_text(&answer.headers, header::ETAG).or(c.etag.clone()),
                        last_modified: header_text(&answer.headers, header::LAST_MODIFIED)
                            .or(c.last_modified.clone()),
                        fetched_at: now,
                        ..c.clone()
                    });
                    self.apply_robots(&site, actual, &body).await
                }
                None => {
                    // A 304 to a request without validators says nothing about the rules.
                    log::warn!("{site}: 304 to an unconditional request; treating robots.txt as allowing everything");
                    Arc::new(Robots::allow_all())
                }
            },
            Ok(answer) => {
                if let Some(sink) = &self.inner.opts.sink {
                    let ct = header_text(&answer.headers, header::CONTENT_TYPE);
                    sink.page(&site, &answer.body, ct.as_deref());
                }
                let body = String::from_utf8_lossy(&answer.body).into_owned();
                remember(CachedRobots {
                    status: answer.status.as_u16(),
                    etag: header_text(&answer.headers, header::ETAG),
                    last_modified: header_text(&answer.headers, header::LAST_MODIFIED),
                    fetched_at: now,
                    body: body.clone(),
                });
                self.apply_robots(&site, actual, &body).await
            }
            Err(Error::Status { status, .. }) if (400..500).contains(&status) => {
                log::debug!("{site}: status {status}, everything allowed");
                remember(CachedRobots {
                    status,
                    body: String::new(),
                    etag: None,
                    last_modified: None,
                    fetched_at: now,
                });
                Arc::new(Robots::allow_all())
            }
            // The run's summary reports a host that is down, or the deadline, once, and a page
            // that times out says so itself: no warning here on top. Whatever is fetched next
            // fails the same way or works.
            Err(
                e @ (Error::Unreachable { .. } | Error::Deadline { .. } | Error::Timeout { .. }),
            ) => {
                log::info!("{e}; robots.txt not read");
                match cached {
                    Some(c) => self.apply_robots(&site, actual, &c.body).await,
                    None => Arc::new(Robots::allow_all()),
                }
            }
            Err(e) => match cached {
                Some(c) => {
                    log::warn!("{e}; using the robots.txt cached earlier");
                    self.apply_robots(&site, actual, &c.body).await
                }
                None => {
                    log::warn!("{e}; treating robots.txt as allowing everything");
                    Arc::new(Robots::allow_all())
                }
            },
        }
    }

    /// Parses a robots.txt body for our agent and lets its `Crawl-delay` widen the host's gap.
    async fn apply_robots(&self, site: &Url, actual: &Url, body: &str) -> Arc<Robots> {
        let robots = Robots::parse(body, &self.inner.opts.user_agent);
        if let Some(delay) = robots.crawl_delay() {
            let cap = self.inner.opts.retry_after_cap;
            if delay > cap {
                log::warn!(
                    "{site}: Crawl-delay {delay:?} is longer than {cap:?}; pacing at {cap:?}"
                );
            }
            let host = actual.origin().ascii_serialization();
            self.inner.pacer.widen_gap(&host, delay.min(cap)).await;
        }
        Arc::new(robots)
    }

    /// A mirror file: no robots, no pacing, no retries (a missing file will not appear).
    async fn read_file(&self, url: &Url, path: PathBuf, verb: Verb) -> Result<Answer, Error> {
        let limit = self.inner.opts.max_body;
        let task_path = path.clone();
        let read = tokio::task::spawn_blocking(move || read_mirror_file(&task_path, verb, limit))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        let (len, body, saved_type) = match read {
            Ok(found) => found,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound) => {
                return Err(Error::Status {
                    url: url.clone(),
                    status: 404,
                    attempts: 1,
                })
            }
            Err(source) => {
                return Err(Error::File {
                    url: url.clone(),
                    path,
                    source,
                })
            }
        };
        if verb == Verb::Get && len > limit {
            return Err(Error::BodyTooLarge {
                url: url.clone(),
                limit,
            });
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        // A Content-Type `fetch` kept beside the page (its charset) wins over the extension's.
        if let Some(ct) = saved_type.and_then(|t| HeaderValue::from_str(&t).ok()) {
            headers.insert(header::CONTENT_TYPE, ct);
        } else if let Some(ct) = content_type_of(&path) {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        Ok(Answer {
            status: StatusCode::OK,
            headers,
            body,
        })
    }
}

/// The file's length and, for a GET under the limit, its bytes. A folder is "not found", as a
/// static server without listings would say.
///
/// A folder saved by `fetch` has no attachments, only their sizes beside where they would be
/// (`x.pdf.noticefeed-length`): a HEAD reads that. A page may have its Content-Type beside it
/// (`x.html.noticefeed-type`), returned third.
fn read_mirror_file(
    path: &Path,
    verb: Verb,
    limit: u64,
) -> std::io::Result<(u64, Vec<u8>, Option<String>)> {
    let meta = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && verb == Verb::Head => {
            let saved = std::fs::read_to_string(sidecar(path, Sidecar::Length))?;
            let len = saved.trim().parse().map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("size file holds `{}`, not a number", saved.trim()),
                )
            })?;
            return Ok((len, Vec::new(), None));
        }
        other => other?,
    };
    if meta.is_dir() {
        return Err(std::io::ErrorKind::NotFound.into());
    }
    let saved_type = std::fs::read_to_string(sidecar(path, Sidecar::ContentType))
        .ok()
        .map(|t| t.trim().to_owned());
    if verb == Verb::Head || meta.len() > limit {
        return Ok((meta.len(), Vec::new(), saved_type));
    }
    Ok((meta.len(), std::fs::read(path)?, saved_type))
}

/// Just enough for decoding and callers' logs; no charset, so `<meta>` decides, as with
/// `serve.py`.
fn content_type_of(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "html" | "htm" => "text/html",
        "txt" => "text/plain",
        "xml" => "application/xml",
        "json" => "application/json",
        "pdf" => "application/pdf",
        _ => return None,
    })
}

async fn read_capped(resp: reqwest::Response, limit: u64) -> Result<Vec<u8>, Failed> {
    let expected = resp.content_length();
    if expected.is_some_and(|n| n > limit) {
        return Err(Failed::TooLarge);
    }
    let mut body = Vec::with_capacity(expected.map_or(0, |n| n.min(1 << 20)) as usize);
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|source| {
            if source.is_timeout() {
                Failed::Timeout
            } else {
                Failed::CutOff {
                    received: body.len() as u64,
                    expected,
                    source,
                }
            }
        })?;
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(Failed::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn classify(e: reqwest::Error) -> Failed {
    // Before the timeout test: a connect timeout is both, and it is the host's fault.
    if e.is_connect() {
        Failed::Unreachable(connect_reason(&e))
    } else if e.is_timeout() {
        Failed::Timeout
    } else if e.is_builder() {
        Failed::Invalid(e)
    } else {
        Failed::Transport(e)
    }
}

/// What stopped the connection, without reqwest's and hyper's wrapping: `dns error: failed to
/// lookup address information: Name or service not known`, `tcp connect error: Connection
/// refused (os error 111)`, `operation timed out`.
fn connect_reason(e: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        let text = err.to_string();
        // hyper's own wrapper ("client error (Connect)") names no cause.
        if !text.starts_with("client error (") {
            // A cause whose text repeats its own source's adds nothing.
            if !parts.last().is_some_and(|p| p.contains(&text)) {
                parts.push(text);
            }
        }
        source = err.source();
    }
    if parts.is_empty() {
        "connection failed".to_owned()
    } else {
        parts.join(": ")
    }
}

fn is_redirect(a: &Answer) -> bool {
    matches!(a.status.as_u16(), 301 | 302 | 303 | 307 | 308)
        && a.headers.contains_key(header::LOCATION)
}

fn is_final_ok(a: &Answer) -> bool {
    a.status.is_success() || a.status == StatusCode::NOT_MODIFIED || is_redirect(a)
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
}

/// robots.txt of `url`'s origin, in the site's space (mirrors map it like any other URL).
fn robots_url(url: &Url) -> Url {
    let mut r = url.clone();
    r.set_path("/robots.txt");
    r.set_query(None);
    r.set_fragment(None);
    r
}
