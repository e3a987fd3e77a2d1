//! Reports for officers and administrators (issue 17): `GET /api/v1/reports/{name}` as JSON,
//! or as CSV with `.csv` after the name. Figures come from the aggregates in memory
//! (`domain::reports`), never from the journal. An officer sees its own district; an
//! administrator every district, or one with `district=`.
//!
//! Also the public statistics' figures (`statistics_of`): the same aggregates without
//! anything that could single a child out.

use super::applications::Ctx;
use super::auth::Caller;
use super::error::{self, ApiError, Lang};
use super::extract::ApiQuery;
use super::{no_store, ok, AppState};
use crate::domain::local_date;
use crate::domain::numbers as ids;
use crate::domain::reports::public::Statistics;
use crate::domain::reports::tables::{table, tier_code, Cell, Filter, ReportName, Table};
use crate::domain::staff::{Role, Scope};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The longest range a report covers: more would be a bulk export, which open data is for.
pub const RANGE_MONTHS_MAX: u32 = 60;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(report))
        .routes(routes!(statistics))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// YYYY-MM-DD; a year before `to` when absent.
    pub from: Option<String>,
    /// YYYY-MM-DD; today when absent.
    pub to: Option<String>,
    /// A district's code or id; an officer's own district when absent, every district for
    /// an administrator.
    pub district: Option<String>,
}

/// A report's figures: one row per line of its table, the cells in `columns`' order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReportView {
    pub report: String,
    /// The district's code, or absent for every district.
    pub district: Option<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub columns: Vec<String>,
    /// Numbers, texts, or null where there is no value.
    #[schema(value_type = Vec<Vec<Object>>)]
    pub rows: Vec<Vec<serde_json::Value>>,
}

/// One report, for the district's officers and for administrators.
#[utoipa::path(get, path = "/api/v1/reports/{name}", tag = "officer",
    params(("name" = String, Path, description = "queue, kindergartens, trend, waiting, still-waiting, referrals, places, manual, officers, survey; .csv after it for CSV"),
           ReportParams),
    security(("staff_token" = [])),
    responses((status = 200, body = ReportView),
              (status = 403, description = "forbidden, district_out_of_scope"),
              (status = 404, description = "No such report"),
              (status = 422, description = "report_range_reversed, report_range_too_long, district_unknown")))]
async fn report(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(name): Path<String>,
    ApiQuery(params): ApiQuery<ReportParams>,
) -> Result<Response, ApiError> {
    let (code, csv) = match name.strip_suffix(".csv") {
        Some(code) => (code, true),
        None => (name.as_str(), false),
    };
    let filter = staff_filter(&app, &ctx.caller, ctx.lang, &params)?;
    let name = ReportName::parse(code).ok_or_else(|| ApiError::new(error::NOT_FOUND, ctx.lang))?;
    let table = report_table(&app, name, &filter);
    if csv {
        let disposition = format!("attachment; filename=\"kezek-{}.csv\"", name.code());
        return Ok(no_store(
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                table.csv(),
            )
                .into_response(),
        ));
    }
    Ok(no_store(ok(false, view(&app, &table, &filter))))
}

pub(super) fn report_table(app: &AppState, name: ReportName, filter: &Filter) -> Table {
    let state = app.service.read();
    table(&state.reports, &state.catalog, name, filter)
}

fn view(app: &AppState, table: &Table, filter: &Filter) -> ReportView {
    let district = filter.district.and_then(|id| {
        let state = app.service.read();
        state.catalog.districts.get(&id).map(|d| d.code.clone())
    });
    ReportView {
        report: table.name.code().to_string(),
        district,
        from: filter.from,
        to: filter.to,
        columns: table.columns.iter().map(|c| c.to_string()).collect(),
        rows: table
            .rows
            .iter()
            .map(|row| row.iter().map(json_cell).collect())
            .collect(),
    }
}

fn json_cell(cell: &Cell) -> serde_json::Value {
    match cell {
        Cell::Int(value) => (*value).into(),
        Cell::Text(text) => text.clone().into(),
        Cell::Empty => serde_json::Value::Null,
    }
}

/// Who may see which district's reports, and the range asked for, checked in this order:
/// the caller's role, the dates, the district, its scope.
pub(super) fn staff_filter(
    app: &AppState,
    caller: &Caller,
    lang: Lang,
    params: &ReportParams,
) -> Result<Filter, ApiError> {
    let account = caller.staff_in(&[Role::Officer, Role::Admin], lang)?;
    let today = local_date(app.service.now());
    let (from, to) = range(params, today, lang)?;
    let asked = match params.district.as_deref().filter(|d| !d.is_empty()) {
        None => None,
        Some(text) => Some(
            ids::parse_district(&app.service.read().catalog, text)
                .ok_or_else(|| ApiError::new(error::DISTRICT_UNKNOWN, lang))?,
        ),
    };
    let district = match (account.scope, asked) {
        (Scope::Everywhere, asked) => asked,
        (Scope::District(own), None) => Some(own),
        (Scope::District(own), Some(asked)) if asked == own => Some(own),
        _ => return Err(ApiError::new(error::DISTRICT_OUT_OF_SCOPE, lang)),
    };
    Ok(Filter {
        district,
        from,
        to,
        today,
    })
}

