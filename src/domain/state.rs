//! The live state of the queue, as a fold over events: the catalog, the waiting list, the
//! places not yet filled, the live referrals, the stop list and every pending deadline.
//!
//! The writer applies each event here as it records it; `verify` applies the whole journal
//! to a fresh value and compares. Both go through [`QueueState::apply`]. The allocation
//! rule (who gets a place) is here too, as pure functions of the state, so that the service,
//! the replay and the property tests ask the same question of the same code.

use super::amendment::Amendment;
use super::application::RegistrationNumber;
use super::application::{Application, ApplicationId, ApplicationStatus};
use super::calendar::YearCalendar;
use super::catalog::{Catalog, DistrictId, Tier};
use super::event::Event;
use super::family::{Family, FamilyId};
use super::intake::{IntakeRound, RoundId};
use super::referral::{
    DistrictPolicy, FreePlace, InterleaveCycle, Lapse, PlaceId, Referral, ReferralId,
    ReferralNumber,
};
use super::transfer::TransferRequest;
use super::waiting_list::{
    CompactChoices, Place, Position, Waiting, WaitingList, WaitingListError,
};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Something that falls due at an instant. Ordered, so the earliest comes first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Deadline {
    ReferralExpires(ReferralId),
    StopListEnds(ApplicationId),
    /// An intake round closes and allocates its places.
    RoundCloses(RoundId),
}

/// A referral that is issued and not yet ended, with what its child needs to return to the
/// waiting list should it lapse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveReferral {
    pub referral: Referral,
    pub waiting: Waiting,
}

#[derive(Default)]
pub struct QueueState {
    pub catalog: Catalog,
    pub waiting: WaitingList,
    /// Places reported and not yet filled: open, or held by a live referral.
    pub places: BTreeMap<PlaceId, FreePlace>,
    /// The places of each district that no live referral holds. Invariant: no waiting,
    /// unheld application fits any of them (a fitting one would have been given it).
    pub open_places: BTreeMap<DistrictId, BTreeSet<PlaceId>>,
    pub live: HashMap<ReferralId, LiveReferral>,
    pub referral_of: HashMap<ApplicationId, ReferralId>,
    /// Applications on the stop list, and until when.
    pub held: HashMap<ApplicationId, DateTime<Utc>>,
    pub deadlines: BTreeSet<(DateTime<Utc>, Deadline)>,
    pub cycles: HashMap<DistrictId, InterleaveCycle>,
    /// Each application's access-code hash, its first 64 bits (see `access::prefix`): a
    /// parent's look-up is checked here, without reading the database.
    pub access: rustc_hash::FxHashMap<ApplicationId, u64>,
    /// Every application (ended ones too) under its applicant, the IIN as a number
    /// (`Iin::as_u64`): a signed-in parent's list is found here, not through an index on
    /// `applications.applicant_iin`, whose random key cost every registration a WAL page of
    /// its own (docs/PERFORMANCE.md, "Registration throughput"). About 20 B an application.
    pub applicants: BTreeSet<(u64, ApplicationId)>,
    /// The journals' counters, derived from the events: the next number is always the last
    /// one plus one, so numbers are gapless by construction, and `apply` refuses any other.
    pub counters: BTreeMap<DistrictId, Counters>,
    pub last_place_id: u64,
    /// Families of children registered together, and each member's family.
    pub families: BTreeMap<FamilyId, Family>,
    pub family_of: HashMap<ApplicationId, FamilyId>,
    /// The place each enrolled child holds (through a referral handed in): one per child.
    pub enrolled: HashMap<ApplicationId, FreePlace>,
    /// Each district's transfer queue, in the order the requests were made.
    pub transfers: BTreeMap<DistrictId, BTreeMap<(i64, ApplicationId), TransferRequest>>,
    /// When each waiting transfer request was made (its key in `transfers`).
    pub transfer_of: HashMap<ApplicationId, i64>,
    /// The intake rounds open now (at most one per district), and the places each collected:
    /// reported, not open, not given until the round closes.
    pub rounds: BTreeMap<RoundId, IntakeRound>,
    pub round_places: BTreeMap<RoundId, BTreeSet<PlaceId>>,
    /// The last round's number (0 before the first).
    pub last_round: u32,
    /// The dates of the rounds closed in each district: a place reported for one of them
    /// afterwards is refused (its round allocated already), unless a new round collects it.
    pub closed_rounds: BTreeSet<(DistrictId, chrono::NaiveDate)>,
    /// The reports' aggregates (issue 17), folded in `apply_tracked`, which knows the
    /// event's time; start-up folds the journal into them once (`store::read`).
    pub reports: super::reports::Reports,
}

/// Who takes a place: one child, or a family that takes places only together (each child
/// its place of one kindergarten, the place in hand among them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Taker {
    One(ApplicationId),
    /// An enrolled child's transfer request.
    Transfer(ApplicationId),
    Family {
        family: FamilyId,
        plan: Vec<(ApplicationId, PlaceId)>,
    },
}

/// A family's children, each with the place it takes.
pub type FamilyPlan = Vec<(ApplicationId, PlaceId)>;

/// The allocation of one place: the together-families passed over on the way (their
/// children came first but could not be placed together), and who takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    pub passed: Vec<FamilyId>,
    pub taker: Option<Taker>,
}

/// What an event did to applications, beyond the state: kept by the store for histories.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// The applications the event concerns (their status histories list it).
    pub touched: Vec<ApplicationId>,
    /// Entries into (+1) and exits from (-1) a cohort of the waiting list.
    pub moves: Vec<Move>,
}

/// An application entering or leaving its birth-year cohort of a district's waiting list,
/// with its order key (see `QueueKey::order_key`). A change of tier is an exit and an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Move {
    pub id: ApplicationId,
    pub cohort: i32,
    pub order_key: i64,
    pub delta: i8,
    pub at: DateTime<Utc>,
}

/// A district's journal counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// The last registration number given (0 before the first).
    pub registrations: u32,
    /// Its registration time: later numbers are never registered earlier.
    pub last_registered_at_micros: i64,
    /// The last referral number given.
    pub referrals: u32,
}

