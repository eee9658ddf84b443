//! What the mock upstream and the load generator agree on: the request query that asks for a
//! stream shape, the response header that echoes the request body size, and the SSE event
//! sequence of one answer.

/// Response header in which the mock reports how many request body bytes it received.
pub const BODY_BYTES_HEADER: &str = "x-mock-request-bytes";

/// Model named in every request and answer.
pub const MODEL: &str = "claude-sonnet-4-5-20250929";

/// Fewest events of a stream: `message_start`, `content_block_start`, one
/// `content_block_delta`, `content_block_stop`, `message_delta`, `message_stop`.
pub const MIN_EVENTS: u32 = 6;

/// Total SSE events the mock sends when asked for `events`.
pub fn total_events(events: u32) -> u32 {
    events.max(MIN_EVENTS)
}

/// `content_block_delta` events among `total_events(events)`; also the final
/// cumulative `output_tokens`.
pub fn delta_events(events: u32) -> u32 {
    total_events(events) - (MIN_EVENTS - 1)
}

/// The path and query of a request asking for `events` SSE events spaced by `interval_ms`.
pub fn messages_path(events: u32, interval_ms: u64) -> String {
    format!("/v1/messages?beta=true&events={events}&interval_ms={interval_ms}")
}

/// Stream shape read from a query string; missing values take the defaults (50 events, no
/// pause).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamShape {
    /// Events asked for (see [`total_events`]).
    pub events: u32,
    /// Pause before every event after the first, in milliseconds.
    pub interval_ms: u64,
}

impl Default for StreamShape {
    fn default() -> Self {
        Self {
            events: 50,
            interval_ms: 0,
        }
    }
}

impl StreamShape {
    /// Parses `events` and `interval_ms` out of a request target (`/path?a=b&c=d`).
    pub fn from_target(target: &str) -> Self {
        let mut shape = Self::default();
        let Some((_, query)) = target.split_once('?') else {
            return shape;
        };
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("events", v)) => shape.events = v.parse().unwrap_or(shape.events),
                Some(("interval_ms", v)) => {
                    shape.interval_ms = v.parse().unwrap_or(shape.interval_ms)
                }
                _ => {}
            }
        }
        shape
    }
}

/// A small, realistic Messages API request body (about 600 bytes).
pub fn small_body(stream: bool) -> Vec<u8> {
    padded_body(stream, 0)
}

/// A request body whose user message carries `pad` extra bytes of text.
pub fn padded_body(stream: bool, pad: usize) -> Vec<u8> {
    let filler: String = "lorem ipsum dolor sit amet "
        .chars()
        .cycle()
        .take(pad)
        .collect();
    let body = serde_json::json!({
        "model": MODEL,
        "max_tokens": 1024,
        "stream": stream,
        "metadata": {"user_id": "user_0123456789abcdef_account__session_6c0f8f51-1f2b-4a37-9a59-5b2a0c7f1d10"},
        "system": [{"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": format!("Write a haiku about proxies. {filler}")}]}
        ],
    });
    body.to_string().into_bytes()
}

/// Body size of the "large body" scenario (256 KiB).
pub const LARGE_BODY_BYTES: usize = 256 * 1024;

/// A non-stream request body of exactly [`LARGE_BODY_BYTES`] bytes.
pub fn large_body() -> Vec<u8> {
    let base = padded_body(false, 0).len();
    let body = padded_body(false, LARGE_BODY_BYTES.saturating_sub(base));
    debug_assert_eq!(body.len(), LARGE_BODY_BYTES);
    body
}

/// The Claude Code session id the relays are sent (one session: every request reads, and
/// renews, its pin to the one account).
pub const SESSION_ID: &str = "0f6c1c7e-bench-4a53-9d1e-5e55c0de0001";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn shapes_parse_from_the_query() {
        let s = StreamShape::from_target(&messages_path(11, 1000));
        assert_eq!(s.events, 11);
        assert_eq!(s.interval_ms, 1000);
        assert_eq!(
            StreamShape::from_target("/v1/messages"),
            StreamShape::default()
        );
    }

    #[test]
    fn event_counts_have_a_floor() {
        assert_eq!(total_events(1), 6);
        assert_eq!(delta_events(1), 1);
        assert_eq!(total_events(50), 50);
        assert_eq!(delta_events(50), 45);
    }

    #[test]
    fn the_large_body_is_exactly_256_kib() {
        assert_eq!(large_body().len(), LARGE_BODY_BYTES);
        let v: serde_json::Value = serde_json::from_slice(&large_body()).unwrap();
        assert_eq!(v["stream"], false);
    }
}
