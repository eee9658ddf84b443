//! `Accounting` over generated Anthropic responses: a stream (`message_start` with usage and
//! the 5-minute/1-hour cache split or only its total, content blocks of arbitrary text,
//! pings, `message_delta` events with the cumulative output, then `message_stop` or an
//! `error` event) or a non-streaming JSON body, cut anywhere, gzip or not, yields exactly the
//! token counts, model and error of what was generated. Arbitrary usage numbers never panic
//! and each count is the last one reported; arbitrary bytes never panic and give the same
//! result however they are cut, gzip-compressed or not.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use proptest::prelude::*;
use relay_proxy::accounting::{Accounting, Usage};
use serde_json::{json, Value};

use crate::json::nasty_string;
use crate::split::{bytes_from, config, split, Split};

/// What an observer ends with.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    usage: Usage,
    model: Option<String>,
    error_type: Option<String>,
    final_usage_seen: bool,
}

fn observe(content_type: &str, gzip: bool, chunks: &[&[u8]]) -> Seen {
    let mut a = Accounting::new(content_type, if gzip { "gzip" } else { "" });
    for chunk in chunks {
        a.observe(chunk);
    }
    a.finish();
    Seen {
        usage: a.usage,
        model: a.model,
        error_type: a.error_type,
        final_usage_seen: a.final_usage_seen,
    }
}

fn gzip(bytes: &[u8], level: u32) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::new(level));
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// The input side of a response.
#[derive(Debug, Clone)]
struct Input {
    tokens: u64,
    cache_read: u64,
    cache_5m: u64,
    cache_1h: u64,
    /// Whether `usage.cache_creation` splits the cache writes by TTL (else only the total).
    split_ttl: bool,
}

impl Input {
    fn usage_json(&self, output: u64) -> Value {
        let mut u = json!({
            "input_tokens": self.tokens,
            "cache_creation_input_tokens": self.cache_5m + self.cache_1h,
            "cache_read_input_tokens": self.cache_read,
            "output_tokens": output,
            "service_tier": "standard",
        });
        if self.split_ttl {
            u["cache_creation"] = json!({
                "ephemeral_5m_input_tokens": self.cache_5m,
                "ephemeral_1h_input_tokens": self.cache_1h,
            });
        }
        u
    }

    /// The counts billed for this input and `output`; without the split, every cache write
    /// is a 5-minute one (the default TTL).
    fn billed(&self, output: u64) -> Usage {
        let (cache_write_5m, cache_write_1h) = if self.split_ttl {
            (self.cache_5m, self.cache_1h)
        } else {
            (self.cache_5m + self.cache_1h, 0)
        };
        Usage {
            input: self.tokens,
            output,
            cache_read: self.cache_read,
            cache_write_5m,
            cache_write_1h,
        }
    }
}

fn input() -> impl Strategy<Value = Input> {
    let n = || 0u64..1 << 40;
    (n(), n(), n(), n(), any::<bool>()).prop_map(
        |(tokens, cache_read, cache_5m, cache_1h, split_ttl)| Input {
            tokens,
            cache_read,
            cache_5m,
            cache_1h,
            split_ttl,
        },
    )
}

fn model() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(&["claude-sonnet-4-5-20250929", "claude-haiku-4-5", "claude-opus-4-1"][..])
            .prop_map(str::to_string),
        1 => nasty_string(),
    ]
}

#[derive(Debug, Clone)]
struct StreamCase {
    model: String,
    input: Input,
    start_output: u64,
    /// Content blocks, each a list of text deltas.
    blocks: Vec<Vec<String>>,
    /// Growth of the output between `message_delta` events (each carries the running total).
    output_steps: Vec<u64>,
    /// Whether `message_delta` usage repeats the input side, as the current API does.
    delta_repeats_input: bool,
    pings: bool,
    /// `Some(error type)`: the stream ends with an `error` event instead of `message_stop`.
    error: Option<String>,
    crlf: bool,
}

