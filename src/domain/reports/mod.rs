//! The reports' aggregates (issue 17): counts kept as events are applied, so that a report
//! is read from a few small maps and never from the journal.
//!
//! `Reports::observe` is a fold of `(event, recorded_at)` that keeps what it needs of each
//! application, referral and place itself, and nothing personal (no IIN, no name): the
//! district, birth year, tier, choices and dates. `QueueState::apply_tracked` feeds it, so
//! the writer, the replay and `verify` fold the same way; start-up, which rebuilds the rest
//! of the state from the tables, folds the journal once (`store::read::load_reports`).
//! Months and weeks are those of the local date (`local_date`) of the event's time.

use super::application::{Application, ApplicationId, ApplicationStatus, Satisfaction};
use super::catalog::{DistrictId, GroupId, KindergartenId, Tier};
use super::document_request::{step_counts_from, RequestTimes};
use super::event::Event;
use super::local_date;
use super::referral::{Lapse, PlaceId};
use super::state::QueueState;
use super::waiting_list::Waiting;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// A month as `year * 100 + month` (202611): ordered, and readable in a CSV.
pub type Month = u32;

/// The Monday that starts an ISO week.
pub type WeekStart = NaiveDate;

pub fn month_of(date: NaiveDate) -> Month {
    date.year() as u32 * 100 + date.month()
}

pub fn week_of(date: NaiveDate) -> WeekStart {
    date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
}

/// What became of referrals, as the monthly report counts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Outcome {
    Issued,
    HandedIn,
    Declined,
    Expired,
    Revoked,
    Extended,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Issued,
        Outcome::HandedIn,
        Outcome::Declined,
        Outcome::Expired,
        Outcome::Revoked,
        Outcome::Extended,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Outcome::Issued => "issued",
            Outcome::HandedIn => "handed_in",
            Outcome::Declined => "declined",
            Outcome::Expired => "expired",
            Outcome::Revoked => "revoked",
            Outcome::Extended => "extended",
        }
    }
}

/// A priority decision, counted per month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Decision {
    Verified,
    Rejected,
}

/// The survey's two questions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Question {
    Process,
    Information,
}

/// A place reported and still open (or held by a live referral).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceFacts {
    pub district: DistrictId,
    pub kindergarten: KindergartenId,
    pub group: Option<GroupId>,
    pub reported_on: NaiveDate,
}

/// The places of one group reported on one day that are no longer open (filled or
/// withdrawn): they can no longer change, so they are kept as counts, not one by one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedPlaces {
    pub reported: u32,
    pub filled: u32,
    /// Their days open, summed: reported to filled or withdrawn.
    pub days_open: i64,
}

/// Closed places' key: district, the day reported, kindergarten, group.
pub type ClosedKey = (DistrictId, NaiveDate, KindergartenId, Option<GroupId>);

/// A histogram of days: how many values were each number of days.
pub type Days = BTreeMap<u32, u32>;

