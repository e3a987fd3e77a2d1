//! The whole service against a reference model, through SQLite and restarts.
//!
//! Each case opens a fresh database, builds a small catalog, and drives the real service with
//! random registrations (single and batched, valid and refused, repeats of a child who is
//! already queued), families of two or three children registered at once (together or
//! separately), amendments of choices, language, start and phone (valid and refused), moves
//! to the other district (whose policy keeps the registration time or not; a family moves
//! whole), withdrawals, priority decisions, clock moves and restarts. A plain model
//! (a list of applications, ordered by queue key on demand) predicts every answer: the
//! outcome or refusal of each command, the number and time each registration gets, every
//! queued application's position (an amendment keeps the key, a move keeps the time when
//! the policy says so), and who comes first for a few random places. After each
//! restart the same comparisons run against the state rebuilt from the file; at the end
//! `kezek::verify::verify` must accept the file and count what the model counts.
//!
//! The model's validation, fit and position are written from DOMAIN.md, not taken from the
//! crate, so they can disagree with it.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use kezek::clock::{Clock, ManualClock};
use kezek::domain::amendment::{AmendedField, AmendmentForm, MoveForm};
use kezek::domain::application::{
    Application, ApplicationId, ApplicationStatus, Channel, Choices, ClaimStatus, RegistrationForm,
    RegistrationNumber,
};
use kezek::domain::catalog::{AgeBand, DistrictId, KindergartenId, Language, Names, Tier};
use kezek::domain::event::Actor;
use kezek::domain::iin::{Iin, Sex};
use kezek::domain::referral::DistrictPolicy;
use kezek::domain::waiting_list::{Place, Position};
use kezek::service::{Command, CommandError, NewDistrict, NewKindergarten, Outcome, Service};
use proptest::prelude::*;
use proptest::sample::Index;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const CASES: u32 = 24;
const OPS_MAX: usize = 40;
/// Children a case draws from: few, so that a child is often registered again.
const CHILDREN: usize = 16;
const KINDERGARTENS_MAX: usize = 3;
/// Places probed for first-that-fits after every operation.
const PROBES: usize = 3;
/// Known valid (DOMAIN.md); an adult, so never equal to a child's IIN.
const APPLICANT_IIN: &str = "791028302728";
const OFFICER: &str = "officer-1";
/// (code, tier) of the categories the forms claim; as configured in migration 0001.
const CATEGORIES: [(&str, Tier); 3] = [
    ("military_family", Tier::OutOfTurn),
    ("large_family", Tier::First),
    ("orphan", Tier::First),
];
const LANGUAGE_CODES: [&str; 3] = ["kk", "ru", "any"];
/// The phones a parent may give: distinct numbers, written as parents write them. A
/// registration gives the first.
const PHONES: [&str; 3] = ["+7 701 234 56 78", "+7 702 345 67 89", "8 777 111 22 33"];

fn start_instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 3, 4, 30, 0).unwrap()
}

/// The local date of an instant: Kazakhstan keeps UTC+5 all year (DOMAIN.md).
fn local_date(instant: DateTime<Utc>) -> NaiveDate {
    (instant + Duration::hours(5)).date_naive()
}

fn start_day() -> NaiveDate {
    local_date(start_instant())
}

// ---------------------------------------------------------------------------------------
// Generated inputs.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Setup {
    /// 1 or 2 districts; the second may run Russian only.
    second_district: Option<bool>,
    kindergartens: [usize; 2],
    /// Per child: days before the start day it was born, and its sex.
    children: Vec<(i64, bool)>,
    /// Every district's policy: whether an application moved there keeps its time.
    keep_time_on_move: bool,
}

/// One way to spoil an otherwise valid form, and the refusal it must bring.
#[derive(Clone, Copy, Debug)]
enum Defect {
    UnknownDistrict,
    ChildIinCheckDigit,
    DesiredStartInPast,
    DuplicateKindergarten,
    UnknownKindergarten,
    UnknownCategory,
    MissingDocument,
    /// A language code no district runs.
    ForeignLanguage,
}

#[derive(Clone, Debug)]
struct FormSpec {
    child: Index,
    district: usize,
    /// Indices into the district's kindergartens (taken modulo their count); empty: any.
    choices: Vec<usize>,
    language: usize,
    start_in_days: i64,
    claim: Option<usize>,
    channel: usize,
    defect: Option<Defect>,
}

#[derive(Clone, Debug)]
struct PlaceSpec {
    district: usize,
    kindergarten: usize,
    /// Days before the start day the band's first birth date falls.
    band_from_days_ago: i64,
    band_years: i64,
    /// When set, the band starts (false) or ends (true) exactly on this child's birth date,
    /// so that the inclusive ends of the band are tried.
    anchor: Option<(Index, bool)>,
    language: usize,
    available_in_days: i64,
}

/// An amendment: each field changed or left as it is, and one way to spoil it.
#[derive(Clone, Debug)]
struct AmendSpec {
    /// Indices into the district's kindergartens; empty: any.
    choices: Option<Vec<usize>>,
    language: Option<usize>,
    start_in_days: Option<i64>,
    phone: Option<usize>,
    defect: Option<AmendDefect>,
}

#[derive(Clone, Copy, Debug)]
enum AmendDefect {
    TooManyKindergartens,
    DuplicateKindergarten,
    UnknownKindergarten,
    /// A kindergarten of the other district (unknown when there is one district).
    OtherDistrictKindergarten,
    DesiredStartInPast,
    ForeignLanguage,
}

/// A move to the next district (the same one when there is only one).
#[derive(Clone, Debug)]
struct MoveSpec {
    choices: Vec<usize>,
    language: Option<usize>,
    defect: Option<MoveDefect>,
}

#[derive(Clone, Copy, Debug)]
enum MoveDefect {
    UnknownDistrict,
    /// Choices from the district it leaves.
    KindergartenOfOrigin,
}

#[derive(Clone, Debug)]
enum Op {
    Register(FormSpec),
    /// Sent together, so that the writer takes them as one batch (one transaction).
    RegisterMany(Vec<FormSpec>),
    /// An application of the model (any status), or one that does not exist.
    Withdraw(Option<Index>),
    Verify(Option<Index>),
    Reject(Option<Index>, bool),
    /// Children of one applicant at once (the first form's district for all), together or not.
    RegisterFamily(Vec<FormSpec>, bool),
    Amend(Option<Index>, AmendSpec),
    Move(Option<Index>, MoveSpec),
    Advance(i64),
    Restart,
}

