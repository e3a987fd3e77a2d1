//! A row of a municipality's earlier queue, as `kezek import` reads it from the legacy
//! system's export, and its one-time conversion into an application.
//!
//! Each row passes the registration's own checks ([`NewApplication::refusals`], the same
//! stable codes), plus what only an import has: the old number, the original registration
//! time (not in the future, not before the child was born), whether the priority was
//! verified there, and the status there (only children still waiting are brought in).
//! A row that fails is reported with its line, its code and its field, and nothing of it is
//! taken. Pure: "now" is a parameter; the file and the database are the caller's.

use super::application::{
    Application, ApplicationId, ApplicationStatus, Channel, ClaimStatus, NewApplication, Refusal,
    RegistrationForm,
};
use super::catalog::{Catalog, DistrictId, Tier};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The export's columns, in this order, named in its first line (README, "Importing an
/// existing queue").
pub const HEADER: [&str; 19] = [
    "legacy_number",
    "registered_at",
    "child_iin",
    "child_full_name",
    "child_birth_date",
    "applicant_iin",
    "applicant_full_name",
    "applicant_phone",
    "applicant_email",
    "applicant_address",
    "applicant_relation",
    "district",
    "kindergartens",
    "language",
    "desired_start",
    "priority_category",
    "priority_verified",
    "priority_document",
    "status",
];

/// The old number is an identifier, not prose: short, and plain characters only.
pub const LEGACY_NUMBER_CHARS_MAX: usize = 40;

/// The status a row must have in the earlier system to be brought in: still waiting.
/// Children who ended there (enrolled, withdrawn, …) stay in that system's archive.
pub const STATUS_WAITING: &str = "queued";

/// Why a row is not taken, beyond the registration's own refusals.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RowRefusal {
    #[error(transparent)]
    Registration(#[from] Refusal),
    #[error("the row has not as many fields as the header")]
    RowMalformed,
    #[error("the old number is empty, too long, or holds other than letters, digits, - / .")]
    LegacyNumberInvalid,
    #[error("the registration time is not a date and time")]
    RegisteredAtMalformed,
    #[error("the registration time is in the future")]
    RegisteredAtInFuture,
    #[error("the registration time is before the child's birth")]
    RegisteredBeforeBirth,
    #[error("priority_verified is not yes or no, or yes without a category")]
    PriorityVerifiedInvalid,
    #[error("the application no longer waits in the earlier system")]
    StatusNotWaiting,
    #[error("the child appears on more than one row")]
    ChildRepeated,
    #[error("the old number appears on more than one row of the district")]
    LegacyNumberRepeated,
}

impl RowRefusal {
    /// The stable machine code (a registration's refusal keeps its own).
    pub fn code(&self) -> &'static str {
        match self {
            RowRefusal::Registration(refusal) => refusal.code(),
            RowRefusal::RowMalformed => "import_row_malformed",
            RowRefusal::LegacyNumberInvalid => "legacy_number_invalid",
            RowRefusal::RegisteredAtMalformed => "registered_at_malformed",
            RowRefusal::RegisteredAtInFuture => "registered_at_in_future",
            RowRefusal::RegisteredBeforeBirth => "registered_before_birth",
            RowRefusal::PriorityVerifiedInvalid => "priority_verified_invalid",
            RowRefusal::StatusNotWaiting => "import_status_not_waiting",
            RowRefusal::ChildRepeated => "import_child_repeated",
            RowRefusal::LegacyNumberRepeated => "legacy_number_repeated",
        }
    }
}

/// A refused row as the report shows it: the file's line (the header is line 1), the
/// stable code and the column. Never the value: it may be personal data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub line: u64,
    pub code: String,
    pub field: String,
}

impl RowError {
    pub fn new(line: u64, field: &str, refusal: &RowRefusal) -> RowError {
        RowError {
            line,
            code: refusal.code().to_string(),
            field: field.to_string(),
        }
    }
}

/// One line of the export, as text, in the columns of [`HEADER`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LegacyRow {
    pub line: u64,
    pub fields: Vec<String>,
}

impl LegacyRow {
    fn field(&self, name: &str) -> &str {
        let index = HEADER
            .iter()
            .position(|n| *n == name)
            .expect("a column of the header");
        &self.fields[index]
    }
}

/// A row that passed every check that does not need the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportRow {
    pub line: u64,
    pub legacy_number: String,
    pub registered_at: DateTime<Utc>,
    pub application: NewApplication,
    /// The tier the earlier system verified the priority for; `None`: general (a claim not
    /// verified there waits for an officer here, as a new one does).
    pub verified_tier: Option<Tier>,
}

