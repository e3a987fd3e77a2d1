//! An application's whole life through the real service, against plain models.
//!
//! Random operations: single registrations, families (together or separately) of two or
//! three children, amendments of choices, language and start, moves to the other district
//! (whose policy keeps the registration time or not), family choices changed, places
//! reported, referrals handed in or declined, transfer requests of enrolled children, days
//! passing (expiries, ends of stop lists) and restarts (the state rebuilt from the tables).
//! After every operation:
//!
//! 1. the service's own invariants hold (`check_invariants`: among them, no child holds two
//!    places or a place and a first-time referral, no open place has a taker);
//! 2. every waiting child's cohort position is its rank in a plain sorted list of the
//!    waiting children by `(tier, registered_at, number)`, computed here from the
//!    applications' rows, not from the index;
//! 3. a child's key never changes but for a verified or dropped priority and a move that
//!    does not keep the time.
//!
//! At the end, the whole journal goes through the simulation's audit, a model that shares
//! no allocation code with the service: no justified envy (every referral went to the first
//! fitting child in order, journaled family passes excused), no referral to a child that did
//! not fit, no family together split; and `kezek verify` accepts the file.

mod common;

use common::{child_iin, date, valid_form, TestApp};
use kezek::domain::amendment::{AmendmentForm, MoveForm};
use kezek::domain::application::{ApplicationId, ApplicationStatus, Channel, RegistrationForm};
use kezek::domain::catalog::{AgeBand, Language};
use kezek::domain::event::Actor;
use kezek::domain::local_date;
use kezek::domain::referral::{DistrictPolicy, ReferralId};
use kezek::domain::transfer::TransferForm;
use kezek::service::{Command, NewPlaces, Outcome};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::ValueTree;

#[derive(Clone, Debug)]
enum Op {
    Register {
        choice: u8,
        language: u8,
        now: bool,
    },
    Family {
        size: usize,
        together: bool,
    },
    Amend(Index, u8, u8),
    Move(Index),
    FamilyChoice(Index, bool),
    Report {
        kindergarten: u8,
        count: u32,
        language: u8,
    },
    HandIn(Index),
    Decline(Index),
    Transfer(Index, u8),
    Days(u8),
    /// The service stops and starts again: the state is rebuilt from the tables.
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..4, 0u8..3, any::<bool>()).prop_map(|(choice, language, now)| Op::Register { choice, language, now }),
        2 => (2usize..=3, any::<bool>()).prop_map(|(size, together)| Op::Family { size, together }),
        3 => (any::<Index>(), 0u8..4, 0u8..3).prop_map(|(i, c, l)| Op::Amend(i, c, l)),
        2 => any::<Index>().prop_map(Op::Move),
        1 => (any::<Index>(), any::<bool>()).prop_map(|(i, t)| Op::FamilyChoice(i, t)),
        5 => (0u8..3, 1u32..4, 0u8..2).prop_map(|(kindergarten, count, language)| Op::Report { kindergarten, count, language }),
        3 => any::<Index>().prop_map(Op::HandIn),
        2 => any::<Index>().prop_map(Op::Decline),
        2 => (any::<Index>(), 0u8..3).prop_map(|(i, k)| Op::Transfer(i, k)),
        2 => (1u8..12).prop_map(Op::Days),
        1 => Just(Op::Restart),
    ]
}

struct Harness {
    app: TestApp,
    serial: u16,
    /// Every application ever registered or moved to, in order.
    applications: Vec<ApplicationId>,
    referrals: Vec<ReferralId>,
}

fn languages(which: u8) -> &'static str {
    ["kk", "ru", "any"][which as usize % 3]
}

impl Harness {
    fn new(keep_time_on_move: bool) -> Harness {
        let app = TestApp::spawn();
        let policy = DistrictPolicy {
            move_keeps_registration_time: keep_time_on_move,
            ..DistrictPolicy::default()
        };
        app.service()
            .submit_blocking(
                Command::SetPolicy {
                    district: app.other_district,
                    policy,
                },
                Actor::system(),
            )
            .unwrap();
        Harness {
            app,
            serial: 1,
            applications: Vec::new(),
            referrals: Vec::new(),
        }
    }

    fn choices(&self, choice: u8) -> Vec<u32> {
        let [k1, k2, _] = self.app.kindergartens;
        match choice {
            0 => vec![],
            1 => vec![k1.0],
            2 => vec![k2.0],
            _ => vec![k2.0, k1.0],
        }
    }

    fn form(&mut self, choice: u8, language: u8, now: bool) -> RegistrationForm {
        let mut form = valid_form(self.serial);
        self.serial += 1;
        form.kindergartens = self.choices(choice);
        form.language = languages(language).into();
        if now {
            form.desired_start = local_date(self.app.service().now()).to_string();
        }
        form
    }

