//! The waiting list: the in-memory index of every queued application, per district.
//!
//! It answers the questions fairness depends on, each in O(log n) at a million entries:
//! an application's position in its district and birth-year cohort, how many ahead of it
//! chose each of its kindergartens, and which application comes first for a free place.
//!
//! Each district keeps one order-statistic set of queue keys per birth-year cohort, one per
//! (kindergarten, cohort) for the applications that listed the kindergarten, and one per
//! cohort for those that take "any kindergarten of the district". A free place only ever
//! looks at the sets of its kindergarten and of "any" in the years its age band covers, so
//! applications that could never take it are never touched.
//!
//! `indexset::BTreeSet` is a two-level B-tree with a Fenwick index over its nodes, which
//! gives `rank` in O(log n) without walking the elements (std's `range(..).count()` is O(n)).
//!
//! Architecture Invariant: an application is in this index exactly when it is queued, and
//! then in exactly the sets its cohort and choices name. `check_invariants` proves it.

use super::application::{ApplicationId, Choices, QueueKey, RegistrationNumber};
use super::catalog::{AgeBand, DistrictId, KindergartenId, Language, Tier};
use chrono::{Datelike, NaiveDate};
use std::collections::HashMap;

/// Node size of the order-statistic sets. A rank at a million applications is bound by cache
/// misses: one per step of the binary search over nodes (each node is its own allocation)
/// and a few inside the node. Larger nodes mean fewer nodes; with 16-byte keys a 256-key
/// node is 4 KiB (measured against 512 in docs/PERFORMANCE.md, "re-keying").
const NODE_SIZE: usize = 256;

/// A queue key as the sets hold it, in 16 bytes: the order in the high bits, what a free
/// place asks of an application in the low 32.
///
/// The order, `tier | registered_at | number`, is the queue key itself (`QueueKey`'s
/// comparison, field by field), so any registration time can be inserted anywhere: a
/// family that moved district keeps its original time, an imported queue keeps the old
/// system's, and neither has to rise with the numbers the district hands out. The time is
/// microseconds since the Unix epoch in 56 bits (until the year 4253); `insert` refuses a
/// key outside that range. High parts are unique (the number is), so the summary never
/// decides the order.
///
/// Low 32 bits, a summary of [`Waiting::fits`]: the desired start (days since 2000-01-01),
/// the language, the stop-list flag and the birth day of the year. `first_fit` walks a set
/// past the applications that cannot take a place by reading the keys alone, in contiguous
/// node memory, instead of a hash-map lookup (a cache miss at a million entries) for each.
/// The summary only ever rules out; a candidate it lets through is confirmed with `fits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct SetKey(u128);

/// Registration numbers must fit beside the time.
const NUMBER_BITS: u32 = 30;
const NUMBER_SHIFT: u32 = 32;
const AT_BITS: u32 = 56;
const AT_SHIFT: u32 = NUMBER_SHIFT + NUMBER_BITS;
const TIER_SHIFT: u32 = AT_SHIFT + AT_BITS;
const START_SHIFT: u32 = 17;
const START_DAYS_MAX: u64 = (1 << 15) - 1;
const LANGUAGE_SHIFT: u32 = 14;
const LANGUAGE_ANY: u64 = 0;
/// A language other than kk and ru: the summary cannot tell, `fits` decides.
const LANGUAGE_OTHER: u64 = 7;
const HELD_BIT: u64 = 1 << 13;
const BIRTH_DAY_SHIFT: u32 = 4;

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("a real date")
}

fn start_days(date: NaiveDate) -> u64 {
    ((date - epoch()).num_days().max(0) as u64).min(START_DAYS_MAX)
}

fn language_code(language: Option<Language>) -> u64 {
    match language {
        None => LANGUAGE_ANY,
        Some(Language::KAZAKH) => 1,
        Some(Language::RUSSIAN) => 2,
        Some(_) => LANGUAGE_OTHER,
    }
}

/// Whether a queue key fits the set keys' fields (a time from 1970 to the year 4253, a
/// number below 2^30).
fn key_in_range(key: &QueueKey) -> bool {
    (0..1 << AT_BITS).contains(&key.registered_at_micros) && key.number.0 < 1 << NUMBER_BITS
}

