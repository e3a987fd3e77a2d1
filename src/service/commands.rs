//! What each command does inside the writer's transaction: check, then produce the events.
//! Decisions read the database (inside the transaction, so earlier commands of the same
//! batch are visible) and the catalog; they never read the waiting list, which only changes
//! after COMMIT.

use super::writer::Tx;
use super::CommandError;
use crate::domain::access;
use crate::domain::access_log::ViewKind;
use crate::domain::amendment::{Amendment, AmendmentForm, Move, MoveForm};
use crate::domain::application::{
    parse_name, ApplicantForm, Application, ApplicationId, ApplicationStatus, Channel, ClaimStatus,
    NewApplication, Refusal, RefusalReason, RegistrationForm, RegistrationNumber, Satisfaction,
};
use crate::domain::attachment::{
    Accepted, AttachmentKind, AttachmentLimits, AttachmentRecord, AttachmentRefusal,
};
use crate::domain::calendar::{end_of_local_day_after, YearCalendar, LONGEST_BREAK_DAYS};
use crate::domain::catalog::{
    AgeBand, Catalog, District, DistrictId, Group, GroupId, Kindergarten, KindergartenId, Language,
    Names, PriorityCategory, Tier,
};
use crate::domain::document_request::{self, DocumentRequest};
use crate::domain::event::{Event, SplitEvent};
use crate::domain::family::{Family, FamilyId, FAMILY_SIZE_MAX};
use crate::domain::import::{ImportRow, RowError, RowRefusal};
use crate::domain::intake::{self, IntakeRound, RoundId};
use crate::domain::local_date;
use crate::domain::referral::{
    DistrictPolicy, Extension, FreePlace, Lapse, PlaceId, Referral, ReferralId,
};
use crate::domain::staff::{Role, Scope, StaffAccount};
use crate::domain::state::{Deadline, Taker};
use crate::domain::transfer::{TransferForm, TransferRequest};
use crate::domain::waiting_list::Position;
use crate::store::Store;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

// Commands are built once and moved through a channel; boxing the registration form would
// only add an allocation to each.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Command {
    /// Nothing: readiness asks whether a transaction can begin and commit (the batch's
    /// `BEGIN IMMEDIATE` takes the write lock) without changing anything.
    Probe,
    Register {
        form: RegistrationForm,
        channel: Channel,
    },
    Withdraw {
        id: ApplicationId,
    },
    /// An administrator erases an ended application's personal data before its retention
    /// period ends (the daily sweep erases it when the period ends).
    ErasePersonalData {
        id: ApplicationId,
    },
    VerifyPriority {
        id: ApplicationId,
    },
    RejectPriority {
        id: ApplicationId,
        reason: String,
    },
    CreateDistrict(NewDistrict),
    CreateKindergarten(NewKindergarten),
    CreateGroup(NewGroup),
    SetPolicy {
        district: DistrictId,
        policy: DistrictPolicy,
    },
    SetCalendarYear {
        year: i32,
        text: String,
    },
    ReportPlaces(NewPlaces),
    /// An administrator opens a district's intake round (issue 18): the places reported for
    /// `places_for` until `closes_at` are collected and allocated together then.
    OpenIntakeRound {
        district: DistrictId,
        places_for: NaiveDate,
        closes_at: DateTime<Utc>,
        /// The order "any kindergarten" children take kindergartens in; empty: the catalog's.
        any_order: Vec<KindergartenId>,
    },
    /// Closes a round now (the scheduler does it at its time): its allocation and every
    /// referral of it in this one command.
    CloseIntakeRound {
        round: RoundId,
    },
    /// The kindergarten confirms the referral was handed in; `by` must be its kindergarten.
    HandIn {
        referral: ReferralId,
        by: KindergartenId,
    },
    Decline {
        referral: ReferralId,
    },
    Extend {
        referral: ReferralId,
    },
    Revoke {
        referral: ReferralId,
        reason: String,
        priority_unconfirmed: bool,
    },
    /// Processes everything due by now: expiries, ends of stop lists, children aging out.
    Tick,
    /// A new access code for a parent who lost theirs (staff, after checking identity). With
    /// `contacts`, also the remedy when somebody else registered the child first: the
    /// applicant at the desk's phone, e-mail and address replace the application's (an
    /// amendment, journaled as such) and the code the other person holds stops working.
    /// Nothing is emitted unless both can be done.
    ///
    /// With `applicant`, the stronger remedy (the desk checked the identity document of the
    /// real applicant): the whole applicant is replaced, IIN, name, relation and contacts
    /// (`ApplicantRebound`), for every child of the family still active when the
    /// application is one of a family, which then share the new code; `contacts` is then
    /// not looked at. The person who registered loses the application (their code and
    /// their signed-in pages), the real applicant gains it.
    ReissueAccessCode {
        id: ApplicationId,
        contacts: Option<AmendmentForm>,
        applicant: Option<ApplicantForm>,
    },
    /// A motivated refusal by an officer; only while the application waits in the queue.
    Refuse {
        id: ApplicationId,
        reason: RefusalReason,
        text: String,
    },
    /// Changes choices, language, start date or contacts (the parent, or staff for them).
    Amend {
        id: ApplicationId,
        form: AmendmentForm,
    },
    /// Several children of one applicant at once: one time, consecutive numbers, one
    /// family (`forms` share the applicant, the district and the choices).
    RegisterFamily {
        forms: Vec<RegistrationForm>,
        together: bool,
        channel: Channel,
    },
    /// The family of an enrolled child asks to move it to other kindergartens.
    RequestTransfer {
        id: ApplicationId,
        form: TransferForm,
    },
    /// The family of `id` takes places only together, or separately.
    SetFamilyChoice {
        id: ApplicationId,
        together: bool,
    },
    /// The family moved district: the application continues there (the parent, or staff).
    Move {
        id: ApplicationId,
        form: MoveForm,
    },
    /// The parent's answers to the quality survey, once, after completion.
    AnswerSurvey {
        id: ApplicationId,
        process: Satisfaction,
        information: Satisfaction,
    },
    /// Records that the calling staff account saw `applications` (one entry each; one
    /// without an application when it is empty) in the staff access log. No event: a view
    /// changes nothing in the queue; the log is its own chain (see `domain::access_log`).
    RecordViews {
        kind: ViewKind,
        applications: Vec<ApplicationId>,
    },
    /// Names the head of a district's education department, who signs its referrals.
    SetEducationHead {
        district: DistrictId,
        full_name: String,
    },
    /// The kindergarten `by` withdraws an open place of its own, reported by mistake.
    WithdrawPlace {
        place: PlaceId,
        by: KindergartenId,
    },
    /// An enrolled child of kindergarten `by` left: its place is free again from today and
    /// goes to whoever's turn it is, in the same transaction.
    MarkLeft {
        id: ApplicationId,
        by: KindergartenId,
    },
    /// The administrator changes a kindergarten's names, address and head.
    ChangeKindergarten {
        id: KindergartenId,
        names: Names,
        address: String,
        head: Option<String>,
    },
    /// The administrator changes a group's name, language, age band and capacity.
    ChangeGroup {
        id: GroupId,
        name: String,
        language: Language,
        age_band: AgeBand,
        capacity: u32,
    },
    /// Closes a group: it takes no new places, its open places are withdrawn in the same
    /// command, its live referrals stay valid.
    CloseGroup {
        id: GroupId,
    },
    /// A new priority category.
    CreateCategory(PriorityCategory),
    /// Renames a category, or changes its tier or required document (a verified claim keeps
    /// the tier it was verified at).
    ChangeCategory(PriorityCategory),
    /// Retires a category: no new claims; the applications holding it keep it, and a claim
    /// of it still waiting may still be verified.
    RetireCategory {
        code: String,
    },
    /// Attaches a file to the application (the parent, or staff at the desk or the office).
    /// The bytes were recognised and cleaned by `domain::attachment::accept` before they
    /// came here; the writer checks the kind against the claim and the application's limits.
    Attach {
        id: ApplicationId,
        kind: AttachmentKind,
        file: Box<Accepted>,
        limits: AttachmentLimits,
    },
    /// Staff of the district ask the parent for a document of `kind` (missing or
    /// unreadable), with a reason the parent reads; the claim's deadline pauses until a file
    /// of that kind arrives.
    RequestDocument {
        id: ApplicationId,
        kind: AttachmentKind,
        reason: String,
    },
    /// Records that clamd found malware in a file sent for `id` (none: with a
    /// registration); the file itself was refused and is not kept.
    RecordInfected {
        id: Option<ApplicationId>,
        sha256: String,
        size: u64,
        signature: String,
    },
    /// A new staff account; its token is shown once.
    CreateStaff(StaffAccount),
    /// An account's role and scope from now on.
    ChangeStaff(StaffAccount),
    /// The account's token stops working at once. The last live administrator cannot be
    /// revoked (nobody could then administer the service but from the command line).
    RevokeStaff {
        name: String,
    },
    /// A batch of rows of an earlier system's queue (`kezek import`), already checked on
    /// their own and in the old order. Each row is taken, or skipped because its old number
    /// was taken before (a file imported again, or resumed), or refused because its child
    /// already has an application or a place here; the rows taken take the district's next
    /// numbers in the order given. With `dry_run`, the same decisions and nothing emitted.
    Import {
        file_sha256: String,
        rows: Vec<ImportRow>,
        dry_run: bool,
    },
}

#[derive(Clone, Debug)]
pub struct NewDistrict {
    pub code: String,
    pub names: Names,
    pub languages: Vec<Language>,
}

#[derive(Clone, Debug)]
pub struct NewKindergarten {
    pub district: DistrictId,
    pub number: String,
    pub names: Names,
    pub address: String,
    /// The kindergarten's head, if already known (set or changed later otherwise).
    pub head: Option<String>,
}

#[derive(Clone, Debug)]
pub struct NewGroup {
    pub kindergarten: KindergartenId,
    pub name: String,
    pub language: Language,
    pub age_band: AgeBand,
    pub capacity: u32,
}

/// Free places reported by a kindergarten. With a group, the band and language default to
/// the group's.
#[derive(Clone, Debug)]
pub struct NewPlaces {
    pub kindergarten: KindergartenId,
    pub group: Option<GroupId>,
    pub age_band: Option<AgeBand>,
    pub language: Option<Language>,
    pub count: u32,
    pub available_from: NaiveDate,
}

