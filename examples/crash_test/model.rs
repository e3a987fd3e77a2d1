//! The reference model the crash test replays the surviving operations in: plain vectors,
//! compared by queue key on demand, written from DOMAIN.md and nothing else (it shares no
//! code with `src/domain/`, whose allocation it is meant to check).
//!
//! The crash test's workload has several districts, each numbering its applications and
//! referrals on its own; priority claims an officer verifies or rejects; and a clock that
//! moves forward, so that referrals expire (or are extended first) and stop lists end. The
//! district policy is the default one (no 1 : 3 cycle). The rules it needs:
//! - the queue key is `(tier, registered_at, registration number)`; a claim counts only once
//!   verified (the category's tier), a rejected one leaves the child in the general tier;
//! - a place goes to the first waiting application of its district in key order that fits
//!   it: birth date in the band, language equal or any, the kindergarten among the choices
//!   or any, desired start not after the place's date, no referral outstanding, not on the
//!   stop list;
//! - a new registration takes an open place that fits it at once, its most wanted
//!   kindergarten first (any kindergarten: all equal), then the earliest reported place;
//! - a hand-in fills the place and enrols the child; a decline or an expiry reopens the
//!   place and puts the child on the stop list for ten days; a decline gives the place to the
//!   next child at once;
//! - what falls due at one instant happens together: stop lists end and referrals expire,
//!   then, district by district, every open place of the districts concerned, earliest
//!   reported first, goes to whoever's turn it is;
//! - an extension (once) moves the deadline to the end of the 30th local day (UTC+5) after
//!   the day of issue;
//! - an amendment changes the kindergartens, the language or the desired start (never the
//!   key) of an application still in the queue, and only while no referral is outstanding;
//!   a waiting application then takes an open place that now fits it, as a new registration
//!   does;
//! - a move to another district (the default policy: the registration time and a verified
//!   priority are kept) ends the application as moved and continues it under the new
//!   district's next number, with its stop list; it then takes an open place that fits it;
//! - an enrolled child may ask for a transfer to other kindergartens of its district; a
//!   place goes to a transfer only when no first-time applicant fits it, to the earliest
//!   request whose kindergartens include it, born in the band, its language equal or any;
//!   asking tries the open places of the district at its kindergartens, by id, until one is
//!   its; a transfer referral handed in moves the child and frees its old place as a new
//!   place (same band and language, available from the day of the hand-in or its own date,
//!   whichever is later), allocated at once; declined or expired it ends the request, and
//!   the child keeps its place (no stop list).
//!
//! The one thing the model takes from the journal is a referral's first deadline, which
//! depends on the working-day calendar; it only checks that it lies after the issue and
//! within a bound.

use chrono::{Datelike, Duration, FixedOffset, NaiveDate, TimeZone};

/// The general tier; verified claims move up to 0 (out of turn) or 1 (first priority).
pub const GENERAL_TIER: u8 = 2;
const MICROS_PER_DAY: i64 = 86_400_000_000;
/// District policy, the defaults.
const STOP_LIST_DAYS: i64 = 10;
const EXTENSION_CALENDAR_DAYS: i64 = 30;
/// Five working days after the day of issue, with the longest holiday break in between.
const VALIDITY_CALENDAR_DAYS_MAX: i64 = 16;
const LOCAL_OFFSET_SECONDS: i32 = 5 * 3600;

/// The tier a priority category moves a verified claim to (DOMAIN.md, migration 0001).
pub fn category_tier(code: &str) -> Option<u8> {
    match code {
        "military_family" | "special_state_body_family" | "died_in_service_family" => Some(0),
        "orphan" | "child_disability" | "parent_disability" | "large_family" => Some(1),
        _ => None,
    }
}

/// What a registration asks for, as the client sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Form {
    /// District id (1-based, the order the districts were created in).
    pub district: u32,
    pub birth: NaiveDate,
    /// `None`: any language.
    pub language: Option<String>,
    /// Kindergarten ids, most wanted first; empty: any kindergarten of the district.
    pub choices: Vec<u32>,
    pub desired_start: NaiveDate,
    /// The priority category claimed, if any.
    pub claim: Option<String>,
}

