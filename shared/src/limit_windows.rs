//! The spend windows of key limits (SPEC §4), pure: a day starts at midnight in the
//! configured time zone, a week on Monday at midnight there, a month on its first day there;
//! the five-hour window rolls, counted in five-minute buckets. Worked out from the date, never
//! reset by a job. Used by the relay's limiter and by the admin API's display of spend
//! against each limit.

use chrono::{Datelike, Duration as ChronoDuration, NaiveDate, TimeZone};
use chrono_tz::Tz;

/// Length of a rolling-window bucket, ms.
pub const BUCKET_MS: i64 = 5 * 60_000;
/// The rolling window, ms.
pub const FIVE_HOURS_MS: i64 = 5 * 3_600_000;
/// Buckets in the rolling window.
pub const FIVE_HOUR_BUCKETS: i64 = FIVE_HOURS_MS / BUCKET_MS;

/// A calendar window of the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    /// Since midnight (`daily_limit_usd`).
    Day,
    /// Since Monday midnight (`weekly_limit_usd`).
    Week,
    /// Since the first of the month (`monthly_limit_usd`).
    Month,
}

impl Window {
    /// Every calendar window.
    pub const ALL: [Window; 3] = [Window::Day, Window::Week, Window::Month];
}

/// One calendar window at a moment: its id (`YYYYMMDD` of its first day, or `YYYYMM`) and
/// its bounds in epoch ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Stable id of the window.
    pub id: i64,
    /// First ms of the window.
    pub start_ms: i64,
    /// First ms of the next one (the reset).
    pub end_ms: i64,
    /// The first day, `YYYY-MM-DD` order as a number pair (for roll-up queries).
    pub first_day: NaiveDate,
}

fn midnight_ms(tz: Tz, day: NaiveDate) -> i64 {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    // A midnight skipped by a DST jump starts at the first instant that exists.
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.timestamp_millis()
        }
        chrono::LocalResult::None => tz
            .from_local_datetime(&(naive + ChronoDuration::hours(1)))
            .earliest()
            .map_or(0, |t| t.timestamp_millis()),
    }
}

fn day_id(d: NaiveDate) -> i64 {
    i64::from(d.year()) * 10_000 + i64::from(d.month()) * 100 + i64::from(d.day())
}

/// The `window` holding `now_ms` in `tz`.
pub fn span(window: Window, now_ms: i64, tz: Tz) -> Span {
    let today = chrono::DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .with_timezone(&tz)
        .date_naive();
    let (first, next) = match window {
        Window::Day => (today, today.succ_opt().unwrap_or(today)),
        Window::Week => {
            let back = i64::from(today.weekday().num_days_from_monday());
            let monday = today - ChronoDuration::days(back);
            (monday, monday + ChronoDuration::days(7))
        }
        Window::Month => {
            let first = today.with_day(1).unwrap_or(today);
            let next = if first.month() == 12 {
                NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
            }
            .unwrap_or(first);
            (first, next)
        }
    };
    let id = match window {
        Window::Month => i64::from(first.year()) * 100 + i64::from(first.month()),
        _ => day_id(first),
    };
    Span {
        id,
        start_ms: midnight_ms(tz, first),
        end_ms: midnight_ms(tz, next),
        first_day: first,
    }
}

/// The rolling-window bucket holding `at_ms`.
pub fn bucket_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(BUCKET_MS)
}

/// The first bucket still inside the five-hour window at `now_ms`.
pub fn first_live_bucket(now_ms: i64) -> i64 {
    bucket_of(now_ms) - FIVE_HOUR_BUCKETS + 1
}

/// When enough of the rolling window's spend has aged out for it to be below `limit`:
/// `buckets` are (bucket, spend) pairs, oldest first. `None` when it already is.
pub fn five_hour_reset(buckets: &[(i64, i64)], limit: i64, now_ms: i64) -> Option<i64> {
    let first = first_live_bucket(now_ms);
    let mut total: i64 = buckets
        .iter()
        .filter(|(b, _)| *b >= first)
        .map(|(_, v)| v)
        .sum();
    if total < limit {
        return None;
    }
    for (b, v) in buckets.iter().filter(|(b, _)| *b >= first) {
        total -= v;
        if total < limit {
            // The bucket leaves the window when the window's first bucket passes it.
            return Some((b + FIVE_HOUR_BUCKETS) * BUCKET_MS);
        }
    }
    Some(now_ms + FIVE_HOURS_MS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn days_weeks_and_months_start_at_midnight_in_the_zone() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        // 2026-12-02T15:59:59Z is 23:59:59 on Wednesday 2 December in Shanghai.
        let before = at("2026-12-02T15:59:59Z");
        let d = span(Window::Day, before, tz);
        assert_eq!(d.id, 20261202);
        assert_eq!(
            d.end_ms,
            at("2026-12-02T16:00:00Z"),
            "the next Shanghai midnight"
        );
        let d2 = span(Window::Day, d.end_ms, tz);
        assert_eq!((d2.id, d2.start_ms), (20261203, d.end_ms));
        let w = span(Window::Week, before, tz);
        assert_eq!(w.id, 20261130, "the week began on Monday 30 November");
        assert_eq!(w.start_ms, at("2026-11-29T16:00:00Z"));
        assert_eq!(w.end_ms, at("2026-12-06T16:00:00Z"));
        let m = span(Window::Month, before, tz);
        assert_eq!((m.id, m.start_ms), (202612, at("2026-11-30T16:00:00Z")));
        let dec31 = at("2026-12-31T17:00:00Z");
        assert_eq!(span(Window::Month, dec31, tz).id, 202701);
    }

    #[test]
    fn a_day_with_a_clock_change_is_23_or_25_hours() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let d = span(Window::Day, at("2026-03-29T10:00:00Z"), tz);
        assert_eq!(d.end_ms - d.start_ms, 23 * 3_600_000);
        let d = span(Window::Day, at("2026-10-25T10:00:00Z"), tz);
        assert_eq!(d.end_ms - d.start_ms, 25 * 3_600_000);
    }

    #[test]
    fn the_rolling_window_resets_when_enough_spend_ages_out() {
        let now = 1_000 * BUCKET_MS + 100;
        let buckets = [
            (now / BUCKET_MS - 70, 500), // outside the window already
            (now / BUCKET_MS - 50, 300),
            (now / BUCKET_MS - 10, 400),
        ];
        assert_eq!(five_hour_reset(&buckets, 800, now), None, "700 < 800");
        let reset = five_hour_reset(&buckets, 500, now).unwrap();
        assert_eq!(
            reset,
            (now / BUCKET_MS - 50 + FIVE_HOUR_BUCKETS) * BUCKET_MS
        );
        assert!(reset > now && reset - now <= FIVE_HOURS_MS);
    }
}
