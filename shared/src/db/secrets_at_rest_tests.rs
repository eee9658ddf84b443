//! Secrets at rest (SPEC §11): what the database holds for an account is ciphertext and a
//! masked hint, never the secret; and the migrations of both backends stay in step.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use super::{accounts, groups};
use crate::crypto::{generate_encryption_key, secret_hint, SecretBox};
use crate::db_test;

const API_KEY: &str = "sk-ant-api03-PLAINTEXT-console-key-0123456789";
const ACCESS: &str = "sk-ant-oat01-PLAINTEXT-access-token-abcdef";
const REFRESH: &str = "sk-ant-ort01-PLAINTEXT-refresh-token-ghijkl";
const PROXY: &str = "socks5://bob:PLAINTEXT-proxy-password@10.0.0.1:1080";

db_test!(an_accounts_raw_row_holds_no_plaintext_secret, |db| {
    let sb = SecretBox::from_key_text(&generate_encryption_key()).unwrap();
    let group = groups::ensure_default(&db).await.unwrap();
    let account = accounts::create(
        &db,
        &accounts::NewAccount {
            name: "pool-1".into(),
            platform_type: "claude_console".into(),
            group_id: group.id,
            request_url: "https://api.anthropic.com".into(),
            secret_enc: Some(sb.encrypt(API_KEY)),
            secret_hint: secret_hint(API_KEY),
            access_token_enc: Some(sb.encrypt(ACCESS)),
            refresh_token_enc: Some(sb.encrypt(REFRESH)),
            token_expires_at: None,
            auth_header: "both".into(),
            priority: 100,
            weight: 100,
            max_concurrency: 0,
            allowed_models: vec![],
            model_mapping: BTreeMap::new(),
            proxy_url_enc: Some(sb.encrypt(PROXY)),
            enabled: true,
            notes: String::new(),
        },
    )
    .await
    .unwrap();

    // Every text column of the raw row, read without the repository's types.
    let sql =
        "SELECT name, request_url, secret_enc, secret_hint, access_token_enc, refresh_token_enc, \
               proxy_url_enc, notes, allowed_models, model_mapping FROM accounts WHERE id = ?";
    let row: Vec<Option<String>> = on_db!(&db, p => {
        use sqlx::Row;
        let r = sqlx::query(sql).bind(account.id).fetch_one(p).await.unwrap();
        (0..10).map(|i| r.try_get::<Option<String>, _>(i).unwrap()).collect()
    });
    let raw = row.iter().flatten().cloned().collect::<Vec<_>>().join("\n");
    assert!(
        !raw.contains("PLAINTEXT"),
        "plaintext secret at rest:\n{raw}"
    );
    assert!(raw.contains("sk-ant-…6789"), "the masked hint is stored");

    // And the ciphertexts decrypt back with the key.
    let stored = accounts::get(&db, account.id).await.unwrap();
    assert_eq!(
        sb.decrypt(stored.secret_enc.as_deref().unwrap())
            .unwrap()
            .as_str(),
        API_KEY
    );
    assert_eq!(
        sb.decrypt(stored.refresh_token_enc.as_deref().unwrap())
            .unwrap()
            .as_str(),
        REFRESH
    );
    assert_eq!(
        sb.decrypt(stored.proxy_url_enc.as_deref().unwrap())
            .unwrap()
            .as_str(),
        PROXY
    );
});

#[test]
fn both_backends_have_the_same_migration_versions() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations");
    let names = |backend: &str| {
        let mut v: Vec<String> = std::fs::read_dir(format!("{dir}/{backend}"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let (sqlite, mysql) = (names("sqlite"), names("mysql"));
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite, mysql,
        "migrations/sqlite and migrations/mysql must carry the same versions"
    );
}
