//! The accounting never panics, on a body sent plain or as gzip, valid or not; a plain body
//! gives the same result however it is cut, and the same again gzip-compressed and cut.
#![no_main]

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use libfuzzer_sys::fuzz_target;
use relay_proxy::accounting::Accounting;

const CONTENT_TYPES: [&str; 3] = ["text/event-stream", "application/json", "text/plain"];

fn observe(content_type: &str, gzip: bool, chunks: &[&[u8]]) -> String {
    let mut a = Accounting::new(content_type, if gzip { "gzip" } else { "" });
    for chunk in chunks {
        a.observe(chunk);
    }
    a.finish();
    format!(
        "{:?} {:?} {:?} {}",
        a.usage, a.model, a.error_type, a.final_usage_seen
    )
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(mode) % CONTENT_TYPES.len()];
    let (body, chunks) = relay_proxy_fuzz::chunks(data);

    let whole = observe(content_type, false, &[body]);
    assert_eq!(observe(content_type, false, &chunks), whole, "plain, cut");

    let mut enc = GzEncoder::new(Vec::new(), Compression::new(u32::from(mode >> 4) % 10));
    enc.write_all(body).expect("writing to a Vec");
    let gz = enc.finish().expect("writing to a Vec");
    let head = &data[..data.len() - body.len()];
    let gz_input = [head, &gz].concat();
    let (_, gz_chunks) = relay_proxy_fuzz::chunks(&gz_input);
    assert_eq!(observe(content_type, true, &gz_chunks), whole, "gzip, cut");

    // Not gzip, or broken gzip, sent as gzip: no panic.
    observe(content_type, true, &chunks);
});
