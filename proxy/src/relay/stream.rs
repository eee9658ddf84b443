//! Streaming the chosen answer to the client (SPEC §2.5): the upstream's status and headers,
//! then each body chunk as it arrives, observed by the accounting on the way. If the client
//! goes away, the upstream is still read (at most [`DRAIN_LIMIT`]) until the final usage
//! arrives, so the row bills exactly.

use std::time::{Duration, Instant};

use tokio::time::MissedTickBehavior;

use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use pingora::http::ResponseHeader;
use pingora::protocols::http::client::HttpSession;
use pingora::proxy::Session;
use relay_shared::models::Outcome;

use super::mask::SecretMask;
use super::row::PendingRow;
use super::Relay;
use crate::accounting::Accounting;
use crate::snapshot::AccountEntry;
use crate::upstream::Exchange;

/// How long the upstream is still read after the client left.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// How often the client connection is checked while the upstream is silent.
const CLIENT_CHECK_EVERY: Duration = Duration::from_millis(500);

/// At most this many bytes are gathered into one write to the client.
const BATCH_LIMIT: usize = 64 * 1024;

/// The next write to the client and what the upstream did meanwhile.
struct Ready {
    /// Bytes to write: a chunk alone, or several gathered in the batch buffer.
    out: Bytes,
    /// The upstream body is complete.
    ended: bool,
    /// Reading the upstream failed after `out` was read.
    failed: Option<String>,
}

/// Gathers after `first` every chunk the upstream connection already holds, without waiting
/// (up to [`BATCH_LIMIT`] bytes), observing each one. `first` goes out alone, uncopied, when
/// nothing else was ready.
fn pull_ready(
    up: &mut HttpSession,
    acct: &mut Accounting,
    batch: &mut BytesMut,
    first: Bytes,
) -> Ready {
    let (mut ended, mut failed) = (false, None);
    while batch.len() < BATCH_LIMIT {
        // Reading the body is cancel-safe (Pingora's own proxy selects on it), so a read
        // that would wait is simply dropped.
        match tokio::task::unconstrained(up.read_response_body()).now_or_never() {
            None => break,
            Some(Ok(Some(chunk))) => {
                if batch.is_empty() {
                    batch.extend_from_slice(&first);
                }
                acct.observe(&chunk);
                batch.extend_from_slice(&chunk);
            }
            Some(Ok(None)) => {
                ended = true;
                break;
            }
            Some(Err(e)) => {
                failed = Some(e.to_string());
                break;
            }
        }
    }
    let out = if batch.is_empty() {
        first
    } else {
        batch.split().freeze()
    };
    Ready { out, ended, failed }
}

const X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

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
    // Lower-case names (see `upstream_header`): no second, case-keeping header map.
    let mut h = ResponseHeader::build_no_case(up.status, Some(up.headers.len() + 2))?;
    for (name, value) in up.headers.iter() {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            h.append_header(name.clone(), value.clone())?;
        }
    }
    if !h.headers.contains_key(http::header::CONTENT_LENGTH)
        && !h.headers.contains_key(http::header::TRANSFER_ENCODING)
    {
        h.insert_header(
            http::header::TRANSFER_ENCODING,
            http::HeaderValue::from_static("chunked"),
        )?;
    }
    h.insert_header(X_REQUEST_ID, rid)?;
    Ok(h)
}

/// Whether the client has closed its connection (polled once, never waits).
fn client_closed(session: &mut Session) -> bool {
    let probe = session.as_downstream_mut().read_body_or_idle(true);
    match probe.now_or_never() {
        None => false,
        Some(Ok(Some(_))) => false,
        Some(Ok(None) | Err(_)) => true,
    }
}

