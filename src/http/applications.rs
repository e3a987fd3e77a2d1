//! Applications as parents (number + access code) and district staff reach them:
//! registration, the application with its history and positions, withdrawal, the survey,
//! and the parent's side of a referral (decline, extend).

use super::auth::{self, application_access, Caller, ClientIp};
use super::error::{self, ApiError, Lang};
use super::extract::{ApiJson, IdempotencyKey};
use super::identity;
use super::views::{self, ApplicationView, PositionView, ReferralView};
use super::{created, no_store, ok, AppState, Fingerprint, Submission};
use crate::domain::access_log::ViewKind;
use crate::domain::amendment::{AmendmentForm, MoveForm};
use crate::domain::application::{
    Application, ApplicationId, Channel, RegistrationForm, Satisfaction,
};
use crate::domain::history;
use crate::domain::iin::Iin;
use crate::domain::numbers as ids;
use crate::domain::referral::ReferralId;
use crate::domain::staff::Role;
use crate::domain::transfer::TransferForm;
use crate::service::{Command, Outcome};
use crate::store;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(application))
        .routes(routes!(position))
        .routes(routes!(position_history))
        .routes(routes!(withdraw))
        .routes(routes!(amend))
        .routes(routes!(move_application))
        .routes(routes!(register_family))
        .routes(routes!(set_family_choice))
        .routes(routes!(request_transfer))
        .routes(routes!(survey))
        .routes(routes!(decline))
        .routes(routes!(extend))
        .routes(routes!(my_applications))
        .routes(routes!(super::export::export))
}

/// One of a signed-in person's applications, as their list shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MyApplicationView {
    pub number: String,
    pub status: String,
    pub registered_at: DateTime<Utc>,
    pub child_full_name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MyApplications {
    pub items: Vec<MyApplicationView>,
}

/// Every application where the signed-in person (the provider's ID token as bearer) is
/// the applicant, newest first; each opens at `/api/v1/applications/{number}` with the
/// same token, no access code.
#[utoipa::path(get, path = "/api/v1/me/applications", tag = "parent",
    security(("id_token" = [])),
    responses(
        (status = 200, body = MyApplications),
        (status = 401, description = "signin_required, or a token refused (token_expired, ...)"),
        (status = 404, description = "signin_not_configured: the service has no identity provider"),
    ))]
async fn my_applications(State(app): State<AppState>, ctx: Ctx) -> Result<Response, ApiError> {
    let person = person_of(&app, &ctx)?;
    let found = applications_of_person(&app, ctx.lang, &person.iin).await?;
    let state = app.service.read();
    let items = found
        .into_iter()
        .map(|application| MyApplicationView {
            number: ids::application_number(&state.catalog, application.id),
            status: views::codec_text(&application.status),
            registered_at: application.registered_at,
            child_full_name: application.child.full_name.clone(),
        })
        .collect();
    drop(state);
    Ok(no_store(ok(false, MyApplications { items })))
}

/// The applications where the person with this IIN is the applicant, newest first: the
/// candidates from memory, each confirmed by its row.
pub(super) async fn applications_of_person(
    app: &AppState,
    lang: Lang,
    iin: &str,
) -> Result<Vec<Application>, ApiError> {
    let candidates = match Iin::parse(iin) {
        Ok(person) => app.service.read().applications_of(person.as_u64()),
        // Not an IIN (a provider's claim can be anything): nobody's applications.
        Err(_) => return Ok(Vec::new()),
    };
    let iin = iin.to_owned();
    read_blocking(app, lang, move |conn| {
        store::identity::applications_of(conn, &iin, &candidates)
    })
    .await
}

/// The signed-in person calling, or the refusal that says why there is none.
pub(super) fn person_of<'a>(app: &AppState, ctx: &'a Ctx) -> Result<&'a auth::Person, ApiError> {
    if app.oidc.is_none() {
        return Err(ctx.error(error::SIGNIN_NOT_CONFIGURED));
    }
    match &ctx.caller {
        Caller::Person(person) => Ok(person),
        _ => Err(ctx.error(error::SIGNIN_REQUIRED)),
    }
}

