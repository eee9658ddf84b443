//! What an upstream answer says about the account (SPEC §3.4, §3.5), pure: whether to fail
//! over and what to record. A 429 cools the account until the reset the upstream names
//! (`anthropic-ratelimit-unified-reset`, else `retry-after`, else the earliest
//! `anthropic-ratelimit-*-reset`, else `health.cooldown_429`), clamped to
//! `health.max_cooldown`; a 429 whose body asks for extra usage is the client's. 529 and the
//! listed 5xx are account failures; 401/403 reject the credential; 400/404/413/422 and every
//! other status are the client's business and change nothing.

use std::time::Duration;

use pingora::http::ResponseHeader;

/// What an answer's status means for the account and the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// Anything the client should get as it is (2xx, 400, 404, 413, 422, …).
    PassThrough,
    /// 429: rate limited (unless the body says the request needs extra usage).
    RateLimited,
    /// 500, 502, 503, 504, 529: the account failed.
    Failed,
    /// 401, 403: the credential was rejected.
    CredentialRejected,
}

/// The class of an upstream status.
pub fn classify(status: u16) -> StatusClass {
    match status {
        429 => StatusClass::RateLimited,
        500 | 502 | 503 | 504 | 529 => StatusClass::Failed,
        401 | 403 => StatusClass::CredentialRejected,
        _ => StatusClass::PassThrough,
    }
}

/// Whether a 429's body says the request itself needs extra usage (long context, overage):
/// that is about the request, not the account, so it passes through.
pub fn asks_for_extra_usage(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    text.contains("extra usage") || text.contains("overage")
}

fn header<'a>(h: &'a ResponseHeader, name: &str) -> Option<&'a str> {
    h.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// When a rate-limited account may be used again, epoch ms: the reset the upstream names,
/// else `default`, clamped to `max` (and never before a second from now).
pub fn rate_limit_until(h: &ResponseHeader, now_ms: i64, default: Duration, max: Duration) -> i64 {
    let named = header(h, "anthropic-ratelimit-unified-reset")
        .and_then(|v| v.parse::<f64>().ok())
        .map(|s| (s * 1000.0) as i64)
        .or_else(|| header(h, "retry-after").and_then(|v| retry_after_ms(v, now_ms)))
        .or_else(|| {
            h.headers
                .iter()
                .filter(|(n, _)| {
                    let n = n.as_str();
                    n.starts_with("anthropic-ratelimit-") && n.ends_with("-reset")
                })
                .filter_map(|(_, v)| v.to_str().ok())
                .filter_map(|v| chrono::DateTime::parse_from_rfc3339(v.trim()).ok())
                .map(|t| t.timestamp_millis())
                .filter(|t| *t > now_ms)
                .min()
        });
    let until = named.unwrap_or_else(|| now_ms + as_ms(default));
    until.clamp(now_ms + 1_000, now_ms + as_ms(max).max(1_000))
}

fn retry_after_ms(v: &str, now_ms: i64) -> Option<i64> {
    if let Ok(secs) = v.parse::<f64>() {
        return Some(now_ms + (secs.max(0.0) * 1000.0) as i64);
    }
    chrono::DateTime::parse_from_rfc2822(v)
        .ok()
        .map(|t| t.timestamp_millis())
}

fn as_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const NOW: i64 = 1_800_000_000_000;
    const FIVE_MIN: Duration = Duration::from_secs(300);
    const SIX_H: Duration = Duration::from_secs(6 * 3600);

    fn resp(headers: &[(&str, &str)]) -> ResponseHeader {
        let mut h = ResponseHeader::build(429, None).unwrap();
        for (k, v) in headers {
            h.append_header(k.to_string(), *v).unwrap();
        }
        h
    }

    #[test]
    fn statuses_are_classed_as_the_spec_lists() {
        for s in [200, 400, 404, 413, 422, 501] {
            assert_eq!(classify(s), StatusClass::PassThrough, "{s}");
        }
        assert_eq!(classify(429), StatusClass::RateLimited);
        for s in [500, 502, 503, 504, 529] {
            assert_eq!(classify(s), StatusClass::Failed, "{s}");
        }
        assert_eq!(classify(401), StatusClass::CredentialRejected);
        assert_eq!(classify(403), StatusClass::CredentialRejected);
    }

    #[test]
    fn the_named_reset_wins_in_order_and_is_clamped() {
        let unified = (NOW / 1000 + 3).to_string();
        let h = resp(&[
            ("anthropic-ratelimit-unified-reset", &unified),
            ("retry-after", "60"),
        ]);
        assert_eq!(rate_limit_until(&h, NOW, FIVE_MIN, SIX_H), NOW + 3_000);
        let h = resp(&[("retry-after", "60")]);
        assert_eq!(rate_limit_until(&h, NOW, FIVE_MIN, SIX_H), NOW + 60_000);
        let soon = chrono::DateTime::from_timestamp_millis(NOW + 20_000)
            .unwrap()
            .to_rfc3339();
        let later = chrono::DateTime::from_timestamp_millis(NOW + 90_000)
            .unwrap()
            .to_rfc3339();
        let h = resp(&[
            ("anthropic-ratelimit-tokens-reset", &later),
            ("anthropic-ratelimit-requests-reset", &soon),
        ]);
        assert_eq!(rate_limit_until(&h, NOW, FIVE_MIN, SIX_H), NOW + 20_000);
        assert_eq!(
            rate_limit_until(&resp(&[]), NOW, FIVE_MIN, SIX_H),
            NOW + 300_000
        );
        let days = (NOW / 1000 + 5 * 86_400).to_string();
        let h = resp(&[("anthropic-ratelimit-unified-reset", &days)]);
        assert_eq!(
            rate_limit_until(&h, NOW, FIVE_MIN, SIX_H),
            NOW + 6 * 3_600_000,
            "clamped to max_cooldown"
        );
        let past = (NOW / 1000 - 100).to_string();
        let h = resp(&[("anthropic-ratelimit-unified-reset", &past)]);
        assert_eq!(rate_limit_until(&h, NOW, FIVE_MIN, SIX_H), NOW + 1_000);
    }

    #[test]
    fn a_request_that_needs_extra_usage_is_the_clients() {
        assert!(asks_for_extra_usage(
            br#"{"error":{"message":"Extra usage is required for long context requests."}}"#
        ));
        assert!(!asks_for_extra_usage(
            br#"{"error":{"type":"rate_limit_error","message":"Number of requests has exceeded your rate limit"}}"#
        ));
    }
}
