//! The nouns of the pipeline and their invariants: feed ids, canonical links, GUIDs and the
//! notice as it travels from `collect` (`RawNotice`) through `normalize` (`Item`) to `render`.
//!
//! No I/O lives here. Identity types are newtypes with one constructor each, so a raw `String`
//! can never reach a GUID slot and a link is always compared in its one canonical spelling.

pub mod cache;
pub mod change;
#[cfg(test)]
pub mod fixtures;
pub mod origin;

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use url::Url;
use uuid::Uuid;

/// A feed id: the definition's file stem and the output file name, so a plain slug only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FeedId(String);

/// Why a string is not a feed id.
#[derive(Debug, thiserror::Error)]
#[error("feed id `{0}` is not a plain slug (lowercase letters, digits, `-` and `_`, at most 64, not starting with `-` or `_`)")]
pub struct BadFeedId(pub String);

impl FeedId {
    /// Accepts `[a-z0-9][a-z0-9_-]{0,63}`: safe as a file name on every system and in a URL.
    pub fn parse(raw: &str) -> Result<Self, BadFeedId> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && !raw.starts_with(['-', '_']);
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(BadFeedId(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FeedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for FeedId {
    type Err = BadFeedId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Query parameters that only track where a click came from; they never identify a notice.
fn is_tracking_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("utm_")
        || matches!(
            n.as_str(),
            "spm"
                | "from"
                | "isappinstalled"
                | "fbclid"
                | "gclid"
                | "dclid"
                | "msclkid"
                | "yclid"
                | "mc_cid"
                | "mc_eid"
                | "_hsenc"
                | "_hsmi"
                | "igshid"
                | "scene"
                | "share_token"
                | "wxshare_count"
                | "ref_src"
        )
}

/// Why a link was refused. Each names the value as it was written, so the warning that drops
/// it can say what the page or file held.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadLink {
    #[error("empty link")]
    Empty,
    #[error("link `{0}` only points inside the page")]
    FragmentOnly(String),
    #[error("link `{value}` is not a URL ({source})")]
    Parse {
        value: String,
        #[source]
        source: url::ParseError,
    },
    #[error("link `{0}` is not an http(s) link")]
    Scheme(String),
    #[error("link `{0}` has no host")]
    NoHost(String),
}

/// An absolute `http`/`https` link in the one spelling we compare and publish: host lowercased,
/// default port and fragment dropped, tracking parameters dropped, remaining query sorted,
/// percent-encoding normalized. The scheme is kept for display; [`CanonicalUrl::guid_key`] folds
/// http into https.
///
/// Only the constructors build one, and they refuse every other scheme (`javascript:`, `data:`,
/// `file:`, `mailto:` …), empty and `#`-only hrefs, so an item link, an enclosure or a content
/// link read from a hostile page can never be anything a reader would run or open locally.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CanonicalUrl(Url);

impl CanonicalUrl {
    /// Resolves `raw` (absolute, root-relative, protocol-relative or relative) against `base`.
    pub fn resolve(raw: &str, base: &Url) -> Result<Self, BadLink> {
        let t = Self::precheck(raw)?;
        let u = base.join(t).map_err(|source| BadLink::Parse {
            value: raw.to_owned(),
            source,
        })?;
        Self::from_url(raw, u)
    }

    /// Parses an absolute link.
    pub fn parse(raw: &str) -> Result<Self, BadLink> {
        let t = Self::precheck(raw)?;
        let u = Url::parse(t).map_err(|source| BadLink::Parse {
            value: raw.to_owned(),
            source,
        })?;
        Self::from_url(raw, u)
    }

    fn precheck(raw: &str) -> Result<&str, BadLink> {
        let t = raw.trim();
        if t.is_empty() {
            return Err(BadLink::Empty);
        }
        if t.starts_with('#') {
            return Err(BadLink::FragmentOnly(raw.to_owned()));
        }
        Ok(t)
    }

    fn from_url(raw: &str, u: Url) -> Result<Self, BadLink> {
        if !matches!(u.scheme(), "http" | "https") {
            return Err(BadLink::Scheme(raw.to_owned()));
        }
        if u.host_str().is_none_or(str::is_empty) {
            return Err(BadLink::NoHost(raw.to_owned()));
        }
        Ok(Self::canonical(u))
    }

    fn canonical(mut u: Url) -> Self {
        u.set_fragment(None);
        // `Url` already lowercases the host and drops a port equal to the scheme's default.
        let mut pairs: Vec<(String, String)> = u
            .query_pairs()
            .filter(|(k, _)| !is_tracking_param(k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if pairs.is_empty() {
            u.set_query(None);
        } else {
            pairs.sort();
            u.query_pairs_mut().clear().extend_pairs(pairs);
        }
        let path = crate::text::normalize_percent(u.path());
        u.set_path(&path);
        Self(u)
    }

    /// The same link on `canonical` when its host is one of `aliases` (a site's other names,
    /// lowercase, from its preset): one site, one spelling, one GUID key.
    pub fn fold_host(self, canonical: &str, aliases: &[String]) -> Self {
        let Some(host) = self.0.host_str() else {
            return self;
        };
        if !aliases.iter().any(|a| a == host) {
            return self;
        }
        let mut u = self.0.clone();
        match u.set_host(Some(canonical)) {
            Ok(()) => Self(u),
            Err(_) => self,
        }
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The identity key: the canonical link with http and https treated alike.
    pub fn guid_key(&self) -> String {
        let s = self.0.as_str();
        match s.strip_prefix("http://") {
            Some(rest) => format!("https://{rest}"),
            None => s.to_owned(),
        }
    }
}

impl fmt::Display for CanonicalUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// What a GUID is derived from, in order of preference. Never the title, body or date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuidKey {
    /// An id the source gave explicitly (front matter `id`).
    Explicit(String),
    /// The canonical link.
    Link(CanonicalUrl),
    /// A local file's path relative to the notice folder, `/`-separated.
    Path(String),
}

impl GuidKey {
    /// The text hashed into the UUID. The prefixes keep the three key spaces apart.
    pub fn key_text(&self) -> String {
        match self {
            GuidKey::Explicit(id) => format!("id:{}", id.trim()),
            GuidKey::Link(u) => format!("link:{}", u.guid_key()),
            GuidKey::Path(p) => format!("path:{}", p.replace('\\', "/")),
        }
    }
}

/// The namespace of every noticefeed GUID. Fixed forever: changing it re-announces every notice
/// in every reader.
pub const GUID_NAMESPACE: Uuid = Uuid::from_u128(0x6e6f_7469_6365_4665_8564_2d67_7569_6473);

/// A notice's identity in every format: `urn:uuid:` + a v5 UUID of its [`GuidKey`].
/// Independent of the feed, so a notice listed in two channels is one GUID everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(String);

impl Guid {
    pub fn derive(key: &GuidKey) -> Self {
        let id = Uuid::new_v5(&GUID_NAMESPACE, key.key_text().as_bytes());
        Self(id.urn().to_string())
    }

    /// Rebuilds a GUID read back from the store, where it was pinned when first published.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A date as the source gave it, before the feed's time zone is applied. Each variant is one
/// case: whether a given date is believed (every output can write it; a scraped one is not after
/// the run) is decided by `normalize`, which knows the zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawDate {
    /// Carries its own offset (RFC 3339 with offset).
    Zoned(DateTime<FixedOffset>),
    /// Wall-clock time in the feed's zone (date-only values are midnight). A time in a DST gap
    /// is one too: it is shifted forward when put in its zone.
    Local(NaiveDateTime),
    /// The source gave no date.
    Absent,
    /// The source gave text that is no date: no accepted form reads it, or it names no real day
    /// (`2026-02-30`). `raw` is the text as given, for warnings.
    Unreadable { raw: String },
}

impl RawDate {
    /// A date from text that may be absent: `Unreadable` when there is text, else `Absent`.
    pub fn unreadable(raw: Option<String>) -> Self {
        match raw {
            Some(raw) => Self::Unreadable { raw },
            None => Self::Absent,
        }
    }
}

/// The years every output can write: RFC 822 and RFC 3339 have four-digit years, the store's
/// fixed-width text must sort as time, and nothing before the Unix epoch is a notice.
pub const PUBLISHABLE_YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;

/// Whether `t` can be published: inside [`PUBLISHABLE_YEARS`] both in UTC and in the feed's zone
/// (`9999-12-31T20:00:00Z` is already year 10000 in Asia/Shanghai). `normalize` refuses every
/// other instant, so a renderer or the store never meets one.
pub fn is_publishable(t: DateTime<Utc>, tz: chrono_tz::Tz) -> bool {
    use chrono::Datelike as _;
    PUBLISHABLE_YEARS.contains(&t.year())
        && PUBLISHABLE_YEARS.contains(&t.with_timezone(&tz).year())
}

/// The body of a notice as collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawBody {
    /// Plain paragraphs (local `.txt` notices).
    Paragraphs(Vec<String>),
    /// Markdown source.
    Markdown(String),
    /// HTML, untrusted; relative links resolve against the notice's link.
    Html(String),
}

/// A file linked from a notice (pdf, docx, …), published as an enclosure.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attachment {
    pub url: CanonicalUrl,
    pub title: String,
    pub mime: String,
    /// Bytes, from Content-Length; 0 when unknown (RSS requires the attribute).
    pub length: u64,
}

/// One notice as a collector saw it: strings and typed-but-unzoned dates, nothing derived yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawNotice {
    /// Where it came from, for messages: a file path or a URL.
    pub origin: String,
    pub explicit_id: Option<String>,
    /// Absolute link of the notice (already resolved by the collector), if any.
    pub link: Option<CanonicalUrl>,
    /// Local notices: path relative to the notice folder, the last-resort GUID key.
    pub rel_path: Option<String>,
    pub title: String,
    pub date: RawDate,
    pub body: RawBody,
    pub summary: Option<String>,
    pub authors: Vec<String>,
    pub tags: Vec<String>,
    pub attachments: Vec<Attachment>,
}

/// A feed item: what every renderer reads. Times are UTC.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Item {
    pub guid: Guid,
    pub link: Option<CanonicalUrl>,
    pub title: String,
    pub published: DateTime<Utc>,
    /// The source gave no usable date, so `published` is when noticefeed first saw the notice.
    /// The store keeps the first such value for ever instead of the new run's time.
    pub date_estimated: bool,
    /// When the content last changed; equals `published` until it does.
    pub updated: DateTime<Utc>,
    /// Plain text, for RSS `description` and Atom `summary`.
    pub summary: String,
    /// Sanitized HTML, for `content:encoded` and Atom `content`.
    pub content_html: String,
    /// Whether `summary` is known to be the one `content_html` derives, so the store keeps the
    /// text once without deriving it again.
    pub summary_derived: SummaryDerived,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    pub attachments: Vec<Attachment>,
}

