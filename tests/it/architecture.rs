//! The layer rule of ARCHITECTURE.md, enforced: a module may only use the modules below it that
//! its row of [`LAYERS`] names. Every `crate::…`, `super::…` and (in `main.rs`) `noticefeed::…`
//! path in `src/**/*.rs` is read, in `use` statements and inline alike, after comments and string
//! and character literals are blanked out. `#[cfg(test)]` modules are exempt: a unit test may
//! drive a lower module through a higher one (collect's tests normalize and render what they
//! read, to prove the result publishable).
//!
//! A new module fails this test until it is given a row here and in ARCHITECTURE.md.

use std::path::{Path, PathBuf};

/// Bottom to top: each unit, and the units it may import. Every allowed unit is listed above
/// the one that allows it (checked by `the_table_itself_only_points_down`); units in the same
/// layer of ARCHITECTURE.md do not name each other. `collect`'s parts are units of their own, so
/// the HTTP layer cannot reach up into the walker.
const LAYERS: &[(&str, &[&str])] = &[
    ("text", &[]),
    ("nesting", &[]),
    ("model", &["text"]),
    ("config", &["model", "text"]),
    ("cli", &["config", "model"]),
    ("collect", &[]),
    ("collect::date", &["model", "text"]),
    ("collect::http", &["model", "text"]),
    ("collect::scrape", &["config", "model", "text", "nesting"]),
    (
        "collect::local",
        &["collect", "collect::date", "model", "text", "nesting"],
    ),
    (
        "collect::walk",
        &[
            "collect",
            "collect::date",
            "collect::http",
            "collect::scrape",
            "config",
            "model",
            "text",
            "nesting",
        ],
    ),
    ("normalize", &["model", "text", "nesting"]),
    ("store", &["model", "text"]),
    ("render", &["config", "model", "text"]),
    ("write", &["model", "text"]),
    ("serve", &["render", "write", "config", "model", "text"]),
    ("websub", &["config", "model", "text"]),
    (
        "run",
        &[
            "collect",
            "collect::http",
            "collect::local",
            "collect::walk",
            "normalize",
            "store",
            "render",
            "write",
            "cli",
            "config",
            "model",
            "text",
        ],
    ),
    (
        "commands",
        &[
            "run",
            "serve",
            "websub",
            "collect",
            "collect::date",
            "collect::http",
            "collect::local",
            "collect::scrape",
            "collect::walk",
            "normalize",
            "store",
            "render",
            "write",
            "cli",
            "config",
            "model",
            "text",
            "nesting",
        ],
    ),
    ("main", &["commands", "run", "cli", "text"]),
    ("lib", &[]),
];

/// The parts of `collect` that are units of their own.
const COLLECT_PARTS: &[&str] = &["date", "http", "local", "scrape", "walk"];

fn allowed(unit: &str) -> Option<&'static [&'static str]> {
    LAYERS.iter().find(|(u, _)| *u == unit).map(|(_, a)| *a)
}

/// The unit a module path (`["collect", "http", "retry"]`) belongs to.
fn unit_of(module: &[String]) -> String {
    match module {
        [] => "lib".to_owned(),
        [top, part, ..] if top == "collect" && COLLECT_PARTS.contains(&part.as_str()) => {
            format!("collect::{part}")
        }
        [top, ..] => top.clone(),
    }
}

