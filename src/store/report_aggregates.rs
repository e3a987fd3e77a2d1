//! The reports' aggregates saved at a clean close (migration 0018), so that a sealed start
//! reads them instead of replaying the journal through a state (issue 12's 5 s start-up).
//! They are valid at one sequence number: a start whose journal ends elsewhere, or whose
//! files are not as sealed, replays (`read::load_reports`), and `kezek verify` holds the
//! saved ones against its replay.

use super::{Store, StoreError};
use crate::domain::reports::Reports;
use rusqlite::{params, Connection, OptionalExtension};

impl Store {
    /// Saves the aggregates as they are after event `seq`, replacing the last ones. The
    /// writer calls it once, at a clean close, after its last batch.
    pub fn save_reports(&self, seq: u64, reports: &Reports) -> Result<(), StoreError> {
        let body = serde_json::to_string(reports)
            .map_err(|e| StoreError::corrupt("report_aggregates", seq, e))?;
        self.conn.execute(
            "INSERT OR REPLACE INTO report_aggregates (id, seq, body) VALUES (1, ?1, ?2)",
            params![seq as i64, body],
        )?;
        Ok(())
    }
}

/// The saved aggregates if they are valid after event `head` (the journal's last), else
/// `None`: the caller replays. A body that does not decode is the same as none (logged).
pub fn saved_reports(conn: &Connection, head: u64) -> Result<Option<Reports>, StoreError> {
    let row: Option<(i64, String)> = conn
        .query_row(
            "SELECT seq, body FROM report_aggregates WHERE id = 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let Some((seq, body)) = row else {
        return Ok(None);
    };
    if seq != head as i64 {
        return Ok(None);
    }
    match serde_json::from_str(&body) {
        Ok(reports) => Ok(Some(reports)),
        Err(error) => {
            tracing::warn!(%error, "the saved report aggregates do not decode; replaying");
            Ok(None)
        }
    }
}
