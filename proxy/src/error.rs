//! The one writer of responses the relay produces itself: Anthropic-shaped errors
//! (SPEC §2.6) and small JSON bodies such as `/health`. Every response carries the request id.

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::Result;
use serde_json::json;

/// Anthropic error types the relay answers with, and their HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400.
    InvalidRequest,
    /// 401.
    Authentication,
    /// 403.
    Permission,
    /// 404.
    NotFound,
    /// 408: the request body stalled (type `invalid_request_error`; retrying may help).
    BodyTimeout,
    /// 413.
    RequestTooLarge,
    /// 429: a limit that waiting does not lift soon (a spend limit).
    RateLimit,
    /// 429: a limit that lifts soon (requests per minute, requests in flight).
    RateLimitSoon,
    /// 500.
    Api,
    /// 529.
    Overloaded,
    /// 503 (type `overloaded_error`): the relay is shutting down and takes no new request;
    /// retrying (on another instance) helps.
    ShuttingDown,
}

impl ErrorKind {
    /// The `error.type` string.
    pub fn type_name(self) -> &'static str {
        match self {
            Self::InvalidRequest | Self::BodyTimeout => "invalid_request_error",
            Self::Authentication => "authentication_error",
            Self::Permission => "permission_error",
            Self::NotFound => "not_found_error",
            Self::RequestTooLarge => "request_too_large",
            Self::RateLimit | Self::RateLimitSoon => "rate_limit_error",
            Self::Api => "api_error",
            Self::Overloaded | Self::ShuttingDown => "overloaded_error",
        }
    }

    /// The HTTP status Anthropic uses for this type.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidRequest => 400,
            Self::Authentication => 401,
            Self::Permission => 403,
            Self::NotFound => 404,
            Self::BodyTimeout => 408,
            Self::RequestTooLarge => 413,
            Self::RateLimit | Self::RateLimitSoon => 429,
            Self::Api => 500,
            Self::Overloaded => 529,
            Self::ShuttingDown => 503,
        }
    }

    /// Whether a client retry cannot help (the answer carries `x-should-retry: false`).
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            Self::Api
                | Self::Overloaded
                | Self::ShuttingDown
                | Self::BodyTimeout
                | Self::RateLimitSoon
        )
    }
}

/// The JSON body of an Anthropic error.
pub fn error_body(kind: ErrorKind, message: &str, request_id: &str) -> Bytes {
    let v = json!({
        "type": "error",
        "error": { "type": kind.type_name(), "message": message },
        "request_id": request_id,
    });
    Bytes::from(v.to_string())
}

/// Writes an Anthropic-shaped error response; `retry_after` (seconds) is added when known.
pub async fn write_error(
    session: &mut Session,
    kind: ErrorKind,
    message: &str,
    request_id: &str,
    retry_after: Option<u64>,
) -> Result<()> {
    let mut extra: Vec<(&'static str, String)> = Vec::new();
    if kind.is_final() {
        extra.push(("x-should-retry", "false".into()));
    }
    if let Some(secs) = retry_after {
        extra.push(("retry-after", secs.to_string()));
    }
    let body = error_body(kind, message, request_id);
    write_json(session, kind.status(), body, request_id, &extra).await
}

/// Writes a complete JSON response (no body for `HEAD`).
pub async fn write_json(
    session: &mut Session,
    status: u16,
    body: Bytes,
    request_id: &str,
    extra: &[(&'static str, String)],
) -> Result<()> {
    let head_only = session.req_header().method == http::Method::HEAD;
    let mut h = ResponseHeader::build(status, Some(4 + extra.len()))?;
    h.insert_header("content-type", "application/json")?;
    h.insert_header("content-length", body.len().to_string())?;
    h.insert_header("request-id", request_id)?;
    h.insert_header("x-request-id", request_id)?;
    for (name, value) in extra {
        h.insert_header(*name, value.as_str())?;
    }
    session
        .write_response_header(Box::new(h), head_only)
        .await?;
    if !head_only {
        session.write_response_body(Some(body), true).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn error_bodies_have_anthropics_shape() {
        let b = error_body(ErrorKind::Authentication, "invalid x-api-key", "req_1");
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "authentication_error");
        assert_eq!(v["error"]["message"], "invalid x-api-key");
        assert_eq!(v["request_id"], "req_1");
        assert_eq!(ErrorKind::RequestTooLarge.status(), 413);
        assert!(ErrorKind::RateLimit.is_final());
        assert!(!ErrorKind::RateLimitSoon.is_final());
        assert_eq!(ErrorKind::RateLimitSoon.status(), 429);
        assert!(!ErrorKind::Overloaded.is_final());
    }
}