/// The module path of a source file relative to `src/`: `collect/http/mod.rs` is
/// `collect::http`, `main.rs` is `main`, `lib.rs` the crate root.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// `src` with comments, string literals and character literals replaced by spaces (newlines
/// kept, so offsets still give line numbers).
fn code_only(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                blank(&mut out, b[i]);
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
        } else if c == 'r' && matches!(next, Some('"' | '#')) && !ident_before(&b, i) {
            // A raw string: r"…", r#"…"#, …
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let mut k = j + 1;
            while k < b.len() && !b[k..].starts_with(&close) {
                k += 1;
            }
            let end = (k + close.len()).min(b.len());
            for &ch in &b[i..end] {
                blank(&mut out, ch);
            }
            i = end;
        } else if c == '"' {
            blank(&mut out, c);
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    blank(&mut out, b[i]);
                    i += 1;
                }
                if i < b.len() {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
            if i < b.len() {
                blank(&mut out, b[i]);
                i += 1;
            }
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{1b}'), else a lifetime or label.
            let end = if next == Some('\\') {
                b[i + 2..]
                    .iter()
                    .position(|&ch| ch == '\'')
                    .map(|p| i + 2 + p)
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(e) => {
                    for &ch in &b[i..=e] {
                        blank(&mut out, ch);
                    }
                    i = e + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

/// The paths a use tree names, expanded: `{a::b, c::{d, e}}` → `a::b`, `c::d`, `c::e`. Only
/// leading identifier segments are kept.
fn expand(tree: &str) -> Vec<Vec<String>> {
    let tree = tree.trim();
    if let Some(inner) = tree.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        return split_top(inner).iter().flat_map(|t| expand(t)).collect();
    }
    match tree.split_once("::") {
        Some((head, rest)) if rest.trim_start().starts_with('{') => expand(rest)
            .into_iter()
            .map(|mut p| {
                p.insert(0, head.trim().to_owned());
                p
            })
            .collect(),
        _ => {
            let segs: Vec<String> = tree
                .split("::")
                .map(|s| s.trim().to_owned())
                .take_while(|s| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_'))
                .collect();
            vec![segs]
        }
    }
}

/// Splits on commas that are not inside braces.
fn split_top(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0, 0, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter().filter(|t| !t.trim().is_empty()).collect()
}

/// The use tree starting at `at` in `code`: identifiers, `::`, and one brace group with its
/// nested groups.
fn tree_at(code: &str, at: usize) -> &str {
    let mut depth = 0;
    for (i, c) in code[at..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return &code[at..at + i],
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &code[at..=at + i];
                }
            }
            c if depth > 0 || c.is_alphanumeric() || c == '_' || c == ':' || c == '*' => {}
            _ => return &code[at..at + i],
        }
    }
    &code[at..]
}

/// One forbidden import.
#[derive(Debug, PartialEq, Eq)]
struct Violation {
    file: String,
    line: usize,
    path: String,
    message: String,
}

/// Every forbidden import in `src` (a file at `rel` under `src/`). `#[cfg(test)]` modules are
/// skipped.
fn violations(rel: &Path, src: &str) -> Vec<Violation> {
    let module = module_of(rel);
    let unit = unit_of(&module);
    let file = Path::new("src").join(rel).display().to_string();
    let Some(may) = allowed(&unit) else {
        return vec![Violation {
            file,
            line: 1,
            path: String::new(),
            message: format!(
                "module `{unit}` has no row in the layer table: add it to LAYERS in \
                 tests/it/architecture.rs and to ARCHITECTURE.md"
            ),
        }];
    };
    let code = code_only(src);
    let test_spans = test_modules(&code);
    let mut out = Vec::new();
    for (start, root) in path_starts(&code) {
        if test_spans.iter().any(|s| s.contains(&start)) {
            continue;
        }
        let line = code[..start].matches('\n').count() + 1;
        let written = tree_at(&code, start);
        for path in expand(&written[root.len()..]) {
            // `crate::a::b` is absolute; each `super` climbs one module from this file's.
            let mut target: Vec<String> = match root {
                "super::" => module[..module.len().saturating_sub(1)].to_vec(),
                _ => Vec::new(),
            };
            for seg in &path {
                match seg.as_str() {
                    "super" => {
                        target.pop();
                    }
                    "self" => {}
                    s => target.push(s.to_owned()),
                }
            }
            if target.is_empty() {
                continue;
            }
            let to = unit_of(&target);
            if to == unit || may.contains(&to.as_str()) {
                continue;
            }
            let may_text = if may.is_empty() {
                "nothing".to_owned()
            } else {
                may.join(", ")
            };
            out.push(Violation {
                file: file.clone(),
                line,
                path: format!("{root}{}", path.join("::")),
                message: format!("`{unit}` may not import `{to}` (allowed: {may_text})"),
            });
        }
    }
    out
}

/// Where a path from the crate root, a parent module or (in `main.rs`) the library starts, and
/// which of those roots it has. A root preceded by `::` or an identifier is part of a longer
/// path (`super::super::x` starts once).
fn path_starts(code: &str) -> Vec<(usize, &'static str)> {
    let mut out = Vec::new();
    for root in ["crate::", "super::", "noticefeed::"] {
        for (at, _) in code.match_indices(root) {
            let before = code[..at].chars().next_back();
            if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':')) {
                out.push((at, root));
            }
        }
    }
    out.sort();
    out
}

