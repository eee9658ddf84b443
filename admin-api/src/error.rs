//! The one error type of the admin API: each variant has its HTTP status and a snake_case
//! code; the JSON body is `{"error":{"code","message","field"?}}`. Internal details are
//! logged, never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use relay_shared::db::DbError;
use serde_json::json;

/// An error answered by the admin API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: a field or the body is invalid.
    #[error("{message}")]
    Invalid {
        /// The offending field, when there is one.
        field: Option<&'static str>,
        /// What is wrong, for a person.
        message: String,
    },
    /// 404: no such object (or not yours).
    #[error("{0}")]
    NotFound(String),
    /// 409: the change conflicts with stored data.
    #[error("{0}")]
    Conflict(String),
    /// 503: the database cannot be reached.
    #[error("database unavailable")]
    Unavailable,
    /// 500: anything else; the text is logged only.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::Invalid { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid_request",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Unavailable => "database_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => Self::NotFound("not found".into()),
            DbError::Conflict { constraint } => Self::Conflict(format!(
                "the change conflicts with existing data ({constraint})"
            )),
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!(%detail, "admin API internal error");
        }
        let mut error = json!({ "code": self.code(), "message": self.to_string() });
        if let Self::Invalid { field: Some(f), .. } = &self {
            error["field"] = json!(f);
        }
        (self.status_code(), Json(json!({ "error": error }))).into_response()
    }
}
