//! Officers and operators of a district: the work list, priority decisions, motivated
//! refusals, revocations, and replacement access codes. Every action is recorded in the
//! journal as "staff:<account>".

use super::applications::{reach_referral, read_blocking, Ctx, Done};
use super::auth::{district_staff, Caller};
use super::error::{self, ApiError, Lang};
use super::extract::{ApiJson, ApiQuery};
use super::{no_store, ok, AppState};
use crate::domain::access_log::ViewKind;
use crate::domain::application::{
    Application, ApplicationId, ApplicationStatus, ClaimStatus, RefusalReason,
};
use crate::domain::document_request::{step_counts_from, RequestTimes, MANUAL_STEP_WORKING_DAYS};
use crate::domain::local_date;
use crate::domain::numbers as ids;
use crate::domain::state::QueueState;
use crate::service::{Command, Outcome};
use crate::store::document_requests::{self, RequestRow};
use crate::store::{self, WorkListQuery};
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(work_list))
        .routes(routes!(search))
        .routes(routes!(verify_priority))
        .routes(routes!(reject_priority))
        .routes(routes!(refuse))
        .routes(routes!(revoke))
        .routes(routes!(reissue_access_code))
        .routes(routes!(registration_attempts))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AttemptsParams {
    /// The child's IIN.
    pub child_iin: String,
}

/// One refused attempt to register a child (issue 14).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttemptView {
    pub at: DateTime<Utc>,
    /// The signed-in person who tried: their IIN, masked as staff lists show a person's
    /// (`********0306`), and the provider's subject, which names them to the provider.
    pub applicant_iin: String,
    pub subject: String,
    /// already_queued, or limited (past the person's quota).
    pub outcome: String,
}

impl From<store::identity::Attempt> for AttemptView {
    fn from(attempt: store::identity::Attempt) -> AttemptView {
        AttemptView {
            at: attempt.at,
            applicant_iin: masked_iin(&attempt.applicant_iin),
            subject: attempt.subject,
            outcome: attempt.outcome,
        }
    }
}

/// An IIN with only its last four digits shown; the stored ones are valid, anything else
/// shows nothing of itself.
fn masked_iin(iin: &str) -> String {
    crate::domain::iin::Iin::parse(iin)
        .map(|iin| iin.masked())
        .unwrap_or_else(|_| "************".to_string())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Attempts {
    pub items: Vec<AttemptView>,
}

/// Who tried to register a child that was already queued (with an identity provider, every
/// such attempt is recorded): for an officer of a district that holds an application of
/// the child, investigating a complaint of squatting. Another district's child, or one
/// never registered, answers 404. Reading it is a view of the child's applications in the
/// district, recorded in the staff access log before the answer.
#[utoipa::path(get, path = "/api/v1/registration-attempts", tag = "officer",
    params(AttemptsParams),
    security(("staff_token" = [])),
    responses((status = 200, body = Attempts), (status = 404, description = "No application of the child in the officer's district")))]
async fn registration_attempts(
    State(app): State<AppState>,
    ctx: Ctx,
    ApiQuery(params): ApiQuery<AttemptsParams>,
) -> Result<Response, ApiError> {
    let account = ctx
        .caller
        .staff_in(&[crate::domain::staff::Role::Officer], ctx.lang)?
        .clone();
    let crate::domain::staff::Scope::District(district) = account.scope else {
        return Err(ctx.error(error::FORBIDDEN));
    };
    let child = params.child_iin.trim().to_string();
    let found = read_blocking(&app, ctx.lang, move |conn| {
        let applications = store::identity::child_applications_in(conn, &child, district.0)?;
        if applications.is_empty() {
            return Ok(None);
        }
        let attempts = store::identity::attempts_for_child(conn, &child)?;
        Ok(Some((applications, attempts)))
    })
    .await?;
    let Some((applications, found)) = found else {
        return Err(ctx.error(error::NOT_FOUND));
    };
    // The log's kinds are fixed by its table (migration 0009): who tried to register the
    // child is part of what an officer sees of the child's application.
    super::access_log::record_views(
        &app,
        &ctx.caller,
        ViewKind::Application,
        applications,
        ctx.lang,
    )
    .await?;
    let items = found.into_iter().map(AttemptView::from).collect();
    Ok(no_store(ok(false, Attempts { items })))
}

