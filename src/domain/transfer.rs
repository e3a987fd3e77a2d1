//! Transfers: a child enrolled through an application never queues again for a second
//! place, but its family may ask to move it to other kindergartens of the district.
//!
//! Transfer requests wait in the district's transfer queue, ordered by the time they were
//! made (they are not first-time applications, so the registration order does not apply).
//! The district's policy says how places are shared with first-time applicants: by default
//! a place goes to a transfer only when no first-time applicant fits it. A transfer referral
//! handed in moves the child; its old place is freed in the same command and allocated at
//! once, so no child ever holds two places.

use super::application::{parse_choices, Application, ApplicationId, Choices, Refusal};
use super::catalog::{Catalog, KindergartenId, Language};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A transfer request as submitted: 1 to 5 other kindergartens of the district, most
/// wanted first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferForm {
    pub kindergartens: Vec<u32>,
}

/// A waiting transfer request, with what fitting a place asks of the child.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRequest {
    /// The application through which the child is enrolled.
    pub id: ApplicationId,
    pub requested_at: DateTime<Utc>,
    /// The kindergarten the child attends now.
    pub from: KindergartenId,
    pub choices: Vec<KindergartenId>,
    pub birth_date: NaiveDate,
    /// `None`: any language.
    pub language: Option<Language>,
}

impl TransferRequest {
    /// Checks `form` for the child of `application`, enrolled at `from`.
    pub fn parse(
        form: &TransferForm,
        application: &Application,
        from: KindergartenId,
        catalog: &Catalog,
        now: DateTime<Utc>,
    ) -> Result<TransferRequest, Refusal> {
        if form.kindergartens.is_empty() {
            return Err(Refusal::UnknownKindergarten);
        }
        if form.kindergartens.contains(&from.0) {
            return Err(Refusal::TransferToOwnKindergarten);
        }
        let choices = match parse_choices(&form.kindergartens, application.id.district, catalog)? {
            Choices::Listed(list) => list,
            Choices::Any => unreachable!("a non-empty list"),
        };
        Ok(TransferRequest {
            id: application.id,
            requested_at: now,
            from,
            choices,
            birth_date: application.child.birth_date,
            language: application.language,
        })
    }

    /// The key of the district's transfer queue: the request's time, then its application.
    pub fn order(&self) -> (i64, ApplicationId) {
        (self.requested_at.timestamp_micros(), self.id)
    }
}
