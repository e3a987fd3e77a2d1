//! The read side: loading the catalog, rebuilding the waiting list at start, and streaming
//! the journal and the applications for `verify`.

use super::codec::{self, APPLICATION_COLUMNS, REFERRAL_COLUMNS};
use super::{Store, StoreError};
use crate::domain::application::{
    Application, ApplicationId, ApplicationStatus, QueueKey, RegistrationNumber,
};
use crate::domain::calendar::YearCalendar;
use crate::domain::catalog::{
    AgeBand, Catalog, District, DistrictId, Group, GroupId, Kindergarten, KindergartenId, Language,
    Names, PriorityCategory, Tier,
};
use crate::domain::event::{Actor, ChainChecker, ChainError, Hash, RecordedEvent};
use crate::domain::family::{Family, FamilyId};
use crate::domain::iin::Iin;
use crate::domain::intake::{IntakeRound, RoundId};
use crate::domain::personal::PersonalPart;
use crate::domain::referral::{DistrictPolicy, FreePlace, InterleaveCycle, PlaceId, Referral};
use crate::domain::reports::Reports;
use crate::domain::state::QueueState;
use crate::domain::state::{Counters, Deadline, LiveReferral};
use crate::domain::transfer::TransferRequest;
use crate::domain::waiting_list::{CompactChoices, Waiting, WaitingList};
use rusqlite::{Connection, OptionalExtension};
use std::collections::HashMap;
use std::path::Path;

/// What start-up rebuilds from the database.
pub struct LoadedState {
    pub state: QueueState,
    /// The journal's last sequence number and hash, checked link by link.
    pub head: (u64, Hash),
    /// What the start checked of the file besides the chain.
    pub checks: Checks,
}

/// What a start checked of the database file (integrity.rs, seal.rs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checks {
    /// SQLite's checks and the uniqueness rules on the rows.
    Sqlite,
    /// The files were as the last clean close sealed them: the rules on the rows only.
    RowsOnly,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the event log is broken: {0}")]
    Chain(#[from] ChainError),
}

impl Store {
    /// Rebuilds the in-memory state from the tables and checks the whole hash chain and the
    /// database's integrity (integrity.rs). The checks run on connections and threads of
    /// their own, beside the index build; an integrity failure is reported first, since it
    /// may be what made the rest fail.
    pub fn load(&self) -> Result<LoadedState, LoadError> {
        let path = self.path.clone();
        let chain = std::thread::spawn(move || check_chain_at(&path));
        let path = self.path.clone();
        let checks = self.checks;
        // After a crash the saved aggregates are never used (the seal that vouches for them
        // is gone), so their replay of the journal starts now on a thread of its own, beside
        // the checks and the index build, rather than after them.
        let replay = (checks == Checks::Sqlite).then(|| {
            let path = self.path.clone();
            std::thread::spawn(move || load_reports(&Store::open_reader(&path)?))
        });
        let integrity = std::thread::spawn(move || {
            let conn = Store::open_reader(&path)?;
            match checks {
                Checks::RowsOnly => super::integrity::unique_rules(&conn),
                Checks::Sqlite => super::integrity::check(&conn, super::integrity::Depth::Quick),
            }
        });
        let state = load_state(&self.conn);
        integrity
            .join()
            .expect("the integrity check thread does not panic")?;
        let head = chain
            .join()
            .expect("the chain check thread does not panic")?;
        let mut state = state?;
        // Saved at the last clean close: valid only if the files are as sealed then and the
        // journal ends where they were saved; otherwise the journal is replayed for them.
        let saved = match checks {
            Checks::RowsOnly => super::report_aggregates::saved_reports(&self.conn, head.0)?,
            Checks::Sqlite => None,
        };
        state.reports = match (saved, replay) {
            (Some(reports), _) => reports,
            (None, Some(replay)) => replay
                .join()
                .expect("the reports' replay thread does not panic")?,
            (None, None) => load_reports(&self.conn)?,
        };
        if let Some(seal) = &self.seal {
            seal.armed.set(true);
        }
        match checks {
            Checks::RowsOnly => tracing::info!(
                "the database is as its last clean close sealed it: SQLite's checks skipped"
            ),
            Checks::Sqlite => tracing::info!("SQLite's checks of the database passed"),
        }
        Ok(LoadedState {
            state,
            head,
            checks,
        })
    }
}