/// The recorded attempts to register the child of application `id`, for its page; the
/// caller records the page's view of the application.
pub(crate) async fn attempts_on(
    app: &AppState,
    lang: Lang,
    id: ApplicationId,
) -> Result<Vec<AttemptView>, ApiError> {
    let found = read_blocking(app, lang, move |conn| match store::application(conn, id)? {
        Some(application) => {
            store::identity::attempts_for_child(conn, &application.child.iin.as_string())
        }
        None => Ok(Vec::new()),
    })
    .await?;
    Ok(found.into_iter().map(AttemptView::from).collect())
}

const PAGE_MAX: u32 = 500;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
// Query parameters: without this, utoipa documents the fields as required path parameters.
#[into_params(parameter_in = Query)]
pub struct WorkListParams {
    /// District code or id; must be the account's.
    pub district: String,
    /// queued, referred, enrolled, withdrawn, aged_out, refused
    pub status: Option<String>,
    /// true: only queued applications whose priority claim is past its deadline (then
    /// `status` is not used).
    pub overdue: Option<bool>,
    /// true: only queued applications whose priority claim waits for an officer (then
    /// `status` is not used).
    pub claims: Option<bool>,
    /// Registration number to continue after (paging).
    pub after: Option<u32>,
    /// At most 500; default 100.
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkItem {
    pub number: String,
    pub registered_at: DateTime<Utc>,
    pub status: String,
    pub child_full_name: String,
    pub child_birth_date: NaiveDate,
    pub channel: String,
    pub priority_category: Option<String>,
    pub priority_document: Option<String>,
    /// claimed, verified, rejected
    pub priority_status: Option<String>,
    /// For a claim waiting for an officer: the last day to decide it (none while a
    /// document asked for has not arrived: the deadline is paused).
    pub due: Option<NaiveDate>,
    pub overdue: bool,
    /// A document asked for has not arrived yet: the claim's deadline is paused.
    pub awaiting_document: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkList {
    pub items: Vec<WorkItem>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<u32>,
}

/// The district's applications for its staff, oldest first; `overdue=true` lists the
/// priority claims past their deadline. Each application listed is recorded in the staff
/// access log (kind `search`) before the list is answered.
#[utoipa::path(get, path = "/api/v1/applications", tag = "officer",
    params(WorkListParams), security(("staff_token" = [])),
    responses((status = 200, body = WorkList), (status = 403, description = "Not this district's staff")))]
async fn work_list(
    State(app): State<AppState>,
    ctx: Ctx,
    ApiQuery(params): ApiQuery<WorkListParams>,
) -> Result<Response, ApiError> {
    Ok(no_store(ok(
        false,
        work_list_of(&app, &ctx.caller, ctx.lang, &params).await?,
    )))
}

