//! The open data, for anyone (issue 17): the list of daily snapshots the service cut
//! (`crate::opendata::daily`) and each snapshot's files as they were signed. Files, not
//! answers computed per request: a snapshot is one moment of the journal, the same bytes
//! for everyone, checkable with `kezek check-export`.

use super::applications::Ctx;
use super::error::{self, ApiError};
use super::{ok, AppState};
use crate::opendata;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(snapshots))
        .routes(routes!(snapshot_file))
}

/// The files of a snapshot and their media types: nothing else in its folder is served.
const FILES: [(&str, &str); 9] = [
    ("datapackage.json", "application/json"),
    ("datapackage.json.sig", "application/json"),
    ("queue.csv", "text/csv; charset=utf-8"),
    ("queue.json", "application/json"),
    ("places.csv", "text/csv; charset=utf-8"),
    ("places.json", "application/json"),
    ("referrals.csv", "text/csv; charset=utf-8"),
    ("referrals.json", "application/json"),
    ("README.md", "text/markdown; charset=utf-8"),
];

#[derive(Serialize, Deserialize, ToSchema)]
pub struct SnapshotEntry {
    /// The local day it was cut at the start of.
    pub date: NaiveDate,
    /// Its data package; the other files are beside it.
    pub datapackage: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Snapshots {
    /// Newest first.
    pub snapshots: Vec<SnapshotEntry>,
}

/// The daily snapshots kept, newest first.
#[utoipa::path(get, path = "/api/v1/open-data", tag = "public",
    responses((status = 200, body = Snapshots)))]
async fn snapshots(State(app): State<AppState>) -> Response {
    let dir = app.open_data.clone();
    let days = tokio::task::spawn_blocking(move || opendata::kept(&dir))
        .await
        .unwrap_or_default();
    let snapshots = days
        .into_iter()
        .map(|date| SnapshotEntry {
            date,
            datapackage: format!("/api/v1/open-data/{date}/{}", opendata::DESCRIPTOR),
        })
        .collect();
    ok(false, Snapshots { snapshots })
}

/// One file of a day's snapshot, as signed.
#[utoipa::path(get, path = "/api/v1/open-data/{date}/{file}", tag = "public",
    params(("date" = String, Path, description = "YYYY-MM-DD"),
           ("file" = String, Path, description = "datapackage.json, queue.csv, ...")),
    responses((status = 200, description = "The file"), (status = 404, description = "No such snapshot or file")))]
async fn snapshot_file(
    State(app): State<AppState>,
    ctx: Ctx,
    Path((date, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::new(error::NOT_FOUND, ctx.lang);
    let date = NaiveDate::parse_from_str(&date, "%Y-%m-%d").map_err(|_| not_found())?;
    let (name, media_type) = FILES
        .iter()
        .find(|(name, _)| *name == file)
        .ok_or_else(not_found)?;
    let day = app.open_data.join(date.format("%Y-%m-%d").to_string());
    // Only a whole snapshot (its signature written last) is served.
    let path = day.join(name);
    let bytes = tokio::task::spawn_blocking(move || {
        day.join(opendata::SIGNATURE)
            .is_file()
            .then(|| std::fs::read(path).ok())
            .flatten()
    })
    .await
    .ok()
    .flatten()
    .ok_or_else(not_found)?;
    Ok((
        [
            (header::CONTENT_TYPE, *media_type),
            // A day's snapshot never changes.
            (header::CACHE_CONTROL, "public, max-age=86400, immutable"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        bytes,
    )
        .into_response())
}
