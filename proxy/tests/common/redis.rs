//! Redis for the limits tests: the machine's server (127.0.0.1:6379, or
//! `RELAY_TEST_REDIS_URL`) with a key prefix per test, and a `redis-server` of the test's own
//! on a free port that a test can stop and start again. With `CI` set an unreachable server
//! fails the test; elsewhere the test is skipped with a loud message.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The shared server's URL, or `None` (with a message) when it is unreachable outside CI.
pub fn shared() -> Option<String> {
    let url =
        std::env::var("RELAY_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let addr = url.trim_start_matches("redis://").trim_end_matches('/');
    match TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2)) {
        Ok(_) => Some(url),
        Err(e) => {
            if std::env::var_os("CI").is_some() {
                panic!("Redis at {url} is required in CI and unreachable: {e}");
            }
            eprintln!("!!! SKIPPING this Redis test: {url} unreachable ({e}); set CI=1 to make this fatal");
            None
        }
    }
}

/// A key prefix no other test uses.
pub fn prefix(test: &str) -> String {
    format!(
        "t-{test}-{}-{:08x}:",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// Sends one command and reads its answer: an integer, a bulk string, `None` for nil.
pub fn command(url: &str, args: &[&str]) -> Option<String> {
    let addr = url.trim_start_matches("redis://").trim_end_matches('/');
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes()).ok()?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let line = line.trim_end();
    match line.as_bytes().first()? {
        b':' | b'+' => Some(line[1..].to_string()),
        b'$' if line == "$-1" => None,
        b'$' => {
            let mut v = String::new();
            r.read_line(&mut v).ok()?;
            Some(v.trim_end().to_string())
        }
        _ => panic!("Redis answered {line}"),
    }
}

/// A `redis-server` of the test's own.
pub struct OwnRedis {
    child: Option<Child>,
    /// Its port.
    pub port: u16,
}

impl OwnRedis {
    /// Starts one on a free port, keeping nothing on disk.
    pub fn start() -> OwnRedis {
        let mut r = OwnRedis {
            child: None,
            port: super::free_port(),
        };
        r.resume();
        r
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it again (empty, as a restarted Redis without persistence is) on its port.
    pub fn resume(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server) must be installed");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while command(&self.url(), &["PING"]).as_deref() != Some("PONG") {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops it (SIGKILL: it vanishes as a crashed server does).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
