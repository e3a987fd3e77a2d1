//! `kezek simulate`: a city-year of the waiting list, driven through the real [`Service`]
//! on a manual clock, then audited for fairness by a model that shares no allocation code
//! with the service.
//!
//! The city (districts, kindergartens, school-year groups, the 1 : 3 interleave on in some
//! districts and off in others) is created through the catalog commands. A backlog of
//! registrations builds up from September 2025, a week at a time; the city-year is 2027,
//! walked day by day:
//! each morning the clock moves and the due deadlines are processed (expiries, ends of stop
//! lists, children aging out), parents register, officers verify or reject priority claims,
//! some parents withdraw, kindergartens report free places (a trickle all year and the
//! intake for 1 September reported in August), and parents answer referrals: most hand
//! them in, some decline, some ask for the extension, some never come (the referral
//! expires). The service is restarted once, mid-year. Every command is one the API sends.
//!
//! Determinism: every choice comes from generators seeded by `--seed`, commands go to the
//! writer in a fixed order, and the clock is moved without waking the timer, which this
//! driver replaces by ticking itself after every move. The timer can still tick on its own
//! when a batch changes the deadlines, but then finds nothing due, so the journal (but for
//! access-code hashes) and every figure but wall-clock throughput repeat for a seed.

mod audit;
mod city;
pub mod compare;
mod report;

pub use audit::{Audit, AuditError, AuditFigures, ChoiceFigures, DistrictEnvy, EnvyFigures};
pub use city::district_count;
pub use report::{DistrictSummary, Figures, Simulation, Throughput, TierWait};

use crate::clock::ManualClock;
use crate::domain::application::{ApplicationId, Channel, RegistrationForm};
use crate::domain::calendar::WorkCalendar;
use crate::domain::catalog::{AgeBand, KindergartenId};
use crate::domain::event::Actor;
use crate::domain::local_offset;
use crate::domain::referral::ReferralId;
use crate::service::{Command, CommandError, NewPlaces, Outcome, Service, StartError};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use city::{ClaimDecision, Families, Registered, SimDistrict};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The first day of the backlog: registrations only, no places yet.
const BACKLOG_FROM: (i32, u32, u32) = (2025, 9, 1);
/// The city-year: places are reported and referrals issued from its first day.
const YEAR: i32 = 2027;
/// The share of the registrations made before the city-year.
const BACKLOG_SHARE: f64 = 0.35;
/// Free places in the year, per registration.
const PLACES_PER_REGISTRATION: f64 = 0.5;
/// The share of the year's places that is the 1 September intake, reported in August.
const INTAKE_SHARE: f64 = 0.65;
/// The day the service is stopped and started again (before the morning's registrations).
const RESTART_ON: (u32, u32) = (7, 1);
/// The share of registrations followed by a second form for the same child (refused).
const DUPLICATE_SHARE: f64 = 0.003;
/// The share of registrations that are twins, registered together as a family; half of
/// them take places only together.
const TWINS_SHARE: f64 = 0.02;
/// The share of applications amended once while waiting (new kindergartens, or a phone).
const AMEND_SHARE: f64 = 0.08;
/// The share of applications whose family moves to another district while waiting.
const MOVE_SHARE: f64 = 0.01;
/// The share of enrolled children whose family later asks for a transfer.
const TRANSFER_SHARE: f64 = 0.05;
/// The share of applications withdrawn by the parent some time after registering.
const WITHDRAWAL_SHARE: f64 = 0.05;

#[derive(Clone, Debug)]
pub struct SimulateOptions {
    pub seed: u64,
    pub registrations: usize,
    pub kindergartens: usize,
}

impl Default for SimulateOptions {
    fn default() -> Self {
        SimulateOptions {
            seed: 42,
            registrations: 30_000,
            kindergartens: 400,
        }
    }
}

/// A policy the city-year runs under, for `kezek simulate --compare` (issue 18): the places
/// for 1 September allocated by an intake round per district or place by place, the 1 : 3
/// cycle as the city has it (some districts) or on or off everywhere, and the twins'
/// together choice as drawn or off for every family.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimPolicy {
    pub round: bool,
    pub interleave: Option<bool>,
    pub together_off: bool,
}

