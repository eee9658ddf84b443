//! The relay's front door on Pingora and the `relay` binary's commands.

pub mod accounting;
pub mod auth;
pub mod body;
pub mod cli;
pub mod dns;
pub mod error;
pub mod front;
pub mod health;
pub mod housekeeping;
pub mod json_scan;
pub mod lifecycle;
pub mod listener;
pub mod logging;
pub mod queue;
pub mod readiness;
pub mod redact;
pub mod relay;
pub mod request_id;
pub mod select;
pub mod server;
pub mod snapshot;
pub mod sse;
pub mod startup;
pub mod sticky;
pub mod upstream;
pub mod upstream_header;
