//! What anyone may see, without signing in: the districts and kindergartens, each district's
//! queue in order (anonymised: numbers, birth years, tiers, times; no names, no IINs), and
//! the protocol of free places and the referrals they became.

use super::applications::{read_blocking, Ctx};
use super::error::{self, ApiError, Lang};
use super::extract::ApiQuery;
use super::views::{self, NamesView, PlaceView};
use super::{ok, AppState};
use crate::domain::catalog::{KindergartenId, Tier};
use crate::domain::numbers as ids;
use crate::store;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(districts))
        .routes(routes!(kindergartens))
        .routes(routes!(queue))
        .routes(routes!(protocol))
        .routes(routes!(chain_link))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub applications_waiting: usize,
    pub referrals_live: usize,
}

/// Liveness, and the two numbers that say the state is loaded.
#[utoipa::path(get, path = "/api/v1/health", tag = "public",
    responses((status = 200, body = Health)))]
async fn health(State(app): State<AppState>) -> Json<Health> {
    let state = app.service.read();
    Json(Health {
        status: "ok".into(),
        applications_waiting: state.waiting.len(),
        referrals_live: state.live.len(),
    })
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct DistrictView {
    pub id: u32,
    pub code: String,
    pub names: NamesView,
    pub languages: Vec<String>,
}

#[utoipa::path(get, path = "/api/v1/districts", tag = "public",
    responses((status = 200, body = Vec<DistrictView>)))]
