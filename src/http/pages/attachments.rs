//! What the parent's and the office's pages share about attached documents: the
//! multipart/form-data form a file comes in (read within the file limit, field by field),
//! and the table of an application's files with their download links (the API's download
//! route, which takes the page's cookie on GET; an image shown inline on staff pages).

use super::texts::{self, T};
use super::{Fields, Page};
use crate::domain::application::ApplicationId;
use crate::domain::attachment::{AttachmentKind, MediaType};
use crate::http::auth::Caller;
use crate::http::error::{self, ApiError};
use crate::http::AppState;
use crate::service::Command;
use crate::store::attachments::AttachmentRow;
use crate::store::document_requests::RequestRow;
use maud::{html, Markup};

/// Text fields of an upload form: a CSRF token, an idempotency key, a kind, a
/// registration's few dozen fields; no one of them near this.
const TEXT_FIELD_BYTES_MAX: usize = 4 * 1024;
const FIELDS_MAX: usize = 64;

/// A multipart/form-data form as it came: its text fields and the file (None when no
/// file was chosen).
pub struct Upload {
    pub fields: Fields,
    pub file: Option<Vec<u8>>,
}

impl Upload {
    /// SHA-256 over the path, the text fields and the file: what "the same request" means
    /// for the form's Idempotency key, as the middleware's fingerprint means for others.
    pub fn fingerprint(&self, path: &str) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(format!("POST {path}\n"));
        for (name, value) in &self.fields.0 {
            hasher.update((name.len() as u64).to_be_bytes());
            hasher.update(name);
            hasher.update((value.len() as u64).to_be_bytes());
            hasher.update(value);
        }
        if let Some(file) = &self.file {
            hasher.update(Sha256::digest(file));
        }
        hasher.finalize().into()
    }
}

/// A form as it came, urlencoded or multipart (a registration may carry a file).
pub async fn read_form(
    request: axum::extract::Request,
    file_bytes_max: u64,
) -> Result<Upload, UploadProblem> {
    let multipart = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("multipart/form-data"));
    if multipart {
        return read_upload(request, file_bytes_max).await;
    }
    // The route lifts axum's body limit for the files; a plain form keeps the usual one.
    let body = axum::body::to_bytes(request.into_body(), crate::http::BODY_LIMIT_BYTES)
        .await
        .map_err(|_| UploadProblem::TooLarge)?;
    Ok(Upload {
        fields: Fields::parse(&body),
        file: None,
    })
}

pub enum UploadProblem {
    /// The file passed `file_bytes_max`: reading stopped there.
    TooLarge,
    /// Not a form this page sends.
    Malformed,
}

