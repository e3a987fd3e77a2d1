//! The administrator's pages: kindergartens and their groups (create, edit, close), priority
//! categories (create, change, retire) and staff accounts (create with the token shown once,
//! change role and scope, revoke). Every view renders the catalog or account list the API
//! answers, every form sends the command the API sends; a refused form shows each field's
//! error beside it, from the API's error table, keeps what was typed and stores nothing.
//! `access_log.rs`: who looked at what (issue 15, item 5). `import.rs`: an existing queue
//! brought in (issue 16). `what_if.rs`: policies compared on a synthetic city (issue 18).

use super::{see_other, FieldAttrs, Fields, Page};
use crate::domain::catalog::{
    AgeBand, Catalog, GroupId, KindergartenId, Language, Names, PriorityCategory, Tier,
};
use crate::domain::staff::{Role, Scope, StaffAccount};
use crate::http::auth::Caller;
use crate::http::error;
use crate::http::AppState;
use crate::service::{Command, CommandError, NewGroup, NewKindergarten, Outcome};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use std::collections::BTreeMap;

mod access_log;
mod erasure;
mod import;
mod intake;
mod texts;
mod what_if;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/access-log", get(access_log::access_log))
        .route(
            "/staff/admin/kindergartens",
            get(kindergartens).post(create_kindergarten),
        )
        .route(
            "/staff/admin/kindergartens/{id}",
            get(kindergarten).post(edit_kindergarten),
        )
        .route("/staff/admin/kindergartens/{id}/groups", post(create_group))
        .route("/staff/admin/groups/{id}", get(group).post(edit_group))
        .route("/staff/admin/groups/{id}/close", post(close_group))
        .route(
            "/staff/admin/categories",
            get(categories).post(create_category),
        )
        .route(
            "/staff/admin/categories/{code}",
            get(category).post(edit_category),
        )
        .route(
            "/staff/admin/categories/{code}/retire",
            post(retire_category),
        )
        .route("/staff/admin/accounts", get(accounts).post(create_account))
        .route(
            "/staff/admin/accounts/{name}",
            get(account).post(change_account),
        )
        .route("/staff/admin/accounts/{name}/revoke", post(revoke_account))
        .route(
            "/staff/admin/policies/{district}",
            get(policy).post(set_policy),
        )
        .route(
            "/staff/admin/policies/{district}/education-head",
            post(set_education_head),
        )
        .route("/staff/admin/calendar", get(calendar).post(apply_calendar))
        .route(
            "/staff/admin/import",
            get(import::import_form).post(import::run_import).layer(
                axum::extract::DefaultBodyLimit::max(import::IMPORT_FILE_BYTES_MAX + 64 * 1024),
            ),
        )
        .route("/staff/admin/calendar/preview", post(preview_calendar))
        .route(
            "/staff/admin/rounds",
            get(intake::rounds).post(intake::open),
        )
        .route("/staff/admin/rounds/{round}", get(intake::round))
        .route("/staff/admin/rounds/{round}/close", post(intake::close))
        .route(
            "/staff/admin/what-if",
            get(what_if::form).post(what_if::run),
        )
        .route(
            "/staff/admin/erasure",
            get(erasure::form).post(erasure::erase),
        )
}

/// What a form typed and what was wrong with it, field by field; `notice` is a message for
/// the whole form (a refusal that belongs to no one field), or a success.
#[derive(Default)]
struct FormState {
    values: BTreeMap<String, String>,
    errors: BTreeMap<String, &'static str>,
    notice: Option<Notice>,
}

enum Notice {
    Done(String),
    Refused(&'static str),
    Token(String),
}

impl FormState {
    fn typed(fields: &Fields, names: &[&str]) -> FormState {
        let values = names
            .iter()
            .map(|n| (n.to_string(), fields.get(n).to_string()))
            .collect();
        FormState {
            values,
            ..FormState::default()
        }
    }

    fn value<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        self.values.get(name).map_or(default, String::as_str)
    }

    fn invalid(&mut self, page: &Page, name: &str) {
        self.errors
            .insert(name.to_string(), error::INVALID.message(page.lang.api()));
    }

    fn done(page: &Page, text: texts::T) -> FormState {
        FormState {
            notice: Some(Notice::Done(page.t(text).to_string())),
            ..FormState::default()
        }
    }

    /// A refused command: an invalid field beside the field it names, anything else above.
    fn refused(mut self, page: &Page, error: CommandError) -> (StatusCode, FormState) {
        let field = match &error {
            CommandError::Invalid(why) if why.starts_with("names in") => Some("name_kk"),
            CommandError::Invalid(why) => self
                .values
                .contains_key(why.as_str())
                .then_some(why.as_str()),
            _ => None,
        }
        .map(str::to_string);
        let (status, message) = page.command_error(error);
        match field {
            Some(field) => {
                self.errors.insert(field, message);
            }
            None => self.notice = Some(Notice::Refused(message)),
        }
        (status, self)
    }
}

