//! "Something changed": every write that moves the change version (admin edits, account
//! health, OAuth tokens) announces it here after it commits, and the process that runs the
//! front door listens ([`on_change`]): it reloads its snapshot at once and, with Redis,
//! tells every other instance through the change channel (SPEC §10). The version poll stays
//! as the fallback, so a missed announcement costs only the poll interval.

use std::sync::OnceLock;

type Hook = Box<dyn Fn() + Send + Sync>;

static HOOK: OnceLock<Hook> = OnceLock::new();

/// Sets the process's listener; `false` when one is already set (it stays).
pub fn on_change(f: impl Fn() + Send + Sync + 'static) -> bool {
    HOOK.set(Box::new(f)).is_ok()
}

/// Announces a committed change (does nothing without a listener). Never blocks.
pub fn announce() {
    if let Some(f) = HOOK.get() {
        f();
    }
}