/// An event that cannot follow the state it is applied to. In a journal this is corruption;
/// from the service it is a bug. Either way it is reported, never skipped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("unknown district {0:?}")]
    UnknownDistrict(DistrictId),
    #[error("{0} already exists")]
    Duplicate(String),
    #[error("{0} is not in a state that allows this event")]
    Invalid(String),
    #[error(transparent)]
    WaitingList(#[from] WaitingListError),
}

impl Waiting {
    pub fn of(application: &Application) -> Waiting {
        Waiting {
            key: application.key(),
            birth_date: application.child.birth_date,
            desired_start: application.desired_start,
            language: application.language,
            choices: CompactChoices::from_choices(&application.choices),
            held: application.held_until.is_some(),
        }
    }
}

impl Waiting {
    /// What an enrolled child's transfer request asks of a place, kept with its referral as
    /// a waiting application's is (start-up rebuilds it the same way).
    pub fn of_transfer(request: &TransferRequest) -> Waiting {
        Waiting {
            key: super::application::QueueKey {
                tier: Tier::General,
                registered_at_micros: request.requested_at.timestamp_micros(),
                number: request.id.number,
            },
            birth_date: request.birth_date,
            desired_start: super::local_date(request.requested_at),
            language: request.language,
            choices: CompactChoices::from_choices(&super::application::Choices::Listed(
                request.choices.clone(),
            )),
            held: false,
        }
    }
}

impl QueueState {
    pub fn policy(&self, district: DistrictId) -> DistrictPolicy {
        self.catalog
            .policies
            .get(&district)
            .copied()
            .unwrap_or_default()
    }

    pub fn cycle(&self, district: DistrictId) -> InterleaveCycle {
        self.cycles.get(&district).copied().unwrap_or_default()
    }

    /// A waiting application's position, honest about its district's policy: the number of
    /// referrals that would go in its cohort before it if no one else joined. Without the
    /// 1 : 3 interleave that is its rank; with it, the cycle is played out from where the
    /// district's stands, and likewise for each chosen kindergarten and "any". (The cycle
    /// is the district's, shared by every cohort; places for other cohorts move it too, which
    /// no estimate can foresee.)
    /// Only the place in the cohort of `position` (the same figure, the 1 : 3 cycle played
    /// out where the district has it on), at the cost of one rank where the cycle is off.
    pub fn cohort_position(&self, id: ApplicationId) -> Option<u32> {
        if !self.policy(id.district).interleave_first_priority {
            return self.waiting.cohort_position(id).map(|(place, _)| place);
        }
        let splits = self.waiting.tier_splits(id)?;
        Some(self.cycle(id.district).turns_before(&splits.cohort) + 1)
    }

    pub fn position(&self, id: ApplicationId) -> Option<Position> {
        let mut position = self.waiting.position(id)?;
        if !self.policy(id.district).interleave_first_priority {
            return Some(position);
        }
        let cycle = self.cycle(id.district);
        let splits = self.waiting.tier_splits(id)?;
        position.in_cohort = cycle.turns_before(&splits.cohort) + 1;
        // A kindergarten's places go to those who listed it and those who take any, one
        // queue: its count is played out over both, less the "any" share shown beside it.
        let any = &splits.taking_any;
        position.ahead_taking_any = cycle.turns_before(any);
        position.ahead_per_kindergarten = splits
            .per_kindergarten
            .iter()
            .map(|(kindergarten, listed)| {
                let both = listed.joined(any);
                let turns = cycle.turns_before(&both);
                (
                    *kindergarten,
                    turns.saturating_sub(position.ahead_taking_any),
                )
            })
            .collect();
        Some(position)
    }

    /// The number and time the next registration in `district` gets at `now_micros`: time
    /// never goes back within a district, even if the clock does.
    pub fn next_registration(
        &self,
        district: DistrictId,
        now_micros: i64,
    ) -> (RegistrationNumber, i64) {
        let counters = self.counters.get(&district).copied().unwrap_or_default();
        let at = now_micros.max(counters.last_registered_at_micros);
        (RegistrationNumber(counters.registrations + 1), at)
    }

    pub fn next_referral_number(&self, district: DistrictId) -> ReferralNumber {
        let counters = self.counters.get(&district).copied().unwrap_or_default();
        ReferralNumber(counters.referrals + 1)
    }

    pub fn next_place_id(&self) -> PlaceId {
        PlaceId(self.last_place_id + 1)
    }

    pub fn next_family_id(&self) -> FamilyId {
        FamilyId(self.families.keys().next_back().map_or(1, |f| f.0 + 1))
    }

    /// The family `id` belongs to when it takes places only together and has at least two
    /// children waiting (one alone is placed as anyone is).
    pub fn together_family(&self, id: ApplicationId) -> Option<&Family> {
        let family = &self.families[self.family_of.get(&id)?];
        let waiting = family
            .members
            .iter()
            .filter(|m| self.waiting.get(**m).is_some())
            .count();
        (family.together && waiting >= 2).then_some(family)
    }

