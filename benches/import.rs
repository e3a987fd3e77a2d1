//! `kezek import` at a million rows, durably (WAL, synchronous=FULL, one COMMIT per batch),
//! against plain batched SQLite inserts of the same rows measured in the same run, so the
//! ratio means something on a noisy, shared machine.
//!
//! Targets (issue 16; 2-core machine, 1M rows): ≥ 20,000 rows/s, and at least a quarter of
//! the plain inserts' rate. The import's time is the whole of `import::import_file`: reading
//! and hashing the file, checking every row, sorting them into the old order, and the
//! batches through the writer (journal, tables, histories, index). The plain side reads the
//! same file with the same CSV reader and inserts each row's 19 fields as they are into one
//! table without indexes, in transactions of the import's batch size, with the same pragmas.
//!
//! A third figure, the schema's floor (`schema_floor`), runs the writer's own statements for
//! each row with the file's fields bound as they are: the gap from the plain inserts to it
//! is what the rows an import must keep cost, the gap from it to the import is our code's.
//!
//! Not a criterion bench: one run of a million rows takes a minute. Environment:
//! KEZEK_BENCH_IMPORT_ROWS (default 1,000,000). Example: `cargo bench --bench import`.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use kezek::clock::ManualClock;
use kezek::domain::catalog::{Language, Names};
use kezek::domain::event::Actor;
use kezek::domain::iin::{Iin, Sex};
use kezek::domain::import::HEADER;
use kezek::import::{import_file, ImportOptions, BATCH_ROWS};
use kezek::service::{Command, NewDistrict, NewKindergarten, Outcome, Service};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

const DISTRICTS: [&str; 5] = ["D01", "D02", "D03", "D04", "D05"];
const KINDERGARTENS_PER_DISTRICT: u32 = 40;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 4, 0, 0).unwrap()
}

fn names(text: &str) -> Names {
    Names {
        kk: format!("{text} (kk)"),
        ru: format!("{text} (ru)"),
    }
}

/// Five districts of 40 kindergartens each, through the service.
fn catalog(service: &Service) {
    for (d, code) in DISTRICTS.iter().enumerate() {
        let new = NewDistrict {
            code: code.to_string(),
            names: names(code),
            languages: vec![Language::KAZAKH, Language::RUSSIAN],
        };
        let district = match service
            .submit_blocking(Command::CreateDistrict(new), Actor::system())
            .unwrap()
        {
            Outcome::DistrictCreated(id) => id,
            other => panic!("{other:?}"),
        };
        for k in 0..KINDERGARTENS_PER_DISTRICT {
            let new = NewKindergarten {
                district,
                number: format!("{}", d as u32 * 100 + k),
                names: names("kindergarten"),
                address: format!("Астана, {k}"),
                head: None,
            };
            service
                .submit_blocking(Command::CreateKindergarten(new), Actor::system())
                .unwrap();
        }
    }
}

/// `rows` valid rows of a legacy queue (fixed seed): children of preschool age, registered
/// between their birth and now, a tenth with a priority, some verified.
fn write_legacy(path: &Path, rows: usize) -> usize {
    let mut rng = SmallRng::seed_from_u64(2026);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "{}", HEADER.join(",")).unwrap();
    let first_birth = NaiveDate::from_ymd_opt(2021, 10, 1).unwrap();
    let days = 1_800;
    let mut written = 0;
    for i in 0..rows {
        let birth = first_birth + Duration::days((i % days) as i64);
        // Disjoint serials per row of one birth day, so that every IIN is new.
        let base = (i / days) as u16 * 4 + 1;
        let Some(iin) = (base..base + 4).find_map(|s| Iin::synthesize(birth, Sex::Female, s))
        else {
            continue;
        };
        let born = Utc.from_utc_datetime(&birth.and_hms_opt(0, 0, 0).unwrap());
        let span = (now() - born).num_minutes() - 2 * 24 * 60;
        let registered = born + Duration::days(1) + Duration::minutes(rng.random_range(0..span));
        let local = registered.with_timezone(&kezek::domain::local_offset());
        let d = rng.random_range(0..DISTRICTS.len()) as u32;
        let kindergartens = match rng.random_range(0..4) {
            0 => "any".to_string(),
            n => (0..n)
                .map(|j| (d * KINDERGARTENS_PER_DISTRICT + 1 + (i as u32 + j * 7) % 40).to_string())
                .collect::<Vec<_>>()
                .join(";"),
        };
        let (category, verified, document) = match rng.random_range(0..10) {
            0 => ("large_family", "yes", "№ 1207, акимат"),
            1 => ("orphan", "no", "№ 88, орган опеки"),
            _ => ("", "", ""),
        };
        writeln!(
            out,
            "OLD-{i},{},{},Сейітова Айгерім,{},791028302728,Сейітов Нұрлан,+7 701 234 56 78,\
             parent{i}@example.kz,\"Астана, Абай көшесі {}, {}\",father,{},{kindergartens},{},\
             2027-09-01,{category},{verified},\"{document}\",queued",
            local.format("%Y-%m-%d %H:%M:%S"),
            iin.as_string(),
            birth.format("%Y-%m-%d"),
            i % 90 + 1,
            i % 40 + 1,
            DISTRICTS[d as usize],
            ["kk", "ru", "any"][i % 3],
        )
        .unwrap();
        written += 1;
    }
    written
}

