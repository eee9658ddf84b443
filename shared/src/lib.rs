//! Code shared by the relay's front door (`relay-proxy`) and admin API (`relay-admin`):
//! configuration, the data layer, models and crypto.

pub mod bootstrap;
pub mod cache;
pub mod changes;
pub mod config;
pub mod crypto;
pub mod db;
pub mod fsmode;
pub mod glob;
pub mod limit_windows;
pub mod models;
pub mod pricing;
pub mod proxy_spec;
pub mod secrets;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod upstream_auth;
pub mod usage_pipeline;