/// At most this many places in one report (a large kindergarten's whole intake).
pub const PLACES_PER_REPORT_MAX: u32 = 300;
/// Expiries and stop-list ends processed in one transaction; a longer backlog continues in
/// the next tick.
const DEADLINES_PER_TICK_MAX: usize = 5_000;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickReport {
    pub expired: usize,
    pub released: usize,
    pub aged_out: usize,
    pub referrals_issued: usize,
    /// Ended applications whose personal data the retention sweep erased.
    #[serde(default)]
    pub erased: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// The application, and the referral it got at once if a free place was waiting for it.
    /// The access code is shown here once; only its hash is kept.
    Registered {
        application: Box<Application>,
        referral: Option<Box<Referral>>,
        access_code: String,
        /// The position it entered at (none if it took a place at once).
        position: Option<Position>,
    },
    /// A replacement access code, shown once.
    AccessCode(String),
    /// The first answer to a request retried with the same Idempotency-Key; nothing was
    /// done again.
    Replayed(Box<Outcome>),
    DistrictCreated(DistrictId),
    KindergartenCreated(KindergartenId),
    GroupCreated(GroupId),
    PlacesReported {
        places: Vec<PlaceId>,
        referrals: Vec<Referral>,
    },
    RoundOpened(RoundId),
    /// A round closed: its referrals in the order they were issued, the places nobody
    /// fitted (open from now on) and the together-families that could not be placed whole.
    RoundClosed {
        referrals: Vec<Referral>,
        unfilled: Vec<PlaceId>,
        passed: Vec<FamilyId>,
    },
    /// The referral after the change.
    Referral(Box<Referral>),
    /// A lapse, and the referral the freed place went to, if any.
    Lapsed {
        next: Option<Box<Referral>>,
    },
    Ticked(TickReport),
    /// The amendment, and the referral the new choices got at once if a fitting place was
    /// open.
    Amended {
        amendment: Amendment,
        referral: Option<Box<Referral>>,
        /// The position right after it, so that a retry answers the same (none if it holds
        /// a referral).
        #[serde(default)]
        position: Option<Position>,
    },
    /// A transfer request, and the referral it got at once if a place was open.
    Transfer {
        referral: Option<Box<Referral>>,
    },
    /// The family's applications in registration order, its one access code (shown once),
    /// and the referrals they got at once.
    FamilyRegistered {
        family: FamilyId,
        applications: Vec<Application>,
        access_code: String,
        referrals: Vec<Referral>,
        /// Each application's position right after it, in the same order.
        #[serde(default)]
        positions: Vec<Option<Position>>,
    },
    /// A group closed, and how many of its open places were withdrawn with it.
    GroupClosed {
        withdrawn: usize,
    },
    /// A new staff account's token, shown once; only its hash is kept.
    StaffCreated {
        token: String,
    },
    /// The child left; the referral its freed place went to, if anyone fitted it.
    Left {
        next: Option<Box<Referral>>,
    },
    /// The application in the new district, its access code (shown once), and the referral
    /// it got at once if a fitting place was open there.
    Moved {
        application: Box<Application>,
        access_code: String,
        referral: Option<Box<Referral>>,
        /// The position it entered the new district's queue at.
        #[serde(default)]
        position: Option<Position>,
    },
    Imported(ImportReport),
    /// The file attached, as the journal recorded it.
    Attached(AttachmentRecord),
    Done,
}

/// What one batch of an import did (or, in a dry run, would do).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// The lines taken (in a dry run: that would be taken).
    pub taken: Vec<u64>,
    /// The applications they became, in the same order (none in a dry run).
    pub applications: Vec<ApplicationId>,
    /// The lines whose old number was already taken: imported before, skipped.
    pub already_taken: Vec<u64>,
    /// The lines whose child already has an active application or a place here.
    pub refused: Vec<RowError>,
}

