//! An audit of a journal that does not trust the allocation code: a plain model of every
//! district's queue, rebuilt event by event, that counts **justified envy** at each referral.
//!
//! Justified envy, as implemented: when a referral gives place P to child R, every child C
//! of P's district that fitted P at that moment and comes before R in the order the
//! district's policy defines is one case. "Fitted" is DOMAIN.md's rule, written out again
//! here: C waits (no referral outstanding, not on the stop list, not enrolled, withdrawn,
//! refused or aged out), is still of preschool age on the first day it could take P (the
//! day of the referral, or P's date if later), was born
//! within P's age band, wants P's language or any, chose P's kindergarten or any, and
//! wants to start no later than P is free. "Comes before" is the key
//! `(tier, registered_at, registration number)`, except in a district with the 1 : 3
//! interleave, where out-of-turn children come first and first-priority and general children
//! then alternate one to three from wherever the district's cycle stands, until one side has
//! nobody left. The cycle is modelled here from the tiers of the referrals themselves; the
//! cycle the service recorded in each event is only compared with it, never used.
//!
//! The model reads events, nothing else: no `QueueState`, no waiting-list index, no
//! `allocation_for`. It shares with the service only the event types and two pieces of
//! configuration the journal does not carry (the local time zone and the school-age rule).

use crate::domain::application::{Application, ApplicationId, Choices};
use crate::domain::catalog::{DistrictId, KindergartenId, Language, SchoolAgeRule, Tier};
use crate::domain::event::Event;
use crate::domain::family::FamilyId;
use crate::domain::intake::RoundId;
use crate::domain::local_date;
use crate::domain::referral::{FreePlace, InterleaveCycle, Lapse, PlaceId, Referral, ReferralId};
use crate::domain::transfer::TransferRequest;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// The regulations' ratio: one first-priority child, then this many general ones. Written
/// here again on purpose, so that a wrong constant in the service would show as envy.
const GENERALS_PER_FIRST: u8 = 3;

/// At most this many cases are described in words; the count has them all.
const EXAMPLES_MAX: usize = 5;

/// The queue order within a district, field by field as DOMAIN.md states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct OrderKey {
    tier: Tier,
    registered_at_micros: i64,
    number: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Standing {
    Waiting,
    OnStopList { until: DateTime<Utc> },
    Referred,
    Left,
}

#[derive(Clone, Debug)]
struct Child {
    key: OrderKey,
    registered_at: DateTime<Utc>,
    birth_date: NaiveDate,
    desired_start: NaiveDate,
    language: Option<Language>,
    choices: Choices,
    standing: Standing,
    referred_before: bool,
}

impl Child {
    /// A child as it enters the queue: in the general tier until a claim is verified.
    fn of(application: &Application) -> Child {
        Child {
            key: OrderKey {
                tier: application.tier,
                registered_at_micros: application.registered_at.timestamp_micros(),
                number: application.id.number.0,
            },
            registered_at: application.registered_at,
            birth_date: application.child.birth_date,
            desired_start: application.desired_start,
            language: application.language,
            choices: application.choices.clone(),
            standing: Standing::Waiting,
            referred_before: false,
        }
    }
}

#[derive(Clone, Debug)]
struct DistrictModel {
    children: BTreeMap<u32, Child>,
    interleave: bool,
    /// Transfers of enrolled children before first-time applicants (the district's policy).
    transfers_first: bool,
    /// General referrals since the last first-priority one; a new cycle starts with the
    /// first-priority turn.
    generals_since_first: u8,
    figures: DistrictEnvy,
}

impl Default for DistrictModel {
    fn default() -> Self {
        DistrictModel {
            children: BTreeMap::new(),
            interleave: false,
            transfers_first: false,
            generals_since_first: GENERALS_PER_FIRST,
            figures: DistrictEnvy::default(),
        }
    }
}

/// Ranked choices. A child is placed when it hands its referral in; its rank is that of the
/// referral's kindergarten in its choices when the referral was issued (1 for "any").
///
/// **Justified envy with respect to ranked choices**: when a referral gives place P of
/// kindergarten K to child R, each child C that comes before R, holds (or handed in) a
/// referral for a place free from P's date at a kindergarten it ranked below K, and fitted P
/// but for holding it, is one case: C would rather have had P, and P went to a child behind
/// it. "Comes before" is the key order; in a district with the 1 : 3 cycle, a first-priority
/// and a general child are not compared (the cycle may rightly put either first), so there
/// the count is a lower bound. `ranked_envy_first` counts only the first referral of each
/// place (the allocation of the places as reported: a round's close, or place by place as
/// they come in); the rest arise when a declined or lapsed place goes on to the next child
/// while children ahead hold referrals elsewhere, under either policy. A **blocking pair** is
/// a distinct (child, kindergarten, date) among the first-referral cases.
///
/// `ranked_envy_round` counts the cases among one intake round's own referrals: a referral
/// its close issued, envied by a child holding a referral of the same round. That is what
/// serial dictatorship promises none of; a place the round left unfilled and gave later,
/// place by place, counts under the first-referral figure but not here.
///
/// A child of a family that takes places only together, holding with its siblings referrals
/// to one kindergarten, is not envious of a place of a kindergarten whose open places (that
/// one among them) could not take each of those siblings: the family chose to stay together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChoiceFigures {
    pub placed: u64,
    pub placed_first_choice: u64,
    pub placed_rank_sum: u64,
    pub ranked_envy: u64,
    pub ranked_envy_first: u64,
    pub blocking_pairs: u64,
    /// Referrals an intake round's close issued.
    pub round_referrals: u64,
    pub ranked_envy_round: u64,
    pub blocking_pairs_round: u64,
}

