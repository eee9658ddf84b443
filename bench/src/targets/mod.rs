//! Everything the load is sent to, started on loopback ports: the mock upstream (the
//! "direct" target), nginx, the bare Pingora proxy and the relay, each in front of the same
//! mock.

pub mod bare;
pub mod nginx;
pub mod redis;
pub mod relay;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::procs::{Observed, Proc};

/// Which path the load takes to the mock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Straight to the mock (the floor).
    Direct,
    /// Through nginx.
    Nginx,
    /// Through the bare Pingora proxy.
    Bare,
    /// Through the relay.
    Relay,
    /// Through a second relay whose limits and sticky sessions live in Redis.
    RelayRedis,
}

impl Kind {
    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Direct => "direct",
            Kind::Nginx => "nginx",
            Kind::Bare => "bare Pingora",
            Kind::Relay => "relay",
            Kind::RelayRedis => "relay+redis",
        }
    }
}

/// One target.
#[derive(Debug, Clone)]
pub struct Target {
    /// Which.
    pub kind: Kind,
    /// Where to send requests.
    pub addr: SocketAddr,
    /// Relay key to send (the relay only).
    pub key: Option<String>,
    /// The proxy's processes (none for the direct target).
    pub proxy: Option<Observed>,
    /// The proxy's main process id.
    pub pid: Option<u32>,
}

/// What to start.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Relay binary.
    pub relay_bin: PathBuf,
    /// Start nginx (installing it when missing).
    pub nginx: bool,
    /// Start a redis-server and the `relay+redis` target.
    pub redis: bool,
    /// Worker threads of the mock.
    pub mock_threads: usize,
    /// Descriptor limit handed to nginx's workers.
    pub nofile: u64,
    /// How to seed the relay.
    pub seed: relay::Seed,
    /// Extra environment for the relay.
    pub relay_env: Vec<(String, String)>,
}

/// The running targets.
pub struct Lab {
    /// Temporary folder of every process (kept until the lab is dropped).
    pub dir: tempfile::TempDir,
    /// The mock's processes.
    pub mock: Observed,
    /// Targets in start order (direct first).
    pub targets: Vec<Target>,
    /// nginx version, when it runs.
    pub nginx_version: Option<String>,
    /// How the relay was seeded, and notes on the way.
    pub notes: Vec<String>,
    relay_proc: Option<Proc>,
    /// The relay+redis process, then its redis-server.
    redis_procs: Vec<Proc>,
    others: Vec<Proc>,
}

/// A free TCP port on 127.0.0.1.
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

pub(crate) async fn wait_port(addr: SocketAddr, proc: &mut Proc) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        proc.check_alive()?;
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!(
        "{} did not listen on {addr}:\n{}",
        proc.name,
        proc.log_tail()
    )
}

pub(crate) fn self_command() -> anyhow::Result<Command> {
    Ok(Command::new(
        std::env::current_exe().context("cannot find this binary")?,
    ))
}

