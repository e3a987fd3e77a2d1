//! Every report (issue 17) read from the aggregates of 1M applications.
//!
//! Target (2-core machine, 1M applications): each report ≤ 50 ms. A report reads only the
//! aggregates (`domain::reports`), never the journal; this bench says what that costs
//! when they hold a city of a million: 1M registrations (the demo's distribution, through
//! `benches/common`), 300k places reported and referred (80% handed in, 10% declined, 10%
//! expired, a tenth of them extended first), 100k survey answers, all folded by
//! `Reports::observe` as the writer folds them. Each report is measured for every district
//! over the last year, and for one district over five years (the longest range allowed).
//! The fold itself is timed once, as the start-up pays it (printed, not a criterion figure).
//!
//! `cargo bench --bench reports -- report/queue`

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{kindergarten_of, synthetic_entries, today, DISTRICTS};
use criterion::{criterion_group, criterion_main, Criterion};
use kezek::domain::application::{
    Applicant, Application, ApplicationId, ApplicationStatus, Channel, Child, Choices, Relation,
    Satisfaction,
};
use kezek::domain::catalog::{AgeBand, Catalog, DistrictId, Language};
use kezek::domain::event::Event;
use kezek::domain::iin::{Iin, Sex};
use kezek::domain::referral::{
    FreePlace, Lapse, PlaceId, Referral, ReferralId, ReferralNumber, ReferralStatus,
};
use kezek::domain::reports::public::statistics;
use kezek::domain::reports::tables::{table, Filter, ReportName};
use kezek::domain::reports::{Before, Reports};
use kezek::domain::state::{LiveReferral, QueueState};
use kezek::domain::waiting_list::Waiting;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::time::Instant;

const APPLICATIONS: usize = 1_000_000;
const PLACES: usize = 300_000;
const ANSWERS: usize = 100_000;

fn application(
    id: ApplicationId,
    at: DateTime<Utc>,
    birth: chrono::NaiveDate,
    choices: Choices,
    iin: Iin,
) -> Application {
    Application {
        id,
        registered_at: at,
        child: Child {
            iin,
            full_name: "x".into(),
            birth_date: birth,
            sex: Sex::Female,
        },
        applicant: Applicant {
            iin,
            full_name: "y".into(),
            phone: "+77010000000".into(),
            email: None,
            address: "z".into(),
            relation: Relation::Mother,
        },
        desired_start: birth + Duration::days(3 * 365),
        choices,
        language: Some(Language::KAZAKH),
        priority: None,
        tier: kezek::domain::catalog::Tier::General,
        status: ApplicationStatus::Queued,
        channel: Channel::Portal,
        entered_by: None,
        held_until: None,
        moved_from: None,
        legacy_number: None,
    }
}

/// The events of a city, in time order enough for the fold (each referral after its
/// application and place).
fn city() -> Vec<(Event, DateTime<Utc>)> {
    let mut rng = SmallRng::seed_from_u64(17);
    let iin = Iin::synthesize(
        chrono::NaiveDate::from_ymd_opt(2022, 1, 1).unwrap(),
        Sex::Female,
        1,
    )
    .unwrap();
    let mut events = Vec::with_capacity(APPLICATIONS + 3 * PLACES + ANSWERS);
    let mut ids = Vec::with_capacity(APPLICATIONS);
    for (district, waiting) in synthetic_entries(APPLICATIONS, 42) {
        let at = DateTime::from_timestamp_micros(waiting.key.registered_at_micros).unwrap();
        let id = ApplicationId {
            district,
            number: waiting.key.number,
        };
        let wanted = rng.random_range(1..=5);
        let choices = Choices::Listed(
            (0..wanted)
                .map(|_| kindergarten_of(&mut rng, district.0))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect(),
        );
        let mut app = application(id, at, waiting.birth_date, choices, iin);
        app.tier = waiting.key.tier;
        events.push((Event::ApplicationRegistered(app), at));
        ids.push((id, at));
    }
    let end = Utc.from_utc_datetime(&today().and_hms_opt(12, 0, 0).unwrap());
    let mut referrals = [0u32; DISTRICTS as usize];
    // The oldest applications get the places, a day after the place is reported.
    for (i, (id, registered)) in ids.iter().take(PLACES).enumerate() {
        let reported_at = (*registered + Duration::days(rng.random_range(30..700))).min(end);
        let place = PlaceId(i as u64 + 1);
        let kindergarten = kindergarten_of(&mut rng, id.district.0);
        let free = FreePlace {
            id: place,
            district: id.district,
            kindergarten,
            group: None,
            age_band: AgeBand::new(
                reported_at.date_naive() - Duration::days(2000),
                reported_at.date_naive(),
            )
            .unwrap(),
            language: Language::KAZAKH,
            available_from: reported_at.date_naive(),
            reported_at,
        };
        events.push((Event::PlacesReported { places: vec![free] }, reported_at));
        referrals[id.district.0 as usize - 1] += 1;
        let referral = ReferralId {
            district: id.district,
            number: ReferralNumber(referrals[id.district.0 as usize - 1]),
        };
        events.push((
            Event::ReferralIssued {
                referral: Referral {
                    id: referral,
                    place,
                    application: *id,
                    kindergarten,
                    issued_at: reported_at,
                    valid_until: reported_at + Duration::days(10),
                    extended: false,
                    status: ReferralStatus::Issued,
                    closed_at: None,
                    reason: None,
                    transfer: false,
                    round: None,
                },
                cycle: None,
            },
            reported_at,
        ));
        let closed = reported_at + Duration::days(5);
        if i % 10 == 0 {
            events.push((
                Event::ReferralExtended {
                    id: referral,
                    valid_until: closed + Duration::days(10),
                },
                closed,
            ));
        }
        let ended = match i % 10 {
            0 => Event::ReferralLapsed {
                id: referral,
                application: None,
                at: closed,
                lapse: Lapse::Declined,
                held_until: closed,
            },
            1 => Event::ReferralLapsed {
                id: referral,
                application: None,
                at: closed,
                lapse: Lapse::Expired,
                held_until: closed,
            },
            _ => Event::ReferralHandedIn {
                id: referral,
                at: closed,
            },
        };
        events.push((ended, closed));
    }
    let answers = [Satisfaction::Fully, Satisfaction::Partly, Satisfaction::Not];
    for (id, registered) in ids.iter().step_by(APPLICATIONS / ANSWERS) {
        let at = *registered + Duration::days(1);
        events.push((
            Event::SurveyAnswered {
                id: *id,
                process: answers[rng.random_range(0..3)],
                information: answers[rng.random_range(0..3)],
            },
            at,
        ));
    }
    events
}