pub fn run(command: Command, tx: &mut Tx<'_>) -> Result<Outcome, CommandError> {
    match command {
        Command::Register { form, channel } => register(&form, channel, tx),
        Command::Import {
            file_sha256,
            rows,
            dry_run,
        } => import(file_sha256, rows, dry_run, tx),
        Command::Withdraw { id } => withdraw(id, tx),
        Command::ErasePersonalData { id } => erase_personal_data(id, tx),
        Command::Amend { id, form } => amend(id, &form, tx),
        Command::Move { id, form } => move_application(id, &form, tx),
        Command::RegisterFamily {
            forms,
            together,
            channel,
        } => register_family(&forms, together, channel, tx),
        Command::RequestTransfer { id, form } => request_transfer(id, &form, tx),
        Command::SetFamilyChoice { id, together } => {
            let family = {
                let state = tx.state();
                let family = state.family_of.get(&id).map(|f| &state.families[f]);
                match family {
                    None if tx.store().application(id)?.is_none() => {
                        return Err(CommandError::NotFound)
                    }
                    None => return Err(CommandError::Conflict("the application is in no family")),
                    Some(family) if family.together == together => {
                        return Err(Refusal::NothingToAmend.into())
                    }
                    Some(family) => family.id,
                }
            };
            tx.emit(Event::FamilyChoiceSet { family, together })?;
            // Together, the family may now take open places at once; separately, each
            // child may take one it fits.
            let members = tx.state().families[&family].members.clone();
            for member in members {
                if tx.state().waiting.get(member).is_some() {
                    offer_open_place(tx, member)?;
                }
            }
            Ok(Outcome::Done)
        }
        Command::VerifyPriority { id } => {
            let application = queued(tx.store(), id)?;
            let claim = application
                .priority
                .ok_or(CommandError::Conflict("the application claims no priority"))?;
            if claim.status != ClaimStatus::Claimed {
                return Err(CommandError::Conflict(
                    "the priority claim was already decided",
                ));
            }
            let (tier, attachment_required) = tx
                .state()
                .catalog
                .categories
                .get(&claim.category)
                .map(|c| (c.tier, c.attachment_required))
                .ok_or_else(|| {
                    CommandError::Invalid(format!(
                        "category {} is no longer configured",
                        claim.category
                    ))
                })?;
            if attachment_required
                && !tx
                    .store()
                    .has_attachment(id, AttachmentKind::PriorityDocument)?
            {
                return Err(CommandError::Conflict(
                    "the category needs an attached document",
                ));
            }
            tx.emit(Event::PriorityVerified { id, tier })?;
            Ok(Outcome::Done)
        }
        Command::RejectPriority { id, reason } => {
            let application = queued(tx.store(), id)?;
            let claim = application
                .priority
                .ok_or(CommandError::Conflict("the application claims no priority"))?;
            if claim.status == ClaimStatus::Rejected {
                return Err(CommandError::Conflict(
                    "the priority claim was already rejected",
                ));
            }
            let reason = reason.trim().to_string();
            if reason.is_empty() {
                return Err(CommandError::Invalid("a rejection needs a reason".into()));
            }
            safe_paragraphs(&reason)?;
            tx.emit(Event::PriorityRejected { id, reason })?;
            Ok(Outcome::Done)
        }
        Command::CreateDistrict(new) => {
            let (outcome, event) = create_district(new, &tx.state().catalog)?;
            tx.emit(event)?;
            Ok(outcome)
        }
        Command::CreateKindergarten(new) => {
            let (outcome, event) = create_kindergarten(new, &tx.state().catalog)?;
            tx.emit(event)?;
            Ok(outcome)
        }
        Command::CreateGroup(new) => {
            let (outcome, event) = create_group(new, &tx.state().catalog)?;
            tx.emit(event)?;
            Ok(outcome)
        }
        Command::SetPolicy { district, policy } => set_policy(district, policy, tx),
        Command::SetEducationHead {
            district,
            full_name,
        } => set_education_head(district, &full_name, tx),
        Command::SetCalendarYear { year, text } => {
            if !(2000..=2100).contains(&year) {
                return Err(CommandError::Invalid(
                    crate::domain::calendar::YEAR_OUT_OF_RANGE.into(),
                ));
            }
            let calendar = YearCalendar::parse(year, &text)
                .map_err(|e| CommandError::Invalid(e.to_string()))?;
            let (from, days) = calendar.longest_break(year);
            if days > LONGEST_BREAK_DAYS {
                return Err(CommandError::Invalid(format!(
                    "calendar {year}: {days} days from {from} without a working day; \
                     a break may be at most {LONGEST_BREAK_DAYS} days"
                )));
            }
            tx.emit(Event::CalendarYearSet { year, text })?;
            Ok(Outcome::Done)
        }
        Command::ReportPlaces(new) => report_places(new, tx),
        Command::OpenIntakeRound {
            district,
            places_for,
            closes_at,
            any_order,
        } => open_round(district, places_for, closes_at, any_order, tx),
        Command::CloseIntakeRound { round } => close_round(round, tx),
        Command::HandIn { referral, by } => {
            let live = live_referral(tx, referral)?;
            if live.kindergarten != by {
                return Err(CommandError::Forbidden(
                    "the referral is for another kindergarten",
                ));
            }
            // A transfer handed in frees the child's old place, at once.
            let old_place = match live.transfer {
                true => tx.state().enrolled.get(&live.application).cloned(),
                false => None,
            };
            tx.emit(Event::ReferralHandedIn {
                id: referral,
                at: tx.now(),
            })?;
            if let Some(old) = old_place {
                free_place(tx, old)?;
            }
            let handed_in = tx.store().referral(referral)?.expect("just recorded");
            Ok(Outcome::Referral(Box::new(handed_in)))
        }
        Command::Decline { referral } => {
            let live = live_referral(tx, referral)?;
            let next = match higher_choices_kept(tx, &live)? {
                Some(amendment) => decline_keeping_higher(tx, &live, amendment)?,
                None => lapse(tx, referral, tx.now(), Lapse::Declined)?,
            };
            Ok(Outcome::Lapsed {
                next: next.map(Box::new),
            })
        }
        Command::Revoke {
            referral,
            reason,
            priority_unconfirmed,
        } => {
            live_referral(tx, referral)?;
            let reason = reason.trim().to_string();
            if reason.is_empty() {
                return Err(CommandError::Invalid("a revocation needs a reason".into()));
            }
            safe_paragraphs(&reason)?;
            let lapse_kind = Lapse::Revoked {
                reason,
                priority_unconfirmed,
            };
            let next = lapse(tx, referral, tx.now(), lapse_kind)?;
            Ok(Outcome::Lapsed {
                next: next.map(Box::new),
            })
        }
        Command::Extend { referral } => extend(referral, tx),
        Command::WithdrawPlace { place, by } => {
            let open = {
                let state = tx.state();
                let free = state.places.get(&place);
                if free.is_some_and(|p| p.kindergarten != by) {
                    return Err(CommandError::Forbidden(
                        "the place is another kindergarten's",
                    ));
                }
                free.is_some_and(|p| {
                    state
                        .open_places
                        .get(&p.district)
                        .is_some_and(|o| o.contains(&place))
                })
            };
            if !open {
                return match tx.store().place_exists(place)? {
                    true => Err(CommandError::Conflict("the place is not open")),
                    false => Err(CommandError::NotFound),
                };
            }
            tx.emit(Event::PlaceWithdrawn {
                place,
                at: tx.now(),
            })?;
            Ok(Outcome::Done)
        }
        Command::MarkLeft { id, by } => mark_left(id, by, tx),
        Command::ChangeKindergarten {
            id,
            names,
            address,
            head,
        } => {
            let mut kindergarten = tx
                .state()
                .catalog
                .kindergartens
                .get(&id)
                .cloned()
                .ok_or(CommandError::NotFound)?;
            check_names(&names)?;
            let address = address.trim().to_string();
            if address.is_empty() || address.chars().count() > CATALOG_TEXT_CHARS_MAX {
                return Err(CommandError::Invalid("address".into()));
            }
            safe_line(&address)?;
            let head = check_head(head)?;
            let changed = Kindergarten {
                names,
                address,
                head,
                ..kindergarten.clone()
            };
            if changed == kindergarten {
                return Err(Refusal::NothingToAmend.into());
            }
            kindergarten = changed;
            tx.emit(Event::KindergartenChanged(kindergarten))?;
            Ok(Outcome::Done)
        }
        Command::ChangeGroup {
            id,
            name,
            language,
            age_band,
            capacity,
        } => {
            let group = {
                let state = tx.state();
                let catalog = &state.catalog;
                let group = catalog
                    .groups
                    .get(&id)
                    .cloned()
                    .ok_or(CommandError::NotFound)?;
                let name = name.trim().to_string();
                if name.is_empty() || name.chars().count() > CATALOG_TEXT_CHARS_MAX {
                    return Err(CommandError::Invalid("name".into()));
                }
                safe_line(&name)?;
                let district = catalog.kindergartens[&group.kindergarten].district;
                if !catalog.districts[&district].languages.contains(&language) {
                    return Err(CommandError::Invalid(
                        "the district does not run that language".into(),
                    ));
                }
                if capacity > GROUP_CAPACITY_MAX {
                    return Err(CommandError::Invalid("capacity".into()));
                }
                Group {
                    name,
                    language,
                    age_band,
                    capacity,
                    ..group
                }
            };
            if tx.state().catalog.groups.get(&id) == Some(&group) {
                return Err(Refusal::NothingToAmend.into());
            }
            tx.emit(Event::GroupChanged(group))?;
            Ok(Outcome::Done)
        }
        Command::CloseGroup { id } => close_group(id, tx),
        Command::CreateCategory(category) => {
            if tx.state().catalog.categories.contains_key(&category.code) {
                return Err(CommandError::Conflict("the category exists already"));
            }
            let category = checked_category(category)?;
            tx.emit(Event::CategorySet(category))?;
            Ok(Outcome::Done)
        }
        Command::ChangeCategory(category) => {
            let old = tx
                .state()
                .catalog
                .categories
                .get(&category.code)
                .cloned()
                .ok_or(CommandError::NotFound)?;
            let category = checked_category(PriorityCategory {
                retired: old.retired,
                ..category
            })?;
            if category == old {
                return Err(Refusal::NothingToAmend.into());
            }
            tx.emit(Event::CategorySet(category))?;
            Ok(Outcome::Done)
        }
        Command::RetireCategory { code } => {
            let old = tx
                .state()
                .catalog
                .categories
                .get(&code)
                .cloned()
                .ok_or(CommandError::NotFound)?;
            if old.retired {
                return Err(CommandError::Conflict("the category is retired already"));
            }
            tx.emit(Event::CategorySet(PriorityCategory {
                retired: true,
                ..old
            }))?;
            Ok(Outcome::Done)
        }
        Command::CreateStaff(account) => create_staff(account, tx),
        Command::ChangeStaff(account) => {
            let accounts = tx.store().staff_accounts()?;
            let Some((old, revoked)) = accounts.iter().find(|(a, _)| a.name == account.name) else {
                return Err(CommandError::NotFound);
            };
            if *revoked {
                return Err(CommandError::Conflict("the account is revoked"));
            }
            check_scope(&account, &tx.state().catalog)?;
            if *old == account {
                return Err(Refusal::NothingToAmend.into());
            }
            if old.role == Role::Admin && account.role != Role::Admin && live_admins(&accounts) == 1
            {
                return Err(CommandError::Conflict("the last administrator"));
            }
            tx.emit(Event::StaffAccountChanged {
                name: account.name,
                role: account.role,
                scope: account.scope,
            })?;
            Ok(Outcome::Done)
        }
        Command::RevokeStaff { name } => {
            let accounts = tx.store().staff_accounts()?;
            let Some((old, revoked)) = accounts.iter().find(|(a, _)| a.name == name) else {
                return Err(CommandError::NotFound);
            };
            if *revoked {
                return Err(CommandError::Conflict("the account is revoked"));
            }
            if old.role == Role::Admin && live_admins(&accounts) == 1 {
                return Err(CommandError::Conflict("the last administrator"));
            }
            tx.emit(Event::StaffAccountRevoked { name })?;
            Ok(Outcome::Done)
        }
        Command::Attach {
            id,
            kind,
            file,
            limits,
        } => attach(id, kind, &file, limits, tx),
        Command::RequestDocument { id, kind, reason } => request_document(id, kind, &reason, tx),
        Command::RecordInfected {
            id,
            sha256,
            size,
            signature,
        } => {
            if let Some(id) = id {
                tx.store().application(id)?.ok_or(CommandError::NotFound)?;
            }
            tx.emit(Event::AttachmentInfected {
                id,
                sha256,
                size,
                signature,
            })?;
            Ok(Outcome::Done)
        }
        Command::Tick => tick(tx),
        Command::Probe => Ok(Outcome::Done),
        Command::RecordViews { kind, applications } => {
            let actor = tx.actor_name();
            let account = actor.strip_prefix("staff:").unwrap_or(&actor);
            tx.store()
                .append_views(tx.now(), account, kind, &applications)?;
            Ok(Outcome::Done)
        }
        Command::ReissueAccessCode {
            id,
            contacts,
            applicant,
        } => {
            let application = tx.store().application(id)?.ok_or(CommandError::NotFound)?;
            if let Some(form) = applicant {
                return rebind(tx, &application, &form);
            }
            let amendment = match contacts {
                None => None,
                Some(form) => {
                    // Contacts only: the choices are the parent's to amend, not the desk's.
                    let form = AmendmentForm {
                        applicant_phone: form.applicant_phone,
                        applicant_email: form.applicant_email,
                        applicant_address: form.applicant_address,
                        ..AmendmentForm::default()
                    };
                    let parsed = Amendment::parse(
                        &form,
                        &application,
                        &tx.state().catalog,
                        local_date(tx.now()),
                    );
                    match parsed {
                        Ok(amendment) => Some(amendment),
                        // The same contacts as on file: only the code is new.
                        Err(Refusal::NothingToAmend) => None,
                        Err(refusal) => return Err(refusal.into()),
                    }
                }
            };
            if let Some(amendment) = amendment {
                tx.emit(Event::ApplicationAmended { id, amendment })?;
            }
            let code = issue_access_code(tx, id)?;
            Ok(Outcome::AccessCode(code))
        }
        Command::Refuse { id, reason, text } => {
            queued(tx.store(), id)?;
            let text = text.trim().to_string();
            if text.is_empty() || text.chars().count() > REFUSAL_TEXT_CHARS_MAX {
                return Err(CommandError::Invalid(format!(
                    "a refusal needs its motivation, 1 to {REFUSAL_TEXT_CHARS_MAX} characters"
                )));
            }
            safe_paragraphs(&text)?;
            let in_family = tx.state().family_of.contains_key(&id);
            tx.emit(Event::ApplicationRefused { id, reason, text })?;
            if in_family {
                family_shrank(tx, id.district)?;
            }
            Ok(Outcome::Done)
        }
        Command::AnswerSurvey {
            id,
            process,
            information,
        } => {
            // The request is completed when its result document is issued, which a
            // registration does at once (seed 004): the survey is open from then on, while
            // the application goes on waiting in the queue.
            tx.store().application(id)?.ok_or(CommandError::NotFound)?;
            if tx.store().survey_answered(id)? {
                return Err(CommandError::Conflict("the survey was already answered"));
            }
            tx.emit(Event::SurveyAnswered {
                id,
                process,
                information,
            })?;
            Ok(Outcome::Done)
        }
    }
}

/// The longest motivation of a refusal, in characters.
pub const REFUSAL_TEXT_CHARS_MAX: usize = 2000;

/// Replaces the applicant of `application` (and of its family's other active children) by
/// the one `form` describes, with one new code for them all.
fn rebind(
    tx: &mut Tx<'_>,
    application: &Application,
    form: &ApplicantForm,
) -> Result<Outcome, CommandError> {
    if !application.status.is_active() {
        return Err(CommandError::Conflict(
            "the application is no longer in the queue",
        ));
    }
    let applicant = form.parse(&application.child)?;
    let mut ids = vec![application.id];
    let family = tx.state().family_of.get(&application.id).copied();
    if let Some(family) = family {
        let members = tx.state().families[&family].members.clone();
        for member in members.into_iter().filter(|m| *m != application.id) {
            let sibling = tx.store().application(member)?;
            let Some(sibling) = sibling.filter(|s| s.status.is_active()) else {
                continue;
            };
            // The same person cannot be a sibling (the registration refused that too).
            if sibling.child.iin == applicant.iin {
                return Err(Refusal::ApplicantIsChild.into());
            }
            ids.push(member);
        }
    }
    for id in &ids {
        tx.emit(Event::ApplicantRebound {
            id: *id,
            applicant: applicant.clone(),
        })?;
    }
    let code = issue_shared_access_code(tx, &ids)?;
    Ok(Outcome::AccessCode(code))
}

/// A fresh random code for the parent; the journal gets only its salted hash.
fn issue_access_code(tx: &mut Tx<'_>, id: ApplicationId) -> Result<String, CommandError> {
    issue_shared_access_code(tx, &[id])
}

