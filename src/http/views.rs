//! The shapes the API answers with, built from domain values. Personal fields appear only
//! in views served to the parent or to staff of the district, never in public ones.

use crate::domain::application::{Application, ApplicationStatus};
use crate::domain::catalog::{Catalog, Names, Tier};
use crate::domain::event::{Event, RecordedEvent};
use crate::domain::numbers as ids;
use crate::domain::referral::{FreePlace, Referral};
use crate::domain::waiting_list::Position;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct NamesView {
    pub kk: String,
    pub ru: String,
}

impl From<&Names> for NamesView {
    fn from(names: &Names) -> NamesView {
        NamesView {
            kk: names.kk.clone(),
            ru: names.ru.clone(),
        }
    }
}

/// A unit enum's serde name ("queued", "handed_in"): the same text everywhere in the API.
pub fn codec_text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        other => unreachable!("a unit enum serializes to a string, got {other:?}"),
    }
}

pub fn tier_code(tier: Tier) -> &'static str {
    match tier {
        Tier::OutOfTurn => "out_of_turn",
        Tier::First => "first",
        Tier::General => "general",
    }
}

/// Where an application stands in the queue.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PositionView {
    /// The birth year: applications compete within their district's cohort.
    pub cohort: i32,
    /// 1 means next in the district's cohort.
    pub in_cohort: u32,
    pub cohort_size: u32,
    /// Applications of the cohort ahead that take any kindergarten.
    pub ahead_taking_any: u32,
    /// For each chosen kindergarten: applications ahead that chose it too.
    pub per_kindergarten: Vec<KindergartenPosition>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct KindergartenPosition {
    pub kindergarten: u32,
    /// Applications ahead that chose this kindergarten or take any: places there go to
    /// them first.
    pub ahead: u32,
}

