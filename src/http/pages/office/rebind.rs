//! Rebinding an application to its real applicant (issues 14 and 15): when somebody else
//! registered the child first, the operator or officer at the desk, after checking the real
//! applicant's identity document, replaces the whole applicant (IIN, name, relation and
//! contacts). Asked once more before it is done; a new access code is shown once, the old
//! one stops working, and the person who registered no longer sees the application on
//! their signed-in pages. The API's `POST /api/v1/applications/{number}/access-code` with
//! the applicant's IIN does the same.

use super::super::parent::relation_select;
use super::super::{FieldAttrs, Fields, Page};
use super::{new_code_page, reached_for_form, texts};
use crate::domain::application::{Applicant, ApplicantForm, Application, Refusal};
use crate::http::applications::read_blocking;
use crate::http::auth::Caller;
use crate::http::error::refusal_kind;
use crate::http::AppState;
use crate::service::{Command, CommandError, Outcome};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};

/// The fields of the form, in the order shown (and carried to the confirmation).
const FIELDS: [&str; 6] = [
    "applicant_iin",
    "applicant_full_name",
    "applicant_relation",
    "applicant_phone",
    "applicant_email",
    "applicant_address",
];

/// The application the path names, for a signed-in operator or officer of its district,
/// recorded as a view (the form shows whose child it is).
async fn reached(
    app: &AppState,
    page: &Page,
    number: &str,
) -> Result<(Caller, Application), Response> {
    let (caller, id) = reached_for_form(app, page, number, true).await?;
    let found = read_blocking(app, page.lang.api(), move |conn| {
        crate::store::application(conn, id)
    })
    .await
    .map_err(|e| page.api_error(e))?;
    match found {
        Some(application) => Ok((caller, application)),
        None => Err(page.api_error(crate::http::error::ApiError::new(
            crate::http::error::NOT_FOUND,
            page.lang.api(),
        ))),
    }
}

fn form_of(fields: &Fields) -> ApplicantForm {
    let email = fields.get("applicant_email").trim();
    ApplicantForm {
        applicant_iin: fields.get("applicant_iin").trim().to_string(),
        applicant_full_name: fields.get("applicant_full_name").to_string(),
        applicant_relation: fields.get("applicant_relation").to_string(),
        applicant_phone: fields.get("applicant_phone").to_string(),
        applicant_email: (!email.is_empty()).then(|| email.to_string()),
        applicant_address: fields.get("applicant_address").to_string(),
    }
}

pub(super) async fn rebind_form(
    State(app): State<AppState>,
    page: Page,
    Path(number): Path<String>,
) -> Response {
    let (_, application) = match reached(&app, &page, &number).await {
        Ok(reached) => reached,
        Err(response) => return response,
    };
    let number =
        crate::domain::numbers::application_number(&app.service.read().catalog, application.id);
    if !application.status.is_active() {
        return page.message(
            StatusCode::CONFLICT,
            page.t(texts::REBIND_TITLE),
            crate::http::error::APPLICATION_NOT_QUEUED.message(page.lang.api()),
        );
    }
    page.ok(
        page.t(texts::REBIND_TITLE),
        form_markup(
            &page,
            &number,
            &application.applicant,
            &Fields::parse(b""),
            &[],
        ),
    )
}

/// First the check of every field (errors beside each), then the confirmation with what
/// will replace what, then, confirmed, the rebinding and the new code.
pub(super) async fn rebind(
    State(app): State<AppState>,
    page: Page,
    Path(number): Path<String>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    if page.staff.is_none() || !page.csrf_ok(&fields, true) {
        return page.form_expired();
    }
    let (caller, application) = match reached(&app, &page, &number).await {
        Ok(reached) => reached,
        Err(response) => return response,
    };
    let number =
        crate::domain::numbers::application_number(&app.service.read().catalog, application.id);
    let lang = page.lang.api();
    let form = form_of(&fields);
    let refusals: Vec<(&str, &str)> = form
        .refusals(&application.child)
        .iter()
        .map(|(field, refusal)| (*field, refusal_kind(refusal).message(lang)))
        .collect();
    if !refusals.is_empty() {
        return page.render(
            StatusCode::UNPROCESSABLE_ENTITY,
            page.t(texts::REBIND_TITLE),
            form_markup(&page, &number, &application.applicant, &fields, &refusals),
        );
    }
    if fields.get("step") != "confirm" {
        return page.ok(
            page.t(texts::REBIND_REVIEW),
            review(&page, &number, &application.applicant, &fields),
        );
    }
    let command = Command::ReissueAccessCode {
        id: application.id,
        contacts: None,
        applicant: Some(form),
    };
    match page.submit(&app, &caller, &fields, command).await {
        Ok(Outcome::AccessCode(code)) => new_code_page(&page, &number, &code),
        Ok(_) => unreachable!("a rebinding answers the new code"),
        Err(CommandError::Refused(refusal)) => {
            let field = match refusal {
                Refusal::ApplicantIinInvalid(_) | Refusal::ApplicantIsChild => "applicant_iin",
                Refusal::NameInvalid => "applicant_full_name",
                Refusal::PhoneInvalid => "applicant_phone",
                Refusal::EmailInvalid => "applicant_email",
                Refusal::RelationInvalid => "applicant_relation",
                _ => "applicant_address",
            };
            let message = refusal_kind(&refusal).message(lang);
            page.render(
                StatusCode::UNPROCESSABLE_ENTITY,
                page.t(texts::REBIND_TITLE),
                form_markup(
                    &page,
                    &number,
                    &application.applicant,
                    &fields,
                    &[(field, message)],
                ),
            )
        }
        Err(error) => {
            let (status, message) = page.command_error(error);
            page.message(status, page.t(texts::ERROR_TITLE), message)
        }
    }
}