/// Everything the live state holds, from the tables.
pub fn load_state(conn: &Connection) -> Result<QueueState, StoreError> {
    let mut state = QueueState {
        catalog: load_catalog(conn)?,
        waiting: load_waiting_list(conn)?,
        ..QueueState::default()
    };
    let mut statement = conn.prepare(
        "SELECT district_id, registration_number, held_until FROM applications \
         WHERE status = 'queued' AND held_until IS NOT NULL",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let id = ApplicationId {
            district: DistrictId(row.get(0)?),
            number: RegistrationNumber(row.get(1)?),
        };
        let until = codec::micros_to_time(row.get(2)?).map_err(|e| {
            StoreError::corrupt(
                "applications",
                format!("{}/{}", id.district.0, id.number.0),
                e,
            )
        })?;
        state.held.insert(id, until);
        state.deadlines.insert((until, Deadline::StopListEnds(id)));
    }
    load_places_and_referrals(conn, &mut state)?;
    load_rounds(conn, &mut state)?;
    load_counters(conn, &mut state)?;
    load_access_codes_and_applicants(conn, &mut state)?;
    load_families(conn, &mut state)?;
    load_enrolled(conn, &mut state)?;
    load_transfers(conn, &mut state)?;
    load_cycles(conn, &mut state)?;
    Ok(state)
}

/// Each district's 1 : 3 cycle where it has turned.
fn load_cycles(conn: &Connection, state: &mut QueueState) -> Result<(), StoreError> {
    let mut statement = conn.prepare("SELECT id, interleave_cycle FROM districts")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let cycle = InterleaveCycle(row.get(1)?);
        if cycle != InterleaveCycle::default() {
            state.cycles.insert(DistrictId(row.get(0)?), cycle);
        }
    }
    Ok(())
}

/// An active application as the waiting list holds it, and its status.
pub type ActiveEntry = (ApplicationId, Waiting, ApplicationStatus);

/// What a published view of the queue needs, and no more: the catalog, the waiting list
/// and the districts' cycles (enough for every `QueueState::position`), and each active
/// application's public facts as the waiting list holds them (a referred one is not in the
/// list; its entry says so by its status), ordered by district and number. No personal
/// column is read. A fraction of `load_state`'s time and memory (the open-data export).
pub fn load_positions(conn: &Connection) -> Result<(QueueState, Vec<ActiveEntry>), StoreError> {
    let queued = load_waiting(conn, "queued")?;
    let mut state = QueueState {
        catalog: load_catalog(conn)?,
        waiting: waiting_list_of(queued.clone())?,
        ..QueueState::default()
    };
    load_cycles(conn, &mut state)?;
    let mut active: Vec<_> = queued
        .into_iter()
        .map(|(id, waiting)| (id, waiting, ApplicationStatus::Queued))
        .chain(
            load_waiting(conn, "referred")?
                .into_iter()
                .map(|(id, waiting)| (id, waiting, ApplicationStatus::Referred)),
        )
        .collect();
    active.sort_unstable_by_key(|(id, ..)| *id);
    Ok((state, active))
}

/// The place each enrolled child holds: that of its latest referral handed in.
fn load_enrolled(conn: &Connection, state: &mut QueueState) -> Result<(), StoreError> {
    let handed_in = "FROM referrals r JOIN applications a \
         ON a.district_id = r.application_district_id \
         AND a.registration_number = r.application_number \
         WHERE r.status = 'handed_in' AND a.status = 'enrolled'";
    let places: HashMap<PlaceId, FreePlace> = place_rows(
        conn,
        &format!("WHERE id IN (SELECT r.place_id {handed_in})"),
    )?
    .into_iter()
    .map(|p| (p.id, p))
    .collect();
    let mut statement = conn.prepare(&format!(
        "SELECT r.application_district_id, r.application_number, r.place_id {handed_in} \
         ORDER BY r.closed_at, r.district_id, r.number"
    ))?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let id = ApplicationId {
            district: DistrictId(row.get(0)?),
            number: RegistrationNumber(row.get(1)?),
        };
        let place = PlaceId(row.get::<_, i64>(2)? as u64);
        // Ordered by time: a transfer's later place replaces the one it left.
        state.enrolled.insert(id, places[&place].clone());
    }
    Ok(())
}

/// The waiting transfer requests, each in its district's queue.
fn load_transfers(conn: &Connection, state: &mut QueueState) -> Result<(), StoreError> {
    for request in transfer_rows(conn, "waiting")? {
        let order = request.order();
        state.transfer_of.insert(request.id, order.0);
        state
            .transfers
            .entry(request.id.district)
            .or_default()
            .insert(order, request);
    }
    Ok(())
}

