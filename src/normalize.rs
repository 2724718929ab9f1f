//! `RawNotice` → `Item`: titles trimmed, dates put in the feed's zone and then UTC, bodies
//! rendered to HTML, made absolute and sanitized, a plain-text summary cut, the GUID derived.
//!
//! Pure on purpose (no clock, no I/O): each quirk of a source can be pinned by a unit test on a
//! literal. The one time that is not in the notice, the moment a scraped notice was first seen,
//! is passed in by the caller.

pub mod revision;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::model::{is_publishable, Guid, GuidKey, Item, RawBody, RawDate, RawNotice};

/// Why a notice could not become an item. Each names where it came from.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("{origin}: no title")]
    NoTitle { origin: String },
    #[error("{origin}: no date{}", raw.as_ref().map(|r| format!(" (unreadable value `{r}`)")).unwrap_or_default())]
    NoDate { origin: String, raw: Option<String> },
    #[error("{origin}: date {} is outside the years 1970–9999 (in UTC or in {tz}); the notice is skipped", .value.to_rfc3339())]
    DateOutOfRange {
        origin: String,
        value: DateTime<Utc>,
        tz: Tz,
    },
    #[error("{origin}: body nested deeper than {MAX_NESTING} levels; refused (parsing it would take minutes)")]
    TooDeep { origin: String },
    #[error("{origin}: no id, link or path to derive a GUID from")]
    NoIdentity { origin: String },
}

/// What normalizing needs besides the notice.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The feed's zone: every date without an offset is wall-clock time there.
    pub timezone: Tz,
    /// For notices whose source gave no usable date: when noticefeed first saw them. `None`
    /// (local notices) makes such a notice an error instead, never "now".
    pub first_seen: Option<DateTime<Utc>>,
    /// Extra categories (e.g. the channel's name), added after the notice's own tags.
    pub categories: &'a [String],
}

/// How many characters of body text a summary keeps.
const SUMMARY_CHARS: usize = 280;

/// Converts one notice.
pub fn normalize(raw: RawNotice, cx: &Context<'_>) -> Result<Item, Error> {
    let title = clean_text(&raw.title);
    if title.is_empty() {
        return Err(Error::NoTitle { origin: raw.origin });
    }
    let date_estimated = raw.date.is_unusable();
    let published = match &raw.date {
        RawDate::Zoned(d) => d.with_timezone(&Utc),
        RawDate::Local(local) => local_to_utc(*local, cx.timezone),
        RawDate::Absent | RawDate::Untrusted { .. } => match cx.first_seen {
            Some(seen) => seen,
            None => {
                let value = match &raw.date {
                    RawDate::Untrusted { raw } => Some(raw.clone()),
                    _ => None,
                };
                return Err(Error::NoDate {
                    origin: raw.origin,
                    raw: value,
                });
            }
        },
    };
    if !is_publishable(published, cx.timezone) {
        return Err(Error::DateOutOfRange {
            origin: raw.origin,
            value: published,
            tz: cx.timezone,
        });
    }
    let Some(key) = guid_key(&raw) else {
        return Err(Error::NoIdentity { origin: raw.origin });
    };

    let too_deep = || Error::TooDeep {
        origin: raw.origin.clone(),
    };
    let html = match &raw.body {
        RawBody::Paragraphs(ps) => ps
            .iter()
            .map(|p| format!("<p>{}</p>", escape_html(p)))
            .collect::<Vec<_>>()
            .join("\n"),
        RawBody::Markdown(md) if markdown_too_deep(md, MAX_NESTING) => return Err(too_deep()),
        RawBody::Markdown(md) => markdown_to_html(md),
        RawBody::Html(h) => h.clone(),
    };
    // Checked before any HTML parser sees it: the Markdown's own HTML, or a page's body.
    if html_too_deep(&html, MAX_NESTING) {
        return Err(too_deep());
    }
    let base = raw.link.as_ref().map(|l| l.as_url());
    let body_html = sanitize_html(&html, base);
    let summary = match raw
        .summary
        .as_deref()
        .map(clean_text)
        .filter(|s| !s.is_empty())
    {
        Some(s) => s,
        None => summarize(&body_html, SUMMARY_CHARS),
    };
    let mut content_html = body_html;
    if !raw.attachments.is_empty() {
        content_html.push_str("\n<p>附件 / Attachments:</p>\n<ul>");
        for a in &raw.attachments {
            content_html.push_str(&format!(
                "<li><a href=\"{}\">{}</a></li>",
                escape_html(a.url.as_str()),
                escape_html(&clean_text(&a.title))
            ));
        }
        content_html.push_str("</ul>");
        // The final document is sanitized as a whole: nothing appended after the body's own
        // cleaning can bring a link or markup the policy refuses.
        content_html = sanitize_html(&content_html, base);
    }
    let mut categories: Vec<String> = Vec::new();
    for c in raw.tags.iter().chain(cx.categories) {
        let c = clean_text(c);
        if !c.is_empty() && !categories.contains(&c) {
            categories.push(c);
        }
    }
    let authors = raw
        .authors
        .iter()
        .map(|a| clean_text(a))
        .filter(|a| !a.is_empty())
        .collect();
    let attachments = raw
        .attachments
        .into_iter()
        .map(|mut a| {
            a.title = clean_text(&a.title);
            a
        })
        .collect();
    Ok(Item {
        guid: Guid::derive(&key),
        link: raw.link,
        title,
        published,
        date_estimated,
        updated: published,
        summary,
        content_html: strip_xml_invalid(&content_html),
        authors,
        categories,
        attachments,
    })
}

