//! Each report as one table of figures, read from the aggregates: the API's JSON and CSV,
//! the pages' accessible table and their chart are all drawn from the same `Table`, so they
//! cannot disagree. Every report reads only keys of the district asked for (or all), and
//! months or weeks inside the range: no work grows with the number of applications except
//! the places report, which walks the open places one by one and the closed ones by the day
//! they were reported (`Reports::closed`).

use super::{month_of, percentile, week_of, Days, Decision, Outcome, Question, Reports};
use crate::domain::application::Satisfaction;
use crate::domain::catalog::{Catalog, DistrictId, GroupId, KindergartenId, Tier};
use crate::domain::document_request::MANUAL_STEP_WORKING_DAYS;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// The reports there are, by the name the URL uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReportName {
    Queue,
    Kindergartens,
    Trend,
    Waiting,
    StillWaiting,
    Referrals,
    Places,
    Manual,
    Officers,
    Survey,
}

impl ReportName {
    pub const ALL: [ReportName; 10] = [
        ReportName::Queue,
        ReportName::Kindergartens,
        ReportName::Trend,
        ReportName::Waiting,
        ReportName::StillWaiting,
        ReportName::Referrals,
        ReportName::Places,
        ReportName::Manual,
        ReportName::Officers,
        ReportName::Survey,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ReportName::Queue => "queue",
            ReportName::Kindergartens => "kindergartens",
            ReportName::Trend => "trend",
            ReportName::Waiting => "waiting",
            ReportName::StillWaiting => "still-waiting",
            ReportName::Referrals => "referrals",
            ReportName::Places => "places",
            ReportName::Manual => "manual",
            ReportName::Officers => "officers",
            ReportName::Survey => "survey",
        }
    }

    pub fn parse(code: &str) -> Option<ReportName> {
        ReportName::ALL.into_iter().find(|name| name.code() == code)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    Int(i64),
    Text(String),
    /// No value (a median of nothing).
    Empty,
}

/// Which figures a report covers: a district or all, and the days (both ends inclusive)
/// that monthly and weekly series are cut to. `today` is for "now" figures (days open).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Filter {
    pub district: Option<DistrictId>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub today: NaiveDate,
}

impl Filter {
    fn district(&self, district: DistrictId) -> bool {
        self.district.is_none_or(|d| d == district)
    }

    fn month(&self, month: u32) -> bool {
        (month_of(self.from)..=month_of(self.to)).contains(&month)
    }
}

/// A report's figures: column codes, rows, and which columns a chart draws (the first is
/// the label, the others bars).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub name: ReportName,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
    pub label: usize,
    pub bars: Vec<usize>,
}

pub fn tier_code(tier: Tier) -> &'static str {
    match tier {
        Tier::OutOfTurn => "out_of_turn",
        Tier::First => "first",
        Tier::General => "general",
    }
}

fn satisfaction_code(answer: Satisfaction) -> &'static str {
    match answer {
        Satisfaction::Not => "not",
        Satisfaction::Partly => "partly",
        Satisfaction::Fully => "fully",
    }
}

fn int(value: impl Into<i64>) -> Cell {
    Cell::Int(value.into())
}

fn month_text(month: u32) -> Cell {
    Cell::Text(format!("{}-{:02}", month / 100, month % 100))
}

fn optional(value: Option<u32>) -> Cell {
    value.map_or(Cell::Empty, int)
}

pub fn table(reports: &Reports, catalog: &Catalog, name: ReportName, filter: &Filter) -> Table {
    match name {
        ReportName::Queue => queue(reports, filter),
        ReportName::Kindergartens => kindergartens(reports, catalog, filter),
        ReportName::Trend => trend(reports, filter),
        ReportName::Waiting => waiting(reports, filter),
        ReportName::StillWaiting => still_waiting(reports, filter),
        ReportName::Referrals => referrals(reports, filter),
        ReportName::Places => places(reports, catalog, filter),
        ReportName::Manual => manual(reports, catalog, filter),
        ReportName::Officers => officers(reports, filter),
        ReportName::Survey => survey(reports, filter),
    }
}