/// The transfer requests in `status` (waiting, or referred: a transfer referral is live).
fn transfer_rows(conn: &Connection, status: &str) -> Result<Vec<TransferRequest>, StoreError> {
    let mut statement = conn.prepare(
        "SELECT district_id, registration_number, requested_at, from_kindergarten, choices, \
         birth_date, language FROM transfer_requests WHERE status = ?1",
    )?;
    let mut rows = statement.query([status])?;
    let mut requests = Vec::new();
    while let Some(row) = rows.next()? {
        let id = ApplicationId {
            district: DistrictId(row.get(0)?),
            number: RegistrationNumber(row.get(1)?),
        };
        let key = format!("{}/{}", id.district.0, id.number.0);
        let bad = |reason: String| StoreError::corrupt("transfer_requests", &key, reason);
        let choices: Vec<u32> =
            serde_json::from_str(&row.get::<_, String>(4)?).map_err(|e| bad(e.to_string()))?;
        let language: Option<String> = row.get(6)?;
        let request = TransferRequest {
            id,
            requested_at: codec::micros_to_time(row.get(2)?).map_err(bad)?,
            from: KindergartenId(row.get(3)?),
            choices: choices.into_iter().map(KindergartenId).collect(),
            birth_date: codec::date_parse(&row.get::<_, String>(5)?).map_err(bad)?,
            language: match language {
                None => None,
                Some(code) => Some(Language::parse(&code).ok_or_else(|| bad(code.clone()))?),
            },
        };
        requests.push(request);
    }
    Ok(requests)
}

fn load_families(conn: &Connection, state: &mut QueueState) -> Result<(), StoreError> {
    let mut statement = conn.prepare(
        "SELECT f.id, f.together, m.district_id, m.registration_number FROM families f \
         JOIN family_members m ON m.family_id = f.id ORDER BY f.id, m.position",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let id = FamilyId(row.get(0)?);
        let member = ApplicationId {
            district: DistrictId(row.get(2)?),
            number: RegistrationNumber(row.get(3)?),
        };
        let family = state.families.entry(id).or_insert_with(|| Family {
            id,
            members: Vec::new(),
            together: false,
        });
        family.together = row.get(1)?;
        family.members.push(member);
        state.family_of.insert(member, id);
    }
    Ok(())
}

/// Each application's access-code prefix and its applicant, in one pass over the table.
fn load_access_codes_and_applicants(
    conn: &Connection,
    state: &mut QueueState,
) -> Result<(), StoreError> {
    let mut statement = conn.prepare(
        "SELECT district_id, registration_number, access_code_hash, applicant_iin \
         FROM applications",
    )?;
    let mut rows = statement.query([])?;
    let mut applicants = Vec::new();
    while let Some(row) = rows.next()? {
        let id = ApplicationId {
            district: DistrictId(row.get(0)?),
            number: RegistrationNumber(row.get(1)?),
        };
        let corrupt = |why: &str| {
            StoreError::corrupt(
                "applications",
                format!("{}/{}", id.district.0, id.number.0),
                why,
            )
        };
        if let Some(hash) = row.get_ref(2)?.as_str_or_null()? {
            let prefix = crate::domain::access::prefix(hash)
                .ok_or_else(|| corrupt("access_code_hash is not hex"))?;
            state.access.insert(id, prefix);
        }
        let applicant = Iin::parse_stored(row.get_ref(3)?.as_str()?)
            .map_err(|_| corrupt("applicant_iin is not an IIN"))?;
        // An erased application names nobody: no person's list holds it.
        if !applicant.is_erased() {
            applicants.push((applicant.as_u64(), id));
        }
    }
    // Collected first: a set built from a whole vector is sorted once and packed full.
    state.applicants = applicants.into_iter().collect();
    Ok(())
}

/// Checks the hash chain.
fn check_chain_at(path: &Path) -> Result<(u64, Hash), LoadError> {
    let conn = Store::open_reader(path)?;
    let mut checker = ChainChecker::default();
    let mut broken = None;
    for_each_public_event(&conn, |event| {
        broken = checker.check(&event).err();
        Ok(broken.is_none())
    })?;
    match broken {
        Some(error) => Err(error.into()),
        None => Ok(checker.head()),
    }
}

/// The reports' aggregates folded from the whole journal, through a replay of the state
/// (they read each application's entry in the waiting list rather than keep it): the
/// writer's rebuild after a failed batch, a start-up the stored aggregates do not fit, and
/// `verify`.
pub fn load_reports(conn: &Connection) -> Result<Reports, StoreError> {
    // The writer's own fold (`QueueState::apply_tracked`) through a bare state: `kezek
    // verify`'s `Replay`, which this used, also keeps every application whole (personal
    // columns and all) and every referral, to check the rows against, which a start does
    // not need; every event `Replay` accepts it hands to the same `apply_tracked`.
    let mut state = QueueState::default();
    for_each_event(conn, |recorded| {
        let event = recorded
            .event()
            .map_err(|e| StoreError::corrupt("events", recorded.seq, e))?;
        state
            .apply_tracked(&event, recorded.recorded_at)
            .map_err(|e| StoreError::corrupt("events", recorded.seq, e))?;
        state
            .reports
            .credit(&recorded.actor.0, &event, recorded.recorded_at);
        Ok(true)
    })?;
    Ok(state.reports)
}

