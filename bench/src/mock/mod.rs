//! The mock Anthropic upstream: a hand-rolled HTTP/1.1 server on tokio with keep-alive. A
//! request whose body sets `"stream": true` gets an SSE answer shaped by the query
//! (`events`, `interval_ms`, see [`crate::protocol`]); any other request gets the JSON
//! answer. Every answer reports the request body size in `x-mock-request-bytes`, so the
//! load generator can check that proxies forwarded bodies whole.

mod http;
pub mod reply;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::protocol::StreamShape;
use reply::Templates;

/// Listen backlog asked for (the kernel caps it at `net.core.somaxconn`).
const BACKLOG: u32 = 16 * 1024;

/// Binds a listener with a deep backlog, for waves of thousands of connections.
pub fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket
        .bind(addr)
        .with_context(|| format!("cannot bind {addr}"))?;
    Ok(socket.listen(BACKLOG)?)
}

/// Accepts connections forever.
pub async fn serve(listener: TcpListener) {
    let templates = Arc::new(Templates::new());
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let t = templates.clone();
                tokio::spawn(async move {
                    let _ = connection(stream, &t).await;
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

async fn connection(mut s: TcpStream, t: &Templates) -> std::io::Result<()> {
    s.set_nodelay(true)?;
    let mut buf = BytesMut::with_capacity(8 * 1024);
    while let Some(req) = http::read_request(&mut s, &mut buf).await? {
        if req.stream {
            let shape = StreamShape::from_target(&req.target);
            s.write_all(&t.sse_head(req.body_len)).await?;
            let pause = Duration::from_millis(shape.interval_ms);
            for event in t.sse_rest(shape.events) {
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
                s.write_all(&event).await?;
            }
        } else {
            s.write_all(&t.json_answer(req.body_len)).await?;
        }
        if req.close {
            break;
        }
    }
    Ok(())
}

/// `relay-bench mock`: runs the mock on `listen` with `threads` worker threads until killed.
pub fn run(listen: SocketAddr, threads: usize) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = bind(listen)?;
        println!("mock listening on {}", listener.local_addr()?);
        serve(listener).await;
        anyhow::Ok(())
    })
}