/// The import through the service, durably. Answers the seconds it took and the rows taken.
fn import(dir: &Path, legacy: &Path) -> (f64, usize) {
    let db = dir.join("import.db");
    let clock = ManualClock::new(now());
    let service = Service::start(&db, Arc::new(clock)).unwrap();
    catalog(&service);
    let started = Instant::now();
    // The first report comes once every row is read, checked and sorted, before any batch.
    let mut checked = None;
    let options = ImportOptions {
        batch_rows: batch_rows(),
        ..ImportOptions::default()
    };
    let summary = import_file(&service, legacy, &options, |_, _| {
        checked.get_or_insert_with(|| started.elapsed().as_secs_f64());
    })
    .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "  of which reading, checking and sorting every row: {:.2} s",
        checked.unwrap_or(0.0)
    );
    assert!(summary.refused.is_empty(), "{:?}", &summary.refused[..3]);
    service.shutdown();
    (seconds, summary.taken)
}

/// The same rows read by the same reader, inserted as they are into one table, in
/// transactions of the import's batch size, with the store's pragmas (WAL, FULL).
fn plain_inserts(dir: &Path, legacy: &Path) -> (f64, usize) {
    let db = dir.join("plain.db");
    let mut conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "journal_mode", "wal").unwrap();
    conn.pragma_update(None, "synchronous", "full").unwrap();
    let columns: Vec<String> = HEADER.iter().map(|c| format!("{c} TEXT")).collect();
    conn.execute_batch(&format!(
        "CREATE TABLE legacy (line INTEGER PRIMARY KEY, {})",
        columns.join(", ")
    ))
    .unwrap();
    let placeholders: Vec<String> = (1..=HEADER.len() + 1).map(|i| format!("?{i}")).collect();
    let sql = format!("INSERT INTO legacy VALUES ({})", placeholders.join(", "));
    let started = Instant::now();
    let bytes = std::fs::read(legacy).unwrap();
    let mut reader = csv::Reader::from_reader(&bytes[..]);
    let mut record = csv::StringRecord::new();
    let mut rows = 0;
    let mut tx = conn.transaction().unwrap();
    while reader.read_record(&mut record).unwrap() {
        let line = record.position().unwrap().line() as i64;
        {
            let mut statement = tx.prepare_cached(&sql).unwrap();
            let fields: Vec<&str> = record.iter().collect();
            let mut values: Vec<&dyn rusqlite::ToSql> = vec![&line];
            values.extend(fields.iter().map(|f| f as &dyn rusqlite::ToSql));
            statement.execute(&values[..]).unwrap();
        }
        rows += 1;
        if rows % batch_rows() == 0 {
            tx.commit().unwrap();
            tx = conn.transaction().unwrap();
        }
    }
    tx.commit().unwrap();
    (started.elapsed().as_secs_f64(), rows)
}

