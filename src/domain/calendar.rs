//! Working days, as data: weekends, public holidays and the government's transfers.
//!
//! Each year is a small text file (`calendars/YYYY.txt`) listing only the days that differ
//! from the plain week. The counting the rules need is here: N working days after a day (a
//! referral's validity under the national rules; see `referral::Validity`), the end of a local
//! day, and the deadline of a manual step (the day of receipt and the day of issue are not
//! counted).

use super::local_offset;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use std::collections::{BTreeMap, BTreeSet};

/// The years shipped with the binary; an administrator can replace or add years.
pub const SHIPPED_YEARS: [(i32, &str); 2] = [
    (2026, include_str!("../../calendars/2026.txt")),
    (2027, include_str!("../../calendars/2027.txt")),
];

/// How far a working-day count may reach before it is a bug (a calendar of only days off).
const SEARCH_DAYS_MAX: i64 = 366;

/// The longest run of days without a working day a year's calendar may have. Kazakhstan's
/// longest breaks (New Year, Nauryz with a transfer) are four or five days; a longer run is a
/// typing error that would stretch every deadline across it. Two years meeting at New Year
/// give at most twice this, so `working_days_after` always finds its days well within
/// `SEARCH_DAYS_MAX`.
pub const LONGEST_BREAK_DAYS: u32 = 14;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct YearCalendar {
    days_off: BTreeSet<NaiveDate>,
    working_weekend_days: BTreeSet<NaiveDate>,
}

/// The service's words for a year outside 2000..=2100 (the error table's
/// `calendar_year_invalid`).
pub const YEAR_OUT_OF_RANGE: &str = "the calendar's year is out of range";

/// What is wrong with one line of a year's file. Each has a stable code, a row of the API's
/// error table, so that a page or a client names it in its own language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineProblem {
    DateMalformed,
    OtherYear,
    WeekendOff,
    WeekdayWork,
    DayKindMissing,
}

impl LineProblem {
    pub fn code(self) -> &'static str {
        match self {
            LineProblem::DateMalformed => "calendar_date_malformed",
            LineProblem::OtherYear => "calendar_date_other_year",
            LineProblem::WeekendOff => "calendar_weekend_off",
            LineProblem::WeekdayWork => "calendar_weekday_work",
            LineProblem::DayKindMissing => "calendar_day_kind_missing",
        }
    }

    const ALL: [LineProblem; 5] = [
        LineProblem::DateMalformed,
        LineProblem::OtherYear,
        LineProblem::WeekendOff,
        LineProblem::WeekdayWork,
        LineProblem::DayKindMissing,
    ];

    /// The problem a `CalendarError`'s words name ("calendar 2027, line 3: …"), for the
    /// service's refusals, which travel as words.
    pub fn of_words(words: &str) -> Option<LineProblem> {
        let (_, reason) = words.strip_prefix("calendar ")?.split_once(": ")?;
        LineProblem::ALL.into_iter().find(|p| p.reason() == reason)
    }

    fn reason(self) -> &'static str {
        match self {
            LineProblem::DateMalformed => "expected a date YYYY-MM-DD",
            LineProblem::OtherYear => "the date belongs to another year",
            LineProblem::WeekendOff => "a weekend day is off anyway",
            LineProblem::WeekdayWork => "a weekday is a working day anyway",
            LineProblem::DayKindMissing => "expected \"off\" or \"work\" after the date",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("calendar {year}, line {line}: {}", problem.reason())]
pub struct CalendarError {
    pub year: i32,
    /// Counted from 1, as an editor shows it.
    pub line: usize,
    pub problem: LineProblem,
}

impl YearCalendar {
    /// The year's file, or its first bad line.
    pub fn parse(year: i32, text: &str) -> Result<YearCalendar, CalendarError> {
        YearCalendar::parse_every_line(year, text).map_err(|mut errors| errors.swap_remove(0))
    }

