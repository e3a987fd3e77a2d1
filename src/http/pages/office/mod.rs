//! The office's pages, for the district's officers and the service centre's operators:
//! the work list with overdue items first, and one application with the decisions an
//! officer makes (verify or reject a priority claim, a motivated refusal).

use super::parent::{facts, history_section};
use super::{see_other, FieldAttrs, Fields, Page, Staff};
use crate::domain::application::RefusalReason;
use crate::domain::catalog::Catalog;
use crate::domain::numbers as ids;
use crate::domain::staff::{Role, Scope};
use crate::http::applications::application_view;
use crate::http::auth::{district_staff, Caller};
use crate::http::error::{self, ApiError};
use crate::http::staff::{work_list_of, WorkItem, WorkListParams};
use crate::http::AppState;
use crate::service::Command;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

mod texts;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/applications/{number}", get(application))
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
    claims.items.sort_by_key(|item| (!item.overdue, item.due));
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

async fn application(
    State(app): State<AppState>,
    page: Page,
    Path(number): Path<String>,
) -> Response {
    if page.staff.is_none() {
        return see_other("/staff");
    }
    let id = match reach(&app, &page, &number, true) {
        Ok((_, id)) => id,
        Err(error) => return page.api_error(error),
    };
    let view = match application_view(&app, page.lang.api(), id).await {
        Ok(view) => view,
        Err(error) => return page.api_error(error),
    };
    let catalog = app.service.read().catalog.clone();
    let officer = page
        .staff
        .as_ref()
        .is_some_and(|s| s.account.role == Role::Officer);
    let claimed = view
        .priority
        .as_ref()
        .is_some_and(|p| p.status == "claimed");
    let active = matches!(view.status.as_str(), "queued" | "referred");
    let done = match page.query("done") {
        Some("verified") => Some(texts::DONE_VERIFIED),
        Some("rejected") => Some(texts::DONE_REJECTED),
        Some("refused") => Some(texts::DONE_REFUSED),
        _ => None,
    };
    let action = |decision: &str| format!("/staff/applications/{}/{decision}", view.number);
    page.ok(
        &format!("{} {}", page.t(texts::MY_TITLE), view.number),
        html! {
            h1 { (page.t(texts::MY_TITLE)) " " (view.number) }
            @if let Some(done) = done { p.notice.ok role="status" { (page.t(done)) } }
            p { a href="/staff" { "← " (page.t(texts::WORK_LIST_TITLE)) } }
            (facts(&page, &catalog, &view))
            @if let Some(position) = &view.position {
                p { (page.t(texts::POSITION_IN_COHORT)) ": " strong data-testid="position" { (position.in_cohort) } " " (page.t(texts::POSITION_OF)) " " (position.cohort_size) }
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
            (history_section(&page, &view))
        },
    )
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
    // Decisions are the officer's alone (as in the API): operators register and look up.
    let (caller, id) = match reach(&app, &page, &number, false) {
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
        _ => return page.api_error(ApiError::new(error::NOT_FOUND, page.lang.api())),
    };
    match page.submit(&app, &caller, &fields, command).await {
        Ok(_) => {
            let done = match decision.as_str() {
                "verify" => "verified",
                "reject" => "rejected",
                _ => "refused",
            };
            see_other(&format!("/staff/applications/{number}?done={done}"))
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
