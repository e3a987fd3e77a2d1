//! Administrators: the catalog (districts, kindergartens, groups), district policies, the
//! working-day calendar, the audit feed of the journal, and the manual clock.

use super::applications::{read_blocking, Ctx, Done};
use super::error::{self, ApiError};
use super::extract::{ApiJson, ApiQuery};
use super::views::NamesView;
use super::{created, no_store, ok, AppState};
use crate::domain::catalog::{
    AgeBand, GroupId, KindergartenId, Language, Names, PriorityCategory, Tier,
};
use crate::domain::numbers as ids;
use crate::domain::referral::{DistrictPolicy, Extension, Validity};
use crate::domain::staff::Role;
use crate::domain::staff::{Scope, StaffAccount};
use crate::service::{Command, NewDistrict, NewGroup, NewKindergarten, Outcome};
use crate::store;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_district))
        .routes(routes!(create_kindergarten))
        .routes(routes!(create_group))
        .routes(routes!(set_policy))
        .routes(routes!(erase_personal_data))
        .routes(routes!(set_education_head))
        .routes(routes!(set_calendar_year))
        .routes(routes!(preview_calendar_year))
        .routes(routes!(audit))
        .routes(routes!(set_clock))
        .routes(routes!(change_kindergarten))
        .routes(routes!(change_group))
        .routes(routes!(close_group))
        .routes(routes!(categories, create_category))
        .routes(routes!(change_category))
        .routes(routes!(retire_category))
        .routes(routes!(staff_accounts, create_staff_account))
        .routes(routes!(change_staff_account))
        .routes(routes!(revoke_staff_account))
}

fn admin(ctx: &Ctx) -> Result<(), ApiError> {
    ctx.caller.staff_in(&[Role::Admin], ctx.lang).map(|_| ())
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DistrictRequest {
    /// 1 to 8 capital letters or digits; part of every application number.
    pub code: String,
    pub names: NamesView,
    /// Group languages the district runs: kk, ru.
    pub languages: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Created {
    pub id: u32,
}

fn languages(ctx: &Ctx, codes: &[String]) -> Result<Vec<Language>, ApiError> {
    codes
        .iter()
        .map(|c| {
            Language::parse(c)
                .ok_or_else(|| ctx.error(error::INVALID).with_detail("languages".into()))
        })
        .collect()
}

fn names(view: NamesView) -> Names {
    Names {
        kk: view.kk,
        ru: view.ru,
    }
}

#[utoipa::path(post, path = "/api/v1/districts", tag = "admin",
    request_body = DistrictRequest, security(("staff_token" = [])),
    responses((status = 201, body = Created), (status = 422, description = "invalid")))]
async fn create_district(
    State(app): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<DistrictRequest>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    let command = Command::CreateDistrict(NewDistrict {
        code: body.code,
        languages: languages(&ctx, &body.languages)?,
        names: names(body.names),
    });
    let (outcome, replayed) = ctx.submission(&app).run(command).await?;
    let Outcome::DistrictCreated(id) = outcome else {
        unreachable!()
    };
    Ok(created(replayed, Created { id: id.0 }))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KindergartenRequest {
    /// District code or id.
    pub district: String,
    /// The kindergarten's number, as it is known ("No. 12").
    pub number: String,
    pub names: NamesView,
    pub address: String,
    /// The kindergarten's head (full name), if already known; may be set later with PUT.
    #[serde(default)]
    pub head: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/kindergartens", tag = "admin",
    request_body = KindergartenRequest, security(("staff_token" = [])),
    responses((status = 201, body = Created), (status = 422, description = "invalid")))]
async fn create_kindergarten(
    State(app): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<KindergartenRequest>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    let district = ids::parse_district(&app.service.read().catalog, &body.district)
        .ok_or_else(|| ctx.error(error::DISTRICT_UNKNOWN))?;
    let command = Command::CreateKindergarten(NewKindergarten {
        district,
        number: body.number,
        names: names(body.names),
        address: body.address,
        head: body.head,
    });
    let (outcome, replayed) = ctx.submission(&app).run(command).await?;
    let Outcome::KindergartenCreated(id) = outcome else {
        unreachable!()
    };
    Ok(created(replayed, Created { id: id.0 }))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRequest {
    pub name: String,
    pub language: String,
    pub born_from: NaiveDate,
    pub born_to: NaiveDate,
    pub capacity: u32,
}

#[utoipa::path(post, path = "/api/v1/kindergartens/{id}/groups", tag = "admin",
    params(("id" = u32, Path, description = "Kindergarten id")),
    request_body = GroupRequest, security(("staff_token" = [])),
    responses((status = 201, body = Created), (status = 422, description = "invalid")))]