async fn districts(State(app): State<AppState>) -> Json<Vec<DistrictView>> {
    let state = app.service.read();
    Json(
        state
            .catalog
            .districts
            .values()
            .map(|d| DistrictView {
                id: d.id.0,
                code: d.code.clone(),
                names: NamesView::from(&d.names),
                languages: d.languages.iter().map(|l| l.code().to_string()).collect(),
            })
            .collect(),
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
// Query parameters: without this, utoipa documents the fields as required path parameters.
#[into_params(parameter_in = Query)]
pub struct KindergartenParams {
    /// A district code or id; all districts when absent.
    pub district: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct KindergartenView {
    pub id: u32,
    pub district: String,
    pub number: String,
    pub names: NamesView,
    pub address: String,
    pub groups: Vec<GroupView>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct GroupView {
    pub id: u32,
    pub name: String,
    pub language: String,
    pub born_from: chrono::NaiveDate,
    pub born_to: chrono::NaiveDate,
    pub capacity: u32,
}

#[utoipa::path(get, path = "/api/v1/kindergartens", tag = "public",
    params(KindergartenParams),
    responses((status = 200, body = Vec<KindergartenView>)))]
async fn kindergartens(
    State(app): State<AppState>,
    ctx: Ctx,
    ApiQuery(params): ApiQuery<KindergartenParams>,
) -> Result<Json<Vec<KindergartenView>>, ApiError> {
    let state = app.service.read();
    let district = match &params.district {
        None => None,
        Some(text) => Some(
            ids::parse_district(&state.catalog, text).ok_or_else(|| ctx.error(error::NOT_FOUND))?,
        ),
    };
    let views = state
        .catalog
        .kindergartens
        .values()
        .filter(|k| district.is_none_or(|d| k.district == d))
        .map(|k| KindergartenView {
            id: k.id.0,
            district: ids::district_code(&state.catalog, k.district),
            number: k.number.clone(),
            names: NamesView::from(&k.names),
            address: k.address.clone(),
            groups: state
                .catalog
                .groups
                .values()
                .filter(|g| g.kindergarten == k.id)
                .map(|g| GroupView {
                    id: g.id.0,
                    name: g.name.clone(),
                    language: g.language.code().to_string(),
                    born_from: g.age_band.born_from,
                    born_to: g.age_band.born_to,
                    capacity: g.capacity,
                })
                .collect(),
        })
        .collect();
    Ok(Json(views))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
// Query parameters: without this, utoipa documents the fields as required path parameters.
#[into_params(parameter_in = Query)]
pub struct QueueParams {
    /// Birth year; the oldest cohort with anyone waiting when absent.
    pub cohort: Option<i32>,
    /// Only those who chose this kindergarten or take any: the order its places follow.
    pub kindergarten: Option<u32>,
    pub offset: Option<usize>,
    /// At most 500; default 50.
    pub limit: Option<usize>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CohortSize {
    pub cohort: i32,
    pub waiting: usize,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct QueueEntry {
    pub position: usize,
    /// `ESL-17`
    pub number: String,
    pub birth_year: i32,
    /// out_of_turn, first, general
    pub tier: String,
    pub registered_at: DateTime<Utc>,
    /// On the stop list after a lapsed referral: keeps its position, takes no place.
    pub on_stop_list: bool,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct QueuePage {
    pub district: String,
    pub cohorts: Vec<CohortSize>,
    pub cohort: Option<i32>,
    pub kindergarten: Option<u32>,
    pub total: usize,
    pub offset: usize,
    pub entries: Vec<QueueEntry>,
}

const QUEUE_PAGE_MAX: usize = 500;

/// The district's queue in order, anonymised.
#[utoipa::path(get, path = "/api/v1/districts/{district}/queue", tag = "public",
    params(("district" = String, Path, description = "Code or id"), QueueParams),
    responses((status = 200, body = QueuePage), (status = 404, description = "Unknown district")))]
async fn queue(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(district): Path<String>,
    ApiQuery(params): ApiQuery<QueueParams>,
) -> Result<Response, ApiError> {
    Ok(ok(false, queue_page(&app, ctx.lang, &district, &params)?))
}

/// One page of the district's anonymised queue: the API's answer and the public page's
/// content.
pub(super) fn queue_page(
    app: &AppState,
    lang: Lang,
    district: &str,
    params: &QueueParams,
) -> Result<QueuePage, ApiError> {
    let state = app.service.read();
    let district = ids::parse_district(&state.catalog, district)
        .ok_or_else(|| ApiError::new(error::NOT_FOUND, lang))?;
    let cohorts = state.waiting.cohort_sizes(district);
    let cohort = params.cohort.or(cohorts.first().map(|(c, _)| *c));
    let offset = params.offset.unwrap_or(0);
    let limit = params.limit.unwrap_or(50).min(QUEUE_PAGE_MAX);
    let kindergarten = params.kindergarten.map(KindergartenId);
    if let Some(kindergarten) = kindergarten {
        if state
            .catalog
            .kindergartens
            .get(&kindergarten)
            .is_none_or(|k| k.district != district)
        {
            return Err(ApiError::new(error::NOT_FOUND, lang));
        }
    }
    // Under the 1 : 3 interleave the queue is listed in the order places would go, played
    // out from where the district's cycle stands, so that the n-th listed child is the one
    // whose position (`QueueState::position`) is n; otherwise key order is that order.
    let interleave = state.policy(district).interleave_first_priority;
    let fetch = |rank: usize, limit: usize| match (cohort, kindergarten) {
        (None, _) => (0, Vec::new()),
        (Some(cohort), None) => {
            let total = cohorts
                .iter()
                .find(|(c, _)| *c == cohort)
                .map_or(0, |(_, n)| *n);
            (
                total,
                state.waiting.cohort_page(district, cohort, rank, limit),
            )
        }
        (Some(cohort), Some(kindergarten)) => {
            state
                .waiting
                .kindergarten_page(district, kindergarten, cohort, rank, limit)
        }
    };
    let (total, page) = match cohort {
        Some(cohort) if interleave => {
            let totals = state.waiting.tier_totals(district, cohort, kindergarten);
            let turns = state.cycle(district).turns(
                totals,
                u32::try_from(offset).unwrap_or(u32::MAX),
                u32::try_from(limit).unwrap_or(u32::MAX),
            );
            let page = turns
                .into_iter()
                .filter_map(|(tier, index)| {
                    let tier_start = match tier {
                        Tier::OutOfTurn => 0,
                        Tier::First => totals[0],
                        Tier::General => totals[0] + totals[1],
                    };
                    fetch((tier_start + index) as usize, 1).1.pop()
                })
                .collect();
            (totals.iter().sum::<u32>() as usize, page)
        }
        _ => fetch(offset, limit),
    };
    let entries = page
        .iter()
        .enumerate()
        .map(|(i, w)| QueueEntry {
            position: offset + i + 1,
            number: ids::application_number(
                &state.catalog,
                crate::domain::application::ApplicationId {
                    district,
                    number: w.key.number,
                },
            ),
            birth_year: w.cohort(),
            tier: views::tier_code(w.key.tier).to_string(),
            registered_at: DateTime::from_timestamp_micros(w.key.registered_at_micros)
                .unwrap_or_default(),
            on_stop_list: w.held,
        })
        .collect();
    let body = QueuePage {
        district: ids::district_code(&state.catalog, district),
        cohorts: cohorts
            .iter()
            .map(|(cohort, waiting)| CohortSize {
                cohort: *cohort,
                waiting: *waiting,
            })
            .collect(),
        cohort,
        kindergarten: params.kindergarten,
        total,
        offset,
        entries,
    };
    drop(state);
    Ok(body)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
// Query parameters: without this, utoipa documents the fields as required path parameters.
#[into_params(parameter_in = Query)]
pub struct ProtocolParams {
    /// From this instant (RFC 3339); 30 days before `to` when absent.
    pub from: Option<DateTime<Utc>>,
    /// Up to this instant, exclusive; now (inclusive) when absent.
    pub to: Option<DateTime<Utc>>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ProtocolReferral {
    pub number: String,
    /// The application it went to: find it in the queue's history by number.
    pub application: String,
    pub kindergarten: u32,
    pub place: u64,
    pub issued_at: DateTime<Utc>,
    pub status: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Protocol {
    pub district: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub places: Vec<PlaceView>,
    pub referrals: Vec<ProtocolReferral>,
    /// True when a list was cut at 1000 rows: ask for a shorter period.
    pub truncated: bool,
}

const PROTOCOL_ROWS_MAX: u32 = 1000;

/// Free places reported and referrals issued in a period, anonymised: anyone can check
/// that each place went to whoever's turn it was.
#[utoipa::path(get, path = "/api/v1/districts/{district}/protocol", tag = "public",
    params(("district" = String, Path, description = "Code or id"), ProtocolParams),
    responses((status = 200, body = Protocol), (status = 404, description = "Unknown district")))]
async fn protocol(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(district): Path<String>,
    ApiQuery(params): ApiQuery<ProtocolParams>,
) -> Result<Response, ApiError> {
    Ok(ok(
        false,
        protocol_of(&app, ctx.lang, &district, &params).await?,
    ))
}

/// The district's protocol for a period: the API's answer and the public page's content.
pub(super) async fn protocol_of(
    app: &AppState,
    lang: Lang,
    district: &str,
    params: &ProtocolParams,
) -> Result<Protocol, ApiError> {
    let district = ids::parse_district(&app.service.read().catalog, district)
        .ok_or_else(|| ApiError::new(error::NOT_FOUND, lang))?;
    // "Up to now" includes what happened at this very instant.
    let to = params
        .to
        .unwrap_or_else(|| app.service.now() + chrono::Duration::microseconds(1));
    // `to` may be any instant chrono can hold; 30 days before the earliest of them is not
    // one, so the default period is cut at the earliest rather than overflow (a panic).
    let from = params.from.unwrap_or_else(|| {
        to.checked_sub_signed(chrono::Duration::days(30))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    });
    if from > to {
        return Err(ApiError::new(error::QUERY_INVALID, lang).with_detail("from".into()));
    }
    let (places, referrals) = read_blocking(app, lang, move |conn| {
        Ok((
            store::places_reported(conn, district, from, to, PROTOCOL_ROWS_MAX)?,
            store::referrals_issued(conn, district, from, to, PROTOCOL_ROWS_MAX)?,
        ))
    })
    .await?;
    let state = app.service.read();
    let truncated =
        places.len() as u32 == PROTOCOL_ROWS_MAX || referrals.len() as u32 == PROTOCOL_ROWS_MAX;
    let body = Protocol {
        district: ids::district_code(&state.catalog, district),
        from,
        to,
        places: places.iter().map(PlaceView::from).collect(),
        referrals: referrals
            .iter()
            .map(|r| ProtocolReferral {
                number: ids::referral_number(&state.catalog, r.id),
                application: ids::application_number(&state.catalog, r.application),
                kindergarten: r.kindergarten.0,
                place: r.place.0,
                issued_at: r.issued_at,
                status: views::codec_text(&r.status),
            })
            .collect(),
        truncated,
    };
    drop(state);
    Ok(body)
}

/// One link of the journal's hash chain, without its event: enough to check a published
/// chain head, never what happened.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ChainLink {
    pub seq: u64,
    pub recorded_at: DateTime<Utc>,
    /// Hex SHA-256 of the event before (zeros before the first).
    pub prev_hash: String,
    pub hash: String,
}

/// The public audit feed of chain heads: anyone holding a chain head the service published
/// (an open-data snapshot names one) can check that the journal has it at that sequence
/// number. The event itself (it may hold personal data) is for administrators only
/// (`/api/v1/audit`).
#[utoipa::path(get, path = "/api/v1/chain/{seq}", tag = "public",
    params(("seq" = u64, Path, description = "The journal's sequence number")),
    responses((status = 200, body = ChainLink), (status = 404, description = "No such event")))]
async fn chain_link(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(seq): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::new(error::NOT_FOUND, ctx.lang);
    let seq: u64 = seq.parse().map_err(|_| not_found())?;
    let events = read_blocking(&app, ctx.lang, move |conn| {
        store::events_after(conn, seq.saturating_sub(1), 1)
    })
    .await?;
    let event = events
        .into_iter()
        .next()
        .filter(|event| event.seq == seq)
        .ok_or_else(not_found)?;
    Ok(ok(
        false,
        ChainLink {
            seq,
            recorded_at: event.recorded_at,
            prev_hash: hex::encode(event.prev_hash),
            hash: hex::encode(event.hash),
        },
    ))
}
