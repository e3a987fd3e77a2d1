//! The web pages: server-rendered HTML for parents, the public and staff, in Kazakh and
//! Russian, served by the same binary beside the API. Pages are another rendering of the
//! API's own views (`super::views`, the data functions of the API handlers) and send the
//! same commands, so a page and the API can never disagree about an application.
//!
//! No JavaScript: every page works as plain HTML forms and links, on a phone as on a desk.
//! Sessions are signed cookies (see `session`); every form that changes something carries
//! a CSRF token and an idempotency key (a double-click is answered once), and a POST from
//! another origin is refused before it reaches a handler.
//!
//! Pages never put a number or a code in a URL that is not already public: the parent's
//! application is `/my`, held by the session.

mod admin;
mod attachments;
mod chart;
mod kindergarten;
mod office;
mod parent;
mod public;
mod reports;
pub mod session;
mod staff;
pub mod texts;

use super::auth::ClientIp;
use super::error::{self, ApiError};
use super::AppState;
use crate::domain::staff::StaffAccount;
use crate::service::{Command, CommandError, Idempotency, Outcome};
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use session::{ParentSession, SessionKeys, LANG_COOKIE, PARENT_COOKIE, STAFF_COOKIE};
use texts::{PageLang, T};

/// The pages' routes; `super::router` adds them beside the API.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/static/kezek.css", get(stylesheet))
        .merge(public::routes())
        .merge(parent::routes())
        .merge(staff::routes())
        .merge(office::routes())
        .merge(kindergarten::routes())
        .merge(admin::routes())
        .merge(reports::routes())
        .layer(axum::middleware::from_fn(same_origin_posts))
}

const STYLESHEET: &str = include_str!("kezek.css");

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// Refuses a POST that a page of another site sent: the browser says where a form came
/// from (`Sec-Fetch-Site`, `Origin`). Session forms are also held to their CSRF token; this
/// covers the forms without a session (registration, look-up, sign-in) too.
async fn same_origin_posts(request: Request, next: Next) -> Response {
    if request.method() == Method::POST && !same_origin(request.headers()) {
        let lang = PageLang::from_headers(request.headers());
        return message_page(
            lang,
            StatusCode::FORBIDDEN,
            lang.t(texts::ERROR_TITLE),
            lang.t(texts::FORM_EXPIRED),
        );
    }
    next.run(request).await
}

fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        // `none`: typed or bookmarked by the user; never a forged cross-site post.
        return matches!(site, "same-origin" | "none");
    }
    match (text("origin"), text("host")) {
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            origin_host.eq_ignore_ascii_case(host)
        }
        // Neither header: not a browser (curl, tests); browsers always send one on POST.
        _ => true,
    }
}

impl PageLang {
    /// The language chosen on the pages before (its cookie); otherwise Kazakh unless the
    /// browser prefers Russian.
    pub fn from_headers(headers: &HeaderMap) -> PageLang {
        let kept = headers
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|cookies| session::cookie(cookies, LANG_COOKIE))
            .and_then(PageLang::parse);
        if let Some(lang) = kept {
            return lang;
        }
        match error::Lang::from_headers(headers) {
            error::Lang::Ru if accepts_russian(headers) => PageLang::Ru,
            _ => PageLang::Kk,
        }
    }
}

/// Whether the header actually names Russian (the API's default is Russian when nothing
/// matches; the pages' default is the state language).
fn accepts_russian(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("ru"))
}

/// A signed-in parent: the application the session opens.
pub struct Parent {
    pub session: ParentSession,
    /// `ESL-17`, for the header.
    pub number: String,
    cookie: String,
}

/// A signed-in staff member.
pub struct Staff {
    pub account: StaffAccount,
    cookie: String,
}

/// A person signed in through the identity provider (issue 14).
pub struct SignedPerson {
    pub person: crate::http::auth::Person,
    cookie: String,
}

