//! The parent's pages: registering a child (every field's error shown beside it, from the
//! same validation the API runs), opening an application with its number and access code,
//! the application (status and history, positions, the chart, the referral with its
//! deadline and print links), and declining, extending or withdrawing, each confirmed first.

use super::public::{district_select, kindergarten_name, language_name};
use super::session::{ParentSession, PARENT_COOKIE, PARENT_SESSION};
use super::{attachments, see_other, FieldAttrs, Fields, Page};
use crate::domain::application::{
    Channel, NewApplication, Refusal, RegistrationForm, Satisfaction,
};
use crate::domain::catalog::{Catalog, DistrictId};
use crate::domain::local_date;
use crate::domain::numbers as ids;
use crate::domain::staff::{Role, StaffAccount};
use crate::http::applications::{application_view, position_history_of};
use crate::http::auth::{application_access, Caller};
use crate::http::error::refusal_kind;
use crate::http::identity;
use crate::http::views::ApplicationView;
use crate::http::AppState;
use crate::service::{Command, CommandError, Outcome};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::Duration;
use maud::{html, Markup};

mod amend;
use super::chart;
pub(super) mod export;
mod family;
mod signin;
pub(in crate::http::pages) mod texts;

pub(in crate::http::pages) use amend::{amend_at, amend_form_at, Amender};
pub(in crate::http::pages) use family::{family_form_at, register_family_at};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/register",
            get(register_form)
                .post(register)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/register/family",
            get(family::family_form).post(family::register_family),
        )
        .route("/lookup", get(lookup_form).post(lookup))
        .route("/my", get(my))
        .route("/my/survey", post(survey))
        .route(
            "/my/attachments",
            post(attach).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/my/amend", get(amend::amend_form).post(amend::amend))
        .route("/my/export", get(export::export_page))
        .route("/my/{action}", get(confirm).post(act))
        .route("/sign-out", post(sign_out))
        .merge(signin::routes())
}

/// Who registers: the parent on the portal, or staff at a desk with the parent present
/// (issue 15: the operator's main job). The form, its checks and the command are the same;
/// the desk's forms carry the staff session's CSRF token, record the channel and the account
/// (the command's actor), and the answer does not open the application on the desk's browser.
#[derive(Clone)]
pub(in crate::http::pages) enum Desk {
    Portal,
    Staff(StaffAccount),
}

impl Desk {
    /// Who submits: the signed-in person (or nobody) on the portal, the account at a desk.
    fn caller(&self, page: &Page) -> Caller {
        match (self, &page.person) {
            (Desk::Portal, Some(signed)) => Caller::Person(signed.person.clone()),
            (Desk::Portal, None) => Caller::Public,
            (Desk::Staff(account), _) => Caller::Staff(account.clone()),
        }
    }

    /// A service centre's operator enters the "service centre" channel; an officer, "office".
    pub(in crate::http::pages) fn channel(&self) -> Channel {
        match self {
            Desk::Portal => Channel::Portal,
            Desk::Staff(account) if account.role == Role::Operator => Channel::ServiceCentre,
            Desk::Staff(_) => Channel::Office,
        }
    }

    /// Where the single registration's form posts; the family's is below it.
    fn path(&self) -> &'static str {
        match self {
            Desk::Portal => "/register",
            Desk::Staff(_) => "/staff/register",
        }
    }

    fn is_staff(&self) -> bool {
        matches!(self, Desk::Staff(_))
    }

    /// Whether the desk may register in the form's district: staff only in their own
    /// (the API's rule, `district_staff`).
    fn serves(&self, catalog: &Catalog, district: &str) -> bool {
        match self {
            Desk::Portal => true,
            Desk::Staff(account) => {
                ids::parse_district(catalog, district).is_some_and(|d| account.serves_district(d))
            }
        }
    }

    /// The district the form opens with: the staff account's own.
    fn home_district(&self) -> Option<DistrictId> {
        match self {
            Desk::Staff(StaffAccount {
                scope: crate::domain::staff::Scope::District(d),
                ..
            }) => Some(*d),
            _ => None,
        }
    }

    /// The hidden fields of the desk's forms: the staff session's guard, or on the portal
    /// only the idempotency key (no session to forge against; the origin check holds).
    fn form_guard(&self, page: &Page) -> Markup {
        match self {
            Desk::Portal => html! {
                input type="hidden" name="idempotency_key" value=(uuid::Uuid::new_v4());
            },
            Desk::Staff(_) => page.form_guard(true),
        }
    }

    /// Whether a posted form may go on: a staff desk's must carry its session's token.
    fn form_ok(&self, page: &Page, fields: &Fields) -> bool {
        !self.is_staff() || page.csrf_ok(fields, true)
    }

    /// The line a staff desk shows above its form: on whose behalf, by which channel.
    fn banner(&self, page: &Page) -> Markup {
        match self {
            Desk::Portal => html! {},
            Desk::Staff(account) => html! {
                p.notice data-testid="desk" {
                    (page.t(texts::DESK_ON_BEHALF)) " "
                    (page.t(texts::CHANNEL)) ": " strong { (texts::channel(page.lang, &crate::http::views::codec_text(&self.channel()))) }
                    " · " (page.t(texts::DESK_ENTERED_BY)) ": " strong { (account.name) }
                }
            },
        }
    }

    /// The links under a registration's answer.
    fn after_links(&self, page: &Page, first_number: &str) -> Markup {
        match self {
            Desk::Portal => {
                html! { a.button.secondary href="/my" { (page.t(texts::REGISTERED_OPEN)) } }
            }
            Desk::Staff(_) => html! {
                a.button.secondary href=(format!("/staff/applications/{first_number}")) { (page.t(texts::REGISTERED_OPEN)) }
                a.button.secondary href="/staff/register" { (page.t(texts::DESK_NEXT)) }
            },
        }
    }
}

/// The form's fields as typed, and the errors to show beside them.
struct RegisterForm<'a> {
    form: RegistrationForm,
    errors: Vec<(&'static str, &'a str)>,
    /// An error about no one field (e.g. the service is shutting down).
    general: Option<&'a str>,
}

