//! `relay serve` from nothing: health, readiness, the data folder, the password printed once,
//! secrets reused on the next start, and no secret in the log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{client, Relay};

fn password_line(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("first login:"))
        .and_then(|rest| rest.trim().strip_prefix("admin / "))
        .map(str::to_string)
}

#[test]
fn a_fresh_start_serves_health_ready_and_the_admin_api_and_prints_the_password_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = Relay::start(dir.path(), 1, &[]);
    let http = client();

    let health = http.get(format!("{}/health", relay.base)).send().unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    assert_eq!(
        health.json::<serde_json::Value>().unwrap(),
        serde_json::json!({"status": "ok"})
    );

    let ready = http.get(format!("{}/ready", relay.base)).send().unwrap();
    assert_eq!(ready.status(), 200);

    let status: serde_json::Value = http
        .get(format!("{}/api/v1/status", relay.base))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(status["database"], "sqlite");
    assert_eq!(status["database_ok"], true);

    let probe = http.head(format!("{}/", relay.base)).send().unwrap();
    assert_eq!(probe.status(), 200, "Claude Code's HEAD / probe");
    let console = http.get(format!("{}/", relay.base)).send().unwrap();
    assert_eq!(console.status(), 200);

    let unknown = http
        .post(format!("{}/v1/nothing-here", relay.base))
        .send()
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.headers()["x-should-retry"], "false");
    let body: serde_json::Value = unknown.json().unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "not_found_error");

    let data = dir.path().join("data");
    assert!(data.join("relay.db").is_file());
    relay.stop();

    let stdout = relay.stdout();
    let password = password_line(&stdout).expect("the first start prints the admin password");
    assert_eq!(
        stdout.matches(&password).count(),
        1,
        "printed exactly once:\n{stdout}"
    );
    let file = data.join("admin-password.txt");
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), password);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The data directory is the owner's alone: 0700, and every file in it 0600.
    fn check(dir: &std::path::Path) {
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                check(&e.path());
            } else if t.is_file() {
                assert_eq!(mode(&e.path()), 0o600, "{}", e.path().display());
            }
        }
    }
    check(&data);
    let jwt = std::fs::read_to_string(data.join("secrets/jwt_secret")).unwrap();
    let key = std::fs::read_to_string(data.join("secrets/encryption_key")).unwrap();
    for f in ["secrets/jwt_secret", "secrets/encryption_key"] {
        assert_eq!(
            std::fs::metadata(data.join(f))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600,
            "{f}"
        );
    }

    let log = relay.stderr();
    assert!(!log.is_empty(), "the start-up log was captured");
    for secret in [password.as_str(), jwt.trim(), key.trim()] {
        assert!(
            !log.contains(secret),
            "a secret leaked into the log:\n{log}"
        );
    }

    // Second start: same data, same secrets, no password printed.
    let mut again = Relay::start(dir.path(), 2, &[]);
    let ready = http.get(format!("{}/ready", again.base)).send().unwrap();
    assert_eq!(ready.status(), 200);
    again.stop();
    let stdout2 = again.stdout();
    assert!(
        password_line(&stdout2).is_none(),
        "no password on the second start:\n{stdout2}"
    );
    assert!(!stdout2.contains(&password));
    assert!(!again.stderr().contains(&password));
    assert_eq!(
        std::fs::read_to_string(data.join("secrets/jwt_secret")).unwrap(),
        jwt
    );
    assert_eq!(
        std::fs::read_to_string(data.join("secrets/encryption_key")).unwrap(),
        key
    );
}

#[test]
fn secrets_and_the_admin_password_from_the_environment_never_reach_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let jwt = "jwt-from-env-0123456789abcdefghijklmnopqrstuvwxyz";
    let key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let password = "env-admin-password-42";
    let mut relay = Relay::start(
        dir.path(),
        1,
        &[
            ("JWT_SECRET", jwt),
            ("RELAY_ENCRYPTION_KEY", key),
            ("ADMIN_PASSWORD", password),
        ],
    );
    relay.stop();
    let (out, log) = (relay.stdout(), relay.stderr());
    for secret in [jwt, key, password] {
        assert!(!out.contains(secret), "secret on stdout:\n{out}");
        assert!(!log.contains(secret), "secret in the log:\n{log}");
    }
    assert!(
        out.contains("ADMIN_PASSWORD"),
        "the banner says where the password is:\n{out}"
    );
    assert!(
        !dir.path().join("data/secrets").exists(),
        "nothing generated when the environment has both"
    );
    assert!(!dir.path().join("data/admin-password.txt").exists());
}

#[test]
fn the_same_start_works_on_mysql() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(relay_shared::testing::mysql()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut relay = Relay::start(dir.path(), 1, &[("RELAY__DATABASE__URL", db.url.as_str())]);
    let http = client();
    let status: serde_json::Value = http
        .get(format!("{}/api/v1/status", relay.base))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(status["database"], "mysql");
    assert_eq!(
        http.get(format!("{}/ready", relay.base))
            .send()
            .unwrap()
            .status(),
        200
    );
    relay.stop();
    assert!(password_line(&relay.stdout()).is_some());
    let admins: i64 = rt.block_on(relay_shared::db::users::count(&db.db)).unwrap();
    assert_eq!(admins, 1);
}
