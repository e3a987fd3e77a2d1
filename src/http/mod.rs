//! HTTP: the only module that knows JSON over the wire and status codes. Handlers are thin:
//! they check who is calling, turn the request into a command or a read, and shape the
//! answer. One router per audience, all under `/api/v1`, described by an OpenAPI document
//! generated from the handlers themselves (`/api/v1/openapi.json`).
//!
//! Layers, outermost first: tracing (request id, route template, status, latency; never
//! paths, queries, headers or bodies, which hold numbers and codes), metrics, a panicking
//! handler answered with 500, a timeout, the body limit, and the request fingerprint that
//! Idempotency-Key compares.

pub mod admission;
pub mod error;
pub mod extract;
#[doc(hidden)]
pub mod fuzzing;
pub mod limits;
pub mod metrics;
pub mod middleware;
pub mod oidc;
pub mod proxy;
pub mod server;

pub mod pages;

mod access_log;
mod admin;
mod applications;
mod attachments;
mod auth;
mod documents;
pub(crate) mod export;
mod identity;
pub mod intake;
mod kindergarten;
mod opendata;
mod public;
mod readiness;
mod reports;
mod staff;
mod views;
pub mod what_if;

pub use auth::ACCESS_CODE_HEADER;

use crate::clock::ManualClock;
use crate::documents::DocumentSigner;
use crate::service::{Command, CommandError, Idempotency, Outcome, Service};
use crate::store::ReadPool;
use auth::Caller;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use error::{ApiError, Lang};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// The largest request body: a registration is about 1 KB; a calendar year's text ~10 KB.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct HttpConfig {
    pub limits: limits::LimitConfig,
    /// A request not answered by then gets 503 `timeout`.
    pub request_timeout: Duration,
    /// The key that signs the result documents; when `None`, the deployment's key in the
    /// database's directory (made there on the first start).
    pub signer: Option<Arc<DocumentSigner>>,
    /// The service's public address as printed on documents (`https://kezek.example.kz`),
    /// from `public_url_for`. Never the request's Host header: a forged Host would print a
    /// forger's address in the verification link of a genuine document. When `None` (a
    /// router built by a library user that gave none), `http://localhost`.
    pub public_url: Option<String>,
    /// Whose forwarding headers name the client (none by default: the peer is the client).
    pub proxies: proxy::TrustedProxies,
    /// Registration quotas and the writer queue's ceiling; off by default (see `admission`).
    pub admission: admission::AdmissionConfig,
    /// The documents' verification endpoint's own quota per client.
    pub verifications: limits::VerificationQuota,
    /// The identity provider parents and staff sign in through; `None`: access codes only.
    pub oidc: Option<oidc::OidcConfig>,
    /// Another provider for staff (`[oidc.staff]`): when given, staff sign in there only,
    /// and `oidc` signs in parents only.
    pub staff_oidc: Option<oidc::OidcConfig>,
    /// `already_queued` answers a signed-in person may get an hour before their
    /// registrations are refused (`registration_attempts_limited`).
    pub refusals_per_person_per_hour: usize,
    /// Where the daily open-data snapshots are (`[open_data] dir`); when `None`,
    /// `<db>.open-data/` beside the database.
    pub open_data_dir: Option<PathBuf>,
    /// The limits on attached files (`[attachments]`).
    pub attachments: crate::domain::attachment::AttachmentLimits,
    /// The ClamAV daemon that scans them (`[attachments] clamd`), if any.
    pub clamd: Option<crate::scan::Clamd>,
}

/// Three: a parent who mistyped a child's IIN or registers siblings sees the answer; a
/// prober learns three children's standing an hour, each attempt recorded with their name.
pub const REFUSALS_PER_PERSON_PER_HOUR: usize = 3;

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            limits: limits::LimitConfig::default(),
            request_timeout: Duration::from_secs(10),
            signer: None,
            public_url: None,
            proxies: proxy::TrustedProxies::default(),
            admission: admission::AdmissionConfig::OFF,
            verifications: limits::VerificationQuota::default(),
            oidc: None,
            staff_oidc: None,
            refusals_per_person_per_hour: REFUSALS_PER_PERSON_PER_HOUR,
            open_data_dir: None,
            attachments: crate::config::AttachmentSettings::default().limits(),
            clamd: None,
        }
    }
}