/// The administrator signed in, as the caller of its commands.
fn administrator(page: &Page) -> Option<Caller> {
    let staff = page.staff.as_ref()?;
    (staff.account.role == Role::Admin).then(|| Caller::Staff(staff.account.clone()))
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

fn field(
    page: &Page,
    form: &FormState,
    name: &str,
    label: texts::T,
    value: &str,
    attrs: FieldAttrs,
) -> Markup {
    super::text_field(
        name,
        page.t(label),
        None,
        form.value(name, value),
        form.errors.get(name).copied(),
        attrs,
    )
}

fn select(
    page: &Page,
    form: &FormState,
    name: &str,
    label: texts::T,
    options: &[(String, String)],
    chosen: &str,
) -> Markup {
    let chosen = form.value(name, chosen);
    let error = form.errors.get(name).copied();
    let error_id = format!("{name}-error");
    html! {
        div.field.invalid[error.is_some()] {
            label for=(name) { (page.t(label)) }
            @if let Some(error) = error { p.error-message id=(error_id) { (error) } }
            select id=(name) name=(name) aria-describedby=[error.map(|_| error_id.as_str())] aria-invalid=[error.map(|_| "true")] {
                @for (value, text) in options {
                    option value=(value) selected[value == chosen] { (text) }
                }
            }
        }
    }
}

fn notice(page: &Page, form: &FormState) -> Markup {
    html! {
        @match &form.notice {
            Some(Notice::Done(text)) => p.notice.ok role="status" { (text) },
            Some(Notice::Refused(text)) => p.notice.error role="alert" { (text) },
            Some(Notice::Token(token)) => div.notice.ok role="status" {
                p { (page.t(texts::DONE_CREATED)) " " (page.t(texts::TOKEN_SHOWN_ONCE)) }
                p { code data-testid="token" { (token) } }
            },
            None => {},
        }
        @if !form.errors.is_empty() && form.notice.is_none() {
            p.notice.error role="alert" { (error::INVALID.message(page.lang.api())) }
        }
    }
}

fn back(page: &Page) -> Markup {
    html! { p { a href="/staff" { (page.t(texts::BACK_TO_ADMIN)) } } }
}

fn languages(page: &Page) -> Vec<(String, String)> {
    ["kk", "ru"]
        .iter()
        .map(|c| {
            (
                c.to_string(),
                super::public::language_name(page.lang, c).to_string(),
            )
        })
        .collect()
}

/// The administrator's desk, where `/staff` opens for an administrator.
pub(super) async fn desk(app: &AppState, page: &Page) -> Response {
    page.ok(
        page.t(texts::ADMIN_TITLE),
        html! {
            h1 { (page.t(texts::ADMIN_TITLE)) }
            p { (page.t(texts::ADMIN_INTRO)) }
            ul.links {
                li { a href="/staff/admin/kindergartens" { (page.t(texts::KINDERGARTENS_TITLE)) } }
                li { a href="/staff/admin/categories" { (page.t(texts::CATEGORIES_TITLE)) } }
                li { a href="/staff/admin/accounts" { (page.t(texts::ACCOUNTS_TITLE)) } }
                li { a href="/staff/admin/calendar" { (page.t(texts::CALENDAR_TITLE)) } }
                li { a href="/staff/admin/import" { (page.t(texts::IMPORT_TITLE)) } }
                li { a href="/staff/admin/erasure" { (page.t(texts::ERASURE_TITLE)) } }
                li { a href="/staff/admin/rounds" { (page.t(texts::ROUNDS_TITLE)) } }
                li { a href="/staff/admin/what-if" { (page.t(texts::WHAT_IF_TITLE)) } }
                li { a href="/staff/reports" { (page.t(texts::NAV_REPORTS)) } }
            }
            h2 { (page.t(texts::POLICIES_TITLE)) }
            ul.links {
                @for d in app.service.read().catalog.districts.values() {
                    li { a href=(format!("/staff/admin/policies/{}", d.code)) { (page.lang.pick(&d.names)) } }
                }
            }
        },
    )
}

// ----- kindergartens -------------------------------------------------------------------

async fn kindergartens(State(app): State<AppState>, page: Page) -> Response {
    if administrator(&page).is_none() {
        return not_this_role(&page);
    }
    kindergartens_page(&app, &page, StatusCode::OK, FormState::default())
}

fn kindergartens_page(
    app: &AppState,
    page: &Page,
    status: StatusCode,
    form: FormState,
) -> Response {
    let catalog = app.service.read().catalog.clone();
    let lang = page.lang;
    let districts: Vec<(String, String)> = catalog
        .districts
        .values()
        .map(|d| (d.code.clone(), lang.pick(&d.names).to_string()))
        .collect();
    let first = districts.first().map(|d| d.0.clone()).unwrap_or_default();
    // The list is one district's at a time: a city has hundreds of kindergartens.
    let shown = page
        .query("show")
        .filter(|code| districts.iter().any(|d| d.0 == *code))
        .map_or(first.clone(), str::to_string);
    let shown_id = crate::domain::numbers::parse_district(&catalog, &shown);
    page.render(
        status,
        page.t(texts::KINDERGARTENS_TITLE),
        html! {
            h1 { (page.t(texts::KINDERGARTENS_TITLE)) }
            (back(page))
            (notice(page, &form))
            h2 { (page.t(texts::NEW_KINDERGARTEN)) }
            form method="post" action="/staff/admin/kindergartens" {
                (page.form_guard(true))
                (select(page, &form, "district", texts::FIELD_DISTRICT, &districts, &first))
                (field(page, &form, "number", texts::FIELD_NUMBER, "", FieldAttrs::TEXT))
                (field(page, &form, "name_kk", texts::FIELD_NAME_KK, "", FieldAttrs::TEXT))
                (field(page, &form, "name_ru", texts::FIELD_NAME_RU, "", FieldAttrs::TEXT))
                (field(page, &form, "address", texts::FIELD_ADDRESS, "", FieldAttrs::TEXT))
                (field(page, &form, "head", texts::FIELD_HEAD, "", FieldAttrs::TEXT.optional()))
                button type="submit" { (page.t(texts::CREATE)) }
            }
            h2 { (page.t(texts::KINDERGARTENS_OF_DISTRICT)) }
            form.inline-form method="get" action="/staff/admin/kindergartens" {
                div.field {
                    label for="show" { (page.t(texts::FIELD_DISTRICT)) }
                    select id="show" name="show" {
                        @for (code, name) in &districts {
                            option value=(code) selected[*code == shown] { (name) }
                        }
                    }
                }
                button type="submit" { (page.t(texts::SHOW)) }
            }
            div.table-wrap { table data-testid="kindergartens" {
                (page.column_heads(&[texts::FIELD_NUMBER, texts::NAME, texts::FIELD_DISTRICT, texts::FIELD_ADDRESS, texts::FIELD_HEAD, texts::GROUPS, texts::ACTIONS]))
                tbody {
                    @for k in catalog.kindergartens.values().filter(|k| Some(k.district) == shown_id) {
                        tr {
                            td { (k.number) }
                            td { (lang.pick(&k.names)) }
                            td { (catalog.districts.get(&k.district).map_or("", |d| lang.pick(&d.names))) }
                            td { (k.address) }
                            td { (k.head.as_deref().unwrap_or("—")) }
                            td { (catalog.groups.values().filter(|g| g.kindergarten == k.id).count()) }
                            td { a href=(format!("/staff/admin/kindergartens/{}", k.id.0)) aria-label=(format!("{}: {}", page.t(texts::EDIT), lang.pick(&k.names))) { (page.t(texts::EDIT)) } }
                        }
                    }
                }
            } }
        },
    )
}

const KINDERGARTEN_FIELDS: &[&str] = &[
    "district", "number", "name_kk", "name_ru", "address", "head",
];

fn names_of(fields: &Fields) -> Names {
    Names {
        kk: fields.get("name_kk").trim().to_string(),
        ru: fields.get("name_ru").trim().to_string(),
    }
}

async fn create_kindergarten(State(app): State<AppState>, page: Page, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let Some(caller) = administrator(&page).filter(|_| page.csrf_ok(&fields, true)) else {
        return page.form_expired();
    };
    let mut form = FormState::typed(&fields, KINDERGARTEN_FIELDS);
    let district =
        crate::domain::numbers::parse_district(&app.service.read().catalog, fields.get("district"));
    if district.is_none() {
        form.invalid(&page, "district");
    }
    for name in ["number", "name_kk", "name_ru", "address"] {
        if fields.get(name).trim().is_empty() {
            form.invalid(&page, name);
        }
    }
    let Some(district) = district.filter(|_| form.errors.is_empty()) else {
        return kindergartens_page(&app, &page, StatusCode::UNPROCESSABLE_ENTITY, form);
    };
    let command = Command::CreateKindergarten(NewKindergarten {
        district,
        number: fields.get("number").trim().to_string(),
        names: names_of(&fields),
        address: fields.get("address").trim().to_string(),
        head: Some(fields.get("head").to_string()),
    });
    match page.submit(&app, &caller, &fields, command).await {
        Ok(Outcome::KindergartenCreated(id)) => {
            see_other(&format!("/staff/admin/kindergartens/{}?done=created", id.0))
        }
        Ok(_) => unreachable!("a kindergarten's creation answers its id"),
        Err(error) => {
            let (status, form) = form.refused(&page, error);
            kindergartens_page(&app, &page, status, form)
        }
    }
}

async fn kindergarten(State(app): State<AppState>, page: Page, Path(id): Path<u32>) -> Response {
    if administrator(&page).is_none() {
        return not_this_role(&page);
    }
    let form = match page.query("done") {
        Some(_) => FormState::done(&page, texts::DONE_SAVED),
        None => FormState::default(),
    };
    kindergarten_page(
        &app,
        &page,
        KindergartenId(id),
        StatusCode::OK,
        form,
        FormState::default(),
    )
}

/// A kindergarten's edit form, its groups, and the form adding one; `form` is the edit
/// form's state, `group_form` the new group's.
fn kindergarten_page(
    app: &AppState,
    page: &Page,
    id: KindergartenId,
    status: StatusCode,
    form: FormState,
    group_form: FormState,
) -> Response {
    let catalog = app.service.read().catalog.clone();
    let Some(k) = catalog.kindergartens.get(&id) else {
        return page.api_error(crate::http::error::ApiError::new(
            error::NOT_FOUND,
            page.lang.api(),
        ));
    };
    let lang = page.lang;
    page.render(
        status,
        page.t(texts::KINDERGARTENS_TITLE),
        html! {
            h1 { (k.number) " — " (lang.pick(&k.names)) }
            p { a href="/staff/admin/kindergartens" { (page.t(texts::KINDERGARTENS_TITLE)) } }
            (notice(page, &form))
            form method="post" action=(format!("/staff/admin/kindergartens/{}", id.0)) {
                (page.form_guard(true))
                (field(page, &form, "name_kk", texts::FIELD_NAME_KK, &k.names.kk, FieldAttrs::TEXT))
                (field(page, &form, "name_ru", texts::FIELD_NAME_RU, &k.names.ru, FieldAttrs::TEXT))
                (field(page, &form, "address", texts::FIELD_ADDRESS, &k.address, FieldAttrs::TEXT))
                (field(page, &form, "head", texts::FIELD_HEAD, k.head.as_deref().unwrap_or(""), FieldAttrs::TEXT.optional()))
                button type="submit" { (page.t(texts::SAVE)) }
            }
            h2 { (page.t(texts::GROUPS)) }
            (groups_table(page, &catalog, id))
            h2 { (page.t(texts::NEW_GROUP)) }
            (notice(page, &group_form))
            form method="post" action=(format!("/staff/admin/kindergartens/{}/groups", id.0)) {
                (page.form_guard(true))
                (group_fields(page, &group_form, None))
                button type="submit" { (page.t(texts::CREATE)) }
            }
        },
    )
}

fn groups_table(page: &Page, catalog: &Catalog, id: KindergartenId) -> Markup {
    let groups: Vec<_> = catalog
        .groups
        .values()
        .filter(|g| g.kindergarten == id)
        .collect();
    html! {
        @if groups.is_empty() { p { (page.t(texts::NONE_YET)) } }
        @else {
            div.table-wrap { table data-testid="groups" {
                (page.column_heads(&[texts::NAME, texts::FIELD_LANGUAGE, texts::FIELD_BORN_FROM, texts::FIELD_BORN_TO, texts::FIELD_CAPACITY, texts::STATUS, texts::ACTIONS]))
                tbody {
                    @for g in groups {
                        tr {
                            td { (g.name) }
                            td { (super::public::language_name(page.lang, g.language.code())) }
                            td { (texts::date(g.age_band.born_from)) }
                            td { (texts::date(g.age_band.born_to)) }
                            td { (g.capacity) }
                            td { (page.t(if g.closed { texts::GROUP_CLOSED_STATUS } else { texts::STATUS_OPEN })) }
                            td { a href=(format!("/staff/admin/groups/{}", g.id.0)) aria-label=(format!("{}: {}", page.t(texts::EDIT), g.name)) { (page.t(texts::EDIT)) } }
                        }
                    }
                }
            } }
        }
    }
}

/// The fields of a group, with `group`'s values when editing one.
fn group_fields(
    page: &Page,
    form: &FormState,
    group: Option<&crate::domain::catalog::Group>,
) -> Markup {
    let date_field = |name: &str, label, value: String| {
        super::text_field(
            name,
            page.t(label),
            Some(page.t(texts::HINT_DATE)),
            form.value(name, &value),
            form.errors.get(name).copied(),
            FieldAttrs::TEXT,
        )
    };
    html! {
        (field(page, form, "name", texts::FIELD_GROUP_NAME, group.map_or("", |g| g.name.as_str()), FieldAttrs::TEXT))
        (select(page, form, "language", texts::FIELD_LANGUAGE, &languages(page), group.map_or("kk", |g| g.language.code())))
        (date_field("born_from", texts::FIELD_BORN_FROM, group.map_or(String::new(), |g| g.age_band.born_from.to_string())))
        (date_field("born_to", texts::FIELD_BORN_TO, group.map_or(String::new(), |g| g.age_band.born_to.to_string())))
        (field(page, form, "capacity", texts::FIELD_CAPACITY, &group.map_or(String::new(), |g| g.capacity.to_string()), FieldAttrs::TEXT.kind("number").numeric()))
    }
}

const GROUP_FIELDS: &[&str] = &["name", "language", "born_from", "born_to", "capacity"];

/// The group's fields, parsed; each one that does not parse is marked in `form`.
fn parse_group(
    page: &Page,
    fields: &Fields,
    form: &mut FormState,
) -> Option<(String, Language, AgeBand, u32)> {
    let date =
        |name: &str| chrono::NaiveDate::parse_from_str(fields.get(name).trim(), "%Y-%m-%d").ok();
    let language = Language::parse(fields.get("language").trim());
    let (from, to) = (date("born_from"), date("born_to"));
    let capacity = fields.get("capacity").trim().parse::<u32>().ok();
    let band = from.zip(to).and_then(|(f, t)| AgeBand::new(f, t));
    if language.is_none() {
        form.invalid(page, "language");
    }
    if from.is_none() {
        form.invalid(page, "born_from");
    }
    if to.is_none() || (from.is_some() && band.is_none()) {
        form.invalid(page, "born_to");
    }
    if capacity.is_none() {
        form.invalid(page, "capacity");
    }
    let name = fields.get("name").trim().to_string();
    Some((name, language?, band?, capacity?))
}

async fn edit_kindergarten(
    State(app): State<AppState>,
    page: Page,
    Path(id): Path<u32>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let Some(caller) = administrator(&page).filter(|_| page.csrf_ok(&fields, true)) else {
        return page.form_expired();
    };
    let id = KindergartenId(id);
    let form = FormState::typed(&fields, KINDERGARTEN_FIELDS);
    let head = Some(fields.get("head").trim().to_string()).filter(|h| !h.is_empty());
    let command = Command::ChangeKindergarten {
        id,
        names: names_of(&fields),
        address: fields.get("address").trim().to_string(),
        head,
    };
    match page.submit(&app, &caller, &fields, command).await {
        Ok(_) => kindergarten_page(
            &app,
            &page,
            id,
            StatusCode::OK,
            FormState::done(&page, texts::DONE_SAVED),
            FormState::default(),
        ),
        Err(error) => {
            let (status, form) = form.refused(&page, error);
            kindergarten_page(&app, &page, id, status, form, FormState::default())
        }
    }
}

async fn create_group(
    State(app): State<AppState>,
    page: Page,
    Path(id): Path<u32>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let Some(caller) = administrator(&page).filter(|_| page.csrf_ok(&fields, true)) else {
        return page.form_expired();
    };
    let id = KindergartenId(id);
    let mut form = FormState::typed(&fields, GROUP_FIELDS);
    let Some((name, language, age_band, capacity)) = parse_group(&page, &fields, &mut form) else {
        return kindergarten_page(
            &app,
            &page,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            FormState::default(),
            form,
        );
    };
    let command = Command::CreateGroup(NewGroup {
        kindergarten: id,
        name,
        language,
        age_band,
        capacity,
    });
    match page.submit(&app, &caller, &fields, command).await {
        Ok(_) => kindergarten_page(
            &app,
            &page,
            id,
            StatusCode::CREATED,
            FormState::default(),
            FormState::done(&page, texts::DONE_CREATED),
        ),
        Err(error) => {
            let (status, form) = form.refused(&page, error);
            kindergarten_page(&app, &page, id, status, FormState::default(), form)
        }
    }
}

async fn group(State(app): State<AppState>, page: Page, Path(id): Path<u32>) -> Response {
    if administrator(&page).is_none() {
        return not_this_role(&page);
    }
    group_page(
        &app,
        &page,
        GroupId(id),
        StatusCode::OK,
        FormState::default(),
    )
}

fn group_page(
    app: &AppState,
    page: &Page,
    id: GroupId,
    status: StatusCode,
    form: FormState,
) -> Response {
    let catalog = app.service.read().catalog.clone();
    let Some(group) = catalog.groups.get(&id) else {
        return page.api_error(crate::http::error::ApiError::new(
            error::NOT_FOUND,
            page.lang.api(),
        ));
    };
    let kindergarten = super::public::kindergarten_name(&catalog, page.lang, group.kindergarten.0);
    page.render(
        status,
        page.t(texts::GROUPS),
        html! {
            h1 { (group.name) ", " (kindergarten) }
            p { a href=(format!("/staff/admin/kindergartens/{}", group.kindergarten.0)) { (kindergarten) } }
            (notice(page, &form))
            form method="post" action=(format!("/staff/admin/groups/{}", id.0)) {
                (page.form_guard(true))
                (group_fields(page, &form, Some(group)))
                button type="submit" { (page.t(texts::SAVE)) }
            }
            @if !group.closed {
                h2 { (page.t(texts::CLOSE_GROUP)) }
                p.hint id="close-hint" { (page.t(texts::CLOSE_GROUP_HINT)) }
                form method="post" action=(format!("/staff/admin/groups/{}/close", id.0)) {
                    (page.form_guard(true))
                    button.danger type="submit" aria-describedby="close-hint" { (page.t(texts::CLOSE_GROUP)) }
                }
            } @else {
                p { strong { (page.t(texts::GROUP_CLOSED_STATUS)) } }
            }
        },
    )
}

async fn edit_group(
    State(app): State<AppState>,
    page: Page,
    Path(id): Path<u32>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let Some(caller) = administrator(&page).filter(|_| page.csrf_ok(&fields, true)) else {
        return page.form_expired();
    };
    let id = GroupId(id);
    let mut form = FormState::typed(&fields, GROUP_FIELDS);
    let Some((name, language, age_band, capacity)) = parse_group(&page, &fields, &mut form) else {
        return group_page(&app, &page, id, StatusCode::UNPROCESSABLE_ENTITY, form);
    };
    let command = Command::ChangeGroup {
        id,
        name,
        language,
        age_band,
        capacity,
    };
    match page.submit(&app, &caller, &fields, command).await {
        Ok(_) => group_page(
            &app,
            &page,
            id,
            StatusCode::OK,
            FormState::done(&page, texts::DONE_SAVED),
        ),
        Err(error) => {
            let (status, form) = form.refused(&page, error);
            group_page(&app, &page, id, status, form)
        }
    }
}

async fn close_group(
    State(app): State<AppState>,
    page: Page,
    Path(id): Path<u32>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let Some(caller) = administrator(&page).filter(|_| page.csrf_ok(&fields, true)) else {
        return page.form_expired();
    };
    let id = GroupId(id);
    match page
        .submit(&app, &caller, &fields, Command::CloseGroup { id })
        .await
    {
        Ok(Outcome::GroupClosed { withdrawn }) => {
            let form = FormState {
                notice: Some(Notice::Done(format!(
                    "{} {withdrawn}",
                    page.t(texts::DONE_GROUP_CLOSED)
                ))),
                ..FormState::default()
            };
            group_page(&app, &page, id, StatusCode::OK, form)
        }
        Ok(_) => unreachable!("closing a group answers GroupClosed"),
        Err(error) => {
            let (status, form) = FormState::default().refused(&page, error);
            group_page(&app, &page, id, status, form)
        }
    }
}

// ----- priority categories -------------------------------------------------------------

fn tiers(page: &Page) -> Vec<(String, String)> {
    [Tier::OutOfTurn, Tier::First]
        .iter()
        .map(|t| {
            let code = crate::http::views::tier_code(*t);
            (code.to_string(), texts::tier(page.lang, code).to_string())
        })
        .collect()
}

async fn categories(State(app): State<AppState>, page: Page) -> Response {
    if administrator(&page).is_none() {
        return not_this_role(&page);
    }
    categories_page(&app, &page, StatusCode::OK, FormState::default())
}

fn categories_page(app: &AppState, page: &Page, status: StatusCode, form: FormState) -> Response {
    let catalog = app.service.read().catalog.clone();
    let lang = page.lang;
    page.render(
        status,
        page.t(texts::CATEGORIES_TITLE),
        html! {
            h1 { (page.t(texts::CATEGORIES_TITLE)) }
            (back(page))
            (notice(page, &form))
            div.table-wrap { table data-testid="categories" {
                (page.column_heads(&[texts::FIELD_CODE, texts::NAME, texts::FIELD_TIER, texts::FIELD_DOCUMENT_RU, texts::STATUS, texts::ACTIONS]))
                tbody {
                    @for c in catalog.categories.values() {
                        tr {
                            td { code { (c.code) } }
                            td { (lang.pick(&c.names)) }
                            td { (texts::tier(lang, crate::http::views::tier_code(c.tier))) }
                            td { (lang.pick(&c.document)) }
                            td { (page.t(if c.retired { texts::STATUS_RETIRED } else { texts::STATUS_LIVE })) }
                            td { a href=(format!("/staff/admin/categories/{}", c.code)) aria-label=(format!("{}: {}", page.t(texts::EDIT), lang.pick(&c.names))) { (page.t(texts::EDIT)) } }
                        }
                    }
                }
            } }
            h2 { (page.t(texts::NEW_CATEGORY)) }
            form method="post" action="/staff/admin/categories" {
                (page.form_guard(true))
                (super::text_field("code", page.t(texts::FIELD_CODE), Some(page.t(texts::FIELD_CODE_HINT)), form.value("code", ""), form.errors.get("code").copied(), FieldAttrs::TEXT))
                (category_fields(page, &form, None))
                button type="submit" { (page.t(texts::CREATE)) }
            }
        },
    )
}

fn category_fields(page: &Page, form: &FormState, category: Option<&PriorityCategory>) -> Markup {
    let tier = category.map_or("first", |c| crate::http::views::tier_code(c.tier));
    html! {
        (field(page, form, "name_kk", texts::FIELD_NAME_KK, category.map_or("", |c| c.names.kk.as_str()), FieldAttrs::TEXT))
        (field(page, form, "name_ru", texts::FIELD_NAME_RU, category.map_or("", |c| c.names.ru.as_str()), FieldAttrs::TEXT))
        (select(page, form, "tier", texts::FIELD_TIER, &tiers(page), tier))
        (field(page, form, "document_kk", texts::FIELD_DOCUMENT_KK, category.map_or("", |c| c.document.kk.as_str()), FieldAttrs::TEXT))
        (field(page, form, "document_ru", texts::FIELD_DOCUMENT_RU, category.map_or("", |c| c.document.ru.as_str()), FieldAttrs::TEXT))
        div.check {
            input type="checkbox" id="attachment_required" name="attachment_required" value="1"
                checked[category.is_some_and(|c| c.attachment_required)];
            label for="attachment_required" { (page.t(texts::FIELD_ATTACHMENT_REQUIRED)) }
        }
    }
}

const CATEGORY_FIELDS: &[&str] = &[
    "code",
    "name_kk",
    "name_ru",
    "tier",
    "document_kk",
    "document_ru",
    "attachment_required",
];

fn category_of(code: &str, fields: &Fields) -> Option<PriorityCategory> {
    let tier = match fields.get("tier") {
        "out_of_turn" => Tier::OutOfTurn,
        "first" => Tier::First,
        _ => return None,
    };
    Some(PriorityCategory {
        code: code.trim().to_string(),
        tier,
        names: names_of(fields),
        document: Names {
            kk: fields.get("document_kk").trim().to_string(),
            ru: fields.get("document_ru").trim().to_string(),
        },
        retired: false,
        attachment_required: fields.get("attachment_required") == "1",
    })
}

async fn create_category(State(app): State<AppState>, page: Page, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let Some(caller) = administrator(&page).filter(|_| page.csrf_ok(&fields, true)) else {
        return page.form_expired();
    };
    let mut form = FormState::typed(&fields, CATEGORY_FIELDS);
    let Some(category) = category_of(fields.get("code"), &fields) else {
        form.invalid(&page, "tier");
        return categories_page(&app, &page, StatusCode::UNPROCESSABLE_ENTITY, form);
    };
    match page
        .submit(&app, &caller, &fields, Command::CreateCategory(category))
        .await
    {
        Ok(_) => categories_page(
            &app,
            &page,
            StatusCode::CREATED,
            FormState::done(&page, texts::DONE_CREATED),
        ),
        Err(error) => {
            let (status, form) = form.refused(&page, error);
            categories_page(&app, &page, status, form)
        }
    }
}

async fn category(State(app): State<AppState>, page: Page, Path(code): Path<String>) -> Response {
    if administrator(&page).is_none() {
        return not_this_role(&page);
    }
    category_page(&app, &page, &code, StatusCode::OK, FormState::default())
}

fn category_page(
    app: &AppState,
    page: &Page,
    code: &str,
    status: StatusCode,
    form: FormState,
) -> Response {
    let catalog = app.service.read().catalog.clone();
    let Some(c) = catalog.categories.get(code) else {
        return page.api_error(crate::http::error::ApiError::new(
            error::NOT_FOUND,
            page.lang.api(),
        ));
    };
    page.render(
        status,
        page.t(texts::CATEGORIES_TITLE),
        html! {
            h1 { (page.lang.pick(&c.names)) }
            p { a href="/staff/admin/categories" { (page.t(texts::CATEGORIES_TITLE)) } }
            (notice(page, &form))
            p { (page.t(texts::FIELD_CODE)) ": " code { (c.code) } }
            form method="post" action=(format!("/staff/admin/categories/{}", c.code)) {
                (page.form_guard(true))
                (category_fields(page, &form, Some(c)))
                button type="submit" { (page.t(texts::SAVE)) }
            }
            @if c.retired {
                p { strong { (page.t(texts::STATUS_RETIRED)) } }
            } @else {
                h2 { (page.t(texts::RETIRE_CATEGORY)) }
                p.hint id="retire-hint" { (page.t(texts::RETIRE_CATEGORY_HINT)) }
                form method="post" action=(format!("/staff/admin/categories/{}/retire", c.code)) {
                    (page.form_guard(true))
                    button.danger type="submit" aria-describedby="retire-hint" { (page.t(texts::RETIRE_CATEGORY)) }
                }
            }
        },
    )
}

async fn edit_category(
    State(app): State<AppState>,
    page: Page,
    Path(code): Path<String>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let Some(caller) = administrator(&page).filter(|_| page.csrf_ok(&fields, true)) else {
        return page.form_expired();
    };
    let mut form = FormState::typed(&fields, CATEGORY_FIELDS);
    let Some(category) = category_of(&code, &fields) else {
        form.invalid(&page, "tier");
        return category_page(&app, &page, &code, StatusCode::UNPROCESSABLE_ENTITY, form);
    };
    match page
        .submit(&app, &caller, &fields, Command::ChangeCategory(category))
        .await
    {
        Ok(_) => category_page(
            &app,
            &page,
            &code,
            StatusCode::OK,
            FormState::done(&page, texts::DONE_SAVED),
        ),
        Err(error) => {
            let (status, form) = form.refused(&page, error);
            category_page(&app, &page, &code, status, form)
        }
    }
}

async fn retire_category(
    State(app): State<AppState>,
    page: Page,
    Path(code): Path<String>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let Some(caller) = administrator(&page).filter(|_| page.csrf_ok(&fields, true)) else {
        return page.form_expired();
    };
    let command = Command::RetireCategory { code: code.clone() };
    match page.submit(&app, &caller, &fields, command).await {
        Ok(_) => category_page(
            &app,
            &page,
            &code,
            StatusCode::OK,
            FormState::done(&page, texts::DONE_RETIRED),
        ),
        Err(error) => {
            let (status, form) = FormState::default().refused(&page, error);
            category_page(&app, &page, &code, status, form)
        }
    }
}

// ----- staff accounts ------------------------------------------------------------------

fn role_name(page: &Page, role: Role) -> &'static str {
    page.t(match role {
        Role::Admin => texts::ROLE_ADMIN,
        Role::Officer => texts::ROLE_OFFICER,
        Role::Operator => texts::ROLE_OPERATOR,
        Role::Kindergarten => texts::ROLE_KINDERGARTEN,
    })
}

