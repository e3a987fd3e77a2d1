//! The in-memory waiting list at 10k, 100k and 1M queued applications.
//!
//! Targets (2-core machine, 1M applications): `position` ≤ 2 µs, `first_fit` ≤ 50 µs.
//! `insert` and `remove` are the index half of every registration, withdrawal and priority
//! decision; they run under the state write lock, so they bound how long readers wait.
//!
//! The index is built directly from synthetic `Waiting` entries that follow the
//! distribution of `kezek demo` (src/demo.rs): 5 districts of 80 kindergartens, registrations
//! spread evenly over the last four years, each child born 2 weeks to 3 years before its
//! registration and still of preschool age today, desired start from the registration date
//! to two years later, 85% listing 1–5 kindergartens and 15% "any", languages 55% kk /
//! 35% ru / 10% any, 10% priority claims of which 70% are verified (3 of the 7 categories
//! are out of turn, 4 first). Going through the service would take minutes per million;
//! the waiting list only sees `Waiting` values, so nothing is lost by skipping it.
//!
//! Run one size or one operation with a filter, e.g.
//! `cargo bench --bench waiting_list -- position/1000000`.

mod common;

use common::{micros_at, random_place, synthetic_entries, synthetic_waiting, today, DISTRICTS};
use criterion::{criterion_group, criterion_main, Criterion};
use kezek::domain::application::ApplicationId;
use kezek::domain::catalog::{DistrictId, Tier};
use kezek::domain::waiting_list::{Place, Waiting, WaitingList};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::cell::RefCell;
use std::hint::black_box;
use std::time::{Duration as StdDuration, Instant};

const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];
/// Pre-drawn queries, cycled through, so that drawing them is not measured.
const QUERIES: usize = 4096;
/// Fresh registrations inserted (then removed) per measured chunk.
const CHUNK: usize = 1000;

struct Fixture {
    list: WaitingList,
    ids: Vec<ApplicationId>,
    places: Vec<(DistrictId, Place)>,
    /// Registrations made today, not yet in the list: what `insert` adds.
    fresh: Vec<(DistrictId, Waiting)>,
}

fn fixture(n: usize) -> Fixture {
    let started = Instant::now();
    let entries = synthetic_entries(n, 42);
    let mut list = WaitingList::new();
    for (district, waiting) in &entries {
        list.insert(*district, *waiting)
            .expect("synthetic keys are unique");
    }
    debug_assert_eq!(list.check_invariants(), Ok(()));
    let mut rng = SmallRng::seed_from_u64(7);
    let ids = (0..QUERIES)
        .map(|_| {
            let (district, waiting) = entries[rng.random_range(0..entries.len())];
            ApplicationId {
                district,
                number: waiting.key.number,
            }
        })
        .collect();
    let places = (0..QUERIES).map(|_| random_place(&mut rng)).collect();
    let mut next_number = [0u32; DISTRICTS as usize];
    for (district, waiting) in &entries {
        let slot = &mut next_number[district.0 as usize - 1];
        *slot = (*slot).max(waiting.key.number.0 + 1);
    }
    let now = micros_at(today()) + 9 * 3_600_000_000;
    let fresh = (0..CHUNK)
        .map(|i| {
            let district = rng.random_range(1..=DISTRICTS);
            let number = next_number[district as usize - 1];
            next_number[district as usize - 1] += 1;
            let waiting = synthetic_waiting(&mut rng, district, number, now + i as i64, today());
            (DistrictId(district), waiting)
        })
        .collect();
    eprintln!(
        "built a waiting list of {} applications in {:.2?}",
        list.len(),
        started.elapsed()
    );
    Fixture {
        list,
        ids,
        places,
        fresh,
    }
}

