//! Documents attached to an application (issue 19): upload, list, download, for its
//! parent and the officers and operators of its district (`applications::reach`, as every
//! application route), staff views recorded in the access log before they are answered.
//!
//! An upload is the file's bytes as the request body (`?kind=`), read as a stream and
//! refused with 413 `attachment_too_large` from its Content-Length before any of it is read,
//! or as soon as the stream passes the limit; it is never held in memory beyond the limit.
//! A download is served so that a crafted file cannot act in the service's origin: always
//! `Content-Disposition: attachment`, `nosniff`, a CSP that allows nothing and sandboxes
//! the document, and `no-store`.

use super::applications::{reach, Ctx, Done};
use super::auth::Caller;
use super::error::{self, ApiError, Lang};
use super::extract::ApiJson;
use super::{created, no_store, ok, AppState};
use crate::domain::access_log::ViewKind;
use crate::domain::application::ApplicationId;
use crate::domain::attachment::{self, Accepted, AttachmentKind, AttachmentRecord, MediaType};
use crate::service::{Command, Outcome};
use crate::store::attachments::{self as stored, AttachmentRow};
use crate::store::document_requests::{self, RequestRow};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The upload's route, whose body the idempotency fingerprint must not read whole (it
/// fingerprints the cleaned file instead).
pub(super) const UPLOAD_ROUTE: &str = "/api/v1/applications/{number}/attachments";
/// The parent's page's upload form.
pub(super) const PAGE_UPLOAD_ROUTE: &str = "/my/attachments";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload, list))
        .routes(routes!(download))
        .routes(routes!(request_document, document_requests))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct KindQuery {
    /// priority_document, birth_certificate or other
    kind: String,
}

/// One attached file as listed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttachmentView {
    /// 1, 2, 3, … within the application; the download's path ends with it.
    pub ordinal: u32,
    /// priority_document, birth_certificate, other
    pub kind: String,
    /// application/pdf, image/jpeg, image/png: recognised from the bytes.
    pub media_type: String,
    pub size: u64,
    /// SHA-256 of the stored bytes (hex), as the journal recorded it.
    pub sha256: String,
    pub attached_at: Option<DateTime<Utc>>,
    /// "portal" (the parent) or "staff:<account>".
    pub attached_by: Option<String>,
}

impl AttachmentView {
    fn of(record: &AttachmentRecord) -> AttachmentView {
        AttachmentView {
            ordinal: record.ordinal,
            kind: record.kind.code().to_string(),
            media_type: record.media_type.mime().to_string(),
            size: record.size,
            sha256: record.sha256.clone(),
            attached_at: None,
            attached_by: None,
        }
    }

    pub(super) fn of_row(row: &AttachmentRow) -> AttachmentView {
        AttachmentView {
            attached_at: Some(row.attached_at),
            attached_by: Some(row.attached_by.0.clone()),
            ..AttachmentView::of(&row.record)
        }
    }
}

/// Attaches a file: PDF, JPEG or PNG by its bytes; images lose their metadata first.
#[utoipa::path(post, path = "/api/v1/applications/{number}/attachments", tag = "parent",
    params(("number" = String, Path, description = "ESL-17"), KindQuery,
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    security(("access_code" = []), ("staff_token" = [])),
    responses((status = 201, body = AttachmentView),
              (status = 413, description = "attachment_too_large, attachment_total_too_large"),
              (status = 415, description = "attachment_unsupported_type"),
              (status = 409, description = "attachment_too_many"),
              (status = 422, description = "attachment_empty, attachment_polyglot, attachment_truncated, attachment_pdf_script, attachment_pdf_encrypted, attachment_kind_unknown, attachment_kind_not_accepted"),
              (status = 404, description = "Unknown, or not yours")))]
