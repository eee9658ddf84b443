//! The front door (SPEC §1) as a Pingora `ProxyHttp` service: `/health` and `/ready` are
//! answered here, the relay routes (`/v1/*`, `/claude-code/v1/*`) are handled in
//! `request_filter` ("handler mode", reference/pingora-0.9-notes.md §0), and every other path
//! is proxied to the admin sidecar through Pingora's normal pipeline, which streams bodies of
//! any size. Phase chart: <https://github.com/cloudflare/pingora/blob/main/docs/user_guide/phase_chart.md>

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::HttpPeer;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::{Error, Result};
use serde_json::json;

pub use crate::ctx::RequestCtx;
use crate::error::{write_error, write_json, ErrorKind};
use crate::lifecycle::Lifecycle;
use crate::readiness::Readiness;
use crate::relay::Relay;
use crate::request_id::request_id;

/// The front door service.
pub struct FrontDoor {
    admin_addr: SocketAddr,
    ready: Arc<Readiness>,
    relay: Arc<Relay>,
    life: Arc<Lifecycle>,
    body_read_timeout: Duration,
}

impl FrontDoor {
    /// A front door serving the relay routes with `relay` and forwarding other paths to the
    /// admin sidecar at `admin_addr`; each read of a request body may wait `body_read_timeout`.
    pub fn new(
        admin_addr: SocketAddr,
        ready: Arc<Readiness>,
        relay: Arc<Relay>,
        life: Arc<Lifecycle>,
        body_read_timeout: Duration,
    ) -> Self {
        Self {
            admin_addr,
            ready,
            relay,
            life,
            body_read_timeout,
        }
    }
}

/// What a path is, by its prefix.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Health,
    Ready,
    /// `HEAD /`: Claude Code's connectivity probe.
    RootProbe,
    /// `/v1/*` or `/claude-code/v1/*`.
    Relay,
    /// Everything else: the admin API and the console.
    Admin,
}

fn route(method: &http::Method, path: &str) -> Route {
    match path {
        "/health" => Route::Health,
        "/ready" => Route::Ready,
        "/" if method == http::Method::HEAD => Route::RootProbe,
        _ if path.starts_with("/v1/") || path == "/v1" => Route::Relay,
        _ if path.starts_with("/claude-code/v1/") => Route::Relay,
        _ => Route::Admin,
    }
}

#[async_trait]
impl ProxyHttp for FrontDoor {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::default()
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        // The header is in: the header deadline ends, each body read gets its own.
        crate::listener::header_read(session);
        session.set_read_timeout(Some(self.body_read_timeout));
        let req = session.req_header();
        ctx.request_id = request_id(req.headers.get("x-request-id").map(|v| v.as_bytes()));
        let rid = ctx.request_id.clone();
        match route(&req.method, req.uri.path()) {
            Route::Health => {
                let body = Bytes::from_static(br#"{"status":"ok"}"#);
                write_json(session, 200, body, &rid, &[]).await?;
            }
            Route::Ready => {
                let (status, mut body) = match self.ready.check() {
                    Ok(()) => (200, json!({ "status": "ready" })),
                    Err(reason) => (503, json!({ "status": "not_ready", "reason": reason })),
                };
                match self.ready.shared_up() {
                    Some(true) => body["redis"] = json!("up"),
                    Some(false) => {
                        body["redis"] = json!("down");
                        body["redis_note"] =
                            json!("limits are counted by this instance alone until Redis returns");
                    }
                    None => {}
                }
                write_json(session, status, Bytes::from(body.to_string()), &rid, &[]).await?;
            }
            Route::RootProbe => {
                write_json(session, 200, Bytes::new(), &rid, &[]).await?;
            }
            Route::Relay => {
                if self.life.draining() {
                    // Clients reconnect, to another instance, for their next request.
                    session.set_keepalive(None);
                }
                if self.life.refusing() {
                    crate::metrics::recorder().unrowed(Some(ErrorKind::ShuttingDown.status()));
                    let msg = "the relay is shutting down; retry on another instance";
                    return write_error(session, ErrorKind::ShuttingDown, msg, &rid, None)
                        .await
                        .map(|()| true);
                }
                ctx.inflight = Some(self.life.enter());
                let relay = self.relay.clone();
                // Boxed, like the large futures inside: a future is copied whole each time it
                // moves, and nesting them by value made each request copy tens of KiB.
                let done = Box::pin(relay.handle(session, ctx)).await;
                if ctx.row.is_none() {
                    let sent = session.response_written().map(|h| h.status.as_u16());
                    crate::metrics::recorder().unrowed(sent);
                }
                done?;
            }
            Route::Admin => return Ok(false),
        }
        Ok(true)
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(
            self.admin_addr,
            false,
            String::new(),
        )))
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        // What a reverse proxy in front of us said, passed on under names a client cannot set
        // itself: the sidecar believes them only when the peer is in `auth.trusted_proxies`.
        let joined = |name: &str| {
            let v: Vec<&str> = upstream
                .headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            (!v.is_empty()).then(|| v.join(", "))
        };
        let claims = [
            ("x-relay-forwarded-for", joined("x-forwarded-for")),
            ("x-relay-real-ip", joined("x-real-ip")),
            ("x-relay-forwarded-proto", joined("x-forwarded-proto")),
        ];
        for (name, value) in claims {
            upstream.remove_header(name);
            if let Some(v) = value {
                upstream.insert_header(name, v)?;
            }
        }
        // The sidecar trusts these because only the front door reaches it: never pass the
        // client's own values through.
        let ip = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        upstream.insert_header("x-forwarded-for", ip.as_str())?;
        upstream.insert_header("x-real-ip", ip.as_str())?;
        upstream.insert_header("x-forwarded-proto", "http")?;
        upstream.insert_header("x-request-id", ctx.request_id.as_str())?;
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        upstream_response.insert_header("x-request-id", ctx.request_id.as_str())?;
        Ok(())
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, _ctx: &mut RequestCtx) {
        // The next byte on this connection starts a new request header.
        crate::listener::request_done(session);
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        let code = match e.etype() {
            pingora::ErrorType::HTTPStatus(c) => *c,
            _ if e.esource() == &pingora::ErrorSource::Downstream => 0,
            _ => 502,
        };
        if code > 0 && session.response_written().is_none() {
            tracing::warn!(request_id = %ctx.request_id, error = %e, "admin sidecar unreachable");
            let body = json!({ "error": { "code": "admin_unavailable", "message": "the admin API is not reachable" } });
            let _ = write_json(
                session,
                code,
                Bytes::from(body.to_string()),
                &ctx.request_id,
                &[],
            )
            .await;
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn paths_route_by_prefix() {
        let get = http::Method::GET;
        assert_eq!(route(&get, "/health"), Route::Health);
        assert_eq!(route(&get, "/ready"), Route::Ready);
        assert_eq!(route(&http::Method::HEAD, "/"), Route::RootProbe);
        assert_eq!(route(&get, "/"), Route::Admin, "GET / is the console");
        assert_eq!(route(&http::Method::POST, "/v1/messages"), Route::Relay);
        assert_eq!(
            route(&http::Method::POST, "/claude-code/v1/messages"),
            Route::Relay
        );
        assert_eq!(route(&get, "/api/v1/status"), Route::Admin);
        assert_eq!(route(&get, "/v1beta"), Route::Admin);
    }
}
