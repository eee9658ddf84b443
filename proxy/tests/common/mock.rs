//! A mock Anthropic upstream speaking raw HTTP/1.1 over TCP, so tests control framing down to
//! the byte: SSE bodies can be written 1–7 bytes at a time with pauses. It records every
//! request it receives (method, path, headers, body).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as the mock received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Recorded {
    /// All values of a header.
    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// How the mock answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A complete JSON body with content-length.
    Json { status: u16, body: String },
    /// An SSE body, chunked, written in pieces of `min..=max` bytes with `pause` after each.
    Sse {
        body: String,
        min: usize,
        max: usize,
        pause: Duration,
    },
    /// The start of an SSE body in pieces of 1..=7 bytes, then the connection is closed
    /// without the terminating chunk (an upstream that dies mid-answer).
    Cut { body: String },
    /// An SSE body written as timed pieces: (wait before, bytes).
    Timed { parts: Vec<(Duration, String)> },
    /// No answer at all: the connection stays open and silent for `hold`, then closes.
    Silent { hold: Duration },
    /// Any status, extra header lines (`name: value`) and body bytes, with content-length.
    Raw {
        status: u16,
        headers: Vec<String>,
        body: Vec<u8>,
    },
}

/// How many answers the mock writes at once.
#[derive(Debug, Default)]
pub struct Load {
    /// Now.
    pub now: std::sync::atomic::AtomicUsize,
    /// The most at once so far.
    pub max: std::sync::atomic::AtomicUsize,
}

/// The running mock.
pub struct Mock {
    /// Its address.
    pub addr: SocketAddr,
    /// Requests received, in order.
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    /// TCP connections accepted.
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
    /// Answers being written now, and the most at once so far.
    pub load: Arc<Load>,
    script: Arc<Mutex<VecDeque<Reply>>>,
    fallback: Arc<Mutex<Reply>>,
    _rt: tokio::runtime::Runtime,
}

impl Mock {
    /// Starts a mock answering `fallback` to every request not taken by a queued reply.
    pub fn start(fallback: Reply) -> Mock {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::new()));
        let fallback = Arc::new(Mutex::new(fallback));
        let (r, s, f) = (requests.clone(), script.clone(), fallback.clone());
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let conns = connections.clone();
        let load = Arc::new(Load::default());
        let l = load.clone();
        rt.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                conns.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (r, s, f, l) = (r.clone(), s.clone(), f.clone(), l.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, r, s, f, l).await;
                });
            }
        });
        Mock {
            addr,
            requests,
            connections,
            load,
            script,
            fallback,
            _rt: rt,
        }
    }

    /// Base URL for an account.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues a reply for the next request.
    pub fn push(&self, reply: Reply) {
        self.script.lock().unwrap().push_back(reply);
    }

    /// Replaces the fallback reply.
    pub fn set_fallback(&self, reply: Reply) {
        *self.fallback.lock().unwrap() = reply;
    }

    /// Requests received so far.
    pub fn received(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(
    mut stream: TcpStream,
    requests: Arc<Mutex<Vec<Recorded>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
    fallback: Arc<Mutex<Reply>>,
    load: Arc<Load>,
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        // Read the header.
        let header_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            let mut tmp = [0u8; 65536];
            let n = stream.read(&mut tmp).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&tmp[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or("").split(' ');
        let method = first.next().unwrap_or("").to_string();
        let path = first.next().unwrap_or("").to_string();
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        buf.drain(..header_end);
        while buf.len() < len {
            let mut tmp = vec![0u8; 1 << 20];
            let n = stream.read(&mut tmp).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&tmp[..n]);
        }
        let body: Vec<u8> = buf.drain(..len).collect();
        requests.lock().unwrap().push(Recorded {
            method,
            path,
            headers,
            body,
        });
        let reply = script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| fallback.lock().unwrap().clone());
        use std::sync::atomic::Ordering::SeqCst;
        let now = load.now.fetch_add(1, SeqCst) + 1;
        load.max.fetch_max(now, SeqCst);
        let written = write_reply(&mut stream, reply).await;
        load.now.fetch_sub(1, SeqCst);
        written?;
    }
}

async fn chunk(stream: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    stream
        .write_all(format!("{:x}\r\n", data.len()).as_bytes())
        .await?;
    stream.write_all(data).await?;
    stream.write_all(b"\r\n").await?;
    stream.flush().await
}

