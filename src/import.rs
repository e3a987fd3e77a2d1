//! `kezek import`: a municipality's existing queue, from its earlier system's CSV export,
//! into the service.
//!
//! The file is read whole (its SHA-256 is journaled with every row it gave), its header
//! must be exactly [`HEADER`], and each row is checked on its own (`domain::import`, the
//! registration's checks) and against the other rows (one child, one old number per
//! district). The rows that pass are sent in the old order (tier, registration time, line)
//! as batches, each one atomic command: a crash leaves whole batches, and running the
//! import again skips the rows already taken (their old numbers are known), so a file is
//! resumed, never doubled. A dry run sends the same batches with nothing emitted.

use crate::domain::catalog::Catalog;
use crate::domain::event::Actor;
use crate::domain::import::{refuse_repeats, ImportRow, LegacyRow, RowError, RowRefusal, HEADER};
use crate::service::{Command, Outcome};
use crate::service::{CommandError, Service};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::path::Path;

/// Rows per command. Each command is one transaction's worth of work (the writer groups
/// commands that wait into one COMMIT): large enough that the fsync is paid rarely, small
/// enough that the writer answers other commands between two batches.
pub const BATCH_ROWS: usize = 5_000;

#[derive(Clone, Debug)]
pub struct ImportOptions {
    pub dry_run: bool,
    pub batch_rows: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            dry_run: false,
            batch_rows: BATCH_ROWS,
        }
    }
}

/// What an import did, or in a dry run would do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub file_sha256: String,
    /// Rows below the header.
    pub rows: usize,
    /// Rows taken now (in a dry run: that would be).
    pub taken: usize,
    /// Rows taken by an earlier run of this or another file (skipped).
    pub already_taken: usize,
    /// Every refused row, by line.
    pub refused: Vec<RowError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file cannot be read: {0}")]
    Unreadable(#[from] std::io::Error),
    #[error("the file is not CSV: {0}")]
    NotCsv(String),
    /// The first line is not the documented header; nothing is read further.
    #[error("the header is not the documented one (README, \"Importing an existing queue\"); expected: {}", HEADER.join(","))]
    HeaderInvalid,
    #[error(transparent)]
    Command(#[from] CommandError),
}

/// Imports `path` through `service`. `progress` is told the rows handled so far (of
/// `rows`, the second argument).
pub fn import_file(
    service: &Service,
    path: &Path,
    options: &ImportOptions,
    progress: impl FnMut(usize, usize),
) -> Result<ImportSummary, ImportError> {
    let bytes = std::fs::read(path)?;
    import_bytes(service, &bytes, options, progress)
}

/// As [`import_file`], from the file's bytes.
pub fn import_bytes(
    service: &Service,
    bytes: &[u8],
    options: &ImportOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<ImportSummary, ImportError> {
    let file_sha256 = hex::encode(Sha256::digest(bytes));
    let now = service.now();
    // A copy, so that the writer is not kept waiting for the state's lock meanwhile.
    let catalog = service.read().catalog.clone();
    let mut summary = ImportSummary {
        file_sha256: file_sha256.clone(),
        ..ImportSummary::default()
    };
    let (rows, refused, read) = parse_rows(bytes, &catalog, now)?;
    summary.rows = read;
    summary.refused = refused;
    let (mut rows, repeated) = refuse_repeats(rows);
    summary.refused.extend(repeated);
    rows.sort_by_key(ImportRow::old_order);
    let total = summary.rows;
    let mut done = summary.refused.len();
    progress(done, total);
    let batch_rows = options.batch_rows.max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<ImportRow> = rows.by_ref().take(batch_rows).collect();
        done += batch.len();
        let command = Command::Import {
            file_sha256: file_sha256.clone(),
            rows: batch,
            dry_run: options.dry_run,
        };
        match service.submit_blocking(command, Actor::system())? {
            Outcome::Imported(report) => {
                summary.taken += report.taken.len();
                summary.already_taken += report.already_taken.len();
                summary.refused.extend(report.refused);
            }
            other => unreachable!("an import answered {other:?}"),
        }
        progress(done, total);
    }
    summary.refused.sort_by_key(|e| e.line);
    Ok(summary)
}

/// Rows per chunk handed from the reader to the checking threads.
const CHUNK_ROWS: usize = 4_096;

/// Reads every row and checks it as a registration would be (`ImportRow::parse`): the
/// reader on this thread, the checks on two more, chunk by chunk, so that reading and
/// checking a million rows share the machine's cores. Answers the rows taken and the rows
/// refused, both in the file's order, and how many rows were read.
fn parse_rows(
    bytes: &[u8],
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Result<(Vec<ImportRow>, Vec<RowError>, usize), ImportError> {
    type Checked = (usize, Vec<ImportRow>, Vec<RowError>);
    let check = |chunk: Vec<LegacyRow>| -> (Vec<ImportRow>, Vec<RowError>) {
        let mut rows = Vec::with_capacity(chunk.len());
        let mut refused = Vec::new();
        for row in &chunk {
            match ImportRow::parse(row, catalog, now) {
                Ok(parsed) => rows.push(parsed),
                Err((field, refusal)) => refused.push(RowError::new(row.line, field, &refusal)),
            }
        }
        (rows, refused)
    };
    let (chunks_in, chunks_out) = std::sync::mpsc::sync_channel::<(usize, Vec<LegacyRow>)>(4);
    let chunks_out = std::sync::Mutex::new(chunks_out);
    let (checked_in, checked_out) = std::sync::mpsc::channel::<Checked>();
    let mut read = 0;
    let mut checked: Vec<Checked> = std::thread::scope(|scope| {
        for _ in 0..2 {
            let checked_in = checked_in.clone();
            let chunks_out = &chunks_out;
            scope.spawn(move || loop {
                let next = chunks_out.lock().expect("chunk queue poisoned").recv();
                let Ok((index, chunk)) = next else { return };
                let (rows, refused) = check(chunk);
                if checked_in.send((index, rows, refused)).is_err() {
                    return;
                }
            });
        }
        drop(checked_in);
        let mut chunk = Vec::with_capacity(CHUNK_ROWS);
        let mut index = 0;
        let reading = for_each_row(bytes, |row| {
            read += 1;
            chunk.push(row);
            if chunk.len() == CHUNK_ROWS {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_ROWS));
                // The checkers only stop when this sender is dropped.
                let _ = chunks_in.send((index, full));
                index += 1;
            }
        });
        if !chunk.is_empty() {
            let _ = chunks_in.send((index, chunk));
        }
        drop(chunks_in);
        let checked: Vec<Checked> = checked_out.iter().collect();
        reading.map(|()| checked)
    })?;
    checked.sort_unstable_by_key(|(index, ..)| *index);
    let mut rows = Vec::with_capacity(read);
    let mut refused = Vec::new();
    for (_, taken, not) in checked {
        rows.extend(taken);
        refused.extend(not);
    }
    Ok((rows, refused, read))
}

