//! What signing in through an identity provider keeps (issue 14): a signed-in parent's
//! applications, looked up by the applicant's IIN; the record of refused registration
//! attempts (who tried to register whose child); staff accounts bound to the provider's
//! subject.
//!
//! The attempts are written beside the writer, on a connection of their own, like the
//! staff accounts: they are a record of refusals, not the queue's state, and a refused
//! command emits no event (ARCHITECTURE.md, "a command decides before it emits").

use super::codec::{self, APPLICATION_COLUMNS};
use super::staff::account_from_row;
use super::StoreError;
use crate::domain::application::{Application, ApplicationId, RegistrationNumber};
use crate::domain::catalog::DistrictId;
use crate::domain::staff::StaffAccount;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OpenFlags};
use std::path::Path;

/// The most applications one person's list shows: a family has a handful; a list this long
/// is a provider's error, not a family.
pub const APPLICATIONS_OF_PERSON_MAX: usize = 50;

/// Of `candidates` (the in-memory state's applications of the person:
/// `QueueState::applications_of`), those whose row names `applicant_iin` as the applicant,
/// newest first, at most `APPLICATIONS_OF_PERSON_MAX`. The row is the authority: a reader's
/// state may be a batch ahead of the rows it can see.
pub fn applications_of(
    conn: &Connection,
    applicant_iin: &str,
    candidates: &[ApplicationId],
) -> Result<Vec<Application>, StoreError> {
    let sql = format!(
        "SELECT {APPLICATION_COLUMNS} FROM applications \
         WHERE district_id = ?1 AND registration_number = ?2 AND applicant_iin = ?3"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let mut found = Vec::new();
    for id in candidates {
        let mut rows = statement.query(params![id.district.0, id.number.0, applicant_iin])?;
        if let Some(row) = rows.next()? {
            found.push(codec::application_from_row(row)?);
        }
    }
    found.sort_by_key(|a| {
        (
            std::cmp::Reverse(a.registered_at),
            a.id.district,
            a.id.number,
        )
    });
    found.truncate(APPLICATIONS_OF_PERSON_MAX);
    Ok(found)
}

/// Why a registration attempt was refused and recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The child had an active application already.
    AlreadyQueued,
    /// The person was past their quota of such refusals.
    Limited,
}

impl AttemptOutcome {
    pub fn code(self) -> &'static str {
        match self {
            AttemptOutcome::AlreadyQueued => "already_queued",
            AttemptOutcome::Limited => "limited",
        }
    }
}

/// One refused attempt: who (the provider's subject and IIN) tried to register whose child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    pub applicant_iin: String,
    pub subject: String,
    pub child_iin: String,
    pub outcome: String,
}

/// A connection that may write the attempts table beside the writer.
pub fn open_attempts_writer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

pub fn record_attempt(conn: &Connection, attempt: &Attempt) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO registration_attempts (at, applicant_iin, subject, child_iin, outcome) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            attempt.at.timestamp_micros(),
            attempt.applicant_iin,
            attempt.subject,
            attempt.child_iin,
            attempt.outcome
        ],
    )?;
    Ok(())
}

/// Every recorded attempt to register `child_iin`, oldest first.
pub fn attempts_for_child(conn: &Connection, child_iin: &str) -> Result<Vec<Attempt>, StoreError> {
    let mut statement = conn.prepare(
        "SELECT at, applicant_iin, subject, child_iin, outcome FROM registration_attempts \
         WHERE child_iin = ?1 ORDER BY at, id",
    )?;
    let mut rows = statement.query([child_iin])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        let micros: i64 = row.get(0)?;
        found.push(Attempt {
            at: DateTime::from_timestamp_micros(micros).ok_or_else(|| {
                StoreError::corrupt("registration_attempts", micros.to_string(), "at")
            })?,
            applicant_iin: row.get(1)?,
            subject: row.get(2)?,
            child_iin: row.get(3)?,
            outcome: row.get(4)?,
        });
    }
    Ok(found)
}

/// The applications (active or not) of the child `child_iin` that `district` holds: the
/// district whose officers may read who tried to register the child, and the applications
/// that reading is a view of. At most a handful: a child has one active application, and
/// ended ones are few.
pub fn child_applications_in(
    conn: &Connection,
    child_iin: &str,
    district: u32,
) -> Result<Vec<ApplicationId>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT registration_number FROM applications \
         INDEXED BY one_active_application_per_child WHERE child_iin = ?1 AND district_id = ?2 \
         ORDER BY registration_number LIMIT 100",
    )?;
    let mut rows = statement.query(params![child_iin, district])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push(ApplicationId {
            district: DistrictId(district),
            number: RegistrationNumber(row.get(0)?),
        });
    }
    Ok(found)
}

/// The live account bound to the provider's `subject`.
pub fn staff_by_subject(
    conn: &Connection,
    subject: &str,
) -> Result<Option<StaffAccount>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT name, role, district_id, kindergarten_id FROM staff_accounts \
         WHERE oidc_subject = ?1 AND revoked_at IS NULL",
    )?;
    let mut rows = statement.query([subject])?;
    match rows.next()? {
        None => Ok(None),
        Some(row) => account_from_row(row).map(Some),
    }
}

/// The live account named `name` while it is still bound to `subject`: a session opened
/// through the provider ends when the account is revoked or bound to another subject.
pub fn staff_bound(
    conn: &Connection,
    name: &str,
    subject: &str,
) -> Result<Option<StaffAccount>, StoreError> {
    Ok(staff_by_subject(conn, subject)?.filter(|account| account.name == name))
}

/// Binds the live account `name` to the provider's `subject` (replacing any earlier one);
/// false if there is no such live account.
pub fn bind_subject(conn: &Connection, name: &str, subject: &str) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE staff_accounts SET oidc_subject = ?1 WHERE name = ?2 AND revoked_at IS NULL",
        params![subject, name],
    )?;
    Ok(changed == 1)
}
