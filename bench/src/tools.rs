//! The investigation subcommands: `lab` (start every target and keep it up), `mock-bench`
//! (load the mock directly) and `load` (load any address), for profiling.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::cli::Common;
use crate::load::client::RequestSpec;
use crate::procs::Observed;
use crate::protocol;
use crate::scenario::{measure, Scenario, Shape};
use crate::targets::{self, Kind, Lab, Target};

pub fn lab(c: &Common, hold: Duration) -> anyhow::Result<ExitCode> {
    let (_, hard) = crate::cli::raise_nofile();
    let lo = crate::cli::lab_options(c, hard);
    crate::cli::runtime()?.block_on(async {
        let lab = Lab::start(&lo).await?;
        for t in &lab.targets {
            println!(
                "{:<13} addr {} pid {} key {}",
                t.kind.name(),
                t.addr,
                t.pid.map_or("-".into(), |p| p.to_string()),
                t.key.as_deref().unwrap_or("-")
            );
        }
        println!(
            "logs in {}; up for {} s",
            lab.log_dir().display(),
            hold.as_secs()
        );
        // SIGTERM too (what `kill` and `pkill` send): leaving without `shutdown` would orphan
        // the mock, the proxies and their ports.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::time::sleep(hold) => {}
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        lab.shutdown();
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

pub fn mock_bench(seconds: Duration, concurrency: usize) -> anyhow::Result<ExitCode> {
    crate::cli::raise_nofile();
    let rt = crate::cli::runtime()?;
    rt.block_on(async {
        let dir = tempfile::tempdir()?;
        let addr = targets::free_addr()?;
        let mut cmd = std::process::Command::new(std::env::current_exe()?);
        cmd.args(["mock", "--listen", &addr.to_string()]);
        let mut p = crate::procs::Proc::spawn("mock", cmd, dir.path())?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            p.check_alive()?;
            anyhow::ensure!(Instant::now() < deadline, "mock did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let obs = Observed::tree(p.pid());
        let t = Target {
            kind: Kind::Direct,
            addr,
            key: None,
            proxy: None,
            pid: None,
        };
        let shape = Shape::Closed {
            concurrency,
            warmup: Duration::from_millis(300),
            measure: seconds,
        };
        let mut large = Scenario::json("body256k", "256 KiB body", shape);
        large.body = Bytes::from(protocol::large_body());
        for s in [
            Scenario::json("json", "non-stream", shape),
            Scenario::sse("sse50", "50-event stream", 50, 0, shape),
            large,
        ] {
            let m = measure(&s, &t, &obs, 0).await;
            let busy = m.mock.cpu_us as f64 / (m.seconds * 1e6);
            println!(
                "mock {:<9} c={concurrency}: {:>9.0}/s p50 {:.3} ms p99 {:.3} ms errors {} — mock CPU {:.1} µs/unit, {:.2} cores busy",
                s.id,
                m.rate(),
                m.stats.lat_ms(0.5),
                m.stats.lat_ms(0.99),
                m.stats.errors,
                m.mock_cpu_per_unit().unwrap_or(0.0),
                busy
            );
        }
        p.stop("TERM", Duration::from_secs(2));
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// A request for `load` and `compare`: a stream of `events` events `interval_ms` apart, or
/// (`None`) a JSON answer.
fn spec_for(
    addr: SocketAddr,
    key: Option<String>,
    events: Option<u32>,
    interval_ms: u64,
) -> RequestSpec {
    RequestSpec {
        path: protocol::messages_path(events.unwrap_or(50), interval_ms),
        host: addr.to_string(),
        key,
        body: Bytes::from(protocol::small_body(events.is_some())),
        sse_events: events.map(protocol::total_events),
        timeout: Duration::from_secs(60),
    }
}

pub fn load_once(
    addr: SocketAddr,
    key: Option<String>,
    events: Option<u32>,
    interval_ms: u64,
    concurrency: usize,
    seconds: Duration,
) -> anyhow::Result<ExitCode> {
    crate::cli::raise_nofile();
    let rt = crate::cli::runtime()?;
    rt.block_on(async {
        let spec = Arc::new(spec_for(addr, key, events, interval_ms));
        let w = crate::load::Window::after(Duration::from_millis(200), seconds);
        let st = crate::load::closed_loop(addr, spec, concurrency, w).await;
        println!(
            "{:.0}/s p50 {:.3} ms p99 {:.3} ms ttfb p50 {:.3} ms p99 {:.3} ms errors {} {}",
            st.ok as f64 / w.seconds(),
            st.lat_ms(0.5),
            st.lat_ms(0.99),
            st.ttfb_ms(0.5),
            st.ttfb_ms(0.99),
            st.errors,
            st.samples.first().cloned().unwrap_or_default()
        );
    });
    Ok(ExitCode::SUCCESS)
}

/// `compare`: concurrency 1, a slice of back-to-back requests to each target in turn.
pub fn compare(
    targets: &[(String, SocketAddr, Option<String>)],
    seconds: Duration,
    slice: Duration,
    settle: Duration,
) -> anyhow::Result<ExitCode> {
    let rt = crate::cli::runtime()?;
    rt.block_on(async {
        let specs: Vec<_> = targets
            .iter()
            .map(|(_, addr, key)| (*addr, Arc::new(spec_for(*addr, key.clone(), None, 0))))
            .collect();
        let w = crate::load::Window::after(Duration::from_millis(300), seconds);
        // On a runtime worker, like the load of `all` (from `block_on` every exchange would
        // add a hop from the IO-driving worker to this thread).
        let all = tokio::spawn(async move {
            crate::load::alternate::alternating(&specs, w, slice, settle).await
        })
        .await
        .unwrap_or_default();
        for ((name, _, _), st) in targets.iter().zip(all) {
            println!(
                "{name:<12} {:>7} answers p50 {:.3} ms p90 {:.3} ms p99 {:.3} ms p99.9 {:.3} ms mean {:.3} ms errors {} {}",
                st.ok,
                st.lat_ms(0.5),
                st.lat_ms(0.9),
                st.lat_ms(0.99),
                st.lat_ms(0.999),
                st.latency.mean() / 1000.0,
                st.errors,
                st.samples.first().cloned().unwrap_or_default()
            );
        }
    });
    Ok(ExitCode::SUCCESS)
}
