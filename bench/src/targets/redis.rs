//! The `relay+redis` target: a `redis-server` of the benchmark's own on a free loopback port
//! (nothing kept on disk) and a second relay keeping its key limits, concurrency leases and
//! sticky sessions there (`redis.url`), seeded like the first.

use std::path::Path;
use std::process::Command;

use std::time::{Duration, Instant};

use anyhow::Context;
use http::Method;

use super::{free_addr, relay, wait_port, Kind, LabOptions, Target};
use crate::load::client::oneshot;
use crate::procs::{Observed, Proc};

/// What [`start`] started.
pub struct Started {
    /// The relay+redis target.
    pub target: Target,
    /// The relay, then the redis-server (stopped in that order).
    pub procs: Vec<Proc>,
    /// A line for the report's notes.
    pub note: String,
}

/// The redis-server's version line, when it runs.
fn version() -> anyhow::Result<String> {
    let out = Command::new("redis-server")
        .arg("--version")
        .output()
        .context("redis-server not found (Debian package redis-server)")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Waits until the relay's `/ready` says it shares its counters through Redis (else it would
/// be measured counting alone).
async fn wait_redis_up(addr: std::net::SocketAddr, proc: &mut Proc) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while Instant::now() < deadline {
        proc.check_alive()?;
        if let Ok((_, body)) = oneshot(addr, Method::GET, "/ready", &[], None).await {
            last = String::from_utf8_lossy(&body).into_owned();
            if last.contains(r#""redis":"up""#) {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the relay never reported Redis up; /ready said {last}")
}

/// Starts redis-server and the second relay in front of `upstream_url`.
pub async fn start(dir: &Path, o: &LabOptions, upstream_url: &str) -> anyhow::Result<Started> {
    let version = version()?;
    let redis_dir = dir.join("redis");
    std::fs::create_dir_all(&redis_dir)?;
    let addr = free_addr()?;
    let mut cmd = Command::new("redis-server");
    cmd.args(["--port", &addr.port().to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"]);
    let mut server = Proc::spawn("redis", cmd, &redis_dir)?;
    wait_port(addr, &mut server).await?;

    let relay_dir = dir.join("relay-redis");
    std::fs::create_dir_all(&relay_dir)?;
    let mut env = o.relay_env.clone();
    env.push(("RELAY__REDIS__URL".into(), format!("redis://{addr}")));
    env.push(("RELAY__REDIS__KEY_PREFIX".into(), "bench:".into()));
    let plan = relay::RelayPlan {
        bin: &o.relay_bin,
        dir: &relay_dir,
        listen: free_addr()?,
        admin: free_addr()?,
        metrics: free_addr()?,
        upstream_url: upstream_url.to_string(),
        env: &env,
    };
    let mut r = relay::start(&plan, &relay::new_encryption_key(), o.seed).await?;
    wait_redis_up(plan.listen, &mut r.proc).await?;
    let target = Target {
        kind: Kind::RelayRedis,
        addr: plan.listen,
        key: Some(r.key.clone()),
        proxy: Some(Observed::tree(r.proc.pid())),
        pid: Some(r.proc.pid()),
    };
    Ok(Started {
        target,
        procs: vec![r.proc, server],
        note: format!(
            "relay+redis: a second relay with redis.url pointing at a redis-server started by the benchmark ({version}), the same key limits and session id as the relay"
        ),
    })
}
