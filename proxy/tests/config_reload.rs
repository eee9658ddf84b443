//! Reload (SPEC §7): a SIGHUP with a changed price changes the cost of the next request while
//! a stream open across the reload completes (billed at the price it started with); a broken
//! file is refused, naming the key, and the running configuration stays; a change of the file
//! without a signal is picked up too. The process never stops.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::client;
use common::fixture::{wait_for, Backend, Fixture, CLIENT_KEY};
use common::mock::{json_body, sse_body, Reply};

const MODEL: &str = "claude-haiku-4-5";
/// The shipped price line of the model (input: 1 USD per million tokens).
const PRICE_LINE: &str =
    "claude-haiku-4-5*: { input: 1, output: 5, cache_write_5m: 1.25, cache_write_1h: 2, cache_read: 0.1 }";

fn config_with_input_price(usd: u32) -> String {
    let shipped = std::fs::read_to_string(common::shipped_config()).unwrap();
    assert!(
        shipped.contains(PRICE_LINE),
        "the shipped price of {MODEL} moved"
    );
    shipped.replace(
        PRICE_LINE,
        &PRICE_LINE.replace("input: 1,", &format!("input: {usd},")),
    )
}

/// A request of 1000 input tokens; returns its cost in micro-USD (from its usage row).
fn cost_of_next_request(fx: &Fixture) -> i64 {
    let before = fx.rows().len();
    let r = client()
        .post(fx.url("/v1/messages"))
        .header("x-api-key", CLIENT_KEY)
        .body(format!(
            r#"{{"model":"{MODEL}","max_tokens":5,"messages":[]}}"#
        ))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let rows = fx.wait_rows(before + 1);
    assert_eq!(rows.len(), before + 1);
    rows[0].record.cost_micro_usd
}

/// Log lines (JSON) whose message is `message`.
fn lines(fx: &Fixture, message: &str) -> Vec<serde_json::Value> {
    fx.relay
        .stderr()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == message)
        .collect()
}

fn wait_for_line(fx: &Fixture, message: &str, n: usize, what: &str) {
    wait_for(what, Duration::from_secs(10), || {
        lines(fx, message).len() >= n
    });
}

#[test]
fn sighup_and_file_changes_reload_prices_without_dropping_a_stream_and_a_broken_file_is_refused() {
    let reply = Reply::Json {
        status: 200,
        body: json_body(MODEL, 1000, 0, "hi"),
    };
    let env = [("RELAY__LOG__FORMAT", "json")];
    let config = config_with_input_price(1);
    let fx = Fixture::start_with_config(Backend::Sqlite, reply, &env, Some(&config)).unwrap();
    let path = fx.relay.dir.join("config.yaml");
    assert_eq!(cost_of_next_request(&fx), 1000);

    // A stream open across the reload.
    let body = sse_body(MODEL, 1000, 0, 0, 0, 0, "across the reload");
    let cut = body.find("event: content_block_delta").unwrap();
    fx.mock.push(Reply::Timed {
        parts: vec![
            (Duration::ZERO, body[..cut].to_string()),
            (Duration::from_secs(2), body[cut..].to_string()),
        ],
    });
    let url = fx.url("/v1/messages");
    let stream = std::thread::spawn(move || {
        let r = client()
            .post(url)
            .header("x-api-key", CLIENT_KEY)
            .body(format!(
                r#"{{"model":"{MODEL}","stream":true,"max_tokens":5,"messages":[]}}"#
            ))
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    });
    wait_for(
        "the stream reached the upstream",
        Duration::from_secs(10),
        || fx.mock.received().len() == 2,
    );

    std::fs::write(&path, config_with_input_price(2)).unwrap();
    fx.relay.send_hup();
    wait_for("a reload by SIGHUP", Duration::from_secs(10), || {
        lines(&fx, "configuration reloaded")
            .iter()
            .any(|v| v["fields"]["trigger"] == "SIGHUP")
    });
    assert_eq!(cost_of_next_request(&fx), 2000, "the new price applies");
    let (status, text) = stream.join().unwrap();
    assert_eq!((status, text), (200, body), "the stream completed whole");
    let streamed = fx
        .wait_rows(3)
        .into_iter()
        .find(|r| r.record.stream)
        .unwrap();
    assert_eq!(
        streamed.record.cost_micro_usd, 1000,
        "billed at the price it started with"
    );

    // A broken file: refused with the key and the reason; the old prices stay.
    std::fs::write(
        &path,
        config_with_input_price(2).replace("max_attempts: 3", "max_attempts: many"),
    )
    .unwrap();
    fx.relay.send_hup();
    wait_for_line(
        &fx,
        "configuration reload refused; the running configuration stays",
        1,
        "the refusal",
    );
    let refused = &lines(
        &fx,
        "configuration reload refused; the running configuration stays",
    )[0];
    assert_eq!(
        refused["fields"]["key"], "scheduler.max_attempts",
        "{refused}"
    );
    assert!(!refused["fields"]["reason"].as_str().unwrap().is_empty());
    assert_eq!(
        cost_of_next_request(&fx),
        2000,
        "the running configuration stays"
    );

    // A change of the file alone, without a signal.
    let reloads = lines(&fx, "configuration reloaded").len();
    std::fs::write(&path, config_with_input_price(3)).unwrap();
    wait_for(
        "a reload by the file change",
        Duration::from_secs(10),
        || {
            lines(&fx, "configuration reloaded")
                .iter()
                .skip(reloads)
                .any(|v| v["fields"]["trigger"] == "file change")
        },
    );
    assert_eq!(cost_of_next_request(&fx), 3000);
    assert_eq!(
        client().get(fx.url("/health")).send().unwrap().status(),
        200,
        "SIGHUP never stops the process"
    );
}

#[test]
fn a_new_log_level_applies_at_once_and_a_restart_only_key_is_reported_as_such() {
    let reply = Reply::Json {
        status: 200,
        body: json_body(MODEL, 1, 1, "hi"),
    };
    let env = [("RELAY__LOG__FORMAT", "json")];
    let config = config_with_input_price(1);
    let fx = Fixture::start_with_config(Backend::Sqlite, reply, &env, Some(&config)).unwrap();
    cost_of_next_request(&fx);
    wait_for_line(&fx, "request finished", 1, "the request's log line at info");
    let path = fx.relay.dir.join("config.yaml");
    let changed = config
        .replace("threads: 2", "threads: 3")
        .replace("  level: info", "  level: warn");
    assert_ne!(changed, config);
    std::fs::write(&path, changed).unwrap();
    fx.relay.send_hup();
    let message = "configuration key changed; it takes effect at the next restart";
    wait_for_line(&fx, message, 1, "the restart notice");
    assert_eq!(lines(&fx, message)[0]["fields"]["key"], "server.threads");
    // At `warn` the next request writes no info line.
    cost_of_next_request(&fx);
    assert_eq!(
        client().get(fx.url("/health")).send().unwrap().status(),
        200
    );
    assert_eq!(
        lines(&fx, "request finished").len(),
        1,
        "{}",
        fx.relay.stderr()
    );
}
