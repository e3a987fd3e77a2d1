//! `kezek simulate --compare` (issue 18): the same city-year and seed under several policies,
//! side by side. Every figure is the independent audit's (`audit.rs`), none the allocator's.

use super::report::Figures;
use crate::domain::catalog::Tier;
use std::fmt::Write;

/// The comparison as a Markdown table: one column per policy, one row per figure.
pub fn table(columns: &[(&str, Figures)]) -> String {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |name: &str, cell: &dyn Fn(&Figures) -> String| {
        rows.push((name.into(), columns.iter().map(|(_, f)| cell(f)).collect()));
    };
    row("children placed (handed in)", &|f| {
        f.audit.choices.placed.to_string()
    });
    row("share placed at first choice", &|f| {
        let c = &f.audit.choices;
        percent(c.placed_first_choice, c.placed)
    });
    row("mean rank of the choice received", &|f| {
        let c = &f.audit.choices;
        match c.placed {
            0 => "-".into(),
            n => format!("{:.2}", c.placed_rank_sum as f64 / n as f64),
        }
    });
    for (tier, name) in [
        (Tier::OutOfTurn, "out of turn"),
        (Tier::First, "first priority"),
        (Tier::General, "general"),
    ] {
        row(&format!("wait, days, median / p90: {name}"), &|f| {
            f.wait_days(tier).map_or("-".into(), |w| {
                format!("{:.0} / {:.0}", w.median_days, w.p90_days)
            })
        });
    }
    row("places unfilled at the end", &|f| {
        f.audit.open_places_at_end.to_string()
    });
    row(
        "justified envy, ranked choices, places' first referral",
        &|f| f.audit.choices.ranked_envy_first.to_string(),
    );
    row(
        "blocking pairs (child, kindergarten, date), first referral",
        &|f| f.audit.choices.blocking_pairs.to_string(),
    );
    row("justified envy, ranked choices, all referrals", &|f| {
        f.audit.choices.ranked_envy.to_string()
    });
    row("justified envy, queue order (must be 0)", &|f| {
        f.justified_envy().to_string()
    });
    row("every other check clear", &|f| {
        if f.all_clear() { "yes" } else { "NO" }.into()
    });
    let mut out = String::new();
    let heads: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let _ = writeln!(out, "| figure | {} |", heads.join(" | "));
    let _ = writeln!(out, "|---|{}", "---:|".repeat(heads.len()));
    for (name, cells) in rows {
        let _ = writeln!(out, "| {name} | {} |", cells.join(" | "));
    }
    out
}

fn percent(part: u64, whole: u64) -> String {
    match whole {
        0 => "-".into(),
        _ => format!("{:.1} %", part as f64 * 100.0 / whole as f64),
    }
}
