//! An application to the queue, and the checks a registration must pass.
//!
//! Raw input (`RegistrationForm`, plain strings as a person typed them) is converted once,
//! by [`NewApplication::parse`], into validated types; everything after that can rely on them.
//! Each failure is a [`Refusal`] with a stable code. Nothing here reads a clock: "today" is
//! a parameter.

use super::catalog::{Catalog, District, DistrictId, KindergartenId, Language, Tier};
use super::iin::{Iin, IinError, Sex};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// At most this many preferred kindergartens (DOMAIN: "an ordered list of 1 to 5").
pub const CHOICES_MAX: usize = 5;
/// Limits on free text, so that one request cannot bloat the journal.
pub const NAME_CHARS_MAX: usize = 200;
pub const ADDRESS_CHARS_MAX: usize = 300;
pub const DOCUMENT_CHARS_MAX: usize = 200;

/// The number a district's registration journal gives an application: gapless, increasing,
/// never reused within the district.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RegistrationNumber(pub u32);

/// An application is identified by its district and its number in that district's journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ApplicationId {
    pub district: DistrictId,
    pub number: RegistrationNumber,
}

/// The queue order: `(tier, registered_at, registration number)`, compared in that order.
/// The field order is the comparison order (derived `Ord`); the number makes it total.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueKey {
    pub tier: Tier,
    /// Microseconds since the Unix epoch, UTC.
    pub registered_at_micros: i64,
    pub number: RegistrationNumber,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Self-service by the parent.
    Portal,
    /// A front-office operator of a public service centre (ЦОН / ХҚКО).
    ServiceCentre,
    /// An education officer at the district office.
    Office,
    /// Brought in from the municipality's earlier system (`kezek import`), where it was
    /// registered through whichever channel that system had.
    Import,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    Mother,
    Father,
    Guardian,
    OtherLegalRepresentative,
}

/// Which kindergartens an application will accept a place in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choices {
    /// Any kindergarten of the district.
    Any,
    /// 1 to 5 distinct kindergartens of the district, most wanted first.
    Listed(Vec<KindergartenId>),
}