    /// The year's file, or every bad line in it (never an empty list), so that whoever
    /// uploads a file mends it in one pass.
    pub fn parse_every_line(year: i32, text: &str) -> Result<YearCalendar, Vec<CalendarError>> {
        let mut calendar = YearCalendar::default();
        let mut errors = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            if let Err(problem) = calendar.add_line(year, raw) {
                errors.push(CalendarError {
                    year,
                    line: index + 1,
                    problem,
                });
            }
        }
        if errors.is_empty() {
            Ok(calendar)
        } else {
            Err(errors)
        }
    }

    /// One line of the file: a comment, a blank, or a day that differs from the plain week.
    fn add_line(&mut self, year: i32, raw: &str) -> Result<(), LineProblem> {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let mut fields = line.split_whitespace();
        let date = fields
            .next()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or(LineProblem::DateMalformed)?;
        if date.year() != year {
            return Err(LineProblem::OtherYear);
        }
        let weekend = is_weekend(date);
        match fields.next() {
            Some("off") if !weekend => self.days_off.insert(date),
            Some("off") => return Err(LineProblem::WeekendOff),
            Some("work") if weekend => self.working_weekend_days.insert(date),
            Some("work") => return Err(LineProblem::WeekdayWork),
            _ => return Err(LineProblem::DayKindMissing),
        };
        Ok(())
    }

    /// The longest run of consecutive days without a working day in `year`, as its first day
    /// and length (0 days for a year that works every day).
    pub fn longest_break(&self, year: i32) -> (NaiveDate, u32) {
        let first = NaiveDate::from_ymd_opt(year, 1, 1).expect("1 January exists");
        let mut longest = (first, 0);
        let mut current = (first, 0);
        for date in first.iter_days().take_while(|d| d.year() == year) {
            let off = if self.days_off.contains(&date) {
                true
            } else if self.working_weekend_days.contains(&date) {
                false
            } else {
                is_weekend(date)
            };
            if !off {
                current = (date, 0);
                continue;
            }
            if current.1 == 0 {
                current.0 = date;
            }
            current.1 += 1;
            if current.1 > longest.1 {
                longest = current;
            }
        }
        longest
    }
}

/// A fixed-date public holiday (Law on holidays, Labour Code art. 84) and whether it moves
/// to the next working day when it falls on a weekend: religious holidays (Orthodox
/// Christmas) do not, the others do.
struct FixedHoliday {
    month: u32,
    day: u32,
    moves_off_weekend: bool,
}

const fn holiday(month: u32, day: u32) -> FixedHoliday {
    FixedHoliday {
        month,
        day,
        moves_off_weekend: true,
    }
}

/// The fixed-date holidays of every year since 2022 (Constitution Day aside, see
/// `constitution_day`).
const FIXED_HOLIDAYS: [FixedHoliday; 13] = [
    holiday(1, 1),
    holiday(1, 2),
    FixedHoliday {
        month: 1,
        day: 7,
        moves_off_weekend: false,
    },
    holiday(3, 8),
    holiday(3, 21),
    holiday(3, 22),
    holiday(3, 23),
    holiday(5, 1),
    holiday(5, 7),
    holiday(5, 9),
    holiday(7, 6),
    holiday(10, 25),
    holiday(12, 16),
];

/// Constitution Day: 30 August until 2025; none in 2026, the year of the constitutional
/// reform; 15 March from 2027.
fn constitution_day(year: i32) -> Option<FixedHoliday> {
    match year {
        ..=2025 => Some(holiday(8, 30)),
        2026 => None,
        _ => Some(holiday(3, 15)),
    }
}

impl YearCalendar {
    /// What the law alone gives for `year`: the fixed-date holidays, each one on a weekend
    /// moved to the next working day unless it is religious. Kurban ait (a lunar date) and
    /// the government's transfers are not in it: they come from the year's file.
    pub fn statutory(year: i32) -> YearCalendar {
        let mut holidays: Vec<(NaiveDate, bool)> = FIXED_HOLIDAYS
            .iter()
            .chain(constitution_day(year).as_ref())
            .map(|h| {
                let date = NaiveDate::from_ymd_opt(year, h.month, h.day);
                (date.expect("fixed holidays exist"), h.moves_off_weekend)
            })
            .collect();
        // In date order, so that each moved holiday takes the first day still free.
        holidays.sort_unstable();
        let mut days_off: BTreeSet<NaiveDate> = holidays
            .iter()
            .map(|(date, _)| *date)
            .filter(|d| !is_weekend(*d))
            .collect();
        let moving = holidays
            .iter()
            .filter(|(d, moves)| *moves && is_weekend(*d));
        for (holiday, _) in moving {
            let mut moved = *holiday + Duration::days(1);
            while is_weekend(moved) || days_off.contains(&moved) {
                moved += Duration::days(1);
            }
            days_off.insert(moved);
        }
        YearCalendar {
            days_off,
            working_weekend_days: BTreeSet::new(),
        }
    }
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkCalendar {
    years: BTreeMap<i32, YearCalendar>,
}

impl WorkCalendar {
    pub fn shipped() -> WorkCalendar {
        let mut calendar = WorkCalendar::default();
        for (year, text) in SHIPPED_YEARS {
            let parsed = YearCalendar::parse(year, text).expect("shipped calendars parse (tested)");
            calendar.set_year(year, parsed);
        }
        calendar
    }

