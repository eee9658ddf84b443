//! Token accounting (SPEC §2.5): watches the response bytes as they pass (SSE or JSON, gzip
//! or not) and keeps the usage, the billed model and any error event. `message_start` gives
//! the input side, `message_delta` the cumulative output (assigned, never added); 5-minute and
//! 1-hour cache writes are kept apart.

use std::io::Write;

use flate2::write::GzDecoder;
use serde::Deserialize;

use crate::json_scan::TopLevelCapture;
use crate::sse::{SseEvent, SseScanner};

/// Token counts of one request (the pricing module's type).
pub use relay_shared::pricing::TokenCounts as Usage;

#[derive(Debug, Default, Deserialize)]
struct CacheCreation {
    ephemeral_5m_input_tokens: Option<u64>,
    ephemeral_1h_input_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct UsageJson {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_creation: Option<CacheCreation>,
}

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: Option<MessageStart>,
    #[serde(default)]
    usage: Option<UsageJson>,
    #[serde(default)]
    error: Option<ErrorJson>,
}

#[derive(Debug, Deserialize)]
struct MessageStart {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<UsageJson>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
struct ErrorJson {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: String,
}

enum Parser {
    Sse(SseScanner),
    Json(TopLevelCapture),
    Ignore,
}

/// Observes one response.
pub struct Accounting {
    parser: Parser,
    gzip: Option<GzDecoder<Vec<u8>>>,
    /// Usage seen so far.
    pub usage: Usage,
    /// Model named by the response (`message_start.message.model` or the JSON `model`).
    pub model: Option<String>,
    /// `error.type` of a mid-stream error event (or an error JSON body).
    pub error_type: Option<String>,
    /// Whether the final usage (`message_delta`, or the JSON `usage`) was seen.
    pub final_usage_seen: bool,
}

trait ApplyUsage {
    fn apply(&mut self, u: &UsageJson);
}

impl ApplyUsage for Usage {
    fn apply(&mut self, u: &UsageJson) {
        if let Some(v) = u.input_tokens {
            self.input = v;
        }
        if let Some(v) = u.output_tokens {
            self.output = v;
        }
        if let Some(v) = u.cache_read_input_tokens {
            self.cache_read = v;
        }
        match &u.cache_creation {
            Some(cc)
                if cc.ephemeral_5m_input_tokens.is_some()
                    || cc.ephemeral_1h_input_tokens.is_some() =>
            {
                self.cache_write_5m = cc.ephemeral_5m_input_tokens.unwrap_or(0);
                self.cache_write_1h = cc.ephemeral_1h_input_tokens.unwrap_or(0);
            }
            _ => {
                // Only the total: the default cache TTL is 5 minutes.
                if let Some(total) = u.cache_creation_input_tokens {
                    // Checked: the numbers are the upstream's, and an overflow must not panic.
                    if self.cache_write_5m.checked_add(self.cache_write_1h) != Some(total) {
                        self.cache_write_1h = self.cache_write_1h.min(total);
                        self.cache_write_5m = total - self.cache_write_1h;
                    }
                }
            }
        }
    }
}

impl Accounting {
    /// An observer for a response with these `content-type` and `content-encoding` values.
    pub fn new(content_type: &str, content_encoding: &str) -> Self {
        let ct = content_type.to_ascii_lowercase();
        let parser = if ct.starts_with("text/event-stream") {
            Parser::Sse(SseScanner::new())
        } else if ct.contains("json") {
            Parser::Json(TopLevelCapture::new())
        } else {
            Parser::Ignore
        };
        let gzip = content_encoding
            .eq_ignore_ascii_case("gzip")
            .then(|| GzDecoder::new(Vec::new()));
        Self {
            parser,
            gzip,
            usage: Usage::default(),
            model: None,
            error_type: None,
            final_usage_seen: false,
        }
    }

    /// Observes the next chunk of the response body as sent on the wire.
    pub fn observe(&mut self, chunk: &[u8]) {
        match self.gzip.as_mut() {
            Some(dec) => {
                if dec.write_all(chunk).is_err() {
                    tracing::debug!("undecodable gzip body: usage not counted past this point");
                    self.gzip = None;
                    self.parser = Parser::Ignore;
                    return;
                }
                let plain = std::mem::take(dec.get_mut());
                self.observe_plain(&plain);
                // Give the buffer back so its capacity is reused.
                if let Some(dec) = self.gzip.as_mut() {
                    let mut buf = plain;
                    buf.clear();
                    *dec.get_mut() = buf;
                }
            }
            None => self.observe_plain(chunk),
        }
    }

    fn observe_plain(&mut self, bytes: &[u8]) {
        let mut events: Vec<Envelope> = Vec::new();
        match &mut self.parser {
            Parser::Sse(scanner) => scanner.feed(bytes, |e: SseEvent<'_>| {
                if let Ok(env) = serde_json::from_slice::<Envelope>(e.data) {
                    events.push(env);
                }
            }),
            Parser::Json(capture) => capture.feed(bytes),
            Parser::Ignore => {}
        }
        for env in events {
            self.apply_event(env);
        }
    }

