//! The reports (issue 17) on a simulated city-year: every report's figures, as the service
//! keeps them (folded once at start-up, then live), equal a recount made here by a plain
//! fold over the journal's events that shares no code with `domain::reports`: its own
//! statuses, its own local dates, its own medians over sorted lists.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Utc};
use kezek::clock::ManualClock;
use kezek::domain::application::{ApplicationId, ClaimStatus, Satisfaction};
use kezek::domain::calendar::WorkCalendar;
use kezek::domain::catalog::{Catalog, DistrictId, GroupId, KindergartenId, Tier};
use kezek::domain::event::{Actor, Event};
use kezek::domain::referral::{Lapse, PlaceId, ReferralId};
use kezek::domain::reports::tables::{table, Cell, Filter, ReportName};
use kezek::service::{Command, Service};
use kezek::simulate::{run, SimulateOptions};
use kezek::store::{for_each_event, Store};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

fn local(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&FixedOffset::east_opt(5 * 3600).unwrap())
        .date_naive()
}

fn month(day: NaiveDate) -> String {
    format!("{}-{:02}", day.year(), day.month())
}

fn tier(tier: Tier) -> &'static str {
    match tier {
        Tier::OutOfTurn => "out_of_turn",
        Tier::First => "first",
        Tier::General => "general",
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Waiting,
    Referred,
    Done,
}

struct Child {
    year: i32,
    tier: Tier,
    registered: NaiveDate,
    choices: Vec<KindergartenId>,
    status: Status,
    referred_before: bool,
    claim: Option<ClaimStep>,
    group: Option<(KindergartenId, Option<GroupId>)>,
}

/// An undecided priority claim's manual step: registered, the documents asked for and not
/// yet arrived (by request number), the last arrival.
#[derive(Clone)]
struct ClaimStep {
    registered: DateTime<Utc>,
    open: std::collections::BTreeSet<u32>,
    last_arrival: Option<DateTime<Utc>>,
}

impl ClaimStep {
    /// DOMAIN.md: done within 3 working days, neither the day of receipt (the registration,
    /// or the last document asked for arriving) nor the day of issue counted; so overdue
    /// once more than 3 working days (the 3 and the day of issue) lie between that day and
    /// today. Never while a document asked for is awaited.
    fn overdue(&self, calendar: &WorkCalendar, today: NaiveDate) -> bool {
        if !self.open.is_empty() {
            return false;
        }
        let received = local(
            self.last_arrival
                .map_or(self.registered, |a| a.max(self.registered)),
        );
        let mut working = 0;
        let mut day = received.succ_opt().unwrap();
        while day < today {
            working += i32::from(calendar.is_working_day(day));
            day = day.succ_opt().unwrap();
        }
        working > 3
    }
}

struct Place {
    district: DistrictId,
    kindergarten: KindergartenId,
    group: Option<GroupId>,
    reported: NaiveDate,
    filled: Option<NaiveDate>,
    withdrawn: Option<NaiveDate>,
}

