//! Events: every change of state, as the journal records it, and the hash chain over them.
//!
//! The in-memory state and the SQL tables are both projections of this sequence; `verify`
//! replays it to prove they agree. An event's payload is its canonical JSON: serde writes
//! struct fields in declaration order and enums with a fixed tag, so the same event always
//! gives the same bytes.

use super::amendment::Amendment;
use super::application::{Applicant, Application, ApplicationId, RefusalReason, Satisfaction};
use super::attachment::AttachmentRecord;
use super::catalog::{District, DistrictId, Group, Kindergarten, PriorityCategory, Tier};
use super::document_request::DocumentRequest;
use super::family::{Family, FamilyId};
use super::intake::{IntakeRound, RoundId};
use super::personal::{self, PersonalPart};
use super::referral::{
    DistrictPolicy, FreePlace, InterleaveCycle, Lapse, PlaceId, Referral, ReferralId,
};
use super::staff::{Role, Scope};
use super::transfer::TransferRequest;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

// Events are built once, recorded and applied; boxing the large variants would only add an
// allocation to each.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Event {
    DistrictCreated(District),
    KindergartenCreated(Kindergarten),
    GroupCreated(Group),
    ApplicationRegistered(Application),
    /// An application brought in from the municipality's earlier system (`kezek import`):
    /// the district's next number, the registration time and the old number
    /// (`legacy_number`) it had there, and the file it came from (its SHA-256, hex) and the
    /// line. No access code and no message: the family knew of it already; the desk gives a
    /// code on request.
    ApplicationImported {
        application: Application,
        file_sha256: String,
        line: u64,
    },
    ApplicationWithdrawn {
        id: ApplicationId,
    },
    /// An officer saw the document: the application moves to the category's tier, keeping
    /// its registration time.
    PriorityVerified {
        id: ApplicationId,
        tier: Tier,
    },
    /// The claim was not confirmed: the application is (or stays) in the general tier.
    PriorityRejected {
        id: ApplicationId,
        reason: String,
    },
    PolicySet {
        district: DistrictId,
        policy: DistrictPolicy,
    },
    /// A year of the working-day calendar, as the text of its file.
    CalendarYearSet {
        year: i32,
        text: String,
    },
    PlacesReported {
        places: Vec<FreePlace>,
    },
    /// The application leaves the waiting list and holds the place until the referral ends.
    /// `cycle` is the district's 1 : 3 cycle after this referral, when the policy is on.
    ReferralIssued {
        referral: Referral,
        cycle: Option<InterleaveCycle>,
    },
    ReferralExtended {
        id: ReferralId,
        valid_until: DateTime<Utc>,
    },
    /// The child is enrolled; the application is completed and the place filled.
    ReferralHandedIn {
        id: ReferralId,
        at: DateTime<Utc>,
    },
    /// The place is free again; the child returns to the queue with its key, on the stop
    /// list until `held_until`. `at` is when it lapsed (for an expiry: the deadline itself,
    /// even if the service noticed later).
    ReferralLapsed {
        id: ReferralId,
        /// The application whose referral it was. A revocation's reason is an officer's
        /// free text about the family, personal data this names the owner of
        /// (`domain::personal`). None only in lapses journaled before it was recorded that
        /// name nobody (the journal's rewrite gave every older revocation its owner).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        application: Option<ApplicationId>,
        at: DateTime<Utc>,
        lapse: Lapse,
        held_until: DateTime<Utc>,
    },
    StopListEnded {
        id: ApplicationId,
        at: DateTime<Utc>,
    },
    ApplicationAgedOut {
        id: ApplicationId,
        at: DateTime<Utc>,
    },
    /// A new access code for the parent (at registration, or a replacement for a lost one,
    /// which the old one stops working with). Only the salted hash; see `access`.
    AccessCodeIssued {
        id: ApplicationId,
        code_hash: String,
    },
    /// A motivated refusal: the application leaves the queue for good.
    ApplicationRefused {
        id: ApplicationId,
        reason: RefusalReason,
        text: String,
    },
    SurveyAnswered {
        id: ApplicationId,
        process: Satisfaction,
        information: Satisfaction,
    },
    /// The parent (or staff on the parent's behalf) changed choices, language, start date or
    /// contacts. The key `(tier, registered_at, number)` stays; `amendment` holds the
    /// amendable values after the change.
    ApplicationAmended {
        id: ApplicationId,
        amendment: Amendment,
    },
    /// Staff at the desk, after checking the identity document, replaced the application's
    /// applicant by the real one (somebody else had registered the child): `applicant` is
    /// the whole new applicant. A new access code follows (`AccessCodeIssued`).
    ApplicantRebound {
        id: ApplicationId,
        applicant: Applicant,
    },
    /// The family moved district: `from` ends as moved, and `to` (the new district's next
    /// number, `moved_from` naming `from`) continues it, with the registration time and
    /// priority the new district's policy let it keep, and any stop list it was on.
    ApplicationMoved {
        from: ApplicationId,
        to: Application,
    },
    /// Children registered together (their `ApplicationRegistered` events come first, with
    /// one time and consecutive numbers) form a family.
    FamilyRegistered(Family),
    /// The family changed its choice between "together only" and "separately".
    FamilyChoiceSet {
        family: FamilyId,
        together: bool,
    },
    /// A place one of the family's children would have taken went on down the queue: the
    /// family takes places only together, and one kindergarten could not give them all one
    /// now. The family keeps its position; the record says why it was passed.
    FamilyPassedOver {
        family: FamilyId,
        place: PlaceId,
    },
    /// The family of an enrolled child asks to move it to other kindergartens: the request
    /// joins the district's transfer queue (a transfer referral, handed in or lapsed, ends
    /// it).
    TransferRequested(TransferRequest),
    /// The head of the district's education department, who signs its referrals, from now
    /// on (a referral names the head of the day it was issued).
    EducationHeadSet {
        district: DistrictId,
        full_name: String,
    },
    /// The kindergarten withdraws an open place it reported by mistake: nobody took it, and
    /// nobody will.
    PlaceWithdrawn {
        place: PlaceId,
        at: DateTime<Utc>,
    },
    /// An enrolled child left its kindergarten: the application ends as `left` and the place
    /// it held is given up (the command reports it free again in the same transaction).
    ChildLeft {
        id: ApplicationId,
        at: DateTime<Utc>,
    },
    /// The administrator changed a kindergarten (names, address, head): the whole record
    /// after the change.
    KindergartenChanged(Kindergarten),
    /// The administrator changed or closed a group: the whole record after the change.
    GroupChanged(Group),
    /// A priority category created, changed or retired: the whole record after the change
    /// (the shipped categories come from the first migration; this event supersedes a row).
    CategorySet(PriorityCategory),
    /// An administrator created a staff account; only the SHA-256 of its token (hex), which
    /// was shown once.
    StaffAccountCreated {
        name: String,
        role: Role,
        scope: Scope,
        token_hash: String,
    },
    /// An account's role and scope from now on.
    StaffAccountChanged {
        name: String,
        role: Role,
        scope: Scope,
    },
    /// The account's token stops working at once.
    StaffAccountRevoked {
        name: String,
    },
    /// An intake round opens (issue 18): places reported in its district for its date are
    /// collected from now on, not allocated one by one.
    IntakeRoundOpened(IntakeRound),
    /// The round closes: its places become the district's to give, and the referrals of its
    /// allocation follow in the same command, as `ReferralIssued` events.
    IntakeRoundClosed {
        round: RoundId,
        at: DateTime<Utc>,
    },
    /// A document attached to the application (issue 19): its kind, type, size and SHA-256,
    /// never its bytes, which the `attachments` row written in the same transaction holds.
    AttachmentAdded {
        id: ApplicationId,
        attachment: AttachmentRecord,
    },
    /// An officer or operator asked the parent for a document (issue 19 §5); the claim's
    /// manual-step deadline is paused until it arrives (`domain::document_request`).
    DocumentRequested {
        id: ApplicationId,
        request: DocumentRequest,
    },
    /// A file of the kind asked for arrived (emitted right after its `AttachmentAdded`):
    /// the request `request` is answered by the application's file `attachment`.
    DocumentReceived {
        id: ApplicationId,
        request: u32,
        attachment: u32,
    },
    /// ClamAV found malware in a file sent (issue 19 §6): refused, nothing stored but this
    /// record of it (who sent it is the actor). `id` is none for a file sent with a
    /// registration, refused before the application existed.
    AttachmentInfected {
        id: Option<ApplicationId>,
        /// SHA-256 of the bytes as they came, hex.
        sha256: String,
        size: u64,
        /// The signature clamd named.
        signature: String,
    },
    /// The application's retention period ended (or an administrator erased an ended
    /// application): its personal data is gone from every table, the journal's personal
    /// parts included (`domain::personal`). What is public of it stays.
    PersonalDataErased {
        ids: Vec<ApplicationId>,
    },
}