impl HttpConfig {
    /// The HTTP layer's part of the service's configuration (the signer is loaded apart).
    pub fn from_config(config: &crate::config::Config) -> HttpConfig {
        let limits = &config.limits;
        HttpConfig {
            limits: limits::LimitConfig {
                lookups_per_minute: limits.lookups_per_minute,
                lookup_burst: limits.lookup_burst,
                wrong_codes_per_hour: limits.wrong_codes_per_hour,
                wrong_code_burst: limits.wrong_code_burst,
            },
            request_timeout: config.request_timeout(),
            signer: None,
            public_url: config
                .public_url
                .as_ref()
                .map(|url| url.trim_end_matches('/').to_string()),
            proxies: proxy::TrustedProxies {
                networks: config.proxy.trusted.clone(),
                header: config.proxy.header,
            },
            admission: admission::AdmissionConfig {
                registrations_per_client_per_hour: limits.registrations_per_client_per_hour,
                registrations_per_applicant_per_hour: limits.registrations_per_applicant_per_hour,
                pending_writes: limits.pending_writes,
            },
            verifications: limits::VerificationQuota::default(),
            oidc: None,
            staff_oidc: None,
            refusals_per_person_per_hour: REFUSALS_PER_PERSON_PER_HOUR,
            open_data_dir: config.open_data.dir.clone(),
            attachments: config.attachments.limits(),
            clamd: config
                .attachments
                .clamd
                .as_deref()
                .map(crate::scan::Clamd::parse),
        }
    }
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("limits", &self.limits)
            .field("request_timeout", &self.request_timeout)
            // The key's id only: the key itself never leaves the signer.
            .field("signer", &self.signer.as_ref().map(|s| s.public_key().id))
            .field("public_url", &self.public_url)
            .field("proxies", &self.proxies)
            .field("admission", &self.admission)
            .field("verifications", &self.verifications)
            .field("oidc", &self.oidc.as_ref().map(|o| &o.issuer))
            .field("staff_oidc", &self.staff_oidc.as_ref().map(|o| &o.issuer))
            .field("attachments", &self.attachments)
            .field("clamd", &self.clamd)
            .finish()
    }
}

/// What every handler reads, behind one `Arc`: axum clones the state for each extractor and
/// layer of every request, and one reference count is cheaper than one per field.
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

impl AppStateInner {
    /// The provider staff sign in through: their own (`[oidc.staff]`) when configured,
    /// else the parents' one; `None` when neither is.
    fn staff_provider(&self) -> Option<&Arc<oidc::Provider>> {
        self.staff_oidc.as_ref().or(self.oidc.as_ref())
    }

    /// Whether the parents' provider may sign staff in: only when staff have none of their
    /// own.
    fn parents_provider_signs_staff_in(&self) -> bool {
        self.staff_oidc.is_none()
    }

    /// Whether a write may join the writer's queue now (see `admission`).
    fn admit_write(&self) -> Result<(), CommandError> {
        self.admission
            .write(self.service.pending_commands())
            .map_err(refused)
    }

    /// Whether `caller` may register `children` children for `applicant` now: staff always;
    /// the portal within its quotas (see `admission`).
    fn admit_registration(
        &self,
        caller: &auth::Caller,
        client: auth::ClientIp,
        applicant: &str,
        children: usize,
    ) -> Result<(), CommandError> {
        if matches!(caller, auth::Caller::Staff(_)) {
            return Ok(());
        }
        self.admission
            .registration(client.0, applicant, children)
            .map_err(refused)
    }
}

