//! The reports' pages (issue 17), for officers (their district) and administrators (every
//! district, or one): the list of reports, and each report as a bar chart with the same
//! figures in a table, a date range and district form, and its CSV. The figures are the
//! API's (`http::reports`: the same scope check, the same `Table`).

use super::{see_other, Page};
use crate::domain::reports::tables::{Cell, Filter, ReportName, Table};
use crate::domain::staff::{Role, Scope};
use crate::http::auth::Caller;
use crate::http::reports::{report_table, staff_filter, ReportParams};
use crate::http::AppState;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, PreEscaped};
use texts::{PageLang, T};

mod texts;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/reports", get(index))
        .route("/staff/reports/{name}", get(report))
}

fn title(name: ReportName) -> T {
    match name {
        ReportName::Queue => texts::REPORT_QUEUE,
        ReportName::Kindergartens => texts::REPORT_KINDERGARTENS,
        ReportName::Trend => texts::REPORT_TREND,
        ReportName::Waiting => texts::REPORT_WAITING,
        ReportName::StillWaiting => texts::REPORT_STILL_WAITING,
        ReportName::Referrals => texts::REPORT_REFERRALS,
        ReportName::Places => texts::REPORT_PLACES,
        ReportName::Manual => texts::REPORT_MANUAL,
        ReportName::Officers => texts::REPORT_OFFICERS,
        ReportName::Survey => texts::REPORT_SURVEY,
    }
}

fn column(code: &str) -> T {
    match code {
        "birth_year" => texts::COL_BIRTH_YEAR,
        "tier" => texts::COL_TIER,
        "waiting" => texts::COL_WAITING,
        "kindergarten" => texts::COL_KINDERGARTEN,
        "number" => texts::COL_NUMBER,
        "first_choice" => texts::COL_FIRST_CHOICE,
        "any_choice" => texts::COL_ANY_CHOICE,
        "week" => texts::COL_WEEK,
        "referred" => texts::COL_REFERRED,
        "median_days" => texts::COL_MEDIAN,
        "p90_days" => texts::COL_P90,
        "month" => texts::COL_MONTH,
        "issued" => texts::COL_ISSUED,
        "handed_in" => texts::COL_HANDED_IN,
        "declined" => texts::COL_DECLINED,
        "expired" => texts::COL_EXPIRED,
        "revoked" => texts::COL_REVOKED,
        "extended" => texts::COL_EXTENDED,
        "group" => texts::COL_GROUP,
        "reported" => texts::COL_REPORTED,
        "filled" => texts::COL_FILLED,
        "open" => texts::COL_OPEN,
        "days_open" => texts::COL_DAYS_OPEN,
        "enrolled" => texts::COL_ENROLLED,
        "capacity" => texts::COL_CAPACITY,
        "claims_waiting" => texts::COL_CLAIMS_WAITING,
        "overdue" => texts::COL_OVERDUE,
        "verified" => texts::COL_VERIFIED,
        "rejected" => texts::COL_REJECTED,
        "question" => texts::COL_QUESTION,
        "officer" => texts::COL_OFFICER,
        "decided" => texts::COL_DECIDED,
        "fully" => texts::COL_FULLY,
        "partly" => texts::COL_PARTLY,
        _ => texts::COL_NOT,
    }
}

/// A cell as the page shows it: codes in words, the rest as they are.
fn shown(lang: PageLang, column: &str, cell: &Cell) -> String {
    match cell {
        Cell::Int(value) => value.to_string(),
        Cell::Empty => "—".to_string(),
        Cell::Text(text) => match (column, text.as_str()) {
            ("tier", code) => texts::tier(lang, code).to_string(),
            ("question", "process") => lang.t(texts::QUESTION_PROCESS).to_string(),
            ("question", _) => lang.t(texts::QUESTION_INFORMATION).to_string(),
            (_, "now") => lang.t(texts::NOW).to_string(),
            (_, "*") => lang.t(texts::ANY_KINDERGARTEN).to_string(),
            _ => text.clone(),
        },
    }
}

/// The answer to give when the page's account may not see reports at all.
fn refusal(page: &Page) -> Option<Response> {
    let Some(staff) = &page.staff else {
        return Some(see_other("/staff"));
    };
    (![Role::Officer, Role::Admin].contains(&staff.account.role)).then(|| {
        page.message(
            StatusCode::FORBIDDEN,
            page.t(texts::NAV_STAFF),
            page.t(texts::NOT_THIS_ROLE),
        )
    })
}

async fn index(page: Page) -> Response {
    if let Some(answer) = refusal(&page) {
        return answer;
    }
    page.ok(
        page.t(texts::REPORTS_TITLE),
        html! {
            h1 { (page.t(texts::REPORTS_TITLE)) }
            p { (page.t(texts::REPORTS_INTRO)) }
            ul {
                @for name in ReportName::ALL {
                    li { a href={ "/staff/reports/" (name.code()) } { (page.t(title(name))) } }
                }
            }
        },
    )
}

