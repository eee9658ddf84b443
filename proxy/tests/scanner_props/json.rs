//! `TopLevelCapture` against `serde_json`: for arbitrary JSON values (strings full of
//! quotes, escapes, braces, control characters and non-ASCII; keys named `usage` and `model`
//! at every depth) serialized by `serde_json`, compact, pretty or with arbitrary white space
//! and key order, the capture fed at arbitrary split points holds exactly the top-level
//! `usage` and `model` that `serde_json` reads; arbitrary bytes never panic and are captured
//! the same however they are cut.

use proptest::prelude::*;
use proptest::sample::Index;
use relay_proxy::json_scan::TopLevelCapture;
use serde_json::{Map, Number, Value};

use crate::split::{bytes_from, config, split};

/// A string with everything that can fool a scanner that does not track strings.
pub fn nasty_string() -> impl Strategy<Value = String> {
    const PIECES: &[&str] = &[
        "\"",
        "\\",
        "\\\"",
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "usage",
        "model",
        r#""usage":{"input_tokens":9}"#,
        r#"},"model":"x""#,
        "\n",
        "\r\n",
        "\t",
        "\u{0}",
        "\u{1f}",
        "\u{7f}",
        "é",
        "\u{2028}",
        "\u{feff}",
        "😀",
        " ",
        "\\u0022",
        "/",
    ];
    let piece = prop_oneof![
        3 => prop::sample::select(PIECES).prop_map(str::to_string),
        1 => any::<char>().prop_map(String::from),
        2 => "[a-z0-9_]{1,6}",
    ];
    prop::collection::vec(piece, 0..6).prop_map(|v| v.concat())
}

fn key() -> impl Strategy<Value = String> {
    const KEYS: &[&str] = &["usage", "model", "input_tokens", "output_tokens", "content"];
    prop_oneof![
        2 => prop::sample::select(KEYS).prop_map(str::to_string),
        1 => nasty_string(),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        nasty_string().prop_map(Value::String),
    ]
}

