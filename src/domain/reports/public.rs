//! The public statistics (issue 17 §2): the reports' figures anyone may see, with small
//! cells suppressed. A count under `SMALL` is never shown (`None`, drawn as "< 5"); and
//! since a series' cells add up to something a reader could know (the queue's length is
//! public), a series with one suppressed cell loses its next smallest one too, so that no
//! suppressed count is recovered by subtraction. No series here has a total of its own.

use super::tables::{table, Cell, Filter, ReportName};
use super::{month_of, Reports};
use crate::domain::catalog::{Catalog, Tier};
use std::collections::BTreeMap;

/// Counts below this are suppressed.
pub const SMALL: u32 = 5;

/// A count as shown: `None` when suppressed.
pub type Shown = Option<u32>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statistics {
    /// Waiting now, per birth year.
    pub queue: Vec<(i32, Shown)>,
    /// Referrals issued and handed in, per month (`year * 100 + month`).
    pub referrals: Vec<(u32, Shown, Shown)>,
    /// Days from registration to the first referral, per tier: how many, and the median
    /// (shown only when that many are not suppressed).
    pub waits: Vec<(Tier, Shown, Option<u32>)>,
    /// Places reported and filled, per month.
    pub places: Vec<(u32, Shown, Shown)>,
}

/// Suppresses small cells of one series, and a complementary one where a single cell went.
pub fn suppress(counts: &[u32]) -> Vec<Shown> {
    let mut shown: Vec<Shown> = counts
        .iter()
        .map(|count| (*count >= SMALL || *count == 0).then_some(*count))
        .collect();
    let hidden = shown.iter().filter(|cell| cell.is_none()).count();
    if hidden == 1 {
        let smallest = shown
            .iter()
            .enumerate()
            .filter_map(|(i, cell)| cell.filter(|count| *count > 0).map(|count| (count, i)))
            .min();
        if let Some((_, i)) = smallest {
            shown[i] = None;
        }
    }
    shown
}

pub fn statistics(reports: &Reports, catalog: &Catalog, filter: &Filter) -> Statistics {
    let mut per_year: BTreeMap<i32, u32> = BTreeMap::new();
    for ((district, year, _), count) in &reports.queue {
        if filter.district.is_none_or(|d| d == *district) {
            *per_year.entry(*year).or_default() += count;
        }
    }
    let years: Vec<i32> = per_year.keys().copied().collect();
    let counts: Vec<u32> = per_year.values().copied().collect();
    let queue = years.into_iter().zip(suppress(&counts)).collect();
    Statistics {
        queue,
        referrals: referrals(reports, catalog, filter),
        waits: waits(reports, filter),
        places: places(reports, filter),
    }
}

fn cell(cell: &Cell) -> u32 {
    match cell {
        Cell::Int(value) => u32::try_from(*value).unwrap_or(0),
        _ => 0,
    }
}

fn month_cell(cell: &Cell) -> u32 {
    match cell {
        Cell::Text(text) => text.replace('-', "").parse().unwrap_or(0),
        _ => 0,
    }
}

/// Two series per month, each suppressed on its own.
fn paired(months: Vec<u32>, first: Vec<u32>, second: Vec<u32>) -> Vec<(u32, Shown, Shown)> {
    let (first, second) = (suppress(&first), suppress(&second));
    months
        .into_iter()
        .zip(first.into_iter().zip(second))
        .map(|(month, (a, b))| (month, a, b))
        .collect()
}

fn referrals(reports: &Reports, catalog: &Catalog, filter: &Filter) -> Vec<(u32, Shown, Shown)> {
    let rows = table(reports, catalog, ReportName::Referrals, filter).rows;
    paired(
        rows.iter().map(|row| month_cell(&row[0])).collect(),
        rows.iter().map(|row| cell(&row[1])).collect(),
        rows.iter().map(|row| cell(&row[2])).collect(),
    )
}

fn waits(reports: &Reports, filter: &Filter) -> Vec<(Tier, Shown, Option<u32>)> {
    let mut per_tier: BTreeMap<Tier, super::Days> = BTreeMap::new();
    for ((district, tier, _, month), days) in &reports.waited {
        if filter.district.is_none_or(|d| d == *district)
            && (month_of(filter.from)..=month_of(filter.to)).contains(month)
        {
            let merged = per_tier.entry(*tier).or_default();
            for (value, count) in days {
                *merged.entry(*value).or_default() += count;
            }
        }
    }
    let counts: Vec<u32> = per_tier.values().map(|days| days.values().sum()).collect();
    per_tier
        .iter()
        .zip(suppress(&counts))
        .map(|((tier, days), shown)| {
            let median = shown.and_then(|_| super::percentile(days, 0.5));
            (*tier, shown, median)
        })
        .collect()
}

fn places(reports: &Reports, filter: &Filter) -> Vec<(u32, Shown, Shown)> {
    let mut months: BTreeMap<u32, (u32, u32)> = BTreeMap::new();
    let range = month_of(filter.from)..=month_of(filter.to);
    for place in reports.places.values() {
        if filter.district.is_some_and(|d| d != place.district) {
            continue;
        }
        let reported = month_of(place.reported_on);
        if range.contains(&reported) {
            months.entry(reported).or_default().0 += 1;
        }
        if let Some(filled) = place.filled_on.map(month_of).filter(|m| range.contains(m)) {
            months.entry(filled).or_default().1 += 1;
        }
    }
    paired(
        months.keys().copied().collect(),
        months.values().map(|(reported, _)| *reported).collect(),
        months.values().map(|(_, filled)| *filled).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_cells_are_hidden_and_a_lone_one_takes_the_next_smallest_with_it() {
        assert_eq!(suppress(&[12, 3, 40]), vec![None, None, Some(40)]);
        // Two small ones hide each other; nothing more goes.
        assert_eq!(
            suppress(&[12, 3, 40, 1]),
            vec![Some(12), None, Some(40), None]
        );
        // Nothing small, nothing hidden; zero is no child and is shown.
        assert_eq!(suppress(&[5, 0, 9]), vec![Some(5), Some(0), Some(9)]);
        // A lone small cell in a series of one: hidden, with nothing else to hide.
        assert_eq!(suppress(&[4]), vec![None]);
    }
}