fn benches(c: &mut Criterion) {
    for n in SIZES {
        // Built on first use, so a filter that skips a size skips building it.
        let cell: RefCell<Option<Fixture>> = RefCell::new(None);
        let with = |f: &mut dyn FnMut(&mut Fixture)| {
            let mut slot = cell.borrow_mut();
            f(slot.get_or_insert_with(|| fixture(n)))
        };

        // Why: a parent's detailed "where am I?": it ranks the application in its cohort,
        // each listed kindergarten's set and "any".
        c.benchmark_group("position")
            .bench_function(n.to_string(), |b| {
                with(&mut |fx| {
                    let mut i = 0;
                    b.iter(|| {
                        i = (i + 1) % QUERIES;
                        black_box(fx.list.position(black_box(fx.ids[i])))
                    })
                })
            });

        // Why: the list views (a parent's status, the public queue) need only the place in
        // the district's cohort: one rank. This is the query the 2 µs target is about.
        c.benchmark_group("cohort_position")
            .bench_function(n.to_string(), |b| {
                with(&mut |fx| {
                    let mut i = 0;
                    b.iter(|| {
                        i = (i + 1) % QUERIES;
                        black_box(fx.list.cohort_position(black_box(fx.ids[i])))
                    })
                })
            });

        // Why (diagnostic, largest size only): the same query repeated, so every line it
        // touches is in cache. The gap to `position` is the cost of cache misses.
        if n == SIZES[SIZES.len() - 1] {
            c.benchmark_group("position_same_id")
                .bench_function(n.to_string(), |b| {
                    with(&mut |fx| {
                        let id = fx.ids[0];
                        b.iter(|| black_box(fx.list.position(black_box(id))))
                    })
                });
        }

        // Why: choosing the next child for a free place must be quick enough to run for
        // every place of a mass allocation; it walks one kindergarten's and the "any" sets
        // of the band's birth years until the first application that fits.
        c.benchmark_group("first_fit")
            .bench_function(n.to_string(), |b| {
                with(&mut |fx| {
                    let mut i = 0;
                    b.iter(|| {
                        i = (i + 1) % QUERIES;
                        let (district, place) = &fx.places[i];
                        black_box(fx.list.first_fit(*district, black_box(place)))
                    })
                })
            });

        // Why: every registration inserts into 2 to 6 sets while holding the write lock;
        // new keys go at the end of their tier, as real registrations do. Measured per
        // insert over chunks of 1000, then removed again (untimed) to keep the size fixed.
        c.benchmark_group("insert")
            .bench_function(n.to_string(), |b| {
                with(&mut |fx| {
                    b.iter_custom(|iters| insert_remove(fx, iters, true));
                })
            });

        // Why: withdrawals and referrals remove from the same sets; and `set_tier`
        // (a priority decision) is a remove plus an insert.
        c.benchmark_group("remove")
            .bench_function(n.to_string(), |b| {
                with(&mut |fx| {
                    b.iter_custom(|iters| insert_remove(fx, iters, false));
                })
            });

        // Why: a priority decision moves an application to another tier (remove + insert
        // at its old time in the new tier), the costliest write to the index.
        c.benchmark_group("set_tier")
            .bench_function(n.to_string(), |b| {
                with(&mut |fx| {
                    let mut i = 0;
                    b.iter(|| {
                        i = (i + 1) % QUERIES;
                        let id = fx.ids[i];
                        let tier = fx.list.get(id).expect("queued").key.tier;
                        let other = if tier == Tier::General {
                            Tier::First
                        } else {
                            Tier::General
                        };
                        fx.list.set_tier(id, black_box(other)).expect("queued")
                    })
                })
            });
        drop(cell);
    }
}

/// Inserts fresh registrations in chunks and removes them again; times either the inserts
/// or the removes. Returns the time of `iters` operations.
fn insert_remove(fx: &mut Fixture, iters: u64, time_inserts: bool) -> StdDuration {
    let mut timed = StdDuration::ZERO;
    let mut left = iters as usize;
    while left > 0 {
        let chunk = &fx.fresh[..left.min(CHUNK)];
        let started = Instant::now();
        for (district, waiting) in chunk {
            fx.list.insert(*district, *waiting).expect("fresh");
        }
        if time_inserts {
            timed += started.elapsed();
        }
        let started = Instant::now();
        for (district, waiting) in chunk {
            let id = ApplicationId {
                district: *district,
                number: waiting.key.number,
            };
            black_box(fx.list.remove(id).expect("just inserted"));
        }
        if !time_inserts {
            timed += started.elapsed();
        }
        left -= chunk.len();
    }
    timed
}

criterion_group! {
    name = waiting_list;
    config = Criterion::default()
        .sample_size(50)
        .warm_up_time(StdDuration::from_secs(1))
        .measurement_time(StdDuration::from_secs(5));
    targets = benches
}
criterion_main!(waiting_list);
