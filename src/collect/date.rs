//! Dates as sources write them, read into wall-clock time (or an instant, when the text carries
//! its offset). One format loop serves the site formats of a definition and the forms of
//! notice files; the feed's zone is applied later, by `normalize`. Nothing is ever rolled over
//! or guessed: `2026-02-30` is no date.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};

use crate::model::RawDate;
use crate::text::clean_text;

/// Date-time and date forms of front matter and JSON values, without an offset.
const VALUE_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
];

/// `s` in the first of `formats` that reads it whole: as a date-time, or as a date alone at
/// midnight.
pub fn wall_clock<F: AsRef<str>>(s: &str, formats: &[F]) -> Option<NaiveDateTime> {
    formats.iter().map(AsRef::as_ref).find_map(|f| {
        NaiveDateTime::parse_from_str(s, f).ok().or_else(|| {
            Some(
                NaiveDate::parse_from_str(s, f)
                    .ok()?
                    .and_time(NaiveTime::MIN),
            )
        })
    })
}

/// A site's date text in one of its formats, as wall-clock time; whitespace (also the
/// ideographic space) around and inside it is folded first.
pub fn parse_site_date(raw: &str, formats: &[String]) -> Option<NaiveDateTime> {
    wall_clock(&clean_text(raw), formats)
}

/// `dd/mm/yyyy` (also `d/m/yyyy`, `-` or `.` separators): day first, as the association writes.
pub fn parse_dmy(raw: &str) -> Option<NaiveDate> {
    let parts: Vec<&str> = raw.split(['/', '-', '.']).collect();
    if parts.len() != 3 || parts[2].len() != 4 {
        return None;
    }
    let d: u32 = parts[0].parse().ok()?;
    let m: u32 = parts[1].parse().ok()?;
    let y: i32 = parts[2].parse().ok()?;
    NaiveDate::from_ymd_opt(y, m, d)
}

/// Front-matter and JSON date values: RFC 3339 with offset, a local date-time, a date alone, or
/// the association's `dd/mm/yyyy`.
pub fn parse_date_value(raw: &str) -> Option<RawDate> {
    let s = raw.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(RawDate::Zoned(d));
    }
    wall_clock(s, VALUE_FORMATS)
        .or_else(|| parse_dmy(s).map(|d| d.and_time(NaiveTime::MIN)))
        .map(RawDate::Local)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::preset::DEFAULT_DATE_FORMATS;

    fn formats() -> Vec<String> {
        DEFAULT_DATE_FORMATS.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn site_dates_in_every_documented_form() {
        let f = formats();
        let dt = |y, m, d, h, mi| {
            NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_opt(h, mi, 0)
                .unwrap()
        };
        assert_eq!(
            parse_site_date("2026-01-23", &f),
            Some(dt(2026, 1, 23, 0, 0))
        );
        assert_eq!(
            parse_site_date("2026-01-23 10:30", &f),
            Some(dt(2026, 1, 23, 10, 30))
        );
        assert_eq!(
            parse_site_date("2026年01月23日", &f),
            Some(dt(2026, 1, 23, 0, 0))
        );
        assert_eq!(
            parse_site_date("2026/1/23", &f),
            Some(dt(2026, 1, 23, 0, 0))
        );
        assert_eq!(
            parse_site_date(" 2026-09-26 11:37 ", &f),
            Some(dt(2026, 9, 26, 11, 37))
        );
        assert_eq!(parse_site_date("2026-02-30", &f), None);
        assert_eq!(parse_site_date("明天", &f), None);
    }
}

/// Properties of the date readers: no input panics them, a date they accept is made only of
/// numbers that are in the input, and every documented form round-trips at its precision.
#[cfg(test)]
pub(crate) mod proptests {
    use super::*;
    use crate::config::preset::DEFAULT_DATE_FORMATS;
    use chrono::{Datelike as _, FixedOffset, Timelike as _};
    use proptest::prelude::*;

    /// Every run of ASCII digits in `s`, as numbers.
    pub(crate) fn numbers_in(s: &str) -> Vec<i64> {
        s.split(|c: char| !c.is_ascii_digit())
            .filter(|r| !r.is_empty())
            .filter_map(|r| r.trim_start_matches('0').parse().ok().or(Some(0)))
            .collect()
    }

    /// The date's fields are all numbers of the input; a time of day is too, unless it is
    /// midnight from a date alone.
    pub(crate) fn invents_nothing(input: &str, d: NaiveDateTime) -> Result<(), TestCaseError> {
        let n = numbers_in(input);
        for (what, v) in [
            ("year", i64::from(d.year())),
            ("month", i64::from(d.month())),
            ("day", i64::from(d.day())),
        ] {
            prop_assert!(n.contains(&v), "{what} {v} not in `{input}` ({n:?})");
        }
        if d.time() != NaiveTime::MIN {
            for (what, v) in [("hour", d.hour()), ("minute", d.minute())] {
                prop_assert!(
                    n.contains(&i64::from(v)),
                    "{what} {v} not in `{input}` ({n:?})"
                );
            }
        }
        Ok(())
    }

