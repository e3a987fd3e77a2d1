//! Signing in at the identity provider from the pages (issue 14). `/signin` starts the
//! flow (`?for=staff` for a staff member whose account is bound to the provider's
//! subject), `/signin/callback` takes the provider's answer, `/signin/staff/callback` the
//! staff provider's when staff have their own (`[oidc.staff]`: then `?for=staff` goes
//! there, and the parents' provider signs no staff member in), `/signin/out` ends the
//! session here and, where the provider has one, at its end-session endpoint. `/me` lists
//! the signed-in person's applications; `/me/open/{number}` opens one on this browser as a
//! look-up with its code would, after checking that the person is its applicant.
//!
//! The answer from the provider arrives on a navigation another site started, where the
//! browser sends no `SameSite=Strict` cookie; so the sign-in's own cookie is `Lax` (it
//! holds only the state of one sign-in), and the callback answers with a page that links
//! on, instead of a redirect, so that the session cookie it sets is sent from the next
//! (same-site) request on.

use super::texts;
use crate::domain::numbers as ids;
use crate::http::auth::{application_access, Caller, Person};
use crate::http::error::{self, ApiError};
use crate::http::oidc::{
    CallbackAnswer, Provider, Purpose, SignInError, PENDING_TTL, SIGNIN_COOKIE, STAFF_CALLBACK_PATH,
};
use crate::http::pages::session::{
    self, PersonSession, StaffSubjectSession, PARENT_COOKIE, PERSON_COOKIE, PERSON_SESSION,
    STAFF_COOKIE, STAFF_SESSION,
};
use crate::http::pages::{see_other, Fields, Page};
use crate::http::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::Duration;
use maud::html;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/signin", get(start))
        .route("/signin/callback", get(callback))
        .route(STAFF_CALLBACK_PATH, get(staff_callback))
        .route("/signin/out", post(sign_out))
        .route("/me", get(me))
        .route("/me/open/{number}", get(open))
}

fn set_cookie(response: &mut Response, line: &str) {
    response.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(line).expect("cookies are ASCII"),
    );
}

/// A path of this service to go to after signing in (never another site's address).
fn local_path(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.len() <= 200
        && !next.starts_with("/signin")
}

fn not_configured(page: &Page) -> Response {
    page.api_error(ApiError::new(error::SIGNIN_NOT_CONFIGURED, page.lang.api()))
}

/// A refused sign-in: what went wrong, and a way to start again.
fn failed(page: &Page, refusal: SignInError, staff: bool) -> Response {
    refused(page, refusal.kind(), staff)
}

/// A sign-in refused with `kind`, and a way to start again (as another person, perhaps).
fn refused(page: &Page, kind: error::ErrorKind, staff: bool) -> Response {
    let again = if staff {
        "/signin?for=staff"
    } else {
        "/signin"
    };
    let content = html! {
        h1 { (page.t(texts::SIGNIN_FAILED_TITLE)) }
        div.notice.error role="alert" data-testid="signin-error" data-code=(kind.code) {
            p { (kind.message(page.lang.api())) }
        }
        p { a.button href=(again) { (page.t(texts::SIGNIN_AGAIN)) } }
    };
    page.render(kind.status, page.t(texts::SIGNIN_FAILED_TITLE), content)
}

async fn start(State(app): State<AppState>, page: Page) -> Response {
    let staff = page.query("for") == Some("staff");
    let provider = if staff {
        app.staff_provider().cloned()
    } else {
        app.oidc.clone()
    };
    let Some(provider) = provider else {
        return not_configured(&page);
    };
    let (purpose, default) = if staff {
        (Purpose::Staff, "/staff")
    } else {
        (Purpose::Parent, "/me")
    };
    let next = page
        .query("next")
        .filter(|n| local_path(n))
        .unwrap_or(default);
    match provider.begin(purpose, next, page.now).await {
        Ok((url, state)) => {
            let mut response = see_other(&url);
            let value = page.keys.signin_cookie(&state, page.now + PENDING_TTL);
            set_cookie(
                &mut response,
                &page.keys.set_lax_cookie(SIGNIN_COOKIE, &value, PENDING_TTL),
            );
            response
        }
        Err(refusal) => failed(&page, refusal, staff),
    }
}

/// The provider's answer as this browser brings it: the query, and the state its sign-in
/// cookie carries.
fn answer_of(page: &Page, headers: &HeaderMap) -> (CallbackAnswer, Option<String>) {
    let answer = CallbackAnswer {
        code: page.query("code").map(str::to_string),
        state: page.query("state").map(str::to_string),
        error: page.query("error").map(str::to_string),
    };
    let cookie_state = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| session::cookie(c, SIGNIN_COOKIE))
        .and_then(|value| page.keys.signin_state(value, page.now));
    (answer, cookie_state)
}

