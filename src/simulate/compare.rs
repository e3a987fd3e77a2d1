//! `kezek simulate --compare` (issue 18): the same city-year and seed under several policies,
//! side by side. Every figure is the independent audit's (`audit.rs`), none the allocator's.
//! The administrators' what-if page (`http::what_if`) runs the same `run` and reads the
//! same `rows`, so the page and the command line cannot disagree.

use super::report::Figures;
use super::{run_with, SimPolicy, SimulateError, SimulateOptions};
use crate::domain::catalog::Tier;
use std::fmt::Write;
use std::path::Path;

/// Runs each of `policies` on a new database of its own under `scratch` (which must exist),
/// all at once: each city spends most of its time waiting for its commits to reach the
/// disk, so they overlap well. Answers the figures in the order of `policies`.
pub fn run(
    options: &SimulateOptions,
    policies: &[(&'static str, SimPolicy)],
    scratch: &Path,
) -> Result<Vec<(&'static str, Figures)>, SimulateError> {
    let runs: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = policies
            .iter()
            .enumerate()
            .map(|(index, (name, policy))| {
                let path = scratch.join(format!("city-{index}.db"));
                scope.spawn(move || (*name, run_with(&path, options, *policy, |_| {})))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a simulation thread"))
            .collect()
    });
    runs.into_iter()
        .map(|(name, simulation)| simulation.map(|s| (name, s.figures)))
        .collect()
}

/// One row of the comparison: a stable key (the page's texts are keyed by it), its English
/// name (the Markdown table's), and one cell per column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub key: &'static str,
    pub name: String,
    pub cells: Vec<String>,
}

/// The comparison's rows, one cell per column.
pub fn rows(columns: &[(&str, Figures)]) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    let mut row = |key: &'static str, name: &str, cell: &dyn Fn(&Figures) -> String| {
        rows.push(Row {
            key,
            name: name.into(),
            cells: columns.iter().map(|(_, f)| cell(f)).collect(),
        });
    };
    row("placed", "children placed (handed in)", &|f| {
        f.audit.choices.placed.to_string()
    });
    row("first_choice", "share placed at first choice", &|f| {
        let c = &f.audit.choices;
        percent(c.placed_first_choice, c.placed)
    });
    row("mean_rank", "mean rank of the choice received", &|f| {
        let c = &f.audit.choices;
        match c.placed {
            0 => "-".into(),
            n => format!("{:.2}", c.placed_rank_sum as f64 / n as f64),
        }
    });
    for (tier, key, name) in [
        (Tier::OutOfTurn, "wait_out_of_turn", "out of turn"),
        (Tier::First, "wait_first", "first priority"),
        (Tier::General, "wait_general", "general"),
    ] {
        row(key, &format!("wait, days, median / p90: {name}"), &|f| {
            f.wait_days(tier).map_or("-".into(), |w| {
                format!("{:.0} / {:.0}", w.median_days, w.p90_days)
            })
        });
    }
    row("unfilled", "places unfilled at the end", &|f| {
        f.audit.open_places_at_end.to_string()
    });
    // Only where a round issued referrals: place by place has no round's own referrals.
    let of_round = |figure: fn(&Figures) -> u64| {
        move |f: &Figures| match f.audit.choices.round_referrals {
            0 => "-".to_string(),
            _ => figure(f).to_string(),
        }
    };
    row(
        "envy_round",
        "justified envy, ranked choices, the round's own referrals (must be 0)",
        &of_round(|f| f.audit.choices.ranked_envy_round),
    );
    row(
        "pairs_round",
        "blocking pairs (child, kindergarten, date), the round's own referrals",
        &of_round(|f| f.audit.choices.blocking_pairs_round),
    );
    row(
        "envy_first",
        "justified envy, ranked choices, places' first referral (round or later)",
        &|f| f.audit.choices.ranked_envy_first.to_string(),
    );
    row(
        "pairs_first",
        "blocking pairs (child, kindergarten, date), first referral",
        &|f| f.audit.choices.blocking_pairs.to_string(),
    );
    row(
        "envy_all",
        "justified envy, ranked choices, all referrals",
        &|f| f.audit.choices.ranked_envy.to_string(),
    );
    row(
        "queue_envy",
        "justified envy, queue order (must be 0)",
        &|f| f.justified_envy().to_string(),
    );
    row("all_clear", "every other check clear", &|f| {
        if f.all_clear() { "yes" } else { "NO" }.into()
    });
    rows
}

/// The comparison as a Markdown table: one column per policy, one row per figure.
pub fn table(columns: &[(&str, Figures)]) -> String {
    let mut out = String::new();
    let heads: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let _ = writeln!(out, "| figure | {} |", heads.join(" | "));
    let _ = writeln!(out, "|---|{}", "---:|".repeat(heads.len()));
    for row in rows(columns) {
        let _ = writeln!(out, "| {} | {} |", row.name, row.cells.join(" | "));
    }
    out
}

fn percent(part: u64, whole: u64) -> String {
    match whole {
        0 => "-".into(),
        _ => format!("{:.1} %", part as f64 * 100.0 / whole as f64),
    }
}