/// A page of the district's applications for its staff: the API's answer and the
/// officer's page.
pub(super) async fn work_list_of(
    app: &AppState,
    caller: &Caller,
    lang: Lang,
    params: &WorkListParams,
) -> Result<WorkList, ApiError> {
    let district = ids::parse_district(&app.service.read().catalog, &params.district);
    let Some(district) = district else {
        caller.staff(lang)?;
        return Err(ApiError::new(error::QUERY_INVALID, lang).with_detail("district".into()));
    };
    district_staff(caller, district, true, lang)?;
    let status = match params.status.as_deref() {
        None => None,
        Some(text) => Some(
            serde_json::from_value::<ApplicationStatus>(serde_json::Value::String(text.into()))
                .map_err(|_| {
                    ApiError::new(error::QUERY_INVALID, lang).with_detail("status".into())
                })?,
        ),
    };
    let overdue_only = params.overdue.unwrap_or(false);
    let claims_only = overdue_only || params.claims.unwrap_or(false);
    let limit = params.limit.unwrap_or(100).clamp(1, PAGE_MAX);
    let query = WorkListQuery {
        district,
        status: if claims_only {
            Some(ApplicationStatus::Queued)
        } else {
            status
        },
        claim_pending: claims_only,
        after_number: params.after.unwrap_or(0),
        limit,
    };
    let (rows, requests) = read_blocking(app, lang, move |conn| {
        let rows = store::work_list(conn, &query)?;
        let requests = requests_of(conn, &rows)?;
        Ok((rows, requests))
    })
    .await?;
    let full_page = rows.len() as u32 == limit;
    let next_after = rows.last().map(|a| a.id.number.0).filter(|_| full_page);
    let (seen, items): (Vec<ApplicationId>, Vec<WorkItem>) = {
        let state = app.service.read();
        let today = local_date(state_now(app));
        rows.iter()
            .map(|a| (a.id, work_item(&state, a, requests.get(&a.id), today)))
            .filter(|(_, item)| !overdue_only || item.overdue)
            .unzip()
    };
    // The list shows each child's name: one entry per application listed, as the search
    // records its results (kind `search`: the application was listed to this account). An
    // empty list showed no one: nothing to record.
    if !seen.is_empty() {
        super::access_log::record_views(app, caller, ViewKind::Search, seen, lang).await?;
    }
    Ok(WorkList { items, next_after })
}

/// The document requests of the listed applications whose claim waits for an officer: the
/// only ones whose deadline they move.
fn requests_of(
    conn: &rusqlite::Connection,
    rows: &[Application],
) -> Result<HashMap<ApplicationId, Vec<RequestRow>>, store::StoreError> {
    let pending: Vec<ApplicationId> = rows
        .iter()
        .filter(|a| claim_pending(a))
        .map(|a| a.id)
        .collect();
    document_requests::of_applications(conn, &pending)
}

fn claim_pending(a: &Application) -> bool {
    a.status.is_active()
        && a.priority
            .as_ref()
            .is_some_and(|c| c.status == ClaimStatus::Claimed)
}

/// One application as the work list and the search show it.
fn work_item(
    state: &QueueState,
    a: &Application,
    requests: Option<&Vec<RequestRow>>,
    today: NaiveDate,
) -> WorkItem {
    let claim = a.priority.as_ref();
    let times: Vec<RequestTimes> = requests
        .map(|rows| rows.iter().map(RequestRow::times).collect())
        .unwrap_or_default();
    let counts_from = step_counts_from(a.registered_at, &times);
    let due = counts_from.filter(|_| claim_pending(a)).map(|from| {
        state
            .catalog
            .calendar
            .manual_step_due(from, MANUAL_STEP_WORKING_DAYS)
    });
    WorkItem {
        number: ids::application_number(&state.catalog, a.id),
        registered_at: a.registered_at,
        status: super::views::codec_text(&a.status),
        child_full_name: a.child.full_name.clone(),
        child_birth_date: a.child.birth_date,
        channel: super::views::codec_text(&a.channel),
        priority_category: claim.map(|c| c.category.clone()),
        priority_document: claim.map(|c| c.document.clone()),
        priority_status: claim.map(|c| super::views::codec_text(&c.status)),
        due,
        overdue: due.is_some_and(|due| due < today),
        awaiting_document: claim_pending(a) && counts_from.is_none(),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// District code or id; must be the account's.
    pub district: String,
    /// The application's number (ESL-17).
    pub number: Option<String>,
    /// The child's IIN, 12 digits.
    pub child_iin: Option<String>,
    /// A part of the child's full name (at least 2 letters).
    pub name: Option<String>,
}

/// The most applications a search answers: a search is to find one child, not to list.
pub const SEARCH_MAX: u32 = 50;

/// Finds a district's applications by number, by the child's IIN or by name (exactly one
/// of them). Each application found is recorded in the staff access log as seen by the
/// caller; the words searched for are not recorded (an IIN is personal data).
#[utoipa::path(get, path = "/api/v1/applications/search", tag = "officer",
    params(SearchParams), security(("staff_token" = [])),
    responses((status = 200, body = WorkList), (status = 400, description = "query_invalid: not exactly one of number, child_iin, name"),
        (status = 403, description = "Not this district's staff")))]
