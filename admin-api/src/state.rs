//! Shared state of the admin API: cheap handles cloned into every handler.

use std::sync::Arc;
use std::time::Instant;

use relay_shared::config::Config;
use relay_shared::db::Db;
use relay_shared::secrets::Secrets;

use crate::auth::throttle::LoginThrottle;
use crate::http_client::HttpClients;
use crate::ratelimit::RateLimiter;

/// Handles every handler can reach through `State<AppState>`.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The configuration loaded at start.
    pub config: Arc<Config>,
    /// JWT secret and the cipher for account secrets.
    pub secrets: Arc<Secrets>,
    /// When the process started, for `/status`.
    pub started: Instant,
    /// Failed-login bookkeeping (per username and per IP).
    pub throttle: Arc<LoginThrottle>,
    /// Failed public key lookups per IP (against key guessing).
    pub key_lookup_throttle: Arc<LoginThrottle>,
    /// Requests per client IP on the whole API.
    pub rate_limiter: Arc<RateLimiter>,
    /// Outbound HTTP (account tests, OAuth token endpoint).
    pub http: HttpClients,
}

impl AppState {
    /// Builds the state.
    pub fn new(db: Db, config: Arc<Config>, secrets: Arc<Secrets>) -> Self {
        let throttle = || {
            Arc::new(LoginThrottle::new(
                config.auth.max_failed_logins,
                config.auth.lockout,
            ))
        };
        Self {
            throttle: throttle(),
            key_lookup_throttle: throttle(),
            rate_limiter: Arc::new(RateLimiter::new(config.admin.rate_limit_per_minute)),
            http: HttpClients::new(),
            db,
            config,
            secrets,
            started: Instant::now(),
        }
    }
}