/// What the audit found. Every count is over the whole journal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFigures {
    pub events: u64,
    pub registrations: u64,
    pub amended: u64,
    pub families: u64,
    pub family_passes: u64,
    pub transfers_requested: u64,
    pub transfers_handed_in: u64,
    pub moved: u64,
    pub priorities_verified: u64,
    pub priorities_rejected: u64,
    pub withdrawn: u64,
    pub refused: u64,
    pub aged_out: u64,
    pub places_reported: u64,
    pub referrals_issued: u64,
    pub handed_in: u64,
    pub declined: u64,
    pub expired: u64,
    pub revoked: u64,
    pub extended: u64,
    pub live_at_end: u64,
    pub waiting_at_end: u64,
    pub open_places_at_end: u64,
    /// Registration to first referral, in seconds, by the child's tier when it was issued.
    pub waits_seconds: BTreeMap<Tier, Vec<i64>>,
    /// Days from the start the parent asked for to the first referral (0 when the referral
    /// came before it), by the same tier: the part of the wait the family felt.
    pub late_days: BTreeMap<Tier, Vec<i64>>,
    pub envy: EnvyFigures,
    /// The ranked choices (issue 18): what the children placed got, and envy with respect
    /// to the order of their choices.
    pub choices: ChoiceFigures,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvyFigures {
    pub referrals_checked: u64,
    /// (passed-over child, referral) pairs: the number that must be 0.
    pub justified_envy: u64,
    pub referrals_with_envy: u64,
    /// Referrals to a child that did not fit the place at that moment.
    pub unfit_recipients: u64,
    /// Referrals in a district with the interleave where both a first-priority and a
    /// general child fitted: the decisions the 1 : 3 cycle actually made.
    pub contested_interleave: u64,
    /// Referrals whose recorded cycle differs from the modelled one.
    pub cycle_disagreements: u64,
    /// Stop lists that ended at another instant than the lapse had set.
    pub stop_list_disagreements: u64,
    /// Together-families whose children were referred apart (other kindergartens, or some
    /// left waiting): the number that must be 0.
    pub split_families: u64,
    /// Open places that a waiting child fitted once the journal ended.
    pub idle_places_at_end: u64,
    /// The first cases, in words, for whoever has to find the bug.
    pub examples: Vec<String>,
    pub per_district: BTreeMap<DistrictId, DistrictEnvy>,
}

/// One district's share of the checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DistrictEnvy {
    pub interleave: bool,
    pub referrals_checked: u64,
    pub justified_envy: u64,
    pub contested_interleave: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuditError {
    #[error("event {seq}: {what} is unknown to the model")]
    Unknown { seq: u64, what: String },
}

/// The independent model; feed it every event in journal order, then `finish`.
#[derive(Default)]
pub struct Audit {
    districts: BTreeMap<DistrictId, DistrictModel>,
    /// Families: their children, and whether they take places only together.
    families: BTreeMap<FamilyId, (Vec<ApplicationId>, bool)>,
    family_of: HashMap<ApplicationId, FamilyId>,
    /// The together-families passed over for each open place (journaled passes): their
    /// children are not envious of whoever takes the place.
    passed: BTreeMap<PlaceId, BTreeSet<FamilyId>>,
    /// The referrals of a together-family's command so far: the family, when, where, and
    /// the children still to be served in it.
    family_batch: Option<(
        FamilyId,
        DateTime<Utc>,
        KindergartenId,
        BTreeSet<ApplicationId>,
    )>,
    /// Waiting transfer requests of enrolled children, in the order they were made.
    transfers: BTreeMap<(DateTime<Utc>, ApplicationId), TransferRequest>,
    /// Live referrals that are transfers.
    live_transfers: BTreeSet<ReferralId>,
    places: BTreeMap<PlaceId, FreePlace>,
    open: BTreeSet<PlaceId>,
    live: BTreeMap<ReferralId, (PlaceId, ApplicationId)>,
    school_age: SchoolAgeRule,
    last_at: Option<DateTime<Utc>>,
    figures: AuditFigures,
    /// Each child's latest first-time referral: its kindergarten, its place's date, and the
    /// round whose close issued it.
    assigned: HashMap<ApplicationId, Assigned>,
    /// The rank of each live first-time referral's kindergarten in its child's choices.
    ranks: HashMap<ReferralId, u32>,
    blocking: BTreeSet<(ApplicationId, KindergartenId, NaiveDate)>,
    blocking_round: BTreeSet<(ApplicationId, KindergartenId, NaiveDate)>,
    /// Places that have had a referral.
    referred_places: std::collections::HashSet<PlaceId>,
}

impl Audit {
    pub fn new() -> Audit {
        Audit::default()
    }

