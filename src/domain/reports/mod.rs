//! The reports' aggregates (issue 17): counts kept as events are applied, so that a report
//! is read from a few small maps and never from the journal.
//!
//! `Reports::observe` is a fold of `(event, recorded_at)` that keeps what it needs of each
//! application, referral and place itself, and nothing personal (no IIN, no name): the
//! district, birth year, tier, choices and dates. `QueueState::apply_tracked` feeds it, so
//! the writer, the replay and `verify` fold the same way; start-up, which rebuilds the rest
//! of the state from the tables, folds the journal once (`store::read::load_reports`).
//! Months and weeks are those of the local date (`local_date`) of the event's time.

use super::application::{Application, ApplicationId, ApplicationStatus, Choices, Satisfaction};
use super::catalog::{DistrictId, GroupId, KindergartenId, Tier};
use super::event::Event;
use super::local_date;
use super::referral::{Lapse, PlaceId, ReferralId};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Decision {
    Verified,
    Rejected,
}

/// The survey's two questions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Question {
    Process,
    Information,
}

/// What the aggregates keep of an application.
#[derive(Clone, Debug, PartialEq, Eq)]
struct AppFacts {
    birth_year: i32,
    tier: Tier,
    registered_on: NaiveDate,
    /// Empty: any kindergarten of the district.
    choices: Vec<KindergartenId>,
    waiting: bool,
    /// A first referral was issued (the wait is counted once, up to it).
    referred: bool,
    /// The priority claim waiting for an officer, since this day.
    claim_since: Option<NaiveDate>,
    /// The group the child is enrolled in (through a handed-in referral).
    enrolled_in: Option<(KindergartenId, Option<GroupId>)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct ReferralFacts {
    application: ApplicationId,
    place: PlaceId,
    transfer: bool,
}

/// A place as reported, and when it stopped being open (filled or withdrawn).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaceFacts {
    pub district: DistrictId,
    pub kindergarten: KindergartenId,
    pub group: Option<GroupId>,
    pub reported_on: NaiveDate,
    pub filled_on: Option<NaiveDate>,
    pub withdrawn_on: Option<NaiveDate>,
}

