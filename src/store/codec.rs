//! Column encodings shared by the writer and the readers, so a value is written and read
//! back by one definition.

use super::StoreError;
use crate::domain::application::{
    Applicant, Application, ApplicationId, Child, Choices, PriorityClaim, RegistrationNumber,
};
use crate::domain::catalog::{DistrictId, KindergartenId, Language, Tier};
use crate::domain::iin::Iin;
use crate::domain::referral::{Extension, PlaceId, Referral, ReferralId, ReferralNumber, Validity};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::Row;
use serde::{de::DeserializeOwned, Serialize};

/// A unit enum as its serde name ("queued", "portal", ...), the same text the JSON uses.
pub fn enum_text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        other => panic!("enum_text is only for unit enums, got {other:?}"),
    }
}

pub fn enum_parse<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        // Not the value: it may be personal data, and the caller names the field.
        .map_err(|_| "not one of the known values".to_string())
}

/// A referral's validity rule as `district_policies.validity_kind` and the count of days
/// (0 for a calendar month), see migration 0007.
pub fn validity_columns(validity: Validity) -> (&'static str, u32) {
    match validity {
        Validity::WorkingDays { days } => ("working_days", days),
        Validity::CalendarDays { days } => ("calendar_days", days),
        Validity::CalendarMonth => ("calendar_month", 0),
    }
}

pub fn validity_parse(kind: &str, days: u32) -> Result<Validity, String> {
    match kind {
        "working_days" => Ok(Validity::WorkingDays { days }),
        "calendar_days" => Ok(Validity::CalendarDays { days }),
        "calendar_month" => Ok(Validity::CalendarMonth),
        other => Err(format!("validity kind {other:?}")),
    }
}

/// An extension as `district_policies.extension_calendar_days`: 0 when not allowed (the
/// policy's range starts at 1).
pub fn extension_column(extension: Extension) -> u32 {
    match extension {
        Extension::NotAllowed => 0,
        Extension::Once {
            calendar_days_after_issue,
        } => calendar_days_after_issue,
    }
}

pub fn extension_parse(days: u32) -> Extension {
    match days {
        0 => Extension::NotAllowed,
        calendar_days_after_issue => Extension::Once {
            calendar_days_after_issue,
        },
    }
}

/// `YYYY-MM-DD`. chrono's `Display` and `FromStr` write and read exactly this, without
/// interpreting a format string for every row.
pub fn date_text(date: NaiveDate) -> String {
    date.to_string()
}

pub fn date_parse(text: &str) -> Result<NaiveDate, String> {
    text.parse::<NaiveDate>()
        .map_err(|_| "not a date (YYYY-MM-DD)".to_string())
}

pub fn micros_to_time(micros: i64) -> Result<DateTime<Utc>, String> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| "a time out of range".to_string())
}

pub fn choices_text(choices: &Choices) -> Option<String> {
    match choices {
        Choices::Any => None,
        Choices::Listed(list) => {
            let ids: Vec<u32> = list.iter().map(|k| k.0).collect();
            Some(serde_json::to_string(&ids).expect("a list of numbers serializes"))
        }
    }
}

pub fn choices_parse(text: Option<&str>) -> Result<Choices, String> {
    match text {
        None => Ok(Choices::Any),
        Some(text) => {
            let ids: Vec<u32> =
                serde_json::from_str(text).map_err(|_| "not a list of kindergarten ids")?;
            if ids.is_empty() || ids.len() > 5 {
                return Err("1 to 5 kindergartens expected".into());
            }
            Ok(Choices::Listed(
                ids.into_iter().map(KindergartenId).collect(),
            ))
        }
    }
}

pub fn language_parse(text: Option<&str>) -> Result<Option<Language>, String> {
    text.map(|code| Language::parse(code).ok_or_else(|| "not a language".to_string()))
        .transpose()
}

pub fn tier_parse(value: i64) -> Result<Tier, String> {
    u8::try_from(value)
        .ok()
        .and_then(Tier::from_u8)
        .ok_or_else(|| "not a tier".to_string())
}

/// The columns of `applications` in the order [`application_from_row`] reads them.
pub const APPLICATION_COLUMNS: &str = "district_id, registration_number, registered_at, \
    child_iin, child_full_name, child_birth_date, child_sex, applicant_iin, applicant_full_name, \
    applicant_phone, applicant_email, applicant_address, applicant_relation, desired_start, \
    choices, language, priority_category, priority_document, priority_status, tier, status, \
    channel, entered_by, held_until, moved_from_district, moved_from_number, legacy_number";

