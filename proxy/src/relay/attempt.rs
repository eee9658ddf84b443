//! The attempt loop (SPEC §3.2, §3.4): choose an account, send, and fail over on a connection
//! failure or a 401/403/429/5xx/529 answer while nothing has reached the client, up to
//! `scheduler.max_attempts` accounts. The last answer is passed through unchanged when no
//! account is left.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use pingora::proxy::Session;
use relay_shared::models::Outcome;

use super::mask::SecretMask;
use super::row::PendingRow;
use super::stream::stream_response;
use super::Relay;
use crate::body::{self, RequestMeta};
use crate::error::{write_error, ErrorKind};
use crate::select::{select, SelectError};
use crate::snapshot::{AccountEntry, KeyEntry, Snapshot};
use crate::upstream_header::upstream_header;

/// Statuses after which another account is tried (SPEC §3.4).
fn fails_over(status: u16) -> bool {
    matches!(status, 401 | 403 | 429 | 500 | 502 | 503 | 504 | 529)
}

/// Holds one in-flight slot of an account for the life of an attempt.
struct Slot(Arc<AccountEntry>);

impl Slot {
    fn take(a: &Arc<AccountEntry>) -> Self {
        a.rt.inflight.fetch_add(1, Ordering::Relaxed);
        Self(a.clone())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.rt.inflight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs the attempts for an authenticated, parsed request.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    relay: &Relay,
    session: &mut Session,
    row: &mut PendingRow,
    snap: &Snapshot,
    key: &KeyEntry,
    meta: &RequestMeta,
    body: Bytes,
    rid: &str,
) -> pingora::Result<()> {
    let empty = Default::default();
    let group = snap.group(key.group_id).unwrap_or(&empty);
    let mut tried: Vec<i64> = Vec::new();
    let mut transport_error: Option<String> = None;
    loop {
        let now = relay_shared::db::now_ms();
        let picked = select(group, &meta.model, &tried, now, &mut rand::thread_rng());
        let account = match picked {
            Ok(a) => a,
            Err(e) => return refuse(session, row, e, transport_error.as_deref(), meta, rid).await,
        };
        tried.push(account.id);
        row.record.attempts = tried.len() as i64;
        row.record.account_id = Some(account.id);
        row.record.route_reason = if tried.len() == 1 {
            "priority_weight"
        } else {
            "failover"
        }
        .into();
        let _slot = Slot::take(&account);

        let upstream_model = account.map_model(&meta.model).to_string();
        let send_body = if upstream_model == meta.model {
            body.clone()
        } else {
            body::with_model(&body, meta, &upstream_model)
        };
        row.record.upstream_model = upstream_model;
        // The start record of the journal: a crash from here on still leaves a row.
        row.checkpoint();
        let client_req = session.req_header();
        let header = upstream_header(client_req, &account, send_body.len())?;
        let again = || upstream_header(client_req, &account, send_body.len()).ok();
        let sent = relay
            .upstream
            .send(&account, header, again, send_body.clone());
        let ex = match Box::pin(sent).await {
            Ok(ex) => ex,
            Err(e) => {
                tracing::warn!(request_id = %rid, account_id = account.id, error = %e, "upstream attempt failed");
                transport_error = Some(e.public());
                if tried.len() as u32 >= relay.max_attempts {
                    return refuse(
                        session,
                        row,
                        SelectError::Exhausted,
                        transport_error.as_deref(),
                        meta,
                        rid,
                    )
                    .await;
                }
                continue;
            }
        };
        let status = ex
            .session
            .response_header()
            .map_or(502, |h| h.status.as_u16());
        let may_retry = fails_over(status)
            && (tried.len() as u32) < relay.max_attempts
            && select(group, &meta.model, &tried, now, &mut rand::thread_rng()).is_ok();
        if may_retry {
            tracing::warn!(request_id = %rid, account_id = account.id, status, "upstream refused; failing over");
            let mut ex = ex;
            ex.session.shutdown().await;
            transport_error = None;
            continue;
        }
        // An error answer may echo the account's secret: it is masked on the way out.
        let mask = (status >= 400)
            .then(|| SecretMask::new(account.credential.secret()))
            .flatten();
        return Box::pin(stream_response(relay, session, row, ex, rid, mask)).await;
    }
}

async fn refuse(
    session: &mut Session,
    row: &mut PendingRow,
    e: SelectError,
    transport_error: Option<&str>,
    meta: &RequestMeta,
    rid: &str,
) -> pingora::Result<()> {
    let (kind, msg, retry_after) = match (&e, transport_error) {
        (SelectError::ModelNotAllowed, _) => (
            ErrorKind::Permission,
            format!("no account in this group serves the model {}", meta.model),
            None,
        ),
        (
            SelectError::Unavailable {
                earliest_recovery_ms,
            },
            _,
        ) => {
            let now = relay_shared::db::now_ms();
            let secs = earliest_recovery_ms
                .map(|t| u64::try_from((t - now).max(1000) / 1000).unwrap_or(1));
            (
                ErrorKind::Overloaded,
                "no account available in this group".to_string(),
                secs,
            )
        }
        (_, Some(err)) => (
            ErrorKind::Overloaded,
            format!("no upstream account could be reached: {err}"),
            None,
        ),
        (SelectError::AllBusy, None) => (
            ErrorKind::Overloaded,
            "every account of this group is at its concurrency limit".to_string(),
            None,
        ),
        (SelectError::NoAccounts | SelectError::Exhausted, None) => (
            ErrorKind::Overloaded,
            "no account available in this group".to_string(),
            None,
        ),
    };
    let outcome = if transport_error.is_some() {
        Outcome::UpstreamError
    } else {
        Outcome::RelayError
    };
    row.end(kind.status(), outcome, Some(kind.type_name()));
    write_error(session, kind, &msg, rid, retry_after).await
}
