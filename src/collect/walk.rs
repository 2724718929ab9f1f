//! Walking a site channel: list pages (with pagination), then each notice's detail page and
//! attachment sizes, all through the one HTTP layer. Produces `RawNotice`s; `normalize` does
//! the rest.
//!
//! Failure policy, because a cron job must never publish a blank feed: page 1 failing, or its
//! list selector matching nothing, is an error for the whole feed. A later page failing ends the
//! walk with a warning; a detail page failing keeps the list entry's title, link and date.
//!
//! robots.txt is the HTTP layer's to read; a disallowed detail page is not requested and its
//! notice is the list entry alone, and a disallowed attachment is listed with length 0 (RSS's
//! "unknown") without a HEAD request. Both are warnings naming the rule, never failures.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use tokio::sync::Mutex;
use url::Url;

use super::date::parse_site_date;
use super::http::{self, Client, Request, Response};
use super::scrape::{self, DetailPage, ListEntry, ListPage};
use crate::config::preset::{Pagination, SiteDef};
use crate::config::ScrapeSource;
use crate::model::cache::CachedPage;
use crate::model::{Attachment, CanonicalUrl, RawBody, RawDate, RawNotice};
use crate::text;

/// Why a channel could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The source names the URL (as the site knows it, never the mirror's).
    #[error("reading the list page")]
    List {
        url: Url,
        #[source]
        source: http::Error,
    },
    #[error("list page {url}: {reason}")]
    Parse { url: Url, reason: String },
    #[error("list page {url}: list selector `{selector}` matched nothing (site redesigned, or wrong selector?)")]
    NoItems { url: Url, selector: String },
    #[error("list page {url}: list selector `{selector}` matched {matched} elements but none had both a title and a link")]
    NoEntries {
        url: Url,
        selector: String,
        matched: usize,
    },
}

/// What earlier runs left: cached list pages, and the notices already stored, whose detail
/// pages are not requested again unless `refresh`. The store implements it; `check` and tests
/// use [`NoMemory`].
pub trait Memory {
    fn cached_list(&self, url: &str) -> Option<CachedPage>;
    /// Whether this feed already holds the notice with this canonical link key.
    fn is_known(&self, link_key: &str) -> bool;
}

/// A first run: nothing cached, nothing known.
pub struct NoMemory;

impl Memory for NoMemory {
    fn cached_list(&self, _: &str) -> Option<CachedPage> {
        None
    }
    fn is_known(&self, _: &str) -> bool {
        false
    }
}

/// Per-run choices.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// `--backfill N`: walk this many list pages instead of the definition's `max_pages`.
    pub max_pages: Option<u32>,
    /// `--refresh`: request detail pages of known notices again.
    pub refresh: bool,
    /// The run's start: when the list pages fetched in it are stamped as fetched.
    pub now: DateTime<Utc>,
}

/// One collected notice and how it was read.
#[derive(Debug, Clone)]
pub struct ScrapedNotice {
    pub raw: RawNotice,
    /// The detail page was not requested because the store already has this notice.
    pub known: bool,
    /// The detail page was requested and failed: the notice is the list entry alone. (A page
    /// robots.txt forbids is not requested, so it does not count here; it is a warning.)
    pub detail_failed: bool,
}

/// What a channel gave.
#[derive(Debug, Clone, Default)]
pub struct Scraped {
    pub notices: Vec<ScrapedNotice>,
    pub warnings: Vec<String>,
    /// List pages fetched with a 200 in this run, to cache for the next.
    pub fresh_pages: Vec<CachedPage>,
    /// Every list page read, with what it matched (for `check`).
    pub pages: Vec<(Url, ListPage)>,
}

/// Shared by every channel of a run, so a notice listed in two channels, or an attachment, is
/// requested once.
pub struct Walker {
    client: Client,
    details: Mutex<HashMap<String, Result<DetailPage, DetailMiss>>>,
    lengths: Mutex<HashMap<String, u64>>,
}

/// Why a notice has no detail page.
#[derive(Debug, Clone)]
enum DetailMiss {
    /// robots.txt forbids it; the message names the rule.
    Robots(String),
    Failed(String),
    /// Not read because the host is down for the run, or the run's deadline passed. Counted
    /// per channel in one warning, since the run's summary already names the cause.
    Skipped(String),
}