impl ImportRow {
    /// Checks one row against the catalog at `now`. The first failure is reported, in the
    /// order: shape, old number, time, the registration's checks, the time against the
    /// birth, the priority's verification, the status.
    pub fn parse(
        row: &LegacyRow,
        catalog: &Catalog,
        now: DateTime<Utc>,
    ) -> Result<ImportRow, (&'static str, RowRefusal)> {
        if row.fields.len() != HEADER.len() {
            return Err(("row", RowRefusal::RowMalformed));
        }
        let legacy_number = parse_legacy_number(row.field("legacy_number"))
            .ok_or(("legacy_number", RowRefusal::LegacyNumberInvalid))?;
        let registered_at = parse_time(row.field("registered_at"))
            .ok_or(("registered_at", RowRefusal::RegisteredAtMalformed))?;
        if registered_at > now {
            return Err(("registered_at", RowRefusal::RegisteredAtInFuture));
        }
        let today = super::local_date(now);
        let form = registration_form(row, today);
        if let Some((field, refusal)) = NewApplication::refusals(&form, catalog, today)
            .into_iter()
            .next()
        {
            return Err((field, refusal.into()));
        }
        let application = NewApplication::parse(&form, catalog, today)
            .map_err(|refusal| ("row", refusal.into()))?;
        if super::local_date(registered_at) < application.child.birth_date {
            return Err(("registered_at", RowRefusal::RegisteredBeforeBirth));
        }
        let verified_tier = verified_tier(row.field("priority_verified"), &application, catalog)
            .ok_or(("priority_verified", RowRefusal::PriorityVerifiedInvalid))?;
        if row.field("status").trim() != STATUS_WAITING {
            return Err(("status", RowRefusal::StatusNotWaiting));
        }
        Ok(ImportRow {
            line: row.line,
            legacy_number,
            registered_at,
            application,
            verified_tier,
        })
    }

    /// The application as the journal records it, under `id` (the district's next number).
    pub fn into_application(self, id: ApplicationId) -> Application {
        debug_assert_eq!(id.district, self.application.district);
        let new = self.application;
        let mut priority = new.priority;
        if self.verified_tier.is_some() {
            if let Some(claim) = priority.as_mut() {
                claim.status = ClaimStatus::Verified;
            }
        }
        Application {
            id,
            registered_at: self.registered_at,
            child: new.child,
            applicant: new.applicant,
            desired_start: new.desired_start,
            choices: new.choices,
            language: new.language,
            priority,
            tier: self.verified_tier.unwrap_or(Tier::General),
            status: ApplicationStatus::Queued,
            channel: Channel::Import,
            entered_by: None,
            held_until: None,
            moved_from: None,
            legacy_number: Some(self.legacy_number),
        }
    }

    /// The order the earlier system's queue had within a district: the tier it verified,
    /// the registration time, and for equal times the order of the file's lines.
    pub fn old_order(&self) -> (DistrictId, Tier, DateTime<Utc>, u64) {
        (
            self.application.district,
            self.verified_tier.unwrap_or(Tier::General),
            self.registered_at,
            self.line,
        )
    }
}

/// Drops every row of a child that appears more than once, and every row of an old number
/// that appears more than once in a district: which of two rows is right cannot be told, so
/// neither is taken. Answers the rows kept and the refusals, each with its line.
pub fn refuse_repeats(rows: Vec<ImportRow>) -> (Vec<ImportRow>, Vec<RowError>) {
    let mut children: HashMap<u64, usize> = HashMap::with_capacity(rows.len());
    let mut numbers: HashMap<(DistrictId, &str), usize> = HashMap::with_capacity(rows.len());
    for row in &rows {
        *children
            .entry(row.application.child.iin.as_u64())
            .or_default() += 1;
        *numbers
            .entry((row.application.district, row.legacy_number.as_str()))
            .or_default() += 1;
    }
    let repeated: Vec<Option<(&str, RowRefusal)>> = rows
        .iter()
        .map(|row| {
            if children[&row.application.child.iin.as_u64()] > 1 {
                Some(("child_iin", RowRefusal::ChildRepeated))
            } else if numbers[&(row.application.district, row.legacy_number.as_str())] > 1 {
                Some(("legacy_number", RowRefusal::LegacyNumberRepeated))
            } else {
                None
            }
        })
        .collect();
    let mut kept = Vec::with_capacity(rows.len());
    let mut refused = Vec::new();
    for (row, repeat) in rows.into_iter().zip(repeated) {
        match repeat {
            Some((field, refusal)) => refused.push(RowError::new(row.line, field, &refusal)),
            None => kept.push(row),
        }
    }
    (kept, refused)
}

