//! robots.txt as RFC 9309 reads it: the groups for our product token (else `*`), longest matching
//! rule wins, `Allow` wins a tie, `*` and a final `$` are wildcards; plus the `Crawl-delay`
//! extension.
//!
//! Hand-written rather than a crate, on purpose. A skipped URL must be reported with the rule that
//! blocked it, and none of the crates looked at exposes the deciding rule: `texting_robots` (last
//! release 2022, pulls nom 7, bstr 0.2, thiserror 1 and anyhow) and `robotstxt` (2021) only answer
//! yes/no, and `robotxt` 0.7 needs Rust 1.90, above our `rust-version`. The matcher is ~100 lines
//! with the RFC's own examples as tests.

use std::time::Duration;

use crate::text::normalize_percent;

/// The rules of one robots.txt that apply to one user agent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Robots {
    rules: Vec<Rule>,
    crawl_delay: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq)]
struct Rule {
    allow: bool,
    /// Pattern with percent-escapes in their one spelling ([`normalize_percent`]), as the target is.
    pattern: String,
    /// As written in the file, for messages.
    original: String,
}

#[derive(Debug, Default)]
struct Group {
    agents: Vec<String>,
    rules: Vec<Rule>,
    crawl_delay: Option<Duration>,
}

impl Robots {
    /// No robots.txt (404 and other 4xx) means everything is allowed.
    pub fn allow_all() -> Self {
        Self::default()
    }

    /// The groups of `txt` that name `product` (the first word of our User-Agent,
    /// case-insensitive) or, when none does, the `*` groups. Never fails: unreadable lines are
    /// ignored, as RFC 9309 asks.
    pub fn parse(txt: &str, product: &str) -> Self {
        let product = product_token(product).to_ascii_lowercase();
        let mut groups: Vec<Group> = Vec::new();
        let mut in_agent_lines = false;
        for line in txt.lines() {
            let line = line.split('#').next().unwrap_or_default().trim();
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            match key.as_str() {
                "user-agent" => {
                    if !in_agent_lines || groups.is_empty() {
                        groups.push(Group::default());
                    }
                    in_agent_lines = true;
                    if let Some(g) = groups.last_mut() {
                        g.agents.push(product_token(value).to_ascii_lowercase());
                    }
                }
                "allow" | "disallow" | "crawl-delay" => {
                    in_agent_lines = false;
                    if groups.is_empty() {
                        // Rules before any User-agent line: read them as meant for everyone
                        // rather than dropping them, which errs on the polite side.
                        groups.push(Group {
                            agents: vec!["*".into()],
                            ..Group::default()
                        });
                    }
                    let Some(g) = groups.last_mut() else { continue };
                    if key == "crawl-delay" {
                        let secs = value
                            .parse::<f64>()
                            .ok()
                            .filter(|s| s.is_finite() && *s >= 0.0);
                        if let (None, Some(s)) = (g.crawl_delay, secs) {
                            g.crawl_delay = Some(Duration::from_secs_f64(s.min(86_400.0)));
                        }
                    } else if !value.is_empty() {
                        // An empty `Disallow:` allows everything: no rule at all.
                        g.rules.push(Rule {
                            allow: key == "allow",
                            pattern: normalize_percent(value),
                            original: format!(
                                "{}: {value}",
                                if key == "allow" { "Allow" } else { "Disallow" }
                            ),
                        });
                    }
                }
                _ => {} // Sitemap and unknown keys neither start nor end a group.
            }
        }
        let ours: Vec<&Group> = groups
            .iter()
            .filter(|g| g.agents.contains(&product))
            .collect();
        let chosen = if ours.is_empty() {
            groups
                .iter()
                .filter(|g| g.agents.iter().any(|a| a == "*"))
                .collect()
        } else {
            ours
        };
        Self {
            rules: chosen.iter().flat_map(|g| g.rules.clone()).collect(),
            crawl_delay: chosen.iter().find_map(|g| g.crawl_delay),
        }
    }

    /// The rule that forbids `path_and_query` (as in a URL: percent-encoded, starting with `/`),
    /// written as in the file, e.g. `Disallow: /private/`; `None` when it may be fetched.
    pub fn blocking_rule(&self, path_and_query: &str) -> Option<&str> {
        if path_and_query == "/robots.txt" {
            return None;
        }
        let target = normalize_percent(path_and_query);
        let best = self
            .rules
            .iter()
            .filter(|r| matches(&r.pattern, &target))
            // Longest pattern wins; on equal length, Allow (true > false) wins.
            .max_by_key(|r| (r.pattern.len(), r.allow))?;
        (!best.allow).then_some(best.original.as_str())
    }

    /// The site's requested pause between requests, if it set one for us.
    pub fn crawl_delay(&self) -> Option<Duration> {
        self.crawl_delay
    }
}

/// `noticefeed/0.1 (+https://...)` → `noticefeed`.
fn product_token(agent: &str) -> &str {
    agent
        .trim()
        .split(|c: char| c == '/' || c.is_whitespace())
        .next()
        .unwrap_or_default()
}

