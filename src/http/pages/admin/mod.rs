//! The administrator's pages: none yet. Administrators work through the API and the CLI;
//! this is where their pages go, beside the other audiences'.

use crate::http::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
}
