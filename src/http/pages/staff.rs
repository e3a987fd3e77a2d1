//! The staff entrance, shared by every staff role: the sign-in with the account's token,
//! and `/staff`, which opens the signed-in account's own desk (the officer's and operator's
//! work list in `office`, a kindergarten's page in `kindergarten`).

use super::session::{StaffSession, STAFF_COOKIE, STAFF_SESSION};
use super::texts;
use super::{see_other, FieldAttrs, Fields, Page};
use crate::domain::staff::{self as staff_domain, Role, Scope};
use crate::http::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use maud::html;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff", get(home))
        .route("/staff/sign-in", post(sign_in))
}

async fn home(State(app): State<AppState>, page: Page) -> Response {
    let Some(staff) = &page.staff else {
        let provider = app.staff_provider().is_some();
        return sign_in_page(&page, provider, StatusCode::OK, None);
    };
    match (staff.account.role, staff.account.scope) {
        (Role::Kindergarten, Scope::Kindergarten(id)) => {
            super::kindergarten::desk(&app, &page, id).await
        }
        (Role::Officer | Role::Operator, _) => super::office::work_list(&app, &page, staff).await,
        (Role::Admin, _) => super::admin::desk(&app, &page).await,
        _ => page.message(
            StatusCode::FORBIDDEN,
            page.t(texts::NAV_STAFF),
            page.t(texts::NOT_THIS_ROLE),
        ),
    }
}

/// The sign-in with a token; first, where a provider signs staff in (theirs or the
/// parents'), the way to it.
fn sign_in_page(page: &Page, provider: bool, status: StatusCode, error: Option<&str>) -> Response {
    page.render(
        status,
        page.t(texts::STAFF_SIGN_IN_TITLE),
        html! {
            h1 { (page.t(texts::STAFF_SIGN_IN_TITLE)) }
            @if let Some(error) = error { p.notice.error role="alert" { (error) } }
            @if provider {
                p { a.button href="/signin?for=staff" data-testid="staff-signin-provider" { (page.t(texts::STAFF_SIGN_IN_PROVIDER)) } }
                p { (page.t(texts::STAFF_SIGN_IN_OR_TOKEN)) }
            }
            p { (page.t(texts::STAFF_SIGN_IN_INTRO)) }
            form method="post" action="/staff/sign-in" {
                (super::text_field("token", page.t(texts::FIELD_TOKEN), None, "", None,
                    FieldAttrs::TEXT.kind("password").autocomplete("current-password")))
                button type="submit" { (page.t(texts::SUBMIT_SIGN_IN)) }
            }
        },
    )
}

async fn sign_in(State(app): State<AppState>, page: Page, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let token_hash = staff_domain::token_hash(fields.get("token").trim());
    let account = app
        .reads
        .with(|conn| crate::store::staff::by_token_hash(conn, &token_hash));
    match account {
        Ok(Some(_)) => {
            let session = StaffSession {
                token_hash,
                expires: page.now + STAFF_SESSION,
            };
            let value = page.keys.staff_cookie(&session);
            let cookie = page.keys.set_cookie(STAFF_COOKIE, &value, STAFF_SESSION);
            let mut response = see_other("/staff");
            response.headers_mut().append(
                header::SET_COOKIE,
                HeaderValue::from_str(&cookie).expect("ASCII"),
            );
            response
        }
        Ok(None) => sign_in_page(
            &page,
            app.staff_provider().is_some(),
            StatusCode::UNAUTHORIZED,
            Some(page.t(texts::SIGN_IN_FAILED)),
        ),
        Err(e) => page.api_error(crate::http::auth::internal(e, page.lang.api())),
    }
}