/// The floor the schema sets: the statements the writer runs for each imported row (its
/// event with a SHA-256 link, its personal part, its application row with every index, its
/// history row and its queue move), with the file's fields bound as they are and no domain
/// work at all, into a database made by the service (same schema, pragmas, foreign keys and
/// widened cache), in the import's batches. How far `kezek import` is from this is the
/// service's own cost; how far this is from the plain inserts is the schema's.
///
/// With `one_event_per_batch`, the other shape an import could take: one journal event per
/// batch carrying every row's public form (the personal parts then keyed by event and
/// application), the rest as before. It shows what that redesign could win at most.
fn schema_floor(dir: &Path, legacy: &Path, one_event_per_batch: bool) -> (f64, usize) {
    use sha2::{Digest, Sha256};
    let db = dir.join(if one_event_per_batch {
        "floor-batch-events.db"
    } else {
        "floor.db"
    });
    {
        let service = Service::start(&db, Arc::new(ManualClock::new(now()))).unwrap();
        catalog(&service);
        service.shutdown();
    }
    let mut conn = rusqlite::Connection::open(&db).unwrap();
    for (pragma, value) in [
        ("journal_mode", "wal"),
        ("synchronous", "full"),
        ("foreign_keys", "on"),
        ("secure_delete", "on"),
        ("cache_size", "-262144"),
        // The service checkpoints on a thread of its own, not inside the writer's commits.
        ("wal_autocheckpoint", "0"),
    ] {
        conn.pragma_update(None, pragma, value).unwrap();
    }
    if one_event_per_batch {
        conn.execute_batch(
            "DROP TABLE personal_data;
             CREATE TABLE personal_data (seq INTEGER NOT NULL, district_id INTEGER NOT NULL,
                 registration_number INTEGER NOT NULL, salt BLOB NOT NULL, fields TEXT NOT NULL);
             CREATE INDEX personal_data_by_application
                 ON personal_data (district_id, registration_number);",
        )
        .unwrap();
    }
    let districts: Vec<(String, i64)> = conn
        .prepare("SELECT code, id FROM districts")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut seq: i64 = conn
        .query_row("SELECT coalesce(max(seq), 0) FROM events", [], |row| {
            row.get(0)
        })
        .unwrap();
    let mut numbers = std::collections::HashMap::<i64, i64>::new();
    let started = Instant::now();
    let bytes = std::fs::read(legacy).unwrap();
    let mut reader = csv::Reader::from_reader(&bytes[..]);
    let mut rows = 0;
    let mut prev_hash = [0u8; 32];
    let mut insert_event = |tx: &rusqlite::Transaction<'_>, seq: i64, public: &str| {
        let hash: [u8; 32] = Sha256::new()
            .chain_update(prev_hash)
            .chain_update(public.as_bytes())
            .finalize()
            .into();
        tx.prepare_cached(
            "INSERT INTO events (seq, recorded_at, actor, kind, payload, prev_hash, hash) \
             VALUES (?1, ?2, 'system', 'application_imported', ?3, ?4, ?5)",
        )
        .unwrap()
        .execute(rusqlite::params![
            seq,
            seq,
            public,
            &prev_hash[..],
            &hash[..]
        ])
        .unwrap();
        prev_hash = hash;
    };
    let mut records = reader.records().map(Result::unwrap).peekable();
    while records.peek().is_some() {
        let batch: Vec<csv::StringRecord> = records.by_ref().take(batch_rows()).collect();
        let tx = conn.transaction().unwrap();
        let mut publics = Vec::with_capacity(batch.len());
        let mut ids = Vec::with_capacity(batch.len());
        for record in &batch {
            let f: Vec<&str> = record.iter().collect();
            let district = districts.iter().find(|(code, _)| code == f[11]).unwrap().1;
            let number = numbers.entry(district).or_insert(0);
            *number += 1;
            ids.push((district, *number));
            publics.push(format!(
                "{{\"kind\":\"application_imported\",\"data\":{{\"application\":{{\"id\":\
                 {{\"district\":{district},\"number\":{number}}},\"registered_at\":\"{}\",\
                 \"child\":{{\"birth_date\":\"{}\",\"sex\":\"female\"}},\"applicant\":\
                 {{\"relation\":\"{}\"}},\"desired_start\":\"{}\",\"choices\":\"{}\",\
                 \"language\":\"{}\",\"tier\":0,\"status\":\"queued\",\"channel\":\"import\",\
                 \"legacy_number\":\"{}\"}},\"file_sha256\":\"{:064}\",\"line\":{rows}}},\
                 \"personal\":\"{:064}\"}}",
                f[1], f[4], f[10], f[14], f[12], f[13], f[0], 0, 0
            ));
        }
        if one_event_per_batch {
            seq += 1;
            insert_event(&tx, seq, &format!("[{}]", publics.join(",")));
        }
        for ((record, (district, number)), public) in batch.iter().zip(ids).zip(publics) {
            let f: Vec<&str> = record.iter().collect();
            if !one_event_per_batch {
                seq += 1;
                insert_event(&tx, seq, &public);
            }
            let personal = format!(
                "{{\"child.iin\":\"{}\",\"child.full_name\":\"{}\",\"applicant.iin\":\"{}\",\
                 \"applicant.full_name\":\"{}\",\"applicant.phone\":\"{}\",\
                 \"applicant.email\":\"{}\",\"applicant.address\":\"{}\",\
                 \"priority.document\":\"{}\"}}",
                f[2], f[3], f[5], f[6], f[7], f[8], f[9], f[17]
            );
            tx.prepare_cached(
                "INSERT INTO personal_data (seq, district_id, registration_number, salt, fields) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .unwrap()
            .execute(rusqlite::params![
                seq,
                district,
                number,
                &[7u8; 16][..],
                personal
            ])
            .unwrap();
            tx.prepare_cached(
                "INSERT INTO applications (district_id, registration_number, registered_at, \
                 child_iin, child_full_name, child_birth_date, child_sex, applicant_iin, \
                 applicant_full_name, applicant_phone, applicant_email, applicant_address, \
                 applicant_relation, desired_start, choices, language, priority_category, \
                 priority_document, priority_status, tier, status, channel, legacy_number, \
                 active) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'female', ?7, ?8, ?9, ?10, ?11, ?12, \
                 ?13, ?14, ?15, NULLIF(?16, ''), ?17, NULL, 0, 'queued', 'import', ?18, 1)",
            )
            .unwrap()
            .execute(rusqlite::params![
                district, number, seq, f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10],
                f[14], f[12], f[13], f[15], f[17], f[0]
            ])
            .unwrap();
            tx.prepare_cached(
                "INSERT INTO application_events (district_id, registration_number, seq) \
                 VALUES (?1, ?2, ?3)",
            )
            .unwrap()
            .execute(rusqlite::params![district, number, seq])
            .unwrap();
            tx.prepare_cached(
                "INSERT INTO queue_moves (seq, district_id, cohort, order_key, \
                 registration_number, delta, at) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)",
            )
            .unwrap()
            .execute(rusqlite::params![
                seq,
                district,
                &f[4][..4],
                number,
                number,
                seq
            ])
            .unwrap();
            rows += 1;
        }
        tx.commit().unwrap();
    }
    (started.elapsed().as_secs_f64(), rows)
}