    fn pick(&self, index: &Index) -> Option<ApplicationId> {
        (!self.applications.is_empty())
            .then(|| self.applications[index.index(self.applications.len())])
    }

    fn submit(&mut self, command: Command, actor: Actor) -> Option<Outcome> {
        let outcome = self.app.service().submit_blocking(command, actor).ok();
        if let Some(Outcome::Registered { application, .. }) = &outcome {
            self.applications.push(application.id);
        }
        outcome
    }

    fn apply(&mut self, op: &Op) {
        let portal = Actor::portal();
        match op {
            Op::Register {
                choice,
                language,
                now,
            } => {
                let form = self.form(*choice, *language, *now);
                let channel = Channel::Portal;
                self.submit(Command::Register { form, channel }, portal);
            }
            Op::Family { size, together } => {
                let birth = date(2022, 5, 10);
                let first = self.form(3, 2, true);
                let forms: Vec<RegistrationForm> = (0..*size)
                    .map(|i| RegistrationForm {
                        child_iin: child_iin(birth, 4000 + self.serial * 8 + i as u16),
                        child_birth_date: birth.to_string(),
                        ..first.clone()
                    })
                    .collect();
                let command = Command::RegisterFamily {
                    forms,
                    together: *together,
                    channel: Channel::Portal,
                };
                if let Some(Outcome::FamilyRegistered { applications, .. }) =
                    self.submit(command, portal)
                {
                    self.applications.extend(applications.iter().map(|a| a.id));
                }
            }
            Op::Amend(index, choice, language) => {
                let Some(id) = self.pick(index) else { return };
                let kindergartens =
                    (id.district == self.app.district).then(|| self.choices(*choice));
                let form = AmendmentForm {
                    kindergartens,
                    language: Some(languages(*language).into()),
                    ..AmendmentForm::default()
                };
                self.submit(Command::Amend { id, form }, portal);
            }
            Op::Move(index) => {
                let Some(id) = self.pick(index) else { return };
                let district = if id.district == self.app.district {
                    "SAR"
                } else {
                    "ESL"
                };
                let form = MoveForm {
                    district: district.into(),
                    kindergartens: vec![],
                    language: None,
                };
                if let Some(Outcome::Moved { application, .. }) =
                    self.submit(Command::Move { id, form }, portal)
                {
                    // A family moves whole: the siblings' new numbers come with it.
                    let state = self.app.service().read();
                    let moved: Vec<ApplicationId> = state
                        .family_of
                        .get(&application.id)
                        .map(|f| state.families[f].members.clone())
                        .unwrap_or_else(|| vec![application.id]);
                    drop(state);
                    for member in moved {
                        if !self.applications.contains(&member) {
                            self.applications.push(member);
                        }
                    }
                }
            }
            Op::FamilyChoice(index, together) => {
                let Some(id) = self.pick(index) else { return };
                let command = Command::SetFamilyChoice {
                    id,
                    together: *together,
                };
                self.submit(command, portal);
            }
            Op::Report {
                kindergarten,
                count,
                language,
            } => {
                let kindergarten = self.app.kindergartens[*kindergarten as usize];
                let places = NewPlaces {
                    kindergarten,
                    group: None,
                    age_band: Some(AgeBand::new(date(2022, 1, 1), date(2022, 12, 31)).unwrap()),
                    language: Some([Language::KAZAKH, Language::RUSSIAN][*language as usize]),
                    count: *count,
                    available_from: local_date(self.app.service().now()),
                };
                if let Some(Outcome::PlacesReported { referrals, .. }) =
                    self.submit(Command::ReportPlaces(places), Actor::staff("kg"))
                {
                    self.referrals.extend(referrals.iter().map(|r| r.id));
                }
                self.discover_referrals();
            }
            Op::HandIn(index) | Op::Decline(index) => {
                self.discover_referrals();
                if self.referrals.is_empty() {
                    return;
                }
                let referral = self.referrals[index.index(self.referrals.len())];
                let live = self.app.service().read().live.get(&referral).cloned();
                let Some(live) = live else { return };
                let command = match op {
                    Op::HandIn(_) => Command::HandIn {
                        referral,
                        by: live.referral.kindergarten,
                    },
                    _ => Command::Decline { referral },
                };
                self.submit(command, Actor::staff("kg"));
                self.discover_referrals();
            }
            Op::Transfer(index, kindergarten) => {
                // Mostly an enrolled child (a transfer's only lawful subject), now and then
                // anyone (refused with its code).
                let enrolled: Vec<ApplicationId> = {
                    let state = self.app.service().read();
                    let mut ids: Vec<ApplicationId> = state.enrolled.keys().copied().collect();
                    ids.sort();
                    ids
                };
                let id = match enrolled.is_empty() || *kindergarten == 2 {
                    true => self.pick(index),
                    false => Some(enrolled[index.index(enrolled.len())]),
                };
                let Some(id) = id else { return };
                let kindergarten = *kindergarten % 2;
                let form = TransferForm {
                    kindergartens: vec![self.app.kindergartens[kindergarten as usize].0],
                };
                self.submit(Command::RequestTransfer { id, form }, portal);
                self.discover_referrals();
            }
            Op::Restart => self.app.restart(),
            Op::Days(days) => {
                self.app
                    .clock
                    .advance(chrono::Duration::days(i64::from(*days)));
                self.app.service().tick_blocking().unwrap();
                self.discover_referrals();
            }
        }
    }