/// Each row below the header, with its line (the header is line 1), as it is read: a
/// million rows are never held as text. A row that is not UTF-8 keeps no fields, so it is
/// refused as malformed, by line, like a short row.
fn for_each_row(bytes: &[u8], mut visit: impl FnMut(LegacyRow)) -> Result<(), ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let header = reader
        .byte_headers()
        .map_err(|e| ImportError::NotCsv(e.to_string()))?;
    let header_fine = header.len() == HEADER.len()
        && header
            .iter()
            .zip(HEADER)
            .all(|(found, expected)| trim_bom(found) == expected.as_bytes());
    if !header_fine {
        return Err(ImportError::HeaderInvalid);
    }
    let mut record = csv::ByteRecord::new();
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| ImportError::NotCsv(e.to_string()))?
    {
        let line = record.position().map_or(0, |p| p.line());
        let fields: Option<Vec<String>> = record
            .iter()
            .map(|field| String::from_utf8(field.to_vec()).ok())
            .collect();
        visit(LegacyRow {
            line,
            fields: fields.unwrap_or_default(),
        });
    }
    Ok(())
}

/// A spreadsheet's export may begin with a byte-order mark.
fn trim_bom(field: &[u8]) -> &[u8] {
    field.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(field)
}

/// Every code an import may report for a row beyond the registration's own: for the README
/// and the error table's test.
pub fn import_codes() -> Vec<&'static str> {
    [
        RowRefusal::RowMalformed,
        RowRefusal::LegacyNumberInvalid,
        RowRefusal::RegisteredAtMalformed,
        RowRefusal::RegisteredAtInFuture,
        RowRefusal::RegisteredBeforeBirth,
        RowRefusal::PriorityVerifiedInvalid,
        RowRefusal::StatusNotWaiting,
        RowRefusal::ChildRepeated,
        RowRefusal::LegacyNumberRepeated,
    ]
    .iter()
    .map(RowRefusal::code)
    .collect()
}
