//! The per-request context Pingora hands to every phase of the front door: what identifies
//! the request and what must happen when it ends. What changes across requests (snapshots,
//! counters, health) lives in the service's long-lived parts, never here.

use crate::lifecycle::InflightGuard;
use crate::relay::row::PendingRow;

/// Per-request context.
#[derive(Default)]
pub struct RequestCtx {
    /// The id echoed in `x-request-id` / `request-id` and written on the usage row.
    pub request_id: String,
    /// The usage row of an authenticated relay request; sent when the context is dropped.
    pub row: Option<PendingRow>,
    /// Counts a relay request in flight (for draining at shutdown).
    pub inflight: Option<InflightGuard>,
}
