//! The result documents over HTTP: the registration notice, the referral and the motivated
//! refusal as printable pages (HTML or PDF, Kazakh or Russian) for whoever may read the
//! application; and, for anyone, the deployment's public key and the check of a printed
//! document's seal.
//!
//! A document is rebuilt from the journal and signed on each request (Ed25519 is
//! deterministic: the same document always carries the same seal); nothing is stored.

use super::access_log::record_views;
use super::applications::{reach, reach_referral, read_blocking, Ctx};
use super::auth::ClientIp;
use super::error::{self, ApiError, Lang};
use super::extract::ApiQuery;
use super::{no_store, AppState};
use crate::documents::render::{self, Language, Seal};
use crate::documents::{self, Built};
use crate::domain::access_log::ViewKind;
use crate::domain::document::{DocumentData, DocumentId, Standing};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(notice))
        .routes(routes!(referral))
        .routes(routes!(refusal))
        .routes(routes!(keys))
        .routes(routes!(verify))
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum PageLanguage {
    Kk,
    Ru,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Format {
    #[default]
    Html,
    Pdf,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DocumentParams {
    /// kk or ru. When absent: Kazakh if Accept-Language prefers it, Russian otherwise.
    #[param(value_type = Option<String>, example = "kk")]
    lang: Option<PageLanguage>,
    /// html (the default: a page to print) or pdf.
    #[param(value_type = Option<String>, example = "pdf")]
    format: Option<Format>,
}

/// Signs the document, renders it as asked and answers it, never to be cached.
async fn answer(
    app: &AppState,
    ctx: &Ctx,
    params: DocumentParams,
    data: DocumentData,
) -> Result<Response, ApiError> {
    let language = match params.lang {
        Some(PageLanguage::Kk) => Language::Kazakh,
        Some(PageLanguage::Ru) => Language::Russian,
        None if ctx.lang == Lang::Kk => Language::Kazakh,
        None => Language::Russian,
    };
    let format = params.format.unwrap_or_default();
    let seal = Seal {
        base_url: app.public_url.to_string(),
        signature: app.signer.sign(&data),
        key_id: app.signer.public_key().id,
    };
    let name = format!("{}-{}", data.id, language.code());
    // Layout and font subsetting take milliseconds of CPU: off the async workers.
    let rendered = tokio::task::spawn_blocking(move || match format {
        Format::Html => render::html(&data, language, &seal).into_bytes(),
        Format::Pdf => render::pdf(&data, language, &seal),
    })
    .await
    .map_err(|_| ctx.error(error::INTERNAL))?;
    let mut response = rendered.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(language.code()),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    match format {
        Format::Html => {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            // The page needs nothing but its inline style and its inline SVG.
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                     base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
                ),
            );
        }
        Format::Pdf => {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            );
            // The id is ASCII letters, digits and dashes: safe in the header as it is.
            let disposition = format!("inline; filename=\"{name}.pdf\"");
            if let Ok(value) = HeaderValue::from_str(&disposition) {
                headers.insert(header::CONTENT_DISPOSITION, value);
            }
        }
    }
    Ok(no_store(response))
}

/// Rebuilds a document from the journal (off the async workers) and answers it; 404 when
/// the journal holds no such document.
async fn build_and_answer(
    app: &AppState,
    ctx: &Ctx,
    params: DocumentParams,
    build: impl FnOnce(
            &rusqlite::Connection,
            &crate::domain::catalog::Catalog,
        ) -> Result<Option<Built>, crate::store::StoreError>
        + Send
        + 'static,
) -> Result<Response, ApiError> {
    let catalog = app.service.read().catalog.clone();
    let built = read_blocking(app, ctx.lang, move |conn| build(conn, &catalog)).await?;
    let data = built
        .map(|built| built.data)
        .ok_or_else(|| ctx.error(error::NOT_FOUND))?;
    answer(app, ctx, params, data).await
}