/// RFC 9309 §2.2.3: `*` matches any run of characters, a trailing `$` anchors the end; otherwise
/// the pattern is a prefix.
fn matches(pattern: &str, target: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let parts: Vec<&str> = pattern.split('*').collect();
    let Some((first, rest)) = parts.split_first() else {
        return true;
    };
    let Some(mut remaining) = target.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        // No `*` at all.
        return !anchored || remaining.is_empty();
    };
    for part in middle {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    if anchored {
        remaining.ends_with(last)
    } else {
        remaining.contains(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(txt: &str, path: &str) -> Option<String> {
        Robots::parse(txt, "noticefeed/0.1 (+https://example.org)")
            .blocking_rule(path)
            .map(String::from)
    }

    #[test]
    fn star_group_applies_when_we_are_not_named() {
        let txt = "User-agent: *\nDisallow: /private/\n\nUser-agent: otherbot\nDisallow: /\n";
        assert_eq!(
            blocked(txt, "/private/x.html").as_deref(),
            Some("Disallow: /private/")
        );
        assert_eq!(blocked(txt, "/public/x.html"), None);
        assert_eq!(blocked(txt, "/robots.txt"), None);
    }

    #[test]
    fn our_group_replaces_the_star_group() {
        let txt = "User-agent: *\nDisallow: /\n\nUser-agent: NoticeFeed\nDisallow: /admin\n";
        assert_eq!(blocked(txt, "/html/"), None);
        assert!(blocked(txt, "/admin/login").is_some());
    }

    #[test]
    fn grouped_agents_share_rules_and_comments_are_ignored() {
        let txt = "User-agent: a\nUser-agent: noticefeed # us\nDisallow: /x # no\n";
        assert_eq!(blocked(txt, "/x/1").as_deref(), Some("Disallow: /x"));
    }

    #[test]
    fn longest_match_wins_and_allow_wins_ties() {
        let txt =
            "User-agent: *\nDisallow: /html/\nAllow: /html/xiehui/\nAllow: /p\nDisallow: /p\n";
        assert!(blocked(txt, "/html/other/1.html").is_some());
        assert_eq!(blocked(txt, "/html/xiehui/1.html"), None);
        assert_eq!(blocked(txt, "/page"), None);
    }

    #[test]
    fn wildcards_and_end_anchor() {
        let txt = "User-agent: *\nDisallow: /*.php$\nDisallow: /api*count\n";
        assert!(blocked(txt, "/index.php").is_some());
        assert_eq!(blocked(txt, "/index.php?m=1"), None);
        assert!(blocked(txt, "/api.php?op=count&id=3").is_some());
        assert_eq!(blocked(txt, "/api.php?op=list"), None);
    }

    #[test]
    fn empty_disallow_and_missing_file_allow_all() {
        assert_eq!(blocked("User-agent: *\nDisallow:\n", "/x"), None);
        assert_eq!(Robots::allow_all().blocking_rule("/x"), None);
        assert_eq!(blocked("", "/x"), None);
    }

    #[test]
    fn non_ascii_rules_match_percent_encoded_paths() {
        let txt = "User-agent: *\nDisallow: /uploads/附件\n";
        assert!(blocked(txt, "/uploads/%E9%99%84%E4%BB%B62.docx").is_some());
        let txt = "User-agent: *\nDisallow: /uploads/%e9%99%84\n";
        assert!(blocked(txt, "/uploads/%E9%99%84%E4%BB%B62.docx").is_some());
    }

    #[test]
    fn crawl_delay_of_the_chosen_group() {
        let r = Robots::parse(
            "User-agent: *\nCrawl-delay: 2.5\nUser-agent: noticefeed\nCrawl-delay: 4\n",
            "noticefeed",
        );
        // Crawl-delay ends the agent lines, so these are two groups, and ours says 4.
        assert_eq!(r.crawl_delay(), Some(Duration::from_secs(4)));
        let r = Robots::parse("User-agent: *\nCrawl-delay: nonsense\n", "noticefeed");
        assert_eq!(r.crawl_delay(), None);
    }

    #[test]
    fn escaped_unreserved_characters_match_their_plain_spelling() {
        // RFC 9309 §2.2.2's table: `/foo/bar/%62%61%7A` matches `/foo/bar/baz`, and back.
        assert!(blocked(
            "User-agent: *\nDisallow: /foo/bar/%62%61%7A\n",
            "/foo/bar/baz"
        )
        .is_some());
        assert!(blocked("User-agent: *\nDisallow: /~joe/\n", "/%7ejoe/x").is_some());
        // An escaped `/` is not a path separator.
        assert!(blocked("User-agent: *\nDisallow: /a/b\n", "/a%2Fb").is_none());
    }

    #[test]
    fn rules_before_any_agent_line_apply_to_all() {
        assert!(blocked("Disallow: /tmp/\n", "/tmp/a").is_some());
    }
}
