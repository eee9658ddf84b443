//! `relay check-config`: exit 0 on the shipped file, non-zero naming the key otherwise.

#![allow(clippy::unwrap_used)]

mod common;

use common::{run_relay, shipped_config};

fn check(text: &str, env: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, text).unwrap();
    let (status, out, err) = run_relay(
        dir.path(),
        &["--config", path.to_str().unwrap(), "check-config"],
        env,
    );
    (status.success(), format!("{out}{err}"))
}

#[test]
fn the_shipped_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let (status, out, _) = run_relay(
        dir.path(),
        &[
            "--config",
            shipped_config().to_str().unwrap(),
            "check-config",
        ],
        &[],
    );
    assert!(status.success(), "{out}");
    assert!(out.contains("is valid"));
}

#[test]
fn an_unknown_key_fails_and_is_named() {
    let (ok, out) = check("server:\n  listen: 0.0.0.0:8080\n  listne: x\n", &[]);
    assert!(!ok);
    assert!(out.contains("`server.listne`"), "{out}");
}

#[test]
fn a_wrong_type_fails_and_is_named() {
    let (ok, out) = check("relay:\n  max_body_bytes: lots\n", &[]);
    assert!(!ok);
    assert!(
        out.contains("`relay.max_body_bytes`") && out.contains("lots"),
        "{out}"
    );
}

#[test]
fn a_bad_url_fails_and_is_named() {
    let (ok, out) = check("database:\n  url: ftp://example.com/db\n", &[]);
    assert!(!ok);
    assert!(
        out.contains("`database.url`") && out.contains("sqlite://"),
        "{out}"
    );
}

#[test]
fn a_bad_listen_address_fails_and_is_named() {
    let (ok, out) = check("admin:\n  listen: \"localhost:99999\"\n", &[]);
    assert!(!ok);
    assert!(
        out.contains("`admin.listen`") && out.contains("localhost:99999"),
        "{out}"
    );
}

#[test]
fn environment_overrides_are_checked_too() {
    let (ok, out) = check("{}\n", &[("RELAY__SERVER__LISTEN", "nowhere")]);
    assert!(!ok);
    assert!(
        out.contains("`server.listen`") && out.contains("nowhere"),
        "{out}"
    );
    let (ok, out) = check("{}\n", &[("RELAY__SCHEDULER__MAX_ATTEMPTS", "5")]);
    assert!(ok, "{out}");
}

#[test]
fn a_missing_config_file_named_on_the_command_line_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (status, out, err) = run_relay(dir.path(), &["--config", "nope.yaml", "check-config"], &[]);
    assert!(!status.success());
    assert!(format!("{out}{err}").contains("nope.yaml"));
}

#[test]
fn a_jwt_secret_that_serve_refuses_is_refused_and_named() {
    let (ok, out) = check("{}\n", &[("JWT_SECRET", "too-short-secret")]);
    assert!(!ok, "{out}");
    assert!(out.contains("JWT_SECRET") && out.contains("32"), "{out}");
    let (ok, out) = check("{}\n", &[("JWT_SECRET", &"s".repeat(32))]);
    assert!(ok, "{out}");
}
