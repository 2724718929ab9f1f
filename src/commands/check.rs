//! `noticefeed check`: fetch one scraped feed's source and show everything its definition
//! extracts, item by item, so a definition for a new site can be written and corrected without
//! a `build`. Writes nothing: no store, no files, not even robots.txt copies.
//!
//! Items go through the same `normalize` step as a build (with "now" standing in for the first
//! sighting), so what `check` shows is what a feed would carry.

use anyhow::{Context as _, Result};
use chrono::Utc;
use serde::Serialize;

use crate::cli::{CheckArgs, Global};
use crate::collect::walk::{NoMemory, RunOptions, ScrapedNotice, Walker};
use crate::config::{self, FeedDef, ScrapeSource, Source};
use crate::model::{Item, RawDate};
use crate::normalize::{self, Context};
use crate::run::{http_client, print_stdout, runtime, Outcome};
use crate::text;

/// How many characters of content `check` shows per item.
const CONTENT_PREVIEW: usize = 200;

/// One list page walked.
#[derive(Debug, Serialize)]
struct PageReport {
    url: String,
    items: usize,
    title_matched: usize,
    link_matched: usize,
    date_matched: usize,
}

/// One notice as the definition extracts it.
#[derive(Debug, Serialize)]
struct ItemReport {
    title: String,
    /// RFC 3339 in the feed's zone.
    date: Option<String>,
    /// No usable date on the page: a build dates it when first seen.
    date_estimated: bool,
    /// The date text as the page gave it, when it could not be read.
    raw_date: Option<String>,
    link: Option<String>,
    authors: Vec<String>,
    categories: Vec<String>,
    /// The first characters of the content, as plain text.
    content: String,
    attachments: Vec<AttachmentReport>,
    /// The detail page failed; the item is the list entry alone.
    detail_failed: bool,
    /// Normalizing failed; the item would not be published.
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct AttachmentReport {
    url: String,
    title: String,
    mime: String,
    bytes: u64,
}

#[derive(Debug, Serialize)]
struct Report {
    feed: String,
    pages: Vec<PageReport>,
    items: Vec<ItemReport>,
    warnings: Vec<String>,
}

pub fn run(global: &Global, args: &CheckArgs) -> Result<Outcome> {
    let def = definition(global, args)?;
    let Source::Scrape(src) = &def.source else {
        anyhow::bail!(
            "{}: `check` reads scraped feeds; this one is {}",
            def.id(),
            def.source.describe()
        );
    };
    // `check` writes nothing, robots.txt copies included.
    let client = http_client(global, &[&def], None, None, None)?;
    let walker = Walker::new(client);
    let rt = runtime()?;
    let now = Utc::now();
    let opts = RunOptions {
        max_pages: args.pages,
        refresh: true,
        now,
    };
    let scraped = match rt.block_on(walker.collect(src, &NoMemory, opts)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "error: {}: {}",
                def.id(),
                text::printable(&format!("{:#}", anyhow::Error::from(e)))
            );
            return Ok(Outcome {
                feeds_failed: 1,
                ..Outcome::default()
            });
        }
    };
    let categories: Vec<String> = src.category.iter().cloned().collect();
    let cx = Context {
        timezone: def.meta.timezone,
        first_seen: Some(now),
        categories: &categories,
    };
    let mut warnings = scraped.warnings.clone();
    let items: Vec<ItemReport> = scraped
        .notices
        .iter()
        .map(|sn| item_report(sn, &cx, &mut warnings))
        .collect();
    warnings.extend(field_warnings(src, &items));
    let report = Report {
        feed: def.id().to_string(),
        pages: scraped
            .pages
            .iter()
            .map(|(url, p)| PageReport {
                url: url.to_string(),
                items: p.items_matched,
                title_matched: p.title_matched,
                link_matched: p.link_matched,
                date_matched: p.date_matched,
            })
            .collect(),
        items,
        warnings,
    };
    if args.json {
        let mut text = serde_json::to_string_pretty(&report).context("writing JSON")?;
        text.push('\n');
        print_stdout(&text)?;
    } else {
        print_stdout(&text_report(&report))?;
        for w in &report.warnings {
            eprintln!("warning: {}: {}", report.feed, text::printable(w));
        }
    }
    let failed = report.items.iter().filter(|i| i.detail_failed).count();
    eprintln!(
        "{}: {} notices, {} warnings, {} detail pages failed",
        report.feed,
        report.items.len(),
        report.warnings.len(),
        failed
    );
    Ok(Outcome::default())
}

/// The definition named on the command line: an id in `--feeds`, or a file of its own.
fn definition(global: &Global, args: &CheckArgs) -> Result<FeedDef> {
    if let Some(path) = &args.definition {
        return Ok(config::load_file(path)?);
    }
    let id = args.id.clone().unwrap_or_default();
    let all = config::load_dir(&global.feeds)?;
    config::select(all, std::slice::from_ref(&id), &global.feeds)?
        .into_iter()
        .next()
        .with_context(|| format!("no feed `{id}` in {}", global.feeds.display()))
}