/// With an identity provider, registering starts with signing in (issue 14).
fn sign_in_first(page: &Page, status: StatusCode) -> Response {
    let content = html! {
        h1 { (page.t(texts::REGISTER_TITLE)) }
        p { (page.t(texts::SIGNIN_TO_REGISTER)) }
        p { a.button href="/signin?next=/register" data-testid="signin" { (page.t(texts::SIGNIN_BUTTON)) } }
    };
    page.render(status, page.t(texts::REGISTER_TITLE), content)
}

async fn register_form(State(app): State<AppState>, page: Page) -> Response {
    register_form_at(&app, &page, &Desk::Portal)
}

/// The empty registration form at `desk`.
pub(in crate::http::pages) fn register_form_at(
    app: &AppState,
    page: &Page,
    desk: &Desk,
) -> Response {
    if app.oidc.is_some() && page.person.is_none() && !desk.is_staff() {
        return sign_in_first(page, StatusCode::OK);
    }
    let catalog = app.service.read().catalog.clone();
    let district = page
        .query("district")
        .and_then(|d| ids::parse_district(&catalog, d))
        .or_else(|| desk.home_district())
        .or_else(|| catalog.districts.keys().next().copied());
    let form = RegistrationForm {
        district: district
            .map(|d| ids::district_code(&catalog, d))
            .unwrap_or_default(),
        language: "any".into(),
        ..RegistrationForm::default()
    };
    let content = register_markup(
        page,
        desk,
        &catalog,
        &RegisterForm {
            form,
            errors: Vec::new(),
            general: None,
        },
    );
    page.ok(page.t(texts::REGISTER_TITLE), content)
}

pub(super) fn form_of(fields: &Fields) -> RegistrationForm {
    let optional = |name: &str| Some(fields.get(name).to_string()).filter(|v| !v.trim().is_empty());
    RegistrationForm {
        district: fields.get("district").into(),
        child_iin: fields.get("child_iin").into(),
        child_full_name: fields.get("child_full_name").into(),
        child_birth_date: fields.get("child_birth_date").into(),
        applicant_iin: fields.get("applicant_iin").into(),
        applicant_full_name: fields.get("applicant_full_name").into(),
        applicant_phone: fields.get("applicant_phone").into(),
        applicant_email: optional("applicant_email"),
        applicant_address: fields.get("applicant_address").into(),
        applicant_relation: fields.get("applicant_relation").into(),
        desired_start: fields.get("desired_start").into(),
        // A checkbox value that is not a number is a kindergarten that does not exist.
        kindergartens: fields
            .all("kindergartens")
            .map(|k| k.parse().unwrap_or(u32::MAX))
            .collect(),
        language: fields.get("language").into(),
        priority_category: optional("priority_category"),
        priority_document: optional("priority_document"),
    }
}

async fn register(
    State(app): State<AppState>,
    page: Page,
    request: axum::extract::Request,
) -> Response {
    register_at(&app, page, &Desk::Portal, request).await
}

/// A registration posted at `desk`.
/// The form may carry a scan of the priority document (multipart/form-data): it is
/// recognised before anything is registered, so a bad file refuses the whole form, and
/// attached right after the registration.
pub(in crate::http::pages) async fn register_at(
    app: &AppState,
    mut page: Page,
    desk: &Desk,
    request: axum::extract::Request,
) -> Response {
    let upload = match attachments::read_form(request, app.attachments.file_bytes_max).await {
        Ok(upload) => upload,
        Err(problem) => return attachments::unreadable(&page, problem),
    };
    if upload.file.is_some() {
        page.set_fingerprint(upload.fingerprint(desk.path()));
    }
    let page = &page;
    let fields = upload.fields;
    if !desk.form_ok(page, &fields) {
        return page.form_expired();
    }
    let mut form = form_of(&fields);
    let (catalog, today) = {
        let state = app.service.read();
        (state.catalog.clone(), local_date(app.service.now()))
    };
    let lang = page.lang.api();
    // With a provider: only a signed-in person registers on the portal, as the applicant
    // (issue 14); at a desk, staff register for the parent in front of them.
    if app.oidc.is_some() && page.person.is_none() && !desk.is_staff() {
        return sign_in_first(page, StatusCode::UNAUTHORIZED);
    }
    let caller = desk.caller(page);
    let children = [form.child_iin.clone()];
    let person = match identity::registrant(app, &caller, &children, lang) {
        Ok(person) => person,
        Err(error) => {
            let mut response = invalid(
                page,
                desk,
                &catalog,
                RegisterForm {
                    form,
                    errors: Vec::new(),
                    general: Some(error.kind.message(lang)),
                },
            );
            *response.status_mut() = error.kind.status;
            return response;
        }
    };
    if let Some(person) = &person {
        identity::bind(person, &mut form);
    }
    let refusals = NewApplication::refusals(&form, &catalog, today);
    if refusals.is_empty() && !desk.serves(&catalog, &form.district) {
        return page.api_error(crate::http::error::ApiError::new(
            crate::http::error::FORBIDDEN,
            lang,
        ));
    }
    if !refusals.is_empty() {
        let errors = refusals
            .iter()
            .map(|(field, refusal)| (*field, refusal_kind(refusal).message(lang)))
            .collect();
        return invalid(
            page,
            desk,
            &catalog,
            RegisterForm {
                form,
                errors,
                general: None,
            },
        );
    }
    let scan = match upload.file {
        None => None,
        Some(bytes) => match scanned_and_accepted(app, &caller, bytes, lang).await {
            Ok(file) => Some(file),
            Err(error) => {
                let mut response = invalid(
                    page,
                    desk,
                    &catalog,
                    RegisterForm {
                        form,
                        errors: Vec::new(),
                        general: Some(error.kind.message(lang)),
                    },
                );
                *response.status_mut() = error.kind.status;
                return response;
            }
        },
    };
    let command = Command::Register {
        form: form.clone(),
        channel: desk.channel(),
    };
    let admitted = app.admit_registration(&caller, page.ip, &form.applicant_iin, 1);
    let submitted = match admitted {
        Ok(()) => page.submit(app, &caller, &fields, command).await,
        Err(refused) => Err(refused),
    };
    let outcome = match submitted {
        Ok(outcome) => outcome,
        Err(CommandError::Refused(refusal)) => {
            let kind = refusal_kind(&refusal);
            if let Err(error) = identity::refused(app, person.as_ref(), &children, kind, lang) {
                return page.api_error(error);
            }
            let field = if refusal == Refusal::AlreadyQueued {
                "child_iin"
            } else {
                "district"
            };
            let errors = vec![(field, refusal_kind(&refusal).message(lang))];
            return invalid(
                page,
                desk,
                &catalog,
                RegisterForm {
                    form,
                    errors,
                    general: None,
                },
            );
        }
        Err(error) => {
            let (status, message) = page.command_error(error);
            let mut response = invalid(
                page,
                desk,
                &catalog,
                RegisterForm {
                    form,
                    errors: Vec::new(),
                    general: Some(message),
                },
            );
            *response.status_mut() = status;
            return response;
        }
    };
    let Outcome::Registered {
        application,
        access_code,
        position,
        ..
    } = outcome
    else {
        unreachable!("a registration answers Registered")
    };
    let number = ids::application_number(&catalog, application.id);
    // The registration stands whatever happens to the file: a failure is said, not hidden.
    let scan_failed = match scan {
        Some(file) => attach_scan(app, &caller, &application, file, lang)
            .await
            .err(),
        None => None,
    };
    let prefix = app.service.read().access.get(&application.id).copied();
    let content = html! {
        h1 { (page.t(texts::REGISTERED_TITLE)) }
        div.notice.ok role="status" {
            dl.facts {
                dt { (page.t(texts::REGISTERED_NUMBER)) }
                dd.code data-testid="number" { (number) }
                dt { (page.t(texts::REGISTERED_CODE)) }
                dd.code data-testid="access-code" { (access_code) }
                @if let Some(position) = &position {
                    dt { (page.t(texts::REGISTERED_POSITION)) }
                    dd { (position.in_cohort) " " (page.t(texts::POSITION_OF)) " " (position.cohort_size) }
                }
            }
        }
        p { strong { (page.t(texts::REGISTERED_CODE_WARNING)) } }
        @if let Some(error) = scan_failed {
            p.notice.error role="alert" { (error.kind.message(lang)) }
        }
        div.actions {
            a.button href=(format!("/api/v1/applications/{number}/notice?lang={}", page.lang.code())) { (page.t(texts::PRINT_NOTICE)) }
            a.button.secondary href=(format!("/api/v1/applications/{number}/notice?lang={}&format=pdf", page.lang.code())) { (page.t(texts::PRINT_NOTICE_PDF)) }
            (desk.after_links(page, &number))
        }
    };
    let mut response = page.render(
        StatusCode::CREATED,
        page.t(texts::REGISTERED_TITLE),
        content,
    );
    // Registering opens the application on the parent's browser, as a look-up with the code
    // would; never on a staff desk's.
    if let (Some(prefix), false) = (prefix, desk.is_staff()) {
        sign_in(page, &mut response, application.id, prefix);
    }
    response
}