impl Choices {
    pub fn accepts(&self, kindergarten: KindergartenId) -> bool {
        match self {
            Choices::Any => true,
            Choices::Listed(list) => list.contains(&kindergarten),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    /// Claimed, waiting for an officer; counts for nothing yet.
    Claimed,
    Verified,
    Rejected,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityClaim {
    pub category: String,
    /// The reference to the supporting document (its number and issuer).
    pub document: String,
    pub status: ClaimStatus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    /// Waiting in the queue (possibly on the stop list for a while).
    Queued,
    /// Holds a live referral.
    Referred,
    /// The referral was handed in and the child enrolled: completed.
    Enrolled,
    /// Withdrawn by the parent.
    Withdrawn,
    /// Reached school age while waiting.
    AgedOut,
    /// Refused by an officer with a motivated reason (the third result document).
    Refused,
    /// The family moved to another district; the application there continues this one.
    Moved,
    /// The child was enrolled and has since left the kindergarten (marked by its head): the
    /// place it held went on to the next child.
    Left,
}

impl ApplicationStatus {
    /// Whether the application's personal data may be erased: it ended, and no place is held
    /// through it. An enrolled child's application serves the place the child holds (and
    /// keeps the child from queueing twice); its retention starts when the child leaves.
    pub fn is_erasable(self) -> bool {
        !self.is_active() && self != ApplicationStatus::Enrolled
    }

    /// Whether the application occupies the child's one place in the queue system.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            ApplicationStatus::Queued | ApplicationStatus::Referred
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Child {
    pub iin: Iin,
    pub full_name: String,
    pub birth_date: NaiveDate,
    pub sex: Sex,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applicant {
    pub iin: Iin,
    pub full_name: String,
    pub phone: String,
    pub email: Option<String>,
    pub address: String,
    pub relation: Relation,
}

/// An application as the journal holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub id: ApplicationId,
    pub registered_at: DateTime<Utc>,
    pub child: Child,
    pub applicant: Applicant,
    pub desired_start: NaiveDate,
    pub choices: Choices,
    /// `None` means any language the district runs.
    pub language: Option<Language>,
    pub priority: Option<PriorityClaim>,
    pub tier: Tier,
    pub status: ApplicationStatus,
    pub channel: Channel,
    /// The staff account that entered it, for the staff channels.
    pub entered_by: Option<String>,
    /// While set, the application keeps its place in the order but takes no place (the stop
    /// list after a lapsed referral).
    #[serde(default)]
    pub held_until: Option<DateTime<Utc>>,
    /// The application in another district this one continues: the family moved, and the
    /// old one ended as "moved". Absent from the journal's payload when `None`, so events
    /// written before moves existed encode as they always did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<ApplicationId>,
    /// The number the application had in the municipality's earlier system, when it was
    /// imported from there (shown beside the district's number). Absent from the payload
    /// when `None`, as `moved_from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_number: Option<String>,
}

/// The grounds on which an officer may refuse an application after registration (the
/// regulations' grounds for a motivated refusal). The officer adds a free-text motivation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// The documents required for the service are incomplete.
    DocumentsIncomplete,
    /// The documents or data turned out unreliable or false.
    DataUnreliable,
    /// The applicant or the child does not meet the requirements (residence, age, ...).
    RequirementsNotMet,
    /// A court decision or another legal bar.
    LegalBar,
}

impl RefusalReason {
    pub const ALL: [RefusalReason; 4] = [
        RefusalReason::DocumentsIncomplete,
        RefusalReason::DataUnreliable,
        RefusalReason::RequirementsNotMet,
        RefusalReason::LegalBar,
    ];
}

/// An answer of the two-question quality survey.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Satisfaction {
    Not,
    Partly,
    Fully,
}

impl QueueKey {
    /// The key's tier and time as one integer, `tier << 61 | registered_at`: ordered as the
    /// key up to ties of time, which the registration number breaks (the position history
    /// stores both; a family's children share one time).
    pub fn order_key(&self) -> i64 {
        debug_assert!((0..1 << 61).contains(&self.registered_at_micros));
        (i64::from(self.tier as u8) << 61) | self.registered_at_micros
    }
}

impl Application {
    pub fn key(&self) -> QueueKey {
        QueueKey {
            tier: self.tier,
            registered_at_micros: self.registered_at.timestamp_micros(),
            number: self.id.number,
        }
    }
}

/// A registration exactly as submitted: strings, unvalidated.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationForm {
    pub district: String,
    pub child_iin: String,
    pub child_full_name: String,
    pub child_birth_date: String,
    pub applicant_iin: String,
    pub applicant_full_name: String,
    pub applicant_phone: String,
    #[serde(default)]
    pub applicant_email: Option<String>,
    pub applicant_address: String,
    pub applicant_relation: String,
    pub desired_start: String,
    /// Kindergarten ids in order of preference; empty means any in the district.
    #[serde(default)]
    pub kindergartens: Vec<u32>,
    /// A language code, or "any".
    pub language: String,
    #[serde(default)]
    pub priority_category: Option<String>,
    #[serde(default)]
    pub priority_document: Option<String>,
}

/// The real applicant at the desk, as typed, who replaces the application's (a rebinding,
/// after staff checked the identity document): every field of the registration form's
/// applicant, the e-mail optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicantForm {
    pub applicant_iin: String,
    pub applicant_full_name: String,
    pub applicant_relation: String,
    pub applicant_phone: String,
    #[serde(default)]
    pub applicant_email: Option<String>,
    pub applicant_address: String,
}

impl ApplicantForm {
    /// Every refusal of the form at once, each with its field's name, in the order of the
    /// registration form's checks (the first is what `parse` refuses with).
    pub fn refusals(&self, child: &Child) -> Vec<(&'static str, Refusal)> {
        let iin = match Iin::parse(self.applicant_iin.trim()) {
            Err(e) => Err(Refusal::ApplicantIinInvalid(e)),
            Ok(iin) if iin == child.iin => Err(Refusal::ApplicantIsChild),
            Ok(_) => Ok(()),
        };
        [
            ("applicant_iin", iin),
            (
                "applicant_full_name",
                parse_name(&self.applicant_full_name).map(|_| ()),
            ),
            (
                "applicant_phone",
                parse_phone(&self.applicant_phone).map(|_| ()),
            ),
            (
                "applicant_email",
                parse_email(self.applicant_email.as_deref()).map(|_| ()),
            ),
            (
                "applicant_address",
                parse_address(&self.applicant_address).map(|_| ()),
            ),
            (
                "applicant_relation",
                parse_relation(&self.applicant_relation).map(|_| ()),
            ),
        ]
        .into_iter()
        .filter_map(|(field, result)| result.err().map(|refusal| (field, refusal)))
        .collect()
    }