fn header_str<'a>(h: &'a ResponseHeader, name: &str) -> &'a str {
    h.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// How a streamed answer ended, for the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct End {
    /// Status as sent to the client (499 when it closed first).
    pub status: u16,
    /// The row's outcome.
    pub outcome: Outcome,
    /// The error type, if any.
    pub error_type: Option<String>,
    /// Whether the account is to blame (a cut answer, a mid-stream error event).
    pub account_failed: bool,
}

/// The end of an answer of `status` (pure): the client gone first, the upstream cut
/// (`upstream_failed`), an error event in the stream (`error_type`), an error status, or ok.
pub fn outcome(
    status: u16,
    client_gone: bool,
    upstream_failed: bool,
    error_type: Option<&str>,
) -> End {
    let mid_stream_error = status < 400 && error_type.is_some();
    let account_failed = upstream_failed || mid_stream_error;
    let (status, outcome, error_type) = if client_gone {
        (499, Outcome::ClientClosed, error_type.map(str::to_string))
    } else if upstream_failed {
        let e = error_type.unwrap_or("api_error").to_string();
        (status, Outcome::UpstreamError, Some(e))
    } else if error_type.is_some() || status >= 400 {
        let e = error_type.map_or_else(|| format!("http_{status}"), str::to_string);
        (status, Outcome::UpstreamError, Some(e))
    } else {
        (status, Outcome::Ok, None)
    };
    End {
        status,
        outcome,
        error_type,
        account_failed,
    }
}

/// Writes an upstream answer whose body was already read (a 429 passed through).
pub async fn pass_buffered(
    session: &mut Session,
    row: &mut PendingRow,
    up: &ResponseHeader,
    body: Bytes,
    account: &AccountEntry,
    rid: &str,
) -> pingora::Result<()> {
    row.first_byte = Some(Instant::now());
    let status = up.status.as_u16();
    let mut header = Box::new(client_header(up, rid)?);
    let body = match SecretMask::new(account.credential.secret()) {
        Some(mut m) => {
            let mut out = BytesMut::from(&m.feed(body)[..]);
            out.extend_from_slice(&m.finish());
            out.freeze()
        }
        None => body,
    };
    header.remove_header(&http::header::TRANSFER_ENCODING);
    header.insert_header(http::header::CONTENT_LENGTH, body.len())?;
    let mut acct = Accounting::new(header_str(up, "content-type"), "");
    acct.observe(&body);
    let written = async {
        session.write_response_header(header, false).await?;
        session.write_response_body(Some(body), true).await
    };
    let client_gone = written.await.is_err();
    let end = outcome(status, client_gone, false, acct.error_type.as_deref());
    row.end(end.status, end.outcome, end.error_type.as_deref());
    Ok(())
}

