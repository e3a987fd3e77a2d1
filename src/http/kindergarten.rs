//! Kindergarten accounts: report free places (each goes at once to whoever's turn it is)
//! and confirm that a referral was handed in.

use super::applications::Ctx;
use super::error::{self, ApiError};
use super::extract::ApiJson;
use super::views::ReferralView;
use super::{created, ok, AppState};
use crate::domain::catalog::{AgeBand, GroupId, KindergartenId, Language};
use crate::domain::numbers as ids;
use crate::domain::staff::{Role, Scope};
use crate::service::{Command, NewPlaces, Outcome};
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(vacancies))
        .routes(routes!(hand_in))
}

/// Free places of one kind. With a group, the age band and language default to the
/// group's.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VacancyReport {
    pub group: Option<u32>,
    /// Children born from this date...
    pub born_from: Option<NaiveDate>,
    /// ...to this date, inclusive.
    pub born_to: Option<NaiveDate>,
    /// kk or ru
    pub language: Option<String>,
    /// 1 to 300.
    pub count: u32,
    /// From when the places are free: today up to a year ahead.
    pub available_from: NaiveDate,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VacanciesReported {
    pub places: Vec<u64>,
    /// The referrals issued for them, in queue order; places nobody fits stay open and go
    /// to the first fitting registration.
    pub referrals: Vec<ReferralView>,
}

/// The kindergarten's own account: the path's kindergarten must be the account's.
fn own_kindergarten(ctx: &Ctx, id: KindergartenId) -> Result<(), ApiError> {
    let account = ctx.caller.staff_in(&[Role::Kindergarten], ctx.lang)?;
    if account.scope != Scope::Kindergarten(id) {
        return Err(ctx.error(error::FORBIDDEN));
    }
    Ok(())
}

/// Reports free places; answers with the referrals they were issued as.
#[utoipa::path(post, path = "/api/v1/kindergartens/{id}/vacancies", tag = "kindergarten",
    params(("id" = u32, Path, description = "Kindergarten id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    request_body = VacancyReport, security(("staff_token" = [])),
    responses((status = 201, body = VacanciesReported), (status = 403, description = "Another kindergarten")))]
async fn vacancies(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<u32>,
    ApiJson(report): ApiJson<VacancyReport>,
) -> Result<Response, ApiError> {
    let kindergarten = KindergartenId(id);
    own_kindergarten(&ctx, kindergarten)?;
    let age_band = match (report.born_from, report.born_to) {
        (None, None) => None,
        (Some(born_from), Some(born_to)) if born_from <= born_to => {
            Some(AgeBand { born_from, born_to })
        }
        _ => {
            return Err(ctx
                .error(error::INVALID)
                .with_detail("born_from, born_to".into()))
        }
    };
    let language = match report.language.as_deref() {
        None => None,
        Some(code) => Some(
            Language::parse(code)
                .ok_or_else(|| ctx.error(error::INVALID).with_detail("language".into()))?,
        ),
    };
    let command = Command::ReportPlaces(NewPlaces {
        kindergarten,
        group: report.group.map(GroupId),
        age_band,
        language,
        count: report.count,
        available_from: report.available_from,
    });
    let (outcome, replayed) = ctx.submission(&app).run(command).await?;
    let Outcome::PlacesReported { places, referrals } = outcome else {
        unreachable!("a report answers PlacesReported")
    };
    let state = app.service.read();
    let body = VacanciesReported {
        places: places.iter().map(|p| p.0).collect(),
        referrals: referrals
            .iter()
            .map(|r| ReferralView::of(&state.catalog, r))
            .collect(),
    };
    drop(state);
    Ok(created(replayed, body))
}

/// The child came with the referral: enrolled, the application completed, the place
/// filled. Only the referral's own kindergarten may confirm it.
#[utoipa::path(post, path = "/api/v1/referrals/{number}/hand-in", tag = "kindergarten",
    params(("number" = String, Path, description = "ESL-R5")),
    security(("staff_token" = [])),
    responses((status = 200, body = ReferralView), (status = 403, description = "Another kindergarten's referral"),
               (status = 409, description = "referral_not_live")))]
async fn hand_in(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let account = ctx.caller.staff_in(&[Role::Kindergarten], ctx.lang)?;
    let Scope::Kindergarten(by) = account.scope else {
        return Err(ctx.error(error::FORBIDDEN));
    };
    let referral = ids::parse_referral(&app.service.read().catalog, &number)
        .ok_or_else(|| ctx.error(error::NOT_FOUND))?;
    let (outcome, replayed) = ctx
        .submission(&app)
        .run(Command::HandIn { referral, by })
        .await?;
    let Outcome::Referral(referral) = outcome else {
        unreachable!("a hand-in answers the referral")
    };
    let view = ReferralView::of(&app.service.read().catalog, &referral);
    Ok(ok(replayed, view))
}