/// The parent takes the application back. Holding a referral, the child gives the place up
/// too: the referral lapses as declined, and the place goes to the next child at once
/// (answered as `Lapsed`, naming that referral).
fn withdraw(id: ApplicationId, tx: &mut Tx<'_>) -> Result<Outcome, CommandError> {
    let application = tx.store().application(id)?.ok_or(CommandError::NotFound)?;
    let live = match application.status {
        ApplicationStatus::Queued => None,
        ApplicationStatus::Referred => {
            let referral = tx.state().referral_of.get(&id).copied();
            Some(referral.expect("a referred application holds a live referral"))
        }
        _ => {
            return Err(CommandError::Conflict(
                "the application is no longer in the queue",
            ))
        }
    };
    let freed = match live {
        Some(referral) => Some(emit_lapse(tx, referral, tx.now(), Lapse::Declined)?),
        None => None,
    };
    let in_family = tx.state().family_of.contains_key(&id);
    tx.emit(Event::ApplicationWithdrawn { id })?;
    if in_family {
        family_shrank(tx, id.district)?;
    }
    match freed {
        Some(place) => Ok(Outcome::Lapsed {
            next: allocate(tx, place)?.map(Box::new),
        }),
        None => Ok(Outcome::Done),
    }
}

/// Amends an active application. Its key stays, so it keeps its place in the cohort; while a
/// referral is outstanding only the contacts may change (the referral was issued for the
/// old choices). New choices may fit a place that is open: it is offered at once, as to a
/// new registration, so that no open place fits a waiting application.
fn amend(
    id: ApplicationId,
    form: &AmendmentForm,
    tx: &mut Tx<'_>,
) -> Result<Outcome, CommandError> {
    let application = tx.store().application(id)?.ok_or(CommandError::NotFound)?;
    if !application.status.is_active() {
        return Err(CommandError::Conflict(
            "the application is no longer in the queue",
        ));
    }
    let amendment = Amendment::parse(
        form,
        &application,
        &tx.state().catalog,
        local_date(tx.now()),
    )?;
    if application.status == ApplicationStatus::Referred && amendment.affects_places() {
        return Err(Refusal::ReferralOutstanding.into());
    }
    tx.emit(Event::ApplicationAmended {
        id,
        amendment: amendment.clone(),
    })?;
    let referral = match application.status {
        ApplicationStatus::Queued => offer_open_place(tx, id)?,
        _ => None,
    };
    Ok(Outcome::Amended {
        amendment,
        referral: referral.map(Box::new),
        position: tx.state().position(id),
    })
}

/// A child may enter the queue only if it has no active application (`already_queued`) and
/// no kindergarten place through an earlier one (`already_enrolled`: it asks for a transfer
/// instead). The unique index makes the first impossible whatever the service does.
fn check_child_is_free(store: &Store, child_iin: &str) -> Result<(), CommandError> {
    let standing = store.child_standing(child_iin)?;
    if standing.active {
        return Err(Refusal::AlreadyQueued.into());
    }
    if standing.enrolled {
        return Err(Refusal::AlreadyEnrolled.into());
    }
    Ok(())
}

/// An enrolled child's family asks for a transfer to 1 to 5 other kindergartens of the
/// district. The request waits in the district's transfer queue by its time; a place open
/// at one of them that nobody else takes goes to it at once.
fn request_transfer(
    id: ApplicationId,
    form: &TransferForm,
    tx: &mut Tx<'_>,
) -> Result<Outcome, CommandError> {
    let application = tx.store().application(id)?.ok_or(CommandError::NotFound)?;
    let request = {
        let state = tx.state();
        let Some(place) = state
            .enrolled
            .get(&id)
            .filter(|_| application.status == ApplicationStatus::Enrolled)
        else {
            return Err(Refusal::NotEnrolled.into());
        };
        if state.transfer_of.contains_key(&id) || state.referral_of.contains_key(&id) {
            return Err(Refusal::TransferPending.into());
        }
        TransferRequest::parse(
            form,
            &application,
            place.kindergarten,
            &state.catalog,
            tx.now(),
        )?
    };
    let choices = request.choices.clone();
    tx.emit(Event::TransferRequested(request))?;
    let open: Vec<PlaceId> = {
        let state = tx.state();
        state
            .open_places
            .get(&id.district)
            .into_iter()
            .flatten()
            .filter(|p| choices.contains(&state.places[p].kindergarten))
            .copied()
            .collect()
    };
    for place in open {
        if allocate(tx, place)?.is_some_and(|r| r.application == id) {
            break;
        }
    }
    let state = tx.state();
    let referral = state
        .referral_of
        .get(&id)
        .map(|r| state.live[r].referral.clone());
    Ok(Outcome::Transfer {
        referral: referral.map(Box::new),
    })
}

/// The longest name, address or head of a catalog entry, in characters.
pub const CATALOG_TEXT_CHARS_MAX: usize = 200;
/// The most children a group may be built for.
pub const GROUP_CAPACITY_MAX: u32 = 100;

fn live_admins(accounts: &[(StaffAccount, bool)]) -> usize {
    accounts
        .iter()
        .filter(|(a, revoked)| a.role == Role::Admin && !revoked)
        .count()
}

/// An account's scope fits its role and names a district or kindergarten that exists.
fn check_scope(account: &StaffAccount, catalog: &Catalog) -> Result<(), CommandError> {
    let fits = match (account.role, account.scope) {
        (Role::Admin, Scope::Everywhere) => true,
        (Role::Officer | Role::Operator, Scope::District(d)) => catalog.districts.contains_key(&d),
        (Role::Kindergarten, Scope::Kindergarten(k)) => catalog.kindergartens.contains_key(&k),
        _ => false,
    };
    match fits {
        true => Ok(()),
        false => Err(CommandError::Invalid("scope".into())),
    }
}

fn create_staff(account: StaffAccount, tx: &mut Tx<'_>) -> Result<Outcome, CommandError> {
    if !crate::domain::staff::valid_name(&account.name) {
        return Err(CommandError::Invalid("name".into()));
    }
    check_scope(&account, &tx.state().catalog)?;
    let accounts = tx.store().staff_accounts()?;
    if accounts.iter().any(|(a, _)| a.name == account.name) {
        return Err(CommandError::Conflict("the account name is taken"));
    }
    let token = crate::domain::staff::generate_token(&mut rand::rng());
    tx.emit(Event::StaffAccountCreated {
        name: account.name,
        role: account.role,
        scope: account.scope,
        token_hash: hex::encode(crate::domain::staff::token_hash(&token)),
    })?;
    Ok(Outcome::StaffCreated { token })
}

/// A category's code, names and document are plain lines; its tier is a priority tier.
fn checked_category(category: PriorityCategory) -> Result<PriorityCategory, CommandError> {
    let code_ok = (1..=64).contains(&category.code.len())
        && category
            .code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !code_ok {
        return Err(CommandError::Invalid("code".into()));
    }
    if category.tier == Tier::General {
        return Err(CommandError::Invalid("tier".into()));
    }
    check_names(&category.names)?;
    for text in [&category.document.kk, &category.document.ru] {
        if text.trim().is_empty() || text.chars().count() > CATALOG_TEXT_CHARS_MAX {
            return Err(CommandError::Invalid("document".into()));
        }
        safe_line(text)?;
    }
    Ok(category)
}

/// Closes a group: its open places are withdrawn first (nobody took them; nobody will), then
/// the group is closed. Its live referrals stay valid and may be handed in.
fn close_group(id: GroupId, tx: &mut Tx<'_>) -> Result<Outcome, CommandError> {
    let (group, open) = {
        let state = tx.state();
        let group = state
            .catalog
            .groups
            .get(&id)
            .cloned()
            .ok_or(CommandError::NotFound)?;
        if group.closed {
            return Err(CommandError::Conflict("the group is closed"));
        }
        let open: Vec<PlaceId> = state
            .open_places
            .values()
            .flatten()
            .filter(|p| state.places[*p].group == Some(id))
            .copied()
            .collect();
        (group, open)
    };
    for place in &open {
        tx.emit(Event::PlaceWithdrawn {
            place: *place,
            at: tx.now(),
        })?;
    }
    tx.emit(Event::GroupChanged(Group {
        closed: true,
        ..group
    }))?;
    Ok(Outcome::GroupClosed {
        withdrawn: open.len(),
    })
}

/// An enrolled child leaves; the place it held is reported free from today, with the
/// group's band and language as they are now (the group may have been edited since), and
/// goes to the next child at once.
fn mark_left(
    id: ApplicationId,
    by: KindergartenId,
    tx: &mut Tx<'_>,
) -> Result<Outcome, CommandError> {
    let old = {
        let state = tx.state();
        let place = state
            .enrolled
            .get(&id)
            .filter(|p| p.kindergarten == by)
            .cloned()
            .ok_or(CommandError::Conflict(
                "the child is not enrolled in this kindergarten",
            ))?;
        if state.transfer_of.contains_key(&id) || state.referral_of.contains_key(&id) {
            return Err(CommandError::Conflict(
                "the child's transfer is outstanding",
            ));
        }
        match place.group.and_then(|g| state.catalog.groups.get(&g)) {
            Some(group) => FreePlace {
                age_band: group.age_band,
                language: group.language,
                ..place
            },
            None => place,
        }
    };
    let closed = old
        .group
        .is_some_and(|g| tx.state().catalog.groups.get(&g).is_some_and(|g| g.closed));
    tx.emit(Event::ChildLeft { id, at: tx.now() })?;
    // A closed group takes no new places: the one the child left is not offered again.
    let next = match closed {
        true => None,
        false => free_place(tx, old)?,
    };
    Ok(Outcome::Left {
        next: next.map(Box::new),
    })
}

/// A place a child left (its transfer was handed in, or it was marked as left) is free
/// again from today, as the kindergarten reported it, and goes to whoever's turn it is.
fn free_place(tx: &mut Tx<'_>, old: FreePlace) -> Result<Option<Referral>, CommandError> {
    let today = local_date(tx.now());
    let place = FreePlace {
        id: tx.state().next_place_id(),
        available_from: today.max(old.available_from),
        reported_at: tx.now(),
        ..old
    };
    let id = place.id;
    tx.emit(Event::PlacesReported {
        places: vec![place],
    })?;
    allocate(tx, id)
}