    /// Places for every waiting child of `family` at `place`'s kindergarten, `place` among
    /// them, from the places open there: the family-together rule. Another open place is
    /// the family's to take only if no child with a smaller key (but those of `passed`
    /// families) fits it: a family's turn for one place is not a turn for all. With the plan,
    /// the families together found ahead for a further place that could not have their
    /// places there now: they are passed over for it too.
    pub fn plan_together(
        &self,
        family: &Family,
        place: &FreePlace,
        today: NaiveDate,
        passed: &[FamilyId],
    ) -> Option<(FamilyPlan, Vec<FamilyId>)> {
        let children: Vec<ApplicationId> = family
            .members
            .iter()
            .copied()
            .filter(|m| self.waiting.get(*m).is_some())
            .collect();
        let first_key = children
            .iter()
            .filter_map(|c| self.waiting.get(*c).map(|w| w.key))
            .min()?;
        // Families found ahead of this one for a further place that cannot have their own
        // places together now: passed over for it, as they would be if it were allocated
        // alone (otherwise the outcome would hang on the order places were reported in).
        let mut also_passed: Vec<FamilyId> = Vec::new();
        // In the plain key order, whatever the district's 1 : 3 cycle: the family's turn came
        // with the place in hand; a further place is its own only if no child with a smaller
        // key fits it (the audit checks the same), a family together that cannot be placed
        // now aside.
        let nobody_ahead = |other: &FreePlace, also_passed: &mut Vec<FamilyId>| loop {
            let fit = self.fit_of(other, today);
            let skipped = |id: ApplicationId| {
                self.family_of.get(&id).is_some_and(|f| {
                    *f == family.id || passed.contains(f) || also_passed.contains(f)
                })
            };
            let Some(id) = self
                .waiting
                .first_fit_skipping(other.district, &fit, None, &skipped)
            else {
                return true;
            };
            if self.waiting.get(id).is_none_or(|w| w.key > first_key) {
                return true;
            }
            let Some(ahead) = self.together_family(id) else {
                return false;
            };
            let mut theirs_passed: Vec<FamilyId> = passed.to_vec();
            theirs_passed.push(family.id);
            theirs_passed.extend(also_passed.iter().copied());
            if self
                .plan_together(ahead, other, today, &theirs_passed)
                .is_some()
            {
                return false;
            }
            also_passed.push(ahead.id);
        };
        let open: Vec<PlaceId> = self
            .open_places
            .get(&place.district)?
            .iter()
            .copied()
            .collect();
        let mut places = Vec::new();
        for p in open {
            let other = &self.places[&p];
            if other.kindergarten == place.kindergarten
                && (p == place.id || nobody_ahead(other, &mut also_passed))
            {
                places.push(p);
            }
        }
        let fits = |child: ApplicationId, p: PlaceId| {
            let waiting = self.waiting.get(child).expect("a waiting child");
            waiting.fits(&self.fit_of(&self.places[&p], today))
        };
        let plan = super::family::plan_together(&children, &places, place.id, fits)?;
        Some((plan, also_passed))
    }

    /// Who takes `place` on `today`, whole: the first fitting application in the district's
    /// order (`choose_for`), except that a family that takes places only together and
    /// cannot have them here is passed over, keeping its position, and the search goes on
    /// behind it.
    pub fn allocation_for(&self, place: &FreePlace, today: NaiveDate) -> Allocation {
        let transfer = || {
            self.transfer_for(place, today).map(|id| Allocation {
                passed: Vec::new(),
                taker: Some(Taker::Transfer(id)),
            })
        };
        let policy = self.policy(place.district);
        if policy.transfers_before_first_time {
            if let Some(allocation) = transfer() {
                return allocation;
            }
        }
        let first_time = self.first_time_allocation(place, today);
        match first_time.taker {
            // The families passed over on the way stay on the record: the transfer takes the
            // place only because they chose to wait together.
            None if !policy.transfers_before_first_time => match transfer() {
                Some(allocation) => Allocation {
                    passed: first_time.passed,
                    ..allocation
                },
                None => first_time,
            },
            _ => first_time,
        }
    }

    /// The first transfer request, by the time it was made, that `place` fits: the child
    /// wants its kindergarten, is born in its band (and still of preschool age when it can be
    /// taken), and its group language is the place's or any.
    pub fn transfer_for(&self, place: &FreePlace, today: NaiveDate) -> Option<ApplicationId> {
        let fit = self.fit_of(place, today);
        self.transfers
            .get(&place.district)?
            .values()
            .find(|request| {
                request.choices.contains(&place.kindergarten)
                    && fit.age_band.contains(request.birth_date)
                    && request.language.is_none_or(|l| l == place.language)
            })
            .map(|request| request.id)
    }

    /// Who among first-time applicants takes `place` (see `allocation_for`).
    fn first_time_allocation(&self, place: &FreePlace, today: NaiveDate) -> Allocation {
        let mut passed: Vec<FamilyId> = Vec::new();
        loop {
            let skipped = |id: ApplicationId| {
                self.family_of
                    .get(&id)
                    .is_some_and(|family| passed.contains(family))
            };
            let Some((id, _)) = self.choose_for(place, today, &skipped) else {
                return Allocation {
                    passed,
                    taker: None,
                };
            };
            let Some(family) = self.together_family(id) else {
                return Allocation {
                    passed,
                    taker: Some(Taker::One(id)),
                };
            };
            match self.plan_together(family, place, today, &passed) {
                Some((plan, also_passed)) => {
                    passed.extend(also_passed);
                    return Allocation {
                        passed,
                        taker: Some(Taker::Family {
                            family: family.id,
                            plan,
                        }),
                    };
                }
                None => passed.push(family.id),
            }
        }
    }

    /// The referral that gives `place` to `application` at `now`, with the district's
    /// 1 : 3 cycle after it when the policy is on (from `cycle`, the cycle before it).
    pub fn referral_to(
        &self,
        place: PlaceId,
        application: ApplicationId,
        now: DateTime<Utc>,
        number: ReferralNumber,
        cycle: InterleaveCycle,
    ) -> (Referral, Option<InterleaveCycle>) {
        let free = &self.places[&place];
        let policy = self.policy(free.district);
        let valid_until = policy.validity_end(now, &self.catalog.calendar);
        let id = ReferralId {
            district: free.district,
            number,
        };
        let mut referral = Referral::issued(id, free, application, now, valid_until);
        // A child with a waiting transfer request is enrolled: its referral is a transfer,
        // which stands outside the first-time applicants' 1 : 3 cycle.
        referral.transfer = self.transfer_of.contains_key(&application);
        let tier = self.waiting.get(application).map(|w| w.key.tier);
        let after = policy
            .interleave_first_priority
            .then(|| tier.map_or(cycle, |tier| cycle.after(tier)));
        (referral, after)
    }

    fn count_registration(&mut self, application: &Application) -> Result<(), StateError> {
        let id = application.id;
        let at = application.registered_at.timestamp_micros();
        let counters = self.counters.entry(id.district).or_default();
        if id.number.0 != counters.registrations + 1 || at < counters.last_registered_at_micros {
            return Err(StateError::Invalid(format!(
                "{id:?} is out of journal order"
            )));
        }
        counters.registrations = id.number.0;
        counters.last_registered_at_micros = at;
        Ok(())
    }

    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// What taking `place` on `today` asks of a child: the place's own conditions, and to be
    /// still of preschool age on the first day the place can be taken (today, or the place's
    /// date if later). A child who reaches school age on 1 September cannot use a place
    /// free from that day, even while the aging-out sweep has not yet run. The age condition
    /// narrows the birth-date band, so the index and the reference models apply it through
    /// `Waiting::fits` like every other condition.
    pub fn fit_of(&self, place: &FreePlace, today: NaiveDate) -> Place {
        let mut fit = place.as_place();
        let first_day = today.max(place.available_from);
        let earliest = self
            .catalog
            .school_age
            .earliest_birth_preschool_on(first_day);
        fit.age_band.born_from = fit.age_band.born_from.max(earliest);
        fit
    }

