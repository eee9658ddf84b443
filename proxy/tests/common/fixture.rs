//! A seeded relay for hot-path tests: a fresh database (SQLite or MySQL) holding a user, the
//! default group, one console account pointing at a [`Mock`], and one relay key; then the
//! real `relay` binary started against it.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use relay_shared::crypto::{
    generate_encryption_key, hash_relay_key, relay_key_prefix, secret_hint, SecretBox,
};
use relay_shared::db::usage::{LogFilter, UsageLogRow};
use relay_shared::db::{accounts, api_keys, groups, settings, usage, users, Db, Page};
use relay_shared::testing::TestDb;

use super::mock::{Mock, Reply};
use super::Relay;

/// The client's relay key.
pub const CLIENT_KEY: &str = "sk-relay-TestClientKey0123456789abcdefghijklmnopqrstu";
/// The account's upstream secret.
pub const ACCOUNT_SECRET: &str = "sk-ant-api03-MockAccountSecret-0123456789";

/// Which database backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// MariaDB on 127.0.0.1:3306.
    MySql,
}

/// Everything one hot-path test needs.
pub struct Fixture {
    /// Runtime for database calls from the test.
    pub rt: tokio::runtime::Runtime,
    /// The database.
    pub db: TestDb,
    /// The encryption key given to the relay.
    pub enc_key: String,
    /// The mock upstream.
    pub mock: Mock,
    /// The running relay.
    pub relay: Relay,
    /// Working directory of the relay.
    pub dir: tempfile::TempDir,
    /// Ids of the seeded rows.
    pub user_id: i64,
    /// Key id.
    pub key_id: i64,
    /// Account id.
    pub account_id: i64,
}

/// Opens a fresh database; `None` when MySQL is unreachable outside CI.
pub fn open(rt: &tokio::runtime::Runtime, backend: Backend) -> Option<TestDb> {
    match backend {
        Backend::Sqlite => Some(rt.block_on(relay_shared::testing::sqlite())),
        Backend::MySql => rt.block_on(relay_shared::testing::mysql()),
    }
}

/// Seeds a user, an account at `upstream` and the client key; returns (user, key, account).
pub async fn seed(db: &Db, sb: &SecretBox, upstream: &str) -> (i64, i64, i64) {
    let group = groups::ensure_default(db).await.unwrap();
    let user = users::create(
        db,
        &users::NewUser {
            username: "alice",
            email: None,
            password_hash: "$argon2id$unused",
            role: "user",
            must_change_password: false,
        },
    )
    .await
    .unwrap();
    // As the admin API does for every new user.
    groups::add_member(db, group.id, user.id).await.unwrap();
    let account = accounts::create(
        db,
        &accounts::NewAccount {
            name: "mock".into(),
            platform_type: "claude_console".into(),
            group_id: group.id,
            request_url: upstream.into(),
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
            notes: String::new(),
        },
    )
    .await
    .unwrap();
    let key = api_keys::create(
        db,
        &api_keys::NewApiKey {
            user_id: user.id,
            group_id: group.id,
            name: "test".into(),
            key_hash: hash_relay_key(CLIENT_KEY),
            key_prefix: relay_key_prefix(CLIENT_KEY),
            expires_at: None,
            allowed_models: vec![],
            daily_limit_micro_usd: 0,
            total_limit_micro_usd: 0,
            limit_5h_micro_usd: 0,
            weekly_limit_micro_usd: 0,
            monthly_limit_micro_usd: 0,
            rpm_limit: 0,
            concurrency_limit: 0,
            enabled: true,
        },
    )
    .await
    .unwrap();
    settings::bump_change_version(db).await.unwrap();
    (user.id, key.id, account.id)
}

impl Fixture {
    /// Seeds a fresh database and starts the relay with `env`; `None` when the MySQL half is
    /// skipped outside CI.
    pub fn start(backend: Backend, reply: Reply, env: &[(&str, &str)]) -> Option<Fixture> {
        Self::start_with(backend, reply, env, &api_keys::ApiKeyPatch::default(), None)
    }

    /// As [`Fixture::start`], the client key changed by `key` (its limits, say) before the
    /// relay starts.
    pub fn start_with_key(
        backend: Backend,
        reply: Reply,
        env: &[(&str, &str)],
        key: &api_keys::ApiKeyPatch,
    ) -> Option<Fixture> {
        Self::start_with(backend, reply, env, key, None)
    }