/// Detail pages requested at once per channel; the HTTP layer still paces each host.
const DETAIL_CONCURRENCY: usize = 4;

impl Walker {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            details: Mutex::new(HashMap::new()),
            lengths: Mutex::new(HashMap::new()),
        }
    }

    /// The HTTP client every request of the walk goes through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Fetches and parses one list page; the error names it.
    async fn read_list(
        &self,
        url: &Url,
        src: &ScrapeSource,
        memory: &dyn Memory,
        now: DateTime<Utc>,
        out: &mut Scraped,
    ) -> Result<(ListPage, &'static str), Error> {
        let (body, status) = self
            .list_page(url, &src.site, memory, now, out)
            .await
            .map_err(|source| Error::List {
                url: url.clone(),
                source,
            })?;
        let s = src.site.clone();
        let page = parse_off_runtime(body, move |b| {
            scrape::parse_list(b, &s.list, s.pagination.as_ref())
        })
        .await
        .map_err(|reason| Error::Parse {
            url: url.clone(),
            reason,
        })?;
        Ok((page, status))
    }

    async fn list_page(
        &self,
        url: &Url,
        site: &SiteDef,
        memory: &dyn Memory,
        now: DateTime<Utc>,
        out: &mut Scraped,
    ) -> Result<(String, &'static str), http::Error> {
        let cached = memory.cached_list(url.as_str());
        let cached = cached.as_ref();
        let req = Request {
            url: url.clone(),
            etag: cached.and_then(|c| c.etag.clone()),
            last_modified: cached.and_then(|c| c.last_modified.clone()),
            encoding: site.encoding,
        };
        match self.client.fetch(&req).await? {
            Response::NotModified { .. } => match cached {
                Some(c) => Ok((c.body.clone(), "304, cached copy")),
                // The server answered 304 to a request without validators; ask plainly.
                None => Ok((self.plain_get(url, site).await?, "200")),
            },
            Response::Fetched(page) => {
                out.fresh_pages.push(CachedPage {
                    url: url.to_string(),
                    etag: page.etag.clone(),
                    last_modified: page.last_modified.clone(),
                    body: page.text.clone(),
                    fetched_at: now,
                });
                Ok((page.text, "200"))
            }
        }
    }

    async fn plain_get(&self, url: &Url, site: &SiteDef) -> Result<String, http::Error> {
        let req = Request {
            url: url.clone(),
            encoding: site.encoding,
            ..Default::default()
        };
        match self.client.fetch(&req).await? {
            Response::Fetched(p) => Ok(p.text),
            Response::NotModified { .. } => Ok(String::new()),
        }
    }

    /// Reads one channel.
    pub async fn collect(
        &self,
        src: &ScrapeSource,
        memory: &dyn Memory,
        opts: RunOptions,
    ) -> Result<Scraped, Error> {
        let site = &src.site;
        let max_pages = opts.max_pages.unwrap_or(src.max_pages).max(1);
        let mut out = Scraped::default();
        let mut entries: Vec<(Url, ListEntry)> = Vec::new();
        let mut seen_pages: HashSet<String> = HashSet::new();
        let mut url = src.url.clone();
        for n in 1..=max_pages {
            seen_pages.insert(url.to_string());
            let (page, status) = match self.read_list(&url, src, memory, opts.now, &mut out).await {
                Ok(p) => p,
                Err(e) if n == 1 => return Err(e),
                Err(e) => {
                    out.warnings.push(match e {
                        Error::List { url, source } => {
                            format!("list page {url} failed, pages after it not read: {source}")
                        }
                        other => format!("{other}; pages after it not read"),
                    });
                    break;
                }
            };
            log::info!("list page {url}: {status}, {} entries", page.entries.len());
            if page.items_matched == 0 || page.entries.is_empty() {
                if n == 1 {
                    let selector = site.list.item_css.clone();
                    return Err(if page.items_matched == 0 {
                        Error::NoItems { url, selector }
                    } else {
                        Error::NoEntries {
                            url,
                            selector,
                            matched: page.items_matched,
                        }
                    });
                }
                out.warnings
                    .push(format!("list page {url} has no entries; walk ends there"));
                break;
            }
            for w in page.warnings(&site.list) {
                out.warnings.push(format!("list page {url}: {w}"));
            }
            entries.extend(page.entries.iter().cloned().map(|e| (url.clone(), e)));
            let next = match &site.pagination {
                None => None,
                Some(Pagination::Next(_)) => page.next.as_deref().and_then(|h| url.join(h).ok()),
                Some(Pagination::Template { template, first }) => {
                    let page_no = first + n - 1;
                    let href = template
                        .replace("{url}", src.url.as_str())
                        .replace("{page}", &page_no.to_string());
                    src.url.join(&href).ok()
                }
            };
            out.pages.push((url.clone(), page));
            // A host alias in the next link is the site itself, fetched under its own name.
            let next = next.map(|u| site.fold_alias_url(u));
            match next {
                Some(next) if !src.origin_policy().allows(&next) => {
                    out.warnings.push(format!(
                        "list page {url}: next page {next} is not on the site's origins; not followed"
                    ));
                    break;
                }
                Some(next) if !seen_pages.contains(next.as_str()) => url = next,
                _ => break,
            }
        }

        // One notice per canonical link, in list order (a pinned item listed twice stays once).
        let mut seen_links = HashSet::new();
        let mut jobs = Vec::new();
        for (page_url, entry) in entries {
            let link = match CanonicalUrl::resolve(&entry.href, &page_url) {
                Ok(l) => site.fold_alias(l),
                Err(e) => {
                    out.warnings
                        .push(format!("list page {page_url}: {e}; entry skipped"));
                    continue;
                }
            };
            if !seen_links.insert(link.guid_key()) {
                continue;
            }
            // Filtered on the list entry, so a dropped notice costs no detail request.
            if !src.admits(&entry.title) {
                continue;
            }
            jobs.push((link, entry));
        }

        let results = stream::iter(
            jobs.into_iter()
                .map(|(link, entry)| self.notice(src, memory, opts, link, entry)),
        )
        .buffered(DETAIL_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
        // Why detail pages were not requested, in first-seen order, with how many.
        let mut skipped: Vec<(String, usize)> = Vec::new();
        for (notice, mut warnings, skip) in results {
            out.warnings.append(&mut warnings);
            out.notices.push(notice);
            if let Some(why) = skip {
                match skipped.iter_mut().find(|(w, _)| *w == why) {
                    Some((_, n)) => *n += 1,
                    None => skipped.push((why, 1)),
                }
            }
        }
        for (why, n) in skipped {
            out.warnings.push(format!(
                "{n} detail page{} not read ({why}); {} list entr{}",
                if n == 1 { "" } else { "s" },
                if n == 1 {
                    "its notice uses its"
                } else {
                    "those notices use their"
                },
                if n == 1 { "y" } else { "ies" }
            ));
        }
        Ok(out)
    }

    /// One list entry → one notice, with its detail page when the site has one for it.
    async fn notice(
        &self,
        src: &ScrapeSource,
        memory: &dyn Memory,
        opts: RunOptions,
        link: CanonicalUrl,
        entry: ListEntry,
    ) -> (ScrapedNotice, Vec<String>, Option<String>) {
        let site = &src.site;
        let mut warnings = Vec::new();
        let list_date = entry.date.clone();
        let mut raw = RawNotice {
            origin: link.to_string(),
            explicit_id: None,
            link: Some(link.clone()),
            rel_path: None,
            title: entry.title.clone(),
            date: RawDate::Absent,
            body: RawBody::Html(String::new()),
            summary: None,
            authors: Vec::new(),
            tags: Vec::new(),
            attachments: Vec::new(),
        };
        // A list entry may point at another site (a notice a ministry published): it is kept as
        // the list gave it, and never fetched.
        let off_site = !src.origin_policy().allows(link.as_url());
        let known = memory.is_known(&link.guid_key());
        let mut detail_failed = false;
        let mut skipped = None;
        let detail = match &site.detail {
            Some(spec) if src.detail && !off_site && (opts.refresh || !known) => {
                let page = self.detail(link.as_url(), site, spec).await;
                match page {
                    Ok(d) => Some(d),
                    Err(DetailMiss::Robots(e)) => {
                        warnings.push(format!("{e}; detail page skipped, using the list entry"));
                        None
                    }
                    Err(DetailMiss::Skipped(why)) => {
                        detail_failed = true;
                        skipped = Some(why);
                        None
                    }
                    Err(DetailMiss::Failed(e)) => {
                        detail_failed = true;
                        warnings.push(format!(
                            "detail page {link} failed, using the list entry: {e}"
                        ));
                        None
                    }
                }
            }
            _ => None,
        };
        let mut date_raw = list_date.clone();
        if let Some(d) = detail {
            if let Some(t) = d.title.filter(|t| !text::clean_text(t).is_empty()) {
                raw.title = t;
            }
            if let Some(a) = d.author {
                raw.authors.push(a);
            }
            let mut content = d.content_html.unwrap_or_default();
            if let Some(len) = super::cap_content(&mut content) {
                warnings.push(format!(
                    "{link}: content is {len} bytes; cut to the {} byte limit",
                    super::MAX_CONTENT_BYTES
                ));
            }
            raw.body = RawBody::Html(content);
            // The detail page's time is to the minute; the list's only to the day.
            if let Some(dd) = d.date {
                match parse_site_date(&dd, &site.date_formats) {
                    Some(_) => date_raw = Some(dd),
                    None => warnings.push(format!(
                        "{link}: detail date `{dd}` unreadable, using the list date"
                    )),
                }
            }
            raw.attachments = self
                .attachments(link.as_url(), &d.links, src, &mut warnings)
                .await;
        }
        raw.date = read_date(
            &link,
            date_raw.as_deref(),
            &site.date_formats,
            &mut warnings,
        );
        (
            ScrapedNotice {
                raw,
                known,
                detail_failed,
            },
            warnings,
            skipped,
        )
    }

    async fn detail(
        &self,
        url: &Url,
        site: &SiteDef,
        spec: &crate::config::preset::DetailSpec,
    ) -> Result<DetailPage, DetailMiss> {
        let key = url.to_string();
        if let Some(cached) = self.details.lock().await.get(&key) {
            return cached.clone().map_err(|miss| match miss {
                DetailMiss::Failed(_) => DetailMiss::Failed("failed earlier in this run".into()),
                other => other,
            });
        }
        let result = match self.plain_get(url, site).await {
            Ok(body) => {
                let spec = spec.clone();
                parse_off_runtime(body, move |b| scrape::parse_detail(b, &spec))
                    .await
                    .map_err(|reason| DetailMiss::Failed(format!("{url}: {reason}")))
            }
            Err(e) if e.is_robots() => Err(DetailMiss::Robots(e.to_string())),
            // The run's summary names the host and why, once.
            Err(http::Error::Unreachable { down, .. }) => {
                Err(DetailMiss::Skipped(format!("{} unreachable", down.host)))
            }
            Err(e) if e.is_deadline() => {
                Err(DetailMiss::Skipped("the run's deadline was reached".into()))
            }
            Err(e) => Err(DetailMiss::Failed(e.to_string())),
        };
        self.details.lock().await.insert(key, result.clone());
        result
    }

    async fn attachments(
        &self,
        page: &Url,
        links: &[(String, String)],
        src: &ScrapeSource,
        warnings: &mut Vec<String>,
    ) -> Vec<Attachment> {
        let policy = src.origin_policy();
        let Some(spec) = &src.site.detail else {
            return Vec::new();
        };
        let mut out: Vec<Attachment> = Vec::new();
        for (href, label) in links {
            let url = match CanonicalUrl::resolve(href, page) {
                Ok(u) => src.site.fold_alias(u),
                Err(e) => {
                    // Only a link that looks like an attachment is worth a warning; the rest
                    // (`javascript:void(0)` menus, `#top`) were never candidates.
                    if looks_like_attachment(href, &spec.attachment_extensions) {
                        warnings.push(format!("detail page {page}: attachment {e}; skipped"));
                    }
                    continue;
                }
            };
            let Some(ext) = extension(url.as_url()) else {
                continue;
            };
            if !spec.attachment_extensions.contains(&ext) || out.iter().any(|a| a.url == url) {
                continue;
            }
            let length = if !policy.allows(url.as_url()) {
                // Off the site's origins: linked, never requested.
                0
            } else {
                match self.length(url.as_url()).await {
                    Ok(n) => n,
                    Err(e) => {
                        warnings.push(format!("{e}; attachment listed with length 0"));
                        0
                    }
                }
            };
            out.push(Attachment {
                title: text::clean_text(label),
                mime: mime_for(&ext).to_owned(),
                length,
                url,
            });
        }
        out
    }

    /// Content-Length from a HEAD request; 0 (RSS's "unknown") when the server gives none or
    /// refuses HEAD. `Err` only when robots.txt forbids the URL, for the caller to warn about.
    async fn length(&self, url: &Url) -> Result<u64, http::Error> {
        let key = url.to_string();
        if let Some(n) = self.lengths.lock().await.get(&key) {
            return Ok(*n);
        }
        let n = match self.client.content_length(url).await {
            Ok(n) => n.unwrap_or(0),
            Err(e) if e.is_robots() => return Err(e),
            Err(e) => {
                log::debug!("HEAD {url}: {e}; length 0");
                0
            }
        };
        self.lengths.lock().await.insert(key, n);
        Ok(n)
    }
}

