//! A relay serving several accounts, each the only one for its model (so a test picks the
//! account by the model it asks for), with the upstream TLS roots a test gives it.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use relay_shared::crypto::{generate_encryption_key, secret_hint, SecretBox};
use relay_shared::db::{accounts, groups, settings};
use relay_shared::testing::TestDb;

use super::fixture::{open, seed, Backend, Fixture, ACCOUNT_SECRET, CLIENT_KEY};
use super::tls::{TestCa, TlsUpstream};
use super::{client, Relay};

/// One account of a test: it alone serves `model`.
pub struct Acct {
    /// Name (the key of [`World::id`]).
    pub name: &'static str,
    /// The one model it serves.
    pub model: &'static str,
    /// Base URL.
    pub upstream: String,
    /// Proxy URL.
    pub proxy: Option<String>,
    /// Priority (smaller first).
    pub priority: i64,
}

/// An account `name` at `upstream` serving `model`, direct, priority 100.
pub fn acct(name: &'static str, model: &'static str, upstream: &TlsUpstream) -> Acct {
    Acct {
        name,
        model,
        upstream: upstream.url(),
        proxy: None,
        priority: 100,
    }
}

impl Acct {
    /// Through the proxy at `proxy_url`.
    pub fn via(mut self, proxy_url: String) -> Self {
        self.proxy = Some(proxy_url);
        self
    }

    /// With priority `p`.
    pub fn priority(mut self, p: i64) -> Self {
        self.priority = p;
        self
    }
}

/// A relay serving `accounts` and trusting `trusted` CAs for upstream TLS.
pub struct World {
    /// Runtime for database calls from the test.
    pub rt: tokio::runtime::Runtime,
    /// The database.
    pub db: TestDb,
    /// The running relay.
    pub relay: Relay,
    ids: HashMap<&'static str, i64>,
    _dir: tempfile::TempDir,
}

impl World {
    /// Seeds the accounts (the fixture's own account disabled) and starts the relay.
    pub fn start(trusted: &[&TestCa], accounts: Vec<Acct>) -> World {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let db = open(&rt, Backend::Sqlite).unwrap();
        let enc_key = generate_encryption_key();
        let sb = SecretBox::from_key_text(&enc_key).unwrap();
        let (_, _, seeded) = rt.block_on(seed(&db.db, &sb, "http://127.0.0.1:9"));
        let ids = rt.block_on(async {
            let off = accounts::AccountPatch {
                enabled: Some(false),
                ..Default::default()
            };
            accounts::update(&db.db, seeded, &off).await.unwrap();
            let group = groups::ensure_default(&db.db).await.unwrap();
            let mut ids = HashMap::new();
            for a in accounts {
                let row = accounts::create(&db.db, &new_account(&sb, group.id, &a))
                    .await
                    .unwrap();
                ids.insert(a.name, row.id);
            }
            settings::bump_change_version(&db.db).await.unwrap();
            ids
        });
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("roots.pem");
        std::fs::write(
            &ca_file,
            trusted.iter().flat_map(|c| c.pem()).collect::<Vec<u8>>(),
        )
        .unwrap();
        let env = [("SSL_CERT_FILE", ca_file.to_str().unwrap())];
        let relay = Fixture::launch(dir.path(), 1, &db.url, &enc_key, &env);
        let world = World {
            rt,
            db,
            relay,
            ids,
            _dir: dir,
        };
        world.wait_ready();
        world
    }

    /// Waits (up to 20 s) until `/ready` answers 200.
    pub fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let r = client().get(format!("{}/ready", self.relay.base)).send();
            if r.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("relay not ready; stderr:\n{}", self.relay.stderr());
    }

    /// Sends one message for `model`; (status, body).
    pub fn post(&self, model: &str) -> (u16, String) {
        let body = format!(r#"{{"model":"{model}","max_tokens":5,"messages":[]}}"#);
        let r = client()
            .post(format!("{}/v1/messages", self.relay.base))
            .header("x-api-key", CLIENT_KEY)
            .body(body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }

    /// The id of the account `name`.
    pub fn id(&self, name: &str) -> i64 {
        self.ids[name]
    }

    /// Waits (up to 10 s) until the account's last error is recorded, and returns it.
    pub fn last_error(&self, name: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let row = self
                .rt
                .block_on(accounts::get(&self.db.db, self.id(name)))
                .unwrap();
            match row.last_error {
                Some(e) if !e.is_empty() => return e,
                _ if Instant::now() > deadline => panic!("no last_error on {name}"),
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// The relay's log never holds any of `secrets`.
    pub fn assert_log_free_of(&self, secrets: &[&str]) {
        let log = self.relay.stderr();
        for s in secrets {
            assert!(!log.contains(s), "the log holds {s}:\n{log}");
        }
    }
}

fn new_account(sb: &SecretBox, group_id: i64, a: &Acct) -> accounts::NewAccount {
    accounts::NewAccount {
        name: a.name.into(),
        platform_type: "claude_console".into(),
        group_id,
        request_url: a.upstream.clone(),
        secret_enc: Some(sb.encrypt(ACCOUNT_SECRET)),
        secret_hint: secret_hint(ACCOUNT_SECRET),
        access_token_enc: None,
        refresh_token_enc: None,
        token_expires_at: None,
        auth_header: "x_api_key".into(),
        priority: a.priority,
        weight: 100,
        max_concurrency: 0,
        allowed_models: vec![a.model.into()],
        model_mapping: BTreeMap::new(),
        proxy_url_enc: a.proxy.as_deref().map(|p| sb.encrypt(p)),
        enabled: true,
        notes: String::new(),
    }
}