fn refused(refusal: admission::Refused) -> CommandError {
    match refusal {
        admission::Refused::Busy => CommandError::Busy,
        admission::Refused::Registrations(seconds) => CommandError::Throttled(seconds),
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

pub struct AppStateInner {
    service: Service,
    reads: Arc<ReadPool>,
    /// Present only when the service was started with `--clock manual`.
    manual_clock: Option<ManualClock>,
    limits: Arc<limits::ParentLimits>,
    verifications: Arc<limits::VerificationLimit>,
    metrics: Arc<metrics::Metrics>,
    signer: Arc<DocumentSigner>,
    /// What documents print as the service's address (see `HttpConfig::public_url`).
    public_url: Arc<str>,
    /// Signs the web pages' session cookies.
    sessions: Arc<pages::session::SessionKeys>,
    proxies: proxy::TrustedProxies,
    admission: Arc<admission::Admission>,
    /// The readiness probe's last answer (see `readiness`).
    last_probe: readiness::LastProbe,
    /// The identity provider, when one is configured (issue 14).
    oidc: Option<Arc<oidc::Provider>>,
    /// The staff's own provider (`[oidc.staff]`); when `None`, staff sign in through
    /// `oidc`. Read through `staff_provider`.
    staff_oidc: Option<Arc<oidc::Provider>>,
    /// Signed-in people's `already_queued` answers an hour.
    refusals: oidc::RefusalQuota,
    /// The database, for the record of refused attempts (written beside the writer).
    db: PathBuf,
    /// The daily open-data snapshots, served as files (see `opendata`).
    open_data: PathBuf,
    /// The limits on attached files.
    attachments: crate::domain::attachment::AttachmentLimits,
    /// The ClamAV daemon files are scanned by, if configured.
    clamd: Option<crate::scan::Clamd>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kezek",
        description = "The waiting list for state kindergarten places: parents, staff and the \
                       public. Errors are `{code, message, lang}` with a stable `code`; the \
                       message follows Accept-Language (kk, ru, en).",
    ),
    modifiers(&SecurityAddon),
    tags(
        (name = "public", description = "No authentication, no personal data"),
        (name = "parent", description = "Application number and X-Access-Code, or, with an identity provider, its ID token as bearer"),
        (name = "officer", description = "Officers and operators of a district"),
        (name = "kindergarten", description = "Kindergarten accounts"),
        (name = "admin", description = "Administrators"),
    )
)]
struct ApiDoc;

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "staff_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        // With an identity provider (issue 14): the provider's ID token as bearer.
        components.add_security_scheme(
            "id_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "access_code",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Access-Code"))),
        );
    }
}

/// The whole API and its OpenAPI document.
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(public::routes())
        .merge(readiness::routes())
        .merge(applications::routes())
        .merge(attachments::routes())
        .merge(staff::routes())
        .merge(kindergarten::routes())
        .merge(admin::routes())
        .merge(intake::routes())
        .merge(access_log::routes())
        .merge(documents::routes())
        .merge(opendata::routes())
        .merge(reports::routes())
        .merge(what_if::routes())
        .split_for_parts();
    error::document_common_errors(&mut openapi);
    (router, openapi)
}

/// The OpenAPI document, as served at /api/v1/openapi.json.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}

/// What a router given no public address prints; `kezek serve` always gives one.
const UNCONFIGURED_PUBLIC_URL: &str = "http://localhost";

/// The address documents print for verification: the configured one (without a trailing
/// slash), or the address the service is bound to. Listening on every interface
/// (0.0.0.0, ::) with none configured is refused: such a service is reached by a name or an
/// address it cannot know, and a link it made up would send people who check a document
/// elsewhere.
pub fn public_url_for(configured: Option<&str>, bound: SocketAddr) -> Result<String, String> {
    match configured.map(|url| url.trim().trim_end_matches('/')) {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
            Ok(url.to_string())
        }
        Some(_) => Err("--public-url must start with https:// or http://".into()),
        None if bound.ip().is_unspecified() => Err(format!(
            "--public-url is required when serving on every interface ({bound}): the \
             verification links printed on documents must name the address people reach"
        )),
        None => Ok(format!("http://{bound}")),
    }
}