/// What a notice's GUID is derived from: its explicit id, else its canonical link, else its
/// path in the notice folder. Never its title, body or date.
pub fn guid_key(raw: &RawNotice) -> Option<GuidKey> {
    if let Some(id) = raw.explicit_id.as_ref().filter(|i| !i.trim().is_empty()) {
        Some(GuidKey::Explicit(id.clone()))
    } else if let Some(link) = &raw.link {
        Some(GuidKey::Link(link.clone()))
    } else {
        raw.rel_path.as_ref().map(|p| GuidKey::Path(p.clone()))
    }
}

/// Wall-clock time in `tz` to UTC. Every wall-clock time has an answer:
/// - an ambiguous time (the hour repeated when clocks go back) is the earlier instant;
/// - a time in a gap (the hour skipped when clocks go forward: 02:30 on a spring-forward day)
///   is read with the offset in force just before the gap, which moves it forward by the
///   gap's length (02:30 EST = 03:30 EDT), as an office clock that was not yet changed
///   would have meant it. It is a real time the notice gave, never "in the future" or missing.
pub fn local_to_utc(local: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    use chrono::Offset as _;
    match tz.from_local_datetime(&local).earliest() {
        Some(d) => d.with_timezone(&Utc),
        None => {
            // No zone changes its offset twice within a day, so the offset a day earlier is
            // the one in force just before the gap.
            let before = local
                .checked_sub_signed(chrono::Duration::days(1))
                .unwrap_or(local);
            let offset = tz.offset_from_utc_datetime(&before).fix();
            let shifted = local
                .checked_sub_signed(chrono::Duration::seconds(offset.local_minus_utc().into()))
                .unwrap_or(local);
            shifted.and_utc()
        }
    }
}

/// Characters XML 1.0 forbids (C0 controls except tab/newline/CR, U+FFFE/U+FFFF, lone
/// surrogates cannot occur in Rust strings) are dropped: one stray byte must not break a feed.
/// So are DEL and the C1 controls (U+007F–U+009F), which XML allows but discourages: they are
/// invisible, and a C1 CSI is a terminal escape.
pub fn strip_xml_invalid(s: &str) -> String {
    s.chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r')
                || ('\u{20}'..='\u{7E}').contains(&c)
                || ('\u{A0}'..='\u{D7FF}').contains(&c)
                || ('\u{E000}'..='\u{FFFD}').contains(&c)
                || c >= '\u{10000}'
        })
        .collect()
}