/// Free places as the client reported them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vacancy {
    pub district: u32,
    pub kindergarten: u32,
    pub born_from: NaiveDate,
    pub born_to: NaiveDate,
    pub language: String,
    pub count: u32,
    pub available_from: NaiveDate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildState {
    /// Waiting; on the stop list until the instant (microseconds) if held.
    Waiting {
        held_until: Option<i64>,
    },
    Referred(u32),
    Enrolled,
    /// The family moved district: the application continues under another number.
    Moved,
}

/// A waiting transfer request of an enrolled child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferAsk {
    pub requested_at_micros: i64,
    pub choices: Vec<u32>,
    /// The transfer referral outstanding, if one was issued.
    pub referral: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimState {
    Claimed,
    Verified,
    Rejected,
}

#[derive(Clone, Debug)]
pub struct Child {
    pub district: u32,
    pub number: u32,
    pub registered_at_micros: i64,
    pub form: Form,
    pub tier: u8,
    pub claim: Option<ClaimState>,
    pub state: ChildState,
    /// The place an enrolled child holds.
    pub place: Option<u64>,
    pub transfer: Option<TransferAsk>,
}

impl Child {
    fn key(&self) -> (u8, i64, u32) {
        (self.tier, self.registered_at_micros, self.number)
    }

    pub fn cohort(&self) -> i32 {
        self.form.birth.year()
    }

    pub fn wants(&self, kindergarten: u32) -> bool {
        self.form.choices.is_empty() || self.form.choices.contains(&kindergarten)
    }

    pub fn waiting(&self) -> bool {
        matches!(self.state, ChildState::Waiting { .. })
    }

    /// Whether a waiting transfer request of this child takes `place`.
    fn transfer_fits(&self, place: &Place) -> bool {
        let vacancy = &place.vacancy;
        self.transfer.as_ref().is_some_and(|ask| {
            ask.referral.is_none()
                && self.district == vacancy.district
                && ask.choices.contains(&vacancy.kindergarten)
                && vacancy.born_from <= self.form.birth
                && self.form.birth <= vacancy.born_to
                && self
                    .form
                    .language
                    .as_ref()
                    .is_none_or(|l| *l == vacancy.language)
        })
    }

    fn fits(&self, place: &Place) -> bool {
        self.state == ChildState::Waiting { held_until: None }
            && self.district == place.vacancy.district
            && place.vacancy.born_from <= self.form.birth
            && self.form.birth <= place.vacancy.born_to
            && self
                .form
                .language
                .as_ref()
                .is_none_or(|l| *l == place.vacancy.language)
            && self.wants(place.vacancy.kindergarten)
            && self.form.desired_start <= place.vacancy.available_from
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaceState {
    Open,
    Held(u32),
    Filled,
}

#[derive(Clone, Debug)]
pub struct Place {
    pub id: u64,
    pub vacancy: Vacancy,
    pub state: PlaceState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferralState {
    Issued,
    HandedIn,
    Declined,
    Expired,
}

impl ReferralState {
    /// The name the API and the tables use.
    pub fn code(self) -> &'static str {
        match self {
            ReferralState::Issued => "issued",
            ReferralState::HandedIn => "handed_in",
            ReferralState::Declined => "declined",
            ReferralState::Expired => "expired",
        }
    }
}

/// A referral: (district, number, place, application number, kindergarten).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Issued {
    pub district: u32,
    pub number: u32,
    pub place: u64,
    pub application: u32,
    pub kindergarten: u32,
}

#[derive(Clone, Debug)]
pub struct ModelReferral {
    pub issued: Issued,
    pub state: ReferralState,
    /// Microseconds; set from the journal right after the issue (see the module's note).
    pub issued_at: i64,
    pub valid_until: i64,
    pub extended: bool,
    /// Issued to an enrolled child's transfer request.
    pub transfer: bool,
}

/// Why the model cannot take an operation: the journal asked for something impossible.
pub type ModelError = String;

/// One district's journals: applications and referrals, each numbered from 1.
#[derive(Default)]
pub struct Book {
    /// Index `number - 1`.
    pub children: Vec<Child>,
    /// Index `number - 1`.
    pub referrals: Vec<ModelReferral>,
}

/// A deadline the model knows: a stop list ending or a referral expiring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Due {
    /// (district, application number)
    StopListEnds(u32, u32),
    /// (district, referral number)
    ReferralExpires(u32, u32),
}

