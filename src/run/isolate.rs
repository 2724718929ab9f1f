//! Per-feed panic isolation: a bug some input reaches fails that feed, never the run.

use anyhow::Result;

use crate::model::FeedId;
use crate::text;

/// Runs one feed's work so that a panic in it (a bug, reached by some input) fails that feed
/// with a message naming it, and the run goes on with the others: exit 1, never 101.
pub fn isolated<T>(feed: &FeedId, stage: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            Err(anyhow::anyhow!(
                "internal error while {stage} feed {feed} (panic: {}); please report it",
                text::clean_text(&what)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_fails_the_feed_by_name_and_does_not_unwind_the_run() {
        // See: issue 9, case 1 (exit 101 from a panic in the RSS renderer).
        let id = FeedId::parse("notices").unwrap();
        let r: Result<()> = isolated(&id, "publishing", || {
            panic!("date \u{1b}[31m cannot be represented")
        });
        let msg = format!("{:#}", r.unwrap_err());
        assert!(msg.contains("publishing feed notices"), "{msg}");
        assert!(
            msg.contains("cannot be represented") && !msg.contains('\u{1b}'),
            "{msg}"
        );
        let ok: Result<u8> = isolated(&id, "collecting", || Ok(7));
        assert_eq!(ok.unwrap(), 7);
    }
}