impl SetKey {
    fn of(waiting: &Waiting) -> SetKey {
        let key = &waiting.key;
        debug_assert!(key_in_range(key), "insert checks the key's range");
        let order = u128::from(key.tier.as_u8()) << TIER_SHIFT
            | (key.registered_at_micros as u128) << AT_SHIFT
            | u128::from(key.number.0) << NUMBER_SHIFT;
        let summary = start_days(waiting.desired_start) << START_SHIFT
            | language_code(waiting.language) << LANGUAGE_SHIFT
            | if waiting.held { HELD_BIT } else { 0 }
            | u64::from(waiting.birth_date.ordinal0()) << BIRTH_DAY_SHIFT;
        SetKey(order | u128::from(summary))
    }

    fn number(self) -> RegistrationNumber {
        RegistrationNumber((self.0 >> NUMBER_SHIFT) as u32 & ((1 << NUMBER_BITS) - 1))
    }

    fn summary(self) -> u64 {
        self.0 as u32 as u64
    }

    /// The smallest key of `tier`.
    fn tier_start(tier: Tier) -> SetKey {
        SetKey(u128::from(tier.as_u8()) << TIER_SHIFT)
    }

    /// False only if the application cannot take `place`; true means "ask `fits`".
    fn may_fit(self, place: &PlaceSummary) -> bool {
        let summary = self.summary();
        if summary & HELD_BIT != 0 {
            return false;
        }
        let language = (summary >> LANGUAGE_SHIFT) & 0b111;
        let language_ok = language == LANGUAGE_ANY
            || language == LANGUAGE_OTHER
            || place.language == LANGUAGE_OTHER
            || language == place.language;
        let start = (summary >> START_SHIFT) & START_DAYS_MAX;
        // A saturated start date says nothing; `fits` compares the real dates.
        let start_ok = start == START_DAYS_MAX || start <= place.available_days;
        let birth_day = ((summary >> BIRTH_DAY_SHIFT) & 0x1ff) as u32;
        let birth_ok = place.birth_days.contains(&birth_day);
        language_ok && start_ok && birth_ok
    }
}

/// A place as the key summaries can test it, for one birth year.
struct PlaceSummary {
    language: u64,
    available_days: u64,
    /// The band's birth days (0-based day of the year) within this year.
    birth_days: std::ops::RangeInclusive<u32>,
}

impl PlaceSummary {
    fn of(place: &Place, year: i32) -> PlaceSummary {
        let band = &place.age_band;
        let first = if band.born_from.year() < year {
            0
        } else {
            band.born_from.ordinal0()
        };
        let last = if band.born_to.year() > year {
            366
        } else {
            band.born_to.ordinal0()
        };
        PlaceSummary {
            language: language_code(Some(place.language)),
            available_days: start_days(place.available_from),
            birth_days: first..=last,
        }
    }
}

type KeySet = indexset::BTreeSet<SetKey>;
type FastMap<K, V> = rustc_hash::FxHashMap<K, V>;

fn new_key_set() -> KeySet {
    KeySet::with_maximum_node_size(NODE_SIZE)
}

/// The preferred kindergartens in a fixed-size array: no heap allocation per application.
/// `len == 0` means "any kindergarten of the district".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompactChoices {
    ids: [KindergartenId; 5],
    len: u8,
}

impl CompactChoices {
    pub fn from_choices(choices: &Choices) -> CompactChoices {
        let mut compact = CompactChoices {
            ids: [KindergartenId(0); 5],
            len: 0,
        };
        if let Choices::Listed(list) = choices {
            assert!(
                !list.is_empty() && list.len() <= compact.ids.len(),
                "a listed choice has 1 to 5 kindergartens"
            );
            compact.ids[..list.len()].copy_from_slice(list);
            compact.len = list.len() as u8;
        }
        compact
    }

    pub fn is_any(&self) -> bool {
        self.len == 0
    }

    pub fn listed(&self) -> &[KindergartenId] {
        &self.ids[..usize::from(self.len)]
    }

    pub fn accepts(&self, kindergarten: KindergartenId) -> bool {
        self.is_any() || self.listed().contains(&kindergarten)
    }
}

/// What the waiting list knows of a queued application: only what ordering and fitting need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waiting {
    pub key: QueueKey,
    pub birth_date: NaiveDate,
    pub desired_start: NaiveDate,
    /// `None`: any language.
    pub language: Option<Language>,
    pub choices: CompactChoices,
    /// Held back from places (stop list) while keeping its key and its position.
    pub held: bool,
}