impl Event {
    /// The short name stored beside the payload, for queries and for people reading the log.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::DistrictCreated(_) => "district_created",
            Event::KindergartenCreated(_) => "kindergarten_created",
            Event::GroupCreated(_) => "group_created",
            Event::ApplicationRegistered(_) => "application_registered",
            Event::ApplicationImported { .. } => "application_imported",
            Event::ApplicationWithdrawn { .. } => "application_withdrawn",
            Event::PriorityVerified { .. } => "priority_verified",
            Event::PriorityRejected { .. } => "priority_rejected",
            Event::PolicySet { .. } => "policy_set",
            Event::CalendarYearSet { .. } => "calendar_year_set",
            Event::PlacesReported { .. } => "places_reported",
            Event::ReferralIssued { .. } => "referral_issued",
            Event::ReferralExtended { .. } => "referral_extended",
            Event::ReferralHandedIn { .. } => "referral_handed_in",
            Event::ReferralLapsed { .. } => "referral_lapsed",
            Event::StopListEnded { .. } => "stop_list_ended",
            Event::ApplicationAgedOut { .. } => "application_aged_out",
            Event::AccessCodeIssued { .. } => "access_code_issued",
            Event::ApplicationRefused { .. } => "application_refused",
            Event::SurveyAnswered { .. } => "survey_answered",
            Event::ApplicationAmended { .. } => "application_amended",
            Event::ApplicantRebound { .. } => "applicant_rebound",
            Event::ApplicationMoved { .. } => "application_moved",
            Event::FamilyRegistered(_) => "family_registered",
            Event::FamilyChoiceSet { .. } => "family_choice_set",
            Event::FamilyPassedOver { .. } => "family_passed_over",
            Event::TransferRequested(_) => "transfer_requested",
            Event::EducationHeadSet { .. } => "education_head_set",
            Event::PlaceWithdrawn { .. } => "place_withdrawn",
            Event::ChildLeft { .. } => "child_left",
            Event::KindergartenChanged(_) => "kindergarten_changed",
            Event::GroupChanged(_) => "group_changed",
            Event::CategorySet(_) => "category_set",
            Event::StaffAccountCreated { .. } => "staff_account_created",
            Event::StaffAccountChanged { .. } => "staff_account_changed",
            Event::StaffAccountRevoked { .. } => "staff_account_revoked",
            Event::IntakeRoundOpened(_) => "intake_round_opened",
            Event::IntakeRoundClosed { .. } => "intake_round_closed",
            Event::AttachmentAdded { .. } => "attachment_added",
            Event::DocumentRequested { .. } => "document_requested",
            Event::DocumentReceived { .. } => "document_received",
            Event::AttachmentInfected { .. } => "attachment_infected",
            Event::PersonalDataErased { .. } => "personal_data_erased",
        }
    }

    pub fn to_payload(&self) -> String {
        serde_json::to_string(self).expect("events serialize: all keys are strings")
    }

    pub fn from_payload(payload: &str) -> Result<Event, serde_json::Error> {
        serde_json::from_str(payload)
    }
}

