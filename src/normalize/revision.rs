//! What counts as a change of a notice, and what a missing date does to a stored one: the rules
//! that merge a run's items into the archive. Pure (the run time is passed in), so the store only
//! reads what it holds ([`Archived`]) and writes what was decided ([`Decided`]).

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest as _, Sha256};

use crate::model::change::{Archived, Change, ContentHash, Decided};
use crate::model::{CanonicalUrl, Item};

/// Decides every incoming item of one feed against what the archive holds (by GUID), in input
/// order. A GUID given twice is decided the second time against the first decision, as if the
/// first had already been stored.
pub fn decide_all(
    items: &[Item],
    mut archived: HashMap<String, Archived>,
    now: DateTime<Utc>,
) -> Vec<Decided> {
    items
        .iter()
        .map(|incoming| {
            let decided = decide(incoming, archived.get(incoming.guid.as_str()), now);
            archived.insert(
                decided.item.guid.as_str().to_owned(),
                Archived::Stored {
                    hash: decided.hash,
                    published: decided.item.published,
                    date_estimated: decided.item.date_estimated,
                },
            );
            decided
        })
        .collect()
}

/// One incoming item against what the archive holds for its GUID.
///
/// - Nothing stored: `New`. A notice without a date (`date_estimated`) is published at `now`,
///   the moment noticefeed first saw it, whatever time it carried.
/// - Stored: an estimated date adopts the stored `published` (and whether that was estimated),
///   so a missing date neither moves the notice nor counts as a change. Then the same
///   [`content_hash`] is `Unchanged` (the stored item stays byte for byte what it was) and a
///   different one is `Updated`, with `updated` set to `now`.
/// - A stored row that cannot be read back: `Updated` by the fresh copy, which heals the store
///   instead of failing the feed.
pub fn decide(incoming: &Item, archived: Option<&Archived>, now: DateTime<Utc>) -> Decided {
    let mut item = incoming.clone();
    let change = match archived {
        None => {
            if item.date_estimated {
                item.published = now;
                item.updated = now;
            }
            Change::New
        }
        Some(Archived::Unreadable) => {
            if item.date_estimated {
                item.published = now;
            }
            item.updated = now;
            Change::Updated
        }
        Some(Archived::Stored {
            hash,
            published,
            date_estimated,
        }) => {
            if item.date_estimated {
                item.published = *published;
                item.date_estimated = *date_estimated;
            }
            if content_hash(&item) == *hash {
                Change::Unchanged
            } else {
                item.updated = now;
                Change::Updated
            }
        }
    };
    let hash = content_hash(&item);
    Decided { change, item, hash }
}