pub fn router(
    service: Service,
    db: PathBuf,
    manual_clock: Option<ManualClock>,
    config: HttpConfig,
) -> Router {
    let metrics = Arc::new(metrics::Metrics::new());
    let signer = config.signer.unwrap_or_else(|| {
        // The key lives beside the database: back them up together.
        let dir = match db.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let signer = DocumentSigner::load_or_create(&dir).unwrap_or_else(|error| {
            panic!("the document signing key cannot be loaded or made: {error}")
        });
        Arc::new(signer)
    });
    let sessions = Arc::new(pages::session::SessionKeys::new(
        signer.derive_secret("web page sessions"),
        config
            .public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://")),
    ));
    let app = AppState(Arc::new(AppStateInner {
        sessions,
        service,
        reads: Arc::new(ReadPool::new(db.clone())),
        oidc: config.oidc.map(|c| Arc::new(oidc::Provider::new(c))),
        staff_oidc: config.staff_oidc.map(|c| Arc::new(oidc::Provider::new(c))),
        refusals: oidc::RefusalQuota::new(config.refusals_per_person_per_hour),
        open_data: config
            .open_data_dir
            .unwrap_or_else(|| crate::opendata::default_dir(&db)),
        db,
        attachments: config.attachments,
        clamd: config.clamd,
        manual_clock,
        last_probe: Default::default(),
        proxies: config.proxies,
        admission: Arc::new(admission::Admission::new(config.admission)),
        limits: Arc::new(limits::ParentLimits::new(config.limits)),
        verifications: Arc::new(limits::VerificationLimit::new(config.verifications)),
        metrics: Arc::clone(&metrics),
        signer,
        public_url: Arc::from(
            config
                .public_url
                .as_deref()
                .unwrap_or(UNCONFIGURED_PUBLIC_URL)
                .trim_end_matches('/'),
        ),
    }));
    let (api, document) = api();
    let document = Arc::new(document);
    let limits = Arc::clone(&app.limits);
    let admission = Arc::clone(&app.admission);
    let verifications = Arc::clone(&app.verifications);
    tokio::spawn(async move {
        // The per-client maps would otherwise keep every address ever seen.
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            limits.retain_recent();
            admission.retain_recent();
            verifications.retain_recent();
        }
    });
    api.route(
        "/api/v1/openapi.json",
        axum::routing::get(move || {
            let document = Arc::clone(&document);
            async move { axum::Json(document.as_ref().clone()) }
        }),
    )
    .route("/metrics", axum::routing::get(metrics_endpoint))
    .merge(pages::routes())
    .fallback(pages::not_found)
    .method_not_allowed_fallback(error::method_not_allowed_fallback)
    .layer(from_fn(fingerprint))
    .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
    .layer(from_fn_with_state(
        config.request_timeout,
        middleware::timeout,
    ))
    .layer(from_fn(middleware::catch_panics))
    .layer(from_fn_with_state(metrics, metrics::track))
    .layer(from_fn(middleware::trace))
    .with_state(app)
}

async fn metrics_endpoint(axum::extract::State(app): axum::extract::State<AppState>) -> Response {
    let (waiting, live) = {
        let state = app.service.read();
        (state.waiting.len() as f64, state.live.len() as f64)
    };
    let stats = app.service.stats();
    let commits = stats.commits.load(std::sync::atomic::Ordering::Relaxed) as f64;
    let commands = stats.commands.load(std::sync::atomic::Ordering::Relaxed) as f64;
    let text = app.metrics.render(&[
        (
            "kezek_applications_waiting",
            "Applications on the waiting list",
            "gauge",
            waiting,
        ),
        (
            "kezek_referrals_live",
            "Referrals issued and not yet ended",
            "gauge",
            live,
        ),
        (
            "kezek_writer_commits_total",
            "Transactions committed",
            "counter",
            commits,
        ),
        (
            "kezek_writer_commands_total",
            "Commands answered",
            "counter",
            commands,
        ),
        (
            "kezek_writer_commands_pending",
            "Commands waiting for the writer",
            "gauge",
            app.service.pending_commands() as f64,
        ),
        (
            "kezek_registrations_throttled_total",
            "Registrations refused for a client's or an applicant's hourly quota",
            "counter",
            app.admission.throttled() as f64,
        ),
        (
            "kezek_writes_busy_total",
            "Writes refused because the writer's queue was at its ceiling",
            "counter",
            app.admission.busy() as f64,
        ),
    ]);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        text,
    )
        .into_response()
}