impl StreamCase {
    fn bytes(&self) -> Vec<u8> {
        let nl = if self.crlf { "\r\n" } else { "\n" };
        let mut out = String::new();
        let mut event = |name: &str, data: Value| {
            out += &format!("event: {name}{nl}data: {data}{nl}{nl}");
        };
        let ping = |event: &mut dyn FnMut(&str, Value)| {
            if self.pings {
                event("ping", json!({"type": "ping"}));
            }
        };
        event(
            "message_start",
            json!({"type": "message_start", "message": {
                "id": "msg_01", "type": "message", "role": "assistant", "model": self.model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": self.input.usage_json(self.start_output),
            }}),
        );
        ping(&mut event);
        for (index, texts) in self.blocks.iter().enumerate() {
            event(
                "content_block_start",
                json!({"type": "content_block_start", "index": index,
                       "content_block": {"type": "text", "text": ""}}),
            );
            for text in texts {
                event(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": index,
                           "delta": {"type": "text_delta", "text": text}}),
                );
                ping(&mut event);
            }
            event(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": index}),
            );
        }
        let mut output = self.start_output;
        for step in &self.output_steps {
            output += step;
            let mut usage = json!({"output_tokens": output});
            if self.delta_repeats_input {
                usage = self.input.usage_json(output);
                usage.as_object_mut().map(|u| u.remove("cache_creation"));
            }
            event(
                "message_delta",
                json!({"type": "message_delta",
                       "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                       "usage": usage}),
            );
        }
        match &self.error {
            Some(kind) => event(
                "error",
                json!({"type": "error", "error": {"type": kind, "message": "Overloaded"}}),
            ),
            None => event("message_stop", json!({"type": "message_stop"})),
        }
        out.into_bytes()
    }

    fn expected(&self) -> Seen {
        Seen {
            usage: self
                .input
                .billed(self.start_output + self.output_steps.iter().sum::<u64>()),
            model: Some(self.model.clone()),
            error_type: self.error.clone(),
            final_usage_seen: !self.output_steps.is_empty(),
        }
    }
}

fn stream_case() -> impl Strategy<Value = StreamCase> {
    let text = prop_oneof![
        3 => nasty_string(),
        // Text that looks like the events the scanner acts on.
        1 => Just("\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":999999}}\n\n".to_string()),
    ];
    (
        (model(), input(), 0u64..8),
        prop::collection::vec(prop::collection::vec(text, 0..6), 0..3),
        prop::collection::vec(0u64..1 << 20, 0..4),
        any::<bool>(),
        any::<bool>(),
        prop::option::weighted(
            0.2,
            prop_oneof![
                Just("overloaded_error".to_string()),
                Just("api_error".to_string()),
                nasty_string(),
            ],
        ),
        any::<bool>(),
    )
        .prop_map(
            |(
                (model, input, start_output),
                blocks,
                output_steps,
                delta_repeats_input,
                pings,
                error,
                crlf,
            )| {
                StreamCase {
                    model,
                    input,
                    start_output,
                    blocks,
                    output_steps,
                    delta_repeats_input,
                    pings,
                    error,
                    crlf,
                }
            },
        )
}

#[derive(Debug, Clone)]
struct JsonCase {
    model: String,
    input: Input,
    output: u64,
    text: String,
    /// The order of the top-level keys.
    order: Vec<usize>,
    pretty: bool,
}

impl JsonCase {
    fn bytes(&self) -> Vec<u8> {
        let entries = [
            ("id", json!("msg_01")),
            ("type", json!("message")),
            ("role", json!("assistant")),
            ("model", json!(self.model)),
            ("content", json!([{"type": "text", "text": self.text}])),
            ("stop_reason", json!("end_turn")),
            ("stop_sequence", Value::Null),
            ("usage", self.input.usage_json(self.output)),
        ];
        let write = |v: &Value| {
            if self.pretty {
                serde_json::to_string_pretty(v).unwrap()
            } else {
                v.to_string()
            }
        };
        let body: Vec<String> = self
            .order
            .iter()
            .map(|&i| format!("{}: {}", json!(entries[i].0), write(&entries[i].1)))
            .collect();
        format!("{{{}}}", body.join(if self.pretty { ",\n  " } else { "," })).into_bytes()
    }

