//! Aggregates of measurements across repetitions: medians, min–max, and per-repetition
//! ratios between two targets.

use crate::scenario::Measurement;
use crate::targets::Kind;

/// Median of a list (0 when empty).
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// (min, median, max) of a list.
pub fn spread(v: &[f64]) -> Option<(f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((min, median(v.to_vec()), max))
}

/// Measurements of one scenario and target, in repetition order.
pub fn of<'a>(ms: &'a [Measurement], scenario: &str, kind: Kind) -> Vec<&'a Measurement> {
    let mut v: Vec<&Measurement> = ms
        .iter()
        .filter(|m| m.scenario == scenario && m.target == kind)
        .collect();
    v.sort_by_key(|m| m.rep);
    v
}

/// `f(a) / f(b)` for each repetition both targets ran.
pub fn ratios(
    ms: &[Measurement],
    scenario: &str,
    a: Kind,
    b: Kind,
    f: impl Fn(&Measurement) -> Option<f64>,
) -> Vec<f64> {
    let (xs, ys) = (of(ms, scenario, a), of(ms, scenario, b));
    xs.iter()
        .filter_map(|x| {
            let y = ys.iter().find(|y| y.rep == x.rep)?;
            let (fx, fy) = (f(x)?, f(y)?);
            (fy > 0.0).then(|| fx / fy)
        })
        .collect()
}

/// `f(a) - f(b)` for each repetition both targets ran.
pub fn differences(
    ms: &[Measurement],
    scenario: &str,
    a: Kind,
    b: Kind,
    f: impl Fn(&Measurement) -> f64,
) -> Vec<f64> {
    let (xs, ys) = (of(ms, scenario, a), of(ms, scenario, b));
    xs.iter()
        .filter_map(|x| {
            let y = ys.iter().find(|y| y.rep == x.rep)?;
            Some(f(x) - f(y))
        })
        .collect()
}

/// "1.23 (1.10–1.30)" for a spread, or "–".
pub fn fmt_spread(v: &[f64], digits: usize) -> String {
    match spread(v) {
        Some((lo, mid, hi)) if v.len() > 1 => {
            format!("{mid:.digits$} ({lo:.digits$}–{hi:.digits$})")
        }
        Some((_, mid, _)) => format!("{mid:.digits$}"),
        None => "–".into(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn medians_and_spreads() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(spread(&[2.0, 1.0, 3.0]), Some((1.0, 2.0, 3.0)));
        assert_eq!(fmt_spread(&[1.0, 2.0, 3.0], 1), "2.0 (1.0–3.0)");
        assert_eq!(fmt_spread(&[], 1), "–");
    }
}
