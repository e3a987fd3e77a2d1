//! The waiting list against a reference model.
//!
//! `WaitingList` answers positions and first-that-fits from per-cohort, per-kindergarten
//! order-statistic sets; a mistake in which set an entry lives in, or in how a search is cut
//! short, passes a child over without any error. This test drives the index with random
//! operation sequences and checks every answer against the plainest model possible: a `Vec`
//! kept sorted by queue key, scanned from the front. The model's notion of "fits" is written
//! here from DOMAIN.md, not borrowed from `Waiting::fits`, so the two can disagree.
//!
//! Registration times come from a tiny range, independent of the numbers (a family that
//! moved district, or an imported queue, keeps an earlier time under a later number), and
//! tiers from 0..=2, so ties on time (broken by number), times out of number order and
//! re-keying across tiers are common. Amendments change what an entry asks of a place while
//! keeping its key; moves take an entry to the other district under that district's next
//! number, keeping its time.

use chrono::{Datelike, Duration, NaiveDate};
use kezek::domain::application::{ApplicationId, Choices, QueueKey, RegistrationNumber};
use kezek::domain::catalog::{AgeBand, DistrictId, KindergartenId, Language, Tier};
use kezek::domain::waiting_list::{
    CompactChoices, Place, Position, Waiting, WaitingList, WaitingListError,
};
use proptest::prelude::*;
use proptest::sample::Index;

const DISTRICTS: [DistrictId; 2] = [DistrictId(1), DistrictId(2)];
/// A district that never has entries: every answer about it is "nothing".
const EMPTY_DISTRICT: DistrictId = DistrictId(9);
const KINDERGARTENS_PER_DISTRICT: u32 = 4;
/// Birth dates are spread over four calendar years (2019..=2022).
const BIRTH_DAYS_SPAN: i64 = 4 * 365;
/// Desired start and place dates are spread over two years.
const START_DAYS_SPAN: i64 = 2 * 365;
const LANGUAGES: [Language; 2] = [Language::KAZAKH, Language::RUSSIAN];
/// Full comparison of every entry's position every this many operations (and at the end).
const SWEEP_EVERY: usize = 16;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a real date")
}

fn birth_origin() -> NaiveDate {
    date(2019, 1, 1)
}

fn start_origin() -> NaiveDate {
    date(2024, 1, 1)
}

/// The kindergartens of district index `district` (0 or 1): 1..=4 and 5..=8.
fn kindergarten(district: usize, which: u32) -> KindergartenId {
    KindergartenId(district as u32 * KINDERGARTENS_PER_DISTRICT + which + 1)
}

fn tier_rank(tier: Tier) -> u8 {
    match tier {
        Tier::OutOfTurn => 0,
        Tier::First => 1,
        Tier::General => 2,
    }
}

fn tier(value: u8) -> Tier {
    Tier::from_u8(value).expect("tiers are 0..=2")
}

// ---------------------------------------------------------------------------------------
// The reference model.
// ---------------------------------------------------------------------------------------

/// One queued application as the model sees it. The choices are kept as a plain list
/// (`None`: any kindergarten), independent of `CompactChoices`.
#[derive(Clone, Debug)]
struct Entry {
    district: DistrictId,
    waiting: Waiting,
    choices: Option<Vec<KindergartenId>>,
}

impl Entry {
    fn id(&self) -> ApplicationId {
        ApplicationId {
            district: self.district,
            number: self.waiting.key.number,
        }
    }

    fn cohort(&self) -> i32 {
        self.waiting.birth_date.year()
    }

    /// DOMAIN.md: `(tier, registered_at, registration number)`, compared in that order,
    /// tier 0 (out of turn) first. Spelled out rather than taken from `QueueKey`'s `Ord`.
    fn key(&self) -> (u8, i64, u32) {
        let key = &self.waiting.key;
        (tier_rank(key.tier), key.registered_at_micros, key.number.0)
    }

    fn lists(&self, kindergarten: KindergartenId) -> bool {
        self.choices
            .as_ref()
            .is_some_and(|list| list.contains(&kindergarten))
    }

