//! The `attachments` table: each attached file's bytes beside its journaled fingerprint
//! (migration 0015 says why the bytes live inside the database).

use super::{Store, StoreError};
use crate::domain::application::{ApplicationId, RegistrationNumber};
use crate::domain::attachment::{Accepted, AttachmentKind, AttachmentRecord, MediaType};
use crate::domain::catalog::DistrictId;
use crate::domain::event::{Actor, Event, RecordedEvent};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use sha2::{Digest, Sha256};

/// An attachment as listed: its record and who attached it when (never the bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentRow {
    pub record: AttachmentRecord,
    pub attached_at: DateTime<Utc>,
    pub attached_by: Actor,
}

/// How many files an application holds and their bytes in all: what the limits count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Held {
    pub count: u32,
    pub bytes: u64,
    /// The highest ordinal so far; the next file is this plus one.
    pub last_ordinal: u32,
}

impl Store {
    /// What `id` holds, inside the writer's transaction (earlier commands of the batch seen).
    pub fn attachments_held(&self, id: ApplicationId) -> Result<Held, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT count(*), coalesce(sum(size), 0), coalesce(max(ordinal), 0) \
             FROM attachments WHERE district_id = ?1 AND registration_number = ?2",
        )?;
        Ok(
            statement.query_row(params![id.district.0, id.number.0], |row| {
                Ok(Held {
                    count: row.get(0)?,
                    bytes: row.get::<_, i64>(1)? as u64,
                    last_ordinal: row.get(2)?,
                })
            })?,
        )
    }

    /// Whether `id` holds a file of `kind` (a category that needs its document attached).
    pub fn has_attachment(
        &self,
        id: ApplicationId,
        kind: AttachmentKind,
    ) -> Result<bool, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT 1 FROM attachments \
             WHERE district_id = ?1 AND registration_number = ?2 AND kind = ?3",
        )?;
        Ok(statement.exists(params![id.district.0, id.number.0, kind.code()])?)
    }

    /// The row of the `attachment_added` event `recorded`, with the bytes it fingerprints.
    /// Called by the writer right after the event, in its transaction.
    pub fn insert_attachment(
        &self,
        recorded: &RecordedEvent,
        id: ApplicationId,
        record: &AttachmentRecord,
        accepted: &Accepted,
    ) -> Result<(), StoreError> {
        debug_assert_eq!(record.sha256, hex::encode(accepted.sha256()));
        let mut statement = self.conn.prepare_cached(
            "INSERT INTO attachments (district_id, registration_number, ordinal, kind, \
             media_type, size, sha256, attached_at, attached_by, seq, bytes) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        statement.execute(params![
            id.district.0,
            id.number.0,
            record.ordinal,
            record.kind.code(),
            record.media_type.code(),
            record.size as i64,
            &accepted.sha256()[..],
            recorded.recorded_at.timestamp_micros(),
            recorded.actor.0,
            recorded.seq as i64,
            accepted.bytes,
        ])?;
        Ok(())
    }

    /// Removes every file of `id`, bytes and all: the personal-data lifecycle's erasure
    /// calls this in the transaction of its own event. `secure_delete` (set on the writer's
    /// connection) zeroes the freed pages, so the bytes do not linger in the file; copies
    /// in WAL frames go at the next checkpoint, a replica's older generations with its
    /// retention. Returns how many files were removed.
    pub fn erase_attachments(&self, id: ApplicationId) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM attachments WHERE district_id = ?1 AND registration_number = ?2",
            params![id.district.0, id.number.0],
        )?)
    }
}

/// A file sent for an application and refused because clamd matched a signature
/// (`Event::AttachmentInfected`): when, by whom, what; its bytes were never kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InfectedRow {
    pub at: DateTime<Utc>,
    pub by: Actor,
    pub signature: String,
    pub sha256: String,
    pub size: u64,
}