    /// Referrals issued by any command (allocations cascade), read from the live state.
    fn discover_referrals(&mut self) {
        let state = self.app.service().read();
        for id in state.live.keys() {
            if !self.referrals.contains(id) {
                self.referrals.push(*id);
            }
        }
    }

    /// Invariants, and every waiting child's position against a plain sorted list.
    fn check(&self) -> Result<(), TestCaseError> {
        let service = self.app.service();
        let today = local_date(service.now());
        let state = service.read();
        if let Err(broken) = state.check_invariants(today) {
            return Err(TestCaseError::fail(broken));
        }
        let conn = rusqlite::Connection::open(&self.app.path).unwrap();
        let mut waiting: Vec<(ApplicationId, (u8, i64, u32))> = Vec::new();
        for id in &self.applications {
            let application = kezek::store::application(&conn, *id).unwrap().unwrap();
            if application.status == ApplicationStatus::Queued {
                let key = application.key();
                waiting.push((
                    *id,
                    (key.tier.as_u8(), key.registered_at_micros, id.number.0),
                ));
            }
        }
        for (id, key) in &waiting {
            let cohort = state.waiting.get(*id).map(|w| w.cohort());
            prop_assert!(cohort.is_some(), "{:?} is queued but not waiting", id);
            let rank = waiting
                .iter()
                .filter(|(other, other_key)| {
                    other.district == id.district
                        && state.waiting.get(*other).map(|w| w.cohort()) == cohort
                        && other_key < key
                })
                .count() as u32
                + 1;
            let position = state.position(*id).unwrap();
            prop_assert_eq!(position.in_cohort, rank, "{:?}", id);
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), TestCaseError> {
        let path = self.app.path.clone();
        self.app.stop();
        let figures = kezek::simulate::audit_journal(&path).unwrap();
        // DUMP_DB=FILE keeps a failing case's database for reading its journal.
        if let Some(dump) = std::env::var_os("DUMP_DB") {
            std::fs::copy(&path, dump).unwrap();
        }
        let envy = &figures.envy;
        prop_assert_eq!(envy.justified_envy, 0, "{:?}", envy.examples);
        prop_assert_eq!(envy.unfit_recipients, 0, "{:?}", envy.examples);
        prop_assert_eq!(envy.split_families, 0);
        prop_assert_eq!(envy.cycle_disagreements, 0);
        kezek::verify::verify(&path).map_err(|e| TestCaseError::fail(e.to_string()))?;
        // The journal holds what the operations were meant to exercise, now and then.
        let conn = rusqlite::Connection::open(&path).unwrap();
        let kinds: i64 = conn
            .query_row("SELECT count(DISTINCT kind) FROM events", [], |r| r.get(0))
            .unwrap();
        prop_assert!(kinds > 3);
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: common::proptest_cases(40), ..ProptestConfig::default() })]
    #[test]
    fn the_whole_life_keeps_the_queue_fair(
        keep_time in any::<bool>(),
        ops in proptest::collection::vec(op(), 5..40),
    ) {
        let mut harness = Harness::new(keep_time);
        for op in &ops {
            harness.apply(op);
            harness.check()?;
        }
        harness.finish()?;
    }
}

/// The operations above, over many cases, must reach each life event at least once: a
/// property that never amends or moves proves nothing about amendments or moves.
#[test]
fn the_operations_reach_every_life_event() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..12 {
        let ops = proptest::collection::vec(op(), 30..40)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let mut harness = Harness::new(true);
        for op in &ops {
            harness.apply(op);
        }
        let path = harness.app.path.clone();
        harness.app.stop();
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mut statement = conn.prepare("SELECT DISTINCT kind FROM events").unwrap();
        let kinds = statement
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap);
        seen.extend(kinds);
    }
    for kind in [
        "application_amended",
        "application_moved",
        "family_registered",
        "referral_handed_in",
        "transfer_requested",
    ] {
        assert!(seen.contains(kind), "{kind} never happened: {seen:?}");
    }
}