/// Longest the parsing of one page may take. With the nesting limit checked first it takes
/// milliseconds; the deadline is the second fence, should some other shape prove slow.
const PARSE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// Parses a page on a blocking thread, never on the async runtime that paces requests, after
/// checking its nesting depth; `Err` says why not, for the caller to name the page.
async fn parse_off_runtime<T: Send + 'static>(
    html: String,
    parse: impl FnOnce(&str) -> T + Send + 'static,
) -> Result<T, String> {
    parse_with_deadline(html, PARSE_DEADLINE, parse).await
}

async fn parse_with_deadline<T: Send + 'static>(
    html: String,
    deadline: std::time::Duration,
    parse: impl FnOnce(&str) -> T + Send + 'static,
) -> Result<T, String> {
    if crate::nesting::html_too_deep(&html, crate::nesting::MAX_NESTING) {
        return Err(format!(
            "nested deeper than {} levels; not parsed",
            crate::nesting::MAX_NESTING
        ));
    }
    let task = tokio::task::spawn_blocking(move || parse(&html));
    match tokio::time::timeout(deadline, task).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("parsing failed ({e})")),
        Err(_) => Err(format!("parsing took longer than {deadline:?}; abandoned")),
    }
}

/// Whether an href as written ends in one of the attachment extensions (query ignored).
fn looks_like_attachment(href: &str, extensions: &[String]) -> bool {
    let path = href.split(['?', '#']).next().unwrap_or_default();
    path.rsplit_once('.').is_some_and(|(_, ext)| {
        extensions
            .iter()
            .any(|e| e.eq_ignore_ascii_case(ext.trim()))
    })
}

