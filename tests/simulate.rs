//! `kezek simulate` on a small city (2,000 registrations, 25 kindergartens): the real
//! service through a backlog and a city-year on the manual clock, then the journal audited
//! by the independent model. This guards the product's fairness end to end (no child is
//! passed over by one after it in the policy's order, with the 1 : 3 interleave on in some
//! districts) and the simulation's own promise that a seed decides every figure.

use kezek::simulate::{run, Figures, SimulateOptions};

fn simulate(seed: u64) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let options = SimulateOptions {
        seed,
        registrations: 2_000,
        kindergartens: 25,
    };
    run(&dir.path().join("kezek.db"), &options, |_| {})
        .unwrap()
        .figures
}

#[test]
fn a_small_city_year_has_no_justified_envy_and_its_seed_decides_every_figure() {
    // Three cities at once: each spends most of its time waiting for its COMMITs to reach
    // the disk, so they overlap well.
    let (figures, again, other) = std::thread::scope(|scope| {
        let runs = [7, 7, 8].map(|seed| scope.spawn(move || simulate(seed)));
        let [first, second, third] = runs.map(|run| run.join().unwrap());
        (first, second, third)
    });

    let envy = &figures.audit.envy;
    assert_eq!(figures.justified_envy(), 0, "cases: {:#?}", envy.examples);
    assert!(figures.all_clear(), "{figures:#?}");
    assert!(figures.referrals_issued() > 200, "{figures:#?}");
    assert!(
        envy.contested_interleave > 0,
        "the 1:3 cycle must have decided between the tiers at least once"
    );
    let audit = &figures.audit;
    assert!(audit.handed_in > 0 && audit.declined > 0 && audit.expired > 0);
    assert!(audit.priorities_verified > 0 && audit.priorities_rejected > 0);
    // The whole life happened too, and still no envy and no family split.
    assert!(
        audit.amended > 0 && audit.moved > 0 && audit.families > 0,
        "{audit:#?}"
    );
    assert!(audit.transfers_requested > 0, "{audit:#?}");
    assert_eq!(envy.split_families, 0);

    assert_eq!(again, figures, "the same seed, the same figures");
    assert_ne!(other.audit, figures.audit, "another seed, another city");
}

/// `kezek simulate --compare`'s two first columns on a small city: the intake round leaves no
/// justified envy with respect to ranked choices at the places' first referral, place by
/// place leaves some, and the table prints the audit's own counts.
#[test]
fn the_round_has_no_ranked_envy_where_place_by_place_has_some() {
    use kezek::simulate::{compare, run_with, SimPolicy};
    let columns: Vec<(&str, Figures)> = std::thread::scope(|scope| {
        let runs: Vec<_> = SimPolicy::compared()
            .into_iter()
            .take(2)
            .map(|(name, policy)| {
                scope.spawn(move || {
                    let dir = tempfile::tempdir().unwrap();
                    let options = SimulateOptions {
                        seed: 7,
                        registrations: 2_000,
                        kindergartens: 25,
                    };
                    let run = run_with(&dir.path().join("kezek.db"), &options, policy, |_| {});
                    (name, run.unwrap().figures)
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let (by_place, round) = (&columns[0].1, &columns[1].1);
    assert_eq!(columns[1].0, "round");
    assert!(round.all_clear() && by_place.all_clear(), "{round:#?}");
    assert_eq!(
        round.audit.choices.ranked_envy_first, 0,
        "{:#?}",
        round.audit.choices
    );
    assert_eq!(round.audit.choices.blocking_pairs, 0);
    assert!(round.audit.choices.round_referrals > 0);
    assert_eq!(round.audit.choices.ranked_envy_round, 0);
    assert_eq!(by_place.audit.choices.round_referrals, 0);
    let envy = by_place.audit.choices.ranked_envy_first;
    assert!(
        envy > 0,
        "place by place must show the envy the round removes"
    );
    assert!(round.audit.choices.placed > 0);
    let table = compare::table(&columns);
    let line = table
        .lines()
        .find(|l| l.starts_with("| justified envy, ranked choices, places' first referral"))
        .unwrap();
    assert_eq!(
        line,
        format!(
            "| justified envy, ranked choices, places' first referral (round or later) \
             | {envy} | 0 |"
        )
    );
    let own = table
        .lines()
        .find(|l| l.starts_with("| justified envy, ranked choices, the round's own"))
        .unwrap();
    assert!(own.ends_with("| - | 0 |"), "{own}");
}
