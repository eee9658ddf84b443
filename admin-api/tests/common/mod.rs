//! `TestApp`: the admin API over a fresh migrated database (SQLite file or MariaDB), first
//! start done with a known admin password, served by `relay_admin::serve` on 127.0.0.1:0 and
//! driven over real HTTP. One method per endpoint. Every response is recorded, and
//! [`TestApp::assert_no_leaks`] (run by `app_test!` after each test) checks that none
//! carries a password, a hash, an account secret or a full key it should not. The
//! per-endpoint methods live in [`endpoints`].

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

mod endpoints;
mod endpoints_usage;
#[allow(unused_imports)]
pub use endpoints_usage::{assert_csv_matches, csv_field, parse_csv};
pub mod mock_http;
pub mod usage_data;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use relay_admin::AppState;
use relay_shared::config::Config;
use relay_shared::crypto::{generate_encryption_key, SecretBox};
use relay_shared::db::Db;
use relay_shared::secrets::Secrets;
use relay_shared::testing::TestDb;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;
use zeroize::Zeroizing;

/// Password of the first admin.
pub const ADMIN_PASSWORD: &str = "admin-secret-pass";

/// Defines `mod $name { sqlite, mysql }` running the same body against a [`TestApp`] on each
/// backend, then scanning every response for leaks. An optional `config = |c| {...}` edits
/// the configuration first.
#[allow(unused_macros)]
macro_rules! app_test {
    ($name:ident, |$app:ident| $body:block) => {
        app_test!($name, config = |_c| {}, |$app| $body);
    };
    ($name:ident, config = |$c:ident| $cfg:block, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let db = relay_shared::testing::sqlite().await;
                let $app = crate::common::TestApp::spawn(db, |$c| $cfg).await;
                $body
                $app.assert_no_leaks();
            }

            #[tokio::test]
            async fn mysql() {
                let Some(db) = relay_shared::testing::mysql().await else {
                    return;
                };
                let $app = crate::common::TestApp::spawn(db, |$c| $cfg).await;
                $body
                $app.assert_no_leaks();
            }
        }
    };
}

/// Like [`app_test!`] for bodies that must prepare something (a mock server) before the app
/// starts: `both_backends!(name, body_fn)` runs `async fn body_fn(db: TestDb)` on SQLite and
/// on MySQL.
#[allow(unused_macros)]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$body(relay_shared::testing::sqlite().await).await;
            }

            #[tokio::test]
            async fn mysql() {
                if let Some(db) = relay_shared::testing::mysql().await {
                    super::$body(db).await;
                }
            }
        }
    };
}

/// One answer of the API.
#[derive(Debug, Clone)]
pub struct Resp {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
    /// The body as text.
    pub text: String,
}

impl Resp {
    /// The error code of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// The error field of an error answer.
    pub fn field(&self) -> &str {
        self.body["error"]["field"].as_str().unwrap_or_default()
    }

    /// `body.id`.
    pub fn id(&self) -> i64 {
        self.body["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no id in {}", self.text))
    }

    /// The `Set-Cookie` header.
    pub fn set_cookie(&self) -> String {
        self.headers
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }

    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "unexpected answer: {}", self.text);
        self
    }
}

#[derive(Debug, Clone)]
struct Recorded {
    what: String,
    text: String,
    issues_key: bool,
}

/// Options of one request.
#[derive(Debug, Default, Clone)]
pub struct Opts<'a> {
    /// `Authorization: Bearer`.
    pub token: Option<&'a str>,
    /// Session cookie value.
    pub cookie: Option<&'a str>,
    /// Send `X-Requested-With: XMLHttpRequest`.
    pub xrw: bool,
    /// `X-Forwarded-For` (trusted: the test client is on loopback).
    pub ip: Option<&'a str>,
    /// More request headers.
    pub headers: &'a [(&'a str, &'a str)],
}