/// The registration notice: the child was entered in the registration journal under this
/// number on this day, and how to follow the queue.
#[utoipa::path(get, path = "/api/v1/applications/{number}/notice", tag = "parent",
    params(("number" = String, Path, description = "ESL-17"), DocumentParams),
    security(("access_code" = []), ("staff_token" = [])),
    responses(
        (status = 200, description = "The notice, to print", content(
            (String = "text/html"), (Vec<u8> = "application/pdf"))),
        (status = 404, description = "Unknown, or not yours")))]
async fn notice(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
    ApiQuery(params): ApiQuery<DocumentParams>,
) -> Result<Response, ApiError> {
    let id = reach(&app, &ctx, &number)?;
    // A staff member printing it sees the applicant's data: recorded as the page's view is.
    record_views(&app, &ctx.caller, ViewKind::Application, vec![id], ctx.lang).await?;
    build_and_answer(&app, &ctx, params, move |conn, catalog| {
        documents::notice(conn, catalog, id, None)
    })
    .await
}

/// The referral as it stands now (after an extension, the extended one): the kindergarten,
/// the child, and the last day to hand it in.
#[utoipa::path(get, path = "/api/v1/referrals/{number}/document", tag = "parent",
    params(("number" = String, Path, description = "ESL-R5"), DocumentParams),
    security(("access_code" = []), ("staff_token" = [])),
    responses(
        (status = 200, description = "The referral, to print", content(
            (String = "text/html"), (Vec<u8> = "application/pdf"))),
        (status = 404, description = "Unknown, or not yours")))]
async fn referral(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
    ApiQuery(params): ApiQuery<DocumentParams>,
) -> Result<Response, ApiError> {
    let (id, application) = reach_referral(&app, &ctx, &number).await?;
    record_views(
        &app,
        &ctx.caller,
        ViewKind::Referral,
        vec![application],
        ctx.lang,
    )
    .await?;
    let now = app.service.now();
    build_and_answer(&app, &ctx, params, move |conn, catalog| {
        documents::referral(conn, catalog, id, None, now)
    })
    .await
}

/// The motivated refusal: the reason and the officer's motivation. 404 unless the
/// application was refused.
#[utoipa::path(get, path = "/api/v1/applications/{number}/refusal", tag = "parent",
    params(("number" = String, Path, description = "ESL-17"), DocumentParams),
    security(("access_code" = []), ("staff_token" = [])),
    responses(
        (status = 200, description = "The refusal, to print", content(
            (String = "text/html"), (Vec<u8> = "application/pdf"))),
        (status = 404, description = "Unknown, not yours, or not refused")))]
async fn refusal(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
    ApiQuery(params): ApiQuery<DocumentParams>,
) -> Result<Response, ApiError> {
    let id = reach(&app, &ctx, &number)?;
    record_views(&app, &ctx.caller, ViewKind::Application, vec![id], ctx.lang).await?;
    build_and_answer(&app, &ctx, params, move |conn, catalog| {
        documents::refusal(conn, catalog, id)
    })
    .await
}

/// A key that signs this deployment's documents.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeyView {
    /// The first 8 bytes of SHA-256 over the key, hex; printed on every document.
    pub id: String,
    /// Ed25519
    pub algorithm: String,
    /// The 32-byte public key, base64url without padding.
    pub public_key: String,
}

/// The public keys that sign this deployment's documents: with one, anyone can check a
/// document's seal without asking the service.
#[utoipa::path(get, path = "/api/v1/keys", tag = "public",
    responses((status = 200, body = Vec<KeyView>)))]
