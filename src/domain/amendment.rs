//! Amendments: what a parent (or staff on the parent's behalf) may change of an application
//! after registering it, without losing its place.
//!
//! The choices of kindergartens, the group language, the desired start date and the
//! contacts can change; the queue key `(tier, registered_at, number)` never does, so the
//! application keeps its place in its cohort while its per-kindergarten positions follow the
//! new choices. Raw input (`AmendmentForm`, strings as typed, every field optional) is
//! converted once by [`Amendment::parse`] into the application's complete new values, so
//! the journal's event says what the application is after it, not a diff to re-apply.
//!
//! A move to another district (`MoveForm`, [`Move::parse`]) is the other change a family's
//! life brings: the application continues in the new district under that district's next
//! number, with kindergartens of the new district, and, as the district's policy says,
//! its original registration time and its verified priority.

use super::application::{
    parse_address, parse_choices, parse_date, parse_email, parse_language, parse_phone,
    Application, Choices, Refusal,
};
use super::catalog::{Catalog, Language};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// An amendment as submitted: `None` (or an absent field) leaves a value as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmendmentForm {
    /// Kindergarten ids in order of preference; an empty list means any in the district.
    #[serde(default)]
    pub kindergartens: Option<Vec<u32>>,
    /// A language code, or "any".
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub desired_start: Option<String>,
    #[serde(default)]
    pub applicant_phone: Option<String>,
    /// An empty string removes the address.
    #[serde(default)]
    pub applicant_email: Option<String>,
    #[serde(default)]
    pub applicant_address: Option<String>,
}

/// The fields an amendment may change, named as the registration form names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmendedField {
    Kindergartens,
    Language,
    DesiredStart,
    ApplicantPhone,
    ApplicantEmail,
    ApplicantAddress,
}

impl AmendedField {
    /// Whether changing this field changes which places the application can take: refused
    /// while a referral is outstanding (the referral was issued for the old choices).
    pub fn affects_places(self) -> bool {
        matches!(
            self,
            AmendedField::Kindergartens | AmendedField::Language | AmendedField::DesiredStart
        )
    }
}

/// The application's amendable values after an amendment, and which of them changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amendment {
    pub choices: Choices,
    /// `None`: any language.
    pub language: Option<Language>,
    pub desired_start: NaiveDate,
    pub phone: String,
    pub email: Option<String>,
    pub address: String,
    /// What differs from the application before, in a fixed order; never empty.
    pub changed: Vec<AmendedField>,
}

impl Amendment {
    /// Checks `form` against `application` and the catalog on `today` (local date), with the
    /// registration's own field checks and refusal codes. A form that changes nothing is
    /// refused (`nothing_to_amend`), so every amendment event records a change.
    pub fn parse(
        form: &AmendmentForm,
        application: &Application,
        catalog: &Catalog,
        today: NaiveDate,
    ) -> Result<Amendment, Refusal> {
        let district = catalog
            .districts
            .get(&application.id.district)
            .ok_or(Refusal::UnknownDistrict)?;
        let choices = match &form.kindergartens {
            Some(ids) => parse_choices(ids, district.id, catalog)?,
            None => application.choices.clone(),
        };
        let language = match &form.language {
            Some(code) => parse_language(code, district)?,
            None => application.language,
        };
        let desired_start = match &form.desired_start {
            Some(text) => {
                let start = parse_date(text).ok_or(Refusal::DesiredStartMalformed)?;
                if start < today {
                    return Err(Refusal::DesiredStartInPast);
                }
                let birth_date = application.child.birth_date;
                if !catalog.school_age.is_preschool_on(birth_date, start) {
                    return Err(Refusal::NotPreschoolAge);
                }
                start
            }
            None => application.desired_start,
        };
        let applicant = &application.applicant;
        let phone = match &form.applicant_phone {
            Some(text) => parse_phone(text)?,
            None => applicant.phone.clone(),
        };
        let email = match &form.applicant_email {
            Some(text) => parse_email(Some(text))?,
            None => applicant.email.clone(),
        };
        let address = match &form.applicant_address {
            Some(text) => parse_address(text)?,
            None => applicant.address.clone(),
        };
        let changed: Vec<AmendedField> = [
            (AmendedField::Kindergartens, choices != application.choices),
            (AmendedField::Language, language != application.language),
            (
                AmendedField::DesiredStart,
                desired_start != application.desired_start,
            ),
            (AmendedField::ApplicantPhone, phone != applicant.phone),
            (AmendedField::ApplicantEmail, email != applicant.email),
            (AmendedField::ApplicantAddress, address != applicant.address),
        ]
        .into_iter()
        .filter_map(|(field, differs)| differs.then_some(field))
        .collect();
        if changed.is_empty() {
            return Err(Refusal::NothingToAmend);
        }
        Ok(Amendment {
            choices,
            language,
            desired_start,
            phone,
            email,
            address,
            changed,
        })
    }

    /// Whether it changes which places the application can take.
    pub fn affects_places(&self) -> bool {
        self.changed.iter().any(|field| field.affects_places())
    }

    /// The application as the amendment leaves it: the amendable values replaced, the key,
    /// the child, the status and everything else untouched.
    pub fn applied_to(&self, application: &mut Application) {
        application.choices = self.choices.clone();
        application.language = self.language;
        application.desired_start = self.desired_start;
        application.applicant.phone = self.phone.clone();
        application.applicant.email = self.email.clone();
        application.applicant.address = self.address.clone();
    }
}

/// A move as submitted: the district moved to, and the choices there.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveForm {
    /// The new district's code.
    pub district: String,
    /// Kindergartens of the new district in order of preference; empty: any.
    #[serde(default)]
    pub kindergartens: Vec<u32>,
    /// A language code, or "any"; absent: the application's language if the new district
    /// runs it, else any.
    #[serde(default)]
    pub language: Option<String>,
}

/// A checked move: where to, and what the application asks for there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    pub district: super::catalog::DistrictId,
    pub choices: Choices,
    pub language: Option<Language>,
}

impl Move {
    pub fn parse(
        form: &MoveForm,
        application: &Application,
        catalog: &Catalog,
    ) -> Result<Move, Refusal> {
        let district = catalog
            .district_by_code(form.district.trim())
            .ok_or(Refusal::UnknownDistrict)?;
        if district.id == application.id.district {
            return Err(Refusal::MoveToSameDistrict);
        }
        let choices = parse_choices(&form.kindergartens, district.id, catalog)?;
        let language = match &form.language {
            Some(code) => parse_language(code, district)?,
            None => application
                .language
                .filter(|language| district.languages.contains(language)),
        };
        Ok(Move {
            district: district.id,
            choices,
            language,
        })
    }
}
