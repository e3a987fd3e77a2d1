//! An officer files a move to another district or a transfer to other kindergartens on the
//! parent's behalf: the API's `Move` and `RequestTransfer` commands, from a form that keeps
//! what was typed and shows a refusal beside its field.

use super::texts;
use crate::domain::amendment::MoveForm;
use crate::domain::application::Refusal;
use crate::domain::numbers as ids;
use crate::domain::transfer::TransferForm;
use crate::http::auth::Caller;
use crate::http::error::refusal_kind;
use crate::http::pages::parent::{kindergarten_checks, language_select};
use crate::http::pages::public::district_select;
use crate::http::pages::{see_other, Fields, Page};
use crate::http::AppState;
use crate::service::{Command, CommandError, Outcome};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};

/// The officer and the application the path names, or the page that says why not.
// The error is the handler's own early answer, returned at once: boxing it buys nothing.
#[allow(clippy::result_large_err)]
fn officer_of(
    app: &AppState,
    page: &Page,
    number: &str,
) -> Result<(Caller, crate::domain::application::ApplicationId, String), Response> {
    if page.staff.is_none() {
        return Err(see_other("/staff"));
    }
    let (caller, id) = super::reach(app, page, number, false).map_err(|e| page.api_error(e))?;
    let number = ids::application_number(&app.service.read().catalog, id);
    Ok((caller, id, number))
}

/// The field a refused move or transfer is about.
fn field_of(refusal: &Refusal) -> &'static str {
    match refusal {
        Refusal::LanguageNotOffered => "language",
        Refusal::UnknownDistrict | Refusal::MoveToSameDistrict => "district",
        _ => "kindergartens",
    }
}

fn move_markup(
    app: &AppState,
    page: &Page,
    number: &str,
    fields: &Fields,
    error: Option<(&str, &str)>,
) -> Markup {
    let catalog = app.service.read().catalog.clone();
    let district = ids::parse_district(&catalog, fields.get("district"));
    let error_of = |name: &str| error.filter(|(f, _)| *f == name).map(|(_, m)| m);
    let chosen: Vec<u32> = fields
        .all("kindergartens")
        .filter_map(|k| k.parse().ok())
        .collect();
    let action = format!("/staff/applications/{number}/move");
    html! {
        h1 { (page.t(texts::MOVE_TITLE)) " — " (number) }
        p { a href=(format!("/staff/applications/{number}")) { "← " (number) } }
        p { (page.t(texts::MOVE_INTRO)) }
        // Choosing the district shows its kindergartens and languages: a GET, no script.
        form.filters method="get" action=(action) {
            div.field.invalid[error_of("district").is_some()] {
                label for="district" { (page.t(texts::FIELD_DISTRICT)) }
                @if let Some(message) = error_of("district") { p.error-message id="district-error" { (message) } }
                (district_select(&catalog, page.lang, district))
            }
            div.field { button.secondary type="submit" { (page.t(texts::SHOW)) } }
        }
        @if district.is_some() {
            form method="post" action=(action) novalidate {
                (page.form_guard(true))
                input type="hidden" name="district" value=(fields.get("district"));
                (language_select(page, &catalog, district, fields.get("language"), error_of("language")))
                (kindergarten_checks(page, &catalog, district, &chosen, error_of("kindergartens")))
                button type="submit" { (page.t(texts::MOVE_SUBMIT)) }
            }
        }
    }
}

pub(super) async fn move_form(
    State(app): State<AppState>,
    page: Page,
    Path(number): Path<String>,
) -> Response {
    let number = match officer_of(&app, &page, &number) {
        Ok((_, _, number)) => number,
        Err(response) => return response,
    };
    let query = format!(
        "district={}&language=any",
        page.query("district").unwrap_or("")
    );
    let fields = Fields::parse(query.as_bytes());
    page.ok(
        page.t(texts::MOVE_TITLE),
        move_markup(&app, &page, &number, &fields, None),
    )
}

