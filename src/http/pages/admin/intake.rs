//! The intake rounds for administrators (issue 18): the list of rounds, and an open round's
//! dry run as a table (each place: kindergarten, group, child's number, rank of the choice)
//! with its figures, and a button that closes it now. The data are the API's
//! (`http::intake::round_views`, `dry_run_view`); no JavaScript.

use super::{administrator, back, not_this_role, notice, select, texts, FormState};
use crate::domain::intake::RoundId;
use crate::http::intake::{dry_run_view, round_views, DryRunView};
use crate::http::pages::{see_other, text_field, FieldAttrs, Fields, Page};
use crate::http::AppState;
use crate::service::Command;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};

pub(super) async fn rounds(State(app): State<AppState>, page: Page) -> Response {
    if administrator(&page).is_none() {
        return not_this_role(&page);
    }
    rounds_page(&app, &page, StatusCode::OK, FormState::default()).await
}

const OPEN_FIELDS: &[&str] = &["district", "places_for", "closes_on", "closes_time"];

/// Opens a round from the form: the district, the places' date, and the local day and time
/// it closes.
pub(super) async fn open(State(app): State<AppState>, page: Page, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let Some(caller) = administrator(&page).filter(|_| page.csrf_ok(&fields, true)) else {
        return page.form_expired();
    };
    let mut form = FormState::typed(&fields, OPEN_FIELDS);
    let district =
        crate::domain::numbers::parse_district(&app.service.read().catalog, fields.get("district"));
    let places_for = chrono::NaiveDate::parse_from_str(fields.get("places_for"), "%Y-%m-%d").ok();
    let closes_on = chrono::NaiveDate::parse_from_str(fields.get("closes_on"), "%Y-%m-%d").ok();
    let closes_time = chrono::NaiveTime::parse_from_str(fields.get("closes_time"), "%H:%M").ok();
    for (name, ok) in [
        ("district", district.is_some()),
        ("places_for", places_for.is_some()),
        ("closes_on", closes_on.is_some()),
        ("closes_time", closes_time.is_some()),
    ] {
        if !ok {
            form.invalid(&page, name);
        }
    }
    let (Some(district), Some(places_for), Some(closes_on), Some(closes_time)) =
        (district, places_for, closes_on, closes_time)
    else {
        return rounds_page(&app, &page, StatusCode::UNPROCESSABLE_ENTITY, form).await;
    };
    let closes_at = closes_on
        .and_time(closes_time)
        .and_local_timezone(crate::domain::local_offset())
        .single()
        .expect("a fixed offset has one reading")
        .to_utc();
    let command = Command::OpenIntakeRound {
        district,
        places_for,
        closes_at,
        any_order: Vec::new(),
    };
    match page.submit(&app, &caller, &fields, command).await {
        Ok(crate::service::Outcome::RoundOpened(id)) => {
            see_other(&format!("/staff/admin/rounds/{}", id.0))
        }
        Ok(_) => see_other("/staff/admin/rounds"),
        Err(error) => {
            let (status, form) = form.refused(&page, error);
            rounds_page(&app, &page, status, form).await
        }
    }
}

async fn rounds_page(app: &AppState, page: &Page, status: StatusCode, form: FormState) -> Response {
    let rounds = match round_views(app, page.lang.api()).await {
        Ok(rounds) => rounds,
        Err(error) => return page.api_error(error),
    };
    let districts: Vec<(String, String)> = app
        .service
        .read()
        .catalog
        .districts
        .values()
        .map(|d| (d.code.clone(), page.lang.pick(&d.names).to_string()))
        .collect();
    // Plain text with a hint, as every date field of the pages: a browser's date picker
    // types in its locale's order.
    let field = |name: &str, label: texts::T, hint: texts::T| {
        text_field(
            name,
            page.t(label),
            Some(page.t(hint)),
            form.value(name, ""),
            form.errors.get(name).copied(),
            FieldAttrs::TEXT,
        )
    };
    page.render(
        status,
        page.t(texts::ROUNDS_TITLE),
        html! {
            h1 { (page.t(texts::ROUNDS_TITLE)) }
            (back(page))
            (notice(page, &form))
            p.hint { (page.t(texts::ROUNDS_INTRO)) }
            div.table-wrap { table data-testid="rounds" {
                (page.column_heads(&[texts::ENTRY, texts::FIELD_DISTRICT, texts::ROUND_PLACES_FOR, texts::ROUND_CLOSES_AT, texts::STATUS, texts::ROUND_PLACES, texts::ROUND_REFERRALS]))
                tbody {
                    @for round in &rounds {
                        tr {
                            td {
                                @if round.closed_at.is_none() {
                                    a href=(format!("/staff/admin/rounds/{}", round.id)) { (round.id) }
                                } @else {
                                    (round.id)
                                }
                            }
                            td { (round.district) }
                            td { (round.places_for) }
                            td { (round.closes_at.format("%Y-%m-%d %H:%M UTC")) }
                            td { (page.t(if round.closed_at.is_some() { texts::ROUND_STATUS_CLOSED } else { texts::ROUND_STATUS_OPEN })) }
                            td { (round.places) }
                            td { (round.referrals) }
                        }
                    }
                }
            } }
            h2 { (page.t(texts::ROUND_OPEN)) }
            form method="post" action="/staff/admin/rounds" {
                (page.form_guard(true))
                (select(page, &form, "district", texts::FIELD_DISTRICT, &districts, ""))
                (field("places_for", texts::ROUND_PLACES_FOR, texts::HINT_DATE))
                (field("closes_on", texts::ROUND_CLOSES_ON, texts::HINT_DATE))
                (field("closes_time", texts::ROUND_CLOSES_TIME, texts::ROUND_HINT_TIME))
                button type="submit" { (page.t(texts::ROUND_OPEN)) }
            }
        },
    )
}