impl SimPolicy {
    /// The columns `--compare` runs, each with its name.
    pub fn compared() -> Vec<(&'static str, SimPolicy)> {
        SimPolicy::keyed()
            .into_iter()
            .map(|(_, name, policy)| (name, policy))
            .collect()
    }

    /// The columns with the stable key `--policies` and the what-if page name them by.
    pub fn keyed() -> Vec<(&'static str, &'static str, SimPolicy)> {
        let round = SimPolicy {
            round: true,
            ..SimPolicy::default()
        };
        vec![
            ("place_by_place", "place by place", SimPolicy::default()),
            ("round", "round", round),
            (
                "round_1_3_off",
                "round, 1:3 off",
                SimPolicy {
                    interleave: Some(false),
                    ..round
                },
            ),
            (
                "round_1_3_on",
                "round, 1:3 on",
                SimPolicy {
                    interleave: Some(true),
                    ..round
                },
            ),
            (
                "round_together_off",
                "round, together off",
                SimPolicy {
                    together_off: true,
                    ..round
                },
            ),
        ]
    }

    /// The columns named by `keys`, in the order of `compared`; `Err` with the first key
    /// that names none.
    pub fn by_keys<'k>(keys: &[&'k str]) -> Result<Vec<(&'static str, SimPolicy)>, &'k str> {
        let known = SimPolicy::keyed();
        if let Some(unknown) = keys
            .iter()
            .find(|k| !known.iter().any(|(key, ..)| key == *k))
        {
            return Err(unknown);
        }
        Ok(known
            .into_iter()
            .filter(|(key, ..)| keys.contains(key))
            .map(|(_, name, policy)| (name, policy))
            .collect())
    }
}

/// The intake round of each district in a `SimPolicy::round` run: opened on 1 August, for
/// the places of 1 September, closing at 20:00 on 31 August (local).
fn round_opens() -> NaiveDate {
    day((YEAR, 8, 1))
}

fn intake_date() -> NaiveDate {
    day((YEAR, 9, 1))
}

#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("simulate writes a new database, and {0} exists")]
    DatabaseExists(PathBuf),
    #[error("a city needs at least {0} kindergartens, one per district")]
    TooFewKindergartens(usize),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("a command failed: {0}")]
    Command(#[from] CommandError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the audit stopped: {0}")]
    Audit(#[from] AuditError),
}

/// Runs the city-year on a new database at `db`; `progress` hears of each simulated day.
pub fn run(
    db: &Path,
    options: &SimulateOptions,
    progress: impl FnMut(NaiveDate),
) -> Result<Simulation, SimulateError> {
    run_with(db, options, SimPolicy::default(), progress)
}

/// `run` under `policy`.
pub fn run_with(
    db: &Path,
    options: &SimulateOptions,
    policy: SimPolicy,
    mut progress: impl FnMut(NaiveDate),
) -> Result<Simulation, SimulateError> {
    if db.exists() {
        return Err(SimulateError::DatabaseExists(db.to_path_buf()));
    }
    let districts_count = city::district_count();
    if options.kindergartens < districts_count {
        return Err(SimulateError::TooFewKindergartens(districts_count));
    }
    let first_day = day(BACKLOG_FROM);
    let clock = ManualClock::new(local_instant(first_day, 8));
    let started = Instant::now();
    let service = Service::start(db, Arc::new(clock.clone()))?;
    let mut rng = SmallRng::seed_from_u64(options.seed);
    let (districts, catalog_commands) =
        city::build(&service, options.kindergartens, policy.interleave, &mut rng)?;
    let mut driver = Driver {
        service: Some(service),
        clock,
        path: db.to_path_buf(),
        families: Families::new(options.seed ^ 0xfa01_11e5),
        rng,
        districts,
        plans: BTreeMap::new(),
        known_referrals: HashSet::new(),
        referred: std::collections::HashMap::new(),
        registered: Vec::new(),
        policy,
        commands: CommandCounts {
            submitted: catalog_commands,
            ..CommandCounts::default()
        },
    };
    let schedule = Schedule::new(options.registrations);
    for (today, quota) in &schedule.days {
        driver.live_one_day(*today, quota)?;
        progress(*today);
    }
    let last_day = crate::domain::local_date(crate::clock::Clock::now(&driver.clock));
    let invariants = driver.service().read().check_invariants(last_day);
    let summaries = driver.district_summaries();
    let commands = std::mem::take(&mut driver.commands);
    driver.stop();
    let driving = started.elapsed();
    let audit_started = Instant::now();
    let audit = audit_journal(db)?;
    let verify = crate::verify::verify(db)
        .map(|report| report.events)
        .map_err(|failure| failure.to_string());
    let throughput = Throughput {
        wall: driving,
        commands: commands.submitted,
        events: audit.events,
        audit_and_verify: audit_started.elapsed(),
    };
    let figures = Figures {
        seed: options.seed,
        registrations_planned: options.registrations,
        first_day,
        last_day: schedule.last_day(),
        districts: summaries,
        commands_submitted: commands.submitted,
        commands_refused: commands.refused,
        actions_moot: commands.moot,
        audit,
        invariants,
        verify,
    };
    Ok(Simulation {
        figures,
        throughput,
    })
}

/// How many days a run visits, the backlog's Mondays included (for a progress bar).
pub fn days_simulated() -> u64 {
    Schedule::new(0).days.len() as u64
}

/// Reads the journal from the first event and feeds it to the audit.
pub fn audit_journal(db: &Path) -> Result<AuditFigures, SimulateError> {
    let conn = Store::open_reader(db)?;
    let mut audit = Audit::new();
    let mut stopped = None;
    crate::store::for_each_event(&conn, |recorded| {
        let event = recorded
            .event()
            .map_err(|error| StoreError::corrupt("events", recorded.seq, error))?;
        match audit.observe(&event, recorded.recorded_at) {
            Ok(()) => Ok(true),
            Err(error) => {
                stopped = Some(error);
                Ok(false)
            }
        }
    })?;
    match stopped {
        Some(error) => Err(error.into()),
        None => Ok(audit.finish()),
    }
}

fn day((year, month, day): (i32, u32, u32)) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("a real date")
}

