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

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use futures_util::stream::{self, StreamExt};
use tokio::sync::Mutex;
use url::Url;

use super::http::{self, Client, Request, Response};
use super::scrape::{self, DetailPage, ListEntry, ListPage};
use crate::config::site::{Pagination, SiteDef};
use crate::config::{self, ScrapeSource};
use crate::model::cache::CachedPage;
use crate::model::{Attachment, CanonicalUrl, RawBody, RawDate, RawNotice};
use crate::normalize;

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
    /// The run's start, to recognise dates in the future.
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

/// Dates more than this far ahead of the run are "in the future" and not trusted.
const FUTURE_SLACK_MINUTES: i64 = 60;

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
        tz: Tz,
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
            let (body, status) = match self.list_page(&url, site, memory, opts.now, &mut out).await
            {
                Ok(b) => b,
                Err(source) if n == 1 => return Err(Error::List { url, source }),
                Err(e) => {
                    out.warnings.push(format!(
                        "list page {url} failed, pages after it not read: {e}"
                    ));
                    break;
                }
            };
            let s = src.site.clone();
            let parsed = parse_off_runtime(body, move |b| {
                scrape::parse_list(b, &s.list, s.pagination.as_ref())
            })
            .await;
            let page = match parsed {
                Ok(p) => p,
                Err(reason) if n == 1 => return Err(Error::Parse { url, reason }),
                Err(reason) => {
                    out.warnings.push(format!(
                        "list page {url}: {reason}; pages after it not read"
                    ));
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
            let categories: Vec<String> = src.category.iter().cloned().collect();
            if !config::passes(
                &src.filters,
                &normalize::clean_text(&entry.title),
                &categories,
            ) {
                continue;
            }
            jobs.push((link, entry));
        }

        let results = stream::iter(
            jobs.into_iter()
                .map(|(link, entry)| self.notice(src, tz, memory, opts, link, entry)),
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
        tz: Tz,
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
            if let Some(t) = d.title.filter(|t| !normalize::clean_text(t).is_empty()) {
                raw.title = t;
            }
            if let Some(a) = d.author {
                raw.authors.push(a);
            }
            let mut content = d.content_html.unwrap_or_default();
            if let Some(len) = normalize::cap_content(&mut content) {
                warnings.push(format!(
                    "{link}: content is {len} bytes; cut to the {} byte limit",
                    normalize::MAX_CONTENT_BYTES
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
            tz,
            opts.now,
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
        spec: &crate::config::site::DetailSpec,
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
                title: normalize::clean_text(label),
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
    if normalize::html_too_deep(&html, normalize::MAX_NESTING) {
        return Err(format!(
            "nested deeper than {} levels; not parsed",
            normalize::MAX_NESTING
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

/// A scraped notice's date: the site's wall-clock time; `Absent` when the site gives none;
/// `Untrusted` (with a warning) when it cannot be read, is outside the publishable years or
/// lies after the run.
fn read_date(
    link: &CanonicalUrl,
    raw: Option<&str>,
    formats: &[String],
    tz: Tz,
    now: DateTime<Utc>,
    warnings: &mut Vec<String>,
) -> RawDate {
    let Some(raw) = raw else {
        warnings.push(format!("{link}: no date; dated when first seen"));
        return RawDate::Absent;
    };
    match parse_site_date(raw, formats) {
        None => {
            warnings.push(format!(
                "{link}: date `{raw}` unreadable or impossible; dated when first seen"
            ));
            RawDate::Untrusted {
                raw: raw.to_owned(),
            }
        }
        // A time in a DST gap is a real time, shifted forward by `local_to_utc`; only a
        // date after the run, or one no format can write, is not believed.
        Some(local) => match normalize::local_to_utc(local, tz) {
            utc if !crate::model::is_publishable(utc, tz) => {
                warnings.push(format!(
                    "{link}: date `{raw}` is outside the years 1970–9999; dated when first seen"
                ));
                RawDate::Untrusted {
                    raw: raw.to_owned(),
                }
            }
            utc if utc <= now + Duration::minutes(FUTURE_SLACK_MINUTES) => RawDate::Local(local),
            _ => {
                warnings.push(format!(
                    "{link}: date `{raw}` is in the future; dated when first seen"
                ));
                RawDate::Untrusted {
                    raw: raw.to_owned(),
                }
            }
        },
    }
}

/// A site's date text in one of its formats, as wall-clock time. Impossible dates
/// (2026-02-30) fail here and are never rolled over.
pub fn parse_site_date(raw: &str, formats: &[String]) -> Option<NaiveDateTime> {
    let s = normalize::clean_text(raw);
    for f in formats {
        if let Ok(d) = NaiveDateTime::parse_from_str(&s, f) {
            return Some(d);
        }
        if let Ok(d) = NaiveDate::parse_from_str(&s, f) {
            return Some(d.and_time(chrono::NaiveTime::MIN));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::site::DEFAULT_DATE_FORMATS;
    use chrono::TimeZone as _;

    fn formats() -> Vec<String> {
        DEFAULT_DATE_FORMATS.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_site_time_in_a_dst_gap_is_kept_not_called_future() {
        let link = CanonicalUrl::parse("https://h/1.html").unwrap();
        let now = Utc.with_ymd_and_hms(2026, 3, 9, 0, 0, 0).unwrap();
        let ny = chrono_tz::America::New_York;
        let mut warnings = Vec::new();
        let d = read_date(
            &link,
            Some("2026-03-08 02:30"),
            &formats(),
            ny,
            now,
            &mut warnings,
        );
        let wall = NaiveDate::from_ymd_opt(2026, 3, 8)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert_eq!(d, RawDate::Local(wall));
        assert!(warnings.is_empty(), "{warnings:?}");
        // After the run it is not believed, and the warning says why.
        let d = read_date(
            &link,
            Some("2026-03-10 02:30"),
            &formats(),
            ny,
            now,
            &mut warnings,
        );
        assert!(matches!(d, RawDate::Untrusted { .. }), "{d:?}");
        assert!(warnings[0].contains("future"), "{warnings:?}");
    }

    #[test]
    fn site_dates_in_every_documented_form() {
        let f = formats();
        let dt = |y, m, d, h, mi| {
            NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_opt(h, mi, 0)
                .unwrap()
        };
        assert_eq!(
            parse_site_date("2026-01-23", &f),
            Some(dt(2026, 1, 23, 0, 0))
        );
        assert_eq!(
            parse_site_date("2026-01-23 10:30", &f),
            Some(dt(2026, 1, 23, 10, 30))
        );
        assert_eq!(
            parse_site_date("2026年01月23日", &f),
            Some(dt(2026, 1, 23, 0, 0))
        );
        assert_eq!(
            parse_site_date("2026/1/23", &f),
            Some(dt(2026, 1, 23, 0, 0))
        );
        assert_eq!(
            parse_site_date(" 2026-09-26 11:37 ", &f),
            Some(dt(2026, 9, 26, 11, 37))
        );
        assert_eq!(parse_site_date("2026-02-30", &f), None);
        assert_eq!(parse_site_date("明天", &f), None);
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

/// Properties of the site date parser: no input panics it, a date it accepts is made only of
/// numbers that are in the input, and every default form round-trips at its precision.
#[cfg(test)]
mod proptests {
    use super::*;
    use crate::config::site::DEFAULT_DATE_FORMATS;
    use chrono::{Datelike as _, NaiveTime, Timelike as _};
    use proptest::prelude::*;

    fn numbers_in(s: &str) -> Vec<i64> {
        s.split(|c: char| !c.is_ascii_digit())
            .filter(|r| !r.is_empty())
            .filter_map(|r| r.trim_start_matches('0').parse().ok().or(Some(0)))
            .collect()
    }

    fn formats() -> Vec<String> {
        DEFAULT_DATE_FORMATS.iter().map(|s| s.to_string()).collect()
    }

    fn site_date_like() -> impl Strategy<Value = String> {
        proptest::string::string_regex(
            "[ 　\\t]?[0-9]{1,5}[-/.年][0-9]{1,3}[-/.月][0-9]{1,3}日?( [0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2})?)?[ 　]?",
        )
        .expect("valid regex")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn site_dates_never_panic_and_invent_nothing(
            raw in prop_oneof![any::<String>(), site_date_like()]
        ) {
            if let Some(d) = parse_site_date(&raw, &formats()) {
                let n = numbers_in(&raw);
                for v in [i64::from(d.year()), i64::from(d.month()), i64::from(d.day())] {
                    prop_assert!(n.contains(&v), "{v} not in `{raw}`");
                }
                if d.time() != NaiveTime::MIN {
                    for v in [d.hour(), d.minute()] {
                        prop_assert!(n.contains(&i64::from(v)), "{v} not in `{raw}`");
                    }
                }
            }
        }

        #[test]
        fn every_default_site_form_round_trips(
            (y, m, d, h, mi, s) in (1970i32..=9999, 1u32..=12, 1u32..=28, 0u32..24, 0u32..60, 0u32..60)
        ) {
            let at = NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(h, mi, s).unwrap();
            for f in DEFAULT_DATE_FORMATS {
                let want = if f.contains("%S") {
                    at
                } else if f.contains("%M") {
                    at.with_second(0).unwrap()
                } else {
                    at.date().and_time(NaiveTime::MIN)
                };
                let text = at.format(f).to_string();
                prop_assert_eq!(parse_site_date(&text, &formats()), Some(want), "{} {}", f, text);
            }
        }

        #[test]
        fn read_date_never_panics_and_is_local_or_missing(
            raw in prop_oneof![any::<String>(), site_date_like()],
            zone in proptest::sample::select(vec![
                chrono_tz::Asia::Shanghai,
                chrono_tz::America::New_York,
                chrono_tz::Europe::London,
                chrono_tz::Australia::Lord_Howe,
            ]),
        ) {
            let link = CanonicalUrl::parse("https://h/1.html").unwrap();
            let now = Utc::now();
            let mut warnings = Vec::new();
            match read_date(&link, Some(&raw), &formats(), zone, now, &mut warnings) {
                RawDate::Local(d) => {
                    prop_assert_eq!(Some(d), parse_site_date(&raw, &formats()));
                    prop_assert!(warnings.is_empty());
                }
                RawDate::Untrusted { raw: r } => {
                    prop_assert_eq!(r, raw);
                    prop_assert_eq!(warnings.len(), 1);
                }
                other => return Err(TestCaseError::fail(format!("{other:?}"))),
            }
        }
    }
}