    fn apply_event(&mut self, env: Envelope) {
        match env.kind.as_str() {
            "message_start" => {
                if let Some(m) = env.message {
                    if let Some(model) = m.model {
                        self.model = Some(model);
                    }
                    if let Some(u) = m.usage {
                        self.usage.apply(&u);
                    }
                }
            }
            "message_delta" => {
                if let Some(u) = env.usage {
                    self.usage.apply(&u);
                    self.final_usage_seen = true;
                }
            }
            "error" => {
                self.error_type = Some(env.error.map_or_else(|| "error".into(), |e| e.kind));
            }
            _ => {}
        }
    }

    /// Completes the body: flushes the gzip decoder and reads a JSON body's captured `usage`
    /// and `model`.
    pub fn finish(&mut self) {
        if let Some(mut dec) = self.gzip.take() {
            if dec.try_finish().is_ok() {
                let rest = std::mem::take(dec.get_mut());
                self.observe_plain(&rest);
            }
        }
        if let Parser::Json(capture) = &mut self.parser {
            if let Some(raw) = capture.usage.take() {
                if let Ok(u) = serde_json::from_slice::<UsageJson>(&raw) {
                    self.usage.apply(&u);
                    self.final_usage_seen = true;
                }
            }
            if let Some(raw) = capture.model.take() {
                if let Ok(m) = serde_json::from_slice::<String>(&raw) {
                    self.model = Some(m);
                }
            }
        }
    }

    /// Whether a terminal event was seen (for draining after a client disconnect).
    pub fn complete(&self) -> bool {
        self.final_usage_seen || self.error_type.is_some()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    pub const SSE: &str = "event: message_start\n\
data: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-5-20250929\",\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":300,\"cache_read_input_tokens\":40,\"cache_creation\":{\"ephemeral_5m_input_tokens\":100,\"ephemeral_1h_input_tokens\":200},\"output_tokens\":1}}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":15}}\n\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{},\"usage\":{\"output_tokens\":30,\"input_tokens\":12}}\n\n\
event: message_stop\n\
data: {\"type\":\"message_stop\"}\n\n";

    fn expected() -> Usage {
        Usage {
            input: 12,
            output: 30,
            cache_read: 40,
            cache_write_5m: 100,
            cache_write_1h: 200,
        }
    }

    #[test]
    fn cumulative_output_is_assigned_and_cache_ttls_are_kept_apart() {
        for size in [1usize, 3, 7, 64, 10_000] {
            let mut a = Accounting::new("text/event-stream; charset=utf-8", "");
            for c in SSE.as_bytes().chunks(size) {
                a.observe(c);
            }
            a.finish();
            assert_eq!(a.usage, expected(), "chunks of {size}");
            assert_eq!(a.model.as_deref(), Some("claude-sonnet-4-5-20250929"));
            assert!(a.final_usage_seen && a.error_type.is_none());
        }
    }

    #[test]
    fn gzip_bodies_are_counted_too() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(SSE.as_bytes()).unwrap();
        let gz = enc.finish().unwrap();
        let mut a = Accounting::new("text/event-stream", "gzip");
        for c in gz.chunks(5) {
            a.observe(c);
        }
        a.finish();
        assert_eq!(a.usage, expected());

        let json = br#"{"model":"m","content":[],"usage":{"input_tokens":17,"output_tokens":19}}"#;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(json).unwrap();
        let mut a = Accounting::new("application/json", "gzip");
        a.observe(&enc.finish().unwrap());
        a.finish();
        assert_eq!((a.usage.input, a.usage.output), (17, 19));
    }

    #[test]
    fn cache_write_counts_that_overflow_when_added_do_not_panic() {
        let mut a = Accounting::new("text/event-stream", "");
        a.observe(format!("event: message_start\ndata: {{\"type\":\"message_start\",\"message\":{{\"usage\":{{\"cache_creation\":{{\"ephemeral_5m_input_tokens\":{},\"ephemeral_1h_input_tokens\":1}}}}}}}}\n\n", u64::MAX).as_bytes());
        a.observe(b"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"cache_creation_input_tokens\":5}}\n\n");
        a.finish();
        assert_eq!((a.usage.cache_write_5m, a.usage.cache_write_1h), (4, 1));
    }

    #[test]
    fn json_bodies_and_mid_stream_errors_are_read() {
        let mut a = Accounting::new("application/json", "");
        a.observe(br#"{"model":"claude-haiku-4-5","content":[],"usage":{"input_tokens":5,"cache_creation_input_tokens":8,"output_tokens":9}}"#);
        a.finish();
        assert_eq!(
            a.usage,
            Usage {
                input: 5,
                output: 9,
                cache_write_5m: 8,
                ..Usage::default()
            }
        );
        assert_eq!(a.model.as_deref(), Some("claude-haiku-4-5"));

        let mut e = Accounting::new("text/event-stream", "");
        e.observe(SSE.split("event: message_delta").next().unwrap().as_bytes());
        e.observe(b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n");
        assert_eq!(e.error_type.as_deref(), Some("overloaded_error"));
        assert_eq!(e.usage.input, 12);
        assert!(!e.final_usage_seen && e.complete());
    }
}
