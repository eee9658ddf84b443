//! The attempt loop (SPEC §3.2–§3.5): choose an account (the session's pinned one first), take
//! a slot (waiting in the group's line when every candidate is full), send, and read what the
//! answer says about the account. A connection failure, a timeout or a 401/403/429/5xx/529
//! answer is recorded on the account and the next candidate is tried while nothing has
//! reached the client, up to `scheduler.max_attempts` accounts; one selection per attempt.
//! When no account is left, the last upstream answer is passed through unchanged (the last
//! failed exchange is kept for that), else a 529 says why.

use std::sync::Arc;

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use relay_shared::models::Outcome;
use tokio::time::Instant;

use super::mask::SecretMask;
use super::row::PendingRow;
use super::stream::{pass_buffered, stream_response};
use super::{Relay, Request};
use crate::body;
use crate::error::{write_error, ErrorKind};
use crate::health::verdict::{self, StatusClass};
use crate::queue::Slot;
use crate::select::{select, Choice, SelectError};
use crate::snapshot::{AccountEntry, GroupAccounts};
use crate::upstream::Exchange;
use crate::upstream_header::upstream_header;

/// Most bytes of a 429 body read to tell whose limit it is.
const MAX_429_BODY: usize = 64 * 1024;
/// Selections in a row that may lose the race for a last slot before the request waits.
const MAX_LOST_RACES: u32 = 8;

/// What the last failed attempt left, to answer with when no account is left.
enum Last {
    /// Nothing tried yet.
    None,
    /// The upstream could not be reached: the reason, for the client.
    Transport(String),
    /// An answer whose body is still unread.
    Answer(Exchange, Arc<AccountEntry>),
    /// A 429 whose body was read.
    Buffered(Box<ResponseHeader>, Bytes, Arc<AccountEntry>),
}

