//! `RawNotice` → `Item`: titles trimmed, dates put in the feed's zone and then UTC, bodies
//! rendered to HTML, made absolute and sanitized, a plain-text summary cut, the GUID derived.
//!
//! Pure on purpose (no clock, no I/O): each quirk of a source can be pinned by a unit test on a
//! literal. The one time that is not in the notice, the moment a scraped notice was first seen,
//! is passed in by the caller.

pub mod revision;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::model::{
    is_publishable, Guid, GuidKey, Item, RawBody, RawDate, RawNotice, SummaryDerived,
};
use crate::nesting::{html_too_deep, markdown_too_deep, MAX_NESTING};
use crate::text::{clean_text, derived_summary, escape_html, into_xml_valid};

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
    /// For notices whose source gave no usable date: when noticefeed first saw them (the run's
    /// start). It is also the latest date believed (with [`FUTURE_SLACK`]): a site does not
    /// publish a notice after we read it. `None` (local notices) makes a missing or impossible
    /// date an error instead, never "now".
    pub first_seen: Option<DateTime<Utc>>,
    /// Extra categories (e.g. the channel's name), added after the notice's own tags.
    pub categories: &'a [String],
}

/// How far after the run a scraped date may lie and still be believed: clocks of servers and
/// of the machine running noticefeed disagree by minutes, never by more.
pub const FUTURE_SLACK: chrono::Duration = chrono::Duration::minutes(60);

/// The instant a date names, with wall-clock time put in `tz`; `None` when there is none.
fn given_date(date: &RawDate, tz: Tz) -> Option<DateTime<Utc>> {
    match date {
        RawDate::Zoned(d) => Some(d.with_timezone(&Utc)),
        RawDate::Local(local) => Some(local_to_utc(*local, tz)),
        RawDate::Absent | RawDate::Unreadable { .. } => None,
    }
}

/// Whether a date given by the source can be published as it is: every output can write it,
/// and (for a scraped notice) it does not lie after the run that read it.
fn is_believed(t: DateTime<Utc>, cx: &Context<'_>) -> bool {
    is_publishable(t, cx.timezone) && cx.first_seen.is_none_or(|seen| t <= seen + FUTURE_SLACK)
}

/// The warning for a scraped date that is not believed.
fn doubt(origin: &str, t: DateTime<Utc>, cx: &Context<'_>) -> String {
    let shown = t.with_timezone(&cx.timezone).format("%Y-%m-%d %H:%M");
    if is_publishable(t, cx.timezone) {
        format!("{origin}: date `{shown}` is in the future; dated when first seen")
    } else {
        format!("{origin}: date `{shown}` is outside the years 1970–9999; dated when first seen")
    }
}

