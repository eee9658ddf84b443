//! An answer given before the handler reads the body (here a 401) still leaves the
//! connection usable: the body is read to its end first. The front door keeps its
//! connections to the admin API open, and a connection closed on an unread body made it
//! answer 502 to the next request now and then.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads one HTTP/1.1 response with a `content-length` body; returns its status line.
async fn read_response(conn: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = conn.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "the connection was closed: {}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let len: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return text.lines().next().unwrap().to_string();
            }
        }
    }
}

app_test!(an_early_answer_leaves_the_connection_usable, |app| {
    let addr = app
        .base
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let mut conn = TcpStream::connect(&addr).await.unwrap();
    let body = format!("{{\"name\":\"{}\"}}", "x".repeat(300_000));
    let head = format!(
        "POST /api/v1/admin/accounts HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    for _ in 0..3 {
        conn.write_all(head.as_bytes()).await.unwrap();
        conn.write_all(body.as_bytes()).await.unwrap();
        let status = read_response(&mut conn).await;
        assert!(status.contains(" 401 "), "{status}");
    }
    conn.write_all(format!("GET /api/v1/status HTTP/1.1\r\nhost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let status = read_response(&mut conn).await;
    assert!(status.contains(" 200 "), "{status}");
    // Recorded for the leak scan: the same request through the test client.
    app.send(reqwest::Method::GET, "/status", None, Default::default())
        .await
        .expect(200);
});