/// Waiting now, by birth year and tier (districts summed when the filter takes all).
fn queue(reports: &Reports, filter: &Filter) -> Table {
    let mut counts: BTreeMap<(i32, Tier), u32> = BTreeMap::new();
    for ((district, year, tier), count) in &reports.queue {
        if filter.district(*district) {
            *counts.entry((*year, *tier)).or_default() += count;
        }
    }
    let rows = counts
        .into_iter()
        .map(|((year, tier), count)| {
            vec![int(year), Cell::Text(tier_code(tier).into()), int(count)]
        })
        .collect();
    Table {
        name: ReportName::Queue,
        columns: vec!["birth_year", "tier", "waiting"],
        rows,
        label: 0,
        bars: vec![2],
    }
}

fn kindergartens(reports: &Reports, catalog: &Catalog, filter: &Filter) -> Table {
    let mut rows = Vec::new();
    for ((district, kindergarten), (first, any)) in &reports.by_kindergarten {
        if filter.district(*district) {
            let number = catalog
                .kindergartens
                .get(kindergarten)
                .map_or_else(|| kindergarten.0.to_string(), |k| k.number.clone());
            rows.push(vec![
                int(kindergarten.0),
                Cell::Text(number),
                int(*first),
                int(*any),
            ]);
        }
    }
    let any: u32 = reports
        .any_kindergarten
        .iter()
        .filter(|(district, _)| filter.district(**district))
        .map(|(_, count)| count)
        .sum();
    rows.push(vec![
        Cell::Empty,
        Cell::Text("*".into()),
        int(any),
        int(any),
    ]);
    Table {
        name: ReportName::Kindergartens,
        columns: vec!["kindergarten", "number", "first_choice", "any_choice"],
        rows,
        label: 1,
        bars: vec![2, 3],
    }
}

/// The waiting total at the end of each week of the range, carried over weeks without
/// events.
fn trend(reports: &Reports, filter: &Filter) -> Table {
    let mut last: BTreeMap<DistrictId, u32> = BTreeMap::new();
    let mut totals: BTreeMap<NaiveDate, u32> = BTreeMap::new();
    let (first, end) = (week_of(filter.from), week_of(filter.to));
    let mut changes = reports
        .weekly
        .iter()
        .filter(|((district, _), _)| filter.district(*district))
        .map(|((district, week), count)| (*week, *district, *count))
        .collect::<Vec<_>>();
    changes.sort_unstable();
    let mut changes = changes.into_iter().peekable();
    let mut week = first;
    while week <= end {
        while let Some((_, district, count)) = changes.next_if(|(w, _, _)| *w <= week) {
            last.insert(district, count);
        }
        totals.insert(week, last.values().sum());
        week += chrono::Duration::days(7);
    }
    let rows = totals
        .into_iter()
        .map(|(week, count)| vec![Cell::Text(week.to_string()), int(count)])
        .collect();
    Table {
        name: ReportName::Trend,
        columns: vec!["week", "waiting"],
        rows,
        label: 0,
        bars: vec![1],
    }
}

fn merge(into: &mut Days, from: &Days) {
    for (days, count) in from {
        *into.entry(*days).or_default() += count;
    }
}

fn wait_row(tier: Tier, year: i32, days: &Days) -> Vec<Cell> {
    let n: u32 = days.values().sum();
    vec![
        Cell::Text(tier_code(tier).into()),
        int(year),
        int(n),
        optional(percentile(days, 0.5)),
        optional(percentile(days, 0.9)),
    ]
}

/// Days from registration to the first referral, for referrals issued in the range.
fn waiting(reports: &Reports, filter: &Filter) -> Table {
    let mut merged: BTreeMap<(Tier, i32), Days> = BTreeMap::new();
    for ((district, tier, year, month), days) in &reports.waited {
        if filter.district(*district) && filter.month(*month) {
            merge(merged.entry((*tier, *year)).or_default(), days);
        }
    }
    wait_table(ReportName::Waiting, "referred", &merged)
}

/// How long the children waiting now have waited so far, as of `today`.
fn still_waiting(reports: &Reports, filter: &Filter) -> Table {
    let mut merged: BTreeMap<(Tier, i32), Days> = BTreeMap::new();
    for ((district, tier, year), since) in &reports.waiting_since {
        if filter.district(*district) {
            let days = merged.entry((*tier, *year)).or_default();
            for (day, count) in since.iter() {
                let waited = (filter.today - day).num_days().max(0) as u32;
                *days.entry(waited).or_default() += count;
            }
        }
    }
    wait_table(ReportName::StillWaiting, "waiting", &merged)
}

