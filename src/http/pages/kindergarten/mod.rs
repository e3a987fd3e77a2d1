//! A kindergarten head's pages: the children coming with referrals (name, birth date, the
//! applicant's name and phone) and hand-in; each group's figures; report free places and
//! withdraw one reported by mistake; each group's roster, where a child is marked as left
//! (its place goes on at once). Every view is the API's (`http::kindergarten`), every
//! action its command.

use super::public::kindergarten_name;
use super::{see_other, FieldAttrs, Fields, Page};
use crate::domain::catalog::{Catalog, GroupId, KindergartenId};
use crate::domain::numbers as ids;
use crate::domain::referral::PlaceId;
use crate::domain::staff::{Role, Scope};
use crate::http::auth::Caller;
use crate::http::error;
use crate::http::kindergarten as api;
use crate::http::AppState;
use crate::service::{Command, CommandError, NewPlaces, Outcome};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

mod texts;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/places", post(report_places))
        .route("/staff/hand-in", post(hand_in))
        .route("/staff/places/withdraw", post(withdraw_place))
        .route("/staff/roster", get(roster))
        .route("/staff/children/left", post(mark_left))
}

/// What a kindergarten's report or hand-in answered, shown above the forms.
enum KindergartenNotice {
    Reported(Vec<String>),
    HandedIn,
    Withdrawn,
    /// A child marked as left, and the referral its place went to at once.
    Left(Option<String>),
    Refused(&'static str),
    /// A report refused for one of its fields: what was typed, and the error beside the
    /// field it concerns.
    ReportRefused {
        group: String,
        count: String,
        available_from: String,
        field: &'static str,
        message: &'static str,
    },
}

/// The kindergarten's desk, where `/staff` opens for its account.
pub(super) async fn desk(app: &AppState, page: &Page, id: KindergartenId) -> Response {
    kindergarten_page(app, page, id, None).await
}

async fn kindergarten_page(
    app: &AppState,
    page: &Page,
    id: KindergartenId,
    notice: Option<(StatusCode, KindergartenNotice)>,
) -> Response {
    let Some(staff) = &page.staff else {
        return see_other("/staff");
    };
    let view = match api::overview_of(
        app,
        page.lang.api(),
        &Caller::Staff(staff.account.clone()),
        id,
    )
    .await
    {
        Ok(view) => view,
        Err(error) => return page.api_error(error),
    };
    let catalog = app.service.read().catalog.clone();
    let lang = page.lang;
    let (status, notice) = notice.map_or((StatusCode::OK, None), |(s, n)| (s, Some(n)));
    let today_text = crate::domain::local_date(page.now).to_string();
    let (typed, refused_field) = match &notice {
        Some(KindergartenNotice::ReportRefused {
            group,
            count,
            available_from,
            field,
            message,
        }) => (
            Some((count.as_str(), available_from.as_str(), group.as_str())),
            Some((*field, *message)),
        ),
        _ => (None, None),
    };
    let error_of = |name: &str| refused_field.filter(|(f, _)| *f == name).map(|(_, m)| m);
    let group_name = |group: Option<u32>| {
        group
            .and_then(|g| catalog.groups.get(&GroupId(g)))
            .map_or_else(|| page.t(texts::NO_GROUP).to_string(), |g| g.name.clone())
    };
    page.render(
        status,
        page.t(texts::KG_TITLE),
        html! {
            h1 { (kindergarten_name(&catalog, lang, id.0)) }
            (notice_markup(page, notice.as_ref()))
            p { a href="/staff/roster" { (page.t(texts::KG_ROSTER_LINK)) } }
            h2 { (page.t(texts::KG_INCOMING_TITLE)) }
            @if view.incoming.is_empty() {
                p { (page.t(texts::KG_LIVE_EMPTY)) }
            } @else {
                div.table-wrap { table data-testid="incoming" {
                    (page.column_heads(&[texts::REFERRAL_NUMBER, texts::CHILD_NAME, texts::BIRTH_DATE, texts::APPLICANT_NAME, texts::PHONE, texts::FIELD_GROUP, texts::VALID_UNTIL, texts::ACTIONS]))
                    tbody {
                        @for child in &view.incoming {
                            tr {
                                td { (child.referral) }
                                td { (child.child_name) }
                                td { (texts::date(child.birth_date)) }
                                td { (child.applicant_name) }
                                td { a href=(format!("tel:{}", child.applicant_phone.replace(' ', ""))) { (child.applicant_phone) } }
                                td { (group_name(child.group)) }
                                td { (texts::until_end_of(lang, child.valid_until)) }
                                td {
                                    form.inline-form method="post" action="/staff/hand-in" {
                                        (page.form_guard(true))
                                        input type="hidden" name="referral" value=(child.referral);
                                        button type="submit" aria-label=(format!("{}: {}", page.t(texts::HAND_IN), child.referral)) { (page.t(texts::HAND_IN)) }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
            h2 { (page.t(texts::KG_GROUPS_TITLE)) }
            p.hint { (page.t(texts::KG_FREE_HINT)) }
            div.table-wrap { table data-testid="groups" {
                (page.column_heads(&[texts::FIELD_GROUP, texts::LANGUAGE, texts::AGE_BAND, texts::CAPACITY, texts::ENROLLED, texts::OUTSTANDING, texts::OPEN_PLACES, texts::FREE_PLACES]))
                tbody {
                    @for group in &view.groups {
                        tr {
                            td { (group.name) @if group.closed { " (" (page.t(texts::GROUP_CLOSED)) ")" } }
                            td { (super::public::language_name(lang, &group.language)) }
                            td { (texts::date(group.born_from)) " – " (texts::date(group.born_to)) }
                            td { (group.capacity) }
                            td { (group.enrolled) }
                            td { (group.outstanding) }
                            td { (group.open) }
                            td { strong { (group.free) } }
                        }
                    }
                }
            } }
            h2 { (page.t(texts::KG_REPORT_TITLE)) }
            p.hint { (page.t(texts::KG_REPORT_HINT)) }
            form method="post" action="/staff/places" {
                (page.form_guard(true))
                (group_select(page, &catalog, id, typed.map(|t| t.2), error_of("group")))
                (super::text_field("count", page.t(texts::FIELD_COUNT), None, typed.map_or("1", |t| t.0), error_of("count"), FieldAttrs::TEXT.kind("number").numeric()))
                (super::text_field("available_from", page.t(texts::FIELD_AVAILABLE_FROM), Some(page.t(texts::HINT_DATE)), typed.map_or(today_text.as_str(), |t| t.1), error_of("available_from"), FieldAttrs::TEXT))
                button type="submit" { (page.t(texts::SUBMIT_REPORT)) }
            }
            h2 { (page.t(texts::KG_OPEN_TITLE)) }
            @if view.open_places.is_empty() {
                p { (page.t(texts::KG_OPEN_EMPTY)) }
            } @else {
                p.hint { (page.t(texts::KG_WITHDRAW_HINT)) }
                div.table-wrap { table data-testid="open-places" {
                    (page.column_heads(&[texts::PLACE_NUMBER, texts::FIELD_GROUP, texts::LANGUAGE, texts::AGE_BAND, texts::FIELD_AVAILABLE_FROM, texts::ACTIONS]))
                    tbody {
                        @for place in &view.open_places {
                            tr {
                                td { (place.id) }
                                td { (group_name(place.group)) }
                                td { (super::public::language_name(lang, &place.language)) }
                                td { (texts::date(place.born_from)) " – " (texts::date(place.born_to)) }
                                td { (texts::date(place.available_from)) }
                                td {
                                    form.inline-form method="post" action="/staff/places/withdraw" {
                                        (page.form_guard(true))
                                        input type="hidden" name="place" value=(place.id);
                                        button type="submit" aria-label=(format!("{}: {}", page.t(texts::WITHDRAW_PLACE), place.id)) { (page.t(texts::WITHDRAW_PLACE)) }
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

fn notice_markup(page: &Page, notice: Option<&KindergartenNotice>) -> Markup {
    html! {
        @match notice {
            Some(KindergartenNotice::Reported(numbers)) => div.notice.ok role="status" {
                p { (page.t(texts::DONE_REPORTED)) }
                @if numbers.is_empty() { p { (page.t(texts::NO_REFERRAL_YET)) } }
                @else { ul { @for n in numbers { li data-testid="issued" { (n) } } } }
            },
            Some(KindergartenNotice::HandedIn) => p.notice.ok role="status" { (page.t(texts::DONE_HANDED_IN)) },
            Some(KindergartenNotice::Withdrawn) => p.notice.ok role="status" { (page.t(texts::DONE_WITHDRAWN)) },
            Some(KindergartenNotice::Left(next)) => div.notice.ok role="status" {
                p { (page.t(texts::DONE_LEFT)) }
                @match next {
                    Some(number) => p { (page.t(texts::LEFT_PLACE_WENT_TO)) " " strong data-testid="next-referral" { (number) } },
                    None => p { (page.t(texts::NO_REFERRAL_YET)) },
                }
            },
            Some(KindergartenNotice::Refused(message)) => p.notice.error role="alert" { (message) },
            Some(KindergartenNotice::ReportRefused { message, .. }) => p.notice.error role="alert" { (message) },
            None => {},
        }
    }
}

/// Each group's roster: the children there now (each with "left" beside it) and those who
/// left. GET /staff/roster, for the kindergarten's own account.
async fn roster(State(app): State<AppState>, page: Page) -> Response {
    let Some((_, id)) = own_kindergarten(&page) else {
        return not_this_role(&page);
    };
    roster_page(&app, &page, id, None).await
}

fn not_this_role(page: &Page) -> Response {
    if page.staff.is_none() {
        return see_other("/staff");
    }
    page.message(
        StatusCode::FORBIDDEN,
        page.t(texts::NAV_STAFF),
        page.t(texts::NOT_THIS_ROLE),
    )
}

async fn roster_page(
    app: &AppState,
    page: &Page,
    id: KindergartenId,
    notice: Option<(StatusCode, KindergartenNotice)>,
) -> Response {
    let Some(staff) = &page.staff else {
        return see_other("/staff");
    };
    let rosters = match api::rosters_of(
        app,
        page.lang.api(),
        &Caller::Staff(staff.account.clone()),
        id,
    )
    .await
    {
        Ok(rosters) => rosters,
        Err(error) => return page.api_error(error),
    };
    let catalog = app.service.read().catalog.clone();
    let lang = page.lang;
    let (status, notice) = notice.map_or((StatusCode::OK, None), |(s, n)| (s, Some(n)));
    page.render(
        status,
        page.t(texts::KG_ROSTER_TITLE),
        html! {
            h1 { (page.t(texts::KG_ROSTER_TITLE)) ": " (kindergarten_name(&catalog, lang, id.0)) }
            (notice_markup(page, notice.as_ref()))
            p { a href="/staff" { (page.t(texts::BACK_TO_DESK)) } }
            p.hint { (page.t(texts::KG_LEFT_HINT)) }
            @for roster in &rosters {
                @let name = roster.group.and_then(|g| catalog.groups.get(&GroupId(g))).map_or_else(|| page.t(texts::NO_GROUP).to_string(), |g| g.name.clone());
                section {
                    h2 { (name) }
                    @if roster.present.is_empty() {
                        p { (page.t(texts::ROSTER_EMPTY)) }
                    } @else {
                        div.table-wrap { table data-testid="roster" {
                            (page.column_heads(&[texts::APPLICATION_NUMBER, texts::CHILD_NAME, texts::BIRTH_DATE, texts::ACTIONS]))
                            tbody {
                                @for child in &roster.present {
                                    tr {
                                        td { (child.application) }
                                        td { (child.child_name) }
                                        td { (texts::date(child.birth_date)) }
                                        td {
                                            form.inline-form method="post" action="/staff/children/left" {
                                                (page.form_guard(true))
                                                input type="hidden" name="application" value=(child.application);
                                                button type="submit" aria-label=(format!("{}: {}", page.t(texts::MARK_LEFT), child.child_name)) { (page.t(texts::MARK_LEFT)) }
                                            }
                                        }
                                    }
                                }
                            }
                        } }
                    }
                    @if !roster.left.is_empty() {
                        h3 { (page.t(texts::ROSTER_LEFT_TITLE)) }
                        div.table-wrap { table data-testid="roster-left" {
                            (page.column_heads(&[texts::APPLICATION_NUMBER, texts::CHILD_NAME, texts::BIRTH_DATE, texts::LEFT_ON]))
                            tbody {
                                @for child in &roster.left {
                                    tr {
                                        td { (child.application) }
                                        td { (child.child_name) }
                                        td { (texts::date(child.birth_date)) }
                                        td { (child.left_at.map(texts::local_time).unwrap_or_default()) }
                                    }
                                }
                            }
                        } }
                    }
                }
            }
        },
    )
}

async fn withdraw_place(State(app): State<AppState>, page: Page, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let Some((caller, id)) = own_kindergarten(&page).filter(|_| page.csrf_ok(&fields, true)) else {
        return page.form_expired();
    };
    let Ok(place) = fields.get("place").trim().parse::<u64>() else {
        let message = error::NOT_FOUND.message(page.lang.api());
        let notice = (StatusCode::NOT_FOUND, KindergartenNotice::Refused(message));
        return kindergarten_page(&app, &page, id, Some(notice)).await;
    };
    let command = Command::WithdrawPlace {
        place: PlaceId(place),
        by: id,
    };
    let notice = match page.submit(&app, &caller, &fields, command).await {
        Ok(_) => (StatusCode::OK, KindergartenNotice::Withdrawn),
        Err(error) => {
            let (status, message) = page.command_error(error);
            (status, KindergartenNotice::Refused(message))
        }
    };
    kindergarten_page(&app, &page, id, Some(notice)).await
}

async fn mark_left(State(app): State<AppState>, page: Page, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let Some((caller, id)) = own_kindergarten(&page).filter(|_| page.csrf_ok(&fields, true)) else {
        return page.form_expired();
    };
    let application = ids::parse_application(
        &app.service.read().catalog,
        fields.get("application").trim(),
    );
    let Some(application) = application else {
        let message = error::NOT_FOUND.message(page.lang.api());
        let notice = (StatusCode::NOT_FOUND, KindergartenNotice::Refused(message));
        return roster_page(&app, &page, id, Some(notice)).await;
    };
    let command = Command::MarkLeft {
        id: application,
        by: id,
    };
    let notice = match page.submit(&app, &caller, &fields, command).await {
        Ok(Outcome::Left { next }) => {
            let catalog = &app.service.read().catalog;
            let next = next.map(|r| ids::referral_number(catalog, r.id));
            (StatusCode::OK, KindergartenNotice::Left(next))
        }
        Ok(_) => unreachable!("marking a child left answers Left"),
        Err(error) => {
            let (status, message) = page.command_error(error);
            (status, KindergartenNotice::Refused(message))
        }
    };
    roster_page(&app, &page, id, Some(notice)).await
}

/// The report's group; `chosen` is the group a refused report named, `error` its refusal.
fn group_select(
    page: &Page,
    catalog: &Catalog,
    kindergarten: KindergartenId,
    chosen: Option<&str>,
    error: Option<&str>,
) -> Markup {
    html! {
        div.field.invalid[error.is_some()] {
            label for="group" { (page.t(texts::FIELD_GROUP)) }
            @if let Some(error) = error { p.error-message id="group-error" { (error) } }
            select id="group" name="group" aria-describedby=[error.map(|_| "group-error")] aria-invalid=[error.map(|_| "true")] {
                // The open groups, and the chosen one even if it closed meanwhile (its
                // refusal says so), so the form shows what was sent.
                @for group in catalog.groups.values().filter(|g| g.kindergarten == kindergarten) {
                    @let is_chosen = chosen == Some(group.id.0.to_string().as_str());
                    @if !group.closed || is_chosen {
                        option value=(group.id.0) selected[is_chosen] {
                            (group.name) " — " (super::public::language_name(page.lang, group.language.code()))
                            ", " (texts::date(group.age_band.born_from)) " – " (texts::date(group.age_band.born_to))
                            @if group.closed { " (" (page.t(texts::GROUP_CLOSED)) ")" }
                        }
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
    // What was typed comes back beside the field the refusal concerns.
    let refused = |status: StatusCode, field: &'static str, message: &'static str| {
        let notice = KindergartenNotice::ReportRefused {
            group: fields.get("group").to_string(),
            count: fields.get("count").to_string(),
            available_from: fields.get("available_from").to_string(),
            field,
            message,
        };
        (status, notice)
    };
    let invalid = error::INVALID.message(page.lang.api());
    let count = fields.get("count").trim().parse::<u32>();
    let from = chrono::NaiveDate::parse_from_str(fields.get("available_from").trim(), "%Y-%m-%d");
    let group = fields.get("group").trim().parse::<u32>().ok().map(GroupId);
    let (count, available_from) = match (count, from) {
        (Ok(count), Ok(from)) => (count, from),
        (Err(_), _) => {
            let notice = refused(StatusCode::UNPROCESSABLE_ENTITY, "count", invalid);
            return kindergarten_page(&app, &page, id, Some(notice)).await;
        }
        (_, Err(_)) => {
            let notice = refused(StatusCode::UNPROCESSABLE_ENTITY, "available_from", invalid);
            return kindergarten_page(&app, &page, id, Some(notice)).await;
        }
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
            // The service's words say which field a refusal concerns.
            let field = match &error {
                CommandError::Invalid(why) if why.contains("places a report") => Some("count"),
                CommandError::Invalid(why) if why.contains("group") => Some("group"),
                CommandError::Conflict(why) if why.contains("group") => Some("group"),
                CommandError::Invalid(why)
                    if why.contains("free from") || why.contains("school age") =>
                {
                    Some("available_from")
                }
                _ => None,
            };
            let (status, message) = page.command_error(error);
            match field {
                Some(field) => refused(status, field, message),
                None => (status, KindergartenNotice::Refused(message)),
            }
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