async fn create_group(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<u32>,
    ApiJson(body): ApiJson<GroupRequest>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    if body.born_from > body.born_to {
        return Err(ctx.error(error::INVALID).with_detail("born_from".into()));
    }
    let language = Language::parse(&body.language)
        .ok_or_else(|| ctx.error(error::INVALID).with_detail("language".into()))?;
    let command = Command::CreateGroup(NewGroup {
        kindergarten: KindergartenId(id),
        name: body.name,
        language,
        age_band: AgeBand {
            born_from: body.born_from,
            born_to: body.born_to,
        },
        capacity: body.capacity,
    });
    let (outcome, replayed) = ctx.submission(&app).run(command).await?;
    let Outcome::GroupCreated(id) = outcome else {
        unreachable!()
    };
    Ok(created(replayed, Created { id: id.0 }))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    /// How long a referral may be handed in after its day of issue.
    pub validity: ValidityRequest,
    /// Whether the parent may ask, once, for a longer validity.
    pub extension: ExtensionRequest,
    /// 0 to 90 days a child sits out after a lapsed referral (default 10).
    pub stop_list_days: u32,
    /// One first-priority referral for every three general ones.
    pub interleave_first_priority: bool,
    /// A family moving in keeps its original registration time (default true).
    #[serde(default = "yes")]
    pub move_keeps_registration_time: bool,
    /// A priority verified in the old district carries over (default true).
    #[serde(default = "yes")]
    pub move_keeps_priority: bool,
    /// Transfers of enrolled children before first-time applicants (default false: a
    /// transfer gets a place only when no first-time applicant fits it).
    #[serde(default)]
    pub transfers_before_first_time: bool,
    /// Declining a referral an intake round gave puts the child on the stop list (default
    /// false: it goes back to its position at once, its higher choices still open to it).
    #[serde(default)]
    pub round_decline_stop_list: bool,
    /// Days an ended application's personal data is kept, 30 to 3653 (default 1096).
    #[serde(default = "retention_days_default")]
    pub retention_days: u32,
}

fn retention_days_default() -> u32 {
    crate::domain::referral::RETENTION_DAYS_DEFAULT
}

fn yes() -> bool {
    true
}

/// The validity rule; it ends at the end of its last day, local time (UTC+5).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ValidityRequest {
    /// 1 to 30 working days (national rules: 5).
    WorkingDays { days: u32 },
    /// 1 to 60 calendar days (seed 000: "within 5 days").
    CalendarDays { days: u32 },
    /// To the same date of the next month (seed 004, Astana: "within a month").
    CalendarMonth,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ExtensionRequest {
    NotAllowed,
    /// Once, to the end of the 1st to 90th calendar day after the day of issue (Astana: 30).
    Once {
        calendar_days_after_issue: u32,
    },
}

impl PolicyRequest {
    fn policy(&self) -> DistrictPolicy {
        let validity = match self.validity {
            ValidityRequest::WorkingDays { days } => Validity::WorkingDays { days },
            ValidityRequest::CalendarDays { days } => Validity::CalendarDays { days },
            ValidityRequest::CalendarMonth => Validity::CalendarMonth,
        };
        let extension = match self.extension {
            ExtensionRequest::NotAllowed => Extension::NotAllowed,
            ExtensionRequest::Once {
                calendar_days_after_issue,
            } => Extension::Once {
                calendar_days_after_issue,
            },
        };
        DistrictPolicy {
            validity,
            extension,
            stop_list_days: self.stop_list_days,
            interleave_first_priority: self.interleave_first_priority,
            move_keeps_registration_time: self.move_keeps_registration_time,
            move_keeps_priority: self.move_keeps_priority,
            transfers_before_first_time: self.transfers_before_first_time,
            round_decline_stop_list: self.round_decline_stop_list,
            retention_days: self.retention_days,
        }
    }
}

#[utoipa::path(put, path = "/api/v1/districts/{district}/policy", tag = "admin",
    params(("district" = String, Path, description = "Code or id")),
    request_body = PolicyRequest, security(("staff_token" = [])),
    responses((status = 200, body = Done), (status = 422, description = "policy_invalid")))]