impl From<&Position> for PositionView {
    fn from(p: &Position) -> PositionView {
        PositionView {
            cohort: p.cohort,
            in_cohort: p.in_cohort,
            cohort_size: p.cohort_size,
            ahead_taking_any: p.ahead_taking_any,
            per_kindergarten: p
                .ahead_per_kindergarten
                .iter()
                .map(|(k, ahead)| KindergartenPosition {
                    kindergarten: k.0,
                    ahead: ahead + p.ahead_taking_any,
                })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ReferralView {
    /// `ESL-R5`.
    pub number: String,
    /// The application it was issued to, `ESL-17`.
    pub application: String,
    pub kindergarten: u32,
    pub issued_at: DateTime<Utc>,
    /// The referral lapses at this instant unless handed in (end of the last local day).
    pub valid_until: DateTime<Utc>,
    /// The last day it may be handed in (local, UTC+5), to the end of the day: the day a
    /// page or a letter names, where `valid_until` is the next day's midnight.
    pub last_day: NaiveDate,
    pub extended: bool,
    /// issued, handed_in, declined, expired, revoked
    pub status: String,
    pub closed_at: Option<DateTime<Utc>>,
}

impl ReferralView {
    pub fn of(catalog: &Catalog, r: &Referral) -> ReferralView {
        ReferralView {
            number: ids::referral_number(catalog, r.id),
            application: ids::application_number(catalog, r.application),
            kindergarten: r.kindergarten.0,
            issued_at: r.issued_at,
            valid_until: r.valid_until,
            last_day: crate::domain::deadline::last_day(r.valid_until),
            extended: r.extended,
            status: codec_text(&r.status),
            closed_at: r.closed_at,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PriorityView {
    pub category: String,
    /// The supporting document's reference as the applicant gave it.
    pub document: String,
    /// claimed (waiting for an officer), verified, rejected
    pub status: String,
}

/// One step in an application's life.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    /// What happened: the journal's event kind (application_registered, referral_issued,
    /// priority_verified, ...), or notice_issued: the registration notice, the result
    /// document of a registration that got no referral at once.
    pub change: String,
    /// The application's status after it.
    pub status: String,
    /// The stage of the service request: received, then completed once its result document
    /// (the notice, a referral at once, or a refusal) is issued (seed 004); the application
    /// itself goes on waiting in the queue.
    pub stage: String,
    /// parent, staff or system
    pub by: String,
}

/// The stage of a request whose result document was issued. Every stored application has
/// one: a registration issues its notice (or a referral) in the same command.
pub const STAGE_COMPLETED: &str = "completed";

/// The status history from the application's events, oldest first.
pub fn history(events: &[RecordedEvent]) -> Vec<HistoryEntry> {
    let mut status = ApplicationStatus::Queued;
    let mut entries = Vec::with_capacity(events.len() + 1);
    // The notice completes the request unless the registration's own command issued a
    // referral instead: registered, access code, referral, with no other event between in
    // the journal (every other command that issues a referral emits something first).
    let mut notice: Option<HistoryEntry> = None;
    let mut previous_seq = 0;
    for recorded in events {
        let Ok(event) = recorded.event() else {
            continue;
        };
        let follows_directly = recorded.seq == previous_seq + 1;
        previous_seq = recorded.seq;
        // A new access code is the parent's business, not a step of the service.
        if matches!(event, Event::AccessCodeIssued { .. }) {
            continue;
        }
        if let Some(pending) = notice.take() {
            let referral_at_once =
                matches!(event, Event::ReferralIssued { .. }) && follows_directly;
            if !referral_at_once {
                entries.push(pending);
            }
        }
        let stage_now = match &event {
            Event::ApplicationRegistered(_) => "received",
            _ => STAGE_COMPLETED,
        };
        match &event {
            Event::ApplicationRegistered(_) => {
                status = ApplicationStatus::Queued;
                notice = Some(HistoryEntry {
                    at: recorded.recorded_at,
                    change: "notice_issued".into(),
                    status: codec_text(&status),
                    stage: STAGE_COMPLETED.into(),
                    by: "system".into(),
                });
            }
            Event::ReferralIssued { .. } => status = ApplicationStatus::Referred,
            Event::ReferralLapsed { .. } => status = ApplicationStatus::Queued,
            Event::ReferralHandedIn { .. } => status = ApplicationStatus::Enrolled,
            Event::ApplicationWithdrawn { .. } => status = ApplicationStatus::Withdrawn,
            Event::ApplicationAgedOut { .. } => status = ApplicationStatus::AgedOut,
            Event::ApplicationRefused { .. } => status = ApplicationStatus::Refused,
            Event::ChildLeft { .. } => status = ApplicationStatus::Left,
            _ => {}
        }
        entries.push(HistoryEntry {
            at: recorded.recorded_at,
            change: recorded.kind.clone(),
            status: codec_text(&status),
            stage: stage_now.to_string(),
            by: actor_of(&event, recorded).to_string(),
        });
    }
    entries.extend(notice);
    entries
}

/// Who caused a step: who gets a place is the queue's decision, whoever's action freed or
/// asked for it.
fn actor_of(event: &Event, recorded: &RecordedEvent) -> &'static str {
    if matches!(event, Event::ReferralIssued { .. }) {
        "system"
    } else if recorded.actor.0 == "portal" {
        "parent"
    } else if recorded.actor.0.starts_with("staff:") {
        "staff"
    } else {
        "system"
    }
}

/// An application as its parent, or staff of its district, see it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ApplicationView {
    /// `ESL-17`
    pub number: String,
    /// The number it had in the municipality's earlier system, when it was imported from
    /// there (`kezek import`), shown beside `number`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_number: Option<String>,
    pub district: String,
    /// queued, referred, enrolled, withdrawn, aged_out, refused
    pub status: String,
    /// The service request's stage: completed, since its result document (the notice, or a
    /// referral at once) was issued when it was registered; the queue status says the rest.
    pub stage: String,
    pub registered_at: DateTime<Utc>,
    pub child_full_name: String,
    pub child_birth_date: NaiveDate,
    pub desired_start: NaiveDate,
    /// Chosen kindergartens, most wanted first; empty: any in the district.
    pub kindergartens: Vec<u32>,
    /// A group language, or null for any.
    pub language: Option<String>,
    pub priority: Option<PriorityView>,
    /// out_of_turn, first, general: counts only once a priority is verified.
    pub tier: String,
    pub channel: String,
    /// On the stop list until then: keeps its position, takes no place.
    pub on_stop_list_until: Option<DateTime<Utc>>,
    /// While queued.
    pub position: Option<PositionView>,
    /// The latest referral, if any.
    pub referral: Option<ReferralView>,
    pub history: Vec<HistoryEntry>,
    /// Its personal data was erased when its retention period ended (names empty).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub personal_data_erased: bool,
}

impl ApplicationView {
    pub fn of(
        catalog: &Catalog,
        a: &Application,
        position: Option<&Position>,
        referral: Option<&Referral>,
        history: Vec<HistoryEntry>,
    ) -> ApplicationView {
        ApplicationView {
            number: ids::application_number(catalog, a.id),
            legacy_number: a.legacy_number.clone(),
            district: ids::district_code(catalog, a.id.district),
            status: codec_text(&a.status),
            stage: STAGE_COMPLETED.to_string(),
            registered_at: a.registered_at,
            child_full_name: a.child.full_name.clone(),
            child_birth_date: a.child.birth_date,
            desired_start: a.desired_start,
            kindergartens: match &a.choices {
                crate::domain::application::Choices::Any => Vec::new(),
                crate::domain::application::Choices::Listed(list) => {
                    list.iter().map(|k| k.0).collect()
                }
            },
            language: a.language.map(|l| l.code().to_string()),
            priority: a.priority.as_ref().map(|p| PriorityView {
                category: p.category.clone(),
                document: p.document.clone(),
                status: codec_text(&p.status),
            }),
            tier: tier_code(a.tier).to_string(),
            channel: codec_text(&a.channel),
            on_stop_list_until: a.held_until,
            position: position.map(PositionView::from),
            referral: referral.map(|r| ReferralView::of(catalog, r)),
            history,
            personal_data_erased: a.child.iin.is_erased(),
        }
    }
}

/// A free place as the public protocol shows it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PlaceView {
    pub id: u64,
    pub kindergarten: u32,
    pub group: Option<u32>,
    pub born_from: NaiveDate,
    pub born_to: NaiveDate,
    pub language: String,
    pub available_from: NaiveDate,
    pub reported_at: DateTime<Utc>,
}

impl From<&FreePlace> for PlaceView {
    fn from(p: &FreePlace) -> PlaceView {
        PlaceView {
            id: p.id.0,
            kindergarten: p.kindergarten.0,
            group: p.group.map(|g| g.0),
            born_from: p.age_band.born_from,
            born_to: p.age_band.born_to,
            language: p.language.code().to_string(),
            available_from: p.available_from,
            reported_at: p.reported_at,
        }
    }
}
