//! When to try again and how long to wait first. Pure, so every branch is a unit test and the
//! client's loop stays a plain `loop`.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;

/// What went wrong with one attempt, as far as retrying cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Trouble {
    /// The server answered with this status (never a success or a redirect here).
    Status(StatusCode),
    /// The server took the connection but no answer (headers and body) came within the
    /// attempt's timeout.
    Timeout,
    /// No connection at all: the name does not resolve, the port refuses, or the connect timed
    /// out. A fact about the host rather than the request.
    Unreachable,
    /// Connection refused or reset, or a body cut off mid-stream: the next try may well work.
    Transport,
    /// Trying again would give the same answer (body over the cap, unreadable mirror file).
    Permanent,
}

/// Only what can recover is retried: a server error or overload (5xx, 408, 429) may pass, another
/// 4xx is the server telling us the request itself is wrong, and asking again would only add load.
pub fn should_retry(status: StatusCode) -> bool {
    status.is_server_error()
        || matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT
        )
}

/// The verdict after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Plan {
    /// Report the failure now.
    GiveUp,
    /// Sleep this long, then try again.
    Wait(Duration),
    /// The server asked for a pause longer than we are willing to sleep: retrying sooner would be
    /// rude and likely refused again, so the failure is reported with the asked-for wait.
    TooLong(Duration),
}

/// What the retry loop needs to know besides the failure itself.
#[derive(Debug, Clone, Copy)]
pub(super) struct Policy {
    pub max_attempts: u32,
    /// Attempts for a timeout or an unreachable host, the first included (at most
    /// `max_attempts`): waiting again for a server that did not answer costs a whole timeout
    /// per try, so one more chance is all it gets.
    pub max_host_attempts: u32,
    pub backoff_base: Duration,
    pub retry_after_cap: Duration,
}

/// Decides after attempt number `attempt` (1-based) failed with `trouble`. `retry_after` is the
/// server's own `Retry-After`, already parsed; `jitter` is a number in `[0, 1)` (random in the
/// client, fixed in tests) that spreads retries of many clients apart.
pub(super) fn plan(
    trouble: Trouble,
    attempt: u32,
    retry_after: Option<Duration>,
    policy: &Policy,
    jitter: f64,
) -> Plan {
    let limit = match trouble {
        Trouble::Status(s) if should_retry(s) => policy.max_attempts,
        Trouble::Transport => policy.max_attempts,
        Trouble::Timeout | Trouble::Unreachable => {
            policy.max_host_attempts.min(policy.max_attempts)
        }
        Trouble::Status(_) | Trouble::Permanent => 0,
    };
    if attempt >= limit {
        return Plan::GiveUp;
    }
    let backoff = backoff(policy.backoff_base, attempt, jitter).min(policy.retry_after_cap);
    match retry_after {
        Some(asked) if asked > policy.retry_after_cap => Plan::TooLong(asked),
        Some(asked) => Plan::Wait(asked.max(backoff)),
        None => Plan::Wait(backoff),
    }
}

/// Exponential backoff with jitter: `base * 2^(attempt-1)`, scaled into `[0.5, 1.5)` of itself so
/// that clients which failed together do not come back together.
pub(super) fn backoff(base: Duration, attempt: u32, jitter: f64) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    let exp = base.saturating_mul(1u32 << doublings);
    exp.mul_f64(0.5 + jitter.clamp(0.0, 1.0))
}

/// `Retry-After` is either delay-seconds or an HTTP-date (RFC 9110 §10.2.3). A date in the past
/// means "now"; anything unreadable is ignored rather than trusted.
pub(super) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is an RFC 2822 date; the obsolete RFC 850 and
    // asctime forms are not worth a dependency.
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let when = SystemTime::from(when.with_timezone(&chrono::Utc));
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Policy = Policy {
        max_attempts: 4,
        max_host_attempts: 2,
        backoff_base: Duration::from_millis(500),
        retry_after_cap: Duration::from_secs(120),
    };

    #[test]
    fn retries_only_what_can_recover() {
        for code in [500, 502, 503, 504, 408, 429] {
            assert!(should_retry(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [400, 401, 403, 404, 410, 451] {
            assert!(!should_retry(StatusCode::from_u16(code).unwrap()), "{code}");
        }
    }

    #[test]
    fn plan_bounds_attempts_and_skips_permanent_failures() {
        let t = Trouble::Status(StatusCode::INTERNAL_SERVER_ERROR);
        assert!(matches!(plan(t, 1, None, &POLICY, 0.5), Plan::Wait(_)));
        assert!(matches!(plan(t, 3, None, &POLICY, 0.5), Plan::Wait(_)));
        assert_eq!(plan(t, 4, None, &POLICY, 0.5), Plan::GiveUp);
        let nf = Trouble::Status(StatusCode::NOT_FOUND);
        assert_eq!(plan(nf, 1, None, &POLICY, 0.5), Plan::GiveUp);
        assert_eq!(
            plan(Trouble::Permanent, 1, None, &POLICY, 0.5),
            Plan::GiveUp
        );
        assert!(matches!(
            plan(Trouble::Timeout, 1, None, &POLICY, 0.5),
            Plan::Wait(_)
        ));
        // A timeout or an unreachable host gets one more try, not three.
        assert_eq!(plan(Trouble::Timeout, 2, None, &POLICY, 0.5), Plan::GiveUp);
        assert!(matches!(
            plan(Trouble::Unreachable, 1, None, &POLICY, 0.5),
            Plan::Wait(_)
        ));
        assert_eq!(
            plan(Trouble::Unreachable, 2, None, &POLICY, 0.5),
            Plan::GiveUp
        );
        assert!(matches!(
            plan(Trouble::Transport, 2, None, &POLICY, 0.5),
            Plan::Wait(_)
        ));
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let t = Trouble::Status(StatusCode::TOO_MANY_REQUESTS);
        let asked = Some(Duration::from_secs(7));
        assert_eq!(
            plan(t, 1, asked, &POLICY, 0.5),
            Plan::Wait(Duration::from_secs(7))
        );
        // The backoff still applies when the server asks for less.
        let tiny = Some(Duration::ZERO);
        assert_eq!(
            plan(t, 1, tiny, &POLICY, 0.5),
            Plan::Wait(Duration::from_millis(500))
        );
        let long = Some(Duration::from_secs(3600));
        assert_eq!(
            plan(t, 1, long, &POLICY, 0.5),
            Plan::TooLong(Duration::from_secs(3600))
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_around_it() {
        let base = Duration::from_millis(100);
        assert_eq!(backoff(base, 1, 0.5), Duration::from_millis(100));
        assert_eq!(backoff(base, 2, 0.5), Duration::from_millis(200));
        assert_eq!(backoff(base, 3, 0.5), Duration::from_millis(400));
        assert_eq!(backoff(base, 3, 0.0), Duration::from_millis(200));
        assert!(backoff(base, 3, 0.999) < Duration::from_millis(600));
        // Absurd attempt numbers neither overflow nor panic.
        assert!(backoff(base, 1000, 0.5) > Duration::ZERO);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // 1994-11-06 08:49:37Z
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