async fn set_policy(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(district): Path<String>,
    ApiJson(body): ApiJson<PolicyRequest>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    let district = ids::parse_district(&app.service.read().catalog, &district)
        .ok_or_else(|| ctx.error(error::NOT_FOUND))?;
    let policy = body.policy();
    let (_, replayed) = ctx
        .submission(&app)
        .run(Command::SetPolicy { district, policy })
        .await?;
    Ok(ok(replayed, Done::new("set")))
}

/// Erases an ended application's personal data now, before its district's retention period
/// ends (a court's order, or the family's request once the service is over). What is public
/// of it stays: its number, key, choices, history of statuses and referrals.
#[utoipa::path(post, path = "/api/v1/applications/{number}/erase", tag = "admin",
    params(("number" = String, Path, description = "ESL-17")),
    security(("staff_token" = [])),
    responses((status = 200, body = Done), (status = 409, description = "erasure_active, already_erased")))]
async fn erase_personal_data(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    let id = ids::parse_application(&app.service.read().catalog, &number)
        .ok_or_else(|| ctx.error(error::NOT_FOUND))?;
    let (_, replayed) = ctx
        .submission(&app)
        .run(Command::ErasePersonalData { id })
        .await?;
    Ok(ok(replayed, Done::new("erased")))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EducationHeadRequest {
    /// The full name of the head of the district's education department, as printed on its
    /// referrals above the signature line (letters, spaces, `-`, `'`, `.`; at most 200).
    pub full_name: String,
}

/// Names the head of the district's education department from now on; referrals issued
/// before keep the head of their day.
#[utoipa::path(put, path = "/api/v1/districts/{district}/education-head", tag = "admin",
    params(("district" = String, Path, description = "Code or id")),
    request_body = EducationHeadRequest, security(("staff_token" = [])),
    responses((status = 200, body = Done), (status = 404, description = "not_found"),
        (status = 422, description = "name_invalid")))]
async fn set_education_head(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(district): Path<String>,
    ApiJson(body): ApiJson<EducationHeadRequest>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    let district = ids::parse_district(&app.service.read().catalog, &district)
        .ok_or_else(|| ctx.error(error::NOT_FOUND))?;
    let command = Command::SetEducationHead {
        district,
        full_name: body.full_name,
    };
    let (_, replayed) = ctx.submission(&app).run(command).await?;
    Ok(ok(replayed, Done::new("set")))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarRequest {
    /// The year's file: one date per line with its kind, as in calendars/2026.txt.
    pub text: String,
}

#[utoipa::path(put, path = "/api/v1/calendar/{year}", tag = "admin",
    params(("year" = i32, Path, description = "e.g. 2027")),
    request_body = CalendarRequest, security(("staff_token" = [])),
    responses((status = 200, body = Done), (status = 422, description = "invalid")))]
async fn set_calendar_year(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(year): Path<i32>,
    ApiJson(body): ApiJson<CalendarRequest>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    let (_, replayed) = ctx
        .submission(&app)
        .run(Command::SetCalendarYear {
            year,
            text: body.text,
        })
        .await?;
    Ok(ok(replayed, Done::new("set")))
}

/// A day a new calendar file would change.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CalendarDayChange {
    pub date: NaiveDate,
    pub working_now: bool,
    pub working_after: bool,
}

/// Why a year's file is refused before anything is stored: each row names an error-table
/// row, and bad lines come with their numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CalendarRefusal {
    Year,
    Lines(Vec<crate::domain::calendar::CalendarError>),
    LongBreak { from: NaiveDate, days: u32 },
}

impl CalendarRefusal {
    pub fn kind(&self) -> error::ErrorKind {
        match self {
            CalendarRefusal::Year => error::CALENDAR_YEAR_INVALID,
            CalendarRefusal::Lines(_) => error::CALENDAR_LINES_INVALID,
            CalendarRefusal::LongBreak { .. } => error::CALENDAR_BREAK_TOO_LONG,
        }
    }