/// Whether an [`Item`]'s summary is known to be `text::derived_summary` of its content (`false`:
/// not known). A hint, not content: all values are equal and hash alike, so it never makes two
/// items differ nor changes a render fingerprint.
#[derive(Debug, Clone, Copy, Default)]
pub struct SummaryDerived(pub bool);

impl PartialEq for SummaryDerived {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for SummaryDerived {}

impl std::hash::Hash for SummaryDerived {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

/// Feed-level metadata the renderers need.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FeedMeta {
    pub id: FeedId,
    pub title: String,
    pub description: String,
    /// Who publishes the notices: the feed-level author in Atom and JSON Feed, `dc:publisher`
    /// in RSS (e.g. 中国有色金属工业协会).
    pub publisher: String,
    /// The site the feed is about (RSS `link`, Atom `link rel="alternate"`).
    pub site_link: Url,
    /// Where the published files live, if known; self links are `<base>/<id>.rss.xml` etc.
    pub public_base: Option<Url>,
    /// WebSub hubs announced in the feed (`rel="hub"` links, JSON Feed `hubs`), which are pinged
    /// when its files change.
    pub hubs: Vec<Url>,
    pub language: String,
    /// Dates are published in this zone (the instant is the same; readers show it local).
    pub timezone: chrono_tz::Tz,
}

/// The heading a feed is listed under in `feeds.opml` and `index.html`. Sites come first (by
/// name), then feeds of local notices, then merges across sites.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    /// A scraped site (or a merge of one site's channels): its name and home page.
    Site { name: String, link: Url },
    /// Feeds read from local notice files.
    Local,
    /// Merges whose members come from several groups.
    Mixed,
}