pub(super) async fn move_application(
    State(app): State<AppState>,
    page: Page,
    Path(number): Path<String>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    if page.staff.is_none() || !page.csrf_ok(&fields, true) {
        return page.form_expired();
    }
    let (caller, id, number) = match officer_of(&app, &page, &number) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let form = MoveForm {
        district: fields.get("district").to_string(),
        // A checkbox value that is not a number is a kindergarten that does not exist.
        kindergartens: fields
            .all("kindergartens")
            .map(|k| k.parse().unwrap_or(u32::MAX))
            .collect(),
        language: Some(fields.get("language").to_string()).filter(|l| !l.is_empty()),
    };
    match page
        .submit(&app, &caller, &fields, Command::Move { id, form })
        .await
    {
        Ok(Outcome::Moved {
            application,
            access_code,
            ..
        }) => {
            let moved = ids::application_number(&app.service.read().catalog, application.id);
            page.render(
                StatusCode::OK,
                page.t(texts::MOVE_DONE),
                html! {
                    h1 { (page.t(texts::MOVE_DONE)) }
                    div.notice.ok role="status" {
                        p { (page.t(texts::MOVE_DONE_HINT)) }
                        dl.facts {
                            dt { (page.t(texts::REGISTERED_NUMBER)) }
                            dd.code data-testid="number" { (moved) }
                            dt { (page.t(texts::REGISTERED_CODE)) }
                            dd.code data-testid="access-code" { (access_code) }
                        }
                    }
                    div.actions {
                        a.button href=(format!("/api/v1/applications/{moved}/notice?lang={}", page.lang.code())) { (page.t(texts::PRINT_NOTICE)) }
                        a.button.secondary href="/staff" { (page.t(texts::WORK_LIST_TITLE)) }
                    }
                },
            )
        }
        Ok(_) => unreachable!("a move answers Moved"),
        Err(CommandError::Refused(refusal)) => {
            let message = refusal_kind(&refusal).message(page.lang.api());
            page.render(
                StatusCode::UNPROCESSABLE_ENTITY,
                page.t(texts::MOVE_TITLE),
                move_markup(
                    &app,
                    &page,
                    &number,
                    &fields,
                    Some((field_of(&refusal), message)),
                ),
            )
        }
        Err(error) => {
            let (status, message) = page.command_error(error);
            page.message(status, page.t(texts::ERROR_TITLE), message)
        }
    }
}

fn transfer_markup(
    app: &AppState,
    page: &Page,
    number: &str,
    district: crate::domain::catalog::DistrictId,
    fields: &Fields,
    error: Option<&str>,
) -> Markup {
    let catalog = app.service.read().catalog.clone();
    let chosen: Vec<u32> = fields
        .all("kindergartens")
        .filter_map(|k| k.parse().ok())
        .collect();
    html! {
        h1 { (page.t(texts::TRANSFER_TITLE)) " — " (number) }
        p { a href=(format!("/staff/applications/{number}")) { "← " (number) } }
        p { (page.t(texts::TRANSFER_INTRO)) }
        form method="post" action=(format!("/staff/applications/{number}/transfer")) novalidate {
            (page.form_guard(true))
            (kindergarten_checks(page, &catalog, Some(district), &chosen, error))
            button type="submit" { (page.t(texts::TRANSFER_SUBMIT)) }
        }
    }
}

pub(super) async fn transfer_form(
    State(app): State<AppState>,
    page: Page,
    Path(number): Path<String>,
) -> Response {
    let (_, id, number) = match officer_of(&app, &page, &number) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let markup = transfer_markup(&app, &page, &number, id.district, &Fields::parse(b""), None);
    page.ok(page.t(texts::TRANSFER_TITLE), markup)
}

pub(super) async fn request_transfer(
    State(app): State<AppState>,
    page: Page,
    Path(number): Path<String>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    if page.staff.is_none() || !page.csrf_ok(&fields, true) {
        return page.form_expired();
    }
    let (caller, id, number) = match officer_of(&app, &page, &number) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let form = TransferForm {
        kindergartens: fields
            .all("kindergartens")
            .map(|k| k.parse().unwrap_or(u32::MAX))
            .collect(),
    };
    let command = Command::RequestTransfer { id, form };
    match page.submit(&app, &caller, &fields, command).await {
        Ok(_) => see_other(&format!("/staff/applications/{number}?done=transfer")),
        Err(CommandError::Refused(refusal)) => {
            let message = refusal_kind(&refusal).message(page.lang.api());
            let markup = transfer_markup(&app, &page, &number, id.district, &fields, Some(message));
            page.render(
                StatusCode::UNPROCESSABLE_ENTITY,
                page.t(texts::TRANSFER_TITLE),
                markup,
            )
        }
        Err(error) => {
            let (status, message) = page.command_error(error);
            page.message(status, page.t(texts::ERROR_TITLE), message)
        }
    }
}
