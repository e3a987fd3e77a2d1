//! The parent's amendment of their application: the form, a review of what changes, and the
//! change itself once confirmed. The review runs the domain's own `Amendment::parse` (the
//! API's validation and error texts); the change is the API's command, so a page and the
//! API cannot disagree.

use super::texts;
use crate::domain::amendment::{AmendedField, Amendment, AmendmentForm};
use crate::domain::application::{Application, Refusal};
use crate::domain::local_date;
use crate::http::applications::read_blocking;
use crate::http::auth::Caller;
use crate::http::error::refusal_kind;
use crate::http::pages::{see_other, text_field, FieldAttrs, Fields, Page};
use crate::http::AppState;
use crate::service::{Command, CommandError};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};

/// The parent's application as stored, or the page that says why not.
async fn application(app: &AppState, page: &Page) -> Result<Application, Response> {
    let Some(parent) = &page.parent else {
        return Err(see_other("/lookup"));
    };
    let id = parent.session.application;
    match read_blocking(app, page.lang.api(), move |conn| {
        crate::store::application(conn, id)
    })
    .await
    {
        Ok(Some(application)) => Ok(application),
        Ok(None) => Err(see_other("/lookup")),
        Err(error) => Err(page.api_error(error)),
    }
}

/// The form as the application stands, or as typed.
fn form_of(fields: &Fields) -> AmendmentForm {
    AmendmentForm {
        // A checkbox value that is not a number is a kindergarten that does not exist.
        kindergartens: Some(
            fields
                .all("kindergartens")
                .map(|k| k.parse().unwrap_or(u32::MAX))
                .collect(),
        ),
        language: Some(fields.get("language").to_string()),
        desired_start: Some(fields.get("desired_start").to_string()),
        applicant_phone: Some(fields.get("applicant_phone").to_string()),
        applicant_email: Some(fields.get("applicant_email").to_string()),
        applicant_address: Some(fields.get("applicant_address").to_string()),
    }
}

fn current(application: &Application) -> AmendmentForm {
    AmendmentForm {
        kindergartens: Some(match &application.choices {
            crate::domain::application::Choices::Any => Vec::new(),
            crate::domain::application::Choices::Listed(list) => list.iter().map(|k| k.0).collect(),
        }),
        language: Some(
            application
                .language
                .map_or("any".to_string(), |l| l.code().to_string()),
        ),
        desired_start: Some(application.desired_start.to_string()),
        applicant_phone: Some(application.applicant.phone.clone()),
        applicant_email: Some(application.applicant.email.clone().unwrap_or_default()),
        applicant_address: Some(application.applicant.address.clone()),
    }
}

/// The form field a refusal is about.
fn field_of(refusal: &Refusal) -> &'static str {
    match refusal {
        Refusal::PhoneInvalid => "applicant_phone",
        Refusal::EmailInvalid => "applicant_email",
        Refusal::AddressInvalid => "applicant_address",
        Refusal::DesiredStartMalformed | Refusal::DesiredStartInPast | Refusal::NotPreschoolAge => {
            "desired_start"
        }
        Refusal::LanguageNotOffered => "language",
        _ => "kindergartens",
    }
}

pub async fn amend_form(State(app): State<AppState>, page: Page) -> Response {
    let application = match application(&app, &page).await {
        Ok(application) => application,
        Err(response) => return response,
    };
    let form = current(&application);
    page.ok(
        page.t(texts::ACTION_AMEND),
        form_markup(&app, &page, &application, &form, None),
    )
}

