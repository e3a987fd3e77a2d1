//! Reads for the API, on pooled read-only connections beside the writer (WAL: readers see
//! the last COMMIT and never block it), and the idempotency records the writer keeps.

use super::codec::{self, APPLICATION_COLUMNS, REFERRAL_COLUMNS};
use super::read::{recorded_from_row, EVENT_COLUMNS, PERSONAL_JOIN};
use super::{Store, StoreError};
use crate::domain::application::{Application, ApplicationId, ApplicationStatus};
use crate::domain::catalog::DistrictId;
use crate::domain::event::{Hash, RecordedEvent};
use crate::domain::history::CohortMove;
use crate::domain::referral::{FreePlace, Referral, ReferralId};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::PathBuf;
use std::sync::Mutex;

/// Read-only connections, reused. One is opened when none is idle; at most `IDLE_MAX` are
/// kept.
pub struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

const IDLE_MAX: usize = 16;

impl ReadPool {
    pub fn new(path: PathBuf) -> ReadPool {
        ReadPool {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `read` on a pooled connection. Blocking: call it off the async runtime's
    /// threads (`spawn_blocking`) for anything beyond a point look-up.
    pub fn with<R>(
        &self,
        read: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let conn = self.idle.lock().expect("pool lock").pop();
        let conn = match conn {
            Some(conn) => conn,
            None => {
                let conn = Store::open_reader(&self.path)?;
                conn.set_prepared_statement_cache_capacity(32);
                conn
            }
        };
        let result = read(&conn);
        let mut idle = self.idle.lock().expect("pool lock");
        if idle.len() < IDLE_MAX {
            idle.push(conn);
        }
        result
    }
}

/// One application, on any connection (the writer's goes through `Store::application`).
pub fn application(
    conn: &Connection,
    id: ApplicationId,
) -> Result<Option<Application>, StoreError> {
    let sql = format!(
        "SELECT {APPLICATION_COLUMNS} FROM applications \
         WHERE district_id = ?1 AND registration_number = ?2"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(params![id.district.0, id.number.0])?;
    match rows.next()? {
        None => Ok(None),
        Some(row) => Ok(Some(codec::application_from_row(row)?)),
    }
}

/// The events that concern an application, oldest first.
pub fn application_events(
    conn: &Connection,
    id: ApplicationId,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM application_events a JOIN events e ON e.seq = a.seq \
             {PERSONAL_JOIN} WHERE a.district_id = ?1 AND a.registration_number = ?2 \
             ORDER BY a.seq"
    ))?;
    let mut rows = statement.query(params![id.district.0, id.number.0])?;
    let mut events = Vec::new();
    while let Some(row) = rows.next()? {
        events.push(recorded_from_row(row)?);
    }
    Ok(events)
}

/// The moves an application's position history is counted from: those of its cohort that
/// could ever stand ahead of it. No key of the application is ever above its general-tier
/// key (a verified priority only moves it up), so that key bounds them.
pub fn cohort_moves_for(
    conn: &Connection,
    application: &Application,
) -> Result<(i32, Vec<CohortMove>), StoreError> {
    let cohort = chrono::Datelike::year(&application.child.birth_date);
    let general = crate::domain::application::QueueKey {
        tier: crate::domain::catalog::Tier::General,
        ..application.key()
    };
    let moves = cohort_moves_below(conn, application.id.district, cohort, general.order_key())?;
    Ok((cohort, moves))
}

/// The moves of a district's cohort with an order key up to `below`, in journal order:
/// everything that ever stood ahead of a key up to that bound.
pub fn cohort_moves_below(
    conn: &Connection,
    district: DistrictId,
    cohort: i32,
    below: i64,
) -> Result<Vec<CohortMove>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT seq, at, order_key, registration_number, delta FROM queue_moves \
         WHERE district_id = ?1 AND cohort = ?2 AND order_key <= ?3 ORDER BY seq, rowid",
    )?;
    let mut rows = statement.query(params![district.0, cohort, below])?;
    let mut moves = Vec::new();
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        moves.push(CohortMove {
            seq: seq as u64,
            at: codec::micros_to_time(row.get(1)?)
                .map_err(|e| StoreError::corrupt("queue_moves", seq, e))?,
            order_key: row.get(2)?,
            number: row.get(3)?,
            delta: row.get(4)?,
        });
    }
    Ok(moves)
}

