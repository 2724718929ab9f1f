//! HTML + a site definition → list entries and detail fields, as strings. Pure: no fetching, no
//! dates, no URL resolution, so each quirk of a page is pinned by a unit test on a literal.
//!
//! It also counts how often each field matched, because "date selector matched 0 of 20 items"
//! is the message a user writing a definition needs, and the first sign of a site redesign.

use scraper::{ElementRef, Html};

use crate::config::preset::{DetailSpec, Field, ListSpec, Pagination, Take};

/// One entry of a list page, as written there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    pub href: String,
    pub title: String,
    pub date: Option<String>,
}

/// What a list page gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub entries: Vec<ListEntry>,
    /// Elements the item selector matched (entries without a link or title are dropped).
    pub items_matched: usize,
    pub title_matched: usize,
    pub link_matched: usize,
    pub date_matched: usize,
    /// The next page's href, as written, when the pagination rule is a next link.
    pub next: Option<String>,
}

impl ListPage {
    /// Warnings for fields that matched fewer items than the item selector did.
    pub fn warnings(&self, spec: &ListSpec) -> Vec<String> {
        let n = self.items_matched;
        let mut out = Vec::new();
        let mut check = |name: &str, css: &str, got: usize| {
            if got < n {
                out.push(format!(
                    "{name} selector `{css}` matched {got} of {n} items"
                ));
            }
        };
        check("title", &spec.title.css, self.title_matched);
        check("link", &spec.link.css, self.link_matched);
        if let Some(d) = &spec.date {
            check("date", &d.css, self.date_matched);
        }
        out
    }
}

/// What a detail page gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DetailPage {
    pub title: Option<String>,
    pub date: Option<String>,
    pub author: Option<String>,
    pub content_html: Option<String>,
    /// `(href as written, link text)` of every candidate attachment link, in page order.
    pub links: Vec<(String, String)>,
}

/// Text of an element and its descendants, with outer whitespace trimmed.
fn element_text(el: ElementRef<'_>) -> String {
    el.text().collect::<String>().trim().to_owned()
}

fn take(el: ElementRef<'_>, field: &Field) -> Option<String> {
    let raw = match &field.take {
        Take::Text => element_text(el),
        Take::Html => el.inner_html().trim().to_owned(),
        Take::Attr(a) => el.value().attr(a)?.trim().to_owned(),
    };
    let value = match &field.regex {
        None => raw,
        Some(re) => {
            let caps = re.captures(&raw)?;
            caps.get(1)
                .or_else(|| caps.get(0))?
                .as_str()
                .trim()
                .to_owned()
        }
    };
    Some(value).filter(|v| !v.is_empty())
}

fn candidates<'a>(
    scope: ElementRef<'a>,
    field: &'a Field,
) -> impl Iterator<Item = ElementRef<'a>> + 'a {
    scope.select(&field.selector).filter(move |el| {
        field
            .matches
            .as_ref()
            .is_none_or(|m| m.is_match(&element_text(*el)))
    })
}

/// The first value the field extracts inside `scope`.
pub fn extract(scope: ElementRef<'_>, field: &Field) -> Option<String> {
    candidates(scope, field).find_map(|el| take(el, field))
}

/// Reads a list page.
pub fn parse_list(html: &str, spec: &ListSpec, pagination: Option<&Pagination>) -> ListPage {
    let doc = Html::parse_document(html);
    let mut page = ListPage::default();
    for item in doc.select(&spec.item) {
        page.items_matched += 1;
        let title = extract(item, &spec.title);
        let href = extract(item, &spec.link);
        let date = spec.date.as_ref().and_then(|d| extract(item, d));
        page.title_matched += usize::from(title.is_some());
        page.link_matched += usize::from(href.is_some());
        page.date_matched += usize::from(date.is_some());
        if let (Some(title), Some(href)) = (title, href) {
            page.entries.push(ListEntry { href, title, date });
        }
    }
    if let Some(Pagination::Next(field)) = pagination {
        page.next = extract(doc.root_element(), field);
    }
    page
}