fn defect() -> impl Strategy<Value = Option<Defect>> {
    prop_oneof![
        20 => Just(None),
        1 => Just(Some(Defect::UnknownDistrict)),
        1 => Just(Some(Defect::ChildIinCheckDigit)),
        1 => Just(Some(Defect::DesiredStartInPast)),
        1 => Just(Some(Defect::DuplicateKindergarten)),
        1 => Just(Some(Defect::UnknownKindergarten)),
        1 => Just(Some(Defect::UnknownCategory)),
        1 => Just(Some(Defect::MissingDocument)),
        1 => Just(Some(Defect::ForeignLanguage)),
    ]
}

fn form_spec() -> impl Strategy<Value = FormSpec> {
    (
        any::<Index>(),
        0usize..2,
        prop_oneof![
            1 => Just(Vec::new()),
            3 => proptest::sample::subsequence((0..KINDERGARTENS_MAX).collect::<Vec<_>>(), 1..=3)
                .prop_shuffle(),
        ],
        0usize..3,
        0i64..200,
        prop_oneof![Just(None), (0..CATEGORIES.len()).prop_map(Some)],
        0usize..3,
        defect(),
    )
        .prop_map(
            |(child, district, choices, language, start_in_days, claim, channel, defect)| {
                FormSpec {
                    child,
                    district,
                    choices,
                    language,
                    start_in_days,
                    claim,
                    channel,
                    defect,
                }
            },
        )
}

fn place_spec() -> impl Strategy<Value = PlaceSpec> {
    let anchor = prop::option::weighted(0.5, (any::<Index>(), any::<bool>()));
    let band = (0i64..1100, 1i64..=3, anchor);
    (0usize..2, 0..KINDERGARTENS_MAX, band, 0usize..2, 0i64..300).prop_map(
        |(
            district,
            kindergarten,
            (band_from_days_ago, band_years, anchor),
            language,
            available_in_days,
        )| {
            PlaceSpec {
                district,
                kindergarten,
                band_from_days_ago,
                band_years,
                anchor,
                language,
                available_in_days,
            }
        },
    )
}

fn choice_indices() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        1 => Just(Vec::new()),
        3 => proptest::sample::subsequence((0..KINDERGARTENS_MAX).collect::<Vec<_>>(), 1..=3)
            .prop_shuffle(),
    ]
}

fn amend_spec() -> impl Strategy<Value = AmendSpec> {
    let defect = prop_oneof![
        14 => Just(None),
        1 => Just(Some(AmendDefect::TooManyKindergartens)),
        1 => Just(Some(AmendDefect::DuplicateKindergarten)),
        1 => Just(Some(AmendDefect::UnknownKindergarten)),
        1 => Just(Some(AmendDefect::OtherDistrictKindergarten)),
        1 => Just(Some(AmendDefect::DesiredStartInPast)),
        1 => Just(Some(AmendDefect::ForeignLanguage)),
    ];
    (
        prop::option::weighted(0.6, choice_indices()),
        prop::option::weighted(0.3, 0usize..3),
        prop::option::weighted(0.3, 0i64..200),
        prop::option::weighted(0.3, 0usize..PHONES.len()),
        defect,
    )
        .prop_map(
            |(choices, language, start_in_days, phone, defect)| AmendSpec {
                choices,
                language,
                start_in_days,
                phone,
                defect,
            },
        )
}

fn move_spec() -> impl Strategy<Value = MoveSpec> {
    let defect = prop_oneof![
        10 => Just(None),
        1 => Just(Some(MoveDefect::UnknownDistrict)),
        1 => Just(Some(MoveDefect::KindergartenOfOrigin)),
    ];
    (
        choice_indices(),
        prop::option::weighted(0.4, 0usize..3),
        defect,
    )
        .prop_map(|(choices, language, defect)| MoveSpec {
            choices,
            language,
            defect,
        })
}

fn target() -> impl Strategy<Value = Option<Index>> {
    prop_oneof![8 => any::<Index>().prop_map(Some), 1 => Just(None)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => form_spec().prop_map(Op::Register),
        4 => prop::collection::vec(form_spec(), 2..=5).prop_map(Op::RegisterMany),
        2 => target().prop_map(Op::Withdraw),
        5 => target().prop_map(Op::Verify),
        2 => (target(), proptest::bool::weighted(0.15)).prop_map(|(t, blank)| Op::Reject(t, blank)),
        2 => (prop::collection::vec(form_spec(), 2..=3), any::<bool>())
            .prop_map(|(specs, together)| Op::RegisterFamily(specs, together)),
        5 => (target(), amend_spec()).prop_map(|(t, spec)| Op::Amend(t, spec)),
        3 => (target(), move_spec()).prop_map(|(t, spec)| Op::Move(t, spec)),
        // Often zero: registrations at the same instant tie on time.
        3 => prop_oneof![Just(0i64), 1i64..3 * 86_400_000_000].prop_map(Op::Advance),
        1 => Just(Op::Restart),
    ]
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        prop_oneof![Just(None), any::<bool>().prop_map(Some)],
        [2usize..=KINDERGARTENS_MAX, 2usize..=KINDERGARTENS_MAX],
        prop::collection::vec((30i64..1000, any::<bool>()), CHILDREN),
        any::<bool>(),
    )
        .prop_map(
            |(second_district, kindergartens, children, keep_time_on_move)| Setup {
                second_district,
                kindergartens,
                children,
                keep_time_on_move,
            },
        )
}

// ---------------------------------------------------------------------------------------
// The reference model.
// ---------------------------------------------------------------------------------------

struct ModelDistrict {
    id: DistrictId,
    code: String,
    languages: Vec<Language>,
    kindergartens: Vec<KindergartenId>,
    /// The number the next registration must get: 1, 2, 3, ... without gaps.
    next_number: u32,
}

struct Child {
    iin: Iin,
    birth_date: NaiveDate,
}

#[derive(Clone, Debug)]
struct ModelApplication {
    id: ApplicationId,
    child: usize,
    registered_at_micros: i64,
    birth_date: NaiveDate,
    desired_start: NaiveDate,
    /// `None`: any kindergarten of the district.
    choices: Option<Vec<KindergartenId>>,
    /// `None`: any language.
    language: Option<Language>,
    claim: Option<(&'static str, Tier, ClaimStatus)>,
    tier: Tier,
    queued: bool,
    /// Moved to another district: it continues there as another application.
    moved: bool,
    /// Into `PHONES`.
    phone: usize,
}

impl ModelApplication {
    /// DOMAIN.md: `(tier, registered_at, registration number)`, tier 0 (out of turn) first.
    fn key(&self) -> (u8, i64, u32) {
        let tier = match self.tier {
            Tier::OutOfTurn => 0,
            Tier::First => 1,
            Tier::General => 2,
        };
        (tier, self.registered_at_micros, self.id.number.0)
    }

