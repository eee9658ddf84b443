//! Layers around the whole admin API: one access-log line per request (method, path, status,
//! duration; never a query, a body or a token), the per-IP rate limit on `/api/*` (429
//! `rate_limited` with `retry-after`), and CORS when `admin.cors_allow_origins` names origins
//! (off by default: the console is same-origin); and, on `/api/v1`, the request body read to
//! its end before any handler answers ([`read_body_first`]).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::client::client_ip;
use crate::error::ApiError;
use crate::state::AppState;

/// Logs one line per request once the answer is known.
pub async fn access_log(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::info!(
        target: "relay_admin::access",
        %method,
        path,
        status = resp.status().as_u16(),
        duration_ms,
        "admin request"
    );
    resp
}

/// Reads the request body to its end (within axum's body limit, 2 MiB) before the handler
/// runs, so that an answer given before the handler looks at the body (401, 403, 415, 404)
/// still leaves the connection clean: the front door keeps its connections to this API open
/// and writes the body while we answer, and a connection closed on an unread body made it
/// answer 502 now and then. A body over the limit is a 413 at once.
pub async fn read_body_first(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match Bytes::from_request(Request::from_parts(parts.clone(), body), &()).await {
        Ok(b) => b,
        Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            return ApiError::PayloadTooLarge.into_response()
        }
        Err(e) => {
            return ApiError::Invalid {
                code: "invalid_body",
                field: None,
                message: e.body_text(),
            }
            .into_response()
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Refuses `/api/*` requests over `admin.rate_limit_per_minute` from one client IP. The IP is
/// read as the login throttle reads it ([`client_ip`]).
pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.rate_limiter.enabled() || !req.uri().path().starts_with("/api") {
        return next.run(req).await;
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = client_ip(peer, req.headers(), &state.trusted_proxies);
    match state.rate_limiter.check(&ip) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            tracing::debug!(%ip, "admin API rate limit hit");
            ApiError::rate_limited(wait).into_response()
        }
    }
}

/// The CORS layer for `origins`, or `None` when the list is empty (CORS off). Credentials
/// are allowed, so origins are listed exactly (never `*`); an origin that is not a valid
/// header value is skipped with a warning (config validation refuses those anyway).
pub fn cors(origins: &[String]) -> Option<CorsLayer> {
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(
            |o| match HeaderValue::from_str(o.trim().trim_end_matches('/')) {
                Ok(v) => Some(v),
                Err(_) => {
                    tracing::warn!(origin = %o, "ignoring an invalid CORS origin");
                    None
                }
            },
        )
        .collect();
    if list.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(list))
            .allow_credentials(true)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("x-requested-with"),
                HeaderName::from_static("x-api-key"),
            ])
            .expose_headers([header::RETRY_AFTER, header::CONTENT_DISPOSITION])
            .max_age(Duration::from_secs(600)),
    )
}
