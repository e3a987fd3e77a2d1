//! The office's pages, for the district's officers and the service centre's operators:
//! the work list with overdue items first; the desk, registering a child or a family on a
//! parent's behalf (the parent's own forms, see `parent::Desk`); the search by number,
//! IIN or name; and one application with what each role does there: a new access code
//! (both), and the officer's decisions (verify or reject a priority claim, revoke a
//! referral, a motivated refusal). Every view of an application and every search is
//! recorded in the staff access log, as the API records it.

use super::parent::{facts, history_section, Amender, Desk};
use super::{see_other, FieldAttrs, Fields, Page, Staff};
use crate::domain::access_log::ViewKind;
use crate::domain::application::RefusalReason;
use crate::domain::catalog::Catalog;
use crate::domain::numbers as ids;
use crate::domain::staff::{Role, Scope};
use crate::http::access_log::record_views;
use crate::http::applications::application_view;
use crate::http::auth::{district_staff, Caller};
use crate::http::error::{self, ApiError};
use crate::http::staff::{work_list_of, WorkItem, WorkListParams};
use crate::http::AppState;
use crate::service::{Command, Outcome};
use crate::store::attachments::InfectedRow;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

mod moves;
mod rebind;
mod texts;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/staff/register",
            get(desk_form)
                .post(desk_register)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/staff/register/family",
            get(desk_family_form).post(desk_family),
        )
        .route("/staff/search", post(search))
        .route("/staff/applications/{number}", get(application))
        .route("/staff/applications/{number}/export", get(export))
        .route(
            "/staff/applications/{number}/amend",
            get(amend_form).post(amend),
        )
        .route(
            "/staff/applications/{number}/move",
            get(moves::move_form).post(moves::move_application),
        )
        .route(
            "/staff/applications/{number}/transfer",
            get(moves::transfer_form).post(moves::request_transfer),
        )
        .route(
            "/staff/applications/{number}/rebind",
            get(rebind::rebind_form).post(rebind::rebind),
        )
        .route("/staff/applications/{number}/{decision}", post(decide))
}

const WORK_LIST_PAGE: u32 = 50;
/// Claims waiting for a decision, all on one page (the API's page maximum).
const CLAIMS_MAX: u32 = 500;
pub(super) async fn work_list(app: &AppState, page: &Page, staff: &Staff) -> Response {
    let Scope::District(district) = staff.account.scope else {
        return page.message(
            StatusCode::FORBIDDEN,
            page.t(texts::NAV_STAFF),
            page.t(texts::NOT_THIS_ROLE),
        );
    };
    let code = ids::district_code(&app.service.read().catalog, district);
    let caller = Caller::Staff(staff.account.clone());
    let lang = page.lang.api();
    // First what needs an officer: every claim waiting for a decision, overdue first.
    let claims = WorkListParams {
        district: code.clone(),
        status: None,
        overdue: None,
        claims: Some(true),
        after: None,
        limit: Some(CLAIMS_MAX),
    };
    let mut claims = match work_list_of(app, &caller, lang, &claims).await {
        Ok(list) => list,
        Err(error) => return page.api_error(error),
    };
    // Claims paused for a document the parent was asked for come last: nobody can act.
    claims
        .items
        .sort_by_key(|item| (!item.overdue, item.awaiting_document, item.due));
    // Then every application, in the order of registration, a page at a time.
    let all = WorkListParams {
        district: code,
        status: Some(page.query("status").unwrap_or("queued").to_string()).filter(|s| s != "all"),
        overdue: None,
        claims: None,
        after: page.query("after").and_then(|a| a.parse().ok()),
        limit: Some(WORK_LIST_PAGE),
    };
    let all = match work_list_of(app, &caller, lang, &all).await {
        Ok(list) => list,
        Err(error) => return page.api_error(error),
    };
    let catalog = app.service.read().catalog.clone();
    page.ok(
        page.t(texts::WORK_LIST_TITLE),
        html! {
            h1 { (page.t(texts::WORK_LIST_TITLE)) }
            @if staff.account.role == Role::Officer {
                p { a href="/staff/reports" { (page.t(texts::NAV_REPORTS)) } }
            }
            section.card aria-labelledby="desk-title" {
                h2 #desk-title { (page.t(texts::DESK_TITLE)) }
                div.actions {
                    a.button href="/staff/register" { (page.t(texts::DESK_REGISTER)) }
                    a.button.secondary href="/staff/register/family" { (page.t(texts::DESK_REGISTER_FAMILY)) }
                }
            }
            (search_form(page, "number", "", None))
            section aria-labelledby="claims-title" {
                h2 #claims-title { (page.t(texts::CLAIMS_TITLE)) " (" (claims.items.len()) ")" }
                p.hint { (page.t(texts::WORK_LIST_INTRO)) }
                (work_table(page, &catalog, &claims.items, "claims"))
            }
            section aria-labelledby="all-title" {
                h2 #all-title { (page.t(texts::ALL_APPLICATIONS)) }
                (work_table(page, &catalog, &all.items, "all"))
                @if let Some(after) = all.next_after {
                    p { a href=(format!("/staff?after={after}")) { (page.t(texts::MORE)) " →" } }
                }
            }
        },
    )
}

