//! The administrator's pages. Administrators otherwise work through the API and the CLI;
//! this is where their pages go, beside the other audiences'. `access_log.rs`: who looked
//! at what (issue 15, item 5).

use crate::http::AppState;
use axum::routing::get;
use axum::Router;

mod access_log;
mod texts;

pub fn routes() -> Router<AppState> {
    Router::new().route("/staff/access-log", get(access_log::access_log))
}