/// `hour` o'clock on `day`, local time.
fn local_instant(day: NaiveDate, hour: u32) -> DateTime<Utc> {
    day.and_hms_opt(hour, 0, 0)
        .expect("a real hour")
        .and_local_timezone(local_offset())
        .single()
        .expect("a fixed offset has one reading")
        .to_utc()
}

/// What is due on each day of the run: registrations, trickle places and intake places.
struct Schedule {
    days: Vec<(NaiveDate, DayQuota)>,
}

#[derive(Clone, Copy, Debug, Default)]
struct DayQuota {
    registrations: usize,
    trickle_places: usize,
    intake_places: usize,
}

impl Schedule {
    fn new(registrations: usize) -> Schedule {
        let calendar = WorkCalendar::shipped();
        let year_start = day((YEAR, 1, 1));
        // The backlog only registers, so it is visited once a week (Mondays); every day of
        // the city-year is visited.
        let all_days: Vec<NaiveDate> = day(BACKLOG_FROM)
            .iter_days()
            .take_while(|d| d.year() <= YEAR)
            .filter(|d| d.year() == YEAR || d.weekday() == chrono::Weekday::Mon)
            .collect();
        // Parents register on the portal at weekends too, less often.
        let registration_weight = |d: &NaiveDate| {
            if calendar.is_working_day(*d) {
                1.0
            } else {
                0.4
            }
        };
        let backlog = (registrations as f64 * BACKLOG_SHARE).round() as usize;
        let (before, during): (Vec<_>, Vec<_>) = all_days.iter().partition(|d| **d < year_start);
        let mut registered = spread(backlog, &before, registration_weight);
        registered.extend(spread(
            registrations - backlog,
            &during,
            registration_weight,
        ));
        let places = registrations as f64 * PLACES_PER_REGISTRATION;
        let intake_total = (places * INTAKE_SHARE).round() as usize;
        let trickle_total = (places - intake_total as f64).round() as usize;
        let working = |d: &NaiveDate| {
            if calendar.is_working_day(*d) {
                1.0
            } else {
                0.0
            }
        };
        let trickle = spread(trickle_total, &during, working);
        let in_intake_window = |d: &NaiveDate| {
            working(d) * f64::from(u8::from(d.month() == 8 && (2..=27).contains(&d.day())))
        };
        let intake = spread(intake_total, &during, in_intake_window);
        let days = all_days
            .iter()
            .map(|d| {
                let quota = DayQuota {
                    registrations: registered.get(d).copied().unwrap_or(0),
                    trickle_places: trickle.get(d).copied().unwrap_or(0),
                    intake_places: intake.get(d).copied().unwrap_or(0),
                };
                (*d, quota)
            })
            .collect();
        Schedule { days }
    }

