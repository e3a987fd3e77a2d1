//! The pages anyone may see: the home page, a district's anonymised queue (by cohort and
//! by kindergarten, paged) and the protocol of free places and referrals.

use super::Page;
use crate::domain::catalog::{Catalog, DistrictId, KindergartenId};
use crate::domain::numbers as ids;
use crate::http::public::{protocol_of, queue_page, ProtocolParams, QueueParams};
use crate::http::AppState;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use texts::PageLang;

mod statistics;
mod texts;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/queue", get(queue))
        .route("/protocol", get(protocol))
        .route("/statistics", get(statistics::statistics))
}

const QUEUE_PAGE_SIZE: usize = 50;

async fn home(page: Page) -> Response {
    page.ok(
        page.t(texts::HOME_TITLE),
        html! {
            h1 { (page.t(texts::HOME_TITLE)) }
            p.lead { (page.t(texts::HOME_INTRO)) }
            ul.cards {
                li.card {
                    h2 { a href="/register" { (page.t(texts::HOME_REGISTER)) } }
                    p { (page.t(texts::HOME_REGISTER_HINT)) }
                }
                li.card {
                    h2 { a href="/my" { (page.t(texts::HOME_MY)) } }
                    p { (page.t(texts::HOME_MY_HINT)) }
                }
                li.card {
                    h2 { a href="/queue" { (page.t(texts::HOME_PUBLIC)) } }
                    p { (page.t(texts::HOME_PUBLIC_HINT)) }
                }
                li.card {
                    h2 { a href="/statistics" { (page.t(texts::HOME_STATISTICS)) } }
                    p { (page.t(texts::HOME_STATISTICS_HINT)) }
                }
            }
        },
    )
}

/// The district the query names, or the first one.
fn chosen_district(catalog: &Catalog, asked: Option<&str>) -> Option<DistrictId> {
    asked
        .and_then(|text| ids::parse_district(catalog, text))
        .or_else(|| catalog.districts.keys().next().copied())
}

/// A select of the districts, the chosen one selected.
pub fn district_select(catalog: &Catalog, lang: PageLang, chosen: Option<DistrictId>) -> Markup {
    districts(catalog, lang, chosen, None)
}

/// The districts, led by an option for all of them (value empty), chosen when `chosen` is
/// `None`: the public statistics' filter.
pub fn district_select_or_all(
    catalog: &Catalog,
    lang: PageLang,
    chosen: Option<DistrictId>,
    all: &str,
) -> Markup {
    districts(catalog, lang, chosen, Some(all))
}

fn districts(
    catalog: &Catalog,
    lang: PageLang,
    chosen: Option<DistrictId>,
    all: Option<&str>,
) -> Markup {
    html! {
        select id="district" name="district" {
            @if let Some(all) = all {
                option value="" selected[chosen.is_none()] { (all) }
            }
            @for district in catalog.districts.values() {
                option value=(district.code) selected[Some(district.id) == chosen] {
                    (lang.pick(&district.names)) " (" (district.code) ")"
                }
            }
        }
    }
}

pub fn kindergarten_name(catalog: &Catalog, lang: PageLang, id: u32) -> String {
    catalog
        .kindergartens
        .get(&KindergartenId(id))
        .map_or_else(|| format!("#{id}"), |k| lang.pick(&k.names).to_string())
}