/// What every page needs to know about its request.
pub struct Page {
    pub lang: PageLang,
    /// `?lang=` was given: the choice is kept in a cookie.
    lang_chosen: bool,
    /// The path and the query without `lang`, for the language switch.
    path: String,
    query: Vec<(String, String)>,
    pub parent: Option<Parent>,
    pub staff: Option<Staff>,
    pub person: Option<SignedPerson>,
    pub ip: ClientIp,
    pub keys: std::sync::Arc<SessionKeys>,
    /// The service's clock at the request (sessions follow it, so a test that moves a
    /// manual clock ages them too).
    pub now: chrono::DateTime<chrono::Utc>,
    fingerprint: Option<[u8; 32]>,
}

impl FromRequestParts<AppState> for Page {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Page, Response> {
        let query: Vec<(String, String)> = parts
            .uri
            .query()
            .and_then(|q| serde_urlencoded::from_str(q).ok())
            .unwrap_or_default();
        let asked = query
            .iter()
            .find(|(k, _)| k == "lang")
            .and_then(|(_, v)| PageLang::parse(v));
        let lang = asked.unwrap_or_else(|| PageLang::from_headers(&parts.headers));
        let now = app.service.now();
        let keys = std::sync::Arc::clone(&app.sessions);
        let (parent, staff) =
            signed_in(app, &parts.headers, lang.api()).map_err(IntoResponse::into_response)?;
        let ip = ClientIp::from_request_parts(parts, app)
            .await
            .expect("infallible");
        let person = crate::http::auth::signed_in_person(app, &parts.headers).map(|person| {
            let cookie = parts
                .headers
                .get(header::COOKIE)
                .and_then(|v| v.to_str().ok())
                .and_then(|c| session::cookie(c, session::PERSON_COOKIE))
                .unwrap_or_default()
                .to_string();
            SignedPerson { person, cookie }
        });
        Ok(Page {
            lang,
            lang_chosen: asked.is_some(),
            path: parts.uri.path().to_string(),
            query: query.into_iter().filter(|(k, _)| k != "lang").collect(),
            parent,
            staff,
            person,
            ip,
            keys,
            now,
            fingerprint: parts.extensions.get::<super::Fingerprint>().map(|f| f.0),
        })
    }
}

/// Who the request's session cookies say is signed in, each checked against the current
/// state: a parent's session only while its access code is the current one, a staff
/// member's only while the account exists. The pages and the API's safe requests
/// (`auth::Caller`) both ask here.
pub(crate) fn signed_in(
    app: &AppState,
    headers: &HeaderMap,
    lang: error::Lang,
) -> Result<(Option<Parent>, Option<Staff>), ApiError> {
    let Some(cookies) = headers.get(header::COOKIE).and_then(|v| v.to_str().ok()) else {
        return Ok((None, None));
    };
    let now = app.service.now();
    let keys = &app.sessions;
    let parent = session::cookie(cookies, PARENT_COOKIE).and_then(|value| {
        let session = keys.parent(value, now)?;
        // A replaced access code ends the sessions opened with the old one.
        let state = app.service.read();
        let current = state.access.get(&session.application).copied();
        (current == Some(session.access_prefix)).then(|| Parent {
            session,
            number: crate::domain::numbers::application_number(&state.catalog, session.application),
            cookie: value.to_string(),
        })
    });
    let staff = match session::cookie(cookies, STAFF_COOKIE)
        .and_then(|value| Some((value, keys.staff(value, now)?)))
    {
        Some((value, session)) => app
            .reads
            .with(|conn| crate::store::staff::by_token_hash(conn, &session.token_hash))
            .map_err(|e| super::auth::internal(e, lang))?
            .map(|account| Staff {
                account,
                cookie: value.to_string(),
            }),
        None => match session::cookie(cookies, STAFF_COOKIE)
            .and_then(|value| Some((value, keys.staff_subject(value, now)?)))
        {
            // Signed in through the provider: the account must still be live and bound to
            // the same subject, and the session from the provider staff sign in through now
            // (not the parents' one, once staff have their own).
            Some((_, session))
                if app
                    .staff_provider()
                    .is_none_or(|p| p.config().issuer != session.issuer) =>
            {
                None
            }
            Some((value, session)) => app
                .reads
                .with(|conn| {
                    crate::store::identity::staff_bound(conn, &session.name, &session.subject)
                })
                .map_err(|e| super::auth::internal(e, lang))?
                .map(|account| Staff {
                    account,
                    cookie: value.to_string(),
                }),
            None => None,
        },
    };
    Ok((parent, staff))
}