/// What every handler needs to know about its request.
pub struct Ctx {
    pub caller: Caller,
    pub lang: Lang,
    pub ip: ClientIp,
    key: Option<String>,
    fingerprint: Option<[u8; 32]>,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Ctx, ApiError> {
        let lang = Lang::from_headers(&parts.headers);
        let IdempotencyKey(key) = IdempotencyKey::from_request_parts(parts, app).await?;
        let caller = Caller::from_request_parts(parts, app).await?;
        let ip = ClientIp::from_request_parts(parts, app)
            .await
            .expect("infallible");
        let fingerprint = parts.extensions.get::<Fingerprint>().map(|f| f.0);
        Ok(Ctx {
            caller,
            lang,
            ip,
            key,
            fingerprint,
        })
    }
}

impl Ctx {
    pub fn submission<'a>(&'a self, app: &'a AppState) -> Submission<'a> {
        Submission {
            app,
            caller: &self.caller,
            key: self.key.clone(),
            fingerprint: self.fingerprint,
            lang: self.lang,
        }
    }

    /// For a body the fingerprint middleware leaves alone (a streamed upload): "the same
    /// request" as the handler defines it.
    pub(super) fn set_fingerprint(&mut self, fingerprint: [u8; 32]) {
        self.fingerprint = Some(fingerprint);
    }

    pub fn error(&self, kind: error::ErrorKind) -> ApiError {
        ApiError::new(kind, self.lang)
    }
}

/// A registration as the parent, or staff for them, fills it in. The number, time, tier,
/// status and channel are the service's to set: a body that sets them is refused.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationRequest {
    /// District code, e.g. ESL.
    pub district: String,
    pub child_iin: String,
    pub child_full_name: String,
    /// YYYY-MM-DD; must match the IIN.
    pub child_birth_date: String,
    /// With an identity provider, ignored: the signed-in person's IIN from their token.
    #[serde(default)]
    pub applicant_iin: String,
    /// With an identity provider that gives names, ignored: the name from the token.
    #[serde(default)]
    pub applicant_full_name: String,
    /// +7 and 10 digits.
    pub applicant_phone: String,
    #[serde(default)]
    pub applicant_email: Option<String>,
    pub applicant_address: String,
    /// mother, father, guardian, other_legal_representative
    pub applicant_relation: String,
    /// YYYY-MM-DD, from when a place is wanted.
    pub desired_start: String,
    /// Up to 5 kindergarten ids, most wanted first; empty or absent: any in the district.
    #[serde(default)]
    pub kindergartens: Vec<u32>,
    /// kk, ru, or any.
    pub language: String,
    #[serde(default)]
    pub priority_category: Option<String>,
    /// The supporting document's number and issuer, required with a category.
    #[serde(default)]
    pub priority_document: Option<String>,
}