pub(super) async fn round(
    State(app): State<AppState>,
    page: Page,
    Path(round): Path<u32>,
) -> Response {
    if administrator(&page).is_none() {
        return not_this_role(&page);
    }
    let view = dry_run_view(&app.service.read(), RoundId(round), app.service.now());
    match view {
        Some(view) => round_page(&page, StatusCode::OK, &view, None),
        None => page.message(
            StatusCode::NOT_FOUND,
            page.t(texts::ROUNDS_TITLE),
            page.t(texts::ROUND_NOT_OPEN),
        ),
    }
}

fn round_page(
    page: &Page,
    status: StatusCode,
    view: &DryRunView,
    notice: Option<&str>,
) -> Response {
    let title = format!("{} {}", page.t(texts::ROUND_DRY_RUN_TITLE), view.round);
    page.render(
        status,
        &title,
        html! {
            h1 { (title) }
            p { a href="/staff/admin/rounds" { (page.t(texts::ROUNDS_TITLE)) } }
            @if let Some(notice) = notice { p.error role="alert" { (notice) } }
            p { (view.district) ", " (page.t(texts::ROUND_PLACES_FOR)) ": " (view.places_for) ", " (page.t(texts::ROUND_CLOSES_AT)) ": " (view.closes_at.format("%Y-%m-%d %H:%M UTC")) }
            p.hint { (page.t(texts::ROUND_DRY_RUN_INTRO)) }
            (figures(page, view))
            div.table-wrap { table data-testid="dry-run" {
                (page.column_heads(&[texts::ROUND_KINDERGARTEN, texts::ROUND_GROUP, texts::FIELD_APPLICATION, texts::ROUND_RANK]))
                tbody {
                    @for place in &view.placements {
                        tr {
                            td { (place.kindergarten_number) }
                            td { (place.group.as_deref().unwrap_or("—")) }
                            td { (place.application) }
                            td {
                                @if place.rank == "any" { (page.t(texts::ROUND_RANK_ANY)) } @else { (place.rank) }
                                @if place.transfer { " (" (page.t(texts::ROUND_TRANSFER)) ")" }
                            }
                        }
                    }
                }
            } }
            form method="post" action=(format!("/staff/admin/rounds/{}/close", view.round)) {
                (page.form_guard(true))
                button.danger type="submit" { (page.t(texts::ROUND_CLOSE_NOW)) }
            }
        },
    )
}

fn figures(page: &Page, view: &DryRunView) -> Markup {
    let f = &view.figures;
    html! {
        dl.figures data-testid="figures" {
            dt { (page.t(texts::ROUND_PLACES)) } dd { (f.places) }
            dt { (page.t(texts::ROUND_PLACED)) } dd { (f.placed) }
            dt { (page.t(texts::ROUND_FIRST_CHOICE)) } dd { (format!("{:.1} %", f.first_choice_share * 100.0)) }
            dt { (page.t(texts::ROUND_MEAN_RANK)) } dd { (format!("{:.2}", f.mean_rank)) }
            dt { (page.t(texts::ROUND_UNFILLED)) } dd { (f.unfilled) }
            dt { (page.t(texts::ROUND_FAMILIES_PASSED)) } dd { (view.families_passed.len()) }
        }
    }
}

pub(super) async fn close(
    State(app): State<AppState>,
    page: Page,
    Path(round): Path<u32>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let Some(caller) = administrator(&page).filter(|_| page.csrf_ok(&fields, true)) else {
        return page.form_expired();
    };
    let command = Command::CloseIntakeRound {
        round: RoundId(round),
    };
    match page.submit(&app, &caller, &fields, command).await {
        Ok(_) => crate::http::pages::see_other("/staff/admin/rounds"),
        Err(error) => {
            let (status, text) = page.command_error(error);
            let view = dry_run_view(&app.service.read(), RoundId(round), app.service.now());
            match view {
                Some(view) => round_page(&page, status, &view, Some(text)),
                None => page.message(status, page.t(texts::ROUNDS_TITLE), text),
            }
        }
    }
}
