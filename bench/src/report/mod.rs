//! `bench/RESULTS.md`: the machine and versions, every scenario's absolute numbers per target,
//! the relay's ratios to the references, the held-stream waves, and the SPEC §15 targets.

pub mod agg;
pub mod redis;
pub mod spec;

use std::fmt::Write;

use agg::{fmt_spread, median, of, ratios};
use spec::Check;

use crate::plan::AllOptions;
use crate::scenario::{Measurement, Scenario};
use crate::sysinfo::SysInfo;
use crate::targets::Kind;

/// Everything the report says besides the measurements.
pub struct RunInfo {
    /// Machine and versions.
    pub sys: SysInfo,
    /// When the run started (UTC, RFC 3339).
    pub started: String,
    /// How long it took, seconds.
    pub seconds: f64,
    /// Of which the relay's release build, when the run built it.
    pub build_seconds: Option<f64>,
    /// Share of the machine's CPU used by processes other than the benchmark's while it ran.
    pub external: Option<f64>,
    /// Load averages (1 min) at the start and at the end, and the highest seen between scenarios.
    pub load: (f64, f64, f64),
    /// The knobs.
    pub options: AllOptions,
    /// Targets that ran.
    pub kinds: Vec<Kind>,
    /// Notes (seeding, skipped targets, limits).
    pub notes: Vec<String>,
}

const ALL: [Kind; 5] = [
    Kind::Direct,
    Kind::Nginx,
    Kind::Bare,
    Kind::Relay,
    Kind::RelayRedis,
];

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn closed_table(out: &mut String, ms: &[Measurement], s: &Scenario, kinds: &[Kind]) {
    let unit = if s.is_stream() { "streams/s" } else { "req/s" };
    let per = if s.is_stream() { "stream" } else { "req" };
    let _ = writeln!(out, "### {} — {}\n", s.id, s.title);
    let _ = writeln!(
        out,
        "| target | {unit} median (min–max) | p50 ms | p90 ms | p99 ms | p99.9 ms | TTFB p50 ms | TTFB p99 ms | errors | proxy CPU µs/{per} | mock CPU µs/{per} | proxy peak RSS MB |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for k in kinds {
        let v = of(ms, s.id, *k);
        if v.is_empty() {
            continue;
        }
        let pick = |f: &dyn Fn(&Measurement) -> f64| median(v.iter().map(|m| f(m)).collect());
        let rates: Vec<f64> = v.iter().map(|m| m.rate()).collect();
        let cpu: Vec<f64> = v.iter().filter_map(|m| m.cpu_per_unit()).collect();
        let mock: Vec<f64> = v.iter().filter_map(|m| m.mock_cpu_per_unit()).collect();
        let peak = v
            .iter()
            .filter_map(|m| m.proxy.as_ref().map(|p| p.rss_peak_kb))
            .max();
        let _ = writeln!(
            out,
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} | {:.1} | {} |",
            k.name(),
            fmt_spread(&rates, 0),
            pick(&|m| m.stats.lat_ms(0.5)),
            pick(&|m| m.stats.lat_ms(0.9)),
            pick(&|m| m.stats.lat_ms(0.99)),
            pick(&|m| m.stats.lat_ms(0.999)),
            pick(&|m| m.stats.ttfb_ms(0.5)),
            pick(&|m| m.stats.ttfb_ms(0.99)),
            v.iter().map(|m| m.stats.errors).sum::<u64>(),
            if cpu.is_empty() {
                "–".into()
            } else {
                format!("{:.1}", median(cpu))
            },
            median(mock),
            peak.map_or("–".into(), |p| format!("{:.1}", mb(p))),
        );
    }
    out.push('\n');
}

/// A named per-measurement figure.
type Metric<'a> = (&'a str, &'a dyn Fn(&Measurement) -> Option<f64>);

