//! The SSE scanner never panics, and reports the same events however the body is cut.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relay_proxy::sse::SseScanner;

fn scan(chunks: &[&[u8]]) -> Vec<(String, Vec<u8>)> {
    let mut scanner = SseScanner::new();
    let mut out = Vec::new();
    for chunk in chunks {
        scanner.feed(chunk, |e| out.push((e.name.to_string(), e.data.to_vec())));
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let (body, chunks) = relay_proxy_fuzz::chunks(data);
    assert_eq!(scan(&chunks), scan(&[body]), "events depend on the split");
});
