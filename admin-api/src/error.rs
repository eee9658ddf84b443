//! The one error type of the admin API: each variant has its HTTP status and a snake_case
//! code; the JSON body is `{"error":{"code","message","field"?}}`. Internal details are
//! logged, never sent.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use relay_shared::db::DbError;
use serde::Serialize;
use utoipa::ToSchema;

/// An error answered by the admin API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: a field or the body is invalid (`code` is usually `invalid_request`).
    #[error("{message}")]
    Invalid {
        /// Machine-readable code.
        code: &'static str,
        /// The offending field, when there is one.
        field: Option<String>,
        /// What is wrong, for a person.
        message: String,
    },
    /// 401 `unauthorized`: no valid credentials (or invalid ones, with a specific code).
    #[error("{message}")]
    Unauthorized {
        /// Machine-readable code.
        code: &'static str,
        /// What is wrong, for a person.
        message: String,
    },
    /// 403: authenticated but not allowed (`forbidden`, `csrf_check_failed`,
    /// `password_change_required`, `registration_disabled`, …).
    #[error("{message}")]
    Forbidden {
        /// Machine-readable code.
        code: &'static str,
        /// What is wrong, for a person.
        message: String,
        /// The offending field, when there is one.
        field: Option<String>,
    },
    /// 404 `not_found`: no such object (or not yours).
    #[error("{message}")]
    NotFound {
        /// What was not found, for a person.
        message: String,
        /// The field that referenced the missing object, when there is one.
        field: Option<String>,
    },
    /// 405 `method_not_allowed`: the path exists, the method does not.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: the change conflicts with stored data.
    #[error("{message}")]
    Conflict {
        /// Machine-readable code (`conflict`, `username_taken`, `group_in_use`, …).
        code: &'static str,
        /// What is wrong, for a person.
        message: String,
        /// The offending field, when there is one.
        field: Option<String>,
    },
    /// 413 `request_too_large`: the body is over the admin API's limit.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// 415 `unsupported_media_type`: the body is not declared as JSON.
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// 429: too many attempts; `retry-after` says when to try again.
    #[error("{message}")]
    TooManyRequests {
        /// Machine-readable code (`too_many_attempts`).
        code: &'static str,
        /// What is wrong, for a person.
        message: String,
        /// When another attempt may succeed.
        retry_after: Duration,
    },
    /// 502: an upstream this API called (the OAuth token endpoint) failed or answered
    /// nonsense.
    #[error("{message}")]
    BadGateway {
        /// Machine-readable code (`oauth_unreachable`, …).
        code: &'static str,
        /// What went wrong, for a person (never a secret).
        message: String,
    },
    /// 503: the database cannot be reached.
    #[error("database unavailable")]
    Unavailable,
    /// 500: anything else; the text is logged only.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// 400 `invalid_request` naming `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            code: "invalid_request",
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized {
            code: "unauthorized",
            message: message.into(),
        }
    }

    /// 403 with a specific code.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound {
            message: message.into(),
            field: None,
        }
    }

    /// 404 `not_found` naming the field that referenced the missing object.
    pub fn not_found_field(field: &str, message: impl Into<String>) -> Self {
        Self::NotFound {
            message: message.into(),
            field: Some(field.to_string()),
        }
    }

    /// 409 with a specific code, naming `field`.
    pub fn conflict(code: &'static str, field: Option<&str>, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
            field: field.map(str::to_string),
        }
    }

    /// 429 `rate_limited`: too many requests from this client; retry after `wait`.
    pub fn rate_limited(wait: Duration) -> Self {
        Self::TooManyRequests {
            code: "rate_limited",
            message: "too many requests from this address; slow down".into(),
            retry_after: wait,
        }
    }

    /// 500 with `detail` logged (never sent).
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }

    /// The HTTP status of this error.
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::Invalid { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::Conflict { code, .. }
            | Self::TooManyRequests { code, .. }
            | Self::BadGateway { code, .. } => code,
            Self::NotFound { .. } => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::PayloadTooLarge => "request_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Unavailable => "database_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. }
            | Self::Forbidden { field, .. }
            | Self::NotFound { field, .. }
            | Self::Conflict { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => Self::not_found("not found"),
            DbError::Conflict { constraint } => {
                tracing::debug!(%constraint, "write refused by a constraint");
                Self::conflict("conflict", None, "the change conflicts with existing data")
            }
            DbError::Other(sqlx_err) if is_unavailable(&sqlx_err) => Self::Unavailable,
            other => Self::Internal(other.to_string()),
        }
    }
}

fn is_unavailable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed
    )
}

/// The error body: `{"error": {...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// One error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// snake_case code, stable for scripts (`invalid_request`, `unauthorized`, `forbidden`, …).
    pub code: String,
    /// A sentence for a person.
    pub message: String,
    /// The request field the error is about, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!(%detail, "admin API internal error");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message: self.to_string(),
                field: self.field().map(str::to_string),
            },
        };
        let mut resp = (self.status_code(), Json(body)).into_response();
        if let Self::TooManyRequests { retry_after, .. } = &self {
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        resp
    }
}