impl Group {
    /// The heading shown to people.
    pub fn name(&self) -> &str {
        match self {
            Group::Site { name, .. } => name,
            Group::Local => "Local notices",
            Group::Mixed => "Combined feeds",
        }
    }
}

/// Sorts newest first with the GUID as tie-break, then keeps `max` items.
pub fn order_and_limit(items: &mut Vec<Item>, max: usize) {
    items.sort_by(|a, b| {
        b.published
            .cmp(&a.published)
            .then_with(|| a.guid.cmp(&b.guid))
    });
    items.truncate(max);
}

/// A local notice file's identity as its metadata tells it, read without opening the file: a
/// file whose stamp is the one the store remembers is not read again (as make and rsync
/// decide). Size, modification time to the nanosecond, and inode (0 where there is none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileStamp {
    pub size: u64,
    /// Nanoseconds since the Unix epoch (negative before it).
    pub mtime_ns: i64,
    pub inode: u64,
}

impl FileStamp {
    /// The stamp of a file from its metadata (`fs::metadata`, which follows symlinks).
    pub fn of(meta: &std::fs::Metadata) -> Self {
        let mtime_ns = meta.modified().map_or(0, |t| {
            match t.duration_since(std::time::SystemTime::UNIX_EPOCH) {
                Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
                Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
            }
        });
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Self {
            size: meta.len(),
            mtime_ns,
            inode,
        }
    }
}