pub fn load_catalog(conn: &Connection) -> Result<Catalog, StoreError> {
    let mut catalog = Catalog::default();
    let mut statement = conn.prepare(
        "SELECT district_id, referral_validity_working_days, extension_calendar_days, \
         stop_list_days, interleave_first_priority, move_keeps_registration_time, \
         move_keeps_priority, transfers_before_first_time, validity_kind, round_decline_stop_list, \
         retention_days FROM district_policies",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let district: u32 = row.get(0)?;
        let kind: String = row.get(8)?;
        let validity = codec::validity_parse(&kind, row.get(1)?)
            .map_err(|why| StoreError::corrupt("district_policies", district, why))?;
        let policy = DistrictPolicy {
            validity,
            extension: codec::extension_parse(row.get(2)?),
            stop_list_days: row.get(3)?,
            interleave_first_priority: row.get(4)?,
            move_keeps_registration_time: row.get(5)?,
            move_keeps_priority: row.get(6)?,
            transfers_before_first_time: row.get(7)?,
            round_decline_stop_list: row.get(9)?,
            retention_days: row.get(10)?,
        };
        catalog.policies.insert(DistrictId(district), policy);
    }
    let mut statement = conn.prepare("SELECT year, source FROM calendar_years")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let year: i32 = row.get(0)?;
        let parsed = YearCalendar::parse(year, &row.get::<_, String>(1)?)
            .map_err(|e| StoreError::corrupt("calendar_years", year, e))?;
        catalog.calendar.set_year(year, parsed);
    }
    // The latest head of each district: rows in the order they were set.
    let mut statement =
        conn.prepare("SELECT district_id, full_name FROM education_heads ORDER BY seq")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let district = DistrictId(row.get(0)?);
        catalog.education_heads.insert(district, row.get(1)?);
    }
    let mut statement =
        conn.prepare("SELECT id, code, name_kk, name_ru, languages FROM districts ORDER BY id")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let id = DistrictId(row.get(0)?);
        let languages: String = row.get(4)?;
        let languages = languages
            .split(',')
            .filter(|code| !code.is_empty())
            .map(|code| Language::parse(code).ok_or_else(|| code.to_string()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|code| StoreError::corrupt("districts", id.0, format!("language {code:?}")))?;
        let names = Names {
            kk: row.get(2)?,
            ru: row.get(3)?,
        };
        let district = District {
            id,
            code: row.get(1)?,
            names,
            languages,
        };
        catalog.districts.insert(id, district);
    }
    let mut statement = conn.prepare(
        "SELECT id, district_id, number, name_kk, name_ru, address, head FROM kindergartens \
         ORDER BY id",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let id = KindergartenId(row.get(0)?);
        let kindergarten = Kindergarten {
            id,
            district: DistrictId(row.get(1)?),
            number: row.get(2)?,
            names: Names {
                kk: row.get(3)?,
                ru: row.get(4)?,
            },
            address: row.get(5)?,
            head: row.get(6)?,
        };
        catalog.kindergartens.insert(id, kindergarten);
    }
    load_groups(conn, &mut catalog)?;
    load_categories(conn, &mut catalog)?;
    Ok(catalog)
}

fn load_groups(conn: &Connection, catalog: &mut Catalog) -> Result<(), StoreError> {
    let mut statement = conn.prepare(
        "SELECT id, kindergarten_id, name, language, born_from, born_to, capacity, closed \
         FROM groups ORDER BY id",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let id = GroupId(row.get(0)?);
        let bad = |reason: String| StoreError::corrupt("groups", id.0, reason);
        let language: String = row.get(3)?;
        let born_from = codec::date_parse(&row.get::<_, String>(4)?).map_err(bad)?;
        let born_to = codec::date_parse(&row.get::<_, String>(5)?).map_err(bad)?;
        let group = Group {
            id,
            kindergarten: KindergartenId(row.get(1)?),
            name: row.get(2)?,
            language: Language::parse(&language).ok_or_else(|| bad(language.clone()))?,
            age_band: AgeBand::new(born_from, born_to).ok_or_else(|| bad("empty band".into()))?,
            capacity: row.get(6)?,
            closed: row.get(7)?,
        };
        catalog.groups.insert(id, group);
    }
    Ok(())
}