/// One-line text: XML-invalid characters dropped, runs of whitespace (including the
/// ideographic space U+3000 and no-break space) folded to one space, ends trimmed. Single
/// ASCII spaces inside a title are meaningful and kept.
pub fn clean_text(s: &str) -> String {
    let s = strip_xml_invalid(s);
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() || c == '\u{3000}' || c == '\u{a0}' {
            pending_space = true;
        } else if !c.is_control() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        }
    }
    out
}

/// Text for a terminal or a log: control characters other than newline and tab (ESC, BEL, CR,
/// DEL, the C1 range) are shown as `\u{1b}` escapes, so text from a site or a notice file can
/// never move the cursor, retitle the window or ring the bell of the operator's terminal.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() && !matches!(c, '\n' | '\t') {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Plain text as HTML text: the markup characters become entities.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// How deep HTML elements or Markdown containers may nest. Real pages stay under 60; parsers
/// spend time quadratic in the depth (100,000 nested `<div>` took 80 s of CPU), so anything
/// deeper is refused before it is parsed.
pub const MAX_NESTING: usize = 256;

/// Elements that never have content.
const VOID_ELEMENTS: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param",
    "source", "track", "wbr", "basefont", "bgsound", "frame", "image",
];

/// Elements whose content is text up to their end tag.
const RAW_TEXT_ELEMENTS: &[&str] = &[
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript",
];

/// Start tags that close an open `<p>`, as the HTML tree builder does.
const CLOSES_P: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "main",
    "menu",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "ul",
];

/// Whether `html` nests elements deeper than `limit`, estimated by one linear scan that follows
/// the tree builder's main rules (end tags close what they match, void and self-closing
/// elements hold nothing, `<p>`, `<li>`, `<dt>`/`<dd>`, `<td>`/`<th>`, `<tr>` and `<option>`
/// close their open predecessor, raw-text elements are skipped). It stops as soon as the limit
/// is passed, so it costs at most one pass over the text.
pub fn html_too_deep(html: &str, limit: usize) -> bool {
    let b = html.as_bytes();
    let lower = |s: &[u8]| String::from_utf8_lossy(s).to_ascii_lowercase();
    let mut stack: Vec<String> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let Some(off) = b[i..].iter().position(|&c| c == b'<') else {
            break;
        };
        i += off + 1;
        if b[i..].starts_with(b"!--") {
            i = find(b, i + 3, b"-->").map_or(b.len(), |e| e + 3);
            continue;
        }
        if matches!(b.get(i), Some(b'!' | b'?')) {
            i = find(b, i, b">").map_or(b.len(), |e| e + 1);
            continue;
        }
        let closing = b.get(i) == Some(&b'/');
        if closing {
            i += 1;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-' || b[i] == b':') {
            i += 1;
        }
        if i == start || !b[start].is_ascii_alphabetic() {
            continue;
        }
        let name = lower(&b[start..i]);
        // The end of the tag, stepping over quoted attribute values.
        let mut quote = None;
        while i < b.len() {
            match (quote, b[i]) {
                (None, b'"' | b'\'') => quote = Some(b[i]),
                (Some(q), c) if c == q => quote = None,
                (None, b'>') => break,
                _ => {}
            }
            i += 1;
        }
        let self_closing = i > 0 && b.get(i - 1) == Some(&b'/');
        i += 1;
        if closing {
            if let Some(pos) = stack.iter().rposition(|n| *n == name) {
                stack.truncate(pos);
            }
            continue;
        }
        if VOID_ELEMENTS.contains(&name.as_str()) || self_closing {
            continue;
        }
        if RAW_TEXT_ELEMENTS.contains(&name.as_str()) {
            let end = format!("</{name}");
            i = find_ascii_ci(b, i, end.as_bytes()).unwrap_or(b.len());
            continue;
        }
        let close_up_to = |stack: &mut Vec<String>, same: &[&str], fence: &[&str]| {
            if let Some(pos) = stack.iter().rposition(|n| same.contains(&n.as_str())) {
                if !stack[pos + 1..].iter().any(|n| fence.contains(&n.as_str())) {
                    stack.truncate(pos);
                }
            }
        };
        if CLOSES_P.contains(&name.as_str()) {
            close_up_to(
                &mut stack,
                &["p"],
                &["button", "table", "td", "th", "object"],
            );
        }
        match name.as_str() {
            "li" => close_up_to(&mut stack, &["li"], &["ul", "ol"]),
            "dt" | "dd" => close_up_to(&mut stack, &["dt", "dd"], &["dl"]),
            "td" | "th" => close_up_to(&mut stack, &["td", "th"], &["tr", "table"]),
            "tr" => close_up_to(&mut stack, &["tr"], &["table"]),
            "option" => close_up_to(&mut stack, &["option"], &["select"]),
            _ => {}
        }
        stack.push(name);
        if stack.len() > limit {
            return true;
        }
    }
    false
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn find_ascii_ci(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| p + from)
}