    /// DOMAIN.md, "Free places and referrals": birth date in the band (both ends
    /// inclusive), language matches or any, the kindergarten among the choices or any,
    /// desired start not after the place's date, and not held back.
    fn fits(&self, district: DistrictId, place: &Place) -> bool {
        let w = &self.waiting;
        let in_band =
            place.age_band.born_from <= w.birth_date && w.birth_date <= place.age_band.born_to;
        let language_ok = match w.language {
            None => true,
            Some(language) => language == place.language,
        };
        let kindergarten_ok = match &self.choices {
            None => true,
            Some(list) => list.contains(&place.kindergarten),
        };
        self.district == district
            && !w.held
            && in_band
            && language_ok
            && kindergarten_ok
            && w.desired_start <= place.available_from
    }
}

/// Every queued entry of every district, sorted by (queue key, district). Numbers are only
/// unique within a district, so the district breaks the (cross-district) ties; all queries
/// filter by district first.
#[derive(Default)]
struct Model {
    entries: Vec<Entry>,
}

impl Model {
    fn sort_key(entry: &Entry) -> ((u8, i64, u32), DistrictId) {
        (entry.key(), entry.district)
    }

    fn find(&self, id: ApplicationId) -> Option<usize> {
        self.entries.iter().position(|e| e.id() == id)
    }

    fn insert(&mut self, entry: Entry) -> Result<(), WaitingListError> {
        if self.find(entry.id()).is_some() {
            return Err(WaitingListError::AlreadyWaiting(entry.id()));
        }
        let key = Model::sort_key(&entry);
        let at = self.entries.partition_point(|e| Model::sort_key(e) < key);
        self.entries.insert(at, entry);
        Ok(())
    }

    fn remove(&mut self, id: ApplicationId) -> Result<Entry, WaitingListError> {
        let at = self.find(id).ok_or(WaitingListError::NotWaiting(id))?;
        Ok(self.entries.remove(at))
    }

    fn set_tier(&mut self, id: ApplicationId, tier: Tier) -> Result<(), WaitingListError> {
        let mut entry = self.remove(id)?;
        entry.waiting.key.tier = tier;
        self.insert(entry)
    }

    fn set_held(&mut self, id: ApplicationId, held: bool) -> Result<(), WaitingListError> {
        let at = self.find(id).ok_or(WaitingListError::NotWaiting(id))?;
        self.entries[at].waiting.held = held;
        Ok(())
    }

    /// The entries of `district`'s `cohort` in queue order.
    fn cohort(&self, district: DistrictId, cohort: i32) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(move |e| e.district == district && e.cohort() == cohort)
    }

    fn position(&self, id: ApplicationId) -> Option<Position> {
        let me = &self.entries[self.find(id)?];
        let cohort = me.cohort();
        let ahead: Vec<&Entry> = self
            .cohort(me.district, cohort)
            .filter(|e| e.key() < me.key())
            .collect();
        let ahead_per_kindergarten = me
            .choices
            .iter()
            .flatten()
            .map(|k| (*k, ahead.iter().filter(|e| e.lists(*k)).count() as u32))
            .collect();
        Some(Position {
            cohort,
            in_cohort: ahead.len() as u32 + 1,
            cohort_size: self.cohort(me.district, cohort).count() as u32,
            ahead_per_kindergarten,
            ahead_taking_any: ahead.iter().filter(|e| e.choices.is_none()).count() as u32,
        })
    }

    fn first_fit(&self, district: DistrictId, place: &Place) -> Option<ApplicationId> {
        self.entries
            .iter()
            .find(|e| e.fits(district, place))
            .map(Entry::id)
    }
}

// ---------------------------------------------------------------------------------------
// Operations.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct NewEntry {
    district: usize,
    tier: u8,
    birth_day: i64,
    start_day: i64,
    /// 0: kk, 1: ru, 2: any.
    language: usize,
    /// Empty: any kindergarten; else 1..=3 distinct indices 0..4 of the district's.
    choices: Vec<u32>,
    held: bool,
    /// The registration time, in steps of 5 µs: unrelated to the number.
    at: i64,
}