async fn search(
    State(app): State<AppState>,
    ctx: Ctx,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Response, ApiError> {
    Ok(no_store(ok(
        false,
        search_of(&app, &ctx.caller, ctx.lang, &params).await?,
    )))
}

/// The search as the API answers it and the office's page shows it.
pub(crate) async fn search_of(
    app: &AppState,
    caller: &Caller,
    lang: Lang,
    params: &SearchParams,
) -> Result<WorkList, ApiError> {
    let invalid = |field: &str| ApiError::new(error::QUERY_INVALID, lang).with_detail(field.into());
    let district = ids::parse_district(&app.service.read().catalog, &params.district);
    let Some(district) = district else {
        caller.staff(lang)?;
        return Err(invalid("district"));
    };
    district_staff(caller, district, true, lang)?;
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(String::from)
    };
    let rows = match (
        given(&params.number),
        given(&params.child_iin),
        given(&params.name),
    ) {
        (Some(number), None, None) => {
            let id = ids::parse_application(&app.service.read().catalog, &number)
                .filter(|id| id.district == district);
            match id {
                None => Vec::new(),
                Some(id) => read_blocking(app, lang, move |conn| store::application(conn, id))
                    .await?
                    .into_iter()
                    .collect(),
            }
        }
        (None, Some(iin), None) => {
            if iin.len() != 12 || !iin.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("child_iin"));
            }
            let by = store::SearchBy::ChildIin(iin);
            read_blocking(app, lang, move |conn| {
                store::search_applications(conn, district, &by, SEARCH_MAX)
            })
            .await?
        }
        (None, None, Some(name)) => {
            if name.chars().count() < 2 || name.chars().count() > 200 {
                return Err(invalid("name"));
            }
            let by = store::SearchBy::ChildName(name);
            read_blocking(app, lang, move |conn| {
                store::search_applications(conn, district, &by, SEARCH_MAX)
            })
            .await?
        }
        _ => return Err(invalid("number, child_iin, name: exactly one")),
    };
    let seen = rows.iter().map(|a| a.id).collect();
    super::access_log::record_views(app, caller, ViewKind::Search, seen, lang).await?;
    let rows = std::sync::Arc::new(rows);
    let requests = {
        let rows = std::sync::Arc::clone(&rows);
        read_blocking(app, lang, move |conn| requests_of(conn, &rows)).await?
    };
    let state = app.service.read();
    let today = local_date(state_now(app));
    let items = rows
        .iter()
        .map(|a| work_item(&state, a, requests.get(&a.id), today))
        .collect();
    Ok(WorkList {
        items,
        next_after: None,
    })
}

fn state_now(app: &AppState) -> DateTime<Utc> {
    app.service.now()
}

/// The path's application, for an officer (or operator) of its district.
pub(super) fn officer_reach(
    app: &AppState,
    ctx: &Ctx,
    number: &str,
    operators: bool,
) -> Result<crate::domain::application::ApplicationId, ApiError> {
    let account = ctx.caller.staff(ctx.lang)?;
    let _ = account;
    let id = ids::parse_application(&app.service.read().catalog, number)
        .ok_or_else(|| ctx.error(error::NOT_FOUND))?;
    district_staff(&ctx.caller, id.district, operators, ctx.lang)?;
    Ok(id)
}