/// A form's fields, in order (a name may repeat: the chosen kindergartens).
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Fields {
        Fields(serde_urlencoded::from_bytes(body).unwrap_or_default())
    }

    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Where a form's answer goes: the page after a POST that worked (303, so a reload does not
/// post again).
pub fn see_other(location: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(
            header::LOCATION,
            HeaderValue::from_str(location).expect("our own paths"),
        )],
    )
        .into_response()
}

impl Page {
    pub fn t(&self, text: T) -> &'static str {
        self.lang.t(text)
    }

    /// A table's head row: one column header per text, in this page's language.
    pub fn column_heads(&self, columns: &[T]) -> Markup {
        html! {
            thead { tr {
                @for column in columns {
                    th scope="col" { (self.t(*column)) }
                }
            } }
        }
    }

    /// A query parameter of this request.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The cookie of the parent's or the staff member's session, as `staff` says.
    fn session_cookie(&self, staff: bool) -> Option<&str> {
        if staff {
            self.staff.as_ref().map(|s| s.cookie.as_str())
        } else {
            self.parent.as_ref().map(|p| p.cookie.as_str())
        }
    }

    /// The CSRF token for the signed-in person's forms (sign-out).
    pub fn person_csrf(&self) -> String {
        self.person
            .as_ref()
            .map(|p| self.keys.csrf(&p.cookie))
            .unwrap_or_default()
    }

    pub fn person_csrf_ok(&self, fields: &Fields) -> bool {
        self.person
            .as_ref()
            .is_some_and(|p| self.keys.csrf_matches(&p.cookie, fields.get("csrf")))
    }

    /// The CSRF token for the session's forms (parent or staff, as `staff` says).
    pub fn csrf(&self, staff: bool) -> String {
        self.session_cookie(staff)
            .map(|c| self.keys.csrf(c))
            .unwrap_or_default()
    }

    /// Whether a posted form carries this session's CSRF token.
    /// "The same request" for a form the fingerprint middleware left unread (multipart).
    pub fn set_fingerprint(&mut self, fingerprint: [u8; 32]) {
        self.fingerprint = Some(fingerprint);
    }

    pub fn csrf_ok(&self, fields: &Fields, staff: bool) -> bool {
        self.session_cookie(staff)
            .is_some_and(|c| self.keys.csrf_matches(c, fields.get("csrf")))
    }

    /// The answer to a posted form without this session's CSRF token (or whose session is
    /// gone): 403, asking to reload the page.
    pub fn form_expired(&self) -> Response {
        self.message(
            StatusCode::FORBIDDEN,
            self.t(texts::ERROR_TITLE),
            self.t(texts::FORM_EXPIRED),
        )
    }

    /// The hidden fields every session form carries.
    pub fn form_guard(&self, staff: bool) -> Markup {
        html! {
            input type="hidden" name="csrf" value=(self.csrf(staff));
            input type="hidden" name="idempotency_key" value=(uuid::Uuid::new_v4());
        }
    }

    /// Runs a command as `caller`; a form posted twice (same idempotency key, same body)
    /// gets the first answer and changes nothing twice.
    pub async fn submit(
        &self,
        app: &AppState,
        caller: &super::auth::Caller,
        fields: &Fields,
        command: Command,
    ) -> Result<Outcome, CommandError> {
        let key = fields.get("idempotency_key");
        let idempotency = match (key.is_empty() || key.len() > 64, self.fingerprint) {
            (false, Some(fingerprint)) => Some(Idempotency {
                scope: caller.idempotency_scope(),
                key: format!("page:{key}"),
                fingerprint,
            }),
            _ => None,
        };
        app.admit_write()?;
        let outcome = app
            .service
            .submit_idempotent(command, caller.actor(), idempotency)
            .await?;
        Ok(match outcome {
            Outcome::Replayed(first) => *first,
            outcome => outcome,
        })
    }

    /// The message a refused command shows, from the API's error table.
    pub fn command_error(&self, error: CommandError) -> (StatusCode, &'static str) {
        let error = ApiError::from_command(error, self.lang.api());
        (error.kind.status, error.kind.message(self.lang.api()))
    }

    fn lang_link(&self, lang: PageLang) -> String {
        let mut query = self.query.clone();
        query.push(("lang".into(), lang.code().into()));
        let encoded = serde_urlencoded::to_string(&query).unwrap_or_default();
        format!("{}?{encoded}", self.path)
    }

    /// The whole page around `content`. Pages with personal data are `no-store`.
    pub fn render(&self, status: StatusCode, title: &str, content: Markup) -> Response {
        let markup = layout(self.lang, Some(self), title, content);
        let mut response = (status, markup).into_response();
        let headers = response.headers_mut();
        secure_headers(headers);
        if self.lang_chosen {
            let cookie = format!(
                "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
                self.lang.code()
            );
            headers.append(
                header::SET_COOKIE,
                HeaderValue::from_str(&cookie).expect("ASCII"),
            );
        }
        response
    }

    /// `render` with 200.
    pub fn ok(&self, title: &str, content: Markup) -> Response {
        self.render(StatusCode::OK, title, content)
    }

    /// A page saying one thing, e.g. why an action was refused.
    pub fn message(&self, status: StatusCode, title: &str, text: &str) -> Response {
        self.render(status, title, message_markup(self.lang, title, text))
    }

    pub fn api_error(&self, error: ApiError) -> Response {
        let mut response = self.message(
            error.kind.status,
            self.t(texts::ERROR_TITLE),
            error.kind.message(self.lang.api()),
        );
        if let Some(seconds) = error.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

fn secure_headers(headers: &mut HeaderMap) {
    // Pages hold personal data and answers to forms: never from a cache.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
             base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// A page outside a handler (the origin check, the fallback): no session, no switch.
pub fn message_page(lang: PageLang, status: StatusCode, title: &str, text: &str) -> Response {
    let content = message_markup(lang, title, text);
    let mut response = (status, layout(lang, None, title, content)).into_response();
    secure_headers(response.headers_mut());
    response
}

/// Whether the client prefers a page to JSON: browsers put text/html first in Accept.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .and_then(|accept| accept.split(',').next())
        .is_some_and(|first| first.trim().starts_with("text/html"))
}

/// The check of a printed document, as a page for whoever scanned its QR code.
pub fn verification(headers: &HeaderMap, view: &super::documents::VerificationView) -> Response {
    let lang = PageLang::from_headers(headers);
    let t = |text: T| lang.t(text);
    let (verdict, class) = match (view.authentic, view.valid) {
        (true, true) => (
            format!("{} {}", t(texts::VERIFY_AUTHENTIC), t(texts::VERIFY_VALID)),
            "ok",
        ),
        (true, false) => (
            format!(
                "{} {}",
                t(texts::VERIFY_AUTHENTIC),
                t(texts::VERIFY_NOT_VALID)
            ),
            "error",
        ),
        (false, _) => (t(texts::VERIFY_FORGED).to_string(), "error"),
    };
    let content = html! {
        h1 { (t(texts::VERIFY_TITLE)) }
        p.notice.(class) role="status" data-testid="verdict" { strong { (verdict) } }
        // Only an authentic document's facts: without its seal the page says nothing of
        // the number asked about (see `VerificationView`).
        @if let (Some(document), Some(standing), Some(issued_at)) =
            (&view.document, &view.standing, view.issued_at) {
            dl.facts {
                dt { (t(texts::NUMBER)) }
                dd { (document) }
                dt { (t(texts::STANDING)) }
                dd { (texts::standing(lang, standing)) }
                dt { (t(texts::ISSUED_AT)) }
                dd { (texts::local_time(issued_at)) }
                @if let Some(until) = view.valid_until {
                    dt { (t(texts::VALID_UNTIL)) }
                    dd { (texts::until_end_of(lang, until)) }
                }
            }
        }
    };
    let mut response = (
        StatusCode::OK,
        layout(lang, None, t(texts::VERIFY_TITLE), content),
    )
        .into_response();
    secure_headers(response.headers_mut());
    response
}

fn message_markup(lang: PageLang, title: &str, text: &str) -> Markup {
    html! {
        h1 { (title) }
        p.notice.error role="alert" { (text) }
        p { a href="/" { (lang.t(texts::BACK_HOME)) } }
    }
}

/// The answer to a path nothing serves: the API's JSON error under /api/, a page elsewhere.
pub async fn not_found(headers: HeaderMap, uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return error::not_found_fallback(headers).await.into_response();
    }
    let lang = PageLang::from_headers(&headers);
    message_page(
        lang,
        StatusCode::NOT_FOUND,
        lang.t(texts::NOT_FOUND_TITLE),
        error::NOT_FOUND.message(lang.api()),
    )
}