    /// Applies one event, recorded at `at`, to the model; a referral is checked first.
    pub fn observe(&mut self, event: &Event, at: DateTime<Utc>) -> Result<(), AuditError> {
        self.figures.events += 1;
        self.last_at = Some(at);
        let seq = self.figures.events;
        let unknown = |what: &dyn std::fmt::Debug| AuditError::Unknown {
            seq,
            what: format!("{what:?}"),
        };
        self.close_family_batch(event, at);
        match event {
            Event::FamilyRegistered(family) => {
                for member in &family.members {
                    self.family_of.insert(*member, family.id);
                }
                self.families
                    .insert(family.id, (family.members.clone(), family.together));
                self.figures.families += 1;
            }
            Event::FamilyChoiceSet { family, together } => {
                self.families
                    .get_mut(family)
                    .ok_or_else(|| unknown(family))?
                    .1 = *together;
            }
            Event::TransferRequested(request) => {
                self.transfers
                    .insert((request.requested_at, request.id), request.clone());
                self.figures.transfers_requested += 1;
            }
            Event::FamilyPassedOver { family, place } => {
                self.passed.entry(*place).or_default().insert(*family);
                self.figures.family_passes += 1;
            }
            Event::DistrictCreated(district) => {
                self.districts.entry(district.id).or_default();
            }
            Event::PolicySet { district, policy } => {
                let model = self
                    .districts
                    .get_mut(district)
                    .ok_or_else(|| unknown(district))?;
                model.interleave = policy.interleave_first_priority;
                model.transfers_first = policy.transfers_before_first_time;
            }
            Event::ApplicationRegistered(application)
            | Event::ApplicationImported { application, .. } => {
                let id = application.id;
                let model = self
                    .districts
                    .get_mut(&id.district)
                    .ok_or_else(|| unknown(&id))?;
                model.children.insert(id.number.0, Child::of(application));
                self.figures.registrations += 1;
            }
            Event::PriorityVerified { id, tier } => {
                self.child_mut(*id).ok_or_else(|| unknown(id))?.key.tier = *tier;
                self.figures.priorities_verified += 1;
            }
            Event::PriorityRejected { id, .. } => {
                self.child_mut(*id).ok_or_else(|| unknown(id))?.key.tier = Tier::General;
                self.figures.priorities_rejected += 1;
            }
            Event::ApplicationWithdrawn { id }
            | Event::ApplicationAgedOut { id, .. }
            | Event::ApplicationRefused { id, .. } => {
                self.child_mut(*id).ok_or_else(|| unknown(id))?.standing = Standing::Left;
                let counter = match event {
                    Event::ApplicationWithdrawn { .. } => &mut self.figures.withdrawn,
                    Event::ApplicationAgedOut { .. } => &mut self.figures.aged_out,
                    _ => &mut self.figures.refused,
                };
                *counter += 1;
            }
            Event::PlacesReported { places } => {
                for place in places {
                    self.places.insert(place.id, place.clone());
                    self.open.insert(place.id);
                }
                self.figures.places_reported += places.len() as u64;
            }
            Event::ReferralIssued { referral, cycle } if referral.transfer => {
                self.check_transfer(referral, *cycle, seq)?;
            }
            Event::ReferralIssued { referral, cycle } => {
                self.check_referral(referral, *cycle, seq)?;
            }
            Event::ReferralExtended { .. } => self.figures.extended += 1,
            Event::ReferralHandedIn { id, .. } if self.live_transfers.remove(id) => {
                let (place, _) = self.live.remove(id).ok_or_else(|| unknown(id))?;
                self.places.remove(&place);
                self.figures.transfers_handed_in += 1;
            }
            Event::ReferralLapsed { id, .. } if self.live_transfers.remove(id) => {
                let (place, _) = self.live.remove(id).ok_or_else(|| unknown(id))?;
                self.open.insert(place);
            }
            Event::ReferralHandedIn { id, .. } => {
                let (place, application) = self.live.remove(id).ok_or_else(|| unknown(id))?;
                if let Some(rank) = self.ranks.remove(id) {
                    let choices = &mut self.figures.choices;
                    choices.placed += 1;
                    choices.placed_first_choice += u64::from(rank == 1);
                    choices.placed_rank_sum += u64::from(rank);
                }
                self.places.remove(&place);
                self.child_mut(application)
                    .ok_or_else(|| unknown(&application))?
                    .standing = Standing::Left;
                self.figures.handed_in += 1;
            }
            Event::ReferralLapsed {
                id,
                lapse,
                held_until,
                ..
            } => self.lapse(*id, lapse, *held_until, seq)?,
            Event::ApplicationMoved { from, to } => {
                if let Some(family) = self.family_of.remove(from) {
                    let members = &mut self.families.get_mut(&family).expect("known").0;
                    members
                        .iter_mut()
                        .filter(|m| **m == *from)
                        .for_each(|m| *m = to.id);
                    self.family_of.insert(to.id, family);
                }
                let old = self.child_mut(*from).ok_or_else(|| unknown(from))?;
                let standing = old.standing;
                old.standing = Standing::Left;
                let model = self
                    .districts
                    .get_mut(&to.id.district)
                    .ok_or_else(|| unknown(&to.id))?;
                let mut child = Child::of(to);
                child.standing = standing;
                model.children.insert(to.id.number.0, child);
                self.figures.moved += 1;
            }
            // Who applies is not the model's concern: the child waits as before.
            Event::ApplicantRebound { .. } => {}
            Event::ApplicationAmended { id, amendment } => {
                let child = self.child_mut(*id).ok_or_else(|| unknown(id))?;
                child.choices = amendment.choices.clone();
                child.language = amendment.language;
                child.desired_start = amendment.desired_start;
                self.figures.amended += 1;
            }
            Event::StopListEnded { id, at } => {
                let child = self.child_mut(*id).ok_or_else(|| unknown(id))?;
                let on_time = child.standing == Standing::OnStopList { until: *at };
                child.standing = Standing::Waiting;
                if !on_time {
                    self.figures.envy.stop_list_disagreements += 1;
                }
            }
            Event::KindergartenCreated(_)
            | Event::GroupCreated(_)
            | Event::CalendarYearSet { .. }
            | Event::AccessCodeIssued { .. }
            | Event::SurveyAnswered { .. }
            | Event::EducationHeadSet { .. } => {}
            // A withdrawn place was open (nobody fitted it): it is simply no longer offered.
            Event::PlaceWithdrawn { place, .. } => {
                if !self.open.remove(place) {
                    return Err(unknown(place));
                }
                self.places.remove(place);
            }
            // An enrolled child's departure: the place it frees comes as a report of its own.
            Event::ChildLeft { .. }
            | Event::KindergartenChanged(_)
            | Event::GroupChanged(_)
            | Event::CategorySet(_)
            | Event::StaffAccountCreated { .. }
            | Event::StaffAccountChanged { .. }
            | Event::StaffAccountRevoked { .. }
            | Event::IntakeRoundOpened(_)
            | Event::IntakeRoundClosed { .. }
            | Event::AttachmentAdded { .. }
            | Event::DocumentRequested { .. }
            | Event::DocumentReceived { .. }
            | Event::AttachmentInfected { .. }
            | Event::PersonalDataErased { .. } => {}
        }
        Ok(())
    }

