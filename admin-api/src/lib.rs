//! The admin and user JSON API (SPEC §6) on axum, and the web console's files. The front door
//! forwards `/api/*` and every non-relay path here.

pub mod auth;
pub mod csv_stream;
pub mod docs;
pub mod error;
pub mod extract;
pub mod http_client;
pub mod middleware;
pub mod oauth_client;
pub mod openapi;
pub mod ratelimit;
pub mod routes;
pub mod state;
pub mod time;
pub mod upstream_guard;
pub mod validate;
pub mod views;

use std::net::SocketAddr;

use axum::http::{Method, Uri};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};

pub use error::ApiError;
pub use state::AppState;

use routes::{
    account_probe, accounts, admin_users, api_keys, group_members, groups, logs, oauth, pricing,
    public, stats, stats_dims, user,
};

/// The `/api/v1` routes.
fn api() -> Router<AppState> {
    Router::new()
        .route("/status", get(routes::status::status))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/auth/login", post(routes::auth::login))
        .route("/auth/logout", post(routes::auth::logout))
        .route("/auth/logout-all", post(routes::auth::logout_all))
        .route("/auth/register", post(routes::auth::register))
        .route(
            "/user/profile",
            get(user::get_profile).put(user::put_profile),
        )
        .route("/user/password", put(user::put_password))
        .route(
            "/admin/users",
            get(admin_users::list).post(admin_users::create),
        )
        .route(
            "/admin/users/{id}",
            put(admin_users::update).delete(admin_users::delete),
        )
        .route(
            "/admin/users/{id}/reset-password",
            post(admin_users::reset_password),
        )
        .route("/groups", get(groups::list).post(groups::create))
        .route(
            "/groups/{id}",
            get(groups::get).put(groups::update).delete(groups::delete),
        )
        .route(
            "/groups/{id}/members",
            get(group_members::list).post(group_members::add),
        )
        .route(
            "/groups/{id}/members/{user_id}",
            delete(group_members::remove),
        )
        .route("/api-keys", get(api_keys::list).post(api_keys::create))
        .route(
            "/api-keys/{id}",
            get(api_keys::get)
                .put(api_keys::update)
                .delete(api_keys::delete),
        )
        .route("/api-keys/{id}/regenerate", post(api_keys::regenerate))
        .route(
            "/admin/accounts",
            get(accounts::list).post(accounts::create),
        )
        .route(
            "/admin/accounts/{id}",
            get(accounts::get)
                .put(accounts::update)
                .delete(accounts::delete),
        )
        .route("/admin/accounts/{id}/enable", post(accounts::enable))
        .route("/admin/accounts/{id}/disable", post(accounts::disable))
        .route("/admin/accounts/{id}/reset", post(accounts::reset))
        .route("/admin/accounts/{id}/test", post(account_probe::test))
        .route("/admin/accounts/oauth/start", post(oauth::start))
        .route("/admin/accounts/oauth/exchange", post(oauth::exchange))
        .merge(usage_api())
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(api_not_found)
}

/// Logs, statistics, pricing and the public key lookup.
fn usage_api() -> Router<AppState> {
    Router::new()
        .route("/logs", get(logs::list_own))
        .route("/logs/export.csv", get(logs::export_own))
        .route("/logs/{id}", get(logs::get_own))
        .route("/admin/logs", get(logs::list_all))
        .route("/admin/logs/export.csv", get(logs::export_all))
        .route("/admin/logs/{id}", get(logs::get_any))
        .route("/stats/overview", get(stats::overview))
        .route("/stats/trend", get(stats::trend))
        .route("/stats/trend/export.csv", get(stats::trend_export))
        .route("/stats/models", get(stats_dims::models))
        .route("/stats/models/export.csv", get(stats_dims::models_export))
        .route("/stats/accounts", get(stats_dims::accounts))
        .route(
            "/stats/accounts/export.csv",
            get(stats_dims::accounts_export),
        )
        .route("/stats/keys", get(stats_dims::keys))
        .route("/stats/keys/export.csv", get(stats_dims::keys_export))
        .route("/pricing", get(pricing::pricing))
        .route("/public/key-usage", post(public::key_usage))
}

/// Builds the whole router: the API, the documentation page and the console's files, inside
/// the rate limit, CORS (when configured) and the access log.
pub fn app(state: AppState) -> Router {
    let router = Router::new()
        .nest("/api/v1", api())
        .route("/api/docs", get(docs::docs))
        .route("/api", get(api_not_found));
    let web_dir = state.config.admin.web_dir.clone();
    let index = web_dir.join("index.html");
    let router = if index.is_file() {
        router.fallback_service(ServeDir::new(web_dir).fallback(ServeFile::new(index)))
    } else {
        router.fallback(console_missing)
    };
    let cors = middleware::cors(&state.config.admin.cors_allow_origins);
    let mut router = router
        .layer(from_fn_with_state(state.clone(), middleware::rate_limit))
        .with_state(state);
    if let Some(cors) = cors {
        router = router.layer(cors);
    }
    router.layer(from_fn(middleware::access_log))
}

async fn api_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}

async fn console_missing(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return ApiError::not_found(format!("no route for {}", uri.path())).into_response();
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