/// The admin API under test.
pub struct TestApp {
    /// `http://127.0.0.1:PORT/api/v1`.
    pub base: String,
    /// The database.
    pub db: Db,
    /// The state the server runs with.
    pub state: AppState,
    client: reqwest::Client,
    log: Arc<Mutex<Vec<Recorded>>>,
    secrets: Mutex<Vec<String>>,
    _db: TestDb,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl TestApp {
    /// Migrated `db`, first start with [`ADMIN_PASSWORD`], served on a free port.
    pub async fn spawn(db: TestDb, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.server.data_dir = dir.path().to_path_buf();
        config.admin.web_dir = dir.path().join("no-web");
        tweak(&mut config);
        relay_shared::bootstrap::first_start(&db.db, dir.path(), Some(ADMIN_PASSWORD.into()))
            .await
            .unwrap();
        let secrets = Secrets {
            jwt_secret: Zeroizing::new("test-jwt-secret-0123456789-abcdefghij".into()),
            secret_box: SecretBox::from_key_text(&generate_encryption_key()).unwrap(),
        };
        let state = AppState::new(db.db.clone(), Arc::new(config), Arc::new(secrets));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serve_state = state.clone();
        tokio::spawn(async move {
            relay_admin::serve(listener, serve_state, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Self {
            base: format!("http://{addr}/api/v1"),
            db: db.db.clone(),
            state,
            client: reqwest::Client::new(),
            log: Arc::default(),
            secrets: Mutex::new(vec![ADMIN_PASSWORD.to_string()]),
            _db: db,
            _dir: dir,
            _shutdown: tx,
        }
    }

    /// Remembers a value no response may contain (values under 6 characters are too
    /// common to scan for).
    pub fn remember_secret(&self, s: &str) {
        if s.len() < 6 {
            return;
        }
        self.secrets.lock().unwrap().push(s.to_string());
    }

    /// Sends one request and records the answer.
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>, o: Opts<'_>) -> Resp {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(t) = o.token {
            req = req.bearer_auth(t);
        }
        if let Some(c) = o.cookie {
            req = req.header("cookie", format!("relay_session={c}"));
        }
        if o.xrw {
            req = req.header("x-requested-with", "XMLHttpRequest");
        }
        if let Some(ip) = o.ip {
            req = req.header("x-forwarded-for", ip);
        }
        for (k, v) in o.headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        let issues_key = (status == 201 && body.get("key").is_some())
            && (path == "/api-keys" || path.ends_with("/regenerate"));
        self.log.lock().unwrap().push(Recorded {
            what: format!("{method} {path} → {status}"),
            text: text.clone(),
            issues_key,
        });
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    /// Writes usage rows as the relay's pipeline does (roll-ups included), days counted in
    /// the configured time zone.
    pub async fn seed_usage(&self, records: &[relay_shared::db::usage::UsageRecord]) {
        let tz = self.state.config.tz();
        relay_shared::db::usage::insert_batch(&self.db, records, tz)
            .await
            .unwrap();
    }

    /// `GET` with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.send(
            Method::GET,
            path,
            None,
            Opts {
                token: Some(token),
                ..Default::default()
            },
        )
        .await
    }

    /// `POST` with a bearer token.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.send(
            Method::POST,
            path,
            Some(body),
            Opts {
                token: Some(token),
                ..Default::default()
            },
        )
        .await
    }

    /// `PUT` with a bearer token.
    pub async fn put(&self, path: &str, token: &str, body: Value) -> Resp {
        self.send(
            Method::PUT,
            path,
            Some(body),
            Opts {
                token: Some(token),
                ..Default::default()
            },
        )
        .await
    }

    /// `DELETE` with a bearer token.
    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.send(
            Method::DELETE,
            path,
            None,
            Opts {
                token: Some(token),
                ..Default::default()
            },
        )
        .await
    }

    /// Checks every recorded response: no password (hashed or plain), no token version, no
    /// account secret, and no full relay key outside the create/regenerate answer that issued
    /// it.
    pub fn assert_no_leaks(&self) {
        let log = self.log.lock().unwrap();
        let keys: Vec<String> = log
            .iter()
            .filter(|r| r.issues_key)
            .filter_map(|r| serde_json::from_str::<Value>(&r.text).ok())
            .filter_map(|v| v["key"].as_str().map(str::to_string))
            .collect();
        let secrets = self.secrets.lock().unwrap();
        for r in log.iter() {
            for bad in [
                "$argon2",
                "password_hash",
                "token_version",
                "key_hash",
                "_enc\"",
            ] {
                assert!(
                    !r.text.contains(bad),
                    "{} leaks `{bad}`: {}",
                    r.what,
                    r.text
                );
            }
            for s in secrets.iter() {
                assert!(
                    !r.text.contains(s.as_str()),
                    "{} leaks a secret: {}",
                    r.what,
                    r.text
                );
            }
            if !r.issues_key {
                for k in &keys {
                    assert!(!r.text.contains(k.as_str()), "{} leaks a full key", r.what);
                }
            }
        }
        assert!(!log.is_empty(), "the test made no request");
    }
}
