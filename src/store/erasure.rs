//! Personal data's end (issue 16 §3): the personal parts of the journal's events
//! (`domain::personal`), their erasure with everything else that names the people of an
//! application, and the one-time rewrite of a journal written before the split.
//!
//! Erasure runs inside the `PersonalDataErased` event's transaction. `secure_delete` is on
//! for the writer's connection (store/mod.rs), so the deleted rows' bytes are overwritten in
//! the page, not just unlinked; the WAL keeps the old pages until the next checkpoint, which
//! is why the erasure test searches the files after one.

use super::StoreError;
use crate::domain::application::ApplicationId;
use crate::domain::event::{ChainChecker, Hash, RecordedEvent, GENESIS_HASH};
use crate::domain::iin::Iin;
use crate::domain::personal::{self, PersonalPart};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

pub(super) fn insert_part(
    conn: &Connection,
    seq: u64,
    part: &PersonalPart,
) -> Result<(), StoreError> {
    let mut statement = conn.prepare_cached(
        "INSERT INTO personal_data (seq, district_id, registration_number, salt, fields) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    statement.execute(params![
        seq as i64,
        part.owner.district.0,
        part.owner.number.0,
        &part.salt[..],
        part.fields
    ])?;
    Ok(())
}

/// Erases the personal data of `id`, an ended application: its events' personal parts, the
/// personal columns of its row (set to what the journal now replays: placeholders), its
/// messages, files and document requests, its referrals' revocation reasons, and the refused
/// registration attempts that name its child.
pub(super) fn erase(
    conn: &Connection,
    id: ApplicationId,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let key = params![id.district.0, id.number.0];
    let child: Option<String> = conn
        .query_row(
            "SELECT child_iin FROM applications WHERE district_id = ?1 AND registration_number = ?2",
            key,
            |row| row.get(0),
        )
        .optional()?;
    let Some(child) = child else {
        return Err(StoreError::corrupt(
            "applications",
            format!("{id:?}"),
            "erasure of an unknown application",
        ));
    };
    conn.execute(
        "DELETE FROM registration_attempts WHERE child_iin = ?1",
        [&child],
    )?;
    for table in [
        "personal_data",
        "outbox",
        "attachments",
        "document_requests",
    ] {
        conn.execute(
            &format!("DELETE FROM {table} WHERE district_id = ?1 AND registration_number = ?2"),
            key,
        )?;
    }
    // A revocation's reason, an officer's words about the family, replays as the empty
    // placeholder once its personal part is gone.
    conn.execute(
        "UPDATE referrals SET reason = '' WHERE application_district_id = ?1 \
         AND application_number = ?2 AND reason IS NOT NULL",
        key,
    )?;
    let changed = conn.execute(
        "UPDATE applications SET child_iin = ?3, child_full_name = '', applicant_iin = ?3, \
         applicant_full_name = '', applicant_phone = '', applicant_email = NULL, \
         applicant_address = '', priority_document = CASE WHEN priority_document IS NULL \
         THEN NULL ELSE '' END, erased_at = ?4 \
         WHERE district_id = ?1 AND registration_number = ?2 AND active = 0 \
         AND status <> 'enrolled'",
        params![
            id.district.0,
            id.number.0,
            Iin::ERASED_TEXT,
            at.timestamp_micros()
        ],
    )?;
    if changed != 1 {
        return Err(StoreError::corrupt(
            "applications",
            format!("{id:?}"),
            "erasure of an active application",
        ));
    }
    Ok(())
}

/// Whether `id`'s personal data was erased.
pub fn is_erased(conn: &Connection, id: ApplicationId) -> Result<bool, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT 1 FROM applications WHERE district_id = ?1 AND registration_number = ?2 \
         AND erased_at IS NOT NULL",
    )?;
    Ok(statement.exists(params![id.district.0, id.number.0])?)
}

/// SQL for the time of the last event of the application row aliased `a`:
/// `application_events` knows it without reading the journal. An application's retention
/// period runs from it.
pub(crate) const LAST_EVENT_AT: &str = "(SELECT max(e.recorded_at) FROM application_events h \
     JOIN events e ON e.seq = h.seq \
     WHERE h.district_id = a.district_id AND h.registration_number = a.registration_number)";

