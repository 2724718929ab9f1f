//! Reading a folder of local notice files into `RawNotice`s.
//!
//! Formats, chosen by extension: `.txt` (the association's copy-out layout: title, blank line,
//! `date`, `dd/mm/yyyy`, optionally `link` and a URL, body), `.md`/`.markdown` (YAML `---` or
//! TOML `+++` front matter, Markdown body), `.json` (an array of notices) and `.jsonl` (one notice a line). Bytes are decoded as
//! UTF-8 (with or without BOM), UTF-16 with BOM, or else GB18030, the superset of GBK and GB2312
//! that Chinese office tools still save in.
//!
//! [`scan`] finds the notice files and each one's identity ([`FileStamp`]: size, modification
//! time, inode) from metadata alone; [`read`] reads one file and hashes its bytes. A caller that
//! remembers both re-reads only files whose identity changed; [`collect`] reads them all.
//!
//! One bad file never stops the others: each problem becomes a [`Problem`] naming the file (and
//! the line where one is known), and the rest of the folder is read.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::date::{parse_date_value, parse_dmy};
use crate::model::{CanonicalUrl, FileStamp, RawBody, RawDate, RawNotice};

/// A file (or an entry in a file) that could not be read as a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// What a folder gave: the notices read, the files skipped as errors.
#[derive(Debug, Default)]
pub struct Collected {
    pub notices: Vec<RawNotice>,
    pub problems: Vec<Problem>,
}

/// Why the folder itself could not be read.
#[derive(Debug, thiserror::Error)]
#[error("reading notice folder {}", dir.display())]
pub struct FolderError {
    pub dir: PathBuf,
    #[source]
    pub source: std::io::Error,
}

fn problem(file: &Path, line: Option<usize>, message: impl Into<String>) -> Problem {
    Problem {
        file: file.to_owned(),
        line,
        message: message.into(),
    }
}

/// The largest notice file read (64 MiB). A notice is a page of text and a whole archive
/// exported as JSON Lines is a few MiB; a bigger file is a mistake or an attack, and reading it
/// whole would cost memory for nothing.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// A notice file found by [`scan`], not read yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The path it was reached by, below the notice folder (a link's own path, not its
    /// target's).
    pub path: PathBuf,
    /// `path` relative to the notice folder, `/`-separated: the file's name in the store, and
    /// the last-resort GUID key of its notices.
    pub rel: String,
    /// Its identity when scanned (a link's target's), from metadata alone; `None` when the
    /// metadata could not be read, and then [`read`] says why. Taken before any byte is read,
    /// so a file changed while it is read has a new identity at the next scan.
    pub stamp: Option<FileStamp>,
}

/// What one file gave.
#[derive(Debug, Default)]
pub struct FileRead {
    pub notices: Vec<RawNotice>,
    pub problems: Vec<Problem>,
    /// SHA-256 of the bytes read; `None` when none could be read (too big, unreadable).
    pub hash: Option<[u8; 32]>,
}

/// Reads every notice file below `dir`: [`scan`], then [`read`] each file.
pub fn collect(dir: &Path) -> Result<Collected, FolderError> {
    let mut out = Collected::default();
    for file in scan(dir)? {
        let mut r = read(&file);
        out.notices.append(&mut r.notices);
        out.problems.append(&mut r.problems);
    }
    Ok(out)
}

/// Finds every notice file below `dir` (recursively, in path order; hidden files and README
/// files are not notices) and its identity, reading no file's bytes. A symbolic link is
/// followed only when its target stays inside `dir`.
pub fn scan(dir: &Path) -> Result<Vec<SourceFile>, FolderError> {
    let mut files = Vec::new();
    let folder_err = |source| FolderError {
        dir: dir.to_owned(),
        source,
    };
    let root = dir.canonicalize().map_err(folder_err)?;
    walk(dir, &root, &mut files).map_err(folder_err)?;
    files.sort();
    // One file reached by two paths (a link beside its target) is one notice, under the first
    // path in order.
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| match f.canonicalize() {
        Ok(real) if !seen.insert(real.clone()) => {
            log::info!(
                "{}: same file as another path ({}), read once",
                f.display(),
                real.display()
            );
            false
        }
        _ => true,
    });
    Ok(files
        .into_iter()
        .map(|path| {
            let rel = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let stamp = match std::fs::metadata(&path) {
                Ok(m) => Some(FileStamp::of(&m)),
                Err(e) => {
                    log::debug!("{}: no metadata ({e})", path.display());
                    None
                }
            };
            SourceFile { path, rel, stamp }
        })
        .collect())
}