/// SHA-256 over a POST's method, path and body: what "the same request" means for an
/// Idempotency-Key. Read here, once, within the body limit; the handler gets the body back.
#[derive(Clone, Copy)]
struct Fingerprint([u8; 32]);

/// The routes whose bodies are files, read by their handlers as streams.
const STREAMED_UPLOADS: [&str; 2] = [attachments::UPLOAD_ROUTE, attachments::PAGE_UPLOAD_ROUTE];

async fn fingerprint(request: Request, next: Next) -> Response {
    if !matches!(*request.method(), Method::POST | Method::PUT) {
        return next.run(request).await;
    }
    // A file upload streams its body within its own, larger limit and fingerprints the
    // file it stored (http/attachments.rs).
    // So does every multipart/form-data page form: its handler reads it within its own
    // limits and, when it submits a command, fingerprints what it read (pages::attachments).
    let matched = request.extensions().get::<axum::extract::MatchedPath>();
    let multipart = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("multipart/form-data"));
    if multipart || matched.is_some_and(|path| STREAMED_UPLOADS.contains(&path.as_str())) {
        return next.run(request).await;
    }
    let lang = Lang::from_headers(request.headers());
    let (mut parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, BODY_LIMIT_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return ApiError::new(error::PAYLOAD_TOO_LARGE, lang).into_response(),
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(parts.uri.path().as_bytes());
    hasher.update(b"\n");
    hasher.update(&bytes);
    parts
        .extensions
        .insert(Fingerprint(hasher.finalize().into()));
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A command from a handler, with the client's Idempotency-Key if it sent one.
struct Submission<'a> {
    app: &'a AppState,
    caller: &'a Caller,
    key: Option<String>,
    fingerprint: Option<[u8; 32]>,
    lang: Lang,
}

impl Submission<'_> {
    /// Runs the command; a replayed answer is unwrapped and marked.
    async fn run(&self, command: Command) -> Result<(Outcome, bool), ApiError> {
        let idempotency = match (&self.key, self.fingerprint) {
            (Some(key), Some(fingerprint)) => Some(Idempotency {
                scope: self.caller.idempotency_scope(),
                key: key.clone(),
                fingerprint,
            }),
            _ => None,
        };
        self.app
            .admit_write()
            .map_err(|e| from_command(e, self.lang))?;
        let outcome = self
            .app
            .service
            .submit_idempotent(command, self.caller.actor(), idempotency)
            .await
            .map_err(|e| from_command(e, self.lang))?;
        Ok(match outcome {
            Outcome::Replayed(first) => (*first, true),
            outcome => (outcome, false),
        })
    }
}

fn from_command(error: CommandError, lang: Lang) -> ApiError {
    ApiError::from_command(error, lang)
}

/// Marks an answer that repeats the first answer to its Idempotency-Key.
fn replayed_header(replayed: bool, mut response: Response) -> Response {
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

fn created<T: serde::Serialize>(replayed: bool, body: T) -> Response {
    replayed_header(
        replayed,
        (StatusCode::CREATED, axum::Json(body)).into_response(),
    )
}

fn ok<T: serde::Serialize>(replayed: bool, body: T) -> Response {
    replayed_header(replayed, (StatusCode::OK, axum::Json(body)).into_response())
}

/// Answers carrying personal data must not be kept by browsers or proxies.
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    headers.insert(
        axum::http::header::PRAGMA,
        HeaderValue::from_static("no-cache"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::public_url_for;

    #[test]
    fn the_public_url_is_configured_or_the_bound_address_never_a_guess() {
        let loopback = "127.0.0.1:8080".parse().unwrap();
        let everywhere = "0.0.0.0:8080".parse().unwrap();
        let configured = Some("https://kezek.example.kz/");
        assert_eq!(
            public_url_for(configured, everywhere).as_deref(),
            Ok("https://kezek.example.kz")
        );
        assert_eq!(
            public_url_for(None, loopback).as_deref(),
            Ok("http://127.0.0.1:8080")
        );
        assert!(public_url_for(None, everywhere).is_err());
        assert!(public_url_for(None, "[::]:80".parse().unwrap()).is_err());
        assert!(public_url_for(Some("kezek.example.kz"), loopback).is_err());
    }
}
