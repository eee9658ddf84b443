//! `SseScanner` against the SSE specification (WHATWG HTML, "Interpreting an event stream"):
//! generated event streams (event names, multi-line data, comments, other fields, lines
//! without a colon, `\n`, `\r\n` and `\r` line endings, with and without `event:` lines) fed
//! at arbitrary split points give exactly the events that a reference reading of the spec
//! gives; arbitrary bytes never panic and give the same events however they are cut.
//!
//! The reference applies the scanner's documented filter on top of the spec: only events
//! named `message_start`, `message_delta`, `error` or unnamed are reported, unnamed ones as
//! `""` (the spec's `message`); data sent while the event's name is not one of those is not
//! kept, so an event renamed afterwards (an `event:` line after its `data:`) is not reported
//! either. Neither strips a byte-order mark (the upstream sends none).

use std::fmt;

use proptest::prelude::*;
use relay_proxy::sse::SseScanner;

use crate::split::{bytes_from, config, split};

/// One reported event.
#[derive(Clone, PartialEq, Eq)]
struct Event {
    name: Vec<u8>,
    data: Vec<u8>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.name.escape_ascii(),
            self.data.escape_ascii()
        )
    }
}

fn scan(chunks: &[&[u8]]) -> Vec<Event> {
    let mut scanner = SseScanner::new();
    let mut out = Vec::new();
    for chunk in chunks {
        scanner.feed(chunk, |e| {
            out.push(Event {
                name: e.name.as_bytes().to_vec(),
                data: e.data.to_vec(),
            })
        });
    }
    out
}

/// The scanner's filter (its module doc).
fn reported(name: &[u8]) -> bool {
    matches!(name, b"message_start" | b"message_delta" | b"error" | b"")
}

/// The spec's processing of fields and blank lines, with the scanner's filter.
#[derive(Default)]
struct Interpreter {
    name: Vec<u8>,
    data: Vec<u8>,
    /// Whether data came while the name was not one reported.
    lost: bool,
    out: Vec<Event>,
}

impl Interpreter {
    fn field(&mut self, field: &[u8], value: &[u8]) {
        match field {
            b"event" => self.name = value.to_vec(),
            b"data" => {
                self.lost |= !reported(&self.name);
                self.data.extend_from_slice(value);
                self.data.push(b'\n');
            }
            // `id`, `retry` and unknown fields change nothing the scanner reports.
            _ => {}
        }
    }

    fn blank_line(&mut self) {
        let name = std::mem::take(&mut self.name);
        let mut data = std::mem::take(&mut self.data);
        let lost = std::mem::take(&mut self.lost);
        if data.pop().is_some() && reported(&name) && !lost {
            self.out.push(Event { name, data });
        }
    }
}

/// Reads a whole stream as the spec does: lines end at `\r\n`, `\n` or `\r`; a blank line
/// dispatches; a line starting with `:` is a comment; otherwise the field name runs to the
/// first colon and one space after it is dropped, or the whole line is the name of a field
/// with an empty value. What follows the last line end is an unfinished line and is dropped.
fn reference(bytes: &[u8]) -> Vec<Event> {
    let mut interpreter = Interpreter::default();
    let mut rest = bytes;
    while let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
        let line = &rest[..end];
        let crlf = rest[end] == b'\r' && rest.get(end + 1) == Some(&b'\n');
        rest = &rest[end + if crlf { 2 } else { 1 }..];
        match line.iter().position(|&b| b == b':') {
            _ if line.is_empty() => interpreter.blank_line(),
            Some(0) => {}
            Some(colon) => {
                let value = &line[colon + 1..];
                interpreter.field(&line[..colon], value.strip_prefix(b" ").unwrap_or(value));
            }
            None => interpreter.field(line, b""),
        }
    }
    interpreter.out
}