impl From<RegistrationRequest> for RegistrationForm {
    fn from(r: RegistrationRequest) -> RegistrationForm {
        RegistrationForm {
            district: r.district,
            child_iin: r.child_iin,
            child_full_name: r.child_full_name,
            child_birth_date: r.child_birth_date,
            applicant_iin: r.applicant_iin,
            applicant_full_name: r.applicant_full_name,
            applicant_phone: r.applicant_phone,
            applicant_email: r.applicant_email,
            applicant_address: r.applicant_address,
            applicant_relation: r.applicant_relation,
            desired_start: r.desired_start,
            kindergartens: r.kindergartens,
            language: r.language,
            priority_category: r.priority_category,
            priority_document: r.priority_document,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Registered {
    /// `ESL-17`: with the access code, it opens the application.
    pub number: String,
    /// Shown once, here (and on the printed notice). Keep it: it is not stored.
    pub access_code: String,
    pub status: String,
    pub registered_at: DateTime<Utc>,
    pub position: Option<PositionView>,
    /// A referral at once, if a fitting place was free.
    pub referral: Option<ReferralView>,
}

/// The channel a registration comes through: the portal without a token, else the staff
/// account's desk (an operator's service centre or an officer's office), which must be of
/// the district registered in. An unknown district is the validation's to refuse; a known
/// other one is not this account's to act in.
fn registration_channel(app: &AppState, ctx: &Ctx, district: &str) -> Result<Channel, ApiError> {
    let Caller::Staff(account) = &ctx.caller else {
        return Ok(Channel::Portal);
    };
    let district = ids::parse_district(&app.service.read().catalog, district);
    match district {
        Some(district) => auth::district_staff(&ctx.caller, district, true, ctx.lang)?,
        None => ctx
            .caller
            .staff_in(&[Role::Officer, Role::Operator], ctx.lang)?
            .clone(),
    };
    Ok(match account.role {
        Role::Operator => Channel::ServiceCentre,
        _ => Channel::Office,
    })
}

/// Registers a child: self-service without a token, or by an officer or operator of the
/// district (the channel follows the account).
#[utoipa::path(post, path = "/api/v1/applications", tag = "parent",
    request_body = RegistrationRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses(
        (status = 201, body = Registered),
        (status = 409, description = "already_queued: the child has an active application"),
        (status = 422, description = "A refusal with its code (child_iin_invalid, ...)"),
    ))]
async fn register(
    State(app): State<AppState>,
    ctx: Ctx,
    ApiJson(request): ApiJson<RegistrationRequest>,
) -> Result<Response, ApiError> {
    let channel = registration_channel(&app, &ctx, &request.district)?;
    let children = [request.child_iin.clone()];
    let person = identity::registrant(&app, &ctx.caller, &children, ctx.lang)?;
    let mut form = RegistrationForm::from(request);
    if let Some(person) = &person {
        identity::bind(person, &mut form);
    }
    app.admit_registration(&ctx.caller, ctx.ip, &form.applicant_iin, 1)
        .map_err(|e| ApiError::from_command(e, ctx.lang))?;
    let ran = ctx
        .submission(&app)
        .run(Command::Register { form, channel })
        .await;
    if let Err(refusal) = &ran {
        identity::refused(&app, person.as_ref(), &children, refusal.kind, ctx.lang)?;
    }
    let (outcome, replayed) = ran?;
    let Outcome::Registered {
        application,
        referral,
        access_code,
        position,
    } = outcome
    else {
        unreachable!("a registration answers Registered")
    };
    let state = app.service.read();
    let body = Registered {
        number: ids::application_number(&state.catalog, application.id),
        access_code,
        status: views::codec_text(&application.status),
        registered_at: application.registered_at,
        // As it was at registration: a retry gets the first answer, not today's queue.
        position: position.as_ref().map(PositionView::from),
        referral: referral.map(|r| ReferralView::of(&state.catalog, &r)),
    };
    drop(state);
    Ok(no_store(created(replayed, body)))
}

/// The path's application, if the caller may reach it.
pub(super) fn reach(app: &AppState, ctx: &Ctx, number: &str) -> Result<ApplicationId, ApiError> {
    let id = ids::parse_application(&app.service.read().catalog, number);
    application_access(app, &ctx.caller, ctx.ip, id, ctx.lang)
}

pub(super) async fn read_blocking<R: Send + 'static>(
    app: &AppState,
    lang: Lang,
    read: impl FnOnce(&rusqlite::Connection) -> Result<R, store::StoreError> + Send + 'static,
) -> Result<R, ApiError> {
    let reads = std::sync::Arc::clone(&app.reads);
    tokio::task::spawn_blocking(move || reads.with(read))
        .await
        .map_err(|_| ApiError::new(error::INTERNAL, lang))?
        .map_err(|e| auth::internal(e, lang))
}

/// The application: status and its history, positions, the latest referral.
#[utoipa::path(get, path = "/api/v1/applications/{number}", tag = "parent",
    params(("number" = String, Path, description = "ESL-17")),
    security(("access_code" = []), ("staff_token" = [])),
    responses((status = 200, body = ApplicationView), (status = 404, description = "Unknown, or not yours")))]
async fn application(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let id = reach(&app, &ctx, &number)?;
    let view = application_view(&app, ctx.lang, id).await?;
    super::access_log::record_views(&app, &ctx.caller, ViewKind::Application, vec![id], ctx.lang)
        .await?;
    Ok(no_store(ok(false, view)))
}