async fn upload(
    State(app): State<AppState>,
    mut ctx: Ctx,
    Path(number): Path<String>,
    Query(query): Query<KindQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let id = reach(&app, &ctx, &number)?;
    let kind = AttachmentKind::parse(&query.kind).map_err(|r| refused(r, ctx.lang))?;
    let bytes = read_capped(&headers, body, app.attachments.file_bytes_max, ctx.lang).await?;
    let bytes = scanned(&app, &ctx.caller, Some(id), bytes, ctx.lang).await?;
    let file = accept_blocking(bytes, ctx.lang).await?;
    ctx.set_fingerprint(upload_fingerprint(id, kind, &file));
    let record = attach(&app, &ctx, id, kind, file).await?;
    Ok(no_store(created(record.1, AttachmentView::of(&record.0))))
}

/// Sends a recognised file to the writer; the record it journaled, and whether the answer
/// is a replay. Shared with the pages' forms.
pub(super) async fn attach(
    app: &AppState,
    ctx: &Ctx,
    id: ApplicationId,
    kind: AttachmentKind,
    file: Accepted,
) -> Result<(AttachmentRecord, bool), ApiError> {
    let command = Command::Attach {
        id,
        kind,
        file: Box::new(file),
        limits: app.attachments,
    };
    let (outcome, replayed) = ctx.submission(app).run(command).await?;
    match outcome {
        Outcome::Attached(record) => Ok((record, replayed)),
        _ => unreachable!("an attachment answers Attached"),
    }
}

/// "The same request" for an upload's Idempotency-Key: the application, the kind and the
/// stored file's hash.
fn upload_fingerprint(id: ApplicationId, kind: AttachmentKind, file: &Accepted) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(format!(
        "attach {}/{} {}\n",
        id.district.0,
        id.number.0,
        kind.code()
    ));
    hasher.update(file.sha256());
    hasher.finalize().into()
}

fn refused(refusal: attachment::AttachmentRefusal, lang: Lang) -> ApiError {
    ApiError::new(error::kind_of_code(refusal.code()), lang)
}

/// The body, at most `cap` bytes: refused from its declared length before reading, or as
/// soon as what arrived passes the cap.
pub(super) async fn read_capped(
    headers: &HeaderMap,
    body: Body,
    cap: u64,
    lang: Lang,
) -> Result<Vec<u8>, ApiError> {
    let too_large = || ApiError::new(error::ATTACHMENT_TOO_LARGE, lang);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > cap) {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0) as usize);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::new(error::MALFORMED, lang))?;
        if (bytes.len() + chunk.len()) as u64 > cap {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The file, once clamd (when configured) found it clean: scanned as it came, before any
/// parser of ours reads it. A match is journaled (`AttachmentInfected`: who, which
/// application, the bytes' SHA-256, the signature; never the bytes) and refused; a daemon
/// that does not answer refuses the file too (503): nothing is accepted unscanned.
pub(super) async fn scanned(
    app: &AppState,
    caller: &Caller,
    id: Option<ApplicationId>,
    bytes: Vec<u8>,
    lang: Lang,
) -> Result<Vec<u8>, ApiError> {
    let Some(clamd) = app.clamd.clone() else {
        return Ok(bytes);
    };
    let (bytes, verdict) = tokio::task::spawn_blocking(move || {
        let verdict = crate::scan::scan(&clamd, &bytes, crate::scan::TIMEOUT);
        (bytes, verdict)
    })
    .await
    .map_err(|_| ApiError::new(error::INTERNAL, lang))?;
    match verdict {
        Ok(crate::scan::Verdict::Clean) => Ok(bytes),
        Ok(crate::scan::Verdict::Infected(signature)) => {
            let command = Command::RecordInfected {
                id,
                sha256: hex::encode(Sha256::digest(&bytes)),
                size: bytes.len() as u64,
                signature,
            };
            app.service
                .submit(command, caller.actor())
                .await
                .map_err(|e| ApiError::from_command(e, lang))?;
            Err(ApiError::new(error::ATTACHMENT_INFECTED, lang))
        }
        Err(problem) => {
            tracing::error!(error = %problem, "clamd did not scan an upload: refused");
            Err(ApiError::new(error::ATTACHMENT_SCANNER_UNAVAILABLE, lang))
        }
    }
}

/// Recognises and cleans the file off the async threads (a 10 MB scan is milliseconds of
/// work, a PDF's object streams may be more).
pub(super) async fn accept_blocking(bytes: Vec<u8>, lang: Lang) -> Result<Accepted, ApiError> {
    tokio::task::spawn_blocking(move || attachment::accept(&bytes))
        .await
        .map_err(|_| ApiError::new(error::INTERNAL, lang))?
        .map_err(|refusal| refused(refusal, lang))
}

/// The application's files, oldest first.
#[utoipa::path(get, path = "/api/v1/applications/{number}/attachments", tag = "parent",
    params(("number" = String, Path, description = "ESL-17")),
    security(("access_code" = []), ("staff_token" = [])),
    responses((status = 200, body = Vec<AttachmentView>),
              (status = 404, description = "Unknown, or not yours")))]