    /// Who comes first for `place` on `today` among the applications `skipped` does not
    /// name: the first fitting one in the order the district's policy defines, with the
    /// cycle after it when the 1 : 3 interleave is on (`allocation_for` adds families and
    /// transfers).
    fn choose_for(
        &self,
        place: &FreePlace,
        today: NaiveDate,
        skipped: &dyn Fn(ApplicationId) -> bool,
    ) -> Option<(ApplicationId, Option<InterleaveCycle>)> {
        let fit = self.fit_of(place, today);
        let district = place.district;
        if !self.policy(district).interleave_first_priority {
            return self
                .waiting
                .first_fit_skipping(district, &fit, None, skipped)
                .map(|id| (id, None));
        }
        let in_tier = |tier| {
            self.waiting
                .first_fit_skipping(district, &fit, Some(tier), skipped)
        };
        if let Some(id) = in_tier(Tier::OutOfTurn) {
            return Some((id, Some(self.cycle(district))));
        }
        let cycle = self.cycle(district);
        let (first, general) = (in_tier(Tier::First), in_tier(Tier::General));
        let chosen = match (cycle.first_priority_due(), first, general) {
            (true, Some(id), _) | (false, Some(id), None) => (id, Tier::First),
            (_, _, Some(id)) => (id, Tier::General),
            (_, None, None) => return None,
        };
        Some((chosen.0, Some(cycle.after(chosen.1))))
    }

    /// The open place a newly waiting application should take at once, if any fits it: its
    /// most wanted kindergarten first, then the earliest reported place. Such a place fits
    /// nobody else (the open-place invariant), so giving it away skips no one.
    pub fn open_place_for(&self, id: ApplicationId, today: NaiveDate) -> Option<PlaceId> {
        let waiting = self.waiting.get(id)?;
        let open = self.open_places.get(&id.district)?;
        let fitting = open
            .iter()
            .map(|place_id| &self.places[place_id])
            // The plain conditions first: `fit_of`'s bisection for every open place of the
            // district would cost each registration a microsecond per place.
            .filter(|place| {
                waiting.fits(&place.as_place()) && waiting.fits(&self.fit_of(place, today))
            });
        let preference = |place: &&FreePlace| {
            let listed = waiting.choices.listed();
            listed
                .iter()
                .position(|k| *k == place.kindergarten)
                .unwrap_or(listed.len())
        };
        fitting
            .min_by_key(|place| (preference(place), place.id))
            .map(|place| place.id)
    }

    /// Waiting applications that are no longer of preschool age on `today`.
    pub fn aging_out(&self, today: NaiveDate) -> Vec<ApplicationId> {
        use chrono::Datelike;
        let school_age = &self.catalog.school_age;
        // Nobody born after this year can have reached school age yet.
        let oldest_possible = today.year() - school_age.school_entry_age_years as i32;
        self.waiting
            .born_up_to(oldest_possible)
            .into_iter()
            .filter(|(_, w)| !school_age.is_preschool_on(w.birth_date, today))
            .map(|(district, w)| ApplicationId {
                district,
                number: w.key.number,
            })
            .collect()
    }

