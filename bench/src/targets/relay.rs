//! The relay under test: `target/release/relay serve` in a temporary working folder,
//! configured only through environment overrides, then seeded with one `claude_console`
//! account pointing at the mock and one relay key — through its own admin API when that is
//! there, else by writing the rows with `relay-shared`'s repositories into its SQLite file
//! (the relay picks both up through its change version).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use http::{Method, StatusCode};
use relay_shared::config::DatabaseConfig;
use relay_shared::crypto::{
    generate_encryption_key, generate_relay_key, hash_relay_key, relay_key_prefix, secret_hint,
    SecretBox,
};
use relay_shared::db::{accounts, api_keys, groups, settings, users, Db};
use serde_json::{json, Value};

use crate::load::client::oneshot;
use crate::procs::Proc;

/// Password of the relay's first `admin` user.
const ADMIN_PASSWORD: &str = "bench-admin-password-0123456789";
/// The upstream secret of the seeded account.
const ACCOUNT_SECRET: &str = "sk-bench-mock-upstream-secret-0123456789";

/// The workspace's root folder.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Where `cargo build --release -p relay-proxy` puts the binary.
pub fn default_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("release").join("relay")
}

/// Builds the relay's release binary (a no-op when it is fresh).
pub fn build() -> anyhow::Result<()> {
    eprintln!("building the relay: cargo build --release -p relay-proxy --bin relay");
    let st = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "-p", "relay-proxy", "--bin", "relay"])
        .current_dir(workspace_root())
        .status()
        .context("cannot run cargo")?;
    anyhow::ensure!(st.success(), "cargo build of the relay failed ({st})");
    Ok(())
}

/// Which seeding to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Seed {
    /// The admin API, else the repositories.
    Auto,
    /// Only the admin API.
    Api,
    /// Only the repositories.
    Db,
}

/// How the relay was seeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedPath {
    /// Through `POST /api/v1/...` of the admin sidecar.
    AdminApi,
    /// Rows written with the repositories.
    Repository,
}

/// A running, seeded relay.
pub struct RunningRelay {
    /// The process.
    pub proc: Proc,
    /// The relay key to send.
    pub key: String,
    /// How it was seeded.
    pub seeded: SeedPath,
    /// Why the admin API path was not used, when it was not.
    pub api_note: Option<String>,
}

/// Ports and files of one relay.
pub struct RelayPlan<'a> {
    /// The binary.
    pub bin: &'a Path,
    /// Working folder (holds `data/` and the database).
    pub dir: &'a Path,
    /// Front door.
    pub listen: SocketAddr,
    /// Admin sidecar.
    pub admin: SocketAddr,
    /// Metrics endpoint.
    pub metrics: SocketAddr,
    /// Base URL of the mock upstream.
    pub upstream_url: String,
    /// Extra environment.
    pub env: &'a [(String, String)],
}

impl RelayPlan<'_> {
    fn db_url(&self) -> String {
        format!("sqlite://{}/relay.db", self.dir.display())
    }
}