fn load_categories(conn: &Connection, catalog: &mut Catalog) -> Result<(), StoreError> {
    let mut statement = conn.prepare(
        "SELECT code, tier, name_kk, name_ru, document_kk, document_ru, retired, \
         attachment_required FROM priority_categories",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let code: String = row.get(0)?;
        let tier = codec::tier_parse(row.get(1)?)
            .map_err(|reason| StoreError::corrupt("priority_categories", &code, reason))?;
        let category = PriorityCategory {
            code: code.clone(),
            tier,
            names: Names {
                kk: row.get(2)?,
                ru: row.get(3)?,
            },
            document: Names {
                kk: row.get(4)?,
                ru: row.get(5)?,
            },
            retired: row.get(6)?,
            attachment_required: row.get(7)?,
        };
        catalog.categories.insert(code, category);
    }
    Ok(())
}

/// Builds the waiting list from the queued applications. Entries are inserted in key order,
/// so every insert appends to the end of its sets (the cheap case of a B-tree insert).
pub fn load_waiting_list(conn: &Connection) -> Result<WaitingList, StoreError> {
    waiting_list_of(load_waiting(conn, "queued")?)
}

fn waiting_list_of(mut entries: Vec<(ApplicationId, Waiting)>) -> Result<WaitingList, StoreError> {
    entries.sort_unstable_by_key(|(id, waiting)| (id.district, waiting.key));
    let mut list = WaitingList::new();
    for (id, waiting) in entries {
        list.insert(id.district, waiting)
            .map_err(|e| StoreError::corrupt("applications", id.district.0, e))?;
    }
    Ok(list)
}

/// What the waiting list needs of each application with `status`.
fn load_waiting(
    conn: &Connection,
    status: &str,
) -> Result<Vec<(ApplicationId, Waiting)>, StoreError> {
    let mut statement = conn.prepare(
        "SELECT district_id, registration_number, registered_at, tier, child_birth_date, \
         desired_start, language, choices, held_until IS NOT NULL FROM applications \
         WHERE status = ?1",
    )?;
    let mut rows = statement.query([status])?;
    let mut entries = Vec::new();
    while let Some(row) = rows.next()? {
        let district = DistrictId(row.get(0)?);
        let number = RegistrationNumber(row.get(1)?);
        let bad = |reason: String| {
            StoreError::corrupt(
                "applications",
                format!("{}/{}", district.0, number.0),
                reason,
            )
        };
        let choices = codec::choices_parse(row.get_ref(7)?.as_str_or_null()?).map_err(bad)?;
        let waiting = Waiting {
            key: QueueKey {
                tier: codec::tier_parse(row.get(3)?).map_err(bad)?,
                registered_at_micros: row.get(2)?,
                number,
            },
            birth_date: codec::date_parse(row.get_ref(4)?.as_str()?).map_err(bad)?,
            desired_start: codec::date_parse(row.get_ref(5)?.as_str()?).map_err(bad)?,
            language: codec::language_parse(row.get_ref(6)?.as_str_or_null()?).map_err(bad)?,
            choices: CompactChoices::from_choices(&choices),
            held: row.get(8)?,
        };
        entries.push((ApplicationId { district, number }, waiting));
    }
    Ok(entries)
}

/// Calls `visit` with every event in sequence order until it returns `Ok(false)`.
pub fn for_each_event(
    conn: &Connection,
    visit: impl FnMut(RecordedEvent) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    each_event(
        conn,
        &format!("{EVENT_COLUMNS} FROM events e {PERSONAL_JOIN}"),
        visit,
    )
}

/// As `for_each_event`, without the personal parts (`personal` is `None`): what the chain
/// check reads, since the chain hashes only the public forms. A start's chain check at 1M
/// is on its critical path, and the join cost it about a second.
pub fn for_each_public_event(
    conn: &Connection,
    visit: impl FnMut(RecordedEvent) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    // The personal part's four columns read as NULL: `recorded_from_row` sees none.
    let source = format!("{EVENT_PUBLIC_COLUMNS}, NULL, NULL, NULL, NULL FROM events e");
    each_event(conn, &source, visit)
}

/// `SELECT {source} ORDER BY e.seq`: `source` names `recorded_from_row`'s columns and the
/// tables they come from.
fn each_event(
    conn: &Connection,
    source: &str,
    mut visit: impl FnMut(RecordedEvent) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let mut statement = conn.prepare(&format!("SELECT {source} ORDER BY e.seq"))?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        if !visit(recorded_from_row(row)?)? {
            break;
        }
    }
    Ok(())
}

/// The columns `recorded_from_row` reads: an event (`e`) and its personal part (`p`), which
/// is absent for an event that names nobody and for an erased one.
pub(super) const EVENT_COLUMNS: &str = "e.seq, e.recorded_at, e.actor, e.kind, e.payload, \
     e.prev_hash, e.hash, p.district_id, p.registration_number, p.salt, p.fields";