    pub fn set_year(&mut self, year: i32, calendar: YearCalendar) {
        self.years.insert(year, calendar);
    }

    /// The days of `year` whose kind `replacement` would change, in order: the day, whether
    /// it is a working day now, and whether it would be (what an administrator checks before
    /// applying a new file).
    pub fn days_changed_by(
        &self,
        year: i32,
        replacement: &YearCalendar,
    ) -> Vec<(NaiveDate, bool, bool)> {
        let mut after = self.clone();
        after.set_year(year, replacement.clone());
        let mut changed = Vec::new();
        let mut day = NaiveDate::from_ymd_opt(year, 1, 1).expect("1 January exists");
        while day.year() == year {
            let (now, then) = (self.is_working_day(day), after.is_working_day(day));
            if now != then {
                changed.push((day, now, then));
            }
            day = day.succ_opt().expect("a day after one in range");
        }
        changed
    }

    pub fn has_year(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    /// A year without a file falls back to the statutory holidays; `has_year` lets callers
    /// warn that Kurban ait and transfers are then unknown.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        let fallback;
        let year = match self.years.get(&date.year()) {
            Some(year) => year,
            None => {
                fallback = YearCalendar::statutory(date.year());
                &fallback
            }
        };
        if year.days_off.contains(&date) {
            false
        } else if year.working_weekend_days.contains(&date) {
            true
        } else {
            !is_weekend(date)
        }
    }

    /// The `count`-th working day after `day` (`day` itself is not counted).
    pub fn working_days_after(&self, day: NaiveDate, count: u32) -> NaiveDate {
        let mut date = day;
        let mut counted = 0;
        for _ in 0..SEARCH_DAYS_MAX * i64::from(count.max(1)) {
            date += Duration::days(1);
            if self.is_working_day(date) {
                counted += 1;
                if counted == count {
                    return date;
                }
            }
        }
        panic!("no {count} working days within a year after {day}: the calendar is broken");
    }

    /// The last day a manual step received at `received_at` may be completed, `working_days`
    /// working days long: neither the day of receipt nor the day of issue is counted, so the
    /// result may be issued on the working day after the last counted one.
    pub fn manual_step_due(&self, received_at: DateTime<Utc>, working_days: u32) -> NaiveDate {
        self.manual_step_due_on(super::local_date(received_at), working_days)
    }

