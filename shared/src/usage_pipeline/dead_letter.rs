//! The dead-letter file: usage rows the database refused on their own (after the batch was
//! split down to them), kept with the reason as JSON lines under the data directory, fsynced,
//! so that none vanishes silently. An operator can fix and re-import them; the count is in
//! [`PipelineStats::dead_letter_rows`](super::PipelineStats::dead_letter_rows).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::spill::{append_lines, SpillError};
use crate::db::usage::UsageRecord;

/// Name of the dead-letter file inside the data directory.
pub const DEAD_LETTER_FILE_NAME: &str = "usage-dead-letter.jsonl";

/// One line of the dead-letter file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// When the row was set aside, epoch ms.
    pub at: i64,
    /// What the database said.
    pub error: String,
    /// The row as it was to be written.
    pub row: UsageRecord,
}

/// Appends `letters` to the file at `path` (created 0600) and fsyncs it.
pub fn append(path: &Path, letters: &[DeadLetter]) -> Result<(), SpillError> {
    append_lines(path, letters, |l| l.row.request_id.as_str())
}