    pub fn apply(&mut self, event: &Event) -> Result<(), StateError> {
        match event {
            Event::DistrictCreated(_)
            | Event::KindergartenCreated(_)
            | Event::GroupCreated(_)
            | Event::PolicySet { .. }
            | Event::CalendarYearSet { .. }
            | Event::EducationHeadSet { .. }
            | Event::KindergartenChanged(_)
            | Event::GroupChanged(_)
            | Event::CategorySet(_) => apply_to_catalog(&mut self.catalog, event)?,
            // Staff accounts are credentials, read per request from their table; the queue's
            // state does not hold them.
            Event::StaffAccountCreated { .. }
            | Event::StaffAccountChanged { .. }
            | Event::StaffAccountRevoked { .. } => {}
            // The files are read from their table; the queue's state does not hold them.
            Event::AttachmentAdded { .. } => {}
            // Requests are read from their table (the work list's deadlines, the pages).
            Event::DocumentRequested { .. } | Event::DocumentReceived { .. } => {}
            // A refused file's record only: nothing of the queue changes.
            Event::AttachmentInfected { .. } => {}
            // The person's list forgets them: an erased application names nobody. One walk
            // of the set per event, which is why the sweep erases many in one.
            Event::PersonalDataErased { ids } => {
                let ids: std::collections::HashSet<_> = ids.iter().collect();
                self.applicants.retain(|(_, of)| !ids.contains(of));
            }
            Event::ApplicationRegistered(application) => {
                if !self
                    .catalog
                    .districts
                    .contains_key(&application.id.district)
                {
                    return Err(StateError::UnknownDistrict(application.id.district));
                }
                if application.status != ApplicationStatus::Queued
                    || application.held_until.is_some()
                {
                    return Err(StateError::Invalid(format!(
                        "new application {:?}",
                        application.id
                    )));
                }
                self.count_registration(application)?;
                self.waiting
                    .insert(application.id.district, Waiting::of(application))?;
                self.applicants
                    .insert((application.applicant.iin.as_u64(), application.id));
            }
            Event::ApplicationImported { application, .. } => self.import(application)?,
            Event::ApplicationWithdrawn { id }
            | Event::ApplicationAgedOut { id, .. }
            | Event::ApplicationRefused { id, .. } => {
                self.waiting.remove(*id)?;
                self.release_hold(*id);
            }
            Event::AccessCodeIssued { id, code_hash } => {
                let prefix = super::access::prefix(code_hash)
                    .ok_or_else(|| StateError::Invalid(format!("access code hash of {id:?}")))?;
                self.access.insert(*id, prefix);
            }
            // A record about an application that changes nothing of the queue.
            Event::SurveyAnswered { .. } => {}
            Event::ApplicationAmended { id, amendment } => self.amend(*id, amendment)?,
            // The queue does not depend on who applies; only the person's list changes.
            Event::ApplicantRebound { id, applicant } => self.rebind(*id, applicant.iin.as_u64()),
            Event::ApplicationMoved { from, to } => self.move_application(*from, to)?,
            Event::FamilyRegistered(family) => self.register_family(family)?,
            Event::FamilyChoiceSet { family, together } => {
                self.families
                    .get_mut(family)
                    .ok_or_else(|| invalid(family))?
                    .together = *together;
            }
            Event::TransferRequested(request) => self.request_transfer(request)?,
            // The record of a pass: the family keeps its position and nothing else changes.
            Event::FamilyPassedOver { family, place } => {
                if !self.families.contains_key(family) || !self.places.contains_key(place) {
                    return Err(invalid(&(family, place)));
                }
            }
            Event::PriorityVerified { id, tier } => self.set_tier_if_waiting(*id, *tier)?,
            Event::PriorityRejected { id, .. } => self.set_tier_if_waiting(*id, Tier::General)?,
            Event::PlacesReported { places } => {
                for place in places {
                    if place.id.0 != self.last_place_id + 1 {
                        return Err(StateError::Invalid(format!(
                            "{:?} is out of order",
                            place.id
                        )));
                    }
                    self.last_place_id = place.id.0;
                    if self.places.insert(place.id, place.clone()).is_some() {
                        return Err(StateError::Duplicate(format!("{:?}", place.id)));
                    }
                    match self.collecting_round(place) {
                        Some(round) => self.round_places.entry(round).or_default(),
                        None => self.open_places.entry(place.district).or_default(),
                    }
                    .insert(place.id);
                }
            }
            Event::IntakeRoundOpened(round) => self.open_round(round)?,
            Event::IntakeRoundClosed { round, .. } => self.close_round(*round)?,
            Event::ReferralIssued { referral, cycle } => self.issue(referral, *cycle)?,
            Event::ReferralExtended { id, valid_until } => {
                let live = self.live.get_mut(id).ok_or_else(|| invalid(id))?;
                let old = (live.referral.valid_until, Deadline::ReferralExpires(*id));
                live.referral.valid_until = *valid_until;
                live.referral.extended = true;
                self.deadlines.remove(&old);
                self.deadlines
                    .insert((*valid_until, Deadline::ReferralExpires(*id)));
            }
            Event::ReferralHandedIn { id, .. } => {
                let live = self.end_referral(*id)?;
                let place = self
                    .places
                    .remove(&live.referral.place)
                    .ok_or_else(|| invalid(&live.referral.place))?;
                // A transfer replaces the child's place; the command frees the old one.
                let had = self.enrolled.insert(live.referral.application, place);
                if had.is_some() != live.referral.transfer {
                    return Err(invalid(id));
                }
            }
            Event::ReferralLapsed {
                id,
                lapse,
                held_until,
                ..
            } => {
                let live = self.end_referral(*id)?;
                let place = &self.places[&live.referral.place];
                self.open_places
                    .entry(place.district)
                    .or_default()
                    .insert(place.id);
                if live.referral.transfer {
                    // The request ends with its referral; the child keeps its place.
                    return Ok(());
                }
                let mut waiting = live.waiting;
                if matches!(
                    lapse,
                    Lapse::Revoked {
                        priority_unconfirmed: true,
                        ..
                    }
                ) {
                    waiting.key.tier = Tier::General;
                }
                waiting.held = true;
                let application = live.referral.application;
                self.waiting.insert(application.district, waiting)?;
                self.held.insert(application, *held_until);
                self.deadlines
                    .insert((*held_until, Deadline::StopListEnds(application)));
            }
            Event::StopListEnded { id, .. } => {
                if !self.held.contains_key(id) {
                    return Err(invalid(id));
                }
                self.release_hold(*id);
                self.waiting.set_held(*id, false)?;
            }
            Event::PlaceWithdrawn { place, .. } => self.withdraw_place(*place)?,
            Event::ChildLeft { id, .. } => {
                // A child with a transfer asked or under way leaves only once it has ended.
                let free = !self.transfer_of.contains_key(id) && !self.referral_of.contains_key(id);
                if !free || self.enrolled.remove(id).is_none() {
                    return Err(invalid(id));
                }
            }
        }
        Ok(())
    }

    /// An open place leaves the state: no live referral holds it.
    /// The open intake round of `district`, if any.
    pub fn open_round_in(&self, district: DistrictId) -> Option<&IntakeRound> {
        self.rounds.values().find(|r| r.district == district)
    }

    /// The open round that collects `place`: its district's, for the place's date.
    pub fn collecting_round(&self, place: &FreePlace) -> Option<RoundId> {
        self.open_round_in(place.district)
            .filter(|r| r.places_for == place.available_from)
            .map(|r| r.id)
    }

    /// The places `round` collected, as reported.
    pub fn places_of_round(&self, round: RoundId) -> Vec<FreePlace> {
        self.round_places
            .get(&round)
            .into_iter()
            .flatten()
            .map(|p| self.places[p].clone())
            .collect()
    }

    fn open_round(&mut self, round: &IntakeRound) -> Result<(), StateError> {
        if !self.catalog.districts.contains_key(&round.district) {
            return Err(StateError::UnknownDistrict(round.district));
        }
        if round.id.0 != self.last_round + 1 || self.open_round_in(round.district).is_some() {
            return Err(invalid(&round.id));
        }
        self.last_round = round.id.0;
        self.deadlines
            .insert((round.closes_at, Deadline::RoundCloses(round.id)));
        self.rounds.insert(round.id, round.clone());
        Ok(())
    }

    /// The round's places become open places of its district; the referrals that follow
    /// take them.
    fn close_round(&mut self, id: RoundId) -> Result<(), StateError> {
        let round = self.rounds.remove(&id).ok_or_else(|| invalid(&id))?;
        self.closed_rounds
            .insert((round.district, round.places_for));
        self.deadlines
            .remove(&(round.closes_at, Deadline::RoundCloses(id)));
        let places = self.round_places.remove(&id).unwrap_or_default();
        if !places.is_empty() {
            self.open_places
                .entry(round.district)
                .or_default()
                .extend(places);
        }
        Ok(())
    }

