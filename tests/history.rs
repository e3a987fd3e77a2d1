//! Position histories: what `queue_moves` lets the API compute for any past day must equal
//! what the live waiting list said on that day. And the tables rebuilt from the journal
//! (after the migration that introduced them) equal the ones kept as the service ran.

mod common;

use common::{valid_form, TestApp};
use kezek::domain::application::ApplicationId;
use kezek::domain::event::Actor;
use kezek::domain::history::daily_positions;
use kezek::domain::local_date;
use kezek::service::Command;
use rand::{Rng, SeedableRng};

/// The target's position at the end of each day it changed, as the store recomputes it.
fn recomputed(app: &TestApp, id: ApplicationId, cohort: i32) -> Vec<(chrono::NaiveDate, u32)> {
    let conn = rusqlite::Connection::open(&app.path).unwrap();
    let application = kezek::store::application(&conn, id).unwrap().unwrap();
    let (in_cohort, moves) = kezek::store::cohort_moves_for(&conn, &application).unwrap();
    assert_eq!(in_cohort, cohort);
    daily_positions(id.number, &moves)
}

#[test]
fn the_recomputed_history_equals_what_the_queue_said_each_day() {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(2026);
    let app = TestApp::spawn();
    let service = app.service();
    let officer = Actor::staff("officer-1");
    let mut waiting: Vec<ApplicationId> = Vec::new();
    let mut serial = 1u16;
    let mut register = |priority: bool, waiting: &mut Vec<ApplicationId>| {
        let mut form = valid_form(serial);
        serial += 1;
        if priority {
            form.priority_category = Some("orphan".into());
            form.priority_document = Some(format!("№{serial}"));
        }
        let id = app.register(form).unwrap().id;
        waiting.push(id);
        id
    };
    for _ in 0..12 {
        register(false, &mut waiting);
    }
    let target = register(false, &mut waiting);
    let cohort = service.position(target).unwrap().cohort;
    let mut observed: Vec<(chrono::NaiveDate, u32)> = Vec::new();
    let observe = |observed: &mut Vec<(chrono::NaiveDate, u32)>| {
        let day = local_date(app.service().now());
        let position = app.service().position(target).unwrap().in_cohort;
        match observed.last_mut() {
            Some(last) if last.0 == day => last.1 = position,
            _ => observed.push((day, position)),
        }
    };
    observe(&mut observed);
    for _day in 0..20 {
        // A day of the city: some leave, some arrive behind, some claim and get a priority.
        for _ in 0..rng.random_range(0..4) {
            match rng.random_range(0..4) {
                0 | 1 => {
                    let others: Vec<ApplicationId> =
                        waiting.iter().copied().filter(|id| *id != target).collect();
                    if let Some(&id) = others.get(rng.random_range(0..others.len().max(1))) {
                        service
                            .submit_blocking(Command::Withdraw { id }, Actor::portal())
                            .unwrap();
                        waiting.retain(|w| *w != id);
                    }
                }
                2 => {
                    register(false, &mut waiting);
                }
                _ => {
                    let id = register(true, &mut waiting);
                    service
                        .submit_blocking(Command::VerifyPriority { id }, officer.clone())
                        .unwrap();
                }
            }
            observe(&mut observed);
        }
        app.clock.advance(chrono::Duration::hours(24));
    }
    observed.dedup_by(|later, earlier| later.1 == earlier.1);
    assert!(observed.len() > 3, "the position moved: {observed:?}");
    assert_eq!(recomputed(&app, target, cohort), observed);
}

/// `application_events` and `queue_moves`, row by row.
type Tables = (Vec<(i64, i64, i64)>, Vec<(i64, i64, i64, i64)>);

#[test]
fn the_history_tables_rebuilt_from_the_journal_equal_the_live_ones() {
    let mut app = TestApp::spawn();
    let mut ids = Vec::new();
    for serial in 1..=15u16 {
        let mut form = valid_form(serial);
        if serial % 4 == 0 {
            form.priority_category = Some("large_family".into());
            form.priority_document = Some("№1".into());
        }
        ids.push(app.register(form).unwrap().id);
        app.clock.advance(chrono::Duration::hours(5));
    }
    let service = app.service();
    service
        .submit_blocking(Command::VerifyPriority { id: ids[3] }, Actor::staff("o"))
        .unwrap();
    service
        .submit_blocking(Command::Withdraw { id: ids[1] }, Actor::portal())
        .unwrap();
    let dump = |path: &std::path::Path| -> Tables {
        let conn = rusqlite::Connection::open(path).unwrap();
        let touched = conn
            .prepare("SELECT district_id, registration_number, seq FROM application_events ORDER BY seq, registration_number")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let moves = conn
            .prepare("SELECT seq, order_key, delta, at FROM queue_moves ORDER BY seq, rowid")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        (touched, moves)
    };
    app.stop();
    let live = dump(&app.path);
    assert!(
        live.1.len() > 15 + 2,
        "moves were recorded: {}",
        live.1.len()
    );
    {
        // As a database migrated from before these tables would be: empty, and marked.
        let conn = rusqlite::Connection::open(&app.path).unwrap();
        conn.execute_batch(
            "DELETE FROM application_events; DELETE FROM queue_moves; \
             INSERT INTO pending_rebuilds VALUES ('application_history');",
        )
        .unwrap();
    }
    app.restart_stopped();
    app.stop();
    assert_eq!(dump(&app.path), live);
    kezek::verify::verify(&app.path).unwrap();
}

#[test]
fn verify_notices_a_missing_history_row() {
    let mut app = TestApp::spawn();
    for serial in 1..=3u16 {
        app.register(valid_form(serial)).unwrap();
    }
    app.stop();
    let conn = rusqlite::Connection::open(&app.path).unwrap();
    conn.execute("DELETE FROM queue_moves WHERE rowid = 2", [])
        .unwrap();
    let failure = kezek::verify::verify(&app.path).unwrap_err().to_string();
    assert!(failure.contains("queue_moves"), "{failure}");
}
