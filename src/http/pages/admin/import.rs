//! The administrator's import of an existing queue (issue 16): the earlier system's CSV
//! checked (nothing stored) or imported, through `crate::import`, the very code of
//! `kezek import`, so the page and the command refuse the same rows with the same codes. A
//! file over `IMPORT_FILE_BYTES_MAX` (about 240,000 rows) goes through the command, which
//! also shows its progress.

use super::{administrator, back, not_this_role, texts, Page};
use crate::http::error::{self, ErrorKind};
use crate::http::AppState;
use crate::import::{import_bytes, ImportError, ImportOptions, ImportSummary};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

/// The largest file the page takes, read whole before anything is checked.
pub const IMPORT_FILE_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Refused rows listed on the page (all are counted; the command lists every one).
const REFUSED_SHOWN_MAX: usize = 500;

pub async fn import_form(page: Page) -> Response {
    if administrator(&page).is_none() {
        return not_this_role(&page);
    }
    import_page(&page, StatusCode::OK, None, None)
}

pub async fn run_import(
    State(app): State<AppState>,
    page: Page,
    request: axum::extract::Request,
) -> Response {
    let Some(upload) = super::read_multipart(request, IMPORT_FILE_BYTES_MAX).await else {
        let message = error::MALFORMED.message(page.lang.api());
        return page.message(StatusCode::BAD_REQUEST, page.t(texts::ERROR_TITLE), message);
    };
    if administrator(&page)
        .filter(|_| page.csrf_ok(&upload.fields, true))
        .is_none()
    {
        return page.form_expired();
    }
    let refuse = |kind: ErrorKind| import_page(&page, kind.status, Some(kind), None);
    if upload.too_large.is_some() {
        return refuse(error::IMPORT_FILE_TOO_LARGE);
    }
    let Some(file) = upload.file else {
        return refuse(error::IMPORT_FILE_MISSING);
    };
    let options = ImportOptions {
        dry_run: upload.fields.get("mode") != "import",
        ..ImportOptions::default()
    };
    let dry_run = options.dry_run;
    let service = app.service.clone();
    let done =
        tokio::task::spawn_blocking(move || import_bytes(&service, &file, &options, |_, _| {}))
            .await;
    match done {
        Ok(Ok(summary)) => import_page(&page, StatusCode::OK, None, Some((&summary, dry_run))),
        Ok(Err(ImportError::HeaderInvalid)) => refuse(error::IMPORT_HEADER_INVALID),
        Ok(Err(ImportError::NotCsv(_))) => refuse(error::IMPORT_NOT_CSV),
        Ok(Err(ImportError::Command(error))) => {
            let (status, text) = page.command_error(error);
            page.message(status, page.t(texts::ERROR_TITLE), text)
        }
        Ok(Err(ImportError::Unreadable(_))) | Err(_) => {
            let message = error::INTERNAL.message(page.lang.api());
            page.message(
                StatusCode::INTERNAL_SERVER_ERROR,
                page.t(texts::ERROR_TITLE),
                message,
            )
        }
    }
}

fn import_page(
    page: &Page,
    status: StatusCode,
    refused: Option<ErrorKind>,
    outcome: Option<(&ImportSummary, bool)>,
) -> Response {
    let lang = page.lang.api();
    page.render(
        status,
        page.t(texts::IMPORT_TITLE),
        html! {
            h1 { (page.t(texts::IMPORT_TITLE)) }
            (back(page))
            @if let Some((summary, dry_run)) = outcome {
                h2 { (page.t(if dry_run { texts::IMPORT_CHECKED } else { texts::IMPORT_DONE })) }
                dl data-testid="import-summary" {
                    dt { (page.t(texts::IMPORT_ROWS)) } dd { (summary.rows) }
                    dt { (page.t(if dry_run { texts::IMPORT_WOULD_TAKE } else { texts::IMPORT_TAKEN })) } dd { (summary.taken) }
                    dt { (page.t(texts::IMPORT_ALREADY_TAKEN)) } dd { (summary.already_taken) }
                    dt { (page.t(texts::IMPORT_REFUSED)) } dd { (summary.refused.len()) }
                    dt { "SHA-256" } dd { code { (summary.file_sha256) } }
                }
                @if !summary.refused.is_empty() {
                    div.table-wrap { table data-testid="import-refused" {
                        (page.column_heads(&[texts::IMPORT_LINE, texts::IMPORT_FIELD, texts::IMPORT_PROBLEM]))
                        tbody {
                            @for row in summary.refused.iter().take(REFUSED_SHOWN_MAX) {
                                tr {
                                    td { (row.line) }
                                    td { code { (row.field) } }
                                    td { (error::kind_of_code(&row.code).message(lang)) " (" code { (row.code) } ")" }
                                }
                            }
                        }
                    } }
                }
            }
            @if let Some(kind) = refused {
                p.notice.error role="alert" { (kind.message(lang)) " (" code { (kind.code) } ")" }
            }
            p.hint { (page.t(texts::IMPORT_HINT)) }
            form method="post" action="/staff/admin/import" enctype="multipart/form-data" {
                (page.form_guard(true))
                div.field {
                    label for="file" { (page.t(texts::IMPORT_FILE)) }
                    input type="file" id="file" name="file" accept=".csv,text/csv" required;
                }
                fieldset {
                    legend { (page.t(texts::IMPORT_MODE)) }
                    label { input type="radio" name="mode" value="check" checked; " " (page.t(texts::IMPORT_MODE_CHECK)) }
                    label { input type="radio" name="mode" value="import"; " " (page.t(texts::IMPORT_MODE_IMPORT)) }
                }
                button type="submit" { (page.t(texts::IMPORT_SUBMIT)) }
            }
        },
    )
}