impl Waiting {
    pub fn cohort(&self) -> i32 {
        self.birth_date.year()
    }

    /// Whether this application may take `place`. Every condition of DOMAIN.md is here and
    /// nowhere else, so the index and the reference model cannot disagree about fit.
    pub fn fits(&self, place: &Place) -> bool {
        !self.held
            && place.age_band.contains(self.birth_date)
            && self
                .language
                .is_none_or(|language| language == place.language)
            && self.choices.accepts(place.kindergarten)
            && self.desired_start <= place.available_from
    }
}

/// One free place, as far as choosing a child for it is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    pub kindergarten: KindergartenId,
    pub age_band: AgeBand,
    pub language: Language,
    pub available_from: NaiveDate,
}

/// How far an application is from its turn.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    pub cohort: i32,
    /// 1 means next in the district's cohort.
    pub in_cohort: u32,
    pub cohort_size: u32,
    /// For each listed kindergarten, in the application's order: how many applications of
    /// the same cohort ahead of it also listed that kindergarten.
    pub ahead_per_kindergarten: Vec<(KindergartenId, u32)>,
    /// How many applications of the same cohort ahead of it take any kindergarten: they
    /// compete for every kindergarten's places too.
    pub ahead_taking_any: u32,
}

/// How the entries of one set stand against an application, tier by tier: what playing the
/// 1 : 3 cycle out needs (see `QueueState::position`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TierSplit {
    /// The application's own tier.
    pub tier: Tier,
    /// Entries of the set in each tier (out of turn, first priority, general), all of them.
    pub totals: [u32; 3],
    /// Entries of the set ahead of the application within its own tier.
    pub ahead_in_tier: u32,
}

impl TierSplit {
    /// The split of two disjoint sets taken as one (a kindergarten's own and "any").
    pub fn joined(&self, other: &TierSplit) -> TierSplit {
        debug_assert_eq!(self.tier, other.tier);
        TierSplit {
            tier: self.tier,
            totals: [0, 1, 2].map(|i| self.totals[i] + other.totals[i]),
            ahead_in_tier: self.ahead_in_tier + other.ahead_in_tier,
        }
    }
}

/// The tier splits of an application's cohort, of each kindergarten it listed (in its
/// order) and of those taking any kindergarten.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierSplits {
    pub cohort: TierSplit,
    pub per_kindergarten: Vec<(KindergartenId, TierSplit)>,
    pub taking_any: TierSplit,
}

#[derive(Default)]
struct DistrictQueue {
    // FxHash: the keys are small integers from our own counters, not attacker-chosen, and
    // SipHash was a measurable part of an in-cache position query.
    entries: FastMap<RegistrationNumber, Waiting>,
    by_cohort: FastMap<i32, KeySet>,
    by_kindergarten: FastMap<(KindergartenId, i32), KeySet>,
    taking_any: FastMap<i32, KeySet>,
}

impl DistrictQueue {
    /// Every set an entry belongs to; the one place that decides membership.
    fn for_each_set_of(&mut self, waiting: &Waiting, mut apply: impl FnMut(&mut KeySet)) {
        let cohort = waiting.cohort();
        apply(self.by_cohort.entry(cohort).or_insert_with(new_key_set));
        if waiting.choices.is_any() {
            apply(self.taking_any.entry(cohort).or_insert_with(new_key_set));
        }
        for kindergarten in waiting.choices.listed() {
            let set = self
                .by_kindergarten
                .entry((*kindergarten, cohort))
                .or_insert_with(new_key_set);
            apply(set);
        }
    }

    fn index(&mut self, waiting: &Waiting) {
        let key = SetKey::of(waiting);
        self.for_each_set_of(waiting, |set| {
            let inserted = set.insert(key);
            assert!(inserted, "queue key {:?} indexed twice", waiting.key);
        });
    }

    fn unindex(&mut self, waiting: &Waiting) {
        let key = SetKey::of(waiting);
        self.for_each_set_of(waiting, |set| {
            let removed = set.remove(&key);
            assert!(removed, "queue key {:?} missing from a set", waiting.key);
        });
    }

