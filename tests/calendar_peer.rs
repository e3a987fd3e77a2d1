//! Our working-day calendars against a peer's holiday data, every day of the shipped years.
//!
//! The peer is the `holidays` package from PyPI (country KZ, version pinned in
//! `tests/calendar_peer/requirements.txt`), installed by `scripts/install-test-deps` into a
//! project-local virtualenv. It is kept independently of us, from the laws and decrees it
//! cites, so a day we mistyped, forgot (7 January) or kept after the law changed (31 August
//! 2026) shows up as a disagreement. The peer knows no worked weekends, and may lag behind a
//! government transfer: each day where the official transfers and the peer legitimately
//! differ is listed in `KNOWN_DIFFERENCES` with its reason, and the test proves that each
//! listed day does differ, so the list cannot outlive its reason.

use chrono::{Datelike, NaiveDate, Weekday};
use kezek::domain::calendar::{WorkCalendar, SHIPPED_YEARS};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Days on which our calendar (the government's transfers) and the peer legitimately
/// disagree, as (date, why). None for 2026 and 2027: no transfer has been decreed for either.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];

fn peer_days_off(years: &[i32]) -> BTreeSet<NaiveDate> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/calendar_peer");
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-test-deps (the README's test command does)",
        python.display()
    );
    let output = Command::new(&python)
        .arg(root.join("peer_days_off.py"))
        .args(years.iter().map(i32::to_string))
        .output()
        .expect("the peer's script runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("ISO dates are ASCII");
    text.lines()
        .map(|line| NaiveDate::parse_from_str(line, "%Y-%m-%d").expect("an ISO date"))
        .collect()
}

fn peer_is_working_day(days_off: &BTreeSet<NaiveDate>, date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !days_off.contains(&date)
}

fn known_differences() -> BTreeSet<NaiveDate> {
    KNOWN_DIFFERENCES
        .iter()
        .map(|(date, why)| {
            assert!(!why.is_empty(), "{date}: say why");
            NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("an ISO date")
        })
        .collect()
}

#[test]
fn every_day_of_the_shipped_years_is_classified_as_the_peer_does() {
    let years: Vec<i32> = SHIPPED_YEARS.iter().map(|(year, _)| *year).collect();
    assert_eq!(years, [2026, 2027], "a new year is cross-checked too");
    let peer = peer_days_off(&years);
    let known = known_differences();
    let ours = WorkCalendar::shipped();
    let first = NaiveDate::from_ymd_opt(years[0], 1, 1).unwrap();
    let mut disagreements = Vec::new();
    let mut days = 0;
    for date in first.iter_days().take_while(|d| years.contains(&d.year())) {
        days += 1;
        let (our_verdict, peer_verdict) =
            (ours.is_working_day(date), peer_is_working_day(&peer, date));
        if (our_verdict != peer_verdict) != known.contains(&date) {
            disagreements.push(format!(
                "{date} {:?}: ours working={our_verdict}, peer working={peer_verdict}",
                date.weekday()
            ));
        }
    }
    assert_eq!(days, 365 + 365);
    assert!(
        disagreements.is_empty(),
        "unexpected (dis)agreements with the peer:\n{}",
        disagreements.join("\n")
    );
}

/// The comparison can fail: the peer sees the days the old calendar got wrong.
#[test]
fn the_peer_has_the_days_the_old_calendar_got_wrong() {
    let peer = peer_days_off(&[2026, 2027]);
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    assert!(!peer_is_working_day(&peer, day(2026, 1, 7)));
    assert!(peer_is_working_day(&peer, day(2026, 8, 31)));
    assert!(!peer_is_working_day(&peer, day(2027, 1, 7)));
    assert!(!peer_is_working_day(&peer, day(2027, 3, 15)));
    assert!(peer_is_working_day(&peer, day(2027, 8, 30)));
}