/// The officer saw the priority document: the application moves to the category's tier,
/// keeping its registration time.
#[utoipa::path(post, path = "/api/v1/applications/{number}/priority/verify", tag = "officer",
    params(("number" = String, Path, description = "ESL-17")),
    security(("staff_token" = [])),
    responses((status = 200, body = Done), (status = 409, description = "no_priority_claim, priority_already_decided")))]
async fn verify_priority(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let id = officer_reach(&app, &ctx, &number, false)?;
    let (_, replayed) = ctx
        .submission(&app)
        .run(Command::VerifyPriority { id })
        .await?;
    Ok(ok(replayed, Done::new("verified")))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Why, in words the parent will read.
    pub reason: String,
}

/// The claim is not confirmed: the application stays in (or returns to) the general tier.
#[utoipa::path(post, path = "/api/v1/applications/{number}/priority/reject", tag = "officer",
    params(("number" = String, Path, description = "ESL-17")),
    request_body = Reason, security(("staff_token" = [])),
    responses((status = 200, body = Done), (status = 409, description = "no_priority_claim, priority_already_decided")))]
async fn reject_priority(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Response, ApiError> {
    let id = officer_reach(&app, &ctx, &number, false)?;
    let (_, replayed) = ctx
        .submission(&app)
        .run(Command::RejectPriority {
            id,
            reason: body.reason,
        })
        .await?;
    Ok(ok(replayed, Done::new("rejected")))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefusalRequest {
    /// documents_incomplete, data_unreliable, requirements_not_met, legal_bar
    #[schema(value_type = String, example = "documents_incomplete")]
    pub reason: RefusalReason,
    /// The motivation, as the refusal document will state it.
    pub text: String,
}

/// A motivated refusal: the application leaves the queue for good.
#[utoipa::path(post, path = "/api/v1/applications/{number}/refuse", tag = "officer",
    params(("number" = String, Path, description = "ESL-17")),
    request_body = RefusalRequest, security(("staff_token" = [])),
    responses((status = 200, body = Done), (status = 409, description = "application_not_queued")))]
async fn refuse(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
    ApiJson(body): ApiJson<RefusalRequest>,
) -> Result<Response, ApiError> {
    let id = officer_reach(&app, &ctx, &number, false)?;
    let (_, replayed) = ctx
        .submission(&app)
        .run(Command::Refuse {
            id,
            reason: body.reason,
            text: body.text,
        })
        .await?;
    Ok(ok(replayed, Done::new("refused")))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationRequest {
    pub reason: String,
    /// The priority the referral was issued on proved unconfirmed: the child returns in
    /// the general tier.
    #[serde(default)]
    pub priority_unconfirmed: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Lapsed {
    pub status: String,
    /// Who the freed place went to, if anyone fitted it.
    pub next_referral: Option<super::views::ReferralView>,
}

/// Revokes a live referral; the place goes to the next child at once.
#[utoipa::path(post, path = "/api/v1/referrals/{number}/revoke", tag = "officer",
    params(("number" = String, Path, description = "ESL-R5")),
    request_body = RevocationRequest, security(("staff_token" = [])),
    responses((status = 200, body = Lapsed), (status = 409, description = "referral_not_live")))]
async fn revoke(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
    ApiJson(body): ApiJson<RevocationRequest>,
) -> Result<Response, ApiError> {
    ctx.caller
        .staff_in(&[crate::domain::staff::Role::Officer], ctx.lang)?;
    let (referral, _) = reach_referral(&app, &ctx, &number).await?;
    let (outcome, replayed) = ctx
        .submission(&app)
        .run(Command::Revoke {
            referral,
            reason: body.reason,
            priority_unconfirmed: body.priority_unconfirmed,
        })
        .await?;
    let Outcome::Lapsed { next } = outcome else {
        unreachable!("a revocation answers Lapsed")
    };
    let state = app.service.read();
    let body = Lapsed {
        status: "revoked".into(),
        next_referral: next.map(|r| super::views::ReferralView::of(&state.catalog, &r)),
    };
    drop(state);
    Ok(ok(replayed, body))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NewAccessCode {
    pub number: String,
    /// Shown once; the old code stops working.
    pub access_code: String,
}

#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactsReplacement {
    /// The applicant at the desk's phone, e-mail ("" removes it) and address; each absent
    /// field keeps the application's. With `applicant_iin`, the whole applicant is replaced
    /// and the phone and address are required.
    pub applicant_phone: Option<String>,
    pub applicant_email: Option<String>,
    pub applicant_address: Option<String>,
    /// The real applicant's IIN, after the desk checked their identity document: the
    /// application is rebound to them (their name and relation required too), for its
    /// family's other active children as well, and the person who registered it loses it.
    pub applicant_iin: Option<String>,
    pub applicant_full_name: Option<String>,
    /// mother, father, guardian or other_legal_representative.
    pub applicant_relation: Option<String>,
}