async fn list(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let id = reach(&app, &ctx, &number)?;
    let rows = list_of(&app, &ctx.caller, ctx.lang, id).await?;
    let views: Vec<AttachmentView> = rows.iter().map(AttachmentView::of_row).collect();
    Ok(no_store(ok(false, views)))
}

/// The files of an application the caller reached, a staff caller's view recorded first.
pub(super) async fn list_of(
    app: &AppState,
    caller: &Caller,
    lang: Lang,
    id: ApplicationId,
) -> Result<Vec<AttachmentRow>, ApiError> {
    let rows =
        super::applications::read_blocking(app, lang, move |conn| stored::list(conn, id)).await?;
    if !rows.is_empty() {
        super::access_log::record_views(app, caller, ViewKind::Attachment, vec![id], lang).await?;
    }
    Ok(rows)
}

/// One file, as a download that cannot run in this origin.
#[utoipa::path(get, path = "/api/v1/applications/{number}/attachments/{ordinal}",
    tag = "parent",
    params(("number" = String, Path, description = "ESL-17"),
           ("ordinal" = u32, Path, description = "1, 2, 3, …")),
    security(("access_code" = []), ("staff_token" = [])),
    responses((status = 200, description = "The file's bytes"),
              (status = 404, description = "Unknown, or not yours")))]
async fn download(
    State(app): State<AppState>,
    ctx: Ctx,
    Path((number, ordinal)): Path<(String, u32)>,
) -> Result<Response, ApiError> {
    let id = reach(&app, &ctx, &number)?;
    let file = super::applications::read_blocking(&app, ctx.lang, move |conn| {
        stored::bytes(conn, id, ordinal)
    })
    .await?;
    let Some((media, bytes)) = file else {
        return Err(ApiError::new(error::NOT_FOUND, ctx.lang));
    };
    super::access_log::record_views(&app, &ctx.caller, ViewKind::Attachment, vec![id], ctx.lang)
        .await?;
    Ok(file_response(&number, ordinal, media, bytes))
}

/// The headers that keep a file inert: saved, never rendered as a page of this origin.
pub(super) fn file_response(
    number: &str,
    ordinal: u32,
    media: MediaType,
    bytes: Vec<u8>,
) -> Response {
    // The number is the path's own, already checked: letters, digits and a hyphen.
    let name: String = number
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let disposition = format!(
        "attachment; filename=\"{name}-{ordinal}.{}\"",
        media.extension()
    );
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media.mime()));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    no_store(response)
}

/// What staff send to ask for a document.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentAsk {
    /// priority_document, birth_certificate or other
    pub kind: String,
    /// Why (missing, unreadable, …), in words the parent reads on their page; up to 1000
    /// characters.
    pub reason: String,
}

/// A document asked for, and whether it arrived.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DocumentRequestView {
    /// 1, 2, 3, … within the application.
    pub number: u32,
    /// priority_document, birth_certificate, other
    pub kind: String,
    pub reason: String,
    pub requested_at: DateTime<Utc>,
    /// "staff:<account>"
    pub requested_by: String,
    /// When a file of its kind arrived; absent while the parent has been asked (the
    /// claim's deadline is paused meanwhile).
    pub received_at: Option<DateTime<Utc>>,
    /// The ordinal of the file that answered it.
    pub received_attachment: Option<u32>,
}

