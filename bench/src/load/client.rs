//! One keep-alive HTTP/1.1 client connection (hyper 1) and one timed, validated exchange on
//! it; plus a one-shot request helper for health checks and the admin API.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::validate::{check_json, SseCheck};
use crate::protocol::BODY_BYTES_HEADER;

/// What a request is and what a valid answer to it looks like.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    /// Path and query.
    pub path: String,
    /// `Host` header value.
    pub host: String,
    /// Relay key sent as `x-api-key` (the references ignore it).
    pub key: Option<String>,
    /// Request body.
    pub body: Bytes,
    /// `Some(total events)` for a stream, `None` for a JSON answer.
    pub sse_events: Option<u32>,
    /// Longest time one exchange may take.
    pub timeout: Duration,
}

/// Timings of one valid exchange.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Until the first body bytes arrived.
    pub ttfb: Duration,
    /// Until the body was complete.
    pub total: Duration,
}

impl Timing {
    /// The same exchange seen from `late` earlier: when it was due rather than when it went
    /// out (an open loop counts a late start against the target).
    pub fn delayed(self, late: Duration) -> Self {
        Self {
            ttfb: self.ttfb + late,
            total: self.total + late,
        }
    }
}

/// Why an exchange failed.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Short category used for counting ("connect", "io", "status 502", "invalid", "timeout").
    pub kind: String,
    /// What happened.
    pub detail: String,
}

impl Failure {
    fn new(kind: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            detail: detail.into(),
        }
    }
}

/// An open connection.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

/// Opens a connection to `addr`.
pub async fn connect(addr: SocketAddr) -> Result<Conn, Failure> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| Failure::new("connect", e.to_string()))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::Builder::new()
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| Failure::new("connect", e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(Conn { sender })
}

fn build(spec: &RequestSpec) -> Result<Request<Full<Bytes>>, Failure> {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(spec.path.as_str())
        .header(header::HOST, spec.host.as_str())
        .header(header::CONTENT_TYPE, "application/json")
        .header("anthropic-version", "2023-06-01")
        .header(header::USER_AGENT, "relay-bench/0.1");
    if let Some(k) = &spec.key {
        if !crate::targets::relay::plain_key() {
            b = b.header("x-claude-code-session-id", crate::protocol::SESSION_ID);
        }
        b = b.header("x-api-key", k.as_str());
    }
    b.body(Full::new(spec.body.clone()))
        .map_err(|e| Failure::new("request", e.to_string()))
}

/// Called when a stream's first bytes arrive and when it ends (for the in-flight gauge).
pub trait StreamWatch: Send + Sync {
    /// First body bytes of an answer arrived.
    fn opened(&self);
    /// The answer ended (well or not) after `opened`.
    fn closed(&self);
}

/// No watching.
pub struct NoWatch;

impl StreamWatch for NoWatch {
    fn opened(&self) {}
    fn closed(&self) {}
}

/// Sends `spec` on `conn`, reads and validates the whole answer.
pub async fn exchange(
    conn: &mut Conn,
    spec: &RequestSpec,
    watch: &dyn StreamWatch,
) -> Result<Timing, Failure> {
    let t0 = Instant::now();
    let mut opened = false;
    let res = tokio::time::timeout(spec.timeout, run(conn, spec, t0, watch, &mut opened)).await;
    if opened {
        watch.closed();
    }
    match res {
        Ok(r) => r,
        Err(_) => Err(Failure::new(
            "timeout",
            format!("no complete answer within {:?}", spec.timeout),
        )),
    }
}

async fn run(
    conn: &mut Conn,
    spec: &RequestSpec,
    t0: Instant,
    watch: &dyn StreamWatch,
    opened: &mut bool,
) -> Result<Timing, Failure> {
    conn.sender
        .ready()
        .await
        .map_err(|e| Failure::new("io", e.to_string()))?;
    let resp = conn
        .sender
        .send_request(build(spec)?)
        .await
        .map_err(|e| Failure::new("io", e.to_string()))?;
    let status = resp.status();
    let echoed = resp
        .headers()
        .get(BODY_BYTES_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut body = resp.into_body();
    let mut ttfb = None;
    let mut sse = if status == StatusCode::OK {
        spec.sse_events.map(SseCheck::new)
    } else {
        None
    };
    let mut json = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Failure::new("io", e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if ttfb.is_none() {
            ttfb = Some(t0.elapsed());
            if !*opened {
                *opened = true;
                watch.opened();
            }
        }
        match sse.as_mut() {
            Some(check) => check.feed(&data),
            None => json.extend_from_slice(&data),
        }
    }
    let total = t0.elapsed();
    if status != StatusCode::OK {
        let text = String::from_utf8_lossy(&json[..json.len().min(300)]).into_owned();
        return Err(Failure::new(format!("status {}", status.as_u16()), text));
    }
    if echoed != Some(spec.body.len()) {
        return Err(Failure::new(
            "invalid",
            format!(
                "upstream saw {echoed:?} request body bytes, {} were sent",
                spec.body.len()
            ),
        ));
    }
    match sse {
        Some(check) => check.finish(),
        None => check_json(&json),
    }
    .map_err(|e| Failure::new("invalid", e))?;
    Ok(Timing {
        ttfb: ttfb.unwrap_or(total),
        total,
    })
}

/// A one-shot request on a fresh connection: (status, body).
pub async fn oneshot(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Bytes>,
) -> anyhow::Result<(StatusCode, Bytes)> {
    let mut conn = connect(addr)
        .await
        .map_err(|f| anyhow::anyhow!("{}: {}", f.kind, f.detail))?;
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, addr.to_string());
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    if body.is_some() {
        b = b.header(header::CONTENT_TYPE, "application/json");
    }
    let req = b.body(Full::new(body.unwrap_or_default()))?;
    let fut = async {
        conn.sender.ready().await?;
        let resp = conn.sender.send_request(req).await?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        anyhow::Ok((status, bytes))
    };
    tokio::time::timeout(Duration::from_secs(10), fut).await?
}
