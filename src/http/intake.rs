//! Administrators and the intake round (issue 18): open a round for a district, list the
//! rounds, see the dry run (what the round would give if it closed now: each place with the
//! child's number and the rank of its choice, and the figures), close it now.
//!
//! The dry run is `QueueState::dry_run`, the close's own input and function, so what the
//! administrator reads is what the close will do unless the queue or the places change.

use super::applications::{read_blocking, Ctx};
use super::error::{self, ApiError, Lang};
use super::extract::ApiJson;
use super::{created, ok, AppState};
use crate::domain::catalog::{Catalog, KindergartenId};
use crate::domain::intake::{ChoiceRank, RoundFigures, RoundId, RoundOutcome};
use crate::domain::local_date;
use crate::domain::numbers as ids;
use crate::domain::staff::Role;
use crate::domain::state::QueueState;
use crate::service::{Command, Outcome};
use crate::store;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open_round))
        .routes(routes!(rounds))
        .routes(routes!(dry_run))
        .routes(routes!(close_round))
}

fn admin(ctx: &Ctx) -> Result<(), ApiError> {
    ctx.caller.staff_in(&[Role::Admin], ctx.lang).map(|_| ())
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoundRequest {
    /// The date the round's places are for (YYYY-MM-DD), today or later.
    pub places_for: NaiveDate,
    /// When the round closes and allocates (RFC 3339), after now and no later than the
    /// places' date.
    pub closes_at: DateTime<Utc>,
    /// Kindergarten ids in the order "any kindergarten" children take them; absent or empty:
    /// the catalog's.
    #[serde(default)]
    pub any_order: Vec<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoundCreated {
    pub id: u32,
}

/// Opens an intake round for a district: its places reported for `places_for` are collected
/// until it closes.
#[utoipa::path(post, path = "/api/v1/districts/{district}/rounds", tag = "admin",
    params(("district" = String, Path, description = "Code or id")),
    request_body = RoundRequest, security(("staff_token" = [])),
    responses((status = 201, body = RoundCreated), (status = 404, description = "not_found"),
        (status = 409, description = "round_overlaps"),
        (status = 422, description = "round_date_past, round_close_invalid, round_order_invalid")))]
