//! The command line and what each subcommand does.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::plan::{self, AllOptions};
use crate::report::{self, RunInfo};
use crate::scenario::Scenario;
use crate::sysinfo::{loadavg, machine_busy_us, SysInfo};
use crate::targets::{self, relay, Kind, Lab, LabOptions};
use crate::{mock, tools};

/// Benchmark of the relay against bare Pingora, nginx and a direct connection.
#[derive(Debug, Parser)]
#[command(name = "relay-bench", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// Relay binary (default: target/release/relay of this workspace).
    #[arg(long, env = "RELAY_BENCH_RELAY_BIN")]
    relay_bin: Option<PathBuf>,
    /// Do not start nginx.
    #[arg(long)]
    no_nginx: bool,
    /// Do not run the `relay+redis` target (a second relay keeping its limits and sticky
    /// sessions in a redis-server the benchmark starts).
    #[arg(long)]
    no_redis: bool,
    /// How to seed the relay: through its admin API falling back to the repositories
    /// (`auto`), or only one of them.
    #[arg(long, value_enum, default_value_t = relay::Seed::Auto)]
    seed: relay::Seed,
    /// Extra environment for the relay, `NAME=VALUE` (repeatable), e.g. allocator settings.
    #[arg(long = "relay-env", value_parser = parse_env)]
    relay_env: Vec<(String, String)>,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected NAME=VALUE, got {s:?}"))
}

