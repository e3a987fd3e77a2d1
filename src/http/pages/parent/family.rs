//! Parents register twins, triplets or siblings together: the applicant's part once, each
//! child's own, and the family's choice of "together only" or "separately". Each child's
//! form is checked by the registration's own `NewApplication::refusals` (the API's texts),
//! and the registration is the API's family command.

use super::texts;
use super::{
    category_select, form_of, kindergarten_checks, language_select, relation_select, sign_in, Desk,
};
use crate::domain::application::{NewApplication, RegistrationForm};
use crate::domain::catalog::Catalog;
use crate::domain::local_date;
use crate::domain::numbers as ids;
use crate::http::error::refusal_kind;
use crate::http::identity;
use crate::http::pages::public::district_select;
use crate::http::pages::{text_field, FieldAttrs, Fields, Page};
use crate::http::AppState;
use crate::service::{Command, CommandError, Outcome};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};

/// The page offers this many children; a family of more registers at the desk.
const CHILDREN_ON_PAGE: usize = 3;
/// The per-child fields, suffixed `_1`, `_2`, … in the form.
const CHILD_FIELDS: [&str; 3] = ["child_iin", "child_full_name", "child_birth_date"];

struct FamilyPage<'a> {
    fields: Fields,
    errors: Vec<(String, &'a str)>,
    general: Option<&'a str>,
}

pub async fn family_form(State(app): State<AppState>, page: Page) -> Response {
    family_form_at(&app, &page, &Desk::Portal)
}

/// The empty family form at `desk`.
pub(in crate::http::pages) fn family_form_at(app: &AppState, page: &Page, desk: &Desk) -> Response {
    if app.oidc.is_some() && page.person.is_none() && !desk.is_staff() {
        return crate::http::pages::see_other("/signin?next=/register/family");
    }
    let catalog = app.service.read().catalog.clone();
    let district = page
        .query("district")
        .and_then(|d| ids::parse_district(&catalog, d))
        .or_else(|| desk.home_district())
        .or_else(|| catalog.districts.keys().next().copied())
        .map(|d| ids::district_code(&catalog, d))
        .unwrap_or_default();
    let fields = Fields::parse(format!("district={district}&language=any&together=yes").as_bytes());
    let form = FamilyPage {
        fields,
        errors: Vec::new(),
        general: None,
    };
    page.ok(
        page.t(texts::FAMILY_TITLE),
        markup(page, desk, &catalog, &form),
    )
}

/// Child `i`'s registration form (1-based): the single registration's form with child `i`'s
/// fields.
fn child_form(fields: &Fields, i: usize) -> RegistrationForm {
    let child = |name: &str| fields.get(&format!("{name}_{i}")).to_string();
    RegistrationForm {
        child_iin: child("child_iin"),
        child_full_name: child("child_full_name"),
        child_birth_date: child("child_birth_date"),
        ..form_of(fields)
    }
}

/// The children whose fields are not all empty: a blank third child is no child.
fn children(fields: &Fields) -> Vec<usize> {
    (1..=CHILDREN_ON_PAGE)
        .filter(|i| {
            CHILD_FIELDS
                .iter()
                .any(|f| !fields.get(&format!("{f}_{i}")).trim().is_empty())
        })
        .collect()
}

pub async fn register_family(State(app): State<AppState>, page: Page, body: Bytes) -> Response {
    register_family_at(&app, &page, &Desk::Portal, &body).await
}