    /// [`Fixture::start`] with `config` written to `config.yaml` in the relay's working
    /// directory (`None`: the shipped file).
    pub fn start_with_config(
        backend: Backend,
        reply: Reply,
        env: &[(&str, &str)],
        config: Option<&str>,
    ) -> Option<Fixture> {
        Self::start_with(
            backend,
            reply,
            env,
            &api_keys::ApiKeyPatch::default(),
            config,
        )
    }

    /// [`Fixture::start`] with the key changed by `key` and the configuration `config`.
    pub fn start_with(
        backend: Backend,
        reply: Reply,
        env: &[(&str, &str)],
        key: &api_keys::ApiKeyPatch,
        config: Option<&str>,
    ) -> Option<Fixture> {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let db = open(&rt, backend)?;
        let enc_key = generate_encryption_key();
        let sb = SecretBox::from_key_text(&enc_key).unwrap();
        let mock = Mock::start(reply);
        let (user_id, key_id, account_id) = rt.block_on(seed(&db.db, &sb, &mock.url()));
        rt.block_on(api_keys::update(&db.db, key_id, key)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config_path = match config {
            Some(text) => {
                let path = dir.path().join("config.yaml");
                std::fs::write(&path, text).unwrap();
                path
            }
            None => super::shipped_config(),
        };
        let relay = Self::launch_with_config(dir.path(), 1, &db.url, &enc_key, env, &config_path);
        Some(Fixture {
            rt,
            db,
            enc_key,
            mock,
            relay,
            dir,
            user_id,
            key_id,
            account_id,
        })
    }

    /// Starts a relay process on `db_url` with the test secrets.
    pub fn launch(
        dir: &std::path::Path,
        run: u32,
        db_url: &str,
        enc_key: &str,
        env: &[(&str, &str)],
    ) -> Relay {
        let config = super::shipped_config();
        Self::launch_with_config(dir, run, db_url, enc_key, env, &config)
    }

    /// [`Fixture::launch`] with the configuration file `config`.
    pub fn launch_with_config(
        dir: &std::path::Path,
        run: u32,
        db_url: &str,
        enc_key: &str,
        env: &[(&str, &str)],
        config: &std::path::Path,
    ) -> Relay {
        let mut all: Vec<(&str, &str)> = vec![
            ("RELAY__DATABASE__URL", db_url),
            ("RELAY_ENCRYPTION_KEY", enc_key),
            ("JWT_SECRET", "test-jwt-secret-0123456789abcdefghijklmnop"),
            ("ADMIN_PASSWORD", "admin-password-for-tests"),
            ("RELAY__USAGE__FLUSH_INTERVAL", "100ms"),
        ];
        all.extend_from_slice(env);
        Relay::start_with_config(dir, run, &all, config)
    }

    /// URL of a relay path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.relay.base)
    }

    /// Every usage row, newest first.
    pub fn rows(&self) -> Vec<UsageLogRow> {
        rows(&self.rt, &self.db.db)
    }

    /// Waits (up to 20 s) until at least `n` usage rows exist and returns them, newest first.
    pub fn wait_rows(&self, n: usize) -> Vec<UsageLogRow> {
        wait_rows(&self.rt, &self.db.db, n)
    }
}

/// Every usage row, newest first.
pub fn rows(rt: &tokio::runtime::Runtime, db: &Db) -> Vec<UsageLogRow> {
    let page = Page {
        page: 1,
        page_size: 10_000,
    };
    rt.block_on(usage::list_logs(db, &LogFilter::default(), page))
        .unwrap()
        .0
}

/// Waits (up to 20 s) until at least `n` usage rows exist.
pub fn wait_rows(rt: &tokio::runtime::Runtime, db: &Db, n: usize) -> Vec<UsageLogRow> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = rows(rt, db);
        if r.len() >= n || Instant::now() > deadline {
            return r;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs a test body on SQLite and on MySQL: `on_both!(name, body_fn)` where
/// `fn body_fn(backend: Backend)`.
#[macro_export]
macro_rules! on_both {
    ($name:ident, $body:ident) => {
        mod $name {
            #[test]
            fn sqlite() {
                super::$body($crate::common::fixture::Backend::Sqlite)
            }
            #[test]
            fn mysql() {
                super::$body($crate::common::fixture::Backend::MySql)
            }
        }
    };
}

/// An account to add with [`Fixture::add_account`].
#[derive(Debug, Clone)]
pub struct AccountSpec {
    /// Name.
    pub name: String,
    /// Upstream base URL.
    pub url: String,
    /// Smaller first.
    pub priority: i64,
    /// Share within the tier.
    pub weight: i64,
    /// 0 = unlimited.
    pub max_concurrency: i64,
}

impl AccountSpec {
    /// A console account at `url` with priority 100, weight 100 and no concurrency limit
    /// (the seeded account's settings).
    pub fn new(name: &str, url: &str) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            priority: 100,
            weight: 100,
            max_concurrency: 0,
        }
    }
}

