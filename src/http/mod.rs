//! HTTP: the only module that knows JSON over the wire and status codes. Handlers are thin
//! and delegate to the service. For now: health, and the manual clock for black-box tests;
//! the audience routers (parents, officers, kindergartens, public, admin) come with the API.

pub mod error;

use crate::clock::{Clock, ManualClock};
use crate::service::{Service, TickReport};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use error::{ApiError, Lang};
use serde::{Deserialize, Serialize};

#[derive(Clone)]
struct AppState {
    service: Service,
    /// Present only when the service was started with `--clock manual`.
    manual_clock: Option<ManualClock>,
}

pub fn router(service: Service, manual_clock: Option<ManualClock>) -> Router {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/admin/clock", post(set_clock))
        .with_state(AppState {
            service,
            manual_clock,
        })
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    applications_waiting: usize,
    referrals_live: usize,
}

async fn health(State(app): State<AppState>) -> Json<Health> {
    let state = app.service.read();
    Json(Health {
        status: "ok",
        applications_waiting: state.waiting.len(),
        referrals_live: state.live.len(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockRequest {
    now: DateTime<Utc>,
}

#[derive(Serialize)]
struct ClockAnswer {
    now: DateTime<Utc>,
    expired: usize,
    released: usize,
    aged_out: usize,
    referrals_issued: usize,
}

/// Moves the manual clock forward and processes whatever fell due, before answering, so a
/// test that travels in time sees the consequences at once.
async fn set_clock(
    State(app): State<AppState>,
    headers: HeaderMap,
    Json(request): Json<ClockRequest>,
) -> Result<Json<ClockAnswer>, ApiError> {
    let lang = Lang::from_headers(&headers);
    let Some(clock) = app.manual_clock else {
        return Err(ApiError::new(error::CLOCK_NOT_MANUAL, lang));
    };
    if request.now < clock.now() {
        return Err(ApiError::new(error::CLOCK_BACKWARDS, lang));
    }
    clock.set(request.now);
    let report: TickReport = app
        .service
        .tick()
        .await
        .map_err(|e| ApiError::from_command(e, lang))?;
    Ok(Json(ClockAnswer {
        now: clock.now(),
        expired: report.expired,
        released: report.released,
        aged_out: report.aged_out,
        referrals_issued: report.referrals_issued,
    }))
}
