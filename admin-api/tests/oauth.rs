//! OAuth onboarding of `claude` accounts against a mock token endpoint: the start answer (PKCE
//! S256), the exact JSON the token endpoint receives, the state check (wrong, expired, reused
//! or mismatched → 400), the pasted-code forms, and tokens stored encrypted with their expiry.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::mock_http::MockHttp;
use common::TestApp;
use relay_shared::db::{accounts, now_ms, oauth};
use relay_shared::testing::TestDb;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const ACCESS: &str = "sk-ant-oat01-MockAccessToken-SECRET-AAAA-Zz42";
const REFRESH: &str = "sk-ant-ort01-MockRefreshToken-SECRET-BBBB-Yy24";
const OWNER_EMAIL: &str = "subscriber@example.com";

fn tokens(access: &str, refresh: &str) -> Value {
    json!({
        "token_type": "Bearer",
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": 28_800,
        "scope": "user:inference user:profile",
        "account": { "uuid": "acc-uuid", "email_address": OWNER_EMAIL },
        "organization": { "uuid": "org-uuid" }
    })
}

async fn setup(db: TestDb) -> (TestApp, MockHttp, String) {
    let mock = MockHttp::start(200, tokens(ACCESS, REFRESH)).await;
    let token_url = format!("{}/v1/oauth/token", mock.url);
    let app = TestApp::spawn(db, |c| c.auth.oauth.token_url = token_url).await;
    for s in [ACCESS, REFRESH, OWNER_EMAIL] {
        app.remember_secret(s);
    }
    let admin = app.admin_token().await;
    (app, mock, admin)
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

async fn the_code_exchange_sends_the_exact_json_and_stores_tokens_encrypted(db: TestDb) {
    let (app, mock, admin) = setup(db).await;
    let cfg = app.state.config.auth.oauth.clone();
    let r = app.oauth_start(&admin, json!({})).await.expect(200);
    let state = r.body["state"].as_str().unwrap().to_string();
    let q = query(r.body["authorize_url"].as_str().unwrap());
    assert!(r.body["authorize_url"]
        .as_str()
        .unwrap()
        .starts_with(&cfg.authorize_url));
    assert_eq!(q["state"], state);
    assert_eq!(q["client_id"], cfg.client_id);
    assert_eq!(q["redirect_uri"], cfg.redirect_uri);
    assert_eq!(q["scope"], cfg.scopes);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["response_type"], "code");
    let expires = chrono::DateTime::parse_from_rfc3339(r.body["expires_at"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    assert!((expires - now_ms() - 600_000).abs() < 10_000, "10 minutes");

    // The verifier is kept encrypted.
    let stored = oauth::take(&app.db, &state, now_ms())
        .await
        .unwrap()
        .unwrap();
    let verifier = app
        .state
        .secrets
        .secret_box
        .decrypt(&stored.code_verifier_enc)
        .unwrap()
        .to_string();
    assert!(!stored.code_verifier_enc.contains(&verifier));
    oauth::insert(&app.db, &stored).await.unwrap();

    // The callback page's `code#state` form, with the account's fields.
    let body = json!({ "code": format!("auth-code-1#{state}"), "state": state,
                       "name": "Max subscription", "priority": 5, "max_concurrency": 3 });
    let r = app.oauth_exchange(&admin, body).await.expect(201);
    let seen = mock.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].uri, "/v1/oauth/token");
    assert!(seen[0]
        .header("content-type")
        .starts_with("application/json"));
    assert_eq!(
        seen[0].body,
        json!({
            "grant_type": "authorization_code",
            "code": "auth-code-1",
            "redirect_uri": cfg.redirect_uri,
            "client_id": cfg.client_id,
            "code_verifier": verifier,
            "state": state,
        })
    );
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    assert_eq!(q["code_challenge"], challenge, "S256 of the verifier");

    let b = &r.body;
    assert_eq!(b["access_token_hint"], "sk-ant-…Zz42");
    assert_eq!(b["has_refresh_token"], true);
    assert_eq!(b["scope"], "user:inference user:profile");
    let exp = chrono::DateTime::parse_from_rfc3339(b["expires_at"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    assert!((exp - now_ms() - 28_800_000).abs() < 10_000);
    let a = &b["account"];
    assert_eq!(
        (a["platform_type"].as_str(), a["name"].as_str()),
        (Some("claude"), Some("Max subscription"))
    );
    assert_eq!(
        (a["priority"].as_i64(), a["max_concurrency"].as_i64()),
        (Some(5), Some(3))
    );
    assert_eq!(
        (
            a["has_access_token"].as_bool(),
            a["has_refresh_token"].as_bool()
        ),
        (Some(true), Some(true))
    );
    assert_eq!(a["expires_at"], b["expires_at"]);

    let row = accounts::get(&app.db, a["id"].as_i64().unwrap())
        .await
        .unwrap();
    let sb = &app.state.secrets.secret_box;
    let (acc_enc, ref_enc) = (
        row.access_token_enc.unwrap(),
        row.refresh_token_enc.unwrap(),
    );
    assert!(!acc_enc.contains("MockAccessToken") && !ref_enc.contains("MockRefreshToken"));
    assert_eq!(sb.decrypt(&acc_enc).unwrap().as_str(), ACCESS);
    assert_eq!(sb.decrypt(&ref_enc).unwrap().as_str(), REFRESH);
    assert_eq!(row.token_expires_at.map(|t| t / 1000), Some(exp / 1000));

    // The state is used up.
    let again = json!({ "code": "auth-code-1", "state": state, "name": "again" });
    let r = app.oauth_exchange(&admin, again).await.expect(400);
    assert_eq!((r.code(), r.field()), ("invalid_state", "state"));
    assert_eq!(
        mock.seen().len(),
        1,
        "a refused state never reaches the token endpoint"
    );
    app.assert_no_leaks();
}
both_backends!(
    the_code_exchange_sends_the_exact_json_and_stores_tokens_encrypted,
    the_code_exchange_sends_the_exact_json_and_stores_tokens_encrypted
);

async fn wrong_expired_and_mismatched_states_are_refused(db: TestDb) {
    let (app, mock, admin) = setup(db).await;
    let r = app
        .oauth_exchange(&admin, json!({ "code": "c", "state": "never-issued" }))
        .await
        .expect(400);
    assert_eq!(r.code(), "invalid_state");

    // Expired: a session whose 10 minutes are over.
    let sb = &app.state.secrets.secret_box;
    let old = oauth::OAuthSessionRow {
        state: "expired-state".into(),
        code_verifier_enc: sb.encrypt("verifier-of-an-old-flow-0123456789abcdefghij"),
        created_by: 1,
        draft: sb.encrypt("{}"),
        created_at: now_ms() - 700_000,
        expires_at: now_ms() - 100_000,
    };
    oauth::insert(&app.db, &old).await.unwrap();
    let r = app
        .oauth_exchange(&admin, json!({ "code": "c", "state": "expired-state" }))
        .await
        .expect(400);
    assert_eq!(r.code(), "invalid_state");

    // A pasted code carrying another state is refused before the session is used…
    let st = app.oauth_start(&admin, json!({})).await.expect(200).body["state"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .oauth_exchange(&admin, json!({ "code": "c#someone-else", "state": st }))
        .await
        .expect(400);
    assert_eq!(r.code(), "invalid_state");
    // …so the right one still works: the whole callback URL, without `state`, no account.
    let url =
        format!("https://platform.claude.com/oauth/code/callback?code=code-from-url&state={st}");
    let r = app
        .oauth_exchange(&admin, json!({ "code": url }))
        .await
        .expect(200);
    assert!(r.body["account"].is_null());
    assert_eq!(r.body["has_refresh_token"], true);
    let seen = mock.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body["code"], "code-from-url");
    assert_eq!(seen[0].body["state"], st.as_str());

    let r = app
        .oauth_exchange(&admin, json!({ "code": "   " , "state": st }))
        .await
        .expect(400);
    assert_eq!(r.field(), "code");
    let r = app
        .oauth_exchange(&admin, json!({ "code": "c" }))
        .await
        .expect(400);
    assert_eq!(r.field(), "state");

    let (_, user) = app.user("mallory").await;
    app.oauth_start(&user, json!({})).await.expect(403);
    app.oauth_exchange(&user, json!({ "code": "c", "state": "x" }))
        .await
        .expect(403);
    app.assert_no_leaks();
}
both_backends!(
    wrong_expired_and_mismatched_states_are_refused,
    wrong_expired_and_mismatched_states_are_refused
);

async fn a_refused_code_a_draft_and_a_re_authorized_account(db: TestDb) {
    let (app, mock, admin) = setup(db).await;

    // The provider refuses the code: 400 with its reason.
    let st = app.oauth_start(&admin, json!({})).await.expect(200).body["state"]
        .as_str()
        .unwrap()
        .to_string();
    mock.push(
        400,
        json!({ "error": "invalid_grant", "error_description": "Invalid authorization code" }),
    );
    let r = app
        .oauth_exchange(&admin, json!({ "code": "bad", "state": st, "name": "x" }))
        .await
        .expect(400);
    assert_eq!(r.code(), "oauth_rejected");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Invalid authorization code"));
    assert_eq!(app.list_accounts(&admin, "").await.body["total"], 0);

    // Fields given at start are used at exchange.
    let st = app
        .oauth_start(
            &admin,
            json!({ "name": "From the draft", "weight": 7, "proxy_url": null }),
        )
        .await
        .expect(200)
        .body["state"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .oauth_exchange(&admin, json!({ "code": "good", "state": st }))
        .await
        .expect(201);
    let id = r.body["account"]["id"].as_i64().unwrap();
    assert_eq!(r.body["account"]["name"], "From the draft");
    assert_eq!(r.body["account"]["weight"], 7);

    // Re-authorizing an existing account replaces its tokens.
    let (new_access, new_refresh) = (
        "sk-ant-oat01-Second-Access-SECRET-Qq11",
        "sk-ant-ort01-Second-Refresh-SECRET-Ww22",
    );
    app.remember_secret(new_access);
    app.remember_secret(new_refresh);
    mock.push(200, tokens(new_access, new_refresh));
    let st = app.oauth_start(&admin, json!({})).await.expect(200).body["state"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .oauth_exchange(
            &admin,
            json!({ "code": "again", "state": st, "account_id": id }),
        )
        .await
        .expect(200);
    assert_eq!(r.body["account"]["id"], id);
    assert_eq!(r.body["account"]["secret_hint"], "sk-ant-…Qq11");
    let row = accounts::get(&app.db, id).await.unwrap();
    let sb = &app.state.secrets.secret_box;
    assert_eq!(
        sb.decrypt(row.access_token_enc.as_ref().unwrap())
            .unwrap()
            .as_str(),
        new_access
    );
    assert_eq!(
        sb.decrypt(row.refresh_token_enc.as_ref().unwrap())
            .unwrap()
            .as_str(),
        new_refresh
    );
    assert_eq!(row.name, "From the draft");

    // Only `claude` accounts can hold tokens.
    let console = app
        .create_account(
            &admin,
            json!({ "name": "c", "platform_type": "claude_console",
            "request_url": "https://api.example.com", "secret_key": "sk-test-0123456789" }),
        )
        .await
        .expect(201)
        .id();
    let st = app.oauth_start(&admin, json!({})).await.expect(200).body["state"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .oauth_exchange(
            &admin,
            json!({ "code": "c", "state": st, "account_id": console }),
        )
        .await
        .expect(400);
    assert_eq!(r.field(), "account_id");
    let r = app
        .oauth_start(&admin, json!({ "weight": 0 }))
        .await
        .expect(400);
    assert_eq!(r.field(), "weight");
    app.assert_no_leaks();
}
both_backends!(
    a_refused_code_a_draft_and_a_re_authorized_account,
    a_refused_code_a_draft_and_a_re_authorized_account
);
