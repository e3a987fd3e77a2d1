//! What-if for administrators (issue 18, §4): a form choosing a city's size, the seed and the
//! policies to compare, and the table `kezek simulate --compare` prints for them, each
//! figure named and explained. The comparison is the API's (`http::what_if::what_if_view`,
//! the command line's own code on temporary databases); no JavaScript.

use super::{administrator, back, not_this_role, notice, texts, FormState};
use crate::http::pages::{text_field, FieldAttrs, Fields, Page};
use crate::http::what_if::{what_if_view, WhatIfRequest, WhatIfView};
use crate::http::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};

/// The policies the form offers, by the keys `SimPolicy::keyed` gives them.
const POLICIES: [(&str, texts::T); 5] = [
    ("place_by_place", texts::WHAT_IF_PLACE_BY_PLACE),
    ("round", texts::WHAT_IF_ROUND),
    ("round_1_3_off", texts::WHAT_IF_ROUND_1_3_OFF),
    ("round_1_3_on", texts::WHAT_IF_ROUND_1_3_ON),
    ("round_together_off", texts::WHAT_IF_ROUND_TOGETHER_OFF),
];

/// Each figure's name on the page, by the key `simulate::compare::rows` gives it.
const ROWS: [(&str, texts::T); 14] = [
    ("placed", texts::WHAT_IF_ROW_PLACED),
    ("first_choice", texts::WHAT_IF_ROW_FIRST_CHOICE),
    ("mean_rank", texts::WHAT_IF_ROW_MEAN_RANK),
    ("wait_out_of_turn", texts::WHAT_IF_ROW_WAIT_OUT_OF_TURN),
    ("wait_first", texts::WHAT_IF_ROW_WAIT_FIRST),
    ("wait_general", texts::WHAT_IF_ROW_WAIT_GENERAL),
    ("unfilled", texts::WHAT_IF_ROW_UNFILLED),
    ("envy_round", texts::WHAT_IF_ROW_ENVY_ROUND),
    ("pairs_round", texts::WHAT_IF_ROW_PAIRS_ROUND),
    ("envy_first", texts::WHAT_IF_ROW_ENVY_FIRST),
    ("pairs_first", texts::WHAT_IF_ROW_PAIRS_FIRST),
    ("envy_all", texts::WHAT_IF_ROW_ENVY_ALL),
    ("queue_envy", texts::WHAT_IF_ROW_QUEUE_ENVY),
    ("all_clear", texts::WHAT_IF_ROW_ALL_CLEAR),
];

/// What the figures mean, for the list under the table.
const MEANINGS: [(texts::T, texts::T); 8] = [
    (texts::WHAT_IF_ROW_PLACED, texts::WHAT_IF_MEANS_PLACED),
    (
        texts::WHAT_IF_ROW_FIRST_CHOICE,
        texts::WHAT_IF_MEANS_FIRST_CHOICE,
    ),
    (texts::WHAT_IF_ROW_MEAN_RANK, texts::WHAT_IF_MEANS_MEAN_RANK),
    (texts::WHAT_IF_ROW_WAIT_GENERAL, texts::WHAT_IF_MEANS_WAIT),
    (texts::WHAT_IF_ROW_UNFILLED, texts::WHAT_IF_MEANS_UNFILLED),
    (
        texts::WHAT_IF_ROW_ENVY_ROUND,
        texts::WHAT_IF_MEANS_ENVY_ROUND,
    ),
    (
        texts::WHAT_IF_ROW_ENVY_FIRST,
        texts::WHAT_IF_MEANS_ENVY_FIRST,
    ),
    (texts::WHAT_IF_ROW_ENVY_ALL, texts::WHAT_IF_MEANS_ENVY_ALL),
];

const FIELDS: &[&str] = &["registrations", "kindergartens", "seed"];

pub(super) async fn form(State(_app): State<AppState>, page: Page) -> Response {
    if administrator(&page).is_none() {
        return not_this_role(&page);
    }
    let keys: Vec<&str> = POLICIES.iter().map(|(key, _)| *key).collect();
    what_if_page(&page, StatusCode::OK, &FormState::default(), &keys, None)
}