    /// The first application in `set`, from `from` on, that fits `place`, comes before
    /// `bound` and is not `skipped`.
    fn first_fitting_in(
        &self,
        set: Option<&KeySet>,
        place: &Place,
        summary: &PlaceSummary,
        (from, bound): (Option<SetKey>, Option<SetKey>),
        skipped: &dyn Fn(RegistrationNumber) -> bool,
    ) -> Option<SetKey> {
        // SetKey(0) is the smallest key: without `from`, the walk starts at the beginning.
        set?.range(from.unwrap_or(SetKey(0))..)
            .take_while(|key| bound.is_none_or(|bound| **key < bound))
            .find(|key| {
                key.may_fit(summary)
                    && self.entries[&key.number()].fits(place)
                    && !skipped(key.number())
            })
            .copied()
    }
}

/// How many keys of `set` are in each tier (out of turn, first, general): the tiers are the
/// keys' top bits, so each is a contiguous run found by two ranks.
fn tier_counts(set: &KeySet) -> [u32; 3] {
    let starts = [Tier::First, Tier::General].map(|t| set.rank(&SetKey::tier_start(t)));
    [starts[0], starts[1] - starts[0], set.len() - starts[1]].map(|n| n as u32)
}

/// The waiting lists of all districts.
#[derive(Default)]
pub struct WaitingList {
    districts: HashMap<DistrictId, DistrictQueue>,
    len: usize,
}

/// Why a change to the waiting list was not made. These are caller bugs (the service checks
/// first), reported rather than ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WaitingListError {
    #[error("application {0:?} is already on the waiting list")]
    AlreadyWaiting(ApplicationId),
    #[error("application {0:?} is not on the waiting list")]
    NotWaiting(ApplicationId),
    /// A registration time before 1970 or after 4253, or a number of 2^30 or more: the
    /// store never gives one, and the index's compact keys could not hold it.
    #[error("application {0:?} has a queue key out of the index's range")]
    KeyOutOfRange(ApplicationId),
}

impl WaitingList {
    pub fn new() -> WaitingList {
        WaitingList::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, id: ApplicationId) -> Option<&Waiting> {
        self.districts.get(&id.district)?.entries.get(&id.number)
    }

    pub fn insert(
        &mut self,
        district: DistrictId,
        waiting: Waiting,
    ) -> Result<(), WaitingListError> {
        let queue = self.districts.entry(district).or_default();
        let id = ApplicationId {
            district,
            number: waiting.key.number,
        };
        if queue.entries.contains_key(&waiting.key.number) {
            return Err(WaitingListError::AlreadyWaiting(id));
        }
        if !key_in_range(&waiting.key) {
            return Err(WaitingListError::KeyOutOfRange(id));
        }
        queue.index(&waiting);
        queue.entries.insert(waiting.key.number, waiting);
        self.len += 1;
        Ok(())
    }

    pub fn remove(&mut self, id: ApplicationId) -> Result<Waiting, WaitingListError> {
        let queue = self
            .districts
            .get_mut(&id.district)
            .ok_or(WaitingListError::NotWaiting(id))?;
        let waiting = queue
            .entries
            .remove(&id.number)
            .ok_or(WaitingListError::NotWaiting(id))?;
        queue.unindex(&waiting);
        self.len -= 1;
        Ok(waiting)
    }

    /// Moves an application to another tier, keeping its registration time and number.
    pub fn set_tier(&mut self, id: ApplicationId, tier: Tier) -> Result<(), WaitingListError> {
        let mut waiting = self.remove(id)?;
        waiting.key.tier = tier;
        self.insert(id.district, waiting)
    }

    /// Changes what an application asks of a place (an amendment), keeping its key and so
    /// its place in the cohort; the sets of its old and new choices follow.
    pub fn amend(
        &mut self,
        id: ApplicationId,
        choices: CompactChoices,
        language: Option<Language>,
        desired_start: NaiveDate,
    ) -> Result<(), WaitingListError> {
        let mut waiting = self.remove(id)?;
        waiting.choices = choices;
        waiting.language = language;
        waiting.desired_start = desired_start;
        self.insert(id.district, waiting)
    }

    /// Holds an application back from places (or releases it) without moving it.
    pub fn set_held(&mut self, id: ApplicationId, held: bool) -> Result<(), WaitingListError> {
        // The flag is part of the set keys' summary: re-index under the new key.
        let mut waiting = self.remove(id)?;
        waiting.held = held;
        self.insert(id.district, waiting)
    }