    fn withdraw_place(&mut self, place: PlaceId) -> Result<(), StateError> {
        let district = self
            .places
            .get(&place)
            .ok_or_else(|| invalid(&place))?
            .district;
        let open = self.open_places.get_mut(&district);
        if !open.is_some_and(|open| open.remove(&place)) {
            return Err(StateError::Invalid(format!("{place:?} is not open")));
        }
        if self
            .open_places
            .get(&district)
            .is_some_and(BTreeSet::is_empty)
        {
            self.open_places.remove(&district);
        }
        self.places.remove(&place);
        Ok(())
    }

    /// `apply`, also telling which applications the event concerns and how it moved them in
    /// and out of the waiting list: what the store keeps for status and position histories.
    pub fn apply_tracked(
        &mut self,
        event: &Event,
        at: DateTime<Utc>,
    ) -> Result<Effects, StateError> {
        let touched = self.concerns(event);
        let before: Vec<Option<(i32, i64)>> =
            touched.iter().map(|id| self.cohort_key(*id)).collect();
        let read = super::reports::Before::read(self, event, &touched);
        self.apply(event)?;
        // Taken out for the call, which reads the rest of the state: an empty `Reports`
        // allocates nothing.
        let mut reports = std::mem::take(&mut self.reports);
        reports.observe(event, at, read, self);
        self.reports = reports;
        let mut moves = Vec::new();
        for (id, before) in touched.iter().zip(before) {
            let after = self.cohort_key(*id);
            if before == after {
                continue;
            }
            for (entry, delta) in [(before, -1), (after, 1)] {
                if let Some((cohort, order_key)) = entry {
                    moves.push(Move {
                        id: *id,
                        cohort,
                        order_key,
                        delta,
                        at,
                    });
                }
            }
        }
        Ok(Effects { touched, moves })
    }

    fn cohort_key(&self, id: ApplicationId) -> Option<(i32, i64)> {
        self.waiting
            .get(id)
            .map(|w| (w.cohort(), w.key.order_key()))
    }

    /// The applications an event is about, read before it is applied.
    fn concerns(&self, event: &Event) -> Vec<ApplicationId> {
        let of_referral = |id: &ReferralId| {
            self.live
                .get(id)
                .map(|live| live.referral.application)
                .into_iter()
                .collect()
        };
        match event {
            Event::ApplicationRegistered(application)
            | Event::ApplicationImported { application, .. } => vec![application.id],
            Event::ApplicationWithdrawn { id }
            | Event::ApplicationAgedOut { id, .. }
            | Event::ApplicationRefused { id, .. }
            | Event::AccessCodeIssued { id, .. }
            | Event::SurveyAnswered { id, .. }
            | Event::ApplicationAmended { id, .. }
            | Event::ApplicantRebound { id, .. }
            | Event::PriorityVerified { id, .. }
            | Event::PriorityRejected { id, .. }
            | Event::StopListEnded { id, .. }
            | Event::ChildLeft { id, .. } => vec![*id],
            Event::ReferralIssued { referral, .. } => vec![referral.application],
            Event::ApplicationMoved { from, to } => vec![*from, to.id],
            Event::FamilyRegistered(family) => family.members.clone(),
            Event::TransferRequested(request) => vec![request.id],
            Event::FamilyChoiceSet { family, .. } | Event::FamilyPassedOver { family, .. } => self
                .families
                .get(family)
                .map(|f| f.members.clone())
                .unwrap_or_default(),
            Event::ReferralExtended { id, .. }
            | Event::ReferralHandedIn { id, .. }
            | Event::ReferralLapsed { id, .. } => of_referral(id),
            Event::DistrictCreated(_)
            | Event::KindergartenCreated(_)
            | Event::GroupCreated(_)
            | Event::PolicySet { .. }
            | Event::CalendarYearSet { .. }
            | Event::PlacesReported { .. }
            | Event::PlaceWithdrawn { .. }
            | Event::EducationHeadSet { .. }
            | Event::KindergartenChanged(_)
            | Event::GroupChanged(_)
            | Event::CategorySet(_)
            | Event::StaffAccountCreated { .. }
            | Event::StaffAccountChanged { .. }
            | Event::StaffAccountRevoked { .. }
            | Event::IntakeRoundOpened(_)
            | Event::IntakeRoundClosed { .. } => Vec::new(),
            // A file changes no status: the application's page lists its files itself.
            Event::AttachmentAdded { .. } | Event::AttachmentInfected { .. } => Vec::new(),
            // Erasure changes no status; the application's history is not where it shows.
            Event::PersonalDataErased { .. } => Vec::new(),
            // Asked and answered are steps of the request the parent sees in its history.
            Event::DocumentRequested { id, .. } | Event::DocumentReceived { id, .. } => {
                vec![*id]
            }
        }
    }

    fn issue(
        &mut self,
        referral: &Referral,
        cycle: Option<InterleaveCycle>,
    ) -> Result<(), StateError> {
        let counters = self.counters.entry(referral.id.district).or_default();
        if referral.id.number.0 != counters.referrals + 1 {
            return Err(StateError::Invalid(format!(
                "{:?} is out of journal order",
                referral.id
            )));
        }
        counters.referrals = referral.id.number.0;
        let application = referral.application;
        if self.held.contains_key(&application) {
            return Err(StateError::Invalid(format!(
                "{application:?} is on the stop list"
            )));
        }
        let place = self
            .places
            .get(&referral.place)
            .ok_or_else(|| invalid(&referral.place))?;
        let district = place.district;
        let open = self.open_places.get_mut(&district);
        if !open.is_some_and(|open| open.remove(&referral.place)) {
            return Err(StateError::Invalid(format!(
                "{:?} is not open",
                referral.place
            )));
        }
        // No empty sets: the state has one shape whichever way it was built.
        if self
            .open_places
            .get(&district)
            .is_some_and(BTreeSet::is_empty)
        {
            self.open_places.remove(&district);
        }
        let waiting = if referral.transfer {
            Waiting::of_transfer(&self.end_transfer(application)?)
        } else {
            self.waiting.remove(application)?
        };
        self.deadlines
            .insert((referral.valid_until, Deadline::ReferralExpires(referral.id)));
        self.referral_of.insert(application, referral.id);
        self.live.insert(
            referral.id,
            LiveReferral {
                referral: referral.clone(),
                waiting,
            },
        );
        if let Some(cycle) = cycle {
            self.cycles.insert(referral.id.district, cycle);
        }
        Ok(())
    }

