//! Referrals through the real service (SQLite in a temporary directory per case) against a
//! plain reference model: a list of applications compared by queue key on demand, the places
//! reported and the referrals issued.
//!
//! Random operations: registrations (children born in 2021–2022, Kazakh, Russian or any
//! group, one or two kindergartens or any, a desired start from today on, some with priority
//! claims that are later verified or rejected), reports of free places, hand-ins, declines,
//! revocations, extensions, withdrawals, clock moves (then a tick) and restarts.
//!
//! After every operation:
//! 1. fairness: each referral the operation issued went to an application such that, at that
//!    moment, no waiting application with a smaller key fitted the place. Several referrals
//!    of one operation are checked in order, each against the model updated by the ones
//!    before. The moment of a referral issued for a deadline (expiry, end of a stop list) is
//!    the deadline's instant, when everything due at that instant has happened: a child
//!    whose stop list ends at the instant a place frees is back in the queue. (Expiries and
//!    ends of stop lists fall on local midnights, so such ties are common, not freak
//!    coincidences.)
//! 2. a place is held by at most one live referral, a child holds at most one;
//! 3. the service's own invariants hold, and its live referrals, stop list, waiting list and
//!    open places are the model's; no open place fits a waiting child off the stop list;
//! 4. every live referral is valid beyond the clock.
//!
//! At the end of a case `verify` accepts the file and counts the referrals the service
//! issued, and the referrals table, in order, is exactly what was issued, with the final
//! status of each.
//!
//! A second property runs the 1 : 3 interleave policy and checks the tier of every referral
//! against a cycle modelled here.
//!
//! The model's fit, order, deadlines and cycle are written from DOMAIN.md, not taken from
//! the crate. Referrals issued by the timer (the background thread runs deadlines when the
//! manual clock moves) are read from the referrals table after `tick_blocking`; tick
//! reports are never asserted on, as they race with the timer.
//!
//! The last tests are minimal cases the properties found, written out.

mod common;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use common::TestApp;
use kezek::clock::Clock;
use kezek::domain::application::{
    Application, ApplicationId, ApplicationStatus, Channel, RegistrationForm,
};
use kezek::domain::catalog::{AgeBand, KindergartenId, Language, Tier};
use kezek::domain::event::Actor;
use kezek::domain::iin::{Iin, Sex};
use kezek::domain::referral::{DistrictPolicy, PlaceId, Referral, ReferralId, ReferralStatus};
use kezek::service::{Command, CommandError, NewPlaces, Outcome};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

const CASES: u32 = 64;
const OPS_MAX: usize = 50;
const OPS_MIN: usize = 1;
const INTERLEAVE_CASES: u32 = 32;
const INTERLEAVE_OPS_MAX: usize = 36;
const STOP_LIST_DAYS: i64 = 10;
const EXTENSION_DAYS: i64 = 30;
/// (code, tier) of the claimed categories, as configured in migration 0001.
const CATEGORIES: [(&str, Tier); 3] = [
    ("large_family", Tier::First),
    ("orphan", Tier::First),
    ("military_family", Tier::OutOfTurn),
];

/// The clock stays before this, so that no child of 2021–2022 reaches school age.
fn clock_cap() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 6, 1, 0, 0, 0).unwrap()
}

/// The local (UTC+5) date of an instant.
fn local_date(at: DateTime<Utc>) -> NaiveDate {
    (at + Duration::hours(5)).date_naive()
}

/// The end of a local day: the next local midnight, 19:00 UTC.
fn end_of_local_day(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(19, 0, 0).unwrap())
}

fn fail(message: String) -> TestCaseError {
    TestCaseError::fail(message)
}

/// A valid IIN for a child born on `birth`, distinct per `serial`.
fn iin_for(birth: NaiveDate, serial: u16) -> String {
    (0..10)
        .find_map(|i| Iin::synthesize(birth, Sex::Male, serial * 10 + i))
        .expect("one of ten serials has a check digit")
        .as_string()
}

fn form(
    serial: u16,
    birth: NaiveDate,
    desired_start: NaiveDate,
    kindergartens: Vec<u32>,
    language: &str,
    claim: Option<&str>,
) -> RegistrationForm {
    RegistrationForm {
        district: "ESL".into(),
        child_iin: iin_for(birth, serial),
        child_full_name: "Серікова Аружан".into(),
        child_birth_date: birth.format("%Y-%m-%d").to_string(),
        applicant_iin: "791028302728".into(),
        applicant_full_name: "Серіков Дәулет".into(),
        applicant_phone: "+7 701 000 00 00".into(),
        applicant_email: None,
        applicant_address: "Астана, Қабанбай батыр 1".into(),
        applicant_relation: "father".into(),
        desired_start: desired_start.format("%Y-%m-%d").to_string(),
        kindergartens,
        language: language.into(),
        priority_category: claim.map(str::to_string),
        priority_document: claim.map(|_| "№ 7".to_string()),
    }
}

fn register(app: &TestApp, form: RegistrationForm) -> Result<Outcome, CommandError> {
    let command = Command::Register {
        form,
        channel: Channel::Portal,
    };
    app.service().submit_blocking(command, Actor::portal())
}