async fn queue(State(app): State<AppState>, page: Page) -> Response {
    let (catalog, district) = {
        let state = app.service.read();
        let district = chosen_district(&state.catalog, page.query("district"));
        (state.catalog.clone(), district)
    };
    let Some(district) = district else {
        return page.ok(
            page.t(texts::QUEUE_TITLE),
            html! { h1 { (page.t(texts::QUEUE_TITLE)) } },
        );
    };
    let params = QueueParams {
        cohort: page.query("cohort").and_then(|c| c.parse().ok()),
        kindergarten: page
            .query("kindergarten")
            .filter(|k| !k.is_empty())
            .and_then(|k| k.parse().ok()),
        offset: page.query("offset").and_then(|o| o.parse().ok()),
        limit: Some(QUEUE_PAGE_SIZE),
    };
    let code = ids::district_code(&catalog, district);
    let body = match queue_page(&app, page.lang.api(), &code, &params) {
        Ok(body) => body,
        Err(error) => return page.api_error(error),
    };
    let lang = page.lang;
    let link = |offset: usize| {
        let mut query = vec![("district", code.clone())];
        if let Some(cohort) = body.cohort {
            query.push(("cohort", cohort.to_string()));
        }
        if let Some(k) = body.kindergarten {
            query.push(("kindergarten", k.to_string()));
        }
        query.push(("offset", offset.to_string()));
        format!(
            "/queue?{}",
            serde_urlencoded::to_string(&query).unwrap_or_default()
        )
    };
    let first = body.offset + 1;
    let last = body.offset + body.entries.len();
    page.ok(
        page.t(texts::QUEUE_TITLE),
        html! {
            h1 { (page.t(texts::QUEUE_TITLE)) }
            p { (page.t(texts::QUEUE_INTRO)) }
            form.filters method="get" action="/queue" aria-label=(page.t(texts::FILTER)) {
                div.field {
                    label for="district" { (page.t(texts::FIELD_DISTRICT)) }
                    (district_select(&catalog, lang, Some(district)))
                }
                div.field {
                    label for="cohort" { (page.t(texts::COHORT)) }
                    select id="cohort" name="cohort" {
                        @for cohort in &body.cohorts {
                            option value=(cohort.cohort) selected[Some(cohort.cohort) == body.cohort] {
                                (cohort.cohort) " — " (cohort.waiting) " " (page.t(texts::WAITING))
                            }
                        }
                    }
                }
                div.field {
                    label for="kindergarten" { (page.t(texts::KINDERGARTEN)) }
                    select id="kindergarten" name="kindergarten" aria-describedby="kindergarten-hint" {
                        option value="" { (page.t(texts::ALL_KINDERGARTENS)) }
                        @for k in catalog.kindergartens.values().filter(|k| k.district == district) {
                            option value=(k.id.0) selected[body.kindergarten == Some(k.id.0)] {
                                (lang.pick(&k.names))
                            }
                        }
                    }
                }
                div.field { button type="submit" { (page.t(texts::SHOW)) } }
            }
            p.hint id="kindergarten-hint" { (page.t(texts::KINDERGARTEN_FILTER_HINT)) }
            @if body.entries.is_empty() {
                p.notice { (page.t(texts::QUEUE_EMPTY)) }
            } @else {
                p { (page.t(texts::SHOWING)) " " (first) "–" (last) " " (page.t(texts::POSITION_OF)) " " (body.total) }
                div.table-wrap {
                    table {
                        caption.hint { (lang.pick(&catalog.districts[&district].names)) ", " (page.t(texts::COHORT)) " " (body.cohort.unwrap_or_default()) }
                        thead { tr {
                            th.num scope="col" { (page.t(texts::POSITION)) }
                            th scope="col" { (page.t(texts::NUMBER)) }
                            th scope="col" { (page.t(texts::TIER)) }
                            th scope="col" { (page.t(texts::REGISTERED_AT)) }
                            th scope="col" { (page.t(texts::STOP_LIST)) }
                        } }
                        tbody {
                            @for entry in &body.entries {
                                tr {
                                    td.num { (entry.position) }
                                    td.nowrap { (entry.number) }
                                    td { (texts::tier(lang, &entry.tier)) }
                                    td { (texts::local_time(entry.registered_at)) }
                                    td { @if entry.on_stop_list { (page.t(texts::YES)) } }
                                }
                            }
                        }
                    }
                }
            }
            nav.pager aria-label=(page.t(texts::PAGING)) {
                @if body.offset > 0 {
                    a href=(link(body.offset.saturating_sub(QUEUE_PAGE_SIZE))) rel="prev" { "← " (page.t(texts::PREVIOUS)) }
                }
                @if last < body.total {
                    a href=(link(last)) rel="next" { (page.t(texts::NEXT)) " →" }
                }
            }
        },
    )
}

async fn protocol(State(app): State<AppState>, page: Page) -> Response {
    let (catalog, district) = {
        let state = app.service.read();
        let district = chosen_district(&state.catalog, page.query("district"));
        (state.catalog.clone(), district)
    };
    let Some(district) = district else {
        return page.ok(
            page.t(texts::PROTOCOL_TITLE),
            html! { h1 { (page.t(texts::PROTOCOL_TITLE)) } },
        );
    };
    let code = ids::district_code(&catalog, district);
    let params = ProtocolParams {
        from: None,
        to: None,
    };
    let body = match protocol_of(&app, page.lang.api(), &code, &params).await {
        Ok(body) => body,
        Err(error) => return page.api_error(error),
    };
    let lang = page.lang;
    page.ok(
        page.t(texts::PROTOCOL_TITLE),
        html! {
            h1 { (page.t(texts::PROTOCOL_TITLE)) }
            p { (page.t(texts::PROTOCOL_INTRO)) }
            form.filters method="get" action="/protocol" aria-label=(page.t(texts::FILTER)) {
                div.field {
                    label for="district" { (page.t(texts::FIELD_DISTRICT)) }
                    (district_select(&catalog, lang, Some(district)))
                }
                div.field { button type="submit" { (page.t(texts::SHOW)) } }
            }
            h2 { (page.t(texts::PLACES_REPORTED)) }
            @if body.places.is_empty() {
                p { (page.t(texts::NONE_IN_PERIOD)) }
            } @else {
                div.table-wrap { table {
                    (page.column_heads(&[texts::REPORTED_AT, texts::KINDERGARTEN, texts::BORN, texts::LANGUAGE, texts::AVAILABLE_FROM]))
                    tbody {
                        @for place in &body.places {
                            tr {
                                td { (texts::local_time(place.reported_at)) }
                                td { (kindergarten_name(&catalog, lang, place.kindergarten)) }
                                td { (texts::date(place.born_from)) " – " (texts::date(place.born_to)) }
                                td { (language_name(lang, &place.language)) }
                                td { (texts::date(place.available_from)) }
                            }
                        }
                    }
                } }
            }
            h2 { (page.t(texts::REFERRALS_ISSUED)) }
            @if body.referrals.is_empty() {
                p { (page.t(texts::NONE_IN_PERIOD)) }
            } @else {
                div.table-wrap { table {
                    (page.column_heads(&[texts::ISSUED_AT, texts::REFERRAL_NUMBER, texts::APPLICATION, texts::KINDERGARTEN, texts::STATUS]))
                    tbody {
                        @for referral in &body.referrals {
                            tr {
                                td { (texts::local_time(referral.issued_at)) }
                                td { (referral.number) }
                                td { (referral.application) }
                                td { (kindergarten_name(&catalog, lang, referral.kindergarten)) }
                                td { (texts::referral_status(lang, &referral.status)) }
                            }
                        }
                    }
                } }
            }
            @if body.truncated { p.notice { (page.t(texts::TRUNCATED)) } }
        },
    )
}

pub fn language_name(lang: PageLang, code: &str) -> &'static str {
    match code {
        "kk" => lang.t(texts::LANG_KK),
        "ru" => lang.t(texts::LANG_RU),
        _ => lang.t(texts::ANY_LANGUAGE),
    }
}
