//! What survives a restart, and what `verify` catches.
//!
//! A restart must give back the same queue, position for position: the state is rebuilt
//! from SQLite, and the hash chain is checked on the way. `verify` must name the first
//! altered event or row, whoever altered it (these tests do what someone with the file and
//! the sqlite3 shell could do, including dropping the append-only triggers).

mod common;

use common::{valid_form, TestApp};
use kezek::domain::application::ApplicationId;
use kezek::domain::event::Actor;
use kezek::service::Command;
use kezek::store::anchor;
use kezek::verify::{verify, VerifyError};

fn populated() -> (TestApp, Vec<ApplicationId>) {
    let app = TestApp::spawn();
    let mut ids = Vec::new();
    for serial in 1..=40u16 {
        let mut form = valid_form(serial);
        if serial % 3 == 0 {
            form.kindergartens = vec![];
            form.language = "any".into();
        }
        if serial % 5 == 0 {
            form.priority_category = Some(
                if serial % 10 == 0 {
                    "orphan"
                } else {
                    "military_family"
                }
                .into(),
            );
            form.priority_document = Some(format!("№{serial}"));
        }
        ids.push(app.register(form).unwrap().id);
        app.clock.advance(chrono::Duration::minutes(7));
    }
    let officer = Actor::staff("officer-1");
    let service = app.service();
    service
        .submit_blocking(Command::VerifyPriority { id: ids[4] }, officer.clone())
        .unwrap();
    service
        .submit_blocking(Command::VerifyPriority { id: ids[9] }, officer.clone())
        .unwrap();
    let reject = Command::RejectPriority {
        id: ids[14],
        reason: "no document".into(),
    };
    service.submit_blocking(reject, officer).unwrap();
    service
        .submit_blocking(Command::Withdraw { id: ids[2] }, Actor::portal())
        .unwrap();
    (app, ids)
}

fn snapshot(
    app: &TestApp,
    ids: &[ApplicationId],
) -> Vec<Option<kezek::domain::waiting_list::Position>> {
    ids.iter().map(|id| app.service().position(*id)).collect()
}

#[test]
fn the_state_after_a_restart_equals_the_state_before_position_for_position() {
    let (mut app, ids) = populated();
    let before = snapshot(&app, &ids);
    assert!(
        before[2].is_none(),
        "the withdrawn application has no position"
    );
    assert_eq!(
        before[4].as_ref().unwrap().in_cohort,
        1,
        "the verified out-of-turn claim leads"
    );
    assert_eq!(
        before[9].as_ref().unwrap().in_cohort,
        2,
        "then the verified first-priority claim"
    );
    app.restart();
    assert_eq!(snapshot(&app, &ids), before);
    app.service().read().waiting.check_invariants().unwrap();
    // And the journal goes on where it stopped: new events link to the old chain.
    app.register(valid_form(100)).unwrap();
    app.restart();
    assert!(verify(&app.path).is_ok());
}

#[test]
fn verify_passes_on_an_untouched_database_and_counts_what_it_checked() {
    let (app, _) = populated();
    let report = verify(&app.path).unwrap();
    assert_eq!(report.applications, 40);
    assert_eq!(report.waiting, 39);
    // 2 districts + 3 kindergartens + 1 group + 40 registrations, each with its access code,
    // + 2 verified + 1 rejected + 1 withdrawn
    assert_eq!(report.events, 90);
}

fn tamper(app: &TestApp, sql: &str) {
    let conn = rusqlite::Connection::open(&app.path).unwrap();
    // An attacker with the file turns off whatever stands in the way.
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF; DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;",
    )
    .unwrap();
    conn.execute_batch(sql).unwrap();
}

#[test]
fn the_event_log_refuses_updates_and_deletes() {
    let (app, _) = populated();
    let conn = rusqlite::Connection::open(&app.path).unwrap();
    let update = conn.execute("UPDATE events SET actor = 'x' WHERE seq = 1", []);
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = conn.execute("DELETE FROM events WHERE seq = 1", []);
    assert!(delete.unwrap_err().to_string().contains("append-only"));
}