    /// The figures, with what is left at the end of the journal.
    pub fn finish(mut self) -> AuditFigures {
        self.figures.choices.blocking_pairs = self.blocking.len() as u64;
        self.figures.choices.blocking_pairs_round = self.blocking_round.len() as u64;
        let today = self.last_at.map(local_date);
        let mut idle = 0;
        for place_id in &self.open {
            let place = &self.places[place_id];
            let Some(model) = self.districts.get(&place.district) else {
                continue;
            };
            // A child of a family passed over for this place (waiting to be placed together)
            // leaves it open by the family's choice.
            let passed = self.passed.get(place_id);
            let excused = |number: u32| self.family_passed(place.district, number, passed);
            let fitted = today.is_some_and(|today| {
                model.children.iter().any(|(number, child)| {
                    fits(child, place, today, &self.school_age) && !excused(*number)
                })
            });
            if fitted && self.figures.envy.examples.len() < EXAMPLES_MAX {
                let fitting: Vec<u32> = today.map_or_else(Vec::new, |today| {
                    model
                        .children
                        .iter()
                        .filter(|(number, child)| {
                            fits(child, place, today, &self.school_age) && !excused(**number)
                        })
                        .map(|(number, _)| *number)
                        .take(5)
                        .collect()
                });
                self.figures.envy.examples.push(format!(
                    "place {} of district {} open at the end of the journal; waiting children \
                     that fit it: {fitting:?}",
                    place_id.0, place.district.0
                ));
            }
            idle += u64::from(fitted);
        }
        let figures = &mut self.figures;
        figures.envy.idle_places_at_end = idle;
        figures.envy.per_district = self
            .districts
            .iter()
            .map(|(id, model)| {
                let interleave = model.interleave;
                (
                    *id,
                    DistrictEnvy {
                        interleave,
                        ..model.figures
                    },
                )
            })
            .collect();
        figures.live_at_end = self.live.len() as u64;
        figures.open_places_at_end = self.open.len() as u64;
        figures.waiting_at_end = self
            .districts
            .values()
            .flat_map(|model| model.children.values())
            .filter(|child| {
                matches!(
                    child.standing,
                    Standing::Waiting | Standing::OnStopList { .. }
                )
            })
            .count() as u64;
        let waits = figures.waits_seconds.values_mut();
        for values in waits.chain(figures.late_days.values_mut()) {
            values.sort_unstable();
        }
        self.figures
    }

    fn child(&self, id: ApplicationId) -> Option<&Child> {
        self.districts.get(&id.district)?.children.get(&id.number.0)
    }

    fn child_mut(&mut self, id: ApplicationId) -> Option<&mut Child> {
        self.districts
            .get_mut(&id.district)?
            .children
            .get_mut(&id.number.0)
    }

    fn lapse(
        &mut self,
        id: ReferralId,
        lapse: &Lapse,
        held_until: DateTime<Utc>,
        seq: u64,
    ) -> Result<(), AuditError> {
        let unknown = |what: String| AuditError::Unknown { seq, what };
        let (place, application) = self
            .live
            .remove(&id)
            .ok_or_else(|| unknown(format!("{id:?}")))?;
        self.open.insert(place);
        let child = self
            .child_mut(application)
            .ok_or_else(|| unknown(format!("{application:?}")))?;
        child.standing = Standing::OnStopList { until: held_until };
        // A priority found unconfirmed drops to the general tier, keeping its time.
        if matches!(
            lapse,
            Lapse::Revoked {
                priority_unconfirmed: true,
                ..
            }
        ) {
            child.key.tier = Tier::General;
        }
        let counter = match lapse {
            Lapse::Declined => &mut self.figures.declined,
            Lapse::Expired => &mut self.figures.expired,
            Lapse::Revoked { .. } => &mut self.figures.revoked,
        };
        *counter += 1;
        Ok(())
    }

    /// Whether child `number` of `district` belongs to one of the `passed` families (passed
    /// over for a place, waiting to be placed together): not envious of its taker.
    fn family_passed(
        &self,
        district: DistrictId,
        number: u32,
        passed: Option<&BTreeSet<FamilyId>>,
    ) -> bool {
        let id = ApplicationId {
            district,
            number: crate::domain::application::RegistrationNumber(number),
        };
        let family = self.family_of.get(&id);
        family.is_some_and(|f| passed.is_some_and(|p| p.contains(f)))
    }

    /// The open place a referral gives.
    fn open_place(&self, referral: &Referral, seq: u64) -> Result<FreePlace, AuditError> {
        self.places
            .get(&referral.place)
            .filter(|_| self.open.contains(&referral.place))
            .cloned()
            .ok_or_else(|| AuditError::Unknown {
                seq,
                what: format!("open {:?}", referral.place),
            })
    }

    /// A transfer referral: unless the district puts transfers first, every waiting
    /// first-time child that fitted the place is a case of envy; and so is every transfer
    /// request made earlier that fitted it.
    fn check_transfer(
        &mut self,
        referral: &Referral,
        recorded_cycle: Option<InterleaveCycle>,
        seq: u64,
    ) -> Result<(), AuditError> {
        let unknown = |what: String| AuditError::Unknown { seq, what };
        let place = self.open_place(referral, seq)?;
        let today = local_date(referral.issued_at);
        let key = self
            .transfers
            .iter()
            .find(|(_, request)| request.id == referral.application)
            .map(|(key, _)| *key)
            .ok_or_else(|| unknown(format!("transfer of {:?}", referral.application)))?;
        let fits_transfer = |request: &TransferRequest| {
            let first_day = today.max(place.available_from);
            request.choices.contains(&place.kindergarten)
                && place.age_band.contains(request.birth_date)
                && self
                    .school_age
                    .is_preschool_on(request.birth_date, first_day)
                && request.language.is_none_or(|l| l == place.language)
        };
        let earlier = self
            .transfers
            .range(..key)
            .filter(|(_, request)| request.id.district == place.district && fits_transfer(request))
            .count() as u64;
        // Children of a family passed over for this place chose to wait together.
        let passed = self.passed.remove(&referral.place).unwrap_or_default();
        let excused = |number: u32| self.family_passed(place.district, number, Some(&passed));
        let model = &self.districts[&place.district];
        let first_time = match model.transfers_first {
            true => 0,
            false => model
                .children
                .iter()
                .filter(|(number, child)| {
                    fits(child, &place, today, &self.school_age) && !excused(**number)
                })
                .count() as u64,
        };
        let envy = &mut self.figures.envy;
        envy.referrals_checked += 1;
        envy.justified_envy += earlier + first_time;
        envy.referrals_with_envy += u64::from(earlier + first_time > 0);
        if earlier + first_time > 0 && envy.examples.len() < EXAMPLES_MAX {
            envy.examples.push(format!(
                "transfer referral {:?} of place {} to №{}: {first_time} first-time child(ren) \
                 and {earlier} earlier transfer request(s) fitted it",
                referral.id, referral.place.0, referral.application.number.0
            ));
        }
        if recorded_cycle.map(|c| c.0) != model.interleave.then_some(model.generals_since_first) {
            envy.cycle_disagreements += 1;
        }
        self.transfers.remove(&key);
        self.open.remove(&referral.place);
        self.live
            .insert(referral.id, (referral.place, referral.application));
        self.live_transfers.insert(referral.id);
        self.figures.referrals_issued += 1;
        Ok(())
    }

