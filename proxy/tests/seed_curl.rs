//! The seed README's curl sequence, as written, against the front door of the real relay
//! binary: sign in as `admin` / `admin123` (given as ADMIN_PASSWORD: never a built-in
//! default), add an account with the seed's fields (its `request_url` pointing at a mock
//! upstream), create a key with the seed's `"YYYY-MM-DD HH:MM:SS"` expiry (in the future), call
//! `/v1/messages` with it, and find that call in `/api/v1/admin/logs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::client;
use common::fixture::{open, Backend, Fixture};
use common::mock::{json_body, Mock, Reply};
use relay_shared::crypto::generate_encryption_key;
use serde_json::{json, Value};

const SECRET_KEY: &str = "sk-your-claude-api-key";

fn post(http: &reqwest::blocking::Client, url: &str, token: &str, body: &Value) -> (u16, Value) {
    let r = http
        .post(url)
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

fn the_seed_readme_curl_sequence_works_as_written(backend: Backend) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = open(&rt, backend) else {
        return;
    };
    let mock = Mock::start(Reply::Json {
        status: 200,
        body: json_body("claude-3-sonnet-20240229", 12, 34, "你好！"),
    });
    let dir = tempfile::tempdir().unwrap();
    let relay = Fixture::launch(
        dir.path(),
        1,
        &db.url,
        &generate_encryption_key(),
        &[("ADMIN_PASSWORD", "admin123")],
    );
    let base = &relay.base;
    let http = client();

    // 1. curl -X POST http://localhost:8080/api/v1/auth/login -H "Content-Type: application/json"
    //    -d '{"username":"admin","password":"admin123"}'
    let r = http
        .post(format!("{base}/api/v1/auth/login"))
        .header("Content-Type", "application/json")
        .body(r#"{"username":"admin","password":"admin123"}"#)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let login: Value = r.json().unwrap();
    let admin = login["token"].as_str().unwrap().to_string();

    // 2. curl -X POST http://localhost:8080/api/v1/admin/accounts -H "Authorization: Bearer …"
    let account = json!({
        "name": "Claude官方账号",
        "platform_type": "claude",
        "request_url": mock.url(),
        "secret_key": SECRET_KEY,
        "priority": 100,
        "weight": 100
    });
    let (status, acc) = post(
        &http,
        &format!("{base}/api/v1/admin/accounts"),
        &admin,
        &account,
    );
    assert_eq!(status, 201, "{acc}");
    assert_eq!(acc["name"], "Claude官方账号");
    assert!(!acc.to_string().contains(SECRET_KEY));

    // 3. curl -X POST http://localhost:8080/api/v1/api-keys -d '{"name":"我的中转Key",
    //    "expires_at":"2030-12-31 23:59:59"}'
    let key_req = json!({ "name": "我的中转Key", "expires_at": "2030-12-31 23:59:59" });
    let (status, created) = post(&http, &format!("{base}/api/v1/api-keys"), &admin, &key_req);
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["expires_at"], "2030-12-31T15:59:59Z",
        "Asia/Shanghai"
    );
    let relay_key = created["key"].as_str().unwrap().to_string();

    // 4. curl -X POST http://localhost:8080/v1/messages -H "Authorization: Bearer YOUR_RELAY_API_KEY"
    //    (the new key reaches every instance within a second: retry its 401 that long)
    let message = json!({
        "model": "claude-3-sonnet-20240229",
        "messages": [{"role": "user", "content": "你好，Claude！"}],
        "max_tokens": 1000
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    let (status, reply) = loop {
        let (status, reply) = post(&http, &format!("{base}/v1/messages"), &relay_key, &message);
        if status != 401 || Instant::now() > deadline {
            break (status, reply);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["content"][0]["text"], "你好！");
    let upstream = mock.received().pop().unwrap();
    assert_eq!(upstream.path, "/v1/messages");
    let creds: Vec<&str> = upstream
        .header("x-api-key")
        .into_iter()
        .chain(upstream.header("authorization"))
        .collect();
    assert!(creds.iter().any(|c| c.contains(SECRET_KEY)), "{creds:?}");
    assert!(
        creds.iter().all(|c| !c.contains(&relay_key)),
        "the relay key stays here"
    );

    // 5. GET /api/v1/admin/logs: the call is there once the usage pipeline has written it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let row = loop {
        let r = http
            .get(format!("{base}/api/v1/admin/logs"))
            .header("Authorization", format!("Bearer {admin}"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        let text = r.text().unwrap();
        assert!(!text.contains(&relay_key));
        let logs: Value = serde_json::from_str(&text).unwrap();
        let found = logs["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["model"] == "claude-3-sonnet-20240229")
            .cloned();
        if let Some(row) = found {
            break row;
        }
        assert!(Instant::now() < deadline, "the call never appeared: {logs}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(row["status_code"], 200);
    assert_eq!(row["outcome"], "ok");
    assert_eq!(row["api_key_id"], created["id"]);
    assert_eq!(row["account_id"], acc["id"]);
    assert_eq!(row["user_id"], login["user"]["id"]);
    assert_eq!(
        (row["input_tokens"].as_i64(), row["output_tokens"].as_i64()),
        (Some(12), Some(34))
    );
    assert!(row["cost_usd"].as_f64().unwrap() > 0.0);
    assert!(row["request_id"].as_str().is_some_and(|s| !s.is_empty()));

    // 6. Disabling the key through the API makes the relay refuse it within a second.
    let key_url = format!("{base}/api/v1/api-keys/{}", created["id"]);
    let r = http
        .put(&key_url)
        .header("Authorization", format!("Bearer {admin}"))
        .header("Content-Type", "application/json")
        .body(json!({"enabled": false}).to_string())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let disabled_at = Instant::now();
    loop {
        let (status, reply) = post(&http, &format!("{base}/v1/messages"), &relay_key, &message);
        if status == 401 {
            assert_eq!(reply["error"]["type"], "authentication_error");
            break;
        }
        assert!(
            disabled_at.elapsed() < Duration::from_secs(1),
            "the disabled key still worked after {:?}",
            disabled_at.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(relay);
}
on_both!(
    the_seed_readme_curl_sequence_works_as_written,
    the_seed_readme_curl_sequence_works_as_written
);