#[test]
fn one_changed_byte_in_an_event_payload_is_named_by_its_sequence_number() {
    let (app, _) = populated();
    // Event 21 is a registration; change one digit of its payload.
    let kind: String = rusqlite::Connection::open(&app.path)
        .unwrap()
        .query_row("SELECT kind FROM events WHERE seq = 21", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kind, "application_registered");
    tamper(&app, "UPDATE events SET payload = replace(payload, '\"number\":8', '\"number\":9') WHERE seq = 21");
    let changed: String = rusqlite::Connection::open(&app.path)
        .unwrap()
        .query_row("SELECT payload FROM events WHERE seq = 21", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(
        changed.contains("\"number\":9"),
        "the tamper step must have changed something"
    );
    let failure = verify(&app.path).unwrap_err();
    assert!(
        matches!(
            failure,
            VerifyError::Chain(kezek::domain::event::ChainError::Altered { seq: 21 })
        ),
        "{failure}"
    );
    assert!(failure.to_string().contains("event 21"), "{failure}");
}

#[test]
fn a_rehashed_forgery_breaks_the_link_to_the_next_event() {
    let (app, _) = populated();
    // A forger who recomputes event 20's hash still cannot fix event 21's prev_hash
    // without rewriting every later event; simulate the half-done job.
    tamper(&app, "UPDATE events SET hash = zeroblob(32) WHERE seq = 20");
    let failure = verify(&app.path).unwrap_err();
    assert!(failure.to_string().contains("event 20"), "{failure}");
}

#[test]
fn a_deleted_event_is_a_gap() {
    let (app, _) = populated();
    tamper(&app, "DELETE FROM events WHERE seq = 30");
    let failure = verify(&app.path).unwrap_err();
    assert!(failure.to_string().contains("event 31"), "{failure}");
}

/// `verify`'s failure after one application's row was changed by `assignment`.
fn verify_with_changed_application(app: &TestApp, id: ApplicationId, assignment: &str) -> String {
    tamper(
        app,
        &format!(
            "UPDATE applications SET {assignment} \
             WHERE district_id = {} AND registration_number = {}",
            id.district.0, id.number.0
        ),
    );
    verify(&app.path).unwrap_err().to_string()
}

#[test]
fn a_table_row_changed_behind_the_journal_is_named_with_its_field() {
    let (app, ids) = populated();
    let id = ids[6];
    let failure = verify_with_changed_application(&app, id, "tier = 0");
    assert!(
        failure.contains(&format!(
            "applications, row {}/{}",
            id.district.0, id.number.0
        )),
        "{failure}"
    );
    assert!(failure.contains("field tier"), "{failure}");
    assert!(
        !failure.contains("Қасымова"),
        "verify must not print personal data: {failure}"
    );
}

#[test]
fn a_deleted_application_row_is_caught() {
    let (app, ids) = populated();
    let last = ids[ids.len() - 1];
    tamper(
        &app,
        &format!(
            "DELETE FROM applications WHERE district_id = {} AND registration_number = {}",
            last.district.0, last.number.0
        ),
    );
    let failure = verify(&app.path).unwrap_err().to_string();
    assert!(failure.contains("in the journal but missing"), "{failure}");
}

#[test]
fn start_up_refuses_a_broken_chain() {
    let (mut app, _) = populated();
    app.stop();
    tamper(
        &app,
        "UPDATE events SET actor = 'staff:someone-else' WHERE seq = 45",
    );
    let clock = std::sync::Arc::new(app.clock.clone());
    let refused = kezek::service::Service::start(&app.path, clock)
        .err()
        .expect("start-up must refuse a broken chain");
    assert!(refused.to_string().contains("event 45"), "{refused}");
}

#[test]
fn a_corrupted_row_is_named_by_table_row_and_field_not_by_its_value() {
    let (app, ids) = populated();
    let id = ids[6];
    let failure = verify_with_changed_application(&app, id, "registered_at = 'not a time'");
    let row = format!("{}/{}", id.district.0, id.number.0);
    assert!(failure.contains("applications"), "{failure}");
    assert!(failure.contains(&row), "{failure}");
    assert!(failure.contains("field registered_at"), "{failure}");
    assert!(!failure.contains("not a time"), "no value: {failure}");
}

/// Copies of the database's files, to put back later (an older copy restored).
fn copy_files(from: &std::path::Path, to: &std::path::Path) {
    for suffix in ["", "-wal"] {
        let mut source = from.as_os_str().to_owned();
        source.push(suffix);
        let mut target = to.as_os_str().to_owned();
        target.push(suffix);
        let _ = std::fs::remove_file(&target);
        if std::path::Path::new(&source).exists() {
            std::fs::copy(&source, &target).unwrap();
        }
    }
}

fn start(app: &TestApp) -> Result<kezek::service::Service, kezek::service::StartError> {
    kezek::service::Service::start(&app.path, std::sync::Arc::new(app.clock.clone()))
}

fn register_more(app: &mut TestApp, serials: std::ops::Range<u16>) {
    app.restart_stopped();
    for serial in serials {
        app.register(valid_form(serial)).unwrap();
    }
    app.stop();
}

#[test]
fn a_database_behind_its_anchor_is_refused_with_the_number_of_missing_events() {
    let (mut app, _) = populated();
    app.stop();
    let older = app.path.with_extension("older");
    copy_files(&app.path, &older);
    register_more(&mut app, 100..107);
    let anchored = anchor::read(&anchor::anchor_path(&app.path))
        .unwrap()
        .expect("the writer anchors");

    copy_files(&older, &app.path);
    let conn = rusqlite::Connection::open(&app.path).unwrap();
    let head: u64 = conn
        .query_row("SELECT max(seq) FROM events", [], |r| r.get(0))
        .unwrap();
    drop(conn);
    let missing = anchored.seq - head;
    assert!(missing >= 7, "seven registrations at least");

    let refused = start(&app).err().expect("a database behind its anchor");
    let message = refused.to_string();
    assert!(
        message.contains(&format!("{missing} events behind")),
        "{message}"
    );
    let failure = verify(&app.path).unwrap_err().to_string();
    assert!(
        failure.contains(&format!("{missing} events behind")),
        "{failure}"
    );
    // Refused, not repaired: the anchor still says what was acknowledged.
    assert_eq!(
        anchor::read(&anchor::anchor_path(&app.path)).unwrap(),
        Some(anchored)
    );
}

#[test]
fn a_database_ahead_of_its_anchor_starts_and_advances_the_anchor() {
    let (mut app, _) = populated();
    app.stop();
    let before = anchor::read(&anchor::anchor_path(&app.path))
        .unwrap()
        .unwrap();
    register_more(&mut app, 100..103);
    let after = anchor::read(&anchor::anchor_path(&app.path))
        .unwrap()
        .unwrap();
    assert!(after.seq > before.seq);
    // A crash between COMMIT and the anchor's write leaves the anchor behind.
    anchor::write(&anchor::anchor_path(&app.path), before).unwrap();
    assert!(verify(&app.path).is_ok());
    app.restart_stopped();
    assert_eq!(
        anchor::read(&anchor::anchor_path(&app.path)).unwrap(),
        Some(after)
    );
}

#[test]
fn a_database_that_is_not_the_anchors_is_refused() {
    let (mut app, _) = populated();
    app.stop();
    let mut anchored = anchor::read(&anchor::anchor_path(&app.path))
        .unwrap()
        .unwrap();
    anchored.hash[0] ^= 1;
    anchor::write(&anchor::anchor_path(&app.path), anchored).unwrap();
    let refused = start(&app).err().expect("another chain");
    assert!(refused
        .to_string()
        .contains("is not the one its anchor records"));
}

/// `valid_form`, with a child of its own for every `serial` (born on one of 2022's days).
fn distinct_child(serial: u16) -> kezek::domain::application::RegistrationForm {
    let birth = common::date(2022, 1, 1) + chrono::Duration::days(i64::from(serial % 360));
    let mut form = valid_form(1);
    form.child_iin = common::child_iin(birth, (serial / 360) * 10);
    form.child_birth_date = birth.to_string();
    form
}

#[test]
fn the_wal_stays_under_its_bound_during_a_sustained_write_load() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    const BOUND: u64 = 2 * 1024 * 1024;
    let app = TestApp::spawn();
    let path = app.path.clone();
    let mut app = app;
    app.stop();
    let clock = std::sync::Arc::new(app.clock.clone());
    let options = kezek::service::StoreOptions {
        checkpoints: kezek::service::Checkpoints::Own {
            wal_max_bytes: BOUND,
        },
        anchor: None,
    };
    let service = kezek::service::Service::start_with(&path, clock, &options).unwrap();

    let wal = kezek::store::wal_path(&path);
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let largest = std::sync::Arc::new(AtomicU64::new(0));
    let sampler = {
        let (done, largest) = (done.clone(), largest.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
                largest.fetch_max(size, Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        })
    };
    // Registrations in batches until many times the bound has gone through the WAL: every
    // page in the main file was written to the WAL first.
    let mut serial = 1u16;
    while std::fs::metadata(&path).unwrap().len() < 5 * BOUND {
        let batch = (serial..serial + 25)
            .map(|s| {
                let command = Command::Register {
                    form: distinct_child(s),
                    channel: kezek::domain::application::Channel::Portal,
                };
                (command, Actor::portal())
            })
            .collect();
        for answer in service.submit_many_blocking(batch) {
            answer.unwrap();
        }
        serial += 25;
        assert!(
            serial < 30_000,
            "the load wrote too little to the main file"
        );
    }
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    service.shutdown();
    let largest = largest.load(Ordering::Relaxed);
    eprintln!("largest WAL seen: {largest} bytes, bound {BOUND}");
    assert!(largest > 0, "the sampler saw the WAL");
    assert!(
        largest < BOUND,
        "the WAL reached {largest} bytes, its bound is {BOUND}"
    );
}

