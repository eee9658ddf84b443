//! Test support: a fresh, migrated database per test on SQLite (a temporary file) or on the
//! MariaDB/MySQL server named by `RELAY_TEST_MYSQL_URL` (default
//! `mysql://root@127.0.0.1:3306`). With `CI` set, an unreachable server fails the test;
//! elsewhere the MySQL half is skipped with a loud message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::config::DatabaseConfig;
use crate::db::Db;

/// A database for one test; the SQLite file lives as long as this value.
pub struct TestDb {
    /// The migrated database.
    pub db: Db,
    /// URL the database was opened with (to start a relay against the same data).
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// Default server for MySQL tests.
pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306";

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn config(url: &str) -> DatabaseConfig {
    DatabaseConfig {
        url: url.to_string(),
        max_connections: 5,
        min_connections: 0,
        connect_timeout: Duration::from_secs(5),
    }
}

/// A fresh migrated SQLite database in a temporary directory.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/relay.db", dir.path().display());
    let db = Db::connect(&config(&url)).await.expect("open sqlite");
    db.migrate().await.expect("migrate sqlite");
    TestDb {
        db,
        url,
        _dir: Some(dir),
    }
}

/// The MySQL server URL for tests (no database part).
pub fn mysql_server_url() -> String {
    std::env::var("RELAY_TEST_MYSQL_URL").unwrap_or_else(|_| DEFAULT_MYSQL_URL.to_string())
}

/// A fresh migrated database on the MySQL server, or `None` (with a message) when the server
/// is unreachable outside CI. Inside CI (`CI` set) an unreachable server panics.
pub async fn mysql() -> Option<TestDb> {
    let server = mysql_server_url();
    let name = format!(
        "relay_test_{}_{}_{}",
        chrono::Utc::now().timestamp(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let url = format!("{}/{name}", server.trim_end_matches('/'));
    match Db::connect(&config(&url)).await {
        Ok(db) => {
            db.migrate().await.expect("migrate mysql");
            drop_stale(&db).await;
            Some(TestDb {
                db,
                url,
                _dir: None,
            })
        }
        Err(e) => {
            if std::env::var_os("CI").is_some() {
                panic!("MySQL/MariaDB at {server} is required in CI and unreachable: {e}");
            }
            eprintln!("!!! SKIPPING MySQL half of this test: {server} unreachable ({e}); set CI=1 to make this fatal");
            None
        }
    }
}

/// Drops test databases left by runs more than an hour old.
async fn drop_stale(db: &Db) {
    let Db::MySql(pool) = db else { return };
    let cutoff = chrono::Utc::now().timestamp() - 3600;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'relay\\_test\\_%'",
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default();
    for name in names {
        let ts = name
            .strip_prefix("relay_test_")
            .and_then(|rest| rest.split('_').next())
            .and_then(|t| t.parse::<i64>().ok());
        if ts.is_some_and(|t| t < cutoff) {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS `{name}`"))
                .execute(pool)
                .await;
        }
    }
}

/// Defines `mod $name { sqlite, mysql }`: the same async test body run against a fresh
/// SQLite database and a fresh MySQL database. The body receives `db: Db`.
#[macro_export]
macro_rules! db_test {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let t = $crate::testing::sqlite().await;
                let $db = t.db.clone();
                $body
            }

            #[tokio::test]
            async fn mysql() {
                let Some(t) = $crate::testing::mysql().await else {
                    return;
                };
                let $db = t.db.clone();
                $body
            }
        }
    };
}
