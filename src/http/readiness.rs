//! Readiness: whether this process can do its work now, for a load balancer or an
//! orchestrator to route by. `/api/v1/health` stays "the process is alive"; this one asks the
//! writer to begin and commit a transaction that changes nothing (through its queue, its
//! connection and SQLite's write lock) and checks that the scheduler's thread runs.
//!
//! One probe at a time, and its answer is kept for a second: anyone may call the endpoint,
//! and a flood of calls must not become a flood of writer commands.

use super::error::{self, ApiError, Lang};
use super::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// How long the writer has to answer the probe. Shorter than the writer's busy timeout, so
/// a database locked by another process reads as "not ready" rather than a hung request.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long an answer is reused.
const ANSWER_KEPT: Duration = Duration::from_secs(1);

/// The last probe's answer and when it was taken.
pub type LastProbe = tokio::sync::Mutex<Option<(Instant, Result<(), &'static str>)>>;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ready))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Ready {
    /// Always "ready" in a 200.
    pub status: String,
}

/// Whether a write can commit now and the scheduler runs. 503 `not_ready` otherwise, its
/// `detail` naming what failed: `writer` (locked by another process, read-only, stopped) or
/// `scheduler`.
#[utoipa::path(get, path = "/api/v1/ready", tag = "public",
    responses((status = 200, body = Ready),
        (status = 503, description = "`not_ready`: the writer cannot commit, or the scheduler stopped")))]
async fn ready(State(app): State<AppState>, lang: Lang) -> Response {
    let mut last = app.last_probe.lock().await;
    let answer = match *last {
        Some((at, answer)) if at.elapsed() < ANSWER_KEPT => answer,
        _ => {
            let answer = probe(&app).await;
            *last = Some((Instant::now(), answer));
            answer
        }
    };
    drop(last);
    match answer {
        Ok(()) => Json(Ready {
            status: "ready".into(),
        })
        .into_response(),
        Err(what) => ApiError::new(error::NOT_READY, lang)
            .with_detail(what.to_string())
            .retry_after(1)
            .into_response(),
    }
}

async fn probe(app: &AppState) -> Result<(), &'static str> {
    match tokio::time::timeout(PROBE_TIMEOUT, app.service.probe_writer()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: the writer cannot commit");
            return Err("writer");
        }
        Err(_) => {
            tracing::warn!(timeout = ?PROBE_TIMEOUT, "readiness: the writer did not answer");
            return Err("writer");
        }
    }
    if !app.service.scheduler_running() {
        tracing::warn!("readiness: the scheduler has stopped");
        return Err("scheduler");
    }
    Ok(())
}