/// Runs the comparison the form asks for and shows it under the form.
pub(super) async fn run(State(_app): State<AppState>, page: Page, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    if administrator(&page).is_none() || !page.csrf_ok(&fields, true) {
        return page.form_expired();
    }
    let mut form = FormState::typed(&fields, FIELDS);
    let chosen: Vec<&str> = fields.all("policies").collect();
    let number = |name: &str| fields.get(name).trim().parse::<u64>().ok();
    let (registrations, kindergartens, seed) = (
        number("registrations"),
        number("kindergartens"),
        number("seed"),
    );
    for (name, value) in FIELDS.iter().zip([registrations, kindergartens, seed]) {
        if value.is_none() {
            form.invalid(&page, name);
        }
    }
    let (Some(registrations), Some(kindergartens), Some(seed)) =
        (registrations, kindergartens, seed)
    else {
        return what_if_page(
            &page,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form,
            &chosen,
            None,
        );
    };
    let request = WhatIfRequest {
        registrations: usize::try_from(registrations).unwrap_or(usize::MAX),
        kindergartens: usize::try_from(kindergartens).unwrap_or(usize::MAX),
        seed,
        policies: chosen.iter().map(|k| k.to_string()).collect(),
    };
    match what_if_view(request, page.lang.api()).await {
        Ok(view) => what_if_page(&page, StatusCode::OK, &form, &chosen, Some(&view)),
        Err(error) => {
            let message = error.kind.message(page.lang.api());
            match error.detail.as_deref() {
                Some(field) => {
                    form.errors.insert(field.to_string(), message);
                }
                None => form.notice = Some(super::Notice::Refused(message)),
            }
            what_if_page(&page, error.kind.status, &form, &chosen, None)
        }
    }
}

fn what_if_page(
    page: &Page,
    status: StatusCode,
    form: &FormState,
    chosen: &[&str],
    view: Option<&WhatIfView>,
) -> Response {
    let field = |name: &str, label: texts::T, default: &str| {
        text_field(
            name,
            page.t(label),
            None,
            form.value(name, default),
            form.errors.get(name).copied(),
            FieldAttrs::TEXT.kind("number").numeric(),
        )
    };
    let policies_error = form.errors.get("policies").copied();
    page.render(
        status,
        page.t(texts::WHAT_IF_TITLE),
        html! {
            h1 { (page.t(texts::WHAT_IF_TITLE)) }
            (back(page))
            (notice(page, form))
            p.hint { (page.t(texts::WHAT_IF_INTRO)) }
            form method="post" action="/staff/admin/what-if" {
                (page.form_guard(true))
                (field("registrations", texts::WHAT_IF_REGISTRATIONS, "2000"))
                (field("kindergartens", texts::WHAT_IF_KINDERGARTENS, "25"))
                (field("seed", texts::WHAT_IF_SEED, "42"))
                fieldset.field.invalid[policies_error.is_some()] aria-describedby=[policies_error.map(|_| "policies-error")] {
                    legend { (page.t(texts::WHAT_IF_POLICIES)) }
                    @if let Some(error) = policies_error { p.error-message id="policies-error" { (error) } }
                    div.checks #policies tabindex="-1" {
                        @for (key, label) in POLICIES {
                            div.check {
                                input type="checkbox" id=(format!("policy-{key}")) name="policies" value=(key) checked[chosen.contains(&key)];
                                label for=(format!("policy-{key}")) { (page.t(label)) }
                            }
                        }
                    }
                }
                button type="submit" { (page.t(texts::WHAT_IF_RUN)) }
            }
            @if let Some(view) = view { (result(page, view)) }
        },
    )
}

fn result(page: &Page, view: &WhatIfView) -> Markup {
    let row_name = |key: &str| {
        ROWS.iter()
            .find(|(k, _)| *k == key)
            .map_or(key.to_string(), |(_, text)| page.t(*text).to_string())
    };
    html! {
        h2 { (page.t(texts::WHAT_IF_RESULT)) }
        p { "seed " (view.seed) ", " (view.registrations) " / " (view.kindergartens) }
        div.table-wrap { table data-testid="what-if" {
            thead { tr {
                th scope="col" { (page.t(texts::WHAT_IF_FIGURE)) }
                @for key in &view.policies {
                    th scope="col" { (POLICIES.iter().find(|(k, _)| k == key).map_or(key.as_str(), |(_, t)| page.t(*t))) }
                }
            } }
            tbody {
                @for row in &view.rows {
                    tr data-key=(row.key) {
                        th scope="row" { (row_name(&row.key)) }
                        @for cell in &row.cells { td { (cell) } }
                    }
                }
            }
        } }
        h2 { (page.t(texts::WHAT_IF_MEANINGS)) }
        dl {
            @for (name, meaning) in MEANINGS {
                dt { (page.t(name)) }
                dd { (page.t(meaning)) }
            }
            dt { (page.t(texts::WHAT_IF_ROW_PAIRS_FIRST)) }
            dd { (page.t(texts::WHAT_IF_MEANS_PAIRS)) }
            dt { (page.t(texts::WHAT_IF_ROW_QUEUE_ENVY)) }
            dd { (page.t(texts::WHAT_IF_MEANS_QUEUE_ENVY)) }
            dt { (page.t(texts::WHAT_IF_ROW_ALL_CLEAR)) }
            dd { (page.t(texts::WHAT_IF_MEANS_ALL_CLEAR)) }
        }
    }
}
