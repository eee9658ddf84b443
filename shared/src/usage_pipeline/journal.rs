//! The usage journal (SPEC §5): a local append-only log under the data directory that takes
//! every row as its request finishes, and a progress record (start and checkpoints) for each
//! request in flight, so that no row is lost even when the process is killed.
//!
//! - Entries are JSON lines, `{"p":row}` for progress and `{"f":row}` for a finished row,
//!   appended by the writer task in one `write` per batch it receives. No fsync: a process
//!   crash keeps what reached the kernel; only a machine crash can lose the last moments.
//! - The journal is a series of segment files (`usage-journal/<n>.jsonl`). A segment is closed
//!   once it is large or old enough; the progress records of requests still in flight are
//!   copied into the next one, so only the newest segment is needed for them. A closed
//!   segment is deleted once every finished row it holds is durable elsewhere (written to the
//!   database, spilled, or set aside as refused); rows carry their journal sequence number
//!   ([`UsageRecord::journal_seq`]) so the writer can tell.
//! - At start, [`recover`] reads what a previous run left: finished rows, plus a row with
//!   outcome `relay_crashed` and the usage of its last checkpoint for every request that
//!   started and never finished. The caller makes them durable (the spill file, replayed with
//!   a check for rows already stored) and then removes the segments.
//! - An I/O error disables the journal (logged once, counted); the database path goes on.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::db::usage::UsageRecord;
use crate::models::Outcome;

/// Name of the journal's folder inside the data directory.
pub const JOURNAL_DIR_NAME: &str = "usage-journal";
/// A segment is closed past this size...
const SEGMENT_BYTES: u64 = 8 << 20;
/// ...or once it is this old and holds something.
const SEGMENT_AGE: Duration = Duration::from_secs(5);

/// One entry handed to the pipeline by the request path.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A request in flight: its row as known so far (replaces any earlier progress).
    Progress(UsageRecord),
    /// A finished request's row.
    Finished(UsageRecord),
}

/// One journal line.
#[derive(Serialize, Deserialize)]
enum Line<'a> {
    #[serde(rename = "p")]
    Progress(std::borrow::Cow<'a, UsageRecord>),
    #[serde(rename = "f")]
    Finished(std::borrow::Cow<'a, UsageRecord>),
}

/// The open journal.
#[derive(Debug)]
pub(super) struct Journal {
    dir: PathBuf,
    /// The segment being appended to; `None` once the journal is disabled.
    file: Option<File>,
    segment: u64,
    segment_bytes: u64,
    segment_opened: Instant,
    /// Sequence number of the last finished row of the current segment (0: none).
    segment_last_seq: u64,
    /// Closed segments and the sequence number of their last finished row.
    closed: VecDeque<(u64, u64)>,
    next_seq: u64,
    /// Latest progress of each request in flight, by row key.
    active: HashMap<i64, UsageRecord>,
    buf: Vec<u8>,
}

/// What a previous run left in the journal.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Rows to make durable: finished rows, and `relay_crashed` rows for requests that never
    /// finished.
    pub rows: Vec<UsageRecord>,
    /// Of those, the requests that never finished.
    pub crashed: usize,
    /// Segment files read (to remove once the rows are durable).
    pub files: Vec<PathBuf>,
    /// Lines that could not be read (a torn last line after a crash).
    pub bad_lines: usize,
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:020}.jsonl"))
}

fn segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        let n = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".jsonl"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(n) = n {
            out.push((n, path));
        }
    }
    out.sort();
    Ok(out)
}