    fn cohort(&self) -> i32 {
        self.birth_date.year()
    }

    /// DOMAIN.md, "Free places and referrals". Nothing in this service holds an
    /// application back yet, so "no referral outstanding, not on a stop list" always holds.
    fn fits(&self, place: &Place) -> bool {
        let band = &place.age_band;
        let language_ok = match self.language {
            None => true,
            Some(language) => language == place.language,
        };
        let kindergarten_ok = match &self.choices {
            None => true,
            Some(list) => list.contains(&place.kindergarten),
        };
        self.queued
            && band.born_from <= self.birth_date
            && self.birth_date <= band.born_to
            && language_ok
            && kindergarten_ok
            && self.desired_start <= place.available_from
    }
}

#[derive(Debug, PartialEq)]
enum Expected {
    Registered,
    FamilyRegistered,
    Amended,
    Moved,
    Done,
    Refused(&'static str),
    NotFound,
    Conflict,
    Invalid,
}

fn answer_kind(answer: &Result<Outcome, CommandError>) -> Expected {
    match answer {
        Ok(Outcome::Registered { .. }) => Expected::Registered,
        Ok(Outcome::FamilyRegistered { .. }) => Expected::FamilyRegistered,
        Ok(Outcome::Amended { .. }) => Expected::Amended,
        Ok(Outcome::Moved { .. }) => Expected::Moved,
        Ok(Outcome::Done) => Expected::Done,
        Ok(other) => panic!("unexpected outcome {other:?}"),
        Err(CommandError::Refused(refusal)) => Expected::Refused(refusal.code()),
        Err(CommandError::NotFound) => Expected::NotFound,
        Err(CommandError::Conflict(_)) => Expected::Conflict,
        Err(CommandError::Invalid(_)) => Expected::Invalid,
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

#[derive(Default)]
struct Model {
    districts: Vec<ModelDistrict>,
    children: Vec<Child>,
    /// Every application ever registered, in registration order.
    applications: Vec<ModelApplication>,
    /// Children registered together: their applications, as they are now (a move replaces
    /// a member by its application in the new district).
    families: Vec<Vec<ApplicationId>>,
    keep_time_on_move: bool,
    /// Events the journal must hold.
    events: u64,
}

impl Model {
    /// The queued applications of `district`, in queue order.
    fn queue(&self, district: DistrictId) -> Vec<&ModelApplication> {
        let mut queue: Vec<&ModelApplication> = self
            .applications
            .iter()
            .filter(|a| a.queued && a.id.district == district)
            .collect();
        queue.sort_by_key(|a| a.key());
        queue
    }

    fn queued_count(&self) -> usize {
        self.applications.iter().filter(|a| a.queued).count()
    }

    fn position(&self, id: ApplicationId) -> Option<Position> {
        let me = self.applications.iter().find(|a| a.id == id && a.queued)?;
        let cohort: Vec<&ModelApplication> = self
            .queue(id.district)
            .into_iter()
            .filter(|a| a.cohort() == me.cohort())
            .collect();
        let ahead: Vec<&&ModelApplication> = cohort.iter().take_while(|a| a.id != me.id).collect();
        let lists = |a: &ModelApplication, k: KindergartenId| {
            a.choices.as_ref().is_some_and(|list| list.contains(&k))
        };
        Some(Position {
            cohort: me.cohort(),
            in_cohort: ahead.len() as u32 + 1,
            cohort_size: cohort.len() as u32,
            ahead_per_kindergarten: me
                .choices
                .iter()
                .flatten()
                .map(|k| (*k, ahead.iter().filter(|a| lists(a, *k)).count() as u32))
                .collect(),
            ahead_taking_any: ahead.iter().filter(|a| a.choices.is_none()).count() as u32,
        })
    }

    fn first_fit(&self, district: DistrictId, place: &Place) -> Option<ApplicationId> {
        self.queue(district)
            .into_iter()
            .find(|a| a.fits(place))
            .map(|a| a.id)
    }

    fn pick(&self, target: &Option<Index>) -> ApplicationId {
        match target {
            Some(index) if !self.applications.is_empty() => {
                self.applications[index.index(self.applications.len())].id
            }
            _ => ApplicationId {
                district: self.districts[0].id,
                number: RegistrationNumber(self.districts[0].next_number + 7),
            },
        }
    }

    fn find_mut(&mut self, id: ApplicationId) -> Option<&mut ModelApplication> {
        self.applications.iter_mut().find(|a| a.id == id)
    }

    /// The form a spec describes on local date `today`, and what registering it must do:
    /// the refusal code, in the fixed order validation checks, or the application.
    fn form(
        &self,
        spec: &FormSpec,
        today: NaiveDate,
    ) -> (RegistrationForm, Result<ModelApplication, &'static str>) {
        let child_index = spec.child.index(self.children.len());
        let child = &self.children[child_index];
        let district = &self.districts[spec.district % self.districts.len()];
        let mut listed: Vec<KindergartenId> = spec
            .choices
            .iter()
            .map(|i| district.kindergartens[i % district.kindergartens.len()])
            .collect();
        // Indices taken modulo a short list may repeat: keep the first of each.
        let mut seen = Vec::new();
        listed.retain(|k| {
            let first = !seen.contains(k);
            seen.push(*k);
            first
        });
        let claim = spec.claim.map(|i| CATEGORIES[i]);
        let mut form = RegistrationForm {
            district: district.code.clone(),
            child_iin: child.iin.as_string(),
            child_full_name: "Test Child".into(),
            child_birth_date: child.birth_date.format("%Y-%m-%d").to_string(),
            applicant_iin: APPLICANT_IIN.into(),
            applicant_full_name: "Test Parent".into(),
            applicant_phone: PHONES[0].into(),
            applicant_email: None,
            applicant_address: "Astana, Test street 1".into(),
            applicant_relation: "mother".into(),
            desired_start: (today + Duration::days(spec.start_in_days))
                .format("%Y-%m-%d")
                .to_string(),
            kindergartens: listed.iter().map(|k| k.0).collect(),
            language: LANGUAGE_CODES[spec.language].into(),
            priority_category: claim.map(|(code, _)| code.to_string()),
            priority_document: claim.map(|_| "No. 17-0042, district akimat".to_string()),
        };
        let language = Language::parse(LANGUAGE_CODES[spec.language]);
        // Checks in the order validation makes them; the first failing one is the answer.
        let mut refusals: Vec<&'static str> = Vec::new();
        match spec.defect {
            Some(Defect::UnknownDistrict) => {
                form.district = "NOWHERE".into();
                refusals.push("district_unknown");
            }
            Some(Defect::ChildIinCheckDigit) => {
                let mut digits = form.child_iin.into_bytes();
                digits[11] = b'0' + (digits[11] - b'0' + 1) % 10;
                form.child_iin = String::from_utf8(digits).unwrap();
                refusals.push("child_iin_invalid");
            }
            Some(Defect::DesiredStartInPast) => {
                form.desired_start = (today - Duration::days(1)).format("%Y-%m-%d").to_string();
                refusals.push("desired_start_in_past");
            }
            _ => {}
        }
        match spec.defect {
            Some(Defect::DuplicateKindergarten) => {
                let first = district.kindergartens[0].0;
                form.kindergartens = vec![first, first];
                refusals.push("duplicate_kindergarten");
            }
            Some(Defect::UnknownKindergarten) => {
                form.kindergartens = vec![district.kindergartens[0].0, 999];
                refusals.push("kindergarten_unknown");
            }
            _ => {}
        }
        if let Some(Defect::ForeignLanguage) = spec.defect {
            form.language = "de".into();
            refusals.push("language_not_offered");
        }
        if language.is_some_and(|l| !district.languages.contains(&l)) {
            refusals.push("language_not_offered");
        }
        match spec.defect {
            Some(Defect::UnknownCategory) => {
                form.priority_category = Some("astronaut_family".into());
                form.priority_document = Some("No. 1".into());
                refusals.push("priority_category_unknown");
            }
            Some(Defect::MissingDocument) => {
                form.priority_category = Some("orphan".into());
                form.priority_document = Some("   ".into());
                refusals.push("priority_document_missing");
            }
            _ => {}
        }
        let active = self
            .applications
            .iter()
            .any(|a| a.child == child_index && a.queued);
        if active {
            refusals.push("already_queued");
        }
        if let Some(first) = refusals.first() {
            return (form, Err(first));
        }
        let application = ModelApplication {
            id: ApplicationId {
                district: district.id,
                number: RegistrationNumber(district.next_number),
            },
            child: child_index,
            registered_at_micros: 0,
            birth_date: child.birth_date,
            desired_start: today + Duration::days(spec.start_in_days),
            choices: (!listed.is_empty()).then_some(listed),
            language,
            claim: claim.map(|(code, tier)| (code, tier, ClaimStatus::Claimed)),
            tier: Tier::General,
            queued: true,
            moved: false,
            phone: 0,
        };
        (form, Ok(application))
    }

    /// Records an expected registration at `now_micros`: the clock only moves forward, so
    /// the registration time is the clock's time.
    fn accept(&mut self, mut application: ModelApplication, now_micros: i64) {
        application.registered_at_micros = now_micros;
        let district = self
            .districts
            .iter_mut()
            .find(|d| d.id == application.id.district)
            .unwrap();
        district.next_number += 1;
        self.applications.push(application);
        // The registration and the parent's access code.
        self.events += 2;
    }
}

/// What an amendment must do, as the model sees it.
struct AmendExpectation {
    choices: Option<Vec<KindergartenId>>,
    language: Option<Language>,
    desired_start: NaiveDate,
    phone: usize,
    changed: Vec<AmendedField>,
}

impl Model {
    fn district_of_index(&self, index: usize) -> &ModelDistrict {
        &self.districts[index % self.districts.len()]
    }

    fn district_of(&self, id: DistrictId) -> &ModelDistrict {
        self.districts
            .iter()
            .find(|d| d.id == id)
            .expect("a district of the model")
    }

    /// Kindergarten indices into `district`'s list, the first of each repeat kept.
    fn listed(district: &ModelDistrict, indices: &[usize]) -> Vec<KindergartenId> {
        let mut listed: Vec<KindergartenId> = Vec::new();
        for i in indices {
            let k = district.kindergartens[i % district.kindergartens.len()];
            if !listed.contains(&k) {
                listed.push(k);
            }
        }
        listed
    }

    /// A language code against what `district` runs (DOMAIN.md: "any", or one it runs).
    fn language(district: &ModelDistrict, code: &str) -> Result<Option<Language>, &'static str> {
        match code {
            "any" => Ok(None),
            code => match Language::parse(code) {
                Some(l) if district.languages.contains(&l) => Ok(Some(l)),
                _ => Err("language_not_offered"),
            },
        }
    }

    /// The form an amendment spec describes for `application`, and what it must do: the
    /// refusal (checks in the order the form's fields come), or the new values and the
    /// fields that changed.
    fn amendment(
        &self,
        application: &ModelApplication,
        spec: &AmendSpec,
        today: NaiveDate,
    ) -> (AmendmentForm, Result<AmendExpectation, &'static str>) {
        let district = self.district_of(application.id.district);
        let other = self.districts.iter().find(|d| d.id != district.id);
        let mut form = AmendmentForm {
            kindergartens: spec
                .choices
                .as_ref()
                .map(|c| Model::listed(district, c).iter().map(|k| k.0).collect()),
            language: spec.language.map(|i| LANGUAGE_CODES[i].to_string()),
            desired_start: spec
                .start_in_days
                .map(|d| (today + Duration::days(d)).format("%Y-%m-%d").to_string()),
            applicant_phone: spec.phone.map(|i| PHONES[i].to_string()),
            applicant_email: None,
            applicant_address: None,
        };
        let first = district.kindergartens[0].0;
        let mut refusal: Option<&'static str> = None;
        match spec.defect {
            Some(AmendDefect::TooManyKindergartens) => {
                form.kindergartens = Some((0..6).map(|i| first + i).collect());
                refusal = Some("too_many_kindergartens");
            }
            Some(AmendDefect::DuplicateKindergarten) => {
                form.kindergartens = Some(vec![first, first]);
                refusal = Some("duplicate_kindergarten");
            }
            Some(AmendDefect::UnknownKindergarten) => {
                form.kindergartens = Some(vec![first, 999]);
                refusal = Some("kindergarten_unknown");
            }
            Some(AmendDefect::OtherDistrictKindergarten) => match other {
                Some(other) => {
                    form.kindergartens = Some(vec![other.kindergartens[0].0]);
                    refusal = Some("kindergarten_not_in_district");
                }
                None => {
                    form.kindergartens = Some(vec![999]);
                    refusal = Some("kindergarten_unknown");
                }
            },
            _ => {}
        }
        let choices = match &form.kindergartens {
            Some(ids) if !ids.is_empty() => Some(ids.iter().map(|k| KindergartenId(*k)).collect()),
            Some(_) => None,
            None => application.choices.clone(),
        };
        if let Some(AmendDefect::ForeignLanguage) = spec.defect {
            form.language = Some("de".into());
        }
        let language = match &form.language {
            Some(code) => match Model::language(district, code) {
                Ok(language) => language,
                Err(code) => {
                    refusal = refusal.or(Some(code));
                    None
                }
            },
            None => application.language,
        };
        if let Some(AmendDefect::DesiredStartInPast) = spec.defect {
            form.desired_start = Some((today - Duration::days(1)).format("%Y-%m-%d").to_string());
            refusal = refusal.or(Some("desired_start_in_past"));
        }
        let desired_start = spec
            .start_in_days
            .map_or(application.desired_start, |d| today + Duration::days(d));
        let phone = spec.phone.unwrap_or(application.phone);
        if let Some(code) = refusal {
            return (form, Err(code));
        }
        let changed: Vec<AmendedField> = [
            (AmendedField::Kindergartens, choices != application.choices),
            (AmendedField::Language, language != application.language),
            (
                AmendedField::DesiredStart,
                desired_start != application.desired_start,
            ),
            (AmendedField::ApplicantPhone, phone != application.phone),
        ]
        .into_iter()
        .filter_map(|(field, differs)| differs.then_some(field))
        .collect();
        if changed.is_empty() {
            return (form, Err("nothing_to_amend"));
        }
        let expectation = AmendExpectation {
            choices,
            language,
            desired_start,
            phone,
            changed,
        };
        (form, Ok(expectation))
    }

    /// The application's family, as its members are now, or the application alone.
    fn family_of(&self, id: ApplicationId) -> Vec<ApplicationId> {
        self.families
            .iter()
            .find(|members| members.contains(&id))
            .cloned()
            .unwrap_or_else(|| vec![id])
    }
}

fn channel(index: usize) -> (Channel, Actor, Option<String>) {
    match index {
        0 => (Channel::Portal, Actor::portal(), None),
        1 => (
            Channel::ServiceCentre,
            Actor::staff("operator-7"),
            Some("staff:operator-7".into()),
        ),
        _ => (
            Channel::Office,
            Actor::staff(OFFICER),
            Some(format!("staff:{OFFICER}")),
        ),
    }
}

// ---------------------------------------------------------------------------------------
// The harness: one case, one database.
// ---------------------------------------------------------------------------------------

struct World {
    _dir: tempfile::TempDir,
    path: PathBuf,
    clock: ManualClock,
    service: Option<Service>,
    model: Model,
}

fn fail(message: String) -> TestCaseError {
    TestCaseError::fail(message)
}

impl World {
    fn start(path: &Path, clock: &ManualClock) -> Service {
        Service::start(path, Arc::new(clock.clone()) as Arc<dyn Clock>).expect("the service starts")
    }

    fn service(&self) -> &Service {
        self.service.as_ref().expect("running")
    }

    fn new(setup: &Setup) -> Result<World, TestCaseError> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("kezek.db");
        let clock = ManualClock::new(start_instant());
        let service = World::start(&path, &clock);
        let mut model = Model::default();
        let mut districts = vec![("ONE", vec![Language::KAZAKH, Language::RUSSIAN])];
        match setup.second_district {
            Some(true) => districts.push(("TWO", vec![Language::RUSSIAN])),
            Some(false) => districts.push(("TWO", vec![Language::KAZAKH, Language::RUSSIAN])),
            None => {}
        }
        for (index, (code, languages)) in districts.into_iter().enumerate() {
            let new = NewDistrict {
                code: code.into(),
                names: Names {
                    kk: format!("{code} ауданы"),
                    ru: format!("район {code}"),
                },
                languages: languages.clone(),
            };
            let id = match service.submit_blocking(Command::CreateDistrict(new), Actor::system()) {
                Ok(Outcome::DistrictCreated(id)) => id,
                other => return Err(fail(format!("creating a district: {other:?}"))),
            };
            let commands = (0..setup.kindergartens[index])
                .map(|n| {
                    let new = NewKindergarten {
                        district: id,
                        number: format!("{}", index * 100 + n + 1),
                        names: Names {
                            kk: format!("№{n} бөбекжай"),
                            ru: format!("Ясли-сад №{n}"),
                        },
                        address: format!("Astana, street {n}"),
                        head: None,
                    };
                    (Command::CreateKindergarten(new), Actor::system())
                })
                .collect();
            let mut kindergartens = Vec::new();
            for answer in service.submit_many_blocking(commands) {
                match answer {
                    Ok(Outcome::KindergartenCreated(k)) => kindergartens.push(k),
                    other => return Err(fail(format!("creating a kindergarten: {other:?}"))),
                }
            }
            model.events += 1 + kindergartens.len() as u64;
            model.districts.push(ModelDistrict {
                id,
                code: code.into(),
                languages,
                kindergartens,
                next_number: 1,
            });
        }
        model.keep_time_on_move = setup.keep_time_on_move;
        for district in &model.districts {
            let policy = DistrictPolicy {
                move_keeps_registration_time: setup.keep_time_on_move,
                ..DistrictPolicy::default()
            };
            let command = Command::SetPolicy {
                district: district.id,
                policy,
            };
            match service.submit_blocking(command, Actor::system()) {
                Ok(Outcome::Done) => model.events += 1,
                other => return Err(fail(format!("setting a policy: {other:?}"))),
            }
        }
        for (index, (days_ago, male)) in setup.children.iter().enumerate() {
            let birth_date = start_day() - Duration::days(*days_ago);
            let sex = if *male { Sex::Male } else { Sex::Female };
            // Distinct serial ranges keep every child's IIN distinct.
            let iin = (1..10)
                .find_map(|s| Iin::synthesize(birth_date, sex, (index * 10 + s) as u16))
                .expect("one serial in ten has a check digit");
            model.children.push(Child { iin, birth_date });
        }
        Ok(World {
            _dir: dir,
            path,
            clock,
            service: Some(service),
            model,
        })
    }

    fn today(&self) -> NaiveDate {
        local_date(self.clock.now())
    }

    fn register(&mut self, specs: &[FormSpec]) -> Result<(), TestCaseError> {
        let today = self.today();
        let now_micros = self.clock.now().timestamp_micros();
        // The writer decides a batch in order, each command seeing the ones before it. The
        // model does the same, accepting each expected registration before building the next
        // form; if the service answers otherwise the case fails, so nothing is undone.
        let mut commands = Vec::new();
        let mut expected = Vec::new();
        for spec in specs {
            let (form, outcome) = self.model.form(spec, today);
            let (channel, actor, entered_by) = channel(spec.channel);
            if let Ok(application) = &outcome {
                self.model.accept(application.clone(), now_micros);
            }
            commands.push((Command::Register { form, channel }, actor));
            expected.push((outcome, channel, entered_by));
        }
        let answers = if commands.len() == 1 {
            let (command, actor) = commands.pop().unwrap();
            vec![self.service().submit_blocking(command, actor)]
        } else {
            self.service().submit_many_blocking(commands)
        };
        for (answer, (outcome, channel, entered_by)) in answers.into_iter().zip(expected) {
            match (answer, outcome) {
                (
                    Ok(Outcome::Registered {
                        application: got, ..
                    }),
                    Ok(want),
                ) => {
                    check_registered(&got, &want, now_micros, channel, entered_by)?;
                }
                (Err(CommandError::Refused(refusal)), Err(code)) => {
                    prop_assert_eq!(refusal.code(), code);
                }
                (got, want) => {
                    return Err(fail(format!(
                        "registration answered {:?}, the model expected {want:?}",
                        answer_kind(&got)
                    )))
                }
            }
        }
        Ok(())
    }

    fn withdraw(&mut self, target: &Option<Index>) -> Result<(), TestCaseError> {
        let id = self.model.pick(target);
        let expected = match self.model.find_mut(id) {
            None => Expected::NotFound,
            Some(a) if !a.queued => Expected::Conflict,
            Some(a) => {
                a.queued = false;
                Expected::Done
            }
        };
        let answer = self
            .service()
            .submit_blocking(Command::Withdraw { id }, Actor::portal());
        self.settle(id, expected, answer)
    }

    fn verify_priority(&mut self, target: &Option<Index>) -> Result<(), TestCaseError> {
        let id = self.model.pick(target);
        let expected = match self.model.find_mut(id) {
            None => Expected::NotFound,
            Some(a) if !a.queued => Expected::Conflict,
            Some(a) => match a.claim {
                Some((code, tier, ClaimStatus::Claimed)) => {
                    a.claim = Some((code, tier, ClaimStatus::Verified));
                    a.tier = tier;
                    Expected::Done
                }
                _ => Expected::Conflict,
            },
        };
        let answer = self
            .service()
            .submit_blocking(Command::VerifyPriority { id }, Actor::staff(OFFICER));
        self.settle(id, expected, answer)
    }

    fn reject_priority(
        &mut self,
        target: &Option<Index>,
        blank: bool,
    ) -> Result<(), TestCaseError> {
        let id = self.model.pick(target);
        let expected = match self.model.find_mut(id) {
            None => Expected::NotFound,
            Some(a) if !a.queued => Expected::Conflict,
            Some(a) => match a.claim {
                None | Some((_, _, ClaimStatus::Rejected)) => Expected::Conflict,
                Some(_) if blank => Expected::Invalid,
                Some((code, tier, _)) => {
                    a.claim = Some((code, tier, ClaimStatus::Rejected));
                    a.tier = Tier::General;
                    Expected::Done
                }
            },
        };
        let reason = if blank {
            "  "
        } else {
            "the document was not confirmed"
        };
        let command = Command::RejectPriority {
            id,
            reason: reason.into(),
        };
        let answer = self
            .service()
            .submit_blocking(command, Actor::staff(OFFICER));
        self.settle(id, expected, answer)
    }

    fn register_family(&mut self, specs: &[FormSpec], together: bool) -> Result<(), TestCaseError> {
        let today = self.today();
        let now_micros = self.clock.now().timestamp_micros();
        let district = specs[0].district;
        let specs: Vec<FormSpec> = specs
            .iter()
            .map(|spec| FormSpec {
                district,
                channel: specs[0].channel,
                ..spec.clone()
            })
            .collect();
        let built: Vec<_> = specs
            .iter()
            .map(|spec| self.model.form(spec, today))
            .collect();
        // DOMAIN.md: each child's form is checked in turn, then whether it repeats a child
        // of the family, then whether it is already queued; the first refusal refuses all.
        let mut refusal = None;
        let mut seen: Vec<usize> = Vec::new();
        for (spec, (_, outcome)) in specs.iter().zip(&built) {
            let child = spec.child.index(self.model.children.len());
            match outcome {
                Err(code) if *code != "already_queued" => refusal = Some(*code),
                _ if seen.contains(&child) => refusal = Some("family_child_repeated"),
                Err(code) => refusal = Some(*code),
                Ok(_) => {}
            }
            if refusal.is_some() {
                break;
            }
            seen.push(child);
        }
        let (channel, actor, entered_by) = channel(specs[0].channel);
        let forms = built.iter().map(|(form, _)| form.clone()).collect();
        let command = Command::RegisterFamily {
            forms,
            together,
            channel,
        };
        let answer = self.service().submit_blocking(command, actor);
        if let Some(code) = refusal {
            return match answer {
                Err(CommandError::Refused(refusal)) => {
                    prop_assert_eq!(refusal.code(), code);
                    Ok(())
                }
                got => Err(fail(format!(
                    "a family answered {:?}, the model expected the refusal {code}",
                    answer_kind(&got)
                ))),
            };
        }
        let Ok(Outcome::FamilyRegistered {
            applications,
            positions,
            ..
        }) = answer
        else {
            return Err(fail(format!(
                "a family answered {:?}, the model expected it registered",
                answer_kind(&answer)
            )));
        };
        let first = self.model.district_of_index(district).next_number;
        let mut members = Vec::new();
        for (i, (_, outcome)) in built.into_iter().enumerate() {
            let mut want = outcome.expect("checked above");
            want.id.number = RegistrationNumber(first + i as u32);
            members.push(want.id);
            self.model.accept(want, now_micros);
        }
        self.model.families.push(members.clone());
        // The family's own event beside each child's registration and access code.
        self.model.events += 1;
        prop_assert_eq!(applications.len(), members.len());
        for (got, id) in applications.iter().zip(&members) {
            let want = self
                .model
                .applications
                .iter()
                .find(|a| a.id == *id)
                .unwrap();
            check_registered(got, want, now_micros, channel, entered_by.clone())?;
        }
        let expected: Vec<Option<Position>> =
            members.iter().map(|id| self.model.position(*id)).collect();
        prop_assert_eq!(positions, expected, "each child's position as it entered");
        Ok(())
    }

    fn amend(&mut self, target: &Option<Index>, spec: &AmendSpec) -> Result<(), TestCaseError> {
        let id = self.model.pick(target);
        let today = self.today();
        let (form, expected) = match self.model.applications.iter().find(|a| a.id == id) {
            None => (AmendmentForm::default(), Err(Expected::NotFound)),
            Some(a) if !a.queued => (AmendmentForm::default(), Err(Expected::Conflict)),
            Some(a) => {
                let (form, outcome) = self.model.amendment(a, spec, today);
                (form, outcome.map_err(Expected::Refused))
            }
        };
        // A form that changes nothing is refused even for an application not in the queue,
        // but the status is checked first; an empty form is all a missing one needs.
        let answer = self
            .service()
            .submit_blocking(Command::Amend { id, form }, Actor::portal());
        let want = match expected {
            Err(expected) => {
                prop_assert_eq!(answer_kind(&answer), expected, "{:?}", id);
                return Ok(());
            }
            Ok(want) => want,
        };
        let Ok(Outcome::Amended {
            amendment,
            position,
            referral,
        }) = answer
        else {
            return Err(fail(format!(
                "amending {id:?} answered {:?}, the model expected it amended",
                answer_kind(&answer)
            )));
        };
        prop_assert_eq!(&amendment.changed, &want.changed);
        prop_assert!(referral.is_none(), "no place is ever open here");
        let application = self.model.find_mut(id).expect("found above");
        application.choices = want.choices;
        application.language = want.language;
        application.desired_start = want.desired_start;
        application.phone = want.phone;
        self.model.events += 1;
        prop_assert_eq!(position, self.model.position(id), "the key stays: {:?}", id);
        Ok(())
    }

    fn move_to(&mut self, target: &Option<Index>, spec: &MoveSpec) -> Result<(), TestCaseError> {
        let id = self.model.pick(target);
        let now_micros = self.clock.now().timestamp_micros();
        let origin = self
            .model
            .districts
            .iter()
            .position(|d| d.id == id.district)
            .unwrap_or(0);
        let to = (origin + 1) % self.model.districts.len();
        let (to_district, origin_district) =
            (&self.model.districts[to], &self.model.districts[origin]);
        let mut form = MoveForm {
            district: to_district.code.clone(),
            kindergartens: Model::listed(to_district, &spec.choices)
                .iter()
                .map(|k| k.0)
                .collect(),
            language: spec.language.map(|i| LANGUAGE_CODES[i].to_string()),
        };
        match spec.defect {
            Some(MoveDefect::UnknownDistrict) => form.district = "NOWHERE".into(),
            Some(MoveDefect::KindergartenOfOrigin) => {
                form.kindergartens = vec![origin_district.kindergartens[0].0]
            }
            None => {}
        }
        // The application itself first, then the district moved to, then the choices and
        // language there.
        let expected: Result<(), Expected> =
            match self.model.applications.iter().find(|a| a.id == id) {
                None => Err(Expected::NotFound),
                Some(a) if !a.queued => Err(Expected::Conflict),
                Some(_) => {
                    let choices_ok = form
                        .kindergartens
                        .iter()
                        .all(|k| to_district.kindergartens.contains(&KindergartenId(*k)));
                    if form.district == "NOWHERE" {
                        Err(Expected::Refused("district_unknown"))
                    } else if to == origin {
                        Err(Expected::Refused("move_to_same_district"))
                    } else if !choices_ok {
                        Err(Expected::Refused("kindergarten_not_in_district"))
                    } else {
                        match &form.language {
                            Some(code) => Model::language(to_district, code)
                                .map(|_| ())
                                .map_err(Expected::Refused),
                            None => Ok(()),
                        }
                    }
                }
            };
        let answer = self.service().submit_blocking(
            Command::Move {
                id,
                form: form.clone(),
            },
            Actor::portal(),
        );
        if let Err(expected) = expected {
            prop_assert_eq!(answer_kind(&answer), expected, "{:?}", id);
            return Ok(());
        }
        let Ok(Outcome::Moved {
            application: got,
            position,
            referral,
            ..
        }) = answer
        else {
            return Err(fail(format!(
                "moving {id:?} answered {:?}, the model expected it moved",
                answer_kind(&answer)
            )));
        };
        prop_assert!(referral.is_none(), "no place is ever open here");
        // DOMAIN.md: the family moves whole, its waiting children in their order, each
        // with the new district's next number; the time kept if the policy says so.
        let to_id = self.model.districts[to].id;
        let choices: Option<Vec<KindergartenId>> = (!form.kindergartens.is_empty()).then(|| {
            form.kindergartens
                .iter()
                .map(|k| KindergartenId(*k))
                .collect()
        });
        let family = self.model.family_of(id);
        let mut moved_id = None;
        for member in family {
            let Some(old) = self.model.find_mut(member) else {
                continue;
            };
            if !old.queued {
                continue;
            }
            old.queued = false;
            old.moved = true;
            let mut new = old.clone();
            let district = &mut self.model.districts[to];
            new.id = ApplicationId {
                district: to_id,
                number: RegistrationNumber(district.next_number),
            };
            district.next_number += 1;
            new.moved = false;
            new.queued = true;
            new.choices = choices.clone();
            new.language = match &form.language {
                Some(code) => Model::language(district, code).expect("checked above"),
                None => new.language.filter(|l| district.languages.contains(l)),
            };
            if !self.model.keep_time_on_move {
                new.registered_at_micros = now_micros;
            }
            if member == id {
                moved_id = Some(new.id);
            }
            for members in &mut self.model.families {
                for m in members.iter_mut().filter(|m| **m == member) {
                    *m = new.id;
                }
            }
            self.model.applications.push(new);
            // The move and the new access code.
            self.model.events += 2;
        }
        let moved_id = moved_id.expect("the application itself moved");
        let want = self
            .model
            .applications
            .iter()
            .find(|a| a.id == moved_id)
            .unwrap();
        prop_assert_eq!(got.id, moved_id);
        prop_assert_eq!(got.moved_from, Some(id));
        prop_assert_eq!(
            got.registered_at.timestamp_micros(),
            want.registered_at_micros
        );
        prop_assert_eq!(got.tier, want.tier, "the policy keeps a verified priority");
        prop_assert_eq!(got.language, want.language);
        let choices = match &want.choices {
            None => Choices::Any,
            Some(list) => Choices::Listed(list.clone()),
        };
        prop_assert_eq!(&got.choices, &choices);
        prop_assert_eq!(position, self.model.position(moved_id));
        Ok(())
    }

    fn settle(
        &mut self,
        id: ApplicationId,
        expected: Expected,
        answer: Result<Outcome, CommandError>,
    ) -> Result<(), TestCaseError> {
        let got = answer_kind(&answer);
        prop_assert_eq!(&got, &expected, "{:?}", id);
        if got == Expected::Done {
            self.model.events += 1;
        }
        Ok(())
    }

    fn restart(&mut self) {
        self.service.take().expect("running").shutdown();
        self.service = Some(World::start(&self.path, &self.clock));
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::Register(spec) => self.register(std::slice::from_ref(spec)),
            Op::RegisterMany(specs) => self.register(specs),
            Op::Withdraw(target) => self.withdraw(target),
            Op::Verify(target) => self.verify_priority(target),
            Op::Reject(target, blank) => self.reject_priority(target, *blank),
            Op::RegisterFamily(specs, together) => self.register_family(specs, *together),
            Op::Amend(target, spec) => self.amend(target, spec),
            Op::Move(target, spec) => self.move_to(target, spec),
            Op::Advance(micros) => {
                self.clock.advance(Duration::microseconds(*micros));
                Ok(())
            }
            Op::Restart => {
                self.restart();
                Ok(())
            }
        }
    }