/// Registers the children of one applicant together: each child's form passes the checks of
/// a single registration, the children are distinct and free, and they take one time and
/// consecutive numbers, then form a family with one access code (the same code, hashed with
/// each application's own number, so each application still stands alone and a
/// replacement code can be issued for one child). A family together takes open places only
/// together; separately, each child as anyone.
fn register_family(
    forms: &[RegistrationForm],
    together: bool,
    channel: Channel,
    tx: &mut Tx<'_>,
) -> Result<Outcome, CommandError> {
    if !(2..=FAMILY_SIZE_MAX).contains(&forms.len()) {
        return Err(Refusal::FamilySizeInvalid.into());
    }
    let today = local_date(tx.now());
    let mut children: Vec<NewApplication> = Vec::with_capacity(forms.len());
    for form in forms {
        let new = NewApplication::parse(form, &tx.state().catalog, today)?;
        if children.iter().any(|c| c.child.iin == new.child.iin) {
            return Err(Refusal::FamilyChildRepeated.into());
        }
        let shared = children.first().is_none_or(|first| {
            first.district == new.district && first.applicant.iin == new.applicant.iin
        });
        if !shared {
            return Err(CommandError::Invalid(
                "a family shares its applicant and district".into(),
            ));
        }
        check_child_is_free(tx.store(), &new.child.iin.as_string())?;
        children.push(new);
    }
    let (first, registered_at) = next_registration(tx, children[0].district);
    let entered_by = entered_by(tx, channel);
    let mut applications = Vec::with_capacity(children.len());
    for (i, new) in children.into_iter().enumerate() {
        let number = RegistrationNumber(first.0 + i as u32);
        let application = new_application(new, number, registered_at, channel, entered_by.clone());
        tx.emit(Event::ApplicationRegistered(application.clone()))?;
        applications.push(application);
    }
    let members: Vec<ApplicationId> = applications.iter().map(|a| a.id).collect();
    let family = tx.state().next_family_id();
    tx.emit(Event::FamilyRegistered(Family {
        id: family,
        members: members.clone(),
        together,
    }))?;
    let access_code = issue_shared_access_code(tx, &members)?;
    for member in &members {
        // A sibling placed with an earlier child's family plan no longer waits.
        if tx.state().waiting.get(*member).is_some() {
            offer_open_place(tx, *member)?;
        }
    }
    let referrals: Vec<Referral> = {
        let state = tx.state();
        members
            .iter()
            .filter_map(|member| state.referral_of.get(member))
            .map(|referral| state.live[referral].referral.clone())
            .collect()
    };
    for application in &mut applications {
        if referrals.iter().any(|r| r.application == application.id) {
            application.status = ApplicationStatus::Referred;
        }
    }
    let positions = {
        let state = tx.state();
        applications.iter().map(|a| state.position(a.id)).collect()
    };
    Ok(Outcome::FamilyRegistered {
        family,
        applications,
        access_code,
        referrals,
        positions,
    })
}

/// The number and time the next registration in `district` gets now.
fn next_registration(tx: &Tx<'_>, district: DistrictId) -> (RegistrationNumber, DateTime<Utc>) {
    let (number, micros) = tx
        .state()
        .next_registration(district, tx.now().timestamp_micros());
    let at = DateTime::from_timestamp_micros(micros)
        .expect("a time read back from the clock is in range");
    (number, at)
}

/// The staff account that enters an application at the desk; none on the portal.
fn entered_by(tx: &Tx<'_>, channel: Channel) -> Option<String> {
    match channel {
        Channel::Portal => None,
        Channel::ServiceCentre | Channel::Office => Some(tx.actor_name()),
        Channel::Import => None,
    }
}

/// A checked registration as the journal records it: queued, in the general tier (a claim
/// counts only once verified).
fn new_application(
    new: NewApplication,
    number: RegistrationNumber,
    registered_at: DateTime<Utc>,
    channel: Channel,
    entered_by: Option<String>,
) -> Application {
    Application {
        id: ApplicationId {
            district: new.district,
            number,
        },
        registered_at,
        child: new.child,
        applicant: new.applicant,
        desired_start: new.desired_start,
        choices: new.choices,
        language: new.language,
        priority: new.priority,
        tier: Tier::General,
        status: ApplicationStatus::Queued,
        channel,
        entered_by,
        held_until: None,
        moved_from: None,
        legacy_number: None,
    }
}

/// One fresh code for several applications (a family's): each gets it hashed with its own
/// identity.
fn issue_shared_access_code(
    tx: &mut Tx<'_>,
    ids: &[ApplicationId],
) -> Result<String, CommandError> {
    let code = access::generate(&mut rand::rng());
    for id in ids {
        let code_hash = access::hash(*id, &code).expect("a generated code is well-formed");
        tx.emit(Event::AccessCodeIssued { id: *id, code_hash })?;
    }
    Ok(code)
}

/// Moves a waiting application to another district. The new district's policy decides
/// whether it keeps its registration time (it then takes its place among that district's
/// children by that time) and its verified priority (otherwise the claim waits for that
/// district's officer, in the general tier meanwhile). It gets that district's next number
/// and a new access code; a referral outstanding must end first.
fn move_application(
    id: ApplicationId,
    form: &MoveForm,
    tx: &mut Tx<'_>,
) -> Result<Outcome, CommandError> {
    let application = tx.store().application(id)?.ok_or(CommandError::NotFound)?;
    // A family moves whole: its children still waiting go along, in their order.
    let siblings: Vec<ApplicationId> = {
        let state = tx.state();
        match state.family_of.get(&id) {
            Some(family) => state.families[family].members.clone(),
            None => vec![id],
        }
    };
    let mut moving = Vec::with_capacity(siblings.len());
    for member in siblings {
        let member = match member == id {
            true => application.clone(),
            false => tx
                .store()
                .application(member)?
                .ok_or(CommandError::NotFound)?,
        };
        match member.status {
            ApplicationStatus::Queued => moving.push(member),
            ApplicationStatus::Referred => return Err(Refusal::ReferralOutstanding.into()),
            _ if member.id == id => {
                return Err(CommandError::Conflict(
                    "the application is no longer in the queue",
                ))
            }
            _ => {}
        }
    }
    let target = Move::parse(form, &application, &tx.state().catalog)?;
    let mut moved = Vec::with_capacity(moving.len());
    for member in moving {
        let to = moved_application(tx, member, &target, id, form.language.is_some());
        tx.emit(Event::ApplicationMoved {
            from: to.moved_from.expect("a moved application"),
            to: to.clone(),
        })?;
        moved.push(to);
    }
    let ids: Vec<ApplicationId> = moved.iter().map(|a| a.id).collect();
    let access_code = issue_shared_access_code(tx, &ids)?;
    for member in &ids {
        if tx.state().waiting.get(*member).is_some() {
            offer_open_place(tx, *member)?;
        }
    }
    let to = moved
        .into_iter()
        .find(|a| a.moved_from == Some(id))
        .expect("the application itself moved");
    let referral = {
        let state = tx.state();
        state
            .referral_of
            .get(&to.id)
            .map(|r| Box::new(state.live[r].referral.clone()))
    };
    let position = tx.state().position(to.id);
    Ok(Outcome::Moved {
        application: Box::new(to),
        access_code,
        referral,
        position,
    })
}

/// `application` as it continues in the district moved to: that district's next number,
/// and the time and priority its policy lets it keep.
fn moved_application(
    tx: &Tx<'_>,
    application: Application,
    target: &Move,
    named: ApplicationId,
    language_given: bool,
) -> Application {
    let state = tx.state();
    let policy = state.policy(target.district);
    let (number, fresh_micros) =
        state.next_registration(target.district, tx.now().timestamp_micros());
    let registered_at = if policy.move_keeps_registration_time {
        application.registered_at
    } else {
        DateTime::from_timestamp_micros(fresh_micros).expect("a time from the clock")
    };
    let from = application.id;
    // The application named keeps the language the move gives it; a sibling moving along
    // keeps its own where the new district runs it, unless the move names one for all.
    let language = match (application.id == named, language_given) {
        (false, false) => application.language.filter(|l| {
            state.catalog.districts[&target.district]
                .languages
                .contains(l)
        }),
        _ => target.language,
    };
    let mut moved = Application {
        id: ApplicationId {
            district: target.district,
            number,
        },
        registered_at,
        choices: target.choices.clone(),
        language,
        status: ApplicationStatus::Queued,
        moved_from: Some(from),
        ..application
    };
    if !policy.move_keeps_priority {
        moved.tier = Tier::General;
        if let Some(claim) = moved.priority.as_mut() {
            claim.status = ClaimStatus::Claimed;
        }
    }
    moved
}

fn queued(store: &Store, id: ApplicationId) -> Result<Application, CommandError> {
    let application = store.application(id)?.ok_or(CommandError::NotFound)?;
    if application.status != ApplicationStatus::Queued {
        return Err(CommandError::Conflict(
            "the application is no longer in the queue",
        ));
    }
    Ok(application)
}

fn register(
    form: &RegistrationForm,
    channel: Channel,
    tx: &mut Tx<'_>,
) -> Result<Outcome, CommandError> {
    let new = NewApplication::parse(form, &tx.state().catalog, local_date(tx.now()))?;
    check_child_is_free(tx.store(), &new.child.iin.as_string())?;
    let (number, registered_at) = next_registration(tx, new.district);
    let entered_by = entered_by(tx, channel);
    let mut application = new_application(new, number, registered_at, channel, entered_by);
    tx.emit(Event::ApplicationRegistered(application.clone()))?;
    let access_code = issue_access_code(tx, application.id)?;
    let referral = offer_open_place(tx, application.id)?;
    if referral.is_some() {
        application.status = ApplicationStatus::Referred;
    }
    let position = tx.state().position(application.id);
    Ok(Outcome::Registered {
        application: Box::new(application),
        referral: referral.map(Box::new),
        access_code,
        position,
    })
}

/// Takes a batch of an import: decides every row first (its old number taken before: skip;
/// its child queued or enrolled here: refused), then emits the rows taken, then gives each
/// open place of the districts touched to whoever's turn it now is (an imported child
/// registered long ago may be first for a place nobody fitted).
fn import(
    file_sha256: String,
    rows: Vec<ImportRow>,
    dry_run: bool,
    tx: &mut Tx<'_>,
) -> Result<Outcome, CommandError> {
    let mut report = ImportReport::default();
    tx.store().widen_cache()?;
    let mut taking = Vec::with_capacity(rows.len());
    for row in rows {
        let district = row.application.district;
        if tx
            .store()
            .legacy_number_taken(district, &row.legacy_number)?
        {
            report.already_taken.push(row.line);
            continue;
        }
        match check_child_is_free(tx.store(), &row.application.child.iin.as_string()) {
            Ok(()) => taking.push(row),
            Err(CommandError::Refused(refusal)) => {
                let refusal = RowRefusal::Registration(refusal);
                report
                    .refused
                    .push(RowError::new(row.line, "child_iin", &refusal));
            }
            Err(other) => return Err(other),
        }
    }
    report.taken = taking.iter().map(|row| row.line).collect();
    if dry_run {
        return Ok(Outcome::Imported(report));
    }
    // Each district's numbers follow on from its last, in the batch's (the old) order; the
    // state checks each against its counter as the event applies. Its keys are the districts
    // the batch touched.
    let mut next_numbers = BTreeMap::new();
    let events: Vec<Event> = taking
        .into_iter()
        .map(|row| {
            let district = row.application.district;
            let number = next_numbers
                .entry(district)
                .or_insert_with(|| next_registration(tx, district).0 .0);
            let id = ApplicationId {
                district,
                number: RegistrationNumber(*number),
            };
            *number += 1;
            report.applications.push(id);
            let line = row.line;
            Event::ApplicationImported {
                application: row.into_application(id),
                file_sha256: file_sha256.clone(),
                line,
            }
        })
        .collect();
    emit_split_beside(tx, events)?;
    for district in next_numbers.into_keys() {
        let open: Vec<PlaceId> = tx
            .state()
            .open_places
            .get(&district)
            .map(|places| places.iter().copied().collect())
            .unwrap_or_default();
        for place in open {
            allocate(tx, place)?;
        }
    }
    Ok(Outcome::Imported(report))
}

