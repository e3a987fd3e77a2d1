//! Staff pages, behind a sign-in with the account's token: the officer's (and operator's)
//! work list with overdue items first, one application with the decisions an officer makes
//! (verify or reject a priority claim, a motivated refusal), and a kindergarten's page to
//! report free places and to mark referrals handed in.

use super::parent::{facts, history_section};
use super::public::kindergarten_name;
use super::session::{StaffSession, STAFF_COOKIE, STAFF_SESSION};
use super::texts;
use super::{see_other, FieldAttrs, Fields, Page, Staff};
use crate::domain::application::RefusalReason;
use crate::domain::catalog::{Catalog, GroupId, KindergartenId};
use crate::domain::numbers as ids;
use crate::domain::staff::{self as staff_domain, Role, Scope};
use crate::http::applications::application_view;
use crate::http::auth::{district_staff, Caller};
use crate::http::error::{self, ApiError};
use crate::http::staff::{work_list_of, WorkItem, WorkListParams};
use crate::http::AppState;
use crate::service::{Command, NewPlaces, Outcome};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff", get(home))
        .route("/staff/sign-in", post(sign_in))
        .route("/staff/applications/{number}", get(application))
        .route("/staff/applications/{number}/{decision}", post(decide))
        .route("/staff/places", post(report_places))
        .route("/staff/hand-in", post(hand_in))
}

const WORK_LIST_PAGE: u32 = 50;
/// Claims waiting for a decision, all on one page (the API's page maximum).
const CLAIMS_MAX: u32 = 500;

async fn home(State(app): State<AppState>, page: Page) -> Response {
    let Some(staff) = &page.staff else {
        return sign_in_page(&page, StatusCode::OK, None);
    };
    match (staff.account.role, staff.account.scope) {
        (Role::Kindergarten, Scope::Kindergarten(id)) => {
            kindergarten_page(&app, &page, id, None).await
        }
        (Role::Officer | Role::Operator, _) => work_list(&app, &page, staff).await,
        _ => page.message(
            StatusCode::FORBIDDEN,
            page.t(texts::NAV_STAFF),
            page.t(texts::NOT_THIS_ROLE),
        ),
    }
}

fn sign_in_page(page: &Page, status: StatusCode, error: Option<&str>) -> Response {
    page.render(
        status,
        page.t(texts::STAFF_SIGN_IN_TITLE),
        html! {
            h1 { (page.t(texts::STAFF_SIGN_IN_TITLE)) }
            @if let Some(error) = error { p.notice.error role="alert" { (error) } }
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
            StatusCode::UNAUTHORIZED,
            Some(page.t(texts::SIGN_IN_FAILED)),
        ),
        Err(e) => page.api_error(crate::http::auth::internal(e, page.lang.api())),
    }
}