    /// Strings shaped like dates, so the parsers' accepting paths are exercised, not only
    /// their first refusal.
    pub(crate) fn date_like() -> impl Strategy<Value = String> {
        proptest::string::string_regex(
            "[ \t]?[0-9]{1,5}[-/. ][0-9]{1,3}[-/. ][0-9]{1,5}([T ][0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2}(\\.[0-9]{1,9})?)?)?(Z|[+-][0-9]{2}:[0-9]{2})?[ ]?",
        )
        .expect("valid regex")
    }

    /// Strings shaped like the dates of Chinese sites.
    pub(crate) fn site_date_like() -> impl Strategy<Value = String> {
        proptest::string::string_regex(
            "[ 　\\t]?[0-9]{1,5}[-/.年][0-9]{1,3}[-/.月][0-9]{1,3}日?( [0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2})?)?[ 　]?",
        )
        .expect("valid regex")
    }

    fn datetime() -> impl Strategy<Value = NaiveDateTime> {
        (
            1970i32..=9999,
            1u32..=12,
            1u32..=31,
            0u32..24,
            0u32..60,
            0u32..60,
        )
            .prop_filter_map("a real day", |(y, m, d, h, mi, s)| {
                NaiveDate::from_ymd_opt(y, m, d)?.and_hms_opt(h, mi, s)
            })
    }

    fn site_formats() -> Vec<String> {
        DEFAULT_DATE_FORMATS.iter().map(|s| s.to_string()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn date_values_never_panic_and_invent_nothing(
            raw in prop_oneof![any::<String>(), date_like()]
        ) {
            match parse_date_value(&raw) {
                None | Some(RawDate::Absent | RawDate::Unreadable { .. }) => {}
                Some(RawDate::Local(d)) => invents_nothing(&raw, d)?,
                Some(RawDate::Zoned(d)) => invents_nothing(&raw, d.naive_local())?,
            }
        }

        #[test]
        fn every_accepted_form_round_trips(
            d in datetime(),
            offset_quarters in -48i32..=56,
        ) {
            let minute = d.with_second(0).unwrap_or(d);
            let midnight = d.date().and_time(NaiveTime::MIN);
            let local = |fmt: &str, want: NaiveDateTime| -> Result<(), TestCaseError> {
                let s = d.format(fmt).to_string();
                prop_assert_eq!(parse_date_value(&s), Some(RawDate::Local(want)), "{}", s);
                Ok(())
            };
            local("%Y-%m-%dT%H:%M:%S", d)?;
            local("%Y-%m-%d %H:%M:%S", d)?;
            local("%Y-%m-%dT%H:%M", minute)?;
            local("%Y-%m-%d %H:%M", minute)?;
            local("%Y-%m-%d", midnight)?;
            for fmt in ["%d/%m/%Y", "%-d/%-m/%Y", "%d-%m-%Y", "%d.%m.%Y"] {
                local(fmt, midnight)?;
                let s = d.format(fmt).to_string();
                prop_assert_eq!(parse_dmy(&s), Some(d.date()), "{}", s);
            }
            let offset = FixedOffset::east_opt(offset_quarters * 15 * 60).expect("in range");
            if let Some(zoned) = d.and_local_timezone(offset).single() {
                let s = zoned.to_rfc3339();
                prop_assert_eq!(parse_date_value(&s), Some(RawDate::Zoned(zoned)), "{}", s);
            }
        }

        #[test]
        fn site_dates_never_panic_and_invent_nothing(
            raw in prop_oneof![any::<String>(), site_date_like()]
        ) {
            if let Some(d) = parse_site_date(&raw, &site_formats()) {
                invents_nothing(&raw, d)?;
            }
        }

        #[test]
        fn every_default_site_form_round_trips(
            (y, m, d, h, mi, s) in (1970i32..=9999, 1u32..=12, 1u32..=28, 0u32..24, 0u32..60, 0u32..60)
        ) {
            let at = NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(h, mi, s).unwrap();
            for f in DEFAULT_DATE_FORMATS {
                let want = if f.contains("%S") {
                    at
                } else if f.contains("%M") {
                    at.with_second(0).unwrap()
                } else {
                    at.date().and_time(NaiveTime::MIN)
                };
                let text = at.format(f).to_string();
                prop_assert_eq!(parse_site_date(&text, &site_formats()), Some(want), "{} {}", f, text);
            }
        }
    }
}
