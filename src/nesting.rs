//! How deep markup nests, measured by one linear scan before any parser sees it: parsers spend
//! time quadratic in the depth, so a hostile page or notice is refused instead of parsed. Used
//! by `collect` (pages, before scraping) and `normalize` (notice bodies, before sanitizing).

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

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