/// Converts one notice. A date that is not believed, and is replaced by the moment the notice
/// was first seen, adds a warning naming the notice and the value to `warnings`.
pub fn normalize(
    raw: RawNotice,
    cx: &Context<'_>,
    warnings: &mut Vec<String>,
) -> Result<Item, Error> {
    let title = clean_text(&raw.title);
    if title.is_empty() {
        return Err(Error::NoTitle { origin: raw.origin });
    }
    let (published, date_estimated) = match given_date(&raw.date, cx.timezone) {
        Some(t) if is_believed(t, cx) => (t, false),
        // Scraped: a date that is missing or not believed becomes the moment it was first seen.
        given => match (cx.first_seen, given) {
            (Some(seen), Some(t)) => {
                warnings.push(doubt(&raw.origin, t, cx));
                (seen, true)
            }
            (Some(seen), None) => (seen, true),
            // A local notice: never invented, an error naming the value.
            (None, Some(value)) => {
                return Err(Error::DateOutOfRange {
                    origin: raw.origin,
                    value,
                    tz: cx.timezone,
                })
            }
            (None, None) => {
                let value = match &raw.date {
                    RawDate::Unreadable { raw } => Some(raw.clone()),
                    _ => None,
                };
                return Err(Error::NoDate {
                    origin: raw.origin,
                    raw: value,
                });
            }
        },
    };
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
    let own_summary = raw
        .summary
        .as_deref()
        .map(clean_text)
        .filter(|s| !s.is_empty());
    // Derived from the body, it is the content's own derivation when nothing is added to the
    // body below (no attachment list) and no character is dropped from it.
    let mut summary_derived = own_summary.is_none() && raw.attachments.is_empty();
    let summary = own_summary.unwrap_or_else(|| derived_summary(&body_html));
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
    let body_len = content_html.len();
    let content_html = into_xml_valid(content_html);
    summary_derived &= content_html.len() == body_len;
    Ok(Item {
        guid: Guid::derive(&key),
        link: raw.link,
        title,
        published,
        date_estimated,
        updated: published,
        summary,
        content_html,
        summary_derived: SummaryDerived(summary_derived),
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
    thread_local! {
        // Building the policy (its tag and attribute sets) cost as much as cleaning a notice;
        // only the base changes from one notice to the next.
        static SANITIZER: std::cell::RefCell<ammonia::Builder<'static>> = {
            let mut b = ammonia::Builder::default();
            b.link_rel(Some("noopener noreferrer"));
            b.url_schemes(std::collections::HashSet::from(["http", "https"]));
            std::cell::RefCell::new(b)
        };
    }
    SANITIZER.with_borrow_mut(|b| {
        b.url_relative(match base {
            Some(base) => ammonia::UrlRelative::RewriteWithBase(base.clone()),
            None => ammonia::UrlRelative::Deny,
        });
        b.clean(html).to_string().trim().to_owned()
    })
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
        let item = normalize(raw(), &cx(), &mut vec![]).unwrap();
        assert_eq!(item.published.to_rfc3339(), "2026-01-22T16:00:00+00:00");
        assert_eq!(item.title, "Title one");
        assert_eq!(item.content_html, "<p>a &lt; b &amp; c</p>");
        assert_eq!(item.summary, "a < b & c");
        assert_eq!(item.categories, vec!["x"]);
    }

    #[test]
    fn missing_date_is_an_error_without_first_seen() {
        let mut r = raw();
        r.date = RawDate::Unreadable {
            raw: "2026-02-30".into(),
        };
        let e = normalize(r.clone(), &cx(), &mut vec![]).unwrap_err();
        assert!(e.to_string().contains("2026-02-30"));
        let seen = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let c = Context {
            first_seen: Some(seen),
            ..cx()
        };
        assert_eq!(normalize(r, &c, &mut vec![]).unwrap().published, seen);
    }

    #[test]
    fn guid_prefers_id_then_link_then_path_and_ignores_content() {
        let a = normalize(raw(), &cx(), &mut vec![]).unwrap().guid;
        let mut edited = raw();
        edited.title = "Another title".into();
        edited.body = RawBody::Markdown("new".into());
        edited.date = RawDate::Absent;
        let c = Context {
            first_seen: Some(Utc::now()),
            ..cx()
        };
        assert_eq!(normalize(edited, &c, &mut vec![]).unwrap().guid, a);
        let mut linked = raw();
        linked.link = Some(CanonicalUrl::parse("https://h/x.html").unwrap());
        let b = normalize(linked.clone(), &cx(), &mut vec![]).unwrap().guid;
        assert_ne!(a, b);
        linked.explicit_id = Some("x".into());
        assert_ne!(normalize(linked, &cx(), &mut vec![]).unwrap().guid, b);
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
        let item = normalize(r, &cx(), &mut vec![]).unwrap();
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
        let h = normalize(r, &cx(), &mut vec![]).unwrap().content_html;
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
        let e = normalize(r.clone(), &cx(), &mut vec![]).unwrap_err();
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
            normalize(r.clone(), &cx(), &mut vec![]),
            Err(Error::DateOutOfRange { .. })
        ));
        r.date = RawDate::Local(
            NaiveDate::from_ymd_opt(1969, 12, 31)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap(),
        );
        assert!(normalize(r.clone(), &cx(), &mut vec![]).is_err());
        // In UTC the same instant is fine; in Shanghai it is 10000-01-01.
        let utc = Context {
            timezone: chrono_tz::UTC,
            ..cx()
        };
        r.date =
            RawDate::Zoned(chrono::DateTime::parse_from_rfc3339("9999-12-31T20:00:00Z").unwrap());
        assert!(normalize(r.clone(), &utc, &mut vec![]).is_ok());
        r.date = RawDate::Local(
            NaiveDate::from_ymd_opt(1970, 1, 1)
                .unwrap()
                .and_hms_opt(8, 0, 0)
                .unwrap(),
        );
        assert!(normalize(r, &cx(), &mut vec![]).is_ok());
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
        assert_eq!(normalize(r, &c, &mut vec![]).unwrap().published, gap);
    }

    #[test]
    fn a_scraped_date_after_the_run_or_unwritable_is_dated_when_first_seen() {
        // The run reads the site on 2026-03-09; its dates are New York wall-clock time.
        let seen = Utc.with_ymd_and_hms(2026, 3, 9, 0, 0, 0).unwrap();
        let c = Context {
            timezone: chrono_tz::America::New_York,
            first_seen: Some(seen),
            ..cx()
        };
        let at = |y, m, d, h, mi| {
            RawDate::Local(
                NaiveDate::from_ymd_opt(y, m, d)
                    .unwrap()
                    .and_hms_opt(h, mi, 0)
                    .unwrap(),
            )
        };
        let mut r = raw();
        r.origin = "https://h/1.html".into();
        // In the DST gap: a real time, shifted forward, believed.
        r.date = at(2026, 3, 8, 2, 30);
        let mut warnings = Vec::new();
        let item = normalize(r.clone(), &c, &mut warnings).unwrap();
        assert_eq!(item.published.to_rfc3339(), "2026-03-08T07:30:00+00:00");
        assert!(!item.date_estimated && warnings.is_empty(), "{warnings:?}");
        // Within the hour of slack: believed.
        r.date = at(2026, 3, 8, 19, 59);
        assert!(
            !normalize(r.clone(), &c, &mut warnings)
                .unwrap()
                .date_estimated
        );
        // After the run: the moment first seen, and a warning naming the notice and value.
        r.date = at(2026, 3, 10, 2, 30);
        let item = normalize(r.clone(), &c, &mut warnings).unwrap();
        assert_eq!((item.published, item.date_estimated), (seen, true));
        assert_eq!(
            warnings,
            ["https://h/1.html: date `2026-03-10 02:30` is in the future; dated when first seen"]
        );
        // A year no format can write: the same, with its own reason.
        warnings.clear();
        r.date = at(1969, 12, 31, 23, 0);
        let item = normalize(r, &c, &mut warnings).unwrap();
        assert_eq!((item.published, item.date_estimated), (seen, true));
        assert!(
            warnings[0].contains("is outside the years 1970–9999; dated when first seen"),
            "{warnings:?}"
        );
    }

    #[test]
    fn bodies_nested_too_deep_are_refused() {
        // See: issue 9, case 4.
        let mut r = raw();
        r.body = RawBody::Markdown(">".repeat(200_000));
        assert!(matches!(
            normalize(r.clone(), &cx(), &mut vec![]),
            Err(Error::TooDeep { .. })
        ));
        r.body = RawBody::Html("<div>".repeat(100_000));
        let e = normalize(r, &cx(), &mut vec![]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("n.txt: body nested deeper than 256"),
            "{e}"
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
