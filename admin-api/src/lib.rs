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
use std::path::Path;

use axum::extract::Request;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, Method, Uri};
use axum::middleware::{from_fn, from_fn_with_state, Next};
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
        .layer(from_fn(middleware::read_body_first))
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
    let router = match console(&state.config.admin.web_dir) {
        Some(files) => router.fallback_service(files),
        None => router.fallback(console_missing),
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

/// `Cache-Control` of the console's hashed build output (`/assets/*`): its names change with
/// its content, so a browser may keep it for a year without asking again.
pub const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of everything else the console serves (`index.html`, the SPA fallback,
/// unhashed files): revalidated on every load, so a new build is picked up at once.
pub const CACHE_REVALIDATE: &str = "no-cache";

/// The built console in `web_dir` (`npm run build` writes `web/dist`), or `None` when it has
/// not been built. `/assets/*` are the hashed files (a missing one is a 404, never the
/// page); every other path is a file of the build or, for the console's own routes,
/// `index.html`.
fn console(web_dir: &Path) -> Option<Router> {
    let index = web_dir.join("index.html");
    if !index.is_file() {
        return None;
    }
    let assets = ServeDir::new(web_dir.join("assets"));
    let pages = ServeDir::new(web_dir).fallback(ServeFile::new(index));
    Some(
        Router::new()
            .nest_service("/assets", assets)
            .fallback_service(pages)
            .layer(from_fn(console_cache)),
    )
}

/// Sets the console's cache headers: [`CACHE_IMMUTABLE`] on hashed assets that were found,
/// [`CACHE_REVALIDATE`] on the rest. An unknown `/api/…` path stays a JSON 404 (as without a
/// build), never the console's page.
async fn console_cache(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path.starts_with("/api/") {
        return ApiError::not_found(format!("no route for {path}")).into_response();
    }
    let hashed = path.starts_with("/assets/");
    let mut resp = next.run(req).await;
    let value = if hashed && resp.status().is_success() {
        CACHE_IMMUTABLE
    } else {
        CACHE_REVALIDATE
    };
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static(value));
    resp
}

/// The page shown instead of the console when `web_dir` holds no build.
const CONSOLE_MISSING: &str = "<!doctype html><html lang=en><meta charset=utf-8>\
<meta name=viewport content=\"width=device-width, initial-scale=1\">\
<title>Claude Code Relay</title>\
<body style=\"font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;line-height:1.6\">\
<h1>Claude Code Relay</h1>\
<p>The relay is running, but the web console has not been built (<code>admin.web_dir</code>, \
by default <code>web/dist</code>, holds no <code>index.html</code>).</p>\
<p>Build it with Node.js 20 or later, from the repository folder:</p>\
<pre style=\"background:#f3f3f3;padding:.75rem 1rem;border-radius:6px\">cd web &amp;&amp; npm ci &amp;&amp; npm run build</pre>\
<p>(<code>make run</code> does this itself when Node.js is present.) Then reload this page. \
The admin API answers under <code>/api/v1/</code>.</p></body></html>";

async fn console_missing(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return ApiError::not_found(format!("no route for {}", uri.path())).into_response();
    }
    (
        [(CACHE_CONTROL, HeaderValue::from_static(CACHE_REVALIDATE))],
        Html(CONSOLE_MISSING),
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