    /// The application's place in its district's birth-year cohort: (1-based position,
    /// cohort size). One rank: the query a parent's status page and the public queue make.
    pub fn cohort_position(&self, id: ApplicationId) -> Option<(u32, u32)> {
        let queue = self.districts.get(&id.district)?;
        let waiting = queue.entries.get(&id.number)?;
        let set = &queue.by_cohort[&waiting.cohort()];
        Some((set.rank(&SetKey::of(waiting)) as u32 + 1, set.len() as u32))
    }

    /// The full position: the cohort, and how many ahead chose each of its kindergartens
    /// or take any (a rank per set, so a few times the cost of `cohort_position`).
    pub fn position(&self, id: ApplicationId) -> Option<Position> {
        let queue = self.districts.get(&id.district)?;
        let waiting = queue.entries.get(&id.number)?;
        let cohort = waiting.cohort();
        let key = SetKey::of(waiting);
        let cohort_set = &queue.by_cohort[&cohort];
        let rank_in = |set: Option<&KeySet>| set.map_or(0, |set| set.rank(&key) as u32);
        let ahead_per_kindergarten = waiting
            .choices
            .listed()
            .iter()
            .map(|kindergarten| {
                let set = queue.by_kindergarten.get(&(*kindergarten, cohort));
                (*kindergarten, rank_in(set))
            })
            .collect();
        Some(Position {
            cohort,
            in_cohort: rank_in(Some(cohort_set)) + 1,
            cohort_size: cohort_set.len() as u32,
            ahead_per_kindergarten,
            ahead_taking_any: rank_in(queue.taking_any.get(&cohort)),
        })
    }

    /// The tier splits of every set an application's position counts (`position`'s sets),
    /// from a few ranks per set.
    pub fn tier_splits(&self, id: ApplicationId) -> Option<TierSplits> {
        let queue = self.districts.get(&id.district)?;
        let waiting = queue.entries.get(&id.number)?;
        let cohort = waiting.cohort();
        let key = SetKey::of(waiting);
        let tier = waiting.key.tier;
        let split = |set: Option<&KeySet>| -> TierSplit {
            let Some(set) = set else {
                return TierSplit {
                    tier,
                    totals: [0; 3],
                    ahead_in_tier: 0,
                };
            };
            let totals = tier_counts(set);
            let tier_start = match tier {
                Tier::OutOfTurn => 0,
                Tier::First => totals[0] as usize,
                Tier::General => (totals[0] + totals[1]) as usize,
            };
            TierSplit {
                tier,
                totals,
                ahead_in_tier: (set.rank(&key) - tier_start) as u32,
            }
        };
        Some(TierSplits {
            cohort: split(queue.by_cohort.get(&cohort)),
            per_kindergarten: waiting
                .choices
                .listed()
                .iter()
                .map(|k| (*k, split(queue.by_kindergarten.get(&(*k, cohort)))))
                .collect(),
            taking_any: split(queue.taking_any.get(&cohort)),
        })
    }

    /// The application whose turn it is for `place`: the smallest key among those that fit.
    pub fn first_fit(&self, district: DistrictId, place: &Place) -> Option<ApplicationId> {
        self.first_fit_between(district, place, None, None, &|_| false)
    }

    /// `first_fit` among the applications `skipped` does not name (the members of a family
    /// that takes places only together and cannot have them here).
    pub fn first_fit_skipping(
        &self,
        district: DistrictId,
        place: &Place,
        tier: Option<Tier>,
        skipped: &dyn Fn(ApplicationId) -> bool,
    ) -> Option<ApplicationId> {
        let skipped = |number| skipped(ApplicationId { district, number });
        match tier {
            None => self.first_fit_between(district, place, None, None, &skipped),
            Some(tier) => {
                let next_tier = Tier::from_u8(tier.as_u8() + 1).map(SetKey::tier_start);
                let from = Some(SetKey::tier_start(tier));
                self.first_fit_between(district, place, from, next_tier, &skipped)
            }
        }
    }

    /// The first application of `tier` that fits `place` (for the 1 : 3 interleave, which
    /// weighs the best first-priority and the best general candidate against each other).
    pub fn first_fit_in_tier(
        &self,
        district: DistrictId,
        place: &Place,
        tier: Tier,
    ) -> Option<ApplicationId> {
        self.first_fit_skipping(district, place, Some(tier), &|_| false)
    }