/// Runs the attempts for an authenticated, parsed request.
pub async fn run(
    relay: &Relay,
    session: &mut Session,
    row: &mut PendingRow,
    group: &GroupAccounts,
    req: &Request<'_>,
) -> pingora::Result<()> {
    let mut tried: Vec<i64> = Vec::new();
    let mut last = Last::None;
    let queue = relay.queues.group(req.key.group_id);
    let tunables = relay.tunables.load_full();
    let deadline = Instant::now() + tunables.queue_timeout;
    let mut lost_races = 0;
    let pinned = req.pinned;
    loop {
        // Fair: while others wait for a slot, a newcomer waits behind them.
        if tried.is_empty() && lost_races == 0 && queue.has_waiters() && !queue.wait(deadline).await
        {
            return refuse(session, row, SelectError::AllBusy, &last, req).await;
        }
        let now = relay_shared::db::now_ms();
        let picked = select(
            group,
            &req.meta.model,
            &tried,
            pinned,
            now,
            &mut rand::thread_rng(),
        );
        let Choice { account, sticky } = match picked {
            Ok(c) => c,
            Err(SelectError::AllBusy) if tried.is_empty() => {
                if queue.wait(deadline).await {
                    continue;
                }
                return refuse(session, row, SelectError::AllBusy, &last, req).await;
            }
            Err(e) => return give_up(relay, session, row, e, last, req).await,
        };
        let Some(slot) = Slot::take(&account, req.key.group_id, &relay.queues) else {
            // Another request took the last slot between the choice and the take.
            lost_races += 1;
            if lost_races > MAX_LOST_RACES && !queue.wait(deadline).await {
                return refuse(session, row, SelectError::AllBusy, &last, req).await;
            }
            continue;
        };
        tried.push(account.id);
        note_attempt(row, &account, tried.len(), sticky, req);
        // The start record of the journal: a crash from here on still leaves a row.
        row.checkpoint();

        let upstream_model = row.record.upstream_model.clone();
        let send_body = if upstream_model == req.meta.model {
            req.body.clone()
        } else {
            body::with_model(&req.body, req.meta, &upstream_model)
        };
        let more = (tried.len() as u32) < tunables.max_attempts;
        // An OAuth account's token: the snapshot's, or a fresher one (refreshed when due).
        let mut token = relay.oauth.token_for(&account).await;
        let mut refreshed = false;
        let (ex, status) = loop {
            let client_req = session.req_header();
            let len = send_body.len();
            let bearer = token.as_deref().map(|t| t.as_str());
            let header = upstream_header(client_req, &account, len, bearer)?;
            let again = || upstream_header(client_req, &account, len, bearer).ok();
            let sent = relay
                .upstream
                .send(&account, header, again, send_body.clone());
            let waited = Instant::now();
            let sent = Box::pin(sent).await;
            row.upstream_wait += waited.elapsed();
            let ex = match sent {
                Ok(ex) => ex,
                Err(e) => break (Err(e), 0),
            };
            let status = ex
                .session
                .response_header()
                .map_or(502, |h| h.status.as_u16());
            let rejected = verdict::classify(status) == StatusClass::CredentialRejected;
            if !(rejected && account.oauth.is_some() && !refreshed) {
                break (Ok(ex), status);
            }
            // A rejected OAuth token: refresh (single-flight) and retry once on this account.
            refreshed = true;
            let used = bearer.unwrap_or(account.credential.secret()).to_string();
            match relay.oauth.after_rejection(&account, &used).await {
                Ok(t) => {
                    relay.upstream.finish(ex).await;
                    token = Some(t);
                }
                Err(e) => {
                    tracing::warn!(request_id = %req.rid, account_id = account.id, error = %e, "OAuth token refresh after a rejection failed");
                    break (Ok(ex), status);
                }
            }
        };
        let answered = ex.as_ref().ok().map(|_| status);
        crate::metrics::recorder().attempt(account.id, answered);
        let mut ex = match ex {
            Ok(ex) => ex,
            Err(e) => {
                tracing::warn!(request_id = %req.rid, account_id = account.id, error = %e, "upstream attempt failed");
                relay.health.failed(&account, now, &e.to_string());
                last = Last::Transport(e.public());
                if more {
                    continue;
                }
                return give_up(relay, session, row, SelectError::Exhausted, last, req).await;
            }
        };
        match verdict::classify(status) {
            StatusClass::PassThrough => {}
            StatusClass::RateLimited => {
                let body = read_small_body(&mut ex).await;
                let header = ex.session.response_header().cloned().map(Box::new);
                let (Some(header), Some(body)) = (header, body) else {
                    relay
                        .health
                        .failed(&account, now, "HTTP 429 with an unreadable body");
                    last = Last::Transport("the upstream connection broke".into());
                    if more {
                        continue;
                    }
                    return give_up(relay, session, row, SelectError::Exhausted, last, req).await;
                };
                relay.upstream.finish(ex).await;
                if verdict::asks_for_extra_usage(&body) {
                    // The request needs extra usage: the client's, not the account's.
                    drop(slot);
                    return pass_buffered(session, row, &header, body, &account, req.rid).await;
                }
                let cfg = relay.health.config();
                let until =
                    verdict::rate_limit_until(&header, now, cfg.cooldown_429, cfg.max_cooldown);
                relay.health.rate_limited(&account, until, "HTTP 429");
                last = Last::Buffered(header, body, account.clone());
                if more {
                    continue;
                }
                return give_up(relay, session, row, SelectError::Exhausted, last, req).await;
            }
            StatusClass::Failed => {
                relay
                    .health
                    .failed(&account, now, &format!("HTTP {status}"));
                if more {
                    last = Last::Answer(ex, account.clone());
                    continue;
                }
            }
            StatusClass::CredentialRejected => {
                if !account.rt.health.errored() {
                    relay
                        .health
                        .credential_rejected(&account, &format!("HTTP {status}"));
                }
                if more {
                    last = Last::Answer(ex, account.clone());
                    continue;
                }
            }
        }
        if let Last::Answer(old, _) = std::mem::replace(&mut last, Last::None) {
            relay.upstream.finish(old).await;
        }
        if status < 400 {
            if let Some(s) = req.session_id.as_deref() {
                let now = relay_shared::db::now_ms();
                if req.pinned != Some(account.id) {
                    relay.limiter.pin(req.key.id, s, account.id, now);
                }
            }
        }
        return answer(relay, session, row, ex, &account, req.rid, slot).await;
    }
}