impl Lab {
    /// Starts the mock, nginx (if asked), the bare proxy and the relay.
    pub async fn start(o: &LabOptions) -> anyhow::Result<Lab> {
        let dir = tempfile::Builder::new().prefix("relay-bench-").tempdir()?;
        let d = dir.path().to_path_buf();
        let mut others = Vec::new();
        let mut notes = Vec::new();

        let mock_addr = free_addr()?;
        let mut cmd = self_command()?;
        cmd.args(["mock", "--listen", &mock_addr.to_string(), "--threads"])
            .arg(o.mock_threads.to_string());
        let mut mock = Proc::spawn("mock", cmd, &d)?;
        wait_port(mock_addr, &mut mock).await?;
        let mock_obs = Observed::tree(mock.pid());
        others.push(mock);
        let mut targets = vec![Target {
            kind: Kind::Direct,
            addr: mock_addr,
            key: None,
            proxy: None,
            pid: None,
        }];

        let mut nginx_version = None;
        if o.nginx {
            match nginx::binary(true) {
                Ok(bin) => {
                    let addr = free_addr()?;
                    let mut p = nginx::start(&bin, &d, addr, mock_addr, o.nofile)?;
                    wait_port(addr, &mut p).await?;
                    // The master forks its workers after binding; give them a moment.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    targets.push(Target {
                        kind: Kind::Nginx,
                        addr,
                        key: None,
                        proxy: Some(Observed::tree(p.pid())),
                        pid: Some(p.pid()),
                    });
                    nginx_version = Some(nginx::version(&bin));
                    others.push(p);
                }
                Err(e) => notes.push(format!("nginx skipped: {e:#}")),
            }
        }

        let bare_addr = free_addr()?;
        let mut cmd = self_command()?;
        cmd.args(["bare", "--listen", &bare_addr.to_string()])
            .args(["--upstream", &mock_addr.to_string(), "--threads", "2"])
            .arg("--dir")
            .arg(&d);
        let mut bare = Proc::spawn("bare", cmd, &d)?;
        wait_port(bare_addr, &mut bare).await?;
        targets.push(Target {
            kind: Kind::Bare,
            addr: bare_addr,
            key: None,
            proxy: Some(Observed::tree(bare.pid())),
            pid: Some(bare.pid()),
        });
        others.push(bare);

        let relay_dir = d.join("relay");
        std::fs::create_dir_all(&relay_dir)?;
        let plan = relay::RelayPlan {
            bin: &o.relay_bin,
            dir: &relay_dir,
            listen: free_addr()?,
            admin: free_addr()?,
            metrics: free_addr()?,
            upstream_url: format!("http://{mock_addr}"),
            env: &o.relay_env,
        };
        let r = relay::start(&plan, &relay::new_encryption_key(), o.seed).await?;
        for (k, v) in &o.relay_env {
            notes.push(format!("relay started with {k}={v}"));
        }
        notes.push(match (r.seeded, &r.api_note) {
            (relay::SeedPath::AdminApi, _) => {
                "relay seeded through its admin API (login, POST /admin/accounts, POST /api-keys)"
                    .to_string()
            }
            (relay::SeedPath::Repository, n) => format!(
                "relay seeded by writing rows with relay-shared's repositories (admin API path: {})",
                n.as_deref().unwrap_or("not tried")
            ),
        });
        targets.push(Target {
            kind: Kind::Relay,
            addr: plan.listen,
            key: Some(r.key.clone()),
            proxy: Some(Observed::tree(r.proc.pid())),
            pid: Some(r.proc.pid()),
        });
        let mut redis_procs = Vec::new();
        if o.redis {
            match redis::start(&d, o, &format!("http://{mock_addr}")).await {
                Ok(started) => {
                    notes.push(started.note);
                    targets.push(started.target);
                    redis_procs = started.procs;
                }
                Err(e) => notes.push(format!("relay+redis skipped: {e:#}")),
            }
        }
        Ok(Lab {
            dir,
            mock: mock_obs,
            targets,
            nginx_version,
            notes,
            relay_proc: Some(r.proc),
            redis_procs,
            others,
        })
    }

    /// The target of a kind, if it runs.
    pub fn target(&self, kind: Kind) -> Option<&Target> {
        self.targets.iter().find(|t| t.kind == kind)
    }

    /// CPU time (µs) of every process of the benchmark: this driver, the mock and the proxies.
    pub fn own_cpu_us(&self) -> u64 {
        let me = Observed::single(std::process::id()).cpu_us();
        let proxies: u64 = self
            .targets
            .iter()
            .filter_map(|t| t.proxy.as_ref())
            .map(Observed::cpu_us)
            .sum();
        me + self.mock.cpu_us() + proxies
    }

    /// Fails when any process has died.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(r) = self.relay_proc.as_mut() {
            r.check_alive()?;
        }
        for p in &mut self.redis_procs {
            p.check_alive()?;
        }
        for p in &mut self.others {
            p.check_alive()?;
        }
        Ok(())
    }

    /// Where the processes' logs are.
    pub fn log_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Stops everything: the relay with SIGINT (it flushes its usage rows), the rest after.
    pub fn shutdown(mut self) {
        if let Some(mut r) = self.relay_proc.take() {
            r.stop("INT", Duration::from_secs(20));
        }
        for mut p in self.redis_procs.drain(..) {
            p.stop("INT", Duration::from_secs(20));
        }
        while let Some(mut p) = self.others.pop() {
            p.stop("TERM", Duration::from_secs(3));
        }
    }
}