/// The lower-cased extension of a URL's last path segment.
fn extension(url: &Url) -> Option<String> {
    let last = url.path_segments()?.next_back()?;
    let (_, ext) = last.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase())
}

/// MIME types of the attachments associations publish.
pub fn mime_for(ext: &str) -> &'static str {
    match ext {
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "zip" => "application/zip",
        "rar" => "application/vnd.rar",
        "7z" => "application/x-7z-compressed",
        "wps" => "application/vnd.ms-works",
        "txt" => "text/plain",
        "csv" => "text/csv",
        _ => "application/octet-stream",
    }
}

/// A scraped notice's date: the site's wall-clock time as written (`normalize` puts it in the
/// feed's zone and decides whether it is believed); `Absent` when the site gives none;
/// `Unreadable` (with a warning) when no format reads it or it names no real day.
fn read_date(
    link: &CanonicalUrl,
    raw: Option<&str>,
    formats: &[String],
    warnings: &mut Vec<String>,
) -> RawDate {
    let Some(raw) = raw else {
        warnings.push(format!("{link}: no date; dated when first seen"));
        return RawDate::Absent;
    };
    match parse_site_date(raw, formats) {
        Some(local) => RawDate::Local(local),
        None => {
            warnings.push(format!(
                "{link}: date `{raw}` unreadable or impossible; dated when first seen"
            ));
            RawDate::Unreadable {
                raw: raw.to_owned(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::preset::DEFAULT_DATE_FORMATS;
    use chrono::NaiveDate;

    fn formats() -> Vec<String> {
        DEFAULT_DATE_FORMATS.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_site_date_is_wall_clock_time_as_written() {
        // A time in a DST gap, or one after the run: both are the site's wall-clock time here;
        // `normalize` puts it in the feed's zone and decides whether it is believed.
        let link = CanonicalUrl::parse("https://h/1.html").unwrap();
        let mut warnings = Vec::new();
        for (text, (d, h)) in [("2026-03-08 02:30", (8, 2)), ("2099-03-10 02:30", (10, 2))] {
            let year = if d == 8 { 2026 } else { 2099 };
            let wall = NaiveDate::from_ymd_opt(year, 3, d)
                .unwrap()
                .and_hms_opt(h, 30, 0)
                .unwrap();
            let got = read_date(&link, Some(text), &formats(), &mut warnings);
            assert_eq!(got, RawDate::Local(wall));
        }
        assert!(warnings.is_empty(), "{warnings:?}");
        let got = read_date(&link, Some("2026-02-30"), &formats(), &mut warnings);
        assert!(matches!(got, RawDate::Unreadable { .. }), "{got:?}");
        assert!(
            warnings[0].contains("`2026-02-30` unreadable"),
            "{warnings:?}"
        );
        assert_eq!(
            read_date(&link, None, &formats(), &mut warnings),
            RawDate::Absent
        );
    }

    #[tokio::test]
    async fn parsing_is_bounded_by_depth_and_deadline_off_the_runtime() {
        // See: issue 9, case 4.
        let deep = "<div>".repeat(100_000);
        let t = std::time::Instant::now();
        let e = parse_off_runtime(deep, |b| b.len()).await.unwrap_err();
        assert!(e.contains("nested deeper than 256"), "{e}");
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
        let slow = parse_with_deadline(
            "<p>x</p>".into(),
            std::time::Duration::from_millis(50),
            |_| std::thread::sleep(std::time::Duration::from_millis(400)),
        )
        .await
        .unwrap_err();
        assert!(slow.contains("took longer than 50ms"), "{slow}");
        let fine = parse_off_runtime("<p>x</p>".into(), |b| b.len()).await;
        assert_eq!(fine, Ok(8));
    }

    #[test]
    fn attachment_types() {
        let u = Url::parse("https://h/uploads/a.PDF").unwrap();
        assert_eq!(extension(&u).as_deref(), Some("pdf"));
        assert_eq!(
            mime_for("docx"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        );
    }
}

/// Properties of reading a scraped date: no input panics it, and it is `Local` exactly when
/// the site's formats read it.
#[cfg(test)]
mod proptests {
    use super::*;
    use crate::collect::date::proptests::site_date_like;
    use crate::config::preset::DEFAULT_DATE_FORMATS;
    use proptest::prelude::*;

    fn formats() -> Vec<String> {
        DEFAULT_DATE_FORMATS.iter().map(|s| s.to_string()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn read_date_never_panics_and_is_local_or_unreadable(
            raw in prop_oneof![any::<String>(), site_date_like()],
        ) {
            let link = CanonicalUrl::parse("https://h/1.html").unwrap();
            let mut warnings = Vec::new();
            match read_date(&link, Some(&raw), &formats(), &mut warnings) {
                RawDate::Local(d) => {
                    prop_assert_eq!(Some(d), parse_site_date(&raw, &formats()));
                    prop_assert!(warnings.is_empty());
                }
                RawDate::Unreadable { raw: r } => {
                    prop_assert_eq!(r, raw);
                    prop_assert_eq!(warnings.len(), 1);
                }
                other => return Err(TestCaseError::fail(format!("{other:?}"))),
            }
        }
    }
}