/// The application as its parent and district staff see it (the caller already checked).
pub(super) async fn application_view(
    app: &AppState,
    lang: Lang,
    id: ApplicationId,
) -> Result<ApplicationView, ApiError> {
    let (application, events, referrals) = read_blocking(app, lang, move |conn| {
        let application = store::application(conn, id)?;
        let events = store::application_events(conn, id)?;
        let referrals = store::referrals_of(conn, id)?;
        Ok((application, events, referrals))
    })
    .await?;
    let Some(application) = application else {
        return Err(ApiError::new(error::NOT_FOUND, lang));
    };
    let state = app.service.read();
    let position = state.position(id);
    let view = ApplicationView::of(
        &state.catalog,
        &application,
        position.as_ref(),
        referrals.first(),
        views::history(&events),
    );
    drop(state);
    Ok(view)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CurrentPosition {
    pub number: String,
    /// queued, referred, ... : a position exists only while queued.
    pub waiting: bool,
    pub position: Option<PositionView>,
}

/// Only the current position: the cheap look-up a parent's page polls. One indexed read
/// for the access code, then memory.
#[utoipa::path(get, path = "/api/v1/applications/{number}/position", tag = "parent",
    params(("number" = String, Path, description = "ESL-17")),
    security(("access_code" = []), ("staff_token" = [])),
    responses((status = 200, body = CurrentPosition), (status = 404, description = "Unknown, or not yours")))]
async fn position(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let id = reach(&app, &ctx, &number)?;
    let state = app.service.read();
    let position = state.position(id);
    let body = CurrentPosition {
        number: ids::application_number(&state.catalog, id),
        waiting: position.is_some(),
        position: position.as_ref().map(PositionView::from),
    };
    drop(state);
    Ok(no_store(ok(false, body)))
}

/// The position at the end of one local day.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct PositionPoint {
    pub date: NaiveDate,
    /// In the district's cohort; 1 is next.
    pub position: u32,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PositionHistory {
    pub number: String,
    pub cohort: i32,
    /// One point per local day on which the position changed, oldest first; days when
    /// the application was not waiting (holding a referral) are left out.
    pub points: Vec<PositionPoint>,
}

/// How the position in the cohort moved, day by day, computed exactly from the journal's
/// record of who entered and left the cohort ahead of it.
#[utoipa::path(get, path = "/api/v1/applications/{number}/positions/history", tag = "parent",
    params(("number" = String, Path, description = "ESL-17")),
    security(("access_code" = []), ("staff_token" = [])),
    responses((status = 200, body = PositionHistory), (status = 404, description = "Unknown, or not yours")))]
async fn position_history(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let id = reach(&app, &ctx, &number)?;
    Ok(no_store(ok(
        false,
        position_history_of(&app, ctx.lang, id).await?,
    )))
}

/// The application's daily positions (the caller already checked).
pub(super) async fn position_history_of(
    app: &AppState,
    lang: Lang,
    id: ApplicationId,
) -> Result<PositionHistory, ApiError> {
    let moves = read_blocking(app, lang, move |conn| {
        let Some(application) = store::application(conn, id)? else {
            return Ok(None);
        };
        let (cohort, moves) = store::cohort_moves_for(conn, &application)?;
        Ok(Some((application, cohort, moves)))
    })
    .await?;
    let Some((application, cohort, moves)) = moves else {
        return Err(ApiError::new(error::NOT_FOUND, lang));
    };
    let points = history::daily_positions(application.id.number, &moves)
        .into_iter()
        .map(|(date, position)| PositionPoint { date, position })
        .collect();
    let number = ids::application_number(&app.service.read().catalog, id);
    Ok(PositionHistory {
        number,
        cohort,
        points,
    })
}

/// Withdraws the application from the queue (the parent, or district staff for them).
#[utoipa::path(post, path = "/api/v1/applications/{number}/withdraw", tag = "parent",
    params(("number" = String, Path, description = "ESL-17"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    security(("access_code" = []), ("staff_token" = [])),
    responses((status = 200, body = Done), (status = 409, description = "application_not_queued")))]
async fn withdraw(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let id = reach(&app, &ctx, &number)?;
    let (_, replayed) = ctx.submission(&app).run(Command::Withdraw { id }).await?;
    Ok(no_store(ok(replayed, Done::new("withdrawn"))))
}