fn work_table(page: &Page, catalog: &Catalog, items: &[WorkItem], id: &str) -> Markup {
    let lang = page.lang;
    html! {
        @if items.is_empty() {
            p.notice { (page.t(texts::WORK_LIST_EMPTY)) }
        } @else {
            div.table-wrap { table id=(id) {
                (page.column_heads(&[texts::NUMBER, texts::FIELD_CHILD_NAME, texts::CLAIM, texts::DUE, texts::STATUS, texts::CHANNEL]))
                tbody {
                    @for item in items {
                        tr.overdue[item.overdue] {
                            td.nowrap { a href=(format!("/staff/applications/{}", item.number)) { (item.number) } }
                            td { (item.child_full_name) }
                            td {
                                @if let Some(status) = &item.priority_status {
                                    (category_name(catalog, lang, item.priority_category.as_deref().unwrap_or(""))) " — " (texts::claim_status(lang, status))
                                }
                            }
                            td {
                                @if let Some(due) = item.due { (texts::date(due)) }
                                @if item.overdue { " " span.tag.alert { (page.t(texts::OVERDUE)) } }
                                @if item.awaiting_document { span.tag data-testid="awaiting-document" { (page.t(texts::AWAITING_DOCUMENT)) } }
                            }
                            td { (texts::status(lang, &item.status)) }
                            td { (texts::channel(lang, &item.channel)) }
                        }
                    }
                }
            } }
        }
    }
}

/// The application the path names, if the signed-in officer or operator serves its district.
fn reach(
    app: &AppState,
    page: &Page,
    number: &str,
    operators: bool,
) -> Result<(Caller, crate::domain::application::ApplicationId), ApiError> {
    let lang = page.lang.api();
    let caller = match &page.staff {
        Some(staff) => Caller::Staff(staff.account.clone()),
        None => return Err(ApiError::new(error::UNAUTHORIZED, lang)),
    };
    let id = ids::parse_application(&app.service.read().catalog, number)
        .ok_or_else(|| ApiError::new(error::NOT_FOUND, lang))?;
    district_staff(&caller, id.district, operators, lang)?;
    Ok((caller, id))
}

/// The application a form page names, for a signed-in member of its district's desk
/// (`operators`: operators too, not only officers), recorded as a view before the form shows
/// whose child it is. Not signed in: to the staff entrance.
async fn reached_for_form(
    app: &AppState,
    page: &Page,
    number: &str,
    operators: bool,
) -> Result<(Caller, crate::domain::application::ApplicationId), Response> {
    if page.staff.is_none() {
        return Err(see_other("/staff"));
    }
    let (caller, id) = reach(app, page, number, operators).map_err(|e| page.api_error(e))?;
    record_views(
        app,
        &caller,
        ViewKind::Application,
        vec![id],
        page.lang.api(),
    )
    .await
    .map_err(|e| page.api_error(e))?;
    Ok((caller, id))
}

/// Everything held about the application (subject access), as its parent sees it at
/// `/my/export`; recorded in the access log before it is shown, as the API's export.
async fn export(State(app): State<AppState>, page: Page, Path(number): Path<String>) -> Response {
    if page.staff.is_none() {
        return see_other("/staff");
    }
    let (caller, id) = match reach(&app, &page, &number, true) {
        Ok(reached) => reached,
        Err(error) => return page.api_error(error),
    };
    let lang = page.lang.api();
    if let Err(error) = record_views(&app, &caller, ViewKind::Application, vec![id], lang).await {
        return page.api_error(error);
    }
    let export = match crate::http::export::export_of(&app, lang, id).await {
        Ok(export) => export,
        Err(error) => return page.api_error(error),
    };
    let catalog = app.service.read().catalog.clone();
    let back = format!("/staff/applications/{number}");
    page.ok(
        page.t(texts::EXPORT_TITLE),
        super::parent::export::export_content(&page, &catalog, &export, &back),
    )
}

