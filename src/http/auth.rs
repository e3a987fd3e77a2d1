//! Who is calling: a staff account (bearer token), a parent (application number and access
//! code), or the public. And the checks each endpoint makes of them.
//!
//! A parent's failed check, whatever the cause (no such application, wrong code, a code for
//! another application), answers the same 404: the API is no oracle for which numbers exist.
//! Look-ups and wrong codes are rate-limited per client address.

use super::error::{self, ApiError, Lang};
use super::AppState;
use crate::domain::access;
use crate::domain::application::ApplicationId;
use crate::domain::catalog::DistrictId;
use crate::domain::event::Actor;
use crate::domain::staff::{self, Role, StaffAccount};
use crate::store;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::Method;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The access-code header. A header, not a query parameter: URLs end up in logs.
pub const ACCESS_CODE_HEADER: &str = "x-access-code";

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Lang, Self::Rejection> {
        Ok(Lang::from_headers(&parts.headers))
    }
}

/// The client's address, for rate limits: the peer, or behind a trusted proxy the address
/// it forwards (see `proxy`); 0.0.0.0 when unknown, e.g. in-process tests.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<ClientIp, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        Ok(ClientIp(app.proxies.client(peer, &parts.headers)))
    }
}

#[derive(Clone, Debug)]
pub enum Caller {
    Staff(StaffAccount),
    /// Someone presenting an access code; whether it opens anything is checked per request.
    Parent(String),
    /// A parent signed in on the web pages (a signed cookie for one application). Only
    /// safe requests (GET, HEAD) of the API take the cookie, so a page can link to the
    /// printable documents while no other site can make a browser change anything.
    Session(crate::http::pages::session::ParentSession),
    /// A person the identity provider vouched for (issue 14): through the API with the
    /// provider's ID token as bearer, or, on safe requests, the pages' person cookie. They
    /// reach every application where they are the applicant, and no other.
    Person(Person),
    Public,
}

/// A signed-in person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// The provider's subject.
    pub subject: String,
    /// The person's IIN, 12 digits, from the verified token.
    pub iin: String,
    /// The full name, when the provider gives one.
    pub name: Option<String>,
}

impl Person {
    pub fn of(identity: &super::oidc::Identity) -> Person {
        Person {
            subject: identity.subject.clone(),
            iin: identity.iin.as_string(),
            name: identity.name.clone(),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Caller, ApiError> {
        let lang = Lang::from_headers(&parts.headers);
        if let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| ApiError::new(error::UNAUTHORIZED, lang))?;
            if super::oidc::looks_like_jwt(token) {
                let provider = app
                    .oidc
                    .as_ref()
                    .ok_or_else(|| ApiError::new(error::UNAUTHORIZED, lang))?;
                let identity = provider
                    .verify(token, None, app.service.now())
                    .await
                    .map_err(|refusal| ApiError::new(refusal.kind(), lang))?;
                return Ok(Caller::Person(Person::of(&identity)));
            }
            let hash = staff::token_hash(token);
            let account = app
                .reads
                .with(|conn| store::staff::by_token_hash(conn, &hash))
                .map_err(|e| internal(e, lang))?;
            return match account {
                Some(account) => Ok(Caller::Staff(account)),
                None => Err(ApiError::new(error::UNAUTHORIZED, lang)),
            };
        }
        if let Some(code) = parts.headers.get(ACCESS_CODE_HEADER) {
            let code = code.to_str().unwrap_or("").to_string();
            return Ok(Caller::Parent(code));
        }
        if matches!(parts.method, Method::GET | Method::HEAD) {
            if let Some(caller) = cookie_caller(parts, app, lang)? {
                return Ok(caller);
            }
        }
        Ok(Caller::Public)
    }
}

/// The web pages' session, for the API's safe requests (the printable documents).
fn cookie_caller(parts: &Parts, app: &AppState, lang: Lang) -> Result<Option<Caller>, ApiError> {
    let (parent, staff) = crate::http::pages::signed_in(app, &parts.headers, lang)?;
    Ok(match (staff, parent) {
        (Some(staff), _) => Some(Caller::Staff(staff.account)),
        (None, Some(parent)) => Some(Caller::Session(parent.session)),
        (None, None) => signed_in_person(app, &parts.headers).map(Caller::Person),
    })
}