fn parse_target(s: &str) -> Result<(String, SocketAddr, Option<String>), String> {
    let (name, rest) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=ADDR[,KEY], got {s:?}"))?;
    let (addr, key) = match rest.split_once(',') {
        Some((a, k)) => (a, Some(k.to_string())),
        None => (rest, None),
    };
    let addr = addr.parse().map_err(|e| format!("{addr:?}: {e}"))?;
    Ok((name.to_string(), addr, key))
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Every scenario against every target; writes bench/RESULTS.md.
    All {
        #[command(flatten)]
        common: Common,
        /// Report path (default: bench/RESULTS.md).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Do not run `cargo build --release -p relay-proxy` first.
        #[arg(long)]
        no_build: bool,
        /// Repetitions of each closed-loop scenario (the report takes medians: on a noisy
        /// machine five short runs beat three longer ones).
        #[arg(long, default_value_t = 5)]
        reps: usize,
        /// Measured seconds of each closed-loop run.
        #[arg(long, default_value_t = 1.0)]
        seconds: f64,
        /// Warm-up seconds before each closed-loop run.
        #[arg(long, default_value_t = 0.3)]
        warmup: f64,
        /// Streams of the held wave.
        #[arg(long, default_value_t = 1000)]
        held_streams: usize,
        /// Seconds each held stream lasts (20 ms between events).
        #[arg(long, default_value_t = 10)]
        hold_secs: u64,
        /// Held waves against the relay, in a row.
        #[arg(long, default_value_t = 3)]
        relay_waves: usize,
        /// Held waves against bare Pingora, in a row.
        #[arg(long, default_value_t = 2)]
        bare_waves: usize,
        /// Streams of the idle wave (capped to what the descriptor limit allows).
        #[arg(long, default_value_t = 10_000)]
        idle_streams: usize,
        /// Seconds each idle stream lasts (one event per second).
        #[arg(long, default_value_t = 10)]
        idle_secs: u64,
        /// Run only the scenarios whose id starts with one of these (e.g. `held`, `json-c64`).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// A tiny run through every target that fails when any answer is invalid.
    Smoke {
        #[command(flatten)]
        common: Common,
    },
    /// Run the mock upstream.
    Mock {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9300")]
        listen: SocketAddr,
        /// Worker threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// Run the bare Pingora passthrough proxy.
    Bare {
        /// Address to listen on.
        #[arg(long)]
        listen: SocketAddr,
        /// The mock's address.
        #[arg(long)]
        upstream: SocketAddr,
        /// Worker threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Folder for Pingora's pid file and upgrade socket.
        #[arg(long, default_value = "/tmp")]
        dir: PathBuf,
    },
    /// Load the mock directly and report its own throughput (it must not be the bottleneck).
    MockBench {
        /// Measured seconds per scenario.
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
        /// Connections.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
    /// Start every target, print where they are, and keep them up for profiling.
    Lab {
        #[command(flatten)]
        common: Common,
        /// Seconds to keep them up.
        #[arg(long, default_value_t = 300)]
        hold: u64,
    },
    /// Non-stream requests at concurrency 1 to several addresses in turn (see `json-c1`), for
    /// an A/B comparison of latency under the same machine noise.
    Compare {
        /// A target, `NAME=ADDR` or `NAME=ADDR,KEY` (repeatable).
        #[arg(long = "target", value_parser = parse_target, required = true)]
        targets: Vec<(String, SocketAddr, Option<String>)>,
        /// Measured seconds (shared by all targets).
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Milliseconds of back-to-back requests to one target before the next.
        #[arg(long, default_value_t = 200)]
        slice_ms: u64,
        /// Milliseconds at the start of each slice that are not counted.
        #[arg(long, default_value_t = 20)]
        settle_ms: u64,
    },
    /// Load one address (a relay, a proxy, the mock) for profiling.
    Load {
        /// Where to send.
        #[arg(long)]
        addr: SocketAddr,
        /// Relay key (x-api-key).
        #[arg(long)]
        key: Option<String>,
        /// Ask for a stream of this many events (default: non-stream).
        #[arg(long)]
        events: Option<u32>,
        /// Milliseconds between events.
        #[arg(long, default_value_t = 0)]
        interval_ms: u64,
        /// Connections.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Measured seconds.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Raises the soft descriptor limit to the hard one (children inherit it).
pub(crate) fn raise_nofile() -> (u64, u64) {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap_or((1024, 1024))
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

/// Runs the parsed command.
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Cmd::Mock { listen, threads } => mock::run(listen, threads).map(|_| ExitCode::SUCCESS),
        Cmd::Bare {
            listen,
            upstream,
            threads,
            dir,
        } => targets::bare::run(listen, upstream, threads, &dir),
        Cmd::Smoke { common } => smoke(&common),
        Cmd::Lab { common, hold } => tools::lab(&common, Duration::from_secs(hold)),
        Cmd::MockBench {
            seconds,
            concurrency,
        } => tools::mock_bench(secs(seconds), concurrency),
        Cmd::Load {
            addr,
            key,
            events,
            interval_ms,
            concurrency,
            seconds,
        } => tools::load_once(addr, key, events, interval_ms, concurrency, secs(seconds)),
        Cmd::Compare {
            targets,
            seconds,
            slice_ms,
            settle_ms,
        } => tools::compare(
            &targets,
            secs(seconds),
            Duration::from_millis(slice_ms),
            Duration::from_millis(settle_ms),
        ),
        Cmd::All {
            common,
            out,
            no_build,
            reps,
            seconds,
            warmup,
            held_streams,
            hold_secs,
            relay_waves,
            bare_waves,
            idle_streams,
            idle_secs,
            only,
        } => {
            let o = AllOptions {
                reps: reps.max(1),
                warmup: secs(warmup),
                measure: secs(seconds),
                held_streams,
                held_interval_ms: 20,
                hold: Duration::from_secs(hold_secs),
                relay_waves: relay_waves.max(1),
                bare_waves: bare_waves.max(1),
                idle_streams,
                idle_hold: Duration::from_secs(idle_secs),
                only,
            };
            all(&common, out, !no_build, o)
        }
    }
}

pub(crate) fn lab_options(c: &Common, nofile: u64) -> LabOptions {
    LabOptions {
        relay_bin: c.relay_bin.clone().unwrap_or_else(relay::default_binary),
        nginx: !c.no_nginx,
        redis: !c.no_redis,
        mock_threads: 2,
        nofile,
        seed: c.seed,
        relay_env: c.relay_env.clone(),
    }
}

fn smoke(c: &Common) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let (_, hard) = raise_nofile();
    let lo = lab_options(c, hard);
    if !lo.relay_bin.exists() && c.relay_bin.is_none() {
        relay::build()?;
    }
    let rt = runtime()?;
    let (ms, problems, notes) = rt.block_on(async {
        let mut lab = Lab::start(&lo).await?;
        let r = plan::run_smoke(&mut lab).await;
        let notes = lab.notes.clone();
        lab.shutdown();
        let (ms, problems) = r?;
        anyhow::Ok((ms, problems, notes))
    })?;
    for n in &notes {
        eprintln!("note: {n}");
    }
    let valid: u64 = ms.iter().map(|m| m.stats.ok).sum();
    eprintln!(
        "smoke: {valid} valid answers in {} runs, {:.1} s",
        ms.len(),
        started.elapsed().as_secs_f64()
    );
    if problems.is_empty() {
        println!("smoke: ok");
        Ok(ExitCode::SUCCESS)
    } else {
        for p in &problems {
            eprintln!("smoke: FAILED: {p}");
        }
        Ok(ExitCode::FAILURE)
    }
}

fn all(
    c: &Common,
    out: Option<PathBuf>,
    build: bool,
    mut o: AllOptions,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let nofile = raise_nofile();
    let mut notes = Vec::new();
    // A single-process proxy holds two descriptors per proxied stream (client and upstream).
    let cap = (nofile.1.saturating_sub(200) / 2) as usize / 100 * 100;
    if o.idle_streams > cap {
        notes.push(format!(
            "the idle wave ran {cap} streams instead of {}: the hard RLIMIT_NOFILE here is {} and cannot be raised (no CAP_SYS_RESOURCE), and a single-process proxy (bare Pingora, the relay) needs two descriptors per proxied stream, so {} streams would need more than {} descriptors in one process",
            o.idle_streams, nofile.1, o.idle_streams, 2 * o.idle_streams
        ));
        o.idle_streams = cap;
    }
    let build_started = Instant::now();
    if build {
        relay::build()?;
    }
    let build_seconds = build.then(|| build_started.elapsed().as_secs_f64());
    let lo = lab_options(c, nofile.1);
    let load_start = loadavg().0;
    let load_max = Arc::new(AtomicU64::new(load_start.to_bits()));
    let rt = runtime()?;
    let lm = load_max.clone();
    rt.spawn(async move {
        loop {
            let now = loadavg().0;
            let _ = lm.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                Some(f64::from_bits(b).max(now).to_bits())
            });
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    });
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (ms, lab_notes, kinds, nginx, external) = rt.block_on(async {
        let mut lab = Lab::start(&lo).await?;
        eprintln!("targets up (logs in {})", lab.log_dir().display());
        let (busy0, own0, t0) = (machine_busy_us(), lab.own_cpu_us(), Instant::now());
        let r = plan::run_all(&mut lab, &o).await;
        let wall = t0.elapsed().as_secs_f64() * 1e6 * ncpu as f64;
        let others = machine_busy_us()
            .saturating_sub(busy0)
            .saturating_sub(lab.own_cpu_us().saturating_sub(own0));
        let external = (wall > 0.0).then(|| others as f64 / wall);
        let notes = lab.notes.clone();
        let kinds: Vec<Kind> = lab.targets.iter().map(|t| t.kind).collect();
        let nginx = lab.nginx_version.clone();
        lab.shutdown();
        anyhow::Ok((r?, notes, kinds, nginx, external))
    })?;
    notes.extend(lab_notes);
    let sys = SysInfo::read(&relay::workspace_root(), nginx, nofile);
    let closed: Vec<Scenario> = plan::closed_scenarios(&o)
        .into_iter()
        .filter(|s| o.runs(s.id))
        .collect();
    let waves: Vec<Scenario> = [plan::held_scenario(&o), plan::idle_scenario(&o)]
        .into_iter()
        .filter(|s| o.runs(s.id))
        .collect();
    let checks = report::spec::evaluate(&ms, o.idle_streams);
    let info = RunInfo {
        sys,
        started: started_at,
        seconds: started.elapsed().as_secs_f64(),
        build_seconds,
        external,
        load: (
            load_start,
            loadavg().0,
            f64::from_bits(load_max.load(Ordering::Relaxed)).max(loadavg().0),
        ),
        options: o,
        kinds,
        notes,
    };
    let text = report::render(&info, &ms, &closed, &waves, &checks);
    let path = out.unwrap_or_else(|| relay::workspace_root().join("bench").join("RESULTS.md"));
    std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    for c in &checks {
        let v = match c.met {
            Some(true) => "met   ",
            Some(false) => "MISSED",
            None => "n/a   ",
        };
        eprintln!("{v} {} — {} ({})", c.target, c.measured, c.margin);
    }
    eprintln!(
        "wrote {} after {:.0} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