async fn application(
    State(app): State<AppState>,
    page: Page,
    Path(number): Path<String>,
) -> Response {
    if page.staff.is_none() {
        return see_other("/staff");
    }
    let (caller, id) = match reach(&app, &page, &number, true) {
        Ok(reached) => reached,
        Err(error) => return page.api_error(error),
    };
    let view = match application_view(&app, page.lang.api(), id).await {
        Ok(view) => view,
        Err(error) => return page.api_error(error),
    };
    // As the API's GET: recorded before it is shown.
    let recorded = record_views(
        &app,
        &caller,
        ViewKind::Application,
        vec![id],
        page.lang.api(),
    );
    if let Err(error) = recorded.await {
        return page.api_error(error);
    }
    // The documents beside the claim, so that verifying it takes one page (their own
    // view in the access log).
    let files = crate::http::attachments::list_of(&app, &caller, page.lang.api(), id).await;
    let files = match files {
        Ok(files) => files,
        Err(error) => return page.api_error(error),
    };
    let requests = crate::http::attachments::requests_of(&app, page.lang.api(), id).await;
    let requests = match requests {
        Ok(requests) => requests,
        Err(error) => return page.api_error(error),
    };
    let infected = crate::http::attachments::infected_of(&app, page.lang.api(), id).await;
    let infected = match infected {
        Ok(infected) => infected,
        Err(error) => return page.api_error(error),
    };
    let catalog = app.service.read().catalog.clone();
    let officer = page
        .staff
        .as_ref()
        .is_some_and(|s| s.account.role == Role::Officer);
    // Who tried to register this child: the officer's, as in the API (the view recorded
    // above is the page's, this section included).
    let attempts = if officer {
        match crate::http::staff::attempts_on(&app, page.lang.api(), id).await {
            Ok(attempts) => Some(attempts),
            Err(error) => return page.api_error(error),
        }
    } else {
        None
    };
    let claimed = view
        .priority
        .as_ref()
        .is_some_and(|p| p.status == "claimed");
    let active = matches!(view.status.as_str(), "queued" | "referred");
    let done = match page.query("done") {
        Some("verified") => Some(texts::DONE_VERIFIED),
        Some("rejected") => Some(texts::DONE_REJECTED),
        Some("refused") => Some(texts::DONE_REFUSED),
        Some("revoked") => Some(texts::DONE_REVOKED),
        Some("amended") => Some(texts::DONE_AMENDED_FOR_PARENT),
        Some("transfer") => Some(texts::TRANSFER_DONE),
        Some("requested") => Some(texts::DONE_REQUESTED),
        _ => None,
    };
    // After a revocation: who the freed place went to (a referral number, nothing personal).
    let next = (page.query("done") == Some("revoked")).then(|| page.query("next"));
    let live_referral = view
        .referral
        .as_ref()
        .filter(|r| r.status == "issued")
        .map(|r| r.number.clone());
    let action = |decision: &str| format!("/staff/applications/{}/{decision}", view.number);
    page.ok(
        &format!("{} {}", page.t(texts::MY_TITLE), view.number),
        html! {
            h1 { (page.t(texts::MY_TITLE)) " " (view.number) }
            @if let Some(done) = done {
                div.notice.ok role="status" {
                    p { (page.t(done)) }
                    @match next {
                        Some(Some(next)) => p { (page.t(texts::NEXT_REFERRAL)) " " strong data-testid="next-referral" { (next) } },
                        Some(None) => p { (page.t(texts::NO_NEXT_REFERRAL)) },
                        None => {},
                    }
                }
            }
            p { a href="/staff" { "← " (page.t(texts::WORK_LIST_TITLE)) } }
            (facts(&page, &catalog, &view))
            p { a href=(format!("/staff/applications/{}/export", view.number)) { (page.t(texts::EXPORT_LINK)) } }
            @if let Some(position) = &view.position {
                p { (page.t(texts::POSITION_IN_COHORT)) ": " strong data-testid="position" { (position.in_cohort) } " " (page.t(texts::POSITION_OF)) " " (position.cohort_size) }
            }
            section aria-labelledby="attachments-title" {
                h2 #attachments-title { (page.t(texts::ATTACHMENTS_TITLE)) }
                (super::attachments::table(&page, &view.number, &files, true))
                (super::attachments::requests_list(&page, &requests))
                (infected_list(&page, &infected))
                @if active {
                    (ask_document_form(&page, &action("request-document"), view.priority.is_some()))
                }
            }
            @if officer && (claimed || active) {
                h2 { (page.t(texts::DECISION_TITLE)) }
            }
            @if officer && claimed {
                section.card aria-labelledby="verify-title" {
                    h3 #verify-title { (page.t(texts::VERIFY_PRIORITY)) }
                    p.hint { (page.t(texts::VERIFY_PRIORITY_HINT)) }
                    form method="post" action=(action("verify")) {
                        (page.form_guard(true))
                        button type="submit" { (page.t(texts::VERIFY_PRIORITY)) }
                    }
                }
                section.card aria-labelledby="reject-title" {
                    h3 #reject-title { (page.t(texts::REJECT_PRIORITY)) }
                    form method="post" action=(action("reject")) {
                        (page.form_guard(true))
                        (super::text_field("reject-reason", page.t(texts::REASON), None, "", None, FieldAttrs::TEXT))
                        button.warning type="submit" { (page.t(texts::REJECT_PRIORITY)) }
                    }
                }
            }
            @if officer && (active || view.status == "enrolled") {
                div.actions {
                    @if active {
                        a.button.secondary href=(format!("/staff/applications/{}/amend", view.number)) { (page.t(texts::AMEND_FOR_PARENT)) }
                    }
                    @if view.status == "queued" {
                        a.button.secondary href=(format!("/staff/applications/{}/move", view.number)) { (page.t(texts::MOVE_TITLE)) }
                    }
                    @if view.status == "enrolled" {
                        a.button.secondary href=(format!("/staff/applications/{}/transfer", view.number)) { (page.t(texts::TRANSFER_TITLE)) }
                    }
                }
            }
            @if let (true, Some(referral)) = (officer, &live_referral) {
                section.card aria-labelledby="revoke-title" {
                    h3 #revoke-title { (page.t(texts::REVOKE_TITLE)) " " (referral) }
                    p.hint { (page.t(texts::REVOKE_HINT)) }
                    form method="post" action=(action("revoke")) {
                        (page.form_guard(true))
                        (super::text_field("revoke-reason", page.t(texts::REVOKE_REASON), None, "", None, FieldAttrs::TEXT))
                        div.field.check {
                            input type="checkbox" id="priority-unconfirmed" name="priority_unconfirmed" value="yes";
                            label for="priority-unconfirmed" { (page.t(texts::REVOKE_PRIORITY)) }
                        }
                        button.warning type="submit" { (page.t(texts::REVOKE_TITLE)) }
                    }
                }
            }
            @if officer && active {
                section.card aria-labelledby="refuse-title" {
                    h3 #refuse-title { (page.t(texts::REFUSE)) }
                    form method="post" action=(action("refuse")) {
                        (page.form_guard(true))
                        div.field {
                            label for="refuse-reason" { (page.t(texts::REFUSE_REASON)) }
                            select id="refuse-reason" name="reason" {
                                @for reason in RefusalReason::ALL {
                                    option value=(crate::http::views::codec_text(&reason)) { (page.t(refusal_text(reason))) }
                                }
                            }
                        }
                        div.field {
                            label for="refuse-text" { (page.t(texts::REFUSE_TEXT)) }
                            textarea id="refuse-text" name="text" required maxlength="2000" {}
                        }
                        button.warning type="submit" { (page.t(texts::REFUSE)) }
                    }
                }
            }
            (access_code_form(&page, &view.number, &Fields::parse(b""), None))
            @if active {
                section.card aria-labelledby="rebind-title" {
                    h2 #rebind-title { (page.t(texts::REBIND_TITLE)) }
                    p.hint { (page.t(texts::REBIND_HINT)) }
                    a.button.secondary href=(action("rebind")) { (page.t(texts::REBIND_TITLE)) }
                }
            }
            @if let Some(attempts) = &attempts {
                // Attempts are recorded only with an identity provider; without one the
                // section would say "none" of attempts nobody could record.
                @if !attempts.is_empty() || app.oidc.is_some() {
                    (attempts_section(&page, attempts))
                }
            }
            (history_section(&page, &view))
        },
    )
}

