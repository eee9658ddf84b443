//! An incremental Server-Sent Events scanner (SPEC §2.5) that observes the bytes on their way
//! to the client without holding the stream: events may straddle chunks at any byte, lines end
//! in `\n`, `\r\n` or `\r`. Only the data of events that carry usage or errors
//! (`message_start`, `message_delta`, `error`) is kept, up to [`MAX_EVENT_DATA`]; everything
//! else is skipped byte by byte without being copied.

/// Largest `data` kept for one interesting event; longer ones are dropped (never seen in
/// practice: usage events are a few hundred bytes).
pub const MAX_EVENT_DATA: usize = 256 * 1024;

/// An event worth parsing, with its raw `data` (lines joined by `\n`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent<'a> {
    /// The `event:` name, or `""` when the event had none.
    pub name: &'a str,
    /// The `data` payload.
    pub data: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// At the start of a line.
    Start,
    /// Inside the field name of a line; `field` holds it so far.
    Field,
    /// Inside the value of a `data` line that is kept.
    KeepData,
    /// Inside the value of an `event` line.
    EventName,
    /// Inside a line whose rest is ignored.
    Skip,
}

/// The scanner's state between chunks.
#[derive(Debug)]
pub struct SseScanner {
    line: Line,
    after_cr: bool,
    /// Whether the value's first byte (an optional space) is still to come.
    value_start: bool,
    field: Vec<u8>,
    name: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
    /// Whether some of the event's data was not kept (past [`MAX_EVENT_DATA`], or sent while
    /// the event's name was not one worth keeping): such an event is not reported.
    overflow: bool,
}

impl Default for SseScanner {
    fn default() -> Self {
        Self::new()
    }
}

fn interesting(name: &[u8]) -> bool {
    matches!(name, b"message_start" | b"message_delta" | b"error" | b"")
}

impl SseScanner {
    /// A scanner at the start of a stream.
    pub fn new() -> Self {
        Self {
            line: Line::Start,
            after_cr: false,
            value_start: false,
            field: Vec::with_capacity(8),
            name: Vec::with_capacity(24),
            data: Vec::new(),
            has_data: false,
            overflow: false,
        }
    }