/// One generated line, without its line end.
#[derive(Clone)]
enum Line {
    Event {
        space: bool,
        name: Vec<u8>,
    },
    Data {
        space: bool,
        value: Vec<u8>,
    },
    Comment(Vec<u8>),
    /// `id`, `retry`, misspellings of `data` and `event`, unknown fields.
    Other {
        field: &'static str,
        space: bool,
        value: Vec<u8>,
    },
    /// A line without a colon.
    Bare(&'static str),
}

impl fmt::Debug for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.bytes().escape_ascii())
    }
}

impl Line {
    fn bytes(&self) -> Vec<u8> {
        let field = |f: &str, space: bool, v: &[u8]| {
            let mut out = format!("{f}:{}", if space { " " } else { "" }).into_bytes();
            out.extend_from_slice(v);
            out
        };
        match self {
            Line::Event { space, name } => field("event", *space, name),
            Line::Data { space, value } => field("data", *space, value),
            Line::Comment(text) => field("", false, text),
            Line::Other {
                field: f,
                space,
                value,
            } => field(f, *space, value),
            Line::Bare(f) => f.as_bytes().to_vec(),
        }
    }

    /// The field and value this line is meant to carry (`None` for a comment).
    fn meant(&self) -> Option<(&[u8], Vec<u8>)> {
        // One space after the colon is not part of the value; written or not, a value that
        // starts with a space loses that one.
        let value = |space: bool, v: &[u8]| match (space, v.first()) {
            (false, Some(b' ')) => v[1..].to_vec(),
            _ => v.to_vec(),
        };
        match self {
            Line::Event { space, name } => Some((&b"event"[..], value(*space, name))),
            Line::Data { space, value: v } => Some((&b"data"[..], value(*space, v))),
            Line::Comment(_) => None,
            Line::Other {
                field,
                space,
                value: v,
            } => Some((field.as_bytes(), value(*space, v))),
            Line::Bare(field) => Some((field.as_bytes(), Vec::new())),
        }
    }
}

/// How lines end: all alike, or `\n` and `\r\n` mixed (a lone `\r` is never mixed with `\n`,
/// which would read as one `\r\n`).
#[derive(Debug, Clone, Copy)]
enum Endings {
    Lf,
    CrLf,
    Cr,
    Mixed(u64),
}

impl Endings {
    fn nth(self, n: usize) -> &'static str {
        match self {
            Endings::Lf => "\n",
            Endings::CrLf => "\r\n",
            Endings::Cr => "\r",
            Endings::Mixed(bits) if bits >> (n % 64) & 1 == 1 => "\r\n",
            Endings::Mixed(_) => "\n",
        }
    }
}

#[derive(Debug, Clone)]
struct Stream {
    events: Vec<Vec<Line>>,
    /// Lines of an event the stream ends inside, the last one maybe without its line end.
    tail: Vec<Line>,
    tail_open: bool,
    endings: Endings,
}

impl Stream {
    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut n = 0;
        let mut end = |out: &mut Vec<u8>| {
            out.extend_from_slice(self.endings.nth(n).as_bytes());
            n += 1;
        };
        for event in &self.events {
            for line in event {
                out.extend(line.bytes());
                end(&mut out);
            }
            end(&mut out);
        }
        for (i, line) in self.tail.iter().enumerate() {
            out.extend(line.bytes());
            if !(self.tail_open && i + 1 == self.tail.len()) {
                end(&mut out);
            }
        }
        out
    }

    /// The events the generator meant, from the lines rather than the bytes.
    fn meant(&self) -> Vec<Event> {
        let mut interpreter = Interpreter::default();
        for event in &self.events {
            for (field, value) in event.iter().filter_map(Line::meant) {
                interpreter.field(field, &value);
            }
            interpreter.blank_line();
        }
        interpreter.out
    }
}

fn event_name() -> impl Strategy<Value = Vec<u8>> {
    const NAMES: &[&str] = &[
        "message_start",
        "message_delta",
        "error",
        "",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "ping",
        "message_stop",
    ];
    const NEAR_MISSES: &[&str] = &[
        "message_start ",
        " message_start",
        "Message_start",
        "message_deltas",
        "error:",
        "errör",
    ];
    prop_oneof![
        6 => prop::sample::select(NAMES).prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::sample::select(NEAR_MISSES).prop_map(|s| s.as_bytes().to_vec()),
        // Past the scanner's 64-byte cap on names.
        1 => (50usize..90).prop_map(|n| format!("message_delta{}", "x".repeat(n)).into_bytes()),
        1 => "[ -~]{0,12}".prop_map(String::into_bytes),
    ]
}