/// Who caused an event: "system", "portal" (a parent, self-service), or "staff:<account>".
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Actor(pub String);

impl Actor {
    pub fn system() -> Actor {
        Actor("system".to_string())
    }

    pub fn portal() -> Actor {
        Actor("portal".to_string())
    }

    pub fn staff(account: &str) -> Actor {
        Actor(format!("staff:{account}"))
    }
}

pub type Hash = [u8; 32];

/// The hash before the first event.
pub const GENESIS_HASH: Hash = [0; 32];

/// An event as it stands in the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedEvent {
    /// 1, 2, 3, ... without gaps.
    pub seq: u64,
    pub recorded_at: DateTime<Utc>,
    pub actor: Actor,
    pub kind: String,
    /// The event's public form (`domain::personal`): what the chain hashes.
    pub payload: String,
    pub prev_hash: Hash,
    pub hash: Hash,
    /// Its personal fields, for an event that names people and is not erased.
    pub personal: Option<PersonalPart>,
}

/// An event as the journal will keep it, before its place in the chain is known: its
/// kind, its public form and, if it names people, its personal part (`domain::personal`).
/// Making this is most of sealing an event; an import makes it off the writer's thread.
#[derive(Clone, Debug)]
pub struct SplitEvent {
    pub kind: String,
    pub payload: String,
    pub personal: Option<PersonalPart>,
}

