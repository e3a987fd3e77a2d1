//! The intake round (issue 18): a district's August round allocated in one go.
//!
//! Why: the round runs inside one writer command, so while it computes, no other command of
//! the service is served. Targets: 50,000 children × 400 kindergartens × 5 choices ≤ 1 s,
//! and 1,000,000 waiting ≤ 10 s.
//!
//! One iteration is what the close does in memory before it emits: build the round's input
//! from the live state (`QueueState::intake_input`: the district's waiting children sorted
//! by key, their families, each place's fit on the day) and allocate it
//! (`domain::intake::allocate`). The events it then emits are one `ReferralIssued` each,
//! whose cost the allocation bench measures.
//!
//! The district: 400 kindergartens; children born 2021–2024, 5 % out of turn, 15 % first
//! priority (the 1 : 3 cycle on), Kazakh, Russian or any group, 90 % listing 5 distinct
//! kindergartens, 10 % any; places of one birth year and one language each, one for every
//! four children at 50,000 and 40,000 (a large city's August) at 1,000,000.
//!
//! `cargo bench --bench intake -- round/50000` runs one case.

use chrono::{NaiveDate, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use kezek::domain::application::{Choices, QueueKey, RegistrationNumber};
use kezek::domain::catalog::{
    AgeBand, District, DistrictId, Kindergarten, KindergartenId, Language, Names, Tier,
};
use kezek::domain::intake::{allocate, IntakeRound, RoundId};
use kezek::domain::referral::{DistrictPolicy, FreePlace, PlaceId};
use kezek::domain::state::QueueState;
use kezek::domain::waiting_list::{CompactChoices, Waiting};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::time::Duration;

const KINDERGARTENS: u32 = 400;
const DISTRICT: DistrictId = DistrictId(1);

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn names() -> Names {
    Names {
        kk: "a".into(),
        ru: "b".into(),
    }
}

fn state(children: usize, rng: &mut SmallRng) -> QueueState {
    let mut state = QueueState::default();
    let district = District {
        id: DISTRICT,
        code: "D1".into(),
        names: names(),
        languages: vec![Language::KAZAKH, Language::RUSSIAN],
    };
    state.catalog.districts.insert(DISTRICT, district);
    let policy = DistrictPolicy {
        interleave_first_priority: true,
        ..Default::default()
    };
    state.catalog.policies.insert(DISTRICT, policy);
    for k in 1..=KINDERGARTENS {
        let kindergarten = Kindergarten {
            id: KindergartenId(k),
            district: DISTRICT,
            number: k.to_string(),
            names: names(),
            address: "x".into(),
            head: None,
        };
        state
            .catalog
            .kindergartens
            .insert(kindergarten.id, kindergarten);
    }
    let start = Utc
        .with_ymd_and_hms(2022, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp_micros();
    for i in 0..children {
        let tier = match rng.random_range(0..100) {
            0..5 => Tier::OutOfTurn,
            5..20 => Tier::First,
            _ => Tier::General,
        };
        let choices = if rng.random_bool(0.1) {
            Choices::Any
        } else {
            let mut list: Vec<KindergartenId> = Vec::with_capacity(5);
            while list.len() < 5 {
                let k = KindergartenId(rng.random_range(1..=KINDERGARTENS));
                if !list.contains(&k) {
                    list.push(k);
                }
            }
            Choices::Listed(list)
        };
        let waiting = Waiting {
            key: QueueKey {
                tier,
                registered_at_micros: start + i as i64 * 60_000_000,
                number: RegistrationNumber(i as u32 + 1),
            },
            birth_date: day(rng.random_range(2021..=2024), rng.random_range(1..=12), 1),
            desired_start: day(2027, 9, 1),
            language: [None, Some(Language::KAZAKH), Some(Language::RUSSIAN)]
                [rng.random_range(0..3)],
            choices: CompactChoices::from_choices(&choices),
            held: false,
        };
        state.waiting.insert(DISTRICT, waiting).unwrap();
    }
    state
}

fn places(count: usize, rng: &mut SmallRng) -> Vec<FreePlace> {
    let reported_at = Utc.with_ymd_and_hms(2027, 8, 20, 5, 0, 0).unwrap();
    (0..count)
        .map(|i| {
            let year = rng.random_range(2021..=2024);
            FreePlace {
                id: PlaceId(i as u64 + 1),
                district: DISTRICT,
                kindergarten: KindergartenId(rng.random_range(1..=KINDERGARTENS)),
                group: None,
                age_band: AgeBand::new(day(year, 1, 1), day(year, 12, 31)).unwrap(),
                language: [Language::KAZAKH, Language::RUSSIAN][rng.random_range(0..2)],
                available_from: day(2027, 9, 1),
                reported_at,
            }
        })
        .collect()
}

fn round(c: &mut Criterion) {
    let mut group = c.benchmark_group("round");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    for (children, place_count) in [(50_000, 12_500), (1_000_000, 40_000)] {
        let mut rng = SmallRng::seed_from_u64(18);
        let state = state(children, &mut rng);
        let places = places(place_count, &mut rng);
        let round = IntakeRound {
            id: RoundId(1),
            district: DISTRICT,
            places_for: day(2027, 9, 1),
            closes_at: Utc.with_ymd_and_hms(2027, 8, 25, 13, 0, 0).unwrap(),
            any_order: Vec::new(),
        };
        let today = day(2027, 8, 25);
        let outcome = allocate(&state.intake_input(&round, &places, today));
        let figures = outcome.figures();
        eprintln!(
            "round/{children}: {} of {} places given, first choice {:.3}, mean rank {:.2}",
            figures.placed, figures.places, figures.first_choice_share, figures.mean_rank
        );
        group.bench_function(children.to_string(), |b| {
            b.iter(|| allocate(black_box(&state.intake_input(&round, &places, today))))
        });
    }
    group.finish();
}

criterion_group!(benches, round);
criterion_main!(benches);
