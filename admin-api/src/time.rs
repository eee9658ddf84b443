//! Times in the API: stored as UTC epoch milliseconds, answered as RFC 3339 in UTC, and
//! accepted as RFC 3339, as the seed's `"YYYY-MM-DD HH:MM:SS"` in the configured time zone,
//! or as epoch milliseconds. Every accepted time lies between [`MIN_MS`] and [`MAX_MS`]
//! (1970 to the end of 9999), so that arithmetic on it cannot overflow and it can always be
//! written back as RFC 3339; anything else is a 400 naming the field.

use chrono::{
    DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeZone, Utc,
};
use chrono_tz::Tz;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::ApiError;

/// Earliest time accepted: 1970-01-01T00:00:00Z.
pub const MIN_MS: i64 = 0;
/// Latest time accepted: 9999-12-31T23:59:59.999Z.
pub const MAX_MS: i64 = 253_402_300_799_999;

/// `ms` if it lies in the accepted range, else a 400 naming `field`.
pub fn in_range(field: &str, ms: i64) -> Result<i64, ApiError> {
    if (MIN_MS..=MAX_MS).contains(&ms) {
        Ok(ms)
    } else {
        Err(out_of_range(field))
    }
}

fn out_of_range(field: &str) -> ApiError {
    ApiError::invalid(
        field,
        format!("`{field}` is out of range; times lie between 1970-01-01 and 9999-12-31 (UTC)"),
    )
}

fn day_in_range(field: &str, day: NaiveDate) -> Result<NaiveDate, ApiError> {
    let ms = day.and_time(NaiveTime::MIN).and_utc().timestamp_millis();
    in_range(field, ms).map(|_| day)
}

/// Formats epoch milliseconds as RFC 3339 UTC (`2025-12-31T15:59:59Z`).
pub fn rfc3339(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms) {
        LocalResult::Single(t) => t.to_rfc3339_opts(SecondsFormat::Secs, true),
        _ => String::new(),
    }
}

/// [`rfc3339`] of an optional time.
pub fn rfc3339_opt(ms: Option<i64>) -> Option<String> {
    ms.map(rfc3339)
}

/// A point in time as a client may write it: RFC 3339 text, `"YYYY-MM-DD HH:MM:SS"` in the
/// configured time zone, or epoch milliseconds.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TimeInput {
    /// RFC 3339 (`2025-12-31T23:59:59+08:00`) or `YYYY-MM-DD HH:MM:SS` (configured zone).
    Text(String),
    /// Epoch milliseconds.
    EpochMs(i64),
}

impl TimeInput {
    /// The time as epoch milliseconds; `field` names the field in the error.
    pub fn to_ms(&self, tz: Tz, field: &str) -> Result<i64, ApiError> {
        let ms = match self {
            Self::EpochMs(ms) => *ms,
            Self::Text(s) => parse_time(s, tz).ok_or_else(|| {
                ApiError::invalid(
                    field,
                    format!(
                        "`{field}` must be RFC 3339 (2025-12-31T23:59:59Z) or \
                         \"YYYY-MM-DD HH:MM:SS\" in the configured time zone ({tz})"
                    ),
                )
            })?,
        };
        in_range(field, ms)
    }
}

/// Parses RFC 3339, or a local date-time (`YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DDTHH:MM:SS`,
/// seconds optional) in `tz`. A local time that a DST change skips is refused; one that it
/// repeats takes the earlier instant.
pub fn parse_time(s: &str, tz: Tz) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    const FORMATS: [&str; 4] = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ];
    let naive = FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.timestamp_millis())
}

/// A time given in a query string (`from`, `to`): RFC 3339, `"YYYY-MM-DD HH:MM:SS"` or
/// `"YYYY-MM-DD"` (midnight) in `tz`, or epoch milliseconds; `field` names it in the error.
pub fn query_time(field: &str, value: &str, tz: Tz) -> Result<i64, ApiError> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return v
            .parse::<i64>()
            .map_err(|_| out_of_range(field))
            .and_then(|ms| in_range(field, ms));
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return day_in_range(field, d).map(|d| midnight_ms(d, tz));
    }
    let ms = parse_time(v, tz).ok_or_else(|| {
        ApiError::invalid(
            field,
            format!(
                "`{field}` must be RFC 3339 (2025-12-31T23:59:59Z), \"YYYY-MM-DD HH:MM:SS\" or \
                 \"YYYY-MM-DD\" in the configured time zone ({tz}), or epoch milliseconds"
            ),
        )
    })?;
    in_range(field, ms)
}