    fn end_referral(&mut self, id: ReferralId) -> Result<LiveReferral, StateError> {
        let live = self.live.remove(&id).ok_or_else(|| invalid(&id))?;
        self.referral_of.remove(&live.referral.application);
        self.deadlines
            .remove(&(live.referral.valid_until, Deadline::ReferralExpires(id)));
        Ok(live)
    }

    fn release_hold(&mut self, id: ApplicationId) {
        if let Some(until) = self.held.remove(&id) {
            self.deadlines.remove(&(until, Deadline::StopListEnds(id)));
        }
    }

    /// An amendment re-indexes a waiting application under its unchanged key with its new
    /// choices, language and start; an application holding a referral keeps them for when the
    /// referral lapses (the service refuses to change them while it is outstanding, but the
    /// state does not depend on that).
    fn amend(&mut self, id: ApplicationId, amendment: &Amendment) -> Result<(), StateError> {
        let choices = CompactChoices::from_choices(&amendment.choices);
        if self.waiting.get(id).is_some() {
            self.waiting
                .amend(id, choices, amendment.language, amendment.desired_start)?;
        } else if let Some(referral) = self.referral_of.get(&id) {
            let live = self
                .live
                .get_mut(referral)
                .expect("referral_of points at a live referral");
            live.waiting.choices = choices;
            live.waiting.language = amendment.language;
            live.waiting.desired_start = amendment.desired_start;
        } else {
            return Err(invalid(&id));
        }
        Ok(())
    }

    /// An application from the earlier system waits under the district's next number with
    /// its own, earlier time: as for a move, only the number counts, and the time new
    /// registrations may not go back behind stays theirs.
    fn import(&mut self, application: &Application) -> Result<(), StateError> {
        let id = application.id;
        if !self.catalog.districts.contains_key(&id.district) {
            return Err(StateError::UnknownDistrict(id.district));
        }
        let counters = self.counters.entry(id.district).or_default();
        let well_formed = application.status == ApplicationStatus::Queued
            && application.held_until.is_none()
            && application.moved_from.is_none()
            && application.legacy_number.is_some()
            && id.number.0 == counters.registrations + 1;
        if !well_formed {
            return Err(StateError::Invalid(format!("import of {id:?}")));
        }
        counters.registrations = id.number.0;
        self.waiting.insert(id.district, Waiting::of(application))?;
        self.applicants
            .insert((application.applicant.iin.as_u64(), id));
        Ok(())
    }

    /// The application now belongs to another person: it leaves the list of whoever had it.
    /// The old person is not in the event, so the whole set is walked; a rebinding is a rare
    /// act of an officer, and a walk of the set at a million takes milliseconds, not seconds.
    fn rebind(&mut self, id: ApplicationId, applicant: u64) {
        self.applicants.retain(|(_, of)| *of != id);
        self.applicants.insert((applicant, id));
    }

    /// The applications of one person (`Iin::as_u64`), in the order of their ids.
    pub fn applications_of(&self, applicant: u64) -> Vec<ApplicationId> {
        let first = ApplicationId {
            district: DistrictId(0),
            number: RegistrationNumber(0),
        };
        self.applicants
            .range((applicant, first)..)
            .take_while(|(person, _)| *person == applicant)
            .map(|(_, id)| *id)
            .collect()
    }

    /// A waiting application continues in another district under that district's next
    /// number; a stop list it was on goes with it.
    fn move_application(
        &mut self,
        from: ApplicationId,
        to: &Application,
    ) -> Result<(), StateError> {
        if !self.catalog.districts.contains_key(&to.id.district) {
            return Err(StateError::UnknownDistrict(to.id.district));
        }
        let held = self.held.get(&from).copied();
        let well_formed = to.status == ApplicationStatus::Queued
            && to.moved_from == Some(from)
            && from.district != to.id.district
            && to.held_until == held;
        let counters = self.counters.entry(to.id.district).or_default();
        if !well_formed || to.id.number.0 != counters.registrations + 1 {
            return Err(StateError::Invalid(format!(
                "move of {from:?} to {:?}",
                to.id
            )));
        }
        self.waiting.remove(from)?;
        // The ended application stays in its applicant's list beside the one continuing it.
        self.applicants.insert((to.applicant.iin.as_u64(), to.id));
        // Only the number counts: a moved application may keep an earlier time, and the
        // time new registrations may not go back behind is theirs alone.
        self.counters
            .get_mut(&to.id.district)
            .expect("just entered")
            .registrations = to.id.number.0;
        self.release_hold(from);
        if let Some(family) = self.family_of.remove(&from) {
            let members = &mut self.families.get_mut(&family).expect("indexed").members;
            *members.iter_mut().find(|m| **m == from).expect("a member") = to.id;
            self.family_of.insert(to.id, family);
        }
        self.waiting.insert(to.id.district, Waiting::of(to))?;
        if let Some(until) = held {
            self.held.insert(to.id, until);
            self.deadlines
                .insert((until, Deadline::StopListEnds(to.id)));
        }
        Ok(())
    }

    /// An enrolled child's request joins its district's transfer queue: one waiting request
    /// per child, none while a referral of its is live.
    fn request_transfer(&mut self, request: &TransferRequest) -> Result<(), StateError> {
        let id = request.id;
        let valid = self.enrolled.contains_key(&id)
            && !self.transfer_of.contains_key(&id)
            && !self.referral_of.contains_key(&id);
        if !valid {
            return Err(invalid(&id));
        }
        let order = request.order();
        self.transfer_of.insert(id, order.0);
        self.transfers
            .entry(id.district)
            .or_default()
            .insert(order, request.clone());
        Ok(())
    }

    fn end_transfer(&mut self, id: ApplicationId) -> Result<TransferRequest, StateError> {
        let at = self.transfer_of.remove(&id).ok_or_else(|| invalid(&id))?;
        let queue = self.transfers.get_mut(&id.district).expect("indexed");
        let request = queue.remove(&(at, id)).expect("indexed");
        if queue.is_empty() {
            self.transfers.remove(&id.district);
        }
        Ok(request)
    }

