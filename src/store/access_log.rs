//! The staff access log's table (`staff_views`): appending sealed entries in the writer's
//! transaction, reading them with filters, and checking the chain (see
//! `domain::access_log`).

use super::codec::micros_to_time;
use super::{Store, StoreError};
use crate::domain::access_log::{BrokenLink, LogChecker, LogFilter, StaffView, ViewKind};
use crate::domain::application::{ApplicationId, RegistrationNumber};
use crate::domain::catalog::DistrictId;
use crate::domain::event::{Hash, GENESIS_HASH};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

const COLUMNS: &str =
    "seq, viewed_at, account, kind, district_id, application_number, prev_hash, hash";

impl Store {
    /// Appends one entry per application seen (one without an application when `seen` is
    /// empty, e.g. a search that found nothing), in the caller's transaction.
    pub fn append_views(
        &self,
        at: DateTime<Utc>,
        account: &str,
        kind: ViewKind,
        seen: &[ApplicationId],
    ) -> Result<u64, StoreError> {
        let mut head = head(&self.conn)?;
        let entries: Vec<Option<ApplicationId>> = if seen.is_empty() {
            vec![None]
        } else {
            seen.iter().copied().map(Some).collect()
        };
        let mut statement = self.conn.prepare_cached(
            "INSERT INTO staff_views (seq, viewed_at, account, kind, district_id, \
             application_number, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for application in entries {
            let view = StaffView::seal(head, at, account, kind, application);
            statement.execute(params![
                view.seq as i64,
                view.at.timestamp_micros(),
                view.account,
                view.kind.code(),
                view.application.map(|a| a.district.0),
                view.application.map(|a| a.number.0),
                &view.prev_hash[..],
                &view.hash[..],
            ])?;
            head = (view.seq, view.hash);
        }
        Ok(head.0)
    }
}

/// The last entry's `seq` and hash: where the next entry links on.
fn head(conn: &Connection) -> Result<(u64, Hash), StoreError> {
    let last = conn
        .query_row(
            "SELECT seq, hash FROM staff_views ORDER BY seq DESC LIMIT 1",
            [],
            |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?)),
        )
        .optional()?;
    match last {
        None => Ok((0, GENESIS_HASH)),
        Some((seq, hash)) => Ok((seq as u64, hash_of(seq, hash)?)),
    }
}

fn hash_of(seq: i64, bytes: Vec<u8>) -> Result<Hash, StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::corrupt("staff_views", seq, "hash is not 32 bytes"))
}

fn view_of(row: &Row<'_>) -> Result<Result<StaffView, StoreError>, rusqlite::Error> {
    let seq: i64 = row.get(0)?;
    let micros: i64 = row.get(1)?;
    let account: String = row.get(2)?;
    let kind: String = row.get(3)?;
    let district: Option<u32> = row.get(4)?;
    let number: Option<u32> = row.get(5)?;
    let prev: Vec<u8> = row.get(6)?;
    let hash: Vec<u8> = row.get(7)?;
    Ok((|| {
        let corrupt = |reason: String| StoreError::corrupt("staff_views", seq, reason);
        Ok(StaffView {
            seq: seq as u64,
            at: micros_to_time(micros).map_err(corrupt)?,
            account,
            kind: ViewKind::parse(&kind).ok_or_else(|| corrupt(format!("kind {kind}")))?,
            application: match (district, number) {
                (Some(d), Some(n)) => Some(ApplicationId {
                    district: DistrictId(d),
                    number: RegistrationNumber(n),
                }),
                _ => None,
            },
            prev_hash: hash_of(seq, prev)?,
            hash: hash_of(seq, hash)?,
        })
    })())
}

/// The entries `filter` asks for, oldest first.
pub fn views(conn: &Connection, filter: &LogFilter) -> Result<Vec<StaffView>, StoreError> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM staff_views WHERE seq > ?1 \
         AND (?2 IS NULL OR account = ?2) \
         AND (?3 IS NULL OR district_id = ?3) \
         AND (?4 IS NULL OR application_number = ?4) \
         ORDER BY seq LIMIT ?5"
    ))?;
    let district = filter
        .application
        .map(|a| a.district.0)
        .or(filter.district.map(|d| d.0));
    let rows = statement.query_map(
        params![
            filter.after as i64,
            filter.account,
            district,
            filter.application.map(|a| a.number.0),
            filter.limit,
        ],
        view_of,
    )?;
    let mut views = Vec::new();
    for row in rows {
        views.push(row??);
    }
    Ok(views)
}

/// What checking the whole log found.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Broken(#[from] BrokenLink),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for LogError {
    fn from(error: rusqlite::Error) -> LogError {
        LogError::Store(error.into())
    }
}

/// Checks every entry's link, from the first; answers how many there are.
pub fn check_chain(conn: &Connection) -> Result<u64, LogError> {
    let mut checker = LogChecker::default();
    let mut statement = conn.prepare(&format!("SELECT {COLUMNS} FROM staff_views ORDER BY seq"))?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let view = view_of(row)??;
        checker.check(&view)?;
    }
    Ok(checker.head().0)
}