async fn work_list(app: &AppState, page: &Page, staff: &Staff) -> Response {
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

/// What a kindergarten's report or hand-in answered, shown above the forms.
enum KindergartenNotice {
    Reported(Vec<String>),
    HandedIn,
    Refused(&'static str),
}

async fn kindergarten_page(
    app: &AppState,
    page: &Page,
    id: KindergartenId,
    notice: Option<(StatusCode, KindergartenNotice)>,
) -> Response {
    if page.staff.is_none() {
        return see_other("/staff");
    }
    let (catalog, mut live) = {
        let state = app.service.read();
        let live: Vec<_> = state
            .live
            .values()
            .filter(|l| l.referral.kindergarten == id)
            .map(|l| {
                (
                    ids::referral_number(&state.catalog, l.referral.id),
                    l.referral.valid_until,
                    l.referral.id,
                )
            })
            .collect();
        (state.catalog.clone(), live)
    };
    live.sort_by_key(|(_, until, referral)| (*until, *referral));
    let lang = page.lang;
    let (status, notice) = notice.map_or((StatusCode::OK, None), |(s, n)| (s, Some(n)));
    let today = crate::domain::local_date(page.now);
    page.render(
        status,
        page.t(texts::KG_TITLE),
        html! {
            h1 { (kindergarten_name(&catalog, lang, id.0)) }
            @match &notice {
                Some(KindergartenNotice::Reported(numbers)) => div.notice.ok role="status" {
                    p { (page.t(texts::DONE_REPORTED)) }
                    @if numbers.is_empty() { p { (page.t(texts::NO_REFERRAL_YET)) } }
                    @else { ul { @for n in numbers { li data-testid="issued" { (n) } } } }
                },
                Some(KindergartenNotice::HandedIn) => p.notice.ok role="status" { (page.t(texts::DONE_HANDED_IN)) },
                Some(KindergartenNotice::Refused(message)) => p.notice.error role="alert" { (message) },
                None => {},
            }
            h2 { (page.t(texts::KG_REPORT_TITLE)) }
            p.hint { (page.t(texts::KG_REPORT_HINT)) }
            form method="post" action="/staff/places" {
                (page.form_guard(true))
                (group_select(page, &catalog, id))
                (super::text_field("count", page.t(texts::FIELD_COUNT), None, "1", None, FieldAttrs::TEXT.kind("number").numeric()))
                (super::text_field("available_from", page.t(texts::FIELD_AVAILABLE_FROM), Some(page.t(texts::HINT_DATE)), &today.to_string(), None, FieldAttrs::TEXT))
                button type="submit" { (page.t(texts::SUBMIT_REPORT)) }
            }
            h2 { (page.t(texts::KG_LIVE_TITLE)) }
            @if live.is_empty() {
                p { (page.t(texts::KG_LIVE_EMPTY)) }
            } @else {
                div.table-wrap { table {
                    (page.column_heads(&[texts::REFERRAL_NUMBER, texts::VALID_UNTIL, texts::ACTIONS]))
                    tbody {
                        @for (number, until, _) in &live {
                            tr {
                                td { (number) }
                                td { (texts::until_end_of(lang, *until)) }
                                td {
                                    form.inline-form method="post" action="/staff/hand-in" {
                                        (page.form_guard(true))
                                        input type="hidden" name="referral" value=(number);
                                        button type="submit" aria-label=(format!("{}: {number}", page.t(texts::HAND_IN))) { (page.t(texts::HAND_IN)) }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
        },
    )
}

fn group_select(page: &Page, catalog: &Catalog, kindergarten: KindergartenId) -> Markup {
    html! {
        div.field {
            label for="group" { (page.t(texts::FIELD_GROUP)) }
            select id="group" name="group" {
                @for group in catalog.groups.values().filter(|g| g.kindergarten == kindergarten) {
                    option value=(group.id.0) {
                        (group.name) " — " (super::public::language_name(page.lang, group.language.code()))
                        ", " (texts::date(group.age_band.born_from)) " – " (texts::date(group.age_band.born_to))
                    }
                }
            }
        }
    }
}

/// The kindergarten of the signed-in account, if it is a kindergarten account.
fn own_kindergarten(page: &Page) -> Option<(Caller, KindergartenId)> {
    let staff = page.staff.as_ref()?;
    match (staff.account.role, staff.account.scope) {
        (Role::Kindergarten, Scope::Kindergarten(id)) => {
            Some((Caller::Staff(staff.account.clone()), id))
        }
        _ => None,
    }
}

async fn report_places(State(app): State<AppState>, page: Page, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let Some((caller, id)) = own_kindergarten(&page).filter(|_| page.csrf_ok(&fields, true)) else {
        return page.form_expired();
    };
    let invalid = |page: &Page| {
        let message = error::INVALID.message(page.lang.api());
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            KindergartenNotice::Refused(message),
        )
    };
    let count = fields.get("count").trim().parse::<u32>();
    let from = chrono::NaiveDate::parse_from_str(fields.get("available_from").trim(), "%Y-%m-%d");
    let group = fields.get("group").trim().parse::<u32>().ok().map(GroupId);
    let (Ok(count), Ok(available_from)) = (count, from) else {
        return kindergarten_page(&app, &page, id, Some(invalid(&page))).await;
    };
    let command = Command::ReportPlaces(NewPlaces {
        kindergarten: id,
        group,
        age_band: None,
        language: None,
        count,
        available_from,
    });
    let notice = match page.submit(&app, &caller, &fields, command).await {
        Ok(Outcome::PlacesReported { referrals, .. }) => {
            let catalog = &app.service.read().catalog;
            let numbers = referrals
                .iter()
                .map(|r| ids::referral_number(catalog, r.id))
                .collect();
            (StatusCode::CREATED, KindergartenNotice::Reported(numbers))
        }
        Ok(_) => unreachable!("a report answers PlacesReported"),
        Err(error) => {
            let (status, message) = page.command_error(error);
            (status, KindergartenNotice::Refused(message))
        }
    };
    kindergarten_page(&app, &page, id, Some(notice)).await
}

async fn hand_in(State(app): State<AppState>, page: Page, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let Some((caller, id)) = own_kindergarten(&page).filter(|_| page.csrf_ok(&fields, true)) else {
        return page.form_expired();
    };
    let referral = ids::parse_referral(&app.service.read().catalog, fields.get("referral").trim());
    let Some(referral) = referral else {
        let message = error::NOT_FOUND.message(page.lang.api());
        return kindergarten_page(
            &app,
            &page,
            id,
            Some((StatusCode::NOT_FOUND, KindergartenNotice::Refused(message))),
        )
        .await;
    };
    let notice = match page
        .submit(&app, &caller, &fields, Command::HandIn { referral, by: id })
        .await
    {
        Ok(_) => (StatusCode::OK, KindergartenNotice::HandedIn),
        Err(error) => {
            let (status, message) = page.command_error(error);
            (status, KindergartenNotice::Refused(message))
        }
    };
    kindergarten_page(&app, &page, id, Some(notice)).await
}

fn category_name<'a>(catalog: &'a Catalog, lang: texts::PageLang, code: &'a str) -> &'a str {
    catalog
        .categories
        .get(code)
        .map_or(code, |c| lang.pick(&c.names))
}
