//! The relay routes (SPEC §2.1) in handler mode: authenticate from the snapshot, read and
//! check the body, choose an account, run the upstream exchange (failing over while nothing
//! has reached the client), and stream the answer back while counting tokens.

mod attempt;
mod mask;
mod models;
pub mod row;
mod stream;

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use relay_shared::glob;
use relay_shared::models::Outcome;
use relay_shared::usage_pipeline::UsageSink;

use crate::auth::authenticate;
use crate::body::{self, RequestMeta};
use crate::ctx::RequestCtx;
use crate::error::{write_error, ErrorKind};
use crate::health::HealthBook;
use crate::limits::{Admitted, Lease, Refusal, SharedLimiter};
use crate::oauth::OAuthRefresher;
use crate::queue::SlotQueues;
use crate::snapshot::KeyEntry;
use crate::snapshot::SnapshotStore;
use crate::sticky;
use crate::tunables::SharedTunables;
use crate::upstream::Upstream;
use row::PendingRow;

/// An authenticated, parsed request on its way to an account.
pub struct Request<'a> {
    /// The client's key.
    pub key: &'a KeyEntry,
    /// Routing fields of the body.
    pub meta: &'a RequestMeta,
    /// The body as received.
    pub body: Bytes,
    /// The request id.
    pub rid: &'a str,
    /// The Claude Code session, for sticky routing.
    pub session_id: Option<String>,
    /// The account that session is pinned to, if any.
    pub pinned: Option<i64>,
}

/// The relay's long-lived parts, shared by every request.
pub struct Relay {
    /// Keys, accounts and groups.
    pub store: Arc<SnapshotStore>,
    /// Upstream connections.
    pub upstream: Upstream,
    /// Prices, attempts, queue wait and health thresholds: swapped whole by a reload.
    pub tunables: SharedTunables,
    /// Where usage rows go.
    pub sink: UsageSink,
    /// Largest request body.
    pub max_body: u64,
    /// Account health: cooldowns and errors, recorded as failures are seen.
    pub health: Arc<HealthBook>,
    /// Key limits and sticky session pins (in memory, or shared through Redis).
    pub limiter: SharedLimiter,
    /// Lines for a slot when every account of a group is full.
    pub queues: SlotQueues,
    /// OAuth token refreshes.
    pub oauth: Arc<OAuthRefresher>,
}

/// Which relay endpoint a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Messages,
    CountTokens,
    Models,
}

fn endpoint(method: &http::Method, path: &str) -> Option<Endpoint> {
    let path = path.strip_prefix("/claude-code").unwrap_or(path);
    match (method.as_str(), path.trim_end_matches('/')) {
        ("POST", "/v1/messages") => Some(Endpoint::Messages),
        ("POST", "/v1/messages/count_tokens") => Some(Endpoint::CountTokens),
        ("GET", "/v1/models") => Some(Endpoint::Models),
        _ => None,
    }
}

enum BodyRead {
    Ok(Bytes),
    TooLarge,
    /// No body data within `server.body_read_timeout`.
    Stalled,
    ClientGone,
}

async fn read_body(session: &mut Session, max: u64) -> BodyRead {
    let declared = session
        .req_header()
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return BodyRead::TooLarge;
    }
    // A client waiting for `100 Continue` (curl does above 1 MiB) gets it now, once the key
    // and the declared size are accepted, instead of waiting out its own timer.
    let expects_continue = session
        .req_header()
        .headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if expects_continue && session.write_continue_response().await.is_err() {
        return BodyRead::ClientGone;
    }
    let cap = usize::try_from(declared.unwrap_or(64 * 1024).min(max)).unwrap_or(64 * 1024);
    let mut buf = BytesMut::with_capacity(cap);
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                if (buf.len() + chunk.len()) as u64 > max {
                    return BodyRead::TooLarge;
                }
                if buf.is_empty() && declared == Some(chunk.len() as u64) {
                    return BodyRead::Ok(chunk);
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return BodyRead::Ok(buf.freeze()),
            Err(e) if matches!(e.etype(), pingora::ErrorType::ReadTimedout) => {
                return BodyRead::Stalled
            }
            Err(_) => return BodyRead::ClientGone,
        }
    }
}

/// Discards the unread request body, at most `limit` bytes and [`DRAIN_TIME`].
async fn drain_body(session: &mut Session, limit: u64) {
    let mut seen = 0u64;
    let _ = pingora::time::timeout(DRAIN_TIME, async {
        while let Ok(Some(chunk)) = session.read_request_body().await {
            seen += chunk.len() as u64;
            if seen > limit {
                break;
            }
        }
    })
    .await;
}

/// Longest time spent discarding a refused body.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(30);