    fn last_day(&self) -> NaiveDate {
        self.days.last().expect("the run has days").0
    }
}

/// Shares `total` over `days` in proportion to their weights, in whole units, exactly.
fn spread(
    total: usize,
    days: &[&NaiveDate],
    weight: impl Fn(&NaiveDate) -> f64,
) -> BTreeMap<NaiveDate, usize> {
    let sum: f64 = days.iter().map(|d| weight(d)).sum();
    let mut shares = BTreeMap::new();
    if sum <= 0.0 {
        return shares;
    }
    let (mut cumulative, mut given) = (0.0, 0);
    for d in days {
        cumulative += weight(d);
        let until = ((total as f64 * cumulative / sum).round() as usize).min(total);
        shares.insert(**d, until - given);
        given = until;
    }
    shares
}

/// When in the day an action is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// 11:00: officers decide priority claims; parents withdraw.
    Office,
    /// 16:00: parents answer referrals, kindergartens take them in.
    Parents,
}

#[derive(Clone, Copy, Debug)]
enum Action {
    Decide {
        id: ApplicationId,
        verify: bool,
    },
    Withdraw {
        id: ApplicationId,
    },
    HandIn {
        referral: ReferralId,
        kindergarten: KindergartenId,
    },
    Decline {
        referral: ReferralId,
    },
    Extend {
        referral: ReferralId,
    },
    /// `draw`: the seed's random draw for the choices made when it is due (kindergartens,
    /// district, phone), taken when it was planned so that the seed decides them.
    Amend {
        id: ApplicationId,
        draw: u64,
    },
    Move {
        id: ApplicationId,
        draw: u64,
    },
    Transfer {
        referral: ReferralId,
        draw: u64,
    },
}

#[derive(Debug, Default)]
struct CommandCounts {
    submitted: u64,
    /// Refusals and conflicts by their code or text; only the planned duplicates should be.
    refused: BTreeMap<String, u64>,
    /// Planned actions dropped because they no longer applied (a claim left undecided
    /// because the child already held a referral, a withdrawal after enrolment, ...).
    moot: u64,
}

struct Driver {
    // An Option only so that the service can be stopped and started again mid-run.
    service: Option<Service>,
    clock: ManualClock,
    path: PathBuf,
    families: Families,
    rng: SmallRng,
    districts: Vec<SimDistrict>,
    plans: BTreeMap<(NaiveDate, Phase), Vec<Action>>,
    known_referrals: HashSet<ReferralId>,
    /// The application each known referral was issued to.
    referred: std::collections::HashMap<ReferralId, ApplicationId>,
    registered: Vec<Registered>,
    policy: SimPolicy,
    commands: CommandCounts,
}

impl Driver {
    fn service(&self) -> &Service {
        self.service.as_ref().expect("the service runs")
    }

    fn live_one_day(&mut self, today: NaiveDate, quota: &DayQuota) -> Result<(), SimulateError> {
        self.move_clock(today, 9)?;
        if (today.year(), today.month(), today.day()) == (YEAR, RESTART_ON.0, RESTART_ON.1) {
            self.restart()?;
        }
        self.register(today, quota.registrations)?;
        if self.policy.round && today == round_opens() {
            self.open_rounds()?;
        }
        // The clock moves only to a phase with something to do: a quiet afternoon would
        // cost a transaction and change nothing (deadlines keep until the next move).
        if !self.due(today, Phase::Office).is_empty() {
            self.move_clock(today, 11)?;
            self.act(today, Phase::Office)?;
        }
        if quota.trickle_places + quota.intake_places > 0 {
            self.move_clock(today, 13)?;
            self.report_places(today, quota)?;
        }
        if !self.due(today, Phase::Parents).is_empty() {
            self.move_clock(today, 16)?;
            self.act(today, Phase::Parents)?;
        }
        Ok(())
    }