    /// Feeds the next chunk; `on_event` is called for each complete interesting event.
    pub fn feed(&mut self, chunk: &[u8], mut on_event: impl FnMut(SseEvent<'_>)) {
        let mut i = 0;
        while i < chunk.len() {
            let b = chunk[i];
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    i += 1;
                    continue;
                }
            }
            if b == b'\n' || b == b'\r' {
                self.after_cr = b == b'\r';
                self.end_line(&mut on_event);
                i += 1;
                continue;
            }
            match self.line {
                Line::Start | Line::Field => {
                    self.line = Line::Field;
                    if b == b':' {
                        self.begin_value();
                    } else if self.field.len() < 8 {
                        self.field.push(b);
                    } else {
                        self.line = Line::Skip;
                    }
                    i += 1;
                }
                Line::Skip => {
                    // Jump to the next line end without looking at each byte.
                    let rest = &chunk[i..];
                    i += memchr::memchr2(b'\n', b'\r', rest).unwrap_or(rest.len());
                }
                Line::EventName | Line::KeepData => {
                    let rest = &chunk[i..];
                    let n = memchr::memchr2(b'\n', b'\r', rest).unwrap_or(rest.len());
                    let mut part = &rest[..n];
                    if self.value_start {
                        self.value_start = false;
                        if part.first() == Some(&b' ') {
                            part = &part[1..];
                        }
                    }
                    if self.line == Line::EventName {
                        // A longer name is kept cut at 64 bytes, which no name worth
                        // reporting is: dropping the excess instead would leave `""`,
                        // which is, or a prefix depending on where the chunks end.
                        let room = 64usize.saturating_sub(self.name.len());
                        self.name.extend_from_slice(&part[..part.len().min(room)]);
                    } else if self.data.len() + part.len() <= MAX_EVENT_DATA {
                        self.data.extend_from_slice(part);
                    } else {
                        self.overflow = true;
                        self.line = Line::Skip;
                    }
                    i += n;
                }
            }
        }
    }

    fn begin_value(&mut self) {
        self.value_start = true;
        self.line = match self.field.as_slice() {
            b"event" => {
                self.name.clear();
                Line::EventName
            }
            b"data" if interesting(&self.name) && !self.overflow => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.has_data = true;
                Line::KeepData
            }
            b"data" => {
                self.has_data = true;
                self.overflow = true;
                Line::Skip
            }
            _ => Line::Skip,
        };
        self.field.clear();
    }

    fn end_line(&mut self, on_event: &mut impl FnMut(SseEvent<'_>)) {
        match self.line {
            Line::Start => self.dispatch(on_event),
            // A field name with no colon: the whole line is the field name, value empty.
            Line::Field => {
                let field = std::mem::take(&mut self.field);
                if field == b"data" {
                    if !interesting(&self.name) {
                        self.overflow = true;
                    } else if self.has_data {
                        self.data.push(b'\n');
                    }
                    self.has_data = true;
                } else if field == b"event" {
                    self.name.clear();
                }
                self.field = field;
                self.field.clear();
            }
            _ => {}
        }
        // A field name cut short by its length must not run into the next line's.
        self.field.clear();
        self.line = Line::Start;
        self.value_start = false;
    }

    fn dispatch(&mut self, on_event: &mut impl FnMut(SseEvent<'_>)) {
        if self.has_data && !self.overflow && interesting(&self.name) {
            let name = std::str::from_utf8(&self.name).unwrap_or("");
            on_event(SseEvent {
                name,
                data: &self.data,
            });
        }
        self.name.clear();
        self.data.clear();
        if self.data.capacity() > 64 * 1024 {
            self.data.shrink_to(4096);
        }
        self.has_data = false;
        self.overflow = false;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn collect(chunks: &[&[u8]]) -> Vec<(String, String)> {
        let mut s = SseScanner::new();
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, |e| {
                out.push((
                    e.name.to_string(),
                    String::from_utf8_lossy(e.data).into_owned(),
                ))
            });
        }
        out
    }

    const STREAM: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":12}}}\n\n\
        event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"Hello\"}}\n\n\
        event: ping\ndata: {\"type\": \"ping\"}\n\n\
        : a comment\n\n\
        event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":30}}\n\n\
        event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

    fn expected() -> Vec<(String, String)> {
        vec![
            (
                "message_start".into(),
                "{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":12}}}".into(),
            ),
            (
                "message_delta".into(),
                "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":30}}".into(),
            ),
        ]
    }

    #[test]
    fn only_usage_and_error_events_are_reported() {
        assert_eq!(collect(&[STREAM.as_bytes()]), expected());
    }

    #[test]
    fn events_split_at_every_byte_give_the_same_result() {
        let bytes = STREAM.as_bytes();
        for cut in 0..bytes.len() {
            assert_eq!(
                collect(&[&bytes[..cut], &bytes[cut..]]),
                expected(),
                "cut at {cut}"
            );
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(collect(&singles), expected());
        for size in 2..8 {
            let parts: Vec<&[u8]> = bytes.chunks(size).collect();
            assert_eq!(collect(&parts), expected(), "chunks of {size}");
        }
    }

    #[test]
    fn crlf_and_lone_cr_line_endings_work_split_anywhere() {
        for sep in ["\r\n", "\r"] {
            let text = STREAM.replace('\n', sep);
            let bytes = text.as_bytes();
            for cut in 0..bytes.len() {
                assert_eq!(
                    collect(&[&bytes[..cut], &bytes[cut..]]),
                    expected(),
                    "sep {sep:?} cut {cut}"
                );
            }
        }
    }

    #[test]
    fn error_events_multi_line_data_and_unnamed_events_are_kept() {
        let got = collect(&[b"event: error\ndata: {\"type\":\"error\",\ndata: \"error\":{}}\n\ndata:{\"type\":\"message_delta\"}\n\n"]);
        assert_eq!(
            got,
            vec![
                (
                    "error".to_string(),
                    "{\"type\":\"error\",\n\"error\":{}}".to_string()
                ),
                (String::new(), "{\"type\":\"message_delta\"}".to_string()),
            ]
        );
    }

    /// Every way of cutting `text` in two.
    fn every_cut(text: &str) -> impl Iterator<Item = Vec<(String, String)>> + '_ {
        let bytes = text.as_bytes();
        (0..=bytes.len()).map(|cut| collect(&[&bytes[..cut], &bytes[cut..]]))
    }

    #[test]
    fn a_field_name_longer_than_eight_bytes_does_not_swallow_the_lines_after_it() {
        let text = "retry_after_ms: 5\nevent: message_delta\ndata: {}\n\n";
        for got in every_cut(text) {
            assert_eq!(got, vec![("message_delta".to_string(), "{}".to_string())]);
        }
    }

    #[test]
    fn an_event_name_longer_than_64_bytes_is_never_reported_wherever_it_is_cut() {
        let text = format!("event: message_delta{}\ndata: {{}}\n\n", "x".repeat(60));
        for got in every_cut(&text) {
            assert_eq!(got, vec![]);
        }
    }

    #[test]
    fn an_event_renamed_after_its_data_is_not_reported_with_part_of_its_data() {
        let text = "event: ping\ndata: a\nevent: message_delta\ndata: {}\n\n\
            event: ping\ndata\nevent: error\ndata: {}\n\n\
            data: b\nevent: message_start\n\n";
        for got in every_cut(text) {
            assert_eq!(got, vec![("message_start".to_string(), "b".to_string())]);
        }
    }

    #[test]
    fn huge_uninteresting_events_are_not_buffered() {
        let big = "x".repeat(5 * 1024 * 1024);
        let text = format!("event: content_block_delta\ndata: {big}\n\n");
        let mut s = SseScanner::new();
        s.feed(text.as_bytes(), |_| panic!("not interesting"));
        assert!(s.data.capacity() < 1024, "skipped data must not be copied");
    }

    #[test]
    fn an_oversized_interesting_event_is_dropped_and_the_next_one_parsed() {
        let big = "y".repeat(MAX_EVENT_DATA + 10);
        let text =
            format!("event: message_start\ndata: {big}\n\nevent: message_delta\ndata: {{}}\n\n");
        assert_eq!(
            collect(&[text.as_bytes()]),
            vec![("message_delta".to_string(), "{}".to_string())]
        );
    }
}