    fn first_fit_between(
        &self,
        district: DistrictId,
        place: &Place,
        from: Option<SetKey>,
        before: Option<SetKey>,
        skipped: &dyn Fn(RegistrationNumber) -> bool,
    ) -> Option<ApplicationId> {
        let queue = self.districts.get(&district)?;
        if place.age_band.born_from > place.age_band.born_to {
            // A band the school-age rule emptied (see `QueueState::fit_of`).
            return None;
        }
        let mut best: Option<SetKey> = None;
        for year in place.age_band.born_from.year()..=place.age_band.born_to.year() {
            let summary = PlaceSummary::of(place, year);
            let candidate_sets = [
                queue.by_kindergarten.get(&(place.kindergarten, year)),
                queue.taking_any.get(&year),
            ];
            for set in candidate_sets {
                // Each later set is only searched below the best key found so far.
                let bound = best.or(before);
                let range = (from, bound);
                if let Some(found) = queue.first_fitting_in(set, place, &summary, range, skipped) {
                    best = Some(found);
                }
            }
        }
        best.map(|key| ApplicationId {
            district,
            number: key.number(),
        })
    }

    /// The entries of every district born in `year` or earlier (the cohorts that may be
    /// reaching school age), for the daily aging-out sweep.
    pub fn born_up_to(&self, year: i32) -> Vec<(DistrictId, Waiting)> {
        let mut found = Vec::new();
        for (district, queue) in &self.districts {
            for (_, set) in queue
                .by_cohort
                .iter()
                .filter(|(cohort, _)| **cohort <= year)
            {
                found.extend(
                    set.iter()
                        .map(|key| (*district, queue.entries[&key.number()])),
                );
            }
        }
        found.sort_unstable_by_key(|(district, waiting)| (*district, waiting.key));
        found
    }

    /// The queued applications of a district's cohort in queue order, from `offset`, at most
    /// `limit` of them (the public, anonymised queue is built on this).
    pub fn cohort_page(
        &self,
        district: DistrictId,
        cohort: i32,
        offset: usize,
        limit: usize,
    ) -> Vec<&Waiting> {
        let Some(queue) = self.districts.get(&district) else {
            return Vec::new();
        };
        let Some(set) = queue.by_cohort.get(&cohort) else {
            return Vec::new();
        };
        // indexset's range_idx computes `end - 1`: an empty range must not reach it.
        if limit == 0 || offset >= set.len() {
            return Vec::new();
        }
        let end = set.len().min(offset.saturating_add(limit));
        set.range_idx(offset..end)
            .map(|key| &queue.entries[&key.number()])
            .collect()
    }

    /// How many of the cohort's applications (or, with `kindergarten`, of those that listed
    /// it or take any) are in each tier: out of turn, first priority, general.
    pub fn tier_totals(
        &self,
        district: DistrictId,
        cohort: i32,
        kindergarten: Option<KindergartenId>,
    ) -> [u32; 3] {
        let Some(queue) = self.districts.get(&district) else {
            return [0; 3];
        };
        let totals = |set: Option<&KeySet>| set.map_or([0; 3], tier_counts);
        match kindergarten {
            None => totals(queue.by_cohort.get(&cohort)),
            Some(k) => {
                let listed = totals(queue.by_kindergarten.get(&(k, cohort)));
                let any = totals(queue.taking_any.get(&cohort));
                [0, 1, 2].map(|t| listed[t] + any[t])
            }
        }
    }