    /// Machine text for the API's `detail`: each bad line as `line N: code` (no more than
    /// the first 50, the file's limit keeps the list short anyway), or the long break.
    pub fn detail(&self) -> Option<String> {
        match self {
            CalendarRefusal::Year => None,
            CalendarRefusal::Lines(errors) => Some(
                errors
                    .iter()
                    .take(LINE_ERRORS_SHOWN_MAX)
                    .map(|e| format!("line {}: {}", e.line, e.problem.code()))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            CalendarRefusal::LongBreak { from, days } => {
                Some(format!("{days} days from {from} without a working day"))
            }
        }
    }
}

/// How many bad lines a refusal names: enough for any honest file, bounded for any other.
pub const LINE_ERRORS_SHOWN_MAX: usize = 50;

/// The days of `year` that `text` would change, or why the file is refused (the same checks
/// as applying it, with every bad line named rather than the first).
pub fn calendar_changes(
    calendar: &crate::domain::calendar::WorkCalendar,
    year: i32,
    text: &str,
) -> Result<Vec<CalendarDayChange>, CalendarRefusal> {
    if !(2000..=2100).contains(&year) {
        return Err(CalendarRefusal::Year);
    }
    let parsed = crate::domain::calendar::YearCalendar::parse_every_line(year, text)
        .map_err(CalendarRefusal::Lines)?;
    let (from, days) = parsed.longest_break(year);
    if days > crate::domain::calendar::LONGEST_BREAK_DAYS {
        return Err(CalendarRefusal::LongBreak { from, days });
    }
    Ok(calendar
        .days_changed_by(year, &parsed)
        .into_iter()
        .map(|(date, working_now, working_after)| CalendarDayChange {
            date,
            working_now,
            working_after,
        })
        .collect())
}

/// The days a year's file would change, before it is applied; nothing is stored. A refused
/// file answers `calendar_lines_invalid` with each bad line's number and code in `detail`
/// (`line 3: calendar_date_malformed; line 9: calendar_weekend_off`),
/// `calendar_break_too_long` or `calendar_year_invalid`.
#[utoipa::path(post, path = "/api/v1/calendar/{year}/preview", tag = "admin",
    params(("year" = i32, Path, description = "e.g. 2027")),
    request_body = CalendarRequest, security(("staff_token" = [])),
    responses((status = 200, body = Vec<CalendarDayChange>), (status = 422, description = "calendar_lines_invalid, calendar_break_too_long, calendar_year_invalid")))]
async fn preview_calendar_year(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(year): Path<i32>,
    ApiJson(body): ApiJson<CalendarRequest>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    let calendar = app.service.read().catalog.calendar.clone();
    let changes = calendar_changes(&calendar, year, &body.text).map_err(|refusal| {
        let error = ctx.error(refusal.kind());
        match refusal.detail() {
            Some(detail) => error.with_detail(detail),
            None => error,
        }
    })?;
    Ok(ok(false, changes))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
// Query parameters: without this, utoipa documents the fields as required path parameters.
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// The last sequence number already read; 0 from the start.
    pub after: Option<u64>,
    /// At most 1000; default 100.
    pub limit: Option<u32>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AuditEvent {
    pub seq: u64,
    pub recorded_at: DateTime<Utc>,
    /// system, portal, or staff:<account>
    pub actor: String,
    pub kind: String,
    /// The event's canonical JSON, exactly the bytes hashed.
    pub payload: String,
    /// Hex SHA-256 of the previous event (zeros before the first).
    pub prev_hash: String,
    /// Hex SHA-256 over prev_hash, seq, recorded_at (µs), and the length-prefixed actor,
    /// kind and payload: recompute it to check the chain.
    pub hash: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    pub next_after: Option<u64>,
}

/// The journal, event by event with its hashes, for auditors to re-check the chain.
#[utoipa::path(get, path = "/api/v1/audit", tag = "admin",
    params(AuditParams), security(("staff_token" = [])),
    responses((status = 200, body = AuditPage)))]