/// What an amendment may change; an absent field stays as it is. The key (tier,
/// registration time, number) cannot change: the application keeps its place.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmendmentRequest {
    /// Up to 5 kindergarten ids, most wanted first; an empty list: any in the district.
    #[serde(default)]
    pub kindergartens: Option<Vec<u32>>,
    /// kk, ru, or any.
    #[serde(default)]
    pub language: Option<String>,
    /// YYYY-MM-DD, from when a place is wanted.
    #[serde(default)]
    pub desired_start: Option<String>,
    /// +7 and 10 digits.
    #[serde(default)]
    pub applicant_phone: Option<String>,
    /// An empty string removes the address.
    #[serde(default)]
    pub applicant_email: Option<String>,
    #[serde(default)]
    pub applicant_address: Option<String>,
}

impl From<AmendmentRequest> for AmendmentForm {
    fn from(r: AmendmentRequest) -> AmendmentForm {
        AmendmentForm {
            kindergartens: r.kindergartens,
            language: r.language,
            desired_start: r.desired_start,
            applicant_phone: r.applicant_phone,
            applicant_email: r.applicant_email,
            applicant_address: r.applicant_address,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Amended {
    /// The fields that changed: kindergartens, language, desired_start, applicant_phone,
    /// applicant_email, applicant_address.
    pub changed: Vec<String>,
    /// The position after the amendment (the cohort position stays; the per-kindergarten
    /// counts follow the new choices). None while the application holds a referral.
    pub position: Option<PositionView>,
    /// A referral at once, if the new choices fit a place that was open.
    pub referral: Option<ReferralView>,
}

/// Amends the application: kindergartens, group language, desired start, contacts (the
/// parent, or district staff for them). While a referral is outstanding only the contacts
/// may change.
#[utoipa::path(post, path = "/api/v1/applications/{number}/amend", tag = "parent",
    params(("number" = String, Path, description = "ESL-17"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    request_body = AmendmentRequest,
    security(("access_code" = []), ("staff_token" = [])),
    responses((status = 200, body = Amended),
              (status = 409, description = "referral_outstanding, or the application is no longer in the queue"),
              (status = 422, description = "A refusal with its code (nothing_to_amend, too_many_kindergartens, desired_start_in_past, ...)")))]
async fn amend(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
    ApiJson(request): ApiJson<AmendmentRequest>,
) -> Result<Response, ApiError> {
    let id = reach(&app, &ctx, &number)?;
    let (outcome, replayed) = ctx
        .submission(&app)
        .run(Command::Amend {
            id,
            form: request.into(),
        })
        .await?;
    let Outcome::Amended {
        amendment,
        referral,
        position,
    } = outcome
    else {
        unreachable!("an amendment answers Amended")
    };
    let state = app.service.read();
    let body = Amended {
        changed: amendment.changed.iter().map(views::codec_text).collect(),
        position: position.as_ref().map(PositionView::from),
        referral: referral.map(|r| ReferralView::of(&state.catalog, &r)),
    };
    drop(state);
    Ok(no_store(ok(replayed, body)))
}

/// A move to another district: the application continues there.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    /// The new district's code, e.g. SAR.
    pub district: String,
    /// Up to 5 kindergarten ids of the new district, most wanted first; empty: any.
    #[serde(default)]
    pub kindergartens: Vec<u32>,
    /// kk, ru, or any; absent: the application's language if the new district runs it.
    #[serde(default)]
    pub language: Option<String>,
}

/// Moves the application to another district (the parent, or an officer or operator of
/// either district). The new district's policy says whether it keeps its registration time
/// and its verified priority; it gets that district's next number and a new access code.
#[utoipa::path(post, path = "/api/v1/applications/{number}/move", tag = "parent",
    params(("number" = String, Path, description = "ESL-17"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    request_body = MoveRequest,
    security(("access_code" = []), ("staff_token" = [])),
    responses((status = 201, body = Registered),
              (status = 409, description = "referral_outstanding, or the application is no longer in the queue"),
              (status = 422, description = "district_unknown, move_to_same_district, too_many_kindergartens, ...")))]
async fn move_application(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
    ApiJson(request): ApiJson<MoveRequest>,
) -> Result<Response, ApiError> {
    let id = match &ctx.caller {
        // Staff of the district moved to may receive the family, as staff of the old one
        // may send it.
        Caller::Staff(_) => {
            let (id, target) = {
                let state = app.service.read();
                (
                    ids::parse_application(&state.catalog, &number),
                    ids::parse_district(&state.catalog, &request.district),
                )
            };
            let id = id.ok_or_else(|| ctx.error(error::NOT_FOUND))?;
            let serves = |district| auth::district_staff(&ctx.caller, district, true, ctx.lang);
            match target {
                Some(target) if serves(target).is_ok() => id,
                _ => {
                    serves(id.district)?;
                    id
                }
            }
        }
        _ => reach(&app, &ctx, &number)?,
    };
    let form = MoveForm {
        district: request.district,
        kindergartens: request.kindergartens,
        language: request.language,
    };
    let (outcome, replayed) = ctx.submission(&app).run(Command::Move { id, form }).await?;
    let Outcome::Moved {
        application,
        access_code,
        referral,
        position,
    } = outcome
    else {
        unreachable!("a move answers Moved")
    };
    let state = app.service.read();
    let body = Registered {
        number: ids::application_number(&state.catalog, application.id),
        access_code,
        status: views::codec_text(&application.status),
        registered_at: application.registered_at,
        position: position.as_ref().map(PositionView::from),
        referral: referral.map(|r| ReferralView::of(&state.catalog, &r)),
    };
    drop(state);
    Ok(no_store(created(replayed, body)))
}

/// One child of a family registration.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FamilyChild {
    pub iin: String,
    pub full_name: String,
    /// YYYY-MM-DD; must match the IIN.
    pub birth_date: String,
}

/// Several children of one applicant registered together (twins, triplets, siblings): the
/// registration's fields once, and the children.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FamilyRegistrationRequest {
    pub district: String,
    pub applicant_iin: String,
    pub applicant_full_name: String,
    pub applicant_phone: String,
    #[serde(default)]
    pub applicant_email: Option<String>,
    pub applicant_address: String,
    pub applicant_relation: String,
    pub desired_start: String,
    #[serde(default)]
    pub kindergartens: Vec<u32>,
    pub language: String,
    #[serde(default)]
    pub priority_category: Option<String>,
    #[serde(default)]
    pub priority_document: Option<String>,
    /// Places only together, in one kindergarten (true), or each child as it comes.
    pub together: bool,
    /// 2 to 6 children.
    pub children: Vec<FamilyChild>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FamilyRegistered {
    pub family: u32,
    /// One code opens each child's application (with its own number). Shown once.
    pub access_code: String,
    pub together: bool,
    pub children: Vec<FamilyMemberView>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FamilyMemberView {
    pub number: String,
    pub status: String,
    pub registered_at: DateTime<Utc>,
    pub position: Option<PositionView>,
    pub referral: Option<ReferralView>,
}

/// Registers several children of one applicant at once: the same registration time,
/// consecutive numbers, one family, one access code. Self-service, or staff of the district.
#[utoipa::path(post, path = "/api/v1/families", tag = "parent",
    request_body = FamilyRegistrationRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses(
        (status = 201, body = FamilyRegistered),
        (status = 409, description = "already_queued or already_enrolled: a child has an application or a place"),
        (status = 422, description = "A refusal with its code (family_size_invalid, family_child_repeated, child_iin_invalid, ...)"),
    ))]