#[test]
fn an_anchor_kept_elsewhere_is_written_and_checked_there() {
    let (mut app, _) = populated();
    app.stop();
    let elsewhere = app.path.with_file_name("other-disk.anchor");
    let options = kezek::service::StoreOptions {
        anchor: Some(elsewhere.clone()),
        ..Default::default()
    };
    let clock = std::sync::Arc::new(app.clock.clone());
    let older = app.path.with_extension("older");
    copy_files(&app.path, &older);
    let service = kezek::service::Service::start_with(&app.path, clock.clone(), &options).unwrap();
    let command = Command::Register {
        form: valid_form(100),
        channel: kezek::domain::application::Channel::Portal,
    };
    service.submit_blocking(command, Actor::portal()).unwrap();
    service.shutdown();
    let anchored = anchor::read(&elsewhere).unwrap().expect("written there");

    copy_files(&older, &app.path);
    let refused = kezek::service::Service::start_with(&app.path, clock, &options).err();
    assert!(refused
        .expect("behind")
        .to_string()
        .contains("events behind"));
    let depth = kezek::store::integrity::Depth::Quick;
    let failure = kezek::verify::verify_at(&app.path, depth, &elsewhere).unwrap_err();
    assert!(failure.to_string().contains("events behind"), "{failure}");
    assert_eq!(anchor::read(&elsewhere).unwrap(), Some(anchored));
}