/// Byte ranges of `#[cfg(test)] mod … { … }` blocks in blanked code.
fn test_modules(code: &str) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::new();
    for (at, _) in code.match_indices("#[cfg(test)]") {
        let rest = &code[at..];
        // Only attributes and `pub` may stand between the attribute and `mod name {`.
        let mut after = rest["#[cfg(test)]".len()..].trim_start();
        while after.starts_with("#[") {
            let Some(end) = after.find(']') else { break };
            after = after[end + 1..].trim_start();
        }
        for vis in ["pub(crate)", "pub(super)", "pub"] {
            after = after.strip_prefix(vis).unwrap_or(after).trim_start();
        }
        if !after.starts_with("mod ") {
            continue;
        }
        let Some(open) = rest
            .len()
            .checked_sub(after.len())
            .and_then(|o| rest[o..].find('{').map(|p| o + p))
        else {
            continue;
        };
        let mut depth = 0;
        for (i, c) in rest[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        spans.push(at..at + open + i);
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    spans
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 40, "{files:?}");
    let mut all = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        all.extend(violations(f.strip_prefix(&src).unwrap(), &text));
    }
    let report: Vec<String> = all
        .iter()
        .map(|v| format!("{}:{}: `{}`: {}", v.file, v.line, v.path, v.message))
        .collect();
    assert!(
        report.is_empty(),
        "imports that point up or sideways (see ARCHITECTURE.md):\n{}",
        report.join("\n")
    );
}

#[test]
fn the_table_itself_only_points_down() {
    for (i, (unit, may)) in LAYERS.iter().enumerate() {
        for m in *may {
            let below = LAYERS[..i].iter().any(|(u, _)| u == m);
            assert!(below, "`{unit}` allows `{m}`, which is not listed below it");
        }
    }
}

#[test]
fn a_forbidden_import_is_named_with_its_file_and_line() {
    let src = r#"//! Mentions crate::normalize in a comment: not an import.
use std::fmt;

use super::http::{self, Client};
use crate::model::{CanonicalUrl, RawDate};
use crate::{config, normalize::local_to_utc};

fn read(raw: &str) {
    let s = "crate::store::Store in a string is not one either";
    let c = '{';
    let d = crate::render::rss::render(raw);
    let _ = (s, c, d);
}

#[cfg(test)]
mod tests {
    // Tests may drive a higher layer.
    use crate::normalize;
}
"#;
    let found = violations(Path::new("collect/walk.rs"), src);
    let got: Vec<(usize, &str)> = found.iter().map(|v| (v.line, v.path.as_str())).collect();
    assert_eq!(
        got,
        [
            (6, "crate::normalize::local_to_utc"),
            (11, "crate::render::rss::render")
        ]
    );
    assert_eq!(found[0].file, "src/collect/walk.rs");
    assert!(
        found[0]
            .message
            .starts_with("`collect::walk` may not import `normalize` (allowed: collect, "),
        "{}",
        found[0].message
    );
    // The HTTP layer may not reach up into its own walker through `super`.
    let up = violations(
        Path::new("collect/http/robots.rs"),
        "use super::super::walk::Walker;\n",
    );
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(up[0].path, "super::super::walk::Walker");
    // And a module nobody placed in the table is refused by name.
    let new = violations(Path::new("plugins.rs"), "fn f() {}\n");
    assert!(new[0].message.contains("`plugins` has no row"), "{new:?}");
}

#[test]
fn architecture_md_shows_this_table() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md"))
            .unwrap();
    let section = doc
        .split("## Modules and what each may import")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("ARCHITECTURE.md has the module table");
    let names = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    };
    let rows: Vec<(String, Vec<String>)> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split(" | ").collect();
            let unit = names(cells[0]).remove(0);
            let may = names(cells.last().unwrap().trim_end_matches(" |"));
            (unit, may)
        })
        .collect();
    // Top to bottom on the page, bottom to top in the code; the crate root declares modules only.
    let code: Vec<(String, Vec<String>)> = LAYERS
        .iter()
        .rev()
        .filter(|(u, _)| *u != "lib")
        .map(|(u, may)| {
            (
                (*u).to_owned(),
                may.iter().map(|m| (*m).to_owned()).collect(),
            )
        })
        .collect();
    assert_eq!(
        rows, code,
        "ARCHITECTURE.md's module table and LAYERS differ"
    );
}
