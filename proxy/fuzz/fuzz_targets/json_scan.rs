//! The JSON capture never panics and captures the same however the body is cut; and when the
//! body is JSON, its `serde_json` serialization, cut the same way, is captured exactly as
//! `serde_json` reads its top-level `usage` and `model`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relay_proxy::json_scan::TopLevelCapture;
use serde_json::Value;

fn capture(chunks: &[&[u8]]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let mut c = TopLevelCapture::new();
    for chunk in chunks {
        c.feed(chunk);
    }
    (c.usage, c.model)
}

fn read(raw: Option<Vec<u8>>) -> Option<Value> {
    raw.map(|r| serde_json::from_slice(&r).expect("a capture is one JSON value"))
}

fuzz_target!(|data: &[u8]| {
    let (body, chunks) = relay_proxy_fuzz::chunks(data);
    assert_eq!(
        capture(&chunks),
        capture(&[body]),
        "capture depends on the split"
    );

    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let head = &data[..data.len() - body.len()];
    for text in [
        serde_json::to_vec(&value).expect("a Value serializes"),
        serde_json::to_vec_pretty(&value).expect("a Value serializes"),
    ] {
        // Larger values are dropped by design (64 KiB).
        if text.len() > 60 * 1024 {
            continue;
        }
        // Read back from the same text, so that float rounding cannot differ.
        let written: Value = serde_json::from_slice(&text).expect("serde_json reads its own");
        let input = [head, &text].concat();
        let (_, chunks) = relay_proxy_fuzz::chunks(&input);
        let (usage, model) = capture(&chunks);
        let top = |k: &str| written.as_object().and_then(|m| m.get(k)).cloned();
        assert_eq!(read(usage), top("usage"), "usage");
        assert_eq!(read(model), top("model"), "model");
    }
});