fn range(
    params: &ReportParams,
    today: NaiveDate,
    lang: Lang,
) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let date = |text: &Option<String>, field: &str| -> Result<Option<NaiveDate>, ApiError> {
        match text.as_deref().filter(|t| !t.is_empty()) {
            None => Ok(None),
            Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| ApiError::new(error::QUERY_INVALID, lang).with_detail(field.into())),
        }
    };
    let to = date(&params.to, "to")?.unwrap_or(today);
    let from = date(&params.from, "from")?
        .unwrap_or_else(|| to.checked_sub_months(Months::new(12)).unwrap_or(to));
    if from > to {
        return Err(ApiError::new(error::REPORT_RANGE_REVERSED, lang));
    }
    if to
        .checked_sub_months(Months::new(RANGE_MONTHS_MAX))
        .is_some_and(|earliest| from < earliest)
    {
        return Err(ApiError::new(error::REPORT_RANGE_TOO_LONG, lang));
    }
    Ok((from, to))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatisticsParams {
    /// A district's code or id; every district when absent.
    pub district: Option<String>,
}

/// A count, or null where fewer than 5 children (or the cell that would give one away)
/// are hidden.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatisticsView {
    pub district: Option<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub queue: Vec<YearCount>,
    pub referrals: Vec<MonthPair>,
    pub waits: Vec<TierWait>,
    pub places: Vec<MonthPair>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct YearCount {
    pub birth_year: i32,
    pub waiting: Option<u32>,
}

/// Two counts of a month: referrals issued and handed in, or places reported and filled.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MonthPair {
    /// YYYY-MM
    pub month: String,
    pub first: Option<u32>,
    pub second: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TierWait {
    pub tier: String,
    pub referred: Option<u32>,
    pub median_days: Option<u32>,
}

/// The public statistics: the last twelve months, nothing personal, small cells hidden.
#[utoipa::path(get, path = "/api/v1/statistics", tag = "public", params(StatisticsParams),
    responses((status = 200, body = StatisticsView), (status = 422, description = "district_unknown")))]
async fn statistics(
    State(app): State<AppState>,
    ctx: Ctx,
    ApiQuery(params): ApiQuery<StatisticsParams>,
) -> Result<Response, ApiError> {
    Ok(ok(false, statistics_of(&app, ctx.lang, &params)?))
}

/// The public statistics' figures: the API's answer and the public page's.
pub(super) fn statistics_of(
    app: &AppState,
    lang: Lang,
    params: &StatisticsParams,
) -> Result<StatisticsView, ApiError> {
    let state = app.service.read();
    let district = match params.district.as_deref().filter(|d| !d.is_empty()) {
        None => None,
        Some(text) => Some(
            ids::parse_district(&state.catalog, text)
                .ok_or_else(|| ApiError::new(error::DISTRICT_UNKNOWN, lang))?,
        ),
    };
    let today = local_date(app.service.now());
    let filter = Filter {
        district,
        from: today.checked_sub_months(Months::new(12)).unwrap_or(today),
        to: today,
        today,
    };
    let figures: Statistics =
        crate::domain::reports::public::statistics(&state.reports, &state.catalog, &filter);
    let month = |m: u32| format!("{}-{:02}", m / 100, m % 100);
    let pairs = |rows: Vec<(u32, Option<u32>, Option<u32>)>| {
        rows.into_iter()
            .map(|(m, first, second)| MonthPair {
                month: month(m),
                first,
                second,
            })
            .collect()
    };
    Ok(StatisticsView {
        district: district.and_then(|d| state.catalog.districts.get(&d).map(|d| d.code.clone())),
        from: filter.from,
        to: filter.to,
        queue: figures
            .queue
            .into_iter()
            .map(|(birth_year, waiting)| YearCount {
                birth_year,
                waiting,
            })
            .collect(),
        referrals: pairs(figures.referrals),
        waits: figures
            .waits
            .into_iter()
            .map(|(tier, referred, median_days)| TierWait {
                tier: tier_code(tier).to_string(),
                referred,
                median_days,
            })
            .collect(),
        places: pairs(figures.places),
    })
}