/// Saved as JSON at a clean close (`store`); maps as lists of pairs, JSON's keys being
/// strings only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reports {
    /// The undecided priority claims, by the instant claimed (the registration): the one
    /// fact of an application the waiting list does not hold (few applications claim;
    /// decided, the entry goes). The manual step's deadline counts from it.
    #[serde(with = "entries")]
    claimed: HashMap<ApplicationId, DateTime<Utc>>,
    /// The documents asked for on undecided claims (by request number), which pause and
    /// restart the manual step (`document_request::step_counts_from`). Only claims that
    /// had a request have an entry, so the claims without cost nothing more.
    #[serde(with = "entries")]
    asked: HashMap<ApplicationId, Vec<(u32, RequestTimes)>>,
    /// Whether an application had its first referral (its wait is counted once): one bit
    /// per registration number of each district, an eighth of a byte per application.
    #[serde(with = "entries")]
    referred: BTreeMap<DistrictId, Vec<u64>>,
    /// The places open now (or held by a live referral), one by one.
    #[serde(with = "entries")]
    pub places: BTreeMap<PlaceId, PlaceFacts>,
    /// The places no longer open, counted by the day reported and group.
    #[serde(with = "entries")]
    pub closed: BTreeMap<ClosedKey, ClosedPlaces>,
    /// Places filled, by district and the month filled.
    #[serde(with = "entries")]
    pub filled: BTreeMap<(DistrictId, Month), u32>,
    /// Waiting applications by district, birth year and tier.
    #[serde(with = "entries")]
    pub queue: BTreeMap<(DistrictId, i32, Tier), u32>,
    /// Waiting applications naming each kindergarten: first choice, any choice.
    #[serde(with = "entries")]
    pub by_kindergarten: BTreeMap<(DistrictId, KindergartenId), (u32, u32)>,
    /// Waiting applications that take any kindergarten of the district.
    #[serde(with = "entries")]
    pub any_kindergarten: BTreeMap<DistrictId, u32>,
    /// A district's waiting total as the last event of each week left it.
    #[serde(with = "entries")]
    pub weekly: BTreeMap<(DistrictId, WeekStart), u32>,
    /// Days from registration to the first referral, by the referral's month.
    #[serde(with = "entries")]
    pub waited: BTreeMap<(DistrictId, Tier, i32, Month), Days>,
    /// The registration days of the applications waiting now.
    #[serde(with = "entries")]
    pub waiting_since: BTreeMap<(DistrictId, Tier, i32), DayCounts>,
    #[serde(with = "entries")]
    pub outcomes: BTreeMap<(DistrictId, Month, Outcome), u32>,
    #[serde(with = "entries")]
    pub decisions: BTreeMap<(DistrictId, Month, Decision), u32>,
    /// Waiting applications' priority claims not yet decided, by the local day their
    /// manual step counts from (the registration, or the arrival of the last document
    /// asked for); `None` while a document asked for has not arrived (the step is paused).
    /// By day and not by instant, so the map stays small: the deadline depends on the day.
    #[serde(with = "entries")]
    pub claims: BTreeMap<(DistrictId, Option<NaiveDate>), u32>,
    #[serde(with = "entries")]
    pub survey: BTreeMap<(DistrictId, Month, Question, Satisfaction), u32>,
    /// Priority decisions per staff account (its name) and month: `credit`.
    #[serde(with = "entries")]
    pub decided_by: BTreeMap<(DistrictId, String, Month), u32>,
    /// Children enrolled in each group now (`None`: a place reported without a group).
    #[serde(with = "entries")]
    pub enrolled: BTreeMap<(KindergartenId, Option<GroupId>), u32>,
}

fn bump<K: Ord>(map: &mut BTreeMap<K, u32>, key: K, delta: i32) {
    use std::collections::btree_map::Entry;
    match map.entry(key) {
        Entry::Vacant(entry) => {
            let count = u32::try_from(delta).expect("an aggregate never goes below zero");
            entry.insert(count);
        }
        Entry::Occupied(mut entry) => {
            let count = entry.get_mut();
            *count = count
                .checked_add_signed(delta)
                .expect("an aggregate never goes below zero");
            // Zero entries are dropped, so that two folds of the same events compare equal
            // whatever order of ups and downs brought them there.
            if *count == 0 {
                entry.remove();
            }
        }
    }
}

/// What the reports read of an application in the state: its waiting-list entry (if it
/// waits) and the group it is enrolled in (if it is). Read before and after each event, so
/// that no fact of a waiting or enrolled application is kept twice.
#[derive(Clone, Debug)]
pub struct Share {
    id: ApplicationId,
    waiting: Option<Waiting>,
    enrolled: Option<(KindergartenId, Option<GroupId>)>,
}

impl Share {
    fn of(state: &QueueState, id: ApplicationId) -> Share {
        Share {
            id,
            waiting: state.waiting.get(id).cloned(),
            enrolled: state
                .enrolled
                .get(&id)
                .map(|place| (place.kindergarten, place.group)),
        }
    }
}

