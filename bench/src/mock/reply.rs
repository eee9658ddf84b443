//! The bytes the mock answers with: a non-stream Messages JSON with realistic `usage`, and
//! the SSE events of a streamed answer, each framed as one HTTP/1.1 chunk.

use bytes::Bytes;

use crate::protocol::{delta_events, BODY_BYTES_HEADER, MODEL};

/// Usage reported by every answer (the SSE `message_start` and the JSON answer).
const INPUT_USAGE: &str = r#""input_tokens":1200,"cache_creation_input_tokens":100,"cache_read_input_tokens":800,"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":0}"#;

/// Pre-rendered parts that do not depend on the request.
pub struct Templates {
    json_body: Bytes,
    start: Bytes,
    block_start: Bytes,
    delta: Bytes,
    block_stop: Bytes,
}

/// Frames `payload` as one chunk of a chunked body.
fn chunk(payload: &str) -> Bytes {
    Bytes::from(format!("{:x}\r\n{payload}\r\n", payload.len()))
}

fn event(name: &str, data: &str) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

impl Templates {
    /// Renders the constant parts once.
    pub fn new() -> Self {
        let json_body = format!(
            r#"{{"id":"msg_01BenchMockAnswer000000000","type":"message","role":"assistant","model":"{MODEL}","content":[{{"type":"text","text":"Packets hop and wait; the relay keeps its count; bytes reach home at last."}}],"stop_reason":"end_turn","stop_sequence":null,"usage":{{{INPUT_USAGE},"output_tokens":64,"service_tier":"standard"}}}}"#
        );
        let start = event(
            "message_start",
            &format!(
                r#"{{"type":"message_start","message":{{"id":"msg_01BenchMockStream000000000","type":"message","role":"assistant","model":"{MODEL}","content":[],"stop_reason":null,"stop_sequence":null,"usage":{{{INPUT_USAGE},"output_tokens":1,"service_tier":"standard"}}}}}}"#
            ),
        );
        let block_start = event(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        );
        let delta = event(
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"bytes flow "}}"#,
        );
        let block_stop = event(
            "content_block_stop",
            r#"{"type":"content_block_stop","index":0}"#,
        );
        Self {
            json_body: Bytes::from(json_body),
            start: chunk(&start),
            block_start: chunk(&block_start),
            delta: chunk(&delta),
            block_stop: chunk(&block_stop),
        }
    }

    /// The whole non-stream answer (head and body) to a request of `body_bytes` bytes.
    pub fn json_answer(&self, body_bytes: usize) -> Vec<u8> {
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nrequest-id: req_bench_mock\r\n{BODY_BYTES_HEADER}: {body_bytes}\r\n\r\n",
            self.json_body.len()
        );
        let mut out = Vec::with_capacity(head.len() + self.json_body.len());
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(&self.json_body);
        out
    }

    /// The response head and the first event of a stream.
    pub fn sse_head(&self, body_bytes: usize) -> Vec<u8> {
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\nrequest-id: req_bench_mock\r\n{BODY_BYTES_HEADER}: {body_bytes}\r\n\r\n"
        );
        let mut out = Vec::with_capacity(head.len() + self.start.len());
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(&self.start);
        out
    }

    /// The events after `message_start`, in order, for a stream of `events` events; the
    /// last one carries the terminating chunk.
    pub fn sse_rest(&self, events: u32) -> Vec<Bytes> {
        let deltas = delta_events(events);
        let mut out = Vec::with_capacity(deltas as usize + 4);
        out.push(self.block_start.clone());
        for _ in 0..deltas {
            out.push(self.delta.clone());
        }
        out.push(self.block_stop.clone());
        let message_delta = event(
            "message_delta",
            &format!(
                r#"{{"type":"message_delta","delta":{{"stop_reason":"end_turn","stop_sequence":null}},"usage":{{{INPUT_USAGE},"output_tokens":{deltas}}}}}"#
            ),
        );
        out.push(chunk(&message_delta));
        let stop = event("message_stop", r#"{"type":"message_stop"}"#);
        let mut last = chunk(&stop).to_vec();
        last.extend_from_slice(b"0\r\n\r\n");
        out.push(Bytes::from(last));
        out
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::protocol::total_events;

    #[test]
    fn the_json_answer_parses_and_has_usage() {
        let t = Templates::new();
        let a = t.json_answer(10);
        let text = String::from_utf8(a).unwrap();
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["usage"]["output_tokens"], 64);
        assert!(text.contains("x-mock-request-bytes: 10\r\n"));
    }

    #[test]
    fn a_stream_has_the_asked_number_of_events() {
        let t = Templates::new();
        let rest = t.sse_rest(50);
        assert_eq!(rest.len() as u32 + 1, total_events(50));
        let last = String::from_utf8(rest.last().unwrap().to_vec()).unwrap();
        assert!(last.contains("message_stop"));
        assert!(last.ends_with("0\r\n\r\n"));
    }
}
