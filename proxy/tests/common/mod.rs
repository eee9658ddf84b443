//! Test support: run the real `relay` binary in a temporary working directory on free ports,
//! with its standard output and error captured to files.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod fixture;
pub mod forwarder;
pub mod mock;
pub mod proxies;
pub mod redis;
pub mod scrape;
pub mod tls;
pub mod world;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Path of the shipped configuration file.
pub fn shipped_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config.yaml")
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `relay` with `args` in `dir` to completion, returning (status, stdout, stderr).
pub fn run_relay(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String, String) {
    let out = base_command(dir, env).args(args).output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn base_command(dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_relay"));
    cmd.current_dir(dir);
    for var in [
        "JWT_SECRET",
        "RELAY_ENCRYPTION_KEY",
        "ADMIN_PASSWORD",
        "RUST_LOG",
        "RELAY_CONFIG",
    ] {
        cmd.env_remove(var);
    }
    for (k, _) in std::env::vars() {
        if k.starts_with("RELAY__") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// A running `relay serve`.
pub struct Relay {
    child: Option<Child>,
    /// Working directory (holds `data/`).
    pub dir: PathBuf,
    /// Base URL of the front door.
    pub base: String,
    /// Base URL of the admin sidecar.
    pub admin_base: String,
    /// Base URL of the metrics endpoint.
    pub metrics_base: String,
    /// How the process exited, once it has.
    pub exit: Option<ExitStatus>,
    run: u32,
}

impl Relay {
    /// Starts `relay serve` in `dir` with the shipped config, free ports and `env`, and waits
    /// until `/health` answers. `run` numbers the output files (`stdout-<run>.txt`).
    pub fn start(dir: &Path, run: u32, env: &[(&str, &str)]) -> Relay {
        Self::start_with_config(dir, run, env, &shipped_config())
    }

    /// [`Relay::start`] with the configuration file `config`.
    pub fn start_with_config(dir: &Path, run: u32, env: &[(&str, &str)], config: &Path) -> Relay {
        let port = free_port();
        let metrics_listen = format!("127.0.0.1:{}", free_port());
        let admin_port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let admin_listen = format!("127.0.0.1:{admin_port}");
        let mut all: Vec<(&str, &str)> = vec![
            ("RELAY__SERVER__LISTEN", &listen),
            ("RELAY__ADMIN__LISTEN", &admin_listen),
            ("RELAY__METRICS__LISTEN", &metrics_listen),
        ];
        all.extend_from_slice(env);
        let stdout = std::fs::File::create(dir.join(format!("stdout-{run}.txt"))).unwrap();
        let stderr = std::fs::File::create(dir.join(format!("stderr-{run}.txt"))).unwrap();
        let child = base_command(dir, &all)
            .args(["--config", config.to_str().unwrap(), "serve"])
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr))
            .spawn()
            .unwrap();
        let relay = Relay {
            child: Some(child),
            dir: dir.to_path_buf(),
            base: format!("http://{listen}"),
            admin_base: format!("http://{admin_listen}"),
            metrics_base: format!("http://{metrics_listen}"),
            exit: None,
            run,
        };
        relay.wait_healthy();
        relay
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = client();
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{}/health", self.base)).send() {
                if r.status().is_success() {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("relay did not become healthy; stderr:\n{}", self.stderr());
    }

    /// Stops the process (SIGINT, fast shutdown) and waits for it.
    pub fn stop(&mut self) {
        self.send("-INT");
        self.wait_exit();
    }

    /// Sends SIGTERM (graceful: drain, then stop) and waits for the exit; returns how long it took.
    pub fn terminate(&mut self) -> Duration {
        self.send_term();
        self.wait_exit()
    }

    /// Kills the process with SIGKILL (no shutdown code runs) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM without waiting.
    pub fn send_term(&self) {
        self.send("-TERM");
    }

    /// Sends SIGHUP (reload the configuration).
    pub fn send_hup(&self) {
        self.send("-HUP");
    }

    /// The text of `GET /metrics`.
    pub fn metrics(&self) -> String {
        client()
            .get(format!("{}/metrics", self.metrics_base))
            .send()
            .unwrap()
            .text()
            .unwrap()
    }

    fn send(&self, sig: &str) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args([sig, &child.id().to_string()])
                .status();
        }
    }

    /// Waits for the process to exit (up to 40 s, then kills it); returns how long it took.
    pub fn wait_exit(&mut self) -> Duration {
        let started = Instant::now();
        if let Some(mut child) = self.child.take() {
            while started.elapsed() < Duration::from_secs(40) {
                if let Some(status) = child.try_wait().unwrap() {
                    self.exit = Some(status);
                    return started.elapsed();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        started.elapsed()
    }

    /// Everything the process printed on standard output so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("stdout-{}.txt", self.run)))
            .unwrap_or_default()
    }

    /// Everything the process printed on standard error (its log) so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("stderr-{}.txt", self.run)))
            .unwrap_or_default()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A blocking HTTP client with short timeouts.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}
