//! Staff accounts: the one table a second process (`kezek staff add`, the first
//! administrator) writes while the service runs. Accounts an administrator creates, changes
//! or revokes in the service are events (`StaffAccount*`), projected here by the writer.

use super::StoreError;
use crate::domain::catalog::{DistrictId, KindergartenId};
use crate::domain::staff::{Role, Scope, StaffAccount};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("an account named {0} exists already")]
    NameTaken(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for StaffError {
    fn from(error: rusqlite::Error) -> StaffError {
        StaffError::Store(error.into())
    }
}

pub fn add(
    conn: &Connection,
    account: &StaffAccount,
    token_hash: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<(), StaffError> {
    let (district, kindergarten) = scope_columns(account.scope);
    if let Some(d) = district {
        let known: Option<i64> = conn
            .query_row("SELECT id FROM districts WHERE id = ?1", [d], |r| r.get(0))
            .optional()?;
        if known.is_none() {
            return Err(StaffError::Invalid(format!("no district with id {d}")));
        }
    }
    if let Some(k) = kindergarten {
        let known: Option<i64> = conn
            .query_row("SELECT id FROM kindergartens WHERE id = ?1", [k], |r| {
                r.get(0)
            })
            .optional()?;
        if known.is_none() {
            return Err(StaffError::Invalid(format!("no kindergarten with id {k}")));
        }
    }
    let taken: Option<String> = conn
        .query_row(
            "SELECT name FROM staff_accounts WHERE name = ?1",
            [&account.name],
            |r| r.get(0),
        )
        .optional()?;
    if taken.is_some() {
        return Err(StaffError::NameTaken(account.name.clone()));
    }
    Ok(insert(conn, account, token_hash, now)?)
}

/// The district and kindergarten columns of a scope.
pub fn scope_columns(scope: Scope) -> (Option<u32>, Option<u32>) {
    match scope {
        Scope::Everywhere => (None, None),
        Scope::District(d) => (Some(d.0), None),
        Scope::Kindergarten(k) => (None, Some(k.0)),
    }
}

/// Inserts an account whose name and scope were checked.
pub(crate) fn insert(
    conn: &Connection,
    account: &StaffAccount,
    token_hash: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (district, kindergarten) = scope_columns(account.scope);
    conn.execute(
        "INSERT INTO staff_accounts (name, role, district_id, kindergarten_id, token_hash, \
         created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            account.name,
            account.role.code(),
            district,
            kindergarten,
            &token_hash[..],
            now.timestamp_micros()
        ],
    )?;
    Ok(())
}

/// The live (not revoked) account a token hash belongs to.
pub fn by_token_hash(
    conn: &Connection,
    token_hash: &[u8; 32],
) -> Result<Option<StaffAccount>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT name, role, district_id, kindergarten_id FROM staff_accounts \
         WHERE token_hash = ?1 AND revoked_at IS NULL",
    )?;
    let mut rows = statement.query([&token_hash[..]])?;
    match rows.next()? {
        None => Ok(None),
        Some(row) => account_from_row(row).map(Some),
    }
}

pub(super) fn account_from_row(row: &rusqlite::Row<'_>) -> Result<StaffAccount, StoreError> {
    let name: String = row.get(0)?;
    let role_text: String = row.get(1)?;
    let role = Role::parse(&role_text)
        .ok_or_else(|| StoreError::corrupt("staff_accounts", &name, "unknown role"))?;
    let district: Option<u32> = row.get(2)?;
    let kindergarten: Option<u32> = row.get(3)?;
    let scope = match (district, kindergarten) {
        (None, None) => Scope::Everywhere,
        (Some(d), None) => Scope::District(DistrictId(d)),
        (None, Some(k)) => Scope::Kindergarten(KindergartenId(k)),
        _ => return Err(StoreError::corrupt("staff_accounts", &name, "two scopes")),
    };
    Ok(StaffAccount { name, role, scope })
}

/// Every account, with whether it is revoked, by name.
pub fn list(conn: &Connection) -> Result<Vec<(StaffAccount, bool)>, StoreError> {
    let mut statement = conn.prepare(
        "SELECT name, role, district_id, kindergarten_id, revoked_at IS NOT NULL \
         FROM staff_accounts ORDER BY name",
    )?;
    let mut rows = statement.query([])?;
    let mut accounts = Vec::new();
    while let Some(row) = rows.next()? {
        accounts.push((account_from_row(row)?, row.get(4)?));
    }
    Ok(accounts)
}

/// Revokes an account at once; returns false if no live account has that name.
pub fn revoke(conn: &Connection, name: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE staff_accounts SET revoked_at = ?1 WHERE name = ?2 AND revoked_at IS NULL",
        params![now.timestamp_micros(), name],
    )?;
    Ok(changed == 1)
}

pub fn district_by_code(conn: &Connection, code: &str) -> Result<Option<DistrictId>, StoreError> {
    Ok(conn
        .query_row("SELECT id FROM districts WHERE code = ?1", [code], |r| {
            r.get(0).map(DistrictId)
        })
        .optional()?)
}

/// "<role>-<scope>-<n>" with the first free n, e.g. "officer-d1-1", "kindergarten-7-1".
pub fn free_name(conn: &Connection, role: Role, scope: Scope) -> Result<String, StoreError> {
    let stem = match scope {
        Scope::Everywhere => role.code().to_string(),
        Scope::District(d) => format!("{}-d{}", role.code(), d.0),
        Scope::Kindergarten(k) => format!("{}-{}", role.code(), k.0),
    };
    for n in 1.. {
        let name = format!("{stem}-{n}");
        let taken: Option<i64> = conn
            .query_row(
                "SELECT 1 FROM staff_accounts WHERE name = ?1",
                [&name],
                |r| r.get(0),
            )
            .optional()?;
        if taken.is_none() {
            return Ok(name);
        }
    }
    unreachable!("some number is free")
}

impl super::Store {
    /// Every account, with whether it is revoked (on the writer's connection, so a command
    /// sees the accounts earlier commands of its batch made).
    pub fn staff_accounts(&self) -> Result<Vec<(StaffAccount, bool)>, StoreError> {
        list(&self.conn)
    }
}