/// The registration form the row describes. A desired start already past (the child has
/// waited since) means "as soon as possible": it is read as today, the earliest a new
/// registration may ask for, so that the registration's own check passes.
fn registration_form(row: &LegacyRow, today: chrono::NaiveDate) -> RegistrationForm {
    let desired_start = match super::application::parse_date(row.field("desired_start")) {
        Some(start) if start < today => today.format("%Y-%m-%d").to_string(),
        _ => row.field("desired_start").to_string(),
    };
    let optional = |name: &str| {
        let text = row.field(name).trim();
        (!text.is_empty()).then(|| text.to_string())
    };
    RegistrationForm {
        district: row.field("district").to_string(),
        child_iin: row.field("child_iin").to_string(),
        child_full_name: row.field("child_full_name").to_string(),
        child_birth_date: row.field("child_birth_date").to_string(),
        applicant_iin: row.field("applicant_iin").to_string(),
        applicant_full_name: row.field("applicant_full_name").to_string(),
        applicant_phone: row.field("applicant_phone").to_string(),
        applicant_email: optional("applicant_email"),
        applicant_address: row.field("applicant_address").to_string(),
        applicant_relation: row.field("applicant_relation").to_string(),
        desired_start,
        kindergartens: parse_kindergartens(row.field("kindergartens")),
        language: row.field("language").to_string(),
        priority_category: optional("priority_category"),
        priority_document: optional("priority_document"),
    }
}

/// `any` (or empty) for any kindergarten of the district, else their ids separated by `;`.
/// An id that is not a number becomes 0, which no kindergarten has, so the registration's
/// check names it (`kindergarten_unknown`).
fn parse_kindergartens(text: &str) -> Vec<u32> {
    let text = text.trim();
    if text.is_empty() || text == "any" {
        return Vec::new();
    }
    text.split(';')
        .map(|id| id.trim().parse::<u32>().unwrap_or(0))
        .collect()
}

fn parse_legacy_number(text: &str) -> Option<String> {
    let text = text.trim();
    let plain = text
        .chars()
        .all(|c| c.is_alphanumeric() || "-/.".contains(c));
    (plain && !text.is_empty() && text.chars().count() <= LEGACY_NUMBER_CHARS_MAX)
        .then(|| text.to_string())
}

/// RFC 3339 (`2023-04-05T09:30:00+05:00`), or a local time without an offset
/// (`2023-04-05 09:30[:00]`, Kazakhstan's UTC+5), to the microsecond the tables keep.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let instant = match DateTime::parse_from_rfc3339(text) {
        Ok(instant) => instant.with_timezone(&Utc),
        Err(_) => {
            let local = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
                .iter()
                .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())?;
            local
                .and_local_timezone(super::local_offset())
                .single()?
                .with_timezone(&Utc)
        }
    };
    DateTime::from_timestamp_micros(instant.timestamp_micros())
}

/// `yes` takes the claim's category's tier at once (the earlier system's officer saw the
/// document); `no` or empty leaves it claimed. `None`: neither, or `yes` without a claim.
fn verified_tier(
    text: &str,
    application: &NewApplication,
    catalog: &Catalog,
) -> Option<Option<Tier>> {
    match text.trim() {
        "" | "no" => Some(None),
        "yes" => {
            let claim = application.priority.as_ref()?;
            let category = catalog.categories.get(&claim.category)?;
            Some(Some(category.tier))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_with_or_without_an_offset_as_kazakhstan_time() {
        let with = parse_time("2023-04-05T09:30:00+05:00").unwrap();
        let without = parse_time("2023-04-05 09:30:00").unwrap();
        let short = parse_time("2023-04-05 09:30").unwrap();
        assert_eq!(with, without);
        assert_eq!(with, short);
        assert_eq!(with.to_rfc3339(), "2023-04-05T04:30:00+00:00");
        assert_eq!(parse_time("05.04.2023"), None);
        assert_eq!(parse_time(""), None);
    }

    #[test]
    fn old_numbers_are_plain_identifiers() {
        assert_eq!(
            parse_legacy_number(" ESL-2019/0042 "),
            Some("ESL-2019/0042".into())
        );
        assert_eq!(parse_legacy_number(""), None);
        assert_eq!(parse_legacy_number("12 34"), None);
        assert_eq!(parse_legacy_number("1\u{202e}2"), None);
        assert_eq!(parse_legacy_number(&"9".repeat(41)), None);
    }

    #[test]
    fn kindergartens_are_any_or_ids() {
        assert!(parse_kindergartens("any").is_empty());
        assert!(parse_kindergartens(" ").is_empty());
        assert_eq!(parse_kindergartens("3; 1;2"), vec![3, 1, 2]);
        assert_eq!(parse_kindergartens("3;x"), vec![3, 0]);
    }
}
