//! The `relay+redis` section: what keeping limits and sticky sessions in Redis costs, beside
//! the in-memory relay measured in the same repetitions (not a SPEC §15 target: those are
//! judged on the in-memory relay, the default).

use std::fmt::Write;

use super::agg::{differences, fmt_spread, ratios};
use crate::scenario::{Measurement, Scenario};
use crate::targets::Kind;

/// Writes the section for the scenarios in `closed` that both relays ran.
pub fn section(out: &mut String, ms: &[Measurement], closed: &[Scenario]) {
    let c1 = "json-c1";
    let p99 = |m: &Measurement| m.stats.lat_ms(0.99);
    let p50 = |m: &Measurement| m.stats.lat_ms(0.5);
    let _ = writeln!(
        out,
        "Latency at concurrency 1 (`{c1}`, the targets in turn in one window), added over direct, ms; median (min–max) over the rounds:\n"
    );
    let _ = writeln!(out, "| target | added p50 ms | added p99 ms | req/s |");
    let _ = writeln!(out, "|---|---|---|---|");
    for k in [Kind::Relay, Kind::RelayRedis] {
        let rate: Vec<f64> = super::agg::of(ms, c1, k).iter().map(|m| m.rate()).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            k.name(),
            fmt_spread(&differences(ms, c1, k, Kind::Direct, p50), 3),
            fmt_spread(&differences(ms, c1, k, Kind::Direct, p99), 3),
            fmt_spread(&rate, 0),
        );
    }
    let _ = writeln!(
        out,
        "\nPer-repetition ratios, relay+redis / relay; median (min–max):\n"
    );
    let _ = writeln!(
        out,
        "| scenario | throughput | p99 latency | TTFB p99 | proxy CPU per unit |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for s in closed {
        let r = |f: &dyn Fn(&Measurement) -> Option<f64>| {
            fmt_spread(&ratios(ms, s.id, Kind::RelayRedis, Kind::Relay, f), 2)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            s.id,
            r(&|m| Some(m.rate())),
            r(&|m| Some(m.stats.lat_ms(0.99))),
            r(&|m| Some(m.stats.ttfb_ms(0.99))),
            r(&|m| m.cpu_per_unit()),
        );
    }
    let _ = writeln!(
        out,
        "\nThe proxy CPU of relay+redis is the relay's own; the redis-server's CPU is not counted in it.\n"
    );
}
