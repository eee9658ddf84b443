//! Logging setup: `tracing` to standard error, text or JSON, with the configured filter
//! (`RUST_LOG` wins when set). Pingora's `log` records are bridged into the same output. Every
//! line is passed through [`crate::redact`] on its way out, so no secret is written at any
//! level, whoever logged it.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;

use relay_shared::config::{LogConfig, LogFormat};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Standard error, with secrets removed from each formatted event.
struct RedactingStderr;

/// Writes one formatted event (the formatter hands over a whole event per write).
struct EventWriter;

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = EventWriter;

    fn make_writer(&'a self) -> Self::Writer {
        EventWriter
    }
}

impl Write for EventWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(crate::redact::redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Replaces the filter of the installed subscriber.
type SetFilter = Box<dyn Fn(EnvFilter) -> Result<(), String> + Send + Sync>;

/// How to change the level later: set once by [`init`], `None` when `RUST_LOG` rules.
static SET_FILTER: OnceLock<SetFilter> = OnceLock::new();

/// Installs the global subscriber; a second call is a no-op.
pub fn init(cfg: &LogConfig) {
    let from_env = EnvFilter::try_from_default_env().ok();
    let env_rules = from_env.is_some();
    let filter = from_env
        .or_else(|| EnvFilter::try_new(&cfg.level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(RedactingStderr);
    let set: SetFilter = match cfg.format {
        LogFormat::Json => {
            let b = builder.json().with_filter_reloading();
            let handle = b.reload_handle();
            if b.try_init().is_err() {
                return;
            }
            Box::new(move |f| handle.reload(f).map_err(|e| e.to_string()))
        }
        LogFormat::Text => {
            let b = builder.with_filter_reloading();
            let handle = b.reload_handle();
            if b.try_init().is_err() {
                return;
            }
            Box::new(move |f| handle.reload(f).map_err(|e| e.to_string()))
        }
    };
    if !env_rules {
        let _ = SET_FILTER.set(set);
    }
}

/// Applies a new `log.level` (a reload); says why not when it cannot.
pub fn set_level(level: &str) -> Result<(), String> {
    let Some(set) = SET_FILTER.get() else {
        return Err("RUST_LOG is set and wins over log.level".into());
    };
    let filter = EnvFilter::try_new(level).map_err(|e| e.to_string())?;
    set(filter)
}
