//! Migrations: applied in one transaction keyed on `PRAGMA user_version`; a newer database is
//! refused untouched; a failing migration keeps the data as it was; shipped migrations never
//! change.

use kezek::store::migrate::{migrate, schema_version, Migration, MIGRATIONS};
use kezek::store::{Store, StoreError};
use rusqlite::Connection;
use sha2::{Digest, Sha256};

fn temp_db() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kezek.db");
    (dir, path)
}

#[test]
fn a_fresh_database_gets_every_migration_and_opening_again_changes_nothing() {
    let (_dir, path) = temp_db();
    drop(Store::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    assert_eq!(schema_version(&conn).unwrap(), MIGRATIONS.len());
    let categories: i64 = conn
        .query_row("SELECT count(*) FROM priority_categories", [], |r| r.get(0))
        .unwrap();
    assert_eq!(categories, 7);
    drop(conn);
    drop(Store::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    assert_eq!(schema_version(&conn).unwrap(), MIGRATIONS.len());
}

#[test]
fn the_store_runs_in_wal_mode_with_full_sync() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let conn = store.connection_for_tests();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    let sync: i64 = conn
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(sync, 2, "synchronous=FULL");
}

#[test]
fn a_database_newer_than_the_binary_is_refused_untouched() {
    let (_dir, path) = temp_db();
    drop(Store::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    conn.execute_batch("CREATE TABLE from_the_future (x)")
        .unwrap();
    drop(conn);
    let error = Store::open(&path).err().expect("must be refused");
    assert!(
        matches!(error, StoreError::SchemaTooNew { found: 99, supported } if supported == MIGRATIONS.len())
    );
    assert!(
        error.to_string().contains("newer than this binary"),
        "{error}"
    );
    let conn = Connection::open(&path).unwrap();
    assert_eq!(schema_version(&conn).unwrap(), 99);
    conn.query_row("SELECT count(*) FROM from_the_future", [], |r| {
        r.get::<_, i64>(0)
    })
    .unwrap();
}

#[test]
fn a_failing_migration_rolls_back_every_step_and_keeps_the_data() {
    let (_dir, path) = temp_db();
    drop(Store::open(&path).unwrap());
    let mut conn = Connection::open(&path).unwrap();
    conn.execute("INSERT INTO districts (id, code, name_kk, name_ru, languages) VALUES (1, 'ESL', 'a', 'b', 'kk')", []).unwrap();
    let mut with_broken: Vec<Migration> = MIGRATIONS
        .iter()
        .map(|m| Migration {
            name: m.name,
            sql: m.sql,
        })
        .collect();
    with_broken.push(Migration {
        name: "9998_good_step.sql",
        sql: "ALTER TABLE districts ADD COLUMN note TEXT; UPDATE districts SET code = 'CHANGED';",
    });
    with_broken.push(Migration {
        name: "9999_broken.sql",
        sql: "INSERT INTO no_such_table VALUES (1);",
    });
    let error = migrate(&mut conn, &with_broken).unwrap_err();
    assert!(error.to_string().contains("9999_broken.sql"), "{error}");
    assert_eq!(schema_version(&conn).unwrap(), MIGRATIONS.len());
    let code: String = conn
        .query_row("SELECT code FROM districts WHERE id = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        code, "ESL",
        "the step before the failure is rolled back too"
    );
    let note = conn.query_row("SELECT note FROM districts", [], |r| {
        r.get::<_, Option<String>>(0)
    });
    assert!(note.is_err(), "the added column must not exist");
}

/// Applied migrations are never edited. If this fails, you changed a shipped migration:
/// put the change in a new file instead.
#[test]
fn shipped_migrations_are_unchanged() {
    let pinned = [
        "0001_initial.sql",
        "0002_referrals.sql",
        "0003_counters_from_rows.sql",
        "0004_api.sql",
        "0005_outbox.sql",
        "0006_whole_life.sql",
        "0007_district_rules.sql",
        "0008_identity.sql",
        "0009_access_log.sql",
        "0010_kindergarten_admin.sql",
        "0011_one_child_index.sql",
        "0012_applicant_list_in_memory.sql",
        "0013_intake_rounds.sql",
        "0014_import.sql",
        "0015_attachments.sql",
        "0016_document_requests.sql",
        "0017_round_referrals.sql",
        "0018_report_aggregates.sql",
        "0019_personal_data.sql",
        "0020_infected_index.sql",
        "0021_revocation_reasons.sql",
        "0022_erasure_candidates.sql",
    ];
    let digests = [
        "76deefa19b94219a54900b08883d584442856b5c8e0087e603c8c219a052efc0",
        "70c09c171ccaa6793b9e5d2311fb8bbec15ebdf512cff34db7b4abea81032e69",
        "57b3b4d60bd02dd64c7169bde82410809b488c7e68084f10af68ad3d9ee80189",
        "e6ec116ee1d8b64e76772afcfd84a9bda87d2dbf6bb857e9d3966299fd2424ce",
        "1eb3e7335aa1c3e7e1ca343080a2b36c761b81468b6196927ae978eaca3ce98b",
        "63c0d70d10d6ed09b5e6787689f1fc33ab0489828c423bc7e985d71c35b75d47",
        "f51cf938d6be905c245d20d927d899e6400165bd7302abdaf58ed7932783fa3d",
        "abb1b7f7c6f72b4dfd8d98d6160f4e9595ab6b915d1dfde824f73e89cb095654",
        "9406f6c9a7f2df7064d0b336d28d6ad8643f0dea47bf2b1875175ee72ef4ffe8",
        "a78f5813602237d812bc1e6a97dfe8f9626aceabc6ce523a7b7362af50453c07",
        "7f7530e7c504bdf77cb37b8b010365beec8e3b21491689f5378adfbe5b8debcd",
        "fffde1844d28cfcef0ec93a7992361989a881c0972f119fd8ae6fdcd0e70bde2",
        "0e815de91386af972d4efb00e3032bf7b44b1ba2b4249c65fb040b88b4d5d029",
        "3ed47a6ae31186555b8127a8e61c46116a2d57629060e4a80d78dbf7a8399a6b",
        "b2dfd0f21625924736a4bb989fdff367339d2433512114ee99ab89d6a5a999f3",
        "f981019168e19e6a8865230339997e631afd768615c43b8fbbd740a312747016",
        "3cd4868c43aadd6deac5fcacf1fc299977006218d64c1a4fe02e98b7f81b793f",
        "ef0f26ea3a2208b8fbeb0400ea2dfd81a7f6287bc309071e704bc3202854c8ec",
        "c224c43f292c76236b42702e0ed09adc3449bcbd8cd3f1be47721bc2620385e2",
        "1f01b059a8d7afbdee7148a6e94bf2e69dbbc9f9cd7e8b20a33e9dba7208a08d",
        "db89f8268bc13d9442f99aa7dcb1a8f1f8494bdcf648e472a4700739a24402f7",
        "8e4da7805c44d7d3f0a62856db3eefde3a58e41e2093cb513ca24fc48f9b35c8",
    ];
    assert_eq!(MIGRATIONS.len(), pinned.len(), "pin the new migration here");
    for (migration, (name, digest)) in MIGRATIONS.iter().zip(pinned.iter().zip(digests)) {
        assert_eq!(migration.name, *name);
        assert_eq!(
            hex::encode(Sha256::digest(migration.sql.as_bytes())),
            digest,
            "{name} was edited"
        );
    }
}

/// Migration 0007 reads a policy row written before it as what it meant then: validity in
/// working days, an extension of `extension_calendar_days` after issue; no head is set.
#[test]
fn a_policy_row_from_before_0007_reads_as_working_days_and_one_extension() {
    use kezek::domain::referral::{Extension, Validity};
    let (_dir, path) = temp_db();
    let mut conn = Connection::open(&path).unwrap();
    migrate(&mut conn, &MIGRATIONS[..6]).unwrap();
    conn.execute_batch(
        "INSERT INTO districts (id, code, name_kk, name_ru, languages) \
         VALUES (1, 'ESL', 'Есіл ауданы', 'район Есиль', 'kk,ru');
         INSERT INTO district_policies (district_id, referral_validity_working_days, \
         extension_calendar_days, stop_list_days, interleave_first_priority) \
         VALUES (1, 7, 20, 12, 1);",
    )
    .unwrap();
    migrate(&mut conn, MIGRATIONS).unwrap();
    let catalog = kezek::store::load_catalog(&conn).unwrap();
    let policy = catalog.policies.values().next().copied().unwrap();
    assert_eq!(policy.validity, Validity::WorkingDays { days: 7 });
    assert_eq!(
        policy.extension,
        Extension::Once {
            calendar_days_after_issue: 20
        }
    );
    assert_eq!(
        (policy.stop_list_days, policy.interleave_first_priority),
        (12, true)
    );
    assert!(catalog.education_heads.is_empty());
}