/// What `observe` needs of the state as it was before the event.
#[derive(Clone, Debug)]
pub struct Before {
    shares: Vec<Share>,
    /// The live referral the event ends or extends: its application, place and whether a
    /// transfer (the state forgets it once ended).
    referral: Option<(ApplicationId, PlaceId, bool)>,
}

impl Before {
    /// Reads, before `event` is applied, the applications it concerns (`touched`).
    pub fn read(state: &QueueState, event: &Event, touched: &[ApplicationId]) -> Before {
        let referral = match event {
            Event::ReferralHandedIn { id, .. } | Event::ReferralLapsed { id, .. } => {
                state.live.get(id).map(|live| {
                    let referral = &live.referral;
                    (referral.application, referral.place, referral.transfer)
                })
            }
            _ => None,
        };
        Before {
            shares: touched.iter().map(|id| Share::of(state, *id)).collect(),
            referral,
        }
    }
}

impl Reports {
    /// Folds one event, recorded at `at`, that `state` has just applied; `before` was read
    /// from the state before. Each concerned application's share of the counts is taken out
    /// as it was and put back as it is. Events the state refused never reach here.
    pub fn observe(
        &mut self,
        event: &Event,
        at: DateTime<Utc>,
        before: Before,
        state: &QueueState,
    ) {
        let today = local_date(at);
        for share in &before.shares {
            self.count(share, -1);
        }
        self.note(event, at, &before);
        for share in &before.shares {
            self.count(&Share::of(state, share.id), 1);
        }
        for district in week_marked(event, &before) {
            self.mark_week(district, today);
        }
    }

    /// The event's own facts: outcomes, decisions, places, claims, first referrals, survey.
    fn note(&mut self, event: &Event, at: DateTime<Utc>, before: &Before) {
        let today = local_date(at);
        let month = month_of(today);
        match event {
            Event::ApplicationRegistered(application)
            | Event::ApplicationImported { application, .. } => self.claim(application),
            Event::ApplicationMoved { from, to } => {
                // The requests stay with the old number (as the work list reads them).
                self.unclaim(*from);
                self.claim(to);
            }
            Event::ApplicationWithdrawn { id }
            | Event::ApplicationAgedOut { id, .. }
            | Event::ApplicationRefused { id, .. } => self.unclaim(*id),
            Event::DocumentRequested { id, request } => self.ask(*id, request.number, at),
            Event::DocumentReceived { id, request, .. } => self.receive(*id, *request, at),
            Event::PriorityVerified { id, .. } => self.decide(*id, Decision::Verified, month),
            Event::PriorityRejected { id, .. } => self.decide(*id, Decision::Rejected, month),
            Event::PlacesReported { places } => {
                for place in places {
                    self.places.insert(
                        place.id,
                        PlaceFacts {
                            district: place.district,
                            kindergarten: place.kindergarten,
                            group: place.group,
                            reported_on: local_date(place.reported_at),
                        },
                    );
                }
            }
            Event::PlaceWithdrawn { place, .. } => self.close_place(*place, today, false),
            Event::ReferralIssued { referral, .. } => {
                let id = referral.id;
                bump(&mut self.outcomes, (id.district, month, Outcome::Issued), 1);
                if !referral.transfer {
                    self.first_referral(referral.application, today, before);
                }
            }
            Event::ReferralExtended { id, .. } => bump(
                &mut self.outcomes,
                (id.district, month, Outcome::Extended),
                1,
            ),
            Event::ReferralHandedIn { id, .. } => {
                bump(
                    &mut self.outcomes,
                    (id.district, month, Outcome::HandedIn),
                    1,
                );
                if let Some((application, place, _)) = before.referral {
                    if self.places.contains_key(&place) {
                        self.close_place(place, today, true);
                        self.unclaim(application);
                    }
                }
            }
            Event::ReferralLapsed { id, lapse, .. } => {
                let outcome = match lapse {
                    Lapse::Declined => Outcome::Declined,
                    Lapse::Expired => Outcome::Expired,
                    Lapse::Revoked { .. } => Outcome::Revoked,
                };
                bump(&mut self.outcomes, (id.district, month, outcome), 1);
            }
            Event::SurveyAnswered {
                id,
                process,
                information,
            } => {
                for (question, answer) in [
                    (Question::Process, *process),
                    (Question::Information, *information),
                ] {
                    bump(&mut self.survey, (id.district, month, question, answer), 1);
                }
            }
            _ => {}
        }
    }