async fn write_reply(stream: &mut TcpStream, reply: Reply) -> std::io::Result<()> {
    match reply {
        Reply::Json { status, body } => {
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nrequest-id: req_mock\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body.as_bytes()).await?;
            stream.flush().await
        }
        Reply::Sse {
            body,
            min,
            max,
            pause,
        } => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ntransfer-encoding: chunked\r\ncache-control: no-cache\r\n\r\n")
                .await?;
            let bytes = body.as_bytes();
            let mut i = 0;
            let mut size = min;
            while i < bytes.len() {
                let end = (i + size).min(bytes.len());
                chunk(stream, &bytes[i..end]).await?;
                i = end;
                size = if size >= max { min } else { size + 1 };
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
            }
            stream.write_all(b"0\r\n\r\n").await?;
            stream.flush().await
        }
        Reply::Raw {
            status,
            headers,
            body,
        } => {
            let mut head = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
            for h in headers {
                head.push_str(&h);
                head.push_str("\r\n");
            }
            head.push_str("\r\n");
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body).await?;
            stream.flush().await
        }
        Reply::Cut { body } => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
                .await?;
            for (i, piece) in body.as_bytes().chunks(7).enumerate() {
                let split = 1 + i % piece.len();
                chunk(stream, &piece[..split]).await?;
                if split < piece.len() {
                    chunk(stream, &piece[split..]).await?;
                }
            }
            stream.flush().await?;
            Err(std::io::Error::other("cut mid-answer"))
        }
        Reply::Silent { hold } => {
            tokio::time::sleep(hold).await;
            Err(std::io::Error::other("silent upstream gave up"))
        }
        Reply::Timed { parts } => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
                .await?;
            for (wait, part) in parts {
                tokio::time::sleep(wait).await;
                chunk(stream, part.as_bytes()).await?;
            }
            stream.write_all(b"0\r\n\r\n").await?;
            stream.flush().await
        }
    }
}

/// A complete SSE answer with the given usage (as Anthropic sends it).
pub fn sse_body(
    model: &str,
    input: u64,
    output: u64,
    cache_read: u64,
    c5m: u64,
    c1h: u64,
    text: &str,
) -> String {
    let total = c5m + c1h;
    format!(
        "event: message_start\r\ndata: {{\"type\":\"message_start\",\"message\":{{\"model\":\"{model}\",\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{{\"input_tokens\":{input},\"cache_creation_input_tokens\":{total},\"cache_read_input_tokens\":{cache_read},\"cache_creation\":{{\"ephemeral_5m_input_tokens\":{c5m},\"ephemeral_1h_input_tokens\":{c1h}}},\"output_tokens\":1,\"service_tier\":\"standard\"}}}}}}\r\n\r\n\
event: content_block_start\r\ndata: {{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{{\"type\":\"text\",\"text\":\"\"}}}}\r\n\r\n\
event: ping\r\ndata: {{\"type\": \"ping\"}}\r\n\r\n\
event: content_block_delta\r\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{text}\"}}}}\r\n\r\n\
event: content_block_stop\r\ndata: {{\"type\":\"content_block_stop\",\"index\":0}}\r\n\r\n\
event: message_delta\r\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\",\"stop_sequence\":null}},\"usage\":{{\"output_tokens\":{half}}}}}\r\n\r\n\
event: message_delta\r\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\",\"stop_sequence\":null}},\"usage\":{{\"input_tokens\":{input},\"cache_creation_input_tokens\":{total},\"cache_read_input_tokens\":{cache_read},\"output_tokens\":{output}}}}}\r\n\r\n\
event: message_stop\r\ndata: {{\"type\":\"message_stop\"}}\r\n\r\n",
        half = output / 2
    )
}

/// A complete non-stream answer with the given usage.
pub fn json_body(model: &str, input: u64, output: u64, text: &str) -> String {
    format!(
        "{{\"model\":\"{model}\",\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[{{\"type\":\"text\",\"text\":\"{text}\"}}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{{\"input_tokens\":{input},\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"cache_creation\":{{\"ephemeral_5m_input_tokens\":0,\"ephemeral_1h_input_tokens\":0}},\"output_tokens\":{output},\"service_tier\":\"standard\"}}}}"
    )
}