fn layout(lang: PageLang, page: Option<&Page>, title: &str, content: Markup) -> Markup {
    let nav = [
        ("/register", texts::NAV_REGISTER),
        ("/my", texts::NAV_MY),
        ("/queue", texts::NAV_QUEUE),
        ("/protocol", texts::NAV_PROTOCOL),
        ("/staff", texts::NAV_STAFF),
    ];
    let current = page.map_or("", |p| p.path.as_str());
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (lang.t(texts::SERVICE_NAME)) }
                link rel="stylesheet" href="/static/kezek.css";
            }
            body {
                a.skip href="#content" { (lang.t(texts::SKIP_TO_CONTENT)) }
                header.site {
                    div.bar {
                        a.brand href="/" {
                            span.name { (lang.t(texts::SERVICE_NAME)) }
                            span.tagline { (lang.t(texts::SERVICE_TAGLINE)) }
                        }
                        @if let Some(page) = page {
                            nav.langs aria-label=(lang.t(texts::LANG_SWITCH)) {
                                @for (other, label) in [(PageLang::Kk, "Қазақша"), (PageLang::Ru, "Русский")] {
                                    @if other == lang {
                                        span aria-current="true" lang=(other.code()) { (label) }
                                    } @else {
                                        a href=(page.lang_link(other)) lang=(other.code()) hreflang=(other.code()) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    @if let Some(page) = page { (account_line(page)) }
                    nav.main aria-label=(lang.t(texts::NAV_LABEL)) {
                        ul {
                            @for (href, label) in nav {
                                li {
                                    @if current == href || (href != "/" && current.starts_with(&format!("{href}/"))) {
                                        a href=(href) aria-current="page" { (lang.t(label)) }
                                    } @else {
                                        a href=(href) { (lang.t(label)) }
                                    }
                                }
                            }
                        }
                    }
                }
                main #content tabindex="-1" { (content) }
                footer.site { p { (lang.t(texts::FOOTER)) } }
            }
        }
    }
}

/// Who is signed in on this browser, each with a way out.
fn account_line(page: &Page) -> Markup {
    let sign_out = |staff: bool| {
        html! {
            form.inline-form method="post" action="/sign-out" {
                (page.form_guard(staff))
                input type="hidden" name="who" value=(if staff { "staff" } else { "parent" });
                button.link type="submit" { (page.t(texts::SIGN_OUT)) }
            }
        }
    };
    if page.staff.is_none() && page.parent.is_none() && page.person.is_none() {
        return html! {};
    }
    html! {
        div.account {
            @if let Some(signed) = &page.person {
                div.line {
                    span { (page.t(texts::SIGNED_IN_AS)) " " a href="/me" { (signed.person.name.as_deref().unwrap_or(page.t(texts::PERSON_WITHOUT_NAME))) } }
                    form.inline-form method="post" action="/signin/out" {
                        input type="hidden" name="csrf" value=(page.person_csrf());
                        button.link type="submit" { (page.t(texts::SIGN_OUT)) }
                    }
                }
            }
            @if let Some(staff) = &page.staff {
                div.line { span { (page.t(texts::SIGNED_IN_AS)) " " strong { (staff.account.name) } } (sign_out(true)) }
            }
            @if let Some(parent) = &page.parent {
                div.line { span { (page.t(texts::MY_TITLE)) " " a href="/my" { (parent.number) } } (sign_out(false)) }
            }
        }
    }
}

/// A labelled text input with its hint and its error, tied together for screen readers.
pub fn text_field(
    name: &str,
    label: &str,
    hint: Option<&str>,
    value: &str,
    error: Option<&str>,
    attrs: FieldAttrs,
) -> Markup {
    let hint_id = format!("{name}-hint");
    let error_id = format!("{name}-error");
    let described = [
        hint.map(|_| hint_id.as_str()),
        error.map(|_| error_id.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    html! {
        div.field.invalid[error.is_some()] {
            label for=(name) { (label) }
            @if let Some(hint) = hint { p.hint id=(hint_id) { (hint) } }
            @if let Some(error) = error { p.error-message id=(error_id) { (error) } }
            input id=(name) name=(name) type=(attrs.kind) value=(value)
                autocomplete=[attrs.autocomplete] inputmode=[attrs.inputmode]
                required[attrs.required] maxlength=[attrs.maxlength]
                aria-describedby=[(!described.is_empty()).then_some(described.as_str())]
                aria-invalid=[error.map(|_| "true")];
        }
    }
}

#[derive(Clone, Copy)]
pub struct FieldAttrs {
    pub kind: &'static str,
    pub autocomplete: Option<&'static str>,
    pub inputmode: Option<&'static str>,
    pub required: bool,
    pub maxlength: Option<u32>,
}

impl FieldAttrs {
    pub const TEXT: FieldAttrs = FieldAttrs {
        kind: "text",
        autocomplete: None,
        inputmode: None,
        required: true,
        maxlength: Some(200),
    };

    pub fn autocomplete(self, value: &'static str) -> FieldAttrs {
        FieldAttrs {
            autocomplete: Some(value),
            ..self
        }
    }

    pub fn numeric(self) -> FieldAttrs {
        FieldAttrs {
            inputmode: Some("numeric"),
            ..self
        }
    }

    /// The input's type. HTML allows `maxlength` only on the textual types (the Nu HTML
    /// checker refuses it on a number), so the others drop it.
    pub fn kind(self, kind: &'static str) -> FieldAttrs {
        let textual = matches!(
            kind,
            "text" | "email" | "password" | "search" | "tel" | "url"
        );
        FieldAttrs {
            kind,
            maxlength: self.maxlength.filter(|_| textual),
            ..self
        }
    }

    pub fn optional(self) -> FieldAttrs {
        FieldAttrs {
            required: false,
            ..self
        }
    }
}

/// Marks up pre-escaped SVG made by `chart`.
fn svg(markup: String) -> Markup {
    PreEscaped(markup)
}
