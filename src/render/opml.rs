//! OPML 2.0 (<http://opml.org/spec2.opml>): every feed of the folder once, one outline per site
//! with the site's feeds inside, so a reader can subscribe to all of them in one import.
//!
//! Written with quick-xml's writer, which escapes every attribute and text. `dateModified` is the
//! newest item change of all feeds, never the wall clock, so the file changes only when a feed
//! does.

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;

use super::{grouped, self_href, Format, Listed};

/// The OPML file's name in the output folder.
pub const FILE_NAME: &str = "feeds.opml";

/// Renders the subscription list. Each feed's `xmlUrl` is its RSS file under its public URL,
/// absolute when one is known and the bare file name (relative to this OPML) otherwise.
pub fn render(feeds: &[Listed<'_>]) -> String {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing into a Vec cannot fail; the results are checked once at the end.
    let written = write(&mut w, feeds);
    debug_assert!(written.is_ok());
    let mut out = String::from_utf8(w.into_inner()).unwrap_or_default();
    out.push('\n');
    out
}

fn write(w: &mut Writer<Vec<u8>>, feeds: &[Listed<'_>]) -> std::io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let modified = feeds.iter().map(|f| f.updated).max().unwrap_or_default();
    let groups = grouped(feeds);
    let title = super::folder_title(feeds);
    w.create_element("opml")
        .with_attribute(("version", "2.0"))
        .write_inner_content(|w| {
            w.create_element("head").write_inner_content(|w| {
                w.create_element("title")
                    .write_text_content(BytesText::new(&title))?;
                w.create_element("dateModified")
                    .write_text_content(BytesText::new(&super::rfc822(&modified)))?;
                w.create_element("docs")
                    .write_text_content(BytesText::new("http://opml.org/spec2.opml"))?;
                Ok(())
            })?;
            w.create_element("body").write_inner_content(|w| {
                for (group, members) in &groups {
                    w.create_element("outline")
                        .with_attribute(("text", group.name()))
                        .with_attribute(("title", group.name()))
                        .write_inner_content(|w| {
                            for f in members {
                                outline(w, *f)?;
                            }
                            Ok(())
                        })?;
                }
                Ok(())
            })?;
            Ok(())
        })?;
    Ok(())
}

fn outline(w: &mut Writer<Vec<u8>>, f: Listed<'_>) -> std::io::Result<()> {
    let m = f.meta;
    let xml_url = self_href(m, Format::Rss).unwrap_or_else(|| Format::Rss.file_name(m.id.as_str()));
    w.create_element("outline")
        .with_attribute(("type", "rss"))
        .with_attribute(("text", m.title.as_str()))
        .with_attribute(("title", m.title.as_str()))
        .with_attribute(("description", m.description.as_str()))
        .with_attribute(("xmlUrl", xml_url.as_str()))
        .with_attribute(("htmlUrl", m.site_link.as_str()))
        .with_attribute(("language", m.language.as_str()))
        .with_attribute(("version", "RSS2"))
        .write_empty()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FeedId, FeedMeta, Group};
    use url::Url;

    fn meta(id: &str, title: &str, public: Option<&str>) -> FeedMeta {
        FeedMeta {
            id: FeedId::parse(id).unwrap(),
            title: title.into(),
            description: "d & <d>".into(),
            publisher: "中国有色金属工业协会".into(),
            site_link: Url::parse("https://www.chinania.org.cn/").unwrap(),
            public_base: public.map(|p| Url::parse(p).unwrap()),
            hubs: Vec::new(),
            language: "zh-CN".into(),
            timezone: chrono_tz::Asia::Shanghai,
        }
    }

    #[test]
    fn one_outline_per_group_escaped_and_absolute_when_known() {
        let site = Group::Site {
            name: "中国有色金属工业协会".into(),
            link: Url::parse("https://www.chinania.org.cn/").unwrap(),
        };
        let (a, b, c) = (
            meta("b", "B \"x\"", Some("https://f.example/")),
            meta("a", "A", Some("https://f.example/")),
            meta("n", "N", None),
        );
        let feeds = [
            Listed::new(&a, &site, &[]),
            Listed::new(&c, &Group::Local, &[]),
            Listed::new(&b, &site, &[]),
        ];
        let text = render(&feeds);
        assert!(
            text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">")
        );
        assert_eq!(
            text.matches("<outline text=\"中国有色金属工业协会\"")
                .count(),
            1
        );
        let a_at = text.find("xmlUrl=\"https://f.example/a.rss.xml\"").unwrap();
        let b_at = text.find("xmlUrl=\"https://f.example/b.rss.xml\"").unwrap();
        let local_at = text.find("text=\"Local notices\"").unwrap();
        assert!(a_at < b_at && b_at < local_at, "{text}");
        assert!(text.contains("xmlUrl=\"n.rss.xml\""), "{text}");
        assert!(text.contains("title=\"B &quot;x&quot;\""), "{text}");
        assert!(text.contains("description=\"d &amp; &lt;d&gt;\""), "{text}");
    }
}