impl DocumentRequestView {
    pub fn of(row: &RequestRow) -> DocumentRequestView {
        DocumentRequestView {
            number: row.request.number,
            kind: row.request.kind.code().to_string(),
            reason: row.request.reason.clone(),
            requested_at: row.requested_at,
            requested_by: row.requested_by.0.clone(),
            received_at: row.received.map(|(at, _)| at),
            received_attachment: row.received.map(|(_, ordinal)| ordinal),
        }
    }
}

/// Staff of the application's district ask its parent for a missing or unreadable
/// document; the parent is sent a message and sees the request on their page. The claim's
/// manual-step deadline is paused until a file of that kind is attached, then counts the
/// full 3 working days again from that day.
#[utoipa::path(post, path = "/api/v1/applications/{number}/document-requests", tag = "officer",
    params(("number" = String, Path, description = "ESL-17"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    request_body = DocumentAsk, security(("staff_token" = [])),
    responses((status = 200, body = Done),
              (status = 409, description = "document_already_requested, application_not_queued"),
              (status = 422, description = "document_request_reason_missing, text_unsafe, attachment_kind_unknown, attachment_kind_not_accepted"),
              (status = 403, description = "Not this district's staff")))]
async fn request_document(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
    ApiJson(body): ApiJson<DocumentAsk>,
) -> Result<Response, ApiError> {
    let id = super::staff::officer_reach(&app, &ctx, &number, true)?;
    let replayed = ask(&app, &ctx, id, &body).await?;
    Ok(ok(replayed, Done::new("requested")))
}

/// Sends the request to the writer; whether the answer is a replay. Shared with the
/// officer's page.
pub(super) async fn ask(
    app: &AppState,
    ctx: &Ctx,
    id: ApplicationId,
    body: &DocumentAsk,
) -> Result<bool, ApiError> {
    let kind = AttachmentKind::parse(&body.kind).map_err(|r| refused(r, ctx.lang))?;
    let command = Command::RequestDocument {
        id,
        kind,
        reason: body.reason.clone(),
    };
    let (_, replayed) = ctx.submission(app).run(command).await?;
    Ok(replayed)
}

/// The documents asked for, oldest first, answered or not.
#[utoipa::path(get, path = "/api/v1/applications/{number}/document-requests", tag = "parent",
    params(("number" = String, Path, description = "ESL-17")),
    security(("access_code" = []), ("staff_token" = [])),
    responses((status = 200, body = Vec<DocumentRequestView>),
              (status = 404, description = "Unknown, or not yours")))]
async fn document_requests(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let id = reach(&app, &ctx, &number)?;
    let rows = requests_of(&app, ctx.lang, id).await?;
    // A reason may describe the family's papers: a staff reading is a view, as the files'.
    if !rows.is_empty() {
        super::access_log::record_views(
            &app,
            &ctx.caller,
            ViewKind::Attachment,
            vec![id],
            ctx.lang,
        )
        .await?;
    }
    let views: Vec<DocumentRequestView> = rows.iter().map(DocumentRequestView::of).collect();
    Ok(no_store(ok(false, views)))
}

/// The requests of an application the caller reached (the caller's view recorded by the
/// route or the page that shows them).
/// The files sent for `id` and refused for malware, for its district's staff.
pub(super) async fn infected_of(
    app: &AppState,
    lang: Lang,
    id: ApplicationId,
) -> Result<Vec<crate::store::attachments::InfectedRow>, ApiError> {
    super::applications::read_blocking(app, lang, move |conn| {
        crate::store::attachments::infected_of(conn, id)
    })
    .await
}

pub(super) async fn requests_of(
    app: &AppState,
    lang: Lang,
    id: ApplicationId,
) -> Result<Vec<RequestRow>, ApiError> {
    super::applications::read_blocking(app, lang, move |conn| document_requests::list(conn, id))
        .await
}
