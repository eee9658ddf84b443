#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;

use super::*;

fn shipped() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../config.yaml"))
}

fn load_text(text: &str) -> Result<Config, ConfigError> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    load(f.path(), true)
}

fn micro(p: &ModelPrice) -> [i64; 5] {
    p.fields().map(|(_, v)| (v * 1e6).round() as i64)
}

fn keys_of(err: &ConfigError) -> Vec<String> {
    err.issues().iter().map(|i| i.key.clone()).collect()
}

#[test]
fn shipped_config_documents_exactly_the_defaults() {
    let file = load(shipped(), true).unwrap();
    let mut a = serde_json::to_value(&file).unwrap();
    let mut b = serde_json::to_value(Config::default()).unwrap();
    a.as_object_mut().unwrap().remove("pricing");
    b.as_object_mut().unwrap().remove("pricing");
    assert_eq!(a, b, "config.yaml and Config::default() differ");
    let d = PricingConfig::default();
    assert_eq!(micro(&file.pricing.default), micro(&d.default));
    assert_eq!(
        file.pricing.models.keys().collect::<Vec<_>>(),
        d.models.keys().collect::<Vec<_>>()
    );
    for (model, price) in &d.models {
        assert_eq!(micro(&file.pricing.models[model]), micro(price), "{model}");
    }
}

#[test]
fn every_model_of_the_reference_price_list_is_priced_exactly() {
    let m = PricingConfig::default().models;
    assert_eq!(
        micro(&m["claude-opus-4-8"]),
        [5_000_000, 25_000_000, 6_250_000, 10_000_000, 500_000]
    );
    assert_eq!(
        micro(&m["claude-3-haiku-20240307"]),
        [250_000, 1_250_000, 300_000, 500_000, 30_000]
    );
    assert_eq!(
        micro(&m["claude-3-5-haiku-20241022"]),
        [800_000, 4_000_000, 1_000_000, 1_600_000, 80_000]
    );
}

#[test]
fn a_missing_explicit_file_is_an_error_but_the_implicit_default_is_not() {
    let missing = Path::new("/nonexistent/relay.yaml");
    assert!(matches!(load(missing, true), Err(ConfigError::Missing(_))));
    assert_eq!(load(missing, false).unwrap().server.listen, "0.0.0.0:8080");
}

#[test]
fn an_unknown_key_is_named_with_its_section() {
    let err = load_text("server:\n  listen: 0.0.0.0:8080\n  lisen: 1\n").unwrap_err();
    assert_eq!(keys_of(&err), ["server.lisen"]);
    assert!(err.to_string().contains("allowed here"), "{err}");
    let err = load_text("serverr: {}\n").unwrap_err();
    assert_eq!(keys_of(&err), ["serverr"]);
}

#[test]
fn a_wrong_type_is_named_with_the_value() {
    let err = load_text("scheduler:\n  max_attempts: three\n").unwrap_err();
    assert_eq!(keys_of(&err), ["scheduler.max_attempts"]);
    assert!(err.to_string().contains("three"), "{err}");
    let err = load_text("relay:\n  idle_timeout: forever\n").unwrap_err();
    assert_eq!(keys_of(&err), ["relay.idle_timeout"]);
    let err = load_text("log:\n  format: xml\n").unwrap_err();
    assert_eq!(keys_of(&err), ["log.format"]);
    assert!(err.to_string().contains("text, json"), "{err}");
}

#[test]
fn bad_addresses_urls_and_zones_are_named() {
    let err = load_text(
        "server: { listen: 'localhost' }\nadmin: { listen: '127.0.0.1:99999' }\n\
         database: { url: 'postgres://x/y' }\nredis: { url: 'http//nope' }\ntimezone: Mars/Olympus\n\
         log: { level: loud }\n",
    )
    .unwrap_err();
    assert_eq!(
        keys_of(&err),
        [
            "server.listen",
            "admin.listen",
            "database.url",
            "redis.url",
            "timezone",
            "log.level"
        ]
    );
    let text = err.to_string();
    assert!(
        text.contains("`localhost` is not a listen address"),
        "{text}"
    );
    assert!(text.contains("Mars/Olympus"), "{text}");
}

#[test]
fn a_database_password_never_appears_in_a_message() {
    let err = load_text("database: { url: 'mysql://root:hunter2@/' }\n").unwrap_err();
    assert_eq!(keys_of(&err), ["database.url"]);
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn negative_prices_are_refused_by_key() {
    let err = load_text("pricing:\n  models:\n    m1: { input: -1, output: 1, cache_write_5m: 1, cache_write_1h: 1, cache_read: 1 }\n")
        .unwrap_err();
    assert_eq!(keys_of(&err), ["pricing.models.m1.input"]);
}

#[test]
fn backend_and_accessors_follow_the_values() {
    let c = load_text("database: { url: 'mysql://root@127.0.0.1:3306/relay' }\ntimezone: UTC\n")
        .unwrap();
    assert_eq!(c.db_backend(), DbBackend::MySql);
    assert_eq!(c.tz(), chrono_tz::UTC);
    assert_eq!(c.server_addr().port(), 8080);
    assert_eq!(Config::default().db_backend(), DbBackend::Sqlite);
}
