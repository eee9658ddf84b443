//! Times in the API: stored as UTC epoch milliseconds, answered as RFC 3339 in UTC, and
//! accepted as RFC 3339, as the seed's `"YYYY-MM-DD HH:MM:SS"` in the configured time zone,
//! or as epoch milliseconds.

use chrono::{DateTime, LocalResult, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::ApiError;

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
        match self {
            Self::EpochMs(ms) => Ok(*ms),
            Self::Text(s) => parse_time(s, tz).ok_or_else(|| {
                ApiError::invalid(
                    field,
                    format!(
                        "`{field}` must be RFC 3339 (2025-12-31T23:59:59Z) or \
                         \"YYYY-MM-DD HH:MM:SS\" in the configured time zone ({tz})"
                    ),
                )
            }),
        }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
}