    /// Credits a priority decision to the staff account that made it. Apart from `observe`
    /// because the actor is the journal's, not the event's: the writer, the start-up fold
    /// and `verify` each call it with the event's recorded actor ("staff:<name>").
    pub fn credit(&mut self, actor: &str, event: &Event, at: DateTime<Utc>) {
        let (Event::PriorityVerified { id, .. } | Event::PriorityRejected { id, .. }) = event
        else {
            return;
        };
        if let Some(account) = actor.strip_prefix("staff:") {
            let month = month_of(local_date(at));
            bump(
                &mut self.decided_by,
                (id.district, account.to_string(), month),
                1,
            );
        }
    }

    /// A registration's undecided claim, counted while the application waits.
    fn claim(&mut self, application: &Application) {
        let claimed = application
            .priority
            .as_ref()
            .is_some_and(|claim| claim.status == super::application::ClaimStatus::Claimed);
        if claimed && application.status == ApplicationStatus::Queued {
            self.claimed
                .insert(application.id, application.registered_at);
        }
    }

    /// A claim decided, or its application gone: its manual step with it.
    fn unclaim(&mut self, id: ApplicationId) {
        self.claimed.remove(&id);
        self.asked.remove(&id);
    }

    /// A document asked for on an undecided claim (any other request moves no deadline).
    fn ask(&mut self, id: ApplicationId, number: u32, at: DateTime<Utc>) {
        if self.claimed.contains_key(&id) {
            let times = RequestTimes {
                requested_at: at,
                received_at: None,
            };
            self.asked.entry(id).or_default().push((number, times));
        }
    }

    /// The document asked for by request `number` arrived.
    fn receive(&mut self, id: ApplicationId, number: u32, at: DateTime<Utc>) {
        let request = self
            .asked
            .get_mut(&id)
            .and_then(|requests| requests.iter_mut().find(|(n, _)| *n == number));
        if let Some((_, times)) = request {
            times.received_at.get_or_insert(at);
        }
    }

    /// An undecided claim's key in `claims`: the local day its manual step counts from, or
    /// `None` while paused; `None` outside when the application has no undecided claim.
    fn step_day(&self, id: ApplicationId) -> Option<Option<NaiveDate>> {
        let registered_at = self.claimed.get(&id)?;
        let times: Vec<RequestTimes> = self
            .asked
            .get(&id)
            .map(|requests| requests.iter().map(|(_, times)| *times).collect())
            .unwrap_or_default();
        Some(step_counts_from(*registered_at, &times).map(local_date))
    }

    /// A place filled or withdrawn on `today`: from the open ones into the closed counts.
    fn close_place(&mut self, place: PlaceId, today: NaiveDate, filled: bool) {
        let Some(facts) = self.places.remove(&place) else {
            return;
        };
        let key = (
            facts.district,
            facts.reported_on,
            facts.kindergarten,
            facts.group,
        );
        let closed = self.closed.entry(key).or_default();
        closed.reported += 1;
        closed.days_open += (today - facts.reported_on).num_days().max(0);
        if filled {
            closed.filled += 1;
            bump(&mut self.filled, (facts.district, month_of(today)), 1);
        }
    }

    fn decide(&mut self, id: ApplicationId, decision: Decision, month: Month) {
        bump(&mut self.decisions, (id.district, month, decision), 1);
        self.unclaim(id);
    }

