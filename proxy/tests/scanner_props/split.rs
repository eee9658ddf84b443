//! What every property shares: the ways a body can reach the relay in pieces (whole, one
//! byte at a time, fixed-size chunks, cuts at arbitrary points including empty chunks), and
//! the run configuration.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;

/// The number of cases a property runs: `default`, or `PROPTEST_CASES` from the environment
/// for a longer run (`PROPTEST_CASES=20000 cargo test -p relay-proxy --test scanner_props`).
pub fn config(default: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        // A failure is kept as a unit test next to the scanner, not as a seed file.
        failure_persistence: None,
        ..Config::default()
    }
}

/// One way of cutting a body into chunks.
#[derive(Debug, Clone)]
pub enum Split {
    /// One byte per chunk.
    Bytes,
    /// Chunks of this many bytes.
    Size(usize),
    /// Cuts at these points (sorted, duplicates give empty chunks).
    Cuts(Vec<Index>),
}

/// Any [`Split`], mostly arbitrary cuts.
pub fn split() -> impl Strategy<Value = Split> {
    prop_oneof![
        1 => Just(Split::Bytes),
        1 => (2usize..40).prop_map(Split::Size),
        4 => prop::collection::vec(any::<Index>(), 1..12).prop_map(Split::Cuts),
    ]
}

impl Split {
    /// The chunks of `bytes`; they concatenate back to `bytes`.
    pub fn chunks<'a>(&self, bytes: &'a [u8]) -> Vec<&'a [u8]> {
        match self {
            Split::Bytes => bytes.chunks(1).collect(),
            Split::Size(n) => bytes.chunks(*n).collect(),
            Split::Cuts(points) => {
                let mut cuts: Vec<usize> =
                    points.iter().map(|p| p.index(bytes.len() + 1)).collect();
                cuts.push(0);
                cuts.push(bytes.len());
                cuts.sort_unstable();
                cuts.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
            }
        }
    }
}

/// Bytes built from `tokens` (the syntax a scanner decides on) mixed with arbitrary bytes,
/// so arbitrary input reaches the scanner's deeper states.
pub fn bytes_from(tokens: &'static [&'static str], max: usize) -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => prop::sample::select(tokens).prop_map(|t| t.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 1..4),
    ];
    prop::collection::vec(piece, 0..max).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn every_split_concatenates_back_to_the_body(
        body in prop::collection::vec(any::<u8>(), 0..200),
        how in split(),
    ) {
        prop_assert_eq!(how.chunks(&body).concat(), body);
    }
}
