//! Small string rules every layer needs, kept in one place below all of them: one-line
//! cleaning, the characters XML refuses, text safe for a terminal, HTML escaping, the one
//! spelling of percent-escapes, and the summary derived from a notice's content (which
//! `normalize` makes and the store derives again instead of keeping a second copy). Pure
//! functions on `&str`, no knowledge of notices or feeds.

/// Characters XML 1.0 forbids (C0 controls except tab/newline/CR, U+FFFE/U+FFFF, lone
/// surrogates cannot occur in Rust strings) are dropped: one stray byte must not break a feed.
/// So are DEL and the C1 controls (U+007F–U+009F), which XML allows but discourages: they are
/// invisible, and a C1 CSI is a terminal escape.
pub fn strip_xml_invalid(s: &str) -> String {
    if s.chars().all(xml_valid) {
        return s.to_owned();
    }
    s.chars().filter(|&c| xml_valid(c)).collect()
}

/// [`strip_xml_invalid`] of an owned string, which is kept as it is when nothing is dropped
/// (a notice's whole content, usually).
pub fn into_xml_valid(s: String) -> String {
    if s.chars().all(xml_valid) {
        return s;
    }
    s.chars().filter(|&c| xml_valid(c)).collect()
}

fn xml_valid(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r')
        || ('\u{20}'..='\u{7E}').contains(&c)
        || ('\u{A0}'..='\u{D7FF}').contains(&c)
        || ('\u{E000}'..='\u{FFFD}').contains(&c)
        || c >= '\u{10000}'
}

/// One-line text: XML-invalid characters dropped, runs of whitespace (including the
/// ideographic space U+3000 and no-break space) folded to one space, ends trimmed. Single
/// ASCII spaces inside a title are meaningful and kept.
pub fn clean_text(s: &str) -> String {
    let mut f = Folded::with_capacity(s.len());
    s.chars().for_each(|c| f.push(c));
    f.out
}

/// [`clean_text`] one character at a time, counting what it keeps. Dropping a character before
/// folding is the same as dropping them all first, so one pass does both.
struct Folded {
    out: String,
    chars: usize,
    pending_space: bool,
}

impl Folded {
    fn with_capacity(n: usize) -> Self {
        Self {
            out: String::with_capacity(n),
            chars: 0,
            pending_space: false,
        }
    }

    fn push(&mut self, c: char) {
        if !xml_valid(c) {
            return;
        }
        if c.is_whitespace() || c == '\u{3000}' || c == '\u{a0}' {
            self.pending_space = true;
        } else if !c.is_control() {
            if self.pending_space && self.chars > 0 {
                self.out.push(' ');
                self.chars += 1;
            }
            self.pending_space = false;
            self.out.push(c);
            self.chars += 1;
        }
    }
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

/// Re-spells percent-escapes so two spellings of one URL part compare equal (RFC 3986 §6.2.2.2
/// and RFC 9309 §2.2.2): escapes of unreserved characters are decoded (`%41` → `A`), the other
/// escapes use upper-case hex (`%e9` → `%E9`), and non-ASCII characters are percent-encoded
/// as their UTF-8 bytes (`附` → `%E9%99%84`). A `%` not followed by two hex digits is kept.
pub fn normalize_percent(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match (b, bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                let v = hex_value(h) * 16 + hex_value(l);
                if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
                    out.push(v as char);
                } else {
                    out.push('%');
                    out.push(h.to_ascii_uppercase() as char);
                    out.push(l.to_ascii_uppercase() as char);
                }
                i += 3;
                continue;
            }
            (b, _, _) if b.is_ascii() => out.push(b as char),
            (b, _, _) => out.push_str(&format!("%{b:02X}")),
        }
        i += 1;
    }
    out
}

/// The value of one ASCII hex digit (the caller checked it is one).
fn hex_value(d: u8) -> u8 {
    match d {
        b'0'..=b'9' => d - b'0',
        b'a'..=b'f' => d - b'a' + 10,
        _ => d.to_ascii_uppercase().wrapping_sub(b'A') + 10,
    }
}

/// How many characters of body text a derived summary keeps.
pub const SUMMARY_CHARS: usize = 280;

/// The summary of a notice that gives none: the start of its text. The store keeps a summary
/// only when it differs from this one of the content, and derives it again when reading, so
/// changing it changes what old notices show: do it deliberately.
pub fn derived_summary(html: &str) -> String {
    summarize(html, SUMMARY_CHARS)
}

