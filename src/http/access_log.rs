//! Who looked at what (issue 15, item 5): recording each staff view of personal data, and
//! reading the log: administrators all of it (by account, by application), a parent the
//! entries of their own application. Entries name the account, the time, the kind of view
//! and the application; never what was seen.

use super::applications::{reach, read_blocking, Ctx};
use super::auth::Caller;
use super::error::{self, ApiError, Lang};
use super::extract::ApiQuery;
use super::{no_store, ok, AppState};
use crate::domain::access_log::{LogFilter, StaffView, ViewKind};
use crate::domain::application::ApplicationId;
use crate::domain::numbers as ids;
use crate::domain::staff::Role;
use crate::service::Command;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(access_log))
        .routes(routes!(application_access_log))
}

const PAGE_MAX: u32 = 500;

/// Records that `caller`, if staff, saw `applications` in a view of `kind`, before the view
/// is answered: a view that could not be recorded is not shown. Parents' and the public's
/// views are not staff views and record nothing.
pub(crate) async fn record_views(
    app: &AppState,
    caller: &Caller,
    kind: ViewKind,
    applications: Vec<ApplicationId>,
    lang: Lang,
) -> Result<(), ApiError> {
    if !matches!(caller, Caller::Staff(_)) {
        return Ok(());
    }
    app.service
        .submit(Command::RecordViews { kind, applications }, caller.actor())
        .await
        .map(|_| ())
        .map_err(|e| ApiError::from_command(e, lang))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccessLogEntry {
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// The staff account's name.
    pub account: String,
    /// application, search, referral, roster
    pub kind: String,
    /// ESL-17; absent for a search that found nothing.
    pub application: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccessLog {
    pub entries: Vec<AccessLogEntry>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<u64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccessLogParams {
    /// Only this staff account's views.
    pub account: Option<String>,
    /// Only views of this application (ESL-17).
    pub application: Option<String>,
    /// The `seq` to continue after (paging, oldest first).
    pub after: Option<u64>,
    /// At most 500; default 100.
    pub limit: Option<u32>,
}

/// The staff access log, for administrators: every staff view of personal data, oldest
/// first, filtered by account and by application.
#[utoipa::path(get, path = "/api/v1/access-log", tag = "admin",
    params(AccessLogParams), security(("staff_token" = [])),
    responses((status = 200, body = AccessLog), (status = 403, description = "Not an administrator")))]
async fn access_log(
    State(app): State<AppState>,
    ctx: Ctx,
    ApiQuery(params): ApiQuery<AccessLogParams>,
) -> Result<Response, ApiError> {
    Ok(no_store(ok(
        false,
        access_log_of(&app, &ctx.caller, ctx.lang, &params).await?,
    )))
}

/// The log as an administrator reads it: the API's answer and the administrator's page.
pub(crate) async fn access_log_of(
    app: &AppState,
    caller: &Caller,
    lang: Lang,
    params: &AccessLogParams,
) -> Result<AccessLog, ApiError> {
    caller.staff_in(&[Role::Admin], lang)?;
    let application = match params.application.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(number) => Some(
            ids::parse_application(&app.service.read().catalog, number).ok_or_else(|| {
                ApiError::new(error::QUERY_INVALID, lang).with_detail("application".into())
            })?,
        ),
    };
    let filter = LogFilter {
        account: params
            .account
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(String::from),
        application,
        district: None,
        after: params.after.unwrap_or(0),
        limit: params.limit.unwrap_or(100).clamp(1, PAGE_MAX),
    };
    page_of(app, lang, filter).await
}

/// Who among the staff looked at this application: for its parent.
#[utoipa::path(get, path = "/api/v1/applications/{number}/access-log", tag = "parent",
    params(("number" = String, Path, description = "ESL-17"),
        ("after" = Option<u64>, Query, description = "The `seq` to continue after")),
    security(("access_code" = [])),
    responses((status = 200, body = AccessLog), (status = 404, description = "Unknown, or not yours")))]
async fn application_access_log(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> Result<Response, ApiError> {
    // The parent's own log; staff read it through the administrators' log.
    if matches!(ctx.caller, Caller::Staff(_)) {
        return Err(ctx.error(error::FORBIDDEN));
    }
    let id = reach(&app, &ctx, &number)?;
    Ok(no_store(ok(
        false,
        application_log_of(&app, ctx.lang, id, paging.after.unwrap_or(0)).await?,
    )))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    after: Option<u64>,
}

/// One application's entries (the caller already checked it may read them).
pub(crate) async fn application_log_of(
    app: &AppState,
    lang: Lang,
    id: ApplicationId,
    after: u64,
) -> Result<AccessLog, ApiError> {
    let filter = LogFilter {
        account: None,
        application: Some(id),
        district: None,
        after,
        limit: PAGE_MAX,
    };
    page_of(app, lang, filter).await
}

async fn page_of(app: &AppState, lang: Lang, filter: LogFilter) -> Result<AccessLog, ApiError> {
    let limit = filter.limit;
    let views: Vec<StaffView> = read_blocking(app, lang, move |conn| {
        crate::store::access_log::views(conn, &filter)
    })
    .await?;
    let catalog = &app.service.read().catalog;
    let next_after = views
        .last()
        .map(|v| v.seq)
        .filter(|_| views.len() as u32 == limit);
    let entries = views
        .into_iter()
        .map(|v| AccessLogEntry {
            seq: v.seq,
            at: v.at,
            account: v.account,
            kind: v.kind.code().to_string(),
            application: v.application.map(|a| ids::application_number(catalog, a)),
        })
        .collect();
    Ok(AccessLog {
        entries,
        next_after,
    })
}
