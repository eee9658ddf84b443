//! The relay's front door on Pingora and the `relay` binary's commands.

pub mod cli;
pub mod error;
pub mod front;
pub mod logging;
pub mod readiness;
pub mod request_id;
pub mod server;
pub mod startup;