/// Fills the row's account fields for an attempt.
fn note_attempt(row: &mut PendingRow, a: &AccountEntry, n: usize, sticky: bool, req: &Request<'_>) {
    row.record.attempts = n as i64;
    row.record.account_id = Some(a.id);
    row.record.sticky = sticky;
    row.record.route_reason = if sticky {
        "sticky"
    } else if n == 1 {
        "priority_weight"
    } else {
        "failover"
    }
    .into();
    row.record.upstream_model = a.map_model(&req.meta.model).to_string();
    if n == 1 && req.session_id.is_some() {
        crate::metrics::recorder().sticky(sticky);
    }
}

/// Streams an answer, holding the account's slot until it ends.
async fn answer(
    relay: &Relay,
    session: &mut Session,
    row: &mut PendingRow,
    ex: Exchange,
    account: &Arc<AccountEntry>,
    rid: &str,
    _slot: Slot,
) -> pingora::Result<()> {
    let status = ex
        .session
        .response_header()
        .map_or(502, |h| h.status.as_u16());
    // An error answer may echo the account's secret: it is masked on the way out.
    let mask = (status >= 400)
        .then(|| SecretMask::new(account.credential.secret()))
        .flatten();
    Box::pin(stream_response(relay, session, row, ex, account, rid, mask)).await
}

/// Reads a small error body whole (within the first-byte timeout); `None` when it fails.
async fn read_small_body(ex: &mut Exchange) -> Option<Bytes> {
    let mut body = bytes::BytesMut::new();
    loop {
        match ex.session.read_response_body().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_429_BODY {
                    return None;
                }
            }
            Ok(None) => return Some(body.freeze()),
            Err(_) => return None,
        }
    }
}

/// No account is left: the last answer passes through unchanged, else a 529 (or a 403 when
/// no account serves the model) says why.
async fn give_up(
    relay: &Relay,
    session: &mut Session,
    row: &mut PendingRow,
    e: SelectError,
    last: Last,
    req: &Request<'_>,
) -> pingora::Result<()> {
    match last {
        Last::Answer(ex, account) => {
            let rid = req.rid;
            Box::pin(stream_response(
                relay,
                session,
                row,
                ex,
                &account,
                rid,
                mask_of(&account),
            ))
            .await
        }
        Last::Buffered(header, body, account) => {
            pass_buffered(session, row, &header, body, &account, req.rid).await
        }
        other => refuse(session, row, e, &other, req).await,
    }
}

fn mask_of(a: &AccountEntry) -> Option<SecretMask> {
    SecretMask::new(a.credential.secret())
}

async fn refuse(
    session: &mut Session,
    row: &mut PendingRow,
    e: SelectError,
    last: &Last,
    req: &Request<'_>,
) -> pingora::Result<()> {
    let transport_error = match last {
        Last::Transport(t) => Some(t.as_str()),
        _ => None,
    };
    let retry_after = match &e {
        SelectError::Unavailable {
            earliest_recovery_ms: Some(t),
        } => {
            let now = relay_shared::db::now_ms();
            Some(u64::try_from((t - now).max(1000) / 1000).unwrap_or(1))
        }
        _ => None,
    };
    let (kind, msg) = match (&e, transport_error) {
        (SelectError::ModelNotAllowed, _) => (
            ErrorKind::Permission,
            format!(
                "no account in this group serves the model {}",
                req.meta.model
            ),
        ),
        (_, Some(err)) => (
            ErrorKind::Overloaded,
            format!("no upstream account could be reached: {err}"),
        ),
        (SelectError::AllBusy, None) => (
            ErrorKind::Overloaded,
            "every account of this group is at its concurrency limit".to_string(),
        ),
        (
            SelectError::Unavailable { .. } | SelectError::NoAccounts | SelectError::Exhausted,
            None,
        ) => (
            ErrorKind::Overloaded,
            "no account available in this group".to_string(),
        ),
    };
    let outcome = if transport_error.is_some() {
        Outcome::UpstreamError
    } else {
        Outcome::RelayError
    };
    row.end(kind.status(), outcome, Some(kind.type_name()));
    write_error(session, kind, &msg, req.rid, retry_after).await
}