/// A new access code for the parent at the desk, after staff checked their identity: the
/// old code stops working. With a body, the applicant's contact details are replaced too
/// (the remedy when somebody else registered the child first), journaled as an amendment.
/// With the applicant's IIN, name and relation, the application is rebound to the real
/// applicant (journaled as `applicant_rebound`): the old code and the old person's
/// signed-in pages lose it, the new person's gain it.
#[utoipa::path(post, path = "/api/v1/applications/{number}/access-code", tag = "officer",
    params(("number" = String, Path, description = "ESL-17")),
    request_body(content = Option<ContactsReplacement>, description = "Optional: the contacts that replace the application's"),
    security(("staff_token" = [])),
    responses((status = 200, body = NewAccessCode), (status = 409, description = "application_not_queued (a rebinding)"), (status = 422, description = "phone_invalid, email_invalid, address_invalid; for a rebinding also applicant_iin_invalid, applicant_is_child, name_invalid, relation_invalid")))]
async fn reissue_access_code(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let id = officer_reach(&app, &ctx, &number, true)?;
    let (contacts, applicant) = if body.iter().all(u8::is_ascii_whitespace) {
        (None, None)
    } else {
        let replacement: ContactsReplacement = serde_json::from_slice(&body)
            .map_err(|e| ctx.error(error::INVALID).with_detail(e.to_string()))?;
        replacement.into_parts()
    };
    let (outcome, replayed) = ctx
        .submission(&app)
        .run(Command::ReissueAccessCode {
            id,
            contacts,
            applicant,
        })
        .await?;
    let Outcome::AccessCode(access_code) = outcome else {
        unreachable!("answers the code")
    };
    let number = ids::application_number(&app.service.read().catalog, id);
    Ok(no_store(ok(
        replayed,
        NewAccessCode {
            number,
            access_code,
        },
    )))
}

impl ContactsReplacement {
    /// The command's two optional parts: the whole applicant, when the body names one (any
    /// of IIN, name or relation given), otherwise the contacts alone.
    pub fn into_parts(
        self,
    ) -> (
        Option<crate::domain::amendment::AmendmentForm>,
        Option<crate::domain::application::ApplicantForm>,
    ) {
        if self.applicant_iin.is_none()
            && self.applicant_full_name.is_none()
            && self.applicant_relation.is_none()
        {
            return (Some(self.into_form()), None);
        }
        let applicant = crate::domain::application::ApplicantForm {
            applicant_iin: self.applicant_iin.unwrap_or_default(),
            applicant_full_name: self.applicant_full_name.unwrap_or_default(),
            applicant_relation: self.applicant_relation.unwrap_or_default(),
            applicant_phone: self.applicant_phone.unwrap_or_default(),
            applicant_email: self.applicant_email,
            applicant_address: self.applicant_address.unwrap_or_default(),
        };
        (None, Some(applicant))
    }

    pub fn into_form(self) -> crate::domain::amendment::AmendmentForm {
        crate::domain::amendment::AmendmentForm {
            applicant_phone: self.applicant_phone,
            applicant_email: self.applicant_email,
            applicant_address: self.applicant_address,
            ..Default::default()
        }
    }
}
