//! The admin API's client IP through the front door (SPEC §6): `X-Forwarded-For` is believed
//! only when the connecting peer is in `auth.trusted_proxies`, so login throttling counts each
//! real client behind a trusted reverse proxy apart, and a client cannot pick its own IP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{client, Relay};

fn login(relay: &Relay, forwarded_for: &str) -> u16 {
    client()
        .post(format!("{}/api/v1/auth/login", relay.base))
        .header("x-forwarded-for", forwarded_for)
        .json(&serde_json::json!({"username": "admin", "password": "wrong-password"}))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// Eleven wrong passwords "from" 198.51.100.7, then one "from" 203.0.113.9.
fn attempts(relay: &Relay) -> (Vec<u16>, u16) {
    let first: Vec<u16> = (0..11).map(|_| login(relay, "198.51.100.7")).collect();
    (first, login(relay, "203.0.113.9"))
}

#[test]
fn forwarded_addresses_count_only_from_a_trusted_proxy() {
    let env = [
        ("ADMIN_PASSWORD", "admin-password-for-tests"),
        ("RELAY__AUTH__TRUSTED_PROXIES", "[127.0.0.1/32]"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let trusted = Relay::start(dir.path(), 1, &env);
    let (first, other) = attempts(&trusted);
    assert_eq!(&first[..10], &[401; 10]);
    assert_eq!(
        first[10], 429,
        "the 11th attempt from one client is throttled"
    );
    assert_eq!(
        other, 401,
        "another client behind the proxy is not locked out"
    );
    drop(trusted);

    let dir = tempfile::tempdir().unwrap();
    let env = [("ADMIN_PASSWORD", "admin-password-for-tests")];
    let untrusted = Relay::start(dir.path(), 1, &env);
    let (first, other) = attempts(&untrusted);
    assert_eq!(first[10], 429);
    assert_eq!(
        other, 429,
        "without a trusted proxy the header is ignored: it is the same client"
    );
}
