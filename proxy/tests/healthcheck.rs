//! `relay healthcheck` (the container image's HEALTHCHECK): exit 0 while the front door on
//! `server.listen` answers `/health`, non-zero with the reason once it is gone.

#![allow(clippy::unwrap_used)]

mod common;

use common::{run_relay, shipped_config, Relay};

#[test]
fn healthcheck_passes_against_a_running_relay_and_fails_once_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = Relay::start(dir.path(), 1, &[]);
    let listen = relay.base.trim_start_matches("http://").to_string();
    // The image listens on 0.0.0.0; the probe must then use loopback.
    let unspecified = listen.replacen("127.0.0.1", "0.0.0.0", 1);
    let config = shipped_config();
    let args = ["--config", config.to_str().unwrap(), "healthcheck"];
    for addr in [&listen, &unspecified] {
        let (status, out, err) = run_relay(dir.path(), &args, &[("RELAY__SERVER__LISTEN", addr)]);
        assert!(status.success(), "healthcheck on {addr} failed: {out}{err}");
    }
    relay.stop();
    let (status, _, err) = run_relay(dir.path(), &args, &[("RELAY__SERVER__LISTEN", &listen)]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("unhealthy: cannot connect"), "{err}");
}