impl SplitEvent {
    /// The event split with a fresh random salt for its personal part, whose commitment
    /// must not be guessable (none for an event that names nobody).
    pub fn salted(event: &Event) -> SplitEvent {
        let salt = if personal::names_people(event.kind()) {
            *uuid::Uuid::new_v4().as_bytes()
        } else {
            [0; 16]
        };
        SplitEvent::of(event, salt)
    }

    /// `salt` is the personal part's (unused for an event that names nobody).
    pub fn of(event: &Event, salt: [u8; 16]) -> SplitEvent {
        let kind = event.kind().to_string();
        // The commonest events that name people split from their types, without a tree.
        let (payload, personal) = match event {
            Event::ApplicationRegistered(application) => {
                let (payload, part) = personal::split_registration(application, salt);
                (payload, Some(part))
            }
            Event::ApplicationImported {
                application,
                file_sha256,
                line,
            } => {
                let (payload, part) = personal::split_import(application, file_sha256, *line, salt);
                (payload, Some(part))
            }
            _ if personal::names_people(&kind) => {
                let whole = serde_json::to_value(event).expect("events serialize");
                let (public, part) = personal::split(&kind, whole, salt);
                (public.to_string(), part)
            }
            _ => (event.to_payload(), None),
        };
        SplitEvent {
            kind,
            payload,
            personal,
        }
    }
}

/// Why a journaled event does not decode.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Personal(#[from] super::personal::JoinError),
}

/// SHA-256 over the previous hash and the event's fields, each length-prefixed so that no
/// two different events can frame to the same bytes.
pub fn chain_hash(
    prev_hash: &Hash,
    seq: u64,
    recorded_at_micros: i64,
    actor: &str,
    kind: &str,
    payload: &str,
) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(seq.to_be_bytes());
    hasher.update(recorded_at_micros.to_be_bytes());
    for field in [actor, kind, payload] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hasher.finalize().into()
}

impl RecordedEvent {
    /// Seals `event` as the successor of (`prev_seq`, `prev_hash`).
    pub fn seal(
        prev_seq: u64,
        prev_hash: Hash,
        recorded_at: DateTime<Utc>,
        actor: Actor,
        event: &Event,
        salt: [u8; 16],
    ) -> RecordedEvent {
        Self::seal_split(
            prev_seq,
            prev_hash,
            recorded_at,
            actor,
            SplitEvent::of(event, salt),
        )
    }

    /// Seals an event already split into its public form and personal part: the chain's
    /// link is all that is left to do, which needs the previous hash, so it is the only step
    /// that has to happen on the writer, in order.
    pub fn seal_split(
        prev_seq: u64,
        prev_hash: Hash,
        recorded_at: DateTime<Utc>,
        actor: Actor,
        split: SplitEvent,
    ) -> RecordedEvent {
        let seq = prev_seq + 1;
        let SplitEvent {
            kind,
            payload,
            personal,
        } = split;
        let hash = chain_hash(
            &prev_hash,
            seq,
            recorded_at.timestamp_micros(),
            &actor.0,
            &kind,
            &payload,
        );
        RecordedEvent {
            seq,
            recorded_at,
            actor,
            kind,
            payload,
            prev_hash,
            hash,
            personal,
        }
    }

    /// The event itself: the public form joined with its personal part, or with the
    /// placeholders of erased data when the part was erased.
    pub fn event(&self) -> Result<Event, DecodeError> {
        if !personal::names_people(&self.kind) && self.personal.is_none() {
            return Ok(Event::from_payload(&self.payload)?);
        }
        let public: serde_json::Value = serde_json::from_str(&self.payload)?;
        let whole = personal::join(&self.kind, public, self.personal.as_ref())?;
        Ok(serde_json::from_value(whole)?)
    }

    /// The hash this event should carry, recomputed from its fields.
    pub fn expected_hash(&self) -> Hash {
        chain_hash(
            &self.prev_hash,
            self.seq,
            self.recorded_at.timestamp_micros(),
            &self.actor.0,
            &self.kind,
            &self.payload,
        )
    }
}

/// Walks a journal in order and reports the first event that breaks the chain.
#[derive(Debug)]
pub struct ChainChecker {
    last_seq: u64,
    last_hash: Hash,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("event {seq}: expected sequence number {expected}")]
    Gap { seq: u64, expected: u64 },
    #[error("event {seq}: prev_hash does not match the hash of event {previous}")]
    BrokenLink { seq: u64, previous: u64 },
    #[error("event {seq}: its hash does not match its contents (it was altered)")]
    Altered { seq: u64 },
}

