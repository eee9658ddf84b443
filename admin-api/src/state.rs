//! Shared state of the admin API: cheap handles cloned into every handler.

use std::sync::Arc;
use std::time::Instant;

use relay_shared::config::Config;
use relay_shared::db::Db;
use relay_shared::secrets::Secrets;

use crate::auth::hasher::PasswordHasher;
use crate::auth::proxies::TrustedProxies;
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
    /// Failed-login bookkeeping (per (username, client IP) and per client IP).
    pub throttle: Arc<LoginThrottle>,
    /// Failed public key lookups per IP (against key guessing).
    pub key_lookup_throttle: Arc<LoginThrottle>,
    /// Every password hash and check, under `auth.max_concurrent_hashes`.
    pub hasher: Arc<PasswordHasher>,
    /// Proxies whose forwarded client address is believed (`auth.trusted_proxies`).
    pub trusted_proxies: Arc<TrustedProxies>,
    /// Requests per client IP on the whole API.
    pub rate_limiter: Arc<RateLimiter>,
    /// Outbound HTTP (account tests, OAuth token endpoint).
    pub http: HttpClients,
}

impl AppState {
    /// Builds the state. An `auth.trusted_proxies` entry that does not parse (config
    /// validation refuses those) is logged and no proxy is trusted.
    pub fn new(db: Db, config: Arc<Config>, secrets: Arc<Secrets>) -> Self {
        let auth = &config.auth;
        let trusted_proxies = TrustedProxies::parse(&auth.trusted_proxies).unwrap_or_else(|e| {
            tracing::error!(error = %e, "auth.trusted_proxies ignored");
            TrustedProxies::default()
        });
        Self {
            throttle: Arc::new(LoginThrottle::new(
                auth.max_failed_logins,
                auth.max_failed_logins_per_ip,
                auth.lockout,
            )),
            key_lookup_throttle: Arc::new(LoginThrottle::new(
                auth.max_failed_logins,
                auth.max_failed_logins,
                auth.lockout,
            )),
            hasher: Arc::new(PasswordHasher::new(auth.max_concurrent_hashes)),
            trusted_proxies: Arc::new(trusted_proxies),
            rate_limiter: Arc::new(RateLimiter::new(config.admin.rate_limit_per_minute)),
            http: HttpClients::new(),
            db,
            config,
            secrets,
            started: Instant::now(),
        }
    }
}