// The allocator of the `kezek` binary, whose `import` command this measures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The import's batch, and the plain side's transaction (`KEZEK_BENCH_IMPORT_BATCH`, to
/// compare sizes without a rebuild; `kezek import`'s own by default).
fn batch_rows() -> usize {
    std::env::var("KEZEK_BENCH_IMPORT_BATCH")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(BATCH_ROWS)
}

fn main() {
    // `cargo bench` passes `--bench`; this bench takes no other arguments.
    let rows: usize = std::env::var("KEZEK_BENCH_IMPORT_ROWS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let legacy = dir.path().join("legacy.csv");
    let written = write_legacy(&legacy, rows);
    let size = std::fs::metadata(&legacy).unwrap().len();
    println!(
        "legacy file: {written} rows, {:.1} MB; batches of {} rows",
        size as f64 / 1e6,
        batch_rows()
    );
    let (plain_seconds, plain_rows) = plain_inserts(dir.path(), &legacy);
    let plain_rate = plain_rows as f64 / plain_seconds;
    println!(
        "plain batched inserts: {plain_rows} rows in {plain_seconds:.2} s, {plain_rate:.0} rows/s"
    );
    for (one_event_per_batch, what) in [
        (
            false,
            "the schema's floor (the writer's statements, no domain work)",
        ),
        (true, "the same with one journal event per batch"),
    ] {
        let (seconds, rows) = schema_floor(dir.path(), &legacy, one_event_per_batch);
        let rate = rows as f64 / seconds;
        println!(
            "{what}: {rows} rows in {seconds:.2} s, {rate:.0} rows/s, ratio to plain {:.3}",
            rate / plain_rate
        );
    }
    let (import_seconds, taken) = import(dir.path(), &legacy);
    assert_eq!(taken, written, "every row is taken");
    let import_rate = taken as f64 / import_seconds;
    println!("kezek import: {taken} rows in {import_seconds:.2} s, {import_rate:.0} rows/s");
    let ratio = import_rate / plain_rate;
    println!(
        "ratio import / plain: {ratio:.3} (target ≥ 0.25); rate target ≥ 20,000 rows/s: {}",
        if import_rate >= 20_000.0 {
            "pass"
        } else {
            "FAIL"
        }
    );
}