    /// The applicant the form describes, for an application of `child`.
    pub fn parse(&self, child: &Child) -> Result<Applicant, Refusal> {
        if let Some((_, refusal)) = self.refusals(child).into_iter().next() {
            return Err(refusal);
        }
        Ok(Applicant {
            iin: Iin::parse(self.applicant_iin.trim()).map_err(Refusal::ApplicantIinInvalid)?,
            full_name: parse_name(&self.applicant_full_name)?,
            phone: parse_phone(&self.applicant_phone)?,
            email: parse_email(self.applicant_email.as_deref())?,
            address: parse_address(&self.applicant_address)?,
            relation: parse_relation(&self.applicant_relation)?,
        })
    }
}

/// Why a registration is refused. The code is stable: clients and tests match on it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the district is not known")]
    UnknownDistrict,
    #[error("child IIN: {0}")]
    ChildIinInvalid(IinError),
    #[error("applicant IIN: {0}")]
    ApplicantIinInvalid(IinError),
    #[error("the birth date is not a date (YYYY-MM-DD)")]
    BirthDateMalformed,
    #[error("the birth date differs from the one inside the child's IIN")]
    BirthDateMismatch,
    #[error("the child is not yet born")]
    ChildNotBorn,
    #[error("the child is not of preschool age on the desired start date")]
    NotPreschoolAge,
    #[error("the desired start date is not a date (YYYY-MM-DD)")]
    DesiredStartMalformed,
    #[error("the desired start date is in the past")]
    DesiredStartInPast,
    #[error("a name is empty or too long")]
    NameInvalid,
    #[error("the phone number is not a Kazakhstan number (+7 and 10 digits)")]
    PhoneInvalid,
    #[error("the e-mail address is not valid")]
    EmailInvalid,
    #[error("the home address is empty or too long")]
    AddressInvalid,
    #[error("the relation to the child is not one of mother, father, guardian, other_legal_representative")]
    RelationInvalid,
    #[error("at most 5 kindergartens may be chosen")]
    TooManyKindergartens,
    #[error("a kindergarten is chosen twice")]
    DuplicateKindergarten,
    #[error("a chosen kindergarten does not exist")]
    UnknownKindergarten,
    #[error("a chosen kindergarten is in another district")]
    KindergartenNotInDistrict,
    #[error("the district runs no groups in that language")]
    LanguageNotOffered,
    #[error("the priority category is not known")]
    UnknownPriorityCategory,
    #[error("a priority claim needs a reference to its supporting document")]
    PriorityDocumentMissing,
    #[error("the applicant cannot be the child")]
    ApplicantIsChild,
    #[error("the child already has an active application")]
    AlreadyQueued,
    #[error("the child is already enrolled in a kindergarten: ask for a transfer instead")]
    AlreadyEnrolled,
    #[error("the amendment changes nothing")]
    NothingToAmend,
    #[error("a referral is outstanding: its kindergartens, language and start cannot change until it ends")]
    ReferralOutstanding,
    #[error("the application is already in that district")]
    MoveToSameDistrict,
    #[error("a transfer is only for a child enrolled through this application")]
    NotEnrolled,
    #[error("a transfer cannot ask for the kindergarten the child already attends")]
    TransferToOwnKindergarten,
    #[error("a transfer request is already waiting for this child")]
    TransferPending,
    #[error("a family registers 2 to 6 children, each once")]
    FamilySizeInvalid,
    #[error("a child appears twice in the family")]
    FamilyChildRepeated,
    /// See `domain::text`.
    #[error("a text holds a control, invisible or direction-changing character")]
    TextUnsafe,
}