/// The recorded attempts to register the child while it was queued: when, by whom (the
/// person's IIN masked and the provider's subject), and the answer they got.
fn attempts_section(page: &Page, attempts: &[crate::http::staff::AttemptView]) -> Markup {
    html! {
        section.card aria-labelledby="attempts-title" data-testid="attempts" {
            h2 #attempts-title { (page.t(texts::ATTEMPTS_TITLE)) }
            p.hint { (page.t(texts::ATTEMPTS_HINT)) }
            @if attempts.is_empty() {
                p { (page.t(texts::ATTEMPTS_NONE)) }
            } @else {
                div.table-wrap { table {
                    (page.column_heads(&[texts::WHEN, texts::ATTEMPT_IIN, texts::ATTEMPT_SUBJECT, texts::ATTEMPT_OUTCOME]))
                    tbody {
                        @for attempt in attempts {
                            tr {
                                td { (texts::local_time(attempt.at)) }
                                td { (attempt.applicant_iin) }
                                td { (attempt.subject) }
                                td { (page.t(texts::attempt_outcome(&attempt.outcome))) }
                            }
                        }
                    }
                } }
            }
        }
    }
}

/// Officers and operators ask the parent for a missing or unreadable document.
/// The files sent for the application that clamd refused: the signature it named, when,
/// and who sent them (a staff account by its name), so that the officer knows why a
/// document the parent says they sent is not among the files.
fn infected_list(page: &Page, rows: &[InfectedRow]) -> Markup {
    html! {
        @if !rows.is_empty() {
            h3 { (page.t(texts::INFECTED_TITLE)) }
            ul.infected data-testid="attachments-infected" {
                @for row in rows {
                    @let staff = row.by.0.strip_prefix("staff:");
                    @let by = if staff.is_some() { "staff" } else if row.by.0 == "portal" { "parent" } else { "system" };
                    li {
                        (page.t(texts::INFECTED_REFUSED)) " " strong data-testid="signature" { (row.signature) }
                        " · " (texts::local_time(row.at))
                        " · " (row.size.div_ceil(1024)) " " (page.t(texts::ATTACHMENT_SIZE))
                        " · " (page.t(texts::INFECTED_BY)) ": " (texts::actor(page.lang, by))
                        @if let Some(account) = staff { " " (account) }
                    }
                }
            }
        }
    }
}

