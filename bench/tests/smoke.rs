//! The benchmark's smoke run (a few seconds of every scenario at a small size) against the
//! relay's debug build, so the benchmark keeps working as the relay changes. It checks answers,
//! never timings: the run fails when any answer is invalid (status, body size echo, usage,
//! every SSE event).

#![allow(clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

/// The relay binary built by this `cargo test` (it sits next to this crate's binary).
fn relay_bin() -> PathBuf {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_relay-bench"));
    let relay = bench.with_file_name(format!("relay{}", std::env::consts::EXE_SUFFIX));
    assert!(
        relay.exists(),
        "{} is missing: run the workspace's tests (`make test` or `cargo test --workspace`), \
         which build the relay binary too",
        relay.display()
    );
    relay
}

#[test]
fn the_benchmark_smoke_run_validates_every_answer_through_every_target() {
    let out = Command::new(env!("CARGO_BIN_EXE_relay-bench"))
        .args(["smoke", "--no-nginx", "--relay-bin"])
        .arg(relay_bin())
        .env_remove("RELAY_BENCH_RELAY_BIN")
        .output()
        .expect("relay-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "smoke run failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("smoke: ok") || stderr.contains("smoke: ok"),
        "no verdict in the output:\n{stdout}\n{stderr}"
    );
    assert!(
        !stdout.contains("relay+redis skipped") && !stderr.contains("relay+redis skipped"),
        "the relay+redis target did not start:\n{stdout}\n{stderr}"
    );
    for target in ["direct", "bare Pingora", "relay", "relay+redis"] {
        assert!(
            stdout.contains(target) || stderr.contains(target),
            "{target} did not run:\n{stdout}\n{stderr}"
        );
    }
}