fn roles(page: &Page) -> Vec<(String, String)> {
    [
        Role::Officer,
        Role::Operator,
        Role::Kindergarten,
        Role::Admin,
    ]
    .iter()
    .map(|r| (r.code().to_string(), role_name(page, *r).to_string()))
    .collect()
}

/// A scope as a form value: "everywhere", "district:1", "kindergarten:3".
fn scope_code(scope: Scope) -> String {
    match scope {
        Scope::Everywhere => "everywhere".into(),
        Scope::District(d) => format!("district:{}", d.0),
        Scope::Kindergarten(k) => format!("kindergarten:{}", k.0),
    }
}

fn parse_scope(text: &str) -> Option<Scope> {
    match text.split_once(':') {
        None if text == "everywhere" => Some(Scope::Everywhere),
        Some(("district", id)) => id
            .parse()
            .ok()
            .map(|d| Scope::District(crate::domain::catalog::DistrictId(d))),
        Some(("kindergarten", id)) => id
            .parse()
            .ok()
            .map(|k| Scope::Kindergarten(KindergartenId(k))),
        _ => None,
    }
}

fn scope_name(page: &Page, catalog: &Catalog, scope: Scope) -> String {
    match scope {
        Scope::Everywhere => page.t(texts::SCOPE_EVERYWHERE).to_string(),
        Scope::District(d) => catalog
            .districts
            .get(&d)
            .map_or_else(String::new, |d| page.lang.pick(&d.names).to_string()),
        Scope::Kindergarten(k) => super::public::kindergarten_name(catalog, page.lang, k.0),
    }
}

