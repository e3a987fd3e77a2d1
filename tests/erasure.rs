//! Personal data's end (issue 16 §3): a simulated city-year whose ended applications are
//! erased when their retention period is over, searched byte by byte afterwards; the refusal
//! to erase an active application; and the rewrite of a database the release before the
//! split made (tests/fixtures/release-0018/, a `kezek simulate` city of 400 registrations).

mod common;
#[path = "common/http.rs"]
mod http;

use chrono::{DateTime, Duration, Utc};
use kezek::clock::{Clock, ManualClock};
use kezek::domain::event::Actor;
use kezek::service::{Command, CommandError, Service};
use kezek::simulate::{run, SimulateOptions};
use rusqlite::Connection;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

const PERSONAL_COLUMNS: &str = "child_iin, child_full_name, applicant_iin, applicant_full_name, \
     applicant_phone, applicant_address, coalesce(applicant_email, '')";

/// Every personal value of the applications `filter` selects.
fn personal_values(conn: &Connection, filter: &str) -> BTreeSet<String> {
    let mut statement = conn
        .prepare(&format!(
            "SELECT {PERSONAL_COLUMNS} FROM applications WHERE {filter}"
        ))
        .unwrap();
    let mut rows = statement.query([]).unwrap();
    let mut values = BTreeSet::new();
    while let Some(row) = rows.next().unwrap() {
        for column in 0..7 {
            let value: String = row.get(column).unwrap();
            if value.chars().count() >= 6 {
                values.insert(value);
            }
        }
    }
    values
}