/// The event's own columns of `EVENT_COLUMNS`.
const EVENT_PUBLIC_COLUMNS: &str =
    "e.seq, e.recorded_at, e.actor, e.kind, e.payload, e.prev_hash, e.hash";
pub(super) const PERSONAL_JOIN: &str = "LEFT JOIN personal_data p ON p.seq = e.seq";

pub(super) fn recorded_from_row(row: &rusqlite::Row<'_>) -> Result<RecordedEvent, StoreError> {
    let seq: i64 = row.get(0)?;
    let bad = |reason: &str| StoreError::corrupt("events", seq, reason);
    let hash_of = |index: usize| -> Result<Hash, StoreError> {
        let bytes = row.get_ref(index)?.as_blob()?;
        bytes.try_into().map_err(|_| bad("a hash is not 32 bytes"))
    };
    let personal = match row.get::<_, Option<u32>>(7)? {
        None => None,
        Some(district) => {
            let salt = row.get_ref(9)?.as_blob()?;
            Some(PersonalPart {
                owner: ApplicationId {
                    district: DistrictId(district),
                    number: RegistrationNumber(row.get(8)?),
                },
                salt: salt.try_into().map_err(|_| bad("a salt is not 16 bytes"))?,
                fields: row.get(10)?,
            })
        }
    };
    Ok(RecordedEvent {
        seq: u64::try_from(seq).map_err(|_| bad("negative sequence number"))?,
        recorded_at: codec::micros_to_time(row.get(1)?).map_err(|e| bad(&e))?,
        actor: Actor(row.get(2)?),
        kind: row.get(3)?,
        payload: row.get(4)?,
        prev_hash: hash_of(5)?,
        hash: hash_of(6)?,
        personal,
    })
}

/// Calls `visit` with every application, ordered by district and number.
pub fn for_each_application(
    conn: &Connection,
    mut visit: impl FnMut(Application) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT {APPLICATION_COLUMNS} FROM applications ORDER BY district_id, registration_number"
    );
    let mut statement = conn.prepare(&sql)?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        visit(codec::application_from_row(row)?)?;
    }
    Ok(())
}

/// Each district's next registration number: the highest given plus one.
pub fn registration_counters(conn: &Connection) -> Result<Vec<(DistrictId, u32)>, StoreError> {
    next_numbers(conn, "applications", "registration_number")
}