/// What the store remembers of one notice file of a local feed: where it is (relative to the
/// notice folder, `/`-separated), its stamp, and the SHA-256 of its bytes when it was read. A
/// file whose stamp changed but whose bytes hash the same is no change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    pub rel_path: String,
    pub stamp: FileStamp,
    pub content_hash: [u8; 32],
}

/// A merged feed's items: each notice once (one GUID is one notice, whichever channels list
/// it), in member order, with the categories of every member that lists it.
pub fn merge(members: &[&[Item]]) -> Vec<Item> {
    let mut out: Vec<Item> = Vec::new();
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for items in members {
        for item in items.iter() {
            match index.get(item.guid.as_str()) {
                Some(&i) => {
                    for c in &item.categories {
                        if !out[i].categories.contains(c) {
                            out[i].categories.push(c.clone());
                        }
                    }
                }
                None => {
                    index.insert(item.guid.as_str(), out.len());
                    out.push(item.clone());
                }
            }
        }
    }
    out
}

/// SHA-256 of `bytes`: the one digest of the tool (content hashes, notice files, render
/// fingerprints, ETags).
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::{Digest as _, Sha256};
    Sha256::digest(bytes).into()
}

/// A SHA-256 digest of everything `value` holds, through its `Hash` (every field, raw bytes, no
/// formatting): what a render fingerprint is made of. Stable within one build of noticefeed;
/// another build may digest the same value differently, which costs one render, never a
/// wrong match.
pub fn digest_of<T: std::hash::Hash + ?Sized>(value: &T) -> [u8; 32] {
    use sha2::{Digest as _, Sha256};
    struct Sha(Sha256);
    impl std::hash::Hasher for Sha {
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn finish(&self) -> u64 {
            0 // never asked: the digest is what `digest_of` returns
        }
    }
    let mut h = Sha(Sha256::new());
    value.hash(&mut h);
    h.0.finalize().into()
}