/// A table of waits by tier and birth year: how many (`counted`), the median and the 90th
/// percentile of their days.
fn wait_table(
    name: ReportName,
    counted: &'static str,
    merged: &BTreeMap<(Tier, i32), Days>,
) -> Table {
    Table {
        name,
        columns: vec!["tier", "birth_year", counted, "median_days", "p90_days"],
        rows: merged
            .iter()
            .map(|((tier, year), days)| wait_row(*tier, *year, days))
            .collect(),
        label: 1,
        bars: vec![3, 4],
    }
}

fn referrals(reports: &Reports, filter: &Filter) -> Table {
    let mut months: BTreeMap<u32, [u32; 6]> = BTreeMap::new();
    for ((district, month, outcome), count) in &reports.outcomes {
        if filter.district(*district) && filter.month(*month) {
            let slot = Outcome::ALL
                .iter()
                .position(|o| o == outcome)
                .expect("listed");
            months.entry(*month).or_default()[slot] += count;
        }
    }
    let mut columns = vec!["month"];
    columns.extend(Outcome::ALL.iter().map(|o| o.code()));
    Table {
        name: ReportName::Referrals,
        columns,
        rows: months
            .into_iter()
            .map(|(month, counts)| {
                std::iter::once(month_text(month))
                    .chain(counts.into_iter().map(int))
                    .collect()
            })
            .collect(),
        label: 0,
        bars: vec![1, 2],
    }
}

/// Places reported in the range, per kindergarten and group: filled, open now, the days
/// they stayed open (to filling, withdrawal or today), and the group's enrolled children
/// against its capacity.
fn places(reports: &Reports, catalog: &Catalog, filter: &Filter) -> Table {
    #[derive(Default)]
    struct Figures {
        reported: u32,
        filled: u32,
        open: u32,
        days_open: i64,
    }
    let mut groups: BTreeMap<_, Figures> = BTreeMap::new();
    for place in reports.places.values() {
        if !filter.district(place.district)
            || place.reported_on < filter.from
            || place.reported_on > filter.to
        {
            continue;
        }
        let figures = groups.entry((place.kindergarten, place.group)).or_default();
        figures.reported += 1;
        figures.open += 1;
        figures.days_open += (filter.today - place.reported_on).num_days().max(0);
    }
    // The closed ones by the day reported: each district's range of days, not all of them.
    let mut districts: Vec<DistrictId> = match filter.district {
        Some(district) => vec![district],
        None => reports.closed.keys().map(|key| key.0).collect(),
    };
    districts.dedup();
    for district in districts {
        let first = (district, filter.from, KindergartenId(0), None);
        let last = (
            district,
            filter.to,
            KindergartenId(u32::MAX),
            Some(GroupId(u32::MAX)),
        );
        for ((_, _, kindergarten, group), closed) in reports.closed.range(first..=last) {
            let figures = groups.entry((*kindergarten, *group)).or_default();
            figures.reported += closed.reported;
            figures.filled += closed.filled;
            figures.days_open += closed.days_open;
        }
    }
    let rows = groups
        .into_iter()
        .map(|((kindergarten, group), f)| {
            let capacity = group
                .and_then(|g| catalog.groups.get(&g))
                .map(|g| g.capacity);
            let enrolled = reports.enrolled.get(&(kindergarten, group)).copied();
            vec![
                int(kindergarten.0),
                group.map_or(Cell::Empty, |g| int(g.0)),
                int(f.reported),
                int(f.filled),
                int(f.open),
                int(f.days_open),
                optional(enrolled),
                optional(capacity),
            ]
        })
        .collect();
    Table {
        name: ReportName::Places,
        columns: vec![
            "kindergarten",
            "group",
            "reported",
            "filled",
            "open",
            "days_open",
            "enrolled",
            "capacity",
        ],
        rows,
        label: 0,
        bars: vec![2, 3],
    }
}