/// Whether Markdown nests containers (block quotes, list items) deeper than `limit`: per line,
/// the `>` markers and the indentation (two columns a level) before its text.
pub fn markdown_too_deep(md: &str, limit: usize) -> bool {
    md.lines().any(|line| {
        let mut depth = 0usize;
        let mut indent = 0usize;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '>' => depth += 1,
                ' ' => indent += 1,
                '\t' => indent += 4,
                // A list marker only when a space follows: `-----` is a rule, not 5 lists.
                '-' | '*' | '+' if matches!(chars.peek(), Some(' ' | '\t')) => depth += 1,
                _ => break,
            }
            if depth + indent / 2 > limit {
                return true;
            }
        }
        false
    })
}

/// The most body text one notice keeps (1 MiB): a notice is a page of text, and a 200 MB one
/// would otherwise be a 200 MB row and 200 MB feeds.
pub const MAX_CONTENT_BYTES: usize = 1024 * 1024;

/// Cuts `s` to [`MAX_CONTENT_BYTES`] on a character boundary; `Some(original length)` when it
/// did, for the caller's warning naming the file or page.
pub fn cap_content(s: &mut String) -> Option<usize> {
    if s.len() <= MAX_CONTENT_BYTES {
        return None;
    }
    let len = s.len();
    let mut cut = MAX_CONTENT_BYTES;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    Some(len)
}

/// CommonMark plus tables and strikethrough, as notices copied from office documents use them.
pub fn markdown_to_html(md: &str) -> String {
    use pulldown_cmark::{html, Options, Parser};
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut out = String::new();
    html::push_html(&mut out, Parser::new_ext(md, opts));
    out
}

/// ammonia's defaults (no script, no `on*`, no `style`), links limited to `http`/`https`, with
/// relative `href`/`src` made absolute against the notice's own link so they work inside a
/// reader. Without a link to resolve against, a relative link means nothing in a reader and is
/// dropped (the element and its text stay).
pub fn sanitize_html(html: &str, base: Option<&url::Url>) -> String {
    let mut b = ammonia::Builder::default();
    b.link_rel(Some("noopener noreferrer"));
    b.url_schemes(std::collections::HashSet::from(["http", "https"]));
    if let Some(base) = base {
        b.url_relative(ammonia::UrlRelative::RewriteWithBase(base.clone()));
    } else {
        b.url_relative(ammonia::UrlRelative::Deny);
    }
    b.clean(html).to_string().trim().to_owned()
}