impl Default for ChainChecker {
    fn default() -> Self {
        ChainChecker {
            last_seq: 0,
            last_hash: GENESIS_HASH,
        }
    }
}

impl ChainChecker {
    pub fn check(&mut self, event: &RecordedEvent) -> Result<(), ChainError> {
        if event.seq != self.last_seq + 1 {
            return Err(ChainError::Gap {
                seq: event.seq,
                expected: self.last_seq + 1,
            });
        }
        if event.prev_hash != self.last_hash {
            return Err(ChainError::BrokenLink {
                seq: event.seq,
                previous: self.last_seq,
            });
        }
        if event.expected_hash() != event.hash {
            return Err(ChainError::Altered { seq: event.seq });
        }
        self.last_seq = event.seq;
        self.last_hash = event.hash;
        Ok(())
    }

    pub fn head(&self) -> (u64, Hash) {
        (self.last_seq, self.last_hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::application::RegistrationNumber;
    use crate::domain::catalog::DistrictId;

    fn sample(prev: &RecordedEvent) -> RecordedEvent {
        let event = Event::ApplicationWithdrawn {
            id: ApplicationId {
                district: DistrictId(1),
                number: RegistrationNumber(7),
            },
        };
        RecordedEvent::seal(
            prev.seq,
            prev.hash,
            prev.recorded_at,
            Actor::portal(),
            &event,
            [0; 16],
        )
    }

    fn first() -> RecordedEvent {
        let event = Event::PriorityRejected {
            id: ApplicationId {
                district: DistrictId(1),
                number: RegistrationNumber(1),
            },
            reason: "no document".into(),
        };
        RecordedEvent::seal(
            0,
            GENESIS_HASH,
            DateTime::UNIX_EPOCH,
            Actor::system(),
            &event,
            [0; 16],
        )
    }

    #[test]
    fn a_sealed_chain_checks_and_any_altered_field_is_named() {
        let one = first();
        let two = sample(&one);
        let mut checker = ChainChecker::default();
        checker.check(&one).unwrap();
        checker.check(&two).unwrap();
        assert_eq!(checker.head(), (2, two.hash));

        let mut altered = two.clone();
        altered.payload = altered.payload.replace('7', "8");
        let mut checker = ChainChecker::default();
        checker.check(&one).unwrap();
        assert_eq!(checker.check(&altered), Err(ChainError::Altered { seq: 2 }));

        let mut relinked = two.clone();
        relinked.prev_hash[0] ^= 1;
        let mut checker = ChainChecker::default();
        checker.check(&one).unwrap();
        assert_eq!(
            checker.check(&relinked),
            Err(ChainError::BrokenLink {
                seq: 2,
                previous: 1
            })
        );

        let mut checker = ChainChecker::default();
        assert_eq!(
            checker.check(&two),
            Err(ChainError::Gap {
                seq: 2,
                expected: 1
            })
        );
    }

    #[test]
    fn payloads_round_trip_and_name_their_kind() {
        let event = sample(&first());
        let decoded = Event::from_payload(&event.payload).unwrap();
        assert_eq!(decoded.kind(), event.kind);
        assert_eq!(decoded.to_payload(), event.payload);
    }

    #[test]
    fn an_event_that_names_people_hashes_its_public_form_and_decodes_whole() {
        let recorded = first();
        assert!(
            !recorded.payload.contains("no document"),
            "the reason is personal"
        );
        let part = recorded.personal.clone().expect("a personal part");
        assert!(part.fields.contains("no document"));
        let Event::PriorityRejected { reason, .. } = recorded.event().unwrap() else {
            panic!("decodes as what was sealed");
        };
        assert_eq!(reason, "no document");
        // Erased: the chain still checks, and the event replays with the placeholder.
        let erased = RecordedEvent {
            personal: None,
            ..recorded.clone()
        };
        ChainChecker::default().check(&erased).unwrap();
        let Event::PriorityRejected { reason, .. } = erased.event().unwrap() else {
            panic!("decodes erased");
        };
        assert_eq!(reason, "");
        // A part altered after the fact does not decode.
        let mut forged = recorded;
        forged.personal.as_mut().unwrap().fields = part.fields.replace("no document", "x");
        assert!(forged.event().is_err());
    }

    #[test]
    fn the_framing_separates_fields() {
        let a = chain_hash(&GENESIS_HASH, 1, 0, "ab", "c", "");
        let b = chain_hash(&GENESIS_HASH, 1, 0, "a", "bc", "");
        assert_ne!(a, b);
    }
}