/// Emits `events` in order, each split into its public form and personal part on a thread
/// beside the writer's (the serialising and splitting of an import's rows took a third of
/// the writer's time, docs/PERFORMANCE.md), some chunks ahead of it. Chunks, not events,
/// cross between the threads: a hand-over per event cost a tenth as much as the split.
fn emit_split_beside(tx: &mut Tx<'_>, events: Vec<Event>) -> Result<(), CommandError> {
    const CHUNK: usize = 128;
    const CHUNKS_AHEAD: usize = 4;
    std::thread::scope(|scope| {
        let (split_in, split_out) = std::sync::mpsc::sync_channel::<Vec<_>>(CHUNKS_AHEAD);
        scope.spawn(move || {
            let mut events = events.into_iter().peekable();
            while events.peek().is_some() {
                let chunk = events
                    .by_ref()
                    .take(CHUNK)
                    .map(|event| {
                        let split = SplitEvent::salted(&event);
                        (event, split)
                    })
                    .collect();
                // The writer stops receiving only when an event failed to store.
                if split_in.send(chunk).is_err() {
                    return;
                }
            }
        });
        for chunk in split_out {
            for (event, split) in chunk {
                tx.emit_split(event, split)?;
            }
        }
        Ok(())
    })
}

/// Gives `place` to whoever's turn it is, if anyone fits it; a family that takes places
/// only together gets all its places at once, or is passed over (journaled). Answers the
/// referral for `place`.
fn allocate(tx: &mut Tx<'_>, place: PlaceId) -> Result<Option<Referral>, CommandError> {
    let allocation = {
        let state = tx.state();
        let free = &state.places[&place];
        // A family's plan may already have taken it earlier in this command.
        let open = state
            .open_places
            .get(&free.district)
            .is_some_and(|open| open.contains(&place));
        if !open {
            return Ok(None);
        }
        state.allocation_for(free, local_date(tx.now()))
    };
    let plan = match allocation.taker {
        None => Vec::new(),
        Some(Taker::One(application)) | Some(Taker::Transfer(application)) => {
            vec![(application, place)]
        }
        Some(Taker::Family { plan, .. }) => plan,
    };
    // A family passed over is passed for every place this allocation gives (a family
    // together behind it may take several), each pass on the record before its referral.
    let mut given: Vec<PlaceId> = plan.iter().map(|(_, to)| *to).collect();
    if given.is_empty() {
        given.push(place);
    }
    for family in allocation.passed {
        for to in &given {
            tx.emit(Event::FamilyPassedOver { family, place: *to })?;
        }
    }
    if plan.is_empty() {
        return Ok(None);
    }
    let mut for_place = None;
    for (application, to) in plan {
        let (referral, cycle) = {
            let state = tx.state();
            let district = state.places[&to].district;
            let number = state.next_referral_number(district);
            state.referral_to(to, application, tx.now(), number, state.cycle(district))
        };
        tx.emit(Event::ReferralIssued {
            referral: referral.clone(),
            cycle,
        })?;
        if to == place {
            for_place = Some(referral);
        }
    }
    Ok(for_place)
}

/// A newly waiting application takes an open place that fits it, if there is one. A child
/// of a family that takes places only together takes one only with its siblings: each open
/// place it fits is allocated whole, and the family gets them together or passes.
fn offer_open_place(tx: &mut Tx<'_>, id: ApplicationId) -> Result<Option<Referral>, CommandError> {
    if tx.state().together_family(id).is_some() {
        let fitting: Vec<PlaceId> = {
            let state = tx.state();
            let today = local_date(tx.now());
            let waiting = state.waiting.get(id).copied();
            state
                .open_places
                .get(&id.district)
                .into_iter()
                .flatten()
                .filter(|p| waiting.is_some_and(|w| w.fits(&state.fit_of(&state.places[p], today))))
                .copied()
                .collect()
        };
        for place in fitting {
            allocate(tx, place)?;
            let state = tx.state();
            if let Some(referral) = state.referral_of.get(&id) {
                return Ok(Some(state.live[referral].referral.clone()));
            }
        }
        return Ok(None);
    }
    let open = tx.state().open_place_for(id, local_date(tx.now()));
    match open {
        Some(place) => {
            let referral = allocate(tx, place)?;
            debug_assert_eq!(
                referral.as_ref().map(|r| r.application),
                Some(id),
                "an open place fits nobody else"
            );
            Ok(referral)
        }
        None => Ok(None),
    }
}

fn live_referral(tx: &Tx<'_>, id: ReferralId) -> Result<Referral, CommandError> {
    let state = tx.state();
    match state.live.get(&id) {
        Some(live) => Ok(live.referral.clone()),
        None => {
            drop(state);
            match tx.store().referral(id)? {
                Some(_) => Err(CommandError::Conflict("the referral is no longer live")),
                None => Err(CommandError::NotFound),
            }
        }
    }
}

/// Ends a live referral without enrolment and gives the place to the next child at once.
fn lapse(
    tx: &mut Tx<'_>,
    id: ReferralId,
    at: DateTime<Utc>,
    lapse: Lapse,
) -> Result<Option<Referral>, CommandError> {
    let place = emit_lapse(tx, id, at, lapse)?;
    allocate(tx, place)
}

/// The choices a child keeps when it declines `referral` (issue 18, §3): a referral of an
/// intake round, in a district whose policy does not stop-list such declines, to a
/// kindergarten the child listed below others: those others, in its order. `None`: the
/// decline is an ordinary one (a place-by-place or transfer referral, the child's first
/// choice or "any kindergarten", the district stop-lists round declines too, or the higher
/// choices would not pass an amendment's checks today, e.g. a kindergarten since closed).
fn higher_choices_kept(
    tx: &mut Tx<'_>,
    referral: &Referral,
) -> Result<Option<Amendment>, CommandError> {
    if referral.round.is_none()
        || referral.transfer
        || tx
            .state()
            .policy(referral.id.district)
            .round_decline_stop_list
    {
        return Ok(None);
    }
    let application = tx
        .store()
        .application(referral.application)?
        .ok_or(CommandError::NotFound)?;
    let crate::domain::application::Choices::Listed(listed) = &application.choices else {
        return Ok(None);
    };
    let higher: Vec<u32> = listed
        .iter()
        .take_while(|k| **k != referral.kindergarten)
        .map(|k| k.0)
        .collect();
    if higher.is_empty() || higher.len() == listed.len() {
        return Ok(None);
    }
    let form = AmendmentForm {
        kindergartens: Some(higher),
        ..AmendmentForm::default()
    };
    let today = local_date(tx.now());
    Ok(Amendment::parse(&form, &application, &tx.state().catalog, today).ok())
}

/// The round's decline that keeps the higher choices: the referral lapses with a stop list
/// that ends at once (the declined place still passes the child, which is held while it is
/// given on), and the application's choices become the amendment's, the declined kindergarten and
/// those below it withdrawn, so the child waits at its position for the choices it ranked
/// higher and is not offered the declined one again. Both on the record, in this command.
fn decline_keeping_higher(
    tx: &mut Tx<'_>,
    referral: &Referral,
    amendment: Amendment,
) -> Result<Option<Referral>, CommandError> {
    let at = tx.now();
    let application = referral.application;
    tx.emit(Event::ReferralLapsed {
        id: referral.id,
        application: Some(application),
        at,
        lapse: Lapse::Declined,
        held_until: at,
    })?;
    tx.emit(Event::ApplicationAmended {
        id: application,
        amendment,
    })?;
    allocate(tx, referral.place)
}

/// Records the lapse (the child to the stop list, the place open again); returns the place.
fn emit_lapse(
    tx: &mut Tx<'_>,
    id: ReferralId,
    at: DateTime<Utc>,
    lapse: Lapse,
) -> Result<PlaceId, CommandError> {
    let (place, application, held_until) = {
        let state = tx.state();
        let live = &state.live[&id];
        let stop_list_days = state.policy(id.district).stop_list_days;
        (
            live.referral.place,
            live.referral.application,
            at + chrono::Duration::days(i64::from(stop_list_days)),
        )
    };
    tx.emit(Event::ReferralLapsed {
        id,
        application: Some(application),
        at,
        lapse,
        held_until,
    })?;
    Ok(place)
}

fn extend(id: ReferralId, tx: &mut Tx<'_>) -> Result<Outcome, CommandError> {
    let referral = live_referral(tx, id)?;
    if referral.extended {
        return Err(CommandError::Conflict(
            "the referral was already extended once",
        ));
    }
    if tx.now() >= referral.valid_until {
        return Err(CommandError::Conflict("the referral is no longer live"));
    }
    let days = match tx.state().policy(id.district).extension {
        Extension::NotAllowed => {
            return Err(CommandError::Conflict(
                "the district does not extend referrals",
            ))
        }
        Extension::Once {
            calendar_days_after_issue,
        } => calendar_days_after_issue,
    };
    let valid_until = end_of_local_day_after(referral.issued_at, days);
    if valid_until <= referral.valid_until {
        return Err(CommandError::Conflict(
            "an extension would not lengthen the referral",
        ));
    }
    tx.emit(Event::ReferralExtended { id, valid_until })?;
    Ok(Outcome::Referral(Box::new(Referral {
        valid_until,
        extended: true,
        ..referral
    })))
}