impl Refusal {
    /// The stable machine code of this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::UnknownDistrict => "district_unknown",
            Refusal::ChildIinInvalid(_) => "child_iin_invalid",
            Refusal::ApplicantIinInvalid(_) => "applicant_iin_invalid",
            Refusal::BirthDateMalformed => "birth_date_malformed",
            Refusal::BirthDateMismatch => "birth_date_mismatch",
            Refusal::ChildNotBorn => "child_not_born",
            Refusal::NotPreschoolAge => "not_preschool_age",
            Refusal::DesiredStartMalformed => "desired_start_malformed",
            Refusal::DesiredStartInPast => "desired_start_in_past",
            Refusal::NameInvalid => "name_invalid",
            Refusal::PhoneInvalid => "phone_invalid",
            Refusal::EmailInvalid => "email_invalid",
            Refusal::AddressInvalid => "address_invalid",
            Refusal::RelationInvalid => "relation_invalid",
            Refusal::TooManyKindergartens => "too_many_kindergartens",
            Refusal::DuplicateKindergarten => "duplicate_kindergarten",
            Refusal::UnknownKindergarten => "kindergarten_unknown",
            Refusal::KindergartenNotInDistrict => "kindergarten_not_in_district",
            Refusal::LanguageNotOffered => "language_not_offered",
            Refusal::UnknownPriorityCategory => "priority_category_unknown",
            Refusal::PriorityDocumentMissing => "priority_document_missing",
            Refusal::ApplicantIsChild => "applicant_is_child",
            Refusal::AlreadyQueued => "already_queued",
            Refusal::AlreadyEnrolled => "already_enrolled",
            Refusal::NothingToAmend => "nothing_to_amend",
            Refusal::ReferralOutstanding => "referral_outstanding",
            Refusal::MoveToSameDistrict => "move_to_same_district",
            Refusal::NotEnrolled => "not_enrolled",
            Refusal::TransferToOwnKindergarten => "transfer_to_own_kindergarten",
            Refusal::TransferPending => "transfer_pending",
            Refusal::FamilySizeInvalid => "family_size_invalid",
            Refusal::FamilyChildRepeated => "family_child_repeated",
            Refusal::TextUnsafe => "text_unsafe",
        }
    }
}

/// A registration that passed every check that does not need the journal. The journal
/// (the store) adds the number, the time and the uniqueness of the child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewApplication {
    pub district: DistrictId,
    pub child: Child,
    pub applicant: Applicant,
    pub desired_start: NaiveDate,
    pub choices: Choices,
    pub language: Option<Language>,
    pub priority: Option<PriorityClaim>,
}

impl NewApplication {
    /// Checks a form against the catalog on `today` (local date). The order of checks is
    /// fixed so that the first refusal reported for a form is always the same.
    pub fn parse(
        form: &RegistrationForm,
        catalog: &Catalog,
        today: NaiveDate,
    ) -> Result<NewApplication, Refusal> {
        let district = catalog
            .district_by_code(form.district.trim())
            .ok_or(Refusal::UnknownDistrict)?;
        let child_iin = Iin::parse(form.child_iin.trim()).map_err(Refusal::ChildIinInvalid)?;
        let applicant_iin =
            Iin::parse(form.applicant_iin.trim()).map_err(Refusal::ApplicantIinInvalid)?;
        if child_iin == applicant_iin {
            return Err(Refusal::ApplicantIsChild);
        }
        let birth_date = parse_date(&form.child_birth_date).ok_or(Refusal::BirthDateMalformed)?;
        if birth_date != child_iin.birth_date() {
            return Err(Refusal::BirthDateMismatch);
        }
        if birth_date > today {
            return Err(Refusal::ChildNotBorn);
        }
        let desired_start =
            parse_date(&form.desired_start).ok_or(Refusal::DesiredStartMalformed)?;
        if desired_start < today {
            return Err(Refusal::DesiredStartInPast);
        }
        if !catalog
            .school_age
            .is_preschool_on(birth_date, desired_start.max(today))
        {
            return Err(Refusal::NotPreschoolAge);
        }
        let child = Child {
            iin: child_iin,
            full_name: parse_name(&form.child_full_name)?,
            birth_date,
            sex: child_iin.sex(),
        };
        let applicant = Applicant {
            iin: applicant_iin,
            full_name: parse_name(&form.applicant_full_name)?,
            phone: parse_phone(&form.applicant_phone)?,
            email: parse_email(form.applicant_email.as_deref())?,
            address: parse_address(&form.applicant_address)?,
            relation: parse_relation(&form.applicant_relation)?,
        };
        let choices = parse_choices(&form.kindergartens, district.id, catalog)?;
        let language = parse_language(&form.language, district)?;
        let priority = parse_priority(form, catalog)?;
        Ok(NewApplication {
            district: district.id,
            child,
            applicant,
            desired_start,
            choices,
            language,
            priority,
        })
    }
}