/// The bytes of the database file and its WAL.
fn file_bytes(db: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(db).unwrap();
    let wal = db.with_extension("db-wal");
    if let Ok(more) = std::fs::read(wal) {
        bytes.extend(more);
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

fn last_recorded_at(conn: &Connection) -> DateTime<Utc> {
    let micros: i64 = conn
        .query_row("SELECT max(recorded_at) FROM events", [], |row| row.get(0))
        .unwrap();
    DateTime::from_timestamp_micros(micros).unwrap()
}

#[test]
fn a_city_year_erased_leaves_no_trace_and_the_public_views_still_answer() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kezek.db");
    let options = SimulateOptions {
        seed: 11,
        registrations: 1_500,
        kindergartens: 20,
    };
    run(&db, &options, |_| {}).unwrap();
    // An officer revokes a live referral in words that name the family, who then withdraw:
    // the reason is theirs and must go with the rest.
    let reason = revoke_naming_the_family(&db);

    let conn = Connection::open(&db).unwrap();
    let erasable = "active = 0 AND status <> 'enrolled'";
    let ended = personal_values(&conn, erasable);
    let kept = personal_values(&conn, &format!("NOT ({erasable})"));
    // A value also held by a live application (a parent with a second child, a child that
    // moved district) stays; so does one inside a kept value or a catalog's text.
    let catalog: String = conn
        .query_row(
            "SELECT group_concat(name_kk || name_ru || address, '|') FROM kindergartens",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let mut gone: Vec<&String> = ended
        .iter()
        .filter(|value| !kept.iter().any(|k| k.contains(value.as_str())))
        .filter(|value| !catalog.contains(value.as_str()))
        .collect();
    gone.push(&reason);
    let erasable_count: usize = conn
        .query_row(
            &format!("SELECT count(*) FROM applications WHERE {erasable}"),
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert!(erasable_count > 50, "{erasable_count} ended applications");
    assert!(gone.len() > 100, "{} values to look for", gone.len());
    let before = file_bytes(&db);
    let found_before = gone.iter().filter(|v| contains(&before, v)).count();
    assert_eq!(found_before, gone.len(), "the search finds what is there");
    let a_kept = kept.iter().next().unwrap().clone();
    let ended_application: (String, u32) = conn
        .query_row(
            &format!(
                "SELECT d.code, a.registration_number FROM applications a \
                 JOIN districts d ON d.id = a.district_id WHERE a.{erasable} LIMIT 1"
            ),
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    let public_before = public_views(&conn, erasable);
    let now = last_recorded_at(&conn);
    drop(conn);

    // Three years and a bit later (the default retention is 1,096 days).
    let clock = ManualClock::new(now + Duration::days(1_100));
    let service = Service::start(&db, Arc::new(clock.clone())).unwrap();
    // The scheduler's first tick sweeps at start; this one waits for it to be done.
    service.tick_blocking().unwrap();
    // Erasing again: refused, with its own code.
    let id = kezek::domain::numbers::parse_application(
        &service.read().catalog,
        &format!("{}-{}", ended_application.0, ended_application.1),
    )
    .unwrap();
    let again = service.submit_blocking(Command::ErasePersonalData { id }, Actor::system());
    assert!(
        matches!(
            again,
            Err(CommandError::Conflict(kezek::service::ALREADY_ERASED))
        ),
        "{again:?}"
    );
    service.shutdown();

    let verified = kezek::verify::verify(&db).unwrap();
    assert_eq!(verified.erased, erasable_count);
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let after = file_bytes(&db);
    let left: Vec<&&String> = gone.iter().filter(|v| contains(&after, v)).collect();
    assert!(
        left.is_empty(),
        "{} erased values still in the file",
        left.len()
    );
    assert!(contains(&after, &a_kept), "a live application's data stays");
    // What is public of the erased applications is what it was: their numbers, statuses,
    // keys and birth dates, and the protocol of their referrals.
    assert_eq!(public_views(&conn, "erased_at IS NOT NULL"), public_before);
    // A printed notice of an erased application is still known, with its standing; its
    // seal, made over the names erased, is no longer checked (`erased`).
    let catalog = kezek::store::load_catalog(&conn).unwrap();
    let signer = kezek::documents::signing::DocumentSigner::load_or_create(dir.path()).unwrap();
    let notice = kezek::domain::document::DocumentId::parse(&format!(
        "notice-{}-{}",
        ended_application.0, ended_application.1
    ))
    .unwrap();
    let answer =
        kezek::documents::verify(&conn, &catalog, &signer, &notice, None, "x", clock.now())
            .unwrap()
            .expect("the document is known");
    assert!(answer.erased && !answer.authentic, "{answer:?}");
}

/// Revokes the first live referral of the simulated city in a reason that names the child
/// and the parent's phone, and withdraws the application; returns the reason.
fn revoke_naming_the_family(db: &Path) -> String {
    use kezek::domain::application::{ApplicationId, RegistrationNumber};
    use kezek::domain::catalog::DistrictId;
    use kezek::domain::referral::{ReferralId, ReferralNumber};
    let conn = Connection::open(db).unwrap();
    let now = last_recorded_at(&conn) + Duration::minutes(1);
    let (referral, id, child, phone) = conn
        .query_row(
            "SELECT r.district_id, r.number, a.district_id, a.registration_number, \
             a.child_full_name, a.applicant_phone FROM referrals r JOIN applications a \
             ON a.district_id = r.application_district_id \
             AND a.registration_number = r.application_number \
             WHERE r.status = 'issued' AND r.transfer = 0 AND r.valid_until > ?1 LIMIT 1",
            [now.timestamp_micros()],
            |row| {
                Ok((
                    ReferralId {
                        district: DistrictId(row.get(0)?),
                        number: ReferralNumber(row.get(1)?),
                    },
                    ApplicationId {
                        district: DistrictId(row.get(2)?),
                        number: RegistrationNumber(row.get(3)?),
                    },
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                ))
            },
        )
        .expect("a live referral at the year's end");
    drop(conn);
    let reason = format!("Анасы {child} ({phone}) басқа қалаға көшті");
    let service = Service::start(db, Arc::new(ManualClock::new(now))).unwrap();
    service
        .submit_blocking(
            Command::Revoke {
                referral,
                reason: reason.clone(),
                priority_unconfirmed: false,
            },
            Actor::staff("officer"),
        )
        .unwrap();
    service
        .submit_blocking(Command::Withdraw { id }, Actor::portal())
        .unwrap();
    service.shutdown();
    reason
}

/// What the public sees of the applications `filter` selects: district, number, status, key
/// and birth date, and their referrals' protocol.
fn public_views(conn: &Connection, filter: &str) -> Vec<String> {
    let mut statement = conn
        .prepare(&format!(
            "SELECT district_id || '/' || registration_number || ' ' || status || ' ' || tier \
             || ' ' || registered_at || ' ' || child_birth_date FROM applications WHERE {filter} \
             UNION ALL SELECT district_id || '/R' || number || ' ' || status || ' ' || place_id \
             FROM referrals WHERE (application_district_id, application_number) IN \
             (SELECT district_id, registration_number FROM applications WHERE {filter}) \
             ORDER BY 1"
        ))
        .unwrap();
    let rows = statement.query_map([], |row| row.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn an_active_application_is_not_erased() {
    let app = common::TestApp::spawn();
    let application = app.register(common::valid_form(1)).unwrap();
    let refused = app.service().submit_blocking(
        Command::ErasePersonalData { id: application.id },
        Actor::system(),
    );
    assert!(
        matches!(
            refused,
            Err(CommandError::Conflict(kezek::service::ERASURE_ACTIVE))
        ),
        "{refused:?}"
    );
    app.service()
        .submit_blocking(Command::Withdraw { id: application.id }, Actor::portal())
        .unwrap();
    app.service()
        .submit_blocking(
            Command::ErasePersonalData { id: application.id },
            Actor::system(),
        )
        .unwrap();
    let stored = app
        .service()
        .read()
        .applications_of(application.applicant.iin.as_u64());
    assert!(stored.is_empty(), "the parent's list forgets it");
}

/// A copy of the database (and its anchor file) in tests/fixtures/`release`, in `dir`.
fn fixture_copy(release: &str, dir: &Path) -> std::path::PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(release);
    let db = dir.join("kezek.db");
    std::fs::copy(fixture.join("kezek.db"), &db).unwrap();
    std::fs::copy(fixture.join("kezek.db.anchor"), dir.join("kezek.db.anchor")).unwrap();
    db
}

/// How many personal parts the journal holds.
fn personal_parts(conn: &Connection) -> i64 {
    conn.query_row("SELECT count(*) FROM personal_data", [], |row| row.get(0))
        .unwrap()
}

/// The journal's last event: its seq and hash.
fn journal_head(conn: &Connection) -> (i64, Vec<u8>) {
    conn.query_row(
        "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .unwrap()
}

/// Opens the old database at `now` (which migrates it and rewrites its journal), checks that
/// `verify` passes on the same number of events and that the rewrite kept `old_head`.
fn open_rewritten(db: &Path, now: DateTime<Utc>, old_head: &(i64, Vec<u8>)) -> Connection {
    Service::start(db, Arc::new(ManualClock::new(now)))
        .unwrap()
        .shutdown();
    let report = kezek::verify::verify(db).unwrap();
    assert_eq!(report.events, old_head.0 as u64, "no event added or lost");
    let conn = Connection::open(db).unwrap();
    let kept: (i64, Vec<u8>) = conn
        .query_row(
            "SELECT old_seq, old_hash FROM journal_rewrites ORDER BY rowid DESC LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(&kept, old_head, "the head before the rewrite is kept");
    conn
}

#[test]
fn a_database_of_the_release_before_is_rewritten_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_copy("release-0018", dir.path());
    let old = Connection::open(&db).unwrap();
    let old_head = journal_head(&old);
    let personal = personal_values(&old, "1");
    let applications_before = public_views(&old, "1");
    let now = last_recorded_at(&old) + Duration::days(1);
    drop(old);

    // Opening migrates and rewrites; the anchor file still names the old head.
    let conn = open_rewritten(&db, now, &old_head);
    let mut payloads = conn.prepare("SELECT payload FROM events").unwrap();
    let journal: String = payloads
        .query_map([], |row| row.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let in_journal = personal
        .iter()
        .filter(|v| journal.contains(v.as_str()))
        .count();
    assert_eq!(
        in_journal, 0,
        "the journal's payloads hold no personal value"
    );
    let parts = personal_parts(&conn);
    assert!(parts >= 400, "{parts} personal parts");
    assert_eq!(public_views(&conn, "1"), applications_before);
}

/// A database the release before revocation reasons were personal made
/// (tests/fixtures/release-0020: `kezek simulate` of 400 registrations, then three live
/// referrals revoked in words that name the child and the parent's phone, two of those
/// applications withdrawn). Opening it rewrites the journal from its first revocation on:
/// the reasons leave the public forms for personal parts owned by the referral's
/// application; the old head is kept; `verify` passes. Three years on, the withdrawn ones'
/// reasons are gone from the file, and the third's stays.
#[test]
fn a_database_of_release_0020_has_its_revocation_reasons_made_personal() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_copy("release-0020", dir.path());
    let old = Connection::open(&db).unwrap();
    let old_head = journal_head(&old);
    let reasons = |conn: &Connection, filter: &str| -> Vec<String> {
        let mut statement = conn
            .prepare(&format!(
                "SELECT r.reason FROM referrals r JOIN applications a \
                 ON a.district_id = r.application_district_id \
                 AND a.registration_number = r.application_number \
                 WHERE r.status = 'revoked' AND {filter} ORDER BY r.closed_at"
            ))
            .unwrap();
        let rows = statement.query_map([], |row| row.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    };
    let ended = reasons(&old, "a.active = 0");
    let live = reasons(&old, "a.active = 1");
    assert_eq!(
        (ended.len(), live.len()),
        (2, 1),
        "the fixture's revocations"
    );
    let in_payloads = |conn: &Connection, value: &str| -> i64 {
        conn.query_row(
            "SELECT count(*) FROM events WHERE instr(payload, ?1) > 0",
            [value],
            |row| row.get(0),
        )
        .unwrap()
    };
    for reason in ended.iter().chain(&live) {
        assert_eq!(in_payloads(&old, reason), 1, "public before: {reason}");
    }
    let parts_before = personal_parts(&old);
    let now = last_recorded_at(&old) + Duration::days(1);
    drop(old);

    let conn = open_rewritten(&db, now, &old_head);
    for reason in ended.iter().chain(&live) {
        assert_eq!(in_payloads(&conn, reason), 0, "still public: {reason}");
    }
    let parts = personal_parts(&conn);
    assert_eq!(parts, parts_before + 3, "one part per revocation");
    assert_eq!(
        reasons(&conn, "1").len(),
        3,
        "the table keeps them while held"
    );
    drop(conn);

    // Three years and a bit on, the withdrawn applications' data is erased.
    let later = ManualClock::new(now + Duration::days(1_100));
    let service = Service::start(&db, Arc::new(later)).unwrap();
    service.tick_blocking().unwrap();
    service.shutdown();
    let verified = kezek::verify::verify(&db).unwrap();
    assert!(verified.erased >= 2, "{} erased", verified.erased);
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let after = file_bytes(&db);
    for reason in &ended {
        assert!(!contains(&after, reason), "an erased reason is left");
    }
    assert!(
        contains(&after, &live[0]),
        "a live application's reason stays"
    );
    assert_eq!(reasons(&conn, "a.erased_at IS NOT NULL"), ["", ""]);
}

/// SIGKILL during erasures (issue 16's crash round): the real `kezek serve` on the manual
/// clock erases applications one by one for an administrator while the clock moves three
/// years on and the retention sweep erases the rest in one transaction; the process is
/// killed at a random moment. After it: every acknowledged erasure is whole (no personal
/// part, message or placeholder missing: `verify`), the sweep is all or nothing, and the
/// applications not erased still hold all their data.
#[test]
fn erasures_killed_midway_are_whole_or_absent() {
    use kezek::domain::staff::{Role, Scope};
    use rand::Rng;
    const WITHDRAWN: u16 = 200;
    const ONE_BY_ONE: usize = 16;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for round in 0..3u64 {
        let mut app = common::TestApp::spawn();
        let mut numbers = Vec::new();
        for serial in 1..=WITHDRAWN {
            let application = app.register(common::valid_form(serial)).unwrap();
            app.service()
                .submit_blocking(Command::Withdraw { id: application.id }, Actor::portal())
                .unwrap();
            numbers.push(application.id.number.0);
        }
        let now = app.clock.now();
        app.stop();
        let token = common::add_staff(&app.path, "eraser", Role::Admin, Scope::Everywhere);
        let (mut server, base) = common::spawn_server(&app.path, &["--clock", "manual"]);
        let client = reqwest::Client::new();
        let wait_ms = rand::rng().random_range(30..150);
        let (one_by_one, swept) = runtime.block_on(async {
            let erase = numbers[..ONE_BY_ONE].iter().map(|number| {
                let request = client
                    .post(format!("{base}/api/v1/applications/ESL-{number}/erase"))
                    .bearer_auth(&token)
                    .send();
                async move { (*number, request.await.is_ok_and(|r| r.status() == 200)) }
            });
            let sweep = client
                .post(format!("{base}/api/v1/admin/clock"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"now": now + Duration::days(1_100)}))
                .send();
            let kill = async {
                tokio::time::sleep(std::time::Duration::from_millis(wait_ms)).await;
                server.kill().unwrap();
            };
            let (answers, swept, ()) = tokio::join!(
                futures_util::future::join_all(erase),
                async { sweep.await.is_ok_and(|r| r.status() == 200) },
                kill
            );
            (answers, swept)
        });
        server.wait().unwrap();

        let report = kezek::verify::verify(&app.path)
            .unwrap_or_else(|e| panic!("round {round}: verify after the kill: {e}"));
        let conn = Connection::open(&app.path).unwrap();
        let erased: BTreeSet<u32> = conn
            .prepare("SELECT registration_number FROM applications WHERE erased_at IS NOT NULL")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(report.erased, erased.len());
        for (number, acknowledged) in &one_by_one {
            assert!(
                !acknowledged || erased.contains(number),
                "acknowledged {number} lost"
            );
        }
        let rest: Vec<&u32> = numbers[ONE_BY_ONE..].iter().collect();
        let rest_erased = rest.iter().filter(|n| erased.contains(n)).count();
        assert!(
            rest_erased == 0 || rest_erased == rest.len(),
            "round {round}: the sweep is one transaction, {rest_erased} of {} erased",
            rest.len()
        );
        assert!(
            !swept || rest_erased == rest.len(),
            "an acknowledged sweep lost"
        );
        let held: i64 = conn
            .query_row(
                "SELECT count(DISTINCT registration_number) FROM personal_data",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(
            held as usize,
            numbers.len() - erased.len(),
            "the others keep their data"
        );
        eprintln!(
            "round {round}: killed after {wait_ms} ms, {} erased ({} acknowledged one by one, \
             sweep acknowledged: {swept})",
            erased.len(),
            one_by_one.iter().filter(|(_, a)| *a).count()
        );
    }
}

/// The administrator's page for the API's early erasure: by number only, refusing an
/// active application (`erasure_active`) and an unknown number, erasing an ended one; not
/// open to an officer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_erases_an_ended_application_by_its_number() {
    use http::{hidden, Go};
    let mut server = http::Server::start().await;
    server.stop_at_redirects();
    let form = serde_json::to_value(common::valid_form(5)).unwrap();
    let registered = server.register(form).await;
    let number = registered["number"].as_str().unwrap().to_string();
    let code = registered["access_code"].as_str().unwrap().to_string();
    let officer = server.staff_page_session(&server.officer()).await;
    let refused = server
        .get("/staff/admin/erasure")
        .header("cookie", officer)
        .go()
        .await;
    assert_eq!(refused.status, 403);
    let admin = server.staff_page_session(&server.admin()).await;
    let post = |typed: String| {
        let admin = admin.clone();
        let server = &server;
        async move {
            let page = server
                .get("/staff/admin/erasure")
                .header("cookie", admin.clone())
                .go()
                .await;
            assert_eq!(page.status, 200, "{}", page.text);
            server
                .post("/staff/admin/erasure")
                .header("cookie", admin)
                .form(&[
                    ("csrf", hidden(&page.text, "csrf").as_str()),
                    (
                        "idempotency_key",
                        hidden(&page.text, "idempotency_key").as_str(),
                    ),
                    ("number", typed.as_str()),
                ])
                .go()
                .await
        }
    };
    let active = post(number.clone()).await;
    assert_eq!(active.status, 409, "{}", active.text);
    assert!(active.text.contains("erasure_active") || active.text.contains("белсенді"));
    assert_eq!(post("ESL-999".into()).await.status, 404);
    let withdrawn = server
        .post(&format!("/api/v1/applications/{number}/withdraw"))
        .header("X-Access-Code", &code)
        .go()
        .await;
    assert_eq!(withdrawn.status, 200, "{}", withdrawn.text);
    let done = post(number.to_lowercase()).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert!(done.text.contains("role=\"status\""), "{}", done.text);
    let view = server
        .get(&format!("/api/v1/applications/{number}"))
        .header("X-Access-Code", &code)
        .go()
        .await
        .json();
    assert_eq!(view["personal_data_erased"], serde_json::json!(true));
    assert_eq!(post(number).await.status, 409, "erased once");
}

/// Each district's own retention, counted from each application's last event: the sweep
/// finds them through the index of ended applications (migration 0022), district by district.
#[test]
fn the_sweep_erases_each_ended_application_when_its_districts_retention_is_over() {
    use kezek::domain::referral::{DistrictPolicy, RETENTION_DAYS_DEFAULT};
    let app = common::TestApp::spawn();
    let short = DistrictPolicy {
        retention_days: 30,
        ..DistrictPolicy::default()
    };
    app.service()
        .submit_blocking(
            Command::SetPolicy {
                district: app.other_district,
                policy: short,
            },
            Actor::staff("admin"),
        )
        .unwrap();
    let withdrawn = |serial: u16, district: &str| {
        let form = kezek::domain::application::RegistrationForm {
            district: district.into(),
            kindergartens: vec![],
            ..common::valid_form(serial)
        };
        let id = app.register(form).unwrap().id;
        app.service()
            .submit_blocking(Command::Withdraw { id }, Actor::portal())
            .unwrap();
        id
    };
    let start = app.clock.now();
    let early = withdrawn(1, "ESL");
    let elsewhere = withdrawn(2, "SAR");
    app.clock.set(start + Duration::days(10));
    let later = withdrawn(3, "ESL");
    let kept = app.register(common::valid_form(4)).unwrap().id;

    let erased_after = |days: i64| -> BTreeSet<u32> {
        app.clock.set(start + Duration::days(days));
        app.service().tick_blocking().unwrap();
        let conn = Connection::open(&app.path).unwrap();
        let mut statement = conn
            .prepare("SELECT district_id, registration_number FROM applications WHERE erased_at IS NOT NULL")
            .unwrap();
        let rows = statement
            .query_map([], |row| Ok((row.get::<_, u32>(0)?, row.get::<_, u32>(1)?)))
            .unwrap();
        rows.map(Result::unwrap)
            .map(|(district, number)| {
                [early, elsewhere, later, kept]
                    .iter()
                    .position(|id| id.district.0 == district && id.number.0 == number)
                    .expect("one of the four") as u32
            })
            .collect()
    };
    let retention = i64::from(RETENTION_DAYS_DEFAULT);
    assert_eq!(erased_after(29), BTreeSet::new(), "nothing is due yet");
    assert_eq!(
        erased_after(31),
        BTreeSet::from([1]),
        "the 30-day district's"
    );
    assert_eq!(erased_after(retention - 1), BTreeSet::from([1]));
    assert_eq!(erased_after(retention + 1), BTreeSet::from([0, 1]));
    assert_eq!(erased_after(retention + 9), BTreeSet::from([0, 1]));
    assert_eq!(
        erased_after(retention + 11),
        BTreeSet::from([0, 1, 2]),
        "the one withdrawn ten days later, ten days later; the fourth was never ended"
    );
}

/// `verify` proves the sweep can find every ended application: a row without its end would
/// never be erased, and an active one has none.
#[test]
fn verify_refuses_an_ended_application_the_sweep_could_not_find() {
    let app = common::TestApp::spawn();
    let active = app.register(common::valid_form(1)).unwrap().id;
    let ended = app.register(common::valid_form(2)).unwrap().id;
    app.service()
        .submit_blocking(Command::Withdraw { id: ended }, Actor::portal())
        .unwrap();
    kezek::verify::verify(&app.path).unwrap();
    let conn = Connection::open(&app.path).unwrap();
    for (id, wrong, detail) in [
        (active, "1", "an active application with an end"),
        (ended, "NULL", "an ended application without its end"),
        (ended, "ended_at + 1", "with one after its last event"),
    ] {
        let ended_at = |conn: &Connection| -> Option<i64> {
            conn.query_row(
                "SELECT ended_at FROM applications \
                 WHERE district_id = ?1 AND registration_number = ?2",
                [id.district.0, id.number.0],
                |row| row.get(0),
            )
            .unwrap()
        };
        let right = ended_at(&conn);
        let set = |value: &str| {
            conn.execute(
                &format!(
                    "UPDATE applications SET ended_at = {value} \
                     WHERE district_id = ?1 AND registration_number = ?2"
                ),
                [id.district.0, id.number.0],
            )
            .unwrap();
        };
        set(wrong);
        let refused = kezek::verify::verify(&app.path).unwrap_err().to_string();
        assert!(refused.contains(detail), "{wrong}: {refused}");
        set(&right.map_or("NULL".into(), |at| at.to_string()));
        assert_eq!(ended_at(&conn), right);
    }
    kezek::verify::verify(&app.path).unwrap();
}

/// An enrolled child's application is kept while the child holds its place; its period runs
/// from the day the kindergarten marks that it left (README), and `verify` accepts its end.
#[test]
fn a_child_who_left_is_erased_when_the_retention_after_leaving_is_over() {
    use kezek::domain::catalog::{AgeBand, Language};
    use kezek::domain::referral::RETENTION_DAYS_DEFAULT;
    use kezek::service::{NewPlaces, Outcome};
    let app = common::TestApp::spawn();
    let start = app.clock.now();
    let form = kezek::domain::application::RegistrationForm {
        desired_start: "2026-11-20".into(),
        ..common::valid_form(1)
    };
    let child = app.register(form).unwrap().id;
    let kindergarten = app.kindergartens[0];
    let places = NewPlaces {
        kindergarten,
        group: None,
        age_band: Some(AgeBand::new(common::date(2022, 1, 1), common::date(2022, 12, 31)).unwrap()),
        language: Some(Language::KAZAKH),
        count: 1,
        available_from: common::date(2026, 11, 20),
    };
    let staff = Actor::staff("kg");
    let Ok(Outcome::PlacesReported { referrals, .. }) = app
        .service()
        .submit_blocking(Command::ReportPlaces(places), staff.clone())
    else {
        panic!("the place is reported");
    };
    assert_eq!(referrals[0].application, child);
    let hand_in = Command::HandIn {
        referral: referrals[0].id,
        by: kindergarten,
    };
    app.service()
        .submit_blocking(hand_in, staff.clone())
        .unwrap();
    let erased = |days: i64| {
        app.clock.set(start + Duration::days(days));
        app.service().tick_blocking().unwrap();
        let conn = Connection::open(&app.path).unwrap();
        conn.query_row(
            "SELECT erased_at IS NOT NULL FROM applications \
             WHERE district_id = ?1 AND registration_number = ?2",
            [child.district.0, child.number.0],
            |row| row.get::<_, bool>(0),
        )
        .unwrap()
    };
    let retention = i64::from(RETENTION_DAYS_DEFAULT);
    assert!(
        !erased(retention + 1),
        "enrolled: kept while it holds its place"
    );
    let left = Command::MarkLeft {
        id: child,
        by: kindergarten,
    };
    app.service().submit_blocking(left, staff).unwrap();
    kezek::verify::verify(&app.path).unwrap();
    assert!(
        !erased(2 * retention),
        "a day before its period after leaving ends"
    );
    assert!(
        erased(2 * retention + 2),
        "its period after leaving is over"
    );
    kezek::verify::verify(&app.path).unwrap();
}