#[derive(Clone, Debug)]
struct PlaceSpec {
    district: usize,
    /// 0..4: a kindergarten of the district; 4: one of the other district.
    kindergarten: u32,
    band_from_day: i64,
    band_years: i64,
    language: usize,
    available_day: i64,
}

#[derive(Clone, Debug)]
enum Op {
    /// A new application with the district's next number.
    Insert(NewEntry),
    /// An entry that is already waiting, inserted again (with other fields changed).
    InsertPresent(Index, NewEntry),
    /// A removed entry back with its original key (the stop list's return to the queue).
    Reinsert(Index),
    Remove(Index),
    /// Removing a number that was removed before, never given, or in an empty district.
    RemoveAbsent(Index, u8),
    SetTier(Index, u8),
    SetTierAbsent(Index, u8, u8),
    SetHeld(Index, bool),
    SetHeldAbsent(Index, u8, bool),
    Position(Index),
    PositionAbsent(Index, u8),
    FirstFit(PlaceSpec),
    CohortPage(usize, i32, usize, usize),
    /// New choices, language and start for a waiting entry (its key stays).
    Amend(Index, NewEntry),
    /// A waiting entry leaves its district for the other, under that district's next number
    /// and with its own registration time.
    Move(Index),
}

fn new_entry() -> impl Strategy<Value = NewEntry> {
    (
        0..DISTRICTS.len(),
        0u8..=2,
        0..BIRTH_DAYS_SPAN,
        0..START_DAYS_SPAN,
        0usize..3,
        prop_oneof![
            1 => Just(Vec::new()),
            3 => proptest::sample::subsequence((0..KINDERGARTENS_PER_DISTRICT).collect::<Vec<_>>(), 1..=3)
                .prop_shuffle(),
        ],
        proptest::bool::weighted(0.1),
        0i64..40,
    )
        .prop_map(
            |(district, tier, birth_day, start_day, language, choices, held, at)| {
                NewEntry {
                    district,
                    tier,
                    birth_day,
                    start_day,
                    language,
                    choices,
                    held,
                    at,
                }
            },
        )
}

