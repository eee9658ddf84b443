//! A minimal HTTP/1.1 request reader for the mock: the request line, the framing headers,
//! and the body (content-length or chunked), read from a reusable buffer so keep-alive
//! connections cost no allocation per request beyond the answer.

use std::io;

use bytes::{Buf, BytesMut};
use memchr::memmem;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Largest request head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// What the mock needs to know about one request.
#[derive(Debug, Default)]
pub struct Request {
    /// Path and query.
    pub target: String,
    /// Request body size in bytes.
    pub body_len: usize,
    /// The body asks for a stream (`"stream": true`).
    pub stream: bool,
    /// The client asked to close the connection after this answer.
    pub close: bool,
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

struct Head {
    target: String,
    content_length: usize,
    chunked: bool,
    close: bool,
}

fn parse_head(head: &[u8]) -> io::Result<Head> {
    let text = std::str::from_utf8(head).map_err(|_| bad("head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let line = lines.next().ok_or_else(|| bad("empty head"))?;
    let mut parts = line.split(' ');
    let _method = parts.next().ok_or_else(|| bad("no method"))?;
    let target = parts.next().ok_or_else(|| bad("no target"))?.to_string();
    let mut h = Head {
        target,
        content_length: 0,
        chunked: false,
        close: false,
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            h.content_length = value.parse().map_err(|_| bad("bad content-length"))?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            h.chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            h.close = value.eq_ignore_ascii_case("close");
        }
    }
    Ok(h)
}

/// Whether a JSON body sets `"stream"` to `true` (a byte scan, not a parse).
pub fn asks_for_stream(body: &[u8]) -> bool {
    let key = b"\"stream\"";
    let mut from = 0;
    while let Some(i) = memmem::find(&body[from..], key) {
        let rest = &body[from + i + key.len()..];
        let rest = trim_start(rest);
        if let Some(rest) = rest.strip_prefix(b":") {
            return trim_start(rest).starts_with(b"true");
        }
        from += i + key.len();
    }
    false
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

/// Reads until `buf` holds at least `n` bytes; false when the peer closed first.
async fn fill(s: &mut TcpStream, buf: &mut BytesMut, n: usize) -> io::Result<bool> {
    while buf.len() < n {
        buf.reserve(n - buf.len());
        if s.read_buf(buf).await? == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Reads a line ending in CRLF out of `buf` (reading more as needed).
async fn line(s: &mut TcpStream, buf: &mut BytesMut) -> io::Result<String> {
    loop {
        if let Some(i) = memmem::find(buf, b"\r\n") {
            let l = String::from_utf8_lossy(&buf[..i]).into_owned();
            buf.advance(i + 2);
            return Ok(l);
        }
        if buf.len() > MAX_HEAD || s.read_buf(buf).await? == 0 {
            return Err(bad("truncated chunked body"));
        }
    }
}

async fn chunked_body(s: &mut TcpStream, buf: &mut BytesMut) -> io::Result<(usize, bool)> {
    let mut total = 0;
    let mut stream = false;
    loop {
        let size_line = line(s, buf).await?;
        let size_text = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("bad chunk size"))?;
        if size == 0 {
            // Trailers (none expected) up to the empty line.
            while !line(s, buf).await?.is_empty() {}
            return Ok((total, stream));
        }
        if !fill(s, buf, size + 2).await? {
            return Err(bad("truncated chunk"));
        }
        stream |= asks_for_stream(&buf[..size]);
        total += size;
        buf.advance(size + 2);
    }
}

/// Reads the next request from `s`; `None` when the peer closed the connection cleanly.
pub async fn read_request(s: &mut TcpStream, buf: &mut BytesMut) -> io::Result<Option<Request>> {
    let head_end = loop {
        if let Some(i) = memmem::find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(bad("request head too large"));
        }
        buf.reserve(8 * 1024);
        if s.read_buf(buf).await? == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(bad("truncated head"))
            };
        }
    };
    let head = parse_head(&buf[..head_end])?;
    buf.advance(head_end);
    let (body_len, stream) = if head.chunked {
        chunked_body(s, buf).await?
    } else {
        let n = head.content_length;
        if !fill(s, buf, n).await? {
            return Err(bad("truncated body"));
        }
        let stream = asks_for_stream(&buf[..n]);
        buf.advance(n);
        (n, stream)
    };
    Ok(Some(Request {
        target: head.target,
        body_len,
        stream,
        close: head.close,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn stream_flags_are_found_in_any_spacing() {
        assert!(asks_for_stream(br#"{"model":"m","stream":true}"#));
        assert!(asks_for_stream(br#"{"model":"m", "stream" :  true}"#));
        assert!(!asks_for_stream(br#"{"model":"m","stream":false}"#));
        assert!(!asks_for_stream(br#"{"model":"m"}"#));
        assert!(asks_for_stream(br#"{"x":"\"stream\"","stream":true}"#));
    }

    #[test]
    fn heads_give_framing() {
        let h = parse_head(b"POST /v1/messages?events=3 HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nConnection: close\r\n\r\n").unwrap();
        assert_eq!(h.target, "/v1/messages?events=3");
        assert_eq!(h.content_length, 12);
        assert!(h.close);
        assert!(!h.chunked);
    }
}