fn ask_document_form(page: &Page, action: &str, claimed: bool) -> Markup {
    html! {
        section.card aria-labelledby="ask-document-title" {
            h3 #ask-document-title { (page.t(texts::ASK_DOCUMENT_TITLE)) }
            p.hint { (page.t(texts::ASK_DOCUMENT_HINT)) }
            form method="post" action=(action) {
                (page.form_guard(true))
                div.field {
                    label for="ask-kind" { (page.t(texts::ATTACHMENT_KIND)) }
                    select id="ask-kind" name="kind" {
                        @for kind in super::attachments::kinds(claimed) {
                            option value=(kind.code()) { (page.t(super::attachments::kind_text(kind))) }
                        }
                    }
                }
                div.field {
                    label for="ask-reason" { (page.t(texts::ASK_DOCUMENT_REASON)) }
                    textarea id="ask-reason" name="reason" required maxlength="1000" {}
                }
                button type="submit" { (page.t(texts::ASK_DOCUMENT_TITLE)) }
            }
        }
    }
}

fn refusal_text(reason: RefusalReason) -> texts::T {
    match reason {
        RefusalReason::DocumentsIncomplete => texts::REFUSAL_DOCUMENTS,
        RefusalReason::DataUnreliable => texts::REFUSAL_UNRELIABLE,
        RefusalReason::RequirementsNotMet => texts::REFUSAL_REQUIREMENTS,
        RefusalReason::LegalBar => texts::REFUSAL_LEGAL,
    }
}

