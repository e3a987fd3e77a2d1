//! The parent's amendment of their application: the form, a review of what changes, and the
//! change itself once confirmed. An officer amends on the parent's behalf with the same
//! pages (`Amender::Staff`, from the office's pages). The review runs the domain's own `Amendment::parse` (the
//! API's validation and error texts); the change is the API's command, so a page and the
//! API cannot disagree.

use super::texts;
use crate::domain::amendment::{AmendedField, Amendment, AmendmentForm};
use crate::domain::application::{Application, ApplicationId, Refusal};
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

/// Who amends: the parent signed in on /my, or staff for the parent at their desk.
pub(in crate::http::pages) enum Amender {
    Parent,
    Staff {
        caller: Caller,
        id: ApplicationId,
        number: String,
    },
}

impl Amender {
    /// The page the amendment belongs to: its form posts below it, cancel and done go back.
    fn home(&self) -> String {
        match self {
            Amender::Parent => "/my".to_string(),
            Amender::Staff { number, .. } => format!("/staff/applications/{number}"),
        }
    }

    fn action(&self) -> String {
        format!("{}/amend", self.home())
    }

    fn staff(&self) -> bool {
        matches!(self, Amender::Staff { .. })
    }

    /// The application and the caller the command runs as; `None` without a session.
    fn who(&self, page: &Page) -> Option<(ApplicationId, Caller)> {
        match self {
            Amender::Parent => page
                .parent
                .as_ref()
                .map(|p| (p.session.application, Caller::Session(p.session))),
            Amender::Staff { caller, id, .. } => Some((*id, caller.clone())),
        }
    }
}

/// The application as stored, or the page that says why not.
async fn application(app: &AppState, page: &Page, who: &Amender) -> Result<Application, Response> {
    let Some((id, _)) = who.who(page) else {
        return Err(see_other("/lookup"));
    };
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
    amend_form_at(&app, &page, &Amender::Parent).await
}

pub(in crate::http::pages) async fn amend_form_at(
    app: &AppState,
    page: &Page,
    who: &Amender,
) -> Response {
    let application = match application(app, page, who).await {
        Ok(application) => application,
        Err(response) => return response,
    };
    let form = current(&application);
    page.ok(
        page.t(texts::ACTION_AMEND),
        form_markup(app, page, who, &application, &form, None),
    )
}

fn form_markup(
    app: &AppState,
    page: &Page,
    who: &Amender,
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
        form method="post" action=(who.action()) novalidate {
            (page.form_guard(who.staff()))
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
                (text_field("applicant_address", page.t(texts::FIELD_ADDRESS), None, &text(&form.applicant_address), error_of("applicant_address"), FieldAttrs::TEXT.autocomplete("address-line1")))
            }
            div.actions {
                button type="submit" name="step" value="review" { (page.t(texts::AMEND_REVIEW)) }
                a.button.secondary href=(who.home()) { (page.t(texts::CONFIRM_NO)) }
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
    amend_at(&app, &page, &Amender::Parent, &body).await
}

pub(in crate::http::pages) async fn amend_at(
    app: &AppState,
    page: &Page,
    who: &Amender,
    body: &[u8],
) -> Response {
    let application = match application(app, page, who).await {
        Ok(application) => application,
        Err(response) => return response,
    };
    let fields = Fields::parse(body);
    if !page.csrf_ok(&fields, who.staff()) {
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
                app,
                page,
                who,
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
            review(page, who, &fields, &amendment),
        );
    }
    let (id, caller) = who.who(page).expect("checked by application()");
    match page
        .submit(app, &caller, &fields, Command::Amend { id, form })
        .await
    {
        Ok(_) => see_other(&format!("{}?done=amended", who.home())),
        Err(CommandError::Refused(refusal)) => {
            let message = refusal_kind(&refusal).message(lang);
            let markup = form_markup(
                app,
                page,
                who,
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
fn review(page: &Page, who: &Amender, fields: &Fields, amendment: &Amendment) -> Markup {
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
        form method="post" action=(who.action()) {
            (page.form_guard(who.staff()))
            @for name in carried { input type="hidden" name=(name) value=(fields.get(name)); }
            @for k in fields.all("kindergartens") { input type="hidden" name="kindergartens" value=(k); }
            div.actions {
                button type="submit" name="step" value="confirm" { (page.t(texts::CONFIRM_YES)) }
                a.button.secondary href=(who.action()) { (page.t(texts::CONFIRM_NO)) }
            }
        }
    }
}