fn item_report(sn: &ScrapedNotice, cx: &Context<'_>, warnings: &mut Vec<String>) -> ItemReport {
    // The page's date, shown when it was not used: unreadable, or read but not believed (after
    // the run, or outside the years every format can write).
    let given = match &sn.raw.date {
        RawDate::Unreadable { raw } => Some(raw.clone()),
        RawDate::Local(d) => Some(d.format("%Y-%m-%d %H:%M").to_string()),
        RawDate::Zoned(d) => Some(d.to_rfc3339()),
        RawDate::Absent => None,
    };
    let unreadable = matches!(sn.raw.date, RawDate::Unreadable { .. });
    match normalize::normalize(sn.raw.clone(), cx, warnings) {
        Ok(item) => {
            let raw_date = given.filter(|_| unreadable || item.date_estimated);
            from_item(&item, cx, raw_date, sn.detail_failed)
        }
        Err(e) => ItemReport {
            title: text::clean_text(&sn.raw.title),
            date: None,
            date_estimated: false,
            raw_date: given.filter(|_| unreadable),
            link: sn.raw.link.as_ref().map(|l| l.to_string()),
            authors: sn.raw.authors.clone(),
            categories: sn.raw.tags.clone(),
            content: String::new(),
            attachments: Vec::new(),
            detail_failed: sn.detail_failed,
            error: Some(format!("{e:#}")),
        },
    }
}

fn from_item(
    item: &Item,
    cx: &Context<'_>,
    raw_date: Option<String>,
    detail_failed: bool,
) -> ItemReport {
    ItemReport {
        title: item.title.clone(),
        date: Some(item.published.with_timezone(&cx.timezone).to_rfc3339()),
        date_estimated: item.date_estimated,
        raw_date,
        link: item.link.as_ref().map(|l| l.to_string()),
        authors: item.authors.clone(),
        categories: item.categories.clone(),
        content: item.summary.chars().take(CONTENT_PREVIEW).collect(),
        attachments: item
            .attachments
            .iter()
            .map(|a| AttachmentReport {
                url: a.url.to_string(),
                title: a.title.clone(),
                mime: a.mime.clone(),
                bytes: a.length,
            })
            .collect(),
        detail_failed,
        error: None,
    }
}

/// Fields the definition asks for that came back empty on some items: the usual sign of a
/// selector that fits most pages but not all.
fn field_warnings(src: &ScrapeSource, items: &[ItemReport]) -> Vec<String> {
    let n = items.len();
    let mut out = Vec::new();
    let mut count = |name: &str, missing: usize| {
        if missing > 0 {
            out.push(format!("{name} matched nothing on {missing} of {n} items"));
        }
    };
    count("date", items.iter().filter(|i| i.date_estimated).count());
    count("link", items.iter().filter(|i| i.link.is_none()).count());
    if let Some(detail) = &src.site.detail {
        let fetched: Vec<&ItemReport> = items.iter().filter(|i| !i.detail_failed).collect();
        if detail.author.is_some() {
            count(
                "detail.author",
                fetched.iter().filter(|i| i.authors.is_empty()).count(),
            );
        }
        if detail.content.is_some() {
            count(
                "detail.content",
                fetched.iter().filter(|i| i.content.is_empty()).count(),
            );
        }
    }
    count(
        "normalize",
        items.iter().filter(|i| i.error.is_some()).count(),
    );
    out
}

/// The human-readable form: a header per page, then a block per item.
fn text_report(r: &Report) -> String {
    let esc = |s: &str| text::printable(s).into_owned();
    let or_none = |s: &str| {
        if s.is_empty() {
            "(none)".to_owned()
        } else {
            esc(s)
        }
    };
    let mut lines: Vec<String> = r
        .pages
        .iter()
        .map(|p| {
            let (url, n) = (esc(&p.url), p.items);
            let (t, l, d) = (p.title_matched, p.link_matched, p.date_matched);
            format!("# {url}: {n} items (title {t}, link {l}, date {d})")
        })
        .collect();
    for (n, i) in r.items.iter().enumerate() {
        let date = match (&i.date, i.date_estimated, &i.raw_date) {
            (Some(d), false, _) => d.clone(),
            (Some(d), true, Some(raw)) => format!("{d} (estimated: page says `{}`)", esc(raw)),
            (Some(d), true, None) => format!("{d} (estimated: no date on the page)"),
            (None, _, Some(raw)) => format!("(none: page says `{}`)", esc(raw)),
            (None, _, None) => "(none)".into(),
        };
        lines.push(String::new());
        lines.push(format!("[{}] {}", n + 1, esc(&i.title)));
        let mut field = |label: &str, value: String| lines.push(format!("    {label:<12} {value}"));
        field("date:", date);
        field("link:", or_none(i.link.as_deref().unwrap_or_default()));
        field("author:", or_none(&i.authors.join(", ")));
        field("categories:", or_none(&i.categories.join(", ")));
        field("content:", or_none(&i.content));
        for a in &i.attachments {
            let (title, url) = (esc(&a.title), esc(&a.url));
            field(
                "attachment:",
                format!("{title} ({}, {} bytes) {url}", a.mime, a.bytes),
            );
        }
        if i.detail_failed {
            field("detail page:", "failed; list entry only".into());
        }
        if let Some(e) = &i.error {
            field("error:", esc(e));
        }
    }
    lines.into_iter().map(|l| l + "\n").collect()
}