    /// Counts the children the policy put before the recipient that fitted the place, then
    /// moves the referral into the model.
    fn check_referral(
        &mut self,
        referral: &Referral,
        recorded_cycle: Option<InterleaveCycle>,
        seq: u64,
    ) -> Result<(), AuditError> {
        let unknown = |what: String| AuditError::Unknown { seq, what };
        let place = self.open_place(referral, seq)?;
        let today = local_date(referral.issued_at);
        let model = self
            .districts
            .get_mut(&place.district)
            .ok_or_else(|| unknown(format!("{:?}", place.district)))?;
        let recipient = model
            .children
            .get(&referral.application.number.0)
            .filter(|_| referral.application.district == place.district)
            .ok_or_else(|| unknown(format!("{:?}", referral.application)))?;
        let recipient_key = recipient.key;
        let recipient_fits = fits(recipient, &place, today, &self.school_age);
        let rank = rank_of(&recipient.choices, place.kindergarten);
        let open_here: Vec<&FreePlace> = self
            .open
            .iter()
            .map(|id| &self.places[id])
            .filter(|p| p.kindergarten == place.kindergarten)
            .collect();
        let together = Together {
            families: &self.families,
            family_of: &self.family_of,
            open_here,
        };
        let ranked = ranked_envy(
            model,
            recipient_key,
            &place,
            today,
            &self.school_age,
            &self.assigned,
            &together,
        );
        // Children of a family passed over for this place chose to wait together; siblings
        // of a together-family recipient are served in the same command.
        let passed = self.passed.remove(&referral.place).unwrap_or_default();
        let together_with_recipient = self
            .family_of
            .get(&referral.application)
            .filter(|f| self.families[*f].1)
            .copied();
        let excused = |number: u32| {
            if number == referral.application.number.0 {
                return false;
            }
            let id = ApplicationId {
                district: place.district,
                number: crate::domain::application::RegistrationNumber(number),
            };
            self.family_of
                .get(&id)
                .is_some_and(|f| passed.contains(f) || Some(*f) == together_with_recipient)
        };
        let fitting: Vec<OrderKey> = model
            .children
            .iter()
            .filter(|(number, child)| {
                fits(child, &place, today, &self.school_age) && !excused(**number)
            })
            .map(|(_, child)| child.key)
            .collect();
        // A together-family's second and later places go with its first, in the same
        // command: the family's turn was the first place's. They are checked in the plain
        // key order (nobody with a smaller key that fitted was passed over), not the
        // cycle's, which the family's turn already consumed.
        let family_continues = together_with_recipient.is_some_and(|family| {
            matches!(self.family_batch, Some((f, at, _, _)) if f == family && at == referral.issued_at)
        });
        let envy = &mut self.figures.envy;
        let contested = model.interleave && has_both(&fitting) && !family_continues;
        let cycle = (model.interleave && !family_continues).then_some(model.generals_since_first);
        let order = policy_order(fitting, cycle);
        // A child that did not fit has no rank for this place: every fitting child was
        // passed over by it.
        let ahead = order
            .iter()
            .position(|key| *key == recipient_key)
            .unwrap_or(order.len());
        let district = &mut model.figures;
        district.referrals_checked += 1;
        district.justified_envy += ahead as u64;
        district.contested_interleave += u64::from(contested);
        envy.referrals_checked += 1;
        envy.contested_interleave += u64::from(contested);
        envy.justified_envy += ahead as u64;
        envy.referrals_with_envy += u64::from(ahead > 0);
        envy.unfit_recipients += u64::from(!recipient_fits);
        if (ahead > 0 || !recipient_fits) && envy.examples.len() < EXAMPLES_MAX {
            envy.examples
                .push(describe(referral, &order[..ahead], recipient_fits));
        }
        if model.interleave {
            model.generals_since_first =
                cycle_after(model.generals_since_first, recipient_key.tier);
        }
        let modelled_cycle = model.interleave.then_some(model.generals_since_first);
        if recorded_cycle.map(|cycle| cycle.0) != modelled_cycle {
            envy.cycle_disagreements += 1;
        }
        self.issue(referral, recipient_key.tier);
        self.figures.choices.ranked_envy += ranked.len() as u64;
        if self.referred_places.insert(place.id) {
            self.figures.choices.ranked_envy_first += ranked.len() as u64;
            for child in &ranked {
                self.blocking
                    .insert((*child, place.kindergarten, place.available_from));
            }
        }
        if referral.round.is_some() {
            self.figures.choices.round_referrals += 1;
            let of_round = |child: &&ApplicationId| self.assigned[*child].round == referral.round;
            for child in ranked.iter().filter(of_round) {
                self.figures.choices.ranked_envy_round += 1;
                self.blocking_round
                    .insert((*child, place.kindergarten, place.available_from));
            }
        }
        self.ranks.insert(referral.id, rank);
        self.assigned.insert(
            referral.application,
            Assigned {
                kindergarten: place.kindergarten,
                date: place.available_from,
                round: referral.round,
            },
        );
        if let Some(family) = together_with_recipient {
            self.note_family_referral(family, referral);
        }
        Ok(())
    }

    /// A referral to a child of a together-family: the first of its command opens the
    /// batch of children who must all be served there, in the same command.
    fn note_family_referral(&mut self, family: FamilyId, referral: &Referral) {
        let batch_open = matches!(self.family_batch, Some((f, at, _, _)) if f == family && at == referral.issued_at);
        if !batch_open {
            let waiting: BTreeSet<ApplicationId> = self.families[&family]
                .0
                .iter()
                .copied()
                .filter(|member| {
                    *member == referral.application
                        || self.child(*member).is_some_and(|c| {
                            matches!(c.standing, Standing::Waiting | Standing::OnStopList { .. })
                        })
                })
                .collect();
            self.family_batch = Some((family, referral.issued_at, referral.kindergarten, waiting));
        }
        let (_, _, kindergarten, waiting) = self.family_batch.as_mut().expect("just opened");
        if *kindergarten != referral.kindergarten {
            self.figures.envy.split_families += 1;
        }
        waiting.remove(&referral.application);
    }