    /// Children registered together become a family: each a waiting application of one
    /// district, in no other family.
    fn register_family(&mut self, family: &Family) -> Result<(), StateError> {
        let well_formed = family.id == self.next_family_id()
            && (2..=super::family::FAMILY_SIZE_MAX).contains(&family.members.len())
            && family.members.iter().all(|m| {
                m.district == family.members[0].district
                    && self.waiting.get(*m).is_some()
                    && !self.family_of.contains_key(m)
            });
        if !well_formed {
            return Err(invalid(&family.id));
        }
        for member in &family.members {
            self.family_of.insert(*member, family.id);
        }
        self.families.insert(family.id, family.clone());
        Ok(())
    }

    /// A priority decision about an application that is not waiting (it holds a referral)
    /// changes its record, and its tier should the referral lapse.
    fn set_tier_if_waiting(&mut self, id: ApplicationId, tier: Tier) -> Result<(), StateError> {
        if self.waiting.get(id).is_some() {
            self.waiting.set_tier(id, tier)?;
        } else if let Some(referral) = self.referral_of.get(&id) {
            let live = self
                .live
                .get_mut(referral)
                .expect("referral_of points at a live referral");
            live.waiting.key.tier = tier;
        }
        Ok(())
    }

    /// Checks the cross-structure invariants as of `today`, the local date of the last
    /// event; for tests and `verify`. (A later date checks less: fewer children fit a place
    /// as days pass, so an open place that fitted nobody then fits nobody later.)
    pub fn check_invariants(&self, today: NaiveDate) -> Result<(), String> {
        self.waiting.check_invariants()?;
        for (district, open) in &self.open_places {
            for place_id in open {
                let place = self
                    .places
                    .get(place_id)
                    .ok_or(format!("open {place_id:?} unknown"))?;
                if place.district != *district {
                    return Err(format!("{place_id:?} is open in the wrong district"));
                }
                if let Some(taker) = self.allocation_for(place, today).taker {
                    return Err(format!("open {place_id:?} has a taker: {taker:?}"));
                }
            }
        }
        for (id, live) in &self.live {
            if self.referral_of.get(&live.referral.application) != Some(id) {
                return Err(format!("{id:?} is not indexed by its application"));
            }
            if self.waiting.get(live.referral.application).is_some() {
                return Err(format!("{id:?}: its application is also waiting"));
            }
        }
        for (id, place) in &self.enrolled {
            if self.waiting.get(*id).is_some() {
                return Err(format!("{id:?} holds {:?} and waits too", place.id));
            }
            let transfer = self
                .referral_of
                .get(id)
                .map(|r| self.live[r].referral.transfer);
            if transfer == Some(false) {
                return Err(format!("{id:?} holds a place and a first-time referral"));
            }
        }
        for (id, at) in &self.transfer_of {
            let queued = self
                .transfers
                .get(&id.district)
                .and_then(|q| q.get(&(*at, *id)));
            if queued.is_none() || !self.enrolled.contains_key(id) {
                return Err(format!(
                    "{id:?}: its transfer request is not an enrolled child's"
                ));
            }
        }
        let held_in_list = self.waiting.iter().filter(|(_, w)| w.held).count();
        if held_in_list != self.held.len() {
            return Err(format!(
                "{} held entries, {} on the stop list",
                held_in_list,
                self.held.len()
            ));
        }
        if self.deadlines.len() != self.live.len() + self.held.len() + self.rounds.len() {
            return Err(
                "deadlines do not match live referrals, the stop list and open rounds".into(),
            );
        }
        Ok(())
    }
}

fn invalid(what: &impl std::fmt::Debug) -> StateError {
    StateError::Invalid(format!("{what:?}"))
}

/// Applies a catalog event; other events leave the catalog as it is.
pub fn apply_to_catalog(catalog: &mut Catalog, event: &Event) -> Result<(), StateError> {
    match event {
        Event::DistrictCreated(district) => {
            let existed = catalog.districts.insert(district.id, district.clone());
            if existed.is_some() {
                return Err(StateError::Duplicate(format!("{:?}", district.id)));
            }
        }
        Event::KindergartenCreated(kindergarten) => {
            if !catalog.districts.contains_key(&kindergarten.district) {
                return Err(StateError::UnknownDistrict(kindergarten.district));
            }
            if catalog
                .kindergartens
                .insert(kindergarten.id, kindergarten.clone())
                .is_some()
            {
                return Err(StateError::Duplicate(format!("{:?}", kindergarten.id)));
            }
        }
        Event::GroupCreated(group) => {
            let existed = catalog.groups.insert(group.id, group.clone());
            if existed.is_some() {
                return Err(StateError::Duplicate(format!("{:?}", group.id)));
            }
        }
        Event::PolicySet { district, policy } => {
            if !catalog.districts.contains_key(district) {
                return Err(StateError::UnknownDistrict(*district));
            }
            catalog.policies.insert(*district, *policy);
        }
        Event::CalendarYearSet { year, text } => {
            let parsed =
                YearCalendar::parse(*year, text).map_err(|e| StateError::Invalid(e.to_string()))?;
            catalog.calendar.set_year(*year, parsed);
        }
        Event::EducationHeadSet {
            district,
            full_name,
        } => {
            if !catalog.districts.contains_key(district) {
                return Err(StateError::UnknownDistrict(*district));
            }
            catalog.education_heads.insert(*district, full_name.clone());
        }
        Event::KindergartenChanged(kindergarten) => {
            let old = catalog
                .kindergartens
                .get_mut(&kindergarten.id)
                .ok_or_else(|| invalid(&kindergarten.id))?;
            if old.district != kindergarten.district {
                return Err(invalid(&kindergarten.id));
            }
            *old = kindergarten.clone();
        }
        Event::GroupChanged(group) => {
            let old = catalog
                .groups
                .get_mut(&group.id)
                .ok_or_else(|| invalid(&group.id))?;
            if old.kindergarten != group.kindergarten {
                return Err(invalid(&group.id));
            }
            *old = group.clone();
        }
        Event::CategorySet(category) => {
            catalog
                .categories
                .insert(category.code.clone(), category.clone());
        }
        _ => {}
    }
    Ok(())
}