fn scopes(page: &Page, catalog: &Catalog) -> Vec<(String, String)> {
    let mut scopes = vec![(
        scope_code(Scope::Everywhere),
        scope_name(page, catalog, Scope::Everywhere),
    )];
    for d in catalog.districts.keys() {
        scopes.push((
            scope_code(Scope::District(*d)),
            scope_name(page, catalog, Scope::District(*d)),
        ));
    }
    for k in catalog.kindergartens.keys() {
        scopes.push((
            scope_code(Scope::Kindergarten(*k)),
            scope_name(page, catalog, Scope::Kindergarten(*k)),
        ));
    }
    scopes
}

async fn list_accounts(app: &AppState, page: &Page) -> Result<Vec<(StaffAccount, bool)>, Response> {
    let reads = std::sync::Arc::clone(&app.reads);
    let listed = tokio::task::spawn_blocking(move || reads.with(crate::store::staff::list)).await;
    match listed {
        Ok(Ok(accounts)) => Ok(accounts),
        Ok(Err(e)) => Err(page.api_error(crate::http::auth::internal(e, page.lang.api()))),
        Err(_) => Err(page.api_error(crate::http::error::ApiError::new(
            error::INTERNAL,
            page.lang.api(),
        ))),
    }
}

async fn accounts(State(app): State<AppState>, page: Page) -> Response {
    if administrator(&page).is_none() {
        return not_this_role(&page);
    }
    accounts_page(&app, &page, StatusCode::OK, FormState::default()).await
}

