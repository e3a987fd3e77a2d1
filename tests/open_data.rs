//! Open data (issue 17): a snapshot of a simulated city's queue and protocol holds exactly
//! the public facts, no personal data, validates against its own Frictionless schema with the
//! standard validator (`frictionless`, PyPI, in `.venv-test` by scripts/install-test-deps),
//! and its signature and chain head check; any changed byte is caught.

mod common;
#[path = "common/http.rs"]
mod http;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use kezek::documents::DocumentSigner;
use kezek::opendata::{self, CheckError};
use kezek::simulate::{run, SimulateOptions};
use kezek::store::Store;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn simulated_city(dir: &Path) -> PathBuf {
    let db = dir.join("city.db");
    let options = SimulateOptions {
        seed: 7,
        registrations: 1_500,
        kindergartens: 30,
    };
    run(&db, &options, |_| {}).expect("the city-year runs");
    db
}

fn snapshot_of(db: &Path, signer: &DocumentSigner, out: &Path) -> opendata::Snapshot {
    let mut conn = Store::open_reader(db).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 12, 5, 19, 0, 0).unwrap();
    opendata::cut_into(&mut conn, signer, now, out).unwrap()
}

/// Parses a CSV the snapshot wrote (no field of it needs quoting): header, rows.
fn csv(path: &Path) -> (Vec<String>, Vec<HashMap<String, String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|line| {
            header
                .iter()
                .cloned()
                .zip(line.split(',').map(String::from))
                .collect()
        })
        .collect();
    (header, rows)
}

struct Row {
    number: String,
    birth_year: i32,
    tier: i64,
    registered_at: i64,
    status: String,
    held: bool,
    district: i64,
    seq_number: i64,
}