async fn decide(
    State(app): State<AppState>,
    page: Page,
    Path((number, decision)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    if page.staff.is_none() || !page.csrf_ok(&fields, true) {
        return page.form_expired();
    }
    // Decisions are the officer's alone (as in the API): operators register, look up and
    // issue new access codes.
    let operators = matches!(decision.as_str(), "access-code" | "request-document");
    let (caller, id) = match reach(&app, &page, &number, operators) {
        Ok(reached) => reached,
        Err(error) => return page.api_error(error),
    };
    let command = match decision.as_str() {
        "verify" => Command::VerifyPriority { id },
        "reject" => Command::RejectPriority {
            id,
            reason: fields.get("reject-reason").trim().to_string(),
        },
        "refuse" => {
            let reason = serde_json::from_value::<RefusalReason>(serde_json::Value::String(
                fields.get("reason").into(),
            ));
            let Ok(reason) = reason else {
                return page.api_error(ApiError::new(error::INVALID, page.lang.api()));
            };
            Command::Refuse {
                id,
                reason,
                text: fields.get("text").trim().to_string(),
            }
        }
        "revoke" => {
            let referral = app.service.read().referral_of.get(&id).copied();
            let Some(referral) = referral else {
                return page.api_error(ApiError::new(error::NOT_FOUND, page.lang.api()));
            };
            Command::Revoke {
                referral,
                reason: fields.get("revoke-reason").trim().to_string(),
                priority_unconfirmed: fields.get("priority_unconfirmed") == "yes",
            }
        }
        "request-document" => {
            let kind = crate::domain::attachment::AttachmentKind::parse(fields.get("kind"));
            let Ok(kind) = kind else {
                return page.api_error(ApiError::new(
                    error::ATTACHMENT_KIND_UNKNOWN,
                    page.lang.api(),
                ));
            };
            Command::RequestDocument {
                id,
                kind,
                reason: fields.get("reason").trim().to_string(),
            }
        }
        "access-code" => Command::ReissueAccessCode {
            id,
            contacts: contacts_of(&fields),
            applicant: None,
        },
        _ => return page.api_error(ApiError::new(error::NOT_FOUND, page.lang.api())),
    };
    match page.submit(&app, &caller, &fields, command).await {
        Ok(Outcome::AccessCode(code)) => new_code_page(&page, &number, &code),
        Ok(Outcome::Lapsed { next }) => {
            let next = next.map(|r| ids::referral_number(&app.service.read().catalog, r.id));
            let next = next.map_or(String::new(), |n| format!("&next={n}"));
            see_other(&format!("/staff/applications/{number}?done=revoked{next}"))
        }
        Ok(_) => {
            let done = match decision.as_str() {
                "verify" => "verified",
                "reject" => "rejected",
                "request-document" => "requested",
                _ => "refused",
            };
            see_other(&format!("/staff/applications/{number}?done={done}"))
        }
        Err(crate::service::CommandError::Refused(refusal)) if decision == "access-code" => {
            // Beside the field it is about, keeping what was typed; nothing was stored.
            let field = match refusal {
                crate::domain::application::Refusal::PhoneInvalid => "applicant_phone",
                crate::domain::application::Refusal::EmailInvalid => "applicant_email",
                _ => "applicant_address",
            };
            let message = crate::http::error::refusal_kind(&refusal).message(page.lang.api());
            page.render(
                StatusCode::UNPROCESSABLE_ENTITY,
                page.t(texts::ACCESS_CODE_TITLE),
                html! {
                    h1 { (page.t(texts::ACCESS_CODE_TITLE)) " — " (number) }
                    p { a href=(format!("/staff/applications/{number}")) { "← " (number) } }
                    (access_code_form(&page, &number, &fields, Some((field, message))))
                },
            )
        }
        Err(error) => {
            let (status, message) = page.command_error(error);
            page.message(status, page.t(texts::ERROR_TITLE), message)
        }
    }
}

fn category_name<'a>(catalog: &'a Catalog, lang: texts::PageLang, code: &'a str) -> &'a str {
    catalog
        .categories
        .get(code)
        .map_or(code, |c| lang.pick(&c.names))
}

/// The desk of the signed-in operator or officer of a district; otherwise the page to show.
// The error is the handler's own early answer, returned at once: boxing it buys nothing.
#[allow(clippy::result_large_err)]
fn desk_of(page: &Page) -> Result<Desk, Response> {
    let Some(staff) = &page.staff else {
        return Err(see_other("/staff"));
    };
    match (staff.account.role, staff.account.scope) {
        (Role::Officer | Role::Operator, Scope::District(_)) => {
            Ok(Desk::Staff(staff.account.clone()))
        }
        _ => Err(page.message(
            StatusCode::FORBIDDEN,
            page.t(texts::NAV_STAFF),
            page.t(texts::NOT_THIS_ROLE),
        )),
    }
}

async fn desk_form(State(app): State<AppState>, page: Page) -> Response {
    match desk_of(&page) {
        Ok(desk) => super::parent::register_form_at(&app, &page, &desk),
        Err(response) => response,
    }
}

async fn desk_register(
    State(app): State<AppState>,
    page: Page,
    request: axum::extract::Request,
) -> Response {
    match desk_of(&page) {
        Ok(desk) => super::parent::register_at(&app, page, &desk, request).await,
        Err(response) => response,
    }
}

async fn desk_family_form(State(app): State<AppState>, page: Page) -> Response {
    match desk_of(&page) {
        Ok(desk) => super::parent::family_form_at(&app, &page, &desk),
        Err(response) => response,
    }
}

async fn desk_family(State(app): State<AppState>, page: Page, body: Bytes) -> Response {
    match desk_of(&page) {
        Ok(desk) => super::parent::register_family_at(&app, &page, &desk, &body).await,
        Err(response) => response,
    }
}

/// What a search can be by: the form's value, its words, the API's query parameter.
const SEARCH_KINDS: [(&str, texts::T); 3] = [
    ("number", texts::SEARCH_BY_NUMBER),
    ("child_iin", texts::SEARCH_BY_IIN),
    ("name", texts::SEARCH_BY_NAME),
];

/// The search form. A POST, not a GET: an IIN typed into it must not end up in a URL (and
/// so in histories and logs).
fn search_form(page: &Page, by: &str, text: &str, error: Option<&str>) -> Markup {
    html! {
        section.card aria-labelledby="search-title" {
            h2 #search-title { (page.t(texts::SEARCH_TITLE)) }
            p.hint #search-hint { (page.t(texts::SEARCH_HINT)) }
            form method="post" action="/staff/search" {
                (page.form_guard(true))
                div.field {
                    label for="search-by" { (page.t(texts::SEARCH_BY)) }
                    select id="search-by" name="by" {
                        @for (value, words) in SEARCH_KINDS {
                            option value=(value) selected[value == by] { (page.t(words)) }
                        }
                    }
                }
                (super::text_field("search-text", page.t(texts::SEARCH_TEXT), None, text, error,
                    FieldAttrs::TEXT.autocomplete("off")))
                button type="submit" { (page.t(texts::SUBMIT_SEARCH)) }
            }
        }
    }
}

async fn search(State(app): State<AppState>, page: Page, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    if page.staff.is_none() || !page.csrf_ok(&fields, true) {
        return page.form_expired();
    }
    let staff = page.staff.as_ref().expect("checked");
    let Scope::District(district) = staff.account.scope else {
        return page.api_error(ApiError::new(error::FORBIDDEN, page.lang.api()));
    };
    let caller = Caller::Staff(staff.account.clone());
    let by = fields.get("by");
    let text = fields.get("search-text").trim().to_string();
    let given = |kind: &str| (by == kind).then(|| text.clone());
    let params = crate::http::staff::SearchParams {
        district: ids::district_code(&app.service.read().catalog, district),
        number: given("number"),
        child_iin: given("child_iin"),
        name: given("name"),
    };
    let found = crate::http::staff::search_of(&app, &caller, page.lang.api(), &params).await;
    let (status, items, error) = match found {
        Ok(list) => (StatusCode::OK, Some(list.items), None),
        Err(error) if error.kind.status == StatusCode::BAD_REQUEST => (
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(error::INVALID.message(page.lang.api())),
        ),
        Err(error) => return page.api_error(error),
    };
    let catalog = app.service.read().catalog.clone();
    page.render(
        status,
        page.t(texts::SEARCH_TITLE),
        html! {
            h1 { (page.t(texts::SEARCH_TITLE)) }
            p { a href="/staff" { "← " (page.t(texts::WORK_LIST_TITLE)) } }
            (search_form(&page, by, &text, error))
            @if let Some(items) = items {
                section aria-labelledby="results-title" {
                    h2 #results-title { (page.t(texts::SEARCH_RESULTS)) " (" (items.len()) ")" }
                    @if items.is_empty() {
                        p.notice role="status" { (page.t(texts::SEARCH_EMPTY)) }
                    } @else {
                        (work_table(&page, &catalog, &items, "results"))
                    }
                }
            }
        },
    )
}

/// The new access code, shown once, for the parent at the desk (a page, not a redirect: the
/// code must not travel in a URL).
fn new_code_page(page: &Page, number: &str, code: &str) -> Response {
    page.ok(
        page.t(texts::ACCESS_CODE_TITLE),
        html! {
            h1 { (page.t(texts::ACCESS_CODE_TITLE)) }
            div.notice.ok role="status" {
                p { (page.t(texts::NEW_CODE_ISSUED)) }
                dl.facts {
                    dt { (page.t(texts::REGISTERED_NUMBER)) }
                    dd.code { (number) }
                    dt { (page.t(texts::REGISTERED_CODE)) }
                    dd.code data-testid="access-code" { (code) }
                }
            }
            div.actions {
                a.button href=(format!("/api/v1/applications/{number}/notice?lang={}", page.lang.code())) { (page.t(texts::PRINT_NOTICE)) }
                a.button.secondary href=(format!("/staff/applications/{number}")) { (page.t(texts::OPEN)) }
            }
        },
    )
}

/// The contacts typed into the new-code form: none when every field is left empty (only
/// the code is new); an empty field keeps the application's.
fn contacts_of(fields: &Fields) -> Option<crate::domain::amendment::AmendmentForm> {
    let typed = |name: &str| Some(fields.get(name).trim().to_string()).filter(|v| !v.is_empty());
    let form = crate::domain::amendment::AmendmentForm {
        applicant_phone: typed("applicant_phone"),
        applicant_email: typed("applicant_email"),
        applicant_address: typed("applicant_address"),
        ..Default::default()
    };
    (form != Default::default()).then_some(form)
}

/// The new access code's form: the code alone, or with the contacts of the applicant at
/// the desk when somebody else registered the child first.
fn access_code_form(
    page: &Page,
    number: &str,
    fields: &Fields,
    error: Option<(&str, &str)>,
) -> Markup {
    let error_of = |name: &str| error.filter(|(f, _)| *f == name).map(|(_, m)| m);
    html! {
        section.card aria-labelledby="code-title" {
            h2 #code-title { (page.t(texts::ACCESS_CODE_TITLE)) }
            p.hint { (page.t(texts::ACCESS_CODE_HINT)) }
            form method="post" action=(format!("/staff/applications/{number}/access-code")) novalidate {
                (page.form_guard(true))
                fieldset {
                    legend { (page.t(texts::REPLACE_CONTACTS)) }
                    p.hint { (page.t(texts::REPLACE_CONTACTS_HINT)) }
                    (super::text_field("applicant_phone", page.t(texts::FIELD_PHONE), Some(page.t(texts::HINT_PHONE)), fields.get("applicant_phone"), error_of("applicant_phone"), FieldAttrs::TEXT.kind("tel").optional()))
                    (super::text_field("applicant_email", page.t(texts::FIELD_EMAIL), None, fields.get("applicant_email"), error_of("applicant_email"), FieldAttrs::TEXT.kind("email").optional()))
                    (super::text_field("applicant_address", page.t(texts::FIELD_ADDRESS), None, fields.get("applicant_address"), error_of("applicant_address"), FieldAttrs::TEXT.optional()))
                }
                button.secondary type="submit" { (page.t(texts::SUBMIT_ACCESS_CODE)) }
            }
        }
    }
}

/// The officer's amendment on the parent's behalf: the parent's own pages (`Amender`).
async fn amender(app: &AppState, page: &Page, number: &str) -> Result<Amender, Response> {
    // The form shows the applicant's contacts: a view like the application's own.
    let (caller, id) = reached_for_form(app, page, number, false).await?;
    let number = ids::application_number(&app.service.read().catalog, id);
    Ok(Amender::Staff { caller, id, number })
}

async fn amend_form(
    State(app): State<AppState>,
    page: Page,
    Path(number): Path<String>,
) -> Response {
    match amender(&app, &page, &number).await {
        Ok(who) => super::parent::amend_form_at(&app, &page, &who).await,
        Err(response) => response,
    }
}

async fn amend(
    State(app): State<AppState>,
    page: Page,
    Path(number): Path<String>,
    body: Bytes,
) -> Response {
    match amender(&app, &page, &number).await {
        Ok(who) => super::parent::amend_at(&app, &page, &who, &body).await,
        Err(response) => response,
    }
}