impl NewApplication {
    /// Every refusal of a form at once, for a page that marks each field's error in one go.
    /// The checks are `parse`'s, in `parse`'s order; a check that depends on a field
    /// already refused is left out (a birth date cannot disagree with an IIN that is not
    /// one). So `parse` refuses a form exactly when this list is not empty, and with its
    /// first entry (tests/registration.rs holds the two together).
    pub fn refusals(
        form: &RegistrationForm,
        catalog: &Catalog,
        today: NaiveDate,
    ) -> Vec<(&'static str, Refusal)> {
        let mut refusals = Vec::new();
        // Each refusal with the name of the form field it is about.
        let mut note = |field: &'static str, result: Result<(), Refusal>| {
            if let Err(refusal) = result {
                refusals.push((field, refusal));
            }
        };
        let district = catalog.district_by_code(form.district.trim());
        note(
            "district",
            district.map(|_| ()).ok_or(Refusal::UnknownDistrict),
        );
        let child_iin = Iin::parse(form.child_iin.trim()).map_err(Refusal::ChildIinInvalid);
        let applicant_iin =
            Iin::parse(form.applicant_iin.trim()).map_err(Refusal::ApplicantIinInvalid);
        note("child_iin", child_iin.clone().map(|_| ()));
        note("applicant_iin", applicant_iin.clone().map(|_| ()));
        if let (Ok(child), Ok(applicant)) = (&child_iin, &applicant_iin) {
            note(
                "applicant_iin",
                if child == applicant {
                    Err(Refusal::ApplicantIsChild)
                } else {
                    Ok(())
                },
            );
        }
        let birth_date = parse_date(&form.child_birth_date);
        note(
            "child_birth_date",
            birth_date.map(|_| ()).ok_or(Refusal::BirthDateMalformed),
        );
        if let (Some(birth_date), Ok(child)) = (birth_date, &child_iin) {
            note(
                "child_birth_date",
                if birth_date != child.birth_date() {
                    Err(Refusal::BirthDateMismatch)
                } else if birth_date > today {
                    Err(Refusal::ChildNotBorn)
                } else {
                    Ok(())
                },
            );
        }
        let desired_start = parse_date(&form.desired_start);
        note(
            "desired_start",
            match desired_start {
                None => Err(Refusal::DesiredStartMalformed),
                Some(start) if start < today => Err(Refusal::DesiredStartInPast),
                Some(_) => Ok(()),
            },
        );
        if let (Some(birth_date), Some(start), Ok(child)) = (birth_date, desired_start, &child_iin)
        {
            let dates_fine =
                birth_date == child.birth_date() && birth_date <= today && start >= today;
            if dates_fine
                && !catalog
                    .school_age
                    .is_preschool_on(birth_date, start.max(today))
            {
                note("child_birth_date", Err(Refusal::NotPreschoolAge));
            }
        }
        note(
            "child_full_name",
            parse_name(&form.child_full_name).map(|_| ()),
        );
        note(
            "applicant_full_name",
            parse_name(&form.applicant_full_name).map(|_| ()),
        );
        note(
            "applicant_phone",
            parse_phone(&form.applicant_phone).map(|_| ()),
        );
        note(
            "applicant_email",
            parse_email(form.applicant_email.as_deref()).map(|_| ()),
        );
        note(
            "applicant_address",
            parse_address(&form.applicant_address).map(|_| ()),
        );
        note(
            "applicant_relation",
            parse_relation(&form.applicant_relation).map(|_| ()),
        );
        if let Some(district) = district {
            note(
                "kindergartens",
                parse_choices(&form.kindergartens, district.id, catalog).map(|_| ()),
            );
            note(
                "language",
                parse_language(&form.language, district).map(|_| ()),
            );
        }
        let priority_field = if form
            .priority_category
            .as_deref()
            .map(str::trim)
            .is_some_and(|c| catalog.categories.get(c).is_some_and(|c| !c.retired))
        {
            "priority_document"
        } else {
            "priority_category"
        };
        note(priority_field, parse_priority(form, catalog).map(|_| ()));
        refusals
    }
}

/// A group language the district runs, or "any" (`None`).
pub(crate) fn parse_language(text: &str, district: &District) -> Result<Option<Language>, Refusal> {
    match text.trim() {
        "any" => Ok(None),
        code => match Language::parse(code) {
            Some(language) if district.languages.contains(&language) => Ok(Some(language)),
            _ => Err(Refusal::LanguageNotOffered),
        },
    }
}

pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

/// A person's full name: whitespace folded, letters, spaces, `-`, `'` and `.` only, at most
/// `NAME_CHARS_MAX` characters.
pub fn parse_name(text: &str) -> Result<String, Refusal> {
    safe_text(text)?;
    let name = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let plausible = name
        .chars()
        .all(|c| is_cyrillic_letter(c) || c.is_alphabetic() || " -'.".contains(c));
    if name.is_empty() || name.chars().count() > NAME_CHARS_MAX || !plausible {
        return Err(Refusal::NameInvalid);
    }
    Ok(name)
}

/// The Cyrillic block's letters (Russian and Kazakh alike), answered without the general
/// Unicode table, whose look-up outside ASCII was the costliest step of checking a million
/// imported names. U+0482–U+0489 are a sign and combining marks, not letters.
fn is_cyrillic_letter(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{0481}' | '\u{048A}'..='\u{04FF}')
}

/// Kazakhstan numbers: +7 and ten digits; spaces, dashes and brackets are dropped, and a
/// leading 8 (the domestic trunk prefix) is read as +7.
pub(crate) fn parse_phone(text: &str) -> Result<String, Refusal> {
    let kept: String = text.chars().filter(|c| !" -()".contains(*c)).collect();
    let national = kept
        .strip_prefix("+7")
        .or_else(|| kept.strip_prefix('8').filter(|rest| rest.len() == 10))
        .ok_or(Refusal::PhoneInvalid)?;
    if national.len() != 10 || !national.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::PhoneInvalid);
    }
    Ok(format!("+7{national}"))
}

pub(crate) fn parse_email(text: Option<&str>) -> Result<Option<String>, Refusal> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => super::contact::parse_email(text)
            .map(Some)
            .map_err(|_| Refusal::EmailInvalid),
    }
}

/// Refuses what `domain::text` refuses, before any other check of a free-text field.
fn safe_text(text: &str) -> Result<(), Refusal> {
    super::text::check_line(text).map_err(|_| Refusal::TextUnsafe)
}

pub(crate) fn parse_address(text: &str) -> Result<String, Refusal> {
    safe_text(text)?;
    let address = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if address.is_empty() || address.chars().count() > ADDRESS_CHARS_MAX {
        return Err(Refusal::AddressInvalid);
    }
    Ok(address)
}

fn parse_relation(text: &str) -> Result<Relation, Refusal> {
    match text.trim() {
        "mother" => Ok(Relation::Mother),
        "father" => Ok(Relation::Father),
        "guardian" => Ok(Relation::Guardian),
        "other_legal_representative" => Ok(Relation::OtherLegalRepresentative),
        _ => Err(Refusal::RelationInvalid),
    }
}

pub(crate) fn parse_choices(
    ids: &[u32],
    district: DistrictId,
    catalog: &Catalog,
) -> Result<Choices, Refusal> {
    if ids.is_empty() {
        return Ok(Choices::Any);
    }
    if ids.len() > CHOICES_MAX {
        return Err(Refusal::TooManyKindergartens);
    }
    let mut listed = Vec::with_capacity(ids.len());
    for id in ids.iter().copied().map(KindergartenId) {
        if listed.contains(&id) {
            return Err(Refusal::DuplicateKindergarten);
        }
        let kindergarten = catalog
            .kindergartens
            .get(&id)
            .ok_or(Refusal::UnknownKindergarten)?;
        if kindergarten.district != district {
            return Err(Refusal::KindergartenNotInDistrict);
        }
        listed.push(id);
    }
    Ok(Choices::Listed(listed))
}

fn parse_priority(
    form: &RegistrationForm,
    catalog: &Catalog,
) -> Result<Option<PriorityClaim>, Refusal> {
    let Some(code) = form
        .priority_category
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    else {
        return Ok(None);
    };
    // A retired category takes no new claims (the applications holding it keep it).
    let category = catalog
        .categories
        .get(code)
        .filter(|c| !c.retired)
        .ok_or(Refusal::UnknownPriorityCategory)?;
    let document = form
        .priority_document
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty() && d.chars().count() <= DOCUMENT_CHARS_MAX)
        .ok_or(Refusal::PriorityDocumentMissing)?;
    safe_text(document)?;
    Ok(Some(PriorityClaim {
        category: category.code.clone(),
        document: document.to_string(),
        status: ClaimStatus::Claimed,
    }))
}
