//! An incremental scanner for a non-streaming JSON response that keeps only the values of
//! the top-level keys `usage` and `model` (SPEC §2.5), so the body is forwarded chunk by chunk
//! and never held: the message content is walked over, not copied.

/// Largest captured value; larger ones are dropped.
const MAX_CAPTURE: usize = 64 * 1024;
const MAX_KEY: usize = 16;

/// The bytes [`TopLevelCapture::byte`] decides on outside strings.
const STRUCTURAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    let s = b"\"{}[],:";
    while i < s.len() {
        t[s[i] as usize] = true;
        i += 1;
    }
    t
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Usage,
    Model,
}

/// Captures the top-level `usage` and `model` values of a JSON object fed in pieces.
#[derive(Debug, Default)]
pub struct TopLevelCapture {
    depth: u32,
    in_str: bool,
    escaped: bool,
    reading_key: bool,
    expect_key: bool,
    key: Vec<u8>,
    pending: Option<Target>,
    capturing: Option<Target>,
    capture_depth: u32,
    buf: Vec<u8>,
    /// The raw JSON of `usage`, once complete.
    pub usage: Option<Vec<u8>>,
    /// The raw JSON of `model` (a quoted string), once complete.
    pub model: Option<Vec<u8>>,
}

impl TopLevelCapture {
    /// A scanner at the start of a body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next piece of the body.
    pub fn feed(&mut self, chunk: &[u8]) {
        let mut i = 0;
        while let Some(&b) = chunk.get(i) {
            let rest = &chunk[i..];
            // Runs that need no decision are taken whole: the inside of a string value (most
            // of a message) up to its next quote or backslash, and outside strings the bytes
            // of numbers, literals and white space up to the next structural character.
            let run = if self.in_str {
                if self.escaped || self.reading_key {
                    0
                } else {
                    memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len())
                }
            } else if self.pending.is_none() {
                rest.iter()
                    .position(|&c| STRUCTURAL[usize::from(c)])
                    .unwrap_or(rest.len())
            } else {
                0
            };
            if run > 0 {
                self.push_slice(&rest[..run]);
                i += run;
                continue;
            }
            self.byte(b);
            i += 1;
        }
    }

    /// [`Self::push`] for several bytes at once.
    fn push_slice(&mut self, s: &[u8]) {
        if self.capturing.is_some() {
            if self.buf.len() + s.len() <= MAX_CAPTURE {
                self.buf.extend_from_slice(s);
            } else {
                self.capturing = None;
                self.buf.clear();
            }
        }
    }

    fn push(&mut self, b: u8) {
        if self.capturing.is_some() {
            if self.buf.len() < MAX_CAPTURE {
                self.buf.push(b);
            } else {
                self.capturing = None;
                self.buf.clear();
            }
        }
    }

    fn finish_capture(&mut self) {
        if let Some(t) = self.capturing.take() {
            let v = std::mem::take(&mut self.buf);
            match t {
                Target::Usage => self.usage = Some(v),
                Target::Model => self.model = Some(v),
            }
        }
    }

    fn start_capture_if_pending(&mut self) {
        if let Some(t) = self.pending.take() {
            self.capturing = Some(t);
            self.capture_depth = self.depth;
            self.buf.clear();
            self.buf.reserve(256);
        }
    }

    fn byte(&mut self, b: u8) {
        if self.in_str {
            self.push(b);
            if self.reading_key && !self.escaped && b != b'"' && self.key.len() <= MAX_KEY {
                self.key.push(b);
            }
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_str = false;
                if self.reading_key {
                    self.reading_key = false;
                } else if self.capturing.is_some() && self.depth == self.capture_depth {
                    self.finish_capture();
                }
            }
            return;
        }
        match b {
            b'"' => {
                if self.depth == 1 && self.expect_key {
                    self.reading_key = true;
                    self.expect_key = false;
                    self.key.clear();
                } else {
                    self.start_capture_if_pending();
                }
                self.in_str = true;
                self.push(b);
            }
            b':' if self.depth == 1 && self.capturing.is_none() => {
                self.pending = match self.key.as_slice() {
                    b"usage" => Some(Target::Usage),
                    b"model" => Some(Target::Model),
                    _ => None,
                };
            }
            b'{' | b'[' => {
                self.start_capture_if_pending();
                self.push(b);
                self.depth += 1;
                if self.depth == 1 {
                    self.expect_key = true;
                }
            }
            b'}' | b']' => {
                if self.capturing.is_some() && self.depth == self.capture_depth + 1 {
                    self.push(b);
                    self.depth = self.depth.saturating_sub(1);
                    self.finish_capture();
                    return;
                }
                if self.capturing.is_some() && self.depth == self.capture_depth {
                    // A scalar value ended by the closing brace.
                    self.finish_capture();
                }
                self.push(b);
                self.depth = self.depth.saturating_sub(1);
            }
            b',' => {
                if self.capturing.is_some() && self.depth == self.capture_depth {
                    self.finish_capture();
                }
                self.push(b);
                if self.depth == 1 {
                    self.expect_key = true;
                }
            }
            b' ' | b'\n' | b'\r' | b'\t' => self.push(b),
            _ => {
                self.start_capture_if_pending();
                self.push(b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const BODY: &str = r#"{"model":"claude-sonnet-4-5-20250929","id":"msg_01","type":"message","role":"assistant",
 "content":[{"type":"text","text":"a \"usage\": {\"input_tokens\": 999} } ] model"}],
 "stop_reason":"end_turn","stop_sequence":null,
 "usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,
          "cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},
          "output_tokens":30,"service_tier":"standard"}}"#;

    fn check(c: &TopLevelCapture) {
        let usage: serde_json::Value = serde_json::from_slice(c.usage.as_ref().unwrap()).unwrap();
        assert_eq!(usage["input_tokens"], 12);
        assert_eq!(usage["output_tokens"], 30);
        assert_eq!(usage["cache_creation"]["ephemeral_1h_input_tokens"], 0);
        let model: String = serde_json::from_slice(c.model.as_ref().unwrap()).unwrap();
        assert_eq!(model, "claude-sonnet-4-5-20250929");
    }

    #[test]
    fn usage_and_model_are_captured_even_with_decoys_in_the_content() {
        let mut c = TopLevelCapture::new();
        c.feed(BODY.as_bytes());
        check(&c);
    }

    #[test]
    fn any_split_of_the_body_gives_the_same_capture() {
        let bytes = BODY.as_bytes();
        for cut in 0..bytes.len() {
            let mut c = TopLevelCapture::new();
            c.feed(&bytes[..cut]);
            c.feed(&bytes[cut..]);
            check(&c);
        }
    }

    #[test]
    fn scalar_values_ending_the_object_are_captured() {
        let mut c = TopLevelCapture::new();
        c.feed(br#"{"usage":{"output_tokens":1},"model":"m"}"#);
        assert_eq!(c.model.as_deref(), Some(&br#""m""#[..]));
        let mut c = TopLevelCapture::new();
        c.feed(br#"{"type":"error","error":{"type":"overloaded_error","message":"x"}}"#);
        assert!(c.usage.is_none() && c.model.is_none());
    }
}
