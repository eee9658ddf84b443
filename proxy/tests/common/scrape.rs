//! Reading a Prometheus text scrape in tests: the sum of the samples of a series whose labels
//! include the given ones, and the series named in `deploy/metrics.txt`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

/// A sample: the series name, its labels and its value.
type Sample<'a> = (&'a str, Vec<(String, String)>, f64);

/// The labels of one sample line (`name{a="x",b="y"} 1`), and its value.
fn parse_line(line: &str) -> Option<Sample<'_>> {
    if line.starts_with('#') || line.trim().is_empty() {
        return None;
    }
    let (series, value) = line.rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        Some((n, rest)) => (n, rest.trim_end_matches('}')),
        None => (series, ""),
    };
    let mut out = Vec::new();
    // Values written by the relay never hold `",` (names and models are plain words).
    for pair in labels.split("\",").filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once("=\"")?;
        out.push((k.to_string(), v.trim_end_matches('"').to_string()));
    }
    Some((name, out, value))
}

/// The sum of the samples of `name` carrying every label of `want`.
pub fn sample(text: &str, name: &str, want: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter_map(parse_line)
        .filter(|(n, labels, _)| {
            *n == name
                && want
                    .iter()
                    .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

/// Whether the scrape declares `name` (a `# TYPE` line).
pub fn declares(text: &str, name: &str, kind: &str) -> bool {
    text.lines().any(|l| l == format!("# TYPE {name} {kind}"))
}

/// (name, type) of every series in `deploy/metrics.txt`.
pub fn contract() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/metrics.txt");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut parts = l.split_whitespace();
            (
                parts.next().unwrap().to_string(),
                parts.next().unwrap().to_string(),
            )
        })
        .collect()
}