impl Fixture {
    /// Adds a console account to the default group; returns its id. The relay sees it after
    /// its next snapshot poll (250 ms): callers wait a little before relying on it.
    pub fn add_account(&self, spec: &AccountSpec) -> i64 {
        let sb = SecretBox::from_key_text(&self.enc_key).unwrap();
        let db = &self.db.db;
        let group = self.rt.block_on(groups::ensure_default(db)).unwrap();
        let a = self
            .rt
            .block_on(accounts::create(
                db,
                &accounts::NewAccount {
                    name: spec.name.clone(),
                    platform_type: "claude_console".into(),
                    group_id: group.id,
                    request_url: spec.url.clone(),
                    secret_enc: Some(
                        sb.encrypt(&format!("sk-ant-{}-secret-0123456789", spec.name)),
                    ),
                    secret_hint: String::new(),
                    access_token_enc: None,
                    refresh_token_enc: None,
                    token_expires_at: None,
                    auth_header: "x_api_key".into(),
                    priority: spec.priority,
                    weight: spec.weight,
                    max_concurrency: spec.max_concurrency,
                    allowed_models: vec![],
                    model_mapping: BTreeMap::new(),
                    proxy_url_enc: None,
                    enabled: true,
                    notes: String::new(),
                },
            ))
            .unwrap();
        self.rt.block_on(settings::bump_change_version(db)).unwrap();
        a.id
    }

    /// Changes the seeded account's concurrency limit.
    pub fn set_max_concurrency(&self, account_id: i64, max: i64) {
        let db = &self.db.db;
        let patch = accounts::AccountPatch {
            max_concurrency: Some(max),
            ..Default::default()
        };
        self.rt
            .block_on(accounts::update(db, account_id, &patch))
            .unwrap();
        self.rt.block_on(settings::bump_change_version(db)).unwrap();
    }

    /// The stored account.
    pub fn account(&self, id: i64) -> accounts::AccountRow {
        self.rt.block_on(accounts::get(&self.db.db, id)).unwrap()
    }
}

/// Waits (up to `within`) until `check` holds; panics naming `what` otherwise.
pub fn wait_for(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Fixture {
    /// Adds a `claude` (OAuth) account at `url` with an access token expiring at
    /// `expires_at` and a refresh token (none: a long-lived setup token); returns its id.
    pub fn add_oauth_account(
        &self,
        url: &str,
        access: &str,
        refresh: Option<&str>,
        expires_at: Option<i64>,
    ) -> i64 {
        let sb = SecretBox::from_key_text(&self.enc_key).unwrap();
        let db = &self.db.db;
        let group = self.rt.block_on(groups::ensure_default(db)).unwrap();
        let a = self
            .rt
            .block_on(accounts::create(
                db,
                &accounts::NewAccount {
                    name: "oauth".into(),
                    platform_type: "claude".into(),
                    group_id: group.id,
                    request_url: url.into(),
                    secret_enc: None,
                    secret_hint: String::new(),
                    access_token_enc: Some(sb.encrypt(access)),
                    refresh_token_enc: refresh.map(|r| sb.encrypt(r)),
                    token_expires_at: expires_at,
                    auth_header: "both".into(),
                    priority: 1,
                    weight: 100,
                    max_concurrency: 0,
                    allowed_models: vec![],
                    model_mapping: BTreeMap::new(),
                    proxy_url_enc: None,
                    enabled: true,
                    notes: String::new(),
                },
            ))
            .unwrap();
        self.rt.block_on(settings::bump_change_version(db)).unwrap();
        a.id
    }

    /// The decrypted access and refresh tokens stored for `id`.
    pub fn tokens(&self, id: i64) -> (Option<String>, Option<String>) {
        let sb = SecretBox::from_key_text(&self.enc_key).unwrap();
        let a = self.account(id);
        let dec = |v: Option<String>| v.map(|c| sb.decrypt(&c).unwrap().to_string());
        (dec(a.access_token_enc), dec(a.refresh_token_enc))
    }
}