/// The person the pages' cookie names, while a provider is configured.
pub fn signed_in_person(app: &AppState, headers: &axum::http::HeaderMap) -> Option<Person> {
    use crate::http::pages::session;
    app.oidc.as_ref()?;
    let cookies = headers
        .get(axum::http::header::COOKIE)
        .and_then(|v| v.to_str().ok())?;
    let value = session::cookie(cookies, session::PERSON_COOKIE)?;
    let found = app.sessions.person(value, app.service.now())?;
    Some(Person {
        subject: found.subject,
        iin: found.iin,
        name: found.name,
    })
}

pub fn internal(error: store::StoreError, lang: Lang) -> ApiError {
    tracing::error!(%error, "storage failure behind an API request");
    ApiError::new(error::INTERNAL, lang)
}

impl Caller {
    pub fn staff(&self, lang: Lang) -> Result<&StaffAccount, ApiError> {
        match self {
            Caller::Staff(account) => Ok(account),
            _ => Err(ApiError::new(error::UNAUTHORIZED, lang)),
        }
    }

    /// A staff account with one of `roles`.
    pub fn staff_in(&self, roles: &[Role], lang: Lang) -> Result<&StaffAccount, ApiError> {
        let account = self.staff(lang)?;
        if roles.contains(&account.role) {
            Ok(account)
        } else {
            Err(ApiError::new(error::FORBIDDEN, lang))
        }
    }

    pub fn actor(&self) -> Actor {
        match self {
            Caller::Staff(account) => Actor::staff(&account.name),
            _ => Actor::portal(),
        }
    }

    /// Whose Idempotency-Keys these are.
    pub fn idempotency_scope(&self) -> String {
        match self {
            Caller::Staff(account) => format!("staff:{}", account.name),
            // One person's key never answers with another's registration.
            Caller::Person(person) => format!("person:{}", person.subject),
            _ => "portal".to_string(),
        }
    }
}

/// An officer (or, where `operators` is true, an operator) of `district`.
pub fn district_staff(
    caller: &Caller,
    district: DistrictId,
    operators: bool,
    lang: Lang,
) -> Result<StaffAccount, ApiError> {
    let roles: &[Role] = if operators {
        &[Role::Officer, Role::Operator]
    } else {
        &[Role::Officer]
    };
    let account = caller.staff_in(roles, lang)?;
    if !account.serves_district(district) {
        return Err(ApiError::new(error::FORBIDDEN, lang));
    }
    Ok(account.clone())
}

/// Who may read or act on an application: its parent (with the right code), or an officer
/// or operator of its district.
pub fn application_access(
    app: &AppState,
    caller: &Caller,
    ip: ClientIp,
    id: Option<ApplicationId>,
    lang: Lang,
) -> Result<ApplicationId, ApiError> {
    match caller {
        Caller::Public => Err(ApiError::new(error::ACCESS_CODE_REQUIRED, lang)),
        Caller::Staff(_) => {
            let id = id.ok_or_else(|| ApiError::new(error::NOT_FOUND, lang))?;
            district_staff(caller, id.district, true, lang)?;
            Ok(id)
        }
        Caller::Session(session) => {
            let stored = app.service.read().access.get(&session.application).copied();
            // The session opens its own application while its code is the current one.
            if id == Some(session.application) && stored == Some(session.access_prefix) {
                Ok(session.application)
            } else {
                Err(ApiError::new(error::NOT_FOUND, lang))
            }
        }
        Caller::Person(person) => {
            let id = id.ok_or_else(|| ApiError::new(error::NOT_FOUND, lang))?;
            let application = app
                .reads
                .with(|conn| store::application(conn, id))
                .map_err(|e| internal(e, lang))?;
            // Another person's application answers as one that does not exist.
            match application {
                Some(found) if found.applicant.iin.as_string() == person.iin => Ok(id),
                _ => Err(ApiError::new(error::NOT_FOUND, lang)),
            }
        }
        Caller::Parent(code) => {
            if let Err(retry_after) = app.limits.check_lookup(ip.0, id) {
                return Err(ApiError::new(error::RATE_LIMITED, lang).retry_after(retry_after));
            }
            let not_found = || {
                app.limits.wrong_code(ip.0, id);
                ApiError::new(error::NOT_FOUND, lang)
            };
            let id = id.ok_or_else(not_found)?;
            let stored = app.service.read().access.get(&id).copied();
            match stored {
                Some(prefix) if access::matches_prefix(id, code, prefix) => Ok(id),
                _ => Err(not_found()),
            }
        }
    }
}
