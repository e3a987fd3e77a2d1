//! The administrator's early erasure of an ended application's personal data (issue 16 §3):
//! the page's form for the API's `POST /api/v1/applications/{number}/erase`, the same
//! command and the same refusals (`erasure_active`, `already_erased`). It asks only for the
//! number and shows nothing of the application: administrators keep the catalog, not the
//! families' files. The daily sweep erases the rest when the district's retention period
//! (the policy page) is over.

use super::{administrator, back, not_this_role, notice, texts, FormState, Notice, Page};
use crate::domain::numbers as ids;
use crate::http::error;
use crate::http::pages::{FieldAttrs, Fields};
use crate::http::AppState;
use crate::service::Command;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

pub async fn form(page: Page) -> Response {
    if administrator(&page).is_none() {
        return not_this_role(&page);
    }
    erasure_page(&page, StatusCode::OK, &FormState::default())
}

pub async fn erase(State(app): State<AppState>, page: Page, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let Some(caller) = administrator(&page).filter(|_| page.csrf_ok(&fields, true)) else {
        return page.form_expired();
    };
    let mut form = FormState::typed(&fields, &["number"]);
    let number = fields.get("number").trim().to_uppercase();
    let Some(id) = ids::parse_application(&app.service.read().catalog, &number) else {
        form.errors
            .insert("number".into(), error::NOT_FOUND.message(page.lang.api()));
        return erasure_page(&page, StatusCode::NOT_FOUND, &form);
    };
    let command = Command::ErasePersonalData { id };
    match page.submit(&app, &caller, &fields, command).await {
        Ok(_) => erasure_page(
            &page,
            StatusCode::OK,
            &FormState::done(&page, texts::ERASURE_DONE),
        ),
        Err(refused) => {
            let (status, message) = page.command_error(refused);
            form.notice = Some(Notice::Refused(message));
            erasure_page(&page, status, &form)
        }
    }
}

fn erasure_page(page: &Page, status: StatusCode, form: &FormState) -> Response {
    page.render(
        status,
        page.t(texts::ERASURE_TITLE),
        html! {
            h1 { (page.t(texts::ERASURE_TITLE)) }
            (back(page))
            (notice(page, form))
            p.hint { (page.t(texts::ERASURE_HINT)) }
            form method="post" action="/staff/admin/erasure" {
                (page.form_guard(true))
                (crate::http::pages::text_field(
                    "number",
                    page.t(texts::ERASURE_NUMBER),
                    None,
                    form.value("number", ""),
                    form.errors.get("number").copied(),
                    FieldAttrs::TEXT.autocomplete("off"),
                ))
                button.warning type="submit" { (page.t(texts::ERASURE_TITLE)) }
            }
        },
    )
}