async fn audit(
    State(app): State<AppState>,
    ctx: Ctx,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    let after = params.after.unwrap_or(0);
    let limit = params.limit.unwrap_or(100).clamp(1, 1000);
    let events = read_blocking(&app, ctx.lang, move |conn| {
        store::events_after(conn, after, limit)
    })
    .await?;
    let next_after = (events.len() as u32 == limit)
        .then(|| events.last().map(|e| e.seq))
        .flatten();
    let events = events
        .into_iter()
        .map(|e| AuditEvent {
            seq: e.seq,
            recorded_at: e.recorded_at,
            actor: e.actor.0,
            kind: e.kind,
            payload: e.payload,
            prev_hash: hex::encode(e.prev_hash),
            hash: hex::encode(e.hash),
        })
        .collect();
    Ok(no_store(ok(false, AuditPage { events, next_after })))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockRequest {
    /// Not before the clock's current time, and in a year up to 9998.
    pub now: DateTime<Utc>,
}

/// The last year the manual clock may be set in. chrono holds instants up to year 262142,
/// but not everything the service derives from "now" does: its local date (UTC+5) and
/// deadlines run past the end of the year, and notices carry an RFC 2822 date, which has
/// four-digit years. A clock near chrono's limit panicked the writer (found by
/// scripts/api-fuzz); one a year short of 10000 leaves every derived date representable.
const CLOCK_YEAR_MAX: i32 = 9998;

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ClockAnswer {
    pub now: DateTime<Utc>,
    pub expired: usize,
    pub released: usize,
    pub aged_out: usize,
    pub referrals_issued: usize,
}

/// Moves the manual clock forward and processes whatever fell due, before answering, so a
/// test that travels in time sees the consequences at once. Only with `--clock manual`.
#[utoipa::path(post, path = "/api/v1/admin/clock", tag = "admin",
    request_body = ClockRequest, security(("staff_token" = [])),
    responses((status = 200, body = ClockAnswer),
              (status = 403, description = "clock_not_manual"),
              (status = 409, description = "clock_backwards"),
              (status = 422, description = "invalid: a year after 9998")))]
async fn set_clock(
    State(app): State<AppState>,
    ctx: Ctx,
    ApiJson(request): ApiJson<ClockRequest>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    let Some(clock) = app.manual_clock.clone() else {
        return Err(ctx.error(error::CLOCK_NOT_MANUAL));
    };
    use crate::clock::Clock;
    if request.now < clock.now() {
        return Err(ctx.error(error::CLOCK_BACKWARDS));
    }
    if request.now.year() > CLOCK_YEAR_MAX {
        return Err(ctx.error(error::INVALID).with_detail("now".into()));
    }
    clock.set_without_waking(request.now);
    let report = app
        .service
        .tick()
        .await
        .map_err(|e| ApiError::from_command(e, ctx.lang))?;
    Ok(ok(
        false,
        ClockAnswer {
            now: clock.now(),
            expired: report.expired,
            released: report.released,
            aged_out: report.aged_out,
            referrals_issued: report.referrals_issued,
        },
    ))
}

// ----- issue 15: editing the catalog, priority categories, staff accounts --------------

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KindergartenChange {
    pub names: NamesView,
    pub address: String,
    /// The kindergarten's head (director); absent or empty: none named.
    pub head: Option<String>,
}

/// Changes a kindergarten's names, address and head (journaled).
#[utoipa::path(put, path = "/api/v1/kindergartens/{id}", tag = "admin",
    params(("id" = u32, Path, description = "Kindergarten id")),
    request_body = KindergartenChange, security(("staff_token" = [])),
    responses((status = 200, body = Done), (status = 404, description = "not_found"),
               (status = 422, description = "invalid, nothing_to_amend")))]
async fn change_kindergarten(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<u32>,
    ApiJson(body): ApiJson<KindergartenChange>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    let command = Command::ChangeKindergarten {
        id: KindergartenId(id),
        names: names(body.names),
        address: body.address,
        head: body.head,
    };
    let (_, replayed) = ctx.submission(&app).run(command).await?;
    Ok(ok(replayed, Done::new("changed")))
}

/// Changes a group's name, language, age band and capacity (journaled).
#[utoipa::path(put, path = "/api/v1/groups/{id}", tag = "admin",
    params(("id" = u32, Path, description = "Group id")),
    request_body = GroupRequest, security(("staff_token" = [])),
    responses((status = 200, body = Done), (status = 404, description = "not_found"),
               (status = 422, description = "invalid, nothing_to_amend")))]
async fn change_group(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<u32>,
    ApiJson(body): ApiJson<GroupRequest>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    let age_band = AgeBand::new(body.born_from, body.born_to)
        .ok_or_else(|| ctx.error(error::INVALID).with_detail("born_from".into()))?;
    let language = Language::parse(&body.language)
        .ok_or_else(|| ctx.error(error::INVALID).with_detail("language".into()))?;
    let command = Command::ChangeGroup {
        id: GroupId(id),
        name: body.name,
        language,
        age_band,
        capacity: body.capacity,
    };
    let (_, replayed) = ctx.submission(&app).run(command).await?;
    Ok(ok(replayed, Done::new("changed")))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GroupClosedView {
    /// The group's open places withdrawn with it. Its live referrals stay valid.
    pub withdrawn_places: usize,
}

/// Closes a group: it takes no new places; its open places are withdrawn in the same
/// command; its live referrals stay valid and may be handed in.
#[utoipa::path(post, path = "/api/v1/groups/{id}/close", tag = "admin",
    params(("id" = u32, Path, description = "Group id")),
    security(("staff_token" = [])),
    responses((status = 200, body = GroupClosedView), (status = 409, description = "group_closed")))]