/// Processes what fell due, instant by instant. Everything due at one instant happens
/// together: stop lists end and referrals lapse first, then every open place of the
/// districts concerned goes to whoever's turn it is, so that a child back from the stop list
/// at the instant a place frees is weighed with everyone else, in queue order.
fn tick(tx: &mut Tx<'_>) -> Result<Outcome, CommandError> {
    let mut report = TickReport::default();
    let window = chrono::Duration::hours(crate::store::IDEMPOTENCY_WINDOW_HOURS);
    tx.store().forget_idempotency_before(tx.now() - window)?;
    // Aging out comes first: a place freed at the midnight a child reaches school age (the
    // end of 31 August, when referrals issued the week before expire) must not go to that
    // child, who can no longer take it. `kezek simulate`'s audit counts such referrals.
    let today = local_date(tx.now());
    let sweep_due = tx.take_aging_sweep(today);
    if sweep_due {
        report.aged_out += sweep_aging(tx, today)?;
        report.erased += sweep_erasure(tx)?;
    }
    let mut processed = 0;
    while processed < DEADLINES_PER_TICK_MAX {
        let now = tx.now();
        let due: Vec<(DateTime<Utc>, Deadline)> = {
            let state = tx.state();
            let Some((instant, _)) = state.deadlines.first().filter(|(at, _)| *at <= now) else {
                break;
            };
            let instant = *instant;
            state
                .deadlines
                .iter()
                .take_while(|(at, _)| *at == instant)
                .copied()
                .collect()
        };
        let mut districts = BTreeSet::new();
        for (at, deadline) in &due {
            if let Deadline::StopListEnds(id) = *deadline {
                report.released += 1;
                districts.insert(id.district);
                tx.emit(Event::StopListEnded { id, at: *at })?;
            }
        }
        for (at, deadline) in &due {
            if let Deadline::ReferralExpires(id) = *deadline {
                report.expired += 1;
                districts.insert(id.district);
                emit_lapse(tx, id, *at, Lapse::Expired)?;
            }
        }
        // Rounds close after the lapses of their instant and before the places those free
        // are offered: the round's places go in its own turn order.
        for (_, deadline) in &due {
            if let Deadline::RoundCloses(round) = *deadline {
                if let Outcome::RoundClosed { referrals, .. } = close_round(round, tx)? {
                    report.referrals_issued += referrals.len();
                }
            }
        }
        for district in districts {
            report.referrals_issued += allocate_open_places(tx, district)?;
        }
        processed += due.len();
    }
    // And again for the children whose referrals lapsed just now: they are back in the
    // queue, on the stop list.
    if sweep_due && processed > 0 {
        report.aged_out += sweep_aging(tx, today)?;
    }
    Ok(Outcome::Ticked(report))
}

/// At most this many applications erased in one event (one walk of the applicants' set) and
/// one tick; a longer backlog (a first run over years of ended applications) goes on the
/// next day.
const ERASURES_PER_TICK_MAX: usize = 2_000;

pub const ERASURE_ACTIVE: &str = "the application is still active";
pub const ALREADY_ERASED: &str = "the application's personal data is erased already";

/// Erases the personal data of the ended applications whose retention period is over.
fn sweep_erasure(tx: &mut Tx<'_>) -> Result<usize, CommandError> {
    let due = crate::store::erasure::erasure_due(
        tx.store().connection(),
        tx.now(),
        ERASURES_PER_TICK_MAX,
    )?;
    if due.is_empty() {
        return Ok(0);
    }
    let erased = due.len();
    tx.emit(Event::PersonalDataErased { ids: due })?;
    Ok(erased)
}

fn erase_personal_data(id: ApplicationId, tx: &mut Tx<'_>) -> Result<Outcome, CommandError> {
    let application = tx.store().application(id)?.ok_or(CommandError::NotFound)?;
    if !application.status.is_erasable() {
        return Err(CommandError::Conflict(ERASURE_ACTIVE));
    }
    if crate::store::erasure::is_erased(tx.store().connection(), id)? {
        return Err(CommandError::Conflict(ALREADY_ERASED));
    }
    tx.emit(Event::PersonalDataErased { ids: vec![id] })?;
    Ok(Outcome::Done)
}

/// The waiting children no longer of preschool age on `today` leave the queue. Returns how
/// many left.
fn sweep_aging(tx: &mut Tx<'_>, today: NaiveDate) -> Result<usize, CommandError> {
    let leaving = tx.state().aging_out(today);
    let mut shrank: Vec<DistrictId> = Vec::new();
    for id in &leaving {
        if tx.state().family_of.contains_key(id) && !shrank.contains(&id.district) {
            shrank.push(id.district);
        }
        tx.emit(Event::ApplicationAgedOut {
            id: *id,
            at: tx.now(),
        })?;
    }
    for district in shrank {
        family_shrank(tx, district)?;
    }
    Ok(leaving.len())
}

/// A child of a family left the queue (withdrawn, refused, aged out): a family together
/// that was passed over for want of one more place may now fit the places open, and a
/// child left alone takes places as anyone does. So the district's open places are offered
/// again (when nothing changed, they go to nobody, as before).
fn family_shrank(tx: &mut Tx<'_>, district: DistrictId) -> Result<(), CommandError> {
    allocate_open_places(tx, district)?;
    Ok(())
}

/// Offers every open place of `district`, earliest reported first; returns how many went.
fn allocate_open_places(tx: &mut Tx<'_>, district: DistrictId) -> Result<usize, CommandError> {
    let open: Vec<PlaceId> = tx
        .state()
        .open_places
        .get(&district)
        .map(|open| open.iter().copied().collect())
        .unwrap_or_default();
    let mut issued = 0;
    for place in open {
        issued += usize::from(allocate(tx, place)?.is_some());
    }
    Ok(issued)
}

fn set_policy(
    district: DistrictId,
    policy: DistrictPolicy,
    tx: &mut Tx<'_>,
) -> Result<Outcome, CommandError> {
    if !tx.state().catalog.districts.contains_key(&district) {
        return Err(CommandError::NotFound);
    }
    policy
        .check()
        .map_err(|why| CommandError::Invalid(why.into()))?;
    tx.emit(Event::PolicySet { district, policy })?;
    Ok(Outcome::Done)
}

fn set_education_head(
    district: DistrictId,
    full_name: &str,
    tx: &mut Tx<'_>,
) -> Result<Outcome, CommandError> {
    if !tx.state().catalog.districts.contains_key(&district) {
        return Err(CommandError::NotFound);
    }
    let full_name = parse_name(full_name)?;
    tx.emit(Event::EducationHeadSet {
        district,
        full_name,
    })?;
    Ok(Outcome::Done)
}

/// Why a round cannot be opened or closed: the service's fixed words, each a row of the
/// API's error table.
pub const ROUND_DATE_PAST: &str = "a round's places are for a date from today on";
pub const ROUND_CLOSES_BEFORE: &str = "a round closes after now and before its places' date";
pub const ROUND_KINDERGARTEN_UNKNOWN: &str = "the order names a kindergarten not of the district";
pub const ROUND_OVERLAPS: &str = "a round is open in the district";
pub const ROUND_CLOSED: &str = "the round is closed";
pub const ROUND_PLACES_CLOSED: &str = "the round for the places' date is closed";

/// Opens a round: refused for a date in the past, a close not between now and that date,
/// an order naming another district's kindergarten, or a round already open in the district.
fn open_round(
    district: DistrictId,
    places_for: NaiveDate,
    closes_at: DateTime<Utc>,
    any_order: Vec<KindergartenId>,
    tx: &mut Tx<'_>,
) -> Result<Outcome, CommandError> {
    let now = tx.now();
    let id = {
        let state = tx.state();
        if !state.catalog.districts.contains_key(&district) {
            return Err(CommandError::NotFound);
        }
        if places_for < local_date(now) {
            return Err(CommandError::Invalid(ROUND_DATE_PAST.into()));
        }
        if closes_at <= now || local_date(closes_at) > places_for {
            return Err(CommandError::Invalid(ROUND_CLOSES_BEFORE.into()));
        }
        let of_district = |k: &KindergartenId| {
            state
                .catalog
                .kindergartens
                .get(k)
                .is_some_and(|k| k.district == district)
        };
        let mut distinct = any_order.clone();
        distinct.sort();
        distinct.dedup();
        if !any_order.iter().all(of_district) || distinct.len() != any_order.len() {
            return Err(CommandError::Invalid(ROUND_KINDERGARTEN_UNKNOWN.into()));
        }
        if state.open_round_in(district).is_some() {
            return Err(CommandError::Conflict(ROUND_OVERLAPS));
        }
        RoundId(state.last_round + 1)
    };
    tx.emit(Event::IntakeRoundOpened(IntakeRound {
        id,
        district,
        places_for,
        closes_at,
        any_order,
    }))?;
    Ok(Outcome::RoundOpened(id))
}

/// Closes `round`: allocates its places (`domain::intake`), then emits the close and every
/// referral of the allocation, in the one transaction of this command. The allocation is
/// worked out before the first event, so nothing is emitted if it cannot be.
fn close_round(round: RoundId, tx: &mut Tx<'_>) -> Result<Outcome, CommandError> {
    let now = tx.now();
    let outcome = {
        let state = tx.state();
        let Some(open) = state.rounds.get(&round) else {
            return Err(if (1..=state.last_round).contains(&round.0) {
                CommandError::Conflict(ROUND_CLOSED)
            } else {
                CommandError::NotFound
            });
        };
        let places = state.places_of_round(round);
        intake::allocate(&state.intake_input(open, &places, local_date(now)))
    };
    tx.emit(Event::IntakeRoundClosed { round, at: now })?;
    // Each family passed is on the record for the places that went past it, as place by
    // place records them: its history and the protocol say why it still waits.
    for (family, place) in &outcome.passes {
        tx.emit(Event::FamilyPassedOver {
            family: *family,
            place: *place,
        })?;
    }
    let mut referrals = Vec::with_capacity(outcome.placements.len());
    for placement in &outcome.placements {
        let (mut referral, cycle) = {
            let state = tx.state();
            let district = placement.child.district;
            let number = state.next_referral_number(district);
            state.referral_to(
                placement.place,
                placement.child,
                now,
                number,
                state.cycle(district),
            )
        };
        referral.round = Some(round);
        debug_assert_eq!(
            cycle, placement.cycle,
            "the round plays the cycle out as issuing does"
        );
        tx.emit(Event::ReferralIssued {
            referral: referral.clone(),
            cycle,
        })?;
        referrals.push(referral);
    }
    Ok(Outcome::RoundClosed {
        referrals,
        unfilled: outcome.unfilled,
        passed: outcome.passed,
    })
}