/// The sign-in's cookie is spent, whatever the answer was.
fn spend_signin_cookie(page: &Page, mut response: Response) -> Response {
    let line = page
        .keys
        .set_lax_cookie(SIGNIN_COOKIE, "", Duration::zero());
    set_cookie(&mut response, &line);
    response
}

/// The parents' provider's answer: a parent's sign-in, or a staff member's while staff
/// have no provider of their own.
async fn callback(State(app): State<AppState>, page: Page, headers: HeaderMap) -> Response {
    let Some(provider) = app.oidc.clone() else {
        return not_configured(&page);
    };
    let (answer, cookie_state) = answer_of(&page, &headers);
    let response = match provider
        .finish(&answer, cookie_state.as_deref(), page.now)
        .await
    {
        Ok(signed) if signed.purpose == Purpose::Parent => {
            match provider.person(&signed.verified) {
                Ok(identity) => person_signed_in(&page, &identity, &signed.next),
                Err(refusal) => failed(&page, refusal, false),
            }
        }
        // Started as a staff sign-in here only while staff had no provider of their own;
        // once they have, the parents' provider's word opens no staff session.
        Ok(_) if !app.parents_provider_signs_staff_in() => {
            failed(&page, SignInError::StateInvalid, true)
        }
        Ok(signed) => match provider.staff_subject(&signed.verified) {
            Ok(subject) => staff_signed_in(&app, &page, &provider, &subject, &signed.next),
            Err(refusal) => failed(&page, refusal, true),
        },
        Err(refusal) => failed(&page, refusal, false),
    };
    spend_signin_cookie(&page, response)
}

/// The staff provider's answer (`[oidc.staff]`): staff sign-ins only.
async fn staff_callback(State(app): State<AppState>, page: Page, headers: HeaderMap) -> Response {
    let Some(provider) = app.staff_oidc.clone() else {
        return not_configured(&page);
    };
    let (answer, cookie_state) = answer_of(&page, &headers);
    let response = match provider
        .finish(&answer, cookie_state.as_deref(), page.now)
        .await
        .and_then(|signed| {
            // Only staff sign-ins are ever started at the staff provider.
            if signed.purpose != Purpose::Staff {
                return Err(SignInError::StateInvalid);
            }
            Ok((provider.staff_subject(&signed.verified)?, signed.next))
        }) {
        Ok((subject, next)) => staff_signed_in(&app, &page, &provider, &subject, &next),
        Err(refusal) => failed(&page, refusal, true),
    };
    spend_signin_cookie(&page, response)
}

fn person_signed_in(page: &Page, identity: &crate::http::oidc::Identity, next: &str) -> Response {
    let session = PersonSession {
        subject: identity.subject.clone(),
        iin: identity.iin.as_string(),
        name: identity.name.clone(),
        expires: page.now + PERSON_SESSION,
    };
    let value = page.keys.person_cookie(&session);
    let mut response = continue_page(page, next);
    let line = page.keys.set_cookie(PERSON_COOKIE, &value, PERSON_SESSION);
    set_cookie(&mut response, &line);
    response
}

fn staff_signed_in(
    app: &AppState,
    page: &Page,
    provider: &Provider,
    subject: &str,
    next: &str,
) -> Response {
    let lang = page.lang.api();
    let account = app
        .reads
        .with(|conn| crate::store::identity::staff_by_subject(conn, subject));
    match account {
        Err(e) => page.api_error(crate::http::auth::internal(e, lang)),
        Ok(None) => refused(page, error::STAFF_NOT_BOUND, true),
        Ok(Some(account)) => {
            let session = StaffSubjectSession {
                name: account.name,
                subject: subject.to_string(),
                issuer: provider.config().issuer.clone(),
                expires: page.now + STAFF_SESSION,
            };
            let value = page.keys.staff_subject_cookie(&session);
            let mut response = continue_page(page, next);
            let line = page.keys.set_cookie(STAFF_COOKIE, &value, STAFF_SESSION);
            set_cookie(&mut response, &line);
            response
        }
    }
}

/// "Signed in", with the way on (see the module's note on why not a redirect).
fn continue_page(page: &Page, next: &str) -> Response {
    let content = html! {
        h1 { (page.t(texts::SIGNED_IN_TITLE)) }
        p role="status" { (page.t(texts::SIGNED_IN_TEXT)) }
        p { a.button href=(next) data-testid="continue" { (page.t(texts::SIGNED_IN_CONTINUE)) } }
    };
    page.ok(page.t(texts::SIGNED_IN_TITLE), content)
}

