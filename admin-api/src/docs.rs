//! `GET /api/docs`: a browsable view of the OpenAPI document. One self-contained HTML page
//! (inline style and script, nothing loaded from the internet) that reads
//! `/api/v1/openapi.json` and lists every operation by tag, with parameters, bodies,
//! responses and schemas.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

/// The page.
const PAGE: &str = include_str!("docs.html");

/// Serves the documentation page.
#[utoipa::path(get, path = "/api/docs", tag = "meta",
    responses((status = 200, description = "The API documentation page", content_type = "text/html", body = String)))]
pub async fn docs() -> Response {
    (
        [(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             connect-src 'self'",
        )],
        Html(PAGE),
    )
        .into_response()
}
