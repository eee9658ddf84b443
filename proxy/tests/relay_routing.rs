//! Routing on the hot path: failover to the next account before any byte reached the client,
//! the last answer passed through when no account is left, OAuth accounts, model mapping,
//! gzip answers, mid-stream errors, and admin changes reaching the relay within a second.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use common::client;
use common::fixture::{Backend, Fixture, CLIENT_KEY};
use common::mock::{json_body, sse_body, Mock, Reply};
use relay_shared::crypto::{hash_relay_key, SecretBox};
use relay_shared::db::{accounts, api_keys, settings, Db};

fn post(fx: &Fixture, body: &str) -> reqwest::blocking::Response {
    client()
        .post(fx.url("/v1/messages"))
        .header("x-api-key", CLIENT_KEY)
        .body(body.to_string())
        .send()
        .unwrap()
}

/// Adds an account to the default group and waits for the relay to see it.
fn add_account(
    fx: &Fixture,
    name: &str,
    kind: &str,
    url: &str,
    priority: i64,
    mapping: &[(&str, &str)],
) -> i64 {
    let sb = SecretBox::from_key_text(&fx.enc_key).unwrap();
    let db: &Db = &fx.db.db;
    let group = fx
        .rt
        .block_on(relay_shared::db::groups::ensure_default(db))
        .unwrap();
    let oauth = kind == "claude";
    let a = fx
        .rt
        .block_on(accounts::create(
            db,
            &accounts::NewAccount {
                name: name.into(),
                platform_type: kind.into(),
                group_id: group.id,
                request_url: url.into(),
                secret_enc: (!oauth).then(|| sb.encrypt("sk-ant-second-account")),
                secret_hint: String::new(),
                access_token_enc: oauth.then(|| sb.encrypt("sk-ant-oat01-access-token")),
                refresh_token_enc: None,
                token_expires_at: None,
                auth_header: "both".into(),
                priority,
                weight: 100,
                max_concurrency: 0,
                allowed_models: vec![],
                model_mapping: mapping
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect::<BTreeMap<_, _>>(),
                proxy_url_enc: None,
                enabled: true,
                notes: String::new(),
            },
        ))
        .unwrap();
    fx.rt.block_on(settings::bump_change_version(db)).unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    a.id
}

const BODY: &str =
    r#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#;

fn a_529_fails_over_to_the_next_account_and_the_last_answer_passes_through(backend: Backend) {
    let overloaded =
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    let Some(fx) = Fixture::start(
        backend,
        Reply::Json {
            status: 529,
            body: overloaded.into(),
        },
        &[],
    ) else {
        return;
    };
    let second = Mock::start(Reply::Json {
        status: 200,
        body: json_body("claude-sonnet-4-5", 2, 3, "second"),
    });
    let second_id = add_account(&fx, "second", "claude_console", &second.url(), 200, &[]);

    let resp = post(&fx, BODY);
    assert_eq!(resp.status(), 200);
    assert!(resp.text().unwrap().contains("second"));
    assert_eq!(
        fx.mock.received().len(),
        1,
        "the first account was tried first (priority 100)"
    );
    assert_eq!(second.received().len(), 1);
    assert_eq!(
        second.received()[0].body,
        BODY.as_bytes(),
        "the same body was sent again"
    );
    let rows = fx.wait_rows(1);
    let r = &rows[0].record;
    assert_eq!(
        (r.attempts, r.account_id, r.route_reason.as_str()),
        (2, Some(second_id), "failover")
    );

    // Both accounts refuse: the last upstream answer reaches the client unchanged.
    second.set_fallback(Reply::Json {
        status: 529,
        body: overloaded.into(),
    });
    let resp = post(&fx, BODY);
    assert_eq!(resp.status(), 529);
    assert_eq!(resp.text().unwrap(), overloaded);
    let rows = fx.wait_rows(2);
    assert_eq!(
        (rows[0].record.outcome.as_str(), rows[0].record.status_code),
        ("upstream_error", 529)
    );
    assert_eq!(
        fx.mock.received().len(),
        1,
        "the first account cools down after its 529 and is not tried again meanwhile"
    );
}
on_both!(
    a_529_fails_over_to_the_next_account_and_the_last_answer_passes_through,
    a_529_fails_over_to_the_next_account_and_the_last_answer_passes_through
);

fn a_400_passes_through_unchanged_without_failover_or_a_state_change(backend: Backend) {
    let bad = r#"{"type":"error","error":{"type":"invalid_request_error","message":"bad tool"}}"#;
    let Some(fx) = Fixture::start(
        backend,
        Reply::Json {
            status: 400,
            body: bad.into(),
        },
        &[],
    ) else {
        return;
    };
    let second = Mock::start(Reply::Json {
        status: 200,
        body: json_body("claude-sonnet-4-5", 2, 3, "second"),
    });
    add_account(&fx, "second", "claude_console", &second.url(), 200, &[]);
    for _ in 0..3 {
        let resp = post(&fx, BODY);
        assert_eq!(resp.status(), 400);
        assert_eq!(resp.text().unwrap(), bad, "passed through unchanged");
    }
    assert_eq!(fx.mock.received().len(), 3, "the account is still used");
    assert_eq!(second.received().len(), 0, "no failover on a client error");
    let a = fx
        .rt
        .block_on(relay_shared::db::accounts::get(&fx.db.db, fx.account_id))
        .unwrap();
    assert_eq!((a.state.as_str(), a.cooldown_until), ("active", None));
}
on_both!(
    a_400_passes_through_unchanged_without_failover_or_a_state_change,
    a_400_passes_through_unchanged_without_failover_or_a_state_change
);