fn next_numbers(
    conn: &Connection,
    table: &str,
    column: &str,
) -> Result<Vec<(DistrictId, u32)>, StoreError> {
    // One indexed max() per district rather than a GROUP BY over every row.
    let mut statement = conn.prepare(&format!(
        "SELECT id, (SELECT coalesce(max({column}), 0) + 1 FROM {table} \
         WHERE district_id = districts.id) FROM districts ORDER BY id"
    ))?;
    let rows = statement.query_map([], |row| Ok((DistrictId(row.get(0)?), row.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn load_places_and_referrals(conn: &Connection, state: &mut QueueState) -> Result<(), StoreError> {
    for place in place_rows(conn, "WHERE filled = 0 AND withdrawn = 0")? {
        state
            .open_places
            .entry(place.district)
            .or_default()
            .insert(place.id);
        state.places.insert(place.id, place);
    }
    let referred: HashMap<ApplicationId, Waiting> =
        load_waiting(conn, "referred")?.into_iter().collect();
    // A transfer's referral keeps what its request asked, as issuing it did.
    let transferring: HashMap<ApplicationId, Waiting> = transfer_rows(conn, "referred")?
        .iter()
        .map(|request| (request.id, Waiting::of_transfer(request)))
        .collect();
    let mut failure = None;
    for_each_referral(conn, "WHERE status = 'issued'", |referral| {
        let key = format!("{}/{}", referral.id.district.0, referral.id.number.0);
        let waiting = match referral.transfer {
            true => transferring.get(&referral.application),
            false => referred.get(&referral.application),
        };
        let Some(waiting) = waiting.copied() else {
            failure = Some(StoreError::corrupt(
                "referrals",
                &key,
                "its application is not referred",
            ));
            return Ok(());
        };
        let district = referral.id.district;
        let open = state.open_places.get_mut(&district);
        if !open.is_some_and(|open| open.remove(&referral.place)) {
            failure = Some(StoreError::corrupt(
                "referrals",
                &key,
                "its place is not free",
            ));
            return Ok(());
        }
        if state
            .open_places
            .get(&district)
            .is_some_and(|open| open.is_empty())
        {
            state.open_places.remove(&district);
        }
        state
            .deadlines
            .insert((referral.valid_until, Deadline::ReferralExpires(referral.id)));
        state.referral_of.insert(referral.application, referral.id);
        state
            .live
            .insert(referral.id, LiveReferral { referral, waiting });
        Ok(())
    })?;
    failure.map_or(Ok(()), Err)
}

/// The open intake rounds, their deadlines and the places they collected (loaded as open by
/// `load_places_and_referrals`, moved to their round here), and the last round's number.
fn load_rounds(conn: &Connection, state: &mut QueueState) -> Result<(), StoreError> {
    state.last_round =
        conn.query_row("SELECT coalesce(max(id), 0) FROM intake_rounds", [], |r| {
            r.get(0)
        })?;
    let mut statement = conn.prepare(
        "SELECT id, district_id, places_for FROM intake_rounds WHERE closed_at IS NOT NULL",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let id: u32 = row.get(0)?;
        let places_for = codec::date_parse(&row.get::<_, String>(2)?)
            .map_err(|reason| StoreError::corrupt("intake_rounds", id, reason))?;
        state
            .closed_rounds
            .insert((DistrictId(row.get(1)?), places_for));
    }
    let mut statement = conn.prepare(
        "SELECT id, district_id, places_for, closes_at, any_order FROM intake_rounds \
         WHERE closed_at IS NULL ORDER BY id",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let id = RoundId(row.get(0)?);
        let bad = |reason: String| StoreError::corrupt("intake_rounds", id.0, reason);
        let any_order: String = row.get(4)?;
        let any_order = any_order
            .split(',')
            .filter(|k| !k.is_empty())
            .map(|k| {
                k.parse()
                    .map(KindergartenId)
                    .map_err(|_| bad(k.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let round = IntakeRound {
            id,
            district: DistrictId(row.get(1)?),
            places_for: codec::date_parse(&row.get::<_, String>(2)?).map_err(bad)?,
            closes_at: codec::micros_to_time(row.get(3)?).map_err(bad)?,
            any_order,
        };
        state
            .deadlines
            .insert((round.closes_at, Deadline::RoundCloses(id)));
        state.rounds.insert(id, round);
    }
    let mut statement = conn.prepare(
        "SELECT p.id, p.round_id, p.district_id FROM places p \
         JOIN intake_rounds r ON r.id = p.round_id \
         WHERE r.closed_at IS NULL AND p.filled = 0 AND p.withdrawn = 0",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let place = PlaceId(row.get::<_, i64>(0)? as u64);
        let district = DistrictId(row.get(2)?);
        let open = state.open_places.get_mut(&district);
        if !open.is_some_and(|open| open.remove(&place)) {
            return Err(StoreError::corrupt(
                "places",
                place.0,
                "collected but not free",
            ));
        }
        if state
            .open_places
            .get(&district)
            .is_some_and(|o| o.is_empty())
        {
            state.open_places.remove(&district);
        }
        state
            .round_places
            .entry(RoundId(row.get(1)?))
            .or_default()
            .insert(place);
    }
    Ok(())
}

/// The places matching `filter` (an SQL WHERE clause written by this module), by id.
pub fn place_rows(conn: &Connection, filter: &str) -> Result<Vec<FreePlace>, StoreError> {
    place_rows_limited(conn, filter, i64::MAX)
}

/// `place_rows`, at most `limit` of them.
pub fn place_rows_limited(
    conn: &Connection,
    filter: &str,
    limit: i64,
) -> Result<Vec<FreePlace>, StoreError> {
    let mut statement = conn.prepare(&format!(
        "SELECT id, district_id, kindergarten_id, group_id, born_from, born_to, language, \
         available_from, reported_at FROM places {filter} ORDER BY id LIMIT {limit}"
    ))?;
    let mut rows = statement.query([])?;
    let mut places = Vec::new();
    while let Some(row) = rows.next()? {
        let id = PlaceId(row.get::<_, i64>(0)? as u64);
        let bad = |reason: String| StoreError::corrupt("places", id.0, reason);
        let language: String = row.get(6)?;
        places.push(FreePlace {
            id,
            district: DistrictId(row.get(1)?),
            kindergarten: KindergartenId(row.get(2)?),
            group: row.get::<_, Option<u32>>(3)?.map(GroupId),
            age_band: AgeBand::new(
                codec::date_parse(&row.get::<_, String>(4)?).map_err(bad)?,
                codec::date_parse(&row.get::<_, String>(5)?).map_err(bad)?,
            )
            .ok_or_else(|| bad("empty band".into()))?,
            language: Language::parse(&language).ok_or_else(|| bad(language.clone()))?,
            available_from: codec::date_parse(&row.get::<_, String>(7)?).map_err(bad)?,
            reported_at: codec::micros_to_time(row.get(8)?).map_err(bad)?,
        });
    }
    Ok(places)
}

/// Calls `visit` with every referral matching `filter`, by district and number.
pub fn for_each_referral(
    conn: &Connection,
    filter: &str,
    mut visit: impl FnMut(Referral) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let sql =
        format!("SELECT {REFERRAL_COLUMNS} FROM referrals {filter} ORDER BY district_id, number");
    let mut statement = conn.prepare(&sql)?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        visit(codec::referral_from_row(row)?)?;
    }
    Ok(())
}

/// Each district's next referral number: the highest given plus one.
pub fn referral_counters(conn: &Connection) -> Result<Vec<(DistrictId, u32)>, StoreError> {
    next_numbers(conn, "referrals", "number")
}

/// The counters the writer keeps in memory, from the rows they count.
fn load_counters(conn: &Connection, state: &mut QueueState) -> Result<(), StoreError> {
    let referrals: HashMap<DistrictId, u32> = referral_counters(conn)?.into_iter().collect();
    // The time new registrations may not go back behind is their own: a moved or imported
    // application keeps an earlier one. The partial index holds only the registrations made
    // here (migration 0014), so this is one look-up however many were imported last.
    let mut last_time = conn.prepare(
        "SELECT registered_at FROM applications INDEXED BY applications_registered_here \
         WHERE district_id = ?1 AND moved_from_district IS NULL AND legacy_number IS NULL \
         ORDER BY registration_number DESC LIMIT 1",
    )?;
    for (district, next) in registration_counters(conn)? {
        if next == 1 {
            continue;
        }
        let counters = Counters {
            registrations: next - 1,
            last_registered_at_micros: last_time
                .query_row([district.0], |row| row.get(0))
                .optional()?
                .unwrap_or(0),
            referrals: referrals.get(&district).map_or(0, |next| next - 1),
        };
        state.counters.insert(district, counters);
    }
    let last_place: i64 = conn.query_row("SELECT coalesce(max(id), 0) FROM places", [], |row| {
        row.get(0)
    })?;
    state.last_place_id = last_place as u64;
    Ok(())
}

/// A round as its row has it: opened, and closed when `closed_at` is set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoundRow {
    pub id: u32,
    pub district: DistrictId,
    pub places_for: chrono::NaiveDate,
    pub closes_at: chrono::DateTime<chrono::Utc>,
    pub closed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Places it collected, and of them those given by referrals of its close.
    pub places: u32,
    pub referrals: u32,
}

/// Every intake round, the newest first.
pub fn intake_rounds(conn: &Connection) -> Result<Vec<RoundRow>, StoreError> {
    let mut statement = conn.prepare(
        "SELECT r.id, r.district_id, r.places_for, r.closes_at, r.closed_at, \
         (SELECT count(*) FROM places p WHERE p.round_id = r.id), \
         (SELECT count(*) FROM referrals f WHERE f.round_id = r.id) \
         FROM intake_rounds r ORDER BY r.id DESC",
    )?;
    let mut rows = statement.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let id: u32 = row.get(0)?;
        let bad = |reason: String| StoreError::corrupt("intake_rounds", id, reason);
        out.push(RoundRow {
            id,
            district: DistrictId(row.get(1)?),
            places_for: codec::date_parse(&row.get::<_, String>(2)?).map_err(bad)?,
            closes_at: codec::micros_to_time(row.get(3)?).map_err(bad)?,
            closed_at: row
                .get::<_, Option<i64>>(4)?
                .map(codec::micros_to_time)
                .transpose()
                .map_err(bad)?,
            places: row.get(5)?,
            referrals: row.get(6)?,
        });
    }
    Ok(out)
}

/// The waiting applications' rows counted by district, birth year and tier: what `verify`
/// holds the reports' queue against.
pub fn waiting_counts(
    conn: &Connection,
) -> Result<std::collections::BTreeMap<(DistrictId, i32, Tier), u32>, StoreError> {
    let mut statement = conn.prepare(
        "SELECT district_id, CAST(substr(child_birth_date, 1, 4) AS INTEGER), tier, count(*) \
         FROM applications WHERE status = 'queued' GROUP BY 1, 2, 3",
    )?;
    let mut rows = statement.query([])?;
    let mut counted = std::collections::BTreeMap::new();
    while let Some(row) = rows.next()? {
        let tier = match row.get::<_, u8>(2)? {
            0 => Tier::OutOfTurn,
            1 => Tier::First,
            _ => Tier::General,
        };
        counted.insert(
            (DistrictId(row.get(0)?), row.get::<_, i32>(1)?, tier),
            row.get(3)?,
        );
    }
    Ok(counted)
}