fn invalid(page: &Page, desk: &Desk, catalog: &Catalog, form: RegisterForm) -> Response {
    let content = register_markup(page, desk, catalog, &form);
    page.render(
        StatusCode::UNPROCESSABLE_ENTITY,
        page.t(texts::REGISTER_TITLE),
        content,
    )
}

fn register_markup(page: &Page, desk: &Desk, catalog: &Catalog, form: &RegisterForm) -> Markup {
    let lang = page.lang;
    let district = ids::parse_district(catalog, &form.form.district);
    let error = |name: &str| {
        form.errors
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(_, m)| *m)
    };
    let value = |v: &str| v.to_string();
    let f = &form.form;
    html! {
        h1 { (page.t(texts::REGISTER_TITLE)) }
        (desk.banner(page))
        @if !form.errors.is_empty() {
            div.summary role="alert" aria-labelledby="error-summary-title" tabindex="-1" {
                h2 #error-summary-title { (page.t(texts::ERRORS_TITLE)) }
                p { (page.t(texts::ERRORS_INTRO)) }
                ul {
                    @for (field, message) in &form.errors {
                        li { a href=(format!("#{field}")) { (field_label(page, field)) ": " (message) } }
                    }
                }
            }
        }
        @if let Some(general) = form.general {
            p.notice.error role="alert" { (general) }
        }
        p { (page.t(texts::REGISTER_INTRO)) }
        p { a href=(format!("{}/family?district={}", desk.path(), f.district)) { (page.t(texts::FAMILY_LINK)) } }
        // Choosing another district shows its kindergartens and languages: a GET, no script.
        form.filters method="get" action=(desk.path()) {
            div.field.invalid[error("district").is_some()] {
                label for="district" { (page.t(texts::FIELD_DISTRICT)) }
                @if let Some(message) = error("district") { p.error-message id="district-error" { (message) } }
                (district_select(catalog, lang, district))
            }
            div.field { button.secondary type="submit" { (page.t(texts::SHOW)) } }
        }
        form method="post" action=(desk.path()) enctype="multipart/form-data" novalidate {
            input type="hidden" name="district" value=(f.district);
            (desk.form_guard(page))
            fieldset {
                legend { (page.t(texts::FIELD_CHILD)) }
                (super::text_field("child_iin", page.t(texts::FIELD_CHILD_IIN), Some(page.t(texts::HINT_IIN)), &f.child_iin, error("child_iin"), FieldAttrs::TEXT.numeric()))
                (super::text_field("child_full_name", page.t(texts::FIELD_CHILD_NAME), None, &f.child_full_name, error("child_full_name"), FieldAttrs::TEXT))
                (super::text_field("child_birth_date", page.t(texts::FIELD_BIRTH_DATE), Some(page.t(texts::HINT_DATE)), &f.child_birth_date, error("child_birth_date"), FieldAttrs::TEXT))
            }
            fieldset {
                legend { (page.t(texts::FIELD_APPLICANT)) }
                @if let Some(signed) = &page.person {
                    // From the provider, never from the form (issue 14).
                    dl.facts data-testid="applicant-from-provider" {
                        dt { (page.t(texts::APPLICANT_FROM_PROVIDER)) }
                        dd { (signed.person.iin) @if let Some(name) = &signed.person.name { ", " (name) } }
                    }
                    @if signed.person.name.is_none() {
                        (super::text_field("applicant_full_name", page.t(texts::FIELD_APPLICANT_NAME), None, &f.applicant_full_name, error("applicant_full_name"), FieldAttrs::TEXT.autocomplete("name")))
                    }
                } @else {
                    (super::text_field("applicant_iin", page.t(texts::FIELD_APPLICANT_IIN), Some(page.t(texts::HINT_IIN)), &f.applicant_iin, error("applicant_iin"), FieldAttrs::TEXT.numeric()))
                    (super::text_field("applicant_full_name", page.t(texts::FIELD_APPLICANT_NAME), None, &f.applicant_full_name, error("applicant_full_name"), FieldAttrs::TEXT.autocomplete("name")))
                }
                (relation_select(page, &f.applicant_relation, error("applicant_relation")))
                (super::text_field("applicant_phone", page.t(texts::FIELD_PHONE), Some(page.t(texts::HINT_PHONE)), &f.applicant_phone, error("applicant_phone"), FieldAttrs::TEXT.kind("tel").autocomplete("tel")))
                (super::text_field("applicant_email", page.t(texts::FIELD_EMAIL), None, &value(f.applicant_email.as_deref().unwrap_or("")), error("applicant_email"), FieldAttrs::TEXT.kind("email").autocomplete("email").optional()))
                (super::text_field("applicant_address", page.t(texts::FIELD_ADDRESS), None, &f.applicant_address, error("applicant_address"), FieldAttrs::TEXT.autocomplete("address-line1")))
            }
            fieldset {
                legend { (page.t(texts::FIELD_PLACE)) }
                (super::text_field("desired_start", page.t(texts::FIELD_DESIRED_START), Some(page.t(texts::HINT_DATE)), &f.desired_start, error("desired_start"), FieldAttrs::TEXT))
                (language_select(page, catalog, district, &f.language, error("language")))
                (kindergarten_checks(page, catalog, district, &f.kindergartens, error("kindergartens")))
            }
            fieldset {
                legend { (page.t(texts::FIELD_PRIORITY)) }
                p.hint { (page.t(texts::FIELD_PRIORITY_HINT)) }
                (category_select(page, catalog, f.priority_category.as_deref().unwrap_or(""), error("priority_category")))
                (super::text_field("priority_document", page.t(texts::FIELD_PRIORITY_DOCUMENT), None, f.priority_document.as_deref().unwrap_or(""), error("priority_document"), FieldAttrs::TEXT.optional()))
                div.field {
                    label for="file" { (page.t(texts::FIELD_PRIORITY_SCAN)) }
                    p.hint id="file-hint" { (page.t(texts::ATTACHMENT_FILE_HINT)) }
                    input type="file" id="file" name="file" aria-describedby="file-hint"
                        accept=".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png";
                }
            }
            button type="submit" { (page.t(texts::SUBMIT_REGISTER)) }
        }
    }
}

