//! Synthetic waiting lists shared by the benches: the distribution of `kezek demo`
//! (src/demo.rs) without going through the service, which would take minutes per million.
#![allow(dead_code)]

use chrono::{Datelike, Duration, NaiveDate, NaiveTime};
use kezek::domain::application::{Choices, QueueKey, RegistrationNumber};
use kezek::domain::catalog::{AgeBand, DistrictId, KindergartenId, Language, SchoolAgeRule, Tier};
use kezek::domain::waiting_list::{CompactChoices, Place, Waiting};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

pub const DISTRICTS: u32 = 5;
pub const KINDERGARTENS_PER_DISTRICT: u32 = 80;

/// The date the benches take as "today" (fixed, so runs are comparable).
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).expect("a real date")
}

pub fn micros_at(date: NaiveDate) -> i64 {
    date.and_time(NaiveTime::MIN).and_utc().timestamp_micros()
}

pub fn kindergarten_of(rng: &mut SmallRng, district: u32) -> KindergartenId {
    KindergartenId((district - 1) * KINDERGARTENS_PER_DISTRICT + rng.random_range(1..=80))
}

/// One synthetic application registered on `registered` (a date) at `micros`.
pub fn synthetic_waiting(
    rng: &mut SmallRng,
    district: u32,
    number: u32,
    micros: i64,
    registered: NaiveDate,
) -> Waiting {
    let end = today();
    let school_age = SchoolAgeRule::default();
    // As demo::populate: children still of preschool age at `end`.
    let born_not_before = end - Duration::days(5 * 365);
    let oldest_days = (registered - born_not_before).num_days().clamp(15, 3 * 365);
    let birth_date = registered - Duration::days(rng.random_range(14..oldest_days));
    let leaves = school_age.leaves_preschool_on(birth_date);
    let latest_start = (leaves - Duration::days(1)).min(registered + Duration::days(730));
    let desired_start = registered
        + Duration::days(rng.random_range(0..=(latest_start - registered).num_days().max(0)));
    let choices = if rng.random_bool(0.15) {
        Choices::Any
    } else {
        let wanted = rng.random_range(1..=5usize);
        let mut chosen = Vec::with_capacity(wanted);
        while chosen.len() < wanted {
            let id = kindergarten_of(rng, district);
            if !chosen.contains(&id) {
                chosen.push(id);
            }
        }
        Choices::Listed(chosen)
    };
    let language = match rng.random_range(0..100) {
        0..55 => Some(Language::KAZAKH),
        55..90 => Some(Language::RUSSIAN),
        _ => None,
    };
    let tier = if rng.random_bool(0.10) && rng.random_bool(0.7) {
        if rng.random_range(0..7) < 3 {
            Tier::OutOfTurn
        } else {
            Tier::First
        }
    } else {
        Tier::General
    };
    Waiting {
        key: QueueKey {
            tier,
            registered_at_micros: micros,
            number: RegistrationNumber(number),
        },
        birth_date,
        desired_start,
        language,
        choices: CompactChoices::from_choices(&choices),
        held: false,
    }
}

/// `n` applications registered evenly over the four years before today, in time order.
pub fn synthetic_entries(n: usize, seed: u64) -> Vec<(DistrictId, Waiting)> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let end = micros_at(today());
    let start = end - 4 * 365 * 86_400_000_000;
    let mut next_number = [1u32; DISTRICTS as usize];
    (0..n)
        .map(|i| {
            let micros = start + (end - start) / n as i64 * i as i64;
            let registered = chrono::DateTime::from_timestamp_micros(micros)
                .expect("in range")
                .date_naive();
            let district = rng.random_range(1..=DISTRICTS);
            let number = next_number[district as usize - 1];
            next_number[district as usize - 1] += 1;
            let waiting = synthetic_waiting(&mut rng, district, number, micros, registered);
            (DistrictId(district), waiting)
        })
        .collect()
}

/// A free place as the catalog of the demo has them: one kindergarten's group for children
/// born in one calendar year (ages 2 to 5), in kk or ru, free from today.
pub fn random_place(rng: &mut SmallRng) -> (DistrictId, Place) {
    let district = rng.random_range(1..=DISTRICTS);
    let born = today().year() - rng.random_range(2..=5);
    let age_band = AgeBand::new(
        NaiveDate::from_ymd_opt(born, 1, 1).expect("1 January exists"),
        NaiveDate::from_ymd_opt(born, 12, 31).expect("31 December exists"),
    )
    .expect("a calendar year is a valid band");
    let language = if rng.random_bool(0.5) {
        Language::KAZAKH
    } else {
        Language::RUSSIAN
    };
    let place = Place {
        kindergarten: kindergarten_of(rng, district),
        age_band,
        language,
        available_from: today(),
    };
    (DistrictId(district), place)
}