/// The ended applications whose retention period (their district's `retention_days`) is
/// over at `now` and whose data is still held, district by district, those ended earliest
/// first, at most `limit`.
pub fn erasure_due(
    conn: &Connection,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<ApplicationId>, StoreError> {
    let default = crate::domain::referral::RETENTION_DAYS_DEFAULT;
    let mut districts = conn.prepare_cached(
        "SELECT d.id, ?1 - coalesce(p.retention_days, ?2) * 86400000000 FROM districts d \
         LEFT JOIN district_policies p ON p.district_id = d.id ORDER BY d.id",
    )?;
    let cutoffs = districts
        .query_map(params![now.timestamp_micros(), default], |row| {
            Ok((row.get::<_, u32>(0)?, row.get::<_, i64>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    // An application's period runs from its last event, which is never earlier than its end
    // (`ended_at`): the index's range of those ended before the cutoff holds every one due,
    // and only those are checked against their history. Reading every ended application's
    // history each day took 1.6–1.7 s at a million applications (300,000 ended), on the
    // writer.
    let mut due = conn.prepare_cached(&format!(
        "SELECT a.registration_number FROM applications a \
         WHERE a.district_id = ?1 AND a.active = 0 AND a.status <> 'enrolled' \
         AND a.erased_at IS NULL AND a.ended_at <= ?2 AND {LAST_EVENT_AT} <= ?2 \
         ORDER BY a.ended_at, a.registration_number LIMIT ?3"
    ))?;
    let mut found = Vec::new();
    for (district, cutoff) in cutoffs {
        if found.len() >= limit {
            break;
        }
        let left = (limit - found.len()) as i64;
        let numbers = due.query_map(params![district, cutoff, left], |row| {
            Ok(ApplicationId {
                district: crate::domain::catalog::DistrictId(district),
                number: crate::domain::application::RegistrationNumber(row.get(0)?),
            })
        })?;
        for id in numbers {
            found.push(id?);
        }
    }
    Ok(found)
}

/// The `pending_rebuilds` marks a rewrite of the journal answers: migration 0019's (personal
/// data split from the chain) and 0021's (a revocation's reason made personal).
const REWRITE_MARKS: &str = "('personal_data', 'revocation_reasons')";

/// Rewrites a journal written before its personal data was split out (migration 0019), or
/// before a revocation's reason was part of it (0021), once (each migration leaves a
/// `pending_rebuilds` mark), in one transaction: every event whose personal fields are still
/// in its public form gets a fresh salt and a new hash, and so does every event after the
/// first of them, because each links to the one before. The old chain is checked first and
/// its head kept in `journal_rewrites`, with the anchor it was checked against.
pub(super) fn rewrite_journal(conn: &mut Connection, anchor_file: &Path) -> Result<(), StoreError> {
    let pending: i64 = conn.query_row(
        &format!("SELECT count(*) FROM pending_rebuilds WHERE name IN {REWRITE_MARKS}"),
        [],
        |row| row.get(0),
    )?;
    if pending == 0 {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let anchor = super::anchor::read(anchor_file)?.filter(|a| a.seq > 0);
    let mut checker = ChainChecker::default();
    let mut anchored = false;
    let (mut seq, mut hash) = (0u64, GENESIS_HASH);
    // In slices, so a journal of millions is never all in memory.
    loop {
        let slice = super::api::events_after(&tx, seq, 10_000)?;
        if slice.is_empty() {
            break;
        }
        for recorded in slice {
            checker
                .check(&recorded)
                .map_err(|e| StoreError::corrupt("events", recorded.seq, e))?;
            anchored |= anchor.is_some_and(|a| a.seq == recorded.seq && a.hash == recorded.hash);
            (seq, hash) = (recorded.seq, rewrite_one(&tx, &recorded, hash)?);
        }
    }
    if let Some(a) = anchor.filter(|_| !anchored) {
        return Err(StoreError::OffAnchor {
            db: anchor_file.to_path_buf(),
            seq: a.seq,
        });
    }
    let (old_seq, old_hash) = checker.head();
    if old_seq > 0 && old_hash != hash {
        tx.execute(
            "INSERT INTO journal_rewrites (old_seq, old_hash, new_hash, anchor_seq, anchor_hash, \
             rewritten_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                old_seq as i64,
                &old_hash[..],
                &hash[..],
                anchor.map(|a| a.seq as i64),
                anchor.map(|a| a.hash.to_vec()),
                Utc::now().timestamp_micros()
            ],
        )?;
        tracing::info!(
            events = old_seq,
            "journal rewritten: personal data split from the chain"
        );
    }
    tx.execute_batch(&format!(
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events \
         BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END; \
         CREATE TRIGGER events_no_delete BEFORE DELETE ON events \
         BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END; \
         DELETE FROM pending_rebuilds WHERE name IN {REWRITE_MARKS};"
    ))?;
    tx.commit()?;
    Ok(())
}

/// Rewrites one event of the old journal to link on `prev_hash`; returns its new hash.
/// An event whose public form already carries its commitment, or that names nobody, keeps
/// its bytes; only its link changes, and while no event before it changed, not even that.
fn rewrite_one(
    tx: &Connection,
    recorded: &RecordedEvent,
    prev_hash: Hash,
) -> Result<Hash, StoreError> {
    let mut payload = recorded.payload.clone();
    if personal::names_people(&recorded.kind) {
        let corrupt = |e: serde_json::Error| StoreError::corrupt("events", recorded.seq, e);
        let mut whole: serde_json::Value =
            serde_json::from_str(&recorded.payload).map_err(corrupt)?;
        if whole.get(personal::COMMITMENT_KEY).is_none() {
            if recorded.kind == "referral_lapsed" {
                name_revocations_owner(tx, &mut whole, recorded.seq)?;
            }
            let (public, part) =
                personal::split(&recorded.kind, whole, *uuid::Uuid::new_v4().as_bytes());
            if let Some(part) = part {
                payload = public.to_string();
                insert_part(tx, recorded.seq, &part)?;
            }
        }
    }
    if payload == recorded.payload && prev_hash == recorded.prev_hash {
        return Ok(recorded.hash);
    }
    let hash = crate::domain::event::chain_hash(
        &prev_hash,
        recorded.seq,
        recorded.recorded_at.timestamp_micros(),
        &recorded.actor.0,
        &recorded.kind,
        &payload,
    );
    tx.execute(
        "UPDATE events SET payload = ?2, prev_hash = ?3, hash = ?4 WHERE seq = ?1",
        params![recorded.seq as i64, payload, &prev_hash[..], &hash[..]],
    )?;
    Ok(hash)
}

/// A revocation journaled before lapses named their application gets it from the referral's
/// row, so that its reason can be split off as that application's personal data.
fn name_revocations_owner(
    tx: &Connection,
    lapse: &mut serde_json::Value,
    seq: u64,
) -> Result<(), StoreError> {
    let data = lapse
        .get_mut("data")
        .and_then(serde_json::Value::as_object_mut)
        .ok_or_else(|| StoreError::corrupt("events", seq, "a lapse without data"))?;
    let revoked = data.get("lapse").and_then(|l| l.get("reason")).is_some();
    if !revoked || data.contains_key("application") {
        return Ok(());
    }
    let referral: crate::domain::referral::ReferralId = data
        .get("id")
        .cloned()
        .and_then(|id| serde_json::from_value(id).ok())
        .ok_or_else(|| StoreError::corrupt("events", seq, "a lapse without its referral"))?;
    let owner = super::api::referral(tx, referral)?
        .ok_or_else(|| StoreError::corrupt("events", seq, "a lapse of an unknown referral"))?
        .application;
    data.insert(
        "application".to_string(),
        serde_json::to_value(owner).expect("an application id serializes"),
    );
    Ok(())
}

/// Whether `anchor` is the head the journal had before its rewrite (or the anchor checked
/// then): an anchor file the crash between the rewrite's commit and its next write left.
pub fn rewritten_from(conn: &Connection, seq: u64, hash: &Hash) -> Result<bool, StoreError> {
    let mut statement = conn.prepare(
        "SELECT 1 FROM journal_rewrites WHERE (old_seq = ?1 AND old_hash = ?2) \
         OR (anchor_seq = ?1 AND anchor_hash = ?2)",
    )?;
    Ok(statement.exists(params![seq as i64, &hash[..]])?)
}