    /// The queue as one kindergarten sees it: the cohort's applications that listed it or
    /// take any kindergarten, in queue order, from `offset`, at most `limit`; and how many
    /// there are in all. The two sets are disjoint; the page start is found by a binary
    /// search over the split between them, so a deep page costs O(log² n), not O(offset).
    pub fn kindergarten_page(
        &self,
        district: DistrictId,
        kindergarten: KindergartenId,
        cohort: i32,
        offset: usize,
        limit: usize,
    ) -> (usize, Vec<&Waiting>) {
        let Some(queue) = self.districts.get(&district) else {
            return (0, Vec::new());
        };
        let listed = queue.by_kindergarten.get(&(kindergarten, cohort));
        let any = queue.taking_any.get(&cohort);
        let at = |set: Option<&KeySet>, i: usize| set.and_then(|s| s.get_index(i)).copied();
        let (la, lb) = (listed.map_or(0, KeySet::len), any.map_or(0, KeySet::len));
        let total = la + lb;
        if limit == 0 || offset >= total {
            return (total, Vec::new());
        }
        // The smallest i such that the first `offset` of the union are listed[..i] and
        // any[..offset - i].
        let (mut lo, mut hi) = (offset.saturating_sub(lb), offset.min(la));
        while lo < hi {
            let i = (lo + hi) / 2;
            let j = offset - i;
            if j > 0 && at(listed, i) < at(any, j - 1) {
                lo = i + 1;
            } else {
                hi = i;
            }
        }
        let (mut i, mut j) = (lo, offset - lo);
        let mut page = Vec::with_capacity(limit.min(total - offset));
        while page.len() < limit && i + j < total {
            let key = match (at(listed, i), at(any, j)) {
                (Some(a), Some(b)) if a < b => {
                    i += 1;
                    a
                }
                (Some(a), None) => {
                    i += 1;
                    a
                }
                (_, Some(b)) => {
                    j += 1;
                    b
                }
                (None, None) => break,
            };
            page.push(&queue.entries[&key.number()]);
        }
        (total, page)
    }

    /// Each cohort of a district with its number of waiting applications, oldest first.
    pub fn cohort_sizes(&self, district: DistrictId) -> Vec<(i32, usize)> {
        let Some(queue) = self.districts.get(&district) else {
            return Vec::new();
        };
        let mut sizes: Vec<(i32, usize)> = queue
            .by_cohort
            .iter()
            .filter(|(_, set)| !set.is_empty())
            .map(|(cohort, set)| (*cohort, set.len()))
            .collect();
        sizes.sort_unstable();
        sizes
    }

    /// All entries of all districts, in no particular order.
    /// The applications waiting in `district`, in no particular order.
    pub fn in_district(&self, district: DistrictId) -> impl Iterator<Item = &Waiting> {
        self.districts
            .get(&district)
            .into_iter()
            .flat_map(|queue| queue.entries.values())
    }

    pub fn iter(&self) -> impl Iterator<Item = (DistrictId, &Waiting)> {
        self.districts
            .iter()
            .flat_map(|(district, queue)| queue.entries.values().map(move |w| (*district, w)))
    }

    /// Checks that every entry is in exactly the sets it belongs to and no set holds
    /// anything else. O(n log n); for tests, `verify` and debug builds, not the hot path.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut total = 0;
        for (district, queue) in &self.districts {
            let mut expected: HashMap<&'static str, usize> = HashMap::new();
            for (number, waiting) in &queue.entries {
                if *number != waiting.key.number {
                    return Err(format!(
                        "{district:?}: entry {number:?} holds key {:?}",
                        waiting.key
                    ));
                }
                let cohort = waiting.cohort();
                let cohort_ok = queue
                    .by_cohort
                    .get(&cohort)
                    .is_some_and(|s| s.contains(&SetKey::of(waiting)));
                let any_ok = !waiting.choices.is_any()
                    || queue
                        .taking_any
                        .get(&cohort)
                        .is_some_and(|s| s.contains(&SetKey::of(waiting)));
                let listed_ok = waiting.choices.listed().iter().all(|k| {
                    queue
                        .by_kindergarten
                        .get(&(*k, cohort))
                        .is_some_and(|s| s.contains(&SetKey::of(waiting)))
                });
                if !(cohort_ok && any_ok && listed_ok) {
                    return Err(format!(
                        "{district:?}: {number:?} is missing from one of its sets"
                    ));
                }
                *expected.entry("cohort").or_default() += 1;
                *expected.entry("any").or_default() += usize::from(waiting.choices.is_any());
                *expected.entry("listed").or_default() += waiting.choices.listed().len();
            }
            let sizes = [
                (
                    "cohort",
                    queue.by_cohort.values().map(KeySet::len).sum::<usize>(),
                ),
                ("any", queue.taking_any.values().map(KeySet::len).sum()),
                (
                    "listed",
                    queue.by_kindergarten.values().map(KeySet::len).sum(),
                ),
            ];
            for (name, size) in sizes {
                let wanted = expected.get(name).copied().unwrap_or(0);
                if size != wanted {
                    return Err(format!(
                        "{district:?}: {name} sets hold {size} keys, entries need {wanted}"
                    ));
                }
            }
            total += queue.entries.len();
        }
        if total != self.len {
            return Err(format!("length says {}, districts hold {total}", self.len));
        }
        Ok(())
    }
}