/// Starts the relay, waits for `/health`, seeds it and waits until the key is accepted.
pub async fn start(
    plan: &RelayPlan<'_>,
    enc_key: &str,
    seed: Seed,
) -> anyhow::Result<RunningRelay> {
    anyhow::ensure!(
        plan.bin.exists(),
        "{} does not exist: run `cargo build --release -p relay-proxy`",
        plan.bin.display()
    );
    let mut cmd = Command::new(plan.bin);
    cmd.current_dir(plan.dir).arg("serve");
    for (k, _) in std::env::vars() {
        if k.starts_with("RELAY") || k == "RUST_LOG" || k == "JWT_SECRET" || k == "ADMIN_PASSWORD" {
            cmd.env_remove(k);
        }
    }
    cmd.env("RELAY__SERVER__LISTEN", plan.listen.to_string())
        .env("RELAY__ADMIN__LISTEN", plan.admin.to_string())
        .env("RELAY__METRICS__LISTEN", plan.metrics.to_string())
        .env("RELAY__DATABASE__URL", plan.db_url())
        .env("RELAY__LOG__LEVEL", "warn")
        // Every connection of the load generator comes from 127.0.0.1: the per-IP share of the
        // connection cap (a defence against one source taking every slot) would refuse the
        // idle wave's thousands of streams from that one address.
        .env("RELAY__SERVER__MAX_CONNECTIONS_PER_IP", "0")
        .env(
            "JWT_SECRET",
            "bench-jwt-secret-0123456789abcdefghijklmnopqrstuvwxyz",
        )
        .env("RELAY_ENCRYPTION_KEY", enc_key)
        .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
        .envs(plan.env.iter().map(|(k, v)| (k, v)));
    let mut proc = Proc::spawn("relay", cmd, plan.dir)?;
    wait_health(plan.listen, &mut proc).await?;
    let api = match seed {
        Seed::Db => Err(anyhow::anyhow!("not tried (--seed db)")),
        Seed::Api | Seed::Auto => seed_api(plan).await,
    };
    let (key, seeded, api_note) = match api {
        Ok(key) => (key, SeedPath::AdminApi, None),
        Err(e) if seed == Seed::Api => return Err(e.context("seeding through the admin API")),
        Err(e) => {
            let note = format!("{e:#}");
            eprintln!("relay: admin API seeding unavailable ({note}); writing rows instead");
            (
                seed_repository(plan, enc_key).await?,
                SeedPath::Repository,
                Some(note),
            )
        }
    };
    wait_key(plan.listen, &key, &mut proc).await?;
    Ok(RunningRelay {
        proc,
        key,
        seeded,
        api_note,
    })
}

/// A new 64-hex-digit encryption key.
pub fn new_encryption_key() -> String {
    generate_encryption_key()
}