fn ratio_table(out: &mut String, ms: &[Measurement], scenarios: &[Scenario], kinds: &[Kind]) {
    let refs: Vec<Kind> = [Kind::Bare, Kind::Nginx, Kind::Direct]
        .into_iter()
        .filter(|k| kinds.contains(k))
        .collect();
    let _ = writeln!(
        out,
        "Per-repetition ratios (each repetition ran the targets back to back, so a ratio compares runs made under the same machine load); median (min–max).\n"
    );
    let mut head = String::from("| scenario | metric |");
    let mut rule = String::from("|---|---|");
    for r in &refs {
        let _ = write!(head, " relay / {} |", r.name());
        rule.push_str("---|");
    }
    let _ = writeln!(out, "{head}\n{rule}");
    for s in scenarios {
        let rows: [Metric; 4] = [
            ("throughput", &|m| Some(m.rate())),
            ("p99 latency", &|m| Some(m.stats.lat_ms(0.99))),
            ("TTFB p99", &|m| Some(m.stats.ttfb_ms(0.99))),
            ("proxy CPU per unit", &|m| m.cpu_per_unit()),
        ];
        for (name, f) in rows {
            let mut line = format!("| {} | {name} |", s.id);
            for r in &refs {
                let v = ratios(ms, s.id, Kind::Relay, *r, f);
                let _ = write!(line, " {} |", fmt_spread(&v, 2));
            }
            let _ = writeln!(out, "{line}");
        }
    }
    out.push('\n');
}

fn wave_table(out: &mut String, ms: &[Measurement], s: &Scenario, kinds: &[Kind]) {
    let _ = writeln!(out, "### {} — {}\n", s.id, s.title);
    let _ = writeln!(
        out,
        "| target | wave | valid | errors | open at once | TTFB p50 / p99 ms | completion p50 / p99 s | proxy RSS before / peak / after MB | VmHWM MB | proxy fds peak | proxy CPU µs/stream | mock CPU µs/stream |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for k in kinds {
        for m in of(ms, s.id, *k) {
            let (rss, hwm, fds) = match &m.proxy {
                Some(p) => (
                    format!(
                        "{:.1} / {:.1} / {:.1}",
                        mb(p.rss_before_kb),
                        mb(p.rss_peak_kb),
                        mb(p.rss_after_kb)
                    ),
                    format!("{:.1}", mb(p.hwm_kb)),
                    p.fds_peak.to_string(),
                ),
                None => ("–".into(), "–".into(), "–".into()),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {:.2} / {:.2} | {:.2} / {:.2} | {} | {} | {} | {} | {} |",
                k.name(),
                m.rep + 1,
                m.stats.ok,
                m.stats.errors,
                m.max_open,
                m.stats.ttfb_ms(0.5),
                m.stats.ttfb_ms(0.99),
                m.stats.lat_ms(0.5) / 1000.0,
                m.stats.lat_ms(0.99) / 1000.0,
                rss,
                hwm,
                fds,
                m.cpu_per_unit().map_or("–".into(), |c| format!("{c:.0}")),
                m.mock_cpu_per_unit()
                    .map_or("–".into(), |c| format!("{c:.0}")),
            );
        }
    }
    out.push('\n');
}

