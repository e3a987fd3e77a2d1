//! The public statistics (issue 17 §2): the reports' figures anyone may see, with small
//! cells suppressed. A count under `SMALL` is never shown (`None`, drawn as "< 5"); and
//! since a series' cells add up to something a reader could know (the queue's length is
//! public), a series with one suppressed cell loses its next smallest one too, so that no
//! suppressed count is recovered by subtraction. No series here has a total of its own.

use super::tables::{table, Cell, Filter, ReportName};
use super::{month_of, Reports};
use crate::domain::catalog::{Catalog, DistrictId, Tier};
use chrono::NaiveDate;
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
    let shown = |district: DistrictId| filter.district.is_none_or(|d| d == district);
    let mut reported = |district: DistrictId, day: NaiveDate, count: u32| {
        let month = month_of(day);
        if shown(district) && range.contains(&month) {
            months.entry(month).or_default().0 += count;
        }
    };
    for place in reports.places.values() {
        reported(place.district, place.reported_on, 1);
    }
    for ((district, day, _, _), closed) in &reports.closed {
        reported(*district, *day, closed.reported);
    }
    for ((district, month), count) in &reports.filled {
        if shown(*district) && range.contains(month) {
            months.entry(*month).or_default().1 += count;
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
    use crate::domain::catalog::KindergartenId;
    use crate::domain::referral::PlaceId;
    use crate::domain::reports::{ClosedPlaces, PlaceFacts};

    /// Places reported per month count the open ones and the closed ones (kept by the day
    /// reported), and places filled per month come from the month filled; another district
    /// and months outside the range count in neither.
    #[test]
    fn places_per_month_count_open_and_closed_places_of_the_district_and_range() {
        let (esl, other) = (DistrictId(1), DistrictId(2));
        let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        let mut reports = Reports::default();
        for (n, (district, reported_on)) in
            [(esl, day(3, 2)), (esl, day(3, 30)), (other, day(3, 5))]
                .into_iter()
                .enumerate()
        {
            let facts = PlaceFacts {
                district,
                kindergarten: KindergartenId(1),
                group: None,
                reported_on,
            };
            reports.places.insert(PlaceId(n as u64 + 1), facts);
        }
        let closed = |reported, filled| ClosedPlaces {
            reported,
            filled,
            days_open: 0,
        };
        let k = KindergartenId(1);
        reports
            .closed
            .insert((esl, day(3, 10), k, None), closed(6, 5));
        reports
            .closed
            .insert((esl, day(4, 1), k, None), closed(7, 0));
        reports
            .closed
            .insert((esl, day(1, 3), k, None), closed(9, 9));
        reports
            .closed
            .insert((other, day(3, 10), k, None), closed(50, 50));
        reports.filled.insert((esl, 202604), 5);
        reports.filled.insert((esl, 202601), 9);
        reports.filled.insert((other, 202604), 50);
        let filter = Filter {
            district: Some(esl),
            from: day(3, 1),
            to: day(4, 30),
            today: day(5, 1),
        };
        assert_eq!(
            places(&reports, &filter),
            vec![(202603, Some(8), Some(0)), (202604, Some(7), Some(5))]
        );
    }

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
