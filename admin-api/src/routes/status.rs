//! `GET /api/v1/status`: liveness of the admin API and of its database.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// Body of `/api/v1/status`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// `ok` when the database answers, else `degraded`.
    pub status: &'static str,
    /// Version of the relay.
    pub version: &'static str,
    /// `sqlite` or `mysql`.
    pub database: &'static str,
    /// Whether the database answered within 2 seconds.
    pub database_ok: bool,
    /// Seconds since the admin API started.
    pub uptime_seconds: u64,
}

/// Reports the version, the database backend and whether it answers (200, or 503 when not).
#[utoipa::path(get, path = "/api/v1/status", tag = "meta",
    responses(
        (status = 200, description = "Serving", body = Status),
        (status = 503, description = "The database does not answer", body = Status),
    ))]
pub async fn status(State(state): State<AppState>) -> (StatusCode, Json<Status>) {
    let database_ok = matches!(
        tokio::time::timeout(Duration::from_secs(2), state.db.ping()).await,
        Ok(Ok(()))
    );
    let code = if database_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Status {
        status: if database_ok { "ok" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        database: state.db.backend_name(),
        database_ok,
        uptime_seconds: state.started.elapsed().as_secs(),
    };
    (code, Json(body))
}