fn threads_table(out: &mut String, ms: &[Measurement], scenarios: &[Scenario], kinds: &[Kind]) {
    let _ = writeln!(
        out,
        "Proxy CPU per unit split by thread name (from `/proc/<pid>/task/*/stat`; median over repetitions). In the relay, `Pingora HTTP Pr…` threads run the hot path; `relay-core` (the admin API, snapshot watcher and usage-row batching) and `sqlx-sqlite-wor…` (SQLite) run the usage pipeline.\n"
    );
    let _ = writeln!(
        out,
        "| scenario | target | total µs/unit | by thread, µs/unit |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for s in scenarios {
        for k in kinds.iter().filter(|k| **k != Kind::Direct) {
            let v = of(ms, s.id, *k);
            if v.is_empty() {
                continue;
            }
            let mut names: Vec<String> = v
                .iter()
                .filter_map(|m| m.proxy.as_ref())
                .flat_map(|p| p.threads.keys().cloned())
                .collect();
            names.sort();
            names.dedup();
            let mut parts: Vec<(f64, String)> = names
                .into_iter()
                .map(|n| {
                    let per: Vec<f64> = v
                        .iter()
                        .filter(|m| m.stats.ok > 0)
                        .map(|m| {
                            let t = m
                                .proxy
                                .as_ref()
                                .and_then(|p| p.threads.get(&n))
                                .copied()
                                .unwrap_or(0);
                            t as f64 / m.stats.ok as f64
                        })
                        .collect();
                    (median(per), n)
                })
                .filter(|(x, _)| *x >= 0.05)
                .collect();
            parts.sort_by(|a, b| b.0.total_cmp(&a.0));
            let total = median(v.iter().filter_map(|m| m.cpu_per_unit()).collect());
            let _ = writeln!(
                out,
                "| {} | {} | {total:.1} | {} |",
                s.id,
                k.name(),
                parts
                    .iter()
                    .map(|(x, n)| format!("{n} {x:.1}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    out.push('\n');
}

fn checks_table(out: &mut String, checks: &[Check]) {
    let _ = writeln!(
        out,
        "| SPEC §15 target | measured (relay) | verdict | margin |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for c in checks {
        let verdict = match c.met {
            Some(true) => "**met**",
            Some(false) => "**missed**",
            None => "not measured",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {verdict} | {} |",
            c.target, c.measured, c.margin
        );
    }
    out.push('\n');
}

fn errors_section(out: &mut String, ms: &[Measurement]) {
    let failing: Vec<&Measurement> = ms.iter().filter(|m| m.stats.errors > 0).collect();
    if failing.is_empty() {
        let _ = writeln!(out, "Every response of every run passed validation.\n");
        return;
    }
    let _ = writeln!(out, "| scenario | target | rep | errors | first messages |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for m in failing {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            m.scenario,
            m.target.name(),
            m.rep + 1,
            m.stats.error_summary(),
            m.stats
                .samples
                .iter()
                .take(2)
                .map(|s| s.replace('|', "/").replace('\n', " "))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    out.push('\n');
}

/// Renders the whole report.
pub fn render(
    info: &RunInfo,
    ms: &[Measurement],
    closed: &[Scenario],
    waves: &[Scenario],
    checks: &[Check],
) -> String {
    let kinds: Vec<Kind> = ALL.into_iter().filter(|k| info.kinds.contains(k)).collect();
    let s = &info.sys;
    let o = &info.options;
    let mut out = String::new();
    let _ = writeln!(out, "# Relay benchmark results\n");
    let build = match info.build_seconds {
        Some(b) if b >= 5.0 => format!(
            " ({b:.0} s of it rebuilding the relay's release binary, {:.0} s benchmarking)",
            info.seconds - b
        ),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "Produced by `cargo run -p relay-bench --release -- all` (also `make bench`) on {}; the run took {:.0} s{build}. Regenerate rather than edit.\n",
        info.started, info.seconds
    );
    let _ = writeln!(out, "## Machine and versions\n");
    let _ = writeln!(out, "- CPU: {} × {}", s.nproc, s.cpu_model);
    let _ = writeln!(out, "- memory: {:.1} GiB; kernel {}", s.mem_gib, s.kernel);
    let _ = writeln!(
        out,
        "- load average (1 min): {:.2} at start, {:.2} at end, {:.2} highest during the run (the benchmark itself keeps about 2 runnable)",
        info.load.0, info.load.1, info.load.2
    );
    if let Some(x) = info.external {
        let _ = writeln!(
            out,
            "- CPU used by other processes during the benchmark (machine busy time from `/proc/stat` minus the benchmark's own processes): {:.0} % of the machine",
            x * 100.0
        );
        if x > 0.10 {
            let _ = writeln!(
                out,
                "- **noisy run**: other work (builds and tests of other engineers share this machine) took {:.0} % of the CPU while this ran; absolute numbers are depressed and spread out — the per-repetition ratios and the CPU-per-unit figures are the steadier ones",
                x * 100.0
            );
        }
    }
    let _ = writeln!(
        out,
        "- open-file limit (RLIMIT_NOFILE) of the driver and its children: soft {}, hard {}",
        s.nofile.0, s.nofile.1
    );
    let _ = writeln!(out, "- {}", s.rustc);
    let _ = writeln!(out, "- relay commit {}", s.relay_commit);
    let _ = writeln!(out, "- pingora {}", s.pingora);
    let _ = writeln!(
        out,
        "- nginx: {}\n",
        s.nginx.as_deref().unwrap_or("not run")
    );
    let _ = writeln!(out, "## Method\n");
    let _ = writeln!(
        out,
        "Everything runs on this machine over loopback and shares its {} cores: the load generator (this crate, tokio + hyper 1, one keep-alive connection per concurrent client, 2 runtime threads), the mock upstream (this crate, hand-rolled HTTP/1.1 on tokio, 2 threads), and one of the targets in front of the same mock: **direct** (no proxy, the floor), **nginx** (2 workers, `proxy_buffering off`, HTTP/1.1 upstream keep-alive), **bare Pingora** (pingora {} standard pipeline, `upstream_peer` only, 2 threads; the framework's limit) and the **relay** (`target/release/relay serve`, SQLite, 2 threads, authentication, account selection, SSE accounting, usage rows and the usage journal all on; its key has every limit of SPEC §4 set (far above what is sent, so that each request is checked and counted against all of them: spend per day, week, month, five hours and in total, requests per minute, requests in flight) and every request carries a Claude Code session id (its sticky pin is read and renewed); log level `warn`, so without the per-request log line, as nginx runs with `access_log off`; `server.max_connections_per_ip: 0`, since every connection of the load comes from 127.0.0.1), and **relay+redis**, a second relay configured the same way but with `redis.url` set: its limits, concurrency leases and pins live in a redis-server the benchmark starts (one Lua round trip before forwarding, the rest written off the request path); it runs the closed and paced scenarios, not the held-stream waves.\n",
        s.nproc, s.pingora
    );
    let _ = writeln!(
        out,
        "Closed-loop scenarios run {} repetitions of {:.1} s (after {:.1} s warm-up); within a repetition the targets run back to back, starting one target later each repetition. The exception is `json-c1`, the latency comparison at concurrency 1: there the targets take turns within one window, 200 ms of back-to-back requests each (the first 20 ms not counted), starting one target later each round, for {:.1} s per target: a burst of machine noise lasting seconds then falls on every target alike instead of on whichever ran at the time. Its req/s is one over the mean latency (answers over the time spent waiting on that target), and the mock's CPU is shared out by answers. `sse50-paced` is an open loop instead: its streams start on a fixed schedule, the same for every target, spread over 128 keep-alive connections at the rate that keeps about 64 in flight; a start that finds its connection still busy goes out late and the delay counts in its timings, and a stream counts when its start falls in the window. It judges the time-to-first-byte target: in the closed loop `sse50-c64` a faster target completes more streams per second, so its mock is busier and its own time to first byte longer, which says nothing about the proxy's added delay. Every response is validated: status 200, the mock's echo of the request body size, a JSON answer with `usage`, or an SSE stream with every event, `message_start` first, the cumulative `output_tokens` in `message_delta` and `message_stop` last. CPU time is the proxy's `utime + stime` from `/proc/<pid>/stat` over the measured window divided by the valid answers in it (summed over nginx's master and workers); peak RSS is the highest `VmRSS` sampled every 50 ms.\n",
        o.reps,
        o.measure.as_secs_f64(),
        o.warmup.as_secs_f64(),
        o.measure.as_secs_f64()
    );
    let _ = writeln!(out, "## SPEC §15 targets\n");
    checks_table(&mut out, checks);
    let _ = writeln!(out, "## Ratios\n");
    ratio_table(&mut out, ms, closed, &kinds);
    if kinds.contains(&Kind::RelayRedis) {
        let _ = writeln!(out, "## relay+redis beside the in-memory relay\n");
        redis::section(&mut out, ms, closed);
    }
    let _ = writeln!(out, "## Closed-loop and paced scenarios\n");
    for sc in closed {
        closed_table(&mut out, ms, sc, &kinds);
    }
    let _ = writeln!(out, "### Where the proxies' CPU goes\n");
    threads_table(&mut out, ms, closed, &kinds);
    let _ = writeln!(out, "## Held streams\n");
    let _ = writeln!(
        out,
        "Each wave opens its streams evenly over the ramp and holds each to its end; 'after' is the RSS 1.5 s (held) / 0.5 s (idle) after the wave. The relay's waves run in a row against the same process.\n"
    );
    for w in waves {
        wave_table(&mut out, ms, w, &kinds);
    }
    let _ = writeln!(out, "## Validation errors\n");
    errors_section(&mut out, ms);
    if !info.notes.is_empty() {
        let _ = writeln!(out, "## Notes\n");
        for n in &info.notes {
            let _ = writeln!(out, "- {n}");
        }
        out.push('\n');
    }
    out
}