    /// Moves the clock and processes what fell due, before anything else happens then.
    fn move_clock(&mut self, today: NaiveDate, hour: u32) -> Result<(), SimulateError> {
        self.clock.set_without_waking(local_instant(today, hour));
        self.commands.submitted += 1;
        self.service().tick_blocking()?;
        self.discover_referrals(today);
        Ok(())
    }

    fn restart(&mut self) -> Result<(), SimulateError> {
        self.stop();
        let clock = Arc::new(self.clock.clone());
        self.service = Some(Service::start(&self.path, clock)?);
        Ok(())
    }

    fn stop(&mut self) {
        if let Some(service) = self.service.take() {
            service.shutdown();
        }
    }

    /// Sends the commands as one run (the writer batches them) and counts the answers;
    /// a refusal or conflict is counted, anything else stops the simulation.
    fn submit(
        &mut self,
        today: NaiveDate,
        commands: Vec<(Command, Actor)>,
    ) -> Result<Vec<Option<Outcome>>, SimulateError> {
        self.commands.submitted += commands.len() as u64;
        let mut outcomes = Vec::with_capacity(commands.len());
        for answer in self.service().submit_many_blocking(commands) {
            let refusal = match answer {
                Ok(outcome) => {
                    outcomes.push(Some(outcome));
                    continue;
                }
                Err(CommandError::Refused(refusal)) => refusal.code().to_string(),
                Err(CommandError::Conflict(text)) => text.to_string(),
                Err(error) => return Err(error.into()),
            };
            *self.commands.refused.entry(refusal).or_default() += 1;
            outcomes.push(None);
        }
        self.discover_referrals(today);
        Ok(outcomes)
    }

    fn register(&mut self, today: NaiveDate, count: usize) -> Result<(), SimulateError> {
        let mut forms = Vec::with_capacity(count);
        let mut claims = Vec::with_capacity(count);
        for _ in 0..count {
            let district = &self.districts[self.rng.random_range(0..self.districts.len())];
            let registration = self.families.registration(district, today);
            forms.push(registration.form);
            claims.push(registration.claim);
            if !self.registered.is_empty() && self.rng.random_bool(DUPLICATE_SHARE) {
                let original = &self.registered[self.rng.random_range(0..self.registered.len())];
                // Only a child who still waits: an enrolled child may be registered again.
                if self.service().read().waiting.get(original.id).is_some() {
                    forms.push(self.families.duplicate(&original.form, today));
                    claims.push(None);
                }
            }
        }
        // Twins register together, as a family: one command for both.
        let mut commands: Vec<(Command, Actor)> = forms
            .iter()
            .map(|form| self.registration_command(form.clone()))
            .collect();
        for (command, _) in commands.iter_mut() {
            let Command::Register { form, channel } = command else {
                continue;
            };
            if self.rng.random_bool(TWINS_SHARE) {
                let twin = self.families.twin(form);
                *command = Command::RegisterFamily {
                    forms: vec![form.clone(), twin],
                    together: self.rng.random_bool(0.5) && !self.policy.together_off,
                    channel: *channel,
                };
            }
        }
        let outcomes = self.submit(today, commands)?;
        for ((outcome, form), claim) in outcomes.into_iter().zip(forms).zip(claims) {
            let ids = match outcome {
                Some(Outcome::Registered { application, .. }) => vec![application.id],
                Some(Outcome::FamilyRegistered { applications, .. }) => {
                    applications.iter().map(|a| a.id).collect()
                }
                _ => continue,
            };
            for id in ids {
                self.plan_after_registration(today, id, claim);
                self.registered.push(Registered {
                    id,
                    form: form.clone(),
                });
            }
        }
        Ok(())
    }

    /// Most parents register on the portal; some at a service centre or the district office.
    fn registration_command(&mut self, form: RegistrationForm) -> (Command, Actor) {
        let (channel, actor) = match self.rng.random_range(0..100) {
            0..80 => (Channel::Portal, Actor::portal()),
            80..95 => (
                Channel::ServiceCentre,
                Actor::staff(&format!("operator-{}", form.district)),
            ),
            _ => (
                Channel::Office,
                Actor::staff(&format!("officer-{}", form.district)),
            ),
        };
        (Command::Register { form, channel }, actor)
    }