/// A histogram of days: how many values were each number of days.
pub type Days = BTreeMap<u32, u32>;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reports {
    apps: HashMap<ApplicationId, AppFacts>,
    referrals: HashMap<ReferralId, ReferralFacts>,
    pub places: BTreeMap<PlaceId, PlaceFacts>,
    /// Waiting applications by district, birth year and tier.
    pub queue: BTreeMap<(DistrictId, i32, Tier), u32>,
    /// Waiting applications naming each kindergarten: first choice, any choice.
    pub by_kindergarten: BTreeMap<(DistrictId, KindergartenId), (u32, u32)>,
    /// Waiting applications that take any kindergarten of the district.
    pub any_kindergarten: BTreeMap<DistrictId, u32>,
    /// A district's waiting total as the last event of each week left it.
    pub weekly: BTreeMap<(DistrictId, WeekStart), u32>,
    /// Days from registration to the first referral, by the referral's month.
    pub waited: BTreeMap<(DistrictId, Tier, i32, Month), Days>,
    /// The registration days of the applications waiting now.
    pub waiting_since: BTreeMap<(DistrictId, Tier, i32), BTreeMap<NaiveDate, u32>>,
    pub outcomes: BTreeMap<(DistrictId, Month, Outcome), u32>,
    pub decisions: BTreeMap<(DistrictId, Month, Decision), u32>,
    /// Waiting applications' priority claims not yet decided, by the day claimed.
    pub claims: BTreeMap<(DistrictId, NaiveDate), u32>,
    pub survey: BTreeMap<(DistrictId, Month, Question, Satisfaction), u32>,
    /// Priority decisions per staff account (its name) and month: `credit`.
    pub decided_by: BTreeMap<(DistrictId, String, Month), u32>,
    /// Children enrolled in each group now (`None`: a place reported without a group).
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

impl Reports {
    /// Folds one event, recorded at `at`. Events the state refused never reach here.
    pub fn observe(&mut self, event: &Event, at: DateTime<Utc>) {
        let today = local_date(at);
        let month = month_of(today);
        match event {
            Event::ApplicationRegistered(application)
            | Event::ApplicationImported { application, .. } => self.register(application, today),
            Event::ApplicationMoved { from, to } => {
                self.leave(*from, today);
                self.register(to, today);
            }
            Event::ApplicationWithdrawn { id }
            | Event::ApplicationAgedOut { id, .. }
            | Event::ApplicationRefused { id, .. } => self.leave(*id, today),
            Event::PriorityVerified { id, tier } => {
                self.decide(*id, *tier, Decision::Verified, today)
            }
            Event::PriorityRejected { id, .. } => {
                self.decide(*id, Tier::General, Decision::Rejected, today)
            }
            Event::ApplicationAmended { id, amendment } => self.change(*id, today, |facts| {
                facts.choices = listed(&amendment.choices);
            }),
            Event::PlacesReported { places } => {
                for place in places {
                    self.places.insert(
                        place.id,
                        PlaceFacts {
                            district: place.district,
                            kindergarten: place.kindergarten,
                            group: place.group,
                            reported_on: local_date(place.reported_at),
                            filled_on: None,
                            withdrawn_on: None,
                        },
                    );
                }
            }
            Event::PlaceWithdrawn { place, .. } => {
                if let Some(facts) = self.places.get_mut(place) {
                    facts.withdrawn_on = Some(today);
                }
            }
            Event::ReferralIssued { referral, .. } => {
                self.referrals.insert(
                    referral.id,
                    ReferralFacts {
                        application: referral.application,
                        place: referral.place,
                        transfer: referral.transfer,
                    },
                );
                bump(
                    &mut self.outcomes,
                    (referral.id.district, month, Outcome::Issued),
                    1,
                );
                if !referral.transfer {
                    self.issue(referral.application, today, month);
                }
            }
            Event::ReferralExtended { id, .. } => bump(
                &mut self.outcomes,
                (id.district, month, Outcome::Extended),
                1,
            ),
            Event::ReferralHandedIn { id, .. } => self.hand_in(*id, today, month),
            Event::ReferralLapsed { id, lapse, .. } => self.lapse(*id, lapse, today, month),
            Event::ChildLeft { id, .. } => {
                if let Some(group) = self.apps.get_mut(id).and_then(|f| f.enrolled_in.take()) {
                    bump(&mut self.enrolled, group, -1);
                }
            }
            Event::SurveyAnswered {
                id,
                process,
                information,
            } => {
                bump(
                    &mut self.survey,
                    (id.district, month, Question::Process, *process),
                    1,
                );
                bump(
                    &mut self.survey,
                    (id.district, month, Question::Information, *information),
                    1,
                );
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

    fn register(&mut self, application: &Application, today: NaiveDate) {
        let waiting = application.status == ApplicationStatus::Queued;
        let claimed = application
            .priority
            .as_ref()
            .is_some_and(|claim| claim.status == super::application::ClaimStatus::Claimed);
        let registered_on = local_date(application.registered_at);
        let facts = AppFacts {
            birth_year: application.child.birth_date.year(),
            tier: application.tier,
            registered_on,
            choices: listed(&application.choices),
            waiting,
            referred: false,
            claim_since: (claimed && waiting).then_some(registered_on),
            enrolled_in: None,
        };
        let district = application.id.district;
        self.count(district, &facts, 1);
        self.apps.insert(application.id, facts);
        self.mark_week(district, today);
    }

    /// Applies `change` to an application's facts, moving its counts with it.
    fn change(&mut self, id: ApplicationId, today: NaiveDate, change: impl FnOnce(&mut AppFacts)) {
        let Some(mut facts) = self.apps.remove(&id) else {
            return;
        };
        self.count(id.district, &facts, -1);
        change(&mut facts);
        self.count(id.district, &facts, 1);
        self.apps.insert(id, facts);
        self.mark_week(id.district, today);
    }

    fn leave(&mut self, id: ApplicationId, today: NaiveDate) {
        self.change(id, today, |facts| {
            facts.waiting = false;
            facts.claim_since = None;
        });
    }

    fn decide(&mut self, id: ApplicationId, tier: Tier, decision: Decision, today: NaiveDate) {
        bump(
            &mut self.decisions,
            (id.district, month_of(today), decision),
            1,
        );
        // The state changes the tier of a waiting application only.
        self.change(id, today, |facts| {
            facts.claim_since = None;
            if facts.waiting {
                facts.tier = tier;
            }
        });
    }

    fn issue(&mut self, id: ApplicationId, today: NaiveDate, month: Month) {
        let Some(facts) = self.apps.get(&id) else {
            return;
        };
        if !facts.referred {
            let days = (today - facts.registered_on).num_days().max(0) as u32;
            let key = (id.district, facts.tier, facts.birth_year, month);
            *self.waited.entry(key).or_default().entry(days).or_insert(0) += 1;
        }
        self.change(id, today, |facts| {
            facts.waiting = false;
            facts.referred = true;
        });
    }

    fn hand_in(&mut self, id: ReferralId, today: NaiveDate, month: Month) {
        bump(
            &mut self.outcomes,
            (id.district, month, Outcome::HandedIn),
            1,
        );
        let Some(referral) = self.referrals.get(&id).cloned() else {
            return;
        };
        let Some(place) = self.places.get_mut(&referral.place) else {
            return;
        };
        place.filled_on = Some(today);
        let group = (place.kindergarten, place.group);
        if let Some(facts) = self.apps.get_mut(&referral.application) {
            if let Some(old) = facts.enrolled_in.replace(group) {
                bump(&mut self.enrolled, old, -1);
            }
            facts.claim_since = None;
            bump(&mut self.enrolled, group, 1);
        }
    }

    fn lapse(&mut self, id: ReferralId, lapse: &Lapse, today: NaiveDate, month: Month) {
        let outcome = match lapse {
            Lapse::Declined => Outcome::Declined,
            Lapse::Expired => Outcome::Expired,
            Lapse::Revoked { .. } => Outcome::Revoked,
        };
        bump(&mut self.outcomes, (id.district, month, outcome), 1);
        let Some(referral) = self.referrals.get(&id).cloned() else {
            return;
        };
        if referral.transfer {
            return;
        }
        let unconfirmed = matches!(
            lapse,
            Lapse::Revoked {
                priority_unconfirmed: true,
                ..
            }
        );
        self.change(referral.application, today, |facts| {
            facts.waiting = true;
            if unconfirmed {
                facts.tier = Tier::General;
            }
        });
    }

    /// Adds (`delta` 1) or removes (-1) a waiting application's share of the counts.
    fn count(&mut self, district: DistrictId, facts: &AppFacts, delta: i32) {
        if !facts.waiting {
            return;
        }
        bump(
            &mut self.queue,
            (district, facts.birth_year, facts.tier),
            delta,
        );
        let since = self
            .waiting_since
            .entry((district, facts.tier, facts.birth_year))
            .or_default();
        bump(since, facts.registered_on, delta);
        if since.is_empty() {
            self.waiting_since
                .remove(&(district, facts.tier, facts.birth_year));
        }
        if let Some(day) = facts.claim_since {
            bump(&mut self.claims, (district, day), delta);
        }
        if facts.choices.is_empty() {
            bump(&mut self.any_kindergarten, district, delta);
        }
        for (rank, kindergarten) in facts.choices.iter().enumerate() {
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

fn listed(choices: &Choices) -> Vec<KindergartenId> {
    match choices {
        Choices::Any => Vec::new(),
        Choices::Listed(list) => list.clone(),
    }
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

pub mod public;
pub mod tables;