async fn open_round(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(district): Path<String>,
    ApiJson(body): ApiJson<RoundRequest>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    let district = ids::parse_district(&app.service.read().catalog, &district)
        .ok_or_else(|| ctx.error(error::NOT_FOUND))?;
    let command = Command::OpenIntakeRound {
        district,
        places_for: body.places_for,
        closes_at: body.closes_at,
        any_order: body.any_order.into_iter().map(KindergartenId).collect(),
    };
    let (outcome, replayed) = ctx.submission(&app).run(command).await?;
    let Outcome::RoundOpened(id) = outcome else {
        unreachable!("an open answers its round")
    };
    Ok(created(replayed, RoundCreated { id: id.0 }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoundView {
    pub id: u32,
    /// The district's code.
    pub district: String,
    pub places_for: NaiveDate,
    pub closes_at: DateTime<Utc>,
    /// Absent while the round is open.
    pub closed_at: Option<DateTime<Utc>>,
    /// Places collected (while open) or allocated (after the close).
    pub places: u32,
    /// Referrals its close issued.
    pub referrals: u32,
}

/// Every intake round, the newest first.
#[utoipa::path(get, path = "/api/v1/rounds", tag = "admin", security(("staff_token" = [])),
    responses((status = 200, body = [RoundView])))]
async fn rounds(State(app): State<AppState>, ctx: Ctx) -> Result<Response, ApiError> {
    admin(&ctx)?;
    Ok(ok(false, round_views(&app, ctx.lang).await?))
}

/// The rounds as the list shows them (the API's and the page's).
pub(super) async fn round_views(app: &AppState, lang: Lang) -> Result<Vec<RoundView>, ApiError> {
    let rows = read_blocking(app, lang, store::intake_rounds).await?;
    let state = app.service.read();
    Ok(rows
        .into_iter()
        .map(|row| RoundView {
            id: row.id,
            district: ids::district_code(&state.catalog, row.district),
            places_for: row.places_for,
            closes_at: row.closes_at,
            closed_at: row.closed_at,
            places: row.places,
            referrals: row.referrals,
        })
        .collect())
}

/// One place of the round and the child the dry run gives it to.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct DryRunPlace {
    pub place: u64,
    pub kindergarten: u32,
    /// The kindergarten's public number ("No. 12").
    pub kindergarten_number: String,
    /// The group's name when the place was reported for a group.
    pub group: Option<String>,
    /// The child's application number (ESL-17).
    pub application: String,
    /// 1 for the first of its listed kindergartens, and so on; "any" for a child that takes
    /// any kindergarten of the district (counted as 1 in the figures).
    pub rank: String,
    pub transfer: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct DryRunFigures {
    pub places: usize,
    pub placed: usize,
    /// Placed at their first choice (or taking any), as a share of those placed.
    pub first_choice_share: f64,
    pub mean_rank: f64,
    pub unfilled: usize,
}

impl From<RoundFigures> for DryRunFigures {
    fn from(f: RoundFigures) -> Self {
        DryRunFigures {
            places: f.places,
            placed: f.placed,
            first_choice_share: f.first_choice_share,
            mean_rank: f.mean_rank,
            unfilled: f.unfilled,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct DryRunView {
    pub round: u32,
    pub district: String,
    pub places_for: NaiveDate,
    pub closes_at: DateTime<Utc>,
    /// In the order the close would issue the referrals.
    pub placements: Vec<DryRunPlace>,
    /// Application numbers of the first children of together-families that could not be
    /// placed whole (they keep their position).
    pub families_passed: Vec<String>,
    pub figures: DryRunFigures,
}

/// The dry run of the open round `round` as the state stands at `now`: `None` when no such
/// round is open. The API, the page and `kezek intake --dry-run` all show this.
pub fn dry_run_view(state: &QueueState, round: RoundId, now: DateTime<Utc>) -> Option<DryRunView> {
    let open = state.rounds.get(&round)?;
    let outcome = state.dry_run(round, local_date(now))?;
    Some(DryRunView {
        round: round.0,
        district: ids::district_code(&state.catalog, open.district),
        places_for: open.places_for,
        closes_at: open.closes_at,
        placements: placements(state, &outcome),
        families_passed: outcome
            .passed
            .iter()
            .filter_map(|f| state.families.get(f))
            .filter_map(|f| f.members.first())
            .map(|id| ids::application_number(&state.catalog, *id))
            .collect(),
        figures: outcome.figures().into(),
    })
}

fn placements(state: &QueueState, outcome: &RoundOutcome) -> Vec<DryRunPlace> {
    let catalog: &Catalog = &state.catalog;
    outcome
        .placements
        .iter()
        .map(|p| {
            let group = state.places[&p.place].group;
            DryRunPlace {
                place: p.place.0,
                kindergarten: p.kindergarten.0,
                kindergarten_number: catalog
                    .kindergartens
                    .get(&p.kindergarten)
                    .map(|k| k.number.clone())
                    .unwrap_or_default(),
                group: group
                    .and_then(|g| catalog.groups.get(&g))
                    .map(|g| g.name.clone()),
                application: ids::application_number(catalog, p.child),
                rank: match p.rank {
                    ChoiceRank::Listed(n) => n.to_string(),
                    ChoiceRank::Any => "any".into(),
                },
                transfer: p.transfer,
            }
        })
        .collect()
}

/// What the round would give if it closed now.
#[utoipa::path(get, path = "/api/v1/rounds/{round}/dry-run", tag = "admin",
    params(("round" = u32, Path, description = "The round's number")),
    security(("staff_token" = [])),
    responses((status = 200, body = DryRunView), (status = 404, description = "not_found"),
        (status = 409, description = "round_closed")))]
async fn dry_run(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(round): Path<u32>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    let state = app.service.read();
    match dry_run_view(&state, RoundId(round), app.service.now()) {
        Some(view) => Ok(ok(false, view)),
        None if (1..=state.last_round).contains(&round) => Err(ctx.error(error::ROUND_CLOSED)),
        None => Err(ctx.error(error::NOT_FOUND)),
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoundClosedView {
    /// Referral numbers, in the order issued.
    pub referrals: Vec<String>,
    /// Place ids nobody fitted (open from now on, place by place).
    pub unfilled: Vec<u64>,
    pub families_passed: usize,
}

/// Closes the round now: its allocation and every referral in one command.
#[utoipa::path(post, path = "/api/v1/rounds/{round}/close", tag = "admin",
    params(("round" = u32, Path, description = "The round's number")),
    security(("staff_token" = [])),
    responses((status = 200, body = RoundClosedView), (status = 404, description = "not_found"),
        (status = 409, description = "round_closed")))]
async fn close_round(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(round): Path<u32>,
) -> Result<Response, ApiError> {
    admin(&ctx)?;
    let command = Command::CloseIntakeRound {
        round: RoundId(round),
    };
    let (outcome, replayed) = ctx.submission(&app).run(command).await?;
    let Outcome::RoundClosed {
        referrals,
        unfilled,
        passed,
    } = outcome
    else {
        unreachable!("a close answers its referrals")
    };
    let catalog = &app.service.read().catalog;
    let view = RoundClosedView {
        referrals: referrals
            .iter()
            .map(|r| ids::referral_number(catalog, r.id))
            .collect(),
        unfilled: unfilled.iter().map(|p| p.0).collect(),
        families_passed: passed.len(),
    };
    Ok(ok(replayed, view))
}
