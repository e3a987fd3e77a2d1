//! Schema migrations: numbered SQL files from `migrations/`, compiled into the binary,
//! applied in one transaction keyed on `PRAGMA user_version`.

use super::StoreError;
use rusqlite::{Connection, TransactionBehavior};

pub struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration this binary knows, in order. Append only; never edit an applied one.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "0001_initial.sql",
        sql: include_str!("../../migrations/0001_initial.sql"),
    },
    Migration {
        name: "0002_referrals.sql",
        sql: include_str!("../../migrations/0002_referrals.sql"),
    },
    Migration {
        name: "0003_counters_from_rows.sql",
        sql: include_str!("../../migrations/0003_counters_from_rows.sql"),
    },
    Migration {
        name: "0004_api.sql",
        sql: include_str!("../../migrations/0004_api.sql"),
    },
    Migration {
        name: "0005_outbox.sql",
        sql: include_str!("../../migrations/0005_outbox.sql"),
    },
    Migration {
        name: "0006_whole_life.sql",
        sql: include_str!("../../migrations/0006_whole_life.sql"),
    },
    Migration {
        name: "0007_district_rules.sql",
        sql: include_str!("../../migrations/0007_district_rules.sql"),
    },
    Migration {
        name: "0008_identity.sql",
        sql: include_str!("../../migrations/0008_identity.sql"),
    },
    // 0009: the staff access log (issue 15).
    Migration {
        name: "0009_access_log.sql",
        sql: include_str!("../../migrations/0009_access_log.sql"),
    },
    Migration {
        name: "0010_kindergarten_admin.sql",
        sql: include_str!("../../migrations/0010_kindergarten_admin.sql"),
    },
    // 0011: one index on the child's IIN instead of three (the registration rate).
    Migration {
        name: "0011_one_child_index.sql",
        sql: include_str!("../../migrations/0011_one_child_index.sql"),
    },
    // 0012: a signed-in parent's list from memory, without the applicant's index.
    Migration {
        name: "0012_applicant_list_in_memory.sql",
        sql: include_str!("../../migrations/0012_applicant_list_in_memory.sql"),
    },
    // 0013 (0012 is another branch's): intake rounds and the places they collect (issue 18).
    Migration {
        name: "0013_intake_rounds.sql",
        sql: include_str!("../../migrations/0013_intake_rounds.sql"),
    },
    // 0014 (0012 and 0013 were reserved for other work of the same day): applications
    // imported from an earlier system keep their old numbers (issue 16).
    Migration {
        name: "0014_import.sql",
        sql: include_str!("../../migrations/0014_import.sql"),
    },
    // 0015 (0012 was this branch's number when it was written): attached documents, their
    // bytes inside the database (issue 19).
    Migration {
        name: "0015_attachments.sql",
        sql: include_str!("../../migrations/0015_attachments.sql"),
    },
    // 0016: documents asked for (issue 19 §5).
    Migration {
        name: "0016_document_requests.sql",
        sql: include_str!("../../migrations/0016_document_requests.sql"),
    },
    // 0017: a referral's intake round, and the district's rule for declining one (issue 18).
    Migration {
        name: "0017_round_referrals.sql",
        sql: include_str!("../../migrations/0017_round_referrals.sql"),
    },
    // 0018: the reports' aggregates saved at a clean close (the sealed start-up reads them).
    Migration {
        name: "0018_report_aggregates.sql",
        sql: include_str!("../../migrations/0018_report_aggregates.sql"),
    },
    // 0019: personal data out of the chain, erasable (issue 16 §3; store::erasure).
    Migration {
        name: "0019_personal_data.sql",
        sql: include_str!("../../migrations/0019_personal_data.sql"),
    },
    // 0020: the journal's malware refusals indexed,
    // for the officer's application page (issue 19 §6).
    Migration {
        name: "0020_infected_index.sql",
        sql: include_str!("../../migrations/0020_infected_index.sql"),
    },
    // 0021: a revocation's reason is personal data (issue 16 §3; store::erasure).
    Migration {
        name: "0021_revocation_reasons.sql",
        sql: include_str!("../../migrations/0021_revocation_reasons.sql"),
    },
    // 0022: the erasure sweep's candidates indexed (issue 16 §3; store::erasure).
    Migration {
        name: "0022_erasure_candidates.sql",
        sql: include_str!("../../migrations/0022_erasure_candidates.sql"),
    },
];

pub fn schema_version(conn: &Connection) -> Result<usize, StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    Ok(usize::try_from(version).unwrap_or(usize::MAX))
}

/// Brings the schema up to date. A database newer than `migrations` is refused untouched;
/// a failing migration rolls back every step of this run, leaving the data as it was.
pub fn migrate(conn: &mut Connection, migrations: &[Migration]) -> Result<(), StoreError> {
    let found = schema_version(conn)?;
    if found > migrations.len() {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: migrations.len(),
        });
    }
    if found == migrations.len() {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for migration in &migrations[found..] {
        tx.execute_batch(migration.sql)
            .map_err(|source| StoreError::Migration {
                name: migration.name,
                source,
            })?;
    }
    tx.pragma_update(None, "user_version", migrations.len() as i64)?;
    tx.commit()?;
    Ok(())
}
