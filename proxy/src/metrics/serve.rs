//! `GET /metrics` on `metrics.listen` (SPEC §1: off the public port), served by axum on the
//! core runtime; every other path is 404.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::render::Scraper;

async fn metrics(State(scraper): State<Arc<Scraper>>) -> impl IntoResponse {
    let text = scraper.scrape().await;
    ([(CONTENT_TYPE, prometheus::TEXT_FORMAT)], text)
}

/// Binds `addr` (failing at start-up when it cannot) and serves until the process ends.
pub async fn bind(addr: SocketAddr, scraper: Arc<Scraper>) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(scraper);
    tracing::info!(%addr, "metrics listening");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics endpoint stopped");
        }
    });
    Ok(())
}