/// Reads the journal a previous run left in `data_dir` (nothing when there is none).
pub fn recover(data_dir: &Path) -> io::Result<Recovered> {
    let dir = data_dir.join(JOURNAL_DIR_NAME);
    let mut finished: HashMap<i64, UsageRecord> = HashMap::new();
    let mut progress: HashMap<i64, UsageRecord> = HashMap::new();
    let mut out = Recovered::default();
    for (_, path) in segments(&dir)? {
        let reader = BufReader::new(File::open(&path)?);
        for line in reader.split(b'\n') {
            let line = line?;
            if line.is_empty() {
                continue;
            }
            match serde_json::from_slice::<Line<'_>>(&line) {
                Ok(Line::Progress(r)) => {
                    if !finished.contains_key(&r.row_key) {
                        progress.insert(r.row_key, r.into_owned());
                    }
                }
                Ok(Line::Finished(r)) => {
                    progress.remove(&r.row_key);
                    finished.insert(r.row_key, r.into_owned());
                }
                Err(_) => out.bad_lines += 1,
            }
        }
        out.files.push(path);
    }
    out.crashed = progress.len();
    out.rows.extend(finished.into_values());
    out.rows.extend(progress.into_values().map(|mut r| {
        crashed(&mut r);
        r
    }));
    out.rows.sort_by_key(|r| (r.created_at, r.row_key));
    Ok(out)
}

/// Turns the last progress of a request that never finished into its row.
fn crashed(r: &mut UsageRecord) {
    if r.ttfb_ms.is_none() {
        // Nothing reached the client: no status was sent.
        r.status_code = 502;
    }
    r.outcome = Outcome::RelayCrashed.as_str().to_string();
    r.error_type = Some("relay_crashed".to_string());
}