async fn close_group(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<u32>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    let (outcome, replayed) = ctx
        .submission(&app)
        .run(Command::CloseGroup { id: GroupId(id) })
        .await?;
    let Outcome::GroupClosed { withdrawn } = outcome else {
        unreachable!("closing a group answers GroupClosed")
    };
    Ok(ok(
        replayed,
        GroupClosedView {
            withdrawn_places: withdrawn,
        },
    ))
}

/// A priority category as the administrator sees and sets it.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryView {
    /// Lowercase letters, digits and _; fixed once created.
    pub code: String,
    /// out_of_turn or first
    pub tier: String,
    pub names: NamesView,
    /// The document an officer must see before verifying a claim.
    pub document: NamesView,
    /// Answered only: a retired category takes no new claims.
    #[serde(default)]
    pub retired: bool,
    /// A claim is verified only with the document attached to the application.
    #[serde(default)]
    pub attachment_required: bool,
}

fn category_of(ctx: &Ctx, view: CategoryView) -> Result<PriorityCategory, ApiError> {
    let tier = match view.tier.as_str() {
        "out_of_turn" => Tier::OutOfTurn,
        "first" => Tier::First,
        _ => return Err(ctx.error(error::INVALID).with_detail("tier".into())),
    };
    Ok(PriorityCategory {
        code: view.code,
        tier,
        names: names(view.names),
        document: names(view.document),
        retired: false,
        attachment_required: view.attachment_required,
    })
}

/// Every priority category, retired ones included.
#[utoipa::path(get, path = "/api/v1/categories", tag = "admin",
    security(("staff_token" = [])),
    responses((status = 200, body = Vec<CategoryView>)))]
async fn categories(State(app): State<AppState>, ctx: Ctx) -> Result<Response, ApiError> {
    admin(&ctx)?;
    let views: Vec<CategoryView> = app
        .service
        .read()
        .catalog
        .categories
        .values()
        .map(|c| CategoryView {
            code: c.code.clone(),
            tier: super::views::tier_code(c.tier).into(),
            names: (&c.names).into(),
            document: (&c.document).into(),
            retired: c.retired,
            attachment_required: c.attachment_required,
        })
        .collect();
    Ok(ok(false, views))
}

/// Creates a priority category (journaled).
#[utoipa::path(post, path = "/api/v1/categories", tag = "admin",
    request_body = CategoryView, security(("staff_token" = [])),
    responses((status = 201, body = Done), (status = 409, description = "category_exists"),
               (status = 422, description = "invalid")))]
async fn create_category(
    State(app): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<CategoryView>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    let command = Command::CreateCategory(category_of(&ctx, body)?);
    let (_, replayed) = ctx.submission(&app).run(command).await?;
    Ok(created(replayed, Done::new("created")))
}

/// Renames a category or changes its tier or required document (journaled; verified claims
/// keep the tier they were verified at).
#[utoipa::path(put, path = "/api/v1/categories/{code}", tag = "admin",
    params(("code" = String, Path, description = "Category code")),
    request_body = CategoryView, security(("staff_token" = [])),
    responses((status = 200, body = Done), (status = 404, description = "not_found"),
               (status = 422, description = "invalid, nothing_to_amend")))]
async fn change_category(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<CategoryView>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    if body.code != code {
        return Err(ctx.error(error::INVALID).with_detail("code".into()));
    }
    let command = Command::ChangeCategory(category_of(&ctx, body)?);
    let (_, replayed) = ctx.submission(&app).run(command).await?;
    Ok(ok(replayed, Done::new("changed")))
}

/// Retires a category: no new claims; the applications holding it keep it (journaled).
#[utoipa::path(post, path = "/api/v1/categories/{code}/retire", tag = "admin",
    params(("code" = String, Path, description = "Category code")),
    security(("staff_token" = [])),
    responses((status = 200, body = Done), (status = 409, description = "category_retired")))]
async fn retire_category(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    let (_, replayed) = ctx
        .submission(&app)
        .run(Command::RetireCategory { code })
        .await?;
    Ok(ok(replayed, Done::new("retired")))
}