    fn plan_after_registration(
        &mut self,
        today: NaiveDate,
        id: ApplicationId,
        claim: Option<ClaimDecision>,
    ) {
        let verify = match claim {
            Some(ClaimDecision::Verify) => Some(true),
            Some(ClaimDecision::Reject) => Some(false),
            Some(ClaimDecision::Undecided) | None => None,
        };
        if let Some(verify) = verify {
            // Within the three working days the regulations give a manual step.
            let on = today + Duration::days(self.rng.random_range(1..=4));
            self.plan(on, Phase::Office, Action::Decide { id, verify });
        }
        if self.rng.random_bool(WITHDRAWAL_SHARE) {
            let on = today + Duration::days(self.rng.random_range(20..=300));
            self.plan(on, Phase::Office, Action::Withdraw { id });
        }
        if self.rng.random_bool(AMEND_SHARE) {
            let on = today + Duration::days(self.rng.random_range(5..=250));
            let draw = self.rng.random();
            self.plan(on, Phase::Office, Action::Amend { id, draw });
        }
        if self.rng.random_bool(MOVE_SHARE) {
            let on = today + Duration::days(self.rng.random_range(30..=250));
            let draw = self.rng.random();
            self.plan(on, Phase::Office, Action::Move { id, draw });
        }
    }

    fn plan(&mut self, on: NaiveDate, phase: Phase, action: Action) {
        self.plans.entry((on, phase)).or_default().push(action);
    }

    /// The days with actions of `phase` planned for `today` or earlier (a day the run did
    /// not visit, in the weekly backlog, leaves its actions to the next day visited).
    fn due(&self, today: NaiveDate, phase: Phase) -> Vec<(NaiveDate, Phase)> {
        self.plans
            .range(..=(today, Phase::Parents))
            .map(|(key, _)| *key)
            .filter(|(_, planned)| *planned == phase)
            .collect()
    }

    /// Finds the referrals issued since the last look (by a place report, a registration
    /// that took an open place, a lapse or a tick) and decides what each family will do.
    fn discover_referrals(&mut self, today: NaiveDate) {
        let mut new: Vec<(ReferralId, KindergartenId, ApplicationId)> = {
            let state = self.service().read();
            state
                .live
                .values()
                .map(|live| {
                    let r = &live.referral;
                    (r.id, r.kindergarten, r.application)
                })
                .filter(|(id, _, _)| !self.known_referrals.contains(id))
                .collect()
        };
        // The live map is a HashMap: sort, so that the seed alone decides the fates.
        new.sort_unstable();
        for (referral, kindergarten, application) in new {
            self.known_referrals.insert(referral);
            self.referred.insert(referral, application);
            self.plan_fate(today, referral, kindergarten);
        }
    }

    /// Seven in ten hand the referral in within days, one declines, some extend it first,
    /// and the rest never come: the referral expires and the child goes on the stop list.
    fn plan_fate(&mut self, today: NaiveDate, referral: ReferralId, kindergarten: KindergartenId) {
        let within = |rng: &mut SmallRng, days: std::ops::RangeInclusive<i64>| {
            today + Duration::days(rng.random_range(days))
        };
        let hand_in = Action::HandIn {
            referral,
            kindergarten,
        };
        match self.rng.random_range(0..100) {
            0..70 => {
                let on = within(&mut self.rng, 1..=4);
                self.plan(on, Phase::Parents, hand_in);
                if self.rng.random_bool(TRANSFER_SHARE) {
                    let on = within(&mut self.rng, 20..=120);
                    let draw = self.rng.random();
                    self.plan(on, Phase::Office, Action::Transfer { referral, draw });
                }
            }
            70..80 => {
                let on = within(&mut self.rng, 1..=3);
                self.plan(on, Phase::Parents, Action::Decline { referral });
            }
            80..87 => {
                let on = within(&mut self.rng, 1..=3);
                self.plan(on, Phase::Parents, Action::Extend { referral });
                if self.rng.random_bool(0.65) {
                    let on = within(&mut self.rng, 8..=25);
                    self.plan(on, Phase::Parents, hand_in);
                }
            }
            _ => {}
        }
    }