/// Streams `ex`'s answer to the client and completes the row; a cut answer or a mid-stream
/// error event is recorded against `account`.
pub async fn stream_response(
    relay: &Relay,
    session: &mut Session,
    row: &mut PendingRow,
    mut ex: Exchange,
    account: &AccountEntry,
    rid: &str,
    mut mask: Option<SecretMask>,
) -> pingora::Result<()> {
    row.first_byte = Some(Instant::now());
    let Some(up) = ex.session.response_header() else {
        return Err(pingora::Error::explain(
            pingora::ErrorType::InternalError,
            "no upstream header",
        ));
    };
    let status = up.status.as_u16();
    let mut acct = Accounting::new(
        header_str(up, "content-type"),
        header_str(up, "content-encoding"),
    );
    let header = Box::new(client_header(up, rid)?);
    let mut client_gone = session.write_response_header(header, false).await.is_err();
    row.sent_status = Some(status);
    let mut drain_until = client_gone.then(|| Instant::now() + DRAIN_LIMIT);
    let mut upstream_failed: Option<String> = None;
    let mut batch = BytesMut::new();
    // One timer per stream (not one per chunk): it checks the idle timeout and, while the
    // upstream is silent, whether the client is still there.
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + CLIENT_CHECK_EVERY,
        CLIENT_CHECK_EVERY,
    );
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_data = Instant::now();
    let mut data_since_tick = false;
    let mut first_sent = false;
    let idle_timeout = relay.upstream.idle_timeout;
    loop {
        let next = tokio::select! {
            biased;
            r = ex.session.read_response_body() => r,
            _ = tick.tick() => {
                let now = Instant::now();
                if acct.usage != row.usage {
                    // New usage (a stream's first events, a long stream's progress) is
                    // journaled at most once per tick.
                    row.usage = acct.usage;
                    row.checkpoint();
                }
                if std::mem::take(&mut data_since_tick) {
                    last_data = now;
                    continue;
                }
                if client_gone {
                    if drain_until.is_some_and(|t| now >= t) {
                        break;
                    }
                } else if client_closed(session) {
                    client_gone = true;
                    drain_until = Some(now + DRAIN_LIMIT);
                }
                if now.duration_since(last_data) >= idle_timeout {
                    upstream_failed = Some(format!(
                        "no data from the upstream for {} s",
                        idle_timeout.as_secs()
                    ));
                    break;
                }
                continue;
            }
        };
        data_since_tick = true;
        let first = match next {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => {
                upstream_failed = Some(e.to_string());
                break;
            }
        };
        acct.observe(&first);
        if !first_sent && acct.usage != row.usage {
            // The input side of the usage (message_start) is known: journal it at once.
            row.usage = acct.usage;
            row.checkpoint();
        }
        // After the first chunk (sent alone, for the time to first byte), whatever the
        // upstream has already sent goes to the client in one write: one system call for a
        // burst of events instead of one per event.
        let ready = if std::mem::replace(&mut first_sent, true) {
            pull_ready(&mut ex.session, &mut acct, &mut batch, first)
        } else {
            Ready {
                out: first,
                ended: false,
                failed: None,
            }
        };
        upstream_failed = ready.failed;
        let out = match mask.as_mut() {
            Some(m) => m.feed(ready.out),
            None => ready.out,
        };
        if !client_gone
            && !out.is_empty()
            && session.write_response_body(Some(out), false).await.is_err()
        {
            client_gone = true;
            drain_until = Some(Instant::now() + DRAIN_LIMIT);
        }
        if ready.ended || upstream_failed.is_some() {
            break;
        }
        // A stream whose upstream always has data ready would otherwise run to its end in
        // one poll and hold the worker thread from every other request.
        tokio::task::yield_now().await;
        if client_gone && (acct.complete() || drain_until.is_some_and(|t| Instant::now() >= t)) {
            break;
        }
    }
    if let Some(rest) = mask.as_mut().map(SecretMask::finish) {
        if !client_gone && !rest.is_empty() {
            client_gone = session
                .write_response_body(Some(rest), false)
                .await
                .is_err();
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
    if let Some(e) = &upstream_failed {
        tracing::warn!(request_id = %rid, error = %e, "upstream failed mid-response");
    }
    let end = outcome(
        status,
        client_gone,
        upstream_failed.is_some(),
        acct.error_type.as_deref(),
    );
    if end.account_failed {
        // A cut answer or a mid-stream error event (e.g. overloaded_error) counts against
        // the account; a stream already under way is not retried.
        let what = upstream_failed
            .clone()
            .or_else(|| acct.error_type.clone())
            .unwrap_or_default();
        relay
            .health
            .failed(account, relay_shared::db::now_ms(), &what);
    }
    row.end(end.status, end.outcome, end.error_type.as_deref());
    relay.upstream.finish(ex).await;
    match upstream_failed {
        // An error (not `Ok`) so that Pingora closes the connection without finishing the
        // body: a cut answer must not look complete to the client.
        Some(e) => {
            session.set_keepalive(None);
            Err(pingora::Error::explain(
                pingora::ErrorType::ReadError,
                format!("upstream failed mid-response: {e}"),
            ))
        }
        None => Ok(()),
    }
}