/// A clean stop seals the files (src/store/seal.rs), and the next start skips SQLite's
/// checks of the whole file; while a writer runs there is no seal, so a crash leaves none;
/// one byte changed after the stop (here in an index page no query of the start reads)
/// makes the next start check everything and refuse the file.
#[test]
fn a_clean_stop_seals_the_files_and_any_change_after_it_brings_the_full_checks_back() {
    use kezek::store::{seal, Checks, Store, StoreOptions};
    let (mut app, _) = populated();
    app.stop();
    assert!(seal::intact(&app.path), "the clean stop sealed the files");

    let options = StoreOptions::default();
    let store = Store::open_writer(&app.path, &options).unwrap();
    assert!(
        !seal::seal_path(&app.path).exists(),
        "no seal while a writer has the files open"
    );
    let loaded = store.load().unwrap();
    assert_eq!(loaded.checks, Checks::RowsOnly);
    drop(loaded);
    drop(store);
    assert!(seal::intact(&app.path));

    // A store that never finished its start (here: never loaded) leaves no seal behind.
    drop(Store::open_writer(&app.path, &options).unwrap());
    assert!(!seal::seal_path(&app.path).exists());
    let store = Store::open_writer(&app.path, &options).unwrap();
    assert_eq!(store.load().unwrap().checks, Checks::Sqlite);
    drop(store);
    assert!(seal::intact(&app.path));

    // Damage at rest: one byte of the child-IIN index's root page, which the start reads
    // through no query (the rules on the rows read the table NOT INDEXED).
    let (page_size, root): (u64, u64) = {
        let conn = rusqlite::Connection::open(&app.path).unwrap();
        let size = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        let root = conn
            .query_row(
                "SELECT rootpage FROM sqlite_master \
                 WHERE name = 'one_active_application_per_child'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        (size, root)
    };
    let mut bytes = std::fs::read(&app.path).unwrap();
    let page = ((root - 1) * page_size) as usize;
    let at = page + page_size as usize - 1;
    bytes[at] ^= 0x55;
    std::fs::write(&app.path, &bytes).unwrap();
    assert!(!seal::intact(&app.path));
    let refused = Store::open_writer(&app.path, &options)
        .unwrap()
        .load()
        .err()
        .expect("SQLite's checks run again and find the damage");
    assert!(refused.to_string().contains("integrity"), "{refused}");
    assert!(
        !seal::seal_path(&app.path).exists(),
        "a refused start seals nothing"
    );
}

/// The child's one index (migration 0011) is still the last guard of "one active
/// application per child": a second active row for a child is refused by SQLite itself,
/// while the ended applications of one child may be many.
#[test]
fn the_childs_index_refuses_a_second_active_application_and_allows_ended_ones() {
    let (mut app, ids) = populated();
    app.stop();
    let conn = rusqlite::Connection::open(&app.path).unwrap();
    let row = |id: ApplicationId| {
        format!(
            "district_id = {} AND registration_number = {}",
            id.district.0, id.number.0
        )
    };
    let iin_of = |id: ApplicationId| -> String {
        conn.query_row(
            &format!("SELECT child_iin FROM applications WHERE {}", row(id)),
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let first = iin_of(ids[0]);
    let second_active = conn.execute(
        &format!(
            "UPDATE applications SET child_iin = ?1 WHERE {}",
            row(ids[1])
        ),
        [&first],
    );
    let refused = second_active.expect_err("two active applications of one child");
    assert!(refused.to_string().contains("UNIQUE"), "{refused}");

    // ids[2] was withdrawn; ending another and giving both one IIN is allowed.
    conn.execute(
        &format!(
            "UPDATE applications SET active = 0, status = 'withdrawn' WHERE {}",
            row(ids[3])
        ),
        [],
    )
    .unwrap();
    let withdrawn = iin_of(ids[2]);
    conn.execute(
        &format!(
            "UPDATE applications SET child_iin = ?1 WHERE {}",
            row(ids[3])
        ),
        [&withdrawn],
    )
    .expect("ended applications of one child may repeat");
}

/// The reports' aggregates (issue 17, migration 0018): a clean stop saves them beside the
/// journal's head, and the sealed start reads them (here proved by planting other ones,
/// which the start then shows and `verify` refuses); a saved row that does not decode, or
/// that is behind the journal, or a start after a crash, makes the start replay the
/// journal, which gives the reports the writer had.
#[test]
fn a_sealed_start_reads_the_reports_saved_at_close_and_anything_else_replays() {
    use kezek::domain::reports::Reports;
    use kezek::store::{load_reports, seal, Checks, Store, StoreOptions};
    let (mut app, _) = populated();
    app.stop();
    let fold = load_reports(&Store::open_reader(&app.path).unwrap()).unwrap();
    assert!(!fold.queue.is_empty() && !fold.decisions.is_empty());
    let saved_seq: i64 = rusqlite::Connection::open(&app.path)
        .unwrap()
        .query_row("SELECT seq FROM report_aggregates", [], |r| r.get(0))
        .unwrap();

    let options = StoreOptions::default();
    let start = || {
        let store = Store::open_writer(&app.path, &options).unwrap();
        let loaded = store.load().unwrap();
        (loaded.checks, loaded.head.0, loaded.state.reports)
    };
    let (checks, head, reports) = start();
    assert_eq!(checks, Checks::RowsOnly);
    assert_eq!(head as i64, saved_seq, "saved at the journal's head");
    assert_eq!(reports, fold, "the saved aggregates are the replay's");

    // Planted in place of the saved ones, and the files sealed again: the start reads what
    // is saved, and verify holds it against its replay.
    let plant = |seq: i64, body: &str| {
        let conn = rusqlite::Connection::open(&app.path).unwrap();
        conn.execute(
            "UPDATE report_aggregates SET seq = ?1, body = ?2",
            rusqlite::params![seq, body],
        )
        .unwrap();
        drop(conn);
        seal::write(&app.path).unwrap();
    };
    let empty = serde_json::to_string(&Reports::default()).unwrap();
    plant(saved_seq, &empty);
    let (checks, _, reports) = start();
    assert_eq!(checks, Checks::RowsOnly);
    assert_eq!(reports, Reports::default(), "read, not replayed");
    let failure = verify(&app.path).unwrap_err();
    assert!(failure.to_string().contains("saved"), "{failure}");

    // Not decodable, or valid at an earlier event: replayed.
    plant(saved_seq, "{not json");
    assert_eq!(start().2, fold);
    plant(saved_seq - 1, &empty);
    let (checks, _, reports) = start();
    assert_eq!(checks, Checks::RowsOnly);
    assert_eq!(reports, fold);
    assert!(verify(&app.path).is_ok(), "a stale row is no fault");

    // After a crash (no seal) even a row at the head is not trusted: the journal is
    // replayed (on a thread of its own, beside SQLite's checks).
    plant(saved_seq, &empty);
    seal::remove(&app.path).unwrap();
    let (checks, _, reports) = start();
    assert_eq!(checks, Checks::Sqlite);
    assert_eq!(reports, fold);
}
