//! The staff access log for administrators: the API's `access_log_of`, filtered by account
//! and by application (a GET form: account names and application numbers are no personal
//! data), a page at a time.

use super::texts;
use crate::domain::staff::Role;
use crate::http::access_log::{access_log_of, AccessLogParams};
use crate::http::auth::Caller;
use crate::http::pages::{see_other, FieldAttrs, Page};
use crate::http::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

/// Entries on one page.
const PAGE: u32 = 100;

pub(super) async fn access_log(State(app): State<AppState>, page: Page) -> Response {
    let Some(staff) = &page.staff else {
        return see_other("/staff");
    };
    if staff.account.role != Role::Admin {
        return page.message(
            StatusCode::FORBIDDEN,
            page.t(texts::NAV_STAFF),
            page.t(texts::NOT_THIS_ROLE),
        );
    }
    let filter = |name: &str| {
        page.query(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(String::from)
    };
    let params = AccessLogParams {
        account: filter("account"),
        application: filter("application"),
        after: page.query("after").and_then(|a| a.parse().ok()),
        limit: Some(PAGE),
    };
    let caller = Caller::Staff(staff.account.clone());
    let (status, log, error) = match access_log_of(&app, &caller, page.lang.api(), &params).await {
        Ok(log) => (StatusCode::OK, Some(log), None),
        Err(error) if error.kind.status == StatusCode::BAD_REQUEST => (
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(crate::http::error::NOT_FOUND.message(page.lang.api())),
        ),
        Err(error) => return page.api_error(error),
    };
    let next = log.as_ref().and_then(|l| l.next_after).map(|after| {
        let query = [
            ("account", params.account.clone().unwrap_or_default()),
            (
                "application",
                params.application.clone().unwrap_or_default(),
            ),
            ("after", after.to_string()),
        ];
        format!(
            "/staff/access-log?{}",
            serde_urlencoded::to_string(query).unwrap_or_default()
        )
    });
    page.render(
        status,
        page.t(texts::ACCESS_LOG_TITLE),
        html! {
            h1 { (page.t(texts::ACCESS_LOG_TITLE)) }
            p { (page.t(texts::ACCESS_LOG_INTRO)) }
            form.filters method="get" action="/staff/access-log" {
                (crate::http::pages::text_field("account", page.t(texts::FIELD_ACCOUNT), None,
                    params.account.as_deref().unwrap_or(""), None, FieldAttrs::TEXT.optional().autocomplete("off")))
                (crate::http::pages::text_field("application", page.t(texts::FIELD_APPLICATION), None,
                    params.application.as_deref().unwrap_or(""), error, FieldAttrs::TEXT.optional().autocomplete("off")))
                div.field { button type="submit" { (page.t(texts::SHOW)) } }
            }
            @if let Some(log) = &log {
                @if log.entries.is_empty() {
                    p.notice role="status" { (page.t(texts::ACCESS_LOG_EMPTY)) }
                } @else {
                    div.table-wrap { table #access-log {
                        (page.column_heads(&[texts::ENTRY, texts::WHEN, texts::WHO, texts::WHAT, texts::NUMBER]))
                        tbody {
                            @for entry in &log.entries {
                                tr {
                                    td { (entry.seq) }
                                    td.nowrap { (texts::local_time(entry.at)) }
                                    td { (entry.account) }
                                    td { (texts::view_kind(page.lang, &entry.kind)) }
                                    td.nowrap { (entry.application.as_deref().unwrap_or("—")) }
                                }
                            }
                        }
                    } }
                }
                @if let Some(next) = &next {
                    p { a href=(next) { (page.t(texts::MORE)) " →" } }
                }
            }
        },
    )
}
