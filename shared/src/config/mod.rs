//! Typed configuration (SPEC §7): the structs behind `config.yaml`, their defaults, and
//! loading with `RELAY__SECTION__KEY` environment overrides. Validation lives in
//! [`validate`]; every key documented in the shipped `config.yaml` has a field here.

mod load;
mod pricing;
mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use load::{load, ConfigError};
pub use pricing::{ModelPrice, PricingConfig};
pub use validate::{redact_url, ConfigIssue};

/// The whole configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The public front door (Pingora).
    pub server: ServerConfig,
    /// The admin sidecar (axum).
    pub admin: AdminConfig,
    /// The Prometheus endpoint.
    pub metrics: MetricsConfig,
    /// The relational database.
    pub database: DatabaseConfig,
    /// Optional Redis for multi-instance deployments.
    pub redis: RedisConfig,
    /// The hot path: body limit and upstream timeouts.
    pub relay: RelayConfig,
    /// Account selection.
    pub scheduler: SchedulerConfig,
    /// Account health, cooldowns and recovery.
    pub health: HealthConfig,
    /// Admin authentication.
    pub auth: AuthConfig,
    /// The usage pipeline.
    pub usage: UsageConfig,
    /// Model prices in USD per million tokens.
    pub pricing: PricingConfig,
    /// IANA time zone of the daily reset and of daily statistics.
    pub timezone: String,
    /// Logging.
    pub log: LogConfig,
    /// Security switches.
    pub security: SecurityConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::default(),
            admin: AdminConfig::default(),
            metrics: MetricsConfig::default(),
            database: DatabaseConfig::default(),
            redis: RedisConfig::default(),
            relay: RelayConfig::default(),
            scheduler: SchedulerConfig::default(),
            health: HealthConfig::default(),
            auth: AuthConfig::default(),
            usage: UsageConfig::default(),
            pricing: PricingConfig::default(),
            timezone: DEFAULT_TIMEZONE.into(),
            log: LogConfig::default(),
            security: SecurityConfig::default(),
        }
    }
}

/// `server`: the public front door.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address of the front door, `HOST:PORT`.
    pub listen: String,
    /// Worker threads of the front door.
    pub threads: usize,
    /// Directory for generated secrets, the first admin password and spilled usage rows.
    pub data_dir: PathBuf,
    /// How long a graceful shutdown waits for streams in flight.
    #[serde(with = "humantime_serde")]
    pub grace_period: Duration,
    /// Seconds after SIGTERM during which new requests are still served (while load
    /// balancers notice `/ready`); after them new requests get 503.
    pub drain_accept_s: u64,
    /// Longest time a client may take to send a request header (slow clients cannot hold
    /// the front door).
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    /// Longest wait for each read of a request body.
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// Most client connections open at once; further connections are refused (closed at
    /// once) and counted. Keep it below the process's descriptor limit.
    pub max_connections: usize,
    /// Once more than half of `max_connections` are open, connections from a client IP
    /// holding this many already are refused, so one source cannot take every slot; 0 = no
    /// per-IP share.
    pub max_connections_per_ip: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:8080".into(),
            threads: 2,
            data_dir: PathBuf::from("data"),
            grace_period: Duration::from_secs(60),
            drain_accept_s: 5,
            header_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 16_000,
            max_connections_per_ip: 256,
        }
    }
}

/// `admin`: the admin API sidecar.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Address of the admin API, `HOST:PORT` (keep it on loopback: the front door forwards to it).
    pub listen: String,
    /// Start the admin API inside the `relay serve` process.
    pub embedded: bool,
    /// Directory of the built web console.
    pub web_dir: PathBuf,
    /// Origins allowed by CORS; empty means CORS is off (same-origin console).
    pub cors_allow_origins: Vec<String>,
    /// Requests per minute per client IP on the admin API; 0 disables the limit.
    pub rate_limit_per_minute: u32,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8081".into(),
            embedded: true,
            web_dir: PathBuf::from("web/dist"),
            cors_allow_origins: Vec::new(),
            rate_limit_per_minute: 600,
        }
    }
}

