//! Configuration reload (SPEC §7): SIGHUP, or a change of the file's contents (checked every
//! second), re-reads `config.yaml` with its environment overrides. A file that does not load
//! or validate is refused, naming each key and the reason, and the running configuration
//! stays. Otherwise the tunables ([`crate::tunables`]: `pricing`, `scheduler.max_attempts`,
//! `scheduler.queue_timeout`, the `health` cooldowns and thresholds) are swapped at once and
//! `log.level` is applied; every other changed key is reported as needing a restart. SIGHUP
//! never stops the process.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use relay_shared::config::{self, Config};
use serde_json::Value;
use tokio::signal::unix::{signal, SignalKind};

use crate::tunables::{SharedTunables, Tunables};

/// How often the file is checked for a change.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// Keys (or sections, ending in `.`) that apply without a restart.
const LIVE_KEYS: &[&str] = &[
    "pricing.",
    "scheduler.max_attempts",
    "scheduler.queue_timeout",
    "health.cooldown_429",
    "health.cooldown_5xx",
    "health.max_cooldown",
    "health.error_threshold",
    "health.error_window",
    "log.level",
];

/// Where the configuration was read from.
#[derive(Debug, Clone)]
pub struct Source {
    /// The file.
    pub path: PathBuf,
    /// Whether it must exist (false for the implicit default path).
    pub required: bool,
}

/// What a reload did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Changed keys applied now.
    pub live: Vec<String>,
    /// Changed keys that take effect at the next start.
    pub restart: Vec<String>,
}

/// Whether `key` applies without a restart.
pub fn is_live(key: &str) -> bool {
    LIVE_KEYS
        .iter()
        .any(|k| key == *k || (k.ends_with('.') && key.starts_with(k)))
}

fn leaves(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&key, v, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

/// The dotted keys whose values differ between `old` and `new`, split by whether they apply
/// without a restart.
pub fn diff(old: &Config, new: &Config) -> Applied {
    let flat = |c: &Config| {
        let mut out = Vec::new();
        leaves(
            "",
            &serde_json::to_value(c).unwrap_or(Value::Null),
            &mut out,
        );
        out.into_iter()
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let (a, b) = (flat(old), flat(new));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut applied = Applied::default();
    for k in keys {
        if a.get(k) != b.get(k) {
            if is_live(k) {
                applied.live.push(k.clone());
            } else {
                applied.restart.push(k.clone());
            }
        }
    }
    applied
}

/// Re-reads the configuration and applies what it can.
pub struct Reloader {
    source: Source,
    running: Config,
    tunables: SharedTunables,
    last_text: Option<Vec<u8>>,
}

impl Reloader {
    /// A reloader for `running`, read from `source`, swapping `tunables`.
    pub fn new(source: Source, running: &Config, tunables: SharedTunables) -> Self {
        let last_text = std::fs::read(&source.path).ok();
        Self {
            source,
            running: running.clone(),
            tunables,
            last_text,
        }
    }

    /// Loads the file and applies it; `Err` (the running configuration stays) when it is
    /// refused, with every key and reason.
    pub fn reload(&mut self, why: &str) -> Result<Applied, config::ConfigError> {
        self.last_text = std::fs::read(&self.source.path).ok();
        let new = match config::load(&self.source.path, self.source.required) {
            Ok(c) => c,
            Err(e) => {
                for issue in e.issues() {
                    tracing::error!(trigger = why, key = %issue.key, reason = %issue.problem, "configuration reload refused; the running configuration stays");
                }
                if e.issues().is_empty() {
                    tracing::error!(trigger = why, error = %e, "configuration reload refused; the running configuration stays");
                }
                return Err(e);
            }
        };
        let applied = diff(&self.running, &new);
        self.tunables.store(Arc::new(Tunables::from_config(&new)));
        if new.log.level != self.running.log.level {
            if let Err(e) = crate::logging::set_level(&new.log.level) {
                tracing::warn!(reason = %e, "log.level not applied");
            }
        }
        for key in &applied.restart {
            tracing::warn!(key = %key, "configuration key changed; it takes effect at the next restart");
        }
        tracing::info!(
            trigger = why,
            applied = %applied.live.join(", "),
            needs_restart = %applied.restart.join(", "),
            "configuration reloaded"
        );
        // Keys that need a restart keep their running values for the next comparison.
        let mut running = new;
        restore_restart_keys(&mut running, &self.running);
        self.running = running;
        Ok(applied)
    }

    fn changed_on_disk(&self) -> bool {
        std::fs::read(&self.source.path).ok() != self.last_text
    }

    /// Reloads on SIGHUP and when the file's contents change, until the process ends.
    pub async fn run(mut self) {
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(error = %e, "cannot watch SIGHUP; only file changes reload");
                None
            }
        };
        let mut tick = tokio::time::interval(POLL_EVERY);
        loop {
            let trigger = tokio::select! {
                Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => "SIGHUP",
                _ = tick.tick() => {
                    if !self.changed_on_disk() {
                        continue;
                    }
                    "file change"
                }
            };
            let _ = self.reload(trigger);
        }
    }
}

/// Puts back into `new` the sections whose changes only apply at a restart.
fn restore_restart_keys(new: &mut Config, running: &Config) {
    let (pricing, log_level) = (new.pricing.clone(), new.log.level.clone());
    let (attempts, queue) = (new.scheduler.max_attempts, new.scheduler.queue_timeout);
    let health = new.health.clone();
    *new = running.clone();
    new.pricing = pricing;
    new.log.level = log_level;
    new.scheduler.max_attempts = attempts;
    new.scheduler.queue_timeout = queue;
    new.health.cooldown_429 = health.cooldown_429;
    new.health.cooldown_5xx = health.cooldown_5xx;
    new.health.max_cooldown = health.max_cooldown;
    new.health.error_threshold = health.error_threshold;
    new.health.error_window = health.error_window;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tunables_apply_live_and_addresses_need_a_restart() {
        let old = Config::default();
        let mut new = old.clone();
        new.scheduler.max_attempts = 9;
        new.log.level = "debug".into();
        new.server.listen = "0.0.0.0:9999".into();
        new.database.url = "sqlite://elsewhere.db".into();
        let d = diff(&old, &new);
        assert_eq!(d.live, vec!["log.level", "scheduler.max_attempts"]);
        assert_eq!(d.restart, vec!["database.url", "server.listen"]);
    }

    #[test]
    fn restart_keys_keep_their_running_values() {
        let old = Config::default();
        let mut new = old.clone();
        new.server.listen = "0.0.0.0:9999".into();
        new.health.cooldown_5xx = Duration::from_secs(1);
        restore_restart_keys(&mut new, &old);
        assert_eq!(new.server.listen, old.server.listen);
        assert_eq!(new.health.cooldown_5xx, Duration::from_secs(1));
    }

    #[test]
    fn every_pricing_key_is_live() {
        assert!(is_live("pricing.models.claude-x.input"));
        assert!(!is_live("scheduler.sticky_ttl"));
    }
}