/// [`sha256`] as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&sha256(bytes))
}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &str, categories: &[&str]) -> Item {
        let t = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        Item {
            guid: Guid::derive(&GuidKey::Explicit(key.to_owned())),
            link: None,
            title: key.to_owned(),
            published: t,
            date_estimated: false,
            updated: t,
            summary: String::new(),
            content_html: String::new(),
            summary_derived: Default::default(),
            authors: Vec::new(),
            categories: categories.iter().map(|c| c.to_string()).collect(),
            attachments: Vec::new(),
        }
    }

    #[test]
    fn a_merge_lists_each_notice_once_with_every_members_categories() {
        let a = [item("1", &["通知"]), item("2", &["通知"])];
        let b = [item("3", &["公告"]), item("1", &["公告", "通知"])];
        let merged = merge(&[&a, &b]);
        let titles: Vec<&str> = merged.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(titles, ["1", "2", "3"]);
        assert_eq!(merged[0].categories, ["通知", "公告"]);
        assert_eq!(merged[2].categories, ["公告"]);
        assert!(merge(&[]).is_empty());
    }

    #[test]
    fn a_file_stamp_has_nanoseconds_and_the_inode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "abc").unwrap();
        let t = std::time::UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 123_456_789);
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_times(std::fs::FileTimes::new().set_modified(t))
            .unwrap();
        let s = FileStamp::of(&std::fs::metadata(&path).unwrap());
        assert_eq!((s.size, s.mtime_ns), (3, 1_700_000_000_123_456_789));
        #[cfg(unix)]
        assert_ne!(s.inode, 0);
    }

    #[test]
    fn a_digest_follows_every_field() {
        let a = item("1", &["通知"]);
        assert_eq!(digest_of(&a), digest_of(&a.clone()));
        let mut b = a.clone();
        b.content_html.push(' ');
        assert_ne!(digest_of(&a), digest_of(&b));
        let mut c = a.clone();
        c.attachments.push(Attachment {
            url: CanonicalUrl::parse("https://x.org/a.pdf").unwrap(),
            title: String::new(),
            mime: String::new(),
            length: 0,
        });
        assert_ne!(digest_of(&a), digest_of(&c));
        // Field boundaries count: ("ab", "c") is not ("a", "bc").
        assert_ne!(digest_of(&("ab", "c")), digest_of(&("a", "bc")));
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn feed_ids_are_plain_slugs() {
        for ok in ["notices", "chinania-all", "a_1"] {
            assert!(FeedId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "../x", "a/b", "A", "-x", "x y", "é", "x.y"] {
            assert!(FeedId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn canonical_links_fold_spelling() {
        let base = Url::parse("https://www.chinania.org.cn/html/a/b/").unwrap();
        let a = CanonicalUrl::resolve(
            "HTTPS://WWW.Chinania.org.cn:443/html/x/1.html?utm_source=wechat&b=2&a=1&spm=3#top",
            &base,
        )
        .unwrap();
        assert_eq!(
            a.as_str(),
            "https://www.chinania.org.cn/html/x/1.html?a=1&b=2"
        );
        let b = CanonicalUrl::resolve("http://www.chinania.org.cn/html/x/1.html?b=2&a=1", &base)
            .unwrap();
        assert_eq!(a.guid_key(), b.guid_key());
        let rel = CanonicalUrl::resolve(
            "../../../x/2026/0116/60247.html",
            &Url::parse("https://h/html/s/c/2026/0123/1.html").unwrap(),
        )
        .unwrap();
        assert_eq!(rel.as_str(), "https://h/html/s/x/2026/0116/60247.html");
        let proto = CanonicalUrl::resolve("//www.chinania.org.cn/p.html", &base).unwrap();
        assert_eq!(proto.as_str(), "https://www.chinania.org.cn/p.html");
        let pct = CanonicalUrl::parse("http://h:80/%7euser/%e4%b8%ad.html").unwrap();
        assert_eq!(pct.as_str(), "http://h/~user/%E4%B8%AD.html");
        let only_tracking = CanonicalUrl::parse("https://h/p.html?utm_medium=x").unwrap();
        assert_eq!(only_tracking.as_str(), "https://h/p.html");
        let chinese = CanonicalUrl::parse("https://h/uploads/附件2：回执.docx").unwrap();
        assert!(chinese.as_str().starts_with("https://h/uploads/%E9%99%84"));
    }

    #[test]
    fn links_are_http_or_https_only() {
        // See: issue 9, case 2 (the exact values from the report).
        let base = Url::parse("https://www.chinania.org.cn/html/a/b/").unwrap();
        for bad in [
            "javascript:alert(document.cookie)",
            "javascript:void(0);",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "javascript://x/%0Aalert(document.domain)//a.pdf",
            "data:text/html,<script>alert(1)</script>",
            "file:///etc/passwd",
            "mailto:a@b.c",
            "ftp://h/x",
            "#",
            "#top",
            "",
            "   ",
            "http://",
        ] {
            assert!(CanonicalUrl::resolve(bad, &base).is_err(), "{bad:?}");
            assert!(CanonicalUrl::parse(bad).is_err(), "{bad:?}");
        }
        let e = CanonicalUrl::parse("file:///etc/passwd").unwrap_err();
        assert_eq!(
            e.to_string(),
            "link `file:///etc/passwd` is not an http(s) link"
        );
        assert!(CanonicalUrl::resolve("x.html#frag", &base).is_ok());
        assert!(CanonicalUrl::resolve("?page=2", &base).is_ok());
    }

    #[test]
    fn guids_are_urns_fixed_by_key_only() {
        let link = CanonicalUrl::parse("https://www.chinania.org.cn/html/a/1.html").unwrap();
        let g = Guid::derive(&GuidKey::Link(link.clone()));
        assert!(g.as_str().starts_with("urn:uuid:"));
        let http = CanonicalUrl::parse("http://www.chinania.org.cn/html/a/1.html#x").unwrap();
        assert_eq!(g, Guid::derive(&GuidKey::Link(http)));
        assert_ne!(g, Guid::derive(&GuidKey::Explicit(link.to_string())));
        // Pinned value: if this changes, every reader re-announces every notice.
        assert_eq!(
            Guid::derive(&GuidKey::Path("2026-09-09-copper-forum-harbin.txt".into())).as_str(),
            "urn:uuid:82530e5a-75ef-5835-9f6a-0d80f1d28a2d"
        );
    }
}

/// Properties of canonical links and GUID keys over generated links: the key is idempotent, and
/// no spelling a link can arrive in (scheme, host case, default port, fragment, tracking
/// parameters, parameter order, a declared host alias) changes it.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    const TRACKING: &[&str] = &[
        "utm_source",
        "utm_medium",
        "UTM_Campaign",
        "spm",
        "from",
        "fbclid",
        "gclid",
        "scene",
        "share_token",
        "isappinstalled",
    ];

    /// A path segment: ASCII, Chinese, spaces and characters that need escaping.
    fn segment() -> impl Strategy<Value = String> {
        proptest::string::string_regex(
            "[a-zA-Z0-9._~-]{1,8}|[有色金属协会通知附件]{1,4}|[a-z %()+,;=!*']{1,6}",
        )
        .expect("valid regex")
    }

    /// A query parameter that is not a tracking parameter (all start with `k`).
    fn param() -> impl Strategy<Value = (String, String)> {
        (
            proptest::string::string_regex("k[a-z0-9_]{0,5}").expect("valid regex"),
            proptest::string::string_regex("[a-zA-Z0-9 中文&=+%/?-]{0,6}").expect("valid regex"),
        )
    }

    fn query(pairs: &[(String, String)]) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    }

    #[derive(Debug, Clone)]
    struct Spelling {
        https: bool,
        upper_host: bool,
        default_port: bool,
        alias: bool,
        fragment: Option<String>,
        tracking: Vec<(usize, String, String)>,
        shuffle: Vec<usize>,
    }

    fn spelling() -> impl Strategy<Value = Spelling> {
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            proptest::option::of("[a-z0-9#/?]{0,6}"),
            proptest::collection::vec(
                (
                    0usize..8,
                    proptest::sample::select(TRACKING),
                    "[a-z0-9]{0,4}",
                ),
                0..4,
            ),
            proptest::collection::vec(0usize..8, 0..8),
        )
            .prop_map(
                |(https, upper_host, default_port, alias, fragment, tracking, shuffle)| Spelling {
                    https,
                    upper_host,
                    default_port,
                    alias,
                    fragment,
                    tracking: tracking
                        .into_iter()
                        .map(|(i, k, v)| (i, k.to_owned(), v))
                        .collect(),
                    shuffle,
                },
            )
    }

    /// One spelling of the link `path` + `params` on www.chinania.org.cn.
    fn spell(path: &[String], params: &[(String, String)], s: &Spelling) -> String {
        let scheme = if s.https { "https" } else { "http" };
        let mut host = if s.alias {
            "chinania.org.cn".to_owned()
        } else {
            "www.chinania.org.cn".to_owned()
        };
        if s.upper_host {
            host = host.to_uppercase();
        }
        let port = match (s.default_port, s.https) {
            (false, _) => "",
            (true, true) => ":443",
            (true, false) => ":80",
        };
        let mut pairs = params.to_vec();
        for &i in &s.shuffle {
            if !pairs.is_empty() {
                let j = i % pairs.len();
                let last = pairs.len() - 1;
                pairs.swap(j, last);
            }
        }
        for (i, k, v) in &s.tracking {
            let at = i % (pairs.len() + 1);
            pairs.insert(at, (k.clone(), v.clone()));
        }
        let path: Vec<String> = path
            .iter()
            .map(|seg| percent_encoding::utf8_percent_encode(seg, SEGMENT).to_string())
            .collect();
        let mut out = format!("{scheme}://{host}{port}/{}", path.join("/"));
        if !pairs.is_empty() {
            out.push('?');
            out.push_str(&query(&pairs));
        }
        if let Some(f) = &s.fragment {
            out.push('#');
            out.push_str(f);
        }
        out
    }

    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'/')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'`')
        .add(b'{')
        .add(b'}');

    fn key(raw: &str) -> String {
        let aliases = ["chinania.org.cn".to_owned()];
        let link = CanonicalUrl::parse(raw)
            .unwrap_or_else(|e| panic!("{raw}: {e}"))
            .fold_host("www.chinania.org.cn", &aliases);
        GuidKey::Link(link).key_text()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn canonical_links_are_idempotent(
            path in proptest::collection::vec(segment(), 0..4),
            params in proptest::collection::vec(param(), 0..4),
            s in spelling(),
        ) {
            let raw = spell(&path, &params, &s);
            let once = CanonicalUrl::parse(&raw).unwrap();
            let twice = CanonicalUrl::parse(once.as_str()).unwrap();
            prop_assert_eq!(&once, &twice);
            prop_assert_eq!(once.guid_key(), twice.guid_key());
            prop_assert_eq!(
                Guid::derive(&GuidKey::Link(once.clone())),
                Guid::derive(&GuidKey::Link(twice))
            );
            // Resolving the canonical spelling against any base is itself.
            let base = Url::parse("https://other.example/a/b/").unwrap();
            prop_assert_eq!(CanonicalUrl::resolve(once.as_str(), &base).unwrap(), once);
        }

        #[test]
        fn no_spelling_of_a_link_changes_its_key(
            path in proptest::collection::vec(segment(), 0..4),
            params in proptest::collection::vec(param(), 0..4),
            a in spelling(),
            b in spelling(),
        ) {
            let plain = Spelling {
                https: true,
                upper_host: false,
                default_port: false,
                alias: false,
                fragment: None,
                tracking: vec![],
                shuffle: vec![],
            };
            let reference = key(&spell(&path, &params, &plain));
            let (ra, rb) = (spell(&path, &params, &a), spell(&path, &params, &b));
            prop_assert_eq!(&key(&ra), &reference, "{}", ra);
            prop_assert_eq!(&key(&rb), &reference, "{}", rb);
        }

        #[test]
        fn another_path_or_parameter_is_another_key(
            path in proptest::collection::vec(segment(), 1..4),
            params in proptest::collection::vec(param(), 0..3),
            extra in param(),
            s in spelling(),
        ) {
            let plain = spell(&path, &params, &s);
            let mut more = params.clone();
            more.push(extra);
            let with_param = spell(&path, &more, &s);
            prop_assert_ne!(key(&plain), key(&with_param));
            let mut longer = path.clone();
            longer.push("x".into());
            prop_assert_ne!(key(&plain), key(&spell(&longer, &params, &s)));
        }

        #[test]
        fn parsing_any_text_never_panics(raw in any::<String>()) {
            if let Ok(link) = CanonicalUrl::parse(&raw) {
                prop_assert!(matches!(link.as_url().scheme(), "http" | "https"));
                prop_assert_eq!(CanonicalUrl::parse(link.as_str()).unwrap(), link);
            }
            let base = Url::parse("https://www.chinania.org.cn/html/a/").unwrap();
            let _ = CanonicalUrl::resolve(&raw, &base);
        }
    }
}
