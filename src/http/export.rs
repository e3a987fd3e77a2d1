//! Subject access (issue 16): everything Kezek holds about one child's application, for its
//! parent (signed in, or the number and access code) and for staff of its district, who
//! reach it as they reach the application itself (another parent gets the same 404 as an
//! unknown number). The application with every personal field, its history, its referrals,
//! the messages the outbox still holds about it, who among the staff looked at it, and the
//! documents attached (listed with their fingerprints, not their bytes) and asked for. A
//! staff member's export is recorded in the access log before it is answered.

use super::access_log::{application_log_of, AccessLog};
use super::applications::{reach, read_blocking, Ctx};
use super::attachments::{AttachmentView, DocumentRequestView};
use super::error::ApiError;
use super::views::{self, ApplicationView, ReferralView};
use super::{no_store, ok, AppState};
use crate::domain::access_log::ViewKind;
use crate::domain::application::Application;
use crate::store::{self, StoredMessage};
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectExport {
    /// The application as its pages show it, with its history.
    pub view: ApplicationView,
    /// Every field held, the child's and the applicant's IINs, names and contacts among them.
    #[schema(value_type = Object)]
    pub held: Application,
    /// Every referral issued to it, newest first.
    pub referrals: Vec<ReferralView>,
    /// The messages the outbox holds about it (delivered ones go after the configured days).
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<StoredMessage>,
    /// Who among the staff looked at it (this export included, when staff asked).
    pub access_log: AccessLog,
    /// The documents attached: kind, type, size, SHA-256, who attached each and when; not
    /// their bytes, each of which is a download at
    /// `/api/v1/applications/{number}/attachments/{ordinal}` (ten files of 10 MB in base64
    /// would make one answer of 130 MB, held whole in memory to be sent).
    pub attachments: Vec<AttachmentView>,
    /// The documents staff asked for, with their reasons, and when each arrived.
    pub document_requests: Vec<DocumentRequestView>,
}

/// Everything held about the application (subject access).
#[utoipa::path(get, path = "/api/v1/applications/{number}/export", tag = "parent",
    params(("number" = String, Path, description = "ESL-17")),
    security(("access_code" = []), ("staff_token" = [])),
    responses((status = 200, body = SubjectExport), (status = 404, description = "Unknown, or not yours")))]
pub(super) async fn export(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let id = reach(&app, &ctx, &number)?;
    // Recorded first, so that the export it answers already lists the view.
    super::access_log::record_views(&app, &ctx.caller, ViewKind::Application, vec![id], ctx.lang)
        .await?;
    Ok(no_store(ok(false, export_of(&app, ctx.lang, id).await?)))
}

/// The export of an application the caller already reached.
pub(crate) async fn export_of(
    app: &AppState,
    lang: super::error::Lang,
    id: crate::domain::application::ApplicationId,
) -> Result<SubjectExport, ApiError> {
    let view = super::applications::application_view(app, lang, id).await?;
    let (held, referrals, messages, files) = read_blocking(app, lang, move |conn| {
        Ok((
            store::application(conn, id)?,
            store::referrals_of(conn, id)?,
            store::messages_of(conn, id)?,
            (
                store::attachments::list(conn, id)?,
                store::document_requests::list(conn, id)?,
            ),
        ))
    })
    .await?;
    let (attachments, requests) = files;
    let held = held.ok_or_else(|| ApiError::new(super::error::NOT_FOUND, lang))?;
    let access_log = application_log_of(app, lang, id, 0).await?;
    let referrals = {
        let state = app.service.read();
        referrals
            .iter()
            .map(|r| views::ReferralView::of(&state.catalog, r))
            .collect()
    };
    Ok(SubjectExport {
        view,
        held,
        referrals,
        messages,
        access_log,
        attachments: attachments.iter().map(AttachmentView::of_row).collect(),
        document_requests: requests.iter().map(DocumentRequestView::of).collect(),
    })
}