async fn register_family(
    State(app): State<AppState>,
    ctx: Ctx,
    ApiJson(request): ApiJson<FamilyRegistrationRequest>,
) -> Result<Response, ApiError> {
    let channel = registration_channel(&app, &ctx, &request.district)?;
    let child_iins: Vec<String> = request.children.iter().map(|c| c.iin.clone()).collect();
    let person = identity::registrant(&app, &ctx.caller, &child_iins, ctx.lang)?;
    let mut request = request;
    if let Some(person) = &person {
        request.applicant_iin = person.iin.clone();
        if let Some(name) = &person.name {
            request.applicant_full_name = name.clone();
        }
    }
    let children = request.children.len();
    app.admit_registration(&ctx.caller, ctx.ip, &request.applicant_iin, children)
        .map_err(|e| ApiError::from_command(e, ctx.lang))?;
    let together = request.together;
    let forms: Vec<RegistrationForm> = request
        .children
        .iter()
        .map(|child| RegistrationForm {
            district: request.district.clone(),
            child_iin: child.iin.clone(),
            child_full_name: child.full_name.clone(),
            child_birth_date: child.birth_date.clone(),
            applicant_iin: request.applicant_iin.clone(),
            applicant_full_name: request.applicant_full_name.clone(),
            applicant_phone: request.applicant_phone.clone(),
            applicant_email: request.applicant_email.clone(),
            applicant_address: request.applicant_address.clone(),
            applicant_relation: request.applicant_relation.clone(),
            desired_start: request.desired_start.clone(),
            kindergartens: request.kindergartens.clone(),
            language: request.language.clone(),
            priority_category: request.priority_category.clone(),
            priority_document: request.priority_document.clone(),
        })
        .collect();
    let ran = ctx
        .submission(&app)
        .run(Command::RegisterFamily {
            forms,
            together,
            channel,
        })
        .await;
    if let Err(refusal) = &ran {
        identity::refused(&app, person.as_ref(), &child_iins, refusal.kind, ctx.lang)?;
    }
    let (outcome, replayed) = ran?;
    let Outcome::FamilyRegistered {
        family,
        applications,
        access_code,
        referrals,
        positions,
    } = outcome
    else {
        unreachable!("a family registration answers FamilyRegistered")
    };
    let state = app.service.read();
    let children = applications
        .iter()
        .zip(&positions)
        .map(|(application, position)| FamilyMemberView {
            number: ids::application_number(&state.catalog, application.id),
            status: views::codec_text(&application.status),
            registered_at: application.registered_at,
            position: position.as_ref().map(PositionView::from),
            referral: referrals
                .iter()
                .find(|r| r.application == application.id)
                .map(|r| ReferralView::of(&state.catalog, r)),
        })
        .collect();
    drop(state);
    Ok(no_store(created(
        replayed,
        FamilyRegistered {
            family: family.0,
            access_code,
            together,
            children,
        },
    )))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FamilyChoice {
    /// Places only together (true), or each child as it comes (false).
    pub together: bool,
}

/// Changes the family's choice between "together only" and "separately" (the parent of
/// any of its children, or district staff).
#[utoipa::path(post, path = "/api/v1/applications/{number}/family", tag = "parent",
    params(("number" = String, Path, description = "ESL-17"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    request_body = FamilyChoice,
    security(("access_code" = []), ("staff_token" = [])),
    responses((status = 200, body = Done),
              (status = 409, description = "the application is in no family"),
              (status = 422, description = "nothing_to_amend")))]
async fn set_family_choice(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
    ApiJson(choice): ApiJson<FamilyChoice>,
) -> Result<Response, ApiError> {
    let id = reach(&app, &ctx, &number)?;
    let (_, replayed) = ctx
        .submission(&app)
        .run(Command::SetFamilyChoice {
            id,
            together: choice.together,
        })
        .await?;
    Ok(no_store(ok(replayed, Done::new("set"))))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequestBody {
    /// 1 to 5 other kindergartens of the district, most wanted first.
    pub kindergartens: Vec<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransferAnswer {
    /// waiting (in the district's transfer queue) or referred (a place was open).
    pub status: String,
    pub referral: Option<ReferralView>,
}

/// Asks to move an enrolled child to other kindergartens of the district (the parent, or
/// district staff). The request waits in the transfer queue by its time; by default a place
/// goes to a transfer only when no first-time applicant fits it.
#[utoipa::path(post, path = "/api/v1/applications/{number}/transfer", tag = "parent",
    params(("number" = String, Path, description = "ESL-17"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    request_body = TransferRequestBody,
    security(("access_code" = []), ("staff_token" = [])),
    responses((status = 201, body = TransferAnswer),
              (status = 409, description = "not_enrolled or transfer_pending"),
              (status = 422, description = "transfer_to_own_kindergarten, too_many_kindergartens, kindergarten_not_in_district, ...")))]
async fn request_transfer(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
    ApiJson(body): ApiJson<TransferRequestBody>,
) -> Result<Response, ApiError> {
    let id = reach(&app, &ctx, &number)?;
    let form = TransferForm {
        kindergartens: body.kindergartens,
    };
    let (outcome, replayed) = ctx
        .submission(&app)
        .run(Command::RequestTransfer { id, form })
        .await?;
    let Outcome::Transfer { referral } = outcome else {
        unreachable!("a transfer request answers Transfer")
    };
    let state = app.service.read();
    let body = TransferAnswer {
        status: if referral.is_some() {
            "referred"
        } else {
            "waiting"
        }
        .to_string(),
        referral: referral.map(|r| ReferralView::of(&state.catalog, &r)),
    };
    drop(state);
    Ok(no_store(created(replayed, body)))
}

/// A plain acknowledgement.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Done {
    pub status: String,
}

impl Done {
    pub fn new(status: &str) -> Done {
        Done {
            status: status.to_string(),
        }
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveyAnswers {
    /// Satisfied with the process and the result? not, partly, fully
    #[schema(value_type = String, example = "fully")]
    pub process: Satisfaction,
    /// Satisfied with the information about the procedure? not, partly, fully
    #[schema(value_type = String, example = "partly")]
    pub information: Satisfaction,
}

/// The two-question quality survey, once, after the application is completed.
#[utoipa::path(post, path = "/api/v1/applications/{number}/survey", tag = "parent",
    params(("number" = String, Path, description = "ESL-17")),
    request_body = SurveyAnswers,
    security(("access_code" = [])),
    responses((status = 200, body = Done), (status = 409, description = "survey_not_yet or survey_already_answered")))]
async fn survey(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
    ApiJson(answers): ApiJson<SurveyAnswers>,
) -> Result<Response, ApiError> {
    if !matches!(
        ctx.caller,
        Caller::Parent(_) | Caller::Session(_) | Caller::Person(_)
    ) {
        // The survey asks the parent; staff answering for them would bias it.
        return Err(match ctx.caller {
            Caller::Public => ctx.error(error::ACCESS_CODE_REQUIRED),
            _ => ctx.error(error::FORBIDDEN),
        });
    }
    let id = reach(&app, &ctx, &number)?;
    let (_, replayed) = ctx
        .submission(&app)
        .run(Command::AnswerSurvey {
            id,
            process: answers.process,
            information: answers.information,
        })
        .await?;
    Ok(no_store(ok(replayed, Done::new("answered"))))
}

/// The path's referral and its application, if the caller may reach the application.
pub async fn reach_referral(
    app: &AppState,
    ctx: &Ctx,
    number: &str,
) -> Result<(ReferralId, ApplicationId), ApiError> {
    let id = ids::parse_referral(&app.service.read().catalog, number);
    let referral = match id {
        Some(id) => read_blocking(app, ctx.lang, move |conn| store::referral(conn, id)).await?,
        None => None,
    };
    let application = referral.as_ref().map(|r| r.application);
    let reached = application_access(app, &ctx.caller, ctx.ip, application, ctx.lang)?;
    let referral = referral.expect("reached only through a referral");
    Ok((referral.id, reached))
}

/// The parent declines the referral; the place goes to the next child at once.
#[utoipa::path(post, path = "/api/v1/referrals/{number}/decline", tag = "parent",
    params(("number" = String, Path, description = "ESL-R5")),
    security(("access_code" = []), ("staff_token" = [])),
    responses((status = 200, body = Done), (status = 409, description = "referral_not_live")))]
async fn decline(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let (referral, _) = reach_referral(&app, &ctx, &number).await?;
    let (_, replayed) = ctx
        .submission(&app)
        .run(Command::Decline { referral })
        .await?;
    Ok(no_store(ok(replayed, Done::new("declined"))))
}

/// Once, on the parent's request: the referral stays valid up to 30 calendar days from
/// its issue.
#[utoipa::path(post, path = "/api/v1/referrals/{number}/extend", tag = "parent",
    params(("number" = String, Path, description = "ESL-R5")),
    security(("access_code" = []), ("staff_token" = [])),
    responses((status = 200, body = ReferralView), (status = 409, description = "already_extended or referral_not_live")))]
async fn extend(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let (referral, _) = reach_referral(&app, &ctx, &number).await?;
    let (outcome, replayed) = ctx
        .submission(&app)
        .run(Command::Extend { referral })
        .await?;
    let Outcome::Referral(referral) = outcome else {
        unreachable!("an extension answers the referral")
    };
    let view = ReferralView::of(&app.service.read().catalog, &referral);
    Ok(no_store(ok(replayed, view)))
}