/// `metrics`: Prometheus.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve metrics at all.
    pub enabled: bool,
    /// Address of the metrics endpoint, `HOST:PORT`.
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: "127.0.0.1:9091".into(),
        }
    }
}

/// `database`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://path/to/file.db` or `mysql://user:password@host:3306/name`.
    pub url: String,
    /// Largest number of pooled connections.
    pub max_connections: u32,
    /// Connections kept open when idle.
    pub min_connections: u32,
    /// How long to wait for a connection.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://data/relay.db".into(),
            max_connections: 10,
            min_connections: 1,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// `redis`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://host:6379/0`; empty means no Redis (single instance, in-memory counters).
    pub url: String,
    /// Prefix of every key this deployment writes.
    pub key_prefix: String,
    /// How long a concurrency slot outlives an instance that died holding it (live instances
    /// renew the slots of their long streams).
    #[serde(with = "humantime_serde")]
    pub lease_ttl: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            key_prefix: String::new(),
            lease_ttl: Duration::from_secs(30),
        }
    }
}

/// `relay`: the hot path.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelayConfig {
    /// Largest request body accepted; larger bodies get `413 request_too_large`.
    pub max_body_bytes: u64,
    /// TCP + TLS connect timeout to an upstream.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Longest wait for the first byte of an upstream response.
    #[serde(with = "humantime_serde")]
    pub first_byte_timeout: Duration,
    /// Longest pause between two chunks of a response (there is no total deadline).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Idle upstream connections kept per worker thread.
    pub upstream_pool_size: usize,
    /// Base URL of official (`claude`) accounts.
    pub anthropic_base_url: String,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 32 * 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(120),
            idle_timeout: Duration::from_secs(300),
            upstream_pool_size: 128,
            anthropic_base_url: "https://api.anthropic.com".into(),
        }
    }
}

/// `scheduler`: account selection.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// Accounts tried for one request before giving up.
    pub max_attempts: u32,
    /// How long a request waits for a free slot when every account is at its concurrency limit.
    #[serde(with = "humantime_serde")]
    pub queue_timeout: Duration,
    /// How long a session stays pinned to the account that served it (renewed on use).
    #[serde(with = "humantime_serde")]
    pub sticky_ttl: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            queue_timeout: Duration::from_secs(10),
            sticky_ttl: Duration::from_secs(3600),
        }
    }
}

/// `health`: account cooldowns and recovery.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Cooldown after a 429 that names no reset time.
    #[serde(with = "humantime_serde")]
    pub cooldown_429: Duration,
    /// Cooldown after a 529, a 5xx or a timeout.
    #[serde(with = "humantime_serde")]
    pub cooldown_5xx: Duration,
    /// Upper bound of any cooldown.
    #[serde(with = "humantime_serde")]
    pub max_cooldown: Duration,
    /// Failures within `error_window` that move an account to `error`.
    pub error_threshold: u32,
    /// Window over which failures are counted.
    #[serde(with = "humantime_serde")]
    pub error_window: Duration,
    /// How often accounts in `error` are probed.
    #[serde(with = "humantime_serde")]
    pub probe_interval: Duration,
    /// How long before expiry an OAuth access token is refreshed.
    #[serde(with = "humantime_serde")]
    pub refresh_before: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            cooldown_429: Duration::from_secs(300),
            cooldown_5xx: Duration::from_secs(60),
            max_cooldown: Duration::from_secs(6 * 3600),
            error_threshold: 5,
            error_window: Duration::from_secs(300),
            probe_interval: Duration::from_secs(300),
            refresh_before: Duration::from_secs(300),
        }
    }
}

