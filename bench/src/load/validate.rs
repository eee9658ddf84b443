//! Checks that an answer is complete: an SSE stream has every event, starts with
//! `message_start`, carries the cumulative usage in `message_delta` and ends with
//! `message_stop`; a JSON answer is one object with `usage`. The SSE check reads chunks as
//! they come (events may straddle chunks) and keeps only the current partial line.

use memchr::memmem;

use crate::protocol::delta_events;

/// Incremental check of one SSE answer.
#[derive(Debug)]
pub struct SseCheck {
    expected_events: u32,
    expected_output_tokens: u32,
    partial: Vec<u8>,
    events: u32,
    first: Option<String>,
    last: Option<String>,
    in_message_delta: bool,
    output_tokens: Option<u64>,
}

fn output_tokens(data: &[u8]) -> Option<u64> {
    let key = b"\"output_tokens\":";
    let i = memmem::rfind(data, key)?;
    let digits: Vec<u8> = data[i + key.len()..]
        .iter()
        .skip_while(|c| c.is_ascii_whitespace())
        .take_while(|c| c.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

impl SseCheck {
    /// Expects `total_events` events (as [`crate::protocol::total_events`] counts them).
    pub fn new(total_events: u32) -> Self {
        Self {
            expected_events: total_events,
            expected_output_tokens: delta_events(total_events),
            partial: Vec::new(),
            events: 0,
            first: None,
            last: None,
            in_message_delta: false,
            output_tokens: None,
        }
    }

    fn line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(name) = line.strip_prefix(b"event:") {
            let name = String::from_utf8_lossy(name).trim().to_string();
            self.events += 1;
            self.in_message_delta = name == "message_delta";
            if self.first.is_none() {
                self.first = Some(name.clone());
            }
            self.last = Some(name);
        } else if self.in_message_delta {
            if let Some(data) = line.strip_prefix(b"data:") {
                self.output_tokens = output_tokens(data);
                self.in_message_delta = false;
            }
        }
    }

    /// Takes the next chunk of the body.
    pub fn feed(&mut self, mut chunk: &[u8]) {
        while let Some(i) = memchr::memchr(b'\n', chunk) {
            if self.partial.is_empty() {
                self.line(&chunk[..i]);
            } else {
                let mut l = std::mem::take(&mut self.partial);
                l.extend_from_slice(&chunk[..i]);
                self.line(&l);
            }
            chunk = &chunk[i + 1..];
        }
        self.partial.extend_from_slice(chunk);
    }

    /// The verdict once the body ended.
    pub fn finish(self) -> Result<(), String> {
        if self.first.as_deref() != Some("message_start") {
            return Err(format!(
                "stream starts with {:?}, not message_start",
                self.first
            ));
        }
        if self.last.as_deref() != Some("message_stop") {
            return Err(format!(
                "stream ends with {:?} after {} events, not message_stop",
                self.last, self.events
            ));
        }
        if self.events != self.expected_events {
            return Err(format!(
                "stream has {} events, {} were sent",
                self.events, self.expected_events
            ));
        }
        if self.output_tokens != Some(u64::from(self.expected_output_tokens)) {
            return Err(format!(
                "message_delta says output_tokens {:?}, expected {}",
                self.output_tokens, self.expected_output_tokens
            ));
        }
        Ok(())
    }
}

/// Checks a complete JSON answer: one object that has `usage` with `output_tokens`.
pub fn check_json(body: &[u8]) -> Result<(), String> {
    let trimmed = body.trim_ascii();
    if !(trimmed.starts_with(b"{") && trimmed.ends_with(b"}")) {
        return Err(format!(
            "answer is not one JSON object ({} bytes)",
            body.len()
        ));
    }
    let Some(u) = memmem::find(body, b"\"usage\":{") else {
        return Err("answer has no usage".into());
    };
    if output_tokens(&body[u..]).is_none() {
        return Err("answer's usage has no output_tokens".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::mock::reply::Templates;
    use crate::protocol::total_events;

    fn body(events: u32) -> Vec<u8> {
        let t = Templates::new();
        let mut raw = t.sse_head(0);
        for e in t.sse_rest(events) {
            raw.extend_from_slice(&e);
        }
        // De-chunk: keep each chunk's payload.
        let text = String::from_utf8(raw).unwrap();
        let (_, mut rest) = text.split_once("\r\n\r\n").unwrap();
        let mut out = Vec::new();
        loop {
            let (size, after) = rest.split_once("\r\n").unwrap();
            let n = usize::from_str_radix(size, 16).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&after.as_bytes()[..n]);
            rest = &after[n + 2..];
        }
        out
    }

    #[test]
    fn a_whole_stream_passes_in_any_chunking() {
        let b = body(50);
        for size in [1, 7, 64, 100_000] {
            let mut c = SseCheck::new(total_events(50));
            for piece in b.chunks(size) {
                c.feed(piece);
            }
            c.finish().unwrap();
        }
    }

    #[test]
    fn a_cut_stream_fails() {
        let b = body(50);
        let mut c = SseCheck::new(total_events(50));
        c.feed(&b[..b.len() - 40]);
        assert!(c.finish().is_err());
    }

    #[test]
    fn json_needs_usage() {
        let t = Templates::new();
        let a = t.json_answer(1);
        let text = String::from_utf8(a).unwrap();
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        check_json(body.as_bytes()).unwrap();
        assert!(check_json(b"{\"type\":\"error\"}").is_err());
        assert!(check_json(&body.as_bytes()[..body.len() - 3]).is_err());
    }
}