pub struct Model {
    /// Index `district - 1`.
    pub books: Vec<Book>,
    /// Index `id - 1`: place ids are global.
    pub places: Vec<Place>,
}

/// The local (UTC+5) date of an instant in microseconds.
fn local_date_of(at_micros: i64) -> NaiveDate {
    let offset = FixedOffset::east_opt(LOCAL_OFFSET_SECONDS).expect("UTC+5");
    offset
        .timestamp_micros(at_micros)
        .single()
        .expect("an instant")
        .date_naive()
}

/// The end of the local day `days` after the local day of `at` (both in microseconds).
fn end_of_local_day_after(at_micros: i64, days: i64) -> i64 {
    let offset = FixedOffset::east_opt(LOCAL_OFFSET_SECONDS).expect("UTC+5");
    let local = offset
        .timestamp_micros(at_micros)
        .single()
        .expect("an instant");
    let next = (local.date_naive() + Duration::days(days + 1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight");
    offset
        .from_local_datetime(&next)
        .single()
        .expect("a fixed offset has no gaps")
        .timestamp_micros()
}

impl Model {
    pub fn new(districts: u32) -> Model {
        Model {
            books: (0..districts).map(|_| Book::default()).collect(),
            places: Vec::new(),
        }
    }

    pub fn child(&self, district: u32, number: u32) -> Option<&Child> {
        self.books
            .get((district as usize).wrapping_sub(1))?
            .children
            .get((number as usize).wrapping_sub(1))
    }

    fn child_mut(&mut self, district: u32, number: u32) -> Result<&mut Child, ModelError> {
        self.books
            .get_mut((district as usize).wrapping_sub(1))
            .and_then(|b| b.children.get_mut((number as usize).wrapping_sub(1)))
            .ok_or_else(|| format!("application {district}/{number} was never registered"))
    }

    fn book(&mut self, district: u32) -> &mut Book {
        &mut self.books[district as usize - 1]
    }

    /// Registers; returns the number and the referral it got at once, if any.
    pub fn register(&mut self, form: Form, registered_at_micros: i64) -> (u32, Option<Issued>) {
        let district = form.district;
        let book = self.book(district);
        let number = book.children.len() as u32 + 1;
        let claim = form.claim.as_ref().map(|_| ClaimState::Claimed);
        book.children.push(Child {
            district,
            number,
            registered_at_micros,
            form,
            tier: GENERAL_TIER,
            claim,
            state: ChildState::Waiting { held_until: None },
            place: None,
            transfer: None,
        });
        (number, self.offer(district, number))
    }

    /// A waiting application takes the open place that fits it, if any: its most wanted
    /// kindergarten first (any kindergarten: all equal), then the earliest reported place.
    fn offer(&mut self, district: u32, number: u32) -> Option<Issued> {
        let child = &self.books[district as usize - 1].children[number as usize - 1];
        let preference = |place: &Place| {
            let choices = &child.form.choices;
            let rank = choices
                .iter()
                .position(|k| *k == place.vacancy.kindergarten)
                .unwrap_or(choices.len());
            (rank, place.id)
        };
        let chosen = self
            .places
            .iter()
            .filter(|p| p.state == PlaceState::Open && child.fits(p))
            .min_by_key(|p| preference(p))
            .map(|p| p.id);
        chosen.map(|place| self.issue(place, number))
    }

    /// Amends a waiting or referred application (choices: `None` unchanged); returns the
    /// referral it got at once, if an open place now fits it.
    pub fn amend(
        &mut self,
        district: u32,
        number: u32,
        choices: Vec<u32>,
        language: Option<String>,
        desired_start: NaiveDate,
    ) -> Result<Option<Issued>, ModelError> {
        let child = self.child_mut(district, number)?;
        let affects = child.form.choices != choices
            || child.form.language != language
            || child.form.desired_start != desired_start;
        match child.state {
            ChildState::Waiting { .. } => {}
            ChildState::Referred(_) if !affects => {}
            state => {
                return Err(format!(
                    "an amendment of {district}/{number} (places affected: {affects}), which \
                     is {state:?}"
                ))
            }
        }
        child.form.choices = choices;
        child.form.language = language;
        child.form.desired_start = desired_start;
        Ok(match child.state {
            ChildState::Waiting { .. } => self.offer(district, number),
            _ => None,
        })
    }

    /// Moves a waiting application to `to` (the default policy: time, priority and stop list
    /// kept); returns the new number and the referral it got at once.
    pub fn move_to(
        &mut self,
        from: (u32, u32),
        to: u32,
        choices: Vec<u32>,
        language: Option<String>,
    ) -> Result<(u32, Option<Issued>), ModelError> {
        let child = self.child_mut(from.0, from.1)?;
        if !child.waiting() || from.0 == to {
            return Err(format!(
                "a move of {from:?} to district {to}, while it is {:?}",
                child.state
            ));
        }
        let mut moved = child.clone();
        child.state = ChildState::Moved;
        let book = self.book(to);
        let number = book.children.len() as u32 + 1;
        moved.district = to;
        moved.number = number;
        moved.form.district = to;
        moved.form.choices = choices;
        moved.form.language = language;
        book.children.push(moved);
        Ok((number, self.offer(to, number)))
    }

    /// An enrolled child's transfer request at `at`; returns the referrals the open places
    /// at its kindergartens went to, tried by id until one went to it.
    pub fn request_transfer(
        &mut self,
        district: u32,
        number: u32,
        choices: Vec<u32>,
        at: i64,
    ) -> Result<Vec<Issued>, ModelError> {
        let child = self.child_mut(district, number)?;
        if child.state != ChildState::Enrolled || child.transfer.is_some() {
            return Err(format!(
                "a transfer request of {district}/{number}, which is {:?} with {:?}",
                child.state, child.transfer
            ));
        }
        child.transfer = Some(TransferAsk {
            requested_at_micros: at,
            choices: choices.clone(),
            referral: None,
        });
        let open: Vec<u64> = self
            .places
            .iter()
            .filter(|p| p.state == PlaceState::Open && p.vacancy.district == district)
            .filter(|p| choices.contains(&p.vacancy.kindergarten))
            .map(|p| p.id)
            .collect();
        let mut issued = Vec::new();
        for place in open {
            if let Some(referral) = self.allocate(place) {
                issued.push(referral);
                if referral.application == number {
                    break;
                }
            }
        }
        Ok(issued)
    }

    /// Reports places; returns their ids and the referrals they went to, in order.
    pub fn report(&mut self, vacancy: Vacancy) -> (Vec<u64>, Vec<Issued>) {
        let first = self.places.len() as u64 + 1;
        let ids: Vec<u64> = (first..first + u64::from(vacancy.count)).collect();
        for id in &ids {
            self.places.push(Place {
                id: *id,
                vacancy: vacancy.clone(),
                state: PlaceState::Open,
            });
        }
        let referrals = ids.iter().filter_map(|id| self.allocate(*id)).collect();
        (ids, referrals)
    }

    /// The journal's deadline of a referral just issued.
    pub fn set_terms(
        &mut self,
        district: u32,
        number: u32,
        issued_at: i64,
        valid_until: i64,
    ) -> Result<(), ModelError> {
        if !(issued_at < valid_until
            && valid_until <= issued_at + VALIDITY_CALENDAR_DAYS_MAX * MICROS_PER_DAY)
        {
            return Err(format!(
                "referral {district}/R{number}: valid until {valid_until}, issued at {issued_at}: \
                 not within {VALIDITY_CALENDAR_DAYS_MAX} days after the issue"
            ));
        }
        let referral = self.referral_mut(district, number)?;
        referral.issued_at = issued_at;
        referral.valid_until = valid_until;
        Ok(())
    }

    /// Hands a referral in at `at`. A transfer's old place is freed as a new place, which
    /// is returned with the referral it went to.
    pub fn hand_in(
        &mut self,
        district: u32,
        number: u32,
        at: i64,
    ) -> Result<Option<(u64, Option<Issued>)>, ModelError> {
        let (place, application) = self.live(district, number)?;
        let transfer = self.referral_mut(district, number)?.transfer;
        self.referral_mut(district, number)?.state = ReferralState::HandedIn;
        self.places[place as usize - 1].state = PlaceState::Filled;
        let child = self.child_mut(district, application)?;
        child.state = ChildState::Enrolled;
        let old = child.place.replace(place);
        if !transfer {
            return Ok(None);
        }
        child.transfer = None;
        let old =
            old.ok_or_else(|| format!("a transfer of {district}/{application} from no place"))?;
        let mut vacancy = self.places[old as usize - 1].vacancy.clone();
        vacancy.count = 1;
        vacancy.available_from = vacancy.available_from.max(local_date_of(at));
        let id = self.places.len() as u64 + 1;
        self.places.push(Place {
            id,
            vacancy,
            state: PlaceState::Open,
        });
        Ok(Some((id, self.allocate(id))))
    }

    /// Declines at `at`; returns the referral the freed place went to, if anyone fits it.
    pub fn decline(
        &mut self,
        district: u32,
        number: u32,
        at: i64,
        held_until: i64,
    ) -> Result<Option<Issued>, ModelError> {
        let place = self.lapse(district, number, ReferralState::Declined, at, held_until)?;
        Ok(self.allocate(place))
    }

    /// The parent extends the referral once; `valid_until` is the journal's new deadline.
    pub fn extend(
        &mut self,
        district: u32,
        number: u32,
        valid_until: i64,
    ) -> Result<(), ModelError> {
        self.live(district, number)?;
        let referral = self.referral_mut(district, number)?;
        if referral.extended {
            return Err(format!("referral {district}/R{number} extended twice"));
        }
        let expected = end_of_local_day_after(referral.issued_at, EXTENSION_CALENDAR_DAYS);
        if valid_until != expected || valid_until <= referral.valid_until {
            return Err(format!(
                "referral {district}/R{number} extended to {valid_until}, the model expects \
                 {expected} (after {})",
                referral.valid_until
            ));
        }
        referral.valid_until = valid_until;
        referral.extended = true;
        Ok(())
    }

    /// An officer's decision on a claim; `tier` is the journal's for a verification.
    pub fn decide(
        &mut self,
        district: u32,
        number: u32,
        verified: Option<u8>,
    ) -> Result<(), ModelError> {
        let child = self.child_mut(district, number)?;
        if !child.waiting() {
            return Err(format!(
                "a priority decision on {district}/{number}, which is {:?}",
                child.state
            ));
        }
        let category = child.form.claim.clone().unwrap_or_default();
        match (verified, child.claim) {
            (Some(tier), Some(ClaimState::Claimed)) => {
                if category_tier(&category) != Some(tier) {
                    return Err(format!("{category} verified into tier {tier}"));
                }
                child.tier = tier;
                child.claim = Some(ClaimState::Verified);
            }
            (None, Some(ClaimState::Claimed | ClaimState::Verified)) => {
                child.tier = GENERAL_TIER;
                child.claim = Some(ClaimState::Rejected);
            }
            (_, claim) => {
                return Err(format!(
                    "a decision ({verified:?}) on {district}/{number}, whose claim is {claim:?}"
                ))
            }
        }
        Ok(())
    }

    /// Every deadline still pending, earliest first.
    pub fn deadlines(&self) -> Vec<(i64, Due)> {
        let mut due = Vec::new();
        for (d, book) in self.books.iter().enumerate() {
            let district = d as u32 + 1;
            for child in &book.children {
                if let ChildState::Waiting {
                    held_until: Some(at),
                } = child.state
                {
                    due.push((at, Due::StopListEnds(district, child.number)));
                }
            }
            for referral in &book.referrals {
                if referral.state == ReferralState::Issued {
                    let number = referral.issued.number;
                    due.push((referral.valid_until, Due::ReferralExpires(district, number)));
                }
            }
        }
        due.sort();
        due
    }

    /// What fell due at `at`, as the journal has it (each expiry with the end of its stop
    /// list): it must be exactly the earliest pending deadlines. Returns the referrals the
    /// open places of the districts concerned went to.
    pub fn tick(
        &mut self,
        at: i64,
        due: &[Due],
        held_until: &[(Due, i64)],
    ) -> Result<Vec<Issued>, ModelError> {
        let expected: Vec<Due> = self
            .deadlines()
            .into_iter()
            .take_while(|(instant, _)| *instant <= at)
            .map(|(instant, due)| {
                if instant < at {
                    Err(format!(
                        "{due:?} fell due at {instant}, before {at}, and was missed"
                    ))
                } else {
                    Ok(due)
                }
            })
            .collect::<Result<_, _>>()?;
        let mut found = due.to_vec();
        found.sort();
        if found != expected {
            return Err(format!(
                "at {at} the model has {expected:?} due, the journal processes {found:?}"
            ));
        }
        let mut districts = std::collections::BTreeSet::new();
        for item in due {
            match *item {
                Due::StopListEnds(district, number) => {
                    districts.insert(district);
                    self.child_mut(district, number)?.state =
                        ChildState::Waiting { held_until: None };
                }
                Due::ReferralExpires(district, number) => {
                    districts.insert(district);
                    let held = held_until
                        .iter()
                        .find(|(d, _)| d == item)
                        .map(|(_, h)| *h)
                        .ok_or_else(|| format!("{item:?} without its stop list"))?;
                    self.lapse(district, number, ReferralState::Expired, at, held)?;
                }
            }
        }
        let mut issued = Vec::new();
        for district in districts {
            let open: Vec<u64> = self
                .places
                .iter()
                .filter(|p| p.state == PlaceState::Open && p.vacancy.district == district)
                .map(|p| p.id)
                .collect();
            issued.extend(open.into_iter().filter_map(|p| self.allocate(p)));
        }
        Ok(issued)
    }

    /// The waiting applications (the stop list included) of a district's birth-year cohort,
    /// in queue order; with a kindergarten, only those that chose it or any.
    pub fn queue(&self, district: u32, cohort: i32, kindergarten: Option<u32>) -> Vec<(u32, bool)> {
        let mut waiting: Vec<&Child> = self.books[district as usize - 1]
            .children
            .iter()
            .filter(|c| c.waiting() && c.cohort() == cohort)
            .filter(|c| kindergarten.is_none_or(|k| c.wants(k)))
            .collect();
        waiting.sort_by_key(|c| c.key());
        waiting
            .iter()
            .map(|c| {
                let held = !matches!(c.state, ChildState::Waiting { held_until: None });
                (c.number, held)
            })
            .collect()
    }

    fn referral_mut(
        &mut self,
        district: u32,
        number: u32,
    ) -> Result<&mut ModelReferral, ModelError> {
        self.books
            .get_mut((district as usize).wrapping_sub(1))
            .and_then(|b| b.referrals.get_mut((number as usize).wrapping_sub(1)))
            .ok_or_else(|| format!("referral {district}/R{number} was never issued"))
    }

    fn live(&mut self, district: u32, number: u32) -> Result<(u64, u32), ModelError> {
        let r = self.referral_mut(district, number)?;
        if r.state == ReferralState::Issued {
            Ok((r.issued.place, r.issued.application))
        } else {
            Err(format!(
                "referral {district}/R{number} is {:?}, not live",
                r.state
            ))
        }
    }

    /// Ends a live referral without enrolment: the place opens, the child waits on the
    /// stop list until `held_until`, which must be `at` plus the policy's days.
    fn lapse(
        &mut self,
        district: u32,
        number: u32,
        how: ReferralState,
        at: i64,
        held_until: i64,
    ) -> Result<u64, ModelError> {
        let (place, application) = self.live(district, number)?;
        if held_until != at + STOP_LIST_DAYS * MICROS_PER_DAY {
            return Err(format!(
                "referral {district}/R{number} lapsed at {at} with a stop list until \
                 {held_until}, not {STOP_LIST_DAYS} days"
            ));
        }
        let referral = self.referral_mut(district, number)?;
        referral.state = how;
        let transfer = referral.transfer;
        self.places[place as usize - 1].state = PlaceState::Open;
        let child = self.child_mut(district, application)?;
        if transfer {
            // The request ends with its referral; the child keeps its place.
            child.transfer = None;
        } else {
            child.state = ChildState::Waiting {
                held_until: Some(held_until),
            };
        }
        Ok(place)
    }

    /// The place goes to the first fitting child of its district in key order; when none
    /// fits, to the earliest fitting transfer request; else it stays open.
    fn allocate(&mut self, place: u64) -> Option<Issued> {
        let open = &self.places[place as usize - 1];
        debug_assert_eq!(open.state, PlaceState::Open);
        let children = &self.books[open.vacancy.district as usize - 1].children;
        let first_time = children
            .iter()
            .filter(|c| c.fits(open))
            .min_by_key(|c| c.key());
        let transfer = || {
            children
                .iter()
                .filter(|c| c.transfer_fits(open))
                .min_by_key(|c| (c.transfer.as_ref().map(|t| t.requested_at_micros), c.number))
        };
        let number = first_time.or_else(transfer)?.number;
        Some(self.issue(place, number))
    }

    fn issue(&mut self, place: u64, application: u32) -> Issued {
        let vacancy = &self.places[place as usize - 1].vacancy;
        let (district, kindergarten) = (vacancy.district, vacancy.kindergarten);
        let book = self.book(district);
        let issued = Issued {
            district,
            number: book.referrals.len() as u32 + 1,
            place,
            application,
            kindergarten,
        };
        let child = &mut book.children[application as usize - 1];
        let transfer = child.state == ChildState::Enrolled;
        match child.transfer.as_mut() {
            Some(ask) if transfer => ask.referral = Some(issued.number),
            _ => child.state = ChildState::Referred(issued.number),
        }
        book.referrals.push(ModelReferral {
            issued,
            state: ReferralState::Issued,
            issued_at: 0,
            valid_until: i64::MAX,
            extended: false,
            transfer,
        });
        self.places[place as usize - 1].state = PlaceState::Held(issued.number);
        issued
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn form(district: u32, choices: Vec<u32>, language: Option<&str>) -> Form {
        Form {
            district,
            birth: day(2023, 5, 1),
            language: language.map(str::to_string),
            choices,
            desired_start: day(2026, 12, 1),
            claim: None,
        }
    }

    fn vacancy(district: u32, kindergarten: u32, count: u32) -> Vacancy {
        Vacancy {
            district,
            kindergarten,
            born_from: day(2023, 1, 1),
            born_to: day(2023, 12, 31),
            language: "kk".into(),
            count,
            available_from: day(2026, 12, 1),
        }
    }

    const DAY: i64 = MICROS_PER_DAY;

    #[test]
    fn places_go_in_key_order_and_a_decline_passes_the_place_on() {
        let mut model = Model::new(2);
        assert_eq!(model.register(form(1, vec![1], Some("kk")), 5).0, 1);
        assert_eq!(model.register(form(1, vec![], None), 5).0, 2);
        model.register(form(1, vec![2], None), 5);
        assert_eq!(model.register(form(2, vec![], None), 5).0, 1, "own numbers");
        let (places, referrals) = model.report(vacancy(1, 1, 3));
        assert_eq!(places, [1, 2, 3]);
        let to: Vec<u32> = referrals.iter().map(|r| r.application).collect();
        assert_eq!(
            to,
            [1, 2],
            "the third wants only 2; district 2's child is elsewhere"
        );
        assert_eq!(model.decline(1, 1, 7, 7 + 10 * DAY).unwrap(), None);
        assert_eq!(model.queue(1, 2023, None), [(1, true), (3, false)]);
        assert_eq!(model.queue(1, 2023, Some(1)), [(1, true)]);
        let (_, at_once) = model.register(form(1, vec![1], Some("kk")), 6);
        assert_eq!(at_once.map(|r| r.place), Some(1));
        assert!(model.hand_in(1, 1, 7).is_err(), "declined");
        assert_eq!(model.hand_in(1, 2, 7).unwrap(), None, "not a transfer");
        assert_eq!(model.places[1].state, PlaceState::Filled);
    }

    #[test]
    fn a_verified_claim_goes_ahead_and_a_rejected_one_does_not() {
        let mut model = Model::new(1);
        model.register(form(1, vec![], None), 1);
        let claimed = Form {
            claim: Some("orphan".into()),
            ..form(1, vec![], None)
        };
        model.register(claimed.clone(), 2);
        model.register(claimed, 3);
        model.decide(1, 2, Some(1)).unwrap();
        model.decide(1, 3, None).unwrap();
        assert!(model.decide(1, 3, None).is_err(), "decided already");
        assert_eq!(
            model.queue(1, 2023, None),
            [(2, false), (1, false), (3, false)]
        );
        assert!(model.decide(1, 1, Some(1)).is_err(), "no claim");
    }

    #[test]
    fn an_expiry_reopens_the_place_for_the_next_and_the_stop_list_ends() {
        let mut model = Model::new(1);
        model.register(form(1, vec![], None), 1);
        model.register(form(1, vec![], None), 2);
        let (_, issued) = model.report(vacancy(1, 1, 1));
        assert_eq!(issued[0].application, 1);
        model.set_terms(1, 1, 10, 10 + 7 * DAY).unwrap();
        assert!(model.set_terms(1, 1, 10, 10 + 30 * DAY).is_err());
        let due = [Due::ReferralExpires(1, 1)];
        assert!(model.tick(10 + 8 * DAY, &due, &[]).is_err(), "missed");
        let at = 10 + 7 * DAY;
        let issued = model.tick(at, &due, &[(due[0], at + 10 * DAY)]).unwrap();
        assert_eq!(issued[0].application, 2, "the next child");
        let back = [Due::StopListEnds(1, 1)];
        assert_eq!(model.deadlines()[0], (at + 10 * DAY, back[0]));
    }

    #[test]
    fn an_extension_ends_on_the_30th_local_day_after_the_issue() {
        let mut model = Model::new(1);
        model.register(form(1, vec![], None), 1);
        model.report(vacancy(1, 1, 1));
        // 2026-12-04 10:00 UTC is 15:00 local; the 30th day after is 2027-01-03, which
        // ends at 2027-01-04 00:00 local = 2027-01-03 19:00 UTC.
        let issued = chrono::Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap();
        let end = chrono::Utc.with_ymd_and_hms(2027, 1, 3, 19, 0, 0).unwrap();
        let issued = issued.timestamp_micros();
        model.set_terms(1, 1, issued, issued + 5 * DAY).unwrap();
        assert!(model.extend(1, 1, end.timestamp_micros() + 1).is_err());
        model.extend(1, 1, end.timestamp_micros()).unwrap();
        assert!(model.extend(1, 1, end.timestamp_micros()).is_err(), "once");
    }

    #[test]
    fn an_amendment_keeps_the_key_and_a_move_keeps_the_time() {
        let mut model = Model::new(2);
        model.register(form(1, vec![2], None), 1);
        model.register(form(1, vec![2], None), 2);
        model.report(vacancy(1, 1, 1));
        let taken = model.amend(1, 2, vec![1], None, day(2026, 12, 1)).unwrap();
        assert_eq!(
            taken.map(|r| r.application),
            Some(2),
            "the open place fits now"
        );
        assert!(
            model.amend(1, 2, vec![2], None, day(2026, 12, 1)).is_err(),
            "a referral is outstanding"
        );
        model.register(form(2, vec![], None), 5);
        let (number, _) = model.move_to((1, 1), 2, vec![], None).unwrap();
        assert_eq!(number, 2);
        assert_eq!(model.child(1, 1).unwrap().state, ChildState::Moved);
        assert_eq!(
            model.queue(2, 2023, None),
            [(2, false), (1, false)],
            "by the original time: the moved child (time 1) before the later one (time 5)"
        );
        assert!(
            model.move_to((1, 1), 2, vec![], None).is_err(),
            "moved already"
        );
    }

    #[test]
    fn a_transfer_waits_for_first_time_children_and_frees_its_old_place() {
        let mut model = Model::new(1);
        model.register(form(1, vec![1], None), 1);
        model.report(vacancy(1, 1, 1));
        model.set_terms(1, 1, 10, 10 + DAY).unwrap();
        assert_eq!(model.hand_in(1, 1, 20).unwrap(), None);
        assert!(model
            .request_transfer(1, 1, vec![2], 30)
            .unwrap()
            .is_empty());
        model.register(form(1, vec![], None), 40);
        let (_, issued) = model.report(vacancy(1, 2, 2));
        let to: Vec<u32> = issued.iter().map(|r| r.application).collect();
        assert_eq!(to, [2, 1], "the first-time child first, then the transfer");
        assert!(model.books[0].referrals[2].transfer);
        let (freed, next) = model.hand_in(1, 3, 50).unwrap().expect("a transfer");
        assert_eq!((freed, next), (4, None), "nobody waits for the old place");
        assert_eq!(model.places[3].vacancy.kindergarten, 1);
        assert_eq!(model.child(1, 1).unwrap().place, Some(3));
    }
}