/// A staff account: role and where it acts.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffAccountView {
    pub name: String,
    /// admin, officer, operator, kindergarten
    pub role: String,
    /// An officer's or operator's district id.
    pub district: Option<u32>,
    /// A kindergarten account's kindergarten id.
    pub kindergarten: Option<u32>,
    /// Answered only.
    #[serde(default)]
    pub revoked: bool,
}

fn account_of(ctx: &Ctx, view: StaffAccountView) -> Result<StaffAccount, ApiError> {
    let role = Role::parse(&view.role)
        .ok_or_else(|| ctx.error(error::INVALID).with_detail("role".into()))?;
    let scope = match (view.district, view.kindergarten) {
        (None, None) => Scope::Everywhere,
        (Some(d), None) => Scope::District(crate::domain::catalog::DistrictId(d)),
        (None, Some(k)) => Scope::Kindergarten(KindergartenId(k)),
        _ => return Err(ctx.error(error::INVALID).with_detail("scope".into())),
    };
    Ok(StaffAccount {
        name: view.name,
        role,
        scope,
    })
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StaffAccountCreated {
    pub name: String,
    /// The bearer token, shown this once; only its hash is kept.
    pub token: String,
}

/// Every staff account, revoked ones included.
#[utoipa::path(get, path = "/api/v1/staff-accounts", tag = "admin",
    security(("staff_token" = [])),
    responses((status = 200, body = Vec<StaffAccountView>)))]
async fn staff_accounts(State(app): State<AppState>, ctx: Ctx) -> Result<Response, ApiError> {
    admin(&ctx)?;
    let accounts = read_blocking(&app, ctx.lang, store::staff::list).await?;
    let views: Vec<StaffAccountView> = accounts
        .into_iter()
        .map(|(a, revoked)| {
            let (district, kindergarten) = store::staff::scope_columns(a.scope);
            StaffAccountView {
                name: a.name,
                role: a.role.code().into(),
                district,
                kindergarten,
                revoked,
            }
        })
        .collect();
    Ok(no_store(ok(false, views)))
}

/// Creates a staff account (journaled); answers its token once.
#[utoipa::path(post, path = "/api/v1/staff-accounts", tag = "admin",
    request_body = StaffAccountView, security(("staff_token" = [])),
    responses((status = 201, body = StaffAccountCreated), (status = 409, description = "staff_name_taken"),
               (status = 422, description = "invalid")))]
async fn create_staff_account(
    State(app): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<StaffAccountView>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    let account = account_of(&ctx, body)?;
    let name = account.name.clone();
    let (outcome, replayed) = ctx
        .submission(&app)
        .run(Command::CreateStaff(account))
        .await?;
    let Outcome::StaffCreated { token } = outcome else {
        unreachable!("an account's creation answers its token")
    };
    Ok(no_store(created(
        replayed,
        StaffAccountCreated { name, token },
    )))
}

/// Changes an account's role and scope (journaled). The last administrator stays one.
#[utoipa::path(put, path = "/api/v1/staff-accounts/{name}", tag = "admin",
    params(("name" = String, Path, description = "Account name")),
    request_body = StaffAccountView, security(("staff_token" = [])),
    responses((status = 200, body = Done), (status = 409, description = "last_administrator, staff_revoked"),
               (status = 422, description = "invalid, nothing_to_amend")))]
async fn change_staff_account(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<StaffAccountView>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    if body.name != name {
        return Err(ctx.error(error::INVALID).with_detail("name".into()));
    }
    let account = account_of(&ctx, body)?;
    let (_, replayed) = ctx
        .submission(&app)
        .run(Command::ChangeStaff(account))
        .await?;
    Ok(ok(replayed, Done::new("changed")))
}

/// Revokes an account: its token stops working at once (journaled). The last administrator
/// cannot be revoked (409 last_administrator).
#[utoipa::path(post, path = "/api/v1/staff-accounts/{name}/revoke", tag = "admin",
    params(("name" = String, Path, description = "Account name")),
    security(("staff_token" = [])),
    responses((status = 200, body = Done), (status = 409, description = "last_administrator, staff_revoked")))]
async fn revoke_staff_account(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    let (_, replayed) = ctx
        .submission(&app)
        .run(Command::RevokeStaff { name })
        .await?;
    Ok(ok(replayed, Done::new("revoked")))
}