    /// Ends a together-family's batch at the first event that is not another of its
    /// referrals: a child of it still waiting then was split from the others.
    fn close_family_batch(&mut self, event: &Event, at: DateTime<Utc>) {
        let Some((family, batch_at, _, waiting)) = &self.family_batch else {
            return;
        };
        let continues = matches!(event, Event::ReferralIssued { referral, .. }
            if at == *batch_at && self.family_of.get(&referral.application) == Some(family));
        if !continues {
            if !waiting.is_empty() {
                self.figures.envy.split_families += 1;
            }
            self.family_batch = None;
        }
    }

    fn issue(&mut self, referral: &Referral, tier: Tier) {
        self.open.remove(&referral.place);
        self.live
            .insert(referral.id, (referral.place, referral.application));
        self.figures.referrals_issued += 1;
        let child = self
            .child_mut(referral.application)
            .expect("check_referral found the recipient");
        child.standing = Standing::Referred;
        if !child.referred_before {
            child.referred_before = true;
            let wait = (referral.issued_at - child.registered_at).num_seconds();
            let late = (local_date(referral.issued_at) - child.desired_start).num_days();
            self.figures
                .waits_seconds
                .entry(tier)
                .or_default()
                .push(wait);
            self.figures
                .late_days
                .entry(tier)
                .or_default()
                .push(late.max(0));
        }
    }
}

/// DOMAIN.md's "fits", for a child on `today`: a child who reaches school age before it
/// could take the place does not fit it.
fn fits(child: &Child, place: &FreePlace, today: NaiveDate, school_age: &SchoolAgeRule) -> bool {
    let band = &place.age_band;
    let first_day = today.max(place.available_from);
    let chose_it = match &child.choices {
        Choices::Any => true,
        Choices::Listed(kindergartens) => kindergartens.contains(&place.kindergarten),
    };
    child.standing == Standing::Waiting
        && school_age.is_preschool_on(child.birth_date, first_day)
        && band.born_from <= child.birth_date
        && child.birth_date <= band.born_to
        && child
            .language
            .is_none_or(|language| language == place.language)
        && chose_it
        && child.desired_start <= place.available_from
}

/// The rank of `kindergarten` in `choices`, from 1; "any" ranks every kindergarten first.
fn rank_of(choices: &Choices, kindergarten: KindergartenId) -> u32 {
    match choices {
        Choices::Any => 1,
        Choices::Listed(list) => list
            .iter()
            .position(|k| *k == kindergarten)
            .map_or(u32::MAX, |i| i as u32 + 1),
    }
}

/// A child's latest first-time referral, as the ranked-choice figures need it.
#[derive(Clone, Copy, Debug)]
struct Assigned {
    kindergarten: KindergartenId,
    date: NaiveDate,
    round: Option<RoundId>,
}

/// What the ranked-choice count needs to excuse a together-family (see `ChoiceFigures`):
/// the families, and the open places of the referred place's kindergarten, it among them.
struct Together<'a> {
    families: &'a BTreeMap<FamilyId, (Vec<ApplicationId>, bool)>,
    family_of: &'a HashMap<ApplicationId, FamilyId>,
    open_here: Vec<&'a FreePlace>,
}

impl Together<'_> {
    /// Whether `id`, holding `held`, is of a together-family whose children holding
    /// referrals with it could not each have had one of the open places here.
    fn excuses(
        &self,
        id: ApplicationId,
        held: &Assigned,
        model: &DistrictModel,
        assigned: &HashMap<ApplicationId, Assigned>,
        fits_waiting: &dyn Fn(&Child, &FreePlace) -> bool,
    ) -> bool {
        let Some((members, true)) = self.family_of.get(&id).map(|f| &self.families[f]) else {
            return false;
        };
        let with_it: Vec<&Child> = members
            .iter()
            .filter(|m| m.district == id.district)
            .filter(|m| {
                assigned
                    .get(m)
                    .is_some_and(|a| a.kindergarten == held.kindergarten && a.date == held.date)
            })
            .filter_map(|m| model.children.get(&m.number.0))
            .collect();
        with_it.len() >= 2 && !seats_each(&with_it, &self.open_here, fits_waiting)
    }
}

/// Whether each of `children` can have a different one of `places` it fits (augmenting
/// paths, written here again: a family has a handful of children).
fn seats_each(
    children: &[&Child],
    places: &[&FreePlace],
    fits: &dyn Fn(&Child, &FreePlace) -> bool,
) -> bool {
    fn seat(
        c: usize,
        children: &[&Child],
        places: &[&FreePlace],
        fits: &dyn Fn(&Child, &FreePlace) -> bool,
        seen: &mut [bool],
        holder: &mut [Option<usize>],
    ) -> bool {
        for p in 0..places.len() {
            if seen[p] || !fits(children[c], places[p]) {
                continue;
            }
            seen[p] = true;
            if holder[p].is_none_or(|other| seat(other, children, places, fits, seen, holder)) {
                holder[p] = Some(c);
                return true;
            }
        }
        false
    }
    let mut holder = vec![None; places.len()];
    (0..children.len()).all(|c| {
        let mut seen = vec![false; places.len()];
        seat(c, children, places, fits, &mut seen, &mut holder)
    })
}

/// The children with ranked-choice envy of `place` going to the child keyed `recipient` (see
/// `ChoiceFigures`).
fn ranked_envy(
    model: &DistrictModel,
    recipient: OrderKey,
    place: &FreePlace,
    today: NaiveDate,
    school_age: &SchoolAgeRule,
    assigned: &HashMap<ApplicationId, Assigned>,
    together: &Together<'_>,
) -> Vec<ApplicationId> {
    // A child holding a referral, as if it waited: whether it would fit `place`.
    let fits_waiting = |child: &Child, place: &FreePlace| {
        let waiting = Child {
            standing: Standing::Waiting,
            ..child.clone()
        };
        fits(&waiting, place, today, school_age)
    };
    let comparable = |key: OrderKey| {
        !(model.interleave
            && key.tier != recipient.tier
            && key.tier != Tier::OutOfTurn
            && recipient.tier != Tier::OutOfTurn)
    };
    model
        .children
        .values()
        .filter(|child| child.key < recipient && comparable(child.key))
        .filter_map(|child| {
            let id = ApplicationId {
                district: place.district,
                number: crate::domain::application::RegistrationNumber(child.key.number),
            };
            let held = assigned.get(&id)?;
            let holds = matches!(child.standing, Standing::Referred | Standing::Left);
            (holds
                && held.date == place.available_from
                && rank_of(&child.choices, place.kindergarten)
                    < rank_of(&child.choices, held.kindergarten)
                && fits_waiting(child, place)
                && !together.excuses(id, held, model, assigned, &fits_waiting))
            .then_some(id)
        })
        .collect()
}