/// Reads a detail page.
pub fn parse_detail(html: &str, spec: &DetailSpec) -> DetailPage {
    let doc = Html::parse_document(html);
    let root = doc.root_element();
    let get = |f: &Option<Field>| f.as_ref().and_then(|f| extract(root, f));
    let links = spec
        .attachments
        .as_ref()
        .map(|f| {
            candidates(root, f)
                .filter_map(|el| Some((take(el, f)?, element_text(el))))
                .collect()
        })
        .unwrap_or_default();
    DetailPage {
        title: get(&spec.title),
        date: get(&spec.date),
        author: get(&spec.author),
        content_html: get(&spec.content),
        links,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::preset::SiteDef;

    fn site() -> SiteDef {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds/sites/chinania.toml");
        crate::config::preset::load_file(&path).unwrap()
    }

    const LIST: &str = r#"<html><body>
      <ul class="side_list"><li><a href="/x/1.html">noise</a></li></ul>
      <ul class="notice_list_ul">
        <li class="top"><a href="/html/a/b/2026/0615/61296.html"><i class="icon_top"></i>
          <div class="notice_list_txt"><p class="notice_list_title">置顶通知</p><p class="notice_list_time">2026-06-15</p></div></a></li>
        <li><a href="/html/a/b/2026/0926/62089.html"><div class="notice_list_txt">
          <p class="notice_list_title">关于征集&quot;ESG &amp; 可持续发展&quot;的通知</p><p class="notice_list_time">2026-09-26</p></div></a></li>
        <li><a href="/html/a/b/2026/0828/61846.html"><div class="notice_list_txt">
          <p class="notice_list_title">
		　　标题 有空格　
          </p><p class="notice_list_time"></p></div></a></li>
      </ul>
      <div class="pages"><a class="a1">51条</a> <a href="/l/index.html" class="a1">上一页</a> <span>1</span>
        <a href="/l/2.html">2</a> <a href="/l/2.html" class="a1">下一页</a></div>
    </body></html>"#;

    #[test]
    fn list_entries_titles_dates_and_next_link() {
        let s = site();
        let page = parse_list(LIST, &s.list, s.pagination.as_ref());
        assert_eq!(page.items_matched, 3);
        assert_eq!(page.entries.len(), 3);
        assert_eq!(page.entries[0].href, "/html/a/b/2026/0615/61296.html");
        assert_eq!(page.entries[1].title, "关于征集\"ESG & 可持续发展\"的通知");
        assert_eq!(page.entries[1].date.as_deref(), Some("2026-09-26"));
        assert_eq!(page.entries[2].date, None);
        assert_eq!(page.next.as_deref(), Some("/l/2.html"));
        let w = page.warnings(&s.list);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].starts_with("date selector") && w[0].ends_with("matched 2 of 3 items"),
            "{w:?}"
        );
    }

    #[test]
    fn empty_pagination_has_no_next() {
        let s = site();
        let html = LIST.replace(
            &LIST[LIST.find("<div class=\"pages\">").unwrap()..LIST.find("</body>").unwrap()],
            "<div class=\"pages\"></div>",
        );
        assert_eq!(parse_list(&html, &s.list, s.pagination.as_ref()).next, None);
    }

    #[test]
    fn detail_fields() {
        let s = site();
        let html = r#"<html><body><div class="article_title">
            <p>  完整标题  </p>
            <p class="article_source"><span>来源：中国有色金属工业协会</span>　<span>浏览次数：<em>--</em></span></p>
            <p>发布时间：2026-08-27 12:56</p></div>
            <div class="article_content"><p>正文</p>
            <p>附件1：<a href="/uploads/2026/0827/a.pdf">附件1：名单.pdf</a></p>
            <p><a href="/html/x/1.html">相关</a></p></div>
            <div class="article_prenext"><a href="/uploads/other.pdf">不是附件</a></div></body></html>"#;
        let d = parse_detail(html, s.detail.as_ref().unwrap());
        assert_eq!(d.title.as_deref(), Some("完整标题"));
        assert_eq!(d.date.as_deref(), Some("2026-08-27 12:56"));
        assert_eq!(d.author.as_deref(), Some("中国有色金属工业协会"));
        assert!(d.content_html.unwrap().starts_with("<p>正文</p>"));
        assert_eq!(
            d.links,
            vec![
                (
                    "/uploads/2026/0827/a.pdf".to_owned(),
                    "附件1：名单.pdf".to_owned()
                ),
                ("/html/x/1.html".to_owned(), "相关".to_owned())
            ]
        );
    }

    /// Random HTML with hostile pieces: scripts, `on*` handlers, every link scheme, control
    /// characters, entities, dates out of range, deep and broken nesting, in and around the
    /// shape of the association's list and detail pages.
    fn hostile_html() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let text = prop_oneof![
            "[ -~]{0,10}",
            "[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}]{1,3}",
            "[有色金属通知附件]{1,6}",
            prop::sample::select(vec![
                "2026-01-05",
                "0000-01-01",
                "9999-12-31",
                "2026-02-30",
                "&lt;script&gt;",
                "&#1;",
                "&#x1b;",
                "]]>",
                "<!--",
                "-->",
                "<![CDATA[x]]>",
                "下一页",
                "\u{1b}[31m",
            ])
            .prop_map(str::to_owned),
        ];
        let href = prop::sample::select(vec![
            "javascript:alert(1)",
            " JaVaScRiPt:alert(1)",
            "java\tscript:alert(1)",
            "javascript://x/%0Aalert(document.domain)//a.pdf",
            "data:text/html,<script>x</script>",
            "file:///etc/passwd",
            "vbscript:x",
            "mailto:a@b.c",
            "#",
            "",
            "/html/a/1.html",
            "../../uploads/a.pdf",
            "//evil.example/a.pdf",
            "http://127.0.0.1:9/admin",
            "https://www.chinania.org.cn/uploads/b.docx",
            "&#106;avascript:alert(1)",
            "\u{1}javascript:x",
            "http://localhost/x.html",
            "?page=2",
        ]);
        let attr = prop_oneof![
            href.clone().prop_map(|h| format!(" href=\"{h}\"")),
            href.prop_map(|h| format!(" src=\"{h}\"")),
            Just(" onclick=\"alert(1)\"".to_owned()),
            Just(" onerror=alert(1)".to_owned()),
            Just(" style=\"background:url(javascript:x)\"".to_owned()),
            Just(" class=\"notice_list_title\"".to_owned()),
            Just(" class=\"notice_list_time\"".to_owned()),
            Just(" class=\"article_content\"".to_owned()),
            Just(" class=\"a1\"".to_owned()),
        ];
        let tag = prop::sample::select(vec![
            "div", "p", "a", "li", "ul", "span", "script", "style", "iframe", "img", "b", "table",
            "tr", "td", "h1", "svg", "math", "form", "object", "base", "noscript", "template",
        ]);
        let leaf = text.clone();
        let tree = leaf.prop_recursive(5, 64, 6, move |inner| {
            (
                tag.clone(),
                prop::collection::vec(attr.clone(), 0..3),
                prop::collection::vec(inner, 0..6),
                any::<bool>(),
            )
                .prop_map(|(t, attrs, kids, close)| {
                    format!(
                        "<{t}{}>{}{}",
                        attrs.concat(),
                        kids.concat(),
                        if close {
                            format!("</{t}>")
                        } else {
                            String::new()
                        }
                    )
                })
        });
        let entry = (
            tree.clone(),
            text.clone(),
            text,
            prop::sample::select(vec![
                "/html/a/1.html",
                "javascript:void(0);",
                "http://127.0.0.1:9/x",
                "#",
                "2.html",
                "https://www.chinania.org.cn/html/b/2.html",
                "data:text/html,x",
            ]),
        )
            .prop_map(|(junk, title, date, href)| {
                format!(
                    "<li><a href=\"{href}\"><p class=\"notice_list_title\">{title}{junk}</p>\
                     <p class=\"notice_list_time\">{date}</p></a></li>"
                )
            });
        (
            prop::collection::vec(entry, 0..5),
            prop::collection::vec(tree.clone(), 0..4),
            tree,
        )
            .prop_map(|(entries, noise, body)| {
                format!(
                    "<html><body>{}<ul class=\"notice_list_ul\">{}</ul>\
                     <div class=\"pages\"><a href=\"javascript:next()\">下一页</a></div>\
                     <div class=\"article_title\"><p>T{}</p><p>发布时间：{}</p></div>\
                     <div class=\"article_content\">{}</div></body></html>",
                    noise.concat(),
                    entries.concat(),
                    entries.len(),
                    "2026-01-05 10:00",
                    body
                )
            })
    }

    proptest::proptest! {
        // 256 cases by default; PROPTEST_CASES=N for a longer run.
        #![proptest_config(proptest::test_runner::Config::default())]

        /// See: issue 8, point 5, and issue 9. Whatever a page holds, list and detail
        /// extraction never panic and what they give becomes items whose documents are
        /// well-formed, free of control characters, `<script>`, `on*=` and non-http(s) links.
        #[test]
        fn any_page_extracts_to_safe_feeds(html in hostile_html()) {
            use crate::model::{CanonicalUrl, RawBody, RawDate, RawNotice};
            let s = site();
            let base = url::Url::parse("https://www.chinania.org.cn/html/a/b/").unwrap();
            let list = parse_list(&html, &s.list, s.pagination.as_ref());
            let detail = parse_detail(&html, s.detail.as_ref().unwrap());
            let cx = crate::normalize::Context {
                timezone: chrono_tz::Asia::Shanghai,
                first_seen: Some(chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_000)),
                categories: &[],
            };
            let mut items = Vec::new();
            for e in list.entries {
                // As the walker does: a link that is not http(s) is dropped with a warning.
                let Ok(link) = CanonicalUrl::resolve(&e.href, &base) else { continue };
                let attachments = detail
                    .links
                    .iter()
                    .filter_map(|(h, label)| {
                        Some(crate::model::Attachment {
                            url: CanonicalUrl::resolve(h, link.as_url()).ok()?,
                            title: label.clone(),
                            mime: "application/pdf".into(),
                            length: 0,
                        })
                    })
                    .collect();
                let date = crate::collect::date::parse_site_date(
                    e.date.as_deref().unwrap_or_default(),
                    &s.date_formats,
                );
                let raw = RawNotice {
                    origin: link.to_string(),
                    explicit_id: None,
                    link: Some(link),
                    rel_path: None,
                    title: detail.title.clone().unwrap_or(e.title),
                    date: date.map_or(RawDate::unreadable(e.date), RawDate::Local),
                    body: RawBody::Html(detail.content_html.clone().unwrap_or_default()),
                    summary: None,
                    authors: detail.author.iter().cloned().collect(),
                    tags: Vec::new(),
                    attachments,
                };
                if let Ok(item) = crate::normalize::normalize(raw, &cx, &mut Vec::new()) {
                    items.push(item);
                }
            }
            crate::render::checks::assert_publishable(&crate::render::checks::meta(), &items);
        }
    }
}