/// Removes the segment files of a recovery whose rows are now durable.
pub fn remove_recovered(files: &[PathBuf]) -> io::Result<()> {
    for f in files {
        match std::fs::remove_file(f) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl Journal {
    /// Opens a new segment in `data_dir`'s journal folder, numbered after any left there.
    pub(super) fn open(data_dir: &Path) -> io::Result<Self> {
        let dir = data_dir.join(JOURNAL_DIR_NAME);
        crate::fsmode::create_private_dir(&dir)?;
        let segment = segments(&dir)?.last().map_or(1, |(n, _)| n + 1);
        let file = crate::fsmode::private_append(&segment_path(&dir, segment))?;
        Ok(Self {
            dir,
            file: Some(file),
            segment,
            segment_bytes: 0,
            segment_opened: Instant::now(),
            segment_last_seq: 0,
            closed: VecDeque::new(),
            next_seq: 1,
            active: HashMap::new(),
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// A journal that records nothing (when the folder cannot be opened).
    pub(super) fn disabled(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join(JOURNAL_DIR_NAME),
            file: None,
            segment: 0,
            segment_bytes: 0,
            segment_opened: Instant::now(),
            segment_last_seq: 0,
            closed: VecDeque::new(),
            next_seq: 1,
            active: HashMap::new(),
            buf: Vec::new(),
        }
    }

    /// The sequence number the next finished row will get: every row journaled so far has a
    /// smaller one.
    pub(super) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Requests in flight (with a progress record and no finished row yet).
    #[cfg(test)]
    pub(super) fn in_flight(&self) -> usize {
        self.active.len()
    }

    /// Journals `entries` (taking them all) in one write and returns the finished rows,
    /// each stamped with its sequence number. An I/O error disables the journal and is
    /// returned once.
    ///
    /// A progress record whose finished row is in the same write is left out: the write that
    /// would keep it keeps the finished row too. Most requests start and finish between two
    /// writes, so most start records are never encoded.
    pub(super) fn append(
        &mut self,
        entries: &mut Vec<Entry>,
        rows: &mut Vec<UsageRecord>,
    ) -> Result<(), io::Error> {
        self.buf.clear();
        let on = self.file.is_some();
        let finishing: HashSet<i64> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Finished(r) => Some(r.row_key),
                Entry::Progress(_) => None,
            })
            .collect();
        for entry in entries.drain(..) {
            match entry {
                Entry::Progress(r) if finishing.contains(&r.row_key) => {}
                Entry::Progress(r) => {
                    if on {
                        encode(
                            &mut self.buf,
                            &Line::Progress(std::borrow::Cow::Borrowed(&r)),
                        );
                    }
                    self.active.insert(r.row_key, r);
                }
                Entry::Finished(mut r) => {
                    self.active.remove(&r.row_key);
                    if on {
                        r.journal_seq = self.next_seq;
                        self.segment_last_seq = self.next_seq;
                        self.next_seq += 1;
                        encode(
                            &mut self.buf,
                            &Line::Finished(std::borrow::Cow::Borrowed(&r)),
                        );
                    }
                    rows.push(r);
                }
            }
        }
        self.write_buf()
    }

    fn write_buf(&mut self) -> io::Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        if self.buf.is_empty() {
            return Ok(());
        }
        match file.write_all(&self.buf) {
            Ok(()) => {
                self.segment_bytes += self.buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                self.file = None;
                Err(e)
            }
        }
    }

    /// Closes the current segment when it is large or old enough, copying the progress of
    /// requests in flight into the new one; then deletes every closed segment whose finished
    /// rows all have a sequence number below `durable_below`.
    pub(super) fn maintain(&mut self, durable_below: u64) -> io::Result<()> {
        if self.file.is_none() {
            return Ok(());
        }
        let full = self.segment_bytes >= SEGMENT_BYTES;
        let old = self.segment_bytes > 0 && self.segment_opened.elapsed() >= SEGMENT_AGE;
        if full || old {
            self.rotate()?;
        }
        while let Some(&(n, last)) = self.closed.front() {
            if last >= durable_below {
                break;
            }
            remove_recovered(&[segment_path(&self.dir, n)])?;
            self.closed.pop_front();
        }
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let next = self.segment + 1;
        let file = match crate::fsmode::private_append(&segment_path(&self.dir, next)) {
            Ok(f) => f,
            Err(e) => {
                self.file = None;
                return Err(e);
            }
        };
        self.closed.push_back((self.segment, self.segment_last_seq));
        self.file = Some(file);
        self.segment = next;
        self.segment_bytes = 0;
        self.segment_last_seq = 0;
        self.segment_opened = Instant::now();
        self.buf.clear();
        for r in self.active.values() {
            encode(
                &mut self.buf,
                &Line::Progress(std::borrow::Cow::Borrowed(r)),
            );
        }
        self.write_buf()
    }

    /// At a graceful shutdown, once every row is durable: removes the journal, or keeps only
    /// the progress of requests still in flight (they become `relay_crashed` rows at the next
    /// start).
    pub(super) fn close(mut self, all_durable: bool) -> io::Result<()> {
        if self.file.is_none() {
            return Ok(());
        }
        self.rotate()?;
        if all_durable {
            while let Some((n, _)) = self.closed.pop_front() {
                remove_recovered(&[segment_path(&self.dir, n)])?;
            }
        }
        if self.active.is_empty() {
            remove_recovered(&[segment_path(&self.dir, self.segment)])?;
        }
        Ok(())
    }
}

fn encode(buf: &mut Vec<u8>, line: &Line<'_>) {
    // Serializing a row into memory cannot fail (string keys, plain values).
    if serde_json::to_writer(&mut *buf, line).is_ok() {
        buf.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn row(key: i64) -> UsageRecord {
        UsageRecord {
            request_id: format!("req-{key}"),
            row_key: key,
            created_at: 1_700_000_000_000 + key,
            status_code: 499,
            outcome: "client_closed".into(),
            ..UsageRecord::default()
        }
    }

    #[test]
    fn finished_rows_and_requests_that_never_finished_are_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        let mut rows = Vec::new();
        let mut checkpoint = row(2);
        checkpoint.input_tokens = 1_000;
        checkpoint.ttfb_ms = Some(12);
        checkpoint.status_code = 200;
        j.append(
            &mut vec![
                Entry::Progress(row(1)),
                Entry::Progress(row(2)),
                Entry::Progress(row(3)),
                Entry::Finished(row(1)),
                Entry::Progress(checkpoint),
            ],
            &mut rows,
        )
        .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].journal_seq, 1);
        assert_eq!(j.in_flight(), 2);
        drop(j); // the process dies here
        let rec = recover(dir.path()).unwrap();
        assert_eq!(rec.rows.len(), 3);
        assert_eq!(rec.crashed, 2);
        assert_eq!(rec.rows[0].row_key, 1);
        assert_eq!(
            rec.rows[0].outcome, "client_closed",
            "a finished row is kept as it was"
        );
        let two = rec.rows.iter().find(|r| r.row_key == 2).unwrap();
        assert_eq!(
            (two.outcome.as_str(), two.status_code, two.input_tokens),
            ("relay_crashed", 200, 1_000),
            "the last checkpoint's usage and status"
        );
        let three = rec.rows.iter().find(|r| r.row_key == 3).unwrap();
        assert_eq!(
            (three.outcome.as_str(), three.status_code),
            ("relay_crashed", 502)
        );
    }

    #[test]
    fn a_start_record_finished_in_the_same_write_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        let mut rows = Vec::new();
        let mut entries = vec![
            Entry::Progress(row(1)),
            Entry::Progress(row(2)),
            Entry::Finished(row(1)),
        ];
        j.append(&mut entries, &mut rows).unwrap();
        assert!(entries.is_empty(), "every entry is taken");
        assert_eq!((rows.len(), j.in_flight()), (1, 1));
        let path = segment_path(&dir.path().join(JOURNAL_DIR_NAME), 1);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].starts_with(r#"{"p":{"request_id":"req-2""#),
            "{text}"
        );
        assert!(
            lines[1].starts_with(r#"{"f":{"request_id":"req-1""#),
            "{text}"
        );
        let rec = recover(dir.path()).unwrap();
        let outcomes: Vec<(i64, &str)> = rec
            .rows
            .iter()
            .map(|r| (r.row_key, r.outcome.as_str()))
            .collect();
        assert_eq!(rec.crashed, 1);
        assert!(outcomes.contains(&(1, "client_closed")), "{outcomes:?}");
        assert!(outcomes.contains(&(2, "relay_crashed")), "{outcomes:?}");
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_the_rest_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        let mut rows = Vec::new();
        j.append(
            &mut vec![Entry::Finished(row(1)), Entry::Finished(row(2))],
            &mut rows,
        )
        .unwrap();
        let path = segment_path(&dir.path().join(JOURNAL_DIR_NAME), 1);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(br#"{"f":{"request_id":"cut"#).unwrap();
        let rec = recover(dir.path()).unwrap();
        assert_eq!((rec.rows.len(), rec.bad_lines), (2, 1));
    }

    #[test]
    fn closed_segments_go_once_their_rows_are_durable_and_in_flight_requests_follow() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        let mut rows = Vec::new();
        j.append(
            &mut vec![Entry::Progress(row(9)), Entry::Finished(row(1))],
            &mut rows,
        )
        .unwrap();
        j.rotate().unwrap();
        j.append(&mut vec![Entry::Finished(row(2))], &mut rows)
            .unwrap();
        j.maintain(1).unwrap();
        assert_eq!(
            segments(&j.dir).unwrap().len(),
            2,
            "row 1 is not durable yet"
        );
        j.maintain(2).unwrap();
        let left = segments(&j.dir).unwrap();
        assert_eq!(left.len(), 1, "{left:?}");
        let rec = recover(dir.path()).unwrap();
        assert_eq!(rec.crashed, 1, "the request in flight was copied forward");
        assert_eq!(rec.rows.len(), 2);
        j.close(true).unwrap();
        let rec = recover(dir.path()).unwrap();
        assert_eq!(
            rec.crashed, 1,
            "still in flight at shutdown: kept for the next start"
        );
        assert_eq!(rec.rows.len(), 1);
    }
}