/// A family's registration posted at `desk`.
pub(in crate::http::pages) async fn register_family_at(
    app: &AppState,
    page: &Page,
    desk: &Desk,
    body: &[u8],
) -> Response {
    let fields = Fields::parse(body);
    if !desk.form_ok(page, &fields) {
        return page.form_expired();
    }
    let (catalog, today) = {
        let state = app.service.read();
        (state.catalog.clone(), local_date(app.service.now()))
    };
    let lang = page.lang.api();
    // With a provider: only a signed-in person registers on the portal, as the applicant
    // (issue 14); at a desk, staff register for the parent in front of them.
    if app.oidc.is_some() && page.person.is_none() && !desk.is_staff() {
        return crate::http::pages::see_other("/signin?next=/register/family");
    }
    let caller = desk.caller(page);
    let present = children(&fields);
    let child_iins: Vec<String> = present
        .iter()
        .map(|i| child_form(&fields, *i).child_iin)
        .collect();
    let person = match identity::registrant(app, &caller, &child_iins, lang) {
        Ok(person) => person,
        Err(error) => return page.api_error(error),
    };
    let bound = |i: usize| {
        let mut form = child_form(&fields, i);
        if let Some(person) = &person {
            identity::bind(person, &mut form);
        }
        form
    };
    let mut errors: Vec<(String, &str)> = Vec::new();
    for i in &present {
        for (field, refusal) in NewApplication::refusals(&bound(*i), &catalog, today) {
            let name = if CHILD_FIELDS.contains(&field) {
                format!("{field}_{i}")
            } else {
                field.to_string()
            };
            if !errors.iter().any(|(f, _)| *f == name) {
                errors.push((name, refusal_kind(&refusal).message(lang)));
            }
        }
    }
    if present.len() < 2 {
        let message = crate::http::error::FAMILY_SIZE_INVALID.message(lang);
        errors.push(("child_iin_2".into(), message));
    }
    let again = |errors, general, status| {
        let form = FamilyPage {
            fields: Fields::parse(body),
            errors,
            general,
        };
        page.render(
            status,
            page.t(texts::FAMILY_TITLE),
            markup(page, desk, &catalog, &form),
        )
    };
    if !errors.is_empty() {
        return again(errors, None, StatusCode::UNPROCESSABLE_ENTITY);
    }
    if !desk.serves(&catalog, fields.get("district")) {
        let error = crate::http::error::ApiError::new(crate::http::error::FORBIDDEN, lang);
        return page.api_error(error);
    }
    let command = Command::RegisterFamily {
        forms: present.iter().map(|i| bound(*i)).collect(),
        together: fields.get("together") == "yes",
        channel: desk.channel(),
    };
    let outcome = match page.submit(app, &caller, &fields, command).await {
        Ok(outcome) => outcome,
        Err(CommandError::Refused(refusal)) => {
            let kind = refusal_kind(&refusal);
            if let Err(error) = identity::refused(app, person.as_ref(), &child_iins, kind, lang) {
                return page.api_error(error);
            }
            let message = refusal_kind(&refusal).message(lang);
            return again(
                vec![("child_iin_1".into(), message)],
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
        Err(error) => {
            let (status, message) = page.command_error(error);
            return again(Vec::new(), Some(message), status);
        }
    };
    let Outcome::FamilyRegistered {
        applications,
        access_code,
        ..
    } = outcome
    else {
        unreachable!("a family registration answers FamilyRegistered")
    };
    let numbers: Vec<String> = applications
        .iter()
        .map(|a| ids::application_number(&catalog, a.id))
        .collect();
    let first = applications[0].id;
    let prefix = app.service.read().access.get(&first).copied();
    let content = html! {
        h1 { (page.t(texts::FAMILY_REGISTERED)) }
        div.notice.ok role="status" {
            dl.facts {
                dt { (page.t(texts::REGISTERED_NUMBER)) }
                dd.code data-testid="numbers" { (numbers.join(", ")) }
                dt { (page.t(texts::REGISTERED_CODE)) }
                dd.code data-testid="access-code" { (access_code) }
            }
        }
        p { strong { (page.t(texts::REGISTERED_CODE_WARNING)) } }
        div.actions {
            @for number in &numbers {
                a.button.secondary href=(format!("/api/v1/applications/{number}/notice?lang={}", page.lang.code())) { (page.t(texts::PRINT_NOTICE)) " " (number) }
            }
            (desk.after_links(page, &numbers[0]))
        }
    };
    let mut response = page.render(
        StatusCode::CREATED,
        page.t(texts::FAMILY_REGISTERED),
        content,
    );
    if let (Some(prefix), false) = (prefix, desk.is_staff()) {
        sign_in(page, &mut response, first, prefix);
    }
    response
}

fn markup(page: &Page, desk: &Desk, catalog: &Catalog, form: &FamilyPage) -> Markup {
    let f = &form.fields;
    let district = ids::parse_district(catalog, f.get("district"));
    let error = |name: &str| form.errors.iter().find(|(n, _)| n == name).map(|(_, m)| *m);
    let kindergartens: Vec<u32> = f
        .all("kindergartens")
        .filter_map(|k| k.parse().ok())
        .collect();
    let together = f.get("together") != "no";
    html! {
        h1 { (page.t(texts::FAMILY_TITLE)) }
        (desk.banner(page))
        @if !form.errors.is_empty() {
            div.summary role="alert" aria-labelledby="error-summary-title" tabindex="-1" {
                h2 #error-summary-title { (page.t(texts::ERRORS_TITLE)) }
                ul { @for (field, message) in &form.errors { li { a href=(format!("#{field}")) { (message) } } } }
            }
        }
        @if let Some(general) = form.general { p.notice.error role="alert" { (general) } }
        p { (page.t(texts::FAMILY_INTRO)) }
        form.filters method="get" action=(format!("{}/family", desk.path())) {
            div.field {
                label for="district" { (page.t(texts::FIELD_DISTRICT)) }
                (district_select(catalog, page.lang, district))
            }
            div.field { button.secondary type="submit" { (page.t(texts::SHOW)) } }
        }
        form method="post" action=(format!("{}/family", desk.path())) novalidate {
            input type="hidden" name="district" value=(f.get("district"));
            (desk.form_guard(page))
            @for i in 1..=CHILDREN_ON_PAGE {
                fieldset {
                    legend { (page.t(texts::FAMILY_CHILD)) " " (i) }
                    @let name = |field: &str| format!("{field}_{i}");
                    (text_field(&name("child_iin"), page.t(texts::FIELD_CHILD_IIN), Some(page.t(texts::HINT_IIN)), f.get(&name("child_iin")), error(&name("child_iin")), FieldAttrs::TEXT.numeric().optional()))
                    (text_field(&name("child_full_name"), page.t(texts::FIELD_CHILD_NAME), None, f.get(&name("child_full_name")), error(&name("child_full_name")), FieldAttrs::TEXT.optional()))
                    (text_field(&name("child_birth_date"), page.t(texts::FIELD_BIRTH_DATE), Some(page.t(texts::HINT_DATE)), f.get(&name("child_birth_date")), error(&name("child_birth_date")), FieldAttrs::TEXT.optional()))
                }
            }
            fieldset {
                legend { (page.t(texts::FIELD_APPLICANT)) }
                @if let Some(signed) = &page.person {
                    // From the provider, never from the form (issue 14).
                    dl.facts {
                        dt { (page.t(texts::APPLICANT_FROM_PROVIDER)) }
                        dd { (signed.person.iin) @if let Some(name) = &signed.person.name { ", " (name) } }
                    }
                    @if signed.person.name.is_none() {
                        (text_field("applicant_full_name", page.t(texts::FIELD_APPLICANT_NAME), None, f.get("applicant_full_name"), error("applicant_full_name"), FieldAttrs::TEXT.autocomplete("name")))
                    }
                } @else {
                    (text_field("applicant_iin", page.t(texts::FIELD_APPLICANT_IIN), Some(page.t(texts::HINT_IIN)), f.get("applicant_iin"), error("applicant_iin"), FieldAttrs::TEXT.numeric()))
                    (text_field("applicant_full_name", page.t(texts::FIELD_APPLICANT_NAME), None, f.get("applicant_full_name"), error("applicant_full_name"), FieldAttrs::TEXT.autocomplete("name")))
                }
                (relation_select(page, f.get("applicant_relation"), error("applicant_relation")))
                (text_field("applicant_phone", page.t(texts::FIELD_PHONE), Some(page.t(texts::HINT_PHONE)), f.get("applicant_phone"), error("applicant_phone"), FieldAttrs::TEXT.kind("tel").autocomplete("tel")))
                (text_field("applicant_email", page.t(texts::FIELD_EMAIL), None, f.get("applicant_email"), error("applicant_email"), FieldAttrs::TEXT.kind("email").autocomplete("email").optional()))
                (text_field("applicant_address", page.t(texts::FIELD_ADDRESS), None, f.get("applicant_address"), error("applicant_address"), FieldAttrs::TEXT.autocomplete("address-line1")))
            }
            fieldset {
                legend { (page.t(texts::FIELD_PLACE)) }
                (text_field("desired_start", page.t(texts::FIELD_DESIRED_START), Some(page.t(texts::HINT_DATE)), f.get("desired_start"), error("desired_start"), FieldAttrs::TEXT))
                (language_select(page, catalog, district, f.get("language"), error("language")))
                (kindergarten_checks(page, catalog, district, &kindergartens, error("kindergartens")))
                fieldset {
                    legend { (page.t(texts::FAMILY_TOGETHER)) }
                    div.check {
                        input type="radio" id="together-yes" name="together" value="yes" checked[together];
                        label for="together-yes" { (page.t(texts::FAMILY_TOGETHER_YES)) }
                    }
                    div.check {
                        input type="radio" id="together-no" name="together" value="no" checked[!together];
                        label for="together-no" { (page.t(texts::FAMILY_TOGETHER_NO)) }
                    }
                }
            }
            fieldset {
                legend { (page.t(texts::FIELD_PRIORITY)) }
                p.hint { (page.t(texts::FIELD_PRIORITY_HINT)) }
                (category_select(page, catalog, f.get("priority_category"), error("priority_category")))
                (text_field("priority_document", page.t(texts::FIELD_PRIORITY_DOCUMENT), None, f.get("priority_document"), error("priority_document"), FieldAttrs::TEXT.optional()))
            }
            button type="submit" { (page.t(texts::SUBMIT_REGISTER)) }
        }
    }
}
