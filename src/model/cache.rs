//! What the HTTP side keeps between runs: fetched pages and robots.txt copies. Defined here, below
//! both `collect` (which reads and fills them) and `store` (which keeps them), so each record has
//! one type and no layer copies another's fields.

use std::time::SystemTime;

use chrono::{DateTime, Utc};

/// A fetched list page kept for conditional requests: a `304 Not Modified` re-reads `body`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedPage {
    /// The URL asked for, in the site's own space (never a mirror's).
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub body: String,
    pub fetched_at: DateTime<Utc>,
}

/// One origin's robots.txt as last fetched, keyed by its URL in the site's own space
/// (`https://www.chinania.org.cn/robots.txt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedRobots {
    /// The status the rules were read from: 200 (the body's rules) or a 4xx (allow all, empty
    /// body). Server errors and network failures are never cached.
    pub status: u16,
    pub body: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// When the copy was fetched or last confirmed by a 304: its age is counted from here.
    pub fetched_at: SystemTime,
}