/// Plain text of sanitized HTML, whitespace folded, cut at `max` characters on a char boundary.
pub fn summarize(html: &str, max: usize) -> String {
    let frag = scraper::Html::parse_fragment(html);
    let mut text = String::new();
    for t in frag.root_element().text() {
        text.push_str(t);
        text.push(' ');
    }
    let text = clean_text(&text);
    if text.chars().count() <= max {
        return text;
    }
    let cut: String = text.chars().take(max).collect();
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attachment, CanonicalUrl};
    use chrono::NaiveDate;

    fn raw() -> RawNotice {
        RawNotice {
            origin: "n.txt".into(),
            explicit_id: None,
            link: None,
            rel_path: Some("n.txt".into()),
            title: "  \u{3000}Title\u{1}  one \n\t".into(),
            date: RawDate::Local(
                NaiveDate::from_ymd_opt(2026, 1, 23)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap(),
            ),
            body: RawBody::Paragraphs(vec!["a < b & c".into()]),
            summary: None,
            authors: vec![],
            tags: vec!["x".into(), "x".into()],
            attachments: vec![],
        }
    }

    fn cx() -> Context<'static> {
        Context {
            timezone: chrono_tz::Asia::Shanghai,
            first_seen: None,
            categories: &[],
        }
    }

    #[test]
    fn local_dates_are_read_in_the_feed_zone() {
        let item = normalize(raw(), &cx()).unwrap();
        assert_eq!(item.published.to_rfc3339(), "2026-01-22T16:00:00+00:00");
        assert_eq!(item.title, "Title one");
        assert_eq!(item.content_html, "<p>a &lt; b &amp; c</p>");
        assert_eq!(item.summary, "a < b & c");
        assert_eq!(item.categories, vec!["x"]);
    }

    #[test]
    fn missing_date_is_an_error_without_first_seen() {
        let mut r = raw();
        r.date = RawDate::Untrusted {
            raw: "2026-02-30".into(),
        };
        let e = normalize(r.clone(), &cx()).unwrap_err();
        assert!(e.to_string().contains("2026-02-30"));
        let seen = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let c = Context {
            first_seen: Some(seen),
            ..cx()
        };
        assert_eq!(normalize(r, &c).unwrap().published, seen);
    }

    #[test]
    fn guid_prefers_id_then_link_then_path_and_ignores_content() {
        let a = normalize(raw(), &cx()).unwrap().guid;
        let mut edited = raw();
        edited.title = "Another title".into();
        edited.body = RawBody::Markdown("new".into());
        edited.date = RawDate::Absent;
        let c = Context {
            first_seen: Some(Utc::now()),
            ..cx()
        };
        assert_eq!(normalize(edited, &c).unwrap().guid, a);
        let mut linked = raw();
        linked.link = Some(CanonicalUrl::parse("https://h/x.html").unwrap());
        let b = normalize(linked.clone(), &cx()).unwrap().guid;
        assert_ne!(a, b);
        linked.explicit_id = Some("x".into());
        assert_ne!(normalize(linked, &cx()).unwrap().guid, b);
    }

    #[test]
    fn html_is_sanitized_and_made_absolute() {
        let mut r = raw();
        r.link = Some(CanonicalUrl::parse("https://h/html/a/b/1.html").unwrap());
        r.body = RawBody::Html(
            "<p onclick=\"x()\">hi<script>alert(1)</script><a href=\"javascript:alert(1)\">j</a>\
             <img src=\"../../../uploads/p.jpg\"><a href=\"/f.pdf\">f</a></p>"
                .into(),
        );
        r.attachments = vec![Attachment {
            url: CanonicalUrl::parse("https://h/f.pdf").unwrap(),
            title: "附件1".into(),
            mime: "application/pdf".into(),
            length: 0,
        }];
        let item = normalize(r, &cx()).unwrap();
        let h = &item.content_html;
        assert!(
            !h.contains("script") && !h.contains("onclick") && !h.contains("javascript"),
            "{h}"
        );
        assert!(h.contains("src=\"https://h/uploads/p.jpg\""), "{h}");
        assert!(h.contains("href=\"https://h/f.pdf\""), "{h}");
        assert!(
            h.ends_with(
                "<li><a href=\"https://h/f.pdf\" rel=\"noopener noreferrer\">附件1</a></li></ul>"
            ),
            "{h}"
        );
    }

    #[test]
    fn content_links_are_http_only_even_without_a_base() {
        // See: issue 9, case 2.
        let mut r = raw();
        r.body = RawBody::Markdown(
            "[a](javascript:alert(1)) [b](data:text/html,x) [c](file:///etc/passwd) \
             [d](mailto:a@b.c) [e](rel.html) [f](https://h/ok.html) \
             <a href=\"javascript://x/%0Aalert(document.domain)//a.pdf\">g</a>"
                .into(),
        );
        let h = normalize(r, &cx()).unwrap().content_html;
        assert_eq!(h.matches("href=").count(), 1, "{h}");
        assert!(h.contains("href=\"https://h/ok.html\""), "{h}");
        for bad in ["javascript", "data:", "file:", "mailto:", "rel.html"] {
            assert!(!h.contains(bad), "{bad}: {h}");
        }
    }

    #[test]
    fn dates_outside_1970_to_9999_are_refused() {
        // See: issue 9, case 1: `9999-12-31T20:00:00Z` is year 10000 in Shanghai, and
        // `01/01/0000` in a .txt became `-0001-12-31T15:54:17Z`, which the store could not read.
        let mut r = raw();
        r.date =
            RawDate::Zoned(chrono::DateTime::parse_from_rfc3339("9999-12-31T20:00:00Z").unwrap());
        let e = normalize(r.clone(), &cx()).unwrap_err();
        assert!(matches!(e, Error::DateOutOfRange { .. }), "{e}");
        assert!(
            e.to_string().starts_with("n.txt: date +10000")
                || e.to_string().contains("9999-12-31T20:00:00"),
            "{e}"
        );
        r.date = RawDate::Local(
            NaiveDate::from_ymd_opt(0, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
        );
        assert!(matches!(
            normalize(r.clone(), &cx()),
            Err(Error::DateOutOfRange { .. })
        ));
        r.date = RawDate::Local(
            NaiveDate::from_ymd_opt(1969, 12, 31)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap(),
        );
        assert!(normalize(r.clone(), &cx()).is_err());
        // In UTC the same instant is fine; in Shanghai it is 10000-01-01.
        let utc = Context {
            timezone: chrono_tz::UTC,
            ..cx()
        };
        r.date =
            RawDate::Zoned(chrono::DateTime::parse_from_rfc3339("9999-12-31T20:00:00Z").unwrap());
        assert!(normalize(r.clone(), &utc).is_ok());
        r.date = RawDate::Local(
            NaiveDate::from_ymd_opt(1970, 1, 1)
                .unwrap()
                .and_hms_opt(8, 0, 0)
                .unwrap(),
        );
        assert!(normalize(r, &cx()).is_ok());
    }

    #[test]
    fn a_time_in_a_dst_gap_is_shifted_forward_and_a_repeated_one_is_the_earlier() {
        let ny = chrono_tz::America::New_York;
        let wall = |d: u32, h: u32, m: u32| {
            NaiveDate::from_ymd_opt(2026, 3, d)
                .unwrap()
                .and_hms_opt(h, m, 0)
                .unwrap()
        };
        // 2026-03-08 02:00 EST → 03:00 EDT: 02:30 does not exist; it is 03:30 EDT.
        let gap = local_to_utc(wall(8, 2, 30), ny);
        assert_eq!(gap.to_rfc3339(), "2026-03-08T07:30:00+00:00");
        assert_eq!(
            gap.with_timezone(&ny).naive_local(),
            wall(8, 3, 30),
            "shifted forward by the gap"
        );
        // Either side of the gap is untouched.
        assert_eq!(
            local_to_utc(wall(8, 1, 59), ny).to_rfc3339(),
            "2026-03-08T06:59:00+00:00"
        );
        assert_eq!(
            local_to_utc(wall(8, 3, 0), ny).to_rfc3339(),
            "2026-03-08T07:00:00+00:00"
        );
        // 2026-11-01 01:30 happens twice: the first (EDT) is taken.
        let fold = NaiveDate::from_ymd_opt(2026, 11, 1)
            .unwrap()
            .and_hms_opt(1, 30, 0)
            .unwrap();
        assert_eq!(
            local_to_utc(fold, ny).to_rfc3339(),
            "2026-11-01T05:30:00+00:00"
        );
        // A notice dated in the gap is an item, dated at that instant.
        let mut r = raw();
        r.date = RawDate::Local(wall(8, 2, 30));
        let c = Context {
            timezone: ny,
            ..cx()
        };
        assert_eq!(normalize(r, &c).unwrap().published, gap);
    }

    #[test]
    fn nesting_is_measured_before_parsing() {
        // See: issue 9, case 4: 100,000 nested <div> (80 s of CPU) and 200 KB of nested `>`.
        let divs = "<div>".repeat(100_000);
        let t = std::time::Instant::now();
        assert!(html_too_deep(&divs, MAX_NESTING));
        assert!(html_too_deep(&"<b>".repeat(300), MAX_NESTING));
        assert!(markdown_too_deep(&">".repeat(200_000), MAX_NESTING));
        assert!(markdown_too_deep(&"> - ".repeat(200), MAX_NESTING));
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
        // What real pages do never counts as depth.
        for ok in [
            "<p>a<p>b<p>c".repeat(1000),
            "<ul><li>a<li>b</ul>".repeat(1000),
            "<table><tr><td>a<td>b<tr><td>c</table>".repeat(1000),
            "<br><img src=x><hr><input>".repeat(1000),
            "<div><p>x</div>".repeat(1000),
            "<script>".to_owned() + &"<div>".repeat(1000) + "</script>",
            "<!-- ".to_owned() + &"<div>".repeat(1000) + " -->",
            "<div title=\"a>b\"></div><x/>".repeat(1000),
            "<dl><dt>a<dd>b<dt>c<dd>d</dl>".repeat(500),
            "<select><option>a<option>b</select>".repeat(500),
        ] {
            assert!(!html_too_deep(&ok, MAX_NESTING), "{}", &ok[..60]);
        }
        assert!(!markdown_too_deep(&"-".repeat(1000), MAX_NESTING));
        assert!(!markdown_too_deep("> a\n>> b\n- c\n  - d\n", MAX_NESTING));
        let mut r = raw();
        r.body = RawBody::Markdown(">".repeat(200_000));
        assert!(matches!(
            normalize(r.clone(), &cx()),
            Err(Error::TooDeep { .. })
        ));
        r.body = RawBody::Html(divs);
        let e = normalize(r, &cx()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("n.txt: body nested deeper than 256"),
            "{e}"
        );
    }

    #[test]
    fn summaries_are_cut_on_char_boundaries() {
        let s = summarize("<p>有色金属行业</p>", 3);
        assert_eq!(s, "有色金…");
    }

    #[test]
    fn printable_escapes_terminal_controls() {
        // See: issue 9, case 7.
        assert_eq!(
            printable("a\u{1b}]0;x\u{7}b\rc\n\td"),
            "a\\u{1b}]0;x\\u{7}b\\u{d}c\n\td"
        );
        assert_eq!(printable("\u{9b}31m"), "\\u{9b}31m");
        assert!(matches!(printable("平常"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn xml_invalid_characters_are_dropped() {
        assert_eq!(strip_xml_invalid("a\u{0}b\u{b}c\u{fffe}d\te"), "abcd\te");
        assert_eq!(
            strip_xml_invalid("a\u{7f}b\u{8e}c\u{9b}d\u{a0}"),
            "abcd\u{a0}"
        );
    }
}

/// Properties of putting wall-clock time in a zone: never a panic, an existing time is that
/// time, a time in a DST gap moves forward by less than the gap, nothing moves backward.
#[cfg(test)]
mod proptests {
    use super::*;
    use chrono::NaiveDate;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn local_times_are_kept_or_shifted_forward_out_of_a_gap(
            (y, m, d, h, mi) in (1u32..=9999, 1u32..=12, 1u32..=28, 0u32..24, 0u32..60),
            zone in proptest::sample::select(vec![
                chrono_tz::Asia::Shanghai,
                chrono_tz::America::New_York,
                chrono_tz::America::Sao_Paulo,
                chrono_tz::Europe::London,
                chrono_tz::Australia::Lord_Howe,
                chrono_tz::Pacific::Apia,
                chrono_tz::UTC,
            ]),
        ) {
            let Some(local) = NaiveDate::from_ymd_opt(y as i32, m, d).and_then(|x| x.and_hms_opt(h, mi, 0)) else {
                return Ok(());
            };
            let utc = local_to_utc(local, zone);
            let back = utc.with_timezone(&zone).naive_local();
            match zone.from_local_datetime(&local).earliest() {
                Some(e) => prop_assert_eq!(utc, e.with_timezone(&Utc)),
                None => {
                    prop_assert!(back > local, "{local} in {zone} became {back}");
                    // Gaps are at most a day (Apia skipped 2011-12-30 entirely).
                    prop_assert!(back - local <= chrono::Duration::hours(24), "{local} → {back}");
                }
            }
        }
    }
}