/// The files refused for malware sent for `id`, oldest first. The journal is their only
/// record; migration 0020's partial index holds just these events, so this reads them
/// alone (few) and keeps `id`'s.
pub fn infected_of(conn: &Connection, id: ApplicationId) -> Result<Vec<InfectedRow>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT seq, recorded_at, actor, payload FROM events \
         WHERE kind = 'attachment_infected' ORDER BY seq",
    )?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
        ))
    })?;
    let mut refused = Vec::new();
    for row in rows {
        let (seq, at, actor, payload) = row?;
        let corrupt = |why: &str| StoreError::corrupt("events", seq, why);
        let event = Event::from_payload(&payload).map_err(|_| corrupt("payload"))?;
        let Event::AttachmentInfected {
            id: Some(of),
            sha256,
            size,
            signature,
        } = event
        else {
            continue;
        };
        if of == id {
            refused.push(InfectedRow {
                at: DateTime::from_timestamp_micros(at).ok_or_else(|| corrupt("recorded_at"))?,
                by: Actor(actor),
                signature,
                sha256,
                size,
            });
        }
    }
    Ok(refused)
}

/// The files of `id`, in the order they were attached.
pub fn list(conn: &Connection, id: ApplicationId) -> Result<Vec<AttachmentRow>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT ordinal, kind, media_type, size, sha256, attached_at, attached_by \
         FROM attachments WHERE district_id = ?1 AND registration_number = ?2 ORDER BY ordinal",
    )?;
    let rows = statement.query_map(params![id.district.0, id.number.0], |row| {
        Ok((
            row.get::<_, u32>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, i64>(3)?,
            row.get::<_, Vec<u8>>(4)?,
            row.get::<_, i64>(5)?,
            row.get::<_, String>(6)?,
        ))
    })?;
    let mut list = Vec::new();
    for row in rows {
        let (ordinal, kind, media, size, sha256, at, by) = row?;
        let key = format!("{}/{}/{ordinal}", id.district.0, id.number.0);
        let corrupt = |why: &str| StoreError::corrupt("attachments", &key, why);
        list.push(AttachmentRow {
            record: AttachmentRecord {
                ordinal,
                kind: AttachmentKind::parse(&kind).map_err(|_| corrupt("kind"))?,
                media_type: MediaType::parse(&media).ok_or_else(|| corrupt("media_type"))?,
                size: size as u64,
                sha256: hex::encode(sha256),
            },
            attached_at: DateTime::from_timestamp_micros(at)
                .ok_or_else(|| corrupt("attached_at"))?,
            attached_by: Actor(by),
        });
    }
    Ok(list)
}

/// One file's type and bytes, or None if `id` has no such file.
pub fn bytes(
    conn: &Connection,
    id: ApplicationId,
    ordinal: u32,
) -> Result<Option<(MediaType, Vec<u8>)>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT media_type, bytes FROM attachments \
         WHERE district_id = ?1 AND registration_number = ?2 AND ordinal = ?3",
    )?;
    let mut rows = statement.query(params![id.district.0, id.number.0, ordinal])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let media: String = row.get(0)?;
    let media = MediaType::parse(&media).ok_or_else(|| {
        StoreError::corrupt("attachments", format!("{id:?}/{ordinal}"), "media_type")
    })?;
    Ok(Some((media, row.get(1)?)))
}

/// Every stored file's key, its recorded fingerprint and the SHA-256 of its bytes as they
/// are now, for `verify`; one row in memory at a time.
pub fn for_each_fingerprint<E: From<StoreError> + From<rusqlite::Error>>(
    conn: &Connection,
    mut each: impl FnMut(ApplicationId, AttachmentRecord, [u8; 32]) -> Result<(), E>,
) -> Result<(), E> {
    let mut statement = conn.prepare(
        "SELECT district_id, registration_number, ordinal, kind, media_type, size, sha256, \
         bytes FROM attachments ORDER BY district_id, registration_number, ordinal",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let id = ApplicationId {
            district: DistrictId(row.get(0)?),
            number: RegistrationNumber(row.get(1)?),
        };
        let ordinal: u32 = row.get(2)?;
        let key = format!("{}/{}/{ordinal}", id.district.0, id.number.0);
        let corrupt = |why: &str| StoreError::corrupt("attachments", &key, why);
        let kind: String = row.get(3)?;
        let media: String = row.get(4)?;
        let record = AttachmentRecord {
            ordinal,
            kind: AttachmentKind::parse(&kind).map_err(|_| corrupt("kind"))?,
            media_type: MediaType::parse(&media).ok_or_else(|| corrupt("media_type"))?,
            size: row.get::<_, i64>(5)? as u64,
            sha256: hex::encode(row.get::<_, Vec<u8>>(6)?),
        };
        let bytes = row.get_ref(7)?.as_blob().map_err(|_| corrupt("bytes"))?;
        each(id, record, Sha256::digest(bytes).into())?;
    }
    Ok(())
}