/// The application's referrals, newest first.
pub fn referrals_of(conn: &Connection, id: ApplicationId) -> Result<Vec<Referral>, StoreError> {
    let sql = format!(
        "SELECT {REFERRAL_COLUMNS} FROM referrals \
         WHERE application_district_id = ?1 AND application_number = ?2 ORDER BY number DESC"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(params![id.district.0, id.number.0])?;
    let mut referrals = Vec::new();
    while let Some(row) = rows.next()? {
        referrals.push(codec::referral_from_row(row)?);
    }
    Ok(referrals)
}

pub fn referral(conn: &Connection, id: ReferralId) -> Result<Option<Referral>, StoreError> {
    let sql =
        format!("SELECT {REFERRAL_COLUMNS} FROM referrals WHERE district_id = ?1 AND number = ?2");
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(params![id.district.0, id.number.0])?;
    match rows.next()? {
        None => Ok(None),
        Some(row) => Ok(Some(codec::referral_from_row(row)?)),
    }
}

/// The officer's work list: a district's applications, filtered by status and by whether a
/// priority claim waits for a decision, oldest first, one page.
pub struct WorkListQuery {
    pub district: DistrictId,
    pub status: Option<ApplicationStatus>,
    pub claim_pending: bool,
    pub after_number: u32,
    pub limit: u32,
}

pub fn work_list(conn: &Connection, q: &WorkListQuery) -> Result<Vec<Application>, StoreError> {
    let sql = format!(
        "SELECT {APPLICATION_COLUMNS} FROM applications \
         WHERE district_id = ?1 AND registration_number > ?2 \
           AND (?3 IS NULL OR status = ?3) \
           AND (?4 = 0 OR priority_status = 'claimed') \
         ORDER BY registration_number LIMIT ?5"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let status = q.status.map(|s| codec::enum_text(&s));
    let mut rows = statement.query(params![
        q.district.0,
        q.after_number,
        status,
        q.claim_pending,
        q.limit
    ])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(codec::application_from_row(row)?);
    }
    Ok(out)
}

/// What an officer searches a district's applications by.
#[derive(Clone, Debug)]
pub enum SearchBy {
    /// The child's IIN, exactly.
    ChildIin(String),
    /// A part of the child's full name. SQLite folds the case of Latin letters only, so a
    /// Cyrillic name is matched as typed or with each word capitalised, as names are written.
    ChildName(String),
}

/// A district's applications matching `by`, by registration number, at most `limit`.
pub fn search_applications(
    conn: &Connection,
    district: DistrictId,
    by: &SearchBy,
    limit: u32,
) -> Result<Vec<Application>, StoreError> {
    // By IIN, through the child's index (migration 0011): SQLite would otherwise walk the
    // district's rows in number order for the ORDER BY.
    let (index, condition, first, second) = match by {
        SearchBy::ChildIin(iin) => (
            "INDEXED BY one_active_application_per_child",
            "child_iin = ?2",
            iin.clone(),
            iin.clone(),
        ),
        SearchBy::ChildName(name) => (
            "",
            "(instr(child_full_name, ?2) > 0 OR instr(child_full_name, ?3) > 0)",
            name.clone(),
            capitalised(name),
        ),
    };
    let sql = format!(
        "SELECT {APPLICATION_COLUMNS} FROM applications {index} \
         WHERE district_id = ?1 AND {condition} AND ?3 = ?3 \
         ORDER BY registration_number LIMIT ?4"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(params![district.0, first, second, limit])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(codec::application_from_row(row)?);
    }
    Ok(out)
}

/// "иванов иван" → "Иванов Иван".
fn capitalised(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first
                    .to_uppercase()
                    .chain(chars.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join(" ")
}

/// Places reported in a district within [from, to), oldest first, at most `limit`.
pub fn places_reported(
    conn: &Connection,
    district: DistrictId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<FreePlace>, StoreError> {
    // Numbers only, formatted by us: nothing a client typed reaches the SQL text.
    let filter = format!(
        "WHERE district_id = {} AND reported_at >= {} AND reported_at < {}",
        district.0,
        from.timestamp_micros(),
        to.timestamp_micros(),
    );
    super::read::place_rows_limited(conn, &filter, i64::from(limit))
}

/// Referrals issued in a district within [from, to), oldest first, at most `limit`.
pub fn referrals_issued(
    conn: &Connection,
    district: DistrictId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<Referral>, StoreError> {
    let sql = format!(
        "SELECT {REFERRAL_COLUMNS} FROM referrals WHERE district_id = ?1 \
         AND issued_at >= ?2 AND issued_at < ?3 ORDER BY number LIMIT ?4"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(params![
        district.0,
        from.timestamp_micros(),
        to.timestamp_micros(),
        limit
    ])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(codec::referral_from_row(row)?);
    }
    Ok(out)
}

/// Journal entries after `after`, at most `limit`.
pub fn events_after(
    conn: &Connection,
    after: u64,
    limit: u32,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM events e {PERSONAL_JOIN} WHERE e.seq > ?1 \
             ORDER BY e.seq LIMIT ?2"
    ))?;
    let mut rows = statement.query(params![after as i64, limit])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(recorded_from_row(row)?);
    }
    Ok(out)
}

/// The head of `district`'s education department when the event `seq` was recorded: the
/// last one set before it in the journal.
pub fn education_head_before(
    conn: &Connection,
    district: DistrictId,
    seq: u64,
) -> Result<Option<String>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT full_name FROM education_heads WHERE district_id = ?1 AND seq < ?2 \
         ORDER BY seq DESC LIMIT 1",
    )?;
    Ok(statement
        .query_row(params![district.0, seq as i64], |row| row.get(0))
        .optional()?)
}

