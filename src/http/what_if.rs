//! What-if for administrators (issue 18, §4): a small city-year under several policies side
//! by side, as `kezek simulate --compare` prints it. The comparison is
//! `simulate::compare::run`, the command line's own code, on new databases in a temporary
//! directory of their own (never the live one), in a blocking task off the writer; its
//! people are synthetic. One comparison runs at a time, and a city is bounded so that one
//! takes about a minute at most on this machine.

use super::applications::Ctx;
use super::error::{self, ApiError, Lang};
use super::extract::ApiJson;
use super::{ok, AppState};
use crate::domain::staff::Role;
use crate::simulate::{compare, SimPolicy, SimulateOptions};
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The largest city a what-if runs: 5,000 registrations (about a minute for five columns on
/// two shared cores, debug build about four), and at most 200 kindergartens.
pub const REGISTRATIONS_MAX: usize = 5_000;
pub const KINDERGARTENS_MAX: usize = 200;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(what_if))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhatIfRequest {
    /// Registrations over the city-year, 1 to 5,000.
    pub registrations: usize,
    /// Kindergartens of the city: at least one per district (5), at most 200.
    pub kindergartens: usize,
    /// The random seed: the same seed gives the same figures.
    pub seed: u64,
    /// The columns, by key: place_by_place, round, round_1_3_off, round_1_3_on,
    /// round_together_off; at least one.
    pub policies: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WhatIfRow {
    /// A stable key of the figure (the pages' texts are keyed by it).
    pub key: String,
    /// The figure's name in English, as `kezek simulate --compare` prints it.
    pub name: String,
    /// One cell per column, as the command line prints it.
    pub cells: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WhatIfView {
    pub seed: u64,
    pub registrations: usize,
    pub kindergartens: usize,
    /// The columns' names, in the order of the cells.
    pub columns: Vec<String>,
    /// The columns' policies by key (as the request names them), in the same order.
    pub policies: Vec<String>,
    pub rows: Vec<WhatIfRow>,
}

/// Runs the same city-year and seed under the chosen policies and answers the audit's
/// figures side by side (the rows of `kezek simulate --compare`).
#[utoipa::path(post, path = "/api/v1/what-if", tag = "admin", request_body = WhatIfRequest,
    security(("staff_token" = [])),
    responses((status = 200, body = WhatIfView),
        (status = 409, description = "what_if_busy"),
        (status = 422, description = "what_if_size_invalid, what_if_policy_unknown")))]
async fn what_if(
    State(_app): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<WhatIfRequest>,
) -> Result<Response, ApiError> {
    ctx.caller.staff_in(&[Role::Admin], ctx.lang)?;
    Ok(ok(false, what_if_view(body, ctx.lang).await?))
}

/// The policies of a comparison, each with its column's name.
type Columns = Vec<(&'static str, SimPolicy)>;

/// The checks of a request: the options and the columns, or the error.
pub(super) fn checked(
    request: &WhatIfRequest,
    lang: Lang,
) -> Result<(SimulateOptions, Columns), ApiError> {
    let districts = crate::simulate::district_count();
    if !(1..=REGISTRATIONS_MAX).contains(&request.registrations) {
        return Err(
            ApiError::new(error::WHAT_IF_SIZE_INVALID, lang).with_detail("registrations".into())
        );
    }
    if !(districts..=KINDERGARTENS_MAX).contains(&request.kindergartens) {
        return Err(
            ApiError::new(error::WHAT_IF_SIZE_INVALID, lang).with_detail("kindergartens".into())
        );
    }
    let keys: Vec<&str> = request.policies.iter().map(String::as_str).collect();
    let policies = SimPolicy::by_keys(&keys)
        .ok()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            ApiError::new(error::WHAT_IF_POLICY_UNKNOWN, lang).with_detail("policies".into())
        })?;
    let options = SimulateOptions {
        seed: request.seed,
        registrations: request.registrations,
        kindergartens: request.kindergartens,
    };
    Ok((options, policies))
}

/// Whether a comparison is running (one at a time: each takes both cores for a while).
static RUNNING: AtomicBool = AtomicBool::new(false);
/// Numbers the comparisons' scratch directories within the process.
static RUNS: AtomicU64 = AtomicU64::new(0);

/// Clears `RUNNING` when the comparison ends, however it ends.
struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.store(false, Ordering::Release);
    }
}

/// The comparison the API answers and the page shows.
pub(super) async fn what_if_view(
    request: WhatIfRequest,
    lang: Lang,
) -> Result<WhatIfView, ApiError> {
    let (options, policies) = checked(&request, lang)?;
    if RUNNING.swap(true, Ordering::AcqRel) {
        return Err(ApiError::new(error::WHAT_IF_BUSY, lang).retry_after(60));
    }
    let running = Running;
    let run = tokio::task::spawn_blocking(move || {
        let _running = running;
        let scratch = std::env::temp_dir().join(format!(
            "kezek-what-if-{}-{}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
        let columns = compare::run(&options, &policies, &scratch);
        let _ = std::fs::remove_dir_all(&scratch);
        let columns = columns.map_err(|e| e.to_string())?;
        Ok::<_, String>((options, columns))
    });
    let (options, columns) = match run.await {
        Ok(Ok(done)) => done,
        Ok(Err(why)) => {
            tracing::error!(%why, "a what-if comparison failed");
            return Err(ApiError::new(error::INTERNAL, lang));
        }
        Err(_) => return Err(ApiError::new(error::INTERNAL, lang)),
    };
    Ok(WhatIfView {
        seed: options.seed,
        registrations: options.registrations,
        kindergartens: options.kindergartens,
        columns: columns.iter().map(|(name, _)| name.to_string()).collect(),
        policies: columns
            .iter()
            .map(|(name, _)| {
                let keyed = SimPolicy::keyed();
                let key = keyed.iter().find(|(_, n, _)| n == name).map(|(k, ..)| *k);
                key.unwrap_or_default().to_string()
            })
            .collect(),
        rows: compare::rows(&columns)
            .into_iter()
            .map(|row| WhatIfRow {
                key: row.key.into(),
                name: row.name,
                cells: row.cells,
            })
            .collect(),
    })
}