/// A form field's label, for the error summary (two fields can share a message).
fn field_label(page: &Page, field: &str) -> &'static str {
    let text = match field {
        "district" => texts::FIELD_DISTRICT,
        "child_iin" => texts::FIELD_CHILD_IIN,
        "child_full_name" => texts::FIELD_CHILD_NAME,
        "child_birth_date" => texts::FIELD_BIRTH_DATE,
        "applicant_iin" => texts::FIELD_APPLICANT_IIN,
        "applicant_full_name" => texts::FIELD_APPLICANT_NAME,
        "applicant_phone" => texts::FIELD_PHONE,
        "applicant_email" => texts::FIELD_EMAIL,
        "applicant_address" => texts::FIELD_ADDRESS,
        "applicant_relation" => texts::FIELD_RELATION,
        "desired_start" => texts::FIELD_DESIRED_START,
        "kindergartens" => texts::FIELD_KINDERGARTENS,
        "language" => texts::FIELD_LANGUAGE,
        "priority_category" => texts::FIELD_PRIORITY_CATEGORY,
        _ => texts::FIELD_PRIORITY_DOCUMENT,
    };
    page.t(text)
}

fn select_field(name: &str, label: &str, error: Option<&str>, options: Markup) -> Markup {
    let error_id = format!("{name}-error");
    html! {
        div.field.invalid[error.is_some()] {
            label for=(name) { (label) }
            @if let Some(error) = error { p.error-message id=(error_id) { (error) } }
            select id=(name) name=(name) aria-describedby=[error.map(|_| error_id.as_str())] aria-invalid=[error.map(|_| "true")] {
                (options)
            }
        }
    }
}

pub(in crate::http::pages) fn relation_select(
    page: &Page,
    chosen: &str,
    error: Option<&str>,
) -> Markup {
    let options = [
        ("mother", texts::RELATION_MOTHER),
        ("father", texts::RELATION_FATHER),
        ("guardian", texts::RELATION_GUARDIAN),
        ("other_legal_representative", texts::RELATION_OTHER),
    ];
    select_field(
        "applicant_relation",
        page.t(texts::FIELD_RELATION),
        error,
        html! {
            @for (code, label) in options {
                option value=(code) selected[chosen == code] { (page.t(label)) }
            }
        },
    )
}

pub(in crate::http::pages) fn language_select(
    page: &Page,
    catalog: &Catalog,
    district: Option<DistrictId>,
    chosen: &str,
    error: Option<&str>,
) -> Markup {
    let languages = district
        .and_then(|d| catalog.districts.get(&d))
        .map(|d| d.languages.clone())
        .unwrap_or_default();
    select_field(
        "language",
        page.t(texts::FIELD_LANGUAGE),
        error,
        html! {
            option value="any" selected[chosen == "any"] { (page.t(texts::ANY_LANGUAGE)) }
            @for language in languages {
                option value=(language.code()) selected[chosen == language.code()] { (language_name(page.lang, language.code())) }
            }
        },
    )
}

pub(super) fn category_select(
    page: &Page,
    catalog: &Catalog,
    chosen: &str,
    error: Option<&str>,
) -> Markup {
    select_field(
        "priority_category",
        page.t(texts::FIELD_PRIORITY_CATEGORY),
        error,
        html! {
            option value="" selected[chosen.is_empty()] { (page.t(texts::NO_PRIORITY)) }
            @for category in catalog.categories.values().filter(|c| !c.retired) {
                option value=(category.code) selected[chosen == category.code] {
                    (page.lang.pick(&category.names)) " — " (texts::tier(page.lang, crate::http::views::tier_code(category.tier)))
                }
            }
        },
    )
}