    fn place(&self, spec: &PlaceSpec) -> (DistrictId, Place) {
        let district = &self.model.districts[spec.district % self.model.districts.len()];
        let length = Duration::days(365 * spec.band_years - 1);
        let (born_from, born_to) = match &spec.anchor {
            None => {
                let from = start_day() - Duration::days(spec.band_from_days_ago);
                (from, from + length)
            }
            Some((child, at_end)) => {
                let born = self.model.children[child.index(self.model.children.len())].birth_date;
                if *at_end {
                    (born - length, born)
                } else {
                    (born, born + length)
                }
            }
        };
        let place = Place {
            kindergarten: district.kindergartens[spec.kindergarten % district.kindergartens.len()],
            age_band: AgeBand::new(born_from, born_to).unwrap(),
            language: [Language::KAZAKH, Language::RUSSIAN][spec.language],
            available_from: start_day() + Duration::days(spec.available_in_days),
        };
        (district.id, place)
    }

    /// Every observable answer against the model.
    fn compare(&self, probes: &[PlaceSpec]) -> Result<(), TestCaseError> {
        let service = self.service();
        prop_assert_eq!(service.read().waiting.len(), self.model.queued_count());
        for application in &self.model.applications {
            let id = application.id;
            prop_assert_eq!(service.position(id), self.model.position(id), "{:?}", id);
        }
        for spec in probes {
            let (district, place) = self.place(spec);
            let got = service.read().waiting.first_fit(district, &place);
            prop_assert_eq!(
                got,
                self.model.first_fit(district, &place),
                "place {:?} in {:?}",
                place,
                district
            );
        }
        // Refusals take no number: each district's counter is its next gapless number.
        let reader = kezek::store::Store::open_reader(&self.path).expect("a reader opens");
        let mut counters = kezek::store::registration_counters(&reader).expect("counters read");
        counters.sort();
        let expected: Vec<(DistrictId, u32)> = self
            .model
            .districts
            .iter()
            .map(|d| (d.id, d.next_number))
            .collect();
        prop_assert_eq!(counters, expected);
        Ok(())
    }