    /// Counts the wait up to an application's first referral, from its entry before it.
    fn first_referral(&mut self, id: ApplicationId, today: NaiveDate, before: &Before) {
        let bits = self.referred.entry(id.district).or_default();
        let (word, bit) = (id.number.0 as usize / 64, id.number.0 % 64);
        if bits.len() <= word {
            bits.resize(word + 1, 0);
        }
        if bits[word] & 1 << bit != 0 {
            return;
        }
        bits[word] |= 1 << bit;
        let waited = before
            .shares
            .iter()
            .find(|share| share.id == id)
            .and_then(|share| share.waiting.as_ref());
        if let Some(waiting) = waited {
            let days = (today - registered_on(waiting)).num_days().max(0) as u32;
            let key = (
                id.district,
                waiting.key.tier,
                waiting.cohort(),
                month_of(today),
            );
            *self.waited.entry(key).or_default().entry(days).or_insert(0) += 1;
        }
    }

    /// Adds (`delta` 1) or removes (-1) an application's share of the counts.
    fn count(&mut self, share: &Share, delta: i32) {
        if let Some(group) = share.enrolled {
            bump(&mut self.enrolled, group, delta);
        }
        let Some(waiting) = &share.waiting else {
            return;
        };
        let district = share.id.district;
        let (tier, year) = (waiting.key.tier, waiting.cohort());
        bump(&mut self.queue, (district, year, tier), delta);
        let since = self
            .waiting_since
            .entry((district, tier, year))
            .or_default();
        since.bump(registered_on(waiting), delta);
        if since.is_empty() {
            self.waiting_since.remove(&(district, tier, year));
        }
        if let Some(day) = self.step_day(share.id) {
            bump(&mut self.claims, (district, day), delta);
        }
        if waiting.choices.is_any() {
            bump(&mut self.any_kindergarten, district, delta);
        }
        for (rank, kindergarten) in waiting.choices.listed().iter().enumerate() {
            let entry = self
                .by_kindergarten
                .entry((district, *kindergarten))
                .or_default();
            if rank == 0 {
                entry.0 = entry.0.checked_add_signed(delta).expect("never below zero");
            }
            entry.1 = entry.1.checked_add_signed(delta).expect("never below zero");
            if *entry == (0, 0) {
                self.by_kindergarten.remove(&(district, *kindergarten));
            }
        }
    }

    fn mark_week(&mut self, district: DistrictId, today: NaiveDate) {
        let total = self
            .queue
            .range((district, i32::MIN, Tier::OutOfTurn)..=(district, i32::MAX, Tier::General))
            .map(|(_, count)| *count)
            .sum();
        self.weekly.insert((district, week_of(today)), total);
    }
}

/// The local day an entry was registered on (its key keeps the instant).
fn registered_on(waiting: &Waiting) -> NaiveDate {
    let at = DateTime::from_timestamp_micros(waiting.key.registered_at_micros)
        .expect("a queue key's instant is a valid time");
    local_date(at)
}

