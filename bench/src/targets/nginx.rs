//! nginx as the mature-proxy reference: Debian's package (installed with apt-get when
//! missing), 2 workers, `proxy_buffering off`, HTTP/1.1 with upstream keep-alive, run in the
//! foreground with its own configuration and prefix in a temporary folder.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::procs::Proc;

/// Finds nginx, installing Debian's package when it is missing and we may.
pub fn binary(install: bool) -> anyhow::Result<PathBuf> {
    for p in ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"] {
        if Path::new(p).exists() {
            return Ok(PathBuf::from(p));
        }
    }
    anyhow::ensure!(install, "nginx is not installed (apt-get install nginx)");
    eprintln!("nginx missing: installing Debian's package with apt-get");
    let quiet = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
    };
    let _ = quiet(&["update", "-qq"]);
    let st = quiet(&["install", "-y", "-qq", "nginx"]).context("cannot run apt-get")?;
    anyhow::ensure!(st.success(), "apt-get install nginx failed ({st})");
    anyhow::ensure!(
        Path::new("/usr/sbin/nginx").exists(),
        "apt-get did not install nginx"
    );
    Ok(PathBuf::from("/usr/sbin/nginx"))
}

/// `nginx -v`, e.g. "nginx/1.22.1".
pub fn version(bin: &Path) -> String {
    Command::new(bin)
        .arg("-v")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string())
        .map(|s| s.trim_start_matches("nginx version: ").to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The configuration: `nofile` is the per-worker descriptor limit.
pub fn config(dir: &Path, listen: SocketAddr, upstream: SocketAddr, nofile: u64) -> String {
    let d = dir.display();
    let conns = nofile.saturating_sub(100).max(1024);
    format!(
        r#"user root root;
worker_processes 2;
worker_rlimit_nofile {nofile};
daemon off;
master_process on;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{
    worker_connections {conns};
    multi_accept on;
}}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    client_max_body_size 64m;
    client_body_buffer_size 512k;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    upstream mock {{
        server {upstream};
        keepalive 256;
        keepalive_requests 1000000;
        keepalive_timeout 60s;
    }}
    server {{
        listen {listen} backlog=16384;
        location / {{
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 300s;
            proxy_send_timeout 300s;
        }}
    }}
}}
"#
    )
}

/// Writes the configuration into `dir` and starts nginx in the foreground.
pub fn start(
    bin: &Path,
    dir: &Path,
    listen: SocketAddr,
    upstream: SocketAddr,
    nofile: u64,
) -> anyhow::Result<Proc> {
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, config(dir, listen, upstream, nofile))?;
    let mut cmd = Command::new(bin);
    cmd.arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(dir.join("nginx-error.log"));
    Proc::spawn("nginx", cmd, dir)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_config_turns_buffering_off_and_keeps_upstream_connections() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let c = config(Path::new("/tmp/x"), a, b, 20_000);
        assert!(c.contains("proxy_buffering off;"));
        assert!(c.contains("proxy_http_version 1.1;"));
        assert!(c.contains("keepalive 256;"));
        assert!(c.contains("worker_processes 2;"));
        assert!(c.contains("worker_rlimit_nofile 20000;"));
    }
}