/// Any JSON value up to four levels deep.
pub fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// How a body is written.
#[derive(Debug, Clone)]
enum Layout {
    /// `serde_json::to_vec` of the object (keys deduplicated and in the map's order).
    Compact,
    /// `serde_json::to_vec_pretty` of the object.
    Pretty,
    /// The entries in their order (duplicates kept), each key and value written by
    /// `serde_json` (values pretty when `pretty`), with this white space between tokens.
    Spaced { ws: Vec<&'static str>, pretty: bool },
}

#[derive(Debug, Clone)]
enum Body {
    Object {
        entries: Vec<(String, Value)>,
        layout: Layout,
    },
    /// Any value, often not an object.
    Other(Value),
}

impl Body {
    fn bytes(&self) -> Vec<u8> {
        let (entries, layout) = match self {
            Body::Other(v) => return serde_json::to_vec(v).unwrap(),
            Body::Object { entries, layout } => (entries, layout),
        };
        let object = || Value::Object(entries.iter().cloned().collect::<Map<_, _>>());
        let (ws, pretty) = match layout {
            Layout::Compact => return serde_json::to_vec(&object()).unwrap(),
            Layout::Pretty => return serde_json::to_vec_pretty(&object()).unwrap(),
            Layout::Spaced { ws, pretty } => (ws, *pretty),
        };
        let mut spaces = ws.iter().cycle();
        let mut out = String::from("{");
        for (i, (k, v)) in entries.iter().enumerate() {
            let value = if pretty {
                serde_json::to_string_pretty(v).unwrap()
            } else {
                serde_json::to_string(v).unwrap()
            };
            let mut sp = || *spaces.next().unwrap_or(&"");
            let comma = if i == 0 { "" } else { "," };
            out += &format!(
                "{comma}{}{}{}:{}{value}{}",
                sp(),
                serde_json::to_string(k).unwrap(),
                sp(),
                sp(),
                sp()
            );
        }
        out.push('}');
        out.into_bytes()
    }
}

fn body() -> impl Strategy<Value = Body> {
    const WS: &[&str] = &["", " ", "\n", "\r\n", "\t", "  \n    "];
    let usage = prop_oneof![
        3 => prop::collection::vec((key(), value()), 0..5)
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        1 => value(),
    ];
    let model = prop_oneof![
        3 => nasty_string().prop_map(Value::String),
        1 => value(),
    ];
    let layout = prop_oneof![
        Just(Layout::Compact),
        Just(Layout::Pretty),
        (
            prop::collection::vec(prop::sample::select(WS), 1..6),
            any::<bool>()
        )
            .prop_map(|(ws, pretty)| Layout::Spaced { ws, pretty }),
    ];
    let object = (
        prop::collection::vec((key(), value()), 0..6),
        prop::option::weighted(0.8, (any::<Index>(), usage)),
        prop::option::weighted(0.8, (any::<Index>(), model)),
        layout,
    )
        .prop_map(|(mut entries, usage, model, layout)| {
            for (name, place) in [("usage", usage), ("model", model)] {
                if let Some((at, v)) = place {
                    entries.insert(at.index(entries.len() + 1), (name.to_string(), v));
                }
            }
            Body::Object { entries, layout }
        });
    prop_oneof![6 => object, 1 => value().prop_map(Body::Other)]
}

fn capture(chunks: &[&[u8]]) -> TopLevelCapture {
    let mut c = TopLevelCapture::new();
    for chunk in chunks {
        c.feed(chunk);
    }
    c
}

/// A captured value as `serde_json` reads it alone.
fn read(raw: &Option<Vec<u8>>) -> Option<Result<Value, String>> {
    raw.as_ref()
        .map(|r| serde_json::from_slice(r).map_err(|e| format!("{e}: {}", r.escape_ascii())))
}

/// A valid body with a few bytes inserted, removed or replaced.
fn damaged_body() -> impl Strategy<Value = Vec<u8>> {
    (
        body(),
        prop::collection::vec((any::<Index>(), 0u8..3, any::<u8>()), 1..4),
    )
        .prop_map(|(body, edits)| {
            let mut bytes = body.bytes();
            for (at, op, b) in edits {
                let i = at.index(bytes.len() + 1);
                match op {
                    0 => bytes.insert(i, b),
                    1 if i < bytes.len() => {
                        bytes.remove(i);
                    }
                    _ if i < bytes.len() => bytes[i] = b,
                    _ => bytes.push(b),
                }
            }
            bytes
        })
}

const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    "\\",
    ":",
    ",",
    " ",
    "\"usage\"",
    "\"model\"",
    "\"x\"",
    "1",
    "null",
];

proptest! {
    #![proptest_config(config(768))]

    #[test]
    fn serialized_values_cut_anywhere_give_the_top_level_usage_and_model_serde_json_reads(
        body in body(),
        how in split(),
    ) {
        let bytes = body.bytes();
        let parsed: Value = serde_json::from_slice(&bytes).unwrap();
        let top = |k: &str| parsed.as_object().and_then(|m| m.get(k)).cloned().map(Ok);
        for (label, chunks) in [("whole", vec![&bytes[..]]), ("in pieces", how.chunks(&bytes))] {
            let c = capture(&chunks);
            prop_assert_eq!(read(&c.usage), top("usage"), "usage, fed {}", label);
            prop_assert_eq!(read(&c.model), top("model"), "model, fed {}", label);
        }
    }

    #[test]
    fn arbitrary_bytes_are_captured_the_same_however_they_are_cut(
        bytes in prop_oneof![bytes_from(JSON_TOKENS, 60), damaged_body()],
        how in split(),
    ) {
        let whole = capture(&[&bytes]);
        let pieces = capture(&how.chunks(&bytes));
        prop_assert_eq!(pieces.usage, whole.usage);
        prop_assert_eq!(pieces.model, whole.model);
    }
}