    /// Carries out what was planned for this phase of the day, where it still applies.
    fn act(&mut self, today: NaiveDate, phase: Phase) -> Result<(), SimulateError> {
        let actions: Vec<Action> = self
            .due(today, phase)
            .into_iter()
            .flat_map(|key| self.plans.remove(&key).unwrap_or_default())
            .collect();
        let planned = actions.len();
        let commands: Vec<(Command, Actor)> = {
            let state = self.service().read();
            let waiting = |id: &ApplicationId| state.waiting.get(*id).is_some();
            let live = |id: &ReferralId| state.live.contains_key(id);
            let officer = || Actor::staff("simulated-officer");
            actions
                .into_iter()
                .filter_map(|action| match action {
                    Action::Decide { id, verify: true } => {
                        waiting(&id).then(|| (Command::VerifyPriority { id }, officer()))
                    }
                    Action::Decide { id, verify: false } => waiting(&id).then(|| {
                        let reason = "Құжат расталмады / документ не подтверждён".into();
                        (Command::RejectPriority { id, reason }, officer())
                    }),
                    Action::Withdraw { id } => (waiting(&id)
                        || state.referral_of.contains_key(&id))
                    .then(|| (Command::Withdraw { id }, Actor::portal())),
                    Action::HandIn {
                        referral,
                        kindergarten,
                    } => live(&referral).then(|| {
                        let by = Actor::staff(&format!("kindergarten-{}", kindergarten.0));
                        (
                            Command::HandIn {
                                referral,
                                by: kindergarten,
                            },
                            by,
                        )
                    }),
                    Action::Decline { referral } => {
                        live(&referral).then(|| (Command::Decline { referral }, Actor::portal()))
                    }
                    Action::Extend { referral } => {
                        live(&referral).then(|| (Command::Extend { referral }, Actor::portal()))
                    }
                    Action::Amend { .. } | Action::Move { .. } | Action::Transfer { .. } => {
                        self.life_command(&state, action)
                    }
                })
                .collect()
        };
        self.commands.moot += (planned - commands.len()) as u64;
        self.submit(today, commands)?;
        Ok(())
    }

    /// An amendment, a move or a transfer request, where it still applies: the
    /// application waits (amendment, move), or the child is enrolled (transfer).
    fn life_command(
        &self,
        state: &crate::domain::state::QueueState,
        action: Action,
    ) -> Option<(Command, Actor)> {
        // Several choices from the one draw taken at planning: a generator seeded by it.
        let draw = match action {
            Action::Amend { draw, .. }
            | Action::Move { draw, .. }
            | Action::Transfer { draw, .. } => draw,
            _ => return None,
        };
        let mut rng = SmallRng::seed_from_u64(draw);
        let mut pick = |n: usize| rng.random_range(0..n.max(1));
        let district_of = |id: ApplicationId| self.districts.iter().find(|d| d.id == id.district);
        match action {
            Action::Amend { id, .. } => {
                state.waiting.get(id)?;
                let district = district_of(id)?;
                let kindergartens: Vec<u32> = (0..pick(3) + 1)
                    .map(|_| {
                        district.kindergartens[pick(district.kindergartens.len())]
                            .id
                            .0
                    })
                    .collect::<std::collections::BTreeSet<u32>>()
                    .into_iter()
                    .collect();
                let form = crate::domain::amendment::AmendmentForm {
                    kindergartens: Some(kindergartens),
                    applicant_phone: Some(format!("+77{:09}", pick(1_000_000_000))),
                    ..Default::default()
                };
                Some((Command::Amend { id, form }, Actor::portal()))
            }
            Action::Move { id, .. } => {
                state.waiting.get(id)?;
                let others: Vec<&SimDistrict> = self
                    .districts
                    .iter()
                    .filter(|d| d.id != id.district)
                    .collect();
                let to = others.get(pick(others.len()))?;
                let form = crate::domain::amendment::MoveForm {
                    district: to.code.into(),
                    kindergartens: Vec::new(),
                    language: None,
                };
                Some((Command::Move { id, form }, Actor::portal()))
            }
            Action::Transfer { referral, .. } => {
                // The application the referral was for, if it is enrolled through it.
                let id = *self.referred.get(&referral)?;
                let place = state.enrolled.get(&id).map(|p| p.kindergarten)?;
                let district = district_of(id)?;
                let choices: Vec<u32> = district
                    .kindergartens
                    .iter()
                    .map(|k| k.id.0)
                    .filter(|k| *k != place.0)
                    .skip(pick(district.kindergartens.len()))
                    .take(2)
                    .collect();
                (!choices.is_empty()).then(|| {
                    let form = crate::domain::transfer::TransferForm {
                        kindergartens: choices,
                    };
                    (Command::RequestTransfer { id, form }, Actor::portal())
                })
            }
            _ => None,
        }
    }