/// `auth`: admin authentication and Claude OAuth onboarding.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Let anyone create a `user` account through `/api/v1/auth/register`.
    pub allow_registration: bool,
    /// Lifetime of a login token.
    #[serde(with = "humantime_serde")]
    pub token_ttl: Duration,
    /// Failed logins per (user, client IP) before further attempts from that IP for that
    /// user are refused.
    pub max_failed_logins: u32,
    /// Failed logins per client IP, whatever the user, before that IP is refused.
    pub max_failed_logins_per_ip: u32,
    /// How long failed logins are remembered and attempts refused.
    #[serde(with = "humantime_serde")]
    pub lockout: Duration,
    /// Password hashes computed at once (each argon2id hash takes about 19 MiB); further
    /// logins wait for a turn.
    pub max_concurrent_hashes: usize,
    /// Peers (IP addresses or CIDR ranges) whose `X-Forwarded-For` / `X-Real-IP` is believed;
    /// empty = the peer address is the client IP.
    pub trusted_proxies: Vec<String>,
    /// Claude OAuth endpoints for onboarding and refreshing `claude` accounts.
    pub oauth: OAuthConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            allow_registration: false,
            token_ttl: Duration::from_secs(24 * 3600),
            max_failed_logins: 10,
            max_failed_logins_per_ip: 50,
            lockout: Duration::from_secs(15 * 60),
            max_concurrent_hashes: 2,
            trusted_proxies: Vec::new(),
            oauth: OAuthConfig::default(),
        }
    }
}

/// `auth.oauth`: Claude OAuth constants (reference/anthropic-api.md §9).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuthConfig {
    /// Authorize page the admin opens.
    pub authorize_url: String,
    /// Token endpoint for the code exchange and refreshes.
    pub token_url: String,
    /// Redirect URI registered for the client id (manual code copy page).
    pub redirect_uri: String,
    /// OAuth client id.
    pub client_id: String,
    /// Space-separated scopes.
    pub scopes: String,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            authorize_url: "https://claude.com/cai/oauth/authorize".into(),
            token_url: "https://platform.claude.com/v1/oauth/token".into(),
            redirect_uri: "https://platform.claude.com/oauth/code/callback".into(),
            client_id: "9d1c250a-e61b-44d9-88ed-5944d1962f5e".into(),
            scopes: "user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload".into(),
        }
    }
}

/// `usage`: the asynchronous usage pipeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsageConfig {
    /// Rows written per database batch.
    pub batch_size: usize,
    /// Longest wait before a partial batch is written.
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
    /// Rows held in memory while the database is unreachable before spilling to disk.
    pub buffer_rows: usize,
    /// Days raw usage rows are kept (roll-ups are kept forever).
    pub retention_days: u32,
}

impl Default for UsageConfig {
    fn default() -> Self {
        Self {
            batch_size: 500,
            flush_interval: Duration::from_secs(1),
            buffer_rows: 100_000,
            retention_days: 90,
        }
    }
}

/// `log`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A level (`info`) or a `tracing` filter (`info,relay_proxy=debug`).
    pub level: String,
    /// `text` or `json`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// `security`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Let account tests and probes reach loopback, private, link-local and cloud metadata
    /// addresses (off: such upstreams are refused by the account test).
    pub allow_private_upstreams: bool,
}

/// Output format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The database backend named by `database.url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbBackend {
    /// Embedded SQLite file.
    Sqlite,
    /// MySQL or MariaDB server.
    MySql,
}

impl Config {
    /// The front door's socket address (validated at load).
    pub fn server_addr(&self) -> SocketAddr {
        parse_addr(&self.server.listen)
    }

    /// The admin sidecar's socket address (validated at load).
    pub fn admin_addr(&self) -> SocketAddr {
        parse_addr(&self.admin.listen)
    }

    /// The metrics endpoint's socket address (validated at load).
    pub fn metrics_addr(&self) -> SocketAddr {
        parse_addr(&self.metrics.listen)
    }

    /// The configured time zone (validated at load; UTC if somehow invalid).
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// Which backend `database.url` names.
    pub fn db_backend(&self) -> DbBackend {
        if self.database.url.starts_with("mysql://") || self.database.url.starts_with("mariadb://")
        {
            DbBackend::MySql
        } else {
            DbBackend::Sqlite
        }
    }
}

fn parse_addr(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// Default time zone, as in the seed project.
pub const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";

#[cfg(test)]
mod tests;