fn has_both(keys: &[OrderKey]) -> bool {
    keys.iter().any(|key| key.tier == Tier::First)
        && keys.iter().any(|key| key.tier == Tier::General)
}

fn cycle_after(generals_since_first: u8, tier: Tier) -> u8 {
    match tier {
        Tier::OutOfTurn => generals_since_first,
        Tier::First => 0,
        Tier::General => (generals_since_first + 1).min(GENERALS_PER_FIRST),
    }
}

/// The fitting children in the order the policy serves them: by key; or, with the
/// interleave (`Some(generals since the last first-priority referral)`), out-of-turn first,
/// then first-priority and general merged one to three while both sides have someone.
fn policy_order(mut fitting: Vec<OrderKey>, interleave: Option<u8>) -> Vec<OrderKey> {
    fitting.sort_unstable();
    let Some(mut generals_since_first) = interleave else {
        return fitting;
    };
    let mut order: Vec<OrderKey> = Vec::with_capacity(fitting.len());
    let mut first = VecDeque::new();
    let mut general = VecDeque::new();
    for key in fitting {
        match key.tier {
            Tier::OutOfTurn => order.push(key),
            Tier::First => first.push_back(key),
            Tier::General => general.push_back(key),
        }
    }
    loop {
        let first_turn = match (first.is_empty(), general.is_empty()) {
            (true, true) => break,
            (false, true) => true,
            (true, false) => false,
            (false, false) => generals_since_first >= GENERALS_PER_FIRST,
        };
        let side = if first_turn { &mut first } else { &mut general };
        let key = side.pop_front().expect("the side has someone");
        generals_since_first = cycle_after(generals_since_first, key.tier);
        order.push(key);
    }
    order
}