async fn sign_out(State(app): State<AppState>, page: Page, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    if !page.person_csrf_ok(&fields) {
        return page.form_expired();
    }
    let at_provider = match &app.oidc {
        Some(provider) => provider.end_session_url().await,
        None => None,
    };
    let mut response = match at_provider {
        Some(url) => signed_out_page(&page, &url),
        None => see_other("/"),
    };
    for name in [PERSON_COOKIE, PARENT_COOKIE] {
        let line = page.keys.set_cookie(name, "", Duration::zero());
        set_cookie(&mut response, &line);
    }
    response
}

/// "Signed out here", with the way to sign out at the provider too. A page with a link
/// rather than a redirect: the pages' `form-action 'self'` keeps a form's answer from
/// sending the browser to another site, and a link is the person's own step to the
/// provider's end-session page.
fn signed_out_page(page: &Page, url: &str) -> Response {
    let content = html! {
        h1 { (page.t(texts::SIGNED_OUT_TITLE)) }
        p role="status" { (page.t(texts::SIGNED_OUT_TEXT)) }
        p { a.button href=(url) data-testid="provider-signout" { (page.t(texts::SIGNED_OUT_AT_PROVIDER)) } }
    };
    page.ok(page.t(texts::SIGNED_OUT_TITLE), content)
}

/// Where a staff member's sign-out leads (their cookie is cleared by the caller): for a
/// session opened at the provider staff sign in through, the page that offers its
/// end-session endpoint when it has one; else back to the staff entrance.
pub(super) async fn staff_signed_out(app: &AppState, page: &Page) -> Response {
    let at_provider = page
        .staff
        .as_ref()
        .and_then(|staff| page.keys.staff_subject(&staff.cookie, page.now));
    let provider = app.staff_provider().cloned();
    match (at_provider, provider) {
        (Some(_), Some(provider)) => match provider.end_session_url().await {
            Some(url) => signed_out_page(page, &url),
            None => see_other("/staff"),
        },
        _ => see_other("/staff"),
    }
}

/// The signed-in person, or the answer that sends them to sign in first (boxed: a
/// response is large beside a person).
fn person_or_sign_in(app: &AppState, page: &Page, next: &str) -> Result<Person, Box<Response>> {
    if app.oidc.is_none() {
        return Err(Box::new(not_configured(page)));
    }
    match &page.person {
        Some(signed) => Ok(signed.person.clone()),
        None => Err(Box::new(see_other(&format!("/signin?next={next}")))),
    }
}

async fn me(State(app): State<AppState>, page: Page) -> Response {
    let person = match person_or_sign_in(&app, &page, "/me") {
        Ok(person) => person,
        Err(response) => return *response,
    };
    let lang = page.lang.api();
    let found = crate::http::applications::applications_of_person(&app, lang, &person.iin).await;
    let found = match found {
        Ok(found) => found,
        Err(error) => return page.api_error(error),
    };
    let catalog = app.service.read().catalog.clone();
    let content = html! {
        h1 { (page.t(texts::ME_TITLE)) }
        @if found.is_empty() {
            p data-testid="me-empty" { (page.t(texts::ME_EMPTY)) }
        } @else {
            table data-testid="me-applications" {
                thead { tr {
                    th scope="col" { (page.t(texts::REGISTERED_NUMBER)) }
                    th scope="col" { (page.t(texts::FIELD_CHILD)) }
                    th scope="col" { (page.t(texts::ME_STATUS)) }
                } }
                tbody {
                    @for application in &found {
                        @let number = ids::application_number(&catalog, application.id);
                        tr {
                            td { a href=(format!("/me/open/{number}")) { (number) } }
                            td { (application.child.full_name) }
                            td { (texts::status(page.lang, &crate::http::views::codec_text(&application.status))) }
                        }
                    }
                }
            }
        }
        p { a.button.secondary href="/register" { (page.t(texts::REGISTER_TITLE)) } }
    };
    page.ok(page.t(texts::ME_TITLE), content)
}

async fn open(State(app): State<AppState>, page: Page, Path(number): Path<String>) -> Response {
    let person = match person_or_sign_in(&app, &page, "/me") {
        Ok(person) => person,
        Err(response) => return *response,
    };
    let lang = page.lang.api();
    let id = ids::parse_application(&app.service.read().catalog, &number);
    let id = match application_access(&app, &Caller::Person(person), page.ip, id, lang) {
        Ok(id) => id,
        Err(error) => return page.api_error(error),
    };
    let Some(prefix) = app.service.read().access.get(&id).copied() else {
        return page.api_error(ApiError::new(error::NOT_FOUND, lang));
    };
    let mut response = see_other("/my");
    super::sign_in(&page, &mut response, id, prefix);
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_local_paths_are_followed_after_signing_in() {
        assert!(super::local_path("/register"));
        assert!(!super::local_path("//evil.example/"));
        assert!(!super::local_path("https://evil.example/"));
        assert!(!super::local_path("/\\evil.example"));
        assert!(!super::local_path("/signin/callback"));
    }
}
