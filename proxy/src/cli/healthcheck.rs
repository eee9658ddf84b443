//! `relay healthcheck`: asks the front door's `GET /health` over loopback and exits 0 on a 200,
//! 1 otherwise — the container image's `HEALTHCHECK`, which then needs no curl. The address is
//! `server.listen` (so `RELAY__SERVER__LISTEN` is followed), with an unspecified IP (`0.0.0.0`,
//! `[::]`) replaced by the loopback address of the same family.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use relay_shared::config::Config;

/// How long the connection, the request and the answer may take in all, each step at most.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// Runs the command: probes the front door of `config`, prints why when it is unhealthy.
pub fn run(config: &Config) -> ExitCode {
    match check(probe_addr(config.server_addr()), TIMEOUT) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("unhealthy: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The address to probe for a front door listening on `listen`.
pub fn probe_addr(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// Sends `GET /health` to `addr`; `Ok(())` when the answer's status is 200, else why not.
pub fn check(addr: SocketAddr, timeout: Duration) -> Result<(), String> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let io = |e: std::io::Error| format!("{addr}: {e}");
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(io)?;
    // The status line is all that is needed; it arrives well within the first 64 bytes.
    let mut head = [0u8; 64];
    let mut len = 0;
    while len < head.len() && !head[..len].contains(&b'\n') {
        match stream.read(&mut head[len..]).map_err(io)? {
            0 => break,
            n => len += n,
        }
    }
    let line = String::from_utf8_lossy(&head[..len]);
    let line = line.lines().next().unwrap_or_default().trim();
    let status = line.split_whitespace().nth(1);
    if line.starts_with("HTTP/1.") && status == Some("200") {
        Ok(())
    } else if line.is_empty() {
        Err(format!("{addr} closed the connection without an answer"))
    } else {
        Err(format!("{addr} answered `{line}`"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::net::TcpListener;

    /// A one-shot server on a free loopback port that reads a request and sends `answer`.
    fn serve_once(answer: &'static [u8]) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 512];
            let n = s.read(&mut buf).unwrap();
            assert!(buf[..n].starts_with(b"GET /health HTTP/1.1\r\n"));
            s.write_all(answer).unwrap();
        });
        addr
    }

    #[test]
    fn a_200_answer_is_healthy() {
        let addr = serve_once(b"HTTP/1.1 200 OK\r\ncontent-length: 15\r\n\r\n{\"status\":\"ok\"}");
        assert_eq!(check(addr, TIMEOUT), Ok(()));
    }

    #[test]
    fn another_status_is_unhealthy_and_quoted() {
        let addr = serve_once(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n");
        let err = check(addr, TIMEOUT).unwrap_err();
        assert!(err.contains("503 Service Unavailable"), "{err}");
    }

    #[test]
    fn a_closed_connection_or_no_listener_is_unhealthy() {
        let addr = serve_once(b"");
        assert!(check(addr, TIMEOUT)
            .unwrap_err()
            .contains("without an answer"));
        let free = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        assert!(check(free, TIMEOUT).unwrap_err().contains("cannot connect"));
    }

    #[test]
    fn an_unspecified_listen_address_is_probed_on_loopback() {
        let v4: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(probe_addr(v4), "127.0.0.1:8080".parse().unwrap());
        let v6: SocketAddr = "[::]:9000".parse().unwrap();
        assert_eq!(probe_addr(v6), "[::1]:9000".parse().unwrap());
        let fixed: SocketAddr = "10.1.2.3:8080".parse().unwrap();
        assert_eq!(probe_addr(fixed), fixed);
    }
}
