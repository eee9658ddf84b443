//! Streaming the chosen answer to the client (SPEC §2.5): the upstream's status and headers,
//! then each body chunk as it arrives, observed by the accounting on the way. If the client
//! goes away, the upstream is still read (at most [`DRAIN_LIMIT`]) until the final usage
//! arrives, so the row bills exactly.

use std::time::{Duration, Instant};

use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use relay_shared::models::Outcome;

use super::row::PendingRow;
use super::Relay;
use crate::accounting::Accounting;
use crate::upstream::Exchange;

/// How long the upstream is still read after the client left.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// How often the client connection is checked while the upstream is silent.
const CLIENT_CHECK_EVERY: Duration = Duration::from_millis(500);

/// Response headers never passed to the client.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

fn client_header(up: &ResponseHeader, rid: &str) -> pingora::Result<ResponseHeader> {
    let mut h = ResponseHeader::build(up.status, Some(up.headers.len() + 2))?;
    for (name, value) in up.headers.iter() {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            h.append_header(name.clone(), value.clone())?;
        }
    }
    if !h.headers.contains_key("content-length") && !h.headers.contains_key("transfer-encoding") {
        h.insert_header("transfer-encoding", "chunked")?;
    }
    h.insert_header("x-request-id", rid)?;
    Ok(h)
}

/// Whether the client has closed its connection (polled once, never waits).
async fn client_closed(session: &mut Session) -> bool {
    let probe = session.as_downstream_mut().read_body_or_idle(true);
    match tokio::time::timeout(Duration::ZERO, probe).await {
        Err(_) => false,
        Ok(Ok(Some(_))) => false,
        Ok(Ok(None) | Err(_)) => true,
    }
}

fn header_str<'a>(h: &'a ResponseHeader, name: &str) -> &'a str {
    h.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Streams `ex`'s answer to the client and completes the row.
pub async fn stream_response(
    relay: &Relay,
    session: &mut Session,
    row: &mut PendingRow,
    mut ex: Exchange,
    rid: &str,
) -> pingora::Result<()> {
    row.first_byte = Some(Instant::now());
    let Some(up) = ex.session.response_header().cloned() else {
        return Err(pingora::Error::explain(
            pingora::ErrorType::InternalError,
            "no upstream header",
        ));
    };
    let status = up.status.as_u16();
    let mut acct = Accounting::new(
        header_str(&up, "content-type"),
        header_str(&up, "content-encoding"),
    );
    let mut client_gone = session
        .write_response_header(Box::new(client_header(&up, rid)?), false)
        .await
        .is_err();
    let mut drain_until = client_gone.then(|| Instant::now() + DRAIN_LIMIT);
    let mut upstream_failed: Option<String> = None;
    loop {
        let next = {
            let read = relay.upstream.read_chunk(&mut ex.session);
            tokio::pin!(read);
            loop {
                // The client is checked only while the upstream is silent, so a busy stream
                // pays nothing per event for disconnect detection.
                let tick = tokio::time::sleep(CLIENT_CHECK_EVERY);
                tokio::select! {
                    biased;
                    r = &mut read => break Some(r),
                    _ = tick => {
                        if client_gone {
                            if drain_until.is_some_and(|t| Instant::now() >= t) {
                                break None;
                            }
                        } else if client_closed(session).await {
                            client_gone = true;
                            drain_until = Some(Instant::now() + DRAIN_LIMIT);
                        }
                    }
                }
            }
        };
        match next {
            None => break,
            Some(Ok(Some(chunk))) => {
                acct.observe(&chunk);
                if !client_gone
                    && session
                        .write_response_body(Some(chunk), false)
                        .await
                        .is_err()
                {
                    client_gone = true;
                    drain_until = Some(Instant::now() + DRAIN_LIMIT);
                }
                // A stream whose upstream always has data ready would otherwise run to its
                // end in one poll and hold the worker thread from every other request.
                tokio::task::yield_now().await;
                if client_gone
                    && (acct.complete() || drain_until.is_some_and(|t| Instant::now() >= t))
                {
                    break;
                }
            }
            Some(Ok(None)) => break,
            Some(Err(e)) => {
                upstream_failed = Some(e.to_string());
                break;
            }
        }
    }
    if !client_gone && upstream_failed.is_none() {
        client_gone = session.write_response_body(None, true).await.is_err();
    }
    acct.finish();
    row.usage = acct.usage;
    if let Some(m) = acct.model.take() {
        row.record.upstream_model = m;
    }
    if client_gone {
        row.end(499, Outcome::ClientClosed, acct.error_type.as_deref());
    } else if let Some(e) = &upstream_failed {
        tracing::warn!(request_id = %rid, error = %e, "upstream failed mid-response");
        row.end(
            status,
            Outcome::UpstreamError,
            Some(acct.error_type.as_deref().unwrap_or("api_error")),
        );
    } else if acct.error_type.is_some() || status >= 400 {
        let err = acct
            .error_type
            .clone()
            .unwrap_or_else(|| format!("http_{status}"));
        row.end(status, Outcome::UpstreamError, Some(&err));
    } else {
        row.end(status, Outcome::Ok, None);
    }
    relay.upstream.finish(ex).await;
    if upstream_failed.is_some() {
        session.set_keepalive(None);
    }
    Ok(())
}