/// The districts whose weekly total an event marks: those of the applications whose
/// waiting it may change (a referral to an enrolled child, a transfer, changes none).
fn week_marked(event: &Event, before: &Before) -> Vec<DistrictId> {
    let mut districts: Vec<DistrictId> = match event {
        Event::ApplicationRegistered(_)
        | Event::ApplicationImported { .. }
        | Event::ApplicationMoved { .. }
        | Event::ApplicationWithdrawn { .. }
        | Event::ApplicationAgedOut { .. }
        | Event::ApplicationRefused { .. }
        | Event::PriorityVerified { .. }
        | Event::PriorityRejected { .. }
        | Event::ApplicationAmended { .. } => before
            .shares
            .iter()
            .map(|share| share.id.district)
            .collect(),
        Event::ReferralIssued { referral, .. } if !referral.transfer => {
            vec![referral.application.district]
        }
        Event::ReferralLapsed { .. } => match before.referral {
            Some((application, _, false)) => vec![application.district],
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    districts.dedup();
    districts
}

/// The value at rank `ceil(q * n)` (nearest rank) of a histogram of `n` values.
pub fn percentile(days: &Days, q: f64) -> Option<u32> {
    let n: u64 = days.values().map(|c| u64::from(*c)).sum();
    if n == 0 {
        return None;
    }
    let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
    let mut seen = 0u64;
    for (value, count) in days {
        seen += u64::from(*count);
        if seen >= rank {
            return Some(*value);
        }
    }
    None
}

/// A map as a list of `(key, value)` pairs, for keys JSON cannot have (tuples, structs).
/// How many waiting applications were registered on each day, dense from the earliest such
/// day to the latest: 4 B a day, where a map of days took about 10 B an entry, which kept the
/// aggregates within issue 12's 256 B per application at a million (docs/PERFORMANCE.md).
/// Canonical (never a zero at either end, `first` absent when empty), so two folds of the
/// same events compare equal whatever order of ups and downs brought them there.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCounts {
    first: Option<NaiveDate>,
    counts: Vec<u32>,
}

impl DayCounts {
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Adds `delta` (1 or -1) to `day`'s count.
    pub fn bump(&mut self, day: NaiveDate, delta: i32) {
        let first = *self.first.get_or_insert(day);
        if day < first {
            let gap = (first - day).num_days() as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, gap));
            self.first = Some(day);
        }
        let index = (day - self.first.expect("set above")).num_days() as usize;
        if index >= self.counts.len() {
            // Exact: a day is added once, and the vector is the aggregate's whole cost.
            self.counts.reserve_exact(index + 1 - self.counts.len());
            self.counts.resize(index + 1, 0);
        }
        let count = &mut self.counts[index];
        *count = count
            .checked_add_signed(delta)
            .expect("an aggregate never goes below zero");
        self.trim();
    }

    fn trim(&mut self) {
        while self.counts.last() == Some(&0) {
            self.counts.pop();
        }
        let leading = self.counts.iter().take_while(|count| **count == 0).count();
        if leading > 0 {
            self.counts.drain(..leading);
            self.first = self
                .first
                .map(|first| first + chrono::Duration::days(leading as i64));
        }
        if self.counts.is_empty() {
            *self = DayCounts::default();
        }
    }

    /// Each day with its count, the days without any left out.
    pub fn iter(&self) -> impl Iterator<Item = (NaiveDate, u32)> + '_ {
        let first = self.first;
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .filter_map(move |(i, count)| Some((first? + chrono::Duration::days(i as i64), *count)))
    }
}

mod entries {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<'a, M, K, V, S>(map: &'a M, serializer: S) -> Result<S::Ok, S::Error>
    where
        &'a M: IntoIterator<Item = (&'a K, &'a V)>,
        K: Serialize + 'a,
        V: Serialize + 'a,
        S: Serializer,
    {
        serializer.collect_seq(map)
    }

    pub fn deserialize<'de, M, K, V, D>(deserializer: D) -> Result<M, D::Error>
    where
        M: FromIterator<(K, V)>,
        K: Deserialize<'de>,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(deserializer)?
            .into_iter()
            .collect())
    }
}

pub mod public;
pub mod tables;

#[cfg(test)]
mod day_counts_tests {
    use super::DayCounts;
    use chrono::NaiveDate;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    /// The same counts reached in another order of ups and downs are the same value, days
    /// before the first are taken in, and emptied it is the empty value.
    #[test]
    fn counts_are_canonical_whatever_the_order() {
        let mut a = DayCounts::default();
        for (d, delta) in [
            (10, 1),
            (12, 1),
            (4, 1),
            (12, 1),
            (4, -1),
            (20, 1),
            (20, -1),
        ] {
            a.bump(day(d), delta);
        }
        let mut b = DayCounts::default();
        for (d, delta) in [(12, 1), (12, 1), (10, 1)] {
            b.bump(day(d), delta);
        }
        assert_eq!(a, b);
        assert_eq!(a.iter().collect::<Vec<_>>(), [(day(10), 1), (day(12), 2)]);
        for (d, delta) in [(10, -1), (12, -1), (12, -1)] {
            a.bump(day(d), delta);
        }
        assert!(a.is_empty());
        assert_eq!(a, DayCounts::default());
    }
}
