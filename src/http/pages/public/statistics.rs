//! The public statistics page (issue 17 §2): the API's `statistics_of`, each figure as a
//! chart (inline SVG, `pages::chart`) above an accessible table of the same counts, in
//! Kazakh or Russian; a hidden cell is "< 5" in the table and draws no bar in the chart.
//! Nothing here names or counts one child.

use super::district_select_or_all;
use super::texts::{self, T};
use crate::http::pages::{chart, Page};
use crate::http::reports::{statistics_of, MonthPair, StatisticsParams};
use crate::http::AppState;
use axum::extract::State;
use axum::response::Response;
use maud::{html, Markup, PreEscaped};

fn count(value: Option<u32>) -> String {
    value.map_or_else(|| "< 5".to_string(), |n| n.to_string())
}

pub(super) async fn statistics(State(app): State<AppState>, page: Page) -> Response {
    let params = StatisticsParams {
        district: page.query("district").map(str::to_string),
    };
    let figures = match statistics_of(&app, page.lang.api(), &params) {
        Ok(figures) => figures,
        Err(error) => return page.api_error(error),
    };
    let catalog = app.service.read().catalog.clone();
    let chosen = figures
        .district
        .as_deref()
        .and_then(|code| catalog.districts.values().find(|d| d.code == code))
        .map(|d| d.id);
    let lang = page.lang;
    page.ok(
        page.t(texts::STATISTICS_TITLE),
        html! {
            h1 { (page.t(texts::STATISTICS_TITLE)) }
            p { (page.t(texts::STATISTICS_INTRO)) }
            form.filters method="get" action="/statistics" aria-label=(page.t(texts::FILTER)) {
                div.field {
                    label for="district" { (page.t(texts::FIELD_DISTRICT)) }
                    (district_select_or_all(&catalog, lang, chosen, page.t(texts::STAT_ALL_DISTRICTS)))
                }
                div.field { button type="submit" { (page.t(texts::SHOW)) } }
            }
            h2 { (page.t(texts::STAT_QUEUE)) }
            @if figures.queue.is_empty() { p { (page.t(texts::STAT_NONE)) } } @else {
                (bars(&page, "chart-queue", texts::STAT_QUEUE, &[texts::STAT_WAITING],
                    figures.queue.iter().map(|row| row.birth_year.to_string()).collect(),
                    vec![figures.queue.iter().map(|row| row.waiting).collect()]))
                div.table-wrap { table #statistics-queue {
                    (page.column_heads(&[texts::STAT_BIRTH_YEAR, texts::STAT_WAITING]))
                    tbody { @for row in &figures.queue {
                        tr { th scope="row" { (row.birth_year) } td.num { (count(row.waiting)) } }
                    } }
                } }
            }
            h2 { (page.t(texts::STAT_REFERRALS)) }
            (pairs(&page, &figures.referrals, [texts::STAT_REFERRALS, texts::STAT_ISSUED, texts::STAT_HANDED_IN], "statistics-referrals"))
            h2 { (page.t(texts::STAT_WAITS)) }
            @if figures.waits.is_empty() { p { (page.t(texts::STAT_NONE)) } } @else {
                // The median of a hidden count is hidden with it; of no referral, nothing.
                (bars(&page, "chart-waits", texts::STAT_WAITS, &[texts::STAT_MEDIAN],
                    figures.waits.iter().map(|row| texts::tier(lang, &row.tier).to_string()).collect(),
                    vec![figures.waits.iter().map(|row| row.referred.map(|_| row.median_days.unwrap_or(0))).collect()]))
                div.table-wrap { table #statistics-waits {
                    (page.column_heads(&[texts::STAT_TIER, texts::STAT_REFERRED, texts::STAT_MEDIAN]))
                    tbody { @for row in &figures.waits {
                        tr {
                            th scope="row" { (texts::tier(lang, &row.tier)) }
                            td.num { (count(row.referred)) }
                            td.num { (row.median_days.map_or_else(|| "—".to_string(), |d| d.to_string())) }
                        }
                    } }
                } }
            }
            h2 { (page.t(texts::STAT_PLACES)) }
            (pairs(&page, &figures.places, [texts::STAT_PLACES, texts::STAT_REPORTED, texts::STAT_FILLED], "statistics-places"))
        },
    )
}

/// A chart of `series` (each named in `names`, one bar per label and series, a hidden count
/// none), or nothing when there is no count to draw. `id` is unique on the page.
fn bars(
    page: &Page,
    id: &str,
    title: T,
    names: &[T],
    labels: Vec<String>,
    series: Vec<Vec<Option<u32>>>,
) -> Markup {
    let series: Vec<Vec<Option<u64>>> = series
        .into_iter()
        .map(|values| values.into_iter().map(|v| v.map(u64::from)).collect())
        .collect();
    let named: Vec<&str> = names.iter().map(|name| page.t(*name)).collect();
    let description = format!("{} {}", page.t(texts::STAT_CHART), named.join(", "));
    let svg = chart::bars_with_hidden(id, &labels, &series, page.t(title), &description);
    html! { @if let Some(svg) = svg { figure.chart { (PreEscaped(svg)) } } }
}

/// Two counts per month, as a chart and a table. `heads`: the title, then the two counts'
/// names (the table's heads carry the colour of their bars).
fn pairs(page: &Page, rows: &[MonthPair], heads: [T; 3], id: &str) -> Markup {
    if rows.is_empty() {
        return html! { p { (page.t(texts::STAT_NONE)) } };
    }
    let labels = rows.iter().map(|row| row.month.clone()).collect();
    let series = vec![
        rows.iter().map(|row| row.first).collect(),
        rows.iter().map(|row| row.second).collect(),
    ];
    html! {
        (bars(page, &format!("chart-{id}"), heads[0], &heads[1..], labels, series))
        div.table-wrap { table id=(id) {
            thead { tr {
                th scope="col" { (page.t(texts::STAT_MONTH)) }
                th scope="col" class="series s0" { (page.t(heads[1])) }
                th scope="col" class="series s1" { (page.t(heads[2])) }
            } }
            tbody { @for row in rows {
                tr {
                    th scope="row" { (row.month) }
                    td.num { (count(row.first)) }
                    td.num { (count(row.second)) }
                }
            } }
        } }
    }
}
