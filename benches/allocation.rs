//! Allocating one free place with 10k, 100k and 1M applications waiting, in-process.
//!
//! Why: every reported place, every lapse and every stop-list end allocates; in the August
//! intake a city reports thousands of places at once. Target: ≤ 50 µs at 1M.
//!
//! One iteration is what the writer does in memory for a place: record the place
//! (`PlacesReported`), choose the child (`QueueState::allocation_for`, the policy's order), work
//! out the validity on the working-day calendar, issue the referral (`ReferralIssued`: the
//! child leaves the waiting list), and then hand it in so the state does not grow. SQLite is
//! not in it: the durable cost is the registration bench's business.
//!
//! `cargo bench --bench allocation -- interleave/1000000` runs one case.

mod common;

use chrono::{TimeZone, Utc};
use common::{random_place, synthetic_entries, DISTRICTS};
use criterion::{criterion_group, criterion_main, Criterion};
use kezek::domain::catalog::{District, DistrictId, Language, Names};
use kezek::domain::event::Event;
use kezek::domain::referral::{DistrictPolicy, FreePlace};
use kezek::domain::state::QueueState;
use kezek::domain::state::Taker;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::hint::black_box;

const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];

fn state(n: usize, interleave: bool) -> QueueState {
    let mut state = QueueState::default();
    for id in 1..=DISTRICTS {
        let district = District {
            id: DistrictId(id),
            code: format!("D{id}"),
            names: Names {
                kk: "a".into(),
                ru: "b".into(),
            },
            languages: vec![Language::KAZAKH, Language::RUSSIAN],
        };
        state.catalog.districts.insert(district.id, district);
        let policy = DistrictPolicy {
            interleave_first_priority: interleave,
            ..Default::default()
        };
        state.catalog.policies.insert(DistrictId(id), policy);
    }
    for (district, waiting) in synthetic_entries(n, 42) {
        state
            .waiting
            .insert(district, waiting)
            .expect("synthetic keys are unique");
    }
    state
}

struct Allocator {
    state: QueueState,
    rng: SmallRng,
}

impl Allocator {
    /// Allocates one place; returns whether anyone fitted it.
    fn allocate_one(&mut self) -> bool {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 5, 0, 0).unwrap();
        let (district, place) = random_place(&mut self.rng);
        let free = FreePlace {
            id: self.state.next_place_id(),
            district,
            kindergarten: place.kindergarten,
            group: None,
            age_band: place.age_band,
            language: place.language,
            available_from: place.available_from,
            reported_at: now,
        };
        let id = free.id;
        let state = &mut self.state;
        state
            .apply(&Event::PlacesReported { places: vec![free] })
            .unwrap();
        // The allocation rule whole, as the writer's `allocate` runs it.
        let allocation = state.allocation_for(&state.places[&id], kezek::domain::local_date(now));
        let application = match allocation.taker {
            Some(Taker::One(application)) | Some(Taker::Transfer(application)) => application,
            Some(Taker::Family { plan, .. }) => plan[0].0,
            None => return false,
        };
        let district = state.places[&id].district;
        let number = state.next_referral_number(district);
        let (referral, cycle) =
            state.referral_to(id, application, now, number, state.cycle(district));
        let id = referral.id;
        state
            .apply(&Event::ReferralIssued { referral, cycle })
            .unwrap();
        state
            .apply(&Event::ReferralHandedIn { id, at: now })
            .unwrap();
        true
    }
}

fn benches(c: &mut Criterion) {
    for n in SIZES {
        for (name, interleave) in [("allocate", false), ("allocate_interleave", true)] {
            let mut allocator = Allocator {
                state: state(n, interleave),
                rng: SmallRng::seed_from_u64(7),
            };
            c.benchmark_group(name).bench_function(n.to_string(), |b| {
                b.iter(|| black_box(allocator.allocate_one()))
            });
            // The places nobody fitted stay open; leave them out of the next size's state.
            drop(allocator);
        }
    }
}

criterion_group! {
    name = allocation;
    config = Criterion::default()
        .sample_size(50)
        .measurement_time(std::time::Duration::from_secs(5));
    targets = benches
}
criterion_main!(allocation);
