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
        .map_err(|e| format!("{text:?}: {e}"))
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
        .map_err(|e| format!("{text:?}: {e}"))
}

pub fn micros_to_time(micros: i64) -> Result<DateTime<Utc>, String> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| format!("{micros} is out of range"))
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
            let ids: Vec<u32> = serde_json::from_str(text).map_err(|e| format!("{text:?}: {e}"))?;
            if ids.is_empty() || ids.len() > 5 {
                return Err(format!("{text:?}: 1 to 5 kindergartens expected"));
            }
            Ok(Choices::Listed(
                ids.into_iter().map(KindergartenId).collect(),
            ))
        }
    }
}

pub fn language_parse(text: Option<&str>) -> Result<Option<Language>, String> {
    text.map(|code| Language::parse(code).ok_or_else(|| format!("{code:?} is not a language")))
        .transpose()
}

pub fn tier_parse(value: i64) -> Result<Tier, String> {
    u8::try_from(value)
        .ok()
        .and_then(Tier::from_u8)
        .ok_or_else(|| format!("{value} is not a tier"))
}

/// The columns of `applications` in the order [`application_from_row`] reads them.
pub const APPLICATION_COLUMNS: &str = "district_id, registration_number, registered_at, \
    child_iin, child_full_name, child_birth_date, child_sex, applicant_iin, applicant_full_name, \
    applicant_phone, applicant_email, applicant_address, applicant_relation, desired_start, \
    choices, language, priority_category, priority_document, priority_status, tier, status, \
    channel, entered_by, held_until, moved_from_district, moved_from_number";

pub fn application_from_row(row: &Row<'_>) -> Result<Application, StoreError> {
    let district = DistrictId(row.get(0)?);
    let number = RegistrationNumber(row.get(1)?);
    let key = format!("{}/{}", district.0, number.0);
    let bad = |reason: String| StoreError::corrupt("applications", &key, reason);
    let iin = |text: String| Iin::parse(&text).map_err(|e| bad(e.to_string()));
    let priority = match row.get::<_, Option<String>>(16)? {
        None => None,
        Some(category) => Some(PriorityClaim {
            category,
            document: row.get::<_, Option<String>>(17)?.unwrap_or_default(),
            status: enum_parse(&row.get::<_, String>(18)?).map_err(bad)?,
        }),
    };
    Ok(Application {
        id: ApplicationId { district, number },
        registered_at: micros_to_time(row.get(2)?).map_err(bad)?,
        child: Child {
            iin: iin(row.get(3)?)?,
            full_name: row.get(4)?,
            birth_date: date_parse(&row.get::<_, String>(5)?).map_err(bad)?,
            sex: enum_parse(&row.get::<_, String>(6)?).map_err(bad)?,
        },
        applicant: Applicant {
            iin: iin(row.get(7)?)?,
            full_name: row.get(8)?,
            phone: row.get(9)?,
            email: row.get(10)?,
            address: row.get(11)?,
            relation: enum_parse(&row.get::<_, String>(12)?).map_err(bad)?,
        },
        desired_start: date_parse(&row.get::<_, String>(13)?).map_err(bad)?,
        choices: choices_parse(row.get::<_, Option<String>>(14)?.as_deref()).map_err(bad)?,
        language: language_parse(row.get::<_, Option<String>>(15)?.as_deref()).map_err(bad)?,
        priority,
        tier: tier_parse(row.get(19)?).map_err(bad)?,
        status: enum_parse(&row.get::<_, String>(20)?).map_err(bad)?,
        channel: enum_parse(&row.get::<_, String>(21)?).map_err(bad)?,
        entered_by: row.get(22)?,
        held_until: row
            .get::<_, Option<i64>>(23)?
            .map(micros_to_time)
            .transpose()
            .map_err(bad)?,
        moved_from: match (
            row.get::<_, Option<u32>>(24)?,
            row.get::<_, Option<u32>>(25)?,
        ) {
            (Some(district), Some(number)) => Some(ApplicationId {
                district: DistrictId(district),
                number: RegistrationNumber(number),
            }),
            (None, None) => None,
            _ => return Err(bad("moved_from is half set".into())),
        },
    })
}

/// The columns of `referrals` in the order [`referral_from_row`] reads them.
pub const REFERRAL_COLUMNS: &str = "district_id, number, place_id, application_district_id, \
    application_number, kindergarten_id, issued_at, valid_until, extended, status, closed_at, \
    reason, transfer";

pub fn referral_from_row(row: &Row<'_>) -> Result<Referral, StoreError> {
    let id = ReferralId {
        district: DistrictId(row.get(0)?),
        number: ReferralNumber(row.get(1)?),
    };
    let bad = |reason: String| {
        StoreError::corrupt(
            "referrals",
            format!("{}/{}", id.district.0, id.number.0),
            reason,
        )
    };
    Ok(Referral {
        id,
        place: PlaceId(row.get::<_, i64>(2)? as u64),
        application: ApplicationId {
            district: DistrictId(row.get(3)?),
            number: RegistrationNumber(row.get(4)?),
        },
        kindergarten: KindergartenId(row.get(5)?),
        issued_at: micros_to_time(row.get(6)?).map_err(bad)?,
        valid_until: micros_to_time(row.get(7)?).map_err(bad)?,
        extended: row.get(8)?,
        status: enum_parse(&row.get::<_, String>(9)?).map_err(bad)?,
        closed_at: row
            .get::<_, Option<i64>>(10)?
            .map(micros_to_time)
            .transpose()
            .map_err(bad)?,
        reason: row.get(11)?,
        transfer: row.get(12)?,
    })
}
