//! What `kezek verify` proves about erased personal data (issue 16 §3).
//!
//! The chain check and the replay already prove that the journal's public forms hold no
//! personal field and that every personal part left matches its commitment and its
//! application (`domain::personal::join`). Here: the applications the journal says were
//! erased are exactly those the table marks, and nothing of theirs is left anywhere the
//! service writes personal data: no personal part, no message, no file, no document
//! request, and no idempotency record old enough to hold an answer about them (those
//! answers are sealed, so the proof is their age). Their rows of `applications` hold the
//! placeholders, which `compare_applications` proves by comparing them with the replay.
//! And the sweep can find every ended application when its time comes: each has the time it
//! ended (`ended_at`, which the sweep's index orders), no later than its last event.

use super::VerifyError;
use crate::domain::replay::Replay;
use rusqlite::{Connection, OptionalExtension};
use std::collections::BTreeSet;

/// How many applications are erased; an error names the first thing left of one.
pub(super) fn check_erasures(conn: &Connection, replay: &Replay) -> Result<usize, VerifyError> {
    check_ends(conn)?;
    let mut marked = BTreeSet::new();
    let mut statement = conn.prepare(
        "SELECT district_id, registration_number FROM applications WHERE erased_at IS NOT NULL",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        marked.insert((row.get::<_, u32>(0)?, row.get::<_, u32>(1)?));
    }
    let journaled: BTreeSet<(u32, u32)> = replay
        .erased
        .iter()
        .map(|id| (id.district.0, id.number.0))
        .collect();
    if let Some((district, number)) = marked.symmetric_difference(&journaled).next() {
        let detail = if journaled.contains(&(*district, *number)) {
            "erased in the journal, not in the table"
        } else {
            "marked erased without its event"
        };
        return Err(VerifyError::table(
            "applications",
            format!("{district}/{number}"),
            detail,
        ));
    }
    for table in [
        "personal_data",
        "outbox",
        "attachments",
        "document_requests",
    ] {
        let left: Option<(u32, u32)> = conn
            .query_row(
                &format!(
                    "SELECT t.district_id, t.registration_number FROM {table} t \
                     JOIN applications a ON a.district_id = t.district_id \
                     AND a.registration_number = t.registration_number \
                     WHERE a.erased_at IS NOT NULL LIMIT 1"
                ),
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        if let Some((district, number)) = left {
            return Err(VerifyError::table(
                table,
                format!("{district}/{number}"),
                "a row of an erased application",
            ));
        }
    }
    let window = crate::store::IDEMPOTENCY_WINDOW_HOURS * 3_600_000_000;
    let stale: i64 = conn.query_row(
        "SELECT count(*) FROM idempotency_keys \
         WHERE created_at < (SELECT max(erased_at) FROM applications) - ?1",
        [window],
        |row| row.get(0),
    )?;
    if stale > 0 {
        return Err(VerifyError::table(
            "idempotency_keys",
            "*",
            format!("{stale} answers older than the last erasure's window"),
        ));
    }
    Ok(journaled.len())
}

/// An ended application's row says when it ended, no later than its last event (the sweep
/// reads those ended before a district's cutoff, then their last events); an active one's
/// says nothing. A row without it would never be erased.
fn check_ends(conn: &Connection) -> Result<(), VerifyError> {
    let wrong: Option<(u32, u32, bool)> = conn
        .query_row(
            &format!(
                "SELECT a.district_id, a.registration_number, a.active FROM applications a \
                 WHERE CASE WHEN a.active THEN a.ended_at IS NOT NULL \
                       ELSE a.ended_at IS NULL OR a.ended_at > {} END \
                 LIMIT 1",
                crate::store::erasure::LAST_EVENT_AT
            ),
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    match wrong {
        None => Ok(()),
        Some((district, number, active)) => Err(VerifyError::table(
            "applications",
            format!("{district}/{number}"),
            if active {
                "an active application with an end"
            } else {
                "an ended application without its end, or with one after its last event"
            },
        )),
    }
}