/// Reads the form, the part named `file` up to `file_bytes_max` bytes, every other part as
/// short text. A declared length over what the form could hold is refused unread.
pub async fn read_upload(
    request: axum::extract::Request,
    file_bytes_max: u64,
) -> Result<Upload, UploadProblem> {
    use axum::extract::{FromRequest, Multipart};
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let form_max = file_bytes_max + (FIELDS_MAX * TEXT_FIELD_BYTES_MAX) as u64;
    if declared.is_some_and(|length| length > form_max) {
        return Err(UploadProblem::TooLarge);
    }
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|_| UploadProblem::Malformed)?;
    let mut upload = Upload {
        fields: Fields(Vec::new()),
        file: None,
    };
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|_| UploadProblem::Malformed)?
    {
        let name = field.name().unwrap_or_default().to_string();
        let is_file = name == "file";
        let cap = if is_file {
            file_bytes_max as usize
        } else {
            TEXT_FIELD_BYTES_MAX
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|_| UploadProblem::Malformed)? {
            if bytes.len() + chunk.len() > cap {
                return Err(if is_file {
                    UploadProblem::TooLarge
                } else {
                    UploadProblem::Malformed
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        if is_file {
            // A form sent without a chosen file has the part, empty.
            upload.file = Some(bytes).filter(|b| !b.is_empty());
        } else if upload.fields.0.len() < FIELDS_MAX {
            let text = String::from_utf8(bytes).map_err(|_| UploadProblem::Malformed)?;
            upload.fields.0.push((name, text));
        } else {
            return Err(UploadProblem::Malformed);
        }
    }
    Ok(upload)
}

pub fn kind_text(kind: AttachmentKind) -> T {
    match kind {
        AttachmentKind::PriorityDocument => texts::ATTACHMENT_KIND_PRIORITY,
        AttachmentKind::BirthCertificate => texts::ATTACHMENT_KIND_BIRTH,
        AttachmentKind::Other => texts::ATTACHMENT_KIND_OTHER,
    }
}

/// The download route of `number`'s file `ordinal` (the API's, reached with the cookie).
pub fn download_path(number: &str, ordinal: u32) -> String {
    format!("/api/v1/applications/{number}/attachments/{ordinal}")
}

/// The application's files: kind, type, size, when, a download link; with `inline`, each
/// image shown too (the officer verifies a claim on one page).
pub fn table(page: &Page, number: &str, rows: &[AttachmentRow], inline: bool) -> Markup {
    html! {
        @if rows.is_empty() {
            p data-testid="attachments-none" { (page.t(texts::ATTACHMENTS_NONE)) }
        } @else {
            ul.attachments data-testid="attachments" {
                @for row in rows {
                    @let path = download_path(number, row.record.ordinal);
                    @let kind = page.t(kind_text(row.record.kind));
                    li data-kind=(row.record.kind.code()) {
                        strong { (kind) } " · " (row.record.media_type.extension().to_uppercase())
                        " · " (row.record.size.div_ceil(1024)) " " (page.t(texts::ATTACHMENT_SIZE))
                        " · " (texts::local_time(row.attached_at)) " · "
                        a href=(path) download { (page.t(texts::ATTACHMENT_DOWNLOAD)) }
                        @if inline && row.record.media_type != MediaType::Pdf {
                            br;
                            img src=(path) alt=(kind) data-testid="attachment-image";
                        }
                    }
                }
            }
        }
    }
}

/// The documents asked for, the open ones marked: the parent reads the reason here (the
/// message only names the kind).
pub fn requests_list(page: &Page, rows: &[RequestRow]) -> Markup {
    html! {
        @if !rows.is_empty() {
            h3 { (page.t(texts::DOCUMENT_REQUESTS_TITLE)) }
            ul.requests data-testid="document-requests" {
                @for row in rows {
                    li data-kind=(row.request.kind.code()) data-open=(row.received.is_none()) {
                        strong { (page.t(kind_text(row.request.kind))) } " · "
                        (texts::local_time(row.requested_at)) " · "
                        @match row.received {
                            None => span.tag.alert { (page.t(texts::DOCUMENT_REQUEST_OPEN)) },
                            Some((at, _)) => span.tag { (page.t(texts::DOCUMENT_REQUEST_RECEIVED)) " " (texts::local_time(at)) },
                        }
                        br;
                        span.reason { (row.request.reason) }
                    }
                }
            }
        }
    }
}

/// The kinds a parent or staff member may choose for `application`: the priority
/// document only beside a claim.
pub fn kinds(claimed: bool) -> Vec<AttachmentKind> {
    AttachmentKind::ALL
        .into_iter()
        .filter(|kind| claimed || *kind != AttachmentKind::PriorityDocument)
        .collect()
}

/// The form's kind select and file input (inside a caller's `form` element).
pub fn file_inputs(page: &Page, kinds: &[AttachmentKind]) -> Markup {
    html! {
        div.field {
            label for="attachment-kind" { (page.t(texts::ATTACHMENT_KIND)) }
            select id="attachment-kind" name="kind" {
                @for kind in kinds {
                    option value=(kind.code()) { (page.t(kind_text(*kind))) }
                }
            }
        }
        div.field {
            label for="attachment-file" { (page.t(texts::ATTACHMENT_FILE)) }
            p.hint id="attachment-file-hint" { (page.t(texts::ATTACHMENT_FILE_HINT)) }
            input type="file" id="attachment-file" name="file" required
                accept=".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"
                aria-describedby="attachment-file-hint";
        }
    }
}

/// Sends the form's file to the application as the API's upload does (recognised and
/// cleaned first, then the writer's checks); the file is taken out of `upload`.
pub async fn attach_file(
    app: &AppState,
    page: &Page,
    caller: &Caller,
    id: ApplicationId,
    upload: &mut Upload,
) -> Result<(), ApiError> {
    let lang = page.lang.api();
    let kind = AttachmentKind::parse(upload.fields.get("kind"))
        .map_err(|refusal| ApiError::new(error::kind_of_code(refusal.code()), lang))?;
    let bytes = upload
        .file
        .take()
        .ok_or_else(|| ApiError::new(error::ATTACHMENT_EMPTY, lang))?;
    let bytes = crate::http::attachments::scanned(app, caller, Some(id), bytes, lang).await?;
    let file = crate::http::attachments::accept_blocking(bytes, lang).await?;
    let command = Command::Attach {
        id,
        kind,
        file: Box::new(file),
        limits: app.attachments,
    };
    page.submit(app, caller, &upload.fields, command)
        .await
        .map_err(|e| ApiError::from_command(e, lang))?;
    Ok(())
}

/// The page for an upload that could not be read.
pub fn unreadable(page: &Page, problem: UploadProblem) -> axum::response::Response {
    let kind = match problem {
        UploadProblem::TooLarge => error::ATTACHMENT_TOO_LARGE,
        UploadProblem::Malformed => error::MALFORMED,
    };
    page.api_error(ApiError::new(kind, page.lang.api()))
}
