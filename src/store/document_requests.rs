//! The `document_requests` table (migration 0016): the documents staff asked a parent for,
//! projected from `document_requested` and answered by `document_received`.

use super::{Store, StoreError};
use crate::domain::application::ApplicationId;
use crate::domain::attachment::AttachmentKind;
use crate::domain::document_request::{DocumentRequest, RequestTimes};
use crate::domain::event::{Actor, Event, RecordedEvent};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use std::collections::HashMap;

/// A request as the pages and the API show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRow {
    pub request: DocumentRequest,
    pub requested_at: DateTime<Utc>,
    pub requested_by: Actor,
    /// When a file of its kind arrived, and which.
    pub received: Option<(DateTime<Utc>, u32)>,
}

impl RequestRow {
    pub fn times(&self) -> RequestTimes {
        RequestTimes {
            requested_at: self.requested_at,
            received_at: self.received.map(|(at, _)| at),
        }
    }
}

impl Store {
    /// The row of a `document_requested` event, or the answer of a `document_received`
    /// one, in the event's transaction; other events touch nothing here.
    pub(super) fn project_document_request(
        &self,
        recorded: &RecordedEvent,
        event: &Event,
    ) -> Result<(), StoreError> {
        match event {
            Event::DocumentRequested { id, request } => {
                let mut statement = self.conn.prepare_cached(
                    "INSERT INTO document_requests (district_id, registration_number, number, \
                     kind, reason, requested_at, requested_by, seq) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                statement.execute(params![
                    id.district.0,
                    id.number.0,
                    request.number,
                    request.kind.code(),
                    request.reason,
                    recorded.recorded_at.timestamp_micros(),
                    recorded.actor.0,
                    recorded.seq as i64,
                ])?;
            }
            Event::DocumentReceived {
                id,
                request,
                attachment,
            } => {
                let changed = self.conn.execute(
                    "UPDATE document_requests \
                     SET received_at = ?4, received_seq = ?5, received_ordinal = ?6 \
                     WHERE district_id = ?1 AND registration_number = ?2 AND number = ?3 \
                       AND received_at IS NULL",
                    params![
                        id.district.0,
                        id.number.0,
                        request,
                        recorded.recorded_at.timestamp_micros(),
                        recorded.seq as i64,
                        attachment,
                    ],
                )?;
                if changed != 1 {
                    return Err(StoreError::corrupt(
                        "document_requests",
                        format!("{}/{}/{request}", id.district.0, id.number.0),
                        "answered twice or never asked",
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The open requests of `id` (number, kind), in the writer's transaction.
    pub fn open_requests(
        &self,
        id: ApplicationId,
    ) -> Result<Vec<(u32, AttachmentKind)>, StoreError> {
        Ok(list(&self.conn, id)?
            .into_iter()
            .filter(|row| row.received.is_none())
            .map(|row| (row.request.number, row.request.kind))
            .collect())
    }

    /// The number the application's next request takes.
    pub fn next_request_number(&self, id: ApplicationId) -> Result<u32, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT coalesce(max(number), 0) + 1 FROM document_requests \
             WHERE district_id = ?1 AND registration_number = ?2",
        )?;
        Ok(statement.query_row(params![id.district.0, id.number.0], |row| row.get(0))?)
    }
}

const COLUMNS: &str = "district_id, registration_number, number, kind, reason, requested_at, \
                       requested_by, received_at, received_ordinal";

/// The requests of `id`, oldest first.
pub fn list(conn: &Connection, id: ApplicationId) -> Result<Vec<RequestRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM document_requests \
         WHERE district_id = ?1 AND registration_number = ?2 ORDER BY number"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(params![id.district.0, id.number.0])?;
    let mut list = Vec::new();
    while let Some(row) = rows.next()? {
        list.push(row_of(row)?.1);
    }
    Ok(list)
}

/// The requests of each of `ids` that has any (the work list's page).
pub fn of_applications(
    conn: &Connection,
    ids: &[ApplicationId],
) -> Result<HashMap<ApplicationId, Vec<RequestRow>>, StoreError> {
    let mut found: HashMap<ApplicationId, Vec<RequestRow>> = HashMap::new();
    for id in ids {
        let rows = list(conn, *id)?;
        if !rows.is_empty() {
            found.insert(*id, rows);
        }
    }
    Ok(found)
}

/// Every row, in key order: what `verify` compares with the journal's replay.
pub fn all(conn: &Connection) -> Result<Vec<(ApplicationId, RequestRow)>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM document_requests \
         ORDER BY district_id, registration_number, number"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query([])?;
    let mut list = Vec::new();
    while let Some(row) = rows.next()? {
        list.push(row_of(row)?);
    }
    Ok(list)
}

fn row_of(row: &rusqlite::Row<'_>) -> Result<(ApplicationId, RequestRow), StoreError> {
    let id = ApplicationId {
        district: crate::domain::catalog::DistrictId(row.get(0)?),
        number: crate::domain::application::RegistrationNumber(row.get(1)?),
    };
    let number: u32 = row.get(2)?;
    let key = format!("{}/{}/{number}", id.district.0, id.number.0);
    let corrupt = |why: &str| StoreError::corrupt("document_requests", &key, why);
    let time = |micros: i64, column: &str| {
        DateTime::from_timestamp_micros(micros).ok_or_else(|| corrupt(column))
    };
    let kind: String = row.get(3)?;
    let received_at: Option<i64> = row.get(7)?;
    let received_ordinal: Option<u32> = row.get(8)?;
    let received = match (received_at, received_ordinal) {
        (Some(at), Some(ordinal)) => Some((time(at, "received_at")?, ordinal)),
        (None, None) => None,
        _ => return Err(corrupt("received_ordinal")),
    };
    Ok((
        id,
        RequestRow {
            request: DocumentRequest {
                number,
                kind: AttachmentKind::parse(&kind).map_err(|_| corrupt("kind"))?,
                reason: row.get(4)?,
            },
            requested_at: time(row.get(5)?, "requested_at")?,
            requested_by: Actor(row.get(6)?),
            received,
        },
    ))
}