pub fn application_from_row(row: &Row<'_>) -> Result<Application, StoreError> {
    let cells = Cells::new(row, "applications", APPLICATION_COLUMNS);
    let district = DistrictId(cells.get(0)?);
    let number = RegistrationNumber(cells.get(1)?);
    let cells = cells.keyed(format!("{}/{}", district.0, number.0));
    let iin = |text: String| Iin::parse_stored(&text).map_err(|e| e.to_string());
    let priority = match cells.get::<Option<String>>(16)? {
        None => None,
        Some(category) => Some(PriorityClaim {
            category,
            document: cells.get::<Option<String>>(17)?.unwrap_or_default(),
            status: cells.parse(18, |t: String| enum_parse(&t))?,
        }),
    };
    Ok(Application {
        id: ApplicationId { district, number },
        registered_at: cells.parse(2, micros_to_time)?,
        child: Child {
            iin: cells.parse(3, iin)?,
            full_name: cells.get(4)?,
            birth_date: cells.parse(5, |t: String| date_parse(&t))?,
            sex: cells.parse(6, |t: String| enum_parse(&t))?,
        },
        applicant: Applicant {
            iin: cells.parse(7, iin)?,
            full_name: cells.get(8)?,
            phone: cells.get(9)?,
            email: cells.get(10)?,
            address: cells.get(11)?,
            relation: cells.parse(12, |t: String| enum_parse(&t))?,
        },
        desired_start: cells.parse(13, |t: String| date_parse(&t))?,
        choices: cells.parse(14, |t: Option<String>| choices_parse(t.as_deref()))?,
        language: cells.parse(15, |t: Option<String>| language_parse(t.as_deref()))?,
        priority,
        tier: cells.parse(19, tier_parse)?,
        status: cells.parse(20, |t: String| enum_parse(&t))?,
        channel: cells.parse(21, |t: String| enum_parse(&t))?,
        entered_by: cells.get(22)?,
        held_until: cells.parse(23, |t: Option<i64>| t.map(micros_to_time).transpose())?,
        moved_from: match (cells.get::<Option<u32>>(24)?, cells.get::<Option<u32>>(25)?) {
            (Some(district), Some(number)) => Some(ApplicationId {
                district: DistrictId(district),
                number: RegistrationNumber(number),
            }),
            (None, None) => None,
            _ => return Err(cells.bad(25, "moved_from is half set")),
        },
        legacy_number: cells.get(26)?,
    })
}

/// One row's cells, read so that a value that cannot be read is named by its table, its row
/// and its column, never by the value (which may be personal data): a corrupted row made
/// `verify` fail with a bare conversion error naming neither table nor row.
struct Cells<'r, 's> {
    row: &'r Row<'s>,
    table: &'static str,
    columns: &'static str,
    /// The row's key, once read; the SQLite rowid's place until then.
    key: String,
}

impl<'r, 's> Cells<'r, 's> {
    fn new(row: &'r Row<'s>, table: &'static str, columns: &'static str) -> Cells<'r, 's> {
        let key = "(key unreadable)".to_string();
        Cells {
            row,
            table,
            columns,
            key,
        }
    }

    fn keyed(self, key: String) -> Cells<'r, 's> {
        Cells { key, ..self }
    }

    fn bad(&self, index: usize, reason: impl std::fmt::Display) -> StoreError {
        let column = self.columns.split(',').nth(index).unwrap_or("?").trim();
        StoreError::corrupt(self.table, &self.key, format!("field {column}: {reason}"))
    }

    fn get<T: rusqlite::types::FromSql>(&self, index: usize) -> Result<T, StoreError> {
        self.row.get(index).map_err(|e| {
            let reason = match e {
                rusqlite::Error::InvalidColumnType(_, _, found) => {
                    format!("holds a {found} where another type is expected")
                }
                rusqlite::Error::IntegralValueOutOfRange(..) => "out of range".to_string(),
                _ => "cannot be read".to_string(),
            };
            self.bad(index, reason)
        })
    }

    fn parse<U: rusqlite::types::FromSql, T>(
        &self,
        index: usize,
        parse: impl FnOnce(U) -> Result<T, String>,
    ) -> Result<T, StoreError> {
        parse(self.get(index)?).map_err(|reason| self.bad(index, reason))
    }
}

/// The columns of `referrals` in the order [`referral_from_row`] reads them.
pub const REFERRAL_COLUMNS: &str = "district_id, number, place_id, application_district_id, \
    application_number, kindergarten_id, issued_at, valid_until, extended, status, closed_at, \
    reason, transfer, round_id";

pub fn referral_from_row(row: &Row<'_>) -> Result<Referral, StoreError> {
    let cells = Cells::new(row, "referrals", REFERRAL_COLUMNS);
    let id = ReferralId {
        district: DistrictId(cells.get(0)?),
        number: ReferralNumber(cells.get(1)?),
    };
    let cells = cells.keyed(format!("{}/{}", id.district.0, id.number.0));
    Ok(Referral {
        id,
        place: PlaceId(cells.get::<i64>(2)? as u64),
        application: ApplicationId {
            district: DistrictId(cells.get(3)?),
            number: RegistrationNumber(cells.get(4)?),
        },
        kindergarten: KindergartenId(cells.get(5)?),
        issued_at: cells.parse(6, micros_to_time)?,
        valid_until: cells.parse(7, micros_to_time)?,
        extended: cells.get(8)?,
        status: cells.parse(9, |t: String| enum_parse(&t))?,
        closed_at: cells.parse(10, |t: Option<i64>| t.map(micros_to_time).transpose())?,
        reason: cells.get(11)?,
        transfer: cells.get(12)?,
        round: cells
            .get::<Option<u32>>(13)?
            .map(crate::domain::intake::RoundId),
    })
}