/// What counts as "the notice changed": title, link, summary, content, authors, categories,
/// attachments and, unless estimated, the published date. Never `updated` (a change sets it, so
/// including it would make every change look like two) and never the first-seen time of an
/// estimated date (it would change with every run).
///
/// The version tag keeps a future change of this recipe from silently colliding with old hashes;
/// changing the recipe marks every notice Updated once, so do it deliberately.
pub fn content_hash(item: &Item) -> ContentHash {
    let attachments: Vec<serde_json::Value> = item
        .attachments
        .iter()
        .map(|a| {
            serde_json::json!({
                "url": a.url.as_str(),
                "title": a.title,
                "mime": a.mime,
                "length": a.length,
            })
        })
        .collect();
    let published =
        (!item.date_estimated).then(|| item.published.to_rfc3339_opts(SecondsFormat::Nanos, true));
    // Serialized straight into the digest, by reference: the same compact JSON text as a
    // `json!` array of these fields, without copying the body into a `Value` first.
    let fields = (
        "noticefeed-item-v1",
        &item.title,
        item.link.as_ref().map(CanonicalUrl::as_str),
        &item.summary,
        &item.content_html,
        &item.authors,
        &item.categories,
        attachments,
        published,
    );
    let mut digest = Sha256::new();
    // Writing into a digest cannot fail, nor can serializing strings and lists of them.
    if let Err(e) = serde_json::to_writer(&mut digest, &fields) {
        unreachable!("hashing a notice: {e}");
    }
    ContentHash(digest.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::{at, notice};

    fn hex(h: &ContentHash) -> String {
        h.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn stored(item: &Item) -> Archived {
        Archived::Stored {
            hash: content_hash(item),
            published: item.published,
            date_estimated: item.date_estimated,
        }
    }

    #[test]
    fn the_recipe_is_the_one_stores_were_built_with() {
        // Stores in the field hold hashes of this recipe: a change would mark every notice
        // Updated once. The value was computed by the recipe as it lived in the store.
        let mut item = notice(1, 10);
        item.link = Some(CanonicalUrl::parse("https://www.chinania.org.cn/html/x/1.html").unwrap());
        item.attachments[0].mime = "application/msword".into();
        item.authors.clear();
        item.categories = vec!["会议".into()];
        item.attachments[0].url = CanonicalUrl::parse("https://h/uploads/附件1.docx").unwrap();
        assert_eq!(
            hex(&content_hash(&item)),
            "3aa0257799fb6c00c363e9547da6a5f6bc50b94c246047059c80882d91f8ac17"
        );
        item.attachments.clear();
        assert_eq!(
            hex(&content_hash(&item)),
            "4391e466fdc676178beb98b45aa3f3d363995466ab25c392e76d6423285a5f0d"
        );
    }

    #[test]
    fn new_updated_and_unchanged_are_told_apart() {
        let old = notice(1, 10);
        let d = decide(&old, None, at(20, 0));
        assert_eq!((d.change, &d.item), (Change::New, &old));
        assert_eq!(d.hash, content_hash(&old));

        let d = decide(&old, Some(&stored(&old)), at(21, 0));
        assert_eq!((d.change, &d.item), (Change::Unchanged, &old));

        let mut edited = old.clone();
        edited.content_html = "<p>body 1, corrected</p>".into();
        let d = decide(&edited, Some(&stored(&old)), at(21, 0));
        assert_eq!(d.change, Change::Updated);
        assert_eq!(
            d.item.updated,
            at(21, 0),
            "an edit moves `updated` to the run"
        );
        assert_eq!(d.item.published, old.published);
        assert_eq!(d.item.guid, old.guid, "an edit never changes the GUID");
    }

    #[test]
    fn hash_ignores_updated_but_sees_every_content_field() {
        let base = notice(1, 10);
        let mut later = base.clone();
        later.updated = at(25, 0);
        assert_eq!(content_hash(&later), content_hash(&base));
        let edits: Vec<fn(&mut Item)> = vec![
            |i| i.title.push('!'),
            |i| i.link = None,
            |i| i.summary.push('!'),
            |i| i.content_html.push('!'),
            |i| i.authors.push("x".into()),
            |i| i.categories.reverse(),
            |i| i.attachments[0].length += 1,
            |i| i.published = at(9, 8),
        ];
        for (n, edit) in edits.into_iter().enumerate() {
            let mut item = base.clone();
            edit(&mut item);
            assert_ne!(content_hash(&item), content_hash(&base), "edit {n}");
            let d = decide(&item, Some(&stored(&base)), at(22, 0));
            assert_eq!(d.change, Change::Updated, "edit {n}");
        }
    }

    #[test]
    fn estimated_dates_keep_the_first_seen_time() {
        let undated = |run: DateTime<Utc>| Item {
            date_estimated: true,
            published: run,
            updated: run,
            ..notice(1, 1)
        };
        // A new notice without a date is published when first seen, whatever it carried.
        let first = decide(
            &Item {
                published: at(1, 0),
                ..undated(at(20, 0))
            },
            None,
            at(20, 0),
        );
        assert_eq!(first.change, Change::New);
        assert_eq!(
            (first.item.published, first.item.updated),
            (at(20, 0), at(20, 0))
        );
        assert!(first.item.date_estimated);

        // Later runs see it at their own time; it stays where it was first seen.
        let archived = stored(&first.item);
        let d = decide(&undated(at(21, 0)), Some(&archived), at(21, 0));
        assert_eq!(d.change, Change::Unchanged);
        assert_eq!(d.item.published, at(20, 0));

        // Even an edit keeps the first-seen date.
        let mut edited = undated(at(22, 0));
        edited.title = "更正".into();
        let d = decide(&edited, Some(&archived), at(22, 0));
        assert_eq!(d.change, Change::Updated);
        assert_eq!((d.item.published, d.item.updated), (at(20, 0), at(22, 0)));
    }

    #[test]
    fn a_dated_notice_that_loses_its_date_is_unchanged() {
        let dated = notice(1, 10);
        let undated = Item {
            date_estimated: true,
            published: at(21, 0),
            updated: at(21, 0),
            ..dated.clone()
        };
        let d = decide(&undated, Some(&stored(&dated)), at(21, 0));
        assert_eq!(d.change, Change::Unchanged);
        assert_eq!(d.item.published, dated.published);
        assert!(!d.item.date_estimated, "the stored real date stays real");
    }

    #[test]
    fn an_unreadable_row_is_replaced_by_the_fresh_copy() {
        let d = decide(&notice(1, 5), Some(&Archived::Unreadable), at(8, 0));
        assert_eq!(d.change, Change::Updated);
        assert_eq!(d.item.updated, at(8, 0));
        assert_eq!(d.item.published, at(5, 8));
    }

    #[test]
    fn a_guid_given_twice_is_decided_against_the_first() {
        let one = notice(1, 10);
        let mut again = one.clone();
        again.title.push('!');
        let d = decide_all(
            &[one.clone(), one.clone(), again],
            HashMap::new(),
            at(20, 0),
        );
        let changes: Vec<Change> = d.iter().map(|d| d.change).collect();
        assert_eq!(changes, [Change::New, Change::Unchanged, Change::Updated]);
    }
}