fn describe(referral: &Referral, passed_over: &[OrderKey], recipient_fits: bool) -> String {
    let numbers: Vec<String> = passed_over
        .iter()
        .take(3)
        .map(|key| format!("№{} ({:?})", key.number, key.tier))
        .collect();
    format!(
        "referral {:?} of place {} to №{}{}: passed over {} child(ren), first {}",
        referral.id,
        referral.place.0,
        referral.application.number.0,
        if recipient_fits {
            ""
        } else {
            " (who did not fit)"
        },
        passed_over.len(),
        numbers.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::application::{
        Applicant, Application, ApplicationStatus, Channel, Child as ChildData, ClaimStatus,
        PriorityClaim, RegistrationNumber, Relation,
    };
    use crate::domain::catalog::{AgeBand, District, KindergartenId, Names};
    use crate::domain::iin::{Iin, Sex};
    use crate::domain::referral::{DistrictPolicy, ReferralNumber};
    use chrono::{Duration, TimeZone};

    const DISTRICT: DistrictId = DistrictId(1);
    const KINDERGARTEN: KindergartenId = KindergartenId(1);

    fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, 1, 4, 0, 0).unwrap()
    }

    fn birth() -> NaiveDate {
        NaiveDate::from_ymd_opt(2023, 5, 10).unwrap()
    }

    /// A story told in events, each a minute after the one before.
    struct History {
        audit: Audit,
        at: DateTime<Utc>,
        places: u64,
        referrals: u32,
    }

    impl History {
        fn new(interleave: bool) -> History {
            let mut history = History {
                audit: Audit::new(),
                at: start(),
                places: 0,
                referrals: 0,
            };
            history.record(Event::DistrictCreated(District {
                id: DISTRICT,
                code: "ESL".into(),
                names: Names {
                    kk: "Есіл".into(),
                    ru: "Есиль".into(),
                },
                languages: vec![Language::KAZAKH],
            }));
            let policy = DistrictPolicy {
                interleave_first_priority: interleave,
                ..DistrictPolicy::default()
            };
            history.record(Event::PolicySet {
                district: DISTRICT,
                policy,
            });
            history
        }

        fn record(&mut self, event: Event) {
            self.at += Duration::minutes(1);
            self.audit.observe(&event, self.at).unwrap();
        }

        /// Registers child `number` (numbers must rise), in `tier` once verified.
        fn register(&mut self, number: u32, tier: Tier) -> ApplicationId {
            let id = ApplicationId {
                district: DISTRICT,
                number: RegistrationNumber(number),
            };
            let claim = (tier != Tier::General).then(|| PriorityClaim {
                category: "orphan".into(),
                document: "№ 1".into(),
                status: ClaimStatus::Claimed,
            });
            self.record(Event::ApplicationRegistered(application(
                id,
                claim,
                birth(),
            )));
            if tier != Tier::General {
                self.record(Event::PriorityVerified { id, tier });
            }
            id
        }

        fn report_place(&mut self) -> PlaceId {
            self.places += 1;
            let place = FreePlace {
                id: PlaceId(self.places),
                district: DISTRICT,
                kindergarten: KINDERGARTEN,
                group: None,
                age_band: AgeBand::new(date(2020, 1, 1), date(2023, 12, 31)).unwrap(),
                language: Language::KAZAKH,
                available_from: NaiveDate::from_ymd_opt(2027, 9, 1).unwrap(),
                reported_at: self.at,
            };
            let id = place.id;
            self.record(Event::PlacesReported {
                places: vec![place],
            });
            id
        }

        /// A new place, referred to `to`; `cycle` is what the service would have recorded.
        fn refer(&mut self, to: ApplicationId, cycle: Option<u8>) -> ReferralId {
            let place = self.report_place();
            self.referrals += 1;
            let id = ReferralId {
                district: DISTRICT,
                number: ReferralNumber(self.referrals),
            };
            let referral = Referral::issued(
                id,
                &self.audit.places[&place].clone(),
                to,
                self.at,
                self.at + Duration::days(7),
            );
            self.record(Event::ReferralIssued {
                referral,
                cycle: cycle.map(InterleaveCycle),
            });
            id
        }

        fn envy(self) -> EnvyFigures {
            self.audit.finish().envy
        }
    }

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    fn application(
        id: ApplicationId,
        priority: Option<PriorityClaim>,
        birth_date: NaiveDate,
    ) -> Application {
        let iin = |date, serial| Iin::synthesize(date, Sex::Female, serial).unwrap();
        let parent_birth = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap();
        Application {
            id,
            registered_at: start() + Duration::seconds(i64::from(id.number.0)),
            child: ChildData {
                iin: iin(birth_date, id.number.0 as u16),
                full_name: "Қасымова Әйгерім".into(),
                birth_date,
                sex: Sex::Female,
            },
            applicant: Applicant {
                iin: iin(parent_birth, id.number.0 as u16),
                full_name: "Қасымов Арман".into(),
                phone: "+77012345678".into(),
                email: None,
                address: "Астана".into(),
                relation: Relation::Father,
            },
            desired_start: NaiveDate::from_ymd_opt(2027, 3, 1).unwrap(),
            choices: Choices::Listed(vec![KINDERGARTEN]),
            language: Some(Language::KAZAKH),
            priority,
            tier: Tier::General,
            status: ApplicationStatus::Queued,
            channel: Channel::Portal,
            entered_by: None,
            moved_from: None,
            legacy_number: None,
            held_until: None,
        }
    }

    #[test]
    fn a_child_skipped_for_a_later_one_is_one_case_of_envy() {
        let mut history = History::new(false);
        let earlier = history.register(1, Tier::General);
        let later = history.register(2, Tier::General);
        history.refer(later, None);
        history.refer(earlier, None);

        let envy = history.envy();

        assert_eq!(envy.referrals_checked, 2);
        assert_eq!(envy.justified_envy, 1, "{:?}", envy.examples);
        assert_eq!(envy.referrals_with_envy, 1);
        assert_eq!(envy.unfit_recipients, 0);
    }

    #[test]
    fn places_in_queue_order_and_a_child_on_the_stop_list_passed_over_are_no_envy() {
        let mut history = History::new(false);
        let first = history.register(1, Tier::General);
        let second = history.register(2, Tier::General);
        let priority = history.register(3, Tier::First);
        let lapsed = history.refer(priority, None);
        history.record(Event::ReferralLapsed {
            id: lapsed,
            application: Some(priority),
            at: history.at,
            lapse: Lapse::Declined,
            held_until: history.at + Duration::days(10),
        });
        history.refer(first, None);
        history.refer(second, None);

        let envy = history.envy();

        assert_eq!(envy.referrals_checked, 3);
        assert_eq!(envy.justified_envy, 0, "{:?}", envy.examples);
        assert_eq!(envy.stop_list_disagreements, 0);
        assert_eq!(
            envy.idle_places_at_end, 0,
            "the declined place fits nobody waiting"
        );
    }

    #[test]
    fn with_the_interleave_one_first_priority_then_three_general_is_no_envy() {
        let mut history = History::new(true);
        let general: Vec<_> = (1..=4)
            .map(|n| history.register(n, Tier::General))
            .collect();
        let first = [
            history.register(5, Tier::First),
            history.register(6, Tier::First),
        ];
        history.refer(first[0], Some(0));
        for (index, child) in general[..3].iter().enumerate() {
            history.refer(*child, Some(index as u8 + 1));
        }
        history.refer(first[1], Some(0));

        let envy = history.envy();

        assert_eq!(envy.justified_envy, 0, "{:?}", envy.examples);
        assert_eq!(envy.contested_interleave, 5);
        assert_eq!(envy.cycle_disagreements, 0);
    }

    #[test]
    fn with_the_interleave_a_general_child_served_on_the_first_priority_turn_is_envy() {
        let mut history = History::new(true);
        let general = history.register(1, Tier::General);
        let first = history.register(2, Tier::First);
        // The cycle starts on the first-priority turn: plain key order would be right here.
        history.refer(general, Some(3));
        history.refer(first, Some(0));

        let envy = history.envy();

        assert_eq!(envy.justified_envy, 1, "{:?}", envy.examples);
        assert_eq!(envy.cycle_disagreements, 0);
    }

    #[test]
    fn a_place_given_to_a_child_the_midnight_it_reaches_school_age_is_envy_of_those_who_fit() {
        let mut history = History::new(false);
        // Born 11 Sep 2020: of school age from 1 Sep 2027, local time.
        let id = ApplicationId {
            district: DISTRICT,
            number: RegistrationNumber(1),
        };
        let leaving = application(id, None, date(2020, 9, 11));
        history.record(Event::ApplicationRegistered(leaving));
        let younger = history.register(2, Tier::General);
        history.at = Utc.with_ymd_and_hms(2027, 8, 31, 19, 0, 0).unwrap();
        history.refer(id, None);

        let envy = history.envy();

        assert_eq!(envy.unfit_recipients, 1);
        assert_eq!(
            envy.justified_envy, 1,
            "the younger child fitted: {younger:?}"
        );
    }

    #[test]
    fn a_place_free_from_the_day_a_child_reaches_school_age_does_not_fit_it() {
        let mut history = History::new(false);
        // Born 11 Sep 2020: of school age from 1 Sep 2027, the day the places are free.
        let id = ApplicationId {
            district: DISTRICT,
            number: RegistrationNumber(1),
        };
        history.record(Event::ApplicationRegistered(application(
            id,
            None,
            date(2020, 9, 11),
        )));
        let younger = history.register(2, Tier::General);
        history.at = Utc.with_ymd_and_hms(2027, 8, 20, 5, 0, 0).unwrap();
        history.refer(id, None);
        history.refer(younger, None);

        let envy = history.envy();

        assert_eq!(envy.unfit_recipients, 1);
        assert_eq!(envy.justified_envy, 1, "{:?}", envy.examples);
    }

    #[test]
    fn a_recorded_cycle_that_differs_from_the_model_is_reported() {
        let mut history = History::new(true);
        let first = history.register(1, Tier::First);
        history.refer(first, Some(2));

        let envy = history.envy();

        assert_eq!(envy.justified_envy, 0);
        assert_eq!(envy.cycle_disagreements, 1);
    }
}
