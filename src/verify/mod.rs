//! `kezek verify`: proves that the database is what its journal says.
//!
//! It replays the event log from the first event into a fresh state, checking the hash
//! chain link by link, then compares the replay with every table row and with the waiting
//! list as start-up rebuilds it from the tables. It stops at the first difference and names
//! it: the event (by sequence number) or the row (by table and key) and the field. Values of
//! personal fields are never printed, only their names.

use crate::domain::application::{Application, ApplicationId, RegistrationNumber};
use crate::domain::catalog::{DistrictId, KindergartenId};
use crate::domain::event::Hash;
use crate::domain::event::{ChainChecker, ChainError, Event};
use crate::domain::family::FamilyId;
use crate::domain::intake::{self, RoundId};
use crate::domain::local_date;
use crate::domain::referral::Referral;
use crate::domain::referral::ReferralStatus;
use crate::domain::referral::{InterleaveCycle, PlaceId};
use crate::domain::replay::Replay;
use crate::domain::state::Effects;
use crate::domain::state::QueueState;
use crate::domain::waiting_list::WaitingList;
use crate::store::integrity::{self, Depth};
use crate::store::{self, anchor, migrate, Store, StoreError};
use rusqlite::Connection;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::Path;

mod personal;

#[derive(Debug, PartialEq, Eq)]
pub struct VerifyReport {
    pub events: u64,
    pub applications: usize,
    pub referrals: usize,
    pub waiting: usize,
    /// Entries of the staff access log, whose chain was checked too.
    pub staff_views: u64,
    /// Attached files, each one's bytes hashed and compared with its journaled SHA-256.
    pub attachments: usize,
    /// Applications whose personal data was erased, each proved gone (verify/personal.rs).
    pub erased: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Chain(#[from] ChainError),
    #[error("event {seq}: the payload cannot be decoded: {reason}")]
    Undecodable { seq: u64, reason: String },
    #[error("event {seq}: does not follow from the events before it: {reason}")]
    Replay { seq: u64, reason: String },
    #[error("table {table}, row {key}: {detail}")]
    Table {
        table: &'static str,
        key: String,
        detail: String,
    },
    #[error("waiting list rebuilt at start differs from the replay: {0}")]
    Index(String),
    #[error("the database is at schema version {found}, this binary expects {expected}")]
    Schema { found: usize, expected: usize },
    #[error(transparent)]
    AccessLog(#[from] crate::domain::access_log::BrokenLink),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for VerifyError {
    fn from(error: rusqlite::Error) -> VerifyError {
        VerifyError::Store(error.into())
    }
}

impl VerifyError {
    fn table(table: &'static str, key: impl ToString, detail: impl ToString) -> VerifyError {
        VerifyError::Table {
            table,
            key: key.to_string(),
            detail: detail.to_string(),
        }
    }
}

/// `verify_at` with SQLite's quick check (and the full check of the guarded tables) and
/// the anchor beside the database.
pub fn verify(path: &Path) -> Result<VerifyReport, VerifyError> {
    verify_at(path, Depth::Quick, &anchor::anchor_path(path))
}

/// SQLite's integrity at `depth` and the uniqueness rules on the rows first (a corrupted
/// index must not be trusted by what follows), then the replay, its own uniqueness rules,
/// the anchor (`anchor_file`), and the tables against the replay.
pub fn verify_at(
    path: &Path,
    depth: Depth,
    anchor_file: &Path,
) -> Result<VerifyReport, VerifyError> {
    if !path.exists() {
        return Err(StoreError::corrupt_file(path).into());
    }
    let conn = Store::open_reader(path)?;
    let found = migrate::schema_version(&conn)?;
    if found != migrate::MIGRATIONS.len() {
        return Err(VerifyError::Schema {
            found,
            expected: migrate::MIGRATIONS.len(),
        });
    }
    integrity::check(&conn, depth)?;
    let (replay, histories, (seq, hash)) = replay_journal(&conn)?;
    let events = seq;
    let staff_views = store::access_log::check_chain(&conn).map_err(|e| match e {
        store::access_log::LogError::Broken(link) => VerifyError::AccessLog(link),
        store::access_log::LogError::Store(e) => VerifyError::Store(e),
    })?;
    unique_in_replay(&replay)?;
    anchor::stand(&conn, path, anchor_file, anchor::Anchor { seq, hash })?;
    let applications = compare_applications(&conn, &replay)?;
    compare_histories(&conn, &replay, histories)?;
    compare_catalog(&conn, &replay)?;
    let referrals = compare_referrals(&conn, &replay)?;
    compare_places(&conn, &replay)?;
    let attachments = compare_attachments(&conn, &replay)?;
    compare_document_requests(&conn, &replay)?;
    let erased = personal::check_erasures(&conn, &replay)?;
    let rebuilt = store::load_state(&conn)?;
    // The whole state's invariants first (they include the waiting list's), then entries.
    let today = replay
        .last_recorded_at
        .map_or(chrono::NaiveDate::MIN, crate::domain::local_date);
    compare_live_state(&rebuilt, &replay.state, today).map_err(VerifyError::Index)?;
    compare_waiting_lists(&rebuilt.waiting, &replay.state.waiting).map_err(VerifyError::Index)?;
    compare_reports(&conn, &replay, seq)?;
    Ok(VerifyReport {
        events,
        applications,
        referrals,
        waiting: rebuilt.waiting.len(),
        staff_views,
        attachments,
        erased,
    })
}

/// Every stored file is the one its `attachment_added` event fingerprinted (its SHA-256
/// recomputed from the bytes), and every such event has its file: a file without its
/// event, or an event without its file, is an error. (Erasure, when it comes, will be an
/// event of its own that removes the journal's expectation with the row.)
fn compare_attachments(conn: &Connection, replay: &Replay) -> Result<usize, VerifyError> {
    let mut stored = 0;
    store::attachments::for_each_fingerprint(conn, |id, record, actual| {
        let key = format!("{}/{}/{}", id.district.0, id.number.0, record.ordinal);
        let journal = replay.attachments.get(&(id, record.ordinal));
        let problem = match journal {
            None => Some("a file without its attachment_added event"),
            Some(journal) if *journal != record => Some("differs from the journal"),
            Some(_) if hex::encode(actual) != record.sha256 => {
                Some("the bytes do not match the SHA-256 the journal recorded")
            }
            Some(_) => None,
        };
        if let Some(problem) = problem {
            return Err(VerifyError::table("attachments", key, problem));
        }
        stored += 1;
        Ok(())
    })?;
    if stored != replay.attachments.len() {
        let detail = format!(
            "{stored} files, the journal attached {}: an attachment_added event without its file",
            replay.attachments.len()
        );
        return Err(VerifyError::table("attachments", "*", detail));
    }
    Ok(stored)
}

/// The `document_requests` rows are the journal's requests, asked and answered as it
/// says: a row the journal does not know, or a request the table lacks, is an error.
fn compare_document_requests(conn: &Connection, replay: &Replay) -> Result<(), VerifyError> {
    let rows = store::document_requests::all(conn)?;
    for (id, row) in &rows {
        let key = format!("{}/{}/{}", id.district.0, id.number.0, row.request.number);
        let problem = match replay.document_requests.get(&(*id, row.request.number)) {
            None => Some("a request without its document_requested event"),
            Some(journal) if journal.request != row.request => Some("differs from the journal"),
            Some(journal) if journal.requested_at != row.requested_at => Some("requested_at"),
            Some(journal) if journal.requested_by != row.requested_by.0 => Some("requested_by"),
            Some(journal) if journal.received != row.received.map(|(at, n)| (n, at)) => {
                Some("received differs from the document_received event")
            }
            Some(_) => None,
        };
        if let Some(problem) = problem {
            return Err(VerifyError::table("document_requests", key, problem));
        }
    }
    if rows.len() != replay.document_requests.len() {
        let detail = format!(
            "{} rows, the journal asked for {} documents",
            rows.len(),
            replay.document_requests.len()
        );
        return Err(VerifyError::table("document_requests", "*", detail));
    }
    Ok(())
}

fn replay_journal(conn: &Connection) -> Result<(Replay, Histories, (u64, Hash)), VerifyError> {
    let mut checker = ChainChecker::default();
    let mut replay = Replay::default();
    let mut histories = Histories::default();
    let mut round = RoundCheck::default();
    let mut failure = None;
    store::for_each_event(conn, |recorded| {
        let mut step = || -> Result<(), VerifyError> {
            checker.check(&recorded)?;
            let seq = recorded.seq;
            let event = recorded.event().map_err(|e| VerifyError::Undecodable {
                seq,
                reason: e.to_string(),
            })?;
            if event.kind() != recorded.kind {
                let reason = format!(
                    "kind column says {}, payload is {}",
                    recorded.kind,
                    event.kind()
                );
                return Err(VerifyError::Undecodable { seq, reason });
            }
            round
                .check(&replay.state, &event)
                .map_err(|reason| VerifyError::Replay { seq, reason })?;
            let effects =
                replay
                    .apply(&event, recorded.recorded_at)
                    .map_err(|e| VerifyError::Replay {
                        seq,
                        reason: e.to_string(),
                    })?;
            histories.add(seq, &effects);
            replay
                .state
                .reports
                .credit(&recorded.actor.0, &event, recorded.recorded_at);
            // Who asked is the event's actor, which the replay is not given.
            if let Event::DocumentRequested { id, request } = &event {
                if let Some(asked) = replay.document_requests.get_mut(&(*id, request.number)) {
                    asked.requested_by = recorded.actor.0.clone();
                }
            }
            Ok(())
        };
        failure = step().err();
        Ok(failure.is_none())
    })?;
    match failure {
        Some(error) => Err(error),
        None => {
            let (seq, _) = checker.head();
            round
                .finished()
                .map_err(|reason| VerifyError::Replay { seq, reason })?;
            Ok((replay, histories, checker.head()))
        }
    }
}

/// What a round's close must be followed by: the records it computes, in order.
#[derive(Debug, PartialEq)]
enum RoundRecord {
    Pass(FamilyId, PlaceId),
    Referral {
        application: ApplicationId,
        place: PlaceId,
        kindergarten: KindergartenId,
        transfer: bool,
        cycle: Option<InterleaveCycle>,
        round: Option<RoundId>,
    },
}

/// Recomputes each intake round from the journal at its close (the state just before it,
/// the close's time) and checks that the events after the close are exactly the passes and
/// referrals of that allocation: a referral given to another child, or to another place, is
/// a round the journal does not explain.
#[derive(Default)]
struct RoundCheck {
    round: Option<RoundId>,
    expected: std::collections::VecDeque<RoundRecord>,
}

impl RoundCheck {
    fn check(&mut self, state: &QueueState, event: &Event) -> Result<(), String> {
        if let Some(want) = self.expected.pop_front() {
            let found = match event {
                Event::FamilyPassedOver { family, place } => {
                    Some(RoundRecord::Pass(*family, *place))
                }
                Event::ReferralIssued { referral, cycle } => Some(RoundRecord::Referral {
                    application: referral.application,
                    place: referral.place,
                    kindergarten: referral.kindergarten,
                    transfer: referral.transfer,
                    cycle: *cycle,
                    round: referral.round,
                }),
                _ => None,
            };
            if found.as_ref() != Some(&want) {
                return Err(format!(
                    "intake round {}: the allocation recomputed from the journal has {want:?} here, the journal has {}",
                    self.round.map_or(0, |r| r.0),
                    found.map_or_else(|| event.kind().to_string(), |f| format!("{f:?}"))
                ));
            }
            return Ok(());
        }
        let (round, at) = match event {
            Event::IntakeRoundClosed { round, at } => (round, at),
            Event::ReferralIssued { referral, .. } if referral.round.is_some() => {
                return Err(format!(
                    "referral {}/{} names an intake round but no round's close issued it",
                    referral.id.district.0, referral.id.number.0
                ));
            }
            _ => return Ok(()),
        };
        // An unknown round is the replay's to refuse.
        let Some(open) = state.rounds.get(round) else {
            return Ok(());
        };
        let places = state.places_of_round(*round);
        let outcome = intake::allocate(&state.intake_input(open, &places, local_date(*at)));
        self.round = Some(*round);
        self.expected = outcome
            .passes
            .iter()
            .map(|(family, place)| RoundRecord::Pass(*family, *place))
            .chain(outcome.placements.iter().map(|p| RoundRecord::Referral {
                application: p.child,
                place: p.place,
                kindergarten: p.kindergarten,
                transfer: p.transfer,
                cycle: p.cycle,
                round: Some(*round),
            }))
            .collect();
        Ok(())
    }

    fn finished(&self) -> Result<(), String> {
        match self.expected.front() {
            None => Ok(()),
            Some(want) => Err(format!(
                "intake round {}: the journal ends before the round's {want:?}",
                self.round.map_or(0, |r| r.0)
            )),
        }
    }
}

/// The domain's uniqueness rules on the replay itself: one active application per child,
/// one live referral per place and per application, numbers 1, 2, 3, … per district.
fn unique_in_replay(replay: &Replay) -> Result<(), VerifyError> {
    let mut children = std::collections::HashSet::new();
    let mut numbers = std::collections::HashMap::new();
    for (id, application) in &replay.applications {
        let key = format!("{}/{}", id.district.0, id.number.0);
        if application.status.is_active() && !children.insert(application.child.iin) {
            let detail = "field child_iin: a second active application of the same child";
            return Err(VerifyError::table("applications", key, detail));
        }
        gapless(
            &mut numbers,
            id.district.0,
            id.number.0,
            "applications",
            &key,
        )?;
    }
    let mut places = std::collections::HashSet::new();
    let mut holders = std::collections::HashSet::new();
    let mut numbers = std::collections::HashMap::new();
    for (id, referral) in &replay.referrals {
        let key = format!("{}/{}", id.district.0, id.number.0);
        if referral.status == ReferralStatus::Issued {
            if !places.insert(referral.place) {
                let detail = "field place_id: a second live referral for the same place";
                return Err(VerifyError::table("referrals", key, detail));
            }
            if !holders.insert(referral.application) {
                let detail = "field application_number: a second live referral for it";
                return Err(VerifyError::table("referrals", key, detail));
            }
        }
        gapless(&mut numbers, id.district.0, id.number.0, "referrals", &key)?;
    }
    Ok(())
}

/// Numbers arrive in key order: each district's must be the last one plus one.
fn gapless(
    last: &mut std::collections::HashMap<u32, u32>,
    district: u32,
    number: u32,
    table: &'static str,
    key: &str,
) -> Result<(), VerifyError> {
    let previous = last.insert(district, number).unwrap_or(0);
    if number != previous + 1 {
        let detail = format!("field number: follows {previous}, not the next number");
        return Err(VerifyError::table(table, key, detail));
    }
    Ok(())
}

/// The rows the history tables must hold, as a running digest and count per table: the
/// tables are long and the check only needs to know whether they match.
#[derive(Default)]
struct Histories {
    touched: Sha256,
    touched_rows: u64,
    moves: Sha256,
    moves_rows: u64,
}

impl Histories {
    fn add(&mut self, seq: u64, effects: &Effects) {
        let mut touched = effects.touched.clone();
        touched.sort();
        for id in touched {
            touched_row(&mut self.touched, id.district.0, id.number.0, seq);
            self.touched_rows += 1;
        }
        for m in &effects.moves {
            let row = (
                seq,
                m.id.district.0,
                m.cohort,
                m.order_key,
                m.id.number.0,
                m.delta,
                m.at.timestamp_micros(),
            );
            move_row(&mut self.moves, row);
            self.moves_rows += 1;
        }
    }
}

fn touched_row(hasher: &mut Sha256, district: u32, number: u32, seq: u64) {
    hasher.update(district.to_be_bytes());
    hasher.update(number.to_be_bytes());
    hasher.update(seq.to_be_bytes());
}

type MoveFields = (u64, u32, i32, i64, u32, i8, i64);

fn move_row(hasher: &mut Sha256, (seq, district, cohort, key, number, delta, at): MoveFields) {
    hasher.update(seq.to_be_bytes());
    hasher.update(district.to_be_bytes());
    hasher.update(cohort.to_be_bytes());
    hasher.update(key.to_be_bytes());
    hasher.update(number.to_be_bytes());
    hasher.update(delta.to_be_bytes());
    hasher.update(at.to_be_bytes());
}

/// The history tables against the replay, and each application's access code and survey.
fn compare_histories(
    conn: &Connection,
    replay: &Replay,
    expected: Histories,
) -> Result<(), VerifyError> {
    let mut touched = Sha256::new();
    let mut rows = 0u64;
    let mut statement = conn.prepare(
        "SELECT district_id, registration_number, seq FROM application_events \
         ORDER BY seq, district_id, registration_number",
    )?;
    let mut cursor = statement.query([])?;
    while let Some(row) = cursor.next()? {
        let seq: i64 = row.get(2)?;
        touched_row(&mut touched, row.get(0)?, row.get(1)?, seq as u64);
        rows += 1;
    }
    if rows != expected.touched_rows || touched.finalize() != expected.touched.finalize() {
        return Err(VerifyError::table(
            "application_events",
            "*",
            format!(
                "{rows} rows differ from the {} the journal implies",
                expected.touched_rows
            ),
        ));
    }
    let mut moves = Sha256::new();
    let mut rows = 0u64;
    let mut statement = conn.prepare(
        "SELECT seq, district_id, cohort, order_key, registration_number, delta, at \
         FROM queue_moves ORDER BY seq, rowid",
    )?;
    let mut cursor = statement.query([])?;
    while let Some(row) = cursor.next()? {
        let seq: i64 = row.get(0)?;
        let fields = (
            seq as u64,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
            row.get(5)?,
            row.get(6)?,
        );
        move_row(&mut moves, fields);
        rows += 1;
    }
    if rows != expected.moves_rows || moves.finalize() != expected.moves.finalize() {
        return Err(VerifyError::table(
            "queue_moves",
            "*",
            format!(
                "{rows} rows differ from the {} the journal implies",
                expected.moves_rows
            ),
        ));
    }
    let mut statement = conn.prepare(
        "SELECT district_id, registration_number, access_code_hash FROM applications \
         ORDER BY district_id, registration_number",
    )?;
    let mut cursor = statement.query([])?;
    while let Some(row) = cursor.next()? {
        let id = ApplicationId {
            district: DistrictId(row.get(0)?),
            number: RegistrationNumber(row.get(1)?),
        };
        let stored: Option<String> = row.get(2)?;
        if stored.as_ref() != replay.access_codes.get(&id) {
            return Err(VerifyError::table(
                "applications",
                format!("{}/{}", id.district.0, id.number.0),
                "field access_code_hash differs from the journal",
            ));
        }
    }
    let surveys: i64 = conn.query_row("SELECT count(*) FROM surveys", [], |r| r.get(0))?;
    if surveys as usize != replay.surveys.len() {
        return Err(VerifyError::table(
            "surveys",
            "*",
            format!("{surveys} rows, the journal has {}", replay.surveys.len()),
        ));
    }
    Ok(())
}

/// Walks a table's rows and the journal's records together, both in key order, and names
/// the first difference: a row the journal lacks, a record the table lacks, or the field that
/// differs (by name; values may be personal data). Returns the number of rows.
fn walk_together<'a, T: Serialize + PartialEq + 'a>(
    table: &'static str,
    mut journal: impl Iterator<Item = &'a T>,
    key_of: impl Fn(&T) -> String,
    for_each_row: impl FnOnce(&mut dyn FnMut(T) -> Result<(), StoreError>) -> Result<(), StoreError>,
) -> Result<usize, VerifyError> {
    let mut count = 0;
    let mut failure = None;
    for_each_row(&mut |row: T| {
        count += 1;
        if failure.is_some() {
            return Ok(());
        }
        let key = key_of(&row);
        failure = match journal.next() {
            Some(record) if record == &row => None,
            Some(record) if key_of(record) == key => {
                let left = serde_json::to_value(record).expect("records serialize");
                let right = serde_json::to_value(&row).expect("rows serialize");
                let field = differing_path(&left, &right, String::new()).unwrap_or_default();
                Some(VerifyError::table(
                    table,
                    &key,
                    format!("field {field} differs from the journal"),
                ))
            }
            Some(record) => Some(VerifyError::table(
                table,
                &key,
                format!("the journal's next record is {}", key_of(record)),
            )),
            None => Some(VerifyError::table(table, &key, "not in the journal")),
        };
        Ok(())
    })?;
    if let Some(error) = failure {
        return Err(error);
    }
    if let Some(missing) = journal.next() {
        return Err(VerifyError::table(
            table,
            key_of(missing),
            "in the journal but missing",
        ));
    }
    Ok(count)
}

fn compare_applications(conn: &Connection, replay: &Replay) -> Result<usize, VerifyError> {
    walk_together(
        "applications",
        replay.applications.values(),
        |a: &Application| format!("{}/{}", a.id.district.0, a.id.number.0),
        |visit| store::for_each_application(conn, visit),
    )
}

fn compare_referrals(conn: &Connection, replay: &Replay) -> Result<usize, VerifyError> {
    walk_together(
        "referrals",
        replay.referrals.values(),
        |r: &Referral| format!("{}/{}", r.id.district.0, r.id.number.0),
        |visit| store::for_each_referral(conn, "", visit),
    )
}

fn differing_path(a: &serde_json::Value, b: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value::Object;
    match (a, b) {
        (Object(left), Object(right)) => {
            let mut keys: Vec<&String> = left.keys().chain(right.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|key| {
                let null = serde_json::Value::Null;
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                differing_path(
                    left.get(key).unwrap_or(&null),
                    right.get(key).unwrap_or(&null),
                    child,
                )
            })
        }
        _ if a == b => None,
        _ => Some(if path.is_empty() {
            "(whole row)".into()
        } else {
            path
        }),
    }
}

/// Every row of a catalog table equals the journal's, and there are as many.
fn same_rows<K: Ord, V: PartialEq>(
    table: &'static str,
    rows: &std::collections::BTreeMap<K, V>,
    journal: &std::collections::BTreeMap<K, V>,
    key: impl Fn(&K) -> u32,
) -> Result<(), VerifyError> {
    if let Some((id, _)) = rows.iter().find(|(id, row)| journal.get(id) != Some(row)) {
        return Err(VerifyError::table(
            table,
            key(id),
            "differs from the journal",
        ));
    }
    if rows.len() != journal.len() {
        let detail = format!("{} rows, the journal created {}", rows.len(), journal.len());
        return Err(VerifyError::table(table, "*", detail));
    }
    Ok(())
}

/// The categories and staff accounts the journal set equal their rows. (The shipped
/// categories come from the first migration and the first administrator from the command
/// line; neither is in the journal until an administrator changes it.)
fn compare_journaled_settings(
    conn: &Connection,
    replay: &Replay,
    tables: &crate::domain::catalog::Catalog,
) -> Result<(), VerifyError> {
    for (code, category) in &replay.state.catalog.categories {
        if tables.categories.get(code) != Some(category) {
            return Err(VerifyError::table(
                "priority_categories",
                code.as_str(),
                "differs from the journal",
            ));
        }
    }
    let accounts = store::staff::list(conn)?;
    for (name, (grant, revoked)) in &replay.staff {
        let row = accounts.iter().find(|(a, _)| &a.name == name);
        let same = row.is_some_and(|(account, row_revoked)| {
            row_revoked == revoked
                && grant.is_none_or(|(role, scope)| account.role == role && account.scope == scope)
        });
        if !same {
            return Err(VerifyError::table(
                "staff_accounts",
                name.as_str(),
                "differs from the journal",
            ));
        }
    }
    Ok(())
}

fn compare_catalog(conn: &Connection, replay: &Replay) -> Result<(), VerifyError> {
    let tables = store::load_catalog(conn)?;
    compare_journaled_settings(conn, replay, &tables)?;
    let journal = &replay.state.catalog;
    same_rows("districts", &tables.districts, &journal.districts, |id| {
        id.0
    })?;
    same_rows(
        "kindergartens",
        &tables.kindergartens,
        &journal.kindergartens,
        |id| id.0,
    )?;
    same_rows("groups", &tables.groups, &journal.groups, |id| id.0)?;
    same_rows(
        "district_policies",
        &tables.policies,
        &journal.policies,
        |id| id.0,
    )?;
    same_rows(
        "education_heads",
        &tables.education_heads,
        &journal.education_heads,
        |id| id.0,
    )?;
    Ok(())
}

/// Compares entry by entry, then every position, so that the incremental path (the live
/// service applying events one by one) and the bulk rebuild are shown to agree.
/// Both lists' invariants are checked by `compare_live_state`, which runs first.
fn compare_waiting_lists(rebuilt: &WaitingList, replayed: &WaitingList) -> Result<(), String> {
    if rebuilt.len() != replayed.len() {
        return Err(format!(
            "{} entries rebuilt, {} replayed",
            rebuilt.len(),
            replayed.len()
        ));
    }
    for (district, waiting) in rebuilt.iter() {
        let id = crate::domain::application::ApplicationId {
            district,
            number: waiting.key.number,
        };
        let name = format!("application {}/{}", district.0, waiting.key.number.0);
        if replayed.get(id) != Some(waiting) {
            return Err(format!("{name}: entry differs"));
        }
        if rebuilt.position(id) != replayed.position(id) {
            return Err(format!("{name}: position differs"));
        }
    }
    Ok(())
}

fn compare_places(conn: &Connection, replay: &Replay) -> Result<(), VerifyError> {
    let all = store::place_rows(conn, "")?;
    let unfilled = store::place_rows(conn, "WHERE filled = 0")?;
    let withdrawn: std::collections::BTreeSet<_> = store::place_rows(conn, "WHERE withdrawn = 1")?
        .into_iter()
        .map(|p| p.id)
        .collect();
    if withdrawn != replay.withdrawn {
        return Err(VerifyError::table(
            "places",
            "withdrawn",
            "the withdrawn places differ from the journal",
        ));
    }
    if all.len() != replay.places.len() {
        let detail = format!(
            "{} rows, the journal reported {}",
            all.len(),
            replay.places.len()
        );
        return Err(VerifyError::table("places", "*", detail));
    }
    for place in &all {
        let filled = !unfilled.iter().any(|p| p.id == place.id);
        match replay.places.get(&place.id) {
            Some((journal, journal_filled)) if journal == place && *journal_filled == filled => {}
            _ => {
                return Err(VerifyError::table(
                    "places",
                    place.id.0,
                    "differs from the journal",
                ))
            }
        }
    }
    Ok(())
}

/// Live referrals, the stop list, deadlines, open places and the 1 : 3 cycles.
fn compare_live_state(
    rebuilt: &QueueState,
    replayed: &QueueState,
    today: chrono::NaiveDate,
) -> Result<(), String> {
    rebuilt
        .check_invariants(today)
        .map_err(|e| format!("rebuilt: {e}"))?;
    replayed
        .check_invariants(today)
        .map_err(|e| format!("replayed: {e}"))?;
    if rebuilt.live != replayed.live {
        return Err("live referrals differ".into());
    }
    if rebuilt.counters != replayed.counters || rebuilt.last_place_id != replayed.last_place_id {
        return Err("the journal counters (registrations, referrals, places) differ".into());
    }
    if rebuilt.families != replayed.families || rebuilt.family_of != replayed.family_of {
        return Err("the families differ".into());
    }
    if rebuilt.enrolled != replayed.enrolled {
        return Err("the places enrolled children hold differ".into());
    }
    if rebuilt.transfers != replayed.transfers || rebuilt.transfer_of != replayed.transfer_of {
        return Err("the transfer queues differ".into());
    }
    if rebuilt.held != replayed.held {
        return Err("the stop list differs".into());
    }
    if rebuilt.access != replayed.access {
        return Err("the access codes held in memory differ".into());
    }
    if rebuilt.applicants != replayed.applicants {
        return Err("the applicants' lists held in memory differ".into());
    }
    if rebuilt.deadlines != replayed.deadlines {
        return Err("pending deadlines differ".into());
    }
    if rebuilt.open_places != replayed.open_places || rebuilt.places != replayed.places {
        return Err("open places differ".into());
    }
    if rebuilt.rounds != replayed.rounds
        || rebuilt.round_places != replayed.round_places
        || rebuilt.last_round != replayed.last_round
        || rebuilt.closed_rounds != replayed.closed_rounds
    {
        return Err("the intake rounds or the places they collected differ".into());
    }
    for district in replayed.catalog.districts.keys() {
        if rebuilt.cycle(*district) != replayed.cycle(*district) {
            return Err(format!(
                "the 1 : 3 cycle of district {} differs",
                district.0
            ));
        }
    }
    if rebuilt.catalog.policies != replayed.catalog.policies
        || rebuilt.catalog.calendar != replayed.catalog.calendar
    {
        return Err("policies or the calendar differ".into());
    }
    Ok(())
}

/// The reports' aggregates (issue 17): those saved at the last clean close, if the journal
/// still ends where they were saved (a sealed start reads them), equal the replay's; and
/// the waiting counts by district, birth year and tier equal the applications' rows.
fn compare_reports(
    conn: &rusqlite::Connection,
    replay: &Replay,
    head: u64,
) -> Result<(), VerifyError> {
    let kept = &replay.state.reports;
    if let Some(saved) = store::report_aggregates::saved_reports(conn, head)? {
        if saved != *kept {
            return Err(VerifyError::table(
                "report_aggregates",
                "reports",
                "the reports saved at the last clean close differ from the replay's",
            ));
        }
    }
    let counted = store::waiting_counts(conn)?;
    if counted != kept.queue {
        return Err(VerifyError::table(
            "applications",
            "reports",
            format!(
                "{} waiting by district, birth year and tier in the rows, {} in the reports",
                counted.values().sum::<u32>(),
                kept.queue.values().sum::<u32>()
            ),
        ));
    }
    Ok(())
}
