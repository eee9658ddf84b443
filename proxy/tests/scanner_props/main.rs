//! Property tests of the response scanners on arbitrary input cut at arbitrary points: the
//! SSE scanner against a reference reading of the SSE specification, the JSON capture against
//! `serde_json`, and the accounting over generated Anthropic responses, gzip or not.
//! `PROPTEST_CASES=N` runs each property N times instead of its default (see `split::config`);
//! `proxy/fuzz/` holds the `cargo fuzz` targets for longer runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounting;
mod json;
mod split;
mod sse;