fn oauth_accounts_and_model_mappings_shape_the_upstream_request(backend: Backend) {
    let Some(fx) = Fixture::start(
        backend,
        Reply::Json {
            status: 200,
            body: json_body("m", 1, 1, "x"),
        },
        &[],
    ) else {
        return;
    };
    // Take the seeded account out so the new ones serve.
    fx.rt
        .block_on(accounts::update(
            &fx.db.db,
            fx.account_id,
            &accounts::AccountPatch {
                enabled: Some(false),
                ..Default::default()
            },
        ))
        .unwrap();
    let oauth = Mock::start(Reply::Json {
        status: 200,
        body: json_body("glm-4.6", 4, 5, "mapped"),
    });
    add_account(
        &fx,
        "sub",
        "claude",
        &oauth.url(),
        1,
        &[("claude-sonnet-*", "glm-4.6")],
    );

    let resp = client()
        .post(fx.url("/v1/messages?beta=true"))
        .header("authorization", format!("Bearer {CLIENT_KEY}"))
        .header("anthropic-beta", "claude-code-20250219")
        .body(BODY)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let up = &oauth.received()[0];
    assert_eq!(
        up.header("authorization"),
        ["Bearer sk-ant-oat01-access-token"]
    );
    assert!(up.header("x-api-key").is_empty());
    assert_eq!(
        up.header("anthropic-beta"),
        ["claude-code-20250219,oauth-2025-04-20"]
    );
    assert_eq!(
        up.body,
        BODY.replace("claude-sonnet-4-5", "glm-4.6").as_bytes(),
        "only the model value changed"
    );
    let rows = fx.wait_rows(1);
    assert_eq!(rows[0].record.model, "claude-sonnet-4-5");
    assert_eq!(rows[0].record.upstream_model, "glm-4.6");
}
on_both!(
    oauth_accounts_and_model_mappings_shape_the_upstream_request,
    oauth_accounts_and_model_mappings_shape_the_upstream_request
);

fn gzip_answers_pass_unchanged_and_are_counted(backend: Backend) {
    let json = json_body("claude-haiku-4-5", 17, 19, "zipped");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(json.as_bytes()).unwrap();
    let gz = enc.finish().unwrap();
    let reply = Reply::Raw {
        status: 200,
        headers: vec![
            "content-type: application/json".into(),
            "content-encoding: gzip".into(),
        ],
        body: gz.clone(),
    };
    let Some(fx) = Fixture::start(backend, reply, &[]) else {
        return;
    };
    let resp = post(&fx, BODY);
    assert_eq!(
        resp.headers()["content-encoding"],
        "gzip",
        "the client is told the truth"
    );
    assert_eq!(resp.bytes().unwrap().to_vec(), gz);
    let rows = fx.wait_rows(1);
    assert_eq!(
        (rows[0].record.input_tokens, rows[0].record.output_tokens),
        (17, 19)
    );
}
on_both!(
    gzip_answers_pass_unchanged_and_are_counted,
    gzip_answers_pass_unchanged_and_are_counted
);

fn a_mid_stream_error_reaches_the_client_and_the_row(backend: Backend) {
    let full = sse_body("claude-sonnet-4-5", 40, 1, 0, 0, 0, "x");
    let cut = full.find("event: content_block_delta").unwrap();
    let body = format!(
        "{}event: error\r\ndata: {{\"type\":\"error\",\"error\":{{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}}}\r\n\r\n",
        &full[..cut]
    );
    let Some(fx) = Fixture::start(
        backend,
        Reply::Sse {
            body: body.clone(),
            min: 1,
            max: 7,
            pause: Duration::ZERO,
        },
        &[],
    ) else {
        return;
    };
    let resp = post(
        &fx,
        &BODY.replace("\"max_tokens\":5", "\"stream\":true,\"max_tokens\":5"),
    );
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().unwrap(), body);
    let rows = fx.wait_rows(1);
    let r = &rows[0].record;
    assert_eq!(
        (r.outcome.as_str(), r.error_type.as_deref(), r.input_tokens),
        ("upstream_error", Some("overloaded_error"), 40)
    );
}
on_both!(
    a_mid_stream_error_reaches_the_client_and_the_row,
    a_mid_stream_error_reaches_the_client_and_the_row
);

fn a_disabled_key_is_refused_within_a_second(backend: Backend) {
    let Some(fx) = Fixture::start(
        backend,
        Reply::Json {
            status: 200,
            body: json_body("m", 1, 1, "x"),
        },
        &[],
    ) else {
        return;
    };
    assert_eq!(post(&fx, BODY).status(), 200);
    let key = fx
        .rt
        .block_on(api_keys::find_by_hash(
            &fx.db.db,
            &hash_relay_key(CLIENT_KEY),
        ))
        .unwrap()
        .unwrap();
    fx.rt
        .block_on(api_keys::update(
            &fx.db.db,
            key.id,
            &api_keys::ApiKeyPatch {
                enabled: Some(false),
                ..Default::default()
            },
        ))
        .unwrap();
    fx.rt
        .block_on(settings::bump_change_version(&fx.db.db))
        .unwrap();
    let changed = Instant::now();
    loop {
        let resp = post(&fx, BODY);
        if resp.status() == 401 {
            assert_eq!(resp.headers()["x-should-retry"], "false");
            break;
        }
        assert!(
            changed.elapsed() < Duration::from_secs(1),
            "still accepted after {:?}",
            changed.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
on_both!(
    a_disabled_key_is_refused_within_a_second,
    a_disabled_key_is_refused_within_a_second
);
