//! A kindergarten's pages: report free places and mark referrals handed in.

use super::public::kindergarten_name;
use super::{see_other, FieldAttrs, Fields, Page};
use crate::domain::catalog::{Catalog, GroupId, KindergartenId};
use crate::domain::numbers as ids;
use crate::domain::staff::{Role, Scope};
use crate::http::auth::Caller;
use crate::http::error;
use crate::http::AppState;
use crate::service::{Command, NewPlaces, Outcome};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use maud::{html, Markup};

mod texts;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/places", post(report_places))
        .route("/staff/hand-in", post(hand_in))
}

/// What a kindergarten's report or hand-in answered, shown above the forms.
enum KindergartenNotice {
    Reported(Vec<String>),
    HandedIn,
    Refused(&'static str),
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