/// `root` is the canonical notice folder.
fn walk(dir: &Path, root: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let mut kind = entry.file_type()?;
        if kind.is_symlink() {
            // A link is someone else's choice of what to publish: only a target inside the
            // notice folder is read, never `../outside/secret.json`.
            match path.canonicalize() {
                Ok(target) if target.starts_with(root) => {
                    kind = std::fs::metadata(&target)?.file_type();
                    // A link to a folder that contains this one would walk for ever.
                    if kind.is_dir() && dir.canonicalize()?.starts_with(&target) {
                        log::warn!(
                            "{}: symbolic link to {}, a folder it is inside of; skipped",
                            path.display(),
                            target.display()
                        );
                        continue;
                    }
                }
                Ok(target) => {
                    log::warn!(
                        "{}: symbolic link to {}, outside the notice folder {}; skipped",
                        path.display(),
                        target.display(),
                        root.display()
                    );
                    continue;
                }
                Err(e) => {
                    log::warn!("{}: broken symbolic link ({e}); skipped", path.display());
                    continue;
                }
            }
        }
        if kind.is_dir() {
            walk(&path, root, files)?;
        } else if kind.is_file() {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            if stem == "readme" {
                log::debug!("{}: README, not a notice", path.display());
                continue;
            }
            match Format::of(&path) {
                Some(_) => files.push(path),
                None => log::warn!(
                    "{}: not a notice file (unknown extension), skipped",
                    path.display()
                ),
            }
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Text,
    Markdown,
    Json,
    JsonLines,
}

impl Format {
    fn of(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
        Some(match ext.as_str() {
            "txt" => Format::Text,
            "md" | "markdown" => Format::Markdown,
            "json" => Format::Json,
            "jsonl" | "ndjson" => Format::JsonLines,
            _ => return None,
        })
    }
}

/// Reads one file found by [`scan`]: its notices, what was wrong with it, and the hash of its
/// bytes. The file is read once, at most [`MAX_FILE_BYTES`] of it; its text is parsed and
/// dropped, a JSON Lines file one line at a time.
pub fn read(file: &SourceFile) -> FileRead {
    let path = file.path.as_path();
    let rel = file.rel.as_str();
    let mut out = FileRead::default();
    let Some(format) = Format::of(path) else {
        out.problems.push(problem(path, None, "unknown extension"));
        return out;
    };
    let bytes = match std::fs::File::open(path)
        .map_err(|e| format!("cannot read: {e}"))
        .and_then(|f| {
            let declared = f.metadata().map_err(|e| format!("cannot read: {e}"))?.len();
            read_capped(f, declared, MAX_FILE_BYTES)
        }) {
        Ok(b) => b,
        Err(m) => {
            out.problems.push(problem(path, None, m));
            return out;
        }
    };
    out.hash = Some(crate::model::sha256(&bytes));
    let text = match decode(bytes) {
        Ok(t) => drop_control_chars(t),
        Err(m) => {
            out.problems.push(problem(path, None, m));
            return out;
        }
    };
    let origin = path.display().to_string();
    let mut one = |r: ParseResult| match r {
        Ok(n) => out.notices.push(n),
        Err((line, m)) => out.problems.push(problem(path, line, m)),
    };
    match format {
        Format::Text => one(parse_text(&text, &origin, rel)),
        Format::Markdown => one(parse_markdown(&text, &origin, rel)),
        Format::Json => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Array(entries)) => {
                drop(text);
                for (i, v) in entries.into_iter().enumerate() {
                    push_entry(&mut out, path, rel, i + 1, None, v);
                }
            }
            Ok(_) => out.problems.push(problem(
                path,
                None,
                "a .json notice file must hold an array of notices",
            )),
            Err(e) => {
                out.problems
                    .push(problem(path, Some(e.line()), format!("invalid JSON: {e}")))
            }
        },
        Format::JsonLines => {
            let mut index = 0;
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(line) {
                    Ok(v) => {
                        index += 1;
                        push_entry(&mut out, path, rel, index, Some(i + 1), v);
                    }
                    Err(e) => {
                        out.problems
                            .push(problem(path, Some(i + 1), format!("invalid JSON: {e}")))
                    }
                }
            }
        }
    }
    out
}