pub fn survey_answered(conn: &Connection, id: ApplicationId) -> Result<bool, StoreError> {
    let found: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM surveys WHERE district_id = ?1 AND registration_number = ?2",
            params![id.district.0, id.number.0],
            |row| row.get(0),
        )
        .optional()?;
    Ok(found.is_some())
}

/// An answer remembered for an Idempotency-Key.
pub struct Remembered {
    pub fingerprint: [u8; 32],
    pub outcome: String,
}

/// How long a key is remembered: a client retries within minutes; a day is generous.
pub const IDEMPOTENCY_WINDOW_HOURS: i64 = 24;

impl Store {
    pub fn remembered(&self, scope: &str, key: &str) -> Result<Option<Remembered>, StoreError> {
        let mut statement = self.connection().prepare_cached(
            "SELECT fingerprint, outcome FROM idempotency_keys WHERE scope = ?1 AND key = ?2",
        )?;
        let found: Option<(Vec<u8>, String)> = statement
            .query_row(params![scope, key], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        match found {
            None => Ok(None),
            Some((fingerprint, outcome)) => Ok(Some(Remembered {
                fingerprint: fingerprint
                    .try_into()
                    .map_err(|_| StoreError::corrupt("idempotency_keys", key, "fingerprint"))?,
                outcome,
            })),
        }
    }

    pub fn remember(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &[u8; 32],
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.connection()
            .prepare_cached(
                "INSERT INTO idempotency_keys (scope, key, fingerprint, outcome, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                scope,
                key,
                &fingerprint[..],
                outcome,
                now.timestamp_micros()
            ])?;
        Ok(())
    }

    /// Forgets keys older than the window (their answers, sealed, may hold access codes).
    pub fn forget_idempotency_before(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        Ok(self.connection().execute(
            "DELETE FROM idempotency_keys WHERE created_at < ?1",
            [before.timestamp_micros()],
        )?)
    }

    /// Whether the application's survey was answered (inside the open transaction).
    pub fn survey_answered(&self, id: ApplicationId) -> Result<bool, StoreError> {
        survey_answered(self.connection(), id)
    }
}

/// When the journal's last event was recorded; `None` for a new or missing database.
pub fn last_recorded_at(path: &std::path::Path) -> Result<Option<DateTime<Utc>>, StoreError> {
    if !path.exists() {
        return Ok(None);
    }
    let conn = Store::open_reader(path)?;
    let micros: Option<i64> = conn
        .query_row("SELECT max(recorded_at) FROM events", [], |row| row.get(0))
        .optional()?
        .flatten();
    Ok(micros.and_then(DateTime::from_timestamp_micros))
}

/// A child who left: its application, when, and its group (none: a place without one).
pub type LeftChild = (
    ApplicationId,
    DateTime<Utc>,
    Option<crate::domain::catalog::GroupId>,
);

/// The children who left `kindergarten` (status `left`, the place of their latest referral
/// handed in being one of its): application, when it left, and its group; latest first, at
/// most `limit`.
pub fn left_children(
    conn: &Connection,
    kindergarten: crate::domain::catalog::KindergartenId,
    limit: u32,
) -> Result<Vec<LeftChild>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT a.district_id, a.registration_number, a.left_at, p.group_id \
         FROM applications a \
         JOIN referrals r ON r.application_district_id = a.district_id \
          AND r.application_number = a.registration_number AND r.status = 'handed_in' \
         JOIN places p ON p.id = r.place_id \
         WHERE a.status = 'left' AND p.kindergarten_id = ?1 \
          AND r.closed_at = (SELECT max(r2.closed_at) FROM referrals r2 \
              WHERE r2.application_district_id = a.district_id \
              AND r2.application_number = a.registration_number AND r2.status = 'handed_in') \
         ORDER BY a.left_at DESC, a.district_id, a.registration_number LIMIT ?2",
    )?;
    let mut rows = statement.query(params![kindergarten.0, limit])?;
    let mut children = Vec::new();
    while let Some(row) = rows.next()? {
        let id = ApplicationId {
            district: crate::domain::catalog::DistrictId(row.get(0)?),
            number: crate::domain::application::RegistrationNumber(row.get(1)?),
        };
        let at = codec::micros_to_time(row.get(2)?)
            .map_err(|e| StoreError::corrupt("applications", id.number.0, e))?;
        let group = row
            .get::<_, Option<u32>>(3)?
            .map(crate::domain::catalog::GroupId);
        children.push((id, at, group));
    }
    Ok(children)
}

/// The last event's sequence number and hash, on any connection (a reader's snapshot cuts
/// at it); `None` for an empty journal.
pub fn journal_head_of(conn: &Connection) -> Result<Option<(u64, Hash)>, StoreError> {
    let head = conn
        .query_row(
            "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
            [],
            |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?)),
        )
        .optional()?;
    head.map(|(seq, hash)| {
        let hash: Hash = hash
            .try_into()
            .map_err(|_| StoreError::corrupt("events", seq, "hash is not 32 bytes"))?;
        Ok((seq as u64, hash))
    })
    .transpose()
}