/// A value: anything but a line end.
fn value() -> impl Strategy<Value = Vec<u8>> {
    const PIECES: &[&str] = &[
        r#"{"type":"message_delta","usage":{"output_tokens":3}}"#,
        ":",
        " ",
        "  ",
        "data: x",
        "event: error",
        "é",
        "😀",
        "\\",
        "\"",
        "\t",
        "\0",
    ];
    let piece = prop_oneof![
        2 => prop::sample::select(PIECES).prop_map(|s| s.as_bytes().to_vec()),
        2 => "[ -~]{1,8}".prop_map(String::into_bytes),
        1 => prop::collection::vec(
            any::<u8>().prop_map(|b| if b == b'\n' || b == b'\r' { b'.' } else { b }),
            1..4,
        ),
    ];
    prop::collection::vec(piece, 0..6).prop_map(|v| v.concat())
}

fn line() -> impl Strategy<Value = Line> {
    const OTHER: &[&str] = &[
        "id",
        "retry",
        "Data",
        "data ",
        "dat",
        "datas",
        "events",
        "eventevent",
        "data_data_data",
        "x",
    ];
    const BARE: &[&str] = &[
        "data",
        "event",
        "id",
        "retry",
        "whatever",
        "dataaaaaaaaaaaaa",
    ];
    prop_oneof![
        2 => (any::<bool>(), event_name()).prop_map(|(space, name)| Line::Event { space, name }),
        5 => (any::<bool>(), value()).prop_map(|(space, value)| Line::Data { space, value }),
        1 => value().prop_map(Line::Comment),
        1 => (prop::sample::select(OTHER), any::<bool>(), value())
            .prop_map(|(field, space, value)| Line::Other { field, space, value }),
        1 => prop::sample::select(BARE).prop_map(Line::Bare),
    ]
}

fn stream() -> impl Strategy<Value = Stream> {
    let endings = prop_oneof![
        Just(Endings::Lf),
        Just(Endings::CrLf),
        Just(Endings::Cr),
        any::<u64>().prop_map(Endings::Mixed),
    ];
    (
        prop::collection::vec(prop::collection::vec(line(), 0..5), 0..8),
        prop::collection::vec(line(), 0..3),
        any::<bool>(),
        endings,
    )
        .prop_map(|(events, tail, tail_open, endings)| Stream {
            events,
            tail,
            tail_open,
            endings,
        })
}

const SSE_TOKENS: &[&str] = &[
    "event:",
    "event: ",
    "data:",
    "data: ",
    ":",
    " ",
    "\n",
    "\r",
    "\r\n",
    "\n\n",
    "message_start",
    "message_delta",
    "error",
    "ping",
    "{}",
    "id:",
    "x",
];

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn generated_streams_cut_anywhere_give_the_events_the_spec_reads(
        stream in stream(),
        how in split(),
    ) {
        let bytes = stream.bytes();
        let meant = stream.meant();
        prop_assert_eq!(&reference(&bytes), &meant, "the reference reads what was generated");
        prop_assert_eq!(&scan(&[&bytes]), &meant, "fed whole");
        prop_assert_eq!(&scan(&how.chunks(&bytes)), &meant, "fed in pieces");
    }

    #[test]
    fn arbitrary_bytes_give_the_reference_events_however_they_are_cut(
        bytes in bytes_from(SSE_TOKENS, 48),
        how in split(),
    ) {
        let whole = scan(&[&bytes]);
        prop_assert_eq!(&scan(&how.chunks(&bytes)), &whole, "fed in pieces");
        prop_assert_eq!(&reference(&bytes), &whole, "the reference");
    }
}