/// The recount: what happened, as lists, counted only when asked.
#[derive(Default)]
struct Recount {
    children: HashMap<ApplicationId, Child>,
    referrals: HashMap<ReferralId, (ApplicationId, PlaceId, bool)>,
    places: BTreeMap<PlaceId, Place>,
    /// (district, tier, birth year, month of the referral, days waited)
    waits: Vec<(DistrictId, Tier, i32, String, i64)>,
    /// (district, month, outcome)
    outcomes: Vec<(DistrictId, String, &'static str)>,
    decisions: Vec<(DistrictId, String, bool)>,
    /// (district, month, staff account) of each priority decision made by staff.
    deciders: Vec<(DistrictId, String, String)>,
    answers: Vec<(DistrictId, String, &'static str, Satisfaction)>,
    /// Each district's waiting total after each event, by the week's Monday.
    weekly_by_district: BTreeMap<(DistrictId, NaiveDate), i64>,
    waiting: BTreeMap<DistrictId, i64>,
}

impl Recount {
    fn set(&mut self, id: ApplicationId, status: Status) {
        let child = self.children.get_mut(&id).unwrap();
        let delta =
            i64::from(status == Status::Waiting) - i64::from(child.status == Status::Waiting);
        child.status = status;
        *self.waiting.entry(id.district).or_default() += delta;
    }

    fn observe(&mut self, event: &Event, at: DateTime<Utc>) {
        let today = local(at);
        match event {
            Event::ApplicationRegistered(a) | Event::ApplicationImported { application: a, .. } => {
                self.enter(a, today)
            }
            Event::ApplicationMoved { from, to } => {
                self.set(*from, Status::Done);
                self.enter(to, today);
            }
            Event::ApplicationWithdrawn { id }
            | Event::ApplicationAgedOut { id, .. }
            | Event::ApplicationRefused { id, .. } => self.set(*id, Status::Done),
            Event::PriorityVerified { id, tier } => self.decide(*id, *tier, true, today),
            Event::PriorityRejected { id, .. } => self.decide(*id, Tier::General, false, today),
            Event::ApplicationAmended { id, amendment } => {
                self.children.get_mut(id).unwrap().choices = match &amendment.choices {
                    kezek::domain::application::Choices::Any => vec![],
                    kezek::domain::application::Choices::Listed(list) => list.clone(),
                }
            }
            Event::PlacesReported { places } => {
                for p in places {
                    self.places.insert(
                        p.id,
                        Place {
                            district: p.district,
                            kindergarten: p.kindergarten,
                            group: p.group,
                            reported: local(p.reported_at),
                            filled: None,
                            withdrawn: None,
                        },
                    );
                }
            }
            Event::PlaceWithdrawn { place, .. } => {
                self.places.get_mut(place).unwrap().withdrawn = Some(today)
            }
            Event::ReferralIssued { referral: r, .. } => {
                self.referrals
                    .insert(r.id, (r.application, r.place, r.transfer));
                self.outcomes.push((r.id.district, month(today), "issued"));
                if !r.transfer {
                    let child = &self.children[&r.application];
                    if !child.referred_before {
                        let days = (today - child.registered).num_days();
                        self.waits.push((
                            r.id.district,
                            child.tier,
                            child.year,
                            month(today),
                            days,
                        ));
                    }
                    self.children
                        .get_mut(&r.application)
                        .unwrap()
                        .referred_before = true;
                    self.set(r.application, Status::Referred);
                }
            }
            Event::ReferralExtended { id, .. } => {
                self.outcomes.push((id.district, month(today), "extended"))
            }
            Event::ReferralHandedIn { id, .. } => {
                self.outcomes.push((id.district, month(today), "handed_in"));
                let (child, place, _) = self.referrals[id];
                let place = self.places.get_mut(&place).unwrap();
                place.filled = Some(today);
                let group = (place.kindergarten, place.group);
                let child = self.children.get_mut(&child).unwrap();
                child.group = Some(group);
                child.status = Status::Done;
            }
            Event::ReferralLapsed { id, lapse, .. } => {
                let code = match lapse {
                    Lapse::Declined => "declined",
                    Lapse::Expired => "expired",
                    Lapse::Revoked { .. } => "revoked",
                };
                self.outcomes.push((id.district, month(today), code));
                let (child, _, transfer) = self.referrals[id];
                if !transfer {
                    if let Lapse::Revoked {
                        priority_unconfirmed: true,
                        ..
                    } = lapse
                    {
                        self.children.get_mut(&child).unwrap().tier = Tier::General;
                    }
                    self.set(child, Status::Waiting);
                }
            }
            Event::ChildLeft { id, .. } => self.children.get_mut(id).unwrap().group = None,
            Event::DocumentRequested { id, request } => {
                if let Some(claim) = &mut self.children.get_mut(id).unwrap().claim {
                    claim.open.insert(request.number);
                }
            }
            Event::DocumentReceived { id, request, .. } => {
                if let Some(claim) = &mut self.children.get_mut(id).unwrap().claim {
                    if claim.open.remove(request) {
                        claim.last_arrival = Some(claim.last_arrival.map_or(at, |a| a.max(at)));
                    }
                }
            }
            Event::SurveyAnswered {
                id,
                process,
                information,
            } => {
                self.answers
                    .push((id.district, month(today), "process", *process));
                self.answers
                    .push((id.district, month(today), "information", *information));
            }
            _ => {}
        }
        for (district, count) in &self.waiting {
            self.weekly_by_district
                .insert((*district, monday(today)), *count);
        }
    }

    fn enter(&mut self, a: &kezek::domain::application::Application, today: NaiveDate) {
        let waiting = a.status == kezek::domain::application::ApplicationStatus::Queued;
        let claimed = a
            .priority
            .as_ref()
            .is_some_and(|c| c.status == ClaimStatus::Claimed);
        self.children.insert(
            a.id,
            Child {
                year: a.child.birth_date.year(),
                tier: a.tier,
                registered: local(a.registered_at),
                choices: match &a.choices {
                    kezek::domain::application::Choices::Any => vec![],
                    kezek::domain::application::Choices::Listed(list) => list.clone(),
                },
                status: Status::Done,
                referred_before: false,
                claim: claimed.then(|| ClaimStep {
                    registered: a.registered_at,
                    open: Default::default(),
                    last_arrival: None,
                }),
                group: None,
            },
        );
        let _ = today;
        if waiting {
            self.set(a.id, Status::Waiting);
        }
    }

    fn decide(&mut self, id: ApplicationId, tier: Tier, verified: bool, today: NaiveDate) {
        self.decisions.push((id.district, month(today), verified));
        let child = self.children.get_mut(&id).unwrap();
        child.claim = None;
        if child.status == Status::Waiting {
            child.tier = tier;
        }
    }

    fn waiting_children(&self, district: Option<DistrictId>) -> impl Iterator<Item = &Child> {
        self.children
            .iter()
            .filter(move |(id, c)| {
                c.status == Status::Waiting && district.is_none_or(|d| d == id.district)
            })
            .map(|(_, c)| c)
    }
}

fn monday(day: NaiveDate) -> NaiveDate {
    let mut day = day;
    while day.weekday() != chrono::Weekday::Mon {
        day = day.pred_opt().unwrap();
    }
    day
}

/// Nearest rank over a sorted list.
fn rank(sorted: &[i64], q: f64) -> Cell {
    if sorted.is_empty() {
        return Cell::Empty;
    }
    let n = sorted.len();
    let k = ((q * n as f64).ceil() as usize).max(1);
    Cell::Int(sorted[k - 1])
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn int(n: impl TryInto<i64, Error = impl std::fmt::Debug>) -> Cell {
    Cell::Int(n.try_into().unwrap())
}

fn expected(recount: &Recount, catalog: &Catalog, name: ReportName, f: &Filter) -> Vec<Vec<Cell>> {
    let here = |d: &DistrictId| f.district.is_none_or(|x| x == *d);
    let in_range = |m: &String| *m >= month(f.from) && *m <= month(f.to);
    match name {
        ReportName::Queue => {
            let mut counts: BTreeMap<(i32, Tier), i64> = BTreeMap::new();
            for c in recount.waiting_children(f.district) {
                *counts.entry((c.year, c.tier)).or_default() += 1;
            }
            counts
                .into_iter()
                .map(|((y, t), n)| vec![int(y), text(tier(t)), int(n)])
                .collect()
        }
        ReportName::Kindergartens => {
            let mut counts: BTreeMap<KindergartenId, (i64, i64)> = BTreeMap::new();
            let mut any = 0;
            for c in recount.waiting_children(f.district) {
                if c.choices.is_empty() {
                    any += 1;
                }
                for (i, k) in c.choices.iter().enumerate() {
                    let e = counts.entry(*k).or_default();
                    e.0 += i64::from(i == 0);
                    e.1 += 1;
                }
            }
            let mut rows: Vec<Vec<Cell>> = counts
                .into_iter()
                .map(|(k, (first, all))| {
                    vec![
                        int(k.0),
                        text(catalog.kindergartens[&k].number.clone()),
                        int(first),
                        int(all),
                    ]
                })
                .collect();
            rows.push(vec![Cell::Empty, text("*"), int(any), int(any)]);
            rows
        }
        ReportName::Trend => {
            let mut rows = vec![];
            let mut week = monday(f.from);
            while week <= monday(f.to) {
                let mut total = 0;
                let districts: std::collections::BTreeSet<DistrictId> =
                    recount.weekly_by_district.keys().map(|(d, _)| *d).collect();
                for d in districts.into_iter().filter(|d| here(d)) {
                    let last = recount
                        .weekly_by_district
                        .range((d, NaiveDate::MIN)..=(d, week))
                        .next_back();
                    total += last.map_or(0, |(_, n)| *n);
                }
                rows.push(vec![text(week.to_string()), int(total)]);
                week += Duration::days(7);
            }
            rows
        }
        ReportName::Waiting => {
            let mut groups: BTreeMap<(Tier, i32), Vec<i64>> = BTreeMap::new();
            for (d, t, y, m, days) in &recount.waits {
                if here(d) && in_range(m) {
                    groups.entry((*t, *y)).or_default().push(*days);
                }
            }
            wait_rows(groups)
        }
        ReportName::StillWaiting => {
            let mut groups: BTreeMap<(Tier, i32), Vec<i64>> = BTreeMap::new();
            for c in recount.waiting_children(f.district) {
                groups
                    .entry((c.tier, c.year))
                    .or_default()
                    .push((f.today - c.registered).num_days());
            }
            wait_rows(groups)
        }
        ReportName::Referrals => {
            let codes = [
                "issued",
                "handed_in",
                "declined",
                "expired",
                "revoked",
                "extended",
            ];
            let mut months: BTreeMap<String, [i64; 6]> = BTreeMap::new();
            for (d, m, code) in &recount.outcomes {
                if here(d) && in_range(m) {
                    let i = codes.iter().position(|c| c == code).unwrap();
                    months.entry(m.clone()).or_default()[i] += 1;
                }
            }
            months
                .into_iter()
                .map(|(m, counts)| {
                    std::iter::once(text(m))
                        .chain(counts.into_iter().map(int))
                        .collect()
                })
                .collect()
        }
        ReportName::Places => {
            let mut groups: BTreeMap<(KindergartenId, Option<GroupId>), [i64; 4]> = BTreeMap::new();
            for p in recount.places.values() {
                if !here(&p.district) || p.reported < f.from || p.reported > f.to {
                    continue;
                }
                let g = groups.entry((p.kindergarten, p.group)).or_default();
                g[0] += 1;
                g[1] += i64::from(p.filled.is_some());
                g[2] += i64::from(p.filled.is_none() && p.withdrawn.is_none());
                let end = p.filled.or(p.withdrawn).unwrap_or(f.today);
                g[3] += (end - p.reported).num_days();
            }
            groups
                .into_iter()
                .map(|((k, g), figures)| {
                    let enrolled = recount
                        .children
                        .values()
                        .filter(|c| c.group == Some((k, g)))
                        .count();
                    let mut row = vec![int(k.0), g.map_or(Cell::Empty, |g| int(g.0))];
                    row.extend(figures.into_iter().map(int));
                    row.push(if enrolled == 0 {
                        Cell::Empty
                    } else {
                        int(enrolled as i64)
                    });
                    row.push(
                        g.and_then(|g| catalog.groups.get(&g))
                            .map_or(Cell::Empty, |g| int(g.capacity)),
                    );
                    row
                })
                .collect()
        }
        ReportName::Manual => {
            let claims: Vec<&ClaimStep> = recount
                .waiting_children(f.district)
                .filter_map(|c| c.claim.as_ref())
                .collect();
            let overdue = claims
                .iter()
                .filter(|claim| claim.overdue(&catalog.calendar, f.today))
                .count();
            let mut rows = vec![vec![
                text("now"),
                int(claims.len() as i64),
                int(overdue as i64),
                int(0),
                int(0),
            ]];
            let mut months: BTreeMap<String, (i64, i64)> = BTreeMap::new();
            for (d, m, verified) in &recount.decisions {
                if here(d) && in_range(m) {
                    let e = months.entry(m.clone()).or_default();
                    if *verified {
                        e.0 += 1
                    } else {
                        e.1 += 1
                    }
                }
            }
            rows.extend(
                months
                    .into_iter()
                    .map(|(m, (v, r))| vec![text(m), int(0), int(0), int(v), int(r)]),
            );
            rows
        }
        ReportName::Officers => {
            let mut counts: BTreeMap<(String, String), i64> = BTreeMap::new();
            for (d, m, account) in &recount.deciders {
                if here(d) && in_range(m) {
                    *counts.entry((m.clone(), account.clone())).or_default() += 1;
                }
            }
            counts
                .into_iter()
                .map(|((m, account), n)| vec![text(m), text(account), int(n)])
                .collect()
        }
        ReportName::Survey => {
            let answers = [Satisfaction::Fully, Satisfaction::Partly, Satisfaction::Not];
            let mut months: BTreeMap<(String, u8), [i64; 3]> = BTreeMap::new();
            for (d, m, q, a) in &recount.answers {
                if here(d) && in_range(m) {
                    let q = u8::from(*q == "information");
                    let i = answers.iter().position(|x| x == a).unwrap();
                    months.entry((m.clone(), q)).or_default()[i] += 1;
                }
            }
            months
                .into_iter()
                .map(|((m, q), counts)| {
                    let mut row = vec![text(m), text(["process", "information"][q as usize])];
                    row.extend(counts.into_iter().map(int));
                    row
                })
                .collect()
        }
    }
}

fn wait_rows(groups: BTreeMap<(Tier, i32), Vec<i64>>) -> Vec<Vec<Cell>> {
    groups
        .into_iter()
        .map(|((t, y), mut days)| {
            days.sort();
            vec![
                text(tier(t)),
                int(y),
                int(days.len() as i64),
                rank(&days, 0.5),
                rank(&days, 0.9),
            ]
        })
        .collect()
}

#[test]
fn every_report_of_a_simulated_city_year_equals_a_recount_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kezek.db");
    let options = SimulateOptions {
        seed: 11,
        registrations: 2_000,
        kindergartens: 25,
    };
    let figures = run(&db, &options, |_| {}).unwrap().figures;
    assert_eq!(figures.verify.as_ref().map(|_| ()), Ok(()), "verify passes");

    // Start the service again (the aggregates folded from the journal at start-up), and
    // answer the survey for some children live (the simulation does not).
    let end = figures.last_day.and_hms_opt(12, 0, 0).unwrap().and_utc();
    let clock = ManualClock::new(end);
    let service = Service::start(&db, Arc::new(clock.clone())).unwrap();
    let answers = [Satisfaction::Fully, Satisfaction::Partly, Satisfaction::Not];
    let ids: Vec<ApplicationId> = {
        let state = service.read();
        let mut ids: Vec<_> = state.access.keys().copied().collect();
        ids.sort();
        ids.into_iter().step_by(37).take(40).collect()
    };
    for (i, id) in ids.iter().enumerate() {
        service
            .submit_blocking(
                Command::AnswerSurvey {
                    id: *id,
                    process: answers[i % 3],
                    information: answers[i / 3 % 3],
                },
                Actor::portal(),
            )
            .unwrap();
    }

    let mut recount = Recount::default();
    let conn = Store::open_reader(&db).unwrap();
    for_each_event(&conn, |recorded| {
        let event = recorded.event().unwrap();
        recount.observe(&event, recorded.recorded_at);
        if let Event::PriorityVerified { id, .. } | Event::PriorityRejected { id, .. } = &event {
            if let Some(account) = recorded.actor.0.strip_prefix("staff:") {
                let month = month(local(recorded.recorded_at));
                recount
                    .deciders
                    .push((id.district, month, account.to_string()));
            }
        }
        Ok(true)
    })
    .unwrap();
    assert!(recount.answers.len() >= 40 * 2, "the survey was answered");

    let state = service.read();
    let today = local(end);
    let districts: Vec<Option<DistrictId>> = std::iter::once(None)
        .chain(state.catalog.districts.keys().copied().map(Some))
        .collect();
    let ranges = [
        (figures.first_day, today),
        (today - Duration::days(100), today - Duration::days(30)),
    ];
    let mut compared = BTreeMap::new();
    for district in districts {
        for (from, to) in ranges {
            let filter = Filter {
                district,
                from,
                to,
                today,
            };
            for name in ReportName::ALL {
                let got = table(&state.reports, &state.catalog, name, &filter).rows;
                let want = expected(&recount, &state.catalog, name, &filter);
                if want.len() > 1 {
                    *compared.entry(name.code()).or_insert(0) += 1;
                }
                assert_eq!(got, want, "{name:?} for {district:?} from {from} to {to}");
            }
        }
    }
    // Each report had figures to compare (more than the fixed row), somewhere.
    assert_eq!(compared.len(), ReportName::ALL.len(), "{compared:?}");

    // "Overdue" turns on today against the calendar's working days: the manual-steps
    // report asked as of each day of the year (each undecided claim falls due on one of
    // them, weekends and holidays between) equals the recount, and its overdue figure
    // moves over them.
    let mut overdue_seen = std::collections::BTreeSet::new();
    for as_of in figures
        .first_day
        .iter_days()
        .take_while(|day| *day <= today)
    {
        let filter = Filter {
            district: None,
            from: figures.first_day,
            to: today,
            today: as_of,
        };
        let got = table(&state.reports, &state.catalog, ReportName::Manual, &filter).rows;
        let want = expected(&recount, &state.catalog, ReportName::Manual, &filter);
        assert_eq!(got, want, "manual as of {}", filter.today);
        overdue_seen.insert(format!("{:?}", got[0][2]));
    }
    assert!(overdue_seen.len() > 1, "{overdue_seen:?}");
}