/// At most `cap` bytes of `reader`, whose length was `declared` when it was opened: a file
/// declared bigger is refused before any byte is read, one that grows past the cap while it is
/// read is cut off at `cap` + 1 bytes and then refused.
fn read_capped(reader: impl std::io::Read, declared: u64, cap: u64) -> Result<Vec<u8>, String> {
    if declared > cap {
        return Err(format!(
            "file is {declared} bytes, more than the {cap} bytes a notice file may have; skipped"
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
    reader
        .take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > cap {
        return Err(format!(
            "file grew past the {cap} bytes a notice file may have while it was read; skipped"
        ));
    }
    Ok(bytes)
}

/// Cuts a notice body to [`super::MAX_CONTENT_BYTES`], with a warning naming where
/// it came from.
fn capped_body(mut body: String, origin: &str) -> String {
    if let Some(len) = super::cap_content(&mut body) {
        log::warn!(
            "{origin}: body is {len} bytes; cut to the {} byte limit",
            super::MAX_CONTENT_BYTES
        );
    }
    body
}

/// One JSON entry: a good one is kept, a bad one reported.
fn push_entry(
    out: &mut FileRead,
    path: &Path,
    rel: &str,
    index: usize,
    line: Option<usize>,
    value: Value,
) {
    let Value::Object(map) = value else {
        out.problems.push(problem(
            path,
            line,
            format!("entry {index} is not an object"),
        ));
        return;
    };
    let origin = format!("{}#{index}", path.display());
    match notice_from_fields(map, None, &origin, &format!("{rel}#{index}")) {
        Ok(n) => out.notices.push(n),
        Err(m) => out
            .problems
            .push(problem(path, line, format!("entry {index}: {m}"))),
    }
}

/// Bytes to text: BOMs honoured, UTF-8 preferred, GB18030 (⊇ GBK ⊇ GB2312) as the fallback.
/// Binary files and bytes that are neither are errors, never mojibake in a feed.
pub fn decode(bytes: Vec<u8>) -> Result<String, String> {
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(&bytes) {
        let (text, had_errors) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        if had_errors {
            return Err(format!("invalid {} text", enc.name()));
        }
        return Ok(text.into_owned());
    }
    if bytes.contains(&0) {
        return Err("binary file (contains NUL bytes), not a notice".to_owned());
    }
    // UTF-8 becomes the text without a copy.
    let bytes = match String::from_utf8(bytes) {
        Ok(s) => return Ok(s),
        Err(e) => e.into_bytes(),
    };
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(&bytes);
    if had_errors {
        return Err("invalid encoding: neither UTF-8 nor GB18030/GBK".to_owned());
    }
    let control = text
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        .count();
    if control > 0 {
        return Err("binary file (control bytes), not a notice".to_owned());
    }
    Ok(text.into_owned())
}

/// Control characters (other than tab and line breaks) and the non-characters U+FFFE/U+FFFF
/// are invisible in an editor, forbidden in XML, and make YAML, TOML and JSON parsers refuse
/// the whole file; one stray byte pasted from an office document must not lose a notice.
fn drop_control_chars(text: String) -> String {
    let dropped = |c: char| {
        !matches!(c, '\t' | '\n' | '\r') && (c.is_control() || matches!(c, '\u{fffe}' | '\u{ffff}'))
    };
    if !text.chars().any(dropped) {
        return text;
    }
    text.chars().filter(|&c| !dropped(c)).collect()
}

type ParseResult = Result<RawNotice, (Option<usize>, String)>;

/// The association's copy-out layout. Line numbers in errors are 1-based.
fn parse_text(text: &str, origin: &str, rel: &str) -> ParseResult {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = text.split('\n').collect();
    let title = lines.first().map(|l| l.trim()).unwrap_or_default();
    if title.is_empty() {
        return Err((Some(1), "no title: the first line is empty".to_owned()));
    }
    let mut i = 1;
    while i < lines.len() && lines[i].trim().is_empty() {
        i += 1;
    }
    if i >= lines.len() || !lines[i].trim().eq_ignore_ascii_case("date") {
        return Err((
            Some(i + 1),
            "expected a line `date` after the title and a blank line".to_owned(),
        ));
    }
    i += 1;
    let raw_date = lines.get(i).map(|l| l.trim()).unwrap_or_default();
    let date = match parse_dmy(raw_date) {
        Some(d) => RawDate::Local(d.and_time(chrono::NaiveTime::MIN)),
        None => {
            return Err((
                Some(i + 1),
                format!("unparseable date `{raw_date}` (expected dd/mm/yyyy)"),
            ))
        }
    };
    i += 1;
    // Optional: a line `link` and the notice's URL on the next, after the date. A notice
    // copied out before it had a link keeps its GUID when one is added (its file is its
    // source identity).
    let mut j = i;
    while j < lines.len() && lines[j].trim().is_empty() {
        j += 1;
    }
    let mut link = None;
    if j < lines.len() && lines[j].trim().eq_ignore_ascii_case("link") {
        let raw_link = lines.get(j + 1).map(|l| l.trim()).unwrap_or_default();
        link = Some(CanonicalUrl::parse(raw_link).map_err(|e| {
            (
                Some(j + 2),
                format!("`link` `{raw_link}` is not an absolute URL ({e})"),
            )
        })?);
        i = j + 2;
    }
    let body = capped_body(lines[i.min(lines.len())..].join("\n"), origin);
    let mut paragraphs = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in body.split('\n') {
        let t = line.trim();
        if t.is_empty() {
            if !current.is_empty() {
                paragraphs.push(current.join(" "));
                current.clear();
            }
        } else {
            current.push(t);
        }
    }
    if !current.is_empty() {
        paragraphs.push(current.join(" "));
    }
    Ok(RawNotice {
        origin: origin.to_owned(),
        explicit_id: None,
        link,
        rel_path: Some(rel.to_owned()),
        title: title.to_owned(),
        date,
        body: RawBody::Paragraphs(paragraphs),
        summary: None,
        authors: Vec::new(),
        tags: Vec::new(),
        attachments: Vec::new(),
    })
}

fn parse_markdown(text: &str, origin: &str, rel: &str) -> ParseResult {
    let text = text.replace("\r\n", "\n");
    let (fence, kind) = if text.starts_with("---\n") {
        ("---", "yaml")
    } else if text.starts_with("+++\n") {
        ("+++", "toml")
    } else {
        return Err((
            Some(1),
            "no front matter: a Markdown notice starts with `---` (YAML) or `+++` (TOML)"
                .to_owned(),
        ));
    };
    let rest = &text[4..];
    let mut end = None;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == fence {
            end = Some((offset, offset + line.len()));
            break;
        }
        offset += line.len();
    }
    let Some((fm_end, body_start)) = end else {
        return Err((
            Some(1),
            format!("front matter opened with `{fence}` is never closed"),
        ));
    };
    let front = &rest[..fm_end];
    let body = &rest[body_start..];
    let map = match kind {
        "yaml" => match serde_norway::from_str::<Value>(front) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err((Some(2), "front matter is not a mapping".to_owned())),
            Err(e) => {
                let line = e.location().map(|l| l.line() + 1);
                return Err((line, format!("invalid YAML front matter: {e}")));
            }
        },
        _ => match front.parse::<toml::Table>() {
            Ok(t) => toml_to_json(t),
            Err(e) => {
                let line = e.span().map(|s| front[..s.start].lines().count() + 1);
                return Err((line, format!("invalid TOML front matter: {}", e.message())));
            }
        },
    };
    let date_line = front
        .lines()
        .position(|l| l.trim_start().starts_with("date"))
        .map(|p| p + 2);
    notice_from_fields(map, Some(body.to_owned()), origin, rel).map_err(|m| {
        let line = if m.contains("date") { date_line } else { None };
        (line, m)
    })
}

fn toml_to_json(t: toml::Table) -> Map<String, Value> {
    fn conv(v: toml::Value) -> Value {
        match v {
            toml::Value::String(s) => Value::String(s),
            toml::Value::Integer(i) => Value::from(i),
            toml::Value::Float(f) => Value::from(f),
            toml::Value::Boolean(b) => Value::Bool(b),
            toml::Value::Datetime(d) => Value::String(d.to_string()),
            toml::Value::Array(a) => Value::Array(a.into_iter().map(conv).collect()),
            toml::Value::Table(t) => {
                Value::Object(t.into_iter().map(|(k, v)| (k, conv(v))).collect())
            }
        }
    }
    t.into_iter().map(|(k, v)| (k, conv(v))).collect()
}

const KNOWN_FIELDS: &[&str] = &[
    "title", "date", "link", "id", "tags", "author", "summary", "body",
];

/// Takes a field's text out of the map (each field is read once, so nothing is copied).
fn string_field(map: &mut Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s).filter(|s| !s.trim().is_empty())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(format!("`{key}` must be a string, not {other}")),
    }
}

