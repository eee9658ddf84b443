//! `relay-bench`: the relay against a bare Pingora proxy, nginx and a direct connection, in
//! one run, on loopback (SPEC §15). See `bench/README.md`.

mod cli;
mod load;
mod mock;
mod plan;
mod probe;
mod procs;
mod protocol;
mod report;
mod scenario;
mod sysinfo;
mod targets;
mod tools;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::dispatch(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("relay-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