/// Priority claims: waiting for an officer now (and of those, overdue: past the manual
/// step's deadline in working days, as the officer's work list counts it), and decided per
/// month of the range.
fn manual(reports: &Reports, catalog: &Catalog, filter: &Filter) -> Table {
    let (mut waiting, mut overdue) = (0u32, 0u32);
    for ((district, counts_from), count) in &reports.claims {
        if filter.district(*district) {
            waiting += count;
            // A paused step (a document asked for) is never overdue.
            let due = counts_from.map(|day| {
                catalog
                    .calendar
                    .manual_step_due_on(day, MANUAL_STEP_WORKING_DAYS)
            });
            if due.is_some_and(|due| due < filter.today) {
                overdue += count;
            }
        }
    }
    let mut rows = vec![vec![
        Cell::Text("now".into()),
        int(waiting),
        int(overdue),
        int(0),
        int(0),
    ]];
    let mut months: BTreeMap<u32, (u32, u32)> = BTreeMap::new();
    for ((district, month, decision), count) in &reports.decisions {
        if filter.district(*district) && filter.month(*month) {
            let entry = months.entry(*month).or_default();
            match decision {
                Decision::Verified => entry.0 += count,
                Decision::Rejected => entry.1 += count,
            }
        }
    }
    rows.extend(months.into_iter().map(|(month, (verified, rejected))| {
        vec![
            month_text(month),
            int(0),
            int(0),
            int(verified),
            int(rejected),
        ]
    }));
    Table {
        name: ReportName::Manual,
        columns: vec!["month", "claims_waiting", "overdue", "verified", "rejected"],
        rows,
        label: 0,
        bars: vec![1, 3, 4],
    }
}

/// Priority decisions per staff account and month of the range.
fn officers(reports: &Reports, filter: &Filter) -> Table {
    let mut counts: BTreeMap<(u32, &str), u32> = BTreeMap::new();
    for ((district, account, month), count) in &reports.decided_by {
        if filter.district(*district) && filter.month(*month) {
            *counts.entry((*month, account.as_str())).or_default() += count;
        }
    }
    Table {
        name: ReportName::Officers,
        columns: vec!["month", "officer", "decided"],
        rows: counts
            .into_iter()
            .map(|((month, account), count)| {
                vec![
                    month_text(month),
                    Cell::Text(account.to_string()),
                    int(count),
                ]
            })
            .collect(),
        label: 1,
        bars: vec![2],
    }
}

fn survey(reports: &Reports, filter: &Filter) -> Table {
    const ANSWERS: [Satisfaction; 3] =
        [Satisfaction::Fully, Satisfaction::Partly, Satisfaction::Not];
    let mut months: BTreeMap<(u32, Question), [u32; 3]> = BTreeMap::new();
    for ((district, month, question, answer), count) in &reports.survey {
        if filter.district(*district) && filter.month(*month) {
            let slot = ANSWERS.iter().position(|a| a == answer).expect("listed");
            months.entry((*month, *question)).or_default()[slot] += count;
        }
    }
    let rows = months
        .into_iter()
        .map(|((month, question), counts)| {
            let question = match question {
                Question::Process => "process",
                Question::Information => "information",
            };
            let mut row = vec![month_text(month), Cell::Text(question.into())];
            row.extend(counts.into_iter().map(int));
            row
        })
        .collect();
    let mut columns = vec!["month", "question"];
    columns.extend(ANSWERS.iter().map(|a| satisfaction_code(*a)));
    Table {
        name: ReportName::Survey,
        columns,
        rows,
        label: 0,
        bars: vec![2, 3, 4],
    }
}

impl Table {
    /// The table as CSV (RFC 4180: comma-separated, quoted only where needed, CRLF).
    pub fn csv(&self) -> String {
        let quote = |text: &str| {
            if text.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", text.replace('"', "\"\""))
            } else {
                text.to_string()
            }
        };
        let mut out = self.columns.join(",");
        out.push_str("\r\n");
        for row in &self.rows {
            let cells: Vec<String> = row
                .iter()
                .map(|cell| match cell {
                    Cell::Int(value) => value.to_string(),
                    Cell::Text(text) => quote(text),
                    Cell::Empty => String::new(),
                })
                .collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        out
    }
}
