//! The admin and user JSON API (SPEC §6) on axum, and the web console's files. The front door
//! forwards `/api/*` and every non-relay path here.

pub mod error;
pub mod routes;
pub mod state;

use std::net::SocketAddr;

use axum::http::{Method, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};

pub use error::ApiError;
pub use state::AppState;

/// Builds the whole router.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/status", get(routes::status::status))
        .fallback(api_not_found);
    let router = Router::new()
        .nest("/api/v1", api)
        .route("/api", get(api_not_found));
    let web_dir = state.config.admin.web_dir.clone();
    let index = web_dir.join("index.html");
    let router = if index.is_file() {
        router.fallback_service(ServeDir::new(web_dir).fallback(ServeFile::new(index)))
    } else {
        router.fallback(console_missing)
    };
    router.with_state(state)
}

async fn api_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {method} {}", uri.path()))
}

async fn console_missing(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return ApiError::NotFound(format!("no route for {}", uri.path())).into_response();
    }
    Html(
        "<!doctype html><meta charset=utf-8><title>Claude Code Relay</title>\
         <h1>Claude Code Relay</h1><p>The relay is running. The web console has not been built \
         (<code>web/dist</code> is missing); the admin API answers under <code>/api/v1/</code>.</p>",
    )
    .into_response()
}

/// Serves the admin API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