fn expect_error(
    what: &str,
    got: Result<Outcome, CommandError>,
    forbidden: bool,
) -> Result<(), TestCaseError> {
    let ok = match &got {
        Err(CommandError::Conflict(_)) => !forbidden,
        Err(CommandError::Forbidden(_)) => forbidden,
        _ => false,
    };
    prop_assert!(
        ok,
        "{}: expected {}, got {:?}",
        what,
        if forbidden { "Forbidden" } else { "Conflict" },
        got
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The reference model.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Claim {
    Claimed,
    Verified,
    Rejected,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChildState {
    /// Queued, possibly on the stop list (`held_until`).
    Waiting,
    Referred(ReferralId),
    Enrolled,
    Withdrawn,
}

#[derive(Clone, Debug)]
struct Child {
    id: ApplicationId,
    registered_at: DateTime<Utc>,
    birth: NaiveDate,
    /// `None`: any language.
    language: Option<Language>,
    /// `None`: any kindergarten of the district.
    choices: Option<Vec<KindergartenId>>,
    desired_start: NaiveDate,
    tier: Tier,
    /// The category's tier and the claim's status.
    claim: Option<(Tier, Claim)>,
    state: ChildState,
    held_until: Option<DateTime<Utc>>,
}

impl Child {
    /// The queue key: (tier, registered_at, registration number).
    fn key(&self) -> (Tier, DateTime<Utc>, u32) {
        (self.tier, self.registered_at, self.id.number.0)
    }

    fn waiting(&self) -> bool {
        self.state == ChildState::Waiting
    }

    /// DOMAIN.md: waiting and not on the stop list, birth date in the band (inclusive),
    /// language equal or any, the kindergarten among the choices or any, desired start not
    /// after the place's date.
    fn fits(&self, place: &ModelPlace) -> bool {
        self.waiting()
            && self.held_until.is_none()
            && place.born_from <= self.birth
            && self.birth <= place.born_to
            && self.language.is_none_or(|l| l == place.language)
            && self
                .choices
                .as_ref()
                .is_none_or(|list| list.contains(&place.kindergarten))
            && self.desired_start <= place.available_from
    }
}

#[derive(Clone, Debug)]
struct ModelPlace {
    id: PlaceId,
    kindergarten: KindergartenId,
    born_from: NaiveDate,
    born_to: NaiveDate,
    language: Language,
    available_from: NaiveDate,
    /// The live referral holding it; `None`: open.
    holder: Option<ReferralId>,
}

/// A referral as the model keeps it, and as the service and the table report it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Issued {
    id: ReferralId,
    place: PlaceId,
    application: ApplicationId,
    kindergarten: KindergartenId,
    issued_at: DateTime<Utc>,
    valid_until: DateTime<Utc>,
    extended: bool,
    status: ReferralStatus,
    closed_at: Option<DateTime<Utc>>,
}

impl Issued {
    fn of(referral: &Referral) -> Issued {
        Issued {
            id: referral.id,
            place: referral.place,
            application: referral.application,
            kindergarten: referral.kindergarten,
            issued_at: referral.issued_at,
            valid_until: referral.valid_until,
            extended: referral.extended,
            status: referral.status,
            closed_at: referral.closed_at,
        }
    }
}

#[derive(Default)]
struct Model {
    children: BTreeMap<ApplicationId, Child>,
    /// Places not filled: open or held.
    places: BTreeMap<PlaceId, ModelPlace>,
    /// Every referral, in the order issued.
    referrals: Vec<Issued>,
    last_registration: Option<(u32, DateTime<Utc>)>,
    last_place: Option<u64>,
}

impl Model {
    fn live(&self) -> impl Iterator<Item = &Issued> {
        self.referrals
            .iter()
            .filter(|r| r.status == ReferralStatus::Issued)
    }

    fn referral_mut(&mut self, id: ReferralId) -> &mut Issued {
        self.referrals.iter_mut().find(|r| r.id == id).unwrap()
    }

    /// An open place and a waiting child off the stop list who fits it, if any.
    fn fitting_pair(&self) -> Option<(PlaceId, ApplicationId)> {
        self.places
            .values()
            .filter(|p| p.holder.is_none())
            .find_map(|p| {
                self.children
                    .values()
                    .find(|c| c.fits(p))
                    .map(|c| (p.id, c.id))
            })
    }

    /// Checks a referral the service issued at `now` against the model (fairness, one live
    /// referral per place and per child), then records it.
    fn accept(
        &mut self,
        r: &Issued,
        now: DateTime<Utc>,
        context: &str,
    ) -> Result<(), TestCaseError> {
        let number = self.referrals.len() as u32 + 1;
        prop_assert_eq!(
            r.id.number.0,
            number,
            "{}: referral numbers are gapless and increasing",
            context
        );
        prop_assert_eq!(r.status, ReferralStatus::Issued, "{}: {:?}", context, r);
        prop_assert_eq!(r.issued_at, now, "{}: issued now: {:?}", context, r);
        prop_assert!(!r.extended && r.closed_at.is_none(), "{}: {:?}", context, r);
        prop_assert_eq!(
            r.valid_until,
            end_of_local_day(local_date(r.valid_until - Duration::seconds(1))),
            "{}: a referral lapses at the end of a local day: {:?}",
            context,
            r
        );
        prop_assert!(
            r.valid_until > r.issued_at + Duration::days(5)
                && r.valid_until < r.issued_at + Duration::days(16),
            "{}: 5 working days: {:?}",
            context,
            r
        );
        let Some(place) = self.places.get(&r.place) else {
            return Err(fail(format!(
                "{context}: {r:?} is for an unknown or filled place"
            )));
        };
        if let Some(holder) = place.holder {
            return Err(fail(format!(
                "{context}: {r:?} is for a place that live referral {holder:?} holds"
            )));
        }
        prop_assert_eq!(r.kindergarten, place.kindergarten, "{}: {:?}", context, r);
        let Some(child) = self.children.get(&r.application) else {
            return Err(fail(format!(
                "{context}: {r:?} is for an unknown application"
            )));
        };
        prop_assert!(
            child.waiting(),
            "{}: {:?} went to a child who is {:?} (one live referral per child)",
            context,
            r,
            child.state
        );
        prop_assert!(
            child.fits(place),
            "{}: {:?} went to a child who does not fit the place: {:?} {:?}",
            context,
            r,
            child,
            place
        );
        if let Some(ahead) = self
            .children
            .values()
            .filter(|other| other.key() < child.key() && other.fits(place))
            .min_by_key(|other| other.key())
        {
            return Err(fail(format!(
                "{context}: UNFAIR: {place:?} went to {:?} (key {:?}) while {:?} (key {:?}) \
                 waited and fitted it",
                child.id,
                child.key(),
                ahead.id,
                ahead.key()
            )));
        }
        self.places.get_mut(&r.place).unwrap().holder = Some(r.id);
        self.children.get_mut(&r.application).unwrap().state = ChildState::Referred(r.id);
        self.referrals.push(r.clone());
        Ok(())
    }

    /// Takes the service's referrals, in order, as long as an open place fits a waiting
    /// child; then nothing may be left on either side.
    fn settle(
        &mut self,
        issued: &mut VecDeque<Issued>,
        now: DateTime<Utc>,
        context: &str,
    ) -> Result<(), TestCaseError> {
        while let Some((place, child)) = self.fitting_pair() {
            let Some(next) = issued.pop_front() else {
                return Err(fail(format!(
                    "{context}: open {place:?} fits waiting {child:?}, but no referral was issued"
                )));
            };
            self.accept(&next, now, context)?;
        }
        Ok(())
    }

    /// Ends a live referral without enrolment: the child goes on the stop list with its key
    /// (general tier if its priority turned out unconfirmed), the place opens.
    fn lapse(
        &mut self,
        id: ReferralId,
        at: DateTime<Utc>,
        status: ReferralStatus,
        unconfirmed: bool,
    ) {
        let referral = self.referral_mut(id);
        referral.status = status;
        referral.closed_at = Some(at);
        let (place, application) = (referral.place, referral.application);
        self.places.get_mut(&place).unwrap().holder = None;
        let child = self.children.get_mut(&application).unwrap();
        child.state = ChildState::Waiting;
        child.held_until = Some(at + Duration::days(STOP_LIST_DAYS));
        if unconfirmed {
            child.tier = Tier::General;
            if let Some((_, claim)) = child.claim.as_mut() {
                *claim = Claim::Rejected;
            }
        }
    }

    /// Everything due up to `now`, instant by instant: expiries and ends of stop lists at
    /// that instant, then the referrals they bring (taken from `issued`, in order).
    fn run_deadlines(
        &mut self,
        now: DateTime<Utc>,
        issued: &mut VecDeque<Issued>,
    ) -> Result<(), TestCaseError> {
        loop {
            let expiries = self.live().map(|r| r.valid_until);
            let ends = self
                .children
                .values()
                .filter(|c| c.waiting())
                .filter_map(|c| c.held_until);
            let Some(at) = expiries.chain(ends).min().filter(|at| *at <= now) else {
                break;
            };
            let releasing: Vec<ApplicationId> = self
                .children
                .values()
                .filter(|c| c.waiting() && c.held_until == Some(at))
                .map(|c| c.id)
                .collect();
            let expiring: Vec<ReferralId> = self
                .live()
                .filter(|r| r.valid_until == at)
                .map(|r| r.id)
                .collect();
            for id in expiring {
                self.lapse(id, at, ReferralStatus::Expired, false);
            }
            for id in releasing {
                self.children.get_mut(&id).unwrap().held_until = None;
            }
            // Issued now, decided as of `at`, when everything due at `at` has happened.
            let context = format!("deadlines at {at}");
            while let Some((place, child)) = self.fitting_pair() {
                let Some(next) = issued.pop_front() else {
                    return Err(fail(format!(
                        "{context}: open {place:?} fits waiting {child:?}, but no referral \
                         was issued"
                    )));
                };
                self.accept(&next, now, &context)?;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Generated operations.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Register {
        born_2021: bool,
        day_of_year: i64,
        /// 0 kk, 1 ru, 2 any
        language: u8,
        /// 0 [k0], 1 [k1], 2 [k0, k1], 3 [k1, k0], 4 any
        choice: u8,
        start_in_days: i64,
        claim: Option<usize>,
    },
    Report {
        count: u32,
        kindergarten: usize,
        /// 0 born 2021, 1 born 2022, 2 both
        band: u8,
        russian: bool,
        from_in_days: i64,
    },
    HandIn {
        pick: Index,
        stale: bool,
        wrong_kindergarten: bool,
    },
    Decline {
        pick: Index,
        stale: bool,
    },
    Revoke {
        pick: Index,
        stale: bool,
        unconfirmed: bool,
    },
    Extend {
        pick: Index,
        stale: bool,
    },
    Decide {
        pick: Index,
        verify: bool,
    },
    Withdraw {
        pick: Index,
    },
    Advance {
        minutes: i64,
    },
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    let stale = || prop::bool::weighted(0.15);
    prop_oneof![
        10 => (
            any::<bool>(),
            0..365i64,
            prop_oneof![5 => Just(0u8), 3 => Just(2u8), 2 => Just(1u8)],
            prop_oneof![2 => Just(0u8), 1 => Just(1u8), 2 => Just(2u8), 1 => Just(3u8), 3 => Just(4u8)],
            prop_oneof![6 => Just(0i64), 2 => 1..6i64, 1 => 6..20i64],
            prop::option::weighted(0.4, 0..CATEGORIES.len()),
        )
            .prop_map(|(born_2021, day_of_year, language, choice, start_in_days, claim)| {
                Op::Register {
                    born_2021,
                    day_of_year,
                    language,
                    choice,
                    start_in_days,
                    claim,
                }
            }),
        2 => (
            prop_oneof![3 => Just(1u32), 1 => 2..=3u32],
            0..2usize,
            prop_oneof![1 => Just(0u8), 1 => Just(1u8), 3 => Just(2u8)],
            prop::bool::weighted(0.25),
            prop_oneof![2 => Just(0i64), 1 => 1..5i64],
        )
            .prop_map(
            |(count, kindergarten, band, russian, from_in_days)| Op::Report {
                count,
                kindergarten,
                band,
                russian,
                from_in_days,
            }
        ),
        1 => (any::<Index>(), stale(), prop::bool::weighted(0.2)).prop_map(
            |(pick, stale, wrong_kindergarten)| Op::HandIn {
                pick,
                stale,
                wrong_kindergarten,
            }
        ),
        2 => (any::<Index>(), stale()).prop_map(|(pick, stale)| Op::Decline { pick, stale }),
        1 => (any::<Index>(), stale(), any::<bool>()).prop_map(|(pick, stale, unconfirmed)| {
            Op::Revoke {
                pick,
                stale,
                unconfirmed,
            }
        }),
        1 => (any::<Index>(), stale()).prop_map(|(pick, stale)| Op::Extend { pick, stale }),
        3 => (any::<Index>(), prop::bool::weighted(0.75))
            .prop_map(|(pick, verify)| Op::Decide { pick, verify }),
        1 => any::<Index>().prop_map(|pick| Op::Withdraw { pick }),
        4 => prop_oneof![1..600i64, 1440..=15 * 1440i64]
            .prop_map(|minutes| Op::Advance { minutes }),
        1 => Just(Op::Restart),
    ]
}

// ---------------------------------------------------------------------------------------
// The world: the service and the model side by side.
// ---------------------------------------------------------------------------------------

struct World {
    app: TestApp,
    model: Model,
    serial: u16,
}

impl World {
    fn new() -> World {
        World {
            app: TestApp::spawn(),
            model: Model::default(),
            serial: 0,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.app.clock.now()
    }

    fn today(&self) -> NaiveDate {
        local_date(self.now())
    }

    fn kindergarten(&self, index: usize) -> KindergartenId {
        self.app.kindergartens[index]
    }

    /// A referral to act on: a live one, or (stale) any one ever issued.
    fn pick_referral(&self, pick: &Index, stale: bool) -> Option<Issued> {
        let pool: Vec<&Issued> = if stale {
            self.model.referrals.iter().collect()
        } else {
            self.model.live().collect()
        };
        (!pool.is_empty()).then(|| pool[pick.index(pool.len())].clone())
    }

    fn submit(&self, command: Command, actor: Actor) -> Result<Outcome, CommandError> {
        self.app.service().submit_blocking(command, actor)
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let now = self.now();
        let context = format!("{op:?} at {now}");
        match op {
            Op::Register {
                born_2021,
                day_of_year,
                language,
                choice,
                start_in_days,
                claim,
            } => {
                let year = if *born_2021 { 2021 } else { 2022 };
                let birth =
                    NaiveDate::from_ymd_opt(year, 1, 1).unwrap() + Duration::days(*day_of_year);
                let desired_start = self.today() + Duration::days(*start_in_days);
                let (k0, k1) = (self.kindergarten(0), self.kindergarten(1));
                let choices = match choice {
                    0 => Some(vec![k0]),
                    1 => Some(vec![k1]),
                    2 => Some(vec![k0, k1]),
                    3 => Some(vec![k1, k0]),
                    _ => None,
                };
                let (code, language) = match language {
                    0 => ("kk", Some(Language::KAZAKH)),
                    1 => ("ru", Some(Language::RUSSIAN)),
                    _ => ("any", None),
                };
                let category = claim.map(|i| CATEGORIES[i]);
                self.serial += 1;
                let form = form(
                    self.serial,
                    birth,
                    desired_start,
                    choices
                        .clone()
                        .unwrap_or_default()
                        .iter()
                        .map(|k| k.0)
                        .collect(),
                    code,
                    category.map(|(code, _)| code),
                );
                let outcome = register(&self.app, form);
                let Ok(Outcome::Registered {
                    application,
                    referral,
                    ..
                }) = outcome
                else {
                    return Err(fail(format!("{context}: answered {outcome:?}")));
                };
                let number = self.model.last_registration.map_or(1, |(n, _)| n + 1);
                prop_assert_eq!(application.id.district, self.app.district);
                prop_assert_eq!(application.id.number.0, number, "{}: gapless", &context);
                let earliest = self.model.last_registration.map(|(_, at)| at);
                prop_assert!(
                    earliest.is_none_or(|at| at <= application.registered_at)
                        && application.registered_at <= now,
                    "{}: registered at {}",
                    &context,
                    application.registered_at
                );
                prop_assert_eq!(
                    application.tier,
                    Tier::General,
                    "a claim counts once verified"
                );
                let status = if referral.is_some() {
                    ApplicationStatus::Referred
                } else {
                    ApplicationStatus::Queued
                };
                prop_assert_eq!(application.status, status);
                self.model.last_registration = Some((number, application.registered_at));
                self.model.children.insert(
                    application.id,
                    Child {
                        id: application.id,
                        registered_at: application.registered_at,
                        birth,
                        language,
                        choices,
                        desired_start,
                        tier: Tier::General,
                        claim: category.map(|(_, tier)| (tier, Claim::Claimed)),
                        state: ChildState::Waiting,
                        held_until: None,
                    },
                );
                let mut issued: VecDeque<Issued> = referral.iter().map(|r| Issued::of(r)).collect();
                if let Some(r) = issued.front() {
                    prop_assert_eq!(r.application, application.id, "{}", &context);
                }
                self.model.settle(&mut issued, now, &context)?;
                prop_assert!(
                    issued.is_empty(),
                    "{}: a referral no open place called for: {:?}",
                    &context,
                    issued
                );
            }
            Op::Report {
                count,
                kindergarten,
                band,
                russian,
                from_in_days,
            } => {
                let (born_from, born_to) = match band {
                    0 => (common::date(2021, 1, 1), common::date(2021, 12, 31)),
                    1 => (common::date(2022, 1, 1), common::date(2022, 12, 31)),
                    _ => (common::date(2021, 1, 1), common::date(2022, 12, 31)),
                };
                let language = if *russian {
                    Language::RUSSIAN
                } else {
                    Language::KAZAKH
                };
                let available_from = self.today() + Duration::days(*from_in_days);
                let new = NewPlaces {
                    kindergarten: self.kindergarten(*kindergarten),
                    group: None,
                    age_band: Some(AgeBand::new(born_from, born_to).unwrap()),
                    language: Some(language),
                    count: *count,
                    available_from,
                };
                let outcome = self.submit(Command::ReportPlaces(new), Actor::staff("kg"));
                let Ok(Outcome::PlacesReported { places, referrals }) = outcome else {
                    return Err(fail(format!("{context}: answered {outcome:?}")));
                };
                prop_assert_eq!(places.len(), *count as usize);
                for (i, id) in places.iter().enumerate() {
                    if let Some(last) = self.model.last_place {
                        prop_assert!(id.0 > last, "{}: place ids increase", &context);
                    }
                    if i > 0 {
                        prop_assert_eq!(id.0, places[i - 1].0 + 1);
                    }
                    self.model.places.insert(
                        *id,
                        ModelPlace {
                            id: *id,
                            kindergarten: self.kindergarten(*kindergarten),
                            born_from,
                            born_to,
                            language,
                            available_from,
                            holder: None,
                        },
                    );
                }
                self.model.last_place = places.last().map(|p| p.0);
                let mut issued: VecDeque<Issued> = referrals.iter().map(Issued::of).collect();
                self.model.settle(&mut issued, now, &context)?;
                prop_assert!(
                    issued.is_empty(),
                    "{}: referrals beyond what fits: {:?}",
                    &context,
                    issued
                );
            }
            Op::HandIn {
                pick,
                stale,
                wrong_kindergarten,
            } => {
                let Some(referral) = self.pick_referral(pick, *stale) else {
                    return Ok(());
                };
                let by = if *wrong_kindergarten {
                    if referral.kindergarten == self.kindergarten(0) {
                        self.kindergarten(1)
                    } else {
                        self.kindergarten(0)
                    }
                } else {
                    referral.kindergarten
                };
                let command = Command::HandIn {
                    referral: referral.id,
                    by,
                };
                let got = self.submit(command, Actor::staff("kg"));
                if referral.status != ReferralStatus::Issued {
                    return expect_error(&context, got, false);
                }
                if *wrong_kindergarten {
                    return expect_error(&context, got, true);
                }
                let Ok(Outcome::Referral(done)) = got else {
                    return Err(fail(format!("{context}: answered {got:?}")));
                };
                let model = self.model.referral_mut(referral.id);
                model.status = ReferralStatus::HandedIn;
                model.closed_at = Some(now);
                prop_assert_eq!(&Issued::of(&done), &*model, "{}", &context);
                self.model.places.remove(&referral.place);
                self.model
                    .children
                    .get_mut(&referral.application)
                    .unwrap()
                    .state = ChildState::Enrolled;
            }
            Op::Decline { pick, stale } | Op::Revoke { pick, stale, .. } => {
                let Some(referral) = self.pick_referral(pick, *stale) else {
                    return Ok(());
                };
                let (command, status, unconfirmed) = match op {
                    Op::Revoke { unconfirmed, .. } => (
                        Command::Revoke {
                            referral: referral.id,
                            reason: "құжат расталмады".into(),
                            priority_unconfirmed: *unconfirmed,
                        },
                        ReferralStatus::Revoked,
                        *unconfirmed,
                    ),
                    _ => (
                        Command::Decline {
                            referral: referral.id,
                        },
                        ReferralStatus::Declined,
                        false,
                    ),
                };
                let got = self.submit(command, Actor::staff("officer"));
                if referral.status != ReferralStatus::Issued {
                    return expect_error(&context, got, false);
                }
                let Ok(Outcome::Lapsed { next }) = got else {
                    return Err(fail(format!("{context}: answered {got:?}")));
                };
                self.model.lapse(referral.id, now, status, unconfirmed);
                let mut issued: VecDeque<Issued> = next.iter().map(|r| Issued::of(r)).collect();
                if let Some(r) = issued.front() {
                    prop_assert_eq!(r.place, referral.place, "{}: the freed place", &context);
                }
                self.model.settle(&mut issued, now, &context)?;
                prop_assert!(issued.is_empty(), "{}: {:?}", &context, issued);
            }
            Op::Extend { pick, stale } => {
                let Some(referral) = self.pick_referral(pick, *stale) else {
                    return Ok(());
                };
                let got = self.submit(
                    Command::Extend {
                        referral: referral.id,
                    },
                    Actor::portal(),
                );
                let until = end_of_local_day(
                    local_date(referral.issued_at) + Duration::days(EXTENSION_DAYS),
                );
                if referral.status != ReferralStatus::Issued
                    || referral.extended
                    || until <= referral.valid_until
                {
                    return expect_error(&context, got, false);
                }
                let Ok(Outcome::Referral(extended)) = got else {
                    return Err(fail(format!("{context}: answered {got:?}")));
                };
                let model = self.model.referral_mut(referral.id);
                model.valid_until = until;
                model.extended = true;
                prop_assert_eq!(&Issued::of(&extended), &*model, "{}", &context);
            }
            Op::Decide { pick, verify } => {
                let claimed: Vec<ApplicationId> = self
                    .model
                    .children
                    .values()
                    .filter(|c| c.claim.is_some())
                    .map(|c| c.id)
                    .collect();
                if claimed.is_empty() {
                    return Ok(());
                }
                let id = claimed[pick.index(claimed.len())];
                let child = self.model.children.get_mut(&id).unwrap();
                let (tier, claim) = child.claim.unwrap();
                let command = if *verify {
                    Command::VerifyPriority { id }
                } else {
                    Command::RejectPriority {
                        id,
                        reason: "анықтама жоқ".into(),
                    }
                };
                let got = self
                    .app
                    .service()
                    .submit_blocking(command, Actor::staff("officer"));
                let allowed = child.waiting()
                    && if *verify {
                        claim == Claim::Claimed
                    } else {
                        claim != Claim::Rejected
                    };
                if !allowed {
                    return expect_error(&context, got, false);
                }
                prop_assert!(matches!(got, Ok(Outcome::Done)), "{}: {:?}", &context, got);
                if *verify {
                    child.claim = Some((tier, Claim::Verified));
                    child.tier = tier;
                } else {
                    child.claim = Some((tier, Claim::Rejected));
                    child.tier = Tier::General;
                }
            }
            Op::Withdraw { pick } => {
                let ids: Vec<ApplicationId> = self.model.children.keys().copied().collect();
                if ids.is_empty() {
                    return Ok(());
                }
                let id = ids[pick.index(ids.len())];
                let got = self.submit(Command::Withdraw { id }, Actor::portal());
                let state = self.model.children[&id].state;
                if let ChildState::Referred(referral) = state {
                    // Withdrawing gives the place up: declined, and it goes on at once.
                    let Ok(Outcome::Lapsed { next }) = got else {
                        return Err(fail(format!("{context}: answered {got:?}")));
                    };
                    self.model
                        .lapse(referral, now, ReferralStatus::Declined, false);
                    let child = self.model.children.get_mut(&id).unwrap();
                    child.state = ChildState::Withdrawn;
                    child.held_until = None;
                    let mut issued: VecDeque<Issued> = next.iter().map(|r| Issued::of(r)).collect();
                    self.model.settle(&mut issued, now, &context)?;
                    prop_assert!(issued.is_empty(), "{}: {:?}", &context, issued);
                    return Ok(());
                }
                let child = self.model.children.get_mut(&id).unwrap();
                if !child.waiting() {
                    return expect_error(&context, got, false);
                }
                prop_assert!(matches!(got, Ok(Outcome::Done)), "{}: {:?}", &context, got);
                child.state = ChildState::Withdrawn;
                child.held_until = None;
            }
            Op::Advance { minutes } => {
                let to = now + Duration::minutes(*minutes);
                if to >= clock_cap() {
                    return Ok(());
                }
                self.app.clock.set(to);
                // The timer may run the deadlines too; whoever does, they are done after this.
                self.app
                    .service()
                    .tick_blocking()
                    .map_err(|e| fail(format!("{context}: tick: {e}")))?;
                let known = self.model.referrals.len() as u32;
                let mut issued: VecDeque<Issued> = referral_rows(&self.app)
                    .into_iter()
                    .filter(|r| r.id.number.0 > known)
                    .collect();
                self.model.run_deadlines(to, &mut issued)?;
                prop_assert!(
                    issued.is_empty(),
                    "{}: referrals no deadline called for: {:?}",
                    &context,
                    issued
                );
            }
            Op::Restart => self.app.restart(),
        }
        Ok(())
    }

    /// Properties 2–4 and the service's state against the model's.
    fn compare(&self, context: &str) -> Result<(), TestCaseError> {
        let now = self.now();
        if let Some((place, child)) = self.model.fitting_pair() {
            return Err(fail(format!(
                "{context}: model: open {place:?} fits waiting {child:?}"
            )));
        }
        let state = self.app.service().read();
        if let Err(error) = state.check_invariants(local_date(now)) {
            return Err(fail(format!("{context}: invariants: {error}")));
        }
        // Live referrals.
        let live: Vec<&Issued> = self.model.live().collect();
        prop_assert_eq!(state.live.len(), live.len(), "{}: live referrals", context);
        let mut per_place = HashMap::new();
        let mut per_child = HashMap::new();
        for (id, live) in &state.live {
            let r = &live.referral;
            prop_assert!(
                r.valid_until > now,
                "{}: live {:?} lapsed at {} (now {})",
                context,
                id,
                r.valid_until,
                now
            );
            prop_assert!(
                per_place.insert(r.place, *id).is_none(),
                "{}: two live referrals hold {:?}",
                context,
                r.place
            );
            prop_assert!(
                per_child.insert(r.application, *id).is_none(),
                "{}: a child holds two live referrals",
                context
            );
        }
        for expected in &live {
            let Some(got) = state.live.get(&expected.id) else {
                return Err(fail(format!("{context}: {expected:?} is not live")));
            };
            prop_assert_eq!(&Issued::of(&got.referral), *expected, "{}", context);
        }
        // The stop list and the waiting list.
        let held: HashMap<ApplicationId, DateTime<Utc>> = self
            .model
            .children
            .values()
            .filter(|c| c.waiting())
            .filter_map(|c| c.held_until.map(|until| (c.id, until)))
            .collect();
        prop_assert_eq!(&state.held, &held, "{}: the stop list", context);
        let waiting: Vec<&Child> = self
            .model
            .children
            .values()
            .filter(|c| c.waiting())
            .collect();
        prop_assert_eq!(state.waiting.len(), waiting.len(), "{}: waiting", context);
        for child in waiting {
            let Some(entry) = state.waiting.get(child.id) else {
                return Err(fail(format!("{context}: {:?} is not waiting", child.id)));
            };
            prop_assert_eq!(
                (entry.key.tier, entry.key.registered_at_micros, entry.held),
                (
                    child.tier,
                    child.registered_at.timestamp_micros(),
                    child.held_until.is_some()
                ),
                "{}: {:?}",
                context,
                child.id
            );
        }
        // Places.
        let open: BTreeSet<PlaceId> = self
            .model
            .places
            .values()
            .filter(|p| p.holder.is_none())
            .map(|p| p.id)
            .collect();
        let service_open = state
            .open_places
            .get(&self.app.district)
            .cloned()
            .unwrap_or_default();
        prop_assert_eq!(&service_open, &open, "{}: open places", context);
        let unfilled: BTreeSet<PlaceId> = self.model.places.keys().copied().collect();
        let service_unfilled: BTreeSet<PlaceId> = state.places.keys().copied().collect();
        prop_assert_eq!(&service_unfilled, &unfilled, "{}: unfilled places", context);
        drop(state);
        // The table: one live referral per place and per child; nothing issued unseen.
        let conn = rusqlite::Connection::open(&self.app.path).unwrap();
        for column in ["place_id", "application_district_id, application_number"] {
            let doubled: i64 = conn
                .query_row(
                    &format!(
                        "SELECT count(*) FROM (SELECT 1 FROM referrals WHERE status = 'issued' \
                         GROUP BY {column} HAVING count(*) > 1)"
                    ),
                    [],
                    |row| row.get(0),
                )
                .unwrap();
            prop_assert_eq!(doubled, 0, "{}: two live referrals per {}", context, column);
        }
        let (rows, issued): (i64, i64) = conn
            .query_row(
                "SELECT count(*), coalesce(sum(status = 'issued'), 0) FROM referrals",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        prop_assert_eq!(
            (rows as usize, issued as usize),
            (self.model.referrals.len(), live.len()),
            "{}: referrals in the table (all, live)",
            context
        );
        Ok(())
    }

    fn finish(self) -> Result<(), TestCaseError> {
        let report = match kezek::verify::verify(&self.app.path) {
            Ok(report) => report,
            Err(error) => return Err(fail(format!("verify: {error}"))),
        };
        prop_assert_eq!(
            report.referrals,
            self.model.referrals.len(),
            "verify's count"
        );
        let rows = referral_rows(&self.app);
        prop_assert_eq!(
            &rows,
            &self.model.referrals,
            "the referrals table, in order, with final statuses"
        );
        Ok(())
    }
}

/// The referrals table, read with plain SQL, in the order of issue.
fn referral_rows(app: &TestApp) -> Vec<Issued> {
    use kezek::domain::application::RegistrationNumber;
    use kezek::domain::catalog::DistrictId;
    use kezek::domain::referral::ReferralNumber;
    let time = |micros: i64| DateTime::from_timestamp_micros(micros).unwrap();
    let conn = rusqlite::Connection::open(&app.path).unwrap();
    let mut statement = conn
        .prepare(
            "SELECT district_id, number, place_id, application_district_id, application_number, \
             kindergarten_id, issued_at, valid_until, extended, status, closed_at \
             FROM referrals ORDER BY district_id, number",
        )
        .unwrap();
    let rows = statement
        .query_map([], |row| {
            let status: String = row.get(9)?;
            Ok(Issued {
                id: ReferralId {
                    district: DistrictId(row.get(0)?),
                    number: ReferralNumber(row.get(1)?),
                },
                place: PlaceId(row.get::<_, i64>(2)? as u64),
                application: ApplicationId {
                    district: DistrictId(row.get(3)?),
                    number: RegistrationNumber(row.get(4)?),
                },
                kindergarten: KindergartenId(row.get(5)?),
                issued_at: time(row.get(6)?),
                valid_until: time(row.get(7)?),
                extended: row.get(8)?,
                status: match status.as_str() {
                    "issued" => ReferralStatus::Issued,
                    "handed_in" => ReferralStatus::HandedIn,
                    "declined" => ReferralStatus::Declined,
                    "expired" => ReferralStatus::Expired,
                    "revoked" => ReferralStatus::Revoked,
                    other => panic!("referral status {other}"),
                },
                closed_at: row.get::<_, Option<i64>>(10)?.map(time),
            })
        })
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: CASES,
        max_shrink_iters: 150,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn referrals_go_in_queue_order_and_the_table_says_so(
        ops in prop::collection::vec(op(), OPS_MIN..=OPS_MAX),
    ) {
        let mut world = World::new();
        world.compare("start")?;
        for (i, op) in ops.iter().enumerate() {
            world.apply(op)?;
            world.compare(&format!("after op {i} {op:?}"))?;
        }
        world.finish()?;
    }
}

// ---------------------------------------------------------------------------------------
// The 1 : 3 interleave.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum InterleaveOp {
    /// A general child, who lists kindergarten 1 or takes any.
    General {
        any_kindergarten: bool,
    },
    /// A first-priority claim, verified at once or left for `Verify`.
    First {
        category: usize,
        verify_now: bool,
    },
    Verify(Index),
    /// One place that fits everybody.
    Place,
    Decline(Index),
    Restart,
}

fn interleave_op() -> impl Strategy<Value = InterleaveOp> {
    prop_oneof![
        4 => any::<bool>().prop_map(|any_kindergarten| InterleaveOp::General { any_kindergarten }),
        4 => (0..2usize, prop::bool::weighted(0.85))
            .prop_map(|(category, verify_now)| InterleaveOp::First { category, verify_now }),
        1 => any::<Index>().prop_map(InterleaveOp::Verify),
        4 => Just(InterleaveOp::Place),
        1 => any::<Index>().prop_map(InterleaveOp::Decline),
        1 => Just(InterleaveOp::Restart),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Waiting,
    PendingClaim,
    Referred(ReferralId),
    /// Declined: on the stop list for the rest of the case (the clock does not move).
    Held,
}

struct Cycle {
    /// Tier, registration time and where the child stands, by application.
    children: BTreeMap<ApplicationId, (Tier, DateTime<Utc>, Slot)>,
    /// General referrals since the last first-priority one; 3 = first-priority due.
    generals_since_first: u8,
    tiers: Vec<Tier>,
    open: usize,
}

impl Cycle {
    fn first_in(&self, tier: Tier) -> Option<ApplicationId> {
        self.children
            .iter()
            .filter(|(_, (t, _, slot))| {
                *t == tier && matches!(slot, Slot::Waiting | Slot::PendingClaim)
            })
            .min_by_key(|(id, (t, at, _))| (*t, *at, id.number))
            .map(|(id, _)| *id)
    }

    /// Whose turn it is for a place that fits everybody.
    fn due(&self) -> Option<(ApplicationId, Tier)> {
        let first = self.first_in(Tier::First).map(|id| (id, Tier::First));
        let general = self.first_in(Tier::General).map(|id| (id, Tier::General));
        if self.generals_since_first >= 3 && first.is_some() {
            first
        } else {
            general.or(first)
        }
    }

    fn accept(&mut self, referral: &Referral, context: &str) -> Result<(), TestCaseError> {
        let due = self.due();
        let Some(&(tier, _, _)) = self.children.get(&referral.application) else {
            return Err(fail(format!(
                "{context}: {referral:?} is for an unknown child"
            )));
        };
        prop_assert_eq!(
            Some((referral.application, tier)),
            due,
            "{}: tiers so far {:?}, generals since the last first-priority {}",
            context,
            &self.tiers,
            self.generals_since_first
        );
        let (tier, _, slot) = self.children.get_mut(&referral.application).unwrap();
        *slot = Slot::Referred(referral.id);
        self.tiers.push(*tier);
        self.generals_since_first = match tier {
            Tier::First => 0,
            _ => (self.generals_since_first + 1).min(3),
        };
        Ok(())
    }
}

fn run_interleave(ops: &[InterleaveOp]) -> Result<(), TestCaseError> {
    let mut app = TestApp::spawn();
    let policy = DistrictPolicy {
        interleave_first_priority: true,
        ..DistrictPolicy::default()
    };
    let set = app.service().submit_blocking(
        Command::SetPolicy {
            district: app.district,
            policy,
        },
        Actor::staff("admin"),
    );
    prop_assert!(set.is_ok(), "{:?}", set);
    let today = local_date(app.clock.now());
    let mut model = Cycle {
        children: BTreeMap::new(),
        generals_since_first: 3,
        tiers: Vec::new(),
        open: 0,
    };
    let mut referrals = 0usize;
    for (i, op) in ops.iter().enumerate() {
        let context = format!("op {i} {op:?}");
        match op {
            InterleaveOp::General { .. } | InterleaveOp::First { .. } => {
                let birth = common::date(2021, 6, 1) + Duration::days(i as i64 * 7);
                let (kindergartens, claim) = match op {
                    InterleaveOp::General { any_kindergarten } => (
                        if *any_kindergarten {
                            vec![]
                        } else {
                            vec![app.kindergartens[0].0]
                        },
                        None,
                    ),
                    InterleaveOp::First { category, .. } => {
                        (vec![app.kindergartens[0].0], Some(CATEGORIES[*category].0))
                    }
                    _ => unreachable!(),
                };
                let language = if i % 2 == 0 { "kk" } else { "any" };
                let form = form(i as u16 + 1, birth, today, kindergartens, language, claim);
                let got = register(&app, form);
                let Ok(Outcome::Registered {
                    application,
                    referral,
                    ..
                }) = got
                else {
                    return Err(fail(format!("{context}: {got:?}")));
                };
                let application: Application = *application;
                let slot = if claim.is_some() {
                    Slot::PendingClaim
                } else {
                    Slot::Waiting
                };
                model.children.insert(
                    application.id,
                    (Tier::General, application.registered_at, slot),
                );
                if let Some(referral) = referral {
                    prop_assert!(model.open > 0, "{}: no place was open", &context);
                    model.open -= 1;
                    model.accept(&referral, &context)?;
                    referrals += 1;
                } else {
                    prop_assert_eq!(model.open, 0, "{}: an open place fits everybody", &context);
                }
                if let (
                    InterleaveOp::First {
                        verify_now: true, ..
                    },
                    Slot::PendingClaim,
                ) = (op, model.children[&application.id].2)
                {
                    verify_claim(&app, &mut model, application.id, &context)?;
                }
            }
            InterleaveOp::Verify(pick) => {
                let pending: Vec<ApplicationId> = model
                    .children
                    .iter()
                    .filter(|(_, c)| c.2 == Slot::PendingClaim)
                    .map(|(id, _)| *id)
                    .collect();
                if !pending.is_empty() {
                    let id = pending[pick.index(pending.len())];
                    verify_claim(&app, &mut model, id, &context)?;
                }
            }
            InterleaveOp::Place => {
                let new = NewPlaces {
                    kindergarten: app.kindergartens[0],
                    group: None,
                    age_band: Some(
                        AgeBand::new(common::date(2021, 1, 1), common::date(2022, 12, 31)).unwrap(),
                    ),
                    language: Some(Language::KAZAKH),
                    count: 1,
                    available_from: today,
                };
                let got = app
                    .service()
                    .submit_blocking(Command::ReportPlaces(new), Actor::staff("kg"));
                let Ok(Outcome::PlacesReported {
                    referrals: issued, ..
                }) = got
                else {
                    return Err(fail(format!("{context}: {got:?}")));
                };
                prop_assert_eq!(
                    issued.len(),
                    usize::from(model.due().is_some()),
                    "{}",
                    &context
                );
                match issued.first() {
                    Some(referral) => {
                        model.accept(referral, &context)?;
                        referrals += 1;
                    }
                    None => model.open += 1,
                }
            }
            InterleaveOp::Decline(pick) => {
                let live: Vec<(ApplicationId, ReferralId)> = model
                    .children
                    .iter()
                    .filter_map(|(id, c)| match c.2 {
                        Slot::Referred(r) => Some((*id, r)),
                        _ => None,
                    })
                    .collect();
                if live.is_empty() {
                    continue;
                }
                let (child, referral) = live[pick.index(live.len())];
                let got = app
                    .service()
                    .submit_blocking(Command::Decline { referral }, Actor::portal());
                let Ok(Outcome::Lapsed { next }) = got else {
                    return Err(fail(format!("{context}: {got:?}")));
                };
                model.children.get_mut(&child).unwrap().2 = Slot::Held;
                prop_assert_eq!(next.is_some(), model.due().is_some(), "{}", &context);
                match next {
                    Some(referral) => {
                        model.accept(&referral, &context)?;
                        referrals += 1;
                    }
                    None => model.open += 1,
                }
            }
            InterleaveOp::Restart => app.restart(),
        }
        let state = app.service().read();
        if let Err(error) = state.check_invariants(local_date(app.clock.now())) {
            return Err(fail(format!("{context}: invariants: {error}")));
        }
    }
    match kezek::verify::verify(&app.path) {
        Ok(report) => prop_assert_eq!(report.referrals, referrals),
        Err(error) => return Err(fail(format!("verify: {error}"))),
    }
    Ok(())
}

fn verify_claim(
    app: &TestApp,
    model: &mut Cycle,
    id: ApplicationId,
    context: &str,
) -> Result<(), TestCaseError> {
    let got = app
        .service()
        .submit_blocking(Command::VerifyPriority { id }, Actor::staff("officer"));
    prop_assert!(matches!(got, Ok(Outcome::Done)), "{}: {:?}", context, got);
    let child = model.children.get_mut(&id).unwrap();
    child.0 = Tier::First;
    child.2 = Slot::Waiting;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: INTERLEAVE_CASES,
        max_shrink_iters: 100,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn with_the_interleave_policy_tiers_follow_one_first_priority_then_three_general(
        ops in prop::collection::vec(interleave_op(), 8..=INTERLEAVE_OPS_MAX),
    ) {
        run_interleave(&ops)?;
    }
}

// ---------------------------------------------------------------------------------------
// Minimal cases the properties above found, written out.
// ---------------------------------------------------------------------------------------

fn registered(app: &TestApp, serial: u16, claim: Option<&str>) -> ApplicationId {
    let today = local_date(app.clock.now());
    let form = form(serial, common::date(2022, 3, 1), today, vec![], "kk", claim);
    match register(app, form) {
        Ok(Outcome::Registered { application, .. }) => application.id,
        other => panic!("{other:?}"),
    }
}

/// One place in kindergarten 1 for children born in 2022, Kazakh, free today.
fn report_place(app: &TestApp, count: u32) -> Vec<Referral> {
    let new = NewPlaces {
        kindergarten: app.kindergartens[0],
        group: None,
        age_band: Some(AgeBand::new(common::date(2022, 1, 1), common::date(2022, 12, 31)).unwrap()),
        language: Some(Language::KAZAKH),
        count,
        available_from: local_date(app.clock.now()),
    };
    match app
        .service()
        .submit_blocking(Command::ReportPlaces(new), Actor::staff("kg"))
    {
        Ok(Outcome::PlacesReported { referrals, .. }) => referrals,
        other => panic!("{other:?}"),
    }
}

fn live_holders(app: &TestApp) -> BTreeSet<ApplicationId> {
    let state = app.service().read();
    state
        .live
        .values()
        .map(|live| live.referral.application)
        .collect()
}

/// A child whose referral expired comes back from the stop list at a local midnight, the
/// very instant other referrals expire. The place freed then is its, not a later child's.
#[test]
fn a_child_back_from_the_stop_list_at_the_instant_a_place_frees_comes_first() {
    let app = TestApp::spawn();
    let first = registered(&app, 1, None);
    let second = registered(&app, 2, None);
    let third = registered(&app, 3, None);
    assert_eq!(report_place(&app, 1)[0].application, first);
    // Friday's referral lapsed at the end of 27 Nov: `first` is held until the end of 7 Dec.
    // Issued on Monday 30 Nov, the place's next referral lapses at the end of 7 Dec too.
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 11, 30, 4, 0, 0).unwrap());
    app.service().tick_blocking().unwrap();
    assert_eq!(live_holders(&app), BTreeSet::from([second]));
    let instant = end_of_local_day(common::date(2026, 12, 7));
    assert_eq!(app.service().read().held[&first], instant);
    app.clock.set(instant);
    app.service().tick_blocking().unwrap();
    assert!(!app.service().read().held.contains_key(&first));
    assert_eq!(
        live_holders(&app),
        BTreeSet::from([first]),
        "at {instant} the place went to {third:?}, registered after {first:?}, who was back \
         in the queue at that instant"
    );
}

/// Two children come back from the stop list at the same instant; one open place fits both.
/// It goes in queue order: the verified first-priority child, not the lower number.
#[test]
fn children_back_from_the_stop_list_at_one_instant_are_served_in_queue_order() {
    let app = TestApp::spawn();
    let general = registered(&app, 1, None);
    let priority = registered(&app, 2, Some("orphan"));
    let issued = report_place(&app, 2);
    for referral in &issued {
        let decline = Command::Decline {
            referral: referral.id,
        };
        app.service()
            .submit_blocking(decline, Actor::portal())
            .unwrap();
    }
    app.service()
        .submit_blocking(
            Command::VerifyPriority { id: priority },
            Actor::staff("officer"),
        )
        .unwrap();
    // A newcomer takes one of the two open places at once.
    let newcomer = registered(&app, 3, None);
    assert_eq!(live_holders(&app), BTreeSet::from([newcomer]));
    // Extended, so that it outlives the stop list.
    let live = *app.service().read().live.keys().next().unwrap();
    app.service()
        .submit_blocking(Command::Extend { referral: live }, Actor::portal())
        .unwrap();
    let back = app.service().read().held[&general];
    assert_eq!(app.service().read().held[&priority], back);
    app.clock.set(back);
    app.service().tick_blocking().unwrap();
    assert_eq!(
        live_holders(&app),
        BTreeSet::from([newcomer, priority]),
        "the open place went by registration number, not by queue key"
    );
}

/// A child withdrawn while on the stop list: the tables and the journal must agree.
#[test]
fn verify_accepts_a_withdrawal_from_the_stop_list() {
    let app = TestApp::spawn();
    let child = registered(&app, 1, None);
    let referral = report_place(&app, 1).remove(0);
    app.service()
        .submit_blocking(
            Command::Decline {
                referral: referral.id,
            },
            Actor::portal(),
        )
        .unwrap();
    assert!(app.service().read().held.contains_key(&child));
    app.service()
        .submit_blocking(Command::Withdraw { id: child }, Actor::portal())
        .unwrap();
    if let Err(error) = kezek::verify::verify(&app.path) {
        panic!("verify: {error}");
    }
}