async fn report(State(app): State<AppState>, page: Page, Path(name): Path<String>) -> Response {
    if let Some(answer) = refusal(&page) {
        return answer;
    }
    let Some(staff) = &page.staff else {
        return see_other("/staff");
    };
    let caller = Caller::Staff(staff.account.clone());
    let (code, csv) = match name.strip_suffix(".csv") {
        Some(code) => (code, true),
        None => (name.as_str(), false),
    };
    let Some(name) = ReportName::parse(code) else {
        return page.api_error(crate::http::error::ApiError::new(
            crate::http::error::NOT_FOUND,
            page.lang.api(),
        ));
    };
    let asked = |field: &str| page.query(field).map(str::to_string);
    let params = ReportParams {
        from: asked("from"),
        to: asked("to"),
        district: asked("district"),
    };
    let filter = match staff_filter(&app, &caller, page.lang.api(), &params) {
        Ok(filter) => filter,
        Err(error) => return page.api_error(error),
    };
    let table = report_table(&app, name, &filter);
    if csv {
        return (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"kezek-{}.csv\"", name.code()),
                ),
                (header::CACHE_CONTROL, "no-store".to_string()),
            ],
            table.csv(),
        )
            .into_response();
    }
    let query = serde_urlencoded::to_string([
        ("from", filter.from.to_string()),
        ("to", filter.to.to_string()),
        ("district", params.district.clone().unwrap_or_default()),
    ])
    .unwrap_or_default();
    page.ok(
        page.t(title(name)),
        html! {
            p { a href="/staff/reports" { "← " (page.t(texts::BACK_TO_REPORTS)) } }
            h1 { (page.t(title(name))) }
            (range_form(&app, &page, name, &filter))
            p { a href={ "/staff/reports/" (name.code()) ".csv?" (query) } download { (page.t(texts::DOWNLOAD_CSV)) } }
            (figures(&page, &table))
        },
    )
}

fn range_form(app: &AppState, page: &Page, name: ReportName, filter: &Filter) -> Markup {
    let everywhere = page
        .staff
        .as_ref()
        .is_some_and(|s| s.account.scope == Scope::Everywhere);
    let catalog = app.service.read().catalog.clone();
    html! {
        form.filters method="get" action={ "/staff/reports/" (name.code()) } {
            div.field {
                label for="from" { (page.t(texts::FIELD_FROM)) }
                input type="date" id="from" name="from" value=(filter.from);
            }
            div.field {
                label for="to" { (page.t(texts::FIELD_TO)) }
                input type="date" id="to" name="to" value=(filter.to);
            }
            @if everywhere {
                div.field {
                    label for="district" { (page.t(texts::FIELD_DISTRICT)) }
                    select id="district" name="district" {
                        option value="" { (page.t(texts::ALL_DISTRICTS)) }
                        @for district in catalog.districts.values() {
                            option value=(district.code) selected[filter.district == Some(district.id)] {
                                (page.lang.pick(&district.names))
                            }
                        }
                    }
                }
            }
            div.field { button type="submit" { (page.t(texts::SHOW)) } }
        }
    }
}

/// The chart, then the table it draws.
fn figures(page: &Page, table: &Table) -> Markup {
    if table.rows.is_empty() {
        return html! { p.notice role="status" { (page.t(texts::NO_FIGURES)) } };
    }
    let lang = page.lang;
    let labels: Vec<String> = table
        .rows
        .iter()
        .map(|row| shown(lang, table.columns[table.label], &row[table.label]))
        .collect();
    let series: Vec<Vec<u64>> = table
        .bars
        .iter()
        .map(|i| {
            table
                .rows
                .iter()
                .map(|row| match row[*i] {
                    Cell::Int(value) => u64::try_from(value).unwrap_or(0),
                    _ => 0,
                })
                .collect()
        })
        .collect();
    let named: Vec<&str> = table
        .bars
        .iter()
        .map(|i| lang.t(column(table.columns[*i])))
        .collect();
    let description = format!(
        "{}: {}",
        page.t(texts::CHART_SAME_AS_TABLE),
        named.join(", ")
    );
    let chart = super::chart::bars(&labels, &series, page.t(texts::CHART_OF), &description);
    html! {
        @if let Some(svg) = chart {
            figure.chart { (PreEscaped(svg)) }
        }
        div.table-wrap { table {
            thead { tr {
                @for (i, code) in table.columns.iter().enumerate() {
                    th scope="col" class=[table.bars.iter().position(|b| *b == i).map(|s| format!("series s{s}"))] {
                        (page.t(column(code)))
                    }
                }
            } }
            tbody {
                @for row in &table.rows {
                    tr {
                        @for (i, cell) in row.iter().enumerate() {
                            @if i == table.label {
                                th scope="row" { (shown(lang, table.columns[i], cell)) }
                            } @else {
                                td.num { (shown(lang, table.columns[i], cell)) }
                            }
                        }
                    }
                }
            }
        } }
    }
}
