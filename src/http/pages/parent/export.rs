//! The parent's readable copy of everything held about their child (`/my/export`): the
//! API's subject-access export (`http::export`), drawn as a page, with a link to its JSON.

use super::texts;
use super::{access_log_section, facts, history_section};
use crate::http::export::{export_of, SubjectExport};
use crate::http::pages::{see_other, Page};
use crate::http::AppState;
use axum::extract::State;
use axum::response::Response;
use maud::{html, Markup};

pub(super) async fn export_page(State(app): State<AppState>, page: Page) -> Response {
    let Some(parent) = &page.parent else {
        return see_other("/lookup");
    };
    let id = parent.session.application;
    let export = match export_of(&app, page.lang.api(), id).await {
        Ok(export) => export,
        Err(error) => return page.api_error(error),
    };
    let catalog = app.service.read().catalog.clone();
    page.ok(
        page.t(texts::EXPORT_TITLE),
        export_content(&page, &catalog, &export, "/my"),
    )
}

/// The export as a page's content, for the parent and for the office (`back`: the
/// application's page).
pub(in crate::http::pages) fn export_content(
    page: &Page,
    catalog: &crate::domain::catalog::Catalog,
    export: &SubjectExport,
    back: &str,
) -> Markup {
    html! {
        h1 { (page.t(texts::EXPORT_TITLE)) " " (export.view.number) }
        p.hint { (page.t(texts::EXPORT_INTRO)) }
        p { a href=(back) { "← " (page.t(texts::MY_TITLE)) } }
        (people(page, export))
        (facts(page, catalog, &export.view))
        (referrals(page, export))
        (messages(page, export))
        (documents(page, export))
        (history_section(page, &export.view))
        (access_log_section(page, &export.access_log))
    }
}

/// The documents attached, each with its fingerprint and a download link, and those
/// asked for.
fn documents(page: &Page, export: &SubjectExport) -> Markup {
    use crate::domain::attachment::AttachmentKind;
    let kind = |code: &str| -> String {
        AttachmentKind::parse(code).map_or(code.to_string(), |k| {
            page.t(crate::http::pages::attachments::kind_text(k))
                .to_string()
        })
    };
    html! {
        section aria-labelledby="documents-title" {
            h2 #documents-title { (page.t(texts::ATTACHMENTS_TITLE)) }
            @if export.attachments.is_empty() {
                p { (page.t(texts::ATTACHMENTS_NONE)) }
            } @else {
                ul data-testid="export-attachments" { @for file in &export.attachments {
                    @let path = crate::http::pages::attachments::download_path(&export.view.number, file.ordinal);
                    li {
                        strong { (kind(&file.kind)) } " · " (file.media_type) " · " (file.size) " B · "
                        @if let Some(at) = file.attached_at { (texts::local_time(at)) " · " }
                        "SHA-256 " code { (file.sha256) } " · "
                        a href=(path) download { (page.t(texts::ATTACHMENT_DOWNLOAD)) }
                    }
                } }
            }
            @for request in &export.document_requests {
                p data-testid="export-request" {
                    (page.t(texts::DOCUMENT_REQUESTS_TITLE)) ": " strong { (kind(&request.kind)) } " · "
                    (texts::local_time(request.requested_at)) " · " (request.reason)
                    @if let Some(at) = request.received_at { " · " (page.t(texts::DOCUMENT_REQUEST_RECEIVED)) " " (texts::local_time(at)) }
                }
            }
        }
    }
}

/// The child and the applicant, every field held.
fn people(page: &Page, export: &SubjectExport) -> Markup {
    let (child, applicant) = (&export.held.child, &export.held.applicant);
    html! {
        dl.facts data-testid="held" {
            dt { (page.t(texts::FIELD_CHILD_IIN)) }
            dd { (child.iin.as_string()) }
            dt { (page.t(texts::FIELD_APPLICANT_NAME)) }
            dd { (applicant.full_name) }
            dt { (page.t(texts::FIELD_APPLICANT_IIN)) }
            dd { (applicant.iin.as_string()) }
            dt { (page.t(texts::FIELD_PHONE)) }
            dd { (applicant.phone) }
            @if let Some(email) = &applicant.email {
                dt { (page.t(texts::FIELD_EMAIL)) }
                dd { (email) }
            }
            dt { (page.t(texts::FIELD_ADDRESS)) }
            dd { (applicant.address) }
        }
    }
}

fn referrals(page: &Page, export: &SubjectExport) -> Markup {
    html! {
        section aria-labelledby="referrals-title" {
            h2 #referrals-title { (page.t(texts::REFERRALS_TITLE)) }
            @if export.referrals.is_empty() {
                p { (page.t(texts::REFERRALS_EMPTY)) }
            } @else {
                ul { @for referral in &export.referrals {
                    li {
                        (referral.number) ", " (texts::local_time(referral.issued_at)) ", "
                        (texts::referral_status(page.lang, &referral.status))
                    }
                } }
            }
        }
    }
}

/// The messages the outbox still holds (delivered ones are purged after a while).
fn messages(page: &Page, export: &SubjectExport) -> Markup {
    html! {
        section aria-labelledby="messages-title" {
            h2 #messages-title { (page.t(texts::MESSAGES_TITLE)) }
            @if export.messages.is_empty() {
                p { (page.t(texts::MESSAGES_EMPTY)) }
            } @else {
                div.table-wrap { table data-testid="messages" {
                    (page.column_heads(&[texts::WHEN, texts::MESSAGE_TO, texts::MESSAGE_STATE]))
                    tbody { @for message in &export.messages {
                        tr {
                            td { (texts::local_time(message.created_at)) }
                            td { (message.recipient.split_once(':').map_or(message.recipient.as_str(), |(_, to)| to)) }
                            td { @if let Some(at) = message.delivered_at {
                                (page.t(texts::MESSAGE_DELIVERED)) " " (texts::local_time(at))
                            } @else if message.cancelled_at.is_some() {
                                (page.t(texts::MESSAGE_CANCELLED))
                            } @else {
                                (page.t(texts::MESSAGE_WAITING))
                            } }
                        }
                    } }
                } }
            }
        }
    }
}