    fn expected(&self) -> Seen {
        Seen {
            usage: self.input.billed(self.output),
            model: Some(self.model.clone()),
            error_type: None,
            final_usage_seen: true,
        }
    }
}

fn json_case() -> impl Strategy<Value = JsonCase> {
    (
        model(),
        input(),
        0u64..1 << 40,
        prop_oneof![3 => nasty_string(), 1 => Just(r#"},"usage":{"input_tokens":999}}"#.to_string())],
        Just((0..8).collect::<Vec<usize>>()).prop_shuffle(),
        any::<bool>(),
    )
        .prop_map(|(model, input, output, text, order, pretty)| JsonCase {
            model,
            input,
            output,
            text,
            order,
            pretty,
        })
}

/// One usage object with any of its fields, each any `u64`.
#[derive(Debug, Clone)]
struct AnyUsage {
    start: bool,
    input: Option<u64>,
    output: Option<u64>,
    cache_read: Option<u64>,
    cache_total: Option<u64>,
    cache_split: Option<(Option<u64>, Option<u64>)>,
}

impl AnyUsage {
    fn event(&self) -> String {
        let mut u = serde_json::Map::new();
        let mut put = |k: &str, v: Option<u64>| {
            if let Some(v) = v {
                u.insert(k.into(), v.into());
            }
        };
        put("input_tokens", self.input);
        put("output_tokens", self.output);
        put("cache_read_input_tokens", self.cache_read);
        put("cache_creation_input_tokens", self.cache_total);
        if let Some((m5, h1)) = self.cache_split {
            let mut cc = serde_json::Map::new();
            for (k, v) in [
                ("ephemeral_5m_input_tokens", m5),
                ("ephemeral_1h_input_tokens", h1),
            ] {
                if let Some(v) = v {
                    cc.insert(k.into(), v.into());
                }
            }
            u.insert("cache_creation".into(), cc.into());
        }
        let data = if self.start {
            json!({"type": "message_start", "message": {"model": "m", "usage": u}})
        } else {
            json!({"type": "message_delta", "delta": {}, "usage": u})
        };
        let name = if self.start {
            "message_start"
        } else {
            "message_delta"
        };
        format!("event: {name}\ndata: {data}\n\n")
    }
}

fn any_usage() -> impl Strategy<Value = AnyUsage> {
    let n = || prop::option::of(prop_oneof![any::<u64>(), Just(u64::MAX), 0u64..1000]);
    (
        any::<bool>(),
        n(),
        n(),
        n(),
        n(),
        prop::option::of((n(), n())),
    )
        .prop_map(
            |(start, input, output, cache_read, cache_total, cache_split)| AnyUsage {
                start,
                input,
                output,
                cache_read,
                cache_total,
                cache_split,
            },
        )
}

const BODY_TOKENS: &[&str] = &[
    "event: message_start\ndata: ",
    "event: message_delta\ndata: ",
    "event: error\ndata: ",
    "\n\n",
    "\r\n",
    r#"{"type":"message_delta","usage":{"output_tokens":7}}"#,
    r#"{"type":"message_start","message":{"model":"m","usage":{"input_tokens":3}}}"#,
    r#""usage":{"input_tokens":5,"cache_creation_input_tokens":9}"#,
    r#""model":"m""#,
    r#"{"type":"error","error":{"type":"overloaded_error"}}"#,
    "{",
    "}",
    ",",
    "\"",
];

fn content_type() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&["text/event-stream", "application/json", "text/plain"][..])
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn a_generated_stream_cut_anywhere_gzip_or_not_is_billed_exactly(
        case in stream_case(),
        how in split(),
        level in prop::option::of(0u32..10),
    ) {
        let plain = case.bytes();
        let wire = level.map_or_else(|| plain.clone(), |l| gzip(&plain, l));
        let seen = observe("text/event-stream; charset=utf-8", level.is_some(), &how.chunks(&wire));
        prop_assert_eq!(seen, case.expected());
    }

    #[test]
    fn a_generated_json_body_cut_anywhere_gzip_or_not_is_billed_exactly(
        case in json_case(),
        how in split(),
        level in prop::option::of(0u32..10),
    ) {
        let plain = case.bytes();
        let wire = level.map_or_else(|| plain.clone(), |l| gzip(&plain, l));
        let seen = observe("application/json", level.is_some(), &how.chunks(&wire));
        prop_assert_eq!(seen, case.expected());
    }

    #[test]
    fn any_usage_numbers_never_panic_and_the_last_reported_count_wins(
        events in prop::collection::vec(any_usage(), 1..6),
        how in split(),
    ) {
        let body: String = events.iter().map(AnyUsage::event).collect();
        let seen = observe("text/event-stream", false, &how.chunks(body.as_bytes()));
        let last = |f: fn(&AnyUsage) -> Option<u64>| events.iter().rev().find_map(f).unwrap_or(0);
        prop_assert_eq!(seen.usage.input, last(|e| e.input));
        prop_assert_eq!(seen.usage.output, last(|e| e.output));
        prop_assert_eq!(seen.usage.cache_read, last(|e| e.cache_read));
        prop_assert_eq!(seen.final_usage_seen, events.iter().any(|e| !e.start));
        // Cache writes: the split of the last event that had one, or else a sum equal to the
        // last total reported.
        let (m5, h1) = (seen.usage.cache_write_5m, seen.usage.cache_write_1h);
        let last_cache = events.iter().rev().find(|e| {
            e.cache_total.is_some() || matches!(e.cache_split, Some((a, b)) if a.is_some() || b.is_some())
        });
        match last_cache.map(|e| (e.cache_split, e.cache_total)) {
            Some((Some((a, b)), _)) if a.is_some() || b.is_some() => {
                prop_assert_eq!((m5, h1), (a.unwrap_or(0), b.unwrap_or(0)));
            }
            Some((_, Some(total))) => {
                prop_assert_eq!(u128::from(m5) + u128::from(h1), u128::from(total));
            }
            _ => prop_assert_eq!((m5, h1), (0, 0)),
        }
    }

    #[test]
    fn arbitrary_bodies_give_the_same_result_however_they_are_cut(
        content_type in content_type(),
        bytes in bytes_from(BODY_TOKENS, 40),
        how in split(),
        level in 0u32..10,
    ) {
        let whole = observe(content_type, false, &[&bytes]);
        prop_assert_eq!(&observe(content_type, false, &how.chunks(&bytes)), &whole, "plain, in pieces");
        let gz = gzip(&bytes, level);
        prop_assert_eq!(&observe(content_type, true, &how.chunks(&gz)), &whole, "gzip, in pieces");
    }

    #[test]
    fn a_body_that_is_not_gzip_counts_nothing_when_sent_as_gzip(
        content_type in content_type(),
        bytes in bytes_from(BODY_TOKENS, 40).prop_filter("not gzip", |b| !b.starts_with(&[0x1f])),
        how in split(),
    ) {
        let seen = observe(content_type, true, &how.chunks(&bytes));
        let nothing = Seen { usage: Usage::default(), model: None, error_type: None, final_usage_seen: false };
        prop_assert_eq!(seen, nothing);
    }
}

#[test]
fn one_byte_chunks_of_a_gzip_stream_are_billed_exactly() {
    let case = StreamCase {
        model: "claude-sonnet-4-5-20250929".into(),
        input: Input {
            tokens: 12,
            cache_read: 40,
            cache_5m: 100,
            cache_1h: 200,
            split_ttl: true,
        },
        start_output: 1,
        blocks: vec![vec!["Hi".into(), " there".into()]],
        output_steps: vec![14, 15],
        delta_repeats_input: true,
        pings: true,
        error: None,
        crlf: false,
    };
    let wire = gzip(&case.bytes(), 6);
    let seen = observe("text/event-stream", true, &Split::Bytes.chunks(&wire));
    assert_eq!(seen, case.expected());
    assert_eq!(
        seen.usage.output, 30,
        "cumulative output assigned, not added"
    );
}
