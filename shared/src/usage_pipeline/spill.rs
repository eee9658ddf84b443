//! The spill file: usage rows the database could not take yet, as append-only JSON lines
//! under the data directory. Blocking I/O; the writer calls it through `spawn_blocking`.
//! Appends are fsynced; a crash mid-append leaves at worst one torn last line, which the
//! next append pushes onto its own line and the reader skips.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::db::usage::UsageRecord;

/// Name of the spill file inside the data directory.
pub const SPILL_FILE_NAME: &str = "usage-spill.jsonl";

/// A spill-file operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum SpillError {
    /// Reading, writing, syncing or removing the file failed.
    #[error("spill file {path}: {source}")]
    Io {
        /// The spill file (or its directory).
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A row could not be encoded as JSON.
    #[error("usage row {request_id} cannot be encoded: {source}")]
    Encode {
        /// Request id of the row.
        request_id: String,
        /// The encoder's error.
        #[source]
        source: serde_json::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SpillError + '_ {
    move |source| SpillError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Appends `rows` as JSON lines and fsyncs the file (and, when it was just created, its
/// directory). If the file does not end with a newline (a torn line left by a crash), a
/// newline is written first so the new rows stay readable.
pub fn append(path: &Path, rows: &[UsageRecord]) -> Result<(), SpillError> {
    append_lines(path, rows, |r| r.request_id.as_str())
}

/// [`append`] for any serializable line; `request_id` names an item in an encoding error.
/// The file is created with mode 0600.
pub(super) fn append_lines<T: serde::Serialize>(
    path: &Path,
    items: &[T],
    request_id: impl Fn(&T) -> &str,
) -> Result<(), SpillError> {
    let mut bytes = Vec::with_capacity(items.len() * 512);
    for item in items {
        serde_json::to_writer(&mut bytes, item).map_err(|source| SpillError::Encode {
            request_id: request_id(item).to_string(),
            source,
        })?;
        bytes.push(b'\n');
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        crate::fsmode::create_private_dir(dir).map_err(io_err(dir))?;
    }
    let mut file = crate::fsmode::private_append(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    if len > 0 && last_byte(&mut file).map_err(io_err(path))? != b'\n' {
        bytes.insert(0, b'\n');
    }
    file.write_all(&bytes).map_err(io_err(path))?;
    file.sync_data().map_err(io_err(path))?;
    if len == 0 {
        // Make the new directory entry durable too (best effort: not every platform can).
        if let Some(dir) = dir {
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
    }
    Ok(())
}

fn last_byte(file: &mut File) -> io::Result<u8> {
    let mut b = [0u8; 1];
    file.seek(SeekFrom::End(-1))?;
    file.read_exact(&mut b)?;
    Ok(b[0])
}

/// A line of the spill file that holds no readable row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// Byte offset of the line.
    pub offset: u64,
    /// The line is the file's last and has no newline: a crash cut the append short.
    pub torn: bool,
    /// The request id, when it can still be made out.
    pub request_id: Option<String>,
}

/// Rows read from the spill file, starting at some offset.
#[derive(Debug, Default)]
pub struct Chunk {
    /// The rows, in file order.
    pub rows: Vec<UsageRecord>,
    /// Offset just after the last line read.
    pub next_offset: u64,
    /// The end of the file was reached.
    pub eof: bool,
    /// Lines skipped because they hold no readable row.
    pub bad: Vec<BadLine>,
}

/// Reads up to `max_rows` rows from `offset`. A missing file reads as empty. Unreadable lines
/// are skipped and reported in [`Chunk::bad`] (the caller logs and counts them).
pub fn read_chunk(path: &Path, offset: u64, max_rows: usize) -> Result<Chunk, SpillError> {
    let mut chunk = Chunk {
        next_offset: offset,
        ..Chunk::default()
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            chunk.eof = true;
            return Ok(chunk);
        }
        Err(e) => return Err(io_err(path)(e)),
    };
    file.seek(SeekFrom::Start(offset)).map_err(io_err(path))?;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    while chunk.rows.len() < max_rows {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(io_err(path))?;
        if n == 0 {
            chunk.eof = true;
            break;
        }
        let at = chunk.next_offset;
        chunk.next_offset += n as u64;
        let torn = line.last() != Some(&b'\n');
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_slice::<UsageRecord>(text) {
            Ok(row) => chunk.rows.push(row),
            Err(_) => chunk.bad.push(BadLine {
                offset: at,
                torn,
                request_id: request_id_of(text),
            }),
        }
    }
    Ok(chunk)
}

/// The `request_id` of a damaged JSON line, if its text is intact.
fn request_id_of(line: &[u8]) -> Option<String> {
    const KEY: &[u8] = b"\"request_id\":\"";
    let start = line.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let len = line[start..].iter().position(|&b| b == b'"')?;
    String::from_utf8(line[start..start + len].to_vec()).ok()
}

/// Whether the file exists and holds anything.
pub fn has_data(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > 0)
}

/// Removes the file (a missing file is fine).
pub fn remove(path: &Path) -> Result<(), SpillError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(path)(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::db::usage::tests::sample;

    fn spill_path() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join(SPILL_FILE_NAME);
        (dir, path)
    }

    #[test]
    fn appended_rows_read_back_in_chunks_in_order() {
        let (_dir, path) = spill_path();
        let rows: Vec<_> = (0..7).map(sample).collect();
        append(&path, &rows[..3]).unwrap();
        append(&path, &rows[3..]).unwrap();

        let first = read_chunk(&path, 0, 5).unwrap();
        assert_eq!(first.rows, rows[..5]);
        assert!(!first.eof && first.bad.is_empty());
        let rest = read_chunk(&path, first.next_offset, 5).unwrap();
        assert_eq!(rest.rows, rows[5..]);
        assert!(rest.eof);
        let end = read_chunk(&path, rest.next_offset, 5).unwrap();
        assert!(end.rows.is_empty() && end.eof);

        remove(&path).unwrap();
        assert!(!has_data(&path));
        remove(&path).unwrap();
        assert!(read_chunk(&path, 0, 5).unwrap().eof);
    }

    #[test]
    fn a_torn_last_line_is_reported_and_later_appends_start_on_a_new_line() {
        let (_dir, path) = spill_path();
        let rows: Vec<_> = (0..4).map(sample).collect();
        append(&path, &rows[..2]).unwrap();
        let torn = serde_json::to_string(&rows[2]).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&torn.as_bytes()[..40]).unwrap();
        drop(f);

        let chunk = read_chunk(&path, 0, 10).unwrap();
        assert_eq!(chunk.rows, rows[..2]);
        assert_eq!(chunk.bad.len(), 1);
        assert!(chunk.bad[0].torn);
        assert_eq!(chunk.bad[0].request_id.as_deref(), Some("req-00002"));

        append(&path, &rows[3..]).unwrap();
        let chunk = read_chunk(&path, 0, 10).unwrap();
        assert_eq!(
            chunk.rows,
            [rows[0].clone(), rows[1].clone(), rows[3].clone()]
        );
        assert_eq!(chunk.bad.len(), 1);
        assert!(!chunk.bad[0].torn, "now followed by a newline");
    }

    #[test]
    fn a_last_line_missing_only_its_newline_is_still_a_row() {
        let (_dir, path) = spill_path();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let row = sample(1);
        std::fs::write(&path, serde_json::to_string(&row).unwrap()).unwrap();
        let chunk = read_chunk(&path, 0, 10).unwrap();
        assert_eq!(chunk.rows, [row]);
        assert!(chunk.bad.is_empty() && chunk.eof);
    }
}