async fn accounts_page(
    app: &AppState,
    page: &Page,
    status: StatusCode,
    form: FormState,
) -> Response {
    let accounts = match list_accounts(app, page).await {
        Ok(accounts) => accounts,
        Err(response) => return response,
    };
    let catalog = app.service.read().catalog.clone();
    page.render(
        status,
        page.t(texts::ACCOUNTS_TITLE),
        html! {
            h1 { (page.t(texts::ACCOUNTS_TITLE)) }
            (back(page))
            (notice(page, &form))
            p.hint id="revoke-hint" { (page.t(texts::REVOKE_HINT)) }
            div.table-wrap { table data-testid="accounts" {
                (page.column_heads(&[texts::FIELD_ACCOUNT_NAME, texts::FIELD_ROLE, texts::FIELD_SCOPE, texts::STATUS, texts::ACTIONS]))
                tbody {
                    @for (account, revoked) in &accounts {
                        tr {
                            td { (account.name) }
                            td { (role_name(page, account.role)) }
                            td { (scope_name(page, &catalog, account.scope)) }
                            td { (page.t(if *revoked { texts::STATUS_REVOKED } else { texts::STATUS_LIVE })) }
                            td {
                                @if !revoked {
                                    a href=(format!("/staff/admin/accounts/{}", account.name)) aria-label=(format!("{}: {}", page.t(texts::EDIT), account.name)) { (page.t(texts::EDIT)) }
                                    " "
                                    form.inline-form method="post" action=(format!("/staff/admin/accounts/{}/revoke", account.name)) {
                                        (page.form_guard(true))
                                        button.danger type="submit" aria-describedby="revoke-hint" aria-label=(format!("{}: {}", page.t(texts::REVOKE_ACCOUNT), account.name)) { (page.t(texts::REVOKE_ACCOUNT)) }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
            h2 { (page.t(texts::NEW_ACCOUNT)) }
            form method="post" action="/staff/admin/accounts" {
                (page.form_guard(true))
                (super::text_field("name", page.t(texts::FIELD_ACCOUNT_NAME), Some(page.t(texts::FIELD_ACCOUNT_NAME_HINT)), form.value("name", ""), form.errors.get("name").copied(), FieldAttrs::TEXT.autocomplete("off")))
                (select(page, &form, "role", texts::FIELD_ROLE, &roles(page), "officer"))
                (select(page, &form, "scope", texts::FIELD_SCOPE, &scopes(page, &catalog), ""))
                button type="submit" { (page.t(texts::CREATE)) }
            }
        },
    )
}

const ACCOUNT_FIELDS: &[&str] = &["name", "role", "scope"];

/// The account the form describes; a role or scope that does not parse is marked.
fn account_of(
    page: &Page,
    name: &str,
    fields: &Fields,
    form: &mut FormState,
) -> Option<StaffAccount> {
    let role = Role::parse(fields.get("role"));
    let scope = parse_scope(fields.get("scope"));
    if role.is_none() {
        form.invalid(page, "role");
    }
    if scope.is_none() {
        form.invalid(page, "scope");
    }
    Some(StaffAccount {
        name: name.trim().to_string(),
        role: role?,
        scope: scope?,
    })
}

async fn create_account(State(app): State<AppState>, page: Page, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let Some(caller) = administrator(&page).filter(|_| page.csrf_ok(&fields, true)) else {
        return page.form_expired();
    };
    let mut form = FormState::typed(&fields, ACCOUNT_FIELDS);
    let Some(account) = account_of(&page, fields.get("name"), &fields, &mut form) else {
        return accounts_page(&app, &page, StatusCode::UNPROCESSABLE_ENTITY, form).await;
    };
    match page
        .submit(&app, &caller, &fields, Command::CreateStaff(account))
        .await
    {
        Ok(Outcome::StaffCreated { token }) => {
            let form = FormState {
                notice: Some(Notice::Token(token)),
                ..FormState::default()
            };
            accounts_page(&app, &page, StatusCode::CREATED, form).await
        }
        Ok(_) => unreachable!("an account's creation answers its token"),
        Err(error) => {
            let (status, form) = form.refused(&page, error);
            accounts_page(&app, &page, status, form).await
        }
    }
}

async fn account(State(app): State<AppState>, page: Page, Path(name): Path<String>) -> Response {
    if administrator(&page).is_none() {
        return not_this_role(&page);
    }
    account_page(&app, &page, &name, StatusCode::OK, FormState::default()).await
}

async fn account_page(
    app: &AppState,
    page: &Page,
    name: &str,
    status: StatusCode,
    form: FormState,
) -> Response {
    let accounts = match list_accounts(app, page).await {
        Ok(accounts) => accounts,
        Err(response) => return response,
    };
    let Some((account, _)) = accounts.iter().find(|(a, _)| a.name == name) else {
        return page.api_error(crate::http::error::ApiError::new(
            error::NOT_FOUND,
            page.lang.api(),
        ));
    };
    let catalog = app.service.read().catalog.clone();
    page.render(
        status,
        page.t(texts::ACCOUNTS_TITLE),
        html! {
            h1 { (account.name) }
            p { a href="/staff/admin/accounts" { (page.t(texts::ACCOUNTS_TITLE)) } }
            (notice(page, &form))
            h2 { (page.t(texts::CHANGE_SCOPE)) }
            form method="post" action=(format!("/staff/admin/accounts/{}", account.name)) {
                (page.form_guard(true))
                (select(page, &form, "role", texts::FIELD_ROLE, &roles(page), account.role.code()))
                (select(page, &form, "scope", texts::FIELD_SCOPE, &scopes(page, &catalog), &scope_code(account.scope)))
                button type="submit" { (page.t(texts::SAVE)) }
            }
        },
    )
}

async fn change_account(
    State(app): State<AppState>,
    page: Page,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let Some(caller) = administrator(&page).filter(|_| page.csrf_ok(&fields, true)) else {
        return page.form_expired();
    };
    let mut form = FormState::typed(&fields, ACCOUNT_FIELDS);
    let Some(account) = account_of(&page, &name, &fields, &mut form) else {
        return account_page(&app, &page, &name, StatusCode::UNPROCESSABLE_ENTITY, form).await;
    };
    match page
        .submit(&app, &caller, &fields, Command::ChangeStaff(account))
        .await
    {
        Ok(_) => {
            account_page(
                &app,
                &page,
                &name,
                StatusCode::OK,
                FormState::done(&page, texts::DONE_SAVED),
            )
            .await
        }
        Err(error) => {
            let (status, form) = form.refused(&page, error);
            account_page(&app, &page, &name, status, form).await
        }
    }
}

async fn revoke_account(
    State(app): State<AppState>,
    page: Page,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let Some(caller) = administrator(&page).filter(|_| page.csrf_ok(&fields, true)) else {
        return page.form_expired();
    };
    match page
        .submit(&app, &caller, &fields, Command::RevokeStaff { name })
        .await
    {
        Ok(_) => {
            accounts_page(
                &app,
                &page,
                StatusCode::OK,
                FormState::done(&page, texts::DONE_REVOKED),
            )
            .await
        }
        Err(error) => {
            let (status, form) = FormState::default().refused(&page, error);
            accounts_page(&app, &page, status, form).await
        }
    }
}

// ----- district policies ---------------------------------------------------------------

const POLICY_FIELDS: &[&str] = &[
    "validity_kind",
    "validity_days",
    "extension_kind",
    "extension_days",
    "stop_list_days",
    "retention_days",
];
const POLICY_SWITCHES: &[(&str, texts::T)] = &[
    ("interleave_first_priority", texts::POLICY_INTERLEAVE),
    (
        "move_keeps_registration_time",
        texts::POLICY_MOVE_KEEPS_TIME,
    ),
    ("move_keeps_priority", texts::POLICY_MOVE_KEEPS_PRIORITY),
    ("transfers_before_first_time", texts::POLICY_TRANSFERS_FIRST),
    (
        "round_decline_stop_list",
        texts::POLICY_ROUND_DECLINE_STOP_LIST,
    ),
];

async fn policy(State(app): State<AppState>, page: Page, Path(district): Path<String>) -> Response {
    if administrator(&page).is_none() {
        return not_this_role(&page);
    }
    policy_page(
        &app,
        &page,
        &district,
        StatusCode::OK,
        FormState::default(),
        None,
        FormState::default(),
    )
}

/// Every option of a district's policy; `typed` holds the switches as posted when a refused
/// form is shown again. Below it the head of the district's education department, with its
/// own form (`head_form`).
fn policy_page(
    app: &AppState,
    page: &Page,
    code: &str,
    status: StatusCode,
    form: FormState,
    typed: Option<[bool; 5]>,
    head_form: FormState,
) -> Response {
    let (catalog, policy) = {
        let state = app.service.read();
        let Some(id) = crate::domain::numbers::parse_district(&state.catalog, code) else {
            drop(state);
            return page.api_error(crate::http::error::ApiError::new(
                error::NOT_FOUND,
                page.lang.api(),
            ));
        };
        (state.catalog.clone(), state.policy(id))
    };
    let district_id = crate::domain::numbers::parse_district(&catalog, code).expect("found");
    let district = &catalog.districts[&district_id];
    let education_head = catalog
        .education_heads
        .get(&district_id)
        .map(String::as_str);
    use crate::domain::referral::{Extension, Validity};
    let (validity_kind, validity_days) = match policy.validity {
        Validity::WorkingDays { days } => ("working_days", days.to_string()),
        Validity::CalendarDays { days } => ("calendar_days", days.to_string()),
        Validity::CalendarMonth => ("calendar_month", String::new()),
    };
    let (extension_kind, extension_days) = match policy.extension {
        Extension::NotAllowed => ("not_allowed", String::new()),
        Extension::Once {
            calendar_days_after_issue,
        } => ("once", calendar_days_after_issue.to_string()),
    };
    let switches = typed.unwrap_or([
        policy.interleave_first_priority,
        policy.move_keeps_registration_time,
        policy.move_keeps_priority,
        policy.transfers_before_first_time,
        policy.round_decline_stop_list,
    ]);
    let options = |pairs: &[(&str, texts::T)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(v, t)| (v.to_string(), page.t(*t).to_string()))
            .collect()
    };
    let optional_number = FieldAttrs::TEXT.kind("number").numeric().optional();
    page.render(
        status,
        page.t(texts::POLICIES_TITLE),
        html! {
            h1 { (page.t(texts::POLICIES_TITLE)) ": " (page.lang.pick(&district.names)) }
            (back(page))
            (notice(page, &form))
            form method="post" action=(format!("/staff/admin/policies/{}", district.code)) {
                (page.form_guard(true))
                (select(page, &form, "validity_kind", texts::POLICY_VALIDITY, &options(&[
                    ("working_days", texts::VALIDITY_WORKING_DAYS),
                    ("calendar_days", texts::VALIDITY_CALENDAR_DAYS),
                    ("calendar_month", texts::VALIDITY_MONTH),
                ]), validity_kind))
                (field(page, &form, "validity_days", texts::POLICY_VALIDITY_DAYS, &validity_days, optional_number))
                (select(page, &form, "extension_kind", texts::POLICY_EXTENSION, &options(&[
                    ("not_allowed", texts::EXTENSION_NOT_ALLOWED),
                    ("once", texts::EXTENSION_ONCE),
                ]), extension_kind))
                (field(page, &form, "extension_days", texts::POLICY_EXTENSION_DAYS, &extension_days, optional_number))
                (field(page, &form, "stop_list_days", texts::POLICY_STOP_LIST_DAYS, &policy.stop_list_days.to_string(), FieldAttrs::TEXT.kind("number").numeric()))
                (field(page, &form, "retention_days", texts::POLICY_RETENTION_DAYS, &policy.retention_days.to_string(), FieldAttrs::TEXT.kind("number").numeric()))
                div.checks {
                    @for ((name, label), on) in POLICY_SWITCHES.iter().zip(switches) {
                        div.check {
                            input type="checkbox" id=(name) name=(name) value="1" checked[on];
                            label for=(name) { (page.t(*label)) }
                        }
                    }
                }
                button type="submit" { (page.t(texts::SAVE)) }
            }
            section aria-labelledby="education-head-title" {
                h2 #education-head-title { (page.t(texts::EDUCATION_HEAD_TITLE)) }
                p.hint { (page.t(texts::EDUCATION_HEAD_INTRO)) }
                @if education_head.is_none() { p data-testid="education-head-none" { (page.t(texts::EDUCATION_HEAD_NONE)) } }
                (notice(page, &head_form))
                form method="post" action=(format!("/staff/admin/policies/{}/education-head", district.code)) {
                    (page.form_guard(true))
                    (super::text_field(
                        "education_head",
                        page.t(texts::FIELD_EDUCATION_HEAD),
                        Some(page.t(texts::FIELD_EDUCATION_HEAD_HINT)),
                        head_form.value("education_head", education_head.unwrap_or("")),
                        head_form.errors.get("education_head").copied(),
                        FieldAttrs::TEXT,
                    ))
                    button type="submit" { (page.t(texts::SAVE)) }
                }
            }
        },
    )
}

/// Names the head of the district's education department (printed on its referrals from
/// now on): the API's PUT, from the policies page. A refused name is shown beside its field.
async fn set_education_head(
    State(app): State<AppState>,
    page: Page,
    Path(code): Path<String>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let Some(caller) = administrator(&page).filter(|_| page.csrf_ok(&fields, true)) else {
        return page.form_expired();
    };
    let Some(district) = crate::domain::numbers::parse_district(&app.service.read().catalog, &code)
    else {
        return page.api_error(crate::http::error::ApiError::new(
            error::NOT_FOUND,
            page.lang.api(),
        ));
    };
    let mut form = FormState::typed(&fields, &["education_head"]);
    let command = Command::SetEducationHead {
        district,
        full_name: fields.get("education_head").to_string(),
    };
    let (status, head_form) = match page.submit(&app, &caller, &fields, command).await {
        Ok(_) => (StatusCode::OK, FormState::done(&page, texts::DONE_SAVED)),
        Err(error) => {
            let (status, message) = page.command_error(error);
            // The form has one field: a refused name is that field's error.
            if status == StatusCode::UNPROCESSABLE_ENTITY {
                form.errors.insert("education_head".into(), message);
            } else {
                form.notice = Some(Notice::Refused(message));
            }
            (status, form)
        }
    };
    policy_page(
        &app,
        &page,
        &code,
        status,
        FormState::default(),
        None,
        head_form,
    )
}

async fn set_policy(
    State(app): State<AppState>,
    page: Page,
    Path(code): Path<String>,
    body: Bytes,
) -> Response {
    use crate::domain::referral::{DistrictPolicy, Extension, Validity};
    let fields = Fields::parse(&body);
    let Some(caller) = administrator(&page).filter(|_| page.csrf_ok(&fields, true)) else {
        return page.form_expired();
    };
    let Some(district) = crate::domain::numbers::parse_district(&app.service.read().catalog, &code)
    else {
        return page.api_error(crate::http::error::ApiError::new(
            error::NOT_FOUND,
            page.lang.api(),
        ));
    };
    let mut form = FormState::typed(&fields, POLICY_FIELDS);
    let switches = [0, 1, 2, 3, 4].map(|i| fields.get(POLICY_SWITCHES[i].0) == "1");
    let number = |name: &str| fields.get(name).trim().parse::<u32>().ok();
    let validity = match fields.get("validity_kind") {
        "working_days" => number("validity_days").map(|days| Validity::WorkingDays { days }),
        "calendar_days" => number("validity_days").map(|days| Validity::CalendarDays { days }),
        "calendar_month" => Some(Validity::CalendarMonth),
        _ => None,
    };
    let extension = match fields.get("extension_kind") {
        "not_allowed" => Some(Extension::NotAllowed),
        "once" => number("extension_days").map(|calendar_days_after_issue| Extension::Once {
            calendar_days_after_issue,
        }),
        _ => None,
    };
    let stop_list_days = number("stop_list_days");
    let retention_days = number("retention_days");
    if retention_days.is_none() {
        form.invalid(&page, "retention_days");
    }
    if validity.is_none() {
        form.invalid(&page, "validity_days");
    }
    if extension.is_none() {
        form.invalid(&page, "extension_days");
    }
    if stop_list_days.is_none() {
        form.invalid(&page, "stop_list_days");
    }
    let (Some(validity), Some(extension), Some(stop_list_days), Some(retention_days)) =
        (validity, extension, stop_list_days, retention_days)
    else {
        return policy_page(
            &app,
            &page,
            &code,
            StatusCode::UNPROCESSABLE_ENTITY,
            form,
            Some(switches),
            FormState::default(),
        );
    };
    let policy = DistrictPolicy {
        validity,
        extension,
        stop_list_days,
        interleave_first_priority: switches[0],
        move_keeps_registration_time: switches[1],
        move_keeps_priority: switches[2],
        transfers_before_first_time: switches[3],
        round_decline_stop_list: switches[4],
        retention_days,
    };
    match page
        .submit(
            &app,
            &caller,
            &fields,
            Command::SetPolicy { district, policy },
        )
        .await
    {
        Ok(_) => policy_page(
            &app,
            &page,
            &code,
            StatusCode::OK,
            FormState::done(&page, texts::DONE_SAVED),
            None,
            FormState::default(),
        ),
        Err(error) => {
            let (status, form) = form.refused(&page, error);
            policy_page(
                &app,
                &page,
                &code,
                status,
                form,
                Some(switches),
                FormState::default(),
            )
        }
    }
}

// ----- the working-day calendar --------------------------------------------------------

/// The largest year's file (or pasted text) the page takes: the shipped files are under
/// 3 KB, a year with a comment on every day under 20 KB. Below the service's whole-body limit
/// (`BODY_LIMIT_BYTES`), so a file over it is refused beside its field, not by the server.
const CALENDAR_FILE_BYTES_MAX: usize = 32 * 1024;

/// A refused year's file: the error beside the field it came from, and its bad lines (line
/// number, code, message).
struct CalendarRefused {
    lines: Vec<(usize, &'static str, &'static str)>,
}

/// The form taking a year's file, uploaded or pasted; with `changes`, the days it would
/// change and the button applying it (the year and text carried in hidden fields, so what is
/// applied is what was shown).
fn calendar_page(
    page: &Page,
    status: StatusCode,
    form: FormState,
    changes: Option<&[crate::http::admin::CalendarDayChange]>,
    refused: Option<CalendarRefused>,
) -> Response {
    let next_year = (chrono::Datelike::year(&crate::domain::local_date(page.now)) + 1).to_string();
    let day_kind = |working: bool| {
        page.t(if working {
            texts::WORKING_DAY
        } else {
            texts::DAY_OFF
        })
    };
    let bad_lines = refused.as_ref().map_or(&[][..], |r| r.lines.as_slice());
    page.render(
        status,
        page.t(texts::CALENDAR_TITLE),
        html! {
            h1 { (page.t(texts::CALENDAR_TITLE)) }
            (back(page))
            (notice(page, &form))
            @if let Some(changes) = changes {
                h2 { (page.t(texts::CALENDAR_CHANGES)) " " (form.value("year", "")) }
                @if changes.is_empty() {
                    p { (page.t(texts::CALENDAR_NO_CHANGES)) }
                } @else {
                    div.table-wrap { table data-testid="calendar-changes" {
                        (page.column_heads(&[texts::DATE, texts::NOW, texts::AFTER]))
                        tbody {
                            @for change in changes {
                                tr {
                                    td { (texts::date(change.date)) }
                                    td { (day_kind(change.working_now)) }
                                    td { strong { (day_kind(change.working_after)) } }
                                }
                            }
                        }
                    } }
                }
                form method="post" action="/staff/admin/calendar" {
                    (page.form_guard(true))
                    input type="hidden" name="year" value=(form.value("year", ""));
                    input type="hidden" name="text" value=(form.value("text", ""));
                    button type="submit" { (page.t(texts::CALENDAR_APPLY)) }
                }
                h2 { (page.t(texts::CALENDAR_ANOTHER)) }
            }
            p.hint { (page.t(texts::CALENDAR_HINT)) }
            form method="post" action="/staff/admin/calendar/preview" enctype="multipart/form-data" {
                (page.form_guard(true))
                (field(page, &form, "year", texts::CALENDAR_YEAR, &next_year, FieldAttrs::TEXT.kind("number").numeric()))
                (calendar_source(page, &form, "file", bad_lines, html! {
                    input type="file" id="file" name="file" accept=".txt,text/plain"
                        aria-describedby=[described_by(&form, "file", bad_lines, "file-hint")]
                        aria-invalid=[form.errors.get("file").map(|_| "true")];
                }))
                (calendar_source(page, &form, "text", bad_lines, html! {
                    textarea id="text" name="text" rows="12"
                        aria-describedby=[described_by(&form, "text", bad_lines, "")]
                        aria-invalid=[form.errors.get("text").map(|_| "true")] {
                        (form.value("text", ""))
                    }
                }))
                button type="submit" { (page.t(texts::CALENDAR_PREVIEW)) }
            }
        },
    )
}

/// The ids describing the file input or the text box: its hint, its error, its bad lines;
/// none at all for a box with neither (an empty `aria-describedby` is invalid HTML).
fn described_by(
    form: &FormState,
    name: &str,
    bad_lines: &[(usize, &str, &str)],
    hint: &str,
) -> Option<String> {
    let mut ids = vec![hint.to_string()];
    if form.errors.contains_key(name) {
        ids.push(format!("{name}-error"));
        if !bad_lines.is_empty() {
            ids.push(format!("{name}-lines"));
        }
    }
    ids.retain(|id| !id.is_empty());
    (!ids.is_empty()).then(|| ids.join(" "))
}

/// One of the two ways to give the year's file, with its error and bad lines beside it.
fn calendar_source(
    page: &Page,
    form: &FormState,
    name: &str,
    bad_lines: &[(usize, &str, &str)],
    input: Markup,
) -> Markup {
    let error = form.errors.get(name).copied();
    let (label, hint) = if name == "file" {
        (texts::CALENDAR_FILE, Some(texts::CALENDAR_FILE_HINT))
    } else {
        (texts::CALENDAR_TEXT, None)
    };
    html! {
        div.field.invalid[error.is_some()] {
            label for=(name) { (page.t(label)) }
            @if let Some(hint) = hint { p.hint id=(format!("{name}-hint")) { (page.t(hint)) } }
            @if let Some(error) = error {
                p.error-message id=(format!("{name}-error")) { (error) }
                @if !bad_lines.is_empty() {
                    div.error-message id=(format!("{name}-lines")) {
                        p { (page.t(texts::CALENDAR_BAD_LINES)) }
                        ul data-testid="calendar-bad-lines" {
                            @for (line, code, message) in bad_lines {
                                li { (page.t(texts::CALENDAR_LINE)) " " (line) ": " (message) " (" code { (code) } ")" }
                            }
                        }
                    }
                }
            }
            (input)
        }
    }
}

async fn calendar(State(_app): State<AppState>, page: Page) -> Response {
    if administrator(&page).is_none() {
        return not_this_role(&page);
    }
    calendar_page(&page, StatusCode::OK, FormState::default(), None, None)
}

/// An uploaded form as it came: its text fields, the uploaded file's bytes (none when no
/// file was chosen), and the name of a field over the form's limit (reading stops there).
struct Upload {
    fields: Fields,
    file: Option<Vec<u8>>,
    too_large: Option<String>,
}

/// Reads the preview form: multipart/form-data from the page, or urlencoded (a paste from a
/// client without the file input). `None` for a body that is neither.
async fn read_calendar_form(request: axum::extract::Request) -> Option<Upload> {
    use axum::extract::FromRequest;
    let multipart = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("multipart/form-data"));
    if !multipart {
        let body = Bytes::from_request(request, &()).await.ok()?;
        return Some(Upload {
            fields: Fields::parse(&body),
            file: None,
            too_large: None,
        });
    }
    read_multipart(request, CALENDAR_FILE_BYTES_MAX).await
}

/// A multipart/form-data form: its text fields, and the part named `file` (none when no file
/// was chosen); reading stops at the first part over `limit`, whose name is kept.
async fn read_multipart(request: axum::extract::Request, limit: usize) -> Option<Upload> {
    use axum::extract::{FromRequest, Multipart};
    let mut multipart = Multipart::from_request(request, &()).await.ok()?;
    let mut upload = Upload {
        fields: Fields(Vec::new()),
        file: None,
        too_large: None,
    };
    while let Some(mut field) = multipart.next_field().await.ok()? {
        let name = field.name().unwrap_or_default().to_string();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.ok()? {
            if bytes.len() + chunk.len() > limit {
                upload.too_large = Some(name);
                return Some(upload);
            }
            bytes.extend_from_slice(&chunk);
        }
        if name == "file" {
            // A form sent without a chosen file has the part, empty.
            upload.file = Some(bytes).filter(|b| !b.is_empty());
        } else {
            upload.fields.0.push((name, String::from_utf8(bytes).ok()?));
        }
    }
    Some(upload)
}

async fn preview_calendar(
    State(app): State<AppState>,
    page: Page,
    request: axum::extract::Request,
) -> Response {
    let Some(upload) = read_calendar_form(request).await else {
        let message = error::MALFORMED.message(page.lang.api());
        return page.message(StatusCode::BAD_REQUEST, page.t(texts::ERROR_TITLE), message);
    };
    let fields = &upload.fields;
    if administrator(&page)
        .filter(|_| page.csrf_ok(fields, true))
        .is_none()
    {
        return page.form_expired();
    }
    let lang = page.lang.api();
    let mut form = FormState::typed(fields, &["year", "text"]);
    let refuse = |mut form: FormState, field: &str, kind: error::ErrorKind, lines| {
        form.errors.insert(field.to_string(), kind.message(lang));
        calendar_page(&page, kind.status, form, None, lines)
    };
    if let Some(field) = &upload.too_large {
        let field = if field == "text" { "text" } else { "file" };
        return refuse(form, field, error::CALENDAR_FILE_TOO_LARGE, None);
    }
    let (source, text) = match upload.file {
        Some(bytes) => match String::from_utf8(bytes) {
            // A byte-order mark some editors write is no part of the first line.
            Ok(text) => ("file", text.trim_start_matches('\u{feff}').to_string()),
            Err(_) => return refuse(form, "file", error::CALENDAR_NOT_UTF8, None),
        },
        None => ("text", fields.get("text").to_string()),
    };
    if text.trim().is_empty() {
        return refuse(form, "file", error::CALENDAR_EMPTY, None);
    }
    // The file's text goes into the box, to be mended there if a line is refused.
    form.values.insert("text".into(), text.clone());
    let Ok(year) = fields.get("year").trim().parse::<i32>() else {
        return refuse(form, "year", error::CALENDAR_YEAR_INVALID, None);
    };
    let calendar = app.service.read().catalog.calendar.clone();
    match crate::http::admin::calendar_changes(&calendar, year, &text) {
        Ok(changes) => calendar_page(&page, StatusCode::OK, form, Some(&changes), None),
        Err(refusal) => {
            use crate::http::admin::CalendarRefusal;
            let lines = match &refusal {
                CalendarRefusal::Lines(errors) => errors
                    .iter()
                    .take(crate::http::admin::LINE_ERRORS_SHOWN_MAX)
                    .map(|e| {
                        let kind = error::kind_of_code(e.problem.code());
                        (e.line, kind.code, kind.message(lang))
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let field = match refusal {
                CalendarRefusal::Year => "year",
                _ => source,
            };
            refuse(form, field, refusal.kind(), Some(CalendarRefused { lines }))
        }
    }
}

async fn apply_calendar(State(app): State<AppState>, page: Page, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let Some(caller) = administrator(&page).filter(|_| page.csrf_ok(&fields, true)) else {
        return page.form_expired();
    };
    let form = FormState::typed(&fields, &["year", "text"]);
    let Ok(year) = fields.get("year").trim().parse::<i32>() else {
        let (status, form) = form.refused(&page, CommandError::Invalid("year".into()));
        return calendar_page(&page, status, form, None, None);
    };
    let command = Command::SetCalendarYear {
        year,
        text: fields.get("text").to_string(),
    };
    match page.submit(&app, &caller, &fields, command).await {
        Ok(_) => calendar_page(
            &page,
            StatusCode::OK,
            FormState::done(&page, texts::DONE_SAVED),
            None,
            None,
        ),
        Err(error) => {
            let (status, form) = form.refused(&page, error);
            calendar_page(&page, status, form, None, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    /// A multipart/form-data request as a browser sends it: (name, file name, bytes) parts.
    fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> axum::extract::Request {
        let boundary = "----kezek-test-boundary";
        let mut body = Vec::new();
        for (name, file_name, bytes) in parts {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"")
                    .as_bytes(),
            );
            if let Some(file_name) = file_name {
                body.extend_from_slice(
                    format!("; filename=\"{file_name}\"\r\nContent-Type: text/plain").as_bytes(),
                );
            }
            body.extend_from_slice(b"\r\n\r\n");
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        axum::extract::Request::builder()
            .method("POST")
            .header(
                axum::http::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .unwrap()
    }

    #[tokio::test]
    async fn the_file_and_the_text_fields_are_read_apart() {
        let request = multipart(&[
            ("csrf", None, b"token"),
            ("year", None, b"2027"),
            ("file", Some("2027.txt"), b"2027-11-19 off\n"),
            ("text", None, b""),
        ]);
        let upload = read_calendar_form(request).await.unwrap();
        assert_eq!(upload.fields.get("csrf"), "token");
        assert_eq!(upload.fields.get("year"), "2027");
        assert_eq!(upload.file.as_deref(), Some(&b"2027-11-19 off\n"[..]));
        assert!(upload.too_large.is_none());
    }

    #[tokio::test]
    async fn a_form_without_a_chosen_file_reads_the_pasted_text() {
        let request = multipart(&[
            ("year", None, b"2027"),
            ("file", Some(""), b""),
            ("text", None, "2027-11-19 off  пятница".as_bytes()),
        ]);
        let upload = read_calendar_form(request).await.unwrap();
        assert!(upload.file.is_none());
        assert_eq!(upload.fields.get("text"), "2027-11-19 off  пятница");
        let urlencoded = axum::extract::Request::builder()
            .method("POST")
            .header(
                axum::http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(Body::from("year=2027&text=2027-11-19+off"))
            .unwrap();
        let upload = read_calendar_form(urlencoded).await.unwrap();
        assert_eq!(upload.fields.get("text"), "2027-11-19 off");
        assert!(upload.file.is_none());
    }

    #[tokio::test]
    async fn a_file_over_the_limit_is_named_and_reading_stops() {
        let big = vec![b'#'; CALENDAR_FILE_BYTES_MAX + 1];
        let just_right = vec![b'#'; CALENDAR_FILE_BYTES_MAX];
        let request = multipart(&[
            ("csrf", None, b"token"),
            ("file", Some("2027.txt"), &big),
            ("year", None, b"2027"),
        ]);
        let upload = read_calendar_form(request).await.unwrap();
        assert_eq!(upload.too_large.as_deref(), Some("file"));
        assert_eq!(upload.fields.get("csrf"), "token");
        assert_eq!(upload.fields.get("year"), "", "reading stopped at the file");
        let request = multipart(&[("file", Some("2027.txt"), &just_right)]);
        let upload = read_calendar_form(request).await.unwrap();
        assert!(upload.too_large.is_none());
        assert_eq!(upload.file.map(|f| f.len()), Some(CALENDAR_FILE_BYTES_MAX));
    }

    #[tokio::test]
    async fn a_broken_body_is_refused() {
        let request = multipart(&[("text", None, &[0xff, 0xfe])]);
        assert!(
            read_calendar_form(request).await.is_none(),
            "text not UTF-8"
        );
        let cut = axum::extract::Request::builder()
            .method("POST")
            .header(
                axum::http::header::CONTENT_TYPE,
                "multipart/form-data; boundary=xyz",
            )
            .body(Body::from(
                "--xyz\r\nContent-Disposition: form-data; name=\"year\"\r\n\r\n20",
            ))
            .unwrap();
        assert!(read_calendar_form(cut).await.is_none(), "cut short");
    }
}