/// Plain text of sanitized HTML, whitespace folded, cut at `max` characters on a char boundary.
pub fn summarize(html: &str, max: usize) -> String {
    let frag = scraper::Html::parse_fragment(html);
    // `clean_text` of the text nodes each followed by a space, stopped as soon as it is longer
    // than `max`: a notice's summary needs its first lines, not its whole text.
    let mut f = Folded::with_capacity(max.saturating_mul(4).min(html.len()));
    'nodes: for t in frag.root_element().text() {
        for c in t.chars() {
            f.push(c);
            if f.chars > max {
                break 'nodes;
            }
        }
        f.push(' ');
    }
    if f.chars <= max {
        return f.out;
    }
    let cut: String = f.out.chars().take(max).collect();
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn clean_text_drops_then_folds() {
        assert_eq!(
            clean_text("  a \u{1} b\u{3000}\u{3000}c\u{b}d \u{fffe}\n"),
            "a b cd"
        );
        assert_eq!(clean_text("平常\u{a0}\u{85}文字"), "平常 文字");
        assert_eq!(clean_text(""), "");
    }

    proptest::proptest! {
        /// The one-pass clean equals dropping the XML-invalid characters first, then folding.
        #[test]
        fn clean_text_is_strip_then_fold(s in "(\\PC|[\\x00-\\x20\\x7f-\\xa0\\u{3000}\\u{fffe}\\u{ffff}])*") {
            let stripped = strip_xml_invalid(&s);
            let mut folded = String::new();
            for word in stripped
                .split(|c: char| c.is_whitespace() || c == '\u{3000}' || c == '\u{a0}')
                .map(|w| w.chars().filter(|c| !c.is_control()).collect::<String>())
                .filter(|w| !w.is_empty())
            {
                if !folded.is_empty() {
                    folded.push(' ');
                }
                folded.push_str(&word);
            }
            proptest::prop_assert_eq!(clean_text(&s), folded);
            proptest::prop_assert_eq!(into_xml_valid(s.clone()), stripped);
        }
    }

    /// The summary as it was first written: every text node, then `clean_text`, then the cut.
    fn summarize_whole(html: &str, max: usize) -> String {
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

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        /// Stopping early changes no summary: what old notices show stays as it was.
        #[test]
        fn summarize_stops_early_with_the_same_summary(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    "[a-z 有色金属\\u{3000}\\u{a0}\\t\\n\\x01&;]{0,12}",
                    proptest::sample::select(vec![
                        "<p>", "</p>", "<b>", "</b>", "<br>", "<table><tr><td>", "</td></tr></table>",
                        "&amp;", "&nbsp;", "<pre>\n", "</pre>", "<!-- c -->", "<script>x</script>",
                    ]).prop_map(str::to_owned),
                ],
                0..40,
            ),
            max in 0usize..30,
        ) {
            let html = parts.concat();
            proptest::prop_assert_eq!(summarize(&html, max), summarize_whole(&html, max));
        }
    }

    #[test]
    fn summaries_are_cut_after_max_characters() {
        assert_eq!(summarize("<p>ab</p><p>cd</p>", 5), "ab cd");
        assert_eq!(summarize("<p>ab</p><p>cd</p>", 4), "ab c…");
        assert_eq!(summarize("<p>ab</p><p>cd</p>", 3), "ab…");
        assert_eq!(summarize("<p>ab </p>  ", 2), "ab");
    }

    #[test]
    fn xml_invalid_characters_are_dropped() {
        assert_eq!(strip_xml_invalid("a\u{0}b\u{b}c\u{fffe}d\te"), "abcd\te");
        assert_eq!(
            strip_xml_invalid("a\u{7f}b\u{8e}c\u{9b}d\u{a0}"),
            "abcd\u{a0}"
        );
    }

    #[test]
    fn percent_escapes_have_one_spelling() {
        assert_eq!(normalize_percent("/%7euser/%41%2f%e9"), "/~user/A%2F%E9");
        assert_eq!(normalize_percent("/附件"), "/%E9%99%84%E4%BB%B6");
        assert_eq!(normalize_percent("/%e9%99%84"), "/%E9%99%84");
        // Not an escape: kept as written.
        assert_eq!(normalize_percent("/100%/%zz/%4"), "/100%/%zz/%4");
        // Reserved characters stay escaped: `%2F` is not the separator `/`, `%2A` not a wildcard.
        assert_eq!(normalize_percent("/a%2fb%2a"), "/a%2Fb%2A");
    }

    #[test]
    fn summaries_are_cut_on_char_boundaries() {
        let s = summarize("<p>有色金属行业</p>", 3);
        assert_eq!(s, "有色金…");
    }
}
