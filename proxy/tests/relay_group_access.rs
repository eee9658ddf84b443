//! A key works only while its owner may use its group (SPEC §4): removing the owner from the
//! group refuses the key within a second (403 permission_error), adding them back restores it;
//! administrators may use every group.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::client;
use common::fixture::{Backend, Fixture, CLIENT_KEY};
use common::mock::{json_body, Reply};
use relay_shared::db::{groups, settings};

fn status_of(fx: &Fixture) -> (u16, serde_json::Value) {
    let resp = client()
        .post(fx.url("/v1/messages"))
        .header("authorization", format!("Bearer {CLIENT_KEY}"))
        .body(r#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}"#)
        .send()
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or_default())
}

fn within_a_second(fx: &Fixture, want: u16) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let (status, body) = status_of(fx);
        if status == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "still {status} after 1 s: {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn a_key_stops_working_when_its_owner_leaves_the_group(backend: Backend) {
    let reply = Reply::Json {
        status: 200,
        body: json_body("claude-sonnet-4-5", 1, 1, "ok"),
    };
    let Some(fx) = Fixture::start(backend, reply, &[]) else {
        return;
    };
    assert_eq!(status_of(&fx).0, 200);
    // What the admin API's member removal does: the row goes, the change version moves.
    let db = &fx.db.db;
    let group = fx.rt.block_on(groups::ensure_default(db)).unwrap();
    fx.rt
        .block_on(groups::remove_member(db, group.id, fx.user_id))
        .unwrap();
    fx.rt.block_on(settings::bump_change_version(db)).unwrap();
    let body = within_a_second(&fx, 403);
    assert_eq!(body["error"]["type"], "permission_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("member"),
        "{body}"
    );

    fx.rt
        .block_on(groups::add_member(db, group.id, fx.user_id))
        .unwrap();
    fx.rt.block_on(settings::bump_change_version(db)).unwrap();
    within_a_second(&fx, 200);
}
on_both!(
    a_key_stops_working_when_its_owner_leaves_the_group,
    a_key_stops_working_when_its_owner_leaves_the_group
);

#[test]
fn an_unknown_bearer_key_is_named_as_a_bearer_token() {
    let fx = Fixture::start(
        Backend::Sqlite,
        Reply::Json {
            status: 200,
            body: json_body("m", 1, 1, "ok"),
        },
        &[],
    )
    .unwrap();
    let resp = client()
        .post(fx.url("/v1/messages"))
        .header("authorization", "Bearer sk-not-a-key")
        .body(r#"{"model":"m"}"#)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 401);
    let v: serde_json::Value = resp.json().unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("Authorization") && !msg.contains("x-api-key"),
        "{msg}"
    );
}