async fn wait_health(addr: SocketAddr, proc: &mut Proc) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        proc.check_alive()?;
        if let Ok((s, _)) = oneshot(addr, Method::GET, "/health", &[], None).await {
            if s == StatusCode::OK {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("relay not healthy after 60 s:\n{}", proc.log_tail())
}

async fn post_json(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> anyhow::Result<(StatusCode, Value)> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = Vec::new();
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    let (status, bytes) = oneshot(
        addr,
        Method::POST,
        path,
        &headers,
        Some(Bytes::from(body.to_string())),
    )
    .await?;
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok((status, v))
}

/// Every limit a key can have, set far above what the benchmark sends, so that each request
/// is checked and counted against all of them (SPEC §4) without being refused.
pub const LIMIT_USD: i64 = 100_000;
/// The request-count limits, likewise.
pub const LIMIT_COUNT: i64 = 1_000_000;

/// `RELAY_BENCH_PLAIN_KEY=1`: a key with no limits and requests with no session id (to
/// measure what the limits and pins cost; the report's runs keep them on).
pub fn plain_key() -> bool {
    std::env::var_os("RELAY_BENCH_PLAIN_KEY").is_some_and(|v| v == "1")
}

fn key_body() -> Value {
    if plain_key() {
        return json!({"name": "bench"});
    }
    json!({
        "name": "bench",
        "daily_limit_usd": LIMIT_USD,
        "weekly_limit_usd": LIMIT_USD,
        "monthly_limit_usd": LIMIT_USD,
        "limit_5h_usd": LIMIT_USD,
        "total_limit_usd": LIMIT_USD,
        "rpm_limit": LIMIT_COUNT,
        "concurrency_limit": LIMIT_COUNT,
    })
}

async fn seed_api(plan: &RelayPlan<'_>) -> anyhow::Result<String> {
    let a = plan.admin;
    let (s, v) = post_json(
        a,
        "/api/v1/auth/login",
        None,
        json!({"username": "admin", "password": ADMIN_PASSWORD}),
    )
    .await?;
    anyhow::ensure!(s == StatusCode::OK, "login answered {s}: {v}");
    let token = v["token"].as_str().context("login answer has no token")?;
    let (s, v) = post_json(
        a,
        "/api/v1/admin/accounts",
        Some(token),
        json!({
            "name": "bench-mock",
            "platform_type": "claude_console",
            "request_url": plan.upstream_url,
            "secret_key": "sk-bench",
            "priority": 100,
            "weight": 100,
        }),
    )
    .await?;
    anyhow::ensure!(s.is_success(), "account create answered {s}: {v}");
    let (s, v) = post_json(a, "/api/v1/api-keys", Some(token), key_body()).await?;
    anyhow::ensure!(s == StatusCode::CREATED, "key create answered {s}: {v}");
    Ok(v["key"]
        .as_str()
        .context("key answer has no key")?
        .to_string())
}

async fn seed_repository(plan: &RelayPlan<'_>, enc_key: &str) -> anyhow::Result<String> {
    let db = Db::connect(&DatabaseConfig {
        url: plan.db_url(),
        max_connections: 1,
        min_connections: 0,
        connect_timeout: Duration::from_secs(10),
    })
    .await?;
    let sb = SecretBox::from_key_text(enc_key)?;
    let group = groups::ensure_default(&db).await?;
    let admin = users::find_by_username(&db, "admin")
        .await?
        .context("the relay created no admin user")?;
    accounts::create(
        &db,
        &accounts::NewAccount {
            name: "bench-mock".into(),
            platform_type: "claude_console".into(),
            group_id: group.id,
            request_url: plan.upstream_url.clone(),
            secret_enc: Some(sb.encrypt(ACCOUNT_SECRET)),
            secret_hint: secret_hint(ACCOUNT_SECRET),
            access_token_enc: None,
            refresh_token_enc: None,
            token_expires_at: None,
            auth_header: "x_api_key".into(),
            priority: 100,
            weight: 100,
            max_concurrency: 0,
            allowed_models: vec![],
            model_mapping: BTreeMap::new(),
            proxy_url_enc: None,
            enabled: true,
            notes: "relay-bench".into(),
        },
    )
    .await?;
    let key = generate_relay_key();
    api_keys::create(
        &db,
        &api_keys::NewApiKey {
            user_id: admin.id,
            group_id: group.id,
            name: "bench".into(),
            key_hash: hash_relay_key(&key),
            key_prefix: relay_key_prefix(&key),
            expires_at: None,
            allowed_models: vec![],
            daily_limit_micro_usd: LIMIT_USD * 1_000_000,
            total_limit_micro_usd: LIMIT_USD * 1_000_000,
            limit_5h_micro_usd: LIMIT_USD * 1_000_000,
            weekly_limit_micro_usd: LIMIT_USD * 1_000_000,
            monthly_limit_micro_usd: LIMIT_USD * 1_000_000,
            rpm_limit: LIMIT_COUNT,
            concurrency_limit: LIMIT_COUNT,
            enabled: true,
        },
    )
    .await?;
    settings::bump_change_version(&db).await?;
    db.close().await;
    Ok(key)
}

/// Waits until a non-stream request with `key` is relayed (the snapshot picked the rows up).
async fn wait_key(addr: SocketAddr, key: &str, proc: &mut Proc) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = Bytes::from(crate::protocol::small_body(false));
    let mut last = String::new();
    while Instant::now() < deadline {
        proc.check_alive()?;
        let headers = [
            ("x-api-key", key),
            ("anthropic-version", "2023-06-01"),
            ("x-claude-code-session-id", crate::protocol::SESSION_ID),
        ];
        match oneshot(
            addr,
            Method::POST,
            "/v1/messages",
            &headers,
            Some(body.clone()),
        )
        .await
        {
            Ok((s, _)) if s == StatusCode::OK => return Ok(()),
            Ok((s, b)) => last = format!("{s}: {}", String::from_utf8_lossy(&b)),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the relay never accepted the seeded key; last answer {last}")
}