pub(in crate::http::pages) fn kindergarten_checks(
    page: &Page,
    catalog: &Catalog,
    district: Option<DistrictId>,
    chosen: &[u32],
    error: Option<&str>,
) -> Markup {
    html! {
        div.field.invalid[error.is_some()] {
            fieldset aria-describedby="kindergartens-hint" {
                legend { (page.t(texts::FIELD_KINDERGARTENS)) }
                p.hint id="kindergartens-hint" { (page.t(texts::FIELD_KINDERGARTENS_HINT)) }
                @if let Some(error) = error { p.error-message id="kindergartens-error" { (error) } }
                div.checks #kindergartens tabindex="-1" {
                    @for k in catalog.kindergartens.values().filter(|k| Some(k.district) == district) {
                        div.check {
                            input type="checkbox" id=(format!("kindergarten-{}", k.id.0)) name="kindergartens"
                                value=(k.id.0) checked[chosen.contains(&k.id.0)];
                            label for=(format!("kindergarten-{}", k.id.0)) {
                                (page.lang.pick(&k.names)) ", " (k.address)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Opens `id` on this browser: the parent's session cookie.
pub(super) fn sign_in(
    page: &Page,
    response: &mut Response,
    id: crate::domain::application::ApplicationId,
    prefix: u64,
) {
    let session = ParentSession {
        application: id,
        access_prefix: prefix,
        expires: page.now + PARENT_SESSION,
    };
    let value = page.keys.parent_cookie(&session);
    let cookie = page.keys.set_cookie(PARENT_COOKIE, &value, PARENT_SESSION);
    response.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("ASCII"),
    );
}

async fn lookup_form(page: Page) -> Response {
    lookup_page(&page, StatusCode::OK, "", None)
}

fn lookup_page(page: &Page, status: StatusCode, number: &str, error: Option<&str>) -> Response {
    let content = html! {
        h1 { (page.t(texts::LOOKUP_TITLE)) }
        @if let Some(error) = error { p.notice.error role="alert" { (error) } }
        p { (page.t(texts::LOOKUP_INTRO)) }
        form method="post" action="/lookup" {
            (super::text_field("number", page.t(texts::FIELD_NUMBER), Some(page.t(texts::HINT_NUMBER)), number, None, FieldAttrs::TEXT.autocomplete("off")))
            (super::text_field("code", page.t(texts::FIELD_CODE), Some(page.t(texts::HINT_CODE)), "", None, FieldAttrs::TEXT.kind("password").autocomplete("current-password")))
            button type="submit" { (page.t(texts::SUBMIT_LOOKUP)) }
        }
    };
    page.render(status, page.t(texts::LOOKUP_TITLE), content)
}

async fn lookup(State(app): State<AppState>, page: Page, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let number = fields.get("number").trim().to_ascii_uppercase();
    let code = fields.get("code").trim().to_string();
    let id = ids::parse_application(&app.service.read().catalog, &number);
    // The API's own check: the same rate limits, the same answer for every failure.
    match application_access(&app, &Caller::Parent(code), page.ip, id, page.lang.api()) {
        Ok(id) => {
            let prefix = app.service.read().access.get(&id).copied();
            let mut response = see_other("/my");
            if let Some(prefix) = prefix {
                sign_in(&page, &mut response, id, prefix);
            }
            response
        }
        Err(error) if error.kind.status == StatusCode::TOO_MANY_REQUESTS => page.api_error(error),
        Err(_) => lookup_page(
            &page,
            StatusCode::UNPROCESSABLE_ENTITY,
            &number,
            Some(page.t(texts::LOOKUP_FAILED)),
        ),
    }
}

async fn sign_out(State(app): State<AppState>, page: Page, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let staff = fields.get("who") == "staff";
    if !page.csrf_ok(&fields, staff) {
        return page.form_expired();
    }
    let (name, mut response) = if staff {
        // Signed in at a provider: signed out there too, where it has an end-session page.
        (
            super::session::STAFF_COOKIE,
            signin::staff_signed_out(&app, &page).await,
        )
    } else {
        (PARENT_COOKIE, see_other("/lookup"))
    };
    let cookie = page.keys.set_cookie(name, "", Duration::zero());
    response.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("ASCII"),
    );
    response
}

async fn my(State(app): State<AppState>, page: Page) -> Response {
    let Some(parent) = &page.parent else {
        return see_other("/lookup");
    };
    let id = parent.session.application;
    let lang = page.lang.api();
    let view = match application_view(&app, lang, id).await {
        Ok(view) => view,
        Err(error) => return page.api_error(error),
    };
    let history = match position_history_of(&app, lang, id).await {
        Ok(history) => history,
        Err(error) => return page.api_error(error),
    };
    // The survey is asked once the service request is completed (its result document
    // issued, at registration), and only once.
    let survey_open = view.stage == crate::http::views::STAGE_COMPLETED
        && !matches!(
            crate::http::applications::read_blocking(&app, lang, move |conn| {
                crate::store::survey_answered(conn, id)
            })
            .await,
            Ok(true)
        );
    let looked = match crate::http::access_log::application_log_of(&app, lang, id, 0).await {
        Ok(log) => log,
        Err(error) => return page.api_error(error),
    };
    let catalog = app.service.read().catalog.clone();
    let done = match page.query("done") {
        Some("answered") => Some(texts::DONE_ANSWERED),
        Some("declined") => Some(texts::DONE_DECLINED),
        Some("extended") => Some(texts::DONE_EXTENDED),
        Some("withdrawn") => Some(texts::DONE_WITHDRAWN),
        Some("amended") => Some(texts::DONE_AMENDED),
        Some("attached") => Some(texts::ATTACHMENT_ADDED),
        _ => None,
    };
    let caller = Caller::Session(parent.session);
    let files = match crate::http::attachments::list_of(&app, &caller, lang, id).await {
        Ok(files) => files,
        Err(error) => return page.api_error(error),
    };
    let requests = match crate::http::attachments::requests_of(&app, lang, id).await {
        Ok(requests) => requests,
        Err(error) => return page.api_error(error),
    };
    let mut points: Vec<_> = history
        .points
        .iter()
        .map(|p| (p.date, p.position))
        .collect();
    // While waiting, the last position holds until today: the line runs up to now.
    let today = local_date(page.now);
    if let (Some(position), Some(&(last_day, _))) = (&view.position, points.last()) {
        if last_day < today {
            points.push((today, position.in_cohort));
        }
    }
    let content = html! {
        h1 { (page.t(texts::MY_TITLE)) " " (view.number) }
        @if let Some(done) = done { p.notice.ok role="status" { (page.t(done)) } }
        (facts(&page, &catalog, &view))
        (position_section(&page, &catalog, &view, &points))
        @if let Some(referral) = &view.referral { (referral_section(&page, &catalog, &view, referral)) }
        @if survey_open { (survey_form(&page)) }
        (actions(&page, &view))
        (attachments_section(&page, &view, &files, &requests))
        (history_section(&page, &view))
        (access_log_section(&page, &looked))
    };
    page.ok(
        &format!("{} {}", page.t(texts::MY_TITLE), view.number),
        content,
    )
}

/// The parent's documents: each to download, and a form to attach another.
fn attachments_section(
    page: &Page,
    view: &ApplicationView,
    files: &[crate::store::attachments::AttachmentRow],
    requests: &[crate::store::document_requests::RequestRow],
) -> Markup {
    let claimed = view.priority.is_some();
    // The kind asked for first: the form answers the request as it comes.
    let mut kinds = attachments::kinds(claimed);
    if let Some(open) = requests.iter().find(|r| r.received.is_none()) {
        kinds.sort_by_key(|kind| *kind != open.request.kind);
    }
    html! {
        section aria-labelledby="attachments-title" {
            h2 #attachments-title { (page.t(texts::ATTACHMENTS_TITLE)) }
            (attachments::requests_list(page, requests))
            (attachments::table(page, &view.number, files, false))
            form method="post" action="/my/attachments" enctype="multipart/form-data" {
                (page.form_guard(false))
                (attachments::file_inputs(page, &kinds))
                button type="submit" { (page.t(texts::ATTACHMENT_ADD)) }
            }
        }
    }
}

/// The file sent with a registration, scanned (when clamd is configured) and recognised.
async fn scanned_and_accepted(
    app: &AppState,
    caller: &Caller,
    bytes: Vec<u8>,
    lang: crate::http::error::Lang,
) -> Result<crate::domain::attachment::Accepted, crate::http::error::ApiError> {
    let bytes = crate::http::attachments::scanned(app, caller, None, bytes, lang).await?;
    crate::http::attachments::accept_blocking(bytes, lang).await
}

/// The scan sent with a registration: the claim's document, or, without a claim, another
/// document.
async fn attach_scan(
    app: &AppState,
    caller: &Caller,
    application: &crate::domain::application::Application,
    file: crate::domain::attachment::Accepted,
    lang: crate::http::error::Lang,
) -> Result<(), crate::http::error::ApiError> {
    use crate::domain::attachment::AttachmentKind;
    let kind = if application.priority.is_some() {
        AttachmentKind::PriorityDocument
    } else {
        AttachmentKind::Other
    };
    let command = Command::Attach {
        id: application.id,
        kind,
        file: Box::new(file),
        limits: app.attachments,
    };
    app.service
        .submit(command, caller.actor())
        .await
        .map(|_| ())
        .map_err(|e| crate::http::error::ApiError::from_command(e, lang))
}

/// A document the parent attaches on their application's page.
async fn attach(
    State(app): State<AppState>,
    mut page: Page,
    request: axum::extract::Request,
) -> Response {
    let Some(session) = page.parent.as_ref().map(|parent| parent.session) else {
        return see_other("/lookup");
    };
    let mut upload = match attachments::read_upload(request, app.attachments.file_bytes_max).await {
        Ok(upload) => upload,
        Err(problem) => return attachments::unreadable(&page, problem),
    };
    page.set_fingerprint(upload.fingerprint("/my/attachments"));
    if !page.csrf_ok(&upload.fields, false) {
        return page.form_expired();
    }
    let caller = Caller::Session(session);
    let id = session.application;
    match attachments::attach_file(&app, &page, &caller, id, &mut upload).await {
        Ok(()) => see_other("/my?done=attached"),
        Err(error) => page.api_error(error),
    }
}

/// Who among the staff looked at the application (issue 15: "who looked at my application").
pub(super) fn access_log_section(page: &Page, log: &crate::http::access_log::AccessLog) -> Markup {
    html! {
        section aria-labelledby="looked-title" {
            h2 #looked-title { (page.t(texts::ACCESS_LOG_TITLE)) }
            p.hint { (page.t(texts::ACCESS_LOG_INTRO)) }
            @if log.entries.is_empty() {
                p { (page.t(texts::ACCESS_LOG_EMPTY)) }
            } @else {
                div.table-wrap { table data-testid="access-log" {
                    (page.column_heads(&[texts::WHEN, texts::WHO, texts::WHAT]))
                    tbody {
                        @for entry in &log.entries {
                            tr {
                                td.nowrap { (texts::local_time(entry.at)) }
                                td { (entry.account) }
                                td { (texts::view_kind(page.lang, &entry.kind)) }
                            }
                        }
                    }
                } }
            }
        }
    }
}

pub(super) fn facts(page: &Page, catalog: &Catalog, view: &ApplicationView) -> Markup {
    let lang = page.lang;
    html! {
        @if view.personal_data_erased {
            p.notice data-testid="personal-data-erased" { (page.t(texts::PERSONAL_DATA_ERASED)) }
        }
        dl.facts {
            dt { (page.t(texts::STATUS)) }
            dd data-testid="status" { strong { (texts::status(lang, &view.status)) } }
            dt { (page.t(texts::FIELD_CHILD_NAME)) }
            dd { (view.child_full_name) }
            dt { (page.t(texts::CHILD_BIRTH_DATE)) }
            dd { (texts::date(view.child_birth_date)) }
            @if let Some(legacy_number) = &view.legacy_number {
                dt { (page.t(texts::LEGACY_NUMBER)) }
                dd data-testid="legacy-number" { (legacy_number) }
            }
            dt { (page.t(texts::REGISTERED_AT)) }
            dd { (texts::local_time(view.registered_at)) }
            dt { (page.t(texts::DESIRED_START)) }
            dd { (texts::date(view.desired_start)) }
            dt { (page.t(texts::LANGUAGE)) }
            dd { (language_name(lang, view.language.as_deref().unwrap_or("any"))) }
            dt { (page.t(texts::KINDERGARTENS)) }
            dd {
                @if view.kindergartens.is_empty() { (page.t(texts::ANY_KINDERGARTEN)) }
                @else { ol { @for k in &view.kindergartens { li { (kindergarten_name(catalog, lang, *k)) } } } }
            }
            @if let Some(priority) = &view.priority {
                dt { (page.t(texts::PRIORITY)) }
                dd {
                    (catalog.categories.get(&priority.category).map_or(priority.category.as_str(), |c| lang.pick(&c.names)))
                    " — " (texts::claim_status(lang, &priority.status))
                }
                dt { (page.t(texts::PRIORITY_DOCUMENT)) }
                dd {
                    (priority.document)
                    @if let Some(category) = catalog.categories.get(&priority.category) {
                        p.hint { (page.t(texts::PRIORITY_DOCUMENT_NEEDED)) ": " (lang.pick(&category.document)) }
                    }
                }
            }
            dt { (page.t(texts::TIER)) }
            dd data-testid="tier" { (texts::tier(lang, &view.tier)) }
            @if let Some(until) = view.on_stop_list_until {
                dt { (page.t(texts::STOP_LIST_UNTIL)) }
                dd { (texts::local_time(until)) }
            }
        }
    }
}

fn position_section(
    page: &Page,
    catalog: &Catalog,
    view: &ApplicationView,
    points: &[(chrono::NaiveDate, u32)],
) -> Markup {
    let lang = page.lang;
    html! {
        section aria-labelledby="position-title" {
            h2 #position-title { (page.t(texts::POSITION_TITLE)) }
            @if let Some(position) = &view.position {
                p {
                    (page.t(texts::POSITION_IN_COHORT)) " (" (position.cohort) "): "
                    span.big data-testid="position" { (position.in_cohort) }
                    " " (page.t(texts::POSITION_OF)) " " (position.cohort_size)
                }
                @if !position.per_kindergarten.is_empty() {
                    h3 { (page.t(texts::POSITION_PER_KINDERGARTEN)) }
                    ul {
                        @for k in &position.per_kindergarten {
                            li { (kindergarten_name(catalog, lang, k.kindergarten)) ": " strong { (k.ahead) } " " (page.t(texts::AHEAD)) }
                        }
                    }
                }
            } @else {
                p { (page.t(texts::POSITION_NOT_WAITING)) }
            }
            h3 { (page.t(texts::CHART_TITLE)) }
            @match chart::positions(points, page.t(texts::CHART_TITLE), page.t(texts::CHART_DESC)) {
                Some(svg) => {
                    figure.chart { (super::svg(svg)) }
                    details {
                        summary { (page.t(texts::CHART_TABLE)) }
                        table {
                            thead { tr { th scope="col" { (page.t(texts::DATE)) } th.num scope="col" { (page.t(texts::PLACE_NUMBER)) } } }
                            tbody { @for (day, position) in points { tr { td { (texts::date(*day)) } td.num { (position) } } } }
                        }
                    }
                }
                None => p { (page.t(texts::CHART_EMPTY)) },
            }
        }
    }
}

fn referral_section(
    page: &Page,
    catalog: &Catalog,
    view: &ApplicationView,
    referral: &crate::http::views::ReferralView,
) -> Markup {
    let lang = page.lang;
    let kindergarten = catalog
        .kindergartens
        .get(&crate::domain::catalog::KindergartenId(
            referral.kindergarten,
        ));
    let live = referral.status == "issued";
    html! {
        section aria-labelledby="referral-title" {
            h2 #referral-title { (page.t(texts::REFERRAL_TITLE)) }
            dl.facts {
                dt { (page.t(texts::REFERRAL_NUMBER)) }
                dd data-testid="referral-number" { (referral.number) }
                dt { (page.t(texts::STATUS)) }
                dd { (texts::referral_status(lang, &referral.status)) }
                dt { (page.t(texts::KINDERGARTEN)) }
                dd {
                    (kindergarten_name(catalog, lang, referral.kindergarten))
                    @if let Some(k) = kindergarten { br; (k.address) }
                }
                dt { (page.t(texts::ISSUED_AT)) }
                dd { (texts::local_time(referral.issued_at)) }
                @if live {
                    dt { (page.t(texts::VALID_UNTIL)) }
                    dd data-testid="valid-until" {
                        strong { (texts::until_end_of(lang, referral.valid_until)) }
                        @if referral.extended { " (" (page.t(texts::EXTENDED)) ")" }
                        p.hint { (page.t(texts::VALID_UNTIL_HINT)) }
                    }
                }
            }
            @if live {
                div.actions {
                    a.button href=(format!("/api/v1/referrals/{}/document?lang={}", referral.number, lang.code())) { (page.t(texts::PRINT_REFERRAL)) }
                    a.button.secondary href=(format!("/api/v1/referrals/{}/document?lang={}&format=pdf", referral.number, lang.code())) { (page.t(texts::PRINT_REFERRAL_PDF)) }
                }
            }
            @if view.status == "refused" {
                a.button href=(format!("/api/v1/applications/{}/refusal?lang={}", view.number, lang.code())) { (page.t(texts::PRINT_REFUSAL)) }
            }
        }
    }
}

fn actions(page: &Page, view: &ApplicationView) -> Markup {
    let live = view.referral.as_ref().is_some_and(|r| r.status == "issued");
    let extendable = view
        .referral
        .as_ref()
        .is_some_and(|r| r.status == "issued" && !r.extended);
    let active = matches!(view.status.as_str(), "queued" | "referred");
    html! {
        section aria-labelledby="actions-title" {
            h2 #actions-title { (page.t(texts::ACTIONS)) }
            div.actions {
                a.button.secondary href=(format!("/api/v1/applications/{}/notice?lang={}", view.number, page.lang.code())) { (page.t(texts::PRINT_NOTICE)) }
                @if extendable { a.button.secondary href="/my/extend" { (page.t(texts::ACTION_EXTEND)) } }
                @if live { a.button.secondary href="/my/decline" { (page.t(texts::ACTION_DECLINE)) } }
                @if active { a.button.secondary href="/my/amend" { (page.t(texts::ACTION_AMEND)) } }
                @if active { a.button.secondary href="/my/withdraw" { (page.t(texts::ACTION_WITHDRAW)) } }
                a.button.secondary href="/my/export" { (page.t(texts::EXPORT_LINK)) }
            }
        }
    }
}

pub(super) fn history_section(page: &Page, view: &ApplicationView) -> Markup {
    let lang = page.lang;
    html! {
        section aria-labelledby="history-title" {
            h2 #history-title { (page.t(texts::HISTORY_TITLE)) }
            div.table-wrap { table {
                (page.column_heads(&[texts::WHEN, texts::WHAT, texts::STATUS, texts::WHO]))
                tbody {
                    @for entry in &view.history {
                        tr {
                            td { (texts::local_time(entry.at)) }
                            td { (texts::change(lang, &entry.change)) }
                            td { (texts::status(lang, &entry.status)) }
                            td { (texts::actor(lang, &entry.by)) }
                        }
                    }
                }
            } }
        }
    }
}

/// The two questions of the quality survey, each a group of three choices.
fn survey_form(page: &Page) -> Markup {
    let choices = [
        ("fully", texts::SURVEY_FULLY),
        ("partly", texts::SURVEY_PARTLY),
        ("not", texts::SURVEY_NOT),
    ];
    let question = |name: &str, legend: texts::T| {
        html! {
            fieldset {
                legend { (page.t(legend)) }
                @for (value, label) in choices {
                    div.check {
                        input type="radio" id=(format!("{name}-{value}")) name=(name) value=(value) required;
                        label for=(format!("{name}-{value}")) { (page.t(label)) }
                    }
                }
            }
        }
    };
    html! {
        section aria-labelledby="survey-title" {
            h2 #survey-title { (page.t(texts::SURVEY_TITLE)) }
            form method="post" action="/my/survey" {
                (page.form_guard(false))
                (question("process", texts::SURVEY_PROCESS))
                (question("information", texts::SURVEY_INFORMATION))
                button type="submit" { (page.t(texts::SURVEY_SUBMIT)) }
            }
        }
    }
}

async fn survey(State(app): State<AppState>, page: Page, body: Bytes) -> Response {
    let Some(parent) = &page.parent else {
        return see_other("/lookup");
    };
    let fields = Fields::parse(&body);
    if !page.csrf_ok(&fields, false) {
        return page.form_expired();
    }
    let answer = |name: &str| {
        serde_json::from_value::<Satisfaction>(serde_json::Value::String(fields.get(name).into()))
            .ok()
    };
    let (Some(process), Some(information)) = (answer("process"), answer("information")) else {
        let message = crate::http::error::INVALID.message(page.lang.api());
        return page.message(
            StatusCode::UNPROCESSABLE_ENTITY,
            page.t(texts::ERROR_TITLE),
            message,
        );
    };
    let command = Command::AnswerSurvey {
        id: parent.session.application,
        process,
        information,
    };
    match page
        .submit(&app, &Caller::Session(parent.session), &fields, command)
        .await
    {
        Ok(_) => see_other("/my?done=answered"),
        Err(error) => {
            let (status, message) = page.command_error(error);
            page.message(status, page.t(texts::ERROR_TITLE), message)
        }
    }
}

/// The three things a parent can do, each asked once more before it is done.
#[derive(Clone, Copy)]
enum Action {
    Decline,
    Extend,
    Withdraw,
}

impl Action {
    fn parse(text: &str) -> Option<Action> {
        match text {
            "decline" => Some(Action::Decline),
            "extend" => Some(Action::Extend),
            "withdraw" => Some(Action::Withdraw),
            _ => None,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Action::Decline => "decline",
            Action::Extend => "extend",
            Action::Withdraw => "withdraw",
        }
    }

    /// The action's name, its question, and the `done` the application page thanks for.
    fn texts(self) -> (texts::T, texts::T, &'static str) {
        match self {
            Action::Decline => (texts::ACTION_DECLINE, texts::CONFIRM_DECLINE, "declined"),
            Action::Extend => (texts::ACTION_EXTEND, texts::CONFIRM_EXTEND, "extended"),
            Action::Withdraw => (texts::ACTION_WITHDRAW, texts::CONFIRM_WITHDRAW, "withdrawn"),
        }
    }
}

async fn confirm(page: Page, Path(action): Path<String>) -> Response {
    if page.parent.is_none() {
        return see_other("/lookup");
    }
    let Some(action) = Action::parse(&action) else {
        return page.api_error(crate::http::error::ApiError::new(
            crate::http::error::NOT_FOUND,
            page.lang.api(),
        ));
    };
    let (title, question, _) = action.texts();
    let danger = !matches!(action, Action::Extend);
    page.ok(
        page.t(title),
        html! {
            h1 { (page.t(title)) }
            p.lead { (page.t(question)) }
            form method="post" action=(format!("/my/{}", action.path())) {
                (page.form_guard(false))
                div.actions {
                    button.warning[danger] type="submit" { (page.t(texts::CONFIRM_YES)) }
                    a.button.secondary href="/my" { (page.t(texts::CONFIRM_NO)) }
                }
            }
        },
    )
}

async fn act(
    State(app): State<AppState>,
    page: Page,
    Path(action): Path<String>,
    body: Bytes,
) -> Response {
    let Some(parent) = &page.parent else {
        return see_other("/lookup");
    };
    let fields = Fields::parse(&body);
    if !page.csrf_ok(&fields, false) {
        return page.form_expired();
    }
    let Some(action) = Action::parse(&action) else {
        return page.api_error(crate::http::error::ApiError::new(
            crate::http::error::NOT_FOUND,
            page.lang.api(),
        ));
    };
    let id = parent.session.application;
    let referral = app.service.read().referral_of.get(&id).copied();
    let command = match (action, referral) {
        (Action::Withdraw, _) => Command::Withdraw { id },
        (Action::Decline, Some(referral)) => Command::Decline { referral },
        (Action::Extend, Some(referral)) => Command::Extend { referral },
        (_, None) => {
            let error = crate::http::error::ApiError::new(
                crate::http::error::REFERRAL_NOT_LIVE,
                page.lang.api(),
            );
            return page.api_error(error);
        }
    };
    let caller = Caller::Session(parent.session);
    match page.submit(&app, &caller, &fields, command).await {
        Ok(_) => see_other(&format!("/my?done={}", action.texts().2)),
        Err(error) => {
            let (status, message) = page.command_error(error);
            page.message(status, page.t(texts::ERROR_TITLE), message)
        }
    }
}