impl Relay {
    /// Serves one relay request completely (the caller returns `Ok(true)` to Pingora).
    pub async fn handle(&self, session: &mut Session, ctx: &mut RequestCtx) -> pingora::Result<()> {
        let rid = ctx.request_id.clone();
        let (method, path) = (
            session.req_header().method.clone(),
            session.req_header().uri.path().to_string(),
        );
        let Some(ep) = endpoint(&method, &path) else {
            let msg = format!("no relay route for {method} {path}");
            return write_error(session, ErrorKind::NotFound, &msg, &rid, None).await;
        };
        let snap = self.store.load();
        let key = match authenticate(&snap, session.req_header(), relay_shared::db::now_ms()) {
            Ok(k) => k,
            Err(e) => {
                tracing::info!(request_id = %rid, reason = ?e, "relay key refused");
                session.set_keepalive(None);
                return write_error(session, e.kind(), e.message(), &rid, None).await;
            }
        };
        if ep == Endpoint::Models {
            return models::answer(self, session, &snap, &key, &rid).await;
        }
        let client_ip = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        let ua = session
            .req_header()
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let row = ctx.row.insert(PendingRow::start(
            self.sink.clone(),
            self.tunables.load().prices.clone(),
            &rid,
            key.user_id,
            key.id,
            key.group_id,
            client_ip,
            &ua,
        ));
        if ep == Endpoint::CountTokens {
            row.record.route_reason = "count_tokens".into();
        }

        let body = match read_body(session, self.max_body).await {
            BodyRead::Ok(b) => b,
            BodyRead::TooLarge => {
                row.end(413, Outcome::RelayError, Some("request_too_large"));
                session.set_keepalive(None);
                let msg = format!(
                    "request body is larger than the limit of {} bytes",
                    self.max_body
                );
                write_error(session, ErrorKind::RequestTooLarge, &msg, &rid, None).await?;
                // Read (and drop) the rest so the client sees the answer instead of a reset.
                drain_body(session, self.max_body.saturating_mul(2)).await;
                return Ok(());
            }
            BodyRead::Stalled => {
                row.end(408, Outcome::RelayError, Some("invalid_request_error"));
                session.set_keepalive(None);
                let msg = "the request body stalled: no data within server.body_read_timeout";
                return write_error(session, ErrorKind::BodyTimeout, msg, &rid, None).await;
            }
            BodyRead::ClientGone => {
                row.end(499, Outcome::ClientClosed, None);
                return Ok(());
            }
        };
        let meta = match body::parse(&body) {
            Ok(m) => m,
            Err(e) => {
                row.end(400, Outcome::RelayError, Some("invalid_request_error"));
                return write_error(
                    session,
                    ErrorKind::InvalidRequest,
                    &e.to_string(),
                    &rid,
                    None,
                )
                .await;
            }
        };
        let session_header = session
            .req_header()
            .headers
            .get("x-claude-code-session-id")
            .map_or(0, |v| v.len());
        if session_header > relay_shared::db::columns::SESSION_ID {
            row.end(400, Outcome::RelayError, Some("invalid_request_error"));
            let msg = format!(
                "x-claude-code-session-id: longer than the maximum of {} bytes",
                relay_shared::db::columns::SESSION_ID
            );
            return write_error(session, ErrorKind::InvalidRequest, &msg, &rid, None).await;
        }
        row.record.model = meta.model.clone();
        row.record.stream = meta.stream;
        if !glob::allowed(&key.allowed_models, &meta.model) {
            row.end(403, Outcome::RelayError, Some("permission_error"));
            let msg = format!("this API key may not use the model {}", meta.model);
            return write_error(session, ErrorKind::Permission, &msg, &rid, None).await;
        }
        let empty = Default::default();
        let group = snap.group(key.group_id).unwrap_or(&empty);
        let session_id = sticky::session_id(session.req_header(), &meta).map(str::to_string);
        let now = relay_shared::db::now_ms();
        let admitted = if key.limits.any() || session_id.is_some() {
            let asked = self
                .limiter
                .admit(key.id, &key.limits, session_id.as_deref(), now);
            match asked.await {
                Ok(a) => a,
                Err(refusal) => return refuse(session, row, &refusal, &rid, now).await,
            }
        } else {
            Admitted {
                lease: Lease::none(),
                pinned: None,
            }
        };
        row.hold(self.limiter.clone(), admitted.lease);
        let req = Request {
            key: &key,
            meta: &meta,
            body,
            rid: &rid,
            session_id,
            pinned: admitted.pinned,
        };
        Box::pin(attempt::run(self, session, row, group, &req)).await
    }
}

/// Answers a request a key limit refuses: 429 `rate_limit_error` naming the limit, with
/// `retry-after` when the reset is known and `x-should-retry: false` for a spend limit.
async fn refuse(
    session: &mut Session,
    row: &mut PendingRow,
    refusal: &Refusal,
    rid: &str,
    now: i64,
) -> pingora::Result<()> {
    row.end(429, Outcome::RelayError, Some("rate_limit_error"));
    row.record.route_reason = "key_limit".into();
    let kind = if refusal.is_final() {
        ErrorKind::RateLimit
    } else {
        ErrorKind::RateLimitSoon
    };
    let msg = refusal.message(now);
    tracing::info!(request_id = %rid, key_id = row.record.api_key_id, reason = %msg, "key limit reached");
    write_error(session, kind, &msg, rid, refusal.retry_after_s(now)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_accept_the_claude_code_prefix_and_any_query() {
        let post = http::Method::POST;
        assert_eq!(endpoint(&post, "/v1/messages"), Some(Endpoint::Messages));
        assert_eq!(
            endpoint(&post, "/claude-code/v1/messages"),
            Some(Endpoint::Messages)
        );
        assert_eq!(
            endpoint(&post, "/v1/messages/count_tokens"),
            Some(Endpoint::CountTokens)
        );
        assert_eq!(
            endpoint(&http::Method::GET, "/claude-code/v1/models"),
            Some(Endpoint::Models)
        );
        assert_eq!(endpoint(&http::Method::GET, "/v1/messages"), None);
        assert_eq!(endpoint(&post, "/v1/complete"), None);
    }
}