    /// The day's free places: the trickle (free within two weeks, one or two at a time)
    /// and, in August, the intake for 1 September (a few to a dozen per report).
    fn report_places(&mut self, today: NaiveDate, quota: &DayQuota) -> Result<(), SimulateError> {
        let mut commands = Vec::new();
        let intake_day = NaiveDate::from_ymd_opt(today.year(), 9, 1).expect("a real date");
        let mut trickle = quota.trickle_places;
        while trickle > 0 {
            let mut from = today + Duration::days(self.rng.random_range(0..=14));
            // The round for 1 September has closed: a place for that day is for the next.
            if self.policy.round && from == intake_date() && today >= intake_date() {
                from += Duration::days(1);
            }
            let count = self.rng.random_range(1..=2).min(trickle);
            commands.push(self.places_command(from, count));
            trickle -= count;
        }
        let mut intake = quota.intake_places;
        while intake > 0 {
            let count = self.rng.random_range(3..=12).min(intake);
            commands.push(self.places_command(intake_day, count));
            intake -= count;
        }
        self.submit(today, commands)?;
        Ok(())
    }

    /// `count` places free from `from` in a group, of a kindergarten drawn at random, for
    /// children of preschool age all that school year. A fifth of the reports for 1
    /// September name a band of their own, two cohorts wide: the group's and the one before
    /// it (a mixed group). For the oldest group, that older cohort goes to school on the
    /// very day the places are free, and the service must pass over those children.
    fn places_command(&mut self, from: NaiveDate, count: usize) -> (Command, Actor) {
        let cohorts = city::cohorts_in_school_year(city::intake_year(from));
        let district = &self.districts[self.rng.random_range(0..self.districts.len())];
        let kindergarten =
            &district.kindergartens[self.rng.random_range(0..district.kindergartens.len())];
        let groups: Vec<_> = kindergarten
            .groups
            .iter()
            .filter(|(_, cohort, _)| cohorts.contains(cohort))
            .collect();
        let (group, cohort, _) = groups[self.rng.random_range(0..groups.len())];
        let intake = from.month() == 9 && from.day() == 1;
        let age_band = (intake && self.rng.random_ratio(1, 5)).then(|| {
            let (older, own) = (city::cohort_band(cohort - 1), city::cohort_band(*cohort));
            AgeBand::new(older.born_from, own.born_to).expect("two cohorts in order")
        });
        let new = NewPlaces {
            kindergarten: kindergarten.id,
            group: Some(*group),
            age_band,
            language: None,
            count: count as u32,
            available_from: from,
        };
        let actor = Actor::staff(&format!("kindergarten-{}", kindergarten.id.0));
        (Command::ReportPlaces(new), actor)
    }

    /// Opens each district's intake round (a `SimPolicy::round` run), as an administrator
    /// would through the API.
    fn open_rounds(&mut self) -> Result<(), SimulateError> {
        let closes_at = local_instant(day((YEAR, 8, 31)), 20);
        let commands = self
            .districts
            .iter()
            .map(|district| {
                let command = Command::OpenIntakeRound {
                    district: district.id,
                    places_for: intake_date(),
                    closes_at,
                    any_order: Vec::new(),
                };
                (command, Actor::staff("simulated-admin"))
            })
            .collect();
        self.submit(round_opens(), commands)?;
        Ok(())
    }

    fn district_summaries(&self) -> Vec<DistrictSummary> {
        self.districts
            .iter()
            .map(|district| DistrictSummary {
                id: district.id,
                code: district.code,
                interleave: district.interleave,
                kindergartens: district.kindergartens.len(),
            })
            .collect()
    }
}