    /// `manual_step_due` for a step received on the local day `received`: the reports keep
    /// claims by the day their step counts from, not by the instant.
    pub fn manual_step_due_on(&self, received: NaiveDate, working_days: u32) -> NaiveDate {
        self.working_days_after(received, working_days + 1)
    }
}

/// The instant a local calendar day ends (the next local midnight), in UTC.
pub fn end_of_local_day(day: NaiveDate) -> DateTime<Utc> {
    let next = (day + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists");
    local_offset()
        .from_local_datetime(&next)
        .single()
        .expect("a fixed offset has no gaps")
        .with_timezone(&Utc)
}

/// Adds calendar days and gives the end of that local day (for extensions).
pub fn end_of_local_day_after(start: DateTime<Utc>, calendar_days: u32) -> DateTime<Utc> {
    end_of_local_day(super::local_date(start) + Duration::days(i64::from(calendar_days)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_new_file_changes_exactly_the_days_it_lists_differently() {
        let calendar = WorkCalendar::shipped();
        let text = format!("{}\n2026-11-20 off\n", SHIPPED_YEARS[0].1);
        assert_eq!(SHIPPED_YEARS[0].0, 2026);
        let replacement = YearCalendar::parse(2026, &text).unwrap();
        assert_eq!(
            calendar.days_changed_by(2026, &replacement),
            [(date(2026, 11, 20), true, false)]
        );
        let same = YearCalendar::parse(2026, SHIPPED_YEARS[0].1).unwrap();
        assert!(calendar.days_changed_by(2026, &same).is_empty());
    }

    /// The end of the `working_days`-th working day after the local day of `issued_at`.
    fn validity_end(
        calendar: &WorkCalendar,
        issued_at: DateTime<Utc>,
        working_days: u32,
    ) -> DateTime<Utc> {
        let issue_day = super::super::local_date(issued_at);
        end_of_local_day(calendar.working_days_after(issue_day, working_days))
    }

    #[test]
    fn the_longest_break_of_a_shipped_year_is_short_and_a_month_off_is_found() {
        let shipped = YearCalendar::parse(2026, SHIPPED_YEARS[0].1).unwrap();
        let (_, days) = shipped.longest_break(2026);
        assert!((2..=LONGEST_BREAK_DAYS).contains(&days), "{days}");

        let may: String = date(2026, 5, 1)
            .iter_days()
            .take(31)
            .filter(|d| !is_weekend(*d))
            .map(|d| format!("{d} off\n"))
            .collect();
        let month_off = YearCalendar::parse(2026, &may).unwrap();
        // Thursday 30 April is the last working day; Monday 1 June the next.
        assert_eq!(month_off.longest_break(2026), (date(2026, 5, 1), 31));
    }

    #[test]
    fn shipped_years_parse_and_know_their_holidays() {
        let calendar = WorkCalendar::shipped();
        assert!(calendar.has_year(2026) && calendar.has_year(2027));
        assert!(
            !calendar.is_working_day(date(2026, 3, 24)),
            "Nauryz moved off Saturday"
        );
        assert!(!calendar.is_working_day(date(2026, 5, 27)), "Kurban ait");
        assert!(calendar.is_working_day(date(2026, 5, 26)));
        assert!(!calendar.is_working_day(date(2026, 11, 21)), "a Saturday");
    }

    #[test]
    fn validity_runs_across_a_weekend_to_the_end_of_the_fifth_working_day() {
        let calendar = WorkCalendar::shipped();
        // Issued Friday 20 November 2026, 17:30 local: counted Mon 23 .. Fri 27.
        let issued = Utc.with_ymd_and_hms(2026, 11, 20, 12, 30, 0).unwrap();
        let end = validity_end(&calendar, issued, 5);
        assert_eq!(
            end,
            Utc.with_ymd_and_hms(2026, 11, 27, 19, 0, 0).unwrap(),
            "midnight after 27 Nov, UTC+5"
        );
    }

    #[test]
    fn validity_skips_a_public_holiday() {
        let calendar = WorkCalendar::shipped();
        // Issued Monday 14 December 2026: 15, (16 Independence Day), 17, 18, (weekend), 21, 22.
        let issued = Utc.with_ymd_and_hms(2026, 12, 14, 5, 0, 0).unwrap();
        assert_eq!(
            super::super::local_date(validity_end(&calendar, issued, 5) - Duration::seconds(1)),
            date(2026, 12, 22)
        );
    }

    #[test]
    fn the_local_day_decides_not_the_utc_day() {
        let calendar = WorkCalendar::shipped();
        // 20:00 UTC on Friday is already Saturday 01:00 in Astana: counting starts Monday
        // anyway, but the issue day is Saturday, so Monday is the first counted day too.
        let issued = Utc.with_ymd_and_hms(2026, 11, 20, 20, 0, 0).unwrap();
        assert_eq!(super::super::local_date(issued), date(2026, 11, 21));
        assert_eq!(
            validity_end(&calendar, issued, 1),
            end_of_local_day(date(2026, 11, 23))
        );
    }

    #[test]
    fn a_manual_step_counts_neither_the_day_of_receipt_nor_the_day_of_issue() {
        let calendar = WorkCalendar::shipped();
        // Received Friday 20 Nov: counted Mon 23, Tue 24, Wed 25; issue by Thu 26.
        let received = Utc.with_ymd_and_hms(2026, 11, 20, 6, 0, 0).unwrap();
        assert_eq!(calendar.manual_step_due(received, 3), date(2026, 11, 26));
    }

    #[test]
    fn a_transfer_makes_a_saturday_a_working_day() {
        let mut calendar = WorkCalendar::shipped();
        let year = YearCalendar::parse(2026, "2026-11-21 work\n2026-11-23 off  swapped").unwrap();
        calendar.set_year(2026, year);
        let issued = Utc.with_ymd_and_hms(2026, 11, 20, 6, 0, 0).unwrap();
        assert_eq!(
            validity_end(&calendar, issued, 2),
            end_of_local_day(date(2026, 11, 24))
        );
    }

    #[test]
    fn malformed_lines_are_named() {
        let error = YearCalendar::parse(2026, "# ok\n2026-11-21 off").unwrap_err();
        assert_eq!(error.line, 2);
        assert!(YearCalendar::parse(2026, "2027-01-01 off").is_err());
        assert!(YearCalendar::parse(2026, "2026-11-23 work").is_err());
        assert!(YearCalendar::parse(2026, "2026-11-23 holiday").is_err());
        assert!(YearCalendar::parse(2026, "23.11.2026 off").is_err());
    }

    #[test]
    fn every_bad_line_is_named_with_its_code() {
        let text = "# comment\n2026-11-23 off\n23.11.2026 off\n\n2027-01-04 off\n\
                    2026-11-21 off\n2026-11-24 work\n2026-11-25 holiday\n2026-11-26";
        let errors = YearCalendar::parse_every_line(2026, text).unwrap_err();
        let found: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.problem.code())).collect();
        assert_eq!(
            found,
            [
                (3, "calendar_date_malformed"),
                (5, "calendar_date_other_year"),
                (6, "calendar_weekend_off"),
                (7, "calendar_weekday_work"),
                (8, "calendar_day_kind_missing"),
                (9, "calendar_day_kind_missing"),
            ]
        );
        assert_eq!(
            errors[0].to_string(),
            "calendar 2026, line 3: expected a date YYYY-MM-DD"
        );
        assert_eq!(YearCalendar::parse(2026, text).unwrap_err(), errors[0]);
        for error in &errors {
            assert_eq!(
                LineProblem::of_words(&error.to_string()),
                Some(error.problem)
            );
        }
        assert_eq!(LineProblem::of_words("calendar 2026: 15 days"), None);
    }

    #[test]
    fn orthodox_christmas_is_off_and_constitution_day_moved_to_15_march_from_2027() {
        let calendar = WorkCalendar::shipped();
        assert!(!calendar.is_working_day(date(2026, 1, 7)), "a Wednesday");
        assert!(!calendar.is_working_day(date(2027, 1, 7)), "a Thursday");
        assert!(
            calendar.is_working_day(date(2026, 8, 31)),
            "the reform's year"
        );
        assert!(!calendar.is_working_day(date(2027, 3, 15)), "a Monday");
        assert!(calendar.is_working_day(date(2027, 8, 30)), "a Monday");
    }

    #[test]
    fn the_statutory_fallback_follows_the_constitution_day_of_its_year() {
        // 30 August 2025 was a Saturday: moved to Monday 1 September.
        let before = YearCalendar::statutory(2025);
        assert!(before.days_off.contains(&date(2025, 9, 1)));
        assert!(!YearCalendar::statutory(2026)
            .days_off
            .contains(&date(2026, 8, 31)));
        // 15 March 2031 is a Saturday: moved to Monday 17 March; 30 August is a Saturday
        // and moves nothing.
        let after = YearCalendar::statutory(2031);
        assert!(after.days_off.contains(&date(2031, 3, 17)));
        assert!(!after.days_off.contains(&date(2031, 9, 1)));
    }

    #[test]
    fn orthodox_christmas_on_a_weekend_does_not_move_and_the_others_do() {
        // 2028: 1 January is a Saturday, 2 January a Sunday, 7 January a Friday.
        let new_year_on_weekend = YearCalendar::statutory(2028);
        for day in [3, 4, 7] {
            assert!(new_year_on_weekend.days_off.contains(&date(2028, 1, day)));
        }
        // 2029: 7 January is a Sunday; Monday 8 January is worked.
        let christmas_on_sunday = YearCalendar::statutory(2029);
        assert!(!christmas_on_sunday.days_off.contains(&date(2029, 1, 8)));
        assert!(!christmas_on_sunday.days_off.contains(&date(2029, 1, 7)));
    }

    #[test]
    fn a_year_without_a_file_falls_back_to_the_statutory_holidays() {
        let calendar = WorkCalendar::shipped();
        assert!(!calendar.has_year(2030));
        assert!(!calendar.is_working_day(date(2030, 1, 1)));
        assert!(!calendar.is_working_day(date(2030, 1, 5)), "a Saturday");
        assert!(calendar.is_working_day(date(2030, 1, 3)));
    }

    /// The shipped files are the law's holidays plus Kurban ait: checks the data by hand-free
    /// rule, so a mistyped date in a file cannot slip through.
    #[test]
    fn shipped_files_equal_the_statutory_rule_plus_kurban_ait() {
        let kurban_ait = [(2026, Some(date(2026, 5, 27))), (2027, None)];
        for ((year, text), (_, kurban)) in SHIPPED_YEARS.iter().zip(kurban_ait) {
            let mut expected = YearCalendar::statutory(*year);
            expected.days_off.extend(kurban);
            assert_eq!(
                YearCalendar::parse(*year, text).unwrap(),
                expected,
                "{year}"
            );
        }
    }
}
