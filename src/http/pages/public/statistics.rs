//! The public statistics page (issue 17 §2): the API's `statistics_of`, as tables in Kazakh
//! or Russian, a hidden cell shown as "< 5". Nothing here names or counts one child.

use super::texts;
use crate::http::pages::Page;
use crate::http::reports::{statistics_of, MonthPair, StatisticsParams};
use crate::http::AppState;
use axum::extract::State;
use axum::response::Response;
use maud::{html, Markup};

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
    let lang = page.lang;
    page.ok(
        page.t(texts::STATISTICS_TITLE),
        html! {
            h1 { (page.t(texts::STATISTICS_TITLE)) }
            p { (page.t(texts::STATISTICS_INTRO)) }
            form.filters method="get" action="/statistics" aria-label=(page.t(texts::FILTER)) {
                div.field {
                    label for="district" { (page.t(texts::FIELD_DISTRICT)) }
                    select id="district" name="district" {
                        option value="" { (page.t(texts::STAT_ALL_DISTRICTS)) }
                        @for district in catalog.districts.values() {
                            option value=(district.code) selected[figures.district.as_deref() == Some(district.code.as_str())] {
                                (lang.pick(&district.names))
                            }
                        }
                    }
                }
                div.field { button type="submit" { (page.t(texts::SHOW)) } }
            }
            h2 { (page.t(texts::STAT_QUEUE)) }
            @if figures.queue.is_empty() { p { (page.t(texts::STAT_NONE)) } } @else {
                div.table-wrap { table #statistics-queue {
                    (page.column_heads(&[texts::STAT_BIRTH_YEAR, texts::STAT_WAITING]))
                    tbody { @for row in &figures.queue {
                        tr { th scope="row" { (row.birth_year) } td.num { (count(row.waiting)) } }
                    } }
                } }
            }
            h2 { (page.t(texts::STAT_REFERRALS)) }
            (pairs(&page, &figures.referrals, [texts::STAT_ISSUED, texts::STAT_HANDED_IN], "statistics-referrals"))
            h2 { (page.t(texts::STAT_WAITS)) }
            @if figures.waits.is_empty() { p { (page.t(texts::STAT_NONE)) } } @else {
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
            (pairs(&page, &figures.places, [texts::STAT_REPORTED, texts::STAT_FILLED], "statistics-places"))
        },
    )
}

fn pairs(page: &Page, rows: &[MonthPair], heads: [texts::T; 2], id: &str) -> Markup {
    if rows.is_empty() {
        return html! { p { (page.t(texts::STAT_NONE)) } };
    }
    html! {
        div.table-wrap { table id=(id) {
            (page.column_heads(&[texts::STAT_MONTH, heads[0], heads[1]]))
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