/// Builds a notice from front-matter or JSON fields; `body` is the Markdown after the front
/// matter (files), or the `body` field (JSON).
fn notice_from_fields(
    mut map: Map<String, Value>,
    body: Option<String>,
    origin: &str,
    rel: &str,
) -> Result<RawNotice, String> {
    for key in map.keys() {
        if !KNOWN_FIELDS.contains(&key.as_str()) {
            log::warn!(
                "{origin}: unknown field `{key}` ignored (known: {})",
                KNOWN_FIELDS.join(", ")
            );
        }
    }
    let title = string_field(&mut map, "title")?.ok_or("no title (`title` is missing or empty)")?;
    let raw_date = string_field(&mut map, "date")?.ok_or("no date (`date` is missing)")?;
    let date = parse_date_value(&raw_date).ok_or_else(|| {
        format!("unparseable date `{raw_date}` (expected RFC 3339, YYYY-MM-DD[THH:MM[:SS]] or dd/mm/yyyy)")
    })?;
    let link = match string_field(&mut map, "link")? {
        Some(l) => Some(
            CanonicalUrl::parse(&l)
                .map_err(|e| format!("`link`: {e} (expected an absolute http(s) URL)"))?,
        ),
        None => None,
    };
    let tags = match map.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s
            .split(',')
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.trim().to_owned()),
                other => Err(format!("`tags` entries must be strings, not {other}")),
            })
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect(),
        Some(other) => return Err(format!("`tags` must be a list of strings, not {other}")),
    };
    let body = match body {
        Some(b) => b,
        None => string_field(&mut map, "body")?.unwrap_or_default(),
    };
    let body = capped_body(body, origin);
    Ok(RawNotice {
        origin: origin.to_owned(),
        explicit_id: string_field(&mut map, "id")?,
        link,
        rel_path: Some(rel.to_owned()),
        title,
        date,
        body: RawBody::Markdown(body),
        summary: string_field(&mut map, "summary")?,
        authors: string_field(&mut map, "author")?.into_iter().collect(),
        tags,
        attachments: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::MAX_CONTENT_BYTES;
    use chrono::{DateTime, NaiveDate};

    fn local(y: i32, m: u32, d: u32, h: u32, mi: u32) -> RawDate {
        RawDate::Local(
            NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_opt(h, mi, 0)
                .unwrap(),
        )
    }

    #[test]
    fn text_notice_with_all_tolerated_variations() {
        let t = "\u{feff}Title here   \r\n\r\ndate\r\n05/09/2026\r\n\r\nFirst line\r\ncontinued.   \r\n\r\n\r\nSecond.\r\n\r\n\r\n";
        let n = parse_text(&decode(t.as_bytes().to_vec()).unwrap(), "f", "f.txt").unwrap();
        assert_eq!(n.title, "Title here");
        assert_eq!(n.date, local(2026, 9, 5, 0, 0));
        assert_eq!(
            n.body,
            RawBody::Paragraphs(vec!["First line continued.".into(), "Second.".into()])
        );
        assert_eq!(n.rel_path.as_deref(), Some("f.txt"));
    }

    #[test]
    fn text_notice_may_carry_a_link_after_the_date() {
        let t = "T\n\ndate\n05/09/2026\n\nlink\nhttps://www.chinania.org.cn/a/1.html?utm_source=x\n\nBody.\n";
        let n = parse_text(t, "f", "f.txt").unwrap();
        assert_eq!(
            n.link.unwrap().as_str(),
            "https://www.chinania.org.cn/a/1.html"
        );
        assert_eq!(n.body, RawBody::Paragraphs(vec!["Body.".into()]));
        let e = parse_text("T\n\ndate\n05/09/2026\nlink\nnot a url\n", "f", "f").unwrap_err();
        assert_eq!(e.0, Some(6));
        assert!(e.1.contains("not a url"), "{}", e.1);
        // Without the line the body starts right after the date, as before.
        let n = parse_text("T\n\ndate\n05/09/2026\nlinked text\n", "f", "f").unwrap();
        assert_eq!(n.link, None);
        assert_eq!(n.body, RawBody::Paragraphs(vec!["linked text".into()]));
    }

    #[test]
    fn text_notice_errors_name_the_line() {
        assert_eq!(
            parse_text("\n\ndate\n01/01/2026\nx", "f", "f")
                .unwrap_err()
                .0,
            Some(1)
        );
        let e = parse_text("T\n\ndate\n31/02/2026\nx", "f", "f").unwrap_err();
        assert_eq!(e.0, Some(4));
        assert!(e.1.contains("31/02/2026"));
        assert_eq!(
            parse_text("T\n\nwhen\n01/01/2026", "f", "f").unwrap_err().0,
            Some(3)
        );
    }

    #[test]
    fn markdown_yaml_and_toml_front_matter() {
        let y = "---\ntitle: A & \"B\"\ndate: 2026-05-29\nlink: https://h/x.html\ntags:\n  - a\n  - b\n---\nBody **bold**\n";
        let n = parse_markdown(y, "f", "f.md").unwrap();
        assert_eq!(n.title, "A & \"B\"");
        assert_eq!(n.date, local(2026, 5, 29, 0, 0));
        assert_eq!(n.tags, vec!["a", "b"]);
        assert_eq!(n.link.unwrap().as_str(), "https://h/x.html");
        assert_eq!(n.body, RawBody::Markdown("Body **bold**\n".into()));

        let t = "+++\ntitle = 'T'\ndate = 2026-08-22T14:30:00\nid = \"x-1\"\ntags = [\"标准化\"]\n+++\nbody";
        let n = parse_markdown(t, "f", "f.md").unwrap();
        assert_eq!(n.date, local(2026, 8, 22, 14, 30));
        assert_eq!(n.explicit_id.as_deref(), Some("x-1"));
        let t = "+++\ntitle = 'T'\ndate = 2026-06-26T10:00:00+08:00\n+++\n";
        let n = parse_markdown(t, "f", "f.md").unwrap();
        assert_eq!(
            n.date,
            RawDate::Zoned(DateTime::parse_from_rfc3339("2026-06-26T10:00:00+08:00").unwrap())
        );
    }

    #[test]
    fn markdown_errors() {
        assert!(parse_markdown("# just a readme\n", "f", "f").is_err());
        let e = parse_markdown("---\ntitle: T\ndate: yesterday\n---\n", "f", "f").unwrap_err();
        assert_eq!(e.0, Some(3));
        assert!(e.1.contains("yesterday"));
        let e = parse_markdown("---\ndate: 2026-01-01\n---\n", "f", "f").unwrap_err();
        assert!(e.1.contains("title"));
    }

    #[test]
    fn control_characters_do_not_lose_a_front_matter_notice() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.md"),
            "---\ntitle: \"A\u{1}B\u{b}C\"\ndate: 2026-01-01\n---\nx\u{7}y\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("b.md"),
            "+++\ntitle = \"D\u{1}E\"\ndate = 2026-01-01\n+++\n",
        )
        .unwrap();
        let c = collect(dir.path()).unwrap();
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        let titles: Vec<_> = c.notices.iter().map(|n| n.title.as_str()).collect();
        assert_eq!(titles, ["ABC", "DE"]);
        assert_eq!(c.notices[0].body, RawBody::Markdown("xy\n".into()));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_followed_only_inside_the_notice_folder() {
        // See: issue 9, case 6: a link to `../outside/secret.json` was published.
        use std::os::unix::fs::symlink;
        let top = tempfile::tempdir().unwrap();
        let notices = top.path().join("notices");
        let outside = top.path().join("outside");
        std::fs::create_dir_all(notices.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(
            outside.join("secret.json"),
            r#"[{"title":"SECRET","date":"2026-01-01"}]"#,
        )
        .unwrap();
        std::fs::write(
            outside.join("o.md"),
            "---\ntitle: OUT\ndate: 2026-01-01\n---\n",
        )
        .unwrap();
        std::fs::write(
            notices.join("sub/in.md"),
            "---\ntitle: IN\ndate: 2026-01-01\n---\n",
        )
        .unwrap();
        symlink("../outside/secret.json", notices.join("secret.json")).unwrap();
        symlink(&outside, notices.join("outdir")).unwrap();
        symlink("sub/in.md", notices.join("alias.md")).unwrap();
        symlink("sub", notices.join("subdir")).unwrap();
        symlink(".", notices.join("loop")).unwrap();
        symlink("missing.md", notices.join("broken.md")).unwrap();
        let c = collect(&notices).unwrap();
        let titles: Vec<_> = c.notices.iter().map(|n| n.title.as_str()).collect();
        // alias.md → sub/in.md and subdir → sub stay inside: read, once; nothing from outside.
        assert_eq!(titles, ["IN"], "{titles:?}");
        assert_eq!(c.notices[0].rel_path.as_deref(), Some("alias.md"));
        assert!(c.problems.is_empty(), "{:?}", c.problems);
    }

    #[test]
    fn oversized_files_are_refused_and_bodies_cut() {
        // See: issue 9, case 5: a 200 MB .txt notice took 1.4 GB of memory and became a 200 MB
        // row and 200 MB feeds.
        let dir = tempfile::tempdir().unwrap();
        let big = std::fs::File::create(dir.path().join("big.txt")).unwrap();
        big.set_len(200 * 1024 * 1024).unwrap();
        let body = "长".repeat(700_000); // 2.1 MB of UTF-8
        std::fs::write(
            dir.path().join("long.txt"),
            format!("Long\n\ndate\n01/02/2026\n\n{body}\n"),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("long.md"),
            format!("---\ntitle: L\ndate: 2026-01-01\n---\n{body}"),
        )
        .unwrap();
        let c = collect(dir.path()).unwrap();
        assert_eq!(c.problems.len(), 1);
        let p = c.problems[0].to_string();
        assert!(p.contains("big.txt") && p.contains("67108864"), "{p}");
        for n in &c.notices {
            let len = match &n.body {
                RawBody::Paragraphs(ps) => ps.iter().map(String::len).sum(),
                RawBody::Markdown(m) => m.len(),
                RawBody::Html(h) => h.len(),
            };
            assert!(len <= MAX_CONTENT_BYTES, "{}: {len}", n.origin);
            assert!(len > MAX_CONTENT_BYTES - 4, "{}: {len}", n.origin);
        }
        assert_eq!(c.notices.len(), 2);
    }

    #[test]
    fn a_file_is_refused_by_its_declared_size_or_once_it_grows_past_the_cap() {
        // See: issue 11, point 3: a file bigger than the cap is an error, not an allocation.
        let e = read_capped(std::io::empty(), 65, 64).unwrap_err();
        assert_eq!(
            e,
            "file is 65 bytes, more than the 64 bytes a notice file may have; skipped"
        );
        // A file that grows after its size was read: an endless reader is cut at cap + 1.
        let e = read_capped(std::io::repeat(b'x'), 10, 64).unwrap_err();
        assert!(e.contains("grew past the 64 bytes"), "{e}");
        assert_eq!(read_capped(&b"abc"[..], 3, 3).unwrap(), b"abc");
        // The size is read from metadata before a byte is: a sparse file one byte too big.
        let dir = tempfile::tempdir().unwrap();
        std::fs::File::create(dir.path().join("big.jsonl"))
            .unwrap()
            .set_len(MAX_FILE_BYTES + 1)
            .unwrap();
        let files = scan(dir.path()).unwrap();
        let r = read(&files[0]);
        assert!(r.notices.is_empty() && r.hash.is_none());
        assert_eq!(
            r.problems[0].to_string(),
            format!(
                "{}: file is 67108865 bytes, more than the 67108864 bytes a notice file may have; skipped",
                dir.path().join("big.jsonl").display()
            )
        );
    }

    #[test]
    fn scan_stamps_each_file_and_read_hashes_its_bytes() {
        // See: issue 11, point 1: identity from metadata alone, a hash of the bytes read.
        use sha2::{Digest as _, Sha256};
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("2026")).unwrap();
        let a = "{\"title\":\"甲\",\"date\":\"2026-01-02\"}\n";
        std::fs::write(dir.path().join("2026/a.jsonl"), a).unwrap();
        std::fs::write(
            dir.path().join("b.md"),
            "---\ntitle: B\ndate: 2026-01-01\n---\n",
        )
        .unwrap();
        let files = scan(dir.path()).unwrap();
        let rels: Vec<_> = files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["2026/a.jsonl", "b.md"]);
        let stamp = files[0].stamp.unwrap();
        let meta = std::fs::metadata(dir.path().join("2026/a.jsonl")).unwrap();
        assert_eq!(stamp.size, a.len() as u64);
        assert_eq!(stamp, FileStamp::of(&meta));
        let r = read(&files[0]);
        assert_eq!(r.hash, Some(Sha256::digest(a).into()));
        assert_eq!(r.notices[0].title, "甲");
        assert_eq!(r.notices[0].rel_path.as_deref(), Some("2026/a.jsonl#1"));

        // The same bytes written again by a rename: another identity, the same hash.
        let tmp = dir.path().join("2026/.a.tmp");
        std::fs::write(&tmp, a).unwrap();
        std::fs::rename(&tmp, dir.path().join("2026/a.jsonl")).unwrap();
        let again = scan(dir.path()).unwrap();
        assert_ne!(again[0].stamp, files[0].stamp);
        assert_eq!(read(&again[0]).hash, r.hash);
        // A link is scanned under its own path (the first in order of the two paths to one
        // file) with its target's identity.
        #[cfg(unix)]
        {
            let link = dir.path().join("0-link.jsonl");
            std::os::unix::fs::symlink("2026/a.jsonl", &link).unwrap();
            let linked = scan(dir.path()).unwrap();
            let rels: Vec<_> = linked.iter().map(|f| f.rel.as_str()).collect();
            assert_eq!(rels, ["0-link.jsonl", "b.md"]);
            assert_eq!(linked[0].stamp, again[0].stamp);
            std::fs::remove_file(link).unwrap();
        }
        // Other bytes of the same size: another hash.
        std::fs::write(dir.path().join("2026/a.jsonl"), a.replace('甲', "乙")).unwrap();
        let edited = scan(dir.path()).unwrap();
        assert_eq!(edited[0].stamp.unwrap().size, stamp.size);
        assert_ne!(read(&edited[0]).hash, r.hash);
    }

    #[test]
    fn json_lines_problems_are_reported_in_line_order_and_good_lines_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.jsonl"),
            "{\"title\":\"One\",\"date\":\"2026-01-02\"}\n{bad\n\n[1]\n{\"title\":\"Two\",\"date\":\"2026-01-03\"}\n",
        )
        .unwrap();
        let c = collect(dir.path()).unwrap();
        let titles: Vec<_> = c.notices.iter().map(|n| n.title.as_str()).collect();
        assert_eq!(titles, ["One", "Two"]);
        assert_eq!(c.notices[1].rel_path.as_deref(), Some("a.jsonl#3"));
        let lines: Vec<_> = c.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [Some(2), Some(4)]);
        assert!(c.problems[1].message.contains("entry 2 is not an object"));
    }

    #[test]
    fn gbk_and_gb2312_bytes_decode() {
        let (bytes, _, _) = encoding_rs::GBK.encode("关于召开2026年有色金属行业会议的通知");
        assert_eq!(
            decode(bytes.into_owned()).unwrap(),
            "关于召开2026年有色金属行业会议的通知"
        );
        assert!(decode(b"\x00\x01\x02binary".to_vec()).is_err());
        assert!(decode(vec![0xff, 0xff, 0xff, 0x30]).is_err());
    }

    #[test]
    fn json_and_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.json"),
            r#"[{"title":"One","date":"2026-01-02","id":"one"},{"title":"Two","date":"2026-01-03T08:00:00+08:00","link":"https://h/2"}]"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("b.jsonl"),
            "{\"title\":\"Three\",\"date\":\"03/01/2026\",\"tags\":\"x, y\"}\n\n",
        )
        .unwrap();
        let c = collect(dir.path()).unwrap();
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        let titles: Vec<_> = c.notices.iter().map(|n| n.title.as_str()).collect();
        assert_eq!(titles, ["One", "Two", "Three"]);
        assert_eq!(c.notices[2].tags, ["x", "y"]);
        assert_eq!(c.notices[2].rel_path.as_deref(), Some("b.jsonl#1"));
    }

    /// Text shaped like each format, with hostile pieces in every slot, or plain random bytes.
    fn notice_bytes() -> impl proptest::strategy::Strategy<Value = (Vec<u8>, &'static str)> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            "[ -~]{0,12}",
            "[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{fffe}\\u{ffff}]{0,3}",
            "[有色金属通知公告附件]{0,6}",
            prop::sample::select(vec![
                "9999-12-31T20:00:00Z",
                "01/01/0000",
                "0000-01-01",
                "2026-02-30",
                "2026-01-05",
                "31/12/9999",
                "javascript:alert(1)",
                "data:text/html,x",
                "file:///etc/passwd",
                "https://h/x.html",
                "#",
                "<script>alert(1)</script>",
                "<a href=\"javascript:x\">j</a>",
                "<p onclick=\"x()\">",
                "]]>",
                "&#1;",
                "\\u0001",
                ">>>>>>>>",
                "---",
                "+++",
                "\"",
                "'",
                "{",
                "[",
                "\n",
                "\r\n",
                "\u{feff}",
                "\u{1b}]0;x\u{7}",
            ])
            .prop_map(str::to_owned),
        ];
        let text = prop::collection::vec(piece, 0..12).prop_map(|v| v.concat());
        let shaped = (
            prop::sample::select(vec!["txt", "md", "md-toml", "json", "jsonl"]),
            text.clone(),
            text.clone(),
            text.clone(),
            text,
        )
            .prop_map(|(kind, a, b, c, d)| match kind {
                "txt" => (format!("{a}\n\ndate\n{b}\n{c}\n\n{d}").into_bytes(), "txt"),
                "md" => (
                    format!("---\ntitle: {a}\ndate: {b}\nlink: {c}\n---\n{d}").into_bytes(),
                    "md",
                ),
                "md-toml" => (
                    format!("+++\ntitle = \"{a}\"\ndate = \"{b}\"\nlink = \"{c}\"\n+++\n{d}")
                        .into_bytes(),
                    "md",
                ),
                "json" => (
                    serde_json::json!([{"title": a, "date": b, "link": c, "body": d}, {"title": d, "date": "2026-01-01"}])
                        .to_string()
                        .into_bytes(),
                    "json",
                ),
                _ => (
                    format!(
                        "{}\n{d}\n",
                        serde_json::json!({"title": a, "date": b, "link": c, "body": d})
                    )
                    .into_bytes(),
                    "jsonl",
                ),
            });
        let random = (
            prop::collection::vec(any::<u8>(), 0..512),
            prop::sample::select(vec!["txt", "md", "json", "jsonl"]),
        );
        prop_oneof![3 => shaped, 1 => random]
    }

    proptest::proptest! {
        // 256 cases by default; PROPTEST_CASES=N for a longer run.
        #![proptest_config(proptest::test_runner::Config::default())]

        /// See: issue 8, point 5, and issue 9. Any bytes in any of the four formats: no panic,
        /// every problem names the file, every notice that normalizes is safe to publish, and
        /// every one that does not says which file it came from.
        #[test]
        fn any_notice_file_is_read_or_refused_by_name((bytes, ext) in notice_bytes()) {
            let dir = tempfile::tempdir().unwrap();
            let name = format!("notice-file.{ext}");
            std::fs::write(dir.path().join(&name), &bytes).unwrap();
            let c = collect(dir.path()).unwrap();
            for p in &c.problems {
                proptest::prop_assert!(p.to_string().contains(&name), "{p}");
            }
            let cx = crate::normalize::Context {
                timezone: chrono_tz::Asia::Shanghai,
                first_seen: None,
                categories: &[],
            };
            let mut items = Vec::new();
            for n in c.notices {
                match crate::normalize::normalize(n, &cx, &mut Vec::new()) {
                    Ok(item) => items.push(item),
                    Err(e) => proptest::prop_assert!(e.to_string().contains(&name), "{e}"),
                }
            }
            crate::render::checks::assert_publishable(&crate::render::checks::meta(), &items);
        }
    }
}

/// Properties of reading a text notice: no input panics it, and its date is made only of
/// numbers of the text.
#[cfg(test)]
mod proptests {
    use super::*;
    use crate::collect::date::proptests::{date_like, invents_nothing};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn text_notices_never_panic_and_their_date_is_in_the_text(
            date in prop_oneof![any::<String>(), date_like()],
            body in any::<String>(),
        ) {
            let text = format!("Title\n\ndate\n{date}\n{body}");
            if let Ok(n) = parse_text(&text, "f", "f.txt") {
                let RawDate::Local(d) = n.date else {
                    return Err(TestCaseError::fail("a .txt date is wall-clock time"));
                };
                invents_nothing(&date, d)?;
            }
            let _ = parse_text(&body, "f", "f.txt");
        }
    }
}
