//! `GET /v1/models` (SPEC §2.1): the models this key may use, in Anthropic's list shape.

use bytes::Bytes;
use pingora::proxy::Session;
use relay_shared::glob;
use serde_json::json;

use super::Relay;
use crate::error::write_json;
use crate::snapshot::{KeyEntry, Snapshot};

/// Creation time reported for every listed model (the relay does not know the real one).
const CREATED_AT: &str = "2025-01-01T00:00:00Z";

/// The model ids the key may use: known ids allowed by the key and by an account of its group.
pub fn visible_models(relay: &Relay, snap: &Snapshot, key: &KeyEntry) -> Vec<String> {
    let accounts = snap
        .group(key.group_id)
        .map(|g| g.accounts.as_slice())
        .unwrap_or_default();
    let tunables = relay.tunables.load();
    let mut ids: Vec<String> = tunables
        .known_models
        .iter()
        .chain(accounts.iter().flat_map(|a| a.allowed_models.iter()))
        .filter(|m| !m.contains('*'))
        .filter(|m| glob::allowed(&key.allowed_models, m))
        .filter(|m| accounts.iter().any(|a| glob::allowed(&a.allowed_models, m)))
        .cloned()
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Writes the list.
pub async fn answer(
    relay: &Relay,
    session: &mut Session,
    snap: &Snapshot,
    key: &KeyEntry,
    rid: &str,
) -> pingora::Result<()> {
    let ids = visible_models(relay, snap, key);
    let data: Vec<_> = ids
        .iter()
        .map(
            |id| json!({ "type": "model", "id": id, "display_name": id, "created_at": CREATED_AT }),
        )
        .collect();
    let body = json!({
        "data": data,
        "has_more": false,
        "first_id": ids.first(),
        "last_id": ids.last(),
    });
    write_json(session, 200, Bytes::from(body.to_string()), rid, &[]).await
}
