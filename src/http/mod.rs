//! HTTP: the only module that knows JSON over the wire and status codes. Handlers are thin
//! and delegate to the service. For now: the health endpoint; the audience routers (parents,
//! officers, kindergartens, public, admin) come with the API.

use crate::service::Service;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

pub fn router(service: Service) -> Router {
    Router::new()
        .route("/api/v1/health", get(health))
        .with_state(service)
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    applications_waiting: usize,
}

async fn health(State(service): State<Service>) -> Json<Health> {
    Json(Health {
        status: "ok",
        applications_waiting: service.read().waiting.len(),
    })
}
