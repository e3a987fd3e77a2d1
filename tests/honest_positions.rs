//! Honest positions under the 1 : 3 policy.
//!
//! DOMAIN.md: "a parent's position is what the cycle will actually do, not a plain rank".
//! A child shown 4th must get the 4th referral of its cohort if nobody else joins. Two
//! properties hold the service to it:
//!
//! 1. `InterleaveCycle::turns_before`, the arithmetic, against a model that plays the cycle
//!    step by step over three plain queues (out of turn, first priority, general), from any
//!    cycle state, for a child anywhere in any tier.
//! 2. End to end, through the real service: a cohort with mixed verified tiers in a district
//!    with the interleave on, the cycle moved by a few referrals first; every waiting child's
//!    position is read, then places everyone fits are reported one at a time, and each child
//!    must get exactly the referral its position announced (and its count ahead for its
//!    kindergarten says the same, since every child listed it).
//! 3. The public queue (`GET /api/v1/districts/{district}/queue`, the page beside it) lists
//!    the cohort in that same order, page by page: the n-th listed child gets the n-th
//!    referral.

mod common;
#[path = "common/http.rs"]
mod http;

use common::{date, valid_form, TestApp};
use kezek::domain::application::ApplicationId;
use kezek::domain::catalog::{AgeBand, Language, Tier};
use kezek::domain::event::Actor;
use kezek::domain::referral::{DistrictPolicy, InterleaveCycle, GENERAL_PER_FIRST};
use kezek::domain::waiting_list::TierSplit;
use kezek::service::{Command, NewPlaces, Outcome};
use proptest::prelude::*;
use std::collections::VecDeque;

/// Plays the cycle place by place until the child is served; answers how many went before.
/// Written from DOMAIN.md and `choose_for`'s rule, not from `turns_before`.
fn turns_before_played(cycle: u8, split: &TierSplit) -> u32 {
    // Each queue holds tier members in order; the child is `None`-marked by its index.
    let mut queues: [VecDeque<bool>; 3] = split.totals.map(|n| (0..n).map(|_| false).collect());
    let own = match split.tier {
        Tier::OutOfTurn => 0,
        Tier::First => 1,
        Tier::General => 2,
    };
    // The child itself is one of its tier's entries, after `ahead_in_tier` others.
    queues[own].insert(split.ahead_in_tier as usize, true);
    let mut generals_since_first = cycle;
    let mut served = 0;
    loop {
        let pick = if !queues[0].is_empty() {
            0
        } else if !queues[1].is_empty()
            && (generals_since_first >= GENERAL_PER_FIRST || queues[2].is_empty())
        {
            1
        } else {
            2
        };
        let is_child = queues[pick]
            .pop_front()
            .expect("the child is still waiting");
        if is_child {
            return served;
        }
        served += 1;
        match pick {
            1 => generals_since_first = 0,
            2 => generals_since_first = (generals_since_first + 1).min(GENERAL_PER_FIRST),
            _ => {}
        }
    }
}

fn tier_of(value: u8) -> Tier {
    Tier::from_u8(value).unwrap()
}

proptest! {
    #[test]
    fn turns_before_plays_the_cycle_out(
        cycle in 0u8..=GENERAL_PER_FIRST,
        totals in proptest::array::uniform3(0u32..12),
        tier in 0u8..=2,
        ahead_pick in 0u32..12,
    ) {
        let tier = tier_of(tier);
        let own = tier.as_u8() as usize;
        // The child is one of its tier's entries: ahead of it at most the others.
        let mut totals = totals;
        totals[own] = totals[own].max(ahead_pick);
        let split = TierSplit { tier, totals, ahead_in_tier: ahead_pick.min(totals[own]) };
        prop_assert_eq!(
            InterleaveCycle(cycle).turns_before(&split),
            turns_before_played(cycle, &split),
            "{:?} from cycle {}", split, cycle
        );
    }
}

/// Registers a child of the 2022 cohort in ESL, choosing kindergarten 1 first; with a
/// claim of `tier` verified at once when it is not general.
fn register(app: &TestApp, serial: u16, tier: Tier) -> ApplicationId {
    let mut form = valid_form(serial);
    let category = match tier {
        Tier::OutOfTurn => Some("military_family"),
        Tier::First => Some("orphan"),
        Tier::General => None,
    };
    if let Some(category) = category {
        form.priority_category = Some(category.into());
        form.priority_document = Some(format!("№{serial}"));
    }
    let id = app.register(form).unwrap().id;
    if category.is_some() {
        app.service()
            .submit_blocking(Command::VerifyPriority { id }, Actor::staff("officer"))
            .unwrap();
    }
    id
}