/// The active applications, read with plain SQL: the recount shares no code with the
/// snapshot.
fn active_rows(db: &Path) -> Vec<Row> {
    let conn = Store::open_reader(db).unwrap();
    let mut statement = conn
        .prepare(
            "SELECT d.code || '-' || a.registration_number, a.child_birth_date, a.tier, \
             a.registered_at, a.status, a.held_until IS NOT NULL, a.district_id, \
             a.registration_number \
             FROM applications a JOIN districts d ON d.id = a.district_id WHERE a.active = 1",
        )
        .unwrap();
    statement
        .query_map([], |row| {
            let birth: String = row.get(1)?;
            Ok(Row {
                number: row.get(0)?,
                birth_year: birth[..4].parse().unwrap(),
                tier: row.get(2)?,
                registered_at: row.get(3)?,
                status: row.get(4)?,
                held: row.get(5)?,
                district: row.get(6)?,
                seq_number: row.get(7)?,
            })
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn interleaving_districts(db: &Path) -> Vec<i64> {
    let conn = Store::open_reader(db).unwrap();
    let mut statement = conn
        .prepare("SELECT district_id FROM district_policies WHERE interleave_first_priority = 1")
        .unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn a_snapshot_holds_the_public_queue_signed_and_valid() {
    let dir = tempfile::tempdir().unwrap();
    let db = simulated_city(dir.path());
    let signer = DocumentSigner::from_seed([7; 32]);
    let out = dir.path().join("snapshot");
    let snapshot = snapshot_of(&db, &signer, &out);

    // Cut at the journal's head.
    let conn = Store::open_reader(&db).unwrap();
    let (seq, hash): (i64, Vec<u8>) = conn
        .query_row(
            "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(snapshot.seq, seq as u64);
    assert_eq!(snapshot.head, hex::encode(&hash));
    let checked = opendata::check(&out, &signer.verifying_key()).unwrap();
    assert_eq!(
        (checked.seq, checked.chain_head.clone()),
        (seq as u64, hex::encode(&hash))
    );

    // Exactly the active applications; the protocol has what the city-year made.
    let expected = active_rows(&db);
    let (header, queue) = csv(&out.join("queue.csv"));
    assert_eq!(header[0], "number");
    assert_eq!(queue.len(), expected.len());
    let (_, places) = csv(&out.join("places.csv"));
    let (_, referrals) = csv(&out.join("referrals.csv"));
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap() as usize;
    assert_eq!(places.len(), count("SELECT count(*) FROM places"));
    assert_eq!(referrals.len(), count("SELECT count(*) FROM referrals"));
    assert!(!referrals.is_empty(), "the city-year issued referrals");

    // Positions recounted from the rows: 1 + the waiting applications of the same district
    // and birth year ahead in key order (districts without the 1 : 3 cycle).
    let by_number: HashMap<&str, &HashMap<String, String>> =
        queue.iter().map(|r| (r["number"].as_str(), r)).collect();
    let interleaving = interleaving_districts(&db);
    let mut compared = 0;
    for row in &expected {
        let published = by_number[row.number.as_str()];
        assert_eq!(published["birth_year"], row.birth_year.to_string());
        let waiting = row.status == "queued";
        let status = match (waiting, row.held) {
            (true, true) => "on_stop_list",
            (true, false) => "queued",
            _ => "referred",
        };
        assert_eq!(published["status"], status, "{}", row.number);
        if !waiting {
            assert_eq!(published["cohort_position"], "", "{}", row.number);
            continue;
        }
        if interleaving.contains(&row.district) {
            continue;
        }
        let ahead = expected
            .iter()
            .filter(|other| {
                other.status == "queued"
                    && other.district == row.district
                    && other.birth_year == row.birth_year
                    && (other.tier, other.registered_at, other.seq_number)
                        < (row.tier, row.registered_at, row.seq_number)
            })
            .count();
        assert_eq!(
            published["cohort_position"],
            (ahead + 1).to_string(),
            "{}",
            row.number
        );
        compared += 1;
    }
    assert!(compared > 100, "positions compared: {compared}");

    // Nothing personal: no IIN, name, phone or address of anyone in any file.
    let everything: Vec<u8> = std::fs::read_dir(&out)
        .unwrap()
        .flat_map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    let everything = String::from_utf8(everything).unwrap();
    let mut statement = conn
        .prepare(
            "SELECT child_iin, child_full_name, applicant_iin, applicant_full_name, \
             applicant_phone, applicant_address FROM applications",
        )
        .unwrap();
    let personal = statement
        .query_map([], |r| {
            (0..6)
                .map(|i| r.get::<_, String>(i))
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap();
    for values in personal {
        for (column, value) in values.unwrap().iter().enumerate() {
            // The column's index only: the test's message holds no personal data either.
            assert!(
                !everything.contains(value),
                "column {column} in the snapshot"
            );
        }
    }

    // The standard validator agrees with the schema.
    let validator = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/frictionless");
    assert!(
        validator.exists(),
        "{} is missing: run scripts/install-test-deps",
        validator.display()
    );
    let report = Command::new(&validator)
        .args(["validate", "--json"])
        .arg(out.join("datapackage.json"))
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&report.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&report.stderr)));
    assert_eq!(report["valid"], true, "{report:#}");
}

#[test]
fn a_changed_byte_or_another_key_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let demo = Command::new(env!("CARGO_BIN_EXE_kezek"))
        .arg("--db")
        .arg(&db)
        .args(["demo", "--applications", "300"])
        .output()
        .unwrap();
    assert!(demo.status.success(), "{demo:?}");
    let signer = DocumentSigner::from_seed([9; 32]);
    let out = dir.path().join("snapshot");
    snapshot_of(&db, &signer, &out);
    let key = signer.verifying_key();
    assert!(opendata::check(&out, &key).is_ok());

    let other = DocumentSigner::from_seed([8; 32]).verifying_key();
    assert!(matches!(
        opendata::check(&out, &other),
        Err(CheckError::Signature(_))
    ));

    let queue = out.join("queue.csv");
    let original = std::fs::read(&queue).unwrap();
    let mut changed = original.clone();
    let at = changed.len() / 2;
    changed[at] = if changed[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(&queue, &changed).unwrap();
    assert_eq!(
        opendata::check(&out, &key),
        Err(CheckError::FileChanged("queue.csv".into()))
    );
    std::fs::write(&queue, &original).unwrap();

    let descriptor = out.join("datapackage.json");
    let text = std::fs::read_to_string(&descriptor).unwrap();
    std::fs::write(&descriptor, text.replacen("CC-BY-4.0", "CC0-1.0", 1)).unwrap();
    assert!(matches!(
        opendata::check(&out, &key),
        Err(CheckError::Signature(_))
    ));
}

/// The documented check, as anyone would run it: `kezek check-export DIR --url` takes the
/// service's published key and its public chain link at the snapshot's sequence number.
#[tokio::test]
async fn check_export_against_the_running_service() {
    let server = http::Server::start().await;
    let form = serde_json::to_value(common::valid_form(1)).unwrap();
    server.register(form).await;
    let db = server.app.path.clone();
    let out = server.app.path.with_file_name("snapshot");
    let kezek = env!("CARGO_BIN_EXE_kezek");
    let base = server.base.clone();
    let (db_arg, out_arg) = (db.clone(), out.clone());
    let (exported, checked) = tokio::task::spawn_blocking(move || {
        let exported = Command::new(kezek)
            .arg("--db")
            .arg(&db_arg)
            .args(["export", "--out"])
            .arg(&out_arg)
            .output()
            .unwrap();
        let checked = Command::new(kezek)
            .args(["check-export", "--url", &base])
            .arg(&out_arg)
            .output()
            .unwrap();
        (exported, checked)
    })
    .await
    .unwrap();
    assert!(exported.status.success(), "{exported:?}");
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{said} {checked:?}");
    assert!(said.contains("which the service's journal holds"), "{said}");

    // The public link: the hash only, the same as the journal's.
    let conn = Store::open_reader(&db).unwrap();
    let (seq, hash): (i64, Vec<u8>) = conn
        .query_row("SELECT seq, hash FROM events WHERE seq = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let link = server
        .get(&format!("/api/v1/chain/{seq}"))
        .send()
        .await
        .unwrap();
    assert_eq!(link.status(), 200);
    let link: serde_json::Value = link.json().await.unwrap();
    assert_eq!(link["hash"], hex::encode(hash));
    assert!(link.get("payload").is_none());
    let recorded: DateTime<Utc> = serde_json::from_value(link["recorded_at"].clone()).unwrap();
    assert!(recorded.year() >= 2020);
    for missing in ["0", "999999", "x"] {
        let answer = server
            .get(&format!("/api/v1/chain/{missing}"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 404, "{missing}");
    }
}

/// The service's daily round: a snapshot a day under `<db>.open-data/`, made once, served
/// as its files, and dropped after `keep_days`.
#[tokio::test]
async fn daily_snapshots_are_served_and_expire() {
    use kezek::clock::Clock;
    let server = http::Server::start().await;
    let form = serde_json::to_value(common::valid_form(2)).unwrap();
    server.register(form).await;
    let db = server.app.path.clone();
    let dir = opendata::default_dir(&db);
    // The router's key: the one beside the database.
    let signer = DocumentSigner::load_or_create(db.parent().unwrap()).unwrap();
    let now = server.app.clock.now();
    let daily = |now| opendata::daily(&db, &dir, &signer, now, 2).unwrap();
    assert!(daily(now), "the first round makes today's");
    assert!(!daily(now), "and only once");

    let list: serde_json::Value = server
        .get("/api/v1/open-data")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let today = kezek::domain::local_date(now);
    assert_eq!(list["snapshots"][0]["date"], today.to_string());
    let href = list["snapshots"][0]["datapackage"].as_str().unwrap();
    let served = server.get(href).send().await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(
        served.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let day_dir = dir.join(today.to_string());
    assert_eq!(
        served.bytes().await.unwrap().as_ref(),
        std::fs::read(day_dir.join("datapackage.json")).unwrap()
    );
    assert!(opendata::check(&day_dir, &signer.verifying_key()).is_ok());
    for missing in [
        format!("/api/v1/open-data/{today}/kezek.db"),
        format!("/api/v1/open-data/{today}/..%2Fdatapackage.json"),
        "/api/v1/open-data/1999-01-01/queue.csv".to_string(),
        "/api/v1/open-data/today/queue.csv".to_string(),
    ] {
        let answer = server.get(&missing).send().await.unwrap();
        assert_eq!(answer.status(), 404, "{missing}");
    }

    // Two days on, with two days kept: the first is gone, the new one is there.
    let later = now + chrono::Duration::days(2);
    assert!(daily(later));
    assert_eq!(opendata::kept(&dir), vec![kezek::domain::local_date(later)]);
}