/// A day given in a query string: `"YYYY-MM-DD"`, or any time [`query_time`] accepts (its
/// date in `tz`).
pub fn query_day(field: &str, value: &str, tz: Tz) -> Result<NaiveDate, ApiError> {
    if let Ok(d) = NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d") {
        return day_in_range(field, d);
    }
    let ms = query_time(field, value, tz)?;
    date_of(ms, tz).ok_or_else(|| ApiError::invalid(field, format!("`{field}` is out of range")))
}

/// The calendar date of `ms` in `tz`.
pub fn date_of(ms: i64, tz: Tz) -> Option<NaiveDate> {
    DateTime::from_timestamp_millis(ms).map(|t| t.with_timezone(&tz).date_naive())
}

/// Today's date in `tz`.
pub fn today(tz: Tz) -> NaiveDate {
    Utc::now().with_timezone(&tz).date_naive()
}

/// The first instant of `day` in `tz`, epoch ms (when a DST change skips midnight, the first
/// instant that exists that day).
pub fn midnight_ms(day: NaiveDate, tz: Tz) -> i64 {
    let mut t = day.and_time(NaiveTime::MIN);
    for _ in 0..4 {
        if let Some(z) = tz.from_local_datetime(&t).earliest() {
            return z.timestamp_millis();
        }
        t += chrono::Duration::minutes(30);
    }
    day.and_time(NaiveTime::MIN).and_utc().timestamp_millis()
}

/// `YYYY-MM-DD`, the spelling of days in the roll-ups and the API.
pub fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn times_out_of_range_are_400s_naming_the_field() {
        let sh: Tz = "Asia/Shanghai".parse().unwrap();
        for v in [
            "-262143-01-01",
            "+262142-12-31",
            "262142-12-31",
            "10000-01-01",
            "1969-12-31",
            "99999999999999999999",
            "9223372036854775807",
            "253402300800000",
            "-262143-01-01T00:00:00Z",
            "+10000-01-02 00:00:00",
        ] {
            for f in [
                query_time as fn(&str, &str, Tz) -> Result<i64, ApiError>,
                |f, v, tz| query_day(f, v, tz).map(|_| 0),
            ] {
                match f("to", v, sh) {
                    Err(ApiError::Invalid { field, .. }) => {
                        assert_eq!(field.as_deref(), Some("to"))
                    }
                    other => panic!("{v}: {other:?}"),
                }
            }
        }
        assert_eq!(query_time("to", "253402300799999", sh).unwrap(), MAX_MS);
        assert!(query_day("to", "9999-12-31", sh).is_ok());
        for t in [
            TimeInput::EpochMs(i64::MAX),
            TimeInput::EpochMs(-1),
            TimeInput::Text("+99999-01-01T00:00:00Z".into()),
        ] {
            assert!(t.to_ms(sh, "expires_at").is_err(), "{t:?}");
        }
        assert!(!rfc3339(MAX_MS).is_empty());
    }

    #[test]
    fn seed_format_is_read_in_the_configured_zone() {
        let sh: Tz = "Asia/Shanghai".parse().unwrap();
        let ms = parse_time("2025-12-31 23:59:59", sh).unwrap();
        assert_eq!(rfc3339(ms), "2025-12-31T15:59:59Z");
        assert_eq!(parse_time("2025-12-31T15:59:59Z", sh), Some(ms));
        assert_eq!(parse_time("2025-12-31T23:59:59+08:00", sh), Some(ms));
        assert_eq!(parse_time("31/12/2025", sh), None);
        let ny: Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            parse_time("2025-03-09 02:30:00", ny),
            None,
            "skipped by DST"
        );
    }

    #[test]
    fn query_times_and_days_accept_dates_times_and_epoch_ms() {
        let sh: Tz = "Asia/Shanghai".parse().unwrap();
        let midnight = query_time("from", "2026-01-02", sh).unwrap();
        assert_eq!(rfc3339(midnight), "2026-01-01T16:00:00Z");
        assert_eq!(
            query_time("from", "1767225600000", sh).unwrap(),
            1_767_225_600_000
        );
        assert_eq!(
            query_time("to", "2026-01-02 08:00:00", sh).unwrap(),
            midnight + 8 * 3_600_000
        );
        assert!(query_time("to", "yesterday", sh).is_err());
        let d = query_day("from", "2026-01-01T17:00:00Z", sh).unwrap();
        assert_eq!(day_text(d), "2026-01-02");
        assert_eq!(
            day_text(query_day("from", "2026-03-04", sh).unwrap()),
            "2026-03-04"
        );
        assert_eq!(date_of(midnight, sh), Some(d));
        let sp: Tz = "America/Sao_Paulo".parse().unwrap();
        // 2018-11-04 began at 01:00 in São Paulo (midnight was skipped).
        let day = NaiveDate::from_ymd_opt(2018, 11, 4).unwrap();
        assert_eq!(rfc3339(midnight_ms(day, sp)), "2018-11-04T03:00:00Z");
    }
}