/// The applications an event concerns, as `QueueState::concerns` says for these events.
fn concerned(state: &QueueState, event: &Event) -> Vec<ApplicationId> {
    match event {
        Event::ApplicationRegistered(application) => vec![application.id],
        Event::ReferralIssued { referral, .. } => vec![referral.application],
        Event::ReferralHandedIn { id, .. } | Event::ReferralLapsed { id, .. } => state
            .live
            .get(id)
            .map(|live| live.referral.application)
            .into_iter()
            .collect(),
        Event::SurveyAnswered { id, .. } => vec![*id],
        _ => Vec::new(),
    }
}

/// What `QueueState::apply` does to the parts of the state the fold reads (waiting list,
/// live referrals, enrolled children), done by hand: the synthetic city has no catalog for
/// the state's checks, and what is measured is the reports' share of the writer's work.
fn mirror(state: &mut QueueState, event: &Event) {
    match event {
        Event::ApplicationRegistered(application) => {
            let entry = Waiting::of(application);
            state
                .waiting
                .insert(application.id.district, entry)
                .unwrap();
        }
        Event::PlacesReported { places } => {
            for place in places {
                state.places.insert(place.id, place.clone());
            }
        }
        Event::ReferralIssued { referral, .. } => {
            let waiting = state.waiting.remove(referral.application).unwrap();
            let live = LiveReferral {
                referral: referral.clone(),
                waiting,
            };
            state.live.insert(referral.id, live);
        }
        Event::ReferralHandedIn { id, .. } => {
            let live = state.live.remove(id).unwrap();
            let place = state.places.remove(&live.referral.place).unwrap();
            state.enrolled.insert(live.referral.application, place);
        }
        Event::ReferralLapsed { id, .. } => {
            let live = state.live.remove(id).unwrap();
            state.places.remove(&live.referral.place);
            state
                .waiting
                .insert(live.referral.application.district, live.waiting)
                .unwrap();
        }
        _ => {}
    }
}

fn reports(c: &mut Criterion) {
    let events = city();
    let started = Instant::now();
    let mut state = QueueState::default();
    let mut reports = Reports::default();
    for (event, at) in &events {
        let touched = concerned(&state, event);
        let before = Before::read(&state, event, &touched);
        mirror(&mut state, event);
        reports.observe(event, *at, before, &state);
    }
    drop(state);
    println!(
        "fold of {} events at 1M applications: {:.2} s",
        events.len(),
        started.elapsed().as_secs_f64()
    );
    drop(events);
    let catalog = Catalog::default();
    let today = today();
    let year = Filter {
        district: None,
        from: today - Duration::days(365),
        to: today,
        today,
    };
    let five_years = Filter {
        district: Some(DistrictId(1)),
        from: today - Duration::days(5 * 365),
        to: today,
        today,
    };
    let mut group = c.benchmark_group("report");
    for name in ReportName::ALL {
        for (scope, filter) in [("all-year", &year), ("district-5y", &five_years)] {
            group.bench_function(format!("{}/{scope}/1000000", name.code()), |b| {
                b.iter(|| black_box(table(&reports, &catalog, name, filter)))
            });
        }
    }
    group.bench_function("statistics/all-year/1000000", |b| {
        b.iter(|| black_box(statistics(&reports, &catalog, &year)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(2));
    targets = reports
}
criterion_main!(benches);