async fn keys(State(app): State<AppState>) -> Json<Vec<KeyView>> {
    let key = app.signer.public_key();
    Json(vec![KeyView {
        id: key.id,
        algorithm: key.algorithm,
        public_key: key.public_key,
    }])
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VerifyParams {
    /// The document's version (a referral extended once has versions 0 and 1); the
    /// latest when absent.
    v: Option<u32>,
    /// The signature printed with the document, base64url. Without it nothing is
    /// authentic.
    sig: Option<String>,
}

/// What the check says of a document: no personal data. A document shown without a valid
/// signature gets only `authentic: false`, whatever its number: the same answer for a
/// forged seal, a number that was never issued, a refused application and a malformed id,
/// so the endpoint tells nobody which documents exist. Its facts come only with the seal
/// that proves the asker holds the document.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VerificationView {
    /// The signature was made by this deployment's key over exactly this document.
    pub authentic: bool,
    /// Authentic and still in force.
    pub valid: bool,
    /// The application's personal data was erased when its retention period ended: the
    /// document existed (its number, issue and standing are shown) but its seal, made over
    /// the names erased, can no longer be checked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub erased: bool,
    /// `referral-ESL-R5`; only when authentic (or erased).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// in_force, superseded (a newer version replaced it), used (the referral was handed
    /// in), ended (expired, declined, revoked; or the application left the queue)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standing: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
    /// The last day it may be handed in, to the end of the day (local, UTC+5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_day: Option<chrono::NaiveDate>,
}

impl VerificationView {
    /// The one answer to everything without a valid signature.
    fn not_authentic() -> VerificationView {
        VerificationView {
            authentic: false,
            valid: false,
            erased: false,
            document: None,
            version: None,
            standing: None,
            issued_at: None,
            valid_until: None,
            last_day: None,
        }
    }

    fn of(verification: documents::Verification) -> VerificationView {
        if verification.erased {
            return VerificationView {
                erased: true,
                document: Some(verification.document),
                standing: Some(standing_code(verification.standing).to_string()),
                issued_at: Some(verification.issued_at),
                ..VerificationView::not_authentic()
            };
        }
        if !verification.authentic {
            return VerificationView::not_authentic();
        }
        VerificationView {
            authentic: true,
            valid: verification.valid,
            erased: false,
            document: Some(verification.document),
            version: Some(verification.version),
            standing: Some(standing_code(verification.standing).to_string()),
            issued_at: Some(verification.issued_at),
            valid_until: verification.valid_until,
            last_day: verification
                .valid_until
                .map(crate::domain::deadline::last_day),
        }
    }
}

fn standing_code(standing: Standing) -> &'static str {
    match standing {
        Standing::InForce => "in_force",
        Standing::Superseded => "superseded",
        Standing::Used => "used",
        Standing::Ended => "ended",
    }
}

/// Checks a printed document: the link its QR code holds. Says whether the seal is this
/// deployment's over exactly this document, and whether the document is still in force
/// (a referral revoked or expired is authentic but no longer valid). Without a valid seal
/// the answer is the same "not authentic" for every id (see `VerificationView`). Each
/// client has its own quota of checks (`VerificationQuota`).
#[utoipa::path(get, path = "/api/v1/documents/{id}/verify", tag = "public",
    params(("id" = String, Path, description = "referral-ESL-R5"), VerifyParams),
    responses(
        (status = 200, body = VerificationView),
        (status = 429, description = "rate_limited: this client's checks are spent")))]
async fn verify(
    State(app): State<AppState>,
    lang: Lang,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<VerifyParams>,
) -> Result<Response, ApiError> {
    if let Err(retry_after) = app.verifications.check(ip) {
        return Err(ApiError::new(error::RATE_LIMITED, lang).retry_after(retry_after));
    }
    let view = match (DocumentId::parse(&id), params.sig) {
        (Some(id), Some(signature)) => {
            let catalog = app.service.read().catalog.clone();
            let now = app.service.now();
            let signer = std::sync::Arc::clone(&app.signer);
            let version = params.v;
            read_blocking(&app, lang, move |conn| {
                documents::verify(conn, &catalog, &signer, &id, version, &signature, now)
            })
            .await?
            .map_or_else(VerificationView::not_authentic, VerificationView::of)
        }
        _ => VerificationView::not_authentic(),
    };
    // A phone that scanned the QR code asks for a page; a program asks for JSON.
    if super::pages::wants_html(&headers) {
        return Ok(super::pages::verification(&headers, &view));
    }
    // Whether it is in force changes (a revocation): never from a cache.
    Ok(no_store(Json(view).into_response()))
}