    /// At the end: the stored applications are the model's, and `verify` agrees.
    fn finish(mut self) -> Result<(), TestCaseError> {
        self.service.take().expect("running").shutdown();
        let reader = kezek::store::Store::open_reader(&self.path).expect("a reader opens");
        let mut stored: Vec<Application> = Vec::new();
        kezek::store::for_each_application(&reader, |a| {
            stored.push(a);
            Ok(())
        })
        .expect("applications read");
        let mut modelled = self.model.applications.clone();
        modelled.sort_by_key(|a| a.id);
        prop_assert_eq!(stored.len(), modelled.len());
        for (row, want) in stored.iter().zip(&modelled) {
            prop_assert_eq!(row.id, want.id);
            prop_assert_eq!(row.tier, want.tier, "{:?}", want.id);
            let status = if want.queued {
                ApplicationStatus::Queued
            } else if want.moved {
                ApplicationStatus::Moved
            } else {
                ApplicationStatus::Withdrawn
            };
            prop_assert_eq!(row.status, status, "{:?}", want.id);
            prop_assert_eq!(
                row.priority
                    .as_ref()
                    .map(|c| (c.category.as_str(), c.status)),
                want.claim.map(|(code, _, status)| (code, status)),
                "{:?}",
                want.id
            );
            prop_assert_eq!(
                row.registered_at.timestamp_micros(),
                want.registered_at_micros
            );
        }
        // Within each district the numbers are exactly 1..=n.
        for district in &self.model.districts {
            let numbers: Vec<u32> = stored
                .iter()
                .filter(|a| a.id.district == district.id)
                .map(|a| a.id.number.0)
                .collect();
            let gapless: Vec<u32> = (1..district.next_number).collect();
            prop_assert_eq!(numbers, gapless, "{:?}", district.id);
        }
        let report = kezek::verify::verify(&self.path)
            .map_err(|e| fail(format!("verify refused the file: {e}")))?;
        prop_assert_eq!(report.applications, self.model.applications.len());
        prop_assert_eq!(report.waiting, self.model.queued_count());
        prop_assert_eq!(report.events, self.model.events);
        Ok(())
    }
}

fn check_registered(
    got: &Application,
    want: &ModelApplication,
    now_micros: i64,
    channel: Channel,
    entered_by: Option<String>,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.id, want.id);
    prop_assert_eq!(got.registered_at.timestamp_micros(), now_micros);
    prop_assert_eq!(got.child.birth_date, want.birth_date);
    prop_assert_eq!(got.desired_start, want.desired_start);
    let choices = match &want.choices {
        None => Choices::Any,
        Some(list) => Choices::Listed(list.clone()),
    };
    prop_assert_eq!(&got.choices, &choices);
    prop_assert_eq!(got.language, want.language);
    prop_assert_eq!(got.tier, Tier::General, "a claim counts only once verified");
    prop_assert_eq!(got.status, ApplicationStatus::Queued);
    prop_assert_eq!(
        got.priority
            .as_ref()
            .map(|c| (c.category.as_str(), c.status)),
        want.claim.map(|(code, _, status)| (code, status))
    );
    prop_assert_eq!(got.channel, channel);
    prop_assert_eq!(&got.entered_by, &entered_by);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: CASES,
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_service_answers_like_the_model(
        setup in setup(),
        steps in prop::collection::vec(
            (op(), prop::collection::vec(place_spec(), PROBES)),
            10..=OPS_MAX,
        ),
    ) {
        let mut world = World::new(&setup)?;
        world.compare(&[])?;
        for (op, probes) in &steps {
            world.apply(op)?;
            world.compare(probes)?;
        }
        world.finish()?;
    }
}
