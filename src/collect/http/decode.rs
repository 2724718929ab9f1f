//! Bytes to text. Chinese association sites still serve GBK/GB2312 pages, often declaring the
//! charset only in a `<meta>` tag, so the order of evidence matters: the caller's override, the
//! `Content-Type` header, a BOM, a `<meta>` in the first 2048 bytes, then UTF-8.
//!
//! GBK and GB2312 labels are decoded as GB18030: it is a strict superset, and servers that say
//! "gb2312" routinely send characters that only GBK/GB18030 define.

use std::sync::LazyLock;

use encoding_rs::{Encoding, GB18030, GBK, UTF_16BE, UTF_16LE, UTF_8};
use regex::bytes::Regex;

/// How far into the body a `<meta>` charset is looked for (the HTML standard's prescan uses 1024;
/// some CMS templates put long comments first, hence a little more).
pub const META_SCAN_BYTES: usize = 2048;

/// Text of a body, and what it took to get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    pub encoding: &'static Encoding,
    /// Malformed input was replaced by U+FFFD: the page lied about its charset, or is damaged.
    pub had_replacements: bool,
}

/// Decodes `bytes` using, in order: `forced` (a definition's override for a site that lies), the
/// charset of `content_type`, a BOM, a `<meta>` declaration near the start, UTF-8.
pub fn decode(
    bytes: &[u8],
    content_type: Option<&str>,
    forced: Option<&'static Encoding>,
) -> Decoded {
    let declared = forced
        .map(widen)
        .or_else(|| content_type.and_then(charset_from_content_type));
    let (text, encoding, had_replacements) = if let Some(enc) = declared {
        // A BOM of the declared encoding is still not part of the text.
        let (text, had) = enc.decode_with_bom_removal(bytes);
        (text, enc, had)
    } else if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        let rest = bytes.get(bom_len..).unwrap_or_default();
        let (text, had) = enc.decode_without_bom_handling(rest);
        (text, enc, had)
    } else {
        let enc = charset_from_meta(bytes).unwrap_or(UTF_8);
        let (text, had) = enc.decode_without_bom_handling(bytes);
        (text, enc, had)
    };
    Decoded {
        text: text.into_owned(),
        encoding,
        had_replacements,
    }
}

/// The `charset` parameter of a `Content-Type` value, if it names an encoding we know.
pub fn charset_from_content_type(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        Encoding::for_label(value.as_bytes()).map(widen)
    })
}

/// A `<meta charset=...>` or `<meta http-equiv="Content-Type" content="...; charset=...">` within
/// the first [`META_SCAN_BYTES`] bytes.
pub fn charset_from_meta(bytes: &[u8]) -> Option<&'static Encoding> {
    // Both forms put `charset=` inside the meta tag; one pattern covers them and stays within the
    // tag because `[^>]` cannot cross its end.
    static META: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?i-u)<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([a-z0-9_:.+-]+)"#)
            .expect("literal regex compiles")
    });
    let head = bytes.get(..META_SCAN_BYTES).unwrap_or(bytes);
    let label = META.captures(head)?.get(1)?.as_bytes();
    let enc = Encoding::for_label(label)?;
    // A page that reached the prescan is ASCII-compatible, so a UTF-16 meta is a lie (as the HTML
    // standard says, read it as UTF-8).
    Some(if enc == UTF_16LE || enc == UTF_16BE {
        UTF_8
    } else {
        widen(enc)
    })
}

/// GBK (which every GB2312 label maps to) is read as its superset GB18030.
fn widen(enc: &'static Encoding) -> &'static Encoding {
    if enc == GBK {
        GB18030
    } else {
        enc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TITLE: &str = "中国有色金属工业协会关于召开会议的通知";

    fn gbk(s: &str) -> Vec<u8> {
        let (bytes, _, had) = GBK.encode(s);
        assert!(!had);
        bytes.into_owned()
    }

    #[test]
    fn header_charset_gb2312_and_friends_read_as_gb18030() {
        for label in [
            "gb2312",
            "GB2312",
            "gbk",
            "\"GBK\"",
            "gb_2312-80",
            "x-gbk",
            "gb18030",
        ] {
            let ct = format!("text/html; charset={label}");
            let d = decode(&gbk(TITLE), Some(&ct), None);
            assert_eq!(d.text, TITLE, "{label}");
            assert_eq!(d.encoding, GB18030, "{label}");
            assert!(!d.had_replacements);
        }
    }

    #[test]
    fn meta_charset_when_header_has_none() {
        let page = format!("<html><head><meta charset=\"gbk\"><title>{TITLE}</title>");
        let d = decode(&gbk(&page), Some("text/html"), None);
        assert_eq!(d.encoding, GB18030);
        assert!(d.text.contains(TITLE));

        let page = format!(
            "<HTML><HEAD><META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=gb2312\">\
             <title>{TITLE}</title>"
        );
        let d = decode(&gbk(&page), None, None);
        assert_eq!(d.encoding, GB18030);
        assert!(d.text.contains(TITLE));
    }

    #[test]
    fn meta_beyond_the_scan_window_is_not_seen() {
        let mut page = " ".repeat(META_SCAN_BYTES).into_bytes();
        page.extend(gbk("<meta charset=gbk>中国"));
        let d = decode(&page, None, None);
        assert_eq!(d.encoding, UTF_8);
        assert!(d.had_replacements);
    }

    #[test]
    fn header_beats_meta_and_override_beats_both() {
        let page = gbk(&format!("<meta charset=\"utf-8\">{TITLE}"));
        let d = decode(&page, Some("text/html; charset=GBK"), None);
        assert!(d.text.ends_with(TITLE));

        let utf8 = format!("<meta charset=\"gbk\">{TITLE}");
        let d = decode(utf8.as_bytes(), Some("text/html; charset=gbk"), Some(UTF_8));
        assert_eq!(d.encoding, UTF_8);
        assert_eq!(d.text, utf8);
        // The override is widened too.
        let d = decode(&gbk(TITLE), None, Some(GBK));
        assert_eq!((d.text.as_str(), d.encoding), (TITLE, GB18030));
    }

    #[test]
    fn bom_beats_meta_and_is_removed() {
        let mut page = vec![0xEF, 0xBB, 0xBF];
        page.extend(format!("<meta charset=gbk>{TITLE}").as_bytes());
        let d = decode(&page, Some("text/html"), None);
        assert_eq!(d.encoding, UTF_8);
        assert_eq!(d.text, format!("<meta charset=gbk>{TITLE}"));
    }

    #[test]
    fn unknown_header_charset_falls_through_to_meta() {
        let page = gbk(&format!("<meta charset='gb2312'>{TITLE}"));
        let d = decode(&page, Some("text/html; charset=klingon"), None);
        assert_eq!(d.encoding, GB18030);
    }

    #[test]
    fn default_is_utf8_and_damage_is_reported() {
        let d = decode(TITLE.as_bytes(), None, None);
        assert_eq!(
            (d.text.as_str(), d.encoding, d.had_replacements),
            (TITLE, UTF_8, false)
        );
        let d = decode(&gbk(TITLE), None, None);
        assert!(d.had_replacements);
        assert!(d.text.contains('\u{FFFD}'));
    }

    #[test]
    fn utf16_meta_is_read_as_utf8() {
        let d = decode(b"<meta charset=utf-16><p>x</p>", None, None);
        assert_eq!(d.encoding, UTF_8);
    }
}
