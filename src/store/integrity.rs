//! The database's own integrity: SQLite's check of its b-trees, and the domain's uniqueness
//! rules read from the tables without their indexes.
//!
//! The unique indexes are the last guard of the domain's rules (one active application per
//! child, one live referral per place and per child), and the writer asks them first
//! ("has this child an active application?"). A corrupted index page answered "no" and the
//! same child got a second active application. So start-up checks before serving: SQLite's
//! `quick_check` for the whole file (every b-tree well-formed) plus the full
//! `integrity_check` of the tables whose indexes carry these rules (every row is in its
//! indexes, and every index entry is a row's), then the rules themselves on the rows alone
//! (`NOT INDEXED`). `kezek verify` runs the same, with the full check of every table when
//! asked. Failures name the table, the row and the field, never a value.

use super::StoreError;
use rusqlite::Connection;

/// How much of the file SQLite checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// `quick_check` of the file, `integrity_check` of the tables with unique rules.
    Quick,
    /// `integrity_check` of every table and index.
    Full,
}

/// Tables whose unique indexes enforce the domain's rules: checked in full even when quick.
const GUARDED_TABLES: [&str; 2] = ["applications", "referrals"];

/// Runs SQLite's checks at `depth`, then the uniqueness rules on the rows.
pub fn check(conn: &Connection, depth: Depth) -> Result<(), StoreError> {
    match depth {
        Depth::Quick => {
            sqlite_check(conn, "PRAGMA quick_check")?;
            for table in GUARDED_TABLES {
                sqlite_check(conn, &format!("PRAGMA integrity_check({table})"))?;
            }
        }
        Depth::Full => sqlite_check(conn, "PRAGMA integrity_check")?,
    }
    unique_rules(conn)
}

/// SQLite's checks answer one row "ok", or up to 100 rows that each name a b-tree (table or
/// index) and a page or row, never a row's content.
fn sqlite_check(conn: &Connection, pragma: &str) -> Result<(), StoreError> {
    let mut statement = conn.prepare(pragma)?;
    let findings: Vec<String> = statement
        .query_map([], |row| row.get::<_, String>(0))?
        .take(10)
        .collect::<Result<_, _>>()?;
    if findings.len() == 1 && findings[0] == "ok" {
        return Ok(());
    }
    Err(StoreError::Integrity(findings.join("; ")))
}

/// One rule: a query on the rows alone that returns the key of a row breaking it.
struct Rule {
    table: &'static str,
    field: &'static str,
    broken: &'static str,
    sql: &'static str,
}

const RULES: [Rule; 6] = [
    Rule {
        table: "applications",
        field: "child_iin",
        broken: "one of several active applications of the same child",
        sql: "SELECT district_id || '/' || registration_number FROM applications NOT INDEXED \
              WHERE active = 1 AND child_iin IN (SELECT child_iin FROM applications \
                  NOT INDEXED WHERE active = 1 GROUP BY child_iin HAVING count(*) > 1) \
              LIMIT 1",
    },
    Rule {
        table: "referrals",
        field: "place_id",
        broken: "one of several live referrals for the same place",
        sql: "SELECT district_id || '/' || number FROM referrals NOT INDEXED \
              WHERE status = 'issued' AND place_id IN (SELECT place_id FROM referrals \
                  NOT INDEXED WHERE status = 'issued' GROUP BY place_id HAVING count(*) > 1) \
              LIMIT 1",
    },
    Rule {
        table: "referrals",
        field: "application_number",
        broken: "one of several live referrals for the same application",
        sql: "SELECT district_id || '/' || number FROM referrals NOT INDEXED \
              WHERE status = 'issued' AND (application_district_id, application_number) IN \
                  (SELECT application_district_id, application_number FROM referrals \
                   NOT INDEXED WHERE status = 'issued' \
                   GROUP BY application_district_id, application_number HAVING count(*) > 1) \
              LIMIT 1",
    },
    Rule {
        table: "applications",
        field: "registration_number",
        broken: "the district's numbers are not 1, 2, 3, … without gaps (row: the district, \
                 its highest number)",
        sql: "SELECT district_id || '/' || max(registration_number) FROM applications \
              NOT INDEXED GROUP BY district_id \
              HAVING count(DISTINCT registration_number) != max(registration_number) LIMIT 1",
    },
    Rule {
        table: "referrals",
        field: "number",
        broken: "the district's referral numbers are not 1, 2, 3, … without gaps (row: the \
                 district, its highest number)",
        sql: "SELECT district_id || '/' || max(number) FROM referrals NOT INDEXED \
              GROUP BY district_id HAVING count(DISTINCT number) != max(number) LIMIT 1",
    },
    Rule {
        table: "places",
        field: "id",
        broken: "place numbers are not 1, 2, 3, … without gaps (row: the highest)",
        sql: "SELECT '' || max(id) FROM places HAVING count(*) != max(id)",
    },
];

/// The uniqueness rules on the rows alone, without SQLite's checks: what a start whose files
/// are sealed (seal.rs) still checks.
pub fn unique_rules(conn: &Connection) -> Result<(), StoreError> {
    use rusqlite::OptionalExtension;
    for rule in &RULES {
        let row: Option<String> = conn.query_row(rule.sql, [], |row| row.get(0)).optional()?;
        if let Some(key) = row {
            let reason = format!("field {}: {}", rule.field, rule.broken);
            return Err(StoreError::corrupt(rule.table, key, reason));
        }
    }
    Ok(())
}