fn report_places(new: NewPlaces, tx: &mut Tx<'_>) -> Result<Outcome, CommandError> {
    let today = local_date(tx.now());
    let place = {
        let state = tx.state();
        let catalog = &state.catalog;
        let kindergarten = catalog
            .kindergartens
            .get(&new.kindergarten)
            .ok_or(CommandError::NotFound)?;
        let group = match new.group {
            None => None,
            Some(id) => Some(
                catalog
                    .groups
                    .get(&id)
                    .filter(|g| g.kindergarten == new.kindergarten)
                    .ok_or_else(|| {
                        CommandError::Invalid("the group is not this kindergarten's".into())
                    })?,
            ),
        };
        if group.is_some_and(|g| g.closed) {
            return Err(CommandError::Conflict("the group is closed"));
        }
        let age_band = new
            .age_band
            .or(group.map(|g| g.age_band))
            .ok_or_else(|| CommandError::Invalid("an age band or a group is required".into()))?;
        let language = new
            .language
            .or(group.map(|g| g.language))
            .ok_or_else(|| CommandError::Invalid("a language or a group is required".into()))?;
        if !catalog.districts[&kindergarten.district]
            .languages
            .contains(&language)
        {
            return Err(CommandError::Invalid(
                "the district runs no groups in that language".into(),
            ));
        }
        if !(1..=PLACES_PER_REPORT_MAX).contains(&new.count) {
            return Err(CommandError::Invalid(format!(
                "1 to {PLACES_PER_REPORT_MAX} places a report"
            )));
        }
        if new.available_from < today || new.available_from > today + chrono::Duration::days(366) {
            return Err(CommandError::Invalid(
                "places are free from today to a year ahead".into(),
            ));
        }
        // The round for that date allocated its places at its close: a late place given
        // one by one would go to whoever is first, not as the round's order would.
        let district = kindergarten.district;
        if state
            .closed_rounds
            .contains(&(district, new.available_from))
            && state.open_round_in(district).map(|r| r.places_for) != Some(new.available_from)
        {
            return Err(CommandError::Conflict(ROUND_PLACES_CLOSED));
        }
        // A place nobody in its band can take would wait open for ever: refuse it here.
        let first_day = new.available_from;
        if age_band.born_to < catalog.school_age.earliest_birth_preschool_on(first_day) {
            return Err(CommandError::Invalid(format!(
                "every child of the age band is of school age on {first_day}"
            )));
        }
        FreePlace {
            id: PlaceId(0),
            district: kindergarten.district,
            kindergarten: new.kindergarten,
            group: new.group,
            age_band,
            language,
            available_from: new.available_from,
            reported_at: tx.now(),
        }
    };
    let first = tx.state().next_place_id();
    let places: Vec<FreePlace> = (0..u64::from(new.count))
        .map(|i| FreePlace {
            id: PlaceId(first.0 + i),
            ..place.clone()
        })
        .collect();
    let ids: Vec<PlaceId> = places.iter().map(|p| p.id).collect();
    tx.emit(Event::PlacesReported { places })?;
    for id in &ids {
        // Places nobody fits stay open; the rest go in queue order, one child each (a
        // family together takes several at once: those are no longer open). Each place is
        // offered even after one found no taker: the places are alike, but a family passed
        // over must be on the record for every place it let go by (at most
        // PLACES_PER_REPORT_MAX look-ups of a microsecond).
        let open = tx
            .state()
            .open_places
            .get(&place.district)
            .is_some_and(|o| o.contains(id));
        if open {
            allocate(tx, *id)?;
        }
    }
    let referrals: Vec<Referral> = {
        let state = tx.state();
        let mut issued: Vec<Referral> = state
            .live
            .values()
            .map(|live| &live.referral)
            // The report's places are numbered consecutively.
            .filter(|r| (first..=ids[ids.len() - 1]).contains(&r.place))
            .cloned()
            .collect();
        issued.sort_by_key(|r| r.id);
        issued
    };
    Ok(Outcome::PlacesReported {
        places: ids,
        referrals,
    })
}

fn next_id<K: Copy + Ord, V>(
    map: &std::collections::BTreeMap<K, V>,
    raw: impl Fn(&K) -> u32,
) -> u32 {
    map.keys().next_back().map_or(1, |k| raw(k) + 1)
}

/// Free text from staff (reasons, names in the catalog) may not hold what `domain::text`
/// refuses: it is printed on parents' documents and pages.
fn safe_paragraphs(text: &str) -> Result<(), CommandError> {
    crate::domain::text::check_paragraphs(text)
        .map_err(|_| CommandError::Refused(Refusal::TextUnsafe))
}

/// A kindergarten's head as typed: blank is none; too long is refused `head`.
fn check_head(head: Option<String>) -> Result<Option<String>, CommandError> {
    let head = head.map(|h| h.trim().to_string()).filter(|h| !h.is_empty());
    if let Some(head) = &head {
        if head.chars().count() > CATALOG_TEXT_CHARS_MAX {
            return Err(CommandError::Invalid("head".into()));
        }
        safe_line(head)?;
    }
    Ok(head)
}

fn safe_line(text: &str) -> Result<(), CommandError> {
    crate::domain::text::check_line(text).map_err(|_| CommandError::Refused(Refusal::TextUnsafe))
}

fn check_names(names: &Names) -> Result<(), CommandError> {
    safe_line(&names.kk)?;
    safe_line(&names.ru)?;
    if names.kk.trim().is_empty() || names.ru.trim().is_empty() {
        return Err(CommandError::Invalid(
            "names in Kazakh and Russian are required".into(),
        ));
    }
    Ok(())
}

fn create_district(new: NewDistrict, catalog: &Catalog) -> Result<(Outcome, Event), CommandError> {
    check_names(&new.names)?;
    let code_ok = !new.code.is_empty()
        && new.code.len() <= 8
        && new
            .code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !code_ok {
        return Err(CommandError::Invalid(
            "a district code is 1 to 8 capital letters or digits".into(),
        ));
    }
    if catalog.district_by_code(&new.code).is_some() {
        return Err(CommandError::Invalid(format!(
            "district code {} is taken",
            new.code
        )));
    }
    if new.languages.is_empty() {
        return Err(CommandError::Invalid(
            "a district runs at least one language".into(),
        ));
    }
    let id = DistrictId(next_id(&catalog.districts, |k| k.0));
    let district = District {
        id,
        code: new.code,
        names: new.names,
        languages: new.languages,
    };
    Ok((
        Outcome::DistrictCreated(id),
        Event::DistrictCreated(district),
    ))
}

fn create_kindergarten(
    new: NewKindergarten,
    catalog: &Catalog,
) -> Result<(Outcome, Event), CommandError> {
    check_names(&new.names)?;
    if !catalog.districts.contains_key(&new.district) {
        return Err(CommandError::Invalid("unknown district".into()));
    }
    if new.address.trim().is_empty() || new.number.trim().is_empty() {
        return Err(CommandError::Invalid(
            "a kindergarten needs a number and an address".into(),
        ));
    }
    safe_line(&new.address)?;
    safe_line(&new.number)?;
    let head = check_head(new.head)?;
    let id = KindergartenId(next_id(&catalog.kindergartens, |k| k.0));
    let kindergarten = Kindergarten {
        id,
        district: new.district,
        number: new.number,
        names: new.names,
        address: new.address,
        head,
    };
    Ok((
        Outcome::KindergartenCreated(id),
        Event::KindergartenCreated(kindergarten),
    ))
}

fn create_group(new: NewGroup, catalog: &Catalog) -> Result<(Outcome, Event), CommandError> {
    let kindergarten = catalog
        .kindergartens
        .get(&new.kindergarten)
        .ok_or_else(|| CommandError::Invalid("unknown kindergarten".into()))?;
    safe_line(&new.name)?;
    let district = &catalog.districts[&kindergarten.district];
    if !district.languages.contains(&new.language) {
        return Err(CommandError::Invalid(
            "the district does not run that language".into(),
        ));
    }
    let id = GroupId(next_id(&catalog.groups, |k| k.0));
    let group = Group {
        id,
        kindergarten: new.kindergarten,
        name: new.name,
        language: new.language,
        age_band: new.age_band,
        capacity: new.capacity,
        closed: false,
    };
    Ok((Outcome::GroupCreated(id), Event::GroupCreated(group)))
}

/// A file for `id`: a priority document only beside a priority claim, within the limits
/// on the application's files (counted in the transaction, so two uploads in one batch
/// cannot both take the last place).
fn attach(
    id: ApplicationId,
    kind: AttachmentKind,
    file: &Accepted,
    limits: AttachmentLimits,
    tx: &mut Tx<'_>,
) -> Result<Outcome, CommandError> {
    let application = tx.store().application(id)?.ok_or(CommandError::NotFound)?;
    if kind == AttachmentKind::PriorityDocument && application.priority.is_none() {
        return Err(AttachmentRefusal::KindNotAccepted.into());
    }
    let held = tx.store().attachments_held(id)?;
    limits.admit(held.count, held.bytes, file.bytes.len() as u64)?;
    let record = AttachmentRecord::of(file, kind, held.last_ordinal + 1);
    let open = tx.store().open_requests(id)?;
    tx.emit_attachment(id, record.clone(), file)?;
    if let Some(request) = document_request::answered_by(&open, kind) {
        tx.emit(Event::DocumentReceived {
            id,
            request,
            attachment: record.ordinal,
        })?;
    }
    Ok(Outcome::Attached(record))
}

/// Why staff cannot ask for a document: the service's fixed words, each a row of the API's
/// error table.
pub const DOCUMENT_REASON_MISSING: &str = "a document request needs a reason";
pub const DOCUMENT_ALREADY_REQUESTED: &str = "a document of this kind is already asked for";

/// Asks for a document: only of an application still waiting or holding a referral (the
/// decisions a document serves are made then), a priority document only beside a claim,
/// one open request per kind.
fn request_document(
    id: ApplicationId,
    kind: AttachmentKind,
    reason: &str,
    tx: &mut Tx<'_>,
) -> Result<Outcome, CommandError> {
    let application = tx.store().application(id)?.ok_or(CommandError::NotFound)?;
    if !application.status.is_active() {
        return Err(CommandError::Conflict(
            "the application is no longer in the queue",
        ));
    }
    if kind == AttachmentKind::PriorityDocument && application.priority.is_none() {
        return Err(AttachmentRefusal::KindNotAccepted.into());
    }
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > document_request::REASON_CHARS_MAX {
        return Err(CommandError::Invalid(DOCUMENT_REASON_MISSING.into()));
    }
    safe_paragraphs(reason)?;
    let open = tx.store().open_requests(id)?;
    if document_request::answered_by(&open, kind).is_some() {
        return Err(CommandError::Conflict(DOCUMENT_ALREADY_REQUESTED));
    }
    let request = DocumentRequest {
        number: tx.store().next_request_number(id)?,
        kind,
        reason: reason.to_string(),
    };
    tx.emit(Event::DocumentRequested { id, request })?;
    Ok(Outcome::Done)
}