/// One place at kindergarten 1 that every registered child fits; the referral's child.
fn report_one(app: &TestApp) -> Option<ApplicationId> {
    let places = NewPlaces {
        kindergarten: app.kindergartens[0],
        group: None,
        age_band: Some(AgeBand::new(date(2022, 1, 1), date(2022, 12, 31)).unwrap()),
        language: Some(Language::KAZAKH),
        count: 1,
        available_from: date(2027, 9, 1),
    };
    match app
        .service()
        .submit_blocking(Command::ReportPlaces(places), Actor::staff("kindergarten"))
        .unwrap()
    {
        Outcome::PlacesReported { referrals, .. } => referrals.first().map(|r| r.application),
        other => panic!("{other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn each_child_gets_the_referral_its_position_announced(
        tiers in proptest::collection::vec(0u8..=2, 4..16),
        served_first in 0usize..5,
    ) {
        let app = TestApp::spawn();
        let policy = DistrictPolicy {
            interleave_first_priority: true,
            ..DistrictPolicy::default()
        };
        app.service()
            .submit_blocking(Command::SetPolicy { district: app.district, policy }, Actor::system())
            .unwrap();
        let mut waiting: Vec<ApplicationId> = tiers
            .iter()
            .enumerate()
            .map(|(i, t)| register(&app, i as u16 + 1, tier_of(*t)))
            .collect();
        // Move the cycle somewhere by serving a few first.
        for _ in 0..served_first.min(waiting.len() - 1) {
            let served = report_one(&app).expect("someone fits");
            waiting.retain(|id| *id != served);
        }
        let announced: Vec<(ApplicationId, u32, u32)> = waiting
            .iter()
            .map(|id| {
                let position = app.service().position(*id).unwrap();
                // The open-data export's cheaper figure is the same one.
                let cohort_only = app.service().read().cohort_position(*id);
                assert_eq!(cohort_only, Some(position.in_cohort), "{id:?}");
                let ahead_at_first_choice = position.ahead_per_kindergarten[0].1;
                (*id, position.in_cohort, ahead_at_first_choice)
            })
            .collect();
        for turn in 1..=waiting.len() as u32 {
            let served = report_one(&app).expect("someone fits");
            let (_, in_cohort, ahead) = announced
                .iter()
                .find(|(id, _, _)| *id == served)
                .copied()
                .expect("a waiting child was served");
            prop_assert_eq!(in_cohort, turn, "{:?} was announced {} and got turn {}", served, in_cohort, turn);
            prop_assert_eq!(ahead + 1, turn);
        }
    }
}

/// The public queue lists, page by page, the order in which the cycle gives places: with
/// the cycle moved first, first-priority children stand between general ones there, not
/// after them as the key order has it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_queue_lists_children_in_the_order_places_go() {
    use http::Go;
    let server = http::Server::start().await;
    let tiers = [2u8, 2, 1, 2, 1, 2, 2, 0, 1, 2, 1];
    let waiting = tokio::task::block_in_place(|| {
        let app = &server.app;
        let policy = DistrictPolicy {
            interleave_first_priority: true,
            ..DistrictPolicy::default()
        };
        app.service()
            .submit_blocking(
                Command::SetPolicy {
                    district: app.district,
                    policy,
                },
                Actor::system(),
            )
            .unwrap();
        let mut waiting: Vec<ApplicationId> = tiers
            .iter()
            .enumerate()
            .map(|(i, t)| register(app, i as u16 + 1, tier_of(*t)))
            .collect();
        // Out of turn, then a first-priority child: the cycle now owes three general turns.
        for _ in 0..2 {
            let served = report_one(app).expect("someone fits");
            waiting.retain(|id| *id != served);
        }
        waiting
    });
    let kindergarten = server.kindergarten_id(0);
    for filter in [format!("&kindergarten={kindergarten}"), String::new()] {
        let mut listed: Vec<(u64, u32)> = Vec::new();
        for offset in (0..waiting.len()).step_by(4) {
            let page = server
                .get(&format!(
                    "/api/v1/districts/ESL/queue?cohort=2022&offset={offset}&limit=4{filter}"
                ))
                .go()
                .await;
            assert_eq!(page.status, 200, "{}", page.text);
            let body = page.json();
            assert_eq!(body["total"], waiting.len());
            for entry in body["entries"].as_array().unwrap() {
                let number = entry["number"].as_str().unwrap();
                let n: u32 = number.trim_start_matches("ESL-").parse().unwrap();
                listed.push((entry["position"].as_u64().unwrap(), n));
            }
        }
        let positions: Vec<u64> = listed.iter().map(|(p, _)| *p).collect();
        assert_eq!(positions, (1..=waiting.len() as u64).collect::<Vec<_>>());
        // Each listed child's own position says the same.
        for (position, number) in &listed {
            let id = *waiting.iter().find(|id| id.number.0 == *number).unwrap();
            let own = server.app.service().position(id).unwrap();
            assert_eq!(u64::from(own.in_cohort), *position, "ESL-{number}{filter}");
        }
        let key_order: Vec<u32> = {
            let mut by_key = listed.iter().map(|(_, n)| *n).collect::<Vec<_>>();
            by_key.sort_by_key(|n| (tiers[*n as usize - 1] as u32 * 1000) + n);
            by_key
        };
        assert_ne!(
            listed.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
            key_order,
            "this cohort's cycle order differs from its key order"
        );
        if filter.is_empty() {
            // Served one place at a time, the children come in the listed order (last:
            // serving empties the queue).
            let served: Vec<u32> = tokio::task::block_in_place(|| {
                (0..waiting.len())
                    .map(|_| report_one(&server.app).expect("someone fits").number.0)
                    .collect()
            });
            assert_eq!(served, listed.iter().map(|(_, n)| *n).collect::<Vec<_>>());
        }
    }
}