fn form_markup(
    page: &Page,
    number: &str,
    applicant: &Applicant,
    fields: &Fields,
    errors: &[(&str, &str)],
) -> Markup {
    let error = |name: &str| errors.iter().find(|(f, _)| *f == name).map(|(_, m)| *m);
    html! {
        h1 { (page.t(texts::REBIND_TITLE)) " — " (number) }
        p { a href=(format!("/staff/applications/{number}")) { "← " (number) } }
        p.hint { (page.t(texts::REBIND_HINT)) }
        (current(page, applicant))
        @if !errors.is_empty() {
            div.notice.alert role="alert" { p { (page.t(texts::ERRORS_INTRO)) } }
        }
        form method="post" action=(format!("/staff/applications/{number}/rebind")) novalidate {
            (page.form_guard(true))
            fieldset {
                legend { (page.t(texts::REBIND_NEW_APPLICANT)) }
                (super::super::text_field("applicant_iin", page.t(texts::FIELD_APPLICANT_IIN), Some(page.t(texts::HINT_IIN)), fields.get("applicant_iin"), error("applicant_iin"), FieldAttrs::TEXT.numeric().autocomplete("off")))
                (super::super::text_field("applicant_full_name", page.t(texts::FIELD_APPLICANT_NAME), None, fields.get("applicant_full_name"), error("applicant_full_name"), FieldAttrs::TEXT.autocomplete("off")))
                (relation_select(page, fields.get("applicant_relation"), error("applicant_relation")))
                (super::super::text_field("applicant_phone", page.t(texts::FIELD_PHONE), Some(page.t(texts::HINT_PHONE)), fields.get("applicant_phone"), error("applicant_phone"), FieldAttrs::TEXT.kind("tel").autocomplete("off")))
                (super::super::text_field("applicant_email", page.t(texts::FIELD_EMAIL), None, fields.get("applicant_email"), error("applicant_email"), FieldAttrs::TEXT.kind("email").autocomplete("off").optional()))
                (super::super::text_field("applicant_address", page.t(texts::FIELD_ADDRESS), None, fields.get("applicant_address"), error("applicant_address"), FieldAttrs::TEXT.autocomplete("off")))
            }
            button type="submit" { (page.t(texts::SUBMIT_REBIND)) }
        }
    }
}

/// The applicant on file, as the desk sees it (staff see the application's data anyway).
fn current(page: &Page, applicant: &Applicant) -> Markup {
    html! {
        dl.facts data-testid="rebind-current" {
            dt { (page.t(texts::REBIND_CURRENT)) }
            dd { (applicant.full_name) ", " (applicant.iin.masked()) }
        }
    }
}

/// What replaces what, and the typed values again as hidden fields to confirm.
fn review(page: &Page, number: &str, applicant: &Applicant, fields: &Fields) -> Markup {
    let action = format!("/staff/applications/{number}/rebind");
    html! {
        h1 { (page.t(texts::REBIND_REVIEW)) " — " (number) }
        p.lead { (page.t(texts::REBIND_CONFIRM)) }
        (current(page, applicant))
        dl.facts data-testid="rebind-new" {
            dt { (page.t(texts::REBIND_NEW_APPLICANT)) }
            dd { (fields.get("applicant_full_name").trim()) ", " (fields.get("applicant_iin").trim()) }
        }
        form method="post" action=(action) {
            (page.form_guard(true))
            @for name in FIELDS { input type="hidden" name=(name) value=(fields.get(name)); }
            div.actions {
                button.warning type="submit" name="step" value="confirm" { (page.t(texts::CONFIRM_YES)) }
                a.button.secondary href=(format!("/staff/applications/{number}")) { (page.t(texts::CONFIRM_NO)) }
            }
        }
    }
}
