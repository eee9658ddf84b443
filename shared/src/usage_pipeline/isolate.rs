//! Writing a batch so that no row can block the others (SPEC §5): when the database refuses
//! the data of a batch (a value, a constraint), the batch is split in halves until the rows it
//! refuses are found one by one; the good rows are written and the refused ones are handed
//! back with the reason, for the dead-letter file. A failure of the connection or the server
//! is not a refusal: it ends the write, to be retried whole.

use chrono_tz::Tz;

use super::writer::WriteError;
use crate::db::usage::{write_batch, Batch, UsageRecord};
use crate::db::Db;

/// What an isolating write did.
#[derive(Debug, Default)]
pub(super) struct Isolated {
    /// Rows stored (not counting rows found already stored by an in-doubt write).
    pub(super) stored: u64,
    /// Rows the database refused on their own, by index into the batch, with the reason.
    pub(super) refused: Vec<(usize, String)>,
    /// The failure that stopped the write before every row was settled (worth a retry).
    pub(super) failed: Option<WriteError>,
}

/// Writes `rows`, isolating the rows the database refuses. Parts written before a failure
/// stay written, so a retry of the rest must be [`Batch::InDoubt`].
pub(super) async fn write_isolating(
    db: &Db,
    rows: &[UsageRecord],
    tz: Tz,
    mode: Batch,
) -> Isolated {
    let mut out = Isolated::default();
    // Ranges still to write, the next one last; halves keep the rows in order.
    let mut todo = Vec::with_capacity(16);
    todo.push(0..rows.len());
    while let Some(range) = todo.pop() {
        if range.is_empty() {
            continue;
        }
        match write_batch(db, &rows[range.clone()], tz, mode).await {
            Ok(n) => out.stored += n,
            Err(e) if e.is_rejection() && range.len() == 1 => {
                out.refused.push((range.start, e.to_string()));
            }
            Err(e) if e.is_rejection() => {
                let mid = range.start + range.len() / 2;
                todo.push(mid..range.end);
                todo.push(range.start..mid);
            }
            Err(e) => {
                out.failed = Some(WriteError::Db(e));
                break;
            }
        }
    }
    out
}