fn place_spec() -> impl Strategy<Value = PlaceSpec> {
    (
        0..DISTRICTS.len(),
        0..=KINDERGARTENS_PER_DISTRICT,
        -200..BIRTH_DAYS_SPAN,
        1i64..=3,
        0usize..2,
        -30..START_DAYS_SPAN + 30,
    )
        .prop_map(
            |(district, kindergarten, band_from_day, band_years, language, available_day)| {
                PlaceSpec {
                    district,
                    kindergarten,
                    band_from_day,
                    band_years,
                    language,
                    available_day,
                }
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => new_entry().prop_map(Op::Insert),
        1 => (any::<Index>(), new_entry()).prop_map(|(i, e)| Op::InsertPresent(i, e)),
        2 => any::<Index>().prop_map(Op::Reinsert),
        3 => any::<Index>().prop_map(Op::Remove),
        1 => (any::<Index>(), 0u8..3).prop_map(|(i, how)| Op::RemoveAbsent(i, how)),
        4 => (any::<Index>(), 0u8..=2).prop_map(|(i, t)| Op::SetTier(i, t)),
        1 => (any::<Index>(), 0u8..3, 0u8..=2).prop_map(|(i, how, t)| Op::SetTierAbsent(i, how, t)),
        3 => (any::<Index>(), any::<bool>()).prop_map(|(i, h)| Op::SetHeld(i, h)),
        1 => (any::<Index>(), 0u8..3, any::<bool>()).prop_map(|(i, how, h)| Op::SetHeldAbsent(i, how, h)),
        5 => any::<Index>().prop_map(Op::Position),
        1 => (any::<Index>(), 0u8..3).prop_map(|(i, how)| Op::PositionAbsent(i, how)),
        10 => place_spec().prop_map(Op::FirstFit),
        1 => (0..DISTRICTS.len(), 2019i32..=2022, 0usize..8, 0usize..8)
            .prop_map(|(d, c, o, l)| Op::CohortPage(d, c, o, l)),
        3 => (any::<Index>(), new_entry()).prop_map(|(i, e)| Op::Amend(i, e)),
        2 => any::<Index>().prop_map(Op::Move),
    ]
}

// ---------------------------------------------------------------------------------------
// The harness: applies each operation to both and compares.
// ---------------------------------------------------------------------------------------

struct Harness {
    list: WaitingList,
    model: Model,
    /// The next number to give, per district index: unique and increasing.
    next_number: [u32; 2],
    /// Entries removed, with the key they had, for `Reinsert` and `RemoveAbsent`.
    removed: Vec<Entry>,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            list: WaitingList::new(),
            model: Model::default(),
            next_number: [1, 1],
            removed: Vec::new(),
        }
    }

    fn build(&self, spec: &NewEntry, number: RegistrationNumber) -> Entry {
        let district = DISTRICTS[spec.district];
        let choices = (!spec.choices.is_empty()).then(|| {
            spec.choices
                .iter()
                .map(|k| kindergarten(spec.district, *k))
                .collect::<Vec<_>>()
        });
        // Times from a small range, whatever the number: ties are common (the number breaks
        // them) and a later number often has an earlier time.
        let registered_at_micros = spec.at * 5;
        let waiting = Waiting {
            key: QueueKey {
                tier: tier(spec.tier),
                registered_at_micros,
                number,
            },
            birth_date: birth_origin() + Duration::days(spec.birth_day),
            desired_start: start_origin() + Duration::days(spec.start_day),
            language: LANGUAGES.get(spec.language).copied(),
            choices: CompactChoices::from_choices(&match &choices {
                None => Choices::Any,
                Some(list) => Choices::Listed(list.clone()),
            }),
            held: spec.held,
        };
        Entry {
            district,
            waiting,
            choices,
        }
    }

    fn present(&self, index: &Index) -> Option<ApplicationId> {
        (!self.model.entries.is_empty())
            .then(|| self.model.entries[index.index(self.model.entries.len())].id())
    }

    /// An id that is certainly not waiting.
    fn absent(&self, how: u8, index: &Index) -> ApplicationId {
        match how {
            0 if !self.removed.is_empty() => {
                let entry = &self.removed[index.index(self.removed.len())];
                if self.model.find(entry.id()).is_none() {
                    return entry.id();
                }
                self.absent(1, index)
            }
            1 => {
                let d = index.index(DISTRICTS.len());
                ApplicationId {
                    district: DISTRICTS[d],
                    number: RegistrationNumber(self.next_number[d] + index.index(3) as u32),
                }
            }
            _ => ApplicationId {
                district: EMPTY_DISTRICT,
                number: RegistrationNumber(1),
            },
        }
    }

    fn place(spec: &PlaceSpec) -> (DistrictId, Place) {
        let kindergarten = if spec.kindergarten < KINDERGARTENS_PER_DISTRICT {
            kindergarten(spec.district, spec.kindergarten)
        } else {
            kindergarten(1 - spec.district, 0)
        };
        let born_from = birth_origin() + Duration::days(spec.band_from_day);
        let born_to = born_from + Duration::days(365 * spec.band_years - 1);
        let place = Place {
            kindergarten,
            age_band: AgeBand::new(born_from, born_to).expect("from <= to"),
            language: LANGUAGES[spec.language],
            available_from: start_origin() + Duration::days(spec.available_day),
        };
        (DISTRICTS[spec.district], place)
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::Amend(index, spec) => {
                let Some(id) = self.present(index) else {
                    return Ok(());
                };
                let mut entry = self.build(spec, id.number);
                let before = self.model.remove(id).expect("present in the model");
                // The key and everything but what an amendment changes stay as they were.
                entry.district = before.district;
                entry.waiting.key = before.waiting.key;
                entry.waiting.birth_date = before.waiting.birth_date;
                entry.waiting.held = before.waiting.held;
                if entry.choices.is_some() {
                    // The spec's kindergartens are of its own district: take the entry's.
                    let d = DISTRICTS.iter().position(|d| *d == id.district).unwrap();
                    entry.choices =
                        Some(spec.choices.iter().map(|k| kindergarten(d, *k)).collect());
                    entry.waiting.choices = CompactChoices::from_choices(&Choices::Listed(
                        entry.choices.clone().unwrap(),
                    ));
                }
                let w = entry.waiting;
                prop_assert_eq!(
                    self.list.amend(id, w.choices, w.language, w.desired_start),
                    Ok(())
                );
                prop_assert_eq!(self.model.insert(entry), Ok(()));
            }
            Op::Move(index) => {
                let Some(id) = self.present(index) else {
                    return Ok(());
                };
                let from = DISTRICTS.iter().position(|d| *d == id.district).unwrap();
                let to = 1 - from;
                let mut entry = self.model.remove(id).expect("present in the model");
                prop_assert_eq!(self.list.remove(id), Ok(entry.waiting));
                let number = RegistrationNumber(self.next_number[to]);
                self.next_number[to] += 1;
                entry.district = DISTRICTS[to];
                entry.waiting.key.number = number;
                // Kindergartens are the district's own: the moved entry takes any.
                entry.choices = None;
                entry.waiting.choices = CompactChoices::from_choices(&Choices::Any);
                prop_assert_eq!(self.list.insert(entry.district, entry.waiting), Ok(()));
                prop_assert_eq!(self.model.insert(entry), Ok(()));
            }
            Op::Insert(spec) => {
                let number = RegistrationNumber(self.next_number[spec.district]);
                self.next_number[spec.district] += 1;
                let entry = self.build(spec, number);
                let got = self.list.insert(entry.district, entry.waiting);
                prop_assert_eq!(got, Ok(()));
                prop_assert_eq!(self.model.insert(entry), Ok(()));
            }
            Op::InsertPresent(index, spec) => {
                let Some(id) = self.present(index) else {
                    return Ok(());
                };
                let mut entry = self.build(spec, id.number);
                entry.district = id.district;
                let before = self.list.get(id).copied();
                let got = self.list.insert(id.district, entry.waiting);
                let want = self.model.insert(entry);
                prop_assert_eq!(got, Err(WaitingListError::AlreadyWaiting(id)));
                prop_assert_eq!(got, want);
                // The refused insert changed nothing.
                prop_assert_eq!(self.list.get(id).copied(), before);
            }
            Op::Reinsert(index) => {
                if self.removed.is_empty() {
                    return Ok(());
                }
                let entry = self.removed[index.index(self.removed.len())].clone();
                let got = self.list.insert(entry.district, entry.waiting);
                let want = self.model.insert(entry);
                prop_assert_eq!(got, want);
            }
            Op::Remove(index) => {
                let Some(id) = self.present(index) else {
                    return Ok(());
                };
                let got = self.list.remove(id);
                let want = self.model.remove(id).expect("present in the model");
                prop_assert_eq!(got, Ok(want.waiting));
                self.removed.push(want);
            }
            Op::RemoveAbsent(index, how) => {
                let id = self.absent(*how, index);
                let got = self.list.remove(id);
                prop_assert_eq!(got, Err(WaitingListError::NotWaiting(id)));
                prop_assert_eq!(
                    got.map(|w| w.key),
                    self.model.remove(id).map(|e| e.waiting.key)
                );
            }
            Op::SetTier(index, t) => {
                let Some(id) = self.present(index) else {
                    return Ok(());
                };
                prop_assert_eq!(self.list.set_tier(id, tier(*t)), Ok(()));
                prop_assert_eq!(self.model.set_tier(id, tier(*t)), Ok(()));
            }
            Op::SetTierAbsent(index, how, t) => {
                let id = self.absent(*how, index);
                let got = self.list.set_tier(id, tier(*t));
                prop_assert_eq!(got, Err(WaitingListError::NotWaiting(id)));
                prop_assert_eq!(got, self.model.set_tier(id, tier(*t)));
            }
            Op::SetHeld(index, held) => {
                let Some(id) = self.present(index) else {
                    return Ok(());
                };
                prop_assert_eq!(self.list.set_held(id, *held), Ok(()));
                prop_assert_eq!(self.model.set_held(id, *held), Ok(()));
            }
            Op::SetHeldAbsent(index, how, held) => {
                let id = self.absent(*how, index);
                let got = self.list.set_held(id, *held);
                prop_assert_eq!(got, Err(WaitingListError::NotWaiting(id)));
                prop_assert_eq!(got, self.model.set_held(id, *held));
            }
            Op::Position(index) => {
                if let Some(id) = self.present(index) {
                    prop_assert_eq!(self.list.position(id), self.model.position(id), "{:?}", id);
                }
            }
            Op::PositionAbsent(index, how) => {
                let id = self.absent(*how, index);
                prop_assert_eq!(self.list.position(id), None);
                prop_assert_eq!(self.model.position(id), None);
            }
            Op::FirstFit(spec) => {
                let (district, place) = Harness::place(spec);
                prop_assert_eq!(
                    self.list.first_fit(district, &place),
                    self.model.first_fit(district, &place),
                    "place {:?} in {:?}",
                    place,
                    district
                );
                prop_assert_eq!(self.list.first_fit(EMPTY_DISTRICT, &place), None);
            }
            Op::CohortPage(d, cohort, offset, limit) => {
                let district = DISTRICTS[*d];
                let got: Vec<Waiting> = self
                    .list
                    .cohort_page(district, *cohort, *offset, *limit)
                    .into_iter()
                    .copied()
                    .collect();
                let want: Vec<Waiting> = self
                    .model
                    .cohort(district, *cohort)
                    .skip(*offset)
                    .take(*limit)
                    .map(|e| e.waiting)
                    .collect();
                prop_assert_eq!(got, want);
                // The same page as each of the district's kindergartens sees the queue:
                // those who listed it or take any, in queue order.
                for which in 0..KINDERGARTENS_PER_DISTRICT {
                    let kindergarten = kindergarten(*d, which);
                    let (total, page) = self.list.kindergarten_page(
                        district,
                        kindergarten,
                        *cohort,
                        *offset,
                        *limit,
                    );
                    let all: Vec<Waiting> = self
                        .model
                        .cohort(district, *cohort)
                        .filter(|e| e.waiting.choices.accepts(kindergarten))
                        .map(|e| e.waiting)
                        .collect();
                    prop_assert_eq!(total, all.len());
                    let got: Vec<Waiting> = page.into_iter().copied().collect();
                    let want: Vec<Waiting> = all.into_iter().skip(*offset).take(*limit).collect();
                    prop_assert_eq!(got, want, "{:?} page", kindergarten);
                }
            }
        }
        prop_assert_eq!(self.list.len(), self.model.entries.len());
        prop_assert_eq!(self.list.is_empty(), self.model.entries.is_empty());
        Ok(())
    }

    /// Everything at once: the entries, every position, and the invariants of the index.
    fn sweep(&self) -> Result<(), TestCaseError> {
        if let Err(broken) = self.list.check_invariants() {
            return Err(TestCaseError::fail(format!("invariants: {broken}")));
        }
        let mut listed: Vec<(DistrictId, Waiting)> =
            self.list.iter().map(|(d, w)| (d, *w)).collect();
        listed.sort_by_key(|(d, w)| (w.key.number, *d));
        let mut modelled: Vec<(DistrictId, Waiting)> = self
            .model
            .entries
            .iter()
            .map(|e| (e.district, e.waiting))
            .collect();
        modelled.sort_by_key(|(d, w)| (w.key.number, *d));
        prop_assert_eq!(listed, modelled);
        // Every cohort, whole, in queue order.
        for district in DISTRICTS {
            for cohort in 2019..=2022 {
                let got: Vec<Waiting> = self
                    .list
                    .cohort_page(district, cohort, 0, usize::MAX)
                    .into_iter()
                    .copied()
                    .collect();
                let want: Vec<Waiting> = self
                    .model
                    .cohort(district, cohort)
                    .map(|e| e.waiting)
                    .collect();
                prop_assert_eq!(got, want, "{:?} cohort {}", district, cohort);
            }
        }
        for entry in &self.model.entries {
            let id = entry.id();
            prop_assert_eq!(self.list.get(id), Some(&entry.waiting));
            prop_assert_eq!(self.list.position(id), self.model.position(id), "{:?}", id);
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        max_shrink_iters: 20_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_waiting_list_answers_like_a_sorted_vec(ops in prop::collection::vec(op(), 1..200)) {
        let mut harness = Harness::new();
        for (step, op) in ops.iter().enumerate() {
            harness.apply(op)?;
            if step % 4 == 3 {
                if let Err(broken) = harness.list.check_invariants() {
                    return Err(TestCaseError::fail(format!("after step {step}: {broken}")));
                }
            }
            if step % SWEEP_EVERY == SWEEP_EVERY - 1 {
                harness.sweep()?;
            }
        }
        harness.sweep()?;
    }
}

// ---------------------------------------------------------------------------------------
// A hand-written scenario: the fairness rules in one small queue.
// ---------------------------------------------------------------------------------------

fn waiting(
    tier: Tier,
    registered_at_micros: i64,
    number: u32,
    birth_date: NaiveDate,
    choices: Choices,
) -> Waiting {
    Waiting {
        key: QueueKey {
            tier,
            registered_at_micros,
            number: RegistrationNumber(number),
        },
        birth_date,
        desired_start: date(2024, 9, 1),
        language: Some(Language::KAZAKH),
        choices: CompactChoices::from_choices(&choices),
        held: false,
    }
}

/// A verified first-priority child registered later is served before a general child
/// registered earlier; an out-of-turn child before both; a held child is skipped for places
/// but keeps its position, and gets the next place once released.
#[test]
fn priority_tiers_come_first_and_a_held_child_keeps_its_place() {
    let district = DistrictId(1);
    let k1 = KindergartenId(1);
    let k2 = KindergartenId(2);
    let born = date(2021, 5, 10);
    let id = |number: u32| ApplicationId {
        district,
        number: RegistrationNumber(number),
    };
    let place = Place {
        kindergarten: k1,
        age_band: AgeBand::new(date(2021, 1, 1), date(2021, 12, 31)).unwrap(),
        language: Language::KAZAKH,
        available_from: date(2024, 9, 1),
    };

    let mut list = WaitingList::new();
    // No. 1, general, registered first; No. 2, general, at the same instant (the number
    // breaks the tie); No. 3, registered a day later, claims first priority.
    let day_micros = 86_400_000_000;
    list.insert(
        district,
        waiting(Tier::General, 0, 1, born, Choices::Listed(vec![k1])),
    )
    .unwrap();
    list.insert(district, waiting(Tier::General, 0, 2, born, Choices::Any))
        .unwrap();
    list.insert(
        district,
        waiting(
            Tier::General,
            day_micros,
            3,
            born,
            Choices::Listed(vec![k2, k1]),
        ),
    )
    .unwrap();
    assert_eq!(list.first_fit(district, &place), Some(id(1)));
    assert_eq!(list.position(id(3)).unwrap().in_cohort, 3);

    // The claim is verified: No. 3 moves ahead of the earlier general children.
    list.set_tier(id(3), Tier::First).unwrap();
    assert_eq!(list.first_fit(district, &place), Some(id(3)));
    let third = list.position(id(3)).unwrap();
    assert_eq!(third.in_cohort, 1);
    assert_eq!(third.ahead_per_kindergarten, vec![(k2, 0), (k1, 0)]);
    assert_eq!(third.ahead_taking_any, 0);
    let first = list.position(id(1)).unwrap();
    assert_eq!(first.in_cohort, 2);
    assert_eq!(first.ahead_per_kindergarten, vec![(k1, 1)]);

    // An out-of-turn child registered last of all goes before everyone.
    list.insert(
        district,
        waiting(Tier::OutOfTurn, 2 * day_micros, 4, born, Choices::Any),
    )
    .unwrap();
    assert_eq!(list.first_fit(district, &place), Some(id(4)));
    assert_eq!(list.position(id(1)).unwrap().in_cohort, 3);
    assert_eq!(list.position(id(1)).unwrap().ahead_taking_any, 1);

    // Held (stop list): skipped for places, position unchanged.
    list.set_held(id(4), true).unwrap();
    list.set_held(id(3), true).unwrap();
    assert_eq!(list.first_fit(district, &place), Some(id(1)));
    assert_eq!(list.position(id(4)).unwrap().in_cohort, 1);
    assert_eq!(list.position(id(3)).unwrap().in_cohort, 2);
    assert_eq!(list.position(id(1)).unwrap().in_cohort, 3);

    // A rejected claim drops No. 3 back to the general tier with its original time: after
    // Nos. 1 and 2, who registered before it.
    list.set_tier(id(3), Tier::General).unwrap();
    list.set_held(id(3), false).unwrap();
    assert_eq!(list.position(id(3)).unwrap().in_cohort, 4);
    assert_eq!(list.first_fit(district, &place), Some(id(1)));

    // Released: No. 4 is served first again.
    list.set_held(id(4), false).unwrap();
    assert_eq!(list.first_fit(district, &place), Some(id(4)));
    list.check_invariants().unwrap();
}

/// The band's ends are inclusive, a later desired start or another language is not a fit,
/// and a child born in a year the band does not reach is never looked at.
#[test]
fn fit_respects_band_ends_language_and_start() {
    let district = DistrictId(1);
    let k1 = KindergartenId(1);
    let mut list = WaitingList::new();
    let mut late = waiting(Tier::General, 0, 1, date(2021, 1, 1), Choices::Any);
    late.desired_start = date(2024, 9, 2);
    list.insert(district, late).unwrap();
    let mut russian = waiting(Tier::General, 0, 2, date(2021, 12, 31), Choices::Any);
    russian.language = Some(Language::RUSSIAN);
    list.insert(district, russian).unwrap();
    let mut any_language = waiting(Tier::General, 0, 3, date(2021, 12, 31), Choices::Any);
    any_language.language = None;
    list.insert(district, any_language).unwrap();
    list.insert(
        district,
        waiting(Tier::OutOfTurn, 0, 4, date(2020, 12, 31), Choices::Any),
    )
    .unwrap();

    let place = Place {
        kindergarten: k1,
        age_band: AgeBand::new(date(2021, 1, 1), date(2021, 12, 31)).unwrap(),
        language: Language::KAZAKH,
        available_from: date(2024, 9, 1),
    };
    let number = |n: u32| {
        Some(ApplicationId {
            district,
            number: RegistrationNumber(n),
        })
    };
    // No. 4 is out of band, No. 1 starts too late, No. 2 wants Russian: No. 3 takes any.
    assert_eq!(list.first_fit(district, &place), number(3));
    let later = Place {
        available_from: date(2024, 9, 2),
        ..place
    };
    assert_eq!(list.first_fit(district, &later), number(1));
    let russian_place = Place {
        language: Language::RUSSIAN,
        ..place
    };
    assert_eq!(list.first_fit(district, &russian_place), number(2));
    let wider = Place {
        age_band: AgeBand::new(date(2020, 12, 31), date(2021, 1, 1)).unwrap(),
        ..later
    };
    assert_eq!(list.first_fit(district, &wider), number(4));
}

/// A page of zero entries is empty, wherever it starts. (`indexset`'s `range_idx` computes
/// `end - 1`, so an empty range starting at 0 once overflowed: a panic in debug builds.)
#[test]
fn a_cohort_page_of_limit_zero_is_empty() {
    let district = DistrictId(1);
    let mut list = WaitingList::new();
    for number in 1..=3 {
        let entry = waiting(Tier::General, 0, number, date(2021, 1, 1), Choices::Any);
        list.insert(district, entry).unwrap();
    }
    for offset in [2, 1, 0] {
        assert!(
            list.cohort_page(district, 2021, offset, 0).is_empty(),
            "offset {offset}"
        );
    }
}