fn form_markup(
    app: &AppState,
    page: &Page,
    application: &Application,
    form: &AmendmentForm,
    error: Option<(&'static str, &str)>,
) -> Markup {
    let catalog = app.service.read().catalog.clone();
    let district = Some(application.id.district);
    let error_of = |name: &str| error.filter(|(f, _)| *f == name).map(|(_, m)| m);
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let referred = application.status == crate::domain::application::ApplicationStatus::Referred;
    html! {
        h1 { (page.t(texts::ACTION_AMEND)) }
        p { (page.t(texts::AMEND_INTRO)) }
        @if referred { p.notice role="status" { (page.t(texts::AMEND_REFERRED)) } }
        @if let Some((field, message)) = error {
            div.summary role="alert" aria-labelledby="error-summary-title" tabindex="-1" {
                h2 #error-summary-title { (page.t(texts::ERRORS_TITLE)) }
                ul { li { a href=(format!("#{field}")) { (message) } } }
            }
        }
        form method="post" action="/my/amend" novalidate {
            (page.form_guard(false))
            fieldset {
                legend { (page.t(texts::FIELD_PLACE)) }
                (text_field("desired_start", page.t(texts::FIELD_DESIRED_START), Some(page.t(texts::HINT_DATE)), &text(&form.desired_start), error_of("desired_start"), FieldAttrs::TEXT))
                (super::language_select(page, &catalog, district, &text(&form.language), error_of("language")))
                (super::kindergarten_checks(page, &catalog, district, form.kindergartens.as_deref().unwrap_or(&[]), error_of("kindergartens")))
            }
            fieldset {
                legend { (page.t(texts::FIELD_APPLICANT)) }
                (text_field("applicant_phone", page.t(texts::FIELD_PHONE), Some(page.t(texts::HINT_PHONE)), &text(&form.applicant_phone), error_of("applicant_phone"), FieldAttrs::TEXT.kind("tel").autocomplete("tel")))
                (text_field("applicant_email", page.t(texts::FIELD_EMAIL), None, &text(&form.applicant_email), error_of("applicant_email"), FieldAttrs::TEXT.kind("email").autocomplete("email").optional()))
                (text_field("applicant_address", page.t(texts::FIELD_ADDRESS), None, &text(&form.applicant_address), error_of("applicant_address"), FieldAttrs::TEXT.autocomplete("street-address")))
            }
            div.actions {
                button type="submit" name="step" value="review" { (page.t(texts::AMEND_REVIEW)) }
                a.button.secondary href="/my" { (page.t(texts::CONFIRM_NO)) }
            }
        }
    }
}

/// The names of the changed fields, as the registration form labels them.
fn changed_label(page: &Page, field: AmendedField) -> &'static str {
    page.t(match field {
        AmendedField::Kindergartens => texts::FIELD_KINDERGARTENS,
        AmendedField::Language => texts::FIELD_LANGUAGE,
        AmendedField::DesiredStart => texts::FIELD_DESIRED_START,
        AmendedField::ApplicantPhone => texts::FIELD_PHONE,
        AmendedField::ApplicantEmail => texts::FIELD_EMAIL,
        AmendedField::ApplicantAddress => texts::FIELD_ADDRESS,
    })
}

/// First the review (what changes, asked once more), then, confirmed, the change.
pub async fn amend(State(app): State<AppState>, page: Page, body: Bytes) -> Response {
    let application = match application(&app, &page).await {
        Ok(application) => application,
        Err(response) => return response,
    };
    let fields = Fields::parse(&body);
    if !page.csrf_ok(&fields, false) {
        return page.form_expired();
    }
    let form = form_of(&fields);
    let lang = page.lang.api();
    let parsed = {
        let state = app.service.read();
        Amendment::parse(&form, &application, &state.catalog, local_date(page.now))
    };
    let amendment = match parsed {
        Ok(amendment) => amendment,
        Err(refusal) => {
            let message = refusal_kind(&refusal).message(lang);
            let markup = form_markup(
                &app,
                &page,
                &application,
                &form,
                Some((field_of(&refusal), message)),
            );
            return page.render(
                StatusCode::UNPROCESSABLE_ENTITY,
                page.t(texts::ACTION_AMEND),
                markup,
            );
        }
    };
    if fields.get("step") != "confirm" {
        return page.ok(
            page.t(texts::AMEND_REVIEW),
            review(&page, &fields, &amendment),
        );
    }
    let parent = page.parent.as_ref().expect("checked by application()");
    let id = parent.session.application;
    let caller = Caller::Session(parent.session);
    match page
        .submit(&app, &caller, &fields, Command::Amend { id, form })
        .await
    {
        Ok(_) => see_other("/my?done=amended"),
        Err(CommandError::Refused(refusal)) => {
            let message = refusal_kind(&refusal).message(lang);
            let markup = form_markup(
                &app,
                &page,
                &application,
                &form_of(&fields),
                Some((field_of(&refusal), message)),
            );
            page.render(
                StatusCode::UNPROCESSABLE_ENTITY,
                page.t(texts::ACTION_AMEND),
                markup,
            )
        }
        Err(error) => {
            let (status, message) = page.command_error(error);
            page.message(status, page.t(texts::ERROR_TITLE), message)
        }
    }
}

/// What the amendment changes, and the same values again as hidden fields to confirm.
fn review(page: &Page, fields: &Fields, amendment: &Amendment) -> Markup {
    let carried = [
        "language",
        "desired_start",
        "applicant_phone",
        "applicant_email",
        "applicant_address",
    ];
    html! {
        h1 { (page.t(texts::AMEND_REVIEW)) }
        p.lead { (page.t(texts::CONFIRM_AMEND)) }
        ul data-testid="amend-changes" {
            @for field in &amendment.changed { li { (changed_label(page, *field)) } }
        }
        form method="post" action="/my/amend" {
            (page.form_guard(false))
            @for name in carried { input type="hidden" name=(name) value=(fields.get(name)); }
            @for k in fields.all("kindergartens") { input type="hidden" name="kindergartens" value=(k); }
            div.actions {
                button type="submit" name="step" value="confirm" { (page.t(texts::CONFIRM_YES)) }
                a.button.secondary href="/my/amend" { (page.t(texts::CONFIRM_NO)) }
            }
        }
    }
}
